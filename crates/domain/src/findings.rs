//! Findings computed from the ledger: pure functions that say what is wrong, with the facts.

use crate::ledger::{Account, Asset, AssetStatus, Person};
use crate::{AccountId, AssetId, PersonId};
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
}
