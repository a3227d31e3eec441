//! Sample facility for `mamori demo`: a realistic 19-bed clinic, generated deterministically.
//!
//! Everything here is pure: the date of "today" and a seed come in, the ledger comes out. The
//! same `(today, seed)` always gives the same facility, on every platform, because the random
//! numbers come from a small self-contained SplitMix64 generator rather than from `rand`.
//!
//! The structure of the clinic (who works where, which PCs stand in which room, which accounts
//! exist) is fixed so that the demo always tells the same story; the seed varies names, dates,
//! serial numbers and login habits. The story an inspector should find:
//! - four of the five staff who left still have enabled accounts (the fifth was handled properly);
//! - a few Windows 10 PCs past their end of support, some PCs not patched for months;
//! - a shared reception account, vendor maintenance accounts with administrator rights, a
//!   break-glass account, dormant and never-used accounts;
//! - one vendor whose remote-maintenance terms are not yet confirmed;
//! - for the checklist: operating rules that leave two items uncovered, a BCP whose last drill is
//!   more than a year old, a restore test about to turn a year old, no service baseline for PCs,
//!   no MDS/SDS from two vendors, a remote-maintenance access point without an allowed source,
//!   and a network device whose source restriction is not recorded.

use mamori_domain::ledger::{
    Account, AccountKind, Asset, AssetClass, AssetStatus, Certification, Contact, ContactRole,
    DeliveryModel, DocKind, DocumentType, FacilityDocument, InfoSystem, JobType, PasswordPolicy,
    Person, RemotePoint, RemoteRoute, SystemCategory, TwoFactor, Vendor, VendorDocument,
};
use mamori_domain::{AccountId, AssetId, PersonId, SystemId, VendorId};
use std::collections::HashSet;
use time::macros::date;
use time::{Date, Duration};

/// A complete sample facility: the ledger of a 19-bed clinic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoFacility {
    pub facility_name: String,
    pub beds: i64,
    pub vendors: Vec<Vendor>,
    pub systems: Vec<InfoSystem>,
    pub persons: Vec<Person>,
    pub assets: Vec<Asset>,
    pub accounts: Vec<Account>,
    pub contacts: Vec<Contact>,
    pub remote_points: Vec<RemotePoint>,
    pub vendor_documents: Vec<VendorDocument>,
    pub documents: Vec<FacilityDocument>,
    /// Days before `today` the device ledger was last reviewed (棚卸).
    pub asset_review_days_ago: i64,
}

/// Generates the sample clinic as of `today`; the same `(today, seed)` gives the same output.
pub fn demo_facility(today: Date, seed: u64) -> DemoFacility {
    let mut rng = SplitMix64::new(seed);
    let vendors = vendors();
    let systems = systems();
    let drafts = staff_drafts(today, &mut rng);
    let persons = persons(&drafts);
    let mut assets = assets(today, &mut rng);
    checklist_details(&mut assets, today);
    let accounts = accounts(today, &drafts, &persons, &mut rng);
    DemoFacility {
        facility_name: "医療法人社団 さくら会 さくら内科クリニック".to_owned(),
        beds: 19,
        contacts: contacts(today, &persons, &vendors),
        remote_points: remote_points(),
        vendor_documents: vendor_documents(today),
        documents: documents(today),
        asset_review_days_ago: 200,
        vendors,
        systems,
        persons,
        assets,
        accounts,
    }
}

// ---------------------------------------------------------------------------------------------
// Random numbers and dates

/// SplitMix64 (Steele, Lea & Flood 2014): tiny, fast, and fully specified here, so the demo does
/// not change when a dependency changes its algorithm.
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed ^ 0x6D61_6D6F_7269_2D64) // "mamori-d"
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0); the modulo bias is irrelevant for sample data.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = hi.abs_diff(lo).saturating_add(1);
        lo.saturating_add_unsigned(self.below(span))
    }

    /// `true` with probability `pct` percent.
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }

    fn pick<T: Copy>(&mut self, items: &[T], fallback: T) -> T {
        let len = u64::try_from(items.len()).unwrap_or(0);
        let i = usize::try_from(self.below(len)).unwrap_or(0);
        items.get(i).copied().unwrap_or(fallback)
    }

    /// A serial number: `prefix` followed by `len` characters from digits and capital letters.
    fn serial(&mut self, prefix: &str, len: usize) -> String {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
        let mut s = String::from(prefix);
        for _ in 0..len {
            s.push(char::from(self.pick(ALPHABET, b'0')));
        }
        s
    }
}

fn days_ago(today: Date, days: i64) -> Date {
    today.checked_sub(Duration::days(days)).unwrap_or(today)
}

fn days_after(today: Date, days: i64) -> Date {
    today.checked_add(Duration::days(days)).unwrap_or(today)
}

/// End of support of Windows 10 (22H2).
const WINDOWS10_EOL: Date = date!(2025 - 10 - 14);
/// End of extended support of Windows Server 2016.
const SERVER2016_EOL: Date = date!(2027 - 01 - 12);
/// End of extended support of Windows Server 2019 and Windows 10 IoT Enterprise LTSC 2019.
const SERVER2019_EOL: Date = date!(2029 - 01 - 09);

// ---------------------------------------------------------------------------------------------
// Vendors and systems

const V_EHR: i64 = 1;
const V_RECEIPT: i64 = 2;
const V_PACS: i64 = 3;
const V_NETWORK: i64 = 4;
const V_LINE: i64 = 5;
const V_LAB: i64 = 6;

/// name, services, phone, email, remote maintenance.
type VendorRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<bool>,
);

const VENDORS: [VendorRow; 6] = [
    (
        "株式会社メディネクスト",
        "電子カルテシステムの提供・保守（リモート保守含む）",
        "03-5214-7730",
        "support@medinext.example.jp",
        Some(true),
    ),
    (
        "株式会社レセプトワン",
        "レセプトコンピュータの提供・保守、診療報酬改定対応",
        "06-6345-2281",
        "helpdesk@receipt-one.example.jp",
        Some(true),
    ),
    (
        "株式会社イメージリンク医療システム",
        "PACS（医用画像管理システム）・CR装置の提供・保守",
        "03-6892-4410",
        "service@imagelink.example.jp",
        Some(true),
    ),
    (
        "株式会社あおばネットワークサービス",
        "院内ネットワーク・端末PCの導入保守、UTM・VPNルータの管理",
        "04-7165-3302",
        "hoshu@aoba-net.example.jp",
        None,
    ),
    (
        "株式会社ヘルスネットコネクト",
        "オンライン資格確認用回線（IP-VPN）・資格確認端末の提供",
        "03-4577-0915",
        "oqs-support@healthnet-connect.example.jp",
        Some(false),
    ),
    (
        "株式会社ラボテック",
        "臨床検査システム・検査機器（心電計、生化学分析装置）の提供・保守",
        "06-6205-8847",
        "lab-support@labotech.example.jp",
        Some(true),
    ),
];

fn vendors() -> Vec<Vendor> {
    VENDORS
        .iter()
        .zip(1..)
        .map(|(&(name, services, phone, email, remote), id)| Vendor {
            id: VendorId(id),
            services: services.to_owned(),
            phone: phone.to_owned(),
            email: email.to_owned(),
            remote_maintenance: remote,
            contract_start: Some(date!(2021 - 04 - 01)),
            contract_end: Some(date!(2027 - 03 - 31)),
            contract_scope: services.to_owned(),
            certifications: match id {
                1 => vec![Certification::Isms, Certification::PrivacyMark],
                2 | 6 => vec![Certification::PrivacyMark],
                3 => vec![Certification::Isms],
                _ => Vec::new(),
            },
            data_location: "国内".to_owned(),
            ..Vendor::named(name)
        })
        .collect()
}

const S_EHR: i64 = 1;
const S_RECEIPT: i64 = 2;
const S_PACS: i64 = 3;
const S_ONLINE: i64 = 4;
const S_LAB: i64 = 5;
const S_GROUPWARE: i64 = 6;

struct SystemRow {
    name: &'static str,
    category: SystemCategory,
    vendor: i64,
    delivery: DeliveryModel,
    two_factor: TwoFactor,
    /// When two-factor authentication is to be in place.
    two_factor_plan: Option<Date>,
    /// Still in use in FY2027 (令和9年度).
    in_use_r9: Option<bool>,
    access_log: Option<bool>,
    /// min length, complexity, max age (days; 0 = never), lockout attempts.
    password: (Option<i64>, Option<bool>, Option<i64>, Option<i64>),
    /// Login id of the vendor's maintenance account.
    maintenance_login: &'static str,
}

const SYSTEMS: [SystemRow; 6] = [
    SystemRow {
        name: "電子カルテシステム",
        category: SystemCategory::Ehr,
        vendor: V_EHR,
        delivery: DeliveryModel::OnPremises,
        two_factor: TwoFactor::All,
        two_factor_plan: None,
        in_use_r9: Some(true),
        access_log: Some(true),
        password: (Some(8), Some(true), Some(60), Some(5)),
        maintenance_login: "mnt-medinext",
    },
    SystemRow {
        name: "レセプトコンピュータ（レセコン）",
        category: SystemCategory::Receipt,
        vendor: V_RECEIPT,
        delivery: DeliveryModel::OnPremises,
        two_factor: TwoFactor::None,
        two_factor_plan: Some(date!(2027 - 09 - 30)),
        in_use_r9: Some(true),
        access_log: Some(true),
        password: (Some(6), Some(false), Some(0), None),
        maintenance_login: "mnt-receiptone",
    },
    SystemRow {
        name: "PACS（医用画像管理システム）",
        category: SystemCategory::Pacs,
        vendor: V_PACS,
        delivery: DeliveryModel::OnPremises,
        two_factor: TwoFactor::None,
        two_factor_plan: None,
        in_use_r9: Some(true),
        access_log: Some(true),
        password: (Some(8), Some(true), Some(90), Some(10)),
        maintenance_login: "mnt-imagelink",
    },
    SystemRow {
        name: "オンライン資格確認システム",
        category: SystemCategory::OnlineEligibility,
        vendor: V_LINE,
        delivery: DeliveryModel::OnPremises,
        two_factor: TwoFactor::Partial,
        two_factor_plan: Some(date!(2026 - 03 - 31)),
        in_use_r9: Some(true),
        access_log: Some(true),
        password: (Some(13), Some(true), Some(0), Some(5)),
        maintenance_login: "mnt-hnc",
    },
    SystemRow {
        name: "臨床検査システム",
        category: SystemCategory::Lab,
        vendor: V_LAB,
        delivery: DeliveryModel::OnPremises,
        two_factor: TwoFactor::None,
        two_factor_plan: None,
        in_use_r9: Some(false),
        access_log: None,
        password: (None, None, None, None),
        maintenance_login: "mnt-labotech",
    },
    SystemRow {
        name: "グループウェア（院内メール）",
        category: SystemCategory::Groupware,
        vendor: V_NETWORK,
        delivery: DeliveryModel::Saas,
        two_factor: TwoFactor::All,
        two_factor_plan: None,
        in_use_r9: Some(true),
        access_log: Some(true),
        password: (Some(12), Some(true), None, Some(10)),
        maintenance_login: "support-aoba",
    },
];

fn systems() -> Vec<InfoSystem> {
    SYSTEMS
        .iter()
        .zip(1..)
        .map(|(s, id)| InfoSystem {
            id: SystemId(id),
            name: s.name.to_owned(),
            vendor_id: Some(VendorId(s.vendor)),
            two_factor: s.two_factor,
            two_factor_plan_on: s.two_factor_plan,
            in_use_r9: s.in_use_r9,
            access_log: s.access_log,
            password: PasswordPolicy {
                min_length: s.password.0,
                complexity: s.password.1,
                max_age_days: s.password.2,
                history: s.password.0.map(|_| 3),
                lockout_attempts: s.password.3,
            },
            ..InfoSystem::blank(s.category, s.delivery)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Staff

/// What happens to a member of staff over time.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    Stays,
    /// Joined a couple of weeks ago.
    RecentHire,
    /// Leaves 2–6 weeks after `today`.
    Scheduled,
    /// Left `lo..=hi` days before `today`; accounts were not disabled.
    LeftEnabled(i64, i64),
    /// Left `lo..=hi` days before `today`; accounts were disabled.
    LeftDisabled(i64, i64),
}

/// Unusual login habits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Habit {
    Regular,
    /// Part-time doctor: PACS dormant, laboratory system never used.
    PartTime,
}

/// A post in the clinic's staff plan.
#[derive(Clone, Copy)]
struct Role {
    job: JobType,
    dept: &'static str,
    /// Chance in percent that the post holder is a woman (only used to pick a given name).
    female_pct: u64,
    /// Joined between `hi` and `lo` days before `today`.
    joined: (i64, i64),
    fate: Fate,
    habit: Habit,
    receipt: bool,
    pacs: bool,
    lab: bool,
    groupware: bool,
    ehr_admin: bool,
    receipt_admin: bool,
}

const fn role(job: JobType, dept: &'static str, female_pct: u64) -> Role {
    Role {
        job,
        dept,
        female_pct,
        joined: (200, 5000),
        fate: Fate::Stays,
        habit: Habit::Regular,
        receipt: false,
        pacs: false,
        lab: false,
        groupware: false,
        ehr_admin: false,
        receipt_admin: false,
    }
}

impl Role {
    const fn joined(self, lo: i64, hi: i64) -> Self {
        Role {
            joined: (lo, hi),
            ..self
        }
    }
    const fn fate(self, fate: Fate) -> Self {
        let joined = match fate {
            Fate::RecentHire => (10, 25),
            Fate::LeftEnabled(..) | Fate::LeftDisabled(..) => (800, 3600),
            Fate::Stays | Fate::Scheduled => self.joined,
        };
        Role {
            fate,
            joined,
            ..self
        }
    }
    const fn habit(self, habit: Habit) -> Self {
        Role { habit, ..self }
    }
    const fn receipt(self) -> Self {
        Role {
            receipt: true,
            ..self
        }
    }
    const fn pacs(self) -> Self {
        Role { pacs: true, ..self }
    }
    const fn lab(self) -> Self {
        Role { lab: true, ..self }
    }
    const fn groupware(self) -> Self {
        Role {
            groupware: true,
            ..self
        }
    }
    const fn ehr_admin(self) -> Self {
        Role {
            ehr_admin: true,
            ..self
        }
    }
    const fn receipt_admin(self) -> Self {
        Role {
            receipt_admin: true,
            ..self
        }
    }
}

use JobType::{
    Administration, Contractor, Doctor, LabTechnician, MedicalClerk, Nurse, Pharmacist,
    RadiologyTechnician, Rehabilitation,
};

/// The staff plan of the clinic: 40 posts.
const ROSTER: [Role; 40] = [
    // 診療部: 院長, 副院長, 非常勤医
    role(Doctor, "外来", 20)
        .joined(5800, 6500)
        .receipt()
        .pacs()
        .lab()
        .groupware()
        .ehr_admin(),
    role(Doctor, "外来", 40)
        .joined(2500, 4400)
        .receipt()
        .pacs()
        .lab()
        .groupware(),
    role(Doctor, "病棟", 30)
        .joined(400, 1500)
        .receipt()
        .pacs()
        .lab()
        .groupware()
        .habit(Habit::PartTime),
    // 看護部（外来）
    role(Nurse, "外来", 95).joined(3000, 5500).groupware(),
    role(Nurse, "外来", 90),
    role(Nurse, "外来", 90),
    role(Nurse, "外来", 90),
    role(Nurse, "外来", 90),
    role(Nurse, "外来", 90).fate(Fate::LeftEnabled(90, 150)),
    // 看護部（病棟）
    role(Nurse, "病棟", 95).joined(3000, 5500).groupware(),
    role(Nurse, "病棟", 85),
    role(Nurse, "病棟", 85),
    role(Nurse, "病棟", 85),
    role(Nurse, "病棟", 85),
    role(Nurse, "病棟", 85).fate(Fate::RecentHire),
    role(Nurse, "病棟", 85).fate(Fate::Scheduled),
    role(Nurse, "病棟", 85).fate(Fate::LeftEnabled(21, 45)),
    // 薬局
    role(Pharmacist, "薬局", 60).groupware(),
    // 医事課
    role(MedicalClerk, "医事課", 90)
        .joined(2000, 4500)
        .receipt()
        .receipt_admin()
        .groupware(),
    role(MedicalClerk, "医事課", 90).receipt(),
    role(MedicalClerk, "医事課", 90).receipt(),
    role(MedicalClerk, "医事課", 90).receipt(),
    role(MedicalClerk, "医事課", 90).receipt(),
    role(MedicalClerk, "医事課", 90).receipt(),
    role(MedicalClerk, "医事課", 90).receipt(),
    role(MedicalClerk, "医事課", 90)
        .receipt()
        .fate(Fate::LeftDisabled(120, 200)),
    // 検査科
    role(LabTechnician, "検査科", 60).lab(),
    role(LabTechnician, "検査科", 60).lab(),
    role(LabTechnician, "検査科", 60).lab(),
    // 放射線科
    role(RadiologyTechnician, "放射線科", 20).pacs(),
    role(RadiologyTechnician, "放射線科", 20).pacs(),
    // リハビリ科
    role(Rehabilitation, "リハビリ科", 50),
    role(Rehabilitation, "リハビリ科", 50),
    role(Rehabilitation, "リハビリ科", 50).fate(Fate::LeftEnabled(200, 280)),
    // 事務部: 事務長, 総務, 経理, 人事
    role(Administration, "事務部", 30)
        .joined(2500, 5000)
        .receipt()
        .receipt_admin()
        .groupware()
        .ehr_admin(),
    role(Administration, "事務部", 60).groupware(),
    role(Administration, "事務部", 60).groupware(),
    role(Administration, "事務部", 60).groupware(),
    // 派遣・委託
    role(Contractor, "医事課", 80)
        .receipt()
        .fate(Fate::LeftEnabled(330, 420)),
    role(Contractor, "事務部", 30).joined(200, 900).groupware(),
];

/// kanji, katakana, romaji.
type NamePart = (&'static str, &'static str, &'static str);

const SURNAMES: &[NamePart] = &[
    ("佐藤", "サトウ", "sato"),
    ("鈴木", "スズキ", "suzuki"),
    ("高橋", "タカハシ", "takahashi"),
    ("田中", "タナカ", "tanaka"),
    ("伊藤", "イトウ", "ito"),
    ("渡辺", "ワタナベ", "watanabe"),
    ("山本", "ヤマモト", "yamamoto"),
    ("中村", "ナカムラ", "nakamura"),
    ("小林", "コバヤシ", "kobayashi"),
    ("加藤", "カトウ", "kato"),
    ("吉田", "ヨシダ", "yoshida"),
    ("山田", "ヤマダ", "yamada"),
    ("佐々木", "ササキ", "sasaki"),
    ("山口", "ヤマグチ", "yamaguchi"),
    ("松本", "マツモト", "matsumoto"),
    ("井上", "イノウエ", "inoue"),
    ("木村", "キムラ", "kimura"),
    ("林", "ハヤシ", "hayashi"),
    ("斎藤", "サイトウ", "saito"),
    ("清水", "シミズ", "shimizu"),
    ("山崎", "ヤマザキ", "yamazaki"),
    ("森", "モリ", "mori"),
    ("池田", "イケダ", "ikeda"),
    ("橋本", "ハシモト", "hashimoto"),
    ("阿部", "アベ", "abe"),
    ("石川", "イシカワ", "ishikawa"),
    ("前田", "マエダ", "maeda"),
    ("藤田", "フジタ", "fujita"),
    ("小川", "オガワ", "ogawa"),
    ("岡田", "オカダ", "okada"),
    ("後藤", "ゴトウ", "goto"),
    ("長谷川", "ハセガワ", "hasegawa"),
    ("村上", "ムラカミ", "murakami"),
    ("近藤", "コンドウ", "kondo"),
    ("石井", "イシイ", "ishii"),
    ("坂本", "サカモト", "sakamoto"),
    ("遠藤", "エンドウ", "endo"),
    ("青木", "アオキ", "aoki"),
    ("藤井", "フジイ", "fujii"),
    ("西村", "ニシムラ", "nishimura"),
];

const FEMALE_NAMES: &[NamePart] = &[
    ("美咲", "ミサキ", "misaki"),
    ("陽子", "ヨウコ", "yoko"),
    ("由美", "ユミ", "yumi"),
    ("恵", "メグミ", "megumi"),
    ("裕子", "ユウコ", "yuko"),
    ("真由美", "マユミ", "mayumi"),
    ("彩", "アヤ", "aya"),
    ("愛", "アイ", "ai"),
    ("千尋", "チヒロ", "chihiro"),
    ("さくら", "サクラ", "sakura"),
    ("奈々", "ナナ", "nana"),
    ("麻衣", "マイ", "mai"),
    ("香織", "カオリ", "kaori"),
    ("明美", "アケミ", "akemi"),
    ("智子", "トモコ", "tomoko"),
    ("久美子", "クミコ", "kumiko"),
    ("沙織", "サオリ", "saori"),
    ("遥", "ハルカ", "haruka"),
    ("結衣", "ユイ", "yui"),
    ("美穂", "ミホ", "miho"),
    ("直美", "ナオミ", "naomi"),
    ("京子", "キョウコ", "kyoko"),
    ("理恵", "リエ", "rie"),
    ("綾香", "アヤカ", "ayaka"),
    ("真理子", "マリコ", "mariko"),
];

const MALE_NAMES: &[NamePart] = &[
    ("健一", "ケンイチ", "kenichi"),
    ("大輔", "ダイスケ", "daisuke"),
    ("誠", "マコト", "makoto"),
    ("隆", "タカシ", "takashi"),
    ("浩二", "コウジ", "koji"),
    ("翔太", "ショウタ", "shota"),
    ("拓也", "タクヤ", "takuya"),
    ("和也", "カズヤ", "kazuya"),
    ("直樹", "ナオキ", "naoki"),
    ("健太", "ケンタ", "kenta"),
    ("修", "オサム", "osamu"),
    ("哲也", "テツヤ", "tetsuya"),
    ("悠斗", "ユウト", "yuto"),
    ("亮", "リョウ", "ryo"),
    ("雅之", "マサユキ", "masayuki"),
    ("博", "ヒロシ", "hiroshi"),
    ("正人", "マサト", "masato"),
    ("達也", "タツヤ", "tatsuya"),
];

/// A member of staff before ids are assigned.
struct Draft {
    role: Role,
    surname: NamePart,
    given: NamePart,
    joined_on: Date,
    left_on: Option<Date>,
}

fn staff_drafts(today: Date, rng: &mut SplitMix64) -> Vec<Draft> {
    let mut taken: HashSet<(&str, &str)> = HashSet::new();
    let mut drafts: Vec<(Draft, usize)> = Vec::with_capacity(ROSTER.len());
    for (index, role) in ROSTER.iter().enumerate() {
        let pool = if rng.chance(role.female_pct) {
            FEMALE_NAMES
        } else {
            MALE_NAMES
        };
        let fallback = ("", "", "");
        let mut surname = rng.pick(SURNAMES, fallback);
        let mut given = rng.pick(pool, fallback);
        for _ in 0..32 {
            if !taken.contains(&(surname.0, given.0)) {
                break;
            }
            surname = rng.pick(SURNAMES, fallback);
            given = rng.pick(pool, fallback);
        }
        taken.insert((surname.0, given.0));

        let left_on = match role.fate {
            Fate::LeftEnabled(lo, hi) | Fate::LeftDisabled(lo, hi) => {
                Some(days_ago(today, rng.range(lo, hi)))
            }
            Fate::Scheduled => Some(days_after(today, rng.range(14, 45))),
            Fate::Stays | Fate::RecentHire => None,
        };
        let joined_on = days_ago(today, rng.range(role.joined.0, role.joined.1));
        drafts.push((
            Draft {
                role: *role,
                surname,
                given,
                joined_on,
                left_on,
            },
            index,
        ));
    }
    // Staff numbers follow the order of joining, as they do in a real clinic.
    drafts.sort_by_key(|(d, index)| (d.joined_on, *index));
    drafts.into_iter().map(|(d, _)| d).collect()
}

fn staff_no(id: i64) -> String {
    format!("S{id:04}")
}

fn persons(drafts: &[Draft]) -> Vec<Person> {
    drafts
        .iter()
        .zip(1..)
        .map(|(d, id)| Person {
            id: PersonId(id),
            staff_no: staff_no(id),
            name: format!("{}\u{3000}{}", d.surname.0, d.given.0),
            name_kana: format!("{}\u{3000}{}", d.surname.1, d.given.1),
            job: d.role.job,
            department: d.role.dept.to_owned(),
            joined_on: Some(d.joined_on),
            left_on: d.left_on,
            notes: String::new(),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Assets

#[derive(Clone, Copy, PartialEq, Eq)]
enum Os {
    Win11,
    Win10,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Patch {
    /// Within the last 30 days.
    Recent,
    /// 60–200 days ago.
    Stale,
    /// Never recorded.
    Unknown,
}

struct PcRow {
    name: &'static str,
    location: &'static str,
    dept: &'static str,
    purpose: &'static str,
    vendor: Option<i64>,
    os: Os,
    patch: Patch,
    status: AssetStatus,
}

const fn pc(
    name: &'static str,
    location: &'static str,
    dept: &'static str,
    purpose: &'static str,
    vendor: Option<i64>,
) -> PcRow {
    PcRow {
        name,
        location,
        dept,
        purpose,
        vendor,
        os: Os::Win11,
        patch: Patch::Recent,
        status: AssetStatus::Active,
    }
}

impl PcRow {
    const fn win10(self) -> Self {
        PcRow {
            os: Os::Win10,
            ..self
        }
    }
    const fn patch(self, patch: Patch) -> Self {
        PcRow { patch, ..self }
    }
    const fn status(self, status: AssetStatus) -> Self {
        PcRow { status, ..self }
    }
}

const EHR_CLIENT: &str = "電子カルテ端末";
const RECEIPT_CLIENT: &str = "受付・会計（レセコン端末）";

/// The 25 workstations.
const WORKSTATIONS: [PcRow; 25] = [
    pc(
        "PC-受付-01",
        "受付",
        "医事課",
        RECEIPT_CLIENT,
        Some(V_RECEIPT),
    ),
    pc(
        "PC-受付-02",
        "受付",
        "医事課",
        RECEIPT_CLIENT,
        Some(V_RECEIPT),
    ),
    pc(
        "PC-受付-03",
        "受付",
        "医事課",
        "予約・電話対応",
        Some(V_RECEIPT),
    ),
    pc("PC-診察1", "診察室1", "外来", EHR_CLIENT, Some(V_EHR)),
    pc("PC-診察2", "診察室2", "外来", EHR_CLIENT, Some(V_EHR)),
    pc("PC-診察3", "診察室3", "外来", EHR_CLIENT, Some(V_EHR)),
    pc("PC-処置-01", "処置室", "外来", EHR_CLIENT, Some(V_EHR)),
    pc(
        "PC-病棟-01",
        "病棟ナースステーション",
        "病棟",
        EHR_CLIENT,
        Some(V_EHR),
    ),
    pc(
        "PC-病棟-02",
        "病棟ナースステーション",
        "病棟",
        EHR_CLIENT,
        Some(V_EHR),
    ),
    pc(
        "PC-病棟-03",
        "病棟ナースステーション",
        "病棟",
        EHR_CLIENT,
        Some(V_EHR),
    ),
    pc(
        "PC-病棟-04",
        "病棟ナースステーション",
        "病棟",
        EHR_CLIENT,
        Some(V_EHR),
    ),
    pc(
        "PC-病棟-05",
        "病棟ナースステーション",
        "病棟",
        "電子カルテ端末（ノートPC・カート）",
        Some(V_EHR),
    ),
    pc(
        "PC-医事-01",
        "医事課",
        "医事課",
        "レセプト作成・請求",
        Some(V_RECEIPT),
    ),
    pc(
        "PC-医事-02",
        "医事課",
        "医事課",
        "レセプト作成・請求",
        Some(V_RECEIPT),
    ),
    pc(
        "PC-医事-03",
        "医事課",
        "医事課",
        "レセプト点検",
        Some(V_RECEIPT),
    ),
    pc(
        "PC-院長室-01",
        "院長室",
        "事務部",
        "院長業務・文書作成",
        Some(V_NETWORK),
    )
    .win10()
    .patch(Patch::Stale),
    pc(
        "PC-検査-01",
        "検査室",
        "検査科",
        "臨床検査システム端末",
        Some(V_LAB),
    ),
    pc(
        "PC-検査-02",
        "検査室",
        "検査科",
        "検査機器連携（分析装置）",
        Some(V_LAB),
    )
    .win10()
    .patch(Patch::Stale),
    pc(
        "PC-放射線-01",
        "放射線室",
        "放射線科",
        "PACSビューア・CRコンソール",
        Some(V_PACS),
    )
    .patch(Patch::Unknown),
    pc(
        "PC-リハ-01",
        "リハビリ室",
        "リハビリ科",
        "リハビリ記録・電子カルテ参照",
        Some(V_NETWORK),
    )
    .win10()
    .patch(Patch::Stale),
    pc(
        "PC-事務-01",
        "事務室",
        "事務部",
        "総務・経理・給与",
        Some(V_NETWORK),
    ),
    // Realistic drift: nobody recorded where this one stands.
    pc(
        "PC-事務-02",
        "",
        "事務部",
        "人事・勤怠管理",
        Some(V_NETWORK),
    )
    .patch(Patch::Stale),
    // Realistic drift: bought at a shop, no vendor recorded.
    pc("PC-薬局-01", "薬局", "薬局", "調剤・薬品管理", None),
    pc(
        "PC-予備-01",
        "事務室",
        "事務部",
        "予備機（故障時の代替）",
        Some(V_NETWORK),
    )
    .patch(Patch::Unknown)
    .status(AssetStatus::Spare),
    pc(
        "PC-病棟-06",
        "病棟ナースステーション",
        "病棟",
        "電子カルテ端末（リプレース済み）",
        Some(V_EHR),
    )
    .win10()
    .patch(Patch::Stale)
    .status(AssetStatus::Disposed),
];

/// name, location, purpose, firmware, vendor, external connection.
type NetworkRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<i64>,
    &'static str,
);

const WIN11_VERSIONS: &[&str] = &["Windows 11 Pro 23H2", "Windows 11 Pro 24H2"];
const WIN10: &str = "Windows 10 Pro 22H2";

fn assets(today: Date, rng: &mut SplitMix64) -> Vec<Asset> {
    let mut out: Vec<Asset> = Vec::with_capacity(40);
    let mut push = |mut asset: Asset| {
        asset.id = AssetId(
            i64::try_from(out.len())
                .unwrap_or(i64::MAX)
                .saturating_add(1),
        );
        asset.tag = format!("A-{:04}", asset.id.0);
        if asset.status == AssetStatus::Disposed && asset.disposed_on.is_none() {
            asset.disposed_on = asset.last_patch_on.or(asset.installed_on);
            asset.disposal_method = "データ消去ソフトによる消去後、業者引取".to_owned();
            asset.disposal_certificate = format!("消去証明書 No.{}", 2400 + asset.id.0);
        }
        out.push(asset);
    };
    let blank = |class: AssetClass, name: &str| Asset {
        name: name.to_owned(),
        ..Asset::blank(class)
    };

    // Servers.
    push(Asset {
        location: "サーバラック（事務室）".to_owned(),
        purpose: "電子カルテサーバ".to_owned(),
        department: "事務部".to_owned(),
        vendor_id: Some(VendorId(V_EHR)),
        os: "Windows Server 2019 Standard".to_owned(),
        ip: "192.168.10.10".to_owned(),
        serial: rng.serial("JPSV", 7),
        installed_on: Some(days_ago(today, rng.range(1500, 2100))),
        eol_on: Some(SERVER2019_EOL),
        last_patch_on: Some(days_ago(today, rng.range(35, 80))),
        ..blank(AssetClass::Server, "SV-電子カルテ-01")
    });
    push(Asset {
        location: "サーバラック（事務室）".to_owned(),
        purpose: "レセコンサーバ・ファイルサーバ".to_owned(),
        department: "医事課".to_owned(),
        vendor_id: Some(VendorId(V_RECEIPT)),
        os: "Windows Server 2016 Standard".to_owned(),
        ip: "192.168.10.11".to_owned(),
        serial: rng.serial("JPSV", 7),
        installed_on: Some(days_ago(today, rng.range(2200, 2800))),
        eol_on: Some(SERVER2016_EOL),
        last_patch_on: Some(days_ago(today, rng.range(3, 28))),
        ..blank(AssetClass::Server, "SV-レセコン-01")
    });

    // Network devices.
    let network: [NetworkRow; 5] = [
        (
            "UTM-01",
            "サーバラック（事務室）",
            "UTM/ファイアウォール（インターネット境界）",
            "ファームウェア 7.2.10",
            Some(V_NETWORK),
            "光回線（インターネット）",
        ),
        (
            "SW-CORE-01",
            "サーバラック（事務室）",
            "コアスイッチ",
            "ファームウェア 3.4.1",
            Some(V_NETWORK),
            "",
        ),
        (
            "SW-2F-01",
            "病棟ナースステーション",
            "フロアスイッチ（2階病棟）",
            "ファームウェア 2.8.0",
            Some(V_NETWORK),
            "",
        ),
        (
            "AP-2F-01",
            "病棟ナースステーション",
            "無線LANアクセスポイント（病棟カート用）",
            "ファームウェア 6.5.3",
            // Realistic drift: installed by the facility, no vendor recorded.
            None,
            "無線LAN",
        ),
        (
            "VPN-01",
            "サーバラック（事務室）",
            "VPNルータ（リモート保守用）",
            "ファームウェア 15.02.30",
            Some(V_NETWORK),
            "VPN（保守用）",
        ),
    ];
    for (host, (name, location, purpose, os, vendor, external)) in (1..).zip(network) {
        push(Asset {
            location: location.to_owned(),
            purpose: purpose.to_owned(),
            department: "事務部".to_owned(),
            vendor_id: vendor.map(VendorId),
            os: os.to_owned(),
            ip: if name == "VPN-01" {
                "192.168.10.254".to_owned()
            } else {
                format!("192.168.10.{host}")
            },
            serial: rng.serial("NW", 9),
            installed_on: Some(days_ago(today, rng.range(900, 2400))),
            last_patch_on: Some(days_ago(today, rng.range(20, 190))),
            external_connection: external.to_owned(),
            ..blank(AssetClass::NetworkDevice, name)
        });
    }

    // Online eligibility terminal.
    push(Asset {
        location: "受付".to_owned(),
        purpose: "オンライン資格確認（顔認証付きカードリーダー接続）".to_owned(),
        department: "医事課".to_owned(),
        vendor_id: Some(VendorId(V_LINE)),
        os: rng.pick(WIN11_VERSIONS, "Windows 11 Pro 23H2").to_owned(),
        ip: "192.168.10.20".to_owned(),
        serial: rng.serial("OQS", 8),
        installed_on: Some(days_ago(today, rng.range(700, 1100))),
        last_patch_on: Some(days_ago(today, rng.range(2, 25))),
        external_connection: "IP-VPN（オンライン資格確認）".to_owned(),
        ..blank(AssetClass::OnlineEligibilityTerminal, "オン資端末-01")
    });

    // Medical devices.
    push(Asset {
        location: "放射線室".to_owned(),
        purpose: "CR装置（一般撮影）".to_owned(),
        department: "放射線科".to_owned(),
        vendor_id: Some(VendorId(V_PACS)),
        os: "Windows 10 IoT Enterprise LTSC 2019".to_owned(),
        ip: "192.168.10.30".to_owned(),
        serial: rng.serial("CR", 8),
        installed_on: Some(days_ago(today, rng.range(1800, 2600))),
        eol_on: Some(SERVER2019_EOL),
        last_patch_on: Some(days_ago(today, rng.range(120, 200))),
        ..blank(AssetClass::MedicalDevice, "CR-01")
    });
    push(Asset {
        location: "検査室".to_owned(),
        purpose: "心電計（検査システム連携）".to_owned(),
        department: "検査科".to_owned(),
        vendor_id: Some(VendorId(V_LAB)),
        os: "専用OS".to_owned(),
        ip: "192.168.10.31".to_owned(),
        serial: rng.serial("ECG", 7),
        installed_on: Some(days_ago(today, rng.range(1000, 1800))),
        last_patch_on: Some(days_ago(today, rng.range(90, 200))),
        ..blank(AssetClass::MedicalDevice, "ECG-01")
    });

    // Removable media.
    push(Asset {
        location: "医事課（施錠キャビネット）".to_owned(),
        purpose: "レセプト・紹介状データの受け渡し（暗号化USBメモリ）".to_owned(),
        department: "医事課".to_owned(),
        serial: rng.serial("USB", 8),
        installed_on: Some(days_ago(today, rng.range(300, 900))),
        ..blank(AssetClass::RemovableMedia, "USB-01")
    });
    push(Asset {
        location: "事務室".to_owned(),
        purpose: "バックアップ持出し用USBメモリ".to_owned(),
        department: "事務部".to_owned(),
        serial: rng.serial("USB", 8),
        installed_on: Some(days_ago(today, rng.range(300, 900))),
        ..blank(AssetClass::RemovableMedia, "USB-02")
    });

    // Workstations.
    for (host, row) in (101..).zip(WORKSTATIONS.iter()) {
        let (os, eol_on, installed) = match row.os {
            Os::Win11 => (
                rng.pick(WIN11_VERSIONS, "Windows 11 Pro 23H2"),
                None,
                rng.range(150, 1400),
            ),
            Os::Win10 => (WIN10, Some(WINDOWS10_EOL), rng.range(1800, 2600)),
        };
        let last_patch_on = match row.patch {
            Patch::Recent => Some(days_ago(today, rng.range(1, 30))),
            Patch::Stale => Some(days_ago(today, rng.range(60, 200))),
            Patch::Unknown => None,
        };
        let in_use = row.status == AssetStatus::Active;
        push(Asset {
            location: row.location.to_owned(),
            purpose: row.purpose.to_owned(),
            department: row.dept.to_owned(),
            vendor_id: row.vendor.map(VendorId),
            os: os.to_owned(),
            ip: if in_use {
                format!("192.168.10.{host}")
            } else {
                String::new()
            },
            serial: rng.serial("5CG", 7),
            installed_on: Some(days_ago(today, installed)),
            eol_on,
            last_patch_on,
            status: row.status,
            ..blank(AssetClass::Workstation, row.name)
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Accounts

/// Makes login ids unique within one system by appending 2, 3, … when needed.
#[derive(Default)]
struct LoginIds(HashSet<String>);

impl LoginIds {
    fn unique(&mut self, base: String) -> String {
        let mut candidate = base.clone();
        let mut n = 2u32;
        while self.0.contains(&candidate) {
            candidate = format!("{base}{n}");
            n = n.saturating_add(1);
        }
        self.0.insert(candidate.clone());
        candidate
    }
}

#[derive(Clone, Copy)]
enum LoginStyle {
    /// `sato.misaki`
    Dotted,
    /// `s0012`
    StaffNo,
    /// `msato`
    Initial,
}

fn accounts(
    today: Date,
    drafts: &[Draft],
    persons: &[Person],
    rng: &mut SplitMix64,
) -> Vec<Account> {
    let mut out: Vec<Account> = Vec::with_capacity(96);

    for (system, spec) in (1..).zip(SYSTEMS.iter()) {
        let mut logins = LoginIds::default();
        let style = match system {
            S_RECEIPT | S_LAB => LoginStyle::StaffNo,
            S_PACS => LoginStyle::Initial,
            _ => LoginStyle::Dotted,
        };

        // Personal accounts.
        for (draft, person) in drafts.iter().zip(persons) {
            let role = draft.role;
            let member = match system {
                S_EHR => true,
                S_RECEIPT => role.receipt,
                S_PACS => role.pacs,
                S_LAB => role.lab,
                S_GROUPWARE => role.groupware,
                _ => false,
            };
            if !member {
                continue;
            }
            let base = match style {
                LoginStyle::Dotted => format!("{}.{}", draft.surname.2, draft.given.2),
                LoginStyle::StaffNo => person.staff_no.to_lowercase(),
                LoginStyle::Initial => format!(
                    "{}{}",
                    draft.given.2.chars().next().unwrap_or('x'),
                    draft.surname.2
                ),
            };
            let has_left = person.has_left(today);
            let enabled = !has_left || matches!(role.fate, Fate::LeftEnabled(..));
            let last_login_on = match (has_left, role.habit, system) {
                (true, _, _) => draft
                    .left_on
                    .map(|left| days_ago(left, rng.range(0, 4)).max(draft.joined_on)),
                (false, Habit::PartTime, S_PACS) => {
                    Some(days_ago(today, rng.range(120, 300)).max(draft.joined_on))
                }
                (false, Habit::PartTime, S_LAB) => None,
                (false, _, _) => {
                    let ago = if rng.chance(6) {
                        rng.range(100, 300)
                    } else {
                        rng.range(0, 14)
                    };
                    Some(days_ago(today, ago).max(draft.joined_on))
                }
            };
            let is_admin = match system {
                S_EHR => role.ehr_admin,
                S_RECEIPT => role.receipt_admin,
                _ => false,
            };
            let login_id = logins.unique(base);
            out.push(Account {
                person_id: Some(person.id),
                is_admin,
                enabled,
                last_login_on,
                two_factor: spec.two_factor == TwoFactor::All,
                created_on: Some(draft.joined_on),
                ..Account::new(SystemId(system), &login_id)
            });
        }

        // Shared and emergency accounts.
        let shared = match system {
            S_RECEIPT => Some(("uketsuke", AccountKind::Shared, Some(rng.range(0, 1)))),
            S_ONLINE => Some(("oqs-uketsuke", AccountKind::Shared, Some(rng.range(0, 2)))),
            // The break-glass account has never been used.
            S_EHR => Some(("emergency", AccountKind::Emergency, None)),
            _ => None,
        };
        if let Some((login, kind, ago)) = shared {
            let login_id = logins.unique(login.to_owned());
            out.push(Account {
                kind,
                is_admin: kind == AccountKind::Emergency,
                last_login_on: ago.map(|ago| days_ago(today, ago)),
                ..Account::new(SystemId(system), &login_id)
            });
        }

        // The vendor's maintenance account.
        let login_id = logins.unique(spec.maintenance_login.to_owned());
        out.push(Account {
            kind: AccountKind::VendorMaintenance,
            is_admin: true,
            // The groupware reseller's support account was never used.
            last_login_on: (system != S_GROUPWARE).then(|| days_ago(today, rng.range(7, 120))),
            notes: "事業者保守用".to_owned(),
            ..Account::new(SystemId(system), &login_id)
        });
    }

    for (account, id) in out.iter_mut().zip(1..) {
        account.id = AccountId(id);
    }
    password_state_and_approvals(&mut out, persons, today);
    out
}

/// What the directory and the approvals add to the accounts: passwords set within the last
/// few months (a couple long ago), the vendors' and the break-glass account's exempt from expiry,
/// one account locked out, and every administrator right approved by the director (院長) except
/// the groupware reseller's account, which nobody remembers granting.
fn password_state_and_approvals(accounts: &mut [Account], persons: &[Person], today: Date) {
    let director = persons.first().map(|p| p.id);
    for a in accounts.iter_mut() {
        let n = a.id.0;
        if a.enabled {
            let ago = if n % 29 == 0 {
                150 + n % 50
            } else {
                (n * 37) % 80
            };
            a.pw_last_set_on = Some(days_ago(today, ago));
        }
        a.pw_never_expires = matches!(
            a.kind,
            AccountKind::VendorMaintenance | AccountKind::Emergency
        );
        if a.is_admin
            && !(a.system_id == SystemId(S_GROUPWARE) && a.kind == AccountKind::VendorMaintenance)
        {
            a.admin_approved_by = director;
            a.admin_approved_on = Some(a.created_on.unwrap_or_else(|| days_ago(today, 400)));
        }
    }
    if let Some(a) = accounts
        .iter_mut()
        .find(|a| a.enabled && a.kind == AccountKind::Personal && a.id.0 >= 17)
    {
        a.locked_out = true;
    }
}

// ---------------------------------------------------------------------------------------------
// What the checklist looks at beyond the registries above

/// Source restriction on the network devices (all but the Wi-Fi access point recorded) and a
/// compensating control on the first device past its end of support.
fn checklist_details(assets: &mut [Asset], today: Date) {
    let network: Vec<usize> = assets
        .iter()
        .enumerate()
        .filter(|(_, a)| a.class == AssetClass::NetworkDevice)
        .map(|(i, _)| i)
        .collect();
    for (n, i) in network.iter().enumerate() {
        if let Some(a) = assets.get_mut(*i) {
            a.source_restriction = (n + 1 < network.len()).then_some(true);
        }
    }
    if let Some(a) = assets
        .iter_mut()
        .find(|a| a.status == AssetStatus::Active && a.eol_on.is_some_and(|d| d < today))
    {
        a.compensating_control =
            "院内LANから切り離し、検査装置の操作専用として使用（インターネット接続なし）"
                .to_owned();
    }
}

fn contacts(today: Date, persons: &[Person], vendors: &[Vendor]) -> Vec<Contact> {
    let checked = Some(days_ago(today, 40));
    let present = |job: JobType, skip: usize| {
        persons
            .iter()
            .filter(|p| p.job == job && p.left_on.is_none())
            .nth(skip)
            .map(|p| p.name.clone())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    let mut push = |role, organization: &str, name: String, phone: &str, after: &str| {
        out.push(Contact {
            id: out.len() as i64 + 1,
            role,
            organization: organization.to_owned(),
            name,
            phone: phone.to_owned(),
            phone_after_hours: after.to_owned(),
            email: String::new(),
            vendor_id: None,
            verified_on: checked,
            active: true,
            notes: String::new(),
        });
    };
    let clinic = "さくら内科クリニック";
    push(
        ContactRole::Director,
        clinic,
        present(JobType::Doctor, 0),
        "04-7100-0001",
        "090-0000-1001",
    );
    push(
        ContactRole::SecurityOfficer,
        clinic,
        present(JobType::Administration, 0),
        "04-7100-0002",
        "090-0000-1002",
    );
    push(
        ContactRole::Deputy,
        clinic,
        present(JobType::Administration, 1),
        "04-7100-0003",
        "",
    );
    push(
        ContactRole::Mhlw,
        "厚生労働省 医政局 医療情報担当",
        "サイバーセキュリティ担当".to_owned(),
        "03-5253-1111",
        "",
    );
    push(
        ContactRole::Police,
        "県警察 サイバー犯罪相談窓口（生活安全部）",
        String::new(),
        "043-000-9110",
        "",
    );
    push(
        ContactRole::HealthCenter,
        "市保健所 医療安全担当",
        String::new(),
        "047-000-2130",
        "",
    );
    push(
        ContactRole::Ipa,
        "IPA 情報セキュリティ安心相談窓口",
        String::new(),
        "03-5978-7509",
        "",
    );
    for v in vendors {
        let id = out.len() as i64 + 1;
        out.push(Contact {
            id,
            role: ContactRole::Vendor,
            organization: v.name.clone(),
            name: "保守窓口".to_owned(),
            phone: v.phone.clone(),
            phone_after_hours: String::new(),
            email: v.email.clone(),
            vendor_id: Some(v.id),
            verified_on: checked,
            active: true,
            notes: String::new(),
        });
    }
    out
}

fn remote_points() -> Vec<RemotePoint> {
    let row = |id: i64, name: &str, vendor: i64, system: i64, route, source: &str| RemotePoint {
        id,
        name: name.to_owned(),
        vendor_id: Some(VendorId(vendor)),
        system_id: Some(SystemId(system)),
        asset_id: None,
        route,
        allowed_source: source.to_owned(),
        approver: "事務長".to_owned(),
        session_log: Some(true),
        active: true,
        notes: String::new(),
    };
    vec![
        row(
            1,
            "電子カルテ保守回線（IP-VPN）",
            V_EHR,
            S_EHR,
            RemoteRoute::IpVpn,
            "203.0.113.10/32",
        ),
        row(
            2,
            "レセコン保守VPN",
            V_RECEIPT,
            S_RECEIPT,
            RemoteRoute::InternetVpn,
            "198.51.100.20/32",
        ),
        // The PACS vendor's remote desktop: nobody has written down where it may come from.
        row(
            3,
            "PACS リモートデスクトップ",
            V_PACS,
            S_PACS,
            RemoteRoute::RemoteDesktop,
            "",
        ),
        row(
            4,
            "検査システム保守回線",
            V_LAB,
            S_LAB,
            RemoteRoute::IpVpn,
            "203.0.113.64/28",
        ),
    ]
}

fn vendor_documents(today: Date) -> Vec<VendorDocument> {
    let row =
        |id: i64, vendor: i64, doc_type, title: &str, version: &str, days: i64| VendorDocument {
            id,
            vendor_id: Some(VendorId(vendor)),
            doc_type,
            title: title.to_owned(),
            version: version.to_owned(),
            received_on: Some(days_ago(today, days)),
            file_name: String::new(),
            sha256: String::new(),
            current: true,
            notes: String::new(),
        };
    vec![
        row(
            1,
            V_EHR,
            DocumentType::Mds,
            "製造業者による医療情報セキュリティ開示書",
            "Ver.5.0",
            210,
        ),
        row(
            2,
            V_RECEIPT,
            DocumentType::Mds,
            "製造業者による医療情報セキュリティ開示書",
            "Ver.5.0",
            180,
        ),
        row(
            3,
            V_PACS,
            DocumentType::Mds,
            "製造業者による医療情報セキュリティ開示書",
            "Ver.4.0",
            600,
        ),
        row(
            4,
            V_NETWORK,
            DocumentType::Sds,
            "サービス事業者による医療情報セキュリティ開示書",
            "Ver.2.0",
            150,
        ),
        row(5, V_EHR, DocumentType::Contract, "保守契約書", "2021", 1700),
    ]
}

fn documents(today: Date) -> Vec<FacilityDocument> {
    use mamori_domain::checklist::TOPICS;
    let doc =
        |id: i64, kind, title: &str, version: &str, days: i64, approver: &str| FacilityDocument {
            id,
            title: title.to_owned(),
            version: version.to_owned(),
            dated_on: Some(days_ago(today, days)),
            approver: approver.to_owned(),
            ..FacilityDocument::blank(kind)
        };
    let mut rules = doc(
        1,
        DocKind::OperatingRules,
        "医療情報システム運用管理規程",
        "第3版",
        240,
        "院長",
    );
    // The rules do not yet say how PCs are kept free of unneeded services, nor the cyber BCP.
    rules.topics = TOPICS
        .iter()
        .copied()
        .filter(|t| !matches!(*t, "workstation.unneeded_services" | "incident.cyber_bcp"))
        .collect();
    rules.next_review_on = Some(days_after(today, 125));
    let mut matrix1 = doc(
        3,
        DocKind::AccessMatrix,
        "電子カルテ・レセコン 職種別アクセス権限表",
        "2025年度",
        150,
        "事務長",
    );
    matrix1.system_ids = vec![SystemId(S_EHR), SystemId(S_RECEIPT)];
    let mut matrix2 = doc(
        4,
        DocKind::AccessMatrix,
        "PACS・グループウェア 利用者権限一覧",
        "2025年度",
        150,
        "事務長",
    );
    matrix2.system_ids = vec![SystemId(S_PACS), SystemId(S_GROUPWARE)];
    let mut baseline = doc(
        6,
        DocKind::ServiceBaseline,
        "サーバの不要サービス停止基準と確認記録",
        "",
        100,
        "株式会社メディネクスト",
    );
    baseline.asset_classes = vec![AssetClass::Server];
    let mut media = doc(
        5,
        DocKind::MediaPolicy,
        "外部記録媒体（USBメモリ等）取扱要領",
        "第2版",
        300,
        "院長",
    );
    media.asset_classes = vec![AssetClass::Workstation, AssetClass::RemovableMedia];
    let mut backup = doc(
        8,
        DocKind::BackupProcedure,
        "電子カルテ・レセコン バックアップ・復旧手順書",
        "第2版",
        400,
        "事務長",
    );
    backup.system_ids = vec![SystemId(S_EHR), SystemId(S_RECEIPT)];
    vec![
        rules,
        doc(
            2,
            DocKind::OfficerAppointment,
            "医療情報システム安全管理責任者 任命書",
            "",
            700,
            "院長",
        ),
        matrix1,
        matrix2,
        media,
        baseline,
        doc(
            7,
            DocKind::NetworkDiagram,
            "院内ネットワーク構成図",
            "2025.4",
            200,
            "株式会社あおばネットワークサービス",
        ),
        backup,
        // A year old in a few days: the checklist warns before it expires.
        doc(
            9,
            DocKind::RestoreTest,
            "電子カルテ バックアップからの復旧テスト",
            "",
            345,
            "事務長・株式会社メディネクスト",
        ),
        doc(
            10,
            DocKind::CyberBcp,
            "サイバー攻撃を想定した事業継続計画（BCP）",
            "第1版",
            500,
            "院長",
        ),
        // More than a year ago: 3-③ needs a new drill.
        doc(
            11,
            DocKind::BcpDrill,
            "BCP机上訓練（ランサムウェア感染を想定）",
            "",
            420,
            "事務長",
        ),
        doc(
            12,
            DocKind::LogReview,
            "電子カルテ アクセスログ確認（四半期）",
            "",
            60,
            "安全管理責任者",
        ),
        doc(
            13,
            DocKind::Training,
            "情報セキュリティ研修（全職員）",
            "",
            90,
            "事務長",
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// The electronic medical record's access log

/// The patient the demo facility watches as a VIP (outside the numbers its log otherwise uses).
pub const DEMO_VIP_PATIENT: u32 = 777;

/// The EHR's access log of the 30 days before `today` as its export would look, in the layout of
/// the shipped `generic` profile (`日時,利用者ID,患者ID,操作,端末`, UTF-8, CRLF): the doctors
/// and nurses still employed open patients' records on the PCs of their rooms during clinic
/// hours — mostly 参照, some 更新, a few 印刷 and 出力 — after logging in each day; only the ward
/// works on Sundays. A dozen regular patients come back often. Deterministic per
/// `(today, seed)`; a few thousand rows. The week before also holds the incidents the shipped
/// detection rules are for (see the comment inside).
pub fn ehr_access_log(f: &DemoFacility, today: Date, seed: u64) -> String {
    let mut rng = SplitMix64::new(seed ^ 0x4548_525F_4C4F_4753); // "EHR_LOGS"
    let persons: std::collections::HashMap<PersonId, &Person> =
        f.persons.iter().map(|p| (p.id, p)).collect();
    let pcs = |prefixes: &[&str]| -> Vec<&str> {
        f.assets
            .iter()
            .filter(|a| a.class == AssetClass::Workstation && a.status == AssetStatus::Active)
            .filter(|a| prefixes.iter().any(|p| a.name.starts_with(p)))
            .map(|a| a.name.as_str())
            .collect()
    };
    let exam_pcs = pcs(&["PC-診察", "PC-院長室"]);
    let ward_pcs = pcs(&["PC-病棟", "PC-処置"]);
    // (login id, is a doctor)
    let users: Vec<(&str, bool)> = f
        .accounts
        .iter()
        .filter(|a| a.system_id == SystemId(S_EHR) && a.kind == AccountKind::Personal && a.enabled)
        .filter_map(|a| {
            let p = persons.get(&a.person_id?)?;
            match p.job {
                _ if p.has_left(today) => None,
                JobType::Doctor => Some((a.login_id.as_str(), true)),
                JobType::Nurse => Some((a.login_id.as_str(), false)),
                _ => None,
            }
        })
        .collect();
    // The week's incidents, for the alerts page: a nurse at the ward PC at night, a doctor
    // opening a VIP patient's record, a clerk-like sweep through many patients, the
    // break-glass account used at night, and a leaver's account still working.
    let emergency = f
        .accounts
        .iter()
        .find(|a| a.system_id == SystemId(S_EHR) && a.kind == AccountKind::Emergency)
        .map(|a| a.login_id.as_str());
    let leaver = f
        .accounts
        .iter()
        .filter(|a| a.system_id == SystemId(S_EHR) && a.enabled)
        .find(|a| {
            a.person_id
                .and_then(|p| persons.get(&p))
                .is_some_and(|p| p.has_left(today))
        })
        .map(|a| a.login_id.as_str());
    let night_nurse = users.iter().find(|(_, doctor)| !doctor).map(|u| u.0);
    let sweeper = users
        .iter()
        .filter(|(_, doctor)| !doctor)
        .nth(1)
        .map(|u| u.0);
    let vip_doctor = users.iter().find(|(_, doctor)| *doctor).map(|u| u.0);
    let ward = ward_pcs.first().copied().unwrap_or("PC-病棟01");
    let exam = exam_pcs.first().copied().unwrap_or("PC-診察01");
    let mut out = String::from("日時,利用者ID,患者ID,操作,端末\r\n");
    let mut rows: Vec<(i64, String)> = Vec::new();
    for ago in (1..=30).rev() {
        let hm = |h: i64, m: i64| (h * 60 + m) * 60;
        match ago {
            2 => {
                if let Some(n) = night_nurse {
                    rows.push((hm(23, 38), format!("{n},,ログイン,{ward}")));
                    for (i, p) in [212, 388, 97].iter().enumerate() {
                        rows.push((
                            hm(23, 40 + i as i64 * 3),
                            format!("{n},P-{p:06},参照,{ward}"),
                        ));
                    }
                }
            }
            3 => {
                if let Some(d) = vip_doctor {
                    rows.push((
                        hm(14, 5),
                        format!("{d},P-{:06},参照,{exam}", DEMO_VIP_PATIENT),
                    ));
                }
            }
            4 => {
                if let Some(l) = leaver {
                    rows.push((hm(10, 12), format!("{l},,ログイン,{ward}")));
                    rows.push((hm(10, 14), format!("{l},P-000150,参照,{ward}")));
                }
            }
            5 => {
                if let Some(c) = sweeper {
                    for i in 0..36 {
                        rows.push((
                            hm(16, 0) + i * 55,
                            format!("{c},P-{:06},参照,{ward}", 300 + i * 7),
                        ));
                    }
                }
            }
            6 => {
                if let Some(e) = emergency {
                    rows.push((hm(2, 10), format!("{e},,ログイン,{ward}")));
                    rows.push((hm(2, 12), format!("{e},P-000421,参照,{ward}")));
                    rows.push((hm(2, 15), format!("{e},P-000421,更新,{ward}")));
                }
            }
            _ => {}
        }
        let day = days_ago(today, ago);
        let (open, close, most) = match day.weekday() {
            time::Weekday::Sunday => (9 * 60, 17 * 60, 6),
            time::Weekday::Saturday => (8 * 60 + 30, 13 * 60, 10),
            _ => (8 * 60 + 30, 18 * 60, 16),
        };
        for (login, doctor) in &users {
            if (day.weekday() == time::Weekday::Sunday && *doctor) || rng.chance(25) {
                continue;
            }
            let room = if *doctor { &exam_pcs } else { &ward_pcs };
            let pc = rng.pick(room, "");
            if pc.is_empty() {
                continue;
            }
            let start = rng.range(open, open + 60);
            rows.push((start * 60, format!("{login},,ログイン,{pc}")));
            for _ in 0..rng.range(most / 2, most) {
                let at = rng.range(start + 1, close) * 60 + rng.range(0, 59);
                let patient = if rng.chance(20) {
                    rng.range(1, 12)
                } else {
                    rng.range(13, 640)
                };
                let op = match rng.below(100) {
                    0..=79 => "参照",
                    80..=92 => "更新",
                    93..=97 => "印刷",
                    _ => "出力",
                };
                rows.push((at, format!("{login},P-{patient:06},{op},{pc}")));
            }
        }
        rows.sort_by_key(|r| r.0);
        for (at, rest) in rows.drain(..) {
            out.push_str(&format!(
                "{}/{:02}/{:02} {:02}:{:02}:{:02},{rest}\r\n",
                day.year(),
                u8::from(day.month()),
                day.day(),
                at / 3600,
                at / 60 % 60,
                at % 60
            ));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The incident record

/// An incident the demo records for an alert of one rule: the summary, the notes of the
/// timeline and the note with which it is contained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoIncident {
    /// The detection rule whose alert the incident is opened from.
    pub rule_id: &'static str,
    pub notes: [&'static str; 2],
    pub contained: &'static str,
}

/// The incidents the demo may record, in order of preference: the first whose rule raised an
/// alert is opened from that alert (the week's log holds both).
pub const DEMO_INCIDENTS: [DemoIncident; 2] = [
    DemoIncident {
        // 退職者または無効化されたアカウントの使用
        rule_id: "fc5bd409-72b8-471b-bf24-afb61d4ce282",
        notes: [
            "勤務表と入退館記録を確認: 当該時刻に退職者本人の来院記録はない。アカウントの使い回しの疑い。",
            "電子カルテ保守事業者に連絡し、当該アカウントを無効化した（台帳のアカウントも無効に変更）。",
        ],
        contained: "アカウント無効化済み。参照された患者記録 P-000150 について、誰が閲覧したかを病棟で調査中。",
    },
    DemoIncident {
        // 非常時用アカウントの使用
        rule_id: "7b0c7469-89e8-4627-9df9-bf4526ad5e19",
        notes: [
            "当直医に確認: 急変対応中に個人アカウントでログインできず、非常時用アカウントを使用した。",
            "非常時用アカウントのパスワードを変更し、封筒を再封印した。使用記録簿に記入済み。",
        ],
        contained: "正当な使用と確認。個人アカウントのログイン不具合を保守事業者に調査依頼中。",
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_domain::findings::leavers_with_enabled_accounts;
    use std::collections::HashMap;

    const TODAY: Date = date!(2025 - 11 - 20);

    fn count(f: &DemoFacility, class: AssetClass) -> usize {
        f.assets.iter().filter(|a| a.class == class).count()
    }

    #[test]
    fn same_seed_gives_same_facility() {
        assert_eq!(demo_facility(TODAY, 42), demo_facility(TODAY, 42));
        assert_ne!(demo_facility(TODAY, 42), demo_facility(TODAY, 43));
    }

    #[test]
    fn counts_are_as_designed() {
        for seed in 0..20 {
            let f = demo_facility(TODAY, seed);
            assert_eq!(f.beds, 19);
            assert_eq!(f.vendors.len(), 6);
            assert_eq!(f.systems.len(), 6);
            assert_eq!(count(&f, AssetClass::Workstation), 25);
            assert_eq!(count(&f, AssetClass::Server), 2);
            assert_eq!(count(&f, AssetClass::NetworkDevice), 5);
            assert_eq!(count(&f, AssetClass::OnlineEligibilityTerminal), 1);
            assert_eq!(count(&f, AssetClass::RemovableMedia), 2);
            assert_eq!(f.persons.len(), 40);
            let left = f.persons.iter().filter(|p| p.has_left(TODAY)).count();
            assert_eq!(left, 5);
            let scheduled = f
                .persons
                .iter()
                .filter(|p| p.left_on.is_some_and(|d| d > TODAY))
                .count();
            assert_eq!(scheduled, 1);
            assert!(
                (70..=90).contains(&f.accounts.len()),
                "{}",
                f.accounts.len()
            );
            let disposed = f
                .assets
                .iter()
                .filter(|a| a.status == AssetStatus::Disposed);
            assert_eq!(disposed.count(), 1);
            let spare = f.assets.iter().filter(|a| a.status == AssetStatus::Spare);
            assert_eq!(spare.count(), 1);
            let ws_unpatched = f
                .assets
                .iter()
                .filter(|a| a.class == AssetClass::Workstation && a.last_patch_on.is_none());
            assert_eq!(ws_unpatched.count(), 2);
        }
    }

    #[test]
    fn ids_are_sequential_and_references_resolve() {
        for seed in [0, 1, 7, u64::MAX] {
            let f = demo_facility(TODAY, seed);
            let ids: Vec<i64> = f.vendors.iter().map(|v| v.id.0).collect();
            assert_eq!(ids, (1..=6).collect::<Vec<_>>());
            for (a, id) in f.assets.iter().zip(1..) {
                assert_eq!(a.id.0, id);
            }
            for (p, id) in f.persons.iter().zip(1..) {
                assert_eq!(p.id.0, id);
            }
            for (a, id) in f.accounts.iter().zip(1..) {
                assert_eq!(a.id.0, id);
            }
            let vendor_ok =
                |v: Option<VendorId>| v.is_none_or(|v| f.vendors.iter().any(|x| x.id == v));
            assert!(f.systems.iter().all(|s| vendor_ok(s.vendor_id)));
            assert!(f.assets.iter().all(|a| vendor_ok(a.vendor_id)));
            for a in &f.accounts {
                assert!(f.systems.iter().any(|s| s.id == a.system_id));
                if let Some(pid) = a.person_id {
                    assert!(f.persons.iter().any(|p| p.id == pid));
                }
            }
        }
    }

    #[test]
    fn leavers_still_have_enabled_accounts() {
        for seed in 0..20 {
            let f = demo_facility(TODAY, seed);
            let found = leavers_with_enabled_accounts(&f.persons, &f.accounts, TODAY);
            assert!(found.len() >= 4);
            let persons: HashSet<PersonId> = found.iter().map(|l| l.person_id).collect();
            assert_eq!(persons.len(), 4);
            for l in &found {
                assert!(
                    (14..=430).contains(&l.days_since_left),
                    "{}",
                    l.days_since_left
                );
            }
        }
    }

    #[test]
    fn login_ids_are_unique_per_system() {
        for seed in 0..50 {
            let f = demo_facility(TODAY, seed);
            let mut seen: HashSet<(SystemId, &str)> = HashSet::new();
            for a in &f.accounts {
                assert!(
                    seen.insert((a.system_id, a.login_id.as_str())),
                    "{}",
                    a.login_id
                );
            }
        }
    }

    #[test]
    fn accounts_are_plausible() {
        let f = demo_facility(TODAY, 5);
        let two_factor: HashMap<SystemId, bool> = f
            .systems
            .iter()
            .map(|s| (s.id, s.two_factor == TwoFactor::All))
            .collect();
        let persons: HashMap<PersonId, &Person> = f.persons.iter().map(|p| (p.id, p)).collect();
        for a in &f.accounts {
            if a.two_factor {
                assert_eq!(two_factor.get(&a.system_id), Some(&true));
            }
            if let Some(d) = a.last_login_on {
                assert!(d <= TODAY);
            }
            if let (Some(pid), Some(d)) = (a.person_id, a.last_login_on) {
                let p = persons.get(&pid).copied();
                assert!(p.and_then(|p| p.joined_on).is_some_and(|j| j <= d));
                assert!(p.and_then(|p| p.left_on).is_none_or(|l| d <= l));
            }
        }
        let kinds = |k: AccountKind| f.accounts.iter().filter(|a| a.kind == k).count();
        assert_eq!(kinds(AccountKind::Emergency), 1);
        assert_eq!(kinds(AccountKind::VendorMaintenance), 6);
        assert!(kinds(AccountKind::Shared) >= 1);
        let admins: HashSet<PersonId> = f
            .accounts
            .iter()
            .filter(|a| a.is_admin)
            .filter_map(|a| a.person_id)
            .collect();
        assert_eq!(admins.len(), 3);
        assert!(
            f.accounts
                .iter()
                .filter(|a| a.last_login_on.is_none())
                .count()
                >= 2
        );
        // Every present member of staff has an EHR account.
        for p in f.persons.iter().filter(|p| !p.has_left(TODAY)) {
            assert!(
                f.accounts
                    .iter()
                    .any(|a| a.system_id == SystemId(S_EHR) && a.person_id == Some(p.id))
            );
        }
        // Names use a full-width space.
        assert!(
            f.persons
                .iter()
                .all(|p| p.name.contains('\u{3000}') && p.name_kana.contains('\u{3000}'))
        );
    }

    #[test]
    fn works_for_other_dates() {
        for today in [
            date!(2024 - 01 - 01),
            date!(2026 - 04 - 01),
            date!(2030 - 12 - 31),
        ] {
            let f = demo_facility(today, 9);
            assert_eq!(f.persons.iter().filter(|p| p.has_left(today)).count(), 5);
            let found = leavers_with_enabled_accounts(&f.persons, &f.accounts, today);
            assert!(found.len() >= 4);
        }
    }

    #[test]
    fn the_ehr_access_log_reads_with_the_generic_profile() {
        let f = demo_facility(TODAY, 7);
        let text = ehr_access_log(&f, TODAY, 7);
        assert_eq!(text, ehr_access_log(&f, TODAY, 7), "deterministic");
        let generic = mamori_ingest::shipped_profiles()
            .into_iter()
            .next()
            .unwrap();
        let r = mamori_ingest::read_mapped_csv(
            text.as_bytes(),
            0,
            &generic,
            &mamori_ingest::ACCESS_LOG_LIMITS,
        )
        .unwrap();
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics.first());
        assert!(
            (2_000..6_000).contains(&r.events.len()),
            "{}",
            r.events.len()
        );
        let viewed = r
            .events
            .iter()
            .filter(|(_, e)| e.action == mamori_domain::event::Action::RecordViewed)
            .count();
        assert!(viewed * 10 > r.events.len() * 6, "mostly 参照: {viewed}");
        assert!(
            r.events
                .iter()
                .all(|(_, e)| e.source_host.starts_with("PC-"))
        );
        // Everyone in the log has an EHR account (one of them left: an incident of the week).
        let logins: HashSet<&str> = f.accounts.iter().map(|a| a.login_id.as_str()).collect();
        assert!(
            r.events
                .iter()
                .all(|(_, e)| logins.contains(e.actor.as_deref().unwrap()))
        );
        // The last 30 days, not today.
        let midnight = TODAY.midnight().assume_offset(mamori_ingest::JST);
        let today_ms = midnight.unix_timestamp() * 1000;
        assert!(r.events.iter().all(|(_, e)| {
            let t = e.time_ms.unwrap();
            t < today_ms && t >= today_ms - 30 * 86_400_000
        }));
        let regular = r
            .events
            .iter()
            .filter(|(_, e)| e.object.as_deref() == Some("P-000003"))
            .count();
        assert!(
            regular >= 10,
            "a regular patient comes back often: {regular}"
        );
    }
}
