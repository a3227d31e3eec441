//! The record frame, shared by segment files and bundles, and the Merkle leaf of a record.
//!
//! Frame (big-endian): `payload_len u32 | seq u64 | recv_ms i64 | payload_hash [32] |
//! header_check [4] | payload`. `payload_hash = SHA-256(payload)`; `header_check` is the first
//! four bytes of `SHA-256` over the 52 bytes before it, so a torn or flipped header is caught.
//! The Merkle leaf is `seq | recv_ms | payload_hash` (48 bytes): the tree commits to the payload
//! through its hash, so a pruned record's leaf can be kept without its payload.

use crate::merkle::{Hash, leaf_hash};
use sha2::{Digest, Sha256};

/// Size of a frame header.
pub const HEADER_LEN: usize = 56;

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Payload length.
    pub len: u32,
    /// Sequence number (= index in the log).
    pub seq: u64,
    /// Receive time, milliseconds since the Unix epoch, as given by the caller.
    pub recv_ms: i64,
    /// `SHA-256(payload)`.
    pub payload_hash: Hash,
}

impl Header {
    /// The Merkle leaf hash of this record.
    pub fn leaf_hash(&self) -> Hash {
        let mut data = [0u8; 48];
        let (a, rest) = data.split_at_mut(8);
        let (b, c) = rest.split_at_mut(8);
        a.copy_from_slice(&self.seq.to_be_bytes());
        b.copy_from_slice(&self.recv_ms.to_be_bytes());
        c.copy_from_slice(&self.payload_hash);
        leaf_hash(&data)
    }

    /// Encodes the header (with its check).
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let (body, check) = out.split_at_mut(HEADER_LEN - 4);
        let (len, rest) = body.split_at_mut(4);
        let (seq, rest) = rest.split_at_mut(8);
        let (recv, hash) = rest.split_at_mut(8);
        len.copy_from_slice(&self.len.to_be_bytes());
        seq.copy_from_slice(&self.seq.to_be_bytes());
        recv.copy_from_slice(&self.recv_ms.to_be_bytes());
        hash.copy_from_slice(&self.payload_hash);
        let digest = Sha256::digest(&*body);
        check.copy_from_slice(digest.get(..4).unwrap_or(&[0; 4]));
        out
    }

    /// Decodes a header; `None` if its check does not match.
    pub fn decode(buf: &[u8; HEADER_LEN]) -> Option<Self> {
        let (body, check) = buf.split_at(HEADER_LEN - 4);
        let digest = Sha256::digest(body);
        if digest.get(..4) != Some(check) {
            return None;
        }
        let len = u32::from_be_bytes(body.get(0..4)?.try_into().ok()?);
        let seq = u64::from_be_bytes(body.get(4..12)?.try_into().ok()?);
        let recv_ms = i64::from_be_bytes(body.get(12..20)?.try_into().ok()?);
        let payload_hash: Hash = body.get(20..52)?.try_into().ok()?;
        Some(Self {
            len,
            seq,
            recv_ms,
            payload_hash,
        })
    }
}

/// Appends the frame of one record to `out`; returns its header.
pub fn encode_frame(out: &mut Vec<u8>, seq: u64, recv_ms: i64, payload: &[u8]) -> Header {
    let header = Header {
        len: u32::try_from(payload.len()).unwrap_or(u32::MAX),
        seq,
        recv_ms,
        payload_hash: Sha256::digest(payload).into(),
    };
    out.extend_from_slice(&header.encode());
    out.extend_from_slice(payload);
    header
}

/// A record read back from the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Sequence number (= index).
    pub seq: u64,
    /// Receive time in ms since the epoch.
    pub recv_ms: i64,
    /// `SHA-256(payload)`.
    pub payload_hash: Hash,
    /// The payload.
    pub payload: Vec<u8>,
}

impl Record {
    /// The Merkle leaf hash of this record.
    pub fn leaf_hash(&self) -> Hash {
        Header {
            len: 0,
            seq: self.seq,
            recv_ms: self.recv_ms,
            payload_hash: self.payload_hash,
        }
        .leaf_hash()
    }
}
