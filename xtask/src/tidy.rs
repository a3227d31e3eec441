//! Tidy checks: the dependency direction of ARCHITECTURE.md, and a `//!` doc on every module.

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Which workspace crates each crate may depend on (normal dependencies).
const ALLOWED: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("catalog", &[]),
    ("proto", &[]),
    ("seal", &[]),
    ("storage", &["domain"]),
    ("ingest", &["domain"]),
    ("detect", &[]),
    ("reports", &["domain", "catalog"]),
    (
        "service",
        &[
            "domain", "catalog", "storage", "reports", "ingest", "detect", "seal",
            // The agent protocol's types: the service stores what agents send and signs what
            // they receive.
            "proto",
        ],
    ),
    (
        "server",
        &[
            "domain", "catalog", "proto", "service", "storage", "reports", "ingest", "detect",
            "seal",
        ],
    ),
    ("testkit", &["domain", "service", "storage", "server"]),
    // The agent talks to the server only over the wire: `client`/`proto`, never server crates.
    ("agent", &["proto", "client"]),
    ("client", &["proto"]),
];

/// External crates a crate must never use (the invariants that are absences).
const FORBIDDEN: &[(&str, &[&str])] = &[
    (
        "domain",
        &["serde", "sqlx", "tokio", "axum", "reqwest", "askama"],
    ),
    ("catalog", &["sqlx", "tokio", "axum"]),
    ("ingest", &["sqlx", "tokio", "axum"]),
    ("detect", &["sqlx", "tokio", "axum"]),
    ("proto", &["sqlx", "tokio", "axum"]),
    (
        "storage",
        &["axum", "axum-server", "reqwest", "askama", "serde_json"],
    ),
    ("reports", &["sqlx", "tokio", "axum"]),
    ("agent", &["sqlx", "axum", "askama", "tokio"]),
    ("client", &["sqlx", "axum", "askama", "tokio"]),
    (
        "seal",
        &[
            "sqlx",
            "tokio",
            "axum",
            "axum-server",
            "reqwest",
            "serde_json",
        ],
    ),
    ("service", &["axum", "axum-server", "askama", "reqwest"]),
];

fn deps(manifest: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(manifest).with_context(|| manifest.display().to_string())?;
    let v: toml::Table = toml::from_str(&text).with_context(|| manifest.display().to_string())?;
    Ok(v.get("dependencies")
        .and_then(|d| d.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default())
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Runs every check; returns the problems found.
pub fn check(root: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let forbidden: BTreeMap<&str, &[&str]> = FORBIDDEN.iter().copied().collect();
    let crates_dir = root.join("crates");
    let mut names: Vec<String> = std::fs::read_dir(&crates_dir)?
        .flatten()
        .filter(|e| e.path().join("Cargo.toml").exists())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap_or_default();
    for name in &names {
        let Some(ok) = allowed.get(name.as_str()) else {
            problems.push(format!("crates/{name} is not in tidy's dependency table"));
            continue;
        };
        if !architecture.contains(&format!("crates/{name}")) {
            problems.push(format!("ARCHITECTURE.md does not describe crates/{name}"));
        }
        for dep in deps(&crates_dir.join(name).join("Cargo.toml"))? {
            if let Some(internal) = dep.strip_prefix("mamori-") {
                if !ok.contains(&internal) {
                    problems.push(format!("{name} must not depend on {internal}"));
                }
            } else if forbidden
                .get(name.as_str())
                .is_some_and(|f| f.contains(&dep.as_str()))
            {
                problems.push(format!("{name} must not use {dep}"));
            }
        }
        let mut files = Vec::new();
        rs_files(&crates_dir.join(name).join("src"), &mut files);
        for f in files {
            let text = std::fs::read_to_string(&f)?;
            if !text.trim_start().starts_with("//!") {
                problems.push(format!(
                    "{} does not start with a //! module doc",
                    f.display()
                ));
            }
        }
    }
    let mut files = Vec::new();
    rs_files(&root.join("xtask").join("src"), &mut files);
    for f in files {
        let text = std::fs::read_to_string(&f)?;
        if !text.trim_start().starts_with("//!") {
            problems.push(format!(
                "{} does not start with a //! module doc",
                f.display()
            ));
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_is_tidy() {
        let problems = check(&root()).expect("tidy runs");
        assert!(
            problems.is_empty(),
            "tidy problems:\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn tidy_finds_a_bad_edge_and_a_missing_doc() {
        let dir = tempfile_dir();
        let c = dir.join("crates/domain/src");
        std::fs::create_dir_all(&c).unwrap();
        std::fs::write(dir.join("crates/domain/Cargo.toml"), "[package]\nname='mamori-domain'\n[dependencies]\nmamori-storage = { path = '../storage' }\nserde = '1'\n").unwrap();
        std::fs::write(c.join("lib.rs"), "pub fn x() {}\n").unwrap();
        std::fs::write(dir.join("ARCHITECTURE.md"), "crates/domain\n").unwrap();
        let p = check(&dir).unwrap();
        assert!(
            p.iter()
                .any(|x| x.contains("domain must not depend on storage")),
            "{p:?}"
        );
        assert!(
            p.iter().any(|x| x.contains("domain must not use serde")),
            "{p:?}"
        );
        assert!(p.iter().any(|x| x.contains("module doc")), "{p:?}");
        std::fs::remove_dir_all(&dir).ok();
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("mamori-tidy-{}", std::process::id()));
        std::fs::remove_dir_all(&d).ok();
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
