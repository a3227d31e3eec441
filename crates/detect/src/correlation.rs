//! Sigma correlation rules over the detections of other rules: `event_count`, `value_count`,
//! `temporal` and `temporal_ordered`, per `group-by` values, in a sliding `timespan`. The
//! [`Correlator`] keeps the windows; time comes in with each event (events are fed in time order,
//! as an `.evtx` file holds them).

use crate::RefuseReason;
use crate::engine::{Detection, RuleSet};
use crate::event::Event;
use std::collections::{HashMap, HashSet, VecDeque};
use yaml_rust2::Yaml;

/// Which correlation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationKind {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
}

/// `condition:` of `event_count` / `value_count`: the count must meet every bound given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Threshold {
    gt: Option<u64>,
    gte: Option<u64>,
    eq: Option<u64>,
}

impl Threshold {
    fn holds(&self, n: u64) -> bool {
        self.gt.is_none_or(|b| n > b)
            && self.gte.is_none_or(|b| n >= b)
            && self.eq.is_none_or(|b| n == b)
    }
}

/// A loaded correlation rule.
#[derive(Debug)]
pub struct Correlation {
    pub id: String,
    pub name: String,
    pub title: String,
    pub description: String,
    pub level: String,
    pub origin: String,
    pub kind: CorrelationKind,
    /// `generate: true`: the rules it reads also report their own matches. By default (the
    /// Sigma specification's) they only feed the correlation.
    pub generate: bool,
    /// The rules it reads, by `name` or `id`, as written.
    pub rules: Vec<String>,
    pub group_by: Vec<String>,
    pub timespan_ms: i64,
    /// `value_count`: the field whose distinct values are counted.
    field: Option<String>,
    threshold: Threshold,
    /// The referenced rules' indexes in the set (after [`RuleSet::finish`]).
    pub(crate) resolved: Vec<usize>,
}

fn timespan(s: &str) -> Option<i64> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: i64 = s.get(..s.len() - unit.len_utf8())?.trim().parse().ok()?;
    let ms = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        'w' => 7 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(ms).filter(|v| *v > 0)
}

fn strings(v: &Yaml) -> Vec<String> {
    match v {
        Yaml::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        Yaml::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn text(doc: &Yaml, key: &str) -> String {
    doc[key].as_str().unwrap_or_default().to_string()
}

/// Reads a correlation document.
pub(crate) fn compile(doc: &Yaml, origin: &str) -> Result<Correlation, RefuseReason> {
    let c = &doc["correlation"];
    let bad = |why: &str| RefuseReason::BadCorrelation(why.to_string());
    let kind = match c["type"].as_str() {
        Some("event_count") => CorrelationKind::EventCount,
        Some("value_count") => CorrelationKind::ValueCount,
        Some("temporal") => CorrelationKind::Temporal,
        Some("temporal_ordered") => CorrelationKind::TemporalOrdered,
        other => return Err(bad(&format!("type {other:?}"))),
    };
    let rules = strings(&c["rules"]);
    if rules.is_empty() {
        return Err(bad("no rules"));
    }
    let timespan_ms = c["timespan"]
        .as_str()
        .and_then(timespan)
        .ok_or_else(|| bad("timespan must be like 30s, 5m, 1h, 2d"))?;
    let mut threshold = Threshold::default();
    let mut field = None;
    if let Yaml::Hash(cond) = &c["condition"] {
        for (k, v) in cond {
            let n = || {
                v.as_i64()
                    .and_then(|n| u64::try_from(n).ok())
                    .ok_or_else(|| bad("a condition bound must be a whole number"))
            };
            match k.as_str() {
                Some("gt") => threshold.gt = Some(n()?),
                Some("gte") => threshold.gte = Some(n()?),
                Some("eq") => threshold.eq = Some(n()?),
                Some("field") => field = v.as_str().map(str::to_string),
                Some("lt" | "lte") => {
                    return Err(bad(
                        "lt/lte (fewer than) needs the end of each window: not supported yet",
                    ));
                }
                _ => return Err(bad(&format!("condition key {k:?}"))),
            }
        }
    }
    let counts = matches!(
        kind,
        CorrelationKind::EventCount | CorrelationKind::ValueCount
    );
    if counts && threshold == Threshold::default() {
        return Err(bad("event_count and value_count need a condition (gte …)"));
    }
    if kind == CorrelationKind::ValueCount && field.is_none() {
        return Err(bad("value_count needs condition.field"));
    }
    Ok(Correlation {
        id: text(doc, "id"),
        name: text(doc, "name"),
        title: text(doc, "title"),
        description: text(doc, "description"),
        level: text(doc, "level"),
        origin: origin.to_string(),
        kind,
        generate: c["generate"].as_bool().unwrap_or(false),
        rules,
        group_by: strings(&c["group-by"]),
        timespan_ms,
        field,
        threshold,
        resolved: Vec::new(),
    })
}

/// A correlation that fired.
#[derive(Debug)]
pub struct CorrelationHit<'r> {
    pub correlation: &'r Correlation,
    /// `(group-by field, value)`.
    pub group: Vec<(String, String)>,
    /// Events (or distinct values, for `value_count`) in the window.
    pub count: usize,
    pub first_ms: i64,
    pub last_ms: i64,
}

#[derive(Debug, Default)]
struct Window {
    /// (time, position of the rule in the correlation's list, counted value).
    items: VecDeque<(i64, usize, Option<String>)>,
}

/// Sliding windows of every correlation of a set. It keeps indices into the set, not the set:
/// a set rebuilt from the same files (new placeholder values) keeps the windows.
#[derive(Debug)]
pub struct Correlator {
    /// rule index → (correlation index, position in its rule list).
    by_rule: HashMap<usize, Vec<(usize, usize)>>,
    windows: Vec<HashMap<Vec<String>, Window>>,
}

fn first_text(event: &dyn Event, field: &str) -> Option<String> {
    let mut t = Vec::new();
    event.get(field)?.texts(&mut t);
    t.into_iter().next().map(|c| c.into_owned())
}

impl Correlator {
    pub fn new(set: &RuleSet) -> Correlator {
        let mut by_rule: HashMap<usize, Vec<(usize, usize)>> = HashMap::new();
        for (c, corr) in set.correlations().iter().enumerate() {
            for (pos, rule) in corr.resolved.iter().enumerate() {
                by_rule.entry(*rule).or_default().push((c, pos));
            }
        }
        Correlator {
            by_rule,
            windows: set.correlations().iter().map(|_| HashMap::new()).collect(),
        }
    }

    /// Feeds one event's detections (from [`RuleSet::scan`] of `set`, the set this correlator
    /// was made for or one built from the same rules) at `time_ms`; returns the correlations
    /// that fire. A window that fires starts afresh.
    pub fn feed<'r>(
        &mut self,
        set: &'r RuleSet,
        event: &dyn Event,
        time_ms: i64,
        detections: &[Detection<'_>],
    ) -> Vec<CorrelationHit<'r>> {
        let mut out = Vec::new();
        for d in detections {
            let Some(links) = self.by_rule.get(&d.index) else {
                continue;
            };
            for &(c, pos) in links {
                let Some(corr) = set.correlations().get(c) else {
                    continue;
                };
                let Some(windows) = self.windows.get_mut(c) else {
                    continue;
                };
                let key: Vec<String> = corr
                    .group_by
                    .iter()
                    .map(|f| first_text(event, f).unwrap_or_default())
                    .collect();
                let value = corr.field.as_deref().and_then(|f| first_text(event, f));
                let w = windows.entry(key.clone()).or_default();
                w.items.push_back((time_ms, pos, value));
                let since = time_ms.saturating_sub(corr.timespan_ms);
                while w.items.front().is_some_and(|(t, _, _)| *t < since) {
                    w.items.pop_front();
                }
                let count = match corr.kind {
                    CorrelationKind::EventCount => {
                        let n = w.items.len();
                        corr.threshold.holds(n as u64).then_some(n)
                    }
                    CorrelationKind::ValueCount => {
                        let n = w
                            .items
                            .iter()
                            .filter_map(|(_, _, v)| v.as_deref())
                            .collect::<HashSet<_>>()
                            .len();
                        corr.threshold.holds(n as u64).then_some(n)
                    }
                    CorrelationKind::Temporal => {
                        let seen: HashSet<usize> = w.items.iter().map(|(_, p, _)| *p).collect();
                        (seen.len() == corr.resolved.len()).then_some(w.items.len())
                    }
                    CorrelationKind::TemporalOrdered => {
                        let mut next = 0;
                        for (_, p, _) in &w.items {
                            if *p == next {
                                next += 1;
                            }
                        }
                        (next == corr.resolved.len()).then_some(w.items.len())
                    }
                };
                if let Some(count) = count {
                    let first_ms = w.items.front().map_or(time_ms, |(t, _, _)| *t);
                    w.items.clear();
                    out.push(CorrelationHit {
                        correlation: corr,
                        group: corr.group_by.iter().cloned().zip(key).collect(),
                        count,
                        first_ms,
                        last_ms: time_ms,
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timespans() {
        assert_eq!(timespan("30s"), Some(30_000));
        assert_eq!(timespan("5m"), Some(300_000));
        assert_eq!(timespan("1h"), Some(3_600_000));
        assert_eq!(timespan("2d"), Some(172_800_000));
        assert_eq!(timespan("5x"), None);
        assert_eq!(timespan("m"), None);
        assert_eq!(timespan("0s"), None);
    }
}
