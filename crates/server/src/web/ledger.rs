//! The ledger pages, one set for every registry (機器, 情報システム, 職員, アカウント, 事業者,
//! 連絡先, リモート保守接続点, 事業者文書): list with search, filters, chart and paging; a record's
//! detail with what refers to it and its change history; the create and edit forms; retire;
//! Excel/CSV export, template and import with a preview; the 棚卸 sign-off. Pages are built from
//! the registry's field list, so a registry is added in `domain`, not here.

use crate::web::AppState;
use crate::web::error::WebError;
use crate::web::extract::{Client, CsrfForm, Page};
use crate::web::views::{Layout, fmt_ms, render};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mamori_catalog::{Lang, tr};
use mamori_domain::ledger::{AssetClass, FieldError};
use mamori_domain::registry::{FieldKind, Record, RegistryKind, Values, key_of, title_of};
use mamori_domain::role::Permission;
use mamori_reports::svg::{self, Bar, Tone};
use mamori_service::ledger::{HistoryEntry, Refs, display, field_label};
use mamori_service::{ServiceError, files, perm};
use mamori_storage::registry::Filter;
use serde::Deserialize;
use std::collections::HashMap;

type PageResult = Result<Response, WebError>;

const PER_PAGE: i64 = 50;

/// Runs `$body` with `$R` standing for the record type of registry `$kind`.
#[macro_export]
macro_rules! for_kind {
    ($kind:expr, $R:ident => $body:expr) => {
        match $kind {
            mamori_domain::registry::RegistryKind::Asset => {
                type $R = mamori_domain::ledger::Asset;
                $body
            }
            mamori_domain::registry::RegistryKind::System => {
                type $R = mamori_domain::ledger::InfoSystem;
                $body
            }
            mamori_domain::registry::RegistryKind::Person => {
                type $R = mamori_domain::ledger::Person;
                $body
            }
            mamori_domain::registry::RegistryKind::Account => {
                type $R = mamori_domain::ledger::Account;
                $body
            }
            mamori_domain::registry::RegistryKind::Vendor => {
                type $R = mamori_domain::ledger::Vendor;
                $body
            }
            mamori_domain::registry::RegistryKind::Contact => {
                type $R = mamori_domain::ledger::Contact;
                $body
            }
            mamori_domain::registry::RegistryKind::RemotePoint => {
                type $R = mamori_domain::ledger::RemotePoint;
                $body
            }
            mamori_domain::registry::RegistryKind::VendorDocument => {
                type $R = mamori_domain::ledger::VendorDocument;
                $body
            }
            mamori_domain::registry::RegistryKind::Document => {
                type $R = mamori_domain::ledger::FacilityDocument;
                $body
            }
        }
    };
}

fn svc(lang: Lang) -> impl Fn(ServiceError) -> WebError {
    move |e| WebError::from_service(&e, lang)
}

fn not_found(lang: Lang) -> WebError {
    WebError::new(StatusCode::NOT_FOUND, "GEN0404", lang)
}

fn parse_kind(s: &str, lang: Lang) -> Result<RegistryKind, WebError> {
    RegistryKind::parse_plural(s).ok_or_else(|| not_found(lang))
}

fn parse_id(s: &str, lang: Lang) -> Result<i64, WebError> {
    s.trim()
        .parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| not_found(lang))
}

/// The registry's name (`registry.assets` …).
fn kind_label(lang: Lang, kind: RegistryKind) -> String {
    tr(lang, &format!("registry.{}", kind.plural())).to_string()
}

/// A tab of the registry bar.
#[derive(Debug, Clone)]
pub struct Tab {
    pub href: String,
    pub label: String,
    pub current: bool,
}

fn tabs(lang: Lang, current: Option<RegistryKind>) -> Vec<Tab> {
    let mut t = vec![Tab {
        href: "/ledger".into(),
        label: tr(lang, "registry.overview").to_string(),
        current: current.is_none(),
    }];
    t.extend(RegistryKind::ALL.iter().map(|k| Tab {
        href: format!("/ledger/{}", k.plural()),
        label: kind_label(lang, *k),
        current: current == Some(*k),
    }));
    t
}

/// A choice of a filter or form select.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A cell of the list: text, a tone for a badge (empty for plain text), monospace or not.
#[derive(Debug, Clone)]
pub struct Cell {
    pub text: String,
    pub tone: &'static str,
    pub mono: bool,
}

/// A row of the list.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: i64,
    pub cells: Vec<Cell>,
    pub retired: bool,
}

/// A filter of the list.
#[derive(Debug, Clone)]
pub struct Facet {
    pub key: &'static str,
    pub label: String,
    pub choices: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "registry_list.html")]
pub struct ListPage {
    pub l: Layout,
    pub tabs: Vec<Tab>,
    pub plural: &'static str,
    pub lead: String,
    pub headers: Vec<String>,
    pub rows: Vec<Row>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub q: String,
    pub search_hint: String,
    pub facets: Vec<Facet>,
    pub filter_qs: String,
    pub can_edit: bool,
    pub chart: String,
    /// 棚卸: (last review text, overdue)
    pub review: (String, bool),
}

fn qs_escape(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)])
        .map(|x| x.trim_start_matches("v=").to_string())
        .unwrap_or_default()
}

fn param<'a>(q: &'a [(String, String)], key: &str) -> &'a str {
    q.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// Yes/no/unknown choices.
fn flag_choices(lang: Lang, selected: &str, unknown: bool) -> Vec<Choice> {
    let mut c = Vec::new();
    if unknown {
        c.push(Choice {
            value: String::new(),
            label: tr(lang, "common.unknown").to_string(),
            selected: selected.is_empty(),
        });
    }
    for (v, k) in [("1", "common.flag_yes"), ("0", "common.flag_no")] {
        c.push(Choice {
            value: v.into(),
            label: tr(lang, k).to_string(),
            selected: selected == v,
        });
    }
    c
}

fn code_choices(lang: Lang, codes: &[&str], labels: &str, selected: &str) -> Vec<Choice> {
    codes
        .iter()
        .map(|c| Choice {
            value: c.to_string(),
            label: tr(lang, &format!("{labels}.{c}")).to_string(),
            selected: selected.split(',').any(|s| s == *c),
        })
        .collect()
}

fn ref_choices(lang: Lang, refs: &Refs, kind: RegistryKind, selected: &str) -> Vec<Choice> {
    refs.options(kind)
        .iter()
        .map(|o| Choice {
            value: o.id.to_string(),
            label: if o.retired {
                format!("{}（{}）", o.label(), tr(lang, "registry.retired"))
            } else {
                o.label()
            },
            selected: selected.split(',').any(|s| s == o.id.to_string()),
        })
        .collect()
}

/// The tone of a list cell: past end-of-life and contract dates, patch age, missing places.
fn tone_of(
    key: &str,
    kind: FieldKind,
    value: &str,
    today: time::Date,
    retired: bool,
) -> &'static str {
    let day = mamori_domain::registry::parse_day(value);
    match (key, kind) {
        ("eol_on" | "contract_end", FieldKind::Date) if !retired => match day {
            Some(d) if d < today => "bad",
            Some(d) if (d - today).whole_days() <= 180 => "warn",
            _ => "",
        },
        ("last_patch_on", _) if !retired => match day.map(|d| (today - d).whole_days()) {
            Some(..=30) => "good",
            Some(31..=90) => "neutral",
            Some(_) => "warn",
            None => "bad",
        },
        ("verified_on", _) if !retired => match day.map(|d| (today - d).whole_days()) {
            Some(..=365) => "",
            _ => "warn",
        },
        ("enabled" | "active" | "current", _) if value == "0" => "neutral",
        _ => "",
    }
}

/// The field whose counts the list's chart shows.
fn chart_field<R: Record>() -> Option<&'static mamori_domain::registry::Field> {
    R::FIELDS
        .iter()
        .find(|f| f.key == "status" && matches!(f.kind, FieldKind::Choice(_)))
        .or_else(|| {
            R::FIELDS
                .iter()
                .find(|f| f.facet && matches!(f.kind, FieldKind::Choice(_)))
        })
}

fn review_text(lang: Lang, rs: &mamori_service::ledger::ReviewState) -> String {
    match &rs.last {
        Some(r) => mamori_catalog::messages::fill(
            tr(lang, "review.last"),
            &[
                ("date", &fmt_ms(r.at_ms)),
                ("actor", &r.actor),
                ("days", &rs.age_days.unwrap_or(0).to_string()),
                ("cycle", &rs.cycle_days.to_string()),
            ],
        ),
        None => mamori_catalog::messages::fill(
            tr(lang, "review.never"),
            &[("cycle", &rs.cycle_days.to_string())],
        ),
    }
}

async fn layout(
    state: &AppState,
    lang: Lang,
    view: &mamori_service::auth::SessionView,
    title: String,
) -> Result<Layout, WebError> {
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc(lang))?;
    let mut l = Layout::new(lang, view, &fac, "nav.ledger", "/ledger");
    l.title = title;
    Ok(l)
}

pub async fn list(
    State(state): State<AppState>,
    p: Page<perm::ViewLedger>,
    Path(kind): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> PageResult {
    let kind = parse_kind(&kind, p.lang)?;
    for_kind!(kind, R => list_of::<R>(&state, &p, &q).await)
}

async fn list_of<R: Record>(
    state: &AppState,
    p: &Page<perm::ViewLedger>,
    q: &[(String, String)],
) -> PageResult {
    let lang = p.lang;
    let err = |e: mamori_storage::StoreError| WebError::from_service(&e.into(), lang);
    let search: String = param(q, "q").chars().take(100).collect();
    let mut filter = Filter {
        q: search.clone(),
        eq: Vec::new(),
    };
    let mut filter_qs = format!("q={}", qs_escape(&search));
    for f in R::FIELDS.iter().filter(|f| f.facet) {
        let v = param(q, &format!("f_{}", f.key));
        if !v.is_empty() {
            filter
                .eq
                .push((f.key.to_string(), v.chars().take(200).collect()));
            filter_qs.push_str(&format!("&f_{}={}", f.key, qs_escape(v)));
        }
    }
    let page = param(q, "page")
        .parse::<i64>()
        .unwrap_or(1)
        .clamp(1, 1_000_000);
    let (records, total) = state
        .svc
        .record_list::<R>(&p.cap, &filter, page, PER_PAGE)
        .await
        .map_err(svc(lang))?;
    let refs = state.svc.refs_for::<R>().await.map_err(svc(lang))?;
    let today = state.svc.clock.today();
    let listed: Vec<(usize, &mamori_domain::registry::Field)> = R::FIELDS
        .iter()
        .enumerate()
        .filter(|(_, f)| f.list)
        .collect();
    let rows = records
        .iter()
        .map(|r| {
            let values = r.values();
            let retired = r.is_retired(today);
            Row {
                id: r.id(),
                retired,
                cells: listed
                    .iter()
                    .map(|(i, f)| {
                        let v = values.get(*i).map(String::as_str).unwrap_or("");
                        Cell {
                            text: display(lang, f, v, &refs),
                            tone: tone_of(f.key, f.kind, v, today, retired),
                            mono: matches!(
                                f.kind,
                                FieldKind::Date
                                    | FieldKind::Month
                                    | FieldKind::Ips
                                    | FieldKind::Macs
                                    | FieldKind::Phone
                            ) || R::KEY.first() == Some(&f.key) && f.key != "name",
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    let mut facets = Vec::new();
    for f in R::FIELDS.iter().filter(|f| f.facet) {
        let selected = param(q, &format!("f_{}", f.key));
        let choices = match f.kind {
            FieldKind::Choice(codes) => code_choices(lang, codes, f.labels, selected),
            FieldKind::Flag | FieldKind::MaybeFlag => flag_choices(lang, selected, false),
            FieldKind::Ref(k) => ref_choices(lang, &refs, k, selected),
            _ => state
                .svc
                .store
                .record_facet::<R>(f.key)
                .await
                .map_err(err)?
                .into_iter()
                .map(|v| Choice {
                    selected: v == selected,
                    label: v.clone(),
                    value: v,
                })
                .collect(),
        };
        facets.push(Facet {
            key: f.key,
            label: field_label(lang, R::KIND, f.key),
            choices,
        });
    }
    let chart = match chart_field::<R>() {
        Some(f) => {
            let counts: HashMap<String, i64> = state
                .svc
                .store
                .record_counts::<R>(f.key)
                .await
                .map_err(err)?
                .into_iter()
                .collect();
            let codes = match f.kind {
                FieldKind::Choice(c) => c,
                _ => &[],
            };
            let bars: Vec<Bar> = codes
                .iter()
                .map(|c| Bar {
                    label: tr(lang, &format!("{}.{c}", f.labels)).to_string(),
                    value: counts.get(*c).copied().unwrap_or(0).max(0) as u64,
                    tone: match *c {
                        "active" => Tone::Good,
                        "disposed" | "retired" | "ended" => Tone::Neutral,
                        "stopped" | "retiring" => Tone::Warn,
                        _ => Tone::Neutral,
                    },
                })
                .filter(|b| b.value > 0 || codes.len() <= 6)
                .collect();
            let title = mamori_catalog::messages::fill(
                tr(lang, "registry.chart"),
                &[("field", &field_label(lang, R::KIND, f.key))],
            );
            svg::bar_chart(&title, &bars, tr(lang, "chart.empty"))
        }
        None => String::new(),
    };
    let rs = state.svc.review_state(R::KIND).await.map_err(svc(lang))?;
    let mut l = layout(state, lang, &p.view, kind_label(lang, R::KIND)).await?;
    l = l.with_flash(Some(param(q, "ok")).filter(|s| !s.is_empty()));
    let plural = R::KIND.plural();
    Ok(render(&ListPage {
        review: (review_text(lang, &rs), rs.overdue),
        l,
        tabs: tabs(lang, Some(R::KIND)),
        plural,
        lead: tr(lang, &format!("registry.lead_{plural}")).to_string(),
        headers: listed
            .iter()
            .map(|(_, f)| field_label(lang, R::KIND, f.key))
            .collect(),
        rows,
        total,
        page,
        pages: ((total + PER_PAGE - 1) / PER_PAGE).max(1),
        q: search,
        search_hint: R::FIELDS
            .iter()
            .filter(|f| f.search)
            .map(|f| field_label(lang, R::KIND, f.key))
            .collect::<Vec<_>>()
            .join("・"),
        facets,
        filter_qs,
        can_edit: p.view.actor.role().permits(Permission::EditLedger),
        chart,
    }))
}

/// One label/value line of the detail page.
#[derive(Debug, Clone)]
pub struct DetailLine {
    pub label: String,
    pub value: String,
    pub tone: &'static str,
}

/// A history entry as shown.
#[derive(Debug, Clone)]
pub struct HistoryLine {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub changes: Vec<(String, String, String)>,
}

/// Records of another registry that point at this one.
#[derive(Debug, Clone)]
pub struct Backlinks {
    pub label: String,
    /// (href, key, title)
    pub items: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "registry_record.html")]
pub struct RecordPage {
    pub l: Layout,
    pub tabs: Vec<Tab>,
    pub plural: &'static str,
    pub id: i64,
    pub heading: String,
    pub retired: bool,
    pub lines: Vec<DetailLine>,
    pub backlinks: Vec<Backlinks>,
    pub history: Vec<HistoryLine>,
    pub can_edit: bool,
    /// The record's file and its versions (vendor documents).
    pub files: Option<FileSection>,
}

/// A stored version of a record's file.
#[derive(Debug, Clone)]
pub struct FileLine {
    pub href: String,
    pub no: usize,
    pub name: String,
    pub size: String,
    pub sha256: String,
    pub at: String,
    pub actor: String,
    /// Its SHA-256 is the one the record holds.
    pub recorded: bool,
}

/// The file card of a record: versions, the upload form and what went wrong with an upload.
#[derive(Debug, Clone)]
pub struct FileSection {
    pub action: String,
    pub versions: Vec<FileLine>,
    /// (message, code) of a refused upload.
    pub error: Option<(String, &'static str)>,
    /// The recorded SHA-256 was typed by hand and the file's differs: offer to replace it.
    pub confirm_replace: bool,
    pub hint: String,
    /// For the browser's own size check before sending.
    pub max_bytes: usize,
    pub too_large: String,
}

/// Why an upload was refused, to show on the record's page.
#[derive(Debug, Clone)]
struct FileProblem {
    code: &'static str,
    /// Filled message (hashes for `LED0032`).
    message: String,
    confirm_replace: bool,
}

#[derive(Deserialize, Default)]
pub struct FlashQuery {
    ok: Option<String>,
}

pub async fn detail(
    State(state): State<AppState>,
    p: Page<perm::ViewLedger>,
    Path((kind, id)): Path<(String, String)>,
    Query(fq): Query<FlashQuery>,
) -> PageResult {
    let kind = parse_kind(&kind, p.lang)?;
    let id = parse_id(&id, p.lang)?;
    for_kind!(kind, R => Ok(render(&detail_of::<R>(&state, &p, id, fq.ok.as_deref(), None).await?)))
}

fn history_lines<R: Record>(
    lang: Lang,
    history: Vec<HistoryEntry>,
    refs: &Refs,
) -> Vec<HistoryLine> {
    history
        .into_iter()
        .map(|h| HistoryLine {
            at: fmt_ms(h.at_ms),
            actor: h.actor,
            action: tr(lang, &format!("history_action.{}", h.action)).to_string(),
            changes: h
                .changes
                .into_iter()
                .map(|(k, b, a)| match R::FIELDS.iter().find(|f| f.key == k) {
                    Some(f) => (
                        field_label(lang, R::KIND, f.key),
                        display(lang, f, &b, refs),
                        display(lang, f, &a, refs),
                    ),
                    None => (k, b, a),
                })
                .collect(),
        })
        .collect()
}

/// Up to 50 records of `S` whose field `key` points at record `id`.
async fn backlinks_of<S: Record>(
    state: &AppState,
    cap: &mamori_service::Cap<perm::ViewLedger>,
    key: &'static str,
    many: bool,
    id: i64,
) -> Result<Vec<(String, String, String)>, ServiceError> {
    let records: Vec<S> = if many {
        // Lists of references (a system's devices) are few; filter in memory.
        state
            .svc
            .store
            .records::<S>()
            .await?
            .into_iter()
            .filter(|r| {
                let i = mamori_domain::registry::position(S::FIELDS, key);
                i.and_then(|i| r.values().into_iter().nth(i))
                    .is_some_and(|v| v.split(',').any(|x| x == id.to_string()))
            })
            .take(50)
            .collect()
    } else {
        let f = Filter {
            q: String::new(),
            eq: vec![(key.to_string(), id.to_string())],
        };
        state.svc.record_list::<S>(cap, &f, 1, 50).await?.0
    };
    Ok(records
        .iter()
        .map(|r| {
            (
                format!("/ledger/{}/{}", S::KIND.plural(), r.id()),
                key_of(r).replace('\u{1f}', " / "),
                title_of(r),
            )
        })
        .collect())
}

/// Bytes as people read them (KB/MB, base 1024).
fn human_size(n: i64) -> String {
    let n = n.max(0) as f64;
    if n < 1024.0 {
        format!("{n} B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.1} KB", n / 1024.0)
    } else {
        format!("{:.1} MB", n / (1024.0 * 1024.0))
    }
}

async fn file_section<R: Record>(
    state: &AppState,
    p: &Page<perm::ViewLedger>,
    rec: &R,
    problem: Option<FileProblem>,
) -> Result<Option<FileSection>, WebError> {
    if !files::takes_files(R::KIND) {
        return Ok(None);
    }
    let lang = p.lang;
    let id = rec.id();
    let recorded = mamori_domain::registry::position(R::FIELDS, "sha256")
        .and_then(|i| rec.values().into_iter().nth(i))
        .unwrap_or_default();
    let rows = state
        .svc
        .record_files(&p.cap, R::KIND, id)
        .await
        .map_err(svc(lang))?;
    let count = rows.len();
    let plural = R::KIND.plural();
    let versions = rows
        .into_iter()
        .enumerate()
        .map(|(i, f)| FileLine {
            href: format!("/ledger/{plural}/{id}/files/{}", f.id),
            no: count - i,
            recorded: !recorded.is_empty() && f.sha256 == recorded,
            name: f.name,
            size: human_size(f.size),
            sha256: f.sha256,
            at: fmt_ms(f.at_ms),
            actor: f.actor,
        })
        .collect();
    let (error, confirm_replace) = match problem {
        Some(pr) => (Some((pr.message, pr.code)), pr.confirm_replace),
        None => (None, false),
    };
    let mb = (files::MAX_FILE_BYTES / (1024 * 1024)).to_string();
    Ok(Some(FileSection {
        max_bytes: files::MAX_FILE_BYTES,
        too_large: mamori_catalog::messages::fill(tr(lang, "error.LED0031"), &[("mb", &mb)]),
        action: format!("/ledger/{plural}/{id}/files"),
        versions,
        error,
        confirm_replace,
        hint: mamori_catalog::messages::fill(tr(lang, "file.hint"), &[("mb", &mb)]),
    }))
}

async fn detail_of<R: Record>(
    state: &AppState,
    p: &Page<perm::ViewLedger>,
    id: i64,
    ok: Option<&str>,
    problem: Option<FileProblem>,
) -> Result<RecordPage, WebError> {
    let lang = p.lang;
    let (rec, history) = state
        .svc
        .record_detail::<R>(&p.cap, id)
        .await
        .map_err(svc(lang))?;
    let refs = state.svc.refs_for::<R>().await.map_err(svc(lang))?;
    let today = state.svc.clock.today();
    let retired = rec.is_retired(today);
    let lines = R::FIELDS
        .iter()
        .zip(rec.values())
        .map(|(f, v)| {
            let shown = display(lang, f, &v, &refs);
            DetailLine {
                label: field_label(lang, R::KIND, f.key),
                tone: tone_of(f.key, f.kind, &v, today, retired),
                value: if shown.is_empty() {
                    "—".into()
                } else {
                    shown
                },
            }
        })
        .collect();
    let mut backlinks = Vec::new();
    for other in RegistryKind::ALL {
        for_kind!(*other, S => {
            for f in S::FIELDS {
                let many = match f.kind {
                    FieldKind::Ref(k) if k == R::KIND => false,
                    FieldKind::Refs(k) if k == R::KIND => true,
                    _ => continue,
                };
                let items = backlinks_of::<S>(state, &p.cap, f.key, many, id)
                    .await
                    .map_err(svc(lang))?;
                if !items.is_empty() {
                    backlinks.push(Backlinks {
                        label: format!(
                            "{}（{}）",
                            kind_label(lang, S::KIND),
                            field_label(lang, S::KIND, f.key)
                        ),
                        items,
                    });
                }
            }
        });
    }
    let heading = {
        let key = key_of(&rec).replace('\u{1f}', " / ");
        let title = title_of(&rec);
        if key == title
            || R::KEY.iter().any(|k| {
                matches!(
                    R::FIELDS.iter().find(|f| f.key == *k).map(|f| f.kind),
                    Some(FieldKind::Ref(_))
                )
            })
        {
            title
        } else {
            format!("{key}　{title}")
        }
    };
    let mut l = layout(state, lang, &p.view, heading.clone())
        .await?
        .with_flash(ok);
    l.title = heading.clone();
    let files = file_section(state, p, &rec, problem).await?;
    Ok(RecordPage {
        files,
        l,
        tabs: tabs(lang, Some(R::KIND)),
        plural: R::KIND.plural(),
        id,
        heading,
        retired,
        lines,
        backlinks,
        history: history_lines::<R>(lang, history, &refs),
        can_edit: p.view.actor.role().permits(Permission::EditLedger),
    })
}

/// One input of the form.
#[derive(Debug, Clone)]
pub struct FormField {
    pub key: &'static str,
    pub label: String,
    /// `text`, `email`, `tel`, `number`, `date`, `month`, `select`, `multi`, `checks`, `textarea`.
    pub input: &'static str,
    pub value: String,
    pub choices: Vec<Choice>,
    pub required: bool,
    pub max: usize,
    pub error: Option<(String, &'static str)>,
    pub hint: String,
}

#[derive(Template)]
#[template(path = "registry_form.html")]
pub struct FormPage {
    pub l: Layout,
    pub tabs: Vec<Tab>,
    pub action: String,
    pub cancel: String,
    pub fields: Vec<FormField>,
    pub errors: usize,
}

/// The canonical values of a new record: each field's empty value as the record reads it.
fn blank_values<R: Record>() -> Vec<String> {
    let empty = vec![String::new(); R::FIELDS.len()];
    R::from_values(&Values::new(R::FIELDS, &empty)).values()
}

async fn form_page<R: Record>(
    state: &AppState,
    lang: Lang,
    view: &mamori_service::auth::SessionView,
    id: Option<i64>,
    values: &HashMap<String, String>,
    errors: &[FieldError],
) -> Result<FormPage, WebError> {
    let refs = state.svc.refs_for::<R>().await.map_err(svc(lang))?;
    let plural = R::KIND.plural();
    let fields = R::FIELDS
        .iter()
        .map(|f| {
            let value = values.get(f.key).cloned().unwrap_or_default();
            let blank = || Choice {
                value: String::new(),
                label: "—".into(),
                selected: value.is_empty(),
            };
            let (input, choices, max) = match f.kind {
                FieldKind::Text(max) => ("text", Vec::new(), max),
                FieldKind::Note => ("textarea", Vec::new(), 1000),
                FieldKind::Date => ("date", Vec::new(), 10),
                FieldKind::Month => ("month", Vec::new(), 7),
                FieldKind::Choice(codes) => {
                    let mut c = if f.required {
                        Vec::new()
                    } else {
                        vec![blank()]
                    };
                    c.extend(code_choices(lang, codes, f.labels, &value));
                    ("select", c, 0)
                }
                FieldKind::Tags(codes) => {
                    ("checks", code_choices(lang, codes, f.labels, &value), 0)
                }
                FieldKind::Flag => ("select", flag_choices(lang, &value, false), 0),
                FieldKind::MaybeFlag => ("select", flag_choices(lang, &value, true), 0),
                FieldKind::Int(..) => ("number", Vec::new(), 10),
                FieldKind::Ref(k) => {
                    let mut c = if f.required {
                        Vec::new()
                    } else {
                        vec![blank()]
                    };
                    c.extend(ref_choices(lang, &refs, k, &value));
                    ("select", c, 0)
                }
                FieldKind::Refs(k) => ("multi", ref_choices(lang, &refs, k, &value), 0),
                FieldKind::Email => ("email", Vec::new(), 200),
                FieldKind::Phone => ("tel", Vec::new(), 30),
                FieldKind::Ips | FieldKind::Macs => ("text", Vec::new(), 200),
            };
            let hint_key = format!("{}_hint.{}", R::KIND.as_str(), f.key);
            let hint = tr(lang, &hint_key);
            FormField {
                key: f.key,
                label: field_label(lang, R::KIND, f.key),
                input,
                value,
                choices,
                required: f.required,
                max,
                error: errors
                    .iter()
                    .find(|e| e.field == f.key)
                    .map(|e| (tr(lang, &format!("error.{}", e.code)).to_string(), e.code)),
                hint: if hint == hint_key {
                    String::new()
                } else {
                    hint.to_string()
                },
            }
        })
        .collect();
    let (title, action, cancel) = match id {
        Some(id) => (
            format!(
                "{}（{}）",
                kind_label(lang, R::KIND),
                tr(lang, "registry.edit")
            ),
            format!("/ledger/{plural}/{id}"),
            format!("/ledger/{plural}/{id}"),
        ),
        None => (
            format!(
                "{}（{}）",
                kind_label(lang, R::KIND),
                tr(lang, "registry.new")
            ),
            format!("/ledger/{plural}"),
            format!("/ledger/{plural}"),
        ),
    };
    Ok(FormPage {
        l: layout(state, lang, view, title).await?,
        tabs: tabs(lang, Some(R::KIND)),
        action,
        cancel,
        fields,
        errors: errors.len(),
    })
}

fn values_map<R: Record>(values: Vec<String>) -> HashMap<String, String> {
    R::FIELDS
        .iter()
        .zip(values)
        .map(|(f, v)| (f.key.to_string(), v))
        .collect()
}

/// Form pairs to field values; repeated names (check boxes, multiple selects) are comma-joined.
fn form_values(pairs: Vec<(String, String)>) -> HashMap<String, String> {
    let mut m: HashMap<String, String> = HashMap::new();
    for (k, v) in pairs {
        if k == "_csrf" {
            continue;
        }
        m.entry(k)
            .and_modify(|x| {
                x.push(',');
                x.push_str(&v);
            })
            .or_insert(v);
    }
    m
}

pub async fn new_form(
    State(state): State<AppState>,
    p: Page<perm::EditLedger>,
    Path(kind): Path<String>,
) -> PageResult {
    let kind = parse_kind(&kind, p.lang)?;
    for_kind!(kind, R => {
        let mut values = values_map::<R>(blank_values::<R>());
        if R::KIND == RegistryKind::Asset {
            values.insert("class".into(), AssetClass::Workstation.as_str().into());
        }
        Ok(render(&form_page::<R>(&state, p.lang, &p.view, None, &values, &[]).await?))
    })
}

pub async fn edit_form(
    State(state): State<AppState>,
    p: Page<perm::EditLedger>,
    v: Page<perm::ViewLedger>,
    Path((kind, id)): Path<(String, String)>,
) -> PageResult {
    let kind = parse_kind(&kind, p.lang)?;
    let id = parse_id(&id, p.lang)?;
    for_kind!(kind, R => {
        let (rec, _) = state
            .svc
            .record_detail::<R>(&v.cap, id)
            .await
            .map_err(svc(p.lang))?;
        let values = values_map::<R>(rec.values());
        Ok(render(&form_page::<R>(&state, p.lang, &p.view, Some(id), &values, &[]).await?))
    })
}

pub async fn create(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::EditLedger>,
    Path(kind): Path<String>,
    form: CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    let kind = parse_kind(&kind, p.lang)?;
    let input = form_values(form.into_inner());
    for_kind!(kind, R => match state.svc.create_record::<R>(&p.cap, &input, &client).await {
        // Records that take a file continue on their page, at the upload.
        Ok(id) if files::takes_files(R::KIND) => Ok(Redirect::to(&format!("/ledger/{}/{id}?ok=record_saved_add_file#file", R::KIND.plural())).into_response()),
        Ok(id) => Ok(Redirect::to(&format!("/ledger/{}/{id}?ok=record_saved", R::KIND.plural())).into_response()),
        Err(ServiceError::Fields(errors)) => Ok((
            StatusCode::BAD_REQUEST,
            render(&form_page::<R>(&state, p.lang, &p.view, None, &input, &errors).await?),
        )
            .into_response()),
        Err(e) => Err(WebError::from_service(&e, p.lang)),
    })
}

pub async fn update(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::EditLedger>,
    Path((kind, id)): Path<(String, String)>,
    form: CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    let kind = parse_kind(&kind, p.lang)?;
    let id = parse_id(&id, p.lang)?;
    let input = form_values(form.into_inner());
    for_kind!(kind, R => match state.svc.update_record::<R>(&p.cap, id, &input, &client).await {
        Ok(_) => Ok(Redirect::to(&format!("/ledger/{}/{id}?ok=record_saved", R::KIND.plural())).into_response()),
        Err(ServiceError::Fields(errors)) => Ok((
            StatusCode::BAD_REQUEST,
            render(&form_page::<R>(&state, p.lang, &p.view, Some(id), &input, &errors).await?),
        )
            .into_response()),
        Err(e) => Err(WebError::from_service(&e, p.lang)),
    })
}

pub async fn retire(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::EditLedger>,
    Path((kind, id)): Path<(String, String)>,
    _form: CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    let kind = parse_kind(&kind, p.lang)?;
    let id = parse_id(&id, p.lang)?;
    for_kind!(kind, R => {
        state
            .svc
            .retire_record::<R>(&p.cap, id, &client)
            .await
            .map_err(svc(p.lang))?;
    });
    Ok(Redirect::to(&format!("/ledger/{}/{id}?ok=record_retired", kind.plural())).into_response())
}

// ---------------------------------------------------------------------------------------------
// Files of records (vendor documents)

/// Uploads a new version of a record's file. A refused upload shows the record's page with the
/// reason at the file field; nothing is written.
pub async fn upload_file(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::EditLedger>,
    v: Page<perm::ViewLedger>,
    Path((kind, id)): Path<(String, String)>,
    upload: crate::web::extract::CsrfUpload,
) -> PageResult {
    let lang = p.lang;
    let kind = parse_kind(&kind, lang)?;
    let id = parse_id(&id, lang)?;
    if !files::takes_files(kind) {
        return Err(not_found(lang));
    }
    let refused = |code: &'static str| ServiceError::Invalid {
        code,
        field: "file",
    };
    let replace_typed_hash = upload.field("replace_hash").is_some();
    let result = match upload.file {
        _ if upload.too_large => Err(refused("LED0031")),
        Some((name, bytes)) => {
            let up = files::Upload {
                name,
                bytes,
                replace_typed_hash,
            };
            state
                .svc
                .attach_document_file(&p.cap, kind, id, up, &client)
                .await
        }
        None if upload.empty_file => Err(refused("LED0030")),
        None => Err(refused("LED0034")),
    };
    let plural = kind.plural();
    let problem = match result {
        Ok(a) => {
            let flash = match a.check {
                files::HashCheck::Matched => "file_uploaded_matched",
                files::HashCheck::Replaced => "file_uploaded_replaced",
                files::HashCheck::Recorded => "file_uploaded",
            };
            return Ok(
                Redirect::to(&format!("/ledger/{plural}/{id}?ok={flash}#file")).into_response(),
            );
        }
        Err(ServiceError::HashMismatch { recorded, uploaded }) => FileProblem {
            code: "LED0032",
            message: mamori_catalog::messages::fill(
                tr(lang, "error.LED0032"),
                &[("recorded", &recorded), ("uploaded", &uploaded)],
            ),
            confirm_replace: true,
        },
        Err(ServiceError::Invalid { code, .. }) => FileProblem {
            code,
            message: mamori_catalog::messages::fill(
                tr(lang, &format!("error.{code}")),
                &[("mb", &(files::MAX_FILE_BYTES / (1024 * 1024)).to_string())],
            ),
            confirm_replace: false,
        },
        Err(e) => return Err(WebError::from_service(&e, lang)),
    };
    let status = if problem.code == "LED0031" {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        StatusCode::BAD_REQUEST
    };
    let page =
        for_kind!(kind, R => detail_of::<R>(&state, &v, id, None, Some(problem.clone())).await?);
    Ok((status, render(&page)).into_response())
}

/// Downloads one version of a record's file: always as an attachment, never rendered by the
/// browser (`nosniff`, a sandboxing CSP, document types only, otherwise octet-stream).
pub async fn download_file(
    State(state): State<AppState>,
    p: Page<perm::ViewLedger>,
    Path((kind, id, file)): Path<(String, String, String)>,
) -> PageResult {
    let lang = p.lang;
    let kind = parse_kind(&kind, lang)?;
    let id = parse_id(&id, lang)?;
    let file = parse_id(&file, lang)?;
    let (row, bytes) = state
        .svc
        .record_file(&p.cap, kind, id, file)
        .await
        .map_err(svc(lang))?;
    let mut r = download(
        bytes,
        files::content_type_for(&row.name),
        &ascii_file_name(&row.name),
        &row.name,
    );
    let h = r.headers_mut();
    h.insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(r)
}

/// The plain-ASCII fallback of a file name for `filename=` (the exact name goes in `filename*`).
pub(crate) fn ascii_file_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let (stem, ext) = s.rsplit_once('.').unwrap_or((s.as_str(), ""));
    let stem = if stem.chars().all(|c| c == '_') {
        "file"
    } else {
        stem
    };
    if ext.is_empty() {
        stem.to_string()
    } else {
        format!("{stem}.{ext}")
    }
}

// ---------------------------------------------------------------------------------------------
// Export, template and import

/// A download: `Content-Disposition: attachment` with an ASCII `filename` and the exact name as
/// RFC 5987 `filename*` (UTF-8, percent-encoded: only letters, digits and `.-_` stay as they are).
pub(crate) fn download(
    bytes: Vec<u8>,
    content_type: &'static str,
    ascii_name: &str,
    name: &str,
) -> Response {
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    (
        [
            (axum::http::header::CONTENT_TYPE, content_type.to_string()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}"),
            ),
            (axum::http::header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response()
}

pub(crate) const XLSX_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

pub async fn export(
    State(state): State<AppState>,
    p: Page<perm::ViewLedger>,
    Path((kind, file)): Path<(String, String)>,
) -> PageResult {
    let lang = p.lang;
    let kind = parse_kind(&kind, lang)?;
    let table =
        for_kind!(kind, R => state.svc.record_table::<R>(&p.cap, lang).await).map_err(svc(lang))?;
    let day = state.svc.clock.today();
    let stamp = format!(
        "{:04}{:02}{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    );
    let plural = kind.plural();
    let sheet = kind_label(lang, kind);
    let ja = kind_label(Lang::Ja, kind);
    let xlsx = |rows: &[Vec<String>]| {
        mamori_reports::table::xlsx(&sheet, &table.headers, rows).map_err(|e| {
            tracing::error!(error = %e, "xlsx export failed");
            WebError::new(StatusCode::INTERNAL_SERVER_ERROR, "GEN0500", lang)
        })
    };
    match file.as_str() {
        "data.csv" => Ok(download(
            mamori_reports::table::csv(&table.headers, &table.rows),
            "text/csv; charset=utf-8",
            &format!("mamori-{plural}-{stamp}.csv"),
            &format!("{ja}_{stamp}.csv"),
        )),
        "data.xlsx" => Ok(download(
            xlsx(&table.rows)?,
            XLSX_TYPE,
            &format!("mamori-{plural}-{stamp}.xlsx"),
            &format!("{ja}_{stamp}.xlsx"),
        )),
        "template.xlsx" => Ok(download(
            xlsx(&[])?,
            XLSX_TYPE,
            &format!("mamori-{plural}-template.xlsx"),
            &format!("{ja}_テンプレート.xlsx"),
        )),
        _ => Err(not_found(lang)),
    }
}

/// What a staged file is waiting for: a registry import, or a system's account list. A token
/// staged for one is refused by the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StagedFor {
    Registry(RegistryKind),
    AccountList,
}

/// An uploaded file waiting for confirmation, bound to the session that uploaded it.
#[derive(Debug, Clone)]
pub struct Staged {
    pub(crate) session: String,
    pub(crate) kind: StagedFor,
    pub(crate) file_name: String,
    pub(crate) bytes: Vec<u8>,
    pub(crate) at: std::time::Instant,
}

/// Uploaded files between preview and commit (kept 30 minutes, in memory).
#[derive(Debug, Clone, Default)]
pub struct ImportStaging(std::sync::Arc<std::sync::Mutex<HashMap<String, Staged>>>);

impl ImportStaging {
    pub(crate) fn put(&self, s: Staged) -> String {
        let token = mamori_service::auth::random_token();
        if let Ok(mut m) = self.0.lock() {
            m.retain(|_, v| v.at.elapsed() < std::time::Duration::from_secs(1800));
            m.insert(token.clone(), s);
        }
        token
    }

    pub(crate) fn take(&self, token: &str, session: &str, kind: StagedFor) -> Option<Staged> {
        let mut m = self.0.lock().ok()?;
        let ok = m.get(token).is_some_and(|s| s.fits(session, kind));
        if ok { m.remove(token) } else { None }
    }

    /// Stages `s` again under its old token (a commit that was refused).
    pub(crate) fn put_back(&self, token: &str, s: Staged) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(token.to_string(), s);
        }
    }

    /// The staged file, left in place (for another preview of it).
    pub(crate) fn peek(&self, token: &str, session: &str, kind: StagedFor) -> Option<Staged> {
        let m = self.0.lock().ok()?;
        m.get(token).filter(|s| s.fits(session, kind)).cloned()
    }
}

impl Staged {
    fn fits(&self, session: &str, kind: StagedFor) -> bool {
        self.session == session
            && self.kind == kind
            && self.at.elapsed() < std::time::Duration::from_secs(1800)
    }
}

/// A changed field as shown: (label, before, after).
pub type Change = (String, String, String);

/// A problem line of the import preview.
#[derive(Debug, Clone)]
pub struct ImportProblem {
    pub line: usize,
    pub column: String,
    pub code: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "ledger_import.html")]
pub struct ImportPage {
    pub l: Layout,
    pub tabs: Vec<Tab>,
    pub plural: &'static str,
    pub lead: String,
    pub file_name: String,
    pub rows: usize,
    pub new: Vec<(usize, String, String)>,
    /// (row, key, changes)
    pub changed: Vec<(usize, String, Vec<Change>)>,
    pub unchanged: usize,
    pub missing: Vec<(String, String)>,
    pub problems: Vec<ImportProblem>,
    pub token: String,
    pub preview: bool,
    pub error: Option<(String, String)>,
}

async fn import_page(
    state: &AppState,
    p: &Page<perm::EditLedger>,
    kind: RegistryKind,
) -> Result<ImportPage, WebError> {
    let lang = p.lang;
    let title = format!(
        "{}（{}）",
        kind_label(lang, kind),
        tr(lang, "ledger.import")
    );
    Ok(ImportPage {
        l: layout(state, lang, &p.view, title).await?,
        tabs: tabs(lang, Some(kind)),
        plural: kind.plural(),
        lead: mamori_catalog::messages::fill(
            tr(lang, "import.lead"),
            &[("registry", &kind_label(lang, kind))],
        ),
        file_name: String::new(),
        rows: 0,
        new: Vec::new(),
        changed: Vec::new(),
        unchanged: 0,
        missing: Vec::new(),
        problems: Vec::new(),
        token: String::new(),
        preview: false,
        error: None,
    })
}

pub async fn import_form(
    State(state): State<AppState>,
    p: Page<perm::EditLedger>,
    Path(kind): Path<String>,
) -> PageResult {
    let kind = parse_kind(&kind, p.lang)?;
    Ok(render(&import_page(&state, &p, kind).await?))
}

/// Reads the file and runs the import; a file that cannot be read at all is `Err((message, code))`.
async fn run_import(
    state: &AppState,
    p: &Page<perm::EditLedger>,
    kind: RegistryKind,
    client: &mamori_service::ClientInfo,
    file_name: &str,
    bytes: &[u8],
    opts: mamori_service::import::ImportOptions,
) -> Result<Result<mamori_service::import::ImportReport, (String, String)>, WebError> {
    let lang = p.lang;
    let table = match mamori_ingest::read_table(bytes, Some(file_name)) {
        Ok(t) => t,
        Err(e) => {
            let at = match (e.line(), e.column()) {
                (Some(l), Some(c)) => format!("（{l}行目 {c}列）"),
                (Some(l), None) => format!("（{l}行目）"),
                _ => String::new(),
            };
            let msg = match lang {
                Lang::Ja => e.message_ja(),
                Lang::En => e.message_en(),
            };
            return Ok(Err((format!("{msg}{at}"), e.code().to_string())));
        }
    };
    let report = for_kind!(kind, R => state.svc.import_records::<R>(&p.cap, &table, opts, lang, client).await)
        .map_err(svc(lang))?;
    Ok(Ok(report))
}

fn fill_report(
    lang: Lang,
    kind: RegistryKind,
    page: &mut ImportPage,
    file_name: &str,
    r: mamori_service::import::ImportReport,
    token: String,
) {
    let label = |f: &str| field_label(lang, kind, f);
    page.file_name = file_name.to_string();
    page.rows = r.rows;
    page.new = r.new;
    page.changed = r
        .changed
        .into_iter()
        .map(|(line, key, ch)| {
            (
                line,
                key,
                ch.into_iter().map(|(f, b, a)| (label(f), b, a)).collect(),
            )
        })
        .collect();
    page.unchanged = r.unchanged;
    page.missing = r.missing;
    page.problems = r
        .errors
        .into_iter()
        .map(|d| ImportProblem {
            line: d.line,
            column: d.column.unwrap_or_default(),
            code: d.code.to_string(),
            message: match lang {
                Lang::Ja => d.message_ja,
                Lang::En => d.message_en,
            },
        })
        .collect();
    page.token = token;
    page.preview = true;
}

pub async fn import_preview(
    State(state): State<AppState>,
    axum::Extension(staging): axum::Extension<ImportStaging>,
    Client(client): Client,
    p: Page<perm::EditLedger>,
    Path(kind): Path<String>,
    upload: crate::web::extract::CsrfUpload,
) -> PageResult {
    let lang = p.lang;
    let kind = parse_kind(&kind, lang)?;
    if upload.too_large {
        return Err(WebError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "REQ0001",
            lang,
        ));
    }
    let mut page = import_page(&state, &p, kind).await?;
    let Some((file_name, bytes)) = upload.file else {
        page.error = Some((tr(lang, "error.IMP0203").to_string(), "IMP0203".into()));
        return Ok((StatusCode::BAD_REQUEST, render(&page)).into_response());
    };
    let opts = mamori_service::import::ImportOptions {
        dry_run: true,
        retire_missing: false,
    };
    match run_import(&state, &p, kind, &client, &file_name, &bytes, opts).await? {
        Err(err) => {
            page.file_name = file_name;
            page.error = Some(err);
            Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
        }
        Ok(report) => {
            let ok = report.errors.is_empty();
            let token = if ok {
                staging.put(Staged {
                    session: p.view.actor.session_hash.clone(),
                    kind: StagedFor::Registry(kind),
                    file_name: file_name.clone(),
                    bytes,
                    at: std::time::Instant::now(),
                })
            } else {
                String::new()
            };
            fill_report(lang, kind, &mut page, &file_name, report, token);
            let status = if ok {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            };
            Ok((status, render(&page)).into_response())
        }
    }
}

#[derive(Deserialize)]
pub struct CommitForm {
    token: String,
    #[serde(default)]
    retire_missing: Option<String>,
}

pub async fn import_commit(
    State(state): State<AppState>,
    axum::Extension(staging): axum::Extension<ImportStaging>,
    Client(client): Client,
    p: Page<perm::EditLedger>,
    Path(kind): Path<String>,
    form: CsrfForm<CommitForm>,
) -> PageResult {
    let lang = p.lang;
    let kind = parse_kind(&kind, lang)?;
    let f = form.into_inner();
    let Some(staged) = staging.take(
        &f.token,
        &p.view.actor.session_hash,
        StagedFor::Registry(kind),
    ) else {
        return Err(WebError::new(StatusCode::CONFLICT, "IMP0204", lang));
    };
    let opts = mamori_service::import::ImportOptions {
        dry_run: false,
        retire_missing: f.retire_missing.is_some(),
    };
    match run_import(
        &state,
        &p,
        kind,
        &client,
        &staged.file_name,
        &staged.bytes,
        opts,
    )
    .await?
    {
        Ok(r) if r.committed => {
            Ok(Redirect::to(&format!("/ledger/{}?ok=imported", kind.plural())).into_response())
        }
        Ok(r) => {
            let mut page = import_page(&state, &p, kind).await?;
            fill_report(lang, kind, &mut page, &staged.file_name, r, String::new());
            Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
        }
        Err(_) => Err(WebError::new(StatusCode::BAD_REQUEST, "IMP0008", lang)),
    }
}

#[derive(Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    note: String,
}

/// Records the 棚卸 sign-off of a registry.
pub async fn review(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::EditLedger>,
    Path(kind): Path<String>,
    form: CsrfForm<ReviewForm>,
) -> PageResult {
    let kind = parse_kind(&kind, p.lang)?;
    let note = form.into_inner().note;
    for_kind!(kind, R => state.svc.sign_off::<R>(&p.cap, &note, &client).await)
        .map_err(svc(p.lang))?;
    Ok(Redirect::to(&format!("/ledger/{}?ok=reviewed", kind.plural())).into_response())
}
