//! Loads a sample facility (see [`crate::demo`]) into an empty store, in one transaction.

use crate::auth::SetupInput;
use crate::demo::DemoFacility;
use crate::error::{ServiceError, ServiceResult};
use crate::{ClientInfo, Services};
use mamori_domain::facility::FacilityKind;
use mamori_domain::role::Role;
use mamori_domain::{AccountId, PersonId, SystemId, UserId, VendorId};
use mamori_storage::registry;
use mamori_storage::users::{self, NewUser};
use serde_json::json;
use std::collections::HashMap;

/// What the demo prints for a tester.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub admin_id: UserId,
    pub login_id: String,
    pub password: String,
    pub totp_secret: String,
}

/// Sample users of every role, for trying the roles out (login id, name, role).
const SAMPLE_USERS: [(&str, &str, Role); 4] = [
    ("anzen", "安全管理責任者（事務長）", Role::SecurityOfficer),
    ("kansa", "監査担当", Role::Auditor),
    ("shokuin", "職員（外来）", Role::Staff),
    ("vendor-ehr", "電子カルテ保守担当", Role::Vendor),
];

impl Services {
    /// Sets up the sample facility with an administrator whose TOTP is pre-enrolled.
    pub async fn seed_demo(
        &self,
        demo: &DemoFacility,
        admin_password: &str,
    ) -> ServiceResult<DemoLogin> {
        let client = ClientInfo::new("local", "mamori demo");
        let admin_login = "admin".to_string();
        let admin_id = self
            .setup(
                &SetupInput {
                    kind: FacilityKind::Clinic,
                    facility_name: demo.facility_name.clone(),
                    beds: Some(demo.beds),
                    admin_login: admin_login.clone(),
                    admin_name: "院長（管理者）".to_string(),
                    admin_password: admin_password.to_string(),
                },
                &client,
            )
            .await?;
        let secret = crate::auth::new_totp_secret();
        self.enroll_totp_unchecked(admin_id, &secret).await?;

        let now = self.now_ms();
        let sample_hash = self.hasher.hash(admin_password).await?;
        let mut w = self.store.write().await?;
        let mut vendor_ids: HashMap<VendorId, VendorId> = HashMap::new();
        for v in &demo.vendors {
            vendor_ids.insert(v.id, VendorId(registry::insert(&mut w, v).await?));
        }
        let map_vendor = |v: Option<VendorId>| -> ServiceResult<Option<VendorId>> {
            v.map(|v| {
                vendor_ids
                    .get(&v)
                    .copied()
                    .ok_or_else(|| ServiceError::Internal(format!("demo vendor {v}")))
            })
            .transpose()
        };
        let mut system_ids: HashMap<SystemId, SystemId> = HashMap::new();
        for s in &demo.systems {
            let mut s2 = s.clone();
            s2.vendor_id = map_vendor(s.vendor_id)?;
            system_ids.insert(s.id, SystemId(registry::insert(&mut w, &s2).await?));
        }
        let mut person_ids: HashMap<PersonId, PersonId> = HashMap::new();
        for p in &demo.persons {
            person_ids.insert(p.id, PersonId(registry::insert(&mut w, p).await?));
        }
        for a in &demo.assets {
            let mut a2 = a.clone();
            a2.vendor_id = map_vendor(a.vendor_id)?;
            registry::insert(&mut w, &a2).await?;
        }
        let mut accounts: Vec<AccountId> = Vec::new();
        for a in &demo.accounts {
            let mut a2 = a.clone();
            a2.system_id = *system_ids
                .get(&a.system_id)
                .ok_or_else(|| ServiceError::Internal(format!("demo system {}", a.system_id)))?;
            a2.person_id = a.person_id.and_then(|p| person_ids.get(&p).copied());
            accounts.push(AccountId(registry::insert(&mut w, &a2).await?));
        }
        let first_vendor = demo
            .vendors
            .first()
            .and_then(|v| vendor_ids.get(&v.id).copied());
        for (login, name, role) in SAMPLE_USERS {
            users::insert_user(
                &mut w,
                &NewUser {
                    login_id: login,
                    display_name: name,
                    role,
                    password_hash: &sample_hash,
                    must_change_password: true,
                    vendor_id: if role == Role::Vendor {
                        first_vendor
                    } else {
                        None
                    },
                    now_ms: now,
                },
            )
            .await?;
        }
        self.audit(
            &mut w,
            "system",
            "local",
            "demo.seeded",
            "facility",
            json!({
                "vendors": demo.vendors.len(),
                "systems": demo.systems.len(),
                "persons": demo.persons.len(),
                "assets": demo.assets.len(),
                "accounts": accounts.len(),
                "sample_users": SAMPLE_USERS.iter().map(|u| u.0).collect::<Vec<_>>(),
            }),
        )
        .await?;
        w.commit().await?;
        Ok(DemoLogin {
            admin_id,
            login_id: admin_login,
            password: admin_password.to_string(),
            totp_secret: secret,
        })
    }
}
