//! The shipped rules for medical settings, each on events that must and must not fire it.

use mamori_detect::logsource::MAMORI_CHANNEL;
use mamori_detect::medical::{self, RULES};
use mamori_detect::{Correlator, Event, FieldValue, Placeholders, RuleSet};
use std::borrow::Cow;

/// A normalised event as the service shows it to the engine: named fields, text values.
struct Ev(Vec<(&'static str, String)>);

impl Ev {
    fn new(pairs: &[(&'static str, &str)]) -> Ev {
        Ev(pairs.iter().map(|(k, v)| (*k, (*v).to_string())).collect())
    }
}

impl Event for Ev {
    fn get(&self, field: &str) -> Option<FieldValue<'_>> {
        self.0
            .iter()
            .find(|(k, _)| *k == field)
            .map(|(_, v)| FieldValue::Text(Cow::Borrowed(v.as_str())))
    }
    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        self.0.iter().for_each(|(_, v)| f(v));
    }
}

fn set() -> RuleSet {
    let mut p = Placeholders::new();
    p.insert("day_workers".into(), vec!["nurse01".into()]);
    p.insert("watched_patients".into(), vec!["P-0001".into()]);
    p.insert("left_accounts".into(), vec!["gone".into()]);
    p.insert("emergency_accounts".into(), vec!["EMERGENCY01".into()]);
    medical::rule_set(p)
}

/// Titles of the rules that report this event by itself.
fn titles(set: &RuleSet, ev: &Ev) -> Vec<String> {
    set.scan_routed(ev, MAMORI_CHANNEL, None)
        .into_iter()
        .filter(|d| !d.silent)
        .map(|d| d.rule.title.clone())
        .collect()
}

fn ehr(actor: &str, patient: &str, hour: &str) -> Ev {
    Ev::new(&[
        ("action", "record_viewed"),
        ("actor", actor),
        ("object", patient),
        ("outcome", "success"),
        ("hour", hour),
    ])
}

#[test]
fn every_shipped_rule_loads_with_a_japanese_title() {
    let set = set();
    assert!(set.refused().is_empty(), "{:?}", set.refused());
    let docs: usize = RULES
        .iter()
        .map(|(_, t)| t.matches("\ntitle:").count() + 1)
        .sum();
    assert_eq!(set.rules().len() + set.correlations().len(), docs);
    for r in set.rules() {
        assert!(!r.title.is_ascii(), "{} has no Japanese title", r.origin);
        assert!(
            !r.description.is_ascii(),
            "{} has no Japanese description",
            r.origin
        );
    }
    for c in set.correlations() {
        assert!(
            !c.title.is_ascii() && !c.description.is_ascii(),
            "{}",
            c.origin
        );
    }
    // With no placeholder values the set still loads, and the placeholder rules match nothing.
    let bare = medical::rule_set(Placeholders::new());
    assert!(bare.refused().is_empty());
    assert!(titles(&bare, &ehr("anyone", "P-0001", "23")).is_empty());
}

#[test]
fn after_hours_is_for_day_workers_at_night_only() {
    let set = set();
    let title = "日勤の職員による時間外の電子カルテ閲覧";
    assert_eq!(titles(&set, &ehr("nurse01", "P-9", "23")), [title]);
    assert_eq!(titles(&set, &ehr("nurse01", "P-9", "6")), [title]);
    assert!(titles(&set, &ehr("nurse01", "P-9", "7")).is_empty());
    assert!(titles(&set, &ehr("nurse01", "P-9", "19")).is_empty());
    // A night-shift account is not a day worker.
    assert!(titles(&set, &ehr("night02", "P-9", "23")).is_empty());
    // A logon at night is not record access.
    let logon = Ev::new(&[("action", "logon"), ("actor", "nurse01"), ("hour", "23")]);
    assert!(titles(&set, &logon).is_empty());
}

#[test]
fn watched_patients_left_and_break_glass_accounts() {
    let set = set();
    assert_eq!(
        titles(&set, &ehr("dr01", "P-0001", "10")),
        ["要配慮患者（VIP・職員・職員の家族）の記録へのアクセス"]
    );
    assert!(titles(&set, &ehr("dr01", "P-0002", "10")).is_empty());

    let used = Ev::new(&[
        ("action", "logon"),
        ("actor", "gone"),
        ("outcome", "success"),
    ]);
    assert_eq!(
        titles(&set, &used),
        ["退職者または無効化されたアカウントの使用"]
    );
    let refused = Ev::new(&[
        ("action", "logon"),
        ("actor", "gone"),
        ("outcome", "failure"),
    ]);
    assert!(titles(&set, &refused).is_empty());

    // Any use, failed or not; account names compare ignoring case.
    let glass = Ev::new(&[
        ("action", "logon_failed"),
        ("actor", "emergency01"),
        ("outcome", "failure"),
    ]);
    assert_eq!(titles(&set, &glass), ["非常時用アカウントの使用"]);
}

#[test]
fn lockout_admin_rights_and_cleared_logs() {
    let set = set();
    let lock = Ev::new(&[("action", "account_locked_out"), ("object", "nurse03")]);
    assert_eq!(titles(&set, &lock), ["アカウントのロックアウト"]);
    let admin = Ev::new(&[
        ("action", "group_member_added"),
        ("TargetUserName", "Domain Admins"),
        ("MemberName", "CN=tanaka"),
    ]);
    assert_eq!(titles(&set, &admin), ["管理者権限の付与"]);
    let users = Ev::new(&[
        ("action", "group_member_added"),
        ("TargetUserName", "Users"),
    ]);
    assert!(titles(&set, &users).is_empty());
    for action in ["audit_log_cleared", "event_log_cleared"] {
        let cleared = Ev::new(&[("action", action), ("actor", "admin")]);
        assert_eq!(titles(&set, &cleared), ["セキュリティログの消去"]);
    }
}

/// Feeds events one second apart; the titles of the correlations that fire, in order.
/// (correlation title, group, count).
type Hit = (String, Vec<(String, String)>, usize);

fn correlate(set: &RuleSet, events: &[Ev]) -> Vec<Hit> {
    let mut c = Correlator::new(set);
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let found = set.scan_routed(e, MAMORI_CHANNEL, None);
        for h in c.feed(set, e, i as i64 * 1000, &found) {
            out.push((h.correlation.title.clone(), h.group, h.count));
        }
    }
    out
}

#[test]
fn many_patients_counts_distinct_patients_per_account() {
    let set = set();
    // 29 distinct patients, each opened twice: quiet; the 30th distinct one fires.
    let mut events: Vec<Ev> = (0..29)
        .flat_map(|i| {
            let p = format!("P-{i:04}");
            [ehr("clerk", &p, "10"), ehr("clerk", &p, "10")]
        })
        .collect();
    // Another account's patients do not count for this one.
    events.extend(
        (100..140)
            .map(|i| ehr("other", &format!("Q-{i}"), "10"))
            .take(10),
    );
    assert!(correlate(&set, &events).is_empty());
    events.push(ehr("clerk", "P-9999", "10"));
    let hits = correlate(&set, &events);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].0, "1人の利用者が短時間に多数の患者記録を開いた");
    assert_eq!(hits[0].1, [("actor".to_string(), "clerk".to_string())]);
    assert_eq!(hits[0].2, 30);
    // The opening itself is only material for the correlation.
    assert!(titles(&set, &ehr("clerk", "P-1", "10")).is_empty());
}

#[test]
fn repeated_failures_and_mass_media_copy() {
    let set = set();
    let fail = |who: &str| {
        Ev::new(&[
            ("action", "logon_failed"),
            ("actor", who),
            ("outcome", "failure"),
        ])
    };
    let four: Vec<Ev> = (0..4).map(|_| fail("nurse05")).collect();
    assert!(correlate(&set, &four).is_empty());
    let five: Vec<Ev> = (0..5).map(|_| fail("nurse05")).collect();
    let hits = correlate(&set, &five);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].0, "同じアカウントでのログオン失敗の繰り返し");

    let write = |host: &str| {
        Ev::new(&[
            ("action", "media_written"),
            ("actor", "clerk"),
            ("host", host),
            ("object", "E:\\a.pdf"),
        ])
    };
    let mut copies: Vec<Ev> = (0..99).map(|_| write("PC-01")).collect();
    copies.extend((0..50).map(|_| write("PC-02")));
    assert!(correlate(&set, &copies).is_empty());
    copies.push(write("PC-01"));
    let hits = correlate(&set, &copies);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].0, "外部記録媒体への大量コピー");
    assert_eq!(hits[0].2, 100);
}

#[test]
fn windows_wide_rules_do_not_meet_normalised_events() {
    let mut set = RuleSet::new();
    let out = set.add_yaml(
        "any.yml",
        "title: any windows\nid: 00000000-0000-4000-8000-000000000001\nlogsource:\n  product: windows\n\
         detection:\n  s:\n    action: logon\n  condition: s\n",
    );
    assert_eq!(out.loaded, 1);
    set.finish();
    let e = Ev::new(&[("action", "logon")]);
    assert!(set.scan_routed(&e, MAMORI_CHANNEL, None).is_empty());
    assert_eq!(set.scan_routed(&e, "security", Some(4624)).len(), 1);
}
