//! Every route × every role: the route table says who may do what, and the server agrees.

use mamori_domain::role::Role;
use mamori_server::web::routes::{Access, ROUTES};
use mamori_testkit::TestServer;

#[tokio::test]
async fn every_route_with_every_role() {
    let (s, admin) = TestServer::with_admin().await;
    let mut users = vec![admin];
    for (login, role) in [
        ("officer", Role::SecurityOfficer),
        ("auditor", Role::Auditor),
        ("staff", Role::Staff),
        ("vendor", Role::Vendor),
    ] {
        users.push(s.add_user(login, role).await);
    }
    s.svc.seal_pending().await.unwrap();
    let mut checked = 0;
    for user in &users {
        let mut c = s.login(user).await;
        for spec in ROUTES {
            let Access::Needs(perm) = spec.access else {
                continue;
            };
            let allowed = user.role.permits(perm);
            let p = if spec.method == "GET" {
                c.get(spec.example).await
            } else {
                c.post(spec.example, &[]).await
            };
            if allowed {
                assert_ne!(
                    p.status, 403,
                    "{:?} should reach {} {}",
                    user.role, spec.method, spec.example
                );
                assert!(
                    p.status < 500,
                    "{:?} {} {} → {}",
                    user.role,
                    spec.method,
                    spec.example,
                    p.status
                );
                if spec.method == "GET" && !spec.path.contains('{') {
                    assert_eq!(p.status, 200, "{:?} GET {}", user.role, spec.example);
                }
            } else {
                assert_eq!(
                    p.status, 403,
                    "{:?} must not reach {} {}",
                    user.role, spec.method, spec.example
                );
                assert!(p.has("AUTH0006"));
            }
            checked += 1;
        }
    }
    assert!(checked >= 5 * 20, "checked {checked}");
}

#[tokio::test]
async fn anonymous_requests_are_sent_to_login() {
    let (s, _admin) = TestServer::with_admin().await;
    let mut c = s.client();
    for spec in ROUTES {
        if spec.access == Access::Public {
            continue;
        }
        let p = if spec.method == "GET" {
            c.get(spec.example).await
        } else {
            c.post_raw(spec.example, &[]).await
        };
        if spec.example.starts_with("/api/") {
            assert_eq!(p.status, 401, "{} {}", spec.method, spec.example);
        } else {
            assert!(
                p.location.as_deref() == Some("/login") || p.status == 403,
                "{} {} → {} {:?}",
                spec.method,
                spec.example,
                p.status,
                p.location
            );
        }
    }
}

#[tokio::test]
async fn an_auditor_changes_nothing() {
    let (s, _admin) = TestServer::with_admin().await;
    let auditor = s.add_user("kansa", Role::Auditor).await;
    let before_users = s.svc.store.users().await.unwrap();
    let before_facility = s.svc.store.facility().await.unwrap();
    let mut c = s.login(&auditor).await;
    for spec in ROUTES.iter().filter(|r| r.method == "POST") {
        let Access::Needs(perm) = spec.access else {
            continue;
        };
        if auditor.role.permits(perm) {
            continue;
        }
        let p = c
            .post(
                spec.example,
                &[
                    ("idle_lock_minutes", "1"),
                    ("login_id", "evil"),
                    ("display_name", "x"),
                    ("role", "admin"),
                    ("password", "a-very-long-password-1"),
                ],
            )
            .await;
        assert_eq!(p.status, 403, "{}", spec.example);
    }
    assert_eq!(s.svc.store.users().await.unwrap(), before_users);
    assert_eq!(s.svc.store.facility().await.unwrap(), before_facility);
    // The auditor reads everything, including the audit trail.
    for path in [
        "/",
        "/ledger",
        "/accounts",
        "/logs",
        "/logs/verify",
        "/settings",
    ] {
        assert_eq!(c.get(path).await.status, 200, "{path}");
    }
}
