//! Request extractors: who is asking (client, language, session) and what they may do
//! (`Page<P>` yields a capability only after the permission check), plus CSRF-checked forms.

use crate::web::AppState;
use crate::web::error::WebError;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_catalog::Lang;
use mamori_service::auth::SessionView;
use mamori_service::authz::Perm;
use mamori_service::{Cap, ClientInfo, ServiceError};
use mamori_storage::sessions::SessionStage;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::net::SocketAddr;

/// Reads one cookie from the request headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The client's address and user agent.
#[derive(Debug, Clone)]
pub struct Client(pub ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _s: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "unknown".into());
        let ua = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        Ok(Client(ClientInfo::new(ip, ua)))
    }
}

/// The user's interface language: the `mamori_lang` cookie, Japanese by default.
#[derive(Debug, Clone, Copy)]
pub struct UiLang(pub Lang);

impl<S: Send + Sync> FromRequestParts<S> for UiLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _s: &S) -> Result<Self, Self::Rejection> {
        Ok(UiLang(
            cookie(&parts.headers, "mamori_lang")
                .and_then(Lang::parse)
                .unwrap_or_default(),
        ))
    }
}

/// The session of the request, resolved once per request by [`resolve_session`].
#[derive(Debug, Clone)]
pub enum SessionState {
    None,
    Some(Box<SessionView>),
}

/// Middleware: resolves the session cookie (applying idle lock and expiry) into the request.
pub async fn resolve_session(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut req: Request,
    next: axum::middleware::Next,
) -> Response {
    let token = cookie(req.headers(), state.session_cookie()).map(str::to_string);
    let s = match token {
        Some(t) => match state.svc.resolve(&t).await {
            Ok(v) => SessionState::Some(Box::new(v)),
            Err(ServiceError::NoSession) => SessionState::None,
            Err(e) => {
                let lang = cookie(req.headers(), "mamori_lang")
                    .and_then(Lang::parse)
                    .unwrap_or_default();
                return WebError::from_service(&e, lang).into_response();
            }
        },
        None => SessionState::None,
    };
    req.extensions_mut().insert(s);
    next.run(req).await
}

fn session_of(parts: &Parts) -> Option<SessionView> {
    match parts.extensions.get::<SessionState>() {
        Some(SessionState::Some(v)) => Some((**v).clone()),
        _ => None,
    }
}

fn wants_json(parts: &Parts) -> bool {
    parts.uri.path().starts_with("/api/")
}

/// Where a session in `stage` has to go before anything else.
pub fn stage_home(stage: SessionStage) -> &'static str {
    match stage {
        SessionStage::SecondFactor => "/login/totp",
        SessionStage::EnrollTwoFactor => "/account/two-factor",
        SessionStage::ChangePassword => "/account/password",
        SessionStage::Full => "/",
    }
}

/// Why a page could not be shown.
#[derive(Debug)]
pub enum Reject {
    Login,
    Lock,
    Stage(SessionStage),
    Error(WebError),
}

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        match self {
            Reject::Login => Redirect::to("/login").into_response(),
            Reject::Lock => Redirect::to("/lock").into_response(),
            Reject::Stage(s) => Redirect::to(stage_home(s)).into_response(),
            Reject::Error(e) => e.into_response(),
        }
    }
}

/// A fully logged-in, unlocked session holding permission `P`.
pub struct Page<P: Perm> {
    pub view: SessionView,
    pub cap: Cap<P>,
    pub lang: Lang,
}

impl<S, P> FromRequestParts<S> for Page<P>
where
    S: Send + Sync,
    P: Perm + Send + Sync,
{
    type Rejection = Reject;

    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, Self::Rejection> {
        let UiLang(lang) = UiLang::from_request_parts(parts, s)
            .await
            .unwrap_or(UiLang(Lang::Ja));
        let json = wants_json(parts);
        let unauthorized = || {
            if json {
                Reject::Error(WebError::new(StatusCode::UNAUTHORIZED, "AUTH0004", lang).json())
            } else {
                Reject::Login
            }
        };
        let Some(view) = session_of(parts) else {
            return Err(unauthorized());
        };
        if view.locked {
            return Err(if json {
                Reject::Error(WebError::new(StatusCode::UNAUTHORIZED, "AUTH0005", lang).json())
            } else {
                Reject::Lock
            });
        }
        if view.stage != SessionStage::Full {
            return Err(if json {
                Reject::Error(WebError::new(StatusCode::UNAUTHORIZED, "AUTH0004", lang).json())
            } else {
                Reject::Stage(view.stage)
            });
        }
        match view.actor.can::<P>() {
            Ok(cap) => Ok(Page { view, cap, lang }),
            Err(_) => {
                let mut e = WebError::new(StatusCode::FORBIDDEN, "AUTH0006", lang);
                if json {
                    e = e.json();
                }
                Err(Reject::Error(e))
            }
        }
    }
}

/// A session in one of the login stages (second factor, forced password change, enrolment),
/// or fully logged in; never locked.
pub struct Staged {
    pub view: SessionView,
    pub lang: Lang,
}

impl<S: Send + Sync> FromRequestParts<S> for Staged {
    type Rejection = Reject;

    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, Self::Rejection> {
        let UiLang(lang) = UiLang::from_request_parts(parts, s)
            .await
            .unwrap_or(UiLang(Lang::Ja));
        let Some(view) = session_of(parts) else {
            return Err(Reject::Login);
        };
        if view.locked {
            return Err(Reject::Lock);
        }
        Ok(Staged { view, lang })
    }
}

/// Any session, locked or not (the lock screen and logout).
pub struct AnySession {
    pub view: SessionView,
    pub lang: Lang,
}

impl<S: Send + Sync> FromRequestParts<S> for AnySession {
    type Rejection = Reject;

    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, Self::Rejection> {
        let UiLang(lang) = UiLang::from_request_parts(parts, s)
            .await
            .unwrap_or(UiLang(Lang::Ja));
        match session_of(parts) {
            Some(view) => Ok(AnySession { view, lang }),
            None => Err(Reject::Login),
        }
    }
}

/// A form body whose `_csrf` field matches the session's token (or, before login, the
/// `mamori_csrf` cookie), sent as `application/x-www-form-urlencoded` from this origin.
pub struct CsrfForm<T>(pub T, PhantomData<T>);

impl<T> CsrfForm<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// Whether the `Origin` (when sent) names this server. Over HTTP/2 the host is the request's
/// `:authority`, not a `Host` header.
fn same_origin(parts: &Parts) -> bool {
    let headers = &parts.headers;
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true; // not a browser cross-origin request; the token still decides
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("");
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .unwrap_or("");
    !host.is_empty() && origin_host == host
}

/// The checks every state-changing body shares: the expected content type and, when the browser
/// says where the request comes from, this origin. Returns the user's language for errors.
async fn preflight<S: Send + Sync>(
    parts: &mut Parts,
    s: &S,
    content_type: &str,
) -> Result<Lang, WebError> {
    let UiLang(lang) = UiLang::from_request_parts(parts, s)
        .await
        .unwrap_or(UiLang(Lang::Ja));
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with(content_type) {
        return Err(WebError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "REQ0002",
            lang,
        ));
    }
    if !same_origin(parts) {
        return Err(WebError::new(StatusCode::FORBIDDEN, "CSRF0002", lang));
    }
    Ok(lang)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl<S, T> FromRequest<S> for CsrfForm<T>
where
    S: Send + Sync,
    AppState: FromRef<S>,
    T: DeserializeOwned,
{
    type Rejection = WebError;

    async fn from_request(req: Request, s: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(s);
        let (mut parts, body) = req.into_parts();
        let lang = preflight(&mut parts, s, "application/x-www-form-urlencoded").await?;
        let expected = match session_of(&parts) {
            Some(v) => Some(v.csrf),
            None => cookie(&parts.headers, state.csrf_cookie()).map(str::to_string),
        };
        let req = Request::from_parts(parts, body);
        let bytes = Bytes::from_request(req, s)
            .await
            .map_err(|_| WebError::new(StatusCode::PAYLOAD_TOO_LARGE, "REQ0001", lang))?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| WebError::new(StatusCode::BAD_REQUEST, "REQ0003", lang))?;
        let sent = pairs
            .iter()
            .find(|(k, _)| k == "_csrf")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        match expected {
            Some(e) if !sent.is_empty() && constant_time_eq(e.as_bytes(), sent.as_bytes()) => {}
            _ => return Err(WebError::new(StatusCode::FORBIDDEN, "CSRF0001", lang)),
        }
        let value: T = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| WebError::new(StatusCode::BAD_REQUEST, "REQ0003", lang))?;
        Ok(CsrfForm(value, PhantomData))
    }
}

/// A `multipart/form-data` upload whose `_csrf` field matches the session's token. Holds the
/// first file field (name, bytes) and the other text fields; the route's body limit caps the
/// size. A body over that limit is `too_large` (when the token came before the file, as in our
/// forms), so the page can say which field was too big.
pub struct CsrfUpload {
    pub file: Option<(String, Vec<u8>)>,
    /// A file was chosen but had no bytes.
    pub empty_file: bool,
    /// The body went over the route's limit while reading the file.
    pub too_large: bool,
    /// Other text fields (at most 20, each at most 1,000 characters), without `_csrf`.
    pub fields: Vec<(String, String)>,
}

impl CsrfUpload {
    /// The value of text field `name`, if sent.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl<S> FromRequest<S> for CsrfUpload
where
    S: Send + Sync,
{
    type Rejection = WebError;

    async fn from_request(req: Request, s: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let lang = preflight(&mut parts, s, "multipart/form-data").await?;
        let Some(expected) = session_of(&parts).map(|v| v.csrf) else {
            return Err(WebError::new(StatusCode::FORBIDDEN, "CSRF0001", lang));
        };
        let req = Request::from_parts(parts, body);
        let mut mp = axum::extract::Multipart::from_request(req, s)
            .await
            .map_err(|_| WebError::new(StatusCode::BAD_REQUEST, "REQ0003", lang))?;
        let mut up = CsrfUpload {
            file: None,
            empty_file: false,
            too_large: false,
            fields: Vec::new(),
        };
        let mut token = String::new();
        let unreadable = |e: axum::extract::multipart::MultipartError| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                WebError::new(StatusCode::PAYLOAD_TOO_LARGE, "REQ0001", lang)
            } else {
                WebError::new(StatusCode::BAD_REQUEST, "REQ0003", lang)
            }
        };
        loop {
            let field = match mp.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    up.too_large = true;
                    break;
                }
                Err(e) => return Err(unreadable(e)),
            };
            let name = field.name().unwrap_or("").to_string();
            match (name.as_str(), field.file_name().map(str::to_string)) {
                ("_csrf", _) => token = field.text().await.map_err(unreadable)?,
                (_, Some(file_name)) if up.file.is_none() => match field.bytes().await {
                    Ok(bytes) if bytes.is_empty() => up.empty_file |= !file_name.is_empty(),
                    Ok(bytes) => up.file = Some((file_name, bytes.to_vec())),
                    Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                        up.too_large = true;
                        break;
                    }
                    Err(e) => return Err(unreadable(e)),
                },
                (_, None) if !name.is_empty() && up.fields.len() < 20 => {
                    let v = field.text().await.map_err(unreadable)?;
                    up.fields.push((name, v.chars().take(1000).collect()));
                }
                _ => {}
            }
        }
        if token.is_empty() || !constant_time_eq(token.as_bytes(), expected.as_bytes()) {
            return Err(WebError::new(StatusCode::FORBIDDEN, "CSRF0001", lang));
        }
        Ok(up)
    }
}
