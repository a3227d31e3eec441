//! CSV decoding: encodings, quoting, row numbers, ragged rows and caps.

use super::{LEDGER_CSV, diags, rows};
use mamori_ingest::{CsvOptions, Limits, SourceFormat, TextEncoding, read_csv, read_table};

fn want_ledger(t: &mamori_ingest::Table) {
    assert_eq!(t.headers, ["機器名", "設置場所", "導入年月"]);
    assert_eq!(t.header_line, 1);
    assert_eq!(
        rows(t),
        [
            (2, vec!["受付PC", "受付", "2021/4"]),
            (
                3,
                vec!["電子カルテ サーバ", "サーバ室\r\n(2F)", "令和3年4月"]
            ),
            // Row 4 is blank, as Excel shows it.
            (5, vec!["レセコン", "医事課", "R3.4"]),
        ]
    );
    assert!(t.diagnostics.is_empty(), "{:?}", t.diagnostics);
}

#[test]
fn same_ledger_in_utf8_bom_and_cp932() {
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(LEDGER_CSV.as_bytes());
    let (sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(LEDGER_CSV);
    assert!(!unmappable);
    for (bytes, encoding) in [
        (LEDGER_CSV.as_bytes(), TextEncoding::Utf8),
        (bom.as_slice(), TextEncoding::Utf8Bom),
        (&sjis, TextEncoding::ShiftJis),
    ] {
        let t = read_csv(bytes, &CsvOptions::default()).unwrap();
        want_ledger(&t);
        assert_eq!(
            t.format,
            SourceFormat::Csv {
                encoding,
                delimiter: b','
            }
        );
        assert_eq!(read_table(bytes, Some("台帳.csv")).unwrap(), t);
    }
}

#[test]
fn lf_only_and_tab_separated_utf16() {
    let lf = LEDGER_CSV.replace("\r\n", "\n");
    let t = read_csv(lf.as_bytes(), &CsvOptions::default()).unwrap();
    assert_eq!(t.rows[1].cells[1], "サーバ室\n(2F)");
    assert_eq!(t.rows.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 3, 5]);

    let tsv = "機器名\t設置場所\r\n受付PC\t受付, 1F\r\n";
    let mut le = vec![0xFF, 0xFE];
    le.extend(tsv.encode_utf16().flat_map(u16::to_le_bytes));
    let t = read_table(&le, None).unwrap();
    assert_eq!(rows(&t), [(2, vec!["受付PC", "受付, 1F"])]);
}

#[test]
fn ragged_rows_are_diagnostics() {
    let text = "機器名,設置場所,導入年月\n受付PC,受付\nサーバ,サーバ室,2021/4,余分\nプリンタ,受付,2020/1,,\n";
    let t = read_csv(text.as_bytes(), &CsvOptions::default()).unwrap();
    assert_eq!(
        rows(&t),
        [
            (2, vec!["受付PC", "受付", ""]),
            (3, vec!["サーバ", "サーバ室", "2021/4"]),
            (4, vec!["プリンタ", "受付", "2020/1"]),
        ]
    );
    // Trailing empty fields (as some tools write) are not a finding.
    assert_eq!(diags(&t), [(2, None, "IMP0102"), (3, Some("D"), "IMP0101")]);
    assert!(t.diagnostics[0].message_ja.contains("2列"));
}

#[test]
fn duplicate_headers_and_leading_blank_rows() {
    let text = "\n,,\n名前,名前,備考\n山田,田中,\n";
    let t = read_csv(text.as_bytes(), &CsvOptions::default()).unwrap();
    assert_eq!(t.header_line, 3);
    assert_eq!(rows(&t), [(4, vec!["山田", "田中", ""])]);
    assert_eq!(diags(&t), [(3, Some("名前"), "IMP0103")]);
}

#[test]
fn empty_files_have_no_header() {
    for text in ["", "\r\n\r\n", " , ,\n"] {
        let e = read_csv(text.as_bytes(), &CsvOptions::default()).unwrap_err();
        assert_eq!(e.code(), "IMP0006", "{text:?}");
    }
    let t = read_csv("a,b\n".as_bytes(), &CsvOptions::default()).unwrap();
    assert!(t.rows.is_empty());
    // No line end after the last row.
    let t = read_csv("a,b\r\n\r\n1,2".as_bytes(), &CsvOptions::default()).unwrap();
    assert_eq!(rows(&t), [(3, vec!["1", "2"])]);
}

#[test]
fn caps_give_codes_with_row_and_column() {
    let small = CsvOptions {
        delimiter: None,
        limits: Limits {
            max_rows: 2,
            max_columns: 3,
            max_cell_bytes: 10,
            ..Limits::default()
        },
    };
    let e = read_csv(b"a,b\n1,2\n3,4\n\n5,6\n", &small).unwrap_err();
    assert_eq!((e.code(), e.line()), ("IMP0003", Some(5)));
    let e = read_csv(b"a,b\n1,2,3,4\n", &small).unwrap_err();
    assert_eq!((e.code(), e.line()), ("IMP0004", Some(2)));
    let e = read_csv("a,b\n1,12345678901\n".as_bytes(), &small).unwrap_err();
    assert_eq!(
        (e.code(), e.line(), e.column()),
        ("IMP0005", Some(2), Some("B"))
    );
    assert_eq!(e.message_ja(), "B2: セルの内容が長すぎます（上限 0 KB）");
}

#[test]
fn default_caps() {
    let header: Vec<String> = (0..201).map(|i| format!("c{i}")).collect();
    let e = read_table(header.join(",").as_bytes(), None).unwrap_err();
    assert_eq!((e.code(), e.line()), ("IMP0004", Some(1)));

    let cell = "あ".repeat(mamori_ingest::MAX_CELL_BYTES / 3 + 1);
    let e = read_table(format!("a\n{cell}\n").as_bytes(), None).unwrap_err();
    assert_eq!((e.code(), e.column()), ("IMP0005", Some("A")));

    let mut many = String::from("a\n");
    many.push_str(&"1\n".repeat(mamori_ingest::MAX_ROWS));
    assert_eq!(
        read_table(many.as_bytes(), None).unwrap().rows.len(),
        mamori_ingest::MAX_ROWS
    );
    many.push_str("1\n");
    let e = read_table(many.as_bytes(), None).unwrap_err();
    assert_eq!(
        (e.code(), e.line()),
        ("IMP0003", Some(mamori_ingest::MAX_ROWS + 2))
    );
}
