//! Use cases of mamori: first-run setup, authentication and sessions, authorisation as typed
//! capabilities, the audit trail, and the read models behind the pages.
//!
//! Every state change goes through a write transaction that also appends one audit event, so a
//! change and its record commit together or not at all. Time comes from [`Clock`]; nothing here
//! reads the wall clock.

pub mod account_import;
pub mod account_reviews;
pub mod agents;
pub mod alerts;
pub mod auth;
pub mod authz;
pub mod break_glass;
pub mod checklist;
pub mod clock;
pub mod collect;
pub mod csv_profiles;
pub mod dashboard;
pub mod demo;
pub mod demo_agents;
pub mod demo_logs;
pub mod detection;
pub mod directory;
pub mod error;
pub mod files;
pub mod findings;
pub mod hashing;
pub mod import;
pub mod incidents;
pub mod ledger;
pub mod logs;
pub mod sealing;
pub mod seed;
pub mod sources;
pub mod users;
pub mod vendor_forms;
pub mod webauthn;

pub use authz::{Actor, Cap, perm};
pub use clock::{Clock, ManualClock};
pub use error::{ServiceError, ServiceResult};
pub use hashing::{Argon2Params, PasswordHasher};

use mamori_domain::password::PasswordPolicy;
use mamori_storage::Store;
use std::sync::Arc;

/// Where a request came from, for throttling and the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// Client address as text (IP only).
    pub source: String,
    pub user_agent: String,
}

impl ClientInfo {
    pub fn new(source: impl Into<String>, user_agent: impl Into<String>) -> Self {
        let mut ua: String = user_agent.into();
        ua.truncate(ua.floor_char_boundary(300));
        ClientInfo {
            source: source.into(),
            user_agent: ua,
        }
    }
}

/// Session lifetimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// A session ends this long after login, whatever its activity.
    pub absolute_ms: i64,
    /// Activity is written back at most this often (the idle lock is exact to within this).
    pub touch_every_ms: i64,
    /// A login that has not completed its second factor expires after this.
    pub pending_ms: i64,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            absolute_ms: 12 * 3_600_000,
            touch_every_ms: 15_000,
            pending_ms: 10 * 60_000,
        }
    }
}

/// The service layer: one per process, cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub hasher: PasswordHasher,
    pub policy: PasswordPolicy,
    pub sessions: SessionLimits,
    /// The sealed log the audit trail is copied into (absent in some tests).
    pub sealer: Option<sealing::Sealer>,
    /// The sealed log of collected events (`DATA/events`), when this process holds it.
    pub events: Option<sealing::Sealer>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("backend", &self.store.backend())
            .finish_non_exhaustive()
    }
}

impl Services {
    pub fn new(store: Store, clock: Arc<dyn Clock>, hasher: PasswordHasher) -> Self {
        Services {
            store,
            clock,
            hasher,
            policy: PasswordPolicy::default(),
            sessions: SessionLimits::default(),
            sealer: None,
            events: None,
        }
    }

    /// Seals the audit trail into `sealer`.
    pub fn with_sealer(mut self, sealer: sealing::Sealer) -> Self {
        self.sealer = Some(sealer);
        self
    }

    /// Keeps collected events in `events` (see [`logs`]).
    pub fn with_event_log(mut self, events: sealing::Sealer) -> Self {
        self.events = Some(events);
        self
    }

    /// The time by the service's clock (what pages compare dates against).
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}
