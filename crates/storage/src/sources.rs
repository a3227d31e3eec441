//! Where collected events come from (`log_sources`), what each sent per hour
//! (`log_source_hours`), examples of what was refused (`log_rejects`), and log reviews
//! (`log_reviews`). Counters move in the same transaction that indexes the events.

use crate::{Result, Store, StoreError, Tx};
use sqlx::Row;
use sqlx::any::AnyRow;

/// One source as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRow {
    pub name: String,
    /// `syslog`, `json` or `file`.
    pub kind: String,
    pub label: String,
    pub has_token: bool,
    pub created_at: i64,
    pub created_by: String,
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    pub last_peer: String,
    pub events: i64,
    pub bad: i64,
    pub dropped: i64,
    pub disabled: bool,
}

const SOURCE_COLUMNS: &str = "name, kind, label, token_sha256 IS NOT NULL, created_at, created_by, \
     first_seen, last_seen, last_peer, events, bad, dropped, disabled";

fn decode_source(r: &AnyRow) -> Result<SourceRow> {
    // SQLite answers `x IS NOT NULL` as an integer, PostgreSQL as a boolean.
    let has_token = match r.try_get::<bool, _>(3) {
        Ok(b) => b,
        Err(_) => r.try_get::<i64, _>(3)? != 0,
    };
    Ok(SourceRow {
        name: r.try_get(0)?,
        kind: r.try_get(1)?,
        label: r.try_get(2)?,
        has_token,
        created_at: r.try_get(4)?,
        created_by: r.try_get(5)?,
        first_seen: r.try_get(6)?,
        last_seen: r.try_get(7)?,
        last_peer: r.try_get(8)?,
        events: r.try_get(9)?,
        bad: r.try_get(10)?,
        dropped: r.try_get(11)?,
        disabled: r.try_get::<i64, _>(12)? != 0,
    })
}

/// What one batch brought from one source: counted into the source and its hours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceTally {
    pub source: String,
    pub kind: String,
    /// The address or file it came from, as last seen.
    pub peer: String,
    /// When it was received (Unix ms): last seen.
    pub at_ms: i64,
    pub events: i64,
    pub bad: i64,
    /// Best-effort input lost before it could be stored (UDP queue full).
    pub dropped: i64,
    /// (hour start Unix ms, events, bad, largest source-minus-receive time in ms).
    pub hours: Vec<HourTally>,
    /// (code, detail) of refused input: the first few are kept as examples.
    pub rejects: Vec<(String, String)>,
}

/// One hour of one source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HourTally {
    pub hour_ms: i64,
    pub events: i64,
    pub bad: i64,
    /// Largest (source time − receive time) among the hour's events, when any gave a time.
    pub offset_max_ms: Option<i64>,
}

/// Examples kept per source.
pub const REJECT_EXAMPLES_KEPT: i64 = 20;

/// Counts `t` into its source (created on first sight) and hours, and keeps its examples.
pub async fn tally_source(tx: &mut Tx, t: &SourceTally) -> Result<()> {
    sqlx::query(
        "INSERT INTO log_sources (name, kind, label, token_sha256, created_at, created_by, \
         first_seen, last_seen, last_peer, events, bad, dropped, disabled) \
         VALUES ($1, $2, '', NULL, $3, 'mamori', NULL, NULL, '', 0, 0, 0, 0) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(&t.source)
    .bind(&t.kind)
    .bind(t.at_ms)
    .execute(&mut **tx)
    .await?;
    let seen = t.events > 0 || t.bad > 0;
    sqlx::query(
        "UPDATE log_sources SET events = events + $2, bad = bad + $3, dropped = dropped + $4, \
         first_seen = CASE WHEN $5 = 1 AND first_seen IS NULL THEN $6 ELSE first_seen END, \
         last_seen = CASE WHEN $5 = 1 AND (last_seen IS NULL OR last_seen < $6) THEN $6 \
                     ELSE last_seen END, \
         last_peer = CASE WHEN $7 = '' THEN last_peer ELSE $7 END \
         WHERE name = $1",
    )
    .bind(&t.source)
    .bind(t.events)
    .bind(t.bad)
    .bind(t.dropped)
    .bind(i64::from(seen))
    .bind(t.at_ms)
    .bind(&t.peer)
    .execute(&mut **tx)
    .await?;
    for h in &t.hours {
        sqlx::query(
            "INSERT INTO log_source_hours (source, hour, events, bad, offset_max) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (source, hour) DO UPDATE SET \
             events = log_source_hours.events + excluded.events, \
             bad = log_source_hours.bad + excluded.bad, \
             offset_max = CASE \
                 WHEN log_source_hours.offset_max IS NULL THEN excluded.offset_max \
                 WHEN excluded.offset_max IS NULL THEN log_source_hours.offset_max \
                 WHEN excluded.offset_max > log_source_hours.offset_max THEN excluded.offset_max \
                 ELSE log_source_hours.offset_max END",
        )
        .bind(&t.source)
        .bind(h.hour_ms)
        .bind(h.events)
        .bind(h.bad)
        .bind(h.offset_max_ms)
        .execute(&mut **tx)
        .await?;
    }
    if !t.rejects.is_empty() {
        for (code, detail) in t.rejects.iter().take(REJECT_EXAMPLES_KEPT as usize) {
            sqlx::query(
                "INSERT INTO log_rejects (source, at, code, detail) VALUES ($1, $2, $3, $4)",
            )
            .bind(&t.source)
            .bind(t.at_ms)
            .bind(code)
            .bind(detail)
            .execute(&mut **tx)
            .await?;
        }
        sqlx::query(
            "DELETE FROM log_rejects WHERE source = $1 AND id NOT IN \
             (SELECT id FROM log_rejects WHERE source = $1 ORDER BY id DESC LIMIT $2)",
        )
        .bind(&t.source)
        .bind(REJECT_EXAMPLES_KEPT)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Registers a forwarder that sends JSON lines with a token (only its SHA-256 is kept).
/// An existing name is [`StoreError::Conflict`].
pub async fn create_token_source(
    tx: &mut Tx,
    name: &str,
    label: &str,
    token_sha256: &str,
    now_ms: i64,
    by: &str,
) -> Result<()> {
    let done = sqlx::query(
        "INSERT INTO log_sources (name, kind, label, token_sha256, created_at, created_by, \
         first_seen, last_seen, last_peer, events, bad, dropped, disabled) \
         VALUES ($1, 'json', $2, $3, $4, $5, NULL, NULL, '', 0, 0, 0, 0) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(label)
    .bind(token_sha256)
    .bind(now_ms)
    .bind(by)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

/// Replaces a source's token; false when there is no such source.
pub async fn set_source_token(tx: &mut Tx, name: &str, token_sha256: &str) -> Result<bool> {
    let done = sqlx::query("UPDATE log_sources SET token_sha256 = $2 WHERE name = $1")
        .bind(name)
        .bind(token_sha256)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Stops or resumes accepting a source's events; false when there is no such source.
pub async fn set_source_disabled(tx: &mut Tx, name: &str, disabled: bool) -> Result<bool> {
    let done = sqlx::query("UPDATE log_sources SET disabled = $2 WHERE name = $1")
        .bind(name)
        .bind(i64::from(disabled))
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// A recorded log review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRow {
    pub id: i64,
    pub from_ms: i64,
    pub to_ms: i64,
    pub reviewed_at: i64,
    pub reviewer: String,
    /// Events in the period when it was reviewed.
    pub events: i64,
    pub notes: String,
}

/// Records a review of `[from_ms, to_ms)`; returns its id.
pub async fn insert_review(tx: &mut Tx, r: &ReviewRow) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO log_reviews (period_from, period_to, reviewed_at, reviewer, events, notes) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(r.from_ms)
    .bind(r.to_ms)
    .bind(r.reviewed_at)
    .bind(&r.reviewer)
    .bind(r.events)
    .bind(&r.notes)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get(0)?)
}

/// One check of mamori's clock against a time server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockCheck {
    pub at_ms: i64,
    pub server: String,
    /// Server time minus ours (ms): positive when our clock is behind. `None` when it failed.
    pub offset_ms: Option<i64>,
    /// Why it failed; empty when it did not.
    pub error: String,
}

/// Records a clock check and keeps the newest thousand.
pub async fn insert_clock_check(tx: &mut Tx, c: &ClockCheck) -> Result<()> {
    sqlx::query("INSERT INTO clock_checks (at, server, offset_ms, error) VALUES ($1, $2, $3, $4)")
        .bind(c.at_ms)
        .bind(&c.server)
        .bind(c.offset_ms)
        .bind(&c.error)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "DELETE FROM clock_checks WHERE id NOT IN \
         (SELECT id FROM clock_checks ORDER BY id DESC LIMIT 1000)",
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// The newest clock check.
    pub async fn last_clock_check(&self) -> Result<Option<ClockCheck>> {
        let row = sqlx::query(
            "SELECT at, server, offset_ms, error FROM clock_checks ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(ClockCheck {
                at_ms: r.try_get(0)?,
                server: r.try_get(1)?,
                offset_ms: r.try_get(2)?,
                error: r.try_get(3)?,
            })
        })
        .transpose()
    }

    /// Every source, by name.
    pub async fn log_sources(&self) -> Result<Vec<SourceRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {SOURCE_COLUMNS} FROM log_sources ORDER BY name"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode_source).collect()
    }

    pub async fn log_source(&self, name: &str) -> Result<Option<SourceRow>> {
        let row = sqlx::query(&format!(
            "SELECT {SOURCE_COLUMNS} FROM log_sources WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode_source).transpose()
    }

    /// The source a token belongs to.
    pub async fn log_source_by_token(&self, token_sha256: &str) -> Result<Option<SourceRow>> {
        let row = sqlx::query(&format!(
            "SELECT {SOURCE_COLUMNS} FROM log_sources WHERE token_sha256 = $1"
        ))
        .bind(token_sha256)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode_source).transpose()
    }

    /// Hours of every source (or of one) received in `[from_ms, to_ms)`, oldest first.
    pub async fn log_source_hours(
        &self,
        source: Option<&str>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(String, HourTally)>> {
        let rows = sqlx::query(
            "SELECT source, hour, events, bad, offset_max FROM log_source_hours \
             WHERE ($1 = '' OR source = $1) AND hour >= $2 AND hour < $3 ORDER BY hour, source",
        )
        .bind(source.unwrap_or(""))
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    HourTally {
                        hour_ms: r.try_get(1)?,
                        events: r.try_get(2)?,
                        bad: r.try_get(3)?,
                        offset_max_ms: r.try_get(4)?,
                    },
                ))
            })
            .collect()
    }

    /// The newest examples of refused input of a source: (at, code, detail).
    pub async fn log_rejects(&self, source: &str) -> Result<Vec<(i64, String, String)>> {
        let rows = sqlx::query(
            "SELECT at, code, detail FROM log_rejects WHERE source = $1 ORDER BY id DESC",
        )
        .bind(source)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// Reviews, newest period first.
    pub async fn log_reviews(&self, limit: i64) -> Result<Vec<ReviewRow>> {
        let rows = sqlx::query(
            "SELECT id, period_from, period_to, reviewed_at, reviewer, events, notes \
             FROM log_reviews ORDER BY period_to DESC, id DESC LIMIT $1",
        )
        .bind(limit.clamp(1, 10_000))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReviewRow {
                    id: r.try_get(0)?,
                    from_ms: r.try_get(1)?,
                    to_ms: r.try_get(2)?,
                    reviewed_at: r.try_get(3)?,
                    reviewer: r.try_get(4)?,
                    events: r.try_get(5)?,
                    notes: r.try_get(6)?,
                })
            })
            .collect()
    }
}
