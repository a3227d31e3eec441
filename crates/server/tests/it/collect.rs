//! Collection over the network on either database: syslog over TCP is stored before the
//! connection is closed (the acknowledgement), UDP is stored best-effort, bad frames are counted
//! with examples next to the good ones, forwarders send JSON lines over HTTPS with their own
//! token, and a reviewer records a log review.

use mamori_service::{Actor, perm};
use mamori_storage::events::EventQuery;
use mamori_testkit::TestServer;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn listening(cfg: &mut mamori_server::config::Config) {
    cfg.syslog.tcp = Some("127.0.0.1:0".parse().unwrap());
    cfg.syslog.udp = Some("127.0.0.1:0".parse().unwrap());
}

async fn count(s: &TestServer, text: &str) -> i64 {
    s.svc
        .store
        .count_events(&EventQuery {
            text: text.into(),
            ..EventQuery::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn syslog_over_tcp_is_stored_before_the_connection_closes() {
    let s = TestServer::start_with(listening).await;
    let addr = s.syslog.tcp.expect("tcp listener");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut data = Vec::new();
    for i in 0..3000 {
        data.extend_from_slice(
            format!("<134>1 2026-12-01T09:00:00.000+09:00 fw01 kernel - - - tcp-check {i}\n")
                .as_bytes(),
        );
        if i == 1500 {
            // An oversize frame and an empty one in the middle of good ones.
            data.extend_from_slice(&vec![b'x'; 70_000]);
            data.push(b'\n');
        }
    }
    stream.write_all(&data).await.unwrap();
    stream.shutdown().await.unwrap();
    // The server closes its side only once everything is sealed and indexed.
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut rest))
        .await
        .expect("the server closes the connection")
        .unwrap();
    assert_eq!(
        count(&s, "tcp-check").await,
        3000,
        "every good frame, at once"
    );
    let src = s
        .svc
        .store
        .log_source("syslog/127.0.0.1")
        .await
        .unwrap()
        .expect("the sender is a source");
    assert_eq!(src.kind, "syslog");
    assert_eq!(src.events, 3000);
    assert!(src.bad >= 1, "the bad frames are counted: {}", src.bad);
    let rejects = s.svc.store.log_rejects("syslog/127.0.0.1").await.unwrap();
    assert!(
        rejects.iter().any(|(_, code, _)| code == "LOG0003"),
        "{rejects:?}"
    );
    // Its page shows the week and the examples.
    let user = s.setup_admin().await;
    let mut c = s.login(&user).await;
    let p = c.get("/logs/sources").await;
    assert_eq!(p.status, 200);
    assert!(p.has("syslog/127.0.0.1"), "{}", p.body);
    assert!(p.has("chart-hourly"));
    let p = c.get("/logs/sources/syslog%2F127.0.0.1").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.has("LOG0003"));
    assert!(p.has("3000"));
}

#[tokio::test]
async fn syslog_over_udp_is_stored_and_counted() {
    let s = TestServer::start_with(listening).await;
    let addr = s.syslog.udp.expect("udp listener");
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for i in 0..200 {
        let m = format!("<38>Dec  1 09:00:00 sw01 sshd[42]: udp-check {i}");
        sock.send_to(m.as_bytes(), addr).await.unwrap();
        if i % 50 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    sock.send_to(b"\x00\x00", addr).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let src = s.svc.store.log_source("syslog/127.0.0.1").await.unwrap();
        let seen = src.map_or(0, |r| r.events + r.bad + r.dropped);
        if seen >= 201 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {seen} counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // On loopback nothing is lost: every datagram is either stored or refused, none dropped.
    let src = s
        .svc
        .store
        .log_source("syslog/127.0.0.1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((src.events, src.bad, src.dropped), (200, 1, 0));
    assert_eq!(count(&s, "udp-check").await, 200);
}

#[tokio::test]
async fn a_forwarder_sends_json_lines_with_its_own_token() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    // A bad name is named at its field, and nothing is registered.
    let p = c
        .post("/logs/sources", &[("name", "電子カルテ"), ("label", "x")])
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("LOG0030"));
    assert!(s.svc.store.log_sources().await.unwrap().is_empty());
    let p = c
        .post(
            "/logs/sources",
            &[
                ("name", "winlogbeat-dc01"),
                ("label", "ドメインコントローラ"),
            ],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let i = p.body.find("<strong id=\"token\">").unwrap() + 19;
    let token = p.body[i..i + p.body[i..].find('<').unwrap()].to_string();
    assert!(token.starts_with("mmr_"), "{token}");
    // The same name twice is refused.
    let p = c
        .post("/logs/sources", &[("name", "winlogbeat-dc01")])
        .await;
    assert!(p.has("LOG0032"));

    let body = concat!(
        r#"{"@timestamp":"2026-12-01T00:00:00.000Z","winlog":{"channel":"Security","event_id":4625,"event_data":{"TargetUserName":"sato"}},"host":{"name":"dc01"},"message":"json-check failed logon"}"#,
        "\n",
        "{not json\n",
        r#"{"@timestamp":"2026-12-01T00:00:01.000Z","host":{"name":"dc01"},"message":"json-check second"}"#,
        "\n"
    );
    let mut api = s.client();
    let bearer = format!("Bearer {token}");
    let p = api
        .post_with_headers(
            "/api/v1/logs",
            &[
                ("authorization", &bearer),
                ("content-type", "application/x-ndjson"),
            ],
            body.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let v: serde_json::Value = serde_json::from_str(&p.body).unwrap();
    assert_eq!(v["accepted"], 2);
    assert_eq!(v["rejected"], 1);
    assert_eq!(v["errors"][0][0], 2, "the bad line is named: {v}");
    // Acknowledged means stored and searchable.
    assert_eq!(count(&s, "json-check").await, 2);
    // A word of the event's data (not of its message) finds it too.
    assert_eq!(count(&s, "sato").await, 1);
    let cap = Actor::local("t").can::<perm::ViewLogs>().unwrap();
    let (rows, _) = s
        .svc
        .search_events(
            &cap,
            &EventQuery {
                action: "logon_failed".into(),
                limit: 10,
                ..EventQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].source, "winlogbeat-dc01");

    // A forwarder's batch may be far larger than a page's form (5,000 events, ~700 KB); past
    // the batch limit it is refused whole.
    let batch: String = (0..5_000)
        .map(|i| {
            format!(
                "{{\"@timestamp\":\"2026-12-01T01:00:00.000Z\",\"host\":{{\"name\":\"dc01\"}},\"message\":\"batch-check {i} {}\"}}\n",
                "x".repeat(60)
            )
        })
        .collect();
    assert!(batch.len() > 300_000);
    let p = api
        .post_with_headers(
            "/api/v1/logs",
            &[("authorization", &bearer)],
            batch.into_bytes(),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let v: serde_json::Value = serde_json::from_str(&p.body).unwrap();
    assert_eq!(v["accepted"], 5_000);
    let too_big = vec![b'\n'; mamori_server::web::sources::INGEST_BYTES + 1];
    let p = api
        .post_with_headers("/api/v1/logs", &[("authorization", &bearer)], too_big)
        .await;
    assert_eq!(p.status, 413);

    // No token, a wrong token: 401 and nothing stored.
    for h in ["", "Bearer mmr_wrong"] {
        let headers: Vec<(&str, &str)> = if h.is_empty() {
            vec![]
        } else {
            vec![("authorization", h)]
        };
        let p = api
            .post_with_headers("/api/v1/logs", &headers, body.as_bytes().to_vec())
            .await;
        assert_eq!(p.status, 401, "{h}");
    }
    // Stopped: 403. A new token replaces the old one.
    let p = c
        .post("/logs/sources/winlogbeat-dc01/state", &[("disabled", "1")])
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = api
        .post_with_headers("/api/v1/logs", &[("authorization", &bearer)], body.into())
        .await;
    assert_eq!(p.status, 403);
    c.post("/logs/sources/winlogbeat-dc01/state", &[("disabled", "0")])
        .await;
    let p = c.post("/logs/sources/winlogbeat-dc01/token", &[]).await;
    assert_eq!(p.status, 200);
    let p = api
        .post_with_headers("/api/v1/logs", &[("authorization", &bearer)], body.into())
        .await;
    assert_eq!(p.status, 401, "the old token no longer works");
    assert_eq!(count(&s, "json-check").await, 2);
    let src = s
        .svc
        .store
        .log_source("winlogbeat-dc01")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((src.events, src.bad), (5_002, 1));
    assert!(s.svc.store.audit_count().await.unwrap() > 0);
}

#[tokio::test]
async fn a_reviewer_records_a_log_review_and_bad_dates_are_named() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    let p = c.get("/logs/reviews").await;
    assert_eq!(p.status, 200);
    assert!(p.has("reviews") || p.has("確認"));
    let p = c
        .post(
            "/logs/reviews",
            &[("from", "2026-13-01"), ("to", "2026-11-30"), ("notes", "x")],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("DATE0002"), "{}", p.body);
    assert!(p.has("2026年13月1日"));
    let p = c
        .post(
            "/logs/reviews",
            &[("from", "2026-11-30"), ("to", "2026-11-01"), ("notes", "x")],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("SEA0004"));
    assert!(s.svc.store.log_reviews(10).await.unwrap().is_empty());
    let p = c
        .post(
            "/logs/reviews",
            &[
                ("from", "2025-09-01"),
                ("to", "2025-09-30"),
                ("notes", "異常なし。夜間のログイン失敗5件は本人の入力誤り。"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let reviews = s.svc.store.log_reviews(10).await.unwrap();
    assert_eq!(reviews.len(), 1);
    assert!(reviews[0].notes.contains("入力誤り"));
    let p = c.get("/logs/reviews?ok=logs_reviewed").await;
    assert!(p.has("入力誤り"));
    assert!(p.has("2025/09/01 – 2025/09/30"), "{}", p.body);
}

#[tokio::test]
async fn syslog_over_tls_uses_the_servers_certificate() {
    let s = TestServer::start_with(|cfg| {
        cfg.tls = mamori_server::config::TlsMode::Auto;
        cfg.syslog.tls = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let addr = s.syslog.tls.expect("tls listener");
    let (cert, _) = mamori_server::tls::generated_paths(s.dir.path());
    let pem = std::fs::read(cert).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in
        <rustls::pki_types::CertificateDer as rustls::pki_types::pem::PemObject>::pem_slice_iter(
            &pem,
        )
    {
        roots.add(c.unwrap()).unwrap();
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let mut tls = connector.connect(name, tcp).await.unwrap();
    // RFC 5425: octet-counted frames.
    let mut data = Vec::new();
    for i in 0..100 {
        let m = format!("<134>1 2026-12-01T09:00:00+09:00 fw01 app - - - tls-check {i}");
        data.extend_from_slice(format!("{} {m}", m.len()).as_bytes());
    }
    tls.write_all(&data).await.unwrap();
    tls.shutdown().await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), tls.read_to_end(&mut rest))
        .await
        .expect("the server closes the connection");
    assert_eq!(count(&s, "tls-check").await, 100);
}

/// A time server five seconds ahead of this machine, speaking SNTP (RFC 5905) on loopback.
async fn time_server_ahead(sock: tokio::net::UdpSocket, ahead_s: f64) {
    let mut buf = [0u8; 128];
    while let Ok((n, peer)) = sock.recv_from(&mut buf).await {
        if n < 48 {
            continue;
        }
        let now = std::time::SystemTime::UNIX_EPOCH
            .elapsed()
            .unwrap()
            .as_secs_f64()
            + ahead_s;
        let secs = now.trunc() as u64 + 2_208_988_800;
        let frac = (now.fract() * 4_294_967_296.0) as u64;
        let stamp = ((secs << 32) | frac).to_be_bytes();
        let mut reply = [0u8; 48];
        reply[0] = 0b00_100_100; // no leap warning, version 4, mode 4 (server)
        reply[1] = 2; // stratum
        reply[12..16].copy_from_slice(b"GPS\0");
        reply[16..24].copy_from_slice(&stamp); // reference
        reply[24..32].copy_from_slice(&buf[40..48]); // originate = the client's transmit
        reply[32..40].copy_from_slice(&stamp); // receive
        reply[40..48].copy_from_slice(&stamp); // transmit
        let _ = sock.send_to(&reply, peer).await;
    }
}

#[tokio::test]
async fn this_servers_clock_is_checked_against_the_time_server() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    let p = c.get("/logs/sources").await;
    assert!(p.has("ntp_server"), "no time server set yet: {}", p.body);
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap().to_string();
    tokio::spawn(time_server_ahead(sock, 5.0));
    mamori_server::ntp::check_and_record(&s.svc, &addr).await;
    let check = s.svc.store.last_clock_check().await.unwrap().unwrap();
    let offset = check.offset_ms.expect("answered");
    assert!((offset - 5_000).abs() < 500, "{offset} ms");
    let p = c.get("/logs/sources").await;
    assert!(p.has("-5.0秒"), "mamori is five seconds behind: {}", p.body);
    // The checklist's 2-⑪ evidence says the clock was checked.
    let snap = s.svc.checklist_snapshot().await.unwrap();
    assert!(snap.collection.own_clock_offset_ms.is_some());
}

#[tokio::test]
async fn the_search_exports_as_csv_and_the_export_is_audited() {
    use mamori_domain::event::{Action, LogEvent, Outcome, Severity};
    let (s, admin) = TestServer::with_admin().await;
    let events: Vec<LogEvent> = (0..30)
        .map(|i| LogEvent {
            time_ms: Some(1_759_276_800_000 - i * 60_000),
            received_ms: 1_759_276_800_000,
            source_host: "ehr-srv01".into(),
            actor: Some(["sato", "tanaka"][(i % 2) as usize].into()),
            action: Action::RecordViewed,
            object: Some(format!("P-{:06}", i % 3)),
            outcome: Outcome::Success,
            severity: Severity::Informational,
            message: format!("カルテ参照, \"引用\" {i}"),
            fields: vec![],
            raw: String::new(),
        })
        .collect();
    let client = mamori_service::ClientInfo::new("127.0.0.1", "test");
    s.svc
        .ingest_events("system", "ehr.csv", &events, &client, |_| {})
        .await
        .unwrap();
    let mut c = s.login(&admin).await;
    let p = c.get("/logs/events?patient=P-000001").await;
    assert!(p.has("/logs/events.csv?"), "the page offers the export");
    let audit_before = s.svc.store.audit_count().await.unwrap();
    let p = c.get("/logs/events.csv?patient=P-000001").await;
    assert_eq!(p.status, 200);
    assert!(p.body.starts_with('\u{feff}'), "BOM for Excel");
    let lines: Vec<&str> = p.body.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), 1 + 10, "{}", p.body);
    assert!(lines[0].contains("患者ID"), "{}", lines[0]);
    assert!(lines[1].contains("P-000001"));
    assert!(
        lines[1].contains("\"カルテ参照, \"\"引用\"\""),
        "quoted: {}",
        lines[1]
    );
    assert_eq!(s.svc.store.audit_count().await.unwrap(), audit_before + 1);
    let p = c.get("/logs/events.csv?from=2026-02-30").await;
    assert_eq!(p.status, 400);
    assert!(p.has("DATE0002"), "{}", p.body);
}

/// A batch larger than one INSERT statement goes in whole, its text intact, and a batch that
/// fails part-way leaves nothing behind once its transaction is dropped.
#[tokio::test]
async fn a_batch_across_statements_is_indexed_whole_or_not_at_all() {
    use mamori_storage::events::{EventRow, ROWS_PER_STATEMENT, insert_events};
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = mamori_testkit::fresh_store(dir.path()).await;
    let n = 2 * ROWS_PER_STATEMENT as i64 + 500;
    let row = |i: i64| EventRow {
        seal_index: i,
        at_ms: (i % 7 != 0).then_some(1_000 + i),
        received_ms: 2_000 + i,
        sort_ms: 1_000 + i,
        time_flag: if i % 7 == 0 {
            "missing".into()
        } else {
            String::new()
        },
        source: "syslog/192.0.2.1".into(),
        host: "fw01".into(),
        actor: (i % 2 == 0).then(|| format!("user{i}")),
        action: "logon".into(),
        object: Some(format!("P-{i:06}")),
        outcome: "success".into(),
        severity: 6,
        message: format!("引用 \"{i}\" \\ 改行\n終わり '$1' ?"),
        words: format!("10.0.0.{i} logon-type-{}", i % 3),
    };
    let rows: Vec<EventRow> = (0..n).map(row).collect();
    let mut w = s.write().await.unwrap();
    insert_events(&mut w, &rows).await.unwrap();
    w.commit().await.unwrap();
    // One row from each statement of the batch, with every column as given.
    for i in [14, ROWS_PER_STATEMENT as i64 + 3, n - 1] {
        let found = s
            .search_events(&EventQuery {
                object: format!("P-{i:06}"),
                limit: 10,
                ..EventQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(found, vec![rows[i as usize].clone()]);
    }
    assert_eq!(s.indexed_through().await.unwrap(), n);
    // The word search also reads the other fields' values.
    let by_word = s
        .count_events(&EventQuery {
            text: "logon-type-2".into(),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(by_word, n / 3);
    // New rows filling the first statement, then one already indexed in the second: refused,
    // and the rows of the first statement go with the dropped transaction.
    let mut again: Vec<EventRow> = (n..n + ROWS_PER_STATEMENT as i64).map(row).collect();
    again.push(rows[0].clone());
    let mut w = s.write().await.unwrap();
    assert!(insert_events(&mut w, &again).await.is_err());
    drop(w);
    assert_eq!(s.count_events(&EventQuery::default()).await.unwrap(), n);
}

/// A source whose clock runs five minutes ahead, and later one gone silent, are findings on
/// the dashboard, each linking to the source's page.
#[tokio::test]
async fn drifting_and_silent_sources_are_findings_on_the_dashboard() {
    use mamori_service::Clock as _;
    let s = TestServer::start_with(listening).await;
    let admin = s.setup_admin().await;
    let addr = s.syslog.tcp.expect("tcp listener");
    // The source's clock says five minutes after the server's (the test clock's) time.
    let ahead = time::OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(s.clock.now_ms() + 300_000) * 1_000_000,
    )
    .unwrap()
    .format(&time::format_description::well_known::Rfc3339)
    .unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut data = Vec::new();
    for i in 0..10 {
        data.extend_from_slice(format!("<134>1 {ahead} fw01 kernel - - - drift {i}\n").as_bytes());
    }
    stream.write_all(&data).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut rest))
        .await
        .expect("stored")
        .unwrap();
    let mut c = s.login(&admin).await;
    let p = c.get("/").await;
    assert_eq!(p.status, 200);
    assert!(
        p.has("時計が60秒を超えてずれている送信元が1件"),
        "{}",
        p.body
    );
    assert!(p.has("/logs/sources/syslog%2F127.0.0.1"), "{}", p.body);
    assert!(!p.has("24時間以上ログが届いていない"), "{}", p.body);
    // A day and an hour later without a word from it: silent (and its last clock reading
    // has left the day the estimate covers).
    s.clock.advance_ms(25 * 3_600_000);
    let mut c = s.login(&admin).await;
    let p = c.get("/").await;
    assert!(
        p.has("24時間以上ログが届いていない送信元が1件"),
        "{}",
        p.body
    );
    assert!(!p.has("時計が60秒を超えて"), "{}", p.body);
    assert!(!p.has("mamori サーバ自身の時計"), "{}", p.body);
    // mamori's own clock two minutes behind the facility's time server.
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let ntp = sock.local_addr().unwrap().to_string();
    tokio::spawn(time_server_ahead(sock, 120.0));
    mamori_server::ntp::check_and_record(&s.svc, &ntp).await;
    let p = c.get("/").await;
    assert!(
        p.has("mamori サーバ自身の時計が時刻サーバと-120.0秒"),
        "{}",
        p.body
    );
}
