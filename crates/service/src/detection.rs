//! Live detection: the rules run over every event in the sealed event log, behind ingestion.
//!
//! The detector keeps its own position (`detect_state.next_index`) in the sealed log and reads
//! the records after it, so whatever stored them (syslog, forwarders, file imports, the demo)
//! is scanned the same way, and ingestion never waits for detection: when detection falls
//! behind, the records simply wait in the log. The alerts raised from a stretch of records and
//! the new position are written in one transaction, so a crash neither skips nor repeats them.
//!
//! Rules: the shipped rules for medical settings (`detect::medical`) with their placeholders
//! filled from the facility's data (the ledger's accounts and people, the watched patients, the
//! day/night profile of medical record use), re-read every few minutes; plus any Sigma rules
//! the configuration names, run on Windows events by their channel. Two checks are about sources
//! rather than events: a source gone silent and a source whose clock drifts raise alerts too.

use crate::alerts::{Detection, Raised};
use crate::authz::{Cap, perm};
use crate::collect::Fed;
use crate::error::{ServiceError, ServiceResult};
use crate::logs::event_from_payload;
use crate::{ClientInfo, Services};
use mamori_catalog::{Lang, tr};
use mamori_detect::logsource::MAMORI_CHANNEL;
use mamori_detect::{Correlator, Event, FieldValue, Placeholders, RuleSet, medical};
use mamori_domain::alert::AlertLevel;
use mamori_domain::event::LogEvent;
use mamori_domain::ledger::{Account, AccountKind, Person};
use mamori_storage::detection::{
    CURSOR, WatchedPatient, delete_watched_patient, set_detect_state, upsert_watched_patient,
};
use serde_json::json;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// Records scanned per round (one transaction).
pub const ROUND_RECORDS: u64 = 5_000;
/// How often the placeholders are read again from the facility's data.
const REFRESH_MS: i64 = 5 * 60_000;
/// How often sources are checked for silence and clock drift.
const SOURCE_CHECK_MS: i64 = 5 * 60_000;
/// The after-hours rule's "day": 07:00 to 20:00 Japan time.
pub const DAY_HOURS: (i64, i64) = (7, 20);
/// A day worker: at least this many record accesses in the last 30 days …
const DAY_WORKER_MIN_EVENTS: i64 = 20;
/// … of which at least this share (per cent) in the day hours.
const DAY_WORKER_MIN_SHARE: i64 = 95;
const DAY_MS: i64 = 86_400_000;
/// Reasons a patient may be watched for.
pub const WATCH_REASONS: &[&str] = &["vip", "staff", "family"];

/// The detector's rules and memory; owned by the task that runs it.
pub struct Detector {
    medical: RuleSet,
    medical_windows: Correlator,
    /// Sigma rules from the configuration, with their correlations.
    extra: Option<(RuleSet, Correlator)>,
    placeholders: Placeholders,
    refreshed_ms: Option<i64>,
    sources_checked_ms: Option<i64>,
    /// Sources reported silent or drifting at the last check (an alert is raised when a source
    /// joins these, not again while it stays).
    silent: HashSet<String>,
    drifting: HashSet<String>,
    /// Clock tolerance for the drift check.
    pub tolerance_ms: i64,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("medical_rules", &self.medical.rules().len())
            .field(
                "extra_rules",
                &self.extra.as_ref().map(|(s, _)| s.rules().len()),
            )
            .finish_non_exhaustive()
    }
}

impl Detector {
    /// A detector with the shipped rules and, when given, rules from the configuration.
    pub fn new(extra: Option<RuleSet>, tolerance_ms: i64) -> Detector {
        let medical = medical::rule_set(Placeholders::new());
        Detector {
            medical_windows: Correlator::new(&medical),
            medical,
            extra: extra.map(|set| {
                let c = Correlator::new(&set);
                (set, c)
            }),
            tolerance_ms,
            ..Detector::resting()
        }
    }

    /// A detector with no rules, standing in while the real one scans on another thread.
    fn resting() -> Detector {
        let medical = RuleSet::new();
        let medical_windows = Correlator::new(&medical);
        Detector {
            medical,
            medical_windows,
            extra: None,
            placeholders: Placeholders::new(),
            refreshed_ms: None,
            sources_checked_ms: None,
            silent: HashSet::new(),
            drifting: HashSet::new(),
            tolerance_ms: 0,
        }
    }

    /// Rebuilds the shipped rules with new placeholder values (the correlation windows stay).
    fn set_placeholders(&mut self, p: Placeholders) {
        if p != self.placeholders {
            self.medical = medical::rule_set(p.clone());
            self.placeholders = p;
        }
    }

    /// Scans one event (sealed as `index`) and returns what it raised.
    fn scan(&mut self, index: u64, source: &str, e: &LogEvent, out: &mut Vec<Detection>) {
        let view = Normalised::new(source, e);
        let at = e.time_ms.unwrap_or(e.received_ms);
        let seal = i64::try_from(index).ok();
        let found = self.medical.scan_routed(&view, MAMORI_CHANNEL, None);
        report(&found, e, at, seal, out);
        let hits = self.medical_windows.feed(&self.medical, &view, at, &found);
        correlated(&hits, e, seal, out);
        if let Some((set, corr)) = &mut self.extra {
            let found = set.scan_routed(&view, MAMORI_CHANNEL, None);
            report(&found, e, at, seal, out);
            let hits = corr.feed(set, &view, at, &found);
            correlated(&hits, e, seal, out);
            if let Some(channel) = e.field("channel") {
                let win = WindowsView(e);
                let id = e.field("event_id").and_then(|i| i.parse().ok());
                let found = set.scan_routed(&win, &channel.to_lowercase(), id);
                report(&found, e, at, seal, out);
                let hits = corr.feed(set, &win, at, &found);
                correlated(&hits, e, seal, out);
            }
        }
    }
}

fn level(text: &str) -> AlertLevel {
    AlertLevel::parse(text).unwrap_or(AlertLevel::Medium)
}

fn report(
    found: &[mamori_detect::Detection<'_>],
    e: &LogEvent,
    at: i64,
    seal: Option<i64>,
    out: &mut Vec<Detection>,
) {
    for d in found.iter().filter(|d| !d.silent) {
        out.push(Detection {
            rule_id: d.rule.id.clone(),
            title: d.rule.title.clone(),
            level: level(&d.rule.level),
            group: Vec::new(),
            host: e.source_host.clone(),
            actor: e.actor.clone(),
            at_ms: at,
            seal_index: seal,
        });
    }
}

fn correlated(
    hits: &[mamori_detect::CorrelationHit<'_>],
    e: &LogEvent,
    seal: Option<i64>,
    out: &mut Vec<Detection>,
) {
    for h in hits {
        let value = |name: &str| {
            h.group
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        out.push(Detection {
            rule_id: h.correlation.id.clone(),
            title: h.correlation.title.clone(),
            level: level(&h.correlation.level),
            group: h.group.clone(),
            host: value("host").unwrap_or_else(|| e.source_host.clone()),
            actor: value("actor").or_else(|| e.actor.clone()),
            at_ms: h.last_ms,
            seal_index: seal,
        });
    }
}

/// A normalised event as `product: mamori` rules read it.
struct Normalised<'a> {
    source: &'a str,
    e: &'a LogEvent,
    hour: String,
    weekday: &'static str,
}

impl<'a> Normalised<'a> {
    fn new(source: &'a str, e: &'a LogEvent) -> Normalised<'a> {
        let local = crate::clock::to_jst(e.time_ms.unwrap_or(e.received_ms));
        Normalised {
            source,
            e,
            hour: local.hour().to_string(),
            weekday: match local.weekday() {
                time::Weekday::Monday => "mon",
                time::Weekday::Tuesday => "tue",
                time::Weekday::Wednesday => "wed",
                time::Weekday::Thursday => "thu",
                time::Weekday::Friday => "fri",
                time::Weekday::Saturday => "sat",
                time::Weekday::Sunday => "sun",
            },
        }
    }
}

fn text(s: &str) -> Option<FieldValue<'_>> {
    Some(FieldValue::Text(Cow::Borrowed(s)))
}

/// Every value of the event's field `name` (one, several, or none).
fn field_values<'a>(e: &'a LogEvent, name: &str) -> Option<FieldValue<'a>> {
    let mut values = e
        .fields
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| FieldValue::Text(Cow::Borrowed(v.as_str())));
    let first = values.next()?;
    match values.next() {
        None => Some(first),
        Some(second) => {
            let mut all = vec![first, second];
            all.extend(values);
            Some(FieldValue::List(all))
        }
    }
}

impl Event for Normalised<'_> {
    fn get(&self, field: &str) -> Option<FieldValue<'_>> {
        let e = self.e;
        match field {
            "action" => text(e.action.as_str()),
            "actor" => e.actor.as_deref().filter(|a| !a.is_empty()).and_then(text),
            "object" => e.object.as_deref().filter(|o| !o.is_empty()).and_then(text),
            "outcome" => text(e.outcome.as_str()),
            "host" => text(&e.source_host),
            "source" => text(self.source),
            "severity" => text(e.severity.as_str()),
            "message" => text(&e.message),
            "hour" => text(&self.hour),
            "weekday" => text(self.weekday),
            other => field_values(e, other),
        }
    }

    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        f(&self.e.message);
        if let Some(a) = &self.e.actor {
            f(a);
        }
        if let Some(o) = &self.e.object {
            f(o);
        }
        for (_, v) in &self.e.fields {
            f(v);
        }
    }
}

/// A Windows event (decoded by `ingest::evtx` or a forwarder) as Sigma's Windows rules read it.
struct WindowsView<'a>(&'a LogEvent);

impl Event for WindowsView<'_> {
    fn get(&self, field: &str) -> Option<FieldValue<'_>> {
        let e = self.0;
        let own = match field {
            "Channel" => "channel",
            "EventID" => "event_id",
            "Provider_Name" => "provider",
            "EventRecordID" => "record_id",
            "Level" => "level",
            "Keywords" => "keywords",
            "Computer" => return text(&e.source_host),
            other => other,
        };
        field_values(e, own)
    }

    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        for (_, v) in &self.0.fields {
            f(v);
        }
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Records scanned.
    pub scanned: u64,
    /// Records not scanned yet (the backlog after this round).
    pub behind: u64,
    pub raised: Raised,
}

impl Services {
    /// The placeholder values of the shipped rules, from the facility's data as it is now.
    pub async fn detection_placeholders(&self) -> ServiceResult<Placeholders> {
        let now = self.now_ms();
        let today = crate::clock::to_jst(now).date();
        let people: HashMap<i64, Person> = self
            .store
            .records::<Person>()
            .await?
            .into_iter()
            .map(|p| (p.id.0, p))
            .collect();
        let accounts = self.store.records::<Account>().await?;
        let mut left: Vec<String> = accounts
            .iter()
            .filter(|a| {
                !a.enabled
                    || a.person_id
                        .and_then(|p| people.get(&p.0))
                        .is_some_and(|p| p.has_left(today))
            })
            .map(|a| a.login_id.clone())
            .collect();
        let mut emergency: Vec<String> = accounts
            .iter()
            .filter(|a| a.kind == AccountKind::Emergency)
            .map(|a| a.login_id.clone())
            .collect();
        let profiles = self
            .store
            .day_profiles(
                &[
                    "record_viewed",
                    "record_changed",
                    "record_printed",
                    "record_exported",
                ],
                now - 30 * DAY_MS,
                9,
                DAY_HOURS,
            )
            .await?;
        let mut day_workers: Vec<String> = profiles
            .into_iter()
            .filter(|p| {
                p.total >= DAY_WORKER_MIN_EVENTS && p.day * 100 >= p.total * DAY_WORKER_MIN_SHARE
            })
            .map(|p| p.actor)
            .collect();
        let mut watched: Vec<String> = self
            .store
            .watched_patients()
            .await?
            .into_iter()
            .map(|p| p.patient_id)
            .collect();
        let mut out = Placeholders::new();
        for (name, list) in [
            ("left_accounts", &mut left),
            ("emergency_accounts", &mut emergency),
            ("day_workers", &mut day_workers),
            ("watched_patients", &mut watched),
        ] {
            list.sort();
            list.dedup();
            out.insert(name.to_string(), std::mem::take(list));
        }
        Ok(out)
    }

    /// Scans up to [`ROUND_RECORDS`] records after the detector's position, raises what they
    /// show and moves the position, in one transaction. Also re-reads the placeholders and
    /// checks the sources when their time has come.
    pub async fn detect_round(&self, det: &mut Detector) -> ServiceResult<Round> {
        self.detect_round_fed(det, &mut std::collections::VecDeque::new())
            .await
    }

    /// [`Services::detect_round`] with the batches the collector handed over, oldest first:
    /// the part of a batch at the detector's position is scanned as it is, without reading it
    /// back from the sealed log; the log is read only up to the next batch (a gap: file
    /// imports, batches not handed over); batches already passed are dropped.
    pub async fn detect_round_fed(
        &self,
        det: &mut Detector,
        pending: &mut std::collections::VecDeque<Fed>,
    ) -> ServiceResult<Round> {
        let log = self.events.clone().ok_or(ServiceError::Invalid {
            code: "LOG0020",
            field: "events",
        })?;
        let now = self.now_ms();
        if det.refreshed_ms.is_none_or(|t| now - t >= REFRESH_MS) {
            let p = self.detection_placeholders().await?;
            det.set_placeholders(p);
            det.refreshed_ms = Some(now);
        }
        let mut round = Round::default();
        if det
            .sources_checked_ms
            .is_none_or(|t| now - t >= SOURCE_CHECK_MS)
        {
            round.raised = self.check_sources(det).await?;
            det.sources_checked_ms = Some(now);
        }
        let size = log.size()?;
        let first = log.first_index()?;
        let stored = self.store.detect_state(CURSOR).await?;
        let from = stored
            .and_then(|c| u64::try_from(c).ok())
            .unwrap_or(0)
            .max(first);
        while pending
            .front()
            .is_some_and(|f| f.first + f.events.len() as u64 <= from)
        {
            pending.pop_front();
        }
        let fed = match pending.front() {
            Some(f) if f.first <= from => pending.pop_front().map(|mut f| {
                let skip = usize::try_from(from - f.first).unwrap_or(usize::MAX);
                f.events.drain(..skip.min(f.events.len()));
                f.first = from;
                f
            }),
            _ => None,
        };
        let next_fed = pending.front().map(|f| f.first);
        let to = match &fed {
            Some(f) => from + f.events.len() as u64,
            None => size
                .min(from + ROUND_RECORDS)
                .min(next_fed.unwrap_or(u64::MAX)),
        };
        if from >= to {
            return Ok(round);
        }
        // The scan runs on a blocking thread, which needs the detector for a while.
        let mut moved = std::mem::replace(det, Detector::resting());
        let reader = log.clone();
        let (back, detections) = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            let scanned = match fed {
                Some(f) => {
                    for (i, (source, e)) in (from..).zip(&f.events) {
                        moved.scan(i, source, e, &mut out);
                    }
                    Ok(())
                }
                None => reader.payloads(from, to).map(|payloads| {
                    for (i, p) in (from..to).zip(&payloads) {
                        // A record that is not an event of this version is skipped, not fatal.
                        if let Some((source, e)) = event_from_payload(p) {
                            moved.scan(i, &source, &e, &mut out);
                        }
                    }
                }),
            };
            (moved, scanned.map(|()| out))
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        *det = back;
        let detections = detections?;
        let mut w = self.store.write().await?;
        let raised = self.raise_in(&mut w, &detections).await?;
        set_detect_state(&mut w, CURSOR, i64::try_from(to).unwrap_or(i64::MAX)).await?;
        w.commit().await?;
        round.scanned = to - from;
        round.behind = size.saturating_sub(to);
        round.raised.opened += raised.opened;
        round.raised.joined += raised.joined;
        Ok(round)
    }

    /// Runs rounds until the detector has read everything stored (the demo and tests);
    /// returns the rounds summed.
    pub async fn detect_pending(&self, det: &mut Detector) -> ServiceResult<Round> {
        let mut sum = Round::default();
        loop {
            let r = self.detect_round(det).await?;
            sum.scanned += r.scanned;
            sum.behind = r.behind;
            sum.raised.opened += r.raised.opened;
            sum.raised.joined += r.raised.joined;
            if r.scanned == 0 || r.behind == 0 {
                return Ok(sum);
            }
        }
    }

    /// Raises an alert for each live source that went silent or whose clock drifts beyond the
    /// tolerance since the last check.
    async fn check_sources(&self, det: &mut Detector) -> ServiceResult<Raised> {
        let views = self.source_views(None, det.tolerance_ms).await?;
        let now = self.now_ms();
        let mut detections = Vec::new();
        let mut silent = HashSet::new();
        let mut drifting = HashSet::new();
        for v in views.iter().filter(|v| v.is_live()) {
            let name = &v.row.name;
            let group = vec![("source".to_string(), name.clone())];
            if v.silent {
                silent.insert(name.clone());
                if !det.silent.contains(name) {
                    detections.push(Detection {
                        rule_id: medical::SOURCE_SILENT_ID.into(),
                        title: tr(Lang::Ja, "detect.source_silent").to_string(),
                        level: AlertLevel::High,
                        group: group.clone(),
                        host: v.row.last_peer.clone(),
                        actor: None,
                        at_ms: v.row.last_seen.unwrap_or(now),
                        seal_index: None,
                    });
                }
            }
            if v.drifting {
                drifting.insert(name.clone());
                if !det.drifting.contains(name) {
                    detections.push(Detection {
                        rule_id: medical::CLOCK_DRIFT_ID.into(),
                        title: tr(Lang::Ja, "detect.clock_drift").to_string(),
                        level: AlertLevel::Medium,
                        group,
                        host: v.row.last_peer.clone(),
                        actor: None,
                        at_ms: now,
                        seal_index: None,
                    });
                }
            }
        }
        det.silent = silent;
        det.drifting = drifting;
        self.raise_alerts(&detections).await
    }

    /// The watched patients.
    pub async fn watched_patients(
        &self,
        _cap: &Cap<perm::ViewLogs>,
    ) -> ServiceResult<Vec<WatchedPatient>> {
        Ok(self.store.watched_patients().await?)
    }

    /// Adds a patient to the watched list (or changes its reason and note), with an audit
    /// event. The detector reads the list again within a few minutes.
    pub async fn watch_patient(
        &self,
        cap: &Cap<perm::HandleAlerts>,
        client: &ClientInfo,
        patient_id: &str,
        reason: &str,
        note: &str,
    ) -> ServiceResult<()> {
        let patient_id = patient_id.trim();
        if patient_id.is_empty() || patient_id.chars().count() > 64 {
            return Err(ServiceError::Invalid {
                code: "ALR0010",
                field: "patient_id",
            });
        }
        if !WATCH_REASONS.contains(&reason) {
            return Err(ServiceError::Invalid {
                code: "ALR0011",
                field: "reason",
            });
        }
        let note = note.trim();
        if note.chars().count() > 200 {
            return Err(ServiceError::Invalid {
                code: "ALR0012",
                field: "note",
            });
        }
        let mut w = self.store.write().await?;
        upsert_watched_patient(
            &mut w,
            &WatchedPatient {
                patient_id: patient_id.to_string(),
                reason: reason.to_string(),
                note: note.to_string(),
                added_ms: self.now_ms(),
                added_by: cap.actor().user.display_name.clone(),
            },
        )
        .await?;
        self.audit(
            &mut w,
            &cap.actor().label(),
            &client.source,
            "patient.watched",
            &format!("patient:{patient_id}"),
            json!({ "reason": reason, "note": note }),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Takes a patient off the watched list, with an audit event.
    pub async fn unwatch_patient(
        &self,
        cap: &Cap<perm::HandleAlerts>,
        client: &ClientInfo,
        patient_id: &str,
    ) -> ServiceResult<()> {
        let mut w = self.store.write().await?;
        if !delete_watched_patient(&mut w, patient_id).await? {
            return Err(ServiceError::NotFound);
        }
        self.audit(
            &mut w,
            &cap.actor().label(),
            &client.source,
            "patient.unwatched",
            &format!("patient:{patient_id}"),
            json!({}),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }
}
