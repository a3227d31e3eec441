//! Server-rendered SVG charts for the dashboard.
//!
//! Pure and dependency-free: every function takes plain values and returns one complete,
//! self-contained `<svg>` element as a `String`, ready to be placed inside a `.chart` box of
//! the web UI or a print view.
//!
//! - Accessible: the root carries `role="img"`, an `aria-label` and a `<title>` (the chart
//!   title), and a `<desc>` that lists every label with its value, so a screen reader gets
//!   the numbers and not only the picture.
//! - Scalable: a `viewBox` and `width="100%"`; the height follows from the aspect ratio.
//! - Themed by the stylesheet: no colour is written into the markup. Shapes carry classes
//!   (`series-0` … `series-5`, `tone-good`, `tone-warn`, `tone-bad`, `tone-neutral`, and the
//!   structural `track`, `axis`, `label`, `value`, `legend`, `empty`, `bar`, `column`,
//!   `slice`, `swatch`, `total`) that `crates/server/assets/mamori.css` colours.
//! - Safe: all text passed in is XML-escaped ([`escape`]).
//! - Deterministic: the same input gives byte-identical output; coordinates are written with
//!   at most two decimals.
//!
//! The charts never invent words: titles, labels and the empty-state text come from the
//! caller (the message catalog), so the output is in whatever language the page is in.

use std::f64::consts::TAU;
use std::fmt::Write as _;

/// Width of every chart's `viewBox`, in user units. Chosen so that text stays legible when a
/// chart is shown in a narrow dashboard card (about 300 px wide) and not oversized in a wide
/// one (the stylesheet caps the width).
const WIDTH: f64 = 360.0;

/// How a bar, column or slice is coloured: a semantic tone, or one of six series colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Tone {
    /// Fine / done / passed (`tone-good`).
    Good,
    /// Needs attention soon (`tone-warn`).
    Warn,
    /// Failing / overdue / dangerous (`tone-bad`).
    Bad,
    /// No judgement (`tone-neutral`).
    #[default]
    Neutral,
    /// The n-th categorical colour, `series-0` … `series-5` (taken modulo 6).
    Series(u8),
}

impl Tone {
    /// How many distinct series colours the stylesheet defines.
    pub const SERIES_COUNT: u8 = 6;

    /// The series tone for the `index`-th item of a list (wraps after six).
    pub fn series(index: usize) -> Tone {
        let n = index % usize::from(Self::SERIES_COUNT);
        Tone::Series(u8::try_from(n).unwrap_or(0))
    }

    /// The CSS class that colours shapes of this tone.
    pub fn class(self) -> &'static str {
        match self {
            Tone::Good => "tone-good",
            Tone::Warn => "tone-warn",
            Tone::Bad => "tone-bad",
            Tone::Neutral => "tone-neutral",
            Tone::Series(n) => match n % Self::SERIES_COUNT {
                0 => "series-0",
                1 => "series-1",
                2 => "series-2",
                3 => "series-3",
                4 => "series-4",
                _ => "series-5",
            },
        }
    }
}

/// One labelled value: a bar of a bar chart, a column of a column chart or a donut slice.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bar {
    /// What the value counts, as the user reads it (e.g. 「重大」, 「〜30日」).
    pub label: String,
    /// The count.
    pub value: u64,
    /// Its colour.
    pub tone: Tone,
}

impl Bar {
    /// Shorthand constructor.
    pub fn new(label: impl Into<String>, value: u64, tone: Tone) -> Self {
        Bar {
            label: label.into(),
            value,
            tone,
        }
    }
}

/// Escapes text for XML element content and attribute values.
///
/// `&`, `<`, `>`, `"` and `'` become entities; tabs and line breaks become spaces (labels
/// are one line); characters that XML 1.0 does not allow at all (other control characters,
/// U+FFFE, U+FFFF) become U+FFFD, so the output is always well-formed.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// Formats a count with thousands separators: `12345` → `12,345`.
pub fn format_count(n: u128) -> String {
    let digits = n.to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .filter_map(|group| std::str::from_utf8(group).ok())
        .collect();
    groups.join(",")
}

/// Horizontal bar chart: one row per bar, label at the left, value at the right, bars scaled
/// to the largest value over a light `track`.
///
/// An empty `bars` shows `empty_text` instead. When every value is zero the rows are still
/// drawn (with empty tracks and `0`), because "zero of everything" is information.
pub fn bar_chart(title: &str, bars: &[Bar], empty_text: &str) -> String {
    const PAD: f64 = 8.0;
    const ROW: f64 = 34.0;
    const BAR_H: f64 = 18.0;
    const LABEL_X: f64 = 0.0;
    const LABEL_W: f64 = 108.0;
    const BAR_X: f64 = 116.0;
    const VALUE_X: f64 = WIDTH - 2.0;
    const FONT: f64 = 15.0;

    if bars.is_empty() {
        return empty_svg("chart-bar", title, empty_text);
    }
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0);
    let value_w = bars
        .iter()
        .map(|b| text_width(&format_count(u128::from(b.value)), FONT))
        .fold(0.0, f64::max);
    // Keep at least a third of the width for the bars, even with enormous numbers.
    let bar_w = (VALUE_X - value_w - 10.0 - BAR_X).max((WIDTH - BAR_X) / 3.0);
    let height = PAD * 2.0 + ROW * bars.len() as f64;

    let mut out = String::new();
    open_svg(&mut out, "chart-bar", title, height, &data_desc(bars));
    out.push_str("<g class=\"bars\">");
    for (i, bar) in bars.iter().enumerate() {
        let cy = PAD + ROW * i as f64 + ROW / 2.0;
        let top = cy - BAR_H / 2.0;
        let w = scaled(bar.value, max, bar_w);
        out.push_str("<g class=\"row\">");
        push_text(
            &mut out,
            (LABEL_X, cy),
            TextStyle::new("label", "start", FONT),
            &bar.label,
            Some(LABEL_W),
        );
        let _ = write!(
            out,
            r#"<rect class="track" x="{}" y="{}" width="{}" height="{}" rx="3"/>"#,
            num(BAR_X),
            num(top),
            num(bar_w),
            num(BAR_H)
        );
        if w > 0.0 {
            let _ = write!(
                out,
                r#"<rect class="bar {}" x="{}" y="{}" width="{}" height="{}" rx="3"/>"#,
                bar.tone.class(),
                num(BAR_X),
                num(top),
                num(w),
                num(BAR_H)
            );
        }
        push_text(
            &mut out,
            (VALUE_X, cy),
            TextStyle::new("value", "end", FONT),
            &format_count(u128::from(bar.value)),
            None,
        );
        out.push_str("</g>");
    }
    out.push_str("</g>");
    let _ = write!(
        out,
        r#"<line class="axis" x1="{x}" y1="{}" x2="{x}" y2="{}"/>"#,
        num(PAD),
        num(height - PAD),
        x = num(BAR_X)
    );
    out.push_str("</svg>");
    out
}

/// A mark on a timeline: a label at a position between 0 (start) and 1 (end).
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineMark {
    pub label: String,
    /// 0.0 at the first tick, 1.0 at the end of the last; clamped.
    pub at: f64,
    pub tone: Tone,
}

/// Timeline: a horizontal axis with evenly spaced `ticks` (months of a fiscal year), a `today`
/// line, and one dot per mark with its label, stacked in lanes so that close marks do not
/// overlap. An empty `marks` shows `empty_text` under the axis.
pub fn timeline_chart(
    title: &str,
    ticks: &[String],
    today: Option<f64>,
    today_label: &str,
    marks: &[TimelineMark],
    empty_text: &str,
) -> String {
    const LEFT: f64 = 10.0;
    const RIGHT: f64 = WIDTH - 10.0;
    const AXIS_Y: f64 = 30.0;
    const LANE: f64 = 22.0;
    const FONT: f64 = 12.0;
    let span = RIGHT - LEFT;
    let x_of = |at: f64| LEFT + span * at.clamp(0.0, 1.0);
    // Lanes: a mark goes into the first lane whose last label ends before it starts.
    let mut lanes: Vec<f64> = Vec::new();
    let mut placed: Vec<(f64, usize, &TimelineMark)> = Vec::new();
    let mut sorted: Vec<&TimelineMark> = marks.iter().collect();
    sorted.sort_by(|a, b| a.at.total_cmp(&b.at));
    for m in sorted {
        let x = x_of(m.at);
        let w = text_width(&m.label, FONT) + 14.0;
        let lane = match lanes.iter().position(|end| *end < x) {
            Some(i) => i,
            None => {
                lanes.push(f64::MIN);
                lanes.len() - 1
            }
        };
        if let Some(end) = lanes.get_mut(lane) {
            *end = x + w;
        }
        placed.push((x, lane, m));
    }
    let rows = lanes.len().max(1) as f64;
    let height = AXIS_Y + 14.0 + rows * LANE + 8.0;
    let desc: Vec<Bar> = marks
        .iter()
        .map(|m| Bar::new(m.label.clone(), 0, m.tone))
        .collect();
    let mut out = String::new();
    open_svg(&mut out, "chart-timeline", title, height, &data_desc(&desc));
    let _ = write!(
        out,
        r#"<line class="axis" x1="{}" y1="{y}" x2="{}" y2="{y}"/>"#,
        num(LEFT),
        num(RIGHT),
        y = num(AXIS_Y)
    );
    let n = ticks.len().max(1) as f64;
    for (i, t) in ticks.iter().enumerate() {
        let x = LEFT + span * (i as f64) / n;
        let _ = write!(
            out,
            r#"<line class="tick" x1="{x}" y1="{}" x2="{x}" y2="{}"/>"#,
            num(AXIS_Y - 4.0),
            num(AXIS_Y + 4.0),
            x = num(x)
        );
        push_text(
            &mut out,
            (x + span / n / 2.0, AXIS_Y - 12.0),
            TextStyle::new("tick-label", "middle", 11.0),
            t,
            Some(span / n),
        );
    }
    if let Some(at) = today {
        let x = x_of(at);
        let _ = write!(
            out,
            r#"<line class="today" x1="{x}" y1="{}" x2="{x}" y2="{}"/>"#,
            num(AXIS_Y - 6.0),
            num(height - 4.0),
            x = num(x)
        );
        push_text(
            &mut out,
            (x + 3.0, height - 6.0),
            TextStyle::new("today-label", "start", 10.0),
            today_label,
            None,
        );
    }
    if placed.is_empty() {
        push_text(
            &mut out,
            (WIDTH / 2.0, AXIS_Y + 14.0 + LANE / 2.0),
            TextStyle::new("empty", "middle", 13.0),
            empty_text,
            Some(WIDTH - 16.0),
        );
    }
    for (x, lane, m) in placed {
        let y = AXIS_Y + 14.0 + LANE * lane as f64 + LANE / 2.0;
        let _ = write!(
            out,
            r#"<line class="stem" x1="{x}" y1="{}" x2="{x}" y2="{}"/><circle class="dot {}" cx="{x}" cy="{}" r="5"/>"#,
            num(AXIS_Y),
            num(y),
            m.tone.class(),
            num(y),
            x = num(x)
        );
        push_text(
            &mut out,
            (x + 8.0, y),
            TextStyle::new("label", "start", FONT),
            &m.label,
            None,
        );
    }
    out.push_str("</svg>");
    out
}

/// Donut chart: annular sectors computed with trigonometry, clockwise from twelve o'clock in
/// the order given, over a `track` ring; the total in the centre with `center_label` under
/// it; a legend at the right with each label, value and rounded percentage.
///
/// A slice holding the whole total is drawn as a full ring. Zero-valued slices get no arc but
/// keep their legend row. An empty `slices` shows `empty_text` alone; a zero total shows the
/// bare track with `empty_text` in the centre and the legend with zeros.
pub fn donut_chart(title: &str, slices: &[Bar], center_label: &str, empty_text: &str) -> String {
    const CX: f64 = 80.0;
    const OUTER: f64 = 72.0;
    const INNER: f64 = 46.0;
    const LEGEND_ROW: f64 = 26.0;
    const LEGEND_X: f64 = 170.0;
    const VALUE_X: f64 = WIDTH - 2.0;
    const FONT: f64 = 14.0;

    if slices.is_empty() {
        return empty_svg("chart-donut", title, empty_text);
    }
    let total: u128 = slices.iter().map(|s| u128::from(s.value)).sum();
    let legend_h = LEGEND_ROW * slices.len() as f64;
    let height = (OUTER * 2.0 + 16.0).max(legend_h + 16.0);
    let cy = height / 2.0;

    let mut out = String::new();
    open_svg(&mut out, "chart-donut", title, height, &data_desc(slices));
    out.push_str("<g class=\"donut\">");
    let _ = write!(
        out,
        r#"<path class="track" fill-rule="evenodd" d="{}"/>"#,
        ring_path(CX, cy, OUTER, INNER)
    );
    if total > 0 {
        let mut acc: u128 = 0;
        for slice in slices.iter().filter(|s| s.value > 0) {
            let value = u128::from(slice.value);
            let d = if value >= total {
                ring_path(CX, cy, OUTER, INNER)
            } else {
                let a0 = TAU * (acc as f64 / total as f64);
                acc += value;
                let a1 = TAU * (acc as f64 / total as f64);
                sector_path(CX, cy, OUTER, INNER, a0, a1)
            };
            let _ = write!(
                out,
                r#"<path class="slice {}" fill-rule="evenodd" d="{d}"/>"#,
                slice.tone.class()
            );
        }
        push_text(
            &mut out,
            (CX, cy - 7.0),
            TextStyle::new("value total", "middle", 22.0),
            &format_count(total),
            Some(INNER * 2.0 - 8.0),
        );
        push_text(
            &mut out,
            (CX, cy + 15.0),
            TextStyle::new("label", "middle", 12.0),
            center_label,
            Some(INNER * 2.0 - 10.0),
        );
    } else {
        push_text(
            &mut out,
            (CX, cy),
            TextStyle::new("empty", "middle", 13.0),
            empty_text,
            Some(INNER * 2.0 - 8.0),
        );
    }
    out.push_str("</g>");

    let value_texts: Vec<String> = slices
        .iter()
        .map(|s| legend_value(s.value, total))
        .collect();
    let value_w = value_texts
        .iter()
        .map(|t| text_width(t, FONT))
        .fold(0.0, f64::max);
    let label_w = (VALUE_X - value_w - 10.0 - (LEGEND_X + 20.0)).max(48.0);
    let first = (height - legend_h) / 2.0 + LEGEND_ROW / 2.0;
    out.push_str("<g class=\"legend\">");
    for (i, (slice, value_text)) in slices.iter().zip(&value_texts).enumerate() {
        let y = first + LEGEND_ROW * i as f64;
        let _ = write!(
            out,
            r#"<rect class="swatch {}" x="{}" y="{}" width="12" height="12" rx="2"/>"#,
            slice.tone.class(),
            num(LEGEND_X),
            num(y - 6.0)
        );
        push_text(
            &mut out,
            (LEGEND_X + 20.0, y),
            TextStyle::new("label", "start", FONT),
            &slice.label,
            Some(label_w),
        );
        push_text(
            &mut out,
            (VALUE_X, y),
            TextStyle::new("value", "end", FONT),
            value_text,
            None,
        );
    }
    out.push_str("</g></svg>");
    out
}

/// Vertical column chart: columns scaled to the largest value, the value above each column
/// and its (short) label under the baseline, e.g. 「〜30日」「〜90日」「それ以上」.
///
/// An empty `columns` shows `empty_text` instead; all-zero values draw the baseline, the
/// labels and `0` above each.
pub fn column_chart(title: &str, columns: &[Bar], empty_text: &str) -> String {
    const HEIGHT: f64 = 200.0;
    const PAD_X: f64 = 8.0;
    const TOP: f64 = 26.0;
    const BASE: f64 = 170.0;
    const LABEL_Y: f64 = 188.0;

    if columns.is_empty() {
        return empty_svg("chart-column", title, empty_text);
    }
    let max = columns.iter().map(|c| c.value).max().unwrap_or(0);
    let slot = (WIDTH - PAD_X * 2.0) / columns.len() as f64;
    let col_w = (slot * 0.6).min(44.0);
    // Twelve months still fit their 「10月」 under each column.
    let font = if slot < 40.0 { 11.0 } else { 13.0 };

    let mut out = String::new();
    open_svg(&mut out, "chart-column", title, HEIGHT, &data_desc(columns));
    out.push_str("<g class=\"columns\">");
    for (i, column) in columns.iter().enumerate() {
        let cx = PAD_X + slot * (i as f64 + 0.5);
        let h = scaled(column.value, max, BASE - TOP);
        out.push_str("<g class=\"col\">");
        if h > 0.0 {
            let _ = write!(
                out,
                r#"<rect class="column {}" x="{}" y="{}" width="{}" height="{}" rx="3"/>"#,
                column.tone.class(),
                num(cx - col_w / 2.0),
                num(BASE - h),
                num(col_w),
                num(h)
            );
        }
        push_text(
            &mut out,
            (cx, BASE - h - 10.0),
            TextStyle::new("value", "middle", font),
            &format_count(u128::from(column.value)),
            None,
        );
        push_text(
            &mut out,
            (cx, LABEL_Y),
            TextStyle::new("label", "middle", font),
            &column.label,
            Some(slot - 2.0),
        );
        out.push_str("</g>");
    }
    out.push_str("</g>");
    let _ = write!(
        out,
        r#"<line class="axis" x1="{}" y1="{y}" x2="{}" y2="{y}"/>"#,
        num(PAD_X),
        num(WIDTH - PAD_X),
        y = num(BASE)
    );
    out.push_str("</svg>");
    out
}

/// One slot of an [`hourly_chart`]: what arrived, what was refused, and an optional tick label
/// under it (e.g. the date at midnight).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Slot {
    pub good: u64,
    pub bad: u64,
    pub tick: Option<String>,
}

/// Many thin stacked columns on a time axis (a week of hours): accepted in `tone-good` with
/// refused on top in `tone-bad`, the largest total written at the top left, tick labels under
/// the slots that carry one. Empty slots leave a visible gap, which is the point.
pub fn hourly_chart(title: &str, slots: &[Slot], empty_text: &str) -> String {
    const HEIGHT: f64 = 150.0;
    const PAD_X: f64 = 4.0;
    const TOP: f64 = 20.0;
    const BASE: f64 = 124.0;
    const LABEL_Y: f64 = 141.0;

    let max = slots.iter().map(|s| s.good + s.bad).max().unwrap_or(0);
    if slots.is_empty() || max == 0 {
        return empty_svg("chart-hourly", title, empty_text);
    }
    let slot = (WIDTH - PAD_X * 2.0) / slots.len() as f64;
    let col_w = (slot * 0.8).max(0.5);
    let desc: Vec<Bar> = slots
        .iter()
        .filter_map(|s| s.tick.as_ref().map(|t| (t, s)))
        .map(|(t, s)| Bar::new(t.clone(), s.good + s.bad, Tone::Neutral))
        .collect();
    let mut out = String::new();
    open_svg(&mut out, "chart-hourly", title, HEIGHT, &data_desc(&desc));
    push_text(
        &mut out,
        (PAD_X, TOP - 8.0),
        TextStyle::new("value", "start", 11.0),
        &format_count(u128::from(max)),
        None,
    );
    out.push_str("<g class=\"columns\">");
    for (i, s) in slots.iter().enumerate() {
        let x = PAD_X + slot * i as f64 + (slot - col_w) / 2.0;
        let h_good = scaled(s.good, max, BASE - TOP);
        let h_bad = scaled(s.bad, max, BASE - TOP);
        if h_good > 0.0 {
            let _ = write!(
                out,
                r#"<rect class="column tone-good" x="{}" y="{}" width="{}" height="{}"/>"#,
                num(x),
                num(BASE - h_good),
                num(col_w),
                num(h_good)
            );
        }
        if h_bad > 0.0 {
            let _ = write!(
                out,
                r#"<rect class="column tone-bad" x="{}" y="{}" width="{}" height="{}"/>"#,
                num(x),
                num(BASE - h_good - h_bad),
                num(col_w),
                num(h_bad)
            );
        }
        if let Some(t) = &s.tick {
            let tx = PAD_X + slot * i as f64;
            let _ = write!(
                out,
                r#"<line class="axis" x1="{x}" y1="{}" x2="{x}" y2="{}"/>"#,
                num(BASE),
                num(BASE + 4.0),
                x = num(tx)
            );
            push_text(
                &mut out,
                (tx, LABEL_Y),
                TextStyle::new("label", "start", 10.0),
                t,
                None,
            );
        }
    }
    out.push_str("</g>");
    let _ = write!(
        out,
        r#"<line class="axis" x1="{}" y1="{y}" x2="{}" y2="{y}"/>"#,
        num(PAD_X),
        num(WIDTH - PAD_X),
        y = num(BASE)
    );
    out.push_str("</svg>");
    out
}

/// A small inline trend of `values` (no text but the accessible title): one thin column each,
/// for a table cell.
pub fn sparkline(title: &str, values: &[u64]) -> String {
    const W: f64 = 120.0;
    const H: f64 = 24.0;
    let max = values.iter().copied().max().unwrap_or(0);
    let title = escape(title);
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="sparkline" viewBox="0 0 {} {}" width="{}" height="{}" role="img" aria-label="{title}"><title>{title}</title>"#,
        num(W),
        num(H),
        num(W),
        num(H)
    );
    let _ = write!(
        out,
        r#"<line class="axis" x1="0" y1="{y}" x2="{}" y2="{y}"/>"#,
        num(W),
        y = num(H - 0.5)
    );
    if !values.is_empty() && max > 0 {
        let slot = W / values.len() as f64;
        for (i, v) in values.iter().enumerate() {
            let h = scaled(*v, max, H - 2.0);
            if h > 0.0 {
                let _ = write!(
                    out,
                    r#"<rect class="column tone-good" x="{}" y="{}" width="{}" height="{}"/>"#,
                    num(slot * i as f64),
                    num(H - 1.0 - h),
                    num((slot * 0.85).max(0.5)),
                    num(h)
                );
            }
        }
    }
    out.push_str("</svg>");
    out
}

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

/// Where a text sits relative to its point, and how it looks.
struct TextStyle {
    class: &'static str,
    anchor: &'static str,
    size: f64,
}

impl TextStyle {
    fn new(class: &'static str, anchor: &'static str, size: f64) -> Self {
        TextStyle {
            class,
            anchor,
            size,
        }
    }
}

/// Writes the root element, `<title>` and `<desc>`.
fn open_svg(out: &mut String, kind: &str, title: &str, height: f64, desc: &str) {
    let title = escape(title);
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg {kind}" viewBox="0 0 {} {}" width="100%" preserveAspectRatio="xMidYMid meet" role="img" aria-label="{title}"><title>{title}</title>"#,
        num(WIDTH),
        num(height)
    );
    if !desc.is_empty() {
        let _ = write!(out, "<desc>{}</desc>", escape(desc));
    }
}

/// A chart with nothing to draw: the title for assistive technology and the empty text.
fn empty_svg(kind: &str, title: &str, empty_text: &str) -> String {
    const HEIGHT: f64 = 96.0;
    let mut out = String::new();
    open_svg(&mut out, kind, title, HEIGHT, empty_text);
    push_text(
        &mut out,
        (WIDTH / 2.0, HEIGHT / 2.0),
        TextStyle::new("empty", "middle", 15.0),
        empty_text,
        Some(WIDTH - 16.0),
    );
    out.push_str("</svg>");
    out
}

/// Writes a one-line `<text>`, shortened with 「…」 to `max_width` if given; a shortened text
/// keeps the full one in a `<title>` (shown as a tooltip).
fn push_text(
    out: &mut String,
    (x, y): (f64, f64),
    style: TextStyle,
    content: &str,
    max_width: Option<f64>,
) {
    let (shown, cut) = match max_width {
        Some(w) => fit(content, w, style.size),
        None => (content.to_owned(), false),
    };
    let _ = write!(
        out,
        r#"<text class="{}" x="{}" y="{}" text-anchor="{}" dominant-baseline="central" font-size="{}">"#,
        style.class,
        num(x),
        num(y),
        style.anchor,
        num(style.size)
    );
    if cut {
        let _ = write!(out, "<title>{}</title>", escape(content));
    }
    let _ = write!(out, "{}</text>", escape(&shown));
}

/// "label: value; label: value" for the `<desc>`.
fn data_desc(items: &[Bar]) -> String {
    items
        .iter()
        .map(|b| format!("{}: {}", b.label, format_count(u128::from(b.value))))
        .collect::<Vec<_>>()
        .join("; ")
}

/// "12 (30%)" for a legend row; just "0" when there is no total to divide by.
fn legend_value(value: u64, total: u128) -> String {
    let count = format_count(u128::from(value));
    if total == 0 {
        return count;
    }
    let percent = (u128::from(value) * 100 + total / 2) / total;
    format!("{count} ({percent}%)")
}

/// `value / max` of `length`, at least 2 units for any non-zero value so it stays visible.
fn scaled(value: u64, max: u64, length: f64) -> f64 {
    if value == 0 || max == 0 {
        return 0.0;
    }
    (length * (value as f64 / max as f64)).max(2.0)
}

/// A full ring (for the track and a 100 % slice), to be filled with `fill-rule="evenodd"`.
fn ring_path(cx: f64, cy: f64, outer: f64, inner: f64) -> String {
    let circle = |r: f64| {
        format!(
            "M{} {}A{r} {r} 0 1 0 {} {}A{r} {r} 0 1 0 {} {}Z",
            num(cx - r),
            num(cy),
            num(cx + r),
            num(cy),
            num(cx - r),
            num(cy),
            r = num(r)
        )
    };
    format!("{}{}", circle(outer), circle(inner))
}

/// An annular sector from angle `a0` to `a1` (radians, clockwise from twelve o'clock).
fn sector_path(cx: f64, cy: f64, outer: f64, inner: f64, a0: f64, a1: f64) -> String {
    let point = |r: f64, a: f64| (num(cx + r * a.sin()), num(cy - r * a.cos()));
    let large = if a1 - a0 > TAU / 2.0 { 1 } else { 0 };
    let (ox0, oy0) = point(outer, a0);
    let (ox1, oy1) = point(outer, a1);
    let (ix1, iy1) = point(inner, a1);
    let (ix0, iy0) = point(inner, a0);
    let (ro, ri) = (num(outer), num(inner));
    format!(
        "M{ox0} {oy0}A{ro} {ro} 0 {large} 1 {ox1} {oy1}L{ix1} {iy1}A{ri} {ri} 0 {large} 0 {ix0} {iy0}Z"
    )
}

/// A coordinate with at most two decimals and no trailing zeros; `-0` and non-finite values
/// become `0`, so output never depends on float noise.
fn num(x: f64) -> String {
    if !x.is_finite() {
        return "0".to_owned();
    }
    let fixed = format!("{x:.2}");
    let trimmed = if fixed.contains('.') {
        fixed.trim_end_matches('0').trim_end_matches('.')
    } else {
        fixed.as_str()
    };
    if trimmed == "-0" {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Estimated advance of a character, in ems: full-width (CJK, kana, full-width forms) 1.0,
/// half-width katakana 0.5, anything else 0.6. Good enough to decide where to cut a label.
fn char_em(c: char) -> f64 {
    match u32::from(c) {
        0xFF61..=0xFF9F => 0.5,
        0x1100..=0x115F
        | 0x2026
        | 0x2E80..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x20000..=0x3FFFD => 1.0,
        _ => 0.6,
    }
}

/// Estimated width of `text` at `font_size`, in user units.
fn text_width(text: &str, font_size: f64) -> f64 {
    text.chars().map(char_em).sum::<f64>() * font_size
}

/// `text` as it fits in `max_width` user units at `font_size`: unchanged, or cut with 「…」.
/// The flag says whether it was cut.
fn fit(text: &str, max_width: f64, font_size: f64) -> (String, bool) {
    if text_width(text, font_size) <= max_width {
        return (text.to_owned(), false);
    }
    let budget = max_width / font_size - char_em('…');
    let mut used = 0.0;
    let mut out = String::new();
    for c in text.chars() {
        let w = char_em(c);
        if used + w > budget {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    (out, true)
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Bar> {
        vec![
            Bar::new("重大", 3, Tone::Bad),
            Bar::new("警告", 12, Tone::Warn),
            Bar::new("正常", 1_234, Tone::Good),
            Bar::new("その他", 0, Tone::Neutral),
        ]
    }

    /// Well-formed enough: one root, balanced `<g>`, `<text>`, `<title>`, no stray numbers.
    fn assert_well_formed(svg: &str) {
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.ends_with("</svg>"), "{svg}");
        assert_eq!(svg.matches("<svg").count(), 1, "{svg}");
        assert_eq!(svg.matches("</svg>").count(), 1, "{svg}");
        let open_g = svg.matches("<g>").count() + svg.matches("<g ").count();
        assert_eq!(open_g, svg.matches("</g>").count(), "{svg}");
        assert_eq!(
            svg.matches("<text ").count(),
            svg.matches("</text>").count(),
            "{svg}"
        );
        assert_eq!(
            svg.matches("<title>").count(),
            svg.matches("</title>").count(),
            "{svg}"
        );
        assert!(svg.contains(r#"role="img""#), "{svg}");
        assert!(svg.contains(r#"width="100%""#), "{svg}");
        assert!(svg.contains("viewBox=\"0 0 360 "), "{svg}");
        assert!(svg.contains("aria-label=\""), "{svg}");
        for bad in ["NaN", "inf", "fill=\"#", "style="] {
            assert!(!svg.contains(bad), "{bad} in {svg}");
        }
        // Every `<` starts a tag we wrote, every `&` an entity: no raw text slipped through.
        for (i, _) in svg.match_indices('&') {
            let rest = &svg[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]
                    .iter()
                    .any(|e| rest.starts_with(e)),
                "raw & at {i} in {svg}"
            );
        }
    }

    #[test]
    fn escape_replaces_markup_and_invalid_characters() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
        assert_eq!(escape("&amp;"), "&amp;amp;");
        assert_eq!(escape("行1\n行2\t\r"), "行1 行2  ");
        assert_eq!(
            escape("x\u{0}y\u{1b}z\u{FFFF}"),
            "x\u{FFFD}y\u{FFFD}z\u{FFFD}"
        );
        assert_eq!(escape("守り mamori 〜30日 😀"), "守り mamori 〜30日 😀");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn text_from_the_caller_is_escaped_everywhere() {
        let evil = "<script>alert('x')</script>&";
        let bars = vec![Bar::new(evil, 1, Tone::Bad)];
        for svg in [
            bar_chart(evil, &bars, evil),
            donut_chart(evil, &bars, evil, evil),
            column_chart(evil, &bars, evil),
            bar_chart(evil, &[], evil),
            donut_chart(evil, &[], evil, evil),
            column_chart(evil, &[], evil),
        ] {
            assert!(!svg.contains("<script"), "{svg}");
            assert!(svg.contains("&lt;script&gt;"), "{svg}");
            assert_well_formed(&svg);
        }
    }

    #[test]
    fn tones_map_to_classes() {
        assert_eq!(Tone::Good.class(), "tone-good");
        assert_eq!(Tone::Warn.class(), "tone-warn");
        assert_eq!(Tone::Bad.class(), "tone-bad");
        assert_eq!(Tone::Neutral.class(), "tone-neutral");
        assert_eq!(Tone::Series(0).class(), "series-0");
        assert_eq!(Tone::Series(5).class(), "series-5");
        assert_eq!(Tone::Series(6).class(), "series-0");
        assert_eq!(Tone::Series(255).class(), "series-3");
        assert_eq!(Tone::series(7), Tone::Series(1));
        assert_eq!(Tone::default(), Tone::Neutral);
    }

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(1_000), "1,000");
        assert_eq!(format_count(1_234_567), "1,234,567");
        assert_eq!(
            format_count(u128::from(u64::MAX)),
            "18,446,744,073,709,551,615"
        );
    }

    #[test]
    fn numbers_are_fixed_precision() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(1.5), "1.5");
        assert_eq!(num(1.005_1), "1.01");
        assert_eq!(num(-0.001), "0");
        assert_eq!(num(f64::NAN), "0");
        assert_eq!(num(f64::INFINITY), "0");
        assert_eq!(num(400.0), "400");
    }

    #[test]
    fn long_labels_are_cut_with_the_full_text_as_tooltip() {
        let (short, cut) = fit("〜30日", 100.0, 13.0);
        assert_eq!((short.as_str(), cut), ("〜30日", false));
        let (short, cut) = fit("オンライン資格確認端末", 100.0, 14.0);
        assert!(cut);
        assert!(short.ends_with('…'));
        assert!(text_width(&short, 14.0) <= 100.0);

        let bars = vec![Bar::new(
            "オンライン資格確認端末とその周辺機器",
            5,
            Tone::Series(2),
        )];
        let svg = bar_chart("機器", &bars, "データなし");
        assert!(svg.contains("<title>オンライン資格確認端末とその周辺機器</title>"));
        assert_well_formed(&svg);
    }

    #[test]
    fn empty_input_shows_the_empty_text() {
        for svg in [
            bar_chart("インシデント", &[], "データなし"),
            donut_chart("インシデント", &[], "合計", "データなし"),
            column_chart("インシデント", &[], "データなし"),
        ] {
            assert_well_formed(&svg);
            assert!(svg.contains(r#"class="empty""#), "{svg}");
            assert!(svg.contains(">データなし</text>"), "{svg}");
            assert!(!svg.contains("<rect"), "{svg}");
            assert!(!svg.contains("<path"), "{svg}");
        }
    }

    #[test]
    fn all_zero_values_draw_rows_without_bars() {
        let zeros = vec![
            Bar::new("重大", 0, Tone::Bad),
            Bar::new("軽微", 0, Tone::Good),
        ];
        let svg = bar_chart("インシデント", &zeros, "データなし");
        assert_well_formed(&svg);
        assert_eq!(svg.matches(r#"class="track""#).count(), 2);
        assert!(!svg.contains("class=\"bar "));
        assert_eq!(svg.matches(">0</text>").count(), 2);

        let svg = column_chart("期限", &zeros, "データなし");
        assert_well_formed(&svg);
        assert!(!svg.contains("class=\"column "));
        assert!(svg.contains(">重大</text>"));

        let svg = donut_chart("内訳", &zeros, "件", "データなし");
        assert_well_formed(&svg);
        assert!(svg.contains(r#"class="track""#));
        assert!(!svg.contains("class=\"slice "));
        assert!(svg.contains(">データなし</text>"));
        assert!(!svg.contains("%)"));
        assert_eq!(svg.matches("class=\"swatch ").count(), 2);
    }

    #[test]
    fn hourly_chart_stacks_refused_on_accepted_and_shows_gaps() {
        let mut slots = vec![Slot::default(); 24];
        slots[0] = Slot {
            good: 10,
            bad: 0,
            tick: Some("12/01".into()),
        };
        slots[5] = Slot {
            good: 5,
            bad: 5,
            tick: None,
        };
        let svg = hourly_chart("t", &slots, "none");
        assert_eq!(svg.matches("tone-good").count(), 2);
        assert_eq!(svg.matches("tone-bad").count(), 1);
        assert!(svg.contains("12/01"));
        assert!(svg.contains(">10<"));
        assert!(hourly_chart("t", &vec![Slot::default(); 3], "none").contains("none"));
        let spark = sparkline("s", &[0, 3, 0, 6]);
        assert_eq!(spark.matches("<rect").count(), 2);
    }

    #[test]
    fn bar_chart_scales_to_the_largest_value() {
        let svg = bar_chart("重要度別", &sample(), "データなし");
        assert_well_formed(&svg);
        assert_eq!(svg.matches("class=\"bar ").count(), 3); // the zero bar is not drawn
        assert!(svg.contains("class=\"bar tone-bad\""));
        assert!(svg.contains(">1,234</text>"));
        assert!(svg.contains("<desc>重大: 3; 警告: 12; 正常: 1,234; その他: 0</desc>"));
        assert!(svg.contains(r#"class="axis""#));
        // The tiny value still shows a sliver.
        assert!(svg.contains(r#"x="116" y="16" width="2" "#), "{svg}");
    }

    #[test]
    fn donut_with_one_slice_is_a_full_ring() {
        let svg = donut_chart(
            "パスワード",
            &[
                Bar::new("適合", 7, Tone::Good),
                Bar::new("不適合", 0, Tone::Bad),
            ],
            "アカウント",
            "データなし",
        );
        assert_well_formed(&svg);
        assert_eq!(svg.matches("class=\"slice ").count(), 1);
        // Drawn as two full circles like the track, not as a degenerate arc.
        let track = svg
            .split("class=\"track\" fill-rule=\"evenodd\" d=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap();
        assert!(svg.contains(&format!(
            "class=\"slice tone-good\" fill-rule=\"evenodd\" d=\"{track}\""
        )));
        assert!(svg.contains(">7 (100%)</text>"));
        assert!(svg.contains(">0 (0%)</text>"));
        assert!(svg.contains(">アカウント</text>"));
    }

    #[test]
    fn donut_arcs_follow_the_values() {
        let svg = donut_chart(
            "内訳",
            &[
                Bar::new("A", 1, Tone::Series(0)),
                Bar::new("B", 1, Tone::Series(1)),
                Bar::new("C", 2, Tone::Series(2)),
            ],
            "合計",
            "データなし",
        );
        assert_well_formed(&svg);
        assert_eq!(svg.matches("class=\"slice ").count(), 3);
        // Height 160, so the centre is (80, 80); A runs from 12 o'clock to 3 o'clock.
        assert!(
            svg.contains("d=\"M80 8A72 72 0 0 1 152 80L126 80A46 46 0 0 0 80 34Z\""),
            "{svg}"
        );
        // C is the half from 6 o'clock back to 12 (not a large arc: exactly half).
        assert!(
            svg.contains("d=\"M80 152A72 72 0 0 1 80 8L80 34A46 46 0 0 0 80 126Z\""),
            "{svg}"
        );
        assert!(svg.contains(">4</text>"));
        assert!(svg.contains(">2 (50%)</text>"));
        assert!(svg.contains(">1 (25%)</text>"));

        let big = donut_chart(
            "内訳",
            &[Bar::new("A", 3, Tone::Good), Bar::new("B", 1, Tone::Bad)],
            "合計",
            "データなし",
        );
        assert!(big.contains(" 0 1 1 "), "large-arc flag for 75%: {big}");
    }

    #[test]
    fn column_chart_puts_labels_under_columns() {
        let columns = vec![
            Bar::new("〜30日", 4, Tone::Good),
            Bar::new("〜90日", 2, Tone::Warn),
            Bar::new("それ以上", 1, Tone::Bad),
        ];
        let svg = column_chart("最終ログオン", &columns, "データなし");
        assert_well_formed(&svg);
        assert_eq!(svg.matches("class=\"column ").count(), 3);
        assert!(svg.contains(">〜30日</text>"));
        assert!(svg.contains(">それ以上</text>"));
        // The largest column fills the plot height, from y=26 to the baseline at 170.
        assert!(svg.contains(r#"y="26" width="44" height="144""#), "{svg}");
    }

    #[test]
    fn output_is_deterministic() {
        let bars = sample();
        let many: Vec<Bar> = (0..13)
            .map(|i| {
                Bar::new(
                    format!("{}月", i + 1),
                    (i * 37 % 11) as u64,
                    Tone::series(i),
                )
            })
            .collect();
        for _ in 0..3 {
            assert_eq!(bar_chart("t", &bars, "e"), bar_chart("t", &bars, "e"));
            assert_eq!(
                donut_chart("t", &many, "c", "e"),
                donut_chart("t", &many, "c", "e")
            );
            assert_eq!(column_chart("t", &many, "e"), column_chart("t", &many, "e"));
        }
        assert_well_formed(&donut_chart("t", &many, "c", "e"));
        assert_well_formed(&column_chart("t", &many, "e"));
    }

    #[test]
    fn huge_values_do_not_overflow() {
        let bars = vec![
            Bar::new("a", u64::MAX, Tone::Good),
            Bar::new("b", u64::MAX, Tone::Bad),
        ];
        for svg in [
            bar_chart("t", &bars, "e"),
            donut_chart("t", &bars, "c", "e"),
            column_chart("t", &bars, "e"),
        ] {
            assert_well_formed(&svg);
        }
        assert!(donut_chart("t", &bars, "c", "e").contains("(50%)"));
    }

    #[test]
    fn timeline_stacks_close_marks_and_draws_today() {
        let ticks: Vec<String> = ["4月", "5月", "6月"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mark = |l: &str, at| TimelineMark {
            label: l.to_string(),
            at,
            tone: Tone::Warn,
        };
        let svg = timeline_chart(
            "目標日",
            &ticks,
            Some(0.5),
            "今日",
            &[
                mark("2-②", 0.2),
                mark("2-③", 0.21),
                mark("4-①", 0.9),
                mark("<x>", 7.0),
            ],
            "なし",
        );
        assert_well_formed(&svg);
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(svg.contains("class=\"today\""));
        assert!(svg.contains("&lt;x&gt;"), "labels are escaped");
        // Two marks at nearly the same place go to different lanes (different heights).
        let ys: Vec<&str> = svg
            .split("<circle")
            .skip(1)
            .filter_map(|c| c.split("cy=\"").nth(1)?.split('"').next())
            .collect();
        assert_ne!(ys.first(), ys.get(1));
        let empty = timeline_chart("目標日", &ticks, None, "今日", &[], "なし");
        assert!(empty.contains("なし") && !empty.contains("<circle"));
        assert_well_formed(&empty);
    }
}
