//! Fuzz target: an access-log CSV read through each shipped profile never panics (wrong
//! profile, bad rows, odd encodings are findings, not crashes).
//!
//! Run: `cargo +nightly fuzz run access_csv -- -max_total_time=120` in `crates/ingest/fuzz`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_ingest::{ACCESS_LOG_LIMITS, read_mapped_csv, shipped_profiles};

fuzz_target!(|data: &[u8]| {
    for p in shipped_profiles() {
        let _ = read_mapped_csv(data, 1_790_000_000_000, &p, &ACCESS_LOG_LIMITS);
    }
});
