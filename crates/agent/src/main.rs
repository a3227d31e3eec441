//! `mamori-agent`: enrol this PC, run the agent, show its state.

use clap::{Parser, Subcommand};
use mamori_agent::inventory::Root;
use mamori_agent::run::{self, Agent};
use mamori_agent::state::{self, StateDir};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "mamori-agent",
    version,
    about = "mamori の端末エージェント / the mamori endpoint agent"
)]
struct Cli {
    /// Where the agent keeps its key, policy and spool.
    #[arg(long, global = true, default_value = state::DEFAULT_DIR)]
    state_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enrol this PC with a one-time token made in mamori's 端末エージェント page.
    Enroll {
        /// The server, e.g. https://mamori.clinic.local:8443
        #[arg(long)]
        server: String,
        /// The token the page showed (MMR1-…).
        #[arg(long)]
        token: String,
    },
    /// Inventory the PC and send what waits to the server, every interval (or once).
    Run {
        #[arg(long)]
        once: bool,
        /// Seconds between cycles.
        #[arg(long, default_value_t = 900)]
        interval: u64,
        /// Read the inventory under this directory instead of `/` (a recorded machine).
        #[arg(long, hide = true)]
        root: Option<PathBuf>,
    },
    /// Show the enrolment, the policy in force and what waits in the spool.
    Status,
}

/// The wall clock, Unix ms: the agent's only reader of it.
#[allow(clippy::disallowed_methods)]
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn first_line(path: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let dir = StateDir::new(&cli.state_dir);
    let result = match cli.command {
        Command::Enroll { server, token } => {
            let hostname = first_line("/proc/sys/kernel/hostname");
            let hostname = if hostname.is_empty() {
                first_line("/etc/hostname")
            } else {
                hostname
            };
            let machine_id = first_line("/etc/machine-id");
            run::enroll(&dir, &server, &token, &hostname, &machine_id, now_ms()).map(|id| {
                println!(
                    "登録しました / enrolled: agent #{} → {}",
                    id.agent_id, id.server
                );
            })
        }
        Command::Run {
            once,
            interval,
            root,
        } => {
            let root = Root::new(root.unwrap_or_else(|| PathBuf::from("/")));
            match Agent::open(dir, root, now_ms()) {
                Err(e) => Err(e),
                Ok(mut agent) => loop {
                    match agent.cycle(now_ms()) {
                        Ok(r) => {
                            println!(
                                "inventory: {} / sent: {} / waiting: {}{}{}",
                                r.inventory,
                                r.sent,
                                r.waiting,
                                r.policy_version
                                    .map(|v| format!(" / policy v{v}"))
                                    .unwrap_or_default(),
                                r.offline
                                    .map(|o| format!(" / サーバに接続できません (offline): {o}"))
                                    .unwrap_or_default()
                            );
                        }
                        Err(e) if once => break Err(e),
                        Err(e) => eprintln!("mamori-agent: {e}"),
                    }
                    if once {
                        break Ok(());
                    }
                    std::thread::sleep(Duration::from_secs(interval.max(10)));
                },
            }
        }
        Command::Status => match dir.identity() {
            Err(e) => Err(e.into()),
            Ok(id) => {
                println!("agent:   #{}", id.agent_id);
                println!("server:  {}", id.server);
                match state::verified_policy(&dir, &id) {
                    Some((_, p)) => println!("policy:  v{} (verified)", p.version),
                    None => println!(
                        "policy:  none that verifies: everything but keyboards and mice is blocked"
                    ),
                }
                match mamori_agent::spool::Spool::open(
                    &dir.spool_dir(),
                    mamori_agent::spool::Limits::default(),
                ) {
                    Ok((s, _)) => {
                        let (bytes, waiting, dropped) = s.stats();
                        println!("spool:   {waiting} waiting, {bytes} bytes, {dropped} dropped");
                        Ok(())
                    }
                    Err(e) => Err(e.into()),
                }
            }
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mamori-agent: {e}");
            ExitCode::from(2)
        }
    }
}
