//! The device ledger through the UI: create with field errors, edit with history, search.

use mamori_domain::ledger::Asset;
use mamori_domain::role::Role;
use mamori_testkit::TestServer;

fn form(pairs: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut base = vec![
        ("tag", "A-0100"),
        ("class", "workstation"),
        ("name", "PC-受付-01"),
        ("location", "受付"),
        ("status", "active"),
        ("installed_on", "2021-04"),
        ("eol_on", "2031-10-14"),
        ("ip", "192.168.10.21"),
    ];
    for (k, v) in pairs {
        base.retain(|(b, _)| b != k);
        base.push((k, v));
    }
    base
}

#[tokio::test]
async fn create_edit_and_history() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    assert_eq!(c.get("/ledger/assets/new").await.status, 200);

    // Bad fields are each named; nothing is written.
    let before = s.svc.store.records::<Asset>().await.unwrap().len();
    let p = c
        .post(
            "/ledger/assets",
            &form(&[
                ("tag", ""),
                ("ip", "192.168.10.300"),
                ("eol_on", "2025-02-30"),
                ("class", "castle"),
            ]),
        )
        .await;
    assert_eq!(p.status, 400);
    for code in ["LED0003", "LED0004", "LED0014", "LED0010"] {
        assert!(p.has(code), "missing {code}");
    }
    assert!(
        p.has("value=\"PC-受付-01\""),
        "the form keeps what was typed"
    );
    assert_eq!(s.svc.store.records::<Asset>().await.unwrap().len(), before);

    let p = c.post("/ledger/assets", &form(&[])).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let url = p.location.unwrap();
    let id = url
        .trim_start_matches("/ledger/assets/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let p = c.get(&format!("/ledger/assets/{id}")).await;
    assert!(p.has("PC-受付-01") && p.has("端末PC") && p.has("2031-10-14"));
    assert!(p.has("登録"), "history shows the creation");

    // The same tag twice is refused.
    let p = c.post("/ledger/assets", &form(&[("name", "PC-別")])).await;
    assert_eq!(p.status, 400);
    assert!(p.has("LED0008"));

    // Edit: move it and patch it; the history shows before and after.
    c.get(&format!("/ledger/assets/{id}/edit")).await;
    let p = c
        .post(
            &format!("/ledger/assets/{id}"),
            &form(&[("location", "診察室1"), ("last_patch_on", "2025-09-30")]),
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = c.get(&format!("/ledger/assets/{id}")).await;
    assert!(p.has("診察室1"));
    assert!(p.has("受付</span> → 診察室1"), "{}", p.body);
    let events = s.svc.store.audit_events(5, 0).await.unwrap();
    assert_eq!(events[0].action, "ledger.record_updated");
    assert!(events[0].detail.contains("診察室1") && events[0].detail.contains("受付"));

    // Retire: disposed needs a date.
    let p = c
        .post(
            &format!("/ledger/assets/{id}"),
            &form(&[("location", "診察室1"), ("status", "disposed")]),
        )
        .await;
    assert!(p.has("LED0006"));
    let p = c
        .post(
            &format!("/ledger/assets/{id}"),
            &form(&[
                ("location", "診察室1"),
                ("status", "disposed"),
                ("disposed_on", "2025-11-01"),
                ("disposal_method", "物理破壊"),
            ]),
        )
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(
        s.svc.store.audit_events(1, 0).await.unwrap()[0].action,
        "ledger.record_retired"
    );
}

#[tokio::test]
async fn search_filter_and_read_only_roles() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    for (tag, name, class, loc) in [
        ("A-1", "PC-受付-01", "workstation", "受付"),
        ("A-2", "PC-受付-02", "workstation", "受付"),
        ("A-3", "SV-電子カルテ", "server", "サーバ室"),
    ] {
        let p = c
            .post(
                "/ledger/assets",
                &form(&[
                    ("tag", tag),
                    ("name", name),
                    ("class", class),
                    ("location", loc),
                ]),
            )
            .await;
        assert_eq!(p.status, 303);
    }
    let p = c.get("/ledger/assets?q=%E5%8F%97%E4%BB%98").await; // 受付
    assert!(p.has("PC-受付-01") && p.has("PC-受付-02") && !p.has("SV-電子カルテ"));
    let p = c.get("/ledger/assets?f_class=server").await;
    assert!(!p.has("PC-受付-01") && p.has("SV-電子カルテ"));
    let p = c.get("/ledger/assets?q=100%25_").await;
    assert!(p.has("0 件"), "LIKE wildcards are escaped");

    let staff = s.add_user("staff2", Role::Staff).await;
    let mut st = s.login(&staff).await;
    let p = st.get("/ledger/assets").await;
    assert_eq!(p.status, 200);
    assert!(
        !p.has("/ledger/assets/new"),
        "no register button for read-only roles"
    );
    assert_eq!(
        st.post("/ledger/assets", &form(&[("tag", "A-9")]))
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn ledger_review_is_recorded_and_nags_when_old() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    let p = c.get("/").await;
    assert!(
        p.has("棚卸の記録がありません"),
        "never reviewed: the dashboard says so"
    );
    let p = c
        .post(
            "/ledger/assets/review",
            &[("note", "全フロアを巡回して照合")],
        )
        .await;
    assert_eq!(p.location.as_deref(), Some("/ledger/assets?ok=reviewed"));
    let p = c.get("/ledger/assets").await;
    assert!(p.has("最終の棚卸") && p.has("0日前"), "{}", p.body);
    let p = c.get("/").await;
    assert!(
        !p.has("棚卸の記録がありません") && !p.has("行われていません"),
        "no nag right after a review"
    );
    assert_eq!(
        s.svc.store.audit_events(1, 0).await.unwrap()[0].action,
        "ledger.reviewed"
    );

    // A year and a day later (cycle 365 days), the dashboard nags again. Log in anew: the old
    // session has expired by then.
    s.clock.advance_ms(366 * 86_400_000);
    let mut c = s.login(&admin).await;
    let p = c.get("/").await;
    assert!(p.has("棚卸が366日行われていません"), "{}", p.body);

    // Read-only roles see the state but cannot sign off.
    let staff = s.add_user("staff3", Role::Staff).await;
    let mut st = s.login(&staff).await;
    assert!(!st.get("/ledger/assets").await.has("/ledger/assets/review"));
    assert_eq!(st.post("/ledger/assets/review", &[]).await.status, 403);
}
