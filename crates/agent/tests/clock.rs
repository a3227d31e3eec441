//! The clock check against a time server on loopback that runs five seconds ahead, and against
//! one that does not answer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mamori_agent::clock::check;
use std::net::UdpSocket;
use std::time::Duration;

/// Answers SNTP requests with its clock `ahead_s` seconds ahead, until the socket is dropped.
fn time_server(ahead_s: f64) -> String {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut buf = [0u8; 128];
        while let Ok((n, peer)) = sock.recv_from(&mut buf) {
            if n < 48 {
                continue;
            }
            // The test's own clock, as the server's: allowed in a test, it is the thing measured.
            #[allow(clippy::disallowed_methods)]
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64()
                + ahead_s;
            let secs = now.trunc() as u64 + 2_208_988_800;
            let frac = (now.fract() * 4_294_967_296.0) as u64;
            let stamp = ((secs << 32) | frac).to_be_bytes();
            let mut reply = [0u8; 48];
            reply[0] = 0b00_100_100; // no leap warning, version 4, mode 4 (server)
            reply[1] = 2; // stratum
            reply[12..16].copy_from_slice(b"GPS\0");
            reply[16..24].copy_from_slice(&stamp);
            reply[24..32].copy_from_slice(&buf[40..48]); // originate = the client's transmit
            reply[32..40].copy_from_slice(&stamp);
            reply[40..48].copy_from_slice(&stamp);
            let _ = sock.send_to(&reply, peer);
        }
    });
    addr
}

#[test]
fn the_offset_against_a_time_server_is_measured() {
    let server = time_server(5.0);
    let c = check(&server, Duration::from_secs(2));
    assert_eq!(c.error, "");
    let off = c.offset_ms.expect("an answer");
    assert!((4_800..=5_200).contains(&off), "offset {off} ms");
}

#[test]
fn a_silent_time_server_is_an_error_not_a_hang() {
    // A bound socket that never answers.
    let quiet = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = quiet.local_addr().unwrap().to_string();
    let started = std::time::Instant::now();
    let c = check(&addr, Duration::from_millis(300));
    assert_eq!(c.offset_ms, None);
    assert!(!c.error.is_empty());
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(quiet);
}
