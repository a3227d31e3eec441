//! A rule's `detection` → selections of pre-built matchers: value modifiers are applied once
//! here (wildcards, `contains`/`startswith`/`endswith`, `all`, `windash`, `base64`,
//! `base64offset`, `utf16le`/`utf16be`/`utf16`/`wide`, `re` with `i`/`m`/`s`, `cidr`,
//! `exists`, `fieldref`, `lt`/`lte`/`gt`/`gte`, `expand`, `cased`), so matching an event does no
//! parsing.

use crate::RefuseReason;
use crate::pattern::{AllContains, SigmaString, StringSet, Token};
use base64::Engine as _;
use regex::Regex;
use std::collections::HashMap;
use std::net::IpAddr;
use yaml_rust2::Yaml;

/// An interned field name (one per distinct Sigma field name in a rule set).
pub(crate) type FieldId = u32;

/// Field names → ids, shared by every rule of a set so an event's field is read once.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    pub(crate) ids: HashMap<String, FieldId>,
    pub(crate) names: Vec<String>,
}

impl Interner {
    pub(crate) fn id(&mut self, name: &str) -> FieldId {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = FieldId::try_from(self.names.len()).unwrap_or(FieldId::MAX);
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    pub(crate) fn name(&self, id: FieldId) -> &str {
        self.names.get(id as usize).map_or("", String::as_str)
    }
}

/// What a predicate looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Field(FieldId),
    /// Every value of the event (keyword lists).
    Keywords,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Lt,
    Lte,
    Gt,
    Gte,
}

/// How a `fieldref` compares the two fields' values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefShape {
    Equal,
    Contains,
    StartsWith,
    EndsWith,
}

/// An IP network of `|cidr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Net {
    V4(u32, u32),
    V6(u128, u128),
}

impl Net {
    fn parse(s: &str) -> Option<Net> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l.trim().parse::<u32>().ok()?)),
            None => (s, None),
        };
        match addr.trim().parse::<IpAddr>().ok()? {
            IpAddr::V4(a) => {
                let len = len.unwrap_or(32);
                if len > 32 {
                    return None;
                }
                let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
                Some(Net::V4(u32::from(a) & mask, mask))
            }
            IpAddr::V6(a) => {
                let len = len.unwrap_or(128);
                if len > 128 {
                    return None;
                }
                let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
                Some(Net::V6(u128::from(a) & mask, mask))
            }
        }
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Net::V4(net, mask), IpAddr::V4(a)) => u32::from(a) & mask == *net,
            (Net::V6(net, mask), IpAddr::V6(a)) => u128::from(a) & mask == *net,
            // An IPv4-mapped IPv6 address (::ffff:10.0.0.1) against an IPv4 network.
            (Net::V4(net, mask), IpAddr::V6(a)) => a
                .to_ipv4_mapped()
                .is_some_and(|a| u32::from(a) & mask == *net),
            (Net::V6(..), IpAddr::V4(_)) => false,
        }
    }
}

/// A compiled test of one field's values.
#[derive(Debug)]
pub(crate) enum Matcher {
    /// Any of many wildcard strings.
    Strings(StringSet),
    /// Every one of several plain substrings.
    AllContains(AllContains),
    Regex(Regex),
    Cidr(Vec<Net>),
    Num(Cmp, f64),
    FieldRef {
        other: FieldId,
        shape: RefShape,
        cased: bool,
    },
    /// `|exists: true/false`.
    Exists(bool),
    /// `field: null`: absent, or present with a null value.
    Null,
    Any(Vec<Matcher>),
    All(Vec<Matcher>),
}

/// `field|modifiers: values`, all of whose conditions an event must meet.
#[derive(Debug)]
pub(crate) struct Pred {
    pub(crate) target: Target,
    pub(crate) matcher: Matcher,
}

/// One named selection: a map (its predicates all hold), a list of maps (one of them holds) or a
/// keyword list.
#[derive(Debug)]
pub(crate) struct Selection {
    pub(crate) name: String,
    /// Alternatives, each a conjunction of predicates.
    pub(crate) any: Vec<Vec<Pred>>,
}

/// Values for `|expand` placeholders (`%name%`), by name.
pub type Placeholders = HashMap<String, Vec<String>>;

#[derive(Default)]
struct Mods {
    contains: bool,
    startswith: bool,
    endswith: bool,
    all: bool,
    cased: bool,
    windash: bool,
    expand: bool,
    /// `utf16le` / `utf16be` / `utf16` (with BOM) before base64.
    encoding: Option<&'static str>,
    base64: bool,
    base64offset: bool,
    re: Option<String>,
    cidr: bool,
    exists: bool,
    fieldref: bool,
    cmp: Option<Cmp>,
}

fn parse_mods(list: &[&str]) -> Result<Mods, RefuseReason> {
    let mut m = Mods::default();
    let bad = |why: &str| RefuseReason::BadModifiers(format!("{}: {why}", list.join("|")));
    for &name in list {
        match name {
            "contains" => m.contains = true,
            "startswith" => m.startswith = true,
            "endswith" => m.endswith = true,
            "all" => m.all = true,
            "cased" => m.cased = true,
            "windash" => m.windash = true,
            "expand" => m.expand = true,
            "utf16le" | "wide" => m.encoding = Some("utf16le"),
            "utf16be" => m.encoding = Some("utf16be"),
            "utf16" => m.encoding = Some("utf16"),
            "base64" => m.base64 = true,
            "base64offset" => m.base64offset = true,
            "re" => m.re = Some(String::new()),
            "i" | "ignorecase" | "m" | "multiline" | "s" | "dotall" => match &mut m.re {
                Some(flags) => flags.push(name.chars().next().unwrap_or('i')),
                None => return Err(bad("a regex flag without `re`")),
            },
            "cidr" => m.cidr = true,
            "exists" => m.exists = true,
            "fieldref" => m.fieldref = true,
            "lt" => m.cmp = Some(Cmp::Lt),
            "lte" => m.cmp = Some(Cmp::Lte),
            "gt" => m.cmp = Some(Cmp::Gt),
            "gte" => m.cmp = Some(Cmp::Gte),
            other => return Err(RefuseReason::UnknownModifier(other.to_string())),
        }
    }
    let shaping = m.contains || m.startswith || m.endswith;
    let transforms = m.windash || m.expand || m.encoding.is_some() || m.base64 || m.base64offset;
    let special = usize::from(m.re.is_some())
        + usize::from(m.cidr)
        + usize::from(m.exists)
        + usize::from(m.fieldref)
        + usize::from(m.cmp.is_some());
    if special > 1 {
        return Err(bad("more than one of re, cidr, exists, fieldref, lt/gt"));
    }
    if (m.re.is_some() || m.cidr || m.exists || m.cmp.is_some()) && (shaping || transforms) {
        return Err(bad("re, cidr, exists and lt/gt take no other modifiers"));
    }
    if m.fieldref && transforms {
        return Err(bad("fieldref with a value transformation"));
    }
    if m.encoding.is_some() && !(m.base64 || m.base64offset) {
        return Err(bad("utf16/wide only before base64 or base64offset"));
    }
    if m.base64 && m.base64offset {
        return Err(bad("base64 and base64offset together"));
    }
    if usize::from(m.contains) + usize::from(m.startswith) + usize::from(m.endswith) > 1 {
        return Err(bad("more than one of contains, startswith, endswith"));
    }
    Ok(m)
}

/// A YAML scalar as Sigma text; `None` for null. Lists and maps are not values.
fn scalar(v: &Yaml) -> Result<Option<String>, RefuseReason> {
    match v {
        Yaml::String(s) | Yaml::Real(s) => Ok(Some(s.clone())),
        Yaml::Integer(i) => Ok(Some(i.to_string())),
        Yaml::Boolean(b) => Ok(Some(b.to_string())),
        Yaml::Null => Ok(None),
        other => Err(RefuseReason::BadValue(format!("not a value: {other:?}"))),
    }
}

fn utf16(s: &str, enc: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 2 + 2);
    if enc == "utf16" {
        out.extend([0xFF, 0xFE]);
    }
    for unit in s.encode_utf16() {
        let bytes = if enc == "utf16be" {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        };
        out.extend(bytes);
    }
    out
}

/// The three encodings of `bytes` at every offset inside a base64 stream, trimmed of the
/// characters that depend on the neighbours (as pySigma computes them).
fn base64_offsets(bytes: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END: [usize; 3] = [0, 3, 2];
    let mut out = Vec::new();
    for i in 0..3usize {
        let mut padded = vec![b' '; i];
        padded.extend_from_slice(bytes);
        let enc = base64::engine::general_purpose::STANDARD.encode(&padded);
        let start = START.get(i).copied().unwrap_or(0);
        let cut = END.get((bytes.len() + i) % 3).copied().unwrap_or(0);
        let end = enc.len().saturating_sub(cut);
        if let Some(part) = enc.get(start..end)
            && !part.is_empty()
        {
            out.push(part.to_string());
        }
    }
    out
}

/// `|windash`: every `-` or `/` that starts a word (an option) in each of its Windows spellings.
fn windash(s: &SigmaString) -> Result<Vec<SigmaString>, RefuseReason> {
    const DASHES: [char; 5] = ['-', '/', '–', '—', '―'];
    let is_word = |t: Option<&Token>| match t {
        Some(Token::Lit(c)) => c.is_alphanumeric() || *c == '_',
        _ => false,
    };
    let mut spots = Vec::new();
    for (i, t) in s.0.iter().enumerate() {
        if matches!(t, Token::Lit('-' | '/'))
            && !is_word(i.checked_sub(1).and_then(|p| s.0.get(p)))
            && is_word(s.0.get(i + 1))
        {
            spots.push(i);
        }
    }
    if spots.len() > 4 {
        return Err(RefuseReason::BadValue(
            "windash: more than 4 dashes in one value".into(),
        ));
    }
    let mut out = vec![s.clone()];
    for spot in spots {
        let mut next = Vec::with_capacity(out.len() * DASHES.len());
        for v in &out {
            for d in DASHES {
                let mut v = v.clone();
                if let Some(t) = v.0.get_mut(spot) {
                    *t = Token::Lit(d);
                }
                next.push(v);
            }
        }
        out = next;
    }
    Ok(out)
}

fn expand(s: &str, placeholders: &Placeholders) -> Result<Vec<String>, RefuseReason> {
    let mut out = vec![String::new()];
    let mut rest = s;
    while let Some(start) = rest.find('%') {
        let after = rest.get(start + 1..).unwrap_or("");
        let Some(len) = after.find('%') else { break };
        let name = after.get(..len).unwrap_or("");
        let head = rest.get(..start).unwrap_or("");
        let values = placeholders
            .get(name)
            .ok_or_else(|| RefuseReason::UnresolvedPlaceholder(name.to_string()))?;
        out = out
            .iter()
            .flat_map(|o| values.iter().map(move |v| format!("{o}{head}{v}")))
            .collect();
        rest = after.get(len + 1..).unwrap_or("");
    }
    Ok(out.into_iter().map(|o| o + rest).collect())
}

/// One value with string modifiers applied → its alternatives.
fn string_variants(
    text: &str,
    m: &Mods,
    placeholders: &Placeholders,
) -> Result<Vec<SigmaString>, RefuseReason> {
    let texts = if m.expand {
        expand(text, placeholders)?
    } else {
        vec![text.to_string()]
    };
    let mut out = Vec::new();
    for t in texts {
        let parsed = SigmaString::parse(&t);
        let mut forms = if m.windash {
            windash(&parsed)?
        } else {
            vec![parsed]
        };
        if m.base64 || m.base64offset {
            let mut encoded = Vec::new();
            for f in forms {
                let plain = f.as_plain().ok_or_else(|| {
                    RefuseReason::BadValue("base64 of a value with wildcards".into())
                })?;
                let bytes = match m.encoding {
                    Some(enc) => utf16(&plain, enc),
                    None => plain.into_bytes(),
                };
                if m.base64offset {
                    encoded.extend(
                        base64_offsets(&bytes)
                            .iter()
                            .map(|s| SigmaString::literal(s)),
                    );
                } else {
                    let e = base64::engine::general_purpose::STANDARD.encode(&bytes);
                    encoded.push(SigmaString::literal(&e));
                }
            }
            forms = encoded;
        }
        out.extend(
            forms
                .into_iter()
                .map(|f| f.wrap(m.contains || m.endswith, m.contains || m.startswith)),
        );
    }
    Ok(out)
}

fn number(text: Option<&str>) -> Result<f64, RefuseReason> {
    text.and_then(|t| t.trim().parse::<f64>().ok())
        .ok_or_else(|| RefuseReason::BadValue(format!("not a number: {text:?}")))
}

fn too_big(e: crate::pattern::TooBig) -> RefuseReason {
    RefuseReason::BadValue(format!("pattern set: {}", e.0))
}

/// Compiles `field|modifiers: value(s)`.
pub(crate) fn predicate(
    key: &str,
    value: &Yaml,
    fields: &mut Interner,
    placeholders: &Placeholders,
) -> Result<Pred, RefuseReason> {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or("");
    let mods: Vec<&str> = parts.collect();
    let mut m = parse_mods(&mods)?;
    // Keywords are searched for inside the values.
    if field.is_empty() && !(m.startswith || m.endswith || m.re.is_some()) {
        m.contains = true;
    }
    let target = if field.is_empty() {
        Target::Keywords
    } else {
        Target::Field(fields.id(field))
    };
    let values: Vec<Option<String>> = match value {
        Yaml::Array(items) => items.iter().map(scalar).collect::<Result<_, _>>()?,
        v => vec![scalar(v)?],
    };
    if values.is_empty() {
        return Err(RefuseReason::BadValue(format!("{key}: an empty list")));
    }
    let matcher = if m.exists {
        match value {
            Yaml::Boolean(b) => Matcher::Exists(*b),
            Yaml::String(s) if s == "true" || s == "false" => Matcher::Exists(s == "true"),
            _ => {
                return Err(RefuseReason::BadValue(format!(
                    "{key}: exists needs true or false"
                )));
            }
        }
    } else {
        let mut leaves = Vec::new();
        let mut strings = Vec::new();
        let mut groups: Vec<Vec<SigmaString>> = Vec::new();
        for v in &values {
            let Some(text) = v else {
                leaves.push(Matcher::Null);
                continue;
            };
            if let Some(flags) = &m.re {
                let pattern = if flags.is_empty() {
                    text.clone()
                } else {
                    format!("(?{flags}){text}")
                };
                let re = Regex::new(&pattern)
                    .map_err(|e| RefuseReason::BadRegex(first_line(&e.to_string())))?;
                leaves.push(Matcher::Regex(re));
            } else if m.cidr {
                let net = Net::parse(text)
                    .ok_or_else(|| RefuseReason::BadValue(format!("not a network: {text}")))?;
                leaves.push(Matcher::Cidr(vec![net]));
            } else if let Some(cmp) = m.cmp {
                leaves.push(Matcher::Num(cmp, number(Some(text))?));
            } else if m.fieldref {
                let shape = if m.contains {
                    RefShape::Contains
                } else if m.startswith {
                    RefShape::StartsWith
                } else if m.endswith {
                    RefShape::EndsWith
                } else {
                    RefShape::Equal
                };
                leaves.push(Matcher::FieldRef {
                    other: fields.id(text),
                    shape,
                    cased: m.cased,
                });
            } else {
                let variants = string_variants(text, &m, placeholders)?;
                if m.all {
                    groups.push(variants);
                } else {
                    strings.extend(variants);
                }
            }
        }
        if !strings.is_empty() {
            leaves.push(Matcher::Strings(
                StringSet::new(&strings, m.cased).map_err(too_big)?,
            ));
        }
        // Merge the networks of one cidr list into one matcher.
        if m.cidr && !m.all {
            let nets: Vec<Net> = leaves
                .iter()
                .flat_map(|l| match l {
                    Matcher::Cidr(n) => n.clone(),
                    _ => Vec::new(),
                })
                .collect();
            leaves.retain(|l| !matches!(l, Matcher::Cidr(_)));
            leaves.push(Matcher::Cidr(nets));
        }
        if m.all {
            if !groups.is_empty() {
                let plain: Option<Vec<String>> = groups
                    .iter()
                    .map(|g| match g.as_slice() {
                        [one] if one.starts_with_star() && one.ends_with_star() => {
                            let inner =
                                SigmaString(one.0.get(1..one.0.len().saturating_sub(1))?.to_vec());
                            inner.as_plain().filter(|p| !p.is_empty())
                        }
                        _ => None,
                    })
                    .collect();
                match plain {
                    Some(needles) if needles.len() > 1 => leaves.push(Matcher::AllContains(
                        AllContains::new(&needles, m.cased).map_err(too_big)?,
                    )),
                    _ => {
                        for g in groups {
                            leaves.push(Matcher::Strings(
                                StringSet::new(&g, m.cased).map_err(too_big)?,
                            ));
                        }
                    }
                }
            }
            Matcher::All(leaves)
        } else if leaves.len() == 1 {
            leaves.remove(0)
        } else {
            Matcher::Any(leaves)
        }
    };
    Ok(Pred { target, matcher })
}

fn first_line(s: &str) -> String {
    s.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .to_string()
}

/// Compiles one named selection.
pub(crate) fn selection(
    name: &str,
    value: &Yaml,
    fields: &mut Interner,
    placeholders: &Placeholders,
) -> Result<Selection, RefuseReason> {
    let map_preds =
        |map: &yaml_rust2::yaml::Hash, fields: &mut Interner| -> Result<Vec<Pred>, RefuseReason> {
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        other => {
                            return Err(RefuseReason::BadValue(format!(
                                "selection {name}: key {other:?}"
                            )));
                        }
                    };
                    predicate(&key, v, fields, placeholders)
                })
                .collect()
        };
    let any = match value {
        Yaml::Hash(map) => vec![map_preds(map, fields)?],
        Yaml::Array(items) if items.iter().all(|i| matches!(i, Yaml::Hash(_))) => items
            .iter()
            .filter_map(|i| match i {
                Yaml::Hash(map) => Some(map_preds(map, fields)),
                _ => None,
            })
            .collect::<Result<_, _>>()?,
        // A keyword list (or one keyword): the text anywhere in the event.
        Yaml::Array(_) | Yaml::String(_) | Yaml::Integer(_) | Yaml::Real(_) => {
            let keywords = match value {
                Yaml::Array(items) => Yaml::Array(items.clone()),
                v => Yaml::Array(vec![v.clone()]),
            };
            vec![vec![predicate(
                "|contains",
                &keywords,
                fields,
                placeholders,
            )?]]
        }
        other => {
            return Err(RefuseReason::BadValue(format!(
                "selection {name}: {other:?}"
            )));
        }
    };
    Ok(Selection {
        name: name.to_string(),
        any,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64offset_matches_pysigma() {
        // pySigma's values for `|base64offset: /bin/bash`.
        assert_eq!(
            base64_offsets(b"/bin/bash"),
            vec!["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]
        );
    }

    #[test]
    fn windash_variants() {
        let v = windash(&SigmaString::parse(" -enc ")).unwrap();
        assert_eq!(v.len(), 5);
        let texts: Vec<String> = v.iter().filter_map(SigmaString::as_plain).collect();
        assert!(texts.contains(&" /enc ".to_string()));
        assert!(texts.contains(&" –enc ".to_string()));
        // A dash inside a word is left alone.
        assert_eq!(windash(&SigmaString::parse("a-b")).unwrap().len(), 1);
    }

    #[test]
    fn networks() {
        let n = Net::parse("10.0.0.0/8").unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(!n.contains("11.1.2.3".parse().unwrap()));
        assert!(n.contains("::ffff:10.0.0.1".parse().unwrap()));
        let n = Net::parse("fe80::/10").unwrap();
        assert!(n.contains("fe80::1".parse().unwrap()));
        assert!(!n.contains("fec0::1".parse().unwrap()));
        assert!(
            Net::parse("0.0.0.0/0")
                .unwrap()
                .contains("1.2.3.4".parse().unwrap())
        );
        assert!(Net::parse("10.0.0.0/33").is_none());
        assert!(Net::parse("nope").is_none());
    }

    #[test]
    fn placeholders() {
        let mut p = Placeholders::new();
        p.insert("Admins".into(), vec!["root".into(), "admin".into()]);
        assert_eq!(
            expand("x%Admins%y", &p).unwrap(),
            vec!["xrooty".to_string(), "xadminy".to_string()]
        );
        assert!(matches!(
            expand("%Other%", &p),
            Err(RefuseReason::UnresolvedPlaceholder(_))
        ));
    }
}
