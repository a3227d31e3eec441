//! The ledger pages: the device list with search, filters and paging; a device's detail with
//! its change history; the create and edit forms.

use crate::web::AppState;
use crate::web::error::WebError;
use crate::web::extract::{Client, CsrfForm, Page};
use crate::web::views::{Layout, fmt_date, fmt_ms, render};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mamori_catalog::{Lang, tr};
use mamori_domain::AssetId;
use mamori_domain::ledger::{AssetClass, AssetStatus, FieldError};
use mamori_domain::role::Permission;
use mamori_reports::svg::{self, Bar, Tone};
use mamori_service::ledger::{ASSET_FIELDS, AssetInput};
use mamori_service::{ServiceError, perm};
use mamori_storage::ledger::AssetFilter;
use serde::Deserialize;
use std::collections::HashMap;

type PageResult = Result<Response, WebError>;

const PER_PAGE: i64 = 50;

fn svc(lang: Lang) -> impl Fn(ServiceError) -> WebError {
    move |e| WebError::from_service(&e, lang)
}

/// An asset row of the list.
#[derive(Debug, Clone)]
pub struct AssetRow {
    pub id: i64,
    pub tag: String,
    pub name: String,
    pub class_label: String,
    pub location: String,
    pub os: String,
    pub ip: String,
    pub eol: String,
    pub eol_past: bool,
    pub patch: String,
    pub patch_tone: &'static str,
    pub status_label: String,
    pub missing: bool,
}

/// A choice of a filter or form select.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "ledger.html")]
pub struct LedgerPage {
    pub l: Layout,
    pub rows: Vec<AssetRow>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub q: String,
    pub classes: Vec<Choice>,
    pub statuses: Vec<Choice>,
    pub locations: Vec<Choice>,
    /// Query string of the current filter without `page`, for the pager links.
    pub filter_qs: String,
    pub can_edit: bool,
    pub chart_title: String,
    pub chart: String,
    /// 棚卸: (last review text, overdue)
    pub review: (String, bool),
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    class: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    location: String,
    page: Option<i64>,
    ok: Option<String>,
}

fn choices<T: Copy>(
    lang: Lang,
    all: &[T],
    code: impl Fn(T) -> &'static str,
    prefix: &str,
    selected: &str,
) -> Vec<Choice> {
    all.iter()
        .map(|v| Choice {
            value: code(*v).to_string(),
            label: tr(lang, &format!("{prefix}.{}", code(*v))).to_string(),
            selected: code(*v) == selected,
        })
        .collect()
}

fn qs_escape(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)])
        .map(|x| x.trim_start_matches("v=").to_string())
        .unwrap_or_default()
}

pub async fn list(
    State(state): State<AppState>,
    p: Page<perm::ViewLedger>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let lang = p.lang;
    let filter = AssetFilter {
        q: q.q.chars().take(100).collect(),
        class: AssetClass::parse(&q.class),
        status: AssetStatus::parse(&q.status),
        location: q.location.clone(),
    };
    let page = q.page.unwrap_or(1).clamp(1, 1_000_000);
    let (assets, total) = state
        .svc
        .asset_list(&p.cap, &filter, page, PER_PAGE)
        .await
        .map_err(svc(lang))?;
    let store = &state.svc.store;
    let err = |e: mamori_storage::StoreError| WebError::from_service(&e.into(), lang);

    let today = state.svc.clock.today();
    let rows = assets
        .iter()
        .map(|a| {
            let patch_days = a.last_patch_on.map(|d| (today - d).whole_days());
            AssetRow {
                id: a.id.0,
                tag: a.tag.clone(),
                name: a.name.clone(),
                class_label: tr(lang, &format!("asset_class.{}", a.class.as_str())).to_string(),
                location: a.location.clone(),
                os: a.os.clone(),
                ip: a.ip.clone(),
                eol: fmt_date(a.eol_on),
                eol_past: a.status != AssetStatus::Disposed && a.eol_on.is_some_and(|d| d < today),
                patch: fmt_date(a.last_patch_on),
                patch_tone: match patch_days {
                    Some(..=30) => "good",
                    Some(31..=90) => "neutral",
                    Some(_) => "warn",
                    None if a.class == AssetClass::RemovableMedia => "neutral",
                    None => "bad",
                },
                status_label: tr(lang, &format!("asset_status.{}", a.status.as_str())).to_string(),
                missing: a.location.trim().is_empty()
                    || (a.vendor_id.is_none()
                        && matches!(a.class, AssetClass::Server | AssetClass::NetworkDevice)),
            }
        })
        .collect();
    let counts: HashMap<String, i64> = store
        .asset_status_counts()
        .await
        .map_err(err)?
        .into_iter()
        .collect();
    let tones = [Tone::Good, Tone::Neutral, Tone::Warn, Tone::Neutral];
    let bars: Vec<Bar> = AssetStatus::ALL
        .iter()
        .zip(tones)
        .map(|(s, tone)| Bar {
            label: tr(lang, &format!("asset_status.{}", s.as_str())).to_string(),
            value: counts.get(s.as_str()).copied().unwrap_or(0).max(0) as u64,
            tone,
        })
        .collect();
    let locations = store
        .asset_locations()
        .await
        .map_err(err)?
        .into_iter()
        .map(|l| Choice {
            selected: l == q.location,
            value: l.clone(),
            label: l,
        })
        .collect();
    let filter_qs = format!(
        "q={}&class={}&status={}&location={}",
        qs_escape(&q.q),
        qs_escape(&q.class),
        qs_escape(&q.status),
        qs_escape(&q.location)
    );
    let fac = crate::web::pages::facility_name(&state)
        .await
        .map_err(svc(lang))?;
    let rs = state.svc.asset_review_state().await.map_err(svc(lang))?;
    let review = match &rs.last {
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
    };
    Ok(render(&LedgerPage {
        review: (review, rs.overdue),
        l: Layout::new(lang, &p.view, &fac, "ledger.title", "/ledger").with_flash(q.ok.as_deref()),
        rows,
        total,
        page,
        pages: ((total + PER_PAGE - 1) / PER_PAGE).max(1),
        q: q.q.clone(),
        classes: choices(
            lang,
            AssetClass::ALL,
            AssetClass::as_str,
            "asset_class",
            &q.class,
        ),
        statuses: choices(
            lang,
            AssetStatus::ALL,
            AssetStatus::as_str,
            "asset_status",
            &q.status,
        ),
        locations,
        filter_qs,
        can_edit: p.view.actor.role().permits(Permission::EditLedger),
        chart_title: tr(lang, "ledger.chart_status").to_string(),
        chart: svg::bar_chart(
            tr(lang, "ledger.chart_status"),
            &bars,
            tr(lang, "chart.empty"),
        ),
    }))
}

/// One label/value line of the detail page.
#[derive(Debug, Clone)]
pub struct DetailLine {
    pub label: String,
    pub value: String,
}

/// A history entry as shown.
#[derive(Debug, Clone)]
pub struct HistoryLine {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub changes: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "asset.html")]
pub struct AssetPage {
    pub l: Layout,
    pub id: i64,
    pub heading: String,
    pub lines: Vec<DetailLine>,
    pub history: Vec<HistoryLine>,
    pub can_edit: bool,
}

/// Shows a field value the way people read it (labels for codes, vendor names, 和暦 not needed).
fn display(lang: Lang, key: &str, value: &str, vendors: &HashMap<String, String>) -> String {
    if value.is_empty() {
        return "—".to_string();
    }
    match key {
        "class" => tr(lang, &format!("asset_class.{value}")).to_string(),
        "status" => tr(lang, &format!("asset_status.{value}")).to_string(),
        "vendor" => vendors
            .get(value)
            .cloned()
            .unwrap_or_else(|| value.to_string()),
        _ => value.to_string(),
    }
}

fn parse_id(id: &str, lang: Lang) -> Result<AssetId, WebError> {
    AssetId::parse(id).ok_or_else(|| WebError::new(StatusCode::NOT_FOUND, "GEN0404", lang))
}

async fn vendor_names(state: &AppState, lang: Lang) -> Result<HashMap<String, String>, WebError> {
    Ok(state
        .svc
        .store
        .vendors()
        .await
        .map_err(|e| WebError::from_service(&e.into(), lang))?
        .into_iter()
        .map(|v| (v.id.0.to_string(), v.name))
        .collect())
}

#[derive(Deserialize, Default)]
pub struct FlashQuery {
    ok: Option<String>,
}

pub async fn detail(
    State(state): State<AppState>,
    p: Page<perm::ViewLedger>,
    Path(id): Path<String>,
    Query(fq): Query<FlashQuery>,
) -> PageResult {
    let lang = p.lang;
    let id = parse_id(&id, lang)?;
    let (asset, history) = state
        .svc
        .asset_detail(&p.cap, id)
        .await
        .map_err(svc(lang))?;
    let vendors = vendor_names(&state, lang).await?;
    let input = AssetInput::of(&asset);
    let lines = ASSET_FIELDS
        .iter()
        .map(|k| DetailLine {
            label: tr(lang, &format!("asset_field.{k}")).to_string(),
            value: display(lang, k, input.get(k), &vendors),
        })
        .collect();
    let history = history
        .into_iter()
        .map(|h| HistoryLine {
            at: fmt_ms(h.at_ms),
            actor: h.actor,
            action: tr(lang, &format!("history_action.{}", h.action)).to_string(),
            changes: h
                .changes
                .into_iter()
                .map(|(f, b, a)| {
                    (
                        tr(lang, &format!("asset_field.{f}")).to_string(),
                        display(lang, &f, &b, &vendors),
                        display(lang, &f, &a, &vendors),
                    )
                })
                .collect(),
        })
        .collect();
    let fac = crate::web::pages::facility_name(&state)
        .await
        .map_err(svc(lang))?;
    let mut l =
        Layout::new(lang, &p.view, &fac, "asset.title", "/ledger").with_flash(fq.ok.as_deref());
    l.title = format!("{} {}", asset.tag, asset.name);
    Ok(render(&AssetPage {
        l,
        id: id.0,
        heading: format!("{}　{}", asset.tag, asset.name),
        lines,
        history,
        can_edit: p.view.actor.role().permits(Permission::EditLedger),
    }))
}

/// One input of the asset form.
#[derive(Debug, Clone)]
pub struct FormField {
    pub key: &'static str,
    pub label: String,
    /// `text`, `date`, `month`, `select`, `textarea`.
    pub input: &'static str,
    pub value: String,
    pub choices: Vec<Choice>,
    pub required: bool,
    pub error: Option<(String, &'static str)>,
    pub hint: String,
}

#[derive(Template)]
#[template(path = "asset_form.html")]
pub struct AssetFormPage {
    pub l: Layout,
    pub action: String,
    pub cancel: String,
    pub fields: Vec<FormField>,
    pub errors: usize,
}

async fn form_page(
    state: &AppState,
    p: &Page<perm::EditLedger>,
    id: Option<AssetId>,
    input: &AssetInput,
    errors: &[FieldError],
) -> Result<AssetFormPage, WebError> {
    let lang = p.lang;
    let vendors = state
        .svc
        .store
        .vendors()
        .await
        .map_err(|e| WebError::from_service(&e.into(), lang))?;
    let fields = ASSET_FIELDS
        .iter()
        .map(|&key| {
            let value = input.get(key).to_string();
            let (kind, choices) = match key {
                "class" => (
                    "select",
                    choices(
                        lang,
                        AssetClass::ALL,
                        AssetClass::as_str,
                        "asset_class",
                        &value,
                    ),
                ),
                "status" => (
                    "select",
                    choices(
                        lang,
                        AssetStatus::ALL,
                        AssetStatus::as_str,
                        "asset_status",
                        if value.is_empty() { "active" } else { &value },
                    ),
                ),
                "vendor" => {
                    let mut c = vec![Choice {
                        value: String::new(),
                        label: "—".into(),
                        selected: value.is_empty(),
                    }];
                    c.extend(vendors.iter().map(|v| Choice {
                        value: v.id.0.to_string(),
                        label: v.name.clone(),
                        selected: v.id.0.to_string() == value,
                    }));
                    ("select", c)
                }
                "installed_on" => ("month", Vec::new()),
                "eol_on" | "last_patch_on" | "disposed_on" => ("date", Vec::new()),
                "notes" => ("textarea", Vec::new()),
                _ => ("text", Vec::new()),
            };
            let hint_key = format!("asset_hint.{key}");
            let hint = tr(lang, &hint_key);
            FormField {
                key,
                label: tr(lang, &format!("asset_field.{key}")).to_string(),
                input: kind,
                value,
                choices,
                required: matches!(key, "tag" | "name" | "class"),
                error: errors
                    .iter()
                    .find(|e| e.field == key)
                    .map(|e| (tr(lang, &format!("error.{}", e.code)).to_string(), e.code)),
                hint: if hint == hint_key {
                    String::new()
                } else {
                    hint.to_string()
                },
            }
        })
        .collect();
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc(lang))?;
    let (title, action, cancel) = match id {
        Some(id) => (
            "asset.edit",
            format!("/ledger/assets/{}", id.0),
            format!("/ledger/assets/{}", id.0),
        ),
        None => (
            "asset.new",
            "/ledger/assets".to_string(),
            "/ledger".to_string(),
        ),
    };
    Ok(AssetFormPage {
        l: Layout::new(lang, &p.view, &fac, title, "/ledger"),
        action,
        cancel,
        fields,
        errors: errors.len(),
    })
}

pub async fn new_form(State(state): State<AppState>, p: Page<perm::EditLedger>) -> PageResult {
    let input = AssetInput {
        class: "workstation".into(),
        status: "active".into(),
        ..Default::default()
    };
    Ok(render(&form_page(&state, &p, None, &input, &[]).await?))
}

pub async fn edit_form(
    State(state): State<AppState>,
    p: Page<perm::EditLedger>,
    v: Page<perm::ViewLedger>,
    Path(id): Path<String>,
) -> PageResult {
    let id = parse_id(&id, p.lang)?;
    let (asset, _) = state
        .svc
        .asset_detail(&v.cap, id)
        .await
        .map_err(svc(p.lang))?;
    Ok(render(
        &form_page(&state, &p, Some(id), &AssetInput::of(&asset), &[]).await?,
    ))
}

pub async fn create(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::EditLedger>,
    form: CsrfForm<AssetInput>,
) -> PageResult {
    let input = form.into_inner();
    match state.svc.create_asset(&p.cap, &input, &client).await {
        Ok(id) => {
            Ok(Redirect::to(&format!("/ledger/assets/{}?ok=asset_saved", id.0)).into_response())
        }
        Err(ServiceError::Fields(errors)) => Ok((
            StatusCode::BAD_REQUEST,
            render(&form_page(&state, &p, None, &input, &errors).await?),
        )
            .into_response()),
        Err(e) => Err(WebError::from_service(&e, p.lang)),
    }
}

pub async fn update(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::EditLedger>,
    Path(id): Path<String>,
    form: CsrfForm<AssetInput>,
) -> PageResult {
    let id = parse_id(&id, p.lang)?;
    let input = form.into_inner();
    match state.svc.update_asset(&p.cap, id, &input, &client).await {
        Ok(_) => {
            Ok(Redirect::to(&format!("/ledger/assets/{}?ok=asset_saved", id.0)).into_response())
        }
        Err(ServiceError::Fields(errors)) => Ok((
            StatusCode::BAD_REQUEST,
            render(&form_page(&state, &p, Some(id), &input, &errors).await?),
        )
            .into_response()),
        Err(e) => Err(WebError::from_service(&e, p.lang)),
    }
}

// ---------------------------------------------------------------------------------------------
// Export, template and import

fn download(bytes: Vec<u8>, content_type: &'static str, ascii_name: &str, name: &str) -> Response {
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

const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

pub async fn export(
    State(state): State<AppState>,
    p: Page<perm::ViewLedger>,
    Path(file): Path<String>,
) -> PageResult {
    let lang = p.lang;
    let table = state
        .svc
        .asset_table(&p.cap, lang)
        .await
        .map_err(svc(lang))?;
    let day = state.svc.clock.today();
    let stamp = format!(
        "{:04}{:02}{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    );
    match file.as_str() {
        "assets.csv" => Ok(download(
            mamori_reports::table::csv(&table.headers, &table.rows),
            "text/csv; charset=utf-8",
            &format!("mamori-assets-{stamp}.csv"),
            &format!("機器台帳_{stamp}.csv"),
        )),
        "assets.xlsx" => {
            let bytes =
                mamori_reports::table::xlsx(tr(lang, "ledger.sheet"), &table.headers, &table.rows)
                    .map_err(|e| {
                        tracing::error!(error = %e, "xlsx export failed");
                        WebError::new(StatusCode::INTERNAL_SERVER_ERROR, "GEN0500", lang)
                    })?;
            Ok(download(
                bytes,
                XLSX_TYPE,
                &format!("mamori-assets-{stamp}.xlsx"),
                &format!("機器台帳_{stamp}.xlsx"),
            ))
        }
        "template.xlsx" => {
            let bytes = mamori_reports::table::xlsx(tr(lang, "ledger.sheet"), &table.headers, &[])
                .map_err(|e| {
                    tracing::error!(error = %e, "xlsx template failed");
                    WebError::new(StatusCode::INTERNAL_SERVER_ERROR, "GEN0500", lang)
                })?;
            Ok(download(
                bytes,
                XLSX_TYPE,
                "mamori-assets-template.xlsx",
                "機器台帳_テンプレート.xlsx",
            ))
        }
        _ => Err(WebError::new(StatusCode::NOT_FOUND, "GEN0404", lang)),
    }
}

/// An uploaded file waiting for confirmation, bound to the session that uploaded it.
#[derive(Debug, Clone)]
pub struct Staged {
    session: String,
    file_name: String,
    bytes: Vec<u8>,
    at: std::time::Instant,
}

/// Uploaded files between preview and commit (kept 30 minutes, in memory).
#[derive(Debug, Clone, Default)]
pub struct ImportStaging(std::sync::Arc<std::sync::Mutex<HashMap<String, Staged>>>);

impl ImportStaging {
    fn put(&self, s: Staged) -> String {
        let token = mamori_service::auth::random_token();
        if let Ok(mut m) = self.0.lock() {
            m.retain(|_, v| v.at.elapsed() < std::time::Duration::from_secs(1800));
            m.insert(token.clone(), s);
        }
        token
    }

    fn take(&self, token: &str, session: &str) -> Option<Staged> {
        let mut m = self.0.lock().ok()?;
        let ok = m.get(token).is_some_and(|s| {
            s.session == session && s.at.elapsed() < std::time::Duration::from_secs(1800)
        });
        if ok { m.remove(token) } else { None }
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
    pub file_name: String,
    pub rows: usize,
    pub new: Vec<(usize, String, String)>,
    /// (row, tag, changes)
    pub changed: Vec<(usize, String, Vec<Change>)>,
    pub unchanged: usize,
    pub missing: Vec<(String, String)>,
    pub problems: Vec<ImportProblem>,
    pub token: String,
    pub preview: bool,
    pub error: Option<(String, String)>,
}

fn empty_import_page(l: Layout) -> ImportPage {
    ImportPage {
        l,
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
    }
}

pub async fn import_form(State(state): State<AppState>, p: Page<perm::EditLedger>) -> PageResult {
    let fac = crate::web::pages::facility_name(&state)
        .await
        .map_err(svc(p.lang))?;
    Ok(render(&empty_import_page(Layout::new(
        p.lang,
        &p.view,
        &fac,
        "ledger.import",
        "/ledger",
    ))))
}

async fn run_import(
    state: &AppState,
    p: &Page<perm::EditLedger>,
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
    let report = state
        .svc
        .import_assets(&p.cap, &table, opts, lang, client)
        .await
        .map_err(svc(lang))?;
    Ok(Ok(report))
}

fn report_page(
    lang: Lang,
    l: Layout,
    file_name: &str,
    r: mamori_service::import::ImportReport,
    token: String,
) -> ImportPage {
    let label = |f: &str| tr(lang, &format!("asset_field.{f}")).to_string();
    ImportPage {
        l,
        file_name: file_name.to_string(),
        rows: r.rows,
        new: r.new,
        changed: r
            .changed
            .into_iter()
            .map(|(line, tag, ch)| {
                (
                    line,
                    tag,
                    ch.into_iter().map(|(f, b, a)| (label(f), b, a)).collect(),
                )
            })
            .collect(),
        unchanged: r.unchanged,
        missing: r.missing,
        problems: r
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
            .collect(),
        token,
        preview: true,
        error: None,
    }
}

pub async fn import_preview(
    State(state): State<AppState>,
    axum::Extension(staging): axum::Extension<ImportStaging>,
    Client(client): Client,
    p: Page<perm::EditLedger>,
    upload: crate::web::extract::CsrfUpload,
) -> PageResult {
    let lang = p.lang;
    let fac = crate::web::pages::facility_name(&state)
        .await
        .map_err(svc(lang))?;
    let l = Layout::new(lang, &p.view, &fac, "ledger.import", "/ledger");
    let Some((file_name, bytes)) = upload.file else {
        let mut page = empty_import_page(l);
        page.error = Some((tr(lang, "error.IMP0203").to_string(), "IMP0203".into()));
        return Ok((StatusCode::BAD_REQUEST, render(&page)).into_response());
    };
    let opts = mamori_service::import::ImportOptions {
        dry_run: true,
        retire_missing: false,
    };
    match run_import(&state, &p, &client, &file_name, &bytes, opts).await? {
        Err(err) => {
            let mut page = empty_import_page(l);
            page.file_name = file_name;
            page.error = Some(err);
            Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
        }
        Ok(report) => {
            let token = if report.errors.is_empty() {
                staging.put(Staged {
                    session: p.view.actor.session_hash.clone(),
                    file_name: file_name.clone(),
                    bytes,
                    at: std::time::Instant::now(),
                })
            } else {
                String::new()
            };
            let status = if report.errors.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            };
            Ok((
                status,
                render(&report_page(lang, l, &file_name, report, token)),
            )
                .into_response())
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
    form: CsrfForm<CommitForm>,
) -> PageResult {
    let lang = p.lang;
    let f = form.into_inner();
    let Some(staged) = staging.take(&f.token, &p.view.actor.session_hash) else {
        return Err(WebError::new(StatusCode::CONFLICT, "IMP0204", lang));
    };
    let opts = mamori_service::import::ImportOptions {
        dry_run: false,
        retire_missing: f.retire_missing.is_some(),
    };
    match run_import(&state, &p, &client, &staged.file_name, &staged.bytes, opts).await? {
        Ok(r) if r.committed => Ok(Redirect::to("/ledger?ok=imported").into_response()),
        Ok(r) => {
            let fac = crate::web::pages::facility_name(&state)
                .await
                .map_err(svc(lang))?;
            let l = Layout::new(lang, &p.view, &fac, "ledger.import", "/ledger");
            Ok((
                StatusCode::BAD_REQUEST,
                render(&report_page(lang, l, &staged.file_name, r, String::new())),
            )
                .into_response())
        }
        Err(_) => Err(WebError::new(StatusCode::BAD_REQUEST, "IMP0008", lang)),
    }
}

#[derive(Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    note: String,
}

/// Records the 棚卸 sign-off of the device ledger.
pub async fn review(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::EditLedger>,
    form: CsrfForm<ReviewForm>,
) -> PageResult {
    state
        .svc
        .sign_off_assets(&p.cap, &form.into_inner().note, &client)
        .await
        .map_err(svc(p.lang))?;
    Ok(Redirect::to("/ledger?ok=reviewed").into_response())
}
