//! A Windows event record read from the JSON text the `evtx` crate renders, without building a
//! `serde_json::Value`: the record becomes one flat list of nodes in document order, its strings
//! borrowed from the text wherever they hold no escape. Building a `Value` (a hash map per
//! element, a string per value) cost more than matching the rules; this costs one vector.
//! [`RecordEvent`] answers every question exactly as [`crate::JsonEvent`] does over the parsed
//! value: both read through [`crate::event::Tree`].

use crate::event::{SYSTEM_FIELDS, Shape, Tree, lookup, windows_event};
use hashbrown::HashTable;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;
use std::hash::BuildHasher;

/// A JSON value's node: its key in the enclosing object (empty in a list) and what it holds.
#[derive(Debug)]
struct Node<'a> {
    key: Cow<'a, str>,
    kind: Kind<'a>,
}

#[derive(Debug)]
enum Kind<'a> {
    Null,
    Text(Cow<'a, str>),
    Bool(bool),
    Number(serde_json::Number),
    /// Members are the nodes after this one, up to `end` (exclusive).
    Object {
        end: u32,
    },
    Array {
        end: u32,
    },
}

/// One `.evtx` record as the `evtx` crate renders it to JSON (`{"Event": {"System": …}}`).
#[derive(Debug)]
pub struct RecordEvent<'a> {
    nodes: Vec<Node<'a>>,
    /// The `Event` element, or the root when there is none.
    event: u32,
    /// Some object repeats a key (the `evtx` crate never writes one; other JSON may).
    dups: bool,
    /// Plain field name → node, built at the first lookup (see [`RecordEvent::index`]).
    index: OnceCell<HashTable<u32>>,
}

/// Why a record's JSON could not be read.
#[derive(Debug, thiserror::Error)]
#[error("record JSON: {0}")]
pub struct RecordError(#[from] serde_json::Error);

impl<'a> RecordEvent<'a> {
    /// Reads the JSON text of one record.
    pub fn parse(json: &'a [u8]) -> Result<RecordEvent<'a>, RecordError> {
        let mut nodes = Nodes {
            list: Vec::with_capacity(64),
            dups: false,
        };
        let mut de = serde_json::Deserializer::from_slice(json);
        Seed {
            nodes: &mut nodes,
            key: Cow::Borrowed(""),
        }
        .deserialize(&mut de)?;
        de.end()?;
        let mut out = RecordEvent {
            nodes: nodes.list,
            event: 0,
            dups: nodes.dups,
            index: OnceCell::new(),
        };
        out.event = out.child(0, "Event").unwrap_or(0);
        Ok(out)
    }

    fn end(&self, n: u32) -> u32 {
        end_in(&self.nodes, n)
    }

    /// The direct members of a container, in order.
    fn members_of(&self, n: u32) -> impl Iterator<Item = u32> + '_ {
        members_in(&self.nodes, n)
    }

    fn key(&self, n: u32) -> &str {
        self.nodes.get(n as usize).map_or("", |n| n.key.as_ref())
    }

    /// Every plain field name in [`lookup`]'s order of precedence, the first place of a name
    /// kept: `System`'s own fields (`EventID` …), `EventData`, each `UserData` wrapper, then the
    /// rest of `System`. One hash lookup then answers what took a walk over those elements.
    fn index(&self) -> HashTable<u32> {
        let mut table = HashTable::with_capacity(48);
        let system = self.child(self.event, "System");
        let mut add = |n: u32| {
            let key = self.key(n);
            let hash = hash(key);
            if table.find(hash, |m| self.key(*m) == key).is_none() {
                table.insert_unique(hash, n, |m| self.hash_of(*m));
            }
        };
        if let Some(system) = system.filter(|s| self.is_object(*s)) {
            self.members_of(system)
                .filter(|m| SYSTEM_FIELDS.contains(&self.key(*m)))
                .for_each(&mut add);
        }
        if let Some(data) = self
            .child(self.event, "EventData")
            .filter(|d| self.is_object(*d))
        {
            self.members_of(data).for_each(&mut add);
        }
        if let Some(user) = self
            .child(self.event, "UserData")
            .filter(|u| self.is_object(*u))
        {
            for wrapper in self.members_of(user).filter(|w| self.is_object(*w)) {
                self.members_of(wrapper).for_each(&mut add);
            }
        }
        if let Some(system) = system.filter(|s| self.is_object(*s)) {
            self.members_of(system).for_each(&mut add);
        }
        table
    }

    fn hash_of(&self, n: u32) -> u64 {
        hash(self.key(n))
    }

    fn is_object(&self, n: u32) -> bool {
        matches!(
            self.nodes.get(n as usize).map(|n| &n.kind),
            Some(Kind::Object { .. })
        )
    }
}

impl Tree for RecordEvent<'_> {
    type Node = u32;

    fn event(&self) -> u32 {
        self.event
    }

    /// As `serde_json` reads an object with a repeated key: the last value counts.
    fn child(&self, n: u32, key: &str) -> Option<u32> {
        if !self.is_object(n) {
            return None;
        }
        if !self.dups {
            return self.members_of(n).find(|m| self.key(*m) == key);
        }
        self.members_of(n).filter(|m| self.key(*m) == key).last()
    }

    /// Without repeated keys, the leaves of those elements are their nodes in document order:
    /// one pass over the vector, leaving out `xmlns` members and what is under them.
    fn values(&self) -> Vec<Cow<'_, str>> {
        if self.dups {
            return crate::event::values_of(self);
        }
        let mut out = Vec::with_capacity(64);
        for part in ["System", "EventData", "UserData"] {
            let Some(top) = self.child(self.event, part) else {
                continue;
            };
            let (mut at, end) = (top, self.end(top));
            while at < end {
                let Some(node) = self.nodes.get(at as usize) else {
                    break;
                };
                // An `xmlns` member is left out whole (list items have no key).
                if at != top && node.key == "xmlns" {
                    at = self.end(at);
                    continue;
                }
                if let Shape::Text(t) = self.shape(at) {
                    out.push(t);
                }
                at += 1;
            }
        }
        out
    }

    fn field(&self, name: &str) -> Option<u32> {
        // Repeated keys change which value counts: walk as the generic lookup does.
        if self.dups || name == "Provider_Name" {
            return lookup(self, name);
        }
        let index = self.index.get_or_init(|| self.index());
        if let Some(n) = index.find(hash(name), |m| self.key(*m) == name) {
            return Some(*n);
        }
        if name.contains('.') {
            return lookup(self, name);
        }
        None
    }

    fn shape(&self, n: u32) -> Shape<'_> {
        match self.nodes.get(n as usize).map(|n| &n.kind) {
            None | Some(Kind::Null) => Shape::Null,
            Some(Kind::Text(t)) => Shape::Text(Cow::Borrowed(t.as_ref())),
            Some(Kind::Bool(b)) => Shape::Text(Cow::Borrowed(if *b { "true" } else { "false" })),
            Some(Kind::Number(x)) => Shape::Text(Cow::Owned(x.to_string())),
            Some(Kind::Object { .. }) => Shape::Object,
            Some(Kind::Array { .. }) => Shape::Array,
        }
    }

    /// An object's members once per key (at the key's first place, with its last value, as
    /// `serde_json`'s ordered map keeps them); a list's items.
    fn members(&self, n: u32, f: &mut dyn FnMut(&str, u32)) {
        if !self.is_object(n) {
            self.members_of(n).for_each(|m| f("", m));
            return;
        }
        if !self.dups {
            self.members_of(n).for_each(|m| f(self.key(m), m));
            return;
        }
        for m in self.members_of(n) {
            let key = self.key(m);
            if self
                .members_of(n)
                .take_while(|e| *e < m)
                .any(|e| self.key(e) == key)
            {
                continue;
            }
            let last = self
                .members_of(n)
                .filter(|e| self.key(*e) == key)
                .last()
                .unwrap_or(m);
            f(key, last);
        }
    }
}

windows_event!(RecordEvent<'_>);

/// A key, borrowed from the text when it has no escape.
struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

fn hash(key: &str) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(key)
}

fn end_in(nodes: &[Node<'_>], n: u32) -> u32 {
    match nodes.get(n as usize).map(|n| &n.kind) {
        Some(Kind::Object { end } | Kind::Array { end }) => *end,
        _ => n + 1,
    }
}

/// The direct members of the container at `n`, in order.
fn members_in<'n>(nodes: &'n [Node<'_>], n: u32) -> impl Iterator<Item = u32> + 'n {
    let end = end_in(nodes, n);
    let mut at = n + 1;
    std::iter::from_fn(move || {
        (at < end).then(|| {
            let this = at;
            at = end_in(nodes, at);
            this
        })
    })
}

/// The nodes read so far.
struct Nodes<'a> {
    list: Vec<Node<'a>>,
    dups: bool,
}

impl<'a> Nodes<'a> {
    /// Whether the object at `at` (complete) repeats a key. Quadratic in its members, which
    /// are few in a Windows record; a very wide object is taken as repeating, which only
    /// costs the slower lookups.
    fn repeats_a_key(&self, at: u32) -> bool {
        let key = |m: u32| self.list.get(m as usize).map_or("", |n| n.key.as_ref());
        members_in(&self.list, at).enumerate().any(|(i, m)| {
            i >= 64
                || members_in(&self.list, at)
                    .take_while(|e| *e < m)
                    .any(|e| key(e) == key(m))
        })
    }

    /// Pushes a container keyed `key`, lets `fill` push its members, then marks where it
    /// ends. Returns its node.
    fn container<E>(
        &mut self,
        key: Cow<'a, str>,
        object: bool,
        fill: impl FnOnce(&mut Self) -> Result<(), E>,
    ) -> Result<u32, E> {
        let at = self.list.len();
        self.list.push(Node {
            key,
            kind: Kind::Null,
        });
        fill(self)?;
        let end = end_of(self.list.len());
        if let Some(n) = self.list.get_mut(at) {
            n.kind = if object {
                Kind::Object { end }
            } else {
                Kind::Array { end }
            };
        }
        Ok(end_of(at))
    }
}

/// Appends one value (and, for a container, its members) to `nodes`.
struct Seed<'n, 'a> {
    nodes: &'n mut Nodes<'a>,
    key: Cow<'a, str>,
}

impl<'a> Seed<'_, 'a> {
    fn push(self, kind: Kind<'a>) {
        self.nodes.list.push(Node {
            key: self.key,
            kind,
        });
    }
}

fn end_of(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

impl<'de> DeserializeSeed<'de> for Seed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.push(Kind::Null);
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.push(Kind::Bool(v));
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.push(Kind::Number(v.into()));
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.push(Kind::Number(v.into()));
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        // As `serde_json::Value` keeps it: a number when finite (JSON has no other).
        match serde_json::Number::from_f64(v) {
            Some(n) => self.push(Kind::Number(n)),
            None => self.push(Kind::Null),
        }
        Ok(())
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        self.push(Kind::Text(Cow::Borrowed(v)));
        Ok(())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.push(Kind::Text(Cow::Owned(v.to_string())));
        Ok(())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<(), E> {
        self.push(Kind::Text(Cow::Owned(v)));
        Ok(())
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        let nodes = self.nodes;
        let at = nodes.container(self.key, true, |nodes| {
            while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                map.next_value_seed(Seed { nodes, key })?;
            }
            Ok(())
        })?;
        if !nodes.dups && nodes.repeats_a_key(at) {
            nodes.dups = true;
        }
        Ok(())
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
        self.nodes.container(self.key, false, |nodes| {
            while seq
                .next_element_seed(Seed {
                    nodes,
                    key: Cow::Borrowed(""),
                })?
                .is_some()
            {}
            Ok(())
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, FieldValue, JsonEvent, WindowsRecord};

    const SAMPLE: &str = r##"{"Event": {"#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
        "System": {"EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 104},
                   "Channel": "System", "Computer": "pc1", "EventRecordID": 77,
                   "TimeCreated": {"#attributes": {"SystemTime": "2024-01-02T03:04:05.123456Z"}},
                   "Provider": {"#attributes": {"Name": "Microsoft-Windows-Eventlog"}},
                   "Correlation": null, "Flag": true, "Ratio": 1.5, "Neg": -3,
                   "Security": {"#attributes": {"UserID": "S-1-5-18"}}},
        "EventData": {"Image": "C:\\Windows\\a.exe", "Data": {"#text": ["x", "y", null, 4]},
                      "Dup": "first", "Other": "o", "Dup": "last", "Esc": "tab\there \u00e9"},
        "UserData": {"LogFileCleared": {"SubjectUserName": "admin", "xmlns": "ns"}}}}"##;

    fn all_values(e: &dyn Event) -> Vec<String> {
        let mut out = Vec::new();
        e.for_each_value(&mut |s| out.push(s.to_string()));
        out
    }

    #[test]
    fn answers_as_the_parsed_value_does() {
        let value: serde_json::Value = serde_json::from_str(SAMPLE).unwrap();
        let json = JsonEvent::new(&value);
        let flat = RecordEvent::parse(SAMPLE.as_bytes()).unwrap();
        for field in [
            "EventID",
            "Channel",
            "Computer",
            "EventRecordID",
            "Provider_Name",
            "Correlation",
            "Flag",
            "Ratio",
            "Neg",
            "Image",
            "Data",
            "Dup",
            "Esc",
            "SubjectUserName",
            "xmlns",
            "System.Security.#attributes.UserID",
            "Event.System.TimeCreated.#attributes.SystemTime",
            "Security",
            "Nope",
            "System.Nope.x",
        ] {
            assert_eq!(flat.get(field), json.get(field), "{field}");
        }
        assert_eq!(flat.get("Dup"), Some(FieldValue::Text("last".into())));
        assert_eq!(all_values(&flat), all_values(&json));
        assert_eq!(flat.event_id(), Some(104));
        assert_eq!(flat.record_id(), Some(77));
        assert_eq!(flat.time().as_deref(), Some("2024-01-02T03:04:05.123456Z"));
        assert_eq!(flat.channel().as_deref(), Some("System"));
        assert_eq!(flat.computer().as_deref(), Some("pc1"));
    }

    #[test]
    fn a_record_without_repeated_keys_reads_the_same() {
        let text = SAMPLE.replace(r#""Dup": "first", "#, "");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let flat = RecordEvent::parse(text.as_bytes()).unwrap();
        assert!(!flat.dups);
        assert!(RecordEvent::parse(SAMPLE.as_bytes()).unwrap().dups);
        let json = JsonEvent::new(&value);
        for field in ["Dup", "Image", "SubjectUserName", "Provider_Name", "Nope"] {
            assert_eq!(flat.get(field), json.get(field), "{field}");
        }
        assert_eq!(all_values(&flat), all_values(&json));
    }

    #[test]
    fn bad_json_is_an_error_not_a_panic() {
        for bad in ["", "{", "{\"a\": }", "[1, 2", "{\"a\": 1} x", "\"\\ud800\""] {
            assert!(RecordEvent::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(RecordEvent::parse(deep.as_bytes()).is_err());
    }
}
