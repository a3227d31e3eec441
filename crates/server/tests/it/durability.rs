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
    spawn_with(dir, port, &[])
}

fn spawn_with(dir: &std::path::Path, port: u16, extra: &[&str]) -> Child {
    Command::new(BIN)
        .args([
            "serve",
            "--tls",
            "off",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(extra)
        .arg("--data-dir")
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

/// A facility set up from the command line in `dir/data`.
fn set_up(dir: &std::path::Path) -> std::path::PathBuf {
    let pwfile = dir.join("pw");
    std::fs::write(&pwfile, PW).unwrap();
    let data = dir.join("data");
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

    data
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
    let data = set_up(dir.path());
    // One account in the ledger, so that account reviews have something to cover.
    {
        use mamori_domain::ledger::{Account, DeliveryModel, InfoSystem, SystemCategory};
        let store = mamori_storage::Store::open_data_dir(&data).await.unwrap();
        let mut w = store.write().await.unwrap();
        let mut ehr = InfoSystem::blank(SystemCategory::Ehr, DeliveryModel::OnPremises);
        ehr.name = "電子カルテ".into();
        let ehr = mamori_storage::registry::insert(&mut w, &ehr)
            .await
            .unwrap();
        let a = Account::new(mamori_domain::SystemId(ehr), "yamada");
        mamori_storage::registry::insert(&mut w, &a).await.unwrap();
        w.commit().await.unwrap();
        store.close().await;
    }

    let mut secret = None;
    let mut client: Option<Client> = None;
    let mut acknowledged: Vec<String> = Vec::new();
    let mut incidents: Vec<String> = Vec::new();
    let mut reviews: Vec<String> = Vec::new();
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
        // Create users and incident records until the process is killed at a pseudo-random
        // moment.
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
                acknowledged.push(login.clone());
            }
            let title = format!("耐久テスト {login}");
            let p = c
                .post("/incidents", &[("title", &title), ("severity", "high")])
                .await;
            if p.status == 303 {
                incidents.push(title);
            }
            let title = format!("棚卸 {login}");
            let p = c.post("/accounts/reviews", &[("title", &title)]).await;
            if p.status == 303 {
                reviews.push(title);
            }
            i += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    assert!(!acknowledged.is_empty());
    assert!(!incidents.is_empty());
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
    let recorded: Vec<String> = store
        .open_incidents()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.title)
        .collect();
    for title in &incidents {
        assert!(
            recorded.contains(title),
            "acknowledged incident {title} lost"
        );
    }
    let opened: Vec<String> = store
        .account_reviews()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.title)
        .collect();
    for title in &reviews {
        assert!(opened.contains(title), "acknowledged review {title} lost");
    }
    assert!(!reviews.is_empty());
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
        "kill -9: {} acknowledged users, {} incidents and {} account reviews over 4 kills all present",
        acknowledged.len(),
        incidents.len(),
        reviews.len()
    );
}

/// Syslog over TCP under load from four senders, the server killed with SIGKILL at a
/// pseudo-random moment, three times. A sender's batch is acknowledged when the server closed
/// the connection after the sender half-closed it — and only when that close came before the
/// kill was issued (a dying process's sockets are closed by the kernel too, which proves
/// nothing). Every acknowledged batch is found whole afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_syslog_survives_kill_9_under_load() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if std::env::var("MAMORI_TEST_POSTGRES").is_ok() {
        eprintln!(
            "kill -9 test runs on the embedded SQLite store only; skipped in the PostgreSQL pass"
        );
        return;
    }
    const PER_BATCH: usize = 500;
    let dir = tempfile::tempdir().unwrap();
    let data = set_up(dir.path());
    let acked: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    for round in 0..3u64 {
        let port = free_port();
        let syslog_port = free_port();
        let mut child = spawn_with(
            &data,
            port,
            &["--syslog-tcp", &format!("127.0.0.1:{syslog_port}")],
        );
        wait_ready(port).await;
        let killed = Arc::new(AtomicBool::new(false));
        let mut senders = Vec::new();
        for conn in 0..4 {
            let killed = killed.clone();
            let acked = acked.clone();
            senders.push(tokio::spawn(async move {
                for b in 0.. {
                    let Ok(mut s) =
                        tokio::net::TcpStream::connect(("127.0.0.1", syslog_port)).await
                    else {
                        return;
                    };
                    let tag = format!("kill-r{round}-c{conn}-b{b}-m");
                    let mut data = Vec::with_capacity(PER_BATCH * 90);
                    for i in 0..PER_BATCH {
                        data.extend_from_slice(
                            format!("<134>1 2026-12-01T09:00:00+09:00 fw01 app - - - {tag}{i}\n")
                                .as_bytes(),
                        );
                    }
                    if s.write_all(&data).await.is_err() || s.shutdown().await.is_err() {
                        return;
                    }
                    let mut rest = Vec::new();
                    match s.read_to_end(&mut rest).await {
                        Ok(_) if !killed.load(Ordering::SeqCst) => acked.lock().unwrap().push(tag),
                        _ => return,
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(1500 + (round * 211) % 700)).await;
        killed.store(true, Ordering::SeqCst);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        for t in senders {
            let _ = t.await;
        }
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 3,
        "the senders got batches through: {}",
        acked.len()
    );
    // A last start catches the index up from the sealed log; then every acknowledged batch
    // must be there in full.
    let port = free_port();
    let mut child = spawn(&data, port);
    wait_ready(port).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let store = mamori_storage::Store::open_data_dir(&data).await.unwrap();
    for tag in &acked {
        let n = store
            .count_events(&mamori_storage::events::EventQuery {
                text: tag.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(n, PER_BATCH as i64, "acknowledged batch {tag} incomplete");
    }
    let indexed = store.indexed_through().await.unwrap();
    store.close().await;
    eprintln!(
        "kill -9 under syslog load: {} acknowledged batches of {PER_BATCH} all present ({indexed} events indexed in all)",
        acked.len()
    );
}
