//! What the agent keeps on disk (`/var/lib/mamori-agent` by default): its identity (the id the
//! server gave, the signing key, the server's address, certificate pin and policy key, and the
//! unlock secret), the last good policy, the last inventory the server has, and the spool.
//!
//! Every file is written aside, synced and renamed, so a crash leaves the old version or the
//! new one, never half of one. Files holding secrets are 0600.

use mamori_proto::agent::{Inventory, PolicyBody, SignedPolicy};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The default state directory.
pub const DEFAULT_DIR: &str = "/var/lib/mamori-agent";

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: unreadable ({detail})")]
    Damaged { path: PathBuf, detail: String },
    #[error("{path}: readable by others; it must be 0600")]
    Permissions { path: PathBuf },
    #[error("this PC is not enrolled (no {0}); run `mamori-agent enroll` first")]
    NotEnrolled(PathBuf),
}

/// The agent's identity, from enrolment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub agent_id: i64,
    /// `https://host:port`.
    pub server: String,
    /// SHA-256 of the server's certificate, hex; empty for plain HTTP on loopback.
    /// (`server` is empty on a standalone PC enrolled by file: it never connects.)
    pub pin: String,
    /// The agent's Ed25519 secret key, base64.
    pub key: String,
    /// The server's policy key, base64.
    pub policy_key: String,
    /// The emergency unlock secret, base64.
    pub unlock_secret: String,
    pub enrolled_ms: i64,
}

impl Identity {
    pub fn pin_bytes(&self) -> Option<[u8; 32]> {
        mamori_proto::agent::pin_from_hex(&self.pin)
    }
}

pub(crate) use mamori_proto::agent::hex;

/// The inventory the server holds for this PC (what the next diff is against), and when the
/// last full one was sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub inventory: Option<Inventory>,
    pub full_ms: i64,
    /// The server asked for a full inventory.
    pub need_full: bool,
}

/// The emergency unlock's state: until when storage is unlocked, the codes already used (a code
/// works once) and the wrong-code count with its lockout, kept across restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnlockState {
    pub until_ms: i64,
    pub used: Vec<(i64, String)>,
    pub failures: u32,
    pub locked_until_ms: i64,
}

/// An offline enrolment in progress: the key presented in the request file, and the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The Ed25519 secret key, base64.
    pub key: String,
    pub hostname: String,
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct StateDir(PathBuf);

impl StateDir {
    pub fn new(path: impl Into<PathBuf>) -> StateDir {
        StateDir(path.into())
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn spool_dir(&self) -> PathBuf {
        self.0.join("spool")
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Creates the directory (0700).
    pub fn create(&self) -> Result<(), StateError> {
        fs::create_dir_all(&self.0).map_err(io_at(&self.0))?;
        set_mode(&self.0, 0o700)
    }

    pub fn identity(&self) -> Result<Identity, StateError> {
        let path = self.file("identity.json");
        check_private(&path)?;
        match read_json(&path)? {
            Some(i) => Ok(i),
            None => Err(StateError::NotEnrolled(path)),
        }
    }

    pub fn is_enrolled(&self) -> bool {
        self.file("identity.json").exists()
    }

    pub fn save_identity(&self, id: &Identity) -> Result<(), StateError> {
        write_json(&self.file("identity.json"), id, true)
    }

    /// The last good policy, verified again with the policy key when read.
    pub fn policy(&self) -> Result<Option<SignedPolicy>, StateError> {
        read_json(&self.file("policy.json"))
    }

    pub fn save_policy(&self, p: &SignedPolicy) -> Result<(), StateError> {
        write_json(&self.file("policy.json"), p, false)
    }

    pub fn sent(&self) -> Result<Sent, StateError> {
        Ok(read_json(&self.file("sent.json"))?.unwrap_or_default())
    }

    pub fn save_sent(&self, s: &Sent) -> Result<(), StateError> {
        write_json(&self.file("sent.json"), s, false)
    }

    /// The key made for an offline enrolment, waiting for the server's answer file.
    pub fn pending(&self) -> Result<Option<Pending>, StateError> {
        let path = self.file("pending.json");
        check_private(&path)?;
        read_json(&path)
    }

    pub fn save_pending(&self, p: &Pending) -> Result<(), StateError> {
        write_json(&self.file("pending.json"), p, true)
    }

    pub fn remove_pending(&self) -> Result<(), StateError> {
        let path = self.file("pending.json");
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_at(&path)(e)),
            _ => Ok(()),
        }
    }

    /// The newest spool entry written to an export file (standalone PCs): the next export
    /// starts after it. The entries stay in the spool until the server's acknowledgement comes
    /// back in a policy file.
    pub fn exported(&self) -> Result<u64, StateError> {
        Ok(read_json(&self.file("exported.json"))?.unwrap_or(0))
    }

    pub fn save_exported(&self, seq: u64) -> Result<(), StateError> {
        write_json(&self.file("exported.json"), &seq, false)
    }

    pub fn unlock(&self) -> Result<UnlockState, StateError> {
        Ok(read_json(&self.file("unlock.json"))?.unwrap_or_default())
    }

    pub fn save_unlock(&self, u: &UnlockState) -> Result<(), StateError> {
        write_json(&self.file("unlock.json"), u, true)
    }
}

/// The policy in force: the stored one when it verifies, else none (the caller fails closed).
pub fn verified_policy(dir: &StateDir, id: &Identity) -> Option<(SignedPolicy, PolicyBody)> {
    let p = dir.policy().ok()??;
    let body = mamori_client::verify_policy(&id.policy_key, &p).ok()?;
    Some((p, body))
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<(), StateError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_at(path))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<(), StateError> {
    Ok(())
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), StateError> {
    use std::os::unix::fs::PermissionsExt;
    match fs::metadata(path) {
        Ok(m) if m.permissions().mode() & 0o077 != 0 => Err(StateError::Permissions {
            path: path.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), StateError> {
    Ok(())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, StateError> {
    match fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| StateError::Damaged {
                path: path.to_path_buf(),
                detail: e.to_string(),
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_at(path)(e)),
    }
}

/// Writes `value` as JSON to a file beside `path`, syncs it and renames it over `path`, then
/// syncs the directory.
fn write_json<T: Serialize>(path: &Path, value: &T, private: bool) -> Result<(), StateError> {
    let bytes = serde_json::to_vec(value).map_err(|e| StateError::Damaged {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = opts.open(&tmp).map_err(io_at(&tmp))?;
    f.write_all(&bytes).map_err(io_at(&tmp))?;
    f.sync_all().map_err(io_at(&tmp))?;
    fs::rename(&tmp, path).map_err(io_at(path))?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_at(dir))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn identity_is_written_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateDir::new(dir.path().join("state"));
        s.create().unwrap();
        assert!(matches!(s.identity(), Err(StateError::NotEnrolled(_))));
        let id = Identity {
            agent_id: 7,
            server: "https://mamori.local:8443".into(),
            pin: hex(&[0xab; 32]),
            key: "k".into(),
            policy_key: "p".into(),
            unlock_secret: "u".into(),
            enrolled_ms: 1,
        };
        s.save_identity(&id).unwrap();
        assert_eq!(s.identity().unwrap(), id);
        assert_eq!(id.pin_bytes(), Some([0xab; 32]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let p = s.path().join("identity.json");
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
            fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(s.identity(), Err(StateError::Permissions { .. })));
        }
        fs::write(s.path().join("sent.json"), b"{not json").unwrap();
        assert!(matches!(s.sent(), Err(StateError::Damaged { .. })));
    }
}
