//! Measures the agent's parts on this machine for `bench/agent.sh`:
//!
//! - `agent_bench inventory`: one full inventory of this machine; prints what it found.
//! - `agent_bench spool DIR N`: appends N device events in batches of 100 (each batch synced),
//!   reads them back and acknowledges them; prints the counts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use mamori_agent::inventory::collect_local;
use mamori_agent::spool::{Kind, Limits, Spool};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("inventory") => {
            let inv = collect_local().expect("inventory");
            println!(
                "{} packages, {} services, {} listening, {} accounts, {} disks, {} usb",
                inv.packages.len(),
                inv.enabled_services.len(),
                inv.listening.len(),
                inv.local_accounts.len(),
                inv.disks.len(),
                inv.usb_devices.len()
            );
        }
        Some("spool") => {
            let dir = std::path::PathBuf::from(args.get(2).expect("DIR"));
            let n: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100_000);
            let (mut spool, _) = Spool::open(&dir, Limits::default()).expect("open");
            let payload = |i: u64| {
                format!(
                    "{{\"action\":\"media_written\",\"user\":\"yamada\",\"file\":\"検査結果_{i}.pdf\",\"size\":183422,\"sha256\":\"{i:064x}\",\"device\":\"0781:5583:4C530001231122109384\"}}"
                )
                .into_bytes()
            };
            let mut i = 0;
            while i < n {
                let batch: Vec<Vec<u8>> = (i..(i + 100).min(n)).map(payload).collect();
                let items: Vec<(Kind, i64, &[u8])> = batch
                    .iter()
                    .map(|p| (Kind::Event, i as i64, p.as_slice()))
                    .collect();
                spool.append_batch(&items).expect("append");
                i += batch.len() as u64;
            }
            let mut read = 0u64;
            loop {
                let page = spool.pending(5_000, 4 << 20).expect("read");
                let Some(last) = page.last() else { break };
                read += page.len() as u64;
                spool.ack(last.seq).expect("ack");
            }
            println!("{n} appended, {read} read and acknowledged");
        }
        _ => {
            eprintln!("usage: agent_bench inventory | agent_bench spool DIR N");
            std::process::exit(2);
        }
    }
}
