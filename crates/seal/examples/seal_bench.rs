//! Benchmark of the sealed log; run through `bench/seal.sh` (release build). Prints a Markdown
//! table; every number has its baseline measured in the same run, on the same disk.
//!
//! Environment: `SEAL_BENCH_DIR` (default: the system temp dir), `SEAL_BENCH_VERIFY_N` (records in
//! the verify bundle, default 2,000,000), `SEAL_BENCH_GROUP_N` (default 1,000,000),
//! `SEAL_BENCH_SINGLE_N` (default 3,000), `SEAL_BENCH_LATENCY_S` (default 10), `SEAL_BENCH_THREADS`
//! (concurrent single-record callers, default 32).

use mamori_seal::{GroupCommitter, SealOptions, SealedLog, verify_bundle};
use std::error::Error;
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

type Res<T> = Result<T, Box<dyn Error>>;

const RECORD: usize = 300;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn payload(i: u64) -> Vec<u8> {
    let mut p = format!(
        "{{\"seq\":{i},\"user\":\"nurse{}\",\"action\":\"view\",\"patient\":\"{}\"}} ",
        i % 97,
        i * 7919 % 100_003
    )
    .into_bytes();
    let mut x = i;
    while p.len() < RECORD {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        p.push(b'a' + (x >> 59) as u8);
    }
    p.truncate(RECORD);
    p
}

fn fresh(base: &Path, name: &str) -> Res<PathBuf> {
    let d = base.join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// Appends `n` records in batches of `batch`; returns records per second.
fn seal_append(dir: &Path, n: u64, batch: u64) -> Res<f64> {
    let (mut log, _) = SealedLog::open(dir, SealOptions::default())?;
    let payloads: Vec<Vec<u8>> = (0..batch).map(payload).collect();
    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    let t0 = Instant::now();
    let mut done = 0;
    while done < n {
        let now = t0.elapsed().as_millis() as i64;
        log.append_batch(now, &refs)?;
        done += batch;
    }
    let secs = t0.elapsed().as_secs_f64();
    log.close(t0.elapsed().as_millis() as i64)?;
    Ok(done as f64 / secs)
}

/// Plain `write` + `fdatasync` of the same payload bytes; returns records per second.
fn plain_append(dir: &Path, n: u64, batch: u64) -> Res<f64> {
    let mut f = File::create(dir.join("plain.bin"))?;
    let mut buf = Vec::new();
    for i in 0..batch {
        buf.extend_from_slice(&payload(i));
    }
    let t0 = Instant::now();
    let mut done = 0;
    while done < n {
        f.write_all(&buf)?;
        f.sync_data()?;
        done += batch;
    }
    Ok(done as f64 / t0.elapsed().as_secs_f64())
}

/// `threads` callers each append one record per call for `secs`; returns records per second.
fn seal_concurrent(dir: &Path, threads: u64, secs: u64) -> Res<f64> {
    let (log, _) = SealedLog::open(dir, SealOptions::default())?;
    let c = Arc::new(GroupCommitter::new(log, SealOptions::default().max_payload));
    let t0 = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let c = c.clone();
            std::thread::spawn(move || -> Result<u64, String> {
                let mut n = 0u64;
                while t0.elapsed() < Duration::from_secs(secs) {
                    let now = t0.elapsed().as_millis() as i64;
                    c.append(now, payload(t * 1_000_000 + n))
                        .map_err(|e| e.to_string())?;
                    n += 1;
                }
                Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.join().map_err(|_| "thread panicked")??;
    }
    Ok(total as f64 / t0.elapsed().as_secs_f64())
}

/// `threads` callers each `write` + `fdatasync` one record per call to one shared file.
fn plain_concurrent(dir: &Path, threads: u64, secs: u64) -> Res<f64> {
    let f = Arc::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("plain.bin"))?,
    );
    let t0 = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let f = f.clone();
            std::thread::spawn(move || -> Result<u64, String> {
                let mut n = 0u64;
                while t0.elapsed() < Duration::from_secs(secs) {
                    (&*f)
                        .write_all(&payload(t * 1_000_000 + n))
                        .map_err(|e| e.to_string())?;
                    f.sync_data().map_err(|e| e.to_string())?;
                    n += 1;
                }
                Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.join().map_err(|_| "thread panicked")??;
    }
    Ok(total as f64 / t0.elapsed().as_secs_f64())
}

struct VerifyResult {
    records: u64,
    bytes: u64,
    verify_s: f64,
    sha_s: f64,
    build_s: f64,
    reopen_s: f64,
}

fn verify_bench(dir: &Path, n: u64) -> Res<VerifyResult> {
    let opts = SealOptions {
        head_interval_ms: 1000,
        ..SealOptions::default()
    };
    let (mut log, _) = SealedLog::open(dir, opts)?;
    let batch = 10_000u64;
    let t0 = Instant::now();
    let mut done = 0;
    let mut buf: Vec<Vec<u8>> = Vec::new();
    while done < n {
        let k = batch.min(n - done);
        buf.clear();
        buf.extend((done..done + k).map(payload));
        let refs: Vec<&[u8]> = buf.iter().map(Vec::as_slice).collect();
        // One simulated second per batch, so a head is signed every batch.
        log.append_batch((done / batch) as i64 * 1000, &refs)?;
        done += k;
    }
    log.sign_head((done / batch) as i64 * 1000 + 1000)?;
    let path = dir.join("bundle.msb");
    let bytes = log.export(0..n, File::create(&path)?)?;
    let build_s = t0.elapsed().as_secs_f64();
    let key = log.public_key().0;
    drop(log);
    let t = Instant::now();
    let (log, _) = SealedLog::open(dir, SealOptions::default())?;
    let reopen_s = t.elapsed().as_secs_f64();
    drop(log);
    // Warm the page cache equally for both readers.
    let _ = std::process::Command::new("cat")
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .status();
    let t = Instant::now();
    let report = verify_bundle(
        BufReader::with_capacity(1 << 20, File::open(&path)?),
        Some(key),
    )
    .map_err(|e| e.to_string())?;
    let verify_s = t.elapsed().as_secs_f64();
    if report.end != n {
        return Err("verify covered the wrong range".into());
    }
    let t = Instant::now();
    let out = std::process::Command::new("sha256sum")
        .arg(&path)
        .output()?;
    let sha_s = t.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err("sha256sum failed".into());
    }
    Ok(VerifyResult {
        records: n,
        bytes,
        verify_s,
        sha_s,
        build_s,
        reopen_s,
    })
}

/// Steady appends for `secs` seconds (100-record batches at ~20,000 records/s); returns the
/// sorted latencies from acknowledgement to inclusion in a signed head.
fn latency_bench(dir: &Path, secs: u64) -> Res<Vec<Duration>> {
    let opts = SealOptions {
        head_interval_ms: 1000,
        ..SealOptions::default()
    };
    let (mut log, _) = SealedLog::open(dir, opts)?;
    let payloads: Vec<Vec<u8>> = (0..100).map(payload).collect();
    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    let t0 = Instant::now();
    let mut pending: std::collections::VecDeque<(u64, Instant)> = Default::default();
    let mut lat = Vec::new();
    let mut next = t0;
    while t0.elapsed() < Duration::from_secs(secs) || !pending.is_empty() {
        if t0.elapsed() < Duration::from_secs(secs) {
            let r = log.append_batch(t0.elapsed().as_millis() as i64, &refs)?;
            pending.push_back((r.end, Instant::now()));
        } else {
            log.tick(t0.elapsed().as_millis() as i64)?;
        }
        let signed = log.signed_head().map_or(0, |h| h.tree_size);
        let now = Instant::now();
        while let Some((end, at)) = pending.front().copied() {
            if end > signed {
                break;
            }
            lat.push(now - at);
            pending.pop_front();
        }
        next += Duration::from_millis(5);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    lat.sort();
    Ok(lat)
}

fn pct(v: &[Duration], p: f64) -> Duration {
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied().unwrap_or_default()
}

fn main() -> Res<()> {
    let base = std::env::var_os("SEAL_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("mamori-seal-bench"));
    std::fs::create_dir_all(&base)?;
    let group_n = env_u64("SEAL_BENCH_GROUP_N", 1_000_000);
    let single_n = env_u64("SEAL_BENCH_SINGLE_N", 3_000);
    let verify_n = env_u64("SEAL_BENCH_VERIFY_N", 2_000_000);
    let latency_s = env_u64("SEAL_BENCH_LATENCY_S", 10);

    let g = seal_append(&fresh(&base, "group")?, group_n, 1000)?;
    let gb = plain_append(&fresh(&base, "group-plain")?, group_n, 1000)?;
    let s = seal_append(&fresh(&base, "single")?, single_n, 1)?;
    let sb = plain_append(&fresh(&base, "single-plain")?, single_n, 1)?;
    let threads = env_u64("SEAL_BENCH_THREADS", 32);
    let c = seal_concurrent(&fresh(&base, "concurrent")?, threads, 5)?;
    let cb = plain_concurrent(&fresh(&base, "concurrent-plain")?, threads, 5)?;
    let v = verify_bench(&fresh(&base, "verify")?, verify_n)?;
    let lat = latency_bench(&fresh(&base, "latency")?, latency_s)?;
    let _ = std::fs::remove_dir_all(&base);

    let mb = v.bytes as f64 / 1e6;
    let extrapolated = v.verify_s * 10_000_000.0 / v.records as f64;
    let how = if v.records == 10_000_000 {
        "measured"
    } else {
        "extrapolated"
    };
    println!("| measurement | mamori-seal | baseline (same run) | ratio | target |");
    println!("|---|---|---|---|---|");
    println!(
        "| durable append, group commit ({group_n} × {RECORD} B, 1,000 per fsync) | {g:.0} rec/s | plain write+fdatasync of the same payloads: {gb:.0} rec/s | {:.2} | ≥ 100,000 rec/s |",
        g / gb
    );
    println!(
        "| durable append, 1 record per commit ({single_n} × {RECORD} B) | {s:.0} rec/s | plain write+fdatasync of {RECORD} B: {sb:.0} rec/s | {:.2} | ≥ 2,000 rec/s |",
        s / sb
    );
    println!(
        "| durable append, 1 record per call, {threads} concurrent callers (GroupCommitter), 5 s | {c:.0} rec/s | {threads} threads doing write+fdatasync of {RECORD} B to one file: {cb:.0} rec/s | {:.2} | ≥ 2,000 rec/s |",
        c / cb
    );
    println!(
        "| verify bundle of {} records ({mb:.0} MB) | {:.2} s ({:.0} MB/s) | sha256sum of the same file: {:.2} s ({:.0} MB/s) | {:.2} | 10M records ≤ 60 s: {how} {extrapolated:.1} s |",
        v.records,
        v.verify_s,
        mb / v.verify_s,
        v.sha_s,
        mb / v.sha_s,
        v.verify_s / v.sha_s
    );
    println!(
        "| ack → signed head, head interval 1 s, ~20k rec/s for {latency_s} s ({} batches) | p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms | — | — | p99 ≤ 2 s |",
        lat.len(),
        pct(&lat, 0.5).as_secs_f64() * 1e3,
        pct(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!();
    println!(
        "Verify bundle built (append + export) in {:.1} s; reopening that {}-record log took {:.2} s. {} cores.",
        v.build_s,
        v.records,
        v.reopen_s,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    Ok(())
}
