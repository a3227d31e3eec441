//! The route table. Every protected route is listed once with the permission it needs; the
//! router is built from this table and the role tests walk it (every route × every role).

use crate::web::AppState;
use crate::web::extract::resolve_session;
use crate::web::{
    account_import, account_reviews, agents, alerts, break_glass, checklist, directory, events,
    incidents, ledger, ledger_overview, log_profiles, pages, sources, vendor_forms,
};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::routing::{MethodRouter, get, post};
use mamori_domain::role::Permission;
use tower_http::set_header::SetResponseHeaderLayer;

/// Who may reach a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, logged in or not.
    Public,
    /// A session in a login stage (second factor, forced change, enrolment) or full.
    Staged,
    /// A full session with this permission.
    Needs(Permission),
    /// No session: a log forwarder's bearer token (checked by the handler).
    SourceToken,
    /// No session: an endpoint agent's enrolment token or signed request (checked by the
    /// handler).
    AgentKey,
}

/// One route: method, axum path, an example concrete path for tests, and who may use it.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub example: &'static str,
    pub access: Access,
}

const fn r(
    method: &'static str,
    path: &'static str,
    example: &'static str,
    access: Access,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        example,
        access,
    }
}

use Access::{AgentKey, Needs, Public, SourceToken, Staged};
use Permission as P;

/// Every route of the application.
#[rustfmt::skip]
pub const ROUTES: &[RouteSpec] = &[
    r("GET", "/healthz", "/healthz", Public),
    r("GET", "/api/v1/healthz", "/api/v1/healthz", Public),
    r("GET", "/assets/mamori.css", "/assets/mamori.css", Public),
    r("GET", "/assets/mamori.js", "/assets/mamori.js", Public),
    r("GET", "/assets/favicon.svg", "/assets/favicon.svg", Public),
    r("GET", "/assets/webauthn.js", "/assets/webauthn.js", Public),
    r("GET", "/favicon.ico", "/favicon.ico", Public),
    r("GET", "/setup", "/setup", Public),
    r("POST", "/setup", "/setup", Public),
    r("GET", "/login", "/login", Public),
    r("POST", "/login", "/login", Public),
    r("POST", "/lang", "/lang", Public),
    r("GET", "/login/totp", "/login/totp", Staged),
    r("POST", "/login/totp", "/login/totp", Staged),
    r("POST", "/logout", "/logout", Staged),
    r("GET", "/lock", "/lock", Staged),
    r("POST", "/lock", "/lock", Staged),
    r("GET", "/account/password", "/account/password", Staged),
    r("POST", "/account/password", "/account/password", Staged),
    r("GET", "/account/two-factor", "/account/two-factor", Staged),
    r("POST", "/account/two-factor", "/account/two-factor", Staged),
    r("POST", "/login/key/start", "/login/key/start", Staged),
    r("POST", "/login/key/finish", "/login/key/finish", Staged),
    r(
        "POST",
        "/account/keys/register/start",
        "/account/keys/register/start",
        Staged,
    ),
    r(
        "POST",
        "/account/keys/register/finish",
        "/account/keys/register/finish",
        Staged,
    ),
    r("GET", "/", "/", Needs(P::ViewDashboard)),
    r("GET", "/ledger", "/ledger", Needs(P::ViewLedger)),
    r("GET", "/ledger/findings", "/ledger/findings", Needs(P::ViewLedger)),
    r("GET", "/ledger/contacts/chart", "/ledger/contacts/chart", Needs(P::ViewLedger)),
    r("GET", "/ledger/{kind}", "/ledger/assets", Needs(P::ViewLedger)),
    r("POST", "/ledger/{kind}", "/ledger/assets", Needs(P::EditLedger)),
    r("GET", "/ledger/{kind}/new", "/ledger/systems/new", Needs(P::EditLedger)),
    r("GET", "/ledger/{kind}/export/{file}", "/ledger/assets/export/data.csv", Needs(P::ViewLedger)),
    r("GET", "/ledger/{kind}/import", "/ledger/persons/import", Needs(P::EditLedger)),
    r("POST", "/ledger/{kind}/import", "/ledger/persons/import", Needs(P::EditLedger)),
    r("POST", "/ledger/{kind}/import/commit", "/ledger/persons/import/commit", Needs(P::EditLedger)),
    r("POST", "/ledger/{kind}/review", "/ledger/vendors/review", Needs(P::EditLedger)),
    r("GET", "/ledger/{kind}/{id}", "/ledger/assets/1", Needs(P::ViewLedger)),
    r("POST", "/ledger/{kind}/{id}", "/ledger/assets/999999", Needs(P::EditLedger)),
    r("GET", "/ledger/{kind}/{id}/edit", "/ledger/vendors/1/edit", Needs(P::EditLedger)),
    r("POST", "/ledger/{kind}/{id}/retire", "/ledger/contacts/999999/retire", Needs(P::EditLedger)),
    r("POST", "/ledger/{kind}/{id}/files", "/ledger/vendor_documents/999999/files", Needs(P::EditLedger)),
    r("GET", "/ledger/{kind}/{id}/files/{file}", "/ledger/vendor_documents/1/files/1", Needs(P::ViewLedger)),
    r("GET", "/accounts", "/accounts", Needs(P::ViewAccounts)),
    r("GET", "/accounts/directory", "/accounts/directory", Needs(P::ViewAccounts)),
    r("POST", "/accounts/directory", "/accounts/directory", Needs(P::EditLedger)),
    r("GET", "/accounts/import", "/accounts/import", Needs(P::EditLedger)),
    r("POST", "/accounts/import", "/accounts/import", Needs(P::EditLedger)),
    r("POST", "/accounts/import/map", "/accounts/import/map", Needs(P::EditLedger)),
    r("GET", "/accounts/matches", "/accounts/matches", Needs(P::ViewAccounts)),
    r("POST", "/accounts/matches/{id}", "/accounts/matches/999999", Needs(P::EditLedger)),
    r("GET", "/accounts/break-glass", "/accounts/break-glass", Needs(P::ViewAccounts)),
    r("GET", "/agents", "/agents", Needs(P::ViewAgents)),
    r("POST", "/agents/enroll", "/agents/enroll", Needs(P::ManageAgents)),
    r("POST", "/agents/enrollments/{id}/withdraw", "/agents/enrollments/999999/withdraw", Needs(P::ManageAgents)),
    r("GET", "/agents/policy", "/agents/policy", Needs(P::ViewAgents)),
    r("GET", "/agents/baselines", "/agents/baselines", Needs(P::ViewAgents)),
    r("POST", "/agents/baselines", "/agents/baselines", Needs(P::ManageAgents)),
    r("POST", "/agents/offline/enroll", "/agents/offline/enroll", Needs(P::ManageAgents)),
    r("POST", "/agents/offline/import", "/agents/offline/import", Needs(P::ManageAgents)),
    r("GET", "/agents/{id}/policy-file", "/agents/999999/policy-file", Needs(P::ManageAgents)),
    r("POST", "/agents/policy", "/agents/policy", Needs(P::ManageAgents)),
    r("GET", "/agents/{id}", "/agents/999999", Needs(P::ViewAgents)),
    r("POST", "/agents/{id}/ledger", "/agents/999999/ledger", Needs(P::EditLedger)),
    r("POST", "/agents/{id}/groups", "/agents/999999/groups", Needs(P::ManageAgents)),
    r("POST", "/agents/{id}/revoke", "/agents/999999/revoke", Needs(P::ManageAgents)),
    r("POST", "/agents/{id}/unlock", "/agents/999999/unlock", Needs(P::ManageAgents)),
    r("POST", "/accounts/break-glass/{id}", "/accounts/break-glass/999999", Needs(P::EditLedger)),
    r("GET", "/accounts/reviews", "/accounts/reviews", Needs(P::ViewAccounts)),
    r("POST", "/accounts/reviews", "/accounts/reviews", Needs(P::EditLedger)),
    r("GET", "/accounts/reviews/{id}", "/accounts/reviews/1", Needs(P::ViewAccounts)),
    r("POST", "/accounts/reviews/{id}/decide", "/accounts/reviews/999999/decide", Needs(P::EditLedger)),
    r("POST", "/accounts/reviews/{id}/close", "/accounts/reviews/999999/close", Needs(P::EditLedger)),
    r("GET", "/accounts/reviews/{id}/report.csv", "/accounts/reviews/1/report.csv", Needs(P::ViewAccounts)),
    r("GET", "/checklist", "/checklist", Needs(P::ViewChecklist)),
    r("GET", "/checklist/items/{key}", "/checklist/items/systems.ledger", Needs(P::ViewChecklist)),
    r("POST", "/checklist/items/{key}", "/checklist/items/systems.ledger", Needs(P::AnswerChecklist)),
    r("GET", "/checklist/export/{file}", "/checklist/export/checklist.html", Needs(P::ViewChecklist)),
    r("GET", "/checklist/vendors", "/checklist/vendors", Needs(P::ViewChecklist)),
    r("POST", "/checklist/vendors/{system}/import", "/checklist/vendors/999999/import", Needs(P::AnswerChecklist)),
    r("GET", "/logs", "/logs", Needs(P::ViewLogs)),
    r("GET", "/logs/verify", "/logs/verify", Needs(P::ViewAudit)),
    r("GET", "/logs/events", "/logs/events", Needs(P::ViewLogs)),
    r("GET", "/logs/events.csv", "/logs/events.csv", Needs(P::ViewLogs)),
    r("GET", "/logs/sources", "/logs/sources", Needs(P::ViewLogs)),
    r("POST", "/logs/sources", "/logs/sources", Needs(P::ManageLogs)),
    r("GET", "/logs/sources/{name}", "/logs/sources/syslog%2F192.0.2.99", Needs(P::ViewLogs)),
    r("POST", "/logs/sources/{name}/token", "/logs/sources/no-such-source/token", Needs(P::ManageLogs)),
    r("POST", "/logs/sources/{name}/state", "/logs/sources/no-such-source/state", Needs(P::ManageLogs)),
    r("GET", "/logs/reviews", "/logs/reviews", Needs(P::ViewLogs)),
    r("POST", "/logs/reviews", "/logs/reviews", Needs(P::ReviewLogs)),
    r("GET", "/logs/profiles", "/logs/profiles", Needs(P::ViewLogs)),
    r("POST", "/logs/profiles/ingest", "/logs/profiles/ingest", Needs(P::ManageLogs)),
    r("GET", "/logs/profiles/new", "/logs/profiles/new", Needs(P::ManageLogs)),
    r("POST", "/logs/profiles/new", "/logs/profiles/new", Needs(P::ManageLogs)),
    r("GET", "/logs/profiles/{name}", "/logs/profiles/generic", Needs(P::ViewLogs)),
    r("POST", "/logs/profiles/{name}", "/logs/profiles/no-such-profile", Needs(P::ManageLogs)),
    r("POST", "/logs/profiles/{name}/delete", "/logs/profiles/no-such-profile/delete", Needs(P::ManageLogs)),
    r("POST", "/logs/seal/verify", "/logs/seal/verify", Needs(P::ViewAudit)),
    r("GET", "/logs/seal/bundle", "/logs/seal/bundle", Needs(P::ViewAudit)),
    r("GET", "/logs/seal/key", "/logs/seal/key", Needs(P::ViewAudit)),
    r("GET", "/vendors", "/vendors", Needs(P::ViewVendors)),
    r("GET", "/vendor-portal", "/vendor-portal", Needs(P::VendorPortal)),
    r("GET", "/vendor-portal/systems/{system}", "/vendor-portal/systems/999999", Needs(P::VendorPortal)),
    r("GET", "/vendor-portal/systems/{system}/form.xlsx", "/vendor-portal/systems/999999/form.xlsx", Needs(P::VendorPortal)),
    r("POST", "/vendor-portal/systems/{system}/import", "/vendor-portal/systems/999999/import", Needs(P::VendorPortal)),
    r("GET", "/vendor-portal/systems/{system}/items/{key}", "/vendor-portal/systems/999999/items/vendor.manager", Needs(P::VendorPortal)),
    r("POST", "/vendor-portal/systems/{system}/items/{key}", "/vendor-portal/systems/999999/items/vendor.manager", Needs(P::VendorPortal)),
    r("GET", "/backups", "/backups", Needs(P::ViewBackups)),
    r("GET", "/incidents", "/incidents", Needs(P::ViewIncidents)),
    r("POST", "/incidents", "/incidents", Needs(P::HandleIncidents)),
    r("GET", "/incidents/{id}", "/incidents/999999", Needs(P::ViewIncidents)),
    r("POST", "/incidents/{id}", "/incidents/999999", Needs(P::HandleIncidents)),
    r("GET", "/alerts", "/alerts", Needs(P::ViewLogs)),
    r("GET", "/alerts/rules", "/alerts/rules", Needs(P::ViewLogs)),
    r("GET", "/alerts/watched", "/alerts/watched", Needs(P::ViewLogs)),
    r("POST", "/alerts/watched", "/alerts/watched", Needs(P::HandleAlerts)),
    r("GET", "/alerts/{id}", "/alerts/999999", Needs(P::ViewLogs)),
    r("POST", "/alerts/{id}", "/alerts/999999", Needs(P::HandleAlerts)),
    r("POST", "/alerts/{id}/incident", "/alerts/999999/incident", Needs(P::HandleIncidents)),
    r("GET", "/settings", "/settings", Needs(P::ViewSettings)),
    r(
        "POST",
        "/settings/facility",
        "/settings/facility",
        Needs(P::ManageSettings),
    ),
    r(
        "POST",
        "/settings/users",
        "/settings/users",
        Needs(P::ManageUsers),
    ),
    r(
        "POST",
        "/settings/users/{id}/disable",
        "/settings/users/999999/disable",
        Needs(P::ManageUsers),
    ),
    r(
        "POST",
        "/settings/users/{id}/enable",
        "/settings/users/999999/enable",
        Needs(P::ManageUsers),
    ),
    r(
        "GET",
        "/settings/sessions",
        "/settings/sessions",
        Needs(P::ManageSessions),
    ),
    r("GET", "/account", "/account", Needs(P::OwnAccount)),
    r(
        "POST",
        "/account/sessions/{hash}/revoke",
        "/account/sessions/0000/revoke",
        Needs(P::OwnAccount),
    ),
    r(
        "POST",
        "/account/keys/{id}/delete",
        "/account/keys/999999/delete",
        Needs(P::OwnAccount),
    ),
    r("GET", "/api/v1/me", "/api/v1/me", Needs(P::OwnAccount)),
    r("POST", "/api/v1/logs", "/api/v1/logs", SourceToken),
    r("POST", "/api/v1/agent/enroll", "/api/v1/agent/enroll", AgentKey),
    r("POST", "/api/v1/agent/upload", "/api/v1/agent/upload", AgentKey),
    r("GET", "/api/v1/agent/policy", "/api/v1/agent/policy", AgentKey),
    r("GET", "/api/v1/seal/proof/{index}", "/api/v1/seal/proof/0", Needs(P::ViewAudit)),
    r("GET", "/api/v1/seal/consistency", "/api/v1/seal/consistency?old=1&new=1", Needs(P::ViewAudit)),
    r(
        "POST",
        "/api/v1/session/ping",
        "/api/v1/session/ping",
        Needs(P::OwnAccount),
    ),
];

fn handler(method: &str, path: &str) -> Option<MethodRouter<AppState>> {
    Some(match (method, path) {
        ("GET", "/healthz") | ("GET", "/api/v1/healthz") => get(pages::healthz),
        ("GET", "/assets/mamori.css") => get(pages::css),
        ("GET", "/assets/mamori.js") => get(pages::js),
        ("GET", "/assets/webauthn.js") => get(pages::webauthn_js),
        ("GET", "/assets/favicon.svg") | ("GET", "/favicon.ico") => get(pages::favicon),
        ("GET", "/setup") => get(pages::setup_form),
        ("POST", "/setup") => post(pages::setup_submit),
        ("GET", "/login") => get(pages::login_form),
        ("POST", "/login") => post(pages::login_submit),
        ("POST", "/lang") => post(pages::set_lang),
        ("GET", "/login/totp") => get(pages::totp_form),
        ("POST", "/login/totp") => post(pages::totp_submit),
        ("POST", "/logout") => post(pages::logout),
        ("GET", "/lock") => get(pages::lock_screen),
        ("POST", "/lock") => post(pages::unlock),
        ("GET", "/account/password") => get(pages::password_form),
        ("POST", "/account/password") => post(pages::password_submit),
        ("GET", "/account/two-factor") => get(pages::two_factor_form),
        ("POST", "/account/two-factor") => post(pages::two_factor_submit),
        ("POST", "/login/key/start") => post(pages::key_login_start),
        ("POST", "/login/key/finish") => post(pages::key_login_finish),
        ("POST", "/account/keys/register/start") => post(pages::key_register_start),
        ("POST", "/account/keys/register/finish") => post(pages::key_register_finish),
        ("POST", "/account/keys/{id}/delete") => post(pages::key_delete),
        ("GET", "/") => get(pages::dashboard),
        ("GET", "/ledger") => get(ledger_overview::overview),
        ("GET", "/ledger/findings") => get(ledger_overview::findings),
        ("GET", "/ledger/contacts/chart") => get(ledger_overview::contact_chart),
        ("GET", "/ledger/{kind}") => get(ledger::list),
        ("POST", "/ledger/{kind}") => post(ledger::create),
        ("GET", "/ledger/{kind}/new") => get(ledger::new_form),
        ("GET", "/ledger/{kind}/export/{file}") => get(ledger::export),
        ("GET", "/ledger/{kind}/import") => get(ledger::import_form),
        // Ledger files may be large: this route alone accepts up to 50 MB.
        ("POST", "/ledger/{kind}/import") => {
            post(ledger::import_preview).layer(DefaultBodyLimit::max(50 * 1024 * 1024))
        }
        ("POST", "/ledger/{kind}/import/commit") => post(ledger::import_commit),
        ("POST", "/ledger/{kind}/review") => post(ledger::review),
        ("GET", "/ledger/{kind}/{id}") => get(ledger::detail),
        ("POST", "/ledger/{kind}/{id}") => post(ledger::update),
        ("GET", "/ledger/{kind}/{id}/edit") => get(ledger::edit_form),
        ("POST", "/ledger/{kind}/{id}/retire") => post(ledger::retire),
        // A record's file: the cap plus room for the form around it; the handler names the
        // field when the file alone is over the cap.
        ("POST", "/ledger/{kind}/{id}/files") => post(ledger::upload_file).layer(
            DefaultBodyLimit::max(mamori_service::files::MAX_FILE_BYTES + 256 * 1024),
        ),
        ("GET", "/ledger/{kind}/{id}/files/{file}") => get(ledger::download_file),
        ("GET", "/accounts") => get(pages::accounts),
        ("GET", "/accounts/directory") => get(directory::page),
        ("POST", "/accounts/directory") => post(directory::sync_now),
        ("GET", "/accounts/import") => get(account_import::form),
        ("POST", "/accounts/import") => {
            post(account_import::upload).layer(DefaultBodyLimit::max(account_import::UPLOAD_BYTES))
        }
        ("POST", "/accounts/import/map") => post(account_import::remap),
        ("GET", "/accounts/matches") => get(account_import::matches),
        ("POST", "/accounts/matches/{id}") => post(account_import::decide),
        ("GET", "/accounts/break-glass") => get(break_glass::show),
        ("POST", "/accounts/break-glass/{id}") => post(break_glass::act),
        ("GET", "/accounts/reviews") => get(account_reviews::list),
        ("POST", "/accounts/reviews") => post(account_reviews::create),
        ("GET", "/accounts/reviews/{id}") => get(account_reviews::detail),
        ("POST", "/accounts/reviews/{id}/decide") => post(account_reviews::decide),
        ("POST", "/accounts/reviews/{id}/close") => post(account_reviews::close),
        ("GET", "/accounts/reviews/{id}/report.csv") => get(account_reviews::report),
        ("GET", "/checklist") => get(checklist::page),
        ("GET", "/checklist/items/{key}") => get(checklist::item),
        ("POST", "/checklist/items/{key}") => post(checklist::answer),
        ("GET", "/checklist/export/{file}") => get(checklist::export),
        ("GET", "/checklist/vendors") => get(vendor_forms::list),
        // A returned form is a small workbook: 5 MB is far more than one needs.
        ("POST", "/checklist/vendors/{system}/import") => {
            post(vendor_forms::import).layer(DefaultBodyLimit::max(FORM_UPLOAD_BYTES))
        }
        ("GET", "/logs") => get(pages::logs),
        ("GET", "/logs/verify") => get(pages::logs_verify),
        ("GET", "/logs/events") => get(events::search),
        ("GET", "/logs/events.csv") => get(events::export_csv),
        ("GET", "/logs/sources") => get(sources::list),
        ("POST", "/logs/sources") => post(sources::create),
        ("GET", "/logs/sources/{name}") => get(sources::detail),
        ("POST", "/logs/sources/{name}/token") => post(sources::rotate),
        ("POST", "/logs/sources/{name}/state") => post(sources::set_state),
        ("GET", "/logs/reviews") => get(sources::reviews),
        ("POST", "/logs/reviews") => post(sources::review),
        ("GET", "/logs/profiles") => get(log_profiles::list),
        // Access-log CSVs and their samples: up to 50 MB, on these routes only.
        ("POST", "/logs/profiles/ingest") => {
            post(log_profiles::ingest).layer(DefaultBodyLimit::max(log_profiles::UPLOAD_BYTES))
        }
        ("GET", "/logs/profiles/new") => get(log_profiles::new_form),
        ("POST", "/logs/profiles/new") => {
            post(log_profiles::create).layer(DefaultBodyLimit::max(log_profiles::UPLOAD_BYTES))
        }
        ("GET", "/logs/profiles/{name}") => get(log_profiles::edit_form),
        ("POST", "/logs/profiles/{name}") => {
            post(log_profiles::update).layer(DefaultBodyLimit::max(log_profiles::UPLOAD_BYTES))
        }
        ("POST", "/logs/profiles/{name}/delete") => post(log_profiles::delete),
        ("POST", "/logs/seal/verify") => post(pages::seal_verify),
        ("GET", "/logs/seal/bundle") => get(pages::seal_bundle),
        ("GET", "/logs/seal/key") => get(pages::seal_key),
        ("GET", "/vendors") => get(pages::vendors),
        ("GET", "/vendor-portal") => get(vendor_forms::portal),
        ("GET", "/vendor-portal/systems/{system}") => get(vendor_forms::portal_form),
        ("GET", "/vendor-portal/systems/{system}/form.xlsx") => get(vendor_forms::portal_export),
        ("POST", "/vendor-portal/systems/{system}/import") => {
            post(vendor_forms::portal_import).layer(DefaultBodyLimit::max(FORM_UPLOAD_BYTES))
        }
        ("GET", "/vendor-portal/systems/{system}/items/{key}") => get(vendor_forms::portal_item),
        ("POST", "/vendor-portal/systems/{system}/items/{key}") => {
            post(vendor_forms::portal_answer)
        }
        ("GET", "/backups") => get(pages::backups),
        ("GET", "/incidents") => get(incidents::list),
        ("POST", "/incidents") => post(incidents::create),
        ("GET", "/incidents/{id}") => get(incidents::detail),
        ("POST", "/incidents/{id}") => post(incidents::act),
        ("GET", "/alerts") => get(alerts::list),
        ("GET", "/alerts/rules") => get(alerts::rules),
        ("GET", "/alerts/watched") => get(alerts::watched),
        ("POST", "/alerts/watched") => post(alerts::watch),
        ("GET", "/alerts/{id}") => get(alerts::detail),
        ("POST", "/alerts/{id}") => post(alerts::act),
        ("POST", "/alerts/{id}/incident") => post(incidents::from_alert),
        ("GET", "/settings") => get(pages::settings),
        ("POST", "/settings/facility") => post(pages::settings_submit),
        ("POST", "/settings/users") => post(pages::user_create),
        ("POST", "/settings/users/{id}/disable") => post(pages::user_disable),
        ("POST", "/settings/users/{id}/enable") => post(pages::user_enable),
        ("GET", "/settings/sessions") => get(pages::sessions_page),
        ("GET", "/account") => get(pages::account_page),
        ("POST", "/account/sessions/{hash}/revoke") => post(pages::revoke_session),
        ("GET", "/api/v1/me") => get(pages::api_me),
        ("POST", "/api/v1/logs") => {
            post(sources::api_ingest).layer(DefaultBodyLimit::max(sources::INGEST_BYTES))
        }
        ("POST", "/api/v1/agent/enroll") => post(agents::api_enroll),
        ("POST", "/api/v1/agent/upload") => {
            post(agents::api_upload).layer(DefaultBodyLimit::max(agents::UPLOAD_BYTES))
        }
        ("GET", "/api/v1/agent/policy") => get(agents::api_policy),
        ("GET", "/agents") => get(agents::list),
        ("POST", "/agents/enroll") => post(agents::enroll),
        ("POST", "/agents/enrollments/{id}/withdraw") => post(agents::withdraw),
        ("GET", "/agents/policy") => get(agents::policy),
        ("GET", "/agents/baselines") => get(agents::baselines),
        ("POST", "/agents/baselines") => post(agents::set_baseline),
        ("POST", "/agents/offline/enroll") => {
            post(agents::offline_enroll).layer(DefaultBodyLimit::max(1024 * 1024))
        }
        ("POST", "/agents/offline/import") => post(agents::offline_import).layer(
            DefaultBodyLimit::max(mamori_service::agents::MAX_EXPORT_BYTES + 256 * 1024),
        ),
        ("GET", "/agents/{id}/policy-file") => get(agents::policy_file),
        ("POST", "/agents/policy") => post(agents::set_policy),
        ("GET", "/agents/{id}") => get(agents::show),
        ("POST", "/agents/{id}/ledger") => post(agents::ledger),
        ("POST", "/agents/{id}/groups") => post(agents::groups),
        ("POST", "/agents/{id}/revoke") => post(agents::revoke),
        ("POST", "/agents/{id}/unlock") => post(agents::unlock),
        ("GET", "/api/v1/seal/proof/{index}") => get(pages::api_seal_proof),
        ("GET", "/api/v1/seal/consistency") => get(pages::api_seal_consistency),
        ("POST", "/api/v1/session/ping") => post(pages::ping),
        _ => return None,
    })
}

/// The most a filled-in checklist workbook may weigh when uploaded.
const FORM_UPLOAD_BYTES: usize = 5 * 1024 * 1024;

/// Security headers on every response.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// Builds the router from [`ROUTES`].
pub fn router(state: AppState) -> Router {
    let mut app: Router<AppState> = Router::new();
    for spec in ROUTES {
        // Methods of the same path merge into one method router.
        match handler(spec.method, spec.path) {
            Some(h) => app = app.route(spec.path, h),
            None => tracing::error!(
                method = spec.method,
                path = spec.path,
                "route without handler"
            ),
        }
    }
    let max_body = state.max_body_bytes;
    let hsts = if state.secure {
        HeaderValue::from_static("max-age=31536000")
    } else {
        HeaderValue::from_static("max-age=0")
    };
    app.fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            resolve_session,
        ))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            hsts,
        ))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_in_the_table_has_a_handler() {
        for spec in ROUTES {
            assert!(
                handler(spec.method, spec.path).is_some(),
                "{} {}",
                spec.method,
                spec.path
            );
        }
        let mut seen = std::collections::HashSet::new();
        for spec in ROUTES {
            assert!(
                seen.insert((spec.method, spec.path)),
                "listed twice: {} {}",
                spec.method,
                spec.path
            );
        }
    }
}
