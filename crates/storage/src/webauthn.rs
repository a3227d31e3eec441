//! WebAuthn credentials (security keys, passkeys) and ceremony state. The credential itself is
//! stored as the JSON the WebAuthn library produces; storage does not interpret it.

use crate::{Result, Store, StoreError, Tx};
use mamori_domain::UserId;
use sqlx::Row;

/// A registered credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCredential {
    pub id: i64,
    pub user_id: UserId,
    /// base64url credential id.
    pub credential_id: String,
    pub name: String,
    /// Library-specific JSON.
    pub passkey: String,
    pub created_at_ms: i64,
    pub last_used_at_ms: Option<i64>,
}

impl Store {
    pub async fn credentials(&self, user: UserId) -> Result<Vec<StoredCredential>> {
        let rows = sqlx::query(
            "SELECT id, user_id, credential_id, name, passkey, created_at, last_used_at \
             FROM webauthn_credentials WHERE user_id = $1 ORDER BY id",
        )
        .bind(user.0)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredCredential {
                    id: r.try_get(0)?,
                    user_id: UserId(r.try_get(1)?),
                    credential_id: r.try_get(2)?,
                    name: r.try_get(3)?,
                    passkey: r.try_get(4)?,
                    created_at_ms: r.try_get(5)?,
                    last_used_at_ms: r.try_get(6)?,
                })
            })
            .collect()
    }

    /// Users with at least one credential.
    pub async fn users_with_credentials(&self) -> Result<Vec<UserId>> {
        let rows = sqlx::query("SELECT DISTINCT user_id FROM webauthn_credentials")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok(UserId(r.try_get(0)?))).collect()
    }
}

pub async fn insert_credential(
    tx: &mut Tx,
    user: UserId,
    credential_id: &str,
    name: &str,
    passkey: &str,
    now_ms: i64,
) -> Result<i64> {
    let r = sqlx::query(
        "INSERT INTO webauthn_credentials (user_id, credential_id, name, passkey, created_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, NULL) RETURNING id",
    )
    .bind(user.0)
    .bind(credential_id)
    .bind(name)
    .bind(passkey)
    .bind(now_ms)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict,
        e => StoreError::Db(e),
    })?;
    Ok(r.try_get(0)?)
}

/// Stores the credential's updated state (signature counter, backup flags) after a use.
pub async fn touch_credential(tx: &mut Tx, id: i64, passkey: &str, now_ms: i64) -> Result<()> {
    sqlx::query("UPDATE webauthn_credentials SET passkey = $1, last_used_at = $2 WHERE id = $3")
        .bind(passkey)
        .bind(now_ms)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Removes one of a user's credentials; false when it was not theirs or did not exist.
pub async fn delete_credential(tx: &mut Tx, user: UserId, id: i64) -> Result<bool> {
    let r = sqlx::query("DELETE FROM webauthn_credentials WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user.0)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Keeps the state of a started ceremony for a session (one at a time; a new one replaces it).
pub async fn put_challenge(
    tx: &mut Tx,
    session_hash: &str,
    kind: &str,
    state: &str,
    now_ms: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO webauthn_challenges (session_hash, kind, state, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (session_hash) DO UPDATE SET kind = $2, state = $3, created_at = $4",
    )
    .bind(session_hash)
    .bind(kind)
    .bind(state)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Takes (and removes) the ceremony state of `kind` for a session: (state, created_at).
pub async fn take_challenge(
    tx: &mut Tx,
    session_hash: &str,
    kind: &str,
) -> Result<Option<(String, i64)>> {
    let r = sqlx::query(
        "SELECT state, created_at FROM webauthn_challenges WHERE session_hash = $1 AND kind = $2",
    )
    .bind(session_hash)
    .bind(kind)
    .fetch_optional(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM webauthn_challenges WHERE session_hash = $1")
        .bind(session_hash)
        .execute(&mut **tx)
        .await?;
    match r {
        Some(r) => Ok(Some((r.try_get(0)?, r.try_get(1)?))),
        None => Ok(None),
    }
}
