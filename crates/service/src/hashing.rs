//! Password hashing with argon2id, off the async threads and with a cap on how many hashes run
//! at once, so that a flood of logins cannot starve the rest of the server.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Params {
    /// Tuned to roughly 50–100 ms per hash on a small 2-core server (see `bench/login.sh`).
    fn default() -> Self {
        Argon2Params {
            memory_kib: 47_104,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl Argon2Params {
    /// Cheap parameters for tests only.
    pub const FOR_TESTS: Argon2Params = Argon2Params {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };
}

/// Hashing failed (bad parameters or a stored hash that does not parse).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes and verifies passwords; clones share the concurrency cap.
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    params: Argon2Params,
    permits: Arc<Semaphore>,
    dummy: Arc<String>,
}

fn argon(p: Argon2Params) -> Result<Argon2<'static>, HashError> {
    let params = Params::new(p.memory_kib, p.iterations, p.parallelism, None)
        .map_err(|e| HashError(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_blocking(p: Argon2Params, pw: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon(p)?
        .hash_password(pw.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

fn verify_blocking(p: Argon2Params, pw: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    // Verify with the parameters stored in the hash (they may be older than the current ones).
    argon(p)
        .map(|a| a.verify_password(pw.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

impl PasswordHasher {
    /// `max_concurrent` hashes run at once; the rest wait their turn.
    pub fn new(params: Argon2Params, max_concurrent: usize) -> Result<Self, HashError> {
        let dummy = hash_blocking(params, "mamori-dummy-password-for-unknown-ids")?;
        Ok(PasswordHasher {
            params,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            dummy: Arc::new(dummy),
        })
    }

    pub fn params(&self) -> Argon2Params {
        self.params
    }

    pub async fn hash(&self, pw: &str) -> Result<String, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| HashError(e.to_string()))?;
        let p = self.params;
        let pw = pw.to_string();
        tokio::task::spawn_blocking(move || hash_blocking(p, &pw))
            .await
            .map_err(|e| HashError(e.to_string()))?
    }

    /// Verifies `pw` against `hash`; with `None` it verifies against a dummy hash so that an
    /// unknown login id costs the same time as a known one.
    pub async fn verify(&self, pw: &str, hash: Option<&str>) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let p = self.params;
        let pw = pw.to_string();
        let known = hash.is_some();
        let hash = hash
            .map(str::to_string)
            .unwrap_or_else(|| self.dummy.to_string());
        let ok = tokio::task::spawn_blocking(move || verify_blocking(p, &pw, &hash))
            .await
            .unwrap_or(false);
        ok && known
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let h = PasswordHasher::new(Argon2Params::FOR_TESTS, 2).unwrap();
        let hash = h.hash("correct horse battery staple").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(h.verify("correct horse battery staple", Some(&hash)).await);
        assert!(!h.verify("wrong", Some(&hash)).await);
        assert!(
            !h.verify("mamori-dummy-password-for-unknown-ids", None)
                .await
        );
        assert!(!h.verify("x", Some("not a hash")).await);
    }
}
