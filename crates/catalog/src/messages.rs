//! The message catalog: every string a user sees, in Japanese (default) and English.
//!
//! `data/messages.toml` holds one table per area; each leaf is `{ ja = "…", en = "…" }`.
//! Both languages are required for every key (checked by the tests). Placeholders are `{name}`.

use std::collections::HashMap;
use std::sync::LazyLock;

/// A user interface language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    Ja,
    En,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

const SOURCE: &str = include_str!("../data/messages.toml");

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    ja: String,
    en: String,
}

/// Parsed catalog: key → (ja, en).
#[derive(Debug, Default)]
pub struct Catalog {
    entries: HashMap<String, (String, String)>,
}

/// Why the catalog file is not usable.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("messages.toml does not parse: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("messages.toml key `{0}` is not a table of messages nor a {{ ja, en }} entry")]
    Shape(String),
    #[error("messages.toml key `{key}`: {reason}")]
    Entry { key: String, reason: String },
}

impl Catalog {
    /// Parses the compiled-in catalog.
    pub fn parse(src: &str) -> Result<Catalog, CatalogError> {
        let root: toml::Table = toml::from_str(src)?;
        let mut entries = HashMap::new();
        flatten("", &root, &mut entries)?;
        Ok(Catalog { entries })
    }

    pub fn get(&self, lang: Lang, key: &str) -> Option<&str> {
        self.entries.get(key).map(|(ja, en)| match lang {
            Lang::Ja => ja.as_str(),
            Lang::En => en.as_str(),
        })
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }
}

fn flatten(
    prefix: &str,
    table: &toml::Table,
    out: &mut HashMap<String, (String, String)>,
) -> Result<(), CatalogError> {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let toml::Value::Table(t) = v else {
            return Err(CatalogError::Shape(key));
        };
        if t.contains_key("ja") || t.contains_key("en") {
            let e: Entry =
                toml::Value::Table(t.clone())
                    .try_into()
                    .map_err(|e: toml::de::Error| CatalogError::Entry {
                        key: key.clone(),
                        reason: e.to_string(),
                    })?;
            if e.ja.trim().is_empty() || e.en.trim().is_empty() {
                return Err(CatalogError::Entry {
                    key,
                    reason: "empty text".into(),
                });
            }
            out.insert(key, (e.ja, e.en));
        } else {
            flatten(&key, t, out)?;
        }
    }
    Ok(())
}

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog::parse(SOURCE).unwrap_or_default());

/// The compiled-in catalog (validated by tests; an unparsable file yields an empty catalog).
pub fn catalog() -> &'static Catalog {
    &CATALOG
}

/// Looks up `key` in `lang`; a missing key shows as the key itself so it is noticed, never a panic.
pub fn tr(lang: Lang, key: &str) -> &str {
    CATALOG.get(lang, key).unwrap_or(key)
}

/// Whether the catalog has `key`.
pub fn has(key: &str) -> bool {
    CATALOG.get(Lang::Ja, key).is_some()
}

/// Fills `{name}` placeholders.
pub fn fill(template: &str, args: &[(&str, &str)]) -> String {
    let mut s = template.to_string();
    for (k, v) in args {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_catalog_parses_and_has_both_languages() {
        let c = Catalog::parse(SOURCE).expect("messages.toml must parse");
        assert!(c.keys().count() > 50);
        assert_eq!(c.get(Lang::Ja, "nav.dashboard"), Some("ダッシュボード"));
        assert_eq!(c.get(Lang::En, "nav.dashboard"), Some("Dashboard"));
    }

    #[test]
    fn missing_language_is_an_error() {
        let e = Catalog::parse("[a]\nb = { ja = \"x\" }\n").unwrap_err();
        assert!(e.to_string().contains("a.b"), "{e}");
    }

    #[test]
    fn unknown_field_is_an_error() {
        assert!(Catalog::parse("[a]\nb = { ja = \"x\", en = \"y\", fr = \"z\" }\n").is_err());
    }

    #[test]
    fn missing_key_shows_itself() {
        assert_eq!(tr(Lang::Ja, "no.such.key"), "no.such.key");
    }

    #[test]
    fn fill_placeholders() {
        assert_eq!(fill("{n}件", &[("n", "3")]), "3件");
    }
}
