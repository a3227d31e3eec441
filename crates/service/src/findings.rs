//! Findings computed from the ledger, gathered for the findings page: each group names what is
//! wrong (or what must be reviewed), how serious it is, and the records concerned, with links.

use crate::Services;
use crate::authz::{Cap, perm};
use crate::error::ServiceResult;
use mamori_catalog::messages::fill;
use mamori_catalog::{Lang, tr};
use mamori_domain::findings::{self, PolicyVerdict, TwoFactorGap};
use mamori_domain::ledger::{
    Account, Asset, Contact, DocumentType, InfoSystem, Person, SystemStatus, Vendor,
    VendorDocument, VendorStatus,
};
use mamori_domain::registry::{Record, RegistryKind, day_text};
use std::collections::HashMap;

/// How serious a group of findings is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Fix it: an inspector will count it against the facility.
    Bad,
    /// Look at it soon.
    Warn,
    /// Keep an eye on it (lists to review, such as administrators).
    Review,
}

impl Severity {
    pub fn tone(self) -> &'static str {
        match self {
            Severity::Bad => "bad",
            Severity::Warn => "warn",
            Severity::Review => "neutral",
        }
    }
}

/// A record a finding is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingItem {
    pub href: String,
    pub label: String,
    pub detail: String,
}

/// Findings of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingGroup {
    /// Stable code (`assets_past_eol` …); the catalog has `ledger_finding.{code}` and
    /// `ledger_finding.{code}_hint`.
    pub code: &'static str,
    pub severity: Severity,
    /// Checklist items it bears on (`2-①` …).
    pub items_ref: &'static str,
    pub items: Vec<FindingItem>,
}

fn link<R: Record>(r: &R, label: String, detail: String) -> FindingItem {
    FindingItem {
        href: format!("/ledger/{}/{}", R::KIND.plural(), r.id()),
        label,
        detail,
    }
}

impl Services {
    /// Every finding of the ledger, most serious first; groups without findings are left out.
    pub async fn ledger_findings(
        &self,
        _cap: &Cap<perm::ViewLedger>,
        lang: Lang,
    ) -> ServiceResult<Vec<FindingGroup>> {
        let today = self.clock.today();
        let s = &self.store;
        let assets = s.records::<Asset>().await?;
        let persons = s.records::<Person>().await?;
        let accounts = s.records::<Account>().await?;
        let systems = s.records::<InfoSystem>().await?;
        let vendors = s.records::<Vendor>().await?;
        let contacts = s.records::<Contact>().await?;
        let dormant_days = s
            .facility()
            .await?
            .map(|f| f.settings.dormant_account_days)
            .unwrap_or(90);
        let t = |k: &str| tr(lang, k).to_string();
        let asset_by: HashMap<i64, &Asset> = assets.iter().map(|a| (a.id.0, a)).collect();
        let account_by: HashMap<i64, &Account> = accounts.iter().map(|a| (a.id.0, a)).collect();
        let system_name: HashMap<i64, &str> =
            systems.iter().map(|x| (x.id.0, x.name.as_str())).collect();
        let person_name: HashMap<i64, &str> =
            persons.iter().map(|p| (p.id.0, p.name.as_str())).collect();
        let account_label = |a: &Account| {
            format!(
                "{} / {}",
                system_name.get(&a.system_id.0).copied().unwrap_or("?"),
                a.login_id
            )
        };
        let owner = |a: &Account| {
            a.person_id
                .and_then(|p| person_name.get(&p.0).copied())
                .map(str::to_string)
                .unwrap_or_else(|| {
                    tr(lang, &format!("account_kind.{}", a.kind.as_str())).to_string()
                })
        };
        let mut groups = Vec::new();
        let mut push = |code, severity, items_ref, items: Vec<FindingItem>| {
            if !items.is_empty() {
                groups.push(FindingGroup {
                    code,
                    severity,
                    items_ref,
                    items,
                });
            }
        };

        let leavers = findings::leavers_with_enabled_accounts(&persons, &accounts, today);
        push(
            "leaver_accounts",
            Severity::Bad,
            "2-⑤",
            leavers
                .iter()
                .filter_map(|l| account_by.get(&l.account_id.0))
                .zip(&leavers)
                .map(|(a, l)| {
                    link(
                        *a,
                        account_label(a),
                        fill(
                            &t("ledger_finding.left_days"),
                            &[
                                ("name", &l.person_name),
                                ("date", &day_text(Some(l.left_on))),
                                ("days", &l.days_since_left.to_string()),
                            ],
                        ),
                    )
                })
                .collect(),
        );
        push(
            "assets_past_eol",
            Severity::Bad,
            "2-⑥",
            findings::assets_past_eol(&assets, today)
                .iter()
                .filter_map(|id| asset_by.get(&id.0))
                .map(|a| {
                    link(
                        *a,
                        format!("{} {}", a.tag, a.name),
                        fill(
                            &t("ledger_finding.eol_on"),
                            &[("date", &day_text(a.eol_on)), ("os", &a.os)],
                        ),
                    )
                })
                .collect(),
        );
        let gaps = findings::systems_two_factor_gaps(&systems);
        let system_by: HashMap<i64, &InfoSystem> = systems.iter().map(|x| (x.id.0, x)).collect();
        for (code, severity, want) in [
            ("two_factor_no_plan", Severity::Bad, TwoFactorGap::NoPlan),
            ("two_factor_late", Severity::Bad, TwoFactorGap::PlanTooLate),
            (
                "two_factor_planned",
                Severity::Review,
                TwoFactorGap::Planned,
            ),
        ] {
            push(
                code,
                severity,
                "2-⑩",
                gaps.iter()
                    .filter(|(_, g)| *g == want)
                    .filter_map(|(id, _)| system_by.get(&id.0))
                    .map(|x| {
                        link(
                            *x,
                            x.name.clone(),
                            format!(
                                "{}{}",
                                tr(
                                    lang,
                                    &format!("two_factor_status.{}", x.two_factor.as_str())
                                ),
                                x.two_factor_plan_on
                                    .map(|d| format!(" → {}", day_text(Some(d))))
                                    .unwrap_or_default()
                            ),
                        )
                    })
                    .collect(),
            );
        }
        let mut weak = Vec::new();
        let mut unknown = Vec::new();
        for x in systems.iter().filter(|x| x.status != SystemStatus::Retired) {
            match findings::password_policy_verdict(x) {
                PolicyVerdict::Meets => {}
                PolicyVerdict::Fails(codes) => weak.push(link(
                    x,
                    x.name.clone(),
                    codes
                        .iter()
                        .map(|c| t(&format!("ledger_finding.policy_{c}")))
                        .collect::<Vec<_>>()
                        .join("、"),
                )),
                PolicyVerdict::Unknown(keys) => unknown.push(link(
                    x,
                    x.name.clone(),
                    keys.iter()
                        .map(|k| crate::ledger::field_label(lang, RegistryKind::System, k))
                        .collect::<Vec<_>>()
                        .join("、"),
                )),
            }
        }
        push("weak_password_policy", Severity::Bad, "2-⑦", weak);
        push("unknown_password_policy", Severity::Warn, "2-⑦", unknown);
        push(
            "assets_incomplete",
            Severity::Warn,
            "2-①",
            findings::incomplete_assets(&assets)
                .iter()
                .filter_map(|f| asset_by.get(&f.asset_id.0).map(|a| (a, f)))
                .map(|(a, f)| {
                    link(
                        *a,
                        format!("{} {}", a.tag, a.name),
                        f.missing
                            .iter()
                            .map(|k| crate::ledger::field_label(lang, RegistryKind::Asset, k))
                            .collect::<Vec<_>>()
                            .join("、"),
                    )
                })
                .collect(),
        );
        let dormant = findings::dormant_accounts(&accounts, today, i64::from(dormant_days));
        push(
            "dormant_accounts",
            Severity::Warn,
            "2-⑤",
            dormant
                .iter()
                .filter_map(|id| account_by.get(&id.0))
                .map(|a| {
                    link(
                        *a,
                        account_label(a),
                        match a.last_login_on {
                            Some(d) => fill(
                                &t("ledger_finding.last_login"),
                                &[("date", &day_text(Some(d)))],
                            ),
                            None => t("ledger_finding.never_used"),
                        },
                    )
                })
                .collect(),
        );
        push(
            "vendor_remote_unconfirmed",
            Severity::Warn,
            "2-②",
            vendors
                .iter()
                .filter(|v| v.status == VendorStatus::Active && v.remote_maintenance.is_none())
                .map(|v| link(v, v.name.clone(), v.services.clone()))
                .collect(),
        );
        let documents = s.records::<VendorDocument>().await?;
        push(
            "vendor_no_disclosure",
            Severity::Warn,
            "2-③",
            vendors
                .iter()
                .filter(|v| v.status == VendorStatus::Active)
                .filter(|v| {
                    systems
                        .iter()
                        .any(|x| x.vendor_id == Some(v.id) && x.status != SystemStatus::Retired)
                })
                .filter(|v| {
                    !documents.iter().any(|d| {
                        d.vendor_id == Some(v.id)
                            && d.current
                            && matches!(d.doc_type, DocumentType::Mds | DocumentType::Sds)
                    })
                })
                .map(|v| {
                    link(
                        v,
                        v.name.clone(),
                        systems
                            .iter()
                            .filter(|x| x.vendor_id == Some(v.id))
                            .map(|x| x.name.as_str())
                            .collect::<Vec<_>>()
                            .join("、"),
                    )
                })
                .collect(),
        );
        push(
            "contracts_ended",
            Severity::Warn,
            "2-②",
            vendors
                .iter()
                .filter(|v| v.status == VendorStatus::Active)
                .filter(|v| v.contract_end.is_some_and(|d| d < today))
                .map(|v| {
                    link(
                        v,
                        v.name.clone(),
                        fill(
                            &t("ledger_finding.contract_end"),
                            &[("date", &day_text(v.contract_end))],
                        ),
                    )
                })
                .collect(),
        );
        push(
            "contacts_unverified",
            Severity::Warn,
            "3-①",
            contacts
                .iter()
                .filter(|c| c.active)
                .filter(|c| c.verified_on.is_none_or(|d| (today - d).whole_days() > 365))
                .map(|c| {
                    link(
                        c,
                        format!("{} {}", c.organization, c.name),
                        match c.verified_on {
                            Some(d) => fill(
                                &t("ledger_finding.verified_on"),
                                &[("date", &day_text(Some(d)))],
                            ),
                            None => t("ledger_finding.never_verified"),
                        },
                    )
                })
                .collect(),
        );
        push(
            "ownerless_accounts",
            Severity::Warn,
            "2-④",
            findings::ownerless_accounts(&accounts)
                .iter()
                .filter_map(|id| account_by.get(&id.0))
                .map(|a| link(*a, account_label(a), String::new()))
                .collect(),
        );
        push(
            "shared_accounts",
            Severity::Review,
            "2-④",
            findings::shared_accounts(&accounts)
                .iter()
                .filter_map(|id| account_by.get(&id.0))
                .map(|a| link(*a, account_label(a), a.notes.clone()))
                .collect(),
        );
        push(
            "accounts_without_two_factor",
            Severity::Warn,
            "2-⑩",
            findings::accounts_without_two_factor(&accounts, &systems)
                .iter()
                .filter_map(|id| account_by.get(&id.0))
                .map(|a| {
                    let s = system_by.get(&a.system_id.0);
                    link(
                        *a,
                        account_label(a),
                        s.map(|s| {
                            tr(
                                lang,
                                &format!("two_factor_status.{}", s.two_factor.as_str()),
                            )
                            .to_string()
                        })
                        .unwrap_or_default(),
                    )
                })
                .collect(),
        );
        // The vendors' staff changes: a contact of the vendor made inactive, or renamed.
        let vendor_of: HashMap<i64, mamori_domain::VendorId> = contacts
            .iter()
            .filter_map(|c| Some((c.id, c.vendor_id?)))
            .collect();
        let mut staff_changes = Vec::new();
        for (contact, h) in s.history_of_kind(Contact::KIND.as_str()).await? {
            let Some(v) = vendor_of.get(&contact) else {
                continue;
            };
            let changed = crate::ledger::decode_changes(&h.changes)
                .iter()
                .any(|(f, b, a)| {
                    (f == "active" && b == "1" && a == "0") || (f == "name" && !b.is_empty())
                });
            if changed {
                staff_changes.push((*v, crate::clock::to_jst(h.at_ms).date()));
            }
        }
        push(
            "vendor_staff_changed",
            Severity::Warn,
            "2-②",
            findings::vendor_accounts_after_staff_change(&accounts, &systems, &staff_changes)
                .iter()
                .filter_map(|f| account_by.get(&f.account_id.0).map(|a| (a, f)))
                .map(|(a, f)| {
                    link(
                        *a,
                        account_label(a),
                        fill(
                            &t("ledger_finding.staff_changed"),
                            &[
                                ("date", &day_text(Some(f.changed_on))),
                                (
                                    "set",
                                    &f.pw_last_set_on
                                        .map(|d| day_text(Some(d)))
                                        .unwrap_or_else(|| t("ledger_finding.unknown")),
                                ),
                            ],
                        ),
                    )
                })
                .collect(),
        );
        push(
            "unapproved_administrators",
            Severity::Warn,
            "2-④",
            findings::unapproved_administrators(&accounts)
                .iter()
                .filter_map(|id| account_by.get(&id.0))
                .map(|a| link(*a, account_label(a), owner(a)))
                .collect(),
        );
        push(
            "stale_passwords",
            Severity::Warn,
            "2-⑦",
            findings::stale_passwords(&accounts, &systems, today)
                .iter()
                .filter_map(|f| account_by.get(&f.account_id.0).map(|a| (a, f)))
                .map(|(a, f)| {
                    link(
                        *a,
                        account_label(a),
                        fill(
                            &t("ledger_finding.pw_age"),
                            &[
                                ("date", &day_text(Some(f.last_set_on))),
                                ("days", &f.age_days.to_string()),
                                ("max", &f.max_age_days.to_string()),
                            ],
                        ),
                    )
                })
                .collect(),
        );
        push(
            "locked_out_accounts",
            Severity::Warn,
            "2-⑦",
            findings::locked_out_accounts(&accounts)
                .iter()
                .filter_map(|id| account_by.get(&id.0))
                .map(|a| link(*a, account_label(a), owner(a)))
                .collect(),
        );
        push(
            "never_expiring_passwords",
            Severity::Review,
            "2-⑦",
            findings::never_expiring_passwords(&accounts)
                .iter()
                .filter_map(|id| account_by.get(&id.0))
                .map(|a| {
                    link(
                        *a,
                        account_label(a),
                        match a.pw_last_set_on {
                            Some(d) => fill(
                                &t("ledger_finding.pw_set_on"),
                                &[("date", &day_text(Some(d)))],
                            ),
                            None => owner(a),
                        },
                    )
                })
                .collect(),
        );
        push(
            "administrators",
            Severity::Review,
            "2-④",
            findings::administrators(&accounts)
                .iter()
                .filter_map(|id| account_by.get(&id.0))
                .map(|a| {
                    let approval = match a.admin_approved_by {
                        Some(p) => fill(
                            &t("ledger_finding.approved_by"),
                            &[
                                ("name", person_name.get(&p.0).copied().unwrap_or("?")),
                                ("date", &day_text(a.admin_approved_on)),
                            ],
                        ),
                        None => t("ledger_finding.not_approved"),
                    };
                    link(*a, account_label(a), format!("{}　{approval}", owner(a)))
                })
                .collect(),
        );
        // Break-glass accounts used and not sealed again, or whose custody nobody recorded.
        let custody: HashMap<i64, i64> = s
            .break_glass_custody()
            .await?
            .into_iter()
            .map(|c| (c.account_id, c.sealed_ms))
            .collect();
        let last_use: HashMap<i64, i64> = s.break_glass_last_uses().await?.into_iter().collect();
        let mut used = Vec::new();
        let mut unregistered = Vec::new();
        for a in accounts
            .iter()
            .filter(|a| a.enabled && a.kind == mamori_domain::ledger::AccountKind::Emergency)
        {
            let item = FindingItem {
                href: format!("/accounts/break-glass#glass-{}", a.id.0),
                label: account_label(a),
                detail: String::new(),
            };
            match mamori_domain::break_glass::state(
                custody.get(&a.id.0).copied(),
                last_use.get(&a.id.0).copied(),
            ) {
                mamori_domain::break_glass::State::UsedSinceSealed => used.push(item),
                mamori_domain::break_glass::State::Unregistered => unregistered.push(item),
                mamori_domain::break_glass::State::Sealed => {}
            }
        }
        push("break_glass_used", Severity::Bad, "2-④", used);
        push(
            "break_glass_unregistered",
            Severity::Warn,
            "2-④",
            unregistered,
        );
        // Endpoint agents: PCs the agents found that the ledger does not list, and agents that
        // stopped reporting.
        let now = self.now_ms();
        let agents = s.agents().await?;
        let agent_item = |a: &mamori_storage::agents::AgentRow, detail: String| FindingItem {
            href: format!("/agents/{}", a.id),
            label: a.hostname.clone(),
            detail,
        };
        let live = || agents.iter().filter(|a| a.revoked_ms.is_none());
        push(
            "agents_not_in_ledger",
            Severity::Bad,
            "2-①",
            live()
                .filter(|a| a.asset_id.is_none())
                .map(|a| agent_item(a, a.last_peer.clone()))
                .collect(),
        );
        push(
            "agents_silent",
            Severity::Warn,
            "2-①",
            live()
                .filter(|a| {
                    a.last_seen_ms
                        .is_none_or(|t| now.saturating_sub(t) > crate::agents::SILENT_AFTER_MS)
                })
                .map(|a| {
                    agent_item(
                        a,
                        a.last_seen_ms
                            .map(|t| day_text(Some(crate::clock::to_jst(t).date())))
                            .unwrap_or_default(),
                    )
                })
                .collect(),
        );
        groups.sort_by_key(|g| g.severity);
        Ok(groups)
    }
}
