//! Checklist answers: every answer ever given is kept (with the evidence frozen when it was
//! given); the newest row per item is the current answer.

use crate::{Result, Store, Tx};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Which form an answer belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FormKey {
    pub edition: String,
    pub variant: String,
    pub fiscal_year: i32,
    /// Empty for the facility's own form; `vendor:{id}:system:{id}` for a vendor's form.
    pub scope: String,
}

/// One answer to one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerRow {
    pub id: i64,
    pub item_key: String,
    /// `yes`, `no` or `na`.
    pub answer: String,
    /// 確認日, `YYYY-MM-DD`.
    pub confirmed_on: String,
    pub target_on: Option<String>,
    pub remarks: String,
    /// The evidence's verdict when the answer was given.
    pub verdict: String,
    /// The evidence as canonical JSON, and its SHA-256 (hex).
    pub evidence: String,
    pub evidence_sha256: String,
    pub at_ms: i64,
    pub actor: String,
}

const COLUMNS: &str = "id, item_key, answer, confirmed_on, target_on, remarks, verdict, evidence, \
                       evidence_sha256, at, actor";

fn decode(r: &AnyRow) -> Result<AnswerRow> {
    Ok(AnswerRow {
        id: r.try_get(0)?,
        item_key: r.try_get(1)?,
        answer: r.try_get(2)?,
        confirmed_on: r.try_get(3)?,
        target_on: r.try_get(4)?,
        remarks: r.try_get(5)?,
        verdict: r.try_get(6)?,
        evidence: r.try_get(7)?,
        evidence_sha256: r.try_get(8)?,
        at_ms: r.try_get(9)?,
        actor: r.try_get(10)?,
    })
}

/// Appends an answer to form `k`; returns its id.
pub async fn insert_answer(tx: &mut Tx, k: &FormKey, a: &AnswerRow) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO checklist_answers (edition, variant, fiscal_year, scope, item_key, answer, \
         confirmed_on, target_on, remarks, verdict, evidence, evidence_sha256, at, actor) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
    )
    .bind(k.edition.clone())
    .bind(k.variant.clone())
    .bind(i64::from(k.fiscal_year))
    .bind(k.scope.clone())
    .bind(a.item_key.clone())
    .bind(a.answer.clone())
    .bind(a.confirmed_on.clone())
    .bind(a.target_on.clone())
    .bind(a.remarks.clone())
    .bind(a.verdict.clone())
    .bind(a.evidence.clone())
    .bind(a.evidence_sha256.clone())
    .bind(a.at_ms)
    .bind(a.actor.clone())
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get(0)?)
}

impl Store {
    /// The current answer of every answered item of form `k`.
    pub async fn current_answers(&self, k: &FormKey) -> Result<Vec<AnswerRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM checklist_answers WHERE id IN (\
               SELECT MAX(id) FROM checklist_answers \
               WHERE edition = $1 AND variant = $2 AND fiscal_year = $3 AND scope = $4 \
               GROUP BY item_key) ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(k.edition.clone())
            .bind(k.variant.clone())
            .bind(i64::from(k.fiscal_year))
            .bind(k.scope.clone())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(decode).collect()
    }

    /// Every answer given to item `key` of form `k`, newest first.
    pub async fn answer_history(&self, k: &FormKey, key: &str) -> Result<Vec<AnswerRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM checklist_answers \
             WHERE edition = $1 AND variant = $2 AND fiscal_year = $3 AND scope = $4 \
             AND item_key = $5 ORDER BY id DESC"
        );
        let rows = sqlx::query(&sql)
            .bind(k.edition.clone())
            .bind(k.variant.clone())
            .bind(i64::from(k.fiscal_year))
            .bind(k.scope.clone())
            .bind(key.to_string())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(decode).collect()
    }

    /// The forms that have answers: (edition, variant, fiscal year, scope, answers given).
    pub async fn answered_forms(&self) -> Result<Vec<(FormKey, i64)>> {
        let rows = sqlx::query(
            "SELECT edition, variant, fiscal_year, scope, COUNT(*) FROM checklist_answers \
             GROUP BY edition, variant, fiscal_year, scope \
             ORDER BY fiscal_year DESC, edition, variant, scope",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let fy: i64 = r.try_get(2)?;
                Ok((
                    FormKey {
                        edition: r.try_get(0)?,
                        variant: r.try_get(1)?,
                        fiscal_year: i32::try_from(fy).unwrap_or_default(),
                        scope: r.try_get(3)?,
                    },
                    r.try_get(4)?,
                ))
            })
            .collect()
    }
}
