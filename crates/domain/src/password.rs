//! Password rules for mamori's own logins, following the guideline (and checklist item 2-⑦):
//! at least 13 characters, or at least 8 mixing letters, digits and symbols when two-factor
//! authentication is in use; strength estimated with zxcvbn against the person's own words.

/// What the policy demands. The defaults are the guideline's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Length that is enough on its own.
    pub long_length: usize,
    /// Length that is enough when mixed and protected by two-factor.
    pub mixed_length: usize,
    /// Minimum zxcvbn score (0–4) of a long password.
    pub min_score: u8,
    /// Minimum zxcvbn score of a short mixed password (zxcvbn caps 8 random characters at 2).
    pub min_score_mixed: u8,
    /// How many previous passwords may not be reused.
    pub history: usize,
    /// Longest accepted password (argon2 cost guard).
    pub max_length: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            long_length: 13,
            mixed_length: 8,
            min_score: 3,
            min_score_mixed: 2,
            history: 5,
            max_length: 256,
        }
    }
}

/// Who the password is for: used to reject passwords built from the person's own words.
#[derive(Debug, Clone, Default)]
pub struct PasswordContext<'a> {
    pub login_id: &'a str,
    /// Name, name in kana/romaji, facility name …
    pub user_inputs: Vec<&'a str>,
    /// The user has (or must have) two-factor authentication.
    pub two_factor: bool,
}

/// One reason a password was refused. Each has a stable code for the message catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordProblem {
    /// Shorter than 13 and not eligible for the 8-character mixed rule.
    TooShort { min: usize },
    /// 8–12 characters but not mixing letters, digits and symbols.
    NotMixed,
    /// 8–12 characters, mixed, but the user has no two-factor authentication.
    ShortNeedsTwoFactor,
    /// zxcvbn thinks it is guessable.
    TooWeak { score: u8 },
    /// Contains the login id.
    ContainsLoginId,
    /// Longer than the maximum.
    TooLong { max: usize },
    /// Same as one of the last N passwords.
    Reused,
}

impl PasswordProblem {
    pub fn code(&self) -> &'static str {
        match self {
            PasswordProblem::TooShort { .. } => "PWD0001",
            PasswordProblem::NotMixed => "PWD0002",
            PasswordProblem::ShortNeedsTwoFactor => "PWD0003",
            PasswordProblem::TooWeak { .. } => "PWD0004",
            PasswordProblem::ContainsLoginId => "PWD0005",
            PasswordProblem::TooLong { .. } => "PWD0006",
            PasswordProblem::Reused => "PWD0007",
        }
    }
}

/// Which character classes a password mixes.
fn classes(pw: &str) -> (bool, bool, bool) {
    let letter = pw.chars().any(|c| c.is_alphabetic());
    let digit = pw.chars().any(|c| c.is_ascii_digit());
    let symbol = pw
        .chars()
        .any(|c| !c.is_alphanumeric() && !c.is_whitespace());
    (letter, digit, symbol)
}

/// Checks a new password against the policy. Reuse is checked separately (it needs the hashes).
pub fn check_password(
    policy: &PasswordPolicy,
    pw: &str,
    ctx: &PasswordContext<'_>,
) -> Result<(), Vec<PasswordProblem>> {
    let mut problems = Vec::new();
    let len = pw.chars().count();
    if len > policy.max_length {
        return Err(vec![PasswordProblem::TooLong {
            max: policy.max_length,
        }]);
    }
    if len < policy.long_length {
        if len < policy.mixed_length {
            problems.push(PasswordProblem::TooShort {
                min: policy.long_length,
            });
        } else {
            let (l, d, s) = classes(pw);
            if !(l && d && s) {
                problems.push(PasswordProblem::NotMixed);
            } else if !ctx.two_factor {
                problems.push(PasswordProblem::ShortNeedsTwoFactor);
            }
        }
    }
    let login = ctx.login_id.trim().to_lowercase();
    if login.chars().count() >= 3 && pw.to_lowercase().contains(&login) {
        problems.push(PasswordProblem::ContainsLoginId);
    }
    if problems.is_empty() {
        let mut inputs: Vec<&str> = ctx.user_inputs.clone();
        inputs.push(ctx.login_id);
        inputs.retain(|s| !s.trim().is_empty());
        // zxcvbn is quadratic in length; the first 100 characters decide.
        let head: String = pw.chars().take(100).collect();
        let score = u8::from(zxcvbn::zxcvbn(&head, &inputs).score());
        let needed = if len >= policy.long_length {
            policy.min_score
        } else {
            policy.min_score_mixed
        };
        if score < needed {
            problems.push(PasswordProblem::TooWeak { score });
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(two_factor: bool) -> PasswordContext<'static> {
        PasswordContext {
            login_id: "tanaka",
            user_inputs: vec!["田中", "Tanaka Hanako", "さくら内科"],
            two_factor,
        }
    }

    #[test]
    fn long_passphrase_passes_without_two_factor() {
        let p = PasswordPolicy::default();
        assert_eq!(
            check_password(&p, "kawa-no-nagare-shizuka", &ctx(false)),
            Ok(())
        );
    }

    #[test]
    fn short_mixed_needs_two_factor() {
        let p = PasswordPolicy::default();
        assert_eq!(
            check_password(&p, "Qz7!mK2#", &ctx(false)),
            Err(vec![PasswordProblem::ShortNeedsTwoFactor])
        );
        assert_eq!(check_password(&p, "Qz7!mK2#", &ctx(true)), Ok(()));
    }

    #[test]
    fn short_unmixed_is_refused() {
        let p = PasswordPolicy::default();
        assert_eq!(
            check_password(&p, "abcdefgh12", &ctx(true)),
            Err(vec![PasswordProblem::NotMixed])
        );
        assert_eq!(
            check_password(&p, "abc", &ctx(true)),
            Err(vec![PasswordProblem::TooShort { min: 13 }])
        );
    }

    #[test]
    fn guessable_long_password_is_weak() {
        let p = PasswordPolicy::default();
        let r = check_password(&p, "passwordpassword", &ctx(false));
        assert!(matches!(r, Err(ref v) if matches!(v[..], [PasswordProblem::TooWeak { .. }])));
    }

    #[test]
    fn login_id_inside_is_refused() {
        let p = PasswordPolicy::default();
        let r = check_password(&p, "tanaka-secure-horse-77", &ctx(false));
        assert_eq!(r, Err(vec![PasswordProblem::ContainsLoginId]));
    }

    #[test]
    fn too_long_is_refused() {
        let p = PasswordPolicy::default();
        let r = check_password(&p, &"x".repeat(300), &ctx(false));
        assert_eq!(r, Err(vec![PasswordProblem::TooLong { max: 256 }]));
    }
}
