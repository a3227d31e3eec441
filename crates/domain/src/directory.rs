//! A directory (Active Directory, or another LDAP server) as read at one sync, and what a sync
//! does to the ledger's accounts of the system the directory stands for.
//!
//! AD writes times as FILETIME (100-ns ticks since 1601-01-01 UTC), intervals as negative
//! ticks, and the state of an account as `userAccountControl` flags; admin rights come from
//! membership, often through nested groups. Everything here is pure: the server reads the
//! directory, the service applies the [`SyncPlan`] in one transaction.

use crate::SystemId;
pub use crate::account_source::{SnapshotError, SyncPlan};
use crate::account_source::{SourceAccount, plan_accounts};
use crate::ledger::{Account, PasswordPolicy, Person};
use std::collections::{HashMap, HashSet};
use time::{Date, OffsetDateTime, UtcOffset};

/// `userAccountControl`: the account is disabled.
pub const UAC_ACCOUNTDISABLE: u32 = 0x2;
/// `userAccountControl`: the account is locked out.
pub const UAC_LOCKOUT: u32 = 0x10;
/// `userAccountControl`: the password never expires.
pub const UAC_DONT_EXPIRE_PASSWORD: u32 = 0x1_0000;

/// Ticks between 1601-01-01 and 1970-01-01, in ms.
const FILETIME_UNIX_MS: i64 = 11_644_473_600_000;
const TICKS_PER_MS: i64 = 10_000;
const TICKS_PER_DAY: i64 = 864_000_000_000;

/// A FILETIME (`lastLogonTimestamp`, `pwdLastSet` …) as Unix ms. `0` and the largest value
/// mean "never" in AD.
pub fn filetime_ms(ticks: i64) -> Option<i64> {
    if ticks <= 0 || ticks == i64::MAX {
        return None;
    }
    Some(ticks / TICKS_PER_MS - FILETIME_UNIX_MS)
}

/// An AD interval (`maxPwdAge`, `lockoutDuration`: negative ticks) in whole days. `0` and the
/// smallest value mean "none" (a password that never expires, a lockout until an admin acts).
pub fn interval_days(ticks: i64) -> Option<i64> {
    if ticks == 0 || ticks == i64::MIN {
        return None;
    }
    Some(ticks.unsigned_abs() as i64 / TICKS_PER_DAY)
}

/// A user entry as read from the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    pub dn: String,
    /// `sAMAccountName` (AD) or `uid`.
    pub login: String,
    pub display_name: String,
    /// `employeeNumber` / `employeeID`: the staff number the roster uses.
    pub staff_no: Option<String>,
    /// `userAccountControl`; absent on directories without it (then the entry counts as enabled).
    pub uac: Option<u32>,
    pub last_logon_ms: Option<i64>,
    pub pwd_last_set_ms: Option<i64>,
}

impl DirectoryUser {
    fn flag(&self, f: u32) -> bool {
        self.uac.is_some_and(|u| u & f != 0)
    }
    pub fn enabled(&self) -> bool {
        !self.flag(UAC_ACCOUNTDISABLE)
    }
    pub fn locked_out(&self) -> bool {
        self.flag(UAC_LOCKOUT)
    }
    pub fn password_never_expires(&self) -> bool {
        self.flag(UAC_DONT_EXPIRE_PASSWORD)
    }
}

/// A group entry: its members are DNs of users or of other groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryGroup {
    pub dn: String,
    /// `cn` (or `sAMAccountName`), as admin-group names are matched.
    pub name: String,
    pub members: Vec<String>,
}

/// The domain's password and lockout policy (AD's domain object), in ledger terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainPolicy {
    pub min_length: Option<i64>,
    pub history: Option<i64>,
    /// `None`: passwords never expire.
    pub max_age_days: Option<i64>,
    /// `Some(0)`: accounts never lock.
    pub lockout_threshold: Option<i64>,
    /// `pwdProperties` bit 1 (DOMAIN_PASSWORD_COMPLEX).
    pub complex: Option<bool>,
}

impl DomainPolicy {
    /// The policy as the ledger's system records it (2-⑦, 2-⑧).
    pub fn password_policy(&self) -> PasswordPolicy {
        PasswordPolicy {
            min_length: self.min_length,
            complexity: self.complex,
            max_age_days: self.max_age_days,
            history: self.history,
            lockout_attempts: self.lockout_threshold,
        }
    }
}

/// Everything one sync read. A sync is applied only when the whole directory was read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub users: Vec<DirectoryUser>,
    pub groups: Vec<DirectoryGroup>,
    pub policy: Option<DomainPolicy>,
}

/// A DN as LDAP compares it: case and the spaces around `,` and `=` do not count.
pub fn dn_key(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| {
            rdn.split('=')
                .map(|p| p.trim().to_lowercase())
                .collect::<Vec<_>>()
                .join("=")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The users with admin rights: members of a group named in `admin_groups` (ignoring case),
/// directly or through groups nested to any depth (cycles are harmless). Returns DN keys.
pub fn administrators(snapshot: &Snapshot, admin_groups: &[String]) -> HashSet<String> {
    let wanted: HashSet<String> = admin_groups.iter().map(|g| g.to_lowercase()).collect();
    let groups: HashMap<String, &DirectoryGroup> =
        snapshot.groups.iter().map(|g| (dn_key(&g.dn), g)).collect();
    let mut stack: Vec<String> = snapshot
        .groups
        .iter()
        .filter(|g| wanted.contains(&g.name.to_lowercase()))
        .map(|g| dn_key(&g.dn))
        .collect();
    let mut seen: HashSet<String> = stack.iter().cloned().collect();
    let mut out = HashSet::new();
    while let Some(g) = stack.pop() {
        let Some(group) = groups.get(&g) else {
            continue;
        };
        for m in &group.members {
            let k = dn_key(m);
            if groups.contains_key(&k) {
                if seen.insert(k.clone()) {
                    stack.push(k);
                }
            } else {
                out.insert(k);
            }
        }
    }
    out
}

/// The plan of a sync of `snapshot` into `system`, whose current accounts are `existing`.
///
/// The directory owns whether an account is enabled, whether it is an admin, when it last
/// logged on, and its password's state (last set, never expires, locked out). The ledger keeps
/// what people set: the kind (shared, vendor …), two-factor, the admin approval, notes, and a
/// person link made by hand. A new account links to the person with its staff number; enabled
/// accounts gone from the directory are disabled today.
pub fn plan(
    snapshot: &Snapshot,
    system: SystemId,
    existing: &[Account],
    persons: &[Person],
    admins: &HashSet<String>,
    today: Date,
    offset: UtcOffset,
) -> Result<SyncPlan, SnapshotError> {
    let day = |ms: i64| {
        OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
            .ok()
            .map(|t| t.to_offset(offset).date())
    };
    let source: Vec<SourceAccount> = snapshot
        .users
        .iter()
        .map(|u| SourceAccount {
            login: u.login.clone(),
            name: u.display_name.clone(),
            kana: String::new(),
            staff_no: u.staff_no.clone(),
            enabled: u.enabled(),
            is_admin: Some(admins.contains(&dn_key(&u.dn))),
            last_login_on: u.last_logon_ms.and_then(day),
            pw_last_set_on: u.pwd_last_set_ms.and_then(day),
            pw_never_expires: Some(u.password_never_expires()),
            locked_out: Some(u.locked_out()),
        })
        .collect();
    plan_accounts(&source, system, existing, persons, today, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{AccountKind, JobType};
    use crate::{AccountId, PersonId};
    use time::macros::{date, offset};

    const JST: UtcOffset = offset!(+9);

    fn user(login: &str, staff: Option<&str>, uac: u32) -> DirectoryUser {
        DirectoryUser {
            dn: format!("CN={login},OU=Staff,DC=clinic,DC=example"),
            login: login.into(),
            display_name: String::new(),
            staff_no: staff.map(Into::into),
            uac: Some(uac),
            last_logon_ms: None,
            pwd_last_set_ms: None,
        }
    }

    fn person(id: i64, staff: &str, name: &str) -> Person {
        Person {
            id: PersonId(id),
            staff_no: staff.into(),
            name: name.into(),
            name_kana: String::new(),
            job: JobType::Other,
            department: String::new(),
            joined_on: None,
            left_on: None,
            notes: String::new(),
        }
    }

    fn group(name: &str, members: &[&str]) -> DirectoryGroup {
        DirectoryGroup {
            dn: format!("CN={name},OU=Groups,DC=clinic,DC=example"),
            name: name.into(),
            members: members.iter().map(|m| m.to_string()).collect(),
        }
    }

    #[test]
    fn filetimes_and_intervals_read_as_ad_writes_them() {
        // 2026-11-20 00:00:00 UTC.
        assert_eq!(
            filetime_ms(134_396_064_000_000_000),
            Some(1_795_132_800_000)
        );
        assert_eq!(filetime_ms(0), None);
        assert_eq!(filetime_ms(i64::MAX), None);
        assert_eq!(interval_days(-36_288_000_000_000), Some(42));
        assert_eq!(interval_days(0), None);
        assert_eq!(interval_days(i64::MIN), None);
    }

    #[test]
    fn account_control_flags() {
        assert!(user("a", None, 512).enabled());
        assert!(!user("a", None, 514).enabled());
        assert!(user("a", None, 66048).password_never_expires());
        assert!(user("a", None, 528).locked_out());
        let plain = DirectoryUser {
            uac: None,
            ..user("a", None, 0)
        };
        assert!(plain.enabled() && !plain.locked_out());
    }

    #[test]
    fn admins_come_through_nested_groups_and_cycles_end() {
        let base = "OU=Groups,DC=clinic,DC=example";
        let s = Snapshot {
            groups: vec![
                group(
                    "Domain Admins",
                    &["CN=tanaka,OU=Staff,DC=clinic,DC=example"],
                ),
                group(
                    "Administrators",
                    &[
                        &format!("cn=Domain Admins, {base}"),
                        &format!("CN=IT Admins,{base}"),
                    ],
                ),
                group(
                    "IT Admins",
                    &[
                        "CN=kobayashi,OU=Staff,DC=clinic,DC=example",
                        &format!("CN=Administrators,{base}"),
                    ],
                ),
                group("Staff", &["CN=yamada,OU=Staff,DC=clinic,DC=example"]),
            ],
            ..Default::default()
        };
        let admins = administrators(&s, &["administrators".into()]);
        let mut got: Vec<_> = admins.into_iter().collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                "cn=kobayashi,ou=staff,dc=clinic,dc=example",
                "cn=tanaka,ou=staff,dc=clinic,dc=example"
            ]
        );
    }

    fn account(id: i64, login: &str, enabled: bool) -> Account {
        Account {
            id: AccountId(id),
            system_id: SystemId(1),
            login_id: login.into(),
            person_id: None,
            kind: AccountKind::Shared,
            is_admin: false,
            enabled,
            last_login_on: None,
            two_factor: true,
            created_on: None,
            disabled_on: None,
            pw_last_set_on: None,
            pw_never_expires: false,
            locked_out: false,
            admin_approved_by: None,
            admin_approved_on: None,
            notes: "by hand".into(),
        }
    }

    #[test]
    fn a_sync_adds_changes_and_disables_and_keeps_what_people_set() {
        let today = date!(2026 - 12 - 01);
        let mut yamada = user("yamada.taro", Some("S0001"), 512);
        // 2026-11-20 00:00 UTC = 09:00 JST.
        yamada.last_logon_ms = Some(1_795_132_800_000);
        let mut sato = user("sato.hanako", Some("S0002"), 514);
        sato.display_name = "佐藤 花子".into();
        let mut nobody = user("uketsuke", None, 512);
        nobody.display_name = "受付　共用".into();
        let s = Snapshot {
            users: vec![yamada, sato, nobody],
            ..Default::default()
        };
        let existing = vec![
            account(10, "Sato.Hanako", true),
            account(11, "gone.user", true),
            account(12, "old.disabled", false),
        ];
        let persons = vec![
            person(1, "S0001", "山田 太郎"),
            person(2, "S0002", "佐藤花子"),
            person(3, "", "受付 共用"),
        ];
        let admins: HashSet<String> = [dn_key("CN=yamada.taro,OU=Staff,DC=clinic,DC=example")]
            .into_iter()
            .collect();
        let p = plan(&s, SystemId(1), &existing, &persons, &admins, today, JST).unwrap();

        assert_eq!(p.add.len(), 2);
        let y = &p.add[0];
        assert_eq!(y.login_id, "yamada.taro");
        assert_eq!(y.person_id, Some(PersonId(1)));
        assert!(y.is_admin && y.enabled);
        assert_eq!(y.last_login_on, Some(date!(2026 - 11 - 20)));
        assert_eq!(y.kind, AccountKind::Personal);
        let u = &p.add[1];
        assert_eq!(u.person_id, None);
        assert_eq!(p.candidates, vec![("uketsuke".to_string(), PersonId(3))]);
        assert_eq!(p.unlinked, vec!["uketsuke".to_string()]);

        // The existing account is matched ignoring case; the directory disabled it.
        let (before, after) = &p.change[0];
        assert_eq!(before.id, AccountId(10));
        assert!(!after.enabled);
        assert_eq!(after.disabled_on, Some(today));
        assert_eq!(after.person_id, Some(PersonId(2)));
        assert_eq!(after.kind, AccountKind::Shared, "the ledger keeps the kind");
        assert!(after.two_factor);
        assert_eq!(after.notes, "by hand");

        // Gone from the directory: disabled; an account already disabled stays as it is.
        assert_eq!(p.disable.len(), 1);
        assert_eq!(p.disable[0].1.login_id, "gone.user");
        assert!(!p.disable[0].1.enabled);
        assert_eq!(p.unchanged, 0);

        // A second sync of the same directory over the result changes nothing.
        let mut after_sync: Vec<Account> = existing.clone();
        after_sync[0] = after.clone();
        after_sync[1] = p.disable[0].1.clone();
        for (i, a) in p.add.iter().enumerate() {
            let mut a = a.clone();
            a.id = AccountId(20 + i as i64);
            after_sync.push(a);
        }
        let again = plan(&s, SystemId(1), &after_sync, &persons, &admins, today, JST).unwrap();
        assert!(again.add.is_empty() && again.change.is_empty() && again.disable.is_empty());
        assert_eq!(again.unchanged, 3);
    }

    #[test]
    fn duplicate_logins_refuse_the_snapshot() {
        let s = Snapshot {
            users: vec![user("a.b", None, 512), user("A.B", None, 512)],
            ..Default::default()
        };
        let e = plan(
            &s,
            SystemId(1),
            &[],
            &[],
            &HashSet::new(),
            date!(2026 - 12 - 01),
            JST,
        )
        .unwrap_err();
        assert_eq!(e, SnapshotError::DuplicateLogin("A.B".into()));
        assert_eq!(e.code(), "DIR0010");
    }

    #[test]
    fn the_domain_policy_reads_as_the_ledger_policy() {
        let p = DomainPolicy {
            min_length: Some(8),
            history: Some(0),
            max_age_days: interval_days(-36_288_000_000_000),
            lockout_threshold: Some(0),
            complex: Some(true),
        }
        .password_policy();
        assert_eq!(p.min_length, Some(8));
        assert_eq!(p.max_age_days, Some(42));
        assert_eq!(p.history, Some(0));
        assert_eq!(p.lockout_attempts, Some(0));
        assert_eq!(p.complexity, Some(true));
    }
}
