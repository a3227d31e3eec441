//! Red Hat family machines (RHEL, Rocky, Alma, Fedora, SUSE): installed packages from the rpm
//! database and pending security updates from dnf's (or yum's) advisories.
//!
//! Unlike dpkg's plain-text status file, the rpm database is a binary store (SQLite or
//! Berkeley DB by release) whose headers only rpm itself reads reliably, so the agent asks
//! `rpm -qa` with its database path under the root being read. Pending security updates come
//! from `dnf updateinfo list --security` run **from the cache only** (`-C`): the agent never
//! reaches a repository itself; the machine's own `dnf makecache` (a timer on these systems,
//! against the facility's mirror on a closed network) keeps the advisories current. Without a
//! cache the answer is unknown, never "up to date".

use crate::inventory::{InventoryError, Package, Root};
pub use mamori_proto::agent::PendingUpdate;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where rpm keeps its database, newest layout first, relative to the root.
const DATABASES: [&str; 2] = ["usr/lib/sysimage/rpm", "var/lib/rpm"];

/// The query format: name, `[epoch:]version-release`, architecture.
const QUERY_FORMAT: &str = "%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\n";

/// How long `rpm -qa` or dnf may take before the answer is given up.
const COMMAND_LIMIT: Duration = Duration::from_secs(60);

/// The rpm database under `root` (the path rpm is given, from the root), when there is one
/// with something in it. Debian's `rpm` package leaves an empty `/var/lib/rpm`: not a database.
pub fn database(root: &Root) -> Option<&'static str> {
    // SQLite (RHEL 9, Fedora), Berkeley DB (RHEL 7/8), ndb (SUSE).
    DATABASES.into_iter().find(|d| {
        ["rpmdb.sqlite", "Packages", "Packages.db"]
            .iter()
            .any(|f| root.join(&format!("{d}/{f}")).is_file())
    })
}

/// `rpm -qa` lines of [`QUERY_FORMAT`], sorted by name and architecture. rpm's pseudo-packages
/// for imported signing keys (`gpg-pubkey`) are not software and are left out.
pub fn parse_query(text: &str) -> Vec<Package> {
    let mut out: Vec<Package> = text
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let (name, version, arch) = (f.next()?, f.next()?, f.next()?);
            if name.is_empty() || name == "gpg-pubkey" {
                return None;
            }
            Some(Package {
                name: name.to_string(),
                version: version.to_string(),
                arch: if arch == "(none)" {
                    String::new()
                } else {
                    arch.to_string()
                },
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A package file name's parts, `name-[epoch:]version-release.arch` → (name, `[epoch:]version-release`,
/// arch).
fn nevra(token: &str) -> Option<(&str, String, &str)> {
    let (rest, arch) = token.rsplit_once('.')?;
    let (rest, release) = rest.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_graphic());
    if !(ok(name) && ok(version) && ok(release) && ok(arch)) {
        return None;
    }
    if !version.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some((name, format!("{version}-{release}"), arch))
}

/// The installed packages that security advisories update, from the output of
/// `dnf updateinfo list --security` (dnf 4: `ADVISORY SEVERITY/Sec. NEVRA`; dnf 5: a table with
/// the NEVRA in a column; yum: as dnf 4). Every word that reads as a package file name of an
/// installed package (same name and architecture) with another version counts, once.
pub fn parse_advisories(text: &str, installed: &[Package]) -> Vec<PendingUpdate> {
    let by_key: BTreeMap<(&str, &str), &Package> = installed
        .iter()
        .map(|p| ((p.name.as_str(), p.arch.as_str()), p))
        .collect();
    let mut found: BTreeMap<(String, String), PendingUpdate> = BTreeMap::new();
    for word in text.split_whitespace() {
        let Some((name, version, arch)) = nevra(word) else {
            continue;
        };
        let Some(p) = by_key.get(&(name, arch)) else {
            continue;
        };
        // dnf 4 prints the epoch even when it is 0 (`openssl-1:3.0.7…`, `bash-0:5.1…`); rpm's
        // query (and so the installed version) leaves a zero epoch out.
        let available = version.strip_prefix("0:").unwrap_or(&version).to_string();
        if available == p.version {
            continue;
        }
        found.insert(
            (name.to_string(), arch.to_string()),
            PendingUpdate {
                name: name.to_string(),
                installed: p.version.clone(),
                available,
            },
        );
    }
    found.into_values().collect()
}

/// Runs `cmd`, returns its standard output when it exits 0 within [`COMMAND_LIMIT`]; `None`
/// when it cannot start, fails or takes too long (then it is killed).
fn output_of(mut cmd: Command) -> Option<String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .env("LC_ALL", "C")
        .spawn()
        .ok()?;
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).map(|_| s)
    });
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let text = reader.join().ok()?.ok()?;
                return status.success().then_some(text);
            }
            Ok(None) if start.elapsed() < COMMAND_LIMIT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// The packages in the rpm database `db` under `root`, asked of `rpm` (found on `PATH`).
pub fn installed(root: &Root, db: &str) -> Result<Vec<Package>, InventoryError> {
    let mut cmd = Command::new("rpm");
    cmd.arg("--root")
        .arg(root.join(""))
        .arg("--dbpath")
        .arg(format!("/{db}"))
        .arg("-qa")
        .arg("--qf")
        .arg(QUERY_FORMAT);
    match output_of(cmd) {
        Some(text) => Ok(parse_query(&text)),
        None => Err(InventoryError {
            path: root.join(db),
            source: std::io::Error::other("rpm -qa failed: is rpm installed?"),
        }),
    }
}

/// Pending security updates from dnf's (or, on older systems, yum's) cached advisories;
/// `None` when neither is there or the cache cannot answer. Only for the running system
/// (`/`): a recorded tree has no repositories.
pub fn security_updates(root: &Root, installed: &[Package]) -> Option<Vec<PendingUpdate>> {
    if root.join("") != Path::new("/") {
        return None;
    }
    for tool in ["dnf", "yum"] {
        let mut cmd = Command::new(tool);
        cmd.args(["-C", "-q", "updateinfo", "list", "--security"]);
        if let Some(text) = output_of(cmd) {
            return Some(parse_advisories(&text, installed));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, version: &str, arch: &str) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            arch: arch.into(),
        }
    }

    #[test]
    fn rpm_query_lines_become_packages() {
        let text = "openssl-libs\t1:3.0.7-27.el9\tx86_64\n\
bash\t5.1.8-9.el9\tx86_64\n\
gpg-pubkey\t5a6340b3-6229229e\t(none)\n\
tzdata\t2024a-1.el9\tnoarch\n\
broken line\n";
        let p = parse_query(text);
        assert_eq!(
            p,
            [
                pkg("bash", "5.1.8-9.el9", "x86_64"),
                pkg("openssl-libs", "1:3.0.7-27.el9", "x86_64"),
                pkg("tzdata", "2024a-1.el9", "noarch"),
            ]
        );
    }

    #[test]
    fn advisories_of_dnf4_dnf5_and_yum_name_the_installed_packages_behind() {
        let installed = [
            pkg("openssl-libs", "1:3.0.7-25.el9_3", "x86_64"),
            pkg("bash", "5.1.8-6.el9_1", "x86_64"),
            pkg("kernel-core", "5.14.0-362.8.1.el9_3", "x86_64"),
            pkg("tzdata", "2024a-1.el9", "noarch"),
        ];
        // dnf 4 (RHEL 8/9, Rocky, Alma): zero epochs printed, one package in two advisories.
        let dnf4 = "RHSA-2024:1234 Important/Sec.  openssl-libs-1:3.0.7-27.el9.x86_64\n\
RHSA-2024:2001 Moderate/Sec.   bash-0:5.1.8-9.el9.x86_64\n\
RHSA-2024:2002 Low/Sec.        bash-0:5.1.8-9.el9.x86_64\n\
RHSA-2024:3000 Important/Sec.  firefox-0:115.9.1-1.el9_3.x86_64\n";
        let got = parse_advisories(dnf4, &installed);
        assert_eq!(
            got,
            [
                PendingUpdate {
                    name: "bash".into(),
                    installed: "5.1.8-6.el9_1".into(),
                    available: "5.1.8-9.el9".into(),
                },
                PendingUpdate {
                    name: "openssl-libs".into(),
                    installed: "1:3.0.7-25.el9_3".into(),
                    available: "1:3.0.7-27.el9".into(),
                },
            ]
        );
        // dnf 5 (Fedora 41+): a table with a header and dates.
        let dnf5 = "Name                 Type     Severity  Package                                  Issued\n\
FEDORA-2024-0a1b2c3d security Important kernel-core-5.14.0-427.13.1.el9_4.x86_64 2024-05-01 00:00:00\n";
        let got = parse_advisories(dnf5, &installed);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].available, "5.14.0-427.13.1.el9_4");
        // yum (RHEL 7): no epoch at all; the same version as installed is not an update.
        let yum = "RHSA-2024:0100 Important/Sec. tzdata-2024a-1.el9.noarch\n";
        assert!(parse_advisories(yum, &installed).is_empty());
        assert!(parse_advisories("", &installed).is_empty());
    }
}
