//! Fuzz target: forwarders' JSON lines never panic, and every line is either an event or a
//! diagnostic.
//!
//! Run: `cargo +nightly fuzz run json_lines -- -max_total_time=120` in `crates/ingest/fuzz`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_ingest::{JsonLinesOptions, read_json_lines};

fuzz_target!(|data: &[u8]| {
    let _ = read_json_lines(data, 1_790_000_000_000, "192.0.2.1", &JsonLinesOptions::default());
});
