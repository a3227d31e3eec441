//! アカウント棚卸 (account review campaigns): open one for a system and/or a department, decide
//! keep or revoke in bulk (a revoked account is disabled in the ledger, with its history row,
//! in the same transaction), close it. Each change is one transaction with one audit event; the
//! rules are `domain::account_review`'s. A closed campaign is evidence for 2-④ and 2-⑤.

use crate::authz::{Cap, perm};
use crate::error::{ServiceError, ServiceResult};
use crate::{ClientInfo, Services};
use mamori_domain::account_review::{
    self, Decision, Hint, Progress, ReviewError, Scope, check_close, check_decide, check_open,
};
use mamori_domain::checklist::AccountReviewDone;
use mamori_domain::ledger::{Account, InfoSystem, Person};
use mamori_domain::registry::{Record, day_text};
use mamori_domain::wareki::parse_date_ja;
use mamori_domain::{PersonId, SystemId};
use mamori_storage::account_reviews::{
    ItemRow, NewReview, ReviewRow, closed_for_change, decide, insert_item, insert_review,
    items_among,
};
use mamori_storage::registry as store_registry;
use serde_json::json;
use std::collections::HashMap;

/// A new campaign as typed into the form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewInput {
    pub title: String,
    /// A system id, or empty for every system.
    pub system: String,
    /// A department, or empty for every department.
    pub department: String,
    /// The day it should be done by (西暦 or 和暦), or empty.
    pub due_on: String,
}

/// One campaign with its items.
#[derive(Debug, Clone)]
pub struct ReviewDetail {
    pub review: ReviewRow,
    pub items: Vec<ItemRow>,
}

impl ReviewDetail {
    pub fn progress(&self) -> Progress {
        Progress::of(
            self.items
                .iter()
                .map(|i| Decision::parse(&i.decision).unwrap_or(Decision::Pending)),
        )
    }
}

/// What the reviewer sees of each of `accounts`, kept with the campaign as it is on `today`.
pub(crate) fn review_items(
    accounts: &[Account],
    system_name: &HashMap<SystemId, &str>,
    persons: &[Person],
    today: time::Date,
    dormant_days: i64,
) -> Vec<ItemRow> {
    let person_by: HashMap<PersonId, &Person> = persons.iter().map(|p| (p.id, p)).collect();
    let mut hints = account_review::hints(accounts, persons, today, dormant_days);
    accounts
        .iter()
        .map(|a| {
            let owner = a.person_id.and_then(|p| person_by.get(&p));
            let hints: Vec<&str> = hints
                .remove(&a.id)
                .unwrap_or_default()
                .into_iter()
                .map(Hint::as_str)
                .collect();
            ItemRow {
                account_id: a.id.0,
                system: system_name
                    .get(&a.system_id)
                    .copied()
                    .unwrap_or("?")
                    .to_string(),
                login_id: a.login_id.clone(),
                owner: owner.map(|p| p.name.clone()).unwrap_or_default(),
                department: owner.map(|p| p.department.clone()).unwrap_or_default(),
                kind: a.kind.as_str().to_string(),
                is_admin: a.is_admin,
                last_login_on: a.last_login_on.map(|d| day_text(Some(d))),
                hints: hints.join(","),
                decision: Decision::Pending.as_str().to_string(),
                decided_ms: None,
                decided_by: None,
                comment: String::new(),
            }
        })
        .collect()
}

fn invalid(e: ReviewError) -> ServiceError {
    ServiceError::Invalid {
        code: e.code(),
        field: e.field(),
    }
}

impl Services {
    /// Closed campaigns, as the checklist sees them.
    pub(crate) async fn account_reviews_done(&self) -> ServiceResult<Vec<AccountReviewDone>> {
        Ok(self
            .store
            .account_reviews()
            .await?
            .into_iter()
            .filter_map(|r| {
                Some(AccountReviewDone {
                    id: r.id,
                    closed_on: crate::clock::to_jst(r.closed_ms?).date(),
                    title: r.title,
                    keep: usize::try_from(r.keep).unwrap_or(0),
                    revoke: usize::try_from(r.revoke).unwrap_or(0),
                    pending: usize::try_from(r.pending).unwrap_or(0),
                })
            })
            .collect())
    }

    /// Every campaign, open ones first, then newest first.
    pub async fn account_reviews(
        &self,
        _cap: &Cap<perm::ViewAccounts>,
    ) -> ServiceResult<Vec<ReviewRow>> {
        let mut all = self.store.account_reviews().await?;
        all.sort_by_key(|r| r.closed_ms.is_some());
        Ok(all)
    }

    /// One campaign with its items.
    pub async fn account_review(
        &self,
        _cap: &Cap<perm::ViewAccounts>,
        id: i64,
    ) -> ServiceResult<ReviewDetail> {
        let review = self
            .store
            .account_review(id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let items = self.store.account_review_items(id).await?;
        Ok(ReviewDetail { review, items })
    }

    /// Opens a campaign over the enabled accounts in its scope as they are now, with an audit
    /// event `accounts.review_opened`. Returns its id.
    pub async fn open_account_review(
        &self,
        cap: &Cap<perm::EditLedger>,
        client: &ClientInfo,
        input: &ReviewInput,
    ) -> ServiceResult<i64> {
        let today = self.clock.today();
        let system_id = match input.system.trim() {
            "" => None,
            s => Some(s.parse::<i64>().map_err(|_| ServiceError::Invalid {
                code: "REV0009",
                field: "system",
            })?),
        };
        let systems = self.store.records::<InfoSystem>().await?;
        if let Some(id) = system_id
            && !systems.iter().any(|s| s.id.0 == id)
        {
            return Err(ServiceError::Invalid {
                code: "REV0009",
                field: "system",
            });
        }
        let due_on = match input.due_on.trim() {
            "" => None,
            s => Some(parse_date_ja(s).map_err(|_| ServiceError::Invalid {
                code: "REV0010",
                field: "due_on",
            })?),
        };
        let persons = self.store.records::<Person>().await?;
        let accounts = self.store.records::<Account>().await?;
        let scope = Scope {
            system_id: system_id.map(SystemId),
            department: input.department.trim().to_string(),
        };
        let covered = scope.accounts(&accounts, &persons);
        check_open(&input.title, due_on, today, covered.len()).map_err(invalid)?;
        let dormant_days = i64::from(
            self.store
                .facility()
                .await?
                .map(|f| f.settings.dormant_account_days)
                .unwrap_or(90),
        );
        let system_name: HashMap<SystemId, &str> =
            systems.iter().map(|s| (s.id, s.name.as_str())).collect();
        let who = cap.actor().user.display_name.clone();
        let now = self.now_ms();
        let due = due_on.map(|d| day_text(Some(d)));
        let mut w = self.store.write().await?;
        let id = insert_review(
            &mut w,
            &NewReview {
                title: input.title.trim(),
                system_id,
                department: &scope.department,
                due_on: due.as_deref(),
                opened_ms: now,
                opened_by: &who,
            },
        )
        .await?;
        let covered: Vec<Account> = covered.into_iter().cloned().collect();
        for item in review_items(&covered, &system_name, &persons, today, dormant_days) {
            insert_item(&mut w, id, &item).await?;
        }
        self.audit(
            &mut w,
            &cap.actor().label(),
            &client.source,
            "accounts.review_opened",
            &format!("account_review:{id}"),
            json!({
                "title": input.title.trim(),
                "system_id": system_id,
                "department": scope.department,
                "due_on": due,
                "accounts": covered.len(),
            }),
        )
        .await?;
        w.commit().await?;
        Ok(id)
    }

    /// Records one decision for the chosen accounts of an open campaign, with one audit event
    /// `accounts.review_decided`. Revoking disables each account still enabled in the ledger,
    /// with a history row, in the same transaction. A revoke cannot be turned back here: the
    /// account is enabled again in the ledger, where that is its own recorded change.
    pub async fn decide_account_review(
        &self,
        cap: &Cap<perm::EditLedger>,
        client: &ClientInfo,
        id: i64,
        account_ids: &[i64],
        decision: Decision,
        comment: &str,
    ) -> ServiceResult<usize> {
        let mut ids: Vec<i64> = account_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let comment = comment.trim();
        let today = self.clock.today();
        let now = self.now_ms();
        let who = cap.actor().user.display_name.clone();
        let actor = cap.actor().label();
        let mut w = self.store.write().await?;
        let backend = w.backend();
        let closed = closed_for_change(&mut w, backend, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let found = items_among(&mut w, id, &ids).await?;
        check_decide(
            closed,
            ids.len(),
            found.len() == ids.len(),
            decision,
            comment,
        )
        .map_err(invalid)?;
        if decision != Decision::Revoke && found.iter().any(|(_, d)| d == "revoke") {
            return Err(ServiceError::Invalid {
                code: "REV0011",
                field: "accounts",
            });
        }
        let mut disabled = Vec::new();
        for account_id in &ids {
            if decision == Decision::Revoke
                && let Some(before) =
                    store_registry::record_for_update::<Account>(&mut w, backend, *account_id)
                        .await?
                && before.enabled
            {
                let mut after = before.clone();
                after.retire(today);
                crate::ledger::replace_with_history(
                    &mut w,
                    &before,
                    &after,
                    now,
                    &actor,
                    "account_review",
                )
                .await?;
                disabled.push(after.login_id);
            }
            decide(
                &mut w,
                id,
                *account_id,
                decision.as_str(),
                now,
                &who,
                comment,
            )
            .await?;
        }
        self.audit(
            &mut w,
            &actor,
            &client.source,
            "accounts.review_decided",
            &format!("account_review:{id}"),
            json!({
                "decision": decision.as_str(),
                "accounts": ids.len(),
                "disabled": disabled,
                "comment": comment,
            }),
        )
        .await?;
        w.commit().await?;
        Ok(ids.len())
    }

    /// Closes a campaign, with an audit event `accounts.review_closed`. Accounts still
    /// undecided need a note saying why.
    pub async fn close_account_review(
        &self,
        cap: &Cap<perm::EditLedger>,
        client: &ClientInfo,
        id: i64,
        note: &str,
    ) -> ServiceResult<()> {
        let note = note.trim();
        let now = self.now_ms();
        let who = cap.actor().user.display_name.clone();
        let mut w = self.store.write().await?;
        let backend = w.backend();
        let closed = closed_for_change(&mut w, backend, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let items = mamori_storage::account_reviews::decisions(&mut w, id).await?;
        let progress = Progress::of(
            items
                .iter()
                .map(|d| Decision::parse(d).unwrap_or(Decision::Pending)),
        );
        check_close(closed, progress, note).map_err(invalid)?;
        mamori_storage::account_reviews::close(&mut w, id, now, &who, note).await?;
        self.audit(
            &mut w,
            &cap.actor().label(),
            &client.source,
            "accounts.review_closed",
            &format!("account_review:{id}"),
            json!({
                "keep": progress.keep,
                "revoke": progress.revoke,
                "pending": progress.pending,
                "note": note,
            }),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }
}

/// The demo clinic's account reviews: last half-year's campaign over the EHR, closed (every
/// account kept, one already disabled marked revoked), and this month's over the レセコン, opened
/// three days ago and half decided.
impl Services {
    pub(crate) async fn seed_demo_account_reviews(
        &self,
        w: &mut mamori_storage::WriteTx,
        demo: &crate::demo::DemoFacility,
        system_ids: &HashMap<SystemId, SystemId>,
        person_ids: &HashMap<PersonId, PersonId>,
        accounts: &[Account],
        now: i64,
    ) -> ServiceResult<()> {
        use mamori_domain::ledger::SystemCategory;
        const DAY: i64 = 86_400_000;
        let persons: Vec<Person> = demo
            .persons
            .iter()
            .map(|p| {
                let mut p = p.clone();
                p.id = person_ids.get(&p.id).copied().unwrap_or(p.id);
                p
            })
            .collect();
        let system_name: HashMap<SystemId, &str> = demo
            .systems
            .iter()
            .filter_map(|s| Some((*system_ids.get(&s.id)?, s.name.as_str())))
            .collect();
        let system_of = |c: SystemCategory| {
            demo.systems
                .iter()
                .find(|s| s.category == c)
                .and_then(|s| system_ids.get(&s.id).copied())
        };
        let who = "安全管理責任者（事務長）";
        let today = crate::clock::to_jst(now).date();
        if let Some(ehr) = system_of(SystemCategory::Ehr) {
            let opened = now - 160 * DAY;
            let opened_on = crate::clock::to_jst(opened).date();
            let id = insert_review(
                w,
                &NewReview {
                    title: "令和8年度 上期 電子カルテ アカウント棚卸",
                    system_id: Some(ehr.0),
                    department: "",
                    due_on: Some(&day_text(Some(opened_on + time::Duration::days(14)))),
                    opened_ms: opened,
                    opened_by: who,
                },
            )
            .await?;
            // The accounts in use then, and one disabled since: revoked in this review (its owner
            // had left).
            let retired = accounts.iter().find(|a| a.system_id == ehr && !a.enabled);
            let in_scope: Vec<Account> = accounts
                .iter()
                .filter(|a| a.system_id == ehr && a.enabled)
                .chain(retired)
                .cloned()
                .collect();
            let items = review_items(&in_scope, &system_name, &persons, opened_on, 90);
            for (n, item) in items.iter().enumerate() {
                insert_item(w, id, item).await?;
                let revoke = retired.is_some_and(|r| r.id.0 == item.account_id);
                let at = opened + 2 * DAY + i64::try_from(n).unwrap_or(0) * 60_000;
                decide(
                    w,
                    id,
                    item.account_id,
                    if revoke { "revoke" } else { "keep" },
                    at,
                    who,
                    if revoke {
                        "退職のため無効化済み"
                    } else {
                        ""
                    },
                )
                .await?;
            }
            mamori_storage::account_reviews::close(
                w,
                id,
                opened + 9 * DAY,
                who,
                "各部署の所属長に確認。不要アカウントなし（退職者1件は無効化済み）。",
            )
            .await?;
        }
        if let Some(receipt) = system_of(SystemCategory::Receipt) {
            let opened = now - 3 * DAY;
            let id = insert_review(
                w,
                &NewReview {
                    title: "令和8年度 下期 レセコン アカウント棚卸",
                    system_id: Some(receipt.0),
                    department: "",
                    due_on: Some(&day_text(Some(today + time::Duration::days(14)))),
                    opened_ms: opened,
                    opened_by: who,
                },
            )
            .await?;
            let in_scope = Scope {
                system_id: Some(receipt),
                department: String::new(),
            };
            let covered: Vec<Account> = in_scope
                .accounts(accounts, &persons)
                .into_iter()
                .cloned()
                .collect();
            let half = covered.len() / 2;
            let items = review_items(&covered, &system_name, &persons, today, 90);
            for (n, item) in items.iter().enumerate() {
                insert_item(w, id, item).await?;
                // The personal accounts without a finding are confirmed first.
                if n < half && item.hints.is_empty() {
                    decide(w, id, item.account_id, "keep", opened + DAY, who, "").await?;
                }
            }
        }
        Ok(())
    }
}
