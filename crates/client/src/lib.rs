//! Typed HTTP client over `proto`: what the agent says to the server.
//!
//! - TLS is pinned: the agent trusts exactly the certificate whose SHA-256 came in the
//!   enrolment token, never the system's roots (a closed network has no public CA, and a
//!   self-signed certificate is the usual case). Plain HTTP is only for a server on loopback.
//! - Every request after enrolment is signed with the agent's Ed25519 identity key over the
//!   method, path, a nonce that only grows, and the body's SHA-256 ([`proto::signing_message`]).
//! - Policies are verified with the server's policy key before anything uses them.

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use mamori_proto::ErrorBody;
use mamori_proto::agent as proto;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Why a request did not get an answer the agent can use.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL cannot be used (not http/https, plain HTTP off loopback, https without a pin).
    #[error("server URL: {0}")]
    Url(String),
    /// No connection, a timeout, or TLS failed (a certificate other than the pinned one).
    #[error("transport: {0}")]
    Transport(String),
    /// The server said no, with its stable code.
    #[error("refused ({status}): {code} {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// The answer is not what the protocol says.
    #[error("unexpected answer: {0}")]
    Answer(String),
    /// A policy whose signature does not verify.
    #[error("policy signature does not verify")]
    PolicySignature,
}

impl ClientError {
    /// The server could not be reached (worth retrying later), as opposed to a refusal.
    pub fn is_offline(&self) -> bool {
        matches!(self, ClientError::Transport(_))
    }
}

/// The agent's identity: the id the server gave and the key it signs with.
pub struct Identity {
    pub agent_id: i64,
    key: SigningKey,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("agent_id", &self.agent_id)
            .finish_non_exhaustive()
    }
}

/// A new identity key.
pub fn generate_key() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

/// A key as base64 of its 32 public bytes.
pub fn public_key_b64(key: &SigningKey) -> String {
    B64.encode(key.verifying_key().as_bytes())
}

impl Identity {
    pub fn new(agent_id: i64, key: SigningKey) -> Identity {
        Identity { agent_id, key }
    }

    /// The 32 secret bytes, for the agent's state file.
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    pub fn from_secret(agent_id: i64, secret: &[u8; 32]) -> Identity {
        Identity {
            agent_id,
            key: SigningKey::from_bytes(secret),
        }
    }

    pub fn public_key(&self) -> String {
        public_key_b64(&self.key)
    }
}

/// Verifies a policy with the server's policy key (base64) and reads it.
pub fn verify_policy(
    policy_key: &str,
    p: &proto::SignedPolicy,
) -> Result<proto::PolicyBody, ClientError> {
    let key = B64
        .decode(policy_key)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .ok_or(ClientError::PolicySignature)?;
    let sig = B64
        .decode(&p.signature)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b.as_slice()).ok())
        .map(|b| Signature::from_bytes(&b))
        .ok_or(ClientError::PolicySignature)?;
    key.verify_strict(&proto::policy_message(&p.body), &sig)
        .map_err(|_| ClientError::PolicySignature)?;
    serde_json::from_str(&p.body).map_err(|e| ClientError::Answer(format!("policy: {e}")))
}

/// What enrolment presents: the token, the new public key and a signature proving the agent
/// holds its private half.
pub fn enrollment_request(
    token_secret: &str,
    key: &SigningKey,
    hostname: &str,
    machine_id: &str,
    agent_version: &str,
) -> proto::EnrollRequest {
    let public_key = public_key_b64(key);
    let proof = B64.encode(
        key.sign(&proto::enrollment_message(token_secret, &public_key))
            .to_bytes(),
    );
    proto::EnrollRequest {
        token: token_secret.to_string(),
        public_key,
        proof,
        hostname: hostname.to_string(),
        machine_id: machine_id.to_string(),
        agent_version: agent_version.to_string(),
    }
}

/// Signs an upload body for carrying by hand ([`proto::ExportFile`]): the signature the upload
/// request would have had with this nonce, base64.
pub fn sign_export(id: &Identity, body: &[u8], nonce: u64) -> String {
    let sig = id.key.sign(&proto::signing_message(
        "POST",
        proto::PATH_UPLOAD,
        id.agent_id,
        nonce,
        body,
    ));
    B64.encode(sig.to_bytes())
}

/// Trusts exactly the pinned certificates: the one whose SHA-256 came at enrolment, and those
/// a verified policy named since (the next one, before a renewal). The handshake's signatures
/// are still checked against the certificate's key.
#[derive(Debug)]
struct Pinned {
    pins: Arc<RwLock<Vec<[u8; 32]>>>,
    algs: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let digest = Sha256::digest(end_entity.as_ref());
        let pins = self.pins.read().unwrap_or_else(|e| e.into_inner());
        if pins.iter().any(|p| digest.as_slice() == p) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the server's certificate is not a pinned one".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

fn host_is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(authority)
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A connection to one server.
pub struct Client {
    base: String,
    http: ureq::Agent,
    nonce: AtomicU64,
    pins: Arc<RwLock<Vec<[u8; 32]>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).finish()
    }
}

impl Client {
    /// A client for `server` (`https://host[:port]`), trusting the certificate `pin`. Plain
    /// `http://` is accepted only for a server on loopback. `now_ms` starts the nonce.
    pub fn new(server: &str, pin: Option<[u8; 32]>, now_ms: i64) -> Result<Client, ClientError> {
        let base = server.trim().trim_end_matches('/').to_string();
        let pins: Arc<RwLock<Vec<[u8; 32]>>> = Arc::default();
        let mut builder = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .redirects(0);
        if base.starts_with("https://") {
            let pin = pin.ok_or_else(|| {
                ClientError::Url("https needs the certificate pin from the token".into())
            })?;
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            pins.write().unwrap_or_else(|e| e.into_inner()).push(pin);
            let verifier = Pinned {
                pins: pins.clone(),
                algs: provider.signature_verification_algorithms,
            };
            let tls = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| ClientError::Transport(e.to_string()))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth();
            builder = builder.tls_config(Arc::new(tls));
        } else if base.starts_with("http://") {
            if !host_is_loopback(&base) {
                return Err(ClientError::Url(
                    "plain http is only allowed to a server on this machine".into(),
                ));
            }
        } else {
            return Err(ClientError::Url("the URL must start with https://".into()));
        }
        Ok(Client {
            base,
            http: builder.build(),
            nonce: AtomicU64::new(u64::try_from(now_ms).unwrap_or(0).saturating_mul(1000)),
            pins,
        })
    }

    /// Also trusts these certificates (SHA-256 of the DER, hex), as a verified policy names
    /// them: the server's next certificate, before a renewal. Words that are not 64 hex digits
    /// are ignored. Over plain `http://` (loopback) there is nothing to pin.
    pub fn trust(&self, pins: &[String]) {
        let mut held = self.pins.write().unwrap_or_else(|e| e.into_inner());
        if held.is_empty() {
            return;
        }
        for pin in pins.iter().filter_map(|p| proto::pin_from_hex(p)) {
            if !held.contains(&pin) {
                held.push(pin);
            }
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Enrols with a token's secret: the server records the key and answers with the agent's
    /// id, its policy key, the unlock secret and the policy in force.
    pub fn enroll(
        &self,
        token_secret: &str,
        key: &SigningKey,
        hostname: &str,
        machine_id: &str,
        agent_version: &str,
    ) -> Result<proto::EnrollResponse, ClientError> {
        let req = enrollment_request(token_secret, key, hostname, machine_id, agent_version);
        let body = serde_json::to_vec(&req).map_err(|e| ClientError::Answer(e.to_string()))?;
        let resp = self
            .http
            .post(&self.url(proto::PATH_ENROLL))
            .send_bytes(&body);
        let text = Self::read(resp)?;
        let answer: proto::EnrollResponse =
            serde_json::from_str(&text).map_err(|e| ClientError::Answer(e.to_string()))?;
        // The policy it brings must verify with the key it brings.
        verify_policy(&answer.policy_key, &answer.policy)?;
        Ok(answer)
    }

    /// Sends spool entries; the answer comes after the server stored them.
    pub fn upload(
        &self,
        id: &Identity,
        upload: &proto::Upload,
    ) -> Result<proto::UploadAck, ClientError> {
        let body = serde_json::to_vec(upload).map_err(|e| ClientError::Answer(e.to_string()))?;
        let text = self.signed("POST", proto::PATH_UPLOAD, id, &body)?;
        serde_json::from_str(&text).map_err(|e| ClientError::Answer(e.to_string()))
    }

    /// The newest policy for this agent, verified.
    pub fn policy(
        &self,
        id: &Identity,
        policy_key: &str,
    ) -> Result<(proto::SignedPolicy, proto::PolicyBody), ClientError> {
        let text = self.signed("GET", proto::PATH_POLICY, id, b"")?;
        let p: proto::SignedPolicy =
            serde_json::from_str(&text).map_err(|e| ClientError::Answer(e.to_string()))?;
        let body = verify_policy(policy_key, &p)?;
        if body.agent_id.is_some_and(|a| a != id.agent_id) {
            return Err(ClientError::Answer("a policy for another agent".into()));
        }
        Ok((p, body))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A signed request; a refusal of the nonce (the server saw a larger one, say after this
    /// PC's clock went back) is retried once from the nonce the server names.
    fn signed(
        &self,
        method: &str,
        path: &str,
        id: &Identity,
        body: &[u8],
    ) -> Result<String, ClientError> {
        for attempt in 0..2 {
            let nonce = self.nonce.fetch_add(1, Ordering::SeqCst).saturating_add(1);
            let sig = id.key.sign(&proto::signing_message(
                method,
                path,
                id.agent_id,
                nonce,
                body,
            ));
            let req = self
                .http
                .request(method, &self.url(path))
                .set(proto::HEADER_AGENT, &id.agent_id.to_string())
                .set(proto::HEADER_NONCE, &nonce.to_string())
                .set(proto::HEADER_SIGNATURE, &B64.encode(sig.to_bytes()))
                .set("content-type", "application/json");
            let resp = if method == "GET" {
                req.call()
            } else {
                req.send_bytes(body)
            };
            if let Err(ureq::Error::Status(409, r)) = &resp
                && attempt == 0
                && let Some(next) = r
                    .header(proto::HEADER_NEXT_NONCE)
                    .and_then(|v| v.parse::<u64>().ok())
            {
                self.nonce
                    .fetch_max(next.saturating_sub(1), Ordering::SeqCst);
                continue;
            }
            return Self::read(resp);
        }
        Err(ClientError::Answer("nonce refused twice".into()))
    }

    fn read(resp: Result<ureq::Response, ureq::Error>) -> Result<String, ClientError> {
        match resp {
            Ok(r) => r
                .into_string()
                .map_err(|e| ClientError::Transport(e.to_string())),
            Err(ureq::Error::Status(status, r)) => {
                let text = r.into_string().unwrap_or_default();
                let e: ErrorBody = serde_json::from_str(&text).unwrap_or(ErrorBody {
                    code: String::new(),
                    message: text.chars().take(200).collect(),
                });
                Err(ClientError::Refused {
                    status,
                    code: e.code,
                    message: e.message,
                })
            }
            Err(ureq::Error::Transport(t)) => Err(ClientError::Transport(t.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn plain_http_only_to_loopback_and_https_only_with_a_pin() {
        assert!(Client::new("http://127.0.0.1:8443", None, 0).is_ok());
        assert!(Client::new("http://[::1]:8443/", None, 0).is_ok());
        assert!(Client::new("http://localhost", None, 0).is_ok());
        assert!(matches!(
            Client::new("http://192.168.1.10:8443", None, 0),
            Err(ClientError::Url(_))
        ));
        assert!(matches!(
            Client::new("https://mamori.clinic.local", None, 0),
            Err(ClientError::Url(_))
        ));
        assert!(Client::new("https://mamori.clinic.local", Some([7; 32]), 0).is_ok());
        assert!(matches!(
            Client::new("ftp://x", None, 0),
            Err(ClientError::Url(_))
        ));
    }

    #[test]
    fn a_policy_verifies_only_with_its_key_and_unchanged() {
        let server = generate_key();
        let body = serde_json::to_string(&proto::PolicyBody {
            version: 3,
            agent_id: Some(1),
            issued_ms: 1,
            groups: vec![],
            usb: proto::Policy::fail_closed(),
            ntp_server: None,
            acked_seq: None,
            server_pins: Vec::new(),
        })
        .unwrap();
        let sig = B64.encode(server.sign(&proto::policy_message(&body)).to_bytes());
        let p = proto::SignedPolicy {
            body: body.clone(),
            signature: sig.clone(),
        };
        assert_eq!(
            verify_policy(&public_key_b64(&server), &p).unwrap().version,
            3
        );
        let other = generate_key();
        assert!(matches!(
            verify_policy(&public_key_b64(&other), &p),
            Err(ClientError::PolicySignature)
        ));
        let tampered = proto::SignedPolicy {
            body: body.replace("\"version\":3", "\"version\":4"),
            signature: sig,
        };
        assert!(matches!(
            verify_policy(&public_key_b64(&server), &tampered),
            Err(ClientError::PolicySignature)
        ));
    }
}
