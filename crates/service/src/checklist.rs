//! The checklist as live compliance: each item of a rule pack backed by the evidence the probes
//! compute from the ledger and the facility's documents; answers (はい / いいえ / 記入不要 with
//! 確認日, 目標日, 備考) kept in full with the evidence frozen at the moment of answering; flags
//! for contradictions, suggested upgrades and evidence about to go stale; and the form as the
//! inspection expects it.

use crate::authz::{Cap, perm};
use crate::error::{ServiceError, ServiceResult};
use crate::{ClientInfo, Services};
use mamori_catalog::checklist::{self as packs, Item, Pack};
use mamori_catalog::messages::fill;
use mamori_catalog::{Lang, tr};
use mamori_domain::checklist::{
    self as rules, Answer, AnswerInput, Evidence, Fact, Flag, Snapshot, Thresholds, Verdict,
};
use mamori_domain::facility::FacilityKind;
use mamori_domain::ledger::{
    Account, Asset, Contact, FacilityDocument, FieldError, InfoSystem, Person, RemotePoint, Vendor,
    VendorDocument,
};
use mamori_domain::registry::{RegistryKind, day_text, parse_day};
use mamori_domain::wareki::{fiscal_year, format_fiscal_year, format_wareki, parse_date_ja};
use mamori_reports::checklist as form;
use mamori_storage::checklist::{AnswerRow, FormKey, insert_answer};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use time::Date;

/// The variant of the form a facility of `kind` answers.
pub fn variant_of(kind: FacilityKind) -> &'static str {
    match kind {
        FacilityKind::Pharmacy => "pharmacy",
        FacilityKind::Vendor => "vendor",
        FacilityKind::Hospital | FacilityKind::Clinic | FacilityKind::DentalClinic => "hospital",
    }
}

/// An answer as stored, read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenAnswer {
    pub answer: Answer,
    pub confirmed_on: Option<Date>,
    pub target_on: Option<Date>,
    pub remarks: String,
    /// What the evidence said when the answer was given.
    pub verdict_then: Verdict,
    pub evidence_sha256: String,
    /// The evidence differs from what was frozen with the answer.
    pub evidence_changed: bool,
    pub at_ms: i64,
    pub actor: String,
}

/// One item of a form with its evidence, answer and flags.
#[derive(Debug, Clone)]
pub struct ItemState {
    pub item: &'static Item,
    pub evidence: Evidence,
    pub answer: Option<GivenAnswer>,
    pub flags: Vec<Flag>,
}

impl ItemState {
    pub fn has(&self, f: Flag) -> bool {
        self.flags.contains(&f)
    }
}

/// A whole form: the pack, which year and scope, and every item's state.
#[derive(Debug, Clone)]
pub struct Assessment {
    pub pack: &'static Pack,
    pub key: FormKey,
    pub today: Date,
    /// Whose form a scoped form is (「事業者名 / システム名」); empty for the facility's own.
    pub subject: String,
    pub items: Vec<ItemState>,
}

/// Counts for charts and summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub yes: usize,
    pub no: usize,
    pub na: usize,
    pub unanswered: usize,
    pub contradictions: usize,
    pub upgrades: usize,
    pub expiring: usize,
}

impl Assessment {
    pub fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for i in &self.items {
            match i.answer.as_ref().map(|a| a.answer) {
                Some(Answer::Yes) => t.yes += 1,
                Some(Answer::No) => t.no += 1,
                Some(Answer::NotApplicable) => t.na += 1,
                None => t.unanswered += 1,
            }
            t.contradictions += usize::from(i.has(Flag::Contradiction));
            t.upgrades += usize::from(i.has(Flag::Upgrade));
            t.expiring += usize::from(i.has(Flag::Expiring));
        }
        t
    }

    pub fn item(&self, key: &str) -> Option<&ItemState> {
        self.items.iter().find(|i| i.item.key == key)
    }
}

/// The combined evidence of an item's probes (the worst verdict wins; facts in probe order).
fn merge(topic: &'static str, parts: Vec<Evidence>) -> Evidence {
    if parts.is_empty() {
        // Items no probe backs (the vendor form): the person's attestation is all there is.
        return Evidence {
            topic,
            verdict: Verdict::Unknown,
            facts: Vec::new(),
            valid_until: None,
            sources: Vec::new(),
        };
    }
    let verdict = if parts.iter().any(|e| e.verdict == Verdict::Fail) {
        Verdict::Fail
    } else if parts.iter().any(|e| e.verdict == Verdict::Unknown) {
        Verdict::Unknown
    } else if parts.iter().all(|e| e.verdict == Verdict::NotApplicable) {
        Verdict::NotApplicable
    } else {
        Verdict::Pass
    };
    let mut out = Evidence {
        topic,
        verdict,
        facts: Vec::new(),
        valid_until: None,
        sources: Vec::new(),
    };
    for e in parts {
        out.valid_until = match (out.valid_until, e.valid_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        out.facts.extend(e.facts);
        for s in e.sources {
            if !out.sources.contains(&s) {
                out.sources.push(s);
            }
        }
    }
    out
}

/// The evidence as canonical JSON (keys sorted, no whitespace): what is frozen with an answer
/// and hashed.
pub fn evidence_json(e: &Evidence) -> String {
    let facts: Vec<Value> = e
        .facts
        .iter()
        .map(|f| {
            json!({
                "code": f.code,
                "tone": f.tone.as_str(),
                "args": f.args.iter().map(|(k, v)| (k.to_string(), Value::from(v.clone()))).collect::<serde_json::Map<_, _>>(),
                "records": f.records.iter().map(|r| json!({"kind": r.kind.as_str(), "id": r.id, "label": r.label})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let doc = json!({
        "topic": e.topic,
        "verdict": e.verdict.as_str(),
        "valid_until": e.valid_until.map(|d| day_text(Some(d))),
        "sources": e.sources.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "facts": facts,
    });
    let mut out = String::new();
    write_canonical(&doc, &mut out);
    out
}

/// `v` as JSON with every object's keys sorted (byte order) and no whitespace, whatever order
/// serde_json keeps them in (a dependency may switch it to insertion order for the whole build).
fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// SHA-256 of `s` in hex.
pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn given(row: &AnswerRow, current_hash: &str) -> Option<GivenAnswer> {
    Some(GivenAnswer {
        answer: Answer::parse(&row.answer)?,
        confirmed_on: parse_day(&row.confirmed_on),
        target_on: row.target_on.as_deref().and_then(parse_day),
        remarks: row.remarks.clone(),
        verdict_then: Verdict::parse(&row.verdict).unwrap_or(Verdict::Unknown),
        evidence_sha256: row.evidence_sha256.clone(),
        evidence_changed: row.evidence_sha256 != current_hash,
        at_ms: row.at_ms,
        actor: row.actor.clone(),
    })
}

fn check_form(edition: &str, variant: &str, fy: i32) -> ServiceResult<&'static Pack> {
    if !(2000..=2100).contains(&fy) {
        return Err(ServiceError::Invalid {
            code: "CHK0011",
            field: "fiscal_year",
        });
    }
    packs::pack(edition, variant).ok_or(ServiceError::Invalid {
        code: "CHK0010",
        field: "edition",
    })
}

/// Reads a typed date of an answer (和暦 and the usual Western spellings).
fn typed_date(raw: Option<&String>, field: &'static str) -> Result<Option<Date>, FieldError> {
    let raw = raw.map(|s| s.trim()).unwrap_or_default();
    if raw.is_empty() {
        return Ok(None);
    }
    parse_date_ja(raw).map(Some).map_err(|e| FieldError {
        field,
        code: e.code(),
    })
}

/// Reads an answer from a form or a spreadsheet row: `answer` (yes/no/na or はい/いいえ/記入不要),
/// `confirmed_on`, `target_on`, `remarks`.
pub fn parse_answer(input: &HashMap<String, String>) -> Result<AnswerInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    let raw = input.get("answer").map(|s| s.trim()).unwrap_or_default();
    let answer = match raw {
        "" => None,
        "yes" | "はい" | "○" | "Yes" | "YES" => Some(Answer::Yes),
        "no" | "いいえ" | "×" | "No" | "NO" => Some(Answer::No),
        "na" | "記入不要" | "N/A" | "n/a" => Some(Answer::NotApplicable),
        _ => {
            errors.push(FieldError {
                field: "answer",
                code: "CHK0001",
            });
            None
        }
    };
    let confirmed_on = typed_date(input.get("confirmed_on"), "confirmed_on").unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    let target_on = typed_date(input.get("target_on"), "target_on").unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    if errors.is_empty() {
        Ok(AnswerInput {
            answer,
            confirmed_on,
            target_on,
            remarks: input.get("remarks").cloned().unwrap_or_default(),
        })
    } else {
        Err(errors)
    }
}

/// Why an answer cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Prepared {
    /// The form has no such item.
    Unknown,
    /// What is wrong with each field.
    Fields(Vec<FieldError>),
}

/// Checks `input` as the answer to `item_key` of assessed form `state` and builds the row to
/// store, with the item's evidence of this moment frozen in it. `answers` are the form's current
/// answers (an R6 gate answered いいえ makes every other item 記入不要-able).
pub(crate) fn prepare_answer(
    state: &Assessment,
    answers: &[AnswerRow],
    item_key: &str,
    input: &HashMap<String, String>,
    actor: &str,
    at_ms: i64,
) -> Result<AnswerRow, Prepared> {
    let pack = state.pack;
    let item = pack.item(item_key).ok_or(Prepared::Unknown)?;
    let parsed = parse_answer(input).map_err(Prepared::Fields)?;
    // Under a gate answered いいえ (R6: no medical information systems) nothing else applies.
    let gated = pack.items.iter().any(|i| {
        i.gate
            && i.key != item.key
            && answers
                .iter()
                .any(|a| a.item_key == i.key && a.answer == "no")
    });
    let checked = rules::check_answer(
        &parsed,
        state.key.fiscal_year,
        item.allows_na || gated,
        state.today,
    )
    .map_err(|errs| {
        Prepared::Fields(
            errs.iter()
                .map(|e| FieldError {
                    field: e.field,
                    code: e.code,
                })
                .collect(),
        )
    })?;
    let evidence = state
        .item(item_key)
        .map(|s| s.evidence.clone())
        .ok_or(Prepared::Unknown)?;
    let answer = checked.answer.ok_or(Prepared::Fields(vec![FieldError {
        field: "answer",
        code: "CHK0001",
    }]))?;
    let frozen = evidence_json(&evidence);
    Ok(AnswerRow {
        id: 0,
        item_key: item.key.clone(),
        answer: answer.as_str().to_string(),
        confirmed_on: day_text(checked.confirmed_on),
        target_on: checked.target_on.map(|d| day_text(Some(d))),
        remarks: checked.remarks.clone(),
        verdict: evidence.verdict.as_str().to_string(),
        evidence_sha256: sha256_hex(&frozen),
        evidence: frozen,
        at_ms,
        actor: actor.to_string(),
    })
}

impl Services {
    /// Everything the probes look at, read once.
    pub async fn checklist_snapshot(&self) -> ServiceResult<Snapshot> {
        let s = &self.store;
        let mut reviews = Vec::new();
        for kind in RegistryKind::ALL {
            if let Some(r) = s.last_review(kind.as_str()).await? {
                reviews.push((*kind, crate::clock::to_jst(r.at_ms).date()));
            }
        }
        let sealed_records = self.sealer.as_ref().and_then(|x| x.size().ok());
        let collection = self.log_collection().await?;
        let assets = s.records::<Asset>().await?;
        let (agents, usb_storage) = self.checklist_agents(&assets).await?;
        let service_baselines = self.class_baselines().await?;
        Ok(Snapshot {
            collection,
            agents,
            usb_storage,
            service_baselines,
            assets,
            systems: s.records::<InfoSystem>().await?,
            persons: s.records::<Person>().await?,
            accounts: s.records::<Account>().await?,
            vendors: s.records::<Vendor>().await?,
            contacts: s.records::<Contact>().await?,
            remote_points: s.records::<RemotePoint>().await?,
            vendor_documents: s.records::<VendorDocument>().await?,
            documents: s.records::<FacilityDocument>().await?,
            reviews,
            account_reviews: self.account_reviews_done().await?,
            sealed_records,
        })
    }

    /// The thresholds of `pack` with the facility's own settings.
    pub async fn checklist_thresholds(&self, pack: &Pack) -> ServiceResult<Thresholds> {
        let settings = self.store.facility().await?.map(|f| f.settings);
        let d = Thresholds::default();
        Ok(Thresholds {
            patch_max_age_days: pack.thresholds.patch_max_age_days,
            evidence_valid_days: pack.thresholds.evidence_valid_days,
            dormant_account_days: settings
                .as_ref()
                .map(|s| i64::from(s.dormant_account_days))
                .unwrap_or(d.dormant_account_days),
            review_cycle_days: settings
                .as_ref()
                .map(|s| i64::from(s.ledger_review_cycle_days))
                .unwrap_or(d.review_cycle_days),
            two_factor_deadline: parse_day(&pack.thresholds.two_factor_deadline)
                .unwrap_or(d.two_factor_deadline),
        })
    }

    /// The form a facility answers now: its variant, the newest edition for this fiscal year.
    pub async fn default_form(&self) -> ServiceResult<FormKey> {
        let kind = self
            .store
            .facility()
            .await?
            .map(|f| f.kind)
            .unwrap_or(FacilityKind::Clinic);
        let variant = variant_of(kind);
        let fy = fiscal_year(self.clock.today());
        let edition = packs::latest(variant, fy)
            .map(|p| p.edition.clone())
            .unwrap_or_else(|| "R7".to_string());
        Ok(FormKey {
            edition,
            variant: variant.to_string(),
            fiscal_year: fy,
            scope: String::new(),
        })
    }

    /// Every item of form `key` with its current evidence, answer and flags.
    pub async fn assessment(
        &self,
        _cap: &Cap<perm::ViewChecklist>,
        key: &FormKey,
    ) -> ServiceResult<Assessment> {
        let pack = check_form(&key.edition, &key.variant, key.fiscal_year)?;
        let snapshot = self.checklist_snapshot().await?;
        let answers = self.store.current_answers(key).await?;
        self.assess(pack, key, &snapshot, &answers).await
    }

    pub(crate) async fn assess(
        &self,
        pack: &'static Pack,
        key: &FormKey,
        snapshot: &Snapshot,
        answers: &[AnswerRow],
    ) -> ServiceResult<Assessment> {
        let today = self.clock.today();
        let thresholds = self.checklist_thresholds(pack).await?;
        let scope = pack.rules_scope();
        let by_key: HashMap<&str, &AnswerRow> =
            answers.iter().map(|a| (a.item_key.as_str(), a)).collect();
        let items = pack
            .items
            .iter()
            .map(|item| {
                let topic = rules::TOPICS
                    .iter()
                    .copied()
                    .find(|t| *t == item.key)
                    .unwrap_or("");
                let parts = if key.scope.is_empty() {
                    item.probes
                        .iter()
                        .filter_map(|p| rules::probe(p, snapshot, &thresholds, today, &scope))
                        .collect()
                } else {
                    // A vendor's form is the vendor's attestation; the facility's records do
                    // not speak for it.
                    Vec::new()
                };
                let evidence = merge(topic, parts);
                let hash = sha256_hex(&evidence_json(&evidence));
                let answer = by_key
                    .get(item.key.as_str())
                    .and_then(|row| given(row, &hash));
                let flags = if item.probes.is_empty() || !key.scope.is_empty() {
                    // Nothing to contradict; only say what is unanswered.
                    if answer.is_none() {
                        vec![Flag::Unanswered]
                    } else {
                        Vec::new()
                    }
                } else {
                    rules::flags(answer.as_ref().map(|a| a.answer), &evidence, today)
                };
                ItemState {
                    item,
                    evidence,
                    answer,
                    flags,
                }
            })
            .collect();
        let subject = if key.scope.is_empty() {
            String::new()
        } else {
            self.scope_subject(&key.scope).await?
        };
        Ok(Assessment {
            pack,
            key: key.clone(),
            today,
            subject,
            items,
        })
    }

    /// Records an answer to item `item_key` of form `key`, with the evidence of this moment
    /// frozen beside it; one audit event in the same transaction. The previous answer is kept.
    pub async fn answer_item(
        &self,
        cap: &Cap<perm::AnswerChecklist>,
        key: &FormKey,
        item_key: &str,
        input: &HashMap<String, String>,
        client: &ClientInfo,
    ) -> ServiceResult<()> {
        self.record_answer(&cap.actor().label(), key, item_key, input, client)
            .await
    }

    /// [`Services::answer_item`] for an actor already allowed to answer.
    pub(crate) async fn record_answer(
        &self,
        actor: &str,
        key: &FormKey,
        item_key: &str,
        input: &HashMap<String, String>,
        client: &ClientInfo,
    ) -> ServiceResult<()> {
        let pack = check_form(&key.edition, &key.variant, key.fiscal_year)?;
        let answers = self.store.current_answers(key).await?;
        let snapshot = self.checklist_snapshot().await?;
        let state = self.assess(pack, key, &snapshot, &answers).await?;
        let row = prepare_answer(&state, &answers, item_key, input, actor, self.now_ms()).map_err(
            |e| match e {
                Prepared::Unknown => ServiceError::NotFound,
                Prepared::Fields(f) => ServiceError::Fields(f),
            },
        )?;
        self.write_answers(key, &[row], client, "form").await
    }

    /// Appends answers to form `key` in one transaction, one audit event each (`via`: `form`
    /// or `import`); nothing is written when any insert fails.
    pub(crate) async fn write_answers(
        &self,
        key: &FormKey,
        rows: &[AnswerRow],
        client: &ClientInfo,
        via: &str,
    ) -> ServiceResult<()> {
        let pack = check_form(&key.edition, &key.variant, key.fiscal_year)?;
        let mut w = self.store.write().await?;
        for row in rows {
            let printed = pack
                .item(&row.item_key)
                .map(|i| i.id.as_str())
                .unwrap_or(row.item_key.as_str());
            let id = insert_answer(&mut w, key, row).await?;
            self.audit(
                &mut w,
                &row.actor,
                &client.source,
                "checklist.answered",
                &format!(
                    "checklist:{}:{}:{}:{}",
                    key.edition, key.variant, key.fiscal_year, printed
                ),
                json!({
                    "answer_id": id,
                    "scope": key.scope,
                    "item": row.item_key,
                    "answer": row.answer,
                    "confirmed_on": row.confirmed_on,
                    "target_on": row.target_on,
                    "verdict": row.verdict,
                    "contradicted": row.answer == "yes" && row.verdict == "fail",
                    "evidence_sha256": row.evidence_sha256,
                    "via": via,
                }),
            )
            .await?;
        }
        w.commit().await?;
        Ok(())
    }

    /// Every answer given to one item, newest first, each with its frozen evidence.
    pub async fn answer_history(
        &self,
        _cap: &Cap<perm::ViewChecklist>,
        key: &FormKey,
        item_key: &str,
    ) -> ServiceResult<Vec<AnswerRow>> {
        let pack = check_form(&key.edition, &key.variant, key.fiscal_year)?;
        pack.item(item_key).ok_or(ServiceError::NotFound)?;
        Ok(self.store.answer_history(key, item_key).await?)
    }

    /// The fingerprint of the sealed log's signing key, when the log is open here.
    pub fn seal_fingerprint(&self) -> Option<String> {
        self.sealer.as_ref().and_then(|s| s.fingerprint().ok())
    }
}

/// A fact in words, in `lang`.
pub fn fact_text(lang: Lang, f: &Fact) -> String {
    let args: Vec<(&str, String)> = f
        .args
        .iter()
        .map(|(k, v)| {
            let v = match *k {
                "roles" => v
                    .split(',')
                    .map(|r| tr(lang, &format!("contact_role.{r}")).to_string())
                    .collect::<Vec<_>>()
                    .join("、"),
                "topics" => v
                    .split(',')
                    .map(|t| tr(lang, &format!("checklist_topic.{t}")).to_string())
                    .collect::<Vec<_>>()
                    .join("、"),
                "date" => wareki_or_blank(parse_day(v)),
                _ => v.clone(),
            };
            (*k, v)
        })
        .collect();
    let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
    fill(tr(lang, &format!("checklist_fact.{}", f.code)), &args)
}

/// A date as printed on the form (`令和7年10月1日`), or empty.
pub fn wareki_or_blank(d: Option<Date>) -> String {
    d.map(format_wareki).unwrap_or_default()
}

/// The fiscal year as printed (`令和7年度`).
pub fn fiscal_year_label(lang: Lang, fy: i32) -> String {
    match lang {
        Lang::Ja => format_fiscal_year(fy),
        Lang::En => format!("FY{fy}"),
    }
}

fn verdict_of(v: Verdict) -> form::Verdict {
    match v {
        Verdict::Pass => form::Verdict::Pass,
        Verdict::Fail => form::Verdict::Fail,
        Verdict::Unknown => form::Verdict::Unknown,
        Verdict::NotApplicable => form::Verdict::NotApplicable,
    }
}

/// The form as printed for the inspection: rows, the evidence appendix, labels in `lang`, and
/// the SHA-256 of the content, so that the same answers and evidence give the same form.
pub fn checklist_form(
    a: &Assessment,
    lang: Lang,
    facility: &str,
    key_fingerprint: &str,
) -> form::ChecklistForm {
    let t = |k: &str| tr(lang, k).to_string();
    let rows: Vec<form::FormRow> = a
        .items
        .iter()
        .map(|s| {
            let section = if s.item.group.is_empty() {
                s.item.section.clone()
            } else {
                format!("{}　{}", s.item.section, s.item.group)
            };
            let ans = s.answer.as_ref();
            form::FormRow {
                id: s.item.id.clone(),
                section,
                text: s.item.text(lang).to_string(),
                mark: ans.map(|g| match g.answer {
                    Answer::Yes => form::Mark::Yes,
                    Answer::No => form::Mark::No,
                    Answer::NotApplicable => form::Mark::NotApplicable,
                }),
                confirmed_on: ans
                    .map(|g| wareki_or_blank(g.confirmed_on))
                    .unwrap_or_default(),
                target_on: ans
                    .map(|g| wareki_or_blank(g.target_on))
                    .unwrap_or_default(),
                remarks: ans.map(|g| g.remarks.clone()).unwrap_or_default(),
                verdict: verdict_of(s.evidence.verdict),
                contradicted: s.has(Flag::Contradiction),
            }
        })
        .collect();
    let appendix: Vec<form::AppendixItem> = a
        .items
        .iter()
        .filter(|s| !s.evidence.facts.is_empty())
        .map(|s| form::AppendixItem {
            id: s.item.id.clone(),
            title: tr(lang, &format!("checklist_topic.{}", s.item.key)).to_string(),
            verdict: verdict_of(s.evidence.verdict),
            facts: s
                .evidence
                .facts
                .iter()
                .map(|f| {
                    let mut line = fact_text(lang, f);
                    // A record the sentence already names is not repeated after it.
                    let named = f.records.len() == 1
                        && f.records.first().is_some_and(|r| line.contains(&r.label));
                    if !f.records.is_empty() && !named {
                        let names: Vec<&str> = f.records.iter().map(|r| r.label.as_str()).collect();
                        line.push_str(&format!("：{}", names.join("、")));
                    }
                    line
                })
                .collect(),
        })
        .collect();
    let mut f = form::ChecklistForm {
        title: a.pack.title(lang).to_string(),
        variant: a.pack.variant_label(lang).to_string(),
        fiscal_year: fiscal_year_label(lang, a.key.fiscal_year),
        notes: a.pack.notes(lang).to_vec(),
        facility: facility.to_string(),
        subject: a.subject.clone(),
        generated_on: wareki_or_blank(Some(a.today)),
        content_hash: String::new(),
        key_fingerprint: key_fingerprint.to_string(),
        rows,
        appendix,
        labels: form::FormLabels {
            item: t("checklist_form.item"),
            confirmed_on: t("checklist_form.confirmed_on"),
            target_on: t("checklist_form.target_on"),
            remarks: t("checklist_form.remarks"),
            yes: t("answer.yes"),
            no: t("answer.no"),
            not_applicable: t("answer.na"),
            appendix: t("checklist_form.appendix"),
            verdict: t("checklist_form.verdict"),
            verdicts: [
                t("verdict.pass"),
                t("verdict.fail"),
                t("verdict.unknown"),
                t("verdict.na"),
            ],
            contradicted: t("checklist_form.contradicted"),
            content_hash: t("checklist_form.content_hash"),
            key_fingerprint: t("checklist_form.key_fingerprint"),
            generated_on: t("checklist_form.generated_on"),
            page: t("checklist_form.page"),
            facility: t(if a.key.variant == "pharmacy" {
                "checklist_form.pharmacy_name"
            } else {
                "checklist_form.facility_name"
            }),
            subject: t("checklist_form.subject"),
            facts: t("checklist_form.facts"),
        },
        identity: vec![
            ("edition".to_string(), a.key.edition.clone()),
            ("variant".to_string(), a.key.variant.clone()),
            ("fiscal_year".to_string(), a.key.fiscal_year.to_string()),
            ("scope".to_string(), a.key.scope.clone()),
        ],
    };
    f.content_hash = form_hash(&f);
    f
}

/// SHA-256 over what the form says (everything but the hash itself and the day it was made),
/// so that the same answers and evidence give the same hash on any day.
pub fn form_hash(f: &form::ChecklistForm) -> String {
    let mut h = Sha256::new();
    let mut put = |s: &str| {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    for s in [
        &f.title,
        &f.variant,
        &f.fiscal_year,
        &f.facility,
        &f.subject,
        &f.key_fingerprint,
    ] {
        put(s);
    }
    for r in &f.rows {
        for s in [&r.id, &r.text, &r.confirmed_on, &r.target_on, &r.remarks] {
            put(s);
        }
        put(match r.mark {
            Some(form::Mark::Yes) => "yes",
            Some(form::Mark::No) => "no",
            Some(form::Mark::NotApplicable) => "na",
            None => "",
        });
        put(if r.contradicted { "!" } else { "" });
    }
    for a in &f.appendix {
        put(&a.id);
        for fact in &a.facts {
            put(fact);
        }
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_domain::checklist::TOPICS;
    use time::macros::date;

    fn has_message(key: &str) -> bool {
        mamori_catalog::messages::has(key)
    }

    #[test]
    fn every_pack_names_known_probes_and_has_its_words() {
        for p in packs::packs() {
            for i in &p.items {
                for probe in &i.probes {
                    assert!(
                        TOPICS.contains(&probe.as_str()),
                        "{} {}: {probe}",
                        p.edition,
                        i.id
                    );
                }
                assert!(
                    has_message(&format!("checklist_topic.{}", i.key)),
                    "checklist_topic.{}",
                    i.key
                );
            }
        }
        for t in TOPICS {
            assert!(
                has_message(&format!("checklist_action.{t}")),
                "checklist_action.{t}"
            );
        }
    }

    #[test]
    fn every_fact_the_probes_give_has_words() {
        let today = date!(2025 - 10 - 01);
        let demo = crate::demo::demo_facility(today, 3);
        let full = Snapshot {
            assets: demo.assets,
            systems: demo.systems,
            persons: demo.persons,
            accounts: demo.accounts,
            vendors: demo.vendors,
            contacts: demo.contacts,
            remote_points: demo.remote_points,
            vendor_documents: demo.vendor_documents,
            documents: demo.documents,
            reviews: vec![(RegistryKind::Asset, date!(2024 - 01 - 01))],
            account_reviews: Vec::new(),
            sealed_records: Some(3),
            collection: Default::default(),
            agents: Vec::new(),
            usb_storage: None,
            service_baselines: Vec::new(),
        };
        // Agents of every kind: in the ledger (a server and a PC), unknown, patched, not, unknown.
        let server = full
            .assets
            .iter()
            .find(|a| a.class == mamori_domain::ledger::AssetClass::Server)
            .map(|a| (a.id.0, a.class));
        let pc = full
            .assets
            .iter()
            .find(|a| a.class == mamori_domain::ledger::AssetClass::Workstation)
            .map(|a| (a.id.0, a.class));
        let agent = |host: &str, asset, updates| rules::AgentFacts {
            hostname: host.into(),
            asset,
            pending_updates: updates,
            listening: 3,
            packages: 700,
            ports: vec![mamori_domain::service_baseline::Port {
                proto: "tcp".into(),
                port: 5900,
            }],
            services: vec!["ssh.service".into()],
            silent: false,
        };
        let agents = vec![
            agent("sv01", server, Some(0)),
            agent("pc101", pc, Some(4)),
            agent("viewer", None, None),
        ];
        let mut with_agents = Vec::new();
        for mode in ["deny", "read_only", "allow"] {
            let mut s = full.clone();
            s.agents = agents.clone();
            s.usb_storage = Some(mode.to_string());
            with_agents.push(s);
        }
        let mut linked = full.clone();
        linked.agents = vec![agent("sv01", server, Some(0))];
        linked.usb_storage = Some("deny".into());
        // Allow-lists: the servers' lets sv01 through, the PCs' does not let pc101's port.
        let allow = |class, text: &str| rules::ClassBaseline {
            class,
            baseline: mamori_domain::service_baseline::parse(text).expect("baseline"),
            updated_on: today,
            updated_by: "情報 一郎".into(),
        };
        if let Some(s) = with_agents.first_mut() {
            s.service_baselines = vec![
                allow(
                    mamori_domain::ledger::AssetClass::Server,
                    "tcp/5900
ssh",
                ),
                allow(mamori_domain::ledger::AssetClass::Workstation, "ssh"),
            ];
        }
        let scope: Vec<&str> = TOPICS.to_vec();
        let mut seen = 0;
        let all = [Snapshot::default(), full, linked]
            .into_iter()
            .chain(with_agents);
        for s in all {
            for t in TOPICS {
                let e = rules::probe(t, &s, &Thresholds::default(), today, &scope).expect("probe");
                for f in &e.facts {
                    seen += 1;
                    assert!(
                        has_message(&format!("checklist_fact.{}", f.code)),
                        "{}",
                        f.code
                    );
                    let text = fact_text(Lang::Ja, f);
                    assert!(!text.contains('{'), "{}: {text}", f.code);
                }
            }
        }
        assert!(seen > 40);
    }

    #[test]
    fn evidence_json_is_canonical_and_hash_follows_content() {
        let e = Evidence {
            topic: "systems.ledger",
            verdict: Verdict::Fail,
            facts: Vec::new(),
            valid_until: Some(date!(2026 - 04 - 15)),
            sources: vec![rules::Source::Ledger],
        };
        let j = evidence_json(&e);
        assert_eq!(
            j,
            r#"{"facts":[],"sources":["ledger"],"topic":"systems.ledger","valid_until":"2026-04-15","verdict":"fail"}"#
        );
        let mut e2 = e.clone();
        e2.verdict = Verdict::Pass;
        assert_ne!(sha256_hex(&j), sha256_hex(&evidence_json(&e2)));
    }

    #[test]
    fn answers_are_read_as_people_type_them() {
        let m = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let a = parse_answer(&m(&[
            ("answer", "いいえ"),
            ("confirmed_on", "令和7年10月1日"),
            ("target_on", "R8.3.31"),
        ]))
        .expect("parses");
        assert_eq!(a.answer, Some(Answer::No));
        assert_eq!(a.confirmed_on, Some(date!(2025 - 10 - 01)));
        assert_eq!(a.target_on, Some(date!(2026 - 03 - 31)));
        let e = parse_answer(&m(&[("answer", "maybe"), ("confirmed_on", "2025-02-30")]))
            .expect_err("refused");
        let codes: Vec<_> = e.iter().map(|x| (x.field, x.code)).collect();
        assert_eq!(
            codes,
            vec![("answer", "CHK0001"), ("confirmed_on", "DATE0002")]
        );
    }
}
