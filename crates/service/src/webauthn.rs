//! Security keys and passkeys (WebAuthn) as a second factor: registration from the account
//! page or the enrolment step, and use at login. Ceremony state lives in the database for five
//! minutes, bound to the session that started it, and is consumed by the first answer.

use crate::auth::{SessionView, account_key, new_recovery_codes, recovery_hash, source_key};
use crate::authz::{Cap, perm};
use crate::error::{ServiceError, ServiceResult};
use crate::{ClientInfo, Services};
use base64::Engine as _;
use mamori_domain::UserId;
use mamori_storage::sessions::{self, SessionStage};
use mamori_storage::{users, webauthn as store};
use serde_json::json;
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid,
};

pub use webauthn_rs::Webauthn;

/// How long a started ceremony may take.
pub const CHALLENGE_TTL_MS: i64 = 5 * 60_000;

/// A registered key as the account page shows it.
#[derive(Debug, Clone)]
pub struct PasskeyInfo {
    pub id: i64,
    pub name: String,
    pub created_at_ms: i64,
    pub last_used_at_ms: Option<i64>,
}

/// Builds the relying party for `rp_id` (a host name; browsers refuse IP addresses) and the exact
/// origin browsers will use, e.g. `https://mamori.example-clinic.local:8443`.
pub fn relying_party(rp_id: &str, origin: &str) -> ServiceResult<Webauthn> {
    let url = Url::parse(origin).map_err(|_| ServiceError::Invalid {
        code: "WAN0010",
        field: "webauthn.origin",
    })?;
    webauthn_rs::WebauthnBuilder::new(rp_id, &url)
        .and_then(|b| b.rp_name("mamori").build())
        .map_err(|e| ServiceError::Internal(format!("WebAuthn relying party: {e}")))
}

fn invalid(code: &'static str) -> ServiceError {
    ServiceError::Invalid {
        code,
        field: "credential",
    }
}

/// A stable WebAuthn user handle for a mamori user.
fn user_handle(id: UserId) -> Uuid {
    let n = u128::try_from(id.0).unwrap_or(0);
    Uuid::from_u128((0x6d61_6d6f_7269_u128 << 80) | n)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn to_json<T: serde::Serialize>(v: &T) -> ServiceResult<String> {
    serde_json::to_string(v).map_err(|e| ServiceError::Internal(format!("WebAuthn state: {e}")))
}

impl Services {
    /// The user's registered keys.
    pub async fn passkeys(&self, cap: &Cap<perm::OwnAccount>) -> ServiceResult<Vec<PasskeyInfo>> {
        Ok(self
            .store
            .credentials(cap.actor().user.id)
            .await?
            .into_iter()
            .map(|c| PasskeyInfo {
                id: c.id,
                name: c.name,
                created_at_ms: c.created_at_ms,
                last_used_at_ms: c.last_used_at_ms,
            })
            .collect())
    }

    /// Takes the session's pending ceremony of `kind`, committed at once so it cannot be replayed.
    async fn take_state(&self, view: &SessionView, kind: &str) -> ServiceResult<String> {
        let mut w = self.store.write().await?;
        let taken = store::take_challenge(&mut w, &view.actor.session_hash, kind).await?;
        w.commit().await?;
        match taken {
            Some((state, created)) if self.now_ms() - created <= CHALLENGE_TTL_MS => Ok(state),
            _ => Err(invalid("WAN0001")),
        }
    }

    async fn put_state(&self, view: &SessionView, kind: &str, state: &str) -> ServiceResult<()> {
        let mut w = self.store.write().await?;
        store::put_challenge(&mut w, &view.actor.session_hash, kind, state, self.now_ms()).await?;
        w.commit().await?;
        Ok(())
    }

    /// Starts registering a key; returns the options for `navigator.credentials.create` as JSON.
    pub async fn passkey_register_start(
        &self,
        wa: &Webauthn,
        view: &SessionView,
    ) -> ServiceResult<String> {
        if matches!(
            view.stage,
            SessionStage::SecondFactor | SessionStage::ChangePassword
        ) {
            return Err(ServiceError::NoSession);
        }
        let user = &view.actor.user;
        let exclude: Vec<_> = self
            .store
            .credentials(user.id)
            .await?
            .iter()
            .filter_map(|c| serde_json::from_str::<Passkey>(&c.passkey).ok())
            .map(|p| p.cred_id().clone())
            .collect();
        let (options, state) = wa
            .start_passkey_registration(
                user_handle(user.id),
                &user.login_id,
                &user.display_name,
                Some(exclude),
            )
            .map_err(|e| ServiceError::Internal(format!("WebAuthn: {e}")))?;
        self.put_state(view, "register", &to_json(&state)?).await?;
        to_json(&options)
    }

    /// Finishes registering a key. Returns fresh recovery codes when this is the user's first
    /// second factor, and the session's next stage.
    pub async fn passkey_register_finish(
        &self,
        wa: &Webauthn,
        view: &SessionView,
        credential_json: &str,
        name: &str,
        client: &ClientInfo,
    ) -> ServiceResult<(Option<Vec<String>>, SessionStage)> {
        if matches!(
            view.stage,
            SessionStage::SecondFactor | SessionStage::ChangePassword
        ) {
            return Err(ServiceError::NoSession);
        }
        let name = name.trim();
        if !(1..=60).contains(&name.chars().count()) {
            return Err(ServiceError::Invalid {
                code: "WAN0004",
                field: "name",
            });
        }
        let user = &view.actor.user;
        let state_json = self.take_state(view, "register").await?;
        let state: PasskeyRegistration = serde_json::from_str(&state_json)
            .map_err(|e| ServiceError::Internal(format!("WebAuthn state: {e}")))?;
        let cred: RegisterPublicKeyCredential =
            serde_json::from_str(credential_json).map_err(|_| invalid("WAN0002"))?;
        let passkey = wa
            .finish_passkey_registration(&cred, &state)
            .map_err(|_| invalid("WAN0003"))?;
        let had_second_factor = self.has_second_factor(user).await?;
        let codes = (!had_second_factor).then(new_recovery_codes);
        let settings = self.store.facility().await?.map(|f| f.settings);
        let stage = if view.stage == SessionStage::Full {
            SessionStage::Full
        } else {
            self.next_stage(user, true, settings.as_ref(), true)
        };
        let now = self.now_ms();
        let mut w = self.store.write().await?;
        store::insert_credential(
            &mut w,
            user.id,
            &b64(passkey.cred_id().as_ref()),
            name,
            &to_json(&passkey)?,
            now,
        )
        .await
        .map_err(|e| {
            if e.is_unique_violation() {
                invalid("WAN0005")
            } else {
                e.into()
            }
        })?;
        if let Some(codes) = &codes {
            let hashes: Vec<String> = codes.iter().map(|c| recovery_hash(c)).collect();
            users::replace_recovery_codes(&mut w, user.id, &hashes).await?;
        }
        sessions::set_stage(&mut w, &view.actor.session_hash, stage).await?;
        self.audit(
            &mut w,
            &view.actor.label(),
            &client.source,
            "two_factor.key_added",
            &format!("user:{}", user.id.0),
            json!({"method": "webauthn", "name": name}),
        )
        .await?;
        w.commit().await?;
        Ok((codes, stage))
    }

    /// Starts a login with a key (second factor); returns the options for `navigator.credentials.get`.
    pub async fn passkey_login_start(
        &self,
        wa: &Webauthn,
        view: &SessionView,
    ) -> ServiceResult<String> {
        if view.stage != SessionStage::SecondFactor {
            return Err(ServiceError::NoSession);
        }
        let keys: Vec<Passkey> = self
            .store
            .credentials(view.actor.user.id)
            .await?
            .iter()
            .filter_map(|c| serde_json::from_str::<Passkey>(&c.passkey).ok())
            .collect();
        if keys.is_empty() {
            return Err(invalid("WAN0006"));
        }
        let (options, state) = wa
            .start_passkey_authentication(&keys)
            .map_err(|e| ServiceError::Internal(format!("WebAuthn: {e}")))?;
        self.put_state(view, "login", &to_json(&state)?).await?;
        to_json(&options)
    }

    /// Finishes a login with a key.
    pub async fn passkey_login_finish(
        &self,
        wa: &Webauthn,
        view: &SessionView,
        credential_json: &str,
        client: &ClientInfo,
    ) -> ServiceResult<SessionStage> {
        if view.stage != SessionStage::SecondFactor {
            return Err(ServiceError::NoSession);
        }
        let user = &view.actor.user;
        let keys = [
            account_key(&user.login_id, &client.source),
            source_key(&client.source),
        ];
        self.throttle_check(&keys).await?;
        let state_json = self.take_state(view, "login").await?;
        let state: PasskeyAuthentication = serde_json::from_str(&state_json)
            .map_err(|e| ServiceError::Internal(format!("WebAuthn state: {e}")))?;
        let verified = serde_json::from_str::<PublicKeyCredential>(credential_json)
            .ok()
            .and_then(|cred| wa.finish_passkey_authentication(&cred, &state).ok());
        let Some(result) = verified else {
            self.record_failure(
                &user.login_id,
                client,
                "login.second_factor_failure",
                Some(user),
            )
            .await?;
            return Err(ServiceError::InvalidCode);
        };
        let used_id = b64(result.cred_id().as_ref());
        let stored = self
            .store
            .credentials(user.id)
            .await?
            .into_iter()
            .find(|c| c.credential_id == used_id)
            .ok_or(ServiceError::InvalidCode)?;
        let mut passkey: Passkey = serde_json::from_str(&stored.passkey)
            .map_err(|e| ServiceError::Internal(format!("stored passkey: {e}")))?;
        passkey.update_credential(&result);
        let settings = self.store.facility().await?.map(|f| f.settings);
        let stage = self.next_stage(user, true, settings.as_ref(), true);
        let now = self.now_ms();
        let mut w = self.store.write().await?;
        store::touch_credential(&mut w, stored.id, &to_json(&passkey)?, now).await?;
        self.finish_second_factor(
            w,
            view,
            stage,
            client,
            json!({"second_factor": "webauthn", "key": stored.name}),
        )
        .await?;
        Ok(stage)
    }

    /// Removes one of the actor's keys. The last second factor of a user who must have one
    /// cannot be removed.
    pub async fn remove_passkey(
        &self,
        cap: &Cap<perm::OwnAccount>,
        id: i64,
        client: &ClientInfo,
    ) -> ServiceResult<()> {
        let actor = cap.actor();
        let user = &actor.user;
        let keys = self.store.credentials(user.id).await?;
        let Some(key) = keys.iter().find(|k| k.id == id) else {
            return Err(ServiceError::NotFound);
        };
        let settings = self.store.facility().await?.map(|f| f.settings);
        if self.needs_two_factor(user, settings.as_ref()) && !user.totp_enabled && keys.len() == 1 {
            return Err(ServiceError::Invalid {
                code: "WAN0007",
                field: "credential",
            });
        }
        let mut w = self.store.write().await?;
        if !store::delete_credential(&mut w, user.id, id).await? {
            return Err(ServiceError::NotFound);
        }
        self.audit(
            &mut w,
            &actor.label(),
            &client.source,
            "two_factor.key_removed",
            &format!("user:{}", user.id.0),
            json!({"name": key.name}),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }
}
