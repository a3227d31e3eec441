//! TLS: a certificate generated on first start (kept under the data dir), or configured files.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Paths of the generated certificate and key.
pub fn generated_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// Returns (cert, key) PEM paths, generating a self-signed pair if none exists yet.
pub fn ensure_self_signed(data_dir: &Path, extra_names: &[String]) -> Result<(PathBuf, PathBuf)> {
    let (cert, key) = generated_paths(data_dir);
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let dir = data_dir.join("tls");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    for n in extra_names {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    let ck = rcgen::generate_simple_self_signed(names).context("generating a certificate")?;
    write_private(&key, ck.key_pair.serialize_pem().as_bytes())?;
    std::fs::write(&cert, ck.cert.pem()).with_context(|| format!("writing {}", cert.display()))?;
    tracing::info!(cert = %cert.display(), "generated a self-signed TLS certificate");
    Ok((cert, key))
}

/// Writes a file readable by the owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// SHA-256 of the first certificate of a PEM file: what agents pin (it travels in their
/// enrolment tokens).
pub fn pin(cert_pem: &Path) -> Result<[u8; 32]> {
    use base64::Engine as _;
    use sha2::Digest;
    let text = std::fs::read_to_string(cert_pem)?;
    let b64: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .context("certificate is not PEM")?;
    Ok(sha2::Sha256::digest(der).into())
}

/// SHA-256 fingerprint of the (first) certificate of a PEM file, to compare with what a
/// browser shows.
pub fn fingerprint(cert_pem: &Path) -> Result<String> {
    Ok(fingerprint_of(&pin(cert_pem)?))
}

/// A pin written as browsers show fingerprints: upper-case hex pairs joined by colons.
pub fn fingerprint_of(pin: &[u8; 32]) -> String {
    pin.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
