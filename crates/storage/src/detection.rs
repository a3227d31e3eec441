//! Live detection's state (`detect_state`) and the watched patients (`watched_patients`),
//! migration 0014; and the day/night profile of medical record use the after-hours rule reads.

use crate::{Result, Store, Tx};
use sqlx::Row;

/// The state name of the detector's position in the sealed event log.
pub const CURSOR: &str = "next_index";

/// Sets a detector counter, in the caller's transaction.
pub async fn set_detect_state(tx: &mut Tx, name: &str, value: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO detect_state (name, value) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .bind(name)
    .bind(value)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A watched patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedPatient {
    pub patient_id: String,
    /// `vip`, `staff` or `family`.
    pub reason: String,
    pub note: String,
    pub added_ms: i64,
    pub added_by: String,
}

/// Adds a patient (or changes the reason and note of one already watched).
pub async fn upsert_watched_patient(tx: &mut Tx, p: &WatchedPatient) -> Result<()> {
    sqlx::query(
        "INSERT INTO watched_patients (patient_id, reason, note, added_at, added_by) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (patient_id) DO UPDATE \
         SET reason = excluded.reason, note = excluded.note",
    )
    .bind(&p.patient_id)
    .bind(&p.reason)
    .bind(&p.note)
    .bind(p.added_ms)
    .bind(&p.added_by)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Removes a patient from the list; whether it was there.
pub async fn delete_watched_patient(tx: &mut Tx, patient_id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM watched_patients WHERE patient_id = $1")
        .bind(patient_id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// One account's medical record use: events in the day hours and in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayProfile {
    pub actor: String,
    pub day: i64,
    pub total: i64,
}

impl Store {
    /// A detector counter.
    pub async fn detect_state(&self, name: &str) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT value FROM detect_state WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }

    /// Every watched patient, by id.
    pub async fn watched_patients(&self) -> Result<Vec<WatchedPatient>> {
        let rows = sqlx::query(
            "SELECT patient_id, reason, note, added_at, added_by FROM watched_patients \
             ORDER BY patient_id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(WatchedPatient {
                    patient_id: r.try_get(0)?,
                    reason: r.try_get(1)?,
                    note: r.try_get(2)?,
                    added_ms: r.try_get(3)?,
                    added_by: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Per account, how many of its `actions` since `since_ms` fell in the day hours
    /// `[day_from, day_to)` of the clock `offset_hours` ahead of UTC (9 for Japan), and how
    /// many there were in all.
    pub async fn day_profiles(
        &self,
        actions: &[&str],
        since_ms: i64,
        offset_hours: i64,
        (day_from, day_to): (i64, i64),
    ) -> Result<Vec<DayProfile>> {
        if actions.is_empty() {
            return Ok(Vec::new());
        }
        let list = (0..actions.len())
            .map(|i| format!("${}", i + 5))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT actor, SUM(CASE WHEN h >= $3 AND h < $4 THEN 1 ELSE 0 END), COUNT(*) \
             FROM (SELECT actor, ((sort_at / 3600000) + $2) % 24 AS h FROM log_events \
                   WHERE sort_at >= $1 AND actor IS NOT NULL AND action IN ({list})) t \
             GROUP BY actor"
        );
        let mut q = sqlx::query(&sql)
            .bind(since_ms)
            .bind(offset_hours)
            .bind(day_from)
            .bind(day_to);
        for a in actions {
            q = q.bind(*a);
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(DayProfile {
                    actor: r.try_get(0)?,
                    day: r.try_get(1)?,
                    total: r.try_get(2)?,
                })
            })
            .collect()
    }
}
