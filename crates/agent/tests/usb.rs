//! USB control against a recorded sysfs tree (a root hub, a USB stick, a keyboard, a phone) and
//! the kernel's uevent messages for them: fail closed at start, decisions by the policy, the
//! decision logged before the device is authorised, and nothing authorised when the log fails.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mamori_agent::usb::{
    Context, DecisionRecord, DeviceClass, Exception, Mode, Policy, Sysfs, handle,
};
use std::fs;
use std::path::Path;

fn put(base: &Path, rel: &str, v: &str) {
    let p = base.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, format!("{v}\n")).unwrap();
}

/// /sys as the kernel shows it after plugging: devices present, not yet authorised.
fn sysfs() -> (tempfile::TempDir, Sysfs) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("bus/usb/devices");
    put(&d, "usb1/authorized_default", "1");
    put(&d, "usb1/bDeviceClass", "09");
    for (port, vendor, product, serial, class, sub, iname) in [
        (
            "1-2",
            "0781",
            "5583",
            "4C530001231122109384",
            "08",
            "06",
            "",
        ),
        ("1-3", "046d", "c31c", "", "03", "01", ""),
        ("1-4", "04e8", "6860", "R58N12ABCDE", "ff", "ff", "MTP"),
    ] {
        put(&d, &format!("{port}/idVendor"), vendor);
        put(&d, &format!("{port}/idProduct"), product);
        put(&d, &format!("{port}/serial"), serial);
        put(&d, &format!("{port}/bDeviceClass"), "00");
        put(&d, &format!("{port}/authorized"), "0");
        put(&d, &format!("{port}/{port}:1.0/bInterfaceClass"), class);
        put(&d, &format!("{port}/{port}:1.0/bInterfaceSubClass"), sub);
        put(&d, &format!("{port}/{port}:1.0/bInterfaceProtocol"), "00");
        if !iname.is_empty() {
            put(&d, &format!("{port}/{port}:1.0/interface"), iname);
        }
    }
    let s = Sysfs::new(dir.path());
    (dir, s)
}

fn uevent(action: &str, port: &str, devtype: &str) -> Vec<u8> {
    format!(
        "{action}@/devices/pci0000:00/0000:00:14.0/usb1/{port}\0ACTION={action}\0\
         DEVPATH=/devices/pci0000:00/0000:00:14.0/usb1/{port}\0SUBSYSTEM=usb\0\
         DEVTYPE={devtype}\0SEQNUM=4821\0"
    )
    .into_bytes()
}

fn authorized(dir: &Path, port: &str) -> String {
    fs::read_to_string(dir.join(format!("bus/usb/devices/{port}/authorized")))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn devices_are_decided_logged_then_authorised() {
    let (dir, sys) = sysfs();
    // At start: no new device is authorised until the agent says so.
    assert_eq!(sys.block_new_devices().unwrap(), ["usb1"]);
    assert_eq!(
        fs::read_to_string(dir.path().join("bus/usb/devices/usb1/authorized_default"))
            .unwrap()
            .trim(),
        "0"
    );
    let ctx = Context {
        user: Some("uketsuke".into()),
        groups: vec!["reception".into()],
        now_ms: 1_764_650_000_000,
        unlocked_until_ms: None,
    };
    let mut logged: Vec<DecisionRecord> = Vec::new();
    let mut log = |r: &DecisionRecord| -> Result<(), String> {
        logged.push(r.clone());
        Ok(())
    };
    let policy = Policy::fail_closed();
    // The stick: denied, logged, left unauthorised.
    let r = handle(
        &sys,
        &uevent("add", "1-2", "usb_device"),
        &policy,
        &ctx,
        &mut log,
    )
    .unwrap()
    .unwrap();
    assert_eq!(r.decision.class, DeviceClass::MassStorage);
    assert_eq!(r.decision.mode, Mode::Deny);
    assert_eq!(r.device.serial, "4C530001231122109384");
    assert_eq!(authorized(dir.path(), "1-2"), "0");
    // The keyboard: allowed even under the fail-closed policy.
    handle(
        &sys,
        &uevent("add", "1-3", "usb_device"),
        &policy,
        &ctx,
        &mut log,
    )
    .unwrap();
    assert_eq!(authorized(dir.path(), "1-3"), "1");
    // The phone (MTP): denied.
    let r = handle(
        &sys,
        &uevent("add", "1-4", "usb_device"),
        &policy,
        &ctx,
        &mut log,
    )
    .unwrap()
    .unwrap();
    assert_eq!(r.decision.class, DeviceClass::Phone);
    assert_eq!(authorized(dir.path(), "1-4"), "0");
    // Interfaces and removals are not decisions.
    assert!(
        handle(
            &sys,
            &uevent("add", "1-2:1.0", "usb_interface"),
            &policy,
            &ctx,
            &mut log
        )
        .unwrap()
        .is_none()
    );
    assert!(
        handle(
            &sys,
            &uevent("remove", "1-2", "usb_device"),
            &policy,
            &ctx,
            &mut log
        )
        .unwrap()
        .is_none()
    );

    // An exception for this stick and this user: authorised.
    let mut allow = Policy::fail_closed();
    allow.exceptions.push(Exception {
        vendor_id: "0781".into(),
        product_id: "5583".into(),
        serial: "4C530001231122109384".into(),
        mode: Mode::Allow,
        users: vec!["uketsuke".into()],
        groups: vec![],
        expires_ms: None,
        note: "紹介状データの受け渡し用".into(),
    });
    let r = handle(
        &sys,
        &uevent("add", "1-2", "usb_device"),
        &allow,
        &ctx,
        &mut log,
    )
    .unwrap()
    .unwrap();
    assert!(r.decision.rule.starts_with("exception:"));
    assert_eq!(authorized(dir.path(), "1-2"), "1");
    // Every decision was logged, with who was at the PC.
    assert_eq!(logged.len(), 4);
    assert_eq!(logged[0].user.as_deref(), Some("uketsuke"));
}

#[test]
fn a_decision_that_cannot_be_logged_leaves_the_device_blocked() {
    let (dir, sys) = sysfs();
    let ctx = Context::default();
    let mut allow = Policy::fail_closed();
    allow.mass_storage = Mode::Allow;
    let mut broken = |_: &DecisionRecord| -> Result<(), String> { Err("spool full".into()) };
    let e = handle(
        &sys,
        &uevent("add", "1-2", "usb_device"),
        &allow,
        &ctx,
        &mut broken,
    )
    .unwrap_err();
    assert!(e.to_string().contains("spool full"), "{e}");
    assert_eq!(authorized(dir.path(), "1-2"), "0");
}
