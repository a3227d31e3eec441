//! Login throttling: after repeated failures, a refusal period that grows with each further failure.
//!
//! Counters are kept per (account, source address) so that one attacker cannot lock a user out
//! from everywhere, and per source address so that one source cannot spray many accounts.
//! Time is passed in as unix milliseconds.

/// How a throttle counter behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed before the first refusal period.
    pub free_failures: u32,
    /// Length of the first refusal period, in milliseconds.
    pub base_ms: i64,
    /// Longest refusal period, in milliseconds.
    pub max_ms: i64,
    /// A counter with no failure for this long starts again from zero.
    pub forget_after_ms: i64,
}

impl ThrottlePolicy {
    /// Per account and source: 5 free failures, then 1 minute doubling up to 1 day.
    pub const ACCOUNT_SOURCE: ThrottlePolicy = ThrottlePolicy {
        free_failures: 5,
        base_ms: 60_000,
        max_ms: 86_400_000,
        forget_after_ms: 86_400_000,
    };
    /// Per source across accounts: 30 free failures, then 5 minutes doubling up to 1 day.
    pub const SOURCE: ThrottlePolicy = ThrottlePolicy {
        free_failures: 30,
        base_ms: 300_000,
        max_ms: 86_400_000,
        forget_after_ms: 86_400_000,
    };

    /// Refusal period that follows the `failures`-th consecutive failure.
    pub fn refusal_ms(&self, failures: u32) -> i64 {
        if failures < self.free_failures {
            return 0;
        }
        let doublings = (failures - self.free_failures).min(30);
        self.base_ms
            .saturating_mul(1_i64 << doublings)
            .min(self.max_ms)
    }
}

/// Stored state of one counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThrottleState {
    pub failures: u32,
    pub last_failure_ms: i64,
    pub locked_until_ms: i64,
}

/// Whether an attempt may be evaluated now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleDecision {
    Allowed,
    Refused { until_ms: i64 },
}

impl ThrottleState {
    pub fn decide(&self, now_ms: i64) -> ThrottleDecision {
        if now_ms < self.locked_until_ms {
            ThrottleDecision::Refused {
                until_ms: self.locked_until_ms,
            }
        } else {
            ThrottleDecision::Allowed
        }
    }

    /// The state after a failed attempt that was evaluated at `now_ms`.
    pub fn after_failure(&self, policy: &ThrottlePolicy, now_ms: i64) -> ThrottleState {
        let stale = now_ms.saturating_sub(self.last_failure_ms) > policy.forget_after_ms;
        let failures = if stale {
            1
        } else {
            self.failures.saturating_add(1)
        };
        let refusal = policy.refusal_ms(failures);
        ThrottleState {
            failures,
            last_failure_ms: now_ms,
            locked_until_ms: if refusal > 0 {
                now_ms.saturating_add(refusal)
            } else {
                0
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_grows_and_is_capped() {
        let p = ThrottlePolicy::ACCOUNT_SOURCE;
        assert_eq!(p.refusal_ms(4), 0);
        assert_eq!(p.refusal_ms(5), 60_000);
        assert_eq!(p.refusal_ms(6), 120_000);
        assert_eq!(p.refusal_ms(7), 240_000);
        assert_eq!(p.refusal_ms(100), 86_400_000);
    }

    #[test]
    fn thirty_failures_then_refused() {
        let p = ThrottlePolicy::ACCOUNT_SOURCE;
        let mut s = ThrottleState::default();
        let mut now = 1_700_000_000_000;
        let mut evaluated = 0;
        for _ in 0..30 {
            if s.decide(now) == ThrottleDecision::Allowed {
                s = s.after_failure(&p, now);
                evaluated += 1;
            }
            now += 1000;
        }
        assert_eq!(evaluated, 5, "only the free failures are evaluated");
        assert!(matches!(s.decide(now), ThrottleDecision::Refused { .. }));
        // After the refusal period the next attempt is evaluated again.
        assert_eq!(s.decide(s.locked_until_ms), ThrottleDecision::Allowed);
    }

    #[test]
    fn old_failures_are_forgotten() {
        let p = ThrottlePolicy::ACCOUNT_SOURCE;
        let s = ThrottleState {
            failures: 4,
            last_failure_ms: 0,
            locked_until_ms: 0,
        };
        let s2 = s.after_failure(&p, p.forget_after_ms + 1);
        assert_eq!(s2.failures, 1);
        assert_eq!(s2.locked_until_ms, 0);
    }
}
