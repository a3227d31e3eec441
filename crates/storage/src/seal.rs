//! Verifications of the sealed log: one row per run (by a person or the daily check), read back
//! for the ログ page and the dashboard.

use crate::{Result, Store, Tx, flag, get_flag};
use sqlx::Row;

/// One verification of the sealed log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationRow {
    pub at_ms: i64,
    /// The user's label (`user:<id>:<login>`) or `system`.
    pub actor: String,
    /// `manual` or `scheduled`.
    pub kind: String,
    /// First record verified (greater than 0 after retention).
    pub first_index: i64,
    /// Records in the verified tree (one past the last record verified).
    pub tree_size: i64,
    pub ok: bool,
    /// First bad record, when the failure is tied to one.
    pub bad_index: Option<i64>,
    /// The verifier's code (`SEAL0105` …), empty when it passed.
    pub code: String,
    pub reason: String,
    pub duration_ms: i64,
}

pub async fn insert_verification(tx: &mut Tx, v: &VerificationRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO seal_verifications (at, actor, kind, first_index, tree_size, ok, bad_index, code, reason, duration_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(v.at_ms)
    .bind(v.actor.clone())
    .bind(v.kind.clone())
    .bind(v.first_index)
    .bind(v.tree_size)
    .bind(flag(v.ok))
    .bind(v.bad_index)
    .bind(v.code.clone())
    .bind(v.reason.clone())
    .bind(v.duration_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// The latest `limit` verifications, newest first.
    pub async fn seal_verifications(&self, limit: i64) -> Result<Vec<VerificationRow>> {
        let rows = sqlx::query(
            "SELECT at, actor, kind, first_index, tree_size, ok, bad_index, code, reason, duration_ms \
             FROM seal_verifications ORDER BY at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(VerificationRow {
                    at_ms: r.try_get(0)?,
                    actor: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    first_index: r.try_get(3)?,
                    tree_size: r.try_get(4)?,
                    ok: get_flag(r, 5)?,
                    bad_index: r.try_get::<Option<i64>, _>(6)?,
                    code: r.try_get(7)?,
                    reason: r.try_get(8)?,
                    duration_ms: r.try_get(9)?,
                })
            })
            .collect()
    }

    /// The latest verification.
    pub async fn last_seal_verification(&self) -> Result<Option<VerificationRow>> {
        Ok(self.seal_verifications(1).await?.into_iter().next())
    }
}
