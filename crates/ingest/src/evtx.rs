//! Windows event log files (`.evtx`) → [`LogEvent`]s, with the `evtx` crate: every record is
//! rendered to JSON and normalised (time, computer, action, actor, object, outcome, every
//! EventData/UserData field). A damaged file gives every record that can still be read and a
//! count of those that cannot.
//!
//! Compiled only with the crate feature `evtx` (off by default): see `crates/ingest/Cargo.toml`
//! for why.

use crate::error::LogFileError;
use crate::stamp;
use crate::windows;
use evtx::{EvtxChunkData, EvtxParser, ParserSettings};
use mamori_domain::event::LogEvent;
use serde_json::Value;
use std::io::Cursor;
use std::sync::Arc;

/// Largest file accepted, in bytes (256 MiB; Windows' default Security log is 20 MiB).
pub const MAX_EVTX_INPUT_BYTES: usize = 256 * 1024 * 1024;
/// Most events returned; later records are counted in [`EvtxOutcome::skipped`].
pub const MAX_EVTX_EVENTS: usize = 2_000_000;
/// How many error texts [`EvtxOutcome::examples`] keeps.
pub const MAX_EVTX_EXAMPLES: usize = 5;

/// File header magic.
const FILE_MAGIC: &[u8] = b"ElfFile\0";
/// Size of the file header block and of a chunk (fixed by the format).
const FILE_HEADER_BYTES: usize = 4096;
const CHUNK_BYTES: usize = 65536;
/// Longest error text kept as an example, in characters.
const EXAMPLE_CHARS: usize = 200;

/// Input caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvtxLimits {
    pub max_input_bytes: usize,
    pub max_events: usize,
}

impl Default for EvtxLimits {
    fn default() -> Self {
        EvtxLimits {
            max_input_bytes: MAX_EVTX_INPUT_BYTES,
            max_events: MAX_EVTX_EVENTS,
        }
    }
}

/// What a file gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvtxOutcome {
    /// One event per readable record, in the file's record order.
    pub events: Vec<LogEvent>,
    /// Records (or, for a chunk whose header is unreadable, whole chunks) that could not be
    /// read. For a file cut inside a chunk, the records that chunk's header announces but the
    /// cut removed.
    pub bad_records: usize,
    /// Good records beyond [`EvtxLimits::max_events`], not returned.
    pub skipped: usize,
    /// The first few errors, as text for the support desk (offsets and record numbers).
    pub examples: Vec<String>,
}

/// An error with its first cause: the top-level text alone rarely says what went wrong.
fn describe(e: &evtx::err::EvtxError) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// Reads a `.evtx` file received at `received_ms`. Refused only when too large or without the
/// EVTX file header; otherwise every readable record becomes an event (see [`normalise`]) and
/// unreadable ones are counted. A file cut inside its last chunk (a copy stopped half-way) still
/// gives the records before the cut.
pub fn read_evtx(
    bytes: &[u8],
    received_ms: i64,
    limits: &EvtxLimits,
) -> Result<EvtxOutcome, LogFileError> {
    let mut events = Vec::new();
    let mut skipped = 0;
    let (bad_records, examples) = walk(
        bytes,
        limits,
        &mut |json| match serde_json::from_str::<Value>(&json) {
            Ok(_) if events.len() >= limits.max_events => {
                skipped += 1;
                Ok(())
            }
            Ok(value) => {
                events.push(normalise(&value, json, received_ms));
                Ok(())
            }
            Err(e) => Err(format!("record JSON: {e}")),
        },
    )?;
    Ok(EvtxOutcome {
        events,
        bad_records,
        skipped,
        examples,
    })
}

/// What a file gave to [`read_evtx_records`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvtxCount {
    /// Records handed over.
    pub records: usize,
    /// Records that could not be read (as [`EvtxOutcome::bad_records`]).
    pub bad_records: usize,
    /// The first few errors.
    pub examples: Vec<String>,
}

/// Reads a `.evtx` file as [`read_evtx`] does, but hands each readable record to `each` as the
/// JSON text the parser rendered, without building events: for matching rules over a file
/// (`mamori detect scan`, which reads the text with `mamori_detect::RecordEvent`). A record
/// `each` refuses (with its reason) counts as unreadable.
pub fn read_evtx_records(
    bytes: &[u8],
    limits: &EvtxLimits,
    mut each: impl FnMut(&str) -> Result<(), String>,
) -> Result<EvtxCount, LogFileError> {
    let mut records = 0;
    let (bad_records, examples) = walk(bytes, limits, &mut |json| {
        each(&json)?;
        records += 1;
        Ok(())
    })?;
    Ok(EvtxCount {
        records,
        bad_records,
        examples,
    })
}

/// Counts of unreadable records and their first examples.
#[derive(Default)]
struct Bad {
    count: usize,
    examples: Vec<String>,
}

impl Bad {
    fn add(&mut self, count: usize, example: impl FnOnce() -> String) {
        self.count += count;
        if self.examples.len() < MAX_EVTX_EXAMPLES {
            self.examples
                .push(example().chars().take(EXAMPLE_CHARS).collect());
        }
    }
}

/// Every readable record of the file to `sink` as JSON text; a record the sink refuses counts as
/// unreadable with its reason. Returns the unreadable count and examples.
fn walk(
    bytes: &[u8],
    limits: &EvtxLimits,
    sink: &mut dyn FnMut(String) -> Result<(), String>,
) -> Result<(usize, Vec<String>), LogFileError> {
    if bytes.len() > limits.max_input_bytes {
        return Err(LogFileError::TooLarge {
            size: bytes.len(),
            limit: limits.max_input_bytes,
        });
    }
    if !bytes.starts_with(FILE_MAGIC) {
        return Err(LogFileError::NotEvtx);
    }
    let settings = ParserSettings::new()
        .indent(false)
        .separate_json_attributes(false);
    let mut parser = EvtxParser::from_read_seek(Cursor::new(bytes))
        .map_err(|_| LogFileError::NotEvtx)?
        .with_configuration(settings.clone());
    let mut bad = Bad::default();
    let mut give = |r: String, bad: &mut Bad| {
        if let Err(e) = sink(r) {
            bad.add(1, || e);
        }
    };
    for record in parser.records_json() {
        match record {
            Ok(r) => give(r.data, &mut bad),
            Err(e) => bad.add(1, || describe(&e)),
        }
    }
    read_cut_chunk(bytes, settings, &mut |r, bad| give(r, bad), &mut bad);
    Ok((bad.count, bad.examples))
}

/// The parser reads whole chunks only: a last chunk cut short is read here, padded with zeros.
fn read_cut_chunk(
    bytes: &[u8],
    settings: ParserSettings,
    give: &mut dyn FnMut(String, &mut Bad),
    out: &mut Bad,
) {
    let Some(chunk_area) = bytes.len().checked_sub(FILE_HEADER_BYTES) else {
        return;
    };
    let cut = chunk_area % CHUNK_BYTES;
    let number = chunk_area / CHUNK_BYTES;
    let Some(tail) = bytes.get(bytes.len() - cut..).filter(|t| !t.is_empty()) else {
        return;
    };
    if tail.iter().all(|b| *b == 0) {
        return;
    }
    let mut data = tail.to_vec();
    data.resize(CHUNK_BYTES, 0);
    let mut chunk = match EvtxChunkData::new(data, false) {
        Ok(c) => c,
        Err(e) => {
            out.add(1, || {
                format!("chunk {number} is cut off at {cut} bytes: {e}")
            });
            return;
        }
    };
    let header = &chunk.header;
    let announced = header
        .last_event_record_id
        .checked_sub(header.first_event_record_id)
        .and_then(|d| usize::try_from(d).ok())
        .map_or(0, |d| d.saturating_add(1));
    let parsed = match chunk.parse(Arc::new(settings)) {
        Ok(mut parsed) => {
            let mut read = 0usize;
            for record in parsed.iter() {
                // The zeros past the cut can render as a plausible record with its text cut
                // short, so a record counts only when it ends (with its 4-byte size copy)
                // before the cut. Records past the cut are counted once below, from the header.
                let Ok(record) = record else { break };
                let end = record
                    .binxml_offset
                    .saturating_add(u64::from(record.binxml_size))
                    .saturating_add(4);
                if end > cut as u64 {
                    break;
                }
                match record.into_json().map(|r| r.data) {
                    Ok(r) => {
                        read += 1;
                        give(r, out);
                    }
                    Err(_) => break,
                }
            }
            read
        }
        Err(_) => 0,
    };
    let lost = announced.saturating_sub(parsed).max(1);
    out.add(lost, || {
        format!("chunk {number} is cut off at {cut} of {CHUNK_BYTES} bytes: {lost} records lost")
    });
}

/// A JSON value as field text: strings as they are, numbers and booleans as JSON.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
        _ => None,
    }
}

/// A number written as a JSON number or as text.
fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An element's text: the value itself, or its `#text` when it also has attributes.
fn element_text(v: &Value) -> &Value {
    v.get("#text").unwrap_or(v)
}

/// Flattens `value` under `key` into (`a.b.0`, text) pairs, dropping XML namespace attributes.
fn flatten(key: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let name = if key.is_empty() {
                    k.clone()
                } else {
                    format!("{key}.{k}")
                };
                flatten(&name, v, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&format!("{key}.{i}"), item, out);
            }
        }
        v => {
            if let Some(t) = text(v)
                && !key.ends_with("xmlns")
            {
                out.push((key.to_string(), t));
            }
        }
    }
}

/// One record's JSON (as the `evtx` crate renders it, attributes under `#attributes`) → event.
///
/// - `time_ms`: `System.TimeCreated.#attributes.SystemTime`; `source_host`: `System.Computer`;
/// - `action`: [`mamori_domain::event::windows_action`] of `System.Channel` and
///   `System.EventID` (its `#text` when it has `Qualifiers`), else `windows:<channel>:<id>`;
/// - `actor`/`object`: by event id, from `TargetUserName`, `SubjectUserName`, `MemberName` …;
/// - `outcome`: failure for 4625 and audit-failure keywords, success for audit-success ones;
/// - `severity`: from `System.Level`; `message`: `<channel> <id>` (the text itself lives in
///   the provider's message DLL, not in the file);
/// - `fields`: `channel`, `event_id`, `record_id`, `provider`, `level`, `keywords`, `user_sid`,
///   then every `EventData` field by name (under `Data.` when unnamed) and every `UserData` field
///   without its wrapper element (`SubjectUserName` for `LogFileCleared`);
/// - `raw`: the record's JSON.
pub fn normalise(value: &Value, raw: String, received_ms: i64) -> LogEvent {
    let event = value.get("Event").unwrap_or(value);
    let system = event.get("System").unwrap_or(&Value::Null);
    let attr = |element: &str, name: &str| {
        system
            .get(element)
            .and_then(|e| e.get("#attributes"))
            .and_then(|a| a.get(name))
    };
    let channel = system.get("Channel").and_then(text).unwrap_or_default();
    let event_id = system
        .get("EventID")
        .map(element_text)
        .and_then(number)
        .and_then(|n| u32::try_from(n).ok());
    let level = system.get("Level").map(element_text).and_then(number);
    let keywords = system
        .get("Keywords")
        .map(element_text)
        .and_then(|k| match k {
            Value::String(s) => windows::parse_keywords(s),
            other => number(other),
        });

    let mut fields = Vec::new();
    let mut push = |name: &str, v: Option<String>| {
        if let Some(v) = v {
            fields.push((name.to_string(), v));
        }
    };
    push("channel", Some(channel.clone()).filter(|c| !c.is_empty()));
    push("event_id", event_id.map(|id| id.to_string()));
    push(
        "record_id",
        system.get("EventRecordID").map(element_text).and_then(text),
    );
    push("provider", attr("Provider", "Name").and_then(text));
    push("level", level.map(|l| l.to_string()));
    push(
        "keywords",
        system.get("Keywords").map(element_text).and_then(text),
    );
    push("user_sid", attr("Security", "UserID").and_then(text));
    if let Some(data) = event.get("EventData") {
        flatten("", data, &mut fields);
    }
    if let Some(Value::Object(user_data)) = event.get("UserData") {
        for wrapper in user_data.values() {
            flatten("", wrapper, &mut fields);
        }
    }

    let id = event_id.unwrap_or(0);
    let (actor, object) = windows::actor_object(id, |name| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    });
    let message = match event_id {
        Some(id) => format!("{channel} {id}"),
        None => channel.clone(),
    };
    LogEvent {
        time_ms: attr("TimeCreated", "SystemTime")
            .and_then(Value::as_str)
            .and_then(|t| stamp::parse_iso(t, None)),
        received_ms,
        source_host: system.get("Computer").and_then(text).unwrap_or_default(),
        actor,
        action: windows::action(&channel, id),
        object,
        outcome: windows::outcome(id, keywords),
        severity: windows::severity(level),
        message,
        fields,
        raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_domain::event::{Action, Outcome, Severity};
    use std::path::PathBuf;

    /// A sample from the EVTX-ATTACK-SAMPLES collection (GPL, so never copied into the
    /// repository): `MAMORI_TEST_EVTX_SAMPLES`, else `shared/testdata/evtx` next to the
    /// checkout. `None`, printing that the test was skipped, when it is not there — except under
    /// CI (`CI` set), where shared/ always lies beside the clone and a missing sample fails.
    fn sample(name: &str) -> Option<Vec<u8>> {
        let dir = std::env::var_os("MAMORI_TEST_EVTX_SAMPLES")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/evtx")
            });
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "EVTX sample {} not readable under CI ({e})",
                    path.display()
                );
                eprintln!("skipped: EVTX sample {} not readable ({e})", path.display());
                None
            }
        }
    }

    fn read(bytes: &[u8]) -> EvtxOutcome {
        read_evtx(bytes, 7, &EvtxLimits::default()).unwrap()
    }

    #[test]
    fn security_log_cleared() {
        let Some(bytes) = sample("Defense Evasion/DE_1102_security_log_cleared.evtx") else {
            return;
        };
        let out = read(&bytes);
        assert_eq!(out.bad_records, 0, "{:?}", out.examples);
        let cleared: Vec<&LogEvent> = out
            .events
            .iter()
            .filter(|e| e.action == Action::AuditLogCleared)
            .collect();
        assert!(!cleared.is_empty());
        let e = cleared[0];
        assert_eq!(e.field("channel"), Some("Security"));
        assert_eq!(e.field("event_id"), Some("1102"));
        assert!(e.actor.is_some(), "{:?}", e.fields);
        assert_eq!(e.field("SubjectUserName"), e.actor.as_deref());
        assert!(e.time_ms.is_some());
        assert!(!e.source_host.is_empty());
        assert_eq!(e.received_ms, 7);
        assert!(e.raw.starts_with('{'));
    }

    #[test]
    fn system_log_cleared() {
        let Some(bytes) = sample("Defense Evasion/DE_104_system_log_cleared.evtx") else {
            return;
        };
        let out = read(&bytes);
        let e = out
            .events
            .iter()
            .find(|e| e.action == Action::EventLogCleared)
            .expect("a 104 event");
        assert_eq!(e.field("channel"), Some("System"));
        // 104 has Qualifiers, so its EventID is an object with `#text`.
        assert_eq!(e.field("event_id"), Some("104"));
        assert!(e.actor.is_some(), "{:?}", e.fields);
    }

    #[test]
    fn logons_and_failed_logons() {
        let Some(bytes) = sample("Credential Access/CA_4624_4625_LogonType2_LogonProc_chrome.evtx")
        else {
            return;
        };
        let out = read(&bytes);
        assert_eq!(out.bad_records, 0, "{:?}", out.examples);
        let logon = out
            .events
            .iter()
            .find(|e| e.action == Action::Logon)
            .expect("a 4624");
        assert_eq!(logon.actor.as_deref(), logon.field("TargetUserName"));
        assert!(logon.actor.is_some());
        assert_eq!(logon.outcome, Outcome::Success);
        assert_eq!(logon.severity, Severity::Informational);
        let failed = out
            .events
            .iter()
            .find(|e| e.action == Action::LogonFailed)
            .expect("a 4625");
        assert_eq!(failed.actor.as_deref(), failed.field("TargetUserName"));
        assert_eq!(failed.outcome, Outcome::Failure);
        assert!(failed.field("LogonType").is_some());
        assert!(failed.time_ms.is_some());
    }

    #[test]
    fn account_created_names_admin_and_account() {
        let Some(bytes) = sample("Defense Evasion/DE_Fake_ComputerAccount_4720.evtx") else {
            return;
        };
        let out = read(&bytes);
        let e = out
            .events
            .iter()
            .find(|e| e.action == Action::AccountCreated)
            .expect("a 4720");
        assert_eq!(e.actor.as_deref(), e.field("SubjectUserName"));
        assert_eq!(e.object.as_deref(), e.field("TargetUserName"));
        assert!(e.object.is_some());
    }

    #[test]
    fn a_truncated_file_keeps_the_records_before_the_cut() {
        let Some(bytes) = sample("Credential Access/CA_4624_4625_LogonType2_LogonProc_chrome.evtx")
        else {
            return;
        };
        let whole = read(&bytes);
        let n = whole.events.len();
        assert!(n > 2);
        // Cut in the middle of the last chunk's records.
        let chunks = (bytes.len() - FILE_HEADER_BYTES) / CHUNK_BYTES;
        let last = FILE_HEADER_BYTES + (chunks - 1) * CHUNK_BYTES;
        let mut cut_at = None;
        for cut in (last + 1024..last + CHUNK_BYTES).step_by(512) {
            let part = read(&bytes[..cut]);
            if part.events.len() < n && !part.events.is_empty() {
                cut_at = Some((cut, part));
                break;
            }
        }
        let (cut, part) = cut_at.expect("a cut that loses records");
        assert!(part.bad_records >= 1, "cut at {cut}");
        assert!(part.bad_records + part.events.len() >= n, "cut at {cut}");
        assert!(!part.examples.is_empty());
        // The records before the cut are the same events.
        assert_eq!(part.events[..], whole.events[..part.events.len()]);
        // A cut inside the header of the last chunk loses that chunk only.
        let part = read(&bytes[..last + 100]);
        assert!(part.bad_records >= 1);
        // A cut inside the file header is not an EVTX file any more, or has no records.
        match read_evtx(&bytes[..100], 0, &EvtxLimits::default()) {
            Ok(o) => assert!(o.events.is_empty()),
            Err(e) => assert_eq!(e.code(), "LOG0012"),
        }
    }

    #[test]
    fn refused_inputs() {
        assert_eq!(
            read_evtx(b"not evtx", 0, &EvtxLimits::default()).unwrap_err(),
            LogFileError::NotEvtx
        );
        let small = EvtxLimits {
            max_input_bytes: 10,
            ..EvtxLimits::default()
        };
        assert_eq!(
            read_evtx(&[0; 11], 0, &small).unwrap_err().code(),
            "LOG0011"
        );
        let capped = EvtxLimits {
            max_events: 1,
            ..EvtxLimits::default()
        };
        let Some(bytes) = sample("Defense Evasion/DE_1102_security_log_cleared.evtx") else {
            return;
        };
        let out = read_evtx(&bytes, 0, &capped).unwrap();
        assert_eq!(out.events.len(), 1);
        assert!(out.skipped >= 1);
    }

    #[test]
    fn random_byte_flips_never_panic() {
        let Some(bytes) = sample("Credential Access/CA_4624_4625_LogonType2_LogonProc_chrome.evtx")
        else {
            return;
        };
        // A fixed pseudo-random sequence (xorshift), so a failure can be replayed.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..40 {
            let mut damaged = bytes.clone();
            let flips = 1 + (next() % 64) as usize;
            for _ in 0..flips {
                // Past the file header magic, so the parser gets to the chunks.
                let at = 8 + (next() as usize) % (damaged.len() - 8);
                damaged[at] ^= 1 << (next() % 8);
            }
            let out = read_evtx(&damaged, 0, &EvtxLimits::default());
            if let Ok(out) = out {
                assert!(out.examples.len() <= MAX_EVTX_EXAMPLES, "round {round}");
            }
        }
    }
}
