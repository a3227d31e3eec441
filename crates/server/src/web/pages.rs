//! Page and action handlers of the web UI.

use crate::web::AppState;
use crate::web::error::WebError;
use crate::web::extract::{AnySession, Client, CsrfForm, Page, Staged, UiLang, cookie, stage_home};
use crate::web::views::*;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_catalog::{Lang, tr};
use mamori_domain::facility::{FacilityKind, FacilitySettings};
use mamori_domain::findings;
use mamori_domain::period::PeriodError;
use mamori_domain::role::{Permission, Role};
use mamori_domain::{UserId, VendorId};
use mamori_reports::svg::{self, Bar, Tone};
use mamori_service::auth::{SetupInput, random_token};
use mamori_service::perm;
use mamori_service::users::CreateUser;
use mamori_service::{ServiceError, ServiceResult};
use mamori_storage::sessions::SessionStage;
use serde::Deserialize;
use std::collections::HashMap;

type PageResult = Result<Response, WebError>;

fn svc_err(lang: Lang) -> impl Fn(ServiceError) -> WebError {
    move |e| WebError::from_service(&e, lang)
}

/// The facility's name for the page frame (empty before setup).
pub(crate) async fn facility_name(state: &AppState) -> ServiceResult<String> {
    Ok(state
        .svc
        .facility()
        .await?
        .map(|f| f.name)
        .unwrap_or_default())
}

fn with_cookie(mut resp: Response, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// The pre-login CSRF token: the cookie's, or a new one to set.
fn pre_csrf(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    match cookie(headers, state.csrf_cookie()) {
        Some(t) if t.len() >= 32 => (t.to_string(), None),
        _ => {
            let t = random_token();
            let c = state.cookie(state.csrf_cookie(), &t, None);
            (t, Some(c))
        }
    }
}

fn page_with_pre_csrf(resp: Response, set: Option<String>) -> Response {
    match set {
        Some(c) => with_cookie(resp, &c),
        None => resp,
    }
}

/// Home of a role after login.
fn home_of(role: Role) -> &'static str {
    if role.permits(Permission::ViewDashboard) {
        "/"
    } else {
        "/vendor-portal"
    }
}

// ---------------------------------------------------------------------------------------------
// Health and static assets

pub async fn healthz() -> impl IntoResponse {
    axum::Json(mamori_proto::Health {
        status: "ok".into(),
    })
}

pub async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../assets/mamori.css"),
    )
}

pub async fn favicon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("../../assets/favicon.svg"),
    )
}

pub async fn webauthn_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../assets/webauthn.js"),
    )
}

pub async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../assets/mamori.js"),
    )
}

// ---------------------------------------------------------------------------------------------
// Language

#[derive(Deserialize)]
pub struct LangForm {
    lang: String,
}

pub async fn set_lang(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: CsrfForm<LangForm>,
) -> Response {
    let lang = Lang::parse(&form.0.lang).unwrap_or_default();
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| {
            r.split_once("://")
                .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
        })
        .filter(|p| p.starts_with('/') && !p.starts_with("//"))
        .unwrap_or_else(|| "/".to_string());
    let c = format!(
        "mamori_lang={}; Path=/; SameSite=Strict; Max-Age=31536000{}",
        lang.as_str(),
        if state.secure { "; Secure" } else { "" }
    );
    with_cookie(Redirect::to(&back).into_response(), &c)
}

// ---------------------------------------------------------------------------------------------
// Setup

fn kinds(lang: Lang, selected: &str) -> Vec<KindOption> {
    FacilityKind::ALL
        .iter()
        .map(|k| KindOption {
            code: k.as_str(),
            label: tr(lang, &format!("facility_kind.{}", k.as_str())).to_string(),
            selected: k.as_str() == selected,
        })
        .collect()
}

pub async fn setup_form(
    State(state): State<AppState>,
    UiLang(lang): UiLang,
    headers: HeaderMap,
) -> PageResult {
    if state.svc.is_set_up().await.map_err(svc_err(lang))? {
        return Ok(Redirect::to("/login").into_response());
    }
    let (csrf, set) = pre_csrf(&state, &headers);
    let page = SetupPage {
        f: AuthFrame::new(lang, "setup.title", &csrf),
        kinds: kinds(lang, "clinic"),
        facility_name: String::new(),
        beds: String::new(),
        admin_login: String::new(),
        admin_name: String::new(),
        field: None,
    };
    Ok(page_with_pre_csrf(render(&page), set))
}

#[derive(Deserialize)]
pub struct SetupForm {
    kind: String,
    facility_name: String,
    #[serde(default)]
    beds: String,
    admin_login: String,
    admin_name: String,
    password: String,
    password_confirm: String,
}

pub async fn setup_submit(
    State(state): State<AppState>,
    UiLang(lang): UiLang,
    Client(client): Client,
    headers: HeaderMap,
    form: CsrfForm<SetupForm>,
) -> PageResult {
    let f = form.into_inner();
    let (csrf, _) = pre_csrf(&state, &headers);
    let again = |code: &'static str, field: Option<&'static str>| SetupPage {
        f: AuthFrame::new(lang, "setup.title", &csrf).with_error(code),
        kinds: kinds(lang, &f.kind),
        facility_name: f.facility_name.clone(),
        beds: f.beds.clone(),
        admin_login: f.admin_login.clone(),
        admin_name: f.admin_name.clone(),
        field,
    };
    let Some(kind) = FacilityKind::parse(&f.kind) else {
        return Ok((
            StatusCode::BAD_REQUEST,
            render(&again("FAC0005", Some("kind"))),
        )
            .into_response());
    };
    let beds = match f.beds.trim() {
        "" => None,
        b => match b.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return Ok((
                    StatusCode::BAD_REQUEST,
                    render(&again("FAC0003", Some("beds"))),
                )
                    .into_response());
            }
        },
    };
    if f.password != f.password_confirm {
        return Ok((
            StatusCode::BAD_REQUEST,
            render(&again("PWD0011", Some("password_confirm"))),
        )
            .into_response());
    }
    let input = SetupInput {
        kind,
        facility_name: f.facility_name.clone(),
        beds,
        admin_login: f.admin_login.trim().to_string(),
        admin_name: f.admin_name.clone(),
        admin_password: f.password.clone(),
    };
    match state.svc.setup(&input, &client).await {
        Ok(_) => Ok(Redirect::to("/login?ok=setup_done").into_response()),
        Err(ServiceError::AlreadySetUp) => {
            Err(WebError::new(StatusCode::CONFLICT, "SET0001", lang))
        }
        Err(
            e @ (ServiceError::Invalid { .. }
            | ServiceError::Password(_)
            | ServiceError::LoginTaken),
        ) => {
            let field = e.field();
            Ok((StatusCode::BAD_REQUEST, render(&again(e.code(), field))).into_response())
        }
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}

// ---------------------------------------------------------------------------------------------
// Login

#[derive(Deserialize)]
pub struct FlashQuery {
    ok: Option<String>,
}

pub async fn login_form(
    State(state): State<AppState>,
    UiLang(lang): UiLang,
    headers: HeaderMap,
    Query(q): Query<FlashQuery>,
) -> PageResult {
    if !state.svc.is_set_up().await.map_err(svc_err(lang))? {
        return Ok(Redirect::to("/setup").into_response());
    }
    let (csrf, set) = pre_csrf(&state, &headers);
    let mut f = AuthFrame::new(lang, "login.title", &csrf);
    f.notice =
        q.ok.filter(|k| k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .map(|k| tr(lang, &format!("flash.{k}")).to_string());
    Ok(page_with_pre_csrf(
        render(&LoginPage {
            f,
            login_id: String::new(),
        }),
        set,
    ))
}

#[derive(Deserialize)]
pub struct LoginForm {
    login_id: String,
    password: String,
}

pub async fn login_submit(
    State(state): State<AppState>,
    UiLang(lang): UiLang,
    Client(client): Client,
    headers: HeaderMap,
    form: CsrfForm<LoginForm>,
) -> PageResult {
    let f = form.into_inner();
    match state.svc.login(&f.login_id, &f.password, &client).await {
        Ok(s) => {
            let c = state.cookie(state.session_cookie(), &s.token, None);
            let to = match s.stage {
                SessionStage::Full => match state.svc.resolve(&s.token).await {
                    Ok(v) => home_of(v.actor.role()),
                    Err(_) => "/",
                },
                other => stage_home(other),
            };
            Ok(with_cookie(Redirect::to(to).into_response(), &c))
        }
        Err(e @ (ServiceError::InvalidCredentials | ServiceError::Throttled { .. })) => {
            let (csrf, _) = pre_csrf(&state, &headers);
            let status = WebError::from_service(&e, lang).status;
            let page = LoginPage {
                f: AuthFrame::new(lang, "login.title", &csrf).with_error(e.code()),
                login_id: f.login_id.chars().take(64).collect(),
            };
            Ok((status, render(&page)).into_response())
        }
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}

async fn second_factor_page(
    state: &AppState,
    s: &Staged,
    error: Option<&'static str>,
) -> Result<TotpPage, WebError> {
    let keys = state
        .svc
        .store
        .credentials(s.view.actor.user.id)
        .await
        .map_err(|e| WebError::from_service(&e.into(), s.lang))?;
    let mut f = AuthFrame::new(s.lang, "totp.title", &s.view.csrf);
    if let Some(code) = error {
        f = f.with_error(code);
    }
    Ok(TotpPage {
        f,
        has_totp: s.view.actor.user.totp_enabled,
        has_keys: !keys.is_empty() && state.webauthn.is_some(),
    })
}

pub async fn totp_form(State(state): State<AppState>, s: Staged) -> PageResult {
    if s.view.stage != SessionStage::SecondFactor {
        return Ok(Redirect::to(stage_home(s.view.stage)).into_response());
    }
    Ok(render(&second_factor_page(&state, &s, None).await?))
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

pub async fn totp_submit(
    State(state): State<AppState>,
    Client(client): Client,
    s: Staged,
    form: CsrfForm<CodeForm>,
) -> PageResult {
    let lang = s.lang;
    match state
        .svc
        .verify_second_factor(&s.view, &form.0.code, &client)
        .await
    {
        Ok(SessionStage::Full) => Ok(Redirect::to(home_of(s.view.actor.role())).into_response()),
        Ok(stage) => Ok(Redirect::to(stage_home(stage)).into_response()),
        Err(e @ (ServiceError::InvalidCode | ServiceError::Throttled { .. })) => {
            let status = WebError::from_service(&e, lang).status;
            Ok((
                status,
                render(&second_factor_page(&state, &s, Some(e.code())).await?),
            )
                .into_response())
        }
        Err(ServiceError::NoSession) => Ok(Redirect::to("/login").into_response()),
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}

// ---------------------------------------------------------------------------------------------
// Security keys (WebAuthn)

fn json_response(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// A JSON body, or the error as JSON.
fn json_or_error(result: Result<String, WebError>) -> Response {
    match result {
        Ok(json) => json_response(json),
        Err(e) => e.json().into_response(),
    }
}

fn webauthn_of(
    state: &AppState,
    lang: Lang,
) -> Result<&mamori_service::webauthn::Webauthn, WebError> {
    state
        .webauthn
        .as_deref()
        .ok_or_else(|| WebError::new(StatusCode::CONFLICT, "WAN0009", lang))
}

pub async fn key_login_start(
    State(state): State<AppState>,
    s: Staged,
    _f: CsrfForm<Empty>,
) -> Response {
    let result = match webauthn_of(&state, s.lang) {
        Ok(wa) => state
            .svc
            .passkey_login_start(wa, &s.view)
            .await
            .map_err(svc_err(s.lang)),
        Err(e) => Err(e),
    };
    json_or_error(result)
}

#[derive(Deserialize)]
pub struct CredentialForm {
    credential: String,
}

pub async fn key_login_finish(
    State(state): State<AppState>,
    Client(client): Client,
    s: Staged,
    form: CsrfForm<CredentialForm>,
) -> PageResult {
    let lang = s.lang;
    let wa = webauthn_of(&state, lang)?;
    match state
        .svc
        .passkey_login_finish(wa, &s.view, &form.0.credential, &client)
        .await
    {
        Ok(SessionStage::Full) => Ok(Redirect::to(home_of(s.view.actor.role())).into_response()),
        Ok(stage) => Ok(Redirect::to(stage_home(stage)).into_response()),
        Err(
            e @ (ServiceError::InvalidCode
            | ServiceError::Throttled { .. }
            | ServiceError::Invalid { .. }),
        ) => {
            let status = WebError::from_service(&e, lang).status;
            Ok((
                status,
                render(&second_factor_page(&state, &s, Some(e.code())).await?),
            )
                .into_response())
        }
        Err(ServiceError::NoSession) => Ok(Redirect::to("/login").into_response()),
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}

pub async fn key_register_start(
    State(state): State<AppState>,
    s: Staged,
    _f: CsrfForm<Empty>,
) -> Response {
    let result = match webauthn_of(&state, s.lang) {
        Ok(wa) => state
            .svc
            .passkey_register_start(wa, &s.view)
            .await
            .map_err(svc_err(s.lang)),
        Err(e) => Err(e),
    };
    json_or_error(result)
}

#[derive(Deserialize)]
pub struct KeyRegisterForm {
    name: String,
    credential: String,
}

pub async fn key_register_finish(
    State(state): State<AppState>,
    Client(client): Client,
    s: Staged,
    form: CsrfForm<KeyRegisterForm>,
) -> PageResult {
    let lang = s.lang;
    let f = form.into_inner();
    let wa = webauthn_of(&state, lang)?;
    match state
        .svc
        .passkey_register_finish(wa, &s.view, &f.credential, &f.name, &client)
        .await
    {
        Ok((Some(codes), stage)) => Ok(render(&RecoveryCodesPage {
            f: AuthFrame::new(lang, "recovery.title", &s.view.csrf),
            codes,
            next: if stage == SessionStage::Full {
                home_of(s.view.actor.role())
            } else {
                stage_home(stage)
            },
        })),
        Ok((None, SessionStage::Full)) => Ok(Redirect::to("/account?ok=key_added").into_response()),
        Ok((None, stage)) => Ok(Redirect::to(stage_home(stage)).into_response()),
        Err(ServiceError::NoSession) => Ok(Redirect::to(stage_home(s.view.stage)).into_response()),
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}

pub async fn key_delete(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::OwnAccount>,
    Path(id): Path<String>,
    _f: CsrfForm<Empty>,
) -> PageResult {
    let lang = p.lang;
    let Ok(id) = id.parse::<i64>() else {
        return Err(WebError::new(StatusCode::NOT_FOUND, "GEN0404", lang));
    };
    state
        .svc
        .remove_passkey(&p.cap, id, &client)
        .await
        .map_err(svc_err(lang))?;
    Ok(Redirect::to("/account?ok=key_removed").into_response())
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn logout(
    State(state): State<AppState>,
    Client(client): Client,
    s: AnySession,
    _f: CsrfForm<Empty>,
) -> PageResult {
    state
        .svc
        .logout(&s.view, &client)
        .await
        .map_err(svc_err(s.lang))?;
    let c = state.cookie(state.session_cookie(), "", Some(0));
    Ok(with_cookie(
        Redirect::to("/login?ok=logged_out").into_response(),
        &c,
    ))
}

// ---------------------------------------------------------------------------------------------
// Idle lock

pub async fn lock_screen(
    State(state): State<AppState>,
    Client(client): Client,
    s: AnySession,
) -> PageResult {
    if s.view.stage != SessionStage::Full {
        return Ok(Redirect::to(stage_home(s.view.stage)).into_response());
    }
    state
        .svc
        .lock(&s.view, &client)
        .await
        .map_err(svc_err(s.lang))?;
    Ok(render(&LockPage {
        f: AuthFrame::new(s.lang, "lock.title", &s.view.csrf),
        user_name: s.view.actor.user.display_name.clone(),
    }))
}

#[derive(Deserialize)]
pub struct PasswordOnly {
    password: String,
}

pub async fn unlock(
    State(state): State<AppState>,
    Client(client): Client,
    s: AnySession,
    form: CsrfForm<PasswordOnly>,
) -> PageResult {
    match state.svc.unlock(&s.view, &form.0.password, &client).await {
        Ok(()) => Ok(Redirect::to(home_of(s.view.actor.role())).into_response()),
        Err(e @ (ServiceError::InvalidCredentials | ServiceError::Throttled { .. })) => {
            let status = WebError::from_service(&e, s.lang).status;
            Ok((
                status,
                render(&LockPage {
                    f: AuthFrame::new(s.lang, "lock.title", &s.view.csrf).with_error(e.code()),
                    user_name: s.view.actor.user.display_name.clone(),
                }),
            )
                .into_response())
        }
        Err(e) => Err(WebError::from_service(&e, s.lang)),
    }
}

/// The browser's activity ping: keeps an active user's session from idling out.
pub async fn ping(page: Page<perm::OwnAccount>, _f: CsrfForm<Empty>) -> Response {
    let _ = page;
    StatusCode::NO_CONTENT.into_response()
}

// ---------------------------------------------------------------------------------------------
// Own account: password, two-factor, sessions

pub async fn password_form(s: Staged) -> PageResult {
    Ok(render(&PasswordPage {
        f: AuthFrame::new(s.lang, "password.title", &s.view.csrf),
        forced: s.view.stage == SessionStage::ChangePassword,
        problems: Vec::new(),
    }))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
    new_password_confirm: String,
}

pub async fn password_submit(
    State(state): State<AppState>,
    Client(client): Client,
    s: Staged,
    form: CsrfForm<PasswordForm>,
) -> PageResult {
    let f = form.into_inner();
    let lang = s.lang;
    let forced = s.view.stage == SessionStage::ChangePassword;
    let fail = |code: &'static str, problems: Vec<String>| {
        (
            StatusCode::BAD_REQUEST,
            render(&PasswordPage {
                f: AuthFrame::new(lang, "password.title", &s.view.csrf).with_error(code),
                forced,
                problems,
            }),
        )
            .into_response()
    };
    if s.view.stage == SessionStage::SecondFactor {
        return Ok(Redirect::to(stage_home(s.view.stage)).into_response());
    }
    if f.new_password != f.new_password_confirm {
        return Ok(fail("PWD0011", Vec::new()));
    }
    match state
        .svc
        .change_password(&s.view, &f.current_password, &f.new_password, &client)
        .await
    {
        Ok(SessionStage::Full) if !forced => {
            Ok(Redirect::to("/account?ok=password_changed").into_response())
        }
        Ok(stage) => Ok(Redirect::to(stage_home(stage)).into_response()),
        Err(ServiceError::Password(problems)) => {
            let code = problems.first().map(|p| p.code()).unwrap_or("PWD0000");
            let lines = problems
                .iter()
                .map(|p| {
                    format!(
                        "{} ({})",
                        tr(lang, &format!("error.{}", p.code())),
                        p.code()
                    )
                })
                .collect();
            Ok(fail(code, lines))
        }
        Err(e @ (ServiceError::Invalid { .. } | ServiceError::Throttled { .. })) => {
            Ok(fail(e.code(), Vec::new()))
        }
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}

pub async fn two_factor_form(
    State(state): State<AppState>,
    Client(client): Client,
    s: Staged,
) -> PageResult {
    if s.view.stage == SessionStage::SecondFactor || s.view.stage == SessionStage::ChangePassword {
        return Ok(Redirect::to(stage_home(s.view.stage)).into_response());
    }
    let e = state
        .svc
        .begin_totp_enrollment(&s.view, &client)
        .await
        .map_err(svc_err(s.lang))?;
    Ok(render(&TwoFactorPage {
        f: AuthFrame::new(s.lang, "two_factor.title", &s.view.csrf),
        secret: e.secret_base32,
        qr_svg: e.qr_svg,
        forced: s.view.stage == SessionStage::EnrollTwoFactor,
        webauthn: state.webauthn.is_some(),
        webauthn_origin: state.webauthn_origin.clone(),
    }))
}

#[derive(Deserialize)]
pub struct EnrollForm {
    secret: String,
    code: String,
}

pub async fn two_factor_submit(
    State(state): State<AppState>,
    Client(client): Client,
    s: Staged,
    form: CsrfForm<EnrollForm>,
) -> PageResult {
    let f = form.into_inner();
    if s.view.stage == SessionStage::SecondFactor || s.view.stage == SessionStage::ChangePassword {
        return Ok(Redirect::to(stage_home(s.view.stage)).into_response());
    }
    match state
        .svc
        .confirm_totp_enrollment(&s.view, &f.secret, &f.code, &client)
        .await
    {
        Ok((codes, stage)) => Ok(render(&RecoveryCodesPage {
            f: AuthFrame::new(s.lang, "recovery.title", &s.view.csrf),
            codes,
            next: if stage == SessionStage::Full {
                home_of(s.view.actor.role())
            } else {
                stage_home(stage)
            },
        })),
        Err(e @ (ServiceError::InvalidCode | ServiceError::Throttled { .. })) => {
            let svg = qr_for(&f.secret, &s.view.actor.user.login_id);
            Ok((
                StatusCode::BAD_REQUEST,
                render(&TwoFactorPage {
                    f: AuthFrame::new(s.lang, "two_factor.title", &s.view.csrf)
                        .with_error(e.code()),
                    secret: f
                        .secret
                        .chars()
                        .filter(|c| c.is_ascii_alphanumeric())
                        .take(64)
                        .collect(),
                    qr_svg: svg,
                    forced: s.view.stage == SessionStage::EnrollTwoFactor,
                    webauthn: state.webauthn.is_some(),
                    webauthn_origin: state.webauthn_origin.clone(),
                }),
            )
                .into_response())
        }
        Err(e) => Err(WebError::from_service(&e, s.lang)),
    }
}

fn qr_for(secret: &str, login: &str) -> String {
    mamori_service::auth::totp_for(secret, login)
        .ok()
        .and_then(|t| qrcode::QrCode::new(t.get_url().as_bytes()).ok())
        .map(|q| {
            q.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .build()
        })
        .unwrap_or_default()
}

fn session_lines(
    rows: &[mamori_storage::sessions::SessionRow],
    current: &str,
    names: &HashMap<UserId, String>,
) -> Vec<SessionLine> {
    rows.iter()
        .map(|r| SessionLine {
            hash: r.token_hash.clone(),
            user: names.get(&r.user_id).cloned().unwrap_or_default(),
            created: fmt_ms(r.created_at_ms),
            last_seen: fmt_ms(r.last_seen_at_ms),
            source: r.source.clone(),
            agent: r.user_agent.chars().take(80).collect(),
            current: r.token_hash == current,
        })
        .collect()
}

pub async fn account_page(
    State(state): State<AppState>,
    p: Page<perm::OwnAccount>,
    Query(q): Query<FlashQuery>,
) -> PageResult {
    let lang = p.lang;
    let rows = state
        .svc
        .own_sessions(&p.cap)
        .await
        .map_err(svc_err(lang))?;
    let user = &p.view.actor.user;
    let has_second_factor = state
        .svc
        .has_second_factor(user)
        .await
        .map_err(svc_err(lang))?;
    let names = HashMap::from([(user.id, user.display_name.clone())]);
    let fac = facility_name(&state).await.map_err(svc_err(lang))?;
    let keys = state
        .svc
        .passkeys(&p.cap)
        .await
        .map_err(svc_err(lang))?
        .into_iter()
        .map(|k| KeyLine {
            id: k.id,
            name: k.name,
            created: fmt_ms(k.created_at_ms),
            last_used: k.last_used_at_ms.map(fmt_ms).unwrap_or_else(|| "—".into()),
        })
        .collect();
    Ok(render(&AccountPage {
        keys,
        webauthn: state.webauthn.is_some(),
        webauthn_origin: state.webauthn_origin.clone(),
        l: Layout::new(lang, &p.view, &fac, "account.title", "/account")
            .with_flash(q.ok.as_deref()),
        login_id: user.login_id.clone(),
        two_factor: has_second_factor,
        totp: user.totp_enabled,
        sessions: session_lines(&rows, &p.view.actor.session_hash, &names),
    }))
}

pub async fn revoke_session(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::OwnAccount>,
    Path(hash): Path<String>,
    _f: CsrfForm<Empty>,
) -> PageResult {
    state
        .svc
        .revoke_session(&p.view, &hash, &client)
        .await
        .map_err(svc_err(p.lang))?;
    let back = if p.view.actor.role().permits(Permission::ManageSessions)
        && !is_own(&state, &p, &hash).await
    {
        "/settings/sessions?ok=session_revoked"
    } else {
        "/account?ok=session_revoked"
    };
    Ok(Redirect::to(back).into_response())
}

async fn is_own(state: &AppState, p: &Page<perm::OwnAccount>, hash: &str) -> bool {
    state
        .svc
        .store
        .session(hash)
        .await
        .ok()
        .flatten()
        .is_some_and(|s| s.user_id == p.view.actor.user.id)
}

pub async fn sessions_page(
    State(state): State<AppState>,
    p: Page<perm::ManageSessions>,
    Query(q): Query<FlashQuery>,
) -> PageResult {
    let lang = p.lang;
    let rows = state
        .svc
        .all_sessions(&p.cap)
        .await
        .map_err(svc_err(lang))?;
    let names: HashMap<UserId, String> = state
        .svc
        .store
        .users()
        .await
        .map_err(|e| WebError::from_service(&e.into(), lang))?
        .into_iter()
        .map(|u| (u.id, format!("{} ({})", u.display_name, u.login_id)))
        .collect();
    let fac = facility_name(&state).await.map_err(svc_err(lang))?;
    Ok(render(&SessionsPage {
        l: Layout::new(lang, &p.view, &fac, "sessions.title", "/settings")
            .with_flash(q.ok.as_deref()),
        sessions: session_lines(&rows, &p.view.actor.session_hash, &names),
    }))
}

// ---------------------------------------------------------------------------------------------
// Dashboard

fn tone_of(n: usize) -> &'static str {
    if n == 0 { "good" } else { "bad" }
}

/// Collected logs that need a look: live sources gone silent, sources whose clocks are off
/// by more than the tolerance, and this server's own clock against the time server.
async fn log_findings(
    state: &AppState,
    cap: &mamori_service::Cap<perm::ViewLogs>,
    tolerance_ms: i64,
    lang: Lang,
) -> Result<Vec<FindingLine>, mamori_service::ServiceError> {
    use crate::web::sources::source_href;
    let views = state.svc.log_source_views(cap, tolerance_ms).await?;
    let mut out = Vec::new();
    let counts = state.svc.alert_counts(cap).await?;
    let new: i64 = counts
        .iter()
        .filter(|(s, _, _)| *s == mamori_domain::alert::AlertStatus::New)
        .map(|(_, _, n)| n)
        .sum();
    let serious: i64 = counts
        .iter()
        .filter(|(s, l, _)| {
            *s == mamori_domain::alert::AlertStatus::New
                && *l >= mamori_domain::alert::AlertLevel::High
        })
        .map(|(_, _, n)| n)
        .sum();
    if new > 0 {
        out.push(FindingLine {
            tone: if serious > 0 { "bad" } else { "warn" },
            text: mamori_catalog::messages::fill(
                tr(lang, "finding.alerts_new"),
                &[("n", &new.to_string()), ("serious", &serious.to_string())],
            ),
            href: "/alerts?status=new",
            links: Vec::new(),
        });
    }
    let line =
        |tone, key: &str, list: &[&mamori_service::sources::SourceView], extra: &[(&str, &str)]| {
            let names: Vec<&str> = list.iter().take(5).map(|v| v.row.name.as_str()).collect();
            let n = list.len().to_string();
            let joined = names.join("、");
            let mut args: Vec<(&str, &str)> = vec![("n", &n), ("names", &joined)];
            args.extend_from_slice(extra);
            FindingLine {
                tone,
                text: mamori_catalog::messages::fill(tr(lang, key), &args),
                href: "/logs/sources",
                links: list
                    .iter()
                    .take(10)
                    .map(|v| (source_href(&v.row.name), v.row.name.clone()))
                    .collect(),
            }
        };
    let silent: Vec<_> = views.iter().filter(|v| v.silent).collect();
    if !silent.is_empty() {
        out.push(line("warn", "finding.logs_silent", &silent, &[]));
    }
    let drifting: Vec<_> = views.iter().filter(|v| v.drifting).collect();
    if !drifting.is_empty() {
        let secs = (tolerance_ms / 1000).to_string();
        out.push(line(
            "warn",
            "finding.logs_drifting",
            &drifting,
            &[("seconds", &secs)],
        ));
    }
    if let Some(off) = state
        .svc
        .last_clock_check(cap)
        .await?
        .filter(|c| state.svc.clock.now_ms() - c.at_ms < 2 * 86_400_000)
        .and_then(|c| c.offset_ms)
        .filter(|o| o.abs() > tolerance_ms)
    {
        out.push(FindingLine {
            tone: "bad",
            text: mamori_catalog::messages::fill(
                tr(lang, "finding.own_clock"),
                // As on the sources page: this clock against the time server's.
                &[("seconds", &format!("{:+.1}", -(off as f64) / 1000.0))],
            ),
            href: "/logs/sources",
            links: Vec::new(),
        });
    }
    Ok(out)
}

pub async fn dashboard(
    State(state): State<AppState>,
    axum::Extension(crate::web::sources::ClockTolerance(tolerance)): axum::Extension<
        crate::web::sources::ClockTolerance,
    >,
    p: Page<perm::ViewDashboard>,
    Query(q): Query<FlashQuery>,
) -> PageResult {
    let lang = p.lang;
    let d = state.svc.dashboard(&p.cap).await.map_err(svc_err(lang))?;
    let fac = facility_name(&state).await.map_err(svc_err(lang))?;
    let t = |k: &str| tr(lang, k).to_string();
    // The checklist of this fiscal year, for those who may see it: answered items and, loudly,
    // answers the evidence contradicts.
    let checklist = match p.view.actor.can::<perm::ViewChecklist>() {
        Ok(cap) => {
            let key = state.svc.default_form().await.map_err(svc_err(lang))?;
            Some(
                state
                    .svc
                    .assessment(&cap, &key)
                    .await
                    .map_err(svc_err(lang))?,
            )
        }
        Err(_) => None,
    };
    let mut stats = vec![
        Stat {
            label: t("dashboard.stat_assets"),
            value: d.assets_active.to_string(),
            tone: "neutral",
            href: "/ledger",
        },
        Stat {
            label: t("dashboard.stat_leaver_accounts"),
            value: d.leaver_accounts.len().to_string(),
            tone: tone_of(d.leaver_accounts.len()),
            href: "/accounts",
        },
        Stat {
            label: t("dashboard.stat_eol"),
            value: d.assets_past_eol.len().to_string(),
            tone: if d.assets_past_eol.is_empty() {
                "good"
            } else {
                "warn"
            },
            href: "/ledger",
        },
    ];
    if let Some(a) = &checklist {
        let tally = a.tally();
        stats.insert(
            1,
            Stat {
                label: t("dashboard.stat_checklist"),
                value: format!("{} / {}", a.items.len() - tally.unanswered, a.items.len()),
                tone: if tally.contradictions > 0 {
                    "bad"
                } else if tally.unanswered > 0 {
                    "warn"
                } else {
                    "good"
                },
                href: "/checklist",
            },
        );
    }
    let mut findings = Vec::new();
    if let Some(v) = d.seal_verification.as_ref().filter(|v| !v.ok) {
        findings.push(FindingLine {
            tone: "bad",
            text: mamori_catalog::messages::fill(
                tr(lang, "finding.seal_failed"),
                &[
                    ("at", &fmt_ms(v.at_ms)),
                    (
                        "index",
                        &v.bad_index.map_or_else(|| "—".into(), |i| i.to_string()),
                    ),
                ],
            ),
            href: "/logs#seal",
            links: Vec::new(),
        });
    }
    if let Ok(cap) = p.view.actor.can::<perm::ViewLogs>() {
        findings.extend(
            log_findings(&state, &cap, tolerance, lang)
                .await
                .map_err(svc_err(lang))?,
        );
    }
    if let Some(a) = &checklist {
        let tally = a.tally();
        if tally.contradictions > 0 {
            let ids: Vec<&str> = a
                .items
                .iter()
                .filter(|i| i.has(mamori_domain::checklist::Flag::Contradiction))
                .map(|i| i.item.id.as_str())
                .collect();
            findings.push(FindingLine {
                tone: "bad",
                text: mamori_catalog::messages::fill(
                    tr(lang, "finding.checklist_contradictions"),
                    &[
                        ("n", &tally.contradictions.to_string()),
                        ("items", &ids.join("、")),
                    ],
                ),
                href: "/checklist#contradictions",
                links: a
                    .items
                    .iter()
                    .filter(|i| i.has(mamori_domain::checklist::Flag::Contradiction))
                    .map(|i| {
                        (
                            format!(
                                "/checklist/items/{}?{}",
                                i.item.key,
                                crate::web::checklist::form_qs(&a.key)
                            ),
                            format!(
                                "{} {}",
                                i.item.id,
                                tr(lang, &format!("checklist_topic.{}", i.item.key))
                            ),
                        )
                    })
                    .collect(),
            });
        }
        if tally.expiring > 0 {
            findings.push(FindingLine {
                tone: "warn",
                text: mamori_catalog::messages::fill(
                    tr(lang, "finding.checklist_expiring"),
                    &[("n", &tally.expiring.to_string())],
                ),
                href: "/checklist",
                links: Vec::new(),
            });
        }
    }
    if !d.leaver_accounts.is_empty() {
        let names: Vec<String> = d
            .leaver_accounts
            .iter()
            .take(5)
            .map(|l| format!("{}（{}）", l.person_name, l.login_id))
            .collect();
        findings.push(FindingLine {
            tone: "bad",
            text: mamori_catalog::messages::fill(
                tr(lang, "finding.leavers"),
                &[
                    ("n", &d.leaver_accounts.len().to_string()),
                    ("names", &names.join("、")),
                ],
            ),
            href: "/accounts",
            links: Vec::new(),
        });
    }
    if !d.assets_past_eol.is_empty() {
        let names: Vec<String> = d
            .assets_past_eol
            .iter()
            .take(5)
            .map(|a| a.name.clone())
            .collect();
        findings.push(FindingLine {
            tone: "warn",
            text: mamori_catalog::messages::fill(
                tr(lang, "finding.eol"),
                &[
                    ("n", &d.assets_past_eol.len().to_string()),
                    ("names", &names.join("、")),
                ],
            ),
            href: "/ledger",
            links: Vec::new(),
        });
    }
    if d.dormant_accounts > 0 {
        findings.push(FindingLine {
            tone: "warn",
            text: mamori_catalog::messages::fill(
                tr(lang, "finding.dormant"),
                &[("n", &d.dormant_accounts.to_string())],
            ),
            href: "/accounts",
            links: Vec::new(),
        });
    }
    // 棚卸: one line listing every registry whose review is missing or older than the cycle,
    // each linking to its registry's page (where the review is signed off).
    let reviews = state.svc.review_states().await.map_err(svc_err(lang))?;
    let due: Vec<_> = reviews.iter().filter(|(_, r)| r.overdue).collect();
    if let Some((_, first)) = due.first() {
        findings.push(FindingLine {
            tone: "warn",
            text: mamori_catalog::messages::fill(
                tr(lang, "finding.reviews_due"),
                &[
                    ("n", &due.len().to_string()),
                    ("cycle", &first.cycle_days.to_string()),
                ],
            ),
            href: "/ledger",
            links: due
                .iter()
                .map(|(kind, r)| {
                    let registry = tr(lang, &format!("registry.{}", kind.plural())).to_string();
                    let text = match r.age_days {
                        Some(days) => mamori_catalog::messages::fill(
                            tr(lang, "finding.review_overdue"),
                            &[("registry", &registry), ("n", &days.to_string())],
                        ),
                        None => mamori_catalog::messages::fill(
                            tr(lang, "finding.review_never"),
                            &[("registry", &registry)],
                        ),
                    };
                    (format!("/ledger/{}", kind.plural()), text)
                })
                .collect(),
        });
    }
    if d.vendors_unconfirmed_remote > 0 {
        findings.push(FindingLine {
            tone: "warn",
            text: mamori_catalog::messages::fill(
                tr(lang, "finding.remote_unconfirmed"),
                &[("n", &d.vendors_unconfirmed_remote.to_string())],
            ),
            href: "/vendors",
            links: Vec::new(),
        });
    }
    if d.users_two_factor < d.users_total {
        findings.push(FindingLine {
            tone: "warn",
            text: mamori_catalog::messages::fill(
                tr(lang, "finding.users_without_2fa"),
                &[("n", &(d.users_total - d.users_two_factor).to_string())],
            ),
            href: "/settings",
            links: Vec::new(),
        });
    }
    let class_bars: Vec<Bar> = d
        .assets_by_class
        .iter()
        .enumerate()
        .map(|(i, (c, n))| Bar {
            label: tr(lang, &format!("asset_class.{}", c.as_str())).to_string(),
            value: *n as u64,
            tone: Tone::Series((i % 6) as u8),
        })
        .collect();
    let patch_keys = [
        "patch.le30",
        "patch.le90",
        "patch.le180",
        "patch.older",
        "patch.unknown",
    ];
    let patch_tones = [Tone::Good, Tone::Neutral, Tone::Warn, Tone::Bad, Tone::Bad];
    let patch_bars: Vec<Bar> = d
        .patch_buckets
        .iter()
        .zip(patch_keys.iter().zip(patch_tones))
        .map(|(n, (k, tone))| Bar {
            label: t(k),
            value: *n as u64,
            tone,
        })
        .collect();
    let healthy = d.accounts_enabled.saturating_sub(d.leaver_accounts.len());
    let account_slices = vec![
        Bar {
            label: t("dashboard.accounts_ok"),
            value: healthy as u64,
            tone: Tone::Good,
        },
        Bar {
            label: t("dashboard.accounts_leaver"),
            value: d.leaver_accounts.len() as u64,
            tone: Tone::Bad,
        },
        Bar {
            label: t("dashboard.accounts_disabled"),
            value: d.accounts_disabled as u64,
            tone: Tone::Neutral,
        },
    ];
    let tfa_slices = vec![
        Bar {
            label: t("dashboard.two_factor_on"),
            value: d.users_two_factor as u64,
            tone: Tone::Good,
        },
        Bar {
            label: t("dashboard.two_factor_off"),
            value: d.users_total.saturating_sub(d.users_two_factor) as u64,
            tone: Tone::Warn,
        },
    ];
    let empty = t("chart.empty");
    Ok(render(&DashboardPage {
        l: Layout::new(lang, &p.view, &fac, "dashboard.title", "/").with_flash(q.ok.as_deref()),
        stats,
        findings,
        charts: vec![
            (
                t("dashboard.chart_classes"),
                svg::bar_chart(&t("dashboard.chart_classes"), &class_bars, &empty),
            ),
            (
                t("dashboard.chart_patch"),
                svg::column_chart(&t("dashboard.chart_patch"), &patch_bars, &empty),
            ),
            (
                t("dashboard.chart_accounts"),
                svg::donut_chart(
                    &t("dashboard.chart_accounts"),
                    &account_slices,
                    &t("dashboard.center_accounts"),
                    &empty,
                ),
            ),
            (
                t("dashboard.chart_two_factor"),
                svg::donut_chart(
                    &t("dashboard.chart_two_factor"),
                    &tfa_slices,
                    &t("dashboard.center_users"),
                    &empty,
                ),
            ),
        ],
        recent: d
            .recent_audit
            .iter()
            .map(|r| AuditLine::of(lang, r))
            .collect(),
        today: mamori_domain::wareki::format_wareki(d.today),
    }))
}

// ---------------------------------------------------------------------------------------------
// Ledger, accounts, vendors

/// Accounts listed on `/accounts` (those with findings come first).
const ACCOUNTS_SHOWN: usize = 300;

pub async fn accounts(State(state): State<AppState>, p: Page<perm::ViewAccounts>) -> PageResult {
    let lang = p.lang;
    let v = state
        .svc
        .accounts_view(&p.cap)
        .await
        .map_err(svc_err(lang))?;
    let persons: HashMap<_, _> = v.persons.iter().map(|x| (x.id, x)).collect();
    let systems: HashMap<_, _> = v.systems.iter().map(|x| (x.id, x.name.clone())).collect();
    let leaver: HashMap<_, i64> = v
        .leavers
        .iter()
        .map(|l| (l.account_id, l.days_since_left))
        .collect();
    let dormant: Vec<_> =
        findings::dormant_accounts(&v.accounts, v.today, i64::from(v.dormant_days));
    let mut rows: Vec<AccountLine> = v
        .accounts
        .iter()
        .map(|a| AccountLine {
            href: format!("/ledger/accounts/{}", a.id),
            system: systems.get(&a.system_id).cloned().unwrap_or_default(),
            login_id: a.login_id.clone(),
            owner: a
                .person_id
                .and_then(|id| persons.get(&id))
                .map(|p| p.name.clone())
                .unwrap_or_else(|| "—".into()),
            kind_label: tr(lang, &format!("account_kind.{}", a.kind.as_str())).to_string(),
            admin: a.is_admin,
            enabled: a.enabled,
            last_login: fmt_date(a.last_login_on),
            two_factor: a.two_factor,
            leaver_days: leaver.get(&a.id).copied(),
            dormant: dormant.contains(&a.id),
            unapproved: a.enabled && a.is_admin && a.admin_approved_by.is_none(),
            locked_out: a.enabled && a.locked_out,
            never_expires: a.enabled && a.pw_never_expires,
        })
        .collect();
    let unapproved = rows.iter().filter(|r| r.unapproved).count();
    rows.sort_by_key(|r| {
        (
            r.leaver_days.is_none(),
            !r.dormant,
            !(r.unapproved || r.locked_out),
            r.system.clone(),
            r.login_id.clone(),
        )
    });
    let bars = vec![
        Bar {
            label: tr(lang, "dashboard.accounts_leaver").to_string(),
            value: v.leavers.len() as u64,
            tone: Tone::Bad,
        },
        Bar {
            label: tr(lang, "accounts.dormant").to_string(),
            value: dormant.len() as u64,
            tone: Tone::Warn,
        },
        Bar {
            label: tr(lang, "accounts.admins").to_string(),
            value: v
                .accounts
                .iter()
                .filter(|a| a.enabled && a.is_admin)
                .count() as u64,
            tone: Tone::Neutral,
        },
        Bar {
            label: tr(lang, "accounts.unapproved").to_string(),
            value: unapproved as u64,
            tone: Tone::Warn,
        },
        Bar {
            label: tr(lang, "accounts.shared").to_string(),
            value: v
                .accounts
                .iter()
                .filter(|a| a.enabled && a.kind == mamori_domain::ledger::AccountKind::Shared)
                .count() as u64,
            tone: Tone::Warn,
        },
    ];
    // Findings first, then a bounded list: a directory brings thousands of accounts, which the
    // ledger's account list pages and searches.
    let total = rows.len();
    rows.truncate(ACCOUNTS_SHOWN);
    let fac = facility_name(&state).await.map_err(svc_err(lang))?;
    Ok(render(&AccountsPage {
        l: Layout::new(lang, &p.view, &fac, "accounts.title", "/accounts"),
        total,
        leavers: v.leavers.len(),
        dormant: dormant.len(),
        dormant_days: v.dormant_days,
        chart_title: tr(lang, "accounts.chart").to_string(),
        chart: svg::bar_chart(tr(lang, "accounts.chart"), &bars, tr(lang, "chart.empty")),
        rows,
    }))
}

pub(crate) fn vendor_lines(
    lang: Lang,
    vendors: &[mamori_domain::ledger::Vendor],
    systems: &[mamori_domain::ledger::InfoSystem],
) -> Vec<VendorLine> {
    vendors
        .iter()
        .map(|v| {
            let (remote, tone) = match v.remote_maintenance {
                Some(true) => (tr(lang, "vendors.remote_yes"), "warn"),
                Some(false) => (tr(lang, "vendors.remote_no"), "good"),
                None => (tr(lang, "vendors.remote_unknown"), "bad"),
            };
            VendorLine {
                href: format!("/ledger/vendors/{}", v.id),
                name: v.name.clone(),
                services: v.services.clone(),
                systems: systems
                    .iter()
                    .filter(|s| s.vendor_id == Some(v.id))
                    .map(|s| s.name.clone())
                    .collect::<Vec<_>>()
                    .join("、"),
                phone: v.phone.clone(),
                email: v.email.clone(),
                remote: remote.to_string(),
                remote_tone: tone,
            }
        })
        .collect()
}

pub async fn vendors(State(state): State<AppState>, p: Page<perm::ViewVendors>) -> PageResult {
    let lang = p.lang;
    let (vendors, systems) = state.svc.vendors(&p.cap).await.map_err(svc_err(lang))?;
    let fac = facility_name(&state).await.map_err(svc_err(lang))?;
    Ok(render(&VendorsPage {
        l: Layout::new(lang, &p.view, &fac, "vendors.title", "/vendors"),
        vendors: vendor_lines(lang, &vendors, &systems),
    }))
}

// ---------------------------------------------------------------------------------------------
// Checklist, logs, backups

#[derive(Deserialize)]
pub struct LogsQuery {
    page: Option<i64>,
}

/// The bundle download form as typed, and why it was refused.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BundleQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

async fn logs_page(
    state: &AppState,
    p: &Page<perm::ViewLogs>,
    page: i64,
    verify: Option<VerifyResult>,
    bundle: (BundleQuery, Option<String>),
) -> PageResult {
    let lang = p.lang;
    let can_audit = p.view.actor.role().permits(Permission::ViewAudit);
    let (lines, total, seal, verifications) = match p.view.actor.can::<perm::ViewAudit>() {
        Ok(cap) => {
            let per = 50;
            let (rows, total) = state
                .svc
                .audit_page(&cap, per, (page - 1) * per)
                .await
                .map_err(svc_err(lang))?;
            let seal = state
                .svc
                .seal_status(&cap)
                .await
                .map_err(svc_err(lang))?
                .map(|st| SealView {
                    sealed: st.sealed,
                    pending: st.pending.max(0),
                    head: st
                        .head
                        .as_ref()
                        .map(|h| format!("{} ({})", fmt_ms(h.1), h.0))
                        .unwrap_or_else(|| "—".into()),
                    root: st.head.map(|h| h.2).unwrap_or_default(),
                    fingerprint: st.fingerprint,
                    public_key: st.public_key_hex,
                    diverged: st.diverged,
                });
            let verifications = state
                .svc
                .seal_verifications(10)
                .await
                .map_err(svc_err(lang))?
                .iter()
                .map(|v| VerificationLine::of(lang, v))
                .collect();
            (
                rows.iter().map(|r| AuditLine::of(lang, r)).collect(),
                total,
                seal,
                verifications,
            )
        }
        Err(_) => (Vec::new(), 0, None, Vec::new()),
    };
    let fac = facility_name(state).await.map_err(svc_err(lang))?;
    let (form, bundle_error) = bundle;
    Ok(render(&LogsPage {
        l: Layout::new(lang, &p.view, &fac, "logs.title", "/logs"),
        lines,
        total,
        page,
        pages: ((total + 49) / 50).max(1),
        can_audit,
        verify,
        seal,
        verifications,
        bundle_from: form.from,
        bundle_to: form.to,
        bundle_error,
    }))
}

pub async fn logs(
    State(state): State<AppState>,
    p: Page<perm::ViewLogs>,
    Query(q): Query<LogsQuery>,
) -> PageResult {
    let page = q.page.unwrap_or(1).clamp(1, 1_000_000);
    logs_page(&state, &p, page, None, Default::default()).await
}

pub async fn logs_verify(
    State(state): State<AppState>,
    p: Page<perm::ViewLogs>,
    a: Page<perm::ViewAudit>,
) -> PageResult {
    let lang = p.lang;
    let s = state
        .svc
        .verify_audit(&a.cap)
        .await
        .map_err(svc_err(lang))?;
    let v = VerifyResult {
        ok: s.broken.is_none(),
        verified: s.verified,
        head: s.head_hash_hex,
        problem: s.broken.map(|b| b.to_string()).unwrap_or_default(),
    };
    logs_page(&state, &p, 1, Some(v), Default::default()).await
}

/// Verifies the whole sealed log as an inspector would, with the facility's key, and records the
/// result (shown on the logs page, whatever it was).
pub async fn seal_verify(
    State(state): State<AppState>,
    Client(client): Client,
    a: Page<perm::ViewAudit>,
    _f: CsrfForm<Empty>,
) -> PageResult {
    state
        .svc
        .seal_verify_now(&a.cap, &client)
        .await
        .map_err(svc_err(a.lang))?;
    Ok(Redirect::to("/logs#seal").into_response())
}

/// `20261101`.
fn ymd(ms: i64) -> String {
    let d = mamori_service::clock::to_jst(ms).date();
    format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Downloads the sealed log, or the records received in a period (JST dates or date-times, `to`
/// inclusive), as a bundle for offline verification (`mamori verify`). Bad input shows the logs
/// page with the reason next to the form, and nothing is downloaded.
pub async fn seal_bundle(
    State(state): State<AppState>,
    p: Page<perm::ViewLogs>,
    a: Page<perm::ViewAudit>,
    q: Result<Query<BundleQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let lang = p.lang;
    let form = q.map(|Query(q)| q).unwrap_or_default();
    let label = |key: &str| tr(lang, key).to_string();
    let detail = |e: &mamori_domain::period::MomentError| match lang {
        Lang::Ja => e.message_ja(),
        Lang::En => e.message_en(),
    };
    let refused = match mamori_domain::period::parse_period(Some(&form.from), Some(&form.to)) {
        Err(PeriodError::From(e)) => Err(format!(
            "SEA0003 {}: {} {} ({})",
            label("seal.bundle_from"),
            label("error.SEA0003"),
            detail(&e),
            e.code()
        )),
        Err(PeriodError::To(e)) => Err(format!(
            "SEA0003 {}: {} {} ({})",
            label("seal.bundle_to"),
            label("error.SEA0003"),
            detail(&e),
            e.code()
        )),
        Err(PeriodError::Reversed) => Err(format!(
            "SEA0004 {} / {}: {}",
            label("seal.bundle_from"),
            label("seal.bundle_to"),
            label("error.SEA0004")
        )),
        Ok(period) => {
            state.svc.seal_pending().await.map_err(svc_err(lang))?;
            match state.svc.seal_period_range(&a.cap, period).await {
                Ok(range) => Ok((period, range)),
                Err(ServiceError::Invalid {
                    code: "SEA0005", ..
                }) => Err(format!("SEA0005 {}", label("error.SEA0005"))),
                Err(e) => return Err(svc_err(lang)(e)),
            }
        }
    };
    let (period, range) = match refused {
        Ok(x) => x,
        Err(message) => {
            let page = logs_page(&state, &p, 1, None, (form, Some(message))).await?;
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    let bytes = state
        .svc
        .seal_export(&a.cap, range.start, Some(range.end))
        .await
        .map_err(svc_err(lang))?;
    let today = state.svc.clock.now_ms();
    let name = match (period.from_ms, period.until_ms) {
        (None, None) => format!("mamori-audit-{}.seal", ymd(today)),
        (from, until) => format!(
            "mamori-audit-{}-{}.seal",
            from.map(ymd).unwrap_or_else(|| "start".into()),
            ymd(until.map_or(today, |u| u - 1))
        ),
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}

/// The printable page of the facility's signing key: what an inspector needs to verify a bundle,
/// with a box for the security officer's signature.
pub async fn seal_key(State(state): State<AppState>, p: Page<perm::ViewAudit>) -> PageResult {
    let lang = p.lang;
    let st = state
        .svc
        .seal_status(&p.cap)
        .await
        .map_err(svc_err(lang))?
        .ok_or_else(|| WebError::new(StatusCode::NOT_FOUND, "GEN0404", lang))?;
    let fac = facility_name(&state).await.map_err(svc_err(lang))?;
    let today = state.svc.clock.today();
    let key_groups: Vec<String> = st
        .public_key_hex
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    Ok(render(&SealKeyPage {
        l: Layout::new(lang, &p.view, &fac, "seal_key.title", "/logs"),
        facility: fac.clone(),
        lead: mamori_catalog::messages::fill(tr(lang, "seal_key.lead"), &[("facility", &fac)]),
        fingerprint_groups: st.fingerprint.split('-').map(str::to_string).collect(),
        fingerprint: st.fingerprint,
        key_lines: key_groups.chunks(4).map(|g| g.join(" ")).collect(),
        public_key: st.public_key_hex,
        printed: format!(
            "{}（{}）",
            fmt_date(Some(today)),
            mamori_domain::wareki::format_wareki(today)
        ),
        sealed: st.sealed,
    }))
}

pub async fn backups(
    State(state): State<AppState>,
    p: Page<perm::ViewBackups>,
    data_dir: axum::Extension<DataDir>,
) -> PageResult {
    let lang = p.lang;
    let fac = facility_name(&state).await.map_err(svc_err(lang))?;
    Ok(render(&BackupsPage {
        l: Layout::new(lang, &p.view, &fac, "backups.title", "/backups"),
        data_dir: data_dir.0.0.clone(),
    }))
}

/// Where the data lives, for the backup guidance.
#[derive(Debug, Clone)]
pub struct DataDir(pub String);

/// The TLS certificate fingerprint, shown on the settings page.
#[derive(Debug, Clone)]
pub struct CertFingerprint(pub String);

// ---------------------------------------------------------------------------------------------
// Settings and users

async fn settings_page(
    state: &AppState,
    p: &Page<perm::ViewSettings>,
    flash: Option<&str>,
    error: Option<&ServiceError>,
    fingerprint: &str,
) -> PageResult {
    let lang = p.lang;
    let f = state
        .svc
        .facility()
        .await
        .map_err(svc_err(lang))?
        .ok_or_else(|| WebError::new(StatusCode::CONFLICT, "SET0002", lang))?;
    let me = p.view.actor.user.id;
    let users = state
        .svc
        .list_users(&p.cap)
        .await
        .map_err(svc_err(lang))?
        .into_iter()
        .map(|u| UserLine {
            id: u.id.0,
            login_id: u.login_id,
            name: u.display_name,
            role_label: tr(lang, &format!("role.{}", u.role.as_str())).to_string(),
            two_factor: u.totp_enabled,
            disabled: u.disabled,
            must_change: u.must_change_password,
            is_self: u.id == me,
        })
        .collect();
    let vendors = state
        .svc
        .store
        .records::<mamori_domain::ledger::Vendor>()
        .await
        .map_err(|e| WebError::from_service(&e.into(), lang))?;
    let mut page = SettingsPage {
        l: Layout::new(lang, &p.view, &f.name, "settings.title", "/settings").with_flash(flash),
        can_manage: p.view.actor.role().permits(Permission::ManageSettings),
        facility_name: f.name.clone(),
        facility_kind: tr(lang, &format!("facility_kind.{}", f.kind.as_str())).to_string(),
        beds: f.beds.map(|b| b.to_string()).unwrap_or_else(|| "—".into()),
        idle_lock_minutes: f.settings.idle_lock_minutes,
        require_2fa_all: f.settings.require_two_factor_for_all,
        users,
        roles: Role::ALL
            .iter()
            .map(|r| RoleOption {
                code: r.as_str(),
                label: tr(lang, &format!("role.{}", r.as_str())).to_string(),
            })
            .collect(),
        vendors: vendors.into_iter().map(|v| (v.id.0, v.name)).collect(),
        error: None,
        cert_fingerprint: fingerprint.to_string(),
    };
    let status = match error {
        Some(e) => {
            page.error = Some((
                tr(lang, &format!("error.{}", e.code())).to_string(),
                e.code(),
            ));
            WebError::from_service(e, lang).status
        }
        None => StatusCode::OK,
    };
    Ok((status, render(&page)).into_response())
}

pub async fn settings(
    State(state): State<AppState>,
    p: Page<perm::ViewSettings>,
    Query(q): Query<FlashQuery>,
    fp: axum::Extension<CertFingerprint>,
) -> PageResult {
    settings_page(&state, &p, q.ok.as_deref(), None, &fp.0.0).await
}

#[derive(Deserialize)]
pub struct SettingsForm {
    idle_lock_minutes: String,
    #[serde(default)]
    require_2fa_all: Option<String>,
}

pub async fn settings_submit(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::ManageSettings>,
    v: Page<perm::ViewSettings>,
    fp: axum::Extension<CertFingerprint>,
    form: CsrfForm<SettingsForm>,
) -> PageResult {
    let f = form.into_inner();
    let lang = p.lang;
    let current = state
        .svc
        .facility()
        .await
        .map_err(svc_err(lang))?
        .map(|f| f.settings)
        .unwrap_or_default();
    let minutes = match f.idle_lock_minutes.trim().parse::<u32>() {
        Ok(m) => m,
        Err(_) => {
            let e = ServiceError::Invalid {
                code: "FAC0004",
                field: "idle_lock_minutes",
            };
            return settings_page(&state, &v, None, Some(&e), &fp.0.0).await;
        }
    };
    let new = FacilitySettings {
        idle_lock_minutes: minutes,
        require_two_factor_for_all: f.require_2fa_all.is_some(),
        ..current
    };
    match state.svc.update_settings(&p.cap, &new, &client).await {
        Ok(()) => Ok(Redirect::to("/settings?ok=settings_saved").into_response()),
        Err(e @ ServiceError::Invalid { .. }) => {
            settings_page(&state, &v, None, Some(&e), &fp.0.0).await
        }
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}

#[derive(Deserialize)]
pub struct NewUserForm {
    login_id: String,
    display_name: String,
    role: String,
    password: String,
    #[serde(default)]
    vendor_id: String,
}

pub async fn user_create(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::ManageUsers>,
    v: Page<perm::ViewSettings>,
    fp: axum::Extension<CertFingerprint>,
    form: CsrfForm<NewUserForm>,
) -> PageResult {
    let f = form.into_inner();
    let lang = p.lang;
    let Some(role) = Role::parse(&f.role) else {
        let e = ServiceError::Invalid {
            code: "USR0006",
            field: "role",
        };
        return settings_page(&state, &v, None, Some(&e), &fp.0.0).await;
    };
    let input = CreateUser {
        login_id: f.login_id.trim().to_string(),
        display_name: f.display_name,
        role,
        password: f.password,
        vendor_id: VendorId::parse(&f.vendor_id),
    };
    match state.svc.create_user(&p.cap, &input, &client).await {
        Ok(_) => Ok(Redirect::to("/settings?ok=user_created").into_response()),
        Err(
            e @ (ServiceError::Invalid { .. }
            | ServiceError::Password(_)
            | ServiceError::LoginTaken),
        ) => settings_page(&state, &v, None, Some(&e), &fp.0.0).await,
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}

async fn user_set_disabled(
    state: AppState,
    client: mamori_service::ClientInfo,
    p: Page<perm::ManageUsers>,
    id: String,
    disabled: bool,
) -> PageResult {
    let lang = p.lang;
    let Some(id) = UserId::parse(&id) else {
        return Err(WebError::new(StatusCode::NOT_FOUND, "GEN0404", lang));
    };
    state
        .svc
        .set_user_disabled(&p.cap, id, disabled, &client)
        .await
        .map_err(svc_err(lang))?;
    Ok(Redirect::to(if disabled {
        "/settings?ok=user_disabled"
    } else {
        "/settings?ok=user_enabled"
    })
    .into_response())
}

pub async fn user_disable(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::ManageUsers>,
    Path(id): Path<String>,
    _f: CsrfForm<Empty>,
) -> PageResult {
    user_set_disabled(state, client, p, id, true).await
}

pub async fn user_enable(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::ManageUsers>,
    Path(id): Path<String>,
    _f: CsrfForm<Empty>,
) -> PageResult {
    user_set_disabled(state, client, p, id, false).await
}

// ---------------------------------------------------------------------------------------------
// API

pub async fn api_me(p: Page<perm::OwnAccount>) -> impl IntoResponse {
    let u = &p.view.actor.user;
    axum::Json(mamori_proto::Me {
        login_id: u.login_id.clone(),
        display_name: u.display_name.clone(),
        role: u.role.as_str().to_string(),
        two_factor: u.totp_enabled,
    })
}

pub async fn api_seal_proof(
    State(state): State<AppState>,
    p: Page<perm::ViewAudit>,
    Path(index): Path<String>,
) -> Response {
    let lang = p.lang;
    let Ok(index) = index.parse::<u64>() else {
        return WebError::new(StatusCode::NOT_FOUND, "GEN0404", lang)
            .json()
            .into_response();
    };
    match state.svc.seal_inclusion(&p.cap, index).await {
        Ok(x) => axum::Json(mamori_proto::InclusionProof {
            index: x.index,
            tree_size: x.tree_size,
            leaf_hash: x.leaf_hash,
            root: x.root,
            signed_at_ms: x.signed_at_ms,
            signature: x.signature,
            public_key: x.public_key,
            path: x.path,
        })
        .into_response(),
        Err(e) => WebError::from_service(&e, lang).json().into_response(),
    }
}

#[derive(Deserialize)]
pub struct ConsistencyQuery {
    old: u64,
    new: u64,
}

pub async fn api_seal_consistency(
    State(state): State<AppState>,
    p: Page<perm::ViewAudit>,
    q: Result<Query<ConsistencyQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let lang = p.lang;
    let Ok(Query(q)) = q else {
        return WebError::new(StatusCode::BAD_REQUEST, "REQ0003", lang)
            .json()
            .into_response();
    };
    match state.svc.seal_consistency(&p.cap, q.old, q.new).await {
        Ok(x) => axum::Json(mamori_proto::ConsistencyProof {
            old_size: x.old_size,
            new_size: x.new_size,
            old_root: x.old_root,
            new_root: x.new_root,
            path: x.path,
        })
        .into_response(),
        Err(e) => WebError::from_service(&e, lang).json().into_response(),
    }
}

pub async fn not_found(UiLang(lang): UiLang) -> WebError {
    WebError::new(StatusCode::NOT_FOUND, "GEN0404", lang)
}
