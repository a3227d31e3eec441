//! 非常時（ブレークグラス）用アカウント (guideline システム運用編 11): the emergency accounts of
//! each system, who holds their sealed credentials and where they are kept, every use (seen in
//! the logs or declared), and whether the password has been changed and sealed again since.
//!
//! Pure: the checks on a registration and on a declared use, and the state of an account.

/// What is recorded of an emergency account's sealed credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Custody {
    /// Who holds the sealed envelope (or the split halves), one per line.
    pub holders: Vec<String>,
    /// Where it is kept (e.g. 事務長室の金庫).
    pub location: String,
    pub notes: String,
}

/// Why a registration or a use is refused. Codes are `BG00xx` in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakGlassError {
    /// Nobody is named as holding the credentials.
    NoHolder,
    /// No place of keeping.
    NoLocation,
    /// The account is not an emergency account of the ledger.
    NotEmergency,
    /// A declared use needs the reason (the emergency it answered).
    NoReason,
    /// The time of the use cannot be read.
    BadTime,
    /// The use is later than now.
    FutureUse,
    /// The account is not registered yet (custody first).
    NotRegistered,
    /// A line is too long.
    TooLong,
}

impl BreakGlassError {
    pub fn code(self) -> &'static str {
        match self {
            BreakGlassError::NoHolder => "BG0001",
            BreakGlassError::NoLocation => "BG0002",
            BreakGlassError::NotEmergency => "BG0003",
            BreakGlassError::NoReason => "BG0004",
            BreakGlassError::BadTime => "BG0005",
            BreakGlassError::FutureUse => "BG0006",
            BreakGlassError::NotRegistered => "BG0007",
            BreakGlassError::TooLong => "BG0008",
        }
    }

    /// The form field the refusal is about.
    pub fn field(self) -> &'static str {
        match self {
            BreakGlassError::NoHolder => "holders",
            BreakGlassError::NoLocation => "location",
            BreakGlassError::NotEmergency | BreakGlassError::NotRegistered => "account",
            BreakGlassError::NoReason => "reason",
            BreakGlassError::BadTime | BreakGlassError::FutureUse => "at",
            BreakGlassError::TooLong => "notes",
        }
    }
}

const MAX_LINE: usize = 200;

/// Reads the custody form: holders one per line (blank lines dropped), a place, notes.
pub fn custody(holders: &str, location: &str, notes: &str) -> Result<Custody, BreakGlassError> {
    let holders: Vec<String> = holders
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if holders.is_empty() {
        return Err(BreakGlassError::NoHolder);
    }
    let location = location.trim();
    if location.is_empty() {
        return Err(BreakGlassError::NoLocation);
    }
    if holders.iter().any(|h| h.chars().count() > MAX_LINE)
        || location.chars().count() > MAX_LINE
        || notes.chars().count() > 4000
    {
        return Err(BreakGlassError::TooLong);
    }
    Ok(Custody {
        holders,
        location: location.to_string(),
        notes: notes.trim().to_string(),
    })
}

/// Where an emergency account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Nobody is recorded as holding its credentials.
    Unregistered,
    /// Sealed, and not used since.
    Sealed,
    /// Used after it was last sealed: the password must be changed and sealed again.
    UsedSinceSealed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Unregistered => "unregistered",
            State::Sealed => "sealed",
            State::UsedSinceSealed => "used",
        }
    }
}

/// The state of an account sealed at `sealed_ms` (None: not registered) whose last use was at
/// `last_use_ms`. A use at the very moment of sealing counts as before it.
pub fn state(sealed_ms: Option<i64>, last_use_ms: Option<i64>) -> State {
    match (sealed_ms, last_use_ms) {
        (None, _) => State::Unregistered,
        (Some(s), Some(u)) if u > s => State::UsedSinceSealed,
        (Some(_), _) => State::Sealed,
    }
}

/// Checks a declared use: a reason, and a time not later than now.
pub fn check_use(reason: &str, at_ms: i64, now_ms: i64) -> Result<(), BreakGlassError> {
    if reason.trim().is_empty() {
        return Err(BreakGlassError::NoReason);
    }
    if reason.chars().count() > 4000 {
        return Err(BreakGlassError::TooLong);
    }
    // A minute of slack for a clock that is a little ahead of the server's.
    if at_ms > now_ms + 60_000 {
        return Err(BreakGlassError::FutureUse);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custody_needs_a_holder_and_a_place() {
        let c = custody("事務長 山本\n\n 看護部長 田中 \n", " 事務長室の金庫 ", "").unwrap();
        assert_eq!(c.holders, ["事務長 山本", "看護部長 田中"]);
        assert_eq!(c.location, "事務長室の金庫");
        assert_eq!(custody(" \n", "金庫", ""), Err(BreakGlassError::NoHolder));
        assert_eq!(custody("山本", "  ", ""), Err(BreakGlassError::NoLocation));
        assert_eq!(
            custody(&"長".repeat(201), "金庫", ""),
            Err(BreakGlassError::TooLong)
        );
        assert_eq!(BreakGlassError::NoHolder.field(), "holders");
    }

    #[test]
    fn a_use_after_sealing_flags_the_account_until_it_is_sealed_again() {
        assert_eq!(state(None, Some(5)), State::Unregistered);
        assert_eq!(state(Some(10), None), State::Sealed);
        assert_eq!(state(Some(10), Some(9)), State::Sealed);
        assert_eq!(state(Some(10), Some(10)), State::Sealed);
        assert_eq!(state(Some(10), Some(11)), State::UsedSinceSealed);
        // Sealed again after the use.
        assert_eq!(state(Some(12), Some(11)), State::Sealed);
    }

    #[test]
    fn a_declared_use_needs_a_reason_and_a_past_time() {
        assert_eq!(check_use("", 0, 10), Err(BreakGlassError::NoReason));
        assert_eq!(
            check_use("停電", 10 + 60_001, 10),
            Err(BreakGlassError::FutureUse)
        );
        assert_eq!(
            check_use("停電時に電子カルテを参照", 10 + 60_000, 10),
            Ok(())
        );
    }
}
