//! Checklist probes: pure functions over a facility snapshot, one per checklist topic, that say
//! whether the evidence backs an answer of はい — pass, fail, unknown or not applicable — with the
//! facts behind it (names, counts, dates) and the date the evidence goes stale.
//!
//! A topic is the stable key of a checklist item (`systems.unneeded_accounts`); rule packs map
//! each edition's printed item (`2-⑤`) to a topic. Answers, contradictions and forms are built on
//! top of this by the service layer. Facts are codes with arguments; the message catalog words
//! them (`checklist_fact.{code}`).

use crate::findings::{self, PolicyVerdict, TwoFactorGap};
use crate::ledger::{
    Account, Asset, AssetClass, AssetStatus, Contact, ContactRole, DocKind, DocumentType,
    FacilityDocument, InfoSystem, Person, RemotePoint, SystemStatus, TwoFactor, Vendor,
    VendorDocument, VendorStatus,
};
use crate::registry::{Record, RegistryKind, day_text};
use crate::service_baseline::{Port, ServiceBaseline};
use std::collections::{BTreeSet, HashMap};
use time::{Date, Duration};

/// The stable keys of checklist items that mamori knows how to back with evidence.
pub const TOPICS: &[&str] = &[
    "governance.security_officer",
    "systems.ledger",
    "systems.remote_maintenance_confirmed",
    "systems.vendor_disclosure",
    "systems.access_rights",
    "systems.unneeded_accounts",
    "systems.security_patches",
    "operation.password_rule",
    "operation.password_no_reuse",
    "operation.removable_media",
    "operation.two_factor",
    "server.access_logs",
    "server.unneeded_services",
    "workstation.unneeded_services",
    "network.source_restriction",
    "incident.contact_chart",
    "incident.backup_and_restore",
    "incident.cyber_bcp",
    "rules.operating_rules",
];

/// What the evidence says of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    /// The records back an answer of はい.
    Pass,
    /// The records contradict an answer of はい.
    Fail,
    /// Not enough is recorded to tell.
    Unknown,
    /// The item does not apply (記入不要: no vendor contracts).
    NotApplicable,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Unknown => "unknown",
            Verdict::NotApplicable => "na",
        }
    }

    pub fn parse(s: &str) -> Option<Verdict> {
        [
            Verdict::Pass,
            Verdict::Fail,
            Verdict::Unknown,
            Verdict::NotApplicable,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// How a fact reads: good news, a problem, something to look at, or plain information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tone {
    Good,
    Bad,
    Warn,
    Info,
}

impl Tone {
    pub fn as_str(self) -> &'static str {
        match self {
            Tone::Good => "good",
            Tone::Bad => "bad",
            Tone::Warn => "warn",
            Tone::Info => "info",
        }
    }
}

/// Where a probe took its evidence from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// The ledger's registries, as people recorded them.
    Ledger,
    /// The facility's documents and records (rules, plans, drills, tests).
    Documents,
    /// Logs mamori collects and the reviews recorded of them.
    Logs,
    /// What the endpoint agents report of the PCs and servers they run on.
    Agents,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Ledger => "ledger",
            Source::Documents => "documents",
            Source::Logs => "logs",
            Source::Agents => "agents",
        }
    }
}

/// A ledger record a fact is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordRef {
    pub kind: RegistryKind,
    pub id: i64,
    pub label: String,
}

fn rec<R: Record>(r: &R, label: impl Into<String>) -> RecordRef {
    RecordRef {
        kind: R::KIND,
        id: r.id(),
        label: label.into(),
    }
}

/// One fact behind a verdict: a code the catalog words, with named arguments, and the records
/// it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub code: &'static str,
    pub tone: Tone,
    pub args: Vec<(&'static str, String)>,
    pub records: Vec<RecordRef>,
}

impl Fact {
    fn new(code: &'static str, tone: Tone) -> Fact {
        Fact {
            code,
            tone,
            args: Vec::new(),
            records: Vec::new(),
        }
    }
    fn arg(mut self, name: &'static str, value: impl ToString) -> Fact {
        self.args.push((name, value.to_string()));
        self
    }
    fn count(self, n: usize) -> Fact {
        self.arg("count", n)
    }
    fn records(mut self, records: Vec<RecordRef>) -> Fact {
        self.records = records;
        self
    }
}

/// The evidence for one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub topic: &'static str,
    pub verdict: Verdict,
    pub facts: Vec<Fact>,
    /// The day the evidence goes stale (a restore test a year old, a patch past the policy …):
    /// after it, the verdict will no longer be a pass without new records.
    pub valid_until: Option<Date>,
    pub sources: Vec<Source>,
}

/// The numbers the probes judge by. Editions carry their own in the rule pack; the facility's
/// settings fill in the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// A device's last patch may be at most this old (2-⑥).
    pub patch_max_age_days: i64,
    /// Drills, restore tests, log reviews and contact checks count for this long.
    pub evidence_valid_days: i64,
    /// Enabled accounts unused for longer are dormant (2-⑤).
    pub dormant_account_days: i64,
    /// The ledger must have been reviewed (棚卸) within this many days (2-①).
    pub review_cycle_days: i64,
    /// Two-factor authentication must be in place by this day (2-⑩).
    pub two_factor_deadline: Date,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            patch_max_age_days: 90,
            evidence_valid_days: 365,
            dormant_account_days: 90,
            review_cycle_days: 365,
            two_factor_deadline: findings::two_factor_deadline(),
        }
    }
}

/// Everything the probes look at, read once.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub assets: Vec<Asset>,
    pub systems: Vec<InfoSystem>,
    pub persons: Vec<Person>,
    pub accounts: Vec<Account>,
    pub vendors: Vec<Vendor>,
    pub contacts: Vec<Contact>,
    pub remote_points: Vec<RemotePoint>,
    pub vendor_documents: Vec<VendorDocument>,
    pub documents: Vec<FacilityDocument>,
    /// The day each registry was last signed off (棚卸).
    pub reviews: Vec<(RegistryKind, Date)>,
    /// Closed account review campaigns (アカウント棚卸).
    pub account_reviews: Vec<AccountReviewDone>,
    /// Records in mamori's own sealed audit trail, when the sealed log is open.
    pub sealed_records: Option<u64>,
    /// What mamori collects of other systems' logs.
    pub collection: LogCollection,
    /// The endpoint agents (not revoked) and what they report.
    pub agents: Vec<AgentFacts>,
    /// The removable-media policy the agents enforce: what it does with storage
    /// (`deny`, `read_only`, `allow`); `None` when no agent is enrolled.
    pub usb_storage: Option<String>,
    /// The service baselines kept in mamori (2-⑫/⑬), by asset class.
    pub service_baselines: Vec<ClassBaseline>,
}

/// The allowed ports and services of one asset class, and when they were last saved (which is
/// when someone last confirmed them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassBaseline {
    pub class: AssetClass,
    pub baseline: ServiceBaseline,
    pub updated_on: Date,
    pub updated_by: String,
}

/// One endpoint agent as the probes see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentFacts {
    pub hostname: String,
    /// The ledger asset it is tied to, with that asset's class.
    pub asset: Option<(i64, AssetClass)>,
    /// Security updates pending; `None`: unknown (no security index on the PC).
    pub pending_updates: Option<usize>,
    /// Sockets waiting for connections.
    pub listening: usize,
    /// Installed packages.
    pub packages: usize,
    /// Ports it listens on for the network (loopback-only sockets left out).
    pub ports: Vec<Port>,
    /// Services running or enabled to start at boot.
    pub services: Vec<String>,
    /// Not heard from for a week.
    pub silent: bool,
}

/// Host names for a fact, the first few.
fn hosts(agents: &[&AgentFacts]) -> String {
    let mut names: Vec<&str> = agents.iter().map(|a| a.hostname.as_str()).collect();
    let more = names.len().saturating_sub(MAX_LISTED);
    names.truncate(MAX_LISTED);
    let mut text = names.join("、");
    if more > 0 {
        text.push_str(&format!(" ほか {more}"));
    }
    text
}

/// Devices and what they run beyond their baseline, the first few of each:
/// `pacs-viewer（tcp/5900、anydesk.service）`.
fn extras_text(off: &[(&AgentFacts, Vec<String>)]) -> String {
    let mut parts: Vec<String> = off
        .iter()
        .take(MAX_LISTED)
        .map(|(a, x)| {
            let mut items: Vec<&str> = x.iter().map(String::as_str).take(MAX_LISTED).collect();
            if x.len() > MAX_LISTED {
                items.push("…");
            }
            format!("{}（{}）", a.hostname, items.join("、"))
        })
        .collect();
    if off.len() > MAX_LISTED {
        parts.push(format!("ほか {}", off.len() - MAX_LISTED));
    }
    parts.join("、")
}

/// 2-①'s part from the agents: every PC running one is in the ledger.
fn agents_in_ledger(s: &Snapshot, facts: &mut Vec<Fact>) {
    if s.agents.is_empty() {
        return;
    }
    let missing: Vec<&AgentFacts> = s.agents.iter().filter(|a| a.asset.is_none()).collect();
    if missing.is_empty() {
        facts.push(Fact::new("agents_in_ledger", Tone::Good).count(s.agents.len()));
    } else {
        facts.push(
            Fact::new("agents_not_in_ledger", Tone::Bad)
                .count(missing.len())
                .arg("hosts", hosts(&missing)),
        );
    }
}

/// 2-⑥'s part from the agents: pending security updates as the PCs themselves report them.
fn agents_updates(s: &Snapshot, facts: &mut Vec<Fact>) {
    if s.agents.is_empty() {
        return;
    }
    let pending: Vec<&AgentFacts> = s
        .agents
        .iter()
        .filter(|a| a.pending_updates.is_some_and(|n| n > 0))
        .collect();
    let unknown: Vec<&AgentFacts> = s
        .agents
        .iter()
        .filter(|a| a.pending_updates.is_none())
        .collect();
    if pending.is_empty() {
        facts
            .push(Fact::new("agents_up_to_date", Tone::Good).count(s.agents.len() - unknown.len()));
    } else {
        facts.push(
            Fact::new("agents_updates_pending", Tone::Bad)
                .count(pending.len())
                .arg(
                    "updates",
                    pending
                        .iter()
                        .filter_map(|a| a.pending_updates)
                        .sum::<usize>(),
                )
                .arg("hosts", hosts(&pending)),
        );
    }
    if !unknown.is_empty() {
        facts.push(
            Fact::new("agents_updates_unknown", Tone::Info)
                .count(unknown.len())
                .arg("hosts", hosts(&unknown)),
        );
    }
}

/// A closed account review campaign, as 2-⑤ sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountReviewDone {
    pub id: i64,
    pub title: String,
    pub closed_on: Date,
    pub keep: usize,
    pub revoke: usize,
    pub pending: usize,
}

/// Log collection as the 2-⑪ probe sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogCollection {
    /// Sources that send over the network (syslog, forwarders), and imported files.
    pub live_sources: usize,
    pub file_sources: usize,
    /// Events received in the last 30 days.
    pub events_30d: i64,
    /// Live sources not heard from in a day, by name.
    pub silent: Vec<String>,
    /// Live sources whose clock is off by more than the tolerance, by name.
    pub drifting: Vec<String>,
    /// The newest review recorded in mamori: (day recorded, reviewer, first day, last day).
    pub last_review: Option<(Date, String, Date, Date)>,
    /// mamori's own clock against the time server (ms), from a check of the last two days.
    pub own_clock_offset_ms: Option<i64>,
}

/// At most this many records are listed under one fact; the count says how many there are.
pub const MAX_LISTED: usize = 20;

fn listed(mut v: Vec<RecordRef>) -> Vec<RecordRef> {
    v.truncate(MAX_LISTED);
    v
}

fn plus_days(d: Date, days: i64) -> Date {
    d.checked_add(Duration::days(days)).unwrap_or(Date::MAX)
}

fn earliest(a: Option<Date>, b: Option<Date>) -> Option<Date> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The verdict from the facts: any bad fact fails, else any warning leaves it unknown.
fn verdict_of(facts: &[Fact]) -> Verdict {
    if facts.iter().any(|f| f.tone == Tone::Bad) {
        Verdict::Fail
    } else if facts.iter().any(|f| f.tone == Tone::Warn) {
        Verdict::Unknown
    } else {
        Verdict::Pass
    }
}

fn evidence(
    topic: &'static str,
    facts: Vec<Fact>,
    valid_until: Option<Date>,
    sources: &[Source],
) -> Evidence {
    Evidence {
        topic,
        verdict: verdict_of(&facts),
        facts,
        valid_until,
        sources: sources.to_vec(),
    }
}

fn normalized_name(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{3000}')
        .collect()
}

fn in_use(a: &Asset) -> bool {
    a.status != AssetStatus::Disposed
}

fn active_system(s: &InfoSystem) -> bool {
    s.status != SystemStatus::Retired
}

/// Current documents of `kind`, newest first.
fn current_docs(s: &Snapshot, kind: DocKind) -> Vec<&FacilityDocument> {
    let mut v: Vec<&FacilityDocument> = s
        .documents
        .iter()
        .filter(|d| d.current && d.kind == kind)
        .collect();
    v.sort_by(|a, b| b.dated_on.cmp(&a.dated_on).then(b.id.cmp(&a.id)));
    v
}

/// The newest record of `kind` dated on or before `today` (records in the future do not count).
fn last_record(s: &Snapshot, kind: DocKind, today: Date) -> Option<&FacilityDocument> {
    s.documents
        .iter()
        .filter(|d| d.current && d.kind == kind)
        .filter(|d| d.dated_on.is_some_and(|x| x <= today))
        .max_by(|a, b| a.dated_on.cmp(&b.dated_on).then(a.id.cmp(&b.id)))
}

fn doc_fact(code: &'static str, tone: Tone, d: &FacilityDocument) -> Fact {
    Fact::new(code, tone)
        .arg("title", &d.title)
        .arg("date", day_text(d.dated_on))
        .records(vec![rec(d, d.title.clone())])
}

/// A dated record of `kind` within the validity window: a fact either way, and when it expires.
fn recent_record(
    s: &Snapshot,
    kind: DocKind,
    today: Date,
    t: &Thresholds,
    ok: &'static str,
    old: &'static str,
    none: &'static str,
) -> (Fact, Option<Date>) {
    match last_record(s, kind, today) {
        Some(d) => {
            let until = d.dated_on.map(|x| plus_days(x, t.evidence_valid_days));
            if until.is_some_and(|u| u >= today) {
                (doc_fact(ok, Tone::Good, d), until)
            } else {
                (doc_fact(old, Tone::Bad, d), None)
            }
        }
        None => (Fact::new(none, Tone::Bad), None),
    }
}

/// Runs the probe of `topic`. `scope` lists the topics the edition's operating-rules item covers
/// (items 1–3 of the form). Unknown topics give `None`.
pub fn probe(
    topic: &str,
    s: &Snapshot,
    t: &Thresholds,
    today: Date,
    scope: &[&str],
) -> Option<Evidence> {
    let e = match topic {
        "governance.security_officer" => security_officer(s, today),
        "systems.ledger" => ledger(s, t, today),
        "systems.remote_maintenance_confirmed" => remote_maintenance(s),
        "systems.vendor_disclosure" => vendor_disclosure(s),
        "systems.access_rights" => access_rights(s),
        "systems.unneeded_accounts" => unneeded_accounts(s, t, today),
        "systems.security_patches" => security_patches(s, t, today),
        "operation.password_rule" => password_rule(s, today),
        "operation.password_no_reuse" => password_no_reuse(s),
        "operation.removable_media" => removable_media(s),
        "operation.two_factor" => two_factor(s, t),
        "server.access_logs" => access_logs(s, t, today),
        "server.unneeded_services" => {
            unneeded_services(s, t, today, "server.unneeded_services", AssetClass::Server)
        }
        "workstation.unneeded_services" => unneeded_services(
            s,
            t,
            today,
            "workstation.unneeded_services",
            AssetClass::Workstation,
        ),
        "network.source_restriction" => source_restriction(s),
        "incident.contact_chart" => contact_chart(s, t, today),
        "incident.backup_and_restore" => backup_and_restore(s, t, today),
        "incident.cyber_bcp" => cyber_bcp(s, t, today),
        "rules.operating_rules" => operating_rules(s, scope),
        _ => return None,
    };
    Some(e)
}

/// 1-①: an active member of staff holds the 安全管理責任者 role.
fn security_officer(s: &Snapshot, today: Date) -> Evidence {
    let left: HashMap<String, &Person> = s
        .persons
        .iter()
        .filter(|p| p.has_left(today))
        .map(|p| (normalized_name(&p.name), p))
        .collect();
    let officers: Vec<&Contact> = s
        .contacts
        .iter()
        .filter(|c| c.active && c.role == ContactRole::SecurityOfficer)
        .collect();
    let mut facts = Vec::new();
    let (gone, present): (Vec<&Contact>, Vec<&Contact>) = officers
        .iter()
        .partition(|c| left.contains_key(&normalized_name(&c.name)));
    if let Some(c) = present.first() {
        facts.push(
            Fact::new("officer_named", Tone::Good)
                .arg("name", &c.name)
                .records(vec![rec(*c, c.name.clone())]),
        );
    } else if gone.is_empty() {
        facts.push(Fact::new("officer_missing", Tone::Bad));
    }
    // An officer who left fails the item unless someone else holds the role; then the stale
    // contact is only a record to tidy.
    let tone = if present.is_empty() {
        Tone::Bad
    } else {
        Tone::Info
    };
    for c in &gone {
        facts.push(
            Fact::new("officer_left", tone)
                .arg("name", &c.name)
                .records(vec![rec(*c, c.name.clone())]),
        );
    }
    if let Some(d) = current_docs(s, DocKind::OfficerAppointment).first() {
        facts.push(doc_fact("officer_appointed", Tone::Info, d));
    }
    evidence(
        "governance.security_officer",
        facts,
        None,
        &[Source::Ledger, Source::Documents],
    )
}

/// 2-①: servers, workstations and network devices are in the ledger with location, department
/// and (where maintained) vendor, and the ledger was reviewed within the cycle.
fn ledger(s: &Snapshot, t: &Thresholds, today: Date) -> Evidence {
    let core = |a: &&Asset| {
        in_use(a)
            && matches!(
                a.class,
                AssetClass::Server | AssetClass::Workstation | AssetClass::NetworkDevice
            )
    };
    let count = |c: AssetClass| {
        s.assets
            .iter()
            .filter(core)
            .filter(|a| a.class == c)
            .count()
    };
    let (servers, pcs, network) = (
        count(AssetClass::Server),
        count(AssetClass::Workstation),
        count(AssetClass::NetworkDevice),
    );
    let mut facts = vec![
        Fact::new("ledger_counts", Tone::Info)
            .arg("servers", servers)
            .arg("workstations", pcs)
            .arg("network", network),
    ];
    if pcs == 0 {
        facts.push(Fact::new("ledger_no_workstations", Tone::Bad));
    }
    if network == 0 {
        facts.push(Fact::new("ledger_no_network", Tone::Bad));
    }
    if servers == 0 {
        facts.push(Fact::new("ledger_no_servers", Tone::Info));
    }
    let core_assets: Vec<Asset> = s.assets.iter().filter(core).cloned().collect();
    let incomplete = findings::incomplete_assets(&core_assets);
    if !incomplete.is_empty() {
        let by: HashMap<i64, &Asset> = core_assets.iter().map(|a| (a.id.0, a)).collect();
        facts.push(
            Fact::new("ledger_incomplete", Tone::Bad)
                .count(incomplete.len())
                .records(listed(
                    incomplete
                        .iter()
                        .filter_map(|f| by.get(&f.asset_id.0))
                        .map(|a| rec(*a, format!("{} {}", a.tag, a.name)))
                        .collect(),
                )),
        );
    }
    let reviewed = s
        .reviews
        .iter()
        .filter(|(k, _)| *k == RegistryKind::Asset)
        .map(|(_, d)| *d)
        .max();
    let mut until = None;
    match reviewed {
        Some(d) if plus_days(d, t.review_cycle_days) >= today => {
            until = Some(plus_days(d, t.review_cycle_days));
            facts.push(Fact::new("ledger_reviewed", Tone::Good).arg("date", day_text(Some(d))));
        }
        Some(d) => facts.push(
            Fact::new("ledger_review_overdue", Tone::Bad)
                .arg("date", day_text(Some(d)))
                .arg("days", t.review_cycle_days),
        ),
        None => facts.push(Fact::new("ledger_never_reviewed", Tone::Bad)),
    }
    agents_in_ledger(s, &mut facts);
    let sources: &[Source] = if s.agents.is_empty() {
        &[Source::Ledger]
    } else {
        &[Source::Ledger, Source::Agents]
    };
    evidence("systems.ledger", facts, until, sources)
}

fn active_vendors(s: &Snapshot) -> Vec<&Vendor> {
    s.vendors
        .iter()
        .filter(|v| v.status == VendorStatus::Active)
        .collect()
}

fn not_applicable(topic: &'static str, code: &'static str) -> Evidence {
    Evidence {
        topic,
        verdict: Verdict::NotApplicable,
        facts: vec![Fact::new(code, Tone::Info)],
        valid_until: None,
        sources: vec![Source::Ledger],
    }
}

/// 2-②: every vendor under contract has answered whether it maintains devices remotely, and
/// those that do have their access points recorded.
fn remote_maintenance(s: &Snapshot) -> Evidence {
    let topic = "systems.remote_maintenance_confirmed";
    let vendors = active_vendors(s);
    if vendors.is_empty() {
        return not_applicable(topic, "no_vendor_contracts");
    }
    let mut facts = Vec::new();
    let unconfirmed: Vec<RecordRef> = vendors
        .iter()
        .filter(|v| v.remote_maintenance.is_none())
        .map(|v| rec(*v, v.name.clone()))
        .collect();
    let remote: Vec<&&Vendor> = vendors
        .iter()
        .filter(|v| v.remote_maintenance == Some(true))
        .collect();
    facts.push(
        Fact::new("vendors_confirmed", Tone::Info)
            .arg("answered", vendors.len() - unconfirmed.len())
            .arg("total", vendors.len())
            .arg("remote", remote.len()),
    );
    if !unconfirmed.is_empty() {
        facts.push(
            Fact::new("vendors_unconfirmed", Tone::Bad)
                .count(unconfirmed.len())
                .records(listed(unconfirmed)),
        );
    }
    let without_points: Vec<RecordRef> = remote
        .iter()
        .filter(|v| {
            !s.remote_points
                .iter()
                .any(|p| p.active && p.vendor_id == Some(v.id))
        })
        .map(|v| rec(**v, v.name.clone()))
        .collect();
    if !without_points.is_empty() {
        facts.push(
            Fact::new("remote_without_points", Tone::Warn)
                .count(without_points.len())
                .records(listed(without_points)),
        );
    }
    evidence(topic, facts, None, &[Source::Ledger])
}

/// 2-③: an MDS or SDS is on file for every system a vendor under contract supplies.
fn vendor_disclosure(s: &Snapshot) -> Evidence {
    let topic = "systems.vendor_disclosure";
    let vendors: HashMap<i64, &Vendor> =
        active_vendors(s).into_iter().map(|v| (v.id.0, v)).collect();
    let supplied: Vec<(&InfoSystem, &Vendor)> = s
        .systems
        .iter()
        .filter(|x| active_system(x))
        .filter_map(|x| Some((x, *vendors.get(&x.vendor_id?.0)?)))
        .collect();
    if supplied.is_empty() {
        return not_applicable(topic, "no_vendor_systems");
    }
    let has_disclosure = |v: &Vendor| {
        s.vendor_documents.iter().any(|d| {
            d.current
                && d.vendor_id == Some(v.id)
                && matches!(d.doc_type, DocumentType::Mds | DocumentType::Sds)
        })
    };
    let missing: Vec<RecordRef> = supplied
        .iter()
        .filter(|(_, v)| !has_disclosure(v))
        .map(|(x, v)| rec(*x, format!("{}（{}）", x.name, v.name)))
        .collect();
    let mut facts = vec![
        Fact::new("disclosures_on_file", Tone::Info)
            .arg("have", supplied.len() - missing.len())
            .arg("total", supplied.len()),
    ];
    if !missing.is_empty() {
        facts.push(
            Fact::new("disclosure_missing", Tone::Bad)
                .count(missing.len())
                .records(listed(missing)),
        );
    }
    evidence(topic, facts, None, &[Source::Ledger])
}

/// 2-④: an access-rights matrix (職種・業務別) is recorded for every system in use, and the
/// administrators of each system are identified in the account ledger.
fn access_rights(s: &Snapshot) -> Evidence {
    let topic = "systems.access_rights";
    let systems: Vec<&InfoSystem> = s.systems.iter().filter(|x| active_system(x)).collect();
    if systems.is_empty() {
        return evidence(
            topic,
            vec![Fact::new("no_systems", Tone::Warn)],
            None,
            &[Source::Ledger],
        );
    }
    let matrices = current_docs(s, DocKind::AccessMatrix);
    let without_matrix: Vec<RecordRef> = systems
        .iter()
        .filter(|x| !matrices.iter().any(|d| d.applies_to_system(x.id)))
        .map(|x| rec(*x, x.name.clone()))
        .collect();
    let mut facts = Vec::new();
    if without_matrix.is_empty() {
        facts.push(Fact::new("access_matrix_recorded", Tone::Good).count(systems.len()));
    } else {
        facts.push(
            Fact::new("access_matrix_missing", Tone::Bad)
                .count(without_matrix.len())
                .records(listed(without_matrix)),
        );
    }
    let enabled: Vec<&Account> = s.accounts.iter().filter(|a| a.enabled).collect();
    let admins = enabled.iter().filter(|a| a.is_admin).count();
    let no_accounts: Vec<RecordRef> = systems
        .iter()
        .filter(|x| !enabled.iter().any(|a| a.system_id == x.id))
        .map(|x| rec(*x, x.name.clone()))
        .collect();
    let no_admin: Vec<RecordRef> = systems
        .iter()
        .filter(|x| enabled.iter().any(|a| a.system_id == x.id))
        .filter(|x| !enabled.iter().any(|a| a.system_id == x.id && a.is_admin))
        .map(|x| rec(*x, x.name.clone()))
        .collect();
    facts.push(Fact::new("administrators", Tone::Info).count(admins));
    if !no_accounts.is_empty() {
        facts.push(
            Fact::new("accounts_not_recorded", Tone::Warn)
                .count(no_accounts.len())
                .records(listed(no_accounts)),
        );
    }
    if !no_admin.is_empty() {
        facts.push(
            Fact::new("admin_not_identified", Tone::Warn)
                .count(no_admin.len())
                .records(listed(no_admin)),
        );
    }
    let unapproved = findings::unapproved_administrators(&s.accounts);
    if unapproved.is_empty() {
        if admins > 0 {
            facts.push(Fact::new("admins_approved", Tone::Good).count(admins));
        }
    } else {
        let by: HashMap<i64, &Account> = s.accounts.iter().map(|a| (a.id.0, a)).collect();
        facts.push(
            Fact::new("admins_unapproved", Tone::Warn)
                .count(unapproved.len())
                .records(listed(
                    unapproved
                        .iter()
                        .filter_map(|id| by.get(&id.0))
                        .map(|a| rec(*a, account_label(s, a)))
                        .collect(),
                )),
        );
    }
    let ownerless = findings::ownerless_accounts(&s.accounts);
    if !ownerless.is_empty() {
        let by: HashMap<i64, &Account> = s.accounts.iter().map(|a| (a.id.0, a)).collect();
        facts.push(
            Fact::new("ownerless_accounts", Tone::Warn)
                .count(ownerless.len())
                .records(listed(
                    ownerless
                        .iter()
                        .filter_map(|id| by.get(&id.0))
                        .map(|a| rec(*a, a.login_id.clone()))
                        .collect(),
                )),
        );
    }
    evidence(topic, facts, None, &[Source::Ledger, Source::Documents])
}

fn account_label(s: &Snapshot, a: &Account) -> String {
    let system = s
        .systems
        .iter()
        .find(|x| x.id == a.system_id)
        .map(|x| x.name.as_str())
        .unwrap_or("?");
    format!("{system} / {}", a.login_id)
}

/// 2-⑤: no enabled account of a person who left, none unused beyond the threshold.
fn unneeded_accounts(s: &Snapshot, t: &Thresholds, today: Date) -> Evidence {
    let topic = "systems.unneeded_accounts";
    let enabled = s.accounts.iter().filter(|a| a.enabled).count();
    if s.accounts.is_empty() {
        return evidence(
            topic,
            vec![Fact::new("no_accounts", Tone::Warn)],
            None,
            &[Source::Ledger],
        );
    }
    let by: HashMap<i64, &Account> = s.accounts.iter().map(|a| (a.id.0, a)).collect();
    let mut facts = vec![Fact::new("enabled_accounts", Tone::Info).count(enabled)];
    let leavers = findings::leavers_with_enabled_accounts(&s.persons, &s.accounts, today);
    if leavers.is_empty() {
        facts.push(Fact::new("no_leaver_accounts", Tone::Good));
    } else {
        let persons: BTreeSet<i64> = leavers.iter().map(|l| l.person_id.0).collect();
        facts.push(
            Fact::new("leaver_accounts", Tone::Bad)
                .count(leavers.len())
                .arg("persons", persons.len())
                .arg(
                    "days",
                    leavers.first().map(|l| l.days_since_left).unwrap_or(0),
                )
                .records(listed(
                    leavers
                        .iter()
                        .filter_map(|l| by.get(&l.account_id.0).map(|a| (a, l)))
                        .map(|(a, l)| {
                            rec(*a, format!("{}（{}）", account_label(s, a), l.person_name))
                        })
                        .collect(),
                )),
        );
    }
    let dormant = findings::dormant_accounts(&s.accounts, today, t.dormant_account_days);
    if !dormant.is_empty() {
        facts.push(
            Fact::new("dormant_accounts", Tone::Bad)
                .count(dormant.len())
                .arg("days", t.dormant_account_days)
                .records(listed(
                    dormant
                        .iter()
                        .filter_map(|id| by.get(&id.0))
                        .map(|a| rec(*a, account_label(s, a)))
                        .collect(),
                )),
        );
    }
    // The first dormant-to-be account: when the evidence stops holding without a new login.
    let mut until = s
        .accounts
        .iter()
        .filter(|a| a.enabled)
        .filter_map(|a| a.last_login_on)
        .map(|d| plus_days(d, t.dormant_account_days))
        .filter(|d| *d >= today)
        .min();
    // The periodic account review (棚卸): the newest closed campaign.
    match s.account_reviews.iter().max_by_key(|r| (r.closed_on, r.id)) {
        Some(r) if plus_days(r.closed_on, t.review_cycle_days) >= today => {
            until = earliest(until, Some(plus_days(r.closed_on, t.review_cycle_days)));
            facts.push(
                Fact::new("account_review_done", Tone::Good)
                    .arg("date", day_text(Some(r.closed_on)))
                    .arg("title", &r.title)
                    .arg("keep", r.keep)
                    .arg("revoke", r.revoke),
            );
        }
        Some(r) => facts.push(
            Fact::new("account_review_overdue", Tone::Warn)
                .arg("date", day_text(Some(r.closed_on)))
                .arg("days", t.review_cycle_days),
        ),
        None => facts.push(Fact::new("account_review_never", Tone::Warn)),
    }
    evidence(topic, facts, until, &[Source::Ledger])
}

/// Device classes whose patches the facility (or its vendor) applies.
fn patched_class(c: AssetClass) -> bool {
    matches!(
        c,
        AssetClass::Server
            | AssetClass::Workstation
            | AssetClass::NetworkDevice
            | AssetClass::OnlineEligibilityTerminal
            | AssetClass::RemoteMaintenanceDevice
    )
}

/// 2-⑥: every device in use was patched within the policy; devices past their end of support
/// have a recorded compensating control.
fn security_patches(s: &Snapshot, t: &Thresholds, today: Date) -> Evidence {
    let topic = "systems.security_patches";
    let devices: Vec<&Asset> = s
        .assets
        .iter()
        .filter(|a| a.status == AssetStatus::Active && patched_class(a.class))
        .collect();
    if devices.is_empty() {
        return evidence(
            topic,
            vec![Fact::new("no_devices", Tone::Warn)],
            None,
            &[Source::Ledger],
        );
    }
    let label = |a: &Asset| format!("{} {}", a.tag, a.name);
    let stale: Vec<RecordRef> = devices
        .iter()
        .filter(|a| {
            a.last_patch_on
                .is_some_and(|d| plus_days(d, t.patch_max_age_days) < today)
        })
        .map(|a| rec(*a, label(a)))
        .collect();
    let unknown: Vec<RecordRef> = devices
        .iter()
        .filter(|a| a.last_patch_on.is_none())
        .map(|a| rec(*a, label(a)))
        .collect();
    let past_eol: Vec<&&Asset> = devices
        .iter()
        .filter(|a| a.eol_on.is_some_and(|d| d < today))
        .collect();
    let (covered, uncovered): (Vec<&&&Asset>, Vec<&&&Asset>) = past_eol
        .iter()
        .partition(|a| !a.compensating_control.trim().is_empty());
    let current = devices.len() - stale.len() - unknown.len();
    let mut facts = vec![
        Fact::new("patched_within", Tone::Info)
            .arg("have", current)
            .arg("total", devices.len())
            .arg("days", t.patch_max_age_days),
    ];
    if !stale.is_empty() {
        facts.push(
            Fact::new("patches_stale", Tone::Bad)
                .count(stale.len())
                .arg("days", t.patch_max_age_days)
                .records(listed(stale)),
        );
    }
    if !uncovered.is_empty() {
        facts.push(
            Fact::new("eol_without_control", Tone::Bad)
                .count(uncovered.len())
                .records(listed(
                    uncovered.iter().map(|a| rec(***a, label(a))).collect(),
                )),
        );
    }
    if !covered.is_empty() {
        facts.push(
            Fact::new("eol_with_control", Tone::Info)
                .count(covered.len())
                .records(listed(
                    covered.iter().map(|a| rec(***a, label(a))).collect(),
                )),
        );
    }
    if !unknown.is_empty() {
        facts.push(
            Fact::new("patch_date_unknown", Tone::Warn)
                .count(unknown.len())
                .records(listed(unknown)),
        );
    }
    let until = devices
        .iter()
        .filter_map(|a| a.last_patch_on)
        .map(|d| plus_days(d, t.patch_max_age_days))
        .filter(|d| *d >= today)
        .min();
    let eol_next = devices
        .iter()
        .filter(|a| a.compensating_control.trim().is_empty())
        .filter_map(|a| a.eol_on)
        .filter(|d| *d >= today)
        .min();
    agents_updates(s, &mut facts);
    let sources: &[Source] = if s.agents.is_empty() {
        &[Source::Ledger]
    } else {
        &[Source::Ledger, Source::Agents]
    };
    evidence(topic, facts, earliest(until, eol_next), sources)
}

/// 2-⑦: every system's password rules meet the guideline, and the accounts show them kept
/// (no password older than its system allows).
fn password_rule(s: &Snapshot, today: Date) -> Evidence {
    let topic = "operation.password_rule";
    let systems: Vec<&InfoSystem> = s.systems.iter().filter(|x| active_system(x)).collect();
    if systems.is_empty() {
        return evidence(
            topic,
            vec![Fact::new("no_systems", Tone::Warn)],
            None,
            &[Source::Ledger],
        );
    }
    let mut meets = 0;
    let mut fails = Vec::new();
    let mut unknown = Vec::new();
    for x in &systems {
        match findings::password_policy_verdict(x) {
            PolicyVerdict::Meets => meets += 1,
            PolicyVerdict::Fails(_) => fails.push(rec(*x, x.name.clone())),
            PolicyVerdict::Unknown(_) => unknown.push(rec(*x, x.name.clone())),
        }
    }
    let mut facts = vec![
        Fact::new("password_rules_meet", Tone::Info)
            .arg("have", meets)
            .arg("total", systems.len()),
    ];
    if !fails.is_empty() {
        facts.push(
            Fact::new("password_rules_weak", Tone::Bad)
                .count(fails.len())
                .records(listed(fails)),
        );
    }
    if !unknown.is_empty() {
        facts.push(
            Fact::new("password_rules_unknown", Tone::Warn)
                .count(unknown.len())
                .records(listed(unknown)),
        );
    }
    let stale = findings::stale_passwords(&s.accounts, &s.systems, today);
    if !stale.is_empty() {
        let by: HashMap<i64, &Account> = s.accounts.iter().map(|a| (a.id.0, a)).collect();
        facts.push(
            Fact::new("passwords_stale", Tone::Warn)
                .count(stale.len())
                .records(listed(
                    stale
                        .iter()
                        .filter_map(|f| by.get(&f.account_id.0))
                        .map(|a| rec(*a, account_label(s, a)))
                        .collect(),
                )),
        );
    }
    evidence(topic, facts, None, &[Source::Ledger])
}

/// The current operating rules that say they cover `topic`.
fn rules_covering<'a>(s: &'a Snapshot, topic: &str) -> Option<&'a FacilityDocument> {
    current_docs(s, DocKind::OperatingRules)
        .into_iter()
        .find(|d| d.topics.contains(&topic))
}

/// 2-⑧: reuse is forbidden by the rules, or every system keeps a password history.
fn password_no_reuse(s: &Snapshot) -> Evidence {
    let topic = "operation.password_no_reuse";
    let systems: Vec<&InfoSystem> = s.systems.iter().filter(|x| active_system(x)).collect();
    let no_history: Vec<RecordRef> = systems
        .iter()
        .filter(|x| x.password.history == Some(0))
        .map(|x| rec(*x, x.name.clone()))
        .collect();
    let unrecorded = systems
        .iter()
        .filter(|x| x.password.history.is_none())
        .count();
    let mut facts = Vec::new();
    let rule = rules_covering(s, topic);
    match rule {
        Some(d) => facts.push(doc_fact("reuse_rule", Tone::Good, d)),
        None => facts.push(Fact::new("reuse_rule_missing", Tone::Warn)),
    }
    if !no_history.is_empty() {
        facts.push(
            Fact::new(
                "no_password_history",
                if rule.is_some() {
                    Tone::Warn
                } else {
                    Tone::Bad
                },
            )
            .count(no_history.len())
            .records(listed(no_history)),
        );
    }
    // A history kept on every system backs the answer even without a written rule.
    if rule.is_none() && unrecorded == 0 && !systems.is_empty() && facts.len() == 1 {
        facts.clear();
        facts.push(Fact::new("password_history_everywhere", Tone::Good).count(systems.len()));
    }
    evidence(topic, facts, None, &[Source::Ledger, Source::Documents])
}

/// 2-⑨: a rule restricting removable media is in force (device control by agents comes later;
/// until then the recorded rule is the evidence).
fn removable_media(s: &Snapshot) -> Evidence {
    let topic = "operation.removable_media";
    let mut facts = Vec::new();
    match current_docs(s, DocKind::MediaPolicy).first() {
        Some(d) => facts.push(doc_fact("media_policy", Tone::Good, d)),
        None => facts.push(Fact::new("media_policy_missing", Tone::Bad)),
    }
    let media = s
        .assets
        .iter()
        .filter(|a| in_use(a) && a.class == AssetClass::RemovableMedia)
        .count();
    facts.push(Fact::new("registered_media", Tone::Info).count(media));
    match s.usb_storage.as_deref() {
        None => {}
        Some("deny") => {
            facts.push(Fact::new("usb_control_denies", Tone::Good).count(s.agents.len()));
        }
        Some("read_only") => {
            facts.push(Fact::new("usb_control_read_only", Tone::Good).count(s.agents.len()));
        }
        Some(_) => {
            facts.push(Fact::new("usb_control_allows_storage", Tone::Warn).count(s.agents.len()))
        }
    }
    let sources: &[Source] = if s.usb_storage.is_none() {
        &[Source::Documents, Source::Ledger]
    } else {
        &[Source::Documents, Source::Ledger, Source::Agents]
    };
    evidence(topic, facts, None, sources)
}

/// 2-⑩: two-factor authentication is in place, or planned by the deadline, for every system
/// that will run then.
fn two_factor(s: &Snapshot, t: &Thresholds) -> Evidence {
    let topic = "operation.two_factor";
    let systems: Vec<&InfoSystem> = s
        .systems
        .iter()
        .filter(|x| active_system(x) && x.in_use_r9 != Some(false))
        .collect();
    if systems.is_empty() {
        return evidence(
            topic,
            vec![Fact::new("no_systems", Tone::Warn)],
            None,
            &[Source::Ledger],
        );
    }
    let by: HashMap<i64, &InfoSystem> = systems.iter().map(|x| (x.id.0, *x)).collect();
    let gaps: Vec<(&InfoSystem, TwoFactorGap)> = systems
        .iter()
        .filter(|x| x.two_factor != TwoFactor::All)
        .filter_map(|x| {
            let gap = match x.two_factor_plan_on {
                None => TwoFactorGap::NoPlan,
                Some(d) if d > t.two_factor_deadline => TwoFactorGap::PlanTooLate,
                Some(_) => TwoFactorGap::Planned,
            };
            Some((*by.get(&x.id.0)?, gap))
        })
        .collect();
    let have = systems.len() - gaps.len();
    let mut facts = vec![
        Fact::new("two_factor_in_place", Tone::Info)
            .arg("have", have)
            .arg("total", systems.len()),
    ];
    let pick = |g: TwoFactorGap| -> Vec<RecordRef> {
        gaps.iter()
            .filter(|(_, x)| *x == g)
            .map(|(x, _)| {
                rec(
                    *x,
                    match x.two_factor_plan_on {
                        Some(d) => format!("{} → {}", x.name, day_text(Some(d))),
                        None => x.name.clone(),
                    },
                )
            })
            .collect()
    };
    let missing = findings::accounts_without_two_factor(&s.accounts, &s.systems);
    if !missing.is_empty() {
        let by: HashMap<i64, &Account> = s.accounts.iter().map(|a| (a.id.0, a)).collect();
        facts.push(
            Fact::new("accounts_without_two_factor", Tone::Warn)
                .count(missing.len())
                .records(listed(
                    missing
                        .iter()
                        .filter_map(|id| by.get(&id.0))
                        .map(|a| rec(*a, account_label(s, a)))
                        .collect(),
                )),
        );
    }
    for (code, tone, gap) in [
        ("two_factor_no_plan", Tone::Bad, TwoFactorGap::NoPlan),
        ("two_factor_late", Tone::Bad, TwoFactorGap::PlanTooLate),
        ("two_factor_planned", Tone::Info, TwoFactorGap::Planned),
    ] {
        let v = pick(gap);
        if !v.is_empty() {
            facts.push(
                Fact::new(code, tone)
                    .count(v.len())
                    .arg("date", day_text(Some(t.two_factor_deadline)))
                    .records(listed(v)),
            );
        }
    }
    evidence(topic, facts, None, &[Source::Ledger])
}

/// 2-⑪: every system in use records access logs, the logs are reviewed, and mamori's own audit
/// trail is sealed. (Collected logs come later; until then this is what the ledger records.)
fn access_logs(s: &Snapshot, t: &Thresholds, today: Date) -> Evidence {
    let topic = "server.access_logs";
    let systems: Vec<&InfoSystem> = s.systems.iter().filter(|x| active_system(x)).collect();
    let mut facts = Vec::new();
    if systems.is_empty() {
        facts.push(Fact::new("no_systems", Tone::Warn));
    }
    let without: Vec<RecordRef> = systems
        .iter()
        .filter(|x| x.access_log == Some(false))
        .map(|x| rec(*x, x.name.clone()))
        .collect();
    let unknown: Vec<RecordRef> = systems
        .iter()
        .filter(|x| x.access_log.is_none())
        .map(|x| rec(*x, x.name.clone()))
        .collect();
    if !systems.is_empty() {
        facts.push(
            Fact::new("systems_logging", Tone::Info)
                .arg("have", systems.len() - without.len() - unknown.len())
                .arg("total", systems.len()),
        );
    }
    if !without.is_empty() {
        facts.push(
            Fact::new("systems_without_logs", Tone::Bad)
                .count(without.len())
                .records(listed(without)),
        );
    }
    if !unknown.is_empty() {
        facts.push(
            Fact::new("systems_logs_unknown", Tone::Warn)
                .count(unknown.len())
                .records(listed(unknown)),
        );
    }
    let c = &s.collection;
    let collecting = c.live_sources + c.file_sources > 0;
    if collecting {
        facts.push(
            Fact::new("logs_collected", Tone::Info)
                .arg("sources", c.live_sources + c.file_sources)
                .arg("events", c.events_30d),
        );
    }
    if !c.silent.is_empty() {
        facts.push(
            Fact::new("log_sources_silent", Tone::Warn)
                .count(c.silent.len())
                .arg("names", c.silent.join("、")),
        );
    }
    if !c.drifting.is_empty() {
        facts.push(
            Fact::new("log_sources_drifting", Tone::Warn)
                .count(c.drifting.len())
                .arg("names", c.drifting.join("、")),
        );
    }
    if let Some(o) = c.own_clock_offset_ms {
        // As the sources show it: positive when mamori's clock is ahead.
        let seconds = format!("{:+.1}", -(o as f64) / 1000.0);
        facts.push(if o.abs() > 60_000 {
            Fact::new("own_clock_off", Tone::Warn).arg("seconds", seconds)
        } else {
            Fact::new("own_clock_checked", Tone::Info).arg("seconds", seconds)
        });
    }
    // A review recorded in mamori counts like a review record among the documents; the newer
    // of the two decides.
    let mamori_review = c.last_review.as_ref().filter(|(on, ..)| {
        last_record(s, DocKind::LogReview, today)
            .is_none_or(|d| d.dated_on.is_none_or(|x| x <= *on))
    });
    if let Some((on, who, from, to)) = mamori_review {
        let until = plus_days(*on, t.evidence_valid_days);
        let (code, tone, until) = if until >= today {
            ("log_reviewed_in_mamori", Tone::Good, Some(until))
        } else {
            ("log_review_old", Tone::Warn, None)
        };
        facts.push(
            Fact::new(code, tone)
                .arg("date", day_text(Some(*on)))
                .arg("who", who)
                .arg("from", day_text(Some(*from)))
                .arg("to", day_text(Some(*to))),
        );
        if let Some(n) = s.sealed_records {
            facts.push(Fact::new("own_trail_sealed", Tone::Info).count(n as usize));
        }
        return evidence(
            topic,
            facts,
            until,
            &[Source::Logs, Source::Ledger, Source::Documents],
        );
    }
    let (review, until) = match last_record(s, DocKind::LogReview, today) {
        Some(d) => {
            let until = d.dated_on.map(|x| plus_days(x, t.evidence_valid_days));
            if until.is_some_and(|u| u >= today) {
                (doc_fact("log_review", Tone::Good, d), until)
            } else {
                (doc_fact("log_review_old", Tone::Warn, d), None)
            }
        }
        None => (Fact::new("log_review_missing", Tone::Warn), None),
    };
    facts.push(review);
    if let Some(n) = s.sealed_records {
        facts.push(Fact::new("own_trail_sealed", Tone::Info).count(n as usize));
    }
    let sources: &[Source] = if collecting {
        &[Source::Logs, Source::Ledger, Source::Documents]
    } else {
        &[Source::Ledger, Source::Documents]
    };
    evidence(topic, facts, until, sources)
}

/// 2-⑫ / 2-⑬: a baseline of the software and services that may run on devices of `class` is
/// recorded and was checked within the validity period.
fn unneeded_services(
    s: &Snapshot,
    t: &Thresholds,
    today: Date,
    topic: &'static str,
    class: AssetClass,
) -> Evidence {
    let devices = s
        .assets
        .iter()
        .filter(|a| a.status == AssetStatus::Active && a.class == class)
        .count();
    let mut facts = vec![Fact::new("devices_of_class", Tone::Info).count(devices)];
    if devices == 0 {
        facts.push(Fact::new("no_devices_of_class", Tone::Warn));
        return evidence(topic, facts, None, &[Source::Ledger]);
    }
    let baseline = s
        .documents
        .iter()
        .filter(|d| d.current && d.kind == DocKind::ServiceBaseline && d.applies_to_class(class))
        .filter(|d| d.dated_on.is_some_and(|x| x <= today))
        .max_by(|a, b| a.dated_on.cmp(&b.dated_on).then(a.id.cmp(&b.id)));
    let allow = s.service_baselines.iter().find(|b| b.class == class);
    let doc_day = baseline.and_then(|d| d.dated_on);
    let mut until = None;
    match (allow, baseline) {
        // The allow-list kept here, saved at least as recently as any baseline document.
        (Some(b), _) if doc_day.is_none_or(|d| d <= b.updated_on) => {
            let u = plus_days(b.updated_on, t.evidence_valid_days);
            let fact = Fact::new("service_allowlist", Tone::Good)
                .count(b.baseline.rules.len())
                .arg("date", day_text(Some(b.updated_on)))
                .arg("by", &b.updated_by);
            if u >= today {
                until = Some(u);
                facts.push(fact);
            } else {
                facts.push(
                    Fact::new("service_baseline_old", Tone::Warn)
                        .arg("date", day_text(Some(b.updated_on))),
                );
            }
        }
        (_, Some(d)) => {
            let u = d.dated_on.map(|x| plus_days(x, t.evidence_valid_days));
            if u.is_some_and(|u| u >= today) {
                until = u;
                facts.push(doc_fact("service_baseline", Tone::Good, d));
            } else {
                facts.push(doc_fact("service_baseline_old", Tone::Warn, d));
            }
        }
        _ => facts.push(Fact::new("service_baseline_missing", Tone::Bad)),
    }
    let reporting: Vec<&AgentFacts> = s
        .agents
        .iter()
        .filter(|a| a.asset.is_some_and(|(_, c)| c == class))
        .collect();
    if !reporting.is_empty() {
        facts.push(
            Fact::new("agents_services", Tone::Info)
                .count(reporting.len())
                .arg(
                    "listening",
                    reporting.iter().map(|a| a.ports.len()).sum::<usize>(),
                )
                .arg(
                    "packages",
                    reporting.iter().map(|a| a.packages).sum::<usize>(),
                )
                .arg("hosts", hosts(&reporting)),
        );
        match allow {
            Some(b) => {
                let off: Vec<(&AgentFacts, Vec<String>)> = reporting
                    .iter()
                    .map(|a| (*a, b.baseline.extras(&a.ports, &a.services)))
                    .filter(|(_, x)| !x.is_empty())
                    .collect();
                if off.is_empty() {
                    facts.push(
                        Fact::new("agents_within_baseline", Tone::Good).count(reporting.len()),
                    );
                } else {
                    facts.push(
                        Fact::new("agents_beyond_baseline", Tone::Bad)
                            .count(off.len())
                            .arg("items", extras_text(&off)),
                    );
                }
            }
            None => facts.push(Fact::new("service_allowlist_missing", Tone::Info)),
        }
    }
    let sources: &[Source] = if reporting.is_empty() {
        &[Source::Documents, Source::Ledger]
    } else {
        &[Source::Documents, Source::Ledger, Source::Agents]
    };
    evidence(topic, facts, until, sources)
}

/// 2-⑭: every network device in use restricts where connections may come from, and every
/// remote-maintenance access point names its allowed source.
fn source_restriction(s: &Snapshot) -> Evidence {
    let topic = "network.source_restriction";
    let devices: Vec<&Asset> = s
        .assets
        .iter()
        .filter(|a| a.status == AssetStatus::Active && a.class == AssetClass::NetworkDevice)
        .collect();
    let mut facts = Vec::new();
    if devices.is_empty() {
        facts.push(Fact::new("no_network_devices", Tone::Warn));
    }
    let label = |a: &Asset| format!("{} {}", a.tag, a.name);
    let open: Vec<RecordRef> = devices
        .iter()
        .filter(|a| a.source_restriction == Some(false))
        .map(|a| rec(*a, label(a)))
        .collect();
    let unknown: Vec<RecordRef> = devices
        .iter()
        .filter(|a| a.source_restriction.is_none())
        .map(|a| rec(*a, label(a)))
        .collect();
    if !devices.is_empty() {
        facts.push(
            Fact::new("restricted_devices", Tone::Info)
                .arg("have", devices.len() - open.len() - unknown.len())
                .arg("total", devices.len()),
        );
    }
    if !open.is_empty() {
        facts.push(
            Fact::new("unrestricted_devices", Tone::Bad)
                .count(open.len())
                .records(listed(open)),
        );
    }
    if !unknown.is_empty() {
        facts.push(
            Fact::new("restriction_unknown", Tone::Warn)
                .count(unknown.len())
                .records(listed(unknown)),
        );
    }
    let open_points: Vec<RecordRef> = s
        .remote_points
        .iter()
        .filter(|p| p.active && p.allowed_source.trim().is_empty())
        .map(|p| rec(p, p.name.clone()))
        .collect();
    if !open_points.is_empty() {
        facts.push(
            Fact::new("remote_points_open", Tone::Bad)
                .count(open_points.len())
                .records(listed(open_points)),
        );
    }
    evidence(topic, facts, None, &[Source::Ledger])
}

/// Contact roles the contact chart must name (事業者 only when there are vendors).
const CHART_ROLES: &[ContactRole] = &[
    ContactRole::Director,
    ContactRole::SecurityOfficer,
    ContactRole::Vendor,
    ContactRole::Mhlw,
    ContactRole::Police,
    ContactRole::HealthCenter,
];

/// 3-①: the contact chart names the facility's own people, its vendors and the authorities,
/// and every number was checked within the validity period.
fn contact_chart(s: &Snapshot, t: &Thresholds, today: Date) -> Evidence {
    let topic = "incident.contact_chart";
    let active: Vec<&Contact> = s.contacts.iter().filter(|c| c.active).collect();
    let has_vendors = !active_vendors(s).is_empty();
    let missing: Vec<&str> = CHART_ROLES
        .iter()
        .filter(|r| has_vendors || **r != ContactRole::Vendor)
        .filter(|r| !active.iter().any(|c| c.role == **r))
        .map(|r| r.as_str())
        .collect();
    let mut facts = vec![Fact::new("contacts_listed", Tone::Info).count(active.len())];
    if !missing.is_empty() {
        facts.push(
            Fact::new("contact_roles_missing", Tone::Bad)
                .count(missing.len())
                .arg("roles", missing.join(",")),
        );
    }
    let stale: Vec<RecordRef> = active
        .iter()
        .filter(|c| {
            c.verified_on
                .is_none_or(|d| plus_days(d, t.evidence_valid_days) < today)
        })
        .map(|c| rec(*c, format!("{} {}", c.organization, c.name)))
        .collect();
    if !stale.is_empty() {
        facts.push(
            Fact::new("contacts_unverified", Tone::Bad)
                .count(stale.len())
                .arg("days", t.evidence_valid_days)
                .records(listed(stale)),
        );
    } else if !active.is_empty() {
        facts.push(Fact::new("contacts_verified", Tone::Good).arg("days", t.evidence_valid_days));
    }
    let until = active
        .iter()
        .filter_map(|c| c.verified_on)
        .map(|d| plus_days(d, t.evidence_valid_days))
        .filter(|d| *d >= today)
        .min();
    evidence(topic, facts, until, &[Source::Ledger])
}

/// 3-②: a backup and restore procedure is in force and a restore was tested within the
/// validity period.
fn backup_and_restore(s: &Snapshot, t: &Thresholds, today: Date) -> Evidence {
    let mut facts = Vec::new();
    match current_docs(s, DocKind::BackupProcedure).first() {
        Some(d) => facts.push(doc_fact("backup_procedure", Tone::Good, d)),
        None => facts.push(Fact::new("backup_procedure_missing", Tone::Bad)),
    }
    let (f, until) = recent_record(
        s,
        DocKind::RestoreTest,
        today,
        t,
        "restore_test",
        "restore_test_old",
        "restore_test_missing",
    );
    facts.push(f);
    evidence(
        "incident.backup_and_restore",
        facts,
        until,
        &[Source::Documents],
    )
}

/// 3-③: a BCP that assumes a cyber attack is in force and was drilled within the validity
/// period.
fn cyber_bcp(s: &Snapshot, t: &Thresholds, today: Date) -> Evidence {
    let mut facts = Vec::new();
    match current_docs(s, DocKind::CyberBcp).first() {
        Some(d) => facts.push(doc_fact("cyber_bcp", Tone::Good, d)),
        None => facts.push(Fact::new("cyber_bcp_missing", Tone::Bad)),
    }
    let (f, until) = recent_record(
        s,
        DocKind::BcpDrill,
        today,
        t,
        "bcp_drill",
        "bcp_drill_old",
        "bcp_drill_missing",
    );
    facts.push(f);
    evidence("incident.cyber_bcp", facts, until, &[Source::Documents])
}

/// 4-①: the operating rules in force set out how every item in `scope` is carried out.
fn operating_rules(s: &Snapshot, scope: &[&str]) -> Evidence {
    let topic = "rules.operating_rules";
    let rules = current_docs(s, DocKind::OperatingRules);
    let mut facts = Vec::new();
    let Some(newest) = rules.first() else {
        facts.push(Fact::new("operating_rules_missing", Tone::Bad));
        return evidence(topic, facts, None, &[Source::Documents]);
    };
    facts.push(doc_fact("operating_rules", Tone::Info, newest));
    let covered: BTreeSet<&str> = rules
        .iter()
        .flat_map(|d| d.topics.iter().copied())
        .collect();
    let missing: Vec<&str> = scope
        .iter()
        .copied()
        .filter(|k| *k != topic && !covered.contains(k))
        .collect();
    if missing.is_empty() {
        facts.push(Fact::new("operating_rules_cover_all", Tone::Good).count(scope.len()));
    } else {
        facts.push(
            Fact::new("operating_rules_gaps", Tone::Bad)
                .count(missing.len())
                .arg("topics", missing.join(",")),
        );
    }
    evidence(topic, facts, None, &[Source::Documents])
}

/// An answer on the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Answer {
    /// はい
    Yes,
    /// いいえ
    No,
    /// 記入不要
    NotApplicable,
}

impl Answer {
    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Yes => "yes",
            Answer::No => "no",
            Answer::NotApplicable => "na",
        }
    }

    pub fn parse(s: &str) -> Option<Answer> {
        [Answer::Yes, Answer::No, Answer::NotApplicable]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// An answer as a person gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerInput {
    pub answer: Option<Answer>,
    /// 確認日
    pub confirmed_on: Option<Date>,
    /// 目標日: required for いいえ, within the fiscal year.
    pub target_on: Option<Date>,
    /// 備考
    pub remarks: String,
}

/// A field of an answer that is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerError {
    /// `answer`, `confirmed_on`, `target_on` or `remarks`.
    pub field: &'static str,
    /// Stable code; the catalog has `error.{code}`.
    pub code: &'static str,
}

/// The longest 備考 accepted.
pub const MAX_REMARKS: usize = 500;

/// The first and last day of fiscal year `fy` (April to March).
pub fn fiscal_year_bounds(fy: i32) -> (Date, Date) {
    let start = Date::from_calendar_date(fy, time::Month::April, 1).unwrap_or(Date::MIN);
    let end = Date::from_calendar_date(fy + 1, time::Month::March, 31).unwrap_or(Date::MAX);
    (start, end)
}

/// Checks an answer for fiscal year `fy` as the form requires: an answer and a 確認日 not in the
/// future; for いいえ a 目標日 within the fiscal year and not before the 確認日; 記入不要 only where
/// the item allows it. Returns the answer with what does not belong to it dropped (a 目標日 given
/// with はい).
pub fn check_answer(
    input: &AnswerInput,
    fy: i32,
    allows_na: bool,
    today: Date,
) -> Result<AnswerInput, Vec<AnswerError>> {
    let mut e = Vec::new();
    let err = |field, code| AnswerError { field, code };
    match input.answer {
        None => e.push(err("answer", "CHK0001")),
        Some(Answer::NotApplicable) if !allows_na => e.push(err("answer", "CHK0005")),
        _ => {}
    }
    match input.confirmed_on {
        None => e.push(err("confirmed_on", "CHK0002")),
        Some(d) if d > today => e.push(err("confirmed_on", "CHK0007")),
        _ => {}
    }
    let (start, end) = fiscal_year_bounds(fy);
    let mut out = input.clone();
    if input.answer == Some(Answer::No) {
        match input.target_on {
            None => e.push(err("target_on", "CHK0003")),
            Some(d) if d < start || d > end => e.push(err("target_on", "CHK0004")),
            Some(d) if input.confirmed_on.is_some_and(|c| d < c) => {
                e.push(err("target_on", "CHK0008"))
            }
            _ => {}
        }
    } else {
        out.target_on = None;
    }
    out.remarks = input.remarks.trim().to_string();
    if out.remarks.chars().count() > MAX_REMARKS {
        e.push(err("remarks", "CHK0006"));
    }
    if e.is_empty() { Ok(out) } else { Err(e) }
}

/// What needs a person's attention on an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flag {
    /// はい, but the evidence fails it: shown loudly, never accepted silently.
    Contradiction,
    /// No answer yet.
    Unanswered,
    /// いいえ (or unanswered), but the evidence now passes: suggest はい.
    Upgrade,
    /// はい and the evidence passes, but it goes stale within [`EXPIRY_WARNING_DAYS`].
    Expiring,
}

impl Flag {
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::Contradiction => "contradiction",
            Flag::Unanswered => "unanswered",
            Flag::Upgrade => "upgrade",
            Flag::Expiring => "expiring",
        }
    }
}

/// Evidence that goes stale within this many days is flagged before it does.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// The flags of an item from its answer and its current evidence.
pub fn flags(answer: Option<Answer>, e: &Evidence, today: Date) -> Vec<Flag> {
    let mut out = Vec::new();
    match (answer, e.verdict) {
        (None, v) => {
            out.push(Flag::Unanswered);
            if v == Verdict::Pass {
                out.push(Flag::Upgrade);
            }
        }
        (Some(Answer::Yes), Verdict::Fail) => out.push(Flag::Contradiction),
        (Some(Answer::No), Verdict::Pass) => out.push(Flag::Upgrade),
        _ => {}
    }
    if answer == Some(Answer::Yes)
        && e.verdict == Verdict::Pass
        && e.valid_until
            .is_some_and(|d| d >= today && (d - today).whole_days() <= EXPIRY_WARNING_DAYS)
    {
        out.push(Flag::Expiring);
    }
    out
}

#[cfg(test)]
mod tests;
