//! The tamper suite: each kind of change to a bundle or to the files on disk is detected and the
//! first bad record index is named.

use super::{build, export, opts};
use mamori_seal::bundle::layout;
use mamori_seal::record::{HEADER_LEN, Header};
use mamori_seal::{SealedLog, SignedTreeHead, VerifyKind, verify_bundle};
use proptest::prelude::*;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

const N: u64 = 300;
const BATCH: u64 = 25;

struct Fixture {
    bundle: Vec<u8>,
    key: [u8; 32],
    _dir: tempfile::TempDir,
}

/// One log of 300 records with a head every 25, exported whole.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let log = build(dir.path(), N, BATCH, opts());
        Fixture {
            bundle: export(&log, 0..N),
            key: log.public_key().0,
            _dir: dir,
        }
    })
}

fn check(b: &[u8], kind: VerifyKind, index: Option<u64>) {
    let err = verify_bundle(b, Some(fixture().key)).unwrap_err();
    assert_eq!((err.kind, err.first_bad_index), (kind, index), "{err}");
    assert!(err.to_string().starts_with(kind.code()));
}

fn rec(i: u64) -> std::ops::Range<usize> {
    layout(&fixture().bundle).unwrap().records[i as usize].clone()
}

#[derive(Clone, Copy, Debug)]
enum Tamper {
    FlipPayload,
    FlipHash,
    FlipSeq,
    Delete,
    Swap,
    Duplicate,
    TruncateInside,
    RewriteConsistently,
}

fn apply(t: Tamper, i: u64, k: usize) -> Vec<u8> {
    let mut b = fixture().bundle.clone();
    let r = rec(i);
    match t {
        Tamper::FlipPayload => {
            let len = r.len() - HEADER_LEN;
            b[r.start + HEADER_LEN + k % len] ^= 0x01 << (k % 8);
        }
        Tamper::FlipHash => b[r.start + 20 + k % 32] ^= 0x80,
        Tamper::FlipSeq => b[r.start + 4 + k % 16] ^= 0x04,
        Tamper::Delete => {
            b.drain(r);
        }
        Tamper::Swap => {
            let r2 = rec(i + 1);
            let first = b[r.clone()].to_vec();
            let second = b[r2.clone()].to_vec();
            b.splice(r.start..r2.end, second.into_iter().chain(first));
        }
        Tamper::Duplicate => {
            let copy = b[r.clone()].to_vec();
            b.splice(r.end..r.end, copy);
        }
        Tamper::TruncateInside => b.truncate(r.start + k % r.len()),
        Tamper::RewriteConsistently => {
            // Change the payload and fix its hash and header check: only the Merkle root tells.
            let p = r.start + HEADER_LEN + k % (r.len() - HEADER_LEN);
            b[p] ^= 0x20;
            let payload = &b[r.start + HEADER_LEN..r.end];
            let mut h =
                Header::decode(&b[r.start..r.start + HEADER_LEN].try_into().unwrap()).unwrap();
            h.payload_hash = Sha256::digest(payload).into();
            b[r.start..r.start + HEADER_LEN].copy_from_slice(&h.encode());
        }
    }
    b
}

fn expected(t: Tamper, i: u64) -> (VerifyKind, Option<u64>) {
    match t {
        Tamper::FlipPayload | Tamper::FlipHash | Tamper::FlipSeq => (VerifyKind::Edited, Some(i)),
        Tamper::Delete if i == N - 1 => (VerifyKind::Truncated, Some(i)),
        Tamper::Delete => (VerifyKind::Missing, Some(i)),
        Tamper::Swap => (VerifyKind::Reordered, Some(i)),
        Tamper::Duplicate => (VerifyKind::Duplicated, Some(i + 1)),
        Tamper::TruncateInside => (VerifyKind::Truncated, Some(i)),
        // Heads every 25 records: the records from the last good head on are suspect.
        Tamper::RewriteConsistently => (VerifyKind::RootMismatch, Some(i / BATCH * BATCH)),
    }
}

#[test]
fn the_untouched_bundle_verifies() {
    let f = fixture();
    let r = verify_bundle(&f.bundle[..], Some(f.key)).unwrap();
    assert_eq!(
        (r.start, r.end, r.heads_checked),
        (0, N, (N / BATCH) as usize)
    );
    // Without an expected key it verifies too and reports the fingerprint to compare.
    assert!(verify_bundle(&f.bundle[..], None).is_ok());
}

#[test]
fn every_kind_of_record_change_names_the_first_bad_index() {
    for t in [
        Tamper::FlipPayload,
        Tamper::FlipHash,
        Tamper::FlipSeq,
        Tamper::Delete,
        Tamper::Swap,
        Tamper::Duplicate,
        Tamper::TruncateInside,
        Tamper::RewriteConsistently,
    ] {
        for i in [0, 1, 24, 25, 137, N - 2] {
            let (kind, index) = expected(t, i);
            check(&apply(t, i, 5), kind, index);
        }
    }
    // Tail cut exactly at a record boundary, and the trailer cut off.
    let b = &fixture().bundle;
    check(&b[..rec(200).start], VerifyKind::Truncated, Some(200));
    check(&b[..b.len() - 3], VerifyKind::Truncated, Some(N));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn random_tamper_positions_are_found(kind in 0usize..8, i in 0u64..N - 1, k in 0usize..10_000) {
        let t = [
            Tamper::FlipPayload, Tamper::FlipHash, Tamper::FlipSeq, Tamper::Delete,
            Tamper::Swap, Tamper::Duplicate, Tamper::TruncateInside, Tamper::RewriteConsistently,
        ][kind];
        let (kind, index) = expected(t, i);
        let err = verify_bundle(&apply(t, i, k)[..], Some(fixture().key)).unwrap_err();
        prop_assert_eq!((err.kind, err.first_bad_index), (kind, index), "{:?} at {}: {}", t, i, err);
    }
}

#[test]
fn a_forged_head_fails_its_signature() {
    let f = fixture();
    let l = layout(&f.bundle).unwrap();
    for (n, span) in l.heads.iter().enumerate() {
        for off in [0usize, 7, 10, 20, 47, 50, 111] {
            let mut b = f.bundle.clone();
            b[span.start + off] ^= 0x01;
            // Heads cover 25 records each: the first record not covered by an earlier head.
            check(&b, VerifyKind::BadSignature, Some(n as u64 * BATCH));
        }
    }
}

/// Re-signs every head of `bundle` with a fresh key and puts that key in the bundle.
fn resign_all(bundle: &[u8]) -> Vec<u8> {
    use ed25519_dalek::{Signer, SigningKey};
    let other = SigningKey::generate(&mut rand::rngs::OsRng);
    let l = layout(bundle).unwrap();
    let mut b = bundle.to_vec();
    b[l.public_key.clone()].copy_from_slice(other.verifying_key().as_bytes());
    for span in &l.heads {
        let h = SignedTreeHead::decode(&b[span.clone()]).unwrap();
        let sig = other.sign(&SignedTreeHead::message(
            h.tree_size,
            h.signed_at_ms,
            &h.root,
        ));
        b[span.start + 48..span.end].copy_from_slice(&sig.to_bytes());
    }
    b
}

#[test]
fn heads_resigned_with_another_key_are_caught_by_the_expected_key() {
    let f = fixture();
    let b = resign_all(&f.bundle);
    check(&b, VerifyKind::WrongKey, None);
    // Without the expected key the bundle is self-consistent; the fingerprint differs from the
    // one written down, which is what the inspector compares.
    let r = verify_bundle(&b[..], None).unwrap();
    assert_ne!(r.public_key.0, f.key);
    // One head re-signed by another key while the real key stays: bad signature.
    let l = layout(&b).unwrap();
    let mut mixed = f.bundle.clone();
    mixed[l.heads[3].clone()].copy_from_slice(&b[l.heads[3].clone()]);
    check(&mixed, VerifyKind::BadSignature, Some(3 * BATCH));
}

#[test]
fn a_forked_head_signed_by_the_same_key_is_named() {
    // Two logs with the same key that agree on the first 100 records and then diverge.
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    drop(SealedLog::open(a.path(), opts()).unwrap());
    std::fs::copy(a.path().join("seal.key"), b.path().join("seal.key")).unwrap();
    let la = build(a.path(), 200, 50, opts());
    let (mut lb, _) = SealedLog::open(b.path(), opts()).unwrap();
    for i in 0..150u64 {
        let p = if i < 100 {
            super::payload(i)
        } else {
            b"other history".to_vec()
        };
        lb.append_batch(1000 * (i as i64 / 50 + 1), &[&p]).unwrap();
    }
    let forked = lb.sign_head(999_999).unwrap();
    assert_eq!(forked.tree_size, 150);
    let mut bundle = export(&la, 0..200);
    let l = layout(&bundle).unwrap();
    // Heads at 50, 100, 150, 200: replace the one at 150 with the other log's.
    let span = l.heads[2].clone();
    assert_eq!(
        SignedTreeHead::decode(&bundle[span.clone()])
            .unwrap()
            .tree_size,
        150
    );
    bundle[span].copy_from_slice(&forked.encode());
    let err = verify_bundle(&bundle[..], Some(la.public_key().0)).unwrap_err();
    assert_eq!(
        (err.kind, err.first_bad_index),
        (VerifyKind::ForkedHead, Some(100)),
        "{err}"
    );
    // Two heads for the same size with different roots: [50, 150 (real), 150 (forked), 200].
    let mut same = export(&la, 0..200);
    let l = layout(&same).unwrap();
    let real150 = same[l.heads[2].clone()].to_vec();
    same[l.heads[1].clone()].copy_from_slice(&real150);
    same[l.heads[2].clone()].copy_from_slice(&forked.encode());
    let err = verify_bundle(&same[..], Some(la.public_key().0)).unwrap_err();
    assert_eq!(err.kind, VerifyKind::ForkedHead, "{err}");
}

fn segments(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("seg-"))
        .collect();
    v.sort();
    v
}

#[test]
fn a_segment_replaced_by_an_older_copy_is_detected_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = SealedLog::open(dir.path(), opts()).unwrap();
    let recs: Vec<&[u8]> = vec![&[7u8; 200]; 10];
    log.append_batch(1, &recs).unwrap();
    log.sign_head(1).unwrap();
    let first = segments(dir.path())[0].clone();
    let old = std::fs::read(&first).unwrap(); // copy taken after 10 records
    drop(log);
    let log = build(dir.path(), 400, 40, opts());
    assert!(segments(dir.path()).len() > 2);
    let end_of_first = log.read(0).map(|_| ()).ok();
    assert!(end_of_first.is_some());
    drop(log);
    std::fs::write(&first, &old).unwrap();
    let err = SealedLog::open(dir.path(), opts()).unwrap_err();
    assert_eq!(err.code(), "SEAL0008", "{err}");
    assert!(
        matches!(err, mamori_seal::SealError::Damaged { index: 10, .. }),
        "{err}"
    );

    // The last segment replaced by an older copy: signed records are missing.
    let dir = tempfile::tempdir().unwrap();
    let log = build(dir.path(), 100, 10, opts());
    drop(log);
    let last = segments(dir.path()).pop().unwrap();
    let old = std::fs::read(&last).unwrap();
    let log = build(dir.path(), 130, 10, opts());
    drop(log);
    std::fs::write(&last, &old).unwrap();
    let err = SealedLog::open(dir.path(), opts()).unwrap_err();
    assert_eq!(err.code(), "SEAL0011", "{err}");
}

#[test]
fn a_record_edited_on_disk_is_detected_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let log = build(dir.path(), 50, 10, opts());
    drop(log);
    let seg = segments(dir.path())[0].clone();
    let mut bytes = std::fs::read(&seg).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 1; // last record's payload
    std::fs::write(&seg, &bytes).unwrap();
    let err = SealedLog::open(dir.path(), opts()).unwrap_err();
    assert!(
        matches!(err, mamori_seal::SealError::Damaged { index: 49, .. }),
        "{err}"
    );
}
