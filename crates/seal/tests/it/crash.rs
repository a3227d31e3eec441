//! `kill -9` during heavy appends: a child process (this test binary, re-executed) appends in
//! random batches and prints each acknowledged end index after `append_batch` returns; the
//! parent kills it with SIGKILL at random moments, reopens, and checks that every acknowledged
//! record is present and intact and that the whole log exports and verifies.

use super::payload;
use mamori_seal::{SealOptions, SealedLog, verify_bundle};
use rand::{Rng, SeedableRng};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

const CHILD_ENV: &str = "MAMORI_SEAL_CRASH_CHILD";

fn crash_opts() -> SealOptions {
    SealOptions {
        segment_bytes: 256 << 10,
        head_interval_ms: 50,
        ..SealOptions::default()
    }
}

/// The child: runs only when re-executed by `kill_9_during_appends_loses_no_acknowledged_record`.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (mut log, _) = SealedLog::open(std::path::Path::new(&dir), crash_opts()).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(log.size());
    let mut out = std::io::stdout().lock();
    let mut now = log.signed_head().map_or(0, |h| h.signed_at_ms) + 1;
    loop {
        let start = log.size();
        let n = rng.gen_range(1..=200u64);
        let ps: Vec<Vec<u8>> = (start..start + n).map(payload).collect();
        let refs: Vec<&[u8]> = ps.iter().map(Vec::as_slice).collect();
        now += 7;
        let r = log.append_batch(now, &refs).unwrap();
        writeln!(out, "ACK {}", r.end).unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn kill_9_during_appends_loses_no_acknowledged_record() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5ea1);
    let mut acked = 0u64;
    let mut repaired = 0;
    let mut checked = 0u64;
    let mut unacked_kept = 0u64;
    for round in 0..25 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash::crash_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut last = 0u64;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("ACK ") {
                    last = n.trim().parse().unwrap();
                }
            }
            last
        });
        std::thread::sleep(Duration::from_millis(rng.gen_range(20..250)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let last = reader.join().unwrap();
        acked = acked.max(last);

        let (mut log, report) = SealedLog::open(dir.path(), crash_opts()).unwrap();
        if report.truncated_bytes > 0 {
            repaired += 1;
        }
        assert!(
            log.size() >= acked,
            "round {round}: acknowledged {acked} but only {} records after restart",
            log.size()
        );
        unacked_kept += log.size() - acked;
        // Records checked in earlier rounds stay checked by the Merkle verification below.
        for i in checked..log.size() {
            assert_eq!(
                log.read(i).unwrap().payload,
                payload(i),
                "round {round}, record {i}"
            );
        }
        let now = log.signed_head().map_or(0, |h| h.signed_at_ms) + 1;
        log.sign_head(now).unwrap();
        let mut bundle = Vec::new();
        log.export(0..log.size(), &mut bundle).unwrap();
        let r = verify_bundle(&bundle[..], Some(log.public_key().0)).unwrap();
        assert_eq!(r.end, log.size());
        checked = log.size();
        log.close(now + 1).unwrap();
    }
    assert!(acked > 0, "the child never acknowledged anything");
    eprintln!(
        "crash test: 25 kills, {acked} records acknowledged, {repaired} torn tails repaired, \
         {unacked_kept} complete but unacknowledged records kept"
    );
}
