//! The device-operation log: files written to removable media. Every file system mounted from
//! a USB device is watched (inotify, recursively); each file closed after writing, or moved
//! onto the medium, is recorded with who was at the console, its path on the medium, size and
//! SHA-256, and the device's vendor, product and serial — into the spool, for the server's
//! sealed log.
//!
//! What it cannot see: files written between the mount and the watch being set (a fraction of
//! a second after the mount table changes), and which process wrote (inotify does not say; the
//! console user is recorded).

use crate::enforce::{append_event, console_user};
use crate::spool::Spool;
use crate::usb::DeviceBus;
use mamori_proto::agent::{Device, EntryBody, FileWrite};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{self, Read};
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Directories watched on one medium at most (a stick with more is watched partly, and says
/// so in the agent's output).
pub const MAX_DIRS: usize = 20_000;

/// One mounted medium being watched.
#[derive(Debug, Clone)]
struct Medium {
    node: String,
    device: Device,
    wds: Vec<i32>,
}

/// Where each watch points.
#[derive(Debug, Clone)]
struct Watched {
    dir: PathBuf,
    mount: PathBuf,
}

/// Watches the mounted USB media and records the files written to them.
pub struct MediaWatch {
    fd: OwnedFd,
    bus: Box<dyn DeviceBus>,
    mounts_file: PathBuf,
    sessions: PathBuf,
    spool: Arc<Mutex<Spool>>,
    media: BTreeMap<PathBuf, Medium>,
    watches: HashMap<i32, Watched>,
    buf: Vec<MaybeUninit<u8>>,
}

impl std::fmt::Debug for MediaWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaWatch")
            .field("media", &self.media.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The mounts of device nodes in a mount table: (device node, mount point).
fn mounts(table: &str) -> Vec<(String, PathBuf)> {
    table
        .lines()
        .filter_map(|l| {
            let src = l.split(' ').next().filter(|s| s.starts_with("/dev/"))?;
            let at = crate::enforce::mount_points(l, src).into_iter().next()?;
            Some((src.to_string(), PathBuf::from(at)))
        })
        .collect()
}

fn sha256_of(path: &Path) -> io::Result<(u64, String)> {
    let mut f = fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(buf.get(..n).unwrap_or_default());
    }
    Ok((size, crate::state::hex(&h.finalize())))
}

impl MediaWatch {
    /// `mounts_file` is `/proc/self/mounts` on a machine; `sessions` is logind's session
    /// directory (see [`console_user`]).
    pub fn new(
        bus: Box<dyn DeviceBus>,
        mounts_file: PathBuf,
        sessions: PathBuf,
        spool: Arc<Mutex<Spool>>,
    ) -> io::Result<MediaWatch> {
        let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)?;
        Ok(MediaWatch {
            fd,
            bus,
            mounts_file,
            sessions,
            spool,
            media: BTreeMap::new(),
            watches: HashMap::new(),
            buf: vec![MaybeUninit::uninit(); 64 * 1024],
        })
    }

    /// The inotify descriptor, to wait on.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The mount points watched now.
    pub fn watched(&self) -> Vec<PathBuf> {
        self.media.keys().cloned().collect()
    }

    /// Reads the mount table: starts watching USB media mounted since the last look, forgets
    /// the ones unmounted. Returns the mount points newly watched.
    pub fn scan_mounts(&mut self) -> Vec<PathBuf> {
        let table = fs::read_to_string(&self.mounts_file).unwrap_or_default();
        let now: Vec<(String, PathBuf)> = mounts(&table)
            .into_iter()
            .filter(|(node, _)| {
                let name = node.rsplit('/').next().unwrap_or_default();
                self.bus.usb_port_of_block(name).is_some()
            })
            .collect();
        let gone: Vec<PathBuf> = self
            .media
            .keys()
            .filter(|m| !now.iter().any(|(_, at)| at == *m))
            .cloned()
            .collect();
        for m in gone {
            if let Some(medium) = self.media.remove(&m) {
                for wd in medium.wds {
                    self.watches.remove(&wd);
                    let _ = inotify::remove_watch(&self.fd, wd);
                }
            }
        }
        let mut added = Vec::new();
        for (node, at) in now {
            if self.media.contains_key(&at) {
                continue;
            }
            let name = node.rsplit('/').next().unwrap_or_default().to_string();
            let Some(port) = self.bus.usb_port_of_block(&name) else {
                continue;
            };
            let device = self.bus.device(&port);
            self.media.insert(
                at.clone(),
                Medium {
                    node,
                    device,
                    wds: Vec::new(),
                },
            );
            self.watch_tree(&at, &at, false, 0);
            added.push(at);
        }
        added
    }

    /// Watches `dir` and the directories under it. With `record`, the files already in them
    /// are recorded as written (a directory just created: its files arrived with it) and
    /// returned.
    fn watch_tree(
        &mut self,
        mount: &Path,
        dir: &Path,
        record: bool,
        now_ms: i64,
    ) -> Vec<FileWrite> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let count = self.media.get(mount).map_or(0, |m| m.wds.len());
            if count >= MAX_DIRS {
                eprintln!(
                    "mamori-agent: {}: more than {MAX_DIRS} directories, the rest is not watched",
                    mount.display()
                );
                return out;
            }
            let flags = WatchFlags::CLOSE_WRITE
                | WatchFlags::MOVED_TO
                | WatchFlags::CREATE
                | WatchFlags::DONT_FOLLOW
                | WatchFlags::ONLYDIR;
            let Ok(wd) = inotify::add_watch(&self.fd, &d, flags) else {
                continue;
            };
            self.watches.insert(
                wd,
                Watched {
                    dir: d.clone(),
                    mount: mount.to_path_buf(),
                },
            );
            if let Some(m) = self.media.get_mut(mount) {
                m.wds.push(wd);
            }
            let Ok(entries) = fs::read_dir(&d) else {
                continue;
            };
            for e in entries.filter_map(|e| e.ok()) {
                let Ok(t) = e.file_type() else { continue };
                if t.is_dir() {
                    stack.push(e.path());
                } else if record
                    && t.is_file()
                    && let Some(f) = self.record(mount, &e.path(), now_ms)
                {
                    out.push(f);
                }
            }
        }
        out
    }

    /// Records one file written (skipped when it is gone or not a regular file).
    fn record(&mut self, mount: &Path, path: &Path, now_ms: i64) -> Option<FileWrite> {
        let meta = fs::symlink_metadata(path).ok()?;
        if !meta.is_file() {
            return None;
        }
        let medium = self.media.get(mount)?;
        let (size, sha256) = sha256_of(path).ok()?;
        let rel = path.strip_prefix(mount).ok()?;
        let file = FileWrite {
            user: console_user(&self.sessions).unwrap_or_default(),
            path: format!("/{}", rel.to_string_lossy()),
            size,
            sha256,
            vendor_id: medium.device.vendor_id.clone(),
            product_id: medium.device.product_id.clone(),
            serial: medium.device.serial.clone(),
        };
        if let Err(e) = append_event(
            &self.spool,
            now_ms,
            &EntryBody::FileWritten { file: file.clone() },
        ) {
            eprintln!(
                "mamori-agent: {} on {}: not logged: {e}",
                file.path, medium.node
            );
            return None;
        }
        Some(file)
    }

    /// Waits up to `timeout` for a write on a medium or a change of the mount table, then
    /// looks at both. Returns the files recorded and the mount points newly watched.
    pub fn wait_and_record(
        &mut self,
        timeout: std::time::Duration,
        now_ms: &dyn Fn() -> i64,
    ) -> (Vec<FileWrite>, Vec<PathBuf>) {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let table = fs::File::open(&self.mounts_file).ok();
        let t = Timespec {
            tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        {
            let mut fds = vec![PollFd::from_borrowed_fd(self.fd.as_fd(), PollFlags::IN)];
            if let Some(f) = &table {
                fds.push(PollFd::from_borrowed_fd(f.as_fd(), PollFlags::PRI));
            }
            // An error (EINTR) is a wake-up like any other: both are looked at below.
            let _ = poll(&mut fds, Some(&t));
        }
        let added = self.scan_mounts();
        (self.drain(now_ms()), added)
    }

    /// Reads what inotify has and records the files written. Returns them.
    pub fn drain(&mut self, now_ms: i64) -> Vec<FileWrite> {
        let mut seen: Vec<(i32, ReadFlags, Option<String>)> = Vec::new();
        let mut reader = inotify::Reader::new(&self.fd, &mut self.buf);
        loop {
            match reader.next() {
                Ok(ev) => seen.push((
                    ev.wd(),
                    ev.events(),
                    ev.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .filter(|n| !n.is_empty()),
                )),
                Err(e) if e == rustix::io::Errno::INTR => {}
                Err(_) => break,
            }
        }
        let mut out = Vec::new();
        for (wd, flags, name) in seen {
            if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                eprintln!("mamori-agent: inotify queue overflowed: some writes were not seen");
                continue;
            }
            let Some(w) = self.watches.get(&wd).cloned() else {
                continue;
            };
            if flags.contains(ReadFlags::IGNORED) {
                self.watches.remove(&wd);
                continue;
            }
            let Some(name) = name else { continue };
            let path = w.dir.join(&name);
            if flags.contains(ReadFlags::ISDIR) {
                if flags.intersects(ReadFlags::CREATE | ReadFlags::MOVED_TO) {
                    out.extend(self.watch_tree(&w.mount, &path, true, now_ms));
                }
                continue;
            }
            if flags.intersects(ReadFlags::CLOSE_WRITE | ReadFlags::MOVED_TO)
                && let Some(f) = self.record(&w.mount, &path, now_ms)
            {
                out.push(f);
            }
        }
        out
    }
}
