//! Account-list mapping profiles (`account_import_profiles`) and the queue of uncertain
//! account ↔ staff matches (`account_matches`), migration 0020.

use crate::{Backend, Result, Store, Tx, get_flag};
use sqlx::Row;

/// A system's mapping profile: the header of each field, empty when not mapped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileRow {
    pub system_id: i64,
    pub login: String,
    pub name: String,
    pub kana: String,
    pub staff_no: String,
    pub enabled: String,
    pub admin: String,
    pub last_login: String,
    /// One per line.
    pub admin_values: String,
    pub disable_missing: bool,
    pub updated_ms: i64,
    pub updated_by: String,
}

/// Saves a system's profile (insert or replace).
pub async fn upsert_profile(tx: &mut Tx, p: &ProfileRow) -> Result<()> {
    sqlx::query("DELETE FROM account_import_profiles WHERE system_id = $1")
        .bind(p.system_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO account_import_profiles (system_id, login_col, name_col, kana_col, \
         staff_no_col, enabled_col, admin_col, last_login_col, admin_values, disable_missing, \
         updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(p.system_id)
    .bind(&p.login)
    .bind(&p.name)
    .bind(&p.kana)
    .bind(&p.staff_no)
    .bind(&p.enabled)
    .bind(&p.admin)
    .bind(&p.last_login)
    .bind(&p.admin_values)
    .bind(i64::from(p.disable_missing))
    .bind(p.updated_ms)
    .bind(&p.updated_by)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One uncertain match, with what the page shows of the account and the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchRow {
    pub id: i64,
    pub account_id: i64,
    pub person_id: i64,
    /// `directory` or `import`.
    pub source: String,
    pub source_name: String,
    pub status: String,
    pub created_ms: i64,
    pub system: String,
    pub login_id: String,
    pub person_name: String,
    pub person_kana: String,
    pub staff_no: String,
    pub department: String,
}

/// Queues a match unless that pair is already queued (decided or not).
pub async fn queue_match(
    tx: &mut Tx,
    account_id: i64,
    person_id: i64,
    source: &str,
    source_name: &str,
    at_ms: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO account_matches (account_id, person_id, source, source_name, status, \
         created_at) VALUES ($1, $2, $3, $4, 'pending', $5) \
         ON CONFLICT (account_id, person_id) DO NOTHING",
    )
    .bind(account_id)
    .bind(person_id)
    .bind(source)
    .bind(source_name)
    .bind(at_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The id of the account `login` (any case) of system `system_id`, read inside `tx`.
pub async fn account_id_by_login(tx: &mut Tx, system_id: i64, login: &str) -> Result<Option<i64>> {
    let r =
        sqlx::query("SELECT id FROM accounts WHERE system_id = $1 AND LOWER(login_id) = LOWER($2)")
            .bind(system_id)
            .bind(login)
            .fetch_optional(&mut **tx)
            .await?;
    r.map(|r| r.try_get(0)).transpose().map_err(Into::into)
}

/// A match read inside `tx` (locked on PostgreSQL): (account id, person id, status).
pub async fn match_for_change(
    tx: &mut Tx,
    backend: Backend,
    id: i64,
) -> Result<Option<(i64, i64, String)>> {
    let sql = match backend {
        Backend::Postgres => {
            "SELECT account_id, person_id, status FROM account_matches WHERE id = $1 FOR UPDATE"
        }
        Backend::Sqlite => {
            "SELECT account_id, person_id, status FROM account_matches WHERE id = $1"
        }
    };
    let r = sqlx::query(sql).bind(id).fetch_optional(&mut **tx).await?;
    r.map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .transpose()
}

/// Records a decision on a match.
pub async fn decide_match(tx: &mut Tx, id: i64, status: &str, at_ms: i64, by: &str) -> Result<()> {
    sqlx::query(
        "UPDATE account_matches SET status = $1, decided_at = $2, decided_by = $3 WHERE id = $4",
    )
    .bind(status)
    .bind(at_ms)
    .bind(by)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// The mapping profile of system `system_id`, if one was saved.
    pub async fn account_import_profile(&self, system_id: i64) -> Result<Option<ProfileRow>> {
        let r = sqlx::query(
            "SELECT system_id, login_col, name_col, kana_col, staff_no_col, enabled_col, \
             admin_col, last_login_col, admin_values, disable_missing, updated_at, updated_by \
             FROM account_import_profiles WHERE system_id = $1",
        )
        .bind(system_id)
        .fetch_optional(self.pool())
        .await?;
        r.map(|r| {
            Ok(ProfileRow {
                system_id: r.try_get(0)?,
                login: r.try_get(1)?,
                name: r.try_get(2)?,
                kana: r.try_get(3)?,
                staff_no: r.try_get(4)?,
                enabled: r.try_get(5)?,
                admin: r.try_get(6)?,
                last_login: r.try_get(7)?,
                admin_values: r.try_get(8)?,
                disable_missing: get_flag(&r, 9)?,
                updated_ms: r.try_get(10)?,
                updated_by: r.try_get(11)?,
            })
        })
        .transpose()
    }

    /// Matches with `status`, oldest first (at most 500).
    pub async fn account_matches(&self, status: &str) -> Result<Vec<MatchRow>> {
        let rows = sqlx::query(
            "SELECT m.id, m.account_id, m.person_id, m.source, m.source_name, m.status, \
             m.created_at, COALESCE(s.name, ''), a.login_id, p.name, p.name_kana, p.staff_no, \
             p.department FROM account_matches m JOIN accounts a ON a.id = m.account_id \
             JOIN persons p ON p.id = m.person_id LEFT JOIN systems s ON s.id = a.system_id \
             WHERE m.status = $1 ORDER BY m.id LIMIT 500",
        )
        .bind(status)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MatchRow {
                    id: r.try_get(0)?,
                    account_id: r.try_get(1)?,
                    person_id: r.try_get(2)?,
                    source: r.try_get(3)?,
                    source_name: r.try_get(4)?,
                    status: r.try_get(5)?,
                    created_ms: r.try_get(6)?,
                    system: r.try_get(7)?,
                    login_id: r.try_get(8)?,
                    person_name: r.try_get(9)?,
                    person_kana: r.try_get(10)?,
                    staff_no: r.try_get(11)?,
                    department: r.try_get(12)?,
                })
            })
            .collect()
    }
}
