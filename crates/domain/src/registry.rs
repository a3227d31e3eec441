//! What every ledger registry has in common: a list of typed fields, a record that turns into
//! canonical text values and back, a stable key that matches import rows, and retirement.
//!
//! Canonical text is the one form a record's value takes between layers: `YYYY-MM-DD` for dates,
//! `YYYY-MM` for year-months, codes for choices, `1`/`0` for yes/no (empty for "unknown"), ids for
//! references, comma-joined for lists. Forms, imports, exports, storage and the change history all
//! speak it, so a field is described once, here, and handled everywhere from the description.

use crate::ledger::FieldError;
use time::Date;
use time::macros::format_description;

/// The registries of the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegistryKind {
    Asset,
    System,
    Person,
    Account,
    Vendor,
    Contact,
    RemotePoint,
    VendorDocument,
    Document,
}

impl RegistryKind {
    pub const ALL: &'static [RegistryKind] = &[
        RegistryKind::Asset,
        RegistryKind::System,
        RegistryKind::Person,
        RegistryKind::Account,
        RegistryKind::Vendor,
        RegistryKind::Contact,
        RegistryKind::RemotePoint,
        RegistryKind::VendorDocument,
        RegistryKind::Document,
    ];

    /// Singular code: the history kind, the audit target prefix, the message prefix
    /// (`{code}_field.{key}`).
    pub fn as_str(self) -> &'static str {
        match self {
            RegistryKind::Asset => "asset",
            RegistryKind::System => "system",
            RegistryKind::Person => "person",
            RegistryKind::Account => "account",
            RegistryKind::Vendor => "vendor",
            RegistryKind::Contact => "contact",
            RegistryKind::RemotePoint => "remote_point",
            RegistryKind::VendorDocument => "vendor_document",
            RegistryKind::Document => "document",
        }
    }

    /// Plural code: the URL segment, the CLI argument and the table name.
    pub fn plural(self) -> &'static str {
        match self {
            RegistryKind::Asset => "assets",
            RegistryKind::System => "systems",
            RegistryKind::Person => "persons",
            RegistryKind::Account => "accounts",
            RegistryKind::Vendor => "vendors",
            RegistryKind::Contact => "contacts",
            RegistryKind::RemotePoint => "remote_points",
            RegistryKind::VendorDocument => "vendor_documents",
            RegistryKind::Document => "documents",
        }
    }

    /// Parses the plural code.
    pub fn parse_plural(s: &str) -> Option<RegistryKind> {
        RegistryKind::ALL.iter().copied().find(|k| k.plural() == s)
    }
}

/// How a field is typed, checked and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// One line of text of at most this many characters.
    Text(usize),
    /// Several lines, at most 1000 characters.
    Note,
    Date,
    /// Year and month (導入年月).
    Month,
    /// One of the codes; labels are `{labels}.{code}` in the catalog.
    Choice(&'static [&'static str]),
    /// Any number of the codes, comma-joined in the codes' order.
    Tags(&'static [&'static str]),
    /// Yes or no.
    Flag,
    /// Yes, no, or not known yet.
    MaybeFlag,
    /// A whole number in the range.
    Int(i64, i64),
    /// A record of another registry, by id.
    Ref(RegistryKind),
    /// Records of another registry, ids comma-joined in ascending order.
    Refs(RegistryKind),
    /// IP addresses (with optional CIDR suffix), comma-separated.
    Ips,
    /// MAC addresses, comma-separated.
    Macs,
    Email,
    Phone,
}

/// One field of a registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Stable key: form name, import/export column key, history key, message key suffix.
    pub key: &'static str,
    /// Database column.
    pub column: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    /// Catalog prefix of choice labels.
    pub labels: &'static str,
    /// Shown as a column of the list.
    pub list: bool,
    /// Offered as a filter of the list (choices, or the distinct values of a text field).
    pub facet: bool,
    /// Searched by the list's free-text search.
    pub search: bool,
}

impl Field {
    pub const fn new(key: &'static str, kind: FieldKind) -> Field {
        Field {
            key,
            column: key,
            kind,
            required: false,
            labels: "",
            list: false,
            facet: false,
            search: false,
        }
    }
    pub const fn text(key: &'static str, max: usize) -> Field {
        Field::new(key, FieldKind::Text(max))
    }
    pub const fn choice(
        key: &'static str,
        codes: &'static [&'static str],
        labels: &'static str,
    ) -> Field {
        Field {
            labels,
            ..Field::new(key, FieldKind::Choice(codes))
        }
    }
    pub const fn tags(
        key: &'static str,
        codes: &'static [&'static str],
        labels: &'static str,
    ) -> Field {
        Field {
            labels,
            ..Field::new(key, FieldKind::Tags(codes))
        }
    }
    pub const fn reference(key: &'static str, column: &'static str, to: RegistryKind) -> Field {
        Field {
            column,
            ..Field::new(key, FieldKind::Ref(to))
        }
    }
    pub const fn req(self) -> Field {
        Field {
            required: true,
            ..self
        }
    }
    pub const fn list(self) -> Field {
        Field { list: true, ..self }
    }
    pub const fn facet(self) -> Field {
        Field {
            facet: true,
            ..self
        }
    }
    pub const fn search(self) -> Field {
        Field {
            search: true,
            ..self
        }
    }
}

/// A record of a registry.
pub trait Record: Clone + std::fmt::Debug + Send + Sync + Sized + 'static {
    const KIND: RegistryKind;
    /// The fields in ledger column order.
    const FIELDS: &'static [Field];
    /// The fields whose values together identify a record (unique; matched on import).
    const KEY: &'static [&'static str];
    /// The field shown as the record's name next to its key.
    const TITLE: &'static str;

    fn id(&self) -> i64;
    fn set_id(&mut self, id: i64);
    /// Canonical values, one per field of `FIELDS`, in that order.
    fn values(&self) -> Vec<String>;
    /// Builds the record from checked canonical values (see [`check`]); anything unparsable
    /// falls back to the field's empty value.
    fn from_values(v: &Values<'_>) -> Self;
    /// Rules across fields (a disposed device needs a disposal date, …). Empty means valid.
    fn validate(&self) -> Vec<FieldError> {
        Vec::new()
    }
    /// Whether the record is retired (廃棄, 退職, 無効 …).
    fn is_retired(&self, today: Date) -> bool;
    /// Retires the record as of `today`.
    fn retire(&mut self, today: Date);
}

/// The key of a record: its key fields' canonical values joined by a unit separator.
pub fn key_of<R: Record>(r: &R) -> String {
    let values = r.values();
    R::KEY
        .iter()
        .filter_map(|k| position(R::FIELDS, k).and_then(|i| values.get(i)))
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

/// The title value of a record.
pub fn title_of<R: Record>(r: &R) -> String {
    position(R::FIELDS, R::TITLE)
        .and_then(|i| r.values().into_iter().nth(i))
        .unwrap_or_default()
}

/// Index of field `key`.
pub fn position(fields: &[Field], key: &str) -> Option<usize> {
    fields.iter().position(|f| f.key == key)
}

/// The fields that differ between two records: (key, before, after).
pub fn changes<R: Record>(before: &R, after: &R) -> Vec<crate::ledger::FieldChange> {
    R::FIELDS
        .iter()
        .zip(before.values().into_iter().zip(after.values()))
        .filter(|(_, (b, a))| b != a)
        .map(|(f, (b, a))| (f.key, b, a))
        .collect()
}

/// The changes of a newly created record: every non-empty field.
pub fn creation<R: Record>(r: &R) -> Vec<crate::ledger::FieldChange> {
    R::FIELDS
        .iter()
        .zip(r.values())
        .filter(|(_, v)| !v.is_empty())
        .map(|(f, v)| (f.key, String::new(), v))
        .collect()
}

const DAY: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]");

/// `YYYY-MM-DD`.
pub fn day_text(d: Option<Date>) -> String {
    d.and_then(|d| d.format(DAY).ok()).unwrap_or_default()
}

/// `YYYY-MM`.
pub fn month_text(d: Option<Date>) -> String {
    d.map(|d| format!("{:04}-{:02}", d.year(), u8::from(d.month())))
        .unwrap_or_default()
}

pub fn flag_text(b: bool) -> String {
    if b { "1" } else { "0" }.to_string()
}

pub fn maybe_flag_text(b: Option<bool>) -> String {
    b.map(flag_text).unwrap_or_default()
}

pub fn id_text(id: Option<i64>) -> String {
    id.map(|i| i.to_string()).unwrap_or_default()
}

/// Parses `YYYY-MM-DD`.
pub fn parse_day(s: &str) -> Option<Date> {
    Date::parse(s.trim(), DAY).ok()
}

/// Parses `YYYY-MM` to the first of the month.
pub fn parse_month(s: &str) -> Option<Date> {
    parse_day(&format!("{}-01", s.trim()))
}

/// Canonical values of a record being built, by field key.
#[derive(Debug, Clone, Copy)]
pub struct Values<'a> {
    fields: &'static [Field],
    values: &'a [String],
}

impl<'a> Values<'a> {
    pub fn new(fields: &'static [Field], values: &'a [String]) -> Values<'a> {
        Values { fields, values }
    }

    pub fn text(&self, key: &str) -> String {
        position(self.fields, key)
            .and_then(|i| self.values.get(i))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }
    pub fn date(&self, key: &str) -> Option<Date> {
        parse_day(&self.text(key))
    }
    pub fn month(&self, key: &str) -> Option<Date> {
        parse_month(&self.text(key))
    }
    pub fn flag(&self, key: &str) -> bool {
        self.text(key) == "1"
    }
    pub fn maybe_flag(&self, key: &str) -> Option<bool> {
        match self.text(key).as_str() {
            "1" => Some(true),
            "0" => Some(false),
            _ => None,
        }
    }
    pub fn int(&self, key: &str) -> Option<i64> {
        self.text(key).parse().ok()
    }
    pub fn id(&self, key: &str) -> Option<i64> {
        self.int(key).filter(|v| *v > 0)
    }
    pub fn ids(&self, key: &str) -> Vec<i64> {
        parse_ids(&self.text(key)).unwrap_or_default()
    }
    pub fn choice<T>(&self, key: &str, parse: fn(&str) -> Option<T>, default: T) -> T {
        parse(&self.text(key)).unwrap_or(default)
    }
}

/// Parses comma-joined positive ids, sorted and without repeats.
pub fn parse_ids(s: &str) -> Option<Vec<i64>> {
    let mut ids = Vec::new();
    for p in s
        .split([',', ' ', '、'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        ids.push(p.parse::<i64>().ok().filter(|v| *v > 0)?);
    }
    ids.sort_unstable();
    ids.dedup();
    Some(ids)
}

/// Joins ids canonically.
pub fn ids_text(ids: &[i64]) -> String {
    let mut v = ids.to_vec();
    v.sort_unstable();
    v.dedup();
    v.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn valid_phone(s: &str) -> bool {
    s.chars().filter(char::is_ascii_digit).count() >= 3
        && s.chars().all(|c| {
            c.is_ascii_digit() || matches!(c, '-' | '(' | ')' | '+' | ' ' | '#' | '内' | '線')
        })
}

/// Checks canonical values against the fields' kinds: required fields present, lengths, dates,
/// codes, numbers, addresses. References are checked for form only (existence needs the store).
pub fn check(fields: &[Field], values: &[String]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (f, v) in fields.iter().zip(values) {
        let v = v.trim();
        if v.is_empty() {
            if f.required {
                errors.push(FieldError {
                    field: f.key,
                    code: "LED0003",
                });
            }
            continue;
        }
        let ok = match f.kind {
            FieldKind::Text(max) => v.chars().count() <= max,
            FieldKind::Note => v.chars().count() <= 1000,
            FieldKind::Date => parse_day(v).is_some(),
            FieldKind::Month => parse_month(v).is_some(),
            FieldKind::Choice(codes) => codes.contains(&v),
            FieldKind::Tags(codes) => v.split(',').all(|t| codes.contains(&t.trim())),
            FieldKind::Flag | FieldKind::MaybeFlag => matches!(v, "0" | "1"),
            FieldKind::Int(min, max) => v.parse::<i64>().is_ok_and(|n| (min..=max).contains(&n)),
            FieldKind::Ref(_) => v.parse::<i64>().is_ok_and(|n| n > 0),
            FieldKind::Refs(_) => parse_ids(v).is_some(),
            FieldKind::Ips => v.chars().count() <= 200 && crate::ledger::valid_ip_list(v),
            FieldKind::Macs => v.chars().count() <= 200 && crate::ledger::valid_mac_list(v),
            FieldKind::Email => v.chars().count() <= 200 && valid_email(v),
            FieldKind::Phone => v.chars().count() <= 30 && valid_phone(v),
        };
        if !ok {
            errors.push(FieldError {
                field: f.key,
                code: kind_error(f.kind),
            });
        }
    }
    errors
}

/// The error code of a value that does not fit its kind.
pub fn kind_error(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Text(_) | FieldKind::Note => "LED0002",
        FieldKind::Date => "LED0014",
        FieldKind::Month => "LED0013",
        FieldKind::Choice(_) | FieldKind::Tags(_) => "LED0010",
        FieldKind::Flag | FieldKind::MaybeFlag => "LED0015",
        FieldKind::Int(..) => "LED0016",
        FieldKind::Ref(_) | FieldKind::Refs(_) => "LED0012",
        FieldKind::Ips => "LED0004",
        FieldKind::Macs => "LED0005",
        FieldKind::Email => "LED0017",
        FieldKind::Phone => "LED0018",
    }
}

/// Checks and builds a record from canonical values; every bad field is named.
pub fn build<R: Record>(id: i64, values: &[String]) -> Result<R, Vec<FieldError>> {
    let mut errors = check(R::FIELDS, values);
    let mut r = R::from_values(&Values::new(R::FIELDS, values));
    r.set_id(id);
    for e in r.validate() {
        if !errors.iter().any(|x| x.field == e.field) {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(r)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_canonical() {
        assert_eq!(parse_ids("5, 3,3、9"), Some(vec![3, 5, 9]));
        assert_eq!(parse_ids(""), Some(vec![]));
        assert_eq!(parse_ids("1,x"), None);
        assert_eq!(parse_ids("0"), None);
        assert_eq!(ids_text(&[9, 3, 3]), "3,9");
    }

    #[test]
    fn kinds_are_checked() {
        const F: &[Field] = &[
            Field::text("a", 3).req(),
            Field::new("d", FieldKind::Date),
            Field::new("m", FieldKind::Month),
            Field::choice("c", &["x", "y"], "l"),
            Field::new("f", FieldKind::Flag),
            Field::new("n", FieldKind::Int(0, 99)),
            Field::new("e", FieldKind::Email),
            Field::new("p", FieldKind::Phone),
            Field::tags("t", &["x", "y"], "l"),
        ];
        let v = |a: [&str; 9]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(
            check(
                F,
                &v([
                    "abc",
                    "2025-04-01",
                    "2025-04",
                    "x",
                    "1",
                    "42",
                    "a@b.jp",
                    "03-1234-5678",
                    "x,y"
                ])
            )
            .is_empty()
        );
        let e = check(
            F,
            &v([
                "",
                "2025-02-30",
                "2025-13",
                "z",
                "2",
                "100",
                "a@b",
                "abc",
                "x,z",
            ]),
        );
        let got: Vec<_> = e.iter().map(|e| (e.field, e.code)).collect();
        assert_eq!(
            got,
            vec![
                ("a", "LED0003"),
                ("d", "LED0014"),
                ("m", "LED0013"),
                ("c", "LED0010"),
                ("f", "LED0015"),
                ("n", "LED0016"),
                ("e", "LED0017"),
                ("p", "LED0018"),
                ("t", "LED0010"),
            ]
        );
        assert_eq!(
            check(F, &v(["abcd", "", "", "", "", "", "", "", ""]))[0].code,
            "LED0002"
        );
    }

    #[test]
    fn phones_and_emails() {
        assert!(valid_phone("03-1234-5678"));
        assert!(valid_phone("(03) 1234 5678 内線 12"));
        assert!(valid_phone("110"));
        assert!(!valid_phone("call me"));
        assert!(valid_email("ehr-support@medinext.example.jp"));
        assert!(!valid_email("@x.jp"));
        assert!(!valid_email("a b@x.jp"));
    }

    #[test]
    fn plural_codes_round_trip() {
        for k in RegistryKind::ALL {
            assert_eq!(RegistryKind::parse_plural(k.plural()), Some(*k));
        }
    }
}
