//! Fuzz target: a ledger import file (CSV in any encoding, or XLSX) never panics.
//!
//! Run: `cargo +nightly fuzz run table -- -max_total_time=120` in `crates/ingest/fuzz`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_ingest::read_table;

fuzz_target!(|data: &[u8]| {
    let _ = read_table(data, Some("devices.xlsx"));
});
