//! Ledger import from CSV/XLSX, for every registry: header mapping (Japanese or English column
//! names, or field keys), per-row normalization and validation naming the row and column, a diff
//! against the registry by its key (new / changed / unchanged / missing), and an all-or-nothing
//! commit with one history entry per changed record.

use crate::authz::{Cap, perm};
use crate::error::{ServiceError, ServiceResult};
use crate::ledger::{Refs, changes_json, field_label, norm, normalize, unguard};
use crate::{ClientInfo, Services};
use mamori_catalog::{Lang, tr};
use mamori_domain::ledger::FieldChange;
use mamori_domain::registry::{Record, build, changes, creation, key_of, title_of};
use mamori_ingest::{Diagnostic, Table, column_letter};
use mamori_storage::{ledger, registry as store_registry};
use serde_json::json;
use std::collections::{HashMap, HashSet};

/// What an import would do (dry run) or did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub rows: usize,
    /// (row, key, title)
    pub new: Vec<(usize, String, String)>,
    /// (row, key, changes)
    pub changed: Vec<(usize, String, Vec<FieldChange>)>,
    pub unchanged: usize,
    /// In the registry but not in the file: (key, title).
    pub missing: Vec<(String, String)>,
    /// Every problem, with row and column; any error means nothing was written.
    pub errors: Vec<Diagnostic>,
    pub committed: bool,
}

/// Import options.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Only compute the report.
    pub dry_run: bool,
    /// Retire the records missing from the file (廃棄, 退職, 無効 … as of today).
    pub retire_missing: bool,
}

/// Which column holds each field: headers match the Japanese or English label or the field key.
fn map_headers<R: Record>(table: &Table) -> (HashMap<&'static str, usize>, Vec<String>) {
    let mut map = HashMap::new();
    let mut unknown = Vec::new();
    for (i, h) in table.headers.iter().enumerate() {
        let n = norm(h);
        let field = R::FIELDS.iter().find(|f| {
            n == norm(f.key)
                || n == norm(&field_label(Lang::Ja, R::KIND, f.key))
                || n == norm(&field_label(Lang::En, R::KIND, f.key))
        });
        match field {
            Some(f) if !map.contains_key(f.key) => {
                map.insert(f.key, i);
            }
            _ => unknown.push(h.clone()),
        }
    }
    (map, unknown)
}

fn diag(line: usize, column: Option<String>, code: &'static str, message: String) -> Diagnostic {
    Diagnostic {
        line,
        column,
        code,
        message_ja: message.clone(),
        message_en: message,
    }
}

fn message(lang: Lang, code: &str) -> String {
    tr(lang, &format!("error.{code}")).to_string()
}

/// The key of a record as people read it (references by name).
fn shown_key<R: Record>(r: &R, refs: &Refs, lang: Lang) -> String {
    let values = r.values();
    R::KEY
        .iter()
        .filter_map(|k| {
            let i = mamori_domain::registry::position(R::FIELDS, k)?;
            let f = R::FIELDS.get(i)?;
            Some(crate::ledger::display(lang, f, values.get(i)?, refs))
        })
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" / ")
}

impl Services {
    /// Imports a registry table. With errors, or with `dry_run`, nothing is written.
    pub async fn import_records<R: Record>(
        &self,
        cap: &Cap<perm::EditLedger>,
        table: &Table,
        opts: ImportOptions,
        lang: Lang,
        client: &ClientInfo,
    ) -> ServiceResult<ImportReport> {
        let mut report = ImportReport {
            rows: table.rows.len(),
            ..Default::default()
        };
        report.errors.extend(table.diagnostics.iter().cloned());
        let (cols, unknown) = map_headers::<R>(table);
        let col_name = |key: &str| -> Option<String> {
            cols.get(key).map(|i| {
                let header = table.headers.get(*i).cloned().unwrap_or_default();
                format!("{}列（{header}）", column_letter(*i))
            })
        };
        // The key columns must be there; other required columns only for rows that add records.
        for f in R::FIELDS.iter().filter(|f| R::KEY.contains(&f.key)) {
            if !cols.contains_key(f.key) {
                let label = field_label(lang, R::KIND, f.key);
                report.errors.push(diag(
                    table.header_line,
                    Some(label.clone()),
                    "IMP0201",
                    format!("{}: {label}", message(lang, "IMP0201")),
                ));
            }
        }
        if !unknown.is_empty() {
            report.errors.push(diag(
                table.header_line,
                None,
                "IMP0202",
                format!("{}: {}", message(lang, "IMP0202"), unknown.join("、")),
            ));
        }
        if !report.errors.is_empty() {
            return Ok(report);
        }

        let refs = self.refs_for::<R>().await?;
        let current = self.store.records::<R>().await?;
        let existing: HashMap<String, &R> = current.iter().map(|r| (key_of(r), r)).collect();
        let mut seen: HashSet<String> = HashSet::new();
        let mut parsed: Vec<(usize, R)> = Vec::with_capacity(table.rows.len());
        for row in &table.rows {
            let mut row_errors: Vec<Diagnostic> = Vec::new();
            let values: Vec<String> = R::FIELDS
                .iter()
                .map(|f| {
                    let Some(i) = cols.get(f.key) else {
                        // A column left out keeps the record's current value on update; see below.
                        return String::new();
                    };
                    let raw = unguard(row.get(*i)).trim();
                    normalize(f, raw, &refs, true).unwrap_or_else(|e| {
                        row_errors.push(diag(
                            row.line,
                            col_name(f.key),
                            e.code,
                            e.message_ja.unwrap_or_else(|| message(lang, e.code)),
                        ));
                        String::new()
                    })
                })
                .collect();
            if !row_errors.is_empty() {
                // Also name the fields that read but do not fit (a number out of range …).
                if let Err(more) = build::<R>(0, &values) {
                    for e in more {
                        let col = col_name(e.field);
                        if col.is_some() && !row_errors.iter().any(|d| d.column == col) {
                            row_errors.push(diag(row.line, col, e.code, message(lang, e.code)));
                        }
                    }
                }
                report.errors.extend(row_errors);
                continue;
            }
            // Columns absent from the file keep the current values of a matched record.
            let row_key = R::KEY
                .iter()
                .filter_map(|k| mamori_domain::registry::position(R::FIELDS, k))
                .filter_map(|i| values.get(i).map(|v| v.trim().to_string()))
                .collect::<Vec<_>>()
                .join("\u{1f}");
            let values = match existing.get(&row_key) {
                Some(old) if cols.len() < R::FIELDS.len() => {
                    let old_values = old.values();
                    R::FIELDS
                        .iter()
                        .zip(values)
                        .zip(old_values)
                        .map(|((f, new), old)| if cols.contains_key(f.key) { new } else { old })
                        .collect()
                }
                _ => values,
            };
            match build::<R>(0, &values) {
                Ok(r) => {
                    if !seen.insert(key_of(&r)) {
                        report.errors.push(diag(
                            row.line,
                            R::KEY.first().and_then(|k| col_name(k)),
                            "LED0009",
                            message(lang, "LED0009"),
                        ));
                    } else {
                        parsed.push((row.line, r));
                    }
                }
                Err(fe) => {
                    for e in fe {
                        report.errors.push(diag(
                            row.line,
                            col_name(e.field).or_else(|| Some(field_label(lang, R::KIND, e.field))),
                            e.code,
                            message(lang, e.code),
                        ));
                    }
                }
            }
        }
        let mut inserts: Vec<R> = Vec::new();
        let mut updates: Vec<(R, Vec<FieldChange>)> = Vec::new();
        for (line, mut r) in parsed {
            match existing.get(&key_of(&r)) {
                None => {
                    report
                        .new
                        .push((line, shown_key(&r, &refs, lang), title_of(&r)));
                    inserts.push(r);
                }
                Some(old) => {
                    r.set_id(old.id());
                    let ch = changes(*old, &r);
                    if ch.is_empty() {
                        report.unchanged += 1;
                    } else {
                        report
                            .changed
                            .push((line, shown_key(&r, &refs, lang), ch.clone()));
                        updates.push((r, ch));
                    }
                }
            }
        }
        let mut retire: Vec<(R, Vec<FieldChange>)> = Vec::new();
        let today = self.clock.today();
        for (key, old) in &existing {
            if !seen.contains(key) {
                report
                    .missing
                    .push((shown_key(*old, &refs, lang), title_of(*old)));
                if opts.retire_missing && !old.is_retired(today) {
                    let mut r = (*old).clone();
                    r.retire(today);
                    let ch = changes(*old, &r);
                    retire.push((r, ch));
                }
            }
        }
        report.missing.sort();
        if !report.errors.is_empty() || opts.dry_run {
            report.errors.sort_by_key(|d| d.line);
            return Ok(report);
        }
        let now = self.now_ms();
        let actor = cap.actor().label();
        let kind = R::KIND.as_str();
        let mut w = self.store.write().await?;
        for r in &inserts {
            let id = store_registry::insert(&mut w, r).await.map_err(|e| {
                if e.is_unique_violation() {
                    ServiceError::Fields(vec![mamori_domain::ledger::FieldError {
                        field: R::KEY.first().copied().unwrap_or("id"),
                        code: "LED0008",
                    }])
                } else {
                    e.into()
                }
            })?;
            ledger::insert_history(
                &mut w,
                kind,
                id,
                now,
                &actor,
                "imported",
                &changes_json(&creation(r)),
            )
            .await?;
        }
        for (r, ch) in updates.iter().chain(retire.iter()) {
            store_registry::update(&mut w, r).await?;
            ledger::insert_history(
                &mut w,
                kind,
                r.id(),
                now,
                &actor,
                "imported",
                &changes_json(ch),
            )
            .await?;
        }
        self.audit(
            &mut w,
            &actor,
            &client.source,
            "ledger.imported",
            &format!("ledger:{}", R::KIND.plural()),
            json!({
                "rows": report.rows,
                "new": inserts.len(),
                "changed": updates.len(),
                "unchanged": report.unchanged,
                "missing": report.missing.len(),
                "retired": retire.len(),
            }),
        )
        .await?;
        w.commit().await?;
        report.committed = true;
        Ok(report)
    }
}
