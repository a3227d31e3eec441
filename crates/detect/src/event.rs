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
}

/// A Windows event record as JSON: `{"Event": {"System": …, "EventData": …, "UserData": …}}`,
/// attributes under `#attributes` and an element's text under `#text` when it also has
/// attributes (the `evtx` crate's layout with `separate_json_attributes(false)`).
#[derive(Debug, Clone, Copy)]
pub struct JsonEvent<'a> {
    event: &'a Value,
}

/// Fields read from `System` first (the rest come from `EventData`, then `UserData`).
const SYSTEM_FIELDS: &[&str] = &[
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

impl<'a> JsonEvent<'a> {
    /// Wraps a record; `value` may be the whole record or its `Event` element.
    pub fn new(value: &'a Value) -> JsonEvent<'a> {
        JsonEvent {
            event: value.get("Event").unwrap_or(value),
        }
    }

    fn system(&self) -> Option<&'a Value> {
        self.event.get("System")
    }

    /// `System.Channel`.
    pub fn channel(&self) -> Option<&'a str> {
        self.system()?.get("Channel")?.as_str()
    }

    /// `System.Computer`.
    pub fn computer(&self) -> Option<&'a str> {
        self.system()?.get("Computer")?.as_str()
    }

    /// `System.EventID` (its `#text` when it has `Qualifiers`).
    pub fn event_id(&self) -> Option<u32> {
        number(element_text(self.system()?.get("EventID")?))
    }

    /// `System.EventRecordID`.
    pub fn record_id(&self) -> Option<u64> {
        number(element_text(self.system()?.get("EventRecordID")?))
    }

    /// `System.TimeCreated.#attributes.SystemTime`, as written (RFC 3339, UTC).
    pub fn time(&self) -> Option<&'a str> {
        self.system()?
            .get("TimeCreated")?
            .get("#attributes")?
            .get("SystemTime")?
            .as_str()
    }

    fn lookup(&self, field: &str) -> Option<&'a Value> {
        let system = self.system();
        if field == "Provider_Name" {
            return system?.get("Provider")?.get("#attributes")?.get("Name");
        }
        if SYSTEM_FIELDS.contains(&field)
            && let Some(v) = system.and_then(|s| s.get(field))
        {
            return Some(v);
        }
        if let Some(v) = self.event.get("EventData").and_then(|d| d.get(field)) {
            return Some(v);
        }
        if let Some(Value::Object(user)) = self.event.get("UserData") {
            for wrapper in user.values() {
                if let Some(v) = wrapper.get(field) {
                    return Some(v);
                }
            }
        }
        if let Some(v) = system.and_then(|s| s.get(field)) {
            return Some(v);
        }
        // A dotted path from the record: `Event.System.Security.#attributes.UserID` or
        // `System.Security.#attributes.UserID`.
        if field.contains('.') {
            let path = field.strip_prefix("Event.").unwrap_or(field);
            let mut at = self.event;
            for part in path.split('.') {
                at = at.get(part)?;
            }
            return Some(at);
        }
        None
    }
}

/// An element's text: the value itself, or its `#text` when it also has attributes.
fn element_text(v: &Value) -> &Value {
    v.get("#text").unwrap_or(v)
}

fn number<T: TryFrom<u64>>(v: &Value) -> Option<T> {
    let n = match v {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    T::try_from(n).ok()
}

fn to_field(v: &Value) -> Option<FieldValue<'_>> {
    match element_text(v) {
        Value::Null => Some(FieldValue::Null),
        Value::String(s) => Some(FieldValue::Text(Cow::Borrowed(s))),
        Value::Number(n) => Some(FieldValue::Text(Cow::Owned(n.to_string()))),
        Value::Bool(b) => Some(FieldValue::Text(Cow::Borrowed(if *b {
            "true"
        } else {
            "false"
        }))),
        Value::Array(items) => Some(FieldValue::List(
            items.iter().filter_map(to_field).collect(),
        )),
        // An element with attributes only: present, without text.
        Value::Object(_) => Some(FieldValue::Null),
    }
}

fn each_leaf(v: &Value, f: &mut dyn FnMut(&str)) {
    match v {
        Value::String(s) => f(s),
        Value::Number(n) => f(&n.to_string()),
        Value::Bool(b) => f(if *b { "true" } else { "false" }),
        Value::Array(items) => items.iter().for_each(|i| each_leaf(i, f)),
        Value::Object(map) => {
            for (k, v) in map {
                if k != "xmlns" {
                    each_leaf(v, f);
                }
            }
        }
        Value::Null => {}
    }
}

impl Event for JsonEvent<'_> {
    fn get(&self, field: &str) -> Option<FieldValue<'_>> {
        self.lookup(field).and_then(to_field)
    }

    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        for part in ["System", "EventData", "UserData"] {
            if let Some(v) = self.event.get(part) {
                each_leaf(v, f);
            }
        }
    }
}

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
