//! Checklist rule packs: one data file per edition and variant, compiled in and validated.

use serde::Deserialize;
use std::sync::LazyLock;

/// One printed item of a checklist.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Printed number, e.g. `2-⑤`.
    pub id: String,
    /// Stable key across editions.
    pub key: String,
    pub section: String,
    #[serde(rename = "ja")]
    pub text_ja: String,
    #[serde(rename = "en")]
    pub text_en: String,
}

/// A checklist edition in one variant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pack {
    pub edition: String,
    pub variant: String,
    pub fiscal_year: i32,
    #[serde(rename = "item")]
    pub items: Vec<Item>,
}

const R7_HOSPITAL: &str = include_str!("../data/checklist/r7-hospital.toml");

static R7: LazyLock<Pack> = LazyLock::new(|| {
    toml::from_str(R7_HOSPITAL).unwrap_or(Pack {
        edition: "R7".into(),
        variant: "hospital".into(),
        fiscal_year: 2025,
        items: Vec::new(),
    })
});

/// The R7 医療機関確認用 items (validated by the tests below).
pub fn r7_hospital() -> &'static [Item] {
    &R7.items
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn r7_hospital_has_the_19_printed_items() {
        let p: Pack = toml::from_str(R7_HOSPITAL).expect("r7-hospital.toml parses");
        assert_eq!(p.items.len(), 19);
        let ids: Vec<&str> = p.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids.first(), Some(&"1-①"));
        assert_eq!(ids.last(), Some(&"4-①"));
        let keys: HashSet<&str> = p.items.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys.len(), 19, "keys are unique");
        assert!(
            p.items
                .iter()
                .all(|i| !i.text_ja.is_empty() && !i.text_en.is_empty())
        );
        assert_eq!(r7_hospital().len(), 19);
    }
}
