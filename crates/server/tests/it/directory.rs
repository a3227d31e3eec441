//! Directory sync against a real OpenLDAP server with Active Directory-style entries
//! (`.ci/ldap.sh`, fixtures in `tests/fixtures/ldap/`): paging past the server's size limit,
//! admins through nested groups, the domain password policy, and refusals that change nothing.
//!
//! Needs `MAMORI_TEST_LDAP` (e.g. `ldap://127.0.0.1:23389`); `.ci/run` starts the server and
//! sets it. Without it these tests say so and pass, except under CI, where they fail.

use mamori_domain::ledger::{
    Account, AccountKind, DeliveryModel, InfoSystem, JobType, Person, SystemCategory,
};
use mamori_domain::{AccountId, PersonId, SystemId};
use mamori_server::directory::{ADMIN_GROUPS, DirectoryError, LdapSource, read};
use mamori_service::directory::SyncOptions;
use mamori_service::{Actor, ClientInfo, perm};
use mamori_testkit::TestServer;
use std::path::PathBuf;
use std::time::Duration;

const BASE: &str = "dc=clinic,dc=example";

fn ldap_url() -> Option<String> {
    match std::env::var("MAMORI_TEST_LDAP") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "MAMORI_TEST_LDAP is not set under CI: start .ci/ldap.sh"
            );
            eprintln!("MAMORI_TEST_LDAP is not set: directory tests skipped (.ci/ldap.sh start)");
            None
        }
    }
}

fn ldap_dir() -> PathBuf {
    PathBuf::from(
        std::env::var("MAMORI_TEST_LDAP_DIR").unwrap_or_else(|_| "/tmp/mamori-ldap".into()),
    )
}

fn source(url: &str) -> LdapSource {
    LdapSource {
        url: url.to_string(),
        bind_dn: format!("cn=admin,{BASE}"),
        password: "mamori-ldap".into(),
        base: BASE.into(),
        ca_file: None,
        starttls: false,
        timeout: Duration::from_secs(10),
    }
}

/// The ldaps:// URL of the same server (`.ci/ldap.sh` listens on both).
fn ldaps_url() -> String {
    let port = std::env::var("MAMORI_TEST_LDAPS_PORT").unwrap_or_else(|_| "23636".into());
    format!("ldaps://127.0.0.1:{port}")
}

fn person(staff_no: &str, name: &str) -> Person {
    Person {
        id: PersonId(0),
        staff_no: staff_no.into(),
        name: name.into(),
        name_kana: String::new(),
        job: JobType::Other,
        department: "医事課".into(),
        joined_on: None,
        left_on: None,
        notes: String::new(),
    }
}

fn account(system: i64, login: &str, kind: AccountKind) -> Account {
    Account {
        id: AccountId(0),
        system_id: SystemId(system),
        login_id: login.into(),
        person_id: None,
        kind,
        is_admin: false,
        enabled: true,
        last_login_on: None,
        two_factor: true,
        created_on: None,
        disabled_on: None,
        pw_last_set_on: None,
        pw_never_expires: false,
        locked_out: false,
        admin_approved_by: None,
        admin_approved_on: None,
        notes: "受付の共用端末で使用".into(),
    }
}

/// A server with the domain registered as a system, four people on the roster, and two accounts
/// already in the ledger: the shared reception account (set up by hand) and one of a person
/// deleted from the directory since.
async fn clinic() -> (TestServer, i64) {
    let s = TestServer::start().await;
    let mut w = s.svc.store.write().await.unwrap();
    let mut ad = InfoSystem::blank(SystemCategory::Other, DeliveryModel::OnPremises);
    ad.name = "院内ドメイン".into();
    let system = mamori_storage::registry::insert(&mut w, &ad).await.unwrap();
    for (no, name) in [
        ("S0001", "山田 太郎"),
        ("S0002", "佐藤 花子"),
        ("S0004", "田中 健二"),
        ("S0005", "小林 舞"),
        ("", "伊藤次郎"),
    ] {
        mamori_storage::registry::insert(&mut w, &person(no, name))
            .await
            .unwrap();
    }
    mamori_storage::registry::insert(&mut w, &account(system, "uketsuke", AccountKind::Shared))
        .await
        .unwrap();
    mamori_storage::registry::insert(
        &mut w,
        &account(system, "nakamura.left", AccountKind::Personal),
    )
    .await
    .unwrap();
    w.commit().await.unwrap();
    (s, system)
}

async fn accounts_of(s: &TestServer, system: i64) -> Vec<Account> {
    let mut v: Vec<Account> = s
        .svc
        .store
        .records::<Account>()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.system_id == SystemId(system))
        .collect();
    v.sort_by(|a, b| a.login_id.cmp(&b.login_id));
    v
}

fn admins() -> SyncOptions {
    SyncOptions {
        dry_run: false,
        admin_groups: ADMIN_GROUPS.iter().map(|g| g.to_string()).collect(),
        via: "cli",
    }
}

#[tokio::test]
async fn a_directory_sync_fills_the_accounts_of_a_system() {
    let Some(url) = ldap_url() else { return };
    let (s, system) = clinic().await;
    let mut reads = 0;
    let snapshot = read(&source(&url), &mut |_| reads += 1).await.unwrap();
    // Every user, past slapd's size limit of 500 entries a search.
    assert!(snapshot.users.len() > 500, "{}", snapshot.users.len());
    assert!(reads > 0, "progress is reported every thousand entries");
    let login = |l: &str| snapshot.users.iter().find(|u| u.login == l).unwrap();
    assert_eq!(login("yamada.taro").display_name, "山田 太郎");
    assert_eq!(login("yamada.taro").staff_no.as_deref(), Some("S0001"));
    assert!(!login("sato.hanako").enabled());
    assert!(login("suzuki.ichiro").password_never_expires());
    assert!(login("takahashi.yuki").locked_out());
    assert_eq!(snapshot.groups.len(), 4);
    let policy = snapshot.policy.clone().unwrap();
    assert_eq!(policy.min_length, Some(8));
    assert_eq!(policy.history, Some(0));
    assert_eq!(policy.max_age_days, Some(42));
    assert_eq!(policy.lockout_threshold, Some(0));
    assert_eq!(policy.complex, Some(true));

    let cap = Actor::local("test").can::<perm::EditLedger>().unwrap();
    let client = ClientInfo::new("local", "test");
    // A dry run reports and writes nothing.
    let dry = SyncOptions {
        dry_run: true,
        ..admins()
    };
    let r = s
        .svc
        .sync_directory(&cap, SystemId(system), &snapshot, &dry, &client)
        .await
        .unwrap();
    assert!(!r.committed);
    assert_eq!(r.added.len(), snapshot.users.len() - 1);
    assert_eq!(accounts_of(&s, system).await.len(), 2);

    let r = s
        .svc
        .sync_directory(&cap, SystemId(system), &snapshot, &admins(), &client)
        .await
        .unwrap();
    assert!(r.committed);
    assert_eq!(r.admins, 2);
    assert_eq!(r.disabled, vec!["nakamura.left".to_string()]);
    assert_eq!(
        r.candidates,
        vec![("ito.jiro".to_string(), "伊藤次郎".to_string())]
    );
    let mut never = r.never_expires.clone();
    never.sort();
    assert_eq!(never, vec!["suzuki.ichiro", "vendor.maint"]);
    assert_eq!(r.locked_out, vec!["takahashi.yuki"]);

    let all = accounts_of(&s, system).await;
    assert_eq!(all.len(), snapshot.users.len() + 1);
    let get = |l: &str| all.iter().find(|a| a.login_id == l).unwrap().clone();
    let persons = s.svc.store.records::<Person>().await.unwrap();
    let who = |a: &Account| {
        a.person_id
            .and_then(|id| persons.iter().find(|p| p.id == id))
            .map(|p| p.name.clone())
    };
    assert_eq!(who(&get("yamada.taro")).as_deref(), Some("山田 太郎"));
    assert!(!get("yamada.taro").is_admin);
    assert_eq!(
        get("yamada.taro").last_login_on.map(|d| d.to_string()),
        Some("2026-11-20".to_string())
    );
    assert!(get("tanaka.kenji").is_admin, "Domain Admins");
    assert!(
        get("kobayashi.mai").is_admin,
        "IT Admins inside Administrators"
    );
    assert!(!get("sato.hanako").enabled);
    assert_eq!(who(&get("ito.jiro")), None, "a name alone links nobody");
    // … it waits in the queue for a person to confirm, with the directory's name.
    let queued = s.svc.store.account_matches("pending").await.unwrap();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(
        (queued[0].login_id.as_str(), queued[0].source.as_str()),
        ("ito.jiro", "directory")
    );
    // The password's state is stored as the directory says.
    assert!(get("suzuki.ichiro").pw_never_expires);
    assert!(get("takahashi.yuki").locked_out);
    assert!(!get("yamada.taro").locked_out);
    // What people set by hand stays; the directory owns enabled, admin and last logon.
    let shared = get("uketsuke");
    assert_eq!(shared.kind, AccountKind::Shared);
    assert!(shared.two_factor);
    assert_eq!(shared.notes, "受付の共用端末で使用");
    let gone = get("nakamura.left");
    assert!(!gone.enabled);
    assert!(gone.disabled_on.is_some());
    // The domain policy is now the system's (2-⑦, 2-⑧ read it from there).
    let ad: InfoSystem = s.svc.store.record(system).await.unwrap().unwrap();
    assert_eq!(ad.password.min_length, Some(8));
    assert_eq!(ad.password.max_age_days, Some(42));
    assert_eq!(ad.password.lockout_attempts, Some(0));

    // The same directory again: nothing to do.
    let again = s
        .svc
        .sync_directory(&cap, SystemId(system), &snapshot, &admins(), &client)
        .await
        .unwrap();
    assert!(again.added.is_empty() && again.changed.is_empty() && again.disabled.is_empty());
    assert!(again.policy.is_empty());
    s.stop().await;
}

#[tokio::test]
async fn a_directory_that_cannot_be_read_changes_nothing() {
    let Some(url) = ldap_url() else { return };
    let (s, system) = clinic().await;
    let before = accounts_of(&s, system).await;
    let mut quiet = |_| {};

    let mut bad = source(&url);
    bad.password = "wrong".into();
    let e = read(&bad, &mut quiet).await.unwrap_err();
    assert!(matches!(e, DirectoryError::BadCredentials), "{e}");
    assert_eq!(e.code(), "DIR0003");

    let mut nowhere = source("ldap://127.0.0.1:9");
    nowhere.timeout = Duration::from_secs(3);
    let e = read(&nowhere, &mut quiet).await.unwrap_err();
    assert_eq!(e.code(), "DIR0001", "{e}");

    let mut base = source(&url);
    base.base = "ou=Nowhere,dc=clinic,dc=example".into();
    let e = read(&base, &mut quiet).await.unwrap_err();
    assert_eq!(e.code(), "DIR0004", "{e}");

    let e = read(&source("ftp://127.0.0.1"), &mut quiet)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "DIR0007", "{e}");

    // ldaps:// with a certificate from a CA nobody gave: refused as a TLS error …
    let mut tls = source(&ldaps_url());
    tls.ca_file = Some(PathBuf::from("/nonexistent/ca.pem"));
    let e = read(&tls, &mut quiet).await.unwrap_err();
    assert_eq!(e.code(), "DIR0008", "{e}");
    let other_ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        other_ca.path(),
        rcgen::generate_simple_self_signed(vec!["elsewhere".into()])
            .unwrap()
            .cert
            .pem(),
    )
    .unwrap();
    tls.ca_file = Some(other_ca.path().to_path_buf());
    let e = read(&tls, &mut quiet).await.unwrap_err();
    assert!(matches!(e, DirectoryError::Tls(_)), "{e}");
    // … and read once the facility's CA is given.
    tls.ca_file = Some(ldap_dir().join("ca.pem"));
    let snapshot = read(&tls, &mut quiet).await.unwrap();
    assert!(snapshot.users.len() > 500);
    // StartTLS on the plain port: refused with a CA that did not sign the server's certificate,
    // read with the facility's.
    let mut start = source(&ldap_url().unwrap_or_default());
    start.starttls = true;
    start.ca_file = Some(other_ca.path().to_path_buf());
    let e = read(&start, &mut quiet).await.unwrap_err();
    assert!(matches!(e, DirectoryError::Tls(_)), "{e}");
    start.ca_file = Some(ldap_dir().join("ca.pem"));
    let over_starttls = read(&start, &mut quiet).await.unwrap();
    assert_eq!(over_starttls.users.len(), snapshot.users.len());

    // Two entries with one login refuse the whole snapshot.
    let mut twice = snapshot.clone();
    let mut copy = twice.users[0].clone();
    copy.login = copy.login.to_uppercase();
    twice.users.push(copy);
    let cap = Actor::local("test").can::<perm::EditLedger>().unwrap();
    let e = s
        .svc
        .sync_directory(
            &cap,
            SystemId(system),
            &twice,
            &admins(),
            &ClientInfo::new("local", "test"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            mamori_service::ServiceError::Invalid {
                code: "DIR0010",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(accounts_of(&s, system).await, before);
    s.stop().await;
}

/// `[directory]` of a test server: the fixture directory, its admin's password in a file under
/// the data directory. `MAMORI_TEST_LDAP` is read here because a `start_with` hook is a plain fn.
fn scheduled(c: &mut mamori_server::config::Config) {
    c.directory = Some(directory_config(&c.data_dir));
}

fn directory_config(data_dir: &std::path::Path) -> mamori_server::config::DirectoryConfig {
    std::fs::create_dir_all(data_dir).unwrap();
    let pass = data_dir.join("ldap.pass");
    std::fs::write(&pass, "mamori-ldap\n").unwrap();
    mamori_server::config::DirectoryConfig {
        url: std::env::var("MAMORI_TEST_LDAP").unwrap_or_default(),
        bind_dn: format!("cn=admin,{BASE}"),
        password_file: pass,
        base: BASE.into(),
        system: "院内ドメイン".into(),
        ca_file: None,
        starttls: false,
        admin_groups: ADMIN_GROUPS.iter().map(|g| g.to_string()).collect(),
        every: Duration::from_secs(300),
    }
}

async fn audit_actions(s: &TestServer) -> Vec<(String, String)> {
    s.svc
        .store
        .audit_events(1000, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.action, r.detail))
        .collect()
}

#[tokio::test]
async fn the_scheduled_sync_records_failures_and_applies_the_directory() {
    if ldap_url().is_none() {
        return;
    }
    let s = TestServer::start_with(scheduled).await;
    // The first turn runs at start, before the system is in the ledger: refused, on record.
    let mut failed = None;
    for _ in 0..300 {
        failed = audit_actions(&s)
            .await
            .into_iter()
            .find(|(a, _)| a == "accounts.directory_sync_failed");
        if failed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, detail) = failed.expect("the failed sync is in the audit trail");
    assert!(detail.contains("DIR0012"), "{detail}");

    // The same turn once the system is registered: every account, as the audit trail says.
    let mut w = s.svc.store.write().await.unwrap();
    let mut ad = InfoSystem::blank(SystemCategory::Other, DeliveryModel::OnPremises);
    ad.name = "院内ドメイン".into();
    let system = mamori_storage::registry::insert(&mut w, &ad).await.unwrap();
    w.commit().await.unwrap();
    let mut cfg = directory_config(s.dir.path());
    let r = mamori_server::directory::sync_and_record(&s.svc, &cfg, "manual")
        .await
        .unwrap();
    assert!(r.committed);
    assert_eq!(accounts_of(&s, system).await.len(), r.users);
    assert!(
        audit_actions(&s)
            .await
            .iter()
            .any(|(a, d)| a == "accounts.directory_synced" && d.contains("\"added\""))
    );
    let synced = accounts_of(&s, system).await;
    let history = s
        .svc
        .store
        .history("account", synced[0].id.0)
        .await
        .unwrap();
    assert_eq!(history[0].action, "directory_sync");
    assert!(
        history[0].actor.contains("system:directory-sync"),
        "{}",
        history[0].actor
    );

    // A password that no longer works: refused, nothing changed.
    std::fs::write(&cfg.password_file, "changed-on-the-server\n").unwrap();
    let f = mamori_server::directory::sync_and_record(&s.svc, &cfg, "manual")
        .await
        .unwrap_err();
    assert_eq!(f.code, "DIR0003");
    cfg.password_file = cfg.password_file.with_extension("missing");
    let f = mamori_server::directory::sync_and_record(&s.svc, &cfg, "manual")
        .await
        .unwrap_err();
    assert_eq!(f.code, "DIR0009");
    assert_eq!(accounts_of(&s, system).await, synced);
    s.stop().await;
}

#[tokio::test]
async fn the_directory_page_shows_the_syncs_and_syncs_now() {
    if ldap_url().is_none() {
        return;
    }
    let s = TestServer::start_with(scheduled).await;
    let admin = s.setup_admin().await;
    let mut c = s.login(&admin).await;
    // The turn at start failed (no such system yet): the page says so, in Japanese, with the code.
    let mut page = c.get("/accounts/directory").await;
    for _ in 0..300 {
        if page.body.contains("DIR0012") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        page = c.get("/accounts/directory").await;
    }
    assert_eq!(page.status, 200);
    assert!(page.has("直近の同期は失敗しました"), "{}", page.body);
    assert!(
        page.has("台帳に該当する情報システムがありません"),
        "{}",
        page.body
    );
    assert!(page.has("定期"));
    assert!(page.has("dc=clinic,dc=example"));
    assert!(page.has("今すぐ同期"));
    assert!(c.get("/accounts").await.has("/accounts/directory"));

    let mut w = s.svc.store.write().await.unwrap();
    let mut ad = InfoSystem::blank(SystemCategory::Other, DeliveryModel::OnPremises);
    ad.name = "院内ドメイン".into();
    let system = mamori_storage::registry::insert(&mut w, &ad).await.unwrap();
    w.commit().await.unwrap();
    let p = c.post("/accounts/directory", &[]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let page = c.get(p.location.as_deref().unwrap()).await;
    assert!(page.has("ディレクトリと同期しました"), "{}", page.body);
    assert!(page.has("画面から"));
    assert!(page.has("反映"));
    assert!(!page.has("直近の同期は失敗しました"));
    let n = accounts_of(&s, system).await.len();
    assert!(n > 500);
    assert!(page.has(&format!(">{n}<")), "the count of users is shown");
    // アカウント lists findings first and stays short; the ledger pages through the rest.
    let accounts = c.get("/accounts").await;
    assert_eq!(accounts.status, 200);
    assert!(
        accounts.has(&format!(
            "指摘のあるものから 300 件を表示しています（全 {n} 件）"
        )),
        "{}",
        &accounts.body[..2000.min(accounts.body.len())]
    );
    assert!(accounts.body.matches("/ledger/accounts/").count() <= 300);
    let rows = s.svc.store.directory_syncs(10).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0].via.as_str(), rows[0].code.as_str()),
        ("manual", "")
    );
    assert_eq!(rows[1].code, "DIR0012");

    // An auditor sees the page but cannot start a sync; staff do not see accounts at all.
    let auditor = s
        .add_user("kansa", mamori_domain::role::Role::Auditor)
        .await;
    let mut a = s.login(&auditor).await;
    let page = a.get("/accounts/directory").await;
    assert_eq!(page.status, 200);
    assert!(!page.has("今すぐ同期"));
    assert_eq!(a.post("/accounts/directory", &[]).await.status, 403);
    let staff = s
        .add_user("shokuin", mamori_domain::role::Role::Staff)
        .await;
    let mut st = s.login(&staff).await;
    assert_eq!(st.get("/accounts/directory").await.status, 403);
    s.stop().await;
}

#[tokio::test]
async fn without_a_configured_directory_the_page_explains_and_refuses_to_sync() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    let page = c.get("/accounts/directory").await;
    assert_eq!(page.status, 200);
    assert!(page.has("定期同期は設定されていません"), "{}", page.body);
    assert!(page.has("同期の記録はまだありません"));
    assert!(!page.has("今すぐ同期"));
    assert_eq!(c.post("/accounts/directory", &[]).await.status, 404);
    s.stop().await;
}
