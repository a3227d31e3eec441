//! アクセスログの取込設定: the mapping profiles of EHR / レセコン access-log CSV exports (list,
//! form with field errors, a preview of a sample file before saving) and the upload that takes
//! a CSV into the sealed event log with a chosen profile.

use crate::web::AppState;
use crate::web::error::WebError;
use crate::web::extract::{Client, CsrfForm, CsrfUpload, Page};
use crate::web::views::{Layout, fmt_ms, render};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mamori_catalog::{Lang, tr};
use mamori_domain::ledger::InfoSystem;
use mamori_domain::role::Permission;
use mamori_ingest::{
    CsvProfile, DateFormat, Delimiter, LogFileError, ProfileEncoding, ProfileInput,
    default_operations,
};
use mamori_service::csv_profiles::ProfileEntry;
use mamori_service::logs::{LogFormat, decode_file, preview_csv};
use mamori_service::{ServiceError, perm};
use serde::Deserialize;

type PageResult = Result<Response, WebError>;

/// Rows shown in a preview.
const PREVIEW_ROWS: usize = 10;
/// Problems shown in a preview or after an upload.
const SHOWN_PROBLEMS: usize = 20;
/// The largest CSV the pages take (the command line takes up to 200 MB).
pub const UPLOAD_BYTES: usize = 50 * 1024 * 1024;

fn svc(lang: Lang) -> impl Fn(ServiceError) -> WebError {
    move |e| WebError::from_service(&e, lang)
}

/// A refused file: its message in the page's language and its code.
fn file_error(lang: Lang, e: &LogFileError) -> (String, String) {
    let msg = match lang {
        Lang::Ja => e.message_ja(),
        Lang::En => e.message_en(),
    };
    (msg, e.code().to_string())
}

/// One profile in the list.
pub struct ProfileLine {
    pub name: String,
    pub label: String,
    pub shipped: bool,
    pub layout: String,
    pub system: String,
    pub updated: String,
}

/// What an upload did.
pub struct IngestResult {
    pub file_name: String,
    pub profile: String,
    pub accepted: usize,
    pub bad: usize,
    pub first: u64,
    pub last: u64,
    pub examples: Vec<String>,
}

#[derive(Template)]
#[template(path = "log_profiles.html")]
pub struct ProfilesPage {
    pub l: Layout,
    pub can_manage: bool,
    pub profiles: Vec<ProfileLine>,
    pub chosen: String,
    pub result: Option<IngestResult>,
    /// (message, code) of a refused upload.
    pub ingest_error: Option<(String, String)>,
}

/// One mapped row of a preview.
pub struct PreviewRow {
    pub line: usize,
    pub at: String,
    pub user: String,
    pub patient: String,
    pub action: String,
    pub terminal: String,
    pub outcome: String,
}

/// A sample file read with the form's profile.
pub struct Preview {
    pub file_name: String,
    pub encoding: String,
    pub headers: String,
    pub rows: Vec<PreviewRow>,
    pub events: usize,
    pub skipped: usize,
    /// (line, column, message, code)
    pub problems: Vec<(usize, String, String, String)>,
    pub more_problems: usize,
    pub error: Option<(String, String)>,
}

/// One column field of the form.
pub struct ColumnField {
    pub key: &'static str,
    pub label: String,
    pub hint: String,
    pub value: String,
    pub required: bool,
}

#[derive(Template)]
#[template(path = "log_profile_form.html")]
pub struct ProfileFormPage {
    pub l: Layout,
    pub can_manage: bool,
    /// Where the form posts: `/logs/profiles/new` or the profile's own page.
    pub action: String,
    /// The stored name being edited (empty for a new profile).
    pub original: String,
    pub shipped: bool,
    pub read_only: bool,
    pub f: ProfileInput,
    pub header: bool,
    pub columns: Vec<ColumnField>,
    pub system: String,
    pub systems: Vec<(String, String)>,
    pub encodings: Vec<(String, String)>,
    pub delimiters: Vec<(String, String)>,
    pub date_formats: Vec<(String, String)>,
    pub actions: Vec<(String, String)>,
    /// (field, message, code)
    pub errors: Vec<(String, String, String)>,
    pub preview: Option<Preview>,
}

impl ProfileFormPage {
    /// The error of `field`, if any: (message, code).
    pub fn err(&self, field: &str) -> Option<(&str, &str)> {
        self.errors
            .iter()
            .find(|(f, _, _)| f == field)
            .map(|(_, m, c)| (m.as_str(), c.as_str()))
    }
}

fn choices<T: Copy>(
    lang: Lang,
    prefix: &str,
    all: &[T],
    code: fn(T) -> &'static str,
) -> Vec<(String, String)> {
    all.iter()
        .map(|c| {
            let code = code(*c);
            (
                code.to_string(),
                tr(lang, &format!("{prefix}_{code}")).to_string(),
            )
        })
        .collect()
}

/// A short description of where a profile finds its fields.
fn layout(lang: Lang, p: &CsvProfile) -> String {
    let t = |k: &str| tr(lang, &format!("csv_profile.{k}")).to_string();
    let mut parts = vec![
        tr(
            lang,
            &format!("csv_profile.encoding_{}", p.encoding.as_str()),
        )
        .to_string(),
        tr(
            lang,
            &format!("csv_profile.delimiter_{}", p.delimiter.as_str()),
        )
        .to_string(),
        if p.header {
            t("with_header")
        } else {
            t("no_header")
        },
    ];
    parts.push(format!("{}: {}", t("time"), p.time.text()));
    parts.push(format!("{}: {}", t("user"), p.user.text()));
    if let Some(c) = &p.patient {
        parts.push(format!("{}: {}", t("patient"), c.text()));
    }
    parts.join(" / ")
}

async fn systems(state: &AppState, lang: Lang) -> Result<Vec<(String, String)>, WebError> {
    Ok(state
        .svc
        .store
        .records::<InfoSystem>()
        .await
        .map_err(|e| svc(lang)(e.into()))?
        .into_iter()
        .map(|s| (s.id.0.to_string(), s.name))
        .collect())
}

async fn list_page(
    state: &AppState,
    p: &Page<perm::ViewLogs>,
    flash: Option<&str>,
) -> Result<ProfilesPage, WebError> {
    let lang = p.lang;
    let entries = state.svc.csv_profiles(&p.cap).await.map_err(svc(lang))?;
    let systems = systems(state, lang).await?;
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc(lang))?;
    let profiles = entries
        .into_iter()
        .map(|e| ProfileLine {
            layout: layout(lang, &e.profile),
            system: e
                .system_id
                .and_then(|id| systems.iter().find(|(s, _)| *s == id.to_string()))
                .map(|(_, n)| n.clone())
                .unwrap_or_default(),
            updated: e
                .updated_at_ms
                .map(|t| format!("{}（{}）", fmt_ms(t), e.updated_by))
                .unwrap_or_default(),
            name: e.profile.name,
            label: e.profile.label,
            shipped: e.shipped,
        })
        .collect();
    Ok(ProfilesPage {
        l: Layout::new(lang, &p.view, &fac, "csv_profile.title", "/logs").with_flash(flash),
        can_manage: p.view.actor.role().permits(Permission::ManageLogs),
        profiles,
        chosen: "generic".into(),
        result: None,
        ingest_error: None,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    ok: Option<String>,
}

/// `/logs/profiles`: every profile, and the upload.
pub async fn list(
    State(state): State<AppState>,
    p: Page<perm::ViewLogs>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    Ok(render(&list_page(&state, &p, q.ok.as_deref()).await?))
}

/// Takes an uploaded access-log CSV in with the chosen profile: sealed, then indexed.
pub async fn ingest(
    State(state): State<AppState>,
    Client(client): Client,
    view: Page<perm::ViewLogs>,
    p: Page<perm::ManageLogs>,
    upload: CsrfUpload,
) -> PageResult {
    let lang = p.lang;
    let mut page = list_page(&state, &view, None).await?;
    let chosen = upload.field("profile").unwrap_or("").trim().to_string();
    page.chosen = chosen.clone();
    let refuse = |mut page: ProfilesPage, e: (String, String)| {
        page.ingest_error = Some(e);
        Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
    };
    if upload.too_large {
        return refuse(
            page,
            (tr(lang, "error.REQ0001").to_string(), "REQ0001".to_string()),
        );
    }
    let entry = match state.svc.csv_profile(&view.cap, &chosen).await {
        Ok(e) => e,
        Err(ServiceError::NotFound) => {
            return refuse(
                page,
                (tr(lang, "error.LOG0023").to_string(), "LOG0023".to_string()),
            );
        }
        Err(e) => return Err(svc(lang)(e)),
    };
    let named: Option<String> = upload
        .field("source")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(200).collect());
    let Some((file_name, bytes)) = upload.file else {
        return refuse(
            page,
            (tr(lang, "error.IMP0203").to_string(), "IMP0203".to_string()),
        );
    };
    let source = named.unwrap_or_else(|| file_name.clone());
    let now = state.svc.clock.now_ms();
    let decoded = match decode_file(
        LogFormat::Csv,
        &bytes,
        now,
        &client.source,
        Some(&entry.profile),
    ) {
        Ok(d) => d,
        Err(e) => return refuse(page, file_error(lang, &e)),
    };
    let receipt = state
        .svc
        .ingest_file_events(&p.cap, &source, &decoded.events, &client)
        .await
        .map_err(svc(lang))?;
    page.result = Some(IngestResult {
        file_name,
        profile: entry.profile.label,
        accepted: receipt.accepted,
        bad: decoded.bad,
        first: receipt.first,
        last: receipt.end.saturating_sub(1),
        examples: decoded.examples,
    });
    Ok(render(&page))
}

async fn form_page(
    state: &AppState,
    p: &Page<perm::ViewLogs>,
    entry: Option<&ProfileEntry>,
    f: ProfileInput,
    system: String,
) -> Result<ProfileFormPage, WebError> {
    let lang = p.lang;
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc(lang))?;
    let can_manage = p.view.actor.role().permits(Permission::ManageLogs);
    let shipped = entry.is_some_and(|e| e.shipped);
    let original = entry.map(|e| e.profile.name.clone()).unwrap_or_default();
    let action = if original.is_empty() {
        "/logs/profiles/new".to_string()
    } else {
        format!("/logs/profiles/{original}")
    };
    let title = if original.is_empty() {
        "csv_profile.new_title"
    } else {
        "csv_profile.edit_title"
    };
    let mut actions: Vec<(String, String)> = mamori_domain::event::Action::NAMED
        .iter()
        .map(|a| {
            (
                a.as_str().to_string(),
                tr(lang, &format!("event_action.{}", a.as_str())).to_string(),
            )
        })
        .collect();
    actions.retain(|(c, _)| c.starts_with("record_") || c.starts_with("log"));
    let columns = [
        ("time", &f.time, true),
        ("date", &f.date, false),
        ("user", &f.user, true),
        ("patient", &f.patient, false),
        ("operation", &f.operation, false),
        ("terminal", &f.terminal, false),
        ("outcome", &f.outcome, false),
    ]
    .into_iter()
    .map(|(key, value, required)| ColumnField {
        key,
        label: tr(lang, &format!("csv_profile.{key}")).to_string(),
        hint: tr(lang, &format!("csv_profile.{key}_hint")).to_string(),
        value: value.clone(),
        required,
    })
    .collect();
    Ok(ProfileFormPage {
        l: Layout::new(lang, &p.view, &fac, title, "/logs"),
        can_manage,
        columns,
        action,
        original,
        shipped,
        read_only: shipped || !can_manage,
        header: matches!(f.header.trim(), "1" | "on" | "true" | "yes"),
        f,
        system,
        systems: systems(state, lang).await?,
        encodings: choices(
            lang,
            "csv_profile.encoding",
            ProfileEncoding::ALL,
            ProfileEncoding::as_str,
        ),
        delimiters: choices(
            lang,
            "csv_profile.delimiter",
            Delimiter::ALL,
            Delimiter::as_str,
        ),
        date_formats: choices(
            lang,
            "csv_profile.date_format",
            DateFormat::ALL,
            DateFormat::as_str,
        ),
        actions,
        errors: Vec::new(),
        preview: None,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct NewQuery {
    /// A profile to copy.
    #[serde(default)]
    from: Option<String>,
}

/// `/logs/profiles/new`: an empty form, or a copy of `?from=NAME`.
pub async fn new_form(
    State(state): State<AppState>,
    view: Page<perm::ViewLogs>,
    _p: Page<perm::ManageLogs>,
    Query(q): Query<NewQuery>,
) -> PageResult {
    let lang = view.lang;
    let (f, system) = match q.from.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => {
            let e = state
                .svc
                .csv_profile(&view.cap, name)
                .await
                .map_err(svc(lang))?;
            let mut f = ProfileInput::of(&e.profile);
            f.name = format!("{}-copy", e.profile.name);
            f.label = format!("{}{}", e.profile.label, tr(lang, "csv_profile.copy_suffix"));
            (f, e.system_id.map(|s| s.to_string()).unwrap_or_default())
        }
        None => {
            let mut f = ProfileInput::of(&blank_profile());
            f.name = String::new();
            f.label = String::new();
            (f, String::new())
        }
    };
    Ok(render(&form_page(&state, &view, None, f, system).await?))
}

/// A new profile's starting point: a header row, the generic column names, the usual
/// operation values.
fn blank_profile() -> CsvProfile {
    let generic = mamori_ingest::shipped_profiles().into_iter().next();
    generic.unwrap_or(CsvProfile {
        name: String::new(),
        label: String::new(),
        encoding: ProfileEncoding::Auto,
        delimiter: Delimiter::Comma,
        header: true,
        date_format: DateFormat::Auto,
        time: mamori_ingest::ColumnRef::Name("日時".into()),
        date: None,
        user: mamori_ingest::ColumnRef::Name("利用者ID".into()),
        patient: None,
        operation: None,
        terminal: None,
        outcome: None,
        operations: default_operations(),
    })
}

/// `/logs/profiles/{name}`: the profile's form (read-only when shipped or not allowed to edit).
pub async fn edit_form(
    State(state): State<AppState>,
    p: Page<perm::ViewLogs>,
    Path(name): Path<String>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let lang = p.lang;
    let e = state
        .svc
        .csv_profile(&p.cap, &name)
        .await
        .map_err(svc(lang))?;
    let f = ProfileInput::of(&e.profile);
    let system = e.system_id.map(|s| s.to_string()).unwrap_or_default();
    let mut page = form_page(&state, &p, Some(&e), f, system).await?;
    page.l = page.l.with_flash(q.ok.as_deref());
    Ok(render(&page))
}

/// The profile typed into the form.
fn input_of(up: &CsrfUpload) -> ProfileInput {
    let v = |k: &str| up.field(k).unwrap_or("").to_string();
    ProfileInput {
        name: v("name"),
        label: v("label"),
        encoding: v("encoding"),
        delimiter: v("delimiter"),
        header: v("header"),
        date_format: v("date_format"),
        time: v("time"),
        date: v("date"),
        user: v("user"),
        patient: v("patient"),
        operation: v("operation"),
        terminal: v("terminal"),
        outcome: v("outcome"),
        operations: v("operations"),
    }
}

fn field_errors(
    lang: Lang,
    list: &[(&'static str, &'static str)],
) -> Vec<(String, String, String)> {
    list.iter()
        .map(|(f, c)| {
            (
                f.to_string(),
                tr(lang, &format!("error.{c}")).to_string(),
                c.to_string(),
            )
        })
        .collect()
}

/// Reads the sample file with `profile` for the preview.
fn preview(lang: Lang, profile: &CsvProfile, file_name: String, bytes: &[u8], now: i64) -> Preview {
    let mut out = Preview {
        file_name,
        encoding: String::new(),
        headers: String::new(),
        rows: Vec::new(),
        events: 0,
        skipped: 0,
        problems: Vec::new(),
        more_problems: 0,
        error: None,
    };
    let r = match preview_csv(profile, bytes, now) {
        Ok(r) => r,
        Err(e) => {
            out.error = Some(file_error(lang, &e));
            return out;
        }
    };
    out.encoding = r.encoding.to_string();
    out.headers = r.headers.join(", ");
    out.events = r.events.len();
    out.skipped = r.skipped;
    out.rows = r
        .events
        .iter()
        .take(PREVIEW_ROWS)
        .map(|(line, e)| PreviewRow {
            line: *line,
            at: e
                .time_ms
                .map(crate::web::views::fmt_ms_seconds)
                .unwrap_or_default(),
            user: e.actor.clone().unwrap_or_default(),
            patient: e.object.clone().unwrap_or_default(),
            action: {
                let key = format!("event_action.{}", e.action.as_str());
                if mamori_catalog::messages::has(&key) {
                    tr(lang, &key).to_string()
                } else {
                    e.action.as_str().to_string()
                }
            },
            terminal: e.source_host.clone(),
            outcome: tr(lang, &format!("events.outcome_{}", e.outcome.as_str())).to_string(),
        })
        .collect();
    out.more_problems = r.diagnostics.len().saturating_sub(SHOWN_PROBLEMS);
    out.problems = r
        .diagnostics
        .into_iter()
        .take(SHOWN_PROBLEMS)
        .map(|d| {
            let msg = match lang {
                Lang::Ja => d.message_ja,
                Lang::En => d.message_en,
            };
            (
                d.line,
                d.column.unwrap_or_default(),
                msg,
                d.code.to_string(),
            )
        })
        .collect();
    out
}

/// `POST /logs/profiles/new`: save a new profile, or preview a sample file with the form.
pub async fn create(
    State(state): State<AppState>,
    Client(client): Client,
    view: Page<perm::ViewLogs>,
    p: Page<perm::ManageLogs>,
    upload: CsrfUpload,
) -> PageResult {
    submit(&state, &client, &view, &p, None, upload).await
}

/// `POST /logs/profiles/{name}`: save changes, or preview a sample file.
pub async fn update(
    State(state): State<AppState>,
    Client(client): Client,
    view: Page<perm::ViewLogs>,
    p: Page<perm::ManageLogs>,
    Path(name): Path<String>,
    upload: CsrfUpload,
) -> PageResult {
    submit(&state, &client, &view, &p, Some(name), upload).await
}

async fn submit(
    state: &AppState,
    client: &mamori_service::ClientInfo,
    view: &Page<perm::ViewLogs>,
    p: &Page<perm::ManageLogs>,
    name: Option<String>,
    upload: CsrfUpload,
) -> PageResult {
    let lang = p.lang;
    let entry = match &name {
        Some(n) => Some(
            state
                .svc
                .csv_profile(&view.cap, n)
                .await
                .map_err(svc(lang))?,
        ),
        None => None,
    };
    let shipped = entry.as_ref().is_some_and(|e| e.shipped);
    // A shipped profile's form is read-only: what it previews is the profile itself.
    let (f, system) = match &entry {
        Some(e) if shipped => (ProfileInput::of(&e.profile), String::new()),
        _ => (
            input_of(&upload),
            upload.field("system").unwrap_or("").to_string(),
        ),
    };
    let mut page = form_page(state, view, entry.as_ref(), f.clone(), system.clone()).await?;
    if upload.too_large {
        page.errors = field_errors(lang, &[("file", "REQ0001")]);
        return Ok((StatusCode::PAYLOAD_TOO_LARGE, render(&page)).into_response());
    }
    if upload.field("action") == Some("preview") {
        let profile = match f.to_profile() {
            Ok(pr) => pr,
            Err(list) => {
                page.errors = field_errors(lang, &list);
                return Ok((StatusCode::BAD_REQUEST, render(&page)).into_response());
            }
        };
        let Some((file_name, bytes)) = upload.file else {
            page.errors = field_errors(lang, &[("file", "IMP0203")]);
            return Ok((StatusCode::BAD_REQUEST, render(&page)).into_response());
        };
        page.preview = Some(preview(
            lang,
            &profile,
            file_name,
            &bytes,
            state.svc.clock.now_ms(),
        ));
        return Ok(render(&page));
    }
    match state
        .svc
        .save_csv_profile(&p.cap, name.as_deref(), &f, &system, client)
        .await
    {
        Ok(saved) => Ok(Redirect::to(&format!(
            "/logs/profiles/{}?ok=csv_profile_saved",
            saved.name
        ))
        .into_response()),
        Err(ServiceError::Fields(list)) => {
            let list: Vec<(&'static str, &'static str)> =
                list.iter().map(|e| (e.field, e.code)).collect();
            page.errors = field_errors(lang, &list);
            Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
        }
        Err(e) => Err(svc(lang)(e)),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DeleteForm {}

/// `POST /logs/profiles/{name}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::ManageLogs>,
    Path(name): Path<String>,
    _form: CsrfForm<DeleteForm>,
) -> PageResult {
    state
        .svc
        .delete_csv_profile(&p.cap, &name, &client)
        .await
        .map_err(svc(p.lang))?;
    Ok(Redirect::to("/logs/profiles?ok=csv_profile_deleted").into_response())
}
