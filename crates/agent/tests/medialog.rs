//! The device-operation log with real fanotify and inotify: a medium is watched once the mount
//! table shows it under a USB device; files written, copied into new directories and moved onto
//! it are recorded with path, size, SHA-256, device and the writer (the writing process's user
//! and program, or the console user where processes cannot be seen); an unmounted medium is
//! forgotten. One test uses a recorded mount table over a plain directory (runs anywhere), one
//! a real ext4 file system on a loop device (root only).

#![cfg(target_os = "linux")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mamori_agent::enforce;
use mamori_agent::medialog::MediaWatch;
use mamori_agent::spool::{Limits, Spool};
use mamori_agent::usb::Sysfs;
use mamori_proto::agent::{EntryBody, FileWrite};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod common;
use common::{LoopDevice, run};

const USB: &str = "/devices/pci0000:00/0000:00:14.0/usb1";
const HELLO_SHA256: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

fn put(base: &Path, rel: &str, v: &str) {
    let p = base.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, format!("{v}\n")).unwrap();
}

/// /sys with a USB stick at 1-2 whose block device is `block`.
fn sysfs(root: &Path, block: &str) -> Sysfs {
    let d = root.join("bus/usb/devices/1-2");
    put(&d, "idVendor", "0781");
    put(&d, "idProduct", "5583");
    put(&d, "serial", "4C530001231122109384");
    put(&d, "1-2:1.0/bInterfaceClass", "08");
    let links = root.join("class/block");
    fs::create_dir_all(&links).unwrap();
    std::os::unix::fs::symlink(
        format!("../..{USB}/1-2/1-2:1.0/host6/target6:0:0/6:0:0:0/block/{block}"),
        links.join(block),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        "../../devices/pci0000:00/0000:00:1d.0/nvme/nvme0/nvme0n1p2",
        links.join("nvme0n1p2"),
    )
    .unwrap();
    Sysfs::new(root)
}

struct Rig {
    tmp: tempfile::TempDir,
    spool: Arc<Mutex<Spool>>,
    watch: MediaWatch,
}

fn rig(block: &str, mounts_file: Option<PathBuf>) -> Rig {
    let tmp = tempfile::tempdir().unwrap();
    let sys = sysfs(&tmp.path().join("sys"), block);
    let sessions = tmp.path().join("sessions");
    fs::create_dir_all(&sessions).unwrap();
    fs::write(sessions.join("4"), "USER=uketsuke\nACTIVE=1\nSEAT=seat0\n").unwrap();
    let (spool, _) = Spool::open(&tmp.path().join("spool"), Limits::default()).unwrap();
    let spool = Arc::new(Mutex::new(spool));
    let mounts = mounts_file.unwrap_or_else(|| tmp.path().join("mounts"));
    let watch = MediaWatch::new(Box::new(sys), mounts, sessions, spool.clone()).unwrap();
    Rig { tmp, spool, watch }
}

/// Waits for the files, up to a few seconds (inotify is asynchronous only in the sense that
/// events wait in the queue; they are all there once the writes returned).
fn collect(r: &mut Rig, want: usize) -> Vec<FileWrite> {
    let mut got = Vec::new();
    for _ in 0..20 {
        let (files, _) = r
            .watch
            .wait_and_record(Duration::from_millis(100), &|| 1_764_650_000_000);
        got.extend(files);
        if got.len() >= want {
            break;
        }
    }
    got.sort_by(|a, b| a.path.cmp(&b.path));
    got
}

fn spooled(r: &Rig) -> Vec<FileWrite> {
    enforce::lock(&r.spool)
        .pending(1000, 1 << 20)
        .unwrap()
        .iter()
        .map(
            |e| match serde_json::from_slice::<EntryBody>(&e.payload).unwrap() {
                EntryBody::FileWritten { file } => file,
                other => panic!("not a file entry: {other:?}"),
            },
        )
        .collect()
}

/// Who the log should name for this test's writes on `media`: root and this test binary's
/// name where the agent sees the writing process, the console user otherwise.
fn writer(r: &Rig, media: &Path) -> (String, String) {
    if r.watch.names_writers(media) {
        let comm = fs::read_to_string("/proc/self/comm").unwrap();
        ("root".into(), comm.trim().to_string())
    } else {
        ("uketsuke".into(), String::new())
    }
}

fn exercise(r: &mut Rig, media: &Path, outside: &Path) {
    fs::write(media.join("紹介状.pdf"), b"hello").unwrap();
    fs::create_dir(media.join("検査結果")).unwrap();
    fs::write(media.join("検査結果/2026-12.csv"), vec![b'x'; 300_000]).unwrap();
    fs::write(outside.join("moved.txt"), b"hello").unwrap();
    fs::rename(outside.join("moved.txt"), media.join("moved.txt")).unwrap();
    let files = collect(r, 3);
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/moved.txt", "/検査結果/2026-12.csv", "/紹介状.pdf"],
        "{files:?}"
    );
    let pdf = &files[2];
    // The writer is this test's process (root) where fanotify names it, else the console user.
    let (user, program) = writer(r, media);
    assert_eq!(
        (pdf.size, pdf.sha256.as_str(), pdf.user.as_str()),
        (5, HELLO_SHA256, user.as_str())
    );
    assert!(pdf.program.starts_with(&program), "{pdf:?}");
    assert_eq!(
        (
            pdf.vendor_id.as_str(),
            pdf.product_id.as_str(),
            pdf.serial.as_str()
        ),
        ("0781", "5583", "4C530001231122109384")
    );
    assert_eq!(files[1].size, 300_000);
    // In the spool, durable, for the server.
    let mut logged = spooled(r);
    logged.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(logged, files);
}

#[test]
fn files_written_to_a_mounted_usb_medium_are_logged() {
    let mut r = rig("sdb1", None);
    let media = r.tmp.path().join("media/USB DISK");
    let outside = r.tmp.path().join("home");
    fs::create_dir_all(&media).unwrap();
    fs::create_dir_all(&outside).unwrap();
    let table = r.tmp.path().join("mounts");
    // The PC's own disk is not a medium; the stick is, once mounted.
    fs::write(&table, "/dev/nvme0n1p2 / ext4 rw 0 0\n").unwrap();
    assert!(r.watch.scan_mounts().is_empty());
    fs::write(
        &table,
        format!(
            "/dev/nvme0n1p2 / ext4 rw 0 0\n/dev/sdb1 {} vfat rw,nosuid 0 0\n",
            media.display().to_string().replace(' ', "\\040")
        ),
    )
    .unwrap();
    assert_eq!(r.watch.scan_mounts(), std::slice::from_ref(&media));
    exercise(&mut r, &media, &outside);

    // Unmounted: forgotten, nothing more is recorded from that directory.
    fs::write(&table, "/dev/nvme0n1p2 / ext4 rw 0 0\n").unwrap();
    r.watch.scan_mounts();
    assert!(r.watch.watched().is_empty());
    fs::write(media.join("after.txt"), b"hello").unwrap();
    assert!(collect(&mut r, 1).is_empty());
}

/// A real ext4 file system on a loop device, mounted: the mount is found in the kernel's own
/// mount table and the writes are seen through inotify. Needs root and loop devices.
#[test]
fn files_written_to_a_real_mounted_file_system_are_logged() {
    let Some(dev) = LoopDevice::attach(16) else {
        return;
    };
    let (node, name) = (dev.node.clone(), dev.name.clone());
    let mut r = rig(&name, Some(PathBuf::from("/proc/self/mounts")));
    let media = r.tmp.path().join("media");
    let outside = media.join("..").join("home");
    fs::create_dir_all(&media).unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert!(run("mkfs.ext4", &["-q", &node]).status.success());
        assert!(
            run("mount", &[&node, media.to_str().unwrap()])
                .status
                .success()
        );
        // The mount shows up (the poll on the mount table wakes at once).
        let (_, added) = r
            .watch
            .wait_and_record(Duration::from_secs(2), &|| 1_764_650_000_000);
        let added = if added.is_empty() {
            r.watch.scan_mounts()
        } else {
            added
        };
        assert_eq!(added, std::slice::from_ref(&media));
        // lost+found is there from mkfs; moving from the host's disk is a copy for the kernel
        // (another file system), so write the "outside" file on the medium's parent.
        fs::create_dir_all(&outside).unwrap();
        fs::write(media.join("紹介状.pdf"), b"hello").unwrap();
        fs::create_dir(media.join("検査結果")).unwrap();
        fs::write(media.join("検査結果/2026-12.csv"), vec![b'x'; 300_000]).unwrap();
        fs::write(media.join("moved.tmp"), b"hello").unwrap();
        fs::rename(media.join("moved.tmp"), media.join("moved.txt")).unwrap();
        let files = collect(&mut r, 4);
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert!(paths.contains(&"/紹介状.pdf"), "{paths:?}");
        assert!(paths.contains(&"/検査結果/2026-12.csv"), "{paths:?}");
        assert!(paths.contains(&"/moved.txt"), "{paths:?}");
        let pdf = files.iter().find(|f| f.path == "/紹介状.pdf").unwrap();
        assert_eq!((pdf.size, pdf.sha256.as_str()), (5, HELLO_SHA256));
        // On a real mount as root the writing process is seen: its user and program.
        assert!(
            r.watch.names_writers(&media),
            "fanotify on a real mount as root"
        );
        let (user, program) = writer(&r, &media);
        assert_eq!(
            (pdf.user.as_str(), pdf.program.as_str()),
            (user.as_str(), program.as_str())
        );
        // The file renamed on the medium is logged once, by its final name.
        assert_eq!(
            paths.iter().filter(|p| p.contains("moved")).count(),
            1,
            "{paths:?}"
        );
    }));
    run("umount", &[media.to_str().unwrap()]);
    drop(dev);
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
    // Unmounted: forgotten.
    r.watch.scan_mounts();
    assert!(r.watch.watched().is_empty());
}
