//! アカウント取込: a system's own account list (CSV/Excel) — upload, the mapping of its columns
//! (kept per system), the preview of what changes, the commit; and 照合の確認, the queue of
//! accounts whose owner only a name suggests.

use crate::web::AppState;
use crate::web::error::WebError;
use crate::web::extract::{Client, CsrfForm, CsrfUpload, Page};
use crate::web::ledger::{ImportStaging, Staged, StagedFor};
use crate::web::views::{Layout, fmt_ms, render};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mamori_catalog::{Lang, tr};
use mamori_domain::account_import::{ColumnMap, FIELDS};
use mamori_domain::ledger::{Account, InfoSystem, SystemStatus};
use mamori_domain::registry::{Record, RegistryKind};
use mamori_service::account_import::AccountImportReport;
use mamori_service::{ServiceError, perm};
use serde::Deserialize;
use std::collections::HashMap;

type PageResult = Result<Response, WebError>;

/// Largest account list taken (bytes).
pub const UPLOAD_BYTES: usize = 20 * 1024 * 1024;

/// A problem line of the preview.
#[derive(Debug, Clone)]
pub struct IssueLine {
    pub line: usize,
    pub column: String,
    pub message: String,
    pub code: &'static str,
}

/// A mapped field of the form: (key, label, chosen header).
#[derive(Debug, Clone)]
pub struct MapField {
    pub key: &'static str,
    pub label: String,
    pub chosen: String,
}

#[derive(Template)]
#[template(path = "account_import.html")]
pub struct ImportPage {
    pub l: Layout,
    pub systems: Vec<(i64, String)>,
    pub system: String,
    pub error: Option<(String, &'static str)>,
    /// Set once a file is staged.
    pub token: String,
    pub file_name: String,
    pub headers: Vec<String>,
    pub fields: Vec<MapField>,
    pub admin_values: String,
    pub disable_missing: bool,
    pub saved_profile: bool,
    pub report: Option<ReportView>,
}

/// The preview as shown.
#[derive(Debug, Clone, Default)]
pub struct ReportView {
    pub system: String,
    pub rows: usize,
    pub added: Vec<String>,
    /// (login, "field: before → after; …")
    pub changed: Vec<(String, String)>,
    pub disabled: Vec<String>,
    pub unchanged: usize,
    pub unlinked: usize,
    pub candidates: Vec<(String, String)>,
    pub issues: Vec<IssueLine>,
}

fn report_view(lang: Lang, r: &AccountImportReport) -> ReportView {
    ReportView {
        system: r.system.clone(),
        rows: r.rows,
        added: r.added.clone(),
        changed: r
            .changed
            .iter()
            .map(|(login, ch)| {
                (
                    login.clone(),
                    ch.iter()
                        .map(|(f, b, a)| {
                            format!(
                                "{}: {} → {}",
                                mamori_service::ledger::field_label(lang, RegistryKind::Account, f),
                                if b.is_empty() { "—" } else { b },
                                if a.is_empty() { "—" } else { a }
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("、"),
                )
            })
            .collect(),
        disabled: r.disabled.clone(),
        unchanged: r.unchanged,
        unlinked: r.unlinked.len(),
        candidates: r.candidates.clone(),
        issues: r
            .issues
            .iter()
            .map(|i| IssueLine {
                line: i.line,
                column: i.column.clone(),
                message: tr(lang, &format!("error.{}", i.code)).to_string(),
                code: i.code,
            })
            .collect(),
    }
}

async fn systems(state: &AppState, lang: Lang) -> Result<Vec<(i64, String)>, WebError> {
    Ok(state
        .svc
        .store
        .records::<InfoSystem>()
        .await
        .map_err(|e| WebError::from_service(&e.into(), lang))?
        .into_iter()
        .filter(|s| s.status != SystemStatus::Retired)
        .map(|s| (s.id.0, s.name))
        .collect())
}

async fn blank(state: &AppState, p: &Page<perm::EditLedger>) -> Result<ImportPage, WebError> {
    let lang = p.lang;
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(|e| WebError::from_service(&e, lang))?;
    Ok(ImportPage {
        l: Layout::new(lang, &p.view, &fac, "account_import.title", "/accounts"),
        systems: systems(state, lang).await?,
        system: String::new(),
        error: None,
        token: String::new(),
        file_name: String::new(),
        headers: Vec::new(),
        fields: Vec::new(),
        admin_values: String::new(),
        disable_missing: true,
        saved_profile: false,
        report: None,
    })
}

fn map_fields(lang: Lang, map: &ColumnMap) -> Vec<MapField> {
    FIELDS
        .iter()
        .map(|k| MapField {
            key: k,
            label: tr(lang, &format!("account_import.field_{k}")).to_string(),
            chosen: map.get(k).to_string(),
        })
        .collect()
}

/// `/accounts/import`: choose the system and the file.
pub async fn form(State(state): State<AppState>, p: Page<perm::EditLedger>) -> PageResult {
    Ok(render(&blank(&state, &p).await?))
}

#[allow(clippy::too_many_arguments)]
async fn preview(
    state: &AppState,
    p: &Page<perm::EditLedger>,
    client: &mamori_service::ClientInfo,
    token: String,
    staged: &Staged,
    system: i64,
    map: Option<(ColumnMap, bool)>,
    commit: bool,
) -> PageResult {
    let lang = p.lang;
    let mut page = blank(state, p).await?;
    page.system = system.to_string();
    page.file_name = staged.file_name.clone();
    let table = match mamori_ingest::read_table(&staged.bytes, Some(&staged.file_name)) {
        Ok(t) => t,
        Err(e) => {
            let msg = match lang {
                Lang::Ja => e.message_ja(),
                Lang::En => e.message_en(),
            };
            page.error = Some((msg, e.code()));
            return Ok((StatusCode::BAD_REQUEST, render(&page)).into_response());
        }
    };
    let (map, disable_missing, saved) = match map {
        Some((m, d)) => (m, d, false),
        None => {
            let prof = state
                .svc
                .account_import_profile(system, &table.headers)
                .await
                .map_err(|e| WebError::from_service(&e, lang))?;
            (prof.map, prof.disable_missing, prof.saved)
        }
    };
    let result = state
        .svc
        .import_accounts(
            &p.cap,
            client,
            system,
            &staged.file_name,
            &table,
            &map,
            disable_missing,
            !commit,
        )
        .await;
    let report = match result {
        Ok(r) => r,
        Err(ServiceError::Invalid { code, .. }) => {
            page.error = Some((tr(lang, &format!("error.{code}")).to_string(), code));
            return Ok((StatusCode::BAD_REQUEST, render(&page)).into_response());
        }
        Err(e) => return Err(WebError::from_service(&e, lang)),
    };
    if report.committed {
        return Ok(Redirect::to("/accounts?ok=accounts_imported").into_response());
    }
    let ok = report.issues.is_empty();
    page.token = token;
    page.headers = table.headers.clone();
    page.fields = map_fields(lang, &map);
    page.admin_values = map.admin_values.join("\n");
    page.disable_missing = disable_missing;
    page.saved_profile = saved;
    page.report = Some(report_view(lang, &report));
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((status, render(&page)).into_response())
}

/// The upload: the file is kept for the session and previewed with the system's profile.
pub async fn upload(
    State(state): State<AppState>,
    axum::Extension(staging): axum::Extension<ImportStaging>,
    Client(client): Client,
    p: Page<perm::EditLedger>,
    upload: CsrfUpload,
) -> PageResult {
    let lang = p.lang;
    if upload.too_large {
        return Err(WebError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "REQ0001",
            lang,
        ));
    }
    let system = upload.field("system").unwrap_or("").trim().to_string();
    let Ok(system_id) = system.parse::<i64>() else {
        let mut page = blank(&state, &p).await?;
        page.error = Some((tr(lang, "error.ACI0010").to_string(), "ACI0010"));
        return Ok((StatusCode::BAD_REQUEST, render(&page)).into_response());
    };
    let Some((file_name, bytes)) = upload.file else {
        let mut page = blank(&state, &p).await?;
        page.system = system;
        page.error = Some((tr(lang, "error.IMP0203").to_string(), "IMP0203"));
        return Ok((StatusCode::BAD_REQUEST, render(&page)).into_response());
    };
    let staged = Staged {
        session: p.view.actor.session_hash.clone(),
        kind: StagedFor::AccountList,
        file_name,
        bytes,
        at: std::time::Instant::now(),
    };
    let token = staging.put(staged.clone());
    preview(&state, &p, &client, token, &staged, system_id, None, false).await
}

/// The mapping form: preview again, or commit.
#[derive(Debug, Clone, Deserialize)]
pub struct MapForm {
    pub token: String,
    pub system: i64,
    #[serde(default)]
    pub col_login: String,
    #[serde(default)]
    pub col_name: String,
    #[serde(default)]
    pub col_kana: String,
    #[serde(default)]
    pub col_staff_no: String,
    #[serde(default)]
    pub col_enabled: String,
    #[serde(default)]
    pub col_admin: String,
    #[serde(default)]
    pub col_last_login: String,
    #[serde(default)]
    pub admin_values: String,
    #[serde(default)]
    pub disable_missing: Option<String>,
    /// `preview` or `commit`.
    #[serde(default)]
    pub action: String,
}

impl MapForm {
    fn map(&self) -> ColumnMap {
        let mut m = ColumnMap::default();
        for (k, v) in [
            ("login", &self.col_login),
            ("name", &self.col_name),
            ("kana", &self.col_kana),
            ("staff_no", &self.col_staff_no),
            ("enabled", &self.col_enabled),
            ("admin", &self.col_admin),
            ("last_login", &self.col_last_login),
        ] {
            m.set(k, v);
        }
        m.admin_values = self
            .admin_values
            .lines()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect();
        m
    }
}

/// Previews the staged file with the mapping chosen, or commits it.
pub async fn remap(
    State(state): State<AppState>,
    axum::Extension(staging): axum::Extension<ImportStaging>,
    Client(client): Client,
    p: Page<perm::EditLedger>,
    form: CsrfForm<MapForm>,
) -> PageResult {
    let lang = p.lang;
    let f = form.into_inner();
    let commit = f.action == "commit";
    let session = p.view.actor.session_hash.clone();
    let staged = if commit {
        staging.take(&f.token, &session, StagedFor::AccountList)
    } else {
        staging.peek(&f.token, &session, StagedFor::AccountList)
    };
    let Some(staged) = staged else {
        return Err(WebError::new(StatusCode::CONFLICT, "IMP0204", lang));
    };
    let map = (f.map(), f.disable_missing.is_some());
    let response = preview(
        &state,
        &p,
        &client,
        f.token.clone(),
        &staged,
        f.system,
        Some(map),
        commit,
    )
    .await?;
    // A commit refused (problems in the file) keeps the file for another try.
    if commit && response.status() != StatusCode::SEE_OTHER {
        staging.put_back(&f.token, staged);
    }
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// 照合の確認

/// One match waiting for a person.
#[derive(Debug, Clone)]
pub struct MatchLine {
    pub id: i64,
    pub account: String,
    pub account_href: String,
    pub source: String,
    pub source_name: String,
    pub person: String,
    pub person_href: String,
    pub kana: String,
    pub staff_no: String,
    pub department: String,
    pub found: String,
}

#[derive(Template)]
#[template(path = "account_matches.html")]
pub struct MatchesPage {
    pub l: Layout,
    pub matches: Vec<MatchLine>,
    pub can_edit: bool,
}

/// `/accounts/matches`: accounts a name alone links to a member of staff.
pub async fn matches(
    State(state): State<AppState>,
    p: Page<perm::ViewAccounts>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let lang = p.lang;
    let svc_err = |e: ServiceError| WebError::from_service(&e, lang);
    let rows = state
        .svc
        .pending_account_matches(&p.cap)
        .await
        .map_err(svc_err)?;
    let fac = crate::web::pages::facility_name(&state)
        .await
        .map_err(svc_err)?;
    let l = Layout::new(lang, &p.view, &fac, "account_matches.title", "/accounts")
        .with_flash(q.get("ok").map(String::as_str));
    Ok(render(&MatchesPage {
        l,
        matches: rows
            .iter()
            .map(|m| MatchLine {
                id: m.id,
                account: format!("{} / {}", m.system, m.login_id),
                account_href: format!("/ledger/{}/{}", Account::KIND.plural(), m.account_id),
                source: tr(lang, &format!("account_matches.source_{}", m.source)).to_string(),
                source_name: m.source_name.clone(),
                person: m.person_name.clone(),
                person_href: format!("/ledger/persons/{}", m.person_id),
                kana: m.person_kana.clone(),
                staff_no: m.staff_no.clone(),
                department: m.department.clone(),
                found: fmt_ms(m.created_ms),
            })
            .collect(),
        can_edit: p
            .view
            .actor
            .user
            .role
            .permits(mamori_domain::role::Permission::EditLedger),
    }))
}

#[derive(Debug, Clone, Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    pub action: String,
}

/// Accepts or rejects one match.
pub async fn decide(
    State(state): State<AppState>,
    Client(client): Client,
    p: Page<perm::EditLedger>,
    Path(id): Path<i64>,
    form: CsrfForm<DecideForm>,
) -> PageResult {
    let lang = p.lang;
    let accept = match form.into_inner().action.as_str() {
        "accept" => true,
        "reject" => false,
        _ => return Err(WebError::new(StatusCode::BAD_REQUEST, "REQ0003", lang)),
    };
    match state
        .svc
        .decide_account_match(&p.cap, &client, id, accept)
        .await
    {
        Ok(()) => Ok(Redirect::to(if accept {
            "/accounts/matches?ok=match_accepted"
        } else {
            "/accounts/matches?ok=match_rejected"
        })
        .into_response()),
        Err(ServiceError::Invalid { code, .. }) => {
            Err(WebError::new(StatusCode::CONFLICT, code, lang))
        }
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}
