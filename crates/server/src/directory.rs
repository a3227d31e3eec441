//! Reading a directory (Active Directory or another LDAP server) over LDAP: users, groups and
//! the domain's password policy, as one [`Snapshot`]. A read either returns the whole directory
//! or an error: searches page past the server's size limit (RFC 2696), and a search that ends
//! with anything but success (a size or time limit, a referral, a dropped connection) fails the
//! read, so a sync never applies half a directory.

use ldap3::adapters::{EntriesOnly, PagedResults};
use ldap3::{LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry};
use mamori_domain::directory::{
    DirectoryGroup, DirectoryUser, DomainPolicy, Snapshot, filetime_ms, interval_days,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Users: AD's people (not computers, which are `user` objects too) and plain LDAP's persons.
pub const USER_FILTER: &str =
    "(|(&(objectClass=user)(!(objectClass=computer)))(objectClass=inetOrgPerson))";
pub const GROUP_FILTER: &str = "(|(objectClass=group)(objectClass=groupOfNames))";
/// Groups whose members hold admin rights, unless the facility names others.
pub const ADMIN_GROUPS: [&str; 3] = ["Domain Admins", "Administrators", "Enterprise Admins"];
/// Entries per page: under AD's (1,000) and OpenLDAP's (500) default size limits.
const PAGE: i32 = 400;
/// A directory larger than this is refused rather than read into memory.
pub const MAX_ENTRIES: usize = 500_000;

/// Where and how to read.
#[derive(Debug, Clone)]
pub struct LdapSource {
    /// `ldap://host:389` or `ldaps://host:636`.
    pub url: String,
    pub bind_dn: String,
    pub password: String,
    /// Where users and groups are searched.
    pub base: String,
    /// PEM file of the CA that signed the directory's certificate (a facility's own CA).
    pub ca_file: Option<PathBuf>,
    /// Upgrade an `ldap://` connection with StartTLS.
    pub starttls: bool,
    pub timeout: Duration,
}

/// Why a directory could not be read; nothing was applied.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("cannot reach the directory: {0}")]
    Unreachable(String),
    #[error("TLS failed: {0}")]
    Tls(String),
    #[error("the directory refused the bind DN or password")]
    BadCredentials,
    #[error("the search base does not exist: {0}")]
    NoSuchBase(String),
    #[error("the directory ended the search early (result {rc}: {text}); nothing was applied")]
    Partial { rc: u32, text: String },
    #[error("more than {MAX_ENTRIES} entries")]
    TooLarge,
    #[error("the directory URL is not valid: {0}")]
    BadUrl(String),
    #[error("the CA file cannot be used: {0}")]
    CaFile(String),
}

impl DirectoryError {
    /// Stable code; the message is `error.{code}` in the catalog.
    pub fn code(&self) -> &'static str {
        match self {
            DirectoryError::Unreachable(_) => "DIR0001",
            DirectoryError::Tls(_) => "DIR0002",
            DirectoryError::BadCredentials => "DIR0003",
            DirectoryError::NoSuchBase(_) => "DIR0004",
            DirectoryError::Partial { .. } => "DIR0005",
            DirectoryError::TooLarge => "DIR0006",
            DirectoryError::BadUrl(_) => "DIR0007",
            DirectoryError::CaFile(_) => "DIR0008",
        }
    }
}

/// Whether an I/O error is a TLS failure (a certificate not trusted, a name that does not match…).
fn tls_cause(e: &std::io::Error) -> Option<String> {
    let inner = e.get_ref()?;
    inner
        .downcast_ref::<rustls::Error>()
        .map(ToString::to_string)
}

fn classify(e: LdapError) -> DirectoryError {
    match e {
        LdapError::Io { source } => match tls_cause(&source) {
            Some(t) => DirectoryError::Tls(t),
            None => DirectoryError::Unreachable(source.to_string()),
        },
        LdapError::Rustls { source } => DirectoryError::Tls(source.to_string()),
        LdapError::DNSName { source } => DirectoryError::Tls(source.to_string()),
        LdapError::UrlParsing { .. } | LdapError::UnknownScheme(_) => {
            DirectoryError::BadUrl(e.to_string())
        }
        LdapError::LdapResult { result } => DirectoryError::Partial {
            rc: result.rc,
            text: result.text,
        },
        other => DirectoryError::Unreachable(other.to_string()),
    }
}

fn tls_config(ca_file: &std::path::Path) -> Result<Arc<rustls::ClientConfig>, DirectoryError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let bytes = std::fs::read(ca_file)
        .map_err(|e| DirectoryError::CaFile(format!("{}: {e}", ca_file.display())))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let cert =
            cert.map_err(|e| DirectoryError::CaFile(format!("{}: {e}", ca_file.display())))?;
        roots
            .add(cert)
            .map_err(|e| DirectoryError::CaFile(format!("{}: {e}", ca_file.display())))?;
    }
    if roots.is_empty() {
        return Err(DirectoryError::CaFile(format!(
            "{}: no certificate",
            ca_file.display()
        )));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DirectoryError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn first<'e>(e: &'e SearchEntry, names: &[&str]) -> Option<&'e str> {
    names.iter().find_map(|n| {
        e.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .and_then(|(_, v)| v.first())
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    })
}

fn all(e: &SearchEntry, name: &str) -> Vec<String> {
    e.attrs
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.iter().cloned())
        .collect()
}

fn int(e: &SearchEntry, name: &str) -> Option<i64> {
    first(e, &[name]).and_then(|v| v.parse::<i64>().ok())
}

fn user_of(e: &SearchEntry) -> Option<DirectoryUser> {
    let login = first(e, &["sAMAccountName", "uid"])?.to_string();
    Some(DirectoryUser {
        dn: e.dn.clone(),
        display_name: first(e, &["displayName", "cn"]).unwrap_or("").to_string(),
        staff_no: first(e, &["employeeNumber", "employeeID"]).map(str::to_string),
        // The low 32 bits are the flags (AD writes them as a signed integer).
        uac: int(e, "userAccountControl").map(|v| v as u32),
        last_logon_ms: int(e, "lastLogonTimestamp").and_then(filetime_ms),
        pwd_last_set_ms: int(e, "pwdLastSet").and_then(filetime_ms),
        login,
    })
}

fn group_of(e: &SearchEntry) -> DirectoryGroup {
    DirectoryGroup {
        dn: e.dn.clone(),
        name: first(e, &["cn", "sAMAccountName"])
            .unwrap_or("")
            .to_string(),
        members: all(e, "member"),
    }
}

fn policy_of(e: &SearchEntry) -> Option<DomainPolicy> {
    let p = DomainPolicy {
        min_length: int(e, "minPwdLength"),
        history: int(e, "pwdHistoryLength"),
        max_age_days: int(e, "maxPwdAge").and_then(interval_days),
        lockout_threshold: int(e, "lockoutThreshold"),
        complex: int(e, "pwdProperties").map(|v| v & 1 == 1),
    };
    (p != DomainPolicy::default()).then_some(p)
}

/// Every entry of one paged subtree search; an error unless the search ended in success.
async fn search_all(
    ldap: &mut ldap3::Ldap,
    base: &str,
    filter: &str,
    attrs: &[&str],
    progress: &mut (dyn FnMut(usize) + Send),
    seen: &mut usize,
) -> Result<Vec<SearchEntry>, DirectoryError> {
    let adapters: Vec<Box<dyn ldap3::adapters::Adapter<_, _>>> = vec![
        Box::new(EntriesOnly::new()),
        Box::new(PagedResults::new(PAGE)),
    ];
    let mut stream = ldap
        .streaming_search_with(adapters, base, Scope::Subtree, filter, attrs.to_vec())
        .await
        .map_err(classify)?;
    let mut out = Vec::new();
    loop {
        match stream.next().await {
            Ok(Some(entry)) => {
                *seen += 1;
                if *seen > MAX_ENTRIES {
                    return Err(DirectoryError::TooLarge);
                }
                if (*seen).is_multiple_of(1000) {
                    progress(*seen);
                }
                out.push(SearchEntry::construct(entry));
            }
            Ok(None) => break,
            Err(e) => return Err(classify(e)),
        }
    }
    let done = stream.finish().await;
    match done.rc {
        0 => Ok(out),
        32 => Err(DirectoryError::NoSuchBase(base.to_string())),
        49 => Err(DirectoryError::BadCredentials),
        rc => Err(DirectoryError::Partial {
            rc,
            text: done.text,
        }),
    }
}

/// Reads the whole directory: binds, pages through the users and the groups under `base`, and
/// reads the password policy from the domain object (the naming context's root, or `base`).
/// `progress` hears the number of entries read, every thousand.
pub async fn read(
    src: &LdapSource,
    progress: &mut (dyn FnMut(usize) + Send),
) -> Result<Snapshot, DirectoryError> {
    let mut settings = LdapConnSettings::new()
        .set_conn_timeout(src.timeout)
        .set_starttls(src.starttls);
    if let Some(ca) = &src.ca_file {
        settings = settings.set_config(tls_config(ca)?);
    }
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &src.url)
        .await
        .map_err(classify)?;
    ldap3::drive!(conn);
    ldap.with_timeout(src.timeout);
    let bound = ldap
        .simple_bind(&src.bind_dn, &src.password)
        .await
        .map_err(classify)?;
    match bound.rc {
        0 => {}
        49 => return Err(DirectoryError::BadCredentials),
        rc => {
            return Err(DirectoryError::Partial {
                rc,
                text: bound.text,
            });
        }
    }
    let mut seen = 0usize;
    let users = search_all(
        &mut ldap,
        &src.base,
        USER_FILTER,
        &[
            "sAMAccountName",
            "uid",
            "displayName",
            "cn",
            "employeeNumber",
            "employeeID",
            "userAccountControl",
            "lastLogonTimestamp",
            "pwdLastSet",
        ],
        progress,
        &mut seen,
    )
    .await?;
    let groups = search_all(
        &mut ldap,
        &src.base,
        GROUP_FILTER,
        &["cn", "sAMAccountName", "member"],
        progress,
        &mut seen,
    )
    .await?;
    // The policy sits on the domain object: the base itself, or the naming context above it.
    let mut policy = None;
    for dn in domain_candidates(&src.base) {
        ldap.with_timeout(src.timeout);
        let found = ldap
            .search(
                &dn,
                Scope::Base,
                "(objectClass=*)",
                vec![
                    "minPwdLength",
                    "pwdHistoryLength",
                    "maxPwdAge",
                    "lockoutThreshold",
                    "pwdProperties",
                ],
            )
            .await
            .map_err(classify)?;
        if let Some(p) = found
            .0
            .into_iter()
            .map(SearchEntry::construct)
            .find_map(|e| policy_of(&e))
        {
            policy = Some(p);
            break;
        }
    }
    let _ = ldap.unbind().await;
    Ok(Snapshot {
        users: users.iter().filter_map(user_of).collect(),
        groups: groups.iter().map(group_of).collect(),
        policy,
    })
}

/// Why a sync did not happen: a code (`DIR00xx`) and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncFailure {
    pub code: &'static str,
    pub detail: String,
}

/// The ledger system named (by name or id) as the accounts' system.
pub async fn find_system(
    svc: &mamori_service::Services,
    system: &str,
) -> Result<mamori_domain::SystemId, SyncFailure> {
    use mamori_domain::ledger::InfoSystem;
    let systems = svc
        .store
        .records::<InfoSystem>()
        .await
        .map_err(|e| SyncFailure {
            code: "DIR0012",
            detail: e.to_string(),
        })?;
    systems
        .iter()
        .find(|s| s.name == system || s.id.0.to_string() == system)
        .map(|s| s.id)
        .ok_or_else(|| SyncFailure {
            code: "DIR0012",
            detail: format!(
                "{system}; {}",
                systems
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

/// One scheduled sync: the password from its file, the directory read whole, then applied.
pub async fn sync_once(
    svc: &mamori_service::Services,
    cfg: &crate::config::DirectoryConfig,
    via: &'static str,
) -> Result<mamori_service::directory::SyncReport, SyncFailure> {
    let password = std::fs::read_to_string(&cfg.password_file)
        .ok()
        .and_then(|t| t.lines().next().map(str::to_string))
        .filter(|p| !p.is_empty())
        .ok_or_else(|| SyncFailure {
            code: "DIR0009",
            detail: cfg.password_file.display().to_string(),
        })?;
    let system = find_system(svc, &cfg.system).await?;
    let src = LdapSource {
        url: cfg.url.clone(),
        bind_dn: cfg.bind_dn.clone(),
        password,
        base: cfg.base.clone(),
        ca_file: cfg.ca_file.clone(),
        starttls: cfg.starttls,
        timeout: Duration::from_secs(30),
    };
    let snapshot = read(&src, &mut |_| {}).await.map_err(|e| SyncFailure {
        code: e.code(),
        detail: e.to_string(),
    })?;
    let cap = mamori_service::Actor::system("directory-sync")
        .can::<mamori_service::perm::EditLedger>()
        .map_err(|e| SyncFailure {
            code: "DIR0012",
            detail: e.to_string(),
        })?;
    let opts = mamori_service::directory::SyncOptions {
        dry_run: false,
        admin_groups: cfg.admin_groups.clone(),
        via,
    };
    let client = mamori_service::ClientInfo::new("system", "directory sync");
    svc.sync_directory(&cap, system, &snapshot, &opts, &client)
        .await
        .map_err(|e| match e {
            mamori_service::ServiceError::Invalid { code, .. } => SyncFailure {
                code,
                detail: String::new(),
            },
            other => SyncFailure {
                code: "DIR0005",
                detail: other.to_string(),
            },
        })
}

/// A sync started by `via`, with a failure recorded (the sync record and the audit trail,
/// `accounts.directory_sync_failed`).
pub async fn sync_and_record(
    svc: &mamori_service::Services,
    cfg: &crate::config::DirectoryConfig,
    via: &'static str,
) -> Result<mamori_service::directory::SyncReport, SyncFailure> {
    let result = sync_once(svc, cfg, via).await;
    if let Err(f) = &result {
        tracing::warn!(code = f.code, detail = %f.detail, "directory sync failed");
        if let Err(e) = svc
            .record_directory_failure(&cfg.system, via, f.code, &f.detail)
            .await
        {
            tracing::error!(error = %e, "recording a failed directory sync failed");
        }
    }
    result
}

/// The scheduled sync: one at start, then every `cfg.every`; after a failure the next turn
/// tries again.
pub async fn run(svc: mamori_service::Services, cfg: crate::config::DirectoryConfig) {
    let mut tick = tokio::time::interval(cfg.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Ok(r) = sync_and_record(&svc, &cfg, "scheduled").await {
            tracing::info!(
                system = %r.system,
                users = r.users,
                added = r.added.len(),
                changed = r.changed.len(),
                disabled = r.disabled.len(),
                "directory sync"
            );
        }
    }
}

/// `base`, then each parent down to its `dc=` part (where AD keeps the domain policy).
fn domain_candidates(base: &str) -> Vec<String> {
    let parts: Vec<&str> = base.split(',').collect();
    let mut out = Vec::new();
    for i in 0..parts.len() {
        let dn = parts.get(i..).unwrap_or_default().join(",");
        let starts_dc = dn.trim_start().to_ascii_lowercase().starts_with("dc=");
        out.push(dn);
        if starts_dc {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_is_looked_for_from_the_base_up_to_the_domain() {
        assert_eq!(
            domain_candidates("OU=Staff,OU=Clinic,DC=clinic,DC=example"),
            vec![
                "OU=Staff,OU=Clinic,DC=clinic,DC=example",
                "OU=Clinic,DC=clinic,DC=example",
                "DC=clinic,DC=example"
            ]
        );
        assert_eq!(domain_candidates("dc=a,dc=b"), vec!["dc=a,dc=b"]);
    }
}
