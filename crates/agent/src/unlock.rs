//! Emergency unlock: when a PC that cannot reach the server must use a USB stick now, an
//! administrator reads out a one-time code over the phone and the agent verifies it without the
//! server. The code is an HMAC-SHA256 of the PC, the unlock's length and a ten-minute window
//! under a secret the PC and the server share; it is good for the window it was made in and the
//! one after (at most twenty minutes), once, and unlocks removable storage for the length chosen.
//! Five wrong codes in a row lock entry for fifteen minutes.

use mamori_proto::agent::unlock_code as code_for;
pub use mamori_proto::agent::{
    UNLOCK_LENGTHS as LENGTHS, UNLOCK_WINDOW_MS as WINDOW_MS, issue_unlock_code as issue,
};
use std::collections::BTreeSet;

/// Wrong codes in a row before entry is locked.
pub const MAX_FAILURES: u32 = 5;
/// How long entry stays locked after too many wrong codes.
pub const LOCKOUT_MS: i64 = 15 * 60 * 1000;

/// An accepted code: storage is unlocked until `until_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unlock {
    pub minutes: u32,
    pub until_ms: i64,
}

/// Why a code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnlockError {
    #[error("the code is wrong or has expired")]
    Wrong,
    #[error("the code was already used")]
    Used,
    #[error("too many wrong codes: entry is locked until {until_ms}")]
    Locked { until_ms: i64 },
}

/// The PC's side: checks codes, remembers the ones used, counts failures.
#[derive(Debug, Clone)]
pub struct Verifier {
    secret: Vec<u8>,
    pc_id: String,
    /// (window, code) of codes already accepted: a code works once.
    used: BTreeSet<(i64, String)>,
    failures: u32,
    locked_until_ms: i64,
}

impl Verifier {
    pub fn new(secret: &[u8], pc_id: &str) -> Verifier {
        Verifier {
            secret: secret.to_vec(),
            pc_id: pc_id.to_string(),
            used: BTreeSet::new(),
            failures: 0,
            locked_until_ms: 0,
        }
    }

    /// The codes already used, to keep across restarts.
    pub fn used(&self) -> impl Iterator<Item = &(i64, String)> {
        self.used.iter()
    }

    /// Restores codes used before a restart.
    pub fn remember_used(&mut self, window: i64, code: &str) {
        self.used.insert((window, code.to_string()));
    }

    /// Wrong codes in a row so far, and until when entry is locked.
    pub fn lockout(&self) -> (u32, i64) {
        (self.failures, self.locked_until_ms)
    }

    /// Restores the wrong-code count and lockout from before a restart.
    pub fn restore_lockout(&mut self, failures: u32, locked_until_ms: i64) {
        self.failures = failures;
        self.locked_until_ms = locked_until_ms;
    }

    /// Checks a code typed at `now_ms` (spaces and hyphens ignored).
    pub fn verify(&mut self, typed: &str, now_ms: i64) -> Result<Unlock, UnlockError> {
        if now_ms < self.locked_until_ms {
            return Err(UnlockError::Locked {
                until_ms: self.locked_until_ms,
            });
        }
        let code: String = typed.chars().filter(char::is_ascii_digit).collect();
        let now_window = now_ms.div_euclid(WINDOW_MS);
        // Drop what can no longer match.
        self.used.retain(|(w, _)| *w >= now_window - 1);
        for window in [now_window, now_window - 1] {
            for minutes in LENGTHS {
                if code.len() == 8 && code_for(&self.secret, &self.pc_id, minutes, window) == code {
                    if !self.used.insert((window, code.clone())) {
                        return Err(UnlockError::Used);
                    }
                    self.failures = 0;
                    return Ok(Unlock {
                        minutes,
                        until_ms: now_ms + i64::from(minutes) * 60_000,
                    });
                }
            }
        }
        self.failures += 1;
        if self.failures >= MAX_FAILURES {
            self.failures = 0;
            self.locked_until_ms = now_ms + LOCKOUT_MS;
        }
        Err(UnlockError::Wrong)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"per-pc secret from enrolment, 32 bytes";
    const T0: i64 = 1_764_650_000_000;

    #[test]
    fn a_code_unlocks_once_for_its_length_within_twenty_minutes() {
        let code = issue(SECRET, "uketsuke-pc01", 30, T0);
        assert_eq!(code.len(), 8);
        let mut v = Verifier::new(SECRET, "uketsuke-pc01");
        // Read out as "1234-5678".
        let typed = format!("{}-{}", &code[..4], &code[4..]);
        let u = v.verify(&typed, T0 + 60_000).unwrap();
        assert_eq!(u.minutes, 30);
        assert_eq!(u.until_ms, T0 + 60_000 + 30 * 60_000);
        assert_eq!(v.verify(&code, T0 + 120_000), Err(UnlockError::Used));
        // Still good in the next window, not in the one after.
        let later = issue(SECRET, "uketsuke-pc01", 60, T0);
        let next_window = (T0.div_euclid(WINDOW_MS) + 1) * WINDOW_MS + 1;
        assert_eq!(
            Verifier::new(SECRET, "uketsuke-pc01")
                .verify(&later, next_window)
                .map(|u| u.minutes),
            Ok(60)
        );
        assert_eq!(
            Verifier::new(SECRET, "uketsuke-pc01").verify(&later, next_window + WINDOW_MS),
            Err(UnlockError::Wrong)
        );
        // Another PC's code, or another secret, does not work here.
        let other = issue(SECRET, "shinsatsu-pc02", 30, T0);
        assert_eq!(
            Verifier::new(SECRET, "uketsuke-pc01").verify(&other, T0),
            Err(UnlockError::Wrong)
        );
        assert_eq!(
            Verifier::new(b"another secret", "uketsuke-pc01").verify(&code, T0),
            Err(UnlockError::Wrong)
        );
    }

    #[test]
    fn five_wrong_codes_lock_entry_for_fifteen_minutes() {
        let mut v = Verifier::new(SECRET, "uketsuke-pc01");
        for _ in 0..MAX_FAILURES {
            assert_eq!(v.verify("00000000", T0), Err(UnlockError::Wrong));
        }
        let good = issue(SECRET, "uketsuke-pc01", 15, T0);
        assert_eq!(
            v.verify(&good, T0 + 1),
            Err(UnlockError::Locked {
                until_ms: T0 + LOCKOUT_MS
            })
        );
        // After the lockout the right code works (it is made again for the new window).
        let after = T0 + LOCKOUT_MS;
        let fresh = issue(SECRET, "uketsuke-pc01", 15, after);
        assert_eq!(v.verify(&fresh, after).map(|u| u.minutes), Ok(15));
    }
}
