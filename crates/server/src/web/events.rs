//! 収集ログの検索: collected events by who, which record, which host, what and when, newest
//! first, with the sources they came from.

use crate::web::AppState;
use crate::web::error::WebError;
use crate::web::extract::{Client, Page};
use crate::web::views::{Layout, fmt_ms, render};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use mamori_catalog::Lang;
use mamori_domain::period::{PeriodError, parse_period};
use mamori_service::{ServiceError, perm};
use mamori_storage::events::EventQuery;
use serde::Deserialize;

const PAGE_SIZE: i64 = 50;

/// The search form as typed.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub patient: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub page: Option<i64>,
}

/// One event as listed.
pub struct EventLine {
    pub at: String,
    pub flagged: String,
    pub host: String,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub outcome: String,
    pub outcome_tone: &'static str,
    pub message: String,
    pub index: i64,
}

#[derive(Template)]
#[template(path = "log_events.html")]
pub struct EventsPage {
    pub l: Layout,
    pub f: SearchForm,
    /// (field, message, code) of a refused filter.
    pub error: Option<(String, String, String)>,
    pub sources: Vec<(String, i64, String)>,
    pub lines: Vec<EventLine>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    /// The query string without the page, for the pager.
    pub qs: String,
}

/// `/logs/events`: the search.
pub async fn search(
    State(state): State<AppState>,
    p: Page<perm::ViewLogs>,
    Query(f): Query<SearchForm>,
) -> Result<Response, WebError> {
    let lang = p.lang;
    let svc_err = |e: ServiceError| WebError::from_service(&e, lang);
    let page = f.page.unwrap_or(1).clamp(1, 100_000);
    let mut q = EventQuery {
        actor: f.actor.trim().to_string(),
        object: f.patient.trim().to_string(),
        host: f.host.trim().to_string(),
        action: f.action.trim().to_string(),
        source: f.source.trim().to_string(),
        text: f.text.trim().to_string(),
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
        ..Default::default()
    };
    let opt = |s: &str| Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_string);
    let error = match parse_period(opt(&f.from).as_deref(), opt(&f.to).as_deref()) {
        Ok(period) => {
            q.from_ms = period.from_ms;
            q.to_ms = period.until_ms;
            None
        }
        Err(PeriodError::From(e)) => Some(("from", moment_message(lang, &e), e.code())),
        Err(PeriodError::To(e)) => Some(("to", moment_message(lang, &e), e.code())),
        Err(PeriodError::Reversed) => Some((
            "to",
            mamori_catalog::tr(lang, "error.SEA0004").to_string(),
            "SEA0004",
        )),
    };
    let (rows, total) = if error.is_some() {
        (Vec::new(), 0)
    } else {
        state.svc.search_events(&p.cap, &q).await.map_err(svc_err)?
    };
    let sources = state
        .svc
        .event_sources(&p.cap)
        .await
        .map_err(svc_err)?
        .into_iter()
        .map(|(s, n, last)| (s, n, fmt_ms(last)))
        .collect();
    let fac = crate::web::pages::facility_name(&state)
        .await
        .map_err(svc_err)?;
    let lines = rows
        .into_iter()
        .map(|r| EventLine {
            at: fmt_ms(r.sort_ms),
            flagged: if r.time_flag.is_empty() {
                String::new()
            } else {
                mamori_catalog::tr(lang, &format!("events.time_{}", r.time_flag)).to_string()
            },
            host: r.host,
            actor: r.actor.unwrap_or_default(),
            action: action_label(lang, &r.action),
            object: r.object.unwrap_or_default(),
            outcome_tone: match r.outcome.as_str() {
                "success" => "good",
                "failure" => "bad",
                _ => "neutral",
            },
            outcome: mamori_catalog::tr(lang, &format!("events.outcome_{}", r.outcome)).to_string(),
            message: r.message.chars().take(200).collect(),
            index: r.seal_index,
        })
        .collect();
    let qs = serde_urlencoded::to_string([
        ("actor", &f.actor),
        ("patient", &f.patient),
        ("host", &f.host),
        ("action", &f.action),
        ("source", &f.source),
        ("from", &f.from),
        ("to", &f.to),
        ("text", &f.text),
    ])
    .unwrap_or_default();
    let page_html = render(&EventsPage {
        l: Layout::new(lang, &p.view, &fac, "events.title", "/logs"),
        error: error.map(|(field, m, c)| (field.to_string(), m, c.to_string())),
        sources,
        lines,
        total,
        page,
        pages: (total + PAGE_SIZE - 1) / PAGE_SIZE,
        qs,
        f,
    });
    Ok(page_html)
}

/// Rows in one CSV export at most.
pub const EXPORT_MAX: usize = 100_000;

/// `/logs/events.csv`: what the search finds, as CSV for Excel (BOM, CRLF), newest first.
pub async fn export_csv(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::ViewLogs>,
    Query(f): Query<SearchForm>,
) -> Result<Response, WebError> {
    let lang = p.lang;
    let svc_err = |e: ServiceError| WebError::from_service(&e, lang);
    let mut q = EventQuery {
        actor: f.actor.trim().to_string(),
        object: f.patient.trim().to_string(),
        host: f.host.trim().to_string(),
        action: f.action.trim().to_string(),
        source: f.source.trim().to_string(),
        text: f.text.trim().to_string(),
        ..Default::default()
    };
    let opt = |s: &str| Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_string);
    match parse_period(opt(&f.from).as_deref(), opt(&f.to).as_deref()) {
        Ok(period) => {
            q.from_ms = period.from_ms;
            q.to_ms = period.until_ms;
        }
        Err(PeriodError::From(e)) | Err(PeriodError::To(e)) => {
            return Err(WebError::new(
                axum::http::StatusCode::BAD_REQUEST,
                e.code(),
                lang,
            ));
        }
        Err(PeriodError::Reversed) => {
            return Err(WebError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "SEA0004",
                lang,
            ));
        }
    }
    let rows = state
        .svc
        .export_events(&p.cap, &q, EXPORT_MAX, &client)
        .await
        .map_err(svc_err)?;
    let t = |k: &str| mamori_catalog::tr(lang, k).to_string();
    let headers = vec![
        t("events.at"),
        t("events.reported_at"),
        t("events.received_at"),
        t("events.source"),
        t("events.host"),
        t("events.actor"),
        t("events.action"),
        t("events.patient"),
        t("events.outcome"),
        t("events.message"),
        t("events.seal_index"),
    ];
    let body: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| {
            vec![
                crate::web::views::fmt_ms_seconds(r.sort_ms),
                r.at_ms
                    .map(crate::web::views::fmt_ms_seconds)
                    .unwrap_or_default(),
                crate::web::views::fmt_ms_seconds(r.received_ms),
                r.source,
                r.host,
                r.actor.unwrap_or_default(),
                action_label(lang, &r.action),
                r.object.unwrap_or_default(),
                mamori_catalog::tr(lang, &format!("events.outcome_{}", r.outcome)).to_string(),
                r.message,
                r.seal_index.to_string(),
            ]
        })
        .collect();
    let stamp = crate::web::views::fmt_ms_seconds(state.svc.clock.now_ms())
        .chars()
        .filter(char::is_ascii_digit)
        .take(12)
        .collect::<String>();
    Ok(crate::web::ledger::download(
        mamori_reports::table::csv(&headers, &body),
        "text/csv; charset=utf-8",
        &format!("mamori-logs-{stamp}.csv"),
        &format!("収集ログ_{stamp}.csv"),
    ))
}

/// An action code in words; codes mamori has no words for are shown as they are.
pub fn action_label(lang: Lang, code: &str) -> String {
    let key = format!("event_action.{code}");
    if mamori_catalog::messages::has(&key) {
        mamori_catalog::tr(lang, &key).to_string()
    } else {
        code.to_string()
    }
}

pub(crate) fn moment_message(lang: Lang, e: &mamori_domain::period::MomentError) -> String {
    match lang {
        Lang::Ja => e.message_ja(),
        Lang::En => e.message_en(),
    }
}
