//! The hourly check of this server's clock against the facility's time server (SNTP, RFC 5905,
//! with `rsntp`). Every receive time, and so every source's clock estimate, is read from this
//! clock: a finding when it is off is the guideline's "synchronised, trustworthy time".

use mamori_service::Services;
use mamori_storage::sources::ClockCheck;
use std::time::Duration;

/// How long one query may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// How often the clock is checked.
pub const EVERY: Duration = Duration::from_secs(3600);

/// `host` gets the NTP port; `host:port` and `[v6]:port` are kept.
fn with_port(server: &str) -> String {
    let has_port = match server.rsplit_once(':') {
        Some((host, port)) => {
            port.parse::<u16>().is_ok() && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    };
    if has_port {
        server.to_string()
    } else if server.contains(':') && !server.starts_with('[') {
        format!("[{server}]:123")
    } else {
        format!("{server}:123")
    }
}

/// Asks `server` once: server time minus ours, in ms.
pub async fn query(server: &str) -> Result<i64, String> {
    let mut client = rsntp::AsyncSntpClient::new();
    client.set_timeout(TIMEOUT);
    let r = client
        .synchronize(with_port(server).as_str())
        .await
        .map_err(|e| e.to_string())?;
    Ok((r.clock_offset().as_secs_f64() * 1000.0).round() as i64)
}

/// Checks now and records the result.
pub async fn check_and_record(svc: &Services, server: &str) {
    let at_ms = svc.clock.now_ms();
    let outcome = query(server).await;
    if let Err(e) = &outcome {
        tracing::warn!(server, error = %e, "the time server did not answer");
    }
    let check = ClockCheck {
        at_ms,
        server: server.to_string(),
        offset_ms: outcome.as_ref().ok().copied(),
        error: outcome.err().unwrap_or_default(),
    };
    if let Err(e) = svc.record_clock_check(&check).await {
        tracing::error!(error = %e, "recording the clock check failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ntp_port_is_added_when_missing() {
        assert_eq!(with_port("ntp.clinic.local"), "ntp.clinic.local:123");
        assert_eq!(with_port("192.168.1.1:10123"), "192.168.1.1:10123");
        assert_eq!(with_port("fe80::1"), "[fe80::1]:123");
        assert_eq!(with_port("[fe80::1]:123"), "[fe80::1]:123");
    }
}
