//! Corrupt or hostile bundles: `verify_bundle` returns an error and never panics or allocates
//! without bound (the fuzz target in `fuzz/` does the same at scale).

use super::{build, export, opts};
use mamori_seal::bundle::{MAGIC, VERSION};
use mamori_seal::{VerifyKind, verify_bundle};
use proptest::prelude::*;
use std::sync::OnceLock;

fn valid() -> &'static (Vec<u8>, [u8; 32]) {
    static B: OnceLock<(Vec<u8>, [u8; 32])> = OnceLock::new();
    B.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let log = build(dir.path(), 40, 8, opts());
        (export(&log, 5..33), log.public_key().0)
    })
}

#[test]
fn structural_garbage_gets_named_errors() {
    assert_eq!(
        verify_bundle(&b""[..], None).unwrap_err().kind,
        VerifyKind::Malformed
    );
    assert_eq!(
        verify_bundle(&b"PK\x03\x04 not a bundle"[..], None)
            .unwrap_err()
            .kind,
        VerifyKind::Malformed
    );
    let mut v2 = MAGIC.to_vec();
    v2.extend_from_slice(&(VERSION + 1).to_be_bytes());
    assert_eq!(
        verify_bundle(&v2[..], None).unwrap_err().kind,
        VerifyKind::UnsupportedVersion
    );
    // Huge counts are refused before anything is allocated.
    let (b, key) = valid();
    let l = mamori_seal::bundle::layout(b).unwrap();
    let heads_at = l.heads[0].start - 4;
    let mut huge = b.clone();
    huge[heads_at..heads_at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        verify_bundle(&huge[..], Some(*key)).unwrap_err().kind,
        VerifyKind::TooLarge
    );
    let mut big_record = b.clone();
    let r = l.records[0].start;
    big_record[r..r + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    let e = verify_bundle(&big_record[..], Some(*key)).unwrap_err();
    assert_eq!((e.kind, e.first_bad_index), (VerifyKind::Edited, Some(5)));
    let mut extra = b.clone();
    extra.push(0);
    assert_eq!(
        verify_bundle(&extra[..], Some(*key)).unwrap_err().kind,
        VerifyKind::Malformed
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), magic in any::<bool>()) {
        let mut b = bytes;
        if magic {
            let mut m = MAGIC.to_vec();
            m.extend_from_slice(&VERSION.to_be_bytes());
            m.extend_from_slice(&b);
            b = m;
        }
        prop_assert!(verify_bundle(&b[..], None).is_err());
    }

    #[test]
    fn mutated_bundles_never_panic_and_never_verify(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..4), 1..6),
    ) {
        let (orig, key) = valid();
        let mut b = orig.clone();
        for (pos, val, op) in edits {
            let p = pos % (b.len() + 1);
            match op {
                0 if p < b.len() => b[p] ^= val | 1,
                1 => b.insert(p, val),
                2 if p < b.len() => { b.remove(p); }
                _ => b.truncate(p),
            }
        }
        let r = verify_bundle(&b[..], Some(*key));
        if &b != orig {
            prop_assert!(r.is_err(), "a changed bundle verified");
        }
    }
}

/// Every input the fuzzer kept (`fuzz/corpus/verify_bundle`) is replayed on every test run, so
/// the verifier's robustness is checked without a nightly toolchain.
#[test]
fn fuzz_corpus_never_panics() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/verify_bundle");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("the fuzz corpus is in the repository") {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let _ = mamori_seal::verify_bundle(bytes.as_slice(), None);
        n += 1;
    }
    assert!(n >= 100, "only {n} corpus files");
}
