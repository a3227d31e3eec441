//! One error type at the HTTP edge: a stable code, a safe message in the user's language, the
//! cause logged (never shown). Pages get an HTML error page, `/api` gets JSON.

use crate::web::views::{ErrorPage, render};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mamori_catalog::{Lang, tr};
use mamori_service::ServiceError;

/// An error response.
#[derive(Debug)]
pub struct WebError {
    pub status: StatusCode,
    pub code: &'static str,
    pub lang: Lang,
    pub json: bool,
}

impl WebError {
    pub fn new(status: StatusCode, code: &'static str, lang: Lang) -> Self {
        WebError {
            status,
            code,
            lang,
            json: false,
        }
    }

    pub fn json(mut self) -> Self {
        self.json = true;
        self
    }

    pub fn from_service(e: &ServiceError, lang: Lang) -> Self {
        let status = match e {
            ServiceError::Denied => StatusCode::FORBIDDEN,
            ServiceError::NotFound => StatusCode::NOT_FOUND,
            ServiceError::NoSession | ServiceError::Locked | ServiceError::InvalidCredentials => {
                StatusCode::UNAUTHORIZED
            }
            ServiceError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            ServiceError::AlreadySetUp | ServiceError::LoginTaken => StatusCode::CONFLICT,
            ServiceError::Store(_) | ServiceError::Internal(_) => {
                tracing::error!(error = %e, "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            _ => StatusCode::BAD_REQUEST,
        };
        WebError::new(status, e.code(), lang)
    }

    /// The message shown for this code.
    pub fn message(&self) -> String {
        tr(self.lang, &format!("error.{}", self.code)).to_string()
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let msg = self.message();
        if self.json {
            let body = mamori_proto::ErrorBody {
                code: self.code.to_string(),
                message: msg,
            };
            return (self.status, axum::Json(body)).into_response();
        }
        let page = ErrorPage {
            lang: self.lang.as_str(),
            title: tr(self.lang, "error.title").to_string(),
            status: self.status.as_u16(),
            code: self.code,
            message: msg,
            back: tr(self.lang, "error.back").to_string(),
        };
        (self.status, render(&page)).into_response()
    }
}

impl From<(ServiceError, Lang)> for WebError {
    fn from((e, lang): (ServiceError, Lang)) -> Self {
        WebError::from_service(&e, lang)
    }
}
