//! アカウント棚卸: the account review campaigns. The list with each campaign's progress and the
//! form to open one; one campaign with its accounts, the bulk keep / revoke form, the close
//! form; and its report as CSV (BOM, CRLF: Excel opens it as it is).

use crate::web::AppState;
use crate::web::error::WebError;
use crate::web::extract::{Client, CsrfForm, Page};
use crate::web::form::FormError;
use crate::web::views::{Layout, fmt_ms, render};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_catalog::{Lang, tr};
use mamori_domain::account_review::{Decision, Hint, Progress};
use mamori_domain::ledger::{InfoSystem, Person};
use mamori_domain::role::Permission;
use mamori_reports::svg::{self, Bar, Tone};
use mamori_service::account_reviews::{ReviewDetail, ReviewInput};
use mamori_service::{ServiceError, perm};
use mamori_storage::account_reviews::{ItemRow, ReviewRow};
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};

type PageResult = Result<Response, WebError>;

/// One campaign as a list line.
#[derive(Debug, Clone)]
pub struct ReviewLine {
    pub href: String,
    pub title: String,
    pub scope: String,
    pub due_on: String,
    pub opened: String,
    pub opened_by: String,
    pub closed: String,
    pub is_open: bool,
    /// Past its due date and still open.
    pub overdue: bool,
    pub progress: Progress,
}

fn scope_label(lang: Lang, r: &ReviewRow) -> String {
    let system = if r.system.is_empty() {
        tr(lang, "account_reviews.all_systems").to_string()
    } else {
        r.system.clone()
    };
    if r.department.is_empty() {
        system
    } else {
        format!("{system} / {}", r.department)
    }
}

fn count(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

fn review_line(lang: Lang, r: &ReviewRow, today: &str) -> ReviewLine {
    let due = r.due_on.clone().unwrap_or_default();
    ReviewLine {
        href: format!("/accounts/reviews/{}", r.id),
        title: r.title.clone(),
        scope: scope_label(lang, r),
        overdue: r.closed_ms.is_none() && !due.is_empty() && due.as_str() < today,
        due_on: due,
        opened: fmt_ms(r.opened_ms),
        opened_by: r.opened_by.clone(),
        closed: r.closed_ms.map(fmt_ms).unwrap_or_default(),
        is_open: r.closed_ms.is_none(),
        progress: Progress {
            pending: count(r.pending),
            keep: count(r.keep),
            revoke: count(r.revoke),
        },
    }
}

fn today_text(state: &AppState) -> String {
    mamori_domain::registry::day_text(Some(mamori_service::Clock::today(&*state.svc.clock)))
}

// ---------------------------------------------------------------------------------------------
// The list

#[derive(Template)]
#[template(path = "account_reviews.html")]
pub struct ReviewsPage {
    pub l: Layout,
    pub open: Vec<ReviewLine>,
    pub closed: Vec<ReviewLine>,
    pub can_edit: bool,
    /// (id, name) of the systems in use.
    pub systems: Vec<(i64, String)>,
    pub departments: Vec<String>,
    pub form: OpenForm,
    pub error: Option<FormError>,
}

impl ReviewsPage {
    /// The error of `field`, if any: (message, code).
    pub fn err(&self, field: &str) -> Option<(String, &'static str)> {
        FormError::at(&self.error, "", field)
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct OpenForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub system: String,
    #[serde(default)]
    pub department: String,
    #[serde(default)]
    pub due_on: String,
}

async fn list_page(
    state: &AppState,
    p: &Page<perm::ViewAccounts>,
    form: OpenForm,
    error: Option<FormError>,
) -> Result<ReviewsPage, WebError> {
    let lang = p.lang;
    let svc_err = |e: ServiceError| WebError::from_service(&e, lang);
    let all = state.svc.account_reviews(&p.cap).await.map_err(svc_err)?;
    let today = today_text(state);
    let (open, closed): (Vec<_>, Vec<_>) = all
        .iter()
        .map(|r| review_line(lang, r, &today))
        .partition(|r| r.is_open);
    let systems = state
        .svc
        .store
        .records::<InfoSystem>()
        .await
        .map_err(|e| svc_err(e.into()))?
        .into_iter()
        .filter(|s| s.status != mamori_domain::ledger::SystemStatus::Retired)
        .map(|s| (s.id.0, s.name))
        .collect();
    let departments: BTreeSet<String> = state
        .svc
        .store
        .records::<Person>()
        .await
        .map_err(|e| svc_err(e.into()))?
        .into_iter()
        .map(|p| p.department.trim().to_string())
        .filter(|d| !d.is_empty())
        .collect();
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc_err)?;
    Ok(ReviewsPage {
        l: Layout::new(lang, &p.view, &fac, "account_reviews.title", "/accounts"),
        open,
        closed,
        can_edit: p.view.actor.user.role.permits(Permission::EditLedger),
        systems,
        departments: departments.into_iter().collect(),
        form,
        error,
    })
}

/// `/accounts/reviews`: the campaigns (open first) and the form to open one.
pub async fn list(
    State(state): State<AppState>,
    p: Page<perm::ViewAccounts>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let mut page = list_page(&state, &p, OpenForm::default(), None).await?;
    page.l = page.l.with_flash(q.get("ok").map(String::as_str));
    Ok(render(&page))
}

/// Opens a campaign from the form and shows it.
pub async fn create(
    State(state): State<AppState>,
    Client(client): Client,
    view: Page<perm::ViewAccounts>,
    p: Page<perm::EditLedger>,
    form: CsrfForm<OpenForm>,
) -> PageResult {
    let lang = p.lang;
    let f = form.into_inner();
    let input = ReviewInput {
        title: f.title.clone(),
        system: f.system.clone(),
        department: f.department.clone(),
        due_on: f.due_on.clone(),
    };
    match state.svc.open_account_review(&p.cap, &client, &input).await {
        Ok(id) => {
            Ok(Redirect::to(&format!("/accounts/reviews/{id}?ok=review_opened")).into_response())
        }
        Err(ServiceError::Invalid { code, field }) => {
            let error = FormError::new(lang, "", code, field);
            let page = list_page(&state, &view, f, Some(error)).await?;
            Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
        }
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}

// ---------------------------------------------------------------------------------------------
// One campaign

/// One account of the campaign.
#[derive(Debug, Clone)]
pub struct ItemLine {
    pub account_id: i64,
    pub href: String,
    pub system: String,
    pub login_id: String,
    pub owner: String,
    pub department: String,
    pub kind: String,
    pub is_admin: bool,
    pub last_login: String,
    /// (label, tone) of each hint.
    pub hints: Vec<(String, &'static str)>,
    /// A hint suggests revoking.
    pub suggest_revoke: bool,
    pub decision: String,
    pub decision_code: &'static str,
    pub decision_tone: &'static str,
    /// Who decided and when (the cell's tooltip).
    pub decided: String,
    /// The day it was decided.
    pub decided_on: String,
    pub comment: String,
}

fn decision_tone(d: Decision) -> &'static str {
    match d {
        Decision::Pending => "neutral",
        Decision::Keep => "good",
        Decision::Revoke => "bad",
    }
}

fn item_line(lang: Lang, i: &ItemRow) -> ItemLine {
    let d = Decision::parse(&i.decision).unwrap_or(Decision::Pending);
    let hints: Vec<Hint> = i.hints.split(',').filter_map(Hint::parse).collect();
    ItemLine {
        account_id: i.account_id,
        href: format!("/ledger/accounts/{}", i.account_id),
        system: i.system.clone(),
        login_id: i.login_id.clone(),
        owner: if i.owner.is_empty() {
            "—".to_string()
        } else {
            i.owner.clone()
        },
        department: i.department.clone(),
        kind: tr(lang, &format!("account_kind.{}", i.kind)).to_string(),
        is_admin: i.is_admin,
        last_login: i.last_login_on.clone().unwrap_or_else(|| "—".into()),
        suggest_revoke: hints.iter().any(|h| h.suggests_revoke()),
        hints: hints
            .iter()
            .map(|h| {
                (
                    tr(lang, &format!("review_hint.{}", h.as_str())).to_string(),
                    if h.suggests_revoke() { "bad" } else { "warn" },
                )
            })
            .collect(),
        decision: tr(lang, &format!("review_decision.{}", d.as_str())).to_string(),
        decision_code: d.as_str(),
        decision_tone: decision_tone(d),
        decided: match (&i.decided_by, i.decided_ms) {
            (Some(by), Some(at)) => format!("{} {by}", fmt_ms(at)),
            _ => String::new(),
        },
        decided_on: i
            .decided_ms
            .map(|at| fmt_ms(at).chars().take(10).collect())
            .unwrap_or_default(),
        comment: i.comment.clone(),
    }
}

#[derive(Template)]
#[template(path = "account_review.html")]
pub struct ReviewPage {
    pub l: Layout,
    pub r: ReviewLine,
    pub close_note: String,
    pub closed_by: String,
    pub items: Vec<ItemLine>,
    /// Items the filter shows.
    pub shown: usize,
    pub only_pending: bool,
    pub can_edit: bool,
    /// Whether the review spans several systems (then each line names its system).
    pub many_systems: bool,
    pub chart: String,
    pub error: Option<FormError>,
    pub comment: String,
    pub note: String,
}

impl ReviewPage {
    /// The error of `field`, if any: (message, code).
    pub fn err(&self, field: &str) -> Option<(String, &'static str)> {
        FormError::at(&self.error, "", field)
    }
}

fn progress_chart(lang: Lang, p: &Progress) -> String {
    let bars = [
        (Decision::Keep, Tone::Good, p.keep),
        (Decision::Revoke, Tone::Bad, p.revoke),
        (Decision::Pending, Tone::Neutral, p.pending),
    ]
    .into_iter()
    .map(|(d, tone, n)| Bar {
        label: tr(lang, &format!("review_decision.{}", d.as_str())).to_string(),
        value: n as u64,
        tone,
    })
    .collect::<Vec<_>>();
    svg::donut_chart(
        tr(lang, "account_reviews.chart"),
        &bars,
        &format!("{}%", p.percent()),
        tr(lang, "chart.empty"),
    )
}

#[allow(clippy::too_many_arguments)]
async fn detail_page(
    state: &AppState,
    p: &Page<perm::ViewAccounts>,
    id: i64,
    only_pending: bool,
    error: Option<FormError>,
    comment: String,
    note: String,
) -> Result<ReviewPage, WebError> {
    let lang = p.lang;
    let svc_err = |e: ServiceError| WebError::from_service(&e, lang);
    let d: ReviewDetail = state
        .svc
        .account_review(&p.cap, id)
        .await
        .map_err(svc_err)?;
    let progress = d.progress();
    let today = today_text(state);
    let r = review_line(lang, &d.review, &today);
    let items: Vec<ItemLine> = d
        .items
        .iter()
        .filter(|i| !only_pending || i.decision == Decision::Pending.as_str())
        .map(|i| item_line(lang, i))
        .collect();
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc_err)?;
    let mut l = Layout::new(lang, &p.view, &fac, "account_reviews.title", "/accounts");
    l.title = d.review.title.clone();
    Ok(ReviewPage {
        l,
        shown: items.len(),
        close_note: d.review.close_note.clone(),
        closed_by: d.review.closed_by.clone().unwrap_or_default(),
        r,
        items,
        only_pending,
        can_edit: p.view.actor.user.role.permits(Permission::EditLedger),
        many_systems: d.review.system_id.is_none(),
        chart: progress_chart(lang, &progress),
        error,
        comment,
        note,
    })
}

/// `/accounts/reviews/{id}`: the campaign's accounts, the decision and close forms.
pub async fn detail(
    State(state): State<AppState>,
    p: Page<perm::ViewAccounts>,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let only_pending = q.get("show").is_some_and(|v| v == "pending");
    let mut page = detail_page(
        &state,
        &p,
        id,
        only_pending,
        None,
        String::new(),
        String::new(),
    )
    .await?;
    page.l = page.l.with_flash(q.get("ok").map(String::as_str));
    Ok(render(&page))
}

/// Records keep or revoke for the ticked accounts.
pub async fn decide(
    State(state): State<AppState>,
    Client(client): Client,
    view: Page<perm::ViewAccounts>,
    p: Page<perm::EditLedger>,
    Path(id): Path<i64>,
    form: CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    let lang = p.lang;
    let pairs = form.into_inner();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let comment = get("comment");
    let decision = Decision::parse(&get("decision"))
        .filter(|d| *d != Decision::Pending)
        .ok_or_else(|| WebError::new(StatusCode::BAD_REQUEST, "REQ0003", lang))?;
    let mut ids = Vec::new();
    for (k, v) in &pairs {
        if k == "account" {
            ids.push(
                v.parse::<i64>()
                    .map_err(|_| WebError::new(StatusCode::BAD_REQUEST, "REQ0003", lang))?,
            );
        }
    }
    match state
        .svc
        .decide_account_review(&p.cap, &client, id, &ids, decision, &comment)
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!(
            "/accounts/reviews/{id}?ok=review_{}",
            decision.as_str()
        ))
        .into_response()),
        Err(ServiceError::Invalid { code, field }) => {
            let error = FormError::new(lang, "", code, field);
            let page = detail_page(
                &state,
                &view,
                id,
                false,
                Some(error),
                comment,
                String::new(),
            )
            .await?;
            Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
        }
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct CloseForm {
    #[serde(default)]
    pub note: String,
}

/// Closes the campaign.
pub async fn close(
    State(state): State<AppState>,
    Client(client): Client,
    view: Page<perm::ViewAccounts>,
    p: Page<perm::EditLedger>,
    Path(id): Path<i64>,
    form: CsrfForm<CloseForm>,
) -> PageResult {
    let lang = p.lang;
    let f = form.into_inner();
    match state
        .svc
        .close_account_review(&p.cap, &client, id, &f.note)
        .await
    {
        Ok(()) => {
            Ok(Redirect::to(&format!("/accounts/reviews/{id}?ok=review_closed")).into_response())
        }
        Err(ServiceError::Invalid { code, field }) => {
            let error = FormError::new(lang, "", code, field);
            let page =
                detail_page(&state, &view, id, false, Some(error), String::new(), f.note).await?;
            Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
        }
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}

fn csv_field(s: &str) -> String {
    // A leading = + - @ would be a formula in Excel.
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// `/accounts/reviews/{id}/report.csv`: the campaign as a report, one line per account.
pub async fn report(
    State(state): State<AppState>,
    p: Page<perm::ViewAccounts>,
    Path(id): Path<i64>,
) -> PageResult {
    let lang = p.lang;
    let d = state
        .svc
        .account_review(&p.cap, id)
        .await
        .map_err(|e| WebError::from_service(&e, lang))?;
    let mut out = String::from("\u{feff}");
    let head = [
        "system",
        "login_id",
        "owner",
        "department",
        "kind",
        "admin",
        "last_login",
        "hints",
        "decision",
        "decided_at",
        "decided_by",
        "comment",
    ];
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .map(|c| csv_field(c))
            .collect::<Vec<_>>()
            .join(",")
            + "\r\n"
    };
    out.push_str(&line(
        head.iter()
            .map(|h| tr(lang, &format!("account_reviews.col_{h}")).to_string())
            .collect(),
    ));
    for i in &d.items {
        let l = item_line(lang, i);
        out.push_str(&line(vec![
            i.system.clone(),
            i.login_id.clone(),
            i.owner.clone(),
            i.department.clone(),
            l.kind,
            if i.is_admin {
                tr(lang, "common.yes").to_string()
            } else {
                String::new()
            },
            i.last_login_on.clone().unwrap_or_default(),
            l.hints
                .iter()
                .map(|(h, _)| h.as_str())
                .collect::<Vec<_>>()
                .join("、"),
            l.decision,
            i.decided_ms.map(fmt_ms).unwrap_or_default(),
            i.decided_by.clone().unwrap_or_default(),
            i.comment.clone(),
        ]));
    }
    let name = format!("account-review-{id}.csv");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        out,
    )
        .into_response())
}
