//! The ledger's registries: list, detail, create, edit, retire, with a change history per record
//! (who, when, before/after) and one audit event per change. One generic path serves every
//! registry; a registry is described by its [`Record`] field list in `domain`.
//!
//! Values arrive as people type them (forms, spreadsheet cells): [`normalize`] turns them into
//! canonical text (和暦 dates, labels of choices in Japanese or English, はい/いいえ, names of
//! referenced records), [`mamori_domain::registry::build`] checks them and builds the record.

use crate::authz::{Cap, perm};
use crate::error::{ServiceError, ServiceResult};
use crate::{ClientInfo, Services};
use mamori_catalog::{Lang, tr};
use mamori_domain::ledger::{
    Account, Asset, Contact, FacilityDocument, FieldChange, FieldError, InfoSystem, Person,
    RemotePoint, Vendor, VendorDocument,
};
use mamori_domain::registry::{
    self, Field, FieldKind, Record, RegistryKind, build, changes, creation, key_of, title_of,
};
use mamori_domain::wareki::{parse_date_ja, parse_year_month_ja};
use mamori_storage::ledger;
use mamori_storage::registry::{self as store_registry, Filter};
use serde_json::json;
use std::collections::HashMap;

/// A record another registry can point at: its id, key and title, as offered in selects and
/// matched in imports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefOption {
    pub id: i64,
    pub key: String,
    pub title: String,
    pub retired: bool,
}

impl RefOption {
    /// How the reference is written in exports and shown in lists: the title when it is the key
    /// (vendors, systems), otherwise the key (asset tag, staff number) with the title.
    pub fn label(&self) -> String {
        if self.key == self.title || self.title.is_empty() {
            self.key.clone()
        } else {
            format!("{} {}", self.key, self.title)
        }
    }
}

/// The records of the registries a registry refers to.
#[derive(Debug, Clone, Default)]
pub struct Refs(pub HashMap<RegistryKind, Vec<RefOption>>);

impl Refs {
    pub fn options(&self, kind: RegistryKind) -> &[RefOption] {
        self.0.get(&kind).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The label of a reference id, or the id itself when unknown.
    pub fn label(&self, kind: RegistryKind, id: &str) -> String {
        self.options(kind)
            .iter()
            .find(|o| o.id.to_string() == id.trim())
            .map(RefOption::label)
            .unwrap_or_else(|| id.to_string())
    }

    /// The id of the record a spreadsheet names: by key, by "key title", or by a unique title.
    fn find(&self, kind: RegistryKind, text: &str) -> Option<i64> {
        let t = norm(text);
        let opts = self.options(kind);
        if let Some(o) = opts
            .iter()
            .find(|o| norm(&o.key) == t || norm(&o.label()) == t)
        {
            return Some(o.id);
        }
        let mut by_title = opts.iter().filter(|o| norm(&o.title) == t);
        match (by_title.next(), by_title.next()) {
            (Some(o), None) => Some(o.id),
            _ => None,
        }
    }
}

fn options<R: Record>(records: &[R], today: time::Date) -> Vec<RefOption> {
    records
        .iter()
        .map(|r| RefOption {
            id: r.id(),
            key: key_of(r).replace('\u{1f}', " / "),
            title: title_of(r),
            retired: r.is_retired(today),
        })
        .collect()
}

/// Folds what people vary when typing a name: spaces, brackets, middle dots, case, and
/// full-width ASCII.
pub(crate) fn norm(s: &str) -> String {
    halfwidth(s)
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '（' | '）' | '(' | ')' | '・'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Full-width ASCII (０-９, Ａ-Ｚ, ＠, －, ー between digits …) to ASCII, for numbers, phones,
/// addresses and codes typed with a Japanese input method.
pub fn halfwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            '−' | '‐' | '―' | 'ー' => '-',
            _ => c,
        })
        .collect()
}

/// Undoes the spreadsheet formula guard added on export (`'=…`).
pub(crate) fn unguard(v: &str) -> &str {
    match v.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
        _ => v,
    }
}

/// A value that could not be read, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormError {
    pub code: &'static str,
    /// A more precise Japanese message than the code's (from the date reader).
    pub message_ja: Option<String>,
}

fn label_code(codes: &[&'static str], labels: &str, text: &str) -> Option<&'static str> {
    let t = norm(text);
    codes.iter().copied().find(|c| {
        let key = format!("{labels}.{c}");
        t == norm(c) || t == norm(tr(Lang::Ja, &key)) || t == norm(tr(Lang::En, &key))
    })
}

fn yes_no(text: &str) -> Option<Option<bool>> {
    match norm(text).as_str() {
        "1" | "はい" | "有" | "あり" | "有り" | "yes" | "y" | "true" | "○" | "◯" | "✓" | "済"
        | "実施" | "する" => Some(Some(true)),
        "0" | "いいえ" | "無" | "なし" | "無し" | "no" | "n" | "false" | "×" | "✕" | "未"
        | "しない" => Some(Some(false)),
        "" | "不明" | "未確認" | "unknown" | "-" | "—" => Some(None),
        _ => None,
    }
}

/// Turns a value as typed (form or spreadsheet cell) into canonical text. References are
/// matched by name when `by_name` (imports), by id otherwise (forms).
pub fn normalize(f: &Field, raw: &str, refs: &Refs, by_name: bool) -> Result<String, NormError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(String::new());
    }
    let fail = |code| NormError {
        code,
        message_ja: None,
    };
    let ymd = |d: time::Date| registry::day_text(Some(d));
    Ok(match f.kind {
        FieldKind::Text(_) | FieldKind::Note => raw.to_string(),
        FieldKind::Ips | FieldKind::Macs | FieldKind::Email | FieldKind::Phone => {
            halfwidth(raw).trim().to_string()
        }
        FieldKind::Date => match parse_date_ja(raw) {
            Ok(d) => ymd(d),
            Err(e) => {
                return Err(NormError {
                    code: e.code(),
                    message_ja: Some(e.message_ja()),
                });
            }
        },
        FieldKind::Month => match parse_year_month_ja(raw) {
            Ok(d) => registry::month_text(Some(d)),
            Err(e) => {
                return Err(NormError {
                    code: e.code(),
                    message_ja: Some(e.message_ja()),
                });
            }
        },
        FieldKind::Choice(codes) => label_code(codes, f.labels, raw)
            .map(str::to_string)
            .ok_or(fail("LED0010"))?,
        FieldKind::Tags(codes) => {
            let mut picked = Vec::new();
            for part in raw
                .split([',', '、', '，', '\n'])
                .map(str::trim)
                .filter(|p| !p.is_empty())
            {
                picked.push(label_code(codes, f.labels, part).ok_or(fail("LED0010"))?);
            }
            codes
                .iter()
                .filter(|c| picked.contains(c))
                .copied()
                .collect::<Vec<_>>()
                .join(",")
        }
        FieldKind::Flag | FieldKind::MaybeFlag => match yes_no(raw) {
            Some(Some(true)) => "1".into(),
            Some(Some(false)) => "0".into(),
            Some(None) => String::new(),
            None => return Err(fail("LED0015")),
        },
        FieldKind::Int(..) => {
            let h = halfwidth(raw);
            let digits = h
                .trim()
                .trim_end_matches(['文', '字', '日', '回', '桁', '以', '上', '間'])
                .trim();
            digits
                .parse::<i64>()
                .map(|n| n.to_string())
                .map_err(|_| fail("LED0016"))?
        }
        FieldKind::Ref(kind) => {
            let id = if by_name {
                refs.find(kind, raw)
            } else {
                raw.parse::<i64>()
                    .ok()
                    .filter(|id| refs.options(kind).iter().any(|o| o.id == *id))
            };
            id.ok_or(fail("LED0012"))?.to_string()
        }
        FieldKind::Refs(kind) => {
            let mut ids = Vec::new();
            for part in raw
                .split([',', '、', '，', '\n'])
                .map(str::trim)
                .filter(|p| !p.is_empty())
            {
                let id = if by_name {
                    refs.find(kind, part)
                } else {
                    part.parse::<i64>()
                        .ok()
                        .filter(|id| refs.options(kind).iter().any(|o| o.id == *id))
                };
                ids.push(id.ok_or(fail("LED0012"))?);
            }
            registry::ids_text(&ids)
        }
    })
}

/// A value as people read it: labels for codes, はい/いいえ, names for references.
pub fn display(lang: Lang, f: &Field, value: &str, refs: &Refs) -> String {
    if value.is_empty() {
        return String::new();
    }
    match f.kind {
        FieldKind::Choice(_) => tr(lang, &format!("{}.{value}", f.labels)).to_string(),
        FieldKind::Tags(_) => value
            .split(',')
            .map(|c| tr(lang, &format!("{}.{c}", f.labels)).to_string())
            .collect::<Vec<_>>()
            .join("、"),
        FieldKind::Flag | FieldKind::MaybeFlag => match value {
            "1" => tr(lang, "common.yes").to_string(),
            "0" => tr(lang, "common.no").to_string(),
            _ => value.to_string(),
        },
        FieldKind::Ref(kind) => refs.label(kind, value),
        FieldKind::Refs(kind) => value
            .split(',')
            .map(|id| refs.label(kind, id))
            .collect::<Vec<_>>()
            .join("、"),
        _ => value.to_string(),
    }
}

/// The label of field `key` of registry `kind`.
pub fn field_label(lang: Lang, kind: RegistryKind, key: &str) -> String {
    tr(lang, &format!("{}_field.{key}", kind.as_str())).to_string()
}

/// One entry of a record's history, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    /// (field, before, after)
    pub changes: Vec<(String, String, String)>,
}

/// Inserts `r` inside `w` with its history row (`source`: how it came, e.g. `directory_sync`).
pub(crate) async fn insert_with_history<R: Record>(
    w: &mut mamori_storage::Tx,
    r: &R,
    at_ms: i64,
    actor: &str,
    source: &str,
) -> ServiceResult<i64> {
    let id = store_registry::insert(w, r).await?;
    ledger::insert_history(
        w,
        R::KIND.as_str(),
        id,
        at_ms,
        actor,
        source,
        &changes_json(&mamori_domain::registry::creation(r)),
    )
    .await?;
    Ok(id)
}

/// Writes `after` over `before` inside `w` with its history row; nothing when they are equal.
/// Returns whether anything changed.
pub(crate) async fn replace_with_history<R: Record + PartialEq>(
    w: &mut mamori_storage::Tx,
    before: &R,
    after: &R,
    at_ms: i64,
    actor: &str,
    source: &str,
) -> ServiceResult<bool> {
    if before == after {
        return Ok(false);
    }
    store_registry::update(w, after).await?;
    ledger::insert_history(
        w,
        R::KIND.as_str(),
        after.id(),
        at_ms,
        actor,
        source,
        &changes_json(&mamori_domain::registry::changes(before, after)),
    )
    .await?;
    Ok(true)
}

/// Applies a plan of a list of one system's accounts (a directory sync, an imported list):
/// the accounts added, changed and disabled, each with its history row.
pub(crate) async fn apply_account_plan(
    w: &mut mamori_storage::Tx,
    plan: &mamori_domain::account_source::SyncPlan,
    at_ms: i64,
    actor: &str,
    source: &str,
) -> ServiceResult<()> {
    for a in &plan.add {
        insert_with_history(w, a, at_ms, actor, source).await?;
    }
    for (before, after) in plan.change.iter().chain(plan.disable.iter()) {
        replace_with_history(w, before, after, at_ms, actor, source).await?;
    }
    Ok(())
}

pub(crate) fn changes_json(changes: &[FieldChange]) -> String {
    serde_json::Value::Array(
        changes
            .iter()
            .map(|(f, b, a)| json!({"field": f, "before": b, "after": a}))
            .collect(),
    )
    .to_string()
}

pub(crate) fn decode_changes(s: &str) -> Vec<(String, String, String)> {
    let v: serde_json::Value = serde_json::from_str(s).unwrap_or(serde_json::Value::Null);
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    let g = |k: &str| c.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
                    (g("field"), g("before"), g("after"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A table of text: headers and rows, as exported to CSV/XLSX and read back on import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextTable {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The state of the periodic ledger review (棚卸).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewState {
    pub last: Option<ledger::ReviewRow>,
    pub cycle_days: u32,
    /// Days since the last review (None: never reviewed).
    pub age_days: Option<i64>,
    /// No review yet, or the last one is older than the cycle.
    pub overdue: bool,
}

/// Turns a unique violation on a record's key into a field error on its first key field.
fn conflict<R: Record>(e: mamori_storage::StoreError) -> ServiceError {
    if e.is_unique_violation() {
        ServiceError::Fields(vec![FieldError {
            field: R::KEY.first().copied().unwrap_or("id"),
            code: "LED0008",
        }])
    } else {
        e.into()
    }
}

fn fields_json(changes: &[FieldChange], pick: fn(&FieldChange) -> &String) -> serde_json::Value {
    serde_json::Value::Object(
        changes
            .iter()
            .map(|c| (c.0.to_string(), json!(pick(c))))
            .collect(),
    )
}

impl Services {
    /// The records the fields of `R` can point at.
    pub async fn refs_for<R: Record>(&self) -> ServiceResult<Refs> {
        let mut kinds: Vec<RegistryKind> = R::FIELDS
            .iter()
            .filter_map(|f| match f.kind {
                FieldKind::Ref(k) | FieldKind::Refs(k) => Some(k),
                _ => None,
            })
            .collect();
        kinds.sort();
        kinds.dedup();
        let mut refs = Refs::default();
        for k in kinds {
            refs.0.insert(k, self.ref_options(k).await?);
        }
        Ok(refs)
    }

    /// Every record of registry `kind` as a reference option.
    pub async fn ref_options(&self, kind: RegistryKind) -> ServiceResult<Vec<RefOption>> {
        let today = self.clock.today();
        let s = &self.store;
        Ok(match kind {
            RegistryKind::Asset => options(&s.records::<Asset>().await?, today),
            RegistryKind::System => options(&s.records::<InfoSystem>().await?, today),
            RegistryKind::Person => options(&s.records::<Person>().await?, today),
            RegistryKind::Account => options(&s.records::<Account>().await?, today),
            RegistryKind::Vendor => options(&s.records::<Vendor>().await?, today),
            RegistryKind::Contact => options(&s.records::<Contact>().await?, today),
            RegistryKind::RemotePoint => options(&s.records::<RemotePoint>().await?, today),
            RegistryKind::VendorDocument => options(&s.records::<VendorDocument>().await?, today),
            RegistryKind::Document => options(&s.records::<FacilityDocument>().await?, today),
        })
    }

    /// Reads a form: every field's value normalized and checked, the record built.
    pub fn parse_form<R: Record>(
        &self,
        id: i64,
        input: &HashMap<String, String>,
        refs: &Refs,
    ) -> Result<R, Vec<FieldError>> {
        let mut errors = Vec::new();
        let values: Vec<String> = R::FIELDS
            .iter()
            .map(|f| {
                let raw = input.get(f.key).map(String::as_str).unwrap_or("");
                normalize(f, raw, refs, false).unwrap_or_else(|_| {
                    errors.push(FieldError {
                        field: f.key,
                        code: registry::kind_error(f.kind),
                    });
                    raw.to_string()
                })
            })
            .collect();
        match build::<R>(id, &values) {
            Ok(r) if errors.is_empty() => Ok(r),
            Ok(_) => Err(errors),
            Err(more) => {
                for e in more {
                    if !errors.iter().any(|x| x.field == e.field) {
                        errors.push(e);
                    }
                }
                Err(errors)
            }
        }
    }

    /// A page of a registry.
    pub async fn record_list<R: Record>(
        &self,
        _cap: &Cap<perm::ViewLedger>,
        filter: &Filter,
        page: i64,
        per_page: i64,
    ) -> ServiceResult<(Vec<R>, i64)> {
        let per = per_page.clamp(1, 500);
        let offset = (page.max(1) - 1).saturating_mul(per);
        Ok(self.store.record_page::<R>(filter, per, offset).await?)
    }

    /// A record with its history, newest first.
    pub async fn record_detail<R: Record>(
        &self,
        _cap: &Cap<perm::ViewLedger>,
        id: i64,
    ) -> ServiceResult<(R, Vec<HistoryEntry>)> {
        let r = self
            .store
            .record::<R>(id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let h = self
            .store
            .history(R::KIND.as_str(), id)
            .await?
            .into_iter()
            .map(|r| HistoryEntry {
                at_ms: r.at_ms,
                actor: r.actor,
                action: r.action,
                changes: decode_changes(&r.changes),
            })
            .collect();
        Ok((r, h))
    }

    /// Registers a new record from a form.
    pub async fn create_record<R: Record>(
        &self,
        cap: &Cap<perm::EditLedger>,
        input: &HashMap<String, String>,
        client: &ClientInfo,
    ) -> ServiceResult<i64> {
        let refs = self.refs_for::<R>().await?;
        let rec: R = self
            .parse_form(0, input, &refs)
            .map_err(ServiceError::Fields)?;
        self.insert_record(cap, &rec, "created", client).await
    }

    /// Stores a new, already checked record with its history and audit event.
    pub async fn insert_record<R: Record>(
        &self,
        cap: &Cap<perm::EditLedger>,
        rec: &R,
        action: &str,
        client: &ClientInfo,
    ) -> ServiceResult<i64> {
        let actor = cap.actor().label();
        let mut w = self.store.write().await?;
        let id = store_registry::insert(&mut w, rec)
            .await
            .map_err(conflict::<R>)?;
        let kind = R::KIND.as_str();
        ledger::insert_history(
            &mut w,
            kind,
            id,
            self.now_ms(),
            &actor,
            action,
            &changes_json(&creation(rec)),
        )
        .await?;
        self.audit(
            &mut w,
            &actor,
            &client.source,
            "ledger.record_created",
            &format!("{kind}:{id}"),
            json!({"key": key_of(rec).replace('\u{1f}', " / "), "title": title_of(rec)}),
        )
        .await?;
        w.commit().await?;
        Ok(id)
    }

    /// Replaces a record's fields from a form; records only what changed. Returns the number of
    /// changed fields.
    pub async fn update_record<R: Record>(
        &self,
        cap: &Cap<perm::EditLedger>,
        id: i64,
        input: &HashMap<String, String>,
        client: &ClientInfo,
    ) -> ServiceResult<usize> {
        let before = self
            .store
            .record::<R>(id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let refs = self.refs_for::<R>().await?;
        let after: R = self
            .parse_form(id, input, &refs)
            .map_err(ServiceError::Fields)?;
        self.replace_record(cap, &before, &after, client).await
    }

    /// Retires a record (廃棄, 退職, 無効 …) as of today.
    pub async fn retire_record<R: Record>(
        &self,
        cap: &Cap<perm::EditLedger>,
        id: i64,
        client: &ClientInfo,
    ) -> ServiceResult<usize> {
        let before = self
            .store
            .record::<R>(id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let mut after = before.clone();
        after.retire(self.clock.today());
        self.replace_record(cap, &before, &after, client).await
    }

    async fn replace_record<R: Record>(
        &self,
        cap: &Cap<perm::EditLedger>,
        before: &R,
        after: &R,
        client: &ClientInfo,
    ) -> ServiceResult<usize> {
        let changes = changes(before, after);
        if changes.is_empty() {
            return Ok(0);
        }
        let today = self.clock.today();
        let action = if !before.is_retired(today) && after.is_retired(today) {
            "retired"
        } else {
            "updated"
        };
        let actor = cap.actor().label();
        let kind = R::KIND.as_str();
        let mut w = self.store.write().await?;
        if !store_registry::update(&mut w, after)
            .await
            .map_err(conflict::<R>)?
        {
            return Err(ServiceError::NotFound);
        }
        ledger::insert_history(
            &mut w,
            kind,
            after.id(),
            self.now_ms(),
            &actor,
            action,
            &changes_json(&changes),
        )
        .await?;
        self.audit(
            &mut w,
            &actor,
            &client.source,
            if action == "retired" {
                "ledger.record_retired"
            } else {
                "ledger.record_updated"
            },
            &format!("{kind}:{}", after.id()),
            json!({
                "before": fields_json(&changes, |c| &c.1),
                "after": fields_json(&changes, |c| &c.2),
                "fields": changes.iter().map(|c| c.0).collect::<Vec<_>>(),
            }),
        )
        .await?;
        w.commit().await?;
        Ok(changes.len())
    }

    /// A registry as a table as people read it, headers in `lang`; the import reads it back.
    pub async fn record_table<R: Record>(
        &self,
        _cap: &Cap<perm::ViewLedger>,
        lang: Lang,
    ) -> ServiceResult<TextTable> {
        let refs = self.refs_for::<R>().await?;
        let records = self.store.records::<R>().await?;
        let headers = R::FIELDS
            .iter()
            .map(|f| field_label(lang, R::KIND, f.key))
            .collect();
        let rows = records
            .iter()
            .map(|r| {
                R::FIELDS
                    .iter()
                    .zip(r.values())
                    .map(|(f, v)| export_cell(lang, f, &v, &refs))
                    .collect()
            })
            .collect();
        Ok(TextTable { headers, rows })
    }

    /// When registry `kind` was last signed off, and whether a review is due.
    pub async fn review_state(&self, kind: RegistryKind) -> ServiceResult<ReviewState> {
        let cycle_days = self.review_cycle_days().await?;
        self.review_state_in(kind, cycle_days).await
    }

    /// The review state of every registry, in the order of [`RegistryKind::ALL`].
    pub async fn review_states(&self) -> ServiceResult<Vec<(RegistryKind, ReviewState)>> {
        let cycle_days = self.review_cycle_days().await?;
        let mut out = Vec::with_capacity(RegistryKind::ALL.len());
        for kind in RegistryKind::ALL {
            out.push((*kind, self.review_state_in(*kind, cycle_days).await?));
        }
        Ok(out)
    }

    async fn review_cycle_days(&self) -> ServiceResult<u32> {
        Ok(self
            .store
            .facility()
            .await?
            .map(|f| f.settings.ledger_review_cycle_days)
            .unwrap_or(365))
    }

    async fn review_state_in(
        &self,
        kind: RegistryKind,
        cycle_days: u32,
    ) -> ServiceResult<ReviewState> {
        let last = self.store.last_review(kind.as_str()).await?;
        let age_days = last
            .as_ref()
            .map(|r| (self.now_ms() - r.at_ms) / 86_400_000);
        Ok(ReviewState {
            overdue: age_days.is_none_or(|d| d > i64::from(cycle_days)),
            last,
            cycle_days,
            age_days,
        })
    }

    /// Signs off registry `R` as reviewed (棚卸) today.
    pub async fn sign_off<R: Record>(
        &self,
        cap: &Cap<perm::EditLedger>,
        note: &str,
        client: &ClientInfo,
    ) -> ServiceResult<()> {
        let note = note.trim();
        if note.chars().count() > 1000 {
            return Err(ServiceError::Invalid {
                code: "LED0002",
                field: "note",
            });
        }
        let records = self.store.record_count::<R>().await?;
        let actor = cap.actor().label();
        let mut w = self.store.write().await?;
        ledger::insert_review(
            &mut w,
            R::KIND.as_str(),
            &ledger::ReviewRow {
                at_ms: self.now_ms(),
                actor: actor.clone(),
                note: note.to_string(),
                records,
            },
        )
        .await?;
        self.audit(
            &mut w,
            &actor,
            &client.source,
            "ledger.reviewed",
            &format!("ledger:{}", R::KIND.plural()),
            json!({"records": records, "note": note}),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }
}

/// A value as written into an exported spreadsheet: like [`display`], but references are written
/// so that the import finds them again, and formulas are guarded.
pub fn export_cell(lang: Lang, f: &Field, value: &str, refs: &Refs) -> String {
    match f.kind {
        FieldKind::Ref(kind) => refs
            .options(kind)
            .iter()
            .find(|o| o.id.to_string() == value)
            .map(|o| o.key.clone())
            .unwrap_or_default(),
        FieldKind::Refs(kind) => value
            .split(',')
            .filter_map(|id| {
                refs.options(kind)
                    .iter()
                    .find(|o| o.id.to_string() == id)
                    .map(|o| o.key.clone())
            })
            .collect::<Vec<_>>()
            .join("、"),
        _ => display(lang, f, value, refs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_domain::ledger::AssetClass;

    fn refs() -> Refs {
        let mut r = Refs::default();
        r.0.insert(
            RegistryKind::Vendor,
            vec![RefOption {
                id: 3,
                key: "株式会社メディネクスト".into(),
                title: "株式会社メディネクスト".into(),
                retired: false,
            }],
        );
        r.0.insert(
            RegistryKind::Asset,
            vec![RefOption {
                id: 8,
                key: "SV-01".into(),
                title: "電子カルテサーバ".into(),
                retired: false,
            }],
        );
        r
    }

    fn field(fields: &'static [Field], key: &str) -> &'static Field {
        fields.iter().find(|f| f.key == key).unwrap()
    }

    #[test]
    fn typed_values_become_canonical() {
        let r = refs();
        let a = Asset::FIELDS;
        let n = |k: &str, v: &str| normalize(field(a, k), v, &r, true);
        assert_eq!(n("class", "端末PC").unwrap(), "workstation");
        assert_eq!(n("class", "Server").unwrap(), "server");
        assert_eq!(n("class", "城").unwrap_err().code, "LED0010");
        assert_eq!(n("eol_on", "R7.4.1").unwrap(), "2025-04-01");
        assert_eq!(n("installed_on", "令和3年4月").unwrap(), "2021-04");
        assert_eq!(n("vendor", "株式会社 メディネクスト").unwrap(), "3");
        assert_eq!(n("vendor", "知らない会社").unwrap_err().code, "LED0012");
        assert_eq!(n("ip", "１９２.１６８.０.１").unwrap(), "192.168.0.1");
        let s = InfoSystem::FIELDS;
        let m = |k: &str, v: &str| normalize(field(s, k), v, &r, true);
        assert_eq!(m("assets", "SV-01").unwrap(), "8");
        assert_eq!(m("assets", "SV-01 電子カルテサーバ").unwrap(), "8");
        assert_eq!(m("access_log", "あり").unwrap(), "1");
        assert_eq!(m("access_log", "未確認").unwrap(), "");
        assert_eq!(m("access_log", "たぶん").unwrap_err().code, "LED0015");
        assert_eq!(m("pw_min_length", "８文字").unwrap(), "8");
        let v = Vendor::FIELDS;
        assert_eq!(
            normalize(
                field(v, "certifications"),
                "プライバシーマーク、ISMS",
                &r,
                true
            )
            .unwrap(),
            "isms,pmark"
        );
        assert_eq!(
            normalize(field(v, "phone"), "０３－１２３４－５６７８", &r, true).unwrap(),
            "03-1234-5678"
        );
    }

    #[test]
    fn forms_refer_by_id_only() {
        let r = refs();
        let f = field(Asset::FIELDS, "vendor");
        assert_eq!(normalize(f, "3", &r, false).unwrap(), "3");
        assert!(normalize(f, "4", &r, false).is_err());
        assert!(normalize(f, "株式会社メディネクスト", &r, false).is_err());
    }

    #[test]
    fn export_cells_import_back_to_the_same_value() {
        let r = refs();
        let mut a = Asset::blank(AssetClass::Server);
        a.tag = "SV-01".into();
        a.name = "電子カルテサーバ".into();
        a.vendor_id = Some(mamori_domain::VendorId(3));
        a.eol_on = time::Date::from_calendar_date(2029, time::Month::March, 31).ok();
        for lang in [Lang::Ja, Lang::En] {
            for (f, v) in Asset::FIELDS.iter().zip(a.values()) {
                let cell = export_cell(lang, f, &v, &r);
                assert_eq!(normalize(f, &cell, &r, true).unwrap(), v, "{}", f.key);
            }
        }
    }
}
