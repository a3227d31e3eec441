//! Roles and the permissions they grant. Deny by default: a permission not listed for a role is refused.

/// A role a mamori user holds. Exactly one per user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// 管理者: runs mamori, manages users and settings.
    Admin,
    /// 安全管理責任者: owns the facility's security; edits the ledger and answers the checklist.
    SecurityOfficer,
    /// 監査担当: reads everything including logs and the audit trail, changes nothing.
    Auditor,
    /// 職員: sees the dashboard, ledger and checklist of the facility.
    Staff,
    /// 事業者: sees only the vendor checklist of the systems they supply.
    Vendor,
}

/// Something a request may want to do. Handlers and service calls name exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Use one's own account: change password, enrol two-factor, list own sessions.
    OwnAccount,
    ViewDashboard,
    ViewLedger,
    EditLedger,
    ViewAccounts,
    ViewChecklist,
    /// Answer the checklist (はい / いいえ, dates, remarks) and export the form.
    AnswerChecklist,
    ViewLogs,
    /// Mark a period of collected logs as reviewed (ログの確認記録).
    ReviewLogs,
    /// Set up log collection (the access-log CSV profiles) and take log files in.
    ManageLogs,
    /// Take and close alerts raised by detection rules.
    HandleAlerts,
    ViewVendors,
    ViewBackups,
    ViewIncidents,
    /// Open incidents, link alerts to them, write their timeline, contain and close them.
    HandleIncidents,
    ViewAudit,
    ViewSettings,
    ManageSettings,
    ManageUsers,
    /// Manage any user's sessions (list and revoke).
    ManageSessions,
    /// See the endpoint agents and what they report (inventory, pending updates, ports).
    ViewAgents,
    /// Enrol endpoint agents, revoke them, set their removable-media policy and give
    /// emergency unlock codes.
    ManageAgents,
    /// The vendor's own portal: the systems they supply and their vendor checklist.
    VendorPortal,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::SecurityOfficer,
        Role::Auditor,
        Role::Staff,
        Role::Vendor,
    ];

    /// Stable code stored in the database and used for message keys (`role.<code>`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::SecurityOfficer => "security_officer",
            Role::Auditor => "auditor",
            Role::Staff => "staff",
            Role::Vendor => "vendor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The guideline makes two-factor mandatory for privileged roles.
    pub fn requires_two_factor(self) -> bool {
        matches!(self, Role::Admin | Role::SecurityOfficer)
    }

    /// Whether this role may do `p`. The single source of truth for authorisation.
    pub fn permits(self, p: Permission) -> bool {
        use Permission as P;
        match self {
            Role::Admin => p != P::VendorPortal,
            Role::SecurityOfficer => !matches!(
                p,
                P::VendorPortal | P::ManageUsers | P::ManageSettings | P::ManageSessions
            ),
            Role::Auditor => matches!(
                p,
                P::OwnAccount
                    | P::ViewDashboard
                    | P::ViewLedger
                    | P::ViewAccounts
                    | P::ViewChecklist
                    | P::ViewLogs
                    | P::ViewVendors
                    | P::ViewBackups
                    | P::ViewIncidents
                    | P::ViewAudit
                    | P::ViewSettings
                    | P::ViewAgents
            ),
            Role::Staff => matches!(
                p,
                P::OwnAccount
                    | P::ViewDashboard
                    | P::ViewLedger
                    | P::ViewChecklist
                    | P::ViewIncidents
            ),
            Role::Vendor => matches!(p, P::OwnAccount | P::VendorPortal),
        }
    }

    /// Whether this role may change anything beyond its own account.
    pub fn can_write(self) -> bool {
        WRITE_PERMISSIONS.iter().any(|p| self.permits(*p))
    }
}

/// Permissions that change facility state (as opposed to reading it).
pub const WRITE_PERMISSIONS: [Permission; 10] = [
    Permission::EditLedger,
    Permission::ManageLogs,
    Permission::HandleAlerts,
    Permission::HandleIncidents,
    Permission::AnswerChecklist,
    Permission::ReviewLogs,
    Permission::ManageSettings,
    Permission::ManageUsers,
    Permission::ManageSessions,
    Permission::ManageAgents,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn auditor_changes_nothing() {
        assert!(!Role::Auditor.can_write());
        assert!(Role::Auditor.permits(Permission::ViewLogs));
        assert!(Role::Auditor.permits(Permission::ViewAudit));
        assert!(!Role::Auditor.permits(Permission::ManageLogs));
        assert!(Role::SecurityOfficer.permits(Permission::ManageLogs));
    }

    #[test]
    fn incidents_are_handled_by_administrators_and_security_officers() {
        for r in Role::ALL {
            assert_eq!(
                r.permits(Permission::HandleIncidents),
                matches!(r, Role::Admin | Role::SecurityOfficer),
                "{r:?}"
            );
        }
        assert!(Role::Staff.permits(Permission::ViewIncidents));
        assert!(!Role::Staff.can_write());
    }

    #[test]
    fn vendor_sees_only_its_portal() {
        assert!(Role::Vendor.permits(Permission::VendorPortal));
        assert!(!Role::Vendor.permits(Permission::ViewDashboard));
        assert!(!Role::Vendor.permits(Permission::ViewLedger));
    }

    #[test]
    fn privileged_roles_need_two_factor() {
        assert!(Role::Admin.requires_two_factor());
        assert!(Role::SecurityOfficer.requires_two_factor());
        assert!(!Role::Staff.requires_two_factor());
    }
}
