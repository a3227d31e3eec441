//! Directory sync: what was read from Active Directory / LDAP, applied to the accounts of one
//! ledger system and to that system's password policy — all of it in one transaction with one
//! audit event, or nothing (a refused snapshot, a dry run).

use crate::authz::{Cap, perm};
use crate::clock::JST;
use crate::error::{ServiceError, ServiceResult};
use crate::{ClientInfo, Services};
use mamori_domain::SystemId;
use mamori_domain::directory::{Snapshot, administrators, plan};
use mamori_domain::ledger::{Account, FieldChange, InfoSystem, Person};
use mamori_domain::registry::changes;
use mamori_storage::directory::{DirectorySyncRow, record_sync};
use serde_json::json;
use std::collections::HashMap;

/// How to apply a snapshot.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Only compute the report.
    pub dry_run: bool,
    /// Groups whose members (through nested groups too) are admins.
    pub admin_groups: Vec<String>,
    /// How the sync was started, as recorded: `scheduled`, `manual` (the page) or `cli`.
    pub via: &'static str,
}

/// What a sync did (or, on a dry run, would do).
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    pub system: String,
    pub users: usize,
    pub groups: usize,
    pub added: Vec<String>,
    /// (login, changes).
    pub changed: Vec<(String, Vec<FieldChange>)>,
    /// Enabled accounts no longer in the directory, disabled as of today.
    pub disabled: Vec<String>,
    pub unchanged: usize,
    pub admins: usize,
    /// Logins linked to nobody on the roster.
    pub unlinked: Vec<String>,
    /// (login, person's name): a roster person with the same name, to confirm.
    pub candidates: Vec<(String, String)>,
    /// Enabled accounts whose password never expires.
    pub never_expires: Vec<String>,
    pub locked_out: Vec<String>,
    /// The system's password policy fields that the domain policy changed.
    pub policy: Vec<FieldChange>,
    pub committed: bool,
}

impl Services {
    /// The last `limit` directory syncs, newest first (the directory page).
    pub async fn directory_syncs(
        &self,
        _cap: &Cap<perm::ViewAccounts>,
        limit: i64,
    ) -> ServiceResult<Vec<DirectorySyncRow>> {
        Ok(self.store.directory_syncs(limit).await?)
    }

    /// Records a scheduled sync that could not run (the directory unreachable, the password
    /// refused …): one audit event, so the failure is on record beside the successes.
    pub async fn record_directory_failure(
        &self,
        system: &str,
        via: &str,
        code: &str,
        detail: &str,
    ) -> ServiceResult<()> {
        let mut w = self.store.write().await?;
        record_sync(
            &mut w,
            &DirectorySyncRow {
                at_ms: self.now_ms(),
                system: system.to_string(),
                via: via.to_string(),
                code: code.to_string(),
                detail: detail.to_string(),
                users: 0,
                added: 0,
                changed: 0,
                disabled: 0,
            },
        )
        .await?;
        self.audit(
            &mut w,
            "system",
            "system",
            "accounts.directory_sync_failed",
            &format!("directory:{system}"),
            json!({ "code": code, "detail": detail, "via": via }),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Applies a directory snapshot to the accounts of `system_id`, all or nothing.
    pub async fn sync_directory(
        &self,
        cap: &Cap<perm::EditLedger>,
        system_id: SystemId,
        snapshot: &Snapshot,
        opts: &SyncOptions,
        client: &ClientInfo,
    ) -> ServiceResult<SyncReport> {
        let system: InfoSystem = self
            .store
            .record::<InfoSystem>(system_id.0)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let accounts: Vec<Account> = self
            .store
            .records::<Account>()
            .await?
            .into_iter()
            .filter(|a| a.system_id == system_id)
            .collect();
        let persons: Vec<Person> = self.store.records::<Person>().await?;
        let admins = administrators(snapshot, &opts.admin_groups);
        let today = self.clock.today();
        let p = plan(
            snapshot, system_id, &accounts, &persons, &admins, today, JST,
        )
        .map_err(|e| ServiceError::Invalid {
            code: e.code(),
            field: "login",
        })?;
        let name_of = |id| {
            persons
                .iter()
                .find(|p| p.id == id)
                .map(|p| p.name.clone())
                .unwrap_or_default()
        };
        let mut report = SyncReport {
            system: system.name.clone(),
            users: snapshot.users.len(),
            groups: snapshot.groups.len(),
            added: p.add.iter().map(|a| a.login_id.clone()).collect(),
            changed: p
                .change
                .iter()
                .map(|(b, a)| (a.login_id.clone(), changes(b, a)))
                .collect(),
            disabled: p.disable.iter().map(|(b, _)| b.login_id.clone()).collect(),
            unchanged: p.unchanged,
            admins: admins.len(),
            unlinked: p.unlinked.clone(),
            candidates: p
                .candidates
                .iter()
                .map(|(l, id)| (l.clone(), name_of(*id)))
                .collect(),
            never_expires: snapshot
                .users
                .iter()
                .filter(|u| u.enabled() && u.password_never_expires())
                .map(|u| u.login.clone())
                .collect(),
            locked_out: snapshot
                .users
                .iter()
                .filter(|u| u.locked_out())
                .map(|u| u.login.clone())
                .collect(),
            ..Default::default()
        };
        let new_system = snapshot.policy.as_ref().map(|pol| {
            let mut s = system.clone();
            s.password = pol.password_policy();
            s
        });
        if let Some(s) = &new_system {
            report.policy = changes(&system, s);
        }
        if opts.dry_run {
            return Ok(report);
        }
        let now = self.now_ms();
        let actor = cap.actor().label();
        let mut w = self.store.write().await?;
        crate::ledger::apply_account_plan(&mut w, &p, now, &actor, "directory_sync").await?;
        if let Some(s) = new_system.as_ref().filter(|_| !report.policy.is_empty()) {
            crate::ledger::replace_with_history(&mut w, &system, s, now, &actor, "directory_sync")
                .await?;
        }
        let names: HashMap<String, String> = snapshot
            .users
            .iter()
            .map(|u| (u.login.clone(), u.display_name.clone()))
            .collect();
        crate::account_import::queue_candidates(
            &mut w,
            system_id,
            &p.candidates,
            &names,
            "directory",
            now,
        )
        .await?;
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        record_sync(
            &mut w,
            &DirectorySyncRow {
                at_ms: now,
                system: report.system.clone(),
                via: opts.via.to_string(),
                code: String::new(),
                detail: String::new(),
                users: count(report.users),
                added: count(report.added.len()),
                changed: count(report.changed.len()),
                disabled: count(report.disabled.len()),
            },
        )
        .await?;
        self.audit(
            &mut w,
            &actor,
            &client.source,
            "accounts.directory_synced",
            &format!("system:{}", system_id.0),
            json!({
                "users": report.users,
                "groups": report.groups,
                "added": report.added.len(),
                "changed": report.changed.len(),
                "disabled": report.disabled.len(),
                "unchanged": report.unchanged,
                "policy_changed": !report.policy.is_empty(),
            }),
        )
        .await?;
        w.commit().await?;
        report.committed = true;
        Ok(report)
    }
}
