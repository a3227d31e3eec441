//! Project chores: `tidy` (dependency edges, module docs) and the benchmark drivers used by
//! the scripts under `bench/`.

mod bench;
mod tidy;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check dependency edges between crates and `//!` docs on every module.
    Tidy,
    /// Benchmark: argon2id hashing cost and login throughput/latency against a running server.
    BenchLogin(bench::LoginArgs),
    /// Benchmark: dashboard latency at a fixed request rate, with and without a login flood.
    BenchDashboard(bench::DashboardArgs),
    /// Benchmark: 50,000-device ledger import, export, and list latency.
    BenchLedger(bench::LedgerArgs),
    /// Benchmark: checklist export (HTML, XLSX, PDF) of a 500-device / 200-account facility.
    BenchChecklist(bench::ChecklistArgs),
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Tidy => {
            let problems = tidy::check(&tidy::root())?;
            if problems.is_empty() {
                println!("tidy: ok");
                Ok(())
            } else {
                for p in &problems {
                    eprintln!("tidy: {p}");
                }
                anyhow::bail!("{} tidy problems", problems.len())
            }
        }
        Cmd::BenchLogin(a) => bench::login(a),
        Cmd::BenchDashboard(a) => bench::dashboard(a),
        Cmd::BenchLedger(a) => bench::ledger(a),
        Cmd::BenchChecklist(a) => bench::checklist(a),
    }
}
