//! Fuzz target: one syslog message, and the same bytes as a TCP stream cut into pieces, never
//! panic, and the framer never holds more than one frame.
//!
//! Run: `cargo +nightly fuzz run syslog -- -max_total_time=120` in `crates/ingest/fuzz`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_ingest::{SyslogFramer, SyslogOptions, parse_syslog};

fuzz_target!(|data: &[u8]| {
    let opts = SyslogOptions::default();
    let _ = parse_syslog(data, 1_790_000_000_000, "192.0.2.1", &opts);
    // The first byte sets the piece size, so frames are split at every possible place.
    let step = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut framer = SyslogFramer::new(512);
    let mut frames = Vec::new();
    for piece in data.chunks(step) {
        framer.feed(piece, &mut frames);
        assert!(framer.buffered() <= framer.capacity());
        for f in frames.drain(..) {
            if let Ok(bytes) = f {
                let _ = parse_syslog(&bytes, 1_790_000_000_000, "192.0.2.1", &opts);
            }
        }
    }
    let _ = framer.finish();
});
