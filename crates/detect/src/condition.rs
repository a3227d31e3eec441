//! The `condition` expression of a Sigma rule: `and`, `or`, `not`, parentheses, `1 of x*`,
//! `all of x*`, `1 of them`, `all of them`, resolved to selection indexes when the rule loads.

/// A condition over selections, by index into the rule's selection list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cond {
    Sel(usize),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

/// Why a condition cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CondError {
    Syntax(String),
    UnknownSelection(String),
    /// `count() > 5`, `| near`: the aggregations of Sigma 1, replaced by correlation rules.
    Aggregation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Open,
    Close,
    And,
    Or,
    Not,
    One,
    All,
    Of,
    Word(String),
}

fn lex(text: &str) -> Result<Vec<Tok>, CondError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' {
            chars.next();
            out.push(Tok::Open);
        } else if c == ')' {
            chars.next();
            out.push(Tok::Close);
        } else if c == '|' {
            return Err(CondError::Aggregation);
        } else {
            let mut w = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '(' || c == ')' || c == '|' {
                    break;
                }
                w.push(c);
                chars.next();
            }
            out.push(match w.as_str() {
                "and" => Tok::And,
                "or" => Tok::Or,
                "not" => Tok::Not,
                "1" | "any" => Tok::One,
                "all" => Tok::All,
                "of" => Tok::Of,
                _ => Tok::Word(w),
            });
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    at: usize,
    names: &'a [String],
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn or(&mut self) -> Result<Cond, CondError> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.next();
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Cond::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Cond, CondError> {
        let mut parts = vec![self.not()?];
        while self.peek() == Some(&Tok::And) {
            self.next();
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Cond::And(parts)
        })
    }

    fn not(&mut self) -> Result<Cond, CondError> {
        if self.peek() == Some(&Tok::Not) {
            self.next();
            return Ok(Cond::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Cond, CondError> {
        match self.next() {
            Some(Tok::Open) => {
                let c = self.or()?;
                match self.next() {
                    Some(Tok::Close) => Ok(c),
                    _ => Err(CondError::Syntax("missing `)`".into())),
                }
            }
            Some(q @ (Tok::One | Tok::All)) => {
                if self.next() != Some(Tok::Of) {
                    return Err(CondError::Syntax("expected `of`".into()));
                }
                let Some(Tok::Word(target)) = self.next() else {
                    return Err(CondError::Syntax("expected a selection after `of`".into()));
                };
                let picked = self.pick(&target)?;
                let sels = picked.into_iter().map(Cond::Sel).collect();
                Ok(if q == Tok::All {
                    Cond::And(sels)
                } else {
                    Cond::Or(sels)
                })
            }
            Some(Tok::Word(w)) => self
                .names
                .iter()
                .position(|n| *n == w)
                .map(Cond::Sel)
                .ok_or(CondError::UnknownSelection(w)),
            Some(t) => Err(CondError::Syntax(format!("unexpected {t:?}"))),
            None => Err(CondError::Syntax("unexpected end".into())),
        }
    }

    /// The selections `them` or a name pattern (`selection_*`) stands for.
    fn pick(&self, target: &str) -> Result<Vec<usize>, CondError> {
        let picked: Vec<usize> = if target == "them" {
            self.names
                .iter()
                .enumerate()
                .filter(|(_, n)| !n.starts_with('_'))
                .map(|(i, _)| i)
                .collect()
        } else {
            self.names
                .iter()
                .enumerate()
                .filter(|(_, n)| glob(target, n))
                .map(|(i, _)| i)
                .collect()
        };
        if picked.is_empty() {
            return Err(CondError::UnknownSelection(target.to_string()));
        }
        Ok(picked)
    }
}

/// `*` matches any run of characters in selection names (case-sensitive, like the names).
fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = rest.get(at + part.len()..).unwrap_or(""),
                None => return false,
            }
        }
    }
    true
}

/// Parses `text` against the rule's selection names (in the order the rule lists them).
pub(crate) fn parse(text: &str, names: &[String]) -> Result<Cond, CondError> {
    let toks = lex(text)?;
    let mut p = Parser { toks, at: 0, names };
    let c = p.or()?;
    if p.at < p.toks.len() {
        return Err(CondError::Syntax(format!(
            "unexpected {:?}",
            p.toks.get(p.at)
        )));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        [
            "selection",
            "selection_img",
            "filter_main",
            "filter_opt",
            "_private",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn precedence_and_quantifiers() {
        let n = names();
        assert_eq!(
            parse("selection and not 1 of filter_*", &n).unwrap(),
            Cond::And(vec![
                Cond::Sel(0),
                Cond::Not(Box::new(Cond::Or(vec![Cond::Sel(2), Cond::Sel(3)])))
            ])
        );
        assert_eq!(
            parse("selection or selection_img and filter_main", &n).unwrap(),
            Cond::Or(vec![
                Cond::Sel(0),
                Cond::And(vec![Cond::Sel(1), Cond::Sel(2)])
            ])
        );
        assert_eq!(
            parse("(selection or selection_img) and filter_main", &n).unwrap(),
            Cond::And(vec![
                Cond::Or(vec![Cond::Sel(0), Cond::Sel(1)]),
                Cond::Sel(2)
            ])
        );
        assert_eq!(
            parse("all of them", &n).unwrap(),
            Cond::And((0..4).map(Cond::Sel).collect())
        );
        assert_eq!(
            parse("1 of selection*", &n).unwrap(),
            Cond::Or(vec![Cond::Sel(0), Cond::Sel(1)])
        );
        assert_eq!(
            parse("not not selection", &n).unwrap(),
            Cond::Not(Box::new(Cond::Not(Box::new(Cond::Sel(0)))))
        );
    }

    #[test]
    fn errors() {
        let n = names();
        assert_eq!(
            parse("selection and nothing", &n),
            Err(CondError::UnknownSelection("nothing".into()))
        );
        assert_eq!(
            parse("1 of nope_*", &n),
            Err(CondError::UnknownSelection("nope_*".into()))
        );
        assert!(matches!(parse("(selection", &n), Err(CondError::Syntax(_))));
        assert!(matches!(
            parse("selection selection", &n),
            Err(CondError::Syntax(_))
        ));
        assert_eq!(
            parse("selection | count() > 5", &n),
            Err(CondError::Aggregation)
        );
    }

    #[test]
    fn globs() {
        assert!(glob("a*", "abc"));
        assert!(glob("*c", "abc"));
        assert!(glob("a*c", "abc"));
        assert!(glob("*", "x"));
        assert!(!glob("a*d", "abc"));
    }
}
