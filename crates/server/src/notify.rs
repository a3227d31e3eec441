//! Telling people about alerts: e-mail through the facility's SMTP server, a webhook (a chat
//! system on the facility network), and syslog forwarding to another collector. The outbox is
//! `alert_notifications`: a notification is written before it is sent and marked sent only once
//! the channel took it, so a restart sends what was not (at least once, never silently lost).
//!
//! - Alerts at `notify.min_level` or above are notified on every configured channel.
//! - Quiet hours (`notify.quiet_hours = "22:00-07:00"`, Japan time): only critical alerts go out
//!   at once; the others wait for the end of the quiet hours.
//! - Escalation (`notify.escalate_after_minutes`, `notify.escalate_to`): an alert still new
//!   (nobody took it) that long after it was raised is e-mailed to the escalation list, quiet
//!   hours or not.

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mamori_domain::alert::AlertLevel;
use mamori_service::Services;
use mamori_storage::alerts::{AlertRow, NotificationRow, queue_notification, record_attempt};
use std::time::Duration;

/// How SMTP is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain SMTP (a relay on the facility network, port 25).
    None,
    /// STARTTLS on the submission port (587).
    StartTls,
    /// TLS from the start (465).
    Tls,
}

/// The facility's SMTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub from: String,
    pub to: Vec<String>,
    pub escalate_to: Vec<String>,
    pub user: Option<String>,
    /// Read from `notify.smtp_password_file`; never printed.
    pub password: Option<crate::config::Secret>,
}

/// Where syslog forwarding goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyslogForward {
    Udp(std::net::SocketAddr),
    Tcp(std::net::SocketAddr),
}

/// Notification settings (`[notify]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    pub smtp: Option<SmtpConfig>,
    pub webhook_url: Option<String>,
    pub syslog: Option<SyslogForward>,
    pub min_level: AlertLevel,
    /// Minutes of the day (Japan time) `[from, to)`; may wrap past midnight.
    pub quiet_hours: Option<(u32, u32)>,
    pub escalate_after_ms: Option<i64>,
    /// The address people open mamori at, for links in messages (`https://mamori.clinic.local`).
    pub base_url: Option<String>,
    /// How often the outbox is looked at.
    pub every: Duration,
    /// The facility's own certificate authority (PEM), trusted besides the public roots.
    pub ca_pem: Option<Vec<u8>>,
}

/// The PEM blocks of the certificates in `pem`, each with its BEGIN and END lines.
pub fn pem_certificates(pem: &[u8]) -> Vec<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = String::from_utf8_lossy(pem);
    let mut out = Vec::new();
    let mut rest = text.as_ref();
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest.get(start..).and_then(|r| r.find(END)) else {
            break;
        };
        let end = start + len + END.len();
        if let Some(block) = rest.get(start..end) {
            out.push(format!("{block}\n"));
        }
        rest = rest.get(end..).unwrap_or("");
    }
    out
}

/// The HTTP client of one round: a timeout, and the facility's CA when one is configured.
fn http_client(cfg: &NotifyConfig) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder().timeout(Duration::from_secs(10));
    if let Some(pem) = &cfg.ca_pem {
        for c in reqwest::Certificate::from_pem_bundle(pem).map_err(|e| e.to_string())? {
            b = b.add_root_certificate(c);
        }
    }
    b.build().map_err(|e| e.to_string())
}

impl NotifyConfig {
    /// Whether anything is configured at all.
    pub fn is_enabled(&self) -> bool {
        self.channels().next().is_some() || self.escalates()
    }

    fn channels(&self) -> impl Iterator<Item = &'static str> + '_ {
        [
            self.smtp
                .as_ref()
                .filter(|s| !s.to.is_empty())
                .map(|_| "email"),
            self.webhook_url.as_ref().map(|_| "webhook"),
            self.syslog.as_ref().map(|_| "syslog"),
        ]
        .into_iter()
        .flatten()
    }

    fn escalates(&self) -> bool {
        self.escalate_after_ms.is_some()
            && self
                .smtp
                .as_ref()
                .is_some_and(|s| !s.escalate_to.is_empty())
    }
}

/// Parses `HH:MM-HH:MM` into minutes of the day.
pub fn parse_quiet_hours(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.trim().split_once('-')?;
    let minutes = |t: &str| -> Option<u32> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    };
    let (a, b) = (minutes(a)?, minutes(b)?);
    (a != b).then_some((a, b))
}

const DAY_MS: i64 = 86_400_000;
const JST_MS: i64 = 9 * 3_600_000;

/// When a non-critical notification raised at `now_ms` may go out: now, or the end of the
/// quiet hours it falls in.
pub fn due_after_quiet(now_ms: i64, quiet: Option<(u32, u32)>) -> i64 {
    let Some((from, to)) = quiet else {
        return now_ms;
    };
    let local = now_ms + JST_MS;
    let day_start = local - local.rem_euclid(DAY_MS);
    let minute = (local - day_start) / 60_000;
    let (from, to) = (i64::from(from), i64::from(to));
    let inside = if from < to {
        minute >= from && minute < to
    } else {
        minute >= from || minute < to
    };
    if !inside {
        return now_ms;
    }
    let end_day = if from < to || minute < to {
        day_start
    } else {
        day_start + DAY_MS
    };
    end_day + to * 60_000 - JST_MS
}

/// Alerts raised longer ago than this are not announced (or escalated) any more: a channel
/// configured today does not announce last month's open alerts.
const NOTIFY_WINDOW_MS: i64 = DAY_MS;

/// Attempts before a notification is given up (shown as failed on the alert's page).
pub const MAX_ATTEMPTS: i64 = 10;

fn backoff_ms(attempts: i64) -> i64 {
    (30_000_i64 << attempts.clamp(0, 7)).min(3_600_000)
}

/// Runs until the task is dropped: plans notifications of new alerts and escalations, and
/// sends what is due.
pub async fn run(svc: Services, cfg: NotifyConfig) {
    let mut tick = tokio::time::interval(cfg.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = round(&svc, &cfg).await {
            tracing::error!(error = %e, "alert notification round failed");
        }
    }
}

/// One round: plan, then send what is due. Public for tests.
pub async fn round(svc: &Services, cfg: &NotifyConfig) -> anyhow::Result<usize> {
    let now = svc.clock.now_ms();
    let channels: Vec<&str> = cfg.channels().collect();
    if !channels.is_empty() {
        let fresh = svc
            .store
            .alerts_without_notification(
                "raised",
                cfg.min_level.rank(),
                now - NOTIFY_WINDOW_MS,
                now,
                false,
            )
            .await?;
        if !fresh.is_empty() {
            let mut w = svc.store.write().await?;
            for a in &fresh {
                let due = if a.level == AlertLevel::Critical.as_str() {
                    now
                } else {
                    due_after_quiet(now, cfg.quiet_hours)
                };
                for ch in &channels {
                    queue_notification(&mut w, a.id, "raised", ch, due).await?;
                }
            }
            w.commit().await?;
        }
    }
    if let (Some(after), true) = (cfg.escalate_after_ms, cfg.escalates()) {
        let late = svc
            .store
            .alerts_without_notification(
                "escalated",
                cfg.min_level.rank(),
                now - after - NOTIFY_WINDOW_MS,
                now - after,
                true,
            )
            .await?;
        if !late.is_empty() {
            let mut w = svc.store.write().await?;
            for a in &late {
                queue_notification(&mut w, a.id, "escalated", "escalation_email", now).await?;
            }
            w.commit().await?;
        }
    }
    let due = svc.store.due_notifications(now, MAX_ATTEMPTS).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let facility = svc
        .store
        .facility()
        .await?
        .map(|f| f.name)
        .unwrap_or_default();
    let mut sent = 0;
    // One client for the round (its TLS set-up is not repeated per message).
    let client = http_client(cfg);
    for n in &due {
        let Some(alert) = svc.store.alert(n.alert_id).await? else {
            continue;
        };
        let outcome = send(cfg, &client, n, &alert, &facility).await;
        let mut w = svc.store.write().await?;
        match &outcome {
            Ok(()) => {
                sent += 1;
                record_attempt(&mut w, n.id, svc.clock.now_ms(), Ok(())).await?;
            }
            Err(e) => {
                tracing::warn!(channel = %n.channel, alert = n.alert_id, error = %e, "notification failed");
                let text: String = e.chars().take(500).collect();
                record_attempt(
                    &mut w,
                    n.id,
                    svc.clock.now_ms(),
                    Err((&text, now + backoff_ms(n.attempts))),
                )
                .await?;
            }
        }
        w.commit().await?;
    }
    Ok(sent)
}

fn level_ja(level: &str) -> &'static str {
    match AlertLevel::parse(level) {
        Some(AlertLevel::Critical) => "重大",
        Some(AlertLevel::High) => "高",
        Some(AlertLevel::Medium) => "中",
        Some(AlertLevel::Low) => "低",
        _ => "情報",
    }
}

fn link(cfg: &NotifyConfig, a: &AlertRow) -> String {
    match &cfg.base_url {
        Some(base) => format!("{}/alerts/{}", base.trim_end_matches('/'), a.id),
        None => format!("/alerts/{}", a.id),
    }
}

/// The subject and text of an alert's e-mail (Japanese first, as the people reading it are).
pub fn message_text(
    cfg: &NotifyConfig,
    n: &NotificationRow,
    a: &AlertRow,
    facility: &str,
) -> (String, String) {
    let escalated = n.kind == "escalated";
    let subject = format!(
        "[mamori]{}[重大度 {}] {} ({} / {})",
        if escalated {
            "[未対応のまま]"
        } else {
            ""
        },
        level_ja(&a.level),
        a.title,
        a.host,
        a.actor.as_deref().unwrap_or("-"),
    );
    let mut body = String::new();
    if escalated {
        body.push_str(
            "このアラートは上がってから誰も担当していません。担当者を決めて確認してください。\n\n",
        );
    }
    body.push_str(&format!(
        "施設: {facility}\nアラート: {}\n重大度: {}\n端末・機器: {}\nアカウント: {}\n最初の検知: {}\n最後の検知: {}\n件数: {}\nルール: {}\n\n確認・対応: {}\n\n-- \nmamori（医療情報システムの安全管理）からの自動通知です。\n",
        a.title,
        level_ja(&a.level),
        a.host,
        a.actor.as_deref().unwrap_or("-"),
        fmt_jst(a.first_ms),
        fmt_jst(a.last_ms),
        a.count,
        a.rule_id,
        link(cfg, a),
    ));
    (subject, body)
}

fn fmt_jst(ms: i64) -> String {
    mamori_service::clock::to_jst(ms)
        .format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]"
        ))
        .unwrap_or_default()
}

async fn send(
    cfg: &NotifyConfig,
    client: &Result<reqwest::Client, String>,
    n: &NotificationRow,
    a: &AlertRow,
    facility: &str,
) -> Result<(), String> {
    match n.channel.as_str() {
        "email" | "escalation_email" => {
            let smtp = cfg.smtp.as_ref().ok_or("SMTP is no longer configured")?;
            let to = if n.channel == "email" {
                &smtp.to
            } else {
                &smtp.escalate_to
            };
            send_mail(
                smtp,
                cfg.ca_pem.as_deref(),
                to,
                message_text(cfg, n, a, facility),
            )
            .await
        }
        "webhook" => {
            let url = cfg
                .webhook_url
                .as_deref()
                .ok_or("the webhook is no longer configured")?;
            let (subject, _) = message_text(cfg, n, a, facility);
            let body = serde_json::json!({
                "text": subject,
                "alert": {
                    "id": a.id, "rule": a.rule_id, "title": a.title, "level": a.level,
                    "status": a.status, "host": a.host, "actor": a.actor,
                    "first": fmt_jst(a.first_ms), "last": fmt_jst(a.last_ms), "count": a.count,
                    "url": link(cfg, a), "kind": n.kind,
                },
                "facility": facility,
            });
            let r = client
                .as_ref()
                .map_err(Clone::clone)?
                .post(url)
                .json(&body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if r.status().is_success() {
                Ok(())
            } else {
                Err(format!("the webhook answered {}", r.status()))
            }
        }
        "syslog" => {
            let target = cfg
                .syslog
                .as_ref()
                .ok_or("syslog forwarding is no longer configured")?;
            send_syslog(target, &syslog_line(a, n)).await
        }
        other => Err(format!("unknown channel {other}")),
    }
}

async fn send_mail(
    smtp: &SmtpConfig,
    ca_pem: Option<&[u8]>,
    to: &[String],
    text: (String, String),
) -> Result<(), String> {
    let (subject, body) = text;
    let mut b = Message::builder()
        .from(smtp.from.parse().map_err(|e| format!("from: {e}"))?)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN);
    for t in to {
        b = b.to(t.parse().map_err(|e| format!("to {t}: {e}"))?);
    }
    let msg = b.body(body).map_err(|e| e.to_string())?;
    let tls = || -> Result<TlsParameters, String> {
        let mut p = TlsParameters::builder(smtp.host.clone());
        for block in ca_pem.map(pem_certificates).unwrap_or_default() {
            p = p.add_root_certificate(
                Certificate::from_pem(block.as_bytes()).map_err(|e| e.to_string())?,
            );
        }
        p.build_rustls().map_err(|e| e.to_string())
    };
    let plain = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.as_str());
    let builder = match smtp.security {
        SmtpSecurity::None => plain,
        SmtpSecurity::StartTls => plain.tls(Tls::Required(tls()?)),
        SmtpSecurity::Tls => plain.tls(Tls::Wrapper(tls()?)),
    };
    let mut builder = builder
        .port(smtp.port)
        .timeout(Some(Duration::from_secs(15)));
    if let (Some(u), Some(p)) = (&smtp.user, &smtp.password) {
        builder = builder.credentials(Credentials::new(u.clone(), p.expose().to_string()));
    }
    builder
        .build()
        .send(msg)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// An RFC 5424 line for the alert: facility local4 (20), severity by level.
pub fn syslog_line(a: &AlertRow, n: &NotificationRow) -> String {
    let severity = match AlertLevel::parse(&a.level) {
        Some(AlertLevel::Critical) => 2,
        Some(AlertLevel::High) => 3,
        Some(AlertLevel::Medium) => 4,
        Some(AlertLevel::Low) => 5,
        _ => 6,
    };
    let esc = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace(']', "\\]")
    };
    let stamp = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(a.last_ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "-".into());
    format!(
        "<{}>1 {stamp} mamori mamori - ALERT [alert@32473 id=\"{}\" rule=\"{}\" level=\"{}\" host=\"{}\" actor=\"{}\" count=\"{}\" kind=\"{}\"] {}",
        20 * 8 + severity,
        a.id,
        esc(&a.rule_id),
        esc(&a.level),
        esc(&a.host),
        esc(a.actor.as_deref().unwrap_or("")),
        a.count,
        esc(&n.kind),
        a.title.replace(['\r', '\n'], " "),
    )
}

async fn send_syslog(target: &SyslogForward, line: &str) -> Result<(), String> {
    use tokio::io::AsyncWriteExt;
    match target {
        SyslogForward::Udp(addr) => {
            let bind = if addr.is_ipv4() {
                "0.0.0.0:0"
            } else {
                "[::]:0"
            };
            let sock = tokio::net::UdpSocket::bind(bind)
                .await
                .map_err(|e| e.to_string())?;
            sock.send_to(line.as_bytes(), addr)
                .await
                .map_err(|e| e.to_string())?;
            Ok(())
        }
        SyslogForward::Tcp(addr) => {
            let mut s = tokio::time::timeout(
                Duration::from_secs(10),
                tokio::net::TcpStream::connect(addr),
            )
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| e.to_string())?;
            // RFC 6587 octet counting.
            let framed = format!("{} {line}", line.len());
            s.write_all(framed.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            s.shutdown().await.map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_wrap_midnight_and_end_in_japan_time() {
        let q = parse_quiet_hours("22:00-07:00");
        assert_eq!(q, Some((22 * 60, 7 * 60)));
        assert_eq!(parse_quiet_hours("25:00-07:00"), None);
        assert_eq!(parse_quiet_hours("07:00-07:00"), None);
        assert_eq!(parse_quiet_hours("nonsense"), None);
        // 2026-12-01 23:30 JST = 14:30 UTC; the quiet hours end 2026-12-02 07:00 JST = 22:00 UTC.
        let at = |d: u8, h: u8, m: u8| {
            time::macros::datetime!(2026-12-01 00:00 UTC)
                .replace_day(d)
                .unwrap()
                .replace_hour(h)
                .unwrap()
                .replace_minute(m)
                .unwrap()
                .unix_timestamp()
                * 1000
        };
        assert_eq!(due_after_quiet(at(1, 14, 30), q), at(1, 22, 0));
        // 03:00 JST (18:00 UTC the day before): the same morning at 07:00 JST.
        assert_eq!(due_after_quiet(at(1, 18, 0), q), at(1, 22, 0));
        // 12:00 JST: now.
        assert_eq!(due_after_quiet(at(1, 3, 0), q), at(1, 3, 0));
        // A daytime window.
        let lunch = parse_quiet_hours("12:00-13:00");
        assert_eq!(due_after_quiet(at(1, 3, 30), lunch), at(1, 4, 0));
        assert_eq!(due_after_quiet(at(1, 3, 30), None), at(1, 3, 30));
    }

    #[test]
    fn retries_back_off_to_an_hour() {
        assert_eq!(backoff_ms(0), 30_000);
        assert_eq!(backoff_ms(1), 60_000);
        assert_eq!(backoff_ms(9), 3_600_000);
    }
}
