//! One Sigma rule document (YAML) → a compiled [`Rule`], or the reason it is refused.

use crate::RefuseReason;
use crate::compile::{self, Interner, Placeholders, Selection};
use crate::condition::{self, Cond, CondError};
use crate::logsource::{self, Route, RouteError};
use yaml_rust2::{Yaml, YamlLoader};

/// A loaded rule.
#[derive(Debug)]
pub struct Rule {
    pub id: String,
    /// `name:`, by which correlation rules may refer to it.
    pub name: String,
    pub title: String,
    /// `informational`, `low`, `medium`, `high`, `critical` (empty when the rule gives none).
    pub level: String,
    pub status: String,
    pub description: String,
    pub tags: Vec<String>,
    /// Where the rule came from (a file name, with `#n` for the n-th document of a file).
    pub origin: String,
    pub(crate) routes: Vec<Route>,
    pub(crate) selections: Vec<Selection>,
    pub(crate) cond: Cond,
}

impl Rule {
    /// The channels and event ids the rule applies to.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}

/// A rule that was not loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub origin: String,
    /// The rule's id and title when they could be read.
    pub id: Option<String>,
    pub title: Option<String>,
    pub reason: RefuseReason,
}

fn text(doc: &Yaml, key: &str) -> Option<String> {
    match &doc[key] {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

/// Splits a YAML file into documents; a file that is not YAML gives one refusal.
pub(crate) fn documents(source: &str) -> Result<Vec<Yaml>, RefuseReason> {
    YamlLoader::load_from_str(source).map_err(|e| RefuseReason::Yaml(e.to_string()))
}

/// Compiles one document.
pub(crate) fn compile_rule(
    doc: &Yaml,
    origin: &str,
    fields: &mut Interner,
    placeholders: &Placeholders,
) -> Result<Rule, Refused> {
    let id = text(doc, "id");
    let title = text(doc, "title");
    let refuse = |reason: RefuseReason| Refused {
        origin: origin.to_string(),
        id: id.clone(),
        title: title.clone(),
        reason,
    };
    if !matches!(doc, Yaml::Hash(_)) {
        return Err(refuse(RefuseReason::NotARule("not a map".into())));
    }
    if !doc["action"].is_badvalue() {
        return Err(refuse(RefuseReason::RuleCollectionNotSupported));
    }
    let Some(title_text) = title.clone() else {
        return Err(refuse(RefuseReason::NotARule("no title".into())));
    };
    let Yaml::Hash(detection) = &doc["detection"] else {
        return Err(refuse(RefuseReason::NotARule("no detection".into())));
    };
    let Yaml::Hash(_) = &doc["logsource"] else {
        return Err(refuse(RefuseReason::NotARule("no logsource".into())));
    };
    let ls = |k: &str| doc["logsource"][k].as_str();
    let routes =
        logsource::routes(ls("product"), ls("category"), ls("service")).map_err(|e| match e {
            RouteError::NotWindows(p) => refuse(RefuseReason::NotWindows(p)),
            RouteError::Unknown(what) => refuse(RefuseReason::UnknownLogsource(what)),
        })?;

    let mut selections = Vec::new();
    let mut condition = None;
    for (k, v) in detection {
        let Some(name) = k.as_str() else {
            return Err(refuse(RefuseReason::NotARule(format!(
                "detection key {k:?}"
            ))));
        };
        match name {
            "condition" => condition = Some(v),
            // Sigma 1's window for aggregations; meaningless without one.
            "timeframe" => {}
            _ => {
                selections.push(compile::selection(name, v, fields, placeholders).map_err(&refuse)?)
            }
        }
    }
    let names: Vec<String> = selections.iter().map(|s| s.name.clone()).collect();
    let parse = |c: &str| {
        condition::parse(c, &names).map_err(|e| {
            refuse(match e {
                CondError::Syntax(s) => RefuseReason::BadCondition(format!("{s} in `{c}`")),
                CondError::UnknownSelection(s) => RefuseReason::UnknownSelection(s),
                CondError::Aggregation => RefuseReason::AggregationNotSupported,
            })
        })
    };
    let cond = match condition {
        Some(Yaml::String(c)) => parse(c)?,
        // A list of conditions (Sigma 1): any of them.
        Some(Yaml::Array(items)) if !items.is_empty() => {
            let mut any = Vec::new();
            for i in items {
                let Some(c) = i.as_str() else {
                    return Err(refuse(RefuseReason::BadCondition(format!("{i:?}"))));
                };
                any.push(parse(c)?);
            }
            Cond::Or(any)
        }
        Some(other) => {
            return Err(refuse(RefuseReason::BadCondition(format!("{other:?}"))));
        }
        None => return Err(refuse(RefuseReason::NotARule("no condition".into()))),
    };
    let tags = doc["tags"]
        .as_vec()
        .map(|t| {
            t.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok(Rule {
        id: id.unwrap_or_default(),
        name: text(doc, "name").unwrap_or_default(),
        title: title_text,
        level: text(doc, "level").unwrap_or_default(),
        status: text(doc, "status").unwrap_or_default(),
        description: text(doc, "description").unwrap_or_default(),
        tags,
        origin: origin.to_string(),
        routes,
        selections,
        cond,
    })
}
