//! The XLSX checklist form: reproducible, and read back with calamine the cells hold the items,
//! the ○ marks and the evidence.

use crate::sample;
use calamine::{Data, Reader, Xlsx};
use mamori_reports::checklist::{Mark, xlsx};
use std::io::Cursor;

fn cell(range: &calamine::Range<Data>, row: usize, col: usize) -> String {
    match range.get((row, col)) {
        Some(Data::String(s)) => s.clone(),
        Some(Data::Empty) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

#[test]
fn xlsx_is_reproducible() {
    let form = sample::form();
    let a = xlsx(&form).unwrap();
    let b = xlsx(&form).unwrap();
    assert!(a.starts_with(b"PK\x03\x04"));
    assert_eq!(a, b, "the same form gives the same bytes");
    let mut other = form.clone();
    other.rows[0].remarks = "変更".into();
    assert_ne!(xlsx(&other).unwrap(), a);
}

#[test]
fn xlsx_reads_back_with_items_and_circles() {
    let form = sample::form();
    let bytes = xlsx(&form).unwrap();
    let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).unwrap();
    assert_eq!(
        wb.sheet_names(),
        vec!["医療機関確認用".to_string(), "証拠の付録".to_string()]
    );
    let sheet = wb.worksheet_range("医療機関確認用").unwrap();
    let (top, _) = sheet.start().unwrap();
    assert_eq!(top, 0);
    assert_eq!(cell(&sheet, 0, 0), form.title);
    assert_eq!(cell(&sheet, 0, 5), form.variant);
    let all: Vec<String> = sheet
        .rows()
        .flat_map(|r| r.iter().map(|d| d.to_string()))
        .collect();
    assert!(all.contains(&form.facility));
    assert!(all.iter().any(|c| c == "チェック項目"));
    let mut seen = 0;
    for (r, row) in sheet.rows().enumerate() {
        let id = row.first().map(|d| d.to_string()).unwrap_or_default();
        let Some(item) = form.rows.iter().find(|i| i.id == id) else {
            continue;
        };
        seen += 1;
        assert!(
            cell(&sheet, r, 1).starts_with(&item.text),
            "{id}: item text"
        );
        let (yes, no) = (cell(&sheet, r, 2), cell(&sheet, r, 3));
        match item.mark {
            Some(Mark::Yes) => assert_eq!((yes.as_str(), no.as_str()), ("○", ""), "{id}"),
            Some(Mark::No) => assert_eq!((yes.as_str(), no.as_str()), ("", "○"), "{id}"),
            Some(Mark::NotApplicable) => assert_eq!(yes, "記入不要", "{id}"),
            None => assert_eq!((yes.as_str(), no.as_str()), ("", ""), "{id}"),
        }
        assert_eq!(cell(&sheet, r, 4), item.confirmed_on, "{id}: 確認日");
        assert_eq!(cell(&sheet, r, 5), item.target_on, "{id}: 目標日");
        assert_eq!(cell(&sheet, r, 6), item.remarks, "{id}: 備考");
        if item.contradicted {
            assert!(cell(&sheet, r, 1).contains("回答と証拠が矛盾"), "{id}");
        }
    }
    assert_eq!(seen, 19, "every item has its row");
    // Section headings sit in column A of their own rows.
    let col_a: Vec<String> = (0..sheet.height()).map(|r| cell(&sheet, r, 0)).collect();
    for row in &form.rows {
        assert!(col_a.contains(&row.section), "section {}", row.section);
    }

    let ev = wb.worksheet_range("証拠の付録").unwrap();
    let text: Vec<String> = ev
        .rows()
        .flat_map(|r| r.iter().map(|d| d.to_string()))
        .collect();
    assert!(
        text.iter()
            .any(|c| c.contains("退職者の有効なアカウント 2件"))
    );
    assert!(text.iter().any(|c| c == "不適合"));
    assert!(text.iter().any(|c| c == "2-⑤"));
}
