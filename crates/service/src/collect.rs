//! Events arriving over the network (syslog listeners, JSON lines over HTTPS) are gathered by
//! one [`Collector`] task into batches: each batch is sealed with one fsync, indexed, and
//! counted into its sources in one transaction, and only then is every sender of the batch
//! told it is stored. Senders that wait for that answer (TCP, TLS, HTTPS) acknowledge only
//! stored events; UDP senders [`Collector::offer`] and count what the full queue refused.

use crate::Services;
use crate::error::{ServiceError, ServiceResult};
use crate::logs::{event_payload, index_row};
use mamori_domain::event::LogEvent;
use mamori_storage::events::{EventRow, insert_events};
use mamori_storage::sources::{HourTally, SourceTally, tally_source};
use std::collections::BTreeMap;
use std::ops::Range;
use tokio::sync::{mpsc, oneshot};

/// What kind of sender a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A syslog sender, named `syslog/<address>`.
    Syslog,
    /// A forwarder sending JSON lines with its token.
    Json,
    /// Files imported by a user.
    File,
    /// A device agent (`agent/<id>:<hostname>`): its USB decisions and files written to media.
    Agent,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Syslog => "syslog",
            SourceKind::Json => "json",
            SourceKind::File => "file",
            SourceKind::Agent => "agent",
        }
    }

    /// Whether the receive time says something about the source's clock (not for files,
    /// which are imported long after the fact).
    fn live(self) -> bool {
        self != SourceKind::File
    }
}

/// The source name of a syslog sender.
pub fn syslog_source(peer: std::net::IpAddr) -> String {
    format!("syslog/{peer}")
}

/// Events and refused input from one source, ready to be stored.
#[derive(Debug, Clone)]
pub struct Collected {
    pub source: String,
    pub kind: SourceKind,
    /// The sender's address or the file's name.
    pub peer: String,
    pub events: Vec<LogEvent>,
    /// Input refused, counted.
    pub bad: u64,
    /// (code, detail) of the first few refusals.
    pub rejects: Vec<(String, String)>,
    /// Messages lost before they could be queued (UDP only).
    pub dropped: u64,
    /// When it was received (Unix ms); refusals are counted in this hour.
    pub received_ms: i64,
}

impl Collected {
    pub fn new(source: String, kind: SourceKind, peer: String, received_ms: i64) -> Self {
        Collected {
            source,
            kind,
            peer,
            events: Vec::new(),
            bad: 0,
            rejects: Vec::new(),
            dropped: 0,
            received_ms,
        }
    }

    /// Counts one refused message, keeping the first few as examples.
    pub fn reject(&mut self, code: &str, detail: String) {
        self.bad = self.bad.saturating_add(1);
        if self.rejects.len() < MAX_EXAMPLES_PER_BATCH {
            self.rejects.push((code.to_string(), detail));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.bad == 0 && self.dropped == 0
    }
}

/// Events gathered into one sealed, indexed batch from the network: larger than a file
/// import's batches, since fewer commits is what keeps a busy collector ahead.
pub const COLLECT_BATCH_EVENTS: usize = 10_000;

/// Refusal examples kept from one batch of one source.
const MAX_EXAMPLES_PER_BATCH: usize = 5;
const HOUR_MS: i64 = 3_600_000;
/// Offsets beyond this are not a clock but a replay of old data: not counted as offsets.
const MAX_OFFSET_MS: i64 = 86_400_000;

/// The start of the hour `ms` falls in (Unix ms).
pub fn hour_of(ms: i64) -> i64 {
    ms - ms.rem_euclid(HOUR_MS)
}

/// The tallies of `items`, one per source.
pub fn tallies(items: &[&Collected]) -> Vec<SourceTally> {
    let mut by_source: BTreeMap<&str, (SourceTally, BTreeMap<i64, HourTally>)> = BTreeMap::new();
    for c in items {
        let (t, hours) = by_source.entry(c.source.as_str()).or_insert_with(|| {
            (
                SourceTally {
                    source: c.source.clone(),
                    kind: c.kind.as_str().to_string(),
                    ..SourceTally::default()
                },
                BTreeMap::new(),
            )
        });
        t.peer.clone_from(&c.peer);
        t.at_ms = t.at_ms.max(c.received_ms);
        t.events += c.events.len() as i64;
        t.bad += i64::try_from(c.bad).unwrap_or(i64::MAX);
        t.dropped += i64::try_from(c.dropped).unwrap_or(i64::MAX);
        for r in &c.rejects {
            if t.rejects.len() < MAX_EXAMPLES_PER_BATCH {
                t.rejects.push(r.clone());
            }
        }
        if c.bad > 0 {
            let h = hours.entry(hour_of(c.received_ms)).or_default();
            h.bad += i64::try_from(c.bad).unwrap_or(i64::MAX);
        }
        for e in &c.events {
            let h = hours.entry(hour_of(e.received_ms)).or_default();
            h.events += 1;
            if c.kind.live()
                && let Some(t) = e.time_ms
            {
                let off = t.saturating_sub(e.received_ms);
                if off.abs() <= MAX_OFFSET_MS {
                    h.offset_max_ms = Some(h.offset_max_ms.map_or(off, |m| m.max(off)));
                }
            }
        }
    }
    by_source
        .into_values()
        .map(|(mut t, hours)| {
            t.hours = hours
                .into_iter()
                .map(|(hour_ms, h)| HourTally { hour_ms, ..h })
                .collect();
            t
        })
        .collect()
}

impl Services {
    /// Seals every event of `items` (one durable append), indexes them and counts them into
    /// their sources in one transaction. Returns the sealed record range.
    pub async fn store_collected(&self, items: &[&Collected]) -> ServiceResult<Range<u64>> {
        let range = self.seal_collected(items).await?;
        self.index_collected(items, range.clone()).await?;
        Ok(range)
    }

    /// Seals every event of `items` in one durable append; returns the record range.
    pub async fn seal_collected(&self, items: &[&Collected]) -> ServiceResult<Range<u64>> {
        let log = self.events.clone().ok_or(ServiceError::Invalid {
            code: "LOG0020",
            field: "events",
        })?;
        let payloads: Vec<Vec<u8>> = items
            .iter()
            .flat_map(|c| c.events.iter().map(|e| event_payload(&c.source, e)))
            .collect();
        if payloads.is_empty() {
            return Ok(0..0);
        }
        let now = self.now_ms();
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
            log.append(now, &refs)
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
    }

    /// Indexes the events of `items`, sealed as `range`, and counts them into their sources,
    /// in one transaction.
    pub async fn index_collected(
        &self,
        items: &[&Collected],
        range: Range<u64>,
    ) -> ServiceResult<()> {
        self.index_prepared(prepare_index(items, range)?).await
    }

    async fn index_prepared(&self, p: PreparedIndex) -> ServiceResult<()> {
        let mut w = self.store.write().await?;
        insert_events(&mut w, &p.rows).await?;
        for t in &p.tallies {
            tally_source(&mut w, t).await?;
        }
        w.commit().await?;
        Ok(())
    }
}

/// A sealed batch made ready for the index: its rows and its tallies.
struct PreparedIndex {
    rows: Vec<EventRow>,
    tallies: Vec<SourceTally>,
}

fn prepare_index(items: &[&Collected], range: Range<u64>) -> ServiceResult<PreparedIndex> {
    let rows: Vec<EventRow> = range
        .zip(
            items
                .iter()
                .flat_map(|c| c.events.iter().map(move |e| (c.source.as_str(), e))),
        )
        .map(|(i, (source, e))| index_row(i, source, e))
        .collect();
    Ok(PreparedIndex {
        rows,
        tallies: tallies(items),
    })
}

/// How one submission ended: `Ok` once its events are sealed and indexed.
pub type Stored = Result<(), String>;

struct Job {
    item: Collected,
    done: Option<oneshot::Sender<Stored>>,
}

/// Counters of the collector since start.
#[derive(Debug, Default)]
pub struct CollectorStats {
    pub batches: std::sync::atomic::AtomicU64,
    pub events: std::sync::atomic::AtomicU64,
    pub failures: std::sync::atomic::AtomicU64,
}

/// The handle senders use; cheap to clone. The task ends when every handle is dropped, after
/// storing what was queued.
#[derive(Clone, Debug)]
pub struct Collector {
    tx: mpsc::Sender<Job>,
    pub stats: std::sync::Arc<CollectorStats>,
}

/// Submissions queued before senders wait (TCP/HTTPS) or drop (UDP).
pub const QUEUE_JOBS: usize = 1024;

impl Collector {
    /// Starts the tasks that store batches through `svc`: one seals a batch while the other
    /// indexes the one before, and senders hear back once their batch is indexed.
    pub fn start(svc: Services) -> (Collector, tokio::task::JoinHandle<()>) {
        Self::start_feeding(svc, None)
    }

    /// [`Collector::start`], handing every stored batch to `feed` too (live detection) when
    /// there is room.
    pub fn start_feeding(
        svc: Services,
        feed: Option<mpsc::Sender<Fed>>,
    ) -> (Collector, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE_JOBS);
        let stats = std::sync::Arc::new(CollectorStats::default());
        let (sealed_tx, sealed_rx) = mpsc::channel(2);
        let sealing = tokio::spawn(seal_stage(svc.clone(), rx, sealed_tx, stats.clone()));
        let index_stats = stats.clone();
        let task = tokio::spawn(async move {
            index_stage(svc, sealed_rx, index_stats, feed).await;
            let _ = sealing.await;
        });
        (Collector { tx, stats }, task)
    }

    /// Queues `item` (waiting for room) and returns what will say when it is stored.
    pub async fn submit(&self, item: Collected) -> ServiceResult<oneshot::Receiver<Stored>> {
        let (done, rx) = oneshot::channel();
        self.tx
            .send(Job {
                item,
                done: Some(done),
            })
            .await
            .map_err(|_| ServiceError::Internal("the collector has stopped".into()))?;
        Ok(rx)
    }

    /// Queues `item` and waits until it is stored.
    pub async fn store(&self, item: Collected) -> ServiceResult<()> {
        let rx = self.submit(item).await?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ServiceError::Internal(e)),
            Err(_) => Err(ServiceError::Internal("the collector has stopped".into())),
        }
    }

    /// Queues `item` if there is room, without waiting to hear it was stored; gives it back
    /// when the queue is full.
    pub fn offer(&self, item: Collected) -> Result<(), Box<Collected>> {
        self.tx
            .try_send(Job { item, done: None })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(j) | mpsc::error::TrySendError::Closed(j) => {
                    Box::new(j.item)
                }
            })
    }
}

/// A batch on its way: its jobs and, once sealed, its index rows (or why it failed).
struct Sealed {
    jobs: Vec<Job>,
    events: usize,
    /// The first sealed record number of the batch.
    first: u64,
    prepared: Result<PreparedIndex, String>,
}

/// Events just sealed and indexed, in record order from `first`, handed to live detection so
/// that it need not read them back from the sealed log.
#[derive(Debug)]
pub struct Fed {
    pub first: u64,
    /// `(source, event)` of records `first`, `first + 1`, ….
    pub events: Vec<(String, LogEvent)>,
}

/// Batches handed to detection that may wait at once; when detection is behind, later batches
/// are not handed over (detection reads them from the sealed log instead).
pub const FED_BATCHES: usize = 8;

async fn seal_stage(
    svc: Services,
    mut rx: mpsc::Receiver<Job>,
    out: mpsc::Sender<Sealed>,
    stats: std::sync::Arc<CollectorStats>,
) {
    while let Some(first) = rx.recv().await {
        let mut n = first.item.events.len();
        let mut jobs = vec![first];
        while n < COLLECT_BATCH_EVENTS {
            match rx.try_recv() {
                Ok(j) => {
                    n += j.item.events.len();
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
        let items: Vec<&Collected> = jobs.iter().map(|j| &j.item).collect();
        // The rows for the index are made here, while the index stage writes the batch before.
        let mut first = 0;
        let prepared = match svc.seal_collected(&items).await {
            Ok(range) => {
                first = range.start;
                prepare_index(&items, range)
            }
            Err(e) => Err(e),
        }
        .map_err(|e| {
            stats
                .failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::error!(error = %e, events = n, "sealing collected events failed");
            e.to_string()
        });
        if out
            .send(Sealed {
                jobs,
                events: n,
                first,
                prepared,
            })
            .await
            .is_err()
        {
            return;
        }
    }
}

async fn index_stage(
    svc: Services,
    mut rx: mpsc::Receiver<Sealed>,
    stats: std::sync::Arc<CollectorStats>,
    feed: Option<mpsc::Sender<Fed>>,
) {
    use std::sync::atomic::Ordering::Relaxed;
    while let Some(batch) = rx.recv().await {
        let outcome = match batch.prepared {
            Ok(prepared) => {
                // Sealed but not indexed (a failure here) is caught up from the sealed log at
                // the next start; the sender is told it failed and sends again.
                svc.index_prepared(prepared).await.map_err(|e| {
                    tracing::error!(error = %e, events = batch.events, "indexing collected events failed");
                    e.to_string()
                })
            }
            Err(e) => Err(e),
        };
        stats.batches.fetch_add(1, Relaxed);
        match &outcome {
            Ok(()) => {
                stats.events.fetch_add(batch.events as u64, Relaxed);
            }
            Err(_) => {
                stats.failures.fetch_add(1, Relaxed);
            }
        }
        let mut events = Vec::with_capacity(batch.events);
        for j in batch.jobs {
            if let Some(done) = j.done {
                let _ = done.send(outcome.clone());
            }
            let source = j.item.source;
            events.extend(j.item.events.into_iter().map(|e| (source.clone(), e)));
        }
        if let (Ok(()), Some(feed)) = (&outcome, &feed)
            && !events.is_empty()
        {
            // Full: detection is behind and reads these from the sealed log later.
            let _ = feed.try_send(Fed {
                first: batch.first,
                events,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_domain::event::{Action, Outcome, Severity};

    fn event(time: Option<i64>, received: i64) -> LogEvent {
        LogEvent {
            time_ms: time,
            received_ms: received,
            source_host: "fw".into(),
            actor: None,
            action: Action::Other("x".into()),
            object: None,
            outcome: Outcome::Unknown,
            severity: Severity::Informational,
            message: "m".into(),
            fields: Vec::new(),
            raw: String::new(),
        }
    }

    #[test]
    fn the_clock_estimate_is_the_least_delayed_event_of_the_hour() {
        let h = 10 * HOUR_MS;
        let mut c = Collected::new(
            "syslog/192.0.2.1".into(),
            SourceKind::Syslog,
            "192.0.2.1".into(),
            h + 5,
        );
        // 90 s ahead, then the same clock seen through a 30 s queue delay.
        c.events.push(event(Some(h + 1_000 + 90_000), h + 1_000));
        c.events.push(event(Some(h + 2_000 + 60_000), h + 2_000));
        c.events.push(event(None, h + 3_000));
        c.reject("LOG0003", "1行目".into());
        let t = tallies(&[&c]);
        assert_eq!(t.len(), 1);
        let t = &t[0];
        assert_eq!((t.events, t.bad), (3, 1));
        assert_eq!(t.hours.len(), 1);
        assert_eq!(t.hours[0].hour_ms, h);
        assert_eq!(t.hours[0].offset_max_ms, Some(90_000));
        assert_eq!(t.rejects.len(), 1);
    }

    #[test]
    fn files_say_nothing_about_clocks_and_hours_split() {
        let mut c = Collected::new("a.evtx".into(), SourceKind::File, "a.evtx".into(), 0);
        c.events.push(event(Some(1_000), HOUR_MS - 1));
        c.events.push(event(Some(1_000), HOUR_MS));
        let t = tallies(&[&c]);
        assert_eq!(t[0].hours.len(), 2);
        assert!(t[0].hours.iter().all(|h| h.offset_max_ms.is_none()));
    }
}
