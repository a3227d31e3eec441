//! 端末エージェント: the agents' API (enrolment, signed uploads, the signed policy) and the
//! pages: the list with enrolment tokens, one agent's inventory with its place in the ledger,
//! revocation and emergency unlock codes.

use crate::web::AppState;
use crate::web::error::WebError;
use crate::web::extract::{Client, CsrfForm, CsrfUpload, Page};
use crate::web::form::FormError;
use crate::web::views::{Layout, fmt_ms, render};
use askama::Template;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_catalog::{Lang, tr};
use mamori_domain::ledger::{Asset, AssetClass, AssetStatus};
use mamori_domain::role::Permission;
use mamori_proto::agent as wire;
use mamori_reports::svg::{self, Bar, Tone};
use mamori_service::agents::{AgentRefusal, AgentView, BaselineError, PolicySigner, Summary};
use mamori_service::{ServiceError, perm};
use mamori_storage::agents::AgentRow;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

type PageResult = Result<Response, WebError>;

/// The largest upload an agent may send (it sends at most 8 MiB of entries at a time; one full
/// inventory of a large server is well under 1 MiB).
pub const UPLOAD_BYTES: usize = 32 * 1024 * 1024;

/// The server's side of the agent protocol: the key policies are signed with (and the
/// certificates they name, the next one too when a renewal is prepared), and the certificate
/// pin enrolment tokens carry (none without TLS).
#[derive(Clone)]
pub struct AgentKeys {
    pub policy: Arc<PolicySigner>,
    pub pin: Option<[u8; 32]>,
}

impl std::fmt::Debug for AgentKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentKeys")
            .field("pin", &self.pin.is_some())
            .finish_non_exhaustive()
    }
}

// ---- API -------------------------------------------------------------------------------------

fn api_error(status: StatusCode, code: &'static str) -> WebError {
    WebError::new(status, code, Lang::Ja).json()
}

/// `POST /api/v1/agent/enroll`.
pub async fn api_enroll(
    State(state): State<AppState>,
    axum::Extension(keys): axum::Extension<AgentKeys>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Result<Response, WebError> {
    let req: wire::EnrollRequest = serde_json::from_slice(&body)
        .map_err(|_| api_error(StatusCode::UNAUTHORIZED, "AGT0013"))?;
    let answer = state
        .svc
        .enroll_agent(&keys.policy, &req, &peer.ip().to_string())
        .await
        .map_err(|e| WebError::from_service(&e, Lang::Ja).json())?;
    Ok(Json(answer).into_response())
}

/// Checks the signature headers of an agent's request.
async fn signed_agent(
    state: &AppState,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<AgentRow, Response> {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let (Ok(agent_id), Ok(nonce)) = (
        h(wire::HEADER_AGENT).parse::<i64>(),
        h(wire::HEADER_NONCE).parse::<u64>(),
    ) else {
        return Err(api_error(StatusCode::UNAUTHORIZED, "AGT0020").into_response());
    };
    let checked = state
        .svc
        .authenticate_agent(
            agent_id,
            nonce,
            h(wire::HEADER_SIGNATURE),
            method,
            path,
            body,
        )
        .await
        .map_err(|e| WebError::from_service(&e, Lang::Ja).json().into_response())?;
    match checked {
        Ok(agent) => Ok(agent),
        Err(refusal) => {
            let status = match refusal {
                AgentRefusal::Unauthenticated => StatusCode::UNAUTHORIZED,
                AgentRefusal::Revoked => StatusCode::FORBIDDEN,
                AgentRefusal::StaleNonce { .. } => StatusCode::CONFLICT,
            };
            let mut r = api_error(status, refusal.code()).into_response();
            if let AgentRefusal::StaleNonce { next } = refusal
                && let Ok(v) = HeaderValue::from_str(&next.to_string())
            {
                r.headers_mut().insert(wire::HEADER_NEXT_NONCE, v);
            }
            Err(r)
        }
    }
}

/// `POST /api/v1/agent/upload`: answered after the entries are stored.
pub async fn api_upload(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let agent = match signed_agent(&state, &headers, "POST", wire::PATH_UPLOAD, &body).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let upload: wire::Upload = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(_) => return api_error(StatusCode::BAD_REQUEST, "AGT0032").into_response(),
    };
    match state
        .svc
        .agent_upload(
            &agent,
            &upload,
            &peer.ip().to_string(),
            state.collector.as_ref(),
        )
        .await
    {
        Ok(ack) => Json(ack).into_response(),
        Err(e) => WebError::from_service(&e, Lang::Ja).json().into_response(),
    }
}

/// `GET /api/v1/agent/policy`.
pub async fn api_policy(
    State(state): State<AppState>,
    axum::Extension(keys): axum::Extension<AgentKeys>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let agent = match signed_agent(&state, &headers, "GET", wire::PATH_POLICY, b"").await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match state
        .svc
        .agent_policy(&keys.policy, &agent, &peer.ip().to_string())
        .await
    {
        Ok(p) => Json(p).into_response(),
        Err(e) => WebError::from_service(&e, Lang::Ja).json().into_response(),
    }
}

// ---- pages -----------------------------------------------------------------------------------

/// One agent in the list.
#[derive(Debug, Clone)]
pub struct AgentLine {
    pub id: i64,
    pub hostname: String,
    pub os: String,
    pub machine: String,
    pub asset: Option<(String, String)>,
    pub last_seen: String,
    pub silent: bool,
    pub revoked: bool,
    pub updates: Option<usize>,
    pub unencrypted: usize,
    pub disks: usize,
}

fn line(v: &AgentView) -> AgentLine {
    let s = &v.summary;
    AgentLine {
        id: v.row.id,
        hostname: v.row.hostname.clone(),
        os: s.os.clone(),
        machine: [s.vendor.as_str(), s.model.as_str()]
            .iter()
            .filter(|x| !x.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" "),
        asset: v.asset.clone(),
        last_seen: v.row.last_seen_ms.map(fmt_ms).unwrap_or_default(),
        silent: v.silent,
        revoked: v.row.revoked_ms.is_some(),
        updates: s.pending_updates,
        unencrypted: s.unencrypted_disks,
        disks: s.disks,
    }
}

/// One enrolment token.
#[derive(Debug, Clone)]
pub struct TokenLine {
    pub id: i64,
    pub note: String,
    pub groups: String,
    pub created: String,
    pub created_by: String,
    pub expires: String,
    pub state: String,
    pub tone: &'static str,
    pub usable: bool,
    pub agent: Option<i64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct EnrollForm {
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub groups: String,
}

#[derive(Template)]
#[template(path = "agents.html")]
pub struct AgentsPage {
    pub l: Layout,
    pub agents: Vec<AgentLine>,
    pub chart: String,
    /// USB devices plugged in over the last two weeks: usable and blocked per day.
    pub usb_chart: String,
    pub usb_blocked: u64,
    pub linked: usize,
    pub unknown: usize,
    pub silent: usize,
    pub updates: usize,
    pub unencrypted: usize,
    pub can_manage: bool,
    pub tokens: Vec<TokenLine>,
    pub form: EnrollForm,
    pub error: Option<FormError>,
    /// A token just made: (token, the command line to run on the PC).
    pub made: Option<(String, String)>,
    /// A certificate renewal in preparation: the next certificate's fingerprint.
    pub next_cert: Option<String>,
}

impl AgentsPage {
    pub fn err(&self, field: &str) -> Option<(String, &'static str)> {
        FormError::at(&self.error, "enroll", field)
    }

    /// The error of one of the standalone forms (`offline_enroll`, `offline_import`).
    pub fn err_in(&self, form: &str) -> Option<(String, &'static str)> {
        FormError::at(&self.error, form, "file")
    }
}

fn server_url(state: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("mamori.local");
    let scheme = if state.secure { "https" } else { "http" };
    format!("{scheme}://{host}")
}

async fn list_page(
    state: &AppState,
    p: &Page<perm::ViewAgents>,
    form: EnrollForm,
    error: Option<FormError>,
    made: Option<(String, String)>,
) -> Result<AgentsPage, WebError> {
    let lang = p.lang;
    let svc_err = |e: ServiceError| WebError::from_service(&e, lang);
    let views = state.svc.agents(&p.cap).await.map_err(svc_err)?;
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc_err)?;
    let active: Vec<&AgentView> = views
        .iter()
        .filter(|v| v.row.revoked_ms.is_none())
        .collect();
    let linked = active.iter().filter(|v| v.asset.is_some()).count();
    let unknown = active.len() - linked;
    let silent = active.iter().filter(|v| v.silent).count();
    let revoked = views.len() - active.len();
    let chart = svg::donut_chart(
        tr(lang, "agents.chart"),
        &[
            Bar::new(tr(lang, "agents.linked"), linked as u64, Tone::Good),
            Bar::new(tr(lang, "agents.unknown"), unknown as u64, Tone::Warn),
            Bar::new(tr(lang, "agents.revoked"), revoked as u64, Tone::Neutral),
        ]
        .into_iter()
        .filter(|b| b.value > 0)
        .collect::<Vec<_>>(),
        &active.len().to_string(),
        tr(lang, "agents.empty"),
    );
    let usb_days = state
        .svc
        .agent_usb_days(&p.cap, 14)
        .await
        .map_err(svc_err)?;
    let usb_blocked = usb_days.iter().map(|d| d.blocked).sum();
    let usb_chart = svg::hourly_chart(
        tr(lang, "agents.usb_chart"),
        &usb_days
            .iter()
            .map(|d| svg::Slot {
                good: d.usable,
                bad: d.blocked,
                tick: (d.day.weekday() == time::Weekday::Monday
                    || d == usb_days.last().unwrap_or(d))
                .then(|| format!("{}/{}", u8::from(d.day.month()), d.day.day())),
            })
            .collect::<Vec<_>>(),
        tr(lang, "agents.usb_chart_empty"),
    );
    let can_manage = p.view.actor.user.role.permits(Permission::ManageAgents);
    let tokens = if can_manage {
        let cap = p.view.actor.can::<perm::ManageAgents>().map_err(svc_err)?;
        state
            .svc
            .agent_enrollments(&cap)
            .await
            .map_err(svc_err)?
            .into_iter()
            .map(|t| {
                let (state_key, tone) = if t.row.used_ms.is_some() {
                    ("agents.token_used", "good")
                } else if t.usable {
                    ("agents.token_usable", "warn")
                } else {
                    ("agents.token_expired", "neutral")
                };
                TokenLine {
                    id: t.row.id,
                    note: t.row.note.clone(),
                    groups: t.row.groups.lines().collect::<Vec<_>>().join("、"),
                    created: fmt_ms(t.row.created_ms),
                    created_by: t.row.created_by.clone(),
                    expires: fmt_ms(t.row.expires_ms),
                    state: tr(lang, state_key).to_string(),
                    tone,
                    usable: t.usable,
                    agent: t.row.agent_id,
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(AgentsPage {
        next_cert: state.tls_next_fingerprint.clone(),
        l: Layout::new(lang, &p.view, &fac, "agents.title", "/agents"),
        updates: active
            .iter()
            .map(|v| v.summary.pending_updates.unwrap_or(0))
            .sum(),
        unencrypted: active
            .iter()
            .filter(|v| v.summary.unencrypted_disks > 0)
            .count(),
        agents: views.iter().map(line).collect(),
        chart,
        usb_chart,
        usb_blocked,
        linked,
        unknown,
        silent,
        can_manage,
        tokens,
        form,
        error,
        made,
    })
}

/// `/agents`.
pub async fn list(
    State(state): State<AppState>,
    p: Page<perm::ViewAgents>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let mut pg = list_page(&state, &p, EnrollForm::default(), None, None).await?;
    pg.l = pg.l.with_flash(q.get("ok").map(String::as_str));
    Ok(render(&pg))
}

/// `POST /agents/enroll`: makes a token and shows it once.
pub async fn enroll(
    State(state): State<AppState>,
    axum::Extension(keys): axum::Extension<AgentKeys>,
    Client(client): Client,
    headers: HeaderMap,
    view: Page<perm::ViewAgents>,
    p: Page<perm::ManageAgents>,
    form: CsrfForm<EnrollForm>,
) -> PageResult {
    let lang = p.lang;
    let f = form.into_inner();
    match state
        .svc
        .create_agent_enrollment(&p.cap, &f.note, &f.groups, keys.pin, &client)
        .await
    {
        Ok(token) => {
            let command = format!(
                "sudo mamori-agent enroll --server {} --token {token}",
                server_url(&state, &headers)
            );
            let pg = list_page(
                &state,
                &view,
                EnrollForm::default(),
                None,
                Some((token, command)),
            )
            .await?;
            Ok(render(&pg))
        }
        Err(ServiceError::Invalid { code, field }) => {
            let error = FormError::new(lang, "enroll", code, field);
            let pg = list_page(&state, &view, f, Some(error), None).await?;
            Ok((StatusCode::BAD_REQUEST, render(&pg)).into_response())
        }
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}

/// `POST /agents/enrollments/{id}/withdraw`.
pub async fn withdraw(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::ManageAgents>,
    Path(id): Path<i64>,
    _form: CsrfForm<HashMap<String, String>>,
) -> PageResult {
    state
        .svc
        .withdraw_agent_enrollment(&p.cap, id, &client)
        .await
        .map_err(|e| WebError::from_service(&e, p.lang))?;
    Ok(Redirect::to("/agents?ok=agent_token_withdrawn").into_response())
}

/// A table of text cells, for the inventory's lists.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub head: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Template)]
#[template(path = "agent.html")]
pub struct AgentPage {
    pub l: Layout,
    pub a: AgentRow,
    pub summary: Summary,
    pub enrolled: String,
    pub last_seen: String,
    pub inventory_at: String,
    pub inventory_full_at: String,
    pub groups: Vec<String>,
    pub has_inventory: bool,
    /// (label, value) of the machine.
    pub machine: Vec<(String, String)>,
    pub disks: Table,
    pub updates: Table,
    pub updates_known: bool,
    pub listening: Table,
    /// Running services (enabled ones from older agents), each with whether it is beyond the
    /// baseline of the agent's class.
    pub services: Vec<(String, bool)>,
    /// What it runs beyond the baseline of its class; `None`: no baseline applies.
    pub beyond: Option<Vec<String>>,
    pub accounts: Table,
    pub usb: Table,
    pub packages: Table,
    pub clock: String,
    pub clock_tone: &'static str,
    /// The ledger asset: (href, tag, name).
    pub asset: Option<(String, String, String)>,
    /// Assets it could be tied to: (id, "tag name", suggested).
    pub candidates: Vec<(i64, String, bool)>,
    pub classes: Vec<(&'static str, String)>,
    pub can_edit: bool,
    pub can_manage: bool,
    pub error: Option<FormError>,
    pub form: AgentForm,
    /// A code just made: (code, minutes).
    pub code: Option<(String, u32)>,
    pub lengths: Vec<u32>,
}

impl AgentPage {
    pub fn err(&self, form: &str, field: &str) -> Option<(String, &'static str)> {
        FormError::at(&self.error, form, field)
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct AgentForm {
    /// `link`, `unlink` or `register`.
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub asset_id: String,
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub class: String,
    #[serde(default)]
    pub minutes: String,
    #[serde(default)]
    pub reason: String,
    /// PC groups, one per line.
    #[serde(default)]
    pub groups: Option<String>,
}

fn table(head: &[&str], lang: Lang, rows: Vec<Vec<String>>) -> Table {
    Table {
        head: head.iter().map(|k| tr(lang, k).to_string()).collect(),
        rows,
    }
}

fn bytes_text(n: u64) -> String {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    let g = n as f64 / GIB;
    if g >= 1.0 {
        format!("{g:.0} GiB")
    } else {
        format!("{:.0} MiB", n as f64 / 1024.0 / 1024.0)
    }
}

async fn agent_page(
    state: &AppState,
    p: &Page<perm::ViewAgents>,
    id: i64,
    error: Option<FormError>,
    form: AgentForm,
    code: Option<(String, u32)>,
) -> Result<AgentPage, WebError> {
    let lang = p.lang;
    let svc_err = |e: ServiceError| WebError::from_service(&e, lang);
    let (a, inv, asset) = state.svc.agent_detail(&p.cap, id).await.map_err(svc_err)?;
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc_err)?;
    let inv = inv.unwrap_or_default();
    let summary = Summary::of(&inv);
    let beyond = match &asset {
        Some(x) => state
            .svc
            .beyond_baseline(&p.cap, x.class, &summary)
            .await
            .map_err(svc_err)?,
        None => None,
    };
    let services = summary
        .services
        .iter()
        .map(|s| (s.clone(), beyond.as_ref().is_some_and(|b| b.contains(s))))
        .collect();
    let yes_no = |b: bool| tr(lang, if b { "common.yes" } else { "common.no" }).to_string();
    let machine = vec![
        (tr(lang, "agents.os").to_string(), inv.os.name.clone()),
        (tr(lang, "agents.kernel").to_string(), inv.os.kernel.clone()),
        (
            tr(lang, "agents.machine").to_string(),
            format!("{} {}", inv.hardware.vendor, inv.hardware.model),
        ),
        (
            tr(lang, "agents.serial").to_string(),
            inv.hardware.serial.clone(),
        ),
        (
            tr(lang, "agents.cpu").to_string(),
            format!("{} ({})", inv.hardware.cpu_model, inv.hardware.cpu_threads),
        ),
        (
            tr(lang, "agents.memory").to_string(),
            bytes_text(inv.hardware.memory_bytes),
        ),
    ];
    let disks = table(
        &[
            "agents.disk",
            "agents.model",
            "agents.size",
            "agents.removable",
            "agents.encrypted",
        ],
        lang,
        inv.disks
            .iter()
            .map(|d| {
                vec![
                    d.name.clone(),
                    d.model.clone(),
                    bytes_text(d.size_bytes),
                    yes_no(d.removable),
                    yes_no(d.encrypted),
                ]
            })
            .collect(),
    );
    let updates_known = inv.pending_security_updates.is_some();
    let updates = table(
        &["agents.package", "agents.installed", "agents.available"],
        lang,
        inv.pending_security_updates
            .iter()
            .flatten()
            .map(|u| vec![u.name.clone(), u.installed.clone(), u.available.clone()])
            .collect(),
    );
    let listening = table(
        &["agents.proto", "agents.address", "agents.port"],
        lang,
        inv.listening
            .iter()
            .map(|l| vec![l.proto.clone(), l.address.clone(), l.port.to_string()])
            .collect(),
    );
    let accounts = table(
        &[
            "agents.login",
            "agents.uid",
            "agents.can_log_in",
            "agents.last_login",
        ],
        lang,
        inv.local_accounts
            .iter()
            .filter(|x| x.can_log_in || x.uid >= 1000)
            .map(|x| {
                vec![
                    x.name.clone(),
                    x.uid.to_string(),
                    yes_no(x.can_log_in),
                    x.last_login_ms.map(fmt_ms).unwrap_or_else(|| "—".into()),
                ]
            })
            .collect(),
    );
    let usb = table(
        &[
            "agents.port_usb",
            "agents.ids",
            "agents.product",
            "agents.class",
        ],
        lang,
        inv.usb_devices
            .iter()
            .map(|u| {
                vec![
                    u.port.clone(),
                    format!("{}:{} {}", u.vendor_id, u.product_id, u.serial),
                    format!("{} {}", u.manufacturer, u.product),
                    u.class.clone(),
                ]
            })
            .collect(),
    );
    let packages = table(
        &["agents.package", "agents.version", "agents.arch"],
        lang,
        inv.packages
            .iter()
            .map(|x| vec![x.name.clone(), x.version.clone(), x.arch.clone()])
            .collect(),
    );
    let (clock, clock_tone) = match &inv.clock {
        Some(c) => match c.offset_ms {
            Some(ms) => (
                format!("{:+.1} s ({})", ms as f64 / 1000.0, c.server),
                if ms.abs() > 60_000 { "bad" } else { "good" },
            ),
            None => (format!("{} ({})", c.error, c.server), "warn"),
        },
        None => (tr(lang, "agents.clock_none").to_string(), "neutral"),
    };
    let assets: Vec<Asset> = state
        .svc
        .store
        .records::<Asset>()
        .await
        .map_err(|e| svc_err(ServiceError::Store(e)))?;
    let taken: std::collections::HashSet<i64> = state
        .svc
        .store
        .agents()
        .await
        .map_err(|e| svc_err(ServiceError::Store(e)))?
        .into_iter()
        .filter(|x| x.id != id && x.revoked_ms.is_none())
        .filter_map(|x| x.asset_id)
        .collect();
    let host = a.hostname.to_lowercase();
    let serial = inv.hardware.serial.trim().to_lowercase();
    let mut candidates: Vec<(i64, String, bool)> = assets
        .iter()
        .filter(|x| x.status != AssetStatus::Disposed && !taken.contains(&x.id.0))
        .map(|x| {
            let suggested = x.name.to_lowercase() == host
                || (!serial.is_empty() && x.serial.trim().to_lowercase() == serial);
            (x.id.0, format!("{} {}", x.tag, x.name), suggested)
        })
        .collect();
    candidates.sort_by(|x, y| y.2.cmp(&x.2).then_with(|| x.1.cmp(&y.1)));
    let role = p.view.actor.user.role;
    Ok(AgentPage {
        l: Layout::new(lang, &p.view, &fac, "agents.detail_title", "/agents"),
        enrolled: fmt_ms(a.enrolled_ms),
        last_seen: a.last_seen_ms.map(fmt_ms).unwrap_or_default(),
        inventory_at: a.inventory_ms.map(fmt_ms).unwrap_or_default(),
        inventory_full_at: a.inventory_full_ms.map(fmt_ms).unwrap_or_default(),
        groups: a.groups.lines().map(str::to_string).collect(),
        has_inventory: a.inventory_ms.is_some(),
        machine,
        disks,
        updates,
        updates_known,
        listening,
        services,
        beyond,
        accounts,
        usb,
        packages,
        clock,
        clock_tone,
        asset: asset.map(|x| {
            (
                format!("/ledger/assets/{}", x.id.0),
                x.tag.clone(),
                x.name.clone(),
            )
        }),
        candidates,
        classes: AssetClass::CODES
            .iter()
            .map(|c| (*c, tr(lang, &format!("asset_class.{c}")).to_string()))
            .collect(),
        can_edit: role.permits(Permission::EditLedger),
        can_manage: role.permits(Permission::ManageAgents),
        summary,
        a,
        error,
        form,
        code,
        lengths: wire::UNLOCK_LENGTHS.to_vec(),
    })
}

/// `/agents/{id}`.
pub async fn show(
    State(state): State<AppState>,
    p: Page<perm::ViewAgents>,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let mut pg = agent_page(&state, &p, id, None, AgentForm::default(), None).await?;
    pg.l = pg.l.with_flash(q.get("ok").map(String::as_str));
    Ok(render(&pg))
}

async fn refused(
    state: &AppState,
    view: &Page<perm::ViewAgents>,
    id: i64,
    form_name: &str,
    f: AgentForm,
    e: ServiceError,
) -> PageResult {
    let lang = view.lang;
    match e {
        ServiceError::Invalid { code, field } => {
            let error = FormError::new(lang, form_name, code, field);
            let pg = agent_page(state, view, id, Some(error), f, None).await?;
            Ok((StatusCode::BAD_REQUEST, render(&pg)).into_response())
        }
        ServiceError::Fields(errors) => {
            let (code, field) = errors
                .first()
                .map(|x| (x.code, x.field))
                .unwrap_or(("AGT0043", "tag"));
            let error = FormError::new(lang, form_name, code, field);
            let pg = agent_page(state, view, id, Some(error), f, None).await?;
            Ok((StatusCode::BAD_REQUEST, render(&pg)).into_response())
        }
        e => Err(WebError::from_service(&e, lang)),
    }
}

/// `POST /agents/{id}/ledger`: ties the agent to an asset, unties it, or registers a new one.
pub async fn ledger(
    State(state): State<AppState>,
    Client(client): Client,
    view: Page<perm::ViewAgents>,
    p: Page<perm::EditLedger>,
    Path(id): Path<i64>,
    form: CsrfForm<AgentForm>,
) -> PageResult {
    let lang = p.lang;
    let f = form.into_inner();
    let svc = &state.svc;
    let (result, flash) = match f.action.as_str() {
        "link" => {
            let Ok(asset_id) = f.asset_id.trim().parse::<i64>() else {
                return refused(
                    &state,
                    &view,
                    id,
                    "link",
                    f,
                    ServiceError::Invalid {
                        code: "AGT0040",
                        field: "asset_id",
                    },
                )
                .await;
            };
            (
                svc.link_agent_asset(&p.cap, id, Some(asset_id), &client)
                    .await,
                "agent_linked",
            )
        }
        "unlink" => (
            svc.link_agent_asset(&p.cap, id, None, &client).await,
            "agent_unlinked",
        ),
        "register" => {
            let Some(class) = AssetClass::parse(f.class.trim()) else {
                return refused(
                    &state,
                    &view,
                    id,
                    "register",
                    f,
                    ServiceError::Invalid {
                        code: "AGT0044",
                        field: "class",
                    },
                )
                .await;
            };
            (
                svc.register_agent_asset(&p.cap, id, &f.tag, class, &client)
                    .await
                    .map(|_| ()),
                "agent_registered",
            )
        }
        _ => return Err(WebError::new(StatusCode::BAD_REQUEST, "REQ0003", lang)),
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/agents/{id}?ok={flash}")).into_response()),
        Err(e) => {
            let name = if f.action == "register" {
                "register"
            } else {
                "link"
            };
            refused(&state, &view, id, name, f, e).await
        }
    }
}

/// `POST /agents/{id}/groups`: the PC's groups; its policy follows at its next contact.
pub async fn groups(
    State(state): State<AppState>,
    Client(client): Client,
    view: Page<perm::ViewAgents>,
    p: Page<perm::ManageAgents>,
    Path(id): Path<i64>,
    form: CsrfForm<AgentForm>,
) -> PageResult {
    let f = form.into_inner();
    let text = f.groups.clone().unwrap_or_default();
    match state.svc.set_agent_groups(&p.cap, id, &text, &client).await {
        Ok(()) => Ok(Redirect::to(&format!("/agents/{id}?ok=agent_groups_saved")).into_response()),
        Err(e) => refused(&state, &view, id, "groups", f, e).await,
    }
}

/// `POST /agents/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::ManageAgents>,
    Path(id): Path<i64>,
    _form: CsrfForm<HashMap<String, String>>,
) -> PageResult {
    state
        .svc
        .revoke_agent(&p.cap, id, &client)
        .await
        .map_err(|e| WebError::from_service(&e, p.lang))?;
    Ok(Redirect::to(&format!("/agents/{id}?ok=agent_revoked")).into_response())
}

/// `POST /agents/{id}/unlock`: makes an emergency unlock code and shows it.
pub async fn unlock(
    State(state): State<AppState>,
    Client(client): Client,
    view: Page<perm::ViewAgents>,
    p: Page<perm::ManageAgents>,
    Path(id): Path<i64>,
    form: CsrfForm<AgentForm>,
) -> PageResult {
    let f = form.into_inner();
    let minutes = f.minutes.trim().parse::<u32>().unwrap_or(0);
    match state
        .svc
        .issue_agent_unlock(&p.cap, id, minutes, &f.reason, &client)
        .await
    {
        Ok(code) => {
            let pg = agent_page(
                &state,
                &view,
                id,
                None,
                AgentForm::default(),
                Some((code, minutes)),
            )
            .await?;
            Ok(render(&pg))
        }
        Err(e) => refused(&state, &view, id, "unlock", f, e).await,
    }
}

/// One device class on the policy page.
#[derive(Debug, Clone)]
pub struct ClassLine {
    /// Form field and message key suffix (`mass_storage` …).
    pub key: &'static str,
    pub mode: &'static str,
    /// Whether read-only can apply (storage and optical drives).
    pub read_only: bool,
}

/// One exception as the table shows it.
#[derive(Debug, Clone)]
pub struct ExceptionLine {
    pub device: String,
    pub mode: &'static str,
    pub users: String,
    pub groups: String,
    pub until: String,
    pub expired: bool,
    pub note: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    pub mass_storage: String,
    #[serde(default)]
    pub optical: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub bluetooth: String,
    #[serde(default)]
    pub other: String,
    #[serde(default)]
    pub exceptions: String,
    /// `1` when checked.
    #[serde(default)]
    pub encrypted_only: String,
    #[serde(default)]
    pub ntp_server: String,
}

#[derive(Template)]
#[template(path = "agent_policy.html")]
pub struct PolicyPage {
    pub l: Layout,
    pub classes: Vec<ClassLine>,
    pub encrypted_only: bool,
    pub ntp_server: String,
    pub exceptions: Vec<ExceptionLine>,
    /// The exceptions as text, for the form.
    pub text: String,
    pub version: i64,
    pub updated: String,
    pub updated_by: String,
    pub can_manage: bool,
    pub error: Option<FormError>,
}

impl PolicyPage {
    pub fn err(&self, field: &str) -> Option<(String, &'static str)> {
        FormError::at(&self.error, "policy", field)
    }
}

fn mode_key(m: wire::Mode) -> &'static str {
    match m {
        wire::Mode::Allow => "allow",
        wire::Mode::ReadOnly => "read_only",
        wire::Mode::Deny => "deny",
    }
}

fn mode_of(s: &str) -> Option<wire::Mode> {
    match s {
        "allow" => Some(wire::Mode::Allow),
        "read_only" => Some(wire::Mode::ReadOnly),
        "deny" => Some(wire::Mode::Deny),
        _ => None,
    }
}

async fn policy_page(
    state: &AppState,
    p: &Page<perm::ViewAgents>,
    shown: Option<(wire::Policy, String, String)>,
    error: Option<FormError>,
) -> Result<PolicyPage, WebError> {
    let lang = p.lang;
    let svc_err = |e: ServiceError| WebError::from_service(&e, lang);
    let view = state.svc.agent_usb_policy(&p.cap).await.map_err(svc_err)?;
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc_err)?;
    let now = state.svc.now_ms();
    let stored_text = mamori_service::agents::format_exceptions(&view.usb.exceptions);
    let stored_ntp = view
        .row
        .as_ref()
        .map(|r| r.ntp_server.clone())
        .unwrap_or_default();
    let (usb, text, ntp_server) = shown.unwrap_or((view.usb.clone(), stored_text, stored_ntp));
    let classes = vec![
        ClassLine {
            key: "mass_storage",
            mode: mode_key(usb.mass_storage),
            read_only: true,
        },
        ClassLine {
            key: "optical",
            mode: mode_key(usb.optical),
            read_only: true,
        },
        ClassLine {
            key: "phone",
            mode: mode_key(usb.phone),
            read_only: false,
        },
        ClassLine {
            key: "bluetooth",
            mode: mode_key(usb.bluetooth),
            read_only: false,
        },
        ClassLine {
            key: "other",
            mode: mode_key(usb.other),
            read_only: false,
        },
    ];
    let exceptions = view
        .usb
        .exceptions
        .iter()
        .map(|e| ExceptionLine {
            device: if e.serial.is_empty() {
                format!("{}:{}", e.vendor_id, e.product_id)
            } else {
                format!("{}:{}:{}", e.vendor_id, e.product_id, e.serial)
            },
            mode: mode_key(e.mode),
            users: e.users.join("、"),
            groups: e.groups.join("、"),
            until: e
                .expires_ms
                .map(|ms| mamori_service::clock::to_jst(ms - 1).date().to_string())
                .unwrap_or_default(),
            expired: e.expires_ms.is_some_and(|ms| ms <= now),
            note: e.note.clone(),
        })
        .collect();
    let (version, updated, updated_by) = match &view.row {
        Some(r) => (r.version, fmt_ms(r.updated_ms), r.updated_by.clone()),
        None => (0, String::new(), String::new()),
    };
    Ok(PolicyPage {
        l: Layout::new(lang, &p.view, &fac, "agents.policy_title", "/agents"),
        encrypted_only: usb.encrypted_only,
        ntp_server,
        classes,
        exceptions,
        text,
        version,
        updated,
        updated_by,
        can_manage: p.view.actor.user.role.permits(Permission::ManageAgents),
        error,
    })
}

/// `/agents/policy`: the removable-media policy every agent enforces.
pub async fn policy(
    State(state): State<AppState>,
    p: Page<perm::ViewAgents>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let mut pg = policy_page(&state, &p, None, None).await?;
    pg.l = pg.l.with_flash(q.get("ok").map(String::as_str));
    Ok(render(&pg))
}

/// `POST /agents/policy`: replaces the policy (a new version, fetched by every agent at its
/// next contact).
pub async fn set_policy(
    State(state): State<AppState>,
    Client(client): Client,
    view: Page<perm::ViewAgents>,
    p: Page<perm::ManageAgents>,
    form: CsrfForm<PolicyForm>,
) -> PageResult {
    let lang = p.lang;
    let f = form.into_inner();
    let mut modes = [wire::Mode::Deny; 5];
    let fields = [
        (&f.mass_storage, "mass_storage"),
        (&f.optical, "optical"),
        (&f.phone, "phone"),
        (&f.bluetooth, "bluetooth"),
        (&f.other, "other"),
    ];
    let mut error: Option<FormError> = None;
    for (slot, (value, field)) in modes.iter_mut().zip(fields) {
        match mode_of(value) {
            Some(m) => *slot = m,
            None if error.is_none() => {
                error = Some(FormError::new(lang, "policy", "AGT0067", field));
            }
            None => {}
        }
    }
    let [mass_storage, optical, phone, bluetooth, other] = modes;
    let exceptions = if error.is_none() {
        match mamori_service::agents::parse_exceptions(&f.exceptions, state.svc.now_ms()) {
            Ok(list) => list,
            Err(e) => {
                let mut fe = FormError::new(lang, "policy", e.code, "exceptions");
                fe.message = tr(lang, "agents.policy_line")
                    .replace("{line}", &e.line.to_string())
                    .replace("{message}", &fe.message);
                error = Some(fe);
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    let usb = wire::Policy {
        mass_storage,
        optical,
        phone,
        bluetooth,
        other,
        exceptions,
        encrypted_only: f.encrypted_only == "1",
    };
    let refuse = |error: FormError, usb: wire::Policy, text: String, ntp: String| async {
        let pg = policy_page(&state, &view, Some((usb, text, ntp)), Some(error)).await?;
        Ok::<Response, WebError>((StatusCode::BAD_REQUEST, render(&pg)).into_response())
    };
    if let Some(error) = error {
        return refuse(error, usb, f.exceptions, f.ntp_server).await;
    }
    match state
        .svc
        .set_agent_usb_policy(&p.cap, &usb, &f.ntp_server, &client)
        .await
    {
        Ok(_) => Ok(Redirect::to("/agents/policy?ok=agent_policy_saved").into_response()),
        Err(ServiceError::Invalid { code, field }) => {
            let error = FormError::new(lang, "policy", code, field);
            refuse(error, usb, f.exceptions, f.ntp_server).await
        }
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}

/// One class's card on the baselines page.
pub struct BaselineCard {
    /// `server` / `workstation`.
    pub class: &'static str,
    /// The text as saved, or (never saved) a first draft from what the agents report.
    pub text: String,
    pub saved: bool,
    pub rules: usize,
    pub updated: String,
    pub updated_by: String,
    /// (agent id, host, beyond the baseline).
    pub agents: Vec<(i64, String, Vec<String>)>,
    pub reported: Vec<(String, usize)>,
    pub chart: String,
}

#[derive(Template)]
#[template(path = "agent_baselines.html")]
pub struct BaselinesPage {
    pub l: Layout,
    pub cards: Vec<BaselineCard>,
    pub can_manage: bool,
    pub error: Option<FormError>,
    /// The class whose form the error is about.
    pub error_class: String,
}

impl BaselinesPage {
    pub fn err(&self, class: &str) -> Option<(String, &'static str)> {
        if self.error_class != class {
            return None;
        }
        FormError::at(&self.error, "baseline", "text")
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct BaselineForm {
    #[serde(default)]
    pub asset_class: String,
    #[serde(default)]
    pub text: String,
}

/// A first draft for a class that has no baseline yet: everything its agents report, for the
/// administrator to cut down.
fn draft(lang: Lang, reported: &[(String, usize)]) -> String {
    if reported.is_empty() {
        return String::new();
    }
    let mut text = format!("{}\n", tr(lang, "agents.baseline_draft_head"));
    for (item, n) in reported {
        text.push_str(&format!(
            "{item:<24} # {}\n",
            tr(lang, "agents.baseline_draft_count").replace("{count}", &n.to_string())
        ));
    }
    text
}

async fn baselines_page(
    state: &AppState,
    p: &Page<perm::ViewAgents>,
    refused: Option<(FormError, String, String)>,
) -> Result<BaselinesPage, WebError> {
    let lang = p.lang;
    let svc_err = |e: ServiceError| WebError::from_service(&e, lang);
    let views = state
        .svc
        .service_baseline_views(&p.cap)
        .await
        .map_err(svc_err)?;
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc_err)?;
    let (error, error_class) = match &refused {
        Some((e, class, _)) => (Some(e.clone()), class.clone()),
        None => (None, String::new()),
    };
    let mut cards = Vec::new();
    for v in views {
        let class = v.class.as_str();
        let within = v.agents.iter().filter(|a| a.2.is_empty()).count();
        let (good, bad, unchecked) = if v.baseline.is_some() {
            (within, v.agents.len() - within, 0)
        } else {
            (0, 0, v.agents.len())
        };
        let chart = svg::donut_chart(
            &tr(lang, "agents.baseline_chart")
                .replace("{class}", tr(lang, &format!("asset_class.{class}"))),
            &[
                Bar::new(
                    tr(lang, "agents.baseline_chart_within"),
                    good as u64,
                    Tone::Good,
                ),
                Bar::new(tr(lang, "agents.baseline_beyond"), bad as u64, Tone::Bad),
                Bar::new(
                    tr(lang, "agents.baseline_unchecked"),
                    unchecked as u64,
                    Tone::Neutral,
                ),
            ]
            .into_iter()
            .filter(|b| b.value > 0)
            .collect::<Vec<_>>(),
            &v.agents.len().to_string(),
            tr(lang, "agents.baseline_no_agents"),
        );
        let mut card = BaselineCard {
            class,
            text: match &v.row {
                Some(r) => r.body.clone(),
                None => draft(lang, &v.reported),
            },
            saved: v.row.is_some(),
            rules: v.baseline.as_ref().map_or(0, |b| b.rules.len()),
            updated: v
                .row
                .as_ref()
                .map(|r| fmt_ms(r.updated_ms))
                .unwrap_or_default(),
            updated_by: v
                .row
                .as_ref()
                .map(|r| r.updated_by.clone())
                .unwrap_or_default(),
            agents: v.agents,
            reported: v.reported,
            chart,
        };
        if let Some((_, c, text)) = &refused
            && c == class
        {
            card.text = text.clone();
        }
        cards.push(card);
    }
    Ok(BaselinesPage {
        l: Layout::new(lang, &p.view, &fac, "agents.baselines_title", "/agents"),
        cards,
        can_manage: p.view.actor.user.role.permits(Permission::ManageAgents),
        error,
        error_class,
    })
}

/// `/agents/baselines`: which ports and services may run on servers and on PCs (2-⑫/⑬), and
/// which devices run more.
pub async fn baselines(
    State(state): State<AppState>,
    p: Page<perm::ViewAgents>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let mut pg = baselines_page(&state, &p, None).await?;
    pg.l = pg.l.with_flash(q.get("ok").map(String::as_str));
    Ok(render(&pg))
}

/// `POST /agents/baselines`: saves one class's baseline (saving it unchanged records that it
/// was confirmed today).
pub async fn set_baseline(
    State(state): State<AppState>,
    Client(client): Client,
    view: Page<perm::ViewAgents>,
    p: Page<perm::ManageAgents>,
    form: CsrfForm<BaselineForm>,
) -> PageResult {
    let lang = p.lang;
    let f = form.into_inner();
    let e = match state
        .svc
        .set_service_baseline(&p.cap, &f.asset_class, &f.text, &client)
        .await
    {
        Ok(_) => {
            return Ok(Redirect::to("/agents/baselines?ok=agent_baseline_saved").into_response());
        }
        Err(BaselineError::Line(e)) => {
            let mut fe = FormError::new(lang, "baseline", e.code, "text");
            fe.message = tr(lang, "agents.policy_line")
                .replace("{line}", &e.line.to_string())
                .replace("{message}", &fe.message);
            fe
        }
        Err(BaselineError::Invalid(ServiceError::Invalid { code, .. })) => {
            FormError::new(lang, "baseline", code, "text")
        }
        Err(BaselineError::Invalid(e)) => return Err(WebError::from_service(&e, lang)),
    };
    let pg = baselines_page(&state, &view, Some((e, f.asset_class, f.text))).await?;
    Ok((StatusCode::BAD_REQUEST, render(&pg)).into_response())
}

/// A JSON file to save (an attachment, as every download: see `ledger::download`).
fn json_download(name: &str, value: &impl serde::Serialize) -> Result<Response, WebError> {
    let body = serde_json::to_vec_pretty(value)
        .map_err(|e| WebError::from_service(&ServiceError::Internal(e.to_string()), Lang::Ja))?;
    Ok(crate::web::ledger::download(
        body,
        "application/json",
        &crate::web::ledger::ascii_file_name(name),
        name,
    ))
}

/// The list page again with an error on one of the standalone forms.
async fn offline_refused(
    state: &AppState,
    view: &Page<perm::ViewAgents>,
    form: &str,
    code: &'static str,
) -> PageResult {
    let error = FormError::new(view.lang, form, code, "file");
    let pg = list_page(state, view, EnrollForm::default(), Some(error), None).await?;
    Ok((StatusCode::BAD_REQUEST, render(&pg)).into_response())
}

/// The file of a standalone form, or why there is none (too large, none chosen).
fn carried_file(upload: CsrfUpload) -> Result<Vec<u8>, &'static str> {
    if upload.too_large {
        return Err("AGT0073");
    }
    upload.file.map(|(_, b)| b).ok_or("AGT0075")
}

/// `POST /agents/offline/enroll`: a standalone PC's enrolment request file in, its answer file
/// out.
pub async fn offline_enroll(
    State(state): State<AppState>,
    axum::Extension(keys): axum::Extension<AgentKeys>,
    Client(client): Client,
    view: Page<perm::ViewAgents>,
    p: Page<perm::ManageAgents>,
    upload: CsrfUpload,
) -> PageResult {
    let bytes = match carried_file(upload) {
        Ok(b) => b,
        Err(code) => return offline_refused(&state, &view, "offline_enroll", code).await,
    };
    match state
        .svc
        .enroll_agent_offline(&p.cap, &keys.policy, &bytes, &client)
        .await
    {
        Ok(answer) => json_download(
            &format!("mamori-enrolment-{}.json", answer.hostname),
            &answer,
        ),
        Err(ServiceError::Invalid { code, .. }) => {
            offline_refused(&state, &view, "offline_enroll", code).await
        }
        Err(e) => Err(WebError::from_service(&e, p.lang)),
    }
}

/// `POST /agents/offline/import`: a standalone PC's export file in; its entries stored.
pub async fn offline_import(
    State(state): State<AppState>,
    Client(client): Client,
    view: Page<perm::ViewAgents>,
    p: Page<perm::ManageAgents>,
    upload: CsrfUpload,
) -> PageResult {
    let bytes = match carried_file(upload) {
        Ok(b) => b,
        Err(code) => return offline_refused(&state, &view, "offline_import", code).await,
    };
    match state
        .svc
        .import_agent_export(&p.cap, &bytes, state.collector.as_ref(), &client)
        .await
    {
        Ok((id, _)) => {
            Ok(Redirect::to(&format!("/agents/{id}?ok=agent_export_imported")).into_response())
        }
        Err(ServiceError::Invalid { code, .. }) => {
            offline_refused(&state, &view, "offline_import", code).await
        }
        Err(e) => Err(WebError::from_service(&e, p.lang)),
    }
}

/// `GET /agents/{id}/policy-file`: the newest policy for a standalone PC, to carry to it.
pub async fn policy_file(
    State(state): State<AppState>,
    axum::Extension(keys): axum::Extension<AgentKeys>,
    p: Page<perm::ManageAgents>,
    Path(id): Path<i64>,
) -> PageResult {
    let file = state
        .svc
        .agent_policy_file(&p.cap, &keys.policy, id)
        .await
        .map_err(|e| WebError::from_service(&e, p.lang))?;
    let version = serde_json::from_str::<wire::PolicyBody>(&file.policy.body)
        .map(|b| b.version)
        .unwrap_or(0);
    json_download(&format!("mamori-policy-agent{id}-v{version}.json"), &file)
}
