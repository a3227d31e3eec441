//! Bytes → text: UTF-8 (BOM stripped), UTF-16 with BOM, else Shift_JIS (CP932) as Excel writes
//! CSV on Japanese Windows.

use crate::error::IngestError;
use crate::table::Limits;
use encoding_rs::{SHIFT_JIS, UTF_16BE, UTF_16LE};

/// The encoding a text file was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    /// UTF-8 with a byte-order mark (Excel's 「CSV UTF-8」).
    Utf8Bom,
    /// UTF-16 little-endian with BOM (Excel's 「Unicode テキスト」, tab-separated).
    Utf16Le,
    Utf16Be,
    /// Shift_JIS as Windows writes it (CP932 / Windows-31J, with NEC and IBM extensions).
    ShiftJis,
}

impl TextEncoding {
    /// A name to show: `UTF-8`, `UTF-8 (BOM)`, `UTF-16LE`, `UTF-16BE`, `Shift_JIS`.
    pub fn label(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf8Bom => "UTF-8 (BOM)",
            TextEncoding::Utf16Le => "UTF-16LE",
            TextEncoding::Utf16Be => "UTF-16BE",
            TextEncoding::ShiftJis => "Shift_JIS",
        }
    }
}

/// Decodes a text file with the default size cap. See [`decode_text_with`].
pub fn decode_text(bytes: &[u8]) -> Result<(String, TextEncoding), IngestError> {
    decode_text_with(bytes, &Limits::default())
}

/// Decodes a text file: a UTF-8 BOM is stripped; a UTF-16 BOM selects UTF-16; valid UTF-8 is
/// UTF-8; anything else must be valid Shift_JIS (CP932), or the error names the line of the
/// first byte that is not.
pub fn decode_text_with(
    bytes: &[u8],
    limits: &Limits,
) -> Result<(String, TextEncoding), IngestError> {
    limits.check_size(bytes)?;
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return match std::str::from_utf8(rest) {
            Ok(s) => Ok((s.to_string(), TextEncoding::Utf8Bom)),
            Err(e) => Err(IngestError::UnknownEncoding {
                line: line_at(rest, e.valid_up_to()),
            }),
        };
    }
    for (bom, encoding, label) in [
        (b"\xFF\xFE", UTF_16LE, TextEncoding::Utf16Le),
        (b"\xFE\xFF", UTF_16BE, TextEncoding::Utf16Be),
    ] {
        if let Some(rest) = bytes.strip_prefix(bom) {
            let (text, had_errors) = encoding.decode_without_bom_handling(rest);
            if had_errors {
                return Err(IngestError::UnknownEncoding {
                    line: line_of_replacement(&text),
                });
            }
            return Ok((text.into_owned(), label));
        }
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok((s.to_string(), TextEncoding::Utf8));
    }
    let (text, had_errors) = SHIFT_JIS.decode_without_bom_handling(bytes);
    if had_errors {
        // Shift_JIS cannot encode U+FFFD, so the first one marks the first bad byte.
        return Err(IngestError::UnknownEncoding {
            line: line_of_replacement(&text),
        });
    }
    Ok((text.into_owned(), TextEncoding::ShiftJis))
}

/// 1-based line of byte offset `at`.
fn line_at(bytes: &[u8], at: usize) -> usize {
    bytes.iter().take(at).filter(|b| **b == b'\n').count() + 1
}

/// 1-based line of the first U+FFFD in a decoded text.
fn line_of_replacement(text: &str) -> usize {
    let at = text.find('\u{FFFD}').unwrap_or(text.len());
    line_at(text.as_bytes(), at)
}
