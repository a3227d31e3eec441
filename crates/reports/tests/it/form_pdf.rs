//! The PDF checklist form: typed errors for bad fonts, reproducible bytes, an embedded subset,
//! and pages that render (checked as images with poppler's pdftoppm and as text with pdftotext
//! when they are installed; otherwise the check says it was skipped).

use crate::sample;
use mamori_reports::checklist::{PdfError, check_font, pdf};
use std::path::Path;
use std::process::Command;

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

fn pages(pdf: &[u8]) -> usize {
    count(pdf, b"/Type/Page") - count(pdf, b"/Type/Pages")
}

#[test]
fn pdf_refuses_fonts_it_cannot_use() {
    let form = sample::form();
    for bad in [
        &b""[..],
        b"not a font at all",
        b"OTTO\0\x01\0\0garbage",
        &[0u8; 4096],
    ] {
        let e = pdf(&form, bad).unwrap_err();
        assert!(matches!(e, PdfError::Font(_)), "{e}");
        assert_eq!(e.code(), "FNT0003");
        assert!(check_font(bad).is_err());
    }
    if let Ok(latin) = std::fs::read("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf") {
        let e = pdf(&form, &latin).unwrap_err();
        assert!(matches!(e, PdfError::NotJapanese(_)), "{e}");
        assert_eq!(e.code(), "FNT0004");
    } else {
        eprintln!("SKIPPED the Latin-only font case: DejaVuSans.ttf is not installed");
    }
    let Some(font) = sample::font_or_skip("the truncated-font case") else {
        return;
    };
    for cut in [12, 200, 4096, font.len() / 2] {
        let truncated = &font[..cut];
        assert!(
            pdf(&form, truncated).is_err(),
            "a font cut at {cut} bytes is refused"
        );
    }
    check_font(&font).unwrap();
}

#[test]
fn pdf_is_reproducible_and_embeds_a_subset() {
    let Some(font) = sample::font_or_skip("PDF reproducibility") else {
        return;
    };
    let form = sample::form();
    let a = pdf(&form, &font).unwrap();
    let b = pdf(&form, &font).unwrap();
    assert!(a.starts_with(b"%PDF-"));
    assert!(a.ends_with(b"%%EOF\n") || a.ends_with(b"%%EOF"));
    assert_eq!(a, b, "the same form and font give the same bytes");
    // A subset: a tagged font name (ABCDEF+Name) and far smaller than the font itself.
    assert!(count(&a, b"/FontFile") >= 1, "the font is embedded");
    let tagged = a.windows(8).any(|w| {
        w[..6].iter().all(u8::is_ascii_uppercase) && w[6] == b'+' && w[7].is_ascii_alphabetic()
    });
    assert!(tagged, "the embedded font is a subset");
    assert!(
        a.len() < font.len() / 4,
        "PDF {} bytes, font {}",
        a.len(),
        font.len()
    );
    assert!(
        !a.windows(13).any(|w| w == b"/CreationDate"),
        "no timestamp"
    );
    let mut other = form.clone();
    other.rows[0].remarks = "変更".into();
    assert_ne!(pdf(&other, &font).unwrap(), a);
}

/// Reads a binary PGM (P5) into (width, height, pixels).
fn read_pgm(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes[i] == b'#' {
            while bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        while !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&bytes[start..i]).to_string());
    }
    assert_eq!(fields[0], "P5", "a binary PGM");
    assert_eq!(fields[3], "255");
    let w: usize = fields[1].parse().unwrap();
    let h: usize = fields[2].parse().unwrap();
    let data = bytes[i + 1..].to_vec();
    assert_eq!(data.len(), w * h);
    (w, h, data)
}

/// Fraction of dark pixels in a box given as fractions of the page.
fn dark(w: usize, h: usize, px: &[u8], x: (f64, f64), y: (f64, f64)) -> f64 {
    let (x0, x1) = ((x.0 * w as f64) as usize, (x.1 * w as f64) as usize);
    let (y0, y1) = ((y.0 * h as f64) as usize, (y.1 * h as f64) as usize);
    let mut n = 0usize;
    let mut d = 0usize;
    for yy in y0..y1 {
        for xx in x0..x1 {
            n += 1;
            if px[yy * w + xx] < 140 {
                d += 1;
            }
        }
    }
    d as f64 / n as f64
}

fn pdftotext(file: &Path, page: usize) -> String {
    let out = Command::new("pdftotext")
        .args([
            "-layout",
            "-enc",
            "UTF-8",
            "-f",
            &page.to_string(),
            "-l",
            &page.to_string(),
        ])
        .arg(file)
        .arg("-")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn poppler_or_skip(check: &str) -> bool {
    if sample::has_tool("pdftoppm") && sample::has_tool("pdftotext") {
        true
    } else {
        eprintln!("SKIPPED {check}: pdftoppm/pdftotext not on PATH (install poppler-utils)");
        false
    }
}

#[test]
fn pdf_pages_render_as_the_form() {
    let Some(font) = sample::font_or_skip("the rendered-page check") else {
        return;
    };
    if !poppler_or_skip("the rendered-page check") {
        return;
    }
    let form = sample::form();
    let bytes = pdf(&form, &font).unwrap();
    let n = pages(&bytes);
    assert!((2..=4).contains(&n), "{n} pages");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("form.pdf");
    std::fs::write(&file, &bytes).unwrap();

    // Page 1 as a grey image: ink in the table, white margins.
    let out = Command::new("pdftoppm")
        .args(["-gray", "-r", "60", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&file)
        .arg(dir.path().join("page1"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (w, h, px) = read_pgm(&std::fs::read(dir.path().join("page1.pgm")).unwrap());
    assert!(w > 400 && h > 600, "{w}x{h}");
    let table = dark(w, h, &px, (0.08, 0.92), (0.35, 0.9));
    assert!(
        table > 0.03 && table < 0.5,
        "dark fraction in the table area: {table}"
    );
    let margin = dark(w, h, &px, (0.0, 0.05), (0.0, 1.0));
    assert!(margin < 0.001, "left margin is blank: {margin}");

    // Text: headings, ids and marks are real text (ToUnicode), on every page the header row.
    let first = pdftotext(&file, 1);
    for want in [
        "チェック項目",
        "確認日",
        "目標日",
        "備考",
        "1-①",
        "2-①",
        "医療機関確認用",
        "記入不要",
    ] {
        assert!(first.contains(want), "page 1 lacks {want}:\n{first}");
    }
    assert!(first.contains("さくら内科クリニック"), "{first}");
    assert!(first.contains(&format!("ページ 1 / {n}")), "{first}");
    assert!(first.contains(&form.content_hash), "{first}");
    let second = pdftotext(&file, 2);
    assert!(
        second.contains("チェック項目"),
        "the header row repeats:\n{second}"
    );
    assert!(second.contains(&format!("ページ 2 / {n}")));
    let all: String = (1..=n).map(|p| pdftotext(&file, p)).collect();
    for row in &form.rows {
        assert!(all.contains(&row.id), "{} is printed", row.id);
    }
    assert!(all.contains("回答と証拠が矛盾"));
    assert!(all.contains("証拠の付録"));
    assert!(all.contains("kensa-tmp"));
}

#[test]
fn pdf_breaks_a_row_taller_than_a_page() {
    let Some(font) = sample::font_or_skip("the long-row check") else {
        return;
    };
    let mut form = sample::form();
    let long = "保守業者と協議の上、段階的に更新する。".repeat(220) + "最後の行";
    form.rows[3].remarks = long;
    form.rows[4].text = "X".repeat(3000);
    let bytes = pdf(&form, &font).unwrap();
    let n = pages(&bytes);
    assert!(n >= 6, "{n} pages");
    if !poppler_or_skip("the long-row text check") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("long.pdf");
    std::fs::write(&file, &bytes).unwrap();
    let all: String = (1..=n).map(|p| pdftotext(&file, p)).collect();
    assert!(all.contains("最後の行"), "nothing is cut off");
    assert!(all.contains("4-①"));
}

/// With `MAMORI_TEST_FORMS_OUT=DIR`, writes the sample as PDF, HTML and XLSX into DIR to look at.
#[test]
fn sample_files_to_look_at() {
    let Some(dir) = std::env::var_os("MAMORI_TEST_FORMS_OUT") else {
        return;
    };
    let dir = Path::new(&dir);
    let form = sample::form();
    if let Some(font) = sample::font_or_skip("writing the sample PDF") {
        std::fs::write(dir.join("checklist.pdf"), pdf(&form, &font).unwrap()).unwrap();
    }
    std::fs::write(
        dir.join("checklist.html"),
        mamori_reports::checklist::html(&form),
    )
    .unwrap();
    std::fs::write(
        dir.join("checklist.xlsx"),
        mamori_reports::checklist::xlsx(&form).unwrap(),
    )
    .unwrap();
}
