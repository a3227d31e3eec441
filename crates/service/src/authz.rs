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
        ViewLogs,
        ViewVendors,
        ViewBackups,
        ViewIncidents,
        ViewAudit,
        ViewSettings,
        ManageSettings,
        ManageUsers,
        ManageSessions,
        VendorPortal,
    );
}
