//! First-run setup, login with password and second factor, sessions, idle lock, password
//! changes and two-factor enrolment.
//!
//! The login flow never reveals whether a login id exists: unknown ids are verified against a
//! dummy hash and get the same answer. Throttling is per (login id, source) and per source.

use crate::authz::Actor;
use crate::error::{ServiceError, ServiceResult};
use crate::{ClientInfo, Services};
use base64::Engine as _;
use mamori_domain::UserId;
use mamori_domain::facility::{FacilityKind, FacilitySettings, validate_facility};
use mamori_domain::lockout::{ThrottleDecision, ThrottlePolicy, ThrottleState};
use mamori_domain::password::{PasswordContext, check_password};
use mamori_domain::role::Role;
use mamori_storage::facility::FacilityRow;
use mamori_storage::sessions::{SessionRow, SessionStage};
use mamori_storage::users::{NewUser, UserRow};
use mamori_storage::{Tx, audit, facility, sessions, users};
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, TOTP};

/// What first-run setup asks for.
#[derive(Debug, Clone)]
pub struct SetupInput {
    pub kind: FacilityKind,
    pub facility_name: String,
    pub beds: Option<i64>,
    pub admin_login: String,
    pub admin_name: String,
    pub admin_password: String,
}

/// A session just created; the token goes into the cookie and nowhere else.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub stage: SessionStage,
}

/// A resolved session of a request.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub actor: Actor,
    pub stage: SessionStage,
    pub csrf: String,
    pub locked: bool,
    pub idle_lock_minutes: u32,
}

/// A started two-factor enrolment: what the user scans.
#[derive(Debug, Clone)]
pub struct TotpEnrollment {
    pub secret_base32: String,
    pub otpauth_url: String,
    pub qr_svg: String,
}

/// Random token, URL-safe.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// The stored form of a session token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Checks a login id: 3–64 of `A–Z a–z 0–9 . _ - @`.
pub fn validate_login_id(id: &str) -> ServiceResult<()> {
    let ok = (3..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(ServiceError::Invalid {
            code: "USR0002",
            field: "login_id",
        })
    }
}

fn validate_display_name(name: &str) -> ServiceResult<()> {
    let n = name.trim().chars().count();
    if (1..=100).contains(&n) {
        Ok(())
    } else {
        Err(ServiceError::Invalid {
            code: "USR0003",
            field: "display_name",
        })
    }
}

pub(crate) fn account_key(login_id: &str, source: &str) -> String {
    format!("acct:{}|src:{source}", login_id.trim().to_lowercase())
}

pub(crate) fn source_key(source: &str) -> String {
    format!("src:{source}")
}

/// Builds the TOTP for a user from a stored base32 secret.
pub fn totp_for(secret_base32: &str, login_id: &str) -> ServiceResult<TOTP> {
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret_base32.as_bytes())
        .map_err(|e| ServiceError::Internal(format!("stored TOTP secret: {e}")))?;
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        30,
        secret,
        Some("mamori".to_string()),
        login_id.to_string(),
    )
    .map_err(|e| ServiceError::Internal(format!("TOTP: {e}")))
}

/// The 30-second step (±1 for clock drift) at which `code` is valid, if any.
pub fn matching_step(t: &TOTP, code: &str, now_ms: i64) -> Option<i64> {
    let now_step = now_ms.div_euclid(30_000);
    [now_step - 1, now_step, now_step + 1]
        .into_iter()
        .filter(|s| *s >= 0)
        .find(|s| {
            let at = u64::try_from(*s * 30).unwrap_or(0);
            let expected = t.generate(at);
            expected.len() == code.len()
                && expected
                    .bytes()
                    .zip(code.bytes())
                    .fold(0u8, |a, (x, y)| a | (x ^ y))
                    == 0
        })
}

/// A fresh 160-bit TOTP secret in base32.
pub fn new_totp_secret() -> String {
    let mut b = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut b);
    data_encoding::BASE32_NOPAD.encode(&b)
}

/// Normalises a typed recovery code (case, spaces, hyphens) before hashing.
pub(crate) fn recovery_hash(code: &str) -> String {
    let norm: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    hex::encode(Sha256::digest(
        format!("mamori-recovery-v1:{norm}").as_bytes(),
    ))
}

/// Ten one-time recovery codes like `k7wq-3m9x-p2`.
pub(crate) fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    (0..10)
        .map(|_| {
            let chars: String = (0..10)
                .map(|_| {
                    let i = (rng.next_u32() as usize) % ALPHABET.len();
                    ALPHABET.get(i).map(|b| *b as char).unwrap_or('a')
                })
                .collect();
            let (a, rest) = chars.split_at(4);
            let (b, c) = rest.split_at(4);
            format!("{a}-{b}-{c}")
        })
        .collect()
}

impl Services {
    /// Appends one audit event inside `tx`.
    pub(crate) async fn audit(
        &self,
        tx: &mut Tx,
        actor: &str,
        source: &str,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> ServiceResult<i64> {
        let detail = detail.to_string();
        let seq = audit::append(
            tx,
            self.store.backend(),
            &audit::NewAuditEvent {
                at_ms: self.now_ms(),
                actor,
                source,
                action,
                target,
                detail: &detail,
            },
        )
        .await?;
        Ok(seq)
    }

    pub async fn facility(&self) -> ServiceResult<Option<FacilityRow>> {
        Ok(self.store.facility().await?)
    }

    pub async fn is_set_up(&self) -> ServiceResult<bool> {
        Ok(self.store.facility().await?.is_some())
    }

    pub(crate) fn needs_two_factor(
        &self,
        user: &UserRow,
        settings: Option<&FacilitySettings>,
    ) -> bool {
        user.role.requires_two_factor() || settings.is_some_and(|s| s.require_two_factor_for_all)
    }

    /// Checks a new password against the policy and the user's history.
    pub(crate) async fn check_new_password(
        &self,
        user_id: Option<UserId>,
        login_id: &str,
        display_name: &str,
        password: &str,
        two_factor: bool,
    ) -> ServiceResult<()> {
        let facility_name = self
            .store
            .facility()
            .await?
            .map(|f| f.name)
            .unwrap_or_default();
        let ctx = PasswordContext {
            login_id,
            user_inputs: vec![display_name, &facility_name, "mamori", "守り"],
            two_factor,
        };
        check_password(&self.policy, password, &ctx).map_err(ServiceError::Password)?;
        if let Some(id) = user_id {
            for old in self.store.password_history(id, self.policy.history).await? {
                if self.hasher.verify(password, Some(&old)).await {
                    return Err(ServiceError::Password(vec![
                        mamori_domain::password::PasswordProblem::Reused,
                    ]));
                }
            }
        }
        Ok(())
    }

    /// First-run setup: the facility and its first administrator, in one transaction.
    pub async fn setup(&self, input: &SetupInput, client: &ClientInfo) -> ServiceResult<UserId> {
        if self.is_set_up().await? {
            return Err(ServiceError::AlreadySetUp);
        }
        let beds = if input.kind.has_beds() {
            input.beds
        } else {
            None
        };
        validate_facility(&input.facility_name, beds)?;
        validate_login_id(&input.admin_login)?;
        validate_display_name(&input.admin_name)?;
        let ctx = PasswordContext {
            login_id: &input.admin_login,
            user_inputs: vec![&input.admin_name, &input.facility_name, "mamori", "守り"],
            two_factor: true,
        };
        check_password(&self.policy, &input.admin_password, &ctx)
            .map_err(ServiceError::Password)?;
        let hash = self.hasher.hash(&input.admin_password).await?;
        let now = self.now_ms();
        let mut w = self.store.write().await?;
        let f = FacilityRow {
            kind: input.kind,
            name: input.facility_name.trim().to_string(),
            beds,
            settings: FacilitySettings::default(),
            created_at_ms: now,
        };
        facility::insert_facility(&mut w, &f).await.map_err(|e| {
            if e.is_unique_violation() {
                ServiceError::AlreadySetUp
            } else {
                e.into()
            }
        })?;
        let id = users::insert_user(
            &mut w,
            &NewUser {
                login_id: &input.admin_login,
                display_name: input.admin_name.trim(),
                role: Role::Admin,
                password_hash: &hash,
                must_change_password: false,
                vendor_id: None,
                now_ms: now,
            },
        )
        .await?;
        self.audit(
            &mut w,
            &format!("user:{}:{}", id.0, input.admin_login),
            &client.source,
            "setup.completed",
            "facility",
            json!({"after": {"kind": f.kind.as_str(), "name": f.name, "beds": f.beds, "admin": input.admin_login}}),
        )
        .await?;
        w.commit().await?;
        Ok(id)
    }

    pub(crate) async fn throttle_check(&self, keys: &[String]) -> ServiceResult<()> {
        let now = self.now_ms();
        for k in keys {
            if let ThrottleDecision::Refused { until_ms } =
                self.store.throttle(k).await?.decide(now)
            {
                return Err(ServiceError::Throttled { until_ms });
            }
        }
        Ok(())
    }

    pub(crate) async fn record_failure(
        &self,
        login_id: &str,
        client: &ClientInfo,
        action: &str,
        user: Option<&UserRow>,
    ) -> ServiceResult<()> {
        let now = self.now_ms();
        let ak = account_key(login_id, &client.source);
        let sk = source_key(&client.source);
        let mut w = self.store.write().await?;
        let a: ThrottleState = self.store.throttle(&ak).await?;
        let s: ThrottleState = self.store.throttle(&sk).await?;
        let a2 = a.after_failure(&ThrottlePolicy::ACCOUNT_SOURCE, now);
        let s2 = s.after_failure(&ThrottlePolicy::SOURCE, now);
        users::put_throttle(&mut w, &ak, &a2).await?;
        users::put_throttle(&mut w, &sk, &s2).await?;
        let actor = user
            .map(|u| format!("user:{}:{}", u.id.0, u.login_id))
            .unwrap_or_else(|| "anonymous".to_string());
        self.audit(
            &mut w,
            &actor,
            &client.source,
            action,
            &format!("login:{}", login_id.chars().take(64).collect::<String>()),
            json!({"failures": a2.failures, "locked_until": a2.locked_until_ms, "user_agent": client.user_agent}),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }

    async fn record_refusal(
        &self,
        login_id: &str,
        client: &ClientInfo,
        until_ms: i64,
    ) -> ServiceResult<()> {
        let mut w = self.store.write().await?;
        self.audit(
            &mut w,
            "anonymous",
            &client.source,
            "login.refused",
            &format!("login:{}", login_id.chars().take(64).collect::<String>()),
            json!({"until": until_ms}),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Whether the user has any second factor: TOTP or a security key / passkey.
    pub async fn has_second_factor(&self, user: &UserRow) -> ServiceResult<bool> {
        Ok(user.totp_enabled || !self.store.credentials(user.id).await?.is_empty())
    }

    pub(crate) fn next_stage(
        &self,
        user: &UserRow,
        has_second_factor: bool,
        settings: Option<&FacilitySettings>,
        second_factor_done: bool,
    ) -> SessionStage {
        if has_second_factor && !second_factor_done {
            SessionStage::SecondFactor
        } else if user.must_change_password {
            SessionStage::ChangePassword
        } else if self.needs_two_factor(user, settings) && !has_second_factor {
            SessionStage::EnrollTwoFactor
        } else {
            SessionStage::Full
        }
    }

    /// Step one of login: the password. Creates a session in the stage that follows.
    pub async fn login(
        &self,
        login_id: &str,
        password: &str,
        client: &ClientInfo,
    ) -> ServiceResult<NewSession> {
        let login_id = login_id.trim();
        let keys = [
            account_key(login_id, &client.source),
            source_key(&client.source),
        ];
        if let Err(ServiceError::Throttled { until_ms }) = self.throttle_check(&keys).await {
            self.record_refusal(login_id, client, until_ms).await?;
            return Err(ServiceError::Throttled { until_ms });
        }
        if password.chars().count() > self.policy.max_length {
            self.record_failure(login_id, client, "login.failure", None)
                .await?;
            return Err(ServiceError::InvalidCredentials);
        }
        let user = self.store.user_by_login(login_id).await?;
        let ok = self
            .hasher
            .verify(password, user.as_ref().map(|u| u.password_hash.as_str()))
            .await;
        let user = match user {
            Some(u) if ok && !u.disabled => u,
            other => {
                self.record_failure(login_id, client, "login.failure", other.as_ref())
                    .await?;
                return Err(ServiceError::InvalidCredentials);
            }
        };
        let settings = self.store.facility().await?.map(|f| f.settings);
        let has_2fa = self.has_second_factor(&user).await?;
        let stage = self.next_stage(&user, has_2fa, settings.as_ref(), false);
        let token = random_token();
        let now = self.now_ms();
        let mut w = self.store.write().await?;
        users::clear_throttle(&mut w, &keys[0]).await?;
        sessions::insert_session(
            &mut w,
            &SessionRow {
                token_hash: token_hash(&token),
                user_id: user.id,
                stage,
                csrf: random_token(),
                created_at_ms: now,
                last_seen_at_ms: now,
                source: client.source.clone(),
                user_agent: client.user_agent.clone(),
                locked: false,
                revoked_at_ms: None,
            },
        )
        .await?;
        let action = if stage == SessionStage::SecondFactor {
            "login.password_ok"
        } else {
            "login.success"
        };
        self.audit(
            &mut w,
            &format!("user:{}:{}", user.id.0, user.login_id),
            &client.source,
            action,
            &format!("user:{}", user.id.0),
            json!({"stage": stage.as_str(), "user_agent": client.user_agent}),
        )
        .await?;
        w.commit().await?;
        Ok(NewSession { token, stage })
    }

    /// Resolves a session cookie. Applies the idle lock and the lifetimes.
    pub async fn resolve(&self, token: &str) -> ServiceResult<SessionView> {
        let hash = token_hash(token);
        let Some(s) = self.store.session(&hash).await? else {
            return Err(ServiceError::NoSession);
        };
        let now = self.now_ms();
        if s.revoked_at_ms.is_some() || now - s.created_at_ms > self.sessions.absolute_ms {
            return Err(ServiceError::NoSession);
        }
        if s.stage == SessionStage::SecondFactor && now - s.created_at_ms > self.sessions.pending_ms
        {
            return Err(ServiceError::NoSession);
        }
        let Some(user) = self.store.user(s.user_id).await? else {
            return Err(ServiceError::NoSession);
        };
        if user.disabled {
            return Err(ServiceError::NoSession);
        }
        let settings = self
            .store
            .facility()
            .await?
            .map(|f| f.settings)
            .unwrap_or_default();
        let idle_ms = i64::from(settings.idle_lock_minutes) * 60_000;
        let mut locked = s.locked;
        if !locked && s.stage == SessionStage::Full && now - s.last_seen_at_ms > idle_ms {
            let mut w = self.store.write().await?;
            sessions::set_locked(&mut w, &hash, true, s.last_seen_at_ms).await?;
            self.audit(
                &mut w,
                &format!("user:{}:{}", user.id.0, user.login_id),
                &s.source,
                "session.idle_locked",
                &format!("user:{}", user.id.0),
                json!({"idle_minutes": settings.idle_lock_minutes}),
            )
            .await?;
            w.commit().await?;
            locked = true;
        } else if !locked && now - s.last_seen_at_ms > self.sessions.touch_every_ms {
            let mut w = self.store.write().await?;
            sessions::touch_session(&mut w, &hash, now).await?;
            w.commit().await?;
        }
        Ok(SessionView {
            actor: Actor {
                user,
                session_hash: hash,
                source: s.source,
            },
            stage: s.stage,
            csrf: s.csrf,
            locked,
            idle_lock_minutes: settings.idle_lock_minutes,
        })
    }

    /// Step two of login: a TOTP code or a one-time recovery code.
    pub async fn verify_second_factor(
        &self,
        view: &SessionView,
        code: &str,
        client: &ClientInfo,
    ) -> ServiceResult<SessionStage> {
        let user = &view.actor.user;
        if view.stage != SessionStage::SecondFactor {
            return Err(ServiceError::NoSession);
        }
        let keys = [
            account_key(&user.login_id, &client.source),
            source_key(&client.source),
        ];
        self.throttle_check(&keys).await?;
        let code = code.trim();
        let now = self.now_ms();
        let mut used_recovery: Option<i64> = None;
        let totp_step = match (&user.totp_secret, code.len()) {
            (Some(secret), 6) if code.chars().all(|c| c.is_ascii_digit()) => {
                matching_step(&totp_for(secret, &user.login_id)?, code, now)
                    .filter(|step| *step > user.totp_last_step)
            }
            _ => None,
        };
        let totp_ok = totp_step.is_some();
        if !totp_ok {
            let h = recovery_hash(code);
            used_recovery = self
                .store
                .unused_recovery_codes(user.id)
                .await?
                .into_iter()
                .find(|(_, stored)| *stored == h)
                .map(|(id, _)| id);
        }
        if !totp_ok && used_recovery.is_none() {
            self.record_failure(
                &user.login_id,
                client,
                "login.second_factor_failure",
                Some(user),
            )
            .await?;
            return Err(ServiceError::InvalidCode);
        }
        let settings = self.store.facility().await?.map(|f| f.settings);
        let stage = self.next_stage(user, true, settings.as_ref(), true);
        let mut w = self.store.write().await?;
        if let Some(id) = used_recovery
            && !users::use_recovery_code(&mut w, id, now).await?
        {
            return Err(ServiceError::InvalidCode);
        }
        if let Some(step) = totp_step
            && !users::use_totp_step(&mut w, user.id, step).await?
        {
            // The same code raced in through another request.
            return Err(ServiceError::InvalidCode);
        }
        let method = if used_recovery.is_some() {
            "recovery_code"
        } else {
            "totp"
        };
        self.finish_second_factor(w, view, stage, client, json!({"second_factor": method}))
            .await?;
        Ok(stage)
    }

    /// The end of every successful second factor, inside the caller's transaction: forget the
    /// throttle counter, move the session on, record the login, commit.
    pub(crate) async fn finish_second_factor(
        &self,
        mut w: mamori_storage::WriteTx,
        view: &SessionView,
        stage: SessionStage,
        client: &ClientInfo,
        detail: serde_json::Value,
    ) -> ServiceResult<()> {
        let user = &view.actor.user;
        users::clear_throttle(&mut w, &account_key(&user.login_id, &client.source)).await?;
        sessions::set_stage(&mut w, &view.actor.session_hash, stage).await?;
        sessions::touch_session(&mut w, &view.actor.session_hash, self.now_ms()).await?;
        self.audit(
            &mut w,
            &view.actor.label(),
            &client.source,
            "login.success",
            &format!("user:{}", user.id.0),
            detail,
        )
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Locks the screen of a session now (the user asked, or the browser's idle timer fired).
    pub async fn lock(&self, view: &SessionView, client: &ClientInfo) -> ServiceResult<()> {
        if view.locked {
            return Ok(());
        }
        let mut w = self.store.write().await?;
        sessions::set_locked(&mut w, &view.actor.session_hash, true, self.now_ms()).await?;
        self.audit(
            &mut w,
            &view.actor.label(),
            &client.source,
            "session.locked",
            &format!("user:{}", view.actor.user.id.0),
            json!({}),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Unlocks an idle-locked session with the password (throttled like a login).
    pub async fn unlock(
        &self,
        view: &SessionView,
        password: &str,
        client: &ClientInfo,
    ) -> ServiceResult<()> {
        let user = &view.actor.user;
        let keys = [
            account_key(&user.login_id, &client.source),
            source_key(&client.source),
        ];
        self.throttle_check(&keys).await?;
        if !self
            .hasher
            .verify(password, Some(&user.password_hash))
            .await
        {
            self.record_failure(&user.login_id, client, "session.unlock_failure", Some(user))
                .await?;
            return Err(ServiceError::InvalidCredentials);
        }
        let mut w = self.store.write().await?;
        users::clear_throttle(&mut w, &keys[0]).await?;
        sessions::set_locked(&mut w, &view.actor.session_hash, false, self.now_ms()).await?;
        self.audit(
            &mut w,
            &view.actor.label(),
            &client.source,
            "session.unlocked",
            &format!("user:{}", user.id.0),
            json!({}),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Ends the session of the request.
    pub async fn logout(&self, view: &SessionView, client: &ClientInfo) -> ServiceResult<()> {
        let mut w = self.store.write().await?;
        sessions::revoke_session(&mut w, &view.actor.session_hash, self.now_ms()).await?;
        self.audit(
            &mut w,
            &view.actor.label(),
            &client.source,
            "logout",
            &format!("user:{}", view.actor.user.id.0),
            json!({}),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Changes the user's own password. Other sessions of the user are ended.
    pub async fn change_password(
        &self,
        view: &SessionView,
        current: &str,
        new: &str,
        client: &ClientInfo,
    ) -> ServiceResult<SessionStage> {
        let user = &view.actor.user;
        let keys = [
            account_key(&user.login_id, &client.source),
            source_key(&client.source),
        ];
        self.throttle_check(&keys).await?;
        if !self.hasher.verify(current, Some(&user.password_hash)).await {
            self.record_failure(
                &user.login_id,
                client,
                "password.change_failure",
                Some(user),
            )
            .await?;
            return Err(ServiceError::Invalid {
                code: "PWD0010",
                field: "current_password",
            });
        }
        let settings = self.store.facility().await?.map(|f| f.settings);
        let has_2fa = self.has_second_factor(user).await?;
        let two_factor = has_2fa || self.needs_two_factor(user, settings.as_ref());
        self.check_new_password(
            Some(user.id),
            &user.login_id,
            &user.display_name,
            new,
            two_factor,
        )
        .await?;
        let hash = self.hasher.hash(new).await?;
        let now = self.now_ms();
        let mut changed = user.clone();
        changed.must_change_password = false;
        let stage = if view.stage == SessionStage::Full {
            SessionStage::Full
        } else {
            self.next_stage(&changed, has_2fa, settings.as_ref(), true)
        };
        let mut w = self.store.write().await?;
        users::set_password(&mut w, user.id, &hash, false, now).await?;
        let ended =
            sessions::revoke_user_sessions(&mut w, user.id, Some(&view.actor.session_hash), now)
                .await?;
        sessions::set_stage(&mut w, &view.actor.session_hash, stage).await?;
        self.audit(
            &mut w,
            &view.actor.label(),
            &client.source,
            "password.changed",
            &format!("user:{}", user.id.0),
            json!({"other_sessions_ended": ended, "was_forced": user.must_change_password}),
        )
        .await?;
        w.commit().await?;
        Ok(stage)
    }

    /// Starts (or restarts) TOTP enrolment: a new secret, not yet active.
    pub async fn begin_totp_enrollment(
        &self,
        view: &SessionView,
        client: &ClientInfo,
    ) -> ServiceResult<TotpEnrollment> {
        let user = &view.actor.user;
        let secret = new_totp_secret();
        let totp = totp_for(&secret, &user.login_id)?;
        let url = totp.get_url();
        let qr_svg = qrcode::QrCode::new(url.as_bytes())
            .map(|q| {
                q.render::<qrcode::render::svg::Color<'_>>()
                    .min_dimensions(200, 200)
                    .quiet_zone(true)
                    .build()
            })
            .map_err(|e| ServiceError::Internal(format!("QR: {e}")))?;
        let mut w = self.store.write().await?;
        // An active second factor stays active until the new one is confirmed.
        if !user.totp_enabled {
            users::set_totp(&mut w, user.id, Some(&secret), false).await?;
        }
        self.audit(
            &mut w,
            &view.actor.label(),
            &client.source,
            "two_factor.enrollment_started",
            &format!("user:{}", user.id.0),
            json!({}),
        )
        .await?;
        w.commit().await?;
        Ok(TotpEnrollment {
            secret_base32: secret,
            otpauth_url: url,
            qr_svg,
        })
    }

    /// Confirms enrolment with a code from the authenticator; returns fresh recovery codes.
    pub async fn confirm_totp_enrollment(
        &self,
        view: &SessionView,
        secret_base32: &str,
        code: &str,
        client: &ClientInfo,
    ) -> ServiceResult<(Vec<String>, SessionStage)> {
        let user = &view.actor.user;
        let keys = [
            account_key(&user.login_id, &client.source),
            source_key(&client.source),
        ];
        self.throttle_check(&keys).await?;
        let totp =
            totp_for(secret_base32, &user.login_id).map_err(|_| ServiceError::InvalidCode)?;
        let now = self.now_ms();
        let Some(step) = matching_step(&totp, code.trim(), now) else {
            self.record_failure(
                &user.login_id,
                client,
                "two_factor.enrollment_failure",
                Some(user),
            )
            .await?;
            return Err(ServiceError::InvalidCode);
        };
        let codes = new_recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|c| recovery_hash(c)).collect();
        let settings = self.store.facility().await?.map(|f| f.settings);
        let mut enrolled = user.clone();
        enrolled.totp_enabled = true;
        let stage = if view.stage == SessionStage::Full {
            SessionStage::Full
        } else {
            self.next_stage(&enrolled, true, settings.as_ref(), true)
        };
        let mut w = self.store.write().await?;
        users::set_totp(&mut w, user.id, Some(secret_base32), true).await?;
        users::use_totp_step(&mut w, user.id, step).await?;
        users::replace_recovery_codes(&mut w, user.id, &hashes).await?;
        users::clear_throttle(&mut w, &keys[0]).await?;
        sessions::set_stage(&mut w, &view.actor.session_hash, stage).await?;
        self.audit(
            &mut w,
            &view.actor.label(),
            &client.source,
            "two_factor.enrolled",
            &format!("user:{}", user.id.0),
            json!({"method": "totp", "recovery_codes": hashes.len()}),
        )
        .await?;
        w.commit().await?;
        Ok((codes, stage))
    }

    /// Enrols TOTP directly with a known secret (demo and tests only: no code is asked).
    pub async fn enroll_totp_unchecked(
        &self,
        user: UserId,
        secret_base32: &str,
    ) -> ServiceResult<()> {
        let mut w = self.store.write().await?;
        users::set_totp(&mut w, user, Some(secret_base32), true).await?;
        self.audit(
            &mut w,
            "system",
            "local",
            "two_factor.enrolled",
            &format!("user:{}", user.0),
            json!({"method": "totp", "by": "command line"}),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }
}
