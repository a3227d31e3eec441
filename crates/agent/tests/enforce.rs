//! The USB control loop against a recorded sysfs tree (a USB stick with two block devices, a
//! keyboard, the PC's own NVMe disk) and the kernel's real uevent messages: fail closed at
//! start, decisions by the signed policy in force, read-only storage, the emergency unlock
//! and a policy that no longer verifies. Where the machine allows (root, loop devices), a real
//! file system is made read-only under its mount.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey};
use mamori_agent::enforce::{self, BlockControl, Enforcer, console_user, mount_points};
use mamori_agent::spool::{Limits, Spool};
use mamori_agent::state::{Identity, StateDir};
use mamori_agent::unlock::{UnlockError, issue};
use mamori_agent::usb::{Mode, Policy, Sysfs};
use mamori_proto::agent::{EntryBody, PolicyBody, SignedPolicy};
use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};

mod common;
use common::{LoopDevice, run};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const T0: i64 = 1_764_650_000_000;
const UNLOCK_SECRET: [u8; 32] = [7; 32];
const USB: &str = "/devices/pci0000:00/0000:00:14.0/usb1";

fn put(base: &Path, rel: &str, v: &str) {
    let p = base.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, format!("{v}\n")).unwrap();
}

fn link(base: &Path, name: &str, target: &str) {
    let d = base.join("class/block");
    fs::create_dir_all(&d).unwrap();
    std::os::unix::fs::symlink(format!("../..{target}"), d.join(name)).unwrap();
}

/// /sys with the stick (1-2, disk sdb and partition sdb1), a keyboard (1-3) and an NVMe disk.
fn sysfs(root: &Path) -> Sysfs {
    let d = root.join("bus/usb/devices");
    put(&d, "usb1/authorized_default", "1");
    put(&d, "usb1/bDeviceClass", "09");
    for (port, vendor, product, serial, class) in [
        ("1-2", "0781", "5583", "4C530001231122109384", "08"),
        ("1-3", "046d", "c31c", "", "03"),
    ] {
        put(&d, &format!("{port}/idVendor"), vendor);
        put(&d, &format!("{port}/idProduct"), product);
        put(&d, &format!("{port}/serial"), serial);
        put(&d, &format!("{port}/bDeviceClass"), "00");
        put(&d, &format!("{port}/authorized"), "1");
        put(&d, &format!("{port}/{port}:1.0/bInterfaceClass"), class);
        put(&d, &format!("{port}/{port}:1.0/bInterfaceSubClass"), "06");
        put(&d, &format!("{port}/{port}:1.0/bInterfaceProtocol"), "50");
    }
    let stick = format!("{USB}/1-2/1-2:1.0/host6/target6:0:0/6:0:0:0/block/sdb");
    link(root, "sdb", &stick);
    link(root, "sdb1", &format!("{stick}/sdb1"));
    link(
        root,
        "nvme0n1",
        "/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1",
    );
    Sysfs::new(root)
}

fn authorized(root: &Path, port: &str) -> String {
    fs::read_to_string(root.join(format!("bus/usb/devices/{port}/authorized")))
        .unwrap()
        .trim()
        .to_string()
}

/// Records what would be made read-only (and writable again); fails for names in `broken`;
/// `encrypted` hold LUKS.
#[derive(Clone, Default)]
struct Recorded {
    calls: Arc<Mutex<Vec<String>>>,
    writable: Arc<Mutex<Vec<String>>>,
    broken: Vec<String>,
    encrypted: Vec<String>,
}

impl BlockControl for Recorded {
    fn set_read_only(&mut self, devname: &str) -> Result<(), String> {
        self.calls.lock().unwrap().push(devname.to_string());
        if self.broken.iter().any(|b| b == devname) {
            return Err("BLKROSET: permission denied".into());
        }
        Ok(())
    }

    fn is_encrypted(&mut self, devname: &str) -> bool {
        self.encrypted.iter().any(|e| e == devname)
    }

    fn set_read_write(&mut self, devname: &str) -> Result<(), String> {
        self.writable.lock().unwrap().push(devname.to_string());
        Ok(())
    }
}

struct Pc {
    _tmp: tempfile::TempDir,
    root: std::path::PathBuf,
    dir: StateDir,
    server_key: SigningKey,
    spool: Arc<Mutex<Spool>>,
    blocks: Recorded,
    enforcer: Enforcer,
}

fn sign(key: &SigningKey, body: &PolicyBody) -> SignedPolicy {
    let text = serde_json::to_string(body).unwrap();
    SignedPolicy {
        signature: B64.encode(
            key.sign(&mamori_proto::agent::policy_message(&text))
                .to_bytes(),
        ),
        body: text,
    }
}

fn policy(version: u64, storage: Mode) -> PolicyBody {
    let mut usb = Policy::fail_closed();
    usb.mass_storage = storage;
    PolicyBody {
        version,
        agent_id: Some(7),
        issued_ms: T0,
        groups: vec!["reception".into()],
        usb,
        ntp_server: None,
        acked_seq: None,
        server_pins: Vec::new(),
    }
}

fn pc(broken: &[&str]) -> Pc {
    pc_with(broken, &[])
}

fn pc_with(broken: &[&str], encrypted: &[&str]) -> Pc {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("sys");
    let sys = sysfs(&root);
    let dir = StateDir::new(tmp.path().join("state"));
    dir.create().unwrap();
    let server_key = SigningKey::from_bytes(&[3; 32]);
    let id = Identity {
        agent_id: 7,
        server: "http://127.0.0.1:9".into(),
        pin: String::new(),
        key: B64.encode([1u8; 32]),
        policy_key: B64.encode(server_key.verifying_key().as_bytes()),
        unlock_secret: B64.encode(UNLOCK_SECRET),
        enrolled_ms: T0,
    };
    dir.save_identity(&id).unwrap();
    dir.save_policy(&sign(&server_key, &policy(1, Mode::ReadOnly)))
        .unwrap();
    let sessions = tmp.path().join("sessions");
    fs::create_dir_all(&sessions).unwrap();
    fs::write(
        sessions.join("3"),
        "# This is private data. Do not parse.\nUID=1001\nUSER=uketsuke\nACTIVE=1\nSEAT=seat0\nTYPE=x11\n",
    )
    .unwrap();
    fs::write(
        sessions.join("9"),
        "UID=0\nUSER=root\nACTIVE=1\nREMOTE=1\nTYPE=tty\n",
    )
    .unwrap();
    let (spool, _) = Spool::open(&dir.spool_dir(), Limits::default()).unwrap();
    let spool = Arc::new(Mutex::new(spool));
    let blocks = Recorded {
        broken: broken.iter().map(|s| s.to_string()).collect(),
        encrypted: encrypted.iter().map(|s| s.to_string()).collect(),
        ..Recorded::default()
    };
    let enforcer = Enforcer::new(
        Box::new(sys),
        dir.clone(),
        id,
        spool.clone(),
        sessions,
        Box::new(blocks.clone()),
    );
    Pc {
        _tmp: tmp,
        root,
        dir,
        server_key,
        spool,
        blocks,
        enforcer,
    }
}

fn logged(pc: &Pc) -> Vec<(String, Mode, String, Option<String>)> {
    enforce::lock(&pc.spool)
        .pending(1000, 1 << 20)
        .unwrap()
        .iter()
        .map(
            |e| match serde_json::from_slice::<EntryBody>(&e.payload).unwrap() {
                EntryBody::Device { record } => (
                    record.device.port,
                    record.decision.mode,
                    record.decision.rule,
                    record.user,
                ),
                other => panic!("not a device entry: {other:?}"),
            },
        )
        .collect()
}

fn block_event(action: &str, rel: &str, devname: &str, devtype: &str) -> Vec<u8> {
    let path = format!("{USB}/{rel}");
    format!(
        "{action}@{path}\0ACTION={action}\0DEVPATH={path}\0SUBSYSTEM=block\0MAJOR=8\0MINOR=32\0\
         DEVNAME={devname}\0DEVTYPE={devtype}\0SEQNUM=5120\0"
    )
    .into_bytes()
}

#[test]
fn at_start_every_device_present_is_decided_logged_and_read_only_storage_protected() {
    let mut pc = pc(&[]);
    let decided = pc.enforcer.start(T0).unwrap();
    // Fail closed for what comes next.
    assert_eq!(
        fs::read_to_string(pc.root.join("bus/usb/devices/usb1/authorized_default"))
            .unwrap()
            .trim(),
        "0"
    );
    assert_eq!(decided.len(), 2);
    // The stick: read-only by the signed policy, authorised, both its block devices set
    // read-only; the PC's own disk untouched.
    assert_eq!(authorized(&pc.root, "1-2"), "1");
    assert_eq!(*pc.blocks.calls.lock().unwrap(), ["sdb", "sdb1"]);
    assert_eq!(pc.enforcer.read_only_ports(), ["1-2"]);
    // Logged with the console user (the active seat0 session, not the remote root shell).
    assert_eq!(
        logged(&pc),
        [
            (
                "1-2".to_string(),
                Mode::ReadOnly,
                "class:mass_storage".to_string(),
                Some("uketsuke".to_string())
            ),
            (
                "1-3".to_string(),
                Mode::Allow,
                "hid".to_string(),
                Some("uketsuke".to_string())
            ),
        ]
    );

    // A partition the kernel announces later under the stick is protected as it appears;
    // one under another device is not.
    pc.enforcer
        .on_message(
            &block_event(
                "add",
                "1-2/1-2:1.0/host6/target6:0:0/6:0:0:0/block/sdb/sdb2",
                "sdb2",
                "partition",
            ),
            T0 + 1,
        )
        .unwrap();
    pc.enforcer
        .on_message(
            &block_event(
                "add",
                "1-5/1-5:1.0/host7/target7:0:0/7:0:0:0/block/sdc",
                "sdc",
                "disk",
            ),
            T0 + 2,
        )
        .unwrap();
    assert_eq!(*pc.blocks.calls.lock().unwrap(), ["sdb", "sdb1", "sdb2"]);

    // Nothing changed: no new decisions.
    assert!(pc.enforcer.refresh(T0 + 3).unwrap().is_empty());

    // The stick is pulled: its later block events are not its.
    let remove = format!(
        "remove@{USB}/1-2\0ACTION=remove\0DEVPATH={USB}/1-2\0SUBSYSTEM=usb\0DEVTYPE=usb_device\0"
    );
    pc.enforcer.on_message(remove.as_bytes(), T0 + 4).unwrap();
    assert!(pc.enforcer.read_only_ports().is_empty());
}

#[test]
fn encrypted_media_only_leaves_write_access_on_luks_volumes_alone() {
    // The stick has a LUKS partition (sdb1); its disk sdb holds the partition table.
    let mut pc = pc_with(&[], &["sdb1"]);
    let mut body = policy(2, Mode::Allow);
    body.usb.encrypted_only = true;
    pc.dir.save_policy(&sign(&pc.server_key, &body)).unwrap();
    let decided = pc.enforcer.start(T0).unwrap();
    assert_eq!(decided[0].decision.mode, Mode::Allow);
    assert_eq!(authorized(&pc.root, "1-2"), "1");
    // Nothing to protect yet: the disk is left to its partitions, the partition is LUKS.
    assert!(pc.blocks.calls.lock().unwrap().is_empty());
    // A plain partition appears on it: read-only. A LUKS one would not be.
    pc.enforcer
        .on_message(
            &block_event(
                "add",
                "1-2/1-2:1.0/host6/target6:0:0/6:0:0:0/block/sdb/sdb2",
                "sdb2",
                "partition",
            ),
            T0 + 1,
        )
        .unwrap();
    assert_eq!(*pc.blocks.calls.lock().unwrap(), ["sdb2"]);
    // An emergency unlock lifts it: decided again with rule "unlock", nothing more protected.
    let code = issue(&UNLOCK_SECRET, "7", 15, T0 + 2);
    enforce::unlock(&pc.dir, &code, T0 + 2).unwrap();
    let again = pc.enforcer.refresh(T0 + 3).unwrap();
    assert_eq!(again[0].decision.rule, "unlock");
    assert_eq!(pc.blocks.calls.lock().unwrap().len(), 1);

    // Without a LUKS volume the whole stick is read-only where it stands.
    let mut plain = pc_with(&[], &[]);
    plain
        .dir
        .save_policy(&sign(&plain.server_key, &body))
        .unwrap();
    plain.enforcer.start(T0).unwrap();
    assert_eq!(*plain.blocks.calls.lock().unwrap(), ["sdb1"]);
}

#[test]
fn a_block_device_that_cannot_be_made_read_only_takes_the_stick_offline() {
    let mut pc = pc(&["sdb1"]);
    let e = pc.enforcer.start(T0).unwrap_err();
    assert!(e.to_string().contains("sdb1"), "{e}");
    assert_eq!(authorized(&pc.root, "1-2"), "0");
    assert!(pc.enforcer.read_only_ports().is_empty());
}

#[test]
fn a_new_policy_an_unverifiable_one_and_an_unlock_are_applied_to_the_devices_present() {
    let mut pc = pc(&[]);
    pc.enforcer.start(T0).unwrap();
    // The server's next policy allows storage: decided again, authorised.
    pc.dir
        .save_policy(&sign(&pc.server_key, &policy(2, Mode::Allow)))
        .unwrap();
    let again = pc.enforcer.refresh(T0 + 10).unwrap();
    assert_eq!(again.len(), 2);
    assert_eq!(again[0].decision.mode, Mode::Allow);
    assert!(pc.enforcer.read_only_ports().is_empty());
    // Its volumes, read-only until now, are writable again.
    assert_eq!(*pc.blocks.writable.lock().unwrap(), ["sdb", "sdb1"]);

    // A policy file someone edited no longer verifies: deny-all (keyboards still work).
    let mut forged = sign(&pc.server_key, &policy(3, Mode::Allow));
    forged.body = forged.body.replace("\"version\":3", "\"version\":4");
    pc.dir.save_policy(&forged).unwrap();
    let denied = pc.enforcer.refresh(T0 + 20).unwrap();
    assert_eq!(denied[0].decision.mode, Mode::Deny);
    assert_eq!(authorized(&pc.root, "1-2"), "0");
    assert_eq!(authorized(&pc.root, "1-3"), "1");

    // An administrator reads out a 30-minute code: storage is allowed at once …
    let now = T0 + 30;
    let code = issue(&UNLOCK_SECRET, "7", 30, now);
    let u = enforce::unlock(&pc.dir, &format!("{} {}", &code[..4], &code[4..]), now).unwrap();
    assert_eq!(u.minutes, 30);
    let unlocked = pc.enforcer.refresh(now + 1).unwrap();
    assert_eq!(
        (
            unlocked[0].decision.mode,
            unlocked[0].decision.rule.as_str()
        ),
        (Mode::Allow, "unlock")
    );
    assert_eq!(authorized(&pc.root, "1-2"), "1");
    // … the code works once …
    assert!(matches!(
        enforce::unlock(&pc.dir, &code, now + 2),
        Err(enforce::UnlockCommandError::Code(UnlockError::Used))
    ));
    // … and when the time is up the stick is blocked again.
    let over = now + 30 * 60_000;
    let relocked = pc.enforcer.refresh(over).unwrap();
    assert_eq!(relocked[0].decision.mode, Mode::Deny);
    assert_eq!(authorized(&pc.root, "1-2"), "0");

    // Wrong codes are counted across runs of the command: the fifth locks entry.
    for _ in 0..4 {
        assert!(matches!(
            enforce::unlock(&pc.dir, "0000-0000", over),
            Err(enforce::UnlockCommandError::Code(UnlockError::Wrong))
        ));
    }
    assert!(enforce::unlock(&pc.dir, "0000-0000", over).is_err());
    let fresh = issue(&UNLOCK_SECRET, "7", 15, over);
    assert!(matches!(
        enforce::unlock(&pc.dir, &fresh, over + 1),
        Err(enforce::UnlockCommandError::Code(
            UnlockError::Locked { .. }
        ))
    ));
    // Every decision was logged before it took effect.
    assert_eq!(logged(&pc).len(), 2 * 5);
}

#[test]
fn the_console_user_and_mount_points_are_read_as_the_system_writes_them() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(console_user(tmp.path()), None);
    fs::write(tmp.path().join("5"), "USER=kango\nACTIVE=0\nSEAT=seat0\n").unwrap();
    assert_eq!(console_user(tmp.path()), None);
    fs::write(tmp.path().join("6"), "USER=ishi\nACTIVE=1\nSEAT=seat1\n").unwrap();
    assert_eq!(console_user(tmp.path()).as_deref(), Some("ishi"));
    fs::write(
        tmp.path().join("7"),
        "USER=uketsuke\nACTIVE=1\nSEAT=seat0\n",
    )
    .unwrap();
    assert_eq!(console_user(tmp.path()).as_deref(), Some("uketsuke"));

    let table = "/dev/nvme0n1p2 / ext4 rw,relatime 0 0\n\
                 /dev/sdb1 /media/uketsuke/USB\\040DISK vfat rw,nosuid,nodev 0 0\n\
                 /dev/sdb1 /mnt/copy vfat rw 0 0\n";
    assert_eq!(
        mount_points(table, "/dev/sdb1"),
        ["/media/uketsuke/USB DISK", "/mnt/copy"]
    );
    assert!(mount_points(table, "/dev/sdb").is_empty());

    // LUKS is told by its header (here device nodes are files with the first sector).
    let dev = tmp.path().join("dev");
    fs::create_dir_all(&dev).unwrap();
    let mut luks2 = enforce::LUKS_MAGIC.to_vec();
    luks2.extend_from_slice(&[0, 2]);
    luks2.resize(512, 0);
    fs::write(dev.join("sdb1"), &luks2).unwrap();
    fs::write(dev.join("sdb2"), [0xeb, 0x3c, 0x90, b'm', b'k', b'f', b's']).unwrap();
    let mut c = enforce::Commands {
        dev,
        mounts: tmp.path().join("mounts"),
    };
    assert!(c.is_encrypted("sdb1"));
    assert!(!c.is_encrypted("sdb2"));
    assert!(!c.is_encrypted("sdz"));
}

/// The real thing: an ext4 file system on a loop device, mounted read-write with a file in it;
/// the control makes the device read-only and remounts it, and writing fails; loosened, the
/// same mount takes writes again. Needs root and
/// loop devices; says so and passes elsewhere.
#[test]
fn a_mounted_file_system_is_made_read_only_for_real() {
    let Some(dev) = LoopDevice::attach(16) else {
        return;
    };
    let (node, name) = (dev.node.clone(), dev.name.clone());
    let tmp = tempfile::tempdir().unwrap();
    let at = tmp.path().join("media");
    fs::create_dir_all(&at).unwrap();
    let result = std::panic::catch_unwind(|| {
        assert!(run("mkfs.ext4", &["-q", &node]).status.success());
        assert!(
            run("mount", &[&node, at.to_str().unwrap()])
                .status
                .success()
        );
        fs::write(at.join("before.txt"), b"written while allowed").unwrap();
        let mut control = enforce::Commands::default();
        control.set_read_only(&name).unwrap();
        let ro = run("blockdev", &["--getro", &node]);
        assert_eq!(String::from_utf8_lossy(&ro.stdout).trim(), "1");
        let e = fs::write(at.join("after.txt"), b"must not land").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(30), "EROFS expected, got {e}");
        assert_eq!(
            fs::read(at.join("before.txt")).unwrap(),
            b"written while allowed"
        );
        // A looser policy (or an unlock) gives the flag back, and the mount that is there
        // becomes writable without plugging the stick again.
        control.set_read_write(&name).unwrap();
        let ro = run("blockdev", &["--getro", &node]);
        assert_eq!(String::from_utf8_lossy(&ro.stdout).trim(), "0");
        fs::write(at.join("after.txt"), b"allowed again").unwrap();
        assert_eq!(fs::read(at.join("after.txt")).unwrap(), b"allowed again");
    });
    run("umount", &[at.to_str().unwrap()]);
    drop(dev);
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

/// The kernel's uevent socket receives the kernel's own messages: attaching a loop device
/// (root only) makes the kernel announce it, and the message reads as the control expects; a
/// block device that is not under USB is left alone. Elsewhere the socket opens and waits.
#[cfg(target_os = "linux")]
#[test]
fn the_kernel_uevent_socket_receives_the_kernels_messages() {
    let s = enforce::netlink::UEventSocket::open(std::time::Duration::from_millis(500)).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let Some(dev) = LoopDevice::attach(4) else {
        eprintln!("only the socket: needs root and loop devices for a kernel message");
        let _ = s.next(&mut buf).unwrap();
        return;
    };
    let name = dev.name.clone();
    let mut seen = None;
    for _ in 0..10 {
        match s.next(&mut buf).unwrap() {
            Some(n) => {
                let ev = mamori_agent::usb::parse_uevent(&buf[..n]).unwrap();
                if ev.devname == name {
                    seen = Some((buf[..n].to_vec(), ev));
                    break;
                }
            }
            None => break,
        }
    }
    drop(dev);
    let Some((raw, ev)) = seen else {
        // Containers outside the host's network namespace get no uevents at all.
        eprintln!("no kernel message arrived for {name} (no uevents in this namespace)");
        return;
    };
    assert_eq!(ev.subsystem, "block");
    assert_eq!(ev.devtype, "disk");
    assert!(ev.devpath.ends_with(&format!("/block/{name}")), "{ev:?}");
    assert_eq!(ev.usb_port(), None);
    // Handed to the control: not a USB device's, nothing happens.
    let mut pc = pc(&[]);
    assert!(pc.enforcer.on_message(&raw, T0).unwrap().is_none());
    assert!(pc.blocks.calls.lock().unwrap().is_empty());
}
