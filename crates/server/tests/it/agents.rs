//! Endpoint agents against the real server on either database: a token made in the UI enrols
//! the real agent code (over HTTPS with the certificate pinned, or plain HTTP on loopback); the
//! agent's cycle sends a full inventory, then diffs, and a full one again when a diff does not
//! fit; USB decisions and files written to media reach the sealed event log; requests are
//! signed and a replay is refused; the PC is tied to the ledger or registered in it; emergency
//! unlock codes verify on the PC; a revoked agent is refused.

use mamori_agent::inventory::Root;
use mamori_agent::run::{self, Agent};
use mamori_agent::state::StateDir;
use mamori_client::ClientError;
use mamori_domain::role::Role;
use mamori_proto::agent::{
    self as wire, Decision, DecisionRecord, Device, DeviceClass, FileWrite, Interface, Mode,
};
use mamori_service::Clock as _;
use mamori_testkit::TestServer;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../agent/tests/fixtures/pc-root"
);

fn token_in(body: &str) -> String {
    let start = body.find(r#"id="token">"#).expect("token shown") + r#"id="token">"#.len();
    let rest = &body[start..];
    rest[..rest.find('<').unwrap()].to_string()
}

/// Runs blocking agent code off the runtime the server runs on.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// Enrols the agent code as `host` with a token made on the agents page (`note`, `groups`):
/// its state directory (kept while the returned temporary directory lives) and identity.
async fn enrolled_via_ui(
    s: &TestServer,
    c: &mut mamori_testkit::Client,
    note: &str,
    groups: &str,
    host: &'static str,
) -> (tempfile::TempDir, StateDir, mamori_agent::state::Identity) {
    let p = c
        .post("/agents/enroll", &[("note", note), ("groups", groups)])
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let token = token_in(&p.body);
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::new(dir.path().join("state"));
    let now = s.clock.now_ms();
    let (url, st) = (s.url.clone(), state.clone());
    let id = blocking(move || run::enroll(&st, &url, &token, host, "0123abcd", now))
        .await
        .unwrap();
    (dir, state, id)
}

fn stick(at_ms: i64, mode: Mode) -> DecisionRecord {
    DecisionRecord {
        device: Device {
            port: "1-2".into(),
            vendor_id: "0781".into(),
            product_id: "5583".into(),
            serial: "4C530001230915117283".into(),
            manufacturer: "SanDisk".into(),
            product: "Ultra Fit".into(),
            device_class: "00".into(),
            interfaces: vec![Interface {
                class: "08".into(),
                subclass: "06".into(),
                protocol: "50".into(),
                name: String::new(),
            }],
        },
        decision: Decision {
            mode,
            class: DeviceClass::MassStorage,
            rule: "class:mass_storage".into(),
        },
        user: Some("yamada".into()),
        at_ms,
    }
}

#[tokio::test]
async fn an_agent_enrols_reports_and_is_tied_to_the_ledger() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    let p = c.get("/agents").await;
    assert_eq!(p.status, 200);
    assert!(
        p.has("端末エージェント") && p.has("登録トークンを発行"),
        "{}",
        p.body
    );

    // A bad group is refused by field, and nothing is made.
    let long = "x".repeat(41);
    let p = c
        .post(
            "/agents/enroll",
            &[("note", "受付1"), ("groups", long.as_str())],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("AGT0002"), "{}", p.body);
    assert!(s.svc.store.agent_enrollments(10).await.unwrap().is_empty());

    let p = c
        .post(
            "/agents/enroll",
            &[("note", "受付1"), ("groups", "受付\n外来")],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let token = token_in(&p.body);
    assert!(token.starts_with("MMR1-"), "{token}");
    assert!(
        p.has("mamori-agent enroll --server http://127.0.0.1:"),
        "{}",
        p.body
    );
    // Only the hash is kept.
    assert!(!format!("{:?}", s.svc.store.agent_enrollments(10).await.unwrap()).contains(&token));

    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::new(dir.path().join("state"));
    let now = s.clock.now_ms();
    let (url, t, st) = (s.url.clone(), token.clone(), state.clone());
    let id = blocking(move || run::enroll(&st, &url, &t, "uketsuke-01", "0123abcd", now))
        .await
        .unwrap();
    assert!(id.agent_id > 0);
    // The token is used up.
    let dir2 = tempfile::tempdir().unwrap();
    let (url, t, st2) = (s.url.clone(), token.clone(), StateDir::new(dir2.path()));
    let again = blocking(move || run::enroll(&st2, &url, &t, "other", "x", now)).await;
    match again {
        Err(run::AgentError::Client(ClientError::Refused { code, .. })) => {
            assert_eq!(code, "AGT0014")
        }
        other => panic!("{other:?}"),
    }

    // The first cycle sends the full inventory of the recorded PC.
    let st = state.clone();
    let (mut agent, report) = blocking(move || {
        let mut a = Agent::open(st, Root::new(FIXTURE), now).unwrap();
        let r = a.cycle(now).unwrap();
        (a, r)
    })
    .await;
    assert_eq!(report.inventory, "full");
    assert_eq!((report.sent, report.waiting), (1, 0), "{report:?}");
    assert!(report.offline.is_none());
    let stored: wire::Inventory = serde_json::from_str(
        &s.svc
            .store
            .agent_inventory(id.agent_id)
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    let collected = mamori_agent::inventory::collect(&Root::new(FIXTURE)).unwrap();
    assert_eq!(stored.packages, collected.packages);
    assert_eq!(stored.hostname, collected.hostname);

    // The list shows it, not in the ledger; so do the findings.
    let p = c.get("/agents").await;
    assert!(p.has("uketsuke-01") && p.has("台帳未登録"), "{}", p.body);
    let p = c.get(&format!("/agents/{}", id.agent_id)).await;
    assert_eq!(p.status, 200);
    assert!(p.has("受付") && p.has("外来"), "{}", p.body);
    let p = c.get("/ledger/findings").await;
    assert!(
        p.has("台帳にない端末") && p.has("uketsuke-01"),
        "{}",
        p.body
    );

    // Nothing changed: nothing is sent.
    let (mut agent, report) = blocking(move || {
        let r = agent.cycle(now + 60_000).unwrap();
        (agent, r)
    })
    .await;
    assert_eq!((report.inventory, report.sent), ("unchanged", 0));

    // A change goes as a diff, and the server rebuilds the same inventory.
    let mut changed = collected.clone();
    changed.packages.retain(|p| p.name != "bash");
    changed.listening.push(wire::Listening {
        proto: "tcp".into(),
        address: "0.0.0.0".into(),
        port: 3389,
    });
    changed.listening.sort();
    let ch = changed.clone();
    let (mut agent, what, report) = blocking(move || {
        let what = agent.put_inventory(ch, now + 120_000).unwrap();
        let mut r = run::CycleReport::default();
        agent.upload_step(&mut r).unwrap();
        (agent, what, r)
    })
    .await;
    assert_eq!((what, report.sent), ("diff", 1));
    let stored: wire::Inventory = serde_json::from_str(
        &s.svc
            .store
            .agent_inventory(id.agent_id)
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        wire::inventory_sha256(&stored),
        wire::inventory_sha256(&changed)
    );

    // A diff against something the server does not hold (an entry lost on the PC) is not
    // applied; the server asks for a full inventory and the next cycle sends it.
    let mut sent = state.sent().unwrap();
    sent.inventory.as_mut().unwrap().hostname = "lost".into();
    state.save_sent(&sent).unwrap();
    let mut drifted = changed.clone();
    drifted.enabled_services.push("telnet.socket".into());
    let (mut agent, report) = blocking(move || {
        agent.put_inventory(drifted, now + 180_000).unwrap();
        let mut r = run::CycleReport::default();
        agent.upload_step(&mut r).unwrap();
        assert!(agent.dir.sent().unwrap().need_full);
        let r2 = agent.cycle(now + 180_000).unwrap();
        (agent, (r, r2))
    })
    .await;
    assert_eq!(report.0.sent, 1);
    assert_eq!(report.1.inventory, "full");
    let stored: wire::Inventory = serde_json::from_str(
        &s.svc
            .store
            .agent_inventory(id.agent_id)
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        stored, collected,
        "the full inventory replaced the stale one"
    );

    // USB decisions and files written to media go to the sealed event log.
    let (agent, report) = blocking(move || {
        agent
            .record_device(&stick(now + 200_000, Mode::Deny))
            .unwrap();
        agent
            .record_file(
                &FileWrite {
                    user: "yamada".into(),
                    program: "cp".into(),
                    path: "/紹介状/2026-12-03.pdf".into(),
                    size: 123_456,
                    sha256: "ab".repeat(32),
                    vendor_id: "0781".into(),
                    product_id: "5583".into(),
                    serial: "4C530001230915117283".into(),
                },
                now + 201_000,
            )
            .unwrap();
        let r = agent.cycle(now + 202_000).unwrap();
        (agent, r)
    })
    .await;
    assert_eq!(report.sent, 2, "{report:?}");
    let p = c.get("/logs/events?action=device_connected").await;
    assert!(
        p.has("uketsuke-01") && p.has("0781:5583:4C530001230915117283"),
        "{}",
        p.body
    );
    let p = c.get("/logs/events?action=media_written").await;
    assert!(p.has("紹介状/2026-12-03.pdf"), "{}", p.body);
    // Which program wrote it is kept with the event.
    let cap = mamori_service::authz::Actor::local("t")
        .can::<mamori_service::perm::ViewLogs>()
        .unwrap();
    let (rows, _) = s
        .svc
        .search_events(
            &cap,
            &mamori_storage::events::EventQuery {
                action: "media_written".into(),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(rows[0].words.contains("cp"), "{:?}", rows[0].words);
    // The list charts the last two weeks of USB decisions (one blocked stick so far).
    let p = c.get("/agents").await;
    assert!(
        p.has("USB 機器の接続（直近 14 日）") && p.has("chart-hourly"),
        "{}",
        p.body
    );
    assert!(
        !p.has("直近 14 日に USB 機器の接続はありません"),
        "{}",
        p.body
    );
    let cap = mamori_service::authz::Actor::local("t")
        .can::<mamori_service::perm::ViewAgents>()
        .unwrap();
    let days = s.svc.agent_usb_days(&cap, 14).await.unwrap();
    assert_eq!(days.len(), 14);
    let last = days.last().unwrap();
    assert_eq!((last.usable, last.blocked), (0, 1), "{days:?}");

    // Registering the PC in the ledger: a bad tag is refused by field; then it is an asset.
    let href = format!("/agents/{}", id.agent_id);
    let p = c
        .post(
            &format!("{href}/ledger"),
            &[
                ("action", "register"),
                ("tag", ""),
                ("class", "workstation"),
            ],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("AGT0043"), "{}", p.body);
    let p = c
        .post(
            &format!("{href}/ledger"),
            &[
                ("action", "register"),
                ("tag", "PC-101"),
                ("class", "workstation"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = c.get(&href).await;
    assert!(p.has("PC-101") && p.has("台帳と照合済み"), "{}", p.body);
    let p = c.get("/ledger/findings").await;
    assert!(!p.has("台帳にない端末"), "{}", p.body);
    let assets: Vec<mamori_domain::ledger::Asset> = s.svc.store.records().await.unwrap();
    let asset = assets.iter().find(|a| a.tag == "PC-101").unwrap();
    assert_eq!(asset.name, "uketsuke-01");
    assert_eq!(asset.serial, collected.hardware.serial);
    let p = c
        .post(
            &format!("{href}/ledger"),
            &[
                ("action", "register"),
                ("tag", "PC-102"),
                ("class", "workstation"),
            ],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("AGT0041"), "{}", p.body);

    // An emergency unlock code: a reason is required; the code verifies on the PC, once.
    let p = c
        .post(
            &format!("{href}/unlock"),
            &[("minutes", "30"), ("reason", "")],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("AGT0050"), "{}", p.body);
    let p = c
        .post(
            &format!("{href}/unlock"),
            &[
                ("minutes", "30"),
                ("reason", "外来 山田看護師 紹介状の受け取り"),
            ],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let start = p.body.find(r#"id="code">"#).unwrap() + r#"id="code">"#.len();
    let code = p.body[start..start + 8].to_string();
    let secret = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(&agent.id.unlock_secret)
            .unwrap()
    };
    let mut v = mamori_agent::unlock::Verifier::new(&secret, &id.agent_id.to_string());
    let u = v.verify(&code, s.clock.now_ms()).unwrap();
    assert_eq!(u.until_ms - s.clock.now_ms(), 30 * 60_000);
    assert!(v.verify(&code, s.clock.now_ms()).is_err());

    let actions: Vec<String> = s
        .svc
        .store
        .audit_events(1000, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for a in [
        "agents.enrollment_created",
        "agents.enrolled",
        "agents.asset_registered",
        "agents.unlock_issued",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a}: {actions:?}");
    }

    // Revoked: everything it sends is refused.
    let p = c.post(&format!("{href}/revoke"), &[]).await;
    assert_eq!(p.status, 303);
    let result = blocking(move || {
        let mut agent = agent;
        agent
            .record_device(&stick(now + 300_000, Mode::Deny))
            .unwrap();
        let mut r = run::CycleReport::default();
        agent.upload_step(&mut r)
    })
    .await;
    match result {
        Err(run::AgentError::Client(ClientError::Refused { status, code, .. })) => {
            assert_eq!((status, code.as_str()), (403, "AGT0021"))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn agent_requests_are_signed_and_a_replay_is_refused() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    let (_dir, state, id) = enrolled_via_ui(&s, &mut c, "", "", "pc-02").await;
    let now = s.clock.now_ms();

    use base64::Engine as _;
    use ed25519_dalek::Signer as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let key =
        ed25519_dalek::SigningKey::from_bytes(&b64.decode(&id.key).unwrap().try_into().unwrap());
    let body = serde_json::to_vec(&wire::Upload { entries: vec![] }).unwrap();
    let send = |nonce: u64, sig: String| {
        let http = reqwest::Client::new();
        let url = format!("{}{}", s.url, wire::PATH_UPLOAD);
        let body = body.clone();
        let agent = id.agent_id.to_string();
        async move {
            http.post(url)
                .header(wire::HEADER_AGENT, agent)
                .header(wire::HEADER_NONCE, nonce.to_string())
                .header(wire::HEADER_SIGNATURE, sig)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let sign = |nonce: u64, body: &[u8]| {
        b64.encode(
            key.sign(&wire::signing_message(
                "POST",
                wire::PATH_UPLOAD,
                id.agent_id,
                nonce,
                body,
            ))
            .to_bytes(),
        )
    };
    let r = send(5_000, sign(5_000, &body)).await;
    assert_eq!(r.status(), 200);
    // The same request again: a replay.
    let r = send(5_000, sign(5_000, &body)).await;
    assert_eq!(r.status(), 409);
    assert_eq!(
        r.headers()
            .get(wire::HEADER_NEXT_NONCE)
            .and_then(|v| v.to_str().ok()),
        Some("5001")
    );
    // A signature over another body, or by another key.
    let r = send(6_000, sign(6_000, b"{\"entries\":[]} ")).await;
    assert_eq!(r.status(), 401);
    let other = mamori_client::generate_key();
    let forged = b64.encode(
        other
            .sign(&wire::signing_message(
                "POST",
                wire::PATH_UPLOAD,
                id.agent_id,
                7_000,
                &body,
            ))
            .to_bytes(),
    );
    let r = send(7_000, forged).await;
    assert_eq!(r.status(), 401);
    let r = reqwest::Client::new()
        .get(format!("{}{}", s.url, wire::PATH_POLICY))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The real client recovers from a nonce the server is past (say the PC's clock went back).
    let st = state.clone();
    let report = blocking(move || {
        let mut a = Agent::open(st, Root::new(FIXTURE), 0).unwrap();
        a.cycle(now).unwrap()
    })
    .await;
    assert_eq!(report.sent, 1, "{report:?}");

    // Staff see no agents; auditors see them but make no tokens.
    let staff = s.add_user("uketsuke", Role::Staff).await;
    let mut sc = s.login(&staff).await;
    assert_eq!(sc.get("/agents").await.status, 403);
    let auditor = s.add_user("kansa", Role::Auditor).await;
    let mut ac = s.login(&auditor).await;
    let p = ac.get("/agents").await;
    assert!(p.has("pc-02") && !p.has("登録トークンを発行"), "{}", p.body);
}

#[tokio::test]
async fn over_https_the_agent_trusts_only_the_pinned_certificate() {
    let s = TestServer::start_with(|c| c.tls = mamori_server::config::TlsMode::Auto).await;
    let _admin = s.setup_admin().await;
    assert!(s.url.starts_with("https://"), "{}", s.url);
    let (cert, _) = mamori_server::tls::generated_paths(s.dir.path());
    let pin = mamori_server::tls::pin(&cert).unwrap();
    let local = mamori_service::authz::Actor::local("test");
    let cap = local.can().unwrap();
    let client = mamori_service::ClientInfo::new("127.0.0.1", "test");
    let good = s
        .svc
        .create_agent_enrollment(&cap, "", "", Some(pin), &client)
        .await
        .unwrap();
    let mut wrong_pin = pin;
    wrong_pin[0] ^= 1;
    let wrong = s
        .svc
        .create_agent_enrollment(&cap, "", "", Some(wrong_pin), &client)
        .await
        .unwrap();
    let unpinned = s
        .svc
        .create_agent_enrollment(&cap, "", "", None, &client)
        .await
        .unwrap();
    let now = s.clock.now_ms();
    let url = s.url.clone();
    let outcome = blocking(move || {
        let d = tempfile::tempdir().unwrap();
        let wrong = run::enroll(
            &StateDir::new(d.path().join("a")),
            &url,
            &wrong,
            "h",
            "m",
            now,
        );
        let unpinned = run::enroll(
            &StateDir::new(d.path().join("b")),
            &url,
            &unpinned,
            "h",
            "m",
            now,
        );
        let good = run::enroll(
            &StateDir::new(d.path().join("c")),
            &url,
            &good,
            "h",
            "m",
            now,
        );
        let cycle = good.as_ref().ok().map(|_| {
            let mut a =
                Agent::open(StateDir::new(d.path().join("c")), Root::new(FIXTURE), now).unwrap();
            a.cycle(now).unwrap()
        });
        (wrong, unpinned, good, cycle)
    })
    .await;
    assert!(
        matches!(
            outcome.0,
            Err(run::AgentError::Client(ClientError::Transport(_)))
        ),
        "{:?}",
        outcome.0
    );
    assert!(
        matches!(outcome.1, Err(run::AgentError::Client(ClientError::Url(_)))),
        "{:?}",
        outcome.1
    );
    let id = outcome.2.unwrap();
    assert_eq!(id.pin.len(), 64);
    assert_eq!(outcome.3.unwrap().sent, 1);
}

/// A renewal prepared ahead: the server names its next certificate (`tls.next_cert_file`);
/// its pin reaches the agents inside their signed policy (asked for daily), and after the
/// switch they keep talking to it. An agent that never heard of it is cut off, as pinning
/// means.
#[tokio::test]
async fn a_certificate_renewal_announced_in_the_policy_keeps_the_agents_connected() {
    use mamori_server::config::{Config, TlsMode};
    fn auto_with_next(c: &mut Config) {
        c.tls = TlsMode::Auto;
        let next = c.data_dir.join("next");
        let (cert, _) =
            mamori_server::tls::ensure_self_signed(&next, &["127.0.0.1".to_string()]).unwrap();
        c.tls_next_cert = Some(cert);
    }
    fn renewed(c: &mut Config) {
        let (cert, key) = mamori_server::tls::generated_paths(&c.data_dir.join("next"));
        c.tls = TlsMode::Files { cert, key };
    }
    let s = TestServer::start_with(|c| c.tls = TlsMode::Auto).await;
    let _admin = s.setup_admin().await;
    let (cert, _) = mamori_server::tls::generated_paths(s.dir.path());
    let pin = mamori_server::tls::pin(&cert).unwrap();
    let local = mamori_service::authz::Actor::local("test");
    let cap = local.can().unwrap();
    let client = mamori_service::ClientInfo::new("127.0.0.1", "test");
    let mut tokens = Vec::new();
    for _ in 0..2 {
        tokens.push(
            s.svc
                .create_agent_enrollment(&cap, "", "", Some(pin), &client)
                .await
                .unwrap(),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let (told, untold) = (
        StateDir::new(dir.path().join("told")),
        StateDir::new(dir.path().join("untold")),
    );
    let now = s.clock.now_ms();
    let (url, a, b) = (s.url.clone(), told.clone(), untold.clone());
    blocking(move || {
        run::enroll(&a, &url, &tokens[0], "pc-told", "m1", now).unwrap();
        run::enroll(&b, &url, &tokens[1], "pc-untold", "m2", now).unwrap();
    })
    .await;

    // The renewal is prepared; a day later the first PC asks for its policy again.
    let s = s.restart_with(auto_with_next).await;
    let next_pin = mamori_server::tls::pin(&s.dir.path().join("next/tls/cert.pem")).unwrap();
    let a = told.clone();
    let report = blocking(move || {
        let mut agent = Agent::open(a, Root::new(FIXTURE), now).unwrap();
        agent.cycle(now + 86_400_000).unwrap()
    })
    .await;
    assert!(report.offline.is_none(), "{report:?}");
    let a = told.clone();
    let pins = blocking(move || {
        let agent = Agent::open(a, Root::new(FIXTURE), now).unwrap();
        agent.policy().1.unwrap().server_pins
    })
    .await;
    assert_eq!(pins, [wire::hex(&pin), wire::hex(&next_pin)]);

    // The switch: the server now presents the new certificate.
    let s = s.restart_with(renewed).await;
    assert_eq!(
        mamori_server::tls::pin(&s.dir.path().join("next/tls/cert.pem")).unwrap(),
        next_pin
    );
    let (a, b) = (told.clone(), untold.clone());
    let (told_report, untold_report) = blocking(move || {
        let mut one = Agent::open(a, Root::new(FIXTURE), now).unwrap();
        let mut two = Agent::open(b, Root::new(FIXTURE), now).unwrap();
        (
            one.cycle(now + 86_500_000).unwrap(),
            two.cycle(now + 86_500_000).unwrap(),
        )
    })
    .await;
    // It reached the server over the new certificate (nothing new to send, so it asked for
    // its policy, and got it).
    assert!(told_report.offline.is_none(), "{told_report:?}");
    assert!(told_report.policy_version.is_some(), "{told_report:?}");
    let why = untold_report.offline.unwrap_or_default();
    assert!(why.contains("pinned"), "{why}");
}

/// The removable-media policy page: a bad exception line is refused by its number and nothing
/// changes; a good policy gets a new version, which an enrolled agent fetches at its next
/// upload, verifies and enforces (the exception for one user's stick).
#[tokio::test]
async fn the_policy_is_edited_in_the_ui_and_reaches_the_agent() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    let p = c.get("/agents/policy").await;
    assert_eq!(p.status, 200);
    assert!(
        p.has("記憶媒体（USB）ポリシー") && p.has("既定のポリシー（未設定）"),
        "{}",
        p.body
    );

    // Enrol an agent first: it holds the default policy (version 0).
    let (_dir, state, enrolled) =
        enrolled_via_ui(&s, &mut c, "受付1", "reception", "uketsuke-01").await;
    let now = s.clock.now_ms();

    let form = |storage: &'static str, phone: &'static str, exceptions: &'static str| {
        vec![
            ("mass_storage", storage),
            ("optical", "read_only"),
            ("phone", phone),
            ("bluetooth", "deny"),
            ("other", "allow"),
            ("exceptions", exceptions),
        ]
    };
    // Line 2 names no device: refused, by line, with what was typed kept.
    let bad = "0781:5583:4C53 allow user=yamada # 検査データ\nallow 0781:5583\n";
    let p = c
        .post("/agents/policy", &form("read_only", "deny", bad))
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("2行目") && p.has("AGT0060"), "{}", p.body);
    assert!(p.has("allow 0781:5583"), "{}", p.body);
    // A phone cannot be read-only.
    let p = c
        .post("/agents/policy", &form("deny", "read_only", ""))
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("AGT0066"), "{}", p.body);
    // An unknown handling.
    let p = c.post("/agents/policy", &form("maybe", "deny", "")).await;
    assert_eq!(p.status, 400);
    assert!(p.has("AGT0067"), "{}", p.body);
    assert!(s.svc.store.agent_policy().await.unwrap().is_none());

    let good = "0781:5583:4C530001230915117283 allow user=yamada group=reception until=2099-03-31 # 検査データの受け渡し\n";
    // A time server that is not a host name: refused by field.
    let mut fields = form("read_only", "deny", good);
    fields.push(("ntp_server", "ntp server; rm -rf"));
    let p = c.post("/agents/policy", &fields).await;
    assert_eq!(p.status, 400);
    assert!(p.has("AGT0068"), "{}", p.body);
    let mut fields = form("read_only", "deny", good);
    fields.push(("encrypted_only", "1"));
    fields.push(("ntp_server", "ntp.clinic.local:123"));
    let p = c.post("/agents/policy", &fields).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = c.get("/agents/policy?ok=agent_policy_saved").await;
    assert!(p.has("保存しました") && p.has("検査データの受け渡し") && p.has("2099-03-31"));
    assert_eq!(
        s.svc.store.agent_policy().await.unwrap().unwrap().version,
        1
    );

    // The agent's next upload learns of version 1, fetches it and keeps it.
    let st = state.clone();
    let (report, policy) = blocking(move || {
        let mut agent = Agent::open(st, Root::new(FIXTURE), now).unwrap();
        let r = agent.cycle(now).unwrap();
        (r, agent.policy())
    })
    .await;
    assert_eq!(report.policy_version, Some(1));
    let (usb, body) = policy;
    let body = body.unwrap();
    assert_eq!(body.version, 1);
    assert_eq!(body.ntp_server.as_deref(), Some("ntp.clinic.local:123"));
    assert_eq!(usb.mass_storage, Mode::ReadOnly);
    assert_eq!(usb.exceptions.len(), 1);
    assert_eq!(usb.exceptions[0].users, ["yamada"]);
    assert!(usb.encrypted_only);

    // The PC moves to another group: a bad list is refused by field; a good one reaches the
    // agent as a new policy version carrying the groups.
    let href = format!("/agents/{}", enrolled.agent_id);
    let long = "x".repeat(41);
    let p = c
        .post(&format!("{href}/groups"), &[("groups", long.as_str())])
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("AGT0002"), "{}", p.body);
    let p = c
        .post(&format!("{href}/groups"), &[("groups", "reception\n事務")])
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let st = state.clone();
    let (report, body) = blocking(move || {
        let mut agent = Agent::open(st, Root::new(FIXTURE), now).unwrap();
        let r = agent.cycle(now + 1_000).unwrap();
        (r, agent.policy().1.unwrap())
    })
    .await;
    assert_eq!(report.policy_version, Some(2));
    assert_eq!(body.groups, ["reception", "事務"]);

    // Audited; a staff member may look but not change.
    let audited = s.svc.store.audit_events(1000, 0).await.unwrap();
    assert!(
        audited.iter().any(|e| e.action == "agents.policy_changed"),
        "{audited:?}"
    );
    let staff = s.add_user("staff1", Role::Staff).await;
    let mut sc = s.login(&staff).await;
    assert_eq!(sc.get("/agents/policy").await.status, 403);
    let auditor = s.add_user("kansa1", Role::Auditor).await;
    let mut ac = s.login(&auditor).await;
    let p = ac.get("/agents/policy").await;
    assert_eq!(p.status, 200);
    assert!(!p.has("ポリシーを保存"), "{}", p.body);
    assert_eq!(
        ac.post("/agents/policy", &form("allow", "allow", ""))
            .await
            .status,
        403
    );
}

/// A PC that never reaches the server: enrolled by carried files, its logs and inventory
/// exported to a signed file and taken in through the UI (an altered file is refused and
/// nothing is stored; the same file twice is refused), and a changed policy carried to it.
#[tokio::test]
async fn a_standalone_pc_is_enrolled_and_read_by_carried_files() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    let p = c
        .post(
            "/agents/enroll",
            &[("note", "健診室"), ("groups", "kenshin")],
        )
        .await;
    let token = token_in(&p.body);
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::new(dir.path().join("state"));
    let request = dir.path().join("enrol-request.json");
    run::enroll_offline_request(&state, &token, "kenshin-pc01", "feedc0de", &request).unwrap();
    // Nothing is enrolled until the answer comes back.
    assert!(!state.is_enrolled());

    // Wrong files and no file are refused by name.
    let p = c
        .post_multipart(
            "/agents/offline/enroll",
            &[],
            Some((
                "file",
                "x.json",
                b"{\"format\":\"something else\"}".to_vec(),
            )),
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("AGT0070"), "{}", p.body);
    let p = c.post_multipart("/agents/offline/enroll", &[], None).await;
    assert_eq!(p.status, 400);
    assert!(p.has("AGT0075"), "{}", p.body);

    let p = c
        .post_multipart(
            "/agents/offline/enroll",
            &[],
            Some((
                "file",
                "enrol-request.json",
                std::fs::read(&request).unwrap(),
            )),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let answer_path = dir.path().join("answer.json");
    std::fs::write(&answer_path, &p.body).unwrap();
    let now = s.clock.now_ms();
    let id = run::enroll_offline_answer(&state, &answer_path, now).unwrap();
    assert!(id.server.is_empty());
    // The token is used: the same request again is refused.
    let p = c
        .post_multipart(
            "/agents/offline/enroll",
            &[],
            Some(("file", "r.json", std::fs::read(&request).unwrap())),
        )
        .await;
    assert!(p.has("AGT0014"), "{}", p.body);

    // The PC works offline: a USB decision and an inventory wait in its spool.
    let export = dir.path().join("logs.json");
    let (st, ex) = (state.clone(), export.clone());
    let (report, n) = blocking(move || {
        let mut agent = Agent::open(st, Root::new(FIXTURE), now).unwrap();
        agent
            .record_device(&stick(now + 1_000, Mode::Deny))
            .unwrap();
        let r = agent.cycle(now + 2_000).unwrap();
        let n = agent.export(&ex, now + 3_000, false).unwrap();
        (r, n)
    })
    .await;
    assert!(report.offline.unwrap().contains("standalone"));
    assert_eq!(n, 2);
    let original = std::fs::read(&export).unwrap();

    // Altered on the way: refused, nothing stored.
    let mut altered: wire::ExportFile = serde_json::from_slice(&original).unwrap();
    altered.body = altered
        .body
        .replace("4C530001230915117283", "4C530001230915117284");
    let p = c
        .post_multipart(
            "/agents/offline/import",
            &[],
            Some(("file", "logs.json", serde_json::to_vec(&altered).unwrap())),
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("AGT0072"), "{}", p.body);
    assert!(
        s.svc
            .store
            .agent_inventory(id.agent_id)
            .await
            .unwrap()
            .is_none()
    );

    let p = c
        .post_multipart(
            "/agents/offline/import",
            &[],
            Some(("file", "logs.json", original.clone())),
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(
        p.location.as_deref(),
        Some(format!("/agents/{}?ok=agent_export_imported", id.agent_id).as_str())
    );
    let p = c.get("/logs/events?action=device_connected").await;
    assert!(p.has("0781:5583:4C530001230915117283"), "{}", p.body);
    assert!(
        s.svc
            .store
            .agent_inventory(id.agent_id)
            .await
            .unwrap()
            .is_some()
    );
    // The same file again: refused.
    let p = c
        .post_multipart(
            "/agents/offline/import",
            &[],
            Some(("file", "logs.json", original)),
        )
        .await;
    assert!(p.has("AGT0074"), "{}", p.body);

    // Two more trips: the later file first is refused (the earlier one's entries would be
    // skipped for good), nothing stored; in order, both go in, and either may be tried again
    // after a failure because only their entries' numbers count.
    let (second, third) = (dir.path().join("logs2.json"), dir.path().join("logs3.json"));
    let (st, a, b) = (state.clone(), second.clone(), third.clone());
    blocking(move || {
        let mut agent = Agent::open(st, Root::new(FIXTURE), now).unwrap();
        agent
            .record_device(&stick(now + 10_000, Mode::Deny))
            .unwrap();
        assert_eq!(agent.export(&a, now + 11_000, false).unwrap(), 1);
        agent
            .record_device(&stick(now + 12_000, Mode::ReadOnly))
            .unwrap();
        assert_eq!(agent.export(&b, now + 13_000, false).unwrap(), 1);
    })
    .await;
    let file = |f: &std::path::Path| Some(("file", "logs.json", std::fs::read(f).unwrap()));
    let url = "/agents/offline/import";
    let before = s
        .svc
        .store
        .agent(id.agent_id)
        .await
        .unwrap()
        .unwrap()
        .acked_seq;
    let p = c.post_multipart(url, &[], file(&third)).await;
    assert_eq!(p.status, 400);
    assert!(p.has("AGT0076"), "{}", p.body);
    let row = s.svc.store.agent(id.agent_id).await.unwrap().unwrap();
    assert_eq!(row.acked_seq, before);
    assert_eq!(c.post_multipart(url, &[], file(&second)).await.status, 303);
    assert_eq!(c.post_multipart(url, &[], file(&third)).await.status, 303);
    let row = s.svc.store.agent(id.agent_id).await.unwrap().unwrap();
    assert_eq!(row.acked_seq, before + 2);
    let p = c.post_multipart(url, &[], file(&second)).await;
    assert!(p.has("AGT0074"), "{}", p.body);

    // The files did not free anything on the PC: a lost file can be written again with
    // everything not acknowledged (here all of it is stored already).
    let again = dir.path().join("again.json");
    let (st, a) = (state.clone(), again.clone());
    let (n, waiting) = blocking(move || {
        let mut agent = Agent::open(st, Root::new(FIXTURE), now).unwrap();
        let n = agent.export(&a, now + 14_000, true).unwrap();
        (n, agent.spool.lock().unwrap().stats().1)
    })
    .await;
    assert_eq!((n, waiting), (4, 4));
    let p = c.post_multipart(url, &[], file(&again)).await;
    assert!(p.has("AGT0074"), "{}", p.body);

    // A policy change reaches the PC as a file.
    let form = [
        ("mass_storage", "read_only"),
        ("optical", "read_only"),
        ("phone", "deny"),
        ("bluetooth", "deny"),
        ("other", "allow"),
        ("exceptions", ""),
    ];
    assert_eq!(c.post("/agents/policy", &form).await.status, 303);
    let p = c.get(&format!("/agents/{}/policy-file", id.agent_id)).await;
    assert_eq!(p.status, 200);
    let policy_path = dir.path().join("policy.json");
    std::fs::write(&policy_path, &p.body).unwrap();
    let st = state.clone();
    let pp = policy_path.clone();
    let (version, mode) = blocking(move || {
        let mut agent = Agent::open(st, Root::new(FIXTURE), now).unwrap();
        let v = agent.import_policy(&pp).unwrap();
        (v, agent.policy().0.mass_storage)
    })
    .await;
    assert_eq!((version, mode), (Some(1), Mode::ReadOnly));
    // The policy file also carried the acknowledgement of the files taken in: freed.
    let st = state.clone();
    let waiting = blocking(move || {
        let agent = Agent::open(st, Root::new(FIXTURE), now).unwrap();
        let (_, waiting, _) = agent.spool.lock().unwrap().stats();
        waiting
    })
    .await;
    assert_eq!(waiting, 0);
    // A policy file altered on the way does not verify.
    let mut bad: wire::PolicyFile =
        serde_json::from_slice(&std::fs::read(&policy_path).unwrap()).unwrap();
    bad.policy.body = bad.policy.body.replace("read_only", "allow");
    std::fs::write(&policy_path, serde_json::to_vec(&bad).unwrap()).unwrap();
    let st = state.clone();
    let refused = blocking(move || {
        Agent::open(st, Root::new(FIXTURE), now)
            .unwrap()
            .import_policy(&policy_path)
    })
    .await;
    assert!(refused.is_err(), "{refused:?}");
}

/// A mass copy to a USB stick, as the agent's device-operation log reports it, raises the
/// shipped detection rule's alert (100 files or more by one user on one PC within 10 minutes).
#[tokio::test]
async fn a_mass_copy_reported_by_an_agent_raises_an_alert() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    let (_dir, state, _) = enrolled_via_ui(&s, &mut c, "医事課", "", "iji-pc02").await;
    let now = s.clock.now_ms();
    let report = blocking(move || {
        let mut agent = Agent::open(state, Root::new(FIXTURE), now).unwrap();
        for i in 0..120 {
            agent
                .record_file(
                    &FileWrite {
                        user: "sato".into(),
                        program: "cp".into(),
                        path: format!("/export/患者一覧_{i:03}.csv"),
                        size: 4_096,
                        sha256: format!("{i:064x}"),
                        vendor_id: "0781".into(),
                        product_id: "5583".into(),
                        serial: "4C530001230915117283".into(),
                    },
                    now + i * 1_000,
                )
                .unwrap();
        }
        agent.cycle(now + 130_000).unwrap()
    })
    .await;
    assert_eq!(report.sent, 121, "{report:?}");
    let mut det = mamori_service::detection::Detector::new(None, 60_000);
    s.svc.detect_pending(&mut det).await.unwrap();
    let alerts = s.svc.store.alerts(None, 100).await.unwrap();
    let titles: Vec<&str> = alerts.iter().map(|a| a.title.as_str()).collect();
    assert!(titles.contains(&"外部記録媒体への大量コピー"), "{titles:?}");
}

#[tokio::test]
async fn service_allow_lists_are_edited_per_class_and_checked_against_what_agents_run() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    let (_dir, state, id) = enrolled_via_ui(&s, &mut c, "受付2", "", "uketsuke-02").await;
    let now = s.clock.now_ms();
    // The recorded PC runs anydesk (started by hand) and listens on tcp/5900 for the network;
    // cups on 127.0.0.1:631 is not reachable and not compared.
    let report = blocking(move || {
        let mut a = Agent::open(state, Root::new(FIXTURE), now).unwrap();
        a.cycle(now).unwrap()
    })
    .await;
    assert_eq!(report.inventory, "full");
    let href = format!("/agents/{}", id.agent_id);
    let p = c
        .post(
            &format!("{href}/ledger"),
            &[
                ("action", "register"),
                ("tag", "PC-201"),
                ("class", "workstation"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);

    // Never saved: a draft from what the PC reports, for the administrator to cut down.
    let p = c.get("/agents/baselines").await;
    assert_eq!(p.status, 200);
    assert!(
        p.has("不要サービスの許可リスト") && p.has("未設定") && p.has("未照合"),
        "{}",
        p.body
    );
    assert!(
        p.has("tcp/5900") && p.has("anydesk.service") && !p.has("tcp/631"),
        "{}",
        p.body
    );

    // A line that does not read is refused by number, and nothing is stored.
    let p = c
        .post(
            "/agents/baselines",
            &[
                ("asset_class", "workstation"),
                ("text", "tcp/22\nssh\ntcp/70000 # 誤り\n"),
            ],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("3行目") && p.has("AGT0081"), "{}", p.body);
    assert!(p.has("tcp/70000 # 誤り"), "the text is kept: {}", p.body);
    assert!(s.svc.store.service_baselines().await.unwrap().is_empty());
    let p = c
        .post(
            "/agents/baselines",
            &[("asset_class", "medical_device"), ("text", "ssh")],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("AGT0083"), "{}", p.body);

    // Saved without anydesk and its port: the PC is beyond it, on the page, on the agent's
    // page and in checklist item 2-⑬.
    // cups is enabled though not running now: it would start at the next boot, so it counts.
    let list = "tcp/22 # 保守\nudp/5353\nssh\ncron\ncups # 印刷\ngetty@*.service\nremote-support\n";
    let p = c
        .post(
            "/agents/baselines",
            &[("asset_class", "workstation"), ("text", list)],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = c.get("/agents/baselines").await;
    assert!(p.has("リスト外あり") && p.has("7 行"), "{}", p.body);
    let p = c.get(&href).await;
    assert!(
        p.has("許可リストにないもの") && p.has("anydesk.service"),
        "{}",
        p.body
    );
    let item = "/checklist/items/workstation.unneeded_services?edition=R7&variant=hospital&fy=2025";
    let p = c.get(item).await;
    assert!(
        p.has("許可リストにないポートやサービス")
            && p.has("uketsuke-02（tcp/5900、anydesk.service）"),
        "{}",
        p.body
    );
    // The servers' list is another one: 2-⑫ does not see the PC.
    let p = c
        .get("/checklist/items/server.unneeded_services?edition=R7&variant=hospital&fy=2025")
        .await;
    assert!(!p.has("uketsuke-02"), "{}", p.body);

    // With the two added (and why), the PC keeps within it; the save is audited.
    let list = format!("{list}tcp/5900 # 遠隔保守（契約あり）\nanydesk\n");
    let p = c
        .post(
            "/agents/baselines",
            &[("asset_class", "workstation"), ("text", list.as_str())],
        )
        .await;
    assert_eq!(p.status, 303);
    let p = c.get(item).await;
    assert!(
        p.has("許可リストの範囲内で動いています") && p.has("mamori の許可リスト"),
        "{}",
        p.body
    );
    let saved = s.svc.store.service_baselines().await.unwrap();
    assert_eq!(saved.len(), 1);
    assert!(saved[0].body.ends_with("anydesk"));
    let audits = s.svc.store.audit_events(100, 0).await.unwrap();
    assert_eq!(
        audits
            .iter()
            .filter(|e| e.action == "agents.baseline_saved")
            .count(),
        2
    );
}
