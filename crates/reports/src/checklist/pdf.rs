//! The checklist form as a PDF with krilla: A4 pages laid out like the official form, the given
//! Japanese font embedded as a subset, the table's header row repeated on every page, and a
//! footer with the content hash, the key fingerprint and `ページ n / m`. No timestamp and no
//! random id are written (krilla derives the file id from the content), so the same form and
//! font give the same bytes.
//!
//! Layout happens first, into a list of drawing operations per page; drawing comes second, when
//! the number of pages is known for the footers.

use super::wrap::Face;
use super::{AppendixItem, ChecklistForm, FormRow, Line, Mark, Verdict};
use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, GlyphId, KrillaGlyph};

/// Why a PDF could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The bytes are not a font this renderer can read.
    #[error("the font could not be read: {0}")]
    Font(String),
    /// The font reads, but has no Japanese glyphs (e.g. a Latin-only font).
    #[error("the font has no Japanese characters (missing: {0})")]
    NotJapanese(char),
    /// Writing the PDF failed.
    #[error("PDF rendering failed: {0}")]
    Render(String),
}

impl PdfError {
    /// A stable code for support desks; the texts are in the message catalog.
    pub fn code(&self) -> &'static str {
        match self {
            PdfError::Font(_) => "FNT0003",
            PdfError::NotJapanese(_) => "FNT0004",
            PdfError::Render(_) => "RPT0001",
        }
    }
}

/// Characters every Japanese font has and the form needs.
const PROBE: &str = "チェック項目確認日目標備考はいえ記入不要医療機関名令和年月";

fn open_face(font: &[u8]) -> Result<Face<'_>, PdfError> {
    let face = Face::new(font).map_err(PdfError::Font)?;
    if let Some(c) = PROBE.chars().find(|c| !face.has(*c)) {
        return Err(PdfError::NotJapanese(c));
    }
    Ok(face)
}

/// Checks that `font` is a font the PDF renderer can use for Japanese text (a TrueType or
/// OpenType font, or the first face of a collection, with Japanese glyphs).
pub fn check_font(font: &[u8]) -> Result<(), PdfError> {
    open_face(font)?;
    Font::new(font.to_vec().into(), 0)
        .map(|_| ())
        .ok_or_else(|| PdfError::Font("not a TrueType/OpenType font".into()))
}

// Page geometry in points (A4 portrait).
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN_X: f32 = 40.0;
const MARGIN_TOP: f32 = 40.0;
/// Lowest y the body may reach; the footer sits below.
const BODY_BOTTOM: f32 = PAGE_H - 62.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN_X;
const PAD_X: f32 = 4.0;
const PAD_Y: f32 = 3.5;
const BODY_SIZE: f32 = 9.0;
const SMALL_SIZE: f32 = 8.0;
const FOOT_SIZE: f32 = 6.5;

fn line_height(size: f32) -> f32 {
    size * 1.5
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Rgb(u8, u8, u8);

const BLACK: Rgb = Rgb(17, 17, 17);
const GREY: Rgb = Rgb(80, 80, 80);
const RULE: Rgb = Rgb(40, 40, 40);
const HEAD_FILL: Rgb = Rgb(228, 228, 228);
const SECTION_FILL: Rgb = Rgb(241, 241, 241);
const ALERT: Rgb = Rgb(176, 0, 32);
const ALERT_FILL: Rgb = Rgb(253, 232, 232);

/// One drawing operation; y grows downwards from the top of the page.
#[derive(Debug, Clone)]
enum Op {
    Text {
        x: f32,
        baseline: f32,
        size: f32,
        text: String,
        color: Rgb,
        bold: bool,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        fill: Option<Rgb>,
        stroke: Option<(Rgb, f32)>,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        width: f32,
        color: Rgb,
    },
    Ellipse {
        cx: f32,
        cy: f32,
        rx: f32,
        ry: f32,
        width: f32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Align {
    Left,
    Center,
}

/// One line inside a table cell.
#[derive(Debug, Clone)]
enum CellLine {
    Text {
        text: String,
        size: f32,
        color: Rgb,
        bold: bool,
        /// Extra indent from the cell's left padding (hanging indent of list items).
        indent: f32,
    },
    /// はい ・ いいえ, the chosen one circled.
    Marks(Option<Mark>),
}

impl CellLine {
    fn height(&self) -> f32 {
        match self {
            CellLine::Text { size, .. } => line_height(*size),
            CellLine::Marks(_) => line_height(BODY_SIZE) + 3.0,
        }
    }
}

#[derive(Debug, Clone)]
struct Cell {
    span: usize,
    align: Align,
    lines: Vec<CellLine>,
}

impl Cell {
    fn height(&self) -> f32 {
        self.lines.iter().map(CellLine::height).sum()
    }
}

#[derive(Debug, Clone)]
struct Row {
    cells: Vec<Cell>,
    fill: Option<Rgb>,
    /// A thick mark on the left edge (contradicted items).
    flag: bool,
    /// Room that must follow this row on the same page (keeps a section heading with its item).
    keep_with_next: f32,
}

impl Row {
    fn height(&self) -> f32 {
        self.cells.iter().map(Cell::height).fold(0.0, f32::max) + 2.0 * PAD_Y
    }

    /// Splits the row so that the first part is at most `avail` high. `None` as the rest when
    /// everything fits.
    fn split(mut self, avail: f32) -> (Row, Option<Row>) {
        let inner = avail - 2.0 * PAD_Y;
        let mut rest_cells = Vec::with_capacity(self.cells.len());
        let mut any_rest = false;
        for cell in &mut self.cells {
            let mut used = 0.0;
            let mut keep = 0;
            for l in &cell.lines {
                if used + l.height() > inner {
                    break;
                }
                used += l.height();
                keep += 1;
            }
            let rest = cell.lines.split_off(keep.min(cell.lines.len()));
            any_rest |= !rest.is_empty();
            rest_cells.push(Cell {
                span: cell.span,
                align: cell.align,
                lines: rest,
            });
        }
        let rest = any_rest.then_some(Row {
            cells: rest_cells,
            fill: self.fill,
            flag: self.flag,
            keep_with_next: self.keep_with_next,
        });
        (self, rest)
    }
}

/// A table: column widths and the header row repeated on every page.
#[derive(Debug, Clone)]
struct Table {
    widths: Vec<f32>,
    header: Row,
}

impl Table {
    /// Width of `span` columns starting at column `col`.
    fn span_width(&self, col: usize, span: usize) -> f32 {
        self.widths.iter().skip(col).take(span).sum()
    }
}

struct Layout<'f> {
    face: &'f Face<'f>,
    labels_yes: String,
    labels_no: String,
    pages: Vec<Vec<Op>>,
    ops: Vec<Op>,
    y: f32,
    table: Option<Table>,
    /// Whether the current page has a body row of the current table.
    page_has_rows: bool,
}

impl<'f> Layout<'f> {
    fn text(&mut self, x: f32, baseline: f32, size: f32, text: &str, color: Rgb, bold: bool) {
        if text.is_empty() {
            return;
        }
        self.ops.push(Op::Text {
            x,
            baseline,
            size,
            text: text.to_string(),
            color,
            bold,
        });
    }

    fn width(&self, text: &str, size: f32) -> f32 {
        self.face.width(text) * size
    }

    /// Baseline of a line box of height `lh` whose top is `top` (ideographs centred in it).
    fn baseline(top: f32, lh: f32, size: f32) -> f32 {
        top + lh / 2.0 + size * 0.36
    }

    /// A paragraph across the content width, advancing `y`.
    fn paragraph(&mut self, text: &str, size: f32, align: Align, bold: bool, x: f32, width: f32) {
        for line in self.face.wrap(text, size, width) {
            let lh = line_height(size);
            if self.y + lh > BODY_BOTTOM {
                self.new_page();
            }
            let lx = match align {
                Align::Left => x,
                Align::Center => x + (width - self.width(&line, size)) / 2.0,
            };
            self.text(
                lx,
                Self::baseline(self.y, lh, size),
                size,
                &line,
                BLACK,
                bold,
            );
            self.y += lh;
        }
    }

    fn new_page(&mut self) {
        let ops = std::mem::take(&mut self.ops);
        self.pages.push(ops);
        self.y = MARGIN_TOP;
        self.page_has_rows = false;
        if let Some(t) = self.table.clone() {
            self.draw_row(&t, &t.header);
        }
    }

    fn start_table(&mut self, table: Table) {
        let need = table.header.height() + 40.0;
        self.table = Some(table.clone());
        if self.y + need > BODY_BOTTOM {
            self.new_page();
        } else {
            self.draw_row(&table, &table.header);
        }
        self.page_has_rows = false;
    }

    /// Places a body row: on this page if it fits, else on the next; a row taller than a page
    /// is split between lines.
    fn place(&mut self, row: Row) {
        let Some(table) = self.table.clone() else {
            return;
        };
        let mut row = row;
        // Every turn places at least one line or starts a page; the bound is a safety net.
        for _ in 0..100_000 {
            let h = row.height();
            if self.y + h + row.keep_with_next <= BODY_BOTTOM {
                self.draw_row(&table, &row);
                self.page_has_rows = true;
                return;
            }
            if !self.page_has_rows && row.keep_with_next == 0.0 {
                let (first, rest) = row.split(BODY_BOTTOM - self.y);
                let nothing_fits = first.cells.iter().all(|c| c.lines.is_empty());
                match rest {
                    Some(r) if nothing_fits => {
                        // Not even one line fits below the header: go on on the next page.
                        if self.y <= MARGIN_TOP + table.header.height() + 0.5 {
                            self.draw_row(&table, &r);
                            return;
                        }
                        self.new_page();
                        row = r;
                    }
                    Some(r) => {
                        self.draw_row(&table, &first);
                        self.page_has_rows = true;
                        self.new_page();
                        row = r;
                    }
                    None => {
                        self.draw_row(&table, &first);
                        self.page_has_rows = true;
                        return;
                    }
                }
            } else if !self.page_has_rows {
                // A heading that cannot keep its item: place it anyway.
                row.keep_with_next = 0.0;
            } else {
                self.new_page();
            }
        }
    }

    fn draw_row(&mut self, table: &Table, row: &Row) {
        let h = row.height();
        let top = self.y;
        if let Some(fill) = row.fill {
            self.ops.push(Op::Rect {
                x: MARGIN_X,
                y: top,
                w: CONTENT_W,
                h,
                fill: Some(fill),
                stroke: None,
            });
        }
        let mut col = 0;
        let mut x = MARGIN_X;
        for cell in &row.cells {
            let w = table.span_width(col, cell.span);
            self.ops.push(Op::Rect {
                x,
                y: top,
                w,
                h,
                fill: None,
                stroke: Some((RULE, 0.6)),
            });
            let mut ly = top + PAD_Y;
            for line in &cell.lines {
                let lh = line.height();
                match line {
                    CellLine::Text {
                        text,
                        size,
                        color,
                        bold,
                        indent,
                    } => {
                        let lx = match cell.align {
                            Align::Left => x + PAD_X + indent,
                            Align::Center => x + (w - self.width(text, *size)) / 2.0,
                        };
                        self.text(
                            lx,
                            Self::baseline(ly, lh, *size),
                            *size,
                            text,
                            *color,
                            *bold,
                        );
                    }
                    CellLine::Marks(mark) => self.marks(*mark, x, w, ly, lh),
                }
                ly += lh;
            }
            x += w;
            col += cell.span;
        }
        if row.flag {
            self.ops.push(Op::Line {
                x1: MARGIN_X + 1.2,
                y1: top + 0.6,
                x2: MARGIN_X + 1.2,
                y2: top + h - 0.6,
                width: 2.4,
                color: ALERT,
            });
        }
        self.y = top + h;
    }

    /// はい ・ いいえ centred in the cell, the chosen one circled like a pen would.
    fn marks(&mut self, mark: Option<Mark>, x: f32, w: f32, top: f32, lh: f32) {
        let size = BODY_SIZE;
        let gap = size * 2.4;
        let yes = self.labels_yes.clone();
        let no = self.labels_no.clone();
        let wy = self.width(&yes, size);
        let wn = self.width(&no, size);
        let total = wy + gap + wn;
        let x0 = x + (w - total) / 2.0;
        let baseline = Self::baseline(top, lh, size);
        self.text(x0, baseline, size, &yes, BLACK, false);
        self.text(
            x0 + wy + (gap - self.width("・", size)) / 2.0,
            baseline,
            size,
            "・",
            GREY,
            false,
        );
        self.text(x0 + wy + gap, baseline, size, &no, BLACK, false);
        let circle = match mark {
            Some(Mark::Yes) => Some((x0, wy)),
            Some(Mark::No) => Some((x0 + wy + gap, wn)),
            _ => None,
        };
        if let Some((cx, cw)) = circle {
            self.ops.push(Op::Ellipse {
                cx: cx + cw / 2.0,
                cy: top + lh / 2.0,
                rx: cw / 2.0 + size * 0.42,
                ry: size * 0.78,
                width: 0.9,
            });
        }
    }
}

fn text_lines(face: &Face, text: &str, size: f32, width: f32, color: Rgb) -> Vec<CellLine> {
    if text.trim().is_empty() {
        return Vec::new();
    }
    face.wrap(text, size, width)
        .into_iter()
        .map(|t| CellLine::Text {
            text: t,
            size,
            color,
            bold: false,
            indent: 0.0,
        })
        .collect()
}

fn bold_line(text: &str, size: f32) -> CellLine {
    CellLine::Text {
        text: text.to_string(),
        size,
        color: BLACK,
        bold: true,
        indent: 0.0,
    }
}

fn cell(span: usize, align: Align, lines: Vec<CellLine>) -> Cell {
    Cell { span, align, lines }
}

// The form's columns: 番号, チェック項目, 確認日 (はい・いいえ and the date), 目標日, 備考.
const FORM_COLS: [f32; 5] = [36.0, 227.28, 92.0, 70.0, 90.0];
// The appendix's columns: 番号, item, verdict, facts.
const APPENDIX_COLS: [f32; 4] = [36.0, 140.0, 64.0, 275.28];

fn form_row(face: &Face, form: &ChecklistForm, row: &FormRow) -> Row {
    let l = &form.labels;
    let [w_id, w_item, w_conf, w_target, w_remarks] = FORM_COLS;
    let inner = |w: f32| w - 2.0 * PAD_X;
    let mut item = text_lines(face, &row.text, BODY_SIZE, inner(w_item), BLACK);
    if row.contradicted {
        item.extend(text_lines(
            face,
            &format!("▲ {}", l.contradicted),
            SMALL_SIZE,
            inner(w_item),
            ALERT,
        ));
    }
    let mut conf = match row.mark {
        Some(Mark::NotApplicable) => {
            text_lines(face, &l.not_applicable, BODY_SIZE, inner(w_conf), BLACK)
        }
        mark => vec![CellLine::Marks(mark)],
    };
    conf.extend(text_lines(
        face,
        &row.confirmed_on,
        SMALL_SIZE,
        inner(w_conf),
        BLACK,
    ));
    Row {
        cells: vec![
            cell(
                1,
                Align::Center,
                text_lines(face, &row.id, BODY_SIZE, inner(w_id), BLACK),
            ),
            cell(1, Align::Left, item),
            cell(1, Align::Center, conf),
            cell(
                1,
                Align::Center,
                text_lines(face, &row.target_on, SMALL_SIZE, inner(w_target), BLACK),
            ),
            cell(
                1,
                Align::Left,
                text_lines(face, &row.remarks, SMALL_SIZE, inner(w_remarks), BLACK),
            ),
        ],
        fill: row.contradicted.then_some(ALERT_FILL),
        flag: row.contradicted,
        keep_with_next: 0.0,
    }
}

fn appendix_row(face: &Face, form: &ChecklistForm, a: &AppendixItem) -> Row {
    let l = &form.labels;
    let [w_id, w_title, w_verdict, w_facts] = APPENDIX_COLS;
    let inner = |w: f32| w - 2.0 * PAD_X;
    let contradicted = form.is_contradicted(&a.id);
    let mut title = text_lines(face, &a.title, BODY_SIZE, inner(w_title), BLACK);
    if contradicted {
        title.extend(text_lines(
            face,
            &format!("▲ {}", l.contradicted),
            SMALL_SIZE,
            inner(w_title),
            ALERT,
        ));
    }
    let color = match a.verdict {
        Verdict::Fail => ALERT,
        _ => BLACK,
    };
    let bullet = "・";
    let indent = face.width(bullet) * SMALL_SIZE;
    let mut facts = Vec::new();
    for f in &a.facts {
        for (i, t) in face
            .wrap(f, SMALL_SIZE, inner(w_facts) - indent)
            .into_iter()
            .enumerate()
        {
            let (text, ind) = if i == 0 {
                (format!("{bullet}{t}"), 0.0)
            } else {
                (t, indent)
            };
            facts.push(CellLine::Text {
                text,
                size: SMALL_SIZE,
                color: BLACK,
                bold: false,
                indent: ind,
            });
        }
    }
    Row {
        cells: vec![
            cell(
                1,
                Align::Center,
                text_lines(face, &a.id, BODY_SIZE, inner(w_id), BLACK),
            ),
            cell(1, Align::Left, title),
            cell(
                1,
                Align::Center,
                text_lines(
                    face,
                    l.verdict_label(a.verdict),
                    SMALL_SIZE,
                    inner(w_verdict),
                    color,
                ),
            ),
            cell(1, Align::Left, facts),
        ],
        fill: contradicted.then_some(ALERT_FILL),
        flag: contradicted,
        keep_with_next: 0.0,
    }
}

fn header_row(face: &Face, cells: &[(usize, &str, f32)]) -> Row {
    Row {
        cells: cells
            .iter()
            .map(|(span, text, w)| {
                let lines = face
                    .wrap(text, BODY_SIZE, w - 2.0 * PAD_X)
                    .iter()
                    .map(|t| bold_line(t, BODY_SIZE))
                    .collect();
                cell(*span, Align::Center, lines)
            })
            .collect(),
        fill: Some(HEAD_FILL),
        flag: false,
        keep_with_next: 0.0,
    }
}

fn section_row(face: &Face, text: &str) -> Row {
    let lines = face
        .wrap(text, BODY_SIZE, CONTENT_W - 2.0 * PAD_X)
        .iter()
        .map(|t| bold_line(t, BODY_SIZE))
        .collect();
    Row {
        cells: vec![cell(FORM_COLS.len(), Align::Left, lines)],
        fill: Some(SECTION_FILL),
        flag: false,
        keep_with_next: line_height(BODY_SIZE) + 2.0 * PAD_Y,
    }
}

/// The first page's head: variant box, title, fiscal year, notes, facility.
fn head(lay: &mut Layout, form: &ChecklistForm) {
    let l = &form.labels;
    let face = lay.face;
    // Variant in a box at the top right, as on the printed form, then the title centred.
    if !form.variant.is_empty() {
        let size = 10.0;
        let w = lay.width(&form.variant, size) + 14.0;
        let h = line_height(size) + 4.0;
        let x = MARGIN_X + CONTENT_W - w;
        lay.ops.push(Op::Rect {
            x,
            y: lay.y,
            w,
            h,
            fill: None,
            stroke: Some((BLACK, 1.0)),
        });
        lay.text(
            x + 7.0,
            Layout::baseline(lay.y + 2.0, line_height(size), size),
            size,
            &form.variant,
            BLACK,
            true,
        );
        lay.y += h + 6.0;
    }
    lay.paragraph(&form.title, 13.0, Align::Center, true, MARGIN_X, CONTENT_W);
    lay.y += 1.0;
    if !form.fiscal_year.is_empty() {
        lay.paragraph(
            &form.fiscal_year,
            10.0,
            Align::Center,
            false,
            MARGIN_X,
            CONTENT_W,
        );
    }
    lay.y += 4.0;
    if !form.notes.is_empty() {
        let size = 8.5;
        let inner = CONTENT_W - 2.0 * 8.0;
        let lines: Vec<String> = form
            .notes
            .iter()
            .flat_map(|n| face.wrap(n, size, inner))
            .collect();
        let h = lines.len() as f32 * line_height(size) + 10.0;
        lay.ops.push(Op::Rect {
            x: MARGIN_X,
            y: lay.y,
            w: CONTENT_W,
            h,
            fill: None,
            stroke: Some((GREY, 0.7)),
        });
        let mut y = lay.y + 5.0;
        for line in lines {
            let lh = line_height(size);
            lay.text(
                MARGIN_X + 8.0,
                Layout::baseline(y, lh, size),
                size,
                &line,
                BLACK,
                false,
            );
            y += lh;
        }
        lay.y += h + 8.0;
    }
    // 医療機関名 (and 事業者名・システム名) on underlined fields at the right, then 作成日.
    let x0 = MARGIN_X + CONTENT_W * 0.38;
    let mut fields = vec![(l.facility.as_str(), form.facility.as_str(), 10.5)];
    if !form.subject.is_empty() {
        fields.push((l.subject.as_str(), form.subject.as_str(), 10.5));
    }
    fields.push((l.generated_on.as_str(), form.generated_on.as_str(), 9.0));
    let label_w = fields
        .iter()
        .map(|(label, _, size)| lay.width(label, *size))
        .fold(0.0, f32::max)
        + 10.0;
    for (label, value, size) in fields {
        let lh = line_height(size) + 3.0;
        let vx = x0 + label_w;
        let vw = MARGIN_X + CONTENT_W - vx;
        let lines = face.wrap(value, size, vw - 4.0);
        let first_top = lay.y;
        lay.text(
            x0,
            Layout::baseline(first_top, lh, size),
            size,
            label,
            BLACK,
            false,
        );
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                lay.y += lh;
            }
            lay.text(
                vx + 2.0,
                Layout::baseline(lay.y, lh, size),
                size,
                line,
                BLACK,
                false,
            );
        }
        lay.y += lh;
        lay.ops.push(Op::Line {
            x1: vx,
            y1: lay.y - 1.0,
            x2: MARGIN_X + CONTENT_W,
            y2: lay.y - 1.0,
            width: 0.7,
            color: BLACK,
        });
        lay.y += 3.0;
    }
    lay.y += 8.0;
}

fn layout(face: &Face, form: &ChecklistForm) -> Vec<Vec<Op>> {
    let l = &form.labels;
    let mut lay = Layout {
        face,
        labels_yes: l.yes.clone(),
        labels_no: l.no.clone(),
        pages: Vec::new(),
        ops: Vec::new(),
        y: MARGIN_TOP,
        table: None,
        page_has_rows: false,
    };
    head(&mut lay, form);
    let [w_id, w_item, w_conf, w_target, w_remarks] = FORM_COLS;
    lay.start_table(Table {
        widths: FORM_COLS.to_vec(),
        header: header_row(
            face,
            &[
                (2, &l.item, w_id + w_item),
                (1, &l.confirmed_on, w_conf),
                (1, &l.target_on, w_target),
                (1, &l.remarks, w_remarks),
            ],
        ),
    });
    for line in form.lines() {
        match line {
            Line::Section(s) => lay.place(section_row(face, s)),
            Line::Item(row) => lay.place(form_row(face, form, row)),
        }
    }
    lay.table = None;
    if !form.appendix.is_empty() {
        lay.new_page();
        lay.paragraph(&l.appendix, 12.0, Align::Left, true, MARGIN_X, CONTENT_W);
        lay.y += 6.0;
        let [w_id, w_title, w_verdict, w_facts] = APPENDIX_COLS;
        lay.start_table(Table {
            widths: APPENDIX_COLS.to_vec(),
            header: header_row(
                face,
                &[
                    (2, &l.item, w_id + w_title),
                    (1, &l.verdict, w_verdict),
                    (1, &l.facts, w_facts),
                ],
            ),
        });
        for a in &form.appendix {
            lay.place(appendix_row(face, form, a));
        }
        lay.table = None;
    }
    let ops = std::mem::take(&mut lay.ops);
    lay.pages.push(ops);
    lay.pages
}

/// The footer of page `n` of `total`: hash and fingerprint at the left, the page at the right.
fn footer(face: &Face, form: &ChecklistForm, n: usize, total: usize) -> Vec<Op> {
    let l = &form.labels;
    let top = PAGE_H - 52.0;
    let mut ops = vec![Op::Line {
        x1: MARGIN_X,
        y1: top,
        x2: MARGIN_X + CONTENT_W,
        y2: top,
        width: 0.5,
        color: GREY,
    }];
    let page = format!("{} {n} / {total}", l.page);
    let page_w = face.width(&page) * 8.0;
    let lines = [
        format!("{}: {}", l.content_hash, form.content_hash),
        format!("{}: {}", l.key_fingerprint, form.key_fingerprint),
    ];
    let mut y = top + 4.0;
    for text in lines {
        for t in face.wrap(&text, FOOT_SIZE, CONTENT_W - page_w - 16.0) {
            let lh = line_height(FOOT_SIZE);
            ops.push(Op::Text {
                x: MARGIN_X,
                baseline: Layout::baseline(y, lh, FOOT_SIZE),
                size: FOOT_SIZE,
                text: t,
                color: GREY,
                bold: false,
            });
            y += lh;
        }
    }
    ops.push(Op::Text {
        x: MARGIN_X + CONTENT_W - page_w,
        baseline: Layout::baseline(top + 4.0, line_height(8.0), 8.0),
        size: 8.0,
        text: page,
        color: BLACK,
        bold: false,
    });
    ops
}

fn color(c: Rgb) -> rgb::Color {
    rgb::Color::new(c.0, c.1, c.2)
}

fn fill(c: Rgb) -> Fill {
    Fill {
        paint: color(c).into(),
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    }
}

fn stroke(c: Rgb, width: f32) -> Stroke {
    Stroke {
        paint: color(c).into(),
        width,
        ..Stroke::default()
    }
}

fn draw(surface: &mut Surface, font: &Font, face: &Face, op: &Op) {
    match op {
        Op::Text {
            x,
            baseline,
            size,
            text,
            color: c,
            bold,
        } => {
            let glyphs: Vec<KrillaGlyph> = face
                .place(text)
                .into_iter()
                .map(|p| {
                    KrillaGlyph::new(
                        GlyphId::new(p.glyph),
                        p.advance,
                        0.0,
                        0.0,
                        0.0,
                        p.range,
                        None,
                    )
                })
                .collect();
            surface.set_fill(Some(fill(*c)));
            // One font weight: bold is drawn as fill plus a thin stroke of the same colour.
            surface.set_stroke(bold.then(|| stroke(*c, size * 0.045)));
            surface.draw_glyphs(
                Point::from_xy(*x, *baseline),
                &glyphs,
                font.clone(),
                text,
                *size,
                false,
            );
            surface.set_stroke(None);
        }
        Op::Rect {
            x,
            y,
            w,
            h,
            fill: f,
            stroke: s,
        } => {
            let mut pb = PathBuilder::new();
            if let Some(r) = Rect::from_xywh(*x, *y, *w, *h) {
                pb.push_rect(r);
            }
            if let Some(path) = pb.finish() {
                surface.set_fill(f.map(fill));
                surface.set_stroke(s.map(|(c, w)| stroke(c, w)));
                surface.draw_path(&path);
                surface.set_stroke(None);
            }
        }
        Op::Line {
            x1,
            y1,
            x2,
            y2,
            width,
            color: c,
        } => {
            let mut pb = PathBuilder::new();
            pb.move_to(*x1, *y1);
            pb.line_to(*x2, *y2);
            if let Some(path) = pb.finish() {
                surface.set_fill(None);
                surface.set_stroke(Some(stroke(*c, *width)));
                surface.draw_path(&path);
                surface.set_stroke(None);
            }
        }
        Op::Ellipse {
            cx,
            cy,
            rx,
            ry,
            width,
        } => {
            // Four cubic Béziers (k = 0.5523 approximates a quarter circle).
            let k = 0.552_284_8;
            let (ox, oy) = (rx * k, ry * k);
            let mut pb = PathBuilder::new();
            pb.move_to(cx + rx, *cy);
            pb.cubic_to(cx + rx, cy + oy, cx + ox, cy + ry, *cx, cy + ry);
            pb.cubic_to(cx - ox, cy + ry, cx - rx, cy + oy, cx - rx, *cy);
            pb.cubic_to(cx - rx, cy - oy, cx - ox, cy - ry, *cx, cy - ry);
            pb.cubic_to(cx + ox, cy - ry, cx + rx, cy - oy, cx + rx, *cy);
            pb.close();
            if let Some(path) = pb.finish() {
                surface.set_fill(None);
                surface.set_stroke(Some(stroke(BLACK, *width)));
                surface.draw_path(&path);
                surface.set_stroke(None);
            }
        }
    }
}

/// The checklist form as a PDF, with `font` (a Japanese TrueType/OpenType font, or a collection
/// whose first face is Japanese) embedded as a subset. Same form and font, same bytes.
pub fn pdf(form: &ChecklistForm, font: &[u8]) -> Result<Vec<u8>, PdfError> {
    let face = open_face(font)?;
    let kfont = Font::new(font.to_vec().into(), 0)
        .ok_or_else(|| PdfError::Font("not a TrueType/OpenType font".into()))?;
    let pages = layout(&face, form);
    let total = pages.len();
    let mut doc = Document::new();
    let title = format!("{} {}", form.title, form.variant);
    let mut meta = Metadata::new()
        .title(title.trim().to_string())
        .creator("mamori".to_string())
        .language(
            if form.labels.item.is_ascii() {
                "en"
            } else {
                "ja"
            }
            .to_string(),
        );
    if !form.content_hash.is_empty() {
        meta = meta.document_id(form.content_hash.clone());
    }
    doc.set_metadata(meta);
    let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
        .ok_or_else(|| PdfError::Render("page size".into()))?;
    for (i, ops) in pages.iter().enumerate() {
        let mut page = doc.start_page_with(settings.clone());
        let mut surface = page.surface();
        let foot = footer(&face, form, i + 1, total);
        for op in ops.iter().chain(foot.iter()) {
            draw(&mut surface, &kfont, &face, op);
        }
        surface.finish();
        page.finish();
    }
    doc.finish().map_err(|e| PdfError::Render(e.to_string()))
}
