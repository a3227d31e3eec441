//! The PC's clock against the facility's time server (SNTP, RFC 5905, with `rsntp`): logs from
//! a PC whose clock is off cannot be lined up with the server's, and the guideline asks for
//! synchronised time. The agent reports the offset with each inventory.

pub use mamori_proto::agent::ClockCheck;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// `server` as an address: `host` or an address gets port 123, `host:port` and `[v6]:port` keep
/// theirs.
fn address(server: &str) -> Result<SocketAddr, String> {
    let direct = server.parse::<SocketAddr>().ok().or_else(|| {
        server
            .parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 123))
    });
    if let Some(a) = direct {
        return Ok(a);
    }
    let resolved = match server.rsplit_once(':') {
        Some((_, port)) if port.parse::<u16>().is_ok() => server.to_socket_addrs(),
        _ => (server, 123).to_socket_addrs(),
    };
    resolved
        .map_err(|e| format!("{server}: {e}"))?
        .next()
        .ok_or_else(|| format!("{server}: no address"))
}

/// Asks `server` once, waiting at most `timeout`.
pub fn check(server: &str, timeout: Duration) -> ClockCheck {
    let outcome = address(server).and_then(|addr| {
        let mut client = rsntp::SntpClient::new();
        client.set_timeout(timeout);
        client
            .synchronize(addr)
            .map(|r| (r.clock_offset().as_secs_f64() * 1000.0).round() as i64)
            .map_err(|e| e.to_string())
    });
    ClockCheck {
        server: server.to_string(),
        offset_ms: outcome.as_ref().ok().copied(),
        error: outcome.err().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_get_the_ntp_port_when_they_have_none() {
        assert_eq!(
            address("192.168.1.1").unwrap().to_string(),
            "192.168.1.1:123"
        );
        assert_eq!(address("192.168.1.1:10123").unwrap().port(), 10123);
        assert_eq!(address("fe80::1").unwrap().to_string(), "[fe80::1]:123");
        assert_eq!(address("[::1]:4123").unwrap().port(), 4123);
        assert_eq!(address("localhost").unwrap().port(), 123);
        assert!(address("no-such-host.invalid").is_err());
    }
}
