//! Live detection on either database: the detector reads the sealed event log behind
//! ingestion, raises alerts from the shipped rules for medical settings (placeholders filled
//! from the ledger and the watched patients), and its position survives restarts: no event is
//! scanned twice, none skipped.

use mamori_domain::event::{Action, LogEvent, Outcome, Severity};
use mamori_domain::ids::{AccountId, SystemId};
use mamori_domain::ledger::{Account, AccountKind, DeliveryModel, InfoSystem, SystemCategory};
use mamori_service::ClientInfo;
use mamori_service::detection::Detector;
use mamori_storage::detection::{WatchedPatient, upsert_watched_patient};
use mamori_testkit::{T0_MS, TestServer};

fn ev(
    minute: i64,
    actor: &str,
    action: Action,
    outcome: Outcome,
    object: Option<&str>,
) -> LogEvent {
    LogEvent {
        time_ms: Some(T0_MS - 3_600_000 + minute * 60_000),
        received_ms: T0_MS,
        source_host: "PC-病棟01".into(),
        actor: Some(actor.into()),
        action,
        object: object.map(str::to_string),
        outcome,
        severity: Severity::Informational,
        message: String::new(),
        fields: Vec::new(),
        raw: String::new(),
    }
}

async fn titles(s: &TestServer) -> Vec<(String, i64)> {
    let mut t: Vec<(String, i64)> = s
        .svc
        .store
        .alerts(None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.title, a.count))
        .collect();
    t.sort();
    t
}

/// The alerts once there are any (the server's detector runs by itself), waiting up to 10 s.
async fn alerts_within_10s(s: &TestServer) -> Vec<(String, i64)> {
    let mut found = Vec::new();
    for _ in 0..100 {
        found = titles(s).await;
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    found
}

#[tokio::test]
async fn the_shipped_rules_raise_alerts_once_from_the_sealed_log() {
    let s = TestServer::start().await;
    let client = ClientInfo::new("local", "test");
    // The facility's facts: a break-glass account in the ledger and a watched patient.
    let mut w = s.svc.store.write().await.unwrap();
    upsert_watched_patient(
        &mut w,
        &WatchedPatient {
            patient_id: "P-000777".into(),
            reason: "vip".into(),
            note: "議員".into(),
            added_ms: T0_MS,
            added_by: "事務長".into(),
        },
    )
    .await
    .unwrap();
    w.commit().await.unwrap();
    let mut w = s.svc.store.write().await.unwrap();
    let mut ehr = InfoSystem::blank(SystemCategory::Ehr, DeliveryModel::OnPremises);
    ehr.name = "電子カルテ".into();
    let system = mamori_storage::registry::insert(&mut w, &ehr)
        .await
        .unwrap();
    mamori_storage::registry::insert(
        &mut w,
        &Account {
            id: AccountId(0),
            system_id: SystemId(system),
            login_id: "hijou01".into(),
            person_id: None,
            kind: AccountKind::Emergency,
            is_admin: true,
            enabled: true,
            last_login_on: None,
            two_factor: false,
            created_on: None,
            disabled_on: None,
            pw_last_set_on: None,
            pw_never_expires: false,
            locked_out: false,
            admin_approved_by: None,
            admin_approved_on: None,
            notes: String::new(),
        },
    )
    .await
    .unwrap();
    w.commit().await.unwrap();

    let mut events = Vec::new();
    for m in 0..5 {
        events.push(ev(
            m,
            "nurse05",
            Action::LogonFailed,
            Outcome::Failure,
            None,
        ));
    }
    events.push(ev(
        6,
        "nurse05",
        Action::AccountLockedOut,
        Outcome::Success,
        Some("nurse05"),
    ));
    events.push(ev(
        10,
        "dr01",
        Action::RecordViewed,
        Outcome::Success,
        Some("P-000777"),
    ));
    events.push(ev(
        11,
        "dr01",
        Action::RecordViewed,
        Outcome::Success,
        Some("P-000123"),
    ));
    events.push(ev(20, "HIJOU01", Action::Logon, Outcome::Success, None));
    s.svc
        .ingest_events("system", "test.csv", &events[..4], &client, |_| {})
        .await
        .unwrap();

    let mut det = Detector::new(None, 60_000);
    let r = s.svc.detect_pending(&mut det).await.unwrap();
    assert_eq!((r.scanned, r.behind), (4, 0));
    assert!(
        titles(&s).await.is_empty(),
        "four failures are not yet an alert"
    );

    // The rest arrives later; the fifth failure completes the window of the first four.
    s.svc
        .ingest_events("system", "test.csv", &events[4..], &client, |_| {})
        .await
        .unwrap();
    let r = s.svc.detect_pending(&mut det).await.unwrap();
    assert_eq!(r.scanned, 5);
    let want = vec![
        ("アカウントのロックアウト".to_string(), 1),
        ("同じアカウントでのログオン失敗の繰り返し".to_string(), 1),
        (
            "要配慮患者（VIP・職員・職員の家族）の記録へのアクセス".to_string(),
            1,
        ),
        ("非常時用アカウントの使用".to_string(), 1),
    ];
    assert_eq!(titles(&s).await, want);
    let lockout = s
        .svc
        .store
        .alerts(None, 100)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.title == "アカウントのロックアウト")
        .unwrap();
    assert_eq!(lockout.level, "medium");
    // The alert links the sealed record that raised it (the sixth event: index 5).
    assert_eq!(
        s.svc.store.alert_event_indexes(lockout.id).await.unwrap(),
        vec![5]
    );

    // After a restart a new detector goes on from the stored position: nothing again.
    let s = s.restart().await;
    let mut det = Detector::new(None, 60_000);
    let r = s.svc.detect_pending(&mut det).await.unwrap();
    assert_eq!(r.scanned, 0);
    assert_eq!(titles(&s).await, want);
}

#[tokio::test]
async fn the_server_detects_behind_ingestion_by_itself() {
    let s = TestServer::start_with(|c| c.detect.enabled = true).await;
    let client = ClientInfo::new("local", "test");
    let mut events: Vec<LogEvent> = (0..3_000)
        .map(|i| {
            ev(
                i % 50,
                &format!("user{}", i % 40),
                Action::RecordViewed,
                Outcome::Success,
                Some("P-000001"),
            )
        })
        .collect();
    let mut cleared = ev(
        55,
        "administrator",
        Action::AuditLogCleared,
        Outcome::Success,
        None,
    );
    cleared.source_host = "dc01".into();
    events.push(cleared);
    s.svc
        .ingest_events("system", "bulk.csv", &events, &client, |_| {})
        .await
        .unwrap();
    assert_eq!(
        alerts_within_10s(&s).await,
        vec![("セキュリティログの消去".to_string(), 1)]
    );
    let cursor = s
        .svc
        .store
        .detect_state(mamori_storage::detection::CURSOR)
        .await
        .unwrap();
    assert_eq!(cursor, Some(3_001));
}

#[tokio::test]
async fn watched_patients_are_kept_on_their_page_with_clear_refusals() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    let p = c.get("/alerts/watched").await;
    assert_eq!(p.status, 200);
    assert!(p.has("登録された患者はいません"), "{}", p.body);

    // Refused in Japanese, naming the field; nothing is stored.
    let p = c
        .post(
            "/alerts/watched",
            &[("patient_id", "  "), ("reason", "vip"), ("note", "")],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(
        p.has("ALR0010") && p.has("患者IDを64文字以内で"),
        "{}",
        p.body
    );
    let p = c
        .post(
            "/alerts/watched",
            &[("patient_id", "P-1"), ("reason", "boss"), ("note", "")],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("ALR0011"), "{}", p.body);
    assert!(s.svc.store.watched_patients().await.unwrap().is_empty());

    let p = c
        .post(
            "/alerts/watched",
            &[
                ("patient_id", "P-000777"),
                ("reason", "family"),
                ("note", "院長の家族"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = c.get("/alerts/watched?ok=patient_watched").await;
    assert!(p.has("要配慮患者を登録しました"), "{}", p.body);
    assert!(
        p.has("P-000777") && p.has("職員の家族") && p.has("院長の家族"),
        "{}",
        p.body
    );
    let placeholders = s.svc.detection_placeholders().await.unwrap();
    assert_eq!(
        placeholders["watched_patients"],
        vec!["P-000777".to_string()]
    );

    let p = c
        .post(
            "/alerts/watched",
            &[("op", "remove"), ("patient_id", "P-000777")],
        )
        .await;
    assert_eq!(p.status, 303);
    let p = c.get("/alerts/watched").await;
    assert!(p.has("登録された患者はいません"), "{}", p.body);
    let audit: Vec<String> = s
        .svc
        .store
        .audit_events(100, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(audit.iter().any(|a| a == "patient.watched"), "{audit:?}");
    assert!(audit.iter().any(|a| a == "patient.unwatched"), "{audit:?}");
}

#[tokio::test]
async fn forwarded_events_are_detected_as_they_arrive() {
    let s = TestServer::start_with(|c| c.detect.enabled = true).await;
    let admin = s.setup_admin().await;
    let mut c = s.login(&admin).await;
    let p = c
        .post(
            "/logs/sources",
            &[("name", "winlogbeat-dc01"), ("label", "DC")],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let i = p.body.find("<strong id=\"token\">").unwrap() + 19;
    let token = p.body[i..i + p.body[i..].find('<').unwrap()].to_string();
    let bearer = format!("Bearer {token}");
    let mut api = s.client();
    // Batches one after another, as a forwarder sends them; the last holds a cleared log.
    for n in 0..5 {
        let mut body = String::new();
        for k in 0..200 {
            body.push_str(&format!(
                r#"{{"@timestamp":"2026-12-01T00:{n:02}:{:02}.000Z","winlog":{{"channel":"Security","event_id":4624,"event_data":{{"TargetUserName":"user{k}"}}}},"host":{{"name":"dc01"}},"message":"logon {n}-{k}"}}"#,
                k % 60
            ));
            body.push('\n');
        }
        if n == 4 {
            body.push_str(r#"{"@timestamp":"2026-12-01T00:05:00.000Z","winlog":{"channel":"Security","event_id":1102,"user_data":{"SubjectUserName":"administrator"}},"host":{"name":"dc01"},"message":"The audit log was cleared."}"#);
            body.push('\n');
        }
        let p = api
            .post_with_headers(
                "/api/v1/logs",
                &[
                    ("authorization", &bearer),
                    ("content-type", "application/x-ndjson"),
                ],
                body.into_bytes(),
            )
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
    }
    assert_eq!(
        alerts_within_10s(&s).await,
        vec![("セキュリティログの消去".to_string(), 1)]
    );
    let alert = s.svc.store.alerts(None, 10).await.unwrap().remove(0);
    assert_eq!(alert.host, "dc01");
    assert_eq!(
        s.svc.store.alert_event_indexes(alert.id).await.unwrap(),
        vec![1_000],
        "the 1,001st record sealed"
    );
    // Every record was read exactly once: the position is the log's size.
    let mut cursor = None;
    for _ in 0..50 {
        cursor = s
            .svc
            .store
            .detect_state(mamori_storage::detection::CURSOR)
            .await
            .unwrap();
        if cursor == Some(1_001) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(cursor, Some(1_001));
}

#[tokio::test]
async fn a_batch_handed_over_at_the_position_is_scanned_without_reading_the_log() {
    use mamori_service::collect::Fed;
    let s = TestServer::start().await;
    let client = ClientInfo::new("local", "test");
    let quiet = |m| ev(m, "sato", Action::Logon, Outcome::Success, None);
    s.svc
        .ingest_events(
            "system",
            "a.csv",
            &[quiet(0), quiet(1), quiet(2)],
            &client,
            |_| {},
        )
        .await
        .unwrap();
    let cleared = ev(3, "admin", Action::AuditLogCleared, Outcome::Success, None);
    let mut det = Detector::new(None, 60_000);
    // A batch ahead of the position (0): the log is read up to it, then the batch itself is
    // scanned. (What the collector hands over is what it sealed; this batch says otherwise
    // only to show which one was read.)
    s.svc
        .ingest_events("system", "a.csv", &[quiet(3)], &client, |_| {})
        .await
        .unwrap();
    let mut pending = std::collections::VecDeque::from([Fed {
        first: 3,
        events: vec![("a.csv".into(), cleared.clone())],
    }]);
    let r = s
        .svc
        .detect_round_fed(&mut det, &mut pending)
        .await
        .unwrap();
    assert_eq!((r.scanned, r.behind), (3, 1), "the gap, from the log");
    assert!(titles(&s).await.is_empty());
    let r = s
        .svc
        .detect_round_fed(&mut det, &mut pending)
        .await
        .unwrap();
    assert_eq!((r.scanned, r.behind), (1, 0), "the batch");
    assert!(pending.is_empty());
    // A batch already passed is dropped.
    let mut pending = std::collections::VecDeque::from([Fed {
        first: 2,
        events: vec![("a.csv".into(), cleared)],
    }]);
    let r = s
        .svc
        .detect_round_fed(&mut det, &mut pending)
        .await
        .unwrap();
    assert_eq!(r.scanned, 0);
    assert!(pending.is_empty());
    assert_eq!(
        titles(&s).await,
        vec![("セキュリティログの消去".to_string(), 1)]
    );
}

#[tokio::test]
async fn configured_sigma_rules_meet_windows_events_by_their_channel() {
    let s = TestServer::start().await;
    let client = ClientInfo::new("local", "test");
    let mut set = mamori_detect::RuleSet::new();
    let loaded = set.add_yaml(
        "failed.yml",
        "title: Failed logon of sato\nid: 00000000-0000-4000-8000-0000000000aa\nlevel: high\n\
         logsource:\n  product: windows\n  service: security\ndetection:\n  s:\n    EventID: 4625\n\
         \x20   TargetUserName: sato\n    Computer: dc01\n  condition: s\n",
    );
    assert_eq!(loaded.loaded, 1, "{:?}", set.refused());
    set.finish();
    let windows = |user: &str, channel: &str| {
        let mut e = ev(0, user, Action::LogonFailed, Outcome::Failure, None);
        e.source_host = "dc01".into();
        e.fields = vec![
            ("channel".into(), channel.into()),
            ("event_id".into(), "4625".into()),
            ("TargetUserName".into(), user.into()),
        ];
        e
    };
    let events = [
        windows("sato", "Security"),
        windows("ito", "Security"),
        // Same fields on another channel: not a Security rule's event.
        windows("sato", "Application"),
    ];
    s.svc
        .ingest_events("system", "dc01.evtx", &events, &client, |_| {})
        .await
        .unwrap();
    let mut det = Detector::new(Some(set), 60_000);
    s.svc.detect_pending(&mut det).await.unwrap();
    let alerts = s.svc.store.alerts(None, 10).await.unwrap();
    let mine: Vec<_> = alerts
        .iter()
        .filter(|a| a.title == "Failed logon of sato")
        .collect();
    assert_eq!(mine.len(), 1, "{alerts:?}");
    assert_eq!(
        s.svc.store.alert_event_indexes(mine[0].id).await.unwrap(),
        vec![0]
    );
}

/// The rules page lists the shipped rules, what the configuration added (by level), each rule
/// that was refused with its reason in Japanese, and a folder without rule files.
#[tokio::test]
async fn the_rules_page_shows_loaded_and_refused_rules() {
    let s = TestServer::start_with(|c| {
        c.detect.enabled = true;
        let dir = c.data_dir.join("sigma");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("good.yml"),
            "title: Failed logon of sato\nid: 00000000-0000-4000-8000-0000000000aa\nlevel: high\n\
             logsource:\n  product: windows\n  service: security\ndetection:\n  s:\n    EventID: 4625\n\
             \x20 condition: s\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("bad.yml"),
            "title: Broken rule\nid: 00000000-0000-4000-8000-0000000000bb\nlevel: low\n\
             logsource:\n  product: windows\n  service: security\ndetection:\n  s:\n    EventID|nosuch: 1\n\
             \x20 condition: s\n",
        )
        .unwrap();
        c.detect.rules = vec![dir, c.data_dir.join("no-rules-here")];
    })
    .await;
    let admin = s.setup_admin().await;
    let mut c = s.login(&admin).await;
    let p = c.get("/alerts").await;
    assert!(p.has("href=\"/alerts/rules\""), "{}", p.body);
    let p = c.get("/alerts/rules").await;
    assert_eq!(p.status, 200, "{}", p.body);
    // Live detection runs; the shipped rules are listed with their Japanese titles.
    assert!(p.has("動作中"), "{}", p.body);
    assert!(p.has("セキュリティログの消去"), "{}", p.body);
    // One rule loaded (a chart of levels), one refused with its reason, one folder empty.
    assert!(p.has("読み込んだルール（重大度別）"), "{}", p.body);
    assert!(p.has("Broken rule") && p.has("DET0008"), "{}", p.body);
    assert!(p.has("nosuch"), "the engine's detail: {}", p.body);
    assert!(
        p.has("no-rules-here") && p.has("ルールファイル（.yml）がありません"),
        "{}",
        p.body
    );
}

/// Without `[detect] enabled`, the rules page says detection is stopped.
#[tokio::test]
async fn the_rules_page_says_when_detection_is_stopped() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    let p = c.get("/alerts/rules").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(
        p.has("停止中") && p.has("アラートは上がりません"),
        "{}",
        p.body
    );
    assert!(p.has("追加ルールはありません"), "{}", p.body);

    // Folders configured while detection is off: named, and said not to be loaded (not
    // "every rule loaded").
    let s = TestServer::start_with(|c| c.detect.rules = vec![c.data_dir.join("sigma")]).await;
    let admin = s.setup_admin().await;
    let mut c = s.login(&admin).await;
    let p = c.get("/alerts/rules").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.has("停止中のため") && p.has("sigma"), "{}", p.body);
    assert!(!p.has("すべてのルールを読み込みました"), "{}", p.body);
}
