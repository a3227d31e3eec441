//! Integration tests of the Sigma engine: every modifier and condition form on small events,
//! every SigmaHQ Windows rule loading, and the SigmaHQ regression pairs (rule + .evtx) firing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod correlations;
mod medical;
mod modifiers;
mod regression;
mod rules;

use std::path::{Path, PathBuf};

/// `shared/testdata/sigma` beside the checkout (SigmaHQ's rules and regression data, DRL
/// licensed, so never copied into the repository). `None`, printing that the test was skipped,
/// when it is not there — except under CI (`CI` set), where a missing folder fails.
pub fn sigma_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/sigma");
    if dir.join("rules/windows").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "Sigma test data {} missing under CI",
        dir.display()
    );
    eprintln!("skipped: Sigma test data {} not there", dir.display());
    None
}

/// Every file under `dir` whose name ends with `ext`, sorted.
pub fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, ext, out);
        } else if p.to_string_lossy().ends_with(ext) {
            out.push(p);
        }
    }
    out.sort();
}

/// Every `.yml` rule under `sigma/rules/windows` in one set.
pub fn windows_rules(sigma: &Path) -> mamori_detect::RuleSet {
    let root = sigma.join("rules/windows");
    let mut paths = Vec::new();
    files(&root, ".yml", &mut paths);
    let mut set = mamori_detect::RuleSet::new();
    for p in &paths {
        let text = std::fs::read_to_string(p).unwrap();
        let origin = p.strip_prefix(&root).unwrap().display().to_string();
        set.add_yaml(&origin, &text);
    }
    set.finish();
    set
}

/// The records of an `.evtx` file as JSON, laid out as `ingest::evtx` reads them.
pub fn evtx_records(path: &Path) -> Vec<serde_json::Value> {
    evtx_texts(path)
        .iter()
        .map(|t| serde_json::from_str(t).unwrap())
        .collect()
}

/// The records of an `.evtx` file as the JSON text `ingest::evtx` hands to the offline scan.
pub fn evtx_texts(path: &Path) -> Vec<String> {
    let settings = evtx::ParserSettings::new()
        .indent(false)
        .separate_json_attributes(false);
    let mut parser = evtx::EvtxParser::from_path(path)
        .unwrap()
        .with_configuration(settings);
    parser
        .records_json()
        .filter_map(Result::ok)
        .map(|r| r.data)
        .collect()
}
