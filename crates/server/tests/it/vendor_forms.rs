//! The 事業者確認用 round trip: the form goes out as XLSX per (vendor, system), comes back filled
//! in (as Excel rewrites it) and is read back whole or not at all, each problem named by its
//! cell; the vendor answers its own systems in the portal and sees nobody else's.

use crate::checklist::{demo_server, untranslated};
use mamori_domain::checklist::Answer;
use mamori_domain::ledger::{InfoSystem, SystemCategory};
use mamori_domain::role::Role;
use mamori_ingest::{Limits, read_xlsx_grid};
use mamori_service::vendor_forms::VendorForm;
use mamori_service::{Actor, perm};
use mamori_storage::checklist::FormKey;
use mamori_testkit::{Client, TestServer};
use rust_xlsxwriter::Workbook;

/// The demo's vendor forms of this fiscal year.
async fn forms(s: &TestServer) -> Vec<VendorForm> {
    let actor = Actor::local("test");
    let cap = actor.can::<perm::ViewChecklist>().unwrap();
    let fy = mamori_domain::wareki::fiscal_year(mamori_service::Clock::today(&*s.clock));
    s.svc.vendor_forms(&cap, fy).await.unwrap()
}

async fn answered(s: &TestServer, key: &FormKey) -> mamori_service::checklist::Assessment {
    let actor = Actor::local("test");
    let cap = actor.can::<perm::ViewChecklist>().unwrap();
    s.svc.assessment(&cap, key).await.unwrap()
}

async fn download(c: &mut Client, path: &str) -> Vec<u8> {
    let r = c
        .http
        .get(format!("{}{path}", c.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{path}");
    r.bytes().await.unwrap().to_vec()
}

/// One row as a person fills it in: (printed id, はい, いいえ, 確認日, 目標日, 備考).
type Edit<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, &'a str);

/// The downloaded form as it comes back from a vendor: every cell rewritten into a new workbook
/// (as Excel does on save), the edited rows filled in, the hidden identity sheet kept or not.
fn filled(form: &[u8], edits: &[Edit<'_>], keep_identity: bool) -> Vec<u8> {
    let limits = Limits::default();
    let grid = read_xlsx_grid(form, None, &limits).unwrap();
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    for row in &grid.rows {
        let line = u32::try_from(row.line - 1).unwrap();
        let edit = edits.iter().find(|e| e.0 == row.get(0));
        for (c, text) in row.cells.iter().enumerate() {
            let answer_cell = edit.is_some() && (2..=6).contains(&c);
            if !text.is_empty() && !answer_cell {
                ws.write_string(line, u16::try_from(c).unwrap(), text)
                    .unwrap();
            }
        }
        if let Some((_, yes, no, confirmed, target, remarks)) = edit {
            for (c, v) in [
                (2u16, yes),
                (3, no),
                (4, confirmed),
                (5, target),
                (6, remarks),
            ] {
                if !v.is_empty() {
                    ws.write_string(line, c, *v).unwrap();
                }
            }
        }
    }
    if keep_identity {
        let id = read_xlsx_grid(form, Some("mamori"), &limits).unwrap();
        let ws = wb.add_worksheet();
        ws.set_name("mamori").unwrap();
        for row in &id.rows {
            let line = u32::try_from(row.line - 1).unwrap();
            ws.write_string(line, 0, row.get(0)).unwrap();
            ws.write_string(line, 1, row.get(1)).unwrap();
        }
        ws.set_hidden(true);
    }
    wb.save_to_buffer().unwrap()
}

/// Every item of the 15-item R7 vendor form answered: はい except 2-⑩ (いいえ with a target).
fn all_answered<'a>(today: &'a str, target: &'a str) -> Vec<Edit<'a>> {
    [
        "1-①", "2-①", "2-②", "2-③", "2-④", "2-⑤", "2-⑥", "2-⑦", "2-⑧", "2-⑨", "2-⑩", "2-⑪", "2-⑫",
        "2-⑬", "2-⑭",
    ]
    .into_iter()
    .map(|id| {
        if id == "2-⑩" {
            (id, "", "○", today, target, "令和8年2月に導入予定")
        } else {
            (id, "○", "", today, "", "")
        }
    })
    .collect()
}

#[tokio::test]
async fn a_vendor_form_goes_out_as_xlsx_and_comes_back_answered() {
    let s = demo_server().await;
    let admin = s.add_user("kanri", Role::Admin).await;
    let mut c = s.login(&admin).await;
    let p = c.get("/checklist/vendors").await;
    assert_eq!(p.status, 200);
    assert!(p.has("事業者確認用チェックリスト") && p.has("Excel様式"));
    assert_eq!(untranslated(&p.body), Vec::<String>::new());
    // A form nobody has answered yet.
    let all = forms(&s).await;
    assert!(all.len() >= 3, "demo vendor forms: {}", all.len());
    assert!(
        all.iter().any(|f| f.answered == f.total),
        "the portal vendor's"
    );
    let f = all.iter().find(|f| f.answered == 0).unwrap();
    let system = f.system.id.0;
    let xlsx = download(
        &mut c,
        &format!("/checklist/export/checklist.xlsx?variant=vendor&system={system}"),
    )
    .await;
    // The form names its vendor and system and carries its identity.
    let grid = read_xlsx_grid(&xlsx, None, &Limits::default()).unwrap();
    let vendor = f.vendor.as_ref().unwrap().name.clone();
    assert!(
        grid.rows
            .iter()
            .any(|r| r.cells.iter().any(|c| c.contains(&vendor))),
        "vendor name on the form"
    );
    let today = mamori_domain::registry::day_text(Some(mamori_service::Clock::today(&*s.clock)));
    let fy = f.key.fiscal_year;
    let target = format!("{}-03-31", fy + 1);
    let returned = filled(&xlsx, &all_answered(&today, &target), true);
    let audit_before = s.svc.store.audit_count().await.unwrap();
    let p = c
        .post_multipart(
            &format!("/checklist/vendors/{system}/import"),
            &[("fy", &fy.to_string())],
            Some(("file", "returned.xlsx", returned.clone())),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.has("15件を記録"), "{}", p.body);
    assert_eq!(
        s.svc.store.audit_count().await.unwrap(),
        audit_before + 15,
        "one audit event per answer"
    );
    let a = answered(&s, &f.key).await;
    assert_eq!(a.tally().unanswered, 0);
    let no = a
        .item("vendor.two_factor")
        .unwrap()
        .answer
        .as_ref()
        .unwrap();
    assert_eq!(no.answer, Answer::No);
    assert_eq!(
        no.target_on
            .map(|d| mamori_domain::registry::day_text(Some(d))),
        Some(target.clone())
    );
    assert!(no.actor.contains("kanri"), "{}", no.actor);
    // The same file again changes nothing.
    let p = c
        .post_multipart(
            &format!("/checklist/vendors/{system}/import"),
            &[("fy", &fy.to_string())],
            Some(("file", "returned.xlsx", returned)),
        )
        .await;
    assert!(p.has("0件を記録、15件は変更なし"), "{}", p.body);
    assert_eq!(s.svc.store.audit_count().await.unwrap(), audit_before + 15);
    // The facility's view of that form, and its printed form with the subject.
    let p = c
        .get(&format!(
            "/checklist?variant=vendor&system={system}&fy={fy}"
        ))
        .await;
    assert_eq!(p.status, 200);
    assert!(p.has(&vendor) && p.has("15 / 15"));
    assert_eq!(untranslated(&p.body), Vec::<String>::new());
    // A form retyped by hand: no identity sheet, full-width hyphens in the ids.
    let other = all
        .iter()
        .find(|g| g.answered == 0 && g.system.id.0 != system)
        .unwrap();
    let xlsx = download(
        &mut c,
        &format!(
            "/checklist/export/checklist.xlsx?variant=vendor&system={}",
            other.system.id.0
        ),
    )
    .await;
    let mut retyped = filled(&xlsx, &[("1-①", "○", "", &today, "", "")], false);
    // Rewrite the id as people type it.
    let grid = read_xlsx_grid(&retyped, None, &Limits::default()).unwrap();
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    for row in &grid.rows {
        for (col, text) in row.cells.iter().enumerate() {
            let text = if text == "1-①" {
                "1－①"
            } else {
                text.as_str()
            };
            if !text.is_empty() {
                ws.write_string(
                    u32::try_from(row.line - 1).unwrap(),
                    u16::try_from(col).unwrap(),
                    text,
                )
                .unwrap();
            }
        }
    }
    retyped = wb.save_to_buffer().unwrap();
    let p = c
        .post_multipart(
            &format!("/checklist/vendors/{}/import", other.system.id.0),
            &[("fy", &fy.to_string())],
            Some(("file", "retyped.xlsx", retyped)),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(
        p.has("1件を記録、0件は変更なし、14件は未記入"),
        "{}",
        p.body
    );
}

#[tokio::test]
async fn a_bad_returned_form_names_each_cell_and_writes_nothing() {
    let s = demo_server().await;
    let admin = s.add_user("kanri", Role::Admin).await;
    let mut c = s.login(&admin).await;
    let all = forms(&s).await;
    let mut blank = all.iter().filter(|f| f.answered == 0);
    let (f, g) = (blank.next().unwrap(), blank.next().unwrap());
    let system = f.system.id.0;
    let fy = f.key.fiscal_year;
    let xlsx = download(
        &mut c,
        &format!("/checklist/export/checklist.xlsx?variant=vendor&system={system}"),
    )
    .await;
    let today = mamori_domain::registry::day_text(Some(mamori_service::Clock::today(&*s.clock)));
    let bad = filled(
        &xlsx,
        &[
            ("1-①", "○", "", &today, "", ""),
            // Both marks.
            ("2-①", "○", "○", &today, "", ""),
            // いいえ without a target date.
            ("2-②", "", "○", &today, "", ""),
            // A date nobody can read.
            ("2-③", "○", "", "来週", "", ""),
        ],
        true,
    );
    let grid = read_xlsx_grid(&xlsx, None, &Limits::default()).unwrap();
    let line = |id: &str| grid.rows.iter().find(|r| r.get(0) == id).unwrap().line;
    let audit_before = s.svc.store.audit_count().await.unwrap();
    let p = c
        .post_multipart(
            &format!("/checklist/vendors/{system}/import"),
            &[("fy", &fy.to_string())],
            Some(("file", "bad.xlsx", bad)),
        )
        .await;
    assert_eq!(p.status, 400);
    for cell in [
        format!("セル C{}", line("2-①")),
        format!("セル F{}", line("2-②")),
        format!("セル E{}", line("2-③")),
    ] {
        assert!(p.has(&cell), "{cell} named: {}", p.body);
    }
    assert!(p.has("CHK0022") && p.has("何も記録されていません"));
    assert_eq!(untranslated(&p.body), Vec::<String>::new());
    assert_eq!(s.svc.store.audit_count().await.unwrap(), audit_before);
    assert_eq!(answered(&s, &f.key).await.tally().unanswered, 15);
    // Another system's form is refused whole.
    let good = filled(&xlsx, &[("1-①", "○", "", &today, "", "")], true);
    let p = c
        .post_multipart(
            &format!("/checklist/vendors/{}/import", g.system.id.0),
            &[("fy", &fy.to_string())],
            Some(("file", "other.xlsx", good)),
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("CHK0020"), "{}", p.body);
    // Not a workbook at all; no file; a workbook with no item rows.
    let p = c
        .post_multipart(
            &format!("/checklist/vendors/{system}/import"),
            &[("fy", &fy.to_string())],
            Some(("file", "x.xlsx", b"PK\x03\x04 not really".to_vec())),
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("IMP0008"), "{}", p.body);
    let p = c
        .post_multipart(
            &format!("/checklist/vendors/{system}/import"),
            &[("fy", &fy.to_string())],
            None,
        )
        .await;
    assert_eq!(p.status, 400);
    let mut wb = Workbook::new();
    wb.add_worksheet().write_string(0, 0, "メモ").unwrap();
    let p = c
        .post_multipart(
            &format!("/checklist/vendors/{system}/import"),
            &[("fy", &fy.to_string())],
            Some(("file", "memo.xlsx", wb.save_to_buffer().unwrap())),
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("CHK0023"), "{}", p.body);
    assert_eq!(s.svc.store.audit_count().await.unwrap(), audit_before);
}

#[tokio::test]
async fn the_vendor_answers_its_own_systems_and_sees_no_others() {
    let s = demo_server().await;
    let u = s.add_user("hoshu", Role::Vendor).await;
    let user = s.svc.store.user_by_login("hoshu").await.unwrap().unwrap();
    let vendor = user.vendor_id.unwrap();
    let mut w = s.svc.store.write().await.unwrap();
    let mut system = InfoSystem::blank(
        SystemCategory::Ehr,
        mamori_domain::ledger::DeliveryModel::OnPremises,
    );
    system.name = "テスト電子カルテ".into();
    system.vendor_id = Some(vendor);
    let mine = mamori_storage::registry::insert(&mut w, &system)
        .await
        .unwrap();
    w.commit().await.unwrap();
    let others = forms(&s).await;
    let theirs = others
        .iter()
        .find(|f| f.system.id.0 != mine)
        .unwrap()
        .system
        .id
        .0;
    let mut c = s.login(&u).await;
    let p = c.get("/vendor-portal").await;
    assert_eq!(p.status, 200);
    assert!(p.has("テスト電子カルテ") && p.has("0 / 15"), "{}", p.body);
    assert_eq!(untranslated(&p.body), Vec::<String>::new());
    let p = c.get(&format!("/vendor-portal/systems/{mine}")).await;
    assert_eq!(p.status, 200);
    assert!(p.has("2-⑩"));
    assert_eq!(untranslated(&p.body), Vec::<String>::new());
    let p = c
        .get(&format!(
            "/vendor-portal/systems/{mine}/items/vendor.manager"
        ))
        .await;
    assert_eq!(p.status, 200);
    let today = mamori_domain::registry::day_text(Some(mamori_service::Clock::today(&*s.clock)));
    let p = c
        .post(
            &format!("/vendor-portal/systems/{mine}/items/vendor.manager"),
            &[
                ("answer", "yes"),
                ("confirmed_on", &today),
                ("remarks", "品質管理部長"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    // A bad answer names its field.
    let p = c
        .post(
            &format!("/vendor-portal/systems/{mine}/items/vendor.ledger"),
            &[("answer", "no"), ("confirmed_on", &today)],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.has("error-text"));
    // The facility sees the vendor's answer on that system's form.
    let key = s.svc.vendor_form_key(mine, None).await.unwrap();
    let a = answered(&s, &key).await;
    let g = a.item("vendor.manager").unwrap().answer.as_ref().unwrap();
    assert_eq!(g.answer, Answer::Yes);
    assert!(g.actor.contains("hoshu"));
    assert_eq!(a.tally().unanswered, 14);
    // The portal's own download.
    let xlsx = download(&mut c, &format!("/vendor-portal/systems/{mine}/form.xlsx")).await;
    assert!(xlsx.starts_with(b"PK"));
    // Nobody else's system, in any way.
    for path in [
        format!("/vendor-portal/systems/{theirs}"),
        format!("/vendor-portal/systems/{theirs}/items/vendor.manager"),
        format!("/vendor-portal/systems/{theirs}/form.xlsx"),
    ] {
        assert_eq!(c.get(&path).await.status, 404, "{path}");
    }
    let p = c
        .post(
            &format!("/vendor-portal/systems/{theirs}/items/vendor.manager"),
            &[("answer", "yes"), ("confirmed_on", &today)],
        )
        .await;
    assert_eq!(p.status, 404);
    let p = c
        .post_multipart(
            &format!("/vendor-portal/systems/{theirs}/import"),
            &[],
            Some(("file", "x.xlsx", xlsx)),
        )
        .await;
    assert_eq!(p.status, 404);
    assert_eq!(c.get("/checklist/vendors").await.status, 403);
}
