//! The ledger's front page (every registry with its size and 棚卸 state, and the findings at a
//! glance), the findings page, and the printable contact chart (連絡体制図, checklist 3-①).

use crate::for_kind;
use crate::web::AppState;
use crate::web::error::WebError;
use crate::web::extract::Page;
use crate::web::ledger::Tab;
use crate::web::views::{Layout, fmt_ms, render};
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use mamori_catalog::{Lang, tr};
use mamori_domain::ledger::{Contact, ContactRole};
use mamori_domain::registry::{RegistryKind, day_text};
use mamori_reports::svg::{self, Bar, Tone};
use mamori_service::findings::{FindingGroup, Severity};
use mamori_service::{ServiceError, perm};

type PageResult = Result<Response, WebError>;

fn svc(lang: Lang) -> impl Fn(ServiceError) -> WebError {
    move |e| WebError::from_service(&e, lang)
}

fn tabs(lang: Lang) -> Vec<Tab> {
    let mut t = vec![Tab {
        href: "/ledger".into(),
        label: tr(lang, "registry.overview").to_string(),
        current: true,
    }];
    t.extend(RegistryKind::ALL.iter().map(|k| Tab {
        href: format!("/ledger/{}", k.plural()),
        label: tr(lang, &format!("registry.{}", k.plural())).to_string(),
        current: false,
    }));
    t
}

async fn layout(
    state: &AppState,
    lang: Lang,
    view: &mamori_service::auth::SessionView,
    title_key: &str,
) -> Result<Layout, WebError> {
    let fac = crate::web::pages::facility_name(state)
        .await
        .map_err(svc(lang))?;
    Ok(Layout::new(lang, view, &fac, title_key, "/ledger"))
}

/// A registry card of the front page.
#[derive(Debug, Clone)]
pub struct RegistryCard {
    pub href: String,
    pub label: String,
    pub lead: String,
    pub count: i64,
    pub review: String,
    pub overdue: bool,
}

/// A findings group as shown.
#[derive(Debug, Clone)]
pub struct GroupView {
    pub code: &'static str,
    pub title: String,
    pub hint: String,
    pub tone: &'static str,
    pub items_ref: &'static str,
    pub items: Vec<mamori_service::findings::FindingItem>,
}

fn group_views(lang: Lang, groups: Vec<FindingGroup>) -> Vec<GroupView> {
    groups
        .into_iter()
        .map(|g| GroupView {
            code: g.code,
            title: tr(lang, &format!("ledger_finding.{}", g.code)).to_string(),
            hint: tr(lang, &format!("ledger_finding.{}_hint", g.code)).to_string(),
            tone: g.severity.tone(),
            items_ref: g.items_ref,
            items: g.items,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "ledger_overview.html")]
pub struct OverviewPage {
    pub l: Layout,
    pub tabs: Vec<Tab>,
    pub cards: Vec<RegistryCard>,
    pub groups: Vec<GroupView>,
    pub chart: String,
}

pub async fn overview(State(state): State<AppState>, p: Page<perm::ViewLedger>) -> PageResult {
    let lang = p.lang;
    let mut cards = Vec::new();
    for kind in RegistryKind::ALL {
        let count = for_kind!(*kind, R => state.svc.store.record_count::<R>().await)
            .map_err(|e| WebError::from_service(&e.into(), lang))?;
        let rs = state.svc.review_state(*kind).await.map_err(svc(lang))?;
        cards.push(RegistryCard {
            href: format!("/ledger/{}", kind.plural()),
            label: tr(lang, &format!("registry.{}", kind.plural())).to_string(),
            lead: tr(lang, &format!("registry.lead_{}", kind.plural())).to_string(),
            count,
            review: match &rs.last {
                Some(r) => mamori_catalog::messages::fill(
                    tr(lang, "registry.reviewed_on"),
                    &[("date", &fmt_ms(r.at_ms))],
                ),
                None => tr(lang, "registry.never_reviewed").to_string(),
            },
            overdue: rs.overdue && count > 0,
        });
    }
    let groups = state
        .svc
        .ledger_findings(&p.cap, lang)
        .await
        .map_err(svc(lang))?;
    let bars: Vec<Bar> = groups
        .iter()
        .filter(|g| g.severity != Severity::Review)
        .map(|g| Bar {
            label: tr(lang, &format!("ledger_finding.{}", g.code)).to_string(),
            value: g.items.len() as u64,
            tone: match g.severity {
                Severity::Bad => Tone::Bad,
                Severity::Warn => Tone::Warn,
                Severity::Review => Tone::Neutral,
            },
        })
        .collect();
    let chart = svg::bar_chart(
        tr(lang, "registry.findings_chart"),
        &bars,
        tr(lang, "registry.no_findings"),
    );
    Ok(render(&OverviewPage {
        l: layout(&state, lang, &p.view, "ledger.title").await?,
        tabs: tabs(lang),
        cards,
        groups: group_views(lang, groups),
        chart,
    }))
}

#[derive(Template)]
#[template(path = "ledger_findings.html")]
pub struct FindingsPage {
    pub l: Layout,
    pub tabs: Vec<Tab>,
    pub groups: Vec<GroupView>,
}

pub async fn findings(State(state): State<AppState>, p: Page<perm::ViewLedger>) -> PageResult {
    let lang = p.lang;
    let groups = state
        .svc
        .ledger_findings(&p.cap, lang)
        .await
        .map_err(svc(lang))?;
    let mut tabs = tabs(lang);
    if let Some(t) = tabs.first_mut() {
        t.current = false;
    }
    Ok(render(&FindingsPage {
        l: layout(&state, lang, &p.view, "registry.findings").await?,
        tabs,
        groups: group_views(lang, groups),
    }))
}

/// A box of the contact chart.
#[derive(Debug, Clone)]
pub struct ContactBox {
    pub role: String,
    pub organization: String,
    pub name: String,
    pub phone: String,
    pub after_hours: String,
    pub email: String,
    pub verified: String,
    pub stale: bool,
}

#[derive(Template)]
#[template(path = "contact_chart.html")]
pub struct ChartPage {
    pub l: Layout,
    pub facility: String,
    pub printed: String,
    /// (heading, boxes): inside the facility, vendors, authorities.
    pub tiers: Vec<(String, Vec<ContactBox>)>,
    /// Roles the chart should have but does not (院長, 安全管理責任者, 警察 …).
    pub missing: Vec<String>,
}

/// The 連絡体制図: who calls whom when an incident happens — inside first, then vendors, then
/// the authorities — on one printable page.
pub async fn contact_chart(State(state): State<AppState>, p: Page<perm::ViewLedger>) -> PageResult {
    let lang = p.lang;
    let today = state.svc.clock.today();
    let contacts: Vec<Contact> = state
        .svc
        .store
        .records::<Contact>()
        .await
        .map_err(|e| WebError::from_service(&e.into(), lang))?
        .into_iter()
        .filter(|c| c.active)
        .collect();
    let mut sorted = contacts.clone();
    sorted.sort_by_key(|c| {
        (
            ContactRole::ALL
                .iter()
                .position(|r| *r == c.role)
                .unwrap_or(99),
            c.organization.clone(),
        )
    });
    let boxed = |c: &Contact| ContactBox {
        role: tr(lang, &format!("contact_role.{}", c.role.as_str())).to_string(),
        organization: c.organization.clone(),
        name: c.name.clone(),
        phone: c.phone.clone(),
        after_hours: c.phone_after_hours.clone(),
        email: c.email.clone(),
        verified: day_text(c.verified_on),
        stale: c.verified_on.is_none_or(|d| (today - d).whole_days() > 365),
    };
    let internal: Vec<ContactBox> = sorted
        .iter()
        .filter(|c| c.role.is_internal())
        .map(boxed)
        .collect();
    let vendors: Vec<ContactBox> = sorted
        .iter()
        .filter(|c| c.role == ContactRole::Vendor)
        .map(boxed)
        .collect();
    let authorities: Vec<ContactBox> = sorted
        .iter()
        .filter(|c| !c.role.is_internal() && c.role != ContactRole::Vendor)
        .map(boxed)
        .collect();
    let missing = [
        ContactRole::Director,
        ContactRole::SecurityOfficer,
        ContactRole::Vendor,
        ContactRole::Police,
        ContactRole::HealthCenter,
        ContactRole::Mhlw,
    ]
    .iter()
    .filter(|r| !contacts.iter().any(|c| c.role == **r))
    .map(|r| tr(lang, &format!("contact_role.{}", r.as_str())).to_string())
    .collect();
    let facility = crate::web::pages::facility_name(&state)
        .await
        .map_err(svc(lang))?;
    Ok(render(&ChartPage {
        l: layout(&state, lang, &p.view, "contact_chart.title").await?,
        facility,
        printed: day_text(Some(today)),
        tiers: vec![
            (tr(lang, "contact_chart.internal").to_string(), internal),
            (tr(lang, "contact_chart.vendors").to_string(), vendors),
            (
                tr(lang, "contact_chart.authorities").to_string(),
                authorities,
            ),
        ],
        missing,
    }))
}
