//! Loads a sample facility (see [`crate::demo`]) into an empty store, in one transaction.

use crate::auth::SetupInput;
use crate::demo::DemoFacility;
use crate::error::{ServiceError, ServiceResult};
use crate::{ClientInfo, Services};
use mamori_domain::facility::FacilityKind;
use mamori_domain::ledger::Account;
use mamori_domain::role::Role;
use mamori_domain::{AccountId, PersonId, SystemId, UserId, VendorId};
use mamori_storage::users::{self, NewUser};
use mamori_storage::{ledger, registry};
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
        let mut stored_accounts: Vec<Account> = Vec::new();
        for a in &demo.accounts {
            let mut a2 = a.clone();
            a2.system_id = *system_ids
                .get(&a.system_id)
                .ok_or_else(|| ServiceError::Internal(format!("demo system {}", a.system_id)))?;
            a2.person_id = a.person_id.and_then(|p| person_ids.get(&p).copied());
            a2.admin_approved_by = a
                .admin_approved_by
                .and_then(|p| person_ids.get(&p).copied());
            let id = AccountId(registry::insert(&mut w, &a2).await?);
            a2.id = id;
            accounts.push(id);
            stored_accounts.push(a2);
        }
        for c in &demo.contacts {
            let mut c2 = c.clone();
            c2.vendor_id = map_vendor(c.vendor_id)?;
            registry::insert(&mut w, &c2).await?;
        }
        let map_system = |x: SystemId| -> ServiceResult<SystemId> {
            system_ids
                .get(&x)
                .copied()
                .ok_or_else(|| ServiceError::Internal(format!("demo system {x}")))
        };
        for r in &demo.remote_points {
            let mut r2 = r.clone();
            r2.vendor_id = map_vendor(r.vendor_id)?;
            r2.system_id = r.system_id.map(map_system).transpose()?;
            registry::insert(&mut w, &r2).await?;
        }
        for d in &demo.vendor_documents {
            let mut d2 = d.clone();
            d2.vendor_id = map_vendor(d.vendor_id)?;
            registry::insert(&mut w, &d2).await?;
        }
        for d in &demo.documents {
            let mut d2 = d.clone();
            d2.system_ids = d
                .system_ids
                .iter()
                .map(|x| map_system(*x))
                .collect::<ServiceResult<_>>()?;
            registry::insert(&mut w, &d2).await?;
        }
        ledger::insert_review(
            &mut w,
            "asset",
            &ledger::ReviewRow {
                at_ms: now - demo.asset_review_days_ago * 86_400_000,
                actor: "anzen".to_string(),
                note: "年次棚卸（全機器の設置場所と状態を確認）".to_string(),
                records: i64::try_from(demo.assets.len()).unwrap_or(0),
            },
        )
        .await?;
        // The break-glass account's envelope: sealed when the EHR went in, two holders.
        for a in stored_accounts
            .iter()
            .filter(|a| a.kind == mamori_domain::ledger::AccountKind::Emergency)
        {
            mamori_storage::break_glass::upsert_custody(
                &mut w,
                &mamori_storage::break_glass::CustodyRow {
                    account_id: a.id.0,
                    holders: "院長\n事務長".to_string(),
                    location: "事務長室の金庫（封筒に封印・割印）".to_string(),
                    notes: "使用時は当直責任者が開封し、使用記録簿に記入する。".to_string(),
                    sealed_ms: now - 200 * 86_400_000,
                    sealed_by: "安全管理責任者（事務長）".to_string(),
                },
                true,
            )
            .await?;
        }
        self.seed_demo_account_reviews(
            &mut w,
            demo,
            &system_ids,
            &person_ids,
            &stored_accounts,
            now,
        )
        .await?;
        let next_tag = format!("A-{:04}", demo.assets.len() + 1);
        let media: Vec<(String, String)> = demo
            .assets
            .iter()
            .filter(|a| a.class == mamori_domain::ledger::AssetClass::RemovableMedia)
            .map(|a| (a.name.clone(), a.serial.clone()))
            .collect();
        self.seed_demo_agents(&mut w, "anzen", &next_tag, &media, now)
            .await?;
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
        self.seed_demo_answers(&admin_login, &client).await?;
        Ok(DemoLogin {
            admin_id,
            login_id: admin_login,
            password: admin_password.to_string(),
            totp_secret: secret,
        })
    }
}

impl Services {
    /// Records the demo's incident: from the first alert raised by a rule of
    /// [`crate::demo::DEMO_INCIDENTS`], by the sample security officer (`anzen`), with two
    /// notes and the incident contained — each step through the use case, so each is audited
    /// as it would be from the page. Call it after detection has raised the week's alerts.
    /// Returns the incident's id, or `None` when an incident is already recorded, no such
    /// alert was raised or the demo has none of its users.
    pub async fn seed_demo_incident(&self) -> ServiceResult<Option<i64>> {
        if !self.store.open_incidents().await?.is_empty()
            || !self.store.closed_incidents(1).await?.is_empty()
        {
            return Ok(None);
        }
        let Some(user) = self.store.user_by_login(SAMPLE_USERS[0].0).await? else {
            return Ok(None);
        };
        let alerts = self.store.alerts(None, 10_000).await?;
        let found = crate::demo::DEMO_INCIDENTS.iter().find_map(|d| {
            alerts
                .iter()
                .filter(|a| a.rule_id == d.rule_id && a.incident_id.is_none())
                .min_by_key(|a| a.id)
                .map(|a| (d, a.id))
        });
        let Some((demo, alert_id)) = found else {
            return Ok(None);
        };
        let actor = crate::Actor {
            user,
            session_hash: String::new(),
            source: "local".to_string(),
        };
        let client = ClientInfo::new("local", "mamori demo");
        let cap = actor.can::<crate::perm::HandleIncidents>()?;
        let alerts_cap = actor.can::<crate::perm::HandleAlerts>()?;
        let id = self
            .open_incident_from_alert(&cap, &alerts_cap, &client, alert_id)
            .await?;
        for note in demo.notes {
            self.add_incident_note(&cap, &client, id, note).await?;
        }
        self.change_incident_status(
            &cap,
            &client,
            id,
            mamori_domain::incident::IncidentStatus::Contained,
            demo.contained,
        )
        .await?;
        Ok(Some(id))
    }
}

/// The source name the demo's EHR access log is filed under.
pub const DEMO_ACCESS_LOG: &str = "電子カルテ_アクセスログ.csv";

impl Services {
    /// Takes the demo clinic's EHR access log of the last 30 days ([`crate::demo::ehr_access_log`])
    /// in through the shipped `generic` profile: sealed, then indexed, as a file taken in on the
    /// ログ page would be. Does nothing when this process does not hold the sealed event log.
    /// Returns how many events were taken in.
    pub async fn seed_demo_access_log(
        &self,
        demo: &DemoFacility,
        seed: u64,
    ) -> ServiceResult<usize> {
        if self.events.is_none() {
            return Ok(0);
        }
        let text = crate::demo::ehr_access_log(demo, self.clock.today(), seed);
        let generic = mamori_ingest::shipped_profiles()
            .into_iter()
            .next()
            .ok_or_else(|| ServiceError::Internal("no shipped CSV profile".into()))?;
        let now = self.now_ms();
        let decoded = crate::logs::decode_file(
            crate::logs::LogFormat::Csv,
            text.as_bytes(),
            now,
            "local",
            Some(&generic),
        )
        .map_err(|e| ServiceError::Internal(format!("demo access log: {}", e.code())))?;
        let client = ClientInfo::new("local", "mamori demo");
        let receipt = self
            .ingest_events("system", DEMO_ACCESS_LOG, &decoded.events, &client, |_| {})
            .await?;
        // The patients whose records call for care when opened.
        let mut w = self.store.write().await?;
        for (n, reason, note) in [
            (crate::demo::DEMO_VIP_PATIENT, "vip", "地元の議員"),
            (crate::demo::DEMO_VIP_PATIENT + 1, "staff", "当院の看護師"),
            (crate::demo::DEMO_VIP_PATIENT + 2, "family", "院長の家族"),
        ] {
            mamori_storage::detection::upsert_watched_patient(
                &mut w,
                &mamori_storage::detection::WatchedPatient {
                    patient_id: format!("P-{n:06}"),
                    reason: reason.to_string(),
                    note: note.to_string(),
                    added_ms: now,
                    added_by: "事務長".to_string(),
                },
            )
            .await?;
        }
        w.commit().await?;
        Ok(receipt.accepted)
    }

    /// Answers part of this fiscal year's checklist the way a clinic preparing for its inspection
    /// would: some はい (two of them contradicted: devices with gaps in the ledger, leavers'
    /// accounts still enabled), some いいえ with a
    /// target date, the rest still open.
    async fn seed_demo_answers(&self, actor: &str, client: &ClientInfo) -> ServiceResult<()> {
        let key = self.default_form().await?;
        let today = self.clock.today();
        let (_, fy_end) = mamori_domain::checklist::fiscal_year_bounds(key.fiscal_year);
        let target = (today + time::Duration::days(75)).min(fy_end);
        let day = |d: time::Date| mamori_domain::registry::day_text(Some(d));
        let answers: [(&str, &str, &str); 9] = [
            ("governance.security_officer", "yes", ""),
            ("systems.ledger", "yes", "年1回の棚卸を実施"),
            (
                "systems.remote_maintenance_confirmed",
                "no",
                "あおばネットワークサービスに確認中",
            ),
            ("systems.unneeded_accounts", "yes", ""),
            ("operation.password_no_reuse", "yes", "運用管理規程 第12条"),
            (
                "operation.removable_media",
                "yes",
                "登録済みUSBメモリのみ使用可",
            ),
            ("incident.contact_chart", "yes", ""),
            (
                "incident.backup_and_restore",
                "yes",
                "毎日バックアップ、世代管理7日",
            ),
            ("rules.operating_rules", "no", "次回改訂で不足項目を追加"),
        ];
        for (item, answer, remarks) in answers {
            let mut input = HashMap::new();
            input.insert("answer".to_string(), answer.to_string());
            input.insert("confirmed_on".to_string(), day(today));
            if answer == "no" {
                input.insert("target_on".to_string(), day(target));
            }
            input.insert("remarks".to_string(), remarks.to_string());
            self.record_answer(actor, &key, item, &input, client)
                .await?;
        }
        self.seed_demo_vendor_forms(actor, client).await
    }

    /// The vendor forms of the year as they stand a month before the inspection: the first
    /// vendor (the one with a portal account) has answered its first system in full, with one
    /// いいえ; a second vendor's form came back on paper and was entered up to item 2-⑤; the rest
    /// have not come back.
    async fn seed_demo_vendor_forms(&self, actor: &str, client: &ClientInfo) -> ServiceResult<()> {
        let today = self.clock.today();
        let fy = mamori_domain::wareki::fiscal_year(today);
        let (_, fy_end) = mamori_domain::checklist::fiscal_year_bounds(fy);
        let target = (today + time::Duration::days(60)).min(fy_end);
        let day = |d: time::Date| mamori_domain::registry::day_text(Some(d));
        let portal = self.store.user_by_login("vendor-ehr").await?;
        let portal_vendor = portal.as_ref().and_then(|u| u.vendor_id).map(|v| v.0);
        let portal_label = portal
            .as_ref()
            .map(|u| format!("user:{}:{}", u.id.0, u.login_id))
            .unwrap_or_else(|| actor.to_string());
        let mut forms = self.vendor_forms_of(None, fy).await?;
        // The portal vendor's forms first.
        forms.sort_by_key(|f| f.vendor.as_ref().map(|v| v.id.0) != portal_vendor);
        let mut vendors_done: Vec<i64> = Vec::new();
        for f in forms {
            let Some(vendor) = f.vendor.as_ref() else {
                continue;
            };
            if vendors_done.contains(&vendor.id.0) {
                continue;
            }
            vendors_done.push(vendor.id.0);
            let (who, upto) = match vendors_done.len() {
                1 => (portal_label.as_str(), usize::MAX),
                2 => (actor, 6),
                _ => break,
            };
            let Some(pack) = mamori_catalog::checklist::pack(&f.key.edition, &f.key.variant) else {
                continue;
            };
            for item in pack.items.iter().take(upto) {
                let mut input = HashMap::new();
                // The first vendor has not yet set up two-factor authentication (2-⑩).
                let no = vendors_done.len() == 1 && item.key == "vendor.two_factor";
                input.insert(
                    "answer".to_string(),
                    if no { "no" } else { "yes" }.to_string(),
                );
                input.insert("confirmed_on".to_string(), day(today));
                if no {
                    input.insert("target_on".to_string(), day(target));
                    input.insert(
                        "remarks".to_string(),
                        "保守端末の二要素認証を導入予定".to_string(),
                    );
                }
                self.record_answer(who, &f.key, &item.key, &input, client)
                    .await?;
            }
        }
        Ok(())
    }
}
