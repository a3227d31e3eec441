//! JSON lines from log forwarders (Winlogbeat/ECS, NXLog `to_json`, Fluent Bit): one object per
//! line → one [`LogEvent`]. A bad line is a [`Diagnostic`] with its line number; the lines
//! around it are kept.

use crate::error::{Diagnostic, LogFileError, codes};
use crate::stamp::{self, JST};
use crate::syslog::decode_lossy;
use crate::windows;
use mamori_domain::event::{Action, LogEvent, Outcome, Severity};
use serde_json::Value;
use time::UtcOffset;

/// Largest input accepted, in bytes (200 MB).
pub const MAX_JSONL_INPUT_BYTES: usize = 200 * 1_000_000;
/// Longest line accepted, in bytes (64 KiB); longer lines are skipped with `LOG0108`.
pub const MAX_JSONL_LINE_BYTES: usize = 64 * 1024;
/// Most lines read (blank lines included); the rest is left with `LOG0109`.
pub const MAX_JSONL_LINES: usize = 1_000_000;

/// Caps and the zone of timestamps written without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonLinesOptions {
    pub max_input_bytes: usize,
    pub max_line_bytes: usize,
    pub max_lines: usize,
    /// For `EventTime` and other stamps without a zone (NXLog writes local time): +09:00.
    pub default_offset: UtcOffset,
}

impl Default for JsonLinesOptions {
    fn default() -> Self {
        JsonLinesOptions {
            max_input_bytes: MAX_JSONL_INPUT_BYTES,
            max_line_bytes: MAX_JSONL_LINE_BYTES,
            max_lines: MAX_JSONL_LINES,
            default_offset: JST,
        }
    }
}

/// The events of the good lines, each with its 1-based line number, and a diagnostic for
/// every line that was not one (or not entirely).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonLines {
    pub events: Vec<(usize, LogEvent)>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Field names read as the event's time, host and message, in order of preference (flattened:
/// nested objects are joined with `.`).
const TIME_FIELDS: [&str; 5] = ["@timestamp", "timestamp", "time", "EventTime", "date"];
const HOST_FIELDS: [&str; 8] = [
    "host.name",
    "host.hostname",
    "host",
    "Hostname",
    "hostname",
    "computer_name",
    "winlog.computer_name",
    "Computer",
];
const MESSAGE_FIELDS: [&str; 3] = ["message", "Message", "log"];
const USER_FIELDS: [&str; 4] = ["user.name", "user", "TargetUserName", "SubjectUserName"];
const SEVERITY_FIELDS: [&str; 4] = ["log.level", "Severity", "level", "severity"];

/// Reads JSON lines received at `received_ms` from `peer` (the forwarder's address, the host
/// when a line names none). Every field of a line is kept in `fields`, flattened (`a.b.0`),
/// except the ones copied into time, host and message; numbers and booleans as their JSON text,
/// nulls dropped; in serde_json's map order (sorted by key, or the line's order when the `evtx`
/// feature is on). Windows events (`winlog.event_id` + `winlog.channel`, or NXLog's `EventID` +
/// `Channel`) get their action, actor, object and outcome as in the `.evtx` reader; the rest
/// get the action `Other("json")` and `user.name`/`user`/`TargetUserName`/`SubjectUserName` as
/// the actor.
pub fn read_json_lines(
    bytes: &[u8],
    received_ms: i64,
    peer: &str,
    options: &JsonLinesOptions,
) -> Result<JsonLines, LogFileError> {
    if bytes.len() > options.max_input_bytes {
        return Err(LogFileError::TooLarge {
            size: bytes.len(),
            limit: options.max_input_bytes,
        });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut out = JsonLines {
        events: Vec::new(),
        diagnostics: Vec::new(),
    };
    for (index, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let number = index + 1;
        if index >= options.max_lines {
            if line.iter().any(|b| !b.is_ascii_whitespace()) || index + 1 < count_lines(bytes) {
                out.diagnostics.push(Diagnostic::new(
                    number,
                    None,
                    codes::TOO_MANY_LINES,
                    format!(
                        "{number}行目以降は読み込んでいません（上限 {} 行）",
                        options.max_lines
                    ),
                    format!(
                        "lines from {number} on were not read (limit {})",
                        options.max_lines
                    ),
                ));
            }
            break;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if line.len() > options.max_line_bytes {
            out.diagnostics.push(Diagnostic::new(
                number,
                None,
                codes::LINE_TOO_LONG,
                format!(
                    "{number}行目: 行が長すぎるため読み飛ばしました（{} バイト、上限 {} バイト）",
                    line.len(),
                    options.max_line_bytes
                ),
                format!(
                    "line {number}: skipped, {} bytes long; the limit is {} bytes",
                    line.len(),
                    options.max_line_bytes
                ),
            ));
            continue;
        }
        let (text, replaced) = decode_lossy(line);
        if replaced > 0 {
            out.diagnostics.push(Diagnostic::new(
                number,
                None,
                codes::INVALID_UTF8,
                format!("{number}行目: UTF-8 でない文字を置き換えました"),
                format!("line {number}: bytes that are not UTF-8 were replaced"),
            ));
        }
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => {
                let mut fields = Vec::new();
                for (key, value) in &map {
                    flatten(key, value, &mut fields);
                }
                let event = normalise(fields, text, received_ms, peer, options);
                out.events.push((number, event));
            }
            Ok(_) => out.diagnostics.push(Diagnostic::new(
                number,
                None,
                codes::BAD_JSON_LINE,
                format!("{number}行目: JSON オブジェクトではありません"),
                format!("line {number}: not a JSON object"),
            )),
            Err(e) => out.diagnostics.push(Diagnostic::new(
                number,
                None,
                codes::BAD_JSON_LINE,
                format!(
                    "{number}行目 {}文字目: JSON として読み取れません",
                    e.column()
                ),
                format!("line {number}, column {}: not valid JSON", e.column()),
            )),
        }
    }
    Ok(out)
}

fn count_lines(bytes: &[u8]) -> usize {
    bytes.split(|b| *b == b'\n').count()
}

/// Flattens `value` under `key` into (`a.b.0`, text) pairs.
fn flatten(key: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Null => {}
        Value::String(s) => out.push((key.to_string(), s.clone())),
        Value::Bool(_) | Value::Number(_) => out.push((key.to_string(), value.to_string())),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&format!("{key}.{i}"), item, out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                flatten(&format!("{key}.{k}"), v, out);
            }
        }
    }
}

/// Takes the first of `names` present with a non-empty value out of `fields`.
fn take(fields: &mut Vec<(String, String)>, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| {
        let i = fields
            .iter()
            .position(|(k, v)| k == name && !v.trim().is_empty())?;
        Some(fields.remove(i).1)
    })
}

fn get<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A time value: an ISO/RFC 3339 text (without a zone: `default_offset`), or a number of
/// seconds (below 10^11) or milliseconds since 1970.
fn parse_time(text: &str, default_offset: UtcOffset) -> Option<i64> {
    if let Some(t) = stamp::parse_iso(text, Some(default_offset)) {
        return Some(t);
    }
    let n: f64 = text.parse().ok()?;
    if !n.is_finite() {
        return None;
    }
    let ms = if n.abs() < 1e11 { n * 1000.0 } else { n };
    if ms.abs() >= 1e15 {
        return None;
    }
    // In range (checked above), so the conversion is exact to the millisecond.
    Some(ms.floor() as i64)
}

fn parse_severity(text: &str) -> Option<Severity> {
    Some(match text.trim().to_ascii_lowercase().as_str() {
        "emerg" | "emergency" | "panic" => Severity::Emergency,
        "alert" => Severity::Alert,
        "crit" | "critical" | "fatal" => Severity::Critical,
        "err" | "error" => Severity::Error,
        "warn" | "warning" => Severity::Warning,
        "notice" => Severity::Notice,
        "info" | "information" | "informational" => Severity::Informational,
        "debug" | "verbose" | "trace" => Severity::Debug,
        _ => return None,
    })
}

/// The Windows channel and event id of a line, from Winlogbeat or NXLog names.
fn windows_id(fields: &[(String, String)]) -> Option<(String, u32)> {
    let (channel, id) = [
        ("winlog.channel", "winlog.event_id"),
        ("Channel", "EventID"),
    ]
    .into_iter()
    .find_map(|(c, i)| Some((get(fields, c)?, get(fields, i)?)))?;
    Some((channel.to_string(), id.trim().parse().ok()?))
}

fn normalise(
    mut fields: Vec<(String, String)>,
    raw: String,
    received_ms: i64,
    peer: &str,
    options: &JsonLinesOptions,
) -> LogEvent {
    let time_ms =
        take(&mut fields, &TIME_FIELDS).and_then(|t| parse_time(&t, options.default_offset));
    let source_host = take(&mut fields, &HOST_FIELDS).unwrap_or_else(|| peer.to_string());
    let message = take(&mut fields, &MESSAGE_FIELDS).unwrap_or_default();
    let named_severity = SEVERITY_FIELDS
        .iter()
        .find_map(|f| parse_severity(get(&fields, f)?));
    let ecs_outcome = get(&fields, "event.outcome").and_then(|o| Outcome::parse(o.trim()));

    let (action, actor, object, outcome, severity) = match windows_id(&fields) {
        Some((channel, id)) => {
            let data = |name: &str| {
                get(&fields, &format!("winlog.event_data.{name}"))
                    .or_else(|| get(&fields, &format!("winlog.user_data.{name}")))
                    .or_else(|| get(&fields, name))
            };
            let (actor, object) = windows::actor_object(id, data);
            let keywords = get(&fields, "Keywords").and_then(windows::parse_keywords);
            let audit = fields.iter().find_map(|(k, v)| {
                let audit_field = k == "EventType" || k.starts_with("winlog.keywords");
                match v.to_ascii_lowercase().replace(['_', ' '], "").as_str() {
                    "auditsuccess" if audit_field => Some(windows::AUDIT_SUCCESS),
                    "auditfailure" if audit_field => Some(windows::AUDIT_FAILURE),
                    _ => None,
                }
            });
            let outcome = match windows::outcome(id, keywords.or(audit)) {
                Outcome::Unknown => ecs_outcome.unwrap_or(Outcome::Unknown),
                known => known,
            };
            let severity = named_severity.unwrap_or_else(|| {
                let level = ["winlog.level", "Level"]
                    .iter()
                    .find_map(|f| get(&fields, f)?.trim().parse().ok());
                windows::severity(level)
            });
            let action = windows::action(&channel, id);
            (action, actor, object, outcome, severity)
        }
        None => {
            let actor = USER_FIELDS
                .iter()
                .find_map(|f| get(&fields, f).filter(|v| !v.trim().is_empty() && *v != "-"))
                .map(str::to_string);
            (
                Action::Other("json".to_string()),
                actor,
                None,
                ecs_outcome.unwrap_or(Outcome::Unknown),
                named_severity.unwrap_or(Severity::Informational),
            )
        }
    };
    LogEvent {
        time_ms,
        received_ms,
        source_host,
        actor,
        action,
        object,
        outcome,
        severity,
        message,
        fields,
        raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read(text: &str) -> JsonLines {
        read_json_lines(
            text.as_bytes(),
            1_000,
            "192.0.2.7",
            &JsonLinesOptions::default(),
        )
        .unwrap()
    }

    fn ms(s: &str) -> Option<i64> {
        stamp::parse_iso(s, None)
    }

    #[test]
    fn winlogbeat_logon_failure() {
        let line = r#"{"@timestamp":"2024-05-01T01:02:03.456Z","host":{"name":"RECEPTION-PC"},"message":"An account failed to log on.","winlog":{"channel":"Security","event_id":4625,"computer_name":"reception-pc.clinic.local","keywords":["Audit Failure"],"event_data":{"TargetUserName":"yamada","SubjectUserName":"-","LogonType":"2","IpAddress":"-"}},"event":{"code":"4625","outcome":"failure"},"log":{"level":"information"}}"#;
        let r = read(line);
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
        let (n, e) = &r.events[0];
        assert_eq!(*n, 1);
        assert_eq!(e.time_ms, ms("2024-05-01T01:02:03.456Z"));
        assert_eq!(e.source_host, "RECEPTION-PC");
        assert_eq!(e.action, Action::LogonFailed);
        assert_eq!(e.actor.as_deref(), Some("yamada"));
        assert_eq!(e.outcome, Outcome::Failure);
        assert_eq!(e.severity, Severity::Informational);
        assert_eq!(e.message, "An account failed to log on.");
        assert_eq!(e.field("winlog.event_data.LogonType"), Some("2"));
        assert_eq!(e.field("winlog.keywords.0"), Some("Audit Failure"));
        assert_eq!(
            e.field("winlog.computer_name"),
            Some("reception-pc.clinic.local")
        );
        // What went into time, host and message is not repeated in the fields.
        assert_eq!(e.field("@timestamp"), None);
        assert_eq!(e.field("host.name"), None);
        assert_eq!(e.raw, line);
    }

    #[test]
    fn nxlog_account_created_in_local_time() {
        let r = read(
            r#"{"EventTime":"2024-05-01 10:00:00","Hostname":"DC01","EventID":4720,"Channel":"Security","EventType":"AUDIT_SUCCESS","SeverityValue":2,"Severity":"INFO","SubjectUserName":"admin","TargetUserName":"newnurse","Message":"A user account was created."}"#,
        );
        let e = &r.events[0].1;
        assert_eq!(e.time_ms, ms("2024-05-01T01:00:00Z"));
        assert_eq!(e.source_host, "DC01");
        assert_eq!(e.action, Action::AccountCreated);
        assert_eq!(e.actor.as_deref(), Some("admin"));
        assert_eq!(e.object.as_deref(), Some("newnurse"));
        assert_eq!(e.outcome, Outcome::Success);
        assert_eq!(e.message, "A user account was created.");
        // Without a severity name, a Windows event's numeric level is used.
        let r = read(r#"{"EventID":7036,"Channel":"System","Level":2}"#);
        assert_eq!(r.events[0].1.severity, Severity::Error);
        assert_eq!(
            r.events[0].1.action,
            Action::Other("windows:System:7036".into())
        );
    }

    #[test]
    fn fluent_bit_record() {
        let r = read(
            r#"{"date":1714525323.5,"log":"GET /emr/patient/123","user":"sato","level":"warn","kubernetes":{"labels":{"app":"emr"}},"tags":["a","b"],"none":null}"#,
        );
        let e = &r.events[0].1;
        assert_eq!(e.time_ms, Some(1_714_525_323_500));
        assert_eq!(e.source_host, "192.0.2.7");
        assert_eq!(e.action, Action::Other("json".into()));
        assert_eq!(e.actor.as_deref(), Some("sato"));
        assert_eq!(e.severity, Severity::Warning);
        assert_eq!(e.message, "GET /emr/patient/123");
        assert_eq!(e.field("kubernetes.labels.app"), Some("emr"));
        assert_eq!(e.field("tags.1"), Some("b"));
        assert_eq!(e.field("none"), None);
        assert_eq!(e.outcome, Outcome::Unknown);
    }

    #[test]
    fn bad_lines_are_diagnostics_and_good_lines_around_them_stay() {
        let text = "\u{feff}{\"message\":\"one\"}\r\n\n{not json\n[1,2]\n{\"message\":\"five\",\"time\":\"yesterday\"}\n";
        let r = read(text);
        let lines: Vec<usize> = r.events.iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, vec![1, 5]);
        assert_eq!(r.events[0].1.message, "one");
        assert_eq!(r.events[1].1.time_ms, None);
        let diags: Vec<(usize, &str)> = r.diagnostics.iter().map(|d| (d.line, d.code)).collect();
        assert_eq!(
            diags,
            vec![(3, codes::BAD_JSON_LINE), (4, codes::BAD_JSON_LINE)]
        );
        assert!(r.diagnostics[0].message_en.contains("column"));
    }

    #[test]
    fn caps_on_lines_and_input() {
        let opts = JsonLinesOptions {
            max_line_bytes: 20,
            max_lines: 3,
            ..JsonLinesOptions::default()
        };
        let text =
            "{\"message\":\"ok\"}\n{\"message\":\"far too long here\"}\n{\"a\":1}\n{\"b\":2}\n";
        let r = read_json_lines(text.as_bytes(), 0, "p", &opts).unwrap();
        assert_eq!(r.events.len(), 2);
        let diags: Vec<(usize, &str)> = r.diagnostics.iter().map(|d| (d.line, d.code)).collect();
        assert_eq!(
            diags,
            vec![(2, codes::LINE_TOO_LONG), (4, codes::TOO_MANY_LINES)]
        );
        // Exactly at the line cap, with a final newline, nothing is left unread.
        let r = read_json_lines(b"{}\n{}\n{}\n", 0, "p", &opts).unwrap();
        assert_eq!((r.events.len(), r.diagnostics.len()), (3, 0));
        let small = JsonLinesOptions {
            max_input_bytes: 4,
            ..JsonLinesOptions::default()
        };
        let e = read_json_lines(b"{}\n{}\n", 0, "p", &small).unwrap_err();
        assert_eq!(e.code(), "LOG0011");
    }

    #[test]
    fn invalid_utf8_is_replaced_and_noted() {
        let r = read_json_lines(
            b"{\"message\":\"caf\xe9\"}",
            0,
            "p",
            &JsonLinesOptions::default(),
        )
        .unwrap();
        assert_eq!(r.events[0].1.message, "caf\u{fffd}");
        assert_eq!(r.diagnostics[0].code, codes::INVALID_UTF8);
    }

    #[test]
    fn time_values() {
        assert_eq!(parse_time("1714525323", JST), Some(1_714_525_323_000));
        assert_eq!(parse_time("1714525323123", JST), Some(1_714_525_323_123));
        assert_eq!(parse_time("1e300", JST), None);
        assert_eq!(parse_time("NaN", JST), None);
        assert_eq!(
            parse_time("2024-05-01T10:00:00+09:00", JST),
            ms("2024-05-01T01:00:00Z")
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = read_json_lines(&bytes, 0, "p", &JsonLinesOptions::default());
        }

        #[test]
        fn json_ish_text_never_panics(text in r#"(\{("[a-zA-Z_.@]{0,8}":("[^"\\]{0,8}"|[0-9.e+-]{1,8}|\[\]|\{\}|null|true)[,]?){0,6}\}\n?){0,4}"#) {
            let _ = read_json_lines(text.as_bytes(), 0, "p", &JsonLinesOptions::default());
        }
    }
}
