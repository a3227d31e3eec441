//! Account review campaigns (アカウント棚卸) on either database: opened over a system and a
//! department, decided in bulk (a revoke disables the account in the ledger with its history),
//! closed with a note, then final; refusals name the field and write nothing; the report
//! downloads; who may view and who may decide; the checklist takes the closed campaign as
//! evidence for 2-⑤; the demo has one closed and one in progress.

use mamori_domain::ledger::{
    Account, AccountKind, DeliveryModel, InfoSystem, JobType, Person, SystemCategory,
};
use mamori_domain::role::Role;
use mamori_domain::{PersonId, SystemId};
use mamori_testkit::{PASSWORD, TestServer};

fn person(staff_no: &str, name: &str, dept: &str, left: Option<time::Date>) -> Person {
    Person {
        id: PersonId(0),
        staff_no: staff_no.into(),
        name: name.into(),
        name_kana: String::new(),
        job: JobType::Nurse,
        department: dept.into(),
        joined_on: None,
        left_on: left,
        notes: String::new(),
    }
}

/// An EHR with four accounts: two nurses of 外来 (one has left), one of 病棟, and one shared; and
/// a second system with one 外来 account. Returns (EHR id, [account ids]).
async fn ledger(s: &TestServer) -> (i64, Vec<i64>) {
    let today = s.svc.clock.today();
    let mut w = s.svc.store.write().await.unwrap();
    let mut ehr = InfoSystem::blank(SystemCategory::Ehr, DeliveryModel::OnPremises);
    ehr.name = "電子カルテ".into();
    let ehr = mamori_storage::registry::insert(&mut w, &ehr)
        .await
        .unwrap();
    let mut lab = InfoSystem::blank(SystemCategory::Other, DeliveryModel::OnPremises);
    lab.name = "検査システム".into();
    let lab = mamori_storage::registry::insert(&mut w, &lab)
        .await
        .unwrap();
    let gone = today - time::Duration::days(40);
    let mut persons = Vec::new();
    for p in [
        person("N-001", "山田 花子", "外来", None),
        person("N-002", "佐藤 一郎", "外来", Some(gone)),
        person("N-003", "鈴木 次郎", "病棟", None),
    ] {
        persons.push(mamori_storage::registry::insert(&mut w, &p).await.unwrap());
    }
    let mut ids = Vec::new();
    for (system, login, owner, kind) in [
        (ehr, "yamada", Some(persons[0]), AccountKind::Personal),
        (ehr, "sato", Some(persons[1]), AccountKind::Personal),
        (ehr, "suzuki", Some(persons[2]), AccountKind::Personal),
        (ehr, "uketsuke", None, AccountKind::Shared),
        (lab, "yamada-lab", Some(persons[0]), AccountKind::Personal),
    ] {
        let mut a = Account::new(SystemId(system), login);
        a.person_id = owner.map(PersonId);
        a.kind = kind;
        a.last_login_on = Some(today);
        ids.push(mamori_storage::registry::insert(&mut w, &a).await.unwrap());
    }
    w.commit().await.unwrap();
    (ehr, ids)
}

async fn audit_count(s: &TestServer) -> usize {
    s.svc.store.audit_events(100_000, 0).await.unwrap().len()
}

fn review_of(location: Option<&str>) -> i64 {
    let l = location.expect("a redirect");
    let rest = l.strip_prefix("/accounts/reviews/").expect(l);
    rest.split('?').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_review_is_opened_decided_in_bulk_and_closed() {
    let (s, admin) = TestServer::with_admin().await;
    let (ehr, ids) = ledger(&s).await;
    let ehr_s = ehr.to_string();
    let mut c = s.login(&admin).await;
    let p = c.get("/accounts/reviews").await;
    assert_eq!(p.status, 200);
    assert!(
        p.has("アカウント棚卸") && p.has("完了した棚卸はまだありません"),
        "{}",
        p.body
    );
    let p = c.get("/accounts").await;
    assert!(
        p.has(r#"href="/accounts/reviews""#),
        "linked from アカウント"
    );

    // Refusals name the field and write nothing.
    let before = audit_count(&s).await;
    for (fields, code) in [
        (vec![("title", " "), ("system", ehr_s.as_str())], "REV0001"),
        (
            vec![
                ("title", "棚卸"),
                ("system", ehr_s.as_str()),
                ("due_on", "来週"),
            ],
            "REV0010",
        ),
        (
            vec![
                ("title", "棚卸"),
                ("system", ehr_s.as_str()),
                ("due_on", "2020-01-01"),
            ],
            "REV0008",
        ),
        (vec![("title", "棚卸"), ("system", "999999")], "REV0009"),
        (
            vec![
                ("title", "棚卸"),
                ("system", ehr_s.as_str()),
                ("department", "薬剤部"),
            ],
            "REV0002",
        ),
    ] {
        let p = c.post("/accounts/reviews", &fields).await;
        assert_eq!(p.status, 400, "{code}: {}", p.body);
        assert!(p.has(code), "{code}: {}", p.body);
        assert!(p.has(r#"class="error-text""#), "{code} at its field");
    }
    assert!(s.svc.store.account_reviews().await.unwrap().is_empty());
    assert_eq!(audit_count(&s).await, before);

    // The EHR's accounts of 外来: yamada and the leaver sato (not suzuki of 病棟, not the shared
    // account without an owner, not the other system's).
    let p = c
        .post(
            "/accounts/reviews",
            &[
                ("title", "令和8年度 下期 外来"),
                ("system", &ehr_s),
                ("department", "外来"),
                ("due_on", "令和20年1月31日"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let rid = review_of(p.location.as_deref());
    assert_eq!(audit_count(&s).await, before + 1);
    let items = s.svc.store.account_review_items(rid).await.unwrap();
    let logins: Vec<&str> = items.iter().map(|i| i.login_id.as_str()).collect();
    assert_eq!(logins, ["sato", "yamada"]);
    assert_eq!(items[0].hints, "leaver");
    assert_eq!(items[0].owner, "佐藤 一郎");
    let r = s.svc.store.account_review(rid).await.unwrap().unwrap();
    assert_eq!(r.due_on.as_deref(), Some("2038-01-31"));
    let href = format!("/accounts/reviews/{rid}");
    let p = c.get(p.location.as_deref().unwrap()).await;
    assert!(
        p.has("令和8年度 下期 外来") && p.has("電子カルテ / 外来") && p.has("棚卸を開始しました"),
        "{}",
        p.body
    );
    assert!(
        p.has(r#"class="badge bad">退職者"#) && p.has("data-suggest-revoke"),
        "{}",
        p.body
    );
    assert!(p.has("<svg"), "the decisions chart");

    // Revoking needs a reason; a failed decision changes nothing.
    let (sato, yamada, suzuki) = (ids[1].to_string(), ids[0].to_string(), ids[2].to_string());
    let before = audit_count(&s).await;
    let p = c
        .post(
            &format!("{href}/decide"),
            &[("account", &sato), ("decision", "revoke"), ("comment", "")],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("REV0007"), "{}", p.body);
    // Nothing ticked; an account of another scope.
    let p = c
        .post(&format!("{href}/decide"), &[("decision", "keep")])
        .await;
    assert!(p.status == 400 && p.has("REV0004"), "{}", p.body);
    let p = c
        .post(
            &format!("{href}/decide"),
            &[
                ("account", &yamada),
                ("account", &suzuki),
                ("decision", "keep"),
            ],
        )
        .await;
    assert!(p.status == 400 && p.has("REV0005"), "{}", p.body);
    assert_eq!(audit_count(&s).await, before);
    assert!(
        s.svc
            .store
            .account_review_items(rid)
            .await
            .unwrap()
            .iter()
            .all(|i| i.decision == "pending")
    );

    // Revoke the leaver: disabled in the ledger with its history row, one audit event.
    let p = c
        .post(
            &format!("{href}/decide"),
            &[
                ("account", &sato),
                ("decision", "revoke"),
                ("comment", "退職のため"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(audit_count(&s).await, before + 1);
    let a: Account = s.svc.store.record(ids[1]).await.unwrap().unwrap();
    assert!(!a.enabled);
    assert_eq!(a.disabled_on, Some(s.svc.clock.today()));
    let history = s.svc.store.history("account", ids[1]).await.unwrap();
    assert!(
        history.iter().any(|h| h.action == "account_review"),
        "{history:?}"
    );
    // A revoke is not turned back into keep here.
    let p = c
        .post(
            &format!("{href}/decide"),
            &[("account", &sato), ("decision", "keep")],
        )
        .await;
    assert!(p.status == 400 && p.has("REV0011"), "{}", p.body);

    // Closing with an undecided account needs a note.
    let p = c.post(&format!("{href}/close"), &[("note", "")]).await;
    assert!(p.status == 400 && p.has("REV0006"), "{}", p.body);
    let p = c
        .post(
            &format!("{href}/decide"),
            &[("account", &yamada), ("decision", "keep"), ("comment", "")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = c
        .post(&format!("{href}/close"), &[("note", "外来師長に確認済み")])
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let r = s.svc.store.account_review(rid).await.unwrap().unwrap();
    assert!(r.closed_ms.is_some());
    assert_eq!((r.keep, r.revoke, r.pending), (1, 1, 0));
    assert_eq!(r.close_note, "外来師長に確認済み");
    // Closed is final.
    let before = audit_count(&s).await;
    let p = c
        .post(
            &format!("{href}/decide"),
            &[
                ("account", &yamada),
                ("decision", "revoke"),
                ("comment", "x"),
            ],
        )
        .await;
    assert!(p.status == 400 && p.has("REV0003"), "{}", p.body);
    let p = c.post(&format!("{href}/close"), &[("note", "x")]).await;
    assert!(p.status == 400 && p.has("REV0003"), "{}", p.body);
    assert_eq!(audit_count(&s).await, before);
    let p = c.get(&href).await;
    assert!(
        p.has("外来師長に確認済み") && !p.has(r#"name="decision""#),
        "closed: no decision form: {}",
        p.body
    );

    // The report: Excel-ready CSV with the decisions.
    let p = c.get(&format!("{href}/report.csv")).await;
    assert_eq!(p.status, 200);
    assert!(p.body.starts_with('\u{feff}'), "BOM");
    let lines: Vec<&str> = p
        .body
        .trim_start_matches('\u{feff}')
        .split("\r\n")
        .collect();
    assert!(
        lines[0].starts_with("システム,ログインID,利用者"),
        "{}",
        lines[0]
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("sato") && l.contains("無効化") && l.contains("退職のため")),
        "{lines:?}"
    );

    // The checklist takes the closed campaign for 2-⑤.
    let snap = s.svc.checklist_snapshot().await.unwrap();
    assert_eq!(snap.account_reviews.len(), 1);
    assert_eq!(
        (snap.account_reviews[0].keep, snap.account_reviews[0].revoke),
        (1, 1)
    );

    // An unknown campaign.
    let p = c.get("/accounts/reviews/999999").await;
    assert_eq!(p.status, 404);
    let p = c
        .post(
            "/accounts/reviews/999999/decide",
            &[("account", &yamada), ("decision", "keep")],
        )
        .await;
    assert_eq!(p.status, 404);
    // Ticking everything on the second system.
    let p = c
        .post(
            "/accounts/reviews",
            &[("title", "全システム"), ("system", ""), ("department", "")],
        )
        .await;
    let all = review_of(p.location.as_deref());
    let items = s.svc.store.account_review_items(all).await.unwrap();
    assert_eq!(items.len(), 4, "every enabled account: {items:?}");
}

#[tokio::test]
async fn auditors_see_reviews_and_staff_do_not() {
    let (s, admin) = TestServer::with_admin().await;
    let (ehr, ids) = ledger(&s).await;
    let mut c = s.login(&admin).await;
    let p = c
        .post(
            "/accounts/reviews",
            &[("title", "棚卸"), ("system", &ehr.to_string())],
        )
        .await;
    let rid = review_of(p.location.as_deref());
    let auditor = s.add_user("kansa", Role::Auditor).await;
    let mut a = s.login(&auditor).await;
    let p = a.get(&format!("/accounts/reviews/{rid}")).await;
    assert_eq!(p.status, 200);
    assert!(
        !p.has(r#"name="decision""#),
        "no decision form for auditors"
    );
    let p = a
        .post(
            &format!("/accounts/reviews/{rid}/decide"),
            &[("account", &ids[0].to_string()), ("decision", "keep")],
        )
        .await;
    assert_eq!(p.status, 403);
    let p = a.get(&format!("/accounts/reviews/{rid}/report.csv")).await;
    assert_eq!(p.status, 200);
    let staff = s.add_user("shokuin", Role::Staff).await;
    let mut st = s.login(&staff).await;
    assert_eq!(st.get("/accounts/reviews").await.status, 403);
    assert_eq!(
        st.get(&format!("/accounts/reviews/{rid}")).await.status,
        403
    );
}

#[tokio::test]
async fn the_demo_has_a_closed_review_and_one_in_progress() {
    let s = TestServer::start().await;
    let demo = mamori_service::demo::demo_facility(s.svc.clock.today(), 20_251_001);
    s.svc.seed_demo(&demo, PASSWORD).await.unwrap();
    let all = s.svc.store.account_reviews().await.unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    let closed: Vec<_> = all.iter().filter(|r| r.closed_ms.is_some()).collect();
    assert_eq!(closed.len(), 1);
    assert!(
        closed[0].keep > 5 && closed[0].pending == 0,
        "{:?}",
        closed[0]
    );
    let open = all.iter().find(|r| r.closed_ms.is_none()).unwrap();
    assert!(open.pending > 0 && open.keep > 0, "{open:?}");
    // The demo's admin approvals point at its own persons, and one admin right is unapproved.
    let persons: Vec<Person> = s.svc.store.records().await.unwrap();
    let accounts: Vec<Account> = s.svc.store.records().await.unwrap();
    for a in accounts.iter().filter_map(|a| a.admin_approved_by) {
        assert!(persons.iter().any(|p| p.id == a), "approver {a} exists");
    }
    assert_eq!(
        mamori_domain::findings::unapproved_administrators(&accounts).len(),
        1
    );
    assert!(accounts.iter().any(|a| a.locked_out));
    // The checklist's 2-⑤ sees the closed review.
    let snap = s.svc.checklist_snapshot().await.unwrap();
    assert_eq!(snap.account_reviews.len(), 1);
}
