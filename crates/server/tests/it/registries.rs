//! Every registry of the ledger through the same generic path: pages render in Japanese without
//! untranslated keys, export then import changes nothing, bad rows are named and nothing is
//! written, retire keeps the record with its history, and the findings and contact chart show
//! what the sample facility hides.

use mamori_catalog::Lang;
use mamori_domain::ledger::{Contact, InfoSystem, Person, Vendor};
use mamori_domain::registry::{Record, RegistryKind};
use mamori_ingest::read_table;
use mamori_server::for_kind;
use mamori_service::import::ImportOptions;
use mamori_service::{Actor, ClientInfo, perm};
use mamori_testkit::{PASSWORD, TestServer};

async fn demo_server() -> TestServer {
    let s = TestServer::start().await;
    let today = mamori_service::Clock::today(&*s.clock);
    let demo = mamori_service::demo::demo_facility(today, 7);
    s.svc.seed_demo(&demo, PASSWORD).await.unwrap();
    s
}

/// Names of catalog keys that leaked into a page untranslated.
fn untranslated(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    for prefix in [
        "registry.",
        "_field.",
        "_hint.",
        "ledger_finding.",
        "contact_chart.",
    ] {
        let mut rest = body;
        while let Some(i) = rest.find(prefix) {
            let after = &rest[i + prefix.len()..];
            let word: String = after
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !word.is_empty() {
                out.push(format!("{prefix}{word}"));
            }
            rest = &rest[i + prefix.len()..];
        }
    }
    out
}

#[tokio::test]
async fn every_registry_page_renders_in_japanese() {
    let s = demo_server().await;
    let admin = s.add_user("kanri", mamori_domain::role::Role::Admin).await;
    let mut c = s.login(&admin).await;
    let mut urls = vec![
        "/ledger".to_string(),
        "/ledger/findings".to_string(),
        "/ledger/contacts/chart".to_string(),
    ];
    for k in RegistryKind::ALL {
        let p = k.plural();
        urls.push(format!("/ledger/{p}"));
        urls.push(format!("/ledger/{p}/new"));
        urls.push(format!("/ledger/{p}/import"));
        urls.push(format!("/ledger/{p}?q=a&page=2"));
    }
    for id in 1..=3 {
        for p in ["assets", "systems", "persons", "accounts", "vendors"] {
            urls.push(format!("/ledger/{p}/{id}"));
            urls.push(format!("/ledger/{p}/{id}/edit"));
        }
    }
    for url in &urls {
        let p = c.get(url).await;
        assert_eq!(p.status, 200, "{url}");
        let raw = untranslated(&p.body);
        assert!(raw.is_empty(), "{url}: untranslated {raw:?}");
    }
    // A vendor's page lists what refers to it: its systems and devices.
    let p = c.get("/ledger/vendors/1").await;
    assert!(p.has("電子カルテシステム"), "{}", p.body);
    // Unknown registries and ids are 404, not errors.
    assert_eq!(c.get("/ledger/castles").await.status, 404);
    assert_eq!(c.get("/ledger/systems/999999").await.status, 404);
    assert_eq!(c.get("/ledger/systems/x").await.status, 404);

    // The read-only overviews send people to the registries, row by row.
    let p = c.get("/accounts").await;
    assert!(p.has("href=\"/ledger/accounts\"") && p.has("href=\"/ledger/accounts/1\""));
    let p = c.get("/vendors").await;
    assert!(p.has("href=\"/ledger/vendors\"") && p.has("href=\"/ledger/vendors/1\""));
    assert!(p.has("href=\"/ledger/vendor_documents\""));
}

#[tokio::test]
async fn export_then_import_changes_nothing_for_every_registry() {
    let s = demo_server().await;
    let actor = Actor::local("test");
    let view = actor.can::<perm::ViewLedger>().unwrap();
    let edit = actor.can::<perm::EditLedger>().unwrap();
    let client = ClientInfo::new("local", "test");
    for k in RegistryKind::ALL {
        for_kind!(*k, R => {
            let t = s.svc.record_table::<R>(&view, Lang::Ja).await.unwrap();
            for (bytes, name) in [
                (mamori_reports::table::csv(&t.headers, &t.rows), "x.csv"),
                (mamori_reports::table::xlsx("台帳", &t.headers, &t.rows).unwrap(), "x.xlsx"),
            ] {
                let table = read_table(&bytes, Some(name)).unwrap();
                let r = s
                    .svc
                    .import_records::<R>(&edit, &table, ImportOptions::default(), Lang::Ja, &client)
                    .await
                    .unwrap();
                assert!(r.errors.is_empty(), "{:?} {name}: {:?}", R::KIND, r.errors);
                assert_eq!(
                    (r.new.len(), r.changed.len(), r.missing.len(), r.unchanged),
                    (0, 0, 0, t.rows.len()),
                    "{:?} {name}: {:?}",
                    R::KIND,
                    r.changed
                );
            }
        });
    }
}

async fn import<R: Record>(
    s: &TestServer,
    csv: &str,
    opts: ImportOptions,
) -> mamori_service::import::ImportReport {
    let actor = Actor::local("test");
    let cap = actor.can::<perm::EditLedger>().unwrap();
    let table = read_table(csv.as_bytes(), Some("x.csv")).unwrap();
    s.svc
        .import_records::<R>(
            &cap,
            &table,
            opts,
            Lang::Ja,
            &ClientInfo::new("local", "test"),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn systems_and_staff_import_with_names_labels_and_wareki() {
    let s = demo_server().await;
    let systems_before = s.svc.store.records::<InfoSystem>().await.unwrap().len();
    // Bad rows: unknown vendor, impossible date, unknown choice, number out of range. Nothing written.
    let bad = "システム名,種類,事業者,提供形態,二要素認証の導入予定日,パスワード最小文字数\r\n\
               病棟看護支援,部門システム,存在しない株式会社,オンプレミス,R8.2.30,8\r\n\
               給食管理,宇宙システム,株式会社メディネクスト,SaaS,,300\r\n";
    let r = import::<InfoSystem>(&s, bad, ImportOptions::default()).await;
    let got: Vec<(usize, &str)> = r.errors.iter().map(|d| (d.line, d.code)).collect();
    assert!(got.contains(&(2, "LED0012")), "{got:?}");
    assert!(
        got.iter().any(|(l, c)| *l == 2 && c.starts_with("DATE")),
        "{got:?}"
    );
    assert!(got.contains(&(3, "LED0010")), "{got:?}");
    assert!(got.contains(&(3, "LED0016")), "{got:?}");
    assert!(r.errors.iter().all(|d| d.column.is_some()));
    assert!(!r.committed);
    assert_eq!(
        s.svc.store.records::<InfoSystem>().await.unwrap().len(),
        systems_before
    );

    // Good rows: labels, vendor by name, 和暦, full-width digits, はい/いいえ.
    let good = "システム名,種類,事業者,提供形態,二要素認証,二要素認証の導入予定日,アクセスログの記録,パスワード最小文字数\r\n\
                病棟看護支援,部門システム,株式会社メディネクスト,オンプレミス,未導入,令和9年3月31日,あり,１２文字\r\n";
    let r = import::<InfoSystem>(&s, good, ImportOptions::default()).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(r.committed);
    let sys = s.svc.store.records::<InfoSystem>().await.unwrap();
    let x = sys.iter().find(|x| x.name == "病棟看護支援").unwrap();
    assert_eq!(x.password.min_length, Some(12));
    assert_eq!(x.access_log, Some(true));
    assert_eq!(
        mamori_domain::registry::day_text(x.two_factor_plan_on),
        "2027-03-31"
    );
    // Columns left out keep their values; the history records the import.
    let again = "システム名,パスワード最小文字数\r\n病棟看護支援,13\r\n";
    let r = import::<InfoSystem>(&s, again, ImportOptions::default()).await;
    assert_eq!(r.changed.len(), 1, "{:?}", r.changed);
    assert_eq!(
        r.changed[0].2,
        vec![("pw_min_length", "12".into(), "13".into())]
    );

    // Staff: a duplicate staff number in the file is named at its row.
    let dup = "職員番号,氏名,職種\r\nS-900,試験 一郎,看護師\r\nS-900,試験 二郎,医師\r\n";
    let r = import::<Person>(&s, dup, ImportOptions::default()).await;
    assert_eq!(r.errors.len(), 1);
    assert_eq!((r.errors[0].line, r.errors[0].code), (3, "LED0009"));
}

#[tokio::test]
async fn create_retire_and_findings_in_the_browser() {
    let s = demo_server().await;
    let admin = s.add_user("kanri", mamori_domain::role::Role::Admin).await;
    let mut c = s.login(&admin).await;

    // A contact without any way to reach it is refused, naming the field.
    let p = c
        .post(
            "/ledger/contacts",
            &[
                ("role", "police"),
                ("organization", "県警察本部 サイバー犯罪相談窓口"),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("LED0019"));
    let p = c
        .post(
            "/ledger/contacts",
            &[
                ("role", "police"),
                ("organization", "県警察本部 サイバー犯罪相談窓口"),
                ("phone", "＃９１１０"),
                ("verified_on", "2025-09-01"),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let url = p.location.unwrap();
    let chart = c.get("/ledger/contacts/chart").await;
    assert!(
        chart.has("サイバー犯罪相談窓口") && chart.has("#9110"),
        "{}",
        chart.body
    );

    // Vendors: certifications from check boxes.
    let p = c
        .post(
            "/ledger/vendors",
            &[
                ("name", "株式会社テスト保守"),
                ("certifications", "isms"),
                ("certifications", "pmark"),
                ("status", "active"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let v = s.svc.store.records::<Vendor>().await.unwrap();
    let v = v.iter().find(|v| v.name == "株式会社テスト保守").unwrap();
    assert_eq!(v.certifications.len(), 2);

    // Retire: the contact stays, marked, with a history entry; the audit trail has it.
    let id = url
        .trim_start_matches("/ledger/contacts/")
        .split('?')
        .next()
        .unwrap();
    let p = c.post(&format!("/ledger/contacts/{id}/retire"), &[]).await;
    assert_eq!(p.status, 303);
    let contact = s
        .svc
        .store
        .record::<Contact>(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!contact.active);
    assert_eq!(
        s.svc.store.audit_events(1, 0).await.unwrap()[0].action,
        "ledger.record_retired"
    );
    let p = c.get(&format!("/ledger/contacts/{id}")).await;
    assert!(p.has("利用終了"));

    // The findings page names what the sample clinic hides.
    let p = c.get("/ledger/findings").await;
    for want in [
        "退職者のアカウントが有効のまま",
        "二要素認証がなく導入予定もないシステム",
        "パスワード設定が 2-⑦ を満たさないシステム",
        "管理者権限のあるアカウント",
    ] {
        assert!(p.has(want), "missing {want}");
    }

    // Read-only roles cannot retire.
    let staff = s.add_user("staff9", mamori_domain::role::Role::Staff).await;
    let mut st = s.login(&staff).await;
    assert_eq!(st.post("/ledger/vendors/1/retire", &[]).await.status, 403);
}
