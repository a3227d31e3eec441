//! Finding a Japanese font for the PDF forms: the configured file (`reports.font_file`) first,
//! else the usual places on Linux (IPAex, IPA, Noto Sans CJK JP / Noto Sans JP), Windows (Yu
//! Gothic, Meiryo, MS Gothic) and macOS (Hiragino). Collections (.ttc) are used through their
//! first face, which is the Japanese one in every collection listed here. Each candidate is
//! checked with the PDF renderer before it is returned.

use mamori_catalog::{Lang, messages::fill, tr};
use mamori_reports::checklist::{PdfError, check_font};
use std::path::{Path, PathBuf};

/// No usable font, or the configured one is not usable.
#[derive(Debug)]
pub enum FontError {
    /// Nothing found in the usual places (`FNT0001`).
    NotFound,
    /// The configured file cannot be read (`FNT0002`).
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The configured file is not a font the PDF renderer can use (`FNT0003`, `FNT0004`).
    NotUsable { path: PathBuf, source: PdfError },
}

impl FontError {
    /// The stable code (`FNT0001` …) for support desks; the texts are in the message catalog.
    pub fn code(&self) -> &'static str {
        match self {
            FontError::NotFound => "FNT0001",
            FontError::Unreadable { .. } => "FNT0002",
            FontError::NotUsable { source, .. } => source.code(),
        }
    }

    /// The message for a person, in their language, naming the file where there is one.
    pub fn message(&self, lang: Lang) -> String {
        let text = tr(lang, &format!("error.{}", self.code())).to_string();
        match self {
            FontError::NotFound => text,
            FontError::Unreadable { path, .. } | FontError::NotUsable { path, .. } => {
                fill(&text, &[("path", &path.display().to_string())])
            }
        }
    }
}

impl std::fmt::Display for FontError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message(Lang::En))?;
        match self {
            FontError::NotFound => Ok(()),
            FontError::Unreadable { source, .. } => write!(f, " ({source})"),
            FontError::NotUsable { source, .. } => write!(f, " ({source})"),
        }
    }
}

impl std::error::Error for FontError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FontError::NotFound => None,
            FontError::Unreadable { source, .. } => Some(source),
            FontError::NotUsable { source, .. } => Some(source),
        }
    }
}

/// Known font files, best first: single Japanese fonts before collections.
const FILE_NAMES: &[&str] = &[
    "ipaexg.ttf",
    "ipag.ttf",
    "ipagp.ttf",
    "fonts-japanese-gothic.ttf",
    "NotoSansCJKjp-Regular.otf",
    "NotoSansJP-Regular.otf",
    "NotoSansJP-Regular.ttf",
    "NotoSansCJK-Regular.ttc",
    "YuGothM.ttc",
    "meiryo.ttc",
    "msgothic.ttc",
    "ヒラギノ角ゴシック W3.ttc",
];

/// Exact places, tried before any folder is searched.
fn known_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = [
        "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
        "/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf",
        "/usr/share/fonts/truetype/ipaexfont/ipaexg.ttf",
        "/usr/share/fonts/ipa-ex-gothic/ipaexg.ttf",
        "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
        "/usr/share/fonts/truetype/ipafont-gothic/ipag.ttf",
        "/usr/share/fonts/ipa-gothic/ipag.ttf",
        "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
        "/usr/share/fonts/opentype/noto/NotoSansCJKjp-Regular.otf",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
        "/System/Library/Fonts/ヒラギノ角ゴシック W3.ttc",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    let windir = std::env::var_os("WINDIR")
        .or_else(|| std::env::var_os("SystemRoot"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(r"C:\Windows"));
    for name in ["YuGothM.ttc", "meiryo.ttc", "msgothic.ttc"] {
        v.push(windir.join("Fonts").join(name));
    }
    v
}

/// Folders searched (a few levels deep) for the file names in [`FILE_NAMES`].
fn font_dirs() -> Vec<PathBuf> {
    let mut v = vec![
        PathBuf::from("/usr/share/fonts"),
        PathBuf::from("/usr/local/share/fonts"),
        PathBuf::from("/Library/Fonts"),
    ];
    if let Some(home) = std::env::var_os("HOME") {
        let home = PathBuf::from(home);
        v.push(home.join(".local/share/fonts"));
        v.push(home.join(".fonts"));
        v.push(home.join("Library/Fonts"));
    }
    if let Some(local) = std::env::var_os("LOCALAPPDATA") {
        v.push(PathBuf::from(local).join(r"Microsoft\Windows\Fonts"));
    }
    v
}

/// Finds a Japanese font for the PDF forms and returns its path and bytes: `configured` when
/// given (an error names it if it is missing or not a usable font), else the first usable one
/// in the usual places.
pub fn find_japanese_font(configured: Option<&Path>) -> Result<(PathBuf, Vec<u8>), FontError> {
    find_in(configured, &known_files(), &font_dirs())
}

fn usable(path: &Path) -> Result<Vec<u8>, FontError> {
    let bytes = std::fs::read(path).map_err(|source| FontError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    check_font(&bytes).map_err(|source| FontError::NotUsable {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(bytes)
}

fn find_in(
    configured: Option<&Path>,
    files: &[PathBuf],
    dirs: &[PathBuf],
) -> Result<(PathBuf, Vec<u8>), FontError> {
    if let Some(path) = configured {
        return usable(path).map(|b| (path.to_path_buf(), b));
    }
    for path in files {
        if path.is_file()
            && let Ok(b) = usable(path)
        {
            return Ok((path.clone(), b));
        }
    }
    let mut found = Vec::new();
    for dir in dirs {
        walk(dir, 0, &mut found);
    }
    // Best name first, then the path, so that the choice does not depend on directory order.
    found.sort_by_key(|(rank, p)| (*rank, p.clone()));
    for (_, path) in found {
        match usable(&path) {
            Ok(b) => return Ok((path, b)),
            Err(e) => tracing::debug!(error = %e, "font skipped"),
        }
    }
    Err(FontError::NotFound)
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<(usize, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if depth < 5 {
                walk(&path, depth + 1, out);
            }
        } else if let Some(name) = path.file_name().and_then(|n| n.to_str())
            && let Some(rank) = FILE_NAMES.iter().position(|f| f.eq_ignore_ascii_case(name))
        {
            out.push((rank, path));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IPAEX: &str = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf";

    #[test]
    fn a_missing_configured_file_is_named() {
        let e = find_in(Some(Path::new("/nonexistent/font.ttf")), &[], &[]).unwrap_err();
        assert_eq!(e.code(), "FNT0002");
        assert!(e.to_string().contains("/nonexistent/font.ttf"), "{e}");
        assert!(e.message(Lang::Ja).contains("/nonexistent/font.ttf"));
        assert!(e.message(Lang::Ja).contains("reports.font_file"));
    }

    #[test]
    fn a_configured_file_that_is_not_a_font_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.ttf");
        std::fs::write(&path, b"just some text").unwrap();
        let e = find_in(Some(&path), &[], &[]).unwrap_err();
        assert_eq!(e.code(), "FNT0003");
        assert!(e.to_string().contains("notes.ttf"), "{e}");
        assert!(e.message(Lang::En).contains("notes.ttf"));
    }

    #[test]
    fn no_font_says_how_to_add_one_in_both_languages() {
        let dir = tempfile::tempdir().unwrap();
        // A file with a known name that is no font is skipped, not returned.
        std::fs::write(dir.path().join("ipaexg.ttf"), b"junk").unwrap();
        let e = find_in(
            None,
            &[dir.path().join("ipaexg.ttf")],
            &[dir.path().to_path_buf()],
        )
        .unwrap_err();
        assert_eq!(e.code(), "FNT0001");
        for lang in [Lang::Ja, Lang::En] {
            let m = e.message(lang);
            assert!(m.contains("fonts-ipaexfont"), "{m}");
            assert!(m.contains("reports.font_file"), "{m}");
            assert!(m.contains("MAMORI_REPORTS__FONT_FILE"), "{m}");
        }
        assert!(e.message(Lang::Ja).contains("フォント"));
        assert_eq!(e.to_string(), e.message(Lang::En));
    }

    #[test]
    fn finds_a_font_in_a_folder_and_prefers_the_configured_one() {
        let Ok(font) = std::fs::read(IPAEX) else {
            eprintln!("SKIPPED font search test: {IPAEX} is not installed (fonts-ipaexfont)");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("truetype/ipaex");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(nested.join("ipaexg.ttf"), &font).unwrap();
        std::fs::write(dir.path().join("other.ttf"), b"junk").unwrap();
        let (path, bytes) = find_in(None, &[], &[dir.path().to_path_buf()]).unwrap();
        assert_eq!(path, nested.join("ipaexg.ttf"));
        assert_eq!(bytes.len(), font.len());
        let (path, _) = find_in(Some(Path::new(IPAEX)), &[], &[dir.path().to_path_buf()]).unwrap();
        assert_eq!(path, PathBuf::from(IPAEX));
        let (path, _) = find_japanese_font(None).unwrap();
        assert!(path.is_file());
    }

    #[test]
    fn a_latin_only_font_is_refused() {
        let latin = Path::new("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf");
        if !latin.is_file() {
            eprintln!("SKIPPED Latin-only font test: DejaVuSans.ttf is not installed");
            return;
        }
        let e = find_in(Some(latin), &[], &[]).unwrap_err();
        assert_eq!(e.code(), "FNT0004");
        assert!(e.message(Lang::Ja).contains("DejaVuSans.ttf"));
    }
}
