//! Syslog without I/O: [`parse_syslog`] turns one message (RFC 5424, RFC 3164/BSD, or bare
//! text) into a [`LogEvent`]; [`SyslogFramer`] splits a TCP byte stream into messages
//! (RFC 6587: octet counting or newline-terminated, chosen per connection).
//!
//! Decoding is lenient, because a collector that drops what it cannot parse loses evidence: a
//! broken timestamp, PRI or structured data is kept as text and noted with a `LOG01xx` code
//! ([`SyslogMessage::notes`]). Only an empty or oversized message is refused ([`SyslogError`]).

use crate::error::codes;
use crate::stamp::{self, JST};
use mamori_domain::event::{Action, LogEvent, Outcome, Severity};
use time::UtcOffset;

/// Largest syslog message accepted, in bytes (64 KiB).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// How messages are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyslogOptions {
    /// The zone of timestamps that carry none (RFC 3164, and ISO stamps without an offset).
    /// Japanese facilities: +09:00 ([`JST`], the default).
    pub default_offset: UtcOffset,
    /// Larger messages are refused with `LOG0001`.
    pub max_message_bytes: usize,
}

impl Default for SyslogOptions {
    fn default() -> Self {
        SyslogOptions {
            default_offset: JST,
            max_message_bytes: MAX_MESSAGE_BYTES,
        }
    }
}

/// A message or a stream was refused. Stable codes (`LOG0001`…) for the support desk; messages
/// name sizes, never content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyslogError {
    /// `LOG0001`
    #[error("the syslog message is {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    /// `LOG0002`: nothing but line ends, spaces or NUL bytes.
    #[error("the syslog message is empty")]
    Empty,
    /// `LOG0003`: a newline-terminated frame longer than the limit. It is skipped and the
    /// stream goes on after its newline.
    #[error("a syslog frame is longer than {limit} bytes; skipped")]
    FrameTooLong { limit: usize },
    /// `LOG0004`: an octet-counted frame announces more than the limit. Fatal: the stream
    /// cannot be resynchronised, the connection should be closed.
    #[error("a syslog frame announces {length} bytes; the limit is {limit} bytes")]
    OctetCountTooLarge { length: u64, limit: usize },
    /// `LOG0005`: octet counting, but what should be a length is not digits and a space.
    /// Fatal.
    #[error("the syslog stream has a bad frame length")]
    BadOctetCount,
    /// `LOG0006`: the stream ended inside an octet-counted frame.
    #[error("the syslog stream ended {missing} bytes before the end of a frame")]
    Truncated { missing: usize },
}

impl SyslogError {
    /// Stable code for the message catalog and the support desk.
    pub fn code(&self) -> &'static str {
        match self {
            SyslogError::TooLarge { .. } => "LOG0001",
            SyslogError::Empty => "LOG0002",
            SyslogError::FrameTooLong { .. } => "LOG0003",
            SyslogError::OctetCountTooLarge { .. } => "LOG0004",
            SyslogError::BadOctetCount => "LOG0005",
            SyslogError::Truncated { .. } => "LOG0006",
        }
    }

    /// Whether the connection cannot go on after this error.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            SyslogError::OctetCountTooLarge { .. } | SyslogError::BadOctetCount
        )
    }

    /// A short Japanese explanation.
    pub fn message_ja(&self) -> String {
        match self {
            SyslogError::TooLarge { size, limit } => {
                format!("syslog メッセージが大きすぎます（{size} バイト、上限 {limit} バイト）")
            }
            SyslogError::Empty => "syslog メッセージが空です".to_string(),
            SyslogError::FrameTooLong { limit } => {
                format!("上限（{limit} バイト）を超える syslog メッセージを読み飛ばしました")
            }
            SyslogError::OctetCountTooLarge { length, limit } => format!(
                "syslog の長さ指定（{length} バイト）が上限（{limit} バイト）を超えています。接続を切断します"
            ),
            SyslogError::BadOctetCount => {
                "syslog の長さ指定を読み取れません。接続を切断します".to_string()
            }
            SyslogError::Truncated { missing } => {
                format!("syslog メッセージの途中（残り {missing} バイト）で接続が終了しました")
            }
        }
    }

    /// The same in English.
    pub fn message_en(&self) -> String {
        self.to_string()
    }
}

/// Which header a message had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogFormat {
    /// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG`.
    Rfc5424,
    /// `<PRI>Mmm dd hh:mm:ss HOSTNAME TAG: MSG`, with or without the hostname, with or without
    /// the PRI (and also with an ISO timestamp in place of the BSD one).
    Rfc3164,
    /// No header was recognised: the whole text is the message.
    Unstructured,
}

/// One decoded syslog message: the normalised event and what only syslog has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogMessage {
    pub format: SyslogFormat,
    /// Facility (0–23) from the PRI; `None` without a valid PRI.
    pub facility: Option<u8>,
    pub app_name: Option<String>,
    pub procid: Option<String>,
    pub msgid: Option<String>,
    /// How many runs of bytes that are not UTF-8 were replaced with U+FFFD.
    pub replaced_invalid_utf8: usize,
    /// What was wrong but did not stop decoding: `LOG01xx` codes from [`codes`].
    pub notes: Vec<&'static str>,
    /// The event. `source_host` is the HOSTNAME the message claims, else `peer`; `fields` hold
    /// `peer`, `facility`, `app_name`, `procid`, `msgid` when present, then every structured
    /// data parameter as `SD-ID.NAME` (RFC 5424). The action is `Other("syslog")`.
    pub event: LogEvent,
}

/// Decodes one syslog message received at `received_ms` from `peer` (the sender's address).
/// Trailing line ends and NUL bytes (framing leftovers) are ignored.
pub fn parse_syslog(
    bytes: &[u8],
    received_ms: i64,
    peer: &str,
    options: &SyslogOptions,
) -> Result<SyslogMessage, SyslogError> {
    if bytes.len() > options.max_message_bytes {
        return Err(SyslogError::TooLarge {
            size: bytes.len(),
            limit: options.max_message_bytes,
        });
    }
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b'\n' | b'\r' | 0))
        .map_or(0, |i| i + 1);
    let bytes = bytes.get(..end).unwrap_or_default();
    if bytes.iter().all(|b| b.is_ascii_whitespace() || *b == 0) {
        return Err(SyslogError::Empty);
    }
    let (text, replaced) = decode_lossy(bytes);
    let mut notes = Vec::new();
    if replaced > 0 {
        notes.push(codes::INVALID_UTF8);
    }

    let (pri, rest) = match parse_pri(&text) {
        Pri::Valid(pri, rest) => (Some(pri), rest),
        Pri::Missing => {
            notes.push(codes::NO_PRI);
            (None, text.as_str())
        }
        Pri::Bad => {
            notes.push(codes::BAD_PRI);
            (None, text.as_str())
        }
    };
    let header = match (pri, rest.strip_prefix("1 ")) {
        (Some(_), Some(after_version)) => parse_5424(after_version, &mut notes),
        _ => parse_3164(rest, pri.is_some(), received_ms, options, &mut notes),
    };

    let facility = pri.map(|p| p / 8);
    let severity = pri
        .and_then(|p| Severity::from_number(p % 8))
        .unwrap_or(Severity::Notice);
    let mut fields = vec![("peer".to_string(), peer.to_string())];
    let mut push = |name: &str, value: &Option<String>| {
        if let Some(v) = value {
            fields.push((name.to_string(), v.clone()));
        }
    };
    push("facility", &facility.map(|f| f.to_string()));
    push("app_name", &header.app_name);
    push("procid", &header.procid);
    push("msgid", &header.msgid);
    fields.extend(header.structured_data);

    let event = LogEvent {
        time_ms: header.time_ms,
        received_ms,
        source_host: header.hostname.unwrap_or_else(|| peer.to_string()),
        actor: None,
        action: Action::Other("syslog".to_string()),
        object: None,
        outcome: Outcome::Unknown,
        severity,
        message: header.msg,
        fields,
        raw: text.clone(),
    };
    Ok(SyslogMessage {
        format: header.format,
        facility,
        app_name: header.app_name,
        procid: header.procid,
        msgid: header.msgid,
        replaced_invalid_utf8: replaced,
        notes,
        event,
    })
}

/// UTF-8 with every invalid run replaced by U+FFFD, and the number of runs replaced.
pub(crate) fn decode_lossy(bytes: &[u8]) -> (String, usize) {
    let mut out = String::with_capacity(bytes.len());
    let mut replaced = 0;
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            out.push(char::REPLACEMENT_CHARACTER);
            replaced += 1;
        }
    }
    (out, replaced)
}

enum Pri<'a> {
    Valid(u8, &'a str),
    Missing,
    Bad,
}

/// `<PRI>`: one to three digits, 0–191.
fn parse_pri(text: &str) -> Pri<'_> {
    let Some(after) = text.strip_prefix('<') else {
        return Pri::Missing;
    };
    let Some((digits, rest)) = after.split_once('>') else {
        return Pri::Bad;
    };
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Pri::Bad;
    }
    match digits.parse::<u8>() {
        Ok(p) if p <= 191 => Pri::Valid(p, rest),
        _ => Pri::Bad,
    }
}

/// The parts of a header, whichever format.
struct Header {
    format: SyslogFormat,
    time_ms: Option<i64>,
    hostname: Option<String>,
    app_name: Option<String>,
    procid: Option<String>,
    msgid: Option<String>,
    structured_data: Vec<(String, String)>,
    msg: String,
}

impl Header {
    fn unstructured(format: SyslogFormat, msg: &str) -> Header {
        Header {
            format,
            time_ms: None,
            hostname: None,
            app_name: None,
            procid: None,
            msgid: None,
            structured_data: Vec::new(),
            msg: msg.to_string(),
        }
    }
}

/// `-` is the RFC 5424 nil value; an empty token (two spaces) is read the same way.
fn non_nil(token: &str) -> Option<String> {
    (!token.is_empty() && token != "-").then(|| token.to_string())
}

/// The RFC 5424 header after `<PRI>1 `.
fn parse_5424(text: &str, notes: &mut Vec<&'static str>) -> Header {
    let mut rest = text;
    let mut tokens: [Option<&str>; 5] = [None; 5];
    for slot in &mut tokens {
        if rest.is_empty() {
            break;
        }
        let (token, after) = rest.split_once(' ').unwrap_or((rest, ""));
        *slot = Some(token);
        rest = after;
    }
    let [stamp, hostname, app, procid, msgid] = tokens;
    if msgid.is_none() {
        notes.push(codes::SHORT_HEADER);
    }
    let time_ms = match stamp.and_then(non_nil) {
        None => None,
        Some(s) => {
            let t = stamp::parse_iso(&s, None);
            if t.is_none() {
                notes.push(codes::BAD_TIMESTAMP);
            }
            t
        }
    };
    let (structured_data, msg) = if let Some(after) = rest.strip_prefix('-') {
        match after.strip_prefix(' ') {
            Some(msg) => (Vec::new(), msg),
            None if after.is_empty() => (Vec::new(), ""),
            None => {
                notes.push(codes::BAD_STRUCTURED_DATA);
                (Vec::new(), rest)
            }
        }
    } else if rest.starts_with('[') {
        match parse_structured_data(rest) {
            Some(parsed) => parsed,
            None => {
                notes.push(codes::BAD_STRUCTURED_DATA);
                (Vec::new(), rest)
            }
        }
    } else {
        if !rest.is_empty() {
            notes.push(codes::BAD_STRUCTURED_DATA);
        }
        (Vec::new(), rest)
    };
    Header {
        format: SyslogFormat::Rfc5424,
        time_ms,
        hostname: hostname.and_then(non_nil),
        app_name: app.and_then(non_nil),
        procid: procid.and_then(non_nil),
        msgid: msgid.and_then(non_nil),
        structured_data,
        // A BOM says the MSG is UTF-8; it is not part of the text.
        msg: msg.strip_prefix('\u{feff}').unwrap_or(msg).to_string(),
    }
}

/// RFC 5424 STRUCTURED-DATA: `[id name="value" …][id2 …]`, then nothing or ` MSG`. Values
/// unescape `\"`, `\\` and `\]`; any other backslash is kept (RFC 5424 section 6.3.3).
/// Returns the parameters as (`id.name`, value) and the MSG, or `None` when malformed.
fn parse_structured_data(text: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut params = Vec::new();
    let mut rest = text;
    while let Some(element) = rest.strip_prefix('[') {
        let id_end = element.find([' ', ']'])?;
        let id = element.get(..id_end)?;
        if id.is_empty() || id.contains(['=', '"']) {
            return None;
        }
        rest = element.get(id_end..)?;
        loop {
            if let Some(after) = rest.strip_prefix(']') {
                rest = after;
                break;
            }
            let param = rest.strip_prefix(' ')?;
            let (name, after_name) = param.split_once("=\"")?;
            if name.is_empty() || name.contains([' ', ']', '"']) {
                return None;
            }
            let mut value = String::new();
            let mut chars = after_name.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    '\\' => match after_name.get(i + 1..).and_then(|s| s.chars().next()) {
                        Some(e @ ('"' | '\\' | ']')) => {
                            value.push(e);
                            chars.next();
                        }
                        _ => value.push('\\'),
                    },
                    c => value.push(c),
                }
            }
            rest = after_name.get(end?..)?;
            params.push((format!("{id}.{name}"), value));
        }
    }
    if rest.is_empty() {
        Some((params, ""))
    } else {
        rest.strip_prefix(' ').map(|msg| (params, msg))
    }
}

/// RFC 3164 (and what BSD-style senders really send) after the PRI, if any.
fn parse_3164(
    text: &str,
    had_pri: bool,
    received_ms: i64,
    options: &SyslogOptions,
    notes: &mut Vec<&'static str>,
) -> Header {
    let (time_ms, after_stamp) = if let Some((stamp, rest)) = stamp::parse_bsd(text) {
        let t = stamp::bsd_unix_ms(stamp, received_ms, options.default_offset);
        if t.is_none() {
            notes.push(codes::BAD_TIMESTAMP);
        }
        (t, rest)
    } else if text
        .get(..4)
        .is_some_and(|y| y.bytes().all(|b| b.is_ascii_digit()))
        && text.get(4..5) == Some("-")
    {
        // An RFC 3339 stamp in a BSD header (rsyslog's forwarding formats).
        let (token, rest) = text.split_once(' ').unwrap_or((text, ""));
        let t = stamp::parse_iso(token, Some(options.default_offset));
        if t.is_none() {
            notes.push(codes::BAD_TIMESTAMP);
        }
        (t, rest)
    } else if had_pri {
        // RFC 3164 section 4.3.2: no valid timestamp, so all of it is the message.
        let mut h = Header::unstructured(SyslogFormat::Rfc3164, text);
        if let Some((tag, pid, msg)) = split_tag(text) {
            h.app_name = Some(tag);
            h.procid = pid;
            h.msg = msg.to_string();
        }
        return h;
    } else {
        return Header::unstructured(SyslogFormat::Unstructured, text);
    };

    let rest = after_stamp.strip_prefix(' ').unwrap_or(after_stamp);
    let mut header = Header::unstructured(SyslogFormat::Rfc3164, rest);
    header.time_ms = time_ms;
    if let Some((tag, pid, msg)) = split_tag(rest) {
        // No hostname: the sender wrote the tag right after the time.
        header.app_name = Some(tag);
        header.procid = pid;
        header.msg = msg.to_string();
        return header;
    }
    let (host, after_host) = rest.split_once(' ').unwrap_or((rest, ""));
    header.hostname = non_nil(host);
    header.msg = after_host.to_string();
    if let Some((tag, pid, msg)) = split_tag(after_host) {
        header.app_name = Some(tag);
        header.procid = pid;
        header.msg = msg.to_string();
    }
    header
}

/// A BSD tag at the start of `text`: `name:` or `name[pid]` (optionally followed by `:`),
/// then a space or the end. `name` is up to 48 characters of letters, digits and `_-./`.
fn split_tag(text: &str) -> Option<(String, Option<String>, &str)> {
    let (token, rest) = text.split_once(' ').unwrap_or((text, ""));
    let (body, colon) = match token.strip_suffix(':') {
        Some(b) => (b, true),
        None => (token, false),
    };
    let (name, pid) = match body.strip_suffix(']').and_then(|b| b.split_once('[')) {
        Some((name, pid)) if !pid.is_empty() && !pid.contains(['[', ']']) => (name, Some(pid)),
        Some(_) => return None,
        None if colon => (body, None),
        None => return None,
    };
    let name_ok = !name.is_empty()
        && name.len() <= 48
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'));
    name_ok.then(|| (name.to_string(), pid.map(str::to_string), rest))
}

/// Largest frame a [`SyslogFramer`] passes on by default: the message cap.
pub const MAX_FRAME_BYTES: usize = MAX_MESSAGE_BYTES;

/// How a TCP syslog stream separates its messages (RFC 6587).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `MSG-LEN SP MSG` (section 3.4.1).
    OctetCounting,
    /// Each message ends with LF; CRLF and NUL are accepted too (section 3.4.2).
    NonTransparent,
}

/// Splits one TCP connection's bytes into syslog messages, without I/O.
///
/// Feed what the socket gave with [`push`](Self::push) (it takes what fits), take frames with
/// [`next_frame`](Self::next_frame) until it returns `None`, repeat; [`feed`](Self::feed) does
/// both. The framing is chosen once, at the first byte that is not a line end, NUL or space:
/// up to ten digits and a space mean octet counting, anything else newline-terminated. The framer never buffers more than
/// [`capacity`](Self::capacity) bytes: a newline-terminated frame over the limit is reported
/// once (`LOG0003`), skipped up to its newline and counted in [`skipped`](Self::skipped); an
/// octet-counted length over the limit or not a number is fatal (`LOG0004`, `LOG0005`), after
/// which the framer takes and drops everything.
#[derive(Debug, Clone)]
pub struct SyslogFramer {
    max_frame: usize,
    buf: Vec<u8>,
    framing: Option<Framing>,
    /// Dropping the rest of an oversized newline-terminated frame.
    discarding: bool,
    closed: bool,
    frames: u64,
    skipped: u64,
}

/// Room for a length prefix (up to ten digits and a space) and a CRLF beyond the largest frame.
const FRAME_SLACK: usize = 16;
/// Digits of the longest octet count read.
const MAX_COUNT_DIGITS: usize = 10;

fn is_separator(b: u8) -> bool {
    matches!(b, b'\n' | b'\r' | 0)
}

impl Default for SyslogFramer {
    fn default() -> Self {
        SyslogFramer::new(MAX_FRAME_BYTES)
    }
}

impl SyslogFramer {
    /// A framer passing frames of at most `max_frame` bytes (at least 1).
    pub fn new(max_frame: usize) -> Self {
        SyslogFramer {
            max_frame: max_frame.max(1),
            buf: Vec::new(),
            framing: None,
            discarding: false,
            closed: false,
            frames: 0,
            skipped: 0,
        }
    }

    /// The most bytes the framer ever holds.
    pub fn capacity(&self) -> usize {
        self.max_frame.saturating_add(FRAME_SLACK)
    }

    /// Bytes held now, waiting for the rest of a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The framing detected, once the first byte of a message has arrived.
    pub fn framing(&self) -> Option<Framing> {
        self.framing
    }

    /// After a fatal error or [`finish`](Self::finish): nothing more will come out.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Frames passed on so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Oversized frames skipped so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Takes as much of `input` as fits and returns how many bytes it took; take frames out
    /// before pushing the rest. The rest of an oversized frame is taken without being kept,
    /// and once closed every byte is taken and dropped.
    pub fn push(&mut self, input: &[u8]) -> usize {
        if self.closed {
            return input.len();
        }
        let mut taken = 0;
        let mut input = input;
        if self.discarding {
            match input.iter().position(|b| *b == b'\n' || *b == 0) {
                Some(i) => {
                    self.discarding = false;
                    taken = i + 1;
                    input = input.get(i + 1..).unwrap_or_default();
                }
                None => return input.len(),
            }
        }
        let room = self.capacity().saturating_sub(self.buf.len());
        let n = room.min(input.len());
        self.buf
            .extend_from_slice(input.get(..n).unwrap_or_default());
        taken + n
    }

    /// The next complete frame (without its framing), an error frame, or `None` when more
    /// input is needed.
    pub fn next_frame(&mut self) -> Option<Result<Vec<u8>, SyslogError>> {
        if self.closed {
            return None;
        }
        let framing = match self.framing {
            Some(f) => f,
            None => {
                let first = self
                    .buf
                    .iter()
                    .position(|b| !is_separator(*b) && *b != b' ');
                let Some(first) = first else {
                    self.buf.clear();
                    return None;
                };
                self.buf.drain(..first);
                // Digits then a space is a length; digits then anything else is the start of a
                // newline-terminated message without PRI (a date, say).
                let digits = self.buf.iter().take_while(|b| b.is_ascii_digit()).count();
                let f = match self.buf.get(digits) {
                    _ if digits == 0 || digits > MAX_COUNT_DIGITS => Framing::NonTransparent,
                    Some(b' ') => Framing::OctetCounting,
                    Some(_) => Framing::NonTransparent,
                    None => return None,
                };
                self.framing = Some(f);
                f
            }
        };
        match framing {
            Framing::OctetCounting => self.next_counted(),
            Framing::NonTransparent => self.next_terminated(),
        }
    }

    fn fatal(&mut self, e: SyslogError) -> Option<Result<Vec<u8>, SyslogError>> {
        self.closed = true;
        self.buf = Vec::new();
        Some(Err(e))
    }

    fn next_counted(&mut self) -> Option<Result<Vec<u8>, SyslogError>> {
        // Some senders put a line end after each counted frame; it is not part of the stream.
        let start = self
            .buf
            .iter()
            .position(|b| !is_separator(*b))
            .unwrap_or(self.buf.len());
        self.buf.drain(..start);
        if self.buf.is_empty() {
            return None;
        }
        let head = self.buf.get(..=MAX_COUNT_DIGITS).unwrap_or(&self.buf);
        let Some(space) = head.iter().position(|b| *b == b' ') else {
            if head.len() > MAX_COUNT_DIGITS || !head.iter().all(u8::is_ascii_digit) {
                return self.fatal(SyslogError::BadOctetCount);
            }
            return None;
        };
        let digits = head.get(..space).unwrap_or_default();
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return self.fatal(SyslogError::BadOctetCount);
        }
        let length = digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        if length == 0 {
            return self.fatal(SyslogError::BadOctetCount);
        }
        let Ok(len) = usize::try_from(length) else {
            return self.fatal(SyslogError::OctetCountTooLarge {
                length,
                limit: self.max_frame,
            });
        };
        if len > self.max_frame {
            return self.fatal(SyslogError::OctetCountTooLarge {
                length,
                limit: self.max_frame,
            });
        }
        let end = space + 1 + len;
        let frame = self.buf.get(space + 1..end)?.to_vec();
        self.buf.drain(..end);
        self.frames += 1;
        Some(Ok(frame))
    }

    fn next_terminated(&mut self) -> Option<Result<Vec<u8>, SyslogError>> {
        loop {
            let Some(i) = self.buf.iter().position(|b| *b == b'\n' || *b == 0) else {
                // A frame of the largest size may still be followed by CR before its LF.
                if self.buf.len() > self.max_frame.saturating_add(1) {
                    self.buf.clear();
                    self.discarding = true;
                    self.skipped += 1;
                    return Some(Err(SyslogError::FrameTooLong {
                        limit: self.max_frame,
                    }));
                }
                return None;
            };
            let mut frame: Vec<u8> = self.buf.drain(..=i).collect();
            frame.pop();
            if frame.last() == Some(&b'\r') {
                frame.pop();
            }
            if frame.is_empty() {
                continue;
            }
            if frame.len() > self.max_frame {
                self.skipped += 1;
                return Some(Err(SyslogError::FrameTooLong {
                    limit: self.max_frame,
                }));
            }
            self.frames += 1;
            return Some(Ok(frame));
        }
    }

    /// The connection ended: the last frame when a newline-terminated stream did not end with
    /// a newline, or `LOG0006` when it stopped inside an octet-counted frame. Closes the framer.
    pub fn finish(&mut self) -> Option<Result<Vec<u8>, SyslogError>> {
        if self.closed {
            return None;
        }
        self.closed = true;
        let buf = std::mem::take(&mut self.buf);
        let start = buf.iter().position(|b| !is_separator(*b))?;
        let end = buf
            .iter()
            .rposition(|b| !is_separator(*b))
            .map_or(0, |i| i + 1);
        let rest = buf.get(start..end).unwrap_or_default();
        if self.discarding || rest.is_empty() {
            return None;
        }
        match self.framing {
            Some(Framing::OctetCounting) => {
                let announced = rest
                    .iter()
                    .position(|b| *b == b' ')
                    .and_then(|sp| {
                        let digits = std::str::from_utf8(rest.get(..sp)?).ok()?;
                        let len: usize = digits.parse().ok()?;
                        Some(len.saturating_sub(rest.len().saturating_sub(sp + 1)))
                    })
                    .unwrap_or(0);
                Some(Err(SyslogError::Truncated { missing: announced }))
            }
            _ if rest.len() > self.max_frame => {
                self.skipped += 1;
                Some(Err(SyslogError::FrameTooLong {
                    limit: self.max_frame,
                }))
            }
            _ => {
                self.frames += 1;
                Some(Ok(rest.to_vec()))
            }
        }
    }

    /// Pushes all of `input`, appending every frame and error frame to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<Result<Vec<u8>, SyslogError>>) {
        let mut input = input;
        loop {
            let taken = self.push(input);
            input = input.get(taken..).unwrap_or_default();
            let before = out.len();
            while let Some(frame) = self.next_frame() {
                out.push(frame);
            }
            // `push` always takes something when there is room, and a full buffer always
            // yields a frame or an error; the second test only guards against a bug looping.
            if input.is_empty() || (taken == 0 && out.len() == before) {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RECEIVED: &str = "2003-10-12T00:00:00+09:00";

    fn received() -> i64 {
        stamp::parse_iso(RECEIVED, None).unwrap()
    }

    fn parse(text: &str) -> SyslogMessage {
        parse_syslog(
            text.as_bytes(),
            received(),
            "192.0.2.9",
            &SyslogOptions::default(),
        )
        .unwrap()
    }

    fn ms(s: &str) -> Option<i64> {
        stamp::parse_iso(s, None)
    }

    #[test]
    fn rfc5424_example_1_no_structured_data() {
        // RFC 5424 section 6.5, example 1 (the BOM written as bytes).
        let m = parse(
            "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \u{feff}'su root' failed for lonvick on /dev/pts/8",
        );
        assert_eq!(m.format, SyslogFormat::Rfc5424);
        assert_eq!(m.facility, Some(4));
        assert_eq!(m.event.severity, Severity::Critical);
        assert_eq!(m.event.time_ms, ms("2003-10-11T22:14:15.003Z"));
        assert_eq!(m.event.source_host, "mymachine.example.com");
        assert_eq!(m.app_name.as_deref(), Some("su"));
        assert_eq!(m.procid, None);
        assert_eq!(m.msgid.as_deref(), Some("ID47"));
        assert_eq!(
            m.event.message,
            "'su root' failed for lonvick on /dev/pts/8"
        );
        assert_eq!(m.event.field("peer"), Some("192.0.2.9"));
        assert_eq!(m.event.field("facility"), Some("4"));
        assert_eq!(m.event.action, Action::Other("syslog".into()));
        assert!(m.notes.is_empty(), "{:?}", m.notes);
    }

    #[test]
    fn rfc5424_example_2_offset_and_microseconds() {
        let m = parse(
            "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
        );
        assert_eq!(m.facility, Some(20));
        assert_eq!(m.event.severity, Severity::Notice);
        assert_eq!(m.event.time_ms, ms("2003-08-24T12:14:15Z"));
        assert_eq!(m.event.source_host, "192.0.2.1");
        assert_eq!(m.procid.as_deref(), Some("8710"));
        assert_eq!(m.msgid, None);
        assert_eq!(m.event.message, "%% It's time to make the do-nuts.");
    }

    #[test]
    fn rfc5424_example_3_structured_data() {
        let m = parse(
            r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] BOMAn application event log entry..."#,
        );
        assert_eq!(
            &m.event.fields[m.event.fields.len() - 3..],
            &[
                ("exampleSDID@32473.iut".to_string(), "3".to_string()),
                (
                    "exampleSDID@32473.eventSource".to_string(),
                    "Application".to_string()
                ),
                ("exampleSDID@32473.eventID".to_string(), "1011".to_string()),
            ]
        );
        assert_eq!(m.event.message, "BOMAn application event log entry...");
    }

    #[test]
    fn rfc5424_example_4_structured_data_only() {
        let m = parse(
            r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]"#,
        );
        assert_eq!(m.event.field("examplePriority@32473.class"), Some("high"));
        assert_eq!(m.event.message, "");
        assert!(m.notes.is_empty());
    }

    #[test]
    fn structured_data_escapes() {
        let m = parse(
            r#"<13>1 - - - - - [a@1 q="say \"hi\"" b="back\\slash" c="close\]" d="keep\n"] text"#,
        );
        assert_eq!(m.event.field("a@1.q"), Some(r#"say "hi""#));
        assert_eq!(m.event.field("a@1.b"), Some(r"back\slash"));
        assert_eq!(m.event.field("a@1.c"), Some("close]"));
        assert_eq!(m.event.field("a@1.d"), Some(r"keep\n"));
        assert_eq!(m.event.message, "text");
        assert_eq!(m.event.time_ms, None);
        assert_eq!(m.event.source_host, "192.0.2.9");
    }

    #[test]
    fn broken_structured_data_stays_in_the_message() {
        for text in [
            r#"<13>1 - h a - - [a@1 q="unterminated] msg"#,
            r#"<13>1 - h a - - [a@1 q=unquoted] msg"#,
            r#"<13>1 - h a - - [] msg"#,
            r#"<13>1 - h a - - [a@1]trailing"#,
            r#"<13>1 - h a - - x msg"#,
        ] {
            let m = parse(text);
            assert_eq!(m.notes, vec![codes::BAD_STRUCTURED_DATA], "{text}");
            assert!(text.ends_with(&m.event.message), "{text}");
            assert!(!m.event.message.is_empty());
        }
    }

    #[test]
    fn short_and_bad_5424_headers_are_noted() {
        let m = parse("<13>1 2003-10-11T22:14:15Z host");
        assert_eq!(m.notes, vec![codes::SHORT_HEADER]);
        assert_eq!(m.event.source_host, "host");
        assert_eq!(m.event.message, "");
        let m = parse("<13>1 yesterday host app - - - hello");
        assert_eq!(m.notes, vec![codes::BAD_TIMESTAMP]);
        assert_eq!(m.event.time_ms, None);
        assert_eq!(m.event.message, "hello");
    }

    #[test]
    fn rfc3164_examples() {
        // RFC 3164 section 5.4, examples 1 and 3 (year from the receive time, zone JST).
        let m =
            parse("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8");
        assert_eq!(m.format, SyslogFormat::Rfc3164);
        assert_eq!(m.event.severity, Severity::Critical);
        assert_eq!(m.event.time_ms, ms("2003-10-11T22:14:15+09:00"));
        assert_eq!(m.event.source_host, "mymachine");
        assert_eq!(m.app_name.as_deref(), Some("su"));
        assert_eq!(
            m.event.message,
            "'su root' failed for lonvick on /dev/pts/8"
        );
        let m = parse("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!");
        assert_eq!(m.event.source_host, "10.0.0.99");
        assert_eq!(m.app_name, None);
        assert_eq!(m.event.message, "Use the BFG!");
        assert_eq!(m.event.time_ms, ms("2003-02-05T17:32:18+09:00"));
    }

    #[test]
    fn rfc3164_example_2_without_timestamp() {
        let m = parse("<13>Use the BFG!");
        assert_eq!(m.format, SyslogFormat::Rfc3164);
        assert_eq!(m.event.time_ms, None);
        assert_eq!(m.event.message, "Use the BFG!");
        assert_eq!(m.event.source_host, "192.0.2.9");
    }

    #[test]
    fn bsd_variants() {
        // No hostname: the tag follows the time.
        let m = parse("<38>Oct 11 22:14:15 sshd[4321]: Accepted password for alice");
        assert_eq!(m.event.source_host, "192.0.2.9");
        assert_eq!(m.app_name.as_deref(), Some("sshd"));
        assert_eq!(m.procid.as_deref(), Some("4321"));
        assert_eq!(m.event.message, "Accepted password for alice");
        // Hostname and tag with pid.
        let m = parse("<86>Oct  1 08:00:00 ehr-db01 sudo[77]: bob : TTY=pts/0");
        assert_eq!(m.event.source_host, "ehr-db01");
        assert_eq!(m.procid.as_deref(), Some("77"));
        assert_eq!(m.event.message, "bob : TTY=pts/0");
        // An ISO stamp without zone in a BSD header is read in the default zone.
        let m = parse("<14>2024-04-01T09:00:00 nas01 backup: done");
        assert_eq!(m.event.time_ms, ms("2024-04-01T00:00:00Z"));
        assert_eq!(m.event.source_host, "nas01");
        assert_eq!(m.event.message, "done");
        // No PRI, still a BSD header (a forwarded file).
        let m = parse("Oct 11 22:14:15 pc01 app: hi\n");
        assert_eq!(m.format, SyslogFormat::Rfc3164);
        assert_eq!(m.notes, vec![codes::NO_PRI]);
        assert_eq!(m.facility, None);
        assert_eq!(m.event.severity, Severity::Notice);
        assert_eq!(m.event.message, "hi");
    }

    #[test]
    fn text_without_any_header() {
        let m = parse("just words");
        assert_eq!(m.format, SyslogFormat::Unstructured);
        assert_eq!(m.notes, vec![codes::NO_PRI]);
        assert_eq!(m.event.message, "just words");
        for bad in [
            "<192>1 - - - - - - x",
            "<x>hello",
            "<1234>hello",
            "<>x",
            "<13 x",
        ] {
            let m = parse(bad);
            assert_eq!(m.notes, vec![codes::BAD_PRI], "{bad}");
            assert_eq!(m.event.message, bad);
        }
        // The highest valid PRI.
        assert_eq!(parse("<191>x").facility, Some(23));
    }

    #[test]
    fn year_is_inferred_across_new_year() {
        let at = stamp::parse_iso("2025-01-01T00:00:05+09:00", None).unwrap();
        let m = parse_syslog(
            b"<13>Dec 31 23:59:59 pc01 app: bye",
            at,
            "p",
            &SyslogOptions::default(),
        )
        .unwrap();
        assert_eq!(m.event.time_ms, ms("2024-12-31T23:59:59+09:00"));
        let utc = SyslogOptions {
            default_offset: UtcOffset::UTC,
            ..SyslogOptions::default()
        };
        let m = parse_syslog(b"<13>Dec 31 23:59:59 pc01 app: bye", at, "p", &utc).unwrap();
        assert_eq!(m.event.time_ms, ms("2024-12-31T23:59:59Z"));
    }

    #[test]
    fn invalid_utf8_is_replaced_and_counted() {
        let m = parse_syslog(
            b"<13>1 - h app - - - caf\xe9 \xff\xfe ok",
            0,
            "p",
            &SyslogOptions::default(),
        )
        .unwrap();
        // Each maximal invalid sequence is one replacement, as `String::from_utf8_lossy` does.
        assert_eq!(m.replaced_invalid_utf8, 3);
        assert_eq!(m.notes, vec![codes::INVALID_UTF8]);
        assert_eq!(m.event.message, "caf\u{fffd} \u{fffd}\u{fffd} ok");
        // Japanese UTF-8 is kept as it is.
        let m = parse("<13>1 - h app - - - \u{feff}ログイン失敗 利用者=山田");
        assert_eq!(m.event.message, "ログイン失敗 利用者=山田");
        assert_eq!(m.replaced_invalid_utf8, 0);
    }

    #[test]
    fn size_and_emptiness_are_refused() {
        let opts = SyslogOptions {
            max_message_bytes: 10,
            ..SyslogOptions::default()
        };
        let e = parse_syslog(b"<13>12345678", 0, "p", &opts).unwrap_err();
        assert_eq!(e.code(), "LOG0001");
        assert_eq!(
            e,
            SyslogError::TooLarge {
                size: 12,
                limit: 10
            }
        );
        let e = parse_syslog(b"\r\n\0 ", 0, "p", &opts).unwrap_err();
        assert_eq!(e.code(), "LOG0002");
        assert!(!e.message_ja().is_empty());
        // Trailing framing bytes are not part of the message.
        let m = parse("<13>1 - h a - - - hi\r\n\0");
        assert_eq!(m.event.message, "hi");
        assert_eq!(m.event.raw, "<13>1 - h a - - - hi");
    }

    fn frames(framer: &mut SyslogFramer, input: &[u8]) -> Vec<Result<Vec<u8>, SyslogError>> {
        let mut out = Vec::new();
        framer.feed(input, &mut out);
        out
    }

    fn ok(s: &str) -> Result<Vec<u8>, SyslogError> {
        Ok(s.as_bytes().to_vec())
    }

    #[test]
    fn newline_framing_with_lf_crlf_and_nul() {
        let mut f = SyslogFramer::default();
        let out = frames(&mut f, b"\n<13>a\n<13>b\r\n\r\n<13>c\0<13>d");
        assert_eq!(f.framing(), Some(Framing::NonTransparent));
        assert_eq!(out, vec![ok("<13>a"), ok("<13>b"), ok("<13>c")]);
        assert_eq!(f.buffered(), 5);
        assert_eq!(f.finish(), Some(ok("<13>d")));
        assert!(f.is_closed());
        assert_eq!(f.frames(), 4);
    }

    #[test]
    fn a_line_starting_with_digits_is_not_a_length() {
        let mut f = SyslogFramer::default();
        assert!(frames(&mut f, b"2024").is_empty());
        assert_eq!(f.framing(), None);
        let out = frames(&mut f, b"-05-01 10:00:00 nas01 backup: done\n");
        assert_eq!(f.framing(), Some(Framing::NonTransparent));
        assert_eq!(out, vec![ok("2024-05-01 10:00:00 nas01 backup: done")]);
    }

    #[test]
    fn octet_counting_across_pushes() {
        let mut f = SyslogFramer::default();
        let mut out = frames(&mut f, b"5 <13>a11 <13>hello");
        assert_eq!(f.framing(), Some(Framing::OctetCounting));
        out.extend(frames(&mut f, b"\n 6 <13>xy"));
        out.extend(frames(&mut f, b"\n")); // a line end after a frame is tolerated
        assert_eq!(out, vec![ok("<13>a"), ok("<13>hello\n "), ok("<13>xy")]);
        // The count includes every byte, also spaces and newlines inside the message.
        let mut f = SyslogFramer::default();
        let out = frames(&mut f, b"7 a\nb c d7 <13>e f");
        assert_eq!(out, vec![ok("a\nb c d"), ok("<13>e f")]);
        // The stream stops inside a frame.
        let mut f = SyslogFramer::default();
        assert!(frames(&mut f, b"10 <13>ab").is_empty());
        assert_eq!(f.finish(), Some(Err(SyslogError::Truncated { missing: 4 })));
    }

    #[test]
    fn an_oversized_line_is_skipped_and_the_next_one_kept() {
        let mut f = SyslogFramer::new(8);
        let long = "<13>".to_string() + &"x".repeat(100);
        let input = format!("<13>one\n{long}\n<13>two\n");
        // Byte by byte and all at once give the same frames.
        for chunk in [1usize, 3, input.len()] {
            let mut f2 = SyslogFramer::new(8);
            let mut out = Vec::new();
            for part in input.as_bytes().chunks(chunk) {
                f2.feed(part, &mut out);
                assert!(f2.buffered() <= f2.capacity());
            }
            assert_eq!(
                out,
                vec![
                    ok("<13>one"),
                    Err(SyslogError::FrameTooLong { limit: 8 }),
                    ok("<13>two")
                ],
                "chunk {chunk}"
            );
            assert_eq!(f2.skipped(), 1);
        }
        // Exactly the limit, with CRLF, passes.
        assert_eq!(frames(&mut f, b"<13>5678\r\n"), vec![ok("<13>5678")]);
    }

    #[test]
    fn a_bad_frame_between_two_good_frames_loses_neither() {
        let opts = SyslogOptions::default();
        let mut f = SyslogFramer::new(64);
        let input = format!(
            "<13>1 - h a - - - first\n{}\n\n<13>Oct 11 22:14:15 h a: third\n",
            "z".repeat(65)
        );
        let out = frames(&mut f, input.as_bytes());
        let messages: Vec<String> = out
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|b| parse_syslog(b, 0, "p", &opts).unwrap().event.message)
            .collect();
        assert_eq!(messages, vec!["first", "third"]);
        assert_eq!(out.iter().filter(|r| r.is_err()).count(), 1);
        // The same for a frame that is good framing but a bad message.
        let out = frames(
            &mut SyslogFramer::new(64),
            b"<13>1 - h a - - - first\n\x00<13>1 - h a - - [oops\n<13>1 - h a - - - third\n",
        );
        let parsed: Vec<_> = out
            .into_iter()
            .map(|r| parse_syslog(&r.unwrap(), 0, "p", &opts).unwrap())
            .collect();
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[0].event.message, "first");
        assert_eq!(parsed[1].notes, vec![codes::BAD_STRUCTURED_DATA]);
        assert_eq!(parsed[2].event.message, "third");
    }

    #[test]
    fn bad_octet_counts_are_fatal() {
        let mut f = SyslogFramer::new(100);
        let out = frames(&mut f, b"5 <13>a101 <13>x");
        assert_eq!(
            out,
            vec![
                ok("<13>a"),
                Err(SyslogError::OctetCountTooLarge {
                    length: 101,
                    limit: 100
                })
            ]
        );
        assert!(out[1].as_ref().unwrap_err().is_fatal());
        assert!(f.is_closed());
        assert_eq!(f.buffered(), 0);
        assert_eq!(f.push(b"5 <13>a"), 7);
        assert_eq!(f.next_frame(), None);
        // Once a stream counts octets, a length that is not one is fatal.
        for bad in [&b"12x <13>a"[..], b"0 ", b"12345678901 x", b"99999999999"] {
            let mut f = SyslogFramer::new(100);
            let out = frames(&mut f, &[&b"5 <13>a"[..], bad].concat());
            assert_eq!(out.len(), 2, "{bad:?}");
            assert_eq!(out[1].as_ref().unwrap_err().code(), "LOG0005");
            assert!(f.is_closed());
        }
        // Too many digits for a length at the start: a newline-terminated stream.
        let mut f = SyslogFramer::new(100);
        assert!(frames(&mut f, b"99999999999999999999 x").is_empty());
        assert_eq!(f.framing(), Some(Framing::NonTransparent));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_syslog(&bytes, 0, "p", &SyslogOptions::default());
            let _ = parse_syslog(&bytes, i64::MIN, "p", &SyslogOptions::default());
            let mut prefixed = b"<13>1 ".to_vec();
            prefixed.extend_from_slice(&bytes);
            let _ = parse_syslog(&prefixed, i64::MAX, "p", &SyslogOptions::default());
        }

        #[test]
        fn structured_text_never_panics(text in r#"<[0-9]{1,3}>1 [-0-9T:.Z+]{0,30} [a-z-]{0,5} [a-z-]{0,3} - - (\[[a-z@0-9 ="\\\]]{0,40}\]?){0,3}.{0,20}"#) {
            let _ = parse_syslog(text.as_bytes(), 0, "p", &SyslogOptions::default());
        }

        #[test]
        fn the_framer_never_holds_more_than_its_cap(
            max in 1usize..64,
            chunks in proptest::collection::vec(
                proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b' '), Just(b'1'), Just(b'<'), any::<u8>()], 0..200),
                0..8,
            ),
        ) {
            let mut f = SyslogFramer::new(max);
            let mut out = Vec::new();
            for chunk in &chunks {
                let mut rest = &chunk[..];
                while !rest.is_empty() {
                    let n = f.push(rest);
                    prop_assert!(f.buffered() <= f.capacity());
                    rest = &rest[n..];
                    let before = out.len();
                    while let Some(frame) = f.next_frame() {
                        out.push(frame);
                    }
                    // Progress: something was taken or something came out.
                    prop_assert!(n > 0 || out.len() > before);
                }
            }
            out.extend(f.finish());
            for frame in out.iter().flatten() {
                prop_assert!(frame.len() <= max);
            }
        }
    }
}
