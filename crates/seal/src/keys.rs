//! The Ed25519 signing key (generated on first start, stored 0600), its printable public key and
//! fingerprint, and the two signed statements: tree heads and deletion records.

use crate::error::{SealError, io};
use crate::merkle::Hash;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

const KEY_MAGIC: &[u8; 8] = b"MSEALKY1";
const STH_CONTEXT: &[u8] = b"mamori-seal/tree-head/v1\0";
const PRUNE_CONTEXT: &[u8] = b"mamori-seal/deletion/v1\0";
/// Longest deletion reason, in bytes.
pub const MAX_REASON: usize = 1024;

/// The public half of the log's signing key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// Lower-case hex of the 32 key bytes (64 characters).
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A short fingerprint to write down and compare by eye: the first 10 bytes of
    /// `SHA-256(key)` in five groups of four hex digits, e.g. `3FA2-91C0-…`.
    pub fn fingerprint(&self) -> String {
        let d = Sha256::digest(self.0);
        let h = hex::encode_upper(d.get(..10).unwrap_or(&[]));
        let groups: Vec<&str> = (0..5).filter_map(|i| h.get(i * 4..i * 4 + 4)).collect();
        groups.join("-")
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        let bytes = hex::decode(s.trim()).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    pub(crate) fn verifying_key(&self) -> Option<VerifyingKey> {
        VerifyingKey::from_bytes(&self.0).ok()
    }
}

/// Loads the key at `path`, or creates one (mode 0600, written to a temporary file, synced and
/// renamed). Returns the key and whether it was created. Refuses a key readable by others.
pub(crate) fn load_or_create(path: &Path) -> Result<(SigningKey, bool), SealError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let meta = std::fs::metadata(path).map_err(io(path))?;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(SealError::KeyPermissions {
                    path: path.display().to_string(),
                    mode,
                });
            }
            let damaged = || SealError::KeyDamaged {
                path: path.display().to_string(),
            };
            let (magic, seed) = bytes.split_at_checked(8).ok_or_else(damaged)?;
            if magic != KEY_MAGIC {
                return Err(damaged());
            }
            let seed: [u8; 32] = seed.try_into().map_err(|_| damaged())?;
            Ok((SigningKey::from_bytes(&seed), false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SigningKey::generate(&mut rand::rngs::OsRng);
            let tmp = path.with_extension("tmp");
            let _ = std::fs::remove_file(&tmp);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io(&tmp))?;
            f.write_all(KEY_MAGIC).map_err(io(&tmp))?;
            f.write_all(&key.to_bytes()).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
            std::fs::rename(&tmp, path).map_err(io(path))?;
            sync_dir(path.parent().unwrap_or(Path::new(".")))?;
            Ok((key, true))
        }
        Err(e) => Err(io(path)(e)),
    }
}

/// An Ed25519 signing key kept in a file, made on first use like the sealed log's own (0600,
/// written aside, synced and renamed; a key readable by others is refused). The server signs
/// the agents' policies with one.
pub fn load_or_create_signing_key(path: &Path) -> Result<SigningKey, SealError> {
    load_or_create(path).map(|(k, _)| k)
}

/// The public key of the sealed log in `dir`, read without opening the log (so it works while a
/// server holds it); `None` when no key was made yet.
pub fn public_key_in(dir: &Path) -> Result<Option<PublicKey>, SealError> {
    let path = dir.join("seal.key");
    match std::fs::read(&path) {
        Ok(bytes) => {
            let damaged = || SealError::KeyDamaged {
                path: path.display().to_string(),
            };
            let (magic, seed) = bytes.split_at_checked(8).ok_or_else(damaged)?;
            if magic != KEY_MAGIC {
                return Err(damaged());
            }
            let seed: [u8; 32] = seed.try_into().map_err(|_| damaged())?;
            Ok(Some(PublicKey(
                SigningKey::from_bytes(&seed).verifying_key().to_bytes(),
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&path)(e)),
    }
}

/// fsyncs a directory so that created, renamed and deleted entries are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), SealError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

/// A signed tree head: the log had `tree_size` records with Merkle root `root` at `signed_at_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedTreeHead {
    /// Number of records covered.
    pub tree_size: u64,
    /// When it was signed (ms since the epoch, as given by the caller).
    pub signed_at_ms: i64,
    /// RFC 6962 root over records `[0, tree_size)`.
    pub root: Hash,
    /// Ed25519 signature over [`SignedTreeHead::message`].
    pub signature: [u8; 64],
}

/// Encoded size of a signed tree head.
pub const STH_LEN: usize = 8 + 8 + 32 + 64;

impl SignedTreeHead {
    /// The signed bytes: `"mamori-seal/tree-head/v1\0" | tree_size u64 | signed_at i64 | root`.
    pub fn message(tree_size: u64, signed_at_ms: i64, root: &Hash) -> Vec<u8> {
        let mut m = Vec::with_capacity(STH_CONTEXT.len() + 48);
        m.extend_from_slice(STH_CONTEXT);
        m.extend_from_slice(&tree_size.to_be_bytes());
        m.extend_from_slice(&signed_at_ms.to_be_bytes());
        m.extend_from_slice(root);
        m
    }

    pub(crate) fn sign(key: &SigningKey, tree_size: u64, signed_at_ms: i64, root: Hash) -> Self {
        let sig = key.sign(&Self::message(tree_size, signed_at_ms, &root));
        Self {
            tree_size,
            signed_at_ms,
            root,
            signature: sig.to_bytes(),
        }
    }

    /// True if the signature verifies with `key`.
    pub fn verify(&self, key: &PublicKey) -> bool {
        let Some(vk) = key.verifying_key() else {
            return false;
        };
        vk.verify(
            &Self::message(self.tree_size, self.signed_at_ms, &self.root),
            &Signature::from_bytes(&self.signature),
        )
        .is_ok()
    }

    /// `tree_size | signed_at | root | signature` ([`STH_LEN`] bytes).
    pub fn encode(&self) -> [u8; STH_LEN] {
        let mut out = [0u8; STH_LEN];
        let (a, rest) = out.split_at_mut(8);
        let (b, rest) = rest.split_at_mut(8);
        let (c, d) = rest.split_at_mut(32);
        a.copy_from_slice(&self.tree_size.to_be_bytes());
        b.copy_from_slice(&self.signed_at_ms.to_be_bytes());
        c.copy_from_slice(&self.root);
        d.copy_from_slice(&self.signature);
        out
    }

    /// Decodes [`SignedTreeHead::encode`]; `None` on a wrong length.
    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != STH_LEN {
            return None;
        }
        Some(Self {
            tree_size: u64::from_be_bytes(b.get(0..8)?.try_into().ok()?),
            signed_at_ms: i64::from_be_bytes(b.get(8..16)?.try_into().ok()?),
            root: b.get(16..48)?.try_into().ok()?,
            signature: b.get(48..112)?.try_into().ok()?,
        })
    }
}

/// A signed statement that records `[.., first_kept)` were deleted by retention, made while the
/// log had `tree_size` records with root `root`. Proofs for kept records stay valid because the
/// hash tree of the pruned prefix is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletionRecord {
    /// First record index still present.
    pub first_kept: u64,
    /// When the deletion happened (ms since the epoch, from the caller).
    pub at_ms: i64,
    /// Log size when it happened.
    pub tree_size: u64,
    /// Root at that size.
    pub root: Hash,
    /// Why (e.g. "retention 5 years"); at most [`MAX_REASON`] bytes.
    pub reason: String,
    /// Ed25519 signature over everything above.
    pub signature: [u8; 64],
}

impl DeletionRecord {
    fn body(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(60 + self.reason.len());
        m.extend_from_slice(&self.first_kept.to_be_bytes());
        m.extend_from_slice(&self.at_ms.to_be_bytes());
        m.extend_from_slice(&self.tree_size.to_be_bytes());
        m.extend_from_slice(&self.root);
        let len = u16::try_from(self.reason.len()).unwrap_or(u16::MAX);
        m.extend_from_slice(&len.to_be_bytes());
        m.extend_from_slice(self.reason.as_bytes());
        m
    }

    fn message(&self) -> Vec<u8> {
        let mut m = PRUNE_CONTEXT.to_vec();
        m.extend_from_slice(&self.body());
        m
    }

    pub(crate) fn sign(
        key: &SigningKey,
        first_kept: u64,
        at_ms: i64,
        tree_size: u64,
        root: Hash,
        reason: String,
    ) -> Self {
        let mut d = Self {
            first_kept,
            at_ms,
            tree_size,
            root,
            reason,
            signature: [0; 64],
        };
        d.signature = key.sign(&d.message()).to_bytes();
        d
    }

    /// True if the signature verifies with `key`.
    pub fn verify(&self, key: &PublicKey) -> bool {
        let Some(vk) = key.verifying_key() else {
            return false;
        };
        vk.verify(&self.message(), &Signature::from_bytes(&self.signature))
            .is_ok()
    }

    /// `first_kept | at | tree_size | root | reason_len u16 | reason | signature`.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = self.body();
        b.extend_from_slice(&self.signature);
        b
    }

    /// Decodes [`DeletionRecord::encode`].
    pub fn decode(b: &[u8]) -> Option<Self> {
        let first_kept = u64::from_be_bytes(b.get(0..8)?.try_into().ok()?);
        let at_ms = i64::from_be_bytes(b.get(8..16)?.try_into().ok()?);
        let tree_size = u64::from_be_bytes(b.get(16..24)?.try_into().ok()?);
        let root: Hash = b.get(24..56)?.try_into().ok()?;
        let len = usize::from(u16::from_be_bytes(b.get(56..58)?.try_into().ok()?));
        if len > MAX_REASON || b.len() != 58 + len + 64 {
            return None;
        }
        let reason = String::from_utf8(b.get(58..58 + len)?.to_vec()).ok()?;
        let signature: [u8; 64] = b.get(58 + len..)?.try_into().ok()?;
        Some(Self {
            first_kept,
            at_ms,
            tree_size,
            root,
            reason,
            signature,
        })
    }
}
