//! インシデント: the incident records — the open ones and those closed last, with the first
//! steps and the vendors' contacts; opening one; one incident with its alerts, its timeline and
//! its workflow (a note, a new status, the close). Also the alert page's form that records an
//! alert as an incident or links it to an open one.

use crate::web::AppState;
use crate::web::alerts::AlertLine;
use crate::web::error::WebError;
use crate::web::extract::{Client, CsrfForm, Page};
pub use crate::web::form::FormError;
use crate::web::views::{Layout, VendorLine, fmt_ms, render};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mamori_catalog::{Lang, tr};
use mamori_domain::alert::AlertLevel;
use mamori_domain::incident::{EntryKind, IncidentStatus, Severity};
use mamori_domain::role::Permission;
use mamori_service::incidents::IncidentInput;
use mamori_service::{ServiceError, perm};
use mamori_storage::incidents::{IncidentRow, TimelineRow};
use serde::Deserialize;
use std::collections::HashMap;

type PageResult = Result<Response, WebError>;

/// One incident as a list line.
#[derive(Debug, Clone)]
pub struct IncidentLine {
    pub id: i64,
    pub href: String,
    pub title: String,
    pub status: String,
    pub status_code: &'static str,
    /// Badge class of the status: open `bad`, contained `warn`, closed `good`.
    pub status_tone: &'static str,
    pub severity: String,
    pub severity_code: &'static str,
    pub severity_tone: &'static str,
    pub opened: String,
    pub opened_by: String,
    pub owner: String,
    pub alerts: i64,
    pub summary: String,
    pub closed: String,
    pub closed_by: String,
    pub close_note: String,
}

fn status_tone(s: IncidentStatus) -> &'static str {
    match s {
        IncidentStatus::Open => "bad",
        IncidentStatus::Contained => "warn",
        IncidentStatus::Closed => "good",
    }
}

fn severity_tone(s: Severity) -> &'static str {
    crate::web::alerts::tone(s)
        .class()
        .trim_start_matches("tone-")
}

pub(crate) fn line(lang: Lang, i: &IncidentRow) -> IncidentLine {
    let status = IncidentStatus::parse(&i.status).unwrap_or(IncidentStatus::Open);
    let severity = Severity::parse(&i.severity).unwrap_or(Severity::Medium);
    IncidentLine {
        id: i.id,
        href: format!("/incidents/{}", i.id),
        title: i.title.clone(),
        status: tr(lang, &format!("incident_status.{}", status.as_str())).to_string(),
        status_code: status.as_str(),
        status_tone: status_tone(status),
        severity: tr(lang, &format!("alert_level.{}", severity.as_str())).to_string(),
        severity_code: severity.as_str(),
        severity_tone: severity_tone(severity),
        opened: fmt_ms(i.opened_ms),
        opened_by: i.opened_by.clone(),
        owner: i.owner.clone(),
        alerts: i.alerts,
        summary: i.summary.clone(),
        closed: i.closed_ms.map(fmt_ms).unwrap_or_default(),
        closed_by: i.closed_by.clone().unwrap_or_default(),
        close_note: i.close_note.clone(),
    }
}

/// The severities of the form, most serious first: (code, label).
fn severities(lang: Lang) -> Vec<(&'static str, String)> {
    AlertLevel::ALL
        .iter()
        .map(|l| {
            (
                l.as_str(),
                tr(lang, &format!("alert_level.{}", l.as_str())).to_string(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The list

#[derive(Template)]
#[template(path = "incidents.html")]
pub struct IncidentsPage {
    pub l: Layout,
    pub open: Vec<IncidentLine>,
    /// Open incidents of level high or critical.
    pub serious: usize,
    pub closed: Vec<IncidentLine>,
    pub can_handle: bool,
    pub severities: Vec<(&'static str, String)>,
    pub form: OpenForm,
    pub error: Option<FormError>,
    pub contacts: Vec<VendorLine>,
}

impl IncidentsPage {
    /// The error of `field` of the form, if any: (message, code).
    pub fn err(&self, field: &str) -> Option<(String, &'static str)> {
        FormError::at(&self.error, "open", field)
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct OpenForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub summary: String,
}

async fn list_page(
    state: &AppState,
    p: &Page<perm::ViewIncidents>,
    form: OpenForm,
    error: Option<FormError>,
) -> Result<IncidentsPage, WebError> {
    let lang = p.lang;
    let svc_err = |e: ServiceError| WebError::from_service(&e, lang);
    let lists = state.svc.incidents(&p.cap).await.map_err(svc_err)?;
    let contacts = match p.view.actor.can::<perm::ViewVendors>() {
        Ok(cap) => {
            let (v, s) = state.svc.vendors(&cap).await.map_err(svc_err)?;
            crate::web::pages::vendor_lines(lang, &v, &s)
        }
        Err(_) => Vec::new(),
    };
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc_err)?;
    let serious = lists
        .open
        .iter()
        .filter(|i| Severity::parse(&i.severity).is_some_and(|s| s >= Severity::High))
        .count();
    Ok(IncidentsPage {
        l: Layout::new(lang, &p.view, &fac, "incidents.title", "/incidents"),
        open: lists.open.iter().map(|i| line(lang, i)).collect(),
        serious,
        closed: lists.closed.iter().map(|i| line(lang, i)).collect(),
        can_handle: p.view.actor.user.role.permits(Permission::HandleIncidents),
        severities: severities(lang),
        form: OpenForm {
            severity: if form.severity.is_empty() {
                Severity::High.as_str().to_string()
            } else {
                form.severity
            },
            ..form
        },
        error,
        contacts,
    })
}

/// `/incidents`: the open incidents, the form to record one, the first steps, the vendors'
/// emergency contacts and the incidents closed last.
pub async fn list(
    State(state): State<AppState>,
    p: Page<perm::ViewIncidents>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let mut page = list_page(&state, &p, OpenForm::default(), None).await?;
    page.l = page.l.with_flash(q.get("ok").map(String::as_str));
    Ok(render(&page))
}

/// Records an incident from the form and shows it.
pub async fn create(
    State(state): State<AppState>,
    Client(client): Client,
    view: Page<perm::ViewIncidents>,
    p: Page<perm::HandleIncidents>,
    form: CsrfForm<OpenForm>,
) -> PageResult {
    let lang = p.lang;
    let f = form.into_inner();
    let input = IncidentInput {
        title: f.title.clone(),
        severity: f.severity.clone(),
        owner: f.owner.clone(),
        summary: f.summary.clone(),
    };
    match state.svc.open_incident(&p.cap, &client, &input).await {
        Ok(id) => Ok(Redirect::to(&format!("/incidents/{id}?ok=incident_opened")).into_response()),
        Err(ServiceError::Invalid { code, field }) => {
            let error = FormError::new(lang, "open", code, field);
            let page = list_page(&state, &view, f, Some(error)).await?;
            Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
        }
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}

// ---------------------------------------------------------------------------------------------
// One incident

/// One entry of the timeline.
#[derive(Debug, Clone)]
pub struct TimelineLine {
    pub at: String,
    pub author: String,
    pub kind: String,
    pub kind_code: &'static str,
    pub text: String,
    /// The new status of a status entry: (label, tone).
    pub status: Option<(String, &'static str)>,
    /// The alert of an alert entry: (href, "#id title").
    pub alert: Option<(String, String)>,
}

fn timeline_line(lang: Lang, t: &TimelineRow) -> TimelineLine {
    let kind = EntryKind::parse(&t.kind).unwrap_or(EntryKind::Note);
    TimelineLine {
        at: fmt_ms(t.at_ms),
        author: t.author.clone(),
        kind: tr(lang, &format!("incident_entry.{}", kind.as_str())).to_string(),
        kind_code: kind.as_str(),
        text: t.text.clone(),
        status: t
            .status
            .as_deref()
            .and_then(IncidentStatus::parse)
            .map(|s| {
                (
                    tr(lang, &format!("incident_status.{}", s.as_str())).to_string(),
                    status_tone(s),
                )
            }),
        alert: t.alert_id.map(|a| {
            (
                format!("/alerts/{a}"),
                match &t.alert_title {
                    Some(title) => format!("#{a} {title}"),
                    None => format!("#{a}"),
                },
            )
        }),
    }
}

#[derive(Template)]
#[template(path = "incident.html")]
pub struct IncidentPage {
    pub l: Layout,
    pub i: IncidentLine,
    pub is_open: bool,
    pub can_handle: bool,
    /// Whether the viewer may open the alerts (and see their hosts and accounts).
    pub can_view_logs: bool,
    pub alerts: Vec<AlertLine>,
    pub timeline: Vec<TimelineLine>,
    /// The statuses it can move to short of closing: (code, label).
    pub next_statuses: Vec<(&'static str, String)>,
    pub form: ActForm,
    pub error: Option<FormError>,
}

impl IncidentPage {
    /// The error of `field` of form `form`, if any: (message, code).
    pub fn err(&self, form: &str, field: &str) -> Option<(String, &'static str)> {
        FormError::at(&self.error, form, field)
    }

    /// An error not tied to a field of a shown form (a closed incident, a broken request).
    pub fn general_error(&self) -> Option<(String, &'static str)> {
        self.error
            .as_ref()
            .filter(|e| !self.is_open || !matches!(e.field.as_str(), "note" | "status"))
            .map(|e| (e.message.clone(), e.code))
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct ActForm {
    /// `note`, `status` or `close`.
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub note: String,
    /// The new status (`status`).
    #[serde(default)]
    pub status: String,
}

async fn incident_page(
    state: &AppState,
    p: &Page<perm::ViewIncidents>,
    id: i64,
    form: ActForm,
    error: Option<FormError>,
) -> Result<IncidentPage, WebError> {
    let lang = p.lang;
    let svc_err = |e: ServiceError| WebError::from_service(&e, lang);
    let d = state
        .svc
        .incident_detail(&p.cap, id)
        .await
        .map_err(svc_err)?;
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc_err)?;
    let status = IncidentStatus::parse(&d.incident.status).unwrap_or(IncidentStatus::Open);
    let role = p.view.actor.user.role;
    Ok(IncidentPage {
        l: Layout::new(lang, &p.view, &fac, "incidents.one", "/incidents"),
        i: line(lang, &d.incident),
        is_open: status.is_open(),
        can_handle: role.permits(Permission::HandleIncidents),
        can_view_logs: role.permits(Permission::ViewLogs),
        alerts: d
            .alerts
            .iter()
            .map(|a| crate::web::alerts::line(lang, a))
            .collect(),
        timeline: d.timeline.iter().map(|t| timeline_line(lang, t)).collect(),
        next_statuses: [IncidentStatus::Open, IncidentStatus::Contained]
            .into_iter()
            .filter(|s| *s != status)
            .map(|s| {
                (
                    s.as_str(),
                    tr(lang, &format!("incident_status.{}", s.as_str())).to_string(),
                )
            })
            .collect(),
        form,
        error,
    })
}

/// `/incidents/{id}`: one incident, its alerts, its timeline and its workflow.
pub async fn detail(
    State(state): State<AppState>,
    p: Page<perm::ViewIncidents>,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let mut page = incident_page(&state, &p, id, ActForm::default(), None).await?;
    page.l = page.l.with_flash(q.get("ok").map(String::as_str));
    Ok(render(&page))
}

/// Adds a note (`action=note`), changes the status (`action=status`) or closes the incident
/// with its note (`action=close`).
pub async fn act(
    State(state): State<AppState>,
    Client(client): Client,
    view: Page<perm::ViewIncidents>,
    p: Page<perm::HandleIncidents>,
    Path(id): Path<i64>,
    form: CsrfForm<ActForm>,
) -> PageResult {
    let lang = p.lang;
    let f = form.into_inner();
    let svc = &state.svc;
    let done = match f.action.as_str() {
        "note" => svc
            .add_incident_note(&p.cap, &client, id, &f.note)
            .await
            .map(|()| "incident_noted"),
        "status" => match IncidentStatus::parse(&f.status) {
            Some(to) => svc
                .change_incident_status(&p.cap, &client, id, to, &f.note)
                .await
                .map(|()| {
                    if to == IncidentStatus::Closed {
                        "incident_closed"
                    } else {
                        "incident_status_changed"
                    }
                }),
            None => Err(ServiceError::Invalid {
                code: "INC0008",
                field: "status",
            }),
        },
        "close" => svc
            .close_incident(&p.cap, &client, id, &f.note)
            .await
            .map(|()| "incident_closed"),
        // Only the page's own buttons send this form: anything else is a broken request.
        _ => Err(ServiceError::Invalid {
            code: "INC0013",
            field: "action",
        }),
    };
    match done {
        Ok(ok) => Ok(Redirect::to(&format!("/incidents/{id}?ok={ok}")).into_response()),
        Err(ServiceError::Invalid { code, field }) => {
            let error = FormError::new(lang, &f.action, code, field);
            let page = incident_page(&state, &view, id, f, Some(error)).await?;
            Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
        }
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}

// ---------------------------------------------------------------------------------------------
// From the alert page

#[derive(Debug, Default, Clone, Deserialize)]
pub struct LinkForm {
    /// `open` (a new incident from the alert) or `link` (to the chosen incident).
    #[serde(default)]
    pub action: String,
    /// The incident's id (`link`).
    #[serde(default)]
    pub incident: String,
}

/// Records the alert as a new incident (`action=open`) and shows it, or links the alert to an
/// open incident (`action=link`, `incident=id`) and goes back to the alert.
pub async fn from_alert(
    State(state): State<AppState>,
    Client(client): Client,
    view: Page<perm::ViewLogs>,
    p: Page<perm::HandleIncidents>,
    alerts: Page<perm::HandleAlerts>,
    Path(alert_id): Path<i64>,
    form: CsrfForm<LinkForm>,
) -> PageResult {
    let lang = p.lang;
    let f = form.into_inner();
    let svc = &state.svc;
    let done = match f.action.as_str() {
        "open" => svc
            .open_incident_from_alert(&p.cap, &alerts.cap, &client, alert_id)
            .await
            .map(|id| format!("/incidents/{id}?ok=incident_opened")),
        "link" => match f.incident.trim().parse::<i64>() {
            Ok(incident) => svc
                .link_alert_to_incident(&p.cap, &alerts.cap, &client, incident, alert_id)
                .await
                .map(|()| format!("/alerts/{alert_id}?ok=alert_linked")),
            Err(_) => Err(ServiceError::Invalid {
                code: "INC0012",
                field: "incident",
            }),
        },
        _ => Err(ServiceError::Invalid {
            code: "INC0013",
            field: "action",
        }),
    };
    match done {
        Ok(to) => Ok(Redirect::to(&to).into_response()),
        Err(ServiceError::Invalid { code, .. }) => {
            let mut page =
                crate::web::alerts::alert_page(&state, &view, alert_id, String::new(), None)
                    .await?;
            page.link_choice = f.incident;
            page.link_error = Some((
                tr(lang, &format!("error.{code}")).to_string(),
                code.to_string(),
            ));
            Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
        }
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}
