//! Fuzz target: `verify_bundle` on hostile input never panics, hangs or allocates without bound.
//! The first byte picks the mode: raw bytes, or edits (position, xor) applied to a valid bundle
//! built once, so the fuzzer reaches the record and head checks quickly.
//!
//! Run: `cargo +nightly fuzz run verify_bundle -- -max_total_time=180` in `crates/seal/fuzz`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_seal::{SealOptions, SealedLog, verify_bundle};
use std::sync::OnceLock;

fn valid() -> &'static (Vec<u8>, [u8; 32]) {
    static B: OnceLock<(Vec<u8>, [u8; 32])> = OnceLock::new();
    B.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("mamori-seal-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (mut log, _) = SealedLog::open(&dir, SealOptions::default()).unwrap();
        for i in 0..20i64 {
            let p = format!("record {i} payload");
            log.append_batch(i * 1000, &[p.as_bytes(), b"second"])
                .unwrap();
            log.sign_head(i * 1000 + 1).unwrap();
        }
        let mut out = Vec::new();
        log.export(3..37, &mut out).unwrap();
        let key = log.public_key().0;
        let _ = std::fs::remove_dir_all(&dir);
        (out, key)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let _ = verify_bundle(rest, None);
        return;
    }
    let (orig, key) = valid();
    let mut b = orig.clone();
    for e in rest.chunks_exact(3) {
        let pos = usize::from(u16::from_be_bytes([e[0], e[1]]));
        match e[2] {
            0 => b.truncate(pos % (b.len() + 1)),
            1 => {
                let p = pos % (b.len() + 1);
                b.insert(p, e[0]);
            }
            x => {
                let at = pos % b.len().max(1);
                if let Some(v) = b.get_mut(at) {
                    *v ^= x;
                }
            }
        }
    }
    let r = verify_bundle(&b[..], Some(*key));
    if &b != orig {
        assert!(r.is_err(), "a changed bundle verified");
    }
});
