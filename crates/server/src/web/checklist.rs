//! The checklist pages: readiness of a form (answers, evidence, contradictions, target dates on a
//! timeline, what to do next per item), one item with its evidence, answer form and history, and
//! the form's exports for the inspection.

use crate::web::AppState;
use crate::web::error::WebError;
use crate::web::extract::{Client, CsrfForm, Page};
use crate::web::views::{Layout, fmt_ms, render};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mamori_catalog::checklist::{self as packs, Pack};
use mamori_catalog::messages::fill;
use mamori_catalog::{Lang, tr};
use mamori_domain::checklist::{Answer, Evidence, Flag, Tone as FactTone, Verdict};
use mamori_domain::ledger::FieldError;
use mamori_domain::registry::day_text;
use mamori_domain::wareki::fiscal_year;
use mamori_reports::svg::{self, Bar, TimelineMark, Tone};
use mamori_service::checklist::{
    Assessment, ItemState, fact_text, fiscal_year_label, wareki_or_blank,
};
use mamori_service::vendor_forms::parse_scope;
use mamori_service::{ServiceError, perm};
use mamori_storage::checklist::{AnswerRow, FormKey};
use serde::Deserialize;
use std::collections::HashMap;
use time::Date;

type PageResult = Result<Response, WebError>;

fn svc(lang: Lang) -> impl Fn(ServiceError) -> WebError {
    move |e| WebError::from_service(&e, lang)
}

/// Which form a page shows: `?edition=R7&variant=hospital&fy=2025`; the facility's current form
/// when left out.
#[derive(Debug, Default, Deserialize)]
pub struct FormQuery {
    #[serde(default)]
    edition: String,
    #[serde(default)]
    variant: String,
    #[serde(default)]
    fy: String,
    /// A vendor form: the system whose 事業者確認用 it is.
    #[serde(default)]
    system: String,
    #[serde(default)]
    pub ok: String,
}

impl FormQuery {
    /// The fiscal year asked for, if any (a bad one is CHK0011).
    pub fn fiscal_year(&self, lang: Lang) -> Result<Option<i32>, WebError> {
        if self.fy.trim().is_empty() {
            return Ok(None);
        }
        self.fy.trim().parse().map(Some).map_err(|_| {
            WebError::from_service(
                &ServiceError::Invalid {
                    code: "CHK0011",
                    field: "fiscal_year",
                },
                lang,
            )
        })
    }
}

/// A numeric id from a path or query, else 404.
pub fn parse_system(raw: &str, lang: Lang) -> Result<i64, WebError> {
    raw.trim()
        .parse()
        .map_err(|_| WebError::new(StatusCode::NOT_FOUND, "GEN0404", lang))
}

async fn form_key(state: &AppState, q: &FormQuery, lang: Lang) -> Result<FormKey, WebError> {
    if !q.system.is_empty() {
        let system = parse_system(&q.system, lang)?;
        return state
            .svc
            .vendor_form_key(system, q.fiscal_year(lang)?)
            .await
            .map_err(svc(lang));
    }
    let mut key = state.svc.default_form().await.map_err(svc(lang))?;
    if !q.variant.is_empty() {
        key.variant = q.variant.clone();
    }
    if !q.fy.is_empty() {
        key.fiscal_year = q.fy.trim().parse().map_err(|_| {
            WebError::from_service(
                &ServiceError::Invalid {
                    code: "CHK0011",
                    field: "fiscal_year",
                },
                lang,
            )
        })?;
    }
    key.edition = if q.edition.is_empty() {
        packs::latest(&key.variant, key.fiscal_year)
            .map(|p| p.edition.clone())
            .unwrap_or(key.edition)
    } else {
        q.edition.clone()
    };
    Ok(key)
}

/// The query string of a form, for links.
pub fn form_qs(k: &FormKey) -> String {
    let mut qs = format!(
        "edition={}&variant={}&fy={}",
        k.edition, k.variant, k.fiscal_year
    );
    if let Some((_, system)) = parse_scope(&k.scope) {
        qs.push_str(&format!("&system={system}"));
    }
    qs
}

/// The screen that fixes what an item's evidence lacks.
pub fn fix_link(topic: &str) -> &'static str {
    match topic {
        "governance.security_officer" => "/ledger/contacts",
        "systems.ledger" | "systems.security_patches" | "network.source_restriction" => {
            "/ledger/assets"
        }
        "systems.remote_maintenance_confirmed" => "/ledger/vendors",
        "systems.vendor_disclosure" => "/ledger/vendor_documents",
        "systems.unneeded_accounts" => "/ledger/findings",
        "operation.password_rule" | "operation.two_factor" | "server.access_logs" => {
            "/ledger/systems"
        }
        "incident.contact_chart" => "/ledger/contacts/chart",
        _ => "/ledger/documents",
    }
}

fn verdict_tone(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "good",
        Verdict::Fail => "bad",
        Verdict::Unknown => "warn",
        Verdict::NotApplicable => "neutral",
    }
}

fn fact_tone(t: FactTone) -> &'static str {
    match t {
        FactTone::Good => "good",
        FactTone::Bad => "bad",
        FactTone::Warn => "warn",
        FactTone::Info => "neutral",
    }
}

/// A link to a record a fact names.
pub struct RecordLink {
    pub href: String,
    pub label: String,
}

/// A fact as shown.
pub struct FactLine {
    pub tone: &'static str,
    pub text: String,
    pub records: Vec<RecordLink>,
    pub more: usize,
}

fn fact_lines(lang: Lang, e: &Evidence) -> Vec<FactLine> {
    e.facts
        .iter()
        .map(|f| {
            let count: usize = f
                .args
                .iter()
                .find(|(k, _)| *k == "count")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(f.records.len());
            FactLine {
                tone: fact_tone(f.tone),
                text: fact_text(lang, f),
                records: f
                    .records
                    .iter()
                    .map(|r| RecordLink {
                        href: format!("/ledger/{}/{}", r.kind.plural(), r.id),
                        label: r.label.clone(),
                    })
                    .collect(),
                more: count.saturating_sub(f.records.len()),
            }
        })
        .collect()
}

/// A flag as a badge.
pub struct FlagBadge {
    pub tone: &'static str,
    pub label: String,
}

fn flag_badges(lang: Lang, flags: &[Flag]) -> Vec<FlagBadge> {
    flags
        .iter()
        .map(|f| FlagBadge {
            tone: match f {
                Flag::Contradiction => "bad",
                Flag::Unanswered | Flag::Expiring => "warn",
                Flag::Upgrade => "good",
            },
            label: tr(lang, &format!("flag.{}", f.as_str())).to_string(),
        })
        .collect()
}

/// One row of the readiness page.
pub struct ItemRow {
    pub key: String,
    pub id: String,
    /// A heading printed before the row when the section or group changes.
    pub heading: Option<String>,
    pub title: String,
    pub text: String,
    pub answer: String,
    pub answer_tone: &'static str,
    pub confirmed_on: String,
    pub target_on: String,
    pub verdict: String,
    pub verdict_tone: &'static str,
    pub flags: Vec<FlagBadge>,
    pub facts: Vec<FactLine>,
    pub action: String,
    pub fix: &'static str,
    pub href: String,
    pub contradicted: bool,
}

/// The answer of an item in words, with its badge tone.
pub fn answer_label(lang: Lang, s: &ItemState) -> (String, &'static str) {
    match s.answer.as_ref().map(|a| a.answer) {
        Some(Answer::Yes) => (tr(lang, "answer.yes").to_string(), "good"),
        Some(Answer::No) => (tr(lang, "answer.no").to_string(), "warn"),
        Some(Answer::NotApplicable) => (tr(lang, "answer.na").to_string(), "neutral"),
        None => (tr(lang, "answer.none").to_string(), "neutral"),
    }
}

fn item_row(lang: Lang, a: &Assessment, s: &ItemState, heading: Option<String>) -> ItemRow {
    let (answer, answer_tone) = answer_label(lang, s);
    let ans = s.answer.as_ref();
    ItemRow {
        key: s.item.key.clone(),
        id: s.item.id.clone(),
        heading,
        title: tr(lang, &format!("checklist_topic.{}", s.item.key)).to_string(),
        text: s.item.text(lang).to_string(),
        answer,
        answer_tone,
        confirmed_on: ans
            .map(|g| wareki_or_blank(g.confirmed_on))
            .unwrap_or_default(),
        target_on: ans
            .map(|g| wareki_or_blank(g.target_on))
            .unwrap_or_default(),
        verdict: tr(lang, &format!("verdict.{}", s.evidence.verdict.as_str())).to_string(),
        verdict_tone: verdict_tone(s.evidence.verdict),
        flags: flag_badges(lang, &s.flags),
        facts: fact_lines(lang, &s.evidence),
        action: if s.evidence.verdict == Verdict::Pass || s.item.probes.is_empty() {
            String::new()
        } else {
            tr(lang, &format!("checklist_action.{}", s.item.key)).to_string()
        },
        fix: fix_link(&s.item.key),
        href: format!("/checklist/items/{}?{}", s.item.key, form_qs(&a.key)),
        contradicted: s.has(Flag::Contradiction),
    }
}

/// Another form of the same variant, for the selector.
pub struct FormChoice {
    pub label: String,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "checklist.html")]
pub struct ChecklistPage {
    pub l: Layout,
    pub title: String,
    pub variant: String,
    pub fiscal_year: String,
    /// Whose vendor form this is; empty for the facility's own.
    pub subject: String,
    /// Said when the form's year is newer than the newest edition mamori has.
    pub edition_note: String,
    pub notes: Vec<String>,
    pub qs: String,
    pub years: Vec<FormChoice>,
    pub editions: Vec<FormChoice>,
    pub rows: Vec<ItemRow>,
    pub contradictions: Vec<ItemRow>,
    pub answers_chart: String,
    pub evidence_chart: String,
    pub timeline: String,
    pub answered: usize,
    pub total: usize,
    pub upgrades: usize,
    pub expiring: usize,
}

fn headings(a: &Assessment) -> Vec<Option<String>> {
    let mut last = String::new();
    a.items
        .iter()
        .map(|s| {
            let h = if s.item.group.is_empty() {
                s.item.section.clone()
            } else {
                format!("{}　{}", s.item.section, s.item.group)
            };
            if h == last {
                None
            } else {
                last = h.clone();
                Some(h)
            }
        })
        .collect()
}

/// Where `d` falls in fiscal year `fy`, from 0 (April 1) to 1 (March 31).
fn fy_position(fy: i32, d: Date) -> f64 {
    let (start, end) = mamori_domain::checklist::fiscal_year_bounds(fy);
    let total = (end - start).whole_days().max(1) as f64;
    (d - start).whole_days() as f64 / total
}

fn timeline(lang: Lang, a: &Assessment) -> String {
    let months: Vec<String> = [4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3]
        .iter()
        .map(|m| match lang {
            Lang::Ja => format!("{m}月"),
            Lang::En => format!("{m}"),
        })
        .collect();
    let marks: Vec<TimelineMark> = a
        .items
        .iter()
        .filter_map(|s| {
            let g = s.answer.as_ref()?;
            let d = g.target_on.filter(|_| g.answer == Answer::No)?;
            Some(TimelineMark {
                label: s.item.id.clone(),
                at: fy_position(a.key.fiscal_year, d),
                tone: if d < a.today { Tone::Bad } else { Tone::Warn },
            })
        })
        .collect();
    let today = (fiscal_year(a.today) == a.key.fiscal_year)
        .then(|| fy_position(a.key.fiscal_year, a.today));
    svg::timeline_chart(
        tr(lang, "checklist.timeline"),
        &months,
        today,
        tr(lang, "checklist.today"),
        &marks,
        tr(lang, "checklist.no_targets"),
    )
}

fn year_choices(lang: Lang, key: &FormKey, current_fy: i32) -> Vec<FormChoice> {
    let mut years: Vec<i32> = (current_fy - 2..=current_fy).collect();
    if !years.contains(&key.fiscal_year) {
        years.push(key.fiscal_year);
        years.sort_unstable();
    }
    years
        .into_iter()
        .map(|fy| {
            let edition = packs::latest(&key.variant, fy)
                .map(|p| p.edition.clone())
                .unwrap_or_default();
            let system = parse_scope(&key.scope)
                .map(|(_, s)| format!("&system={s}"))
                .unwrap_or_default();
            FormChoice {
                label: fiscal_year_label(lang, fy),
                href: format!(
                    "/checklist?edition={edition}&variant={}&fy={fy}{system}",
                    key.variant
                ),
                current: fy == key.fiscal_year,
            }
        })
        .collect()
}

fn edition_choices(lang: Lang, key: &FormKey) -> Vec<FormChoice> {
    if !key.scope.is_empty() {
        // A vendor's form: back to the list of every vendor form of the year.
        return vec![FormChoice {
            label: tr(lang, "vendor_forms.all").to_string(),
            href: format!("/checklist/vendors?fy={}", key.fiscal_year),
            current: false,
        }];
    }
    let mut out: Vec<FormChoice> = packs::packs()
        .iter()
        .filter(|p| p.variant == key.variant || p.variant != "vendor")
        .map(|p: &Pack| FormChoice {
            label: format!("{}（{}）", p.edition, p.variant_label(lang)),
            href: format!(
                "/checklist?edition={}&variant={}&fy={}",
                p.edition, p.variant, key.fiscal_year
            ),
            current: p.edition == key.edition && p.variant == key.variant,
        })
        .collect();
    out.push(FormChoice {
        label: tr(lang, "vendor_forms.title").to_string(),
        href: format!("/checklist/vendors?fy={}", key.fiscal_year),
        current: false,
    });
    out
}

/// The readiness page of a form.
pub async fn page(
    State(state): State<AppState>,
    p: Page<perm::ViewChecklist>,
    Query(q): Query<FormQuery>,
) -> PageResult {
    let lang = p.lang;
    if q.variant == "vendor" && q.system.is_empty() {
        // Vendor forms are per system: the list of them.
        let fy = q.fiscal_year(lang)?.map(|y| format!("?fy={y}"));
        return Ok(
            Redirect::to(&format!("/checklist/vendors{}", fy.unwrap_or_default())).into_response(),
        );
    }
    let key = form_key(&state, &q, lang).await?;
    let a = state
        .svc
        .assessment(&p.cap, &key)
        .await
        .map_err(svc(lang))?;
    let tally = a.tally();
    let hs = headings(&a);
    let rows: Vec<ItemRow> = a
        .items
        .iter()
        .zip(hs)
        .map(|(s, h)| item_row(lang, &a, s, h))
        .collect();
    let contradictions = a
        .items
        .iter()
        .filter(|s| s.has(Flag::Contradiction))
        .map(|s| item_row(lang, &a, s, None))
        .collect();
    let t = |k: &str| tr(lang, k).to_string();
    let answers_chart = svg::donut_chart(
        &t("checklist.answers_chart"),
        &[
            Bar::new(t("answer.yes"), tally.yes as u64, Tone::Good),
            Bar::new(t("answer.no"), tally.no as u64, Tone::Warn),
            Bar::new(t("answer.na"), tally.na as u64, Tone::Neutral),
            Bar::new(t("answer.none"), tally.unanswered as u64, Tone::Series(3)),
        ],
        &t("checklist.items_unit"),
        &t("chart.empty"),
    );
    let count = |v: Verdict| a.items.iter().filter(|s| s.evidence.verdict == v).count() as u64;
    let evidence_chart = svg::bar_chart(
        &t("checklist.evidence_chart"),
        &[
            Bar::new(t("verdict.pass"), count(Verdict::Pass), Tone::Good),
            Bar::new(t("verdict.fail"), count(Verdict::Fail), Tone::Bad),
            Bar::new(t("verdict.unknown"), count(Verdict::Unknown), Tone::Warn),
            Bar::new(
                t("verdict.na"),
                count(Verdict::NotApplicable),
                Tone::Neutral,
            ),
        ],
        &t("chart.empty"),
    );
    let fac = crate::web::pages::facility_name(&state)
        .await
        .map_err(svc(lang))?;
    let l = Layout::new(lang, &p.view, &fac, "checklist.title", "/checklist")
        .with_flash(Some(q.ok.as_str()).filter(|s| !s.is_empty()));
    Ok(render(&ChecklistPage {
        l,
        title: a.pack.title(lang).to_string(),
        variant: a.pack.variant_label(lang).to_string(),
        fiscal_year: fiscal_year_label(lang, key.fiscal_year),
        subject: a.subject.clone(),
        edition_note: if a.pack.fiscal_year < key.fiscal_year {
            fill(
                tr(lang, "checklist.older_edition"),
                &[
                    ("year", &fiscal_year_label(lang, key.fiscal_year)),
                    ("edition", a.pack.title(lang)),
                ],
            )
        } else {
            String::new()
        },
        notes: a.pack.notes(lang).to_vec(),
        qs: form_qs(&key),
        years: year_choices(lang, &key, fiscal_year(a.today)),
        editions: edition_choices(lang, &key),
        contradictions,
        answers_chart,
        evidence_chart,
        timeline: timeline(lang, &a),
        answered: a.items.len() - tally.unanswered,
        total: a.items.len(),
        upgrades: tally.upgrades,
        expiring: tally.expiring,
        rows,
    }))
}

/// One past answer as shown.
pub struct HistoryLine {
    pub at: String,
    pub actor: String,
    pub answer: String,
    pub confirmed_on: String,
    pub target_on: String,
    pub remarks: String,
    pub verdict: String,
    pub verdict_tone: &'static str,
    pub hash: String,
}

#[derive(Template)]
#[template(path = "checklist_item.html")]
pub struct ItemPage {
    pub l: Layout,
    pub row: ItemRow,
    pub form_label: String,
    pub guideline: Vec<String>,
    pub sources: Vec<String>,
    pub valid_until: String,
    pub qs: String,
    pub edition: String,
    pub variant: String,
    pub fy: i32,
    /// The vendor form's system id, empty for the facility's own form.
    pub system: String,
    /// Where the answer form posts, and where "back" leads.
    pub action: String,
    pub back: String,
    pub can_answer: bool,
    pub allows_na: bool,
    pub answer: String,
    pub confirmed_on: String,
    pub target_on: String,
    pub remarks: String,
    pub errors: Vec<(String, String, String)>,
    pub evidence_changed: bool,
    pub history: Vec<HistoryLine>,
}

impl ItemPage {
    /// The error of `field`, if any: (message, code).
    pub fn error(&self, field: &str) -> Option<(String, String)> {
        self.errors
            .iter()
            .find(|(f, _, _)| f == field)
            .map(|(_, m, c)| (m.clone(), c.clone()))
    }
}

#[allow(clippy::too_many_arguments)]
async fn item_page(
    state: &AppState,
    lang: Lang,
    view: &mamori_service::auth::SessionView,
    cap: &mamori_service::Cap<perm::ViewChecklist>,
    key: &FormKey,
    item_key: &str,
    input: Option<&HashMap<String, String>>,
    errors: &[FieldError],
) -> Result<ItemPage, WebError> {
    let a = state.svc.assessment(cap, key).await.map_err(svc(lang))?;
    a.item(item_key)
        .ok_or_else(|| WebError::new(StatusCode::NOT_FOUND, "GEN0404", lang))?;
    let history = state
        .svc
        .answer_history(cap, key, item_key)
        .await
        .map_err(svc(lang))?;
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc(lang))?;
    let l = Layout::new(lang, view, &fac, "checklist.title", "/checklist");
    let can_answer = view
        .actor
        .user
        .role
        .permits(mamori_domain::role::Permission::AnswerChecklist);
    let page = ItemPage::build(l, &a, item_key, &history, input, errors, can_answer)
        .ok_or_else(|| WebError::new(StatusCode::NOT_FOUND, "GEN0404", lang))?;
    Ok(ItemPage {
        action: format!("/checklist/items/{item_key}"),
        back: format!("/checklist?{}#item-{item_key}", form_qs(key)),
        ..page
    })
}

impl ItemPage {
    /// The page of item `item_key` of assessed form `a`, with `history` (newest first) and, after
    /// a refused answer, what was typed and what was wrong. `action` and `back` are left for the
    /// caller (the facility's checklist or the vendor portal).
    pub fn build(
        mut l: Layout,
        a: &Assessment,
        item_key: &str,
        history: &[AnswerRow],
        input: Option<&HashMap<String, String>>,
        errors: &[FieldError],
        can_answer: bool,
    ) -> Option<ItemPage> {
        let lang = l.lang;
        let key = &a.key;
        let s = a.item(item_key)?;
        let row = item_row(lang, a, s, None);
        l.title = format!("{} {}", row.id, row.title);
        let current = s.answer.as_ref();
        let get = |k: &str| input.and_then(|i| i.get(k)).cloned();
        let day = |d: Option<Date>| day_text(d);
        let subject = if a.subject.is_empty() {
            String::new()
        } else {
            format!(" — {}", a.subject)
        };
        Some(ItemPage {
            form_label: format!(
                "{} {}（{}）{subject}",
                a.pack.title(lang),
                a.pack.variant_label(lang),
                fiscal_year_label(lang, key.fiscal_year)
            ),
            guideline: s.item.guideline.clone(),
            sources: s
                .evidence
                .sources
                .iter()
                .map(|x| tr(lang, &format!("source.{}", x.as_str())).to_string())
                .collect(),
            valid_until: wareki_or_blank(s.evidence.valid_until),
            qs: form_qs(key),
            edition: key.edition.clone(),
            variant: key.variant.clone(),
            fy: key.fiscal_year,
            system: parse_scope(&key.scope)
                .map(|(_, s)| s.to_string())
                .unwrap_or_default(),
            action: String::new(),
            back: String::new(),
            can_answer,
            allows_na: s.item.allows_na,
            answer: get("answer").unwrap_or_else(|| {
                current
                    .map(|g| g.answer.as_str().to_string())
                    .unwrap_or_default()
            }),
            confirmed_on: get("confirmed_on").unwrap_or_else(|| day(Some(a.today))),
            target_on: get("target_on")
                .unwrap_or_else(|| current.map(|g| day(g.target_on)).unwrap_or_default()),
            remarks: get("remarks")
                .unwrap_or_else(|| current.map(|g| g.remarks.clone()).unwrap_or_default()),
            errors: errors
                .iter()
                .map(|e| {
                    (
                        e.field.to_string(),
                        tr(lang, &format!("error.{}", e.code)).to_string(),
                        e.code.to_string(),
                    )
                })
                .collect(),
            evidence_changed: current.is_some_and(|g| g.evidence_changed),
            history: history.iter().map(|h| history_line(lang, h)).collect(),
            row,
            l,
        })
    }
}

fn history_line(lang: Lang, h: &AnswerRow) -> HistoryLine {
    let v = Verdict::parse(&h.verdict).unwrap_or(Verdict::Unknown);
    HistoryLine {
        at: fmt_ms(h.at_ms),
        actor: h.actor.clone(),
        answer: tr(lang, &format!("answer.{}", h.answer)).to_string(),
        confirmed_on: wareki_or_blank(mamori_domain::registry::parse_day(&h.confirmed_on)),
        target_on: h
            .target_on
            .as_deref()
            .and_then(mamori_domain::registry::parse_day)
            .map(mamori_domain::wareki::format_wareki)
            .unwrap_or_default(),
        remarks: h.remarks.clone(),
        verdict: tr(lang, &format!("verdict.{}", v.as_str())).to_string(),
        verdict_tone: verdict_tone(v),
        hash: h.evidence_sha256.chars().take(16).collect(),
    }
}

/// One item: evidence, answer form, history.
pub async fn item(
    State(state): State<AppState>,
    p: Page<perm::ViewChecklist>,
    Path(item_key): Path<String>,
    Query(q): Query<FormQuery>,
) -> PageResult {
    let key = form_key(&state, &q, p.lang).await?;
    let mut page = item_page(&state, p.lang, &p.view, &p.cap, &key, &item_key, None, &[]).await?;
    page.l = page
        .l
        .with_flash(Some(q.ok.as_str()).filter(|s| !s.is_empty()));
    Ok(render(&page))
}

/// Records an answer; on bad input the item page again with each field's error.
pub async fn answer(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::AnswerChecklist>,
    Path(item_key): Path<String>,
    form: CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    let lang = p.lang;
    let input: HashMap<String, String> = form.into_inner().into_iter().collect();
    let q = FormQuery {
        edition: input.get("edition").cloned().unwrap_or_default(),
        variant: input.get("variant").cloned().unwrap_or_default(),
        fy: input.get("fy").cloned().unwrap_or_default(),
        system: input.get("system").cloned().unwrap_or_default(),
        ok: String::new(),
    };
    let key = form_key(&state, &q, lang).await?;
    match state
        .svc
        .answer_item(&p.cap, &key, &item_key, &input, &client)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!(
            "/checklist?{}&ok=checklist_answered#item-{}",
            form_qs(&key),
            item_key
        ))
        .into_response()),
        Err(ServiceError::Fields(errors)) => {
            let view_cap = p
                .view
                .actor
                .can::<perm::ViewChecklist>()
                .map_err(svc(lang))?;
            let page = item_page(
                &state,
                lang,
                &p.view,
                &view_cap,
                &key,
                &item_key,
                Some(&input),
                &errors,
            )
            .await?;
            Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
        }
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}

/// Which file an export is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Xlsx,
    Pdf,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "html" | "htm" => Some(Format::Html),
            "xlsx" => Some(Format::Xlsx),
            "pdf" => Some(Format::Pdf),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Xlsx => "xlsx",
            Format::Pdf => "pdf",
        }
    }
}

/// A file name for a form: `チェックリスト_R7_医療機関確認用_令和7年度.xlsx`; a vendor form adds
/// its vendor and system.
pub fn file_name(lang: Lang, a: &Assessment, f: Format) -> (String, String) {
    let system = parse_scope(&a.key.scope)
        .map(|(_, s)| format!("-system{s}"))
        .unwrap_or_default();
    let ascii = format!(
        "checklist-{}-{}-{}{system}.{}",
        a.key.edition,
        a.key.variant,
        a.key.fiscal_year,
        f.extension()
    );
    let subject: String = a
        .subject
        .chars()
        .map(|c| {
            if c.is_whitespace() || "/\\:*?\"<>|".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let subject = subject
        .split('_')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    let name = format!(
        "{}_{}_{}_{}{}.{}",
        tr(lang, "checklist.title"),
        a.key.edition,
        a.pack.variant_label(lang),
        fiscal_year_label(lang, a.key.fiscal_year),
        if subject.is_empty() {
            String::new()
        } else {
            format!("_{subject}")
        },
        f.extension()
    );
    (ascii, name)
}

/// Renders form `a` as `f`. PDF needs the Japanese font: the configured one, else one found in
/// the usual places; without one the error says how to add it (HTML and XLSX need none).
pub fn render_form(
    a: &Assessment,
    lang: Lang,
    facility: &str,
    fingerprint: &str,
    font_file: Option<&std::path::Path>,
    f: Format,
) -> Result<Vec<u8>, (&'static str, String)> {
    let form = mamori_service::checklist::checklist_form(a, lang, facility, fingerprint);
    match f {
        Format::Html => Ok(mamori_reports::checklist::html(&form).into_bytes()),
        Format::Xlsx => {
            mamori_reports::checklist::xlsx(&form).map_err(|e| ("GEN0500", e.to_string()))
        }
        Format::Pdf => {
            let (_, font) = crate::fonts::find_japanese_font(font_file)
                .map_err(|e| (e.code(), e.message(lang)))?;
            mamori_reports::checklist::pdf(&form, &font).map_err(|e| (e.code(), e.to_string()))
        }
    }
}

/// The form as a file: `/checklist/export/checklist.{html,xlsx,pdf}?edition=…&variant=…&fy=…`.
pub async fn export(
    State(state): State<AppState>,
    p: Page<perm::ViewChecklist>,
    Path(file): Path<String>,
    Query(q): Query<FormQuery>,
) -> PageResult {
    let lang = p.lang;
    let format = file
        .rsplit_once('.')
        .and_then(|(_, ext)| Format::parse(ext))
        .ok_or_else(|| WebError::new(StatusCode::NOT_FOUND, "GEN0404", lang))?;
    let key = form_key(&state, &q, lang).await?;
    let a = state
        .svc
        .assessment(&p.cap, &key)
        .await
        .map_err(svc(lang))?;
    form_file(&state, lang, &a, format).await
}

/// Form `a` as a download (XLSX, PDF) or a print page (HTML).
pub async fn form_file(state: &AppState, lang: Lang, a: &Assessment, format: Format) -> PageResult {
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc(lang))?;
    let fingerprint = state.svc.seal_fingerprint().unwrap_or_default();
    let bytes = render_form(
        a,
        lang,
        &fac,
        &fingerprint,
        state.font_file.as_deref(),
        format,
    )
    .map_err(|(code, message)| {
        tracing::warn!(code, error = %message, "checklist export failed");
        WebError::new(StatusCode::SERVICE_UNAVAILABLE, code, lang)
    })?;
    let (ascii, name) = file_name(lang, a, format);
    Ok(match format {
        // The print view opens in the browser; its own policy allows only its inline style.
        Format::Html => (
            [
                (
                    axum::http::header::CONTENT_TYPE,
                    "text/html; charset=utf-8".to_string(),
                ),
                (
                    axum::http::header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:".to_string(),
                ),
                (axum::http::header::CACHE_CONTROL, "no-store".to_string()),
            ],
            bytes,
        )
            .into_response(),
        Format::Xlsx => {
            crate::web::ledger::download(bytes, crate::web::ledger::XLSX_TYPE, &ascii, &name)
        }
        Format::Pdf => crate::web::ledger::download(bytes, "application/pdf", &ascii, &name),
    })
}
