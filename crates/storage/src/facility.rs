//! The facility row (exactly one per installation) and its settings.

use crate::{Result, Store, StoreError, Tx};
use mamori_domain::facility::{FacilityKind, FacilitySettings};
use sqlx::Row;

/// The facility as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacilityRow {
    pub kind: FacilityKind,
    pub name: String,
    pub beds: Option<i64>,
    pub settings: FacilitySettings,
    pub created_at_ms: i64,
}

fn u32_of(v: i64, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} = {v}")))
}

impl Store {
    /// The facility, or `None` before first-run setup.
    pub async fn facility(&self) -> Result<Option<FacilityRow>> {
        let row = sqlx::query(
            "SELECT kind, name, beds, idle_lock_minutes, require_2fa_all, ledger_review_cycle_days, \
             dormant_account_days, created_at FROM facility WHERE id = 1",
        )
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        let kind: String = r.try_get(0)?;
        Ok(Some(FacilityRow {
            kind: FacilityKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("facility kind {kind}")))?,
            name: r.try_get(1)?,
            beds: r.try_get(2)?,
            settings: FacilitySettings {
                idle_lock_minutes: u32_of(r.try_get(3)?, "idle_lock_minutes")?,
                require_two_factor_for_all: crate::get_flag(&r, 4)?,
                ledger_review_cycle_days: u32_of(r.try_get(5)?, "ledger_review_cycle_days")?,
                dormant_account_days: u32_of(r.try_get(6)?, "dormant_account_days")?,
            },
            created_at_ms: r.try_get(7)?,
        }))
    }
}

/// Creates the facility. Fails with `Conflict` when one exists (setup runs once).
pub async fn insert_facility(tx: &mut Tx, f: &FacilityRow) -> Result<()> {
    let exists = sqlx::query("SELECT 1 FROM facility WHERE id = 1")
        .fetch_optional(&mut **tx)
        .await?;
    if exists.is_some() {
        return Err(StoreError::Conflict);
    }
    sqlx::query(
        "INSERT INTO facility (id, kind, name, beds, idle_lock_minutes, require_2fa_all, \
         ledger_review_cycle_days, dormant_account_days, created_at) \
         VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(f.kind.as_str())
    .bind(&f.name)
    .bind(f.beds)
    .bind(i64::from(f.settings.idle_lock_minutes))
    .bind(crate::flag(f.settings.require_two_factor_for_all))
    .bind(i64::from(f.settings.ledger_review_cycle_days))
    .bind(i64::from(f.settings.dormant_account_days))
    .bind(f.created_at_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Replaces the facility's settings.
pub async fn update_settings(tx: &mut Tx, s: &FacilitySettings) -> Result<()> {
    sqlx::query(
        "UPDATE facility SET idle_lock_minutes = $1, require_2fa_all = $2, \
         ledger_review_cycle_days = $3, dormant_account_days = $4 WHERE id = 1",
    )
    .bind(i64::from(s.idle_lock_minutes))
    .bind(crate::flag(s.require_two_factor_for_all))
    .bind(i64::from(s.ledger_review_cycle_days))
    .bind(i64::from(s.dormant_account_days))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
