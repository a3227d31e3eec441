//! Incidents (`incidents`, `incident_notes`, `alerts.incident_id`, migration 0015). Severities
//! and statuses are stored as their `domain::incident` codes; the service checks the workflow.
//! The timeline is appended, never changed.

use crate::alerts::AlertRow;
use crate::{Backend, Result, Store, Tx};
use sqlx::Row;
use sqlx::any::AnyRow;

/// One incident, with the number of alerts linked to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRow {
    pub id: i64,
    pub title: String,
    /// `domain::alert::AlertLevel` code.
    pub severity: String,
    /// `domain::incident::IncidentStatus` code.
    pub status: String,
    pub opened_ms: i64,
    /// Who opened it (display name).
    pub opened_by: String,
    /// Who handles it (a name).
    pub owner: String,
    pub summary: String,
    pub closed_ms: Option<i64>,
    pub closed_by: Option<String>,
    /// The closing note; empty while open.
    pub close_note: String,
    /// Alerts linked to it.
    pub alerts: i64,
}

const COLUMNS: &str = "i.id, i.title, i.severity, i.status, i.opened_at, i.opened_by, i.owner, \
                       i.summary, i.closed_at, i.closed_by, i.close_note, \
                       (SELECT COUNT(*) FROM alerts a WHERE a.incident_id = i.id)";

fn decode(r: &AnyRow) -> Result<IncidentRow> {
    Ok(IncidentRow {
        id: r.try_get(0)?,
        title: r.try_get(1)?,
        severity: r.try_get(2)?,
        status: r.try_get(3)?,
        opened_ms: r.try_get(4)?,
        opened_by: r.try_get(5)?,
        owner: r.try_get(6)?,
        summary: r.try_get(7)?,
        closed_ms: r.try_get(8)?,
        closed_by: r.try_get(9)?,
        close_note: r.try_get(10)?,
        alerts: r.try_get(11)?,
    })
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineRow {
    pub id: i64,
    pub incident_id: i64,
    pub at_ms: i64,
    /// Who wrote it (display name).
    pub author: String,
    /// `domain::incident::EntryKind` code.
    pub kind: String,
    pub text: String,
    /// The status it moved to (`status` entries).
    pub status: Option<String>,
    /// The alert linked (`alert_linked` entries), with its title.
    pub alert_id: Option<i64>,
    pub alert_title: Option<String>,
}

/// An incident to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIncident<'a> {
    pub title: &'a str,
    pub severity: &'a str,
    pub status: &'a str,
    pub opened_ms: i64,
    pub opened_by: &'a str,
    pub owner: &'a str,
    pub summary: &'a str,
}

/// Opens an incident; returns its id.
pub async fn insert_incident(tx: &mut Tx, i: &NewIncident<'_>) -> Result<i64> {
    let r = sqlx::query(
        "INSERT INTO incidents (title, severity, status, opened_at, opened_by, owner, summary, \
         close_note) VALUES ($1, $2, $3, $4, $5, $6, $7, '') RETURNING id",
    )
    .bind(i.title)
    .bind(i.severity)
    .bind(i.status)
    .bind(i.opened_ms)
    .bind(i.opened_by)
    .bind(i.owner)
    .bind(i.summary)
    .fetch_one(&mut **tx)
    .await?;
    Ok(r.try_get(0)?)
}

/// A timeline entry to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry<'a> {
    pub incident_id: i64,
    pub at_ms: i64,
    pub author: &'a str,
    pub kind: &'a str,
    pub text: &'a str,
    pub status: Option<&'a str>,
    pub alert_id: Option<i64>,
}

/// Appends an entry to an incident's timeline.
pub async fn append_entry(tx: &mut Tx, e: &NewEntry<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO incident_notes (incident_id, at, author, kind, text, status, alert_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(e.incident_id)
    .bind(e.at_ms)
    .bind(e.author)
    .bind(e.kind)
    .bind(e.text)
    .bind(e.status)
    .bind(e.alert_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The status of incident `id` read inside `tx` (on PostgreSQL the row is locked until the
/// transaction ends, so two changes of one incident cannot cross); `None` when there is none.
pub async fn status_for_change(tx: &mut Tx, backend: Backend, id: i64) -> Result<Option<String>> {
    let sql = match backend {
        Backend::Postgres => "SELECT status FROM incidents WHERE id = $1 FOR UPDATE",
        Backend::Sqlite => "SELECT status FROM incidents WHERE id = $1",
    };
    let r = sqlx::query(sql).bind(id).fetch_optional(&mut **tx).await?;
    r.map(|r| r.try_get(0)).transpose().map_err(Into::into)
}

/// What linking needs of an alert, read inside `tx` (locked on PostgreSQL): its title, level
/// and the incident it already belongs to. `None` when there is no such alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertForLink {
    pub title: String,
    pub level: String,
    pub incident_id: Option<i64>,
}

pub async fn alert_for_link(
    tx: &mut Tx,
    backend: Backend,
    alert_id: i64,
) -> Result<Option<AlertForLink>> {
    let sql = match backend {
        Backend::Postgres => {
            "SELECT title, level, incident_id FROM alerts WHERE id = $1 FOR UPDATE"
        }
        Backend::Sqlite => "SELECT title, level, incident_id FROM alerts WHERE id = $1",
    };
    let r = sqlx::query(sql)
        .bind(alert_id)
        .fetch_optional(&mut **tx)
        .await?;
    r.map(|r| {
        Ok(AlertForLink {
            title: r.try_get(0)?,
            level: r.try_get(1)?,
            incident_id: r.try_get(2)?,
        })
    })
    .transpose()
}

/// Links an alert to an incident unless it already belongs to one; returns whether it did.
pub async fn link_alert(tx: &mut Tx, alert_id: i64, incident_id: i64) -> Result<bool> {
    let done =
        sqlx::query("UPDATE alerts SET incident_id = $1 WHERE id = $2 AND incident_id IS NULL")
            .bind(incident_id)
            .bind(alert_id)
            .execute(&mut **tx)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets an incident's status, with who closed it, when and the note when it is closed.
/// Returns false when there is no such incident.
pub async fn set_status(
    tx: &mut Tx,
    id: i64,
    status: &str,
    closing: Option<(&str, i64, &str)>,
) -> Result<bool> {
    let done = match closing {
        Some((note, at, by)) => {
            sqlx::query(
                "UPDATE incidents SET status = $1, close_note = $2, closed_at = $3, \
                 closed_by = $4 WHERE id = $5",
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
            sqlx::query("UPDATE incidents SET status = $1 WHERE id = $2")
                .bind(status)
                .bind(id)
                .execute(&mut **tx)
                .await?
        }
    };
    Ok(done.rows_affected() == 1)
}

impl Store {
    /// Incidents not closed, newest first.
    pub async fn open_incidents(&self) -> Result<Vec<IncidentRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM incidents i WHERE i.status <> 'closed' \
             ORDER BY i.opened_at DESC, i.id DESC LIMIT 1000"
        );
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(decode).collect()
    }

    /// The `limit` incidents closed last, newest first.
    pub async fn closed_incidents(&self, limit: i64) -> Result<Vec<IncidentRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM incidents i WHERE i.status = 'closed' \
             ORDER BY i.closed_at DESC, i.id DESC LIMIT $1"
        );
        let rows = sqlx::query(&sql)
            .bind(limit.clamp(1, 1000))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(decode).collect()
    }

    pub async fn incident(&self, id: i64) -> Result<Option<IncidentRow>> {
        let sql = format!("SELECT {COLUMNS} FROM incidents i WHERE i.id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(decode).transpose()
    }

    /// An incident's timeline, oldest first.
    pub async fn incident_timeline(&self, id: i64) -> Result<Vec<TimelineRow>> {
        let rows = sqlx::query(
            "SELECT n.id, n.incident_id, n.at, n.author, n.kind, n.text, n.status, n.alert_id, \
             a.title FROM incident_notes n LEFT JOIN alerts a ON a.id = n.alert_id \
             WHERE n.incident_id = $1 ORDER BY n.id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TimelineRow {
                    id: r.try_get(0)?,
                    incident_id: r.try_get(1)?,
                    at_ms: r.try_get(2)?,
                    author: r.try_get(3)?,
                    kind: r.try_get(4)?,
                    text: r.try_get(5)?,
                    status: r.try_get(6)?,
                    alert_id: r.try_get(7)?,
                    alert_title: r.try_get(8)?,
                })
            })
            .collect()
    }

    /// The alerts linked to an incident, most serious then earliest first.
    pub async fn incident_alerts(&self, id: i64) -> Result<Vec<AlertRow>> {
        let sql = format!(
            "SELECT {} FROM alerts WHERE incident_id = $1 \
             ORDER BY level_rank DESC, first_at, id",
            crate::alerts::COLUMNS
        );
        let rows = sqlx::query(&sql).bind(id).fetch_all(self.pool()).await?;
        rows.iter().map(crate::alerts::decode).collect()
    }
}
