//! `mamori-agent`: enrol this PC, run the agent, show its state.

use clap::{Parser, Subcommand};
use mamori_agent::enforce;
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
    /// Enrol this PC with a one-time token made in mamori's 端末エージェント page. A PC that
    /// never reaches the server enrols by file: `--offline-request FILE` writes the request for
    /// an administrator to take to the server, `--offline-answer FILE` takes the answer back.
    Enroll {
        /// The server, e.g. https://mamori.clinic.local:8443
        #[arg(long, required_unless_present_any = ["offline_request", "offline_answer"])]
        server: Option<String>,
        /// The token the page showed (MMR1-…).
        #[arg(long, required_unless_present = "offline_answer")]
        token: Option<String>,
        /// Standalone PC: write the enrolment request to this file instead of sending it.
        #[arg(long, conflicts_with_all = ["server", "offline_answer"])]
        offline_request: Option<PathBuf>,
        /// Standalone PC: finish enrolment with the answer file the server made.
        #[arg(long, conflicts_with_all = ["server", "token"])]
        offline_answer: Option<PathBuf>,
    },
    /// Standalone PC: write the logs and inventory waiting here to a file for the server
    /// (端末エージェント → スタンドアロン端末 → 取り込み).
    Export {
        #[arg(long)]
        out: PathBuf,
        /// Everything the server has not acknowledged, also what earlier files carried (one
        /// was lost).
        #[arg(long)]
        again: bool,
    },
    /// Standalone PC: take a policy file made for this PC on the server.
    ImportPolicy { file: PathBuf },
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
        /// Do not control USB devices (inventory and upload only, e.g. on a server where
        /// removable media are managed otherwise). Without it the agent must run as root.
        #[arg(long)]
        no_usb_control: bool,
        /// Control the devices of this sysfs tree instead of `/sys` (a recorded machine).
        #[arg(long, hide = true, default_value = "/sys")]
        sysfs: PathBuf,
    },
    /// Enter an emergency unlock code read out by an administrator: removable storage is
    /// allowed for the time the code was made for.
    Unlock {
        /// The 8-digit code (spaces and hyphens are ignored).
        code: String,
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

/// The inventory/upload cycle, every `interval` seconds (or once).
fn cycles(mut agent: Agent, once: bool, interval: u64) -> Result<(), run::AgentError> {
    loop {
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
            Err(e) if once => return Err(e),
            Err(e) => eprintln!("mamori-agent: {e}"),
        }
        if once {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(interval.max(10)));
    }
}

/// Fails closed, decides the devices present, then controls USB devices on a thread of its own.
#[cfg(target_os = "linux")]
fn start_usb_control(agent: &Agent, sysfs: PathBuf) -> Result<(), run::AgentError> {
    use mamori_agent::enforce::{Commands, Enforcer, netlink::UEventSocket};
    use mamori_agent::usb::Sysfs;
    let refuse = |e: String| {
        run::AgentError::UsbControl(format!(
            "{e} (root で実行するか --no-usb-control を付けてください / run as root or pass --no-usb-control)"
        ))
    };
    // Open the socket first: no device may arrive unseen between the decisions and the loop.
    let socket = UEventSocket::open(Duration::from_secs(2)).map_err(|e| refuse(e.to_string()))?;
    let mut enforcer = Enforcer::new(
        Box::new(Sysfs::new(&sysfs)),
        agent.dir.clone(),
        agent.id.clone(),
        agent.spool.clone(),
        PathBuf::from("/run/systemd/sessions"),
        Box::new(Commands::default()),
    );
    let decided = enforcer
        .start(now_ms())
        .map_err(|e| refuse(e.to_string()))?;
    for r in &decided {
        print_decision(r);
    }
    std::thread::Builder::new()
        .name("usb-control".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            let mut refreshed = std::time::Instant::now();
            loop {
                match socket.next(&mut buf) {
                    Ok(Some(n)) => {
                        // An arrival is decided with the policy read (and verified) for it.
                        match enforcer.on_message(buf.get(..n).unwrap_or_default(), now_ms()) {
                            Ok(Some(r)) => print_decision(&r),
                            Ok(None) => {}
                            Err(e) => eprintln!("mamori-agent: {e}"),
                        }
                        // A burst of messages (a stick brings a dozen) checks for a new policy
                        // or unlock once a second, not after each.
                        if refreshed.elapsed() < Duration::from_secs(1) {
                            continue;
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        eprintln!("mamori-agent: uevent: {e}");
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
                refreshed = std::time::Instant::now();
                match enforcer.refresh(now_ms()) {
                    Ok(rs) => rs.iter().for_each(print_decision),
                    Err(e) => eprintln!("mamori-agent: {e}"),
                }
            }
        })
        .map_err(|e| refuse(e.to_string()))?;
    let mut media = mamori_agent::medialog::MediaWatch::new(
        Box::new(Sysfs::new(&sysfs)),
        PathBuf::from("/proc/self/mounts"),
        PathBuf::from("/run/systemd/sessions"),
        agent.spool.clone(),
    )
    .map_err(|e| refuse(format!("inotify: {e}")))?;
    for at in media.scan_mounts() {
        println!("media: watching {}", at.display());
    }
    std::thread::Builder::new()
        .name("media-log".into())
        .spawn(move || {
            loop {
                let (files, added) = media.wait_and_record(Duration::from_secs(5), &now_ms);
                for at in added {
                    println!("media: watching {}", at.display());
                }
                for f in files {
                    println!(
                        "media: {} {} bytes sha256 {} → {}:{}:{}{}",
                        f.path,
                        f.size,
                        f.sha256,
                        f.vendor_id,
                        f.product_id,
                        f.serial,
                        if f.user.is_empty() {
                            String::new()
                        } else {
                            format!(" user {}", f.user)
                        },
                    );
                    if !f.program.is_empty() {
                        println!("media:   written by {}", f.program);
                    }
                }
            }
        })
        .map_err(|e| refuse(e.to_string()))?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn start_usb_control(_agent: &Agent, _sysfs: PathBuf) -> Result<(), run::AgentError> {
    Err(run::AgentError::UsbControl(
        "USB control is built for Linux only; pass --no-usb-control".into(),
    ))
}

fn print_decision(r: &mamori_agent::usb::DecisionRecord) {
    println!(
        "usb: {} {}:{} {} {} → {:?} ({}){}",
        r.device.port,
        r.device.vendor_id,
        r.device.product_id,
        r.device.manufacturer,
        r.device.product,
        r.decision.mode,
        r.decision.rule,
        r.user
            .as_ref()
            .map(|u| format!(" user {u}"))
            .unwrap_or_default()
    );
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let dir = StateDir::new(&cli.state_dir);
    let result = match cli.command {
        Command::Enroll {
            server,
            token,
            offline_request,
            offline_answer,
        } => {
            let hostname = first_line("/proc/sys/kernel/hostname");
            let hostname = if hostname.is_empty() {
                first_line("/etc/hostname")
            } else {
                hostname
            };
            let machine_id = first_line("/etc/machine-id");
            let token = token.unwrap_or_default();
            match (server, offline_request, offline_answer) {
                (_, Some(out), _) => {
                    run::enroll_offline_request(&dir, &token, &hostname, &machine_id, &out).map(
                        |()| {
                            println!(
                                "登録申請ファイルを書き出しました / enrolment request written: {}\nmamori の「端末エージェント → スタンドアロン端末」で取り込み、返ってきたファイルを --offline-answer で読み込んでください。",
                                out.display()
                            );
                        },
                    )
                }
                (_, _, Some(answer)) => run::enroll_offline_answer(&dir, &answer, now_ms()).map(
                    |id| {
                        println!(
                            "登録しました（スタンドアロン）/ enrolled (standalone): agent #{}",
                            id.agent_id
                        );
                    },
                ),
                (server, None, None) => run::enroll(
                    &dir,
                    &server.unwrap_or_default(),
                    &token,
                    &hostname,
                    &machine_id,
                    now_ms(),
                )
                .map(|id| {
                    println!(
                        "登録しました / enrolled: agent #{} → {}",
                        id.agent_id, id.server
                    );
                }),
            }
        }
        Command::Export { out, again } => {
            Agent::open(dir, Root::new("/"), now_ms()).and_then(|mut agent| {
                // The latest inventory goes with the logs.
                agent.inventory_step(now_ms())?;
                let n = agent.export(&out, now_ms(), again)?;
                println!(
                    "{n} 件を書き出しました / {n} entries written: {}\n\
                     サーバで取り込んだら、その端末のポリシーファイルを持ち帰って import-policy で読み込むと、この端末の記録が片付きます。\n\
                     After the server takes it in, bring the PC's policy file back and run import-policy: that frees them here.",
                    out.display()
                );
                Ok(())
            })
        }
        Command::ImportPolicy { file } => {
            Agent::open(dir, Root::new("/"), now_ms()).and_then(|mut agent| {
                match agent.import_policy(&file)? {
                    Some(v) => println!("ポリシー v{v} を適用しました / policy v{v} in force"),
                    None => println!(
                        "このポリシーは適用済みか、今のものより古い版です / already in force, or older than the one in force"
                    ),
                }
                Ok(())
            })
        }
        Command::Run {
            once,
            interval,
            root,
            no_usb_control,
            sysfs,
        } => {
            let root = Root::new(root.unwrap_or_else(|| PathBuf::from("/")));
            match Agent::open(dir, root, now_ms()) {
                Err(e) => Err(e),
                Ok(agent) if !once && !no_usb_control => match start_usb_control(&agent, sysfs) {
                    Err(e) => Err(e),
                    Ok(()) => cycles(agent, false, interval),
                },
                Ok(agent) => cycles(agent, once, interval),
            }
        }
        Command::Unlock { code } => match enforce::unlock(&dir, &code, now_ms()) {
            Ok(u) => {
                println!(
                    "解除しました: これから {} 分間、USB メモリなどの記憶媒体を使えます。/ unlocked: removable storage is allowed for {} minutes.",
                    u.minutes, u.minutes
                );
                Ok(())
            }
            Err(e) => Err(e.into()),
        },
        Command::Status => match dir.identity() {
            Err(e) => Err(e.into()),
            Ok(id) => {
                println!("agent:   #{}", id.agent_id);
                if id.server.is_empty() {
                    println!("server:  none (standalone PC: logs leave by `mamori-agent export`)");
                } else {
                    println!("server:  {}", id.server);
                }
                match state::verified_policy(&dir, &id) {
                    Some((_, p)) => println!("policy:  v{} (verified)", p.version),
                    None => println!(
                        "policy:  none that verifies: everything but keyboards and mice is blocked"
                    ),
                }
                match dir.unlock() {
                    Ok(u) if u.until_ms > now_ms() => println!(
                        "unlock:  removable storage allowed for {} more minutes",
                        (u.until_ms - now_ms()).div_euclid(60_000) + 1
                    ),
                    Ok(u) if u.locked_until_ms > now_ms() => {
                        println!("unlock:  code entry locked after too many wrong codes")
                    }
                    _ => {}
                }
                match mamori_agent::spool::Spool::open(
                    &dir.spool_dir(),
                    mamori_agent::spool::Limits::default(),
                ) {
                    Ok((s, _)) => {
                        let (bytes, waiting, dropped) = s.stats();
                        println!("spool:   {waiting} waiting, {bytes} bytes, {dropped} dropped");
                        let exported = dir.exported().unwrap_or(0);
                        if exported > s.acked() {
                            println!(
                                "export:  {} entries carried in files, not yet acknowledged (a policy file from the server frees them)",
                                exported - s.acked()
                            );
                        }
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
