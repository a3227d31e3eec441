//! Seals mamori's audit trail into the tamper-evident log (`mamori-seal`).
//!
//! Audit events are still written in the transaction of the change they record (so a change and
//! its record commit together); a background step then appends every event not yet sealed to the
//! sealed log, in order. Audit sequence number `n` is sealed record `n - 1`, so the log's size is
//! the number of sealed events and no other bookkeeping is needed.

use crate::authz::{Cap, perm};
use crate::error::{ServiceError, ServiceResult};
use crate::{ClientInfo, Services};
use mamori_domain::period::Period;
use mamori_seal::{SealError, SealOptions, SealedLog, VerifyError, VerifyKind, verify_bundle};
use mamori_storage::seal::{self as store_seal, VerificationRow};
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The daily verification runs when the last one (by anyone) is this old.
pub const DAILY_VERIFICATION_MS: i64 = 86_400_000;
/// … and not before this long after start-up, so that a start is not slowed down.
pub const VERIFICATION_START_DELAY_MS: i64 = 10 * 60_000;

/// The sealed log of one installation.
#[derive(Debug, Clone)]
pub struct Sealer {
    log: Arc<Mutex<Option<OpenLog>>>,
    /// Held while pending audit events are appended, so that two callers (the server's loop and
    /// a request) never append the same events twice.
    pending: Arc<tokio::sync::Mutex<()>>,
}

/// The open log with the lock file that keeps other processes out until it is closed.
#[derive(Debug)]
struct OpenLog {
    log: SealedLog,
    _lock: std::fs::File,
}

/// What the seal page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealStatus {
    /// Records sealed.
    pub sealed: u64,
    /// Audit events not yet sealed.
    pub pending: i64,
    /// Latest signed head: (size, signed at ms, root hex).
    pub head: Option<(u64, i64, String)>,
    pub public_key_hex: String,
    pub fingerprint: String,
    /// The audit trail and the sealed log disagree (e.g. the database was restored alone).
    pub diverged: bool,
}

fn seal_err(e: mamori_seal::SealError) -> ServiceError {
    ServiceError::Internal(format!("{} {e}", e.code()))
}

impl Sealer {
    /// Opens (or creates) the sealed log in `dir`.
    /// Fails with `SEA0002` when another process (a running server) has it open.
    pub fn open(dir: &Path) -> ServiceResult<Sealer> {
        Self::open_with(dir, SealOptions::default())
    }

    /// Opens with explicit options (segment size, head interval).
    pub fn open_with(dir: &Path, opts: SealOptions) -> ServiceResult<Sealer> {
        std::fs::create_dir_all(dir)
            .map_err(|e| ServiceError::Internal(format!("{}: {e}", dir.display())))?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(".lock"))
            .map_err(|e| ServiceError::Internal(format!("{}: {e}", dir.display())))?;
        if lock.try_lock().is_err() {
            return Err(ServiceError::Invalid {
                code: "SEA0002",
                field: "seal",
            });
        }
        let (log, report) = SealedLog::open(dir, opts).map_err(seal_err)?;
        tracing::info!(?report, "sealed log opened");
        Ok(Sealer {
            log: Arc::new(Mutex::new(Some(OpenLog { log, _lock: lock }))),
            pending: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// The fingerprint of the signing key, as written down on paper.
    pub fn fingerprint(&self) -> ServiceResult<String> {
        self.with(|log| Ok(log.public_key().fingerprint()))
    }

    fn with<T>(&self, f: impl FnOnce(&mut SealedLog) -> ServiceResult<T>) -> ServiceResult<T> {
        let mut guard = self
            .log
            .lock()
            .map_err(|_| ServiceError::Internal("sealed log lock poisoned".into()))?;
        match guard.as_mut() {
            Some(open) => f(&mut open.log),
            None => Err(ServiceError::Internal("sealed log closed".into())),
        }
    }

    /// Signs a final head and closes the log (at shutdown).
    pub fn close(&self, now_ms: i64) -> ServiceResult<()> {
        let mut guard = self
            .log
            .lock()
            .map_err(|_| ServiceError::Internal("sealed log lock poisoned".into()))?;
        if let Some(open) = guard.take() {
            open.log.close(now_ms).map_err(seal_err)?;
        }
        Ok(())
    }

    /// Writes records `[from, to)` as a bundle.
    pub fn export<W: std::io::Write>(&self, from: u64, to: u64, out: W) -> ServiceResult<u64> {
        self.with(|log| log.export(from..to, out).map_err(seal_err))
    }

    pub fn size(&self) -> ServiceResult<u64> {
        self.with(|log| Ok(log.size()))
    }

    /// The first record still stored (records before it were pruned by retention).
    pub fn first_index(&self) -> ServiceResult<u64> {
        self.with(|log| Ok(log.first_index()))
    }

    /// The payloads of records `[from, to)`, read under one lock.
    pub fn payloads(&self, from: u64, to: u64) -> ServiceResult<Vec<Vec<u8>>> {
        self.with(|log| {
            let mut out = Vec::new();
            log.read_range(from..to, |_, r| out.push(r.payload))
                .map_err(seal_err)?;
            Ok(out)
        })
    }

    /// Appends `payloads` received at `now_ms` as one batch, durable (fsynced) when this
    /// returns; their record indices.
    pub fn append(&self, now_ms: i64, payloads: &[&[u8]]) -> ServiceResult<std::ops::Range<u64>> {
        self.with(|log| log.append_batch(now_ms, payloads).map_err(seal_err))
    }

    /// The payload of record `index`.
    pub fn payload(&self, index: u64) -> ServiceResult<Vec<u8>> {
        self.with(|log| log.read(index).map(|r| r.payload).map_err(seal_err))
    }

    /// Exports every stored record and verifies the bundle as an inspector would, with the log's
    /// own key. The bundle streams through a pipe from the exporting thread to the verifying
    /// one, so memory stays flat however large the log is.
    fn verify_all(&self, now_ms: i64) -> ServiceResult<Checked> {
        self.with(|log| {
            // Everything stored is covered by a signed head (an empty log by a head of size 0).
            if log.signed_head().map(|h| h.tree_size) != Some(log.size()) {
                log.sign_head(now_ms).map_err(seal_err)?;
            }
            let range = log.first_index()..log.size();
            let key = log.public_key().0;
            let (reader, writer) =
                std::io::pipe().map_err(|e| ServiceError::Internal(format!("pipe: {e}")))?;
            let log: &SealedLog = log;
            let (exported, verified) = std::thread::scope(|scope| {
                let verifier =
                    scope.spawn(move || verify_bundle(std::io::BufReader::new(reader), Some(key)));
                let exported = log.export(range.clone(), writer);
                let verified = verifier.join().unwrap_or_else(|_| {
                    Err(VerifyError {
                        kind: VerifyKind::Io,
                        first_bad_index: None,
                        detail: "the verifier stopped".into(),
                    })
                });
                (exported, verified)
            });
            Ok(Checked::judge(range, exported, verified))
        })
    }
}

/// The outcome of one verification, before it is recorded.
#[derive(Debug)]
struct Checked {
    range: Range<u64>,
    ok: bool,
    bad_index: Option<u64>,
    code: &'static str,
    reason: String,
}

impl Checked {
    /// The verifier's verdict wins, unless the export itself failed first (then the bundle it
    /// saw was cut short, and the export's error says why).
    fn judge(
        range: Range<u64>,
        exported: Result<u64, SealError>,
        verified: Result<mamori_seal::VerifyReport, VerifyError>,
    ) -> Checked {
        let fail = |bad_index, code, reason| Checked {
            range: range.clone(),
            ok: false,
            bad_index,
            code,
            reason,
        };
        match (exported, verified) {
            (Ok(_), Ok(_)) => Checked {
                range: range.clone(),
                ok: true,
                bad_index: None,
                code: "",
                reason: String::new(),
            },
            (Err(e), Err(v)) if matches!(v.kind, VerifyKind::Truncated | VerifyKind::Io) => {
                let index = match &e {
                    SealError::Damaged { index, .. } | SealError::Pruned { index, .. } => {
                        Some(*index)
                    }
                    _ => v.first_bad_index,
                };
                fail(index, e.code(), e.to_string())
            }
            (_, Err(v)) => fail(v.first_bad_index, v.kind.code(), v.to_string()),
            (Err(e), Ok(_)) => fail(None, e.code(), e.to_string()),
        }
    }
}

/// Who asked for a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyTrigger {
    /// A person pressed "verify now".
    Manual,
    /// The server's daily check.
    Scheduled,
}

impl VerifyTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyTrigger::Manual => "manual",
            VerifyTrigger::Scheduled => "scheduled",
        }
    }
}

/// A recorded verification of the sealed log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub at_ms: i64,
    /// A user's label (`user:<id>:<login>`) or `system`.
    pub actor: String,
    pub trigger: VerifyTrigger,
    /// Records `[first_index, tree_size)` were checked.
    pub first_index: u64,
    pub tree_size: u64,
    pub ok: bool,
    pub bad_index: Option<u64>,
    /// The verifier's code (`SEAL0105` …), empty when it passed.
    pub code: String,
    pub reason: String,
    pub duration_ms: i64,
}

impl Verification {
    /// Records checked.
    pub fn records(&self) -> u64 {
        self.tree_size.saturating_sub(self.first_index)
    }

    /// The login id of the person who verified, or `None` for the daily check.
    pub fn login(&self) -> Option<&str> {
        match self.trigger {
            VerifyTrigger::Scheduled => None,
            VerifyTrigger::Manual => Some(
                self.actor
                    .strip_prefix("user:")
                    .and_then(|r| r.split_once(':'))
                    .map_or(self.actor.as_str(), |(_, login)| login),
            ),
        }
    }

    fn of_row(r: VerificationRow) -> Verification {
        let to_u64 = |v: i64| u64::try_from(v).unwrap_or(0);
        Verification {
            at_ms: r.at_ms,
            actor: r.actor,
            trigger: if r.kind == "scheduled" {
                VerifyTrigger::Scheduled
            } else {
                VerifyTrigger::Manual
            },
            first_index: to_u64(r.first_index),
            tree_size: to_u64(r.tree_size),
            ok: r.ok,
            bad_index: r.bad_index.map(to_u64),
            code: r.code,
            reason: r.reason,
            duration_ms: r.duration_ms,
        }
    }
}

/// An inclusion proof of one sealed record against the latest signed head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    pub index: u64,
    pub tree_size: u64,
    pub leaf_hash: String,
    pub root: String,
    pub signed_at_ms: i64,
    pub signature: String,
    pub public_key: String,
    /// Sibling hashes, leaf to root (RFC 9162 §2.1.3).
    pub path: Vec<String>,
}

/// A consistency proof between two tree sizes (RFC 9162 §2.1.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    pub old_size: u64,
    pub new_size: u64,
    pub old_root: String,
    pub new_root: String,
    pub path: Vec<String>,
}

impl Services {
    /// Proves that sealed record `index` is in the log, against the latest signed head.
    pub async fn seal_inclusion(
        &self,
        _cap: &Cap<perm::ViewAudit>,
        index: u64,
    ) -> ServiceResult<InclusionProof> {
        let Some(sealer) = self.sealer.clone() else {
            return Err(ServiceError::NotFound);
        };
        sealer.with(|log| {
            let head = log.signed_head().ok_or(ServiceError::NotFound)?;
            if index >= head.tree_size {
                return Err(ServiceError::NotFound);
            }
            let path = log
                .inclusion_proof(index, head.tree_size)
                .map_err(seal_err)?;
            Ok(InclusionProof {
                index,
                tree_size: head.tree_size,
                leaf_hash: hex::encode(log.leaf_hash(index).map_err(seal_err)?),
                root: hex::encode(head.root),
                signed_at_ms: head.signed_at_ms,
                signature: hex::encode(head.signature),
                public_key: log.public_key().hex(),
                path: path.iter().map(hex::encode).collect(),
            })
        })
    }

    /// Proves that the log at `old_size` is a prefix of the log at `new_size`.
    pub async fn seal_consistency(
        &self,
        _cap: &Cap<perm::ViewAudit>,
        old_size: u64,
        new_size: u64,
    ) -> ServiceResult<ConsistencyProof> {
        let Some(sealer) = self.sealer.clone() else {
            return Err(ServiceError::NotFound);
        };
        sealer.with(|log| {
            if old_size == 0 || old_size > new_size || new_size > log.size() {
                return Err(ServiceError::Invalid {
                    code: "SEA0001",
                    field: "size",
                });
            }
            Ok(ConsistencyProof {
                old_size,
                new_size,
                old_root: hex::encode(log.root_at(old_size).map_err(seal_err)?),
                new_root: hex::encode(log.root_at(new_size).map_err(seal_err)?),
                path: log
                    .consistency_proof(old_size, new_size)
                    .map_err(seal_err)?
                    .iter()
                    .map(hex::encode)
                    .collect(),
            })
        })
    }

    /// Appends every audit event not yet sealed, then signs a head when one is due.
    /// Returns the number of events sealed.
    pub async fn seal_pending(&self) -> ServiceResult<usize> {
        let Some(sealer) = self.sealer.clone() else {
            return Ok(0);
        };
        let _one_at_a_time = sealer.pending.lock().await;
        let mut total = 0;
        loop {
            let sealed = sealer.size()?;
            let count = u64::try_from(self.store.audit_count().await?).unwrap_or(0);
            if count <= sealed {
                break;
            }
            let from = i64::try_from(sealed).unwrap_or(i64::MAX) + 1;
            let batch = self.store.audit_range(from, 2000).await?;
            if batch.is_empty() {
                break;
            }
            let payloads: Vec<Vec<u8>> = batch.iter().map(|r| r.1.clone()).collect();
            let first = batch.first().map(|r| r.0).unwrap_or(from);
            if first != from {
                return Err(ServiceError::Internal(format!(
                    "audit trail has a gap before {first}"
                )));
            }
            let now = self.now_ms();
            let s2 = sealer.clone();
            let n = payloads.len();
            tokio::task::spawn_blocking(move || {
                s2.with(|log| {
                    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
                    log.append_batch(now, &refs).map_err(seal_err)?;
                    Ok(())
                })
            })
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))??;
            total += n;
        }
        let now = self.now_ms();
        sealer.with(|log| log.tick(now).map(|_| ()).map_err(seal_err))?;
        Ok(total)
    }

    /// Deletes sealed records older than `retention_days` (whole segments), leaving a signed
    /// deletion record; proofs of what remains stay valid. Returns the first record kept when
    /// something was deleted.
    pub async fn seal_retention(&self, retention_days: u32) -> ServiceResult<Option<u64>> {
        let Some(sealer) = self.sealer.clone() else {
            return Ok(None);
        };
        let now = self.now_ms();
        let retention_ms = i64::from(retention_days) * 86_400_000;
        let reason = format!("retention {retention_days} days");
        let deleted = sealer.with(|log| {
            log.prune_older_than(now, retention_ms, &reason)
                .map_err(seal_err)
        })?;
        let Some(d) = deleted else { return Ok(None) };
        let mut w = self.store.write().await?;
        self.audit(
            &mut w,
            "system",
            "local",
            "seal.pruned",
            "seal",
            serde_json::json!({"first_kept": d.first_kept, "retention_days": retention_days}),
        )
        .await?;
        w.commit().await?;
        Ok(Some(d.first_kept))
    }

    /// The seal page's facts.
    pub async fn seal_status(
        &self,
        _cap: &Cap<perm::ViewAudit>,
    ) -> ServiceResult<Option<SealStatus>> {
        let Some(sealer) = self.sealer.clone() else {
            return Ok(None);
        };
        let count = self.store.audit_count().await?;
        sealer
            .with(|log| {
                let sealed = log.size();
                let key = log.public_key();
                Ok(SealStatus {
                    sealed,
                    pending: count - i64::try_from(sealed).unwrap_or(i64::MAX),
                    head: log
                        .signed_head()
                        .map(|h| (h.tree_size, h.signed_at_ms, hex::encode(h.root))),
                    public_key_hex: key.hex(),
                    fingerprint: key.fingerprint(),
                    diverged: i64::try_from(sealed).unwrap_or(i64::MAX) > count,
                })
            })
            .map(Some)
    }

    /// Exports sealed records `[from, to)` (all that a signed head covers when `to` is `None`).
    pub async fn seal_export(
        &self,
        _cap: &Cap<perm::ViewAudit>,
        from: u64,
        to: Option<u64>,
    ) -> ServiceResult<Vec<u8>> {
        let Some(sealer) = self.sealer.clone() else {
            return Err(ServiceError::NotFound);
        };
        let now = self.now_ms();
        let end = sealer.with(|log| {
            // Make sure everything sealed so far is covered by a signed head.
            if log.signed_head().map(|h| h.tree_size) != Some(log.size()) && log.size() > 0 {
                log.sign_head(now).map_err(seal_err)?;
            }
            Ok(log.size())
        })?;
        let to = to.unwrap_or(end).min(end);
        if from > to {
            return Err(ServiceError::Invalid {
                code: "SEA0001",
                field: "from",
            });
        }
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            sealer.export(from, to, &mut out)?;
            Ok(out)
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
    }

    /// The records received in `period` as an index range, found by binary search over the log
    /// (records are appended in receive-time order). Fails with `SEA0005` when no stored record
    /// lies in the period.
    pub async fn seal_period_range(
        &self,
        _cap: &Cap<perm::ViewAudit>,
        period: Period,
    ) -> ServiceResult<Range<u64>> {
        let Some(sealer) = self.sealer.clone() else {
            return Err(ServiceError::NotFound);
        };
        let range = tokio::task::spawn_blocking(move || {
            sealer.with(|log| {
                let start = match period.from_ms {
                    Some(t) => log.index_at_time(t).map_err(seal_err)?,
                    None => log.first_index(),
                };
                let end = match period.until_ms {
                    Some(t) => log.index_at_time(t).map_err(seal_err)?,
                    None => log.size(),
                };
                Ok(start..end.max(start))
            })
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))??;
        if range.is_empty() {
            return Err(ServiceError::Invalid {
                code: "SEA0005",
                field: "period",
            });
        }
        Ok(range)
    }

    /// Verifies the whole sealed log now, as an inspector would (export with the facility's key,
    /// then the offline verifier), and records who did it and the result with one audit event.
    pub async fn seal_verify_now(
        &self,
        cap: &Cap<perm::ViewAudit>,
        client: &ClientInfo,
    ) -> ServiceResult<Verification> {
        self.seal_verify(&cap.actor().label(), &client.source, VerifyTrigger::Manual)
            .await
    }

    /// The daily verification: runs when the last verification (by anyone) is at least a day
    /// old, or there is none, and the server has been up for [`VERIFICATION_START_DELAY_MS`]
    /// since `started_ms`. Returns what ran and when to ask again.
    pub async fn seal_daily_verification(
        &self,
        started_ms: i64,
    ) -> ServiceResult<(Option<Verification>, i64)> {
        let Some(sealer) = self.sealer.clone() else {
            return Ok((None, i64::MAX));
        };
        let now = self.now_ms();
        if sealer.size()? == 0 {
            // Nothing sealed yet (not set up): nothing to verify; look again in a minute.
            return Ok((None, now.saturating_add(60_000)));
        }
        let not_before = started_ms.saturating_add(VERIFICATION_START_DELAY_MS);
        let due = match self.store.last_seal_verification().await? {
            Some(last) => last.at_ms.saturating_add(DAILY_VERIFICATION_MS),
            None => now,
        }
        .max(not_before);
        if now < due {
            return Ok((None, due));
        }
        let v = self
            .seal_verify("system", "local", VerifyTrigger::Scheduled)
            .await?;
        let next = v.at_ms.saturating_add(DAILY_VERIFICATION_MS);
        Ok((Some(v), next))
    }

    /// The last `limit` verifications, newest first.
    pub async fn seal_verifications(&self, limit: i64) -> ServiceResult<Vec<Verification>> {
        Ok(self
            .store
            .seal_verifications(limit)
            .await?
            .into_iter()
            .map(Verification::of_row)
            .collect())
    }

    async fn seal_verify(
        &self,
        actor: &str,
        source: &str,
        trigger: VerifyTrigger,
    ) -> ServiceResult<Verification> {
        let Some(sealer) = self.sealer.clone() else {
            return Err(ServiceError::NotFound);
        };
        self.seal_pending().await?;
        let started = self.now_ms();
        let checked = tokio::task::spawn_blocking(move || sealer.verify_all(started))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))??;
        let finished = self.now_ms();
        let to_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let row = VerificationRow {
            at_ms: finished,
            actor: actor.to_string(),
            kind: trigger.as_str().to_string(),
            first_index: to_i64(checked.range.start),
            tree_size: to_i64(checked.range.end),
            ok: checked.ok,
            bad_index: checked.bad_index.map(to_i64),
            code: checked.code.to_string(),
            reason: checked.reason.clone(),
            duration_ms: finished.saturating_sub(started),
        };
        let detail = if checked.ok {
            serde_json::json!({
                "trigger": trigger.as_str(),
                "first_index": checked.range.start,
                "tree_size": checked.range.end,
            })
        } else {
            serde_json::json!({
                "trigger": trigger.as_str(),
                "first_index": checked.range.start,
                "tree_size": checked.range.end,
                "first_bad_index": checked.bad_index,
                "code": checked.code,
                "reason": checked.reason,
            })
        };
        let mut w = self.store.write().await?;
        store_seal::insert_verification(&mut w, &row).await?;
        self.audit(
            &mut w,
            actor,
            source,
            if checked.ok {
                "seal.verified"
            } else {
                "seal.verify_failed"
            },
            "seal",
            detail,
        )
        .await?;
        w.commit().await?;
        if checked.ok {
            tracing::info!(
                records = row.tree_size - row.first_index,
                trigger = trigger.as_str(),
                "sealed log verified"
            );
        } else {
            tracing::error!(code = checked.code, first_bad_index = ?checked.bad_index, trigger = trigger.as_str(), "sealed log FAILED verification");
        }
        Ok(Verification::of_row(row))
    }
}
