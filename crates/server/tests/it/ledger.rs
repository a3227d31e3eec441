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
    let p = c.get("/ledger/assets?q=sv-%E9%9B%BB").await; // sv-電
    assert!(
        p.has("SV-電子カルテ") && !p.has("PC-受付-01"),
        "search ignores ASCII case"
    );

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
        p.has("機器: 記録なし"),
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
        !p.has("機器: 記録なし") && !p.has("機器: 前回から"),
        "no nag for the devices right after their review"
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
    assert!(p.has("機器: 前回から366日"), "{}", p.body);

    // Read-only roles see the state but cannot sign off.
    let staff = s.add_user("staff3", Role::Staff).await;
    let mut st = s.login(&staff).await;
    assert!(!st.get("/ledger/assets").await.has("/ledger/assets/review"));
    assert_eq!(st.post("/ledger/assets/review", &[]).await.status, 403);
}

/// The dashboard's 棚卸 line: every registry whose review is missing or older than the cycle,
/// each linking to its own page.
#[tokio::test]
async fn every_registrys_review_is_nagged_on_the_dashboard() {
    use mamori_domain::registry::RegistryKind;
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    let label = |k: RegistryKind| {
        mamori_catalog::tr(
            mamori_catalog::Lang::Ja,
            &format!("registry.{}", k.plural()),
        )
        .to_string()
    };
    let nagged = |p: &mamori_testkit::Page, k: RegistryKind| {
        p.has(&format!(
            "<a href=\"/ledger/{}\">{}: ",
            k.plural(),
            label(k)
        ))
    };

    // Nothing reviewed yet: every registry, one card.
    let all = RegistryKind::ALL.len();
    let p = c.get("/").await;
    assert!(
        p.has(&format!(
            "棚卸（台帳と実態の照合）の期限が過ぎている台帳が{all}つあります"
        )),
        "{}",
        p.body
    );
    for k in RegistryKind::ALL {
        assert!(nagged(&p, *k), "{k:?} missing: {}", p.body);
        assert!(p.has(&format!("{}: 記録なし", label(*k))));
    }

    // Devices and staff reviewed now, the rest 200 days later.
    for k in ["assets", "persons"] {
        let p = c
            .post(&format!("/ledger/{k}/review"), &[("note", "照合済み")])
            .await;
        assert_eq!(p.status, 303);
    }
    let p = c.get("/").await;
    assert!(
        p.has(&format!("期限が過ぎている台帳が{}つあります", all - 2)),
        "{}",
        p.body
    );
    assert!(!nagged(&p, RegistryKind::Asset) && !nagged(&p, RegistryKind::Person));
    assert!(nagged(&p, RegistryKind::Vendor) && nagged(&p, RegistryKind::VendorDocument));

    s.clock.advance_ms(200 * 86_400_000);
    let mut c = s.login(&admin).await;
    for k in RegistryKind::ALL
        .iter()
        .filter(|k| !matches!(k, RegistryKind::Asset | RegistryKind::Person))
    {
        let p = c.post(&format!("/ledger/{}/review", k.plural()), &[]).await;
        assert_eq!(p.status, 303, "{k:?}");
    }
    let p = c.get("/").await;
    assert!(
        !p.has("期限が過ぎている台帳"),
        "all reviewed: no nag: {}",
        p.body
    );

    // The clock moves on: a year and a day after the first reviews only those two are due,
    // with their age; later the others follow.
    s.clock.advance_ms(166 * 86_400_000);
    let mut c = s.login(&admin).await;
    let p = c.get("/").await;
    assert!(p.has("期限が過ぎている台帳が2つあります"), "{}", p.body);
    assert!(p.has(&format!("{}: 前回から366日", label(RegistryKind::Asset))));
    assert!(p.has(&format!("{}: 前回から366日", label(RegistryKind::Person))));
    assert!(!nagged(&p, RegistryKind::Contact));
    s.clock.advance_ms(200 * 86_400_000);
    let mut c = s.login(&admin).await;
    let p = c.get("/").await;
    assert!(
        p.has(&format!("期限が過ぎている台帳が{all}つあります")),
        "{}",
        p.body
    );
    assert!(p.has(&format!("{}: 前回から366日", label(RegistryKind::Contact))));

    // In English too.
    c.post("/lang", &[("lang", "en")]).await;
    let p = c.get("/").await;
    assert!(
        p.has(&format!("{all} ledgers are due for their periodic review")),
        "{}",
        p.body
    );
    assert!(p.has("last reviewed 366 days ago"));
}
