//! The mamori server and admin tool: configuration, start-up checks, TLS, the HTTP API and the
//! server-rendered UI. This is the only crate that knows HTTP.

pub mod clock;
pub mod collect;
pub mod config;
pub mod directory;
pub mod fonts;
pub mod notify;
pub mod ntp;
pub mod rules;
pub mod tls;
pub mod web;

use anyhow::{Context, Result};
use config::{Config, Database, TlsMode};
use mamori_service::{Clock, PasswordHasher, Services};
use mamori_storage::Store;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use web::AppState;
use web::pages::{CertFingerprint, DataDir};

/// Opens the store the configuration names (SQLite under the data dir by default).
pub async fn open_store(cfg: &Config) -> Result<Store> {
    match &cfg.database {
        Database::Embedded => Store::open_data_dir(&cfg.data_dir)
            .await
            .with_context(|| format!("opening the database in {}", cfg.data_dir.display())),
        Database::Url(url) => Store::open_url(url.expose())
            .await
            .context("opening the database named by database_url"),
    }
}

/// Builds the service layer over a store. With `seal`, the audit trail is sealed into the log
/// under `<data-dir>/seal` — only the server does that; one-shot commands leave their audit events
/// for the server to seal, so that two processes never write the sealed log.
pub fn services(cfg: &Config, store: Store, clock: Arc<dyn Clock>, seal: bool) -> Result<Services> {
    let hasher =
        PasswordHasher::new(cfg.argon2, cfg.max_concurrent_hashes).context("argon2 parameters")?;
    let svc = Services::new(store, clock, hasher);
    if !seal {
        return Ok(svc);
    }
    let dir = cfg.data_dir.join("seal");
    let sealer = mamori_service::sealing::Sealer::open(&dir)
        .map_err(|e| anyhow::anyhow!("opening the sealed log in {}: {e}", dir.display()))?;
    let events = mamori_service::logs::open_event_log(&cfg.data_dir).map_err(|e| {
        anyhow::anyhow!(
            "opening the sealed event log in {}: {e}",
            cfg.data_dir.join("events").display()
        )
    })?;
    Ok(svc.with_sealer(sealer).with_event_log(events))
}

/// A server ready to accept connections.
pub struct Server {
    pub addr: SocketAddr,
    pub url: String,
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    svc: Services,
    sealing: Option<tokio::task::JoinHandle<()>>,
    /// Syslog listeners and what they are bound to.
    listeners: Option<collect::Listeners>,
    pub syslog: collect::SyslogBound,
    collector: Option<tokio::task::JoinHandle<()>>,
    ntp: Option<tokio::task::JoinHandle<()>>,
    notifier: Option<tokio::task::JoinHandle<()>>,
    detector: Option<tokio::task::JoinHandle<()>>,
    directory: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Stops accepting, lets requests in flight finish, and waits.
    pub async fn shutdown(self) -> Result<()> {
        self.handle
            .graceful_shutdown(Some(std::time::Duration::from_secs(10)));
        self.wait().await
    }

    /// Waits until the server stops (it stops on SIGINT/SIGTERM when started by `serve`), then
    /// seals what is left of the audit trail and signs a final head.
    pub async fn wait(self) -> Result<()> {
        let served = self.task.await.context("server task")?.context("server");
        if let Some(t) = self.ntp {
            t.abort();
        }
        if let Some(t) = self.notifier {
            t.abort();
        }
        // Detection writes its alerts and its position in one transaction: stopping it
        // anywhere loses nothing.
        if let Some(t) = self.detector {
            t.abort();
        }
        // A sync commits in one transaction: stopping it anywhere applies all of it or none.
        if let Some(t) = self.directory {
            t.abort();
        }
        // Stop receiving, let open streams store what they read, then let the collector
        // store what is queued before the event log is closed.
        if let Some(l) = self.listeners {
            l.stop(std::time::Duration::from_secs(10)).await;
        }
        if let Some(c) = self.collector
            && tokio::time::timeout(std::time::Duration::from_secs(15), c)
                .await
                .is_err()
        {
            tracing::error!("collected events still queued at shutdown were not all stored");
        }
        if let Some(t) = self.sealing {
            t.abort();
            // Wait until the task is gone, so that it no longer holds the sealed log.
            let _ = t.await;
        }
        if let Some(sealer) = self.svc.sealer.clone() {
            if let Err(e) = self.svc.seal_pending().await {
                tracing::error!(error = %e, "sealing at shutdown failed");
            }
            if let Err(e) = sealer.close(self.svc.clock.now_ms()) {
                tracing::error!(error = %e, "closing the sealed log failed");
            }
        }
        if let Some(events) = self.svc.events.clone()
            && let Err(e) = events.close(self.svc.clock.now_ms())
        {
            tracing::error!(error = %e, "closing the sealed event log failed");
        }
        served
    }

    pub fn handle(&self) -> axum_server::Handle<SocketAddr> {
        self.handle.clone()
    }
}

/// Binds and starts serving `svc` per `cfg`. Returns once the socket is listening.
pub async fn start(cfg: &Config, svc: Services) -> Result<Server> {
    if svc.events.is_some() {
        // Events sealed but not indexed (a crash between the two) become searchable again.
        svc.catch_up_event_index()
            .await
            .context("indexing the sealed event log")?;
    }
    let listener = std::net::TcpListener::bind(cfg.listen)
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let secure = cfg.tls != TlsMode::Off;
    let scheme = if secure { "https" } else { "http" };
    // Security keys need a host name; on loopback it is `localhost`.
    let rp_id = cfg
        .webauthn_rp_id
        .clone()
        .or_else(|| addr.ip().is_loopback().then(|| "localhost".to_string()));
    let (webauthn, webauthn_origin) = match rp_id {
        Some(id) => {
            let origin = cfg.webauthn_origin.clone().unwrap_or_else(|| {
                if (secure && addr.port() == 443) || (!secure && addr.port() == 80) {
                    format!("{scheme}://{id}")
                } else {
                    format!("{scheme}://{id}:{}", addr.port())
                }
            });
            match mamori_service::webauthn::relying_party(&id, &origin) {
                Ok(w) => (Some(Arc::new(w)), origin),
                Err(e) => {
                    tracing::warn!(error = %e, "security keys are off: check webauthn.rp_id and webauthn.origin");
                    (None, origin)
                }
            }
        }
        None => {
            tracing::warn!("security keys are off: set webauthn.rp_id to the server's host name");
            (None, String::new())
        }
    };
    let state_svc = svc.clone();
    let detecting = cfg.detect.enabled && svc.events.is_some();
    let (feed, fed) = if detecting {
        let (tx, rx) = tokio::sync::mpsc::channel(mamori_service::collect::FED_BATCHES);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let (collector, collector_task) = match svc.events.is_some() {
        true => {
            let (c, t) = mamori_service::collect::Collector::start_feeding(svc.clone(), feed);
            (Some(c), Some(t))
        }
        false => (None, None),
    };
    // Rules from the configuration are loaded once, before the pages that report on them.
    let (extra, failures) = if detecting && !cfg.detect.rules.is_empty() {
        let (set, failures) = rules::load(&cfg.detect.rules);
        tracing::info!(
            loaded = set.rules().len() + set.correlations().len(),
            refused = set.refused().len(),
            "detection rules from the configuration"
        );
        (Some(set), failures)
    } else {
        (None, Vec::new())
    };
    for f in &failures {
        tracing::warn!(path = %f.path.display(), error = %f.error, "a detection rule file could not be read");
    }
    let detect_rules = Arc::new(rules::RulesReport::new(
        detecting,
        &cfg.detect.rules,
        extra.as_ref(),
        &failures,
    ));
    // A renewal in preparation: agents learn the next certificate's pin from their signed
    // policy before the server switches to it.
    let next_pin = match &cfg.tls_next_cert {
        Some(next) => {
            Some(tls::pin(next).with_context(|| format!("tls.next_cert_file {}", next.display()))?)
        }
        None => None,
    };
    let state = AppState {
        tls_next_fingerprint: next_pin.as_ref().map(tls::fingerprint_of),
        directory: cfg.directory.clone().map(Arc::new),
        detect_rules,
        collector: collector.clone(),
        svc,
        secure,
        max_body_bytes: cfg.max_body_bytes,
        webauthn: webauthn.clone(),
        webauthn_origin: webauthn_origin.clone(),
        font_file: cfg.reports_font_file.clone(),
    };
    let (cert_key, fingerprint) = match &cfg.tls {
        TlsMode::Off => (None, "—".to_string()),
        TlsMode::Auto => {
            let (c, k) = tls::ensure_self_signed(&cfg.data_dir, &[addr.ip().to_string()])?;
            let fp = tls::fingerprint(&c).unwrap_or_default();
            (Some((c, k)), fp)
        }
        TlsMode::Files { cert, key } => {
            let fp = tls::fingerprint(cert).unwrap_or_default();
            (Some((cert.clone(), key.clone())), fp)
        }
    };
    let pin = match &cert_key {
        Some((cert, _)) => Some(tls::pin(cert)?),
        None => None,
    };
    let agent_keys = web::agents::AgentKeys {
        policy: Arc::new(mamori_service::agents::PolicySigner {
            key: mamori_seal::load_or_create_signing_key(&cfg.data_dir.join("agent-policy.key"))
                .map_err(|e| anyhow::anyhow!("the agents' policy key: {e}"))?,
            pins: pin
                .iter()
                .chain(next_pin.iter())
                .map(|p| mamori_proto::agent::hex(p))
                .collect(),
        }),
        pin,
    };
    let app = web::app(state)
        .layer(axum::Extension(agent_keys))
        .layer(axum::Extension(DataDir(data_dir_text(cfg))))
        .layer(axum::Extension(CertFingerprint(fingerprint)))
        .layer(axum::Extension(web::ledger::ImportStaging::default()))
        .layer(axum::Extension(web::sources::ClockTolerance(
            cfg.clock_tolerance_ms,
        )))
        .into_make_service_with_connect_info::<SocketAddr>();
    let listeners = match &collector {
        Some(c) if cfg.syslog != config::SyslogListen::default() => {
            let tls = match &cert_key {
                Some((cert, key)) if cfg.syslog.tls.is_some() => {
                    Some(syslog_tls_config(cert, key).await?)
                }
                _ => None,
            };
            Some(collect::start(&cfg.syslog, c.clone(), state_svc.clock.clone(), tls).await?)
        }
        _ => None,
    };
    drop(collector);
    let syslog = listeners
        .as_ref()
        .map(|l| l.bound.clone())
        .unwrap_or_default();
    let handle = axum_server::Handle::new();
    let host = if webauthn.is_some() && addr.ip().is_loopback() {
        // Open the UI where security keys work.
        "localhost".to_string()
    } else if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    let url = format!("{scheme}://{host}:{}/", addr.port());
    let task = match cert_key {
        None => {
            let server = axum_server::from_tcp(listener)?.handle(handle.clone());
            tokio::spawn(async move { server.serve(app).await })
        }
        Some((cert, key)) => {
            let rustls_cfg = load_tls(&cert, &key).await?;
            let server = axum_server::from_tcp_rustls(listener, rustls_cfg)?.handle(handle.clone());
            tokio::spawn(async move { server.serve(app).await })
        }
    };
    // Seal the audit trail every second: heads are signed at least every second while busy.
    // Verify the whole log once a day (the service decides when from the last recorded
    // verification, so restarts neither skip nor repeat it).
    let ntp = cfg.ntp_server.clone().map(|server| {
        let svc = state_svc.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(ntp::EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                ntp::check_and_record(&svc, &server).await;
            }
        })
    });
    // Alert notifications: the outbox is in the database, so aborting the task at shutdown
    // loses nothing (what was not marked sent is sent after the restart).
    let notifier = cfg
        .notify
        .is_enabled()
        .then(|| tokio::spawn(notify::run(state_svc.clone(), cfg.notify.clone())));
    let directory = cfg
        .directory
        .clone()
        .map(|d| tokio::spawn(directory::run(state_svc.clone(), d)));
    let detector = detecting.then(|| {
        let det = mamori_service::detection::Detector::new(extra, cfg.clock_tolerance_ms);
        tokio::spawn(detect_loop(state_svc.clone(), det, fed))
    });
    let retention = cfg.seal_retention_days;
    let daily_verification = cfg.seal_daily_verification;
    let sealing = state_svc.sealer.is_some().then(|| {
        let svc = state_svc.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut n: u64 = 0;
            let started = svc.clock.now_ms();
            let mut next_verification = started;
            loop {
                tick.tick().await;
                if let Err(e) = svc.seal_pending().await {
                    tracing::error!(error = %e, "sealing the audit trail failed");
                }
                let now = svc.clock.now_ms();
                if daily_verification && now >= next_verification {
                    next_verification = match svc.seal_daily_verification(started).await {
                        Ok((_, next)) => next,
                        Err(e) => {
                            tracing::error!(error = %e, "daily sealed-log verification failed to run");
                            now.saturating_add(3_600_000)
                        }
                    };
                }
                // Retention: once at start and then hourly.
                if let Some(days) = retention.filter(|_| n.is_multiple_of(3600)) {
                    match svc.seal_retention(days).await {
                        Ok(Some(first)) => {
                            tracing::info!(first_kept = first, "sealed log pruned by retention")
                        }
                        Ok(None) => {}
                        Err(e) => tracing::error!(error = %e, "sealed-log retention failed"),
                    }
                }
                n = n.wrapping_add(1);
            }
        })
    });
    Ok(Server {
        addr,
        url,
        handle,
        task,
        svc: state_svc,
        sealing,
        listeners,
        syslog,
        collector: collector_task,
        ntp,
        notifier,
        detector,
        directory,
    })
}

/// The server's certificate and key as the web server serves them.
async fn load_tls(cert: &Path, key: &Path) -> Result<axum_server::tls_rustls::RustlsConfig> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
        .await
        .with_context(|| {
            format!(
                "loading TLS certificate {} and key {}",
                cert.display(),
                key.display()
            )
        })
}

/// The TLS configuration of the syslog listener: the server's certificate, without the web's
/// ALPN protocols (syslog senders offer none).
async fn syslog_tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>> {
    let web = load_tls(cert, key).await?;
    let mut c = (*web.get_inner()).clone();
    c.alpn_protocols.clear();
    Ok(Arc::new(c))
}

fn data_dir_text(cfg: &Config) -> String {
    match &cfg.database {
        Database::Embedded => cfg.data_dir.display().to_string(),
        Database::Url(_) => format!("{} (PostgreSQL)", cfg.data_dir.display()),
    }
}

/// Creates `dir` with owner-only permissions if it does not exist.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", dir.display()))?;
    }
    Ok(())
}

/// Runs detection rounds: on each batch the collector hands over as it comes, straight on while
/// there is a backlog in the sealed log, else once a second.
async fn detect_loop(
    svc: Services,
    mut det: mamori_service::detection::Detector,
    mut fed: Option<tokio::sync::mpsc::Receiver<mamori_service::collect::Fed>>,
) {
    let idle = std::time::Duration::from_secs(1);
    // Batches handed over and not yet scanned; beyond this many, newer ones are dropped and
    // read from the sealed log when their turn comes.
    const HELD: usize = 16;
    let mut pending = std::collections::VecDeque::new();
    let take = |pending: &mut std::collections::VecDeque<_>, b| {
        if pending.len() < HELD {
            pending.push_back(b);
        }
    };
    loop {
        if let Some(rx) = fed.as_mut() {
            while let Ok(b) = rx.try_recv() {
                take(&mut pending, b);
            }
        }
        match svc.detect_round_fed(&mut det, &mut pending).await {
            Ok(round) => {
                if round.raised.opened > 0 {
                    tracing::info!(
                        opened = round.raised.opened,
                        joined = round.raised.joined,
                        "alerts raised"
                    );
                }
                if round.scanned == 0 || (round.behind == 0 && pending.is_empty()) {
                    // Caught up: wait for the next batch, or look at the log in a second
                    // (file imports are not handed over).
                    match fed.as_mut() {
                        Some(rx) => {
                            tokio::select! {
                                b = rx.recv() => {
                                    if let Some(b) = b {
                                        take(&mut pending, b);
                                    }
                                }
                                () = tokio::time::sleep(idle) => {}
                            }
                        }
                        None => tokio::time::sleep(idle).await,
                    }
                }
            }
            Err(e) => {
                // Nothing of the failed round was written: it is tried again.
                tracing::error!(error = %e, "a detection round failed");
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            }
        }
    }
}
