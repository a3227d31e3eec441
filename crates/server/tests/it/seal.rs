//! The sealed log on the ログ page: bundles by period, verifications that are recorded (by a
//! person or the daily check), a failure shown loudly, and the printable signing key.

use mamori_domain::role::Role;
use mamori_testkit::{TestServer, TestUser};

const DAY: i64 = 86_400_000;

/// Records sealed on three different days: 2025-10-01 (setup, login), 10-03 and 10-05 (JST).
async fn three_days(s: &TestServer, admin: &TestUser) -> [std::ops::Range<u64>; 3] {
    // Re-enrolling the same secret writes an audit event and keeps the admin able to log in.
    let secret = admin.totp_secret.clone().unwrap();
    let sealer = s.svc.sealer.clone().unwrap();
    let mut ranges = Vec::new();
    for day in 0..3 {
        let start = sealer.size().unwrap();
        for _ in 0..4 {
            s.svc
                .enroll_totp_unchecked(admin.id, &secret)
                .await
                .unwrap();
        }
        s.svc.seal_pending().await.unwrap();
        ranges.push(start..sealer.size().unwrap());
        if day < 2 {
            s.clock.advance_ms(2 * DAY);
        }
    }
    [ranges[0].clone(), ranges[1].clone(), ranges[2].clone()]
}

async fn bundle(c: &mamori_testkit::Client, query: &str) -> (u16, String, Vec<u8>) {
    let r = c
        .http
        .get(format!("{}/logs/seal/bundle{query}", c.base))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let disposition = r
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, disposition, r.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn a_bundle_of_a_period_holds_exactly_its_records_and_verifies() {
    let (s, admin) = TestServer::with_admin().await;
    s.svc.seal_pending().await.unwrap();
    let [_, oct3, oct5] = three_days(&s, &admin).await;
    let mut a = s.login(&admin).await;
    let p = a.get("/logs").await;
    assert!(
        p.has("name=\"from\" type=\"date\""),
        "the page has the period form"
    );

    // One day, by date: exactly the records sealed that day (JST).
    let (status, disposition, bytes) = bundle(&a, "?from=2025-10-03&to=2025-10-03").await;
    assert_eq!(status, 200);
    assert!(
        disposition.contains("mamori-audit-20251003-20251003.seal"),
        "{disposition}"
    );
    let r = mamori_seal::verify_bundle(bytes.as_slice(), None).unwrap();
    assert_eq!(r.start..r.end, oct3.start..oct3.end);

    // 和暦 and an open end: from 10-05 to everything sealed so far.
    let (status, _, bytes) = bundle(
        &a,
        "?from=%E4%BB%A4%E5%92%8C7%E5%B9%B410%E6%9C%885%E6%97%A5&to=",
    )
    .await;
    assert_eq!(status, 200);
    let r = mamori_seal::verify_bundle(bytes.as_slice(), None).unwrap();
    assert_eq!(r.start, oct5.start);

    // Without a period: everything.
    let (status, _, bytes) = bundle(&a, "").await;
    assert_eq!(status, 200);
    let r = mamori_seal::verify_bundle(bytes.as_slice(), None).unwrap();
    assert_eq!(r.start, 0);
    assert!(r.end >= oct5.end);

    // Bad input: the logs page again with the reason next to the form, nothing downloaded.
    for (query, code, field) in [
        ("?from=2025-02-30&to=", "SEA0003", "開始日"),
        ("?from=&to=yesterday", "SEA0003", "終了日"),
        ("?from=2025-10-05&to=2025-10-03", "SEA0004", "開始日"),
        ("?from=2030-01-01&to=2030-01-31", "SEA0005", ""),
        ("?from=2025-10-02&to=2025-10-02", "SEA0005", ""),
    ] {
        let p = a.get(&format!("/logs/seal/bundle{query}")).await;
        assert_eq!(p.status, 400, "{query}");
        assert!(p.has(code) && p.has(field), "{query}: {}", p.body);
        assert!(p.has("id=\"bundle-error\""), "{query}");
    }
}

#[tokio::test]
async fn verify_now_is_recorded_with_who_and_one_audit_event() {
    let (s, admin) = TestServer::with_admin().await;
    let mut a = s.login(&admin).await;
    let p = a.get("/logs").await;
    assert!(p.has("まだ一度も検証されていません"), "{}", p.body);
    let before = s.svc.store.audit_count().await.unwrap();

    // A GET no longer verifies (it would change state without a form).
    assert_ne!(a.get("/logs/seal/verify").await.status, 303);
    let p = a.post("/logs/seal/verify", &[]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/logs#seal"));
    let v = s.svc.seal_verifications(10).await.unwrap();
    assert_eq!(v.len(), 1);
    assert!(v[0].ok, "{v:?}");
    assert_eq!(v[0].login(), Some("admin"));
    assert!(v[0].records() >= before as u64, "{v:?}");
    let events = s.svc.store.audit_events(100, 0).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "seal.verified")
            .count(),
        1
    );
    assert!(events.iter().all(|e| e.action != "seal.verify_failed"));

    let p = a.get("/logs").await;
    assert!(p.has("最後の検証"), "{}", p.body);
    assert!(p.has("検証の履歴") && p.has("異常なし"));

    // An auditor may verify too (it reads; the record says who).
    let auditor = s.add_user("kansa", Role::Auditor).await;
    let mut k = s.login(&auditor).await;
    k.get("/logs").await;
    assert_eq!(k.post("/logs/seal/verify", &[]).await.status, 303);
    let v = s.svc.seal_verifications(10).await.unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].login(), Some("kansa"));
    // Staff may not.
    let staff = s.add_user("staff1", Role::Staff).await;
    let mut st = s.login(&staff).await;
    assert_eq!(st.post("/logs/seal/verify", &[]).await.status, 403);
    // Without the form's token: refused, nothing recorded.
    let p = a.post_raw("/logs/seal/verify", &[]).await;
    assert_eq!(p.status, 403, "{}", p.body);
    assert_eq!(s.svc.seal_verifications(10).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_tampered_log_fails_loudly_on_the_logs_page_and_the_dashboard() {
    let (s, admin) = TestServer::with_admin().await;
    let mut a = s.login(&admin).await;
    a.post("/settings/facility", &[("idle_lock_minutes", "12")])
        .await;
    s.svc.seal_pending().await.unwrap();

    // Change one byte of sealed record 2 (audit event 3) on disk.
    let seg = s
        .dir
        .path()
        .join("seal")
        .join(format!("seg-{:020}.seal", 0));
    let mut bytes = std::fs::read(&seg).unwrap();
    let needle = b"\"seq\":3";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("record 3 in the segment");
    bytes[at + needle.len() - 1] = b'9';
    std::fs::write(&seg, &bytes).unwrap();

    let p = a.post("/logs/seal/verify", &[]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let v = s.svc.seal_verifications(1).await.unwrap();
    assert!(!v[0].ok);
    assert_eq!(v[0].bad_index, Some(2), "{v:?}");
    assert_eq!(v[0].code, "SEAL0105", "{v:?}");
    let failed = s
        .svc
        .store
        .audit_events(100, 0)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.action == "seal.verify_failed")
        .expect("an audit event for the failure");
    assert!(
        failed.detail.contains("\"first_bad_index\":2"),
        "{}",
        failed.detail
    );

    let p = a.get("/logs").await;
    assert!(p.has("seal-failed"), "{}", p.body);
    assert!(p.has("封印ログの検証に失敗しました"));
    assert!(p.has("異常あり SEAL0105"));
    let p = a.get("/").await;
    assert!(
        p.has("封印ログの検証に失敗しました") && p.has("最初の異常: 記録 2"),
        "{}",
        p.body
    );
}

#[tokio::test]
async fn the_daily_verification_runs_once_a_day_and_survives_restarts() {
    let s = TestServer::start_with(|c| c.seal_daily_verification = true).await;
    let _admin = s.setup_admin().await;
    async fn wait_for(s: &TestServer, n: usize) -> Vec<mamori_service::sealing::Verification> {
        for _ in 0..200 {
            let v = s.svc.seal_verifications(100).await.unwrap();
            if v.len() >= n {
                return v;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no verification {n} within 10 s");
    }
    // Not right at start-up.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(s.svc.seal_verifications(100).await.unwrap().is_empty());

    // Ten minutes after start-up: the first one, by the system.
    s.clock.advance_ms(11 * 60_000);
    let v = wait_for(&s, 1).await;
    assert!(v[0].ok && v[0].login().is_none(), "{v:?}");
    let first_at = v[0].at_ms;
    let events = s.svc.store.audit_events(100, 0).await.unwrap();
    let e = events.iter().find(|e| e.action == "seal.verified").unwrap();
    assert_eq!(e.actor, "system");

    // Not again within the day, not even after a restart.
    s.clock.advance_ms(23 * 3_600_000);
    let (ran, next) = s.svc.seal_daily_verification(first_at).await.unwrap();
    assert!(ran.is_none());
    assert_eq!(next, first_at + DAY);
    let s = s.restart().await;
    s.clock.advance_ms(30 * 60_000);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(s.svc.seal_verifications(100).await.unwrap().len(), 1);

    // A day after the last one (and ten minutes after this start): the next one.
    s.clock.advance_ms(40 * 60_000);
    let v = wait_for(&s, 2).await;
    assert!(v[0].at_ms >= first_at + DAY, "{v:?}");
    assert_eq!(v.len(), 2);
}

#[tokio::test]
async fn the_signing_key_prints_for_the_inspector() {
    let (s, admin) = TestServer::with_admin().await;
    let mut a = s.login(&admin).await;
    s.svc.seal_pending().await.unwrap();
    let p = a.get("/logs").await;
    assert!(p.has("href=\"/logs/seal/key\""), "the logs page links it");
    let p = a.get("/logs/seal/key").await;
    assert_eq!(p.status, 200);
    let cap = mamori_service::Actor::local("t")
        .can::<mamori_service::perm::ViewAudit>()
        .unwrap();
    let st = s.svc.seal_status(&cap).await.unwrap().unwrap();
    assert!(p.has("さくら内科クリニック"));
    for group in st.fingerprint.split('-') {
        assert!(
            p.has(&format!("<span class=\"mono\">{group}</span>")),
            "{group}"
        );
    }
    assert!(p.has(&format!("--pubkey {}", st.public_key_hex)));
    assert!(p.has(&st.public_key_hex[..4]) && p.has("安全管理責任者"));
    assert!(p.has("mamori verify"));
    assert!(!p.has("seal_key."), "every text is translated");
    // In English too.
    a.post("/lang", &[("lang", "en")]).await;
    let p = a.get("/logs/seal/key").await;
    assert!(
        p.has("Security officer") && !p.has("seal_key."),
        "{}",
        p.body
    );

    // Auditors see it; staff do not.
    let auditor = s.add_user("kansa", Role::Auditor).await;
    assert_eq!(
        s.login(&auditor).await.get("/logs/seal/key").await.status,
        200
    );
    let staff = s.add_user("staff1", Role::Staff).await;
    assert_eq!(
        s.login(&staff).await.get("/logs/seal/key").await.status,
        403
    );

    // The key as written on the sheet, in groups, is what `mamori verify --pubkey` takes.
    let grouped: String = st
        .public_key_hex
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    let bundle = s.svc.seal_export(&cap, 0, None).await.unwrap();
    let file = s.dir.path().join("b.seal");
    std::fs::write(&file, bundle).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_mamori"))
        .args(["verify", file.to_str().unwrap(), "--pubkey", &grouped])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains(&st.fingerprint));
}
