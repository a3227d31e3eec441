//! Page models and their templates (askama, compiled in). Every string comes from the message
//! catalog through [`Layout::t`].

use askama::Template;
use axum::response::{Html, IntoResponse, Response};
use mamori_catalog::{Lang, tr};
use mamori_domain::audit::AuditRecord;
use mamori_domain::role::{Permission, Role};
use mamori_service::auth::SessionView;
use mamori_service::clock::to_jst;
use time::Date;

/// Renders a template; a template error is logged and becomes a plain 500.
pub fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => (
            [(axum::http::header::CACHE_CONTROL, "no-store")],
            Html(html),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "GEN0500").into_response()
        }
    }
}

/// One entry of the main navigation.
#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: &'static str,
    pub label: String,
    pub icon: &'static str,
    pub current: bool,
}

const ICON_HOME: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M3 11l9-7 9 7v9a1 1 0 0 1-1 1h-5v-6H9v6H4a1 1 0 0 1-1-1z" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"/></svg>"#;
const ICON_LEDGER: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><rect x="3" y="4" width="18" height="12" rx="1.5" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="M8 20h8M12 16v4" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/></svg>"#;
const ICON_ACCOUNTS: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><circle cx="9" cy="8" r="3.5" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="M2.5 20c.8-3.6 3.4-5.5 6.5-5.5s5.7 1.9 6.5 5.5M16 4.5a3.5 3.5 0 0 1 0 7M18 14.8c2 .7 3.2 2.4 3.6 5.2" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/></svg>"#;
const ICON_CHECKLIST: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><rect x="4" y="3" width="16" height="18" rx="2" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="M8 8.5l1.5 1.5L12 7.5M8 14.5l1.5 1.5 2.5-2.5M14 9h3M14 15h3" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/></svg>"#;
const ICON_LOGS: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M12 3l7 3v5c0 4.6-3 8.3-7 10-4-1.7-7-5.4-7-10V6z" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"/><path d="M9 12l2 2 4-4" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/></svg>"#;
const ICON_VENDORS: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M3 21V9l6-4v4l6-4v4l6-4v16z" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"/><path d="M7 17h2M11 17h2M15 17h2" stroke="currentColor" stroke-width="1.8"/></svg>"#;
const ICON_BACKUP: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><ellipse cx="12" cy="6" rx="7" ry="3" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="M5 6v12c0 1.7 3.1 3 7 3s7-1.3 7-3V6M5 12c0 1.7 3.1 3 7 3s7-1.3 7-3" fill="none" stroke="currentColor" stroke-width="1.8"/></svg>"#;
const ICON_INCIDENT: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M12 3l9.5 17h-19z" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"/><path d="M12 10v4.5M12 17.5v.01" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>"#;
const ICON_SETTINGS: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="3" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="M12 2.5v3M12 18.5v3M2.5 12h3M18.5 12h3M5.3 5.3l2.1 2.1M16.6 16.6l2.1 2.1M5.3 18.7l2.1-2.1M16.6 7.4l2.1-2.1" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/></svg>"#;

const ICON_AGENTS: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><rect x="2.5" y="4" width="13" height="10" rx="1.5" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="M6 18h6M9 14v4" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/><rect x="17.5" y="9" width="4" height="9" rx="1" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="M19.5 18v3" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/></svg>"#;

/// The main navigation: (href, message key, icon, permission).
pub const NAV: [(&str, &str, &str, Permission); 11] = [
    ("/", "nav.dashboard", ICON_HOME, Permission::ViewDashboard),
    ("/ledger", "nav.ledger", ICON_LEDGER, Permission::ViewLedger),
    ("/agents", "nav.agents", ICON_AGENTS, Permission::ViewAgents),
    (
        "/accounts",
        "nav.accounts",
        ICON_ACCOUNTS,
        Permission::ViewAccounts,
    ),
    (
        "/checklist",
        "nav.checklist",
        ICON_CHECKLIST,
        Permission::ViewChecklist,
    ),
    ("/logs", "nav.logs", ICON_LOGS, Permission::ViewLogs),
    (
        "/vendors",
        "nav.vendors",
        ICON_VENDORS,
        Permission::ViewVendors,
    ),
    (
        "/backups",
        "nav.backups",
        ICON_BACKUP,
        Permission::ViewBackups,
    ),
    (
        "/incidents",
        "nav.incidents",
        ICON_INCIDENT,
        Permission::ViewIncidents,
    ),
    (
        "/settings",
        "nav.settings",
        ICON_SETTINGS,
        Permission::ViewSettings,
    ),
    (
        "/vendor-portal",
        "nav.vendor_portal",
        ICON_VENDORS,
        Permission::VendorPortal,
    ),
];

/// Everything the shared page frame needs.
#[derive(Debug, Clone)]
pub struct Layout {
    pub lang: Lang,
    pub title: String,
    pub facility: String,
    pub user_name: String,
    pub role: Role,
    pub nav: Vec<NavItem>,
    pub csrf: String,
    pub idle_minutes: u32,
    pub flash: Option<String>,
    pub version: &'static str,
}

impl Layout {
    pub fn new(
        lang: Lang,
        view: &SessionView,
        facility: &str,
        title_key: &str,
        current: &str,
    ) -> Layout {
        let role = view.actor.user.role;
        let nav = NAV
            .iter()
            .filter(|(_, _, _, p)| role.permits(*p))
            .map(|(href, key, icon, _)| NavItem {
                href,
                label: tr(lang, key).to_string(),
                icon,
                current: *href == current,
            })
            .collect();
        Layout {
            lang,
            title: tr(lang, title_key).to_string(),
            facility: facility.to_string(),
            user_name: view.actor.user.display_name.clone(),
            role,
            nav,
            csrf: view.csrf.clone(),
            idle_minutes: view.idle_lock_minutes,
            flash: None,
            version: env!("CARGO_PKG_VERSION"),
        }
    }

    pub fn with_flash(mut self, key: Option<&str>) -> Layout {
        self.flash = key
            .filter(|k| k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .map(|k| tr(self.lang, &format!("flash.{k}")).to_string());
        self
    }

    /// Whether the viewer may change the ledger (and the accounts).
    pub fn can_edit_ledger(&self) -> bool {
        self.role
            .permits(mamori_domain::role::Permission::EditLedger)
    }

    /// Message in the page's language.
    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        tr(self.lang, key)
    }

    /// Message by a composed key such as `asset_class.server`.
    pub fn tk(&self, prefix: &str, code: &str) -> String {
        tr(self.lang, &format!("{prefix}.{code}")).to_string()
    }

    pub fn lang_code(&self) -> &'static str {
        self.lang.as_str()
    }

    pub fn role_label(&self) -> String {
        self.tk("role", self.role.as_str())
    }
}

/// `2025/10/14`, or a dash.
pub fn fmt_date(d: Option<Date>) -> String {
    d.map(|d| format!("{}/{:02}/{:02}", d.year(), u8::from(d.month()), d.day()))
        .unwrap_or_else(|| "—".to_string())
}

/// `2025/10/14 09:12` in JST.
pub fn fmt_ms(ms: i64) -> String {
    let t = to_jst(ms);
    format!(
        "{}/{:02}/{:02} {:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// `2025/10/14 09:12:03` in JST: where the seconds matter (log events).
pub fn fmt_ms_seconds(ms: i64) -> String {
    let t = to_jst(ms);
    format!(
        "{}/{:02}/{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The standalone error page (no session needed).
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub lang: &'static str,
    pub title: String,
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub back: String,
}

/// Frame of the pages before login (login, second factor, setup, lock).
#[derive(Debug, Clone)]
pub struct AuthFrame {
    pub lang: Lang,
    pub title: String,
    pub csrf: String,
    pub error: Option<(String, &'static str)>,
    pub notice: Option<String>,
}

impl AuthFrame {
    pub fn new(lang: Lang, title_key: &str, csrf: &str) -> AuthFrame {
        AuthFrame {
            lang,
            title: tr(lang, title_key).to_string(),
            csrf: csrf.to_string(),
            error: None,
            notice: None,
        }
    }

    pub fn with_error(mut self, code: &'static str) -> AuthFrame {
        self.error = Some((tr(self.lang, &format!("error.{code}")).to_string(), code));
        self
    }

    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        tr(self.lang, key)
    }

    pub fn lang_code(&self) -> &'static str {
        self.lang.as_str()
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub f: AuthFrame,
    pub login_id: String,
}

#[derive(Template)]
#[template(path = "totp.html")]
pub struct TotpPage {
    pub f: AuthFrame,
    pub has_totp: bool,
    pub has_keys: bool,
}

/// One facility kind option of the setup form.
#[derive(Debug, Clone)]
pub struct KindOption {
    pub code: &'static str,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "setup.html")]
pub struct SetupPage {
    pub f: AuthFrame,
    pub kinds: Vec<KindOption>,
    pub facility_name: String,
    pub beds: String,
    pub admin_login: String,
    pub admin_name: String,
    pub field: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "lock.html")]
pub struct LockPage {
    pub f: AuthFrame,
    pub user_name: String,
}

#[derive(Template)]
#[template(path = "password.html")]
pub struct PasswordPage {
    pub f: AuthFrame,
    pub forced: bool,
    pub problems: Vec<String>,
}

#[derive(Template)]
#[template(path = "two_factor.html")]
pub struct TwoFactorPage {
    pub f: AuthFrame,
    pub secret: String,
    pub qr_svg: String,
    pub forced: bool,
    pub webauthn: bool,
    pub webauthn_origin: String,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodesPage {
    pub f: AuthFrame,
    pub codes: Vec<String>,
    pub next: &'static str,
}

/// A labelled number for the dashboard's stat cards.
#[derive(Debug, Clone)]
pub struct Stat {
    pub label: String,
    pub value: String,
    pub tone: &'static str,
    pub href: &'static str,
}

/// A finding line on the dashboard.
#[derive(Debug, Clone)]
pub struct FindingLine {
    pub tone: &'static str,
    pub text: String,
    pub href: &'static str,
    /// Details, each with its own page: (href, text).
    pub links: Vec<(String, String)>,
}

/// An audit trail line.
#[derive(Debug, Clone)]
pub struct AuditLine {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub source: String,
    pub action: String,
    pub action_label: String,
    pub target: String,
    pub detail: String,
}

impl AuditLine {
    pub fn of(lang: Lang, r: &AuditRecord) -> AuditLine {
        let key = format!("audit_action.{}", r.action);
        let label = tr(lang, &key);
        AuditLine {
            seq: r.seq,
            at: fmt_ms(r.at_ms),
            actor: r.actor.clone(),
            source: r.source.clone(),
            action: r.action.clone(),
            action_label: if label == key {
                r.action.clone()
            } else {
                label.to_string()
            },
            target: r.target.clone(),
            detail: r.detail.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub l: Layout,
    pub stats: Vec<Stat>,
    pub findings: Vec<FindingLine>,
    /// (title, SVG) of each chart.
    pub charts: Vec<(String, String)>,
    pub recent: Vec<AuditLine>,
    pub today: String,
}

/// An account row.
#[derive(Debug, Clone)]
pub struct AccountLine {
    /// The account's record in the ledger.
    pub href: String,
    pub system: String,
    pub login_id: String,
    pub owner: String,
    pub kind_label: String,
    pub admin: bool,
    pub enabled: bool,
    pub last_login: String,
    pub two_factor: bool,
    pub leaver_days: Option<i64>,
    pub dormant: bool,
    /// An enabled administrator with no approval recorded (2-④).
    pub unapproved: bool,
    pub locked_out: bool,
    pub never_expires: bool,
}

#[derive(Template)]
#[template(path = "accounts.html")]
pub struct AccountsPage {
    pub l: Layout,
    /// The first accounts, findings first; `total` in all.
    pub rows: Vec<AccountLine>,
    pub total: usize,
    pub leavers: usize,
    pub dormant: usize,
    pub dormant_days: u32,
    pub chart_title: String,
    pub chart: String,
}

#[derive(Template)]
#[template(path = "logs.html")]
pub struct LogsPage {
    pub l: Layout,
    pub lines: Vec<AuditLine>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub can_audit: bool,
    pub verify: Option<VerifyResult>,
    pub seal: Option<SealView>,
    /// Verifications of the sealed log, newest first.
    pub verifications: Vec<VerificationLine>,
    pub bundle_from: String,
    pub bundle_to: String,
    /// Why the last bundle request was refused (code, field and reason).
    pub bundle_error: Option<String>,
}

impl LogsPage {
    /// The latest verification of the sealed log.
    pub fn last_verification(&self) -> Option<&VerificationLine> {
        self.verifications.first()
    }
}

/// One verification of the sealed log, as the logs page shows it.
#[derive(Debug, Clone)]
pub struct VerificationLine {
    pub at: String,
    /// The login id, or "automatic (daily)".
    pub who: String,
    pub ok: bool,
    pub records: u64,
    /// `0–1234`.
    pub range: String,
    /// The first bad record, or empty.
    pub bad_index: String,
    pub code: String,
    pub reason: String,
}

impl VerificationLine {
    pub fn of(lang: Lang, v: &mamori_service::sealing::Verification) -> VerificationLine {
        VerificationLine {
            at: fmt_ms(v.at_ms),
            who: match v.login() {
                Some(login) => login.to_string(),
                None => tr(lang, "seal.by_system").to_string(),
            },
            ok: v.ok,
            records: v.records(),
            range: if v.records() == 0 {
                "—".into()
            } else {
                format!("{}–{}", v.first_index, v.tree_size - 1)
            },
            bad_index: v.bad_index.map(|i| i.to_string()).unwrap_or_default(),
            code: v.code.clone(),
            reason: v.reason.clone(),
        }
    }
}

/// The printable page of the facility's signing key.
#[derive(Template)]
#[template(path = "seal_key.html")]
pub struct SealKeyPage {
    pub l: Layout,
    pub facility: String,
    pub lead: String,
    pub fingerprint: String,
    /// The fingerprint's five groups of four.
    pub fingerprint_groups: Vec<String>,
    pub public_key: String,
    /// The key in four lines of four groups of four hex digits.
    pub key_lines: Vec<String>,
    pub printed: String,
    pub sealed: u64,
}

/// The sealed log's state as the logs page shows it.
#[derive(Debug, Clone)]
pub struct SealView {
    pub sealed: u64,
    pub pending: i64,
    pub head: String,
    pub root: String,
    pub fingerprint: String,
    pub public_key: String,
    pub diverged: bool,
}

/// Result of "verify now" on the logs page.
#[derive(Debug, Clone)]
pub struct VerifyResult {
    pub ok: bool,
    pub verified: i64,
    pub head: String,
    pub problem: String,
}

/// A vendor row.
#[derive(Debug, Clone)]
pub struct VendorLine {
    /// The vendor's record in the ledger.
    pub href: String,
    pub name: String,
    pub services: String,
    pub systems: String,
    pub phone: String,
    pub email: String,
    pub remote: String,
    pub remote_tone: &'static str,
}

#[derive(Template)]
#[template(path = "vendors.html")]
pub struct VendorsPage {
    pub l: Layout,
    pub vendors: Vec<VendorLine>,
}

#[derive(Template)]
#[template(path = "backups.html")]
pub struct BackupsPage {
    pub l: Layout,
    pub data_dir: String,
}

/// A user row on the settings page.
#[derive(Debug, Clone)]
pub struct UserLine {
    pub id: i64,
    pub login_id: String,
    pub name: String,
    pub role_label: String,
    pub two_factor: bool,
    pub disabled: bool,
    pub must_change: bool,
    pub is_self: bool,
}

/// A role option of the new-user form.
#[derive(Debug, Clone)]
pub struct RoleOption {
    pub code: &'static str,
    pub label: String,
}

#[derive(Template)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    pub l: Layout,
    pub can_manage: bool,
    pub facility_name: String,
    pub facility_kind: String,
    pub beds: String,
    pub idle_lock_minutes: u32,
    pub require_2fa_all: bool,
    pub users: Vec<UserLine>,
    pub roles: Vec<RoleOption>,
    pub vendors: Vec<(i64, String)>,
    pub error: Option<(String, &'static str)>,
    pub cert_fingerprint: String,
}

/// A session row.
#[derive(Debug, Clone)]
pub struct SessionLine {
    pub hash: String,
    pub user: String,
    pub created: String,
    pub last_seen: String,
    pub source: String,
    pub agent: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub l: Layout,
    pub login_id: String,
    pub two_factor: bool,
    pub totp: bool,
    pub keys: Vec<KeyLine>,
    pub webauthn: bool,
    pub webauthn_origin: String,
    pub sessions: Vec<SessionLine>,
}

/// A registered security key.
#[derive(Debug, Clone)]
pub struct KeyLine {
    pub id: i64,
    pub name: String,
    pub created: String,
    pub last_used: String,
}

#[derive(Template)]
#[template(path = "sessions.html")]
pub struct SessionsPage {
    pub l: Layout,
    pub sessions: Vec<SessionLine>,
}
