//! Sigma strings with wildcards (`*`, `?`, `\` escapes) and the compiled sets that match many
//! of them at once: exact texts in a hash set, prefixes and suffixes, one Aho-Corasick automaton
//! for every "contains" pattern of a field, and one regex for the rest.

use aho_corasick::AhoCorasick;
use regex::Regex;
use rustc_hash::FxHashSet;

/// One piece of a Sigma string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Lit(char),
    /// `*`: any run of characters.
    Star,
    /// `?`: exactly one character.
    One,
}

/// A Sigma string: literal characters and wildcards.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SigmaString(pub(crate) Vec<Token>);

impl SigmaString {
    /// Reads wildcards and escapes as pySigma does: `\` escapes `*`, `?` and `\`; before any
    /// other character it is a plain backslash (`C:\Windows`).
    pub(crate) fn parse(s: &str) -> SigmaString {
        let mut out = Vec::with_capacity(s.len());
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => out.push(Token::Star),
                '?' => out.push(Token::One),
                '\\' => match chars.peek() {
                    Some(&n @ ('*' | '?' | '\\')) => {
                        chars.next();
                        out.push(Token::Lit(n));
                    }
                    _ => out.push(Token::Lit('\\')),
                },
                c => out.push(Token::Lit(c)),
            }
        }
        SigmaString(out)
    }

    /// The text itself, without wildcards.
    pub(crate) fn literal(s: &str) -> SigmaString {
        SigmaString(s.chars().map(Token::Lit).collect())
    }

    /// The literal text when there is no wildcard.
    pub(crate) fn as_plain(&self) -> Option<String> {
        self.0
            .iter()
            .map(|t| match t {
                Token::Lit(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn starts_with_star(&self) -> bool {
        self.0.first() == Some(&Token::Star)
    }

    pub(crate) fn ends_with_star(&self) -> bool {
        self.0.last() == Some(&Token::Star)
    }

    pub(crate) fn wrap(mut self, before: bool, after: bool) -> SigmaString {
        if before && !self.starts_with_star() {
            self.0.insert(0, Token::Star);
        }
        if after && !self.ends_with_star() {
            self.0.push(Token::Star);
        }
        self
    }

    /// The longest run of literal characters, folded: a substring every value the pattern
    /// matches (case-insensitively) contains. `None` when it is empty or not ASCII (folding
    /// other scripts is not always the same on a part as on the whole).
    pub(crate) fn needle(&self) -> Option<String> {
        let mut best = String::new();
        let mut run = String::new();
        for t in &self.0 {
            match t {
                Token::Lit(c) => run.push(*c),
                Token::Star | Token::One => {
                    if run.len() > best.len() {
                        best = std::mem::take(&mut run);
                    }
                    run.clear();
                }
            }
        }
        if run.len() > best.len() {
            best = run;
        }
        (!best.is_empty() && best.is_ascii()).then(|| best.to_ascii_lowercase())
    }

    /// Classifies the pattern for the fast paths.
    fn shape(&self) -> Shape {
        let n = self.0.len();
        let inner = |from: usize, to: usize| -> Option<String> {
            SigmaString(self.0.get(from..to)?.to_vec()).as_plain()
        };
        if let Some(p) = self.as_plain() {
            return Shape::Exact(p);
        }
        let lead = self.starts_with_star();
        let trail = self.ends_with_star();
        match (lead, trail) {
            (true, true) if n >= 2 => {
                if let Some(p) = inner(1, n - 1) {
                    return Shape::Contains(p);
                }
            }
            (false, true) => {
                if let Some(p) = inner(0, n - 1) {
                    return Shape::Prefix(p);
                }
            }
            (true, false) => {
                if let Some(p) = inner(1, n) {
                    return Shape::Suffix(p);
                }
            }
            _ => {}
        }
        Shape::Glob
    }

    /// The pattern as an anchored regex (case folding done by the caller).
    fn to_regex(&self, lower: bool) -> String {
        let mut r = String::from("(?s)^");
        let mut lit = String::new();
        let flush = |lit: &mut String, r: &mut String| {
            if !lit.is_empty() {
                r.push_str(&regex::escape(lit));
                lit.clear();
            }
        };
        for t in &self.0 {
            match t {
                Token::Lit(c) => {
                    if lower {
                        lit.extend(c.to_lowercase());
                    } else {
                        lit.push(*c);
                    }
                }
                Token::Star => {
                    flush(&mut lit, &mut r);
                    r.push_str(".*");
                }
                Token::One => {
                    flush(&mut lit, &mut r);
                    r.push('.');
                }
            }
        }
        flush(&mut lit, &mut r);
        r.push('$');
        r
    }
}

enum Shape {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    Glob,
}

/// Lower-cases for case-insensitive comparison (the event side does the same once per field).
pub(crate) fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// The automaton of one rule's substrings: a contiguous NFA, which builds several times faster
/// than a DFA and searches nearly as fast on these short lists (the prefilter already keeps
/// most rules from being searched at all). Loading thousands of rules is what it saves.
fn small_automaton(needles: &[String]) -> Result<AhoCorasick, TooBig> {
    let kind = if needles.len() <= DFA_NEEDLES {
        aho_corasick::AhoCorasickKind::DFA
    } else {
        aho_corasick::AhoCorasickKind::ContiguousNFA
    };
    AhoCorasick::builder()
        .kind(Some(kind))
        .build(needles)
        .map_err(|e| TooBig(e.to_string()))
}

const DFA_NEEDLES: usize = 8;

/// Many Sigma strings of one field, any of which may match.
#[derive(Debug)]
pub(crate) struct StringSet {
    cased: bool,
    /// A substring of the folded value that every pattern needs (one per pattern), when each
    /// has one: the rule prefilter reads these.
    pub(crate) needles: Option<Vec<String>>,
    exact: FxHashSet<String>,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
    contains: Option<AhoCorasick>,
    globs: Option<Regex>,
}

/// A pattern set that cannot be built (too large for the automaton or the regex engine).
#[derive(Debug)]
pub(crate) struct TooBig(pub(crate) String);

impl StringSet {
    pub(crate) fn new(patterns: &[SigmaString], cased: bool) -> Result<StringSet, TooBig> {
        let norm = |s: String| if cased { s } else { fold(&s) };
        let mut exact = FxHashSet::default();
        let mut prefixes = Vec::new();
        let mut suffixes = Vec::new();
        let mut contains = Vec::new();
        let mut globs = Vec::new();
        let mut needles = Some(Vec::new());
        for p in patterns {
            let needle = if cased { None } else { p.needle() };
            match (needle, needles.as_mut()) {
                (Some(n), Some(list)) => list.push(n),
                _ => needles = None,
            }
            match p.shape() {
                Shape::Exact(s) => {
                    exact.insert(norm(s));
                }
                Shape::Prefix(s) => prefixes.push(norm(s)),
                Shape::Suffix(s) => suffixes.push(norm(s)),
                Shape::Contains(s) => contains.push(norm(s)),
                Shape::Glob => globs.push(p.to_regex(!cased)),
            }
        }
        let contains = if contains.is_empty() {
            None
        } else {
            Some(small_automaton(&contains)?)
        };
        let globs = if globs.is_empty() {
            None
        } else {
            Some(Regex::new(&globs.join("|")).map_err(|e| TooBig(e.to_string()))?)
        };
        Ok(StringSet {
            cased,
            needles: needles.filter(|n| !n.is_empty()),
            exact,
            prefixes,
            suffixes,
            contains,
            globs,
        })
    }

    /// Whether any pattern matches; `raw` is the value, `lower` its folded form.
    pub(crate) fn is_match(&self, raw: &str, lower: &str) -> bool {
        let s = if self.cased { raw } else { lower };
        self.exact.contains(s)
            || self.prefixes.iter().any(|p| s.starts_with(p.as_str()))
            || self.suffixes.iter().any(|p| s.ends_with(p.as_str()))
            || self.contains.as_ref().is_some_and(|ac| ac.is_match(s))
            || self.globs.as_ref().is_some_and(|r| r.is_match(s))
    }
}

/// Every one of several plain substrings (`|contains|all`), found in one pass.
#[derive(Debug)]
pub(crate) struct AllContains {
    cased: bool,
    count: usize,
    ac: AhoCorasick,
    /// The longest needle, folded, when not cased and ASCII (for the rule prefilter).
    pub(crate) needle: Option<String>,
}

impl AllContains {
    pub(crate) fn new(needles: &[String], cased: bool) -> Result<AllContains, TooBig> {
        let mut needles: Vec<String> = needles
            .iter()
            .map(|s| if cased { s.clone() } else { fold(s) })
            .collect();
        needles.sort();
        needles.dedup();
        let ac = small_automaton(&needles)?;
        let needle = needles
            .iter()
            .max_by_key(|n| n.len())
            .filter(|n| !cased && !n.is_empty() && n.is_ascii())
            .map(|n| n.to_ascii_lowercase());
        Ok(AllContains {
            cased,
            count: needles.len(),
            ac,
            needle,
        })
    }

    pub(crate) fn is_match(&self, raw: &str, lower: &str) -> bool {
        let s = if self.cased { raw } else { lower };
        let mut seen = vec![false; self.count];
        let mut left = self.count;
        for m in self.ac.find_overlapping_iter(s) {
            if let Some(slot) = seen.get_mut(m.pattern().as_usize())
                && !*slot
            {
                *slot = true;
                left -= 1;
                if left == 0 {
                    return true;
                }
            }
        }
        left == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(p: &[&str]) -> StringSet {
        let p: Vec<SigmaString> = p.iter().map(|s| SigmaString::parse(s)).collect();
        StringSet::new(&p, false).unwrap()
    }

    fn m(s: &StringSet, v: &str) -> bool {
        s.is_match(v, &fold(v))
    }

    #[test]
    fn wildcards_and_escapes() {
        assert!(m(&set(&["*\\cmd.exe"]), "C:\\Windows\\CMD.EXE"));
        assert!(!m(&set(&["*\\cmd.exe"]), "C:\\Windows\\cmd.exe.bak"));
        assert!(m(&set(&["c:\\win*"]), "C:\\Windows"));
        assert!(m(&set(&["*power*"]), "x PowerShell y"));
        assert!(m(&set(&["a?c"]), "abc"));
        assert!(!m(&set(&["a?c"]), "abbc"));
        assert!(m(&set(&["a*c*e"]), "abcde"));
        // Escaped wildcards are literal.
        assert!(m(&set(&["a\\*b"]), "a*b"));
        assert!(!m(&set(&["a\\*b"]), "axb"));
        assert!(m(&set(&["what\\?"]), "what?"));
        assert!(!m(&set(&["what\\?"]), "whatx"));
        // `\\` is one backslash; `\\*` a backslash then a wildcard.
        assert!(m(&set(&["c:\\\\*"]), "c:\\temp"));
        assert!(m(&set(&["\\\\server"]), "\\server"));
        // A backslash before other characters stays.
        assert_eq!(
            SigmaString::parse("C:\\Windows").as_plain().as_deref(),
            Some("C:\\Windows")
        );
        // Non-ASCII folds too.
        assert!(m(&set(&["*ÄBC*"]), "xäbcx"));
        // Empty string matches only empty.
        assert!(m(&set(&[""]), ""));
        assert!(!m(&set(&[""]), "x"));
    }

    #[test]
    fn needles_are_the_longest_literal_runs() {
        let n = |p: &str| SigmaString::parse(p).needle();
        assert_eq!(n("*\\CertUtil.exe").as_deref(), Some("\\certutil.exe"));
        assert_eq!(n("ab*cdef?g").as_deref(), Some("cdef"));
        assert_eq!(n("*"), None);
        assert_eq!(n("*日本語*"), None);
        assert!(set(&["*a*", "b"]).needles.is_some());
        assert!(set(&["*a*", "*"]).needles.is_none());
        let p = [SigmaString::parse("ABC")];
        assert!(StringSet::new(&p, true).unwrap().needles.is_none(), "cased");
    }

    #[test]
    fn all_contains() {
        let a = AllContains::new(&["abc".into(), "bcd".into(), "X".into()], false).unwrap();
        assert!(a.is_match("abcdx", "abcdx"));
        assert!(!a.is_match("abcd", "abcd"));
    }
}
