//! Errors of the sealed log, each with a stable code a support desk can quote.

use std::fmt;

/// What went wrong while opening, writing or reading a sealed log.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// A file operation failed.
    #[error("SEAL0001 I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The signing key file can be read by others.
    #[error("SEAL0002 signing key {path} has permissions {mode:o}; it must be 0600")]
    KeyPermissions {
        /// The key file.
        path: String,
        /// Its mode bits.
        mode: u32,
    },
    /// The signing key file is not a key.
    #[error("SEAL0003 signing key {path} is damaged")]
    KeyDamaged {
        /// The key file.
        path: String,
    },
    /// A payload is larger than `SealOptions::max_payload`.
    #[error("SEAL0004 payload {position} in the batch is {len} bytes; the limit is {max}")]
    PayloadTooLarge {
        /// Position in the batch.
        position: usize,
        /// Its length.
        len: usize,
        /// The limit.
        max: u32,
    },
    /// An index or tree size beyond the log.
    #[error("SEAL0005 index {index} is out of range (log size {size})")]
    OutOfRange {
        /// The requested index or size.
        index: u64,
        /// The log size.
        size: u64,
    },
    /// The record was deleted by retention.
    #[error("SEAL0006 record {index} was pruned (records start at {first})")]
    Pruned {
        /// The requested index.
        index: u64,
        /// The first kept index.
        first: u64,
    },
    /// Export asked for records no signed tree head covers yet.
    #[error(
        "SEAL0007 records up to {end} are not covered by a signed tree head (last: {signed}); sign a head first"
    )]
    NotSigned {
        /// End of the requested range.
        end: u64,
        /// Size of the last signed head.
        signed: u64,
    },
    /// Stored records or tree files are damaged or were changed (not a torn tail).
    #[error("SEAL0008 log damaged at record {index}: {what}")]
    Damaged {
        /// First bad record index.
        index: u64,
        /// What is wrong.
        what: String,
    },
    /// The tree-head file holds an entry that does not verify with this log's key.
    #[error("SEAL0009 tree-head file entry {entry} does not verify: {what}")]
    HeadsDamaged {
        /// Entry number in the heads file.
        entry: u64,
        /// What is wrong.
        what: String,
    },
    /// A previous write failed; the log must be reopened (which repairs it).
    #[error("SEAL0010 an earlier write failed; reopen the log")]
    Poisoned,
    /// A signed tree head covers records that are no longer on disk.
    #[error("SEAL0011 signed tree head covers {signed} records but only {present} are on disk")]
    AcknowledgedMissing {
        /// Size of the last signed head.
        signed: u64,
        /// Records present.
        present: u64,
    },
    /// A bad argument (e.g. a range with start > end, a reason that is too long).
    #[error("SEAL0012 invalid argument: {0}")]
    Invalid(String),
}

impl SealError {
    /// The stable code, e.g. `SEAL0008`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "SEAL0001",
            Self::KeyPermissions { .. } => "SEAL0002",
            Self::KeyDamaged { .. } => "SEAL0003",
            Self::PayloadTooLarge { .. } => "SEAL0004",
            Self::OutOfRange { .. } => "SEAL0005",
            Self::Pruned { .. } => "SEAL0006",
            Self::NotSigned { .. } => "SEAL0007",
            Self::Damaged { .. } => "SEAL0008",
            Self::HeadsDamaged { .. } => "SEAL0009",
            Self::Poisoned => "SEAL0010",
            Self::AcknowledgedMissing { .. } => "SEAL0011",
            Self::Invalid(_) => "SEAL0012",
        }
    }
}

/// Wraps an `io::Error` with the path it happened on.
pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> SealError + '_ {
    move |source| SealError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// What kind of problem bundle verification found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyKind {
    /// The bundle could not be read (I/O).
    Io,
    /// Not a bundle, or its structure is broken (bad magic, bad length, bad count).
    Malformed,
    /// A bundle format version this verifier does not know.
    UnsupportedVersion,
    /// A count or length in the bundle exceeds the verifier's caps.
    TooLarge,
    /// A record's payload does not match its hash, or its header checksum is wrong.
    Edited,
    /// A record is missing (the next sequence number is skipped).
    Missing,
    /// Records are out of order.
    Reordered,
    /// A record appears twice.
    Duplicated,
    /// The bundle ends before all records of its range.
    Truncated,
    /// The records do not hash to the root a signed head states.
    RootMismatch,
    /// Two signed heads disagree about the same history.
    ForkedHead,
    /// A tree head or deletion record signature does not verify.
    BadSignature,
    /// The bundle is signed with a different key than the expected one.
    WrongKey,
    /// No signed tree head covers the records.
    Unsigned,
}

impl VerifyKind {
    /// The stable code, e.g. `SEAL0105`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Io => "SEAL0101",
            Self::Malformed => "SEAL0102",
            Self::UnsupportedVersion => "SEAL0103",
            Self::TooLarge => "SEAL0104",
            Self::Edited => "SEAL0105",
            Self::Missing => "SEAL0106",
            Self::Reordered => "SEAL0107",
            Self::Duplicated => "SEAL0108",
            Self::Truncated => "SEAL0109",
            Self::RootMismatch => "SEAL0110",
            Self::ForkedHead => "SEAL0111",
            Self::BadSignature => "SEAL0112",
            Self::WrongKey => "SEAL0113",
            Self::Unsigned => "SEAL0114",
        }
    }
}

/// Why a bundle failed verification, and the first record index known to be bad.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct VerifyError {
    /// The kind of problem.
    pub kind: VerifyKind,
    /// First bad record index, when the problem is tied to a record (for a root mismatch: the
    /// first index not covered by an earlier matching head).
    pub first_bad_index: Option<u64>,
    /// A human-readable detail (never contains payload bytes).
    pub detail: String,
}

impl VerifyError {
    pub(crate) fn new(kind: VerifyKind, index: Option<u64>, detail: impl Into<String>) -> Self {
        Self {
            kind,
            first_bad_index: index,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.kind.code(), self.kind)?;
        if let Some(i) = self.first_bad_index {
            write!(f, " at record {i}")?;
        }
        write!(f, ": {}", self.detail)
    }
}
