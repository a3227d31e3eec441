//! 非常時（ブレークグラス）用アカウント: the registry of who holds each emergency account's sealed
//! credentials, uses declared by people or seen in the logs, and the reseal after a use (the
//! password changed and sealed again). A declared use raises the same critical alert as a use in
//! the logs, so it reaches everyone `[notify]` names at once. Every change is one transaction
//! with one audit event; the rules are `domain::break_glass`'s.

use crate::alerts::Detection;
use crate::authz::{Cap, perm};
use crate::error::{ServiceError, ServiceResult};
use crate::{ClientInfo, Services};
use mamori_domain::alert::AlertLevel;
use mamori_domain::break_glass::{self, BreakGlassError, State};
use mamori_domain::ledger::{Account, AccountKind, InfoSystem};
use mamori_domain::period::parse_moment;
use mamori_storage::break_glass::{
    CustodyRow, UseRow, insert_use, registered_by_login, reseal, seal_and_last_use, upsert_custody,
};
use mamori_storage::registry as store_registry;
use serde_json::json;
use std::collections::HashMap;

/// Rule id of the shipped rule that sees an emergency account in the logs
/// (`rules/medical/break_glass_account.yml`).
pub const DETECTED_RULE_ID: &str = "7b0c7469-89e8-4627-9df9-bf4526ad5e19";
/// Rule id of the alert a declared use raises.
pub const DECLARED_RULE_ID: &str = "mamori-break-glass-declared";

/// Uses the page lists.
pub const USES_SHOWN: i64 = 100;

/// One emergency account of the ledger with its custody and state.
#[derive(Debug, Clone)]
pub struct EmergencyAccount {
    pub account: Account,
    pub system: String,
    pub custody: Option<CustodyRow>,
    pub last_use_ms: Option<i64>,
    pub state: State,
}

/// The break-glass page.
#[derive(Debug, Clone, Default)]
pub struct BreakGlassView {
    /// Used since sealed first, then unregistered, then sealed; by system and login.
    pub accounts: Vec<EmergencyAccount>,
    /// Newest first, with the account's "system / login".
    pub uses: Vec<(UseRow, String)>,
}

fn invalid(e: BreakGlassError) -> ServiceError {
    ServiceError::Invalid {
        code: e.code(),
        field: e.field(),
    }
}

fn state_rank(s: State) -> u8 {
    match s {
        State::UsedSinceSealed => 0,
        State::Unregistered => 1,
        State::Sealed => 2,
    }
}

impl Services {
    /// Every enabled emergency account with its custody, last use and state.
    pub async fn break_glass(
        &self,
        _cap: &Cap<perm::ViewAccounts>,
    ) -> ServiceResult<BreakGlassView> {
        let systems: HashMap<i64, String> = self
            .store
            .records::<InfoSystem>()
            .await?
            .into_iter()
            .map(|s| (s.id.0, s.name))
            .collect();
        let accounts: Vec<Account> = self.store.records::<Account>().await?;
        let custody: HashMap<i64, CustodyRow> = self
            .store
            .break_glass_custody()
            .await?
            .into_iter()
            .map(|c| (c.account_id, c))
            .collect();
        let last: HashMap<i64, i64> = self
            .store
            .break_glass_last_uses()
            .await?
            .into_iter()
            .collect();
        let label = |a: &Account| {
            format!(
                "{} / {}",
                systems
                    .get(&a.system_id.0)
                    .map(String::as_str)
                    .unwrap_or("?"),
                a.login_id
            )
        };
        let mut out: Vec<EmergencyAccount> = accounts
            .iter()
            .filter(|a| a.enabled && a.kind == AccountKind::Emergency)
            .map(|a| {
                let c = custody.get(&a.id.0).cloned();
                let last_use_ms = last.get(&a.id.0).copied();
                EmergencyAccount {
                    state: break_glass::state(c.as_ref().map(|c| c.sealed_ms), last_use_ms),
                    system: systems.get(&a.system_id.0).cloned().unwrap_or_default(),
                    account: a.clone(),
                    custody: c,
                    last_use_ms,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            state_rank(a.state)
                .cmp(&state_rank(b.state))
                .then_with(|| a.system.cmp(&b.system))
                .then_with(|| a.account.login_id.cmp(&b.account.login_id))
        });
        let by_id: HashMap<i64, &Account> = accounts.iter().map(|a| (a.id.0, a)).collect();
        let uses = self
            .store
            .break_glass_uses(USES_SHOWN)
            .await?
            .into_iter()
            .map(|u| {
                let l = by_id
                    .get(&u.account_id)
                    .map(|a| label(a))
                    .unwrap_or_default();
                (u, l)
            })
            .collect();
        Ok(BreakGlassView {
            accounts: out,
            uses,
        })
    }

    /// The enabled emergency account `account_id`, or `BG0003`.
    async fn emergency_account(&self, account_id: i64) -> ServiceResult<Account> {
        self.store
            .record::<Account>(account_id)
            .await?
            .filter(|a| a.enabled && a.kind == AccountKind::Emergency)
            .ok_or(invalid(BreakGlassError::NotEmergency))
    }

    /// Records (or changes) who holds the sealed credentials and where they are kept, with an
    /// audit event `accounts.break_glass_registered`. A first registration counts as sealed now.
    pub async fn register_break_glass(
        &self,
        cap: &Cap<perm::EditLedger>,
        client: &ClientInfo,
        account_id: i64,
        holders: &str,
        location: &str,
        notes: &str,
    ) -> ServiceResult<()> {
        let account = self.emergency_account(account_id).await?;
        let c = break_glass::custody(holders, location, notes).map_err(invalid)?;
        let who = cap.actor().user.display_name.clone();
        let mut w = self.store.write().await?;
        let first = seal_and_last_use(&mut w, account_id).await?.0.is_none();
        upsert_custody(
            &mut w,
            &CustodyRow {
                account_id,
                holders: c.holders.join("\n"),
                location: c.location.clone(),
                notes: c.notes.clone(),
                sealed_ms: self.now_ms(),
                sealed_by: who,
            },
            false,
        )
        .await?;
        self.audit(
            &mut w,
            &cap.actor().label(),
            &client.source,
            "accounts.break_glass_registered",
            &format!("account:{account_id}"),
            json!({
                "login": account.login_id,
                "holders": c.holders,
                "location": c.location,
                "first": first,
            }),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Records a use someone declares (`at`: a moment as typed, empty for now) and raises the
    /// critical alert of a break-glass use, with an audit event `accounts.break_glass_used`.
    pub async fn declare_break_glass_use(
        &self,
        cap: &Cap<perm::EditLedger>,
        client: &ClientInfo,
        account_id: i64,
        at: &str,
        reason: &str,
    ) -> ServiceResult<i64> {
        let account = self.emergency_account(account_id).await?;
        let now = self.now_ms();
        let used_ms = match at.trim() {
            "" => now,
            s => {
                parse_moment(s)
                    .map_err(|_| invalid(BreakGlassError::BadTime))?
                    .start_ms
            }
        };
        break_glass::check_use(reason, used_ms, now).map_err(invalid)?;
        let who = cap.actor().user.display_name.clone();
        let mut w = self.store.write().await?;
        if seal_and_last_use(&mut w, account_id).await?.0.is_none() {
            return Err(invalid(BreakGlassError::NotRegistered));
        }
        let id = insert_use(
            &mut w,
            &UseRow {
                id: 0,
                account_id,
                used_ms,
                recorded_ms: now,
                via: "declared".into(),
                recorded_by: who.clone(),
                reason: reason.trim().to_string(),
                alert_id: None,
            },
        )
        .await?;
        self.raise_in(
            &mut w,
            &[Detection {
                rule_id: DECLARED_RULE_ID.into(),
                title: "非常時用アカウントの使用（申告）".into(),
                level: AlertLevel::Critical,
                group: Vec::new(),
                host: String::new(),
                actor: Some(account.login_id.clone()),
                at_ms: used_ms,
                seal_index: None,
            }],
        )
        .await?;
        self.audit(
            &mut w,
            &cap.actor().label(),
            &client.source,
            "accounts.break_glass_used",
            &format!("account:{account_id}"),
            json!({
                "login": account.login_id,
                "used_at": used_ms,
                "reason": reason.trim(),
                "via": "declared",
            }),
        )
        .await?;
        w.commit().await?;
        Ok(id)
    }

    /// Records that the password was changed and the credentials sealed again: the flag clears,
    /// and the account's password-set day in the ledger is today (with its history row). One
    /// audit event `accounts.break_glass_resealed`.
    pub async fn reseal_break_glass(
        &self,
        cap: &Cap<perm::EditLedger>,
        client: &ClientInfo,
        account_id: i64,
    ) -> ServiceResult<()> {
        self.emergency_account(account_id).await?;
        let now = self.now_ms();
        let today = self.clock.today();
        let who = cap.actor().user.display_name.clone();
        let actor = cap.actor().label();
        let mut w = self.store.write().await?;
        if !reseal(&mut w, account_id, now, &who).await? {
            return Err(invalid(BreakGlassError::NotRegistered));
        }
        let backend = w.backend();
        if let Some(before) =
            store_registry::record_for_update::<Account>(&mut w, backend, account_id).await?
        {
            let mut after = before.clone();
            after.pw_last_set_on = Some(today);
            crate::ledger::replace_with_history(
                &mut w,
                &before,
                &after,
                now,
                &actor,
                "break_glass_reseal",
            )
            .await?;
        }
        self.audit(
            &mut w,
            &actor,
            &client.source,
            "accounts.break_glass_resealed",
            &format!("account:{account_id}"),
            json!({}),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Inside [`Services::raise_in`]: a detection of the break-glass rule is a use of every
    /// registered emergency account with its login, recorded when the alert opens, or when
    /// the account had been sealed again since its last recorded use (a new use joining an
    /// alert still open).
    pub(crate) async fn record_detected_use(
        &self,
        w: &mut mamori_storage::Tx,
        d: &Detection,
        alert_id: i64,
        opened: bool,
    ) -> ServiceResult<()> {
        let Some(login) = d.actor.as_deref() else {
            return Ok(());
        };
        for account_id in registered_by_login(w, login).await? {
            if !opened {
                let (sealed, last) =
                    mamori_storage::break_glass::seal_and_last_use(w, account_id).await?;
                if break_glass::state(sealed, last) != State::Sealed {
                    continue;
                }
            }
            insert_use(
                w,
                &UseRow {
                    id: 0,
                    account_id,
                    used_ms: d.at_ms,
                    recorded_ms: self.now_ms(),
                    via: "detected".into(),
                    recorded_by: "mamori".into(),
                    reason: d.title.clone(),
                    alert_id: Some(alert_id),
                },
            )
            .await?;
        }
        Ok(())
    }
}
