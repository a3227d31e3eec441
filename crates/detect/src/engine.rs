//! The rule set: loading (refusals kept with their reasons), the index from channel and event
//! id to the rules that apply, and matching one event against them. Each field an event is asked
//! for is read and case-folded once per event, however many rules look at it.

use crate::compile::{FieldId, Interner, Matcher, Placeholders, Pred, RefShape, Target};
use crate::condition::Cond;
use crate::correlation::{self, Correlation};
use crate::event::{Event, FieldValue};
use crate::logsource::{FIELD_MAPS, FieldMap, Route};
use crate::rule::{self, Refused, Rule};
use crate::{RefuseReason, compile};
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// (rule index, route index).
type Entry = (usize, usize);

/// Compiled rules, ready to match events.
#[derive(Debug, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    refused: Vec<Refused>,
    fields: Interner,
    placeholders: Placeholders,
    /// Rule id and name → index.
    ids: HashMap<String, usize>,
    names: HashMap<String, usize>,
    correlations: Vec<Correlation>,
    by_event: HashMap<(String, u32), Vec<Entry>>,
    by_channel: HashMap<String, Vec<Entry>>,
    everywhere: Vec<Entry>,
    /// Rules read by a correlation without `generate: true`: their matches feed it only.
    silent: HashSet<usize>,
    prefilter: Prefilter,
    /// The candidate lists of every known channel and event id, merged, sorted and
    /// deduplicated once by [`RuleSet::finish`] (`None` until then or after a later add).
    merged: Option<Merged>,
}

/// The rules an event of one channel and event id meets, with the `(field map, field)` pairs
/// their prefilter reads. A rule meets an event of the list under one route, so under one field
/// map: per map, one bit per rule of the list (`member`) and one per rule evaluated whatever the
/// prefilter finds (`always`, those without a necessary condition).
#[derive(Debug, Default)]
struct List {
    member: Bits,
    always: Bits,
    /// Rule → the route it meets the list's events by.
    routes: FxHashMap<u32, u32>,
    fields: Vec<(FieldMap, FieldId)>,
}

/// One bit per rule, per field map.
#[derive(Debug, Clone, Default)]
struct Bits([Vec<u64>; FIELD_MAPS]);

impl Bits {
    fn new(rules: usize) -> Bits {
        Bits(std::array::from_fn(|_| vec![0; rules.div_ceil(64)]))
    }

    fn set(&mut self, map: FieldMap, rule: usize) {
        if let Some(w) = self
            .0
            .get_mut(map.index())
            .and_then(|b| b.get_mut(rule / 64))
        {
            *w |= 1 << (rule % 64);
        }
    }
}

/// A channel's rules for any event id, and per event id; each list complete.
type ChannelLists = (List, FxHashMap<u32, List>);

/// Channel → its candidate lists.
#[derive(Debug, Default)]
struct Merged {
    channels: HashMap<String, ChannelLists>,
    /// Channels nobody names: the `product: windows` rules.
    elsewhere: List,
}

/// Which rules an event can possibly match, found before any rule is evaluated. For each rule,
/// a necessary condition is taken from its condition: "field F contains one of these
/// substrings" (alternatives: any one of them must hold). Every such substring of a field is in
/// one Aho-Corasick automaton for the field, run once over the event's value; a rule none of
/// whose substrings is there is not evaluated. Keyword lists count as the field [`KEYWORDS`]:
/// its automaton runs over each of the event's values. Rules without such a condition (a `not`
/// at the top, numbers, regexes …) are always evaluated. It changes no result, only how many
/// rules are looked at.
#[derive(Debug, Default)]
struct Prefilter {
    /// Per field: the automaton over every needle of that field.
    fields: FxHashMap<FieldId, aho_corasick::AhoCorasick>,
    /// Per rule: `None` (always evaluate) or the alternatives.
    rules: Vec<Option<Alternatives>>,
    /// Per field and needle id: the rules that needle lets through.
    needle_rules: FxHashMap<FieldId, Vec<Vec<u32>>>,
}

/// The prefilter's name for "any value of the event" (keyword lists): no interned field has it.
const KEYWORDS: FieldId = FieldId::MAX;

/// `(field, needle ids)`: one of these needles is in that field.
type Alternatives = Vec<(FieldId, Vec<u32>)>;

/// A necessary condition: one of these `(field, needle)` holds.
type Need = Vec<(FieldId, String)>;

fn matcher_need(m: &Matcher) -> Option<Vec<String>> {
    match m {
        Matcher::Strings(set) => set.needles.clone(),
        Matcher::AllContains(a) => a.needle.clone().map(|n| vec![n]),
        // Any of them: each must give needles.
        Matcher::Any(ms) => {
            let mut out = Vec::new();
            for m in ms {
                out.extend(matcher_need(m)?);
            }
            Some(out)
        }
        // All of them: one with needles is enough.
        Matcher::All(ms) => ms.iter().filter_map(matcher_need).min_by_key(|n| n.len()),
        _ => None,
    }
}

/// The better of two necessary conditions (fewer alternatives, then longer needles).
fn better(a: Option<Need>, b: Option<Need>) -> Option<Need> {
    let score = |n: &Need| {
        let shortest = n.iter().map(|(_, s)| s.len()).min().unwrap_or(0);
        (n.len(), usize::MAX - shortest)
    };
    match (a, b) {
        (Some(a), Some(b)) => Some(if score(&b) < score(&a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

fn selection_need(sel: &compile::Selection) -> Option<Need> {
    let mut out = Vec::new();
    for conj in &sel.any {
        // One predicate of the conjunction must hold: take the best one.
        let mut best: Option<Need> = None;
        for p in conj {
            let f = match p.target {
                Target::Field(f) => f,
                Target::Keywords => KEYWORDS,
            };
            if let Some(needles) = matcher_need(&p.matcher) {
                best = better(best, Some(needles.into_iter().map(|n| (f, n)).collect()));
            }
        }
        out.extend(best?);
    }
    (!out.is_empty()).then_some(out)
}

fn cond_need(rule: &Rule, c: &Cond) -> Option<Need> {
    match c {
        Cond::Sel(i) => rule.selections.get(*i).and_then(selection_need),
        Cond::Not(_) => None,
        Cond::And(cs) => cs.iter().map(|c| cond_need(rule, c)).fold(None, better),
        Cond::Or(cs) => {
            let mut out = Vec::new();
            for c in cs {
                out.extend(cond_need(rule, c)?);
            }
            (!out.is_empty()).then_some(out)
        }
    }
}

impl Prefilter {
    fn build(rules: &[Rule]) -> Prefilter {
        let mut needles: HashMap<FieldId, (Vec<String>, HashMap<String, u32>)> = HashMap::new();
        let mut per_rule = Vec::with_capacity(rules.len());
        for rule in rules {
            let need = cond_need(rule, &rule.cond).map(|need| {
                let mut by_field: Alternatives = Vec::new();
                for (f, n) in need {
                    let (list, ids) = needles.entry(f).or_default();
                    let id = *ids.entry(n.clone()).or_insert_with(|| {
                        list.push(n);
                        u32::try_from(list.len() - 1).unwrap_or(u32::MAX)
                    });
                    match by_field.iter_mut().find(|(g, _)| *g == f) {
                        Some((_, v)) => v.push(id),
                        None => by_field.push((f, vec![id])),
                    }
                }
                by_field
            });
            per_rule.push(need);
        }
        // Keyword values are searched joined by NUL: a needle holding one could match across
        // two values, so such keyword lists are always evaluated.
        if needles
            .get(&KEYWORDS)
            .is_some_and(|(list, _)| list.iter().any(|n| n.contains('\0')))
        {
            needles.remove(&KEYWORDS);
            for r in per_rule.iter_mut() {
                if r.as_ref()
                    .is_some_and(|alts| alts.iter().any(|(g, _)| *g == KEYWORDS))
                {
                    *r = None;
                }
            }
        }
        let mut fields = FxHashMap::default();
        for (f, (list, _)) in needles {
            // Keyword needles are folded; values are searched as they are when ASCII (no
            // lower-casing per value), so that automaton ignores ASCII case.
            let built = aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(f == KEYWORDS)
                .build(&list);
            match built {
                Ok(ac) => {
                    fields.insert(f, ac);
                }
                // Too large for an automaton: the rules of that field are always evaluated.
                Err(_) => {
                    for r in per_rule.iter_mut() {
                        if r.as_ref()
                            .is_some_and(|alts| alts.iter().any(|(g, _)| *g == f))
                        {
                            *r = None;
                        }
                    }
                }
            }
        }
        let mut needle_rules: FxHashMap<FieldId, Vec<Vec<u32>>> = FxHashMap::default();
        for (r, alts) in per_rule.iter().enumerate() {
            for (f, ids) in alts.iter().flatten() {
                let Some(ac) = fields.get(f) else { continue };
                let lists = needle_rules
                    .entry(*f)
                    .or_insert_with(|| vec![Vec::new(); ac.patterns_len()]);
                for id in ids {
                    if let Some(l) = lists.get_mut(*id as usize) {
                        l.push(u32::try_from(r).unwrap_or(u32::MAX));
                    }
                }
            }
        }
        Prefilter {
            fields,
            rules: per_rule,
            needle_rules,
        }
    }

    /// The list for these entries (one per rule): their bits, and which fields the prefilter
    /// reads for them.
    fn list(&self, entries: Vec<Entry>, rules: &[Rule]) -> List {
        let mut list = List {
            member: Bits::new(rules.len()),
            always: Bits::new(rules.len()),
            ..List::default()
        };
        for &(r, route) in &entries {
            let Some(map) = rules
                .get(r)
                .and_then(|rule| rule.routes.get(route))
                .map(|route| route.field_map)
            else {
                continue;
            };
            list.member.set(map, r);
            list.routes.insert(
                u32::try_from(r).unwrap_or(u32::MAX),
                u32::try_from(route).unwrap_or(u32::MAX),
            );
            match self.rules.get(r) {
                Some(Some(alts)) => {
                    for (f, _) in alts {
                        if !list.fields.contains(&(map, *f)) {
                            list.fields.push((map, *f));
                        }
                    }
                }
                _ => list.always.set(map, r),
            }
        }
        list
    }
}

/// What one [`RuleSet::add_yaml`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddOutcome {
    pub loaded: usize,
    pub refused: usize,
}

/// A rule that matched an event, with the event's values of the fields that made it match.
#[derive(Debug)]
pub struct Detection<'r> {
    pub rule: &'r Rule,
    /// The rule's index in the set.
    pub(crate) index: usize,
    /// `(field as named in the event, value)`, in the rule's order.
    pub fields: Vec<(String, String)>,
    /// The rule only feeds a correlation (which does not `generate` its rules' matches): the
    /// match is not reported by itself.
    pub silent: bool,
}

impl RuleSet {
    pub fn new() -> RuleSet {
        RuleSet::default()
    }

    /// A set whose `|expand` modifiers take these placeholder values.
    pub fn with_placeholders(placeholders: Placeholders) -> RuleSet {
        RuleSet {
            placeholders,
            ..RuleSet::default()
        }
    }

    /// Loads every rule document in `source` (one YAML file), `origin` naming it in refusals.
    pub fn add_yaml(&mut self, origin: &str, source: &str) -> AddOutcome {
        let mut out = AddOutcome::default();
        let docs = match rule::documents(source) {
            Ok(d) => d,
            Err(reason) => {
                self.refused.push(Refused {
                    origin: origin.to_string(),
                    id: None,
                    title: None,
                    reason,
                });
                out.refused += 1;
                return out;
            }
        };
        let many = docs.len() > 1;
        for (n, doc) in docs.iter().enumerate() {
            let origin = if many {
                format!("{origin}#{}", n + 1)
            } else {
                origin.to_string()
            };
            if !doc["correlation"].is_badvalue() {
                match correlation::compile(doc, &origin) {
                    Ok(c) => {
                        self.correlations.push(c);
                        out.loaded += 1;
                    }
                    Err(reason) => {
                        self.refused.push(Refused {
                            origin,
                            id: doc["id"].as_str().map(str::to_string),
                            title: doc["title"].as_str().map(str::to_string),
                            reason,
                        });
                        out.refused += 1;
                    }
                }
                continue;
            }
            match rule::compile_rule(doc, &origin, &mut self.fields, &self.placeholders) {
                Ok(rule) if !rule.id.is_empty() && self.ids.contains_key(&rule.id) => {
                    self.refused.push(Refused {
                        origin,
                        id: Some(rule.id.clone()),
                        title: Some(rule.title.clone()),
                        reason: RefuseReason::DuplicateId(rule.id),
                    });
                    out.refused += 1;
                }
                Ok(rule) => {
                    self.index(rule);
                    out.loaded += 1;
                }
                Err(refused) => {
                    self.refused.push(refused);
                    out.refused += 1;
                }
            }
        }
        out
    }

    fn index(&mut self, rule: Rule) {
        self.merged = None;
        let at = self.rules.len();
        for (r, route) in rule.routes.iter().enumerate() {
            match (&route.channel, route.event_ids.as_slice()) {
                (None, _) => self.everywhere.push((at, r)),
                (Some(c), []) => self.by_channel.entry(c.clone()).or_default().push((at, r)),
                (Some(c), ids) => {
                    for id in ids {
                        self.by_event
                            .entry((c.clone(), *id))
                            .or_default()
                            .push((at, r));
                    }
                }
            }
        }
        if !rule.id.is_empty() {
            self.ids.insert(rule.id.clone(), at);
        }
        if !rule.name.is_empty() {
            self.names.insert(rule.name.clone(), at);
        }
        self.rules.push(rule);
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn refused(&self) -> &[Refused] {
        &self.refused
    }

    /// The loaded correlation rules (those resolved by [`RuleSet::finish`] run).
    pub fn correlations(&self) -> &[Correlation] {
        &self.correlations
    }

    /// Turns the prefilter off (every routed rule is evaluated): for tests that check it
    /// changes no result.
    #[doc(hidden)]
    pub fn disable_prefilter(&mut self) {
        self.prefilter = Prefilter::default();
        if self.merged.is_some() {
            self.merged = Some(self.merge());
        }
    }

    /// Call once every file is added: ties correlation rules to the rules they name (by `name`
    /// or `id`); one that names a rule not loaded, or another correlation, is refused.
    pub fn finish(&mut self) {
        self.prefilter = Prefilter::build(&self.rules);
        self.merged = Some(self.merge());
        let correlations = std::mem::take(&mut self.correlations);
        let corr_names: HashSet<String> = correlations
            .iter()
            .flat_map(|c| [c.id.clone(), c.name.clone()])
            .filter(|s| !s.is_empty())
            .collect();
        for mut c in correlations {
            let mut resolved = Vec::new();
            let mut problem = None;
            for r in &c.rules {
                match self.names.get(r).or_else(|| self.ids.get(r)) {
                    Some(i) => resolved.push(*i),
                    None if corr_names.contains(r) => {
                        problem = Some(RefuseReason::CorrelationNotSupported(format!(
                            "a correlation of correlations ({r})"
                        )));
                    }
                    None => problem = Some(RefuseReason::UnknownCorrelationRule(r.clone())),
                }
            }
            match problem {
                Some(reason) => self.refused.push(Refused {
                    origin: c.origin.clone(),
                    id: Some(c.id.clone()),
                    title: Some(c.title.clone()),
                    reason,
                }),
                None => {
                    if !c.generate {
                        self.silent.extend(resolved.iter().copied());
                    }
                    c.resolved = resolved;
                    self.correlations.push(c);
                }
            }
        }
    }

    fn merge(&self) -> Merged {
        let tidy = |mut v: Vec<Entry>| {
            v.sort_unstable();
            v.dedup_by_key(|e| e.0);
            v
        };
        let mut channels: HashMap<String, ChannelLists> = HashMap::new();
        let names: HashSet<&String> = self
            .by_channel
            .keys()
            .chain(self.by_event.keys().map(|(c, _)| c))
            .collect();
        let list = |v: Vec<Entry>| self.prefilter.list(tidy(v), &self.rules);
        for c in names {
            let all = list(self.candidates(c, None));
            let mut ids = FxHashMap::default();
            for (ch, id) in self.by_event.keys() {
                if ch == c {
                    ids.insert(*id, list(self.candidates(c, Some(*id))));
                }
            }
            channels.insert(c.clone(), (all, ids));
        }
        Merged {
            channels,
            elsewhere: list(self.everywhere.clone()),
        }
    }

    /// The rules an event of this channel and event id meets.
    fn candidates(&self, channel: &str, event_id: Option<u32>) -> Vec<Entry> {
        // `product: windows` alone means every Windows channel, not mamori's own events.
        let mut out = if channel == crate::logsource::MAMORI_CHANNEL {
            Vec::new()
        } else {
            self.everywhere.clone()
        };
        if let Some(c) = self.by_channel.get(channel) {
            out.extend_from_slice(c);
        }
        if let Some(id) = event_id
            && let Some(c) = self.by_event.get(&(channel.to_string(), id))
        {
            out.extend_from_slice(c);
        }
        out
    }

    /// Every rule the event matches, in load order.
    pub fn scan<'r>(&'r self, event: &dyn Event) -> Vec<Detection<'r>> {
        let text = |f: &str| event.get(f).and_then(first_text);
        let channel = fold(text("Channel").unwrap_or_default()).1;
        let event_id = text("EventID").and_then(|t| t.trim().parse::<u32>().ok());
        self.scan_routed(event, &channel, event_id)
    }

    /// Every rule the event matches when it is routed as `channel` (lower case) and
    /// `event_id`, whatever its own `Channel` and `EventID` fields say: normalised events are
    /// routed as [`crate::logsource::MAMORI_CHANNEL`].
    pub fn scan_routed<'r>(
        &'r self,
        event: &dyn Event,
        channel: &str,
        event_id: Option<u32>,
    ) -> Vec<Detection<'r>> {
        let computed;
        let empty = List::default();
        let list: &List = match &self.merged {
            Some(m) => match m.channels.get(channel) {
                Some((all, ids)) => event_id.and_then(|i| ids.get(&i)).unwrap_or(all),
                None if channel == crate::logsource::MAMORI_CHANNEL => &empty,
                None => &m.elsewhere,
            },
            None => {
                let mut v = self.candidates(channel, event_id);
                v.sort_unstable();
                v.dedup_by_key(|e| e.0);
                computed = self.prefilter.list(v, &self.rules);
                &computed
            }
        };
        let mut ctx = Ctx::new(event, &self.fields);
        // The rules to evaluate: those always evaluated, plus those the prefilter lets through,
        // of this list only; walked in load order.
        let mut picked = list.always.clone();
        for &(map, f) in &list.fields {
            ctx.unlock(map, f, &self.prefilter, &mut picked);
        }
        let mut out = Vec::new();
        let words = list.member.0.iter().map(Vec::len).max().unwrap_or(0);
        let word = |b: &Bits, map: usize, w: usize| {
            b.0.get(map).and_then(|v| v.get(w)).copied().unwrap_or(0)
        };
        let candidates = (0..words).flat_map(|w| {
            let mut both = (0..FIELD_MAPS).fold(0, |acc, m| {
                acc | (word(&picked, m, w) & word(&list.member, m, w))
            });
            std::iter::from_fn(move || {
                (both != 0).then(|| {
                    let bit = both.trailing_zeros();
                    both &= both - 1;
                    w * 64 + bit as usize
                })
            })
        });
        for r in candidates {
            let Some(rule) = self.rules.get(r) else {
                continue;
            };
            let Some(route) = u32::try_from(r)
                .ok()
                .and_then(|r| list.routes.get(&r))
                .and_then(|route| rule.routes.get(*route as usize))
            else {
                continue;
            };
            let map = route.field_map;
            if !ctx.route_holds(route) {
                continue;
            }
            if ctx.cond(rule, &rule.cond, map) {
                let mut fields = Vec::new();
                ctx.explain(rule, &rule.cond, map, true, &mut fields);
                let mut seen = HashSet::new();
                fields.retain(|f: &(String, String)| seen.insert(f.clone()));
                out.push(Detection {
                    rule,
                    index: r,
                    fields,
                    silent: self.silent.contains(&r),
                });
            }
        }
        out
    }
}

/// A field of the event as read once: present or not, null or not, its texts raw and folded.
#[derive(Debug, Default)]
struct Slot<'e> {
    present: bool,
    null: bool,
    values: Vec<(Cow<'e, str>, Cow<'e, str>)>,
}

/// A field's first text (its only one, usually), borrowed where the event holds it.
fn first_text(v: FieldValue<'_>) -> Option<Cow<'_, str>> {
    match v {
        FieldValue::Text(t) => Some(t),
        other => {
            let mut t = Vec::new();
            other.texts(&mut t);
            t.into_iter().next()
        }
    }
}

fn fold(raw: Cow<'_, str>) -> (Cow<'_, str>, Cow<'_, str>) {
    // ASCII text (nearly every Windows value) folds byte by byte, the same result faster.
    if raw.is_ascii() {
        if raw.bytes().any(|b| b.is_ascii_uppercase()) {
            let lower = Cow::Owned(raw.to_ascii_lowercase());
            return (raw, lower);
        }
        return (raw.clone(), raw);
    }
    if raw.chars().any(char::is_uppercase) {
        let lower = Cow::Owned(raw.to_lowercase());
        (raw, lower)
    } else {
        (raw.clone(), raw)
    }
}

fn slot_of(v: Option<FieldValue<'_>>) -> Slot<'_> {
    let Some(v) = v else {
        return Slot::default();
    };
    let mut texts = Vec::new();
    v.texts(&mut texts);
    let null = match &v {
        FieldValue::Null => true,
        FieldValue::List(items) => items.is_empty(),
        FieldValue::Text(_) => false,
    };
    Slot {
        present: true,
        null,
        values: texts.into_iter().map(fold).collect(),
    }
}

/// Per-event state: the fields read so far (per field map) and the keyword values.
struct Ctx<'e, 's> {
    event: &'e dyn Event,
    names: &'s Interner,
    slots: [FxHashMap<FieldId, Slot<'e>>; FIELD_MAPS],
    keywords: Option<Slot<'e>>,
    /// Every value of the event as it is (read once for keywords).
    raw: Option<Vec<Cow<'e, str>>>,
}

fn number(s: &str) -> Option<f64> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok().map(|n| n as f64),
        None => s.parse().ok(),
    }
}

impl<'e, 's> Ctx<'e, 's> {
    fn new(event: &'e dyn Event, names: &'s Interner) -> Ctx<'e, 's> {
        Ctx {
            event,
            names,
            slots: Default::default(),
            keywords: None,
            raw: None,
        }
    }

    /// Runs the prefilter automaton of field `f` over its values (read under `map`) and lets
    /// through every rule one of the needles found stands for.
    fn unlock(&mut self, map: FieldMap, f: FieldId, pf: &Prefilter, unlocked: &mut Bits) {
        let (Some(ac), Some(rules)) = (pf.fields.get(&f), pf.needle_rules.get(&f)) else {
            return;
        };
        let mut found = |text: &str| {
            for m in ac.find_overlapping_iter(text) {
                for r in rules.get(m.pattern().as_usize()).into_iter().flatten() {
                    unlocked.set(map, *r as usize);
                }
            }
        };
        if f == KEYWORDS {
            // An ASCII value folds to its ASCII lower case, which the automaton's ASCII case
            // blindness stands for; any other value is folded as the rules see it. The values
            // are searched in one pass, joined by NUL, which no keyword needle holds (see
            // `Prefilter::build`), so no match spans two values.
            let mut text = String::new();
            for v in self.raw_values() {
                if v.is_ascii() {
                    text.push_str(v);
                } else {
                    text.push_str(&fold(Cow::Borrowed(v.as_ref())).1);
                }
                text.push('\0');
            }
            found(&text);
            return;
        }
        self.load(map, f);
        let Some(slot) = self.slot(map, f) else {
            return;
        };
        for (_, lower) in &slot.values {
            found(lower);
        }
    }

    fn load(&mut self, map: FieldMap, id: FieldId) {
        let event = self.event;
        let name = map.map(self.names.name(id));
        if let Some(slots) = self.slots.get_mut(map.index()) {
            slots.entry(id).or_insert_with(|| slot_of(event.get(name)));
        }
    }

    fn slot(&self, map: FieldMap, id: FieldId) -> Option<&Slot<'e>> {
        self.slots.get(map.index())?.get(&id)
    }

    fn raw_values(&mut self) -> &[Cow<'e, str>] {
        let event = self.event;
        self.raw.get_or_insert_with(|| event.values())
    }

    fn load_keywords(&mut self) {
        if self.keywords.is_none() {
            let values = self.raw_values().iter().cloned().map(fold).collect();
            self.keywords = Some(Slot {
                present: true,
                null: false,
                values,
            });
        }
    }

    fn route_holds(&mut self, route: &Route) -> bool {
        let Some((field, allowed)) = route.require else {
            return true;
        };
        let mut texts = Vec::new();
        if let Some(v) = self.event.get(field) {
            v.texts(&mut texts);
        }
        texts
            .iter()
            .any(|t| allowed.iter().any(|a| a.eq_ignore_ascii_case(t)))
    }

    /// Loads the fields a matcher compares with (`fieldref`).
    fn load_refs(&mut self, map: FieldMap, m: &Matcher) {
        match m {
            Matcher::FieldRef { other, .. } => self.load(map, *other),
            Matcher::Any(ms) | Matcher::All(ms) => ms.iter().for_each(|m| self.load_refs(map, m)),
            _ => {}
        }
    }

    fn pred(&mut self, p: &Pred, map: FieldMap) -> bool {
        self.load_refs(map, &p.matcher);
        match p.target {
            Target::Keywords => {
                self.load_keywords();
                match &self.keywords {
                    Some(slot) => self.test(&p.matcher, slot, map),
                    None => false,
                }
            }
            Target::Field(id) => {
                self.load(map, id);
                match self.slot(map, id) {
                    Some(slot) => self.test(&p.matcher, slot, map),
                    None => false,
                }
            }
        }
    }

    fn test(&self, m: &Matcher, slot: &Slot<'_>, map: FieldMap) -> bool {
        let any = |f: &dyn Fn(&str, &str) -> bool| slot.values.iter().any(|(r, l)| f(r, l));
        match m {
            Matcher::Exists(want) => slot.present == *want,
            Matcher::Null => !slot.present || slot.null,
            Matcher::Strings(set) => any(&|r, l| set.is_match(r, l)),
            Matcher::AllContains(a) => any(&|r, l| a.is_match(r, l)),
            Matcher::Regex(re) => any(&|r, _| re.is_match(r)),
            Matcher::Cidr(nets) => any(&|r, _| {
                r.trim()
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse()
                    .is_ok_and(|ip| nets.iter().any(|n| n.contains(ip)))
            }),
            Matcher::Num(cmp, want) => any(&|r, _| {
                number(r).is_some_and(|n| match cmp {
                    compile::Cmp::Lt => n < *want,
                    compile::Cmp::Lte => n <= *want,
                    compile::Cmp::Gt => n > *want,
                    compile::Cmp::Gte => n >= *want,
                })
            }),
            Matcher::FieldRef {
                other,
                shape,
                cased,
            } => {
                let Some(other) = self.slot(map, *other) else {
                    return false;
                };
                slot.values.iter().any(|(r, l)| {
                    other.values.iter().any(|(or, ol)| {
                        let (a, b) = if *cased {
                            (r.as_ref(), or.as_ref())
                        } else {
                            (l.as_ref(), ol.as_ref())
                        };
                        match shape {
                            RefShape::Equal => a == b,
                            RefShape::Contains => a.contains(b),
                            RefShape::StartsWith => a.starts_with(b),
                            RefShape::EndsWith => a.ends_with(b),
                        }
                    })
                })
            }
            Matcher::Any(ms) => ms.iter().any(|m| self.test(m, slot, map)),
            Matcher::All(ms) => ms.iter().all(|m| self.test(m, slot, map)),
        }
    }

    fn selection(&mut self, rule: &Rule, i: usize, map: FieldMap) -> Option<usize> {
        let sel = rule.selections.get(i)?;
        sel.any
            .iter()
            .position(|conj| conj.iter().all(|p| self.pred(p, map)))
    }

    fn cond(&mut self, rule: &Rule, c: &Cond, map: FieldMap) -> bool {
        match c {
            Cond::Sel(i) => self.selection(rule, *i, map).is_some(),
            Cond::Not(c) => !self.cond(rule, c, map),
            Cond::And(cs) => cs.iter().all(|c| self.cond(rule, c, map)),
            Cond::Or(cs) => cs.iter().any(|c| self.cond(rule, c, map)),
        }
    }

    /// The fields of the selections that made a matching rule match (not those under `not`).
    fn explain(
        &mut self,
        rule: &Rule,
        c: &Cond,
        map: FieldMap,
        positive: bool,
        out: &mut Vec<(String, String)>,
    ) {
        match c {
            Cond::Sel(i) => {
                if !positive {
                    return;
                }
                let Some(alt) = self.selection(rule, *i, map) else {
                    return;
                };
                let Some(conj) = rule.selections.get(*i).and_then(|s| s.any.get(alt)) else {
                    return;
                };
                for p in conj {
                    if let Target::Field(id) = p.target
                        && let Some(slot) = self.slot(map, id)
                    {
                        let name = map.map(self.names.name(id)).to_string();
                        for (raw, _) in &slot.values {
                            out.push((name.clone(), raw.to_string()));
                        }
                    }
                }
            }
            Cond::Not(c) => self.explain(rule, c, map, !positive, out),
            Cond::And(cs) => cs
                .iter()
                .for_each(|c| self.explain(rule, c, map, positive, out)),
            Cond::Or(cs) => {
                for c in cs {
                    if self.cond(rule, c, map) == positive {
                        self.explain(rule, c, map, positive, out);
                    }
                }
            }
        }
    }
}
