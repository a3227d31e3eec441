//! Access-log CSV exports of electronic medical records and レセコン, read through a mapping
//! profile ([`CsvProfile`]): which column holds the time, the user, the patient id, the
//! operation and the terminal, the encoding, the delimiter and the date format. Vendors export
//! differently, so a profile is defined once per system and reused. One row → one [`LogEvent`];
//! a bad row is a [`Diagnostic`] with its line and the rows around it are kept; a file that does
//! not fit the profile at all is one [`LogFileError`] naming what is missing.

use crate::error::{Diagnostic, LogFileError, codes};
use crate::stamp::{self, JST};
use crate::table::Limits;
use crate::text::decode_text_with;
use encoding_rs::SHIFT_JIS;
use mamori_domain::event::{Action, LogEvent, Outcome, Severity};
use serde::{Deserialize, Serialize};
use time::{Date, Month, Time};

/// Caps of an access-log CSV: 200 MB, 1,000,000 data rows, 200 columns, 32 KB per cell.
pub const ACCESS_LOG_LIMITS: Limits = Limits {
    max_input_bytes: 200 * 1_000_000,
    max_rows: 1_000_000,
    max_columns: 200,
    max_cell_bytes: 32 * 1024,
};

/// Most characters of a profile's column name; columns by position run 1 to this.
pub const MAX_COLUMN_NAME_CHARS: usize = 100;

macro_rules! choice {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident => $code:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $code)] $v),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),+];

            /// Stable code (stored in the profile's JSON, used for message keys).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$v => $code),+
                }
            }

            pub fn parse(s: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|c| c.as_str() == s.trim())
            }
        }
    };
}

choice!(
    /// The text encoding of the file.
    ProfileEncoding {
        /// UTF-8 (with or without BOM), UTF-16 with BOM, else Shift_JIS.
        #[default]
        Auto => "auto",
        Utf8 => "utf-8",
        /// Shift_JIS as Windows writes it (CP932).
        ShiftJis => "shift_jis",
    }
);

choice!(
    /// The field separator.
    Delimiter {
        #[default]
        Comma => "comma",
        Tab => "tab",
    }
);

choice!(
    /// How the time is written. Times without a zone are Japan time (JST, +09:00); ISO 8601
    /// with an offset keeps its offset.
    DateFormat {
        /// Any of the formats below, tried in turn.
        #[default]
        Auto => "auto",
        /// `2025/04/01 09:12:03` (also `2025/4/1 9:12`).
        YmdSlash => "ymd_slash",
        /// `2025-04-01 09:12:03`.
        YmdDash => "ymd_dash",
        /// `2025-04-01T09:12:03`, with or without `Z` / `+09:00`.
        Iso8601 => "iso8601",
        /// `20250401091203` (or `20250401` and `091203` in separate columns).
        Compact => "compact",
        /// 和暦: `R7.04.01 09:12:03`, `令和7年4月1日 9:12:03`.
        Wareki => "wareki",
    }
);

impl Delimiter {
    pub fn byte(self) -> u8 {
        match self {
            Delimiter::Comma => b',',
            Delimiter::Tab => b'\t',
        }
    }
}

impl DateFormat {
    /// The pattern as people write it, for messages.
    pub fn pattern(self) -> &'static str {
        match self {
            DateFormat::Auto => {
                "YYYY/MM/DD HH:MM:SS, YYYY-MM-DD HH:MM:SS, ISO 8601, YYYYMMDDHHMMSS, R7.04.01 09:12:03"
            }
            DateFormat::YmdSlash => "YYYY/MM/DD HH:MM:SS",
            DateFormat::YmdDash => "YYYY-MM-DD HH:MM:SS",
            DateFormat::Iso8601 => "YYYY-MM-DDTHH:MM:SS+09:00",
            DateFormat::Compact => "YYYYMMDDHHMMSS",
            DateFormat::Wareki => "R7.04.01 09:12:03",
        }
    }
}

/// A column of the file: by its header text, or by its 1-based position (a number). Written as
/// text in the profile: `日時` or `3`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ColumnRef {
    Name(String),
    Position(usize),
}

impl ColumnRef {
    /// `None` for empty text; digits only are a position.
    pub fn parse(text: &str) -> Option<ColumnRef> {
        let t = text.trim();
        if t.is_empty() {
            return None;
        }
        if t.bytes().all(|b| b.is_ascii_digit()) {
            return Some(ColumnRef::Position(t.parse().unwrap_or(usize::MAX)));
        }
        Some(ColumnRef::Name(t.to_string()))
    }

    /// As typed in a form.
    pub fn text(&self) -> String {
        match self {
            ColumnRef::Name(n) => n.clone(),
            ColumnRef::Position(p) => p.to_string(),
        }
    }

    /// `「日時」列` / `3列目`.
    pub fn label_ja(&self) -> String {
        match self {
            ColumnRef::Name(n) => format!("「{n}」列"),
            ColumnRef::Position(p) => format!("{p}列目"),
        }
    }

    /// `column "日時"` / `column 3`.
    pub fn label_en(&self) -> String {
        match self {
            ColumnRef::Name(n) => format!("column \"{n}\""),
            ColumnRef::Position(p) => format!("column {p}"),
        }
    }
}

impl TryFrom<String> for ColumnRef {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ColumnRef::parse(&s).ok_or_else(|| "an empty column".to_string())
    }
}

impl From<ColumnRef> for String {
    fn from(c: ColumnRef) -> String {
        c.text()
    }
}

/// An operation value as the file writes it (`参照`) and the action it means (`record_viewed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationRule {
    pub value: String,
    /// A named [`Action`] code.
    pub action: String,
}

/// How to read one system's access-log CSV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvProfile {
    /// Identifier used on the command line (`--profile NAME`): `a-z`, `0-9`, `-`, `_`.
    pub name: String,
    /// What people see (`汎用`, `電子カルテ（○○社）`).
    pub label: String,
    #[serde(default)]
    pub encoding: ProfileEncoding,
    #[serde(default)]
    pub delimiter: Delimiter,
    /// Whether the first non-empty row names the columns.
    pub header: bool,
    #[serde(default)]
    pub date_format: DateFormat,
    /// The date and time; with `date` set, the time of day only.
    pub time: ColumnRef,
    /// A separate date column, when the file splits date and time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<ColumnRef>,
    /// The user (staff code, login id).
    pub user: ColumnRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<ColumnRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<ColumnRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal: Option<ColumnRef>,
    /// Success or failure (成功/OK → success, 失敗/エラー/NG → failure). Without it, a row is
    /// an access that happened: success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ColumnRef>,
    /// Operation values → actions; values not listed are kept as they are (`Other`).
    #[serde(default)]
    pub operations: Vec<OperationRule>,
}

/// The operation values most Japanese systems write, and what they mean. New profiles start with
/// this list; it can be edited per profile.
pub const DEFAULT_OPERATIONS: [(&str, &str); 18] = [
    ("参照", "record_viewed"),
    ("閲覧", "record_viewed"),
    ("照会", "record_viewed"),
    ("表示", "record_viewed"),
    ("更新", "record_changed"),
    ("修正", "record_changed"),
    ("登録", "record_changed"),
    ("新規", "record_changed"),
    ("削除", "record_changed"),
    ("印刷", "record_printed"),
    ("出力", "record_exported"),
    ("エクスポート", "record_exported"),
    ("ダウンロード", "record_exported"),
    ("ログイン", "logon"),
    ("ログオン", "logon"),
    ("ログイン失敗", "logon_failed"),
    ("ログアウト", "logoff"),
    ("ログオフ", "logoff"),
];

/// [`DEFAULT_OPERATIONS`] as rules.
pub fn default_operations() -> Vec<OperationRule> {
    DEFAULT_OPERATIONS
        .iter()
        .map(|(v, a)| OperationRule {
            value: (*v).to_string(),
            action: (*a).to_string(),
        })
        .collect()
}

/// The profiles mamori ships: read-only, copied to make one's own.
pub fn shipped_profiles() -> Vec<CsvProfile> {
    let col = |s: &str| ColumnRef::Name(s.to_string());
    vec![
        CsvProfile {
            name: "generic".into(),
            label: "汎用（日時・利用者ID・患者ID・操作・端末）".into(),
            encoding: ProfileEncoding::Auto,
            delimiter: Delimiter::Comma,
            header: true,
            date_format: DateFormat::Auto,
            time: col("日時"),
            date: None,
            user: col("利用者ID"),
            patient: Some(col("患者ID")),
            operation: Some(col("操作")),
            terminal: Some(col("端末")),
            outcome: None,
            operations: default_operations(),
        },
        CsvProfile {
            name: "karte-split-date".into(),
            label: "電子カルテ形式（日付・時刻が別列、職員コード・患者番号・処理区分・端末名）"
                .into(),
            encoding: ProfileEncoding::ShiftJis,
            delimiter: Delimiter::Comma,
            header: true,
            date_format: DateFormat::Compact,
            time: col("時刻"),
            date: Some(col("日付")),
            user: col("職員コード"),
            patient: Some(col("患者番号")),
            operation: Some(col("処理区分")),
            terminal: Some(col("端末名")),
            outcome: Some(col("結果")),
            operations: default_operations(),
        },
        CsvProfile {
            name: "rececon-tsv".into(),
            label: "レセコン形式（見出しなし・タブ区切り: 日時・オペレータ・端末・患者番号・処理）"
                .into(),
            encoding: ProfileEncoding::ShiftJis,
            delimiter: Delimiter::Tab,
            header: false,
            date_format: DateFormat::YmdSlash,
            time: ColumnRef::Position(1),
            date: None,
            user: ColumnRef::Position(2),
            patient: Some(ColumnRef::Position(4)),
            operation: Some(ColumnRef::Position(5)),
            terminal: Some(ColumnRef::Position(3)),
            outcome: None,
            operations: default_operations(),
        },
    ]
}

/// A profile as typed into a form: every field as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileInput {
    pub name: String,
    pub label: String,
    pub encoding: String,
    pub delimiter: String,
    /// `1` (or `on`, `true`) for a header row.
    pub header: String,
    pub date_format: String,
    pub time: String,
    pub date: String,
    pub user: String,
    pub patient: String,
    pub operation: String,
    pub terminal: String,
    pub outcome: String,
    /// One rule per line: `参照 = record_viewed`.
    pub operations: String,
}

/// A field of a profile that failed validation: (field, code). The codes' texts are in the
/// message catalog (`error.LOG02xx`).
pub type ProfileProblem = (&'static str, &'static str);

impl ProfileInput {
    /// The form of an existing profile.
    pub fn of(p: &CsvProfile) -> ProfileInput {
        let opt = |c: &Option<ColumnRef>| c.as_ref().map(ColumnRef::text).unwrap_or_default();
        ProfileInput {
            name: p.name.clone(),
            label: p.label.clone(),
            encoding: p.encoding.as_str().into(),
            delimiter: p.delimiter.as_str().into(),
            header: if p.header { "1" } else { "0" }.into(),
            date_format: p.date_format.as_str().into(),
            time: p.time.text(),
            date: opt(&p.date),
            user: p.user.text(),
            patient: opt(&p.patient),
            operation: opt(&p.operation),
            terminal: opt(&p.terminal),
            outcome: opt(&p.outcome),
            operations: p
                .operations
                .iter()
                .map(|r| format!("{} = {}", r.value, r.action))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    /// Checks every field and builds the profile, or names every field that is wrong.
    pub fn to_profile(&self) -> Result<CsvProfile, Vec<ProfileProblem>> {
        let mut problems: Vec<ProfileProblem> = Vec::new();
        let name = self.name.trim().to_string();
        let name_ok = (1..=40).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && name
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !name_ok {
            problems.push(("name", "LOG0201"));
        }
        let label = self.label.trim().to_string();
        if label.is_empty() || label.chars().count() > 100 {
            problems.push(("label", "LOG0206"));
        }
        if ProfileEncoding::parse(&self.encoding).is_none() {
            problems.push(("encoding", "LOG0209"));
        }
        if Delimiter::parse(&self.delimiter).is_none() {
            problems.push(("delimiter", "LOG0209"));
        }
        if DateFormat::parse(&self.date_format).is_none() {
            problems.push(("date_format", "LOG0209"));
        }
        let header = matches!(self.header.trim(), "1" | "on" | "true" | "yes");
        let mut column = |field: &'static str, text: &str, required: bool| {
            let c = ColumnRef::parse(text);
            match &c {
                None if required => problems.push((field, "LOG0203")),
                None => {}
                Some(ColumnRef::Position(p)) if *p == 0 || *p > ACCESS_LOG_LIMITS.max_columns => {
                    problems.push((field, "LOG0205"));
                }
                Some(ColumnRef::Name(n)) if n.chars().count() > MAX_COLUMN_NAME_CHARS => {
                    problems.push((field, "LOG0205"));
                }
                Some(ColumnRef::Name(_)) if !header => problems.push((field, "LOG0204")),
                Some(_) => {}
            }
            c
        };
        let time = column("time", &self.time, true);
        let date = column("date", &self.date, false);
        let user = column("user", &self.user, true);
        let patient = column("patient", &self.patient, false);
        let operation = column("operation", &self.operation, false);
        let terminal = column("terminal", &self.terminal, false);
        let outcome = column("outcome", &self.outcome, false);
        let mut operations = Vec::new();
        let mut bad_rule = None;
        for line in self.operations.lines() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let Some((value, action)) = line.split_once('=') else {
                bad_rule = Some("LOG0207");
                continue;
            };
            let (value, action) = (value.trim(), action.trim());
            if value.is_empty() || value.chars().count() > MAX_COLUMN_NAME_CHARS {
                bad_rule = Some("LOG0207");
                continue;
            }
            if !Action::parse(action).is_some_and(|a| a.is_named()) {
                bad_rule.get_or_insert("LOG0208");
                continue;
            }
            operations.push(OperationRule {
                value: value.to_string(),
                action: action.to_string(),
            });
        }
        if let Some(code) = bad_rule {
            problems.push(("operations", code));
        }
        let (Some(time), Some(user)) = (time, user) else {
            return Err(problems);
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(CsvProfile {
            name,
            label,
            encoding: ProfileEncoding::parse(&self.encoding).unwrap_or_default(),
            delimiter: Delimiter::parse(&self.delimiter).unwrap_or_default(),
            header,
            date_format: DateFormat::parse(&self.date_format).unwrap_or_default(),
            time,
            date,
            user,
            patient,
            operation,
            terminal,
            outcome,
            operations,
        })
    }
}

impl CsvProfile {
    /// The action of an operation value: the profile's rule for it (compared after trimming,
    /// ASCII case ignored), else the value kept as it is.
    pub fn action_of(&self, value: &str) -> Action {
        let v = value.trim();
        if v.is_empty() {
            return Action::Other("access".to_string());
        }
        self.operations
            .iter()
            .find(|r| r.value.trim().eq_ignore_ascii_case(v))
            .and_then(|r| Action::parse(&r.action))
            .unwrap_or_else(|| Action::Other(v.to_string()))
    }

    /// The columns this profile reads, with the field each one fills.
    pub fn columns(&self) -> Vec<(&'static str, &ColumnRef)> {
        let mut out = vec![("time", &self.time)];
        if let Some(d) = &self.date {
            out.push(("date", d));
        }
        out.push(("user", &self.user));
        for (field, c) in [
            ("patient", &self.patient),
            ("operation", &self.operation),
            ("terminal", &self.terminal),
            ("outcome", &self.outcome),
        ] {
            if let Some(c) = c {
                out.push((field, c));
            }
        }
        out
    }
}

/// The events of the good rows, each with its 1-based text line, and a diagnostic for every
/// row that was skipped or had something replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedCsv {
    pub events: Vec<(usize, LogEvent)>,
    pub diagnostics: Vec<Diagnostic>,
    /// Data rows that gave no event.
    pub skipped: usize,
    /// The header row as read (empty without one).
    pub headers: Vec<String>,
    /// The encoding the file was read as: `UTF-8`, `UTF-8 (BOM)`, `Shift_JIS` …
    pub encoding: &'static str,
}

/// Reads an access-log CSV received at `received_ms` with `profile`. Every column of a row is
/// kept in `fields` under its header (or `列N` without a header row); `object` is the patient id,
/// `source_host` the terminal, `message` the operation as written, `raw` the row's text.
pub fn read_mapped_csv(
    bytes: &[u8],
    received_ms: i64,
    profile: &CsvProfile,
    limits: &Limits,
) -> Result<MappedCsv, LogFileError> {
    if bytes.len() > limits.max_input_bytes {
        return Err(LogFileError::TooLarge {
            size: bytes.len(),
            limit: limits.max_input_bytes,
        });
    }
    let mut diagnostics = Vec::new();
    let (text, encoding) = decode(bytes, profile.encoding, limits, &mut diagnostics)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(profile.delimiter.byte())
        .from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    let mut headers: Option<Vec<String>> = None;
    let mut columns: Option<Columns> = None;
    let mut out = MappedCsv {
        events: Vec::new(),
        diagnostics: Vec::new(),
        skipped: 0,
        headers: Vec::new(),
        encoding,
    };
    let mut rows = 0usize;
    let mut first_problem: Option<Diagnostic> = None;
    // Text lines: the reader's own line numbers skip blank lines, so count newlines up to where
    // each record starts.
    let mut counted = (0usize, 1usize);
    let mut line_at = |at: usize| {
        let (from, lines) = counted;
        let at = at.max(from).min(text.len());
        let more = text
            .as_bytes()
            .get(from..at)
            .map_or(0, |b| b.iter().filter(|c| **c == b'\n').count());
        counted = (at, lines + more);
        lines + more
    };
    loop {
        let before = usize::try_from(reader.position().byte()).unwrap_or(usize::MAX);
        // The record starts after the line ends the reader skips.
        let start = before
            + text.as_bytes().get(before..).map_or(0, |b| {
                b.iter().take_while(|c| matches!(c, b'\r' | b'\n')).count()
            });
        let line = line_at(start);
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(_) => {
                out.skipped += 1;
                let d = Diagnostic::new(
                    line,
                    None,
                    codes::BAD_CSV_ROW,
                    format!("{line}行目: CSV の行として読み取れません"),
                    format!("line {line}: not a readable CSV row"),
                );
                first_problem.get_or_insert_with(|| d.clone());
                out.diagnostics.push(d);
                if usize::try_from(reader.position().byte()).unwrap_or(usize::MAX) == before {
                    break;
                }
                continue;
            }
        }
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if profile.header && headers.is_none() {
            let h: Vec<String> = record
                .iter()
                .take(limits.max_columns)
                .map(|c| c.trim().to_string())
                .collect();
            columns = Some(resolve(profile, Some(&h))?);
            headers = Some(h);
            continue;
        }
        if rows >= limits.max_rows {
            out.diagnostics.push(Diagnostic::new(
                line,
                None,
                codes::TOO_MANY_LINES,
                format!(
                    "{line}行目以降は読み込んでいません（上限 {} 行）",
                    limits.max_rows
                ),
                format!(
                    "lines from {line} on were not read (limit {} rows)",
                    limits.max_rows
                ),
            ));
            break;
        }
        rows += 1;
        let cols = match columns {
            Some(c) => c,
            None => {
                let c = resolve(profile, None)?;
                columns = Some(c);
                c
            }
        };
        let end = usize::try_from(reader.position().byte()).unwrap_or(usize::MAX);
        let raw = text
            .get(start..end.min(text.len()))
            .unwrap_or_default()
            .trim_end_matches(['\r', '\n'])
            .to_string();
        match map_row(
            profile,
            &cols,
            headers.as_deref(),
            &record,
            line,
            raw,
            received_ms,
            limits,
        ) {
            Ok(event) => out.events.push((line, event)),
            Err(d) => {
                out.skipped += 1;
                first_problem.get_or_insert_with(|| d.clone());
                out.diagnostics.push(d);
            }
        }
    }
    if headers.is_none() && rows == 0 && out.skipped == 0 {
        return Err(LogFileError::Empty);
    }
    if out.events.is_empty()
        && let Some(first) = first_problem
    {
        return Err(LogFileError::NoRowFits {
            rows: out.skipped,
            line: first.line,
            first_ja: first.message_ja,
            first_en: first.message_en,
        });
    }
    diagnostics.append(&mut out.diagnostics);
    diagnostics.sort_by_key(|d| d.line);
    out.diagnostics = diagnostics;
    out.headers = headers.unwrap_or_default();
    Ok(out)
}

/// Decodes per the profile. Characters that do not fit the encoding are replaced and noted once
/// (`LOG0114`), never fatal: the rows stay readable.
fn decode(
    bytes: &[u8],
    encoding: ProfileEncoding,
    limits: &Limits,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<(String, &'static str), LogFileError> {
    let utf8 = |bytes: &[u8]| {
        let rest = bytes.strip_prefix(b"\xEF\xBB\xBF");
        let label = if rest.is_some() {
            "UTF-8 (BOM)"
        } else {
            "UTF-8"
        };
        let (text, replaced) = crate::syslog::decode_lossy(rest.unwrap_or(bytes));
        (text, replaced > 0, label)
    };
    let sjis = |bytes: &[u8]| {
        let (text, had_errors) = SHIFT_JIS.decode_without_bom_handling(bytes);
        (text.into_owned(), had_errors, "Shift_JIS")
    };
    let (text, replaced, label) = match encoding {
        ProfileEncoding::Utf8 => utf8(bytes),
        ProfileEncoding::ShiftJis => sjis(bytes),
        ProfileEncoding::Auto => match decode_text_with(bytes, limits) {
            Ok((text, enc)) => (text, false, enc.label()),
            Err(crate::IngestError::TooLarge { size, limit }) => {
                return Err(LogFileError::TooLarge { size, limit });
            }
            // Neither encoding fits every byte: take the one that fits more of them.
            Err(_) => {
                let (a, b) = (utf8(bytes), sjis(bytes));
                let bad = |t: &str| t.matches('\u{FFFD}').count();
                if bad(&a.0) <= bad(&b.0) { a } else { b }
            }
        },
    };
    if replaced {
        let at = text.find('\u{FFFD}').unwrap_or(text.len());
        let line = text
            .get(..at)
            .unwrap_or_default()
            .bytes()
            .filter(|b| *b == b'\n')
            .count()
            + 1;
        diagnostics.push(Diagnostic::new(
            line,
            None,
            codes::REPLACED_CHARACTERS,
            format!(
                "{line}行目から: 文字コード（{label}）に合わない文字を「\u{FFFD}」に置き換えました（取込設定の文字コードを確認してください）"
            ),
            format!(
                "from line {line}: characters that are not {label} were replaced (check the profile's encoding)"
            ),
        ));
    }
    Ok((text, label))
}

/// Column indices (0-based) of the profile's fields in this file.
#[derive(Debug, Clone, Copy)]
struct Columns {
    time: usize,
    date: Option<usize>,
    user: usize,
    patient: Option<usize>,
    operation: Option<usize>,
    terminal: Option<usize>,
    outcome: Option<usize>,
}

/// Finds the profile's columns under `headers` (or by position only, without a header row). A
/// column the header row lacks is a file-level error naming every missing one.
fn resolve(profile: &CsvProfile, headers: Option<&[String]>) -> Result<Columns, LogFileError> {
    let mut missing = Vec::new();
    let mut find = |c: &ColumnRef| -> usize {
        let index = match (c, headers) {
            (ColumnRef::Position(p), None) => p.checked_sub(1),
            (ColumnRef::Position(p), Some(h)) => p.checked_sub(1).filter(|i| *i < h.len()),
            (ColumnRef::Name(n), Some(h)) => h.iter().position(|x| x == n.trim()),
            (ColumnRef::Name(_), None) => None,
        };
        index.unwrap_or_else(|| {
            missing.push(c.text());
            usize::MAX
        })
    };
    let cols = Columns {
        time: find(&profile.time),
        date: profile.date.as_ref().map(&mut find),
        user: find(&profile.user),
        patient: profile.patient.as_ref().map(&mut find),
        operation: profile.operation.as_ref().map(&mut find),
        terminal: profile.terminal.as_ref().map(&mut find),
        outcome: profile.outcome.as_ref().map(&mut find),
    };
    if missing.is_empty() {
        return Ok(cols);
    }
    Err(LogFileError::ColumnsMissing {
        missing,
        found: headers
            .unwrap_or_default()
            .iter()
            .filter(|h| !h.is_empty())
            .take(20)
            .map(|h| h.chars().take(40).collect())
            .collect(),
    })
}

/// What a field is called in a row's message.
fn field_ja(field: &'static str, split_date: bool) -> &'static str {
    match field {
        "time" if split_date => "時刻",
        "time" => "日時",
        "date" => "日付",
        "user" => "利用者",
        "patient" => "患者ID",
        "operation" => "操作",
        "terminal" => "端末",
        "outcome" => "結果",
        other => other,
    }
}

#[allow(clippy::too_many_arguments)]
fn map_row(
    profile: &CsvProfile,
    cols: &Columns,
    headers: Option<&[String]>,
    record: &csv::StringRecord,
    line: usize,
    raw: String,
    received_ms: i64,
    limits: &Limits,
) -> Result<LogEvent, Diagnostic> {
    let column_name = |i: usize| match headers.and_then(|h| h.get(i)) {
        Some(h) if !h.is_empty() => h.clone(),
        _ => format!("列{}", i + 1),
    };
    if let Some(i) = record.iter().position(|c| c.len() > limits.max_cell_bytes) {
        let name = column_name(i);
        return Err(Diagnostic::new(
            line,
            Some(name.clone()),
            codes::CELL_TOO_LONG,
            format!(
                "{line}行目: 「{name}」の値が長すぎます（上限 {} KB）",
                limits.max_cell_bytes / 1024
            ),
            format!(
                "line {line}: the value in {name:?} is too long (limit {} KB)",
                limits.max_cell_bytes / 1024
            ),
        ));
    }
    // A cell the profile needs that the row does not have.
    let cell = |field: &'static str, i: usize| -> Result<&str, Diagnostic> {
        record.get(i).map(str::trim).ok_or_else(|| {
            let name = column_name(i);
            Diagnostic::new(
                line,
                Some(name.clone()),
                codes::SHORT_ROW,
                format!(
                    "{line}行目: 列が足りません（{}の「{name}」がありません。この行は {} 列）",
                    field_ja(field, profile.date.is_some()),
                    record.len()
                ),
                format!(
                    "line {line}: too few columns ({field} column {name:?} is missing; the row has {})",
                    record.len()
                ),
            )
        })
    };
    let opt_cell = |field: &'static str, i: Option<usize>| -> Result<&str, Diagnostic> {
        i.map_or(Ok(""), |i| cell(field, i))
    };
    let time_text = cell("time", cols.time)?;
    let date_text = cols.date.map(|i| cell("date", i)).transpose()?;
    let time_column = column_name(cols.time);
    let time_ms = match date_text {
        Some(d) => parse_split(d, time_text, profile.date_format),
        None => parse_combined(time_text, profile.date_format),
    };
    let Some(time_ms) = time_ms else {
        let (column, what) = match cols.date {
            Some(d) => (format!("{}・{time_column}", column_name(d)), "日付・時刻"),
            None => (time_column, "日時"),
        };
        let empty = time_text.is_empty() || date_text.is_some_and(str::is_empty);
        let (ja, en) = if empty {
            (
                format!("{line}行目: {what}（「{column}」）が空です"),
                format!("line {line}: the time ({column:?}) is empty"),
            )
        } else {
            (
                format!(
                    "{line}行目: {what}（「{column}」）を読めません（形式: {}）",
                    profile.date_format.pattern()
                ),
                format!(
                    "line {line}: the time ({column:?}) does not read as {}",
                    profile.date_format.pattern()
                ),
            )
        };
        return Err(Diagnostic::new(
            line,
            Some(column),
            codes::BAD_ROW_TIME,
            ja,
            en,
        ));
    };
    let user = cell("user", cols.user)?;
    if user.is_empty() {
        let column = column_name(cols.user);
        return Err(Diagnostic::new(
            line,
            Some(column.clone()),
            codes::MISSING_USER,
            format!("{line}行目: 利用者（「{column}」）が空です"),
            format!("line {line}: the user ({column:?}) is empty"),
        ));
    }
    let patient = opt_cell("patient", cols.patient)?;
    let operation = opt_cell("operation", cols.operation)?;
    let terminal = opt_cell("terminal", cols.terminal)?;
    let outcome = opt_cell("outcome", cols.outcome)?;
    let fields = record
        .iter()
        .take(limits.max_columns)
        .enumerate()
        .map(|(i, v)| (column_name(i), v.trim().to_string()))
        .collect();
    Ok(LogEvent {
        time_ms: Some(time_ms),
        received_ms,
        source_host: terminal.to_string(),
        actor: Some(user.to_string()),
        action: profile.action_of(operation),
        object: Some(patient.to_string()).filter(|p| !p.is_empty()),
        outcome: if cols.outcome.is_some() {
            parse_outcome(outcome)
        } else {
            Outcome::Success
        },
        severity: Severity::Informational,
        message: operation.to_string(),
        fields,
        raw,
    })
}

/// 成功/正常/OK → success; 失敗/エラー/異常/拒否/NG → failure; anything else unknown.
fn parse_outcome(text: &str) -> Outcome {
    let t = text.trim().to_ascii_lowercase();
    match t.as_str() {
        "成功" | "正常" | "ok" | "success" | "succeeded" | "許可" => Outcome::Success,
        "失敗" | "エラー" | "異常" | "拒否" | "ng" | "failure" | "failed" | "error" | "denied" => {
            Outcome::Failure
        }
        _ => Outcome::Unknown,
    }
}

/// A date and a time of day in one cell.
fn parse_combined(text: &str, format: DateFormat) -> Option<i64> {
    let text = text.trim();
    let split = || {
        let (d, t) = text.split_once(char::is_whitespace)?;
        parse_split(d, t, format)
    };
    match format {
        DateFormat::Iso8601 => stamp::parse_iso(text, Some(JST)),
        DateFormat::Compact => parse_compact(text),
        DateFormat::Auto => stamp::parse_iso(text, Some(JST))
            .or_else(|| parse_compact(text))
            .or_else(split),
        _ => split(),
    }
}

/// `YYYYMMDDHHMMSS` or `YYYYMMDDHHMM`.
fn parse_compact(text: &str) -> Option<i64> {
    if !(text.len() == 14 || text.len() == 12) || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (d, t) = (text.get(..8)?, text.get(8..)?);
    parse_split(d, t, DateFormat::Compact)
}

/// A date in one cell and a time of day in another.
fn parse_split(date: &str, time: &str, format: DateFormat) -> Option<i64> {
    let date = parse_date(date.trim(), format)?;
    let time = parse_time_of_day(time.trim())?;
    stamp::unix_ms(date, time, JST)
}

fn parse_date(text: &str, format: DateFormat) -> Option<Date> {
    match format {
        DateFormat::YmdSlash => parse_ymd(text, '/'),
        DateFormat::YmdDash | DateFormat::Iso8601 => parse_ymd(text, '-'),
        DateFormat::Compact => parse_ymd8(text),
        DateFormat::Wareki => parse_wareki(text),
        DateFormat::Auto => parse_ymd(text, '/')
            .or_else(|| parse_ymd(text, '-'))
            .or_else(|| parse_ymd8(text))
            .or_else(|| parse_wareki(text)),
    }
}

/// `2025/4/1`, `2025-04-01`: a four-digit year, month and day of one or two digits.
fn parse_ymd(text: &str, sep: char) -> Option<Date> {
    let mut parts = text.split(sep);
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || !(1..=2).contains(&m.len()) {
        return None;
    }
    if !(1..=2).contains(&d.len()) {
        return None;
    }
    let num = |s: &str| -> Option<u32> {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    calendar_date(num(y)?, num(m)?, num(d)?)
}

/// `20250401`.
fn parse_ymd8(text: &str) -> Option<Date> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = text.parse().ok()?;
    calendar_date(n / 10_000, n / 100 % 100, n % 100)
}

/// 和暦 (`R7.04.01`, `令和7年4月1日`): the date must start with its era.
fn parse_wareki(text: &str) -> Option<Date> {
    if text.chars().next().is_none_or(|c| c.is_ascii_digit()) {
        return None;
    }
    mamori_domain::wareki::parse_date_ja(text).ok()
}

fn calendar_date(y: u32, m: u32, d: u32) -> Option<Date> {
    let month = Month::try_from(u8::try_from(m).ok()?).ok()?;
    Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(d).ok()?).ok()
}

/// `9:12`, `09:12:03`, `09:12:03.250`, or digits only: `0912`, `091203`.
fn parse_time_of_day(text: &str) -> Option<Time> {
    let num = |s: &str| -> Option<u8> {
        (!s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())?
    };
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let (h, m, s) = match text.len() {
            4 => (text.get(..2)?, text.get(2..)?, "0"),
            6 => (text.get(..2)?, text.get(2..4)?, text.get(4..)?),
            _ => return None,
        };
        return Time::from_hms(num(h)?, num(m)?, num(s)?).ok();
    }
    let (clock, fraction) = match text.split_once('.') {
        Some((c, f)) => (c, Some(f)),
        None => (text, None),
    };
    let mut parts = clock.split(':');
    let (h, m) = (parts.next()?, parts.next()?);
    let s = parts.next().unwrap_or("0");
    if parts.next().is_some() || m.len() != 2 {
        return None;
    }
    let milli = match fraction {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            let padded: String = f.chars().chain("000".chars()).take(3).collect();
            padded.parse().ok()?
        }
        Some(_) => return None,
    };
    Time::from_hms_milli(num(h)?, num(m)?, num(s)?, milli).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RECEIVED: i64 = 1_760_000_000_000;

    fn profile(name: &str) -> CsvProfile {
        shipped_profiles()
            .into_iter()
            .find(|p| p.name == name)
            .unwrap()
    }

    fn read(bytes: &[u8], p: &CsvProfile) -> MappedCsv {
        read_mapped_csv(bytes, RECEIVED, p, &ACCESS_LOG_LIMITS).unwrap()
    }

    fn jst(s: &str) -> i64 {
        stamp::parse_iso(s, Some(JST)).unwrap()
    }

    fn sjis(text: &str) -> Vec<u8> {
        let (bytes, _, bad) = SHIFT_JIS.encode(text);
        assert!(!bad);
        bytes.into_owned()
    }

    #[test]
    fn generic_layout_maps_every_field() {
        let text = "日時,利用者ID,患者ID,操作,端末,備考\r\n2025/04/01 09:12:03,dr.tanaka,P-000123,参照,PC-診察1,\r\n2025-04-01 09:13:00,ns.sato,P-000123,印刷,PC-病棟-01,処方箋\r\n";
        let r = read(text.as_bytes(), &profile("generic"));
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
        assert_eq!(r.encoding, "UTF-8");
        assert_eq!(r.headers.len(), 6);
        let (line, e) = &r.events[0];
        assert_eq!(*line, 2);
        assert_eq!(e.time_ms, Some(jst("2025-04-01T09:12:03")));
        assert_eq!(e.actor.as_deref(), Some("dr.tanaka"));
        assert_eq!(e.object.as_deref(), Some("P-000123"));
        assert_eq!(e.action, Action::RecordViewed);
        assert_eq!(e.source_host, "PC-診察1");
        assert_eq!(e.outcome, Outcome::Success);
        assert_eq!(e.message, "参照");
        assert_eq!(
            e.raw,
            "2025/04/01 09:12:03,dr.tanaka,P-000123,参照,PC-診察1,"
        );
        assert_eq!(e.field("備考"), Some(""));
        let e = &r.events[1].1;
        assert_eq!(e.action, Action::RecordPrinted);
        assert_eq!(e.field("備考"), Some("処方箋"));
        assert_eq!(e.received_ms, RECEIVED);
    }

    #[test]
    fn shift_jis_with_split_date_and_time() {
        let text = "日付,時刻,職員コード,職員名,患者番号,処理区分,端末名,結果\r\n20250401,091203,D0012,田中　一郎,0001234,カルテ参照,NS-PC01,正常\r\n20250401,0915,N0044,佐藤　花子,0001234,更新,NS-PC02,エラー\r\n";
        let mut p = profile("karte-split-date");
        p.operations.push(OperationRule {
            value: "カルテ参照".into(),
            action: "record_viewed".into(),
        });
        let r = read(&sjis(text), &p);
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
        assert_eq!(r.encoding, "Shift_JIS");
        let e = &r.events[0].1;
        assert_eq!(e.time_ms, Some(jst("2025-04-01T09:12:03")));
        assert_eq!(e.actor.as_deref(), Some("D0012"));
        assert_eq!(e.object.as_deref(), Some("0001234"));
        assert_eq!(e.action, Action::RecordViewed);
        assert_eq!(e.field("職員名"), Some("田中　一郎"));
        assert_eq!(e.outcome, Outcome::Success);
        let e = &r.events[1].1;
        assert_eq!(e.time_ms, Some(jst("2025-04-01T09:15:00")));
        assert_eq!(e.action, Action::RecordChanged);
        assert_eq!(e.outcome, Outcome::Failure);
        // The generic profile detects Shift_JIS by itself.
        let r = read(
            &sjis("日時,利用者ID,患者ID,操作,端末\n2025/4/1 9:05,kango1,P-1,閲覧,端末A\n"),
            &profile("generic"),
        );
        assert_eq!(r.encoding, "Shift_JIS");
        assert_eq!(r.events[0].1.action, Action::RecordViewed);
        assert_eq!(r.events[0].1.source_host, "端末A");
    }

    #[test]
    fn no_header_tab_separated_by_position() {
        let text = "2025/04/01 08:30:00\tuketsuke\tPC-受付-01\t0000456\t照会\n\n2025/04/01 08:31:00\tuketsuke\tPC-受付-01\t0000456\t会計処理\n";
        let r = read(&sjis(text), &profile("rececon-tsv"));
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
        assert!(r.headers.is_empty());
        let lines: Vec<usize> = r.events.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![1, 3]);
        let e = &r.events[1].1;
        assert_eq!(e.source_host, "PC-受付-01");
        assert_eq!(e.action, Action::Other("会計処理".into()));
        assert_eq!(e.field("列5"), Some("会計処理"));
    }

    #[test]
    fn a_bad_row_is_named_and_its_neighbours_kept() {
        let text = "日時,利用者ID,患者ID,操作,端末\n2025/04/01 09:00:00,a,P-1,参照,T1\n昨日,b,P-2,参照,T1\n2025/04/01 09:02:00,,P-3,参照,T1\n2025/04/01 09:03:00,c\n2025/04/01 09:04:00,d,P-5,参照,T1\n";
        let r = read(text.as_bytes(), &profile("generic"));
        let lines: Vec<usize> = r.events.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![2, 6]);
        assert_eq!(r.skipped, 3);
        let got: Vec<(usize, &str, Option<&str>)> = r
            .diagnostics
            .iter()
            .map(|d| (d.line, d.code, d.column.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, codes::BAD_ROW_TIME, Some("日時")),
                (4, codes::MISSING_USER, Some("利用者ID")),
                (5, codes::SHORT_ROW, Some("患者ID")),
            ]
        );
        assert!(r.diagnostics[0].message_ja.contains("3行目"));
        assert!(r.diagnostics[0].message_ja.contains("「日時」"));
        assert!(r.diagnostics[2].message_ja.contains("列が足りません"));
    }

    #[test]
    fn the_wrong_profile_is_one_file_level_error() {
        // A split-date export read with the generic profile: the columns are named, once.
        let text = "日付,時刻,職員コード,患者番号,処理区分,端末名\n20250401,091203,D1,1,参照,T\n20250401,091204,D1,1,参照,T\n";
        let e = read_mapped_csv(
            text.as_bytes(),
            RECEIVED,
            &profile("generic"),
            &ACCESS_LOG_LIMITS,
        )
        .unwrap_err();
        assert_eq!(e.code(), "LOG0013");
        let LogFileError::ColumnsMissing { missing, found } = &e else {
            panic!("{e:?}");
        };
        assert_eq!(missing, &["日時", "利用者ID", "患者ID", "操作", "端末"]);
        assert_eq!(found.first().map(String::as_str), Some("日付"));
        assert!(
            e.message_ja().contains("日時、利用者ID"),
            "{}",
            e.message_ja()
        );
        // Without a header row, nothing that reads is one error naming the first problem.
        let e = read_mapped_csv(
            "a\tb\tc\td\te\nf\tg\th\ti\tj\n".as_bytes(),
            RECEIVED,
            &profile("rececon-tsv"),
            &ACCESS_LOG_LIMITS,
        )
        .unwrap_err();
        assert_eq!(e.code(), "LOG0014");
        assert!(e.message_ja().contains("2行"), "{}", e.message_ja());
        assert!(e.message_ja().contains("1行目"), "{}", e.message_ja());
        let e = read_mapped_csv(
            b"\r\n\r\n",
            RECEIVED,
            &profile("generic"),
            &ACCESS_LOG_LIMITS,
        )
        .unwrap_err();
        assert_eq!(e.code(), "LOG0015");
        // A header row alone is an empty log, not an error.
        let r = read(
            "日時,利用者ID,患者ID,操作,端末\n".as_bytes(),
            &profile("generic"),
        );
        assert_eq!((r.events.len(), r.skipped), (0, 0));
    }

    #[test]
    fn caps_on_size_rows_and_cells() {
        let p = profile("generic");
        let small = Limits {
            max_input_bytes: 10,
            ..ACCESS_LOG_LIMITS
        };
        let e = read_mapped_csv(&[b'a'; 11], RECEIVED, &p, &small).unwrap_err();
        assert_eq!(e.code(), "LOG0011");
        let few = Limits {
            max_rows: 2,
            max_cell_bytes: 20,
            ..ACCESS_LOG_LIMITS
        };
        let text = format!(
            "日時,利用者ID,患者ID,操作,端末\n2025/04/01 09:00:00,a,P-1,参照,T1\n2025/04/01 09:00:01,a,P-1,参照,{}\n2025/04/01 09:00:02,a,P-1,参照,T1\n",
            "x".repeat(21)
        );
        let r = read_mapped_csv(text.as_bytes(), RECEIVED, &p, &few).unwrap();
        assert_eq!(r.events.len(), 1);
        let got: Vec<(usize, &str)> = r.diagnostics.iter().map(|d| (d.line, d.code)).collect();
        assert_eq!(
            got,
            vec![(3, codes::CELL_TOO_LONG), (4, codes::TOO_MANY_LINES)]
        );
    }

    #[test]
    fn bytes_that_fit_no_encoding_are_replaced_and_noted() {
        let mut bytes = "日時,利用者ID,患者ID,操作,端末\n2025/04/01 09:00:00,a,P-1,参照,T1\n"
            .as_bytes()
            .to_vec();
        bytes.extend(b"2025/04/01 09:00:01,b\xff\xfe,P-2,x,T1\n");
        let r = read(&bytes, &profile("generic"));
        assert_eq!(r.events.len(), 2);
        assert_eq!(r.diagnostics[0].code, codes::REPLACED_CHARACTERS);
        assert_eq!(r.diagnostics[0].line, 3);
    }

    #[test]
    fn date_formats() {
        let at = jst("2025-04-01T09:12:03");
        for (text, f) in [
            ("2025/04/01 09:12:03", DateFormat::YmdSlash),
            ("2025/4/1 9:12:03", DateFormat::YmdSlash),
            ("2025-04-01 09:12:03", DateFormat::YmdDash),
            ("2025-04-01T09:12:03", DateFormat::Iso8601),
            ("2025-04-01T00:12:03Z", DateFormat::Iso8601),
            ("20250401091203", DateFormat::Compact),
            ("R7.04.01 09:12:03", DateFormat::Wareki),
            ("令和7年4月1日 09:12:03", DateFormat::Wareki),
        ] {
            assert_eq!(parse_combined(text, f), Some(at), "{text} {f:?}");
            assert_eq!(parse_combined(text, DateFormat::Auto), Some(at), "{text}");
        }
        assert_eq!(
            parse_combined("2025/04/01 09:12:03.5", DateFormat::YmdSlash),
            Some(at + 500)
        );
        for (text, f) in [
            ("2025-04-01 09:12:03", DateFormat::YmdSlash),
            ("2025/02/30 09:12:03", DateFormat::YmdSlash),
            ("2025/04/01", DateFormat::YmdSlash),
            ("2025/04/01 25:00:00", DateFormat::Auto),
            ("25/04/01 09:12:03", DateFormat::Auto),
            ("20250401 091203", DateFormat::Compact),
            ("2025/04/01 09:12:03", DateFormat::Wareki),
            ("", DateFormat::Auto),
        ] {
            assert_eq!(parse_combined(text, f), None, "{text} {f:?}");
        }
        assert_eq!(
            parse_split("2025/4/1", "9:12", DateFormat::Auto),
            Some(at - 3000)
        );
    }

    #[test]
    fn forms_are_checked_field_by_field() {
        let mut input = ProfileInput::of(&profile("generic"));
        assert_eq!(input.to_profile(), Ok(profile("generic")));
        input.name = "Bad Name".into();
        input.time = String::new();
        input.delimiter = "semicolon".into();
        input.operations = "参照 = record_viewed\n閲覧 = looked_at\n".into();
        assert_eq!(
            input.to_profile().unwrap_err(),
            vec![
                ("name", "LOG0201"),
                ("delimiter", "LOG0209"),
                ("time", "LOG0203"),
                ("operations", "LOG0208"),
            ]
        );
        let mut input = ProfileInput::of(&profile("rececon-tsv"));
        assert_eq!(input.to_profile(), Ok(profile("rececon-tsv")));
        input.user = "オペレータ".into();
        input.patient = "0".into();
        input.operations = "no equals sign".into();
        assert_eq!(
            input.to_profile().unwrap_err(),
            vec![
                ("user", "LOG0204"),
                ("patient", "LOG0205"),
                ("operations", "LOG0207")
            ]
        );
    }

    #[test]
    fn profiles_round_trip_through_json() {
        for p in shipped_profiles() {
            let json = serde_json::to_string(&p).unwrap();
            let back: CsvProfile = serde_json::from_str(&json).unwrap();
            assert_eq!(back, p);
            assert_eq!(ProfileInput::of(&p).to_profile(), Ok(p));
        }
        assert!(
            serde_json::from_str::<CsvProfile>(
                r#"{"name":"x","label":"x","header":true,"time":"","user":"u"}"#
            )
            .is_err()
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            for p in shipped_profiles() {
                let _ = read_mapped_csv(&bytes, RECEIVED, &p, &ACCESS_LOG_LIMITS);
            }
        }

        #[test]
        fn csv_ish_text_never_panics(text in "([0-9/: ,\t\"R.年月日a-z参照\r\n-]{0,30}\n){0,8}") {
            for p in shipped_profiles() {
                let _ = read_mapped_csv(text.as_bytes(), RECEIVED, &p, &ACCESS_LOG_LIMITS);
            }
        }
    }
}
