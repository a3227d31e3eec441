//! Collected logs: decoded events are sealed first (the sealed event log in `DATA/events`, one
//! durable batch per call, signed with the installation's key) and then indexed for search
//! (`log_events`). An event is acknowledged only once sealed; the index is derived and catches up
//! from the sealed log when a crash came between the two ([`Services::catch_up_event_index`]).

use crate::authz::{Cap, perm};
use crate::collect::{Collected, SourceKind, tallies};
use crate::error::{ServiceError, ServiceResult};
use crate::sealing::Sealer;
use crate::{ClientInfo, Services};
use mamori_domain::event::{Action, LogEvent, Outcome, Severity};
use mamori_ingest::{
    ACCESS_LOG_LIMITS, CsvProfile, EvtxLimits, JsonLinesOptions, LogFileError, MappedCsv,
    SyslogOptions, parse_syslog, read_evtx, read_json_lines, read_mapped_csv, shipped_profiles,
};
use mamori_storage::events::{EventQuery, EventRow, insert_events};
use mamori_storage::sources::tally_source;
use serde_json::json;
use std::path::Path;

/// Events sealed and indexed per batch: bounds memory and the length of one transaction.
pub const BATCH_EVENTS: usize = 5_000;
/// A source time further ahead of the receive time than this is flagged `future`.
pub const FUTURE_SLACK_MS: i64 = 5 * 60_000;
/// A source time further behind the receive time than this is flagged `past`.
pub const PAST_SLACK_MS: i64 = 366 * 86_400_000;
/// The index keeps this much of a message; the sealed record keeps all of it.
const INDEXED_MESSAGE_CHARS: usize = 2_000;
/// The index keeps this much of the other fields' values.
const INDEXED_WORDS_CHARS: usize = 1_000;

/// Opens the sealed event log in `data_dir/events`, signed with the same key as the audit
/// trail's sealed log (`data_dir/seal/seal.key`, copied on first use), so one fingerprint on
/// paper covers both. Fails with `SEA0002` when another process holds it.
pub fn open_event_log(data_dir: &Path) -> ServiceResult<Sealer> {
    let dir = data_dir.join("events");
    let io = |e: std::io::Error| ServiceError::Internal(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(&dir).map_err(io)?;
    let key = dir.join("seal.key");
    let audit_key = data_dir.join("seal").join("seal.key");
    if !key.exists() && audit_key.exists() {
        let bytes = std::fs::read(&audit_key).map_err(io)?;
        write_private(&key, &bytes).map_err(io)?;
    }
    Sealer::open(&dir)
}

/// Writes a new file readable by its owner only, fsynced.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Which decoder reads a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Windows `.evtx`.
    Evtx,
    /// JSON lines from a forwarder.
    JsonLines,
    /// One syslog message per line (a saved `/var/log/…` file or a forwarder's spool).
    Syslog,
    /// An access-log CSV export (EHR, レセコン), read through a mapping profile.
    Csv,
}

impl LogFormat {
    pub fn parse(s: &str) -> Option<LogFormat> {
        match s.to_ascii_lowercase().as_str() {
            "evtx" => Some(LogFormat::Evtx),
            "jsonl" | "json" | "ndjson" => Some(LogFormat::JsonLines),
            "syslog" | "log" | "txt" => Some(LogFormat::Syslog),
            "csv" | "tsv" => Some(LogFormat::Csv),
            _ => None,
        }
    }

    /// The format of a file by its first bytes, else its name's extension.
    pub fn detect(name: &str, bytes: &[u8]) -> Option<LogFormat> {
        if bytes.starts_with(b"ElfFile\0") {
            return Some(LogFormat::Evtx);
        }
        let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
        match LogFormat::parse(ext) {
            Some(LogFormat::Evtx) => Some(LogFormat::Evtx),
            Some(f) => Some(f),
            None if bytes.first() == Some(&b'{') => Some(LogFormat::JsonLines),
            None => None,
        }
    }
}

/// A file decoded: the events it holds and what could not be read.
#[derive(Debug, Clone, Default)]
pub struct DecodedFile {
    pub events: Vec<LogEvent>,
    /// Records or lines that could not be read.
    pub bad: usize,
    /// The first few problems, as `line N: CODE message` (Japanese).
    pub examples: Vec<String>,
}

/// Decodes a log file. A file that cannot be read at all (too large, not the format, a CSV that
/// does not fit its profile) is an error with its code; bad records or lines inside a readable
/// file are counted, never fatal. `profile` is for [`LogFormat::Csv`] (default: the shipped
/// `generic` profile).
pub fn decode_file(
    format: LogFormat,
    bytes: &[u8],
    received_ms: i64,
    peer: &str,
    profile: Option<&CsvProfile>,
) -> Result<DecodedFile, LogFileError> {
    match format {
        LogFormat::Csv => {
            let out = match profile {
                Some(p) => preview_csv(p, bytes, received_ms)?,
                None => {
                    let generic = shipped_profiles()
                        .into_iter()
                        .next()
                        .ok_or(LogFileError::Empty)?;
                    preview_csv(&generic, bytes, received_ms)?
                }
            };
            Ok(DecodedFile {
                bad: out.skipped,
                examples: out
                    .diagnostics
                    .iter()
                    .take(5)
                    .map(|d| format!("{} {}", d.code, d.message_ja))
                    .collect(),
                events: out.events.into_iter().map(|(_, e)| e).collect(),
            })
        }
        LogFormat::Evtx => {
            let out = read_evtx(bytes, received_ms, &EvtxLimits::default())?;
            Ok(DecodedFile {
                bad: out.bad_records,
                examples: out.examples,
                events: out.events,
            })
        }
        LogFormat::JsonLines => {
            let out = read_json_lines(bytes, received_ms, peer, &JsonLinesOptions::default())?;
            Ok(DecodedFile {
                bad: out.diagnostics.len(),
                examples: out
                    .diagnostics
                    .iter()
                    .take(5)
                    .map(|d| format!("{}行目: {} {}", d.line, d.code, d.message_ja))
                    .collect(),
                events: out.events.into_iter().map(|(_, e)| e).collect(),
            })
        }
        LogFormat::Syslog => {
            let opts = SyslogOptions::default();
            let mut out = DecodedFile::default();
            for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match parse_syslog(line, received_ms, peer, &opts) {
                    Ok(m) => out.events.push(m.event),
                    Err(e) => {
                        out.bad += 1;
                        if out.examples.len() < 5 {
                            out.examples.push(format!(
                                "{}行目: {} {}",
                                i + 1,
                                e.code(),
                                e.message_ja()
                            ));
                        }
                    }
                }
            }
            Ok(out)
        }
    }
}

/// Reads an access-log CSV with `profile`: every event with its line, and every problem.
pub fn preview_csv(
    profile: &CsvProfile,
    bytes: &[u8],
    received_ms: i64,
) -> Result<MappedCsv, LogFileError> {
    read_mapped_csv(bytes, received_ms, profile, &ACCESS_LOG_LIMITS)
}

/// The sealed form of an event: JSON with every field and the raw text.
pub fn event_payload(source: &str, e: &LogEvent) -> Vec<u8> {
    /// Written field by field, in this order, with no tree built in between (this runs for
    /// every collected event).
    #[derive(serde::Serialize)]
    struct Payload<'a> {
        v: u8,
        source: &'a str,
        time: Option<i64>,
        received: i64,
        host: &'a str,
        actor: &'a Option<String>,
        action: &'a str,
        object: &'a Option<String>,
        outcome: &'a str,
        severity: &'a str,
        message: &'a str,
        fields: &'a [(String, String)],
        raw: &'a str,
    }
    serde_json::to_vec(&Payload {
        v: 1,
        source,
        time: e.time_ms,
        received: e.received_ms,
        host: &e.source_host,
        actor: &e.actor,
        action: e.action.as_str(),
        object: &e.object,
        outcome: e.outcome.as_str(),
        severity: e.severity.as_str(),
        message: &e.message,
        fields: &e.fields,
        raw: &e.raw,
    })
    .unwrap_or_default()
}

/// The sort time of an event and why its own time was not used, if it was not.
pub fn sort_time(time_ms: Option<i64>, received_ms: i64) -> (i64, &'static str) {
    match time_ms {
        None => (received_ms, "missing"),
        Some(t) if t > received_ms.saturating_add(FUTURE_SLACK_MS) => (received_ms, "future"),
        Some(t) if t < received_ms.saturating_sub(PAST_SLACK_MS) => (received_ms, "past"),
        Some(t) => (t, ""),
    }
}

/// The index row of an event sealed as record `index`.
pub fn index_row(index: u64, source: &str, e: &LogEvent) -> EventRow {
    let (sort_ms, flag) = sort_time(e.time_ms, e.received_ms);
    EventRow {
        seal_index: i64::try_from(index).unwrap_or(i64::MAX),
        at_ms: e.time_ms,
        received_ms: e.received_ms,
        sort_ms,
        time_flag: flag.to_string(),
        source: source.to_string(),
        host: e.source_host.clone(),
        actor: e.actor.clone().filter(|a| !a.is_empty()),
        action: e.action.as_str().to_string(),
        object: e.object.clone().filter(|o| !o.is_empty()),
        outcome: e.outcome.as_str().to_string(),
        severity: i64::from(e.severity.number()),
        message: e.message.chars().take(INDEXED_MESSAGE_CHARS).collect(),
        words: index_words(e),
    }
}

/// The values of an event's fields, for the word search: what the message leaves out (a
/// Windows event's data, syslog structured data, a CSV's other columns).
fn index_words(e: &LogEvent) -> String {
    let mut out = String::new();
    for (k, v) in &e.fields {
        // Where it came from and syslog's numeric header say nothing a word search needs.
        if matches!(k.as_str(), "peer" | "facility" | "procid") {
            continue;
        }
        let v = v.trim();
        if v.is_empty() || v == "-" || e.message.contains(v) {
            continue;
        }
        if out.chars().count() + v.chars().count() + 1 > INDEXED_WORDS_CHARS {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(v);
    }
    out
}

/// The index row of a sealed record read back (catching up), or `None` when the payload is not
/// an event of this version.
pub fn row_from_payload(index: u64, payload: &[u8]) -> Option<EventRow> {
    let (source, event) = event_from_payload(payload)?;
    Some(index_row(index, &source, &event))
}

/// The source and event of a sealed payload (as [`event_payload`] wrote it, without `raw`);
/// `None` for a payload that is not one. Read into borrowed fields (the raw text is skipped, not
/// copied): live detection and index catch-up read every record this way.
pub fn event_from_payload(payload: &[u8]) -> Option<(String, LogEvent)> {
    use std::borrow::Cow;
    #[derive(serde::Deserialize)]
    struct Stored<'a> {
        v: u8,
        #[serde(borrow)]
        source: Cow<'a, str>,
        time: Option<i64>,
        received: i64,
        #[serde(borrow, default)]
        host: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        actor: Option<Cow<'a, str>>,
        #[serde(borrow)]
        action: Cow<'a, str>,
        #[serde(borrow, default)]
        object: Option<Cow<'a, str>>,
        #[serde(borrow)]
        outcome: Cow<'a, str>,
        #[serde(borrow)]
        severity: Cow<'a, str>,
        #[serde(borrow, default)]
        message: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        fields: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    }
    let p: Stored<'_> = serde_json::from_slice(payload).ok()?;
    if p.v != 1 {
        return None;
    }
    let event = LogEvent {
        time_ms: p.time,
        received_ms: p.received,
        source_host: p.host.map(Cow::into_owned).unwrap_or_default(),
        actor: p.actor.map(Cow::into_owned),
        action: Action::parse(&p.action).unwrap_or(Action::Other("unknown".into())),
        object: p.object.map(Cow::into_owned),
        outcome: Outcome::parse(&p.outcome).unwrap_or(Outcome::Unknown),
        severity: Severity::parse(&p.severity).unwrap_or(Severity::Informational),
        message: p.message.map(Cow::into_owned).unwrap_or_default(),
        fields: p
            .fields
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        raw: String::new(),
    };
    Some((p.source.into_owned(), event))
}

/// What one ingest did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestReceipt {
    /// Events sealed and indexed.
    pub accepted: usize,
    /// Record indices in the sealed event log, `[first, end)`.
    pub first: u64,
    pub end: u64,
}

impl Services {
    fn event_log(&self) -> ServiceResult<&Sealer> {
        self.events.as_ref().ok_or(ServiceError::Invalid {
            code: "LOG0020",
            field: "events",
        })
    }

    /// Seals `events` from `source` (durable when this returns), indexes them, and writes one
    /// audit event per batch. `on_batch` is told how many are done after each batch.
    pub async fn ingest_events(
        &self,
        actor: &str,
        source: &str,
        events: &[LogEvent],
        client: &ClientInfo,
        mut on_batch: impl FnMut(usize),
    ) -> ServiceResult<IngestReceipt> {
        let log = self.event_log()?.clone();
        let mut receipt = IngestReceipt::default();
        for (n, batch) in events.chunks(BATCH_EVENTS).enumerate() {
            let payloads: Vec<Vec<u8>> = batch.iter().map(|e| event_payload(source, e)).collect();
            let now = self.now_ms();
            let sealer = log.clone();
            let range = tokio::task::spawn_blocking(move || {
                let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
                sealer.append(now, &refs)
            })
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))??;
            let rows: Vec<EventRow> = range
                .clone()
                .zip(batch)
                .map(|(i, e)| index_row(i, source, e))
                .collect();
            let mut file = Collected::new(
                source.to_string(),
                SourceKind::File,
                source.to_string(),
                now,
            );
            file.events = batch.to_vec();
            let mut w = self.store.write().await?;
            insert_events(&mut w, &rows).await?;
            for t in tallies(&[&file]) {
                tally_source(&mut w, &t).await?;
            }
            self.audit(
                &mut w,
                actor,
                &client.source,
                "logs.ingested",
                &format!("logs:{source}"),
                json!({
                    "source": source,
                    "events": batch.len(),
                    "first_index": range.start,
                    "end_index": range.end,
                }),
            )
            .await?;
            w.commit().await?;
            if n == 0 {
                receipt.first = range.start;
            }
            receipt.end = range.end;
            receipt.accepted += batch.len();
            on_batch(receipt.accepted);
        }
        Ok(receipt)
    }

    /// Counts input of a file that could not be read into its source, with examples
    /// (as [`DecodedFile::examples`] gives them), so that the source's page shows what went wrong.
    pub async fn note_rejected(
        &self,
        source: &str,
        bad: u64,
        examples: &[String],
    ) -> ServiceResult<()> {
        if bad == 0 {
            return Ok(());
        }
        let mut file = Collected::new(
            source.to_string(),
            SourceKind::File,
            source.to_string(),
            self.now_ms(),
        );
        file.bad = bad;
        file.rejects = examples
            .iter()
            .map(|e| (String::new(), e.clone()))
            .collect();
        let mut w = self.store.write().await?;
        for t in tallies(&[&file]) {
            tally_source(&mut w, &t).await?;
        }
        w.commit().await?;
        Ok(())
    }

    /// [`Services::ingest_events`] for a person allowed to take logs in (the ログ pages).
    pub async fn ingest_file_events(
        &self,
        cap: &Cap<perm::ManageLogs>,
        source: &str,
        events: &[LogEvent],
        client: &ClientInfo,
    ) -> ServiceResult<IngestReceipt> {
        self.ingest_events(&cap.actor().label(), source, events, client, |_| {})
            .await
    }

    /// Indexes sealed events the index does not have yet (a crash after sealing, before
    /// indexing). Returns how many were indexed.
    pub async fn catch_up_event_index(&self) -> ServiceResult<u64> {
        let log = self.event_log()?.clone();
        let size = log.size()?;
        let mut next = u64::try_from(self.store.indexed_through().await?).unwrap_or(0);
        let mut done = 0;
        while next < size {
            let end = (next + BATCH_EVENTS as u64).min(size);
            let reader = log.clone();
            let rows = tokio::task::spawn_blocking(move || {
                (next..end)
                    .map(|i| reader.payload(i).map(|p| row_from_payload(i, &p)))
                    .collect::<ServiceResult<Vec<_>>>()
            })
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))??;
            let rows: Vec<EventRow> = rows.into_iter().flatten().collect();
            let mut w = self.store.write().await?;
            insert_events(&mut w, &rows).await?;
            w.commit().await?;
            done += rows.len() as u64;
            next = end;
        }
        if done > 0 {
            tracing::warn!(events = done, "indexed sealed events the index had missed");
        }
        Ok(done)
    }

    /// Events matching `q`, newest first, and how many match in all.
    pub async fn search_events(
        &self,
        _cap: &Cap<perm::ViewLogs>,
        q: &EventQuery,
    ) -> ServiceResult<(Vec<EventRow>, i64)> {
        let rows = self.store.search_events(q).await?;
        let total = self.store.count_events(q).await?;
        Ok((rows, total))
    }

    /// Every event matching `q` (its limit and offset aside), newest first, up to `max`, for a
    /// file to take away. Access logs name patients: the export is in the audit trail, with the
    /// filter and the count.
    pub async fn export_events(
        &self,
        cap: &Cap<perm::ViewLogs>,
        q: &EventQuery,
        max: usize,
        client: &ClientInfo,
    ) -> ServiceResult<Vec<EventRow>> {
        let mut out = Vec::new();
        let mut page = EventQuery {
            limit: 10_000,
            offset: 0,
            ..q.clone()
        };
        while out.len() < max {
            let rows = self.store.search_events(&page).await?;
            let n = rows.len();
            out.extend(rows.into_iter().take(max - out.len()));
            if n < 10_000 {
                break;
            }
            page.offset += 10_000;
        }
        let mut w = self.store.write().await?;
        self.audit(
            &mut w,
            &cap.actor().label(),
            &client.source,
            "logs.exported",
            "logs:search",
            json!({
                "actor": q.actor, "object": q.object, "host": q.host, "action": q.action,
                "source": q.source, "from": q.from_ms, "to": q.to_ms, "text": q.text,
                "events": out.len(),
            }),
        )
        .await?;
        w.commit().await?;
        Ok(out)
    }

    /// Events per source: (source, count, newest receive time).
    pub async fn event_sources(
        &self,
        _cap: &Cap<perm::ViewLogs>,
    ) -> ServiceResult<Vec<(String, i64, i64)>> {
        Ok(self.store.event_sources().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(time: Option<i64>) -> LogEvent {
        LogEvent {
            time_ms: time,
            received_ms: 1_000_000_000_000,
            source_host: "ehr-srv01".into(),
            actor: Some("yamada".into()),
            action: Action::RecordViewed,
            object: Some("P-000123".into()),
            outcome: Outcome::Success,
            severity: Severity::Informational,
            message: "カルテ参照".into(),
            fields: vec![("terminal".into(), "NS-PC01".into())],
            raw: "raw line".into(),
        }
    }

    #[test]
    fn implausible_times_are_flagged_not_dropped() {
        let r = 1_000_000_000_000;
        assert_eq!(sort_time(Some(r - 1000), r), (r - 1000, ""));
        assert_eq!(sort_time(None, r), (r, "missing"));
        assert_eq!(sort_time(Some(r + FUTURE_SLACK_MS + 1), r), (r, "future"));
        assert_eq!(sort_time(Some(r - PAST_SLACK_MS - 1), r), (r, "past"));
    }

    #[test]
    fn a_sealed_event_reads_back_as_its_index_row() {
        let e = event(Some(999_999_000_000));
        let payload = event_payload("ehr.csv", &e);
        let back = row_from_payload(42, &payload).unwrap();
        assert_eq!(back, index_row(42, "ehr.csv", &e));
        assert_eq!(row_from_payload(1, b"not json"), None);
        assert_eq!(row_from_payload(1, br#"{"v":2}"#), None);
        // The whole event comes back (all but the raw text), escapes and all.
        let mut e = event(None);
        e.message = "引用符 \" と改行\nと \\ バックスラッシュ".into();
        e.fields
            .push(("Data.0".into(), "C:\\Windows\\System32".into()));
        let (source, back) = event_from_payload(&event_payload("ehr.csv", &e)).unwrap();
        assert_eq!(source, "ehr.csv");
        assert_eq!(
            back,
            LogEvent {
                raw: String::new(),
                ..e
            }
        );
    }

    #[test]
    fn formats_are_told_by_content_then_name() {
        assert_eq!(
            LogFormat::detect("x.bin", b"ElfFile\0rest"),
            Some(LogFormat::Evtx)
        );
        assert_eq!(
            LogFormat::detect("a.jsonl", b"{}"),
            Some(LogFormat::JsonLines)
        );
        assert_eq!(
            LogFormat::detect("messages.log", b"<34>Oct"),
            Some(LogFormat::Syslog)
        );
        assert_eq!(
            LogFormat::detect("data", b"{\"a\":1}"),
            Some(LogFormat::JsonLines)
        );
        assert_eq!(LogFormat::detect("data", b"hello"), None);
        assert_eq!(
            LogFormat::detect("karte_202604.csv", "日時,利用者ID".as_bytes()),
            Some(LogFormat::Csv)
        );
    }

    #[test]
    fn a_csv_is_read_with_its_profile_and_its_bad_rows_counted() {
        let text = "日時,利用者ID,患者ID,操作,端末\n2026/04/01 09:00:00,sato,P-1,参照,PC-1\n2026/04/01 25:00:00,sato,P-1,参照,PC-1\n2026/04/01 09:01:00,sato,P-2,更新,PC-1\n";
        // No profile: the generic one.
        let out = decode_file(LogFormat::Csv, text.as_bytes(), 0, "local", None).unwrap();
        assert_eq!((out.events.len(), out.bad), (2, 1));
        assert!(
            out.examples[0].starts_with("LOG0111 3行目"),
            "{:?}",
            out.examples
        );
        assert_eq!(out.events[1].action, Action::RecordChanged);
        let tsv = shipped_profiles()
            .into_iter()
            .find(|p| p.name == "rececon-tsv")
            .unwrap();
        let e = decode_file(LogFormat::Csv, text.as_bytes(), 0, "local", Some(&tsv)).unwrap_err();
        assert_eq!(e.code(), "LOG0014");
    }

    #[test]
    fn a_bad_syslog_line_does_not_cost_its_neighbours() {
        let mut text = b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed\n".to_vec();
        text.extend(vec![b'x'; 70 * 1024]);
        text.extend(b"\n<13>Oct 11 22:14:16 mymachine sshd[1]: Accepted password\n");
        let out = decode_file(
            LogFormat::Syslog,
            &text,
            1_700_000_000_000,
            "192.0.2.1",
            None,
        )
        .unwrap();
        assert_eq!(out.events.len(), 2);
        assert_eq!(out.bad, 1);
        assert!(
            out.examples[0].starts_with("2行目: LOG0001"),
            "{:?}",
            out.examples
        );
    }
}
