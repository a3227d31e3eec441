//! Incidents (インシデント対応記録): open one (blank, or from an alert, which is linked to it),
//! link more alerts, write the timeline, contain and close it with a note. Every change is one
//! transaction with exactly one audit event; the rules are `domain::incident`'s.

use crate::authz::{Cap, perm};
use crate::error::{ServiceError, ServiceResult};
use crate::{ClientInfo, Services};
use mamori_catalog::{Lang, tr};
use mamori_domain::incident::{
    self, EntryKind, IncidentRefusal, IncidentStatus, Severity, accepts_changes, transition,
};
use mamori_storage::alerts::AlertRow;
use mamori_storage::incidents::{
    IncidentRow, NewEntry, NewIncident, TimelineRow, alert_for_link, append_entry, insert_incident,
    link_alert, set_status, status_for_change,
};
use mamori_storage::{Tx, WriteTx};
use serde_json::json;

/// Closed incidents the list shows.
pub const RECENTLY_CLOSED: i64 = 20;

/// The incidents page: those still open (most serious, then newest first) and the ones
/// closed last.
#[derive(Debug, Clone)]
pub struct IncidentLists {
    pub open: Vec<IncidentRow>,
    pub closed: Vec<IncidentRow>,
}

/// One incident with its alerts and its timeline.
#[derive(Debug, Clone)]
pub struct IncidentDetail {
    pub incident: IncidentRow,
    pub alerts: Vec<AlertRow>,
    /// Oldest first.
    pub timeline: Vec<TimelineRow>,
}

/// A new incident as typed into the form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentInput {
    pub title: String,
    /// An alert level code.
    pub severity: String,
    /// Who handles it; empty: the person who opens it.
    pub owner: String,
    pub summary: String,
}

fn invalid(r: IncidentRefusal) -> ServiceError {
    ServiceError::Invalid {
        code: r.code,
        field: r.field,
    }
}

fn severity_rank(code: &str) -> i64 {
    Severity::parse(code).map(Severity::rank).unwrap_or(0)
}

/// The status of incident `id`, read (and on PostgreSQL locked) inside `w`.
async fn current_status(w: &mut WriteTx, id: i64) -> ServiceResult<IncidentStatus> {
    let backend = w.backend();
    let status = status_for_change(w, backend, id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let status = IncidentStatus::parse(&status)
        .ok_or_else(|| ServiceError::Internal(format!("incident {id}: status {status}")))?;
    Ok(status)
}

impl Services {
    /// Open incidents (most serious, then newest first) and the [`RECENTLY_CLOSED`] closed last.
    pub async fn incidents(&self, _cap: &Cap<perm::ViewIncidents>) -> ServiceResult<IncidentLists> {
        let mut open = self.store.open_incidents().await?;
        // Stable: newest first within a severity, as the store returned them.
        open.sort_by_key(|i| std::cmp::Reverse(severity_rank(&i.severity)));
        let closed = self.store.closed_incidents(RECENTLY_CLOSED).await?;
        Ok(IncidentLists { open, closed })
    }

    /// Incidents not closed, newest first (the choices an alert can be linked to).
    pub async fn open_incidents(
        &self,
        _cap: &Cap<perm::ViewIncidents>,
    ) -> ServiceResult<Vec<IncidentRow>> {
        Ok(self.store.open_incidents().await?)
    }

    /// One incident without its alerts and timeline.
    pub async fn incident(
        &self,
        _cap: &Cap<perm::ViewIncidents>,
        id: i64,
    ) -> ServiceResult<IncidentRow> {
        self.store.incident(id).await?.ok_or(ServiceError::NotFound)
    }

    /// One incident with its linked alerts and its timeline.
    pub async fn incident_detail(
        &self,
        _cap: &Cap<perm::ViewIncidents>,
        id: i64,
    ) -> ServiceResult<IncidentDetail> {
        let incident = self
            .store
            .incident(id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let alerts = self.store.incident_alerts(id).await?;
        let timeline = self.store.incident_timeline(id).await?;
        Ok(IncidentDetail {
            incident,
            alerts,
            timeline,
        })
    }

    /// Opens an incident from the form, with an audit event `incident.opened`. Returns its id.
    pub async fn open_incident(
        &self,
        cap: &Cap<perm::HandleIncidents>,
        client: &ClientInfo,
        input: &IncidentInput,
    ) -> ServiceResult<i64> {
        let new =
            incident::new_incident(&input.title, &input.severity, &input.owner, &input.summary)
                .map_err(invalid)?;
        let who = cap.actor().user.display_name.clone();
        let owner = if new.owner.is_empty() {
            who.clone()
        } else {
            new.owner.clone()
        };
        let mut w = self.store.write().await?;
        let id = self
            .insert_incident_in(&mut w, &who, &new.title, new.severity, &owner, &new.summary)
            .await?;
        self.audit(
            &mut w,
            &cap.actor().label(),
            &client.source,
            "incident.opened",
            &format!("incident:{id}"),
            json!({ "title": new.title, "severity": new.severity.as_str(), "owner": owner }),
        )
        .await?;
        w.commit().await?;
        Ok(id)
    }

    /// Opens an incident for an alert — its title and severity are the alert's, the person
    /// who opens it handles it — and links the alert to it, with one audit event
    /// `incident.opened` naming the alert. An alert already in an incident is refused
    /// (`INC0011`). Returns the incident's id.
    pub async fn open_incident_from_alert(
        &self,
        cap: &Cap<perm::HandleIncidents>,
        _alerts: &Cap<perm::HandleAlerts>,
        client: &ClientInfo,
        alert_id: i64,
    ) -> ServiceResult<i64> {
        let who = cap.actor().user.display_name.clone();
        let mut w = self.store.write().await?;
        let id = self.open_from_alert_in(&mut w, &who, alert_id).await?;
        self.audit(
            &mut w,
            &cap.actor().label(),
            &client.source,
            "incident.opened",
            &format!("incident:{id}"),
            json!({ "alert": alert_id, "owner": who }),
        )
        .await?;
        w.commit().await?;
        Ok(id)
    }

    /// Links an alert to an open incident, with an audit event `incident.alert_linked`. A closed
    /// or unknown incident (`INC0001`, `INC0012`) and an alert already in an incident
    /// (`INC0011`) are refused, all on the field `incident`.
    pub async fn link_alert_to_incident(
        &self,
        cap: &Cap<perm::HandleIncidents>,
        _alerts: &Cap<perm::HandleAlerts>,
        client: &ClientInfo,
        incident_id: i64,
        alert_id: i64,
    ) -> ServiceResult<()> {
        let who = cap.actor().user.display_name.clone();
        let mut w = self.store.write().await?;
        let status = match current_status(&mut w, incident_id).await {
            Err(ServiceError::NotFound) => {
                return Err(ServiceError::Invalid {
                    code: "INC0012",
                    field: "incident",
                });
            }
            other => other?,
        };
        accepts_changes(status).map_err(|r| ServiceError::Invalid {
            code: r.code,
            field: "incident",
        })?;
        self.link_in(&mut w, &who, incident_id, alert_id).await?;
        self.audit(
            &mut w,
            &cap.actor().label(),
            &client.source,
            "incident.alert_linked",
            &format!("incident:{incident_id}"),
            json!({ "alert": alert_id }),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Adds a note to an open incident's timeline, with an audit event `incident.noted`.
    pub async fn add_incident_note(
        &self,
        cap: &Cap<perm::HandleIncidents>,
        client: &ClientInfo,
        id: i64,
        text: &str,
    ) -> ServiceResult<()> {
        let who = cap.actor().user.display_name.clone();
        let mut w = self.store.write().await?;
        let status = current_status(&mut w, id).await?;
        let text = incident::note(status, text).map_err(invalid)?;
        self.entry_in(&mut w, id, &who, EntryKind::Note, &text, None, None)
            .await?;
        self.audit(
            &mut w,
            &cap.actor().label(),
            &client.source,
            "incident.noted",
            &format!("incident:{id}"),
            json!({ "note": text }),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Moves an incident to `to` (open ↔ contained, or closed with a note), with an audit event
    /// `incident.status_changed`, or `incident.closed` with the note.
    pub async fn change_incident_status(
        &self,
        cap: &Cap<perm::HandleIncidents>,
        client: &ClientInfo,
        id: i64,
        to: IncidentStatus,
        note: &str,
    ) -> ServiceResult<()> {
        let who = cap.actor().user.display_name.clone();
        let mut w = self.store.write().await?;
        let from = current_status(&mut w, id).await?;
        let next = transition(from, to, note).map_err(invalid)?;
        let note = note.trim();
        self.status_in(&mut w, id, &who, next, note).await?;
        let (event, detail) = if next == IncidentStatus::Closed {
            (
                "incident.closed",
                json!({ "from": from.as_str(), "note": note }),
            )
        } else {
            (
                "incident.status_changed",
                json!({ "from": from.as_str(), "to": next.as_str(), "note": note }),
            )
        };
        self.audit(
            &mut w,
            &cap.actor().label(),
            &client.source,
            event,
            &format!("incident:{id}"),
            detail,
        )
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Closes an incident; the note (what happened, what was done, who was told) is required.
    pub async fn close_incident(
        &self,
        cap: &Cap<perm::HandleIncidents>,
        client: &ClientInfo,
        id: i64,
        note: &str,
    ) -> ServiceResult<()> {
        self.change_incident_status(cap, client, id, IncidentStatus::Closed, note)
            .await
    }

    // -----------------------------------------------------------------------------------------
    // The steps, inside the caller's transaction (shared with the demo).

    /// Inserts an open incident and its `opened` entry.
    pub(crate) async fn insert_incident_in(
        &self,
        w: &mut Tx,
        who: &str,
        title: &str,
        severity: Severity,
        owner: &str,
        summary: &str,
    ) -> ServiceResult<i64> {
        let id = insert_incident(
            w,
            &NewIncident {
                title,
                severity: severity.as_str(),
                status: IncidentStatus::Open.as_str(),
                opened_ms: self.now_ms(),
                opened_by: who,
                owner,
                summary,
            },
        )
        .await?;
        self.entry_in(w, id, who, EntryKind::Opened, summary, None, None)
            .await?;
        Ok(id)
    }

    /// Opens an incident for an alert and links the alert to it.
    pub(crate) async fn open_from_alert_in(
        &self,
        w: &mut WriteTx,
        who: &str,
        alert_id: i64,
    ) -> ServiceResult<i64> {
        let backend = w.backend();
        let alert = alert_for_link(w, backend, alert_id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        if alert.incident_id.is_some() {
            return Err(ServiceError::Invalid {
                code: "INC0011",
                field: "incident",
            });
        }
        let title = incident::title_from_alert(&alert.title).unwrap_or_else(|| {
            mamori_catalog::messages::fill(
                tr(Lang::Ja, "incidents.from_alert_title"),
                &[("id", &alert_id.to_string())],
            )
        });
        let severity = Severity::parse(&alert.level).unwrap_or(Severity::Medium);
        let id = self
            .insert_incident_in(w, who, &title, severity, who, "")
            .await?;
        self.link_in(w, who, id, alert_id).await?;
        Ok(id)
    }

    /// Links an alert to incident `id` (known to take changes) with its timeline entry.
    pub(crate) async fn link_in(
        &self,
        w: &mut WriteTx,
        who: &str,
        id: i64,
        alert_id: i64,
    ) -> ServiceResult<()> {
        let backend = w.backend();
        let alert = alert_for_link(w, backend, alert_id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        if alert.incident_id.is_some() || !link_alert(w, alert_id, id).await? {
            return Err(ServiceError::Invalid {
                code: "INC0011",
                field: "incident",
            });
        }
        self.entry_in(w, id, who, EntryKind::AlertLinked, "", None, Some(alert_id))
            .await
    }

    /// Writes a checked status change and its timeline entry.
    pub(crate) async fn status_in(
        &self,
        w: &mut Tx,
        id: i64,
        who: &str,
        next: IncidentStatus,
        note: &str,
    ) -> ServiceResult<()> {
        let now = self.now_ms();
        let closing = (next == IncidentStatus::Closed).then_some((note, now, who));
        if !set_status(w, id, next.as_str(), closing).await? {
            return Err(ServiceError::NotFound);
        }
        self.entry_in(
            w,
            id,
            who,
            EntryKind::Status,
            note,
            Some(next.as_str()),
            None,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn entry_in(
        &self,
        w: &mut Tx,
        id: i64,
        who: &str,
        kind: EntryKind,
        text: &str,
        status: Option<&str>,
        alert_id: Option<i64>,
    ) -> ServiceResult<()> {
        append_entry(
            w,
            &NewEntry {
                incident_id: id,
                at_ms: self.now_ms(),
                author: who,
                kind: kind.as_str(),
                text,
                status,
                alert_id,
            },
        )
        .await?;
        Ok(())
    }
}
