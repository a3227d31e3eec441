//! `mamori`: the server and admin tool.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use mamori_domain::facility::FacilityKind;
use mamori_domain::registry::RegistryKind;
use mamori_server::config::{Config, RawConfig, RawSyslog, RawTls};
use mamori_server::{
    clock::SystemClock, ensure_private_dir, for_kind, open_store, services, start,
};
use mamori_service::auth::SetupInput;
use mamori_service::{ClientInfo, Services};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "mamori",
    version,
    about = "守り mamori — 医療機関のセキュリティ管理 / security management for medical institutions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the installation lives; every command that touches the store takes these.
#[derive(Args, Clone, Default)]
struct StoreArgs {
    /// Configuration file (TOML). Default: `<data-dir>/mamori.toml` when it exists.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (database, TLS certificate). Env: MAMORI_DATA_DIR.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// PostgreSQL URL instead of the embedded SQLite. Env: MAMORI_DATABASE_URL.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

#[derive(Args, Clone, Default)]
struct ListenArgs {
    /// Address to listen on, e.g. 127.0.0.1:8443 or 0.0.0.0:443. Env: MAMORI_LISTEN.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// TLS: auto (self-signed certificate generated on first start), files, off (loopback only).
    #[arg(long, value_name = "MODE")]
    tls: Option<String>,
    /// Receive syslog over UDP, e.g. 0.0.0.0:514. Env: MAMORI_SYSLOG__UDP.
    #[arg(long, value_name = "ADDR")]
    syslog_udp: Option<String>,
    /// Receive syslog over TCP (octet counting or line ends), e.g. 0.0.0.0:601.
    #[arg(long, value_name = "ADDR")]
    syslog_tcp: Option<String>,
    /// Receive syslog over TLS (RFC 5425) with the server's certificate, e.g. 0.0.0.0:6514.
    #[arg(long, value_name = "ADDR")]
    syslog_tls: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web UI and API.
    Serve {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        listen: ListenArgs,
    },
    /// Serve a realistic sample 19-bed clinic on a throw-away (or given) data directory.
    Demo {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        listen: ListenArgs,
    },
    /// First-run setup from the command line: the facility and its first administrator.
    Setup {
        #[command(flatten)]
        store: StoreArgs,
        /// 種別: hospital, clinic, dental_clinic, pharmacy, vendor.
        #[arg(long)]
        facility_kind: Option<String>,
        /// 名称.
        #[arg(long)]
        facility_name: Option<String>,
        /// 病床数 (hospitals and clinics).
        #[arg(long)]
        beds: Option<i64>,
        /// Login id of the first administrator.
        #[arg(long)]
        admin_login: Option<String>,
        /// Display name of the first administrator.
        #[arg(long)]
        admin_name: Option<String>,
        /// File holding the administrator's password (first line). Never pass it on the command line.
        #[arg(long, value_name = "FILE")]
        admin_password_file: Option<PathBuf>,
    },
    /// Import a ledger file (CSV in UTF-8 or Shift_JIS, or XLSX). Shows what would change; all or nothing.
    Import {
        /// What the file holds: assets (機器台帳).
        kind: LedgerKind,
        file: PathBuf,
        /// Only show what would change.
        #[arg(long)]
        dry_run: bool,
        /// Mark devices missing from the file as disposed (廃棄) today.
        #[arg(long)]
        retire_missing: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Export a ledger to CSV (UTF-8 with BOM, opens in Excel) or XLSX, by the file's extension.
    Export {
        kind: LedgerKind,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The sealed log: export a bundle for an inspector (with the server stopped; while it runs,
    /// use the ログ page).
    Log {
        #[command(subcommand)]
        cmd: LogCmd,
    },
    /// Verify an exported sealed-log bundle offline (no database, no network): exit 0 when
    /// intact, 1 naming the first bad record and what is wrong.
    Verify {
        bundle: PathBuf,
        /// The facility's public key (hex, as printed on its reports); strongly recommended.
        #[arg(long, value_name = "HEX")]
        pubkey: Option<String>,
    },
    /// The inspection checklist: per item the answer, what the evidence says, and contradictions.
    Checklist {
        #[command(subcommand)]
        cmd: ChecklistCmd,
    },
    /// Check mamori's own audit trail end to end; exit 1 when it was altered.
    AuditVerify {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Sigma detection rules over Windows event logs.
    Detect {
        #[command(subcommand)]
        cmd: DetectCmd,
    },
    /// Accounts of the facility's systems: import from the directory (Active Directory / LDAP).
    Accounts {
        #[command(subcommand)]
        cmd: AccountsCmd,
    },
}

const ACCOUNTS_SYNC_HELP: &str = "\
Examples:
  mamori accounts sync ldap --url ldaps://dc01.clinic.local:636 --ca-file clinic-ca.pem \\
      --bind-dn 'CN=mamori-reader,OU=Service,DC=clinic,DC=local' --password-file reader.pass \\
      --base 'DC=clinic,DC=local' --system '院内ネットワーク（Active Directory）' --dry-run

Reads every user and group under --base (paging past the server's size limit) and the domain's
password policy, then updates the accounts of --system (a system registered in the ledger):
new accounts are added and linked to the roster by staff number (employeeNumber/employeeID),
enabled/disabled, admin rights (members of Domain Admins, Administrators, Enterprise Admins or
--admin-group, nested groups included) and last logon follow the directory, and accounts gone
from the directory are disabled. The kind, two-factor and notes set in the ledger are kept.
All or nothing: an unreachable server, a refused bind, a TLS error or a search cut short
changes nothing. The password is read from --password-file (first line) or MAMORI_LDAP_PASSWORD,
never from the command line.";

#[derive(Subcommand)]
enum AccountsCmd {
    /// Update a system's accounts from a directory.
    Sync {
        #[command(subcommand)]
        source: SyncSource,
    },
}

#[derive(Subcommand)]
enum SyncSource {
    /// Active Directory or another LDAP server.
    #[command(after_help = ACCOUNTS_SYNC_HELP)]
    Ldap {
        /// ldaps://host:636, or ldap://host:389 (with --starttls to encrypt).
        #[arg(long)]
        url: String,
        /// The DN to bind as (a read-only service account).
        #[arg(long)]
        bind_dn: String,
        /// File holding the bind password (first line). Else MAMORI_LDAP_PASSWORD.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// Where users and groups are searched (e.g. DC=clinic,DC=local).
        #[arg(long)]
        base: String,
        /// The ledger system these accounts belong to: its name or id.
        #[arg(long)]
        system: String,
        /// PEM file of the CA that signed the directory's certificate.
        #[arg(long, value_name = "FILE")]
        ca_file: Option<PathBuf>,
        /// Encrypt an ldap:// connection with StartTLS.
        #[arg(long)]
        starttls: bool,
        /// A group whose members are admins (repeatable; replaces the default AD groups).
        #[arg(long = "admin-group", value_name = "NAME")]
        admin_groups: Vec<String>,
        /// Seconds to wait for the server at each step.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
        /// Only show what would change.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

const DETECT_SCAN_HELP: &str = "\
Examples:
  mamori detect scan --rules sigma/rules/windows Security.evtx
  mamori detect scan --rules sigma/rules/windows --rules our-rules logs/ --json > hits.jsonl

One line per detection on standard output (--json: one JSON object per line: rule id, title,
level, time, host, record id, channel, event id, file, matched fields); the summary on standard
error. Rules that cannot be used are counted with their reason (DET00xx); unreadable or damaged
files are reported and skipped. Exit 0 when every file was read, 1 when one was not.";

#[derive(Subcommand)]
enum DetectCmd {
    /// Match Windows event logs (.evtx files, or folders searched for them) against Sigma rules
    /// (.yml files in the --rules folders). Nothing is stored; the server need not be stopped.
    #[command(after_help = DETECT_SCAN_HELP)]
    Scan {
        /// A folder of Sigma rules (searched recursively for .yml), or one rule file. Repeatable.
        #[arg(long = "rules", value_name = "DIR")]
        rules: Vec<PathBuf>,
        /// .evtx files, or folders searched recursively for them.
        #[arg(required = true, value_name = "FILE_OR_DIR")]
        paths: Vec<PathBuf>,
        /// One JSON object per detection per line.
        #[arg(long)]
        json: bool,
    },
}

const LOG_EXPORT_HELP: &str = "\
Examples:
  mamori log export --from 2026-11-01 --to 2026-11-30 -o 2026-11.seal     all of November (JST)
  mamori log export --from 令和8年11月1日 --to 令和8年11月1日 -o day.seal    one day
  mamori log export --from 2026-11-01T09:00 --to 2026-11-01T17:30 -o shift.seal
  mamori log export --from-index 1000 --to-index 2000 -o part.seal        records 1000..1999

Times are Japan time (+09:00) unless an offset is given (2026-11-01T00:00:00Z). --to is
inclusive: a date runs through the end of that day, a time through the end of that minute (or
second). Every bundle, from the middle of the log too, verifies with
`mamori verify FILE --pubkey KEY`. Nothing is written when a flag is wrong or the range is empty.";

#[derive(Subcommand)]
enum LogCmd {
    /// Write sealed records, with the signed heads and the public key, to a bundle for
    /// `mamori verify`: the records received in a period (--from/--to, Japan time) or a range of
    /// record numbers (--from-index/--to-index). Without either, everything sealed.
    #[command(after_help = LOG_EXPORT_HELP)]
    Export {
        /// Start of the period: a date (2026-11-01, 2026/11/1, 令和8年11月1日) or a date and
        /// time (2026-11-01T09:00, 2026-11-01 09:00:30, RFC 3339), JST unless an offset is given.
        #[arg(long, value_name = "WHEN", conflicts_with_all = ["from_index", "to_index"])]
        from: Option<String>,
        /// End of the period, inclusive: a date means through the end of that day (24:00 JST).
        #[arg(long, value_name = "WHEN", conflicts_with_all = ["from_index", "to_index"])]
        to: Option<String>,
        /// First record number (0-based), instead of a period.
        #[arg(long, value_name = "N")]
        from_index: Option<u64>,
        /// One past the last record number (default: everything sealed).
        #[arg(long, value_name = "N")]
        to_index: Option<u64>,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Import log files into the sealed event log and the search index: Windows event logs
    /// (.evtx), JSON lines from a forwarder (.jsonl), syslog text (one message per line), or an
    /// EHR / レセコン access-log CSV read through a mapping profile (--profile). Every event is
    /// sealed before it counts as imported; unreadable records are counted and shown, never
    /// fatal to their neighbours. Runs with the server stopped.
    Ingest {
        /// The files to import.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// evtx, jsonl, syslog or csv (default: from each file's first bytes, then its
        /// extension; csv when --profile is given).
        #[arg(long)]
        format: Option<String>,
        /// The access-log CSV profile (取込設定) by name: generic, karte-split-date,
        /// rececon-tsv, or one made on the ログ → アクセスログの取込設定 page.
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
        /// Name of the source the events are filed under (default: the file's name).
        #[arg(long)]
        source: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Search collected events, newest first: who did what to which record, when.
    /// `--json` prints one JSON object per event per line.
    Search {
        /// The account that acted.
        #[arg(long)]
        actor: Option<String>,
        /// The patient id (or other object: file, device, account) acted on.
        #[arg(long, alias = "object")]
        patient: Option<String>,
        #[arg(long)]
        host: Option<String>,
        /// The source it came from: syslog/ADDRESS, a forwarder's name, a file's name.
        #[arg(long)]
        source: Option<String>,
        /// Action code: logon, logon_failed, record_viewed … (see ARCHITECTURE.md).
        #[arg(long)]
        action: Option<String>,
        /// Start of the period (JST; dates, date-times, 和暦 as for `log export`).
        #[arg(long, value_name = "WHEN")]
        from: Option<String>,
        /// End of the period, inclusive (a date runs through its end).
        #[arg(long, value_name = "WHEN")]
        to: Option<String>,
        /// Words the message must contain.
        #[arg(long)]
        text: Option<String>,
        /// At most this many events (1–10000).
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Which checklist form: the facility's current one unless given.
#[derive(Args, Clone, Default)]
struct FormArgs {
    /// Edition of the form: R7, R6 … (default: the newest for the fiscal year).
    #[arg(long)]
    edition: Option<String>,
    /// hospital (医療機関確認用), pharmacy (薬局確認用) or vendor (事業者確認用).
    #[arg(long)]
    variant: Option<String>,
    /// Fiscal year (年度), e.g. 2025 for 令和7年度 (default: the current one).
    #[arg(long)]
    fiscal_year: Option<i32>,
    /// The vendor form (事業者確認用) of this system: its id in the systems ledger.
    #[arg(long)]
    system: Option<i64>,
}

#[derive(Subcommand)]
enum ChecklistCmd {
    /// Per item: answer, evidence verdict, flags. `--json` prints one JSON document. Exit 1 when
    /// an answer of はい is contradicted by the evidence.
    Status {
        #[command(flatten)]
        form: FormArgs,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Write the form for the inspection: HTML (print), XLSX or PDF (with a Japanese font
    /// embedded; `reports.font_file` or the system's IPAex / Noto CJK / Yu Gothic …).
    Export {
        #[command(flatten)]
        form: FormArgs,
        /// html, xlsx or pdf (default: from the output file's extension).
        #[arg(long)]
        format: Option<String>,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        /// Language of the form: ja (default) or en.
        #[arg(long, default_value = "ja")]
        lang: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Which records `mamori log export` writes.
enum ExportChoice {
    Period(mamori_domain::period::Period),
    Index { from: u64, to: Option<u64> },
}

/// `CODE flag: message (detail)` in Japanese and English, from the catalog.
fn flag_error(code: &str, flag: &str, detail_ja: &str, detail_en: &str) -> anyhow::Error {
    use mamori_catalog::{Lang, tr};
    let key = format!("error.{code}");
    anyhow::anyhow!(
        "{code} {flag}: {} {detail_ja} / {} {detail_en}",
        tr(Lang::Ja, &key),
        tr(Lang::En, &key)
    )
}

impl ExportChoice {
    /// Reads the flags; a wrong one is an error that names it.
    fn parse(
        from: Option<String>,
        to: Option<String>,
        from_index: Option<u64>,
        to_index: Option<u64>,
    ) -> Result<ExportChoice> {
        use mamori_domain::period::{PeriodError, parse_period};
        if from_index.is_some() || to_index.is_some() {
            let from = from_index.unwrap_or(0);
            if let Some(to) = to_index {
                if from > to {
                    return Err(flag_error("SEA0004", "--from-index/--to-index", "", ""));
                }
                if from == to {
                    return Err(flag_error("SEA0005", "--from-index/--to-index", "", ""));
                }
            }
            return Ok(ExportChoice::Index { from, to: to_index });
        }
        let hint = |flag: &str, e: mamori_domain::period::MomentError| {
            let plain_number = e.code() == "DATE0001";
            let (ja, en) = if plain_number {
                (
                    format!(
                        "（{}。記録番号で指定するときは {flag}-index）",
                        e.message_ja()
                    ),
                    format!("({}; for record numbers use {flag}-index)", e.message_en()),
                )
            } else {
                (
                    format!("（{} {}）", e.code(), e.message_ja()),
                    format!("({} {})", e.code(), e.message_en()),
                )
            };
            flag_error("SEA0003", flag, &ja, &en)
        };
        match parse_period(from.as_deref(), to.as_deref()) {
            Ok(p) => Ok(ExportChoice::Period(p)),
            Err(PeriodError::From(e)) => Err(hint("--from", e)),
            Err(PeriodError::To(e)) => Err(hint("--to", e)),
            Err(PeriodError::Reversed) => Err(flag_error("SEA0004", "--from/--to", "", "")),
        }
    }
}

/// Ledgers that can be imported and exported (the registries of the ledger).
#[derive(Clone, Copy, clap::ValueEnum)]
enum LedgerKind {
    Assets,
    Systems,
    Persons,
    Accounts,
    Vendors,
    Contacts,
    #[value(name = "remote_points")]
    RemotePoints,
    #[value(name = "vendor_documents")]
    VendorDocuments,
    Documents,
}

impl LedgerKind {
    fn registry(self) -> RegistryKind {
        match self {
            LedgerKind::Assets => RegistryKind::Asset,
            LedgerKind::Systems => RegistryKind::System,
            LedgerKind::Persons => RegistryKind::Person,
            LedgerKind::Accounts => RegistryKind::Account,
            LedgerKind::Vendors => RegistryKind::Vendor,
            LedgerKind::Contacts => RegistryKind::Contact,
            LedgerKind::RemotePoints => RegistryKind::RemotePoint,
            LedgerKind::VendorDocuments => RegistryKind::VendorDocument,
            LedgerKind::Documents => RegistryKind::Document,
        }
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("mamori-data")
}

/// Layers defaults → file → environment → flags into a validated config.
fn load_config(store: &StoreArgs, listen: &ListenArgs, default_dir: &Path) -> Result<Config> {
    let env = RawConfig::from_env(std::env::vars())?;
    let flags = RawConfig {
        listen: listen.listen.clone(),
        data_dir: store.data_dir.clone(),
        database_url: store.database_url.clone(),
        tls: RawTls {
            mode: listen.tls.clone(),
            ..Default::default()
        },
        syslog: RawSyslog {
            udp: listen.syslog_udp.clone(),
            tcp: listen.syslog_tcp.clone(),
            tls: listen.syslog_tls.clone(),
            clock_tolerance_seconds: None,
        },
        ..Default::default()
    };
    // The file is found from the flags/env data dir before the file itself is read.
    let dir = flags
        .data_dir
        .clone()
        .or_else(|| env.data_dir.clone())
        .unwrap_or_else(|| default_dir.to_path_buf());
    let file_path = store
        .config
        .clone()
        .or_else(|| std::env::var_os("MAMORI_CONFIG").map(PathBuf::from))
        .or_else(|| Some(dir.join("mamori.toml")).filter(|p| p.exists()));
    let file = match file_path {
        Some(p) => RawConfig::from_file(&p)?,
        None => RawConfig::default(),
    };
    let cfg = RawConfig::default()
        .merge(file)
        .merge(env)
        .merge(flags)
        .validate(&dir)?;
    Ok(cfg)
}

fn init_tracing(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Opens the installation for a one-shot command (no sealing: the server seals).
async fn open(cfg: &Config) -> Result<Services> {
    ensure_private_dir(&cfg.data_dir)?;
    let store = open_store(cfg).await?;
    services(cfg, store, Arc::new(SystemClock), false)
}

/// Opens the installation for serving (sealing the audit trail).
async fn open_for_serving(cfg: &Config) -> Result<Services> {
    ensure_private_dir(&cfg.data_dir)?;
    let store = open_store(cfg).await?;
    services(cfg, store, Arc::new(SystemClock), true)
}

async fn wait_for_signal(handle: axum_server::Handle<std::net::SocketAddr>) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    handle.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutting down");
    handle.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
}

async fn serve(store: StoreArgs, listen: ListenArgs) -> Result<()> {
    let cfg = load_config(&store, &listen, &default_data_dir())?;
    init_tracing(&cfg.log);
    let svc = open_for_serving(&cfg).await?;
    let server = start(&cfg, svc.clone()).await?;
    if !svc.is_set_up().await? {
        tracing::warn!(
            "not set up yet: open {}setup or run `mamori setup`",
            server.url
        );
    }
    println!("URL: {}", server.url);
    print_syslog(&mut std::io::stdout().lock(), &server.syslog)?;
    tokio::spawn(wait_for_signal(server.handle()));
    server.wait().await?;
    svc.store.close().await;
    Ok(())
}

/// A long random password that meets the policy without two-factor.
fn demo_password() -> String {
    use rand::Rng;
    const A: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    let mut part = || -> String {
        (0..5)
            .map(|_| {
                A.get(rng.gen_range(0..A.len()))
                    .map(|b| *b as char)
                    .unwrap_or('x')
            })
            .collect()
    };
    format!("Demo-{}-{}-{}", part(), part(), part())
}

async fn demo(store: StoreArgs, listen: ListenArgs) -> Result<()> {
    // Without --data-dir the demo lives in a temporary directory removed at exit.
    let temp;
    let mut store = store;
    let keep = store.data_dir.is_some() || std::env::var_os("MAMORI_DATA_DIR").is_some();
    if !keep {
        temp = tempfile::Builder::new().prefix("mamori-demo-").tempdir()?;
        store.data_dir = Some(temp.path().to_path_buf());
    }
    let cfg = load_config(&store, &listen, &default_data_dir())?;
    init_tracing(&cfg.log);
    let svc = open_for_serving(&cfg).await?;
    let login_file = cfg.data_dir.join("demo-login.txt");
    let (login, password, secret) = if svc.is_set_up().await? {
        let text = std::fs::read_to_string(&login_file).with_context(|| {
            format!(
                "{} is already set up but has no {}; use an empty directory for the demo",
                cfg.data_dir.display(),
                login_file.display()
            )
        })?;
        let mut it = text.lines().map(|l| {
            l.split_once(": ")
                .map(|x| x.1.to_string())
                .unwrap_or_default()
        });
        let (Some(l), Some(p), Some(t)) = (it.next(), it.next(), it.next()) else {
            bail!("{} is damaged", login_file.display());
        };
        (l, p, t)
    } else {
        eprintln!("サンプル施設を作成しています… / creating the sample facility…");
        let today = svc.clock.today();
        let demo = mamori_service::demo::demo_facility(today, 20_251_001);
        let d = svc.seed_demo(&demo, &demo_password()).await?;
        // The EHR's access log of the last 30 days, so that 収集ログの検索 can answer who
        // opened a patient's record.
        let events = svc.seed_demo_access_log(&demo, 20_251_001).await?;
        eprintln!(
            "電子カルテのアクセスログ {events} 件を取り込みました / {events} EHR access-log events taken in"
        );
        if svc.events.is_some() {
            svc.seed_demo_logs(20_251_001).await?;
            // The agents' USB decisions and files written to media (a mass copy among them).
            let backup_stick = demo
                .assets
                .iter()
                .filter(|a| a.class == mamori_domain::ledger::AssetClass::RemovableMedia)
                .nth(1)
                .map(|a| a.serial.clone())
                .unwrap_or_default();
            svc.seed_demo_agent_events(&backup_stick).await?;
            // The week's incidents become alerts before the first page is opened.
            let mut det = mamori_service::detection::Detector::new(None, cfg.clock_tolerance_ms);
            let round = svc.detect_pending(&mut det).await?;
            let opened = round.raised.opened;
            eprintln!(
                "検知ルールでアラート {opened} 件を発生させました / {opened} alerts raised by the detection rules"
            );
            // One of them already taken up as an incident, as a facility would have.
            svc.seed_demo_incident().await?;
        }
        mamori_server::tls::write_private(
            &login_file,
            format!(
                "LOGIN: {}\nPASSWORD: {}\nTOTP: {}\n",
                d.login_id, d.password, d.totp_secret
            )
            .as_bytes(),
        )?;
        (d.login_id, d.password, d.totp_secret)
    };
    let server = start(&cfg, svc.clone()).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "URL: {}", server.url)?;
    writeln!(out, "LOGIN: {login} {password}")?;
    writeln!(out, "TOTP: {secret}")?;
    print_syslog(&mut out, &server.syslog)?;
    out.flush()?;
    drop(out);
    eprintln!(
        "デモを停止するには Ctrl+C / press Ctrl+C to stop. data: {}",
        cfg.data_dir.display()
    );
    tokio::spawn(wait_for_signal(server.handle()));
    server.wait().await?;
    svc.store.close().await;
    Ok(())
}

/// One line per syslog listener, e.g. `SYSLOG-TCP: 0.0.0.0:601` (scripts read these).
fn print_syslog(out: &mut impl Write, bound: &mamori_server::collect::SyslogBound) -> Result<()> {
    for (name, addr) in [("UDP", bound.udp), ("TCP", bound.tcp), ("TLS", bound.tls)] {
        if let Some(a) = addr {
            writeln!(out, "SYSLOG-{name}: {a}")?;
        }
    }
    Ok(())
}

fn ask(prompt: &str) -> Result<String> {
    eprint!("{prompt}: ");
    std::io::stderr().flush()?;
    let mut s = String::new();
    std::io::stdin().read_line(&mut s)?;
    Ok(s.trim().to_string())
}

#[allow(clippy::too_many_arguments)]
async fn setup(
    store: StoreArgs,
    kind: Option<String>,
    name: Option<String>,
    beds: Option<i64>,
    login: Option<String>,
    admin_name: Option<String>,
    password_file: Option<PathBuf>,
) -> Result<()> {
    let cfg = load_config(&store, &ListenArgs::default(), &default_data_dir())?;
    init_tracing(&cfg.log);
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdin());
    let need = |v: Option<String>, prompt: &str, flag: &str| -> Result<String> {
        match v {
            Some(v) => Ok(v),
            None if interactive => ask(prompt),
            None => bail!("--{flag} is required when not running interactively"),
        }
    };
    let kind_text = need(
        kind,
        "種別 / kind (hospital, clinic, dental_clinic, pharmacy, vendor)",
        "facility-kind",
    )?;
    let kind = FacilityKind::parse(&kind_text)
        .with_context(|| format!("--facility-kind: `{kind_text}` is not one of hospital, clinic, dental_clinic, pharmacy, vendor"))?;
    let name = need(name, "名称 / facility name", "facility-name")?;
    let login = need(login, "管理者ID / administrator login id", "admin-login")?;
    let admin_name = need(admin_name, "管理者氏名 / administrator name", "admin-name")?;
    let password = match password_file {
        Some(f) => std::fs::read_to_string(&f)
            .with_context(|| format!("--admin-password-file {}", f.display()))?
            .lines()
            .next()
            .unwrap_or("")
            .to_string(),
        None if interactive => {
            let p = rpassword::prompt_password("パスワード / password: ")?;
            let c = rpassword::prompt_password("確認 / confirm: ")?;
            if p != c {
                bail!("パスワードが一致しません / passwords do not match");
            }
            p
        }
        None => bail!("--admin-password-file is required when not running interactively"),
    };
    let svc = open(&cfg).await?;
    let input = SetupInput {
        kind,
        facility_name: name,
        beds,
        admin_login: login.clone(),
        admin_name,
        admin_password: password,
    };
    match svc
        .setup(&input, &ClientInfo::new("local", "mamori setup"))
        .await
    {
        Ok(_) => {
            println!(
                "セットアップが完了しました / setup complete. 管理者 / administrator: {login}"
            );
            println!(
                "初回ログイン時に二要素認証を登録します / two-factor enrolment follows at first login."
            );
            svc.store.close().await;
            Ok(())
        }
        Err(e) => {
            svc.store.close().await;
            let msg = mamori_catalog::tr(mamori_catalog::Lang::Ja, &format!("error.{}", e.code()))
                .to_string();
            let field = e.field().map(|f| format!(" [{f}]")).unwrap_or_default();
            bail!("{} {msg}{field} ({e})", e.code())
        }
    }
}

fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "operator".into())
}

async fn import(
    kind: LedgerKind,
    file: PathBuf,
    dry_run: bool,
    retire_missing: bool,
    store: StoreArgs,
) -> Result<bool> {
    let cfg = load_config(&store, &ListenArgs::default(), &default_data_dir())?;
    init_tracing("warn");
    let started = std::time::Instant::now();
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    eprintln!(
        "読み込み中 / reading {} ({} KB)…",
        file.display(),
        bytes.len() / 1024
    );
    let name = file.file_name().and_then(|n| n.to_str());
    let table = match mamori_ingest::read_table(&bytes, name) {
        Ok(t) => t,
        Err(e) => {
            let at = match (e.line(), e.column()) {
                (Some(l), Some(c)) => format!("{l}行目 {c}列: "),
                (Some(l), None) => format!("{l}行目: "),
                _ => String::new(),
            };
            eprintln!("{} {at}{}", e.code(), e.message_ja());
            return Ok(false);
        }
    };
    eprintln!("検証中 / checking {} rows…", table.rows.len());
    let svc = open(&cfg).await?;
    let actor = mamori_service::Actor::local(&os_user());
    let cap = actor.can::<mamori_service::perm::EditLedger>()?;
    let opts = mamori_service::import::ImportOptions {
        dry_run,
        retire_missing,
    };
    let client = ClientInfo::new("local", "mamori import");
    let lang = mamori_catalog::Lang::Ja;
    let report = for_kind!(kind.registry(), R => svc.import_records::<R>(&cap, &table, opts, lang, &client).await)?;
    svc.store.close().await;
    for d in &report.errors {
        let col = d
            .column
            .as_deref()
            .map(|c| format!(" {c}"))
            .unwrap_or_default();
        println!("{}行目{col}: {} {}", d.line, d.code, d.message_ja);
    }
    println!(
        "新規 new: {}  変更 changed: {}  変更なし unchanged: {}  ファイルにない missing: {}  エラー errors: {}",
        report.new.len(),
        report.changed.len(),
        report.unchanged,
        report.missing.len(),
        report.errors.len()
    );
    for (line, tag, changes) in report.changed.iter().take(20) {
        let fields: Vec<String> = changes
            .iter()
            .map(|(f, b, a)| format!("{f}: {b} → {a}"))
            .collect();
        println!("  {line}行目 {tag}: {}", fields.join(", "));
    }
    if report.changed.len() > 20 {
        println!("  … {} more", report.changed.len() - 20);
    }
    if !report.errors.is_empty() {
        println!("エラーがあるため取り込んでいません / nothing was imported because of errors");
        return Ok(false);
    }
    if report.committed {
        println!(
            "取り込みました / imported in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    } else {
        println!("確認のみ（--dry-run）: 何も変更していません / dry run: nothing changed");
    }
    Ok(true)
}

async fn export(kind: LedgerKind, output: PathBuf, store: StoreArgs) -> Result<bool> {
    let cfg = load_config(&store, &ListenArgs::default(), &default_data_dir())?;
    init_tracing("warn");
    let svc = open(&cfg).await?;
    let actor = mamori_service::Actor::local(&os_user());
    let cap = actor.can::<mamori_service::perm::ViewLedger>()?;
    let lang = mamori_catalog::Lang::Ja;
    let table = for_kind!(kind.registry(), R => svc.record_table::<R>(&cap, lang).await)?;
    let sheet_key = format!("registry.{}", kind.registry().plural());
    let sheet = mamori_catalog::tr(lang, &sheet_key);
    svc.store.close().await;
    let xlsx = output
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    let bytes = if xlsx {
        mamori_reports::table::xlsx(sheet, &table.headers, &table.rows)?
    } else {
        mamori_reports::table::csv(&table.headers, &table.rows)
    };
    // Write next to the target and rename, so a crash never leaves half a file.
    let tmp = output.with_extension("partial");
    std::fs::write(&tmp, &bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &output).with_context(|| format!("writing {}", output.display()))?;
    eprintln!("{} rows → {}", table.rows.len(), output.display());
    Ok(true)
}

/// `mamori log ingest`: decode each file, seal and index its events, say what was read.
async fn log_ingest(
    files: Vec<PathBuf>,
    format: Option<String>,
    profile: Option<String>,
    source: Option<String>,
    store: StoreArgs,
) -> Result<bool> {
    use mamori_service::logs::{LogFormat, decode_file};
    let forced = match format.as_deref() {
        None => None,
        Some(f) => Some(LogFormat::parse(f).ok_or_else(|| {
            flag_error(
                "LOG0021",
                "--format",
                &format!("（{f}）"),
                &format!("({f})"),
            )
        })?),
    };
    // A profile means CSV.
    let forced = match (forced, &profile) {
        (None, Some(_)) => Some(LogFormat::Csv),
        (Some(f), Some(_)) if f != LogFormat::Csv => {
            return Err(flag_error("LOG0024", "--profile", "", ""));
        }
        (f, _) => f,
    };
    let cfg = load_config(&store, &ListenArgs::default(), &default_data_dir())?;
    init_tracing("warn");
    ensure_private_dir(&cfg.data_dir)?;
    let db = open_store(&cfg).await?;
    let svc = match services(&cfg, db, Arc::new(SystemClock), true) {
        Ok(s) => s,
        Err(e) if e.to_string().contains("SEA0002") => bail!(
            "SEA0002 サーバが稼働中です。サーバを止めてから実行してください / the server is running: stop it first"
        ),
        Err(e) => return Err(e),
    };
    let actor = format!("local:{}", os_user());
    let client = mamori_service::ClientInfo {
        source: "local".into(),
        user_agent: "mamori log ingest".into(),
    };
    let mut all_ok = true;
    let outcome: Result<()> = async {
        let csv_profile = match &profile {
            None => None,
            Some(name) => {
                let local = mamori_service::Actor::local(&os_user());
                let cap = local.can::<mamori_service::perm::ViewLogs>()?;
                match svc.csv_profile(&cap, name).await {
                    Ok(entry) => Some(entry.profile),
                    Err(mamori_service::ServiceError::NotFound) => {
                        let names: Vec<String> = svc
                            .csv_profiles(&cap)
                            .await?
                            .into_iter()
                            .map(|e| e.profile.name)
                            .collect();
                        return Err(flag_error(
                            "LOG0023",
                            "--profile",
                            &format!("（{name}。使える設定: {}）", names.join(", ")),
                            &format!("({name}; available: {})", names.join(", ")),
                        ));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        svc.catch_up_event_index().await?;
        for path in &files {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let Some(fmt) = forced.or_else(|| LogFormat::detect(&name, &bytes)) else {
                eprintln!(
                    "{}: LOG0021 形式が分かりません。--format evtx|jsonl|syslog|csv を指定してください / unknown format: give --format",
                    path.display()
                );
                all_ok = false;
                continue;
            };
            let now = mamori_service::Clock::now_ms(&SystemClock);
            let decoded = match decode_file(fmt, &bytes, now, "local", csv_profile.as_ref()) {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("{}: {} {}", path.display(), e.code(), e.message_ja());
                    all_ok = false;
                    continue;
                }
            };
            let source = source.clone().unwrap_or_else(|| name.clone());
            let total = decoded.events.len();
            let receipt = svc
                .ingest_events(&actor, &source, &decoded.events, &client, |done| {
                    eprint!("\r{}: {done} / {total} 件を封印・索引", path.display());
                })
                .await?;
            svc.note_rejected(&source, decoded.bad as u64, &decoded.examples)
                .await?;
            eprintln!();
            println!(
                "{}: {} 件を取り込みました（封印記録 #{}–#{}）、読めなかった記録 {} 件 / {} events imported, {} unreadable",
                path.display(),
                receipt.accepted,
                receipt.first,
                receipt.end.saturating_sub(1),
                decoded.bad,
                receipt.accepted,
                decoded.bad
            );
            for ex in &decoded.examples {
                println!("  {ex}");
            }
        }
        svc.seal_pending().await?;
        Ok(())
    }
    .await;
    let now = mamori_service::Clock::now_ms(&SystemClock);
    for sealer in [svc.sealer.clone(), svc.events.clone()]
        .into_iter()
        .flatten()
    {
        sealer.close(now)?;
    }
    outcome?;
    Ok(all_ok)
}

/// Files under `path` (or `path` itself) whose extension is one of `exts`, sorted; unreadable
/// folders are skipped.
/// `CODE message` in Japanese and English from the catalog, with a detail appended.
/// A field's name as people read it ("パスワード最小文字数 Password minimum length"), from its
/// catalog section; the key itself when the catalog has none.
fn field_label(section: &str, field: &str) -> String {
    use mamori_catalog::{Lang, messages::has, tr};
    let key = format!("{section}.{field}");
    if has(&key) {
        format!("{} {}", tr(Lang::Ja, &key), tr(Lang::En, &key))
    } else {
        field.to_string()
    }
}

fn coded(code: &str, detail: &str) -> String {
    use mamori_catalog::{Lang, tr};
    let key = format!("error.{code}");
    format!(
        "{code} {} / {}{}",
        tr(Lang::Ja, &key),
        tr(Lang::En, &key),
        if detail.is_empty() {
            String::new()
        } else {
            format!(" ({detail})")
        }
    )
}

/// A catalog text with placeholders, Japanese / English.
fn both(key: &str, args: &[(&str, &str)]) -> String {
    use mamori_catalog::{Lang, messages::fill, tr};
    format!(
        "{} / {}",
        fill(tr(Lang::Ja, key), args),
        fill(tr(Lang::En, key), args)
    )
}

/// Shortens a value for the one-line listing.
fn clip(s: &str, chars: usize) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() > chars {
        let cut: String = one_line.chars().take(chars).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}

/// An RFC 3339 time (as `.evtx` records give it) in Unix ms.
fn rfc3339_ms(t: &str) -> Option<i64> {
    let at = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

/// `mamori detect scan`: load the rules, read each .evtx file, print every detection.
fn detect_scan(rule_paths: Vec<PathBuf>, paths: Vec<PathBuf>, json: bool) -> Result<bool> {
    use mamori_detect::{RecordEvent, WindowsRecord};
    use std::io::IsTerminal;
    if rule_paths.is_empty() {
        bail!("{}", coded("DET0020", ""));
    }
    let started = std::time::Instant::now();
    let (set, failures) = mamori_server::rules::load(&rule_paths);
    let mut read_failures = failures.len();
    for f in &failures {
        let detail = if f.error.is_empty() {
            "no .yml"
        } else {
            f.error.as_str()
        };
        eprintln!("{}: {}", f.path.display(), coded("DET0022", detail));
    }
    let loaded = set.rules().len() + set.correlations().len();
    let refused = set.refused();
    eprintln!(
        "{}",
        both(
            "detect.rules",
            &[
                ("loaded", &loaded.to_string()),
                ("refused", &refused.len().to_string()),
                (
                    "seconds",
                    &format!("{:.2}", started.elapsed().as_secs_f64())
                )
            ]
        )
    );
    let mut groups: std::collections::BTreeMap<&str, Vec<&mamori_detect::Refused>> =
        Default::default();
    for r in refused {
        groups.entry(r.reason.code()).or_default().push(r);
    }
    for (code, list) in &groups {
        let first = list.first().map(|r| format!("{}: {}", r.origin, r.reason));
        eprintln!(
            "  {} × {} — {}",
            coded(code, ""),
            list.len(),
            first.unwrap_or_default()
        );
    }
    if loaded == 0 {
        bail!("{}", coded("DET0021", ""));
    }

    let mut evtx_files = Vec::new();
    for p in &paths {
        let before = evtx_files.len();
        mamori_server::rules::find_files(p, &["evtx"], &mut evtx_files);
        if evtx_files.len() == before {
            eprintln!(
                "{}",
                both("detect.no_files", &[("path", &p.display().to_string())])
            );
            read_failures += 1;
        }
    }
    let progress = std::io::stderr().is_terminal();
    // Lines go out as they come on a terminal; into a file or a pipe, in blocks (thousands of
    // detections would otherwise cost a write each).
    let stdout = std::io::stdout();
    let mut out: Box<dyn Write> = if stdout.is_terminal() {
        Box::new(stdout.lock())
    } else {
        Box::new(std::io::BufWriter::with_capacity(1 << 16, stdout.lock()))
    };
    let mut correlator = mamori_detect::Correlator::new(&set);
    let mut correlations = 0usize;
    let (mut events, mut bad_records, mut detections, mut bad_files) =
        (0usize, 0usize, 0usize, 0usize);
    for path in &evtx_files {
        let shown = path.display().to_string();
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{shown}: {}", coded("DET0022", &e.to_string()));
                bad_files += 1;
                continue;
            }
        };
        let mut failed: Option<std::io::Error> = None;
        let mut done = 0usize;
        let outcome = mamori_ingest::read_evtx_records(&bytes, &Default::default(), |record| {
            if failed.is_some() {
                return Ok(());
            }
            if progress && done.is_multiple_of(1000) {
                eprint!(
                    "\r{}",
                    both(
                        "detect.progress",
                        &[("file", &shown), ("done", &done.to_string())]
                    )
                );
            }
            done += 1;
            let ev = RecordEvent::parse(record.as_bytes()).map_err(|e| e.to_string())?;
            let found = set.scan(&ev);
            let at = ev.time().as_deref().and_then(rfc3339_ms).unwrap_or(0);
            let hits = correlator.feed(&set, &ev, at, &found);
            let write = || -> std::io::Result<()> {
                for d in found.into_iter().filter(|d| !d.silent) {
                    detections += 1;
                    if progress {
                        eprint!("\r\x1b[K");
                    }
                    if json {
                        let mut fields = serde_json::Map::new();
                        for (k, v) in &d.fields {
                            match fields.get_mut(k) {
                                Some(serde_json::Value::Array(a)) => a.push(v.clone().into()),
                                Some(prev) => {
                                    let first = prev.take();
                                    *prev = serde_json::Value::Array(vec![first, v.clone().into()]);
                                }
                                None => {
                                    fields.insert(k.clone(), v.clone().into());
                                }
                            }
                        }
                        let line = serde_json::json!({
                            "rule_id": d.rule.id,
                            "title": d.rule.title,
                            "level": d.rule.level,
                            "time": ev.time(),
                            "host": ev.computer(),
                            "record_id": ev.record_id(),
                            "channel": ev.channel(),
                            "event_id": ev.event_id(),
                            "file": shown,
                            "fields": fields,
                        });
                        writeln!(out, "{line}")?;
                    } else {
                        let fields: Vec<String> = d
                            .fields
                            .iter()
                            .map(|(k, v)| format!("{k}={}", clip(v, 120)))
                            .collect();
                        writeln!(
                            out,
                            "{}  {:<13} {}  {} {} #{}  {} [{}]  {}",
                            ev.time().as_deref().unwrap_or("-"),
                            d.rule.level,
                            ev.computer().as_deref().unwrap_or("-"),
                            ev.channel().as_deref().unwrap_or("-"),
                            ev.event_id()
                                .map_or_else(|| "-".to_string(), |i| i.to_string()),
                            ev.record_id()
                                .map_or_else(|| "-".to_string(), |i| i.to_string()),
                            d.rule.title,
                            d.rule.id,
                            fields.join("  ")
                        )?;
                    }
                }
                for h in hits {
                    correlations += 1;
                    if progress {
                        eprint!("\r\x1b[K");
                    }
                    let c = h.correlation;
                    let first = mamori_server::web::views::fmt_ms_seconds(h.first_ms);
                    let last = mamori_server::web::views::fmt_ms_seconds(h.last_ms);
                    if json {
                        let group: serde_json::Map<String, serde_json::Value> = h
                            .group
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone().into()))
                            .collect();
                        let line = serde_json::json!({
                            "correlation_id": c.id,
                            "title": c.title,
                            "level": c.level,
                            "type": format!("{:?}", c.kind),
                            "group": group,
                            "count": h.count,
                            "first": first,
                            "last": last,
                            "file": shown,
                        });
                        writeln!(out, "{line}")?;
                    } else {
                        let group: Vec<String> =
                            h.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        writeln!(
                            out,
                            "{first}–{last}  {:<13} {} [{}]  {} × {}",
                            c.level,
                            c.title,
                            c.id,
                            h.count,
                            group.join("  ")
                        )?;
                    }
                }
                Ok(())
            };
            if let Err(e) = write() {
                failed = Some(e);
            }
            Ok(())
        });
        if let Some(e) = failed {
            return Err(e.into());
        }
        match outcome {
            Ok(c) => {
                events += c.records;
                bad_records += c.bad_records;
                for ex in &c.examples {
                    eprintln!("{shown}: {ex}");
                }
            }
            Err(e) => {
                eprintln!("{shown}: {} {} / {}", e.code(), e.message_ja(), e);
                bad_files += 1;
            }
        }
        if progress {
            eprint!("\r\x1b[K");
        }
    }
    out.flush()?;
    eprintln!(
        "{}",
        both(
            "detect.summary",
            &[
                ("files", &evtx_files.len().to_string()),
                ("bad_files", &bad_files.to_string()),
                ("events", &events.to_string()),
                ("bad_records", &bad_records.to_string()),
                ("detections", &detections.to_string()),
                ("correlations", &correlations.to_string()),
                (
                    "seconds",
                    &format!("{:.1}", started.elapsed().as_secs_f64())
                ),
            ]
        )
    );
    Ok(bad_files == 0 && read_failures == 0)
}

/// `mamori accounts sync ldap`: read the directory, then apply it to one system, all or nothing.
async fn accounts_sync(source: SyncSource) -> Result<bool> {
    let SyncSource::Ldap {
        url,
        bind_dn,
        password_file,
        base,
        system,
        ca_file,
        starttls,
        admin_groups,
        timeout,
        dry_run,
        store,
    } = source;
    let password = match &password_file {
        Some(f) => std::fs::read_to_string(f)
            .map_err(|e| flag_error("DIR0009", "--password-file", &e.to_string(), &e.to_string()))?
            .lines()
            .next()
            .unwrap_or("")
            .to_string(),
        None => std::env::var("MAMORI_LDAP_PASSWORD").unwrap_or_default(),
    };
    if password.is_empty() {
        bail!("{}", coded("DIR0009", ""));
    }
    let cfg = load_config(&store, &ListenArgs::default(), &default_data_dir())?;
    init_tracing("warn");
    let svc = open(&cfg).await?;
    let system_id = match mamori_server::directory::find_system(&svc, &system).await {
        Ok(id) => id,
        Err(f) => {
            svc.store.close().await;
            bail!("{}", coded(f.code, &format!("--system {}", f.detail)));
        }
    };
    let src = mamori_server::directory::LdapSource {
        url,
        bind_dn,
        password,
        base,
        ca_file,
        starttls,
        timeout: std::time::Duration::from_secs(timeout.max(1)),
    };
    eprintln!("読み込み中 / reading {}…", src.url);
    let started = std::time::Instant::now();
    let mut progress = |n: usize| eprint!("\r{n} 件 / entries…");
    let snapshot = match mamori_server::directory::read(&src, &mut progress).await {
        Ok(s) => s,
        Err(e) => {
            // On record beside the syncs that worked (the directory page, the audit trail).
            let recorded = svc
                .record_directory_failure(&system, "cli", e.code(), &e.to_string())
                .await;
            svc.store.close().await;
            recorded?;
            bail!("{}", coded(e.code(), &e.to_string()));
        }
    };
    eprintln!(
        "\rユーザー {} 件、グループ {} 件を読み込み（{:.1} 秒） / {} users, {} groups read ({:.1} s)",
        snapshot.users.len(),
        snapshot.groups.len(),
        started.elapsed().as_secs_f64(),
        snapshot.users.len(),
        snapshot.groups.len(),
        started.elapsed().as_secs_f64(),
    );
    let opts = mamori_service::directory::SyncOptions {
        dry_run,
        admin_groups: if admin_groups.is_empty() {
            mamori_server::directory::ADMIN_GROUPS
                .iter()
                .map(|g| g.to_string())
                .collect()
        } else {
            admin_groups
        },
        via: "cli",
    };
    let actor = mamori_service::Actor::local(&os_user());
    let cap = actor.can::<mamori_service::perm::EditLedger>()?;
    let client = ClientInfo::new("local", "mamori accounts sync");
    let result = svc
        .sync_directory(&cap, system_id, &snapshot, &opts, &client)
        .await;
    let r = match result {
        Ok(r) => r,
        Err(mamori_service::ServiceError::Invalid { code, .. }) => {
            // A refused snapshot (duplicate logins, too many entries) is on record like an
            // unreadable directory.
            let recorded = svc.record_directory_failure(&system, "cli", code, "").await;
            svc.store.close().await;
            recorded?;
            bail!("{}", coded(code, ""));
        }
        Err(e) => {
            svc.store.close().await;
            return Err(e.into());
        }
    };
    svc.store.close().await;
    println!(
        "{}: 追加 added {}  変更 changed {}  無効化 disabled {}  変更なし unchanged {}  管理者 admins {}",
        r.system,
        r.added.len(),
        r.changed.len(),
        r.disabled.len(),
        r.unchanged,
        r.admins
    );
    let list = |label: &str, v: &[String]| {
        if !v.is_empty() {
            let shown: Vec<&str> = v.iter().take(20).map(String::as_str).collect();
            let more = v.len().saturating_sub(20);
            let more = if more > 0 {
                format!(" … +{more}")
            } else {
                String::new()
            };
            println!("  {label} ({}): {}{more}", v.len(), shown.join(", "));
        }
    };
    list("追加 added", &r.added);
    for (login, ch) in r.changed.iter().take(20) {
        let fields: Vec<String> = ch
            .iter()
            .map(|(f, b, a)| format!("{}: {b} → {a}", field_label("account_field", f)))
            .collect();
        println!("  変更 changed {login}: {}", fields.join(", "));
    }
    list("無効化 disabled (not in the directory)", &r.disabled);
    list("職員名簿と未連携 not linked to the roster", &r.unlinked);
    for (login, name) in &r.candidates {
        println!("  名前が一致 same name as {name}: {login} (確認してください / please confirm)");
    }
    list("パスワード無期限 password never expires", &r.never_expires);
    list("ロック中 locked out", &r.locked_out);
    if !r.policy.is_empty() {
        let fields: Vec<String> = r
            .policy
            .iter()
            .map(|(f, b, a)| format!("{}: {b} → {a}", field_label("system_field", f)))
            .collect();
        println!(
            "  パスワードポリシー password policy: {}",
            fields.join(", ")
        );
    }
    if r.committed {
        println!("反映しました / applied.");
    } else {
        println!("--dry-run: 何も変更していません / nothing was changed.");
    }
    Ok(true)
}

/// `mamori log search`: the index, read while the server runs or not.
async fn log_search(
    mut q: mamori_storage::events::EventQuery,
    from: Option<String>,
    to: Option<String>,
    json: bool,
    store: StoreArgs,
) -> Result<bool> {
    use mamori_domain::period::{PeriodError, parse_period};
    match parse_period(from.as_deref(), to.as_deref()) {
        Ok(p) => {
            q.from_ms = p.from_ms;
            q.to_ms = p.until_ms;
        }
        Err(PeriodError::From(e)) => {
            return Err(flag_error(
                "SEA0003",
                "--from",
                &e.message_ja(),
                &e.message_en(),
            ));
        }
        Err(PeriodError::To(e)) => {
            return Err(flag_error(
                "SEA0003",
                "--to",
                &e.message_ja(),
                &e.message_en(),
            ));
        }
        Err(PeriodError::Reversed) => return Err(flag_error("SEA0004", "--from/--to", "", "")),
    }
    if !(1..=10_000).contains(&q.limit) {
        return Err(flag_error("LOG0022", "--limit", "", ""));
    }
    let cfg = load_config(&store, &ListenArgs::default(), &default_data_dir())?;
    init_tracing("warn");
    let svc = open(&cfg).await?;
    let actor = mamori_service::Actor::local(&os_user());
    let cap = actor.can::<mamori_service::perm::ViewLogs>()?;
    let (rows, total) = svc
        .search_events(&cap, &q)
        .await
        .map_err(|e| service_error(&e))?;
    svc.store.close().await;
    let at = |ms: i64| mamori_server::web::views::fmt_ms(ms);
    for r in &rows {
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "seal_index": r.seal_index,
                    "time": r.at_ms.map(at),
                    "received": at(r.received_ms),
                    "time_flag": r.time_flag,
                    "source": r.source,
                    "host": r.host,
                    "actor": r.actor,
                    "action": r.action,
                    "object": r.object,
                    "outcome": r.outcome,
                    "severity": r.severity,
                    "message": r.message,
                })
            );
        } else {
            println!(
                "{}  {:<16} {:<14} {:<18} {:<12} {:<8} {}",
                at(r.sort_ms),
                r.host,
                r.actor.as_deref().unwrap_or("-"),
                r.action,
                r.object.as_deref().unwrap_or("-"),
                r.outcome,
                r.message.chars().take(60).collect::<String>()
            );
        }
    }
    if !json {
        eprintln!("{} / {} 件 / events", rows.len(), total);
    }
    Ok(true)
}

async fn log_export(choice: ExportChoice, output: PathBuf, store: StoreArgs) -> Result<bool> {
    let cfg = load_config(&store, &ListenArgs::default(), &default_data_dir())?;
    init_tracing("warn");
    ensure_private_dir(&cfg.data_dir)?;
    let db = open_store(&cfg).await?;
    let svc = match services(&cfg, db, Arc::new(SystemClock), true) {
        Ok(s) => s,
        Err(e) if e.to_string().contains("SEA0002") => {
            bail!(
                "SEA0002 サーバが稼働中です。ログ画面の「検証用に出力」を使うか、サーバを止めてから実行してください / the server is running: use the Logs page, or stop it first"
            )
        }
        Err(e) => return Err(e),
    };
    let actor = mamori_service::Actor::local(&os_user());
    let cap = actor.can::<mamori_service::perm::ViewAudit>()?;
    let exported = async {
        svc.seal_pending().await?;
        let (from, to) = match &choice {
            ExportChoice::Index { from, to } => {
                let size = match svc.sealer.as_ref() {
                    Some(s) => s.size()?,
                    None => 0,
                };
                let to = to.unwrap_or(size).min(size);
                if *from >= to {
                    return Err(mamori_service::ServiceError::Invalid {
                        code: if *from > to { "SEA0001" } else { "SEA0005" },
                        field: "from",
                    });
                }
                (*from, Some(to))
            }
            ExportChoice::Period(p) => {
                let r = svc.seal_period_range(&cap, *p).await?;
                (r.start, Some(r.end))
            }
        };
        svc.seal_export(&cap, from, to).await
    }
    .await;
    if let Some(s) = svc.sealer.clone() {
        s.close(svc.clock.now_ms())?;
    }
    svc.store.close().await;
    let bytes = match exported {
        Ok(b) => b,
        Err(e @ mamori_service::ServiceError::Invalid { .. }) => {
            let flags = match &choice {
                ExportChoice::Period(_) => "--from/--to",
                ExportChoice::Index { .. } => "--from-index/--to-index",
            };
            return Err(flag_error(e.code(), flags, "", ""));
        }
        Err(e) => return Err(e.into()),
    };
    let tmp = output.with_extension("partial");
    std::fs::write(&tmp, &bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &output).with_context(|| format!("writing {}", output.display()))?;
    let period = match &choice {
        ExportChoice::Period(p) if *p != Default::default() => format!(
            ", received {} – {} JST",
            p.from_ms.map_or_else(|| "…".into(), jst_text),
            p.until_ms.map_or_else(|| "…".into(), |u| jst_text(u - 1)),
        ),
        _ => String::new(),
    };
    let status = mamori_seal::verify_bundle(bytes.as_slice(), None)
        .map(|r| {
            format!(
                "records {}..{}{period}, key fingerprint {}",
                r.start, r.end, r.fingerprint
            )
        })
        .unwrap_or_else(|e| format!("(self-check failed: {e})"));
    println!("{} bytes → {}: {status}", bytes.len(), output.display());
    Ok(true)
}

/// `2026-11-01 09:00:00.000` in JST.
fn jst_text(ms: i64) -> String {
    let t = mamori_service::clock::to_jst(ms);
    format!(
        "{}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

fn verify(bundle: PathBuf, pubkey: Option<String>) -> Result<bool> {
    let key = match pubkey {
        // As written down on paper: groups separated by spaces, hyphens or colons are fine.
        Some(h) => Some(
            mamori_seal::PublicKey::from_hex(
                &h.chars()
                    .filter(|c| !c.is_whitespace() && !matches!(c, '-' | ':'))
                    .collect::<String>(),
            )
            .with_context(|| "--pubkey must be 64 hex digits (the facility's public key)")?
            .0,
        ),
        None => None,
    };
    let f =
        std::fs::File::open(&bundle).with_context(|| format!("opening {}", bundle.display()))?;
    match mamori_seal::verify_bundle(std::io::BufReader::new(f), key) {
        Ok(r) => {
            println!(
                "OK: records {}..{} intact ({} signed heads checked, {} bytes)",
                r.start, r.end, r.heads_checked, r.bytes
            );
            println!("署名鍵の指紋 / key fingerprint: {}", r.fingerprint);
            if key.is_none() {
                println!(
                    "注意: --pubkey を指定していません。指紋が施設の控えと一致することを確認してください / no --pubkey given: compare the fingerprint with the facility's paper copy"
                );
            }
            for d in &r.deletions {
                println!(
                    "保存期間による削除 / retention deletion: records before {} ({})",
                    d.first_kept, d.reason
                );
            }
            Ok(true)
        }
        Err(e) => {
            match e.first_bad_index {
                Some(i) => println!(
                    "NG: 最初の異常は記録 {i} / first bad record {i}: {} {:?} — {}",
                    e.kind.code(),
                    e.kind,
                    e.detail
                ),
                None => println!("NG: {} {:?} — {}", e.kind.code(), e.kind, e.detail),
            }
            Ok(false)
        }
    }
}

async fn audit_verify(store: StoreArgs) -> Result<bool> {
    let cfg = load_config(&store, &ListenArgs::default(), &default_data_dir())?;
    init_tracing("warn");
    let svc = open(&cfg).await?;
    let check = svc.store.verify_audit_trail().await?;
    svc.store.close().await;
    match check.broken {
        None => {
            println!(
                "OK: {} records, head {}",
                check.verified,
                hex::encode(check.head_hash)
            );
            Ok(true)
        }
        Some(b) => {
            println!("BROKEN at record {}: {b}", b.seq());
            Ok(false)
        }
    }
}

/// The form named by `f`, defaulting to the facility's current one.
async fn form_key(svc: &Services, f: &FormArgs) -> Result<mamori_storage::checklist::FormKey> {
    if let Some(system) = f.system {
        return svc
            .vendor_form_key(system, f.fiscal_year)
            .await
            .map_err(|e| service_error(&e));
    }
    let mut key = svc.default_form().await?;
    if let Some(v) = &f.variant {
        key.variant = v.clone();
    }
    if let Some(fy) = f.fiscal_year {
        key.fiscal_year = fy;
    }
    key.edition = match &f.edition {
        Some(e) => e.to_uppercase(),
        None => mamori_catalog::checklist::latest(&key.variant, key.fiscal_year)
            .map(|p| p.edition.clone())
            .unwrap_or(key.edition),
    };
    Ok(key)
}

fn service_error(e: &mamori_service::ServiceError) -> anyhow::Error {
    let msg =
        mamori_catalog::tr(mamori_catalog::Lang::Ja, &format!("error.{}", e.code())).to_string();
    let field = e.field().map(|f| format!(" [{f}]")).unwrap_or_default();
    anyhow::anyhow!("{} {msg}{field}", e.code())
}

/// Opens the installation and assesses the form named by `form`, as the local operator.
async fn assess_offline(
    form: &FormArgs,
    store: &StoreArgs,
) -> Result<(
    Config,
    Services,
    mamori_storage::checklist::FormKey,
    mamori_service::checklist::Assessment,
)> {
    let cfg = load_config(store, &ListenArgs::default(), &default_data_dir())?;
    init_tracing("warn");
    let svc = open(&cfg).await?;
    let key = form_key(&svc, form).await?;
    let actor = mamori_service::Actor::local(&os_user());
    let cap = actor.can::<mamori_service::perm::ViewChecklist>()?;
    let a = svc
        .assessment(&cap, &key)
        .await
        .map_err(|e| service_error(&e))?;
    Ok((cfg, svc, key, a))
}

async fn checklist_status(form: FormArgs, json: bool, store: StoreArgs) -> Result<bool> {
    use mamori_domain::checklist::Flag;
    let (_, svc, key, a) = assess_offline(&form, &store).await?;
    svc.store.close().await;
    let lang = mamori_catalog::Lang::Ja;
    let tally = a.tally();
    if json {
        let items: Vec<serde_json::Value> = a
            .items
            .iter()
            .map(|s| {
                let g = s.answer.as_ref();
                serde_json::json!({
                    "id": s.item.id,
                    "key": s.item.key,
                    "answer": g.map(|g| g.answer.as_str()),
                    "confirmed_on": g.and_then(|g| g.confirmed_on).map(|d| mamori_domain::registry::day_text(Some(d))),
                    "target_on": g.and_then(|g| g.target_on).map(|d| mamori_domain::registry::day_text(Some(d))),
                    "remarks": g.map(|g| g.remarks.clone()),
                    "verdict": s.evidence.verdict.as_str(),
                    "valid_until": s.evidence.valid_until.map(|d| mamori_domain::registry::day_text(Some(d))),
                    "contradiction": s.has(Flag::Contradiction),
                    "flags": s.flags.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
                    "facts": s.evidence.facts.iter().map(|f| serde_json::json!({
                        "code": f.code,
                        "tone": f.tone.as_str(),
                        "text": mamori_service::checklist::fact_text(lang, f),
                        "records": f.records.iter().map(|r| format!("{}:{}", r.kind.plural(), r.id)).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let doc = serde_json::json!({
            "edition": key.edition,
            "variant": key.variant,
            "fiscal_year": key.fiscal_year,
            "as_of": mamori_domain::registry::day_text(Some(a.today)),
            "summary": {
                "items": a.items.len(),
                "yes": tally.yes,
                "no": tally.no,
                "na": tally.na,
                "unanswered": tally.unanswered,
                "contradictions": tally.contradictions,
                "upgrades": tally.upgrades,
                "expiring": tally.expiring,
            },
            "items": items,
        });
        println!("{doc}");
    } else {
        println!(
            "{} {}（{}） {} 時点",
            a.pack.title_ja,
            a.pack.variant_ja,
            mamori_service::checklist::fiscal_year_label(lang, key.fiscal_year),
            mamori_service::checklist::wareki_or_blank(Some(a.today))
        );
        for s in &a.items {
            let answer = s
                .answer
                .as_ref()
                .map(|g| {
                    mamori_catalog::tr(lang, &format!("answer.{}", g.answer.as_str())).to_string()
                })
                .unwrap_or_else(|| mamori_catalog::tr(lang, "answer.none").to_string());
            let verdict =
                mamori_catalog::tr(lang, &format!("verdict.{}", s.evidence.verdict.as_str()))
                    .to_string();
            let flag = if s.has(Flag::Contradiction) {
                "  ★矛盾 / CONTRADICTION"
            } else {
                ""
            };
            println!(
                "{:<5} {:<8} {:<10} {}{flag}",
                s.item.id,
                answer,
                verdict,
                mamori_catalog::tr(lang, &format!("checklist_topic.{}", s.item.key))
            );
        }
        println!(
            "はい {} / いいえ {} / 記入不要 {} / 未回答 {} — 矛盾 {}",
            tally.yes, tally.no, tally.na, tally.unanswered, tally.contradictions
        );
    }
    Ok(tally.contradictions == 0)
}

async fn checklist_export(
    form: FormArgs,
    format: Option<String>,
    output: PathBuf,
    lang: String,
    store: StoreArgs,
) -> Result<bool> {
    use mamori_server::web::checklist::{Format, render_form};
    let Some(lang) = mamori_catalog::Lang::parse(&lang) else {
        bail!("--lang must be ja or en");
    };
    let ext = output
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_string();
    let Some(format) = Format::parse(format.as_deref().unwrap_or(&ext)) else {
        bail!("--format must be html, xlsx or pdf (or give -o a file ending in one of them)");
    };
    let (cfg, svc, key, a) = assess_offline(&form, &store).await?;
    let facility = svc.facility().await?.map(|f| f.name).unwrap_or_default();
    svc.store.close().await;
    // The signing key's fingerprint is read from its file, so this works while a server runs.
    let fingerprint = mamori_seal::public_key_in(&cfg.data_dir.join("seal"))
        .ok()
        .flatten()
        .map(|k| k.fingerprint())
        .unwrap_or_default();
    let bytes = match render_form(
        &a,
        lang,
        &facility,
        &fingerprint,
        cfg.reports_font_file.as_deref(),
        format,
    ) {
        Ok(b) => b,
        Err((code, message)) => bail!("{code} {message}"),
    };
    // Write next to the target and rename, so a crash never leaves half a file.
    let tmp = output.with_extension("partial");
    std::fs::write(&tmp, &bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &output).with_context(|| format!("writing {}", output.display()))?;
    let form = mamori_service::checklist::checklist_form(&a, lang, &facility, &fingerprint);
    println!(
        "{} {}（{}）: {} items, {} bytes → {}",
        a.pack.title(lang),
        a.pack.variant_label(lang),
        mamori_service::checklist::fiscal_year_label(lang, key.fiscal_year),
        a.items.len(),
        bytes.len(),
        output.display()
    );
    println!("内容ハッシュ / content hash: {}", form.content_hash);
    Ok(true)
}

/// mimalloc rather than the system allocator: collecting logs makes and frees millions of
/// small strings a second across threads, where glibc's allocator spent a third of the time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Command::Serve { store, listen } => serve(store, listen).await.map(|_| true),
            Command::Demo { store, listen } => demo(store, listen).await.map(|_| true),
            Command::Setup {
                store,
                facility_kind,
                facility_name,
                beds,
                admin_login,
                admin_name,
                admin_password_file,
            } => setup(
                store,
                facility_kind,
                facility_name,
                beds,
                admin_login,
                admin_name,
                admin_password_file,
            )
            .await
            .map(|_| true),
            Command::AuditVerify { store } => audit_verify(store).await,
            Command::Checklist {
                cmd: ChecklistCmd::Status { form, json, store },
            } => checklist_status(form, json, store).await,
            Command::Checklist {
                cmd:
                    ChecklistCmd::Export {
                        form,
                        format,
                        output,
                        lang,
                        store,
                    },
            } => checklist_export(form, format, output, lang, store).await,
            Command::Verify { bundle, pubkey } => verify(bundle, pubkey),
            Command::Detect {
                cmd: DetectCmd::Scan { rules, paths, json },
            } => detect_scan(rules, paths, json),
            Command::Accounts {
                cmd: AccountsCmd::Sync { source },
            } => accounts_sync(source).await,
            Command::Log {
                cmd:
                    LogCmd::Export {
                        from,
                        to,
                        from_index,
                        to_index,
                        output,
                        store,
                    },
            } => match ExportChoice::parse(from, to, from_index, to_index) {
                Ok(choice) => log_export(choice, output, store).await,
                Err(e) => Err(e),
            },
            Command::Log {
                cmd:
                    LogCmd::Ingest {
                        files,
                        format,
                        profile,
                        source,
                        store,
                    },
            } => log_ingest(files, format, profile, source, store).await,
            Command::Log {
                cmd:
                    LogCmd::Search {
                        actor,
                        patient,
                        host,
                        source,
                        action,
                        from,
                        to,
                        text,
                        limit,
                        json,
                        store,
                    },
            } => {
                let q = mamori_storage::events::EventQuery {
                    actor: actor.unwrap_or_default(),
                    object: patient.unwrap_or_default(),
                    host: host.unwrap_or_default(),
                    source: source.unwrap_or_default(),
                    action: action.unwrap_or_default(),
                    text: text.unwrap_or_default(),
                    limit,
                    ..Default::default()
                };
                log_search(q, from, to, json, store).await
            }
            Command::Import {
                kind,
                file,
                dry_run,
                retire_missing,
                store,
            } => import(kind, file, dry_run, retire_missing, store).await,
            Command::Export {
                kind,
                output,
                store,
            } => export(kind, output, store).await,
        }
    });
    match result {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
