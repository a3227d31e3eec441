//! Sigma rules from files: the folders `mamori detect scan --rules` and `[detect] rules` name.

use mamori_detect::RuleSet;
use std::path::{Path, PathBuf};

/// Every file under `path` (or `path` itself) whose extension is one of `exts` (ignoring
/// case), sorted within each folder.
pub fn find_files(path: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let has_ext = |p: &Path| {
        p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| exts.iter().any(|x| x.eq_ignore_ascii_case(e)))
    };
    if path.is_file() {
        out.push(path.to_path_buf());
        return;
    }
    let Ok(rd) = std::fs::read_dir(path) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            find_files(&p, exts, out);
        } else if has_ext(&p) {
            out.push(p);
        }
    }
}

/// What could not be read while loading rules: a folder with no rule files, or a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadFailure {
    pub path: PathBuf,
    /// Empty for a folder without `.yml` files.
    pub error: String,
}

/// Loads every `.yml`/`.yaml` under `paths` into one finished set. Rules that cannot be used
/// are in [`RuleSet::refused`]; files that cannot be read are returned.
pub fn load(paths: &[PathBuf]) -> (RuleSet, Vec<ReadFailure>) {
    let mut set = RuleSet::new();
    let mut failures = Vec::new();
    for dir in paths {
        let mut files = Vec::new();
        find_files(dir, &["yml", "yaml"], &mut files);
        if files.is_empty() {
            failures.push(ReadFailure {
                path: dir.clone(),
                error: String::new(),
            });
        }
        for f in files {
            match std::fs::read_to_string(&f) {
                Ok(text) => {
                    set.add_yaml(&f.display().to_string(), &text);
                }
                Err(e) => failures.push(ReadFailure {
                    path: f,
                    error: e.to_string(),
                }),
            }
        }
    }
    set.finish();
    (set, failures)
}

/// What the server loaded as detection rules, for the rules page (`/alerts/rules`): the IT
/// team sees there which configured Sigma rules run, which were refused and why.
#[derive(Debug, Clone, Default)]
pub struct RulesReport {
    /// Live detection runs (`[detect] enabled` and the sealed event log open).
    pub enabled: bool,
    /// `[detect] rules`, as configured.
    pub folders: Vec<PathBuf>,
    /// Loaded rules per Sigma level as written (`high` …).
    pub by_level: Vec<(String, usize)>,
    pub refused: Vec<mamori_detect::Refused>,
    pub unreadable: Vec<ReadFailure>,
}

impl RulesReport {
    pub fn new(
        enabled: bool,
        folders: &[PathBuf],
        set: Option<&RuleSet>,
        unreadable: &[ReadFailure],
    ) -> RulesReport {
        let mut by_level: Vec<(String, usize)> = Vec::new();
        let levels = set.into_iter().flat_map(|s| {
            s.rules()
                .iter()
                .map(|r| r.level.as_str())
                .chain(s.correlations().iter().map(|c| c.level.as_str()))
        });
        for level in levels {
            match by_level.iter_mut().find(|(l, _)| l == level) {
                Some((_, n)) => *n += 1,
                None => by_level.push((level.to_string(), 1)),
            }
        }
        RulesReport {
            enabled,
            folders: folders.to_vec(),
            by_level,
            refused: set.map(|s| s.refused().to_vec()).unwrap_or_default(),
            unreadable: unreadable.to_vec(),
        }
    }

    /// Rules and correlations loaded from those folders.
    pub fn loaded(&self) -> usize {
        self.by_level.iter().map(|(_, n)| n).sum()
    }
}
