//! Bad requests: CSRF, content types, oversize bodies, unknown paths. Each gets a clear error
//! code, and nothing is written.

use mamori_domain::role::Role;
use mamori_testkit::TestServer;

#[tokio::test]
async fn state_changes_need_the_csrf_token() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    let before = s.svc.store.audit_count().await.unwrap();
    let users = s.svc.store.users().await.unwrap().len();
    let p = c
        .post_raw(
            "/settings/users",
            &[
                ("login_id", "x1"),
                ("display_name", "x"),
                ("role", "staff"),
                ("password", "a-very-long-password-1"),
            ],
        )
        .await;
    assert_eq!(p.status, 403);
    assert!(p.has("CSRF0001"));
    let p = c
        .post_raw(
            "/settings/users",
            &[
                ("_csrf", "forged"),
                ("login_id", "x1"),
                ("display_name", "x"),
                ("role", "staff"),
                ("password", "a-very-long-password-1"),
            ],
        )
        .await;
    assert_eq!(p.status, 403);
    assert_eq!(
        s.svc.store.users().await.unwrap().len(),
        users,
        "nothing written"
    );
    assert_eq!(s.svc.store.audit_count().await.unwrap(), before);
}

#[tokio::test]
async fn login_form_needs_its_csrf_cookie() {
    let (s, _admin) = TestServer::with_admin().await;
    let mut c = s.client();
    let p = c
        .post_raw("/login", &[("login_id", "admin"), ("password", "x")])
        .await;
    assert_eq!(p.status, 403);
    assert!(p.has("CSRF0001"));
}

#[tokio::test]
async fn cross_origin_posts_are_refused() {
    let (s, admin) = TestServer::with_admin().await;
    let c = s.login(&admin).await;
    let token = c.csrf.clone().unwrap();
    let r = c
        .http
        .post(format!("{}/settings/facility", c.base))
        .header("origin", "https://evil.example")
        .form(&[("_csrf", token.as_str()), ("idle_lock_minutes", "5")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await.unwrap().contains("CSRF0002"));
}

#[tokio::test]
async fn wrong_content_type_and_oversize_bodies() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    let p = c
        .post_body(
            "/settings/facility",
            "application/json",
            br#"{"idle_lock_minutes":5}"#.to_vec(),
        )
        .await;
    assert_eq!(p.status, 415);
    assert!(p.has("REQ0002"));
    let token = c.csrf.clone().unwrap();
    let mut big = format!("_csrf={token}&idle_lock_minutes=5&pad=").into_bytes();
    big.extend(std::iter::repeat_n(b'a', 200 * 1024));
    let p = c
        .post_body(
            "/settings/facility",
            "application/x-www-form-urlencoded",
            big,
        )
        .await;
    assert_eq!(p.status, 413);
    assert!(p.has("REQ0001"));
    let p = c
        .post("/settings/facility", &[("idle_lock_minutes", "999")])
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("FAC0004"));
    let p = c
        .post("/settings/facility", &[("idle_lock_minutes", "ten")])
        .await;
    assert_eq!(p.status, 400);
    assert_eq!(
        s.svc
            .store
            .facility()
            .await
            .unwrap()
            .unwrap()
            .settings
            .idle_lock_minutes,
        10,
        "nothing written"
    );
}

#[tokio::test]
async fn unknown_pages_and_bad_ids() {
    let (s, admin) = TestServer::with_admin().await;
    let staff = s.add_user("staff1", Role::Staff).await;
    let mut c = s.login(&admin).await;
    let p = c.get("/no/such/page").await;
    assert_eq!(p.status, 404);
    assert!(p.has("GEN0404"));
    let p = c.post("/settings/users/not-a-number/disable", &[]).await;
    assert_eq!(p.status, 404);
    let p = c
        .post(&format!("/settings/users/{}/disable", admin.id), &[])
        .await;
    assert_eq!(p.status, 400, "nobody disables themselves");
    let p = c
        .post(&format!("/settings/users/{}/disable", staff.id), &[])
        .await;
    assert_eq!(p.status, 303);
    let mut d = s.client();
    assert_eq!(
        d.login_password("staff1", mamori_testkit::PASSWORD)
            .await
            .status,
        401,
        "a disabled user cannot log in"
    );
}

#[tokio::test]
async fn healthz_and_security_headers() {
    let s = TestServer::start().await;
    let mut c = s.client();
    let p = c.get("/healthz").await;
    assert_eq!(p.status, 200);
    assert_eq!(p.body, r#"{"status":"ok"}"#);
    let r = c
        .http
        .get(format!("{}/login", c.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        303,
        "before setup, login goes to setup"
    );
    let h = r.headers();
    assert!(h.get("content-security-policy").is_some());
    assert_eq!(h.get("x-frame-options").unwrap(), "DENY");
}
