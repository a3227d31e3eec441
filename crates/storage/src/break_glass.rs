//! Emergency (break-glass) accounts: custody of their sealed credentials (`break_glass`) and
//! their uses (`break_glass_uses`), migration 0019. The service checks the rules.

use crate::{Result, Store, Tx};
use sqlx::Row;

/// The custody of one emergency account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustodyRow {
    pub account_id: i64,
    /// One per line.
    pub holders: String,
    pub location: String,
    pub notes: String,
    pub sealed_ms: i64,
    pub sealed_by: String,
}

/// One use of an emergency account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseRow {
    pub id: i64,
    pub account_id: i64,
    pub used_ms: i64,
    pub recorded_ms: i64,
    /// `declared` or `detected`.
    pub via: String,
    pub recorded_by: String,
    pub reason: String,
    pub alert_id: Option<i64>,
}

/// Registers custody, or replaces it (holders, place, notes); the seal time is kept unless
/// `sealed` gives a new one.
pub async fn upsert_custody(tx: &mut Tx, c: &CustodyRow, sealed: bool) -> Result<()> {
    let done = if sealed {
        sqlx::query(
            "UPDATE break_glass SET holders = $1, location = $2, notes = $3, sealed_at = $4, \
             sealed_by = $5 WHERE account_id = $6",
        )
        .bind(&c.holders)
        .bind(&c.location)
        .bind(&c.notes)
        .bind(c.sealed_ms)
        .bind(&c.sealed_by)
        .bind(c.account_id)
        .execute(&mut **tx)
        .await?
    } else {
        sqlx::query(
            "UPDATE break_glass SET holders = $1, location = $2, notes = $3 WHERE account_id = $4",
        )
        .bind(&c.holders)
        .bind(&c.location)
        .bind(&c.notes)
        .bind(c.account_id)
        .execute(&mut **tx)
        .await?
    };
    if done.rows_affected() == 0 {
        sqlx::query(
            "INSERT INTO break_glass (account_id, holders, location, notes, sealed_at, sealed_by) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(c.account_id)
        .bind(&c.holders)
        .bind(&c.location)
        .bind(&c.notes)
        .bind(c.sealed_ms)
        .bind(&c.sealed_by)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Records that the password was changed and sealed again at `at_ms`. False when the account
/// has no custody.
pub async fn reseal(tx: &mut Tx, account_id: i64, at_ms: i64, by: &str) -> Result<bool> {
    let done =
        sqlx::query("UPDATE break_glass SET sealed_at = $1, sealed_by = $2 WHERE account_id = $3")
            .bind(at_ms)
            .bind(by)
            .bind(account_id)
            .execute(&mut **tx)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Appends a use; returns its id.
pub async fn insert_use(tx: &mut Tx, u: &UseRow) -> Result<i64> {
    let r = sqlx::query(
        "INSERT INTO break_glass_uses (account_id, used_at, recorded_at, via, recorded_by, \
         reason, alert_id) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(u.account_id)
    .bind(u.used_ms)
    .bind(u.recorded_ms)
    .bind(&u.via)
    .bind(&u.recorded_by)
    .bind(&u.reason)
    .bind(u.alert_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(r.try_get(0)?)
}

/// The registered emergency accounts whose login is `login` (any case), read inside `tx`.
pub async fn registered_by_login(tx: &mut Tx, login: &str) -> Result<Vec<i64>> {
    let rows = sqlx::query(
        "SELECT b.account_id FROM break_glass b JOIN accounts a ON a.id = b.account_id \
         WHERE LOWER(a.login_id) = LOWER($1) ORDER BY b.account_id",
    )
    .bind(login)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// When account `account_id` was last sealed (None: not registered) and last used, read inside
/// `tx`.
pub async fn seal_and_last_use(tx: &mut Tx, account_id: i64) -> Result<(Option<i64>, Option<i64>)> {
    let sealed: Option<i64> =
        sqlx::query("SELECT sealed_at FROM break_glass WHERE account_id = $1")
            .bind(account_id)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
    let last: Option<i64> =
        sqlx::query("SELECT MAX(used_at) FROM break_glass_uses WHERE account_id = $1")
            .bind(account_id)
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?;
    Ok((sealed, last))
}

impl Store {
    /// Every custody record.
    pub async fn break_glass_custody(&self) -> Result<Vec<CustodyRow>> {
        let rows = sqlx::query(
            "SELECT account_id, holders, location, notes, sealed_at, sealed_by FROM break_glass \
             ORDER BY account_id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CustodyRow {
                    account_id: r.try_get(0)?,
                    holders: r.try_get(1)?,
                    location: r.try_get(2)?,
                    notes: r.try_get(3)?,
                    sealed_ms: r.try_get(4)?,
                    sealed_by: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// The last `limit` uses, newest first.
    pub async fn break_glass_uses(&self, limit: i64) -> Result<Vec<UseRow>> {
        let rows = sqlx::query(
            "SELECT id, account_id, used_at, recorded_at, via, recorded_by, reason, alert_id \
             FROM break_glass_uses ORDER BY used_at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(UseRow {
                    id: r.try_get(0)?,
                    account_id: r.try_get(1)?,
                    used_ms: r.try_get(2)?,
                    recorded_ms: r.try_get(3)?,
                    via: r.try_get(4)?,
                    recorded_by: r.try_get(5)?,
                    reason: r.try_get(6)?,
                    alert_id: r.try_get(7)?,
                })
            })
            .collect()
    }

    /// The newest use of each account: (account id, used at).
    pub async fn break_glass_last_uses(&self) -> Result<Vec<(i64, i64)>> {
        let rows = sqlx::query(
            "SELECT account_id, MAX(used_at) FROM break_glass_uses GROUP BY account_id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }
}
