//! The rules for medical settings that ship with mamori: Sigma rules over mamori's normalised
//! events (`product: mamori`), with Japanese titles and descriptions. Facts only the facility
//! knows reach them as `|expand` placeholders, filled when the set is built:
//!
//! - `%day_workers%`: accounts whose electronic medical record use is almost all in the day;
//! - `%watched_patients%`: patients flagged VIP, staff or family;
//! - `%left_accounts%`: accounts disabled in the ledger, or of a person who has left;
//! - `%emergency_accounts%`: break-glass (非常時) accounts in the ledger.
//!
//! A placeholder with no values matches nothing. Two more checks are not about events but
//! about sources (a source gone silent, a source's clock drifting): the service runs them and
//! raises their alerts under [`SOURCE_SILENT_ID`] and [`CLOCK_DRIFT_ID`].

use crate::{Placeholders, RuleSet};

macro_rules! rules {
    ($($name:literal),+ $(,)?) => {
        &[$((
            concat!("mamori/medical/", $name),
            include_str!(concat!("../rules/medical/", $name)),
        )),+]
    };
}

/// `(origin, YAML)` of every shipped rule file.
pub const RULES: &[(&str, &str)] = rules!(
    "ehr_after_hours.yml",
    "ehr_many_patients.yml",
    "ehr_watched_patient.yml",
    "left_or_disabled_account.yml",
    "break_glass_account.yml",
    "failed_logons.yml",
    "account_locked_out.yml",
    "admin_rights_granted.yml",
    "log_cleared.yml",
    "media_mass_copy.yml",
);

/// The placeholders the shipped rules use.
pub const PLACEHOLDERS: &[&str] = &[
    "day_workers",
    "watched_patients",
    "left_accounts",
    "emergency_accounts",
];

/// Rule id of the alert raised when a log source has gone silent.
pub const SOURCE_SILENT_ID: &str = "f363ac68-01cf-48eb-a95c-9bfc4289b73c";
/// Rule id of the alert raised when a source's clock is off.
pub const CLOCK_DRIFT_ID: &str = "a7433336-e245-48ea-af8f-a194c6e25d79";

/// The shipped rules with these placeholder values (a placeholder not given matches nothing),
/// finished and ready to scan.
pub fn rule_set(mut placeholders: Placeholders) -> RuleSet {
    for name in PLACEHOLDERS {
        placeholders.entry((*name).to_string()).or_default();
    }
    let mut set = RuleSet::with_placeholders(placeholders);
    for (origin, text) in RULES {
        set.add_yaml(origin, text);
    }
    set.finish();
    set
}
