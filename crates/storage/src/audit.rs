//! The audit trail: appended inside the transaction of the change it records, hash-chained, with
//! a separately kept head (count and last hash) so that truncation is detectable too.

use crate::{Backend, Result, Store, StoreError, Tx};
use mamori_domain::audit::{AuditRecord, ChainBreak, ChainVerifier, GENESIS, chain_hash};
use sqlx::Row;
use sqlx::any::AnyRow;

/// An event to append; `seq` is assigned here.
#[derive(Debug, Clone)]
pub struct NewAuditEvent<'a> {
    pub at_ms: i64,
    pub actor: &'a str,
    pub source: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub detail: &'a str,
}

/// Appends an event to the chain inside `tx`; returns its sequence number.
/// Makes the audit head row (seq 0, the genesis hash) if it is not there. Called once when the
/// store opens; safe when several processes open the same database at once.
pub(crate) async fn ensure_head(pool: &sqlx::AnyPool) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, $1) ON CONFLICT (id) DO NOTHING",
    )
    .bind(GENESIS.to_vec())
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn append(tx: &mut Tx, backend: Backend, ev: &NewAuditEvent<'_>) -> Result<i64> {
    let head_sql = match backend {
        Backend::Postgres => "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
        Backend::Sqlite => "SELECT seq, hash FROM audit_head WHERE id = 1",
    };
    let head = sqlx::query(head_sql).fetch_optional(&mut **tx).await?;
    // The head row is made when the store opens (`ensure_head`), so two first writers never
    // race to create it: on PostgreSQL both lock the same row and take turns.
    let head = head.ok_or_else(|| StoreError::Corrupt("audit head missing".into()))?;
    let h: Vec<u8> = head.try_get(1)?;
    let prev_hash: [u8; 32] = h
        .try_into()
        .map_err(|_| StoreError::Corrupt("audit head hash".into()))?;
    let prev_seq: i64 = head.try_get(0)?;
    let rec = AuditRecord {
        seq: prev_seq + 1,
        at_ms: ev.at_ms,
        actor: ev.actor.to_string(),
        source: ev.source.to_string(),
        action: ev.action.to_string(),
        target: ev.target.to_string(),
        detail: ev.detail.to_string(),
    };
    let hash = chain_hash(&prev_hash, &rec);
    sqlx::query(
        "INSERT INTO audit_events (seq, at, actor, source, action, target, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(rec.seq)
    .bind(rec.at_ms)
    .bind(&rec.actor)
    .bind(&rec.source)
    .bind(&rec.action)
    .bind(&rec.target)
    .bind(&rec.detail)
    .bind(prev_hash.to_vec())
    .bind(hash.to_vec())
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(rec.seq)
        .bind(hash.to_vec())
        .execute(&mut **tx)
        .await?;
    Ok(rec.seq)
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One audit event as a canonical JSON line (fixed key order), the sealed form.
pub fn canonical(rec: &AuditRecord, prev: &[u8], hash: &[u8]) -> String {
    format!(
        "{{\"seq\":{},\"at\":{},\"actor\":{},\"source\":{},\"action\":{},\"target\":{},\"detail\":{},\"prev\":\"{}\",\"hash\":\"{}\"}}",
        rec.seq,
        rec.at_ms,
        json_str(&rec.actor),
        json_str(&rec.source),
        json_str(&rec.action),
        json_str(&rec.target),
        json_str(&rec.detail),
        hex_of(prev),
        hex_of(hash)
    )
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn record_of(r: &AnyRow) -> Result<AuditRecord> {
    Ok(AuditRecord {
        seq: r.try_get(0)?,
        at_ms: r.try_get(1)?,
        actor: r.try_get(2)?,
        source: r.try_get(3)?,
        action: r.try_get(4)?,
        target: r.try_get(5)?,
        detail: r.try_get(6)?,
    })
}

/// Result of verifying the whole trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailCheck {
    pub verified: i64,
    pub head_hash: [u8; 32],
    pub broken: Option<ChainBreak>,
}

impl Store {
    /// Newest events first, with paging.
    pub async fn audit_events(&self, limit: i64, offset: i64) -> Result<Vec<AuditRecord>> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, source, action, target, detail FROM audit_events ORDER BY seq DESC LIMIT $1 OFFSET $2",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(record_of).collect()
    }

    /// Up to `limit` events from sequence `from` on, as (seq, canonical JSON bytes including the
    /// chain hashes) — the form in which they are sealed.
    pub async fn audit_range(&self, from: i64, limit: i64) -> Result<Vec<(i64, Vec<u8>)>> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, source, action, target, detail, prev_hash, hash FROM audit_events \
             WHERE seq >= $1 ORDER BY seq LIMIT $2",
        )
        .bind(from)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let rec = record_of(r)?;
                let prev: Vec<u8> = r.try_get(7)?;
                let hash: Vec<u8> = r.try_get(8)?;
                Ok((rec.seq, canonical(&rec, &prev, &hash).into_bytes()))
            })
            .collect()
    }

    pub async fn audit_count(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) FROM audit_events")
            .fetch_one(self.pool())
            .await?;
        Ok(r.try_get(0)?)
    }

    /// Recomputes the chain from the first event, in pages, and checks it against the head.
    pub async fn verify_audit_trail(&self) -> Result<TrailCheck> {
        let mut v = ChainVerifier::default();
        let mut after = 0_i64;
        loop {
            let rows = sqlx::query(
                "SELECT seq, at, actor, source, action, target, detail, prev_hash, hash FROM audit_events \
                 WHERE seq > $1 ORDER BY seq LIMIT 5000",
            )
            .bind(after)
            .fetch_all(self.pool())
            .await?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let rec = record_of(r)?;
                let prev: Vec<u8> = r.try_get(7)?;
                let hash: Vec<u8> = r.try_get(8)?;
                after = rec.seq;
                if let Err(b) = v.push(&rec, &prev, &hash) {
                    return Ok(TrailCheck {
                        verified: v.verified(),
                        head_hash: v.head(),
                        broken: Some(b),
                    });
                }
            }
        }
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(self.pool())
            .await?;
        let (seq, hash) = match head {
            Some(r) => (r.try_get::<i64, _>(0)?, r.try_get::<Vec<u8>, _>(1)?),
            None => (0, GENESIS.to_vec()),
        };
        Ok(TrailCheck {
            verified: v.verified(),
            head_hash: v.head(),
            broken: v.finish(seq, &hash).err(),
        })
    }
}
