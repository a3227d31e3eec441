//! Ledger import from CSV/XLSX: header mapping (Japanese or English column names), per-row
//! validation naming the row and column, a diff against the ledger (new / changed / unchanged /
//! missing), and an all-or-nothing commit with one history entry per changed record.

use crate::authz::{Cap, perm};
use crate::error::{ServiceError, ServiceResult};
use crate::ledger::{ASSET, ASSET_FIELDS, AssetInput, changes_json, parse_asset};
use crate::{ClientInfo, Services};
use mamori_catalog::{Lang, tr};
use mamori_domain::ledger::{Asset, AssetClass, AssetStatus, FieldChange, asset_changes};
use mamori_domain::wareki::{parse_date_ja, parse_year_month_ja};
use mamori_ingest::{Diagnostic, Table, column_letter};
use mamori_storage::ledger;
use serde_json::json;
use std::collections::{HashMap, HashSet};

/// What an import would do (dry run) or did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub rows: usize,
    /// (row, tag, name)
    pub new: Vec<(usize, String, String)>,
    /// (row, tag, changes)
    pub changed: Vec<(usize, String, Vec<FieldChange>)>,
    pub unchanged: usize,
    /// In the ledger but not in the file: (tag, name).
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
    /// Mark ledger records missing from the file as disposed (廃棄) on `today`.
    pub retire_missing: bool,
}

fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '（' | '）' | '(' | ')' | '・'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Which column holds each field: headers match the Japanese or English label or the field key.
fn map_headers(table: &Table) -> (HashMap<&'static str, usize>, Vec<String>) {
    let mut map = HashMap::new();
    let mut unknown = Vec::new();
    for (i, h) in table.headers.iter().enumerate() {
        let n = norm(h);
        let field = ASSET_FIELDS.iter().find(|k| {
            let key = format!("asset_field.{k}");
            n == norm(k) || n == norm(tr(Lang::Ja, &key)) || n == norm(tr(Lang::En, &key))
        });
        match field {
            Some(f) if !map.contains_key(f) => {
                map.insert(*f, i);
            }
            _ => unknown.push(h.clone()),
        }
    }
    (map, unknown)
}

/// Label or code → code, for classes and statuses.
fn choice_code<T: Copy>(
    all: &[T],
    code: fn(T) -> &'static str,
    prefix: &str,
    text: &str,
) -> Option<&'static str> {
    let t = norm(text);
    all.iter().map(|v| code(*v)).find(|c| {
        let key = format!("{prefix}.{c}");
        t == norm(c) || t == norm(tr(Lang::Ja, &key)) || t == norm(tr(Lang::En, &key))
    })
}

/// Undoes the spreadsheet formula guard added on export (`'=…`).
fn unguard(v: &str) -> &str {
    match v.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
        _ => v,
    }
}

fn diag(
    lang: Lang,
    line: usize,
    column: Option<String>,
    code: &'static str,
    message: String,
) -> Diagnostic {
    let _ = lang;
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

impl Services {
    /// Imports an asset ledger table. With errors, or with `dry_run`, nothing is written.
    pub async fn import_assets(
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
        let (cols, unknown) = map_headers(table);
        let col_name = |key: &str| -> Option<String> {
            cols.get(key).map(|i| {
                let header = table.headers.get(*i).cloned().unwrap_or_default();
                format!("{}列（{header}）", column_letter(*i))
            })
        };
        for req in ["tag", "name", "class"] {
            if !cols.contains_key(req) {
                let label = tr(lang, &format!("asset_field.{req}")).to_string();
                report.errors.push(diag(
                    lang,
                    table.header_line,
                    Some(label.clone()),
                    "IMP0201",
                    format!("{}: {label}", message(lang, "IMP0201")),
                ));
            }
        }
        if !unknown.is_empty() {
            report.errors.push(diag(
                lang,
                table.header_line,
                None,
                "IMP0202",
                format!("{}: {}", message(lang, "IMP0202"), unknown.join("、")),
            ));
        }
        if !report.errors.is_empty() {
            return Ok(report);
        }

        let vendors = self.store.vendors().await?;
        let vendor_by_name: HashMap<String, String> = vendors
            .iter()
            .map(|v| (norm(&v.name), v.id.0.to_string()))
            .collect();
        let existing: HashMap<String, Asset> = self
            .store
            .assets()
            .await?
            .into_iter()
            .map(|a| (a.tag.clone(), a))
            .collect();
        let mut seen: HashSet<String> = HashSet::new();
        let mut parsed: Vec<(usize, Asset)> = Vec::with_capacity(table.rows.len());
        for row in &table.rows {
            let mut input = AssetInput::default();
            let mut row_errors: Vec<Diagnostic> = Vec::new();
            for key in ASSET_FIELDS {
                let Some(i) = cols.get(key) else { continue };
                let raw = unguard(row.get(*i)).trim();
                let value = match key {
                    "class" if !raw.is_empty() => {
                        choice_code(AssetClass::ALL, AssetClass::as_str, "asset_class", raw)
                            .map(str::to_string)
                            .unwrap_or_else(|| raw.to_string())
                    }
                    "status" if !raw.is_empty() => {
                        choice_code(AssetStatus::ALL, AssetStatus::as_str, "asset_status", raw)
                            .map(str::to_string)
                            .unwrap_or_else(|| raw.to_string())
                    }
                    "vendor" if !raw.is_empty() => match vendor_by_name.get(&norm(raw)) {
                        Some(id) => id.clone(),
                        None => {
                            row_errors.push(diag(
                                lang,
                                row.line,
                                col_name(key),
                                "LED0012",
                                message(lang, "LED0012"),
                            ));
                            String::new()
                        }
                    },
                    "installed_on" if !raw.is_empty() => match parse_year_month_ja(raw) {
                        Ok(d) => format!("{:04}-{:02}", d.year(), u8::from(d.month())),
                        Err(e) => {
                            row_errors.push(diag(
                                lang,
                                row.line,
                                col_name(key),
                                e.code(),
                                e.message_ja(),
                            ));
                            String::new()
                        }
                    },
                    "eol_on" | "last_patch_on" | "disposed_on" if !raw.is_empty() => {
                        match parse_date_ja(raw) {
                            Ok(d) => {
                                format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
                            }
                            Err(e) => {
                                row_errors.push(diag(
                                    lang,
                                    row.line,
                                    col_name(key),
                                    e.code(),
                                    e.message_ja(),
                                ));
                                String::new()
                            }
                        }
                    }
                    _ => raw.to_string(),
                };
                if let Some(slot) = input.slot_mut(key) {
                    *slot = value;
                }
            }
            match parse_asset(&input, &vendors) {
                Ok(a) if row_errors.is_empty() => {
                    if !seen.insert(a.tag.clone()) {
                        report.errors.push(diag(
                            lang,
                            row.line,
                            col_name("tag"),
                            "LED0009",
                            message(lang, "LED0009"),
                        ));
                    } else {
                        parsed.push((row.line, a));
                    }
                }
                Ok(_) => report.errors.extend(row_errors),
                Err(fe) => {
                    report.errors.extend(row_errors);
                    for e in fe {
                        // Errors of fields already reported (bad date, unknown vendor) are not repeated.
                        if report
                            .errors
                            .iter()
                            .any(|d| d.line == row.line && d.column == col_name(e.field))
                        {
                            continue;
                        }
                        report.errors.push(diag(
                            lang,
                            row.line,
                            col_name(e.field).or_else(|| {
                                Some(tr(lang, &format!("asset_field.{}", e.field)).to_string())
                            }),
                            e.code,
                            message(lang, e.code),
                        ));
                    }
                }
            }
        }
        let mut inserts: Vec<Asset> = Vec::new();
        let mut updates: Vec<(Asset, Vec<FieldChange>)> = Vec::new();
        for (line, mut a) in parsed {
            match existing.get(&a.tag) {
                None => {
                    report.new.push((line, a.tag.clone(), a.name.clone()));
                    inserts.push(a);
                }
                Some(old) => {
                    a.id = old.id;
                    let changes = asset_changes(old, &a);
                    if changes.is_empty() {
                        report.unchanged += 1;
                    } else {
                        report.changed.push((line, a.tag.clone(), changes.clone()));
                        updates.push((a, changes));
                    }
                }
            }
        }
        let mut retire: Vec<(Asset, Vec<FieldChange>)> = Vec::new();
        let today = self.clock.today();
        for (tag, a) in &existing {
            if !seen.contains(tag) {
                report.missing.push((tag.clone(), a.name.clone()));
                if opts.retire_missing && a.status != AssetStatus::Disposed {
                    let mut r = a.clone();
                    r.status = AssetStatus::Disposed;
                    r.disposed_on = Some(today);
                    let changes = asset_changes(a, &r);
                    retire.push((r, changes));
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
        let mut w = self.store.write().await?;
        for a in &inserts {
            let id = ledger::insert_asset(&mut w, a).await.map_err(|e| {
                if e.is_unique_violation() {
                    ServiceError::Fields(vec![mamori_domain::ledger::FieldError {
                        field: "tag",
                        code: "LED0008",
                    }])
                } else {
                    e.into()
                }
            })?;
            let changes = asset_changes(&Asset::blank(AssetClass::Other), a);
            ledger::insert_history(
                &mut w,
                ASSET,
                id.0,
                now,
                &actor,
                "imported",
                &changes_json(&changes),
            )
            .await?;
        }
        for (a, changes) in updates.iter().chain(retire.iter()) {
            ledger::update_asset(&mut w, a).await?;
            ledger::insert_history(
                &mut w,
                ASSET,
                a.id.0,
                now,
                &actor,
                "imported",
                &changes_json(changes),
            )
            .await?;
        }
        self.audit(
            &mut w,
            &actor,
            &client.source,
            "ledger.assets_imported",
            "ledger:assets",
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
