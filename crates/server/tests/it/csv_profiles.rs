//! Access-log CSV profiles (アクセスログの取込設定) on either database: made in the form (a bad
//! field named, nothing saved), previewed with a sample before saving, used to take a CSV in
//! (a bad row counted with its line, the good rows found by patient id), the wrong profile
//! refused once; and the same through the service.

use mamori_domain::ledger::{DeliveryModel, InfoSystem, SystemCategory};
use mamori_domain::role::Role;
use mamori_ingest::ProfileInput;
use mamori_service::{Actor, ClientInfo, ServiceError, perm};
use mamori_testkit::TestServer;

/// A vendor-like export: date and time in their own columns, Shift_JIS, CRLF. Line 4 has an
/// impossible time.
const SAMPLE: &str = "処理日,処理時刻,職員番号,患者番号,処理内容,端末\r\n\
2025/09/30,09:12:03,D0012,0001234,カルテ参照,PC-診察1\r\n\
2025/09/30,09:15:40,N0044,0001234,記事更新,PC-病棟-01\r\n\
2025/09/30,99:99:99,N0044,0005678,カルテ参照,PC-病棟-01\r\n\
2025/09/30,10:01:00,N0044,0005678,印刷,PC-病棟-02\r\n";

fn sjis(text: &str) -> Vec<u8> {
    let (bytes, _, bad) = encoding_rs::SHIFT_JIS.encode(text);
    assert!(!bad);
    bytes.into_owned()
}

fn form<'a>(name: &'a str, action: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("label", "電子カルテ（A社形式）"),
        ("system", ""),
        ("encoding", "shift_jis"),
        ("delimiter", "comma"),
        ("header", "1"),
        ("date_format", "ymd_slash"),
        ("time", "処理時刻"),
        ("date", "処理日"),
        ("user", "職員番号"),
        ("patient", "患者番号"),
        ("operation", "処理内容"),
        ("terminal", "端末"),
        ("outcome", ""),
        (
            "operations",
            "カルテ参照 = record_viewed\n記事更新 = record_changed\n印刷 = record_printed",
        ),
        ("action", action),
    ]
}

#[tokio::test]
async fn a_profile_made_in_the_form_previews_and_takes_a_csv_in() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    let p = c.get("/logs/profiles").await;
    assert_eq!(p.status, 200);
    assert!(
        p.has("アクセスログの取込設定") && p.has("generic") && p.has("karte-split-date"),
        "{}",
        p.body
    );
    let audit_before = s.svc.store.audit_count().await.unwrap();

    // A bad name and an unknown action code: both named at their fields, nothing saved.
    c.get("/logs/profiles/new").await;
    let mut bad = form("A社 形式", "save");
    bad.retain(|(k, _)| *k != "operations");
    bad.push(("operations", "カルテ参照 = looked_at"));
    let p = c.post_multipart("/logs/profiles/new", &bad, None).await;
    assert_eq!(p.status, 400, "{}", p.body);
    assert!(
        p.has("LOG0201") && p.has("LOG0208") && p.has("error-text"),
        "{}",
        p.body
    );
    assert!(p.has("A社 形式"), "what was typed is kept: {}", p.body);
    assert_eq!(s.svc.store.csv_profiles().await.unwrap().len(), 0);
    assert_eq!(s.svc.store.audit_count().await.unwrap(), audit_before);

    // The preview reads the sample with the form as typed, before anything is saved.
    let p = c
        .post_multipart(
            "/logs/profiles/new",
            &form("karte-a", "preview"),
            Some(("file", "sample.csv", sjis(SAMPLE))),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(
        p.has("Shift_JIS") && p.has("2025/09/30 09:12:03"),
        "{}",
        p.body
    );
    assert!(p.has("記録の参照") && p.has("記録の変更") && p.has("PC-病棟-01"));
    assert!(p.has("LOG0111") && p.has("4行目"), "{}", p.body);
    assert_eq!(s.svc.store.csv_profiles().await.unwrap().len(), 0);
    assert_eq!(s.svc.store.audit_count().await.unwrap(), audit_before);

    // Saved: one audit event.
    let p = c
        .post_multipart("/logs/profiles/new", &form("karte-a", "save"), None)
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(
        p.location.as_deref(),
        Some("/logs/profiles/karte-a?ok=csv_profile_saved")
    );
    assert_eq!(s.svc.store.audit_count().await.unwrap(), audit_before + 1);
    let last = s.svc.store.audit_events(1, 0).await.unwrap();
    assert_eq!(last[0].action, "logs.profile_created");
    let p = c.get("/logs/profiles/karte-a?ok=csv_profile_saved").await;
    assert!(
        p.has("取込設定を保存しました") && p.has("処理時刻"),
        "{}",
        p.body
    );
    // The same name again is refused at the name.
    let p = c
        .post_multipart("/logs/profiles/new", &form("karte-a", "save"), None)
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("LOG0202"), "{}", p.body);

    // Taken in: the bad row counted with its line, the good rows sealed and searchable.
    c.get("/logs/profiles").await;
    let p = c
        .post_multipart(
            "/logs/profiles/ingest",
            &[("profile", "karte-a"), ("source", "")],
            Some(("file", "karte_0930.csv", sjis(SAMPLE))),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.has("id=\"ingest-result\""), "{}", p.body);
    assert!(p.has("<span class=\"value\">3</span>"), "{}", p.body);
    assert!(p.has("<span class=\"value\">1</span>"), "{}", p.body);
    assert!(p.has("LOG0111 4行目"), "{}", p.body);
    let p = c.get("/logs/events?patient=0001234").await;
    assert!(
        p.has("検索結果（2）") && p.has("karte_0930.csv"),
        "{}",
        p.body
    );
    assert!(
        p.has("D0012") && p.has("N0044") && p.has("記録の変更"),
        "{}",
        p.body
    );
    let p = c.get("/logs/events?patient=0005678").await;
    assert!(p.has("検索結果（1）") && p.has("記録の印刷"), "{}", p.body);

    // The wrong profile: one error naming the missing columns, nothing taken in.
    let sealed = s.svc.events.as_ref().unwrap().size().unwrap();
    c.get("/logs/profiles").await;
    let p = c
        .post_multipart(
            "/logs/profiles/ingest",
            &[("profile", "generic")],
            Some(("file", "karte_0930.csv", sjis(SAMPLE))),
        )
        .await;
    assert_eq!(p.status, 400, "{}", p.body);
    assert!(p.has("LOG0013") && p.has("日時、利用者ID"), "{}", p.body);
    assert!(p.has("処理日"), "the header found is shown: {}", p.body);
    assert_eq!(s.svc.events.as_ref().unwrap().size().unwrap(), sealed);

    // A shipped profile cannot be changed; a stored one can, and can be deleted.
    c.get("/logs/profiles/generic").await;
    let p = c
        .post_multipart("/logs/profiles/generic", &form("generic", "save"), None)
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("LOG0211"), "{}", p.body);
    let mut changed = form("karte-a", "save");
    changed.retain(|(k, _)| *k != "label");
    changed.push(("label", "電子カルテ（A社・2026年版）"));
    let p = c
        .post_multipart("/logs/profiles/karte-a", &changed, None)
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let entry = s.svc.store.csv_profile("karte-a").await.unwrap().unwrap();
    assert!(entry.body.contains("2026年版"));
    let p = c.post("/logs/profiles/karte-a/delete", &[]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(c.get("/logs/profiles/karte-a").await.status, 404);
    let last = s.svc.store.audit_events(2, 0).await.unwrap();
    assert_eq!(last[0].action, "logs.profile_deleted");
    assert_eq!(last[1].action, "logs.profile_changed");

    // An auditor reads the profiles but takes nothing in.
    let u = s.add_user("kansa", Role::Auditor).await;
    let mut a = s.login(&u).await;
    let p = a.get("/logs/profiles").await;
    assert_eq!(p.status, 200);
    assert!(!p.has("/logs/profiles/ingest"), "{}", p.body);
    let p = a
        .post_multipart(
            "/logs/profiles/ingest",
            &[("profile", "generic")],
            Some(("file", "x.csv", b"x".to_vec())),
        )
        .await;
    assert_eq!(p.status, 403);
}

#[tokio::test]
async fn profiles_through_the_service() {
    let (s, _admin) = TestServer::with_admin().await;
    let actor = Actor::local("test");
    let manage = actor.can::<perm::ManageLogs>().unwrap();
    let view = actor.can::<perm::ViewLogs>().unwrap();
    let client = ClientInfo::new("127.0.0.1", "test");
    let mut w = s.svc.store.write().await.unwrap();
    let mut system = InfoSystem::blank(SystemCategory::Receipt, DeliveryModel::OnPremises);
    system.name = "レセコン".into();
    let system_id = mamori_storage::registry::insert(&mut w, &system)
        .await
        .unwrap();
    w.commit().await.unwrap();

    let tsv = s.svc.csv_profile(&view, "rececon-tsv").await.unwrap();
    assert!(tsv.shipped);
    let mut input = ProfileInput::of(&tsv.profile);
    input.name = "rececon-b".into();
    // A system that is not in the ledger, and a reserved name: each named.
    let e = s
        .svc
        .save_csv_profile(&manage, None, &input, "999999", &client)
        .await
        .unwrap_err();
    let ServiceError::Fields(list) = e else {
        panic!("{e:?}")
    };
    assert_eq!(
        list.iter().map(|f| (f.field, f.code)).collect::<Vec<_>>(),
        vec![("system", "LOG0210")]
    );
    let mut reserved = input.clone();
    reserved.name = "new".into();
    assert!(matches!(
        s.svc.save_csv_profile(&manage, None, &reserved, "", &client).await,
        Err(ServiceError::Fields(f)) if f[0].code == "LOG0202"
    ));
    let saved = s
        .svc
        .save_csv_profile(&manage, None, &input, &system_id.to_string(), &client)
        .await
        .unwrap();
    assert_eq!(saved.user, tsv.profile.user);
    // Renamed; the old name is gone.
    let mut renamed = input.clone();
    renamed.name = "rececon-c".into();
    s.svc
        .save_csv_profile(&manage, Some("rececon-b"), &renamed, "", &client)
        .await
        .unwrap();
    let names: Vec<String> = s
        .svc
        .csv_profiles(&view)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.profile.name)
        .collect();
    assert_eq!(
        names,
        vec!["generic", "karte-split-date", "rececon-tsv", "rececon-c"]
    );
    assert!(matches!(
        s.svc.csv_profile(&view, "rececon-b").await,
        Err(ServiceError::NotFound)
    ));
    // Shipped ones are read-only; unknown ones are not found.
    assert!(matches!(
        s.svc.delete_csv_profile(&manage, "generic", &client).await,
        Err(ServiceError::Fields(f)) if f[0].code == "LOG0211"
    ));
    assert!(matches!(
        s.svc.delete_csv_profile(&manage, "nothing", &client).await,
        Err(ServiceError::NotFound)
    ));
    s.svc
        .delete_csv_profile(&manage, "rececon-c", &client)
        .await
        .unwrap();
    assert!(s.svc.store.csv_profiles().await.unwrap().is_empty());
    // Only roles that manage logs may change profiles.
    let auditor = s.add_user("kansa", Role::Auditor).await;
    let row = s.svc.store.user(auditor.id).await.unwrap().unwrap();
    let a = Actor {
        user: row,
        session_hash: String::new(),
        source: "127.0.0.1".into(),
    };
    assert!(matches!(
        a.can::<perm::ManageLogs>(),
        Err(ServiceError::Denied)
    ));
    assert!(a.can::<perm::ViewLogs>().is_ok());
}

#[tokio::test]
async fn the_demo_clinic_answers_who_opened_a_patients_record() {
    let s = TestServer::start().await;
    let today = mamori_service::Clock::today(&*s.clock);
    let demo = mamori_service::demo::demo_facility(today, 20_251_001);
    s.svc
        .seed_demo(&demo, mamori_testkit::PASSWORD)
        .await
        .unwrap();
    let taken = s.svc.seed_demo_access_log(&demo, 20_251_001).await.unwrap();
    assert!(taken > 2_000, "{taken}");
    assert_eq!(
        s.svc.events.as_ref().unwrap().size().unwrap(),
        u64::try_from(taken).unwrap(),
        "every event sealed"
    );
    let actor = Actor::local("test");
    let cap = actor.can::<perm::ViewLogs>().unwrap();
    let q = mamori_storage::events::EventQuery {
        object: "P-000003".into(),
        from_ms: Some(mamori_service::Clock::now_ms(&*s.clock) - 30 * 86_400_000),
        limit: 1_000,
        ..Default::default()
    };
    let (rows, total) = s.svc.search_events(&cap, &q).await.unwrap();
    assert!(total >= 10, "{total}");
    assert!(
        rows.iter().all(|r| r.time_flag.is_empty()),
        "plausible times"
    );
    assert!(
        rows.iter()
            .all(|r| r.source == mamori_service::seed::DEMO_ACCESS_LOG)
    );
    // Doctors and nurses of the EHR, on the clinic's PCs.
    let ehr: std::collections::HashSet<&str> = demo
        .accounts
        .iter()
        .filter(|a| a.system_id == mamori_domain::SystemId(1))
        .map(|a| a.login_id.as_str())
        .collect();
    assert!(
        rows.iter()
            .all(|r| ehr.contains(r.actor.as_deref().unwrap()))
    );
    assert!(rows.iter().all(|r| r.host.starts_with("PC-")));
    assert!(rows.iter().any(|r| r.action == "record_viewed"));
}
