//! What the ledger keeps beside its registries (see [`crate::registry`]): the change history of
//! every record, the periodic sign-offs (棚卸) and files attached to records.

use crate::{Result, Store, Tx};
use sqlx::Row;

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

impl Store {
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

    /// The history of every record of one registry, as (record id, entry), oldest first: one
    /// query where a page needs the changes of many records.
    pub async fn history_of_kind(&self, kind: &str) -> Result<Vec<(i64, HistoryRow)>> {
        let rows = sqlx::query(
            "SELECT record_id, at, actor, action, changes FROM ledger_history WHERE kind = $1 ORDER BY id",
        )
        .bind(kind)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    HistoryRow {
                        at_ms: r.try_get(1)?,
                        actor: r.try_get(2)?,
                        action: r.try_get(3)?,
                        changes: r.try_get(4)?,
                    },
                ))
            })
            .collect()
    }

    /// The files attached to a record, newest first (without their bytes).
    pub async fn files(&self, kind: &str, record_id: i64) -> Result<Vec<FileRow>> {
        let rows = sqlx::query(
            "SELECT id, name, content_type, sha256, size, at, actor FROM ledger_files \
             WHERE kind = $1 AND record_id = $2 ORDER BY id DESC",
        )
        .bind(kind)
        .bind(record_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(file_row).collect()
    }

    /// One file of a record, with its bytes.
    pub async fn file(
        &self,
        kind: &str,
        record_id: i64,
        id: i64,
    ) -> Result<Option<(FileRow, Vec<u8>)>> {
        let r = sqlx::query(
            "SELECT id, name, content_type, sha256, size, at, actor, bytes FROM ledger_files \
             WHERE kind = $1 AND record_id = $2 AND id = $3",
        )
        .bind(kind)
        .bind(record_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        r.map(|r| Ok((file_row(&r)?, r.try_get::<Vec<u8>, _>(7)?)))
            .transpose()
    }
}

/// A file attached to a ledger record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    pub id: i64,
    pub name: String,
    pub content_type: String,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
    pub size: i64,
    pub at_ms: i64,
    pub actor: String,
}

fn file_row(r: &sqlx::any::AnyRow) -> Result<FileRow> {
    Ok(FileRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        content_type: r.try_get(2)?,
        sha256: r.try_get(3)?,
        size: r.try_get(4)?,
        at_ms: r.try_get(5)?,
        actor: r.try_get(6)?,
    })
}

/// Attaches a file to a record (files are never deleted: a new upload is a new row).
pub async fn insert_file(
    tx: &mut Tx,
    kind: &str,
    record_id: i64,
    f: &FileRow,
    bytes: Vec<u8>,
) -> Result<i64> {
    let r = sqlx::query(
        "INSERT INTO ledger_files (kind, record_id, name, content_type, sha256, size, bytes, at, actor) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(kind)
    .bind(record_id)
    .bind(f.name.clone())
    .bind(f.content_type.clone())
    .bind(f.sha256.clone())
    .bind(f.size)
    .bind(bytes)
    .bind(f.at_ms)
    .bind(f.actor.clone())
    .fetch_one(&mut **tx)
    .await?;
    Ok(r.try_get(0)?)
}
