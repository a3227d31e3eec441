//! Break-glass (非常時) accounts on either database: custody is recorded with its holders and
//! place; a declared use raises a critical alert and flags the account, as does a use the
//! detection rule sees in the logs; the reseal clears the flag and sets the password day in the
//! ledger; refusals name the field and write nothing; who may see and who may change.

use mamori_domain::SystemId;
use mamori_domain::alert::AlertLevel;
use mamori_domain::ledger::{Account, AccountKind, DeliveryModel, InfoSystem, SystemCategory};
use mamori_domain::role::Role;
use mamori_service::alerts::Detection;
use mamori_service::break_glass::{DECLARED_RULE_ID, DETECTED_RULE_ID};
use mamori_testkit::TestServer;

/// An EHR with its emergency account and a personal one: (emergency id, personal id).
async fn ledger(s: &TestServer) -> (i64, i64) {
    let mut w = s.svc.store.write().await.unwrap();
    let mut ehr = InfoSystem::blank(SystemCategory::Ehr, DeliveryModel::OnPremises);
    ehr.name = "電子カルテ".into();
    let ehr = mamori_storage::registry::insert(&mut w, &ehr)
        .await
        .unwrap();
    let mut e = Account::new(SystemId(ehr), "emergency");
    e.kind = AccountKind::Emergency;
    e.is_admin = true;
    let e = mamori_storage::registry::insert(&mut w, &e).await.unwrap();
    let p = Account::new(SystemId(ehr), "yamada");
    let p = mamori_storage::registry::insert(&mut w, &p).await.unwrap();
    w.commit().await.unwrap();
    (e, p)
}

async fn audit_count(s: &TestServer) -> usize {
    s.svc.store.audit_events(100_000, 0).await.unwrap().len()
}

fn detection(at_ms: i64) -> Detection {
    Detection {
        rule_id: DETECTED_RULE_ID.into(),
        title: "非常時用アカウントの使用".into(),
        level: AlertLevel::Critical,
        group: Vec::new(),
        host: "ehr-srv01".into(),
        actor: Some("EMERGENCY".into()),
        at_ms,
        seal_index: None,
    }
}

#[tokio::test]
async fn custody_uses_and_the_reseal_of_a_break_glass_account() {
    let (s, admin) = TestServer::with_admin().await;
    let (e, personal) = ledger(&s).await;
    let mut c = s.login(&admin).await;
    let href = format!("/accounts/break-glass/{e}");
    let p = c.get("/accounts/break-glass").await;
    assert_eq!(p.status, 200);
    assert!(
        p.has("電子カルテ / emergency") && p.has(r#"class="badge warn">保管者未登録"#),
        "{}",
        p.body
    );
    assert!(!p.has("yamada"), "only emergency accounts");
    let p = c.get("/ledger/findings").await;
    assert!(
        p.has("保管者が記録されていない非常時アカウント"),
        "{}",
        p.body
    );

    // Refusals: no holder, no place, not an emergency account, a use before custody.
    let before = audit_count(&s).await;
    for (path, fields, code) in [
        (
            href.clone(),
            vec![
                ("action", "custody"),
                ("holders", " \n "),
                ("location", "金庫"),
            ],
            "BG0001",
        ),
        (
            href.clone(),
            vec![("action", "custody"), ("holders", "院長"), ("location", "")],
            "BG0002",
        ),
        (
            format!("/accounts/break-glass/{personal}"),
            vec![
                ("action", "custody"),
                ("holders", "院長"),
                ("location", "金庫"),
            ],
            "BG0003",
        ),
        (
            href.clone(),
            vec![("action", "use"), ("reason", "停電")],
            "BG0007",
        ),
    ] {
        let p = c.post(&path, &fields).await;
        assert_eq!(p.status, 400, "{code}: {}", p.body);
        assert!(p.has(code), "{code}: {}", p.body);
    }
    assert!(s.svc.store.break_glass_custody().await.unwrap().is_empty());
    assert_eq!(audit_count(&s).await, before);

    // Custody: two holders, a place; sealed as of now.
    let p = c
        .post(
            &href,
            &[
                ("action", "custody"),
                ("holders", "院長\n事務長 山本\n"),
                ("location", "事務長室の金庫"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(audit_count(&s).await, before + 1);
    let custody = s.svc.store.break_glass_custody().await.unwrap();
    assert_eq!(custody[0].holders, "院長\n事務長 山本");
    let p = c.get("/accounts/break-glass").await;
    assert!(
        p.has(r#"class="badge good">封印中"#) && p.has("事務長室の金庫"),
        "{}",
        p.body
    );

    // A declared use: refused without a reason, in the future, or at an unreadable time.
    s.clock.advance_ms(60_000);
    for (at, reason, code) in [
        ("", " ", "BG0004"),
        ("2099-01-01 10:00", "停電", "BG0006"),
        ("昨日の夜", "停電", "BG0005"),
    ] {
        let p = c
            .post(&href, &[("action", "use"), ("at", at), ("reason", reason)])
            .await;
        assert_eq!(p.status, 400, "{code}");
        assert!(p.has(code), "{code}: {}", p.body);
    }
    assert!(s.svc.store.break_glass_uses(10).await.unwrap().is_empty());
    let alerts_before = s.svc.store.alerts(None, 100).await.unwrap().len();
    let p = c
        .post(
            &href,
            &[
                ("action", "use"),
                ("at", ""),
                ("reason", "停電時に当直医が電子カルテを参照"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let uses = s.svc.store.break_glass_uses(10).await.unwrap();
    assert_eq!(uses.len(), 1);
    assert_eq!(uses[0].via, "declared");
    // It raises the critical alert everyone `[notify]` names hears of.
    let alerts = s.svc.store.alerts(None, 100).await.unwrap();
    assert_eq!(alerts.len(), alerts_before + 1);
    let a = alerts
        .iter()
        .find(|a| a.rule_id == DECLARED_RULE_ID)
        .expect("alert");
    assert_eq!(a.level, "critical");
    assert_eq!(a.actor.as_deref(), Some("emergency"));
    let p = c.get("/accounts/break-glass").await;
    assert!(
        p.has(r#"class="badge bad">使用後・パスワード未変更"#)
            && p.has("パスワード変更・再封印を記録"),
        "{}",
        p.body
    );
    let p = c.get("/ledger/findings").await;
    assert!(
        p.has("使用後にパスワードが変更されていない非常時アカウント"),
        "{}",
        p.body
    );

    // The reseal clears the flag and sets the password day in the ledger, with its history.
    s.clock.advance_ms(60_000);
    let p = c.post(&href, &[("action", "reseal")]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let acc: Account = s.svc.store.record(e).await.unwrap().unwrap();
    assert_eq!(acc.pw_last_set_on, Some(s.svc.clock.today()));
    let history = s.svc.store.history("account", e).await.unwrap();
    assert!(history.iter().any(|h| h.action == "break_glass_reseal"));
    let p = c.get("/accounts/break-glass").await;
    assert!(p.has(r#"class="badge good">封印中"#), "{}", p.body);

    // Seen in the logs (any case of the login): recorded with its alert, flagged again.
    s.clock.advance_ms(60_000);
    let now = s.svc.clock.now_ms();
    s.svc.raise_alerts(&[detection(now)]).await.unwrap();
    let uses = s.svc.store.break_glass_uses(10).await.unwrap();
    assert_eq!(uses.len(), 2);
    assert_eq!(uses[0].via, "detected");
    let alert = uses[0].alert_id.expect("the alert");
    // More events of the same use join the open alert and are not new uses.
    s.svc.raise_alerts(&[detection(now + 1_000)]).await.unwrap();
    assert_eq!(s.svc.store.break_glass_uses(10).await.unwrap().len(), 2);
    let p = c.get("/accounts/break-glass").await;
    assert!(
        p.has("使用後・パスワード未変更") && p.has(&format!("/alerts/{alert}")),
        "{}",
        p.body
    );
    // Sealed again while the alert is still open: the next event is a new use.
    s.clock.advance_ms(60_000);
    let p = c.post(&href, &[("action", "reseal")]).await;
    assert_eq!(p.status, 303);
    s.clock.advance_ms(60_000);
    s.svc
        .raise_alerts(&[detection(s.svc.clock.now_ms())])
        .await
        .unwrap();
    assert_eq!(s.svc.store.break_glass_uses(10).await.unwrap().len(), 3);
    // An unknown action.
    let p = c.post(&href, &[("action", "delete")]).await;
    assert_eq!(p.status, 400);
}

#[tokio::test]
async fn auditors_see_break_glass_accounts_and_staff_do_not() {
    let (s, _admin) = TestServer::with_admin().await;
    let (e, _) = ledger(&s).await;
    let auditor = s.add_user("kansa", Role::Auditor).await;
    let mut a = s.login(&auditor).await;
    let p = a.get("/accounts/break-glass").await;
    assert_eq!(p.status, 200);
    assert!(!p.has(r#"name="action""#), "no forms for auditors");
    let p = a
        .post(
            &format!("/accounts/break-glass/{e}"),
            &[("action", "custody"), ("holders", "x"), ("location", "y")],
        )
        .await;
    assert_eq!(p.status, 403);
    let staff = s.add_user("shokuin", Role::Staff).await;
    let mut st = s.login(&staff).await;
    assert_eq!(st.get("/accounts/break-glass").await.status, 403);
}
