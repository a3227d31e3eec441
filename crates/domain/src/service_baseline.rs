//! Service baselines (2-⑫ servers, 2-⑬ PCs): which network ports may be open and which
//! services may run on the facility's devices of one class, written by the administrator as
//! text lines and checked against what each endpoint agent reports.
//!
//! ```text
//! # 電子カルテサーバ
//! tcp/443            # 電子カルテの画面
//! tcp/5432           # データベース（端末から）
//! udp/123            # 時刻同期
//! tcp/49152-65535    # 範囲も書ける
//! postgresql.service
//! ssh                # 「.service」は省略できる
//! getty@*.service    # * は任意の文字列
//! ```
//!
//! A port line is `tcp/N`, `udp/N` or a range `tcp/N-M`; any other word is a systemd service
//! name, with `*` as a wildcard. `#` starts a comment. Sockets that listen only on a loopback
//! address cannot be reached from the network and are not compared (their services are).

/// Lines in one baseline at most.
pub const MAX_RULES: usize = 500;

/// A line that does not read: its number (from 1) and why, as a message code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub code: &'static str,
}

/// One allowed thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// `proto` is `tcp` or `udp`; the ports `from..=to`.
    Port {
        proto: &'static str,
        from: u16,
        to: u16,
    },
    /// A unit name (always ending in `.service`), `*` matching any run of characters.
    Service(String),
}

/// The parsed allow-list of one asset class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceBaseline {
    pub rules: Vec<Rule>,
}

fn port_number(s: &str) -> Option<u16> {
    match s.parse::<u16>() {
        Ok(n) if n > 0 && !s.starts_with('+') => Some(n),
        _ => None,
    }
}

fn service_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | ':' | '\\' | '*')
}

/// Reads a baseline, one rule per line (see the module's example); the first line that does
/// not read is the error (`AGT0080` not a port or service, `AGT0081` a port number out of
/// 1–65535 or a range backwards, `AGT0082` more than [`MAX_RULES`] lines).
pub fn parse(text: &str) -> Result<ServiceBaseline, LineError> {
    let mut rules = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |code| LineError { line, code };
        let body = raw.split('#').next().unwrap_or("").trim();
        if body.is_empty() {
            continue;
        }
        let mut words = body.split_whitespace();
        let word = words.next().unwrap_or("");
        if words.next().is_some() {
            return Err(err("AGT0080"));
        }
        let lower = word.to_ascii_lowercase();
        let port = lower
            .strip_prefix("tcp/")
            .map(|r| ("tcp", r))
            .or_else(|| lower.strip_prefix("udp/").map(|r| ("udp", r)));
        let rule = if let Some((proto, range)) = port {
            let (a, b) = range.split_once('-').unwrap_or((range, range));
            let (Some(from), Some(to)) = (port_number(a), port_number(b)) else {
                return Err(err("AGT0081"));
            };
            if from > to {
                return Err(err("AGT0081"));
            }
            Rule::Port { proto, from, to }
        } else {
            // systemd's unit names are at most 256 characters.
            if word.len() > 256 || !word.chars().all(service_char) || word.starts_with(['.', '-']) {
                return Err(err("AGT0080"));
            }
            let name = if word.contains('.') && !word.ends_with('.') {
                word.to_string()
            } else {
                format!("{}.service", word.trim_end_matches('.'))
            };
            if !name.ends_with(".service") {
                return Err(err("AGT0080"));
            }
            Rule::Service(name)
        };
        if rules.len() == MAX_RULES {
            return Err(err("AGT0082"));
        }
        rules.push(rule);
    }
    Ok(ServiceBaseline { rules })
}

/// `text` matches `pattern`, where `*` stands for any run of characters (none included).
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for p in middle {
        match rest.find(p) {
            Some(at) => rest = &rest[at + p.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// A listening socket an agent reported, as the baseline sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Port {
    pub proto: String,
    pub port: u16,
}

impl Port {
    /// `tcp/22`, as a baseline line would allow it.
    pub fn text(&self) -> String {
        format!("{}/{}", self.proto, self.port)
    }
}

/// Whether a listening address is a loopback one (`127.x.x.x`, `::1`): reachable from this
/// machine only.
pub fn loopback(address: &str) -> bool {
    address.starts_with("127.") || address == "::1" || address.starts_with("::ffff:127.")
}

impl ServiceBaseline {
    pub fn allows_port(&self, p: &Port) -> bool {
        self.rules.iter().any(|r| match r {
            Rule::Port { proto, from, to } => *proto == p.proto && (*from..=*to).contains(&p.port),
            Rule::Service(_) => false,
        })
    }

    pub fn allows_service(&self, unit: &str) -> bool {
        self.rules.iter().any(|r| match r {
            Rule::Service(pattern) => wildcard(pattern, unit),
            Rule::Port { .. } => false,
        })
    }

    /// What a device runs beyond the baseline: its ports (`tcp/5900`) then its services, each
    /// once, in order.
    pub fn extras(&self, ports: &[Port], services: &[String]) -> Vec<String> {
        let mut out: Vec<String> = ports
            .iter()
            .filter(|p| !self.allows_port(p))
            .map(Port::text)
            .collect();
        out.sort();
        out.dedup();
        let mut units: Vec<String> = services
            .iter()
            .filter(|s| !self.allows_service(s))
            .cloned()
            .collect();
        units.sort();
        units.dedup();
        out.extend(units);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_ports_ranges_and_services() {
        let b = parse(
            "# サーバ\n\ntcp/443  # 画面\nUDP/123\ntcp/49152-65535\nssh\npostgresql@15-main.service\ngetty@*.service\n",
        )
        .unwrap();
        assert_eq!(b.rules.len(), 6);
        assert_eq!(
            b.rules[2],
            Rule::Port {
                proto: "tcp",
                from: 49152,
                to: 65535
            }
        );
        assert_eq!(b.rules[3], Rule::Service("ssh.service".into()));
        let port = |proto: &str, port| Port {
            proto: proto.into(),
            port,
        };
        assert!(b.allows_port(&port("tcp", 443)));
        assert!(b.allows_port(&port("udp", 123)));
        assert!(!b.allows_port(&port("tcp", 123)));
        assert!(b.allows_port(&port("tcp", 50000)));
        assert!(b.allows_service("getty@tty1.service"));
        assert!(!b.allows_service("anydesk.service"));
        assert_eq!(
            b.extras(
                &[port("tcp", 5900), port("tcp", 443), port("tcp", 5900)],
                &["anydesk.service".into(), "ssh.service".into()]
            ),
            ["tcp/5900", "anydesk.service"]
        );
    }

    #[test]
    fn a_bad_line_is_named_by_its_number() {
        assert_eq!(
            parse("tcp/22\ntcp/0\n"),
            Err(LineError {
                line: 2,
                code: "AGT0081"
            })
        );
        assert_eq!(parse("tcp/70000").unwrap_err().code, "AGT0081");
        assert_eq!(parse("tcp/443-80").unwrap_err().code, "AGT0081");
        assert_eq!(parse("tcp/ssh").unwrap_err().code, "AGT0081");
        assert_eq!(parse("\n\nssh allow").unwrap_err().line, 3);
        assert_eq!(parse("cups.socket").unwrap_err().code, "AGT0080");
        assert_eq!(parse("リモート").unwrap_err().code, "AGT0080");
        assert_eq!(parse("-x").unwrap_err().code, "AGT0080");
        assert_eq!(parse(&"a".repeat(300)).unwrap_err().code, "AGT0080");
        let many = "tcp/22\n".repeat(MAX_RULES + 1);
        assert_eq!(
            parse(&many),
            Err(LineError {
                line: MAX_RULES + 1,
                code: "AGT0082"
            })
        );
    }

    #[test]
    fn wildcards_match_runs_of_characters() {
        assert!(wildcard("a*b", "ab"));
        assert!(wildcard("a*b", "axxb"));
        assert!(!wildcard("a*b", "axxbc"));
        assert!(wildcard("*", ""));
        assert!(wildcard("*.service", "x.service"));
        assert!(wildcard("a*b*c", "abbc"));
        assert!(!wildcard("ab*ba", "aba"));
        assert!(wildcard("exact", "exact"));
        assert!(!wildcard("exact", "exact2"));
    }

    #[test]
    fn loopback_addresses_are_known() {
        assert!(loopback("127.0.0.1") && loopback("127.0.0.53") && loopback("::1"));
        assert!(!loopback("0.0.0.0") && !loopback("::") && !loopback("192.168.1.5"));
    }
}
