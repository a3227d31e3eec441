//! The audit trail's hash chain: every record commits to the one before it, so that an edited,
//! removed or inserted record breaks the chain at a position that can be named.

use sha2::{Digest, Sha256};

/// One audit event as it is hashed. Fields are free text chosen by the service layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Position in the trail, starting at 1, without gaps.
    pub seq: i64,
    /// When it happened (unix milliseconds).
    pub at_ms: i64,
    /// Who did it: `user:<id>:<login>` or `anonymous`.
    pub actor: String,
    /// Where from: the client address.
    pub source: String,
    /// What happened: a dotted code such as `login.failure`.
    pub action: String,
    /// What it happened to: `user:12`, `facility`, …
    pub target: String,
    /// Before/after or other facts, as JSON text.
    pub detail: String,
}

/// Hash of the record before the first one.
pub const GENESIS: [u8; 32] = [0u8; 32];

fn put(h: &mut Sha256, field: &[u8]) {
    h.update((field.len() as u64).to_be_bytes());
    h.update(field);
}

/// The chain hash of `rec` given the hash of the record before it.
pub fn chain_hash(prev: &[u8; 32], rec: &AuditRecord) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"mamori-audit-v1\0");
    h.update(prev);
    h.update(rec.seq.to_be_bytes());
    h.update(rec.at_ms.to_be_bytes());
    put(&mut h, rec.actor.as_bytes());
    put(&mut h, rec.source.as_bytes());
    put(&mut h, rec.action.as_bytes());
    put(&mut h, rec.target.as_bytes());
    put(&mut h, rec.detail.as_bytes());
    h.finalize().into()
}

/// What is wrong at the first bad position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("record {seq}: sequence gap or reordering (expected {expected})")]
    Sequence { seq: i64, expected: i64 },
    #[error("record {seq}: stored previous hash does not match the record before it")]
    PrevMismatch { seq: i64 },
    #[error("record {seq}: content does not match its hash (edited)")]
    HashMismatch { seq: i64 },
    #[error("record {seq}: stored hash is not 32 bytes")]
    Malformed { seq: i64 },
    #[error("trail ends at {last} but the head says {head}")]
    Truncated { last: i64, head: i64 },
}

impl ChainBreak {
    pub fn seq(&self) -> i64 {
        match self {
            ChainBreak::Sequence { seq, .. }
            | ChainBreak::PrevMismatch { seq }
            | ChainBreak::HashMismatch { seq }
            | ChainBreak::Malformed { seq } => *seq,
            ChainBreak::Truncated { last, .. } => last + 1,
        }
    }
}

/// Incremental verifier: feed records in order, with the hashes stored beside them.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    prev: [u8; 32],
    next_seq: i64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            prev: GENESIS,
            next_seq: 1,
        }
    }
}

impl ChainVerifier {
    pub fn push(
        &mut self,
        rec: &AuditRecord,
        stored_prev: &[u8],
        stored_hash: &[u8],
    ) -> Result<(), ChainBreak> {
        if rec.seq != self.next_seq {
            return Err(ChainBreak::Sequence {
                seq: rec.seq,
                expected: self.next_seq,
            });
        }
        if stored_prev != self.prev {
            return Err(ChainBreak::PrevMismatch { seq: rec.seq });
        }
        let stored: [u8; 32] = stored_hash
            .try_into()
            .map_err(|_| ChainBreak::Malformed { seq: rec.seq })?;
        let computed = chain_hash(&self.prev, rec);
        if computed != stored {
            return Err(ChainBreak::HashMismatch { seq: rec.seq });
        }
        self.prev = computed;
        self.next_seq += 1;
        Ok(())
    }

    /// Number of records verified so far.
    pub fn verified(&self) -> i64 {
        self.next_seq - 1
    }

    /// Hash of the last verified record.
    pub fn head(&self) -> [u8; 32] {
        self.prev
    }

    /// Checks the end of the trail against a separately kept head (count and hash).
    pub fn finish(&self, head_seq: i64, head_hash: &[u8]) -> Result<(), ChainBreak> {
        if self.verified() != head_seq || head_hash != self.prev {
            return Err(ChainBreak::Truncated {
                last: self.verified(),
                head: head_seq,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: i64) -> AuditRecord {
        AuditRecord {
            seq,
            at_ms: 1_700_000_000_000 + seq,
            actor: "user:1:admin".into(),
            source: "127.0.0.1".into(),
            action: "login.success".into(),
            target: "user:1".into(),
            detail: "{}".into(),
        }
    }

    fn chain(n: i64) -> Vec<(AuditRecord, [u8; 32], [u8; 32])> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|s| {
                let r = rec(s);
                let h = chain_hash(&prev, &r);
                let out = (r, prev, h);
                prev = h;
                out
            })
            .collect()
    }

    fn verify(c: &[(AuditRecord, [u8; 32], [u8; 32])]) -> Result<i64, ChainBreak> {
        let mut v = ChainVerifier::default();
        for (r, p, h) in c {
            v.push(r, p, h)?;
        }
        Ok(v.verified())
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify(&chain(10)), Ok(10));
    }

    #[test]
    fn edit_is_found_at_its_position() {
        let mut c = chain(10);
        c[4].0.detail = "{\"x\":1}".into();
        assert_eq!(verify(&c), Err(ChainBreak::HashMismatch { seq: 5 }));
    }

    #[test]
    fn deletion_is_found() {
        let mut c = chain(10);
        c.remove(6);
        assert_eq!(
            verify(&c),
            Err(ChainBreak::Sequence {
                seq: 8,
                expected: 7
            })
        );
    }

    #[test]
    fn rehashed_deletion_is_found_by_prev_link() {
        let mut c = chain(10);
        c.remove(6);
        for (i, item) in c.iter_mut().enumerate().skip(6) {
            item.0.seq = i as i64 + 1;
        }
        assert!(matches!(
            verify(&c),
            Err(ChainBreak::PrevMismatch { seq: 7 })
        ));
    }

    #[test]
    fn truncation_is_found_against_head() {
        let c = chain(10);
        let mut v = ChainVerifier::default();
        for (r, p, h) in &c[..8] {
            v.push(r, p, h).unwrap();
        }
        assert_eq!(
            v.finish(10, &c[9].2),
            Err(ChainBreak::Truncated { last: 8, head: 10 })
        );
    }
}
