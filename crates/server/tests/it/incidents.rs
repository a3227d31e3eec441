//! Incident records on either database: an incident opened from an alert is linked both ways,
//! its timeline grows with notes, status changes and more alerts, closing needs a note and is
//! final, those who may only view cannot change anything, and the demo records one.

use mamori_domain::alert::AlertLevel;
use mamori_domain::role::Role;
use mamori_service::alerts::Detection;
use mamori_storage::events::{EventRow, insert_events};
use mamori_testkit::{PASSWORD, TestServer};

fn detection(actor: &str, at_ms: i64, seal_index: i64) -> Detection {
    Detection {
        rule_id: "mamori-left-account".into(),
        title: "退職者または無効化されたアカウントの使用".into(),
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

/// Raises one alert per actor; returns their ids in the same order.
async fn raise(s: &TestServer, actors: &[&str]) -> Vec<i64> {
    let first = s.svc.store.alerts(None, 1000).await.unwrap().len() as i64;
    let rows: Vec<EventRow> = actors
        .iter()
        .enumerate()
        .map(|(i, a)| event(first + i as i64, a))
        .collect();
    let mut w = s.svc.store.write().await.unwrap();
    insert_events(&mut w, &rows).await.unwrap();
    w.commit().await.unwrap();
    let detections: Vec<Detection> = rows
        .iter()
        .map(|e| detection(e.actor.as_deref().unwrap(), e.sort_ms, e.seal_index))
        .collect();
    s.svc.raise_alerts(&detections).await.unwrap();
    let all = s.svc.store.alerts(None, 1000).await.unwrap();
    actors
        .iter()
        .map(|a| {
            all.iter()
                .filter(|r| r.actor.as_deref() == Some(*a))
                .map(|r| r.id)
                .max()
                .unwrap()
        })
        .collect()
}

async fn audit_count(s: &TestServer) -> usize {
    s.svc.store.audit_events(100_000, 0).await.unwrap().len()
}

/// The incident id of a `/incidents/{id}?ok=…` redirect.
fn incident_of(location: Option<&str>) -> i64 {
    let l = location.expect("a redirect");
    let rest = l.strip_prefix("/incidents/").expect(l);
    rest.split('?').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn an_incident_opened_from_an_alert_is_linked_both_ways_and_closed_with_a_note() {
    let (s, admin) = TestServer::with_admin().await;
    let ids = raise(&s, &["taishoku01", "ito"]).await;
    let (first, second) = (ids[0], ids[1]);
    let mut c = s.login(&admin).await;

    // The alert offers to record it as an incident.
    let alert_href = format!("/alerts/{first}");
    let p = c.get(&alert_href).await;
    assert!(
        p.has("インシデントとして記録") && p.has(&format!("{alert_href}/incident")),
        "{}",
        p.body
    );
    let p = c
        .post(&format!("{alert_href}/incident"), &[("action", "open")])
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let iid = incident_of(p.location.as_deref());
    assert!(
        p.location
            .as_deref()
            .unwrap()
            .ends_with("?ok=incident_opened")
    );
    let i = s.svc.store.incident(iid).await.unwrap().unwrap();
    assert_eq!(
        (i.title.as_str(), i.severity.as_str(), i.status.as_str()),
        ("退職者または無効化されたアカウントの使用", "high", "open")
    );
    assert_eq!(i.owner, "院長", "whoever opens it handles it");
    assert_eq!(
        s.svc.store.alert(first).await.unwrap().unwrap().incident_id,
        Some(iid)
    );

    // Both ways: the alert names its incident, the incident lists its alert.
    let href = format!("/incidents/{iid}");
    let p = c.get(&alert_href).await;
    assert!(
        p.has(&format!(r#"href="{href}""#)) && p.has("インシデントとして記録されています"),
        "{}",
        p.body
    );
    assert!(!p.has(r#"value="open""#), "no second incident is offered");
    let p = c.get(&href).await;
    assert_eq!(p.status, 200);
    assert!(
        p.has(&format!(r#"href="{alert_href}""#))
            && p.has("記録開始")
            && p.has("アラートを紐付け")
            && p.has(r#"class="badge bad">対応中"#),
        "{}",
        p.body
    );
    let p = c.get("/incidents").await;
    assert!(
        p.has(&format!(
            r#"<a href="{href}">退職者または無効化されたアカウントの使用</a>"#
        )),
        "{}",
        p.body
    );
    // An alert already in an incident is not recorded twice.
    let p = c
        .post(&format!("{alert_href}/incident"), &[("action", "open")])
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("INC0011"), "{}", p.body);

    // A note: one timeline entry and exactly one audit event.
    let before = audit_count(&s).await;
    let p = c
        .post(
            &href,
            &[
                ("action", "note"),
                ("note", "保守事業者に連絡し、アカウントを無効化"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(
        p.location.as_deref(),
        Some(format!("{href}?ok=incident_noted").as_str())
    );
    assert_eq!(audit_count(&s).await, before + 1);
    let p = c.get(p.location.as_deref().unwrap()).await;
    assert!(
        p.has("保守事業者に連絡し、アカウントを無効化"),
        "{}",
        p.body
    );
    assert!(p.has("経過を記録しました"), "the flash: {}", p.body);
    // An empty note is refused.
    let p = c.post(&href, &[("action", "note"), ("note", "  ")]).await;
    assert_eq!(p.status, 400);
    assert!(p.has("INC0004") && p.has("「記録」が空です"), "{}", p.body);

    // The second alert joins the open incident from its own page.
    let p = c.get(&format!("/alerts/{second}")).await;
    assert!(
        p.has(&format!(r#"<option value="{iid}""#)),
        "the open incident is offered: {}",
        p.body
    );
    let p = c
        .post(
            &format!("/alerts/{second}/incident"),
            &[("action", "link"), ("incident", &iid.to_string())],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(
        s.svc
            .store
            .alert(second)
            .await
            .unwrap()
            .unwrap()
            .incident_id,
        Some(iid)
    );
    assert_eq!(s.svc.store.incident(iid).await.unwrap().unwrap().alerts, 2);
    // An unknown incident is refused on the field.
    let third = raise(&s, &["kato"]).await[0];
    let p = c
        .post(
            &format!("/alerts/{third}/incident"),
            &[("action", "link"), ("incident", "999999")],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("INC0012"), "{}", p.body);

    // Contained, then closing without a note is refused in Japanese and writes nothing.
    let p = c
        .post(&href, &[("action", "status"), ("status", "contained")])
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = c
        .post(&href, &[("action", "status"), ("status", "contained")])
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("INC0008"), "{}", p.body);
    let before_incident = s.svc.store.incident(iid).await.unwrap().unwrap();
    let before_timeline = s.svc.store.incident_timeline(iid).await.unwrap();
    let before_audit = audit_count(&s).await;
    let p = c
        .post(&href, &[("action", "close"), ("note", " \n ")])
        .await;
    assert_eq!(p.status, 400);
    assert!(
        p.has("INC0002") && p.has("終結にするには「終結の記録」を書いてください"),
        "{}",
        p.body
    );
    assert_eq!(
        s.svc.store.incident(iid).await.unwrap().unwrap(),
        before_incident
    );
    assert_eq!(
        s.svc.store.incident_timeline(iid).await.unwrap(),
        before_timeline
    );
    assert_eq!(audit_count(&s).await, before_audit);
    assert_eq!(before_incident.status, "contained");

    let p = c
        .post(
            &href,
            &[
                ("action", "close"),
                (
                    "note",
                    "アカウントの使い回しと判明。無効化し、職員に再教育。保健所へ報告済み。",
                ),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let i = s.svc.store.incident(iid).await.unwrap().unwrap();
    assert_eq!(i.status, "closed");
    assert!(i.close_note.starts_with("アカウントの使い回し") && i.closed_ms.is_some());
    let p = c.get("/incidents").await;
    assert!(
        p.has("対応中のインシデントはありません") && p.has(&format!(r#"href="{href}""#)),
        "listed as recently closed: {}",
        p.body
    );

    // Closed is final: no new link, no note, no status.
    let before_audit = audit_count(&s).await;
    let p = c
        .post(
            &format!("/alerts/{third}/incident"),
            &[("action", "link"), ("incident", &iid.to_string())],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("INC0001") && p.has("終結済み"), "{}", p.body);
    assert_eq!(
        s.svc.store.alert(third).await.unwrap().unwrap().incident_id,
        None
    );
    let p = c.post(&href, &[("action", "note"), ("note", "追記")]).await;
    assert_eq!(p.status, 400);
    assert!(p.has("INC0001"), "{}", p.body);
    let p = c
        .post(&href, &[("action", "status"), ("status", "open")])
        .await;
    assert_eq!(p.status, 400);
    assert_eq!(audit_count(&s).await, before_audit);
    let p = c.get(&format!("/alerts/{third}")).await;
    assert!(
        !p.has(&format!(r#"<option value="{iid}""#)),
        "a closed incident is not offered: {}",
        p.body
    );

    let audit = s.svc.store.audit_events(1000, 0).await.unwrap();
    for action in [
        "incident.opened",
        "incident.alert_linked",
        "incident.noted",
        "incident.status_changed",
        "incident.closed",
    ] {
        assert_eq!(
            audit.iter().filter(|r| r.action == action).count(),
            1,
            "{action} audited once"
        );
    }
    let p = c.get("/logs/verify").await;
    assert_eq!(p.status, 200);
}

#[tokio::test]
async fn a_blank_incident_is_checked_and_staff_may_only_read() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    let p = c.get("/incidents").await;
    assert!(
        p.has("初動") && p.has(r#"action="/incidents""#),
        "{}",
        p.body
    );

    // A missing title is refused, naming the field, and nothing is written.
    let before = audit_count(&s).await;
    let p = c
        .post(
            "/incidents",
            &[
                ("title", "  "),
                ("severity", "critical"),
                ("summary", "受付PCに脅迫文"),
            ],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(
        p.has("「件名」を入力してください") && p.has("INC0005"),
        "{}",
        p.body
    );
    assert!(
        p.has("受付PCに脅迫文"),
        "what was typed is kept: {}",
        p.body
    );
    assert!(s.svc.store.open_incidents().await.unwrap().is_empty());
    assert_eq!(audit_count(&s).await, before);
    let p = c
        .post(
            "/incidents",
            &[("title", "USBメモリの紛失"), ("severity", "severe")],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("INC0007"), "{}", p.body);

    let p = c
        .post(
            "/incidents",
            &[
                ("title", "ランサムウェア感染の疑い"),
                ("severity", "critical"),
                ("owner", "事務長"),
                ("summary", "受付PCに脅迫文。LANケーブルを抜いた。"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let iid = incident_of(p.location.as_deref());
    let href = format!("/incidents/{iid}");
    let i = s.svc.store.incident(iid).await.unwrap().unwrap();
    assert_eq!((i.owner.as_str(), i.alerts), ("事務長", 0));
    let p = c.get(&href).await;
    assert!(
        p.has("受付PCに脅迫文。LANケーブルを抜いた。") && p.has(r#"class="badge bad">重大"#),
        "{}",
        p.body
    );

    // Staff read the list and the incident, without forms, and may not post.
    let staff = s.add_user("shokuin", Role::Staff).await;
    let mut st = s.login(&staff).await;
    let p = st.get("/incidents").await;
    assert_eq!(p.status, 200);
    assert!(
        p.has("ランサムウェア感染の疑い") && !p.has(r#"action="/incidents""#),
        "{}",
        p.body
    );
    let p = st.get(&href).await;
    assert_eq!(p.status, 200);
    assert!(!p.has(r#"name="action""#), "{}", p.body);
    let before = audit_count(&s).await;
    let p = st
        .post(&href, &[("action", "note"), ("note", "見ました")])
        .await;
    assert_eq!(p.status, 403);
    assert!(p.has("AUTH0006"));
    let p = st
        .post(
            "/incidents",
            &[("title", "職員の記録"), ("severity", "low")],
        )
        .await;
    assert_eq!(p.status, 403);
    assert_eq!(audit_count(&s).await, before);
    assert_eq!(s.svc.store.open_incidents().await.unwrap().len(), 1);
    assert_eq!(s.svc.store.incident_timeline(iid).await.unwrap().len(), 1);

    // An unknown incident is 404 for reading and for writing.
    assert_eq!(st.get("/incidents/999999").await.status, 404);
    assert_eq!(c.get("/incidents/999999").await.status, 404);
    let p = c
        .post("/incidents/999999", &[("action", "note"), ("note", "x")])
        .await;
    assert_eq!(p.status, 404);
    // A request the page does not send is refused with its code.
    let p = c.post(&href, &[("action", "delete")]).await;
    assert_eq!(p.status, 400);
    assert!(p.has("INC0013"), "{}", p.body);
}

/// The demo records an incident from an alert the week's log raises: linked, with notes,
/// contained.
#[tokio::test]
async fn the_demo_records_an_incident_from_one_of_its_alerts() {
    let s = TestServer::start().await;
    let demo = mamori_service::demo::demo_facility(s.svc.clock.today(), 20_251_001);
    s.svc.seed_demo(&demo, PASSWORD).await.unwrap();
    s.svc.seed_demo_access_log(&demo, 20_251_001).await.unwrap();
    let mut det = mamori_service::detection::Detector::new(None, 60_000);
    s.svc.detect_pending(&mut det).await.unwrap();
    let id = s
        .svc
        .seed_demo_incident()
        .await
        .unwrap()
        .expect("an incident");
    let d = s.svc.store.incident(id).await.unwrap().unwrap();
    assert_eq!(d.status, "contained");
    assert_eq!(d.alerts, 1);
    let timeline = s.svc.store.incident_timeline(id).await.unwrap();
    let kinds: Vec<&str> = timeline.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds, ["opened", "alert_linked", "note", "note", "status"]);
    assert!(
        timeline
            .iter()
            .all(|t| t.author == "安全管理責任者（事務長）")
    );
    // Once: a second call records nothing.
    assert_eq!(s.svc.seed_demo_incident().await.unwrap(), None);
}
