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
    /// 管理番号: the facility's own asset tag, unique; the key that matches import rows.
    pub tag: String,
    pub class: AssetClass,
    pub name: String,
    pub location: String,
    pub purpose: String,
    pub department: String,
    pub vendor_id: Option<VendorId>,
    pub os: String,
    pub ip: String,
    pub mac: String,
    pub serial: String,
    /// 導入年月 (first day of the month).
    pub installed_on: Option<Date>,
    pub eol_on: Option<Date>,
    pub last_patch_on: Option<Date>,
    pub status: AssetStatus,
    /// How it connects outside the facility (VPN, 回線, 無線), empty when it does not.
    pub external_connection: String,
    /// 廃棄記録: how the data was destroyed (物理破壊, データ消去ソフト …).
    pub disposal_method: String,
    pub disposed_on: Option<Date>,
    /// Certificate number or file name of the disposal certificate.
    pub disposal_certificate: String,
    pub notes: String,
}

impl Asset {
    /// An empty asset of `class`, to be filled in.
    pub fn blank(class: AssetClass) -> Asset {
        Asset {
            id: AssetId(0),
            tag: String::new(),
            class,
            name: String::new(),
            location: String::new(),
            purpose: String::new(),
            department: String::new(),
            vendor_id: None,
            os: String::new(),
            ip: String::new(),
            mac: String::new(),
            serial: String::new(),
            installed_on: None,
            eol_on: None,
            last_patch_on: None,
            status: AssetStatus::Active,
            external_connection: String::new(),
            disposal_method: String::new(),
            disposed_on: None,
            disposal_certificate: String::new(),
            notes: String::new(),
        }
    }
}

/// The asset's fields as (key, value) text, in ledger column order: codes for choices,
/// `YYYY-MM-DD` for dates, `YYYY-MM` for 導入年月, the vendor id for the vendor. Used for change
/// history and, with labels applied, for exports.
pub fn asset_values(a: &Asset) -> Vec<(&'static str, String)> {
    let d = |d: Option<Date>| {
        d.map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
            .unwrap_or_default()
    };
    let ym = |d: Option<Date>| {
        d.map(|d| format!("{:04}-{:02}", d.year(), u8::from(d.month())))
            .unwrap_or_default()
    };
    vec![
        ("tag", a.tag.clone()),
        ("class", a.class.as_str().to_string()),
        ("name", a.name.clone()),
        ("location", a.location.clone()),
        ("purpose", a.purpose.clone()),
        ("department", a.department.clone()),
        (
            "vendor",
            a.vendor_id.map(|v| v.0.to_string()).unwrap_or_default(),
        ),
        ("installed_on", ym(a.installed_on)),
        ("eol_on", d(a.eol_on)),
        ("external_connection", a.external_connection.clone()),
        ("os", a.os.clone()),
        ("ip", a.ip.clone()),
        ("mac", a.mac.clone()),
        ("serial", a.serial.clone()),
        ("last_patch_on", d(a.last_patch_on)),
        ("status", a.status.as_str().to_string()),
        ("disposal_method", a.disposal_method.clone()),
        ("disposed_on", d(a.disposed_on)),
        ("disposal_certificate", a.disposal_certificate.clone()),
        ("notes", a.notes.clone()),
    ]
}

/// A changed field: (key, before, after).
pub type FieldChange = (&'static str, String, String);

/// The fields that differ between two versions of an asset.
pub fn asset_changes(before: &Asset, after: &Asset) -> Vec<FieldChange> {
    asset_values(before)
        .into_iter()
        .zip(asset_values(after))
        .filter(|((_, b), (_, a))| b != a)
        .map(|((k, b), (_, a))| (k, b, a))
        .collect()
}

/// A field of a ledger record that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field key (`tag`, `ip`, …), also the column key of imports and exports.
    pub field: &'static str,
    /// Stable code; the message catalog has `error.<code>`.
    pub code: &'static str,
}

fn too_long(s: &str, max: usize) -> bool {
    s.chars().count() > max
}

/// Checks a comma- or space-separated list of IPv4/IPv6 addresses (CIDR suffixes allowed).
pub fn valid_ip_list(s: &str) -> bool {
    s.split([',', ' ', '、'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .all(|p| {
            let addr = p
                .split_once('/')
                .map(|(a, m)| (a, Some(m)))
                .unwrap_or((p, None));
            addr.0.parse::<std::net::IpAddr>().is_ok()
                && addr
                    .1
                    .is_none_or(|m| m.parse::<u8>().is_ok_and(|m| m <= 128))
        })
}

/// Checks a list of MAC addresses (`00:1A:2B:3C:4D:5E`, `00-1A-…`, `001A.2B3C.4D5E`).
pub fn valid_mac_list(s: &str) -> bool {
    s.split([',', ' ', '、'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .all(|p| {
            let hex: String = p
                .chars()
                .filter(|c| !matches!(c, ':' | '-' | '.'))
                .collect();
            hex.len() == 12 && hex.chars().all(|c| c.is_ascii_hexdigit())
        })
}

/// Validates an asset as entered (form or import row). Empty means valid.
pub fn validate_asset(a: &Asset) -> Vec<FieldError> {
    let mut e = Vec::new();
    let mut push = |field: &'static str, code: &'static str| e.push(FieldError { field, code });
    if a.tag.trim().is_empty() {
        push("tag", "LED0001");
    } else if too_long(&a.tag, 32) {
        push("tag", "LED0002");
    }
    if a.name.trim().is_empty() {
        push("name", "LED0003");
    }
    for (field, value, max) in [
        ("name", &a.name, 100),
        ("location", &a.location, 100),
        ("purpose", &a.purpose, 200),
        ("department", &a.department, 100),
        ("os", &a.os, 100),
        ("serial", &a.serial, 100),
        ("external_connection", &a.external_connection, 200),
        ("disposal_method", &a.disposal_method, 100),
        ("disposal_certificate", &a.disposal_certificate, 200),
        ("notes", &a.notes, 1000),
    ] {
        if too_long(value, max) {
            push(field, "LED0002");
        }
    }
    if !a.ip.trim().is_empty() && (too_long(&a.ip, 200) || !valid_ip_list(&a.ip)) {
        push("ip", "LED0004");
    }
    if !a.mac.trim().is_empty() && (too_long(&a.mac, 200) || !valid_mac_list(&a.mac)) {
        push("mac", "LED0005");
    }
    if a.status == AssetStatus::Disposed && a.disposed_on.is_none() {
        push("disposed_on", "LED0006");
    }
    if let (Some(i), Some(eol)) = (a.installed_on, a.eol_on)
        && eol < i
    {
        push("eol_on", "LED0007");
    }
    e
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
    fn changes_list_only_what_differs() {
        let mut a = Asset::blank(AssetClass::Server);
        a.tag = "A-1".into();
        let mut b = a.clone();
        b.location = "サーバ室".into();
        b.eol_on = Date::from_calendar_date(2029, time::Month::January, 9).ok();
        assert_eq!(
            asset_changes(&a, &b),
            vec![
                ("location", String::new(), "サーバ室".to_string()),
                ("eol_on", String::new(), "2029-01-09".to_string())
            ]
        );
        assert!(asset_changes(&a, &a).is_empty());
    }

    #[test]
    fn ip_and_mac_lists() {
        assert!(valid_ip_list("192.168.10.21"));
        assert!(valid_ip_list("192.168.10.21, 10.0.0.1/24 fe80::1"));
        assert!(!valid_ip_list("192.168.10.300"));
        assert!(!valid_ip_list("10.0.0.1/200"));
        assert!(valid_mac_list("00:1A:2B:3C:4D:5E"));
        assert!(valid_mac_list("00-1a-2b-3c-4d-5e、001A.2B3C.4D5E"));
        assert!(!valid_mac_list("00:1A:2B:3C:4D"));
    }

    #[test]
    fn asset_validation_names_fields() {
        let mut a = Asset::blank(AssetClass::Workstation);
        let codes = |a: &Asset| {
            validate_asset(a)
                .iter()
                .map(|e| (e.field, e.code))
                .collect::<Vec<_>>()
        };
        assert_eq!(codes(&a), vec![("tag", "LED0001"), ("name", "LED0003")]);
        a.tag = "A-0001".into();
        a.name = "PC-受付-01".into();
        assert!(codes(&a).is_empty());
        a.ip = "192.168.1.999".into();
        a.status = AssetStatus::Disposed;
        assert_eq!(
            codes(&a),
            vec![("ip", "LED0004"), ("disposed_on", "LED0006")]
        );
    }

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
