//! ログの送信元 (per-source view: a week of events per hour, last heard, gaps, clock, what could
//! not be read), forwarder tokens, ログの確認 (the review of a period), and the HTTPS endpoint
//! forwarders send JSON lines to.

use crate::web::AppState;
use crate::web::error::WebError;
use crate::web::extract::{Client, CsrfForm, Page};
use crate::web::views::{Layout, fmt_ms, render};
use askama::Template;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_catalog::{Lang, tr};
use mamori_domain::period::{PeriodError, parse_period};
use mamori_domain::role::Permission;
use mamori_ingest::{JsonLinesOptions, read_json_lines};
use mamori_reports::svg::{Slot, hourly_chart, sparkline};
use mamori_service::collect::{Collected, SourceKind};
use mamori_service::sources::{HOUR_MS, SourceView};
use mamori_service::{ServiceError, perm};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;

type PageResult = Result<Response, WebError>;

/// The clock tolerance in force (from `syslog.clock_tolerance_seconds`).
#[derive(Debug, Clone, Copy)]
pub struct ClockTolerance(pub i64);

/// One source as listed.
pub struct SourceLine {
    pub name: String,
    pub href: String,
    pub label: String,
    pub kind: String,
    pub events_24h: i64,
    pub total: i64,
    pub bad: i64,
    pub dropped: i64,
    pub last_seen: String,
    pub offset: String,
    pub spark: String,
    /// (tone, text) badges: 受信中, 途絶, 時刻ずれ, 欠損, 停止中.
    pub badges: Vec<(&'static str, String)>,
}

fn offset_text(lang: Lang, ms: Option<i64>) -> String {
    match ms {
        None => "—".into(),
        Some(ms) => {
            let s = ms as f64 / 1000.0;
            let sign = if ms > 0 { "+" } else { "" };
            if s.abs() >= 120.0 {
                format!("{sign}{:.0}{}", s / 60.0, tr(lang, "sources.minutes"))
            } else {
                format!("{sign}{s:.1}{}", tr(lang, "sources.seconds"))
            }
        }
    }
}

fn badges(lang: Lang, v: &SourceView) -> Vec<(&'static str, String)> {
    let t = |k: &str| tr(lang, k).to_string();
    let mut b = Vec::new();
    if v.row.disabled {
        b.push(("neutral", t("sources.disabled")));
    }
    if v.is_live() {
        if v.silent {
            b.push(("bad", t("sources.silent")));
        } else {
            b.push(("good", t("sources.receiving")));
        }
    }
    if v.drifting {
        b.push(("bad", t("sources.drifting")));
    }
    if !v.gaps.is_empty() {
        b.push((
            "warn",
            mamori_catalog::messages::fill(
                &t("sources.gaps_n"),
                &[("n", &v.gaps.len().to_string())],
            ),
        ));
    }
    if v.bad_24h > 0 {
        b.push(("warn", t("sources.bad_recent")));
    }
    b
}

/// The page of a source: its name percent-encoded as one path segment (`syslog/…` included).
pub fn source_href(name: &str) -> String {
    let mut out = String::from("/logs/sources/");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn line(lang: Lang, v: &SourceView) -> SourceLine {
    let values: Vec<u64> = v
        .hours
        .iter()
        .map(|h| u64::try_from(h.events).unwrap_or(0))
        .collect();
    SourceLine {
        name: v.row.name.clone(),
        href: source_href(&v.row.name),
        label: v.row.label.clone(),
        kind: tr(lang, &format!("sources.kind_{}", v.row.kind)).to_string(),
        events_24h: v.events_24h,
        total: v.row.events,
        bad: v.row.bad,
        dropped: v.row.dropped,
        last_seen: v.row.last_seen.map(fmt_ms).unwrap_or_else(|| "—".into()),
        offset: if v.is_live() {
            offset_text(lang, v.offset_ms)
        } else {
            "—".into()
        },
        spark: sparkline(tr(lang, "sources.week_chart"), &values),
        badges: badges(lang, v),
    }
}

/// The week of hours as chart slots, the date under each midnight (JST).
fn slots(hours: &[mamori_storage::sources::HourTally]) -> Vec<Slot> {
    hours
        .iter()
        .map(|h| {
            let at = fmt_ms(h.hour_ms);
            Slot {
                good: u64::try_from(h.events).unwrap_or(0),
                bad: u64::try_from(h.bad).unwrap_or(0),
                tick: at
                    .ends_with(" 00:00")
                    .then(|| at.get(5..10).unwrap_or_default().to_string()),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "log_sources.html")]
pub struct SourcesPage {
    pub l: Layout,
    pub lines: Vec<SourceLine>,
    pub chart: String,
    pub receiving: usize,
    pub silent: usize,
    pub drifting: usize,
    pub events_24h: i64,
    pub tolerance: String,
    pub can_manage: bool,
    /// mamori's own clock: (tone, value, detail).
    pub own_clock: (&'static str, String, String),
    /// The add-forwarder form as typed and its error (field, message, code).
    pub name: String,
    pub label: String,
    pub error: Option<(String, String, String)>,
}

async fn sources_page(
    state: &AppState,
    p: &Page<perm::ViewLogs>,
    tolerance: i64,
    name: String,
    label: String,
    error: Option<(String, String, String)>,
) -> Result<SourcesPage, WebError> {
    let lang = p.lang;
    let svc_err = |e: ServiceError| WebError::from_service(&e, lang);
    let views = state
        .svc
        .log_source_views(&p.cap, tolerance)
        .await
        .map_err(svc_err)?;
    let mut total = vec![
        mamori_storage::sources::HourTally::default();
        views.first().map_or(0, |v| v.hours.len())
    ];
    for v in &views {
        for (t, h) in total.iter_mut().zip(&v.hours) {
            t.hour_ms = h.hour_ms;
            t.events += h.events;
            t.bad += h.bad;
        }
    }
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc_err)?;
    let now = state.svc.clock.now_ms();
    let own_clock = match state.svc.last_clock_check(&p.cap).await.map_err(svc_err)? {
        None => (
            "neutral",
            "—".to_string(),
            tr(lang, "sources.own_clock_unset").to_string(),
        ),
        Some(c) => {
            let when = fmt_ms(c.at_ms);
            let stale = now - c.at_ms > 2 * 3_600_000;
            match c.offset_ms {
                Some(o) => (
                    if o.abs() > tolerance {
                        "bad"
                    } else if stale {
                        "warn"
                    } else {
                        "good"
                    },
                    offset_text(lang, Some(-o)),
                    format!("{} {} ({when})", tr(lang, "sources.own_clock_vs"), c.server),
                ),
                None => (
                    "warn",
                    tr(lang, "sources.own_clock_failed").to_string(),
                    format!("{} ({when}): {}", c.server, c.error),
                ),
            }
        }
    };
    Ok(SourcesPage {
        own_clock,
        l: Layout::new(lang, &p.view, &fac, "sources.title", "/logs"),
        chart: hourly_chart(
            tr(lang, "sources.all_chart"),
            &slots(&total),
            tr(lang, "sources.chart_empty"),
        ),
        receiving: views.iter().filter(|v| v.is_live() && !v.silent).count(),
        silent: views.iter().filter(|v| v.silent).count(),
        drifting: views.iter().filter(|v| v.drifting).count(),
        events_24h: views.iter().map(|v| v.events_24h).sum(),
        lines: views.iter().map(|v| line(lang, v)).collect(),
        tolerance: offset_text(lang, Some(tolerance))
            .trim_start_matches('+')
            .to_string(),
        can_manage: p.view.actor.user.role.permits(Permission::ManageLogs),
        name,
        label,
        error,
    })
}

/// `/logs/sources`: every source with its week.
pub async fn list(
    State(state): State<AppState>,
    axum::Extension(ClockTolerance(tolerance)): axum::Extension<ClockTolerance>,
    p: Page<perm::ViewLogs>,
) -> PageResult {
    Ok(render(
        &sources_page(&state, &p, tolerance, String::new(), String::new(), None).await?,
    ))
}

#[derive(Template)]
#[template(path = "log_source_token.html")]
pub struct TokenPage {
    pub l: Layout,
    pub name: String,
    pub href: String,
    pub token: String,
    pub endpoint: String,
}

fn token_page(
    lang: Lang,
    view: &mamori_service::auth::SessionView,
    fac: &str,
    name: &str,
    token: String,
    host: &str,
) -> Response {
    let mut r = render(&TokenPage {
        l: Layout::new(lang, view, fac, "sources.token_title", "/logs"),
        name: name.to_string(),
        href: source_href(name),
        token,
        endpoint: format!("https://{host}/api/v1/logs"),
    });
    // The token is shown once: never cached.
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

fn host_of(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.len() < 256)
        .unwrap_or("mamori")
        .to_string()
}

/// Registers a forwarder and shows its token once.
pub async fn create(
    State(state): State<AppState>,
    axum::Extension(ClockTolerance(tolerance)): axum::Extension<ClockTolerance>,
    Client(client): Client,
    headers: HeaderMap,
    view: Page<perm::ViewLogs>,
    p: Page<perm::ManageLogs>,
    form: CsrfForm<HashMap<String, String>>,
) -> PageResult {
    let lang = p.lang;
    let f = form.into_inner();
    let name = f.get("name").cloned().unwrap_or_default();
    let label = f.get("label").cloned().unwrap_or_default();
    match state
        .svc
        .create_log_source(&p.cap, &name, &label, &client)
        .await
    {
        Ok(token) => {
            let fac = crate::web::pages::facility_name(&state)
                .await
                .map_err(|e| WebError::from_service(&e, lang))?;
            Ok(token_page(
                lang,
                &p.view,
                &fac,
                name.trim(),
                token,
                &host_of(&headers),
            ))
        }
        Err(ServiceError::Invalid { code, field }) => {
            let msg = tr(lang, &format!("error.{code}")).to_string();
            let page = sources_page(
                &state,
                &view,
                tolerance,
                name,
                label,
                Some((field.to_string(), msg, code.to_string())),
            )
            .await?;
            Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
        }
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}

/// Gives a forwarder a new token (the old one stops working) and shows it once.
pub async fn rotate(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    p: Page<perm::ManageLogs>,
    Path(name): Path<String>,
    _form: CsrfForm<HashMap<String, String>>,
) -> PageResult {
    let lang = p.lang;
    let token = state
        .svc
        .rotate_log_source_token(&p.cap, &name, &client)
        .await
        .map_err(|e| WebError::from_service(&e, lang))?;
    let fac = crate::web::pages::facility_name(&state)
        .await
        .map_err(|e| WebError::from_service(&e, lang))?;
    Ok(token_page(
        lang,
        &p.view,
        &fac,
        &name,
        token,
        &host_of(&headers),
    ))
}

/// Stops or resumes accepting a forwarder's events.
pub async fn set_state(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::ManageLogs>,
    Path(name): Path<String>,
    form: CsrfForm<HashMap<String, String>>,
) -> PageResult {
    let lang = p.lang;
    let f = form.into_inner();
    let disabled = f.get("disabled").is_some_and(|v| v == "1");
    state
        .svc
        .set_log_source_disabled(&p.cap, &name, disabled, &client)
        .await
        .map_err(|e| WebError::from_service(&e, lang))?;
    Ok(Redirect::to(&source_href(&name)).into_response())
}

#[derive(Template)]
#[template(path = "log_source.html")]
pub struct SourcePage {
    pub l: Layout,
    pub s: SourceLine,
    pub has_token: bool,
    pub disabled: bool,
    pub live: bool,
    pub first_seen: String,
    pub last_peer: String,
    pub chart: String,
    pub gaps: Vec<(String, String, i64)>,
    pub offsets: Vec<(String, String, bool)>,
    pub rejects: Vec<(String, String, String)>,
    pub can_manage: bool,
    pub search_href: String,
}

/// `/logs/sources/{name}`: one source's week, gaps, clock and refused input.
pub async fn detail(
    State(state): State<AppState>,
    axum::Extension(ClockTolerance(tolerance)): axum::Extension<ClockTolerance>,
    p: Page<perm::ViewLogs>,
    Path(name): Path<String>,
) -> PageResult {
    let lang = p.lang;
    let svc_err = |e: ServiceError| WebError::from_service(&e, lang);
    let (v, rejects) = state
        .svc
        .log_source_detail(&p.cap, &name, tolerance)
        .await
        .map_err(svc_err)?;
    let fac = crate::web::pages::facility_name(&state)
        .await
        .map_err(svc_err)?;
    // The clock estimate of each day (the newest hour that gave one).
    let mut offsets: Vec<(String, String, bool)> = Vec::new();
    for day in v.hours.chunks(24).rev() {
        if let Some(h) = day.iter().rev().find(|h| h.offset_max_ms.is_some()) {
            let o = h.offset_max_ms.unwrap_or(0);
            offsets.push((
                fmt_ms(h.hour_ms),
                offset_text(lang, Some(o)),
                o.abs() > tolerance,
            ));
        }
    }
    let search_href = format!(
        "/logs/events?{}",
        serde_urlencoded::to_string([("host", v.row.last_peer.as_str())]).unwrap_or_default()
    );
    Ok(render(&SourcePage {
        l: Layout {
            title: v.row.name.clone(),
            ..Layout::new(lang, &p.view, &fac, "sources.title", "/logs")
        },
        has_token: v.row.has_token,
        disabled: v.row.disabled,
        live: v.is_live(),
        first_seen: v.row.first_seen.map(fmt_ms).unwrap_or_else(|| "—".into()),
        last_peer: v.row.last_peer.clone(),
        chart: hourly_chart(
            tr(lang, "sources.week_chart"),
            &slots(&v.hours),
            tr(lang, "sources.chart_empty"),
        ),
        gaps: v
            .gaps
            .iter()
            .map(|(a, b)| (fmt_ms(*a), fmt_ms(*b), (b - a) / HOUR_MS))
            .collect(),
        offsets,
        rejects: rejects
            .into_iter()
            .map(|(at, code, detail)| (fmt_ms(at), code, detail))
            .collect(),
        can_manage: p.view.actor.user.role.permits(Permission::ManageLogs),
        search_href,
        s: line(lang, &v),
    }))
}

/// What a forwarder is told.
#[derive(Debug, serde::Serialize)]
pub struct IngestAnswer {
    pub source: String,
    pub accepted: usize,
    pub rejected: usize,
    /// The first few refused lines: (line, code, message).
    pub errors: Vec<(usize, String, String)>,
}

/// The largest batch a forwarder may send at once (its own limit, beside the pages'
/// `limits.max_body_bytes`: batching is how forwarders keep up).
pub const INGEST_BYTES: usize = 16 * 1024 * 1024;

/// `POST /api/v1/logs`: JSON lines from a forwarder, with `Authorization: Bearer <token>`, in
/// batches of up to [`INGEST_BYTES`]. Answers 200 only once every accepted event is sealed.
pub async fn api_ingest(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let lang = Lang::Ja;
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let source = state
        .svc
        .source_for_token(token)
        .await
        .map_err(|e| WebError::from_service(&e, lang).json())?;
    let Some(collector) = state.collector.clone() else {
        return Err(WebError::new(StatusCode::SERVICE_UNAVAILABLE, "LOG0020", lang).json());
    };
    let now = state.svc.clock.now_ms();
    let peer_text = peer.ip().to_string();
    let decoded = read_json_lines(&body, now, &peer_text, &JsonLinesOptions::default())
        .map_err(|e| WebError::new(StatusCode::BAD_REQUEST, e.code(), lang).json())?;
    let mut item = Collected::new(source.name.clone(), SourceKind::Json, peer_text, now);
    let mut errors = Vec::new();
    for d in &decoded.diagnostics {
        item.reject(d.code, format!("{}行目: {}", d.line, d.message_ja));
        if errors.len() < 10 {
            errors.push((d.line, d.code.to_string(), d.message_en.clone()));
        }
    }
    item.events = decoded.events.into_iter().map(|(_, e)| e).collect();
    let answer = IngestAnswer {
        source: source.name,
        accepted: item.events.len(),
        rejected: usize::try_from(item.bad).unwrap_or(usize::MAX),
        errors,
    };
    collector
        .store(item)
        .await
        .map_err(|e| WebError::from_service(&e, lang).json())?;
    Ok(Json(answer).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub notes: String,
}

#[derive(Template)]
#[template(path = "log_reviews.html")]
pub struct ReviewsPage {
    pub l: Layout,
    pub f: ReviewForm,
    pub error: Option<(String, String, String)>,
    pub can_review: bool,
    /// (period, reviewed at, reviewer, events, notes).
    pub reviews: Vec<(String, String, String, i64, String)>,
    pub last: String,
    pub sources: usize,
}

fn day_of(ms: i64) -> String {
    fmt_ms(ms).get(..10).unwrap_or_default().to_string()
}

async fn reviews_page(
    state: &AppState,
    p: &Page<perm::ViewLogs>,
    f: Option<ReviewForm>,
    error: Option<(String, String, String)>,
) -> Result<ReviewsPage, WebError> {
    let lang = p.lang;
    let svc_err = |e: ServiceError| WebError::from_service(&e, lang);
    let rows = state.svc.log_reviews(&p.cap, 100).await.map_err(svc_err)?;
    let now = state.svc.clock.now_ms();
    // The next period starts where the last review ended (or a month ago) and ends today.
    let f = f.unwrap_or_else(|| ReviewForm {
        from: day_of(rows.first().map_or(now - 30 * 24 * HOUR_MS, |r| r.to_ms)),
        to: day_of(now),
        notes: String::new(),
    });
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc_err)?;
    let sources = state
        .svc
        .log_source_views(&p.cap, i64::MAX)
        .await
        .map_err(svc_err)?
        .len();
    Ok(ReviewsPage {
        l: Layout::new(lang, &p.view, &fac, "reviews.title", "/logs"),
        can_review: p.view.actor.user.role.permits(Permission::ReviewLogs),
        last: rows
            .first()
            .map(|r| fmt_ms(r.reviewed_at))
            .unwrap_or_else(|| "—".into()),
        reviews: rows
            .into_iter()
            .map(|r| {
                (
                    format!("{} – {}", day_of(r.from_ms), day_of(r.to_ms - 1)),
                    fmt_ms(r.reviewed_at),
                    r.reviewer,
                    r.events,
                    r.notes,
                )
            })
            .collect(),
        sources,
        f,
        error,
    })
}

/// `/logs/reviews`: past reviews and the form to record one.
pub async fn reviews(
    State(state): State<AppState>,
    p: Page<perm::ViewLogs>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let mut page = reviews_page(&state, &p, None, None).await?;
    page.l = page.l.with_flash(q.get("ok").map(String::as_str));
    Ok(render(&page))
}

/// Records a review of a period.
pub async fn review(
    State(state): State<AppState>,
    Client(client): Client,
    view: Page<perm::ViewLogs>,
    p: Page<perm::ReviewLogs>,
    form: CsrfForm<ReviewForm>,
) -> PageResult {
    let lang = p.lang;
    let f = form.into_inner();
    let opt = |s: &str| Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_string);
    let period = match (opt(&f.from), opt(&f.to)) {
        (None, _) => Err((
            "from",
            "LOG0037".to_string(),
            tr(lang, "error.LOG0037").to_string(),
        )),
        (_, None) => Err((
            "to",
            "LOG0037".to_string(),
            tr(lang, "error.LOG0037").to_string(),
        )),
        (from, to) => match parse_period(from.as_deref(), to.as_deref()) {
            Ok(p) => Ok(p),
            Err(PeriodError::From(e)) => Err((
                "from",
                e.code().to_string(),
                crate::web::events::moment_message(lang, &e),
            )),
            Err(PeriodError::To(e)) => Err((
                "to",
                e.code().to_string(),
                crate::web::events::moment_message(lang, &e),
            )),
            Err(PeriodError::Reversed) => Err((
                "to",
                "SEA0004".to_string(),
                tr(lang, "error.SEA0004").to_string(),
            )),
        },
    };
    let outcome = match period {
        Ok(period) => match (period.from_ms, period.until_ms) {
            (Some(a), Some(b)) => state
                .svc
                .review_logs(&p.cap, a, b, &f.notes, &client)
                .await
                .map_err(|e| match e {
                    ServiceError::Invalid { code, field } => Ok((
                        field,
                        code.to_string(),
                        tr(lang, &format!("error.{code}")).to_string(),
                    )),
                    other => Err(other),
                }),
            _ => Err(Ok((
                "from",
                "LOG0037".into(),
                tr(lang, "error.LOG0037").to_string(),
            ))),
        },
        Err(e) => Err(Ok(e)),
    };
    match outcome {
        Ok(_) => Ok(Redirect::to("/logs/reviews?ok=logs_reviewed").into_response()),
        Err(Ok((field, code, msg))) => {
            let page =
                reviews_page(&state, &view, Some(f), Some((field.to_string(), msg, code))).await?;
            Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
        }
        Err(Err(e)) => Err(WebError::from_service(&e, lang)),
    }
}
