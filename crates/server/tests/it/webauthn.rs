//! Security keys: the ceremonies' bad inputs. (The happy path needs a real authenticator and is
//! driven in headless Chromium with its virtual authenticator by tests/browser.)

use mamori_domain::role::Role;
use mamori_testkit::TestServer;

#[tokio::test]
async fn registration_options_and_bad_answers() {
    let (s, _admin) = TestServer::with_admin().await;
    let staff = s.add_user("nakamura", Role::Staff).await;
    let mut c = s.login(&staff).await;

    // Finishing without starting: the request has expired (nothing pending).
    let p = c
        .post(
            "/account/keys/register/finish",
            &[("name", "キー"), ("credential", "{}")],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("WAN0001"), "{}", p.body);

    let p = c.post("/account/keys/register/start", &[]).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let opts: serde_json::Value = serde_json::from_str(&p.body).unwrap();
    assert!(
        opts["publicKey"]["challenge"]
            .as_str()
            .is_some_and(|c| c.len() >= 32)
    );
    assert_eq!(opts["publicKey"]["rp"]["id"], "localhost");
    assert_eq!(opts["publicKey"]["user"]["name"], "nakamura");

    // An empty name is refused before the pending request is used.
    let p = c
        .post(
            "/account/keys/register/finish",
            &[("name", " "), ("credential", "{}")],
        )
        .await;
    assert!(p.has("WAN0004"), "{}", p.body);
    // A malformed answer is refused, and the pending request is gone afterwards.
    let p = c
        .post(
            "/account/keys/register/finish",
            &[("name", "キー"), ("credential", "not json")],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("WAN0002"), "{}", p.body);
    let p = c
        .post(
            "/account/keys/register/finish",
            &[("name", "キー"), ("credential", "not json")],
        )
        .await;
    assert!(
        p.has("WAN0001"),
        "a pending request is used once: {}",
        p.body
    );
    assert!(
        s.svc.store.credentials(staff.id).await.unwrap().is_empty(),
        "nothing stored"
    );

    // An expired request is refused.
    c.post("/account/keys/register/start", &[]).await;
    s.clock.advance_ms(6 * 60_000);
    let p = c
        .post(
            "/account/keys/register/finish",
            &[("name", "キー"), ("credential", "{}")],
        )
        .await;
    assert!(p.has("WAN0001"), "{}", p.body);
}

#[tokio::test]
async fn key_login_needs_a_registered_key_and_the_right_stage() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.client();
    c.login_password("admin", mamori_testkit::PASSWORD).await;
    c.get("/login/totp").await;
    let p = c.post("/login/key/start", &[]).await;
    assert_eq!(p.status, 400);
    assert!(p.has("WAN0006"), "{}", p.body);
    let p = c.post("/login/key/finish", &[("credential", "{}")]).await;
    assert!(p.has("WAN0001"), "{}", p.body);
    assert_eq!(
        c.get("/").await.location.as_deref(),
        Some("/login/totp"),
        "still not logged in"
    );

    // A fully logged-in session cannot start a key login.
    let mut full = s.login(&admin).await;
    let p = full.post("/login/key/start", &[]).await;
    assert_eq!(p.status, 401);

    // Removing a key that does not exist.
    let p = full.post("/account/keys/12345/delete", &[]).await;
    assert_eq!(p.status, 404);
}
