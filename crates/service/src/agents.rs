//! Endpoint agents (`mamori-agent`): enrolment with a one-time token, requests signed with the
//! agent's key, uploads of its spool (inventory into the agent's record, USB decisions and files
//! written to media into the sealed event log), the signed policy, and the agent's place in the
//! ledger (tied to an asset, or an unknown device).
//!
//! Upload order: the events are sealed and indexed first (durable), then the inventory and the
//! spool position commit together. A crash between the two sends the events again; each event
//! carries the agent's sequence number (`agent_seq`), so a repeat is recognisable.

use crate::authz::{Cap, perm};
use crate::collect::{Collected, Collector, SourceKind};
use crate::error::{ServiceError, ServiceResult};
use crate::ledger::insert_with_history;
use crate::{ClientInfo, Services};
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use mamori_domain::event::{Action, LogEvent, Outcome, Severity};
use mamori_domain::ledger::{Asset, AssetClass};
use mamori_domain::registry::Record;
use mamori_domain::service_baseline::{self, Port, ServiceBaseline};
use mamori_proto::agent::{
    self as wire, EnrollRequest, EnrollResponse, EntryBody, Inventory, Mode, Policy, PolicyBody,
    SignedPolicy, Upload, UploadAck,
};
use mamori_storage::agents::{self as store_agents, AgentRow, EnrollmentRow, NewAgent};
use mamori_storage::registry as store_registry;
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// How long an enrolment token can be used.
pub const ENROLLMENT_VALID_MS: i64 = 24 * 3_600_000;
/// Entries one upload may carry.
pub const MAX_UPLOAD_ENTRIES: usize = 5_000;
/// An agent unheard for this long is silent (a finding).
pub const SILENT_AFTER_MS: i64 = 7 * 24 * 3_600_000;

/// Why a signed request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentRefusal {
    /// No such agent, or a signature that does not verify (`AGT0020`).
    Unauthenticated,
    /// The agent was revoked (`AGT0021`).
    Revoked,
    /// The nonce is not larger than the last one taken (`AGT0022`); the next one it may use.
    StaleNonce { next: i64 },
}

impl AgentRefusal {
    pub fn code(self) -> &'static str {
        match self {
            AgentRefusal::Unauthenticated => "AGT0020",
            AgentRefusal::Revoked => "AGT0021",
            AgentRefusal::StaleNonce { .. } => "AGT0022",
        }
    }
}

/// What the agent list shows of one agent (from its row and summary).
#[derive(Debug, Clone)]
pub struct AgentView {
    pub row: AgentRow,
    pub summary: Summary,
    /// The ledger asset's tag and name.
    pub asset: Option<(String, String)>,
    pub silent: bool,
}

/// The few facts of an inventory the list shows, kept beside it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub vendor: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub serial: String,
    /// `None`: unknown (no security index on the PC).
    #[serde(default)]
    pub pending_updates: Option<usize>,
    #[serde(default)]
    pub disks: usize,
    #[serde(default)]
    pub unencrypted_disks: usize,
    #[serde(default)]
    pub usb_devices: usize,
    #[serde(default)]
    pub listening: usize,
    #[serde(default)]
    pub packages: usize,
    #[serde(default)]
    pub clock_offset_ms: Option<i64>,
    /// Ports listening for the network (`tcp/22`; loopback-only sockets left out), each once.
    #[serde(default)]
    pub ports: Vec<String>,
    /// Services running or started at boot ([`background_services`]).
    #[serde(default)]
    pub services: Vec<String>,
}

impl Summary {
    pub fn of(inv: &Inventory) -> Summary {
        let fixed: Vec<_> = inv.disks.iter().filter(|d| !d.removable).collect();
        Summary {
            os: inv.os.name.clone(),
            vendor: inv.hardware.vendor.clone(),
            model: inv.hardware.model.clone(),
            serial: inv.hardware.serial.clone(),
            pending_updates: inv.pending_security_updates.as_ref().map(Vec::len),
            disks: fixed.len(),
            unencrypted_disks: fixed.iter().filter(|d| !d.encrypted).count(),
            usb_devices: inv.usb_devices.len(),
            listening: inv.listening.len(),
            packages: inv.packages.len(),
            clock_offset_ms: inv.clock.as_ref().and_then(|c| c.offset_ms),
            ports: network_ports(inv).iter().map(Port::text).collect(),
            services: background_services(inv),
        }
    }

    /// The ports again as the baseline compares them.
    pub fn port_list(&self) -> Vec<Port> {
        self.ports
            .iter()
            .filter_map(|p| {
                let (proto, n) = p.split_once('/')?;
                Some(Port {
                    proto: proto.to_string(),
                    port: n.parse().ok()?,
                })
            })
            .collect()
    }
}

/// The services that run in the background: those running now and those enabled to start at
/// boot (stopped now, running after the next restart), each once, sorted.
pub fn background_services(inv: &Inventory) -> Vec<String> {
    let mut all: Vec<String> = inv
        .running_services
        .iter()
        .chain(inv.enabled_services.iter())
        .filter(|s| s.ends_with(".service"))
        .cloned()
        .collect();
    all.sort();
    all.dedup();
    all
}

/// The ports `inv` listens on that the network can reach, each protocol/port once.
pub fn network_ports(inv: &Inventory) -> Vec<Port> {
    let mut out: Vec<Port> = inv
        .listening
        .iter()
        .filter(|l| !service_baseline::loopback(&l.address))
        .map(|l| Port {
            proto: l.proto.clone(),
            port: l.port,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The enrolment page's list of tokens, with whether each can still be used.
#[derive(Debug, Clone)]
pub struct EnrollmentView {
    pub row: EnrollmentRow,
    pub usable: bool,
}

/// The policy every PC gets until someone sets one: storage, optical drives, phones and
/// Bluetooth blocked; other devices (printers, card readers of the 資格確認端末 …) allowed.
pub fn default_policy() -> Policy {
    Policy {
        mass_storage: Mode::Deny,
        optical: Mode::Deny,
        phone: Mode::Deny,
        bluetooth: Mode::Deny,
        other: Mode::Allow,
        exceptions: Vec::new(),
        encrypted_only: false,
    }
}

fn invalid(code: &'static str, field: &'static str) -> ServiceError {
    ServiceError::Invalid { code, field }
}

/// PC groups as typed: one per line, trimmed, without blanks or repeats.
fn parse_groups(text: &str) -> ServiceResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for g in text.lines().map(str::trim).filter(|g| !g.is_empty()) {
        if g.chars().count() > 40 || g.chars().any(char::is_control) {
            return Err(invalid("AGT0002", "groups"));
        }
        if !out.iter().any(|x| x == g) {
            out.push(g.to_string());
        }
    }
    if out.len() > 20 {
        return Err(invalid("AGT0002", "groups"));
    }
    Ok(out)
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn decode_key(b64: &str) -> Option<VerifyingKey> {
    let b = B64.decode(b64.trim()).ok()?;
    VerifyingKey::from_bytes(&<[u8; 32]>::try_from(b.as_slice()).ok()?).ok()
}

fn decode_sig(b64: &str) -> Option<Signature> {
    let b = B64.decode(b64.trim()).ok()?;
    Some(Signature::from_bytes(
        &<[u8; 64]>::try_from(b.as_slice()).ok()?,
    ))
}

fn plain(text: &str, max: usize) -> bool {
    text.chars().count() <= max && !text.chars().any(char::is_control)
}

/// An enrolment request that reads: a plain host name and ids, and proof that the PC holds
/// the key it presents (checked before the write is taken).
fn check_enrollment(req: &EnrollRequest) -> ServiceResult<()> {
    let hostname = req.hostname.trim();
    if hostname.is_empty() || !plain(hostname, 253) {
        return Err(invalid("AGT0010", "hostname"));
    }
    if !plain(&req.machine_id, 64) || !plain(&req.agent_version, 32) {
        return Err(invalid("AGT0010", "machine_id"));
    }
    let public = decode_key(&req.public_key).ok_or(invalid("AGT0011", "public_key"))?;
    let proof = decode_sig(&req.proof).ok_or(invalid("AGT0012", "proof"))?;
    public
        .verify_strict(
            &wire::enrollment_message(&req.token, &req.public_key),
            &proof,
        )
        .map_err(|_| invalid("AGT0012", "proof"))
}

/// The public half of the policy key, base64: what agents verify policies with.
pub fn policy_key_b64(key: &SigningKey) -> String {
    B64.encode(key.verifying_key().as_bytes())
}

/// What signs the agents' policies (`DATA/agent-policy.key`), and the certificates (SHA-256,
/// hex) the server may present to them: the one in use and, before a renewal, the next one.
pub struct PolicySigner {
    pub key: SigningKey,
    pub pins: Vec<String>,
}

impl std::fmt::Debug for PolicySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySigner")
            .field("pins", &self.pins)
            .finish_non_exhaustive()
    }
}

/// Signs a policy body.
pub fn sign_policy(key: &SigningKey, body: &PolicyBody) -> ServiceResult<SignedPolicy> {
    let text = serde_json::to_string(body).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let signature = B64.encode(key.sign(&wire::policy_message(&text)).to_bytes());
    Ok(SignedPolicy {
        body: text,
        signature,
    })
}

impl Services {
    /// Makes a one-time enrolment token (valid for a day); returns it, shown once. `pin` is the
    /// SHA-256 of the server's certificate, which the token carries for the agent to pin.
    pub async fn create_agent_enrollment(
        &self,
        cap: &Cap<perm::ManageAgents>,
        note: &str,
        groups: &str,
        pin: Option<[u8; 32]>,
        client: &ClientInfo,
    ) -> ServiceResult<String> {
        let note = note.trim();
        if !plain(note, 100) {
            return Err(invalid("AGT0001", "note"));
        }
        let groups = parse_groups(groups)?;
        let mut secret = [0u8; 20];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let token = wire::EnrollmentToken {
            secret: data_encoding::BASE32_NOPAD.encode(&secret),
            pin,
        };
        let now = self.now_ms();
        let actor = cap.actor().label();
        let mut w = self.store.write().await?;
        let id = store_agents::insert_enrollment(
            &mut w,
            &sha256_hex(token.secret.as_bytes()),
            note,
            &groups.join("\n"),
            now,
            &actor,
            now + ENROLLMENT_VALID_MS,
        )
        .await?;
        self.audit(
            &mut w,
            &actor,
            &client.source,
            "agents.enrollment_created",
            &format!("agent_enrollment:{id}"),
            json!({ "note": note, "groups": groups, "expires_ms": now + ENROLLMENT_VALID_MS }),
        )
        .await?;
        w.commit().await?;
        Ok(token.to_string())
    }

    /// Withdraws an unused token.
    pub async fn withdraw_agent_enrollment(
        &self,
        cap: &Cap<perm::ManageAgents>,
        id: i64,
        client: &ClientInfo,
    ) -> ServiceResult<()> {
        let actor = cap.actor().label();
        let mut w = self.store.write().await?;
        if !store_agents::withdraw_enrollment(&mut w, id, self.now_ms()).await? {
            return Err(invalid("AGT0003", "id"));
        }
        self.audit(
            &mut w,
            &actor,
            &client.source,
            "agents.enrollment_withdrawn",
            &format!("agent_enrollment:{id}"),
            json!({}),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Enrols a PC: checks the token (known, unused, not expired) and that the agent holds the
    /// key it presents, records the agent and uses the token up, in one transaction.
    pub async fn enroll_agent(
        &self,
        key: &PolicySigner,
        req: &EnrollRequest,
        peer: &str,
    ) -> ServiceResult<EnrollResponse> {
        check_enrollment(req)?;
        let mut w = self.store.write().await?;
        let answer = self.enroll_agent_in(&mut w, key, req, peer).await?;
        w.commit().await?;
        Ok(answer)
    }

    /// [`Services::enroll_agent`] inside the write `w` (committed by the caller, with whatever
    /// else belongs to the same enrolment); `req` was checked ([`check_enrollment`]).
    async fn enroll_agent_in(
        &self,
        w: &mut mamori_storage::WriteTx,
        key: &PolicySigner,
        req: &EnrollRequest,
        peer: &str,
    ) -> ServiceResult<EnrollResponse> {
        let hostname = req.hostname.trim();
        let now = self.now_ms();
        let Some(token) =
            store_agents::enrollment_by_hash(w, &sha256_hex(req.token.trim().as_bytes())).await?
        else {
            return Err(invalid("AGT0013", "token"));
        };
        if token.used_ms.is_some() {
            return Err(invalid("AGT0014", "token"));
        }
        if token.expires_ms <= now {
            return Err(invalid("AGT0015", "token"));
        }
        let mut unlock = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut unlock);
        let unlock_secret = B64.encode(unlock);
        let agent_id = match store_agents::insert_agent(
            w,
            &NewAgent {
                hostname,
                machine_id: req.machine_id.trim(),
                public_key: req.public_key.trim(),
                agent_version: req.agent_version.trim(),
                groups: &token.groups,
                note: &token.note,
                unlock_secret: &unlock_secret,
                enrolled_ms: now,
                enrollment_id: token.id,
                peer,
            },
        )
        .await
        {
            Err(e) if e.is_unique_violation() => {
                return Err(invalid("AGT0016", "public_key"));
            }
            other => other?,
        };
        if !store_agents::claim_enrollment(w, token.id, agent_id, now).await? {
            return Err(invalid("AGT0014", "token"));
        }
        let policy = self
            .policy_for(w, key, agent_id, &token.groups, None, now)
            .await?;
        self.audit(
            w,
            &format!("agent:{agent_id}:{hostname}"),
            peer,
            "agents.enrolled",
            &format!("agent:{agent_id}"),
            json!({ "hostname": hostname, "machine_id": req.machine_id.trim(),
                    "enrollment": token.id, "created_by": token.created_by }),
        )
        .await?;
        Ok(EnrollResponse {
            agent_id,
            policy_key: policy_key_b64(&key.key),
            unlock_secret,
            policy,
        })
    }

    async fn policy_for(
        &self,
        w: &mut mamori_storage::Tx,
        key: &PolicySigner,
        agent_id: i64,
        groups: &str,
        acked_seq: Option<u64>,
        now: i64,
    ) -> ServiceResult<SignedPolicy> {
        let (usb, version, ntp) = match store_agents::policy_in(w).await? {
            Some(p) => (
                serde_json::from_str(&p.usb).map_err(|e| ServiceError::Internal(e.to_string()))?,
                p.version,
                p.ntp_server,
            ),
            None => (default_policy(), 0, String::new()),
        };
        sign_policy(
            &key.key,
            &PolicyBody {
                version: u64::try_from(version).unwrap_or(0),
                agent_id: Some(agent_id),
                issued_ms: now,
                groups: groups.lines().map(str::to_string).collect(),
                usb,
                ntp_server: Some(ntp).filter(|n| !n.is_empty()),
                acked_seq,
                server_pins: key.pins.clone(),
            },
        )
    }

    /// The enrolled, not revoked agent whose key signed `method path nonce body`; the nonce is
    /// not taken (see [`Services::authenticate_agent`] for requests, which must also be fresh).
    async fn verify_agent_signature(
        &self,
        agent_id: i64,
        nonce: u64,
        signature: &str,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> ServiceResult<Result<AgentRow, AgentRefusal>> {
        let Some(agent) = self.store.agent(agent_id).await? else {
            return Ok(Err(AgentRefusal::Unauthenticated));
        };
        let (Some(key), Some(sig)) = (decode_key(&agent.public_key), decode_sig(signature)) else {
            return Ok(Err(AgentRefusal::Unauthenticated));
        };
        let message = wire::signing_message(method, path, agent_id, nonce, body);
        if key.verify_strict(&message, &sig).is_err() {
            return Ok(Err(AgentRefusal::Unauthenticated));
        }
        if agent.revoked_ms.is_some() {
            return Ok(Err(AgentRefusal::Revoked));
        }
        Ok(Ok(agent))
    }

    /// Checks a signed request: a known, unrevoked agent, a signature of
    /// [`wire::signing_message`] by its key, and a nonce larger than any before (taken here).
    #[allow(clippy::too_many_arguments)]
    pub async fn authenticate_agent(
        &self,
        agent_id: i64,
        nonce: u64,
        signature: &str,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> ServiceResult<Result<AgentRow, AgentRefusal>> {
        let agent = match self
            .verify_agent_signature(agent_id, nonce, signature, method, path, body)
            .await?
        {
            Ok(a) => a,
            Err(r) => return Ok(Err(r)),
        };
        let Ok(nonce) = i64::try_from(nonce) else {
            return Ok(Err(AgentRefusal::Unauthenticated));
        };
        let mut w = self.store.write().await?;
        if !store_agents::take_nonce(&mut w, agent_id, nonce).await? {
            let postgres = self.store.backend() == mamori_storage::Backend::Postgres;
            let last = store_agents::agent_for_update(&mut w, agent_id, postgres)
                .await?
                .map(|a| a.last_nonce)
                .unwrap_or(0);
            return Ok(Err(AgentRefusal::StaleNonce {
                next: last.saturating_add(1),
            }));
        }
        w.commit().await?;
        Ok(Ok(agent))
    }

    /// The newest policy for `agent`, signed.
    pub async fn agent_policy(
        &self,
        key: &PolicySigner,
        agent: &AgentRow,
        peer: &str,
    ) -> ServiceResult<SignedPolicy> {
        let now = self.now_ms();
        let mut w = self.store.write().await?;
        store_agents::touch(&mut w, agent.id, now, peer).await?;
        let p = self
            .policy_for(&mut w, key, agent.id, &agent.groups, None, now)
            .await?;
        w.commit().await?;
        Ok(p)
    }

    /// Stores an upload: device events into the sealed event log (through `collector` when the
    /// server runs one), then the inventory and the spool position in one transaction. Entries
    /// at or below the position already stored are skipped.
    pub async fn agent_upload(
        &self,
        agent: &AgentRow,
        upload: &Upload,
        peer: &str,
        collector: Option<&Collector>,
    ) -> ServiceResult<UploadAck> {
        if upload.entries.len() > MAX_UPLOAD_ENTRIES {
            return Err(invalid("AGT0030", "entries"));
        }
        let now = self.now_ms();
        let from = u64::try_from(agent.acked_seq).unwrap_or(0);
        let mut last = from;
        for e in &upload.entries {
            if e.seq <= last && e.seq > from {
                return Err(invalid("AGT0031", "seq"));
            }
            last = last.max(e.seq);
        }
        let fresh: Vec<&wire::UploadEntry> =
            upload.entries.iter().filter(|e| e.seq > from).collect();
        let source = format!("agent/{}:{}", agent.id, agent.hostname);
        let mut item = Collected::new(source, SourceKind::Agent, peer.to_string(), now);
        let (mut gaps, mut dropped) = (0i64, 0i64);
        for e in &fresh {
            if let Some(ev) = device_event(agent, e, now) {
                item.events.push(ev);
            }
            if let EntryBody::Gap { dropped: d, .. } = &e.body {
                gaps += 1;
                dropped = dropped.saturating_add(i64::try_from(*d).unwrap_or(i64::MAX));
            }
        }
        if !item.events.is_empty() {
            match collector {
                Some(c) => c.store(item).await?,
                None => {
                    self.store_collected(&[&item]).await?;
                }
            }
        }
        // The inventory, rebuilt in order from the stored one.
        let mut w = self.store.write().await?;
        let mut inventory: Option<Inventory> =
            match store_agents::inventory_in(&mut w, agent.id).await? {
                Some(text) => serde_json::from_str(&text).ok(),
                None => None,
            };
        let mut changed = false;
        let mut full = false;
        let mut send_full = inventory.is_none();
        for e in &fresh {
            match &e.body {
                EntryBody::InventoryFull { inventory: inv } => {
                    inventory = Some((**inv).clone());
                    changed = true;
                    full = true;
                    send_full = false;
                }
                EntryBody::InventoryDiff { base, diff } => match &inventory {
                    Some(cur) if !send_full && wire::inventory_sha256(cur) == *base => {
                        inventory = Some(wire::apply(cur, diff));
                        changed = true;
                    }
                    // A diff that does not fit what is stored (an entry was lost on the PC):
                    // ignore it and every later diff until a full inventory comes.
                    _ => send_full = true,
                },
                _ => {}
            }
        }
        let stored = if changed {
            inventory.as_ref().map(|inv| {
                let text = serde_json::to_string(inv).unwrap_or_default();
                let sha = wire::inventory_sha256(inv);
                let summary = serde_json::to_string(&Summary::of(inv)).unwrap_or_default();
                (text, sha, summary)
            })
        } else {
            None
        };
        let acked = last;
        store_agents::record_upload(
            &mut w,
            agent.id,
            &store_agents::UploadRecord {
                acked_seq: i64::try_from(acked).unwrap_or(i64::MAX),
                at_ms: now,
                peer,
                inventory: stored
                    .as_ref()
                    .map(|(t, s, m)| (t.as_str(), s.as_str(), m.as_str(), full)),
                gaps,
                dropped,
            },
        )
        .await?;
        let version = store_agents::policy_in(&mut w)
            .await?
            .map(|p| p.version)
            .unwrap_or(0);
        w.commit().await?;
        Ok(UploadAck {
            acked,
            send_full_inventory: send_full,
            policy_version: u64::try_from(version).unwrap_or(0),
        })
    }

    /// Every agent with its summary and ledger asset.
    pub async fn agents(&self, _cap: &Cap<perm::ViewAgents>) -> ServiceResult<Vec<AgentView>> {
        let now = self.now_ms();
        let assets: std::collections::HashMap<i64, Asset> = self
            .store
            .records::<Asset>()
            .await?
            .into_iter()
            .map(|a| (a.id.0, a))
            .collect();
        Ok(self
            .store
            .agents()
            .await?
            .into_iter()
            .map(|row| {
                let summary = serde_json::from_str(&row.summary).unwrap_or_default();
                let asset = row
                    .asset_id
                    .and_then(|id| assets.get(&id))
                    .map(|a| (a.tag.clone(), a.name.clone()));
                let silent = row.revoked_ms.is_none()
                    && row
                        .last_seen_ms
                        .is_none_or(|t| now.saturating_sub(t) > SILENT_AFTER_MS);
                AgentView {
                    row,
                    summary,
                    asset,
                    silent,
                }
            })
            .collect())
    }

    /// One agent with its inventory.
    pub async fn agent_detail(
        &self,
        _cap: &Cap<perm::ViewAgents>,
        id: i64,
    ) -> ServiceResult<(AgentRow, Option<Inventory>, Option<Asset>)> {
        let row = self.store.agent(id).await?.ok_or(ServiceError::NotFound)?;
        let inv = self
            .store
            .agent_inventory(id)
            .await?
            .and_then(|t| serde_json::from_str(&t).ok());
        let asset = match row.asset_id {
            Some(a) => self
                .store
                .records::<Asset>()
                .await?
                .into_iter()
                .find(|x| x.id.0 == a),
            None => None,
        };
        Ok((row, inv, asset))
    }

    /// Enrolment tokens, newest first, with whether each can still be used.
    pub async fn agent_enrollments(
        &self,
        _cap: &Cap<perm::ManageAgents>,
    ) -> ServiceResult<Vec<EnrollmentView>> {
        let now = self.now_ms();
        Ok(self
            .store
            .agent_enrollments(50)
            .await?
            .into_iter()
            .map(|row| EnrollmentView {
                usable: row.used_ms.is_none() && row.expires_ms > now,
                row,
            })
            .collect())
    }

    /// Ties an agent to a ledger asset (or unties it with `None`).
    pub async fn link_agent_asset(
        &self,
        cap: &Cap<perm::EditLedger>,
        id: i64,
        asset_id: Option<i64>,
        client: &ClientInfo,
    ) -> ServiceResult<()> {
        let actor = cap.actor().label();
        let postgres = self.store.backend() == mamori_storage::Backend::Postgres;
        let mut w = self.store.write().await?;
        let agent = store_agents::agent_for_update(&mut w, id, postgres)
            .await?
            .ok_or(ServiceError::NotFound)?;
        if let Some(a) = asset_id
            && store_registry::record_for_update::<Asset>(&mut w, self.store.backend(), a)
                .await?
                .is_none()
        {
            return Err(invalid("AGT0040", "asset_id"));
        }
        store_agents::set_asset(&mut w, id, asset_id).await?;
        self.audit(
            &mut w,
            &actor,
            &client.source,
            "agents.asset_linked",
            &format!("agent:{id}"),
            json!({ "hostname": agent.hostname, "asset_id": asset_id,
                    "previous": agent.asset_id }),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Registers a new ledger asset from what the agent reported (name, OS, serial, the
    /// address it sends from) and ties the agent to it, in one transaction.
    pub async fn register_agent_asset(
        &self,
        cap: &Cap<perm::EditLedger>,
        id: i64,
        tag: &str,
        class: AssetClass,
        client: &ClientInfo,
    ) -> ServiceResult<i64> {
        let actor = cap.actor().label();
        let now = self.now_ms();
        let postgres = self.store.backend() == mamori_storage::Backend::Postgres;
        let mut w = self.store.write().await?;
        let agent = store_agents::agent_for_update(&mut w, id, postgres)
            .await?
            .ok_or(ServiceError::NotFound)?;
        if agent.asset_id.is_some() {
            return Err(invalid("AGT0041", "asset_id"));
        }
        let inv: Option<Inventory> = store_agents::inventory_in(&mut w, id)
            .await?
            .and_then(|t| serde_json::from_str(&t).ok());
        let tag = tag.trim();
        if tag.is_empty() || !plain(tag, 50) {
            return Err(invalid("AGT0043", "tag"));
        }
        let mut asset = Asset::blank(class);
        asset.tag = tag.to_string();
        asset.name = agent.hostname.clone();
        asset.ip = agent.last_peer.clone();
        if let Some(inv) = &inv {
            asset.os = inv.os.name.clone();
            asset.serial = inv.hardware.serial.clone();
            asset.notes = [inv.hardware.vendor.as_str(), inv.hardware.model.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
        }
        let errors = asset.validate();
        if !errors.is_empty() {
            return Err(ServiceError::Fields(errors));
        }
        let asset_id = match insert_with_history(&mut w, &asset, now, &actor, "agent").await {
            Err(ServiceError::Store(e)) if e.is_unique_violation() => {
                return Err(invalid("AGT0042", "tag"));
            }
            other => other?,
        };
        store_agents::set_asset(&mut w, id, Some(asset_id)).await?;
        self.audit(
            &mut w,
            &actor,
            &client.source,
            "agents.asset_registered",
            &format!("agent:{id}"),
            json!({ "hostname": agent.hostname, "asset_id": asset_id, "tag": asset.tag }),
        )
        .await?;
        w.commit().await?;
        Ok(asset_id)
    }

    /// Revokes an agent: its requests are refused from now on.
    pub async fn revoke_agent(
        &self,
        cap: &Cap<perm::ManageAgents>,
        id: i64,
        client: &ClientInfo,
    ) -> ServiceResult<()> {
        let actor = cap.actor().label();
        let mut w = self.store.write().await?;
        if !store_agents::revoke(&mut w, id, self.now_ms(), &actor).await? {
            return Err(ServiceError::NotFound);
        }
        self.audit(
            &mut w,
            &actor,
            &client.source,
            "agents.revoked",
            &format!("agent:{id}"),
            json!({}),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }
}

/// A USB decision or a file written to media as a log event; other entries are none.
fn device_event(agent: &AgentRow, e: &wire::UploadEntry, now: i64) -> Option<LogEvent> {
    let seq = ("agent_seq".to_string(), e.seq.to_string());
    let pc = ("agent_id".to_string(), agent.id.to_string());
    let raw = serde_json::to_string(&e.body).unwrap_or_default();
    match &e.body {
        EntryBody::Device { record } => {
            let d = &record.device;
            let usable = record.decision.mode != Mode::Deny;
            let mode = match record.decision.mode {
                Mode::Deny => "deny",
                Mode::ReadOnly => "read_only",
                Mode::Allow => "allow",
            };
            let id = format!("{}:{}:{}", d.vendor_id, d.product_id, d.serial);
            Some(LogEvent {
                time_ms: Some(record.at_ms),
                received_ms: now,
                source_host: agent.hostname.clone(),
                actor: record.user.clone(),
                action: Action::DeviceConnected,
                object: Some(id.clone()),
                outcome: if usable {
                    Outcome::Success
                } else {
                    Outcome::Failure
                },
                severity: if usable {
                    Severity::Informational
                } else {
                    Severity::Notice
                },
                message: format!(
                    "USB {} {} {} ({}): {} by {}",
                    d.manufacturer, d.product, id, d.port, mode, record.decision.rule
                ),
                fields: vec![
                    seq,
                    pc,
                    ("vendor_id".into(), d.vendor_id.clone()),
                    ("product_id".into(), d.product_id.clone()),
                    ("serial".into(), d.serial.clone()),
                    ("manufacturer".into(), d.manufacturer.clone()),
                    ("product".into(), d.product.clone()),
                    ("port".into(), d.port.clone()),
                    ("mode".into(), mode.into()),
                    ("rule".into(), record.decision.rule.clone()),
                ],
                raw,
            })
        }
        EntryBody::FileWritten { file } => {
            let id = format!("{}:{}:{}", file.vendor_id, file.product_id, file.serial);
            Some(LogEvent {
                time_ms: Some(e.at_ms),
                received_ms: now,
                source_host: agent.hostname.clone(),
                actor: Some(file.user.clone()).filter(|u| !u.is_empty()),
                action: Action::MediaWritten,
                object: Some(file.path.clone()),
                outcome: Outcome::Success,
                severity: Severity::Informational,
                message: format!("{} ({} bytes) → {id}", file.path, file.size),
                fields: {
                    let mut f = vec![
                        seq,
                        pc,
                        ("size".into(), file.size.to_string()),
                        ("sha256".into(), file.sha256.clone()),
                        ("device".into(), id),
                    ];
                    if !file.program.is_empty() {
                        f.push(("program".into(), file.program.clone()));
                    }
                    f
                },
                raw,
            })
        }
        EntryBody::Gap {
            dropped,
            first_ms,
            last_ms,
        } => Some(LogEvent {
            time_ms: Some(e.at_ms),
            received_ms: now,
            source_host: agent.hostname.clone(),
            actor: None,
            action: Action::Other("agent_gap".into()),
            object: None,
            outcome: Outcome::Failure,
            severity: Severity::Warning,
            message: format!("{dropped} entries lost on the PC (spool full)"),
            fields: vec![
                seq,
                pc,
                ("dropped".into(), dropped.to_string()),
                ("first_ms".into(), first_ms.to_string()),
                ("last_ms".into(), last_ms.to_string()),
            ],
            raw,
        }),
        _ => None,
    }
}

impl Services {
    /// Makes an emergency unlock code for an agent's PC, for `minutes` (15/30/60/120), and
    /// records who made it and why (one audit event). The code is good for at most twenty
    /// minutes and once; the PC checks it without the server.
    pub async fn issue_agent_unlock(
        &self,
        cap: &Cap<perm::ManageAgents>,
        id: i64,
        minutes: u32,
        reason: &str,
        client: &ClientInfo,
    ) -> ServiceResult<String> {
        if !wire::UNLOCK_LENGTHS.contains(&minutes) {
            return Err(invalid("AGT0051", "minutes"));
        }
        let reason = reason.trim();
        if reason.is_empty() || !plain(reason, 500) {
            return Err(invalid("AGT0050", "reason"));
        }
        let actor = cap.actor().label();
        let now = self.now_ms();
        let mut w = self.store.write().await?;
        let postgres = self.store.backend() == mamori_storage::Backend::Postgres;
        let agent = store_agents::agent_for_update(&mut w, id, postgres)
            .await?
            .ok_or(ServiceError::NotFound)?;
        if agent.revoked_ms.is_some() {
            return Err(invalid("AGT0052", "id"));
        }
        let secret = B64
            .decode(&agent.unlock_secret)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let code = wire::issue_unlock_code(&secret, &id.to_string(), minutes, now);
        self.audit(
            &mut w,
            &actor,
            &client.source,
            "agents.unlock_issued",
            &format!("agent:{id}"),
            json!({ "hostname": agent.hostname, "minutes": minutes, "reason": reason }),
        )
        .await?;
        w.commit().await?;
        Ok(code)
    }
}

impl Services {
    /// Stores the demo's agents ([`crate::demo_agents`]) as enrolment and their last upload
    /// would have: a used token each, the agent, its inventory, and for the one in the ledger
    /// its asset (tag `tag`) with history.
    pub(crate) async fn seed_demo_agents(
        &self,
        w: &mut mamori_storage::WriteTx,
        actor: &str,
        tag: &str,
        media: &[(String, String)],
        now: i64,
    ) -> ServiceResult<()> {
        // The facility's policy: storage read-only (referral CDs and sticks can be read), the
        // ledger's two sticks allowed where they are used.
        let mut usb = default_policy();
        usb.mass_storage = Mode::ReadOnly;
        usb.optical = Mode::ReadOnly;
        for (i, (name, serial)) in media.iter().enumerate() {
            usb.exceptions.push(wire::Exception {
                vendor_id: "0951".to_string(),
                product_id: if i == 0 { "1666" } else { "16a4" }.to_string(),
                serial: serial.clone(),
                mode: Mode::Allow,
                users: Vec::new(),
                groups: if i == 0 {
                    vec!["reception".to_string()]
                } else {
                    vec!["servers".to_string()]
                },
                expires_ms: None,
                note: format!("台帳 {name}"),
            });
        }
        let text =
            serde_json::to_string(&usb).map_err(|e| ServiceError::Internal(e.to_string()))?;
        store_agents::set_policy(w, &text, "192.168.10.1", now - 100 * 86_400_000, actor).await?;
        // The servers' allow-list, set when the mamori server went in; PCs have none yet.
        store_agents::set_baseline(
            w,
            AssetClass::Server.as_str(),
            crate::demo_agents::DEMO_SERVER_BASELINE,
            now - 40 * 86_400_000,
            actor,
        )
        .await?;
        for a in crate::demo_agents::demo_agents(now) {
            let mut secret = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut secret);
            let token = store_agents::insert_enrollment(
                w,
                &sha256_hex(&secret),
                a.note,
                a.groups,
                a.enrolled_ms - 600_000,
                actor,
                a.enrolled_ms + 86_400_000,
            )
            .await?;
            let key = SigningKey::generate(&mut rand::rngs::OsRng);
            rand::rngs::OsRng.fill_bytes(&mut secret);
            let id = store_agents::insert_agent(
                w,
                &NewAgent {
                    hostname: a.hostname,
                    machine_id: a.machine_id,
                    public_key: &B64.encode(key.verifying_key().as_bytes()),
                    agent_version: env!("CARGO_PKG_VERSION"),
                    groups: a.groups,
                    note: a.note,
                    unlock_secret: &B64.encode(secret),
                    enrolled_ms: a.enrolled_ms,
                    enrollment_id: token,
                    peer: a.peer,
                },
            )
            .await?;
            store_agents::claim_enrollment(w, token, id, a.enrolled_ms).await?;
            let text = serde_json::to_string(&a.inventory)
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            let summary = serde_json::to_string(&Summary::of(&a.inventory))
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            store_agents::record_upload(
                w,
                id,
                &store_agents::UploadRecord {
                    acked_seq: 0,
                    at_ms: a.last_seen_ms,
                    peer: a.peer,
                    inventory: Some((&text, &wire::inventory_sha256(&a.inventory), &summary, true)),
                    gaps: 0,
                    dropped: 0,
                },
            )
            .await?;
            if let Some(mut asset) = a.asset {
                asset.tag = tag.to_string();
                let asset_id = insert_with_history(w, &asset, now, actor, "agent").await?;
                store_agents::set_asset(w, id, Some(asset_id)).await?;
            }
        }
        Ok(())
    }
}

impl Services {
    /// The agents (not revoked) as the checklist's probes see them, and what the policy does
    /// with storage (`None` when no agent is enrolled).
    pub(crate) async fn checklist_agents(
        &self,
        assets: &[Asset],
    ) -> ServiceResult<(Vec<mamori_domain::checklist::AgentFacts>, Option<String>)> {
        let now = self.now_ms();
        let classes: std::collections::HashMap<i64, AssetClass> =
            assets.iter().map(|a| (a.id.0, a.class)).collect();
        let agents: Vec<mamori_domain::checklist::AgentFacts> = self
            .store
            .agents()
            .await?
            .into_iter()
            .filter(|a| a.revoked_ms.is_none())
            .map(|a| {
                let summary: Summary = serde_json::from_str(&a.summary).unwrap_or_default();
                mamori_domain::checklist::AgentFacts {
                    asset: a.asset_id.and_then(|id| classes.get(&id).map(|c| (id, *c))),
                    pending_updates: summary.pending_updates,
                    listening: summary.listening,
                    packages: summary.packages,
                    ports: summary.port_list(),
                    services: summary.services.clone(),
                    silent: a
                        .last_seen_ms
                        .is_none_or(|t| now.saturating_sub(t) > SILENT_AFTER_MS),
                    hostname: a.hostname,
                }
            })
            .collect();
        if agents.is_empty() {
            return Ok((agents, None));
        }
        let usb = match self.store.agent_policy().await? {
            Some(p) => serde_json::from_str::<Policy>(&p.usb)
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
            None => default_policy(),
        };
        Ok((agents, Some(mode_name(usb.mass_storage).to_string())))
    }
}

impl Services {
    /// Stores what the demo's agents logged ([`crate::demo_agents::demo_agent_events`]) as their
    /// uploads would have: into the sealed event log, searchable, for detection. Returns how
    /// many entries. Needs the event log.
    pub async fn seed_demo_agent_events(&self, backup_serial: &str) -> ServiceResult<usize> {
        let now = self.now_ms();
        let mut stored = 0;
        for agent in self.store.agents().await? {
            let entries: Vec<wire::UploadEntry> =
                crate::demo_agents::demo_agent_events(&agent.hostname, now, backup_serial)
                    .into_iter()
                    .enumerate()
                    .map(|(i, (at_ms, body))| wire::UploadEntry {
                        seq: u64::try_from(agent.acked_seq).unwrap_or(0) + i as u64 + 1,
                        at_ms,
                        body,
                    })
                    .collect();
            if entries.is_empty() {
                continue;
            }
            stored += entries.len();
            self.agent_upload(&agent, &Upload { entries }, &agent.last_peer.clone(), None)
                .await?;
        }
        Ok(stored)
    }
}

impl Services {
    /// Changes an agent's PC groups (which policy exceptions may be bound to). The policy's
    /// version grows, so the agent fetches its policy with the new groups at its next upload.
    pub async fn set_agent_groups(
        &self,
        cap: &Cap<perm::ManageAgents>,
        id: i64,
        groups: &str,
        client: &ClientInfo,
    ) -> ServiceResult<()> {
        let list = parse_groups(groups)?;
        let actor = cap.actor().label();
        let now = self.now_ms();
        let mut w = self.store.write().await?;
        let before = self.store.agent(id).await?.ok_or(ServiceError::NotFound)?;
        if !store_agents::set_groups(&mut w, id, &list.join("\n")).await? {
            return Err(ServiceError::NotFound);
        }
        let (usb, ntp) = match store_agents::policy_in(&mut w).await? {
            Some(p) => (p.usb, p.ntp_server),
            None => (
                serde_json::to_string(&default_policy())
                    .map_err(|e| ServiceError::Internal(e.to_string()))?,
                String::new(),
            ),
        };
        let version = store_agents::set_policy(&mut w, &usb, &ntp, now, &actor).await?;
        self.audit(
            &mut w,
            &actor,
            &client.source,
            "agents.groups_changed",
            &format!("agent:{id}"),
            json!({ "hostname": before.hostname,
                    "before": before.groups.lines().collect::<Vec<_>>(),
                    "after": list, "policy_version": version }),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }
}

/// USB devices plugged into the agents' PCs on one day (Japan time): usable (allowed or
/// read-only) and blocked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbDay {
    pub day: time::Date,
    pub usable: u64,
    pub blocked: u64,
}

impl Services {
    /// The last `days` days of USB decisions the agents logged, oldest first (every day, also
    /// the quiet ones). Read from the indexed event log; empty without one.
    pub async fn agent_usb_days(
        &self,
        _cap: &Cap<perm::ViewAgents>,
        days: i64,
    ) -> ServiceResult<Vec<UsbDay>> {
        let today = crate::clock::to_jst(self.now_ms()).date();
        let first = today - time::Duration::days(days.max(1) - 1);
        let from = first.midnight().assume_offset(crate::clock::JST);
        let from_ms = i64::try_from(from.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let mut out: Vec<UsbDay> = (0..days.max(1))
            .map(|i| UsbDay {
                day: first + time::Duration::days(i),
                usable: 0,
                blocked: 0,
            })
            .collect();
        // Counted by the database per JST day (no daylight saving: days are 24 h).
        let counts = self
            .store
            .count_events_by_bucket(
                &mamori_storage::events::EventQuery {
                    action: Action::DeviceConnected.as_str().to_string(),
                    ..Default::default()
                },
                from_ms,
                86_400_000,
            )
            .await?;
        for (bucket, outcome, n) in counts {
            let Some(slot) = usize::try_from(bucket).ok().and_then(|i| out.get_mut(i)) else {
                continue;
            };
            let n = u64::try_from(n).unwrap_or(0);
            if outcome == Outcome::Failure.as_str() {
                slot.blocked += n;
            } else {
                slot.usable += n;
            }
        }
        Ok(out)
    }
}

/// Exceptions on one policy at most.
pub const MAX_EXCEPTIONS: usize = 500;

/// A line of the exceptions text that does not read: its number (from 1) and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub code: &'static str,
}

fn mode_word(w: &str) -> Option<Mode> {
    match w {
        "allow" | "許可" => Some(Mode::Allow),
        "read_only" | "read-only" | "readonly" | "読み取り専用" | "読取専用" => {
            Some(Mode::ReadOnly)
        }
        "deny" | "禁止" => Some(Mode::Deny),
        _ => None,
    }
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Allow => "allow",
        Mode::ReadOnly => "read_only",
        Mode::Deny => "deny",
    }
}

fn hex4(s: &str) -> bool {
    s.len() == 4 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Reads the removable-media exceptions, one per line:
///
/// ```text
/// 0781:5583:4C530001231122109384 allow user=yamada,sato group=reception until=2027-03-31 # 検査データの受け渡し
/// 04e8:6860 read_only
/// ```
///
/// The device is `vendor:product[:serial]` (hex, as `lsusb` shows it); the mode `allow`,
/// `read_only` or `deny` (or 許可 / 読み取り専用 / 禁止); then any of `user=`, `group=` (comma
/// separated) and `until=YYYY-MM-DD` (the exception ends after that day, Japan time); after `#`
/// the reason. Blank lines and lines starting with `#` are skipped. `now_ms` rejects an `until`
/// already past.
pub fn parse_exceptions(text: &str, now_ms: i64) -> Result<Vec<wire::Exception>, LineError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |code| LineError { line, code };
        let (spec, note) = match raw.split_once('#') {
            Some((s, n)) => (s.trim(), n.trim()),
            None => (raw.trim(), ""),
        };
        if spec.is_empty() {
            continue;
        }
        if !plain(raw, 500) {
            return Err(err("AGT0060"));
        }
        let mut words = spec.split_whitespace();
        let device = words.next().unwrap_or_default();
        let mut parts = device.splitn(3, ':');
        let (vendor, product) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        let serial = parts.next().unwrap_or_default();
        if !hex4(vendor) || !hex4(product) || serial.len() > 126 {
            return Err(err("AGT0060"));
        }
        let mode = words.next().and_then(mode_word).ok_or(err("AGT0061"))?;
        let mut e = wire::Exception {
            vendor_id: vendor.to_ascii_lowercase(),
            product_id: product.to_ascii_lowercase(),
            serial: serial.to_string(),
            mode,
            users: Vec::new(),
            groups: Vec::new(),
            expires_ms: None,
            note: note.to_string(),
        };
        let list = |v: &str| -> Vec<String> {
            v.split([',', '、'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        for w in words {
            match w.split_once('=') {
                Some(("user" | "users" | "利用者", v)) => e.users.extend(list(v)),
                Some(("group" | "groups" | "グループ", v)) => e.groups.extend(list(v)),
                Some(("until" | "期限", v)) => {
                    let format = time::macros::format_description!("[year]-[month]-[day]");
                    let day = time::Date::parse(v, &format).map_err(|_| err("AGT0063"))?;
                    let end = day
                        .next_day()
                        .ok_or(err("AGT0063"))?
                        .midnight()
                        .assume_offset(crate::clock::JST);
                    let ms = i64::try_from(end.unix_timestamp_nanos() / 1_000_000)
                        .map_err(|_| err("AGT0063"))?;
                    if ms <= now_ms {
                        return Err(err("AGT0064"));
                    }
                    e.expires_ms = Some(ms);
                }
                _ => return Err(err("AGT0062")),
            }
        }
        out.push(e);
        if out.len() > MAX_EXCEPTIONS {
            return Err(err("AGT0065"));
        }
    }
    Ok(out)
}

/// The exceptions as [`parse_exceptions`] reads them, one per line.
pub fn format_exceptions(list: &[wire::Exception]) -> String {
    let mut out = String::new();
    for e in list {
        out.push_str(&e.vendor_id);
        out.push(':');
        out.push_str(&e.product_id);
        if !e.serial.is_empty() {
            out.push(':');
            out.push_str(&e.serial);
        }
        out.push(' ');
        out.push_str(mode_name(e.mode));
        if !e.users.is_empty() {
            out.push_str(&format!(" user={}", e.users.join(",")));
        }
        if !e.groups.is_empty() {
            out.push_str(&format!(" group={}", e.groups.join(",")));
        }
        if let Some(ms) = e.expires_ms {
            // The last day it applies: the day before the instant it ends.
            let last = crate::clock::to_jst(ms - 1).date();
            out.push_str(&format!(" until={last}"));
        }
        if !e.note.is_empty() {
            out.push_str(" # ");
            out.push_str(&e.note);
        }
        out.push('\n');
    }
    out
}

/// The removable-media policy as the page shows it.
#[derive(Debug, Clone)]
pub struct PolicyView {
    pub usb: Policy,
    /// `None`: never set (the default applies).
    pub row: Option<store_agents::PolicyRow>,
}

impl Services {
    /// The facility's removable-media policy.
    pub async fn agent_usb_policy(
        &self,
        _cap: &Cap<perm::ViewAgents>,
    ) -> ServiceResult<PolicyView> {
        let row = self.store.agent_policy().await?;
        let usb = match &row {
            Some(r) => {
                serde_json::from_str(&r.usb).map_err(|e| ServiceError::Internal(e.to_string()))?
            }
            None => default_policy(),
        };
        Ok(PolicyView { usb, row })
    }

    /// Replaces the removable-media policy and the time server agents check their clock
    /// against (empty: none); every agent fetches it at its next contact (the version grows).
    /// Returns the new version.
    pub async fn set_agent_usb_policy(
        &self,
        cap: &Cap<perm::ManageAgents>,
        usb: &Policy,
        ntp_server: &str,
        client: &ClientInfo,
    ) -> ServiceResult<i64> {
        let ntp_server = ntp_server.trim();
        let host_ok = ntp_server.len() <= 253
            && ntp_server
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !host_ok {
            return Err(invalid("AGT0068", "ntp_server"));
        }
        for (mode, field) in [
            (usb.phone, "phone"),
            (usb.bluetooth, "bluetooth"),
            (usb.other, "other"),
        ] {
            if mode == Mode::ReadOnly {
                return Err(invalid("AGT0066", field));
            }
        }
        if usb.exceptions.len() > MAX_EXCEPTIONS {
            return Err(invalid("AGT0065", "exceptions"));
        }
        let actor = cap.actor().label();
        let now = self.now_ms();
        let text = serde_json::to_string(usb).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let mut w = self.store.write().await?;
        let version = store_agents::set_policy(&mut w, &text, ntp_server, now, &actor).await?;
        self.audit(
            &mut w,
            &actor,
            &client.source,
            "agents.policy_changed",
            "agent_policy",
            json!({
                "version": version,
                "mass_storage": mode_name(usb.mass_storage),
                "optical": mode_name(usb.optical),
                "phone": mode_name(usb.phone),
                "bluetooth": mode_name(usb.bluetooth),
                "other": mode_name(usb.other),
                "exceptions": usb.exceptions.len(),
                "encrypted_only": usb.encrypted_only,
                "ntp_server": ntp_server,
            }),
        )
        .await?;
        w.commit().await?;
        Ok(version)
    }
}

/// The largest export file taken in (an agent writes at most 24 MiB of entries to one).
pub const MAX_EXPORT_BYTES: usize = 32 * 1024 * 1024;

impl Services {
    /// Enrols a standalone PC from the request file it wrote (carried here by `cap`'s holder):
    /// the same checks as an enrolment over the network. Returns the answer file for the PC.
    pub async fn enroll_agent_offline(
        &self,
        cap: &Cap<perm::ManageAgents>,
        key: &PolicySigner,
        file: &[u8],
        client: &ClientInfo,
    ) -> ServiceResult<wire::OfflineAnswer> {
        let req: wire::OfflineRequest =
            serde_json::from_slice(file).map_err(|_| invalid("AGT0070", "file"))?;
        if req.format != wire::FORMAT_OFFLINE_REQUEST {
            return Err(invalid("AGT0070", "file"));
        }
        check_enrollment(&req.request)?;
        // The enrolment and the administrator who carried the file, in one write.
        let actor = cap.actor().label();
        let mut w = self.store.write().await?;
        let answer = self
            .enroll_agent_in(&mut w, key, &req.request, "offline")
            .await?;
        self.audit(
            &mut w,
            &actor,
            &client.source,
            "agents.offline_enrolled",
            &format!("agent:{}", answer.agent_id),
            json!({ "hostname": req.request.hostname.trim() }),
        )
        .await?;
        w.commit().await?;
        Ok(wire::OfflineAnswer {
            format: wire::FORMAT_OFFLINE_ANSWER.to_string(),
            hostname: req.request.hostname.trim().to_string(),
            answer,
        })
    }

    /// Takes in a standalone PC's export file: its signature is checked as an upload
    /// request's, then its entries are stored as an upload's (each once). Returns the agent's
    /// id and how many entries the file held.
    pub async fn import_agent_export(
        &self,
        cap: &Cap<perm::ManageAgents>,
        file: &[u8],
        collector: Option<&Collector>,
        client: &ClientInfo,
    ) -> ServiceResult<(i64, u64)> {
        if file.len() > MAX_EXPORT_BYTES {
            return Err(invalid("AGT0073", "file"));
        }
        let export: wire::ExportFile =
            serde_json::from_slice(file).map_err(|_| invalid("AGT0071", "file"))?;
        if export.format != wire::FORMAT_EXPORT {
            return Err(invalid("AGT0071", "file"));
        }
        // Signed by the PC's key, as its upload would have been. The nonce is not taken: a file
        // is idempotent by its entries' sequence numbers (those already stored are skipped), so
        // an import that failed half-way can simply be tried again.
        let agent = match self
            .verify_agent_signature(
                export.agent_id,
                export.nonce,
                &export.signature,
                "POST",
                wire::PATH_UPLOAD,
                export.body.as_bytes(),
            )
            .await?
        {
            Ok(a) => a,
            Err(AgentRefusal::Revoked) => return Err(invalid("AGT0021", "file")),
            Err(_) => return Err(invalid("AGT0072", "file")),
        };
        let upload: Upload =
            serde_json::from_str(&export.body).map_err(|_| invalid("AGT0072", "file"))?;
        // Everything in it is stored already: this file again, or an older one.
        let stored = u64::try_from(agent.acked_seq).unwrap_or(0);
        if !upload.entries.is_empty() && upload.entries.iter().all(|e| e.seq <= stored) {
            return Err(invalid("AGT0074", "file"));
        }
        // A later file before an earlier one: the earlier one's entries would afterwards look
        // stored and be skipped for good. The PC numbers its entries without holes.
        if upload.entries.first().is_some_and(|e| e.seq > stored + 1) {
            return Err(invalid("AGT0076", "file"));
        }
        let ack = self
            .agent_upload(&agent, &upload, "offline", collector)
            .await?;
        let actor = cap.actor().label();
        let mut w = self.store.write().await?;
        self.audit(
            &mut w,
            &actor,
            &client.source,
            "agents.export_imported",
            &format!("agent:{}", agent.id),
            json!({ "hostname": agent.hostname, "entries": upload.entries.len(),
                    "acked": ack.acked, "exported_ms": export.exported_ms }),
        )
        .await?;
        w.commit().await?;
        Ok((agent.id, upload.entries.len() as u64))
    }

    /// The newest policy for a standalone PC, as a file to carry to it.
    pub async fn agent_policy_file(
        &self,
        _cap: &Cap<perm::ManageAgents>,
        key: &PolicySigner,
        id: i64,
    ) -> ServiceResult<wire::PolicyFile> {
        let agent = self.store.agent(id).await?.ok_or(ServiceError::NotFound)?;
        if agent.revoked_ms.is_some() {
            return Err(invalid("AGT0021", "id"));
        }
        let now = self.now_ms();
        let mut w = self.store.write().await?;
        let policy = self
            .policy_for(
                &mut w,
                key,
                agent.id,
                &agent.groups,
                // The carried files taken in so far: the PC frees those entries.
                Some(u64::try_from(agent.acked_seq).unwrap_or(0)),
                now,
            )
            .await?;
        w.commit().await?;
        Ok(wire::PolicyFile {
            format: wire::FORMAT_POLICY_FILE.to_string(),
            agent_id: agent.id,
            policy,
        })
    }
}

#[cfg(test)]
mod policy_text_tests {
    use super::*;

    const NOW: i64 = 1_764_650_000_000; // 2025-12-02

    #[test]
    fn exceptions_read_and_print_back() {
        let text = "# 受付の USB メモリ\n\
                    0781:5583:4C530001231122109384 allow user=yamada,sato group=reception until=2027-03-31 # 検査データの受け渡し\n\
                    \n\
                    04E8:6860 読み取り専用\n";
        let list = parse_exceptions(text, NOW).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].users, ["yamada", "sato"]);
        assert_eq!(list[0].groups, ["reception"]);
        assert_eq!(list[0].note, "検査データの受け渡し");
        // Ends at the end of 2027-03-31 in Japan: 2027-03-31T15:00Z.
        assert_eq!(list[0].expires_ms, Some(1_806_505_200_000));
        assert_eq!(
            (list[1].vendor_id.as_str(), list[1].mode),
            ("04e8", Mode::ReadOnly)
        );
        let printed = format_exceptions(&list);
        assert!(printed.contains("until=2027-03-31"), "{printed}");
        assert_eq!(parse_exceptions(&printed, NOW).unwrap(), list);
    }

    #[test]
    fn a_bad_line_is_named() {
        let e = |t: &str| parse_exceptions(t, NOW).unwrap_err();
        assert_eq!(
            e("0781:5583 allow\n781:5583 allow"),
            LineError {
                line: 2,
                code: "AGT0060"
            }
        );
        assert_eq!(e("0781:5583 maybe").code, "AGT0061");
        assert_eq!(e("0781:5583").code, "AGT0061");
        assert_eq!(e("0781:5583 allow color=red").code, "AGT0062");
        assert_eq!(e("0781:5583 allow until=2027-02-30").code, "AGT0063");
        assert_eq!(e("0781:5583 allow until=2020-01-01").code, "AGT0064");
        let many = "0781:5583 allow\n".repeat(MAX_EXCEPTIONS + 1);
        assert_eq!(
            e(&many),
            LineError {
                line: MAX_EXCEPTIONS + 1,
                code: "AGT0065"
            }
        );
    }
}

/// The asset classes that have a service baseline (2-⑫ servers, 2-⑬ PCs).
pub const BASELINE_CLASSES: [AssetClass; 2] = [AssetClass::Server, AssetClass::Workstation];

/// One class's baseline as the page shows it: the text as saved, who saved it, and every agent
/// of the class with what it runs beyond it.
#[derive(Debug, Clone)]
pub struct BaselineView {
    pub class: AssetClass,
    /// `None`: never saved.
    pub row: Option<store_agents::BaselineRow>,
    pub baseline: Option<ServiceBaseline>,
    /// Agents tied to an asset of this class: (agent id, host name, beyond the baseline).
    pub agents: Vec<(i64, String, Vec<String>)>,
    /// What the class's agents report, as lines a first baseline could start from, each with
    /// how many devices have it.
    pub reported: Vec<(String, usize)>,
}

impl Services {
    /// The service baselines saved, as the checklist uses them. A saved text that no longer
    /// reads (it was checked on saving) is an internal error, not silently ignored.
    pub(crate) async fn class_baselines(
        &self,
    ) -> ServiceResult<Vec<mamori_domain::checklist::ClassBaseline>> {
        let mut out = Vec::new();
        for row in self.store.service_baselines().await? {
            let Some(class) = AssetClass::parse(&row.asset_class) else {
                continue;
            };
            out.push(mamori_domain::checklist::ClassBaseline {
                class,
                baseline: parsed_baseline(&row)?,
                updated_on: crate::clock::to_jst(row.updated_ms).date(),
                updated_by: row.updated_by,
            });
        }
        Ok(out)
    }

    /// What a device of `class` reporting `summary` runs beyond its class's baseline; `None`
    /// when the class has none.
    pub async fn beyond_baseline(
        &self,
        _cap: &Cap<perm::ViewAgents>,
        class: AssetClass,
        summary: &Summary,
    ) -> ServiceResult<Option<Vec<String>>> {
        let rows = self.store.service_baselines().await?;
        let Some(row) = rows.iter().find(|r| r.asset_class == class.as_str()) else {
            return Ok(None);
        };
        Ok(Some(
            parsed_baseline(row)?.extras(&summary.port_list(), &summary.services),
        ))
    }

    /// The baselines page: servers then PCs.
    pub async fn service_baseline_views(
        &self,
        _cap: &Cap<perm::ViewAgents>,
    ) -> ServiceResult<Vec<BaselineView>> {
        let rows = self.store.service_baselines().await?;
        let assets = self.store.records::<Asset>().await?;
        let class_of: std::collections::HashMap<i64, AssetClass> =
            assets.iter().map(|a| (a.id.0, a.class)).collect();
        let agents: Vec<(AgentRow, Summary)> = self
            .store
            .agents()
            .await?
            .into_iter()
            .filter(|a| a.revoked_ms.is_none())
            .map(|a| {
                let summary: Summary = serde_json::from_str(&a.summary).unwrap_or_default();
                (a, summary)
            })
            .collect();
        let mut out = Vec::new();
        for class in BASELINE_CLASSES {
            let row = rows
                .iter()
                .find(|r| r.asset_class == class.as_str())
                .cloned();
            let baseline = row.as_ref().map(parsed_baseline).transpose()?;
            let mut list = Vec::new();
            let mut reported: std::collections::BTreeMap<String, usize> = Default::default();
            for (a, summary) in &agents {
                if a.asset_id.and_then(|id| class_of.get(&id)) != Some(&class) {
                    continue;
                }
                let ports = summary.port_list();
                for x in summary.ports.iter().chain(summary.services.iter()) {
                    *reported.entry(x.clone()).or_default() += 1;
                }
                let extras = baseline
                    .as_ref()
                    .map(|b| b.extras(&ports, &summary.services))
                    .unwrap_or_default();
                list.push((a.id, a.hostname.clone(), extras));
            }
            // Ports first (as a baseline is written), then services, each by name.
            let mut reported: Vec<(String, usize)> = reported.into_iter().collect();
            reported.sort_by_key(|(x, _)| (!x.contains('/'), x.clone()));
            out.push(BaselineView {
                class,
                row,
                baseline,
                agents: list,
                reported,
            });
        }
        Ok(out)
    }

    /// Saves the baseline of `class` (servers or PCs) from its text lines; saving it unchanged
    /// records that it was confirmed today. A line that does not read refuses the whole text
    /// (see [`service_baseline::parse`]), nothing is written.
    pub async fn set_service_baseline(
        &self,
        cap: &Cap<perm::ManageAgents>,
        class: &str,
        text: &str,
        client: &ClientInfo,
    ) -> Result<usize, BaselineError> {
        let class = AssetClass::parse(class)
            .filter(|c| BASELINE_CLASSES.contains(c))
            .ok_or(BaselineError::Invalid(invalid("AGT0083", "asset_class")))?;
        let text = text.replace("\r\n", "\n");
        let baseline = service_baseline::parse(&text).map_err(BaselineError::Line)?;
        let actor = cap.actor().label();
        let now = self.now_ms();
        let mut w = self.store.write().await.map_err(ServiceError::from)?;
        store_agents::set_baseline(&mut w, class.as_str(), text.trim_end(), now, &actor)
            .await
            .map_err(ServiceError::from)?;
        self.audit(
            &mut w,
            &actor,
            &client.source,
            "agents.baseline_saved",
            "service_baseline",
            json!({ "asset_class": class.as_str(), "rules": baseline.rules.len() }),
        )
        .await?;
        w.commit().await.map_err(ServiceError::from)?;
        Ok(baseline.rules.len())
    }
}

/// A saved baseline read again (it was checked on saving: one that no longer reads is an
/// internal error).
fn parsed_baseline(row: &store_agents::BaselineRow) -> ServiceResult<ServiceBaseline> {
    service_baseline::parse(&row.body).map_err(|e| {
        ServiceError::Internal(format!(
            "service baseline {}: line {}: {}",
            row.asset_class, e.line, e.code
        ))
    })
}

/// Why a baseline was not saved: a line that does not read, or another refusal.
#[derive(Debug)]
pub enum BaselineError {
    Line(service_baseline::LineError),
    Invalid(ServiceError),
}

impl From<ServiceError> for BaselineError {
    fn from(e: ServiceError) -> Self {
        BaselineError::Invalid(e)
    }
}
