//! Fuzz target: a truncated or corrupt `.evtx` file never panics; bad records are counted.
//! Seed the corpus with the sample files: `cp ../../../../shared/testdata/evtx/*.evtx corpus/evtx/`.
//!
//! Run: `cargo +nightly fuzz run evtx -- -max_total_time=120` in `crates/ingest/fuzz`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_ingest::{EvtxLimits, read_evtx};

fuzz_target!(|data: &[u8]| {
    let _ = read_evtx(data, 1_790_000_000_000, &EvtxLimits::default());
});
