//! Authorisation as typed capabilities: a use case that changes something takes a `Cap<P>`,
//! which only [`Actor::can`] creates, and only after the role was checked. A handler therefore
//! cannot call a write it was not allowed to.

use crate::error::{ServiceError, ServiceResult};
use mamori_domain::role::{Permission, Role};
use mamori_storage::users::UserRow;
use std::marker::PhantomData;

/// An authenticated user acting through one session.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user: UserRow,
    pub session_hash: String,
    pub source: String,
}

impl Actor {
    /// The operator at the server's own console (the command line): an administrator, since
    /// whoever can run the binary on the data directory already holds everything in it.
    pub fn local(os_user: &str) -> Actor {
        let login: String = os_user
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            .take(32)
            .collect();
        Actor {
            user: UserRow {
                id: mamori_domain::UserId(0),
                login_id: format!("local-cli:{login}"),
                display_name: "コマンドライン".to_string(),
                role: Role::Admin,
                password_hash: String::new(),
                must_change_password: false,
                password_changed_at_ms: 0,
                totp_secret: None,
                totp_enabled: false,
                disabled: false,
                vendor_id: None,
                created_at_ms: 0,
                totp_last_step: 0,
            },
            session_hash: String::new(),
            source: "local".to_string(),
        }
    }

    /// mamori's own scheduled work (e.g. the directory sync), acting with an administrator's
    /// rights; it appears in the audit trail as `system:{task}`.
    pub fn system(task: &str) -> Actor {
        let mut a = Actor::local(task);
        a.user.login_id = format!(
            "system:{}",
            a.user.login_id.trim_start_matches("local-cli:")
        );
        a.user.display_name = "mamori".to_string();
        a.source = "system".to_string();
        a
    }

    pub fn role(&self) -> Role {
        self.user.role
    }

    /// How the actor appears in the audit trail.
    pub fn label(&self) -> String {
        format!("user:{}:{}", self.user.id.0, self.user.login_id)
    }

    /// Checks the role and hands out the capability.
    pub fn can<P: Perm>(&self) -> ServiceResult<Cap<P>> {
        if self.user.role.permits(P::PERMISSION) {
            Ok(Cap {
                actor: self.clone(),
                _p: PhantomData,
            })
        } else {
            Err(ServiceError::Denied)
        }
    }
}

/// A permission as a type.
pub trait Perm {
    const PERMISSION: Permission;
}

/// Proof that `actor` holds permission `P`.
#[derive(Debug, Clone)]
pub struct Cap<P: Perm> {
    actor: Actor,
    _p: PhantomData<P>,
}

impl<P: Perm> Cap<P> {
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
}

/// Permission marker types, one per [`Permission`].
pub mod perm {
    use super::{Perm, Permission};

    macro_rules! perms {
        ($($name:ident),+ $(,)?) => {
            $(
                #[derive(Debug, Clone, Copy)]
                pub struct $name;
                impl Perm for $name {
                    const PERMISSION: Permission = Permission::$name;
                }
            )+
        };
    }

    perms!(
        OwnAccount,
        ViewDashboard,
        ViewLedger,
        EditLedger,
        ViewAccounts,
        ViewChecklist,
        AnswerChecklist,
        ViewLogs,
        ReviewLogs,
        ManageLogs,
        HandleAlerts,
        ViewVendors,
        ViewBackups,
        ViewIncidents,
        HandleIncidents,
        ViewAudit,
        ViewSettings,
        ManageSettings,
        ManageUsers,
        ManageSessions,
        ViewAgents,
        ManageAgents,
        VendorPortal,
    );
}
