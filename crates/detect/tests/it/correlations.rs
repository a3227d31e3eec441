//! Correlation rules: counts, distinct values, temporal and ordered, by group, in a window.

use mamori_detect::{Correlator, JsonEvent, RuleSet};
use serde_json::{Value, json};

const BASE: &str = "title: failed logon
id: 00000000-0000-0000-0000-000000000001
name: failed_logon
logsource:
    product: windows
    service: security
detection:
    s:
        EventID: 4625
    condition: s
---
title: logon
id: 00000000-0000-0000-0000-000000000002
name: logon
logsource:
    product: windows
    service: security
detection:
    s:
        EventID: 4624
    condition: s
";

fn set(correlation: &str) -> RuleSet {
    let mut set = RuleSet::new();
    let out = set.add_yaml("base.yml", &format!("{BASE}---\n{correlation}"));
    set.finish();
    assert_eq!(out.loaded, 3, "{:?}", set.refused());
    assert_eq!(set.correlations().len(), 1, "{:?}", set.refused());
    set
}

fn ev(id: u32, user: &str, ip: &str) -> Value {
    json!({"Event": {"System": {"Channel": "Security", "EventID": id},
                     "EventData": {"TargetUserName": user, "IpAddress": ip}}})
}

/// (second, correlation title, group, count).
type Hit = (i64, String, Vec<(String, String)>, usize);

/// Feeds (seconds, event) in order; returns (second, correlation title, group, count) per hit.
fn run(set: &RuleSet, events: &[(i64, Value)]) -> Vec<Hit> {
    let mut c = Correlator::new(set);
    let mut out = Vec::new();
    for (t, e) in events {
        let e = JsonEvent::new(e);
        let found = set.scan(&e);
        for h in c.feed(set, &e, t * 1000, &found) {
            out.push((
                t * 1000 / 1000,
                h.correlation.title.clone(),
                h.group,
                h.count,
            ));
        }
    }
    out
}

#[test]
fn event_count_per_group_in_a_window() {
    let s = set("title: brute force
id: c1
correlation:
    type: event_count
    rules: [failed_logon]
    group-by: [TargetUserName]
    timespan: 1m
    condition:
        gte: 3
level: high
");
    let hits = run(
        &s,
        &[
            (0, ev(4625, "bob", "1.1.1.1")),
            (10, ev(4625, "eve", "1.1.1.1")),
            (20, ev(4625, "bob", "1.1.1.1")),
            (25, ev(4624, "bob", "1.1.1.1")),
            // The first bob failure is out of the window now: only two in the last minute.
            (70, ev(4625, "bob", "1.1.1.1")),
            (75, ev(4625, "bob", "1.1.1.1")),
        ],
    );
    assert_eq!(
        hits,
        vec![(
            75,
            "brute force".into(),
            vec![("TargetUserName".into(), "bob".into())],
            3
        )]
    );
}

#[test]
fn value_count_counts_distinct_values() {
    let s = set("title: spray
id: c2
correlation:
    type: value_count
    rules: [00000000-0000-0000-0000-000000000001]
    group-by: [IpAddress]
    timespan: 5m
    condition:
        field: TargetUserName
        gte: 3
");
    let hits = run(
        &s,
        &[
            (0, ev(4625, "a", "9.9.9.9")),
            (1, ev(4625, "a", "9.9.9.9")),
            (2, ev(4625, "b", "9.9.9.9")),
            (3, ev(4625, "c", "8.8.8.8")),
            (4, ev(4625, "c", "9.9.9.9")),
        ],
    );
    assert_eq!(
        hits,
        vec![(
            4,
            "spray".into(),
            vec![("IpAddress".into(), "9.9.9.9".into())],
            3
        )]
    );
}

#[test]
fn temporal_and_temporal_ordered() {
    let body = |kind: &str| {
        format!(
            "title: {kind}\nid: c3\ncorrelation:\n    type: {kind}\n    rules: [failed_logon, logon]\n    group-by: [TargetUserName]\n    timespan: 30s\n"
        )
    };
    let events = [
        (0, ev(4624, "bob", "")),
        (5, ev(4625, "bob", "")),
        (100, ev(4625, "eve", "")),
        (200, ev(4624, "eve", "")),
    ];
    // Both within 30 s for bob, in any order; eve's are too far apart.
    let hits = run(&set(&body("temporal")), &events);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].2, vec![("TargetUserName".into(), "bob".into())]);
    // Ordered: failure then success. bob's came the other way round.
    let hits = run(&set(&body("temporal_ordered")), &events);
    assert!(hits.is_empty(), "{hits:?}");
    let hits = run(
        &set(&body("temporal_ordered")),
        &[(0, ev(4625, "bob", "")), (5, ev(4624, "bob", ""))],
    );
    assert_eq!(hits.len(), 1);
}

#[test]
fn correlations_that_cannot_run_are_refused() {
    let mut s = RuleSet::new();
    s.add_yaml(
        "c.yml",
        "title: x\nid: x\ncorrelation:\n    type: event_count\n    rules: [nowhere]\n    timespan: 1m\n    condition:\n        gte: 2\n",
    );
    s.add_yaml(
        "d.yml",
        "title: y\nid: y\ncorrelation:\n    type: event_count\n    rules: [x]\n    timespan: 1m\n    condition:\n        gte: 2\n",
    );
    s.add_yaml(
        "e.yml",
        "title: z\nid: z\ncorrelation:\n    type: event_count\n    rules: [x]\n    timespan: soon\n",
    );
    s.finish();
    let kinds: Vec<&str> = s.refused().iter().map(|r| r.reason.kind()).collect();
    assert_eq!(
        kinds,
        vec![
            "bad_correlation",
            "unknown_correlation_rule",
            "correlation_not_supported"
        ]
    );
    assert!(s.correlations().is_empty());
}
