//! The web edge: routes, extractors, pages and the JSON API. The only module that knows HTTP.

pub mod account_import;
pub mod account_reviews;
pub mod agents;
pub mod alerts;
pub mod break_glass;
pub mod checklist;
pub mod directory;
pub mod error;
pub mod events;
pub mod extract;
pub mod form;
pub mod incidents;
pub mod ledger;
pub mod ledger_overview;
pub mod log_profiles;
pub mod pages;
pub mod routes;
pub mod sources;
pub mod vendor_forms;
pub mod views;

use axum::Router;
use mamori_service::Services;

/// Shared state of every handler.
#[derive(Clone, Debug)]
pub struct AppState {
    pub svc: Services,
    /// Whether the server speaks TLS (cookies get `Secure` and the `__Host-` prefix).
    pub secure: bool,
    pub max_body_bytes: usize,
    /// Security keys, when a host name is known (see `webauthn.rp_id`).
    pub webauthn: Option<std::sync::Arc<mamori_service::webauthn::Webauthn>>,
    /// The origin at which security keys work, shown to users on other addresses.
    pub webauthn_origin: String,
    /// The Japanese font for PDF forms (`reports.font_file`); searched for when unset.
    pub font_file: Option<std::path::PathBuf>,
    /// Stores events sent over HTTPS (JSON lines) when the sealed event log is open.
    pub collector: Option<mamori_service::collect::Collector>,
    /// What detection rules the server loaded (the rules page).
    pub detect_rules: std::sync::Arc<crate::rules::RulesReport>,
    /// The scheduled directory sync (`[directory]`), for its page and 「今すぐ同期」.
    pub directory: Option<std::sync::Arc<crate::config::DirectoryConfig>>,
    /// The fingerprint of the certificate a renewal will switch to (`tls.next_cert_file`),
    /// which the agents are being told of.
    pub tls_next_fingerprint: Option<String>,
}

impl AppState {
    pub fn session_cookie(&self) -> &'static str {
        if self.secure {
            "__Host-mamori_session"
        } else {
            "mamori_session"
        }
    }

    pub fn csrf_cookie(&self) -> &'static str {
        if self.secure {
            "__Host-mamori_csrf"
        } else {
            "mamori_csrf"
        }
    }

    /// A `Set-Cookie` value with the house attributes.
    pub fn cookie(&self, name: &str, value: &str, max_age: Option<i64>) -> String {
        let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
        if self.secure {
            c.push_str("; Secure");
        }
        if let Some(a) = max_age {
            c.push_str(&format!("; Max-Age={a}"));
        }
        c
    }
}

/// Builds the whole application.
pub fn app(state: AppState) -> Router {
    routes::router(state)
}
