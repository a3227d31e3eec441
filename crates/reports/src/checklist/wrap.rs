//! Text measurement and line breaking for the PDF form: glyph ids and advances from the font's
//! own tables, lines broken by measured width. Japanese may break between any two characters,
//! Latin words and numbers stay whole where they fit, and the common closing marks (。、）」 …)
//! never start a line nor opening ones (（「 …) end it.

use skrifa::charmap::Charmap;
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::{GlyphId, MetadataProvider};

/// Characters that must not start a line (行頭禁則).
const NO_START: &str = "、。，．,.:;!?)]}）］｝」』】〕〉》〙〗’”ゝゞ々ーぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ・：；！？";
/// Characters that must not end a line (行末禁則).
const NO_END: &str = "([{（［｛「『【〔〈《〘〖‘“";

/// A font's measurements: which glyph draws a character and how far it advances.
pub(super) struct Face<'a> {
    charmap: Charmap<'a>,
    metrics: GlyphMetrics<'a>,
    units_per_em: f32,
    /// 〓 (geta), printed for a character the font lacks, as Japanese print does.
    geta: Option<GlyphId>,
}

/// One glyph placed in a line: id, advance in em, and the byte range of its text.
#[derive(Debug, Clone)]
pub(super) struct Placed {
    pub glyph: u32,
    pub advance: f32,
    pub range: std::ops::Range<usize>,
}

impl<'a> Face<'a> {
    /// Reads the font (a single font, or the first face of a collection).
    pub fn new(data: &'a [u8]) -> Result<Face<'a>, String> {
        let font = skrifa::FontRef::from_index(data, 0).map_err(|e| e.to_string())?;
        let m = font.metrics(Size::unscaled(), LocationRef::default());
        if m.units_per_em == 0 {
            return Err("units per em is 0".into());
        }
        let units_per_em = f32::from(m.units_per_em);
        let metrics = font.glyph_metrics(Size::unscaled(), LocationRef::default());
        let charmap = font.charmap();
        if !charmap.has_map() {
            return Err("the font has no character map".into());
        }
        let geta = charmap.map('〓');
        Ok(Face {
            charmap,
            metrics,
            units_per_em,
            geta,
        })
    }

    /// Whether the font draws this character.
    pub fn has(&self, c: char) -> bool {
        self.charmap.map(c).is_some()
    }

    fn glyph(&self, c: char) -> (GlyphId, f32) {
        let gid = self.charmap.map(c).or(self.geta).unwrap_or(GlyphId::NOTDEF);
        let adv = self.metrics.advance_width(gid).unwrap_or(0.0) / self.units_per_em;
        (gid, adv)
    }

    /// Width of `text` in em.
    pub fn width(&self, text: &str) -> f32 {
        text.chars().map(|c| self.glyph(c).1).sum()
    }

    /// The glyphs of one line, ready to draw.
    pub fn place(&self, line: &str) -> Vec<Placed> {
        line.char_indices()
            .map(|(i, c)| {
                let (gid, advance) = self.glyph(c);
                Placed {
                    glyph: gid.to_u32(),
                    advance,
                    range: i..i + c.len_utf8(),
                }
            })
            .collect()
    }

    /// Breaks `text` into lines no wider than `width` points at `size` points. Hard line breaks
    /// are kept; control and zero-width characters are dropped.
    pub fn wrap(&self, text: &str, size: f32, width: f32) -> Vec<String> {
        let limit = if size > 0.0 { width / size } else { 0.0 };
        let mut out = Vec::new();
        for para in clean(text).split('\n') {
            self.wrap_paragraph(para, limit, &mut out);
        }
        out
    }

    fn wrap_paragraph(&self, para: &str, limit: f32, out: &mut Vec<String>) {
        let units = units(para);
        if units.is_empty() {
            out.push(String::new());
            return;
        }
        let mut line: Vec<&str> = Vec::new();
        let mut w = 0.0f32;
        for unit in units {
            let uw = self.width(unit);
            if unit == " " && line.is_empty() {
                continue;
            }
            if w + uw <= limit || line.is_empty() && uw <= limit {
                line.push(unit);
                w += uw;
                continue;
            }
            if uw > limit {
                // A word wider than the column: break it between characters.
                let mut start = 0;
                for (i, c) in unit.char_indices() {
                    let cw = self.glyph(c).1;
                    if w + cw > limit && !(line.is_empty() && start == i) {
                        if start < i {
                            line.push(unit.get(start..i).unwrap_or_default());
                        }
                        push_line(&mut line, out);
                        start = i;
                        w = 0.0;
                    }
                    w += cw;
                }
                line.push(unit.get(start..).unwrap_or_default());
                continue;
            }
            if unit == " " {
                push_line(&mut line, out);
                w = 0.0;
                continue;
            }
            // Break before `unit`, keeping closing marks off the line start and opening marks
            // off the line end by carrying the last units over (追い出し).
            let starts_bad = |u: &str| u.chars().next().is_some_and(|c| NO_START.contains(c));
            let ends_bad = |u: &str| u.chars().last().is_some_and(|c| NO_END.contains(c));
            if starts_bad(unit) && line.len() == 1 {
                // Nothing to carry over: let the closing mark hang past the edge.
                line.push(unit);
                w += uw;
                continue;
            }
            let mut carried: Vec<&str> = Vec::new();
            while line.len() > 1 {
                let head = carried.last().copied().unwrap_or(unit);
                let tail_bad = line.last().is_some_and(|u| ends_bad(u));
                if !starts_bad(head) && !tail_bad {
                    break;
                }
                if let Some(u) = line.pop() {
                    carried.push(u);
                }
            }
            carried.reverse();
            push_line(&mut line, out);
            carried.push(unit);
            w = carried.iter().map(|u| self.width(u)).sum();
            line = carried;
        }
        if !line.is_empty() {
            push_line(&mut line, out);
        }
    }
}

fn push_line(line: &mut Vec<&str>, out: &mut Vec<String>) {
    let s: String = line.concat();
    out.push(s.trim_end().to_string());
    line.clear();
}

/// Drops what cannot be printed: control characters other than the line break, zero-width
/// characters and variation selectors. Tabs become spaces, CRLF and CR become LF.
fn clean(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    text.chars()
        .filter_map(|c| match c {
            '\n' => Some('\n'),
            '\t' => Some(' '),
            c if c.is_control() => None,
            '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}' | '\u{FE00}'..='\u{FE0F}' => None,
            c => Some(c),
        })
        .collect()
}

/// Splits a paragraph into units that a line may not break inside: a run of ASCII letters,
/// digits and punctuation; a single space; any other single character.
fn units(para: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in para.char_indices() {
        let word = c.is_ascii_graphic();
        match (word, start) {
            (true, None) => start = Some(i),
            (true, Some(_)) => {}
            (false, s) => {
                if let Some(s) = s {
                    out.push(para.get(s..i).unwrap_or_default());
                    start = None;
                }
                let end = i + c.len_utf8();
                out.push(para.get(i..end).unwrap_or_default());
            }
        }
    }
    if let Some(s) = start {
        out.push(para.get(s..).unwrap_or_default());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_keep_words_together() {
        assert_eq!(
            units("USBストレージ (MDS/SDS)"),
            vec!["USB", "ス", "ト", "レ", "ー", "ジ", " ", "(MDS/SDS)"]
        );
        assert!(units("").is_empty());
    }

    #[test]
    fn lines_fit_keep_every_character_and_respect_kinsoku() {
        let path = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf";
        let Ok(font) = std::fs::read(path) else {
            eprintln!("SKIPPED line-breaking test: {path} is not installed (fonts-ipaexfont)");
            return;
        };
        let face = Face::new(&font).unwrap();
        let texts = [
            "インシデント発生時における組織内と外部関係機関（事業者、厚生労働省、警察等）への連絡体制がある。",
            "事業者から製造業者/サービス事業者による医療情報セキュリティ開示書（MDS/SDS）を提出してもらう。",
            "退職者の有効なアカウント 2件: 電子カルテ yamada.t、レセコン sato.k「確認中」。",
            "9f2c4e1a7b3d5f60182a4c6e8b0d2f41a3c5e7092b4d6f8a1c3e5b7d9f0a2c4e",
        ];
        for text in texts {
            for width in (30..300).step_by(7) {
                let width = width as f32;
                let lines = face.wrap(text, 9.0, width);
                let joined: String = lines.concat();
                assert_eq!(
                    joined.replace(' ', ""),
                    text.replace(' ', ""),
                    "{width}: {lines:?}"
                );
                for l in &lines {
                    // A line may overflow only by a closing mark that hangs.
                    let hangs = l.chars().last().is_some_and(|c| NO_START.contains(c));
                    assert!(
                        face.width(l) * 9.0 <= width + 0.01 || hangs || l.chars().count() <= 2,
                        "{width}: {l} is too wide"
                    );
                }
                for pair in lines.windows(2) {
                    let [a, b] = pair else { continue };
                    if a.chars().count() > 1 {
                        let first = b.chars().next().unwrap_or(' ');
                        assert!(
                            !NO_START.contains(first),
                            "{width}: line starts with {first}: {lines:?}"
                        );
                        let last = a.chars().last().unwrap_or(' ');
                        assert!(
                            !NO_END.contains(last),
                            "{width}: line ends with {last}: {lines:?}"
                        );
                    }
                }
            }
        }
        assert_eq!(face.wrap("a\n\nb", 9.0, 100.0), vec!["a", "", "b"]);
    }

    #[test]
    fn clean_drops_controls() {
        assert_eq!(clean("a\r\nb\tc\u{7}\u{200B}d"), "a\nb cd");
    }
}
