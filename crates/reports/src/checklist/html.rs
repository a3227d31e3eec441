//! The checklist form as one self-contained print HTML document: inline CSS for A4 portrait,
//! no script and no external resource, every text escaped. Printing it from a browser gives
//! the official layout with the content hash and key fingerprint in the page margins.

use super::{ChecklistForm, FormRow, Line, Mark, Verdict};
use std::fmt::Write as _;

/// Escapes text for HTML element content and quoted attribute values. Line breaks are kept
/// (cells show them with `white-space: pre-line`); other control characters are dropped.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push('\n'),
            '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A CSS string literal (for `@page` margin boxes). Quotes, backslashes and `<` are escaped as
/// code points, so nothing in it can end the string or the `<style>` element.
fn css_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' | '\\' | '<' | '>' | '&' => {
                let _ = write!(out, "\\{:x} ", u32::from(c));
            }
            '\n' => out.push_str("\\a "),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The document language: Japanese unless every label is plain ASCII.
fn lang(form: &ChecklistForm) -> &'static str {
    let l = &form.labels;
    if [&l.item, &l.confirmed_on, &l.yes, &l.no]
        .iter()
        .all(|s| s.is_ascii())
    {
        "en"
    } else {
        "ja"
    }
}

const STYLE: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body {
  margin: 0 auto; max-width: 190mm; padding: 8mm 0; color: #111; background: #fff;
  font-family: "IPAexGothic", "IPAexゴシック", "Noto Sans CJK JP", "Noto Sans JP", "Yu Gothic",
    "YuGothic", "Meiryo", "Hiragino Sans", sans-serif;
  font-size: 9.5pt; line-height: 1.5;
}
@media print { body { max-width: none; padding: 0; } }
.head { display: flex; flex-direction: column; align-items: center; gap: 1.5mm; }
.variant {
  align-self: flex-end; border: 1.2px solid #111; padding: 0.8mm 3mm;
  font-size: 10.5pt; font-weight: bold; white-space: nowrap;
}
h1 { margin: 1mm 0 0; font-size: 14pt; line-height: 1.4; text-align: center; }
.fy { margin: 0; font-size: 10pt; }
.notes { border: 1px solid #555; padding: 2mm 3mm; margin: 3mm 0; font-size: 8.5pt; }
.notes p { margin: 0.6mm 0; white-space: pre-line; }
.fields { margin: 3mm 0 3mm auto; width: 62%; border-collapse: collapse; font-size: 10pt; }
.fields th { text-align: left; font-weight: normal; white-space: nowrap; padding: 1mm 3mm 1mm 0; width: 1%; }
.fields td { border-bottom: 1px solid #111; padding: 1mm 1mm; }
.fields td.small { font-size: 8.5pt; }
table.form { width: 100%; border-collapse: collapse; table-layout: fixed; }
table.form th, table.form td {
  border: 0.8pt solid #222; padding: 1.4mm 1.6mm; vertical-align: top;
  white-space: pre-line; overflow-wrap: anywhere; line-break: strict;
}
table.form thead th { background: #e6e6e6; text-align: center; vertical-align: middle; font-size: 9.5pt; }
table.form thead { display: table-header-group; }
col.c-id { width: 6.5%; } col.c-item { width: 42%; } col.c-conf { width: 17%; }
col.c-target { width: 15%; } col.c-remarks { width: 19.5%; }
tr { break-inside: avoid; page-break-inside: avoid; }
tr.section th {
  background: #f0f0f0; text-align: left; font-weight: bold; padding: 1.2mm 2mm;
  break-after: avoid; page-break-after: avoid;
}
th.id { font-weight: normal; text-align: center; white-space: nowrap; }
td.conf, td.target { text-align: center; }
td.target { font-size: 8.5pt; }
td.remarks { font-size: 8.5pt; }
.marks { white-space: nowrap; margin: 0.4mm 0 1mm; }
.mark { display: inline-block; padding: 0 0.45em; border: 1.3px solid transparent; border-radius: 50%; line-height: 1.45; }
.mark.chosen { border-color: #111; }
.sep { color: #555; }
.na { display: inline-block; border: 1px solid #111; padding: 0 0.5em; font-size: 8.5pt; margin: 0.4mm 0 1mm; }
.date { font-size: 8.5pt; }
tr.contradicted td, tr.contradicted th.id { background: #fde8e8; }
tr.contradicted th.id { border-left: 2.5pt solid #b00020; }
.flag { display: block; margin-top: 1mm; color: #b00020; font-weight: bold; font-size: 8.5pt; }
.flag::before { content: "\25B2\00A0"; }
.meta { margin-top: 3mm; font-size: 7.5pt; color: #333; overflow-wrap: anywhere; }
.meta span { display: block; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.appendix { break-before: page; page-break-before: always; }
.appendix h2 { font-size: 12.5pt; margin: 0 0 3mm; }
.evidence { border: 0.8pt solid #222; padding: 2mm 3mm; margin: 0 0 2.5mm; break-inside: avoid; page-break-inside: avoid; }
.evidence.contradicted { background: #fde8e8; border-left: 2.5pt solid #b00020; }
.evidence h3 { margin: 0 0 1mm; font-size: 10pt; display: flex; gap: 3mm; align-items: baseline; }
.evidence h3 .id { min-width: 3em; }
.evidence h3 .title { flex: 1; }
.verdict { border: 1px solid #111; padding: 0 2mm; font-size: 8.5pt; white-space: nowrap; font-weight: normal; }
.v-pass { background: #e5f3ea; } .v-fail { background: #fbe0e0; } .v-unknown { background: #fff4d6; } .v-na { background: #eee; }
.evidence .facts-label { margin: 0; font-size: 8pt; color: #444; }
.evidence ul { margin: 0.5mm 0 0; padding-left: 5mm; font-size: 9pt; }
.evidence li { white-space: pre-line; overflow-wrap: anywhere; }
"#;

/// The checklist form as a complete print HTML document.
pub fn html(form: &ChecklistForm) -> String {
    let l = &form.labels;
    let mut h = String::with_capacity(16 * 1024);
    let title = format!("{} {}", form.title, form.variant);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>",
        lang(form),
        esc(title.trim())
    );
    h.push_str(STYLE);
    // The printed page: A4 portrait; hash and fingerprint at the foot, page numbers on the right.
    let foot = format!(
        "{}: {}\n{}: {}",
        l.content_hash, form.content_hash, l.key_fingerprint, form.key_fingerprint
    );
    let _ = write!(
        h,
        "@page {{ size: A4 portrait; margin: 14mm 12mm 18mm 12mm;\n  \
         @top-left {{ content: {}; font-size: 7.5pt; color: #444; }}\n  \
         @bottom-left {{ content: {}; white-space: pre; font-size: 6.5pt; color: #444; }}\n  \
         @bottom-right {{ content: {} \" \" counter(page) \" / \" counter(pages); font-size: 7.5pt; color: #444; }}\n}}\n",
        css_string(&format!("{}  {}", form.facility, form.variant)),
        css_string(&foot),
        css_string(&l.page),
    );
    h.push_str("</style>\n</head>\n<body>\n<main>\n<header class=\"head\">\n");
    if !form.variant.is_empty() {
        let _ = writeln!(h, "<div class=\"variant\">{}</div>", esc(&form.variant));
    }
    let _ = writeln!(h, "<h1>{}</h1>", esc(&form.title));
    if !form.fiscal_year.is_empty() {
        let _ = writeln!(h, "<p class=\"fy\">{}</p>", esc(&form.fiscal_year));
    }
    h.push_str("</header>\n");
    if !form.notes.is_empty() {
        h.push_str("<section class=\"notes\">\n");
        for n in &form.notes {
            let _ = writeln!(h, "<p>{}</p>", esc(n));
        }
        h.push_str("</section>\n");
    }
    h.push_str("<table class=\"fields\">\n");
    let _ = writeln!(
        h,
        "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
        esc(&l.facility),
        esc(&form.facility)
    );
    if !form.subject.is_empty() {
        let _ = writeln!(
            h,
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
            esc(&l.subject),
            esc(&form.subject)
        );
    }
    let _ = writeln!(
        h,
        "<tr><th scope=\"row\">{}</th><td class=\"small\">{}</td></tr>",
        esc(&l.generated_on),
        esc(&form.generated_on)
    );
    h.push_str("</table>\n");

    h.push_str(
        "<table class=\"form\">\n<colgroup><col class=\"c-id\"><col class=\"c-item\">\
         <col class=\"c-conf\"><col class=\"c-target\"><col class=\"c-remarks\"></colgroup>\n",
    );
    let _ = writeln!(
        h,
        "<thead><tr><th scope=\"col\" colspan=\"2\">{}</th><th scope=\"col\">{}</th>\
         <th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead>\n<tbody>",
        esc(&l.item),
        esc(&l.confirmed_on),
        esc(&l.target_on),
        esc(&l.remarks)
    );
    for line in form.lines() {
        match line {
            Line::Section(s) => {
                let _ = writeln!(
                    h,
                    "<tr class=\"section\"><th scope=\"colgroup\" colspan=\"5\">{}</th></tr>",
                    esc(s)
                );
            }
            Line::Item(row) => item_row(&mut h, form, row),
        }
    }
    h.push_str("</tbody>\n</table>\n");
    let _ = writeln!(
        h,
        "<p class=\"meta\"><span>{}: {}</span><span>{}: {}</span></p>",
        esc(&l.content_hash),
        esc(&form.content_hash),
        esc(&l.key_fingerprint),
        esc(&form.key_fingerprint)
    );
    h.push_str("</main>\n");

    if !form.appendix.is_empty() {
        let _ = writeln!(
            h,
            "<section class=\"appendix\">\n<h2>{}</h2>",
            esc(&l.appendix)
        );
        for a in &form.appendix {
            let contradicted = form.is_contradicted(&a.id);
            let _ = writeln!(
                h,
                "<article class=\"evidence{}\" id=\"evidence-{}\">\n<h3><span class=\"id\">{}</span>\
                 <span class=\"title\">{}</span><span class=\"verdict {}\">{}: {}</span></h3>",
                if contradicted { " contradicted" } else { "" },
                esc(&a.id),
                esc(&a.id),
                esc(&a.title),
                verdict_class(a.verdict),
                esc(&l.verdict),
                esc(l.verdict_label(a.verdict)),
            );
            if contradicted {
                let _ = writeln!(h, "<span class=\"flag\">{}</span>", esc(&l.contradicted));
            }
            if !a.facts.is_empty() {
                let _ = writeln!(h, "<p class=\"facts-label\">{}</p>\n<ul>", esc(&l.facts));
                for f in &a.facts {
                    let _ = writeln!(h, "<li>{}</li>", esc(f));
                }
                h.push_str("</ul>\n");
            }
            h.push_str("</article>\n");
        }
        h.push_str("</section>\n");
    }
    h.push_str("</body>\n</html>\n");
    h
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "v-pass",
        Verdict::Fail => "v-fail",
        Verdict::Unknown => "v-unknown",
        Verdict::NotApplicable => "v-na",
    }
}

fn item_row(h: &mut String, form: &ChecklistForm, row: &FormRow) {
    let l = &form.labels;
    let _ = write!(
        h,
        "<tr class=\"item{}\" id=\"item-{}\"><th scope=\"row\" class=\"id\">{}</th><td class=\"text\">{}",
        if row.contradicted {
            " contradicted"
        } else {
            ""
        },
        esc(&row.id),
        esc(&row.id),
        esc(&row.text)
    );
    if row.contradicted {
        let _ = write!(h, "<span class=\"flag\">{}</span>", esc(&l.contradicted));
    }
    h.push_str("</td><td class=\"conf\">");
    match row.mark {
        Some(Mark::NotApplicable) => {
            let _ = write!(h, "<span class=\"na\">{}</span>", esc(&l.not_applicable));
        }
        mark => {
            let chosen = |m: Mark| {
                if mark == Some(m) { " chosen" } else { "" }
            };
            let _ = write!(
                h,
                "<div class=\"marks\"><span class=\"mark{}\">{}</span><span class=\"sep\">・</span>\
                 <span class=\"mark{}\">{}</span></div>",
                chosen(Mark::Yes),
                esc(&l.yes),
                chosen(Mark::No),
                esc(&l.no)
            );
        }
    }
    if !row.confirmed_on.is_empty() {
        let _ = write!(h, "<div class=\"date\">{}</div>", esc(&row.confirmed_on));
    }
    let _ = writeln!(
        h,
        "</td><td class=\"target\">{}</td><td class=\"remarks\">{}</td></tr>",
        esc(&row.target_on),
        esc(&row.remarks)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_keeps_line_breaks() {
        assert_eq!(
            esc("<script>alert('x')</script>&\n\u{7}"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;\n"
        );
    }

    #[test]
    fn css_strings_cannot_break_out() {
        assert_eq!(
            css_string("a\"b\\c</style>"),
            "\"a\\22 b\\5c c\\3c /style\\3e \""
        );
        assert_eq!(css_string("x\ny"), "\"x\\a y\"");
    }
}
