//! The record of directory syncs (`directory_syncs`, migration 0016): one row per sync, applied
//! or refused, for the directory page and as evidence that accounts follow the directory.

use crate::{Result, Store, Tx};
use sqlx::Row;

/// One sync as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectorySyncRow {
    pub at_ms: i64,
    /// The ledger system's name.
    pub system: String,
    /// `scheduled`, `manual` (the page) or `cli`.
    pub via: String,
    /// Empty when applied, else the `DIR00xx` code.
    pub code: String,
    pub detail: String,
    pub users: i64,
    pub added: i64,
    pub changed: i64,
    pub disabled: i64,
}

/// Records a sync inside the caller's transaction.
pub async fn record_sync(tx: &mut Tx, r: &DirectorySyncRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO directory_syncs (at, system, via, code, detail, users, added, changed, \
         disabled) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(r.at_ms)
    .bind(&r.system)
    .bind(&r.via)
    .bind(&r.code)
    .bind(&r.detail)
    .bind(r.users)
    .bind(r.added)
    .bind(r.changed)
    .bind(r.disabled)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// The last `limit` syncs, newest first.
    pub async fn directory_syncs(&self, limit: i64) -> Result<Vec<DirectorySyncRow>> {
        let rows = sqlx::query(
            "SELECT at, system, via, code, detail, users, added, changed, disabled \
             FROM directory_syncs ORDER BY at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DirectorySyncRow {
                    at_ms: r.try_get(0)?,
                    system: r.try_get(1)?,
                    via: r.try_get(2)?,
                    code: r.try_get(3)?,
                    detail: r.try_get(4)?,
                    users: r.try_get(5)?,
                    added: r.try_get(6)?,
                    changed: r.try_get(7)?,
                    disabled: r.try_get(8)?,
                })
            })
            .collect()
    }
}
