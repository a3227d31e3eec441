//! The export bundle: one self-contained file an inspector can verify offline, and its verifier.
//!
//! Format, version 1 (all integers big-endian):
//! ```text
//! magic "MSEALBDL" | version u16 = 1
//! public_key [32]
//! start u64 | end u64                        records [start, end) follow
//! left_count u8  | left_count × [32]         frontier of the tree of `start` records
//! right_count u8 | right_count × (level u8 | [32])
//!                                            compact range [end, anchor.tree_size)
//! head_count u32 | head_count × head(112)    signed tree heads, sizes ascending; those before
//!                                            the last lie in [start, end); the last (anchor)
//!                                            has tree_size >= end
//! deletion_count u32 | deletion_count × (len u16 | deletion record)
//! record_count u64 (= end - start) | record frames (see `record`)
//! "MSEALEND"
//! ```
//! The verifier starts from the left frontier, hashes every record into the tree, checks the root
//! at every head's size and, with the right compact range, the anchor's root. So a range that
//! does not start at 0 is still checked against a head over the whole log. Everything read is
//! capped ([`MAX_BUNDLE_PAYLOAD`], [`MAX_BUNDLE_HEADS`], …); hostile input gives an error, never a
//! panic or a huge allocation.

use crate::error::{VerifyError, VerifyKind};
use crate::keys::{DeletionRecord, MAX_REASON, PublicKey, STH_LEN, SignedTreeHead};
use crate::merkle::{self, Frontier, Hash};
use crate::record::{HEADER_LEN, Header};
use sha2::{Digest, Sha256};
use std::io::{self, BufWriter, Read, Write};

/// Magic bytes at the start of a bundle.
pub const MAGIC: &[u8; 8] = b"MSEALBDL";
/// Magic bytes at the end of a bundle.
pub const TRAILER: &[u8; 8] = b"MSEALEND";
/// The format version this crate writes and reads.
pub const VERSION: u16 = 1;
/// Largest record payload a bundle may hold.
pub const MAX_BUNDLE_PAYLOAD: u32 = 16 << 20;
/// Most tree heads a bundle may hold.
pub const MAX_BUNDLE_HEADS: u32 = 1 << 20;
/// Most deletion records a bundle may hold.
pub const MAX_BUNDLE_DELETIONS: u32 = 1 << 16;

/// Everything before the records.
#[derive(Clone, Debug)]
pub(crate) struct BundleHeader {
    pub public_key: PublicKey,
    pub start: u64,
    pub end: u64,
    pub left: Vec<Hash>,
    pub heads: Vec<SignedTreeHead>,
    pub deletions: Vec<DeletionRecord>,
    pub right: Vec<(u32, Hash)>,
}

/// Streams a bundle out.
pub(crate) struct BundleWriter<W: Write> {
    w: BufWriter<W>,
    bytes: u64,
}

impl<W: Write> BundleWriter<W> {
    pub(crate) fn new(out: W, h: &BundleHeader) -> io::Result<Self> {
        let mut s = Self {
            w: BufWriter::with_capacity(1 << 20, out),
            bytes: 0,
        };
        let too_many = || io::Error::other("bundle header field too large");
        s.put(MAGIC)?;
        s.put(&VERSION.to_be_bytes())?;
        s.put(&h.public_key.0)?;
        s.put(&h.start.to_be_bytes())?;
        s.put(&h.end.to_be_bytes())?;
        s.put(&[u8::try_from(h.left.len()).map_err(|_| too_many())?])?;
        for n in &h.left {
            s.put(n)?;
        }
        s.put(&[u8::try_from(h.right.len()).map_err(|_| too_many())?])?;
        for (level, n) in &h.right {
            s.put(&[u8::try_from(*level).map_err(|_| too_many())?])?;
            s.put(n)?;
        }
        s.put(
            &u32::try_from(h.heads.len())
                .map_err(|_| too_many())?
                .to_be_bytes(),
        )?;
        for head in &h.heads {
            s.put(&head.encode())?;
        }
        s.put(
            &u32::try_from(h.deletions.len())
                .map_err(|_| too_many())?
                .to_be_bytes(),
        )?;
        for d in &h.deletions {
            let b = d.encode();
            s.put(
                &u16::try_from(b.len())
                    .map_err(|_| too_many())?
                    .to_be_bytes(),
            )?;
            s.put(&b)?;
        }
        s.put(&(h.end - h.start).to_be_bytes())?;
        Ok(s)
    }

    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.w.write_all(b)?;
        self.bytes += b.len() as u64;
        Ok(())
    }

    /// Writes one record frame as stored in a segment.
    pub(crate) fn record(&mut self, frame: &[u8]) -> io::Result<()> {
        self.put(frame)
    }

    /// Writes the trailer and flushes; returns the bundle size.
    pub(crate) fn finish(mut self) -> io::Result<u64> {
        self.put(TRAILER)?;
        self.w.flush()?;
        Ok(self.bytes)
    }
}

/// What a successful verification checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// The public key the bundle is signed with.
    pub public_key: PublicKey,
    /// Its short fingerprint (compare with the one written down on paper).
    pub fingerprint: String,
    /// First record index in the bundle.
    pub start: u64,
    /// One past the last record index.
    pub end: u64,
    /// Signed heads whose root was recomputed and matched (including the anchor).
    pub heads_checked: usize,
    /// The head the whole range is checked against.
    pub anchor: SignedTreeHead,
    /// Deletion records (retention) carried by the bundle, all with valid signatures.
    pub deletions: Vec<DeletionRecord>,
    /// Bundle size in bytes.
    pub bytes: u64,
}

struct Input<R> {
    r: R,
    pos: u64,
}

impl<R: Read> Input<R> {
    fn fill(&mut self, buf: &mut [u8], at: Option<u64>) -> Result<(), VerifyError> {
        match self.r.read_exact(buf) {
            Ok(()) => {
                self.pos += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(VerifyError::new(
                VerifyKind::Truncated,
                at,
                format!("bundle ends early at byte {}", self.pos),
            )),
            Err(e) => Err(VerifyError::new(VerifyKind::Io, at, e.to_string())),
        }
    }

    fn array<const N: usize>(&mut self, at: Option<u64>) -> Result<[u8; N], VerifyError> {
        let mut b = [0u8; N];
        self.fill(&mut b, at)?;
        Ok(b)
    }

    fn u8(&mut self, at: Option<u64>) -> Result<u8, VerifyError> {
        Ok(self.array::<1>(at)?.into_iter().next().unwrap_or(0))
    }
    fn u16(&mut self, at: Option<u64>) -> Result<u16, VerifyError> {
        Ok(u16::from_be_bytes(self.array(at)?))
    }
    fn u32(&mut self, at: Option<u64>) -> Result<u32, VerifyError> {
        Ok(u32::from_be_bytes(self.array(at)?))
    }
    fn u64(&mut self, at: Option<u64>) -> Result<u64, VerifyError> {
        Ok(u64::from_be_bytes(self.array(at)?))
    }
}

fn malformed(at: Option<u64>, what: impl Into<String>) -> VerifyError {
    VerifyError::new(VerifyKind::Malformed, at, what)
}

/// Verifies a bundle offline: structure, every signature, every record against its hash, the
/// sequence, and the Merkle root at every head. `expected_key` is the key written down when the
/// log was set up; without it, check [`VerifyReport::fingerprint`] by eye.
pub fn verify_bundle<R: Read>(
    reader: R,
    expected_key: Option<[u8; 32]>,
) -> Result<VerifyReport, VerifyError> {
    let mut inp = Input { r: reader, pos: 0 };
    let magic: [u8; 8] = inp.array(None).map_err(|e| malformed(None, e.detail))?;
    if &magic != MAGIC {
        return Err(malformed(
            None,
            "not a mamori sealed-log bundle (bad magic)",
        ));
    }
    let version = inp.u16(None)?;
    if version != VERSION {
        return Err(VerifyError::new(
            VerifyKind::UnsupportedVersion,
            None,
            format!("bundle format version {version}; this verifier reads {VERSION}"),
        ));
    }
    let key = PublicKey(inp.array(None)?);
    if let Some(expected) = expected_key
        && expected != key.0
    {
        return Err(VerifyError::new(
            VerifyKind::WrongKey,
            None,
            format!(
                "bundle is signed by key {} (fingerprint {}), not the expected {}",
                key.hex(),
                key.fingerprint(),
                PublicKey(expected).fingerprint()
            ),
        ));
    }
    if key.verifying_key().is_none() {
        return Err(VerifyError::new(
            VerifyKind::BadSignature,
            None,
            "public key is not a valid Ed25519 key",
        ));
    }
    let start = inp.u64(None)?;
    let end = inp.u64(None)?;
    if start > end {
        return Err(malformed(None, "range start after end"));
    }
    let left_count = inp.u8(None)?;
    if u32::from(left_count) != start.count_ones() {
        return Err(malformed(Some(start), "left frontier has the wrong length"));
    }
    let mut left = Vec::with_capacity(usize::from(left_count));
    for _ in 0..left_count {
        left.push(inp.array::<32>(None)?);
    }
    let right_count = inp.u8(None)?;
    if right_count > 64 {
        return Err(VerifyError::new(
            VerifyKind::TooLarge,
            None,
            "right range too long",
        ));
    }
    let mut right = Vec::with_capacity(usize::from(right_count));
    for _ in 0..right_count {
        let level = u32::from(inp.u8(None)?);
        right.push((level, inp.array::<32>(None)?));
    }
    let head_count = inp.u32(None)?;
    if head_count > MAX_BUNDLE_HEADS {
        return Err(VerifyError::new(
            VerifyKind::TooLarge,
            None,
            "too many tree heads",
        ));
    }
    if head_count == 0 {
        return Err(VerifyError::new(
            VerifyKind::Unsigned,
            Some(start),
            "bundle has no signed tree head",
        ));
    }
    let mut heads: Vec<SignedTreeHead> = Vec::with_capacity(head_count.min(4096) as usize);
    let mut covered = start;
    for n in 0..head_count {
        let b: [u8; STH_LEN] = inp.array(None)?;
        let h = SignedTreeHead::decode(&b).ok_or_else(|| malformed(None, "bad tree head"))?;
        if !h.verify(&key) {
            return Err(VerifyError::new(
                VerifyKind::BadSignature,
                Some(covered.min(end)),
                format!("tree head for size {} has a bad signature", h.tree_size),
            ));
        }
        let is_anchor = n + 1 == head_count;
        if let Some(prev) = heads.last() {
            if prev.tree_size == h.tree_size && prev.root != h.root {
                return Err(VerifyError::new(
                    VerifyKind::ForkedHead,
                    Some(covered.min(end)),
                    format!(
                        "two signed heads for size {} with different roots",
                        h.tree_size
                    ),
                ));
            }
            if prev.tree_size > h.tree_size {
                return Err(VerifyError::new(
                    VerifyKind::ForkedHead,
                    Some(h.tree_size.max(start).min(end)),
                    "signed tree heads go backwards",
                ));
            }
        }
        if is_anchor {
            if h.tree_size < end {
                return Err(VerifyError::new(
                    VerifyKind::Unsigned,
                    Some(h.tree_size.max(start)),
                    "no signed tree head covers the end of the range",
                ));
            }
        } else if h.tree_size < start || h.tree_size >= end {
            return Err(malformed(None, "tree head outside the record range"));
        }
        covered = h.tree_size;
        heads.push(h);
    }
    let Some(anchor) = heads.last().copied() else {
        return Err(VerifyError::new(
            VerifyKind::Unsigned,
            Some(start),
            "no head",
        ));
    };
    let expected_right = merkle::compact_range(end, anchor.tree_size);
    if expected_right.len() != right.len()
        || expected_right
            .iter()
            .zip(&right)
            .any(|((l, _), (m, _))| l != m)
    {
        return Err(malformed(None, "right compact range has the wrong shape"));
    }
    let deletion_count = inp.u32(None)?;
    if deletion_count > MAX_BUNDLE_DELETIONS {
        return Err(VerifyError::new(
            VerifyKind::TooLarge,
            None,
            "too many deletion records",
        ));
    }
    let mut deletions = Vec::new();
    for _ in 0..deletion_count {
        let len = usize::from(inp.u16(None)?);
        if len > MAX_REASON + 64 + 58 {
            return Err(VerifyError::new(
                VerifyKind::TooLarge,
                None,
                "deletion record too long",
            ));
        }
        let mut b = vec![0u8; len];
        inp.fill(&mut b, None)?;
        let d = DeletionRecord::decode(&b).ok_or_else(|| malformed(None, "bad deletion record"))?;
        if !d.verify(&key) {
            return Err(VerifyError::new(
                VerifyKind::BadSignature,
                Some(d.first_kept),
                "deletion record has a bad signature",
            ));
        }
        // A deletion record states the root at its size; a head for the same size must agree.
        if let Some(h) = heads.iter().find(|h| h.tree_size == d.tree_size)
            && h.root != d.root
        {
            return Err(VerifyError::new(
                VerifyKind::ForkedHead,
                Some(d.tree_size.clamp(start, end)),
                "a deletion record and a tree head disagree about the same size",
            ));
        }
        deletions.push(d);
    }
    let record_count = inp.u64(None)?;
    if record_count != end - start {
        return Err(malformed(
            Some(start),
            "record count does not match the range",
        ));
    }

    let mut frontier =
        Frontier::from_parts(start, left).ok_or_else(|| malformed(None, "bad left frontier"))?;
    let mut checker = HeadChecker {
        heads: &heads,
        next: 0,
        verified_to: start,
        pending: None,
        checked: 0,
    };
    checker.check(&frontier)?;
    let mut payload = Vec::new();
    let mut i = start;
    while i < end {
        let at = Some(i);
        let hb: [u8; HEADER_LEN] = inp.array(at)?;
        let h = Header::decode(&hb).ok_or_else(|| {
            VerifyError::new(
                VerifyKind::Edited,
                at,
                "record header (sequence, time or payload hash) was changed",
            )
        })?;
        if h.len > MAX_BUNDLE_PAYLOAD {
            return Err(VerifyError::new(
                VerifyKind::TooLarge,
                at,
                "record too large",
            ));
        }
        if h.seq != i {
            return Err(sequence_error(&mut inp, i, h.seq, h.len));
        }
        payload.resize(h.len as usize, 0);
        inp.fill(&mut payload, at)?;
        if <[u8; 32]>::from(Sha256::digest(&payload)) != h.payload_hash {
            return Err(VerifyError::new(
                VerifyKind::Edited,
                at,
                "payload does not match its hash",
            ));
        }
        frontier.push(h.leaf_hash());
        i += 1;
        checker.check(&frontier)?;
    }
    let trailer: [u8; 8] = inp.array(Some(end))?;
    if &trailer != TRAILER {
        return Err(malformed(
            Some(end),
            "records continue past the range or trailer missing",
        ));
    }
    let mut extra = [0u8; 1];
    match inp.r.read(&mut extra) {
        Ok(0) => {}
        Ok(_) => return Err(malformed(None, "bytes after the trailer")),
        Err(e) => return Err(VerifyError::new(VerifyKind::Io, None, e.to_string())),
    }
    for (level, hash) in right {
        if !frontier.push_subtree(level, hash) {
            return Err(malformed(None, "right compact range does not fit"));
        }
    }
    checker.check(&frontier)?;
    if let Some((index, size)) = checker.pending {
        return Err(VerifyError::new(
            VerifyKind::RootMismatch,
            Some(index),
            format!("records from {index} do not match the signed head for size {size}"),
        ));
    }
    if checker.next < heads.len() {
        return Err(malformed(None, "a tree head was not reached"));
    }
    Ok(VerifyReport {
        fingerprint: key.fingerprint(),
        public_key: key,
        start,
        end,
        heads_checked: checker.checked,
        anchor,
        deletions,
        bytes: inp.pos,
    })
}

/// Names a sequence problem at position `i` where record `seq` (payload `len` bytes, not yet
/// read) was found.
fn sequence_error<R: Read>(inp: &mut Input<R>, i: u64, seq: u64, len: u32) -> VerifyError {
    if seq < i {
        let kind = if seq + 1 == i {
            VerifyKind::Duplicated
        } else {
            VerifyKind::Reordered
        };
        return VerifyError::new(kind, Some(i), format!("found record {seq} at position {i}"));
    }
    // seq > i: record i is missing, or it comes later (swapped). Peek at the next record.
    let mut payload = vec![0u8; len as usize];
    let next = inp
        .fill(&mut payload, None)
        .ok()
        .and_then(|()| inp.array::<HEADER_LEN>(None).ok())
        .and_then(|b| Header::decode(&b));
    if next.is_some_and(|n| n.seq == i) {
        VerifyError::new(
            VerifyKind::Reordered,
            Some(i),
            format!("records {i} and {seq} are out of order"),
        )
    } else {
        VerifyError::new(
            VerifyKind::Missing,
            Some(i),
            format!("record {i} is missing (found {seq})"),
        )
    }
}

/// Matches signed heads against the frontier as records are added.
struct HeadChecker<'a> {
    heads: &'a [SignedTreeHead],
    next: usize,
    /// Records below this index are covered by a matching head.
    verified_to: u64,
    /// A head that did not match: (first unverified index, its size).
    pending: Option<(u64, u64)>,
    checked: usize,
}

impl HeadChecker<'_> {
    fn check(&mut self, f: &Frontier) -> Result<(), VerifyError> {
        while let Some(h) = self.heads.get(self.next) {
            if h.tree_size != f.size() {
                return Ok(());
            }
            self.next += 1;
            if f.root() == h.root {
                if let Some((index, size)) = self.pending {
                    return Err(VerifyError::new(
                        VerifyKind::ForkedHead,
                        Some(index),
                        format!(
                            "signed head for size {size} disagrees with the later head for size {} that the records match",
                            h.tree_size
                        ),
                    ));
                }
                self.checked += 1;
                self.verified_to = h.tree_size;
            } else if self.pending.is_none() {
                self.pending = Some((self.verified_to, h.tree_size));
            }
        }
        Ok(())
    }
}

/// Byte spans of the parts of a bundle, for tools and tests that inspect or (in tests) tamper
/// with one. Does not verify anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BundleLayout {
    /// The public key.
    pub public_key: std::ops::Range<usize>,
    /// Each signed tree head.
    pub heads: Vec<std::ops::Range<usize>>,
    /// The `record_count` field.
    pub record_count: std::ops::Range<usize>,
    /// Each record frame.
    pub records: Vec<std::ops::Range<usize>>,
}

/// Finds the parts of a well-formed bundle; `None` if it is not one.
pub fn layout(b: &[u8]) -> Option<BundleLayout> {
    let rd = |at: usize, n: usize| b.get(at..at.checked_add(n)?);
    let u = |at: usize, n: usize| -> Option<u64> {
        Some(
            rd(at, n)?
                .iter()
                .fold(0u64, |a, x| (a << 8) | u64::from(*x)),
        )
    };
    let mut out = BundleLayout::default();
    let mut p = 10;
    out.public_key = p..p + 32;
    p += 32 + 16;
    let left = usize::try_from(u(p, 1)?).ok()?;
    p += 1 + left * 32;
    let right = usize::try_from(u(p, 1)?).ok()?;
    p += 1 + right * 33;
    let heads = usize::try_from(u(p, 4)?).ok()?;
    p += 4;
    for _ in 0..heads {
        out.heads.push(p..p + STH_LEN);
        p += STH_LEN;
    }
    let dels = u(p, 4)?;
    p += 4;
    for _ in 0..dels {
        p += 2 + usize::try_from(u(p, 2)?).ok()?;
    }
    out.record_count = p..p + 8;
    let n = u(p, 8)?;
    p += 8;
    for _ in 0..n {
        let len = usize::try_from(u(p, 4)?).ok()?;
        let e = p.checked_add(HEADER_LEN)?.checked_add(len)?;
        rd(p, e - p)?;
        out.records.push(p..e);
        p = e;
    }
    Some(out)
}
