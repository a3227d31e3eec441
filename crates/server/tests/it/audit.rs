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

#[tokio::test]
async fn the_audit_trail_is_sealed_and_verifies_offline() {
    let (s, admin) = TestServer::with_admin().await;
    let mut a = s.login(&admin).await;
    a.post("/settings/facility", &[("idle_lock_minutes", "12")])
        .await;
    let n = s.svc.seal_pending().await.unwrap();
    let count = s.svc.store.audit_count().await.unwrap();
    assert!(n > 0);
    assert_eq!(
        s.svc.sealer.as_ref().unwrap().size().unwrap(),
        count as u64,
        "every event sealed"
    );
    assert_eq!(
        s.svc.seal_pending().await.unwrap(),
        0,
        "nothing sealed twice"
    );

    // The logs page shows the key; the bundle verifies with it, offline.
    let p = a.get("/logs").await;
    assert!(p.has("封印ログ"));
    let key_hex = p
        .body
        .split("公開鍵</dt><dd class=\"mono\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    let r = a
        .http
        .get(format!("{}/logs/seal/bundle", a.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let bundle = r.bytes().await.unwrap().to_vec();
    let key = mamori_seal::PublicKey::from_hex(&key_hex).unwrap().0;
    let report = mamori_seal::verify_bundle(bundle.as_slice(), Some(key)).unwrap();
    assert!(report.end >= count as u64);

    let p = a.post("/logs/seal/verify", &[]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = a.get("/logs").await;
    assert!(p.has("封印ログは改ざんされていません"), "{}", p.body);

    // Proofs through the API check out with the RFC 9162 verifier.
    let unhex = |h: &str| -> [u8; 32] { hex::decode(h).unwrap().try_into().unwrap() };
    let p = a.get("/api/v1/seal/proof/2").await;
    assert_eq!(p.status, 200, "{}", p.body);
    let v: mamori_proto::InclusionProof = serde_json::from_str(&p.body).unwrap();
    let path: Vec<[u8; 32]> = v.path.iter().map(|h| unhex(h)).collect();
    assert!(mamori_seal::merkle::verify_inclusion(
        2,
        v.tree_size,
        &unhex(&v.leaf_hash),
        &path,
        &unhex(&v.root)
    ));
    assert!(!mamori_seal::merkle::verify_inclusion(
        3,
        v.tree_size,
        &unhex(&v.leaf_hash),
        &path,
        &unhex(&v.root)
    ));
    let p = a
        .get(&format!(
            "/api/v1/seal/consistency?old=2&new={}",
            v.tree_size
        ))
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let c: mamori_proto::ConsistencyProof = serde_json::from_str(&p.body).unwrap();
    let path: Vec<[u8; 32]> = c.path.iter().map(|h| unhex(h)).collect();
    assert!(mamori_seal::merkle::verify_consistency(
        2,
        c.new_size,
        &unhex(&c.old_root),
        &unhex(&c.new_root),
        &path
    ));
    assert_eq!(a.get("/api/v1/seal/proof/999999").await.status, 404);
    assert_eq!(
        a.get("/api/v1/seal/consistency?old=5&new=2").await.status,
        400
    );
}

#[tokio::test]
async fn sealed_payloads_are_canonical_json() {
    let (s, _admin) = TestServer::with_admin().await;
    let rows = s.svc.store.audit_range(1, 10).await.unwrap();
    assert!(!rows.is_empty());
    for (seq, bytes) in rows {
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["seq"], seq);
        assert_eq!(v["hash"].as_str().unwrap().len(), 64);
    }
}

#[tokio::test]
async fn retention_prunes_old_sealed_records_and_what_remains_verifies() {
    let (s, admin) = TestServer::with_admin().await;
    let dir = tempfile::tempdir().unwrap();
    let small = mamori_seal::SealOptions {
        segment_bytes: 4096,
        ..Default::default()
    };
    let sealer = mamori_service::sealing::Sealer::open_with(dir.path(), small).unwrap();
    let svc = s.svc.clone().with_sealer(sealer);
    let secret = mamori_service::auth::new_totp_secret();
    for _ in 0..60 {
        svc.enroll_totp_unchecked(admin.id, &secret).await.unwrap();
    }
    svc.seal_pending().await.unwrap();
    let old = svc.sealer.as_ref().unwrap().size().unwrap();
    // Nothing is old enough yet.
    assert_eq!(svc.seal_retention(365).await.unwrap(), None);

    s.clock.advance_ms(400 * 86_400_000);
    for _ in 0..5 {
        svc.enroll_totp_unchecked(admin.id, &secret).await.unwrap();
    }
    svc.seal_pending().await.unwrap();
    let first_kept = svc
        .seal_retention(365)
        .await
        .unwrap()
        .expect("old segments pruned");
    assert!(
        first_kept > 0 && first_kept <= old,
        "first kept {first_kept}, old {old}"
    );
    assert_eq!(
        svc.store.audit_events(1, 0).await.unwrap()[0].action,
        "seal.pruned"
    );

    // What remains still verifies offline, with the signed deletion record in the bundle.
    svc.seal_pending().await.unwrap();
    let actor = mamori_service::Actor::local("test");
    let cap = actor.can::<mamori_service::perm::ViewAudit>().unwrap();
    let bundle = svc.seal_export(&cap, first_kept, None).await.unwrap();
    let report = mamori_seal::verify_bundle(bundle.as_slice(), None).unwrap();
    assert_eq!(report.start, first_kept);
    assert_eq!(report.deletions.len(), 1);
}
