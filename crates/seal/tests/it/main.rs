//! Integration tests of the sealed log: behaviour, tampering, crashes and hostile bundles.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod crash;
mod hostile;
mod log;
mod tamper;

use mamori_seal::{SealOptions, SealedLog};
use std::path::Path;

/// The payload of record `seq` in these tests (deterministic, 40–300 bytes).
pub fn payload(seq: u64) -> Vec<u8> {
    let len = 40 + (seq * 7919 % 261) as usize;
    let mut p = format!("record {seq:08} ").into_bytes();
    while p.len() < len {
        p.push(b'a' + (p.len() as u64 * 31 + seq) as u8 % 26);
    }
    p
}

pub fn opts() -> SealOptions {
    SealOptions {
        segment_bytes: 16 << 10,
        head_interval_ms: 1000,
        ..SealOptions::default()
    }
}

/// A log of `n` records appended in batches of `batch`, a head signed after each batch at
/// `now = 1000 * batch number`.
pub fn build(dir: &Path, n: u64, batch: u64, o: SealOptions) -> SealedLog {
    let (mut log, _) = SealedLog::open(dir, o).unwrap();
    let mut t = 0i64;
    while log.size() < n {
        let start = log.size();
        let end = (start + batch).min(n);
        let ps: Vec<Vec<u8>> = (start..end).map(payload).collect();
        let refs: Vec<&[u8]> = ps.iter().map(Vec::as_slice).collect();
        t += 1000;
        assert_eq!(log.append_batch(t, &refs).unwrap(), start..end);
        if log.signed_head().is_none_or(|h| h.tree_size < end) {
            log.sign_head(t).unwrap();
        }
    }
    log
}

pub fn export(log: &SealedLog, range: std::ops::Range<u64>) -> Vec<u8> {
    let mut out = Vec::new();
    log.export(range, &mut out).unwrap();
    out
}
