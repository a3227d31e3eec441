//! Pending security updates on Debian and Ubuntu: an installed package is behind when the
//! security archive's package index (which apt keeps in `/var/lib/apt/lists`, plain, `.lz4` or
//! `.gz`) has a higher version of it. Versions are compared as dpkg compares them.

use crate::inventory::{Package, index_packages};
pub use mamori_proto::agent::PendingUpdate;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// dpkg's order of characters in the non-digit parts: `~` before everything, even the end;
/// letters before other characters.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: alternating non-digit and digit runs.
fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0usize, 0usize);
    while i < a.len() || j < b.len() {
        let mut first_diff = 0;
        while (i < a.len() && !a.get(i).is_some_and(u8::is_ascii_digit))
            || (j < b.len() && !b.get(j).is_some_and(u8::is_ascii_digit))
        {
            let ac = order(a.get(i).copied().filter(|c| !c.is_ascii_digit()));
            let bc = order(b.get(j).copied().filter(|c| !c.is_ascii_digit()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            if i < a.len() && !a.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if j < b.len() && !b.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        while a.get(i).is_some_and(u8::is_ascii_digit) && b.get(j).is_some_and(u8::is_ascii_digit) {
            if first_diff == 0 {
                first_diff =
                    i32::from(*a.get(i).unwrap_or(&0)) - i32::from(*b.get(j).unwrap_or(&0));
            }
            i += 1;
            j += 1;
        }
        if a.get(i).is_some_and(u8::is_ascii_digit) {
            return Ordering::Greater;
        }
        if b.get(j).is_some_and(u8::is_ascii_digit) {
            return Ordering::Less;
        }
        if first_diff != 0 {
            return first_diff.cmp(&0);
        }
    }
    Ordering::Equal
}

/// Compares two Debian versions (`[epoch:]upstream[-revision]`) as dpkg does.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn split(v: &str) -> (u64, &str, &str) {
        let (epoch, rest) = match v.split_once(':') {
            Some((e, r)) if e.chars().all(|c| c.is_ascii_digit()) => (e.parse().unwrap_or(0), r),
            _ => (0, v),
        };
        match rest.rsplit_once('-') {
            Some((up, rev)) => (epoch, up, rev),
            None => (epoch, rest, ""),
        }
    }
    let (ea, ua, ra) = split(a.trim());
    let (eb, ub, rb) = split(b.trim());
    ea.cmp(&eb)
        .then_with(|| verrevcmp(ua.as_bytes(), ub.as_bytes()))
        .then_with(|| verrevcmp(ra.as_bytes(), rb.as_bytes()))
}

/// Reads an index file: plain, LZ4 frame or gzip.
fn read_index(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    let text = if bytes.starts_with(&[0x04, 0x22, 0x4d, 0x18]) {
        let mut out = Vec::new();
        lz4_flex::frame::FrameDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .ok()?;
        out
    } else if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .ok()?;
        out
    } else {
        bytes
    };
    Some(String::from_utf8_lossy(&text).into_owned())
}

/// The security archive's package indexes apt keeps under `lists` (their names carry
/// `-security_` and end in `_Packages`, compressed or not).
pub fn security_indexes(lists: &Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(lists)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    let n = p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    n.contains("-security_")
                        && (n.ends_with("_Packages")
                            || n.ends_with("_Packages.lz4")
                            || n.ends_with("_Packages.gz"))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Installed packages behind the security archive. `None` when no security index is there
/// (unknown, not "up to date").
pub fn pending_security_updates(installed: &[Package], lists: &Path) -> Option<Vec<PendingUpdate>> {
    let files = security_indexes(lists);
    if files.is_empty() {
        return None;
    }
    let mut newest: HashMap<(String, String), String> = HashMap::new();
    for f in files {
        let Some(text) = read_index(&f) else { continue };
        for p in index_packages(&text) {
            let key = (p.name.clone(), p.arch.clone());
            match newest.get(&key) {
                Some(v) if compare_versions(v, &p.version) != Ordering::Less => {}
                _ => {
                    newest.insert(key, p.version);
                }
            }
        }
    }
    let mut out: Vec<PendingUpdate> = installed
        .iter()
        .filter_map(|p| {
            let avail = newest
                .get(&(p.name.clone(), p.arch.clone()))
                .or_else(|| newest.get(&(p.name.clone(), "all".to_string())))?;
            (compare_versions(avail, &p.version) == Ordering::Greater).then(|| PendingUpdate {
                name: p.name.clone(),
                installed: p.version.clone(),
                available: avail.clone(),
            })
        })
        .collect();
    out.sort();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_dpkg_does() {
        use Ordering::*;
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "1.0-1", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("2:1.0", "1:9.9", Greater),
            ("1.0a", "1.0", Greater),
            ("1.0+deb12u1", "1.0", Greater),
            ("5.2.15-2+b7", "5.2.15-2", Greater),
            ("1:9.6p1-3ubuntu13.5", "1:9.6p1-3ubuntu13.10", Less),
            ("2.4.7-1.2ubuntu7.3", "2.4.7-1.2ubuntu7.3", Equal),
            ("1.10", "1.9", Greater),
            ("1.01", "1.1", Equal),
            ("0.9~", "0.9", Less),
        ] {
            assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
            assert_eq!(compare_versions(b, a), want.reverse(), "{b} vs {a}");
        }
    }
}
