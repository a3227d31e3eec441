//! Tables as files people open in Excel: CSV (UTF-8 with BOM, CRLF, RFC 4180 quoting, so that
//! Excel in Japan shows it correctly) and XLSX (bold frozen header, filters, sensible widths).
//! Values are written as text so that exporting and importing again changes nothing.

/// Rendering an XLSX failed.
#[derive(Debug, thiserror::Error)]
#[error("XLSX rendering failed: {0}")]
pub struct TableError(String);

fn csv_cell(out: &mut String, v: &str) {
    // Cells that a spreadsheet would run as a formula are prefixed with an apostrophe.
    let risky = v.starts_with(['=', '+', '-', '@', '\t', '\r']) && v.parse::<f64>().is_err();
    let v = if risky {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&v);
    }
}

/// A CSV file: BOM, header row, one row per record, CRLF line ends.
pub fn csv(headers: &[String], rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    for (i, h) in headers.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_cell(&mut out, h);
    }
    out.push_str("\r\n");
    for r in rows {
        for (i, v) in r.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_cell(&mut out, v);
        }
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// An XLSX workbook with one sheet.
pub fn xlsx(sheet: &str, headers: &[String], rows: &[Vec<String>]) -> Result<Vec<u8>, TableError> {
    use rust_xlsxwriter::{Color, Format, FormatBorder, Workbook};
    let e = |e: rust_xlsxwriter::XlsxError| TableError(e.to_string());
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(sheet).map_err(e)?;
    let head = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xE3F1F2))
        .set_border_bottom(FormatBorder::Thin);
    let text = Format::new().set_num_format("@");
    let mut widths: Vec<usize> = headers.iter().map(|h| display_width(h)).collect();
    for (c, h) in headers.iter().enumerate() {
        let c = u16::try_from(c).map_err(|_| TableError("too many columns".into()))?;
        ws.write_string_with_format(0, c, h, &head).map_err(e)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = u32::try_from(r + 1).map_err(|_| TableError("too many rows".into()))?;
        for (c, v) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(c) {
                *w = (*w).max(display_width(v));
            }
            let c = u16::try_from(c).map_err(|_| TableError("too many columns".into()))?;
            ws.write_string_with_format(r, c, v, &text).map_err(e)?;
        }
    }
    for (c, w) in widths.iter().enumerate() {
        let c = u16::try_from(c).map_err(|_| TableError("too many columns".into()))?;
        ws.set_column_width(c, (*w as f64 + 2.0).min(60.0))
            .map_err(e)?;
    }
    ws.set_freeze_panes(1, 0).map_err(e)?;
    if !headers.is_empty() {
        let last_col =
            u16::try_from(headers.len() - 1).map_err(|_| TableError("too many columns".into()))?;
        let last_row = u32::try_from(rows.len()).map_err(|_| TableError("too many rows".into()))?;
        ws.autofilter(0, 0, last_row, last_col).map_err(e)?;
    }
    wb.save_to_buffer().map_err(e)
}

/// Approximate column width: full-width characters count double.
fn display_width(s: &str) -> usize {
    s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_guards() {
        let h = vec!["機器名".to_string(), "備考".to_string()];
        let rows = vec![
            vec!["PC,1".to_string(), "a \"b\"\nc".to_string()],
            vec!["=cmd()".into(), "-5".into()],
        ];
        let text = String::from_utf8(csv(&h, &rows)).unwrap();
        assert_eq!(
            text,
            "\u{feff}機器名,備考\r\n\"PC,1\",\"a \"\"b\"\"\nc\"\r\n'=cmd(),-5\r\n"
        );
    }

    #[test]
    fn xlsx_is_a_zip_and_deterministic_in_content() {
        let h = vec!["管理番号".to_string()];
        let rows = vec![vec!["A-0001".to_string()]];
        let a = xlsx("機器", &h, &rows).unwrap();
        assert!(a.starts_with(b"PK\x03\x04"));
        assert!(a.len() > 1000);
    }
}
