//! The 事業者確認用 round trip on screen: the facility's list of vendor forms (progress per
//! vendor and system, the XLSX to send, the returned XLSX to read back) and the vendor's portal
//! (its own systems, each form answered item by item or uploaded as the filled-in XLSX).

use crate::web::AppState;
use crate::web::checklist::{
    FormQuery, Format, ItemPage, answer_label, form_file, form_qs, parse_system,
};
use crate::web::error::WebError;
use crate::web::extract::{Client, CsrfForm, CsrfUpload, Page};
use crate::web::views::{Layout, fmt_ms, render};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mamori_catalog::messages::fill;
use mamori_catalog::{Lang, tr};
use mamori_domain::wareki::fiscal_year;
use mamori_service::checklist::{Assessment, fiscal_year_label, wareki_or_blank};
use mamori_service::error::CellError;
use mamori_service::vendor_forms::{ImportSummary, VendorForm, parse_scope};
use mamori_service::{ServiceError, perm};
use mamori_storage::checklist::FormKey;
use std::collections::HashMap;

type PageResult = Result<Response, WebError>;

fn svc(lang: Lang) -> impl Fn(ServiceError) -> WebError {
    move |e| WebError::from_service(&e, lang)
}

/// One vendor form in a list.
pub struct FormLine {
    pub system_id: i64,
    pub vendor: String,
    pub system: String,
    pub answered: usize,
    pub total: usize,
    /// Width of the progress bar, 0–100.
    pub percent: usize,
    pub no: usize,
    pub last: String,
    pub qs: String,
    pub complete: bool,
}

fn form_line(lang: Lang, f: &VendorForm) -> FormLine {
    let percent = (f.answered * 100).checked_div(f.total).unwrap_or(0);
    FormLine {
        system_id: f.system.id.0,
        vendor: f
            .vendor
            .as_ref()
            .map(|v| v.name.clone())
            .unwrap_or_default(),
        system: f.system.name.clone(),
        answered: f.answered,
        total: f.total,
        percent,
        no: f.no,
        last: match (f.last_at_ms, &f.last_actor) {
            // The audit label `user:{id}:{login}` shows as the login.
            (Some(at), Some(who)) => {
                format!("{} {}", fmt_ms(at), who.rsplit(':').next().unwrap_or(who))
            }
            _ => tr(lang, "vendor_forms.never").to_string(),
        },
        qs: form_qs(&f.key),
        complete: f.total > 0 && f.answered == f.total,
    }
}

/// A problem of an upload as shown: which cell, which item, what is wrong.
pub struct CellLine {
    pub cell: String,
    pub item: String,
    pub message: String,
    pub code: String,
}

/// What an upload was refused for: per-cell problems, or one message for the whole file.
#[derive(Default)]
pub struct Refusal {
    pub system_id: i64,
    pub message: String,
    pub code: String,
    pub cells: Vec<CellLine>,
}

fn refusal(lang: Lang, system_id: i64, e: &ServiceError) -> Option<Refusal> {
    match e {
        ServiceError::Cells(cells) => Some(Refusal {
            system_id,
            message: tr(lang, "vendor_forms.import_refused").to_string(),
            code: e.code().to_string(),
            cells: cells.iter().map(|c| cell_line(lang, c)).collect(),
        }),
        ServiceError::Invalid { code, .. } => Some(Refusal {
            system_id,
            message: tr(lang, &format!("error.{code}")).to_string(),
            code: (*code).to_string(),
            cells: Vec::new(),
        }),
        _ => None,
    }
}

fn cell_line(lang: Lang, c: &CellError) -> CellLine {
    CellLine {
        cell: c.cell.clone(),
        item: c.item.clone(),
        message: tr(lang, &format!("error.{}", c.code)).to_string(),
        code: c.code.to_string(),
    }
}

/// The flash after an import, with its counts.
fn imported_text(lang: Lang, s: &ImportSummary) -> String {
    fill(
        tr(lang, "vendor_forms.imported"),
        &[
            ("recorded", &s.recorded.to_string()),
            ("unchanged", &s.unchanged.to_string()),
            ("blank", &s.blank.to_string()),
        ],
    )
}

/// Reads the uploaded file of a form, or says what is wrong with the upload itself.
fn uploaded(upload: &CsrfUpload) -> Result<&[u8], ServiceError> {
    let refused = |code: &'static str| ServiceError::Invalid {
        code,
        field: "file",
    };
    match &upload.file {
        _ if upload.too_large => Err(refused("LED0031")),
        Some((_, bytes)) => Ok(bytes),
        None if upload.empty_file => Err(refused("LED0030")),
        None => Err(refused("LED0034")),
    }
}

// ---------------------------------------------------------------------------------------------
// The facility's side

#[derive(Template)]
#[template(path = "checklist_vendors.html")]
pub struct VendorsPage {
    pub l: Layout,
    pub fiscal_year: String,
    pub fy: i32,
    pub years: Vec<(String, String, bool)>,
    pub forms: Vec<FormLine>,
    pub complete: usize,
    pub with_no: usize,
    pub can_import: bool,
    pub refusal: Option<Refusal>,
    pub imported: String,
}

async fn vendors_page(
    state: &AppState,
    p: &Page<perm::ViewChecklist>,
    fy: i32,
    refusal: Option<Refusal>,
) -> Result<VendorsPage, WebError> {
    let lang = p.lang;
    let forms = state
        .svc
        .vendor_forms(&p.cap, fy)
        .await
        .map_err(svc(lang))?;
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc(lang))?;
    let current = fiscal_year(state.svc.clock.today());
    let years = (current - 2..=current)
        .map(|y| {
            (
                fiscal_year_label(lang, y),
                format!("/checklist/vendors?fy={y}"),
                y == fy,
            )
        })
        .collect();
    let forms: Vec<FormLine> = forms.iter().map(|f| form_line(lang, f)).collect();
    Ok(VendorsPage {
        l: Layout::new(lang, &p.view, &fac, "vendor_forms.title", "/checklist"),
        fiscal_year: fiscal_year_label(lang, fy),
        fy,
        years,
        complete: forms.iter().filter(|f| f.complete).count(),
        with_no: forms.iter().filter(|f| f.no > 0).count(),
        forms,
        can_import: p
            .view
            .actor
            .user
            .role
            .permits(mamori_domain::role::Permission::AnswerChecklist),
        refusal,
        imported: String::new(),
    })
}

/// `/checklist/vendors?fy=2025`: every vendor form of the year.
pub async fn list(
    State(state): State<AppState>,
    p: Page<perm::ViewChecklist>,
    Query(q): Query<FormQuery>,
) -> PageResult {
    let lang = p.lang;
    let fy = q
        .fiscal_year(lang)?
        .unwrap_or_else(|| fiscal_year(state.svc.clock.today()));
    Ok(render(&vendors_page(&state, &p, fy, None).await?))
}

/// Reads back a returned vendor form: all its answers or none, each problem named by its cell.
pub async fn import(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::AnswerChecklist>,
    v: Page<perm::ViewChecklist>,
    Path(system): Path<String>,
    upload: CsrfUpload,
) -> PageResult {
    let lang = p.lang;
    let system = parse_system(&system, lang)?;
    let fy = match upload.field("fy").map(str::trim) {
        Some(y) if !y.is_empty() => Some(y.parse().map_err(|_| {
            WebError::from_service(
                &ServiceError::Invalid {
                    code: "CHK0011",
                    field: "fiscal_year",
                },
                lang,
            )
        })?),
        _ => None,
    };
    let key = state
        .svc
        .vendor_form_key(system, fy)
        .await
        .map_err(svc(lang))?;
    let result = match uploaded(&upload) {
        Ok(bytes) => {
            state
                .svc
                .import_vendor_form(&p.cap, &key, bytes, &client)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(summary) => {
            let mut page = vendors_page(&state, &v, key.fiscal_year, None).await?;
            page.imported = imported_text(lang, &summary);
            Ok(render(&page))
        }
        Err(e) => match refusal(lang, system, &e) {
            Some(r) => {
                let page = vendors_page(&state, &v, key.fiscal_year, Some(r)).await?;
                Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
            }
            None => Err(WebError::from_service(&e, lang)),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// The vendor's portal

#[derive(Template)]
#[template(path = "vendor_portal.html")]
pub struct PortalPage {
    pub l: Layout,
    pub vendor: String,
    pub fiscal_year: String,
    pub forms: Vec<FormLine>,
}

/// `/vendor-portal`: the vendor's own systems and their forms of this year.
pub async fn portal(State(state): State<AppState>, p: Page<perm::VendorPortal>) -> PageResult {
    let lang = p.lang;
    let fy = fiscal_year(state.svc.clock.today());
    let (vendor, _) = state.svc.vendor_portal(&p.cap).await.map_err(svc(lang))?;
    let forms = state
        .svc
        .portal_forms(&p.cap, fy)
        .await
        .map_err(svc(lang))?;
    let fac = crate::web::pages::facility_name(&state)
        .await
        .map_err(svc(lang))?;
    Ok(render(&PortalPage {
        l: Layout::new(lang, &p.view, &fac, "vendor_portal.title", "/vendor-portal"),
        vendor: vendor.map(|v| v.name).unwrap_or_default(),
        fiscal_year: fiscal_year_label(lang, fy),
        forms: forms.iter().map(|f| form_line(lang, f)).collect(),
    }))
}

/// One row of the vendor's form.
pub struct PortalRow {
    pub key: String,
    pub id: String,
    pub heading: Option<String>,
    pub text: String,
    pub answer: String,
    pub answer_tone: &'static str,
    pub confirmed_on: String,
    pub target_on: String,
    pub remarks: String,
}

#[derive(Template)]
#[template(path = "vendor_portal_form.html")]
pub struct PortalFormPage {
    pub l: Layout,
    pub form_label: String,
    pub subject: String,
    pub system_id: i64,
    pub fy: i32,
    pub notes: Vec<String>,
    pub rows: Vec<PortalRow>,
    pub answered: usize,
    pub total: usize,
    pub refusal: Option<Refusal>,
    pub imported: String,
}

fn portal_rows(lang: Lang, a: &Assessment) -> Vec<PortalRow> {
    let mut section = None;
    a.items
        .iter()
        .map(|s| {
            let heading = if section != Some(&s.item.section) {
                section = Some(&s.item.section);
                Some(s.item.section.clone())
            } else {
                None
            };
            let ans = s.answer.as_ref();
            let (answer, answer_tone) = answer_label(lang, s);
            PortalRow {
                key: s.item.key.clone(),
                id: s.item.id.clone(),
                heading,
                text: s.item.text(lang).to_string(),
                answer,
                answer_tone,
                confirmed_on: ans
                    .map(|g| wareki_or_blank(g.confirmed_on))
                    .unwrap_or_default(),
                target_on: ans
                    .map(|g| wareki_or_blank(g.target_on))
                    .unwrap_or_default(),
                remarks: ans.map(|g| g.remarks.clone()).unwrap_or_default(),
            }
        })
        .collect()
}

async fn portal_key(
    state: &AppState,
    p: &Page<perm::VendorPortal>,
    system: &str,
    fy: Option<i32>,
) -> Result<FormKey, WebError> {
    let system = parse_system(system, p.lang)?;
    state
        .svc
        .portal_form_key(&p.cap, system, fy)
        .await
        .map_err(svc(p.lang))
}

async fn portal_form_page(
    state: &AppState,
    p: &Page<perm::VendorPortal>,
    key: &FormKey,
    refusal: Option<Refusal>,
) -> Result<PortalFormPage, WebError> {
    let lang = p.lang;
    let a = state
        .svc
        .portal_assessment(&p.cap, key)
        .await
        .map_err(svc(lang))?;
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc(lang))?;
    let tally = a.tally();
    let mut l = Layout::new(lang, &p.view, &fac, "vendor_portal.title", "/vendor-portal");
    l.title = a.subject.clone();
    Ok(PortalFormPage {
        form_label: format!(
            "{} {}（{}）",
            a.pack.title(lang),
            a.pack.variant_label(lang),
            fiscal_year_label(lang, key.fiscal_year)
        ),
        subject: a.subject.clone(),
        system_id: parse_scope(&key.scope).map_or(0, |(_, s)| s),
        fy: key.fiscal_year,
        notes: a.pack.notes(lang).to_vec(),
        rows: portal_rows(lang, &a),
        answered: a.items.len() - tally.unanswered,
        total: a.items.len(),
        refusal,
        imported: String::new(),
        l,
    })
}

/// `/vendor-portal/systems/{id}?fy=`: the vendor's form for one of its systems.
pub async fn portal_form(
    State(state): State<AppState>,
    p: Page<perm::VendorPortal>,
    Path(system): Path<String>,
    Query(q): Query<FormQuery>,
) -> PageResult {
    let key = portal_key(&state, &p, &system, q.fiscal_year(p.lang)?).await?;
    let page = portal_form_page(&state, &p, &key, None).await?;
    let page = PortalFormPage {
        l: page
            .l
            .with_flash(Some(q.ok.as_str()).filter(|s| !s.is_empty())),
        ..page
    };
    Ok(render(&page))
}

/// The vendor's form as the XLSX to fill in offline.
pub async fn portal_export(
    State(state): State<AppState>,
    p: Page<perm::VendorPortal>,
    Path(system): Path<String>,
    Query(q): Query<FormQuery>,
) -> PageResult {
    let key = portal_key(&state, &p, &system, q.fiscal_year(p.lang)?).await?;
    let a = state
        .svc
        .portal_assessment(&p.cap, &key)
        .await
        .map_err(svc(p.lang))?;
    form_file(&state, p.lang, &a, Format::Xlsx).await
}

/// The vendor uploads its filled-in XLSX.
pub async fn portal_import(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::VendorPortal>,
    Path(system): Path<String>,
    upload: CsrfUpload,
) -> PageResult {
    let lang = p.lang;
    let fy = upload
        .field("fy")
        .and_then(|y| y.trim().parse::<i32>().ok());
    let key = portal_key(&state, &p, &system, fy).await?;
    let result = match uploaded(&upload) {
        Ok(bytes) => state.svc.portal_import(&p.cap, &key, bytes, &client).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(summary) => {
            let mut page = portal_form_page(&state, &p, &key, None).await?;
            page.imported = imported_text(lang, &summary);
            Ok(render(&page))
        }
        Err(e) => {
            let id = parse_scope(&key.scope).map_or(0, |(_, s)| s);
            match refusal(lang, id, &e) {
                Some(r) => {
                    let page = portal_form_page(&state, &p, &key, Some(r)).await?;
                    Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
                }
                None => Err(WebError::from_service(&e, lang)),
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn portal_item_page(
    state: &AppState,
    p: &Page<perm::VendorPortal>,
    key: &FormKey,
    item_key: &str,
    input: Option<&HashMap<String, String>>,
    errors: &[mamori_domain::ledger::FieldError],
) -> Result<ItemPage, WebError> {
    let lang = p.lang;
    let a = state
        .svc
        .portal_assessment(&p.cap, key)
        .await
        .map_err(svc(lang))?;
    let history = state
        .svc
        .portal_history(&p.cap, key, item_key)
        .await
        .map_err(svc(lang))?;
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc(lang))?;
    let l = Layout::new(lang, &p.view, &fac, "vendor_portal.title", "/vendor-portal");
    let page = ItemPage::build(l, &a, item_key, &history, input, errors, true)
        .ok_or_else(|| WebError::new(StatusCode::NOT_FOUND, "GEN0404", lang))?;
    let system = parse_scope(&key.scope).map_or(0, |(_, s)| s);
    Ok(ItemPage {
        action: format!("/vendor-portal/systems/{system}/items/{item_key}"),
        back: format!(
            "/vendor-portal/systems/{system}?fy={}#item-{item_key}",
            key.fiscal_year
        ),
        ..page
    })
}

/// One item of the vendor's form, with its answer form and history.
pub async fn portal_item(
    State(state): State<AppState>,
    p: Page<perm::VendorPortal>,
    Path((system, item_key)): Path<(String, String)>,
    Query(q): Query<FormQuery>,
) -> PageResult {
    let key = portal_key(&state, &p, &system, q.fiscal_year(p.lang)?).await?;
    Ok(render(
        &portal_item_page(&state, &p, &key, &item_key, None, &[]).await?,
    ))
}

/// The vendor answers one item.
pub async fn portal_answer(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::VendorPortal>,
    Path((system, item_key)): Path<(String, String)>,
    form: CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    let lang = p.lang;
    let input: HashMap<String, String> = form.into_inner().into_iter().collect();
    let fy = input.get("fy").and_then(|y| y.trim().parse::<i32>().ok());
    let key = portal_key(&state, &p, &system, fy).await?;
    match state
        .svc
        .portal_answer(&p.cap, &key, &item_key, &input, &client)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!(
            "/vendor-portal/systems/{}?fy={}&ok=checklist_answered#item-{item_key}",
            parse_scope(&key.scope).map_or(0, |(_, s)| s),
            key.fiscal_year
        ))
        .into_response()),
        Err(ServiceError::Fields(errors)) => {
            let page = portal_item_page(&state, &p, &key, &item_key, Some(&input), &errors).await?;
            Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
        }
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}
