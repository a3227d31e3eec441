//! Wire types of the REST API, version 1, and the stable error shape clients see.

use serde::{Deserialize, Serialize};

pub mod agent;

/// `GET /healthz` and `GET /api/v1/healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
}

/// Every error answer of the API: a stable code and a safe message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// `GET /api/v1/me`: who the session belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub login_id: String,
    pub display_name: String,
    pub role: String,
    pub two_factor: bool,
}

/// `GET /api/v1/seal/proof/{index}`: RFC 9162 inclusion proof of a sealed record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    pub index: u64,
    pub tree_size: u64,
    pub leaf_hash: String,
    pub root: String,
    pub signed_at_ms: i64,
    pub signature: String,
    pub public_key: String,
    pub path: Vec<String>,
}

/// `GET /api/v1/seal/consistency?old=&new=`: RFC 9162 consistency proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    pub old_size: u64,
    pub new_size: u64,
    pub old_root: String,
    pub new_root: String,
    pub path: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_shape_is_stable() {
        let e = ErrorBody {
            code: "AUTH0001".into(),
            message: "x".into(),
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap_or_default(),
            r#"{"code":"AUTH0001","message":"x"}"#
        );
    }
}
