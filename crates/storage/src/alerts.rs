//! Alerts raised by detection rules (`alerts`, `alert_events`, migration 0013). Levels and
//! statuses are stored as their `domain::alert` codes; the service checks the workflow.

use crate::{Result, Store, Tx};
use sqlx::Row;
use sqlx::any::AnyRow;

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    pub id: i64,
    pub rule_id: String,
    pub title: String,
    /// `domain::alert::AlertLevel` code.
    pub level: String,
    /// `domain::alert::AlertStatus` code.
    pub status: String,
    pub group_key: String,
    pub host: String,
    pub actor: Option<String>,
    pub first_ms: i64,
    pub last_ms: i64,
    /// Detections that joined it.
    pub count: i64,
    /// Who acknowledged it (display name).
    pub owner: Option<String>,
    /// The closing note.
    pub note: String,
    pub closed_ms: Option<i64>,
    pub closed_by: Option<String>,
    pub raised_ms: i64,
    /// The incident it belongs to (migration 0015), once linked.
    pub incident_id: Option<i64>,
}

pub(crate) const COLUMNS: &str = "id, rule_id, title, level, status, group_key, host, actor, \
                                  first_at, last_at, count, owner, note, closed_at, closed_by, \
                                  raised_at, incident_id";

pub(crate) fn decode(r: &AnyRow) -> Result<AlertRow> {
    Ok(AlertRow {
        id: r.try_get(0)?,
        rule_id: r.try_get(1)?,
        title: r.try_get(2)?,
        level: r.try_get(3)?,
        status: r.try_get(4)?,
        group_key: r.try_get(5)?,
        host: r.try_get(6)?,
        actor: r.try_get(7)?,
        first_ms: r.try_get(8)?,
        last_ms: r.try_get(9)?,
        count: r.try_get(10)?,
        owner: r.try_get(11)?,
        note: r.try_get(12)?,
        closed_ms: r.try_get(13)?,
        closed_by: r.try_get(14)?,
        raised_ms: r.try_get(15)?,
        incident_id: r.try_get(16)?,
    })
}

/// Events linked to one alert at most: the count keeps growing, the list stops here.
pub const MAX_LINKED_EVENTS: i64 = 1000;

/// A detection to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDetection {
    /// When mamori raised it.
    pub raised_ms: i64,
    pub rule_id: String,
    pub title: String,
    pub level: String,
    pub level_rank: i64,
    pub group_key: String,
    pub host: String,
    pub actor: Option<String>,
    pub at_ms: i64,
    /// The sealed event record that matched.
    pub seal_index: Option<i64>,
}

/// Records `d`: it joins the open alert of its rule and group, or opens a new one. Returns the
/// alert's id and whether it is new.
pub async fn record_detection(tx: &mut Tx, d: &NewDetection) -> Result<(i64, bool)> {
    let open = sqlx::query(
        "SELECT id, count FROM alerts WHERE rule_id = $1 AND group_key = $2 \
         AND status <> 'closed' ORDER BY id DESC LIMIT 1",
    )
    .bind(&d.rule_id)
    .bind(&d.group_key)
    .fetch_optional(&mut **tx)
    .await?;
    let (id, new, count) = match open {
        Some(r) => {
            let id: i64 = r.try_get(0)?;
            let count: i64 = r.try_get(1)?;
            sqlx::query(
                "UPDATE alerts SET count = count + 1, last_at = CASE WHEN last_at < $1 THEN $1 \
                 ELSE last_at END, first_at = CASE WHEN first_at > $1 THEN $1 ELSE first_at END \
                 WHERE id = $2",
            )
            .bind(d.at_ms)
            .bind(id)
            .execute(&mut **tx)
            .await?;
            (id, false, count + 1)
        }
        None => {
            let r = sqlx::query(
                "INSERT INTO alerts (rule_id, title, level, level_rank, status, group_key, host, \
                 actor, first_at, last_at, count, note, raised_at) \
                 VALUES ($1, $2, $3, $4, 'new', $5, $6, $7, $8, $8, 1, '', $9) RETURNING id",
            )
            .bind(&d.rule_id)
            .bind(&d.title)
            .bind(&d.level)
            .bind(d.level_rank)
            .bind(&d.group_key)
            .bind(&d.host)
            .bind(d.actor.as_deref())
            .bind(d.at_ms)
            .bind(d.raised_ms)
            .fetch_one(&mut **tx)
            .await?;
            (r.try_get(0)?, true, 1)
        }
    };
    if let Some(i) = d.seal_index
        && count <= MAX_LINKED_EVENTS
    {
        sqlx::query(
            "INSERT INTO alert_events (alert_id, seal_index) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(i)
        .execute(&mut **tx)
        .await?;
    }
    Ok((id, new))
}

/// Sets an alert's status, and its owner or closing note. Returns false when there is no such
/// alert.
pub async fn set_alert_status(
    tx: &mut Tx,
    id: i64,
    status: &str,
    owner: Option<&str>,
    closing: Option<(&str, i64, &str)>,
) -> Result<bool> {
    let done = match closing {
        Some((note, at, by)) => {
            sqlx::query(
                "UPDATE alerts SET status = $1, note = $2, closed_at = $3, closed_by = $4, \
                 owner = COALESCE(owner, $4) WHERE id = $5",
            )
            .bind(status)
            .bind(note)
            .bind(at)
            .bind(by)
            .bind(id)
            .execute(&mut **tx)
            .await?
        }
        None => {
            sqlx::query("UPDATE alerts SET status = $1, owner = $2 WHERE id = $3")
                .bind(status)
                .bind(owner)
                .bind(id)
                .execute(&mut **tx)
                .await?
        }
    };
    Ok(done.rows_affected() == 1)
}

impl Store {
    /// Alerts of `status` (any when `None`), most serious then newest first.
    pub async fn alerts(&self, status: Option<&str>, limit: i64) -> Result<Vec<AlertRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM alerts WHERE ($1 = '' OR status = $1) \
             ORDER BY CASE WHEN status = 'closed' THEN 1 ELSE 0 END, level_rank DESC, \
             last_at DESC, id DESC LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(status.unwrap_or(""))
            .bind(limit.clamp(1, 10_000))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(decode).collect()
    }

    pub async fn alert(&self, id: i64) -> Result<Option<AlertRow>> {
        let sql = format!("SELECT {COLUMNS} FROM alerts WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(decode).transpose()
    }

    /// Alerts per (status, level).
    pub async fn alert_counts(&self) -> Result<Vec<(String, String, i64)>> {
        let rows = sqlx::query(
            "SELECT status, level, COUNT(*) FROM alerts GROUP BY status, level ORDER BY status, level",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// The sealed record numbers of an alert's linked events, oldest first.
    pub async fn alert_event_indexes(&self, id: i64) -> Result<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT seal_index FROM alert_events WHERE alert_id = $1 ORDER BY seal_index",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }
}

/// One notification of an alert on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRow {
    pub id: i64,
    pub alert_id: i64,
    /// `raised` or `escalated`.
    pub kind: String,
    /// `email`, `webhook`, `escalation_email` or `syslog`.
    pub channel: String,
    pub due_ms: i64,
    pub sent_ms: Option<i64>,
    pub attempts: i64,
    /// The last failure; empty when none.
    pub error: String,
}

const NOTE_COLUMNS: &str = "id, alert_id, kind, channel, due_at, sent_at, attempts, error";

fn decode_note(r: &AnyRow) -> Result<NotificationRow> {
    Ok(NotificationRow {
        id: r.try_get(0)?,
        alert_id: r.try_get(1)?,
        kind: r.try_get(2)?,
        channel: r.try_get(3)?,
        due_ms: r.try_get(4)?,
        sent_ms: r.try_get(5)?,
        attempts: r.try_get::<i64, _>(6)?,
        error: r.try_get(7)?,
    })
}

/// Queues a notification of `alert_id` on `channel`, due at `due_ms`.
pub async fn queue_notification(
    tx: &mut Tx,
    alert_id: i64,
    kind: &str,
    channel: &str,
    due_ms: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO alert_notifications (alert_id, kind, channel, due_at, sent_at, attempts, \
         error) VALUES ($1, $2, $3, $4, NULL, 0, '')",
    )
    .bind(alert_id)
    .bind(kind)
    .bind(channel)
    .bind(due_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records a send: `Ok` marks it sent at `at_ms`; `Err` counts the attempt, keeps the reason
/// and sets the next try.
pub async fn record_attempt(
    tx: &mut Tx,
    id: i64,
    at_ms: i64,
    outcome: std::result::Result<(), (&str, i64)>,
) -> Result<()> {
    match outcome {
        Ok(()) => {
            sqlx::query(
                "UPDATE alert_notifications SET sent_at = $1, attempts = attempts + 1, \
                 error = '' WHERE id = $2",
            )
            .bind(at_ms)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        }
        Err((error, next_ms)) => {
            sqlx::query(
                "UPDATE alert_notifications SET attempts = attempts + 1, error = $1, \
                 due_at = $2 WHERE id = $3",
            )
            .bind(error)
            .bind(next_ms)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

impl Store {
    /// Open alerts at `min_rank` or above that have no notification of `kind` yet, raised in
    /// `[raised_from_ms, raised_by_ms]` (and, for `new_only`, still new), oldest first. The
    /// lower bound keeps a newly configured channel from announcing every old open alert.
    pub async fn alerts_without_notification(
        &self,
        kind: &str,
        min_rank: i64,
        raised_from_ms: i64,
        raised_by_ms: i64,
        new_only: bool,
    ) -> Result<Vec<AlertRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM alerts a WHERE level_rank >= $1 AND raised_at <= $2 \
             AND raised_at >= $4 AND status {} AND NOT EXISTS (SELECT 1 FROM \
             alert_notifications n WHERE n.alert_id = a.id AND n.kind = $3) ORDER BY id LIMIT 200",
            if new_only { "= 'new'" } else { "<> 'closed'" }
        );
        let rows = sqlx::query(&sql)
            .bind(min_rank)
            .bind(raised_by_ms)
            .bind(kind)
            .bind(raised_from_ms)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(decode).collect()
    }

    /// Notifications not yet sent and due by `now_ms` with attempts left, oldest first.
    pub async fn due_notifications(
        &self,
        now_ms: i64,
        max_attempts: i64,
    ) -> Result<Vec<NotificationRow>> {
        let sql = format!(
            "SELECT {NOTE_COLUMNS} FROM alert_notifications WHERE sent_at IS NULL \
             AND due_at <= $1 AND attempts < $2 ORDER BY due_at, id LIMIT 100"
        );
        let rows = sqlx::query(&sql)
            .bind(now_ms)
            .bind(max_attempts)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(decode_note).collect()
    }

    /// An alert's notifications, oldest first.
    pub async fn alert_notifications(&self, alert_id: i64) -> Result<Vec<NotificationRow>> {
        let sql = format!(
            "SELECT {NOTE_COLUMNS} FROM alert_notifications WHERE alert_id = $1 ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(alert_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(decode_note).collect()
    }
}
