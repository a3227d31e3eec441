//! 非常時アカウント: the emergency accounts of the ledger, who holds their sealed credentials,
//! their uses, and the forms to register custody, record a use and record the reseal.

use crate::web::AppState;
use crate::web::error::WebError;
use crate::web::extract::{Client, CsrfForm, Page};
use crate::web::form::FormError;
use crate::web::views::{Layout, fmt_ms, render};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mamori_catalog::{Lang, tr};
use mamori_domain::break_glass::State as GlassState;
use mamori_domain::role::Permission;
use mamori_service::break_glass::{BreakGlassView, EmergencyAccount};
use mamori_service::{ServiceError, perm};
use serde::Deserialize;
use std::collections::HashMap;

type PageResult = Result<Response, WebError>;

/// One emergency account as the page shows it.
#[derive(Debug, Clone)]
pub struct GlassLine {
    pub id: i64,
    pub label: String,
    pub href: String,
    pub state: String,
    pub state_code: &'static str,
    pub tone: &'static str,
    pub holders: Vec<String>,
    pub location: String,
    pub notes: String,
    pub sealed: String,
    pub sealed_by: String,
    pub last_use: String,
    pub registered: bool,
}

/// One use.
#[derive(Debug, Clone)]
pub struct UseLine {
    pub at: String,
    pub account: String,
    pub via: String,
    pub via_tone: &'static str,
    pub reason: String,
    pub recorded_by: String,
    pub alert: Option<String>,
}

fn tone(s: GlassState) -> &'static str {
    match s {
        GlassState::UsedSinceSealed => "bad",
        GlassState::Unregistered => "warn",
        GlassState::Sealed => "good",
    }
}

fn glass_line(lang: Lang, e: &EmergencyAccount) -> GlassLine {
    let c = e.custody.as_ref();
    GlassLine {
        id: e.account.id.0,
        label: format!("{} / {}", e.system, e.account.login_id),
        href: format!("/ledger/accounts/{}", e.account.id.0),
        state: tr(lang, &format!("break_glass.state_{}", e.state.as_str())).to_string(),
        state_code: e.state.as_str(),
        tone: tone(e.state),
        holders: c
            .map(|c| c.holders.lines().map(str::to_string).collect())
            .unwrap_or_default(),
        location: c.map(|c| c.location.clone()).unwrap_or_default(),
        notes: c.map(|c| c.notes.clone()).unwrap_or_default(),
        sealed: c.map(|c| fmt_ms(c.sealed_ms)).unwrap_or_default(),
        sealed_by: c.map(|c| c.sealed_by.clone()).unwrap_or_default(),
        last_use: e.last_use_ms.map(fmt_ms).unwrap_or_default(),
        registered: c.is_some(),
    }
}

#[derive(Template)]
#[template(path = "break_glass.html")]
pub struct GlassPage {
    pub l: Layout,
    pub accounts: Vec<GlassLine>,
    pub used: usize,
    pub unregistered: usize,
    pub uses: Vec<UseLine>,
    pub can_edit: bool,
    pub error: Option<FormError>,
    pub form: ActForm,
}

impl GlassPage {
    /// The error of `field` of the forms of account `id`, if any: (message, code).
    pub fn err(&self, id: &i64, field: &str) -> Option<(String, &'static str)> {
        FormError::at(&self.error, &id.to_string(), field)
    }

    /// What was typed into `field` of account `id`'s form when it was refused; else `default`.
    pub fn typed(&self, id: &i64, field: &str, default: &str) -> String {
        let refused = self
            .error
            .as_ref()
            .is_some_and(|e| e.form == id.to_string());
        if !refused {
            return default.to_string();
        }
        match field {
            "holders" => self.form.holders.clone(),
            "location" => self.form.location.clone(),
            "notes" => self.form.notes.clone(),
            "at" => self.form.at.clone(),
            "reason" => self.form.reason.clone(),
            _ => default.to_string(),
        }
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct ActForm {
    /// `custody`, `use` or `reseal`.
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub holders: String,
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub at: String,
    #[serde(default)]
    pub reason: String,
}

async fn page(
    state: &AppState,
    p: &Page<perm::ViewAccounts>,
    error: Option<FormError>,
    form: ActForm,
) -> Result<GlassPage, WebError> {
    let lang = p.lang;
    let svc_err = |e: ServiceError| WebError::from_service(&e, lang);
    let v: BreakGlassView = state.svc.break_glass(&p.cap).await.map_err(svc_err)?;
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc_err)?;
    let accounts: Vec<GlassLine> = v.accounts.iter().map(|e| glass_line(lang, e)).collect();
    let can_view_logs = p.view.actor.user.role.permits(Permission::ViewLogs);
    Ok(GlassPage {
        l: Layout::new(lang, &p.view, &fac, "break_glass.title", "/accounts"),
        used: v
            .accounts
            .iter()
            .filter(|e| e.state == GlassState::UsedSinceSealed)
            .count(),
        unregistered: v
            .accounts
            .iter()
            .filter(|e| e.state == GlassState::Unregistered)
            .count(),
        accounts,
        uses: v
            .uses
            .iter()
            .map(|(u, label)| UseLine {
                at: fmt_ms(u.used_ms),
                account: label.clone(),
                via: tr(lang, &format!("break_glass.via_{}", u.via)).to_string(),
                via_tone: if u.via == "detected" { "bad" } else { "warn" },
                reason: u.reason.clone(),
                recorded_by: u.recorded_by.clone(),
                alert: u
                    .alert_id
                    .filter(|_| can_view_logs)
                    .map(|a| format!("/alerts/{a}")),
            })
            .collect(),
        can_edit: p.view.actor.user.role.permits(Permission::EditLedger),
        error,
        form,
    })
}

/// `/accounts/break-glass`.
pub async fn show(
    State(state): State<AppState>,
    p: Page<perm::ViewAccounts>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let mut pg = page(&state, &p, None, ActForm::default()).await?;
    pg.l = pg.l.with_flash(q.get("ok").map(String::as_str));
    Ok(render(&pg))
}

/// One of the account's forms: custody, a use, or the reseal.
pub async fn act(
    State(state): State<AppState>,
    Client(client): Client,
    view: Page<perm::ViewAccounts>,
    p: Page<perm::EditLedger>,
    Path(account_id): Path<i64>,
    form: CsrfForm<ActForm>,
) -> PageResult {
    let lang = p.lang;
    let f = form.into_inner();
    let svc = &state.svc;
    let (result, flash) = match f.action.as_str() {
        "custody" => (
            svc.register_break_glass(
                &p.cap,
                &client,
                account_id,
                &f.holders,
                &f.location,
                &f.notes,
            )
            .await,
            "break_glass_registered",
        ),
        "use" => (
            svc.declare_break_glass_use(&p.cap, &client, account_id, &f.at, &f.reason)
                .await
                .map(|_| ()),
            "break_glass_used",
        ),
        "reseal" => (
            svc.reseal_break_glass(&p.cap, &client, account_id).await,
            "break_glass_resealed",
        ),
        _ => return Err(WebError::new(StatusCode::BAD_REQUEST, "REQ0003", lang)),
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!(
            "/accounts/break-glass?ok={flash}#glass-{account_id}"
        ))
        .into_response()),
        Err(ServiceError::Invalid { code, field }) => {
            let error = FormError::new(lang, &account_id.to_string(), code, field);
            let pg = page(&state, &view, Some(error), f).await?;
            Ok((StatusCode::BAD_REQUEST, render(&pg)).into_response())
        }
        Err(e) => Err(WebError::from_service(&e, lang)),
    }
}
