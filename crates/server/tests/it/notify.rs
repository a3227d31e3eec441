//! Alert notifications against real receivers: a real SMTP server (aiosmtpd, writing a
//! Maildir), an HTTP webhook and a syslog collector over UDP; escalation of an alert nobody
//! took; a failing channel is retried and shown on the alert's page.

use mamori_domain::alert::AlertLevel;
use mamori_server::notify::{self, NotifyConfig, SmtpConfig, SmtpSecurity, SyslogForward};
use mamori_service::alerts::Detection;
use mamori_testkit::TestServer;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The SMTP server's process, stopped when dropped.
struct Smtp(std::process::Child);

impl Drop for Smtp {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// A real SMTP server on loopback writing what it receives to `maildir`, or `None` (with a
/// message) when aiosmtpd is not installed outside CI.
fn smtp_server(maildir: &std::path::Path) -> Option<(Smtp, u16)> {
    let have = std::process::Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        assert!(
            std::env::var_os("CI").is_none(),
            "aiosmtpd is needed under CI (pip install aiosmtpd)"
        );
        eprintln!("skipped: aiosmtpd is not installed (pip install aiosmtpd)");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Smtp(
        std::process::Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .spawn()
            .unwrap(),
    );
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some((child, port));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("aiosmtpd did not start");
}

/// The messages in the Maildir, as (to, subject, text) decoded by Python's email package.
fn mails(maildir: &std::path::Path) -> Vec<(String, String, String)> {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import mailbox,sys,json\n\
             from email import policy\n\
             from email.parser import BytesParser\n\
             r=[]\n\
             for k,m in sorted(mailbox.Maildir(sys.argv[1], create=False).items(), key=lambda kv: kv[1]['Date'] or ''):\n\
             \x20   e=BytesParser(policy=policy.default).parsebytes(m.as_bytes())\n\
             \x20   r.append([str(e['To']), str(e['Subject']), e.get_content()])\n\
             print(json.dumps(r))",
        )
        .arg(maildir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A webhook receiver at `/hook` that keeps what is posted to it.
fn hook_app(keep: Arc<Mutex<Vec<serde_json::Value>>>) -> axum::Router {
    axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<serde_json::Value>| {
            let keep = keep.clone();
            async move {
                keep.lock().unwrap().push(v);
                "ok"
            }
        }),
    )
}

async fn webhook() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let got: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let app = hook_app(got.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, got)
}

fn detection(level: AlertLevel, actor: &str) -> Detection {
    Detection {
        rule_id: "mamori-break-glass".into(),
        title: "非常時アカウントの使用".into(),
        level,
        group: Vec::new(),
        host: "ehr-srv01".into(),
        actor: Some(actor.into()),
        at_ms: 1_759_276_800_000,
        seal_index: None,
    }
}

#[tokio::test]
async fn alerts_are_mailed_posted_and_forwarded_and_escalated_when_nobody_takes_them() {
    let maildir = tempfile::tempdir().unwrap();
    let Some((_smtp, port)) = smtp_server(&maildir.path().join("mail")) else {
        return;
    };
    let (hook, posted) = webhook().await;
    let posted_url = hook.clone();
    let syslog = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let cfg = NotifyConfig {
        smtp: Some(SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            security: SmtpSecurity::None,
            from: "mamori@clinic.example".into(),
            to: vec!["it@clinic.example".into()],
            escalate_to: vec!["director@clinic.example".into()],
            user: None,
            password: None,
        }),
        webhook_url: Some(hook),
        syslog: Some(SyslogForward::Udp(syslog.local_addr().unwrap())),
        min_level: AlertLevel::High,
        quiet_hours: None,
        escalate_after_ms: Some(30 * 60_000),
        base_url: Some("https://mamori.clinic.example".into()),
        every: Duration::from_secs(1),
        ca_pem: None,
    };
    let (s, admin) = TestServer::with_admin().await;
    s.svc
        .raise_alerts(&[
            detection(AlertLevel::Critical, "hijou01"),
            detection(AlertLevel::Low, "sato"),
        ])
        .await
        .unwrap();
    // The critical alert on three channels; the low one is below the level notified.
    assert_eq!(notify::round(&s.svc, &cfg).await.unwrap(), 3);
    assert_eq!(notify::round(&s.svc, &cfg).await.unwrap(), 0, "sent once");
    let m = mails(&maildir.path().join("mail"));
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].0, "it@clinic.example");
    assert!(
        m[0].1.contains("[重大度 重大] 非常時アカウントの使用"),
        "{}",
        m[0].1
    );
    assert!(
        m[0].2.contains("https://mamori.clinic.example/alerts/1") && m[0].2.contains("hijou01"),
        "{}",
        m[0].2
    );
    let p = posted.lock().unwrap().clone();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0]["alert"]["title"], "非常時アカウントの使用");
    let mut buf = [0u8; 2048];
    let n = tokio::time::timeout(Duration::from_secs(5), syslog.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let line = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(line.starts_with("<162>1 "), "local4.crit: {line}");
    assert!(line.contains("[alert@32473 id=\"1\""), "{line}");

    // Nobody takes it for half an hour: the escalation list hears about it, once.
    s.clock.advance_ms(31 * 60_000);
    assert_eq!(notify::round(&s.svc, &cfg).await.unwrap(), 1);
    assert_eq!(notify::round(&s.svc, &cfg).await.unwrap(), 0);
    let m = mails(&maildir.path().join("mail"));
    assert_eq!(m.len(), 2, "{m:?}");
    let esc = m.iter().find(|x| x.0 == "director@clinic.example").unwrap();
    assert!(esc.1.contains("[未対応のまま]"), "{}", esc.1);

    // A webhook that is down: the attempt is kept with its error and retried later.
    s.svc
        .raise_alerts(&[detection(AlertLevel::High, "ito")])
        .await
        .unwrap();
    let down = NotifyConfig {
        webhook_url: Some("http://127.0.0.1:9/hook".into()),
        smtp: None,
        syslog: None,
        ..cfg.clone()
    };
    assert_eq!(notify::round(&s.svc, &down).await.unwrap(), 0);
    let notes = s.svc.store.alert_notifications(3).await.unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!((notes[0].attempts, notes[0].sent_ms), (1, None));
    assert!(!notes[0].error.is_empty());
    let mut c = s.login(&admin).await;
    let page = c.get("/alerts/3").await;
    assert!(page.has("再送待ち") && page.has("Webhook"), "{}", page.body);
    let page = c.get("/alerts/1").await;
    assert!(
        page.has("送信済み") && page.has("メール（エスカレーション先）"),
        "{}",
        page.body
    );

    // An alert raised while nothing was set up (alert 4), and a day later a channel set up
    // anew: it announces the new alert 5, not the day-old one, nor the low alert 2 again.
    s.svc
        .raise_alerts(&[detection(AlertLevel::High, "kato")])
        .await
        .unwrap();
    s.clock.advance_ms(25 * 3_600_000);
    s.svc
        .raise_alerts(&[detection(AlertLevel::High, "suzuki")])
        .await
        .unwrap();
    let renamed = NotifyConfig {
        webhook_url: Some(posted_url.clone()),
        smtp: None,
        syslog: None,
        escalate_after_ms: None,
        ..cfg.clone()
    };
    let before = s.svc.store.alert_notifications(1).await.unwrap().len();
    notify::round(&s.svc, &renamed).await.unwrap();
    assert_eq!(s.svc.store.alert_notifications(5).await.unwrap().len(), 1);
    assert!(s.svc.store.alert_notifications(4).await.unwrap().is_empty());
    assert_eq!(
        s.svc.store.alert_notifications(1).await.unwrap().len(),
        before
    );
    assert!(s.svc.store.alert_notifications(2).await.unwrap().is_empty());
}

/// An https webhook whose certificate the facility's own CA signed: (url, CA PEM, posts).
async fn https_webhook() -> (String, String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "みなみ診療所 院内CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem(
        leaf.pem().into_bytes(),
        leaf_key.serialize_pem().into_bytes(),
    )
    .await
    .unwrap();
    let got: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let app = hook_app(got.clone());
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let url = format!("https://localhost:{}/hook", l.local_addr().unwrap().port());
    let server = axum_server::from_tcp_rustls(l, tls).unwrap();
    tokio::spawn(async move { server.serve(app.into_make_service()).await });
    (url, ca.pem(), got)
}

#[tokio::test]
async fn an_https_webhook_is_trusted_through_the_facility_ca_only() {
    let (url, ca_pem, posted) = https_webhook().await;
    let s = TestServer::start().await;
    s.svc
        .raise_alerts(&[detection(AlertLevel::High, "ito")])
        .await
        .unwrap();
    let cfg = NotifyConfig {
        smtp: None,
        webhook_url: Some(url),
        syslog: None,
        min_level: AlertLevel::High,
        quiet_hours: None,
        escalate_after_ms: None,
        base_url: None,
        every: Duration::from_secs(1),
        ca_pem: None,
    };
    // The public roots do not know the facility's CA: refused, kept for a retry.
    assert_eq!(notify::round(&s.svc, &cfg).await.unwrap(), 0);
    let notes = s.svc.store.alert_notifications(1).await.unwrap();
    assert_eq!((notes.len(), notes[0].attempts), (1, 1));
    assert!(posted.lock().unwrap().is_empty());

    // With the CA configured, the retry goes through.
    let cfg = NotifyConfig {
        ca_pem: Some(ca_pem.into_bytes()),
        ..cfg
    };
    s.clock.advance_ms(31_000);
    assert_eq!(notify::round(&s.svc, &cfg).await.unwrap(), 1);
    assert_eq!(posted.lock().unwrap().len(), 1);
    let notes = s.svc.store.alert_notifications(1).await.unwrap();
    assert!(notes[0].sent_ms.is_some(), "{notes:?}");
}
