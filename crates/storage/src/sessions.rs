//! Login sessions. Only a hash of the session token is stored, never the token.

use crate::{Result, Store, StoreError, Tx};
use mamori_domain::UserId;
use sqlx::Row;
use sqlx::any::AnyRow;

/// How far a session has come through login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    /// Password accepted; the second factor is still due.
    SecondFactor,
    /// Logged in, but two-factor must be enrolled before anything else.
    EnrollTwoFactor,
    /// Logged in, but the password must be changed before anything else.
    ChangePassword,
    /// Fully logged in.
    Full,
}

impl SessionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStage::SecondFactor => "second_factor",
            SessionStage::EnrollTwoFactor => "enroll_2fa",
            SessionStage::ChangePassword => "change_password",
            SessionStage::Full => "full",
        }
    }

    pub fn parse(s: &str) -> Option<SessionStage> {
        [
            SessionStage::SecondFactor,
            SessionStage::EnrollTwoFactor,
            SessionStage::ChangePassword,
            SessionStage::Full,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub token_hash: String,
    pub user_id: UserId,
    pub stage: SessionStage,
    pub csrf: String,
    pub created_at_ms: i64,
    pub last_seen_at_ms: i64,
    pub source: String,
    pub user_agent: String,
    pub locked: bool,
    pub revoked_at_ms: Option<i64>,
}

const COLS: &str = "token_hash, user_id, stage, csrf, created_at, last_seen_at, source, user_agent, locked, revoked_at";

fn session_of(r: &AnyRow) -> Result<SessionRow> {
    let stage: String = r.try_get(2)?;
    Ok(SessionRow {
        token_hash: r.try_get(0)?,
        user_id: UserId(r.try_get(1)?),
        stage: SessionStage::parse(&stage)
            .ok_or_else(|| StoreError::Corrupt(format!("session stage {stage}")))?,
        csrf: r.try_get(3)?,
        created_at_ms: r.try_get(4)?,
        last_seen_at_ms: r.try_get(5)?,
        source: r.try_get(6)?,
        user_agent: r.try_get(7)?,
        locked: crate::get_flag(r, 8)?,
        revoked_at_ms: r.try_get(9)?,
    })
}

impl Store {
    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>> {
        let sql = format!("SELECT {COLS} FROM sessions WHERE token_hash = $1");
        let r = sqlx::query(&sql)
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(session_of).transpose()
    }

    /// Live (not revoked) sessions, of one user or of everyone, newest first.
    pub async fn live_sessions(&self, user: Option<UserId>) -> Result<Vec<SessionRow>> {
        let rows = match user {
            Some(u) => {
                let sql = format!(
                    "SELECT {COLS} FROM sessions WHERE revoked_at IS NULL AND user_id = $1 ORDER BY last_seen_at DESC"
                );
                sqlx::query(&sql).bind(u.0).fetch_all(self.pool()).await?
            }
            None => {
                let sql = format!(
                    "SELECT {COLS} FROM sessions WHERE revoked_at IS NULL ORDER BY last_seen_at DESC"
                );
                sqlx::query(&sql).fetch_all(self.pool()).await?
            }
        };
        rows.iter().map(session_of).collect()
    }
}

pub async fn insert_session(tx: &mut Tx, s: &SessionRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, stage, csrf, created_at, last_seen_at, source, user_agent, locked, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)",
    )
    .bind(&s.token_hash)
    .bind(s.user_id.0)
    .bind(s.stage.as_str())
    .bind(&s.csrf)
    .bind(s.created_at_ms)
    .bind(s.last_seen_at_ms)
    .bind(&s.source)
    .bind(&s.user_agent)
    .bind(crate::flag(s.locked))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records activity on a session.
pub async fn touch_session(tx: &mut Tx, token_hash: &str, now_ms: i64) -> Result<()> {
    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
        .bind(now_ms)
        .bind(token_hash)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_stage(tx: &mut Tx, token_hash: &str, stage: SessionStage) -> Result<()> {
    sqlx::query("UPDATE sessions SET stage = $1 WHERE token_hash = $2")
        .bind(stage.as_str())
        .bind(token_hash)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_locked(tx: &mut Tx, token_hash: &str, locked: bool, now_ms: i64) -> Result<()> {
    sqlx::query("UPDATE sessions SET locked = $1, last_seen_at = $2 WHERE token_hash = $3")
        .bind(crate::flag(locked))
        .bind(now_ms)
        .bind(token_hash)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Revokes one session; false when it did not exist or was revoked already.
pub async fn revoke_session(tx: &mut Tx, token_hash: &str, now_ms: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
    )
    .bind(now_ms)
    .bind(token_hash)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Revokes every live session of a user except `keep` (e.g. after a password change).
pub async fn revoke_user_sessions(
    tx: &mut Tx,
    user: UserId,
    keep: Option<&str>,
    now_ms: i64,
) -> Result<u64> {
    let r = sqlx::query(
        "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL AND token_hash <> $3",
    )
    .bind(now_ms)
    .bind(user.0)
    .bind(keep.unwrap_or(""))
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected())
}
