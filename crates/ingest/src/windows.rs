//! What Windows events mean, shared by the `.evtx` reader and JSON forwarders (Winlogbeat,
//! NXLog): who acted and on what for each event id, outcome from the audit keywords, severity
//! from the level.

use mamori_domain::event::{Action, Outcome, Severity, windows_action};

/// Keyword bit of a successful audit (`Audit Success`).
pub(crate) const AUDIT_SUCCESS: u64 = 0x0020_0000_0000_0000;
/// Keyword bit of a failed audit (`Audit Failure`).
pub(crate) const AUDIT_FAILURE: u64 = 0x0010_0000_0000_0000;

/// The action of an event: a named one from [`windows_action`], else
/// `Other("windows:<channel>:<id>")`.
pub(crate) fn action(channel: &str, event_id: u32) -> Action {
    windows_action(channel, event_id)
        .unwrap_or_else(|| Action::Other(format!("windows:{channel}:{event_id}")))
}

/// `(actor, object)` of an event, reading its EventData/UserData by name with `get`. Windows
/// writes `-` for "none"; that and empty values count as absent.
///
/// - logon, failed logon, logoff (4624, 4625, 4634, 4647): the account is `TargetUserName`;
/// - account management (47xx) and explicit-credential logon (4648): the administrator (or
///   process) is `SubjectUserName`, the account acted on `TargetUserName`; for group membership
///   (4728, 4732 …) the object is the member (`MemberName`, else `MemberSid`) and the group stays
///   in the fields;
/// - everything else (4672, log cleared 1102/104, …): `SubjectUserName`, else `TargetUserName`,
///   and `ObjectName` (a file, a registry key) as the object when there is one.
pub(crate) fn actor_object<'a>(
    event_id: u32,
    get: impl Fn(&str) -> Option<&'a str>,
) -> (Option<String>, Option<String>) {
    let value = |name: &str| {
        get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty() && *v != "-")
            .map(str::to_string)
    };
    match event_id {
        4624 | 4625 | 4634 | 4647 => (value("TargetUserName"), None),
        4728 | 4729 | 4732 | 4733 | 4746 | 4747 | 4751 | 4752 | 4756 | 4757 | 4761 | 4762 => (
            value("SubjectUserName"),
            value("MemberName").or_else(|| value("MemberSid")),
        ),
        4648 | 4720..=4767 | 4780..=4782 | 4793 | 4794 => {
            (value("SubjectUserName"), value("TargetUserName"))
        }
        _ => (
            value("SubjectUserName").or_else(|| value("TargetUserName")),
            value("ObjectName"),
        ),
    }
}

/// Outcome from the audit keyword bits; 4625 (failed logon) is a failure whatever they say.
pub(crate) fn outcome(event_id: u32, keywords: Option<u64>) -> Outcome {
    match keywords {
        _ if event_id == 4625 => Outcome::Failure,
        Some(k) if k & AUDIT_FAILURE != 0 => Outcome::Failure,
        Some(k) if k & AUDIT_SUCCESS != 0 => Outcome::Success,
        _ => Outcome::Unknown,
    }
}

/// The `Keywords` value as Windows writes it (`0x8020000000000000`) or as a number.
pub(crate) fn parse_keywords(text: &str) -> Option<u64> {
    let t = text.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => t.parse().ok(),
    }
}

/// Severity of an event `Level`: 1 critical, 2 error, 3 warning, 5 verbose → debug; 0 (what
/// audit events carry) and 4 are informational.
pub(crate) fn severity(level: Option<u64>) -> Severity {
    match level {
        Some(1) => Severity::Critical,
        Some(2) => Severity::Error,
        Some(3) => Severity::Warning,
        Some(5) => Severity::Debug,
        _ => Severity::Informational,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    #[test]
    fn actors_and_objects_per_event() {
        let data = [
            ("SubjectUserName", "admin"),
            ("TargetUserName", "yamada"),
            ("MemberName", "CN=Sato,OU=Staff"),
            ("MemberSid", "S-1-5-21-1"),
            ("ObjectName", r"C:\records\p001.pdf"),
        ];
        let get = lookup(&data);
        assert_eq!(actor_object(4624, &get), (Some("yamada".into()), None));
        assert_eq!(actor_object(4625, &get), (Some("yamada".into()), None));
        assert_eq!(
            actor_object(4720, &get),
            (Some("admin".into()), Some("yamada".into()))
        );
        assert_eq!(
            actor_object(4732, &get),
            (Some("admin".into()), Some("CN=Sato,OU=Staff".into()))
        );
        assert_eq!(
            actor_object(4663, &get),
            (Some("admin".into()), Some(r"C:\records\p001.pdf".into()))
        );
        let nil = [
            ("SubjectUserName", "-"),
            ("TargetUserName", " "),
            ("MemberSid", "S-1"),
        ];
        assert_eq!(actor_object(4728, lookup(&nil)), (None, Some("S-1".into())));
        assert_eq!(actor_object(1102, lookup(&nil)), (None, None));
    }

    #[test]
    fn outcomes_levels_and_keywords() {
        assert_eq!(
            parse_keywords("0x8020000000000000"),
            Some(0x8020_0000_0000_0000)
        );
        assert_eq!(
            parse_keywords("9232379236109516800"),
            Some(0x8020_0000_0000_0000)
        );
        assert_eq!(parse_keywords("0xZZ"), None);
        assert_eq!(
            outcome(4624, parse_keywords("0x8020000000000000")),
            Outcome::Success
        );
        assert_eq!(
            outcome(4771, parse_keywords("0x8010000000000000")),
            Outcome::Failure
        );
        assert_eq!(outcome(4625, None), Outcome::Failure);
        assert_eq!(outcome(104, Some(0x8000_0000_0000_0000)), Outcome::Unknown);
        assert_eq!(severity(Some(0)), Severity::Informational);
        assert_eq!(severity(Some(2)), Severity::Error);
        assert_eq!(action("Security", 4624), Action::Logon);
        assert_eq!(
            action("Microsoft-Windows-Sysmon/Operational", 1),
            Action::Other("windows:Microsoft-Windows-Sysmon/Operational:1".into())
        );
    }
}
