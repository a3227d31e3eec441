//! A system's own account list (CSV/Excel) on either database: the columns are guessed from the
//! headers, a problem names its line and column and writes nothing, the mapping is corrected
//! and saved for the system, accounts link to staff by staff number or name and kana, a name
//! alone is queued for a person to confirm, and the queue links or rejects; missing accounts
//! are disabled on request.

use mamori_domain::ledger::{Account, DeliveryModel, InfoSystem, JobType, Person, SystemCategory};
use mamori_domain::role::Role;
use mamori_domain::{PersonId, SystemId};
use mamori_testkit::TestServer;

fn person(staff_no: &str, name: &str, kana: &str) -> Person {
    Person {
        id: PersonId(0),
        staff_no: staff_no.into(),
        name: name.into(),
        name_kana: kana.into(),
        job: JobType::Nurse,
        department: "外来".into(),
        joined_on: None,
        left_on: None,
        notes: String::new(),
    }
}

/// レセコン with one account already in the ledger, and four staff. Returns the system id.
async fn ledger(s: &TestServer) -> i64 {
    let mut w = s.svc.store.write().await.unwrap();
    let mut rc = InfoSystem::blank(SystemCategory::Receipt, DeliveryModel::OnPremises);
    rc.name = "レセコン".into();
    let rc = mamori_storage::registry::insert(&mut w, &rc).await.unwrap();
    for p in [
        person("N-001", "山田 花子", "ヤマダ ハナコ"),
        person("N-002", "佐藤 一郎", "サトウ イチロウ"),
        person("N-003", "田中 三郎", "タナカ サブロウ"),
        person("N-004", "鈴木 次郎", "スズキ ジロウ"),
    ] {
        mamori_storage::registry::insert(&mut w, &p).await.unwrap();
    }
    let old = Account::new(SystemId(rc), "retired-user");
    mamori_storage::registry::insert(&mut w, &old)
        .await
        .unwrap();
    w.commit().await.unwrap();
    rc
}

const LIST: &str = "\u{feff}ユーザーID,氏名,カナ,職員番号,状態,権限,最終ログイン日時\r\n\
yamada,山田 花子,,N-001,有効,一般,2026/11/20 08:31\r\n\
sato,佐藤 一郎,ｻﾄｳ ｲﾁﾛｳ,,有効,一般,2026/11/19 17:02\r\n\
tanaka,田中 三郎,タナカ サンロウ,,有効,一般,\r\n\
kanri,鈴木 次郎,スズキ ジロウ,,有効,システム管理者,令和8年11月30日\r\n\
old,,,,停止,一般,2025/03/31\r\n";

fn token(body: &str) -> String {
    let at = body.find(r#"name="token" value=""#).expect("a staged file");
    let rest = &body[at + r#"name="token" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// The mapping form as the page posts it.
fn mapping(
    token: &str,
    system: &str,
    action: &str,
    admin_values: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("token", token.to_string()),
        ("system", system.to_string()),
        ("col_login", "ユーザーID".into()),
        ("col_name", "氏名".into()),
        ("col_kana", "カナ".into()),
        ("col_staff_no", "職員番号".into()),
        ("col_enabled", "状態".into()),
        ("col_admin", "権限".into()),
        ("col_last_login", "最終ログイン日時".into()),
        ("admin_values", admin_values.into()),
        ("disable_missing", "on".into()),
        ("action", action.into()),
    ]
}

async fn audit_count(s: &TestServer) -> usize {
    s.svc.store.audit_events(100_000, 0).await.unwrap().len()
}

async fn accounts(s: &TestServer, system: i64) -> Vec<Account> {
    s.svc
        .store
        .records::<Account>()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.system_id.0 == system)
        .collect()
}

#[tokio::test]
async fn an_account_list_is_mapped_previewed_and_imported() {
    let (s, admin) = TestServer::with_admin().await;
    let rc = ledger(&s).await;
    let rc_s = rc.to_string();
    let mut c = s.login(&admin).await;
    let p = c.get("/accounts/import").await;
    assert_eq!(p.status, 200);
    assert!(p.has("レセコン"), "{}", p.body);

    // No system chosen; no file.
    let p = c
        .post_multipart("/accounts/import", &[("system", "")], None)
        .await;
    assert!(p.status == 400 && p.has("ACI0010"), "{}", p.body);

    // The headers are guessed; 「システム管理者」 is not a yes/no, so the file is refused by line
    // and column until the admin values are given.
    let before = audit_count(&s).await;
    let p = c
        .post_multipart(
            "/accounts/import",
            &[("system", &rc_s)],
            Some(("file", "users.csv", LIST.as_bytes().to_vec())),
        )
        .await;
    assert_eq!(p.status, 400, "{}", p.body);
    assert!(
        p.has("見出しから推測した対応です") && p.has("ACI0009") && p.has(">5</td>"),
        "line 5 named: {}",
        p.body
    );
    assert!(
        p.has(r#"<option value="ユーザーID" selected>"#)
            && p.has(r#"<option value="最終ログイン日時" selected>"#),
        "{}",
        p.body
    );
    let tok = token(&p.body);
    let fields = mapping(&tok, &rc_s, "preview", "システム管理者");
    let as_ref: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let p = c.post("/accounts/import/map", &as_ref).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(
        p.has("取込内容の確認") && p.has("retired-user") && p.has("tanaka</span> → 田中 三郎"),
        "{}",
        p.body
    );
    assert_eq!(audit_count(&s).await, before, "a preview writes nothing");
    assert_eq!(accounts(&s, rc).await.len(), 1);

    // The staged list is not a ledger import: that form refuses its token.
    let p = c
        .post("/ledger/accounts/import/commit", &[("token", tok.as_str())])
        .await;
    assert_eq!(p.status, 409, "{}", p.body);
    assert_eq!(accounts(&s, rc).await.len(), 1);

    // Commit: one transaction, one audit event.
    let fields = mapping(&tok, &rc_s, "commit", "システム管理者");
    let as_ref: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let p = c.post("/accounts/import/map", &as_ref).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(
        p.location.as_deref(),
        Some("/accounts?ok=accounts_imported")
    );
    assert_eq!(audit_count(&s).await, before + 1);
    let all = accounts(&s, rc).await;
    let by = |l: &str| all.iter().find(|a| a.login_id == l).unwrap().clone();
    let persons: Vec<Person> = s.svc.store.records().await.unwrap();
    let pid = |n: &str| persons.iter().find(|p| p.staff_no == n).unwrap().id;
    assert_eq!(by("yamada").person_id, Some(pid("N-001")), "staff number");
    assert_eq!(by("sato").person_id, Some(pid("N-002")), "name and kana");
    assert_eq!(by("kanri").person_id, Some(pid("N-004")));
    assert!(by("kanri").is_admin && !by("yamada").is_admin);
    assert_eq!(by("tanaka").person_id, None, "a name alone does not link");
    assert!(!by("old").enabled);
    assert!(
        !by("retired-user").enabled,
        "missing from the complete list"
    );
    assert_eq!(
        by("yamada").last_login_on,
        Some(time::macros::date!(2026 - 11 - 20))
    );
    let history = s
        .svc
        .store
        .history("account", by("yamada").id.0)
        .await
        .unwrap();
    assert!(history.iter().any(|h| h.action == "account_import"));
    // The staged file is used up.
    let p = c.post("/accounts/import/map", &as_ref).await;
    assert_eq!(p.status, 409);

    // The queue: tanaka → 田中 三郎, accepted; deciding twice is refused.
    let p = c.get("/accounts/matches").await;
    assert!(
        p.has("レセコン / tanaka") && p.has("田中 三郎"),
        "{}",
        p.body
    );
    let m = s.svc.store.account_matches("pending").await.unwrap();
    assert_eq!(m.len(), 1);
    let href = format!("/accounts/matches/{}", m[0].id);
    let p = c.post(&href, &[("action", "accept")]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let tanaka: Account = s
        .svc
        .store
        .record(by("tanaka").id.0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tanaka.person_id, Some(pid("N-003")));
    let p = c.post(&href, &[("action", "reject")]).await;
    assert_eq!(p.status, 409);
    assert!(p.has("ACI0011"), "{}", p.body);
    let p = c.get("/accounts/matches").await;
    assert!(p.has("確認待ちの照合はありません"), "{}", p.body);

    // The next upload starts from the saved mapping.
    let p = c
        .post_multipart(
            "/accounts/import",
            &[("system", &rc_s)],
            Some(("file", "users.csv", LIST.as_bytes().to_vec())),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(
        p.has("前回保存した対応です") && p.has("システム管理者"),
        "{}",
        p.body
    );
}

#[tokio::test]
async fn a_bad_list_names_each_line_and_writes_nothing() {
    let (s, admin) = TestServer::with_admin().await;
    let rc = ledger(&s).await;
    let mut c = s.login(&admin).await;
    let before = audit_count(&s).await;
    let bad = "ID,状態,最終ログイン\nyamada,有効,2026-11-01\n,有効,\nsato,たぶん,\nsuzuki,有効,先週\nYAMADA,有効,\n";
    let p = c
        .post_multipart(
            "/accounts/import",
            &[("system", &rc.to_string())],
            Some(("file", "bad.csv", bad.as_bytes().to_vec())),
        )
        .await;
    assert_eq!(p.status, 400, "{}", p.body);
    for (line, code) in [
        (3, "ACI0003"),
        (4, "ACI0004"),
        (5, "ACI0005"),
        (6, "ACI0006"),
    ] {
        assert!(
            p.has(&format!(">{line}</td>")) && p.has(code),
            "line {line} {code}: {}",
            p.body
        );
    }
    assert!(
        !p.has(r#"value="commit""#),
        "no import button with problems"
    );
    assert_eq!(accounts(&s, rc).await.len(), 1);
    assert_eq!(audit_count(&s).await, before);
    // Not a table at all.
    let p = c
        .post_multipart(
            "/accounts/import",
            &[("system", &rc.to_string())],
            Some(("file", "x.xlsx", b"PK\x03\x04broken".to_vec())),
        )
        .await;
    assert_eq!(p.status, 400, "{}", p.body);
    assert!(p.has("IMP0008") && p.has("読み取れません"), "{}", p.body);
}

#[tokio::test]
async fn only_those_who_edit_the_ledger_import_lists() {
    let (s, _admin) = TestServer::with_admin().await;
    ledger(&s).await;
    let auditor = s.add_user("kansa", Role::Auditor).await;
    let mut a = s.login(&auditor).await;
    assert_eq!(a.get("/accounts/import").await.status, 403);
    let p = a.get("/accounts/matches").await;
    assert_eq!(p.status, 200);
    assert_eq!(
        a.post("/accounts/matches/1", &[("action", "accept")])
            .await
            .status,
        403
    );
    let staff = s.add_user("shokuin", Role::Staff).await;
    let mut st = s.login(&staff).await;
    assert_eq!(st.get("/accounts/matches").await.status, 403);
}
