//! Checklist rule packs: one data file per edition and variant (R7 医療機関確認用, 薬局確認用,
//! 事業者確認用, R6 …), compiled in and validated by the tests below. A new fiscal-year edition is
//! a new file here and a line in [`SOURCES`]; no code changes.

use serde::Deserialize;
use std::sync::LazyLock;

/// One printed item of a checklist.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Printed number, e.g. `2-⑤`.
    pub id: String,
    /// Stable key across editions (`systems.unneeded_accounts`).
    pub key: String,
    /// Section heading as printed (`2 医療情報システムの管理・運用`).
    pub section: String,
    /// Sub-heading the item is printed under (`サーバについて、以下を実施している。`), if any.
    #[serde(default)]
    pub group: String,
    #[serde(rename = "ja")]
    pub text_ja: String,
    #[serde(rename = "en")]
    pub text_en: String,
    /// Sections of the guideline (第6.0版) behind the item.
    #[serde(default)]
    pub guideline: Vec<String>,
    /// Topics whose probes back the item (`domain::checklist::TOPICS`); empty for items only a
    /// person can attest (the vendor form).
    #[serde(default)]
    pub probes: Vec<String>,
    /// Whether 記入不要 is an allowed answer (2-②, 2-③ without vendor contracts).
    #[serde(default)]
    pub allows_na: bool,
    /// A gate question: answered いいえ, nothing else on the form needs an answer (R6).
    #[serde(default)]
    pub gate: bool,
}

impl Item {
    pub fn text(&self, lang: crate::Lang) -> &str {
        match lang {
            crate::Lang::Ja => &self.text_ja,
            crate::Lang::En => &self.text_en,
        }
    }
}

/// The numbers an edition judges by.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackThresholds {
    /// A device's last patch may be at most this old.
    pub patch_max_age_days: i64,
    /// Drills, restore tests, log reviews and contact checks count for this long.
    pub evidence_valid_days: i64,
    /// Two-factor authentication in place or planned by this day (`YYYY-MM-DD`).
    pub two_factor_deadline: String,
}

/// A checklist edition in one variant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pack {
    /// `R7`, `R6` …
    pub edition: String,
    /// `hospital` (医療機関確認用), `pharmacy` (薬局確認用) or `vendor` (事業者確認用).
    pub variant: String,
    /// The fiscal year the edition was published for (April–March, Western year of April).
    pub fiscal_year: i32,
    pub title_ja: String,
    pub title_en: String,
    pub variant_ja: String,
    pub variant_en: String,
    /// Notes printed under the title, one paragraph each.
    pub notes_ja: Vec<String>,
    pub notes_en: Vec<String>,
    pub thresholds: PackThresholds,
    #[serde(rename = "item")]
    pub items: Vec<Item>,
}

impl Pack {
    pub fn title(&self, lang: crate::Lang) -> &str {
        match lang {
            crate::Lang::Ja => &self.title_ja,
            crate::Lang::En => &self.title_en,
        }
    }

    pub fn variant_label(&self, lang: crate::Lang) -> &str {
        match lang {
            crate::Lang::Ja => &self.variant_ja,
            crate::Lang::En => &self.variant_en,
        }
    }

    pub fn notes(&self, lang: crate::Lang) -> &[String] {
        match lang {
            crate::Lang::Ja => &self.notes_ja,
            crate::Lang::En => &self.notes_en,
        }
    }

    pub fn item(&self, key: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.key == key)
    }

    /// The stable keys of the items in sections 1–3, which 4-① (運用管理規程) must cover.
    pub fn rules_scope(&self) -> Vec<&str> {
        self.items
            .iter()
            .filter(|i| !i.gate && !i.section.starts_with('4'))
            .map(|i| i.key.as_str())
            .collect()
    }
}

/// The variants of the form.
pub const VARIANTS: &[&str] = &["hospital", "pharmacy", "vendor"];

/// Every rule pack: (file name, contents).
pub const SOURCES: &[(&str, &str)] = &[
    (
        "r7-hospital.toml",
        include_str!("../data/checklist/r7-hospital.toml"),
    ),
    (
        "r7-pharmacy.toml",
        include_str!("../data/checklist/r7-pharmacy.toml"),
    ),
    (
        "r7-vendor.toml",
        include_str!("../data/checklist/r7-vendor.toml"),
    ),
    (
        "r6-hospital.toml",
        include_str!("../data/checklist/r6-hospital.toml"),
    ),
];

static PACKS: LazyLock<Vec<Pack>> = LazyLock::new(|| {
    // A pack that does not parse is left out here and fails the tests below.
    let mut v: Vec<Pack> = SOURCES
        .iter()
        .filter_map(|(_, src)| toml::from_str(src).ok())
        .collect();
    v.sort_by(|a, b| {
        b.fiscal_year
            .cmp(&a.fiscal_year)
            .then(a.variant.cmp(&b.variant))
    });
    v
});

/// Every pack, newest edition first.
pub fn packs() -> &'static [Pack] {
    &PACKS
}

/// The pack of `edition` (`R7`, case-insensitive) and `variant`.
pub fn pack(edition: &str, variant: &str) -> Option<&'static Pack> {
    PACKS
        .iter()
        .find(|p| p.edition.eq_ignore_ascii_case(edition) && p.variant == variant)
}

/// The newest pack of `variant` published for fiscal year `fy` or earlier.
pub fn latest(variant: &str, fy: i32) -> Option<&'static Pack> {
    PACKS
        .iter()
        .filter(|p| p.variant == variant && p.fiscal_year <= fy)
        .max_by_key(|p| p.fiscal_year)
        .or_else(|| {
            PACKS
                .iter()
                .filter(|p| p.variant == variant)
                .min_by_key(|p| p.fiscal_year)
        })
}

/// The R7 医療機関確認用 items.
pub fn r7_hospital() -> &'static [Item] {
    pack("R7", "hospital")
        .map(|p| p.items.as_slice())
        .unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn parsed() -> Vec<(&'static str, Pack)> {
        SOURCES
            .iter()
            .map(|(name, src)| {
                let p: Pack = toml::from_str(src).unwrap_or_else(|e| panic!("{name}: {e}"));
                (*name, p)
            })
            .collect()
    }

    #[test]
    fn every_pack_parses_and_is_consistent() {
        let all = parsed();
        assert_eq!(all.len(), packs().len(), "every pack loads");
        let mut seen = HashSet::new();
        for (name, p) in &all {
            assert!(
                seen.insert((p.edition.clone(), p.variant.clone())),
                "{name}: one pack per edition and variant"
            );
            assert!(VARIANTS.contains(&p.variant.as_str()), "{name}: variant");
            assert_eq!(
                format!("R{}", p.fiscal_year - 2018),
                p.edition,
                "{name}: 令和 year of the fiscal year"
            );
            assert_eq!(
                *name,
                format!("{}-{}.toml", p.edition.to_lowercase(), p.variant)
            );
            assert!(!p.title_ja.is_empty() && !p.title_en.is_empty(), "{name}");
            assert!(
                !p.variant_ja.is_empty() && !p.variant_en.is_empty(),
                "{name}"
            );
            assert_eq!(p.notes_ja.len(), p.notes_en.len(), "{name}: notes in both");
            assert!(p.thresholds.patch_max_age_days > 0);
            assert!(p.thresholds.evidence_valid_days >= 30);
            assert!(
                time::Date::parse(
                    &p.thresholds.two_factor_deadline,
                    time::macros::format_description!("[year]-[month]-[day]")
                )
                .is_ok(),
                "{name}: deadline"
            );
            let ids: HashSet<&str> = p.items.iter().map(|i| i.id.as_str()).collect();
            let keys: HashSet<&str> = p.items.iter().map(|i| i.key.as_str()).collect();
            assert_eq!(ids.len(), p.items.len(), "{name}: printed ids unique");
            assert_eq!(keys.len(), p.items.len(), "{name}: keys unique");
            for i in &p.items {
                assert!(
                    !i.text_ja.is_empty() && !i.text_en.is_empty(),
                    "{name} {}",
                    i.id
                );
                assert!(!i.section.is_empty(), "{name} {}", i.id);
                assert!(
                    i.key.contains('.') && i.key.is_ascii(),
                    "{name} {}: key",
                    i.id
                );
                // 記入不要 only where the form prints it (2-②, 2-③).
                if i.allows_na {
                    assert!(i.text_ja.contains("記入不要"), "{name} {}", i.id);
                }
            }
            assert!(p.items.iter().filter(|i| i.gate).count() <= 1);
        }
    }

    #[test]
    fn r7_hospital_has_the_19_printed_items() {
        let p = pack("r7", "hospital").expect("R7 hospital");
        assert_eq!(p.items.len(), 19);
        let ids: Vec<&str> = p.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids.first(), Some(&"1-①"));
        assert_eq!(ids.last(), Some(&"4-①"));
        assert_eq!(r7_hospital().len(), 19);
        let na: Vec<&str> = p
            .items
            .iter()
            .filter(|i| i.allows_na)
            .map(|i| i.id.as_str())
            .collect();
        assert_eq!(na, vec!["2-②", "2-③"]);
        assert!(p.items.iter().all(|i| i.probes == vec![i.key.clone()]));
        assert_eq!(p.rules_scope().len(), 18);
        // The pharmacy form has the same items under the same keys.
        let ph = pack("R7", "pharmacy").expect("R7 pharmacy");
        let keys = |p: &Pack| p.items.iter().map(|i| i.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(ph), keys(p));
    }

    #[test]
    fn editions_are_found_by_fiscal_year() {
        assert_eq!(
            latest("hospital", 2025).map(|p| p.edition.as_str()),
            Some("R7")
        );
        assert_eq!(
            latest("hospital", 2026).map(|p| p.edition.as_str()),
            Some("R7")
        );
        assert_eq!(
            latest("hospital", 2024).map(|p| p.edition.as_str()),
            Some("R6")
        );
        // Before the oldest edition, the oldest is the best there is.
        assert_eq!(
            latest("hospital", 2020).map(|p| p.edition.as_str()),
            Some("R6")
        );
        assert_eq!(
            latest("vendor", 2025).map(|p| p.variant.as_str()),
            Some("vendor")
        );
        assert!(latest("nursing_home", 2025).is_none());
        let r6 = pack("R6", "hospital").expect("R6");
        assert!(r6.items.first().is_some_and(|i| i.gate));
        assert!(
            r6.item("operation.two_factor").is_none(),
            "2FA came with R7"
        );
    }
}
