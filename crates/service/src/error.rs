//! Errors of the service layer. Each has a stable code a support desk can quote; none carries
//! secrets or patient data.

use mamori_domain::facility::FacilityError;
use mamori_domain::password::PasswordProblem;
use mamori_storage::StoreError;

/// A problem with one cell of an uploaded form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellError {
    /// Spreadsheet reference, `E12`.
    pub cell: String,
    /// Printed id of the item on that row, `2-⑤`.
    pub item: String,
    pub code: &'static str,
}

/// What went wrong in a use case.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Wrong login id or password (deliberately not saying which).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too many failures; attempts are refused until the given time.
    #[error("attempts refused until {until_ms}")]
    Throttled { until_ms: i64 },
    /// Wrong or expired two-factor code.
    #[error("invalid two-factor code")]
    InvalidCode,
    /// The session is missing, revoked or expired.
    #[error("no valid session")]
    NoSession,
    /// The session is idle-locked.
    #[error("session locked")]
    Locked,
    /// The role does not grant the permission.
    #[error("permission denied")]
    Denied,
    /// First-run setup was already done.
    #[error("already set up")]
    AlreadySetUp,
    /// Nothing is set up yet.
    #[error("not set up")]
    NotSetUp,
    #[error("login id already in use")]
    LoginTaken,
    #[error("not found")]
    NotFound,
    /// A field failed validation.
    #[error("invalid {field}: {code}")]
    Invalid {
        code: &'static str,
        field: &'static str,
    },
    /// The new password breaks the policy.
    #[error("password refused")]
    Password(Vec<PasswordProblem>),
    /// Fields of a ledger record failed validation (each names its field).
    #[error("invalid fields")]
    Fields(Vec<mamori_domain::ledger::FieldError>),
    /// Cells of an uploaded form failed validation (each names its cell and item).
    #[error("invalid cells")]
    Cells(Vec<CellError>),
    /// An uploaded file's SHA-256 differs from the one typed into the record by hand.
    #[error("file hash differs from the recorded one")]
    HashMismatch { recorded: String, uploaded: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// Stable error code (message catalog key `error.<code>`).
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::InvalidCredentials => "AUTH0001",
            ServiceError::Throttled { .. } => "AUTH0002",
            ServiceError::InvalidCode => "AUTH0003",
            ServiceError::NoSession => "AUTH0004",
            ServiceError::Locked => "AUTH0005",
            ServiceError::Denied => "AUTH0006",
            ServiceError::AlreadySetUp => "SET0001",
            ServiceError::NotSetUp => "SET0002",
            ServiceError::LoginTaken => "USR0001",
            ServiceError::NotFound => "GEN0404",
            ServiceError::Invalid { code, .. } => code,
            ServiceError::Password(p) => p.first().map(PasswordProblem::code).unwrap_or("PWD0000"),
            ServiceError::Fields(f) => f.first().map(|e| e.code).unwrap_or("LED0000"),
            ServiceError::Cells(c) => c.first().map(|e| e.code).unwrap_or("CHK0000"),
            ServiceError::HashMismatch { .. } => "LED0032",
            ServiceError::Store(_) | ServiceError::Internal(_) => "GEN0500",
        }
    }

    /// The form field the error is about, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            ServiceError::Invalid { field, .. } => Some(field),
            ServiceError::Password(_) => Some("password"),
            ServiceError::Fields(f) => f.first().map(|e| e.field),
            ServiceError::LoginTaken => Some("login_id"),
            ServiceError::InvalidCode => Some("code"),
            ServiceError::HashMismatch { .. } => Some("file"),
            _ => None,
        }
    }
}

impl From<FacilityError> for ServiceError {
    fn from(e: FacilityError) -> Self {
        ServiceError::Invalid {
            code: e.code(),
            field: e.field(),
        }
    }
}

impl From<crate::hashing::HashError> for ServiceError {
    fn from(e: crate::hashing::HashError) -> Self {
        ServiceError::Internal(e.to_string())
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
