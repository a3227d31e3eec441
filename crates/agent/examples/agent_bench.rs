//! Measures the agent's parts on this machine for `bench/agent.sh`:
//!
//! - `agent_bench inventory`: one full inventory of this machine; prints what it found.
//! - `agent_bench spool DIR N`: appends N device events in batches of 100 (each batch synced),
//!   reads them back and acknowledges them; prints the counts.
//! - `agent_bench usb DIR N`: N devices plugged into a recorded sysfs tree under DIR, each
//!   uevent handled by the agent's control loop as in `mamori-agent run` (the signed policy
//!   read and verified, the console user looked up, the device read from sysfs, the decision
//!   logged durably to the spool, the device authorised); prints p50/p99 of the time from the
//!   uevent to the written authorisation.
//! - `agent_bench log-only DIR N`: the floor of the same path, the durable log alone.
//! - `agent_bench state DIR`: an enrolled agent's state and a recorded sysfs tree under DIR,
//!   for running `mamori-agent run` idle.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey};
use mamori_agent::enforce::{BlockControl, Enforcer, lock};
use mamori_agent::inventory::collect_local;
use mamori_agent::spool::{Kind, Limits, Spool};
use mamori_agent::state::{Identity, StateDir};
use mamori_agent::usb::{Policy, Sysfs};
use mamori_proto::agent::{PolicyBody, SignedPolicy};
use std::sync::{Arc, Mutex};
use std::time::Instant;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Read-only storage is not part of the measured path (the policy denies storage).
struct NoBlocks;

impl BlockControl for NoBlocks {
    fn set_read_only(&mut self, _devname: &str) -> Result<(), String> {
        Ok(())
    }

    fn is_encrypted(&mut self, _devname: &str) -> bool {
        false
    }

    fn set_read_write(&mut self, _devname: &str) -> Result<(), String> {
        Ok(())
    }
}

/// An enrolled agent's state in `dir/state`: identity (its server unreachable: a PC on a closed
/// network) and a signed policy denying storage, as enrolment leaves them.
fn state(dir: &std::path::Path) -> (StateDir, Identity) {
    let state_dir = StateDir::new(dir.join("state"));
    state_dir.create().expect("state dir");
    let server = SigningKey::from_bytes(&[5; 32]);
    let id = Identity {
        agent_id: 1,
        server: "http://127.0.0.1:9".into(),
        pin: String::new(),
        key: B64.encode([1u8; 32]),
        policy_key: B64.encode(server.verifying_key().as_bytes()),
        unlock_secret: B64.encode([2u8; 32]),
        enrolled_ms: 0,
    };
    state_dir.save_identity(&id).expect("identity");
    let body = serde_json::to_string(&PolicyBody {
        version: 1,
        agent_id: Some(1),
        issued_ms: 0,
        groups: vec!["reception".into()],
        usb: Policy::fail_closed(),
        ntp_server: None,
        acked_seq: None,
        server_pins: Vec::new(),
    })
    .expect("policy");
    let signature = B64.encode(
        server
            .sign(&mamori_proto::agent::policy_message(&body))
            .to_bytes(),
    );
    state_dir
        .save_policy(&SignedPolicy { body, signature })
        .expect("policy");
    (state_dir, id)
}

fn percentiles(mut v: Vec<f64>) -> String {
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| {
        v.get(((v.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.5),
        at(0.99),
        at(1.0)
    )
}

/// A sysfs tree with `n` USB sticks and keyboards plugged in, not yet authorised.
fn plug(dir: &std::path::Path, n: usize) {
    let d = dir.join("bus/usb/devices");
    let put = |rel: String, v: &str| {
        let p = d.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, v).unwrap();
    };
    put("usb1/authorized_default".into(), "1");
    for i in 0..n {
        let port = format!("1-{}", i + 1);
        let class = if i % 2 == 0 { "08" } else { "03" };
        put(format!("{port}/idVendor"), "0781");
        put(format!("{port}/idProduct"), "5583");
        put(format!("{port}/serial"), &format!("{i:020}"));
        put(format!("{port}/authorized"), "0");
        put(format!("{port}/{port}:1.0/bInterfaceClass"), class);
        put(format!("{port}/{port}:1.0/bInterfaceSubClass"), "06");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("inventory") => {
            let inv = collect_local().expect("inventory");
            println!(
                "{} packages ({} security updates pending), {} services, {} listening, {} accounts, {} disks, {} usb",
                inv.packages.len(),
                inv.pending_security_updates
                    .as_ref()
                    .map(|p| p.len().to_string())
                    .unwrap_or_else(|| "?".into()),
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
        Some("state") => {
            let dir = std::path::PathBuf::from(args.get(2).expect("DIR"));
            state(&dir);
            plug(&dir.join("sys"), 4);
            println!("enrolled state in {}", dir.display());
        }
        Some(mode @ ("usb" | "log-only")) => {
            let dir = std::path::PathBuf::from(args.get(2).expect("DIR"));
            let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1_000);
            plug(&dir.join("sys"), n);
            let (state_dir, id) = state(&dir);
            let (spool, _) = Spool::open(&state_dir.spool_dir(), Limits::default()).expect("spool");
            let spool = Arc::new(Mutex::new(spool));
            let sessions = dir.join("sessions");
            std::fs::create_dir_all(&sessions).unwrap();
            std::fs::write(sessions.join("2"), "USER=uketsuke\nACTIVE=1\nSEAT=seat0\n").unwrap();
            let mut enforcer = Enforcer::new(
                Box::new(Sysfs::new(dir.join("sys"))),
                state_dir,
                id,
                spool.clone(),
                sessions,
                Box::new(NoBlocks),
            );
            enforcer.bus.block_new_devices().expect("fail closed");
            let mut times = Vec::with_capacity(n);
            for i in 0..n {
                let port = format!("1-{}", i + 1);
                let msg = format!(
                    "add@/devices/pci0000:00/0000:00:14.0/usb1/{port}\0ACTION=add\0DEVPATH=/devices/pci0000:00/0000:00:14.0/usb1/{port}\0SUBSYSTEM=usb\0DEVTYPE=usb_device\0SEQNUM={i}\0"
                );
                let started = Instant::now();
                if mode == "usb" {
                    enforcer
                        .on_message(msg.as_bytes(), 1_764_650_000_000)
                        .expect("handled")
                        .expect("decided");
                } else {
                    lock(&spool)
                        .append(Kind::Event, 0, msg.as_bytes())
                        .expect("logged");
                }
                times.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            println!("{n} devices: {}", percentiles(times));
        }
        _ => {
            eprintln!(
                "usage: agent_bench inventory | spool DIR N | usb DIR N | log-only DIR N | state DIR"
            );
            std::process::exit(2);
        }
    }
}
