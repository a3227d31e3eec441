//! The agent's work: enrolment, and the cycle that inventories the PC into the spool and
//! sends the spool to the server.
//!
//! - Inventory: a full one at the first cycle, once a day, and when the server asks; in between
//!   only the changes ([`diff`]) against what the server holds, named by its SHA-256.
//! - Upload: the spool's entries, oldest first, in pages of at most [`PAGE_ENTRIES`] entries and
//!   [`PAGE_BYTES`]; the server's acknowledgement (sent after its durable write) frees them.
//!   When the server is unreachable the entries wait, and the cycle says so.
//! - Policy: when the server's policy version is newer than the one in force (the upload's
//!   acknowledgement says, or a cycle with nothing to send asks), the agent fetches it,
//!   verifies it with the policy key it got at enrolment, and keeps it as the last good one.
//!   A version lower than the one in force is refused (no rollback).

use crate::enforce::lock;
use crate::inventory::{self, Root, diff};
use crate::spool::{self, Gap, Kind, Limits, Spool};
use crate::state::{self, Identity, Sent, StateDir, StateError};
use base64::Engine as _;
use mamori_client::{Client, ClientError};
use mamori_proto::agent::{
    DecisionRecord, EnrollmentToken, EntryBody, FileWrite, Inventory, Policy, PolicyBody,
    SignedPolicy, Upload, UploadEntry, inventory_sha256,
};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// How old the policy held may get before the agent asks for it again although its version
/// did not change.
pub const POLICY_REFRESH_MS: i64 = 24 * 60 * 60 * 1000;

/// A full inventory is sent at least this often.
pub const FULL_EVERY_MS: i64 = 24 * 3_600_000;
/// Entries per upload.
pub const PAGE_ENTRIES: usize = 500;
/// Bytes of entries per upload.
pub const PAGE_BYTES: usize = 8 * 1024 * 1024;
/// Bytes of entries in one export file (the server takes files up to 32 MiB).
pub const EXPORT_BYTES: usize = 24 * 1024 * 1024;

/// Why the agent could not do something.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("the enrolment token cannot be read (it starts with MMR1-)")]
    Token,
    #[error("this PC is already enrolled (agent {0}); remove the state directory to enrol again")]
    AlreadyEnrolled(i64),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("spool: {0}")]
    Spool(#[from] spool::SpoolError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Inventory(#[from] inventory::InventoryError),
    #[error("the stored key is damaged")]
    Key,
    #[error("unlock: {0}")]
    Unlock(String),
    #[error("USB control cannot start: {0}")]
    UsbControl(String),
    #[error("{path}: {detail}")]
    File { path: PathBuf, detail: String },
    #[error(
        "no offline enrolment is waiting: run `mamori-agent enroll --token … --offline-request FILE` first"
    )]
    NoPending,
    #[error(
        "this is a standalone PC (enrolled by file): it has no server to send to; use `mamori-agent export`"
    )]
    Standalone,
}

/// Enrols this PC with `server` using `token`: makes a key, presents it with the token, and
/// keeps the identity, the policy and the server's keys in `dir`.
pub fn enroll(
    dir: &StateDir,
    server: &str,
    token: &str,
    hostname: &str,
    machine_id: &str,
    now_ms: i64,
) -> Result<Identity, AgentError> {
    if dir.is_enrolled() {
        let id = dir.identity()?;
        return Err(AgentError::AlreadyEnrolled(id.agent_id));
    }
    let token = EnrollmentToken::parse(token).ok_or(AgentError::Token)?;
    let client = Client::new(server, token.pin, now_ms)?;
    let key = mamori_client::generate_key();
    let answer = client.enroll(
        &token.secret,
        &key,
        hostname,
        machine_id,
        env!("CARGO_PKG_VERSION"),
    )?;
    let id = Identity {
        agent_id: answer.agent_id,
        server: client.base().to_string(),
        pin: token.pin.map(|p| state::hex(&p)).unwrap_or_default(),
        key: B64.encode(key.to_bytes()),
        policy_key: answer.policy_key.clone(),
        unlock_secret: answer.unlock_secret.clone(),
        enrolled_ms: now_ms,
    };
    dir.create()?;
    dir.save_policy(&answer.policy)?;
    dir.save_identity(&id)?;
    Ok(id)
}

fn file_error(path: &std::path::Path, detail: impl std::fmt::Display) -> AgentError {
    AgentError::File {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

/// Reads a JSON file of the given `format`.
fn read_file<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
    format: &str,
    format_of: impl Fn(&T) -> &str,
) -> Result<T, AgentError> {
    let bytes = std::fs::read(path).map_err(|e| file_error(path, e))?;
    let value: T = serde_json::from_slice(&bytes)
        .map_err(|e| file_error(path, format!("not a mamori file ({e})")))?;
    if format_of(&value) != format {
        return Err(file_error(
            path,
            format!("not a {format} file (it is {})", format_of(&value)),
        ));
    }
    Ok(value)
}

/// Writes `bytes` to `path` (a new file, synced).
fn write_new(path: &std::path::Path, bytes: &[u8]) -> Result<(), AgentError> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| file_error(path, e))?;
    f.write_all(bytes).map_err(|e| file_error(path, e))?;
    f.sync_all().map_err(|e| file_error(path, e))
}

/// Offline enrolment, first half, for a PC that never reaches the server: makes the key and
/// writes the request to `out` for an administrator to take to the server (端末エージェント →
/// スタンドアロン端末).
pub fn enroll_offline_request(
    dir: &StateDir,
    token: &str,
    hostname: &str,
    machine_id: &str,
    out: &std::path::Path,
) -> Result<(), AgentError> {
    if dir.is_enrolled() {
        return Err(AgentError::AlreadyEnrolled(dir.identity()?.agent_id));
    }
    let token = EnrollmentToken::parse(token).ok_or(AgentError::Token)?;
    let key = mamori_client::generate_key();
    let request = mamori_proto::agent::OfflineRequest {
        format: mamori_proto::agent::FORMAT_OFFLINE_REQUEST.to_string(),
        request: mamori_client::enrollment_request(
            &token.secret,
            &key,
            hostname,
            machine_id,
            env!("CARGO_PKG_VERSION"),
        ),
    };
    let bytes = serde_json::to_vec_pretty(&request).map_err(|e| file_error(out, e))?;
    dir.create()?;
    dir.save_pending(&state::Pending {
        key: B64.encode(key.to_bytes()),
        hostname: hostname.to_string(),
    })?;
    write_new(out, &bytes)
}

/// Offline enrolment, second half: takes the server's answer file, checks that its policy
/// verifies with the key it brings, and keeps the identity (with no server).
pub fn enroll_offline_answer(
    dir: &StateDir,
    answer: &std::path::Path,
    now_ms: i64,
) -> Result<Identity, AgentError> {
    if dir.is_enrolled() {
        return Err(AgentError::AlreadyEnrolled(dir.identity()?.agent_id));
    }
    let pending = dir.pending()?.ok_or(AgentError::NoPending)?;
    let file: mamori_proto::agent::OfflineAnswer = read_file(
        answer,
        mamori_proto::agent::FORMAT_OFFLINE_ANSWER,
        |a: &mamori_proto::agent::OfflineAnswer| a.format.as_str(),
    )?;
    if file.hostname != pending.hostname {
        return Err(file_error(
            answer,
            format!(
                "this answer is for {}, not for this PC ({})",
                file.hostname, pending.hostname
            ),
        ));
    }
    mamori_client::verify_policy(&file.answer.policy_key, &file.answer.policy)?;
    let id = Identity {
        agent_id: file.answer.agent_id,
        server: String::new(),
        pin: String::new(),
        key: pending.key,
        policy_key: file.answer.policy_key.clone(),
        unlock_secret: file.answer.unlock_secret.clone(),
        enrolled_ms: now_ms,
    };
    dir.save_policy(&file.answer.policy)?;
    dir.save_identity(&id)?;
    dir.remove_pending()?;
    Ok(id)
}

/// What one cycle did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CycleReport {
    /// `full`, `diff` or `unchanged`.
    pub inventory: &'static str,
    /// Entries the server acknowledged in this cycle.
    pub sent: u64,
    /// Entries still waiting.
    pub waiting: u64,
    /// Why nothing could be sent (the server is unreachable …).
    pub offline: Option<String>,
    /// A newer policy came into force.
    pub policy_version: Option<u64>,
}

/// An enrolled agent with its spool open.
pub struct Agent {
    pub dir: StateDir,
    pub id: Identity,
    /// `None` on a standalone PC (enrolled by file).
    client: Option<Client>,
    signer: mamori_client::Identity,
    /// Shared with the USB control loop ([`crate::enforce`]), which logs its decisions to it.
    pub spool: Arc<Mutex<Spool>>,
    /// What reads the machine ([`inventory::LinuxInventory`] on Linux).
    pub source: Box<dyn inventory::InventorySource>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("agent_id", &self.id.agent_id)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// Opens the enrolled agent in `dir` (its spool recovered from any crash).
    pub fn open(dir: StateDir, root: Root, now_ms: i64) -> Result<Agent, AgentError> {
        let id = dir.identity()?;
        let secret: [u8; 32] = B64
            .decode(&id.key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(AgentError::Key)?;
        let signer = mamori_client::Identity::from_secret(id.agent_id, &secret);
        let client = if id.server.is_empty() {
            None
        } else {
            Some(Client::new(&id.server, id.pin_bytes(), now_ms)?)
        };
        // The certificates the last good policy names (the server's next one, before a
        // renewal) are trusted beside the one pinned at enrolment.
        if let (Some(c), Some((_, body))) = (&client, state::verified_policy(&dir, &id)) {
            c.trust(&body.server_pins);
        }
        let (spool, _) = Spool::open(&dir.spool_dir(), Limits::default())?;

        Ok(Agent {
            dir,
            id,
            client,
            signer,
            spool: Arc::new(Mutex::new(spool)),
            source: Box::new(inventory::LinuxInventory::new(root)),
        })
    }

    /// The policy in force: the last good one, or deny-all when there is none that verifies.
    pub fn policy(&self) -> (Policy, Option<PolicyBody>) {
        match state::verified_policy(&self.dir, &self.id) {
            Some((_, body)) => (body.usb.clone(), Some(body)),
            None => (Policy::fail_closed(), None),
        }
    }

    /// Logs a USB decision durably (before the device is made usable).
    pub fn record_device(&mut self, record: &DecisionRecord) -> Result<(), AgentError> {
        self.append(
            record.at_ms,
            &EntryBody::Device {
                record: record.clone(),
            },
        )
    }

    /// Logs a file written to removable media.
    pub fn record_file(&mut self, file: &FileWrite, at_ms: i64) -> Result<(), AgentError> {
        self.append(at_ms, &EntryBody::FileWritten { file: file.clone() })
    }

    fn append(&mut self, at_ms: i64, body: &EntryBody) -> Result<(), AgentError> {
        let payload = serde_json::to_vec(body).map_err(|e| StateError::Damaged {
            path: self.dir.spool_dir(),
            detail: e.to_string(),
        })?;
        let kind = match body {
            EntryBody::InventoryFull { .. } | EntryBody::InventoryDiff { .. } => Kind::Inventory,
            _ => Kind::Event,
        };
        lock(&self.spool).append(kind, at_ms, &payload)?;
        Ok(())
    }

    /// Reads the inventory and puts what the server needs into the spool: a full one when due,
    /// else the changes. Returns `full`, `diff` or `unchanged`.
    pub fn inventory_step(&mut self, now_ms: i64) -> Result<&'static str, AgentError> {
        let mut inv = self.source.collect()?;
        if let Some(server) = self.policy().1.and_then(|b| b.ntp_server) {
            inv.clock = Some(crate::clock::check(
                &server,
                std::time::Duration::from_secs(3),
            ));
        }
        self.put_inventory(inv, now_ms)
    }

    /// Puts `inv` into the spool as a full inventory or a diff (see [`Agent::inventory_step`]).
    pub fn put_inventory(
        &mut self,
        inv: Inventory,
        now_ms: i64,
    ) -> Result<&'static str, AgentError> {
        let sent = self.dir.sent()?;
        let full_due = sent.need_full || now_ms.saturating_sub(sent.full_ms) >= FULL_EVERY_MS;
        let what = match (&sent.inventory, full_due) {
            (Some(old), false) => {
                let d = diff(old, &inv);
                if d.is_empty() {
                    return Ok("unchanged");
                }
                let base = inventory_sha256(old);
                // What the server will hold: the old one with the diff applied.
                let next = inventory::apply(old, &d);
                self.append(
                    now_ms,
                    &EntryBody::InventoryDiff {
                        base,
                        diff: Box::new(d),
                    },
                )?;
                self.dir.save_sent(&Sent {
                    inventory: Some(next),
                    full_ms: sent.full_ms,
                    need_full: false,
                })?;
                "diff"
            }
            _ => {
                self.append(
                    now_ms,
                    &EntryBody::InventoryFull {
                        inventory: Box::new(inv.clone()),
                    },
                )?;
                self.dir.save_sent(&Sent {
                    inventory: Some(inv),
                    full_ms: now_ms,
                    need_full: false,
                })?;
                "full"
            }
        };
        Ok(what)
    }

    /// Sends the spool, page by page, until it is empty or the server cannot be reached.
    pub fn upload_step(&mut self, report: &mut CycleReport) -> Result<(), AgentError> {
        loop {
            let entries = lock(&self.spool).pending(PAGE_ENTRIES, PAGE_BYTES)?;
            if entries.is_empty() {
                break;
            }
            let upload = upload_of(&entries);
            let Some(client) = &self.client else {
                report.offline =
                    Some("standalone PC: carry the logs with `mamori-agent export`".into());
                break;
            };
            let ack = match client.upload(&self.signer, &upload) {
                Ok(a) => a,
                Err(e) if e.is_offline() => {
                    report.offline = Some(e.to_string());
                    break;
                }
                Err(e) => return Err(e.into()),
            };
            {
                let mut spool = lock(&self.spool);
                let before = spool.acked();
                spool.ack(ack.acked)?;
                report.sent += spool.acked().saturating_sub(before);
            }
            if ack.send_full_inventory {
                let mut s = self.dir.sent()?;
                if !s.need_full {
                    s.need_full = true;
                    self.dir.save_sent(&s)?;
                }
            }
            let current = self.policy().1.map(|b| b.version);
            if current.is_none_or(|v| ack.policy_version > v) {
                report.policy_version = self.refresh_policy()?;
            }
            if ack.acked < entries.last().map(|e| e.seq).unwrap_or(0) {
                // The server kept back part of the page; try again next cycle.
                break;
            }
        }
        report.waiting = lock(&self.spool).stats().1;
        Ok(())
    }

    /// Fetches the policy and keeps it when it verifies and is not older than the one in
    /// force. Returns the new version when it changed.
    pub fn refresh_policy(&mut self) -> Result<Option<u64>, AgentError> {
        let client = self.client.as_ref().ok_or(AgentError::Standalone)?;
        let (signed, body) = client.policy(&self.signer, &self.id.policy_key)?;
        self.adopt_policy(&signed, &body)
    }

    /// Keeps a verified policy unless it is older than the one in force.
    pub fn adopt_policy(
        &mut self,
        signed: &SignedPolicy,
        body: &PolicyBody,
    ) -> Result<Option<u64>, AgentError> {
        let current = self.policy().1;
        if current.as_ref().is_some_and(|c| body.version < c.version) {
            return Ok(None);
        }
        if current.as_ref().is_some_and(|c| c == body) {
            return Ok(None);
        }
        self.dir.save_policy(signed)?;
        if let Some(c) = &self.client {
            c.trust(&body.server_pins);
        }
        Ok(Some(body.version))
    }

    /// Writes the entries waiting in the spool to `out` as a signed export for an
    /// administrator to carry to the server: those not yet in an earlier file, or with `again`
    /// every one the server has not acknowledged (a file was lost). Nothing is freed here: the
    /// server's acknowledgement comes back in the next policy file ([`Agent::import_policy`]).
    /// Returns how many entries it holds.
    pub fn export(
        &mut self,
        out: &std::path::Path,
        now_ms: i64,
        again: bool,
    ) -> Result<u64, AgentError> {
        let after = if again { 0 } else { self.dir.exported()? };
        let entries = lock(&self.spool).pending_after(after, usize::MAX, EXPORT_BYTES)?;
        let upload = upload_of(&entries);
        let body = serde_json::to_string(&upload).map_err(|e| file_error(out, e))?;
        // Like a request's: larger than any nonce this agent used (microseconds of the clock).
        let nonce = u64::try_from(now_ms).unwrap_or(0).saturating_mul(1000);
        let file = mamori_proto::agent::ExportFile {
            format: mamori_proto::agent::FORMAT_EXPORT.to_string(),
            agent_id: self.id.agent_id,
            hostname: self
                .dir
                .sent()
                .ok()
                .and_then(|s| s.inventory)
                .map(|i| i.hostname)
                .unwrap_or_default(),
            exported_ms: now_ms,
            entries: entries.len() as u64,
            nonce,
            signature: mamori_client::sign_export(&self.signer, body.as_bytes(), nonce),
            body,
        };
        let bytes = serde_json::to_vec(&file).map_err(|e| file_error(out, e))?;
        write_new(out, &bytes)?;
        if let Some(last) = entries.last() {
            self.dir.save_exported(last.seq.max(after))?;
        }
        Ok(entries.len() as u64)
    }

    /// Takes a policy file made for this PC on the server: verified with the policy key from
    /// enrolment, and kept unless older than the one in force. Returns the new version.
    pub fn import_policy(&mut self, path: &std::path::Path) -> Result<Option<u64>, AgentError> {
        let file: mamori_proto::agent::PolicyFile = read_file(
            path,
            mamori_proto::agent::FORMAT_POLICY_FILE,
            |p: &mamori_proto::agent::PolicyFile| p.format.as_str(),
        )?;
        if file.agent_id != self.id.agent_id {
            return Err(file_error(
                path,
                format!(
                    "this policy is for agent #{}, this PC is #{}",
                    file.agent_id, self.id.agent_id
                ),
            ));
        }
        let body = mamori_client::verify_policy(&self.id.policy_key, &file.policy)?;
        if body.agent_id.is_some_and(|a| a != self.id.agent_id) {
            return Err(file_error(path, "the signed policy names another agent"));
        }
        // The server's acknowledgement of the files carried so far: those entries are freed.
        if let (Some(acked), Some(_)) = (body.acked_seq, body.agent_id) {
            let mut spool = lock(&self.spool);
            let upto = acked.min(spool.last_seq());
            spool.ack(upto)?;
        }
        self.adopt_policy(&file.policy, &body)
    }

    /// One cycle: inventory, then upload.
    pub fn cycle(&mut self, now_ms: i64) -> Result<CycleReport, AgentError> {
        let mut report = CycleReport {
            inventory: self.inventory_step(now_ms)?,
            ..CycleReport::default()
        };
        self.upload_step(&mut report)?;
        // Nothing to send means no acknowledgement to learn a new policy version from: ask.
        // Ask also when the policy held is a day old: what comes with it besides the rules
        // (the server's next certificate before a renewal) does not change the version.
        let stale = self
            .policy()
            .1
            .is_none_or(|b| now_ms.saturating_sub(b.issued_ms) >= POLICY_REFRESH_MS);
        if (report.sent == 0 || stale) && report.offline.is_none() && self.client.is_some() {
            match self.refresh_policy() {
                Ok(v) => report.policy_version = report.policy_version.or(v),
                Err(AgentError::Client(e)) if e.is_offline() => {
                    report.offline = Some(e.to_string());
                }
                Err(e) => return Err(e),
            }
        }
        // A full inventory the server asked for goes at once rather than a cycle later.
        if self.dir.sent()?.need_full && report.offline.is_none() {
            report.inventory = self.inventory_step(now_ms)?;
            self.upload_step(&mut report)?;
        }
        Ok(report)
    }
}

/// Spool entries as the body of an upload.
fn upload_of(entries: &[spool::Entry]) -> Upload {
    Upload {
        entries: entries
            .iter()
            .map(|e| UploadEntry {
                seq: e.seq,
                at_ms: e.at_ms,
                body: body_of(e),
            })
            .collect(),
    }
}

/// A spool entry as the wire carries it. A gap entry's payload is the spool's own record; an
/// entry that does not read (it cannot after the CRC, but never trust that) is reported as lost.
fn body_of(e: &spool::Entry) -> EntryBody {
    let lost = |g: Gap| EntryBody::Gap {
        dropped: g.dropped,
        first_ms: g.first_ms,
        last_ms: g.last_ms,
    };
    match e.kind {
        Kind::Gap => lost(Gap::parse(&e.payload).unwrap_or(Gap {
            dropped: 1,
            first_ms: e.at_ms,
            last_ms: e.at_ms,
        })),
        _ => serde_json::from_slice(&e.payload).unwrap_or_else(|_| {
            lost(Gap {
                dropped: 1,
                first_ms: e.at_ms,
                last_ms: e.at_ms,
            })
        }),
    }
}
