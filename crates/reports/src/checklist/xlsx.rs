//! The checklist form as an XLSX workbook (rust_xlsxwriter): the first sheet laid out like the
//! printed form (merged title, wrapped item text, borders, ○ under はい or いいえ, dates as
//! printed text, A4 portrait fitted to one page wide with the header rows repeated), the
//! second sheet the evidence appendix. The document's creation time is the form's own date,
//! so the same form gives byte-identical files.

use super::{ChecklistForm, Line, Mark, Verdict};
use rust_xlsxwriter::{
    Color, DocProperties, ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook, Worksheet,
};

/// Rendering the XLSX failed.
#[derive(Debug, thiserror::Error)]
#[error("XLSX rendering failed: {0}")]
pub struct XlsxError(String);

impl XlsxError {
    /// A stable code for support desks; the text is in the message catalog.
    pub fn code(&self) -> &'static str {
        "RPT0002"
    }
}

impl From<rust_xlsxwriter::XlsxError> for XlsxError {
    fn from(e: rust_xlsxwriter::XlsxError) -> Self {
        XlsxError(e.to_string())
    }
}

const CIRCLE: &str = "○";

/// Column widths of the form sheet, in characters: 番号, チェック項目, はい, いいえ, 確認日,
/// 目標日, 備考.
const FORM_WIDTHS: [f64; 7] = [6.5, 50.0, 5.5, 6.5, 15.0, 15.0, 26.0];
/// Column widths of the evidence sheet: 番号, item, verdict, facts.
const APPENDIX_WIDTHS: [f64; 4] = [6.5, 30.0, 12.0, 70.0];
const LAST_FORM_COL: u16 = 6;
const LAST_APPENDIX_COL: u16 = 3;

/// Display width of a text in spreadsheet characters: full-width characters count two.
fn display_width(s: &str) -> f64 {
    s.chars()
        .map(|c| if c.is_ascii() { 1.0 } else { 2.0 })
        .sum()
}

/// How many lines `text` takes in a wrapped column `width` characters wide.
fn lines_in(text: &str, width: f64) -> usize {
    let usable = (width - 1.0).max(1.0);
    text.split('\n')
        .map(|p| ((display_width(p) / usable).ceil() as usize).max(1))
        .sum()
}

/// Row height in points for `lines` lines of 10 pt text.
fn height(lines: usize) -> f64 {
    (lines.max(1) as f64) * 13.5 + 5.0
}

/// A sheet name from a label: no characters Excel refuses, at most 31, never empty.
fn sheet_name(label: &str, fallback: &str) -> String {
    let cleaned: String = label
        .chars()
        .filter(|c| !matches!(c, '*' | '?' | ':' | '[' | ']' | '\\' | '/') && !c.is_control())
        .take(31)
        .collect();
    let cleaned = cleaned.trim_matches(|c: char| c == '\'' || c.is_whitespace());
    if cleaned.is_empty() {
        fallback.to_string()
    } else {
        cleaned.to_string()
    }
}

/// Text for a header or footer section: `&` doubled, cut to fit Excel's 255-character limit.
fn hf(text: &str, room: usize) -> String {
    text.replace('&', "&&").chars().take(room).collect()
}

/// The creation time written into the document properties: the form's own date when it can be
/// read (`令和7年10月1日`, `2025-10-01`), otherwise a fixed one. Never the clock.
fn creation_time(form: &ChecklistForm) -> Result<ExcelDateTime, XlsxError> {
    let parsed = mamori_domain::wareki::parse_date_ja(form.generated_on.trim())
        .ok()
        .and_then(|d| {
            let year = u16::try_from(d.year()).ok()?;
            ExcelDateTime::from_ymd(year, u8::from(d.month()), d.day()).ok()
        });
    match parsed {
        Some(d) => Ok(d),
        None => Ok(ExcelDateTime::from_ymd(2000, 1, 1)?),
    }
}

struct Formats {
    title: Format,
    variant: Format,
    plain: Format,
    note: Format,
    label: Format,
    field: Format,
    head: Format,
    section: Format,
    id: Format,
    text: Format,
    mark: Format,
    center: Format,
    remarks: Format,
    alert: Format,
}

impl Formats {
    fn new(fill: Option<Color>) -> Formats {
        let cell = |f: Format| {
            let f = f
                .set_border(FormatBorder::Thin)
                .set_font_size(10)
                .set_align(FormatAlign::Top)
                .set_num_format("@");
            match fill {
                Some(c) => f.set_background_color(c),
                None => f,
            }
        };
        Formats {
            title: Format::new()
                .set_bold()
                .set_font_size(14)
                .set_align(FormatAlign::VerticalCenter)
                .set_text_wrap(),
            variant: Format::new()
                .set_bold()
                .set_font_size(11)
                .set_border(FormatBorder::Medium)
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter),
            plain: Format::new().set_font_size(11),
            note: Format::new()
                .set_font_size(9)
                .set_text_wrap()
                .set_align(FormatAlign::Top),
            label: Format::new()
                .set_font_size(10)
                .set_align(FormatAlign::Right)
                .set_align(FormatAlign::Bottom),
            field: Format::new()
                .set_font_size(11)
                .set_border_bottom(FormatBorder::Thin)
                .set_align(FormatAlign::Bottom)
                .set_num_format("@"),
            head: Format::new()
                .set_bold()
                .set_font_size(10)
                .set_border(FormatBorder::Thin)
                .set_background_color(Color::RGB(0xE4E4E4))
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_text_wrap(),
            section: Format::new()
                .set_bold()
                .set_font_size(10)
                .set_border(FormatBorder::Thin)
                .set_background_color(Color::RGB(0xF1F1F1))
                .set_align(FormatAlign::VerticalCenter),
            id: cell(Format::new()).set_align(FormatAlign::Center),
            text: cell(Format::new()).set_text_wrap(),
            mark: cell(Format::new())
                .set_font_size(12)
                .set_bold()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter),
            center: cell(Format::new())
                .set_text_wrap()
                .set_align(FormatAlign::Center),
            remarks: cell(Format::new()).set_text_wrap().set_font_size(9),
            alert: Format::new()
                .set_bold()
                .set_font_size(9)
                .set_font_color(Color::RGB(0xB00020)),
        }
    }
}

fn print_setup(
    ws: &mut Worksheet,
    form: &ChecklistForm,
    repeat: Option<(u32, u32)>,
) -> Result<(), XlsxError> {
    let l = &form.labels;
    ws.set_paper_size(9); // A4
    ws.set_portrait();
    ws.set_margins(0.5, 0.5, 0.75, 0.8, 0.3, 0.3);
    ws.set_print_fit_to_pages(1, 0);
    ws.set_print_center_horizontally(true);
    if let Some((first, last)) = repeat {
        ws.set_repeat_rows(first, last)?;
    }
    // Excel allows 255 characters per header and footer.
    ws.set_header(format!(
        "&L&8{}&R&8{}",
        hf(&form.facility, 80),
        hf(&format!("{} {}", form.title, form.variant), 120)
    ));
    let hash = hf(&format!("{}: {}", l.content_hash, form.content_hash), 100);
    let key = hf(
        &format!("{}: {}", l.key_fingerprint, form.key_fingerprint),
        100,
    );
    let page = hf(&l.page, 20);
    ws.set_footer(format!("&L&7{hash}\n{key}&R&8{page} &P / &N"));
    Ok(())
}

fn form_sheet(ws: &mut Worksheet, form: &ChecklistForm) -> Result<(), XlsxError> {
    let l = &form.labels;
    let f = Formats::new(None);
    let fc = Formats::new(Some(Color::RGB(0xFDE8E8)));
    let [_, w_item, _, _, w_conf, w_target, w_remarks] = FORM_WIDTHS;
    ws.set_name(sheet_name(&form.variant, "Checklist"))?;
    ws.set_screen_gridlines(false);
    for (c, w) in (0u16..).zip(FORM_WIDTHS) {
        ws.set_column_width(c, w)?;
    }
    let full: f64 = FORM_WIDTHS.iter().sum();
    let mut r: u32 = 0;
    // Title across the item columns, the variant boxed at the right.
    let title_w: f64 = FORM_WIDTHS.iter().take(5).sum();
    ws.merge_range(r, 0, r, 4, &form.title, &f.title)?;
    ws.merge_range(r, 5, r, LAST_FORM_COL, &form.variant, &f.variant)?;
    ws.set_row_height(r, height(lines_in(&form.title, title_w / 1.3)).max(24.0))?;
    r += 1;
    if !form.fiscal_year.is_empty() {
        ws.merge_range(r, 0, r, LAST_FORM_COL, &form.fiscal_year, &f.plain)?;
        r += 1;
    }
    for n in &form.notes {
        ws.merge_range(r, 0, r, LAST_FORM_COL, n, &f.note)?;
        ws.set_row_height(r, height(lines_in(n, full * 1.1)) - 2.0)?;
        r += 1;
    }
    r += 1;
    let mut fields = vec![(&l.facility, &form.facility)];
    if !form.subject.is_empty() {
        fields.push((&l.subject, &form.subject));
    }
    fields.push((&l.generated_on, &form.generated_on));
    for (label, value) in fields {
        ws.merge_range(r, 2, r, 3, label, &f.label)?;
        ws.merge_range(r, 4, r, LAST_FORM_COL, value, &f.field)?;
        ws.set_row_height(r, 20.0)?;
        r += 1;
    }
    r += 1;
    // Two header rows: チェック項目 | 確認日 (はい, いいえ, date) | 目標日 | 備考.
    let head = r;
    ws.merge_range(head, 0, head + 1, 1, &l.item, &f.head)?;
    ws.merge_range(head, 2, head, 4, &l.confirmed_on, &f.head)?;
    ws.write_string_with_format(head + 1, 2, &l.yes, &f.head)?;
    ws.write_string_with_format(head + 1, 3, &l.no, &f.head)?;
    ws.write_blank(head + 1, 4, &f.head)?;
    ws.merge_range(head, 5, head + 1, 5, &l.target_on, &f.head)?;
    ws.merge_range(head, 6, head + 1, 6, &l.remarks, &f.head)?;
    ws.set_row_height(head, 18.0)?;
    ws.set_row_height(head + 1, 18.0)?;
    r = head + 2;
    for line in form.lines() {
        match line {
            Line::Section(s) => {
                ws.merge_range(r, 0, r, LAST_FORM_COL, s, &f.section)?;
                ws.set_row_height(r, height(lines_in(s, full)))?;
            }
            Line::Item(row) => {
                let f = if row.contradicted { &fc } else { &f };
                ws.write_string_with_format(r, 0, &row.id, &f.id)?;
                let mut lines = lines_in(&row.text, w_item);
                if row.contradicted {
                    let flag = format!("\n▲ {}", l.contradicted);
                    ws.write_rich_string_with_format(
                        r,
                        1,
                        &[(&f.text, row.text.as_str()), (&f.alert, flag.as_str())],
                        &f.text,
                    )?;
                    lines += lines_in(&l.contradicted, w_item);
                } else {
                    ws.write_string_with_format(r, 1, &row.text, &f.text)?;
                }
                match row.mark {
                    Some(Mark::NotApplicable) => {
                        ws.merge_range(r, 2, r, 3, &l.not_applicable, &f.center)?;
                    }
                    mark => {
                        let yes = if mark == Some(Mark::Yes) { CIRCLE } else { "" };
                        let no = if mark == Some(Mark::No) { CIRCLE } else { "" };
                        ws.write_string_with_format(r, 2, yes, &f.mark)?;
                        ws.write_string_with_format(r, 3, no, &f.mark)?;
                    }
                }
                ws.write_string_with_format(r, 4, &row.confirmed_on, &f.center)?;
                ws.write_string_with_format(r, 5, &row.target_on, &f.center)?;
                ws.write_string_with_format(r, 6, &row.remarks, &f.remarks)?;
                let lines = lines
                    .max(lines_in(&row.confirmed_on, w_conf))
                    .max(lines_in(&row.target_on, w_target))
                    .max(lines_in(&row.remarks, w_remarks * 1.1));
                ws.set_row_height(r, height(lines))?;
            }
        }
        r += 1;
    }
    ws.set_print_area(0, 0, r.saturating_sub(1), LAST_FORM_COL)?;
    print_setup(ws, form, Some((head, head + 1)))
}

fn appendix_sheet(ws: &mut Worksheet, form: &ChecklistForm) -> Result<(), XlsxError> {
    let l = &form.labels;
    let f = Formats::new(None);
    let fc = Formats::new(Some(Color::RGB(0xFDE8E8)));
    let [_, w_title, _, w_facts] = APPENDIX_WIDTHS;
    ws.set_name(sheet_name(&l.appendix, "Evidence"))?;
    ws.set_screen_gridlines(false);
    for (c, w) in (0u16..).zip(APPENDIX_WIDTHS) {
        ws.set_column_width(c, w)?;
    }
    ws.merge_range(0, 0, 0, LAST_APPENDIX_COL, &l.appendix, &f.title)?;
    ws.set_row_height(0, 24.0)?;
    let head = 2;
    ws.merge_range(head, 0, head, 1, &l.item, &f.head)?;
    ws.write_string_with_format(head, 2, &l.verdict, &f.head)?;
    ws.write_string_with_format(head, 3, &l.facts, &f.head)?;
    ws.set_row_height(head, 18.0)?;
    let mut r = head + 1;
    for a in &form.appendix {
        let contradicted = form.is_contradicted(&a.id);
        let f = if contradicted { &fc } else { &f };
        let title = if contradicted {
            format!("{}\n▲ {}", a.title, l.contradicted)
        } else {
            a.title.clone()
        };
        let verdict = if a.verdict == Verdict::Fail {
            f.center
                .clone()
                .set_font_color(Color::RGB(0xB00020))
                .set_bold()
        } else {
            f.center.clone()
        };
        let n =
            u32::try_from(a.facts.len().max(1)).map_err(|_| XlsxError("too many facts".into()))?;
        let last = r + n - 1;
        if n > 1 {
            ws.merge_range(r, 0, last, 0, &a.id, &f.id)?;
            ws.merge_range(r, 1, last, 1, &title, &f.text)?;
            ws.merge_range(r, 2, last, 2, l.verdict_label(a.verdict), &verdict)?;
        } else {
            ws.write_string_with_format(r, 0, &a.id, &f.id)?;
            ws.write_string_with_format(r, 1, &title, &f.text)?;
            ws.write_string_with_format(r, 2, l.verdict_label(a.verdict), &verdict)?;
        }
        if a.facts.is_empty() {
            ws.write_blank(r, 3, &f.remarks)?;
            ws.set_row_height(r, height(lines_in(&title, w_title)))?;
        }
        let title_lines = lines_in(&title, w_title);
        for (i, fact) in (0u32..).zip(&a.facts) {
            ws.write_string_with_format(r + i, 3, format!("・{fact}"), &f.remarks)?;
            let mut lines = lines_in(fact, w_facts * 1.1);
            if n == 1 {
                lines = lines.max(title_lines);
            }
            ws.set_row_height(r + i, height(lines))?;
        }
        r = last + 1;
    }
    ws.set_print_area(0, 0, r.saturating_sub(1), LAST_APPENDIX_COL)?;
    print_setup(ws, form, Some((head, head)))
}

/// The checklist form as an XLSX workbook: the form sheet and the evidence sheet.
pub fn xlsx(form: &ChecklistForm) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let props = DocProperties::new()
        .set_title(format!("{} {}", form.title, form.variant).trim())
        .set_company(&form.facility)
        .set_creation_datetime(&creation_time(form)?);
    wb.set_properties(&props);
    form_sheet(wb.add_worksheet(), form)?;
    appendix_sheet(wb.add_worksheet(), form)?;
    if !form.identity.is_empty() {
        let ws = wb.add_worksheet();
        ws.set_name(super::layout::IDENTITY_SHEET)?;
        for (r, (name, value)) in (0u32..).zip(&form.identity) {
            ws.write_string(r, 0, name)?;
            ws.write_string(r, 1, value)?;
        }
        ws.set_hidden(true);
    }
    Ok(wb.save_to_buffer()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_are_made_valid() {
        assert_eq!(sheet_name("証拠の付録", "x"), "証拠の付録");
        assert_eq!(sheet_name("a/b:[c]", "x"), "abc");
        assert_eq!(sheet_name("'' ", "Evidence"), "Evidence");
        assert_eq!(sheet_name(&"あ".repeat(40), "x").chars().count(), 31);
    }

    #[test]
    fn header_text_doubles_ampersands() {
        assert_eq!(hf("A&B", 10), "A&&B");
    }

    #[test]
    fn wrapped_lines_are_estimated() {
        assert_eq!(lines_in("", 10.0), 1);
        assert_eq!(lines_in("あいうえお", 11.0), 1);
        assert_eq!(lines_in("あいうえおかきくけこ", 11.0), 2);
        assert_eq!(lines_in("あいうえおかきくけこさ", 11.0), 3);
        assert_eq!(lines_in("a\nb", 10.0), 2);
    }
}
