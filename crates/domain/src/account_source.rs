//! Accounts as a source lists them (a directory, a system's exported account list), and the plan
//! that brings one system's ledger accounts in line with the list: what to add, change and
//! disable, and who each new account belongs to.
//!
//! Linking to the roster: a staff number links for certain; so does a name with its kana that
//! match exactly one person. A name alone that matches one person is only a candidate, for a
//! person to confirm.

use crate::ledger::{Account, AccountKind, Person};
use crate::{AccountId, PersonId, SystemId};
use std::collections::{HashMap, HashSet};
use time::Date;

/// One account as the source lists it. `None` fields are ones the source does not say: the
/// ledger keeps its own value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceAccount {
    pub login: String,
    /// The owner's name as the source shows it.
    pub name: String,
    /// Its reading (カナ), when the source has one.
    pub kana: String,
    /// The staff number the roster uses.
    pub staff_no: Option<String>,
    pub enabled: bool,
    pub is_admin: Option<bool>,
    pub last_login_on: Option<Date>,
    pub pw_last_set_on: Option<Date>,
    pub pw_never_expires: Option<bool>,
    pub locked_out: Option<bool>,
}

/// Why a list cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotError {
    /// Two entries have the same login (ignoring case).
    DuplicateLogin(String),
    /// The login does not fit the ledger's login field.
    LoginTooLong(String),
}

impl SnapshotError {
    /// The directory's codes; a file import reports its own with the line.
    pub fn code(&self) -> &'static str {
        match self {
            SnapshotError::DuplicateLogin(_) => "DIR0010",
            SnapshotError::LoginTooLong(_) => "DIR0011",
        }
    }
    /// The entry it is about.
    pub fn subject(&self) -> &str {
        match self {
            SnapshotError::DuplicateLogin(s) | SnapshotError::LoginTooLong(s) => s,
        }
    }
}

/// What applying a list does to the accounts of one system.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncPlan {
    pub add: Vec<Account>,
    /// (before, after) of accounts whose source-owned fields changed.
    pub change: Vec<(Account, Account)>,
    /// (before, after) of enabled accounts no longer listed: disabled as of today.
    pub disable: Vec<(Account, Account)>,
    pub unchanged: usize,
    /// Logins linked to nobody on the roster.
    pub unlinked: Vec<String>,
    /// Logins whose name is exactly one roster person's name but which nothing else linked: a
    /// person to confirm, never linked automatically.
    pub candidates: Vec<(String, PersonId)>,
}

/// A name as compared: no spaces of any width.
pub fn name_key(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// A reading as compared: no spaces, hiragana as katakana, half-width katakana as full width.
pub fn kana_key(s: &str) -> String {
    const HALF: &str = "ｦｧｨｩｪｫｬｭｮｯｰｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜﾝ";
    const FULL: &str = "ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン";
    let half: Vec<char> = HALF.chars().collect();
    let full: Vec<char> = FULL.chars().collect();
    let mut out: Vec<char> = Vec::with_capacity(s.len());
    for c in s.chars().filter(|c| !c.is_whitespace()) {
        match c {
            // ﾞ and ﾟ voice the letter before them.
            'ﾞ' | 'ﾟ' => {
                if let Some(last) = out.last_mut() {
                    let step = if c == 'ﾞ' { 1 } else { 2 };
                    let voiced = char::from_u32(*last as u32 + step);
                    let can = if c == 'ﾞ' {
                        "カキクケコサシスセソタチツテトハヒフヘホ".contains(*last)
                    } else {
                        "ハヒフヘホ".contains(*last)
                    };
                    if can && let Some(v) = voiced {
                        *last = v;
                    } else if c == 'ﾞ' && *last == 'ウ' {
                        *last = 'ヴ';
                    }
                }
            }
            'ぁ'..='ゖ' => out.push(char::from_u32(c as u32 + 0x60).unwrap_or(c)),
            _ => match half.iter().position(|h| *h == c) {
                Some(i) => out.push(full.get(i).copied().unwrap_or(c)),
                None => out.push(c),
            },
        }
    }
    out.into_iter().collect()
}

/// The plan of applying `source` to `system`, whose current accounts are `existing`.
///
/// The source owns whether an account is enabled and whatever else it says (admin, last login,
/// the password's state); the ledger keeps what people set: the kind, two-factor, the admin
/// approval, notes, and a person link made by hand. With `disable_missing`, enabled accounts the
/// source does not list are disabled as of today.
pub fn plan_accounts(
    source: &[SourceAccount],
    system: SystemId,
    existing: &[Account],
    persons: &[Person],
    today: Date,
    disable_missing: bool,
) -> Result<SyncPlan, SnapshotError> {
    let by_staff: HashMap<&str, PersonId> = persons
        .iter()
        .map(|p| (p.staff_no.trim(), p.id))
        .filter(|(s, _)| !s.is_empty())
        .collect();
    let mut by_name: HashMap<String, Vec<&Person>> = HashMap::new();
    for p in persons {
        by_name.entry(name_key(&p.name)).or_default().push(p);
    }
    let current: HashMap<String, &Account> = existing
        .iter()
        .filter(|a| a.system_id == system)
        .map(|a| (a.login_id.to_lowercase(), a))
        .collect();
    let mut out = SyncPlan::default();
    let mut seen: HashSet<String> = HashSet::new();
    for u in source {
        let key = u.login.to_lowercase();
        if !seen.insert(key.clone()) {
            return Err(SnapshotError::DuplicateLogin(u.login.clone()));
        }
        if u.login.chars().count() > 100 {
            return Err(SnapshotError::LoginTooLong(u.login.clone()));
        }
        let same_name: &[&Person] = by_name
            .get(&name_key(&u.name))
            .filter(|_| !name_key(&u.name).is_empty())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let by_kana: Vec<&&Person> = if kana_key(&u.kana).is_empty() {
            Vec::new()
        } else {
            same_name
                .iter()
                .filter(|p| kana_key(&p.name_kana) == kana_key(&u.kana))
                .collect()
        };
        let person = u
            .staff_no
            .as_deref()
            .and_then(|s| by_staff.get(s.trim()).copied())
            .or(match by_kana.as_slice() {
                [only] => Some(only.id),
                _ => None,
            });
        let candidate = match same_name {
            [only] if person.is_none() => Some(only.id),
            _ => None,
        };
        match current.get(&key) {
            Some(old) => {
                let mut new = (*old).clone();
                new.enabled = u.enabled;
                if let Some(v) = u.is_admin {
                    new.is_admin = v;
                }
                new.last_login_on = u.last_login_on.or(old.last_login_on);
                new.pw_last_set_on = u.pw_last_set_on.or(old.pw_last_set_on);
                if let Some(v) = u.pw_never_expires {
                    new.pw_never_expires = v;
                }
                if let Some(v) = u.locked_out {
                    new.locked_out = v;
                }
                if new.person_id.is_none() {
                    new.person_id = person;
                }
                new.disabled_on = match (old.enabled, u.enabled) {
                    (true, false) => Some(today),
                    (_, true) => None,
                    (false, false) => old.disabled_on,
                };
                if new.person_id.is_none() {
                    out.unlinked.push(u.login.clone());
                    if let Some(c) = candidate.filter(|_| old.kind == AccountKind::Personal) {
                        out.candidates.push((u.login.clone(), c));
                    }
                }
                if new == **old {
                    out.unchanged += 1;
                } else {
                    out.change.push(((*old).clone(), new));
                }
            }
            None => {
                if person.is_none() {
                    out.unlinked.push(u.login.clone());
                    if let Some(c) = candidate {
                        out.candidates.push((u.login.clone(), c));
                    }
                }
                let mut a = Account::new(system, &u.login);
                a.id = AccountId(0);
                a.person_id = person;
                a.is_admin = u.is_admin.unwrap_or(false);
                a.enabled = u.enabled;
                a.last_login_on = u.last_login_on;
                a.created_on = Some(today);
                a.disabled_on = (!u.enabled).then_some(today);
                a.pw_last_set_on = u.pw_last_set_on;
                a.pw_never_expires = u.pw_never_expires.unwrap_or(false);
                a.locked_out = u.locked_out.unwrap_or(false);
                out.add.push(a);
            }
        }
    }
    if disable_missing {
        for (key, old) in &current {
            if !seen.contains(key) && old.enabled {
                let mut new = (*old).clone();
                new.enabled = false;
                new.disabled_on = Some(today);
                out.disable.push(((*old).clone(), new));
            }
        }
    }
    out.disable.sort_by(|a, b| a.0.login_id.cmp(&b.0.login_id));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::JobType;
    use time::macros::date;

    fn person(id: i64, staff: &str, name: &str, kana: &str) -> Person {
        Person {
            id: PersonId(id),
            staff_no: staff.into(),
            name: name.into(),
            name_kana: kana.into(),
            job: JobType::Nurse,
            department: "外来".into(),
            joined_on: None,
            left_on: None,
            notes: String::new(),
        }
    }

    fn src(login: &str, name: &str, kana: &str, staff: Option<&str>) -> SourceAccount {
        SourceAccount {
            login: login.into(),
            name: name.into(),
            kana: kana.into(),
            staff_no: staff.map(Into::into),
            enabled: true,
            ..Default::default()
        }
    }

    #[test]
    fn kana_compares_across_scripts_and_widths() {
        assert_eq!(kana_key("やまだ はなこ"), "ヤマダハナコ");
        assert_eq!(kana_key("ﾔﾏﾀﾞ ﾊﾅｺ"), "ヤマダハナコ");
        assert_eq!(kana_key("ﾎﾟﾝﾌﾟ"), "ポンプ");
        assert_eq!(kana_key("ｳﾞｨ"), "ヴィ");
        assert_eq!(kana_key("ヤマダ　ハナコ"), "ヤマダハナコ");
    }

    #[test]
    fn staff_numbers_and_name_with_kana_link_a_name_alone_is_a_candidate() {
        let today = date!(2026 - 12 - 01);
        let persons = [
            person(1, "N-001", "山田 花子", "ヤマダ ハナコ"),
            person(2, "N-002", "佐藤 一郎", "サトウ イチロウ"),
            // Two of the same name: neither kana nor name alone can pick one without kana.
            person(3, "N-003", "鈴木 次郎", "スズキ ジロウ"),
            person(4, "N-004", "鈴木 次郎", "スズキ ツギオ"),
            person(5, "N-005", "田中 三郎", "タナカ サブロウ"),
        ];
        let source = [
            src("yamada", "", "", Some("N-001")),
            src("sato", "佐藤一郎", "ｻﾄｳ ｲﾁﾛｳ", None),
            src("suzuki-j", "鈴木 次郎", "すずき じろう", None),
            src("suzuki", "鈴木 次郎", "", None),
            src("tanaka", "田中 三郎", "タナカ サンロウ", None),
            src("nobody", "", "", None),
        ];
        let p = plan_accounts(&source, SystemId(1), &[], &persons, today, true).unwrap();
        let owner: HashMap<&str, Option<PersonId>> = p
            .add
            .iter()
            .map(|a| (a.login_id.as_str(), a.person_id))
            .collect();
        assert_eq!(owner["yamada"], Some(PersonId(1)), "staff number");
        assert_eq!(
            owner["sato"],
            Some(PersonId(2)),
            "name and kana (half width)"
        );
        assert_eq!(
            owner["suzuki-j"],
            Some(PersonId(3)),
            "kana tells them apart"
        );
        assert_eq!(owner["suzuki"], None, "two of that name, no kana");
        assert_eq!(owner["tanaka"], None, "a kana that differs does not link");
        assert_eq!(owner["nobody"], None);
        // Only a unique name is offered; the kana mismatch is still worth a look.
        assert_eq!(p.candidates, vec![("tanaka".to_string(), PersonId(5))]);
        assert_eq!(p.unlinked, ["suzuki", "tanaka", "nobody"]);
    }

    #[test]
    fn what_the_source_does_not_say_is_kept() {
        let today = date!(2026 - 12 - 01);
        let mut old = Account::new(SystemId(1), "yamada");
        old.id = AccountId(7);
        old.is_admin = true;
        old.last_login_on = Some(date!(2026 - 11 - 01));
        let mut gone = Account::new(SystemId(1), "gone");
        gone.id = AccountId(8);
        let mut s = src("YAMADA", "", "", None);
        s.enabled = false;
        let p = plan_accounts(
            &[s.clone()],
            SystemId(1),
            &[old.clone(), gone.clone()],
            &[],
            today,
            false,
        )
        .unwrap();
        let (_, after) = &p.change[0];
        assert!(after.is_admin, "admin not in the source: kept");
        assert!(!after.enabled && after.disabled_on == Some(today));
        assert_eq!(after.last_login_on, Some(date!(2026 - 11 - 01)));
        assert!(
            p.disable.is_empty(),
            "missing accounts kept without disable_missing"
        );
        let p = plan_accounts(&[s], SystemId(1), &[old, gone], &[], today, true).unwrap();
        assert_eq!(p.disable.len(), 1);
        assert_eq!(p.disable[0].1.login_id, "gone");
        let dup = [src("a", "", "", None), src("A", "", "", None)];
        assert_eq!(
            plan_accounts(&dup, SystemId(1), &[], &[], today, true),
            Err(SnapshotError::DuplicateLogin("A".into()))
        );
    }
}
