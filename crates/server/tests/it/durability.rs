//! Anything acknowledged as stored survives `kill -9` of the real binary.

use mamori_testkit::Client;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mamori");
const PW: &str = "tsuyoi-kanri-password-2025";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(dir: &std::path::Path, port: u16) -> Child {
    Command::new(BIN)
        .args([
            "serve",
            "--tls",
            "off",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .env("MAMORI_AUTH__ARGON2_MEMORY_KIB", "8192")
        .env("MAMORI_AUTH__ARGON2_ITERATIONS", "1")
        .env_remove("MAMORI_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server did not start");
}

fn totp_now(secret: &str) -> String {
    let t = mamori_service::auth::totp_for(secret, "admin").unwrap();
    t.generate_current().unwrap()
}

async fn admin_client(port: u16, secret: &mut Option<String>) -> Client {
    let mut c = Client::for_url(&format!("http://127.0.0.1:{port}"));
    c.get("/login").await;
    let p = c
        .post("/login", &[("login_id", "admin"), ("password", PW)])
        .await;
    match p.location.as_deref() {
        Some("/account/two-factor") => {
            let page = c.get("/account/two-factor").await;
            let i = page.body.find("name=\"secret\" value=\"").unwrap() + 21;
            let s = page.body[i..i + page.body[i..].find('"').unwrap()].to_string();
            let p = c
                .post(
                    "/account/two-factor",
                    &[("secret", &s), ("code", &totp_now(&s))],
                )
                .await;
            assert_eq!(p.status, 200, "{}", p.body);
            *secret = Some(s);
        }
        Some("/login/totp") => {
            c.get("/login/totp").await;
            let p = c
                .post(
                    "/login/totp",
                    &[("code", &totp_now(secret.as_deref().unwrap()))],
                )
                .await;
            assert_eq!(p.status, 303, "{}", p.body);
        }
        other => panic!("unexpected login result {other:?}: {}", p.body),
    }
    c.get("/settings").await;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    if std::env::var("MAMORI_TEST_POSTGRES").is_ok() {
        eprintln!(
            "kill -9 test runs on the embedded SQLite store only (PostgreSQL's durability is its own); skipped in the PostgreSQL pass"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pwfile = dir.path().join("pw");
    std::fs::write(&pwfile, PW).unwrap();
    let data = dir.path().join("data");
    let out = Command::new(BIN)
        .args([
            "setup",
            "--facility-kind",
            "clinic",
            "--facility-name",
            "耐久テスト医院",
            "--beds",
            "0",
            "--admin-login",
            "admin",
            "--admin-name",
            "管理者",
            "--admin-password-file",
        ])
        .arg(&pwfile)
        .arg("--data-dir")
        .arg(&data)
        .env("MAMORI_AUTH__ARGON2_MEMORY_KIB", "8192")
        .env("MAMORI_AUTH__ARGON2_ITERATIONS", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "setup failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut secret = None;
    let mut client: Option<Client> = None;
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..4u64 {
        let port = free_port();
        let mut child = spawn(&data, port);
        wait_ready(port).await;
        // Log in once (a TOTP code is accepted only once); the session lives in the database and
        // survives the kills, so later rounds reuse it against the restarted server.
        let c = match client.as_mut() {
            Some(c) => {
                c.base = format!("http://127.0.0.1:{port}");
                c
            }
            None => client.insert(admin_client(port, &mut secret).await),
        };
        // Create users until the process is killed at a pseudo-random moment.
        let kill_after = Duration::from_millis(150 + (round * 137) % 400);
        let start = Instant::now();
        let mut i = 0;
        while start.elapsed() < kill_after {
            let login = format!("u{round}x{i}");
            let p = c
                .post(
                    "/settings/users",
                    &[
                        ("login_id", &login),
                        ("display_name", "耐久"),
                        ("role", "staff"),
                        ("password", "shoki-no-password-desu-1"),
                    ],
                )
                .await;
            if p.status == 303 {
                acknowledged.push(login);
            }
            i += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    assert!(!acknowledged.is_empty());
    // Every acknowledged user is there after the last kill, and the audit trail is intact.
    let store = mamori_storage::Store::open_data_dir(&data).await.unwrap();
    let users: Vec<String> = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.login_id)
        .collect();
    for login in &acknowledged {
        assert!(users.contains(login), "acknowledged user {login} lost");
    }
    let check = store.verify_audit_trail().await.unwrap();
    assert_eq!(check.broken, None);
    store.close().await;
    let out = Command::new(BIN)
        .args(["audit-verify", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    eprintln!(
        "kill -9: {} acknowledged users over 4 kills all present",
        acknowledged.len()
    );
}
