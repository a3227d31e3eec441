//! Alerts on either database: detections of one rule and one group join one alert, the list
//! and the page show them with their sealed events, and the workflow (take, close with a note)
//! is enforced and audited.

use mamori_domain::alert::AlertLevel;
use mamori_domain::role::Role;
use mamori_service::alerts::Detection;
use mamori_storage::events::{EventRow, insert_events};
use mamori_testkit::TestServer;

fn detection(actor: &str, at_ms: i64, seal_index: i64) -> Detection {
    Detection {
        rule_id: "mamori-after-hours-ehr".into(),
        title: "夜間の電子カルテ参照".into(),
        level: AlertLevel::High,
        group: Vec::new(),
        host: "ehr-srv01".into(),
        actor: Some(actor.into()),
        at_ms,
        seal_index: Some(seal_index),
    }
}

fn event(i: i64, actor: &str) -> EventRow {
    EventRow {
        seal_index: i,
        at_ms: Some(1_000 + i),
        received_ms: 1_000 + i,
        sort_ms: 1_000 + i,
        time_flag: String::new(),
        source: "ehr.csv".into(),
        host: "ehr-srv01".into(),
        actor: Some(actor.into()),
        action: "record_view".into(),
        object: Some(format!("P-{i:06}")),
        outcome: "success".into(),
        severity: 6,
        message: format!("カルテ参照 {i}"),
        words: String::new(),
    }
}

#[tokio::test]
async fn detections_group_into_alerts_that_are_taken_and_closed_with_a_note() {
    let (s, admin) = TestServer::with_admin().await;
    let mut w = s.svc.store.write().await.unwrap();
    insert_events(
        &mut w,
        &[event(0, "sato"), event(1, "sato"), event(2, "ito")],
    )
    .await
    .unwrap();
    w.commit().await.unwrap();
    let raised = s
        .svc
        .raise_alerts(&[
            detection("sato", 1_000, 0),
            detection("sato", 1_001, 1),
            detection("ito", 1_002, 2),
        ])
        .await
        .unwrap();
    assert_eq!((raised.opened, raised.joined), (2, 1));
    let sato = s
        .svc
        .store
        .alerts(None, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.actor.as_deref() == Some("sato"))
        .unwrap();
    assert_eq!(sato.count, 2);
    assert_eq!(sato.status, "new");

    let mut c = s.login(&admin).await;
    let p = c.get("/").await;
    assert!(
        p.has("未対応のアラートが2件あります（うち重大度「高」以上が2件）"),
        "{}",
        p.body
    );
    let p = c.get("/alerts").await;
    assert_eq!(p.status, 200);
    assert!(
        p.has(r#"class="badge bad">高"#),
        "high is shown as bad: {}",
        p.body
    );
    assert!(
        p.has("夜間の電子カルテ参照") && p.has("未対応") && p.has("<svg"),
        "{}",
        p.body
    );
    let href = format!("/alerts/{}", sato.id);
    let p = c.get(&href).await;
    assert_eq!(p.status, 200);
    assert!(p.has("P-000001") && p.has("#1"), "{}", p.body);
    assert!(!p.has("P-000002"), "ito's event is another alert's");

    // A request with an action the page does not send changes nothing.
    let p = c
        .post(&href, &[("action", "delete"), ("note", "消して")])
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("ALR0004"), "{}", p.body);
    assert_eq!(
        s.svc.store.alert(sato.id).await.unwrap().unwrap().status,
        "new"
    );

    // Closing without a note is refused, in Japanese, naming what is missing.
    let p = c.post(&href, &[("action", "close"), ("note", "  ")]).await;
    assert_eq!(p.status, 400);
    assert!(
        p.has("ALR0002") && p.has("所見・対応を書いてください"),
        "{}",
        p.body
    );
    assert_eq!(
        s.svc.store.alert(sato.id).await.unwrap().unwrap().status,
        "new"
    );

    let p = c.post(&href, &[("action", "ack")]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let a = s.svc.store.alert(sato.id).await.unwrap().unwrap();
    assert_eq!(a.status, "acknowledged");
    assert!(a.owner.as_deref().is_some_and(|o| !o.is_empty()));

    let p = c
        .post(
            &href,
            &[("action", "close"), ("note", "本人に確認: 夜勤の正規業務")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let a = s.svc.store.alert(sato.id).await.unwrap().unwrap();
    assert_eq!(a.status, "closed");
    assert_eq!(a.note, "本人に確認: 夜勤の正規業務");
    // The status tabs narrow the list: closed shows sato's alert, not ito's new one.
    let p = c.get("/alerts?status=closed").await;
    assert!(p.has(r#"class="badge good">完了"#), "{}", p.body);
    assert!(!p.has(r#"class="badge bad">未対応"#), "{}", p.body);
    let p = c.get("/alerts?status=new").await;
    assert!(p.has(r#"class="badge bad">未対応"#) && !p.has(r#"class="badge good">完了"#));
    // A closed alert stays closed …
    let p = c.post(&href, &[("action", "ack")]).await;
    assert_eq!(p.status, 400);
    assert!(p.has("ALR0001"), "{}", p.body);
    // … and the next detection of its group opens a new one.
    let raised = s
        .svc
        .raise_alerts(&[detection("sato", 5_000, 1)])
        .await
        .unwrap();
    assert_eq!(raised.opened, 1);

    let audit = s.svc.store.audit_events(50, 0).await.unwrap();
    for action in ["alert.raised", "alert.acknowledged", "alert.closed"] {
        assert!(audit.iter().any(|r| r.action == action), "{action} audited");
    }

    // An auditor reads alerts but cannot handle them.
    let auditor = s.add_user("kansa", Role::Auditor).await;
    let mut c = s.login(&auditor).await;
    assert_eq!(c.get(&href).await.status, 200);
    let p = c.post(&href, &[("action", "ack")]).await;
    assert_eq!(p.status, 403);
}
