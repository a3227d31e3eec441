//! Syslog listeners: UDP, TCP and TLS (RFC 5424/3164 messages; RFC 6587 framing on streams,
//! RFC 5425 over TLS). They decode with `ingest` and hand events to the service's
//! [`Collector`], which seals and indexes them in batches.
//!
//! Acknowledgement: syslog over TCP has no application-level ack, so a stream's events are
//! acknowledged by the connection itself. The listener reads ahead only a bounded number of
//! unstored submissions per connection (back-pressure through TCP flow control), and closes
//! its side of a connection only after everything the peer sent is sealed. A sender that
//! half-closes and waits for our close knows its events are stored. UDP has no ack at all: what
//! the full queue refuses is counted per source as dropped.

use crate::config::SyslogListen;
use anyhow::{Context, Result};
use mamori_ingest::{SyslogError, SyslogFramer, SyslogOptions, parse_syslog};
use mamori_service::Clock;
use mamori_service::collect::{Collected, Collector, SourceKind, Stored, syslog_source};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Submissions of one connection that may be unstored at once: the read-ahead.
const IN_FLIGHT_PER_CONNECTION: usize = 32;
/// Bytes read from a stream at a time.
const READ_CHUNK: usize = 64 * 1024;
/// UDP: events gathered per sender before they are queued, and how long at most.
const UDP_BATCH: usize = 500;
const UDP_LINGER: Duration = Duration::from_millis(50);
/// A stream silent this long is closed (its events are stored first).
const IDLE: Duration = Duration::from_secs(600);
/// Streams served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 512;

/// The addresses actually bound (a port 0 in the configuration becomes a real port).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyslogBound {
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    pub tls: Option<SocketAddr>,
}

/// Running listeners.
pub struct Listeners {
    pub bound: SyslogBound,
    tasks: Vec<JoinHandle<()>>,
    connections: Arc<tokio::sync::Semaphore>,
}

impl Listeners {
    /// Stops accepting, then waits (up to `grace`) for open streams to store what they read.
    pub async fn stop(self, grace: Duration) {
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
        // Every connection holds a permit until its events are stored.
        let all = u32::try_from(MAX_CONNECTIONS).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(grace, self.connections.acquire_many(all)).await;
    }
}

/// Binds every configured listener (so that a busy port fails the start) and serves them.
pub async fn start(
    cfg: &SyslogListen,
    collector: Collector,
    clock: Arc<dyn Clock>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<Listeners> {
    let mut bound = SyslogBound::default();
    let mut tasks = Vec::new();
    let connections = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    if let Some(addr) = cfg.udp {
        let sock = UdpSocket::bind(addr)
            .await
            .with_context(|| format!("cannot receive syslog over UDP on {addr}"))?;
        bound.udp = Some(sock.local_addr()?);
        tasks.push(tokio::spawn(serve_udp(
            sock,
            collector.clone(),
            clock.clone(),
        )));
    }
    if let Some(addr) = cfg.tcp {
        let l = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot receive syslog over TCP on {addr}"))?;
        bound.tcp = Some(l.local_addr()?);
        tasks.push(tokio::spawn(accept(
            l,
            None,
            collector.clone(),
            clock.clone(),
            connections.clone(),
        )));
    }
    if let Some(addr) = cfg.tls {
        let server_cfg = tls.context("syslog over TLS needs the server's certificate")?;
        let l = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot receive syslog over TLS on {addr}"))?;
        bound.tls = Some(l.local_addr()?);
        let acceptor = tokio_rustls::TlsAcceptor::from(server_cfg);
        tasks.push(tokio::spawn(accept(
            l,
            Some(acceptor),
            collector.clone(),
            clock.clone(),
            connections.clone(),
        )));
    }
    Ok(Listeners {
        bound,
        tasks,
        connections,
    })
}

async fn accept(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    collector: Collector,
    clock: Arc<dyn Clock>,
    connections: Arc<tokio::sync::Semaphore>,
) {
    loop {
        let Ok(permit) = connections.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a syslog connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let collector = collector.clone();
        let clock = clock.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let outcome = match tls {
                None => serve_stream(stream, peer.ip(), &collector, clock.as_ref()).await,
                Some(acceptor) => {
                    match tokio::time::timeout(Duration::from_secs(30), acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(s)) => serve_stream(s, peer.ip(), &collector, clock.as_ref()).await,
                        Ok(Err(e)) => Err(anyhow::anyhow!("TLS handshake: {e}")),
                        Err(_) => Err(anyhow::anyhow!("TLS handshake timed out")),
                    }
                }
            };
            if let Err(e) = outcome {
                tracing::warn!(peer = %peer, error = %e, "syslog connection ended with an error");
            }
        });
    }
}

fn reject_detail(e: &SyslogError, frame: u64) -> String {
    format!("{frame}件目: {}", e.message_ja())
}

/// Serves one syslog stream until the peer closes it, then closes our side once everything
/// it sent is stored.
pub async fn serve_stream<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    peer: IpAddr,
    collector: &Collector,
    clock: &dyn Clock,
) -> Result<()> {
    let source = syslog_source(peer);
    let peer_text = peer.to_string();
    let opts = SyslogOptions::default();
    let mut framer = SyslogFramer::default();
    let mut buf = vec![0u8; READ_CHUNK];
    let mut frames = Vec::new();
    let mut in_flight: VecDeque<oneshot::Receiver<Stored>> = VecDeque::new();
    let mut seen: u64 = 0;
    loop {
        let n = match tokio::time::timeout(IDLE, stream.read(&mut buf)).await {
            Ok(r) => r.context("reading")?,
            Err(_) => 0,
        };
        let now = clock.now_ms();
        let mut item = Collected::new(source.clone(), SourceKind::Syslog, peer_text.clone(), now);
        if n == 0 {
            if let Some(f) = framer.finish() {
                frames.push(f);
            }
        } else {
            framer.feed(buf.get(..n).unwrap_or_default(), &mut frames);
        }
        for f in frames.drain(..) {
            seen += 1;
            match f.and_then(|bytes| parse_syslog(&bytes, now, &peer_text, &opts)) {
                Ok(m) => item.events.push(m.event),
                Err(e) => item.reject(e.code(), reject_detail(&e, seen)),
            }
        }
        if !item.is_empty() {
            in_flight.push_back(collector.submit(item).await?);
            while in_flight.len() > IN_FLIGHT_PER_CONNECTION {
                if let Some(rx) = in_flight.pop_front() {
                    stored(rx).await?;
                }
            }
        }
        if n == 0 {
            break;
        }
    }
    while let Some(rx) = in_flight.pop_front() {
        stored(rx).await?;
    }
    // Our close is the acknowledgement: everything received is sealed.
    let _ = stream.shutdown().await;
    Ok(())
}

async fn stored(rx: oneshot::Receiver<Stored>) -> Result<()> {
    match rx.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(anyhow::anyhow!("storing failed: {e}")),
        Err(_) => Err(anyhow::anyhow!("the collector stopped")),
    }
}

async fn serve_udp(sock: UdpSocket, collector: Collector, clock: Arc<dyn Clock>) {
    let opts = SyslogOptions::default();
    let mut buf = vec![0u8; 65_536];
    let mut pending: HashMap<IpAddr, Collected> = HashMap::new();
    // Dropped counts waiting for the next submission that gets through.
    let mut dropped: HashMap<IpAddr, u64> = HashMap::new();
    let mut tick = tokio::time::interval(UDP_LINGER);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            r = sock.recv_from(&mut buf) => {
                let (n, peer) = match r {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "receiving syslog over UDP failed");
                        continue;
                    }
                };
                let now = clock.now_ms();
                let ip = peer.ip();
                let item = pending.entry(ip).or_insert_with(|| {
                    Collected::new(syslog_source(ip), SourceKind::Syslog, ip.to_string(), now)
                });
                item.received_ms = now;
                match parse_syslog(buf.get(..n).unwrap_or_default(), now, &item.peer, &opts) {
                    Ok(m) => item.events.push(m.event),
                    Err(e) => item.reject(e.code(), format!("UDP: {}", e.message_ja())),
                }
                if item.events.len() >= UDP_BATCH
                    && let Some(item) = pending.remove(&ip)
                {
                    offer(&collector, item, &mut dropped);
                }
            }
            _ = tick.tick() => {
                for (_, item) in pending.drain() {
                    offer(&collector, item, &mut dropped);
                }
            }
        }
    }
}

fn offer(collector: &Collector, mut item: Collected, dropped: &mut HashMap<IpAddr, u64>) {
    let Ok(ip) = item.peer.parse::<IpAddr>() else {
        return;
    };
    item.dropped = dropped.remove(&ip).unwrap_or(0);
    if let Err(item) = collector.offer(item) {
        let lost = item.events.len() as u64 + item.bad + item.dropped;
        *dropped.entry(ip).or_default() += lost;
        tracing::warn!(peer = %ip, lost, "syslog over UDP: the queue is full, messages dropped");
    }
}
