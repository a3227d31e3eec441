//! Dev-only test kit: boots the real server in-process on port 0 over a fresh database
//! (SQLite in a temporary directory, or a new PostgreSQL database when
//! `MAMORI_TEST_POSTGRES=postgres://…` names a server) with a manual clock, and gives typed
//! helpers to log in and drive it over HTTP like a browser.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mamori_domain::UserId;
use mamori_domain::role::Role;
use mamori_server::config::{Config, Database, TlsMode};
use mamori_service::auth::{SetupInput, totp_for};
use mamori_service::{Argon2Params, ClientInfo, ManualClock, PasswordHasher, Services};
use mamori_storage::Store;
use mamori_storage::users::{self, NewUser};
use reqwest::redirect::Policy;
use sqlx::Connection;
use std::net::IpAddr;
use std::sync::Arc;

/// 2025-10-01 09:00 JST, the fixed start of every test clock.
pub const T0_MS: i64 = 1_759_276_800_000;

/// Password every fixture user gets.
pub const PASSWORD: &str = "kawa-no-nagare-shizuka-77";

/// Which database backs a test server.
pub fn backend_name() -> &'static str {
    if std::env::var("MAMORI_TEST_POSTGRES").is_ok() {
        "postgres"
    } else {
        "sqlite"
    }
}

/// A fresh, migrated store: SQLite in `dir`, or a new database on the PostgreSQL server.
/// Returns the store and, for PostgreSQL, its URL (to reopen it).
pub async fn fresh_store(dir: &std::path::Path) -> (Store, Option<String>) {
    match std::env::var("MAMORI_TEST_POSTGRES") {
        Ok(admin_url) => {
            sqlx::any::install_default_drivers();
            let name = format!("mamori_t_{}", rand::random::<u64>());
            let mut c = sqlx::AnyConnection::connect(&admin_url)
                .await
                .expect("connect to MAMORI_TEST_POSTGRES");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut c)
                .await
                .expect("create test database");
            c.close().await.ok();
            let base = admin_url
                .rsplit_once('/')
                .map(|(b, _)| b)
                .unwrap_or(&admin_url);
            let url = format!("{base}/{name}");
            (
                Store::open_url(&url).await.expect("open test database"),
                Some(url),
            )
        }
        Err(_) => (
            Store::open_data_dir(dir).await.expect("open sqlite store"),
            None,
        ),
    }
}

/// A running server over a fresh database.
pub struct TestServer {
    pub url: String,
    pub svc: Services,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
    /// Where the syslog listeners the configuration asked for are bound.
    pub syslog: mamori_server::collect::SyslogBound,
    db_url: Option<String>,
    server: Option<mamori_server::Server>,
    configure: fn(&mut Config),
}

/// A fixture user.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: UserId,
    pub login_id: String,
    pub role: Role,
    pub totp_secret: Option<String>,
}

impl TestServer {
    /// Starts a server on 127.0.0.1:0 (plain HTTP on loopback).
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Starts a server whose configuration `configure` changes first (kept across restarts).
    pub async fn start_with(configure: fn(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let (store, db_url) = fresh_store(dir.path()).await;
        let clock = Arc::new(ManualClock::new(T0_MS));
        Self::boot(dir, db_url, store, clock, configure, 0).await
    }

    async fn boot(
        dir: tempfile::TempDir,
        db_url: Option<String>,
        store: Store,
        clock: Arc<ManualClock>,
        configure: fn(&mut Config),
        port: u16,
    ) -> TestServer {
        let hasher = PasswordHasher::new(Argon2Params::FOR_TESTS, 2).unwrap();
        let sealer = mamori_service::sealing::Sealer::open(&dir.path().join("seal")).unwrap();
        // The sealed event log, as the server holds it (`DATA/events`).
        let events = mamori_service::logs::open_event_log(dir.path()).unwrap();
        let svc = Services::new(store, clock.clone(), hasher)
            .with_sealer(sealer)
            .with_event_log(events);
        let mut cfg = Self::config(&dir);
        cfg.listen.set_port(port);
        configure(&mut cfg);
        let server = mamori_server::start(&cfg, svc.clone()).await.unwrap();
        let scheme = match cfg.tls {
            TlsMode::Off => "http",
            _ => "https",
        };
        TestServer {
            syslog: server.syslog.clone(),
            // 127.0.0.1 rather than `localhost`, so that a client bound to 127.0.0.2 can reach it.
            url: format!("{scheme}://127.0.0.1:{}", server.addr.port()),
            svc,
            clock,
            dir,
            db_url,
            server: Some(server),
            configure,
        }
    }

    fn config(dir: &tempfile::TempDir) -> Config {
        Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_path_buf(),
            database: Database::Embedded,
            tls: TlsMode::Off,
            tls_next_cert: None,
            argon2: Argon2Params::FOR_TESTS,
            max_concurrent_hashes: 2,
            max_body_bytes: 64 * 1024,
            webauthn_rp_id: None,
            webauthn_origin: None,
            seal_retention_days: None,
            reports_font_file: None,
            // Off unless a test turns it on: a check that runs by itself when a test moves the
            // clock would add audit events at unpredictable moments.
            seal_daily_verification: false,
            syslog: mamori_server::config::SyslogListen::default(),
            clock_tolerance_ms: 60_000,
            ntp_server: None,
            notify: mamori_server::config::RawNotify::default()
                .validate()
                .unwrap(),
            // Off unless a test turns it on, like the daily verification: alerts raised in the
            // background would surprise tests that count alerts or audit events.
            detect: mamori_server::config::DetectConfig {
                enabled: false,
                rules: Vec::new(),
            },
            directory: None,
            log: "warn".into(),
        }
    }

    /// Stops the server, closes the store, and starts a new process-like instance over the
    /// same database (same clock), as after a restart.
    pub async fn restart(self) -> TestServer {
        let configure = self.configure;
        self.restart_on(configure, 0).await
    }

    /// [`TestServer::restart`] with another configuration, on the same address (what clients
    /// enrolled before see as the same server, with its new settings: a renewed certificate).
    pub async fn restart_with(self, configure: fn(&mut Config)) -> TestServer {
        let port = self
            .url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        self.restart_on(configure, port).await
    }

    async fn restart_on(mut self, configure: fn(&mut Config), port: u16) -> TestServer {
        if let Some(s) = self.server.take() {
            s.shutdown().await.unwrap();
        }
        self.svc.store.close().await;
        let store = match &self.db_url {
            Some(u) => Store::open_url(u).await.unwrap(),
            None => Store::open_data_dir(self.dir.path()).await.unwrap(),
        };
        let TestServer {
            dir, db_url, clock, ..
        } = self;
        Self::boot(dir, db_url, store, clock, configure, port).await
    }

    /// Starts a server and completes setup (a clinic) with an administrator `admin`
    /// whose TOTP is enrolled.
    pub async fn with_admin() -> (TestServer, TestUser) {
        let s = TestServer::start().await;
        let admin = s.setup_admin().await;
        (s, admin)
    }

    pub async fn setup_admin(&self) -> TestUser {
        let id = self
            .svc
            .setup(
                &SetupInput {
                    kind: mamori_domain::facility::FacilityKind::Clinic,
                    facility_name: "さくら内科クリニック".into(),
                    beds: Some(19),
                    admin_login: "admin".into(),
                    admin_name: "院長".into(),
                    admin_password: PASSWORD.into(),
                },
                &ClientInfo::new("127.0.0.1", "testkit"),
            )
            .await
            .unwrap();
        let secret = mamori_service::auth::new_totp_secret();
        self.svc.enroll_totp_unchecked(id, &secret).await.unwrap();
        TestUser {
            id,
            login_id: "admin".into(),
            role: Role::Admin,
            totp_secret: Some(secret),
        }
    }

    /// Adds a user with [`PASSWORD`], no forced change, and TOTP when the role requires it.
    pub async fn add_user(&self, login_id: &str, role: Role) -> TestUser {
        let hash = self.svc.hasher.hash(PASSWORD).await.unwrap();
        let vendor = if role == Role::Vendor {
            let mut w = self.svc.store.write().await.unwrap();
            let name = format!("テスト電子カルテ株式会社（{login_id}）");
            let v = mamori_storage::registry::insert(
                &mut w,
                &mamori_domain::ledger::Vendor {
                    services: "電子カルテ".into(),
                    phone: "03-0000-0000".into(),
                    email: "support@example.jp".into(),
                    remote_maintenance: Some(true),
                    ..mamori_domain::ledger::Vendor::named(&name)
                },
            )
            .await
            .unwrap();
            w.commit().await.unwrap();
            Some(mamori_domain::VendorId(v))
        } else {
            None
        };
        let mut w = self.svc.store.write().await.unwrap();
        let id = users::insert_user(
            &mut w,
            &NewUser {
                login_id,
                display_name: login_id,
                role,
                password_hash: &hash,
                must_change_password: false,
                vendor_id: vendor,
                now_ms: self.clock.now(),
            },
        )
        .await
        .unwrap();
        w.commit().await.unwrap();
        let totp_secret = if role.requires_two_factor() {
            let s = mamori_service::auth::new_totp_secret();
            self.svc.enroll_totp_unchecked(id, &s).await.unwrap();
            Some(s)
        } else {
            None
        };
        TestUser {
            id,
            login_id: login_id.into(),
            role,
            totp_secret,
        }
    }

    /// A browser-like client (cookies, no automatic redirects) from 127.0.0.1.
    pub fn client(&self) -> Client {
        self.client_from("127.0.0.1".parse().unwrap())
    }

    /// A client whose connections come from `source` (any 127.x address works on Linux).
    pub fn client_from(&self, source: IpAddr) -> Client {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .local_address(source)
            .build()
            .unwrap();
        Client {
            http,
            base: self.url.clone(),
            clock: self.clock.clone(),
            csrf: None,
        }
    }

    /// A client logged in fully as `user`.
    pub async fn login(&self, user: &TestUser) -> Client {
        let mut c = self.client();
        c.login(user).await;
        c
    }

    /// Stops the server gracefully.
    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.unwrap();
        }
    }
}

trait Now {
    fn now(&self) -> i64;
}

impl Now for Arc<ManualClock> {
    fn now(&self) -> i64 {
        use mamori_service::Clock;
        self.now_ms()
    }
}

/// A response with its body read.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    /// The `_csrf` value of the first form on the page.
    pub fn csrf(&self) -> Option<String> {
        let i = self.body.find("name=\"_csrf\" value=\"")?;
        let rest = &self.body[i + 20..];
        Some(rest[..rest.find('"')?].to_string())
    }

    pub fn has(&self, needle: &str) -> bool {
        self.body.contains(needle)
    }
}

/// A browser-like HTTP client.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    clock: Arc<ManualClock>,
    /// The CSRF token of the last page that had one.
    pub csrf: Option<String>,
}

impl Client {
    /// A client for a server started elsewhere (e.g. the real binary); TOTP uses the wall clock.
    pub fn for_url(base: &str) -> Client {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .build()
            .unwrap();
        #[allow(clippy::disallowed_methods)]
        let now = i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap();
        Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            clock: Arc::new(ManualClock::new(now)),
            csrf: None,
        }
    }

    async fn page(&mut self, r: reqwest::Response) -> Page {
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = r.text().await.unwrap_or_default();
        let p = Page {
            status,
            location,
            body,
        };
        if let Some(t) = p.csrf() {
            self.csrf = Some(t);
        }
        p
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        self.page(r).await
    }

    /// Posts a form with the current CSRF token added.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.csrf.clone().unwrap_or_default();
        let mut form: Vec<(&str, &str)> = vec![("_csrf", token.as_str())];
        form.extend_from_slice(fields);
        self.post_raw(path, &form).await
    }

    /// Posts exactly these fields (no CSRF token added).
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .form(fields)
            .send()
            .await
            .unwrap();
        self.page(r).await
    }

    /// Posts a raw body with extra headers (e.g. a forwarder's `Authorization`).
    pub async fn post_with_headers(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Page {
        let mut req = self.http.post(format!("{}{path}", self.base)).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        self.page(r).await
    }

    /// Posts a raw body with a content type.
    pub async fn post_body(&mut self, path: &str, content_type: &str, body: Vec<u8>) -> Page {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        self.page(r).await
    }

    /// Posts a `multipart/form-data` form like a browser: the current CSRF token first, then
    /// `fields`, then `file` as (field name, file name, bytes) when given.
    pub async fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &str, Vec<u8>)>,
    ) -> Page {
        let mut form =
            reqwest::multipart::Form::new().text("_csrf", self.csrf.clone().unwrap_or_default());
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        if let Some((field, name, bytes)) = file {
            form = form.part(
                field.to_string(),
                reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
            );
        }
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .multipart(form)
            .send()
            .await
            .unwrap();
        self.page(r).await
    }

    /// The current TOTP code of `secret` at the server's clock.
    pub fn totp(&self, secret: &str, login_id: &str) -> String {
        use mamori_service::Clock;
        let t = totp_for(secret, login_id).unwrap();
        t.generate(u64::try_from(self.clock.now_ms() / 1000).unwrap())
    }

    /// Password step only.
    pub async fn login_password(&mut self, login_id: &str, password: &str) -> Page {
        self.get("/login").await;
        self.post("/login", &[("login_id", login_id), ("password", password)])
            .await
    }

    /// Full login (password and, when enrolled, TOTP); panics if it does not land on a page.
    pub async fn login(&mut self, user: &TestUser) {
        let p = self.login_password(&user.login_id, PASSWORD).await;
        assert_eq!(
            p.status, 303,
            "login of {} failed: {}",
            user.login_id, p.body
        );
        if p.location.as_deref() == Some("/login/totp") {
            // A TOTP code is accepted once: move to the next 30-second step first.
            self.clock.advance_ms(30_000);
            self.get("/login/totp").await;
            let code = self.totp(user.totp_secret.as_deref().unwrap(), &user.login_id);
            let p = self.post("/login/totp", &[("code", &code)]).await;
            assert_eq!(
                p.status, 303,
                "TOTP of {} failed: {}",
                user.login_id, p.body
            );
        }
        // Pick up the session's CSRF token.
        self.get("/account").await;
    }
}
