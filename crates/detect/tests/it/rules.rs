//! Every SigmaHQ Windows rule loads, or is refused for a reason listed here as known.

use crate::{sigma_dir, windows_rules};
use std::collections::BTreeMap;

/// Refusals that are expected: logsources with no Windows event log channel (the rules need an
/// ETW provider that is not an event log: Microsoft-Windows-Kernel-File).
const KNOWN_UNSUPPORTED: &[(&str, &str)] = &[
    (
        "unknown_logsource",
        "no Windows event log channel known for category file_access",
    ),
    (
        "unknown_logsource",
        "no Windows event log channel known for category file_rename",
    ),
];

#[test]
fn every_windows_rule_loads_or_says_why() {
    let Some(sigma) = sigma_dir() else { return };
    let set = windows_rules(&sigma);
    let loaded = set.rules().len();
    let refused = set.refused();
    eprintln!(
        "rules: {loaded} loaded, {} refused, of {}",
        refused.len(),
        loaded + refused.len()
    );
    let mut groups: BTreeMap<(&str, String), Vec<&str>> = BTreeMap::new();
    for r in refused {
        groups
            .entry((r.reason.kind(), r.reason.to_string()))
            .or_default()
            .push(&r.origin);
    }
    let mut unexpected = Vec::new();
    for ((kind, reason), origins) in &groups {
        eprintln!(
            "  {kind}: {reason}: {} ({})",
            origins.len(),
            origins.join(", ")
        );
        if !KNOWN_UNSUPPORTED
            .iter()
            .any(|(k, r)| k == kind && r == reason)
        {
            unexpected.push(format!("{kind}: {reason}: {origins:?}"));
        }
    }
    assert!(unexpected.is_empty(), "{unexpected:#?}");
    assert!(loaded > 2300, "{loaded}");
}
