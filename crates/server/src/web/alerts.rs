//! アラート: what detection rules raised, open ones first, and the workflow — take an alert
//! (acknowledge: you own it), close it with a note of what was found and done.

use crate::web::AppState;
use crate::web::error::WebError;
use crate::web::extract::{Client, CsrfForm, Page};
use crate::web::views::{Layout, fmt_ms, render};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mamori_catalog::{Lang, tr};
use mamori_domain::alert::{AlertAction, AlertLevel, AlertStatus};
use mamori_domain::role::Permission;
use mamori_reports::svg::{self, Bar, Tone};
use mamori_service::{ServiceError, perm};
use mamori_storage::alerts::AlertRow;
use serde::Deserialize;
use std::collections::HashMap;

type PageResult = Result<Response, WebError>;

/// One alert as a list line.
#[derive(Debug, Clone)]
pub struct AlertLine {
    pub id: i64,
    pub href: String,
    pub level: String,
    /// Badge class of the level: `bad`, `warn`, `neutral`.
    pub level_tone: &'static str,
    pub status: String,
    pub status_code: &'static str,
    /// Badge class of the status: new `bad`, acknowledged `warn`, closed `good`.
    pub status_tone: &'static str,
    pub title: String,
    pub rule_id: String,
    pub host: String,
    pub actor: String,
    pub first: String,
    pub last: String,
    pub count: i64,
    pub owner: String,
}

pub(crate) fn line(lang: Lang, a: &AlertRow) -> AlertLine {
    let level = AlertLevel::parse(&a.level).unwrap_or(AlertLevel::Medium);
    let status = AlertStatus::parse(&a.status).unwrap_or(AlertStatus::New);
    AlertLine {
        id: a.id,
        href: format!("/alerts/{}", a.id),
        level: tr(lang, &format!("alert_level.{}", level.as_str())).to_string(),
        level_tone: tone(level).class().trim_start_matches("tone-"),
        status: tr(lang, &format!("alert_status.{}", status.as_str())).to_string(),
        status_code: status.as_str(),
        status_tone: match status {
            AlertStatus::New => "bad",
            AlertStatus::Acknowledged => "warn",
            AlertStatus::Closed => "good",
        },
        title: a.title.clone(),
        rule_id: a.rule_id.clone(),
        host: a.host.clone(),
        actor: a.actor.clone().unwrap_or_default(),
        first: fmt_ms(a.first_ms),
        last: fmt_ms(a.last_ms),
        count: a.count,
        owner: a.owner.clone().unwrap_or_default(),
    }
}

pub(crate) fn tone(level: AlertLevel) -> Tone {
    match level {
        AlertLevel::Critical | AlertLevel::High => Tone::Bad,
        AlertLevel::Medium => Tone::Warn,
        AlertLevel::Low | AlertLevel::Informational => Tone::Neutral,
    }
}

#[derive(Template)]
#[template(path = "alerts.html")]
pub struct AlertsPage {
    pub l: Layout,
    /// (href, label, count, current).
    pub tabs: Vec<(String, String, i64, bool)>,
    pub alerts: Vec<AlertLine>,
    pub chart: String,
    pub open: i64,
    pub open_serious: i64,
}

/// `/alerts`: alerts, open ones first; `?status=` narrows the list.
pub async fn list(
    State(state): State<AppState>,
    p: Page<perm::ViewLogs>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let lang = p.lang;
    let svc_err = |e: ServiceError| WebError::from_service(&e, lang);
    let status = q.get("status").and_then(|s| AlertStatus::parse(s));
    let rows = state.svc.alerts(&p.cap, status).await.map_err(svc_err)?;
    let counts = state.svc.alert_counts(&p.cap).await.map_err(svc_err)?;
    let of = |s: AlertStatus| -> i64 {
        counts
            .iter()
            .filter(|(st, _, _)| *st == s)
            .map(|(_, _, n)| n)
            .sum()
    };
    let open = of(AlertStatus::New) + of(AlertStatus::Acknowledged);
    let open_serious = counts
        .iter()
        .filter(|(s, l, _)| s.is_open() && *l >= AlertLevel::High)
        .map(|(_, _, n)| n)
        .sum();
    let bars: Vec<Bar> = AlertLevel::ALL
        .iter()
        .map(|l| Bar {
            label: tr(lang, &format!("alert_level.{}", l.as_str())).to_string(),
            value: counts
                .iter()
                .filter(|(s, lv, _)| s.is_open() && lv == l)
                .map(|(_, _, n)| *n)
                .sum::<i64>()
                .max(0) as u64,
            tone: tone(*l),
        })
        .collect();
    let chart = if open == 0 {
        String::new()
    } else {
        svg::bar_chart(
            tr(lang, "alerts.chart"),
            &bars,
            tr(lang, "alerts.none_open"),
        )
    };
    let mut tabs = vec![(
        "/alerts".to_string(),
        tr(lang, "alerts.all").to_string(),
        counts.iter().map(|(_, _, n)| n).sum(),
        status.is_none(),
    )];
    for s in AlertStatus::ALL {
        tabs.push((
            format!("/alerts?status={}", s.as_str()),
            tr(lang, &format!("alert_status.{}", s.as_str())).to_string(),
            of(s),
            status == Some(s),
        ));
    }
    let fac = crate::web::pages::facility_name(&state)
        .await
        .map_err(svc_err)?;
    Ok(render(&AlertsPage {
        l: Layout::new(lang, &p.view, &fac, "alerts.title", "/logs")
            .with_flash(q.get("ok").map(String::as_str)),
        tabs,
        alerts: rows.iter().map(|a| line(lang, a)).collect(),
        chart,
        open,
        open_serious,
    }))
}

#[derive(Template)]
#[template(path = "alert.html")]
pub struct AlertPage {
    pub l: Layout,
    pub a: AlertLine,
    pub note: String,
    pub closed: String,
    pub can_handle: bool,
    pub is_open: bool,
    /// (time, host, actor, action, object, message, seal index).
    pub events: Vec<(String, String, String, String, String, String, i64)>,
    pub linked: usize,
    /// (due or sent at, channel, kind, state, tone, error).
    pub notifications: Vec<(String, String, String, String, &'static str, String)>,
    pub form_note: String,
    /// (message, code) of a refused close.
    pub error: Option<(String, String)>,
    /// The incident the alert belongs to: (href, title, status, status tone), for those who
    /// may view incidents.
    pub incident: Option<(String, String, String, &'static str)>,
    /// Whether the viewer may open an incident from the alert or link it to one.
    pub can_link: bool,
    /// The open incidents it can be linked to: (id, "#id title").
    pub open_incidents: Vec<(i64, String)>,
    /// The incident chosen in the link form.
    pub link_choice: String,
    /// (message, code) of a refused open or link.
    pub link_error: Option<(String, String)>,
}

pub(crate) async fn alert_page(
    state: &AppState,
    p: &Page<perm::ViewLogs>,
    id: i64,
    form_note: String,
    error: Option<(String, String)>,
) -> Result<AlertPage, WebError> {
    let lang = p.lang;
    let svc_err = |e: ServiceError| WebError::from_service(&e, lang);
    let d = state.svc.alert_detail(&p.cap, id).await.map_err(svc_err)?;
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc_err)?;
    let a = line(lang, &d.alert);
    let is_open = AlertStatus::parse(&d.alert.status).is_some_and(AlertStatus::is_open);
    let role = p.view.actor.user.role;
    let can_link =
        role.permits(Permission::HandleAlerts) && role.permits(Permission::HandleIncidents);
    let (incident, open_incidents) = match p.view.actor.can::<perm::ViewIncidents>() {
        Ok(cap) => match d.alert.incident_id {
            Some(iid) => {
                let i = state.svc.incident(&cap, iid).await.map_err(svc_err)?;
                let line = crate::web::incidents::line(lang, &i);
                let incident = (line.href, line.title, line.status, line.status_tone);
                (Some(incident), Vec::new())
            }
            None if can_link => {
                let open = state.svc.open_incidents(&cap).await.map_err(svc_err)?;
                let choices = open
                    .iter()
                    .map(|i| (i.id, format!("#{} {}", i.id, i.title)))
                    .collect();
                (None, choices)
            }
            None => (None, Vec::new()),
        },
        Err(_) => (None, Vec::new()),
    };
    Ok(AlertPage {
        l: Layout::new(lang, &p.view, &fac, "alerts.one", "/logs"),
        can_handle: p.view.actor.user.role.permits(Permission::HandleAlerts),
        is_open,
        note: d.alert.note.clone(),
        closed: match (d.alert.closed_ms, &d.alert.closed_by) {
            (Some(at), Some(by)) => format!("{} {by}", fmt_ms(at)),
            _ => String::new(),
        },
        events: d
            .events
            .iter()
            .map(|e| {
                (
                    crate::web::views::fmt_ms_seconds(e.sort_ms),
                    e.host.clone(),
                    e.actor.clone().unwrap_or_default(),
                    crate::web::events::action_label(lang, &e.action),
                    e.object.clone().unwrap_or_default(),
                    e.message.clone(),
                    e.seal_index,
                )
            })
            .collect(),
        linked: d.linked,
        notifications: d
            .notifications
            .iter()
            .map(|n| {
                let (state, tone) = match n.sent_ms {
                    Some(_) => ("sent", "good"),
                    None if n.attempts >= crate::notify::MAX_ATTEMPTS => ("gave_up", "bad"),
                    None if n.attempts > 0 => ("retrying", "warn"),
                    None => ("waiting", "neutral"),
                };
                (
                    fmt_ms(n.sent_ms.unwrap_or(n.due_ms)),
                    tr(lang, &format!("notify_channel.{}", n.channel)).to_string(),
                    tr(lang, &format!("notify_kind.{}", n.kind)).to_string(),
                    tr(lang, &format!("notify_state.{state}")).to_string(),
                    tone,
                    n.error.clone(),
                )
            })
            .collect(),
        a,
        form_note,
        error,
        incident,
        can_link,
        open_incidents,
        link_choice: String::new(),
        link_error: None,
    })
}

/// `/alerts/{id}`: one alert, its events (each a sealed record) and the workflow.
pub async fn detail(
    State(state): State<AppState>,
    p: Page<perm::ViewLogs>,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let mut page = alert_page(&state, &p, id, String::new(), None).await?;
    page.l = page.l.with_flash(q.get("ok").map(String::as_str));
    Ok(render(&page))
}

#[derive(Debug, Deserialize)]
pub struct ActForm {
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub note: String,
}

/// Acknowledges (`action=ack`) or closes (`action=close`, with a note) an alert.
pub async fn act(
    State(state): State<AppState>,
    Client(client): Client,
    view: Page<perm::ViewLogs>,
    p: Page<perm::HandleAlerts>,
    Path(id): Path<i64>,
    form: CsrfForm<ActForm>,
) -> PageResult {
    let lang = p.lang;
    let f = form.into_inner();
    let action = match f.action.as_str() {
        "ack" => AlertAction::Acknowledge,
        "close" => AlertAction::Close {
            note: f.note.clone(),
        },
        // Only the page's own buttons send this form: anything else is a broken request.
        _ => {
            let code = "ALR0004";
            let msg = tr(lang, &format!("error.{code}")).to_string();
            let page = alert_page(&state, &view, id, f.note, Some((msg, code.to_string()))).await?;
            return Ok((StatusCode::BAD_REQUEST, render(&page)).into_response());
        }
    };
    match state.svc.act_on_alert(&p.cap, &client, id, &action).await {
        Ok(_) => {
            let ok = match action {
                AlertAction::Acknowledge => "alert_acknowledged",
                AlertAction::Close { .. } => "alert_closed",
            };
            Ok(Redirect::to(&format!("/alerts/{id}?ok={ok}")).into_response())
        }
        Err(ServiceError::Invalid { code, .. }) => {
            let msg = tr(lang, &format!("error.{code}")).to_string();
            let page = alert_page(&state, &view, id, f.note, Some((msg, code.to_string()))).await?;
            Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
        }
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}

#[derive(Template)]
#[template(path = "watched.html")]
pub struct WatchedPage {
    pub l: Layout,
    /// (patient id, reason label, note, added at, added by).
    pub patients: Vec<(String, String, String, String, String)>,
    /// (code, label) of the reasons.
    pub reasons: Vec<(&'static str, String)>,
    pub can_handle: bool,
    pub form: WatchForm,
    /// (field, message, code) of a refused form.
    pub error: Option<(String, String, String)>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct WatchForm {
    #[serde(default)]
    pub patient_id: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub note: String,
    /// `remove` takes the patient off the list.
    #[serde(default)]
    pub op: String,
}

async fn watched_page(
    state: &AppState,
    p: &Page<perm::ViewLogs>,
    form: WatchForm,
    error: Option<(String, String, String)>,
) -> Result<WatchedPage, WebError> {
    let lang = p.lang;
    let svc_err = |e: ServiceError| WebError::from_service(&e, lang);
    let rows = state.svc.watched_patients(&p.cap).await.map_err(svc_err)?;
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc_err)?;
    Ok(WatchedPage {
        l: Layout::new(lang, &p.view, &fac, "watched.title", "/logs"),
        patients: rows
            .into_iter()
            .map(|w| {
                (
                    w.patient_id,
                    tr(lang, &format!("watched.reason_{}", w.reason)).to_string(),
                    w.note,
                    fmt_ms(w.added_ms),
                    w.added_by,
                )
            })
            .collect(),
        reasons: mamori_service::detection::WATCH_REASONS
            .iter()
            .map(|r| (*r, tr(lang, &format!("watched.reason_{r}")).to_string()))
            .collect(),
        can_handle: p.view.actor.user.role.permits(Permission::HandleAlerts),
        form,
        error,
    })
}

/// One rule as a line of the rules page.
pub struct RuleLine {
    pub title: String,
    pub level: String,
    pub level_tone: &'static str,
    pub description: String,
    pub id: String,
}

/// A configured rule that was not loaded: where, which, and why (in the reader's language,
/// with the engine's own detail).
pub struct RefusedLine {
    pub origin: String,
    pub rule: String,
    pub code: &'static str,
    pub reason: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "detect_rules.html")]
pub struct RulesPage {
    pub l: Layout,
    pub enabled: bool,
    pub shipped: Vec<RuleLine>,
    pub folders: Vec<String>,
    pub loaded: usize,
    pub chart: String,
    pub refused: Vec<RefusedLine>,
    /// (path, error): files or folders that could not be read.
    pub unreadable: Vec<(String, String)>,
}

fn level_of(lang: Lang, level: &str) -> (String, &'static str) {
    match AlertLevel::parse(level) {
        Some(l) => (
            tr(lang, &format!("alert_level.{}", l.as_str())).to_string(),
            tone(l).class().trim_start_matches("tone-"),
        ),
        None => (level.to_string(), "neutral"),
    }
}

/// `/alerts/rules`: the rules live detection runs. The shipped rules for medical settings,
/// then the Sigma rules the configuration adds, with every refused rule and its reason.
pub async fn rules(State(state): State<AppState>, p: Page<perm::ViewLogs>) -> PageResult {
    let lang = p.lang;
    let fac = crate::web::pages::facility_name(&state)
        .await
        .map_err(|e| WebError::from_service(&e, lang))?;
    let medical = mamori_detect::medical::rule_set(mamori_detect::Placeholders::default());
    let line = |title: &str, level: &str, description: &str, id: &str| {
        let (level, level_tone) = level_of(lang, level);
        RuleLine {
            title: title.to_string(),
            level,
            level_tone,
            description: description.to_string(),
            id: id.to_string(),
        }
    };
    let shipped = medical
        .rules()
        .iter()
        .map(|r| line(&r.title, &r.level, &r.description, &r.id))
        .chain(
            medical
                .correlations()
                .iter()
                .map(|c| line(&c.title, &c.level, &c.description, &c.id)),
        )
        .collect();
    let report = &state.detect_rules;
    let bars: Vec<Bar> = AlertLevel::ALL
        .iter()
        .rev()
        .map(|l| Bar {
            label: tr(lang, &format!("alert_level.{}", l.as_str())).to_string(),
            value: report
                .by_level
                .iter()
                .filter(|(name, _)| AlertLevel::parse(name) == Some(*l))
                .map(|(_, n)| *n as u64)
                .sum(),
            tone: tone(*l),
        })
        .collect();
    let chart = if report.loaded() == 0 {
        String::new()
    } else {
        svg::bar_chart(tr(lang, "detect_rules.chart"), &bars, "")
    };
    let refused = report
        .refused
        .iter()
        .map(|r| RefusedLine {
            origin: r.origin.clone(),
            rule: r.title.clone().or_else(|| r.id.clone()).unwrap_or_default(),
            code: r.reason.code(),
            reason: tr(lang, &format!("error.{}", r.reason.code())).to_string(),
            detail: r.reason.to_string(),
        })
        .collect();
    let page = RulesPage {
        l: Layout::new(lang, &p.view, &fac, "detect_rules.title", "/logs"),
        enabled: report.enabled,
        shipped,
        folders: report
            .folders
            .iter()
            .map(|f| f.display().to_string())
            .collect(),
        loaded: report.loaded(),
        chart,
        refused,
        unreadable: report
            .unreadable
            .iter()
            .map(|f| {
                let error = if f.error.is_empty() {
                    tr(lang, "detect_rules.no_files").to_string()
                } else {
                    f.error.clone()
                };
                (f.path.display().to_string(), error)
            })
            .collect(),
    };
    Ok(render(&page))
}

/// `/alerts/watched`: the patients whose records raise an alert when opened.
pub async fn watched(
    State(state): State<AppState>,
    p: Page<perm::ViewLogs>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let mut page = watched_page(&state, &p, WatchForm::default(), None).await?;
    page.l = page.l.with_flash(q.get("ok").map(String::as_str));
    Ok(render(&page))
}

/// Adds a patient to the list (or changes its reason and note), or takes one off it.
pub async fn watch(
    State(state): State<AppState>,
    Client(client): Client,
    view: Page<perm::ViewLogs>,
    p: Page<perm::HandleAlerts>,
    form: CsrfForm<WatchForm>,
) -> PageResult {
    let lang = p.lang;
    let f = form.into_inner();
    let done = if f.op == "remove" {
        state
            .svc
            .unwatch_patient(&p.cap, &client, f.patient_id.trim())
            .await
            .map(|()| "patient_unwatched")
    } else {
        state
            .svc
            .watch_patient(&p.cap, &client, &f.patient_id, &f.reason, &f.note)
            .await
            .map(|()| "patient_watched")
    };
    match done {
        Ok(ok) => Ok(Redirect::to(&format!("/alerts/watched?ok={ok}")).into_response()),
        Err(ServiceError::Invalid { code, field }) => {
            let msg = tr(lang, &format!("error.{code}")).to_string();
            let error = Some((field.to_string(), msg, code.to_string()));
            let page = watched_page(&state, &view, f, error).await?;
            Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
        }
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}
