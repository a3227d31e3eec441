//! XLSX workbook → `Table` with calamine, streaming the sheet's cells so the caps hold before
//! anything large is built.

use crate::error::IngestError;
use crate::table::{Builder, Limits, Row, SourceFormat, Table, column_letter};
use calamine::{DataRef, ExcelDateTime, Reader, Xlsx, XlsxError};
use std::collections::BTreeMap;
use std::io::Cursor;

/// The most a workbook may expand to when unzipped (its declared sizes; the zip reader refuses
/// entries that grow past what they declare).
pub const MAX_UNZIPPED_BYTES: u64 = 512 * 1024 * 1024;

/// Reads one sheet (the first when `sheet` is `None`) with the default caps.
pub fn read_xlsx(bytes: &[u8], sheet: Option<&str>) -> Result<Table, IngestError> {
    read_xlsx_with(bytes, sheet, &Limits::default())
}

/// Reads one sheet of an XLSX workbook. Cells: text as-is, integral numbers without `.0`,
/// other numbers with Excel's 15 significant digits, date cells as `YYYY-MM-DD` (with
/// ` HH:MM:SS` when they carry a time), times as `HH:MM:SS`, booleans as `TRUE`/`FALSE`, error
/// values (`#N/A`…) as their text plus a diagnostic. Formulas give their cached value.
pub fn read_xlsx_with(
    bytes: &[u8],
    sheet: Option<&str>,
    limits: &Limits,
) -> Result<Table, IngestError> {
    let cells = sheet_cells(bytes, sheet, limits)?;
    let mut builder = Builder::new(*limits);
    for (line, column, text) in cells.error_cells {
        builder.cell_error(line, column, text);
    }
    for (line, raw) in cells.rows {
        builder.push(line, raw, false)?;
    }
    builder.finish(SourceFormat::Xlsx { sheet: cells.name })
}

/// A sheet as laid out, for forms whose rows are not one table under one header (a printed
/// checklist read back): every non-empty row with its cells by column, no header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid {
    pub sheet: String,
    /// Rows in sheet order; each row's cells run from column A to its last non-empty cell.
    pub rows: Vec<Row>,
}

impl Grid {
    /// The cell at 1-based spreadsheet `line` and 0-based `column`, empty when blank.
    pub fn cell(&self, line: usize, column: usize) -> &str {
        self.rows
            .iter()
            .find(|r| r.line == line)
            .map_or("", |r| r.get(column))
    }
}

/// Reads one sheet (the first when `sheet` is `None`) as a [`Grid`], with the same caps and cell
/// texts as [`read_xlsx_with`].
pub fn read_xlsx_grid(
    bytes: &[u8],
    sheet: Option<&str>,
    limits: &Limits,
) -> Result<Grid, IngestError> {
    let cells = sheet_cells(bytes, sheet, limits)?;
    Ok(Grid {
        sheet: cells.name,
        rows: cells
            .rows
            .into_iter()
            .map(|(line, cells)| Row { line, cells })
            .collect(),
    })
}

/// The non-empty cells of one sheet, by row.
struct SheetCells {
    name: String,
    rows: Vec<(usize, Vec<String>)>,
    /// Cells holding an error value (`#N/A`…): row, column, text.
    error_cells: Vec<(usize, usize, String)>,
}

fn sheet_cells(
    bytes: &[u8],
    sheet: Option<&str>,
    limits: &Limits,
) -> Result<SheetCells, IngestError> {
    limits.check_size(bytes)?;
    check_unzipped_size(bytes)?;
    let mut workbook = Xlsx::new(Cursor::new(bytes)).map_err(open_error)?;
    let names = workbook.sheet_names();
    let name = match sheet {
        Some(want) => {
            names
                .into_iter()
                .find(|n| n == want)
                .ok_or_else(|| IngestError::SheetNotFound {
                    name: want.to_string(),
                })?
        }
        None => names.into_iter().next().ok_or(IngestError::BadXlsx)?,
    };
    let mut rows: BTreeMap<usize, BTreeMap<usize, String>> = BTreeMap::new();
    let mut error_cells = Vec::new();
    {
        let mut cells = workbook
            .worksheet_cells_reader(&name)
            .map_err(|_| IngestError::BadXlsx)?;
        while let Some(cell) = cells.next_cell().map_err(|_| IngestError::BadXlsx)? {
            let (r, c) = cell.get_position();
            let line = usize::try_from(r).unwrap_or(usize::MAX).saturating_add(1);
            let column = usize::try_from(c).unwrap_or(usize::MAX);
            let text = match cell.get_value() {
                DataRef::Empty => continue,
                DataRef::Error(e) => {
                    let text = e.to_string();
                    error_cells.push((line, column, text.clone()));
                    text
                }
                v => cell_text(v),
            };
            if text.trim().is_empty() {
                continue;
            }
            if column >= limits.max_columns {
                return Err(IngestError::TooManyColumns {
                    line,
                    count: column.saturating_add(1),
                    limit: limits.max_columns,
                });
            }
            if text.len() > limits.max_cell_bytes {
                return Err(IngestError::CellTooLarge {
                    line,
                    column: column_letter(column),
                    limit: limits.max_cell_bytes,
                });
            }
            if !rows.contains_key(&line) && rows.len() > limits.max_rows {
                return Err(IngestError::TooManyRows {
                    line,
                    limit: limits.max_rows,
                });
            }
            rows.entry(line).or_default().insert(column, text);
        }
    }
    let rows = rows
        .into_iter()
        .map(|(line, cells)| {
            let width = cells.keys().next_back().map_or(0, |c| c + 1);
            let mut raw = vec![String::new(); width];
            for (c, text) in cells {
                if let Some(slot) = raw.get_mut(c) {
                    *slot = text.trim().to_string();
                }
            }
            (line, raw)
        })
        .collect();
    Ok(SheetCells {
        name,
        rows,
        error_cells,
    })
}

fn open_error(e: XlsxError) -> IngestError {
    match e {
        XlsxError::Password => IngestError::Encrypted,
        _ => IngestError::BadXlsx,
    }
}

/// Refuses a workbook whose parts declare more than `MAX_UNZIPPED_BYTES` in total.
fn check_unzipped_size(bytes: &[u8]) -> Result<(), IngestError> {
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        // Not a ZIP: calamine tells an encrypted workbook (an OLE file) from garbage.
        return Ok(());
    };
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let size = zip
            .by_index_raw(i)
            .map_err(|_| IngestError::BadXlsx)?
            .size();
        total = total.saturating_add(size);
        if total > MAX_UNZIPPED_BYTES {
            return Err(IngestError::TooLarge {
                size: usize::try_from(total).unwrap_or(usize::MAX),
                limit: usize::try_from(MAX_UNZIPPED_BYTES).unwrap_or(usize::MAX),
            });
        }
    }
    Ok(())
}

fn cell_text(v: &DataRef<'_>) -> String {
    match v {
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number(*f),
        DataRef::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        DataRef::DateTime(dt) => date_time(dt),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => e.to_string(),
        DataRef::Empty => String::new(),
    }
}

/// A number as Excel shows it in General format: 15 significant digits, no `.0`.
fn number(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    let rounded = format!("{f:.14e}").parse::<f64>().unwrap_or(f);
    if rounded.fract() == 0.0 && rounded.abs() < 1e15 {
        #[allow(clippy::cast_possible_truncation)]
        let i = rounded as i64;
        i.to_string()
    } else {
        rounded.to_string()
    }
}

fn date_time(dt: &ExcelDateTime) -> String {
    let serial = dt.as_f64();
    if dt.is_duration() || (0.0..1.0).contains(&serial) {
        #[allow(clippy::cast_possible_truncation)]
        let secs = (serial * 86_400.0).round() as i64;
        let sign = if secs < 0 { "-" } else { "" };
        let secs = secs.unsigned_abs();
        return format!(
            "{sign}{}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
    }
    let (y, m, d, h, min, s, _) = dt.to_ymd_hms_milli();
    if (h, min, s) == (0, 0, 0) {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02}:{s:02}")
    }
}
