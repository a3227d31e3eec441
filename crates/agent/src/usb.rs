//! Removable-media control on Linux through the kernel's USB authorisation, as USBGuard does:
//! new devices start unauthorised (`authorized_default` = 0 on every root hub, written at start
//! — fail closed), and each one the kernel announces (a `uevent`) is read from sysfs,
//! classified, decided by the policy, logged, and only then authorised (`authorized` = 1).
//!
//! Keyboards and mice are never locked out. A device that also has a storage or phone
//! interface (a "keyboard" that is a USB stick) is judged by that interface.

pub use mamori_proto::agent::{
    Decision, DecisionRecord, Device, DeviceClass, Exception, Interface, Mode, Policy,
};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The class of a device: the riskiest of its interfaces.
pub fn classify(d: &Device) -> DeviceClass {
    let of = |i: &Interface| match (i.class.as_str(), i.subclass.as_str()) {
        ("08", "02") => DeviceClass::Optical,
        ("08", _) => DeviceClass::MassStorage,
        ("06", _) => DeviceClass::Phone,
        ("ff", _) if i.name.to_ascii_uppercase().contains("MTP") => DeviceClass::Phone,
        ("e0", "01") => DeviceClass::Bluetooth,
        ("03", _) => DeviceClass::Hid,
        ("09", _) => DeviceClass::Hub,
        _ => DeviceClass::Other,
    };
    let rank = |c: DeviceClass| match c {
        DeviceClass::MassStorage => 0,
        DeviceClass::Phone => 1,
        DeviceClass::Optical => 2,
        DeviceClass::Bluetooth => 3,
        DeviceClass::Other => 4,
        DeviceClass::Hub => 5,
        DeviceClass::Hid => 6,
    };
    let mut classes: Vec<DeviceClass> = d.interfaces.iter().map(of).collect();
    if classes.is_empty() {
        classes.push(if d.device_class == "09" {
            DeviceClass::Hub
        } else {
            DeviceClass::Other
        });
    }
    classes
        .into_iter()
        .min_by_key(|c| rank(*c))
        .unwrap_or(DeviceClass::Other)
}

/// Who and where, at the time of the decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The user logged in at the console, if any.
    pub user: Option<String>,
    /// The PC's groups.
    pub groups: Vec<String>,
    pub now_ms: i64,
    /// An emergency unlock (see `unlock`) in force until this time: storage is allowed.
    pub unlocked_until_ms: Option<i64>,
}

/// Decides what happens to `d` under `policy` in `ctx`.
pub fn decide(policy: &Policy, d: &Device, ctx: &Context) -> Decision {
    let class = classify(d);
    match class {
        DeviceClass::Hid => {
            return Decision {
                mode: Mode::Allow,
                class,
                rule: "hid".into(),
            };
        }
        DeviceClass::Hub => {
            return Decision {
                mode: Mode::Allow,
                class,
                rule: "hub".into(),
            };
        }
        _ => {}
    }
    let read_only_ok = matches!(class, DeviceClass::MassStorage | DeviceClass::Optical);
    if read_only_ok && ctx.unlocked_until_ms.is_some_and(|t| ctx.now_ms < t) {
        return Decision {
            mode: Mode::Allow,
            class,
            rule: "unlock".into(),
        };
    }
    let fit = |m: Mode| match m {
        Mode::ReadOnly if !read_only_ok => Mode::Deny,
        m => m,
    };
    let hit = policy.exceptions.iter().find(|e| {
        e.vendor_id.eq_ignore_ascii_case(&d.vendor_id)
            && e.product_id.eq_ignore_ascii_case(&d.product_id)
            && (e.serial.is_empty() || e.serial == d.serial)
            && e.expires_ms.is_none_or(|t| ctx.now_ms < t)
            && (e.users.is_empty()
                || ctx
                    .user
                    .as_ref()
                    .is_some_and(|u| e.users.iter().any(|x| x == u)))
            && (e.groups.is_empty() || e.groups.iter().any(|g| ctx.groups.contains(g)))
    });
    if let Some(e) = hit {
        return Decision {
            mode: fit(e.mode),
            class,
            rule: format!("exception:{}:{}:{}", e.vendor_id, e.product_id, e.serial),
        };
    }
    let (mode, name) = match class {
        DeviceClass::MassStorage => (policy.mass_storage, "mass_storage"),
        DeviceClass::Optical => (policy.optical, "optical"),
        DeviceClass::Phone => (policy.phone, "phone"),
        DeviceClass::Bluetooth => (policy.bluetooth, "bluetooth"),
        _ => (policy.other, "other"),
    };
    Decision {
        mode: fit(mode),
        class,
        rule: format!("class:{name}"),
    }
}

/// A kernel uevent (the netlink message `ACTION@DEVPATH\0KEY=value\0…`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UEvent {
    pub action: String,
    pub devpath: String,
    pub subsystem: String,
    pub devtype: String,
    /// The device node under /dev (`sdb`, `sdb1`), for block devices.
    pub devname: String,
}

impl UEvent {
    /// The USB device (bus path such as `1-2` or `1-1.4`) this event's device sits under, if
    /// any: for `/devices/…/usb1/1-2/1-2:1.0/host6/…/block/sdb` it is `1-2`.
    pub fn usb_port(&self) -> Option<String> {
        usb_port_of(&self.devpath)
    }
}

/// The USB device a sysfs device path sits under (see [`UEvent::usb_port`]).
pub fn usb_port_of(devpath: &str) -> Option<String> {
    let is_port = |c: &str| {
        c.split_once('-').is_some_and(|(bus, rest)| {
            !bus.is_empty()
                && bus.bytes().all(|b| b.is_ascii_digit())
                && !rest.is_empty()
                && rest.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        })
    };
    let mut port = None;
    for c in devpath.split('/') {
        if c.contains(':') && port.is_some() {
            break;
        }
        if is_port(c) {
            port = Some(c.to_string());
        }
    }
    port
}

/// Reads a uevent message; `None` when it is not one.
pub fn parse_uevent(msg: &[u8]) -> Option<UEvent> {
    let mut parts = msg.split(|b| *b == 0).filter(|p| !p.is_empty());
    let head = std::str::from_utf8(parts.next()?).ok()?;
    let (action, devpath) = head.split_once('@')?;
    let mut ev = UEvent {
        action: action.to_string(),
        devpath: devpath.to_string(),
        ..Default::default()
    };
    for p in parts {
        let Ok(kv) = std::str::from_utf8(p) else {
            continue;
        };
        match kv.split_once('=') {
            Some(("SUBSYSTEM", v)) => ev.subsystem = v.to_string(),
            Some(("DEVTYPE", v)) => ev.devtype = v.to_string(),
            Some(("DEVNAME", v)) => ev.devname = v.to_string(),
            Some(("ACTION", v)) => ev.action = v.to_string(),
            _ => {}
        }
    }
    Some(ev)
}

/// Why the control could not act.
#[derive(Debug, thiserror::Error)]
pub enum UsbError {
    #[error("usb: {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("usb: the decision could not be logged, the device stays blocked: {0}")]
    NotLogged(String),
}

/// The device bus as the control sees it. On Linux it is [`Sysfs`] (the kernel's USB
/// authorisation); a Windows implementation (device installation restrictions and disabling
/// through SetupAPI/CfgMgr32, volumes through the mount manager) sits beside it behind this
/// trait, and the control loop, the policy and the log stay the same.
pub trait DeviceBus: Send + std::fmt::Debug {
    /// Fail closed: no new device is usable until the control decides. Returns what was set.
    fn block_new_devices(&self) -> Result<Vec<String>, UsbError>;
    /// The devices present, by their bus path.
    fn present_devices(&self) -> Vec<String>;
    /// The device at `port`.
    fn device(&self, port: &str) -> Device;
    /// Makes the device usable, or takes that back.
    fn authorize(&self, port: &str, yes: bool) -> Result<(), UsbError>;
    /// The block devices (volumes) of the device at `port`.
    fn block_devices_of(&self, port: &str) -> Vec<String>;
    /// The device a block device belongs to, when it is a USB one.
    fn usb_port_of_block(&self, name: &str) -> Option<String>;
}

/// The sysfs the control reads and writes: `/sys` on a machine, a recorded tree in tests.
#[derive(Debug, Clone)]
pub struct Sysfs(PathBuf);

impl DeviceBus for Sysfs {
    fn block_new_devices(&self) -> Result<Vec<String>, UsbError> {
        Sysfs::block_new_devices(self)
    }
    fn present_devices(&self) -> Vec<String> {
        Sysfs::present_devices(self)
    }
    fn device(&self, port: &str) -> Device {
        Sysfs::device(self, port)
    }
    fn authorize(&self, port: &str, yes: bool) -> Result<(), UsbError> {
        Sysfs::authorize(self, port, yes)
    }
    fn block_devices_of(&self, port: &str) -> Vec<String> {
        Sysfs::block_devices_of(self, port)
    }
    fn usb_port_of_block(&self, name: &str) -> Option<String> {
        Sysfs::usb_port_of_block(self, name)
    }
}

impl Sysfs {
    pub fn new(root: impl Into<PathBuf>) -> Sysfs {
        Sysfs(root.into())
    }

    fn usb(&self) -> PathBuf {
        self.0.join("bus/usb/devices")
    }

    fn read(p: &Path) -> String {
        fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }

    fn write(p: &Path, v: &str) -> Result<(), UsbError> {
        fs::write(p, v).map_err(|source| UsbError::Io {
            path: p.to_path_buf(),
            source,
        })
    }

    /// Fail closed: no new device is authorised until the agent decides (every root hub's
    /// `authorized_default` set to 0). Returns the hubs set; none on a machine without a USB
    /// bus (a virtual server).
    pub fn block_new_devices(&self) -> Result<Vec<String>, UsbError> {
        let mut hubs = Vec::new();
        let entries = match fs::read_dir(self.usb()) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(hubs),
            other => other.map_err(|source| UsbError::Io {
                path: self.usb(),
                source,
            })?,
        };
        for e in entries {
            let Ok(e) = e else { continue };
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("usb") {
                Self::write(&e.path().join("authorized_default"), "0")?;
                hubs.push(name);
            }
        }
        hubs.sort();
        Ok(hubs)
    }

    /// The USB devices present (bus paths such as `1-2`; root hubs and interfaces left out).
    pub fn present_devices(&self) -> Vec<String> {
        let mut ports: Vec<String> = fs::read_dir(self.usb())
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| usb_port_of(&format!("/{n}")).as_deref() == Some(n.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        ports.sort();
        ports
    }

    /// The block devices (disks and partitions, by name under /dev) that sit under the USB
    /// device at `port`, found through the `/sys/class/block` links.
    pub fn block_devices_of(&self, port: &str) -> Vec<String> {
        let mut out: Vec<String> = fs::read_dir(self.0.join("class/block"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| {
                        fs::read_link(e.path()).is_ok_and(|target| {
                            usb_port_of(&target.to_string_lossy()).as_deref() == Some(port)
                        })
                    })
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    /// The USB device a block device (`sdb1`) sits under, through its `/sys/class/block` link.
    pub fn usb_port_of_block(&self, name: &str) -> Option<String> {
        let target = fs::read_link(self.0.join("class/block").join(name)).ok()?;
        usb_port_of(&target.to_string_lossy())
    }

    /// Whether the USB device at `port` is authorised now.
    pub fn is_authorized(&self, port: &str) -> bool {
        Self::read(&self.usb().join(port).join("authorized")) == "1"
    }

    /// The device at bus path `port`.
    pub fn device(&self, port: &str) -> Device {
        let base = self.usb().join(port);
        let get = |f: &str| Self::read(&base.join(f));
        let mut interfaces: Vec<(String, Interface)> = fs::read_dir(&base)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        name.starts_with(&format!("{port}:")).then(|| {
                            let p = e.path();
                            (
                                name,
                                Interface {
                                    class: Self::read(&p.join("bInterfaceClass")),
                                    subclass: Self::read(&p.join("bInterfaceSubClass")),
                                    protocol: Self::read(&p.join("bInterfaceProtocol")),
                                    name: Self::read(&p.join("interface")),
                                },
                            )
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        interfaces.sort_by(|a, b| a.0.cmp(&b.0));
        Device {
            port: port.to_string(),
            vendor_id: get("idVendor"),
            product_id: get("idProduct"),
            serial: get("serial"),
            manufacturer: get("manufacturer"),
            product: get("product"),
            device_class: get("bDeviceClass"),
            interfaces: interfaces.into_iter().map(|(_, i)| i).collect(),
        }
    }

    /// Authorises the device at `port` (or takes the authorisation back).
    pub fn authorize(&self, port: &str, yes: bool) -> Result<(), UsbError> {
        Self::write(
            &self.usb().join(port).join("authorized"),
            if yes { "1" } else { "0" },
        )
    }
}

/// Handles one uevent: for a USB device added, reads it, decides, logs the decision through
/// `log` (which must make it durable), then authorises it — or leaves it blocked when the
/// policy says so or the log failed. Other events are ignored (`None`).
///
/// A read-only device is authorised: the caller makes its block devices read-only as they
/// appear (see `enforce`), before anything can mount them.
pub fn handle(
    sysfs: &dyn DeviceBus,
    msg: &[u8],
    policy: &Policy,
    ctx: &Context,
    log: &mut dyn FnMut(&DecisionRecord) -> Result<(), String>,
) -> Result<Option<DecisionRecord>, UsbError> {
    let Some(ev) = parse_uevent(msg) else {
        return Ok(None);
    };
    if ev.action != "add" || ev.subsystem != "usb" || ev.devtype != "usb_device" {
        return Ok(None);
    }
    let Some(port) = ev.devpath.rsplit('/').next().filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let device = sysfs.device(port);
    let decision = decide(policy, &device, ctx);
    let record = DecisionRecord {
        device,
        decision,
        user: ctx.user.clone(),
        at_ms: ctx.now_ms,
    };
    decided(sysfs, record, log).map(Some)
}

/// Logs `record`, then authorises its device unless the decision is deny.
pub fn decided(
    sysfs: &dyn DeviceBus,
    record: DecisionRecord,
    log: &mut dyn FnMut(&DecisionRecord) -> Result<(), String>,
) -> Result<DecisionRecord, UsbError> {
    log(&record).map_err(UsbError::NotLogged)?;
    sysfs.authorize(&record.device.port, record.decision.mode != Mode::Deny)?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(classes: &[(&str, &str, &str)]) -> Device {
        Device {
            port: "1-2".into(),
            vendor_id: "0781".into(),
            product_id: "5583".into(),
            serial: "4C53".into(),
            interfaces: classes
                .iter()
                .map(|(c, s, n)| Interface {
                    class: c.to_string(),
                    subclass: s.to_string(),
                    protocol: String::new(),
                    name: n.to_string(),
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn devices_are_classified_by_their_riskiest_interface() {
        assert_eq!(
            classify(&dev(&[("08", "06", "")])),
            DeviceClass::MassStorage
        );
        assert_eq!(classify(&dev(&[("08", "02", "")])), DeviceClass::Optical);
        assert_eq!(classify(&dev(&[("06", "01", "")])), DeviceClass::Phone);
        assert_eq!(classify(&dev(&[("ff", "ff", "MTP")])), DeviceClass::Phone);
        assert_eq!(classify(&dev(&[("e0", "01", "")])), DeviceClass::Bluetooth);
        assert_eq!(classify(&dev(&[("03", "01", "")])), DeviceClass::Hid);
        // A "keyboard" with a storage interface is storage.
        assert_eq!(
            classify(&dev(&[("03", "01", ""), ("08", "06", "")])),
            DeviceClass::MassStorage
        );
    }

    #[test]
    fn the_policy_decides_with_exceptions_by_device_user_group_and_time() {
        let mut p = Policy::fail_closed();
        p.mass_storage = Mode::ReadOnly;
        p.exceptions.push(Exception {
            vendor_id: "0781".into(),
            product_id: "5583".into(),
            serial: "4C53".into(),
            mode: Mode::Allow,
            users: vec!["yamada".into()],
            groups: vec![],
            expires_ms: Some(1_000),
            note: "検査データの持ち出し（承認済み）".into(),
        });
        let stick = dev(&[("08", "06", "")]);
        let ctx = |user: Option<&str>, now| Context {
            user: user.map(Into::into),
            groups: vec!["reception".into()],
            now_ms: now,
            unlocked_until_ms: None,
        };
        let d = decide(&p, &stick, &ctx(Some("yamada"), 500));
        assert_eq!(d.mode, Mode::Allow);
        assert!(d.rule.starts_with("exception:0781:5583:4C53"));
        // Another user, or after expiry: the class rule.
        assert_eq!(
            decide(&p, &stick, &ctx(Some("sato"), 500)).mode,
            Mode::ReadOnly
        );
        assert_eq!(
            decide(&p, &stick, &ctx(Some("yamada"), 1_000)).rule,
            "class:mass_storage"
        );
        // A phone cannot be read-only: denied.
        p.phone = Mode::ReadOnly;
        assert_eq!(
            decide(&p, &dev(&[("06", "01", "")]), &ctx(None, 0)).mode,
            Mode::Deny
        );
        // An emergency unlock allows storage until it ends; phones stay as the policy says.
        let unlocked = Context {
            unlocked_until_ms: Some(2_000),
            ..ctx(None, 1_500)
        };
        assert_eq!(
            decide(&Policy::fail_closed(), &stick, &unlocked).rule,
            "unlock"
        );
        assert_eq!(
            decide(&Policy::fail_closed(), &dev(&[("06", "01", "")]), &unlocked).mode,
            Mode::Deny
        );
        let over = Context {
            now_ms: 2_000,
            ..unlocked
        };
        assert_eq!(
            decide(&Policy::fail_closed(), &stick, &over).mode,
            Mode::Deny
        );
        // Keyboards are never locked out, even fail-closed.
        let kb = decide(
            &Policy::fail_closed(),
            &dev(&[("03", "01", "")]),
            &ctx(None, 0),
        );
        assert_eq!((kb.mode, kb.rule.as_str()), (Mode::Allow, "hid"));
    }

    #[test]
    fn a_machine_without_a_usb_bus_has_nothing_to_block() {
        let dir = std::env::temp_dir().join(format!("mamori-no-usb-{}", std::process::id()));
        let sys = Sysfs::new(&dir);
        assert_eq!(sys.block_new_devices().unwrap(), Vec::<String>::new());
        assert!(sys.present_devices().is_empty());
    }

    #[test]
    fn uevents_are_read_from_the_kernels_messages() {
        let msg = b"add@/devices/pci0000:00/0000:00:14.0/usb1/1-2\0ACTION=add\0DEVPATH=/devices/pci0000:00/0000:00:14.0/usb1/1-2\0SUBSYSTEM=usb\0MAJOR=189\0MINOR=2\0DEVNAME=bus/usb/001/003\0DEVTYPE=usb_device\0PRODUCT=781/5583/100\0TYPE=0/0/0\0BUSNUM=001\0DEVNUM=003\0SEQNUM=4821\0";
        let ev = parse_uevent(msg).unwrap();
        assert_eq!(ev.action, "add");
        assert_eq!(ev.subsystem, "usb");
        assert_eq!(ev.devtype, "usb_device");
        assert!(ev.devpath.ends_with("/usb1/1-2"));
        assert_eq!(parse_uevent(b"garbage"), None);
    }
}
