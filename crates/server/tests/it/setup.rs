//! First-run setup in the browser and its bad inputs.

use mamori_testkit::TestServer;

#[tokio::test]
async fn setup_once_with_field_errors() {
    let s = TestServer::start().await;
    let mut c = s.client();
    let p = c.get("/").await;
    assert_eq!(p.location.as_deref(), Some("/login"));
    let p = c.get("/login").await;
    assert_eq!(p.location.as_deref(), Some("/setup"));
    let p = c.get("/setup").await;
    assert_eq!(p.status, 200);
    let good = [
        ("kind", "clinic"),
        ("facility_name", "みどり診療所"),
        ("beds", "19"),
        ("admin_login", "incho"),
        ("admin_name", "院長 太郎"),
        ("password", "midori-no-mori-ni-kaze-3"),
        ("password_confirm", "midori-no-mori-ni-kaze-3"),
    ];
    let with = |k: &str, v: &'static str| -> Vec<(&'static str, &'static str)> {
        good.iter()
            .map(|(a, b)| if *a == k { (*a, v) } else { (*a, *b) })
            .collect()
    };
    for (field, value, code) in [
        ("facility_name", "", "FAC0001"),
        ("beds", "-3", "FAC0003"),
        ("beds", "many", "FAC0003"),
        ("kind", "castle", "FAC0005"),
        ("admin_login", "a b", "USR0002"),
        ("password", "short", "PWD0011"),
    ] {
        let p = c.post("/setup", &with(field, value)).await;
        assert_eq!(p.status, 400, "{field}={value}");
        assert!(p.has(code), "{field}={value}: expected {code}");
        assert!(!s.svc.is_set_up().await.unwrap(), "nothing written");
    }
    let weak = [
        ("password", "password1234567"),
        ("password_confirm", "password1234567"),
    ];
    let mut form = with("x", "");
    form.retain(|(k, _)| *k != "password" && *k != "password_confirm");
    form.extend_from_slice(&weak);
    let p = c.post("/setup", &form).await;
    assert!(p.has("PWD0004"), "weak password refused");
    assert_eq!(s.svc.store.audit_count().await.unwrap(), 0);

    let p = c.post("/setup", &good).await;
    assert_eq!(p.location.as_deref(), Some("/login?ok=setup_done"));
    let f = s.svc.store.facility().await.unwrap().unwrap();
    assert_eq!(f.name, "みどり診療所");
    assert_eq!(f.beds, Some(19));

    // A second setup is refused and changes nothing.
    let p = c.get("/setup").await;
    assert_eq!(p.location.as_deref(), Some("/login"));
    let p = c
        .post("/setup", &with("facility_name", "乗っ取り病院"))
        .await;
    assert_eq!(p.status, 409);
    assert!(p.has("SET0001"));
    assert_eq!(
        s.svc.store.facility().await.unwrap().unwrap().name,
        "みどり診療所"
    );
    assert_eq!(s.svc.store.users().await.unwrap().len(), 1);
}
