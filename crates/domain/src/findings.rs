//! Findings computed from the ledger: pure functions that say what is wrong, with the facts.

use crate::ledger::{
    Account, AccountKind, Asset, AssetClass, AssetStatus, InfoSystem, Person, SystemStatus,
    TwoFactor,
};
use crate::{AccountId, AssetId, PersonId, SystemId};
use std::collections::HashMap;
use time::Date;

/// An enabled account whose owner has left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaverAccount {
    pub account_id: AccountId,
    pub person_id: PersonId,
    pub login_id: String,
    pub person_name: String,
    pub left_on: Date,
    pub days_since_left: i64,
}

/// Enabled accounts of persons who left on or before `today`, longest-gone first.
pub fn leavers_with_enabled_accounts(
    persons: &[Person],
    accounts: &[Account],
    today: Date,
) -> Vec<LeaverAccount> {
    let by_id: HashMap<PersonId, &Person> = persons.iter().map(|p| (p.id, p)).collect();
    let mut out: Vec<LeaverAccount> = accounts
        .iter()
        .filter(|a| a.enabled)
        .filter_map(|a| {
            let p = by_id.get(&a.person_id?)?;
            let left = p.left_on.filter(|d| *d <= today)?;
            Some(LeaverAccount {
                account_id: a.id,
                person_id: p.id,
                login_id: a.login_id.clone(),
                person_name: p.name.clone(),
                left_on: left,
                days_since_left: (today - left).whole_days(),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.days_since_left
            .cmp(&a.days_since_left)
            .then(a.account_id.cmp(&b.account_id))
    });
    out
}

/// Enabled accounts not used for more than `days` days (never-used accounts count as dormant).
pub fn dormant_accounts(accounts: &[Account], today: Date, days: i64) -> Vec<AccountId> {
    accounts
        .iter()
        .filter(|a| a.enabled)
        .filter(|a| match a.last_login_on {
            Some(d) => (today - d).whole_days() > days,
            None => true,
        })
        .map(|a| a.id)
        .collect()
}

/// Assets in use past their end of life.
pub fn assets_past_eol(assets: &[Asset], today: Date) -> Vec<AssetId> {
    assets
        .iter()
        .filter(|a| a.status != AssetStatus::Disposed)
        .filter(|a| a.eol_on.is_some_and(|d| d < today))
        .map(|a| a.id)
        .collect()
}

/// Age buckets of the last patch date, for charts: ≤30 days, ≤90, ≤180, older, unknown.
pub fn patch_age_buckets(assets: &[Asset], today: Date) -> [usize; 5] {
    let mut b = [0usize; 5];
    for a in assets.iter().filter(|a| a.status == AssetStatus::Active) {
        let i = match a.last_patch_on {
            Some(d) => match (today - d).whole_days() {
                ..=30 => 0,
                31..=90 => 1,
                91..=180 => 2,
                _ => 3,
            },
            None => 4,
        };
        if let Some(slot) = b.get_mut(i) {
            *slot += 1;
        }
    }
    b
}

/// A device whose ledger entry lacks what an inspector asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncompleteAsset {
    pub asset_id: AssetId,
    /// Keys of the missing fields: `location`, `department` (管理部署), `vendor`.
    pub missing: Vec<&'static str>,
}

/// Devices in use without a location, an owning department, or (for servers, network devices,
/// medical devices and remote-maintenance devices) a maintenance vendor.
pub fn incomplete_assets(assets: &[Asset]) -> Vec<IncompleteAsset> {
    assets
        .iter()
        .filter(|a| a.status != AssetStatus::Disposed)
        .filter_map(|a| {
            let mut missing = Vec::new();
            if a.location.trim().is_empty() {
                missing.push("location");
            }
            if a.department.trim().is_empty() {
                missing.push("department");
            }
            let maintained = matches!(
                a.class,
                AssetClass::Server
                    | AssetClass::NetworkDevice
                    | AssetClass::MedicalDevice
                    | AssetClass::RemoteMaintenanceDevice
            );
            if maintained && a.vendor_id.is_none() {
                missing.push("vendor");
            }
            (!missing.is_empty()).then_some(IncompleteAsset {
                asset_id: a.id,
                missing,
            })
        })
        .collect()
}

/// Enabled shared accounts (共有アカウント): nobody in particular is accountable for them.
pub fn shared_accounts(accounts: &[Account]) -> Vec<AccountId> {
    accounts
        .iter()
        .filter(|a| a.enabled && a.kind == AccountKind::Shared)
        .map(|a| a.id)
        .collect()
}

/// Enabled accounts with administrator rights, for the periodic review of who holds them.
pub fn administrators(accounts: &[Account]) -> Vec<AccountId> {
    accounts
        .iter()
        .filter(|a| a.enabled && a.is_admin)
        .map(|a| a.id)
        .collect()
}

/// Enabled administrator accounts whose rights nobody is recorded as having approved (2-④).
pub fn unapproved_administrators(accounts: &[Account]) -> Vec<AccountId> {
    accounts
        .iter()
        .filter(|a| a.enabled && a.is_admin && a.admin_approved_by.is_none())
        .map(|a| a.id)
        .collect()
}

/// Enabled accounts whose password never expires.
pub fn never_expiring_passwords(accounts: &[Account]) -> Vec<AccountId> {
    accounts
        .iter()
        .filter(|a| a.enabled && a.pw_never_expires)
        .map(|a| a.id)
        .collect()
}

/// Enabled accounts locked out after failed logins (someone guessing, or a user who needs help).
pub fn locked_out_accounts(accounts: &[Account]) -> Vec<AccountId> {
    accounts
        .iter()
        .filter(|a| a.enabled && a.locked_out)
        .map(|a| a.id)
        .collect()
}

/// An enabled account whose password is older than its system allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StalePassword {
    pub account_id: AccountId,
    pub last_set_on: Date,
    pub age_days: i64,
    pub max_age_days: i64,
}

/// Enabled accounts whose password was last set longer ago than their system's maximum age,
/// oldest first. Accounts exempt from expiry, and systems without a maximum age, are left to
/// [`never_expiring_passwords`] and the policy verdict.
pub fn stale_passwords(
    accounts: &[Account],
    systems: &[InfoSystem],
    today: Date,
) -> Vec<StalePassword> {
    let max_age: HashMap<SystemId, i64> = systems
        .iter()
        .filter(|s| s.status != SystemStatus::Retired)
        .filter_map(|s| Some((s.id, s.password.max_age_days.filter(|d| *d > 0)?)))
        .collect();
    let mut out: Vec<StalePassword> = accounts
        .iter()
        .filter(|a| a.enabled && !a.pw_never_expires)
        .filter_map(|a| {
            let max = *max_age.get(&a.system_id)?;
            let set = a.pw_last_set_on?;
            let age = (today - set).whole_days();
            (age > max).then_some(StalePassword {
                account_id: a.id,
                last_set_on: set,
                age_days: age,
                max_age_days: max,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.age_days
            .cmp(&a.age_days)
            .then(a.account_id.cmp(&b.account_id))
    });
    out
}

/// Enabled accounts without two-factor on systems that require it: every account where the
/// system has it for all users, administrators where it has it for some (2-⑩). Break-glass
/// accounts are left to their custody.
pub fn accounts_without_two_factor(accounts: &[Account], systems: &[InfoSystem]) -> Vec<AccountId> {
    let required: HashMap<SystemId, TwoFactor> = systems
        .iter()
        .filter(|s| s.status != SystemStatus::Retired)
        .map(|s| (s.id, s.two_factor))
        .collect();
    accounts
        .iter()
        .filter(|a| a.enabled && !a.two_factor && a.kind != AccountKind::Emergency)
        .filter(|a| match required.get(&a.system_id) {
            Some(TwoFactor::All) => true,
            Some(TwoFactor::Partial) => a.is_admin,
            _ => false,
        })
        .map(|a| a.id)
        .collect()
}

/// A vendor maintenance account whose vendor's staff changed after its password was last set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorStaffChange {
    pub account_id: AccountId,
    /// The latest change of the vendor's staff.
    pub changed_on: Date,
    /// When the password was last set, if known.
    pub pw_last_set_on: Option<Date>,
}

/// Enabled vendor maintenance accounts on a system of a vendor whose staff changed (a contact
/// of the vendor left, or was replaced) after the day the password was last set: whoever
/// left may still know it. `staff_changes` are (vendor, day of a change).
pub fn vendor_accounts_after_staff_change(
    accounts: &[Account],
    systems: &[InfoSystem],
    staff_changes: &[(crate::VendorId, Date)],
) -> Vec<VendorStaffChange> {
    let vendor_of: HashMap<SystemId, crate::VendorId> = systems
        .iter()
        .filter(|s| s.status != SystemStatus::Retired)
        .filter_map(|s| Some((s.id, s.vendor_id?)))
        .collect();
    let mut latest: HashMap<crate::VendorId, Date> = HashMap::new();
    for (v, d) in staff_changes {
        let e = latest.entry(*v).or_insert(*d);
        if *d > *e {
            *e = *d;
        }
    }
    accounts
        .iter()
        .filter(|a| a.enabled && a.kind == AccountKind::VendorMaintenance)
        .filter_map(|a| {
            let changed = *latest.get(vendor_of.get(&a.system_id)?)?;
            let stale = a.pw_last_set_on.is_none_or(|set| set < changed);
            stale.then_some(VendorStaffChange {
                account_id: a.id,
                changed_on: changed,
                pw_last_set_on: a.pw_last_set_on,
            })
        })
        .collect()
}

/// Enabled personal accounts with no owner recorded.
pub fn ownerless_accounts(accounts: &[Account]) -> Vec<AccountId> {
    accounts
        .iter()
        .filter(|a| a.enabled && a.kind == AccountKind::Personal && a.person_id.is_none())
        .map(|a| a.id)
        .collect()
}

/// The last day by which two-factor authentication must be in place (2-⑩: 令和9年度末).
pub fn two_factor_deadline() -> Date {
    Date::from_calendar_date(2028, time::Month::March, 31).unwrap_or(Date::MIN)
}

/// Why a system counts against 2-⑩.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwoFactorGap {
    /// No two-factor authentication and no plan date.
    NoPlan,
    /// Planned after the deadline.
    PlanTooLate,
    /// Planned in time but not yet in place: shown, not a failure.
    Planned,
}

/// Systems in use that lack two-factor authentication for everyone, with why. Systems that will
/// not run in FY2027 (令和9年度) are left out, as the checklist allows.
pub fn systems_two_factor_gaps(systems: &[InfoSystem]) -> Vec<(SystemId, TwoFactorGap)> {
    let deadline = two_factor_deadline();
    systems
        .iter()
        .filter(|s| s.status != SystemStatus::Retired && s.in_use_r9 != Some(false))
        .filter(|s| s.two_factor != TwoFactor::All)
        .map(|s| {
            let gap = match s.two_factor_plan_on {
                None => TwoFactorGap::NoPlan,
                Some(d) if d > deadline => TwoFactorGap::PlanTooLate,
                Some(_) => TwoFactorGap::Planned,
            };
            (s.id, gap)
        })
        .collect()
}

/// What 2-⑦ says of a system's password rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyVerdict {
    Meets,
    /// Codes of the shortfalls: `short` (< 8), `no_complexity`, `no_rotation` (8–12 characters
    /// without two-factor authentication and without a change at least every two months).
    Fails(Vec<&'static str>),
    /// Keys of the policy fields not recorded, which decide the verdict.
    Unknown(Vec<&'static str>),
}

/// The longest password change interval 2-⑦ accepts when rotation is needed (2 months).
pub const MAX_ROTATION_DAYS: i64 = 62;

/// Judges a system's password policy against 2-⑦: letters, digits and symbols mixed, at least 8
/// characters, changed periodically — rotation not needed with 13+ characters or two-factor
/// authentication for everyone.
pub fn password_policy_verdict(s: &InfoSystem) -> PolicyVerdict {
    let p = &s.password;
    let mut unknown = Vec::new();
    if p.min_length.is_none() {
        unknown.push("pw_min_length");
    }
    if p.complexity.is_none() {
        unknown.push("pw_complexity");
    }
    let mut fails = Vec::new();
    if p.min_length.is_some_and(|n| n < 8) {
        fails.push("short");
    }
    if p.complexity == Some(false) {
        fails.push("no_complexity");
    }
    let exempt = p.min_length.is_some_and(|n| n >= 13) || s.two_factor == TwoFactor::All;
    if !exempt && p.min_length.is_some_and(|n| n >= 8) {
        match p.max_age_days {
            None => unknown.push("pw_max_age_days"),
            Some(d) if d == 0 || d > MAX_ROTATION_DAYS => fails.push("no_rotation"),
            Some(_) => {}
        }
    }
    if !fails.is_empty() {
        PolicyVerdict::Fails(fails)
    } else if !unknown.is_empty() {
        PolicyVerdict::Unknown(unknown)
    } else {
        PolicyVerdict::Meets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{AccountKind, AssetClass, JobType};
    use crate::{AssetId, SystemId};
    use time::macros::date;

    fn person(id: i64, left: Option<Date>) -> Person {
        Person {
            id: PersonId(id),
            staff_no: format!("S{id:03}"),
            name: format!("職員{id}"),
            name_kana: String::new(),
            job: JobType::Nurse,
            department: "外来".into(),
            joined_on: None,
            left_on: left,
            notes: String::new(),
        }
    }

    fn account(id: i64, person: i64, enabled: bool, last: Option<Date>) -> Account {
        Account {
            id: AccountId(id),
            system_id: SystemId(1),
            login_id: format!("u{id}"),
            person_id: Some(PersonId(person)),
            kind: AccountKind::Personal,
            is_admin: false,
            enabled,
            last_login_on: last,
            two_factor: false,
            created_on: None,
            disabled_on: None,
            pw_last_set_on: None,
            pw_never_expires: false,
            locked_out: false,
            admin_approved_by: None,
            admin_approved_on: None,
            notes: String::new(),
        }
    }

    #[test]
    fn leavers_are_found_with_days() {
        let today = date!(2025 - 10 - 01);
        let persons = vec![
            person(1, None),
            person(2, Some(date!(2025 - 06 - 30))),
            person(3, Some(date!(2025 - 09 - 30))),
            person(4, Some(date!(2026 - 03 - 31))),
        ];
        let accounts = vec![
            account(10, 1, true, None),
            account(11, 2, true, None),
            account(12, 2, false, None),
            account(13, 3, true, None),
            account(14, 4, true, None),
        ];
        let found = leavers_with_enabled_accounts(&persons, &accounts, today);
        let ids: Vec<_> = found
            .iter()
            .map(|f| (f.account_id.0, f.days_since_left))
            .collect();
        assert_eq!(ids, vec![(11, 93), (13, 1)]);
    }

    #[test]
    fn dormant_accounts_are_found() {
        let today = date!(2025 - 10 - 01);
        let accounts = vec![
            account(1, 1, true, Some(date!(2025 - 09 - 01))),
            account(2, 1, true, Some(date!(2025 - 01 - 01))),
            account(3, 1, false, Some(date!(2025 - 01 - 01))),
            account(4, 1, true, None),
        ];
        let ids: Vec<_> = dormant_accounts(&accounts, today, 90)
            .iter()
            .map(|a| a.0)
            .collect();
        assert_eq!(ids, vec![2, 4]);
    }

    #[test]
    fn eol_and_patch_buckets() {
        let today = date!(2025 - 10 - 01);
        let mk = |id, eol, patch| Asset {
            id: AssetId(id),
            name: format!("PC-{id}"),
            location: "受付".into(),
            eol_on: eol,
            last_patch_on: patch,
            ..Asset::blank(AssetClass::Workstation)
        };
        let assets = vec![
            mk(1, Some(date!(2025 - 10 - 14)), Some(date!(2025 - 09 - 20))),
            mk(2, Some(date!(2020 - 01 - 14)), Some(date!(2025 - 05 - 01))),
            mk(3, None, None),
        ];
        assert_eq!(assets_past_eol(&assets, today), vec![AssetId(2)]);
        assert_eq!(patch_age_buckets(&assets, today), [1, 0, 1, 0, 1]);
    }

    #[test]
    fn incomplete_assets_name_the_gaps() {
        let mut sv = Asset::blank(AssetClass::Server);
        sv.id = AssetId(1);
        sv.location = "サーバ室".into();
        let mut pc = Asset::blank(AssetClass::Workstation);
        pc.id = AssetId(2);
        pc.location = "受付".into();
        pc.department = "医事課".into();
        let mut gone = Asset::blank(AssetClass::Server);
        gone.status = AssetStatus::Disposed;
        let found = incomplete_assets(&[sv, pc, gone]);
        assert_eq!(
            found,
            vec![IncompleteAsset {
                asset_id: AssetId(1),
                missing: vec!["department", "vendor"]
            }]
        );
    }

    #[test]
    fn two_factor_gaps_follow_the_fy2027_deadline() {
        use crate::ledger::{DeliveryModel, SystemCategory};
        let mk = |id, tf, plan: Option<Date>, r9| {
            let mut s = InfoSystem::blank(SystemCategory::Ehr, DeliveryModel::OnPremises);
            s.id = SystemId(id);
            s.two_factor = tf;
            s.two_factor_plan_on = plan;
            s.in_use_r9 = r9;
            s
        };
        let systems = vec![
            mk(1, TwoFactor::All, None, None),
            mk(2, TwoFactor::None, None, None),
            mk(
                3,
                TwoFactor::Partial,
                Some(date!(2028 - 03 - 31)),
                Some(true),
            ),
            mk(4, TwoFactor::None, Some(date!(2028 - 04 - 01)), None),
            mk(5, TwoFactor::None, None, Some(false)),
        ];
        assert_eq!(
            systems_two_factor_gaps(&systems),
            vec![
                (SystemId(2), TwoFactorGap::NoPlan),
                (SystemId(3), TwoFactorGap::Planned),
                (SystemId(4), TwoFactorGap::PlanTooLate),
            ]
        );
    }

    #[test]
    fn password_policies_are_judged_by_2_7() {
        use crate::ledger::{DeliveryModel, PasswordPolicy, SystemCategory};
        let mk = |len, cx, age, tf| {
            let mut s = InfoSystem::blank(SystemCategory::Receipt, DeliveryModel::OnPremises);
            s.password = PasswordPolicy {
                min_length: len,
                complexity: cx,
                max_age_days: age,
                history: None,
                lockout_attempts: None,
            };
            s.two_factor = tf;
            s
        };
        use PolicyVerdict::*;
        assert_eq!(
            password_policy_verdict(&mk(Some(13), Some(true), None, TwoFactor::None)),
            Meets
        );
        assert_eq!(
            password_policy_verdict(&mk(Some(8), Some(true), Some(60), TwoFactor::None)),
            Meets
        );
        assert_eq!(
            password_policy_verdict(&mk(Some(8), Some(true), None, TwoFactor::All)),
            Meets
        );
        assert_eq!(
            password_policy_verdict(&mk(Some(8), Some(true), Some(90), TwoFactor::None)),
            Fails(vec!["no_rotation"])
        );
        assert_eq!(
            password_policy_verdict(&mk(Some(6), Some(false), None, TwoFactor::None)),
            Fails(vec!["short", "no_complexity"])
        );
        assert_eq!(
            password_policy_verdict(&mk(None, None, None, TwoFactor::None)),
            Unknown(vec!["pw_min_length", "pw_complexity"])
        );
        assert_eq!(
            password_policy_verdict(&mk(Some(10), Some(true), None, TwoFactor::Partial)),
            Unknown(vec!["pw_max_age_days"])
        );
    }

    #[test]
    fn shared_admin_and_ownerless_accounts() {
        let mut a = account(1, 1, true, None);
        a.kind = AccountKind::Shared;
        let mut b = account(2, 1, true, None);
        b.is_admin = true;
        b.person_id = None;
        let mut c = account(3, 1, false, None);
        c.is_admin = true;
        let all = [a, b, c];
        assert_eq!(shared_accounts(&all), vec![AccountId(1)]);
        assert_eq!(administrators(&all), vec![AccountId(2)]);
        assert_eq!(ownerless_accounts(&all), vec![AccountId(2)]);
    }

    #[test]
    fn password_state_and_admin_approval_are_findings() {
        use crate::ledger::{DeliveryModel, SystemCategory};
        let today = date!(2026 - 12 - 01);
        let mut approved = account(1, 1, true, None);
        approved.is_admin = true;
        approved.admin_approved_by = Some(PersonId(9));
        let mut unapproved = account(2, 2, true, None);
        unapproved.is_admin = true;
        let mut gone_admin = account(3, 3, false, None);
        gone_admin.is_admin = true;
        let mut never = account(4, 4, true, None);
        never.pw_never_expires = true;
        never.pw_last_set_on = Some(date!(2019 - 01 - 01));
        let mut locked = account(5, 5, true, None);
        locked.locked_out = true;
        let mut old = account(6, 6, true, None);
        old.pw_last_set_on = Some(date!(2026 - 06 - 01));
        let mut fresh = account(7, 7, true, None);
        fresh.pw_last_set_on = Some(date!(2026 - 11 - 01));
        let mut unknown = account(8, 8, true, None);
        unknown.pw_last_set_on = None;
        let mut other_system = account(9, 9, true, None);
        other_system.system_id = SystemId(2);
        other_system.pw_last_set_on = Some(date!(2020 - 01 - 01));
        let all = [
            approved,
            unapproved,
            gone_admin,
            never,
            locked,
            old,
            fresh,
            unknown,
            other_system,
        ];
        assert_eq!(unapproved_administrators(&all), vec![AccountId(2)]);
        assert_eq!(never_expiring_passwords(&all), vec![AccountId(4)]);
        assert_eq!(locked_out_accounts(&all), vec![AccountId(5)]);

        let mut rotated = InfoSystem::blank(SystemCategory::Ehr, DeliveryModel::OnPremises);
        rotated.id = SystemId(1);
        rotated.password.max_age_days = Some(90);
        // System 2 has no maximum age: its old password is the policy's finding, not the account's.
        let mut unrotated = InfoSystem::blank(SystemCategory::Receipt, DeliveryModel::OnPremises);
        unrotated.id = SystemId(2);
        let stale = stale_passwords(&all, &[rotated.clone(), unrotated], today);
        assert_eq!(
            stale,
            vec![StalePassword {
                account_id: AccountId(6),
                last_set_on: date!(2026 - 06 - 01),
                age_days: 183,
                max_age_days: 90,
            }]
        );
        // A retired system's accounts are not judged.
        rotated.status = SystemStatus::Retired;
        assert!(stale_passwords(&all, &[rotated], today).is_empty());
    }

    #[test]
    fn accounts_without_two_factor_where_the_system_requires_it() {
        use crate::ledger::{DeliveryModel, SystemCategory};
        let mk = |id, tf| {
            let mut s = InfoSystem::blank(SystemCategory::Ehr, DeliveryModel::OnPremises);
            s.id = SystemId(id);
            s.two_factor = tf;
            s
        };
        let systems = [
            mk(1, TwoFactor::All),
            mk(2, TwoFactor::Partial),
            mk(3, TwoFactor::None),
        ];
        let on = |id, system, admin, tf| {
            let mut a = account(id, id, true, None);
            a.system_id = SystemId(system);
            a.is_admin = admin;
            a.two_factor = tf;
            a
        };
        let mut glass = on(7, 1, true, false);
        glass.kind = AccountKind::Emergency;
        let all = [
            on(1, 1, false, false),
            on(2, 1, false, true),
            on(3, 2, false, false),
            on(4, 2, true, false),
            on(5, 3, true, false),
            glass,
        ];
        assert_eq!(
            accounts_without_two_factor(&all, &systems),
            vec![AccountId(1), AccountId(4)]
        );
    }

    #[test]
    fn vendor_accounts_are_found_after_the_vendors_staff_changed() {
        use crate::VendorId;
        use crate::ledger::{DeliveryModel, SystemCategory};
        let mut ehr = InfoSystem::blank(SystemCategory::Ehr, DeliveryModel::OnPremises);
        ehr.id = SystemId(1);
        ehr.vendor_id = Some(VendorId(5));
        let mut other = InfoSystem::blank(SystemCategory::Receipt, DeliveryModel::OnPremises);
        other.id = SystemId(2);
        other.vendor_id = Some(VendorId(6));
        let vendor = |id, system, set: Option<Date>| {
            let mut a = account(id, id, true, None);
            a.person_id = None;
            a.kind = AccountKind::VendorMaintenance;
            a.system_id = SystemId(system);
            a.pw_last_set_on = set;
            a
        };
        let accounts = [
            vendor(1, 1, Some(date!(2026 - 03 - 01))),
            vendor(2, 1, Some(date!(2026 - 10 - 01))),
            vendor(3, 1, None),
            vendor(4, 2, Some(date!(2020 - 01 - 01))),
            account(5, 5, true, None),
        ];
        let changes = [
            (VendorId(5), date!(2026 - 02 - 01)),
            (VendorId(5), date!(2026 - 09 - 15)),
        ];
        let found = vendor_accounts_after_staff_change(&accounts, &[ehr, other], &changes);
        let ids: Vec<i64> = found.iter().map(|f| f.account_id.0).collect();
        assert_eq!(ids, vec![1, 3], "set before the latest change, or unknown");
        assert_eq!(found[0].changed_on, date!(2026 - 09 - 15));
    }
}
