//! Alerts: detections recorded and grouped (`storage::alerts`), and the workflow people follow
//! — acknowledge (become the owner), close with a note — each step an audit event.

use crate::ClientInfo;
use crate::Services;
use crate::authz::{Cap, perm};
use crate::error::{ServiceError, ServiceResult};
use mamori_domain::alert::{AlertAction, AlertLevel, AlertStatus, group_key, transition};
use mamori_storage::alerts::{AlertRow, NewDetection, record_detection, set_alert_status};
use mamori_storage::events::EventRow;
use serde_json::json;

/// What a rule found in one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    pub rule_id: String,
    pub title: String,
    pub level: AlertLevel,
    /// The rule's grouping values (field, value); empty: host and actor.
    pub group: Vec<(String, String)>,
    pub host: String,
    pub actor: Option<String>,
    /// When it happened (the event's time, Unix ms).
    pub at_ms: i64,
    /// The sealed event record that matched, when it was collected.
    pub seal_index: Option<i64>,
}

/// One alert with the events it links to.
#[derive(Debug, Clone)]
pub struct AlertDetail {
    pub alert: AlertRow,
    pub events: Vec<EventRow>,
    /// Linked events in all (the list above shows the first of them).
    pub linked: usize,
    /// Who was told, how, and whether it went out.
    pub notifications: Vec<mamori_storage::alerts::NotificationRow>,
}

/// The result of recording detections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Raised {
    /// Alerts opened.
    pub opened: usize,
    /// Detections that joined an open alert.
    pub joined: usize,
}

impl Services {
    /// Records detections in one transaction: each joins the open alert of its rule and group
    /// or opens a new one (an audit event `alert.raised` by mamori itself).
    pub async fn raise_alerts(&self, detections: &[Detection]) -> ServiceResult<Raised> {
        if detections.is_empty() {
            return Ok(Raised::default());
        }
        let mut w = self.store.write().await?;
        let out = self.raise_in(&mut w, detections).await?;
        w.commit().await?;
        Ok(out)
    }

    /// [`Services::raise_alerts`] in the caller's transaction.
    pub(crate) async fn raise_in(
        &self,
        w: &mut mamori_storage::Tx,
        detections: &[Detection],
    ) -> ServiceResult<Raised> {
        let mut out = Raised::default();
        for d in detections {
            let new = NewDetection {
                raised_ms: self.now_ms(),
                rule_id: d.rule_id.clone(),
                title: d.title.clone(),
                level: d.level.as_str().to_string(),
                level_rank: d.level.rank(),
                group_key: group_key(&d.group, &d.host, d.actor.as_deref()),
                host: d.host.clone(),
                actor: d.actor.clone(),
                at_ms: d.at_ms,
                seal_index: d.seal_index,
            };
            let (id, opened) = record_detection(w, &new).await?;
            if d.rule_id == crate::break_glass::DETECTED_RULE_ID {
                self.record_detected_use(w, d, id, opened).await?;
            }
            if opened {
                out.opened += 1;
                self.audit(
                    w,
                    "mamori",
                    "",
                    "alert.raised",
                    &format!("alert:{id}"),
                    json!({ "rule": d.rule_id, "title": d.title, "level": d.level.as_str(),
                            "group": new.group_key }),
                )
                .await?;
            } else {
                out.joined += 1;
            }
        }
        Ok(out)
    }

    /// Alerts, open ones first, most serious and newest first; `status` narrows them.
    pub async fn alerts(
        &self,
        _cap: &Cap<perm::ViewLogs>,
        status: Option<AlertStatus>,
    ) -> ServiceResult<Vec<AlertRow>> {
        Ok(self
            .store
            .alerts(status.map(AlertStatus::as_str), 500)
            .await?)
    }

    /// Alerts per (status, level).
    pub async fn alert_counts(
        &self,
        _cap: &Cap<perm::ViewLogs>,
    ) -> ServiceResult<Vec<(AlertStatus, AlertLevel, i64)>> {
        Ok(self
            .store
            .alert_counts()
            .await?
            .into_iter()
            .filter_map(|(s, l, n)| Some((AlertStatus::parse(&s)?, AlertLevel::parse(&l)?, n)))
            .collect())
    }

    /// One alert with the first 100 of its events.
    pub async fn alert_detail(
        &self,
        _cap: &Cap<perm::ViewLogs>,
        id: i64,
    ) -> ServiceResult<AlertDetail> {
        let alert = self.store.alert(id).await?.ok_or(ServiceError::NotFound)?;
        let indexes = self.store.alert_event_indexes(id).await?;
        let first: Vec<i64> = indexes.iter().take(100).copied().collect();
        let events = self.store.events_by_index(&first).await?;
        let notifications = self.store.alert_notifications(id).await?;
        Ok(AlertDetail {
            alert,
            events,
            linked: indexes.len(),
            notifications,
        })
    }

    /// Acknowledges or closes an alert, with an audit event (`alert.acknowledged`,
    /// `alert.closed` with the note).
    pub async fn act_on_alert(
        &self,
        cap: &Cap<perm::HandleAlerts>,
        client: &ClientInfo,
        id: i64,
        action: &AlertAction,
    ) -> ServiceResult<AlertRow> {
        let mut w = self.store.write().await?;
        let current = self.store.alert(id).await?.ok_or(ServiceError::NotFound)?;
        let status = AlertStatus::parse(&current.status).unwrap_or(AlertStatus::New);
        let next = transition(status, action).map_err(|r| ServiceError::Invalid {
            code: r.code,
            field: r.field,
        })?;
        let who = cap.actor().user.display_name.clone();
        let (event, detail) = match action {
            AlertAction::Acknowledge => {
                set_alert_status(&mut w, id, next.as_str(), Some(&who), None).await?;
                ("alert.acknowledged", json!({ "owner": who }))
            }
            AlertAction::Close { note } => {
                let note = note.trim();
                set_alert_status(
                    &mut w,
                    id,
                    next.as_str(),
                    None,
                    Some((note, self.now_ms(), &who)),
                )
                .await?;
                ("alert.closed", json!({ "note": note }))
            }
        };
        self.audit(
            &mut w,
            &cap.actor().label(),
            &client.source,
            event,
            &format!("alert:{id}"),
            detail,
        )
        .await?;
        w.commit().await?;
        self.store.alert(id).await?.ok_or(ServiceError::NotFound)
    }
}
