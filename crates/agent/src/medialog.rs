//! The device-operation log: files written to removable media. Every file system mounted from
//! a USB device is watched; each file closed after writing, or moved onto the medium, is
//! recorded with who wrote it, with which program, its path on the medium, size and SHA-256,
//! and the device's vendor, product and serial — into the spool, for the server's sealed log.
//!
//! Writes are seen through fanotify on the whole mount (`FAN_CLOSE_WRITE`, root only), which
//! names the writing process: its login user (the audit login uid, so `sudo` still names the
//! person) and program. Where fanotify cannot be used the directories are watched with inotify
//! and the console user is recorded. Moves within and onto the medium, and new directories,
//! are seen through inotify either way.
//!
//! What it cannot see: files written between the mount and the watch being set (a fraction of
//! a second after the mount table changes).

use crate::enforce::{append_event, console_user};
use crate::spool::Spool;
use crate::usb::DeviceBus;
use mamori_proto::agent::{Device, EntryBody, FileWrite};
use nix::sys::fanotify::{EventFFlags, Fanotify, InitFlags, MarkFlags, MaskFlags};
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
    /// Its writes come through fanotify (else through inotify's `CLOSE_WRITE`).
    fan: bool,
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
    fan: Option<Fanotify>,
    /// `/proc` and `/etc/passwd`, to name the writer of a file.
    proc_dir: PathBuf,
    passwd: PathBuf,
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
        // Needs CAP_SYS_ADMIN; without it the console user is recorded.
        let fan = Fanotify::init(
            InitFlags::FAN_CLASS_NOTIF | InitFlags::FAN_CLOEXEC | InitFlags::FAN_NONBLOCK,
            EventFFlags::O_RDONLY | EventFFlags::O_LARGEFILE | EventFFlags::O_CLOEXEC,
        )
        .ok();
        Ok(MediaWatch {
            fd,
            fan,
            proc_dir: PathBuf::from("/proc"),
            passwd: PathBuf::from("/etc/passwd"),
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

    /// Whether writers to the medium at `mount` are named by their process (fanotify), not
    /// the console user.
    pub fn names_writers(&self, mount: &Path) -> bool {
        self.media.get(mount).is_some_and(|m| m.fan)
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
            // The whole mount's closed writes, with the writer's process.
            let fan = self.fan.as_ref().is_some_and(|f| {
                fs::File::open(&at).is_ok_and(|dir| {
                    f.mark::<_, Path>(
                        MarkFlags::FAN_MARK_ADD | MarkFlags::FAN_MARK_MOUNT,
                        MaskFlags::FAN_CLOSE_WRITE,
                        &dir,
                        None,
                    )
                    .is_ok()
                })
            });
            self.media.insert(
                at.clone(),
                Medium {
                    node,
                    device,
                    wds: Vec::new(),
                    fan,
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
            let mut flags = WatchFlags::MOVED_TO
                | WatchFlags::CREATE
                | WatchFlags::DONT_FOLLOW
                | WatchFlags::ONLYDIR;
            if !self.media.get(mount).is_some_and(|m| m.fan) {
                flags |= WatchFlags::CLOSE_WRITE;
            }
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
                    && let Some(f) = self.record(mount, &e.path(), now_ms, None)
                {
                    out.push(f);
                }
            }
        }
        out
    }

    /// Records one file written (skipped when it is gone or not a regular file), by `writer`
    /// (user, program) when its process is known, else the console user.
    fn record(
        &mut self,
        mount: &Path,
        path: &Path,
        now_ms: i64,
        writer: Option<(String, String)>,
    ) -> Option<FileWrite> {
        let meta = fs::symlink_metadata(path).ok()?;
        if !meta.is_file() {
            return None;
        }
        let medium = self.media.get(mount)?;
        let (size, sha256) = sha256_of(path).ok()?;
        let rel = path.strip_prefix(mount).ok()?;
        let (user, program) = writer.unwrap_or_else(|| {
            (
                console_user(&self.sessions).unwrap_or_default(),
                String::new(),
            )
        });
        let file = FileWrite {
            user,
            program,
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
            if let Some(f) = &self.fan {
                fds.push(PollFd::from_borrowed_fd(f.as_fd(), PollFlags::IN));
            }
            if let Some(f) = &table {
                fds.push(PollFd::from_borrowed_fd(f.as_fd(), PollFlags::PRI));
            }
            // An error (EINTR) is a wake-up like any other: both are looked at below.
            let _ = poll(&mut fds, Some(&t));
        }
        let added = self.scan_mounts();
        (self.drain(now_ms()), added)
    }

    /// The user and program of process `pid`: its audit login user (the person who logged in,
    /// through `sudo` and `su`), else its real user; `None` when it is gone.
    fn writer_of(&self, pid: i32, passwd: &str) -> Option<(String, String)> {
        let dir = self.proc_dir.join(pid.to_string());
        let status = fs::read_to_string(dir.join("status")).ok()?;
        let program = fs::read_to_string(dir.join("comm"))
            .map(|c| c.trim().to_string())
            .unwrap_or_default();
        let login = fs::read_to_string(dir.join("loginuid"))
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
            .filter(|u| *u != u32::MAX);
        let real = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|u| u.parse::<u32>().ok());
        let uid = login.or(real)?;
        let name = passwd
            .lines()
            .find(|l| l.split(':').nth(2) == Some(uid.to_string().as_str()))
            .and_then(|l| l.split(':').next())
            .map(str::to_string)
            .unwrap_or_else(|| format!("uid {uid}"));
        Some((name, program))
    }

    /// The closed writes fanotify reports on the media, with their writers.
    fn drain_fanotify(&mut self, now_ms: i64, out: &mut Vec<FileWrite>) {
        let mut writes: Vec<(PathBuf, i32)> = Vec::new();
        if let Some(f) = &self.fan {
            while let Ok(events) = f.read_events() {
                if events.is_empty() {
                    break;
                }
                for ev in events {
                    if ev.mask().contains(MaskFlags::FAN_Q_OVERFLOW) {
                        eprintln!(
                            "mamori-agent: fanotify queue overflowed: some writes were not seen"
                        );
                        continue;
                    }
                    let Some(fd) = ev.fd() else { continue };
                    let link = PathBuf::from(format!("/proc/self/fd/{}", {
                        use std::os::fd::AsRawFd as _;
                        fd.as_raw_fd()
                    }));
                    if let Ok(path) = fs::read_link(&link) {
                        writes.push((path, ev.pid()));
                    }
                }
            }
        }
        // Read once for the writes of this wake-up (a copy of many files is many events).
        let passwd = if writes.is_empty() {
            String::new()
        } else {
            fs::read_to_string(&self.passwd).unwrap_or_default()
        };
        for (path, pid) in writes {
            // The medium it is on: the longest mount point above it.
            let Some(mount) = self
                .media
                .iter()
                .filter(|(at, m)| m.fan && path.starts_with(at))
                .map(|(at, _)| at.clone())
                .max_by_key(|at| at.as_os_str().len())
            else {
                continue;
            };
            let writer = self.writer_of(pid, &passwd);
            if let Some(f) = self.record(&mount, &path, now_ms, writer) {
                out.push(f);
            }
        }
    }

    /// Reads what fanotify and inotify have and records the files written. Returns them.
    pub fn drain(&mut self, now_ms: i64) -> Vec<FileWrite> {
        let mut out = Vec::new();
        self.drain_fanotify(now_ms, &mut out);
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
                // A new directory's files: fanotify sees them written on its media (only a
                // directory moved in arrives without writes there); inotify needs them read.
                let fan = self.media.get(&w.mount).is_some_and(|m| m.fan);
                let record = flags.contains(ReadFlags::MOVED_TO) || !fan;
                if flags.intersects(ReadFlags::CREATE | ReadFlags::MOVED_TO) {
                    let found = self.watch_tree(&w.mount, &path, record, now_ms);
                    out.extend(found);
                }
                continue;
            }
            // A file written under another name and renamed: fanotify already named it by
            // where it ended up.
            let rel = path
                .strip_prefix(&w.mount)
                .map(|r| format!("/{}", r.to_string_lossy()))
                .unwrap_or_default();
            if out.iter().any(|f| f.path == rel) {
                continue;
            }
            if flags.intersects(ReadFlags::CLOSE_WRITE | ReadFlags::MOVED_TO)
                && let Some(f) = self.record(&w.mount, &path, now_ms, None)
            {
                out.push(f);
            }
        }
        out
    }
}
