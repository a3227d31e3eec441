//! A system's own account list (CSV/Excel) applied to that system's accounts with its mapping
//! profile, all or nothing, like a directory sync; and the queue of uncertain account ↔ staff
//! matches (a name alone), which a person accepts or rejects.

use crate::authz::{Cap, perm};
use crate::error::{ServiceError, ServiceResult};
use crate::{ClientInfo, Services};
use mamori_domain::account_import::{ColumnMap, RowIssue, read_accounts};
use mamori_domain::account_source::{SnapshotError, plan_accounts};
use mamori_domain::ledger::{Account, FieldChange, InfoSystem, Person};
use mamori_domain::registry::changes;
use mamori_domain::{PersonId, SystemId};
use mamori_ingest::Table;
use mamori_storage::account_import::{
    MatchRow, ProfileRow, account_id_by_login, decide_match, match_for_change, queue_match,
    upsert_profile,
};
use mamori_storage::{Tx, registry as store_registry};
use serde_json::json;
use std::collections::HashMap;

/// What an import would do (preview) or did.
#[derive(Debug, Clone, Default)]
pub struct AccountImportReport {
    pub system: String,
    pub rows: usize,
    pub added: Vec<String>,
    pub changed: Vec<(String, Vec<FieldChange>)>,
    pub disabled: Vec<String>,
    pub unchanged: usize,
    pub unlinked: Vec<String>,
    /// (login, person's name): a name alone matched; queued for confirmation.
    pub candidates: Vec<(String, String)>,
    /// Every problem of the file; any means nothing is written.
    pub issues: Vec<RowIssue>,
    pub committed: bool,
}

/// The profile of a system as the import form starts from it.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub map: ColumnMap,
    pub disable_missing: bool,
    /// Saved by an earlier import (else guessed from the headers).
    pub saved: bool,
}

/// Queues the plan's candidates, found by login in `system_id`.
pub(crate) async fn queue_candidates(
    w: &mut Tx,
    system_id: SystemId,
    candidates: &[(String, PersonId)],
    names: &HashMap<String, String>,
    source: &str,
    at_ms: i64,
) -> ServiceResult<()> {
    for (login, person) in candidates {
        if let Some(account) = account_id_by_login(w, system_id.0, login).await? {
            let name = names.get(login).map(String::as_str).unwrap_or("");
            queue_match(w, account, person.0, source, name, at_ms).await?;
        }
    }
    Ok(())
}

impl Services {
    /// The saved profile of `system_id`, or one guessed from `headers`.
    pub async fn account_import_profile(
        &self,
        system_id: i64,
        headers: &[String],
    ) -> ServiceResult<Profile> {
        Ok(match self.store.account_import_profile(system_id).await? {
            Some(p) => Profile {
                map: ColumnMap {
                    login: p.login,
                    name: p.name,
                    kana: p.kana,
                    staff_no: p.staff_no,
                    enabled: p.enabled,
                    admin: p.admin,
                    last_login: p.last_login,
                    admin_values: p.admin_values.lines().map(str::to_string).collect(),
                },
                disable_missing: p.disable_missing,
                saved: true,
            },
            None => Profile {
                map: ColumnMap::guess(headers),
                disable_missing: true,
                saved: false,
            },
        })
    }

    /// Reads `table` with `map` and applies it to the accounts of `system_id` (unless
    /// `dry_run`): accounts added, changed and (with `disable_missing`) disabled, each with a
    /// history row, the profile saved, uncertain matches queued, one audit event
    /// `accounts.imported` — all in one transaction. Problems in the file write nothing.
    #[allow(clippy::too_many_arguments)]
    pub async fn import_accounts(
        &self,
        cap: &Cap<perm::EditLedger>,
        client: &ClientInfo,
        system_id: i64,
        file_name: &str,
        table: &Table,
        map: &ColumnMap,
        disable_missing: bool,
        dry_run: bool,
    ) -> ServiceResult<AccountImportReport> {
        let system: InfoSystem =
            self.store
                .record::<InfoSystem>(system_id)
                .await?
                .ok_or(ServiceError::Invalid {
                    code: "ACI0010",
                    field: "system",
                })?;
        let mut report = AccountImportReport {
            system: system.name.clone(),
            rows: table.rows.len(),
            ..Default::default()
        };
        report
            .issues
            .extend(table.diagnostics.iter().map(|d| RowIssue {
                line: d.line,
                column: d.column.clone().unwrap_or_default(),
                code: d.code,
            }));
        let rows: Vec<(usize, Vec<String>)> = table
            .rows
            .iter()
            .map(|r| (r.line, r.cells.clone()))
            .collect();
        let source = match read_accounts(&table.headers, table.header_line, &rows, map) {
            Ok(s) => s,
            Err(issues) => {
                report.issues.extend(issues);
                return Ok(report);
            }
        };
        if !report.issues.is_empty() {
            return Ok(report);
        }
        let list: Vec<_> = source.iter().map(|(_, s)| s.clone()).collect();
        let accounts: Vec<Account> = self
            .store
            .records::<Account>()
            .await?
            .into_iter()
            .filter(|a| a.system_id.0 == system_id)
            .collect();
        let persons: Vec<Person> = self.store.records::<Person>().await?;
        let today = self.clock.today();
        let p = match plan_accounts(
            &list,
            SystemId(system_id),
            &accounts,
            &persons,
            today,
            disable_missing,
        ) {
            Ok(p) => p,
            Err(SnapshotError::LoginTooLong(l) | SnapshotError::DuplicateLogin(l)) => {
                // read_accounts refuses both per line; this is only a safety net.
                let line = source
                    .iter()
                    .find(|(_, s)| s.login == l)
                    .map(|(n, _)| *n)
                    .unwrap_or(table.header_line);
                report.issues.push(RowIssue {
                    line,
                    column: map.login.clone(),
                    code: "ACI0006",
                });
                return Ok(report);
            }
        };
        let name_of = |id: PersonId| {
            persons
                .iter()
                .find(|p| p.id == id)
                .map(|p| p.name.clone())
                .unwrap_or_default()
        };
        report.added = p.add.iter().map(|a| a.login_id.clone()).collect();
        report.changed = p
            .change
            .iter()
            .map(|(b, a)| (a.login_id.clone(), changes(b, a)))
            .collect();
        report.disabled = p.disable.iter().map(|(b, _)| b.login_id.clone()).collect();
        report.unchanged = p.unchanged;
        report.unlinked = p.unlinked.clone();
        report.candidates = p
            .candidates
            .iter()
            .map(|(l, id)| (l.clone(), name_of(*id)))
            .collect();
        if dry_run {
            return Ok(report);
        }
        let now = self.now_ms();
        let actor = cap.actor().label();
        let mut w = self.store.write().await?;
        crate::ledger::apply_account_plan(&mut w, &p, now, &actor, "account_import").await?;
        let names: HashMap<String, String> = list
            .iter()
            .map(|s| (s.login.clone(), s.name.clone()))
            .collect();
        queue_candidates(
            &mut w,
            SystemId(system_id),
            &p.candidates,
            &names,
            "import",
            now,
        )
        .await?;
        upsert_profile(
            &mut w,
            &ProfileRow {
                system_id,
                login: map.login.clone(),
                name: map.name.clone(),
                kana: map.kana.clone(),
                staff_no: map.staff_no.clone(),
                enabled: map.enabled.clone(),
                admin: map.admin.clone(),
                last_login: map.last_login.clone(),
                admin_values: map.admin_values.join("\n"),
                disable_missing,
                updated_ms: now,
                updated_by: cap.actor().user.display_name.clone(),
            },
        )
        .await?;
        self.audit(
            &mut w,
            &actor,
            &client.source,
            "accounts.imported",
            &format!("system:{system_id}"),
            json!({
                "file": file_name,
                "rows": report.rows,
                "added": report.added.len(),
                "changed": report.changed.len(),
                "disabled": report.disabled.len(),
                "unchanged": report.unchanged,
                "candidates": report.candidates.len(),
            }),
        )
        .await?;
        w.commit().await?;
        report.committed = true;
        Ok(report)
    }

    /// Matches waiting for a person, oldest first.
    pub async fn pending_account_matches(
        &self,
        _cap: &Cap<perm::ViewAccounts>,
    ) -> ServiceResult<Vec<MatchRow>> {
        Ok(self.store.account_matches("pending").await?)
    }

    /// Accepts (the account now belongs to the person, with a history row) or rejects a
    /// match, with one audit event `accounts.match_accepted` / `accounts.match_rejected`.
    pub async fn decide_account_match(
        &self,
        cap: &Cap<perm::EditLedger>,
        client: &ClientInfo,
        id: i64,
        accept: bool,
    ) -> ServiceResult<()> {
        let now = self.now_ms();
        let actor = cap.actor().label();
        let who = cap.actor().user.display_name.clone();
        let mut w = self.store.write().await?;
        let backend = w.backend();
        let (account_id, person_id, status) = match_for_change(&mut w, backend, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        if status != "pending" {
            return Err(ServiceError::Invalid {
                code: "ACI0011",
                field: "match",
            });
        }
        if accept {
            let before = store_registry::record_for_update::<Account>(&mut w, backend, account_id)
                .await?
                .ok_or(ServiceError::NotFound)?;
            match before.person_id {
                Some(p) if p.0 != person_id => {
                    return Err(ServiceError::Invalid {
                        code: "ACI0012",
                        field: "match",
                    });
                }
                Some(_) => {}
                None => {
                    let mut after = before.clone();
                    after.person_id = Some(PersonId(person_id));
                    crate::ledger::replace_with_history(
                        &mut w,
                        &before,
                        &after,
                        now,
                        &actor,
                        "account_match",
                    )
                    .await?;
                }
            }
        }
        let status = if accept { "accepted" } else { "rejected" };
        decide_match(&mut w, id, status, now, &who).await?;
        self.audit(
            &mut w,
            &actor,
            &client.source,
            if accept {
                "accounts.match_accepted"
            } else {
                "accounts.match_rejected"
            },
            &format!("account:{account_id}"),
            json!({ "person_id": person_id, "match": id }),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }
}
