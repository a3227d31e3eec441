//! The Linux inventory, read from a recorded tree shaped like a clinic's reception PC (Ubuntu,
//! an encrypted NVMe disk, a USB stick and a keyboard plugged in), and from this machine.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mamori_agent::inventory::{Root, collect, collect_local};
use std::path::{Path, PathBuf};

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// The recorded tree, with a lastlog (a sparse 292-byte record per uid) where uketsuke (uid
/// 1000) last logged in at 2025-12-02 04:33:20 UTC.
fn pc_root() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("pc");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pc-root"),
        &root,
    );
    let mut lastlog = vec![0u8; 292 * 1002];
    lastlog[292 * 1000..292 * 1000 + 4].copy_from_slice(&1_764_650_000u32.to_le_bytes());
    std::fs::create_dir_all(root.join("var/log")).unwrap();
    std::fs::write(root.join("var/log/lastlog"), lastlog).unwrap();
    (dir, root)
}

#[test]
fn a_reception_pc_is_inventoried_from_its_files() {
    let (_dir, root) = pc_root();
    let inv = collect(&Root::new(&root)).unwrap();
    assert_eq!(inv.hostname, "uketsuke-pc01");
    assert_eq!(
        (
            inv.os.id.as_str(),
            inv.os.name.as_str(),
            inv.os.version.as_str()
        ),
        ("ubuntu", "Ubuntu 24.04.1 LTS", "24.04")
    );
    assert_eq!(inv.os.kernel, "6.8.0-49-generic");
    assert_eq!(inv.hardware.vendor, "LENOVO");
    assert_eq!(inv.hardware.serial, "PF4ABC12");
    assert_eq!(inv.hardware.cpu_threads, 4);
    assert!(inv.hardware.cpu_model.contains("i5-1335U"));
    assert_eq!(inv.hardware.memory_bytes, 16_115_640 * 1024);

    // The NVMe disk is encrypted (LUKS on its third partition); the USB stick is removable and
    // not; loop devices and the dm mapping itself are not disks.
    let names: Vec<&str> = inv.disks.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["nvme0n1", "sda"]);
    assert!(inv.disks[0].encrypted && !inv.disks[0].removable);
    assert_eq!(inv.disks[0].size_bytes, 1_000_215_216 * 512);
    assert!(!inv.disks[1].encrypted && inv.disks[1].removable);

    // Installed packages only (teamviewer left config files only).
    let pkgs: Vec<&str> = inv.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(pkgs, ["cups", "libreoffice-calc", "openssh-server"]);
    assert_eq!(
        inv.enabled_services,
        ["cups.service", "remote-support.service", "ssh.service"]
    );
    // Running: cups waits on its socket (no process); anydesk was started by hand without
    // being enabled; getty sits in a nested slice.
    assert_eq!(
        inv.running_services,
        [
            "anydesk.service",
            "cron.service",
            "getty@tty1.service",
            "remote-support.service",
            "ssh.service"
        ]
    );

    // Listening: ssh on all addresses, cups on loopback, a remote-support port; mDNS on UDP;
    // the established ssh session is not listening.
    let listening: Vec<String> = inv
        .listening
        .iter()
        .map(|l| format!("{}/{}:{}", l.proto, l.address, l.port))
        .collect();
    assert_eq!(
        listening,
        [
            "tcp/0.0.0.0:22",
            "tcp/0.0.0.0:5900",
            "tcp/127.0.0.1:631",
            "udp/0.0.0.0:5353"
        ]
    );

    // Accounts that can log in, and when uketsuke last did.
    let login: Vec<&str> = inv
        .local_accounts
        .iter()
        .filter(|a| a.can_log_in)
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(login, ["hoshu", "root", "uketsuke"]);
    let uketsuke = inv
        .local_accounts
        .iter()
        .find(|a| a.name == "uketsuke")
        .unwrap();
    assert_eq!(uketsuke.last_login_ms, Some(1_764_650_000_000));

    // USB devices: the stick (mass storage, from its interface) and the keyboard (HID); the
    // root hub is not a device.
    assert_eq!(inv.usb_devices.len(), 2);
    let stick = &inv.usb_devices[0];
    assert_eq!(
        (
            stick.vendor_id.as_str(),
            stick.product_id.as_str(),
            stick.class.as_str()
        ),
        ("0781", "5583", "08")
    );
    assert_eq!(stick.serial, "4C530001231122109384");
    assert_eq!(inv.usb_devices[1].class, "03");

    // The security archive has a newer openssh-server; cups and LibreOffice are current, and
    // openssh-client is not installed.
    let pending = inv.pending_security_updates.as_ref().expect("an index");
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (
            pending[0].name.as_str(),
            pending[0].installed.as_str(),
            pending[0].available.as_str()
        ),
        (
            "openssh-server",
            "1:9.6p1-3ubuntu13.5",
            "1:9.6p1-3ubuntu13.10"
        )
    );

    // It goes on the wire as JSON and comes back the same.
    let json = serde_json::to_string(&inv).unwrap();
    let back: mamori_agent::inventory::Inventory = serde_json::from_str(&json).unwrap();
    assert_eq!(back, inv);
}

#[test]
fn a_tree_without_dmi_usb_or_dpkg_gives_empty_fields_not_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(dir.path().join("etc/hostname"), "vm01\n").unwrap();
    let inv = collect(&Root::new(dir.path())).unwrap();
    assert_eq!(inv.hostname, "vm01");
    assert!(inv.packages.is_empty() && inv.usb_devices.is_empty() && inv.disks.is_empty());
    assert_eq!(
        inv.pending_security_updates, None,
        "unknown, not up to date"
    );
    assert_eq!(inv.hardware.vendor, "");
}

#[test]
fn this_machine_is_inventoried() {
    let inv = collect_local().unwrap();
    assert!(!inv.hostname.is_empty());
    assert!(!inv.os.kernel.is_empty());
    assert!(inv.hardware.cpu_threads >= 1);
    assert!(inv.hardware.memory_bytes > 0);
    if Path::new("/var/lib/dpkg/status").exists() {
        assert!(inv.packages.len() > 10, "{} packages", inv.packages.len());
    }
    // Where apt keeps a security index (plain, LZ4 or gzip), it is read.
    if !mamori_agent::updates::security_indexes(Path::new("/var/lib/apt/lists")).is_empty() {
        assert!(inv.pending_security_updates.is_some());
    }
    assert!(inv.local_accounts.iter().any(|a| a.uid == 0));
}

#[test]
fn a_diff_carries_what_changed_and_rebuilds_the_new_inventory() {
    let (_dir, root) = pc_root();
    let old = collect(&Root::new(&root)).unwrap();
    // A day later: the USB stick is gone, cups upgraded, teamviewer installed and listening,
    // uketsuke logged in again.
    let mut new = old.clone();
    new.usb_devices.retain(|u| u.class != "08");
    new.packages
        .iter_mut()
        .find(|p| p.name == "cups")
        .unwrap()
        .version = "2.4.7-1.2ubuntu7.4".into();
    new.packages.push(mamori_agent::inventory::Package {
        name: "teamviewer".into(),
        version: "15.59.3".into(),
        arch: "amd64".into(),
    });
    new.packages.sort();
    new.listening.push(mamori_agent::inventory::Listening {
        proto: "tcp".into(),
        address: "0.0.0.0".into(),
        port: 5938,
    });
    new.listening.sort();
    new.local_accounts
        .iter_mut()
        .find(|a| a.name == "uketsuke")
        .unwrap()
        .last_login_ms = Some(1_764_736_400_000);

    let d = mamori_agent::inventory::diff(&old, &new);
    assert_eq!(d.hostname, None);
    assert_eq!(d.os, None);
    assert_eq!(d.usb_devices.removed.len(), 1);
    assert_eq!(d.packages.added[0].name, "teamviewer");
    assert_eq!(d.packages.changed[0].name, "cups");
    assert_eq!(d.listening.added[0].port, 5938);
    assert_eq!(d.local_accounts.changed[0].name, "uketsuke");
    assert!(d.enabled_services.is_empty() && d.disks.is_empty());
    // Much smaller than the full snapshot, and it rebuilds it exactly.
    let full = serde_json::to_vec(&new).unwrap().len();
    let small = serde_json::to_vec(&d).unwrap().len();
    assert!(small * 2 < full, "diff {small} bytes, full {full}");
    assert_eq!(mamori_agent::inventory::apply(&old, &d), new);
    // Nothing changed: nothing to send.
    assert!(mamori_agent::inventory::diff(&new, &new).is_empty());
}

#[test]
fn a_first_clock_reading_is_news_and_jitter_is_not() {
    use mamori_agent::inventory::diff;
    use mamori_proto::agent::ClockCheck;
    let (_dir, root) = pc_root();
    let old = collect(&Root::new(&root)).unwrap();
    let reading = |offset_ms: Option<i64>, error: &str| ClockCheck {
        server: "ntp.clinic.local".into(),
        offset_ms,
        error: error.into(),
    };
    let mut new = old.clone();
    // The first reading goes with the next cycle, not a day later.
    new.clock = Some(reading(Some(40), ""));
    let d = diff(&old, &new);
    assert!(!d.is_empty());
    assert_eq!(d.clock, new.clock);
    let sent = mamori_agent::inventory::apply(&old, &d);
    // Jitter under a second waits for the daily full inventory.
    let mut next = sent.clone();
    next.clock = Some(reading(Some(-310), ""));
    assert!(diff(&sent, &next).is_empty());
    // A second or more of drift, a server that stops answering, or a new server is news.
    next.clock = Some(reading(Some(1_200), ""));
    assert!(!diff(&sent, &next).is_empty());
    next.clock = Some(reading(None, "timed out"));
    assert_eq!(diff(&sent, &next).clock, next.clock);
    next.clock = Some(ClockCheck {
        server: "192.168.10.1".into(),
        ..reading(Some(40), "")
    });
    assert!(!diff(&sent, &next).is_empty());
    // A reading that stopped (no time server any more) is not a change to send.
    next.clock = None;
    assert!(diff(&sent, &next).is_empty());
}

/// Builds an empty `noarch` rpm of `name` with `epoch:version-release` and returns its file.
fn build_rpm(top: &Path, name: &str, epoch: Option<u32>, version: &str, release: &str) -> PathBuf {
    std::fs::create_dir_all(top).unwrap();
    let spec = top.join(format!("{name}.spec"));
    let epoch = epoch.map(|e| format!("Epoch: {e}\n")).unwrap_or_default();
    std::fs::write(
        &spec,
        format!(
            "Name: {name}\nVersion: {version}\nRelease: {release}\n{epoch}Summary: test\n\
License: MIT\nBuildArch: noarch\n%description\ntest\n%files\n"
        ),
    )
    .unwrap();
    let out = std::process::Command::new("rpmbuild")
        .args(["-bb", "--quiet", "--define"])
        .arg(format!("_topdir {}", top.display()))
        .arg(&spec)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    top.join(format!("RPMS/noarch/{name}-{version}-{release}.noarch.rpm"))
}

#[test]
fn an_rpm_based_machine_lists_what_rpm_has_installed() {
    let have = |tool: &str| {
        std::process::Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("rpm") || !have("rpmbuild") {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs rpm (apt-get install rpm)"
        );
        eprintln!("skipped: needs rpm and rpmbuild");
        return;
    }
    // The reception PC's tree as a RHEL-family machine: no dpkg, an rpm database under
    // /var/lib/rpm with two packages (one with an epoch) and a signing key's pseudo-package.
    let (dir, root) = pc_root();
    std::fs::remove_dir_all(root.join("var/lib/dpkg")).unwrap();
    let top = dir.path().join("rpmbuild");
    let files = [
        build_rpm(&top, "clinic-viewer", Some(1), "2.4.1", "3.el9"),
        build_rpm(&top, "openssh-server", None, "8.7p1", "38.el9"),
    ];
    let rpm = |args: &[&str]| {
        let out = std::process::Command::new("rpm")
            .arg("--root")
            .arg(&root)
            .args(["--dbpath", "/var/lib/rpm"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    rpm(&["--initdb"]);
    let mut install = vec!["-i", "--justdb", "--nodeps", "--noscripts"];
    install.extend(files.iter().map(|f| f.to_str().unwrap()));
    rpm(&install);

    let inv = mamori_agent::inventory::InventorySource::collect(
        &mamori_agent::inventory::LinuxInventory::new(Root::new(&root)),
    )
    .unwrap();
    let got: Vec<(&str, &str, &str)> = inv
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str(), p.arch.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("clinic-viewer", "1:2.4.1-3.el9", "noarch"),
            ("openssh-server", "8.7p1-38.el9", "noarch")
        ]
    );
    // A recorded tree has no repositories to ask: updates unknown, not "none".
    assert_eq!(inv.pending_security_updates, None);
    // The rest of the inventory is read as before.
    assert_eq!(inv.hostname, "uketsuke-pc01");

    // A Debian machine with the rpm tool installed keeps an empty /var/lib/rpm: still dpkg.
    let (_dir2, debian) = pc_root();
    std::fs::create_dir_all(debian.join("var/lib/rpm")).unwrap();
    let inv = mamori_agent::inventory::InventorySource::collect(
        &mamori_agent::inventory::LinuxInventory::new(Root::new(&debian)),
    )
    .unwrap();
    assert_eq!(inv.packages.len(), 3);
}
