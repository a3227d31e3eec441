//! Removable-media control at work: the loop that listens to the kernel's device messages and
//! applies the policy in force, on its own thread beside the inventory/upload cycle.
//!
//! - At start it fails closed (no new USB device is authorised until decided) and decides every
//!   device already plugged in.
//! - For each USB device the kernel announces it decides with the last good signed policy (or
//!   deny-all when none verifies), the PC's groups, the user at the console and any emergency
//!   unlock in force; logs the decision durably to the spool; then authorises the device.
//! - Read-only storage is authorised, and each of its block devices is set read-only
//!   ([`BlockControl`]) as the kernel announces it, before a desktop can mount it; a mount that
//!   is there already is remounted read-only. If that fails the device is de-authorised.
//! - Under "encrypted media only", allowed storage keeps write access only on LUKS volumes:
//!   every other partition (or an unpartitioned stick) is set read-only the same way.
//! - When the policy or the unlock changes, the devices present are decided again; volumes of a
//!   device no longer read-only get their flag back (the next mount is writable).

use crate::run::AgentError;
use crate::spool::{Kind, Spool};
use crate::state::{self, Identity, StateDir, UnlockState};
use crate::unlock::{Unlock, UnlockError, Verifier};
use crate::usb::{self, Context, DecisionRecord, DeviceBus, Mode, Policy, UEvent, UsbError};
use base64::Engine as _;
use mamori_proto::agent::EntryBody;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Makes a block device read-only. On Linux: `blockdev --setro`, then `mount -o remount,ro` for
/// each place it is mounted. Tests record the calls instead.
pub trait BlockControl: Send {
    fn set_read_only(&mut self, devname: &str) -> Result<(), String>;

    /// Whether the block device holds a LUKS (encrypted) volume.
    fn is_encrypted(&mut self, devname: &str) -> bool;

    /// Takes the read-only flag back (a looser policy, an unlock) and makes the file systems
    /// mounted from it writable again, so the person at the PC need not plug the stick again.
    fn set_read_write(&mut self, devname: &str) -> Result<(), String>;
}

/// The LUKS header's first bytes (LUKS1 and LUKS2 alike).
pub const LUKS_MAGIC: &[u8; 6] = b"LUKS\xba\xbe";

/// [`BlockControl`] through util-linux's `blockdev` and `mount`.
#[derive(Debug, Clone)]
pub struct Commands {
    /// Where device nodes are (`/dev`).
    pub dev: PathBuf,
    /// The mount table (`/proc/self/mounts`).
    pub mounts: PathBuf,
}

impl Default for Commands {
    fn default() -> Commands {
        Commands {
            dev: PathBuf::from("/dev"),
            mounts: PathBuf::from("/proc/self/mounts"),
        }
    }
}

fn run(cmd: &str, args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The mount points of `node` in a mount table (`/proc/self/mounts` format, octal escapes).
pub fn mount_points(table: &str, node: &str) -> Vec<String> {
    let unescape = |s: &str| {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find('\\') {
            out.push_str(rest.get(..i).unwrap_or_default());
            let code = rest.get(i + 1..i + 4).unwrap_or_default();
            match u8::from_str_radix(code, 8) {
                Ok(b) if code.len() == 3 => {
                    out.push(char::from(b));
                    rest = rest.get(i + 4..).unwrap_or_default();
                }
                _ => {
                    out.push('\\');
                    rest = rest.get(i + 1..).unwrap_or_default();
                }
            }
        }
        out.push_str(rest);
        out
    };
    table
        .lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let (src, at) = (f.next()?, f.next()?);
            (unescape(src) == node).then(|| unescape(at))
        })
        .collect()
}

impl BlockControl for Commands {
    fn set_read_only(&mut self, devname: &str) -> Result<(), String> {
        let node = self.dev.join(devname);
        let node = node.to_string_lossy();
        run("blockdev", &["--setro", &node])?;
        let table = fs::read_to_string(&self.mounts).unwrap_or_default();
        for at in mount_points(&table, &node) {
            run("mount", &["-o", "remount,ro", &at])?;
        }
        Ok(())
    }

    fn set_read_write(&mut self, devname: &str) -> Result<(), String> {
        let node = self.dev.join(devname);
        let node = node.to_string_lossy();
        run("blockdev", &["--setrw", &node])?;
        let table = fs::read_to_string(&self.mounts).unwrap_or_default();
        for at in mount_points(&table, &node) {
            run("mount", &["-o", "remount,rw", &at])?;
        }
        Ok(())
    }

    fn is_encrypted(&mut self, devname: &str) -> bool {
        use std::io::Read as _;
        let mut magic = [0u8; 6];
        fs::File::open(self.dev.join(devname))
            .and_then(|mut f| f.read_exact(&mut magic))
            .is_ok_and(|()| &magic == LUKS_MAGIC)
    }
}

/// The user at the console: the active session on `seat0` in logind's session files
/// (`/run/systemd/sessions`), else any active session with a seat.
pub fn console_user(sessions: &Path) -> Option<String> {
    let mut best: Option<(bool, String)> = None;
    for e in fs::read_dir(sessions).ok()?.filter_map(|e| e.ok()) {
        let Ok(text) = fs::read_to_string(e.path()) else {
            continue;
        };
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
                .map(str::trim)
                .unwrap_or_default()
                .to_string()
        };
        let (user, seat) = (get("USER"), get("SEAT"));
        if get("ACTIVE") != "1" || user.is_empty() || seat.is_empty() {
            continue;
        }
        let on_seat0 = seat == "seat0";
        if best.as_ref().is_none_or(|(b, _)| on_seat0 && !b) {
            best = Some((on_seat0, user));
        }
    }
    best.map(|(_, u)| u)
}

/// What the policy in force is, to know when to decide again.
#[derive(Debug, Clone, PartialEq, Eq)]
struct InForce {
    version: Option<u64>,
    unlocked: bool,
}

/// The control loop's state.
pub struct Enforcer {
    /// The device bus (`usb::Sysfs` on Linux).
    pub bus: Box<dyn DeviceBus>,
    dir: StateDir,
    id: Identity,
    spool: Arc<Mutex<Spool>>,
    sessions: PathBuf,
    block: Box<dyn BlockControl>,
    /// Devices decided read-only, by port.
    read_only: BTreeMap<String, DecisionRecord>,
    /// Storage allowed only where it is encrypted (`Policy::encrypted_only`), by port.
    encrypted_only: std::collections::BTreeSet<String>,
    applied: Option<InForce>,
}

impl std::fmt::Debug for Enforcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enforcer")
            .field("bus", &self.bus)
            .field("read_only", &self.read_only.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Appends an event to the spool: durable when this returns `Ok`. A full spool counts the
/// event in its gap and this says so (a decision that is not logged is not applied).
pub fn append_event(spool: &Mutex<Spool>, at_ms: i64, body: &EntryBody) -> Result<(), String> {
    let payload = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    match lock(spool).append(Kind::Event, at_ms, &payload) {
        Ok(crate::spool::Appended::Stored(_)) => Ok(()),
        Ok(crate::spool::Appended::Dropped) => {
            Err("the spool is full (counted as a gap)".to_string())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Locks the spool; a thread that panicked while holding it cannot have left it half-written
/// (every append is complete on disk or not there), so its guard is taken over.
pub fn lock(spool: &Mutex<Spool>) -> std::sync::MutexGuard<'_, Spool> {
    spool
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Enforcer {
    pub fn new(
        bus: Box<dyn DeviceBus>,
        dir: StateDir,
        id: Identity,
        spool: Arc<Mutex<Spool>>,
        sessions: PathBuf,
        block: Box<dyn BlockControl>,
    ) -> Enforcer {
        Enforcer {
            bus,
            dir,
            id,
            spool,
            sessions,
            block,
            read_only: BTreeMap::new(),
            encrypted_only: std::collections::BTreeSet::new(),
            applied: None,
        }
    }

    /// The policy in force and the context of a decision at `now_ms`.
    pub fn context(&self, now_ms: i64) -> (Policy, Context) {
        let (p, c, _) = self.context_in_force(now_ms);
        (p, c)
    }

    fn context_in_force(&self, now_ms: i64) -> (Policy, Context, InForce) {
        let (policy, groups, version) = match state::verified_policy(&self.dir, &self.id) {
            Some((_, body)) => (body.usb, body.groups, Some(body.version)),
            None => (Policy::fail_closed(), Vec::new(), None),
        };
        let until = self.dir.unlock().map(|u| u.until_ms).unwrap_or(0);
        let unlocked = now_ms < until;
        let ctx = Context {
            user: console_user(&self.sessions),
            groups,
            now_ms,
            unlocked_until_ms: unlocked.then_some(until),
        };
        (policy, ctx, InForce { version, unlocked })
    }

    fn log(&self, record: &DecisionRecord) -> Result<(), String> {
        let body = EntryBody::Device {
            record: record.clone(),
        };
        append_event(&self.spool, record.at_ms, &body)
    }

    /// Fails closed, then decides every device present. Returns the decisions.
    pub fn start(&mut self, now_ms: i64) -> Result<Vec<DecisionRecord>, UsbError> {
        self.bus.block_new_devices()?;
        self.reconcile(now_ms)
    }

    /// Decides every device present again (the policy or the unlock changed).
    pub fn reconcile(&mut self, now_ms: i64) -> Result<Vec<DecisionRecord>, UsbError> {
        let (policy, ctx, key) = self.context_in_force(now_ms);
        self.applied = Some(key);
        let mut out = Vec::new();
        for port in self.bus.present_devices() {
            let device = self.bus.device(&port);
            let decision = usb::decide(&policy, &device, &ctx);
            let record = DecisionRecord {
                device,
                decision,
                user: ctx.user.clone(),
                at_ms: now_ms,
            };
            let record = usb::decided(self.bus.as_ref(), record, &mut |r| self.log(r))?;
            self.after_decision(&record, policy.encrypted_only)?;
            out.push(record);
        }
        Ok(out)
    }

    /// Decides again when the policy or the unlock changed since the last decisions.
    pub fn refresh(&mut self, now_ms: i64) -> Result<Vec<DecisionRecord>, UsbError> {
        let (_, _, key) = self.context_in_force(now_ms);
        if self.applied.as_ref() == Some(&key) {
            return Ok(Vec::new());
        }
        self.reconcile(now_ms)
    }

    /// A read-only device: its block devices present now are made read-only. Storage allowed
    /// under "encrypted only": its partitions that are not LUKS are.
    fn after_decision(
        &mut self,
        record: &DecisionRecord,
        encrypted_only: bool,
    ) -> Result<(), UsbError> {
        let port = record.device.port.clone();
        self.encrypted_only.remove(&port);
        let was_read_only = self.read_only.contains_key(&port);
        if record.decision.mode == Mode::ReadOnly {
            self.read_only.insert(port.clone(), record.clone());
            for name in self.bus.block_devices_of(&port) {
                self.protect(&port, &name)?;
            }
            return Ok(());
        }
        self.read_only.remove(&port);
        let only_encrypted = encrypted_only
            && record.decision.mode == Mode::Allow
            && record.decision.class == usb::DeviceClass::MassStorage
            && record.decision.rule != "unlock";
        if was_read_only && record.decision.mode == Mode::Allow {
            // Loosened (a new policy, an unlock): its volumes and their mounts become
            // writable again, except the unencrypted ones under "encrypted only", handled
            // below.
            for name in self.bus.block_devices_of(&port) {
                if only_encrypted && !self.block.is_encrypted(&name) {
                    continue;
                }
                if let Err(e) = self.block.set_read_write(&name) {
                    eprintln!("mamori-agent: {name}: stays read-only: {e}");
                }
            }
        }
        if only_encrypted {
            self.encrypted_only.insert(port.clone());
            let names = self.bus.block_devices_of(&port);
            for name in &names {
                // A disk with partitions is left to them (a LUKS partition must stay writable).
                let has_parts = names
                    .iter()
                    .any(|n| n != name && n.starts_with(name.as_str()));
                if !has_parts && !self.block.is_encrypted(name) {
                    self.protect(&port, name)?;
                }
            }
        }
        Ok(())
    }

    /// Makes `devname` read-only; when that fails, takes the device's authorisation back.
    fn protect(&mut self, port: &str, devname: &str) -> Result<(), UsbError> {
        if let Err(e) = self.block.set_read_only(devname) {
            self.bus.authorize(port, false)?;
            self.read_only.remove(port);
            return Err(UsbError::NotLogged(format!(
                "{devname} could not be made read-only, the device is blocked: {e}"
            )));
        }
        Ok(())
    }

    /// Handles one kernel message. Returns the decision when it was a USB device's arrival.
    pub fn on_message(
        &mut self,
        msg: &[u8],
        now_ms: i64,
    ) -> Result<Option<DecisionRecord>, UsbError> {
        let Some(ev) = usb::parse_uevent(msg) else {
            return Ok(None);
        };
        match (
            ev.action.as_str(),
            ev.subsystem.as_str(),
            ev.devtype.as_str(),
        ) {
            ("add", "usb", "usb_device") => {
                let (policy, ctx) = self.context(now_ms);
                let record =
                    usb::handle(self.bus.as_ref(), msg, &policy, &ctx, &mut |r| self.log(r))?;
                if let Some(r) = &record {
                    self.after_decision(r, policy.encrypted_only)?;
                }
                Ok(record)
            }
            ("remove", "usb", "usb_device") => {
                if let Some(port) = ev.usb_port() {
                    self.read_only.remove(&port);
                    self.encrypted_only.remove(&port);
                }
                Ok(None)
            }
            ("add" | "change", "block", _) => {
                self.on_block(&ev)?;
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    fn on_block(&mut self, ev: &UEvent) -> Result<(), UsbError> {
        let Some(port) = ev.usb_port() else {
            return Ok(());
        };
        if ev.devname.is_empty() {
            return Ok(());
        }
        let name = ev
            .devname
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        if self.read_only.contains_key(&port) {
            return self.protect(&port, &name);
        }
        if self.encrypted_only.contains(&port) && !self.block.is_encrypted(&name) {
            // A disk whose partitions are there is left to them.
            let has_parts = ev.devtype == "disk"
                && self
                    .bus
                    .block_devices_of(&port)
                    .iter()
                    .any(|n| n != &name && n.starts_with(name.as_str()));
            if !has_parts {
                return self.protect(&port, &name);
            }
        }
        Ok(())
    }

    /// The ports decided read-only.
    pub fn read_only_ports(&self) -> Vec<String> {
        self.read_only.keys().cloned().collect()
    }
}

/// Checks an emergency unlock code typed at this PC and, when it is good, keeps the unlock in
/// the state directory (the running agent decides the devices present again). Wrong codes are
/// counted across runs.
pub fn unlock(dir: &StateDir, code: &str, now_ms: i64) -> Result<Unlock, UnlockCommandError> {
    let id = dir.identity()?;
    let secret = B64
        .decode(&id.unlock_secret)
        .map_err(|_| UnlockCommandError::Secret)?;
    let mut st: UnlockState = dir.unlock()?;
    let mut v = Verifier::new(&secret, &id.agent_id.to_string());
    for (w, c) in &st.used {
        v.remember_used(*w, c);
    }
    v.restore_lockout(st.failures, st.locked_until_ms);
    let result = v.verify(code, now_ms);
    st.used = v.used().cloned().collect();
    (st.failures, st.locked_until_ms) = v.lockout();
    if let Ok(u) = &result {
        st.until_ms = st.until_ms.max(u.until_ms);
    }
    dir.save_unlock(&st)?;
    Ok(result?)
}

/// Why `mamori-agent unlock` refused.
#[derive(Debug, thiserror::Error)]
pub enum UnlockCommandError {
    #[error(transparent)]
    State(#[from] state::StateError),
    #[error("the stored unlock secret is damaged; enrol this PC again")]
    Secret,
    #[error(transparent)]
    Code(#[from] UnlockError),
}

impl From<UnlockCommandError> for AgentError {
    fn from(e: UnlockCommandError) -> AgentError {
        match e {
            UnlockCommandError::State(s) => AgentError::State(s),
            other => AgentError::Unlock(other.to_string()),
        }
    }
}

/// Listens to the kernel's device messages (netlink, `NETLINK_KOBJECT_UEVENT`, the kernel's
/// multicast group) on Linux.
#[cfg(target_os = "linux")]
pub mod netlink {
    use rustix::fd::OwnedFd;
    use rustix::net::netlink::{self, SocketAddrNetlink};
    use rustix::net::{AddressFamily, SocketFlags, SocketType, bind, recvfrom, socket_with};
    use std::io;
    use std::time::Duration;

    /// A bound uevent socket.
    #[derive(Debug)]
    pub struct UEventSocket(OwnedFd);

    impl UEventSocket {
        /// Opens the socket on the kernel's group (1), with a receive timeout so that the loop
        /// can look at the policy between messages.
        pub fn open(timeout: Duration) -> io::Result<UEventSocket> {
            let fd = socket_with(
                AddressFamily::NETLINK,
                SocketType::DGRAM,
                SocketFlags::CLOEXEC,
                Some(netlink::KOBJECT_UEVENT),
            )?;
            rustix::net::sockopt::set_socket_recv_buffer_size(&fd, 1 << 20)?;
            rustix::net::sockopt::set_socket_timeout(
                &fd,
                rustix::net::sockopt::Timeout::Recv,
                Some(timeout),
            )?;
            bind(&fd, &SocketAddrNetlink::new(0, 1))?;
            Ok(UEventSocket(fd))
        }

        /// The next message from the kernel, or `None` after the timeout. Messages from
        /// anyone but the kernel (netlink port 0) are dropped.
        pub fn next(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
            match recvfrom(&self.0, &mut *buf, rustix::net::RecvFlags::empty()) {
                Ok((n, _, Some(from))) => {
                    let kernel = SocketAddrNetlink::try_from(from).is_ok_and(|a| a.pid() == 0);
                    Ok(kernel.then_some(n))
                }
                Ok(_) => Ok(None),
                Err(e) if e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::INTR => Ok(None),
                Err(e) => Err(e.into()),
            }
        }
    }
}
