//! Account findings that need more than one record: a vendor maintenance account whose
//! password was not changed after the vendor's staff changed (a contact retired in the ledger),
//! and accounts without two-factor on a system that requires it.

use mamori_domain::ledger::{
    Account, AccountKind, Contact, ContactRole, DeliveryModel, InfoSystem, SystemCategory,
    TwoFactor, Vendor,
};
use mamori_domain::{SystemId, VendorId};
use mamori_testkit::TestServer;

#[tokio::test]
async fn vendor_staff_changes_and_missing_two_factor_are_findings() {
    let (s, admin) = TestServer::with_admin().await;
    let today = s.svc.clock.today();
    let mut w = s.svc.store.write().await.unwrap();
    let v = mamori_storage::registry::insert(&mut w, &Vendor::named("カルテ保守株式会社"))
        .await
        .unwrap();
    let mut ehr = InfoSystem::blank(SystemCategory::Ehr, DeliveryModel::OnPremises);
    ehr.name = "電子カルテ".into();
    ehr.vendor_id = Some(VendorId(v));
    ehr.two_factor = TwoFactor::All;
    let ehr = mamori_storage::registry::insert(&mut w, &ehr)
        .await
        .unwrap();
    let contact = Contact {
        id: 0,
        role: ContactRole::Vendor,
        organization: "カルテ保守株式会社".into(),
        name: "保守 太郎".into(),
        phone: "03-0000-0000".into(),
        phone_after_hours: String::new(),
        email: String::new(),
        vendor_id: Some(VendorId(v)),
        verified_on: Some(today),
        active: true,
        notes: String::new(),
    };
    let contact = mamori_storage::registry::insert(&mut w, &contact)
        .await
        .unwrap();
    let mut maint = Account::new(SystemId(ehr), "mnt-karte");
    maint.kind = AccountKind::VendorMaintenance;
    maint.two_factor = true;
    maint.pw_last_set_on = Some(today - time::Duration::days(30));
    mamori_storage::registry::insert(&mut w, &maint)
        .await
        .unwrap();
    let mut nurse = Account::new(SystemId(ehr), "yamada");
    nurse.is_admin = true;
    nurse.locked_out = true;
    nurse.pw_never_expires = true;
    mamori_storage::registry::insert(&mut w, &nurse)
        .await
        .unwrap();
    w.commit().await.unwrap();

    let mut c = s.login(&admin).await;
    let p = c.get("/ledger/findings").await;
    assert!(
        p.has("二要素認証が必要なのに設定されていないアカウント") && p.has("電子カルテ / yamada"),
        "{}",
        p.body
    );
    assert!(!p.has("担当者が替わった事業者の保守用アカウント"));
    // The accounts page marks the admin nobody approved, the lock-out and the password that
    // never expires, and charts the unapproved admins.
    let p = c.get("/accounts").await;
    assert!(
        p.has(r#"class="badge warn">承認の記録なし"#)
            && p.has(r#"class="badge warn">ロック中"#)
            && p.has(r#"class="badge neutral">PW無期限"#)
            && p.has("承認のない管理者"),
        "{}",
        p.body
    );

    // The vendor's engineer leaves: the contact is retired in the ledger.
    let p = c
        .post(&format!("/ledger/contacts/{contact}/retire"), &[])
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = c.get("/ledger/findings").await;
    assert!(
        p.has("担当者が替わった事業者の保守用アカウント") && p.has("電子カルテ / mnt-karte"),
        "{}",
        p.body
    );
}
