//! Collected logs through the service on either database: events sealed, then indexed, then
//! found by who, what and when; the search's text filter takes the typed words literally.

use mamori_domain::event::{Action, LogEvent, Outcome, Severity};
use mamori_service::{Actor, ClientInfo, perm};
use mamori_storage::events::EventQuery;
use mamori_testkit::TestServer;

fn viewed(i: i64, actor: &str, patient: &str, message: &str) -> LogEvent {
    LogEvent {
        time_ms: Some(1_790_000_000_000 + i * 60_000),
        received_ms: 1_790_000_000_000 + i * 60_000 + 500,
        source_host: "ehr-srv01".into(),
        actor: Some(actor.into()),
        action: Action::RecordViewed,
        object: Some(patient.into()),
        outcome: Outcome::Success,
        severity: Severity::Informational,
        message: message.into(),
        fields: vec![("terminal".into(), format!("NS-PC{i:02}"))],
        raw: format!("{i},{actor},{patient}"),
    }
}

#[tokio::test]
async fn events_are_sealed_indexed_and_found() {
    let (s, _admin) = TestServer::with_admin().await;
    let dir = tempfile::tempdir().unwrap();
    let events = mamori_service::logs::open_event_log(dir.path()).unwrap();
    let svc = s.svc.clone().with_event_log(events.clone());
    let mut batch: Vec<LogEvent> = (0..1200)
        .map(|i| {
            let who = ["sato", "tanaka", "suzuki"][usize::try_from(i % 3).unwrap()];
            viewed(i, who, &format!("P-{:06}", i % 50), "カルテ参照 100%_done")
        })
        .collect();
    // A device whose clock is far ahead: flagged, filed under its receive time.
    batch[5].time_ms = Some(batch[5].received_ms + 86_400_000);
    let client = ClientInfo {
        source: "127.0.0.1".into(),
        user_agent: "test".into(),
    };
    let audit_before = svc.store.audit_count().await.unwrap();
    let mut progress = Vec::new();
    let r = svc
        .ingest_events("system", "ehr-access.csv", &batch, &client, |n| {
            progress.push(n)
        })
        .await
        .unwrap();
    assert_eq!((r.accepted, r.first, r.end), (1200, 0, 1200));
    assert_eq!(events.size().unwrap(), 1200, "sealed before acknowledged");
    assert_eq!(progress.last(), Some(&1200));
    assert_eq!(svc.store.audit_count().await.unwrap(), audit_before + 1);
    let actor = Actor::local("test");
    let cap = actor.can::<perm::ViewLogs>().unwrap();
    // Who opened patient P-000007's record?
    let q = EventQuery {
        object: "P-000007".into(),
        limit: 100,
        ..Default::default()
    };
    let (rows, total) = svc.search_events(&cap, &q).await.unwrap();
    assert_eq!(total, 24);
    assert_eq!(rows.len(), 24);
    assert!(
        rows.windows(2).all(|w| w[0].sort_ms >= w[1].sort_ms),
        "newest first"
    );
    // By actor and period, paged.
    let q = EventQuery {
        actor: "tanaka".into(),
        from_ms: Some(1_790_000_000_000),
        to_ms: Some(1_790_000_000_000 + 300 * 60_000),
        limit: 50,
        offset: 50,
        ..Default::default()
    };
    let (rows, total) = svc.search_events(&cap, &q).await.unwrap();
    assert_eq!(total, 100);
    assert_eq!(rows.len(), 50);
    // LIKE wildcards typed by a person are literal.
    for (text, want) in [
        ("100%_done", 1200),
        ("100%x", 0),
        ("_", 1200),
        ("カルテ", 1200),
    ] {
        let q = EventQuery {
            text: text.into(),
            limit: 1,
            ..Default::default()
        };
        assert_eq!(svc.search_events(&cap, &q).await.unwrap().1, want, "{text}");
    }
    let q = EventQuery {
        limit: 10_000,
        ..Default::default()
    };
    let (rows, _) = svc.search_events(&cap, &q).await.unwrap();
    let future = rows.iter().find(|r| r.seal_index == 5).unwrap();
    assert_eq!(future.time_flag, "future");
    assert_eq!(future.sort_ms, future.received_ms);
    // Nothing to catch up.
    assert_eq!(svc.catch_up_event_index().await.unwrap(), 0);
    events.close(0).unwrap();

    // The search page, as an auditor: the patient's question, and a bad date named at its field.
    let u = s
        .add_user("kansa", mamori_domain::role::Role::Auditor)
        .await;
    let mut c = s.login(&u).await;
    let p = c.get("/logs/events?patient=P-000007").await;
    assert_eq!(p.status, 200);
    assert!(
        p.has("検索結果（24）") && p.has("記録の参照") && p.has("ehr-access.csv"),
        "{}",
        p.body
    );
    for raw in [">events.", ">event_action.", ">logs.", "\"events."] {
        assert!(!p.body.contains(raw), "untranslated {raw}");
    }
    // Paged, the filters kept in the pager's links.
    let p = c
        .get("/logs/events?actor=tanaka&text=%E3%82%AB%E3%83%AB%E3%83%86")
        .await;
    assert!(p.has("検索結果（400）") && p.has("1 / 8"), "{}", p.body);
    assert!(p.has("actor=tanaka") && p.has("text=%E3%82%AB%E3%83%AB%E3%83%86") && p.has("page=2"));
    let p = c.get("/logs/events?from=%E6%9D%A5%E9%80%B1").await;
    assert_eq!(p.status, 200);
    assert!(p.has("error-text") && p.has("DATE"), "{}", p.body);
    let staff = s
        .add_user("shokuin", mamori_domain::role::Role::Staff)
        .await;
    let mut c = s.login(&staff).await;
    assert_eq!(c.get("/logs/events").await.status, 403);
}
