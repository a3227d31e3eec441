//! Sans-I/O decoders of mamori: bytes in, values and diagnostics out.
//!
//! Ledger imports (機器台帳, 職員, アカウント) arrive as the files clinics keep in Excel: CSV in
//! UTF-8 (with or without BOM) or Shift_JIS (CP932), or XLSX. [`read_table`] turns either into a
//! [`Table`] of trimmed text cells with spreadsheet row numbers; importers map headers to fields
//! and report per-field problems as [`Diagnostic`]s. Every input is capped ([`Limits`]); bad
//! input gives an [`IngestError`] with a stable code, never a panic.
//!
//! Logs become [`mamori_domain::event::LogEvent`]s: [`parse_syslog`] reads one syslog message
//! (RFC 5424, RFC 3164/BSD) and [`SyslogFramer`] splits a TCP stream into messages (RFC 6587);
//! [`read_json_lines`] reads forwarders' JSON lines; `read_evtx` (feature `evtx`, off by
//! default) reads Windows `.evtx` files; [`read_mapped_csv`] reads EHR / レセコン access-log CSV
//! exports through a [`CsvProfile`] (which column is the time, the user, the patient …). They keep what they cannot fully read, with `LOG01xx`
//! codes, and refuse only oversized or unrecognisable input ([`SyslogError`], [`LogFileError`]).

mod access_csv;
mod delimited;
mod error;
#[cfg(feature = "evtx")]
mod evtx;
mod jsonl;
mod stamp;
mod syslog;
mod table;
mod text;
mod windows;
mod xlsx;

pub use access_csv::{
    ACCESS_LOG_LIMITS, ColumnRef, CsvProfile, DEFAULT_OPERATIONS, DateFormat, Delimiter, MappedCsv,
    OperationRule, ProfileEncoding, ProfileInput, ProfileProblem, default_operations,
    read_mapped_csv, shipped_profiles,
};
pub use delimited::{CsvOptions, read_csv};
pub use error::{Diagnostic, IngestError, LogFileError, codes};
#[cfg(feature = "evtx")]
pub use evtx::{
    EvtxCount, EvtxLimits, EvtxOutcome, MAX_EVTX_EVENTS, MAX_EVTX_EXAMPLES, MAX_EVTX_INPUT_BYTES,
    read_evtx, read_evtx_records,
};
pub use jsonl::{
    JsonLines, JsonLinesOptions, MAX_JSONL_INPUT_BYTES, MAX_JSONL_LINE_BYTES, MAX_JSONL_LINES,
    read_json_lines,
};
pub use stamp::JST;
pub use syslog::{
    Framing, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES, SyslogError, SyslogFormat, SyslogFramer,
    SyslogMessage, SyslogOptions, parse_syslog,
};
pub use table::{
    Limits, MAX_CELL_BYTES, MAX_COLUMNS, MAX_INPUT_BYTES, MAX_ROWS, Row, SourceFormat, Table,
    column_letter,
};
pub use text::{TextEncoding, decode_text, decode_text_with};
pub use xlsx::{Grid, MAX_UNZIPPED_BYTES, read_xlsx, read_xlsx_grid, read_xlsx_with};

/// ZIP local-file-header magic: every XLSX starts with it.
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
/// OLE compound-file magic: `.xls`, and also a password-protected `.xlsx`.
const OLE_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

/// Reads an uploaded ledger file: XLSX when it starts with the ZIP magic (first sheet), else
/// CSV. An OLE file is refused as a password-protected workbook or as a legacy `.xls`;
/// `file_name_hint` decides between the two when the file itself does not say.
pub fn read_table(bytes: &[u8], file_name_hint: Option<&str>) -> Result<Table, IngestError> {
    Limits::default().check_size(bytes)?;
    if bytes.starts_with(ZIP_MAGIC) {
        return read_xlsx(bytes, None);
    }
    if bytes.starts_with(OLE_MAGIC) {
        // An encrypted OOXML workbook is an OLE file with an `EncryptedPackage` stream.
        let marker: Vec<u8> = "EncryptedPackage"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let encrypted = bytes.windows(marker.len()).any(|w| w == marker.as_slice())
            || file_name_hint.is_some_and(|n| {
                let n = n.to_ascii_lowercase();
                n.ends_with(".xlsx") || n.ends_with(".xlsm")
            });
        return Err(if encrypted {
            IngestError::Encrypted
        } else {
            IngestError::LegacyXls
        });
    }
    read_csv(bytes, &CsvOptions::default())
}
