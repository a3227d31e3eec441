//! The audit trail: every change and login attempt is recorded, and tampering is detected.

use mamori_testkit::TestServer;

#[tokio::test]
async fn logins_and_changes_are_recorded_and_chained() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.client();
    c.login_password("admin", "wrong-password-here").await;
    let mut a = s.login(&admin).await;
    a.post("/settings/facility", &[("idle_lock_minutes", "15")])
        .await;
    let events = s.svc.store.audit_events(100, 0).await.unwrap();
    let actions: Vec<&str> = events.iter().rev().map(|e| e.action.as_str()).collect();
    for want in [
        "setup.completed",
        "two_factor.enrolled",
        "login.failure",
        "login.password_ok",
        "login.success",
        "settings.changed",
    ] {
        assert!(actions.contains(&want), "missing {want} in {actions:?}");
    }
    let changed = events
        .iter()
        .find(|e| e.action == "settings.changed")
        .unwrap();
    assert!(changed.detail.contains("\"before\"") && changed.detail.contains("\"after\""));
    assert!(changed.actor.contains("admin"));
    assert_eq!(changed.source, "127.0.0.1");
    let check = s.svc.store.verify_audit_trail().await.unwrap();
    assert_eq!(check.broken, None);
    assert_eq!(check.verified, events.len() as i64);
    let p = a.get("/logs/verify").await;
    assert!(p.has("改ざんされていません"));
}

async fn exec(s: &TestServer, sql: &str) {
    sqlx::query(sql).execute(s.svc.store.pool()).await.unwrap();
}

#[tokio::test]
async fn edits_deletions_and_truncation_are_detected() {
    for (name, sql, seq) in [
        (
            "edit",
            "UPDATE audit_events SET detail = '{}' WHERE seq = 2",
            2,
        ),
        ("delete", "DELETE FROM audit_events WHERE seq = 2", 3),
        (
            "truncate",
            "DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events)",
            4,
        ),
    ] {
        let (s, admin) = TestServer::with_admin().await;
        let mut a = s.login(&admin).await;
        a.post("/settings/facility", &[("idle_lock_minutes", "15")])
            .await;
        let total = s.svc.store.audit_count().await.unwrap();
        assert!(total >= 4);
        exec(&s, sql).await;
        let check = s.svc.store.verify_audit_trail().await.unwrap();
        let broken = check
            .broken
            .unwrap_or_else(|| panic!("{name} not detected"));
        if name == "truncate" {
            assert_eq!(broken.seq(), total, "{name}: {broken}");
        } else {
            assert_eq!(broken.seq(), seq, "{name}: {broken}");
        }
        let p = a.get("/logs/verify").await;
        assert!(p.has("改ざんまたは欠落"), "{name}");
    }
}
