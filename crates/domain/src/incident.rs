//! Incidents (インシデント対応記録): what happened, how serious, who handles it, and the
//! workflow — open (対応中) → contained (封じ込め済み) → closed (終結) with a note. A closed
//! incident is final: it takes no note, no alert and no status change. Severity uses the alert
//! levels ([`AlertLevel`]), so an incident opened from an alert keeps the alert's level.

pub use crate::alert::AlertLevel as Severity;

/// Where an incident is in its handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncidentStatus {
    /// 対応中: being investigated; the damage may still spread.
    Open,
    /// 封じ込め済み: the damage is stopped (device cut off, account disabled); recovery and
    /// reporting go on.
    Contained,
    /// 終結: dealt with; the closing note says what happened and what was done.
    Closed,
}

impl IncidentStatus {
    pub const ALL: [IncidentStatus; 3] = [
        IncidentStatus::Open,
        IncidentStatus::Contained,
        IncidentStatus::Closed,
    ];

    /// Stable code stored in the database and used for message keys (`incident_status.<code>`).
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Open => "open",
            IncidentStatus::Contained => "contained",
            IncidentStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<IncidentStatus> {
        IncidentStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether the incident still takes notes, alerts and status changes.
    pub fn is_open(self) -> bool {
        self != IncidentStatus::Closed
    }
}

/// What a timeline entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// The incident was opened (the text is its summary).
    Opened,
    /// A person wrote what they found or did.
    Note,
    /// The status changed (the entry carries the new status; the text is the optional note,
    /// the closing note when it was closed).
    Status,
    /// An alert was linked to the incident (the entry carries the alert).
    AlertLinked,
}

impl EntryKind {
    pub const ALL: [EntryKind; 4] = [
        EntryKind::Opened,
        EntryKind::Note,
        EntryKind::Status,
        EntryKind::AlertLinked,
    ];

    /// Stable code stored in the database (`incident_notes.kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Opened => "opened",
            EntryKind::Note => "note",
            EntryKind::Status => "status",
            EntryKind::AlertLinked => "alert_linked",
        }
    }

    pub fn parse(s: &str) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Why something was refused: a message code and the form field it concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncidentRefusal {
    pub code: &'static str,
    pub field: &'static str,
}

const fn refuse(code: &'static str, field: &'static str) -> IncidentRefusal {
    IncidentRefusal { code, field }
}

/// A title may be this long (characters).
pub const MAX_TITLE_CHARS: usize = 200;
/// A note, the summary and the closing note may be this long (characters).
pub const MAX_NOTE_CHARS: usize = 4000;
/// The owner's name may be this long (characters).
pub const MAX_OWNER_CHARS: usize = 100;

/// A closed incident takes nothing more.
pub const CLOSED: IncidentRefusal = refuse("INC0001", "status");

/// A new incident as typed, checked and trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIncident {
    pub title: String,
    pub severity: Severity,
    /// Who handles it (a name; empty: the person who opens it).
    pub owner: String,
    pub summary: String,
}

/// Checks a new incident: a title of 1–200 characters, a severity code, an owner of at most
/// 100 characters and a summary of at most 4,000.
pub fn new_incident(
    title: &str,
    severity: &str,
    owner: &str,
    summary: &str,
) -> Result<NewIncident, IncidentRefusal> {
    let title = title.trim();
    if title.is_empty() {
        return Err(refuse("INC0005", "title"));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(refuse("INC0006", "title"));
    }
    let severity = Severity::parse(severity.trim()).ok_or(refuse("INC0007", "severity"))?;
    let owner = owner.trim();
    if owner.chars().count() > MAX_OWNER_CHARS {
        return Err(refuse("INC0009", "owner"));
    }
    let summary = summary.trim();
    if summary.chars().count() > MAX_NOTE_CHARS {
        return Err(refuse("INC0010", "summary"));
    }
    Ok(NewIncident {
        title: title.to_string(),
        severity,
        owner: owner.to_string(),
        summary: summary.to_string(),
    })
}

/// A title made from an alert's, cut to [`MAX_TITLE_CHARS`] characters; `None` when the
/// alert's is blank (the caller names it another way).
pub fn title_from_alert(alert_title: &str) -> Option<String> {
    let t = alert_title.trim();
    (!t.is_empty()).then(|| t.chars().take(MAX_TITLE_CHARS).collect())
}

/// Whether an incident in `status` takes a change at all (a note, an alert, a new status).
pub fn accepts_changes(status: IncidentStatus) -> Result<(), IncidentRefusal> {
    if status.is_open() {
        Ok(())
    } else {
        Err(CLOSED)
    }
}

/// Checks a timeline note: 1–4,000 characters once trimmed, on an incident still open.
pub fn note(status: IncidentStatus, text: &str) -> Result<String, IncidentRefusal> {
    accepts_changes(status)?;
    let text = text.trim();
    if text.is_empty() {
        return Err(refuse("INC0004", "note"));
    }
    if text.chars().count() > MAX_NOTE_CHARS {
        return Err(refuse("INC0003", "note"));
    }
    Ok(text.to_string())
}

/// The status after moving an incident in `from` to `to` with `note`, or why it is refused.
/// Open and contained go either way (a contained incident can flare up again); either may be
/// closed, but only with a note (what happened, what was done, what was reported); closed is
/// final. Moving to the status it already has is refused, so that every entry of the timeline
/// is a change. The note (optional except when closing) may be 4,000 characters.
pub fn transition(
    from: IncidentStatus,
    to: IncidentStatus,
    note: &str,
) -> Result<IncidentStatus, IncidentRefusal> {
    accepts_changes(from)?;
    if from == to {
        return Err(refuse("INC0008", "status"));
    }
    let n = note.trim().chars().count();
    if to == IncidentStatus::Closed && n == 0 {
        return Err(refuse("INC0002", "note"));
    }
    if n > MAX_NOTE_CHARS {
        return Err(refuse("INC0003", "note"));
    }
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use IncidentStatus::*;

    #[test]
    fn codes_round_trip() {
        for s in IncidentStatus::ALL {
            assert_eq!(IncidentStatus::parse(s.as_str()), Some(s));
        }
        for k in EntryKind::ALL {
            assert_eq!(EntryKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(IncidentStatus::parse("resolved"), None);
        assert!(Open.is_open() && Contained.is_open() && !Closed.is_open());
    }

    #[test]
    fn open_and_contained_go_either_way_and_closing_needs_a_note() {
        assert_eq!(transition(Open, Contained, ""), Ok(Contained));
        assert_eq!(transition(Contained, Open, "再び検知"), Ok(Open));
        assert_eq!(
            transition(Open, Closed, "  ").unwrap_err(),
            IncidentRefusal {
                code: "INC0002",
                field: "note"
            }
        );
        assert_eq!(
            transition(Contained, Closed, "アカウント無効化、報告済み"),
            Ok(Closed)
        );
        assert_eq!(transition(Open, Closed, "誤検知と確認"), Ok(Closed));
        assert_eq!(transition(Open, Open, "").unwrap_err().code, "INC0008");
        let long = "あ".repeat(MAX_NOTE_CHARS + 1);
        assert_eq!(
            transition(Open, Contained, &long).unwrap_err().code,
            "INC0003"
        );
        assert_eq!(transition(Open, Closed, &long).unwrap_err().code, "INC0003");
        assert!(transition(Open, Closed, &"あ".repeat(MAX_NOTE_CHARS)).is_ok());
    }

    #[test]
    fn closed_is_final() {
        for to in IncidentStatus::ALL {
            assert_eq!(transition(Closed, to, "再開").unwrap_err(), CLOSED);
        }
        assert_eq!(note(Closed, "追記").unwrap_err(), CLOSED);
        assert_eq!(accepts_changes(Closed), Err(CLOSED));
        assert_eq!(accepts_changes(Contained), Ok(()));
    }

    #[test]
    fn notes_are_trimmed_and_bounded() {
        assert_eq!(
            note(Open, "  端末を隔離した \n"),
            Ok("端末を隔離した".to_string())
        );
        assert_eq!(note(Contained, " ").unwrap_err().code, "INC0004");
        assert_eq!(
            note(Open, &"x".repeat(MAX_NOTE_CHARS + 1))
                .unwrap_err()
                .code,
            "INC0003"
        );
    }

    #[test]
    fn a_new_incident_names_each_bad_field() {
        let ok = new_incident(" ランサムウェア感染の疑い ", "critical", "", "").unwrap();
        assert_eq!(ok.title, "ランサムウェア感染の疑い");
        assert_eq!(ok.severity, Severity::Critical);
        let field = |r: Result<NewIncident, IncidentRefusal>| r.unwrap_err();
        assert_eq!(
            field(new_incident("  ", "high", "", "")),
            refuse("INC0005", "title")
        );
        assert_eq!(
            field(new_incident(
                &"題".repeat(MAX_TITLE_CHARS + 1),
                "high",
                "",
                ""
            )),
            refuse("INC0006", "title")
        );
        assert!(new_incident(&"題".repeat(MAX_TITLE_CHARS), "high", "", "").is_ok());
        assert_eq!(
            field(new_incident("t", "severe", "", "")),
            refuse("INC0007", "severity")
        );
        assert_eq!(
            field(new_incident(
                "t",
                "low",
                &"名".repeat(MAX_OWNER_CHARS + 1),
                ""
            )),
            refuse("INC0009", "owner")
        );
        assert_eq!(
            field(new_incident(
                "t",
                "low",
                "",
                &"x".repeat(MAX_NOTE_CHARS + 1)
            )),
            refuse("INC0010", "summary")
        );
    }

    #[test]
    fn an_alerts_title_fits() {
        assert_eq!(
            title_from_alert(" 非常時用アカウントの使用").as_deref(),
            Some("非常時用アカウントの使用")
        );
        assert_eq!(
            title_from_alert(&"長".repeat(300)).map(|t| t.chars().count()),
            Some(MAX_TITLE_CHARS)
        );
        assert_eq!(title_from_alert(" "), None);
    }
}
