//! What can go wrong reading a file (`IngestError`, `LogFileError`: fatal) and per-row findings
//! (`Diagnostic`, with the codes in `codes`).

/// A whole file was refused. Each variant has a stable code (`IMP0001`…) a support desk can
/// quote; messages name rows, columns and sizes, never cell contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// `IMP0001`
    #[error("the file is {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    /// `IMP0002`: neither UTF-8 (with or without BOM), UTF-16 with BOM, nor Shift_JIS (CP932).
    /// `line` is the text line of the first byte that fits none of them.
    #[error("line {line}: the text is neither UTF-8 nor Shift_JIS; save the file as CSV (UTF-8)")]
    UnknownEncoding { line: usize },
    /// `IMP0003`
    #[error("row {line}: more than {limit} data rows")]
    TooManyRows { line: usize, limit: usize },
    /// `IMP0004`
    #[error("row {line}: {count} columns; the limit is {limit}")]
    TooManyColumns {
        line: usize,
        count: usize,
        limit: usize,
    },
    /// `IMP0005`: `column` is the spreadsheet column letter.
    #[error("cell {column}{line} is longer than {limit} bytes")]
    CellTooLarge {
        line: usize,
        column: String,
        limit: usize,
    },
    /// `IMP0006`: no non-empty row at all, so no header row.
    #[error("the file has no header row (it is empty)")]
    Empty,
    /// `IMP0007`
    #[error("line {line}: the CSV cannot be read")]
    Csv { line: usize },
    /// `IMP0008`: not a ZIP, truncated, or a ZIP that is not a workbook.
    #[error("not a readable XLSX workbook (damaged or truncated)")]
    BadXlsx,
    /// `IMP0009`
    #[error("the workbook is protected by a password")]
    Encrypted,
    /// `IMP0010`
    #[error("the workbook has no sheet named {name:?}")]
    SheetNotFound { name: String },
    /// `IMP0011`: an Excel 97–2003 `.xls` file.
    #[error("old Excel format (.xls) is not supported; save as .xlsx or CSV")]
    LegacyXls,
}

impl IngestError {
    /// Stable code for the message catalog and the support desk.
    pub fn code(&self) -> &'static str {
        match self {
            IngestError::TooLarge { .. } => "IMP0001",
            IngestError::UnknownEncoding { .. } => "IMP0002",
            IngestError::TooManyRows { .. } => "IMP0003",
            IngestError::TooManyColumns { .. } => "IMP0004",
            IngestError::CellTooLarge { .. } => "IMP0005",
            IngestError::Empty => "IMP0006",
            IngestError::Csv { .. } => "IMP0007",
            IngestError::BadXlsx => "IMP0008",
            IngestError::Encrypted => "IMP0009",
            IngestError::SheetNotFound { .. } => "IMP0010",
            IngestError::LegacyXls => "IMP0011",
        }
    }

    /// The spreadsheet row (or, for `IMP0002`/`IMP0007`, the text line) the error is about.
    pub fn line(&self) -> Option<usize> {
        match self {
            IngestError::UnknownEncoding { line }
            | IngestError::TooManyRows { line, .. }
            | IngestError::TooManyColumns { line, .. }
            | IngestError::CellTooLarge { line, .. }
            | IngestError::Csv { line } => Some(*line),
            _ => None,
        }
    }

    /// The spreadsheet column letter the error is about.
    pub fn column(&self) -> Option<&str> {
        match self {
            IngestError::CellTooLarge { column, .. } => Some(column),
            _ => None,
        }
    }

    /// A short Japanese explanation.
    pub fn message_ja(&self) -> String {
        match self {
            IngestError::TooLarge { size, limit } => format!(
                "ファイルが大きすぎます（{} MB、上限 {} MB）",
                size.div_ceil(1_000_000),
                limit / 1_000_000
            ),
            IngestError::UnknownEncoding { line } => format!(
                "{line}行目: 文字コードを判別できません（UTF-8 または Shift_JIS の CSV で保存してください）"
            ),
            IngestError::TooManyRows { line, limit } => {
                format!("{line}行目: 行数が上限（{limit}行）を超えています")
            }
            IngestError::TooManyColumns { line, count, limit } => {
                format!("{line}行目: 列数（{count}列）が上限（{limit}列）を超えています")
            }
            IngestError::CellTooLarge {
                line,
                column,
                limit,
            } => format!(
                "{column}{line}: セルの内容が長すぎます（上限 {} KB）",
                limit / 1024
            ),
            IngestError::Empty => "ファイルが空です（見出し行がありません）".to_string(),
            IngestError::Csv { line } => format!("{line}行目: CSV として読み取れません"),
            IngestError::BadXlsx => {
                "Excel（.xlsx）ファイルとして読み取れません（壊れているか、途中で切れています）"
                    .to_string()
            }
            IngestError::Encrypted => {
                "パスワードで保護されたブックは読み取れません（保護を解除して保存してください）"
                    .to_string()
            }
            IngestError::SheetNotFound { name } => format!("シート「{name}」がありません"),
            IngestError::LegacyXls => {
                "古い Excel 形式（.xls）には対応していません（.xlsx または CSV で保存してください）"
                    .to_string()
            }
        }
    }

    /// The same in English.
    pub fn message_en(&self) -> String {
        self.to_string()
    }
}

/// A log file (Windows `.evtx`, JSON lines) was refused as a whole. Stable codes `LOG001x`;
/// everything short of this is kept record by record, with diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogFileError {
    /// `LOG0011`
    #[error("the log file is {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    /// `LOG0012`: no EVTX file header (`ElfFile`) at the start.
    #[error("not a Windows event log file (.evtx)")]
    NotEvtx,
    /// `LOG0013`: an access-log CSV whose header row lacks columns the profile reads: most
    /// likely the wrong profile. `found` is the header row as read (at most 20 names).
    #[error("the header row has no column {}; it has {}", missing.join(", "), found.join(", "))]
    ColumnsMissing {
        missing: Vec<String>,
        found: Vec<String>,
    },
    /// `LOG0014`: not one row of an access-log CSV reads with the profile; `line` and the
    /// messages are the first row's problem.
    #[error("no row reads with this profile ({rows} rows); the first problem: {first_en}")]
    NoRowFits {
        rows: usize,
        line: usize,
        first_ja: String,
        first_en: String,
    },
    /// `LOG0015`: no non-empty row.
    #[error("the file is empty")]
    Empty,
}

impl LogFileError {
    /// Stable code for the message catalog and the support desk.
    pub fn code(&self) -> &'static str {
        match self {
            LogFileError::TooLarge { .. } => "LOG0011",
            LogFileError::NotEvtx => "LOG0012",
            LogFileError::ColumnsMissing { .. } => "LOG0013",
            LogFileError::NoRowFits { .. } => "LOG0014",
            LogFileError::Empty => "LOG0015",
        }
    }

    /// A short Japanese explanation.
    pub fn message_ja(&self) -> String {
        match self {
            LogFileError::TooLarge { size, limit } => format!(
                "ログファイルが大きすぎます（{} MB、上限 {} MB）",
                size.div_ceil(1_000_000),
                limit / 1_000_000
            ),
            LogFileError::NotEvtx => {
                "Windows イベントログ（.evtx）ファイルではありません".to_string()
            }
            LogFileError::ColumnsMissing { missing, found } => format!(
                "見出し行に {} の列がありません（ファイルの見出し: {}）。取込設定が違う可能性があります",
                missing.join("、"),
                if found.is_empty() {
                    "なし".to_string()
                } else {
                    found.join("、")
                }
            ),
            LogFileError::NoRowFits { rows, first_ja, .. } => format!(
                "この取込設定では1行も読めません（{rows}行すべて）。取込設定が違う可能性があります。最初の問題: {first_ja}"
            ),
            LogFileError::Empty => "ファイルが空です".to_string(),
        }
    }

    /// The same in English.
    pub fn message_en(&self) -> String {
        self.to_string()
    }
}

/// One finding about one row (and maybe one column) of an imported file. Decoders report
/// ragged rows and error cells with it; importers reuse it for per-field errors, so that a
/// 5,000-row ledger can say "rows 17, 912: 設置場所 is empty".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based spreadsheet row (the header row is usually 1).
    pub line: usize,
    /// The column's header text, or its spreadsheet letter (`F`) when it has no header.
    pub column: Option<String>,
    /// Stable code: `IMP01xx` from the decoders, the field's own code (`DATE0002`…) from importers.
    pub code: &'static str,
    pub message_ja: String,
    pub message_en: String,
}

impl Diagnostic {
    pub fn new(
        line: usize,
        column: Option<String>,
        code: &'static str,
        message_ja: impl Into<String>,
        message_en: impl Into<String>,
    ) -> Self {
        Diagnostic {
            line,
            column,
            code,
            message_ja: message_ja.into(),
            message_en: message_en.into(),
        }
    }
}

/// Codes of the decoders' own diagnostics.
pub mod codes {
    /// A value in a column to the right of the last header.
    pub const EXTRA_CELLS: &str = "IMP0101";
    /// A CSV row with fewer fields than the header row (padded with empty cells).
    pub const MISSING_CELLS: &str = "IMP0102";
    /// Two header cells with the same text.
    pub const DUPLICATE_HEADER: &str = "IMP0103";
    /// A spreadsheet error value (`#N/A`, `#REF!`…) in a cell.
    pub const CELL_ERROR: &str = "IMP0104";

    /// A log message had bytes that are not UTF-8; they were replaced with U+FFFD.
    pub const INVALID_UTF8: &str = "LOG0101";
    /// A syslog message without `<PRI>`: facility unknown, severity taken as notice.
    pub const NO_PRI: &str = "LOG0102";
    /// A syslog message starting with `<` but no valid `<PRI>` (0–191); read as having none.
    pub const BAD_PRI: &str = "LOG0103";
    /// A timestamp that could not be read; the event keeps no source time.
    pub const BAD_TIMESTAMP: &str = "LOG0104";
    /// RFC 5424 structured data that could not be read; it is kept as part of the message.
    pub const BAD_STRUCTURED_DATA: &str = "LOG0105";
    /// An RFC 5424 header that ends before all its fields; the missing ones are empty.
    pub const SHORT_HEADER: &str = "LOG0106";
    /// A JSON line that is not a JSON object.
    pub const BAD_JSON_LINE: &str = "LOG0107";
    /// A JSON line longer than the limit; skipped.
    pub const LINE_TOO_LONG: &str = "LOG0108";
    /// More lines than the limit; the rest of the input was not read.
    pub const TOO_MANY_LINES: &str = "LOG0109";
    /// An access-log CSV row the CSV reader could not read; skipped.
    pub const BAD_CSV_ROW: &str = "LOG0110";
    /// An access-log CSV row whose time is empty or not in the profile's format; skipped.
    pub const BAD_ROW_TIME: &str = "LOG0111";
    /// An access-log CSV row without a user; skipped.
    pub const MISSING_USER: &str = "LOG0112";
    /// An access-log CSV row without a column the profile reads; skipped.
    pub const SHORT_ROW: &str = "LOG0113";
    /// An access-log CSV row with a cell over the limit; skipped.
    pub const CELL_TOO_LONG: &str = "LOG0114";
    /// Characters that do not fit the file's encoding were replaced (the rows are kept).
    pub const REPLACED_CHARACTERS: &str = "LOG0115";
}
