//! The ledger's entities: assets (機器), information systems, persons (職員), accounts and vendors.

use crate::ids::{AccountId, AssetId, PersonId, SystemId, VendorId};
use time::Date;

macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $code:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Stable code stored in the database; message key suffix.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s { $($code => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

code_enum!(
    /// 機器の種別.
    AssetClass {
        /// サーバ
        Server => "server",
        /// 端末PC
        Workstation => "workstation",
        /// ネットワーク機器
        NetworkDevice => "network_device",
        /// 医療機器
        MedicalDevice => "medical_device",
        /// IoT機器
        IotDevice => "iot_device",
        /// オンライン資格確認端末
        OnlineEligibilityTerminal => "online_eligibility_terminal",
        /// リモート保守機器
        RemoteMaintenanceDevice => "remote_maintenance_device",
        /// 外部記録媒体
        RemovableMedia => "removable_media",
        /// その他
        Other => "other",
    }
);

code_enum!(
    /// 機器の状態.
    AssetStatus {
        Active => "active",
        Spare => "spare",
        Stopped => "stopped",
        Disposed => "disposed",
    }
);

code_enum!(
    /// 職種.
    JobType {
        Doctor => "doctor",
        Nurse => "nurse",
        Pharmacist => "pharmacist",
        MedicalClerk => "medical_clerk",
        LabTechnician => "lab_technician",
        RadiologyTechnician => "radiology_technician",
        Rehabilitation => "rehabilitation",
        Administration => "administration",
        Contractor => "contractor",
        Other => "other",
    }
);

code_enum!(
    /// Whose an account is.
    AccountKind {
        /// 個人
        Personal => "personal",
        /// 共有
        Shared => "shared",
        /// サービス
        Service => "service",
        /// 非常時
        Emergency => "emergency",
        /// 事業者保守
        VendorMaintenance => "vendor_maintenance",
    }
);

code_enum!(
    /// How a system is delivered.
    DeliveryModel {
        OnPremises => "on_premises",
        Saas => "saas",
        Paas => "paas",
        Iaas => "iaas",
    }
);

/// A registered device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub id: AssetId,
    pub class: AssetClass,
    pub name: String,
    pub location: String,
    pub purpose: String,
    pub department: String,
    pub vendor_id: Option<VendorId>,
    pub os: String,
    pub ip: String,
    pub serial: String,
    pub installed_on: Option<Date>,
    pub eol_on: Option<Date>,
    pub last_patch_on: Option<Date>,
    pub status: AssetStatus,
    /// How it connects outside the facility (VPN, 回線, 無線), empty when it does not.
    pub external_connection: String,
}

/// A member of staff, present or past.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: PersonId,
    pub staff_no: String,
    pub name: String,
    pub name_kana: String,
    pub job: JobType,
    pub department: String,
    pub joined_on: Option<Date>,
    pub left_on: Option<Date>,
}

impl Person {
    /// Whether the person has left by `today`.
    pub fn has_left(&self, today: Date) -> bool {
        self.left_on.is_some_and(|d| d <= today)
    }
}

/// An information system (電子カルテ, レセコン, PACS, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoSystem {
    pub id: SystemId,
    pub name: String,
    pub category: String,
    pub vendor_id: Option<VendorId>,
    pub delivery: DeliveryModel,
    pub two_factor: bool,
}

/// An account on an information system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub system_id: SystemId,
    pub login_id: String,
    pub person_id: Option<PersonId>,
    pub kind: AccountKind,
    pub is_admin: bool,
    pub enabled: bool,
    pub last_login_on: Option<Date>,
    pub two_factor: bool,
}

/// A vendor (事業者).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vendor {
    pub id: VendorId,
    pub name: String,
    pub services: String,
    pub phone: String,
    pub email: String,
    /// Whether the contract includes remote maintenance; `None` when not yet confirmed (2-②).
    pub remote_maintenance: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for c in AssetClass::ALL {
            assert_eq!(AssetClass::parse(c.as_str()), Some(*c));
        }
        for c in JobType::ALL {
            assert_eq!(JobType::parse(c.as_str()), Some(*c));
        }
        assert_eq!(AccountKind::parse("nope"), None);
    }
}
