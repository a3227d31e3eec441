//! The sealed log's verifications: recorded (by a person or the daily check) with one audit
//! event each.

use mamori_testkit::TestServer;

const DAY: i64 = 86_400_000;

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
