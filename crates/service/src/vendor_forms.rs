//! The 事業者確認用 round trip: one vendor form per (vendor, system) the facility uses, answered
//! by the vendor in its portal, or sent out as XLSX and read back when it returns. A vendor form is
//! an ordinary form (`FormKey`) whose scope names the pair (`vendor:{id}:system:{id}`), so its
//! answers are kept, frozen and audited exactly like the facility's own.

use crate::authz::{Cap, perm};
use crate::checklist::{Assessment, Prepared, prepare_answer};
use crate::error::{CellError, ServiceError, ServiceResult};
use crate::{ClientInfo, Services};
use mamori_catalog::checklist as packs;
use mamori_domain::ledger::{FieldError, InfoSystem, SystemStatus, Vendor};
use mamori_domain::wareki::fiscal_year;
use mamori_ingest::{Grid, IngestError, Limits, column_letter, read_xlsx_grid};
use mamori_reports::checklist::layout;
use mamori_storage::checklist::{AnswerRow, FormKey};
use std::collections::{HashMap, HashSet};

/// The scope of the vendor form of `system` supplied by `vendor`.
pub fn vendor_scope(vendor: i64, system: i64) -> String {
    format!("vendor:{vendor}:system:{system}")
}

/// The (vendor, system) ids of a vendor form's scope.
pub fn parse_scope(scope: &str) -> Option<(i64, i64)> {
    let rest = scope.strip_prefix("vendor:")?;
    let (v, s) = rest.split_once(":system:")?;
    Some((v.parse().ok()?, s.parse().ok()?))
}

/// One vendor form of the year: whose it is and how far it is answered.
#[derive(Debug, Clone)]
pub struct VendorForm {
    pub key: FormKey,
    pub system: InfoSystem,
    pub vendor: Option<Vendor>,
    pub total: usize,
    pub answered: usize,
    /// Items answered いいえ (each has a target date).
    pub no: usize,
    /// When the newest answer was given, and by whom.
    pub last_at_ms: Option<i64>,
    pub last_actor: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Answers recorded (new or changed).
    pub recorded: usize,
    /// Rows whose answer equals the current one: nothing written.
    pub unchanged: usize,
    /// Item rows left blank.
    pub blank: usize,
}

/// The printed id as people retype it: hyphens of every width become `-`.
fn normalize_id(raw: &str) -> String {
    raw.trim()
        .chars()
        .map(|c| match c {
            '－' | '‐' | '−' | '—' | '–' | 'ー' | '―' => '-',
            c => c,
        })
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// A mark cell: anything written counts (○, 〇, ◯, ✓, レ, x, 1…), 記入不要 is its own answer.
fn mark(raw: &str) -> bool {
    !raw.trim().is_empty()
}

fn is_not_applicable(raw: &str) -> bool {
    matches!(raw.trim(), "記入不要" | "N/A" | "n/a" | "NA" | "na" | "-")
}

/// The column of the form where a field's value is read from.
fn field_column(field: &str) -> usize {
    match field {
        "confirmed_on" => layout::CONFIRMED_ON,
        "target_on" => layout::TARGET_ON,
        "remarks" => layout::REMARKS,
        _ => layout::YES,
    }
}

fn cell(column: usize, line: usize) -> String {
    format!("{}{line}", column_letter(column))
}

/// Why a whole workbook was refused (not a per-cell problem).
fn file_error(e: &IngestError) -> ServiceError {
    ServiceError::Invalid {
        code: e.code(),
        field: "file",
    }
}

/// The identity pairs of a returned workbook, if it kept its hidden sheet.
fn identity(bytes: &[u8]) -> Result<Option<HashMap<String, String>>, ServiceError> {
    match read_xlsx_grid(bytes, Some(layout::IDENTITY_SHEET), &Limits::default()) {
        Ok(g) => Ok(Some(
            g.rows
                .iter()
                .map(|r| (r.get(0).to_string(), r.get(1).to_string()))
                .collect(),
        )),
        Err(IngestError::SheetNotFound { .. }) => Ok(None),
        Err(e) => Err(file_error(&e)),
    }
}

/// One item row of a returned form, as typed.
struct TypedRow {
    line: usize,
    item_key: String,
    printed: String,
    input: HashMap<String, String>,
}

/// Reads the item rows of the form sheet. Rows whose first cell is not an item id of `a`'s pack
/// (title, notes, headings) are passed over; an item twice, or both はい and いいえ marked, is a
/// problem naming the cell. Returns the rows to check, how many were blank, and the problems.
fn typed_rows(a: &Assessment, grid: &Grid) -> (Vec<TypedRow>, usize, Vec<CellError>) {
    let ids: HashMap<String, &str> = a
        .pack
        .items
        .iter()
        .map(|i| (normalize_id(&i.id), i.key.as_str()))
        .collect();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut blank = 0;
    for r in &grid.rows {
        let printed = normalize_id(r.get(layout::ID));
        let Some(&key) = ids.get(&printed) else {
            continue;
        };
        if !seen.insert(key) {
            errors.push(CellError {
                cell: cell(layout::ID, r.line),
                item: printed,
                code: "CHK0021",
            });
            continue;
        }
        let (yes, no) = (r.get(layout::YES), r.get(layout::NO));
        let answer = if is_not_applicable(yes) {
            "na"
        } else {
            match (mark(yes), mark(no)) {
                (true, true) => {
                    errors.push(CellError {
                        cell: cell(layout::YES, r.line),
                        item: printed,
                        code: "CHK0022",
                    });
                    continue;
                }
                (true, false) => "yes",
                (false, true) => "no",
                (false, false) => "",
            }
        };
        let rest = [layout::CONFIRMED_ON, layout::TARGET_ON, layout::REMARKS];
        if answer.is_empty() && rest.iter().all(|c| r.get(*c).is_empty()) {
            blank += 1;
            continue;
        }
        let input = HashMap::from([
            ("answer".to_string(), answer.to_string()),
            (
                "confirmed_on".to_string(),
                r.get(layout::CONFIRMED_ON).to_string(),
            ),
            (
                "target_on".to_string(),
                r.get(layout::TARGET_ON).to_string(),
            ),
            ("remarks".to_string(), r.get(layout::REMARKS).to_string()),
        ]);
        rows.push(TypedRow {
            line: r.line,
            item_key: key.to_string(),
            printed,
            input,
        });
    }
    (rows, blank, errors)
}

/// Whether `row` says what `current` already says (a re-import of an unchanged form).
fn same_answer(row: &AnswerRow, current: &AnswerRow) -> bool {
    row.answer == current.answer
        && row.confirmed_on == current.confirmed_on
        && row.target_on == current.target_on
        && row.remarks == current.remarks
}

impl Services {
    /// 「事業者名 / システム名」 of a vendor form's scope.
    pub(crate) async fn scope_subject(&self, scope: &str) -> ServiceResult<String> {
        let Some((v, s)) = parse_scope(scope) else {
            return Ok(scope.to_string());
        };
        let vendor = self
            .store
            .record::<Vendor>(v)
            .await?
            .map_or_else(|| format!("#{v}"), |x| x.name);
        let system = self
            .store
            .record::<InfoSystem>(s)
            .await?
            .map_or_else(|| format!("#{s}"), |x| x.name);
        Ok(format!("{vendor} / {system}"))
    }

    /// The vendor form of system `system_id` for fiscal year `fy` (this year when `None`): the
    /// newest 事業者確認用 edition for that year, scoped to the system's vendor.
    pub async fn vendor_form_key(&self, system_id: i64, fy: Option<i32>) -> ServiceResult<FormKey> {
        let system = self
            .store
            .record::<InfoSystem>(system_id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let vendor = system.vendor_id.ok_or(ServiceError::Invalid {
            code: "CHK0024",
            field: "system",
        })?;
        let fy = fy.unwrap_or_else(|| fiscal_year(self.clock.today()));
        let pack = packs::latest("vendor", fy).ok_or(ServiceError::Invalid {
            code: "CHK0010",
            field: "edition",
        })?;
        Ok(FormKey {
            edition: pack.edition.clone(),
            variant: "vendor".to_string(),
            fiscal_year: fy,
            scope: vendor_scope(vendor.0, system_id),
        })
    }

    /// Every vendor form of the year: one per system in use that names its vendor.
    pub async fn vendor_forms(
        &self,
        _cap: &Cap<perm::ViewChecklist>,
        fy: i32,
    ) -> ServiceResult<Vec<VendorForm>> {
        self.vendor_forms_of(None, fy).await
    }

    /// The vendor forms of the signed-in vendor's own systems.
    pub async fn portal_forms(
        &self,
        cap: &Cap<perm::VendorPortal>,
        fy: i32,
    ) -> ServiceResult<Vec<VendorForm>> {
        match cap.actor().user.vendor_id {
            Some(v) => self.vendor_forms_of(Some(v.0), fy).await,
            None => Ok(Vec::new()),
        }
    }

    pub(crate) async fn vendor_forms_of(
        &self,
        only: Option<i64>,
        fy: i32,
    ) -> ServiceResult<Vec<VendorForm>> {
        let vendors = self.store.records::<Vendor>().await?;
        let mut out = Vec::new();
        for system in self.store.records::<InfoSystem>().await? {
            let Some(vid) = system.vendor_id else {
                continue;
            };
            if system.status == SystemStatus::Retired || only.is_some_and(|o| o != vid.0) {
                continue;
            }
            let key = self.vendor_form_key(system.id.0, Some(fy)).await?;
            let total = packs::pack(&key.edition, &key.variant).map_or(0, |p| p.items.len());
            let answers = self.store.current_answers(&key).await?;
            let last = answers.iter().max_by_key(|a| a.at_ms);
            out.push(VendorForm {
                total,
                answered: answers.len(),
                no: answers.iter().filter(|a| a.answer == "no").count(),
                last_at_ms: last.map(|a| a.at_ms),
                last_actor: last.map(|a| a.actor.clone()),
                vendor: vendors.iter().find(|v| v.id == vid).cloned(),
                system,
                key,
            });
        }
        Ok(out)
    }

    /// The vendor form of one of the signed-in vendor's systems. Another vendor's system is
    /// "not found", so that a vendor cannot learn which systems others supply.
    pub async fn portal_form_key(
        &self,
        cap: &Cap<perm::VendorPortal>,
        system_id: i64,
        fy: Option<i32>,
    ) -> ServiceResult<FormKey> {
        let own = cap.actor().user.vendor_id.ok_or(ServiceError::NotFound)?;
        let key = self
            .vendor_form_key(system_id, fy)
            .await
            .map_err(|e| match e {
                ServiceError::Invalid { .. } => ServiceError::NotFound,
                e => e,
            })?;
        match parse_scope(&key.scope) {
            Some((v, _)) if v == own.0 => Ok(key),
            _ => Err(ServiceError::NotFound),
        }
    }

    /// The assessment of one of the vendor's own forms (see [`Services::portal_form_key`]).
    pub async fn portal_assessment(
        &self,
        cap: &Cap<perm::VendorPortal>,
        key: &FormKey,
    ) -> ServiceResult<Assessment> {
        self.check_portal_key(cap, key)?;
        let pack = packs::pack(&key.edition, &key.variant).ok_or(ServiceError::NotFound)?;
        let answers = self.store.current_answers(key).await?;
        let snapshot = self.checklist_snapshot().await?;
        self.assess(pack, key, &snapshot, &answers).await
    }

    /// Every answer given to one item of the vendor's own form, newest first.
    pub async fn portal_history(
        &self,
        cap: &Cap<perm::VendorPortal>,
        key: &FormKey,
        item_key: &str,
    ) -> ServiceResult<Vec<AnswerRow>> {
        self.check_portal_key(cap, key)?;
        let pack = packs::pack(&key.edition, &key.variant).ok_or(ServiceError::NotFound)?;
        pack.item(item_key).ok_or(ServiceError::NotFound)?;
        Ok(self.store.answer_history(key, item_key).await?)
    }

    /// The vendor answers one item of its own form.
    pub async fn portal_answer(
        &self,
        cap: &Cap<perm::VendorPortal>,
        key: &FormKey,
        item_key: &str,
        input: &HashMap<String, String>,
        client: &ClientInfo,
    ) -> ServiceResult<()> {
        self.check_portal_key(cap, key)?;
        self.record_answer(&cap.actor().label(), key, item_key, input, client)
            .await
    }

    /// The vendor uploads its filled-in form.
    pub async fn portal_import(
        &self,
        cap: &Cap<perm::VendorPortal>,
        key: &FormKey,
        bytes: &[u8],
        client: &ClientInfo,
    ) -> ServiceResult<ImportSummary> {
        self.check_portal_key(cap, key)?;
        self.import_form(&cap.actor().label(), key, bytes, client)
            .await
    }

    /// The facility reads back a form a vendor returned (by mail, on paper retyped into it).
    pub async fn import_vendor_form(
        &self,
        cap: &Cap<perm::AnswerChecklist>,
        key: &FormKey,
        bytes: &[u8],
        client: &ClientInfo,
    ) -> ServiceResult<ImportSummary> {
        if parse_scope(&key.scope).is_none() {
            return Err(ServiceError::NotFound);
        }
        self.import_form(&cap.actor().label(), key, bytes, client)
            .await
    }

    fn check_portal_key(&self, cap: &Cap<perm::VendorPortal>, key: &FormKey) -> ServiceResult<()> {
        let own = cap.actor().user.vendor_id.ok_or(ServiceError::NotFound)?;
        match parse_scope(&key.scope) {
            Some((v, _)) if v == own.0 && key.variant == "vendor" => Ok(()),
            _ => Err(ServiceError::NotFound),
        }
    }

    /// Reads a returned XLSX form into answers of form `key`: every filled item row is checked
    /// as if typed on the item's page, and either all of them are recorded (one transaction,
    /// one audit event each) or none, with every problem named by its cell.
    async fn import_form(
        &self,
        actor: &str,
        key: &FormKey,
        bytes: &[u8],
        client: &ClientInfo,
    ) -> ServiceResult<ImportSummary> {
        if let Some(id) = identity(bytes)? {
            let want = [
                ("edition", key.edition.clone()),
                ("variant", key.variant.clone()),
                ("fiscal_year", key.fiscal_year.to_string()),
                ("scope", key.scope.clone()),
            ];
            if want
                .iter()
                .any(|(k, v)| id.get(*k).is_some_and(|got| got != v))
            {
                return Err(ServiceError::Invalid {
                    code: "CHK0020",
                    field: "file",
                });
            }
        }
        let grid = read_xlsx_grid(bytes, None, &Limits::default()).map_err(|e| file_error(&e))?;
        let pack = packs::pack(&key.edition, &key.variant).ok_or(ServiceError::NotFound)?;
        let answers = self.store.current_answers(key).await?;
        let snapshot = self.checklist_snapshot().await?;
        let state = self.assess(pack, key, &snapshot, &answers).await?;
        let (typed, blank, mut errors) = typed_rows(&state, &grid);
        if typed.is_empty() && blank == 0 && errors.is_empty() {
            return Err(ServiceError::Invalid {
                code: "CHK0023",
                field: "file",
            });
        }
        let now = self.now_ms();
        let mut rows = Vec::new();
        let mut unchanged = 0;
        for t in &typed {
            match prepare_answer(&state, &answers, &t.item_key, &t.input, actor, now) {
                Ok(row) => {
                    let current = answers.iter().find(|a| a.item_key == row.item_key);
                    if current.is_some_and(|c| same_answer(&row, c)) {
                        unchanged += 1;
                    } else {
                        rows.push(row);
                    }
                }
                Err(Prepared::Fields(fields)) => {
                    errors.extend(fields.iter().map(|f: &FieldError| CellError {
                        cell: cell(field_column(f.field), t.line),
                        item: t.printed.clone(),
                        code: f.code,
                    }));
                }
                Err(Prepared::Unknown) => return Err(ServiceError::NotFound),
            }
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| {
                let digits: String = e.cell.chars().filter(char::is_ascii_digit).collect();
                (digits.parse::<usize>().unwrap_or(0), e.cell.clone())
            });
            return Err(ServiceError::Cells(errors));
        }
        if !rows.is_empty() {
            self.write_answers(key, &rows, client, "import").await?;
        }
        Ok(ImportSummary {
            recorded: rows.len(),
            unchanged,
            blank,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip() {
        let s = vendor_scope(3, 14);
        assert_eq!(s, "vendor:3:system:14");
        assert_eq!(parse_scope(&s), Some((3, 14)));
        assert_eq!(parse_scope(""), None);
        assert_eq!(parse_scope("vendor:x:system:1"), None);
    }

    #[test]
    fn retyped_ids_match() {
        assert_eq!(normalize_id(" 2－⑤ "), "2-⑤");
        assert_eq!(normalize_id("2ー①"), "2-①");
        assert_eq!(normalize_id("1-①"), "1-①");
    }
}
