//! Managing mamori's users, sessions and facility settings.

use crate::auth::{SessionView, validate_login_id};
use crate::authz::{Cap, perm};
use crate::error::{ServiceError, ServiceResult};
use crate::{ClientInfo, Services};
use mamori_domain::facility::{FacilitySettings, validate_settings};
use mamori_domain::role::Role;
use mamori_domain::{UserId, VendorId};
use mamori_storage::sessions::SessionRow;
use mamori_storage::users::{NewUser, UserRow};
use mamori_storage::{facility, sessions, users};
use serde_json::json;

/// A user to create from the settings page or the command line.
#[derive(Debug, Clone)]
pub struct CreateUser {
    pub login_id: String,
    pub display_name: String,
    pub role: Role,
    /// Initial password; the user must change it at first login.
    pub password: String,
    pub vendor_id: Option<VendorId>,
}

impl Services {
    pub async fn list_users(&self, _cap: &Cap<perm::ViewSettings>) -> ServiceResult<Vec<UserRow>> {
        Ok(self.store.users().await?)
    }

    /// Creates a user with an initial password that must be changed at first login.
    pub async fn create_user(
        &self,
        cap: &Cap<perm::ManageUsers>,
        input: &CreateUser,
        client: &ClientInfo,
    ) -> ServiceResult<UserId> {
        validate_login_id(&input.login_id)?;
        let name = input.display_name.trim();
        if !(1..=100).contains(&name.chars().count()) {
            return Err(ServiceError::Invalid {
                code: "USR0003",
                field: "display_name",
            });
        }
        if input.role == Role::Vendor && input.vendor_id.is_none() {
            return Err(ServiceError::Invalid {
                code: "USR0004",
                field: "vendor_id",
            });
        }
        if self.store.user_by_login(&input.login_id).await?.is_some() {
            return Err(ServiceError::LoginTaken);
        }
        let settings = self.store.facility().await?.map(|f| f.settings);
        let two_factor = input.role.requires_two_factor()
            || settings.is_some_and(|s| s.require_two_factor_for_all);
        self.check_new_password(None, &input.login_id, name, &input.password, two_factor)
            .await?;
        let hash = self.hasher.hash(&input.password).await?;
        let mut w = self.store.write().await?;
        let id = users::insert_user(
            &mut w,
            &NewUser {
                login_id: &input.login_id,
                display_name: name,
                role: input.role,
                password_hash: &hash,
                must_change_password: true,
                vendor_id: input.vendor_id,
                now_ms: self.now_ms(),
            },
        )
        .await
        .map_err(|e| {
            if e.is_unique_violation() {
                ServiceError::LoginTaken
            } else {
                e.into()
            }
        })?;
        self.audit(
            &mut w,
            &cap.actor().label(),
            &client.source,
            "user.created",
            &format!("user:{}", id.0),
            json!({"after": {"login_id": input.login_id, "display_name": name, "role": input.role.as_str(), "vendor_id": input.vendor_id.map(|v| v.0)}}),
        )
        .await?;
        w.commit().await?;
        Ok(id)
    }

    /// Disables or re-enables a user; disabling ends their sessions. Nobody disables themselves.
    pub async fn set_user_disabled(
        &self,
        cap: &Cap<perm::ManageUsers>,
        user: UserId,
        disabled: bool,
        client: &ClientInfo,
    ) -> ServiceResult<()> {
        if user == cap.actor().user.id {
            return Err(ServiceError::Invalid {
                code: "USR0005",
                field: "user",
            });
        }
        let before = self.store.user(user).await?.ok_or(ServiceError::NotFound)?;
        let now = self.now_ms();
        let mut w = self.store.write().await?;
        users::set_disabled(&mut w, user, disabled).await?;
        if disabled {
            sessions::revoke_user_sessions(&mut w, user, None, now).await?;
        }
        self.audit(
            &mut w,
            &cap.actor().label(),
            &client.source,
            if disabled {
                "user.disabled"
            } else {
                "user.enabled"
            },
            &format!("user:{}", user.0),
            json!({"before": {"disabled": before.disabled}, "after": {"disabled": disabled}}),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// The live sessions of the actor.
    pub async fn own_sessions(
        &self,
        cap: &Cap<perm::OwnAccount>,
    ) -> ServiceResult<Vec<SessionRow>> {
        Ok(self.store.live_sessions(Some(cap.actor().user.id)).await?)
    }

    /// Everyone's live sessions.
    pub async fn all_sessions(
        &self,
        _cap: &Cap<perm::ManageSessions>,
    ) -> ServiceResult<Vec<SessionRow>> {
        Ok(self.store.live_sessions(None).await?)
    }

    /// Revokes a session by its stored hash: one's own with `OwnAccount`, anyone's with `ManageSessions`.
    pub async fn revoke_session(
        &self,
        view: &SessionView,
        session_hash: &str,
        client: &ClientInfo,
    ) -> ServiceResult<()> {
        let target = self
            .store
            .session(session_hash)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let actor = &view.actor;
        if target.user_id == actor.user.id {
            actor.can::<perm::OwnAccount>()?;
        } else {
            actor.can::<perm::ManageSessions>()?;
        }
        let mut w = self.store.write().await?;
        if !sessions::revoke_session(&mut w, session_hash, self.now_ms()).await? {
            return Err(ServiceError::NotFound);
        }
        self.audit(
            &mut w,
            &actor.label(),
            &client.source,
            "session.revoked",
            &format!("user:{}", target.user_id.0),
            json!({"session_created_at": target.created_at_ms, "session_source": target.source}),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Changes facility settings.
    pub async fn update_settings(
        &self,
        cap: &Cap<perm::ManageSettings>,
        new: &FacilitySettings,
        client: &ClientInfo,
    ) -> ServiceResult<()> {
        validate_settings(new)?;
        let before = self
            .store
            .facility()
            .await?
            .ok_or(ServiceError::NotSetUp)?
            .settings;
        let mut w = self.store.write().await?;
        facility::update_settings(&mut w, new).await?;
        self.audit(
            &mut w,
            &cap.actor().label(),
            &client.source,
            "settings.changed",
            "facility",
            json!({
                "before": {"idle_lock_minutes": before.idle_lock_minutes, "require_two_factor_for_all": before.require_two_factor_for_all},
                "after": {"idle_lock_minutes": new.idle_lock_minutes, "require_two_factor_for_all": new.require_two_factor_for_all},
            }),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }
}
