//! The agent's durable, bounded spool: what waits on disk for the server (device events,
//! inventory) while the server is down or the PC is offline.
//!
//! - Entries are appended to segment files (`{first seq:020}.seg`) and made durable (`fsync`)
//!   before `append_batch` returns: an acknowledged append survives `kill -9` and a power cut.
//! - They are read back oldest first. The server's acknowledgement (after its own durable
//!   write) moves the acknowledged position, kept in `ack` (written aside, then renamed); whole
//!   segments at or below it are deleted, which is what frees space.
//! - The spool is bounded (`max_bytes` on disk). When an append would pass the bound the entry
//!   is not stored but counted, with the first and last time dropped, in `gap` (durable too);
//!   once space is freed a `Gap` entry is written before anything newer, so the server always
//!   learns what was lost. Nothing is lost silently.
//! - Opening scans every segment: a torn record at the end (a write cut short by a crash) is cut
//!   off; a damaged record inside the spool ends its segment there, and the entries lost up to
//!   the next segment become a `Gap` entry.
//!
//! Record layout: magic `0xA5`, kind (1 byte), payload length (u32 LE), seq (u64 LE), time
//! (i64 LE, Unix ms), payload, CRC-32 of everything from kind to payload (u32 LE).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: u8 = 0xA5;
const HEADER: usize = 1 + 1 + 4 + 8 + 8;
const TRAILER: usize = 4;
/// The largest payload one entry takes (an inventory snapshot fits with room).
pub const MAX_PAYLOAD: usize = 16 * 1024 * 1024;

/// What an entry carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A device event (a USB decision, a file written to removable media …).
    Event,
    /// An inventory snapshot or diff.
    Inventory,
    /// Entries that were not kept: the payload is a [`Gap`].
    Gap,
}

impl Kind {
    fn code(self) -> u8 {
        match self {
            Kind::Event => 1,
            Kind::Inventory => 2,
            Kind::Gap => 3,
        }
    }
    fn from_code(c: u8) -> Option<Kind> {
        match c {
            1 => Some(Kind::Event),
            2 => Some(Kind::Inventory),
            3 => Some(Kind::Gap),
            _ => None,
        }
    }
}

/// Entries that were not kept: how many, and the times of the first and last of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gap {
    pub dropped: u64,
    pub first_ms: i64,
    pub last_ms: i64,
}

impl Gap {
    fn bytes(&self) -> [u8; 24] {
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&self.dropped.to_le_bytes());
        b[8..16].copy_from_slice(&self.first_ms.to_le_bytes());
        b[16..].copy_from_slice(&self.last_ms.to_le_bytes());
        b
    }

    /// Reads a gap entry's payload.
    pub fn parse(b: &[u8]) -> Option<Gap> {
        Some(Gap {
            dropped: u64::from_le_bytes(b.get(..8)?.try_into().ok()?),
            first_ms: i64::from_le_bytes(b.get(8..16)?.try_into().ok()?),
            last_ms: i64::from_le_bytes(b.get(16..24)?.try_into().ok()?),
        })
    }

    fn add(&mut self, at_ms: i64) {
        if self.dropped == 0 {
            self.first_ms = at_ms;
            self.last_ms = at_ms;
        } else {
            self.first_ms = self.first_ms.min(at_ms);
            self.last_ms = self.last_ms.max(at_ms);
        }
        self.dropped += 1;
    }
}

/// One stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub kind: Kind,
    pub at_ms: i64,
    pub payload: Vec<u8>,
}

/// What an append did with one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Stored under this sequence number.
    Stored(u64),
    /// Not stored: the spool is full; counted in the gap.
    Dropped,
}

/// What opening found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Entries waiting (not acknowledged).
    pub pending: u64,
    /// Bytes cut off a torn or damaged record.
    pub truncated_bytes: u64,
    /// Entries lost to damage inside the spool (written as a gap).
    pub lost: u64,
}

/// How big the spool may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes on disk, segments together.
    pub max_bytes: u64,
    /// A segment is closed once it passes this size.
    pub segment_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 256 * 1024 * 1024,
            segment_bytes: 8 * 1024 * 1024,
        }
    }
}

/// Why the spool could not do something.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("entry of {0} bytes is larger than the largest the spool takes")]
    TooLarge(usize),
    #[error("acknowledgement {ack} is past the last entry {last}")]
    AckPastEnd { ack: u64, last: u64 },
}

type Result<T> = std::result::Result<T, SpoolError>;

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug)]
struct Segment {
    first: u64,
    /// Last seq stored in it (first - 1 when empty).
    last: u64,
    path: PathBuf,
    bytes: u64,
}

/// The spool. One process owns a spool directory at a time.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    limits: Limits,
    segments: Vec<Segment>,
    acked: u64,
    next: u64,
    gap: Gap,
    writer: Option<File>,
}

fn encode(seq: u64, kind: Kind, at_ms: i64, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(HEADER - 1 + payload.len());
    body.push(kind.code());
    body.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    body.extend_from_slice(&seq.to_le_bytes());
    body.extend_from_slice(&at_ms.to_le_bytes());
    body.extend_from_slice(payload);
    let crc = crc32fast::hash(&body);
    let mut b = Vec::with_capacity(1 + body.len() + TRAILER);
    b.push(MAGIC);
    b.extend_from_slice(&body);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// One record at the start of `data`: the entry and its length, or `None` when what is there
/// is not a whole, intact record.
fn decode(data: &[u8]) -> Option<(Entry, usize)> {
    if *data.first()? != MAGIC {
        return None;
    }
    let kind = Kind::from_code(*data.get(1)?)?;
    let len = le_u32(data, 2)? as usize;
    if len > MAX_PAYLOAD {
        return None;
    }
    let body = data.get(1..HEADER + len)?;
    let crc = le_u32(data, HEADER + len)?;
    if crc32fast::hash(body) != crc {
        return None;
    }
    let seq = le_u64(data, 6)?;
    let at_ms = le_u64(data, 14)? as i64;
    let payload = data.get(HEADER..HEADER + len)?.to_vec();
    Some((
        Entry {
            seq,
            kind,
            at_ms,
            payload,
        },
        HEADER + len + TRAILER,
    ))
}

/// Reads the records of one segment file: the entries (when `want_payloads`), the length of
/// the valid prefix and the last sequence number in it (0 when none).
fn scan(path: &Path, want_payloads: bool) -> Result<(Vec<Entry>, u64, u64)> {
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(io_at(path))?;
    let mut out = Vec::new();
    let mut at = 0usize;
    let mut last = 0u64;
    while let Some((e, n)) = data.get(at..).and_then(decode) {
        if last != 0 && e.seq != last + 1 {
            break;
        }
        last = e.seq;
        at += n;
        if want_payloads {
            out.push(e);
        }
    }
    Ok((out, at as u64, last))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_at(dir))
}

/// Writes `bytes` to `name` in `dir` durably: aside, synced, renamed, directory synced.
fn write_small(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let path = dir.join(name);
    let mut f = File::create(&tmp).map_err(io_at(&tmp))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(io_at(&tmp))?;
    fs::rename(&tmp, &path).map_err(io_at(&path))?;
    sync_dir(dir)
}

/// Reads a small state file written by [`write_small`]: its bytes when the CRC holds.
fn read_small(dir: &Path, name: &str, len: usize) -> Result<Option<Vec<u8>>> {
    let path = dir.join(name);
    match fs::read(&path) {
        Ok(b) if b.len() == len + 4 => {
            let (body, crc) = b.split_at(len);
            let ok = crc32fast::hash(body).to_le_bytes() == crc;
            Ok(ok.then(|| body.to_vec()))
        }
        Ok(_) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_at(&path)(e)),
    }
}

fn with_crc(body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    b.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    b
}

impl Spool {
    /// Opens (or creates) the spool in `dir`, recovering from a crash.
    pub fn open(dir: &Path, limits: Limits) -> Result<(Spool, Recovery)> {
        fs::create_dir_all(dir).map_err(io_at(dir))?;
        let acked = read_small(dir, "ack", 8)?
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .unwrap_or(0);
        let gap = read_small(dir, "gap", 24)?
            .and_then(|b| Gap::parse(&b))
            .unwrap_or_default();
        let mut firsts: Vec<(u64, PathBuf)> = fs::read_dir(dir)
            .map_err(io_at(dir))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let first = name.strip_suffix(".seg")?.parse::<u64>().ok()?;
                Some((first, e.path()))
            })
            .collect();
        firsts.sort();
        let mut recovery = Recovery::default();
        let mut segments: Vec<Segment> = Vec::new();
        let mut lost_gap = Gap::default();
        for (i, (first, path)) in firsts.iter().enumerate() {
            let (_, valid, last) = scan(path, false)?;
            let size = fs::metadata(path).map_err(io_at(path))?.len();
            if valid < size {
                recovery.truncated_bytes += size - valid;
                OpenOptions::new()
                    .write(true)
                    .open(path)
                    .and_then(|f| {
                        f.set_len(valid)?;
                        f.sync_all()
                    })
                    .map_err(io_at(path))?;
                // Entries between the damage and the next segment are gone.
                let stored_last = if last == 0 { first - 1 } else { last };
                if let Some((next_first, _)) = firsts.get(i + 1)
                    && *next_first > stored_last + 1
                {
                    let n = next_first - stored_last - 1;
                    recovery.lost += n;
                    lost_gap.dropped += n;
                }
            }
            if last == 0 && valid == 0 {
                // An empty segment (created, nothing written): remove it.
                fs::remove_file(path).map_err(io_at(path))?;
                continue;
            }
            segments.push(Segment {
                first: *first,
                last,
                path: path.clone(),
                bytes: valid,
            });
        }
        let last_stored = segments.last().map(|s| s.last).unwrap_or(acked);
        let mut spool = Spool {
            dir: dir.to_path_buf(),
            limits,
            segments,
            acked: acked.min(last_stored),
            next: last_stored.max(acked) + 1,
            gap,
            writer: None,
        };
        spool.drop_acked_segments()?;
        if lost_gap.dropped > 0 {
            spool.gap.dropped += lost_gap.dropped;
            spool.save_gap()?;
            spool.flush_gap()?;
        }
        recovery.pending = spool.next - 1 - spool.acked;
        Ok((spool, recovery))
    }

    fn used_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// The number of the newest entry (0: none yet).
    pub fn last_seq(&self) -> u64 {
        self.next - 1
    }

    /// Bytes on disk and entries waiting, and entries counted as dropped but not yet reported.
    pub fn stats(&self) -> (u64, u64, u64) {
        (
            self.used_bytes(),
            self.next - 1 - self.acked,
            self.gap.dropped,
        )
    }

    fn save_gap(&self) -> Result<()> {
        write_small(&self.dir, "gap", &with_crc(&self.gap.bytes()))
    }

    /// Writes the pending gap as an entry when there is room.
    fn flush_gap(&mut self) -> Result<()> {
        if self.gap.dropped == 0 {
            return Ok(());
        }
        let gap = self.gap;
        let rec = encode(self.next, Kind::Gap, gap.last_ms, &gap.bytes());
        if self.used_bytes() + rec.len() as u64 > self.limits.max_bytes {
            return Ok(());
        }
        self.write_records(&[(self.next, rec)])?;
        self.gap = Gap::default();
        self.save_gap()
    }

    fn writer(&mut self) -> Result<&mut File> {
        let need_new = match self.segments.last() {
            None => true,
            Some(s) => s.bytes >= self.limits.segment_bytes,
        };
        if need_new {
            let path = self.dir.join(format!("{:020}.seg", self.next));
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(io_at(&path))?;
            sync_dir(&self.dir)?;
            self.segments.push(Segment {
                first: self.next,
                last: self.next - 1,
                path,
                bytes: 0,
            });
            self.writer = Some(f);
        } else if self.writer.is_none()
            && let Some(s) = self.segments.last()
        {
            let f = OpenOptions::new()
                .append(true)
                .open(&s.path)
                .map_err(io_at(&s.path))?;
            self.writer = Some(f);
        }
        let path = self.dir.clone();
        self.writer.as_mut().ok_or_else(|| SpoolError::Io {
            path,
            source: io::Error::other("no segment"),
        })
    }

    /// Writes encoded records (seq, bytes) and syncs once.
    fn write_records(&mut self, recs: &[(u64, Vec<u8>)]) -> Result<()> {
        for (seq, rec) in recs {
            let f = self.writer()?;
            let r = f.write_all(rec);
            let path = self
                .segments
                .last()
                .map(|s| s.path.clone())
                .unwrap_or_default();
            r.map_err(io_at(&path))?;
            if let Some(s) = self.segments.last_mut() {
                s.bytes += rec.len() as u64;
                s.last = *seq;
            }
            self.next = seq + 1;
            // A segment that just passed its size is closed: the next record opens a new one.
            let full = self
                .segments
                .last()
                .is_some_and(|s| s.bytes >= self.limits.segment_bytes);
            if full && let Some(f) = self.writer.take() {
                f.sync_data().map_err(io_at(&path))?;
            }
        }
        if let Some(f) = self.writer.as_mut() {
            let path = self
                .segments
                .last()
                .map(|s| s.path.clone())
                .unwrap_or_default();
            f.sync_data().map_err(io_at(&path))?;
        }
        Ok(())
    }

    /// Appends entries, durable when it returns. Entries that do not fit under the bound are
    /// dropped and counted in the gap (itself durable).
    pub fn append_batch(&mut self, items: &[(Kind, i64, &[u8])]) -> Result<Vec<Appended>> {
        if let Some((_, _, p)) = items.iter().find(|(_, _, p)| p.len() > MAX_PAYLOAD) {
            return Err(SpoolError::TooLarge(p.len()));
        }
        self.flush_gap()?;
        let mut out = Vec::with_capacity(items.len());
        let mut recs = Vec::new();
        let mut used = self.used_bytes();
        let mut seq = self.next;
        let mut dropped = false;
        for (kind, at_ms, payload) in items {
            let rec = encode(seq, *kind, *at_ms, payload);
            // Once one entry is dropped, the rest of the batch is too (order is kept), and
            // nothing is stored while a gap waits to be reported.
            if dropped || self.gap.dropped > 0 || used + rec.len() as u64 > self.limits.max_bytes {
                dropped = true;
                self.gap.add(*at_ms);
                out.push(Appended::Dropped);
                continue;
            }
            used += rec.len() as u64;
            recs.push((seq, rec));
            out.push(Appended::Stored(seq));
            seq += 1;
        }
        self.write_records(&recs)?;
        if dropped {
            self.save_gap()?;
        }
        Ok(out)
    }

    /// Appends one entry.
    pub fn append(&mut self, kind: Kind, at_ms: i64, payload: &[u8]) -> Result<Appended> {
        Ok(self
            .append_batch(&[(kind, at_ms, payload)])?
            .pop()
            .unwrap_or(Appended::Dropped))
    }

    /// Entries not yet acknowledged, oldest first: at most `max` of them and about `max_bytes`
    /// (at least one).
    pub fn pending(&self, max: usize, max_bytes: usize) -> Result<Vec<Entry>> {
        self.pending_after(0, max, max_bytes)
    }

    /// [`Spool::pending`] from the entry after `after` on (entries carried in a file already,
    /// waiting for their acknowledgement, are skipped).
    pub fn pending_after(&self, after: u64, max: usize, max_bytes: usize) -> Result<Vec<Entry>> {
        let from = self.acked.max(after);
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for s in self.segments.iter().filter(|s| s.last > from) {
            let (entries, _, _) = scan(&s.path, true)?;
            for e in entries.into_iter().filter(|e| e.seq > from) {
                if out.len() >= max || (!out.is_empty() && bytes + e.payload.len() > max_bytes) {
                    return Ok(out);
                }
                bytes += e.payload.len();
                out.push(e);
            }
        }
        Ok(out)
    }

    /// The server holds every entry up to `upto`: they are freed (whole segments deleted), and
    /// a pending gap is written if there is room now.
    pub fn ack(&mut self, upto: u64) -> Result<()> {
        let last = self.next - 1;
        if upto > last {
            return Err(SpoolError::AckPastEnd { ack: upto, last });
        }
        if upto <= self.acked {
            return Ok(());
        }
        write_small(&self.dir, "ack", &with_crc(&upto.to_le_bytes()))?;
        self.acked = upto;
        self.drop_acked_segments()?;
        self.flush_gap()
    }

    fn drop_acked_segments(&mut self) -> Result<()> {
        let acked = self.acked;
        let is_last = |i: usize, n: usize| i + 1 == n;
        let n = self.segments.len();
        let mut keep = Vec::with_capacity(n);
        for (i, s) in std::mem::take(&mut self.segments).into_iter().enumerate() {
            // The segment being written is kept until it is full, even when all of it is
            // acknowledged, unless the next append would open a new one anyway.
            let done = s.last <= acked && s.last >= s.first;
            if done && !(is_last(i, n) && s.bytes < self.limits.segment_bytes) {
                fs::remove_file(&s.path).map_err(io_at(&s.path))?;
                continue;
            }
            keep.push(s);
        }
        if keep.len() != n {
            sync_dir(&self.dir)?;
        }
        self.segments = keep;
        Ok(())
    }

    /// The last acknowledged sequence number.
    pub fn acked(&self) -> u64 {
        self.acked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: u64, seg: u64) -> Limits {
        Limits {
            max_bytes: max,
            segment_bytes: seg,
        }
    }

    fn segment_files(dir: &Path) -> usize {
        fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "seg"))
            })
            .count()
    }

    fn seqs(v: &[Entry]) -> Vec<u64> {
        v.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn entries_come_back_oldest_first_and_acks_free_them() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, r) = Spool::open(dir.path(), limits(1 << 20, 200)).unwrap();
        assert_eq!(r, Recovery::default());
        for i in 0..20i64 {
            let p = format!("event {i}");
            assert_eq!(
                s.append(Kind::Event, i, p.as_bytes()).unwrap(),
                Appended::Stored(i as u64 + 1)
            );
        }
        let all = s.pending(100, 1 << 20).unwrap();
        assert_eq!(seqs(&all), (1..=20).collect::<Vec<_>>());
        assert_eq!(all[3].payload, b"event 3");
        // A page at a time.
        assert_eq!(seqs(&s.pending(5, 1 << 20).unwrap()), vec![1, 2, 3, 4, 5]);
        let segments_before = segment_files(dir.path());
        s.ack(12).unwrap();
        assert_eq!(
            seqs(&s.pending(100, 1 << 20).unwrap()),
            (13..=20).collect::<Vec<_>>()
        );
        assert!(
            segment_files(dir.path()) < segments_before,
            "segments freed"
        );
        assert!(matches!(s.ack(21), Err(SpoolError::AckPastEnd { .. })));
        // Reopened: the same state.
        drop(s);
        let (s, r) = Spool::open(dir.path(), limits(1 << 20, 200)).unwrap();
        assert_eq!(r.pending, 8);
        assert_eq!(
            seqs(&s.pending(100, 1 << 20).unwrap()),
            (13..=20).collect::<Vec<_>>()
        );
        assert_eq!(s.acked(), 12);
    }

    #[test]
    fn a_full_spool_counts_what_it_drops_and_reports_it_first_when_space_returns() {
        let dir = tempfile::tempdir().unwrap();
        // Room for about five 100-byte entries.
        let (mut s, _) = Spool::open(dir.path(), limits(650, 260)).unwrap();
        let p = [7u8; 100];
        let out = s
            .append_batch(
                &(0..8)
                    .map(|i| (Kind::Event, 1000 + i, &p[..]))
                    .collect::<Vec<_>>(),
            )
            .unwrap();
        let stored = out
            .iter()
            .filter(|a| matches!(a, Appended::Stored(_)))
            .count();
        assert_eq!(stored, 5);
        assert_eq!(s.stats().2, 3, "three counted as dropped");
        // Still full: dropped again, and the gap survives a restart.
        assert_eq!(s.append(Kind::Event, 2000, &p).unwrap(), Appended::Dropped);
        drop(s);
        let (mut s, _) = Spool::open(dir.path(), limits(650, 260)).unwrap();
        assert_eq!(s.stats().2, 4);
        // The server takes everything: the gap is written before anything newer.
        s.ack(5).unwrap();
        assert_eq!(
            s.append(Kind::Event, 3000, &p).unwrap(),
            Appended::Stored(7)
        );
        let pending = s.pending(10, 1 << 20).unwrap();
        assert_eq!(pending[0].kind, Kind::Gap);
        assert_eq!(
            Gap::parse(&pending[0].payload),
            Some(Gap {
                dropped: 4,
                first_ms: 1005,
                last_ms: 2000
            })
        );
        assert_eq!(pending[1].at_ms, 3000);
        assert_eq!(s.stats().2, 0);
    }

    #[test]
    fn a_torn_tail_is_cut_off_and_damage_inside_becomes_a_gap() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = Spool::open(dir.path(), limits(1 << 20, 120)).unwrap();
        for i in 0..10 {
            s.append(Kind::Inventory, i, &[i as u8; 40]).unwrap();
        }
        drop(s);
        let mut segs: Vec<PathBuf> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "seg"))
            .collect();
        segs.sort();
        // A write cut short at the end of the last segment.
        let last = segs.last().unwrap();
        let mut f = OpenOptions::new().append(true).open(last).unwrap();
        f.write_all(&[MAGIC, 1, 40, 0]).unwrap();
        drop(f);
        let (s, r) = Spool::open(dir.path(), limits(1 << 20, 120)).unwrap();
        assert_eq!(r.truncated_bytes, 4);
        assert_eq!(r.lost, 0);
        assert_eq!(
            seqs(&s.pending(100, 1 << 20).unwrap()),
            (1..=10).collect::<Vec<_>>()
        );
        drop(s);
        // A flipped byte inside the first segment: its later entries are lost, reported.
        let first = &segs[0];
        let mut b = fs::read(first).unwrap();
        let rec = HEADER + 40 + TRAILER;
        b[rec + HEADER + 3] ^= 0xFF;
        fs::write(first, &b).unwrap();
        let (s, r) = Spool::open(dir.path(), limits(1 << 20, 120)).unwrap();
        assert!(r.lost >= 1, "{r:?}");
        let p = s.pending(100, 1 << 20).unwrap();
        assert_eq!(p[0].seq, 1);
        let gap = p.iter().find(|e| e.kind == Kind::Gap).expect("a gap entry");
        assert_eq!(Gap::parse(&gap.payload).unwrap().dropped, r.lost);
    }
}
