//! XLSX decoding of a workbook written in the test.

use super::{diags, rows};
use mamori_ingest::{SourceFormat, read_table, read_xlsx};
use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook};

/// A ledger sheet with text, numbers, a date cell, a boolean, an empty row and a formula
/// error, behind a first sheet named 台帳.
fn ledger_workbook() -> Vec<u8> {
    let mut wb = Workbook::new();
    let date = Format::new().set_num_format("yyyy/m/d");
    let datetime = Format::new().set_num_format("yyyy/m/d h:mm");
    let ws = wb.add_worksheet();
    ws.set_name("台帳").unwrap();
    for (c, h) in ["機器名", "設置場所", "導入年月", "台数", "単価", "保守契約"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, u16::try_from(c).unwrap(), *h).unwrap();
    }
    ws.write_string(1, 0, " 受付PC ").unwrap();
    ws.write_string(1, 1, "受付").unwrap();
    ws.write_datetime_with_format(1, 2, ExcelDateTime::from_ymd(2021, 4, 1).unwrap(), &date)
        .unwrap();
    ws.write_number(1, 3, 3.0).unwrap();
    ws.write_number(1, 4, 128_000.5).unwrap();
    ws.write_boolean(1, 5, true).unwrap();
    // Row 3 left empty; row 4:
    ws.write_string(3, 0, "電子カルテサーバ").unwrap();
    ws.write_string(3, 1, "サーバ室").unwrap();
    let at = ExcelDateTime::from_ymd(2019, 5, 1)
        .unwrap()
        .and_hms(9, 30, 0)
        .unwrap();
    ws.write_datetime_with_format(3, 2, &at, &datetime).unwrap();
    ws.write_number(3, 3, 0.1 + 0.2).unwrap();
    ws.write_formula(3, 4, Formula::new("=NA()").set_result("#N/A"))
        .unwrap();
    ws.write_boolean(3, 5, false).unwrap();
    // A value to the right of the last header.
    ws.write_string(3, 7, "メモ").unwrap();
    let other = wb.add_worksheet();
    other.set_name("職員").unwrap();
    other.write_string(0, 0, "氏名").unwrap();
    other.write_string(1, 0, "山田").unwrap();
    wb.save_to_buffer().unwrap()
}

#[test]
fn reads_cells_as_text() {
    let bytes = ledger_workbook();
    let t = read_xlsx(&bytes, None).unwrap();
    assert_eq!(
        t.format,
        SourceFormat::Xlsx {
            sheet: "台帳".into()
        }
    );
    assert_eq!(t.header_line, 1);
    assert_eq!(
        t.headers,
        ["機器名", "設置場所", "導入年月", "台数", "単価", "保守契約"]
    );
    assert_eq!(
        rows(&t),
        [
            (
                2,
                vec!["受付PC", "受付", "2021-04-01", "3", "128000.5", "TRUE"]
            ),
            (
                4,
                vec![
                    "電子カルテサーバ",
                    "サーバ室",
                    "2019-05-01 09:30:00",
                    "0.3",
                    "#N/A",
                    "FALSE"
                ]
            ),
        ]
    );
    assert_eq!(
        diags(&t),
        [(4, Some("G"), "IMP0101"), (4, Some("単価"), "IMP0104")]
    );
    // The date cells read back through the domain's parsers.
    let d = mamori_domain::wareki::parse_year_month_ja(&t.rows[0].cells[2]).unwrap();
    assert_eq!(d.to_string(), "2021-04-01");
    let d = mamori_domain::wareki::parse_date_ja(&t.rows[1].cells[2]).unwrap();
    assert_eq!(d.to_string(), "2019-05-01");

    assert_eq!(read_table(&bytes, Some("台帳.xlsx")).unwrap(), t);
}

#[test]
fn picks_a_sheet_by_name() {
    let bytes = ledger_workbook();
    let t = read_xlsx(&bytes, Some("職員")).unwrap();
    assert_eq!(rows(&t), [(2, vec!["山田"])]);
    let e = read_xlsx(&bytes, Some("なし")).unwrap_err();
    assert_eq!(e.code(), "IMP0010");
    assert_eq!(e.message_ja(), "シート「なし」がありません");
}

#[test]
fn truncated_or_fake_workbooks_are_errors() {
    let bytes = ledger_workbook();
    for cut in [4, 30, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
        let e = read_table(&bytes[..cut], None).unwrap_err();
        assert_eq!(e.code(), "IMP0008", "cut at {cut}");
    }
    assert_eq!(read_xlsx(b"not a zip", None).unwrap_err().code(), "IMP0008");
    let mut ole = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
    ole.extend_from_slice(&[0; 100]);
    assert_eq!(
        read_table(&ole, Some("台帳.xls")).unwrap_err().code(),
        "IMP0011"
    );
    assert_eq!(
        read_table(&ole, Some("台帳.xlsx")).unwrap_err().code(),
        "IMP0009"
    );
}

#[test]
fn sheet_caps_hold_while_streaming() {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "a").unwrap();
    ws.write_string(5, 300, "far away").unwrap();
    let e = read_xlsx(&wb.save_to_buffer().unwrap(), None).unwrap_err();
    assert_eq!((e.code(), e.line()), ("IMP0004", Some(6)));

    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "a").unwrap();
    ws.write_string(1, 0, "あ".repeat(11_000)).unwrap();
    let e = read_xlsx(&wb.save_to_buffer().unwrap(), None).unwrap_err();
    assert_eq!(
        (e.code(), e.line(), e.column()),
        ("IMP0005", Some(2), Some("A"))
    );

    let mut wb = Workbook::new();
    wb.add_worksheet();
    let e = read_xlsx(&wb.save_to_buffer().unwrap(), None).unwrap_err();
    assert_eq!(e.code(), "IMP0006");
}
