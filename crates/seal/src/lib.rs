//! `mamori-seal`: the tamper-evident, append-only log that every access log, alert and mamori's
//! own audit trail goes into, verifiable offline by an inspector who does not trust the facility.
//!
//! # Model
//! Records (opaque payloads with a receive time given by the caller) are appended in batches to
//! segment files; a batch is fsynced before [`SealedLog::append_batch`] returns (group commit).
//! Each record gets a sequence number equal to its index. An RFC 6962 / RFC 9162 Merkle tree
//! (SHA-256, leaf prefix 0x00, node prefix 0x01) over the records is maintained incrementally;
//! its leaf is `seq | recv_ms | SHA-256(payload)`. Tree heads are signed with Ed25519 at least
//! every [`SealOptions::head_interval_ms`] while records arrive ([`SealedLog::tick`] for quiet
//! periods) and on [`SealedLog::close`]. The key is generated on first start and stored 0600;
//! [`PublicKey::hex`] and [`PublicKey::fingerprint`] are what an administrator writes down.
//!
//! # API
//! - [`SealedLog::open`] → `(SealedLog, OpenReport)`; the report says what recovery did.
//! - [`SealedLog::append_batch`]`(now_ms, &[&[u8]]) -> Range<u64>` — durable when it returns.
//! - [`GroupCommitter`]: the log shared by threads; each [`GroupCommitter::append`] of one record
//!   returns when durable, and concurrent callers share one fsync (leader/follower).
//! - [`SealedLog::sign_head`], [`SealedLog::tick`], [`SealedLog::close`], [`SealedLog::head`],
//!   [`SealedLog::signed_head`], [`SealedLog::signed_heads`].
//! - [`SealedLog::read`], [`SealedLog::leaf_hash`], [`SealedLog::root_at`],
//!   [`SealedLog::inclusion_proof`], [`SealedLog::consistency_proof`] (O(log n) reads); check
//!   them with [`merkle::verify_inclusion`] / [`merkle::verify_consistency`].
//! - [`SealedLog::export`]`(range, writer)` writes a [`bundle`]; [`verify_bundle`]`(reader,
//!   Option<[u8; 32]>)` checks it with no database and no network.
//! - [`SealedLog::prune_before`] / [`SealedLog::prune_older_than`]: retention with a signed
//!   [`DeletionRecord`]; the hash tree of the pruned prefix is kept so proofs stay valid.
//!
//! Time is always a parameter (`now_ms`, milliseconds since the Unix epoch); the crate never
//! reads the clock. It knows nothing of databases or HTTP.

pub mod bundle;
mod committer;
mod error;
mod keys;
mod log;
pub mod merkle;
pub mod record;
mod tree;

pub use bundle::{VerifyReport, verify_bundle};
pub use committer::GroupCommitter;
pub use error::{SealError, VerifyError, VerifyKind};
pub use keys::{
    DeletionRecord, PublicKey, SignedTreeHead, load_or_create_signing_key, public_key_in,
};
pub use log::{OpenReport, SealOptions, SealedLog, TreeHead};
pub use merkle::Hash;
pub use record::Record;
