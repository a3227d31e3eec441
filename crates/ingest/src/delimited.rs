//! CSV (and tab-separated) text → `Table`, with RFC 4180 quoting, embedded newlines and CRLF.

use crate::error::IngestError;
use crate::table::{Builder, Limits, SourceFormat, Table};
use crate::text::decode_text_with;

/// How to read a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CsvOptions {
    /// Field separator; `None` picks tab when the first line has more tabs than commas
    /// (Excel's 「Unicode テキスト」), else comma.
    pub delimiter: Option<u8>,
    pub limits: Limits,
}

/// Reads a CSV file in any encoding [`crate::decode_text`] knows. Row numbers are spreadsheet
/// rows: the row Excel would show when opening the same file (blank lines count, a quoted
/// newline does not start a new row).
pub fn read_csv(bytes: &[u8], opts: &CsvOptions) -> Result<Table, IngestError> {
    let (text, encoding) = decode_text_with(bytes, &opts.limits)?;
    let delimiter = opts.delimiter.unwrap_or_else(|| sniff_delimiter(&text));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut builder = Builder::new(opts.limits);
    let mut record = csv::StringRecord::new();
    // The csv crate skips blank lines, which Excel shows as rows; count rows from the line the
    // reader stops at, less the newlines that sit inside quoted cells.
    let mut embedded = 0u64;
    loop {
        let more = reader
            .read_record(&mut record)
            .map_err(|e| IngestError::Csv {
                line: e
                    .position()
                    .map_or(0, |p| p.line())
                    .try_into()
                    .unwrap_or(usize::MAX),
            })?;
        if !more {
            break;
        }
        embedded += record
            .iter()
            .map(|f| f.bytes().filter(|b| *b == b'\n').count() as u64)
            .sum::<u64>();
        let after = reader.position();
        let at = usize::try_from(after.byte()).unwrap_or(usize::MAX);
        let terminated = at
            .checked_sub(1)
            .and_then(|i| text.as_bytes().get(i))
            .is_some_and(|b| *b == b'\n');
        let last_line = after.line().saturating_sub(u64::from(terminated));
        let row = usize::try_from(last_line.saturating_sub(embedded)).unwrap_or(usize::MAX);
        if row > opts.limits.max_rows.saturating_mul(2).saturating_add(1) {
            // Blank rows cost nothing to keep, but a file of millions of them is not a ledger.
            return Err(IngestError::TooManyRows {
                line: row,
                limit: opts.limits.max_rows,
            });
        }
        builder.push(row, record.iter().map(str::to_string).collect(), true)?;
    }
    builder.finish(SourceFormat::Csv {
        encoding,
        delimiter,
    })
}

fn sniff_delimiter(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or("");
    let tabs = first.matches('\t').count();
    let commas = first.matches(',').count();
    if tabs > commas { b'\t' } else { b',' }
}
