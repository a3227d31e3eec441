//! The decoded sheet (`Table`), the input caps (`Limits`), and the shaping both readers share:
//! trimming, skipping empty rows, the header row, ragged-row diagnostics and the caps.

use crate::error::{Diagnostic, IngestError, codes};
use crate::text::TextEncoding;
use std::collections::BTreeMap;

/// Largest input accepted, in bytes (50 MB).
pub const MAX_INPUT_BYTES: usize = 50 * 1_000_000;
/// Most data rows accepted (the header row not counted).
pub const MAX_ROWS: usize = 200_000;
/// Most columns accepted.
pub const MAX_COLUMNS: usize = 200;
/// Longest cell accepted, in bytes of UTF-8 (32 KB).
pub const MAX_CELL_BYTES: usize = 32 * 1024;

/// Input caps. `Limits::default()` holds the `MAX_*` constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_input_bytes: usize,
    pub max_rows: usize,
    pub max_columns: usize,
    pub max_cell_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: MAX_INPUT_BYTES,
            max_rows: MAX_ROWS,
            max_columns: MAX_COLUMNS,
            max_cell_bytes: MAX_CELL_BYTES,
        }
    }
}

impl Limits {
    pub(crate) fn check_size(&self, bytes: &[u8]) -> Result<(), IngestError> {
        if bytes.len() > self.max_input_bytes {
            return Err(IngestError::TooLarge {
                size: bytes.len(),
                limit: self.max_input_bytes,
            });
        }
        Ok(())
    }
}

/// What a table was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceFormat {
    Csv {
        encoding: TextEncoding,
        delimiter: u8,
    },
    Xlsx {
        sheet: String,
    },
}

/// One data row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// 1-based spreadsheet row number, as Excel shows it (the header row is usually 1).
    pub line: usize,
    /// Trimmed cells, exactly one per header (missing cells are empty strings).
    pub cells: Vec<String>,
}

impl Row {
    /// The cell under header `index`, empty when there is none.
    pub fn get(&self, index: usize) -> &str {
        self.cells.get(index).map_or("", String::as_str)
    }
}

/// A decoded sheet: the first non-empty row is the header, fully empty rows are skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub format: SourceFormat,
    /// Spreadsheet row of the header.
    pub header_line: usize,
    /// Trimmed header texts; trailing empty headers are dropped.
    pub headers: Vec<String>,
    pub rows: Vec<Row>,
    /// Findings that did not stop the decoding (ragged rows, error cells, duplicate headers).
    pub diagnostics: Vec<Diagnostic>,
}

impl Table {
    /// Index of the header with this text (compared after trimming).
    pub fn column_index(&self, header: &str) -> Option<usize> {
        let header = header.trim();
        self.headers.iter().position(|h| h == header)
    }
}

/// Spreadsheet column letters for a 0-based index: 0 → `A`, 25 → `Z`, 26 → `AA`.
pub fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(char::from(b'A' + u8::try_from(rem).unwrap_or(0)));
        n = (n - 1) / 26;
    }
    out.iter().rev().collect()
}

/// Builds a `Table` row by row.
pub(crate) struct Builder {
    limits: Limits,
    header_line: usize,
    headers: Option<Vec<String>>,
    /// Number of raw fields in the header row (CSV), to spot short rows.
    header_fields: usize,
    rows: Vec<Row>,
    diagnostics: Vec<Diagnostic>,
    /// Error cells reported by the reader: (line, column index, text).
    cell_errors: BTreeMap<(usize, usize), String>,
}

impl Builder {
    pub(crate) fn new(limits: Limits) -> Self {
        Builder {
            limits,
            header_line: 0,
            headers: None,
            header_fields: 0,
            rows: Vec::new(),
            diagnostics: Vec::new(),
            cell_errors: BTreeMap::new(),
        }
    }

    /// Marks a cell as holding a spreadsheet error value (`#N/A`…).
    pub(crate) fn cell_error(&mut self, line: usize, column: usize, text: String) {
        self.cell_errors.insert((line, column), text);
    }

    fn column_name(&self, index: usize) -> String {
        match self.headers.as_ref().and_then(|h| h.get(index)) {
            Some(h) if !h.is_empty() => h.clone(),
            _ => column_letter(index),
        }
    }

    /// Adds one raw row. `check_short` reports rows with fewer fields than the header (CSV).
    pub(crate) fn push(
        &mut self,
        line: usize,
        raw: Vec<String>,
        check_short: bool,
    ) -> Result<(), IngestError> {
        let fields = raw.len();
        let mut cells = Vec::with_capacity(fields);
        for (i, cell) in raw.into_iter().enumerate() {
            if cell.len() > self.limits.max_cell_bytes {
                return Err(IngestError::CellTooLarge {
                    line,
                    column: column_letter(i),
                    limit: self.limits.max_cell_bytes,
                });
            }
            let trimmed = cell.trim();
            cells.push(if trimmed.len() == cell.len() {
                cell
            } else {
                trimmed.to_string()
            });
        }
        let width = cells
            .iter()
            .rposition(|c| !c.is_empty())
            .map_or(0, |p| p + 1);
        if width == 0 {
            return Ok(());
        }
        if width > self.limits.max_columns {
            return Err(IngestError::TooManyColumns {
                line,
                count: width,
                limit: self.limits.max_columns,
            });
        }
        cells.truncate(width);
        let Some(header_count) = self.headers.as_ref().map(Vec::len) else {
            self.set_headers(line, cells, fields);
            return Ok(());
        };
        if self.rows.len() >= self.limits.max_rows {
            return Err(IngestError::TooManyRows {
                line,
                limit: self.limits.max_rows,
            });
        }
        if width > header_count {
            self.diagnostics.push(Diagnostic::new(
                line,
                Some(column_letter(header_count)),
                codes::EXTRA_CELLS,
                "見出しのない列に値があります（この値は読み込まれません）",
                "a value in a column without a header (it is not read)",
            ));
            cells.truncate(header_count);
        } else if check_short && fields < self.header_fields {
            self.diagnostics.push(Diagnostic::new(
                line,
                None,
                codes::MISSING_CELLS,
                format!(
                    "列の数が見出しより少なくなっています（{fields}列、見出しは{}列）",
                    self.header_fields
                ),
                format!(
                    "fewer fields ({fields}) than the header row ({})",
                    self.header_fields
                ),
            ));
        }
        cells.resize(header_count, String::new());
        self.rows.push(Row { line, cells });
        Ok(())
    }

    fn set_headers(&mut self, line: usize, headers: Vec<String>, fields: usize) {
        for (i, h) in headers.iter().enumerate() {
            let first = headers.iter().position(|x| x == h);
            if !h.is_empty() && first.is_some_and(|f| f < i) {
                self.diagnostics.push(Diagnostic::new(
                    line,
                    Some(h.clone()),
                    codes::DUPLICATE_HEADER,
                    format!("見出し「{h}」が重複しています（{}列）", column_letter(i)),
                    format!("header {h:?} appears twice (column {})", column_letter(i)),
                ));
            }
        }
        self.header_line = line;
        self.header_fields = fields;
        self.headers = Some(headers);
    }

    pub(crate) fn finish(mut self, format: SourceFormat) -> Result<Table, IngestError> {
        if self.headers.is_none() {
            return Err(IngestError::Empty);
        }
        for ((line, column), text) in std::mem::take(&mut self.cell_errors) {
            let name = self.column_name(column);
            self.diagnostics.push(Diagnostic::new(
                line,
                Some(name),
                codes::CELL_ERROR,
                format!("セルがエラー値（{text}）になっています"),
                format!("the cell holds the error value {text}"),
            ));
        }
        self.diagnostics.sort_by_key(|d| d.line);
        Ok(Table {
            format,
            header_line: self.header_line,
            headers: self.headers.unwrap_or_default(),
            rows: self.rows,
            diagnostics: self.diagnostics,
        })
    }
}
