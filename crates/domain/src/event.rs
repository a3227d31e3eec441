//! The normalised log event (`LogEvent`): what every log decoder (syslog, Windows event logs,
//! JSON lines) turns its input into, whatever the source, so that sealing, search and detection
//! see one shape.

/// What happened, as a stable code (`as_str`). Sources name the same thing differently (Windows
/// 4624, an electronic medical record's `VIEW`); decoders map what they recognise to one of the
/// named variants and keep everything else as [`Action::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// An account logged on (Windows 4624).
    Logon,
    /// A logon was refused (Windows 4625).
    LogonFailed,
    /// An account logged off (Windows 4634, 4647).
    Logoff,
    /// A process logged on with explicitly given credentials, e.g. `runas` (Windows 4648).
    ExplicitCredentialLogon,
    /// A logon received administrator-equivalent privileges (Windows 4672).
    SpecialPrivilegesAssigned,
    /// Windows 4720.
    AccountCreated,
    /// Windows 4722.
    AccountEnabled,
    /// Someone reset another account's password (Windows 4724).
    PasswordReset,
    /// Windows 4725.
    AccountDisabled,
    /// Windows 4726.
    AccountDeleted,
    /// An account was added to a security group, global or local (Windows 4728, 4732).
    GroupMemberAdded,
    /// Windows 4738.
    AccountChanged,
    /// Windows 4740.
    AccountLockedOut,
    /// Windows 4767.
    AccountUnlocked,
    /// The Security audit log was cleared (Windows Security 1102).
    AuditLogCleared,
    /// Another event log was cleared (Windows System 104).
    EventLogCleared,
    /// A medical record (診療録) was viewed.
    RecordViewed,
    /// A medical record was changed.
    RecordChanged,
    /// A medical record was printed.
    RecordPrinted,
    /// A medical record was exported or copied out.
    RecordExported,
    /// A file written to removable media (USB memory, external disk), as a device agent or
    /// forwarder reports it.
    MediaWritten,
    /// A USB device was connected and decided on by the device agent (allowed, read-only or
    /// blocked: the outcome says whether it became usable).
    DeviceConnected,
    /// Anything not named above. The code says where it came from, e.g.
    /// `windows:Security:4663` or `syslog`; build it with [`Action::parse`] so that it never
    /// holds one of the named codes.
    Other(String),
}

impl Action {
    /// Every named action (not `Other`).
    pub const NAMED: [Action; 22] = [
        Action::Logon,
        Action::LogonFailed,
        Action::Logoff,
        Action::ExplicitCredentialLogon,
        Action::SpecialPrivilegesAssigned,
        Action::AccountCreated,
        Action::AccountEnabled,
        Action::PasswordReset,
        Action::AccountDisabled,
        Action::AccountDeleted,
        Action::GroupMemberAdded,
        Action::AccountChanged,
        Action::AccountLockedOut,
        Action::AccountUnlocked,
        Action::AuditLogCleared,
        Action::EventLogCleared,
        Action::RecordViewed,
        Action::RecordChanged,
        Action::RecordPrinted,
        Action::RecordExported,
        Action::MediaWritten,
        Action::DeviceConnected,
    ];

    /// Stable code, stored and used for message keys (`action.<code>`).
    pub fn as_str(&self) -> &str {
        match self {
            Action::Logon => "logon",
            Action::LogonFailed => "logon_failed",
            Action::Logoff => "logoff",
            Action::ExplicitCredentialLogon => "explicit_credential_logon",
            Action::SpecialPrivilegesAssigned => "special_privileges_assigned",
            Action::AccountCreated => "account_created",
            Action::AccountEnabled => "account_enabled",
            Action::PasswordReset => "password_reset",
            Action::AccountDisabled => "account_disabled",
            Action::AccountDeleted => "account_deleted",
            Action::GroupMemberAdded => "group_member_added",
            Action::AccountChanged => "account_changed",
            Action::AccountLockedOut => "account_locked_out",
            Action::AccountUnlocked => "account_unlocked",
            Action::AuditLogCleared => "audit_log_cleared",
            Action::EventLogCleared => "event_log_cleared",
            Action::RecordViewed => "record_viewed",
            Action::RecordChanged => "record_changed",
            Action::RecordPrinted => "record_printed",
            Action::RecordExported => "record_exported",
            Action::MediaWritten => "media_written",
            Action::DeviceConnected => "device_connected",
            Action::Other(code) => code,
        }
    }

    /// The action with this code: a named one, else `Other(code)`. `None` for an empty code.
    /// `Action::parse(a.as_str()) == Some(a)` for every action built this way.
    pub fn parse(code: &str) -> Option<Action> {
        if code.is_empty() {
            return None;
        }
        Some(
            Action::NAMED
                .iter()
                .find(|a| a.as_str() == code)
                .cloned()
                .unwrap_or_else(|| Action::Other(code.to_string())),
        )
    }

    /// Whether this is one of the named actions.
    pub fn is_named(&self) -> bool {
        !matches!(self, Action::Other(_))
    }
}

/// Whether what the event describes worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Success,
    Failure,
    /// The source does not say.
    Unknown,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Success, Outcome::Failure, Outcome::Unknown];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// Severity on the syslog scale (RFC 5424 section 6.2.1): 0 is the most severe. The derived
/// order follows the number, so `Emergency < Debug`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    Informational,
    Debug,
}

impl Severity {
    pub const ALL: [Severity; 8] = [
        Severity::Emergency,
        Severity::Alert,
        Severity::Critical,
        Severity::Error,
        Severity::Warning,
        Severity::Notice,
        Severity::Informational,
        Severity::Debug,
    ];

    /// The syslog number, 0 (emergency) to 7 (debug).
    pub fn number(self) -> u8 {
        match self {
            Severity::Emergency => 0,
            Severity::Alert => 1,
            Severity::Critical => 2,
            Severity::Error => 3,
            Severity::Warning => 4,
            Severity::Notice => 5,
            Severity::Informational => 6,
            Severity::Debug => 7,
        }
    }

    /// The severity with this syslog number; `None` above 7.
    pub fn from_number(n: u8) -> Option<Severity> {
        Severity::ALL.get(usize::from(n)).copied()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Emergency => "emergency",
            Severity::Alert => "alert",
            Severity::Critical => "critical",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Notice => "notice",
            Severity::Informational => "informational",
            Severity::Debug => "debug",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// One log event after decoding, whatever its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// When it happened as the source reports it, Unix ms UTC; `None` when the source gave no
    /// usable time. Never replaced by the receive time, so a wrong device clock stays visible.
    pub time_ms: Option<i64>,
    /// When mamori received it, Unix ms UTC.
    pub received_ms: i64,
    /// The host the event is about as the source names it, else the address it came from.
    pub source_host: String,
    /// The account that acted, as the source names it (no domain prefix added).
    pub actor: Option<String>,
    pub action: Action,
    /// What was acted on: a patient id, a file, a device or the target account.
    pub object: Option<String>,
    pub outcome: Outcome,
    pub severity: Severity,
    /// The human-readable text, as the source gave it (may be empty).
    pub message: String,
    /// Every other field the source gave, named and ordered as the decoder documents.
    pub fields: Vec<(String, String)>,
    /// The event as received (a syslog line, a JSON line, an event record as JSON), after
    /// lossy UTF-8 decoding.
    pub raw: String,
}

impl LogEvent {
    /// The first value of the field named `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The action of a Windows event, by channel (`Security`, `System`; compared ignoring case) and
/// event id. `None` for events not mapped; decoders keep those as [`Action::Other`].
pub fn windows_action(channel: &str, event_id: u32) -> Option<Action> {
    if channel.eq_ignore_ascii_case("Security") {
        Some(match event_id {
            4624 => Action::Logon,
            4625 => Action::LogonFailed,
            4634 | 4647 => Action::Logoff,
            4648 => Action::ExplicitCredentialLogon,
            4672 => Action::SpecialPrivilegesAssigned,
            4720 => Action::AccountCreated,
            4722 => Action::AccountEnabled,
            4724 => Action::PasswordReset,
            4725 => Action::AccountDisabled,
            4726 => Action::AccountDeleted,
            4728 | 4732 => Action::GroupMemberAdded,
            4738 => Action::AccountChanged,
            4740 => Action::AccountLockedOut,
            4767 => Action::AccountUnlocked,
            1102 => Action::AuditLogCleared,
            _ => return None,
        })
    } else if channel.eq_ignore_ascii_case("System") && event_id == 104 {
        Some(Action::EventLogCleared)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for a in Action::NAMED {
            assert!(seen.insert(a.as_str().to_string()), "{a:?}");
            assert_eq!(Action::parse(a.as_str()), Some(a.clone()));
            assert!(a.is_named());
        }
        let other = Action::parse("windows:Security:4663").unwrap();
        assert_eq!(other, Action::Other("windows:Security:4663".into()));
        assert_eq!(other.as_str(), "windows:Security:4663");
        assert!(!other.is_named());
        assert_eq!(Action::parse(""), None);
    }

    #[test]
    fn outcome_and_severity_codes_round_trip() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        for (n, s) in Severity::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(s.number()), n);
            assert_eq!(Severity::from_number(s.number()), Some(s));
            assert_eq!(Severity::parse(s.as_str()), Some(s));
        }
        assert_eq!(Severity::from_number(8), None);
        assert!(Severity::Emergency < Severity::Debug);
    }

    #[test]
    fn windows_security_events_map_to_actions() {
        let cases = [
            (4624, Action::Logon),
            (4625, Action::LogonFailed),
            (4634, Action::Logoff),
            (4647, Action::Logoff),
            (4648, Action::ExplicitCredentialLogon),
            (4672, Action::SpecialPrivilegesAssigned),
            (4720, Action::AccountCreated),
            (4722, Action::AccountEnabled),
            (4724, Action::PasswordReset),
            (4725, Action::AccountDisabled),
            (4726, Action::AccountDeleted),
            (4728, Action::GroupMemberAdded),
            (4732, Action::GroupMemberAdded),
            (4738, Action::AccountChanged),
            (4740, Action::AccountLockedOut),
            (4767, Action::AccountUnlocked),
            (1102, Action::AuditLogCleared),
        ];
        for (id, action) in cases {
            assert_eq!(windows_action("Security", id), Some(action.clone()), "{id}");
            assert_eq!(windows_action("security", id), Some(action), "{id}");
            // The same number on another channel means something else.
            assert_eq!(windows_action("Application", id), None, "{id}");
        }
        assert_eq!(windows_action("System", 104), Some(Action::EventLogCleared));
        assert_eq!(windows_action("Security", 104), None);
        assert_eq!(windows_action("System", 1102), None);
        assert_eq!(windows_action("Security", 4663), None);
        assert_eq!(windows_action("", 4624), None);
    }

    #[test]
    fn field_finds_the_first_value() {
        let e = LogEvent {
            time_ms: None,
            received_ms: 0,
            source_host: "pc1".into(),
            actor: None,
            action: Action::Logon,
            object: None,
            outcome: Outcome::Unknown,
            severity: Severity::Informational,
            message: String::new(),
            fields: vec![("a".into(), "1".into()), ("a".into(), "2".into())],
            raw: String::new(),
        };
        assert_eq!(e.field("a"), Some("1"));
        assert_eq!(e.field("b"), None);
    }
}
