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

pub async fn insert_asset(tx: &mut Tx, a: &Asset) -> Result<AssetId> {
    let q = sqlx::query(
        "INSERT INTO assets (class, name, location, purpose, department, vendor_id, os, ip, serial, \
         installed_on, eol_on, last_patch_on, status, external_connection) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
    )
    .bind(a.class.as_str())
    .bind(a.name.clone())
    .bind(a.location.clone())
    .bind(a.purpose.clone())
    .bind(a.department.clone())
    .bind(a.vendor_id.map(|v| v.0))
    .bind(a.os.clone())
    .bind(a.ip.clone())
    .bind(a.serial.clone())
    .bind(date_text(a.installed_on))
    .bind(date_text(a.eol_on))
    .bind(date_text(a.last_patch_on))
    .bind(a.status.as_str())
    .bind(a.external_connection.clone());
    Ok(AssetId(returning_id(q, tx).await?))
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
        let rows = sqlx::query(
            "SELECT id, class, name, location, purpose, department, vendor_id, os, ip, serial, installed_on, \
             eol_on, last_patch_on, status, external_connection FROM assets ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Asset {
                    id: AssetId(r.try_get(0)?),
                    class: code(r.try_get(1)?, AssetClass::parse, "asset class")?,
                    name: r.try_get(2)?,
                    location: r.try_get(3)?,
                    purpose: r.try_get(4)?,
                    department: r.try_get(5)?,
                    vendor_id: r.try_get::<Option<i64>, _>(6)?.map(VendorId),
                    os: r.try_get(7)?,
                    ip: r.try_get(8)?,
                    serial: r.try_get(9)?,
                    installed_on: date_of(r, 10)?,
                    eol_on: date_of(r, 11)?,
                    last_patch_on: date_of(r, 12)?,
                    status: code(r.try_get(13)?, AssetStatus::parse, "asset status")?,
                    external_connection: r.try_get(14)?,
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
