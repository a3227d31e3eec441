//! The ledger's registries: list, detail, create, edit, retire, with a change history per record
//! (who, when, before/after) and one audit event per change.

use crate::authz::{Cap, perm};
use crate::error::{ServiceError, ServiceResult};
use crate::{ClientInfo, Services};
use mamori_catalog::{Lang, tr};
use mamori_domain::ledger::{
    Asset, AssetClass, AssetStatus, FieldChange, FieldError, Vendor, asset_changes, asset_values,
    validate_asset,
};
use mamori_domain::{AssetId, VendorId};
use mamori_storage::ledger::{self, AssetFilter};
use serde_json::json;
use time::Date;
use time::macros::format_description;

/// Kind name of assets in the history table.
pub const ASSET: &str = "asset";

/// An asset as typed into the form (or read from an import row): every field as text.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct AssetInput {
    pub tag: String,
    pub class: String,
    pub name: String,
    pub location: String,
    pub purpose: String,
    pub department: String,
    /// Vendor id.
    pub vendor: String,
    /// `YYYY-MM`.
    pub installed_on: String,
    pub eol_on: String,
    pub external_connection: String,
    pub os: String,
    pub ip: String,
    pub mac: String,
    pub serial: String,
    pub last_patch_on: String,
    pub status: String,
    pub disposal_method: String,
    pub disposed_on: String,
    pub disposal_certificate: String,
    pub notes: String,
}

impl AssetInput {
    /// The form's values for an existing asset.
    pub fn of(a: &Asset) -> AssetInput {
        let mut i = AssetInput::default();
        for (k, v) in asset_values(a) {
            if let Some(slot) = i.slot_mut(k) {
                *slot = v;
            }
        }
        i
    }

    /// The text of field `key`.
    pub fn get(&self, key: &str) -> &str {
        match key {
            "tag" => &self.tag,
            "class" => &self.class,
            "name" => &self.name,
            "location" => &self.location,
            "purpose" => &self.purpose,
            "department" => &self.department,
            "vendor" => &self.vendor,
            "installed_on" => &self.installed_on,
            "eol_on" => &self.eol_on,
            "external_connection" => &self.external_connection,
            "os" => &self.os,
            "ip" => &self.ip,
            "mac" => &self.mac,
            "serial" => &self.serial,
            "last_patch_on" => &self.last_patch_on,
            "status" => &self.status,
            "disposal_method" => &self.disposal_method,
            "disposed_on" => &self.disposed_on,
            "disposal_certificate" => &self.disposal_certificate,
            "notes" => &self.notes,
            _ => "",
        }
    }

    /// The text of field `key`, to fill in.
    pub fn slot_mut(&mut self, key: &str) -> Option<&mut String> {
        Some(match key {
            "tag" => &mut self.tag,
            "class" => &mut self.class,
            "name" => &mut self.name,
            "location" => &mut self.location,
            "purpose" => &mut self.purpose,
            "department" => &mut self.department,
            "vendor" => &mut self.vendor,
            "installed_on" => &mut self.installed_on,
            "eol_on" => &mut self.eol_on,
            "external_connection" => &mut self.external_connection,
            "os" => &mut self.os,
            "ip" => &mut self.ip,
            "mac" => &mut self.mac,
            "serial" => &mut self.serial,
            "last_patch_on" => &mut self.last_patch_on,
            "status" => &mut self.status,
            "disposal_method" => &mut self.disposal_method,
            "disposed_on" => &mut self.disposed_on,
            "disposal_certificate" => &mut self.disposal_certificate,
            "notes" => &mut self.notes,
            _ => return None,
        })
    }
}

/// The asset fields in ledger column order.
pub const ASSET_FIELDS: [&str; 20] = [
    "tag",
    "class",
    "name",
    "location",
    "purpose",
    "department",
    "vendor",
    "installed_on",
    "eol_on",
    "external_connection",
    "os",
    "ip",
    "mac",
    "serial",
    "last_patch_on",
    "status",
    "disposal_method",
    "disposed_on",
    "disposal_certificate",
    "notes",
];

fn parse_day(s: &str) -> Result<Option<Date>, ()> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    Date::parse(s, format_description!("[year]-[month]-[day]"))
        .map(Some)
        .map_err(|_| ())
}

fn parse_month(s: &str) -> Result<Option<Date>, ()> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    parse_day(&format!("{s}-01")).map_err(|_| ())
}

/// Turns form/import text into an asset, naming every bad field.
pub fn parse_asset(input: &AssetInput, vendors: &[Vendor]) -> Result<Asset, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut err = |field: &'static str, code: &'static str| errors.push(FieldError { field, code });
    let class = AssetClass::parse(input.class.trim()).unwrap_or_else(|| {
        err("class", "LED0010");
        AssetClass::Other
    });
    let status = match input.status.trim() {
        "" => AssetStatus::Active,
        s => AssetStatus::parse(s).unwrap_or_else(|| {
            err("status", "LED0011");
            AssetStatus::Active
        }),
    };
    let vendor_id = match input.vendor.trim() {
        "" => None,
        v => match VendorId::parse(v).filter(|id| vendors.iter().any(|x| x.id == *id)) {
            Some(id) => Some(id),
            None => {
                err("vendor", "LED0012");
                None
            }
        },
    };
    let mut day = |field: &'static str, s: &str| {
        parse_day(s).unwrap_or_else(|_| {
            err(field, "LED0014");
            None
        })
    };
    let eol_on = day("eol_on", &input.eol_on);
    let last_patch_on = day("last_patch_on", &input.last_patch_on);
    let disposed_on = day("disposed_on", &input.disposed_on);
    let installed_on = parse_month(&input.installed_on).unwrap_or_else(|_| {
        errors.push(FieldError {
            field: "installed_on",
            code: "LED0013",
        });
        None
    });
    let t = |s: &String| s.trim().to_string();
    let asset = Asset {
        id: AssetId(0),
        tag: t(&input.tag),
        class,
        name: t(&input.name),
        location: t(&input.location),
        purpose: t(&input.purpose),
        department: t(&input.department),
        vendor_id,
        os: t(&input.os),
        ip: t(&input.ip),
        mac: t(&input.mac),
        serial: t(&input.serial),
        installed_on,
        eol_on,
        last_patch_on,
        status,
        external_connection: t(&input.external_connection),
        disposal_method: t(&input.disposal_method),
        disposed_on,
        disposal_certificate: t(&input.disposal_certificate),
        notes: t(&input.notes),
    };
    errors.extend(validate_asset(&asset));
    if errors.is_empty() {
        Ok(asset)
    } else {
        Err(errors)
    }
}

/// One entry of a record's history, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    /// (field, before, after)
    pub changes: Vec<(String, String, String)>,
}

pub(crate) fn changes_json(changes: &[FieldChange]) -> String {
    serde_json::Value::Array(
        changes
            .iter()
            .map(|(f, b, a)| json!({"field": f, "before": b, "after": a}))
            .collect(),
    )
    .to_string()
}

fn decode_changes(s: &str) -> Vec<(String, String, String)> {
    let v: serde_json::Value = serde_json::from_str(s).unwrap_or(serde_json::Value::Null);
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    let g = |k: &str| c.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
                    (g("field"), g("before"), g("after"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A table of text: headers and rows, as exported to CSV/XLSX and read back on import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextTable {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The value of an asset field as people read it in a spreadsheet: labels for classes and
/// statuses, the vendor's name.
fn cell(lang: Lang, key: &str, raw: String, vendors: &[Vendor]) -> String {
    match key {
        "class" if !raw.is_empty() => tr(lang, &format!("asset_class.{raw}")).to_string(),
        "status" if !raw.is_empty() => tr(lang, &format!("asset_status.{raw}")).to_string(),
        "vendor" => VendorId::parse(&raw)
            .and_then(|id| vendors.iter().find(|v| v.id == id))
            .map(|v| v.name.clone())
            .unwrap_or_default(),
        _ => raw,
    }
}

/// The state of the periodic ledger review (棚卸).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewState {
    pub last: Option<ledger::ReviewRow>,
    pub cycle_days: u32,
    /// Days since the last review (None: never reviewed).
    pub age_days: Option<i64>,
    /// No review yet, or the last one is older than the cycle.
    pub overdue: bool,
}

impl Services {
    /// When the asset ledger was last signed off, and whether a review is due.
    pub async fn asset_review_state(&self) -> ServiceResult<ReviewState> {
        let cycle_days = self
            .store
            .facility()
            .await?
            .map(|f| f.settings.ledger_review_cycle_days)
            .unwrap_or(365);
        let last = self.store.last_review(ASSET).await?;
        let age_days = last
            .as_ref()
            .map(|r| (self.now_ms() - r.at_ms) / 86_400_000);
        Ok(ReviewState {
            overdue: age_days.is_none_or(|d| d > i64::from(cycle_days)),
            last,
            cycle_days,
            age_days,
        })
    }

    /// Signs off the asset ledger as reviewed (棚卸) today.
    pub async fn sign_off_assets(
        &self,
        cap: &Cap<perm::EditLedger>,
        note: &str,
        client: &ClientInfo,
    ) -> ServiceResult<()> {
        let note = note.trim();
        if note.chars().count() > 1000 {
            return Err(ServiceError::Invalid {
                code: "LED0002",
                field: "note",
            });
        }
        let records = i64::try_from(self.store.assets().await?.len()).unwrap_or(i64::MAX);
        let actor = cap.actor().label();
        let mut w = self.store.write().await?;
        ledger::insert_review(
            &mut w,
            ASSET,
            &ledger::ReviewRow {
                at_ms: self.now_ms(),
                actor: actor.clone(),
                note: note.to_string(),
                records,
            },
        )
        .await?;
        self.audit(
            &mut w,
            &actor,
            &client.source,
            "ledger.reviewed",
            "ledger:assets",
            json!({"records": records, "note": note}),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// The whole asset ledger as a table, headers in `lang`.
    pub async fn asset_table(
        &self,
        _cap: &Cap<perm::ViewLedger>,
        lang: Lang,
    ) -> ServiceResult<TextTable> {
        let vendors = self.store.vendors().await?;
        let mut assets = self.store.assets().await?;
        assets.sort_by(|a, b| a.tag.cmp(&b.tag));
        let headers = ASSET_FIELDS
            .iter()
            .map(|k| tr(lang, &format!("asset_field.{k}")).to_string())
            .collect();
        let rows = assets
            .iter()
            .map(|a| {
                asset_values(a)
                    .into_iter()
                    .map(|(k, v)| cell(lang, k, v, &vendors))
                    .collect()
            })
            .collect();
        Ok(TextTable { headers, rows })
    }

    /// A page of the asset ledger.
    pub async fn asset_list(
        &self,
        _cap: &Cap<perm::ViewLedger>,
        filter: &AssetFilter,
        page: i64,
        per_page: i64,
    ) -> ServiceResult<(Vec<Asset>, i64)> {
        let per = per_page.clamp(1, 500);
        let offset = (page.max(1) - 1).saturating_mul(per);
        Ok(self.store.assets_page(filter, per, offset).await?)
    }

    /// An asset with its history, newest first.
    pub async fn asset_detail(
        &self,
        _cap: &Cap<perm::ViewLedger>,
        id: AssetId,
    ) -> ServiceResult<(Asset, Vec<HistoryEntry>)> {
        let a = self.store.asset(id).await?.ok_or(ServiceError::NotFound)?;
        let h = self
            .store
            .history(ASSET, id.0)
            .await?
            .into_iter()
            .map(|r| HistoryEntry {
                at_ms: r.at_ms,
                actor: r.actor,
                action: r.action,
                changes: decode_changes(&r.changes),
            })
            .collect();
        Ok((a, h))
    }

    /// Registers a new asset.
    pub async fn create_asset(
        &self,
        cap: &Cap<perm::EditLedger>,
        input: &AssetInput,
        client: &ClientInfo,
    ) -> ServiceResult<AssetId> {
        let vendors = self.store.vendors().await?;
        let asset = parse_asset(input, &vendors).map_err(ServiceError::Fields)?;
        let now = self.now_ms();
        let actor = cap.actor().label();
        let mut w = self.store.write().await?;
        let id = ledger::insert_asset(&mut w, &asset).await.map_err(|e| {
            if e.is_unique_violation() {
                ServiceError::Fields(vec![FieldError {
                    field: "tag",
                    code: "LED0008",
                }])
            } else {
                e.into()
            }
        })?;
        let blank = Asset::blank(asset.class);
        let changes = asset_changes(
            &Asset {
                class: AssetClass::Other,
                status: asset.status,
                ..blank
            },
            &asset,
        );
        ledger::insert_history(
            &mut w,
            ASSET,
            id.0,
            now,
            &actor,
            "created",
            &changes_json(&changes),
        )
        .await?;
        self.audit(
            &mut w,
            &actor,
            &client.source,
            "ledger.asset_created",
            &format!("asset:{}", id.0),
            json!({"after": {"tag": asset.tag, "name": asset.name, "class": asset.class.as_str()}}),
        )
        .await?;
        w.commit().await?;
        Ok(id)
    }

    /// Replaces an asset's fields; records only what changed. Returns the number of changed fields.
    pub async fn update_asset(
        &self,
        cap: &Cap<perm::EditLedger>,
        id: AssetId,
        input: &AssetInput,
        client: &ClientInfo,
    ) -> ServiceResult<usize> {
        let before = self.store.asset(id).await?.ok_or(ServiceError::NotFound)?;
        let vendors = self.store.vendors().await?;
        let mut after = parse_asset(input, &vendors).map_err(ServiceError::Fields)?;
        after.id = id;
        let changes = asset_changes(&before, &after);
        if changes.is_empty() {
            return Ok(0);
        }
        let now = self.now_ms();
        let actor = cap.actor().label();
        let mut w = self.store.write().await?;
        ledger::update_asset(&mut w, &after).await.map_err(|e| {
            if e.is_unique_violation() {
                ServiceError::Fields(vec![FieldError {
                    field: "tag",
                    code: "LED0008",
                }])
            } else {
                e.into()
            }
        })?;
        let action =
            if before.status != AssetStatus::Disposed && after.status == AssetStatus::Disposed {
                "retired"
            } else {
                "updated"
            };
        ledger::insert_history(
            &mut w,
            ASSET,
            id.0,
            now,
            &actor,
            action,
            &changes_json(&changes),
        )
        .await?;
        let fields: Vec<&str> = changes.iter().map(|c| c.0).collect();
        self.audit(
            &mut w,
            &actor,
            &client.source,
            if action == "retired" { "ledger.asset_retired" } else { "ledger.asset_updated" },
            &format!("asset:{}", id.0),
            json!({
                "before": changes.iter().map(|c| (c.0.to_string(), json!(c.1))).collect::<serde_json::Map<String, serde_json::Value>>(),
                "after": changes.iter().map(|c| (c.0.to_string(), json!(c.2))).collect::<serde_json::Map<String, serde_json::Value>>(),
                "fields": fields,
            }),
        )
        .await?;
        w.commit().await?;
        Ok(changes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vendor() -> Vendor {
        Vendor {
            id: VendorId(3),
            name: "x".into(),
            services: String::new(),
            phone: String::new(),
            email: String::new(),
            remote_maintenance: None,
        }
    }

    #[test]
    fn input_round_trips_through_an_asset() {
        let input = AssetInput {
            tag: "A-0007".into(),
            class: "server".into(),
            name: "SV-01".into(),
            vendor: "3".into(),
            installed_on: "2021-04".into(),
            eol_on: "2029-01-09".into(),
            ip: "192.168.10.10".into(),
            status: "active".into(),
            ..Default::default()
        };
        let a = parse_asset(&input, &[vendor()]).unwrap();
        assert_eq!(AssetInput::of(&a), input);
    }

    #[test]
    fn every_bad_field_is_named() {
        let input = AssetInput {
            tag: "".into(),
            class: "castle".into(),
            name: "x".into(),
            vendor: "99".into(),
            installed_on: "2021/13".into(),
            eol_on: "2025-02-30".into(),
            status: "lost".into(),
            ..Default::default()
        };
        let e = parse_asset(&input, &[vendor()]).unwrap_err();
        let got: Vec<_> = e.iter().map(|e| (e.field, e.code)).collect();
        for want in [
            ("class", "LED0010"),
            ("status", "LED0011"),
            ("vendor", "LED0012"),
            ("eol_on", "LED0014"),
            ("installed_on", "LED0013"),
            ("tag", "LED0001"),
        ] {
            assert!(got.contains(&want), "missing {want:?} in {got:?}");
        }
    }
}
