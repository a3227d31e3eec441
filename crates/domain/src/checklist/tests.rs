//! Probe tests: a facility whose records back every item, then one thing broken at a time.

use super::*;
use crate::ledger::{
    AccountKind, DeliveryModel, JobType, PasswordPolicy, RemoteRoute, SystemCategory,
};
use crate::{AccountId, AssetId, PersonId, SystemId, VendorId};
use time::macros::date;

const TODAY: Date = date!(2025 - 10 - 01);

fn asset(id: i64, class: AssetClass) -> Asset {
    Asset {
        id: AssetId(id),
        tag: format!("A-{id:04}"),
        name: format!("機器{id}"),
        location: "事務室".into(),
        department: "事務部".into(),
        vendor_id: Some(VendorId(1)),
        last_patch_on: Some(date!(2025 - 09 - 15)),
        eol_on: Some(date!(2029 - 12 - 31)),
        source_restriction: Some(true),
        ..Asset::blank(class)
    }
}

fn person(id: i64, name: &str, left: Option<Date>) -> Person {
    Person {
        id: PersonId(id),
        staff_no: format!("S{id:03}"),
        name: name.into(),
        name_kana: String::new(),
        job: JobType::Nurse,
        department: "外来".into(),
        joined_on: None,
        left_on: left,
        notes: String::new(),
    }
}

fn account(id: i64, person: i64, admin: bool) -> Account {
    Account {
        id: AccountId(id),
        system_id: SystemId(1),
        login_id: format!("u{id}"),
        person_id: Some(PersonId(person)),
        kind: AccountKind::Personal,
        is_admin: admin,
        enabled: true,
        last_login_on: Some(date!(2025 - 09 - 30)),
        two_factor: true,
        created_on: None,
        disabled_on: None,
        pw_last_set_on: None,
        pw_never_expires: false,
        locked_out: false,
        admin_approved_by: admin.then_some(PersonId(1)),
        admin_approved_on: admin.then_some(date!(2025 - 04 - 01)),
        notes: String::new(),
    }
}

fn contact(id: i64, role: ContactRole, name: &str) -> Contact {
    Contact {
        id,
        role,
        organization: format!("機関{id}"),
        name: name.into(),
        phone: "03-0000-0000".into(),
        phone_after_hours: String::new(),
        email: String::new(),
        vendor_id: None,
        verified_on: Some(date!(2025 - 06 - 01)),
        active: true,
        notes: String::new(),
    }
}

fn doc(id: i64, kind: DocKind, dated: Date) -> FacilityDocument {
    FacilityDocument {
        id,
        title: format!("文書{id}"),
        dated_on: Some(dated),
        ..FacilityDocument::blank(kind)
    }
}

/// A facility whose records back every item.
fn good() -> Snapshot {
    let mut ehr = InfoSystem::blank(SystemCategory::Ehr, DeliveryModel::OnPremises);
    ehr.id = SystemId(1);
    ehr.name = "電子カルテ".into();
    ehr.vendor_id = Some(VendorId(1));
    ehr.two_factor = TwoFactor::All;
    ehr.access_log = Some(true);
    ehr.password = PasswordPolicy {
        min_length: Some(13),
        complexity: Some(true),
        max_age_days: None,
        history: Some(5),
        lockout_attempts: Some(5),
    };
    let mut vendor = Vendor::named("カルテ保守株式会社");
    vendor.id = VendorId(1);
    vendor.remote_maintenance = Some(true);
    let mut rules = doc(1, DocKind::OperatingRules, date!(2025 - 04 - 01));
    rules.topics = TOPICS.to_vec();
    Snapshot {
        assets: vec![
            asset(1, AssetClass::Server),
            asset(2, AssetClass::Workstation),
            asset(3, AssetClass::NetworkDevice),
        ],
        systems: vec![ehr],
        persons: vec![person(1, "山田 花子", None), person(2, "佐藤 一郎", None)],
        accounts: vec![account(1, 1, true), account(2, 2, false)],
        vendors: vec![vendor],
        contacts: vec![
            contact(1, ContactRole::Director, "院長"),
            contact(2, ContactRole::SecurityOfficer, "山田花子"),
            contact(3, ContactRole::Vendor, "保守窓口"),
            contact(4, ContactRole::Mhlw, "医療情報担当"),
            contact(5, ContactRole::Police, "サイバー犯罪相談窓口"),
            contact(6, ContactRole::HealthCenter, "医事担当"),
        ],
        remote_points: vec![RemotePoint {
            id: 1,
            name: "カルテ保守VPN".into(),
            vendor_id: Some(VendorId(1)),
            system_id: Some(SystemId(1)),
            asset_id: Some(AssetId(1)),
            route: RemoteRoute::IpVpn,
            allowed_source: "203.0.113.10".into(),
            approver: "事務長".into(),
            session_log: Some(true),
            active: true,
            notes: String::new(),
        }],
        vendor_documents: vec![VendorDocument {
            id: 1,
            vendor_id: Some(VendorId(1)),
            doc_type: DocumentType::Mds,
            title: "MDS".into(),
            version: "5.0".into(),
            received_on: Some(date!(2025 - 05 - 01)),
            file_name: String::new(),
            sha256: String::new(),
            current: true,
            notes: String::new(),
        }],
        documents: vec![
            rules,
            doc(2, DocKind::AccessMatrix, date!(2025 - 04 - 01)),
            doc(3, DocKind::MediaPolicy, date!(2025 - 04 - 01)),
            doc(4, DocKind::ServiceBaseline, date!(2025 - 08 - 01)),
            doc(5, DocKind::BackupProcedure, date!(2025 - 04 - 01)),
            doc(6, DocKind::RestoreTest, date!(2025 - 03 - 10)),
            doc(7, DocKind::CyberBcp, date!(2025 - 04 - 01)),
            doc(8, DocKind::BcpDrill, date!(2025 - 02 - 01)),
            doc(9, DocKind::LogReview, date!(2025 - 09 - 01)),
        ],
        reviews: vec![(RegistryKind::Asset, date!(2025 - 04 - 15))],
        account_reviews: vec![AccountReviewDone {
            id: 1,
            title: "令和7年度 アカウント棚卸".into(),
            closed_on: date!(2025 - 05 - 01),
            keep: 2,
            revoke: 1,
            pending: 0,
        }],
        sealed_records: Some(120),
        collection: LogCollection::default(),
        agents: Vec::new(),
        usb_storage: None,
        service_baselines: Vec::new(),
    }
}

fn run(topic: &str, s: &Snapshot) -> Evidence {
    probe(topic, s, &Thresholds::default(), TODAY, TOPICS).expect("known topic")
}

/// The verdict and the codes of the facts that are not plain information.
fn check(topic: &str, s: &Snapshot) -> (Verdict, Vec<&'static str>) {
    let e = run(topic, s);
    let codes = e
        .facts
        .iter()
        .filter(|f| f.tone != Tone::Info)
        .map(|f| f.code)
        .collect();
    (e.verdict, codes)
}

#[test]
fn every_topic_passes_on_a_facility_that_keeps_its_records() {
    let s = good();
    for t in TOPICS {
        let e = run(t, &s);
        assert_eq!(e.verdict, Verdict::Pass, "{t}: {:?}", e.facts);
        assert_eq!(e.topic, *t);
        assert!(!e.facts.is_empty(), "{t} says why");
    }
    assert!(probe("no.such", &s, &Thresholds::default(), TODAY, TOPICS).is_none());
}

#[test]
fn an_empty_facility_is_never_a_pass() {
    let s = Snapshot::default();
    for t in TOPICS {
        let e = run(t, &s);
        assert_ne!(e.verdict, Verdict::Pass, "{t}: {:?}", e.facts);
    }
    // Without vendors, 2-② and 2-③ need no answer.
    assert_eq!(
        run("systems.remote_maintenance_confirmed", &s).verdict,
        Verdict::NotApplicable
    );
    assert_eq!(
        run("systems.vendor_disclosure", &s).verdict,
        Verdict::NotApplicable
    );
}

#[test]
fn security_officer_must_be_present() {
    let mut s = good();
    s.persons[0].left_on = Some(date!(2025 - 08 - 31));
    assert_eq!(
        check("governance.security_officer", &s),
        (Verdict::Fail, vec!["officer_left"])
    );
    s.contacts
        .push(contact(9, ContactRole::SecurityOfficer, "佐藤 一郎"));
    assert_eq!(
        check("governance.security_officer", &s),
        (Verdict::Pass, vec!["officer_named"])
    );
    s.contacts
        .retain(|c| c.role != ContactRole::SecurityOfficer);
    assert_eq!(
        check("governance.security_officer", &s),
        (Verdict::Fail, vec!["officer_missing"])
    );
}

#[test]
fn ledger_needs_complete_devices_and_a_recent_review() {
    let mut s = good();
    s.assets[0].location.clear();
    s.reviews = vec![(RegistryKind::Asset, date!(2024 - 09 - 01))];
    let (v, codes) = check("systems.ledger", &s);
    assert_eq!(v, Verdict::Fail);
    assert_eq!(codes, vec!["ledger_incomplete", "ledger_review_overdue"]);
    s.reviews.clear();
    s.assets.retain(|a| a.class != AssetClass::NetworkDevice);
    assert_eq!(
        check("systems.ledger", &s).1,
        vec![
            "ledger_no_network",
            "ledger_incomplete",
            "ledger_never_reviewed"
        ]
    );
    // The review counts for one cycle from its day.
    let e = run("systems.ledger", &good());
    assert_eq!(e.valid_until, Some(date!(2026 - 04 - 15)));
}

#[test]
fn vendors_must_answer_on_remote_maintenance() {
    let mut s = good();
    s.vendors[0].remote_maintenance = None;
    assert_eq!(
        check("systems.remote_maintenance_confirmed", &s),
        (Verdict::Fail, vec!["vendors_unconfirmed"])
    );
    let mut s = good();
    s.remote_points.clear();
    assert_eq!(
        check("systems.remote_maintenance_confirmed", &s),
        (Verdict::Unknown, vec!["remote_without_points"])
    );
    let mut s = good();
    s.vendors[0].status = VendorStatus::Ended;
    assert_eq!(
        run("systems.remote_maintenance_confirmed", &s).verdict,
        Verdict::NotApplicable
    );
}

#[test]
fn disclosure_needed_per_vendor_system() {
    let mut s = good();
    s.vendor_documents[0].doc_type = DocumentType::Contract;
    let e = run("systems.vendor_disclosure", &s);
    assert_eq!(e.verdict, Verdict::Fail);
    let f = e
        .facts
        .iter()
        .find(|f| f.code == "disclosure_missing")
        .expect("fact");
    assert_eq!(f.records[0].label, "電子カルテ（カルテ保守株式会社）");
    assert_eq!(f.records[0].kind, RegistryKind::System);
}

#[test]
fn access_rights_need_a_matrix_and_named_admins() {
    let mut s = good();
    s.documents.retain(|d| d.kind != DocKind::AccessMatrix);
    assert_eq!(
        check("systems.access_rights", &s),
        (
            Verdict::Fail,
            vec!["access_matrix_missing", "admins_approved"]
        )
    );
    // An administrator nobody is recorded as approving is named.
    let mut s = good();
    for a in &mut s.accounts {
        a.admin_approved_by = None;
    }
    let e = run("systems.access_rights", &s);
    assert_eq!(e.verdict, Verdict::Unknown);
    let f = e
        .facts
        .iter()
        .find(|f| f.code == "admins_unapproved")
        .expect("fact");
    assert_eq!(f.tone, Tone::Warn);
    assert_eq!(f.records[0].label, "電子カルテ / u1");
    let mut s = good();
    for a in &mut s.accounts {
        a.is_admin = false;
    }
    assert_eq!(
        check("systems.access_rights", &s),
        (
            Verdict::Unknown,
            vec!["access_matrix_recorded", "admin_not_identified"]
        )
    );
    // A matrix limited to other systems does not cover this one.
    let mut s = good();
    for d in &mut s.documents {
        if d.kind == DocKind::AccessMatrix {
            d.system_ids = vec![SystemId(99)];
        }
    }
    assert_eq!(check("systems.access_rights", &s).0, Verdict::Fail);
}

#[test]
fn leavers_and_dormant_accounts_fail_2_5() {
    let mut s = good();
    s.persons[1].left_on = Some(date!(2025 - 06 - 30));
    let e = run("systems.unneeded_accounts", &s);
    assert_eq!(e.verdict, Verdict::Fail);
    let f = e
        .facts
        .iter()
        .find(|f| f.code == "leaver_accounts")
        .expect("fact");
    assert_eq!(
        f.args,
        vec![
            ("count", "1".into()),
            ("persons", "1".into()),
            ("days", "93".into())
        ]
    );
    assert_eq!(f.records[0].label, "電子カルテ / u2（佐藤 一郎）");
    let mut s = good();
    s.accounts[1].last_login_on = Some(date!(2025 - 01 - 01));
    assert_eq!(
        check("systems.unneeded_accounts", &s),
        (
            Verdict::Fail,
            vec![
                "no_leaver_accounts",
                "dormant_accounts",
                "account_review_done"
            ]
        )
    );
    // The evidence holds until the first account would turn dormant.
    assert_eq!(
        run("systems.unneeded_accounts", &good()).valid_until,
        Some(date!(2025 - 12 - 29))
    );
}

#[test]
fn an_account_review_within_the_cycle_is_evidence_for_2_5() {
    let e = run("systems.unneeded_accounts", &good());
    let f = e
        .facts
        .iter()
        .find(|f| f.code == "account_review_done")
        .expect("fact");
    assert_eq!(
        f.args,
        vec![
            ("date", "2025-05-01".into()),
            ("title", "令和7年度 アカウント棚卸".into()),
            ("keep", "2".into()),
            ("revoke", "1".into())
        ]
    );
    assert_eq!(e.verdict, Verdict::Pass);
    // Older than the cycle: a warning, and the verdict is no longer a pass.
    let mut s = good();
    s.account_reviews[0].closed_on = date!(2024 - 09 - 30);
    assert_eq!(
        check("systems.unneeded_accounts", &s),
        (
            Verdict::Unknown,
            vec!["no_leaver_accounts", "account_review_overdue"]
        )
    );
    // The newest campaign counts.
    s.account_reviews.push(AccountReviewDone {
        id: 2,
        closed_on: date!(2025 - 09 - 01),
        ..s.account_reviews[0].clone()
    });
    assert_eq!(run("systems.unneeded_accounts", &s).verdict, Verdict::Pass);
    let mut s = good();
    s.account_reviews.clear();
    assert_eq!(
        check("systems.unneeded_accounts", &s),
        (
            Verdict::Unknown,
            vec!["no_leaver_accounts", "account_review_never"]
        )
    );
}

#[test]
fn patches_follow_the_policy_and_eol_needs_a_control() {
    let mut s = good();
    s.assets[1].last_patch_on = Some(date!(2025 - 05 - 01));
    s.assets[2].eol_on = Some(date!(2025 - 01 - 31));
    assert_eq!(
        check("systems.security_patches", &s),
        (Verdict::Fail, vec!["patches_stale", "eol_without_control"])
    );
    s.assets[1].last_patch_on = Some(date!(2025 - 09 - 01));
    s.assets[2].compensating_control = "インターネット非接続・保守業者のみ操作".into();
    assert_eq!(
        check("systems.security_patches", &s),
        (Verdict::Pass, vec![])
    );
    s.assets[0].last_patch_on = None;
    assert_eq!(
        check("systems.security_patches", &s),
        (Verdict::Unknown, vec!["patch_date_unknown"])
    );
    // Valid until the oldest patch date plus 90 days.
    assert_eq!(
        run("systems.security_patches", &good()).valid_until,
        Some(date!(2025 - 12 - 14))
    );
}

#[test]
fn password_rules_follow_2_7() {
    let mut s = good();
    s.systems[0].password.min_length = Some(8);
    s.systems[0].two_factor = TwoFactor::None;
    s.systems[0].password.max_age_days = Some(180);
    assert_eq!(
        check("operation.password_rule", &s),
        (Verdict::Fail, vec!["password_rules_weak"])
    );
    s.systems[0].password.max_age_days = None;
    assert_eq!(
        check("operation.password_rule", &s),
        (Verdict::Unknown, vec!["password_rules_unknown"])
    );
}

#[test]
fn reuse_is_forbidden_by_rule_or_history() {
    let mut s = good();
    s.documents[0]
        .topics
        .retain(|t| *t != "operation.password_no_reuse");
    // History kept everywhere backs the answer without a written rule.
    assert_eq!(
        check("operation.password_no_reuse", &s),
        (Verdict::Pass, vec!["password_history_everywhere"])
    );
    s.systems[0].password.history = Some(0);
    assert_eq!(
        check("operation.password_no_reuse", &s),
        (
            Verdict::Fail,
            vec!["reuse_rule_missing", "no_password_history"]
        )
    );
    s.systems[0].password.history = None;
    assert_eq!(
        check("operation.password_no_reuse", &s),
        (Verdict::Unknown, vec!["reuse_rule_missing"])
    );
}

#[test]
fn documents_back_media_bcp_backup_and_rules() {
    let mut s = good();
    s.documents.clear();
    assert_eq!(
        check("operation.removable_media", &s),
        (Verdict::Fail, vec!["media_policy_missing"])
    );
    assert_eq!(
        check("incident.backup_and_restore", &s),
        (
            Verdict::Fail,
            vec!["backup_procedure_missing", "restore_test_missing"]
        )
    );
    assert_eq!(
        check("incident.cyber_bcp", &s),
        (
            Verdict::Fail,
            vec!["cyber_bcp_missing", "bcp_drill_missing"]
        )
    );
    assert_eq!(
        check("rules.operating_rules", &s),
        (Verdict::Fail, vec!["operating_rules_missing"])
    );
    // A drill older than a year no longer counts; one in the future does not count yet.
    let mut s = good();
    for d in &mut s.documents {
        if d.kind == DocKind::BcpDrill {
            d.dated_on = Some(date!(2024 - 09 - 30));
        }
    }
    assert_eq!(
        check("incident.cyber_bcp", &s),
        (Verdict::Fail, vec!["cyber_bcp", "bcp_drill_old"])
    );
    s.documents
        .push(doc(20, DocKind::BcpDrill, date!(2025 - 11 - 01)));
    assert_eq!(check("incident.cyber_bcp", &s).0, Verdict::Fail);
    // A retired (not current) record does not count.
    let mut s = good();
    for d in &mut s.documents {
        if d.kind == DocKind::RestoreTest {
            d.current = false;
        }
    }
    assert_eq!(check("incident.backup_and_restore", &s).0, Verdict::Fail);
    // Valid for a year from the test.
    assert_eq!(
        run("incident.backup_and_restore", &good()).valid_until,
        Some(date!(2026 - 03 - 10))
    );
}

#[test]
fn operating_rules_must_cover_the_scope() {
    let mut s = good();
    s.documents[0].topics = vec!["governance.security_officer", "systems.ledger"];
    let e = run("rules.operating_rules", &s);
    assert_eq!(e.verdict, Verdict::Fail);
    let f = e
        .facts
        .iter()
        .find(|f| f.code == "operating_rules_gaps")
        .expect("fact");
    assert_eq!(f.args[0], ("count", "16".into()));
    // A second document of rules can cover the rest.
    let mut more = doc(30, DocKind::OperatingRules, date!(2025 - 05 - 01));
    more.topics = TOPICS[2..].to_vec();
    s.documents.push(more);
    assert_eq!(run("rules.operating_rules", &s).verdict, Verdict::Pass);
}

#[test]
fn services_baseline_per_class() {
    let mut s = good();
    for d in &mut s.documents {
        if d.kind == DocKind::ServiceBaseline {
            d.asset_classes = vec![AssetClass::Server];
        }
    }
    assert_eq!(check("server.unneeded_services", &s).0, Verdict::Pass);
    assert_eq!(
        check("workstation.unneeded_services", &s),
        (Verdict::Fail, vec!["service_baseline_missing"])
    );
    s.assets.retain(|a| a.class != AssetClass::Workstation);
    assert_eq!(
        check("workstation.unneeded_services", &s),
        (Verdict::Unknown, vec!["no_devices_of_class"])
    );
}

#[test]
fn network_devices_and_remote_points_restrict_sources() {
    let mut s = good();
    s.assets[2].source_restriction = Some(false);
    s.remote_points[0].allowed_source.clear();
    assert_eq!(
        check("network.source_restriction", &s),
        (
            Verdict::Fail,
            vec!["unrestricted_devices", "remote_points_open"]
        )
    );
    let mut s = good();
    s.assets[2].source_restriction = None;
    assert_eq!(
        check("network.source_restriction", &s),
        (Verdict::Unknown, vec!["restriction_unknown"])
    );
}

#[test]
fn two_factor_by_the_deadline() {
    let mut s = good();
    s.systems[0].two_factor = TwoFactor::Partial;
    s.systems[0].two_factor_plan_on = Some(date!(2027 - 10 - 01));
    assert_eq!(check("operation.two_factor", &s), (Verdict::Pass, vec![]));
    s.systems[0].two_factor_plan_on = Some(date!(2028 - 04 - 01));
    assert_eq!(
        check("operation.two_factor", &s),
        (Verdict::Fail, vec!["two_factor_late"])
    );
    s.systems[0].in_use_r9 = Some(false);
    assert_eq!(check("operation.two_factor", &s).0, Verdict::Unknown);
}

#[test]
fn access_logs_need_logging_systems_and_a_review() {
    let mut s = good();
    s.documents.retain(|d| d.kind != DocKind::LogReview);
    assert_eq!(
        check("server.access_logs", &s),
        (Verdict::Unknown, vec!["log_review_missing"])
    );
    s.systems[0].access_log = Some(false);
    assert_eq!(
        check("server.access_logs", &s),
        (
            Verdict::Fail,
            vec!["systems_without_logs", "log_review_missing"]
        )
    );
}

#[test]
fn a_log_review_recorded_in_mamori_counts_and_silent_or_drifting_sources_show() {
    let mut s = good();
    s.documents.retain(|d| d.kind != DocKind::LogReview);
    s.collection = LogCollection {
        live_sources: 2,
        file_sources: 1,
        events_30d: 1234,
        silent: vec!["syslog/192.0.2.9".into()],
        drifting: vec![],
        own_clock_offset_ms: Some(-1_200),
        last_review: Some((
            TODAY,
            "安全 太郎".into(),
            date!(2025 - 09 - 01),
            date!(2025 - 09 - 30),
        )),
    };
    let e = run("server.access_logs", &s);
    // A silent source is something to look at before answering はい.
    assert_eq!(e.verdict, Verdict::Unknown, "{:?}", e.facts);
    let codes: Vec<_> = e.facts.iter().map(|f| f.code).collect();
    assert!(codes.contains(&"logs_collected"));
    assert!(codes.contains(&"log_sources_silent"));
    assert!(codes.contains(&"log_reviewed_in_mamori"));
    assert!(codes.contains(&"own_clock_checked"));
    assert!(e.sources.contains(&Source::Logs));
    let silent = std::mem::take(&mut s.collection.silent);
    assert_eq!(run("server.access_logs", &s).verdict, Verdict::Pass);
    s.collection.silent = silent;
    // A review older than the validity window is not enough.
    s.collection.last_review = Some((
        date!(2024 - 01 - 31),
        "安全 太郎".into(),
        date!(2024 - 01 - 01),
        date!(2024 - 01 - 30),
    ));
    assert_eq!(
        check("server.access_logs", &s),
        (
            Verdict::Unknown,
            vec!["log_sources_silent", "log_review_old"]
        )
    );
}

#[test]
fn contact_chart_needs_roles_and_recent_checks() {
    let mut s = good();
    s.contacts.retain(|c| c.role != ContactRole::Police);
    s.contacts[0].verified_on = Some(date!(2024 - 01 - 01));
    let e = run("incident.contact_chart", &s);
    assert_eq!(e.verdict, Verdict::Fail);
    let codes: Vec<_> = e.facts.iter().map(|f| (f.code, f.args.clone())).collect();
    assert!(codes.contains(&(
        "contact_roles_missing",
        vec![("count", "1".into()), ("roles", "police".into())]
    )));
    assert!(codes.iter().any(|(c, _)| *c == "contacts_unverified"));
}

#[test]
fn answers_are_checked_like_the_form() {
    let ok = AnswerInput {
        answer: Some(Answer::No),
        confirmed_on: Some(TODAY),
        target_on: Some(date!(2026 - 03 - 31)),
        remarks: " 業者と調整中 ".into(),
    };
    let checked = check_answer(&ok, 2025, false, TODAY).expect("valid");
    assert_eq!(checked.remarks, "業者と調整中");
    let codes = |i: &AnswerInput, na| {
        check_answer(i, 2025, na, TODAY)
            .err()
            .unwrap_or_default()
            .iter()
            .map(|e| (e.field, e.code))
            .collect::<Vec<_>>()
    };
    let late = AnswerInput {
        target_on: Some(date!(2026 - 04 - 01)),
        ..ok.clone()
    };
    assert_eq!(codes(&late, false), vec![("target_on", "CHK0004")]);
    let none = AnswerInput {
        target_on: None,
        ..ok.clone()
    };
    assert_eq!(codes(&none, false), vec![("target_on", "CHK0003")]);
    let before = AnswerInput {
        target_on: Some(date!(2025 - 09 - 01)),
        ..ok.clone()
    };
    assert_eq!(codes(&before, false), vec![("target_on", "CHK0008")]);
    let blank = AnswerInput {
        answer: None,
        confirmed_on: None,
        target_on: None,
        remarks: "x".repeat(501),
    };
    assert_eq!(
        codes(&blank, false),
        vec![
            ("answer", "CHK0001"),
            ("confirmed_on", "CHK0002"),
            ("remarks", "CHK0006")
        ]
    );
    let na = AnswerInput {
        answer: Some(Answer::NotApplicable),
        ..ok.clone()
    };
    assert_eq!(codes(&na, false), vec![("answer", "CHK0005")]);
    assert_eq!(codes(&na, true), vec![]);
    let future = AnswerInput {
        answer: Some(Answer::Yes),
        confirmed_on: Some(date!(2025 - 10 - 02)),
        ..ok.clone()
    };
    assert_eq!(codes(&future, false), vec![("confirmed_on", "CHK0007")]);
    // A target date given with はい is dropped, not stored.
    let yes = AnswerInput {
        answer: Some(Answer::Yes),
        ..ok
    };
    assert_eq!(
        check_answer(&yes, 2025, false, TODAY)
            .expect("valid")
            .target_on,
        None
    );
}

#[test]
fn flags_show_contradictions_upgrades_and_expiry() {
    let s = good();
    let pass = run("incident.backup_and_restore", &s);
    let mut bad = s.clone();
    bad.persons[1].left_on = Some(date!(2025 - 06 - 30));
    let fail = run("systems.unneeded_accounts", &bad);
    assert_eq!(
        flags(Some(Answer::Yes), &fail, TODAY),
        vec![Flag::Contradiction]
    );
    assert_eq!(flags(Some(Answer::No), &fail, TODAY), vec![]);
    assert_eq!(flags(Some(Answer::No), &pass, TODAY), vec![Flag::Upgrade]);
    assert_eq!(
        flags(None, &pass, TODAY),
        vec![Flag::Unanswered, Flag::Upgrade]
    );
    assert_eq!(flags(Some(Answer::Yes), &pass, TODAY), vec![]);
    // The restore test of 2025-03-10 counts until 2026-03-10: flagged from 2026-02-08.
    assert_eq!(
        flags(Some(Answer::Yes), &pass, date!(2026 - 02 - 08)),
        vec![Flag::Expiring]
    );
    assert_eq!(
        flags(Some(Answer::Yes), &pass, date!(2026 - 02 - 07)),
        vec![]
    );
}

#[test]
fn accounts_show_whether_password_and_two_factor_rules_are_kept() {
    // A password older than the system allows: the rule is configured but not kept.
    let mut s = good();
    s.systems[0].password.max_age_days = Some(60);
    s.accounts[0].pw_last_set_on = Some(date!(2025 - 01 - 10));
    let e = run("operation.password_rule", &s);
    let f = e
        .facts
        .iter()
        .find(|f| f.code == "passwords_stale")
        .expect("fact");
    assert_eq!(f.tone, Tone::Warn);
    assert_eq!(f.records[0].label, "電子カルテ / u1");
    // An account without two-factor on a system that has it for everyone.
    let mut s = good();
    s.accounts[1].two_factor = false;
    let e = run("operation.two_factor", &s);
    let f = e
        .facts
        .iter()
        .find(|f| f.code == "accounts_without_two_factor")
        .expect("fact");
    assert_eq!(f.args, vec![("count", "1".to_string())]);
    assert_eq!(f.records[0].label, "電子カルテ / u2");
    assert_ne!(e.verdict, Verdict::Pass);
}

#[test]
fn agents_add_their_evidence_to_the_ledger_patches_media_and_services() {
    let mut s = good();
    let agent = |host: &str, asset: Option<(i64, AssetClass)>, updates| AgentFacts {
        hostname: host.into(),
        asset,
        pending_updates: updates,
        listening: 2,
        packages: 500,
        ports: vec![Port {
            proto: "tcp".into(),
            port: 22,
        }],
        services: vec!["ssh.service".into()],
        silent: false,
    };
    // Every agent in the ledger, patched, storage blocked: still a pass, with the agents cited.
    s.agents = vec![
        agent("sv01", Some((1, AssetClass::Server)), Some(0)),
        agent("pc01", Some((2, AssetClass::Workstation)), Some(0)),
    ];
    s.usb_storage = Some("deny".into());
    for t in TOPICS {
        assert_eq!(run(t, &s).verdict, Verdict::Pass, "{t}");
    }
    let e = run("systems.ledger", &s);
    assert!(e.sources.contains(&Source::Agents));
    assert!(e.facts.iter().any(|f| f.code == "agents_in_ledger"));
    let e = run("server.unneeded_services", &s);
    let f = e
        .facts
        .iter()
        .find(|f| f.code == "agents_services")
        .unwrap();
    assert!(f.args.contains(&("hosts", "sv01".to_string())));

    // A PC the ledger does not know fails 2-①; pending updates fail 2-⑥.
    s.agents.push(agent("pacs-view01", None, Some(14)));
    assert_eq!(
        check("systems.ledger", &s),
        (
            Verdict::Fail,
            vec!["ledger_reviewed", "agents_not_in_ledger"]
        )
    );
    let e = run("systems.security_patches", &s);
    assert_eq!(e.verdict, Verdict::Fail);
    let f = e
        .facts
        .iter()
        .find(|f| f.code == "agents_updates_pending")
        .unwrap();
    assert!(f.args.contains(&("updates", "14".to_string())));
    assert!(f.args.contains(&("hosts", "pacs-view01".to_string())));

    // A policy that lets storage through leaves 2-⑨ to a person.
    s.usb_storage = Some("allow".into());
    assert_eq!(
        check("operation.removable_media", &s),
        (
            Verdict::Unknown,
            vec!["media_policy", "usb_control_allows_storage"]
        )
    );
}

#[test]
fn agents_are_checked_against_the_service_baseline_of_their_class() {
    let mut s = good();
    let port = |p: u16| Port {
        proto: "tcp".into(),
        port: p,
    };
    let agent = |host: &str, id, class, ports: Vec<Port>, services: &[&str]| AgentFacts {
        hostname: host.into(),
        asset: Some((id, class)),
        pending_updates: Some(0),
        ports,
        services: services.iter().map(|x| x.to_string()).collect(),
        ..AgentFacts::default()
    };
    s.agents = vec![
        agent(
            "sv01",
            1,
            AssetClass::Server,
            vec![port(22), port(443)],
            &["ssh.service", "postgresql@15-main.service"],
        ),
        agent(
            "pc01",
            2,
            AssetClass::Workstation,
            vec![port(5900)],
            &["anydesk.service", "cron.service"],
        ),
    ];
    s.usb_storage = Some("deny".into());
    // No allow-list yet: the document still carries 2-⑫, and mamori says it could compare.
    let e = run("server.unneeded_services", &s);
    assert_eq!(e.verdict, Verdict::Pass);
    let codes: Vec<&str> = e.facts.iter().map(|f| f.code).collect();
    assert_eq!(
        codes,
        [
            "devices_of_class",
            "service_baseline",
            "agents_services",
            "service_allowlist_missing"
        ]
    );
    // An allow-list for servers saved after the document: it is the baseline, and sv01 keeps
    // within it.
    let list = |text: &str, on: Date| ClassBaseline {
        class: AssetClass::Server,
        baseline: crate::service_baseline::parse(text).unwrap(),
        updated_on: on,
        updated_by: "情報 一郎".into(),
    };
    s.service_baselines = vec![list(
        "tcp/22\ntcp/443\nssh\npostgresql@*.service",
        date!(2025 - 09 - 01),
    )];
    let e = run("server.unneeded_services", &s);
    assert_eq!(e.verdict, Verdict::Pass);
    assert_eq!(e.valid_until, Some(date!(2026 - 09 - 01)));
    let codes: Vec<&str> = e.facts.iter().map(|f| f.code).collect();
    assert_eq!(
        codes,
        [
            "devices_of_class",
            "service_allowlist",
            "agents_services",
            "agents_within_baseline"
        ]
    );
    // A port beyond it fails the item, naming the host and what.
    s.service_baselines = vec![list("tcp/22\nssh\npostgresql@*", date!(2025 - 09 - 01))];
    let e = run("server.unneeded_services", &s);
    assert_eq!(e.verdict, Verdict::Fail);
    let f = e
        .facts
        .iter()
        .find(|f| f.code == "agents_beyond_baseline")
        .unwrap();
    assert_eq!(f.args[0], ("count", "1".to_string()));
    assert_eq!(f.args[1], ("items", "sv01（tcp/443）".to_string()));
    // The PCs' baseline is another list: 2-⑬ is untouched by the servers' one.
    assert_eq!(
        run("workstation.unneeded_services", &s).verdict,
        Verdict::Pass
    );
    s.service_baselines.push(ClassBaseline {
        class: AssetClass::Workstation,
        ..list("cron", date!(2025 - 09 - 01))
    });
    let e = run("workstation.unneeded_services", &s);
    let f = e
        .facts
        .iter()
        .find(|f| f.code == "agents_beyond_baseline")
        .unwrap();
    assert_eq!(f.args[1].1, "pc01（tcp/5900、anydesk.service）");
    // An allow-list older than the document: the document is the dated baseline, the list still
    // checks the agents; over a year old and nothing newer, it is stale.
    s.service_baselines = vec![list(
        "tcp/22\ntcp/443\nssh\npostgresql@*",
        date!(2025 - 01 - 01),
    )];
    let codes: Vec<&str> = run("server.unneeded_services", &s)
        .facts
        .iter()
        .map(|f| f.code)
        .collect();
    assert_eq!(codes[1], "service_baseline");
    assert!(codes.contains(&"agents_within_baseline"));
    s.documents.retain(|d| d.kind != DocKind::ServiceBaseline);
    s.service_baselines = vec![list("tcp/22", date!(2024 - 09 - 01))];
    let e = run("server.unneeded_services", &s);
    assert_eq!(e.facts[1].code, "service_baseline_old");
    assert_eq!(e.verdict, Verdict::Fail);
}
