//! Mapping profiles of access-log CSV exports (EHR, レセコン): the ones mamori ships (read-only,
//! copied to make one's own) and the facility's own, stored in `log_csv_profiles`. Every
//! change writes one audit event in its transaction; a refused profile names every bad field.

use crate::authz::{Cap, perm};
use crate::error::{ServiceError, ServiceResult};
use crate::{ClientInfo, Services};
use mamori_domain::ledger::{FieldError, InfoSystem};
use mamori_ingest::{CsvProfile, ProfileInput, shipped_profiles};
use mamori_storage::csv_profiles::{self as store, ProfileRow};
use serde_json::json;

/// A profile as listed: shipped or stored, with who changed it last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileEntry {
    pub profile: CsvProfile,
    /// Shipped with mamori: read-only.
    pub shipped: bool,
    /// The ledger system whose export it reads.
    pub system_id: Option<i64>,
    pub updated_at_ms: Option<i64>,
    pub updated_by: String,
}

impl ProfileEntry {
    fn shipped(profile: CsvProfile) -> ProfileEntry {
        ProfileEntry {
            profile,
            shipped: true,
            system_id: None,
            updated_at_ms: None,
            updated_by: String::new(),
        }
    }

    fn stored(row: ProfileRow) -> ServiceResult<ProfileEntry> {
        let profile: CsvProfile = serde_json::from_str(&row.body)
            .map_err(|e| ServiceError::Internal(format!("stored CSV profile {}: {e}", row.name)))?;
        Ok(ProfileEntry {
            profile,
            shipped: false,
            system_id: row.system_id,
            updated_at_ms: Some(row.updated_at_ms),
            updated_by: row.updated_by,
        })
    }
}

/// Names the profile pages use for themselves (`/logs/profiles/new`).
const RESERVED_NAMES: [&str; 2] = ["new", "ingest"];

fn invalid(field: &'static str, code: &'static str) -> ServiceError {
    ServiceError::Fields(vec![FieldError { field, code }])
}

impl Services {
    /// Every profile: the shipped ones first, then the facility's own by name.
    pub async fn csv_profiles(
        &self,
        _cap: &Cap<perm::ViewLogs>,
    ) -> ServiceResult<Vec<ProfileEntry>> {
        self.all_csv_profiles().await
    }

    pub(crate) async fn all_csv_profiles(&self) -> ServiceResult<Vec<ProfileEntry>> {
        let mut out: Vec<ProfileEntry> = shipped_profiles()
            .into_iter()
            .map(ProfileEntry::shipped)
            .collect();
        for row in self.store.csv_profiles().await? {
            out.push(ProfileEntry::stored(row)?);
        }
        Ok(out)
    }

    /// The profile named `name`, shipped or stored; `GEN0404` when there is none.
    pub async fn csv_profile(
        &self,
        _cap: &Cap<perm::ViewLogs>,
        name: &str,
    ) -> ServiceResult<ProfileEntry> {
        if let Some(p) = shipped_profiles().into_iter().find(|p| p.name == name) {
            return Ok(ProfileEntry::shipped(p));
        }
        match self.store.csv_profile(name).await? {
            Some(row) => ProfileEntry::stored(row),
            None => Err(ServiceError::NotFound),
        }
    }

    /// Creates a profile (`original` = `None`) or changes the stored profile named `original`
    /// (renaming it when the name changed). `system` is the id of a ledger system, or empty.
    /// Every bad field is named (`ServiceError::Fields`, codes `LOG02xx`); nothing is written
    /// then. Shipped profiles cannot be changed (`LOG0211`): copy them.
    pub async fn save_csv_profile(
        &self,
        cap: &Cap<perm::ManageLogs>,
        original: Option<&str>,
        input: &ProfileInput,
        system: &str,
        client: &ClientInfo,
    ) -> ServiceResult<CsvProfile> {
        let shipped: Vec<String> = shipped_profiles().into_iter().map(|p| p.name).collect();
        if original.is_some_and(|o| shipped.iter().any(|s| s == o)) {
            return Err(invalid("name", "LOG0211"));
        }
        let mut problems: Vec<FieldError> = Vec::new();
        let profile = match input.to_profile() {
            Ok(p) => Some(p),
            Err(list) => {
                problems.extend(
                    list.into_iter()
                        .map(|(field, code)| FieldError { field, code }),
                );
                None
            }
        };
        let system_id = match system.trim() {
            "" => None,
            s => match s.parse::<i64>() {
                Ok(id) if self.store.record::<InfoSystem>(id).await?.is_some() => Some(id),
                _ => {
                    problems.push(FieldError {
                        field: "system",
                        code: "LOG0210",
                    });
                    None
                }
            },
        };
        let name = input.name.trim();
        let renamed = original != Some(name);
        if renamed && (shipped.iter().any(|s| s == name) || RESERVED_NAMES.contains(&name)) {
            problems.push(FieldError {
                field: "name",
                code: "LOG0202",
            });
        }
        let mut w = self.store.write().await?;
        let existing = match original {
            Some(o) => Some(
                store::profile_in(&mut w, o)
                    .await?
                    .ok_or(ServiceError::NotFound)?,
            ),
            None => None,
        };
        if renamed
            && !problems.iter().any(|p| p.field == "name")
            && store::profile_in(&mut w, name).await?.is_some()
        {
            problems.push(FieldError {
                field: "name",
                code: "LOG0202",
            });
        }
        let profile = match profile {
            Some(p) if problems.is_empty() => p,
            _ => {
                problems.sort_by_key(|p| field_order(p.field));
                return Err(ServiceError::Fields(problems));
            }
        };
        let body =
            serde_json::to_string(&profile).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let now = self.now_ms();
        let actor = cap.actor().label();
        let row = ProfileRow {
            id: 0,
            name: profile.name.clone(),
            system_id,
            body,
            created_at_ms: now,
            created_by: actor.clone(),
            updated_at_ms: now,
            updated_by: actor.clone(),
        };
        let written = match &existing {
            Some(e) => store::update_profile(&mut w, e.id, &row).await.map(|_| ()),
            None => store::insert_profile(&mut w, &row).await.map(|_| ()),
        };
        match written {
            Err(e) if e.is_unique_violation() => return Err(invalid("name", "LOG0202")),
            other => other?,
        }
        let action = if existing.is_some() {
            "logs.profile_changed"
        } else {
            "logs.profile_created"
        };
        let before: Option<serde_json::Value> = existing
            .as_ref()
            .and_then(|e| serde_json::from_str(&e.body).ok());
        self.audit(
            &mut w,
            &actor,
            &client.source,
            action,
            &format!("csv_profile:{}", profile.name),
            json!({
                "name": profile.name,
                "renamed_from": original.filter(|o| *o != profile.name),
                "system_id": system_id,
                "before": before,
                "after": serde_json::to_value(&profile).unwrap_or_default(),
            }),
        )
        .await?;
        w.commit().await?;
        Ok(profile)
    }

    /// Deletes the stored profile `name` (events already taken in with it stay as they are).
    pub async fn delete_csv_profile(
        &self,
        cap: &Cap<perm::ManageLogs>,
        name: &str,
        client: &ClientInfo,
    ) -> ServiceResult<()> {
        if shipped_profiles().iter().any(|p| p.name == name) {
            return Err(invalid("name", "LOG0211"));
        }
        let mut w = self.store.write().await?;
        let row = store::profile_in(&mut w, name)
            .await?
            .ok_or(ServiceError::NotFound)?;
        store::delete_profile(&mut w, row.id).await?;
        let body: Option<serde_json::Value> = serde_json::from_str(&row.body).ok();
        self.audit(
            &mut w,
            &cap.actor().label(),
            &client.source,
            "logs.profile_deleted",
            &format!("csv_profile:{name}"),
            json!({"name": name, "system_id": row.system_id, "before": body}),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }
}

/// Problems in the order the form shows its fields.
fn field_order(field: &str) -> usize {
    const ORDER: [&str; 16] = [
        "name",
        "label",
        "system",
        "encoding",
        "delimiter",
        "header",
        "date_format",
        "time",
        "date",
        "user",
        "patient",
        "operation",
        "terminal",
        "outcome",
        "operations",
        "file",
    ];
    ORDER
        .iter()
        .position(|f| *f == field)
        .unwrap_or(ORDER.len())
}
