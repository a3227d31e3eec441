//! What the engine reads from an event: named fields and, for keyword searches, every value.
//! [`JsonEvent`] is the implementation for Windows records as the `evtx` crate renders them.

use serde_json::Value;
use std::borrow::Cow;

/// A field's value as the engine sees it. Numbers and booleans arrive as their text: Sigma
/// compares `EventID: 4688` with the text `4688` whatever the source's type was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue<'a> {
    /// Present but null (`"Correlation": null`).
    Null,
    Text(Cow<'a, str>),
    /// Several values (a list, unnamed `Data` elements): a pattern matches when one of them does.
    List(Vec<FieldValue<'a>>),
}

impl<'a> FieldValue<'a> {
    /// The text values, flattened (nulls left out).
    pub fn texts(&self, out: &mut Vec<Cow<'a, str>>) {
        match self {
            FieldValue::Null => {}
            FieldValue::Text(t) => out.push(t.clone()),
            FieldValue::List(items) => items.iter().for_each(|i| i.texts(out)),
        }
    }
}

/// An event the engine can match. Field names are Sigma's (`Image`, `CommandLine`, `EventID`,
/// `Channel`, `Provider_Name` …); the engine maps them for the event's source before asking.
pub trait Event {
    /// The field's value, `None` when the event has no such field.
    fn get(&self, field: &str) -> Option<FieldValue<'_>>;
    /// Calls `f` with every value of the event (keyword searches look at all of them).
    fn for_each_value(&self, f: &mut dyn FnMut(&str));
    /// Every value of the event, as [`Event::for_each_value`] gives them; an event that holds
    /// them as text lends them instead of copying.
    fn values(&self) -> Vec<Cow<'_, str>> {
        let mut out = Vec::new();
        self.for_each_value(&mut |v| out.push(Cow::Owned(v.to_string())));
        out
    }
}

/// A record's tree as both readers hold it (a parsed `serde_json::Value`, or the flat nodes of
/// [`crate::RecordEvent`]): every question about a Windows record is answered once, here, over
/// this.
pub(crate) trait Tree {
    type Node: Copy;
    /// The `Event` element (or the root when there is none).
    fn event(&self) -> Self::Node;
    /// An object's member by key; `None` for anything else.
    fn child(&self, n: Self::Node, key: &str) -> Option<Self::Node>;
    fn shape(&self, n: Self::Node) -> Shape<'_>;
    /// An object's members with their keys, or a list's items (with an empty key), in order.
    fn members(&self, n: Self::Node, f: &mut dyn FnMut(&str, Self::Node));
    /// Every value under `System`, `EventData` and `UserData` ([`values_of`]); a reader may
    /// walk its own storage instead.
    fn values(&self) -> Vec<Cow<'_, str>>
    where
        Self: Sized,
    {
        values_of(self)
    }
    /// The node a Sigma field name stands for ([`lookup`]); a reader may answer from an index.
    fn field(&self, name: &str) -> Option<Self::Node>
    where
        Self: Sized,
    {
        lookup(self, name)
    }
}

/// What a node holds, numbers and booleans already as their text.
pub(crate) enum Shape<'t> {
    Null,
    Text(Cow<'t, str>),
    Array,
    Object,
}

/// Fields read from `System` first (the rest come from `EventData`, then `UserData`).
pub(crate) const SYSTEM_FIELDS: &[&str] = &[
    "EventID",
    "Channel",
    "Computer",
    "Level",
    "Task",
    "Opcode",
    "Keywords",
    "EventRecordID",
    "Version",
];

pub(crate) fn path<T: Tree>(t: &T, from: T::Node, parts: &[&str]) -> Option<T::Node> {
    parts.iter().try_fold(from, |at, p| t.child(at, p))
}

/// An element's text: the node itself, or its `#text` when it also has attributes.
pub(crate) fn element_text<T: Tree>(t: &T, n: T::Node) -> T::Node {
    t.child(n, "#text").unwrap_or(n)
}

pub(crate) fn text_of<T: Tree>(t: &T, n: T::Node) -> Option<Cow<'_, str>> {
    match t.shape(n) {
        Shape::Text(s) => Some(s),
        _ => None,
    }
}

pub(crate) fn number_of<T: Tree, N: TryFrom<u64>>(t: &T, n: T::Node) -> Option<N> {
    let n: u64 = text_of(t, element_text(t, n))?.trim().parse().ok()?;
    N::try_from(n).ok()
}

pub(crate) fn system<T: Tree>(t: &T) -> Option<T::Node> {
    t.child(t.event(), "System")
}

pub(crate) fn lookup<T: Tree>(t: &T, field: &str) -> Option<T::Node> {
    let event = t.event();
    let system = system(t);
    if field == "Provider_Name" {
        return path(t, system?, &["Provider", "#attributes", "Name"]);
    }
    if SYSTEM_FIELDS.contains(&field)
        && let Some(v) = system.and_then(|s| t.child(s, field))
    {
        return Some(v);
    }
    if let Some(v) = t.child(event, "EventData").and_then(|d| t.child(d, field)) {
        return Some(v);
    }
    if let Some(user) = t.child(event, "UserData")
        && matches!(t.shape(user), Shape::Object)
    {
        let mut found = None;
        t.members(user, &mut |_, wrapper| {
            if found.is_none() {
                found = t.child(wrapper, field);
            }
        });
        if found.is_some() {
            return found;
        }
    }
    if let Some(v) = system.and_then(|s| t.child(s, field)) {
        return Some(v);
    }
    // A dotted path from the record: `Event.System.Security.#attributes.UserID` or
    // `System.Security.#attributes.UserID`.
    if field.contains('.') {
        let rest = field.strip_prefix("Event.").unwrap_or(field);
        return rest.split('.').try_fold(event, |at, p| t.child(at, p));
    }
    None
}

pub(crate) fn to_field<T: Tree>(t: &T, n: T::Node) -> Option<FieldValue<'_>> {
    let n = element_text(t, n);
    match t.shape(n) {
        Shape::Null => Some(FieldValue::Null),
        Shape::Text(s) => Some(FieldValue::Text(s)),
        Shape::Array => {
            let mut items = Vec::new();
            t.members(n, &mut |_, i| items.extend(to_field(t, i)));
            Some(FieldValue::List(items))
        }
        // An element with attributes only: present, without text.
        Shape::Object => Some(FieldValue::Null),
    }
}

pub(crate) fn leaves<'t, T: Tree>(t: &'t T, n: T::Node, out: &mut Vec<Cow<'t, str>>) {
    match t.shape(n) {
        Shape::Text(s) => out.push(s),
        Shape::Array => t.members(n, &mut |_, i| leaves(t, i, out)),
        Shape::Object => t.members(n, &mut |k, v| {
            if k != "xmlns" {
                leaves(t, v, out);
            }
        }),
        Shape::Null => {}
    }
}

/// The record-level facts every reader of a Windows record gives.
pub trait WindowsRecord {
    /// `System.Channel`.
    fn channel(&self) -> Option<Cow<'_, str>>;
    /// `System.Computer`.
    fn computer(&self) -> Option<Cow<'_, str>>;
    /// `System.EventID` (its `#text` when it has `Qualifiers`).
    fn event_id(&self) -> Option<u32>;
    /// `System.EventRecordID`.
    fn record_id(&self) -> Option<u64>;
    /// `System.TimeCreated.#attributes.SystemTime`, as written (RFC 3339, UTC).
    fn time(&self) -> Option<Cow<'_, str>>;
}

/// A member of `System` by name.
pub(crate) fn system_member<T: Tree>(t: &T, key: &str) -> Option<T::Node> {
    t.child(system(t)?, key)
}

pub(crate) fn time_of<T: Tree>(t: &T) -> Option<Cow<'_, str>> {
    text_of(
        t,
        path(t, system(t)?, &["TimeCreated", "#attributes", "SystemTime"])?,
    )
}

pub(crate) fn values_of<T: Tree>(t: &T) -> Vec<Cow<'_, str>> {
    let event = t.event();
    let mut out = Vec::with_capacity(64);
    for part in ["System", "EventData", "UserData"] {
        if let Some(v) = t.child(event, part) {
            leaves(t, v, &mut out);
        }
    }
    out
}

/// `Event` and `WindowsRecord` for a [`Tree`].
macro_rules! windows_event {
    ($ty:ty) => {
        impl $crate::event::WindowsRecord for $ty {
            fn channel(&self) -> Option<Cow<'_, str>> {
                $crate::event::text_of(self, $crate::event::system_member(self, "Channel")?)
            }
            fn computer(&self) -> Option<Cow<'_, str>> {
                $crate::event::text_of(self, $crate::event::system_member(self, "Computer")?)
            }
            fn event_id(&self) -> Option<u32> {
                $crate::event::number_of(self, $crate::event::system_member(self, "EventID")?)
            }
            fn record_id(&self) -> Option<u64> {
                $crate::event::number_of(self, $crate::event::system_member(self, "EventRecordID")?)
            }
            fn time(&self) -> Option<Cow<'_, str>> {
                $crate::event::time_of(self)
            }
        }

        impl $crate::event::Event for $ty {
            fn get(&self, field: &str) -> Option<$crate::event::FieldValue<'_>> {
                $crate::event::Tree::field(self, field)
                    .and_then(|n| $crate::event::to_field(self, n))
            }
            fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
                $crate::event::Tree::values(self).iter().for_each(|v| f(v))
            }
            fn values(&self) -> Vec<Cow<'_, str>> {
                $crate::event::Tree::values(self)
            }
        }
    };
}
pub(crate) use windows_event;

/// A Windows event record as JSON: `{"Event": {"System": …, "EventData": …, "UserData": …}}`,
/// attributes under `#attributes` and an element's text under `#text` when it also has
/// attributes (the `evtx` crate's layout with `separate_json_attributes(false)`).
#[derive(Debug, Clone, Copy)]
pub struct JsonEvent<'a> {
    event: &'a Value,
}

impl<'a> JsonEvent<'a> {
    /// Wraps a record; `value` may be the whole record or its `Event` element.
    pub fn new(value: &'a Value) -> JsonEvent<'a> {
        JsonEvent {
            event: value.get("Event").unwrap_or(value),
        }
    }
}

impl<'a> Tree for JsonEvent<'a> {
    type Node = &'a Value;

    fn event(&self) -> &'a Value {
        self.event
    }

    fn child(&self, n: &'a Value, key: &str) -> Option<&'a Value> {
        n.as_object()?.get(key)
    }

    fn shape(&self, n: &'a Value) -> Shape<'_> {
        match n {
            Value::Null => Shape::Null,
            Value::String(s) => Shape::Text(Cow::Borrowed(s)),
            Value::Number(n) => Shape::Text(Cow::Owned(n.to_string())),
            Value::Bool(b) => Shape::Text(Cow::Borrowed(if *b { "true" } else { "false" })),
            Value::Array(_) => Shape::Array,
            Value::Object(_) => Shape::Object,
        }
    }

    fn members(&self, n: &'a Value, f: &mut dyn FnMut(&str, &'a Value)) {
        match n {
            Value::Object(map) => map.iter().for_each(|(k, v)| f(k, v)),
            Value::Array(items) => items.iter().for_each(|v| f("", v)),
            _ => {}
        }
    }
}

windows_event!(JsonEvent<'_>);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_system_eventdata_userdata_and_paths() {
        let v = json!({"Event": {
            "System": {"EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 104},
                       "Channel": "System", "Computer": "pc1",
                       "Provider": {"#attributes": {"Name": "Microsoft-Windows-Eventlog"}},
                       "Correlation": null,
                       "Security": {"#attributes": {"UserID": "S-1-5-18"}}},
            "EventData": {"Image": "C:\\a.exe", "Data": {"#text": ["x", "y"]}},
            "UserData": {"LogFileCleared": {"SubjectUserName": "admin"}}
        }});
        let e = JsonEvent::new(&v);
        assert_eq!(e.event_id(), Some(104));
        assert_eq!(e.get("EventID"), Some(FieldValue::Text("104".into())));
        assert_eq!(e.get("Image"), Some(FieldValue::Text("C:\\a.exe".into())));
        assert_eq!(
            e.get("Provider_Name"),
            Some(FieldValue::Text("Microsoft-Windows-Eventlog".into()))
        );
        assert_eq!(
            e.get("SubjectUserName"),
            Some(FieldValue::Text("admin".into()))
        );
        assert_eq!(e.get("Correlation"), Some(FieldValue::Null));
        assert_eq!(
            e.get("Data"),
            Some(FieldValue::List(vec![
                FieldValue::Text("x".into()),
                FieldValue::Text("y".into())
            ]))
        );
        assert_eq!(
            e.get("System.Security.#attributes.UserID"),
            Some(FieldValue::Text("S-1-5-18".into()))
        );
        assert_eq!(e.get("Nope"), None);
        let mut all = Vec::new();
        e.for_each_value(&mut |s| all.push(s.to_string()));
        assert!(all.contains(&"admin".to_string()));
        assert!(all.contains(&"y".to_string()));
    }
}
