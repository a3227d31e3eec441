//! Inventory of a Linux PC or server, read from the files the kernel and the distribution keep
//! (`/etc`, `/proc`, `/sys`, `/var/lib/dpkg`, `/var/log/lastlog`): the machine, the OS, disks and
//! whether they are encrypted, installed packages, enabled and running services, listening
//! ports, local accounts with their last login, and USB devices.
//!
//! Packages come from dpkg's status file here; on rpm-based systems [`LinuxInventory`] asks
//! rpm (see [`crate::rpm`]).
//!
//! Everything is read under a root directory, so tests read a recorded tree and the agent reads
//! `/`. What the machine does not have (no DMI in a VM, no USB bus) is left empty, never an
//! error: only a file that exists but cannot be read is one. A Windows collector will fill the
//! same [`Inventory`].

pub use mamori_proto::agent::{
    Disk, Hardware, Inventory, InventoryDiff, ListDiff, Listening, LocalAccount, Os, Package,
    UsbDevice, apply, diff,
};
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A file that exists but could not be read.
#[derive(Debug, thiserror::Error)]
#[error("inventory: {path}: {source}")]
pub struct InventoryError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// Where the files are read from: `/` on a machine, a recorded tree in tests.
#[derive(Debug, Clone)]
pub struct Root(PathBuf);

impl Root {
    pub fn new(path: impl Into<PathBuf>) -> Root {
        Root(path.into())
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel.trim_start_matches('/'))
    }

    /// A path under the root.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.path(rel)
    }

    /// The file's text; `None` when it does not exist (or is not readable as a plain file the
    /// kernel did not provide).
    fn text(&self, rel: &str) -> Result<Option<String>, InventoryError> {
        let p = self.path(rel);
        match fs::read(&p) {
            Ok(b) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound
                        | io::ErrorKind::PermissionDenied
                        | io::ErrorKind::InvalidInput
                ) =>
            {
                Ok(None)
            }
            Err(e) if e.raw_os_error() == Some(21) => Ok(None), // a directory
            Err(source) => Err(InventoryError { path: p, source }),
        }
    }

    fn line(&self, rel: &str) -> Result<String, InventoryError> {
        Ok(self
            .text(rel)?
            .map(|s| s.trim().to_string())
            .unwrap_or_default())
    }

    fn bytes(&self, rel: &str) -> Option<Vec<u8>> {
        fs::read(self.path(rel)).ok()
    }

    fn dir(&self, rel: &str) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.path(rel))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

/// `KEY=value` lines of os-release (quotes removed).
pub fn os_release(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_string(),
                v.trim().trim_matches('"').trim_matches('\'').to_string(),
            )
        })
        .collect()
}

/// Installed packages of a dpkg `status` file (only those whose status ends in `installed`).
pub fn dpkg_packages(status: &str) -> Vec<Package> {
    stanzas(status, true)
}

/// Every package of an apt package index (`…_Packages`).
pub fn index_packages(index: &str) -> Vec<Package> {
    stanzas(index, false)
}

fn stanzas(text: &str, installed_only: bool) -> Vec<Package> {
    let mut out = Vec::new();
    for para in text.split("\n\n") {
        let mut name = "";
        let mut version = "";
        let mut arch = "";
        let mut installed = false;
        for l in para.lines() {
            if let Some(v) = l.strip_prefix("Package: ") {
                name = v.trim();
            } else if let Some(v) = l.strip_prefix("Version: ") {
                version = v.trim();
            } else if let Some(v) = l.strip_prefix("Architecture: ") {
                arch = v.trim();
            } else if let Some(v) = l.strip_prefix("Status: ") {
                installed = v.trim().ends_with(" installed");
            }
        }
        if (installed || !installed_only) && !name.is_empty() {
            out.push(Package {
                name: name.to_string(),
                version: version.to_string(),
                arch: arch.to_string(),
            });
        }
    }
    out.sort();
    out
}

fn hex_ipv4(h: &str) -> Option<String> {
    let n = u32::from_str_radix(h, 16).ok()?;
    // /proc/net/tcp writes the address in the host's (little-endian) order.
    let b = n.to_le_bytes();
    Some(format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]))
}

fn hex_ipv6(h: &str) -> Option<String> {
    if h.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(4).enumerate() {
        let word = u32::from_str_radix(h.get(i * 8..i * 8 + 8)?, 16).ok()?;
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    Some(std::net::Ipv6Addr::from(bytes).to_string())
}

/// Listening sockets of one `/proc/net/{tcp,tcp6,udp,udp6}` table: TCP in state LISTEN (`0A`),
/// UDP bound and unconnected (`07`).
pub fn proc_net(text: &str, proto: &str, v6: bool) -> Vec<Listening> {
    let want = if proto == "tcp" { "0A" } else { "07" };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let local = f.nth(1)?;
            let _remote = f.next()?;
            let state = f.next()?;
            if state != want {
                return None;
            }
            let (addr, port) = local.split_once(':')?;
            Some(Listening {
                proto: proto.to_string(),
                address: if v6 { hex_ipv6(addr)? } else { hex_ipv4(addr)? },
                port: u16::from_str_radix(port, 16).ok()?,
            })
        })
        .collect()
}

/// Local accounts of `/etc/passwd`, with the last login from `lastlog` when given (a record of
/// 292 bytes per uid whose first 4 bytes are the time in seconds; 0 is "never").
pub fn passwd_accounts(passwd: &str, lastlog: Option<&[u8]>) -> Vec<LocalAccount> {
    const RECORD: usize = 4 + 32 + 256;
    passwd
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let name = f.first()?.trim();
            let uid: u32 = f.get(2)?.parse().ok()?;
            let shell = f.get(6).copied().unwrap_or("");
            let can_log_in = !shell.is_empty()
                && !shell.ends_with("nologin")
                && !shell.ends_with("/false")
                && !shell.ends_with("/sync");
            let last_login_ms = lastlog.and_then(|b| {
                let at = (uid as usize).checked_mul(RECORD)?;
                let t = u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?);
                (t != 0).then_some(i64::from(t) * 1000)
            });
            (!name.is_empty()).then(|| LocalAccount {
                name: name.to_string(),
                uid,
                can_log_in,
                last_login_ms,
            })
        })
        .collect()
}

/// Total memory of `/proc/meminfo` in bytes.
pub fn meminfo_total(text: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .unwrap_or(0)
}

/// (CPU model, hardware threads) of `/proc/cpuinfo`.
pub fn cpuinfo(text: &str) -> (String, u32) {
    let model = text
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            matches!(k.trim(), "model name" | "Model" | "cpu model").then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    let threads = text
        .lines()
        .filter(|l| l.split(':').next().is_some_and(|k| k.trim() == "processor"))
        .count();
    (model, u32::try_from(threads).unwrap_or(u32::MAX))
}

/// Collects the inventory under `root`, pending updates from the index under it (see
/// [`LinuxInventory`]).
pub fn collect(root: &Root) -> Result<Inventory, InventoryError> {
    LinuxInventory::new(root.clone()).collect()
}

/// What the files under `root` tell, everything but pending updates (which need the package
/// manager's index: [`LinuxInventory`]).
fn read_machine(root: &Root) -> Result<Inventory, InventoryError> {
    let mut inv = Inventory {
        hostname: root.line("etc/hostname")?,
        ..Default::default()
    };
    if inv.hostname.is_empty() {
        inv.hostname = root.line("proc/sys/kernel/hostname")?;
    }
    let rel = os_release(
        &root
            .text("etc/os-release")?
            .or(root.text("usr/lib/os-release")?)
            .unwrap_or_default(),
    );
    let get = |k: &str| rel.get(k).cloned().unwrap_or_default();
    inv.os = Os {
        id: get("ID"),
        name: get("PRETTY_NAME"),
        version: get("VERSION_ID"),
        kernel: root.line("proc/sys/kernel/osrelease")?,
    };
    let (cpu_model, cpu_threads) = cpuinfo(&root.text("proc/cpuinfo")?.unwrap_or_default());
    inv.hardware = Hardware {
        vendor: root.line("sys/class/dmi/id/sys_vendor")?,
        model: root.line("sys/class/dmi/id/product_name")?,
        serial: root.line("sys/class/dmi/id/product_serial")?,
        cpu_model,
        cpu_threads,
        memory_bytes: meminfo_total(&root.text("proc/meminfo")?.unwrap_or_default()),
    };
    // Disks: whole devices under /sys/block, not loop, ram or zram devices, nor the dm
    // mappings themselves (their encryption is credited to the disk they sit on).
    let crypt_holders = |dev: &str| -> Result<bool, InventoryError> {
        let mut stack = vec![format!("sys/block/{dev}")];
        for part in root.dir(&format!("sys/block/{dev}")) {
            if part.starts_with(dev) {
                stack.push(format!("sys/block/{dev}/{part}"));
            }
        }
        for base in stack {
            for holder in root.dir(&format!("{base}/holders")) {
                if root
                    .line(&format!("sys/block/{holder}/dm/uuid"))?
                    .starts_with("CRYPT-")
                {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    };
    for dev in root.dir("sys/block") {
        if ["loop", "ram", "zram", "dm-", "sr", "md"]
            .iter()
            .any(|p| dev.starts_with(p))
        {
            continue;
        }
        let sectors: u64 = root
            .line(&format!("sys/block/{dev}/size"))?
            .parse()
            .unwrap_or(0);
        inv.disks.push(Disk {
            model: root.line(&format!("sys/block/{dev}/device/model"))?,
            size_bytes: sectors * 512,
            removable: root.line(&format!("sys/block/{dev}/removable"))? == "1",
            encrypted: crypt_holders(&dev)?,
            name: dev,
        });
    }
    inv.packages = dpkg_packages(&root.text("var/lib/dpkg/status")?.unwrap_or_default());
    let mut services: Vec<String> = Vec::new();
    for wants in root
        .dir("etc/systemd/system")
        .into_iter()
        .filter(|d| d.ends_with(".wants"))
    {
        services.extend(
            root.dir(&format!("etc/systemd/system/{wants}"))
                .into_iter()
                .filter(|u| u.ends_with(".service")),
        );
    }
    services.sort();
    services.dedup();
    inv.enabled_services = services;
    inv.running_services = running_services(root)?;
    for (file, proto, v6) in [
        ("proc/net/tcp", "tcp", false),
        ("proc/net/tcp6", "tcp", true),
        ("proc/net/udp", "udp", false),
        ("proc/net/udp6", "udp", true),
    ] {
        if let Some(t) = root.text(file)? {
            inv.listening.extend(proc_net(&t, proto, v6));
        }
    }
    inv.listening.sort();
    inv.listening.dedup();
    inv.local_accounts = passwd_accounts(
        &root.text("etc/passwd")?.unwrap_or_default(),
        root.bytes("var/log/lastlog").as_deref(),
    );
    // Every list in the order of its key, so that a rebuilt inventory equals a collected one.
    inv.local_accounts.sort_by(|a, b| a.name.cmp(&b.name));
    for port in root.dir("sys/bus/usb/devices") {
        // Devices are `1-1`, `1-1.2`; interfaces (`1-1:1.0`) and root hubs (`usb1`) are not.
        if port.contains(':') || port.starts_with("usb") {
            continue;
        }
        let base = format!("sys/bus/usb/devices/{port}");
        let mut class = root.line(&format!("{base}/bDeviceClass"))?;
        if class.is_empty() || class == "00" {
            class = root.line(&format!("{base}/{port}:1.0/bInterfaceClass"))?;
        }
        inv.usb_devices.push(UsbDevice {
            vendor_id: root.line(&format!("{base}/idVendor"))?,
            product_id: root.line(&format!("{base}/idProduct"))?,
            serial: root.line(&format!("{base}/serial"))?,
            manufacturer: root.line(&format!("{base}/manufacturer"))?,
            product: root.line(&format!("{base}/product"))?,
            class,
            port,
        });
    }
    Ok(inv)
}

/// Services with live processes, from systemd's control groups: `system.slice` under the
/// unified hierarchy (cgroup v2) or the `systemd` one (v1), nested slices included
/// (`system-getty.slice/getty@tty1.service`). A service's group is populated while any of its
/// processes runs — the kernel's answer, which needs neither D-Bus nor `systemctl`. A machine
/// without systemd has none of these directories and reports none.
pub fn running_services(root: &Root) -> Result<Vec<String>, InventoryError> {
    let mut found = Vec::new();
    for base in [
        "sys/fs/cgroup/system.slice",
        "sys/fs/cgroup/unified/system.slice",
        "sys/fs/cgroup/systemd/system.slice",
    ] {
        let mut stack = vec![base.to_string()];
        while let Some(dir) = stack.pop() {
            for name in root.dir(&dir) {
                let path = format!("{dir}/{name}");
                if name.ends_with(".slice") {
                    stack.push(path);
                } else if name.ends_with(".service") && populated(root, &path)? {
                    found.push(name);
                }
            }
        }
        if !found.is_empty() {
            break;
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// A control group with processes in it: `populated 1` in `cgroup.events` (v2), or a
/// non-empty `cgroup.procs` (v1).
fn populated(root: &Root, dir: &str) -> Result<bool, InventoryError> {
    if let Some(events) = root.text(&format!("{dir}/cgroup.events"))? {
        return Ok(events
            .lines()
            .any(|l| l.split_whitespace().eq(["populated", "1"])));
    }
    Ok(root
        .text(&format!("{dir}/cgroup.procs"))?
        .is_some_and(|p| !p.trim().is_empty()))
}

/// Reads the inventory of this machine.
pub fn collect_local() -> Result<Inventory, InventoryError> {
    collect(&Root::new(Path::new("/")))
}

/// Reads the machine's inventory. On Linux it is [`LinuxInventory`]; a Windows
/// implementation (WMI and the registry for hardware, software and services, the Windows
/// Update agent for pending updates, BitLocker for encryption) sits beside it behind this
/// trait, and the diffs, spool and uploads stay the same.
pub trait InventorySource: Send {
    fn collect(&self) -> Result<Inventory, InventoryError>;
}

/// A Linux machine read from its files under a root (`/`, or a recorded tree in tests), with
/// pending security updates from apt's security index under it.
#[derive(Debug, Clone)]
pub struct LinuxInventory {
    pub root: Root,
    pub apt_lists: std::path::PathBuf,
}

impl LinuxInventory {
    pub fn new(root: Root) -> LinuxInventory {
        let apt_lists = root.join("var/lib/apt/lists");
        LinuxInventory { root, apt_lists }
    }
}

impl InventorySource for LinuxInventory {
    /// dpkg's packages and apt's security index on Debian and Ubuntu; on a machine without
    /// dpkg packages but with an rpm database (the Red Hat family, SUSE), rpm's packages and
    /// dnf's cached security advisories (see [`crate::rpm`]).
    fn collect(&self) -> Result<Inventory, InventoryError> {
        let mut inv = read_machine(&self.root)?;
        match crate::rpm::database(&self.root) {
            Some(db) if inv.packages.is_empty() => {
                inv.packages = crate::rpm::installed(&self.root, db)?;
                inv.pending_security_updates =
                    crate::rpm::security_updates(&self.root, &inv.packages);
            }
            _ => {
                inv.pending_security_updates =
                    crate::updates::pending_security_updates(&inv.packages, &self.apt_lists);
            }
        }
        Ok(inv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_reads_listening_sockets_of_both_families() {
        let tcp = "  sl  local_address rem_address   st\n\
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n\
   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1\n\
   2: 0F02000A:0016 0100000A:D431 01 00000000:00000000 00:00000000 00000000     0        0 3 1\n";
        let got = proc_net(tcp, "tcp", false);
        assert_eq!(
            got,
            vec![
                Listening {
                    proto: "tcp".into(),
                    address: "0.0.0.0".into(),
                    port: 22
                },
                Listening {
                    proto: "tcp".into(),
                    address: "127.0.0.1".into(),
                    port: 8080
                },
            ]
        );
        let tcp6 = "  sl  local_address rem_address st\n\
   0: 00000000000000000000000001000000:0277 00000000000000000000000000000000:0000 0A 0 0 0 0 0 1 1\n";
        let got = proc_net(tcp6, "tcp", true);
        assert_eq!(got[0].address, "::1");
        assert_eq!(got[0].port, 631);
    }

    #[test]
    fn passwd_and_lastlog_give_accounts_that_can_log_in_and_when() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
yamada:x:1000:1000:山田:/home/yamada:/bin/bash\n";
        let mut lastlog = vec![0u8; 292 * 1001];
        lastlog[292 * 1000..292 * 1000 + 4].copy_from_slice(&1_764_000_000u32.to_le_bytes());
        let a = passwd_accounts(passwd, Some(&lastlog));
        assert_eq!(a.len(), 3);
        assert!(a[0].can_log_in && a[0].last_login_ms.is_none());
        assert!(!a[1].can_log_in);
        assert_eq!(a[2].last_login_ms, Some(1_764_000_000_000));
    }

    #[test]
    fn dpkg_status_lists_installed_packages_only() {
        let status = "Package: openssh-server\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:9.2p1-2+deb12u3\n\n\
Package: old\nStatus: deinstall ok config-files\nVersion: 1\n\n\
Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b7\n";
        let p = dpkg_packages(status);
        let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["bash", "openssh-server"]);
        assert_eq!(p[1].version, "1:9.2p1-2+deb12u3");
    }
}
