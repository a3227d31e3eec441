//! Ledger import and export: round-trip identity, all-or-nothing, errors with row and column.

use mamori_catalog::Lang;
use mamori_domain::ledger::Asset;
use mamori_ingest::read_table;
use mamori_service::import::{ImportOptions, ImportReport};
use mamori_service::{Actor, ClientInfo, perm};
use mamori_testkit::{PASSWORD, TestServer};

async fn demo_server() -> TestServer {
    let s = TestServer::start().await;
    let today = mamori_service::Clock::today(&*s.clock);
    let demo = mamori_service::demo::demo_facility(today, 7);
    s.svc.seed_demo(&demo, PASSWORD).await.unwrap();
    s
}

async fn import(s: &TestServer, bytes: &[u8], name: &str, opts: ImportOptions) -> ImportReport {
    let table = read_table(bytes, Some(name)).unwrap();
    let actor = Actor::local("test");
    let cap = actor.can::<perm::EditLedger>().unwrap();
    s.svc
        .import_records::<Asset>(
            &cap,
            &table,
            opts,
            Lang::Ja,
            &ClientInfo::new("local", "test"),
        )
        .await
        .unwrap()
}

async fn export(s: &TestServer) -> mamori_service::ledger::TextTable {
    let actor = Actor::local("test");
    let cap = actor.can::<perm::ViewLedger>().unwrap();
    s.svc.record_table::<Asset>(&cap, Lang::Ja).await.unwrap()
}

fn csv_of(t: &mamori_service::ledger::TextTable) -> Vec<u8> {
    mamori_reports::table::csv(&t.headers, &t.rows)
}

#[tokio::test]
async fn export_then_import_changes_nothing() {
    let s = demo_server().await;
    let t = export(&s).await;
    assert!(t.rows.len() >= 30);
    let audit_before = s.svc.store.audit_count().await.unwrap();
    for (bytes, name) in [
        (csv_of(&t), "assets.csv"),
        (
            mamori_reports::table::xlsx("機器台帳", &t.headers, &t.rows).unwrap(),
            "assets.xlsx",
        ),
    ] {
        let r = import(&s, &bytes, name, ImportOptions::default()).await;
        assert!(r.errors.is_empty(), "{name}: {:?}", r.errors);
        assert_eq!(
            (r.new.len(), r.changed.len(), r.missing.len()),
            (0, 0, 0),
            "{name}"
        );
        assert_eq!(r.unchanged, t.rows.len());
    }
    assert_eq!(export(&s).await, t, "the ledger is unchanged");
    // Each (empty) commit still leaves one audit event saying an import happened.
    assert_eq!(s.svc.store.audit_count().await.unwrap(), audit_before + 2);
}

#[tokio::test]
async fn shift_jis_with_wareki_dates_imports_and_records_history() {
    let s = demo_server().await;
    let mut t = export(&s).await;
    let row = t.rows.iter_mut().find(|r| r[0] == "A-0001").unwrap();
    row[3] = "サーバ室".into(); // 設置場所
    row[8] = "令和11年1月9日".into(); // 更新期限
    row[14] = "R7.10.1".into(); // 最終パッチ適用日
    let mut new_row = vec![String::new(); t.headers.len()];
    new_row[0] = "A-9000".into();
    new_row[1] = "端末PC".into();
    new_row[2] = "PC-健診-01".into();
    new_row[3] = "健診室".into();
    new_row[7] = "令和3年4月".into();
    new_row[15] = "稼働".into();
    t.rows.push(new_row);
    let text = String::from_utf8(csv_of(&t)).unwrap();
    let (sjis, _, bad) = encoding_rs::SHIFT_JIS.encode(text.trim_start_matches('\u{feff}'));
    assert!(!bad);
    let dry = import(
        &s,
        &sjis,
        "assets.csv",
        ImportOptions {
            dry_run: true,
            ..Default::default()
        },
    )
    .await;
    assert!(dry.errors.is_empty(), "{:?}", dry.errors);
    assert_eq!((dry.new.len(), dry.changed.len()), (1, 1));
    assert!(!dry.committed);
    let r = import(&s, &sjis, "assets.csv", ImportOptions::default()).await;
    assert!(r.committed);
    let a = s
        .svc
        .store
        .records::<Asset>()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.tag == "A-0001")
        .unwrap();
    assert_eq!(a.location, "サーバ室");
    assert_eq!(a.eol_on.unwrap().to_string(), "2029-01-09");
    assert_eq!(a.last_patch_on.unwrap().to_string(), "2025-10-01");
    let h = s.svc.store.history("asset", a.id.0).await.unwrap();
    assert_eq!(h[0].action, "imported");
    assert!(h[0].changes.contains("サーバ室"));
    let added = s
        .svc
        .store
        .records::<Asset>()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.tag == "A-9000")
        .unwrap();
    assert_eq!(added.installed_on.unwrap().to_string(), "2021-04-01");
}

#[tokio::test]
async fn bad_files_name_row_and_column_and_write_nothing() {
    let s = demo_server().await;
    let before = export(&s).await;
    let audit_before = s.svc.store.audit_count().await.unwrap();
    let h = before.headers.join(",");

    // A required column missing.
    let r = import(
        &s,
        "機器名,設置場所\nPC,受付\n".as_bytes(),
        "x.csv",
        ImportOptions::default(),
    )
    .await;
    assert!(
        r.errors
            .iter()
            .any(|e| e.code == "IMP0201" && e.column.as_deref() == Some("管理番号")),
        "{:?}",
        r.errors
    );

    // An unknown column.
    let r = import(
        &s,
        format!("{h},色\n").as_bytes(),
        "x.csv",
        ImportOptions::default(),
    )
    .await;
    assert!(
        r.errors
            .iter()
            .any(|e| e.code == "IMP0202" && e.message_ja.contains("色")),
        "{:?}",
        r.errors
    );

    // Impossible date, unknown vendor, bad class, duplicate tag: each with its row and column.
    let mut rows = vec![h.clone()];
    rows.push("A-1,端末PC,PC-1,受付,,,,,,,,,,,2025/2/30,稼働,,,,,,".into());
    rows.push("A-2,端末PC,PC-2,受付,,,存在しない株式会社,,,,,,,,,稼働,,,,,,".into());
    rows.push("A-3,お城,PC-3,受付,,,,,,,,,,,,稼働,,,,,,".into());
    rows.push("A-4,端末PC,PC-4,受付,,,,,,,,,,,,稼働,,,,,,".into());
    rows.push("A-4,端末PC,PC-5,受付,,,,,,,,,,,,稼働,,,,,,".into());
    let r = import(
        &s,
        rows.join("\r\n").as_bytes(),
        "x.csv",
        ImportOptions::default(),
    )
    .await;
    let got: Vec<(usize, &str, String)> = r
        .errors
        .iter()
        .map(|e| (e.line, e.code, e.column.clone().unwrap_or_default()))
        .collect();
    assert!(
        got.contains(&(2, "DATE0002", "O列（最終パッチ適用日）".into())),
        "{got:?}"
    );
    assert!(
        got.contains(&(3, "LED0012", "G列（保守業者）".into())),
        "{got:?}"
    );
    assert!(
        got.contains(&(4, "LED0010", "B列（種別）".into())),
        "{got:?}"
    );
    assert!(
        got.contains(&(6, "LED0009", "A列（管理番号）".into())),
        "{got:?}"
    );
    assert!(!r.committed);

    // Nothing was written by any of them.
    assert_eq!(export(&s).await, before);
    assert_eq!(s.svc.store.audit_count().await.unwrap(), audit_before);
}

#[tokio::test]
async fn retire_missing_only_when_asked() {
    let s = demo_server().await;
    let mut t = export(&s).await;
    let gone = t.rows.remove(0);
    let bytes = csv_of(&t);
    let r = import(&s, &bytes, "x.csv", ImportOptions::default()).await;
    assert_eq!(r.missing.len(), 1);
    let a = s
        .svc
        .store
        .records::<Asset>()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.tag == gone[0])
        .unwrap();
    assert_ne!(
        a.status.as_str(),
        "disposed",
        "missing rows are only reported by default"
    );
    let r = import(
        &s,
        &bytes,
        "x.csv",
        ImportOptions {
            retire_missing: true,
            ..Default::default()
        },
    )
    .await;
    assert!(r.committed);
    let a = s
        .svc
        .store
        .records::<Asset>()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.tag == gone[0])
        .unwrap();
    assert_eq!(a.status.as_str(), "disposed");
    assert!(a.disposed_on.is_some());
}

async fn upload(
    c: &mut mamori_testkit::Client,
    name: &str,
    bytes: Vec<u8>,
    csrf: Option<&str>,
) -> mamori_testkit::Page {
    let mut form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
    );
    if let Some(t) = csrf {
        form = form.text("_csrf", t.to_string());
    }
    let r = c
        .http
        .post(format!("{}/ledger/assets/import", c.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    mamori_testkit::Page {
        status,
        location,
        body: r.text().await.unwrap(),
    }
}

#[tokio::test]
async fn import_in_the_browser_previews_then_commits() {
    let s = demo_server().await;
    let admin = s.add_user("kanri", mamori_domain::role::Role::Admin).await;
    let mut c = s.login(&admin).await;
    let csrf = c.csrf.clone().unwrap();

    // Download: CSV with BOM and a Japanese file name.
    let r = c
        .http
        .get(format!("{}/ledger/assets/export/data.csv", c.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("filename*=UTF-8''")
    );
    let csv = r.bytes().await.unwrap().to_vec();
    assert!(csv.starts_with("\u{feff}管理番号".as_bytes()));

    // Without the token: refused. Not a multipart upload: refused with its code.
    assert_eq!(upload(&mut c, "a.csv", csv.clone(), None).await.status, 403);
    let p = c.post("/ledger/assets/import", &[("file", "x")]).await;
    assert_eq!(p.status, 415);
    assert!(p.has("REQ0002"));

    // A file with an error: the preview lists it with row and column; no commit button.
    let mut text = String::from_utf8(csv.clone()).unwrap();
    text.push_str("A-7777,端末PC,PC-X,受付,,,,2021-13,,,,,,,,稼働,,,,,,\r\n");
    let p = upload(&mut c, "a.csv", text.into_bytes(), Some(&csrf)).await;
    assert_eq!(p.status, 400);
    assert!(p.has("H列（導入年月）") && p.has("DATE0002"), "{}", p.body);
    assert!(!p.has("/ledger/assets/import/commit"));

    // A good file: preview, then commit.
    let mut text = String::from_utf8(csv).unwrap();
    text.push_str("A-7777,端末PC,PC-健診-02,健診室,,,,R4.4,,,,,,,,稼働,,,,,,\r\n");
    let p = upload(&mut c, "a.csv", text.into_bytes(), Some(&csrf)).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.has("PC-健診-02"));
    let token = p
        .body
        .split("name=\"token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    assert!(
        s.svc
            .store
            .records::<Asset>()
            .await
            .unwrap()
            .iter()
            .all(|a| a.tag != "A-7777"),
        "preview writes nothing"
    );
    let p = c
        .post("/ledger/assets/import/commit", &[("token", "not-a-token")])
        .await;
    assert_eq!(p.status, 409);
    assert!(p.has("IMP0204"));
    let p = c
        .post("/ledger/assets/import/commit", &[("token", &token)])
        .await;
    assert_eq!(p.location.as_deref(), Some("/ledger/assets?ok=imported"));
    assert!(
        s.svc
            .store
            .records::<Asset>()
            .await
            .unwrap()
            .iter()
            .any(|a| a.tag == "A-7777")
    );
    // The token works once.
    assert_eq!(
        c.post("/ledger/assets/import/commit", &[("token", &token)])
            .await
            .status,
        409
    );
}
