//! mamori's own users, their password history and recovery codes, and login throttle counters.

use crate::{Result, Store, StoreError, Tx};
use mamori_domain::lockout::ThrottleState;
use mamori_domain::role::Role;
use mamori_domain::{UserId, VendorId};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: UserId,
    pub login_id: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub must_change_password: bool,
    pub password_changed_at_ms: i64,
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    pub disabled: bool,
    pub vendor_id: Option<VendorId>,
    pub created_at_ms: i64,
    /// Last TOTP time step accepted (a code is accepted once).
    pub totp_last_step: i64,
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub login_id: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
    pub must_change_password: bool,
    pub vendor_id: Option<VendorId>,
    pub now_ms: i64,
}

const USER_COLS: &str = "id, login_id, display_name, role, password_hash, must_change_password, \
    password_changed_at, totp_secret, totp_enabled, disabled, vendor_id, created_at, totp_last_step";

fn user_of(r: &AnyRow) -> Result<UserRow> {
    let role: String = r.try_get(3)?;
    Ok(UserRow {
        id: UserId(r.try_get(0)?),
        login_id: r.try_get(1)?,
        display_name: r.try_get(2)?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
        password_hash: r.try_get(4)?,
        must_change_password: crate::get_flag(r, 5)?,
        password_changed_at_ms: r.try_get(6)?,
        totp_secret: r.try_get(7)?,
        totp_enabled: crate::get_flag(r, 8)?,
        disabled: crate::get_flag(r, 9)?,
        vendor_id: r.try_get::<Option<i64>, _>(10)?.map(VendorId),
        created_at_ms: r.try_get(11)?,
        totp_last_step: r.try_get(12)?,
    })
}

impl Store {
    pub async fn user_by_login(&self, login_id: &str) -> Result<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE login_id = $1");
        let r = sqlx::query(&sql)
            .bind(login_id)
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(user_of).transpose()
    }

    pub async fn user(&self, id: UserId) -> Result<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE id = $1");
        let r = sqlx::query(&sql)
            .bind(id.0)
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(user_of).transpose()
    }

    pub async fn users(&self) -> Result<Vec<UserRow>> {
        let sql = format!("SELECT {USER_COLS} FROM users ORDER BY id");
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(user_of).collect()
    }

    pub async fn count_users(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) FROM users")
            .fetch_one(self.pool())
            .await?;
        Ok(r.try_get(0)?)
    }

    /// The last `n` password hashes of a user, newest first.
    pub async fn password_history(&self, user: UserId, n: usize) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT password_hash FROM password_history WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(user.0)
        .bind(i64::try_from(n).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(StoreError::from))
            .collect()
    }

    /// Unused recovery codes: (id, hash).
    pub async fn unused_recovery_codes(&self, user: UserId) -> Result<Vec<(i64, String)>> {
        let rows = sqlx::query(
            "SELECT id, code_hash FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL ORDER BY id",
        )
        .bind(user.0)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// A throttle counter; a counter never seen is the default (no failures).
    pub async fn throttle(&self, key: &str) -> Result<ThrottleState> {
        let r = sqlx::query(
            "SELECT failures, last_failure_at, locked_until FROM login_throttle WHERE key = $1",
        )
        .bind(key)
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = r else {
            return Ok(ThrottleState::default());
        };
        let failures: i64 = r.try_get(0)?;
        Ok(ThrottleState {
            failures: u32::try_from(failures).unwrap_or(u32::MAX),
            last_failure_ms: r.try_get(1)?,
            locked_until_ms: r.try_get(2)?,
        })
    }
}

/// Creates a user and records the first password in the history.
pub async fn insert_user(tx: &mut Tx, u: &NewUser<'_>) -> Result<UserId> {
    let r = sqlx::query(
        "INSERT INTO users (login_id, display_name, role, password_hash, must_change_password, \
         password_changed_at, totp_secret, totp_enabled, disabled, vendor_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, NULL, 0, 0, $7, $8) RETURNING id",
    )
    .bind(u.login_id)
    .bind(u.display_name)
    .bind(u.role.as_str())
    .bind(u.password_hash)
    .bind(crate::flag(u.must_change_password))
    .bind(u.now_ms)
    .bind(u.vendor_id.map(|v| v.0))
    .bind(u.now_ms)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict,
        e => StoreError::Db(e),
    })?;
    let id = UserId(r.try_get(0)?);
    push_password_history(tx, id, u.password_hash, u.now_ms).await?;
    Ok(id)
}

async fn push_password_history(tx: &mut Tx, user: UserId, hash: &str, now_ms: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO password_history (user_id, password_hash, created_at) VALUES ($1, $2, $3)",
    )
    .bind(user.0)
    .bind(hash)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Sets a new password (and whether it must be changed at next login), recording it in the history.
pub async fn set_password(
    tx: &mut Tx,
    user: UserId,
    hash: &str,
    must_change: bool,
    now_ms: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE users SET password_hash = $1, must_change_password = $2, password_changed_at = $3 WHERE id = $4",
    )
    .bind(hash)
    .bind(crate::flag(must_change))
    .bind(now_ms)
    .bind(user.0)
    .execute(&mut **tx)
    .await?;
    push_password_history(tx, user, hash, now_ms).await
}

/// Stores a TOTP secret; `enabled` once the user proved they can produce codes.
pub async fn set_totp(
    tx: &mut Tx,
    user: UserId,
    secret: Option<&str>,
    enabled: bool,
) -> Result<()> {
    sqlx::query("UPDATE users SET totp_secret = $1, totp_enabled = $2 WHERE id = $3")
        .bind(secret)
        .bind(crate::flag(enabled))
        .bind(user.0)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Records the TOTP step just accepted; false when it (or a later one) was used already.
pub async fn use_totp_step(tx: &mut Tx, user: UserId, step: i64) -> Result<bool> {
    let r =
        sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1")
            .bind(step)
            .bind(user.0)
            .execute(&mut **tx)
            .await?;
    Ok(r.rows_affected() == 1)
}

/// Replaces a user's recovery codes with new hashed codes.
pub async fn replace_recovery_codes(tx: &mut Tx, user: UserId, hashes: &[String]) -> Result<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user.0)
        .execute(&mut **tx)
        .await?;
    for h in hashes {
        sqlx::query(
            "INSERT INTO recovery_codes (user_id, code_hash, used_at) VALUES ($1, $2, NULL)",
        )
        .bind(user.0)
        .bind(h)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Marks a recovery code used; false when it was used already (a race).
pub async fn use_recovery_code(tx: &mut Tx, code_id: i64, now_ms: i64) -> Result<bool> {
    let r = sqlx::query("UPDATE recovery_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
        .bind(now_ms)
        .bind(code_id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Enables or disables a user.
pub async fn set_disabled(tx: &mut Tx, user: UserId, disabled: bool) -> Result<()> {
    sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
        .bind(crate::flag(disabled))
        .bind(user.0)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Stores a throttle counter.
pub async fn put_throttle(tx: &mut Tx, key: &str, s: &ThrottleState) -> Result<()> {
    sqlx::query(
        "INSERT INTO login_throttle (key, failures, last_failure_at, locked_until) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (key) DO UPDATE SET failures = $2, last_failure_at = $3, locked_until = $4",
    )
    .bind(key)
    .bind(i64::from(s.failures))
    .bind(s.last_failure_ms)
    .bind(s.locked_until_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Forgets a throttle counter (after a successful login).
pub async fn clear_throttle(tx: &mut Tx, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM login_throttle WHERE key = $1")
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
