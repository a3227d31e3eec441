//! The ledger's entities: assets (機器), information systems, persons (職員), accounts, vendors,
//! contacts, remote-maintenance connection points and vendor documents (MDS/SDS …), each a
//! [`Record`] of its registry.

use crate::ids::{AccountId, AssetId, PersonId, SystemId, VendorId};
use crate::registry::{
    Field, FieldKind, Record, RegistryKind, Values, day_text, flag_text, id_text, ids_text,
    maybe_flag_text, month_text,
};
use time::Date;

macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $code:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The codes, in declaration order.
            pub const CODES: &'static [&'static str] = &[$($code),+];

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

code_enum!(
    /// 情報システムの種類.
    SystemCategory {
        Ehr => "ehr",
        Receipt => "receipt",
        Pacs => "pacs",
        Department => "department",
        OnlineEligibility => "online_eligibility",
        Lab => "lab",
        Pharmacy => "pharmacy",
        Groupware => "groupware",
        Other => "other",
    }
);

code_enum!(
    /// Whether a system is in use.
    SystemStatus {
        Active => "active",
        Planned => "planned",
        Retiring => "retiring",
        Retired => "retired",
    }
);

code_enum!(
    /// How far a system uses two-factor authentication (2-⑧, 2-⑩).
    TwoFactor {
        /// 全利用者
        All => "all",
        /// 管理者・一部の利用者のみ
        Partial => "partial",
        None => "none",
    }
);

code_enum!(
    /// Who does a duty under the responsibility split (責任分界).
    Responsibility {
        Facility => "facility",
        Vendor => "vendor",
        Shared => "shared",
        NotApplicable => "na",
    }
);

code_enum!(
    /// Whether the contract with a vendor runs.
    VendorStatus {
        Active => "active",
        Ended => "ended",
    }
);

code_enum!(
    /// Certifications of a vendor.
    Certification {
        Isms => "isms",
        IsmsCloud => "isms_cloud",
        PrivacyMark => "pmark",
        Ismap => "ismap",
        CsGold => "cs_gold",
        Soc2 => "soc2",
    }
);

code_enum!(
    /// The place of a contact in the contact chart (連絡体制図).
    ContactRole {
        /// 院長・開設者
        Director => "director",
        /// 事務長
        Manager => "manager",
        /// 安全管理責任者
        SecurityOfficer => "security_officer",
        /// 副担当
        Deputy => "deputy",
        /// 院内の情報システム担当
        ItStaff => "it_staff",
        /// 事業者
        Vendor => "vendor",
        /// 厚生労働省
        Mhlw => "mhlw",
        /// 警察（サイバー犯罪相談窓口）
        Police => "police",
        /// 保健所
        HealthCenter => "health_center",
        /// IPA
        Ipa => "ipa",
        /// 個人情報保護委員会
        Ppc => "ppc",
        Other => "other",
    }
);

impl ContactRole {
    /// Inside the facility (院内) rather than an outside body.
    pub fn is_internal(self) -> bool {
        matches!(
            self,
            ContactRole::Director
                | ContactRole::Manager
                | ContactRole::SecurityOfficer
                | ContactRole::Deputy
                | ContactRole::ItStaff
        )
    }
}

code_enum!(
    /// How a vendor reaches a device for remote maintenance.
    RemoteRoute {
        IpVpn => "ip_vpn",
        InternetVpn => "internet_vpn",
        LeasedLine => "leased_line",
        RemoteDesktop => "remote_desktop",
        Dialup => "dialup",
        Other => "other",
    }
);

code_enum!(
    /// Kinds of vendor documents.
    DocumentType {
        /// 製造業者による医療情報セキュリティ開示書
        Mds => "mds",
        /// サービス事業者による医療情報セキュリティ開示書
        Sds => "sds",
        Contract => "contract",
        Sla => "sla",
        Checklist => "checklist",
        Other => "other",
    }
);

const YES_NO: FieldKind = FieldKind::Flag;

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
    /// 接続元制限 (2-⑭): whether the device accepts connections only from allowed sources.
    pub source_restriction: Option<bool>,
    /// 代替措置: how the risk is contained when patches cannot be applied (past EOL, vendor
    /// restrictions) (2-⑥).
    pub compensating_control: String,
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
            source_restriction: None,
            compensating_control: String::new(),
            disposal_method: String::new(),
            disposed_on: None,
            disposal_certificate: String::new(),
            notes: String::new(),
        }
    }
}

impl Record for Asset {
    const KIND: RegistryKind = RegistryKind::Asset;
    const KEY: &'static [&'static str] = &["tag"];
    const TITLE: &'static str = "name";
    #[rustfmt::skip]
    const FIELDS: &'static [Field] = &[
        Field::text("tag", 32).req().list().search(),
        Field::choice("class", AssetClass::CODES, "asset_class").req().list().facet(),
        Field::text("name", 100).req().list().search(),
        Field::text("location", 100).list().facet().search(),
        Field::text("purpose", 200).search(),
        Field::text("department", 100).search(),
        Field::reference("vendor", "vendor_id", RegistryKind::Vendor),
        Field::new("installed_on", FieldKind::Month),
        Field::new("eol_on", FieldKind::Date).list(),
        Field::text("external_connection", 200),
        Field::text("os", 100).list().search(),
        Field::new("ip", FieldKind::Ips).list().search(),
        Field::new("mac", FieldKind::Macs),
        Field::text("serial", 100).search(),
        Field::new("last_patch_on", FieldKind::Date).list(),
        Field::choice("status", AssetStatus::CODES, "asset_status").list().facet(),
        Field::text("disposal_method", 100),
        Field::new("disposed_on", FieldKind::Date),
        Field::text("disposal_certificate", 200),
        Field::new("notes", FieldKind::Note),
        Field::new("source_restriction", FieldKind::MaybeFlag),
        Field::text("compensating_control", 300),
    ];

    fn id(&self) -> i64 {
        self.id.0
    }
    fn set_id(&mut self, id: i64) {
        self.id = AssetId(id);
    }
    fn values(&self) -> Vec<String> {
        vec![
            self.tag.clone(),
            self.class.as_str().to_string(),
            self.name.clone(),
            self.location.clone(),
            self.purpose.clone(),
            self.department.clone(),
            id_text(self.vendor_id.map(|v| v.0)),
            month_text(self.installed_on),
            day_text(self.eol_on),
            self.external_connection.clone(),
            self.os.clone(),
            self.ip.clone(),
            self.mac.clone(),
            self.serial.clone(),
            day_text(self.last_patch_on),
            self.status.as_str().to_string(),
            self.disposal_method.clone(),
            day_text(self.disposed_on),
            self.disposal_certificate.clone(),
            self.notes.clone(),
            maybe_flag_text(self.source_restriction),
            self.compensating_control.clone(),
        ]
    }
    fn from_values(v: &Values<'_>) -> Asset {
        Asset {
            id: AssetId(0),
            tag: v.text("tag"),
            class: v.choice("class", AssetClass::parse, AssetClass::Other),
            name: v.text("name"),
            location: v.text("location"),
            purpose: v.text("purpose"),
            department: v.text("department"),
            vendor_id: v.id("vendor").map(VendorId),
            os: v.text("os"),
            ip: v.text("ip"),
            mac: v.text("mac"),
            serial: v.text("serial"),
            installed_on: v.month("installed_on"),
            eol_on: v.date("eol_on"),
            last_patch_on: v.date("last_patch_on"),
            status: v.choice("status", AssetStatus::parse, AssetStatus::Active),
            external_connection: v.text("external_connection"),
            source_restriction: v.maybe_flag("source_restriction"),
            compensating_control: v.text("compensating_control"),
            disposal_method: v.text("disposal_method"),
            disposed_on: v.date("disposed_on"),
            disposal_certificate: v.text("disposal_certificate"),
            notes: v.text("notes"),
        }
    }
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Vec::new();
        if self.status == AssetStatus::Disposed && self.disposed_on.is_none() {
            e.push(FieldError {
                field: "disposed_on",
                code: "LED0006",
            });
        }
        if let (Some(i), Some(eol)) = (self.installed_on, self.eol_on)
            && eol < i
        {
            e.push(FieldError {
                field: "eol_on",
                code: "LED0007",
            });
        }
        e
    }
    fn is_retired(&self, _today: Date) -> bool {
        self.status == AssetStatus::Disposed
    }
    fn retire(&mut self, today: Date) {
        self.status = AssetStatus::Disposed;
        if self.disposed_on.is_none() {
            self.disposed_on = Some(today);
        }
    }
}

/// A field of a ledger record that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field key (`tag`, `ip`, …), also the column key of imports and exports.
    pub field: &'static str,
    /// Stable code; the message catalog has `error.<code>`.
    pub code: &'static str,
}

/// A changed field: (key, before, after).
pub type FieldChange = (&'static str, String, String);

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

/// A file hash that is given but is not 64 hex digits.
fn sha256_error(sha256: &str) -> Option<FieldError> {
    let hex64 = sha256.len() == 64 && sha256.chars().all(|c| c.is_ascii_hexdigit());
    (!sha256.is_empty() && !hex64).then_some(FieldError {
        field: "sha256",
        code: "LED0020",
    })
}

fn ended_before(start: Option<Date>, end: Option<Date>, field: &'static str) -> Option<FieldError> {
    match (start, end) {
        (Some(s), Some(e)) if e < s => Some(FieldError {
            field,
            code: "LED0007",
        }),
        _ => None,
    }
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
    pub notes: String,
}

impl Person {
    /// Whether the person has left by `today`.
    pub fn has_left(&self, today: Date) -> bool {
        self.left_on.is_some_and(|d| d <= today)
    }
}

impl Record for Person {
    const KIND: RegistryKind = RegistryKind::Person;
    const KEY: &'static [&'static str] = &["staff_no"];
    const TITLE: &'static str = "name";
    #[rustfmt::skip]
    const FIELDS: &'static [Field] = &[
        Field::text("staff_no", 32).req().list().search(),
        Field::text("name", 100).req().list().search(),
        Field::text("name_kana", 100).search(),
        Field::choice("job", JobType::CODES, "job_type").req().list().facet(),
        Field::text("department", 100).list().facet().search(),
        Field::new("joined_on", FieldKind::Date).list(),
        Field::new("left_on", FieldKind::Date).list(),
        Field::new("notes", FieldKind::Note),
    ];

    fn id(&self) -> i64 {
        self.id.0
    }
    fn set_id(&mut self, id: i64) {
        self.id = PersonId(id);
    }
    fn values(&self) -> Vec<String> {
        vec![
            self.staff_no.clone(),
            self.name.clone(),
            self.name_kana.clone(),
            self.job.as_str().to_string(),
            self.department.clone(),
            day_text(self.joined_on),
            day_text(self.left_on),
            self.notes.clone(),
        ]
    }
    fn from_values(v: &Values<'_>) -> Person {
        Person {
            id: PersonId(0),
            staff_no: v.text("staff_no"),
            name: v.text("name"),
            name_kana: v.text("name_kana"),
            job: v.choice("job", JobType::parse, JobType::Other),
            department: v.text("department"),
            joined_on: v.date("joined_on"),
            left_on: v.date("left_on"),
            notes: v.text("notes"),
        }
    }
    fn validate(&self) -> Vec<FieldError> {
        ended_before(self.joined_on, self.left_on, "left_on")
            .into_iter()
            .collect()
    }
    fn is_retired(&self, today: Date) -> bool {
        self.has_left(today)
    }
    fn retire(&mut self, today: Date) {
        if !self.has_left(today) {
            self.left_on = Some(today);
        }
    }
}

/// A system's own password rules, as configured in it (2-⑦).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PasswordPolicy {
    pub min_length: Option<i64>,
    /// Requires several kinds of characters.
    pub complexity: Option<bool>,
    pub max_age_days: Option<i64>,
    pub history: Option<i64>,
    /// Failed attempts before the account locks.
    pub lockout_attempts: Option<i64>,
}

/// The duties of the responsibility split, in the order of the form.
pub const DUTIES: [&str; 6] = [
    "resp_os_patch",
    "resp_access",
    "resp_backup",
    "resp_logs",
    "resp_network",
    "resp_incident",
];

/// Who usually does each duty of [`DUTIES`] under a delivery model (the default the form offers;
/// the facility edits it to match the contract).
pub fn default_responsibility(model: DeliveryModel) -> [Responsibility; 6] {
    use Responsibility::{Facility as F, Shared as S, Vendor as V};
    match model {
        DeliveryModel::OnPremises => [S, F, F, F, F, S],
        DeliveryModel::Iaas => [F, F, S, F, S, S],
        DeliveryModel::Paas => [V, F, S, S, V, S],
        DeliveryModel::Saas => [V, F, V, V, V, S],
    }
}

/// An information system (電子カルテ, レセコン, PACS, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoSystem {
    pub id: SystemId,
    pub name: String,
    pub category: SystemCategory,
    pub vendor_id: Option<VendorId>,
    pub delivery: DeliveryModel,
    /// The devices it runs on.
    pub asset_ids: Vec<AssetId>,
    pub status: SystemStatus,
    pub two_factor: TwoFactor,
    /// When two-factor authentication is planned to be in place.
    pub two_factor_plan_on: Option<Date>,
    /// Whether it records access logs.
    pub access_log: Option<bool>,
    /// Whether it will still be in use in FY2027 (令和9年度), for 2-⑩.
    pub in_use_r9: Option<bool>,
    pub password: PasswordPolicy,
    /// Who does each duty of [`DUTIES`].
    pub responsibility: [Responsibility; 6],
    pub notes: String,
}

impl InfoSystem {
    /// A new system of `category` with the defaults of `delivery`.
    pub fn blank(category: SystemCategory, delivery: DeliveryModel) -> InfoSystem {
        InfoSystem {
            id: SystemId(0),
            name: String::new(),
            category,
            vendor_id: None,
            delivery,
            asset_ids: Vec::new(),
            status: SystemStatus::Active,
            two_factor: TwoFactor::None,
            two_factor_plan_on: None,
            access_log: None,
            in_use_r9: None,
            password: PasswordPolicy::default(),
            responsibility: default_responsibility(delivery),
            notes: String::new(),
        }
    }
}

fn opt_int(i: Option<i64>) -> String {
    i.map(|i| i.to_string()).unwrap_or_default()
}

impl Record for InfoSystem {
    const KIND: RegistryKind = RegistryKind::System;
    const KEY: &'static [&'static str] = &["name"];
    const TITLE: &'static str = "name";
    #[rustfmt::skip]
    const FIELDS: &'static [Field] = &[
        Field::text("name", 100).req().list().search(),
        Field::choice("category", SystemCategory::CODES, "system_category").req().list().facet(),
        Field::reference("vendor", "vendor_id", RegistryKind::Vendor).list(),
        Field::choice("delivery", DeliveryModel::CODES, "delivery").req().list().facet(),
        Field { column: "asset_ids", ..Field::new("assets", FieldKind::Refs(RegistryKind::Asset)) },
        Field::choice("status", SystemStatus::CODES, "system_status").list().facet(),
        Field { column: "two_factor_status", ..Field::choice("two_factor", TwoFactor::CODES, "two_factor_status").list().facet() },
        Field::new("two_factor_plan_on", FieldKind::Date).list(),
        Field::new("access_log", FieldKind::MaybeFlag).list(),
        Field::new("in_use_r9", FieldKind::MaybeFlag),
        Field::new("pw_min_length", FieldKind::Int(0, 256)),
        Field::new("pw_complexity", FieldKind::MaybeFlag),
        Field::new("pw_max_age_days", FieldKind::Int(0, 3650)),
        Field::new("pw_history", FieldKind::Int(0, 100)),
        Field::new("pw_lockout", FieldKind::Int(0, 100)),
        Field::choice("resp_os_patch", Responsibility::CODES, "responsibility"),
        Field::choice("resp_access", Responsibility::CODES, "responsibility"),
        Field::choice("resp_backup", Responsibility::CODES, "responsibility"),
        Field::choice("resp_logs", Responsibility::CODES, "responsibility"),
        Field::choice("resp_network", Responsibility::CODES, "responsibility"),
        Field::choice("resp_incident", Responsibility::CODES, "responsibility"),
        Field::new("notes", FieldKind::Note),
    ];

    fn id(&self) -> i64 {
        self.id.0
    }
    fn set_id(&mut self, id: i64) {
        self.id = SystemId(id);
    }
    fn values(&self) -> Vec<String> {
        let mut v = vec![
            self.name.clone(),
            self.category.as_str().to_string(),
            id_text(self.vendor_id.map(|v| v.0)),
            self.delivery.as_str().to_string(),
            ids_text(&self.asset_ids.iter().map(|a| a.0).collect::<Vec<_>>()),
            self.status.as_str().to_string(),
            self.two_factor.as_str().to_string(),
            day_text(self.two_factor_plan_on),
            maybe_flag_text(self.access_log),
            maybe_flag_text(self.in_use_r9),
            opt_int(self.password.min_length),
            maybe_flag_text(self.password.complexity),
            opt_int(self.password.max_age_days),
            opt_int(self.password.history),
            opt_int(self.password.lockout_attempts),
        ];
        v.extend(self.responsibility.iter().map(|r| r.as_str().to_string()));
        v.push(self.notes.clone());
        v
    }
    fn from_values(v: &Values<'_>) -> InfoSystem {
        let delivery = v.choice("delivery", DeliveryModel::parse, DeliveryModel::OnPremises);
        let defaults = default_responsibility(delivery);
        let mut responsibility = defaults;
        for ((slot, key), d) in responsibility.iter_mut().zip(DUTIES).zip(defaults) {
            *slot = v.choice(key, Responsibility::parse, d);
        }
        InfoSystem {
            id: SystemId(0),
            name: v.text("name"),
            category: v.choice("category", SystemCategory::parse, SystemCategory::Other),
            vendor_id: v.id("vendor").map(VendorId),
            delivery,
            asset_ids: v.ids("assets").into_iter().map(AssetId).collect(),
            status: v.choice("status", SystemStatus::parse, SystemStatus::Active),
            two_factor: v.choice("two_factor", TwoFactor::parse, TwoFactor::None),
            two_factor_plan_on: v.date("two_factor_plan_on"),
            access_log: v.maybe_flag("access_log"),
            in_use_r9: v.maybe_flag("in_use_r9"),
            password: PasswordPolicy {
                min_length: v.int("pw_min_length"),
                complexity: v.maybe_flag("pw_complexity"),
                max_age_days: v.int("pw_max_age_days"),
                history: v.int("pw_history"),
                lockout_attempts: v.int("pw_lockout"),
            },
            responsibility,
            notes: v.text("notes"),
        }
    }
    fn is_retired(&self, _today: Date) -> bool {
        self.status == SystemStatus::Retired
    }
    fn retire(&mut self, _today: Date) {
        self.status = SystemStatus::Retired;
    }
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
    pub created_on: Option<Date>,
    pub disabled_on: Option<Date>,
    /// When the password was last set (the directory's `pwdLastSet`, or entered).
    pub pw_last_set_on: Option<Date>,
    /// The password is exempt from expiry (AD's DONT_EXPIRE_PASSWORD).
    pub pw_never_expires: bool,
    /// Locked out after failed logins, as of the last sync.
    pub locked_out: bool,
    /// Who approved the administrator rights (2-④), and when.
    pub admin_approved_by: Option<PersonId>,
    pub admin_approved_on: Option<Date>,
    pub notes: String,
}

impl Account {
    /// A new enabled personal account with nothing else known.
    pub fn new(system_id: SystemId, login_id: &str) -> Account {
        Account {
            id: AccountId(0),
            system_id,
            login_id: login_id.to_string(),
            person_id: None,
            kind: AccountKind::Personal,
            is_admin: false,
            enabled: true,
            last_login_on: None,
            two_factor: false,
            created_on: None,
            disabled_on: None,
            pw_last_set_on: None,
            pw_never_expires: false,
            locked_out: false,
            admin_approved_by: None,
            admin_approved_on: None,
            notes: String::new(),
        }
    }
}

impl Record for Account {
    const KIND: RegistryKind = RegistryKind::Account;
    const KEY: &'static [&'static str] = &["system", "login_id"];
    const TITLE: &'static str = "login_id";
    #[rustfmt::skip]
    const FIELDS: &'static [Field] = &[
        Field::reference("system", "system_id", RegistryKind::System).req().list().facet(),
        Field::text("login_id", 100).req().list().search(),
        Field::reference("person", "person_id", RegistryKind::Person).list(),
        Field::choice("kind", AccountKind::CODES, "account_kind").req().list().facet(),
        Field::new("is_admin", YES_NO).list().facet(),
        Field::new("enabled", YES_NO).list().facet(),
        Field::new("last_login_on", FieldKind::Date).list(),
        Field::new("two_factor", YES_NO).list(),
        Field::new("created_on", FieldKind::Date),
        Field::new("disabled_on", FieldKind::Date),
        Field::new("pw_last_set_on", FieldKind::Date),
        Field::new("pw_never_expires", YES_NO),
        Field::new("locked_out", YES_NO),
        Field::reference("admin_approved_by", "admin_approved_by", RegistryKind::Person),
        Field::new("admin_approved_on", FieldKind::Date),
        Field::new("notes", FieldKind::Note),
    ];

    fn id(&self) -> i64 {
        self.id.0
    }
    fn set_id(&mut self, id: i64) {
        self.id = AccountId(id);
    }
    fn values(&self) -> Vec<String> {
        vec![
            self.system_id.0.to_string(),
            self.login_id.clone(),
            id_text(self.person_id.map(|p| p.0)),
            self.kind.as_str().to_string(),
            flag_text(self.is_admin),
            flag_text(self.enabled),
            day_text(self.last_login_on),
            flag_text(self.two_factor),
            day_text(self.created_on),
            day_text(self.disabled_on),
            day_text(self.pw_last_set_on),
            flag_text(self.pw_never_expires),
            flag_text(self.locked_out),
            id_text(self.admin_approved_by.map(|p| p.0)),
            day_text(self.admin_approved_on),
            self.notes.clone(),
        ]
    }
    fn from_values(v: &Values<'_>) -> Account {
        Account {
            id: AccountId(0),
            system_id: SystemId(v.id("system").unwrap_or(0)),
            login_id: v.text("login_id"),
            person_id: v.id("person").map(PersonId),
            kind: v.choice("kind", AccountKind::parse, AccountKind::Personal),
            is_admin: v.flag("is_admin"),
            enabled: v.text("enabled") != "0",
            last_login_on: v.date("last_login_on"),
            two_factor: v.flag("two_factor"),
            created_on: v.date("created_on"),
            disabled_on: v.date("disabled_on"),
            pw_last_set_on: v.date("pw_last_set_on"),
            pw_never_expires: v.flag("pw_never_expires"),
            locked_out: v.flag("locked_out"),
            admin_approved_by: v.id("admin_approved_by").map(PersonId),
            admin_approved_on: v.date("admin_approved_on"),
            notes: v.text("notes"),
        }
    }
    fn validate(&self) -> Vec<FieldError> {
        let mut out: Vec<FieldError> =
            ended_before(self.created_on, self.disabled_on, "disabled_on")
                .into_iter()
                .collect();
        // An approval names who approved: a date alone proves nothing.
        if self.admin_approved_on.is_some() && self.admin_approved_by.is_none() {
            out.push(FieldError {
                field: "admin_approved_by",
                code: "LED0035",
            });
        }
        out
    }
    fn is_retired(&self, _today: Date) -> bool {
        !self.enabled
    }
    fn retire(&mut self, today: Date) {
        self.enabled = false;
        if self.disabled_on.is_none() {
            self.disabled_on = Some(today);
        }
    }
}

/// A vendor (事業者).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vendor {
    pub id: VendorId,
    pub name: String,
    pub services: String,
    pub phone: String,
    pub email: String,
    /// 緊急連絡先 (夜間・休日の窓口など).
    pub emergency_contact: String,
    /// Whether the contract includes remote maintenance; `None` when not yet confirmed (2-②).
    pub remote_maintenance: Option<bool>,
    pub contract_start: Option<Date>,
    pub contract_end: Option<Date>,
    pub contract_scope: String,
    pub certifications: Vec<Certification>,
    /// Where it keeps the facility's data (国内, country name …).
    pub data_location: String,
    pub status: VendorStatus,
    pub notes: String,
}

impl Vendor {
    /// A vendor with only a name.
    pub fn named(name: &str) -> Vendor {
        Vendor {
            id: VendorId(0),
            name: name.to_string(),
            services: String::new(),
            phone: String::new(),
            email: String::new(),
            emergency_contact: String::new(),
            remote_maintenance: None,
            contract_start: None,
            contract_end: None,
            contract_scope: String::new(),
            certifications: Vec::new(),
            data_location: String::new(),
            status: VendorStatus::Active,
            notes: String::new(),
        }
    }
}

impl Record for Vendor {
    const KIND: RegistryKind = RegistryKind::Vendor;
    const KEY: &'static [&'static str] = &["name"];
    const TITLE: &'static str = "name";
    #[rustfmt::skip]
    const FIELDS: &'static [Field] = &[
        Field::text("name", 100).req().list().search(),
        Field::text("services", 300).list().search(),
        Field::new("phone", FieldKind::Phone).list(),
        Field::new("email", FieldKind::Email).list(),
        Field::text("emergency_contact", 200),
        Field::new("remote_maintenance", FieldKind::MaybeFlag).list().facet(),
        Field::new("contract_start", FieldKind::Date),
        Field::new("contract_end", FieldKind::Date).list(),
        Field::text("contract_scope", 500),
        Field::tags("certifications", Certification::CODES, "certification").list(),
        Field::text("data_location", 100),
        Field::choice("status", VendorStatus::CODES, "vendor_status").list().facet(),
        Field::new("notes", FieldKind::Note),
    ];

    fn id(&self) -> i64 {
        self.id.0
    }
    fn set_id(&mut self, id: i64) {
        self.id = VendorId(id);
    }
    fn values(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.services.clone(),
            self.phone.clone(),
            self.email.clone(),
            self.emergency_contact.clone(),
            maybe_flag_text(self.remote_maintenance),
            day_text(self.contract_start),
            day_text(self.contract_end),
            self.contract_scope.clone(),
            Certification::ALL
                .iter()
                .filter(|c| self.certifications.contains(c))
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(","),
            self.data_location.clone(),
            self.status.as_str().to_string(),
            self.notes.clone(),
        ]
    }
    fn from_values(v: &Values<'_>) -> Vendor {
        Vendor {
            id: VendorId(0),
            name: v.text("name"),
            services: v.text("services"),
            phone: v.text("phone"),
            email: v.text("email"),
            emergency_contact: v.text("emergency_contact"),
            remote_maintenance: v.maybe_flag("remote_maintenance"),
            contract_start: v.date("contract_start"),
            contract_end: v.date("contract_end"),
            contract_scope: v.text("contract_scope"),
            certifications: v
                .text("certifications")
                .split(',')
                .filter_map(|c| Certification::parse(c.trim()))
                .collect(),
            data_location: v.text("data_location"),
            status: v.choice("status", VendorStatus::parse, VendorStatus::Active),
            notes: v.text("notes"),
        }
    }
    fn validate(&self) -> Vec<FieldError> {
        ended_before(self.contract_start, self.contract_end, "contract_end")
            .into_iter()
            .collect()
    }
    fn is_retired(&self, _today: Date) -> bool {
        self.status == VendorStatus::Ended
    }
    fn retire(&mut self, today: Date) {
        self.status = VendorStatus::Ended;
        if self.contract_end.is_none_or(|d| d > today) {
            self.contract_end = Some(today);
        }
    }
}

/// A person or body to call (連絡先), inside or outside the facility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub id: i64,
    pub role: ContactRole,
    /// 組織・部署 (院内なら部署、院外なら機関名).
    pub organization: String,
    /// 担当者名 (empty for a desk such as a police hotline).
    pub name: String,
    pub phone: String,
    /// 夜間・休日の連絡先.
    pub phone_after_hours: String,
    pub email: String,
    pub vendor_id: Option<VendorId>,
    /// When the number was last confirmed to work.
    pub verified_on: Option<Date>,
    pub active: bool,
    pub notes: String,
}

impl Record for Contact {
    const KIND: RegistryKind = RegistryKind::Contact;
    const KEY: &'static [&'static str] = &["role", "organization", "name"];
    const TITLE: &'static str = "organization";
    #[rustfmt::skip]
    const FIELDS: &'static [Field] = &[
        Field::choice("role", ContactRole::CODES, "contact_role").req().list().facet(),
        Field::text("organization", 100).req().list().search(),
        Field::text("name", 100).list().search(),
        Field::new("phone", FieldKind::Phone).list(),
        Field::new("phone_after_hours", FieldKind::Phone).list(),
        Field::new("email", FieldKind::Email).list(),
        Field::reference("vendor", "vendor_id", RegistryKind::Vendor),
        Field::new("verified_on", FieldKind::Date).list(),
        Field::new("active", YES_NO).facet(),
        Field::new("notes", FieldKind::Note),
    ];

    fn id(&self) -> i64 {
        self.id
    }
    fn set_id(&mut self, id: i64) {
        self.id = id;
    }
    fn values(&self) -> Vec<String> {
        vec![
            self.role.as_str().to_string(),
            self.organization.clone(),
            self.name.clone(),
            self.phone.clone(),
            self.phone_after_hours.clone(),
            self.email.clone(),
            id_text(self.vendor_id.map(|v| v.0)),
            day_text(self.verified_on),
            flag_text(self.active),
            self.notes.clone(),
        ]
    }
    fn from_values(v: &Values<'_>) -> Contact {
        Contact {
            id: 0,
            role: v.choice("role", ContactRole::parse, ContactRole::Other),
            organization: v.text("organization"),
            name: v.text("name"),
            phone: v.text("phone"),
            phone_after_hours: v.text("phone_after_hours"),
            email: v.text("email"),
            vendor_id: v.id("vendor").map(VendorId),
            verified_on: v.date("verified_on"),
            active: v.text("active") != "0",
            notes: v.text("notes"),
        }
    }
    fn validate(&self) -> Vec<FieldError> {
        if self.phone.is_empty() && self.email.is_empty() && self.phone_after_hours.is_empty() {
            vec![FieldError {
                field: "phone",
                code: "LED0019",
            }]
        } else {
            Vec::new()
        }
    }
    fn is_retired(&self, _today: Date) -> bool {
        !self.active
    }
    fn retire(&mut self, _today: Date) {
        self.active = false;
    }
}

/// A way a vendor connects in for remote maintenance (リモート保守の接続点).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePoint {
    pub id: i64,
    /// 接続点の名前 (unique).
    pub name: String,
    pub vendor_id: Option<VendorId>,
    pub system_id: Option<SystemId>,
    /// The device the vendor connects to or through.
    pub asset_id: Option<AssetId>,
    pub route: RemoteRoute,
    /// Where connections may come from (addresses, the vendor's centre …).
    pub allowed_source: String,
    /// Who approves a maintenance session, and how.
    pub approver: String,
    /// Whether sessions are recorded (作業記録).
    pub session_log: Option<bool>,
    pub active: bool,
    pub notes: String,
}

impl Record for RemotePoint {
    const KIND: RegistryKind = RegistryKind::RemotePoint;
    const KEY: &'static [&'static str] = &["name"];
    const TITLE: &'static str = "name";
    #[rustfmt::skip]
    const FIELDS: &'static [Field] = &[
        Field::text("name", 100).req().list().search(),
        Field::reference("vendor", "vendor_id", RegistryKind::Vendor).req().list().facet(),
        Field::reference("system", "system_id", RegistryKind::System).list(),
        Field::reference("asset", "asset_id", RegistryKind::Asset).list(),
        Field::choice("route", RemoteRoute::CODES, "remote_route").req().list().facet(),
        Field::text("allowed_source", 200).list().search(),
        Field::text("approver", 100).list(),
        Field::new("session_log", FieldKind::MaybeFlag).list(),
        Field::new("active", YES_NO).facet(),
        Field::new("notes", FieldKind::Note),
    ];

    fn id(&self) -> i64 {
        self.id
    }
    fn set_id(&mut self, id: i64) {
        self.id = id;
    }
    fn values(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            id_text(self.vendor_id.map(|v| v.0)),
            id_text(self.system_id.map(|v| v.0)),
            id_text(self.asset_id.map(|v| v.0)),
            self.route.as_str().to_string(),
            self.allowed_source.clone(),
            self.approver.clone(),
            maybe_flag_text(self.session_log),
            flag_text(self.active),
            self.notes.clone(),
        ]
    }
    fn from_values(v: &Values<'_>) -> RemotePoint {
        RemotePoint {
            id: 0,
            name: v.text("name"),
            vendor_id: v.id("vendor").map(VendorId),
            system_id: v.id("system").map(SystemId),
            asset_id: v.id("asset").map(AssetId),
            route: v.choice("route", RemoteRoute::parse, RemoteRoute::Other),
            allowed_source: v.text("allowed_source"),
            approver: v.text("approver"),
            session_log: v.maybe_flag("session_log"),
            active: v.text("active") != "0",
            notes: v.text("notes"),
        }
    }
    fn is_retired(&self, _today: Date) -> bool {
        !self.active
    }
    fn retire(&mut self, _today: Date) {
        self.active = false;
    }
}

/// A document a vendor handed over: MDS/SDS, contract, SLA … with the hash of its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorDocument {
    pub id: i64,
    pub vendor_id: Option<VendorId>,
    pub doc_type: DocumentType,
    pub title: String,
    pub version: String,
    pub received_on: Option<Date>,
    pub file_name: String,
    /// SHA-256 of the file, lowercase hex.
    pub sha256: String,
    /// The version in force (older versions are kept, not current).
    pub current: bool,
    pub notes: String,
}

impl Record for VendorDocument {
    const KIND: RegistryKind = RegistryKind::VendorDocument;
    const KEY: &'static [&'static str] = &["vendor", "doc_type", "title", "version"];
    const TITLE: &'static str = "title";
    #[rustfmt::skip]
    const FIELDS: &'static [Field] = &[
        Field::reference("vendor", "vendor_id", RegistryKind::Vendor).req().list().facet(),
        Field::choice("doc_type", DocumentType::CODES, "document_type").req().list().facet(),
        Field::text("title", 200).req().list().search(),
        Field::text("version", 50).list(),
        Field::new("received_on", FieldKind::Date).list(),
        Field::text("file_name", 200).list(),
        Field::text("sha256", 64),
        Field::new("current", YES_NO).list().facet(),
        Field::new("notes", FieldKind::Note),
    ];

    fn id(&self) -> i64 {
        self.id
    }
    fn set_id(&mut self, id: i64) {
        self.id = id;
    }
    fn values(&self) -> Vec<String> {
        vec![
            id_text(self.vendor_id.map(|v| v.0)),
            self.doc_type.as_str().to_string(),
            self.title.clone(),
            self.version.clone(),
            day_text(self.received_on),
            self.file_name.clone(),
            self.sha256.clone(),
            flag_text(self.current),
            self.notes.clone(),
        ]
    }
    fn from_values(v: &Values<'_>) -> VendorDocument {
        VendorDocument {
            id: 0,
            vendor_id: v.id("vendor").map(VendorId),
            doc_type: v.choice("doc_type", DocumentType::parse, DocumentType::Other),
            title: v.text("title"),
            version: v.text("version"),
            received_on: v.date("received_on"),
            file_name: v.text("file_name"),
            sha256: v.text("sha256").to_ascii_lowercase(),
            current: v.text("current") != "0",
            notes: v.text("notes"),
        }
    }
    fn validate(&self) -> Vec<FieldError> {
        sha256_error(&self.sha256).into_iter().collect()
    }
    fn is_retired(&self, _today: Date) -> bool {
        !self.current
    }
    fn retire(&mut self, _today: Date) {
        self.current = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{build, changes, creation, key_of};

    fn asset_values(a: &Asset) -> Vec<String> {
        a.values()
    }

    #[test]
    fn changes_list_only_what_differs() {
        let mut a = Asset::blank(AssetClass::Server);
        a.tag = "A-1".into();
        let mut b = a.clone();
        b.location = "サーバ室".into();
        b.eol_on = Date::from_calendar_date(2029, time::Month::January, 9).ok();
        assert_eq!(
            changes(&a, &b),
            vec![
                ("location", String::new(), "サーバ室".to_string()),
                ("eol_on", String::new(), "2029-01-09".to_string())
            ]
        );
        assert!(changes(&a, &a).is_empty());
        assert!(
            creation(&a)
                .iter()
                .any(|(k, _, v)| *k == "tag" && v == "A-1")
        );
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

    fn codes<R: Record>(values: Vec<String>) -> Vec<(&'static str, &'static str)> {
        match build::<R>(0, &values) {
            Ok(_) => Vec::new(),
            Err(e) => e.iter().map(|e| (e.field, e.code)).collect(),
        }
    }

    #[test]
    fn asset_validation_names_fields() {
        let mut a = Asset::blank(AssetClass::Workstation);
        assert_eq!(
            codes::<Asset>(asset_values(&a)),
            vec![("tag", "LED0003"), ("name", "LED0003")]
        );
        a.tag = "A-0001".into();
        a.name = "PC-受付-01".into();
        assert!(codes::<Asset>(asset_values(&a)).is_empty());
        a.ip = "192.168.1.999".into();
        a.status = AssetStatus::Disposed;
        assert_eq!(
            codes::<Asset>(asset_values(&a)),
            vec![("ip", "LED0004"), ("disposed_on", "LED0006")]
        );
    }

    /// Every record survives values → build → values unchanged, for every registry.
    #[test]
    fn records_round_trip_through_values() {
        fn round<R: Record + PartialEq>(r: R) {
            let v = r.values();
            assert_eq!(v.len(), R::FIELDS.len(), "{:?}", R::KIND);
            let back = build::<R>(r.id(), &v).unwrap_or_else(|e| panic!("{:?}: {e:?}", R::KIND));
            assert_eq!(back, r);
            assert!(!key_of(&r).is_empty());
        }
        let d =
            |y, m, day| Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), day).ok();
        let mut a = Asset::blank(AssetClass::Server);
        a.id = AssetId(4);
        a.tag = "SV-01".into();
        a.name = "電子カルテサーバ".into();
        a.installed_on = d(2021, 4, 1);
        a.vendor_id = Some(VendorId(2));
        round(a);
        let mut s = InfoSystem::blank(SystemCategory::Ehr, DeliveryModel::Saas);
        s.id = SystemId(3);
        s.name = "電子カルテ".into();
        s.asset_ids = vec![AssetId(1), AssetId(7)];
        s.password.min_length = Some(8);
        s.access_log = Some(true);
        round(s);
        round(Person {
            id: PersonId(9),
            staff_no: "S-001".into(),
            name: "山田 花子".into(),
            name_kana: "ヤマダ ハナコ".into(),
            job: JobType::Nurse,
            department: "外来".into(),
            joined_on: d(2020, 4, 1),
            left_on: None,
            notes: String::new(),
        });
        round(Account {
            id: AccountId(1),
            system_id: SystemId(3),
            login_id: "yamada".into(),
            person_id: Some(PersonId(9)),
            kind: AccountKind::Personal,
            is_admin: true,
            enabled: true,
            last_login_on: d(2025, 9, 30),
            two_factor: false,
            created_on: None,
            disabled_on: None,
            pw_last_set_on: d(2025, 4, 1),
            pw_never_expires: true,
            locked_out: false,
            admin_approved_by: Some(PersonId(9)),
            admin_approved_on: d(2025, 4, 2),
            notes: String::new(),
        });
        let mut v = Vendor::named("株式会社メディネクスト");
        v.id = VendorId(2);
        v.certifications = vec![Certification::Isms, Certification::PrivacyMark];
        v.remote_maintenance = Some(true);
        round(v);
        round(Contact {
            id: 5,
            role: ContactRole::Police,
            organization: "県警察本部 サイバー犯罪相談窓口".into(),
            name: String::new(),
            phone: "#9110".into(),
            phone_after_hours: String::new(),
            email: String::new(),
            vendor_id: None,
            verified_on: d(2025, 4, 1),
            active: true,
            notes: String::new(),
        });
        round(RemotePoint {
            id: 2,
            name: "電子カルテ保守VPN".into(),
            vendor_id: Some(VendorId(2)),
            system_id: Some(SystemId(3)),
            asset_id: Some(AssetId(7)),
            route: RemoteRoute::IpVpn,
            allowed_source: "203.0.113.10".into(),
            approver: "事務長".into(),
            session_log: Some(true),
            active: true,
            notes: String::new(),
        });
        round(VendorDocument {
            id: 1,
            vendor_id: Some(VendorId(2)),
            doc_type: DocumentType::Mds,
            title: "電子カルテ MDS".into(),
            version: "2.1".into(),
            received_on: d(2025, 5, 1),
            file_name: "mds.pdf".into(),
            sha256: "ab".repeat(32),
            current: true,
            notes: String::new(),
        });
    }

    #[test]
    fn retire_and_cross_field_rules() {
        let today = Date::from_calendar_date(2025, time::Month::October, 1).unwrap();
        let mut a = Asset::blank(AssetClass::RemovableMedia);
        a.retire(today);
        assert!(a.is_retired(today));
        assert_eq!(a.disposed_on, Some(today));
        let mut v = Vendor::named("x");
        v.contract_start = Date::from_calendar_date(2026, time::Month::April, 1).ok();
        v.contract_end = Date::from_calendar_date(2025, time::Month::March, 31).ok();
        assert_eq!(v.validate()[0].code, "LED0007");
        assert_eq!(
            default_responsibility(DeliveryModel::Saas)[0],
            Responsibility::Vendor
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
        assert_eq!(ContactRole::CODES.len(), ContactRole::ALL.len());
    }
}

code_enum!(
    /// Kinds of the facility's own documents and records (規程・計画・記録).
    DocKind {
        /// 運用管理規程
        OperatingRules => "operating_rules",
        /// 安全管理責任者の任命
        OfficerAppointment => "officer_appointment",
        /// アクセス権限表（職種・業務別）
        AccessMatrix => "access_matrix",
        /// 外部記録媒体の取扱い（接続制限）
        MediaPolicy => "media_policy",
        /// 不要なソフトウェア・サービスの停止基準と確認記録
        ServiceBaseline => "service_baseline",
        /// ネットワーク構成図
        NetworkDiagram => "network_diagram",
        /// バックアップ・復旧手順
        BackupProcedure => "backup_procedure",
        /// 復旧テストの記録
        RestoreTest => "restore_test",
        /// サイバー攻撃を想定したBCP
        CyberBcp => "cyber_bcp",
        /// BCP訓練の記録
        BcpDrill => "bcp_drill",
        /// アクセスログ確認の記録
        LogReview => "log_review",
        /// 研修の記録
        Training => "training",
        Other => "other",
    }
);

impl DocKind {
    /// Records of something done on a date (a drill, a test, a review), as opposed to rules and
    /// plans that stay in force until replaced.
    pub fn is_record(self) -> bool {
        matches!(
            self,
            DocKind::RestoreTest | DocKind::BcpDrill | DocKind::LogReview | DocKind::Training
        )
    }
}

/// A document or record of the facility itself: rules, plans, procedures, and the records of
/// drills, restore tests and log reviews that the checklist asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacilityDocument {
    pub id: i64,
    pub kind: DocKind,
    pub title: String,
    pub version: String,
    /// 制定日 for rules and plans, 実施日 for records.
    pub dated_on: Option<Date>,
    pub next_review_on: Option<Date>,
    /// Stable keys of the checklist items it covers (`rules.operating_rules` lists what the
    /// operating rules set out).
    pub topics: Vec<&'static str>,
    /// Device classes it applies to (service baselines, media rules); empty means all.
    pub asset_classes: Vec<AssetClass>,
    /// Systems it applies to (access matrices, backup procedures); empty means all.
    pub system_ids: Vec<SystemId>,
    pub approver: String,
    pub file_name: String,
    pub sha256: String,
    pub current: bool,
    pub notes: String,
}

impl FacilityDocument {
    /// An empty current document of `kind`, to be filled in.
    pub fn blank(kind: DocKind) -> FacilityDocument {
        FacilityDocument {
            id: 0,
            kind,
            title: String::new(),
            version: String::new(),
            dated_on: None,
            next_review_on: None,
            topics: Vec::new(),
            asset_classes: Vec::new(),
            system_ids: Vec::new(),
            approver: String::new(),
            file_name: String::new(),
            sha256: String::new(),
            current: true,
            notes: String::new(),
        }
    }

    /// Whether it applies to devices of `class` (no classes listed: all).
    pub fn applies_to_class(&self, class: AssetClass) -> bool {
        self.asset_classes.is_empty() || self.asset_classes.contains(&class)
    }

    /// Whether it applies to system `id` (no systems listed: all).
    pub fn applies_to_system(&self, id: SystemId) -> bool {
        self.system_ids.is_empty() || self.system_ids.contains(&id)
    }
}

impl Record for FacilityDocument {
    const KIND: RegistryKind = RegistryKind::Document;
    const KEY: &'static [&'static str] = &["doc_type", "title", "dated_on"];
    const TITLE: &'static str = "title";
    #[rustfmt::skip]
    const FIELDS: &'static [Field] = &[
        Field::choice("doc_type", DocKind::CODES, "doc_kind").req().list().facet(),
        Field::text("title", 200).req().list().search(),
        Field::text("version", 50).list(),
        Field::new("dated_on", FieldKind::Date).req().list(),
        Field::new("next_review_on", FieldKind::Date).list(),
        Field::tags("topics", crate::checklist::TOPICS, "checklist_topic"),
        Field::tags("asset_classes", AssetClass::CODES, "asset_class"),
        Field { column: "system_ids", ..Field::new("systems", FieldKind::Refs(RegistryKind::System)) },
        Field::text("approver", 100).list().search(),
        Field::text("file_name", 200),
        Field::text("sha256", 64),
        Field::new("current", YES_NO).list().facet(),
        Field::new("notes", FieldKind::Note),
    ];

    fn id(&self) -> i64 {
        self.id
    }
    fn set_id(&mut self, id: i64) {
        self.id = id;
    }
    fn values(&self) -> Vec<String> {
        vec![
            self.kind.as_str().to_string(),
            self.title.clone(),
            self.version.clone(),
            day_text(self.dated_on),
            day_text(self.next_review_on),
            crate::checklist::TOPICS
                .iter()
                .filter(|t| self.topics.contains(t))
                .copied()
                .collect::<Vec<_>>()
                .join(","),
            AssetClass::ALL
                .iter()
                .filter(|c| self.asset_classes.contains(c))
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(","),
            ids_text(&self.system_ids.iter().map(|s| s.0).collect::<Vec<_>>()),
            self.approver.clone(),
            self.file_name.clone(),
            self.sha256.clone(),
            flag_text(self.current),
            self.notes.clone(),
        ]
    }
    fn from_values(v: &Values<'_>) -> FacilityDocument {
        let topics = v.text("topics");
        FacilityDocument {
            id: 0,
            kind: v.choice("doc_type", DocKind::parse, DocKind::Other),
            title: v.text("title"),
            version: v.text("version"),
            dated_on: v.date("dated_on"),
            next_review_on: v.date("next_review_on"),
            topics: crate::checklist::TOPICS
                .iter()
                .filter(|t| topics.split(',').any(|x| x.trim() == **t))
                .copied()
                .collect(),
            asset_classes: v
                .text("asset_classes")
                .split(',')
                .filter_map(|c| AssetClass::parse(c.trim()))
                .collect(),
            system_ids: v.ids("systems").into_iter().map(SystemId).collect(),
            approver: v.text("approver"),
            file_name: v.text("file_name"),
            sha256: v.text("sha256").to_ascii_lowercase(),
            current: v.text("current") != "0",
            notes: v.text("notes"),
        }
    }
    fn validate(&self) -> Vec<FieldError> {
        let mut e: Vec<FieldError> = sha256_error(&self.sha256).into_iter().collect();
        e.extend(ended_before(
            self.dated_on,
            self.next_review_on,
            "next_review_on",
        ));
        e
    }
    fn is_retired(&self, _today: Date) -> bool {
        !self.current
    }
    fn retire(&mut self, _today: Date) {
        self.current = false;
    }
}
