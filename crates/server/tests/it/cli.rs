//! The `mamori` command line: non-interactive setup and its refusals, bad configuration.

use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_mamori");

fn mamori(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("MAMORI_AUTH__ARGON2_MEMORY_KIB", "8192")
        .env("MAMORI_AUTH__ARGON2_ITERATIONS", "1")
        .env_remove("MAMORI_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn setup_runs_once_and_names_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let pw = tmp.path().join("pw");
    std::fs::write(&pw, "yama-no-ue-no-shiroi-kumo\n").unwrap();
    let pw = pw.to_str().unwrap();
    let base = [
        "setup",
        "--facility-name",
        "ひかり薬局",
        "--admin-login",
        "kanri",
        "--admin-name",
        "管理者",
        "--admin-password-file",
        pw,
    ];

    // Missing flags without a terminal: a clear error, nothing created.
    let o = mamori(&["setup", "--facility-name", "x"], &data);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--facility-kind"), "{}", text(&o));

    // A kind that does not exist.
    let mut args = base.to_vec();
    args.extend(["--facility-kind", "castle"]);
    let o = mamori(&args, &data);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("castle"), "{}", text(&o));

    // A weak password is refused with its code.
    let weak = tmp.path().join("weak");
    std::fs::write(&weak, "pass").unwrap();
    let o = mamori(
        &[
            "setup",
            "--facility-kind",
            "pharmacy",
            "--facility-name",
            "ひかり薬局",
            "--admin-login",
            "kanri",
            "--admin-name",
            "管理者",
            "--admin-password-file",
            weak.to_str().unwrap(),
        ],
        &data,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("PWD0001"), "{}", text(&o));

    let mut args = base.to_vec();
    args.extend(["--facility-kind", "pharmacy"]);
    let o = mamori(&args, &data);
    assert!(o.status.success(), "{}", text(&o));

    // The second setup is refused.
    let o = mamori(&args, &data);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("SET0001"), "{}", text(&o));

    let o = mamori(&["audit-verify"], &data);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).starts_with("OK: 1 records"), "{}", text(&o));
}

#[test]
fn bad_configuration_is_named_and_nothing_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "listen = \"127.0.0.1:0\"\n[tls]\nmode = \"sometimes\"\n",
    )
    .unwrap();
    let o = mamori(&["serve", "--config", cfg.to_str().unwrap()], tmp.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("tls.mode"), "{}", text(&o));

    std::fs::write(&cfg, "lisen = \"127.0.0.1:0\"\n").unwrap();
    let o = mamori(&["serve", "--config", cfg.to_str().unwrap()], tmp.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("lisen"), "{}", text(&o));

    let o = mamori(
        &["serve", "--listen", "0.0.0.0:0", "--tls", "off"],
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("loopback"), "{}", text(&o));

    let o = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path())
        .env("MAMORI_LISTN", "x")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("MAMORI_LISTN"), "{}", text(&o));
    assert!(
        !tmp.path().join("mamori.db").exists(),
        "nothing was created"
    );
}

#[test]
fn verify_checks_a_sealed_bundle_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut log, _) = mamori_seal::SealedLog::open(
        &tmp.path().join("seal"),
        mamori_seal::SealOptions::default(),
    )
    .unwrap();
    let payloads: Vec<Vec<u8>> = (0..50)
        .map(|i| format!("{{\"event\":{i},\"actor\":\"nurse{i}\"}}").into_bytes())
        .collect();
    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    log.append_batch(1_759_276_800_000, &refs).unwrap();
    log.sign_head(1_759_276_801_000).unwrap();
    let key = log.public_key().hex();
    let bundle = tmp.path().join("bundle.seal");
    log.export(0..50, std::fs::File::create(&bundle).unwrap())
        .unwrap();

    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let b = bundle.to_str().unwrap();
    let o = run(&["verify", b, "--pubkey", &key]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("OK: records 0..50"), "{}", text(&o));

    // Another key: refused.
    let other = "ab".repeat(32);
    let o = run(&["verify", b, "--pubkey", &other]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    // One byte of one payload changed: refused, naming the record.
    let mut bytes = std::fs::read(&bundle).unwrap();
    let needle = b"nurse17";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    bytes[at + 5] = b'9';
    std::fs::write(&bundle, &bytes).unwrap();
    let o = run(&["verify", b, "--pubkey", &key]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("17"), "{}", text(&o));

    // Garbage: a clear error, never a crash.
    std::fs::write(&bundle, b"not a bundle").unwrap();
    let o = run(&["verify", b]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

#[test]
fn log_export_seals_what_is_pending_and_refuses_while_the_server_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    set_up_clinic(tmp.path(), &data);
    let bundle = tmp.path().join("audit.seal");

    // A running server holds the sealed log: the offline export refuses, clearly.
    let held = mamori_service::sealing::Sealer::open(&data.join("seal")).unwrap();
    let o = mamori(&["log", "export", "-o", bundle.to_str().unwrap()], &data);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("SEA0002"), "{}", text(&o));
    drop(held);

    let o = mamori(&["log", "export", "-o", bundle.to_str().unwrap()], &data);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("records 0..1"),
        "the setup event was sealed: {}",
        text(&o)
    );
    let o = Command::new(BIN)
        .args(["verify", bundle.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
}

#[tokio::test]
async fn checklist_status_reports_the_demo_contradiction() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    {
        let store = mamori_storage::Store::open_data_dir(&data).await.unwrap();
        let clock = std::sync::Arc::new(mamori_service::ManualClock::new(mamori_testkit::T0_MS));
        let hasher =
            mamori_service::PasswordHasher::new(mamori_service::Argon2Params::FOR_TESTS, 1)
                .unwrap();
        let svc = mamori_service::Services::new(store, clock.clone(), hasher);
        let today = mamori_service::Clock::today(&*clock);
        let demo = mamori_service::demo::demo_facility(today, 7);
        svc.seed_demo(&demo, mamori_testkit::PASSWORD)
            .await
            .unwrap();
        svc.store.close().await;
    }
    let dir = data.clone();
    let o = tokio::task::spawn_blocking(move || {
        mamori(
            &["checklist", "status", "--json", "--fiscal-year", "2025"],
            &dir,
        )
    })
    .await
    .unwrap();
    // Exit 1: an answer of はい is contradicted.
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["edition"], "R7");
    assert_eq!(doc["variant"], "hospital");
    let items = doc["items"].as_array().unwrap();
    assert_eq!(items.len(), 19);
    let i25 = items.iter().find(|i| i["id"] == "2-⑤").unwrap();
    assert_eq!(i25["verdict"], "fail");
    assert_eq!(i25["answer"], "yes");
    assert_eq!(i25["contradiction"], true);
    assert!(
        i25["facts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "leaver_accounts")
    );
    // Evaluated today, not on the day the demo was made: at least 2-⑤ stays contradicted.
    assert!(doc["summary"]["contradictions"].as_u64().unwrap() >= 1);

    // The plain listing says the same in Japanese.
    let dir = data.clone();
    let o = tokio::task::spawn_blocking(move || {
        mamori(&["checklist", "status", "--fiscal-year", "2025"], &dir)
    })
    .await
    .unwrap();
    assert!(text(&o).contains("★矛盾"), "{}", text(&o));

    // The form as files for the inspection; the same content gives the same hash.
    let mut hashes = Vec::new();
    for f in ["form.html", "form.xlsx", "form.html"] {
        let dir = data.clone();
        let out = tmp.path().join(f);
        let o2 = out.clone();
        let o = tokio::task::spawn_blocking(move || {
            mamori(
                &[
                    "checklist",
                    "export",
                    "--fiscal-year",
                    "2025",
                    "-o",
                    o2.to_str().unwrap(),
                ],
                &dir,
            )
        })
        .await
        .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let t = text(&o);
        let hash = t.split("content hash: ").nth(1).unwrap().trim().to_string();
        assert_eq!(hash.len(), 64);
        hashes.push(hash);
        let bytes = std::fs::read(&out).unwrap();
        if f.ends_with(".html") {
            let html = String::from_utf8(bytes).unwrap();
            assert!(html.contains("2-⑤") && html.contains("チェック項目"));
        } else {
            assert!(bytes.starts_with(b"PK"));
        }
    }
    assert_eq!(hashes[0], hashes[2]);
    let pdf = tmp.path().join("form.pdf");
    let dir = data.clone();
    let p2 = pdf.clone();
    let o = tokio::task::spawn_blocking(move || {
        mamori(
            &[
                "checklist",
                "export",
                "--fiscal-year",
                "2025",
                "-o",
                p2.to_str().unwrap(),
            ],
            &dir,
        )
    })
    .await
    .unwrap();
    match mamori_server::fonts::find_japanese_font(None) {
        Ok(_) => {
            assert!(o.status.success(), "{}", text(&o));
            assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF"));
        }
        Err(_) => {
            eprintln!("no Japanese font on this machine: checking the refusal instead");
            assert_eq!(o.status.code(), Some(2));
            assert!(text(&o).contains("FNT0001"), "{}", text(&o));
            assert!(!pdf.exists());
        }
    }
    // A format it does not write: refused, nothing written.
    let dir = data.clone();
    let bad = tmp.path().join("form.docx");
    let b2 = bad.clone();
    let o = tokio::task::spawn_blocking(move || {
        mamori(&["checklist", "export", "-o", b2.to_str().unwrap()], &dir)
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--format"), "{}", text(&o));
    assert!(!bad.exists());

    // A form that does not exist: a clear error naming it.
    let dir = data.clone();
    let o = tokio::task::spawn_blocking(move || {
        mamori(&["checklist", "status", "--edition", "R99"], &dir)
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("CHK0010"), "{}", text(&o));
}

/// A data directory whose sealed log holds 30 records: two at 00:30, 09:30 and 23:30 (JST) of
/// each day from 2026-10-31 to 2026-11-04. Returns the key.
fn log_over_five_days(data: &std::path::Path) -> String {
    let (mut log, _) =
        mamori_seal::SealedLog::open(&data.join("seal"), mamori_seal::SealOptions::default())
            .unwrap();
    // 2026-10-31 00:00 JST.
    let oct31: i64 = 1_793_372_400_000;
    for day in 0..5i64 {
        for hour in [0i64, 9, 23] {
            let t = oct31 + day * 86_400_000 + hour * 3_600_000 + 30 * 60_000;
            let p1 = format!("{{\"day\":{day},\"hour\":{hour},\"n\":1}}").into_bytes();
            let p2 = format!("{{\"day\":{day},\"hour\":{hour},\"n\":2}}").into_bytes();
            log.append_batch(t, &[p1.as_slice(), p2.as_slice()])
                .unwrap();
        }
    }
    let key = log.public_key().hex();
    log.close(oct31 + 5 * 86_400_000).unwrap();
    key
}

#[test]
fn log_export_by_period_or_by_record_number() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let key = log_over_five_days(&data);
    let out = tmp.path().join("out.seal");
    let o_str = out.to_str().unwrap().to_string();
    let export = |args: &[&str]| {
        let _ = std::fs::remove_file(&out);
        let mut all = vec!["log", "export", "-o", o_str.as_str()];
        all.extend_from_slice(args);
        mamori(&all, &data)
    };
    for (args, want) in [
        // Whole days, JST: a date as --to runs through the end of that day.
        (
            &["--from", "2026-11-01", "--to", "2026-11-02"][..],
            "records 6..18",
        ),
        (
            &["--from", "令和8年11月1日", "--to", "2026/11/1"][..],
            "records 6..12",
        ),
        // Minutes: --to includes its whole minute (09:30:00 is in).
        (
            &["--from", "2026-11-01T09:00", "--to", "2026-11-01T09:30"][..],
            "records 8..10",
        ),
        (&["--from", "2026-11-01 09:31"][..], "records 10..30"),
        // RFC 3339 with an offset: 2026-11-01T00:30Z is 09:30 JST.
        (
            &[
                "--from",
                "2026-11-01T00:30:00Z",
                "--to",
                "2026-11-01T00:30:00.000Z",
            ][..],
            "records 8..10",
        ),
        (&["--to", "2026-10-31"][..], "records 0..6"),
        (
            &["--from-index", "3", "--to-index", "7"][..],
            "records 3..7",
        ),
        (&["--from-index", "25"][..], "records 25..30"),
        (&[][..], "records 0..30"),
    ] {
        let o = export(args);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(want), "{args:?}: {}", text(&o));
        // Every bundle, from the middle too, verifies offline with the facility's key.
        let v = Command::new(BIN)
            .args(["verify", o_str.as_str(), "--pubkey", &key])
            .output()
            .unwrap();
        assert!(v.status.success(), "{args:?}: {}", text(&v));
        assert!(
            text(&v).contains(&want.replace("records", "OK: records")),
            "{}",
            text(&v)
        );
    }

    // Bad input: a clear error naming the flag, a non-zero exit, no file.
    for (args, code, names) in [
        (&["--from", "2026-02-30"][..], "SEA0003", "--from"),
        (&["--to", "yesterday"][..], "SEA0003", "--to"),
        (&["--from", "2026-11-01T25:00"][..], "SEA0003", "DATE0005"),
        (&["--from", "5"][..], "SEA0003", "--from-index"),
        (
            &["--from", "2026-11-03", "--to", "2026-11-01"][..],
            "SEA0004",
            "--from/--to",
        ),
        (&["--from", "2027-01-01"][..], "SEA0005", "--from/--to"),
        (
            &["--from", "2026-11-02T01:00", "--to", "2026-11-02T09:00"][..],
            "SEA0005",
            "--from/--to",
        ),
        (
            &["--from-index", "7", "--to-index", "3"][..],
            "SEA0004",
            "--from-index",
        ),
        (&["--from-index", "30"][..], "SEA0005", "--from-index"),
        (
            &["--from", "2026-11-01", "--from-index", "3"][..],
            "cannot be used with",
            "--from-index",
        ),
    ] {
        let o = export(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(
            text(&o).contains(code) && text(&o).contains(names),
            "{args:?}: {}",
            text(&o)
        );
        assert!(!out.exists(), "{args:?}: no file written");
        assert!(!out.with_extension("partial").exists());
    }

    // The help says how.
    let o = Command::new(BIN)
        .args(["log", "export", "--help"])
        .output()
        .unwrap();
    let help = text(&o);
    for want in [
        "--from-index",
        "--to-index",
        "2026-11-01",
        "令和8年11月1日",
        "end of that day",
        "mamori verify",
    ] {
        assert!(help.contains(want), "{want}: {help}");
    }
}

/// A clinic set up non-interactively in `data` (its password file under `tmp`).
fn set_up_clinic(tmp: &std::path::Path, data: &std::path::Path) {
    let pw = tmp.join("pw");
    std::fs::write(&pw, "yama-no-ue-no-shiroi-kumo\n").unwrap();
    let o = mamori(
        &[
            "setup",
            "--facility-kind",
            "clinic",
            "--facility-name",
            "あおば医院",
            "--admin-login",
            "kanri",
            "--admin-name",
            "管理者",
            "--admin-password-file",
            pw.to_str().unwrap(),
        ],
        data,
    );
    assert!(o.status.success(), "{}", text(&o));
}

/// The shared Windows event log samples (GPL, never copied into the repository).
fn evtx_sample(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata/evtx")
        .join(name)
}

#[test]
fn log_ingest_seals_and_indexes_and_search_finds_who_did_what() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    set_up_clinic(tmp.path(), &data);
    let logons = evtx_sample("Credential Access/CA_4624_4625_LogonType2_LogonProc_chrome.evtx");
    let cleared = evtx_sample("Defense Evasion/DE_1102_security_log_cleared.evtx");
    // A syslog file with one line too long to be a message between two good ones, and an EHR
    // access log as JSON lines.
    let syslog = tmp.path().join("messages.log");
    let mut text_log =
        b"<38>Oct 11 22:14:15 ehr-srv01 sshd[812]: Accepted password for tanaka\n".to_vec();
    text_log.extend(vec![b'x'; 70 * 1024]);
    text_log.extend(b"\n<38>Oct 11 22:14:20 ehr-srv01 sshd[812]: session closed for tanaka\n");
    std::fs::write(&syslog, &text_log).unwrap();
    let jsonl = tmp.path().join("ehr.jsonl");
    std::fs::write(
        &jsonl,
        "{\"@timestamp\":\"2026-11-20T10:00:00+09:00\",\"host\":\"ehr-srv01\",\"user\":\"sato\",\"message\":\"カルテ参照 P-000123\"}\nnot json\n",
    )
    .unwrap();

    // The server holds the event log: ingest refuses, clearly.
    let held = mamori_service::logs::open_event_log(&data).unwrap();
    let o = mamori(&["log", "ingest", logons.to_str().unwrap()], &data);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("SEA0002"), "{}", text(&o));
    drop(held);

    let o = mamori(
        &[
            "log",
            "ingest",
            logons.to_str().unwrap(),
            cleared.to_str().unwrap(),
            syslog.to_str().unwrap(),
            jsonl.to_str().unwrap(),
        ],
        &data,
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("messages.log: 2 件を取り込みました"), "{out}");
    assert!(out.contains("読めなかった記録 1 件"), "{out}");
    assert!(out.contains("LOG0001"), "the bad line is shown: {out}");
    assert!(out.contains("ehr.jsonl: 1 件"), "{out}");

    // Failed logons, found by action; the JSON output is one object per line.
    let o = mamori(
        &["log", "search", "--action", "logon_failed", "--json"],
        &data,
    );
    assert!(o.status.success(), "{}", text(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty(), "4625 events in the sample");
    assert!(
        lines
            .iter()
            .all(|l| l["action"] == "logon_failed" && l["outcome"] == "failure")
    );
    let o = mamori(
        &["log", "search", "--action", "audit_log_cleared", "--json"],
        &data,
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).lines().count(),
        1,
        "{}",
        text(&o)
    );
    let o = mamori(
        &["log", "search", "--text", "tanaka", "--host", "ehr-srv01"],
        &data,
    );
    assert!(text(&o).contains("2 / 2"), "{}", text(&o));
    let o = mamori(&["log", "search", "--actor", "sato", "--json"], &data);
    assert!(text(&o).contains("カルテ参照"), "{}", text(&o));
    // A bad flag is named.
    let o = mamori(&["log", "search", "--from", "来週"], &data);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--from"), "{}", text(&o));

    // What was sealed is searchable even when the index lost it: drop the index rows and the
    // next open catches up from the sealed event log.
    let o = mamori(&["log", "search", "--limit", "10000", "--json"], &data);
    let before = String::from_utf8_lossy(&o.stdout).lines().count();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = mamori_storage::Store::open_data_dir(&data).await.unwrap();
        sqlx::query("DELETE FROM log_events WHERE seal_index >= 3")
            .execute(store.pool())
            .await
            .unwrap();
        store.close().await;
    });
    let o = mamori(
        &[
            "log",
            "ingest",
            "--format",
            "jsonl",
            jsonl.to_str().unwrap(),
        ],
        &data,
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = mamori(&["log", "search", "--limit", "10000", "--json"], &data);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).lines().count(),
        before + 1,
        "every sealed event is back in the index, plus the new one"
    );
}

#[test]
fn log_ingest_reads_an_access_log_csv_through_a_profile() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    set_up_clinic(tmp.path(), &data);
    // The generic layout, with an impossible time on line 3.
    let generic = tmp.path().join("karte_access.csv");
    std::fs::write(
        &generic,
        "日時,利用者ID,患者ID,操作,端末\r\n2026/11/20 09:00:00,sato,P-000123,参照,PC-診察1\r\n2026/11/20 25:00:00,sato,P-000123,参照,PC-診察1\r\n2026/11/20 09:05:00,tanaka,P-000123,更新,PC-病棟-01\r\n",
    )
    .unwrap();
    // A レセコン export without a header row, tab-separated, Shift_JIS, named .txt.
    let (tsv, _, _) = encoding_rs::SHIFT_JIS
        .encode("2026/11/20 10:00:00\tuketsuke\tPC-受付-01\tP-000123\t照会\n");
    let rececon = tmp.path().join("rececon.txt");
    std::fs::write(&rececon, tsv).unwrap();

    // An unknown profile is named, with the ones there are; nothing is taken in.
    let o = mamori(
        &[
            "log",
            "ingest",
            generic.to_str().unwrap(),
            "--profile",
            "nope",
        ],
        &data,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("LOG0023") && out.contains("nope"), "{out}");
    assert!(
        out.contains("generic, karte-split-date, rececon-tsv"),
        "{out}"
    );
    // A profile is for CSV only.
    let o = mamori(
        &[
            "log",
            "ingest",
            generic.to_str().unwrap(),
            "--format",
            "jsonl",
            "--profile",
            "generic",
        ],
        &data,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("LOG0024"), "{}", text(&o));
    let o = mamori(&["log", "search", "--patient", "P-000123", "--json"], &data);
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 0);

    let o = mamori(
        &[
            "log",
            "ingest",
            "--format",
            "csv",
            "--profile",
            "generic",
            generic.to_str().unwrap(),
        ],
        &data,
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("karte_access.csv: 2 件を取り込みました"),
        "{out}"
    );
    assert!(out.contains("読めなかった記録 1 件"), "{out}");
    assert!(out.contains("LOG0111 3行目"), "{out}");
    // --profile alone means CSV, whatever the file is called.
    let o = mamori(
        &[
            "log",
            "ingest",
            rececon.to_str().unwrap(),
            "--profile",
            "rececon-tsv",
        ],
        &data,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("rececon.txt: 1 件"), "{}", text(&o));

    // Who opened P-000123's record?
    let o = mamori(&["log", "search", "--patient", "P-000123", "--json"], &data);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let who: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l["actor"].as_str().unwrap(), l["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        who,
        vec![
            ("uketsuke", "record_viewed"),
            ("tanaka", "record_changed"),
            ("sato", "record_viewed"),
        ]
    );
}

/// SigmaHQ's rules and regression samples (DRL licensed, never copied into the repository).
fn sigma(rel: &str) -> Option<std::path::PathBuf> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/sigma");
    if dir.join("rules/windows").is_dir() {
        return Some(dir.join(rel));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} missing under CI",
        dir.display()
    );
    eprintln!("skipped: Sigma test data {} not there", dir.display());
    None
}

#[test]
fn detect_scan_reports_detections_bad_rules_and_damaged_files() {
    // Without --rules: a clear error, in both languages.
    let o = Command::new(BIN)
        .args(["detect", "scan", "x.evtx"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("DET0020"), "{}", text(&o));
    assert!(text(&o).contains("--rules"), "{}", text(&o));

    let Some(rules) = sigma("rules/windows") else {
        return;
    };
    let id = "589ac73f-8e12-409c-964e-31a2f5775ae2";
    let sample = sigma(&format!(
        "regression/rules/windows/process_creation/proc_creation_win_hktl_wsass/{id}.evtx"
    ))
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // A folder with the sample, a damaged copy and a file that is not an event log at all.
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(logs.join("sub")).unwrap();
    let bytes = std::fs::read(&sample).unwrap();
    std::fs::write(logs.join("sub/good.evtx"), &bytes).unwrap();
    std::fs::write(logs.join("cut.evtx"), &bytes[..bytes.len() - 30_000]).unwrap();
    std::fs::write(logs.join("junk.evtx"), b"not an event log").unwrap();
    // Our own rules: one good, one broken.
    let own = tmp.path().join("own");
    std::fs::create_dir_all(&own).unwrap();
    std::fs::write(own.join("broken.yml"), "title: broken\nid: b\nlogsource:\n  product: windows\ndetection:\n  s:\n    X|nosuch: 1\n  condition: s\n").unwrap();

    let o = Command::new(BIN)
        .args(["detect", "scan", "--json", "--rules"])
        .arg(&rules)
        .arg("--rules")
        .arg(&own)
        .arg(&logs)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    // The junk file is reported and skipped: exit 1, not a crash.
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("junk.evtx"), "{stderr}");
    assert!(stderr.contains("DET0008"), "{stderr}");
    assert!(stderr.contains("refused"), "{stderr}");
    assert!(stderr.contains("detections"), "{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let hits: Vec<&serde_json::Value> = lines.iter().filter(|l| l["rule_id"] == id).collect();
    assert!(!hits.is_empty(), "{stdout}\n{stderr}");
    let hit = hits
        .iter()
        .find(|h| h["file"].as_str().unwrap().ends_with("good.evtx"))
        .unwrap();
    assert_eq!(hit["channel"], "Microsoft-Windows-Sysmon/Operational");
    assert_eq!(hit["event_id"], 1);
    assert!(hit["record_id"].as_u64().is_some());
    assert!(hit["host"].as_str().is_some_and(|h| !h.is_empty()));
    assert!(hit["time"].as_str().is_some_and(|t| t.starts_with("20")));
    assert!(!hit["title"].as_str().unwrap().is_empty());
    assert!(
        hit["fields"].as_object().is_some_and(|f| !f.is_empty()),
        "{hit}"
    );

    // Without --json: one readable line per detection, with the title and rule id.
    let o = Command::new(BIN)
        .args(["detect", "scan", "--rules"])
        .arg(&rules)
        .arg(logs.join("sub"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.lines().any(|l| l.contains(id)), "{stdout}");
}

#[test]
fn the_directory_sync_needs_a_password_and_a_known_system() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let args = [
        "accounts",
        "sync",
        "ldap",
        "--url",
        "ldap://127.0.0.1:9",
        "--bind-dn",
        "cn=reader,dc=clinic,dc=example",
        "--base",
        "dc=clinic,dc=example",
        "--system",
        "院内ドメイン",
    ];
    // No password: refused before anything is opened (an empty one would bind anonymously).
    let o = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(&data)
        .env_remove("MAMORI_LDAP_PASSWORD")
        .env_remove("MAMORI_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("DIR0009"), "{}", text(&o));
    assert!(!data.exists(), "nothing is created");
    let empty = tmp.path().join("empty.pass");
    std::fs::write(&empty, "\n").unwrap();
    let mut with_file = args.to_vec();
    with_file.extend(["--password-file", empty.to_str().unwrap()]);
    let o = mamori(&with_file, &data);
    assert!(text(&o).contains("DIR0009"), "{}", text(&o));

    // The password from the environment (not configuration), and a system the ledger lacks.
    let o = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(&data)
        .env("MAMORI_LDAP_PASSWORD", "secret")
        .env_remove("MAMORI_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("DIR0012"), "{}", text(&o));
    assert!(text(&o).contains("--system 院内ドメイン"), "{}", text(&o));
}

#[tokio::test]
async fn a_directory_the_cli_cannot_read_is_on_record() {
    use mamori_domain::ledger::InfoSystem;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let system = {
        let store = mamori_storage::Store::open_data_dir(&data).await.unwrap();
        let clock = std::sync::Arc::new(mamori_service::ManualClock::new(mamori_testkit::T0_MS));
        let hasher =
            mamori_service::PasswordHasher::new(mamori_service::Argon2Params::FOR_TESTS, 1)
                .unwrap();
        let svc = mamori_service::Services::new(store, clock.clone(), hasher);
        let today = mamori_service::Clock::today(&*clock);
        svc.seed_demo(
            &mamori_service::demo::demo_facility(today, 7),
            mamori_testkit::PASSWORD,
        )
        .await
        .unwrap();
        let name = svc.store.records::<InfoSystem>().await.unwrap()[0]
            .name
            .clone();
        svc.store.close().await;
        name
    };
    let pass = tmp.path().join("ldap.pass");
    std::fs::write(&pass, "secret\n").unwrap();
    let dir = data.clone();
    let sys = system.clone();
    let o = tokio::task::spawn_blocking(move || {
        mamori(
            &[
                "accounts",
                "sync",
                "ldap",
                "--url",
                "ldap://127.0.0.1:9",
                "--bind-dn",
                "cn=reader,dc=clinic,dc=example",
                "--base",
                "dc=clinic,dc=example",
                "--system",
                &sys,
                "--password-file",
                pass.to_str().unwrap(),
                "--timeout",
                "2",
            ],
            &dir,
        )
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("DIR0001"), "{}", text(&o));

    // The failure is listed on the directory page's record and in the audit trail.
    let store = mamori_storage::Store::open_data_dir(&data).await.unwrap();
    let rows = store.directory_syncs(10).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].via, "cli");
    assert_eq!(rows[0].code, "DIR0001");
    assert_eq!(rows[0].system, system);
    let trail = store.audit_events(50, 0).await.unwrap();
    assert!(
        trail
            .iter()
            .any(|e| e.action == "accounts.directory_sync_failed" && e.detail.contains("DIR0001")),
        "the failure is in the audit trail"
    );
    store.close().await;
}
