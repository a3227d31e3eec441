//! The sealed log on disk: segment files with group commit, the tree-head file, recovery after
//! a crash, proofs, reads, export and retention.
//!
//! Directory layout:
//! - `seal.key` — Ed25519 seed, mode 0600 (`MSEALKY1` + 32 bytes);
//! - `seg-<first index, 20 digits>.seal` — `MSEALSG1 | first u64` then record frames
//!   ([`crate::record`]);
//! - `heads.seal` — signed tree heads and deletion records, each framed as
//!   `kind u8 | len u32 | body | check [4]` (kind 1 = head, 2 = deletion);
//! - `tree/level-NN.bin` — perfect subtree hashes ([`crate::tree`]).

use crate::bundle;
use crate::error::{SealError, io};
use crate::keys::{self, DeletionRecord, MAX_REASON, PublicKey, SignedTreeHead, sync_dir};
use crate::merkle::{self, Frontier, Hash, NodeSource};
use crate::record::{HEADER_LEN, Header, Record, encode_frame};
use crate::tree::TreeStore;
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

const SEG_MAGIC: &[u8; 8] = b"MSEALSG1";
const SEG_HEADER: u64 = 16;
/// Every `SPARSE`-th record's offset is kept in memory for reads.
const SPARSE: u64 = 64;
const KIND_HEAD: u8 = 1;
const KIND_DELETION: u8 = 2;
const MAX_ENTRY: u32 = 4096;

/// Tuning of a sealed log.
#[derive(Clone, Debug)]
pub struct SealOptions {
    /// A new segment is started when the current one reaches this size.
    pub segment_bytes: u64,
    /// A tree head is signed when records are unsigned and this much time has passed since the
    /// last head (checked on every append and [`SealedLog::tick`]).
    pub head_interval_ms: i64,
    /// Largest payload accepted.
    pub max_payload: u32,
    /// At most this many tree heads go into an export (evenly thinned, the last always kept).
    pub max_export_heads: usize,
}

impl Default for SealOptions {
    fn default() -> Self {
        Self {
            segment_bytes: 64 << 20,
            head_interval_ms: 1000,
            max_payload: 1 << 20,
            max_export_heads: 65_536,
        }
    }
}

/// What `open` found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// A new signing key was generated.
    pub key_created: bool,
    /// First record index present (> 0 after pruning).
    pub first_index: u64,
    /// Records in the log (the next index).
    pub size: u64,
    /// Size of the last signed tree head.
    pub signed_size: u64,
    /// Bytes cut from the tail of the last segment (a torn, unacknowledged batch).
    pub truncated_bytes: u64,
    /// Bytes cut from the tail of the tree-head file.
    pub truncated_head_bytes: u64,
    /// Leaves re-hashed into the tree files from the segments.
    pub rebuilt_leaves: u64,
    /// Segment files of an interrupted prune that were deleted.
    pub finished_prune_segments: usize,
}

/// Current (unsigned) state of the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeHead {
    /// Number of records.
    pub tree_size: u64,
    /// RFC 6962 root.
    pub root: Hash,
}

struct Segment {
    path: PathBuf,
    file: File,
    first: u64,
    end: u64,
    len: u64,
    /// Offset of record `first + k * SPARSE`.
    sparse: Vec<u64>,
    last_recv_ms: Option<i64>,
}

/// A tamper-evident append-only log in one directory. See the crate docs.
pub struct SealedLog {
    dir: PathBuf,
    opts: SealOptions,
    key: SigningKey,
    public: PublicKey,
    segments: BTreeMap<u64, Segment>,
    first_index: u64,
    size: u64,
    frontier: Frontier,
    tree: TreeStore,
    heads_path: PathBuf,
    heads: File,
    last_head: Option<SignedTreeHead>,
    last_sign_ms: Option<i64>,
    deletions: Vec<DeletionRecord>,
    poisoned: bool,
    buf: Vec<u8>,
}

impl std::fmt::Debug for SealedLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedLog")
            .field("dir", &self.dir)
            .field("first_index", &self.first_index)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

struct Scan {
    end: u64,
    valid_len: u64,
    file_len: u64,
    sparse: Vec<u64>,
    last_recv_ms: Option<i64>,
    /// First problem: (index, what).
    problem: Option<(u64, String)>,
}

fn scan_segment(
    path: &Path,
    first: u64,
    max_payload: u32,
    check_payloads: bool,
) -> Result<Scan, SealError> {
    let file = File::open(path).map_err(io(path))?;
    let file_len = file.metadata().map_err(io(path))?.len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    r.seek(SeekFrom::Start(SEG_HEADER)).map_err(io(path))?;
    let mut s = Scan {
        end: first,
        valid_len: SEG_HEADER,
        file_len,
        sparse: Vec::new(),
        last_recv_ms: None,
        problem: None,
    };
    let mut payload = Vec::new();
    loop {
        if s.valid_len == file_len {
            break;
        }
        let mut hb = [0u8; HEADER_LEN];
        if s.valid_len + HEADER_LEN as u64 > file_len || r.read_exact(&mut hb).is_err() {
            s.problem = Some((s.end, "torn record header".into()));
            break;
        }
        let Some(h) = Header::decode(&hb) else {
            s.problem = Some((s.end, "record header checksum does not match".into()));
            break;
        };
        if h.seq != s.end {
            s.problem = Some((s.end, format!("expected record {}, found {}", s.end, h.seq)));
            break;
        }
        if h.len > max_payload {
            s.problem = Some((s.end, "record length beyond the limit".into()));
            break;
        }
        let next = s.valid_len + HEADER_LEN as u64 + u64::from(h.len);
        if next > file_len {
            s.problem = Some((s.end, "torn record payload".into()));
            break;
        }
        if check_payloads {
            payload.resize(h.len as usize, 0);
            r.read_exact(&mut payload).map_err(io(path))?;
            let d: Hash = Sha256::digest(&payload).into();
            if d != h.payload_hash {
                s.problem = Some((s.end, "payload does not match its hash".into()));
                break;
            }
        } else {
            r.seek_relative(i64::from(h.len)).map_err(io(path))?;
        }
        if (s.end - first).is_multiple_of(SPARSE) {
            s.sparse.push(s.valid_len);
        }
        s.last_recv_ms = Some(h.recv_ms);
        s.valid_len = next;
        s.end += 1;
    }
    Ok(s)
}

fn seg_name(first: u64) -> String {
    format!("seg-{first:020}.seal")
}

fn parse_seg_name(name: &str) -> Option<u64> {
    name.strip_prefix("seg-")?
        .strip_suffix(".seal")?
        .parse()
        .ok()
}

/// Reads the framed entries of the heads file; returns them and the length of the valid prefix.
/// `(kind, body)` of one heads-file entry.
type Entry = (u8, Vec<u8>);

fn read_entries(path: &Path) -> Result<(Vec<Entry>, u64), SealError> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes).map_err(io(path))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(path)(e)),
    }
    let mut out = Vec::new();
    let mut pos = 0usize;
    while let Some(head) = bytes.get(pos..pos + 5) {
        let kind = head.first().copied().unwrap_or(0);
        let len = u32::from_be_bytes(
            head.get(1..5)
                .and_then(|b| b.try_into().ok())
                .unwrap_or([0xff; 4]),
        );
        if len > MAX_ENTRY {
            break;
        }
        let end = pos + 5 + len as usize;
        let (Some(framed), Some(check)) = (bytes.get(pos..end), bytes.get(end..end + 4)) else {
            break;
        };
        if Sha256::digest(framed).get(..4) != Some(check) {
            break;
        }
        out.push((kind, framed.get(5..).unwrap_or(&[]).to_vec()));
        pos = end + 4;
    }
    Ok((out, pos as u64))
}

fn frame_entry(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut e = Vec::with_capacity(body.len() + 9);
    e.push(kind);
    e.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes());
    e.extend_from_slice(body);
    let check = Sha256::digest(&e);
    e.extend_from_slice(check.get(..4).unwrap_or(&[0; 4]));
    e
}

impl SealedLog {
    /// Opens (or creates) the log in `dir`, repairing a torn tail: the last segment is cut back to
    /// its last complete record, the tree files are rebuilt past the last signed head, and an
    /// interrupted prune is finished. Fails if acknowledged (signed) records are missing or the
    /// stored records do not match the last signed head.
    pub fn open(dir: &Path, opts: SealOptions) -> Result<(Self, OpenReport), SealError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        let mut report = OpenReport::default();
        let (key, created) = keys::load_or_create(&dir.join("seal.key"))?;
        report.key_created = created;
        let public = PublicKey(key.verifying_key().to_bytes());

        // Tree heads and deletion records.
        let heads_path = dir.join("heads.seal");
        let (entries, valid) = read_entries(&heads_path)?;
        let heads = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&heads_path)
            .map_err(io(&heads_path))?;
        let heads_len = heads.metadata().map_err(io(&heads_path))?.len();
        if heads_len > valid {
            heads.set_len(valid).map_err(io(&heads_path))?;
            heads.sync_all().map_err(io(&heads_path))?;
            report.truncated_head_bytes = heads_len - valid;
        }
        let mut last_head: Option<SignedTreeHead> = None;
        let mut deletions = Vec::new();
        for (n, (kind, body)) in entries.iter().enumerate() {
            let bad = |what: &str| SealError::HeadsDamaged {
                entry: n as u64,
                what: what.into(),
            };
            match *kind {
                KIND_HEAD => {
                    let h = SignedTreeHead::decode(body).ok_or_else(|| bad("bad tree head"))?;
                    if last_head.is_some_and(|l| l.tree_size > h.tree_size) {
                        return Err(bad("tree head smaller than an earlier one"));
                    }
                    last_head = Some(h);
                }
                KIND_DELETION => {
                    let d = DeletionRecord::decode(body).ok_or_else(|| bad("bad deletion"))?;
                    if !d.verify(&public) {
                        return Err(bad("deletion record signature does not verify"));
                    }
                    deletions.push(d);
                }
                _ => return Err(bad("unknown entry kind")),
            }
        }
        if let Some(h) = &last_head
            && !h.verify(&public)
        {
            return Err(SealError::HeadsDamaged {
                entry: entries.len() as u64,
                what: "last tree head signature does not verify with this log's key".into(),
            });
        }
        let first_index = deletions.last().map_or(0, |d| d.first_kept);
        let signed_size = last_head.map_or(0, |h| h.tree_size);
        report.signed_size = signed_size;

        // Segments.
        let mut firsts: Vec<u64> = std::fs::read_dir(dir)
            .map_err(io(dir))?
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(parse_seg_name))
            .collect();
        firsts.sort_unstable();
        let mut segments = BTreeMap::new();
        let mut expected = first_index;
        let count = firsts.len();
        for (i, first) in firsts.into_iter().enumerate() {
            let path = dir.join(seg_name(first));
            let is_last = i + 1 == count;
            if first < first_index {
                // Left over from a prune that was recorded but not finished.
                std::fs::remove_file(&path).map_err(io(&path))?;
                report.finished_prune_segments += 1;
                continue;
            }
            if first != expected {
                return Err(SealError::Damaged {
                    index: expected,
                    what: format!("records {expected}..{first} are missing (no segment)"),
                });
            }
            let mut hb = [0u8; 16];
            let f = File::open(&path).map_err(io(&path))?;
            let ok = f.read_exact_at(&mut hb, 0).is_ok()
                && hb.get(..8) == Some(SEG_MAGIC.as_slice())
                && hb.get(8..16) == Some(first.to_be_bytes().as_slice());
            if !ok {
                if is_last {
                    // A segment whose creation was torn.
                    std::fs::remove_file(&path).map_err(io(&path))?;
                    report.truncated_bytes += f.metadata().map_or(0, |m| m.len());
                    continue;
                }
                return Err(SealError::Damaged {
                    index: first,
                    what: "segment header damaged".into(),
                });
            }
            let scan = scan_segment(&path, first, opts.max_payload, is_last)?;
            if let Some((index, what)) = &scan.problem {
                if !is_last || *index < signed_size {
                    return Err(SealError::Damaged {
                        index: *index,
                        what: what.clone(),
                    });
                }
                let w = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io(&path))?;
                w.set_len(scan.valid_len).map_err(io(&path))?;
                w.sync_all().map_err(io(&path))?;
                report.truncated_bytes += scan.file_len - scan.valid_len;
            }
            expected = scan.end;
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(io(&path))?;
            segments.insert(
                first,
                Segment {
                    path,
                    file,
                    first,
                    end: scan.end,
                    len: scan.valid_len,
                    sparse: scan.sparse,
                    last_recv_ms: scan.last_recv_ms,
                },
            );
        }
        let size = expected;
        if size < signed_size {
            return Err(SealError::AcknowledgedMissing {
                signed: signed_size,
                present: size,
            });
        }

        let tree = TreeStore::open(&dir.join("tree"))?;
        // Make the entries of files created above (heads file, tree directory) durable.
        sync_dir(dir)?;
        let mut log = Self {
            dir: dir.to_path_buf(),
            opts,
            key,
            public,
            segments,
            first_index,
            size,
            frontier: Frontier::new(),
            tree,
            heads_path,
            heads,
            last_head,
            last_sign_ms: last_head.map(|h| h.signed_at_ms),
            deletions,
            poisoned: false,
            buf: Vec::new(),
        };
        log.rebuild_tree(&mut report)?;
        report.first_index = log.first_index;
        report.size = log.size;
        Ok((log, report))
    }

    /// Makes the tree files match the segments: keeps the nodes below the last signed head
    /// (synced when it was signed), re-hashes the rest, and checks the root of the last head.
    fn rebuild_tree(&mut self, report: &mut OpenReport) -> Result<(), SealError> {
        let signed = self.last_head.map_or(0, |h| h.tree_size);
        let mut keep = signed.min(self.tree.count(0));
        for k in 1..64u32 {
            if keep >> k == 0 {
                break;
            }
            if self.tree.count(k) < keep >> k {
                keep = self.tree.count(k) << k;
            }
        }
        for attempt in 0..2 {
            if keep < self.first_index {
                return Err(SealError::Damaged {
                    index: keep,
                    what: "tree files of the pruned prefix are damaged".into(),
                });
            }
            self.tree.truncate_to(keep)?;
            self.frontier = Frontier::load(&self.tree, keep)?;
            for i in keep..self.size {
                let h = self.read_header(i)?;
                let leaf = h.leaf_hash();
                let tree = &mut self.tree;
                let mut err = None;
                self.frontier.push_with(leaf, |level, index, hash| {
                    if let Err(e) = tree.put(level, index, hash) {
                        err.get_or_insert(e);
                    }
                });
                if let Some(e) = err {
                    return Err(e);
                }
                if i.is_multiple_of(4096) {
                    self.tree.flush()?;
                }
            }
            self.tree.flush()?;
            report.rebuilt_leaves += self.size - keep;
            let Some(head) = self.last_head else {
                return Ok(());
            };
            let root = merkle::range_hash(&self.tree, 0, head.tree_size)?;
            if root == head.root {
                return Ok(());
            }
            if attempt == 0 && self.first_index == 0 {
                keep = 0;
                continue;
            }
        }
        Err(SealError::Damaged {
            index: self.first_index,
            what: "stored records do not hash to the last signed tree head".into(),
        })
    }

    /// Appends a batch of records received at `now_ms`; returns their indices. The batch is
    /// written and fsynced before this returns (group commit): once it returns, the records
    /// survive a crash. May also sign a tree head (see [`SealOptions::head_interval_ms`]).
    /// Nothing is written if a payload is too large.
    pub fn append_batch(
        &mut self,
        now_ms: i64,
        payloads: &[&[u8]],
    ) -> Result<Range<u64>, SealError> {
        if self.poisoned {
            return Err(SealError::Poisoned);
        }
        for (position, p) in payloads.iter().enumerate() {
            if p.len() > self.opts.max_payload as usize {
                return Err(SealError::PayloadTooLarge {
                    position,
                    len: p.len(),
                    max: self.opts.max_payload,
                });
            }
        }
        let start = self.size;
        if payloads.is_empty() {
            return Ok(start..start);
        }
        let need_new = self
            .segments
            .values()
            .next_back()
            .is_none_or(|s| s.len >= self.opts.segment_bytes);
        if need_new {
            self.new_segment()?;
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let mut leaves = Vec::with_capacity(payloads.len());
        let mut offsets = Vec::new();
        let seg_len = self.segments.values().next_back().map_or(0, |s| s.len);
        for (i, p) in payloads.iter().enumerate() {
            let seq = start + i as u64;
            let seg_first = self.segments.values().next_back().map_or(0, |s| s.first);
            if (seq - seg_first).is_multiple_of(SPARSE) {
                offsets.push(seg_len + buf.len() as u64);
            }
            leaves.push(encode_frame(&mut buf, seq, now_ms, p).leaf_hash());
        }
        let result = self.commit(&buf, offsets, now_ms, payloads.len() as u64);
        self.buf = buf;
        if let Err(e) = result {
            self.poisoned = true;
            return Err(e);
        }
        let tree = &mut self.tree;
        let mut err = None;
        for leaf in leaves {
            self.frontier.push_with(leaf, |level, index, hash| {
                if let Err(e) = tree.put(level, index, hash) {
                    err.get_or_insert(e);
                }
            });
        }
        if let Some(e) = err {
            self.poisoned = true;
            return Err(e);
        }
        if let Err(e) = self.tree.flush() {
            self.poisoned = true;
            return Err(e);
        }
        self.size += payloads.len() as u64;
        // The records are durable and acknowledged even if signing fails; the failure poisons
        // the log so that the next call reports it (reopening repairs).
        if self.tick(now_ms).is_err() {
            self.poisoned = true;
        }
        Ok(start..self.size)
    }

    fn commit(
        &mut self,
        buf: &[u8],
        offsets: Vec<u64>,
        now_ms: i64,
        n: u64,
    ) -> Result<(), SealError> {
        let seg = self
            .segments
            .values_mut()
            .next_back()
            .ok_or(SealError::Poisoned)?;
        let written = seg
            .file
            .write_all_at(buf, seg.len)
            .and_then(|()| seg.file.sync_data());
        if let Err(e) = written {
            let _ = seg.file.set_len(seg.len);
            return Err(io(&seg.path)(e));
        }
        seg.len += buf.len() as u64;
        seg.end += n;
        seg.sparse.extend(offsets);
        seg.last_recv_ms = Some(now_ms);
        Ok(())
    }

    fn new_segment(&mut self) -> Result<(), SealError> {
        let first = self.size;
        let path = self.dir.join(seg_name(first));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(io(&path))?;
        file.write_all(SEG_MAGIC).map_err(io(&path))?;
        file.write_all(&first.to_be_bytes()).map_err(io(&path))?;
        file.sync_all().map_err(io(&path))?;
        sync_dir(&self.dir)?;
        self.segments.insert(
            first,
            Segment {
                path,
                file,
                first,
                end: first,
                len: SEG_HEADER,
                sparse: Vec::new(),
                last_recv_ms: None,
            },
        );
        Ok(())
    }

    /// Signs a tree head if records are unsigned and the head interval has passed. Call it
    /// periodically (e.g. every second) so that quiet periods are signed too.
    pub fn tick(&mut self, now_ms: i64) -> Result<Option<SignedTreeHead>, SealError> {
        let signed = self.last_head.map_or(0, |h| h.tree_size);
        let due = self
            .last_sign_ms
            .is_none_or(|t| now_ms.saturating_sub(t) >= self.opts.head_interval_ms);
        if self.size > signed && due {
            return self.sign_head(now_ms).map(Some);
        }
        Ok(None)
    }

    /// Signs a tree head over all records now (also when nothing changed) and makes it durable.
    pub fn sign_head(&mut self, now_ms: i64) -> Result<SignedTreeHead, SealError> {
        if self.poisoned {
            return Err(SealError::Poisoned);
        }
        self.tree.sync()?;
        let sth = SignedTreeHead::sign(&self.key, self.size, now_ms, self.frontier.root());
        self.append_entry(KIND_HEAD, &sth.encode())?;
        self.last_head = Some(sth);
        self.last_sign_ms = Some(now_ms);
        Ok(sth)
    }

    fn append_entry(&mut self, kind: u8, body: &[u8]) -> Result<(), SealError> {
        let e = frame_entry(kind, body);
        let path = &self.heads_path;
        let len = self.heads.metadata().map_err(io(path))?.len();
        if let Err(err) = self
            .heads
            .write_all_at(&e, len)
            .and_then(|()| self.heads.sync_data())
        {
            let _ = self.heads.set_len(len);
            self.poisoned = true;
            return Err(io(path)(err));
        }
        Ok(())
    }

    /// Signs a final head if anything is unsigned, and closes the log.
    pub fn close(mut self, now_ms: i64) -> Result<(), SealError> {
        let signed = self.last_head.map_or(0, |h| h.tree_size);
        if self.size > signed {
            self.sign_head(now_ms)?;
        }
        Ok(())
    }

    /// Current tree size and root (not necessarily signed yet).
    pub fn head(&self) -> TreeHead {
        TreeHead {
            tree_size: self.size,
            root: self.frontier.root(),
        }
    }

    /// The last signed tree head.
    pub fn signed_head(&self) -> Option<SignedTreeHead> {
        self.last_head
    }

    /// First index still stored (0 unless pruned).
    pub fn first_index(&self) -> u64 {
        self.first_index
    }

    /// Number of records ever appended (the next index).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The public key that verifies this log's heads.
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    /// The deletion records, oldest first.
    pub fn deletions(&self) -> &[DeletionRecord] {
        &self.deletions
    }

    /// Root of the tree of the first `tree_size` records (O(log n) reads).
    pub fn root_at(&self, tree_size: u64) -> Result<Hash, SealError> {
        if tree_size > self.size {
            return Err(SealError::OutOfRange {
                index: tree_size,
                size: self.size,
            });
        }
        merkle::range_hash(&self.tree, 0, tree_size)
    }

    /// The Merkle leaf hash of record `index` (kept after pruning).
    pub fn leaf_hash(&self, index: u64) -> Result<Hash, SealError> {
        if index >= self.size {
            return Err(SealError::OutOfRange {
                index,
                size: self.size,
            });
        }
        self.tree.perfect(0, index)
    }

    /// Inclusion proof of record `index` in the tree of `tree_size` records (O(log n) reads).
    pub fn inclusion_proof(&self, index: u64, tree_size: u64) -> Result<Vec<Hash>, SealError> {
        if tree_size > self.size || index >= tree_size {
            return Err(SealError::OutOfRange {
                index,
                size: tree_size.min(self.size),
            });
        }
        merkle::inclusion_proof(&self.tree, index, tree_size)?.ok_or(SealError::OutOfRange {
            index,
            size: tree_size,
        })
    }

    /// Consistency proof between the trees of `old_size` and `new_size` records.
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, SealError> {
        if new_size > self.size || old_size > new_size {
            return Err(SealError::OutOfRange {
                index: new_size,
                size: self.size,
            });
        }
        merkle::consistency_proof(&self.tree, old_size, new_size)?.ok_or(SealError::OutOfRange {
            index: old_size,
            size: new_size,
        })
    }

    fn locate(&self, index: u64) -> Result<(&Segment, u64), SealError> {
        if index < self.first_index {
            return Err(SealError::Pruned {
                index,
                first: self.first_index,
            });
        }
        if index >= self.size {
            return Err(SealError::OutOfRange {
                index,
                size: self.size,
            });
        }
        let (_, seg) = self
            .segments
            .range(..=index)
            .next_back()
            .ok_or(SealError::Pruned {
                index,
                first: self.first_index,
            })?;
        let k = (index - seg.first) / SPARSE;
        let mut off = *seg
            .sparse
            .get(usize::try_from(k).unwrap_or(usize::MAX))
            .ok_or_else(|| SealError::Damaged {
                index,
                what: "record offset unknown".into(),
            })?;
        let mut at = seg.first + k * SPARSE;
        while at < index {
            let h = Self::header_at(seg, off, at)?;
            off += HEADER_LEN as u64 + u64::from(h.len);
            at += 1;
        }
        Ok((seg, off))
    }

    fn header_at(seg: &Segment, off: u64, index: u64) -> Result<Header, SealError> {
        #[cfg(test)]
        tests::HEADER_READS.with(|n| n.set(n.get() + 1));
        let mut hb = [0u8; HEADER_LEN];
        seg.file
            .read_exact_at(&mut hb, off)
            .map_err(io(&seg.path))?;
        match Header::decode(&hb) {
            Some(h) if h.seq == index => Ok(h),
            _ => Err(SealError::Damaged {
                index,
                what: "record header does not match".into(),
            }),
        }
    }

    fn read_header(&self, index: u64) -> Result<Header, SealError> {
        let (seg, off) = self.locate(index)?;
        Self::header_at(seg, off, index)
    }

    /// Reads records `range` in order, each with its payload hash checked, and hands them to
    /// `each`. For reading many records in a row: each segment is read forward in large blocks
    /// (a few reads per thousand records), where [`SealedLog::read`] finds every record from
    /// the nearest sparse offset anew.
    pub fn read_range(
        &self,
        range: Range<u64>,
        mut each: impl FnMut(u64, Record),
    ) -> Result<(), SealError> {
        const BLOCK: usize = 1 << 20;
        let mut index = range.start;
        while index < range.end {
            let (seg, mut off) = self.locate(index)?;
            let stop = range.end.min(seg.end);
            // `buf` holds the file's bytes from `buf_off`.
            let mut buf: Vec<u8> = Vec::new();
            let mut buf_off = off;
            let fill = |buf: &mut Vec<u8>, buf_off: &mut u64, at: u64, need: usize| {
                let want = need.max(BLOCK);
                buf.clear();
                buf.resize(want, 0);
                let mut got = 0;
                while let Some(rest) = buf.get_mut(got..).filter(|r| !r.is_empty()) {
                    match seg.file.read_at(rest, at + got as u64) {
                        Ok(0) => break,
                        Ok(n) => got += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(io(&seg.path)(e)),
                    }
                }
                buf.truncate(got);
                *buf_off = at;
                Ok(())
            };
            while index < stop {
                let rel = usize::try_from(off - buf_off).unwrap_or(usize::MAX);
                if buf.get(rel..rel.saturating_add(HEADER_LEN)).is_none() {
                    fill(&mut buf, &mut buf_off, off, HEADER_LEN)?;
                }
                let rel = usize::try_from(off - buf_off).unwrap_or(usize::MAX);
                let damaged = |what: &str| SealError::Damaged {
                    index,
                    what: what.into(),
                };
                let h = buf
                    .get(rel..rel + HEADER_LEN)
                    .and_then(|hb| <[u8; HEADER_LEN]>::try_from(hb).ok())
                    .and_then(|hb| Header::decode(&hb))
                    .filter(|h| h.seq == index)
                    .ok_or_else(|| damaged("record header does not match"))?;
                let len = h.len as usize;
                if off + (HEADER_LEN + len) as u64 > seg.len {
                    return Err(damaged("record runs past the end of its segment"));
                }
                let start = rel + HEADER_LEN;
                if buf.get(start..start + len).is_none() {
                    fill(&mut buf, &mut buf_off, off, HEADER_LEN + len)?;
                }
                let start = usize::try_from(off - buf_off).unwrap_or(usize::MAX) + HEADER_LEN;
                let payload = buf
                    .get(start..start + len)
                    .ok_or_else(|| damaged("record cut short"))?
                    .to_vec();
                if <[u8; 32]>::from(Sha256::digest(&payload)) != h.payload_hash {
                    return Err(damaged("payload does not match its hash"));
                }
                each(
                    index,
                    Record {
                        seq: h.seq,
                        recv_ms: h.recv_ms,
                        payload_hash: h.payload_hash,
                        payload,
                    },
                );
                off += (HEADER_LEN + len) as u64;
                index += 1;
            }
        }
        Ok(())
    }

    /// Reads record `index` and checks its payload hash.
    pub fn read(&self, index: u64) -> Result<Record, SealError> {
        let (seg, off) = self.locate(index)?;
        let h = Self::header_at(seg, off, index)?;
        let mut payload = vec![0u8; h.len as usize];
        seg.file
            .read_exact_at(&mut payload, off + HEADER_LEN as u64)
            .map_err(io(&seg.path))?;
        if <[u8; 32]>::from(Sha256::digest(&payload)) != h.payload_hash {
            return Err(SealError::Damaged {
                index,
                what: "payload does not match its hash".into(),
            });
        }
        Ok(Record {
            seq: h.seq,
            recv_ms: h.recv_ms,
            payload_hash: h.payload_hash,
            payload,
        })
    }

    /// The first stored record received at or after `t_ms`, or [`SealedLog::size`] when there
    /// is none. Records are appended in receive-time order, so this is a binary search: over the
    /// segments (whose last receive time is kept in memory), then over every 64th record of the
    /// segment, then through at most 63 headers — O(log n) header reads, never a scan of the
    /// log. Pruned records are not searched: the answer is at least [`SealedLog::first_index`].
    /// If the caller's clock ever went backwards, the answer is still a record boundary, found
    /// as if the times were ordered.
    pub fn index_at_time(&self, t_ms: i64) -> Result<u64, SealError> {
        let segs: Vec<&Segment> = self.segments.values().filter(|s| s.end > s.first).collect();
        let k = segs.partition_point(|s| s.last_recv_ms.is_none_or(|l| l < t_ms));
        let Some(seg) = segs.get(k) else {
            return Ok(self.size);
        };
        let unknown = |index: u64| SealError::Damaged {
            index,
            what: "record offset unknown".into(),
        };
        // The first of every SPARSE-th record received at or after `t_ms`.
        let (mut lo, mut hi) = (0usize, seg.sparse.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let index = seg.first + mid as u64 * SPARSE;
            let off = *seg.sparse.get(mid).ok_or_else(|| unknown(index))?;
            if Self::header_at(seg, off, index)?.recv_ms < t_ms {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let Some(before) = lo.checked_sub(1) else {
            return Ok(seg.first);
        };
        // The answer lies after record `before * SPARSE` and at most at the next sampled one.
        let mut index = seg.first + before as u64 * SPARSE;
        let mut off = *seg.sparse.get(before).ok_or_else(|| unknown(index))?;
        let stop = (seg.first + lo as u64 * SPARSE).min(seg.end);
        while index < stop {
            let h = Self::header_at(seg, off, index)?;
            if h.recv_ms >= t_ms {
                return Ok(index);
            }
            off += HEADER_LEN as u64 + u64::from(h.len);
            index += 1;
        }
        Ok(stop)
    }

    /// All signed tree heads in the heads file, oldest first (reads the file).
    pub fn signed_heads(&self) -> Result<Vec<SignedTreeHead>, SealError> {
        let (entries, _) = read_entries(&self.heads_path)?;
        Ok(entries
            .iter()
            .filter(|(k, _)| *k == KIND_HEAD)
            .filter_map(|(_, b)| SignedTreeHead::decode(b))
            .collect())
    }

    /// Writes a bundle ([`crate::bundle`]) of records `range` with the signed heads inside it,
    /// the first head at or after its end (the anchor), the deletion records and the public key.
    /// The range must be covered by a signed head ([`SealedLog::sign_head`] first if needed).
    pub fn export<W: Write>(&self, range: Range<u64>, out: W) -> Result<u64, SealError> {
        if range.start > range.end {
            return Err(SealError::Invalid("range start after end".into()));
        }
        if range.start < self.first_index {
            return Err(SealError::Pruned {
                index: range.start,
                first: self.first_index,
            });
        }
        let signed = self.last_head.map_or(0, |h| h.tree_size);
        if range.end > signed || self.last_head.is_none() {
            return Err(SealError::NotSigned {
                end: range.end,
                signed,
            });
        }
        let all = self.signed_heads()?;
        let mut inside: Vec<SignedTreeHead> = all
            .iter()
            .filter(|h| h.tree_size >= range.start && h.tree_size < range.end)
            .copied()
            .collect();
        let anchor = all
            .iter()
            .find(|h| h.tree_size >= range.end)
            .copied()
            .ok_or(SealError::NotSigned {
                end: range.end,
                signed,
            })?;
        let max = self.opts.max_export_heads.max(2) - 1;
        if inside.len() > max {
            let step = inside.len().div_ceil(max);
            inside = inside.into_iter().step_by(step).collect();
        }
        inside.push(anchor);
        let left = Frontier::load(&self.tree, range.start)?;
        let mut right = Vec::new();
        for (level, index) in merkle::compact_range(range.end, anchor.tree_size) {
            right.push((level, self.tree.perfect(level, index)?));
        }
        let header = bundle::BundleHeader {
            public_key: self.public,
            start: range.start,
            end: range.end,
            left: left.nodes().to_vec(),
            heads: inside,
            deletions: self.deletions.clone(),
            right,
        };
        let mut w = bundle::BundleWriter::new(out, &header).map_err(io(&self.dir))?;
        let mut index = range.start;
        while index < range.end {
            let (seg, off) = self.locate(index)?;
            let stop = range.end.min(seg.end);
            let mut r = BufReader::with_capacity(1 << 20, &seg.file);
            r.seek(SeekFrom::Start(off)).map_err(io(&seg.path))?;
            let mut frame = Vec::new();
            while index < stop {
                let mut hb = [0u8; HEADER_LEN];
                r.read_exact(&mut hb).map_err(io(&seg.path))?;
                let h = match Header::decode(&hb) {
                    Some(h) if h.seq == index && h.len <= self.opts.max_payload => h,
                    _ => {
                        return Err(SealError::Damaged {
                            index,
                            what: "record header does not match".into(),
                        });
                    }
                };
                frame.clear();
                frame.extend_from_slice(&hb);
                frame.resize(HEADER_LEN + h.len as usize, 0);
                r.read_exact(frame.get_mut(HEADER_LEN..).unwrap_or(&mut []))
                    .map_err(io(&seg.path))?;
                w.record(&frame).map_err(io(&seg.path))?;
                index += 1;
            }
        }
        w.finish().map_err(io(&self.dir))
    }

    /// Retention: deletes whole segments holding only records before `index`, after signing a
    /// head and a deletion record (kept in the heads file and in every later export). The tree
    /// hashes of the pruned prefix are kept, so proofs for the remaining records stay valid.
    /// Returns the deletion record, or `None` if no segment could be deleted.
    pub fn prune_before(
        &mut self,
        index: u64,
        now_ms: i64,
        reason: &str,
    ) -> Result<Option<DeletionRecord>, SealError> {
        if reason.len() > MAX_REASON {
            return Err(SealError::Invalid(format!(
                "deletion reason longer than {MAX_REASON} bytes"
            )));
        }
        let active = self.segments.keys().next_back().copied();
        let first_kept = self
            .segments
            .values()
            .filter(|s| Some(s.first) != active && s.end <= index)
            .map(|s| s.end)
            .max();
        let Some(first_kept) = first_kept else {
            return Ok(None);
        };
        if self.last_head.is_none_or(|h| h.tree_size < self.size) {
            self.sign_head(now_ms)?;
        }
        let d = DeletionRecord::sign(
            &self.key,
            first_kept,
            now_ms,
            self.size,
            self.frontier.root(),
            reason.to_string(),
        );
        self.append_entry(KIND_DELETION, &d.encode())?;
        let doomed: Vec<u64> = self.segments.range(..first_kept).map(|(k, _)| *k).collect();
        for k in doomed {
            if let Some(seg) = self.segments.remove(&k) {
                std::fs::remove_file(&seg.path).map_err(io(&seg.path))?;
            }
        }
        sync_dir(&self.dir)?;
        self.first_index = first_kept;
        self.deletions.push(d.clone());
        Ok(Some(d))
    }

    /// Retention by age: prunes the segments whose newest record was received before
    /// `now_ms - retention_ms`.
    pub fn prune_older_than(
        &mut self,
        now_ms: i64,
        retention_ms: i64,
        reason: &str,
    ) -> Result<Option<DeletionRecord>, SealError> {
        let cutoff = now_ms.saturating_sub(retention_ms);
        let mut before = self.first_index;
        for s in self.segments.values() {
            if s.last_recv_ms.is_some_and(|t| t < cutoff) {
                before = s.end;
            } else {
                break;
            }
        }
        self.prune_before(before, now_ms, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// Record headers read by this thread (to check that searches do not scan the log).
        pub(super) static HEADER_READS: Cell<u64> = const { Cell::new(0) };
    }

    #[test]
    fn finding_a_time_reads_a_logarithmic_number_of_headers() {
        let dir = tempfile::tempdir().unwrap();
        let opts = SealOptions {
            segment_bytes: 64 << 10,
            ..SealOptions::default()
        };
        let (mut log, _) = SealedLog::open(dir.path(), opts).unwrap();
        // 10,000 records in 200 batches, one batch every 10 s.
        let payload = [7u8; 40];
        let batch: Vec<&[u8]> = vec![payload.as_slice(); 50];
        for b in 0..200i64 {
            log.append_batch(1_000_000 + b * 10_000, &batch).unwrap();
        }
        assert!(log.segments.len() > 3, "{} segments", log.segments.len());
        for (t, want) in [
            (0, 0),
            (1_000_000, 0),
            (1_000_001, 50),
            (1_000_000 + 123 * 10_000, 6_150),
            (1_000_000 + 177 * 10_000 - 5, 8_850),
            (1_000_000 + 199 * 10_000, 9_950),
            (1_000_000 + 199 * 10_000 + 1, 10_000),
        ] {
            HEADER_READS.with(|n| n.set(0));
            assert_eq!(log.index_at_time(t).unwrap(), want, "t = {t}");
            let reads = HEADER_READS.with(Cell::get);
            assert!(reads <= 20 + SPARSE, "{reads} header reads for t = {t}");
        }
    }

    #[test]
    fn reading_a_range_gives_what_reading_each_record_gives() {
        let dir = tempfile::tempdir().unwrap();
        let opts = SealOptions {
            segment_bytes: 64 << 10,
            ..SealOptions::default()
        };
        let (mut log, _) = SealedLog::open(dir.path(), opts).unwrap();
        // Payloads of varied length (one larger than the read block would hold in one go is
        // not needed: the block grows to the record), across several segments.
        let payloads: Vec<Vec<u8>> = (0..3_000u32)
            .map(|i| {
                let n = 1 + (i as usize * 37) % 900;
                (0..n).map(|j| (i as usize + j) as u8).collect()
            })
            .collect();
        for chunk in payloads.chunks(100) {
            let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
            log.append_batch(1_000, &refs).unwrap();
        }
        assert!(log.segments.len() > 3, "{} segments", log.segments.len());
        for range in [0..3_000, 17..2_345, 2_999..3_000, 5..5] {
            let mut got = Vec::new();
            log.read_range(range.clone(), |i, r| got.push((i, r.payload)))
                .unwrap();
            let want: Vec<(u64, Vec<u8>)> =
                range.map(|i| (i, log.read(i).unwrap().payload)).collect();
            assert_eq!(got, want);
        }
        assert!(matches!(
            log.read_range(2_990..3_001, |_, _| {}),
            Err(SealError::OutOfRange { .. })
        ));
    }
}
