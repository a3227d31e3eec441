//! Login, throttling, second factor, forced password change, idle lock and sessions.

use mamori_domain::role::Role;
use mamori_testkit::{PASSWORD, TestServer};

#[tokio::test]
async fn thirty_wrong_then_right_is_refused_but_other_source_is_not() {
    let (s, _admin) = TestServer::with_admin().await;
    let user = s.add_user("tanaka", Role::Staff).await;
    let mut c = s.client();
    for i in 0..30 {
        let p = c
            .login_password("tanaka", &format!("wrong-password-{i}"))
            .await;
        assert!(
            p.status == 401 || p.status == 400 || p.status == 429,
            "attempt {i}: {}",
            p.status
        );
    }
    let p = c.login_password("tanaka", PASSWORD).await;
    assert_eq!(
        p.status, 429,
        "the right password during the refusal period is refused"
    );
    assert!(p.has("AUTH0002"));

    // Another source address gets normal handling.
    let mut other = s.client_from("127.0.0.2".parse().unwrap());
    let p = other.login_password("tanaka", PASSWORD).await;
    assert_eq!(p.status, 303, "{}", p.body);

    // The counter survives a restart.
    let s = s.restart().await;
    let mut c = s.client();
    let p = c.login_password("tanaka", PASSWORD).await;
    assert_eq!(p.status, 429);

    // After the refusal period the right password works again.
    s.clock.advance_ms(2 * 86_400_000);
    let mut c = s.client();
    let p = c.login_password(&user.login_id, PASSWORD).await;
    assert_eq!(p.status, 303);
}

#[tokio::test]
async fn unknown_and_known_ids_get_the_same_answer() {
    let (s, _admin) = TestServer::with_admin().await;
    s.add_user("suzuki", Role::Staff).await;
    let mut c = s.client();
    let a = c.login_password("suzuki", "not-the-password-123").await;
    let b = c
        .login_password("nobody-here", "not-the-password-123")
        .await;
    assert_eq!(a.status, b.status);
    assert!(a.has("AUTH0001") && b.has("AUTH0001"));
    let strip = |p: &str| p.replace("suzuki", "").replace("nobody-here", "");
    let csrf_a = a.csrf().unwrap();
    let csrf_b = b.csrf().unwrap();
    assert_eq!(
        strip(&a.body.replace(&csrf_a, "")),
        strip(&b.body.replace(&csrf_b, ""))
    );
}

#[tokio::test]
async fn admin_needs_totp_and_recovery_codes_work_once() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.client();
    let p = c.login_password("admin", PASSWORD).await;
    assert_eq!(p.location.as_deref(), Some("/login/totp"));
    // Without the second factor nothing else is reachable.
    let p = c.get("/").await;
    assert_eq!(p.location.as_deref(), Some("/login/totp"));
    c.get("/login/totp").await;
    let p = c.post("/login/totp", &[("code", "000000")]).await;
    assert_eq!(p.status, 400);
    assert!(p.has("AUTH0003"));
    let code = c.totp(admin.totp_secret.as_deref().unwrap(), "admin");
    let p = c.post("/login/totp", &[("code", &code)]).await;
    assert_eq!(p.location.as_deref(), Some("/"));
    let p = c.get("/").await;
    assert_eq!(p.status, 200);
    assert!(p.has("ダッシュボード"));

    // The same code cannot be used again (replay), even from another login.
    let mut d = s.client();
    d.login_password("admin", PASSWORD).await;
    d.get("/login/totp").await;
    let p = d.post("/login/totp", &[("code", &code)]).await;
    assert_eq!(p.status, 400, "a used code is refused");
    assert!(p.has("AUTH0003"));
    s.clock.advance_ms(30_000);
    let fresh = d.totp(admin.totp_secret.as_deref().unwrap(), "admin");
    assert_eq!(
        d.post("/login/totp", &[("code", &fresh)])
            .await
            .location
            .as_deref(),
        Some("/")
    );
}

#[tokio::test]
async fn new_admin_changes_password_then_enrolls_totp_and_gets_recovery_codes() {
    let (s, admin) = TestServer::with_admin().await;
    let mut a = s.login(&admin).await;
    let p = a
        .post(
            "/settings/users",
            &[
                ("login_id", "yamada"),
                ("display_name", "山田 花子"),
                ("role", "security_officer"),
                ("password", "shoki-password-tsuyoi-42"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);

    let mut c = s.client();
    let p = c.login_password("yamada", "shoki-password-tsuyoi-42").await;
    assert_eq!(
        p.location.as_deref(),
        Some("/account/password"),
        "initial password must be changed"
    );
    assert_eq!(
        c.get("/ledger").await.location.as_deref(),
        Some("/account/password")
    );
    c.get("/account/password").await;
    // Reusing the same password is refused.
    let p = c
        .post(
            "/account/password",
            &[
                ("current_password", "shoki-password-tsuyoi-42"),
                ("new_password", "shoki-password-tsuyoi-42"),
                ("new_password_confirm", "shoki-password-tsuyoi-42"),
            ],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("PWD0007"), "{}", p.body);
    let p = c
        .post(
            "/account/password",
            &[
                ("current_password", "shoki-password-tsuyoi-42"),
                ("new_password", "aoi-sora-to-shiroi-kumo-9"),
                ("new_password_confirm", "aoi-sora-to-shiroi-kumo-9"),
            ],
        )
        .await;
    assert_eq!(
        p.location.as_deref(),
        Some("/account/two-factor"),
        "security officers must enrol 2FA"
    );
    let p = c.get("/account/two-factor").await;
    let secret = between(&p.body, "name=\"secret\" value=\"", "\"");
    let code = c.totp(&secret, "yamada");
    let p = c
        .post(
            "/account/two-factor",
            &[("secret", &secret), ("code", &code)],
        )
        .await;
    assert_eq!(p.status, 200);
    let codes: Vec<String> = p
        .body
        .match_indices("<li>")
        .map(|(i, _)| between(&p.body[i..], "<li>", "</li>"))
        .collect();
    assert_eq!(codes.len(), 10);
    assert_eq!(c.get("/").await.status, 200);

    // A recovery code works once as a second factor.
    let mut d = s.client();
    d.login_password("yamada", "aoi-sora-to-shiroi-kumo-9")
        .await;
    d.get("/login/totp").await;
    assert_eq!(
        d.post("/login/totp", &[("code", &codes[0])])
            .await
            .location
            .as_deref(),
        Some("/")
    );
    let mut e = s.client();
    e.login_password("yamada", "aoi-sora-to-shiroi-kumo-9")
        .await;
    e.get("/login/totp").await;
    assert_eq!(
        e.post("/login/totp", &[("code", &codes[0])]).await.status,
        400
    );
}

fn between(s: &str, a: &str, b: &str) -> String {
    let i = s.find(a).unwrap() + a.len();
    let j = s[i..].find(b).unwrap();
    s[i..i + j].to_string()
}

#[tokio::test]
async fn idle_session_locks_and_asks_for_the_password() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    assert_eq!(c.get("/").await.status, 200);
    s.clock.advance_ms(11 * 60_000);
    let p = c.get("/ledger").await;
    assert_eq!(
        p.location.as_deref(),
        Some("/lock"),
        "idle for 11 minutes locks the screen"
    );
    let p = c.get("/lock").await;
    assert!(p.has("画面ロック中"));
    assert!(!p.has("PC-"), "the lock screen shows no content");
    let p = c.post("/lock", &[("password", "wrong-wrong-wrong")]).await;
    assert_eq!(p.status, 401);
    let p = c.post("/lock", &[("password", PASSWORD)]).await;
    assert_eq!(p.status, 303);
    assert_eq!(c.get("/").await.status, 200);
}

#[tokio::test]
async fn expired_session_goes_back_to_login() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    s.clock.advance_ms(13 * 3_600_000);
    let p = c.get("/").await;
    assert_eq!(p.location.as_deref(), Some("/login"));
    let p = c.get("/api/v1/me").await;
    assert_eq!(p.status, 401);
    assert!(p.has("AUTH0004"));
}

#[tokio::test]
async fn users_list_and_revoke_sessions() {
    let (s, admin) = TestServer::with_admin().await;
    let staff = s.add_user("sato", Role::Staff).await;
    let mut a = s.login(&admin).await;
    let mut b = s.login(&staff).await;
    let mut b2 = s.login(&staff).await;
    assert_eq!(b2.get("/").await.status, 200);

    // The staff member sees two sessions and ends the other one.
    let p = b.get("/account").await;
    let other = p
        .body
        .match_indices("/account/sessions/")
        .map(|(i, _)| between(&p.body[i..], "/account/sessions/", "/revoke"))
        .next()
        .unwrap();
    assert_eq!(
        b.post(&format!("/account/sessions/{other}/revoke"), &[])
            .await
            .status,
        303
    );
    assert_eq!(b2.get("/").await.location.as_deref(), Some("/login"));

    // The administrator sees everyone's sessions and can end the staff member's.
    let p = a.get("/settings/sessions").await;
    assert!(p.has("sato"));
    let hashes: Vec<String> = p
        .body
        .match_indices("/account/sessions/")
        .map(|(i, _)| between(&p.body[i..], "/account/sessions/", "/revoke"))
        .collect();
    for h in hashes {
        a.post(&format!("/account/sessions/{h}/revoke"), &[]).await;
    }
    assert_eq!(b.get("/").await.location.as_deref(), Some("/login"));
    // Staff cannot end someone else's session.
    let mut b3 = s.login(&staff).await;
    let mut a2 = s.login(&admin).await;
    let p = a2.get("/account").await;
    let admin_hash = p
        .body
        .match_indices("/account/sessions/")
        .map(|(i, _)| between(&p.body[i..], "/account/sessions/", "/revoke"))
        .next()
        .unwrap();
    assert_eq!(
        b3.post(&format!("/account/sessions/{admin_hash}/revoke"), &[])
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn require_two_factor_for_everyone() {
    let (s, admin) = TestServer::with_admin().await;
    let staff = s.add_user("ito", Role::Staff).await;
    let mut a = s.login(&admin).await;
    let p = a
        .post(
            "/settings/facility",
            &[("idle_lock_minutes", "10"), ("require_2fa_all", "on")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let mut c = s.client();
    let p = c.login_password(&staff.login_id, PASSWORD).await;
    assert_eq!(p.location.as_deref(), Some("/account/two-factor"));
}
