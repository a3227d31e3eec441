//! `/accounts/directory` (ディレクトリ連携): the directory sync as configured, the syncs done
//! (scheduled, from this page, from the command line) with their results, and 「今すぐ同期」.

use crate::web::AppState;
use crate::web::error::WebError;
use crate::web::extract::{CsrfForm, Page};
use crate::web::views::{Layout, fmt_ms, render};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_catalog::tr;
use mamori_domain::role::Permission;
use mamori_service::perm;
use serde::Deserialize;
use std::collections::HashMap;

type PageResult = Result<Response, WebError>;

/// Syncs listed on the page.
const SHOWN: i64 = 30;

/// One recorded sync as shown.
pub struct SyncLine {
    pub at: String,
    pub system: String,
    pub via: String,
    pub ok: bool,
    /// The code and its message (empty when applied).
    pub code: String,
    pub message: String,
    pub detail: String,
    pub users: i64,
    pub added: i64,
    pub changed: i64,
    pub disabled: i64,
}

#[derive(Template)]
#[template(path = "directory.html")]
pub struct DirectoryPage {
    pub l: Layout,
    /// (label, value) of the configuration; empty when no directory is configured.
    pub settings: Vec<(String, String)>,
    pub can_sync: bool,
    pub syncs: Vec<SyncLine>,
    /// The last applied sync's time, or empty.
    pub last_ok: String,
    /// The newest sync failed: its code and message.
    pub last_failed: Option<(String, String)>,
}

/// `GET /accounts/directory`.
pub async fn page(
    State(state): State<AppState>,
    p: Page<perm::ViewAccounts>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let lang = p.lang;
    let svc_err = |e| WebError::from_service(&e, lang);
    let fac = crate::web::pages::facility_name(&state)
        .await
        .map_err(svc_err)?;
    let rows = state
        .svc
        .directory_syncs(&p.cap, SHOWN)
        .await
        .map_err(svc_err)?;
    let settings = match &state.directory {
        Some(d) => vec![
            (tr(lang, "directory.url").to_string(), d.url.clone()),
            (tr(lang, "directory.base").to_string(), d.base.clone()),
            (tr(lang, "directory.bind_dn").to_string(), d.bind_dn.clone()),
            (tr(lang, "directory.system").to_string(), d.system.clone()),
            (
                tr(lang, "directory.admin_groups").to_string(),
                d.admin_groups.join("、"),
            ),
            (
                tr(lang, "directory.every").to_string(),
                format!("{}{}", d.every.as_secs() / 60, tr(lang, "unit.minutes")),
            ),
        ],
        None => Vec::new(),
    };
    let syncs: Vec<SyncLine> = rows
        .iter()
        .map(|r| SyncLine {
            at: fmt_ms(r.at_ms),
            system: r.system.clone(),
            via: tr(lang, &format!("directory.via_{}", r.via)).to_string(),
            ok: r.code.is_empty(),
            message: if r.code.is_empty() {
                String::new()
            } else {
                tr(lang, &format!("error.{}", r.code)).to_string()
            },
            code: r.code.clone(),
            detail: r.detail.clone(),
            users: r.users,
            added: r.added,
            changed: r.changed,
            disabled: r.disabled,
        })
        .collect();
    let last_ok = syncs
        .iter()
        .find(|s| s.ok)
        .map(|s| s.at.clone())
        .unwrap_or_default();
    let last_failed = syncs
        .first()
        .filter(|s| !s.ok)
        .map(|s| (s.code.clone(), s.message.clone()));
    let page = DirectoryPage {
        l: Layout::new(lang, &p.view, &fac, "directory.title", "/accounts")
            .with_flash(q.get("ok").map(String::as_str)),
        can_sync: state.directory.is_some()
            && p.view.actor.user.role.permits(Permission::EditLedger),
        settings,
        syncs,
        last_ok,
        last_failed,
    };
    Ok(render(&page))
}

#[derive(Debug, Deserialize)]
pub struct SyncForm {}

/// `POST /accounts/directory`: sync now. The result (applied or refused) is recorded and shown
/// on the page.
pub async fn sync_now(
    State(state): State<AppState>,
    p: Page<perm::EditLedger>,
    _form: CsrfForm<SyncForm>,
) -> PageResult {
    let Some(cfg) = state.directory.clone() else {
        return Err(WebError::from_service(
            &mamori_service::ServiceError::NotFound,
            p.lang,
        ));
    };
    let ok = match crate::directory::sync_and_record(&state.svc, &cfg, "manual").await {
        Ok(_) => "directory_synced",
        Err(_) => "directory_failed",
    };
    Ok(Redirect::to(&format!("/accounts/directory?ok={ok}")).into_response())
}
