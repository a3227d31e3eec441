//! アカウント棚卸 (account review campaigns): a periodic check, per system and department, that
//! every enabled account is still needed. Reviewers keep or revoke each account; a revoked one is
//! disabled in the ledger. A closed campaign is the evidence for 2-④ and 2-⑤.
//!
//! Pure: what a campaign covers, what to point out to the reviewer, and the rules of deciding
//! and closing.

use crate::findings;
use crate::ledger::{Account, Person};
use crate::{AccountId, PersonId, SystemId};
use std::collections::HashMap;
use time::Date;

/// Which accounts a campaign covers: every enabled account, or those of one system, or those
/// whose owner works in one department (both may be given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub system_id: Option<SystemId>,
    /// The owner's 所属 as recorded on the person; empty for every department.
    pub department: String,
}

impl Scope {
    /// The enabled accounts the campaign covers, by system and login.
    pub fn accounts<'a>(&self, accounts: &'a [Account], persons: &[Person]) -> Vec<&'a Account> {
        let dept: HashMap<PersonId, &str> = persons
            .iter()
            .map(|p| (p.id, p.department.trim()))
            .collect();
        let want = self.department.trim();
        let mut out: Vec<&Account> = accounts
            .iter()
            .filter(|a| a.enabled)
            .filter(|a| self.system_id.is_none_or(|s| a.system_id == s))
            .filter(|a| {
                want.is_empty()
                    || a.person_id
                        .and_then(|p| dept.get(&p).copied())
                        .is_some_and(|d| d == want)
            })
            .collect();
        out.sort_by(|a, b| {
            a.system_id
                .cmp(&b.system_id)
                .then_with(|| a.login_id.cmp(&b.login_id))
        });
        out
    }
}

/// A reviewer's decision on one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Pending,
    /// Still needed, rights as they are (継続).
    Keep,
    /// Not needed: disabled in the ledger (無効化).
    Revoke,
}

impl Decision {
    pub const ALL: [Decision; 3] = [Decision::Pending, Decision::Keep, Decision::Revoke];

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Pending => "pending",
            Decision::Keep => "keep",
            Decision::Revoke => "revoke",
        }
    }

    pub fn parse(s: &str) -> Option<Decision> {
        Decision::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// Why an account deserves a second look, shown beside it to the reviewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hint {
    /// Its owner has left.
    Leaver,
    /// Not used within the dormant threshold.
    Dormant,
    /// A personal account nobody owns.
    Ownerless,
    /// A shared id.
    Shared,
    /// Administrator rights without a recorded approval.
    UnapprovedAdmin,
}

impl Hint {
    pub fn as_str(self) -> &'static str {
        match self {
            Hint::Leaver => "leaver",
            Hint::Dormant => "dormant",
            Hint::Ownerless => "ownerless",
            Hint::Shared => "shared",
            Hint::UnapprovedAdmin => "unapproved_admin",
        }
    }

    pub fn parse(s: &str) -> Option<Hint> {
        [
            Hint::Leaver,
            Hint::Dormant,
            Hint::Ownerless,
            Hint::Shared,
            Hint::UnapprovedAdmin,
        ]
        .into_iter()
        .find(|h| h.as_str() == s)
    }

    /// Whether the hint, on its own, suggests revoking.
    pub fn suggests_revoke(self) -> bool {
        matches!(self, Hint::Leaver | Hint::Dormant)
    }
}

/// The hints for each of `accounts` on `today`, most serious first (accounts without any are
/// left out). One pass of each finding over all of them: a campaign covers thousands.
pub fn hints(
    accounts: &[Account],
    persons: &[Person],
    today: Date,
    dormant_days: i64,
) -> HashMap<AccountId, Vec<Hint>> {
    let mut out: HashMap<AccountId, Vec<Hint>> = HashMap::new();
    let mut add = |ids: Vec<AccountId>, h: Hint| {
        for id in ids {
            out.entry(id).or_default().push(h);
        }
    };
    add(
        findings::leavers_with_enabled_accounts(persons, accounts, today)
            .into_iter()
            .map(|l| l.account_id)
            .collect(),
        Hint::Leaver,
    );
    add(
        findings::dormant_accounts(accounts, today, dormant_days),
        Hint::Dormant,
    );
    add(findings::ownerless_accounts(accounts), Hint::Ownerless);
    add(findings::shared_accounts(accounts), Hint::Shared);
    add(
        findings::unapproved_administrators(accounts),
        Hint::UnapprovedAdmin,
    );
    out
}

/// How far a campaign has got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub pending: usize,
    pub keep: usize,
    pub revoke: usize,
}

impl Progress {
    pub fn of(decisions: impl IntoIterator<Item = Decision>) -> Progress {
        let mut p = Progress::default();
        for d in decisions {
            match d {
                Decision::Pending => p.pending += 1,
                Decision::Keep => p.keep += 1,
                Decision::Revoke => p.revoke += 1,
            }
        }
        p
    }

    pub fn total(&self) -> usize {
        self.pending + self.keep + self.revoke
    }

    /// Decided share in whole percent (100 for an empty campaign).
    pub fn percent(&self) -> usize {
        match self.total() {
            0 => 100,
            t => (self.keep + self.revoke) * 100 / t,
        }
    }
}

/// Why a campaign refuses a change. Codes are `REV00xx` in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewError {
    /// No title.
    NoTitle,
    /// The scope covers no enabled account.
    EmptyScope,
    /// The campaign is closed: its decisions are the record.
    Closed,
    /// No account was chosen.
    NothingChosen,
    /// An account that is not part of the campaign.
    NotInCampaign,
    /// Closing with undecided accounts needs a note saying why.
    PendingWithoutNote,
    /// Revoking needs a reason (the record of why an account was taken away).
    RevokeWithoutComment,
    /// The due date is before the day the campaign opens.
    DueBeforeOpen,
}

impl ReviewError {
    pub fn code(self) -> &'static str {
        match self {
            ReviewError::NoTitle => "REV0001",
            ReviewError::EmptyScope => "REV0002",
            ReviewError::Closed => "REV0003",
            ReviewError::NothingChosen => "REV0004",
            ReviewError::NotInCampaign => "REV0005",
            ReviewError::PendingWithoutNote => "REV0006",
            ReviewError::RevokeWithoutComment => "REV0007",
            ReviewError::DueBeforeOpen => "REV0008",
        }
    }

    /// The form field the refusal is about.
    pub fn field(self) -> &'static str {
        match self {
            ReviewError::NoTitle => "title",
            ReviewError::EmptyScope => "system",
            ReviewError::DueBeforeOpen => "due_on",
            ReviewError::Closed | ReviewError::NothingChosen | ReviewError::NotInCampaign => {
                "accounts"
            }
            ReviewError::RevokeWithoutComment => "comment",
            ReviewError::PendingWithoutNote => "note",
        }
    }
}

/// Checks a new campaign: a title, a due date not before today, at least one account.
pub fn check_open(
    title: &str,
    due_on: Option<Date>,
    today: Date,
    covered: usize,
) -> Result<(), ReviewError> {
    if title.trim().is_empty() {
        return Err(ReviewError::NoTitle);
    }
    if due_on.is_some_and(|d| d < today) {
        return Err(ReviewError::DueBeforeOpen);
    }
    if covered == 0 {
        return Err(ReviewError::EmptyScope);
    }
    Ok(())
}

/// Checks a bulk decision on an open campaign.
pub fn check_decide(
    closed: bool,
    chosen: usize,
    all_in_campaign: bool,
    decision: Decision,
    comment: &str,
) -> Result<(), ReviewError> {
    if closed {
        return Err(ReviewError::Closed);
    }
    if chosen == 0 {
        return Err(ReviewError::NothingChosen);
    }
    if !all_in_campaign {
        return Err(ReviewError::NotInCampaign);
    }
    if decision == Decision::Revoke && comment.trim().is_empty() {
        return Err(ReviewError::RevokeWithoutComment);
    }
    Ok(())
}

/// Checks closing: undecided accounts are allowed only with a note saying why.
pub fn check_close(closed: bool, progress: Progress, note: &str) -> Result<(), ReviewError> {
    if closed {
        return Err(ReviewError::Closed);
    }
    if progress.pending > 0 && note.trim().is_empty() {
        return Err(ReviewError::PendingWithoutNote);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{AccountKind, JobType};
    use time::macros::date;

    fn person(id: i64, dept: &str, left: Option<Date>) -> Person {
        Person {
            id: PersonId(id),
            staff_no: format!("S{id}"),
            name: format!("職員{id}"),
            name_kana: String::new(),
            job: JobType::Nurse,
            department: dept.into(),
            joined_on: None,
            left_on: left,
            notes: String::new(),
        }
    }

    fn account(id: i64, system: i64, login: &str, person: Option<i64>) -> Account {
        let mut a = Account::new(SystemId(system), login);
        a.id = AccountId(id);
        a.person_id = person.map(PersonId);
        a.last_login_on = Some(date!(2026 - 11 - 20));
        a
    }

    #[test]
    fn the_scope_takes_enabled_accounts_of_the_system_and_department() {
        let persons = [
            person(1, "外来", None),
            person(2, "病棟", None),
            person(3, " 外来 ", None),
        ];
        let mut off = account(4, 1, "d", Some(1));
        off.enabled = false;
        let accounts = [
            account(1, 1, "b", Some(1)),
            account(2, 1, "a", Some(2)),
            account(3, 2, "c", Some(3)),
            off,
            account(5, 1, "shared", None),
        ];
        let ids = |s: &Scope| -> Vec<i64> {
            s.accounts(&accounts, &persons)
                .iter()
                .map(|a| a.id.0)
                .collect()
        };
        // Everything enabled, by system then login.
        assert_eq!(ids(&Scope::default()), vec![2, 1, 5, 3]);
        let sys = Scope {
            system_id: Some(SystemId(1)),
            department: String::new(),
        };
        assert_eq!(ids(&sys), vec![2, 1, 5]);
        // A department takes owners there (spaces do not matter); ownerless accounts are not in
        // any department.
        let dept = Scope {
            system_id: None,
            department: "外来".into(),
        };
        assert_eq!(ids(&dept), vec![1, 3]);
        let both = Scope {
            system_id: Some(SystemId(2)),
            department: "外来".into(),
        };
        assert_eq!(ids(&both), vec![3]);
    }

    #[test]
    fn hints_point_at_leavers_dormant_ownerless_shared_and_unapproved_admins() {
        let today = date!(2026 - 12 - 01);
        let persons = [
            person(1, "外来", Some(date!(2026 - 10 - 31))),
            person(2, "外来", None),
        ];
        let leaver = account(1, 1, "a", Some(1));
        let mut dormant = account(2, 1, "b", Some(2));
        dormant.last_login_on = Some(date!(2026 - 01 - 01));
        let ownerless = account(3, 1, "c", None);
        let mut shared = account(4, 1, "uketsuke", None);
        shared.kind = AccountKind::Shared;
        let mut admin = account(5, 1, "kanri", Some(2));
        admin.is_admin = true;
        let fine = account(6, 1, "f", Some(2));
        let h = |a: &Account| {
            hints(std::slice::from_ref(a), &persons, today, 90)
                .remove(&a.id)
                .unwrap_or_default()
        };
        assert_eq!(h(&leaver), vec![Hint::Leaver]);
        assert_eq!(h(&dormant), vec![Hint::Dormant]);
        assert_eq!(h(&ownerless), vec![Hint::Ownerless]);
        assert_eq!(h(&shared), vec![Hint::Shared]);
        assert_eq!(h(&admin), vec![Hint::UnapprovedAdmin]);
        assert!(h(&fine).is_empty());
        admin.admin_approved_by = Some(PersonId(1));
        assert!(h(&admin).is_empty());
        assert!(Hint::Leaver.suggests_revoke() && !Hint::Shared.suggests_revoke());
        for x in [
            Hint::Leaver,
            Hint::Dormant,
            Hint::Ownerless,
            Hint::Shared,
            Hint::UnapprovedAdmin,
        ] {
            assert_eq!(Hint::parse(x.as_str()), Some(x));
        }
    }

    #[test]
    fn the_rules_of_opening_deciding_and_closing() {
        let today = date!(2026 - 12 - 01);
        assert_eq!(check_open(" ", None, today, 3), Err(ReviewError::NoTitle));
        assert_eq!(
            check_open("棚卸", Some(date!(2026 - 11 - 30)), today, 3),
            Err(ReviewError::DueBeforeOpen)
        );
        assert_eq!(
            check_open("棚卸", None, today, 0),
            Err(ReviewError::EmptyScope)
        );
        assert_eq!(check_open("棚卸", Some(today), today, 1), Ok(()));

        assert_eq!(
            check_decide(true, 1, true, Decision::Keep, ""),
            Err(ReviewError::Closed)
        );
        assert_eq!(
            check_decide(false, 0, true, Decision::Keep, ""),
            Err(ReviewError::NothingChosen)
        );
        assert_eq!(
            check_decide(false, 2, false, Decision::Keep, ""),
            Err(ReviewError::NotInCampaign)
        );
        assert_eq!(
            check_decide(false, 2, true, Decision::Revoke, "  "),
            Err(ReviewError::RevokeWithoutComment)
        );
        assert_eq!(
            check_decide(false, 2, true, Decision::Revoke, "退職"),
            Ok(())
        );
        assert_eq!(check_decide(false, 2, true, Decision::Keep, ""), Ok(()));

        let p = Progress::of([Decision::Keep, Decision::Revoke, Decision::Pending]);
        assert_eq!((p.total(), p.percent()), (3, 66));
        assert_eq!(
            check_close(false, p, ""),
            Err(ReviewError::PendingWithoutNote)
        );
        assert_eq!(check_close(false, p, "休職中の1件は復職時に確認"), Ok(()));
        assert_eq!(
            check_close(true, Progress::default(), "x"),
            Err(ReviewError::Closed)
        );
        assert_eq!(Progress::default().percent(), 100);
        for d in Decision::ALL {
            assert_eq!(Decision::parse(d.as_str()), Some(d));
        }
    }
}
