//! RFC 6962 / RFC 9162 Merkle tree math as pure functions: hashing, the incremental frontier,
//! compact ranges, and inclusion / consistency proof generation and verification.
//!
//! Nothing here does I/O. Proof generation reads perfect (complete, aligned) subtree hashes
//! through [`NodeSource`], so a store only has to keep those; each proof needs O(log n) reads.

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 || data)`: the hash of a leaf (RFC 9162 §2.1.1).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Largest power of two strictly smaller than `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Reads hashes of perfect subtrees: `perfect(level, index)` is the root of the complete subtree
/// of height `level` over leaves `[index << level, (index + 1) << level)`.
pub trait NodeSource {
    /// The error a read can fail with.
    type Error;
    /// Hash of one perfect subtree.
    fn perfect(&self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// Root of the RFC 6962 tree over leaves `[start, end)`, where `start` is a multiple of the
/// smallest power of two `>= end - start` (true for every subtree the RFC recursion visits).
/// Reads at most 64 perfect subtrees.
pub fn range_hash<S: NodeSource>(src: &S, start: u64, end: u64) -> Result<Hash, S::Error> {
    let n = end.saturating_sub(start);
    if n == 0 {
        return Ok(empty_root());
    }
    // Perfect pieces by the bits of n, largest first, folded right to left.
    let mut pieces = Vec::with_capacity(n.count_ones() as usize);
    let mut pos = start;
    for level in (0..64u32).rev() {
        if n & (1u64 << level) != 0 {
            pieces.push(src.perfect(level, pos >> level)?);
            pos += 1u64 << level;
        }
    }
    Ok(fold_right(&pieces))
}

/// `H(p0, H(p1, H(p2, …)))`; the empty root for no pieces.
fn fold_right(pieces: &[Hash]) -> Hash {
    let mut it = pieces.iter().rev();
    let Some(last) = it.next() else {
        return empty_root();
    };
    let mut acc = *last;
    for p in it {
        acc = node_hash(p, &acc);
    }
    acc
}

/// The right edge of a tree being built leaf by leaf: one perfect subtree per set bit of `size`,
/// largest (leftmost) first. Appending costs amortised O(1) hashes; the root O(log n).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a frontier from its parts; `None` if `nodes.len() != popcount(size)`.
    pub fn from_parts(size: u64, nodes: Vec<Hash>) -> Option<Self> {
        (nodes.len() == size.count_ones() as usize).then_some(Self { size, nodes })
    }

    /// Reads the frontier of the tree of `size` leaves from a node source.
    pub fn load<S: NodeSource>(src: &S, size: u64) -> Result<Self, S::Error> {
        let mut nodes = Vec::with_capacity(size.count_ones() as usize);
        let mut pos = 0u64;
        for level in (0..64u32).rev() {
            if size & (1u64 << level) != 0 {
                nodes.push(src.perfect(level, pos >> level)?);
                pos += 1u64 << level;
            }
        }
        Ok(Self { size, nodes })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect subtree hashes, largest first.
    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }

    /// Appends a leaf hash. `on_node(level, index, hash)` is called for the leaf (level 0) and for
    /// every perfect subtree this append completes, in increasing level order.
    pub fn push_with(&mut self, leaf: Hash, mut on_node: impl FnMut(u32, u64, &Hash)) {
        on_node(0, self.size, &leaf);
        let mut h = leaf;
        let mut s = self.size;
        let mut level = 0u32;
        while s & 1 == 1 {
            let Some(left) = self.nodes.pop() else { break };
            h = node_hash(&left, &h);
            s >>= 1;
            level += 1;
            on_node(level, s, &h);
        }
        self.nodes.push(h);
        self.size += 1;
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        self.push_with(leaf, |_, _, _| {});
    }

    /// Appends a perfect subtree of height `level`; returns false (and changes nothing) if the
    /// current size is not a multiple of `2^level` or the size would overflow.
    pub fn push_subtree(&mut self, level: u32, hash: Hash) -> bool {
        if level >= 63 || self.size & ((1u64 << level) - 1) != 0 {
            return false;
        }
        let Some(new_size) = self.size.checked_add(1u64 << level) else {
            return false;
        };
        let mut h = hash;
        let mut s = self.size >> level;
        while s & 1 == 1 {
            let Some(left) = self.nodes.pop() else { break };
            h = node_hash(&left, &h);
            s >>= 1;
        }
        self.nodes.push(h);
        self.size = new_size;
        true
    }

    /// The RFC 6962 root of the tree so far.
    pub fn root(&self) -> Hash {
        fold_right(&self.nodes)
    }
}

/// The aligned perfect subtrees `(level, index)` that cover `[start, end)` from the left edge
/// `start` (a compact range). Pushing their hashes onto the frontier of size `start` gives the
/// frontier of size `end`.
pub fn compact_range(start: u64, end: u64) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    let mut pos = start;
    while pos < end {
        let align = if pos == 0 { 63 } else { pos.trailing_zeros() };
        let mut level = align.min(63);
        while level > 0 && pos.checked_add(1u64 << level).is_none_or(|e| e > end) {
            level -= 1;
        }
        out.push((level, pos >> level));
        pos += 1u64 << level;
    }
    out
}

/// Inclusion proof (audit path) for leaf `index` in the tree of `size` leaves, RFC 9162 §2.1.3.1.
/// `None` if `index >= size`.
pub fn inclusion_proof<S: NodeSource>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Option<Vec<Hash>>, S::Error> {
    if index >= size {
        return Ok(None);
    }
    let mut proof = Vec::new();
    path(src, index, 0, size, &mut proof)?;
    Ok(Some(proof))
}

fn path<S: NodeSource>(
    src: &S,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m - start < k {
        path(src, m, start, start + k, out)?;
        out.push(range_hash(src, start + k, end)?);
    } else {
        path(src, m, start + k, end, out)?;
        out.push(range_hash(src, start, start + k)?);
    }
    Ok(())
}

/// Consistency proof between the trees of `old` and `new` leaves, RFC 9162 §2.1.4.1.
/// `None` unless `old <= new`; empty when `old == 0` or `old == new`.
pub fn consistency_proof<S: NodeSource>(
    src: &S,
    old: u64,
    new: u64,
) -> Result<Option<Vec<Hash>>, S::Error> {
    if old > new {
        return Ok(None);
    }
    let mut proof = Vec::new();
    if old > 0 && old < new {
        subproof(src, old, 0, new, true, &mut proof)?;
    }
    Ok(Some(proof))
}

fn subproof<S: NodeSource>(
    src: &S,
    m: u64,
    start: u64,
    end: u64,
    complete: bool,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if m == n {
        if !complete {
            out.push(range_hash(src, start, end)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(src, m, start, start + k, complete, out)?;
        out.push(range_hash(src, start + k, end)?);
    } else {
        subproof(src, m - k, start + k, end, false, out)?;
        out.push(range_hash(src, start, start + k)?);
    }
    Ok(())
}

/// Checks an inclusion proof, RFC 9162 §2.1.3.2.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && &r == root
}

/// Checks a consistency proof between `(old, old_root)` and `(new, new_root)`, RFC 9162 §2.1.4.2.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old > new {
        return false;
    }
    if old == new {
        return proof.is_empty() && old_root == new_root;
    }
    if old == 0 {
        return proof.is_empty();
    }
    let mut items: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        items.push(*old_root);
    }
    items.extend_from_slice(proof);
    let Some((first, rest)) = items.split_first() else {
        return false;
    };
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    &fr == old_root && &sr == new_root && s == 0
}

/// An in-memory [`NodeSource`] over leaf hashes (computes subtree hashes on demand; O(2^level)
/// per read). For tests and small trees.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    /// The leaf hashes.
    pub leaves: Vec<Hash>,
}

impl NodeSource for MemoryTree {
    type Error = ();
    fn perfect(&self, level: u32, index: u64) -> Result<Hash, ()> {
        if level >= 63 {
            return Err(());
        }
        let start = index.checked_shl(level).ok_or(())?;
        let end = start.checked_add(1u64 << level).ok_or(())?;
        let s = usize::try_from(start).map_err(|_| ())?;
        let e = usize::try_from(end).map_err(|_| ())?;
        let slice = self.leaves.get(s..e).ok_or(())?;
        Ok(mth(slice))
    }
}

/// The Merkle tree hash of a list of leaf hashes, by the RFC's recursive definition.
pub fn mth(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [one] => *one,
        _ => {
            let k = split_point(leaves.len() as u64) as usize;
            let (l, r) = leaves.split_at(k);
            node_hash(&mth(l), &mth(r))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The eight leaf inputs of the RFC 6962 reference test data (certificate-transparency).
    fn inputs() -> Vec<Vec<u8>> {
        vec![
            vec![],
            vec![0x00],
            vec![0x10],
            vec![0x20, 0x21],
            vec![0x30, 0x31],
            vec![0x40, 0x41, 0x42, 0x43],
            vec![0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
            (0x60..=0x6f).collect(),
        ]
    }

    // Roots of the first n of those leaves, computed independently with Python's hashlib.
    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn tree(n: usize) -> MemoryTree {
        MemoryTree {
            leaves: (0..n)
                .map(|i| leaf_hash(&(i as u64).to_be_bytes()))
                .collect(),
        }
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Frontier::new().root(), empty_root());
    }

    #[test]
    fn roots_match_the_reference_vectors() {
        let leaves: Vec<Hash> = inputs().iter().map(|d| leaf_hash(d)).collect();
        let mut f = Frontier::new();
        for (i, l) in leaves.iter().enumerate() {
            f.push(*l);
            assert_eq!(hex::encode(f.root()), ROOTS[i], "size {}", i + 1);
            assert_eq!(hex::encode(mth(&leaves[..=i])), ROOTS[i]);
        }
    }

    #[test]
    fn inclusion_proofs_match_reference_vectors() {
        // Proof for leaf 0 in the tree of 8 (derived with Python from the same data).
        let t = MemoryTree {
            leaves: inputs().iter().map(|d| leaf_hash(d)).collect(),
        };
        let p = inclusion_proof(&t, 0, 8).unwrap().unwrap();
        let hexes: Vec<String> = p.iter().map(hex::encode).collect();
        assert_eq!(
            hexes,
            [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ]
        );
        // Consistency proof 6 → 8.
        let c = consistency_proof(&t, 6, 8).unwrap().unwrap();
        let hexes: Vec<String> = c.iter().map(hex::encode).collect();
        assert_eq!(
            hexes,
            [
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ]
        );
    }

    #[test]
    fn every_inclusion_proof_verifies_and_wrong_ones_do_not() {
        for n in 1..=40u64 {
            let t = tree(n as usize);
            let root = mth(&t.leaves);
            for i in 0..n {
                let p = inclusion_proof(&t, i, n).unwrap().unwrap();
                let leaf = t.leaves[i as usize];
                assert!(verify_inclusion(i, n, &leaf, &p, &root), "{i} in {n}");
                assert!(!verify_inclusion(i, n, &leaf, &p, &[7; 32]));
                if n > 1 {
                    assert!(!verify_inclusion((i + 1) % n, n, &leaf, &p, &root));
                    assert!(!verify_inclusion(i, n, &[9; 32], &p, &root));
                }
                let mut longer = p.clone();
                longer.push([0; 32]);
                assert!(!verify_inclusion(i, n, &leaf, &longer, &root));
            }
            assert!(inclusion_proof(&t, n, n).unwrap().is_none());
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_wrong_ones_do_not() {
        let t = tree(40);
        for new in 1..=40u64 {
            let new_root = mth(&t.leaves[..new as usize]);
            for old in 0..=new {
                let old_root = mth(&t.leaves[..old as usize]);
                let p = consistency_proof(&t, old, new).unwrap().unwrap();
                assert!(
                    verify_consistency(old, new, &old_root, &new_root, &p),
                    "{old} → {new}"
                );
                if old > 0 && old < new {
                    assert!(!verify_consistency(old, new, &[3; 32], &new_root, &p));
                    assert!(!verify_consistency(old, new, &old_root, &[3; 32], &p));
                    let mut bad = p.clone();
                    bad[0][0] ^= 1;
                    assert!(!verify_consistency(old, new, &old_root, &new_root, &bad));
                }
            }
        }
    }

    #[test]
    fn frontier_matches_recursive_definition_and_reports_nodes() {
        let t = tree(300);
        let mut f = Frontier::new();
        let mut levels: Vec<Vec<Hash>> = vec![Vec::new(); 10];
        for (i, l) in t.leaves.iter().enumerate() {
            f.push_with(*l, |level, index, h| {
                assert_eq!(levels[level as usize].len() as u64, index);
                levels[level as usize].push(*h);
            });
            assert_eq!(f.root(), mth(&t.leaves[..=i]));
        }
        for (level, hs) in levels.iter().enumerate() {
            for (index, h) in hs.iter().enumerate() {
                assert_eq!(*h, t.perfect(level as u32, index as u64).unwrap());
            }
        }
        assert_eq!(Frontier::load(&t, 300).unwrap(), f);
    }

    #[test]
    fn compact_ranges_extend_a_frontier() {
        let t = tree(70);
        for start in 0..=70u64 {
            for end in start..=70u64 {
                let mut f = Frontier::load(&t, start).unwrap();
                for (level, index) in compact_range(start, end) {
                    assert!(f.push_subtree(level, t.perfect(level, index).unwrap()));
                }
                assert_eq!(f.root(), mth(&t.leaves[..end as usize]), "{start}..{end}");
            }
        }
    }
}
