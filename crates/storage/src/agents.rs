//! Endpoint agents (migration 0021): one-time enrolment tokens (`agent_enrollments`), the
//! enrolled agents with their key, nonce, spool position, inventory and ledger link (`agents`),
//! and the facility's removable-media policy (`agent_policy`). The service checks the rules.

use crate::{Result, Store, Tx};
use sqlx::Row;
use sqlx::any::AnyRow;

/// One enrolment token as stored (only the SHA-256 of its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentRow {
    pub id: i64,
    pub note: String,
    /// PC groups the agent gets, one per line.
    pub groups: String,
    pub created_ms: i64,
    pub created_by: String,
    pub expires_ms: i64,
    pub used_ms: Option<i64>,
    pub agent_id: Option<i64>,
}

const ENROLLMENT_COLUMNS: &str =
    "id, note, pc_groups, created_at, created_by, expires_at, used_at, agent_id";

fn decode_enrollment(r: &AnyRow) -> Result<EnrollmentRow> {
    Ok(EnrollmentRow {
        id: r.try_get(0)?,
        note: r.try_get(1)?,
        groups: r.try_get(2)?,
        created_ms: r.try_get(3)?,
        created_by: r.try_get(4)?,
        expires_ms: r.try_get(5)?,
        used_ms: r.try_get(6)?,
        agent_id: r.try_get(7)?,
    })
}

/// One agent as stored, without its inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRow {
    pub id: i64,
    pub hostname: String,
    pub machine_id: String,
    pub public_key: String,
    pub agent_version: String,
    /// One per line.
    pub groups: String,
    pub note: String,
    pub unlock_secret: String,
    pub enrolled_ms: i64,
    pub enrollment_id: i64,
    pub revoked_ms: Option<i64>,
    pub revoked_by: String,
    pub last_seen_ms: Option<i64>,
    pub last_peer: String,
    pub last_nonce: i64,
    pub acked_seq: i64,
    pub asset_id: Option<i64>,
    pub inventory_sha256: String,
    /// JSON written by the service.
    pub summary: String,
    pub inventory_full_ms: Option<i64>,
    pub inventory_ms: Option<i64>,
    pub gaps: i64,
    pub dropped: i64,
}

const AGENT_COLUMNS: &str = "id, hostname, machine_id, public_key, agent_version, pc_groups, note, \
     unlock_secret, enrolled_at, enrollment_id, revoked_at, revoked_by, last_seen_at, last_peer, \
     last_nonce, acked_seq, asset_id, inventory_sha256, summary, inventory_full_at, inventory_at, \
     gaps, dropped";

fn decode_agent(r: &AnyRow) -> Result<AgentRow> {
    Ok(AgentRow {
        id: r.try_get(0)?,
        hostname: r.try_get(1)?,
        machine_id: r.try_get(2)?,
        public_key: r.try_get(3)?,
        agent_version: r.try_get(4)?,
        groups: r.try_get(5)?,
        note: r.try_get(6)?,
        unlock_secret: r.try_get(7)?,
        enrolled_ms: r.try_get(8)?,
        enrollment_id: r.try_get(9)?,
        revoked_ms: r.try_get(10)?,
        revoked_by: r.try_get(11)?,
        last_seen_ms: r.try_get(12)?,
        last_peer: r.try_get(13)?,
        last_nonce: r.try_get(14)?,
        acked_seq: r.try_get(15)?,
        asset_id: r.try_get(16)?,
        inventory_sha256: r.try_get(17)?,
        summary: r.try_get(18)?,
        inventory_full_ms: r.try_get(19)?,
        inventory_ms: r.try_get(20)?,
        gaps: r.try_get(21)?,
        dropped: r.try_get(22)?,
    })
}

/// A new enrolment token.
#[allow(clippy::too_many_arguments)]
pub async fn insert_enrollment(
    tx: &mut Tx,
    token_sha256: &str,
    note: &str,
    groups: &str,
    at_ms: i64,
    by: &str,
    expires_ms: i64,
) -> Result<i64> {
    Ok(sqlx::query(
        "INSERT INTO agent_enrollments (token_sha256, note, pc_groups, created_at, created_by, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(token_sha256)
    .bind(note)
    .bind(groups)
    .bind(at_ms)
    .bind(by)
    .bind(expires_ms)
    .fetch_one(&mut **tx)
    .await?
    .try_get(0)?)
}

/// The token with this hash, inside a write (to be claimed in it).
pub async fn enrollment_by_hash(tx: &mut Tx, token_sha256: &str) -> Result<Option<EnrollmentRow>> {
    let r = sqlx::query(&format!(
        "SELECT {ENROLLMENT_COLUMNS} FROM agent_enrollments WHERE token_sha256 = $1"
    ))
    .bind(token_sha256)
    .fetch_optional(&mut **tx)
    .await?;
    r.as_ref().map(decode_enrollment).transpose()
}

/// Marks the token used by `agent_id`; false when someone used it first.
pub async fn claim_enrollment(tx: &mut Tx, id: i64, agent_id: i64, at_ms: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE agent_enrollments SET used_at = $1, agent_id = $2 WHERE id = $3 AND used_at IS NULL",
    )
    .bind(at_ms)
    .bind(agent_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Withdraws an unused token (it can no longer enrol anything).
pub async fn withdraw_enrollment(tx: &mut Tx, id: i64, at_ms: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE agent_enrollments SET expires_at = $1 WHERE id = $2 AND used_at IS NULL \
         AND expires_at > $1",
    )
    .bind(at_ms)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What enrolment stores of a new agent.
#[derive(Debug, Clone)]
pub struct NewAgent<'a> {
    pub hostname: &'a str,
    pub machine_id: &'a str,
    pub public_key: &'a str,
    pub agent_version: &'a str,
    pub groups: &'a str,
    pub note: &'a str,
    pub unlock_secret: &'a str,
    pub enrolled_ms: i64,
    pub enrollment_id: i64,
    pub peer: &'a str,
}

/// Inserts an agent; `Conflict` when the key is already enrolled.
pub async fn insert_agent(tx: &mut Tx, a: &NewAgent<'_>) -> Result<i64> {
    Ok(sqlx::query(
        "INSERT INTO agents (hostname, machine_id, public_key, agent_version, pc_groups, note, \
         unlock_secret, enrolled_at, enrollment_id, revoked_by, last_seen_at, last_peer, \
         last_nonce, acked_seq, inventory_sha256, summary, gaps, dropped) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '', $8, $10, 0, 0, '', '{}', 0, 0) \
         RETURNING id",
    )
    .bind(a.hostname)
    .bind(a.machine_id)
    .bind(a.public_key)
    .bind(a.agent_version)
    .bind(a.groups)
    .bind(a.note)
    .bind(a.unlock_secret)
    .bind(a.enrolled_ms)
    .bind(a.enrollment_id)
    .bind(a.peer)
    .fetch_one(&mut **tx)
    .await?
    .try_get(0)?)
}

/// One agent inside a write (locked on PostgreSQL), without its inventory.
pub async fn agent_for_update(tx: &mut Tx, id: i64, postgres: bool) -> Result<Option<AgentRow>> {
    let lock = if postgres { " FOR UPDATE" } else { "" };
    let r = sqlx::query(&format!(
        "SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1{lock}"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    r.as_ref().map(decode_agent).transpose()
}

/// The stored inventory (JSON) of an agent, inside a write.
pub async fn inventory_in(tx: &mut Tx, id: i64) -> Result<Option<String>> {
    Ok(sqlx::query("SELECT inventory FROM agents WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.try_get::<Option<String>, _>(0))
        .transpose()?
        .flatten())
}

/// Takes `nonce` when it is larger than every nonce the agent used before. False: a replay or
/// an old request.
pub async fn take_nonce(tx: &mut Tx, id: i64, nonce: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE agents SET last_nonce = $1 WHERE id = $2 AND last_nonce < $1")
        .bind(nonce)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// What an upload changes on the agent's row.
#[derive(Debug, Clone)]
pub struct UploadRecord<'a> {
    pub acked_seq: i64,
    pub at_ms: i64,
    pub peer: &'a str,
    /// The new inventory: JSON, SHA-256, summary JSON, and whether it was a full one.
    pub inventory: Option<(&'a str, &'a str, &'a str, bool)>,
    pub gaps: i64,
    pub dropped: i64,
}

/// Records an upload: the spool position, when the agent was seen, and its inventory.
pub async fn record_upload(tx: &mut Tx, id: i64, u: &UploadRecord<'_>) -> Result<()> {
    sqlx::query(
        "UPDATE agents SET acked_seq = $1, last_seen_at = $2, last_peer = $3, \
         gaps = gaps + $4, dropped = dropped + $5 WHERE id = $6",
    )
    .bind(u.acked_seq)
    .bind(u.at_ms)
    .bind(u.peer)
    .bind(u.gaps)
    .bind(u.dropped)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    if let Some((json, sha, summary, full)) = u.inventory {
        sqlx::query(
            "UPDATE agents SET inventory = $1, inventory_sha256 = $2, summary = $3, \
             inventory_at = $4, inventory_full_at = CASE WHEN $5 = 1 THEN $4 \
             ELSE inventory_full_at END WHERE id = $6",
        )
        .bind(json)
        .bind(sha)
        .bind(summary)
        .bind(u.at_ms)
        .bind(i64::from(full))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Records when the agent was last heard from (a policy fetch).
pub async fn touch(tx: &mut Tx, id: i64, at_ms: i64, peer: &str) -> Result<()> {
    sqlx::query("UPDATE agents SET last_seen_at = $1, last_peer = $2 WHERE id = $3")
        .bind(at_ms)
        .bind(peer)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Ties the agent to a ledger asset, or unties it.
pub async fn set_asset(tx: &mut Tx, id: i64, asset_id: Option<i64>) -> Result<()> {
    sqlx::query("UPDATE agents SET asset_id = $1 WHERE id = $2")
        .bind(asset_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Sets the agent's PC groups (one per line).
pub async fn set_groups(tx: &mut Tx, id: i64, groups: &str) -> Result<bool> {
    let done = sqlx::query("UPDATE agents SET pc_groups = $1 WHERE id = $2")
        .bind(groups)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes the agent: its key is refused from now on.
pub async fn revoke(tx: &mut Tx, id: i64, at_ms: i64, by: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE agents SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL",
    )
    .bind(at_ms)
    .bind(by)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The facility's removable-media policy: (JSON, version, updated at, by).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRow {
    pub usb: String,
    /// The facility's time server; empty: none.
    pub ntp_server: String,
    pub version: i64,
    pub updated_ms: i64,
    pub updated_by: String,
}

/// Writes the policy (the removable-media part as JSON, and the time server) with the next
/// version; returns that version.
pub async fn set_policy(
    tx: &mut Tx,
    usb: &str,
    ntp_server: &str,
    at_ms: i64,
    by: &str,
) -> Result<i64> {
    let current: Option<i64> = sqlx::query("SELECT version FROM agent_policy WHERE id = 1")
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
    let version = current.unwrap_or(0) + 1;
    if current.is_some() {
        sqlx::query(
            "UPDATE agent_policy SET usb = $1, version = $2, updated_at = $3, updated_by = $4, \
             ntp_server = $5 WHERE id = 1",
        )
        .bind(usb)
        .bind(version)
        .bind(at_ms)
        .bind(by)
        .bind(ntp_server)
        .execute(&mut **tx)
        .await?;
    } else {
        sqlx::query(
            "INSERT INTO agent_policy (id, usb, version, updated_at, updated_by, ntp_server) \
             VALUES (1, $1, $2, $3, $4, $5)",
        )
        .bind(usb)
        .bind(version)
        .bind(at_ms)
        .bind(by)
        .bind(ntp_server)
        .execute(&mut **tx)
        .await?;
    }
    Ok(version)
}

fn decode_policy(r: &AnyRow) -> Result<PolicyRow> {
    Ok(PolicyRow {
        usb: r.try_get(0)?,
        version: r.try_get(1)?,
        updated_ms: r.try_get(2)?,
        updated_by: r.try_get(3)?,
        ntp_server: r.try_get(4)?,
    })
}

const POLICY_COLUMNS: &str = "usb, version, updated_at, updated_by, ntp_server";

/// The policy inside a write.
pub async fn policy_in(tx: &mut Tx) -> Result<Option<PolicyRow>> {
    let r = sqlx::query(&format!(
        "SELECT {POLICY_COLUMNS} FROM agent_policy WHERE id = 1"
    ))
    .fetch_optional(&mut **tx)
    .await?;
    r.as_ref().map(decode_policy).transpose()
}

/// The service baseline of one asset class, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaselineRow {
    pub asset_class: String,
    pub body: String,
    pub updated_ms: i64,
    pub updated_by: String,
}

/// Writes the baseline of `asset_class` (replacing the one before).
pub async fn set_baseline(
    tx: &mut Tx,
    asset_class: &str,
    body: &str,
    at_ms: i64,
    by: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO service_baselines (asset_class, body, updated_at, updated_by) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (asset_class) DO UPDATE SET \
         body = excluded.body, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
    )
    .bind(asset_class)
    .bind(body)
    .bind(at_ms)
    .bind(by)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// The service baselines, by class.
    pub async fn service_baselines(&self) -> Result<Vec<BaselineRow>> {
        sqlx::query(
            "SELECT asset_class, body, updated_at, updated_by FROM service_baselines \
             ORDER BY asset_class",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(BaselineRow {
                asset_class: r.try_get(0)?,
                body: r.try_get(1)?,
                updated_ms: r.try_get(2)?,
                updated_by: r.try_get(3)?,
            })
        })
        .collect()
    }

    /// Every agent, newest enrolment last.
    pub async fn agents(&self) -> Result<Vec<AgentRow>> {
        sqlx::query(&format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY id"))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(decode_agent)
            .collect()
    }

    pub async fn agent(&self, id: i64) -> Result<Option<AgentRow>> {
        let r = sqlx::query(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(decode_agent).transpose()
    }

    /// An agent's inventory (JSON), when it sent one.
    pub async fn agent_inventory(&self, id: i64) -> Result<Option<String>> {
        Ok(sqlx::query("SELECT inventory FROM agents WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .map(|r| r.try_get::<Option<String>, _>(0))
            .transpose()?
            .flatten())
    }

    /// Enrolment tokens, newest first.
    pub async fn agent_enrollments(&self, limit: i64) -> Result<Vec<EnrollmentRow>> {
        sqlx::query(&format!(
            "SELECT {ENROLLMENT_COLUMNS} FROM agent_enrollments ORDER BY id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(decode_enrollment)
        .collect()
    }

    pub async fn agent_policy(&self) -> Result<Option<PolicyRow>> {
        let r = sqlx::query(&format!(
            "SELECT {POLICY_COLUMNS} FROM agent_policy WHERE id = 1"
        ))
        .fetch_optional(self.pool())
        .await?;
        r.as_ref().map(decode_policy).transpose()
    }
}
