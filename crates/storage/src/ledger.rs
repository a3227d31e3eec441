//! Ledger tables: vendors, information systems, persons, assets and accounts.

use crate::{Result, Store, StoreError, Tx};
use mamori_domain::ledger::{
    Account, AccountKind, Asset, AssetClass, AssetStatus, DeliveryModel, InfoSystem, JobType,
    Person, Vendor,
};
use mamori_domain::{AccountId, AssetId, PersonId, SystemId, VendorId};
use sqlx::Row;
use sqlx::any::AnyRow;
use time::Date;
use time::macros::format_description;

const DATE_FMT: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]");

fn date_text(d: Option<Date>) -> Option<String> {
    d.and_then(|d| d.format(DATE_FMT).ok())
}

fn date_of(r: &AnyRow, i: usize) -> Result<Option<Date>> {
    let s: Option<String> = r.try_get(i)?;
    s.map(|s| Date::parse(&s, DATE_FMT).map_err(|_| StoreError::Corrupt(format!("date {s}"))))
        .transpose()
}

fn code<T>(s: String, parse: fn(&str) -> Option<T>, what: &str) -> Result<T> {
    parse(&s).ok_or_else(|| StoreError::Corrupt(format!("{what} {s}")))
}

async fn returning_id<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    tx: &mut Tx,
) -> Result<i64> {
    let r = q.fetch_one(&mut **tx).await?;
    Ok(r.try_get(0)?)
}

pub async fn insert_vendor(tx: &mut Tx, v: &Vendor) -> Result<VendorId> {
    let q = sqlx::query(
        "INSERT INTO vendors (name, services, phone, email, remote_maintenance) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(v.name.clone())
    .bind(v.services.clone())
    .bind(v.phone.clone())
    .bind(v.email.clone())
    .bind(v.remote_maintenance.map(crate::flag));
    Ok(VendorId(returning_id(q, tx).await?))
}

pub async fn insert_system(tx: &mut Tx, s: &InfoSystem) -> Result<SystemId> {
    let q = sqlx::query(
        "INSERT INTO systems (name, category, vendor_id, delivery, two_factor) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(s.name.clone())
    .bind(s.category.clone())
    .bind(s.vendor_id.map(|v| v.0))
    .bind(s.delivery.as_str())
    .bind(crate::flag(s.two_factor));
    Ok(SystemId(returning_id(q, tx).await?))
}

pub async fn insert_person(tx: &mut Tx, p: &Person) -> Result<PersonId> {
    let q = sqlx::query(
        "INSERT INTO persons (staff_no, name, name_kana, job, department, joined_on, left_on) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(p.staff_no.clone())
    .bind(p.name.clone())
    .bind(p.name_kana.clone())
    .bind(p.job.as_str())
    .bind(p.department.clone())
    .bind(date_text(p.joined_on))
    .bind(date_text(p.left_on));
    Ok(PersonId(returning_id(q, tx).await?))
}

/// Column list of `assets`, in the order [`asset_of`] reads it.
const ASSET_COLS: &str = "id, tag, class, name, location, purpose, department, vendor_id, os, ip, mac, serial, \
    installed_on, eol_on, last_patch_on, status, external_connection, disposal_method, disposed_on, \
    disposal_certificate, notes";

fn asset_of(r: &AnyRow) -> Result<Asset> {
    Ok(Asset {
        id: AssetId(r.try_get(0)?),
        tag: r.try_get(1)?,
        class: code(r.try_get(2)?, AssetClass::parse, "asset class")?,
        name: r.try_get(3)?,
        location: r.try_get(4)?,
        purpose: r.try_get(5)?,
        department: r.try_get(6)?,
        vendor_id: r.try_get::<Option<i64>, _>(7)?.map(VendorId),
        os: r.try_get(8)?,
        ip: r.try_get(9)?,
        mac: r.try_get(10)?,
        serial: r.try_get(11)?,
        installed_on: date_of(r, 12)?,
        eol_on: date_of(r, 13)?,
        last_patch_on: date_of(r, 14)?,
        status: code(r.try_get(15)?, AssetStatus::parse, "asset status")?,
        external_connection: r.try_get(16)?,
        disposal_method: r.try_get(17)?,
        disposed_on: date_of(r, 18)?,
        disposal_certificate: r.try_get(19)?,
        notes: r.try_get(20)?,
    })
}

/// Binds every asset column but the id, in `ASSET_COLS` order ($1…$20).
fn bind_asset<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    a: &Asset,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(a.tag.clone())
        .bind(a.class.as_str())
        .bind(a.name.clone())
        .bind(a.location.clone())
        .bind(a.purpose.clone())
        .bind(a.department.clone())
        .bind(a.vendor_id.map(|v| v.0))
        .bind(a.os.clone())
        .bind(a.ip.clone())
        .bind(a.mac.clone())
        .bind(a.serial.clone())
        .bind(date_text(a.installed_on))
        .bind(date_text(a.eol_on))
        .bind(date_text(a.last_patch_on))
        .bind(a.status.as_str())
        .bind(a.external_connection.clone())
        .bind(a.disposal_method.clone())
        .bind(date_text(a.disposed_on))
        .bind(a.disposal_certificate.clone())
        .bind(a.notes.clone())
}

fn unique_to_conflict(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict,
        e => StoreError::Db(e),
    }
}

pub async fn insert_asset(tx: &mut Tx, a: &Asset) -> Result<AssetId> {
    let q = sqlx::query(
        "INSERT INTO assets (tag, class, name, location, purpose, department, vendor_id, os, ip, mac, serial, \
         installed_on, eol_on, last_patch_on, status, external_connection, disposal_method, disposed_on, \
         disposal_certificate, notes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) RETURNING id",
    );
    let r = bind_asset(q, a)
        .fetch_one(&mut **tx)
        .await
        .map_err(unique_to_conflict)?;
    Ok(AssetId(r.try_get(0)?))
}

/// Replaces every field of an existing asset.
pub async fn update_asset(tx: &mut Tx, a: &Asset) -> Result<bool> {
    let q = sqlx::query(
        "UPDATE assets SET tag = $1, class = $2, name = $3, location = $4, purpose = $5, department = $6, \
         vendor_id = $7, os = $8, ip = $9, mac = $10, serial = $11, installed_on = $12, eol_on = $13, \
         last_patch_on = $14, status = $15, external_connection = $16, disposal_method = $17, \
         disposed_on = $18, disposal_certificate = $19, notes = $20 WHERE id = $21",
    );
    let r = bind_asset(q, a)
        .bind(a.id.0)
        .execute(&mut **tx)
        .await
        .map_err(unique_to_conflict)?;
    Ok(r.rows_affected() == 1)
}

/// Filters of the asset list. Empty strings mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetFilter {
    /// Free text over tag, name, location, IP, serial, OS and purpose.
    pub q: String,
    pub class: Option<AssetClass>,
    pub status: Option<AssetStatus>,
    pub location: String,
}

/// Appends one history entry of a ledger record.
pub async fn insert_history(
    tx: &mut Tx,
    kind: &str,
    record_id: i64,
    at_ms: i64,
    actor: &str,
    action: &str,
    changes_json: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO ledger_history (kind, record_id, at, actor, action, changes) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(kind)
    .bind(record_id)
    .bind(at_ms)
    .bind(actor)
    .bind(action)
    .bind(changes_json)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A sign-off of a ledger (棚卸).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRow {
    pub at_ms: i64,
    pub actor: String,
    pub note: String,
    pub records: i64,
}

pub async fn insert_review(tx: &mut Tx, kind: &str, r: &ReviewRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO ledger_reviews (kind, at, actor, note, records) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(kind)
    .bind(r.at_ms)
    .bind(r.actor.clone())
    .bind(r.note.clone())
    .bind(r.records)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One entry of a record's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    /// JSON array of `{field, before, after}`.
    pub changes: String,
}

pub async fn insert_account(tx: &mut Tx, a: &Account) -> Result<AccountId> {
    let q = sqlx::query(
        "INSERT INTO accounts (system_id, login_id, person_id, kind, is_admin, enabled, last_login_on, two_factor) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(a.system_id.0)
    .bind(a.login_id.clone())
    .bind(a.person_id.map(|p| p.0))
    .bind(a.kind.as_str())
    .bind(crate::flag(a.is_admin))
    .bind(crate::flag(a.enabled))
    .bind(date_text(a.last_login_on))
    .bind(crate::flag(a.two_factor));
    Ok(AccountId(returning_id(q, tx).await?))
}

impl Store {
    pub async fn vendors(&self) -> Result<Vec<Vendor>> {
        let rows = sqlx::query(
            "SELECT id, name, services, phone, email, remote_maintenance FROM vendors ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Vendor {
                    id: VendorId(r.try_get(0)?),
                    name: r.try_get(1)?,
                    services: r.try_get(2)?,
                    phone: r.try_get(3)?,
                    email: r.try_get(4)?,
                    remote_maintenance: crate::get_opt_flag(r, 5)?,
                })
            })
            .collect()
    }

    pub async fn systems(&self) -> Result<Vec<InfoSystem>> {
        let rows = sqlx::query(
            "SELECT id, name, category, vendor_id, delivery, two_factor FROM systems ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(InfoSystem {
                    id: SystemId(r.try_get(0)?),
                    name: r.try_get(1)?,
                    category: r.try_get(2)?,
                    vendor_id: r.try_get::<Option<i64>, _>(3)?.map(VendorId),
                    delivery: code(r.try_get(4)?, DeliveryModel::parse, "delivery")?,
                    two_factor: crate::get_flag(r, 5)?,
                })
            })
            .collect()
    }

    pub async fn persons(&self) -> Result<Vec<Person>> {
        let rows = sqlx::query(
            "SELECT id, staff_no, name, name_kana, job, department, joined_on, left_on FROM persons ORDER BY staff_no",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Person {
                    id: PersonId(r.try_get(0)?),
                    staff_no: r.try_get(1)?,
                    name: r.try_get(2)?,
                    name_kana: r.try_get(3)?,
                    job: code(r.try_get(4)?, JobType::parse, "job")?,
                    department: r.try_get(5)?,
                    joined_on: date_of(r, 6)?,
                    left_on: date_of(r, 7)?,
                })
            })
            .collect()
    }

    pub async fn assets(&self) -> Result<Vec<Asset>> {
        let sql = format!("SELECT {ASSET_COLS} FROM assets ORDER BY id");
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(asset_of).collect()
    }

    pub async fn asset(&self, id: AssetId) -> Result<Option<Asset>> {
        let sql = format!("SELECT {ASSET_COLS} FROM assets WHERE id = $1");
        let r = sqlx::query(&sql)
            .bind(id.0)
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(asset_of).transpose()
    }

    /// A page of assets matching `f`, ordered by tag, and the number of matches.
    pub async fn assets_page(
        &self,
        f: &AssetFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Asset>, i64)> {
        let mut conds: Vec<String> = Vec::new();
        let mut args: Vec<String> = Vec::new();
        let q = f.q.trim();
        if !q.is_empty() {
            let like = format!(
                "%{}%",
                q.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            args.push(like);
            let n = args.len();
            conds.push(format!(
                "(tag LIKE ${n} ESCAPE '\\' OR name LIKE ${n} ESCAPE '\\' OR location LIKE ${n} ESCAPE '\\' \
                 OR ip LIKE ${n} ESCAPE '\\' OR serial LIKE ${n} ESCAPE '\\' OR os LIKE ${n} ESCAPE '\\' \
                 OR purpose LIKE ${n} ESCAPE '\\')"
            ));
        }
        if let Some(c) = f.class {
            args.push(c.as_str().to_string());
            conds.push(format!("class = ${}", args.len()));
        }
        if let Some(s) = f.status {
            args.push(s.as_str().to_string());
            conds.push(format!("status = ${}", args.len()));
        }
        if !f.location.trim().is_empty() {
            args.push(f.location.trim().to_string());
            conds.push(format!("location = ${}", args.len()));
        }
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        let count_sql = format!("SELECT COUNT(*) FROM assets{filter}");
        let mut cq = sqlx::query(&count_sql);
        for a in &args {
            cq = cq.bind(a.clone());
        }
        let total: i64 = cq.fetch_one(self.pool()).await?.try_get(0)?;
        let sql = format!(
            "SELECT {ASSET_COLS} FROM assets{filter} ORDER BY tag LIMIT ${} OFFSET ${}",
            args.len() + 1,
            args.len() + 2
        );
        let mut pq = sqlx::query(&sql);
        for a in &args {
            pq = pq.bind(a.clone());
        }
        let rows = pq.bind(limit).bind(offset).fetch_all(self.pool()).await?;
        let list = rows.iter().map(asset_of).collect::<Result<Vec<_>>>()?;
        Ok((list, total))
    }

    /// Number of assets per status code.
    pub async fn asset_status_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT status, COUNT(*) FROM assets GROUP BY status")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// The latest sign-off of a ledger.
    pub async fn last_review(&self, kind: &str) -> Result<Option<ReviewRow>> {
        let r = sqlx::query(
            "SELECT at, actor, note, records FROM ledger_reviews WHERE kind = $1 ORDER BY at DESC, id DESC LIMIT 1",
        )
        .bind(kind)
        .fetch_optional(self.pool())
        .await?;
        r.map(|r| {
            Ok(ReviewRow {
                at_ms: r.try_get(0)?,
                actor: r.try_get(1)?,
                note: r.try_get(2)?,
                records: r.try_get(3)?,
            })
        })
        .transpose()
    }

    /// Distinct locations in use, for the filter list.
    pub async fn asset_locations(&self) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT location FROM assets WHERE location <> '' ORDER BY location",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(StoreError::from))
            .collect()
    }

    /// The history of one record, newest first.
    pub async fn history(&self, kind: &str, record_id: i64) -> Result<Vec<HistoryRow>> {
        let rows = sqlx::query(
            "SELECT at, actor, action, changes FROM ledger_history WHERE kind = $1 AND record_id = $2 ORDER BY id DESC",
        )
        .bind(kind)
        .bind(record_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(HistoryRow {
                    at_ms: r.try_get(0)?,
                    actor: r.try_get(1)?,
                    action: r.try_get(2)?,
                    changes: r.try_get(3)?,
                })
            })
            .collect()
    }

    pub async fn accounts(&self) -> Result<Vec<Account>> {
        let rows = sqlx::query(
            "SELECT id, system_id, login_id, person_id, kind, is_admin, enabled, last_login_on, two_factor \
             FROM accounts ORDER BY system_id, login_id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Account {
                    id: AccountId(r.try_get(0)?),
                    system_id: SystemId(r.try_get(1)?),
                    login_id: r.try_get(2)?,
                    person_id: r.try_get::<Option<i64>, _>(3)?.map(PersonId),
                    kind: code(r.try_get(4)?, AccountKind::parse, "account kind")?,
                    is_admin: crate::get_flag(r, 5)?,
                    enabled: crate::get_flag(r, 6)?,
                    last_login_on: date_of(r, 7)?,
                    two_factor: crate::get_flag(r, 8)?,
                })
            })
            .collect()
    }
}
