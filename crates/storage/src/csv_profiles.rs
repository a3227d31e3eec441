//! The facility's own mapping profiles of access-log CSV exports (`log_csv_profiles`): a name,
//! the profile as JSON, the ledger system it reads, who made and last changed it.

use crate::{Result, Store, Tx};
use sqlx::Row;
use sqlx::any::AnyRow;

/// One stored profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRow {
    pub id: i64,
    pub name: String,
    pub system_id: Option<i64>,
    /// The profile as JSON (`ingest::CsvProfile`).
    pub body: String,
    pub created_at_ms: i64,
    pub created_by: String,
    pub updated_at_ms: i64,
    pub updated_by: String,
}

const COLUMNS: &str = "id, name, system_id, body, created_at, created_by, updated_at, updated_by";

fn decode(r: &AnyRow) -> Result<ProfileRow> {
    Ok(ProfileRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        system_id: r.try_get(2)?,
        body: r.try_get(3)?,
        created_at_ms: r.try_get(4)?,
        created_by: r.try_get(5)?,
        updated_at_ms: r.try_get(6)?,
        updated_by: r.try_get(7)?,
    })
}

/// Stores a new profile (`id`, `updated_*` ignored: they start as the `created_*`); returns its id.
pub async fn insert_profile(tx: &mut Tx, p: &ProfileRow) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO log_csv_profiles (name, system_id, body, created_at, created_by, updated_at, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $4, $5) RETURNING id",
    )
    .bind(p.name.clone())
    .bind(p.system_id)
    .bind(p.body.clone())
    .bind(p.created_at_ms)
    .bind(p.created_by.clone())
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get(0)?)
}

/// Replaces the name, system and body of profile `id`; `false` when there is none.
pub async fn update_profile(tx: &mut Tx, id: i64, p: &ProfileRow) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE log_csv_profiles SET name = $1, system_id = $2, body = $3, updated_at = $4, updated_by = $5 \
         WHERE id = $6",
    )
    .bind(p.name.clone())
    .bind(p.system_id)
    .bind(p.body.clone())
    .bind(p.updated_at_ms)
    .bind(p.updated_by.clone())
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Deletes profile `id`; `false` when there is none.
pub async fn delete_profile(tx: &mut Tx, id: i64) -> Result<bool> {
    let done = sqlx::query("DELETE FROM log_csv_profiles WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The profile named `name`, read inside a transaction.
pub async fn profile_in(tx: &mut Tx, name: &str) -> Result<Option<ProfileRow>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM log_csv_profiles WHERE name = $1"
    ))
    .bind(name.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(decode).transpose()
}

impl Store {
    /// Every stored profile, by name.
    pub async fn csv_profiles(&self) -> Result<Vec<ProfileRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM log_csv_profiles ORDER BY name"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode).collect()
    }

    /// The stored profile named `name`.
    pub async fn csv_profile(&self, name: &str) -> Result<Option<ProfileRow>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM log_csv_profiles WHERE name = $1"
        ))
        .bind(name.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode).transpose()
    }
}
