//! The spool under `kill -9`: a child process appends batches and prints each batch's last
//! sequence number once `append_batch` has returned; the parent kills it at a pseudo-random
//! moment, acknowledges part of what it saw, and starts it again. Every entry the child
//! reported is there afterwards, intact, in order, exactly once, and nothing acknowledged comes
//! back.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mamori_agent::spool::{Kind, Limits, Spool};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "MAMORI_TEST_SPOOL_CHILD";

fn limits() -> Limits {
    Limits {
        max_bytes: 64 * 1024 * 1024,
        segment_bytes: 64 * 1024,
    }
}

fn payload(seq: u64) -> Vec<u8> {
    format!("usb-write user=yamada file=検査結果_{seq}.pdf sha256={seq:064x}").into_bytes()
}

/// The child's part: append until killed. Ignored in a normal run; the parent starts this test
/// binary again with `--ignored` to run it.
#[test]
#[ignore = "the child process of acknowledged_appends_survive_kill_9"]
fn spool_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (mut spool, _) = Spool::open(std::path::Path::new(&dir), limits()).unwrap();
    loop {
        let (_, pending, _) = spool.stats();
        let next = spool.acked() + pending + 1;
        let items: Vec<(Kind, i64, Vec<u8>)> = (next..next + 20)
            .map(|s| (Kind::Event, s as i64, payload(s)))
            .collect();
        let refs: Vec<(Kind, i64, &[u8])> = items
            .iter()
            .map(|(k, t, p)| (*k, *t, p.as_slice()))
            .collect();
        spool.append_batch(&refs).unwrap();
        println!("stored {}", next + 19);
    }
}

#[test]
fn acknowledged_appends_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let me = std::env::current_exe().unwrap();
    let mut reported = 0u64;
    let mut acked = 0u64;
    for round in 0..6u64 {
        let mut child = Command::new(&me)
            .args([
                "--exact",
                "spool_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let kill_after = Duration::from_millis(120 + (round * 173) % 300);
        let reader = std::thread::spawn(move || {
            let mut last = 0u64;
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("stored ") {
                    last = n.trim().parse().unwrap();
                }
            }
            last
        });
        let start = Instant::now();
        while start.elapsed() < kill_after {
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let last = reader.join().unwrap();
        reported = reported.max(last);

        // Everything reported is there, in order, intact, once.
        let (mut spool, _) = Spool::open(dir.path(), limits()).unwrap();
        let pending = spool.pending(usize::MAX, usize::MAX).unwrap();
        let seqs: Vec<u64> = pending.iter().map(|e| e.seq).collect();
        assert_eq!(seqs.first().copied(), Some(acked + 1), "round {round}");
        for w in seqs.windows(2) {
            assert_eq!(w[1], w[0] + 1, "round {round}: a hole or a repeat");
        }
        assert!(
            seqs.last().copied().unwrap_or(0) >= reported,
            "round {round}: reported {reported}, found up to {:?}",
            seqs.last()
        );
        for e in &pending {
            assert_eq!(e.payload, payload(e.seq), "entry {} damaged", e.seq);
        }
        // The server takes half of what waits.
        let upto = acked + (seqs.len() as u64) / 2;
        spool.ack(upto).unwrap();
        acked = upto;
    }
    assert!(
        reported > 100,
        "the child wrote too little to mean anything: {reported}"
    );
    eprintln!(
        "spool kill -9: {reported} entries reported over 6 kills, all present; {acked} acknowledged"
    );
}
