//! Alerts: what a detection rule raised, grouped so that one burst is one alert, and the
//! workflow people follow with it — new → acknowledged (someone owns it) → closed with a note.

/// How serious an alert is: the levels of Sigma rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertLevel {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl AlertLevel {
    /// Most serious first, as lists and charts show them.
    pub const ALL: [AlertLevel; 5] = [
        AlertLevel::Critical,
        AlertLevel::High,
        AlertLevel::Medium,
        AlertLevel::Low,
        AlertLevel::Informational,
    ];

    /// Stable code stored in the database and used for message keys (`alert_level.<code>`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertLevel::Informational => "informational",
            AlertLevel::Low => "low",
            AlertLevel::Medium => "medium",
            AlertLevel::High => "high",
            AlertLevel::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<AlertLevel> {
        AlertLevel::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// A number that sorts like the level (for ordering in the database).
    pub fn rank(self) -> i64 {
        match self {
            AlertLevel::Informational => 0,
            AlertLevel::Low => 1,
            AlertLevel::Medium => 2,
            AlertLevel::High => 3,
            AlertLevel::Critical => 4,
        }
    }
}

/// Where an alert is in its workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertStatus {
    /// Raised; nobody has taken it yet.
    New,
    /// Someone owns it and is looking into it.
    Acknowledged,
    /// Dealt with; the note says how.
    Closed,
}

impl AlertStatus {
    pub const ALL: [AlertStatus; 3] = [
        AlertStatus::New,
        AlertStatus::Acknowledged,
        AlertStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::New => "new",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<AlertStatus> {
        AlertStatus::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// Whether new detections of the same group still join this alert.
    pub fn is_open(self) -> bool {
        self != AlertStatus::Closed
    }
}

/// What a person may do to an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertAction {
    /// Take it: the person becomes its owner.
    Acknowledge,
    /// Close it, saying what was found and done.
    Close { note: String },
}

/// Why an action was refused: a message code and the field it concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertRefusal {
    pub code: &'static str,
    pub field: &'static str,
}

/// A closing note may be this long (characters).
pub const MAX_NOTE_CHARS: usize = 4000;

/// The status after `action` on an alert in `status`, or why it is refused. Acknowledging an
/// acknowledged alert hands it to the new owner; a closed alert stays closed (a new detection
/// of the same group raises a new alert).
pub fn transition(status: AlertStatus, action: &AlertAction) -> Result<AlertStatus, AlertRefusal> {
    if status == AlertStatus::Closed {
        return Err(AlertRefusal {
            code: "ALR0001",
            field: "status",
        });
    }
    match action {
        AlertAction::Acknowledge => Ok(AlertStatus::Acknowledged),
        AlertAction::Close { note } => {
            let n = note.trim().chars().count();
            if n == 0 {
                Err(AlertRefusal {
                    code: "ALR0002",
                    field: "note",
                })
            } else if n > MAX_NOTE_CHARS {
                Err(AlertRefusal {
                    code: "ALR0003",
                    field: "note",
                })
            } else {
                Ok(AlertStatus::Closed)
            }
        }
    }
}

/// The grouping key of a detection: the rule's own grouping values when it has them (an
/// account, a host …), else the host and the actor, so that one account's burst on one
/// machine is one alert and another account's is another.
pub fn group_key(rule_group: &[(String, String)], host: &str, actor: Option<&str>) -> String {
    if rule_group.is_empty() {
        format!("host={host};actor={}", actor.unwrap_or(""))
    } else {
        rule_group
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(";")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for l in AlertLevel::ALL {
            assert_eq!(AlertLevel::parse(l.as_str()), Some(l));
        }
        for s in AlertStatus::ALL {
            assert_eq!(AlertStatus::parse(s.as_str()), Some(s));
        }
        assert!(AlertLevel::Critical.rank() > AlertLevel::High.rank());
    }

    #[test]
    fn the_workflow_goes_forward_and_a_close_needs_a_note() {
        use AlertStatus::*;
        assert_eq!(transition(New, &AlertAction::Acknowledge), Ok(Acknowledged));
        assert_eq!(
            transition(Acknowledged, &AlertAction::Acknowledge),
            Ok(Acknowledged)
        );
        let close = |n: &str| AlertAction::Close { note: n.into() };
        assert_eq!(
            transition(New, &close("誤検知: 夜勤の正規業務")),
            Ok(Closed)
        );
        assert_eq!(
            transition(Acknowledged, &close("  ")).unwrap_err().field,
            "note"
        );
        assert_eq!(
            transition(New, &close(&"あ".repeat(MAX_NOTE_CHARS + 1)))
                .unwrap_err()
                .code,
            "ALR0003"
        );
        assert_eq!(
            transition(Closed, &AlertAction::Acknowledge)
                .unwrap_err()
                .code,
            "ALR0001"
        );
        assert_eq!(
            transition(Closed, &close("again")).unwrap_err().code,
            "ALR0001"
        );
    }

    #[test]
    fn detections_group_by_the_rules_values_or_host_and_actor() {
        assert_eq!(
            group_key(&[], "pc-01", Some("sato")),
            "host=pc-01;actor=sato"
        );
        assert_eq!(group_key(&[], "pc-01", None), "host=pc-01;actor=");
        let g = vec![("TargetUserName".to_string(), "admin".to_string())];
        assert_eq!(group_key(&g, "pc-01", Some("sato")), "TargetUserName=admin");
    }
}
