//! The agent protocol, version 1: what `mamori-agent` collects and decides (inventory, USB
//! decisions, files written to removable media), the messages of enrolment and upload, the
//! signed policy, and how a request is signed.
//!
//! The inventory types live here rather than in the agent because the server rebuilds an
//! agent's inventory from the diffs it sends ([`apply`]) and must agree with the agent's
//! [`diff`] to the byte ([`inventory_sha256`]).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Protocol name, the first line of every signed message.
pub const PROTOCOL: &str = "mamori-agent-v1";
/// Header: the agent's id (a number the server gave at enrolment).
pub const HEADER_AGENT: &str = "x-mamori-agent";
/// Header: a number larger than any the agent used before (the server refuses replays).
pub const HEADER_NONCE: &str = "x-mamori-nonce";
/// Header: Ed25519 signature (base64) of [`signing_message`] with the agent's identity key.
pub const HEADER_SIGNATURE: &str = "x-mamori-signature";
/// Header of a refusal for a used nonce: the smallest nonce the server will take.
pub const HEADER_NEXT_NONCE: &str = "x-mamori-next-nonce";

/// `POST` enrolment.
pub const PATH_ENROLL: &str = "/api/v1/agent/enroll";
/// `POST` spool entries.
pub const PATH_UPLOAD: &str = "/api/v1/agent/upload";
/// `GET` the newest signed policy.
pub const PATH_POLICY: &str = "/api/v1/agent/policy";

/// What the agent signs for a request: protocol, method, path, agent, nonce and the body's
/// SHA-256, one per line.
pub fn signing_message(
    method: &str,
    path: &str,
    agent_id: i64,
    nonce: u64,
    body: &[u8],
) -> Vec<u8> {
    let digest = hex(&Sha256::digest(body));
    format!("{PROTOCOL}\n{method}\n{path}\n{agent_id}\n{nonce}\n{digest}").into_bytes()
}

/// What the agent signs at enrolment to prove it holds the key it presents.
pub fn enrollment_message(token_secret: &str, public_key: &str) -> Vec<u8> {
    format!("{PROTOCOL}\nenroll\n{token_secret}\n{public_key}").into_bytes()
}

/// What the server signs for a policy: a domain line, then the policy's JSON text.
pub fn policy_message(body: &str) -> Vec<u8> {
    format!("mamori-policy-v1\n{body}").into_bytes()
}

/// Lower-case hex, as pins and digests travel.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A certificate pin (SHA-256) from its hex; `None` unless exactly 64 hex digits.
pub fn pin_from_hex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut pin = [0u8; 32];
    for (i, b) in pin.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(pin)
}

/// The one-time enrolment token an administrator makes in the UI: a random secret and,
/// when the server speaks TLS, the SHA-256 of its certificate, which the agent pins. Written
/// `MMR1-<secret>` or `MMR1-<secret>-<pin>`, both in unpadded base32.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentToken {
    pub secret: String,
    pub pin: Option<[u8; 32]>,
}

impl EnrollmentToken {
    pub fn parse(text: &str) -> Option<EnrollmentToken> {
        let text = text.trim();
        let rest = text.strip_prefix("MMR1-")?;
        let mut parts = rest.split('-');
        let secret = parts.next().filter(|s| s.len() >= 16)?;
        if !secret
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        {
            return None;
        }
        let pin = match parts.next() {
            None => None,
            Some(p) => {
                let bytes = data_encoding::BASE32_NOPAD.decode(p.as_bytes()).ok()?;
                Some(<[u8; 32]>::try_from(bytes.as_slice()).ok()?)
            }
        };
        if parts.next().is_some() {
            return None;
        }
        Some(EnrollmentToken {
            secret: secret.to_string(),
            pin,
        })
    }
}

impl std::fmt::Display for EnrollmentToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MMR1-{}", self.secret)?;
        if let Some(pin) = &self.pin {
            write!(f, "-{}", data_encoding::BASE32_NOPAD.encode(pin))?;
        }
        Ok(())
    }
}

/// `POST /api/v1/agent/enroll`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The token's secret (not the pin).
    pub token: String,
    /// The agent's Ed25519 public key, base64.
    pub public_key: String,
    /// Signature of [`enrollment_message`] with that key, base64.
    pub proof: String,
    pub hostname: String,
    /// `/etc/machine-id` (or the Windows MachineGuid): the PC, across host name changes.
    pub machine_id: String,
    pub agent_version: String,
}

/// The answer to an enrolment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub agent_id: i64,
    /// The server's policy key (Ed25519, base64): policies are verified with it.
    pub policy_key: String,
    /// The secret the emergency unlock codes of this PC are made with, base64.
    pub unlock_secret: String,
    /// The policy that applies now.
    pub policy: SignedPolicy,
}

// ---- standalone PCs: files carried by hand instead of requests ------------------------------

/// The `format` of an offline enrolment request file.
pub const FORMAT_OFFLINE_REQUEST: &str = "mamori-agent-enrolment-request-v1";
/// The `format` of the server's answer to it.
pub const FORMAT_OFFLINE_ANSWER: &str = "mamori-agent-enrolment-v1";
/// The `format` of a policy file for a standalone PC.
pub const FORMAT_POLICY_FILE: &str = "mamori-agent-policy-v1";
/// The `format` of a log export from a standalone PC.
pub const FORMAT_EXPORT: &str = "mamori-agent-export-v1";

/// A PC that never reaches the server enrols by file: this is the request it writes (what it
/// would have sent to [`PATH_ENROLL`]), carried to the server by an administrator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineRequest {
    pub format: String,
    pub request: EnrollRequest,
}

/// The server's answer to an [`OfflineRequest`], carried back to the PC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineAnswer {
    pub format: String,
    pub hostname: String,
    pub answer: EnrollResponse,
}

/// The newest policy for one standalone PC, carried to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyFile {
    pub format: String,
    pub agent_id: i64,
    pub policy: SignedPolicy,
}

/// A standalone PC's spool carried to the server: the body of an upload request (an
/// [`Upload`], as JSON text) signed exactly as the request would have been
/// ([`signing_message`] of `POST` [`PATH_UPLOAD`] with this nonce), so the server checks it the
/// same way and takes each entry once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportFile {
    pub format: String,
    pub agent_id: i64,
    pub hostname: String,
    pub exported_ms: i64,
    pub entries: u64,
    pub nonce: u64,
    /// Ed25519 signature, base64.
    pub signature: String,
    pub body: String,
}

/// A policy as the server signs it. `body` is the JSON text of a [`PolicyBody`], kept as text
/// so the signature is checked over exactly the bytes that were signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedPolicy {
    pub body: String,
    /// Ed25519 signature of [`policy_message`]`(body)`, base64.
    pub signature: String,
}

/// What a policy says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyBody {
    /// Grows with every change; an agent never goes back to a lower one.
    pub version: u64,
    /// The agent it is for; `None`: any PC (a bundle for standalone PCs).
    pub agent_id: Option<i64>,
    pub issued_ms: i64,
    /// The PC's groups, which exceptions may be bound to.
    #[serde(default)]
    pub groups: Vec<String>,
    pub usb: Policy,
    /// The facility's time server, for the clock check.
    #[serde(default)]
    pub ntp_server: Option<String>,
    /// Up to which of this PC's entries the server has stored: how the acknowledgement of
    /// carried logs reaches a standalone PC (in its policy file), which then frees them.
    #[serde(default)]
    pub acked_seq: Option<u64>,
    /// Certificates (SHA-256 of the DER, hex) the server may present besides the one pinned at
    /// enrolment: the next one before a renewal. Agents trust them once this policy verifies.
    #[serde(default)]
    pub server_pins: Vec<String>,
}

/// `POST /api/v1/agent/upload`: spool entries, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    pub entries: Vec<UploadEntry>,
}

/// One spool entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadEntry {
    /// The spool's sequence number: the server takes each once.
    pub seq: u64,
    pub at_ms: i64,
    pub body: EntryBody,
}

/// What an entry carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EntryBody {
    /// The whole inventory (daily, at start, and when the server asks for it).
    InventoryFull { inventory: Box<Inventory> },
    /// The changes since the inventory whose [`inventory_sha256`] is `base`.
    InventoryDiff {
        base: String,
        diff: Box<InventoryDiff>,
    },
    /// A USB device was decided on.
    Device { record: DecisionRecord },
    /// A file was written to removable media.
    FileWritten { file: FileWrite },
    /// Entries the agent could not keep.
    Gap {
        dropped: u64,
        first_ms: i64,
        last_ms: i64,
    },
}

/// A file written to removable media.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileWrite {
    /// The login user who wrote it (of the writing process; the console user where the agent
    /// cannot see processes).
    pub user: String,
    /// The program that wrote it (`cp`, `nautilus` …), when known.
    #[serde(default)]
    pub program: String,
    /// The file's path on the medium.
    pub path: String,
    pub size: u64,
    /// SHA-256 of the content written, hex.
    pub sha256: String,
    pub vendor_id: String,
    pub product_id: String,
    pub serial: String,
}

/// The answer to an upload, sent after the server's durable write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadAck {
    /// Every entry up to this sequence number is stored: the agent may free it.
    pub acked: u64,
    /// The server has no inventory to apply diffs to (or a diff did not fit it): send a full
    /// one next.
    pub send_full_inventory: bool,
    /// The newest policy's version: fetch it when it is newer than the one in force.
    pub policy_version: u64,
}

/// SHA-256 (hex) of an inventory's JSON: what a diff names as its base.
pub fn inventory_sha256(inv: &Inventory) -> String {
    hex(&Sha256::digest(serde_json::to_vec(inv).unwrap_or_default()))
}

/// The machine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hardware {
    pub vendor: String,
    pub model: String,
    pub serial: String,
    pub cpu_model: String,
    pub cpu_threads: u32,
    pub memory_bytes: u64,
}

/// The operating system.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Os {
    /// `ID` of os-release (`debian`, `ubuntu`, `rhel` …).
    pub id: String,
    /// `PRETTY_NAME`.
    pub name: String,
    pub version: String,
    pub kernel: String,
}

/// A block device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disk {
    pub name: String,
    pub model: String,
    pub size_bytes: u64,
    pub removable: bool,
    /// Whether the data on it is encrypted (a LUKS/dm-crypt mapping sits on it or on one of its
    /// partitions).
    pub encrypted: bool,
}

/// An installed package.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub arch: String,
}

/// A socket waiting for connections (TCP) or bound (UDP).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Listening {
    /// `tcp` or `udp`.
    pub proto: String,
    pub address: String,
    pub port: u16,
}

/// A local account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalAccount {
    pub name: String,
    pub uid: u32,
    /// Its shell lets it log in (not `nologin`/`false`).
    pub can_log_in: bool,
    /// Last login, Unix ms, from lastlog.
    pub last_login_ms: Option<i64>,
}

/// A USB device seen on the bus.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsbDevice {
    /// Bus path (`1-1.2`).
    pub port: String,
    pub vendor_id: String,
    pub product_id: String,
    pub serial: String,
    pub manufacturer: String,
    pub product: String,
    /// The USB class of the device or of its first interface (`08` mass storage, `03` HID …).
    pub class: String,
}

/// One full inventory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    pub hostname: String,
    pub hardware: Hardware,
    pub os: Os,
    pub disks: Vec<Disk>,
    pub packages: Vec<Package>,
    /// Units enabled in systemd (`*.wants/`), by name.
    pub enabled_services: Vec<String>,
    /// Services running now (with live processes), by unit name: what the baselines of
    /// 2-⑫/⑬ are checked against. Older agents did not send it.
    #[serde(default)]
    pub running_services: Vec<String>,
    pub listening: Vec<Listening>,
    pub local_accounts: Vec<LocalAccount>,
    pub usb_devices: Vec<UsbDevice>,
    /// Installed packages with a newer version in the security archive; `None` when the
    /// machine has no security index to compare with (unknown, not up to date).
    #[serde(default)]
    pub pending_security_updates: Option<Vec<PendingUpdate>>,
    /// The clock against the facility's time server, when one is set (checked with each
    /// inventory by the agent, not read from files).
    #[serde(default)]
    pub clock: Option<ClockCheck>,
}

/// An installed package with a newer version in the security archive.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PendingUpdate {
    pub name: String,
    pub installed: String,
    pub available: String,
}

/// One check of the clock.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockCheck {
    pub server: String,
    /// Server time minus this PC's, in ms; `None` when the server did not answer.
    pub offset_ms: Option<i64>,
    /// Why not, when it did not.
    pub error: String,
}

/// What changed in one list between two inventories, matched by key: what is new, what is
/// gone, and what is there in both but different (the new value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListDiff<T> {
    pub added: Vec<T>,
    pub removed: Vec<T>,
    pub changed: Vec<T>,
}

impl<T> Default for ListDiff<T> {
    fn default() -> Self {
        ListDiff {
            added: Vec::new(),
            removed: Vec::new(),
            changed: Vec::new(),
        }
    }
}

impl<T> ListDiff<T> {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

fn list_diff<T: Clone + PartialEq, K: Ord>(
    old: &[T],
    new: &[T],
    key: impl Fn(&T) -> K,
) -> ListDiff<T> {
    let before: BTreeMap<K, &T> = old.iter().map(|x| (key(x), x)).collect();
    let after: BTreeMap<K, &T> = new.iter().map(|x| (key(x), x)).collect();
    let mut d = ListDiff::default();
    for (k, n) in &after {
        match before.get(k) {
            None => d.added.push((*n).clone()),
            Some(o) if o != n => d.changed.push((*n).clone()),
            Some(_) => {}
        }
    }
    for (k, o) in &before {
        if !after.contains_key(k) {
            d.removed.push((*o).clone());
        }
    }
    d
}

/// The changes from one inventory to the next, what the agent uploads between daily full
/// snapshots. The machine's scalar parts (hostname, OS, hardware) are sent whole when any of
/// them changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryDiff {
    pub hostname: Option<String>,
    pub os: Option<Os>,
    pub hardware: Option<Hardware>,
    pub disks: ListDiff<Disk>,
    pub packages: ListDiff<Package>,
    pub enabled_services: ListDiff<String>,
    #[serde(default)]
    pub running_services: ListDiff<String>,
    pub listening: ListDiff<Listening>,
    pub local_accounts: ListDiff<LocalAccount>,
    pub usb_devices: ListDiff<UsbDevice>,
    /// The pending security updates, whole, when they differ.
    #[serde(default)]
    pub pending_security_updates: Option<Option<Vec<PendingUpdate>>>,
    /// The latest clock check, when it differs.
    #[serde(default)]
    pub clock: Option<ClockCheck>,
}

impl InventoryDiff {
    /// Nothing changed: nothing to upload. A clock reading that only moved a little (see
    /// [`diff`]) is not part of a diff: it travels with the daily full snapshot.
    pub fn is_empty(&self) -> bool {
        self.hostname.is_none()
            && self.os.is_none()
            && self.hardware.is_none()
            && self.disks.is_empty()
            && self.packages.is_empty()
            && self.enabled_services.is_empty()
            && self.running_services.is_empty()
            && self.listening.is_empty()
            && self.local_accounts.is_empty()
            && self.usb_devices.is_empty()
            && self.pending_security_updates.is_none()
            && self.clock.is_none()
    }
}

/// How far a clock reading may move from the last one sent before it is news on its own.
pub const CLOCK_NEWS_MS: i64 = 1_000;

/// Whether a clock reading is worth an upload of its own: the first one, a different server, an
/// answer where there was none (or the reverse), a different error, or an offset that moved by
/// [`CLOCK_NEWS_MS`] or more. Small jitter waits for the daily full snapshot.
fn clock_news(old: Option<&ClockCheck>, new: Option<&ClockCheck>) -> bool {
    match (old, new) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(o), Some(n)) => {
            o.server != n.server
                || o.error != n.error
                || match (o.offset_ms, n.offset_ms) {
                    (Some(a), Some(b)) => {
                        a.saturating_sub(b).unsigned_abs() >= CLOCK_NEWS_MS.unsigned_abs()
                    }
                    (a, b) => a.is_some() != b.is_some(),
                }
        }
    }
}

/// The changes from `old` to `new`. Packages are keyed by name and architecture (an upgrade is a
/// change), accounts by name, disks by name, USB devices by port and serial; the clock reading
/// is part of it when it is news ([`clock_news`]).
pub fn diff(old: &Inventory, new: &Inventory) -> InventoryDiff {
    InventoryDiff {
        hostname: (old.hostname != new.hostname).then(|| new.hostname.clone()),
        os: (old.os != new.os).then(|| new.os.clone()),
        hardware: (old.hardware != new.hardware).then(|| new.hardware.clone()),
        disks: list_diff(&old.disks, &new.disks, |d| d.name.clone()),
        packages: list_diff(&old.packages, &new.packages, |p| {
            (p.name.clone(), p.arch.clone())
        }),
        enabled_services: list_diff(&old.enabled_services, &new.enabled_services, |s| s.clone()),
        running_services: list_diff(&old.running_services, &new.running_services, |s| s.clone()),
        listening: list_diff(&old.listening, &new.listening, |l| l.clone()),
        local_accounts: list_diff(&old.local_accounts, &new.local_accounts, |a| a.name.clone()),
        usb_devices: list_diff(&old.usb_devices, &new.usb_devices, |u| {
            (
                u.port.clone(),
                u.vendor_id.clone(),
                u.product_id.clone(),
                u.serial.clone(),
            )
        }),
        pending_security_updates: (old.pending_security_updates != new.pending_security_updates)
            .then(|| new.pending_security_updates.clone()),
        clock: if clock_news(old.clock.as_ref(), new.clock.as_ref()) {
            new.clock.clone()
        } else {
            None
        },
    }
}

/// `base` with `d` applied: what the server rebuilds from the last full snapshot and the diffs
/// since.
pub fn apply(base: &Inventory, d: &InventoryDiff) -> Inventory {
    fn merge<T: Clone, K: Ord>(list: &[T], d: &ListDiff<T>, key: impl Fn(&T) -> K) -> Vec<T> {
        let mut m: BTreeMap<K, T> = list.iter().map(|x| (key(x), x.clone())).collect();
        for r in &d.removed {
            m.remove(&key(r));
        }
        for x in d.added.iter().chain(d.changed.iter()) {
            m.insert(key(x), x.clone());
        }
        m.into_values().collect()
    }
    Inventory {
        hostname: d.hostname.clone().unwrap_or_else(|| base.hostname.clone()),
        os: d.os.clone().unwrap_or_else(|| base.os.clone()),
        hardware: d.hardware.clone().unwrap_or_else(|| base.hardware.clone()),
        disks: merge(&base.disks, &d.disks, |x| x.name.clone()),
        packages: merge(&base.packages, &d.packages, |p| {
            (p.name.clone(), p.arch.clone())
        }),
        enabled_services: merge(&base.enabled_services, &d.enabled_services, |s| s.clone()),
        running_services: merge(&base.running_services, &d.running_services, |s| s.clone()),
        listening: merge(&base.listening, &d.listening, |l| l.clone()),
        local_accounts: merge(&base.local_accounts, &d.local_accounts, |a| a.name.clone()),
        usb_devices: merge(&base.usb_devices, &d.usb_devices, |u| {
            (
                u.port.clone(),
                u.vendor_id.clone(),
                u.product_id.clone(),
                u.serial.clone(),
            )
        }),
        pending_security_updates: d
            .pending_security_updates
            .clone()
            .unwrap_or_else(|| base.pending_security_updates.clone()),
        clock: d.clock.clone().or_else(|| base.clock.clone()),
    }
}

/// What a device is, for the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceClass {
    /// USB sticks, card readers, external disks.
    MassStorage,
    /// CD/DVD drives.
    Optical,
    /// Phones and cameras (MTP, PTP).
    Phone,
    Bluetooth,
    /// Keyboards, mice: always allowed.
    Hid,
    Hub,
    Other,
}

/// What happens to a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Deny,
    /// Usable for reading only (storage); for devices that cannot be made read-only, deny.
    ReadOnly,
    Allow,
}

/// One interface of a device: (class, subclass, protocol) in hex, and its name if it has one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    pub class: String,
    pub subclass: String,
    pub protocol: String,
    pub name: String,
}

/// A USB device as sysfs shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Bus path (`1-2`).
    pub port: String,
    pub vendor_id: String,
    pub product_id: String,
    pub serial: String,
    pub manufacturer: String,
    pub product: String,
    pub device_class: String,
    pub interfaces: Vec<Interface>,
}

/// An exception: one device (vendor:product, and serial when given) allowed for some users or PC
/// groups, until a time if it is temporary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exception {
    pub vendor_id: String,
    pub product_id: String,
    /// Empty: any serial.
    #[serde(default)]
    pub serial: String,
    pub mode: Mode,
    /// Login users it is for; empty: anyone.
    #[serde(default)]
    pub users: Vec<String>,
    /// PC groups it is for; empty: every PC.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Unix ms after which it no longer applies.
    #[serde(default)]
    pub expires_ms: Option<i64>,
    /// Why it was granted (shown in the log).
    #[serde(default)]
    pub note: String,
}

/// The removable-media policy of one PC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub mass_storage: Mode,
    pub optical: Mode,
    pub phone: Mode,
    pub bluetooth: Mode,
    pub other: Mode,
    #[serde(default)]
    pub exceptions: Vec<Exception>,
    /// Storage that is allowed may be written only when it is encrypted (LUKS): any other
    /// partition on it is made read-only. An emergency unlock lifts this too.
    #[serde(default)]
    pub encrypted_only: bool,
}

impl Policy {
    /// What applies before any policy is read, or when it cannot be: deny everything (but
    /// keyboards, mice and hubs).
    pub fn fail_closed() -> Policy {
        Policy {
            mass_storage: Mode::Deny,
            optical: Mode::Deny,
            phone: Mode::Deny,
            bluetooth: Mode::Deny,
            other: Mode::Deny,
            exceptions: Vec::new(),
            encrypted_only: false,
        }
    }
}

/// A decision and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub mode: Mode,
    pub class: DeviceClass,
    /// Which rule decided: `class:mass_storage`, `exception:0781:5583:…`, `hid`, `hub`.
    pub rule: String,
}

/// What the agent did with one device: the record logged before the device was usable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub device: Device,
    pub decision: Decision,
    pub user: Option<String>,
    pub at_ms: i64,
}

/// One window of validity of an emergency unlock code: a code is good in the window it was
/// made in and the next.
pub const UNLOCK_WINDOW_MS: i64 = 10 * 60 * 1000;
/// The unlock lengths a code can carry, in minutes.
pub const UNLOCK_LENGTHS: [u32; 4] = [15, 30, 60, 120];

/// The emergency unlock code of PC `pc_id` (the agent's id as text) for `minutes` in ten-minute
/// window `window`: eight digits of an HMAC-SHA256 under the secret the PC got at enrolment
/// (RFC 4226's dynamic truncation). The server makes it; the agent checks it offline.
pub fn unlock_code(secret: &[u8], pc_id: &str, minutes: u32, window: i64) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(b"mamori-unlock-v1\0");
    mac.update(pc_id.as_bytes());
    mac.update(b"\0");
    mac.update(&minutes.to_be_bytes());
    mac.update(&window.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let off = usize::from(h.last().copied().unwrap_or(0) & 0x0f);
    let word = h
        .get(off..off + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
        .unwrap_or(0)
        & 0x7fff_ffff;
    format!("{:08}", word % 100_000_000)
}

/// The code an administrator reads out: for PC `pc_id`, unlocking for `minutes` (one of
/// [`UNLOCK_LENGTHS`]), made at `now_ms`.
pub fn issue_unlock_code(secret: &[u8], pc_id: &str, minutes: u32, now_ms: i64) -> String {
    unlock_code(secret, pc_id, minutes, now_ms.div_euclid(UNLOCK_WINDOW_MS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_read_back_from_hex_and_nothing_else_does() {
        let pin: [u8; 32] = std::array::from_fn(|i| (i * 9) as u8);
        assert_eq!(pin_from_hex(&hex(&pin)), Some(pin));
        assert_eq!(pin_from_hex(&hex(&pin).to_uppercase()), Some(pin));
        assert_eq!(pin_from_hex(&hex(&pin[..31])), None);
        assert_eq!(pin_from_hex(&"zz".repeat(32)), None);
        // 64 bytes, but not 64 ASCII digits: no panic on a character boundary.
        assert_eq!(pin_from_hex(&format!("{}é", "a".repeat(62))), None);
        assert_eq!(pin_from_hex(""), None);
    }
}
