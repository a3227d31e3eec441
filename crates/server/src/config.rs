//! Configuration in two stages: a raw, deserialised [`RawConfig`] built from layers (defaults →
//! TOML file → `MAMORI_` environment → command-line flags), then a validated [`Config`].
//! Unknown keys are errors that name the key; secrets redact themselves.

use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A secret value: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The file/env/flag shape. Every field optional; defaults apply in [`RawConfig::validate`].
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub database_url_file: Option<PathBuf>,
    #[serde(default)]
    pub tls: RawTls,
    #[serde(default)]
    pub auth: RawAuth,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub webauthn: RawWebauthn,
    #[serde(default)]
    pub seal: RawSeal,
    #[serde(default)]
    pub reports: RawReports,
    #[serde(default)]
    pub syslog: RawSyslog,
    #[serde(default)]
    pub time: RawTime,
    #[serde(default)]
    pub notify: RawNotify,
    #[serde(default)]
    pub detect: RawDetect,
    #[serde(default)]
    pub directory: RawDirectory,
    pub log: Option<String>,
}

/// `[directory]`: a scheduled import of accounts from Active Directory / LDAP (the same as
/// `mamori accounts sync ldap`).
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawDirectory {
    /// `ldaps://dc01.clinic.local:636`; the sync runs only when this is set.
    pub url: Option<String>,
    pub bind_dn: Option<String>,
    /// File holding the bind password (first line), read at every sync.
    pub password_file: Option<PathBuf>,
    pub base: Option<String>,
    /// The ledger system the accounts belong to: its name or id.
    pub system: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub starttls: Option<bool>,
    /// Groups whose members are admins (default: Domain Admins, Administrators, Enterprise Admins).
    pub admin_groups: Option<Vec<String>>,
    /// Minutes between syncs (default 60, 5 to 10080); one also runs at start.
    pub every_minutes: Option<u32>,
}

/// The scheduled directory sync, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryConfig {
    pub url: String,
    pub bind_dn: String,
    pub password_file: PathBuf,
    pub base: String,
    pub system: String,
    pub ca_file: Option<PathBuf>,
    pub starttls: bool,
    pub admin_groups: Vec<String>,
    pub every: std::time::Duration,
}

impl RawDirectory {
    fn validate(self) -> Result<Option<DirectoryConfig>, ConfigError> {
        let Some(url) = self
            .url
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
        else {
            return Ok(None);
        };
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("ldap://") || lower.starts_with("ldaps://")) {
            return Err(ConfigError::Invalid {
                key: "directory.url",
                message: format!("`{url}` is not an ldap:// or ldaps:// URL"),
            });
        }
        let need = |v: Option<String>, key: &'static str| {
            v.map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .ok_or(ConfigError::Invalid {
                    key,
                    message: "is needed when directory.url is set".into(),
                })
        };
        let bind_dn = need(self.bind_dn, "directory.bind_dn")?;
        let base = need(self.base, "directory.base")?;
        let system = need(self.system, "directory.system")?;
        let password_file = self.password_file.ok_or(ConfigError::Invalid {
            key: "directory.password_file",
            message: "is needed when directory.url is set".into(),
        })?;
        match std::fs::read_to_string(&password_file) {
            Ok(t) if t.lines().next().is_some_and(|l| !l.is_empty()) => {}
            Ok(_) => {
                return Err(ConfigError::Invalid {
                    key: "directory.password_file",
                    message: format!("{} is empty", password_file.display()),
                });
            }
            Err(e) => {
                return Err(ConfigError::Invalid {
                    key: "directory.password_file",
                    message: format!("{}: {e}", password_file.display()),
                });
            }
        }
        if let Some(ca) = self.ca_file.as_ref().filter(|p| !p.exists()) {
            return Err(ConfigError::Invalid {
                key: "directory.ca_file",
                message: format!("{} does not exist", ca.display()),
            });
        }
        let minutes = self.every_minutes.unwrap_or(60);
        if !(5..=10_080).contains(&minutes) {
            return Err(ConfigError::Invalid {
                key: "directory.every_minutes",
                message: format!("{minutes} must be between 5 and 10080"),
            });
        }
        Ok(Some(DirectoryConfig {
            url,
            bind_dn,
            password_file,
            base,
            system,
            ca_file: self.ca_file,
            starttls: self.starttls.unwrap_or(false),
            admin_groups: self
                .admin_groups
                .filter(|g| !g.is_empty())
                .unwrap_or_else(|| {
                    crate::directory::ADMIN_GROUPS
                        .iter()
                        .map(|g| g.to_string())
                        .collect()
                }),
            every: std::time::Duration::from_secs(u64::from(minutes) * 60),
        }))
    }
}

/// `[detect]`: live detection over collected events.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawDetect {
    /// Run the detection rules over collected events (default true).
    pub enabled: Option<bool>,
    /// Folders (or files) of further Sigma rules, e.g. SigmaHQ's `rules/windows`, run beside the
    /// shipped rules for medical settings.
    pub rules: Option<Vec<PathBuf>>,
}

/// Live detection, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectConfig {
    pub enabled: bool,
    pub rules: Vec<PathBuf>,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            enabled: true,
            rules: Vec::new(),
        }
    }
}

/// `[notify]`: who hears about alerts, and how.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    /// `host:port` of the facility's SMTP server.
    pub smtp_server: Option<String>,
    /// `none` (a relay on the facility network), `starttls` or `tls`.
    pub smtp_security: Option<String>,
    pub smtp_from: Option<String>,
    pub smtp_to: Option<Vec<String>>,
    pub smtp_user: Option<String>,
    /// A file holding the SMTP password (not the password itself).
    pub smtp_password_file: Option<PathBuf>,
    pub webhook_url: Option<String>,
    /// `udp://host:port` or `tcp://host:port`.
    pub syslog_forward: Option<String>,
    /// The lowest alert level notified: informational, low, medium, high (default), critical.
    pub min_level: Option<String>,
    /// `HH:MM-HH:MM`, Japan time: only critical alerts go out at once inside it.
    pub quiet_hours: Option<String>,
    pub escalate_after_minutes: Option<u32>,
    pub escalate_to: Option<Vec<String>>,
    /// The address people open mamori at, for links in messages.
    pub base_url: Option<String>,
    /// PEM file of the facility's own certificate authority, trusted (besides the public roots)
    /// for an https webhook and for SMTP over TLS on the facility network.
    pub ca_file: Option<PathBuf>,
    /// How often the outbox is looked at (seconds, default 10).
    pub every_seconds: Option<u32>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawTime {
    /// The facility's time server (host or host:port, SNTP). mamori checks its own clock against
    /// it every hour; receive times, and every source's clock estimate, rest on that clock.
    pub ntp_server: Option<String>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawSyslog {
    /// Receive syslog over UDP on this address (e.g. `0.0.0.0:514`). Best effort: counted.
    pub udp: Option<String>,
    /// Receive syslog over TCP (RFC 6587 octet counting or line ends).
    pub tcp: Option<String>,
    /// Receive syslog over TLS (RFC 5425) with the server's certificate.
    pub tls: Option<String>,
    /// A source whose clock is further off than this many seconds raises a finding (default 60).
    pub clock_tolerance_seconds: Option<u32>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawReports {
    /// The Japanese font embedded in PDF forms. Unset: searched in the usual places
    /// ([`crate::fonts::find_japanese_font`]).
    pub font_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawSeal {
    /// Delete sealed records older than this many days (whole segments). Unset: keep everything.
    pub retention_days: Option<u32>,
    /// Verify the whole sealed log once a day (default: on).
    pub daily_verification: Option<bool>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawWebauthn {
    /// The host name users type (browsers refuse IP addresses for security keys).
    pub rp_id: Option<String>,
    /// The exact origin, e.g. `https://mamori.clinic.local:8443`; derived from rp_id and port when absent.
    pub origin: Option<String>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// `auto` (default: generated certificate), `files`, or `off` (loopback only).
    pub mode: Option<String>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// The certificate the server will present next (PEM): its pin goes to the agents in
    /// their signed policy before the switch, so that renewing the certificate does not cut
    /// them off.
    pub next_cert_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    pub argon2_memory_kib: Option<u32>,
    pub argon2_iterations: Option<u32>,
    pub max_concurrent_hashes: Option<usize>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub max_body_bytes: Option<usize>,
}

/// How the server speaks TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// Generate a self-signed certificate under the data dir on first start.
    Auto,
    /// Use the given PEM files.
    Files { cert: PathBuf, key: PathBuf },
    /// Plain HTTP (only on a loopback address).
    Off,
}

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum Database {
    /// Embedded SQLite under the data dir.
    Embedded,
    /// PostgreSQL.
    Url(Secret),
}

/// The validated runtime configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database: Database,
    pub tls: TlsMode,
    /// See [`RawTls::next_cert_file`].
    pub tls_next_cert: Option<PathBuf>,
    pub argon2: mamori_service::Argon2Params,
    pub max_concurrent_hashes: usize,
    pub max_body_bytes: usize,
    /// Security keys: relying party id (host name). `None`: derived at start (loopback → `localhost`).
    pub webauthn_rp_id: Option<String>,
    pub webauthn_origin: Option<String>,
    /// Sealed-log retention in days; `None` keeps everything.
    pub seal_retention_days: Option<u32>,
    /// Font file for PDF forms; `None`: search the usual places.
    pub reports_font_file: Option<PathBuf>,
    /// Verify the whole sealed log once a day, as an inspector would, and record the result.
    pub seal_daily_verification: bool,
    /// Syslog listeners.
    pub syslog: SyslogListen,
    /// A source clock further off than this (ms) raises a finding.
    pub clock_tolerance_ms: i64,
    /// The time server this server's clock is checked against (`host` or `host:port`).
    pub ntp_server: Option<String>,
    /// Alert notifications.
    pub notify: crate::notify::NotifyConfig,
    /// Live detection.
    pub detect: DetectConfig,
    /// The scheduled directory sync, when `[directory] url` is set.
    pub directory: Option<DirectoryConfig>,
    pub log: String,
}

/// Where syslog is received; `None`: not at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyslogListen {
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    pub tls: Option<SocketAddr>,
}

fn syslog_addr(key: &'static str, v: Option<String>) -> Result<Option<SocketAddr>, ConfigError> {
    match v {
        None => Ok(None),
        Some(t) if t.trim().is_empty() => Ok(None),
        Some(t) => t
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| ConfigError::Invalid {
                key,
                message: format!("`{t}` is not an address:port such as 0.0.0.0:514"),
            }),
    }
}

/// A configuration problem, naming the key and where it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("config key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

impl RawConfig {
    /// Reads a TOML file (unknown keys are errors).
    pub fn from_file(path: &Path) -> Result<RawConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Reads `MAMORI_*` variables: `MAMORI_DATA_DIR`, `MAMORI_TLS__MODE` (`__` nests).
    /// `MAMORI_TEST_*` and `MAMORI_LOG_*`-style tool variables are not configuration.
    pub fn from_env(
        vars: impl Iterator<Item = (String, String)>,
    ) -> Result<RawConfig, ConfigError> {
        let mut root = toml::Table::new();
        for (k, v) in vars {
            let Some(rest) = k.strip_prefix("MAMORI_") else {
                continue;
            };
            // MAMORI_LDAP_PASSWORD: the bind password of `mamori accounts sync ldap`.
            if rest.starts_with("TEST_") || rest == "CONFIG" || rest == "LDAP_PASSWORD" {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(|p| p.to_lowercase()).collect();
            let value = match toml::from_str::<toml::Table>(&format!("v = {v}")) {
                Ok(t) => t
                    .get("v")
                    .cloned()
                    .unwrap_or(toml::Value::String(v.clone())),
                Err(_) => toml::Value::String(v.clone()),
            };
            // Values that are paths or URLs stay strings even if they look like TOML.
            let value = match value {
                toml::Value::Integer(_) | toml::Value::Boolean(_) | toml::Value::String(_) => value,
                _ => toml::Value::String(v.clone()),
            };
            // Check the variable on its own first, so that an error names it.
            let mut alone = toml::Table::new();
            insert_path(&mut alone, &path, value.clone()).map_err(|message| ConfigError::Env {
                var: k.clone(),
                message,
            })?;
            toml::Value::Table(alone)
                .try_into::<RawConfig>()
                .map_err(|e| ConfigError::Env {
                    var: k.clone(),
                    message: e.to_string(),
                })?;
            insert_path(&mut root, &path, value).map_err(|message| ConfigError::Env {
                var: k.clone(),
                message,
            })?;
        }
        let raw: RawConfig =
            toml::Value::Table(root)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Env {
                    var: "MAMORI_*".into(),
                    message: e.to_string(),
                })?;
        Ok(raw)
    }

    /// Layers `other` over `self`: set values in `other` win.
    pub fn merge(self, other: RawConfig) -> RawConfig {
        RawConfig {
            listen: other.listen.or(self.listen),
            data_dir: other.data_dir.or(self.data_dir),
            database_url: other.database_url.or(self.database_url),
            database_url_file: other.database_url_file.or(self.database_url_file),
            tls: RawTls {
                mode: other.tls.mode.or(self.tls.mode),
                cert_file: other.tls.cert_file.or(self.tls.cert_file),
                key_file: other.tls.key_file.or(self.tls.key_file),
                next_cert_file: other.tls.next_cert_file.or(self.tls.next_cert_file),
            },
            auth: RawAuth {
                argon2_memory_kib: other.auth.argon2_memory_kib.or(self.auth.argon2_memory_kib),
                argon2_iterations: other.auth.argon2_iterations.or(self.auth.argon2_iterations),
                max_concurrent_hashes: other
                    .auth
                    .max_concurrent_hashes
                    .or(self.auth.max_concurrent_hashes),
            },
            limits: RawLimits {
                max_body_bytes: other.limits.max_body_bytes.or(self.limits.max_body_bytes),
            },
            webauthn: RawWebauthn {
                rp_id: other.webauthn.rp_id.or(self.webauthn.rp_id),
                origin: other.webauthn.origin.or(self.webauthn.origin),
            },
            seal: RawSeal {
                retention_days: other.seal.retention_days.or(self.seal.retention_days),
                daily_verification: other
                    .seal
                    .daily_verification
                    .or(self.seal.daily_verification),
            },
            reports: RawReports {
                font_file: other.reports.font_file.or(self.reports.font_file),
            },
            syslog: RawSyslog {
                udp: other.syslog.udp.or(self.syslog.udp),
                tcp: other.syslog.tcp.or(self.syslog.tcp),
                tls: other.syslog.tls.or(self.syslog.tls),
                clock_tolerance_seconds: other
                    .syslog
                    .clock_tolerance_seconds
                    .or(self.syslog.clock_tolerance_seconds),
            },
            time: RawTime {
                ntp_server: other.time.ntp_server.or(self.time.ntp_server),
            },
            notify: RawNotify {
                smtp_server: other.notify.smtp_server.or(self.notify.smtp_server),
                smtp_security: other.notify.smtp_security.or(self.notify.smtp_security),
                smtp_from: other.notify.smtp_from.or(self.notify.smtp_from),
                smtp_to: other.notify.smtp_to.or(self.notify.smtp_to),
                smtp_user: other.notify.smtp_user.or(self.notify.smtp_user),
                smtp_password_file: other
                    .notify
                    .smtp_password_file
                    .or(self.notify.smtp_password_file),
                webhook_url: other.notify.webhook_url.or(self.notify.webhook_url),
                syslog_forward: other.notify.syslog_forward.or(self.notify.syslog_forward),
                min_level: other.notify.min_level.or(self.notify.min_level),
                quiet_hours: other.notify.quiet_hours.or(self.notify.quiet_hours),
                escalate_after_minutes: other
                    .notify
                    .escalate_after_minutes
                    .or(self.notify.escalate_after_minutes),
                escalate_to: other.notify.escalate_to.or(self.notify.escalate_to),
                base_url: other.notify.base_url.or(self.notify.base_url),
                ca_file: other.notify.ca_file.or(self.notify.ca_file),
                every_seconds: other.notify.every_seconds.or(self.notify.every_seconds),
            },
            detect: RawDetect {
                enabled: other.detect.enabled.or(self.detect.enabled),
                rules: other.detect.rules.or(self.detect.rules),
            },
            directory: RawDirectory {
                url: other.directory.url.or(self.directory.url),
                bind_dn: other.directory.bind_dn.or(self.directory.bind_dn),
                password_file: other
                    .directory
                    .password_file
                    .or(self.directory.password_file),
                base: other.directory.base.or(self.directory.base),
                system: other.directory.system.or(self.directory.system),
                ca_file: other.directory.ca_file.or(self.directory.ca_file),
                starttls: other.directory.starttls.or(self.directory.starttls),
                admin_groups: other.directory.admin_groups.or(self.directory.admin_groups),
                every_minutes: other
                    .directory
                    .every_minutes
                    .or(self.directory.every_minutes),
            },
            log: other.log.or(self.log),
        }
    }

    /// Applies defaults and checks every value.
    pub fn validate(self, default_data_dir: &Path) -> Result<Config, ConfigError> {
        let listen_text = self.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen: SocketAddr = listen_text.parse().map_err(|_| ConfigError::Invalid {
            key: "listen",
            message: format!("`{listen_text}` is not an address:port such as 127.0.0.1:8443"),
        })?;
        let data_dir = self
            .data_dir
            .unwrap_or_else(|| default_data_dir.to_path_buf());
        let url = match (self.database_url, self.database_url_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid {
                    key: "database_url",
                    message: "give database_url or database_url_file, not both".into(),
                });
            }
            (Some(u), None) => Some(u),
            (None, Some(f)) => Some(
                std::fs::read_to_string(&f)
                    .map_err(|e| ConfigError::Invalid {
                        key: "database_url_file",
                        message: format!("{}: {e}", f.display()),
                    })?
                    .trim()
                    .to_string(),
            ),
            (None, None) => None,
        };
        let database = match url {
            None => Database::Embedded,
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Database::Url(Secret::new(u))
            }
            Some(u) if u.starts_with("sqlite:") => Database::Url(Secret::new(u)),
            Some(_) => {
                return Err(ConfigError::Invalid {
                    key: "database_url",
                    message: "must start with postgres:// (or sqlite:)".into(),
                });
            }
        };
        let tls_next_cert = self.tls.next_cert_file.clone();
        let tls = match self.tls.mode.as_deref().unwrap_or("auto") {
            "auto" => TlsMode::Auto,
            "off" => TlsMode::Off,
            "files" => match (self.tls.cert_file, self.tls.key_file) {
                (Some(cert), Some(key)) => TlsMode::Files { cert, key },
                _ => {
                    return Err(ConfigError::Invalid {
                        key: "tls.mode",
                        message: "`files` needs tls.cert_file and tls.key_file".into(),
                    });
                }
            },
            other => {
                return Err(ConfigError::Invalid {
                    key: "tls.mode",
                    message: format!("`{other}` is not one of auto, files, off"),
                });
            }
        };
        if tls == TlsMode::Off && !listen.ip().is_loopback() {
            return Err(ConfigError::Invalid {
                key: "tls.mode",
                message: format!(
                    "plain HTTP is allowed only on a loopback address, not {listen}; use tls.mode = \"auto\""
                ),
            });
        }
        let defaults = mamori_service::Argon2Params::default();
        let memory_kib = self.auth.argon2_memory_kib.unwrap_or(defaults.memory_kib);
        if !(8_192..=1_048_576).contains(&memory_kib) {
            return Err(ConfigError::Invalid {
                key: "auth.argon2_memory_kib",
                message: "must be between 8192 and 1048576".into(),
            });
        }
        let iterations = self.auth.argon2_iterations.unwrap_or(defaults.iterations);
        if !(1..=20).contains(&iterations) {
            return Err(ConfigError::Invalid {
                key: "auth.argon2_iterations",
                message: "must be between 1 and 20".into(),
            });
        }
        let cores = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(2);
        let max_concurrent_hashes = self
            .auth
            .max_concurrent_hashes
            .unwrap_or_else(|| (cores / 2).max(1));
        if max_concurrent_hashes == 0 {
            return Err(ConfigError::Invalid {
                key: "auth.max_concurrent_hashes",
                message: "must be at least 1".into(),
            });
        }
        let max_body_bytes = self.limits.max_body_bytes.unwrap_or(64 * 1024);
        if !(1024..=64 * 1024 * 1024).contains(&max_body_bytes) {
            return Err(ConfigError::Invalid {
                key: "limits.max_body_bytes",
                message: "must be between 1024 and 67108864".into(),
            });
        }
        let syslog = SyslogListen {
            udp: syslog_addr("syslog.udp", self.syslog.udp)?,
            tcp: syslog_addr("syslog.tcp", self.syslog.tcp)?,
            tls: syslog_addr("syslog.tls", self.syslog.tls)?,
        };
        if syslog.tls.is_some() && tls == TlsMode::Off {
            return Err(ConfigError::Invalid {
                key: "syslog.tls",
                message: "needs the server's certificate, but tls.mode is off".into(),
            });
        }
        let clock_tolerance_ms = match self.syslog.clock_tolerance_seconds {
            Some(s) if s == 0 || s > 86_400 => {
                return Err(ConfigError::Invalid {
                    key: "syslog.clock_tolerance_seconds",
                    message: format!("{s} must be between 1 and 86400"),
                });
            }
            Some(s) => i64::from(s) * 1000,
            None => 60_000,
        };
        let notify = self.notify.validate()?;
        let rules = self.detect.rules.unwrap_or_default();
        if let Some(missing) = rules.iter().find(|p| !p.exists()) {
            return Err(ConfigError::Invalid {
                key: "detect.rules",
                message: format!("{} does not exist", missing.display()),
            });
        }
        let detect = DetectConfig {
            enabled: self.detect.enabled.unwrap_or(true),
            rules,
        };
        let directory = self.directory.validate()?;
        Ok(Config {
            detect,
            directory,
            listen,
            data_dir,
            syslog,
            clock_tolerance_ms,
            notify,
            ntp_server: match self.time.ntp_server.map(|s| s.trim().to_string()) {
                Some(s) if s.is_empty() => None,
                Some(s) if s.len() > 255 || s.contains(char::is_whitespace) => {
                    return Err(ConfigError::Invalid {
                        key: "time.ntp_server",
                        message: format!("`{s}` is not a host name or address"),
                    });
                }
                other => other,
            },
            database,
            tls,
            tls_next_cert,
            argon2: mamori_service::Argon2Params {
                memory_kib,
                iterations,
                parallelism: 1,
            },
            max_concurrent_hashes,
            max_body_bytes,
            webauthn_rp_id: match self.webauthn.rp_id {
                Some(id) if id.parse::<std::net::IpAddr>().is_ok() || id.trim().is_empty() => {
                    return Err(ConfigError::Invalid {
                        key: "webauthn.rp_id",
                        message: format!(
                            "`{id}` must be a host name (browsers refuse IP addresses for security keys)"
                        ),
                    });
                }
                other => other,
            },
            webauthn_origin: self.webauthn.origin,
            seal_retention_days: match self.seal.retention_days {
                Some(d) if d < 365 => {
                    return Err(ConfigError::Invalid {
                        key: "seal.retention_days",
                        message: format!(
                            "{d} is too short: access logs are kept at least a year (365)"
                        ),
                    });
                }
                other => other,
            },
            reports_font_file: match self.reports.font_file {
                Some(p) if p.as_os_str().is_empty() => {
                    return Err(ConfigError::Invalid {
                        key: "reports.font_file",
                        message: "is empty; give the path of a .ttf or .otf font file".into(),
                    });
                }
                other => other,
            },
            seal_daily_verification: self.seal.daily_verification.unwrap_or(true),
            log: self.log.unwrap_or_else(|| "info".into()),
        })
    }
}

fn insert_path(root: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    match path {
        [] => Err("empty key".into()),
        [last] => {
            root.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = root
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => insert_path(t, rest, value),
                _ => Err(format!("`{first}` is not a table")),
            }
        }
    }
}

impl RawNotify {
    /// Checks every `[notify]` value, naming the key of the first that is wrong.
    pub fn validate(self) -> Result<crate::notify::NotifyConfig, ConfigError> {
        use crate::notify::{NotifyConfig, SmtpConfig, SmtpSecurity, SyslogForward};
        use mamori_domain::alert::AlertLevel;
        let bad = |key: &'static str, message: String| ConfigError::Invalid { key, message };
        let text = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let address = |key: &'static str, a: &str| -> Result<String, ConfigError> {
            let ok = a.len() <= 254
                && a.split_once('@').is_some_and(|(l, d)| {
                    !l.is_empty() && !d.is_empty() && !a.contains(char::is_whitespace)
                });
            if ok {
                Ok(a.to_string())
            } else {
                Err(bad(key, format!("`{a}` is not an e-mail address")))
            }
        };
        let list =
            |key: &'static str, v: Option<Vec<String>>| -> Result<Vec<String>, ConfigError> {
                v.unwrap_or_default()
                    .iter()
                    .map(|a| a.trim())
                    .filter(|a| !a.is_empty())
                    .map(|a| address(key, a))
                    .collect()
            };
        let smtp = match text(self.smtp_server) {
            None => None,
            Some(server) => {
                let (host, port) = match server.rsplit_once(':') {
                    Some((h, p)) if !h.is_empty() => (
                        h.trim_start_matches('[').trim_end_matches(']').to_string(),
                        p.parse::<u16>().map_err(|_| {
                            bad(
                                "notify.smtp_server",
                                format!("`{server}`: the port is not a number"),
                            )
                        })?,
                    ),
                    _ => (server.clone(), 25),
                };
                let security = match text(self.smtp_security).as_deref() {
                    None | Some("none") => SmtpSecurity::None,
                    Some("starttls") => SmtpSecurity::StartTls,
                    Some("tls") => SmtpSecurity::Tls,
                    Some(other) => {
                        return Err(bad(
                            "notify.smtp_security",
                            format!("`{other}` must be none, starttls or tls"),
                        ));
                    }
                };
                let from = address(
                    "notify.smtp_from",
                    &text(self.smtp_from).ok_or_else(|| {
                        bad(
                            "notify.smtp_from",
                            "the sender address is needed with smtp_server".into(),
                        )
                    })?,
                )?;
                let password = match self.smtp_password_file {
                    None => None,
                    Some(p) => Some(Secret::new(
                        std::fs::read_to_string(&p)
                            .map_err(|e| {
                                bad("notify.smtp_password_file", format!("{}: {e}", p.display()))
                            })?
                            .trim_end_matches(['\r', '\n'])
                            .to_string(),
                    )),
                };
                Some(SmtpConfig {
                    host,
                    port,
                    security,
                    from,
                    to: list("notify.smtp_to", self.smtp_to)?,
                    escalate_to: list("notify.escalate_to", self.escalate_to)?,
                    user: text(self.smtp_user),
                    password,
                })
            }
        };
        let webhook_url = match text(self.webhook_url) {
            Some(u) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                return Err(bad(
                    "notify.webhook_url",
                    format!("`{u}` must start with http:// or https://"),
                ));
            }
            other => other,
        };
        let syslog = match text(self.syslog_forward) {
            None => None,
            Some(s) => {
                let parse = |a: &str| {
                    a.parse::<SocketAddr>().map_err(|_| {
                        bad(
                            "notify.syslog_forward",
                            format!("`{s}`: not an address:port"),
                        )
                    })
                };
                Some(if let Some(a) = s.strip_prefix("udp://") {
                    SyslogForward::Udp(parse(a)?)
                } else if let Some(a) = s.strip_prefix("tcp://") {
                    SyslogForward::Tcp(parse(a)?)
                } else {
                    return Err(bad(
                        "notify.syslog_forward",
                        format!("`{s}` must be udp://address:port or tcp://address:port"),
                    ));
                })
            }
        };
        let min_level = match text(self.min_level) {
            None => AlertLevel::High,
            Some(l) => AlertLevel::parse(&l).ok_or_else(|| {
                bad(
                    "notify.min_level",
                    format!("`{l}` must be informational, low, medium, high or critical"),
                )
            })?,
        };
        let quiet_hours = match text(self.quiet_hours) {
            None => None,
            Some(q) => Some(crate::notify::parse_quiet_hours(&q).ok_or_else(|| {
                bad(
                    "notify.quiet_hours",
                    format!("`{q}` must be HH:MM-HH:MM, such as 22:00-07:00"),
                )
            })?),
        };
        let escalate_after_ms = match self.escalate_after_minutes {
            None => None,
            Some(m) if m == 0 || m > 7 * 24 * 60 => {
                return Err(bad(
                    "notify.escalate_after_minutes",
                    format!("{m} must be between 1 and 10080"),
                ));
            }
            Some(m) => Some(i64::from(m) * 60_000),
        };
        let every = match self.every_seconds {
            Some(s) if s == 0 || s > 3600 => {
                return Err(bad(
                    "notify.every_seconds",
                    format!("{s} must be between 1 and 3600"),
                ));
            }
            Some(s) => std::time::Duration::from_secs(u64::from(s)),
            None => std::time::Duration::from_secs(10),
        };
        let ca_pem = match self.ca_file {
            None => None,
            Some(p) => {
                let pem = std::fs::read(&p)
                    .map_err(|e| bad("notify.ca_file", format!("{}: {e}", p.display())))?;
                let certs = crate::notify::pem_certificates(&pem);
                if certs.is_empty() {
                    return Err(bad(
                        "notify.ca_file",
                        format!(
                            "{}: no PEM certificate (-----BEGIN CERTIFICATE-----)",
                            p.display()
                        ),
                    ));
                }
                if let Err(e) = reqwest::Certificate::from_pem_bundle(&pem) {
                    return Err(bad("notify.ca_file", format!("{}: {e}", p.display())));
                }
                Some(pem)
            }
        };
        Ok(NotifyConfig {
            smtp,
            webhook_url,
            syslog,
            min_level,
            quiet_hours,
            escalate_after_ms,
            base_url: text(self.base_url),
            every,
            ca_pem,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(v: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn layers_override_in_order() {
        let file: RawConfig =
            toml::from_str("listen = \"127.0.0.1:9000\"\n[tls]\nmode = \"off\"\n").unwrap();
        let envc = RawConfig::from_env(env(&[
            ("MAMORI_LISTEN", "127.0.0.1:9001"),
            ("PATH", "/bin"),
        ]))
        .unwrap();
        let flags = RawConfig {
            data_dir: Some("/tmp/x".into()),
            ..Default::default()
        };
        let c = RawConfig::default()
            .merge(file)
            .merge(envc)
            .merge(flags)
            .validate(Path::new("/var/lib/mamori"))
            .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:9001");
        assert_eq!(c.tls, TlsMode::Off);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn unknown_file_key_is_named() {
        let e = toml::from_str::<RawConfig>("lisen = \"x\"").unwrap_err();
        assert!(e.to_string().contains("lisen"), "{e}");
    }

    #[test]
    fn unknown_env_key_is_an_error() {
        let e = RawConfig::from_env(env(&[("MAMORI_LISEN", "x")])).unwrap_err();
        assert!(e.to_string().contains("lisen"), "{e}");
        assert!(
            e.to_string().contains("MAMORI_LISEN"),
            "the error names the variable: {e}"
        );
        assert!(RawConfig::from_env(env(&[("MAMORI_TEST_POSTGRES", "x")])).is_ok());
        assert!(RawConfig::from_env(env(&[("MAMORI_LDAP_PASSWORD", "x")])).is_ok());
    }

    #[test]
    fn nested_env_keys() {
        let c = RawConfig::from_env(env(&[
            ("MAMORI_TLS__MODE", "off"),
            ("MAMORI_AUTH__ARGON2_ITERATIONS", "3"),
        ]))
        .unwrap();
        assert_eq!(c.tls.mode.as_deref(), Some("off"));
        assert_eq!(c.auth.argon2_iterations, Some(3));
    }

    #[test]
    fn plain_http_only_on_loopback() {
        let raw = RawConfig {
            listen: Some("0.0.0.0:8080".into()),
            tls: RawTls {
                mode: Some("off".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let e = raw.validate(Path::new("/d")).unwrap_err();
        assert!(e.to_string().contains("loopback"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        let raw = RawConfig {
            listen: Some("nonsense".into()),
            ..Default::default()
        };
        assert!(
            raw.validate(Path::new("/d"))
                .unwrap_err()
                .to_string()
                .contains("`listen`")
        );
        let raw = RawConfig {
            database_url: Some("mysql://x".into()),
            ..Default::default()
        };
        assert!(
            raw.validate(Path::new("/d"))
                .unwrap_err()
                .to_string()
                .contains("database_url")
        );
    }

    #[test]
    fn notify_settings_are_checked_and_name_their_key() {
        let ok: RawConfig = toml::from_str(
            "[notify]\nsmtp_server = \"mail.clinic.local:587\"\nsmtp_security = \"starttls\"\n\
             smtp_from = \"mamori@clinic.local\"\nsmtp_to = [\"it@clinic.local\"]\n\
             quiet_hours = \"22:00-07:00\"\nescalate_after_minutes = 30\n\
             escalate_to = [\"director@clinic.local\"]\nsyslog_forward = \"udp://10.0.0.5:514\"\n",
        )
        .unwrap();
        let n = ok.validate(Path::new("/d")).unwrap().notify;
        let smtp = n.smtp.as_ref().unwrap();
        assert_eq!((smtp.host.as_str(), smtp.port), ("mail.clinic.local", 587));
        assert_eq!(n.quiet_hours, Some((22 * 60, 7 * 60)));
        assert_eq!(n.escalate_after_ms, Some(30 * 60_000));
        assert!(n.is_enabled());
        assert!(!RawNotify::default().validate().unwrap().is_enabled());
        for (toml_text, key) in [
            ("smtp_server = \"mail:25\"", "notify.smtp_from"),
            (
                "smtp_server = \"mail:x\"\nsmtp_from = \"a@b\"",
                "notify.smtp_server",
            ),
            (
                "smtp_server = \"mail\"\nsmtp_from = \"a@b\"\nsmtp_to = [\"nobody\"]",
                "notify.smtp_to",
            ),
            (
                "smtp_server = \"mail\"\nsmtp_from = \"a@b\"\nsmtp_security = \"ssl\"",
                "notify.smtp_security",
            ),
            ("webhook_url = \"chat.local/hook\"", "notify.webhook_url"),
            (
                "ca_file = \"/nonexistent/facility-ca.pem\"",
                "notify.ca_file",
            ),
            ("ca_file = \"/etc/passwd\"", "notify.ca_file"),
            ("syslog_forward = \"10.0.0.5:514\"", "notify.syslog_forward"),
            ("min_level = \"urgent\"", "notify.min_level"),
            ("quiet_hours = \"22-7\"", "notify.quiet_hours"),
            (
                "escalate_after_minutes = 0",
                "notify.escalate_after_minutes",
            ),
        ] {
            let raw: RawConfig = toml::from_str(&format!("[notify]\n{toml_text}\n")).unwrap();
            let e = raw.validate(Path::new("/d")).unwrap_err();
            assert!(e.to_string().contains(key), "{toml_text}: {e}");
        }
    }

    #[test]
    fn the_directory_sync_is_checked_and_names_its_key() {
        let tmp = tempfile::tempdir().unwrap();
        let pass = tmp.path().join("ldap.pass");
        std::fs::write(&pass, "secret\n").unwrap();
        let empty = tmp.path().join("empty.pass");
        std::fs::write(&empty, "").unwrap();
        let full = |extra: &str| {
            format!(
                "url = \"ldaps://dc01:636\"\nbind_dn = \"CN=r,DC=c\"\nbase = \"DC=c\"\nsystem = \"AD\"\npassword_file = \"{}\"\n{extra}",
                pass.display()
            )
        };
        let raw: RawConfig = toml::from_str(&format!("[directory]\n{}", full(""))).unwrap();
        let d = raw.validate(Path::new("/d")).unwrap().directory.unwrap();
        assert_eq!(d.every, std::time::Duration::from_secs(3600));
        assert_eq!(d.admin_groups.len(), 3);
        let raw: RawConfig = toml::from_str("").unwrap();
        assert_eq!(raw.validate(Path::new("/d")).unwrap().directory, None);
        for (toml_text, key) in [
            ("url = \"dc01:636\"".to_string(), "directory.url"),
            ("url = \"ldap://dc01\"".to_string(), "directory.bind_dn"),
            (
                "url = \"ldap://dc01\"\nbind_dn = \"x\"\nbase = \"y\"\nsystem = \"z\"".to_string(),
                "directory.password_file",
            ),
            (
                full("").replace(&pass.display().to_string(), &empty.display().to_string()),
                "directory.password_file",
            ),
            (full("every_minutes = 1"), "directory.every_minutes"),
            (
                full("ca_file = \"/nonexistent/ca.pem\""),
                "directory.ca_file",
            ),
        ] {
            let raw: RawConfig = toml::from_str(&format!("[directory]\n{toml_text}\n")).unwrap();
            let e = raw.validate(Path::new("/d")).unwrap_err();
            assert!(e.to_string().contains(key), "{toml_text}: {e}");
        }
    }

    #[test]
    fn seal_retention_has_a_floor() {
        let raw: RawConfig = toml::from_str("[seal]\nretention_days = 30\n").unwrap();
        let e = raw.validate(Path::new("/d")).unwrap_err();
        assert!(e.to_string().contains("seal.retention_days"), "{e}");
        let raw: RawConfig = toml::from_str("[seal]\nretention_days = 1825\n").unwrap();
        assert_eq!(
            raw.validate(Path::new("/d")).unwrap().seal_retention_days,
            Some(1825)
        );
    }

    #[test]
    fn report_font_file_from_every_layer() {
        let raw: RawConfig =
            toml::from_str("[reports]\nfont_file = \"/opt/fonts/a.ttf\"\n").unwrap();
        let envc = RawConfig::from_env(env(&[(
            "MAMORI_REPORTS__FONT_FILE",
            "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
        )]))
        .unwrap();
        let c = raw.clone().validate(Path::new("/d")).unwrap();
        assert_eq!(c.reports_font_file, Some(PathBuf::from("/opt/fonts/a.ttf")));
        let c = raw.merge(envc).validate(Path::new("/d")).unwrap();
        assert_eq!(
            c.reports_font_file,
            Some(PathBuf::from(
                "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"
            ))
        );
        assert_eq!(
            RawConfig::default()
                .validate(Path::new("/d"))
                .unwrap()
                .reports_font_file,
            None
        );
        let e = toml::from_str::<RawConfig>("[reports]\nfont = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("font"), "{e}");
        let e = RawConfig::from_env(env(&[("MAMORI_REPORTS__FONT_FILE", "")]))
            .unwrap()
            .validate(Path::new("/d"))
            .unwrap_err();
        assert!(e.to_string().contains("reports.font_file"), "{e}");
    }

    #[test]
    fn the_daily_seal_verification_is_on_unless_turned_off() {
        let on = RawConfig::default().validate(Path::new("/d")).unwrap();
        assert!(on.seal_daily_verification);
        let raw: RawConfig = toml::from_str("[seal]\ndaily_verification = false\n").unwrap();
        assert!(
            !raw.validate(Path::new("/d"))
                .unwrap()
                .seal_daily_verification
        );
        let vars =
            RawConfig::from_env(env(&[("MAMORI_SEAL__DAILY_VERIFICATION", "false")])).unwrap();
        let merged = RawConfig::default().merge(vars);
        assert!(
            !merged
                .validate(Path::new("/d"))
                .unwrap()
                .seal_daily_verification
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("postgres://u:pw@h/db");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
    }
}
