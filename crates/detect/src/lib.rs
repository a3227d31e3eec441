//! Sigma rule engine of mamori. Rules (YAML text) are compiled once into a [`RuleSet`]:
//! every value modifier applied, strings grouped into per-field matchers (hash sets,
//! Aho-Corasick automata, one regex per field), the condition parsed, the `logsource` turned into
//! the Windows channels and event ids it applies to. An event (anything implementing [`Event`];
//! [`JsonEvent`] for `.evtx` records rendered to JSON) meets only the rules routed to its channel
//! and event id. A rule that cannot be loaded is kept aside with a typed [`RefuseReason`];
//! loading never fails as a whole. Correlation rules (`event_count`, `value_count`, `temporal`,
//! `temporal_ordered`) run in a [`Correlator`] over the detections of the rules they name.
//! No file or network I/O: rule text and events come in.

mod compile;
mod condition;
mod correlation;
mod engine;
pub mod event;
pub mod logsource;
pub mod medical;
mod pattern;
mod record;
mod rule;

pub use compile::Placeholders;
pub use correlation::{Correlation, CorrelationHit, CorrelationKind, Correlator};
pub use engine::{AddOutcome, Detection, RuleSet};
pub use event::{Event, FieldValue, JsonEvent, WindowsRecord};
pub use record::{RecordError, RecordEvent};
pub use rule::{Refused, Rule};

/// Why a rule was not loaded. [`RefuseReason::code`] is stable (support desks quote it);
/// [`RefuseReason::kind`] groups reasons in summaries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefuseReason {
    #[error("YAML: {0}")]
    Yaml(String),
    #[error("not a Sigma detection rule: {0}")]
    NotARule(String),
    #[error("correlation not supported yet: {0}")]
    CorrelationNotSupported(String),
    #[error("rule collections (action: global/reset/repeat) not supported")]
    RuleCollectionNotSupported,
    #[error(
        "the condition has a Sigma 1 aggregation (`| count()` …), replaced by correlation rules"
    )]
    AggregationNotSupported,
    #[error("condition: {0}")]
    BadCondition(String),
    #[error("condition names no selection `{0}`")]
    UnknownSelection(String),
    #[error("unknown modifier `{0}`")]
    UnknownModifier(String),
    #[error("modifiers: {0}")]
    BadModifiers(String),
    #[error("value: {0}")]
    BadValue(String),
    #[error("regular expression: {0}")]
    BadRegex(String),
    #[error("no value for placeholder %{0}%")]
    UnresolvedPlaceholder(String),
    #[error("logsource product `{0}` is neither windows nor mamori")]
    NotWindows(String),
    #[error("no Windows event log channel known for {0}")]
    UnknownLogsource(String),
    #[error("a rule with id {0} is already loaded")]
    DuplicateId(String),
    #[error("correlation: {0}")]
    BadCorrelation(String),
    #[error("correlation refers to no loaded rule `{0}`")]
    UnknownCorrelationRule(String),
}

impl RefuseReason {
    /// A stable code, e.g. `DET0003`.
    pub fn code(&self) -> &'static str {
        match self {
            RefuseReason::Yaml(_) => "DET0001",
            RefuseReason::NotARule(_) => "DET0002",
            RefuseReason::CorrelationNotSupported(_) => "DET0003",
            RefuseReason::RuleCollectionNotSupported => "DET0004",
            RefuseReason::AggregationNotSupported => "DET0005",
            RefuseReason::BadCondition(_) => "DET0006",
            RefuseReason::UnknownSelection(_) => "DET0007",
            RefuseReason::UnknownModifier(_) => "DET0008",
            RefuseReason::BadModifiers(_) => "DET0009",
            RefuseReason::BadValue(_) => "DET0010",
            RefuseReason::BadRegex(_) => "DET0011",
            RefuseReason::UnresolvedPlaceholder(_) => "DET0012",
            RefuseReason::NotWindows(_) => "DET0013",
            RefuseReason::UnknownLogsource(_) => "DET0014",
            RefuseReason::DuplicateId(_) => "DET0015",
            RefuseReason::BadCorrelation(_) => "DET0016",
            RefuseReason::UnknownCorrelationRule(_) => "DET0017",
        }
    }

    /// The reason without its details, for grouping (`unknown_logsource`).
    pub fn kind(&self) -> &'static str {
        match self {
            RefuseReason::Yaml(_) => "yaml",
            RefuseReason::NotARule(_) => "not_a_rule",
            RefuseReason::CorrelationNotSupported(_) => "correlation_not_supported",
            RefuseReason::RuleCollectionNotSupported => "rule_collection_not_supported",
            RefuseReason::AggregationNotSupported => "aggregation_not_supported",
            RefuseReason::BadCondition(_) => "bad_condition",
            RefuseReason::UnknownSelection(_) => "unknown_selection",
            RefuseReason::UnknownModifier(_) => "unknown_modifier",
            RefuseReason::BadModifiers(_) => "bad_modifiers",
            RefuseReason::BadValue(_) => "bad_value",
            RefuseReason::BadRegex(_) => "bad_regex",
            RefuseReason::UnresolvedPlaceholder(_) => "unresolved_placeholder",
            RefuseReason::NotWindows(_) => "not_windows",
            RefuseReason::UnknownLogsource(_) => "unknown_logsource",
            RefuseReason::DuplicateId(_) => "duplicate_id",
            RefuseReason::BadCorrelation(_) => "bad_correlation",
            RefuseReason::UnknownCorrelationRule(_) => "unknown_correlation_rule",
        }
    }
}
