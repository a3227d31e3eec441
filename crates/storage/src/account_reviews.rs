//! Account review campaigns (`account_reviews`, `account_review_items`, migration 0018).
//! Decisions and hints are stored as their `domain::account_review` codes; the service checks
//! the rules. An item keeps what the reviewer saw when the campaign opened.

use crate::{Backend, Result, Store, Tx, get_flag};
use sqlx::Row;
use sqlx::any::AnyRow;

/// One campaign, with its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRow {
    pub id: i64,
    pub title: String,
    pub system_id: Option<i64>,
    /// The system's name when it has one (joined; empty for every system).
    pub system: String,
    pub department: String,
    /// `YYYY-MM-DD`.
    pub due_on: Option<String>,
    pub opened_ms: i64,
    pub opened_by: String,
    pub closed_ms: Option<i64>,
    pub closed_by: Option<String>,
    pub close_note: String,
    pub pending: i64,
    pub keep: i64,
    pub revoke: i64,
}

const COLUMNS: &str = "r.id, r.title, r.system_id, COALESCE(s.name, ''), r.department, r.due_on, \
     r.opened_at, r.opened_by, r.closed_at, r.closed_by, r.close_note, \
     (SELECT COUNT(*) FROM account_review_items i WHERE i.review_id = r.id AND i.decision = 'pending'), \
     (SELECT COUNT(*) FROM account_review_items i WHERE i.review_id = r.id AND i.decision = 'keep'), \
     (SELECT COUNT(*) FROM account_review_items i WHERE i.review_id = r.id AND i.decision = 'revoke')";

const FROM: &str = "account_reviews r LEFT JOIN systems s ON s.id = r.system_id";

fn decode(r: &AnyRow) -> Result<ReviewRow> {
    Ok(ReviewRow {
        id: r.try_get(0)?,
        title: r.try_get(1)?,
        system_id: r.try_get(2)?,
        system: r.try_get(3)?,
        department: r.try_get(4)?,
        due_on: r.try_get(5)?,
        opened_ms: r.try_get(6)?,
        opened_by: r.try_get(7)?,
        closed_ms: r.try_get(8)?,
        closed_by: r.try_get(9)?,
        close_note: r.try_get(10)?,
        pending: r.try_get(11)?,
        keep: r.try_get(12)?,
        revoke: r.try_get(13)?,
    })
}

/// One account of a campaign, as the reviewer saw it, with the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRow {
    pub account_id: i64,
    pub system: String,
    pub login_id: String,
    pub owner: String,
    pub department: String,
    /// `domain::ledger::AccountKind` code.
    pub kind: String,
    pub is_admin: bool,
    pub last_login_on: Option<String>,
    /// `domain::account_review::Hint` codes, comma-separated.
    pub hints: String,
    /// `domain::account_review::Decision` code.
    pub decision: String,
    pub decided_ms: Option<i64>,
    pub decided_by: Option<String>,
    pub comment: String,
}

/// A campaign to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReview<'a> {
    pub title: &'a str,
    pub system_id: Option<i64>,
    pub department: &'a str,
    pub due_on: Option<&'a str>,
    pub opened_ms: i64,
    pub opened_by: &'a str,
}

/// Opens a campaign; returns its id.
pub async fn insert_review(tx: &mut Tx, r: &NewReview<'_>) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO account_reviews (title, system_id, department, due_on, opened_at, \
         opened_by, close_note) VALUES ($1, $2, $3, $4, $5, $6, '') RETURNING id",
    )
    .bind(r.title)
    .bind(r.system_id)
    .bind(r.department)
    .bind(r.due_on)
    .bind(r.opened_ms)
    .bind(r.opened_by)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get(0)?)
}

/// Adds an undecided item to campaign `review_id`.
pub async fn insert_item(tx: &mut Tx, review_id: i64, i: &ItemRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO account_review_items (review_id, account_id, system, login_id, owner, \
         department, kind, is_admin, last_login_on, hints, decision, comment) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', '')",
    )
    .bind(review_id)
    .bind(i.account_id)
    .bind(&i.system)
    .bind(&i.login_id)
    .bind(&i.owner)
    .bind(&i.department)
    .bind(&i.kind)
    .bind(i64::from(i.is_admin))
    .bind(i.last_login_on.as_deref())
    .bind(&i.hints)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Whether campaign `id` is closed, read inside `tx` (the row locked on PostgreSQL, so a
/// decision and a close cannot cross); `None` when there is no such campaign.
pub async fn closed_for_change(tx: &mut Tx, backend: Backend, id: i64) -> Result<Option<bool>> {
    let sql = match backend {
        Backend::Postgres => "SELECT closed_at FROM account_reviews WHERE id = $1 FOR UPDATE",
        Backend::Sqlite => "SELECT closed_at FROM account_reviews WHERE id = $1",
    };
    let r = sqlx::query(sql).bind(id).fetch_optional(&mut **tx).await?;
    r.map(|r| Ok(r.try_get::<Option<i64>, _>(0)?.is_some()))
        .transpose()
}

/// The items of campaign `id` among the account ids `ids`, with their decision, read inside `tx`.
pub async fn items_among(tx: &mut Tx, id: i64, ids: &[i64]) -> Result<Vec<(i64, String)>> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let params = (0..chunk.len())
            .map(|i| format!("${}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT account_id, decision FROM account_review_items WHERE review_id = $1 \
             AND account_id IN ({params})"
        );
        let mut q = sqlx::query(&sql).bind(id);
        for a in chunk {
            q = q.bind(*a);
        }
        for r in q.fetch_all(&mut **tx).await? {
            found.push((r.try_get(0)?, r.try_get(1)?));
        }
    }
    Ok(found)
}

/// The decision codes of every item of campaign `id`, read inside `tx`.
pub async fn decisions(tx: &mut Tx, id: i64) -> Result<Vec<String>> {
    let rows = sqlx::query("SELECT decision FROM account_review_items WHERE review_id = $1")
        .bind(id)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// Records a decision on one item.
pub async fn decide(
    tx: &mut Tx,
    review_id: i64,
    account_id: i64,
    decision: &str,
    at_ms: i64,
    by: &str,
    comment: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE account_review_items SET decision = $1, decided_at = $2, decided_by = $3, \
         comment = $4 WHERE review_id = $5 AND account_id = $6",
    )
    .bind(decision)
    .bind(at_ms)
    .bind(by)
    .bind(comment)
    .bind(review_id)
    .bind(account_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Closes a campaign.
pub async fn close(tx: &mut Tx, id: i64, at_ms: i64, by: &str, note: &str) -> Result<()> {
    sqlx::query(
        "UPDATE account_reviews SET closed_at = $1, closed_by = $2, close_note = $3 WHERE id = $4",
    )
    .bind(at_ms)
    .bind(by)
    .bind(note)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Every campaign, newest first.
    pub async fn account_reviews(&self) -> Result<Vec<ReviewRow>> {
        let sql = format!("SELECT {COLUMNS} FROM {FROM} ORDER BY r.opened_at DESC, r.id DESC");
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(decode).collect()
    }

    /// One campaign.
    pub async fn account_review(&self, id: i64) -> Result<Option<ReviewRow>> {
        let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE r.id = $1");
        let r = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(decode).transpose()
    }

    /// The items of a campaign, by system and login.
    pub async fn account_review_items(&self, id: i64) -> Result<Vec<ItemRow>> {
        let rows = sqlx::query(
            "SELECT account_id, system, login_id, owner, department, kind, is_admin, \
             last_login_on, hints, decision, decided_at, decided_by, comment \
             FROM account_review_items WHERE review_id = $1 ORDER BY system, login_id, account_id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ItemRow {
                    account_id: r.try_get(0)?,
                    system: r.try_get(1)?,
                    login_id: r.try_get(2)?,
                    owner: r.try_get(3)?,
                    department: r.try_get(4)?,
                    kind: r.try_get(5)?,
                    is_admin: get_flag(r, 6)?,
                    last_login_on: r.try_get(7)?,
                    hints: r.try_get(8)?,
                    decision: r.try_get(9)?,
                    decided_ms: r.try_get(10)?,
                    decided_by: r.try_get(11)?,
                    comment: r.try_get(12)?,
                })
            })
            .collect()
    }
}
