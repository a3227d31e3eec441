//! The facility (医療機関 / 施設) and its settings.

/// 種別 of the facility, which decides the checklist variant it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FacilityKind {
    /// 病院
    Hospital,
    /// 診療所
    Clinic,
    /// 歯科診療所
    DentalClinic,
    /// 薬局
    Pharmacy,
    /// 事業者
    Vendor,
}

impl FacilityKind {
    pub const ALL: [FacilityKind; 5] = [
        FacilityKind::Hospital,
        FacilityKind::Clinic,
        FacilityKind::DentalClinic,
        FacilityKind::Pharmacy,
        FacilityKind::Vendor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FacilityKind::Hospital => "hospital",
            FacilityKind::Clinic => "clinic",
            FacilityKind::DentalClinic => "dental_clinic",
            FacilityKind::Pharmacy => "pharmacy",
            FacilityKind::Vendor => "vendor",
        }
    }

    pub fn parse(s: &str) -> Option<FacilityKind> {
        FacilityKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Only hospitals and clinics with beds report 病床数.
    pub fn has_beds(self) -> bool {
        matches!(self, FacilityKind::Hospital | FacilityKind::Clinic)
    }
}

/// Facility-wide settings with the guideline's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacilitySettings {
    /// Lock the screen after this many idle minutes (guideline: a clear-screen lock).
    pub idle_lock_minutes: u32,
    /// Require two-factor for every user, not only privileged roles.
    pub require_two_factor_for_all: bool,
    /// How often the ledger must be reviewed (棚卸), in days.
    pub ledger_review_cycle_days: u32,
    /// Accounts unused for longer than this are dormant.
    pub dormant_account_days: u32,
}

impl Default for FacilitySettings {
    fn default() -> Self {
        FacilitySettings {
            idle_lock_minutes: 10,
            require_two_factor_for_all: false,
            ledger_review_cycle_days: 365,
            dormant_account_days: 90,
        }
    }
}

/// Why a facility definition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FacilityError {
    #[error("name is empty")]
    NameEmpty,
    #[error("name is longer than 200 characters")]
    NameTooLong,
    #[error("bed count {0} is out of range (0–5000)")]
    BedsOutOfRange(i64),
    #[error("idle lock must be between 1 and 60 minutes")]
    IdleLockOutOfRange,
}

impl FacilityError {
    /// Stable code for the message catalog and support desk.
    pub fn code(&self) -> &'static str {
        match self {
            FacilityError::NameEmpty => "FAC0001",
            FacilityError::NameTooLong => "FAC0002",
            FacilityError::BedsOutOfRange(_) => "FAC0003",
            FacilityError::IdleLockOutOfRange => "FAC0004",
        }
    }

    /// The form field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            FacilityError::NameEmpty | FacilityError::NameTooLong => "name",
            FacilityError::BedsOutOfRange(_) => "beds",
            FacilityError::IdleLockOutOfRange => "idle_lock_minutes",
        }
    }
}

/// Checks a facility's name and bed count as entered at setup.
pub fn validate_facility(name: &str, beds: Option<i64>) -> Result<(), FacilityError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(FacilityError::NameEmpty);
    }
    if name.chars().count() > 200 {
        return Err(FacilityError::NameTooLong);
    }
    if let Some(b) = beds.filter(|b| !(0..=5000).contains(b)) {
        return Err(FacilityError::BedsOutOfRange(b));
    }
    Ok(())
}

/// Checks facility settings as entered on the settings page.
pub fn validate_settings(s: &FacilitySettings) -> Result<(), FacilityError> {
    if !(1..=60).contains(&s.idle_lock_minutes) {
        return Err(FacilityError::IdleLockOutOfRange);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facility_validation() {
        assert!(validate_facility("さくら内科クリニック", Some(19)).is_ok());
        assert_eq!(validate_facility("  ", None), Err(FacilityError::NameEmpty));
        assert_eq!(
            validate_facility("x", Some(-1)),
            Err(FacilityError::BedsOutOfRange(-1))
        );
        assert_eq!(
            validate_facility(&"あ".repeat(201), None),
            Err(FacilityError::NameTooLong)
        );
    }

    #[test]
    fn settings_validation() {
        let mut s = FacilitySettings::default();
        assert!(validate_settings(&s).is_ok());
        s.idle_lock_minutes = 0;
        assert_eq!(
            validate_settings(&s),
            Err(FacilityError::IdleLockOutOfRange)
        );
    }
}
