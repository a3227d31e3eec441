//! Appending, reading, proofs, heads, keys, export from the middle, retention and reopening.

use super::{build, export, opts, payload};
use mamori_seal::merkle::{self, leaf_hash, mth, verify_consistency, verify_inclusion};
use mamori_seal::{SealError, SealedLog, verify_bundle};
use std::os::unix::fs::PermissionsExt;

#[test]
fn appended_records_read_back_and_the_root_matches_the_rfc_definition() {
    let dir = tempfile::tempdir().unwrap();
    let log = build(dir.path(), 500, 37, opts());
    assert_eq!(log.size(), 500);
    let mut leaves = Vec::new();
    for i in 0..500 {
        let r = log.read(i).unwrap();
        assert_eq!(r.seq, i);
        assert_eq!(r.payload, payload(i));
        assert_eq!(r.leaf_hash(), log.leaf_hash(i).unwrap());
        leaves.push(r.leaf_hash());
    }
    assert_eq!(log.head().root, mth(&leaves));
    for n in [1u64, 2, 3, 64, 100, 255, 256, 257, 499] {
        assert_eq!(log.root_at(n).unwrap(), mth(&leaves[..n as usize]));
    }
    // Leaf data is seq | recv_ms | SHA-256(payload).
    let r = log.read(3).unwrap();
    let mut data = Vec::new();
    data.extend_from_slice(&3u64.to_be_bytes());
    data.extend_from_slice(&r.recv_ms.to_be_bytes());
    data.extend_from_slice(&r.payload_hash);
    assert_eq!(leaf_hash(&data), r.leaf_hash());
    assert!(matches!(log.read(500), Err(SealError::OutOfRange { .. })));
}

#[test]
fn proofs_verify_against_signed_heads() {
    let dir = tempfile::tempdir().unwrap();
    let log = build(dir.path(), 300, 50, opts());
    let heads = log.signed_heads().unwrap();
    assert_eq!(heads.len(), 6);
    for h in &heads {
        assert!(h.verify(&log.public_key()));
        for i in (0..h.tree_size).step_by(7) {
            let p = log.inclusion_proof(i, h.tree_size).unwrap();
            assert!(verify_inclusion(
                i,
                h.tree_size,
                &log.leaf_hash(i).unwrap(),
                &p,
                &h.root
            ));
        }
    }
    for a in &heads {
        for b in &heads {
            if a.tree_size <= b.tree_size {
                let p = log.consistency_proof(a.tree_size, b.tree_size).unwrap();
                assert!(verify_consistency(
                    a.tree_size,
                    b.tree_size,
                    &a.root,
                    &b.root,
                    &p
                ));
            }
        }
    }
    assert_eq!(log.inclusion_proof(5, 301).unwrap_err().code(), "SEAL0005");
}

#[test]
fn heads_are_signed_on_the_interval_and_on_close() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, report) = SealedLog::open(dir.path(), opts()).unwrap();
    assert!(report.key_created);
    log.append_batch(10_000, &[b"a"]).unwrap(); // first append signs at once
    assert_eq!(log.signed_head().unwrap().tree_size, 1);
    log.append_batch(10_500, &[b"b"]).unwrap(); // within the interval: not yet
    assert_eq!(log.signed_head().unwrap().tree_size, 1);
    assert!(log.tick(10_900).unwrap().is_none());
    let h = log.tick(11_000).unwrap().unwrap();
    assert_eq!((h.tree_size, h.signed_at_ms), (2, 11_000));
    assert!(log.tick(20_000).unwrap().is_none()); // nothing new
    log.append_batch(20_100, &[b"c"]).unwrap();
    log.close(20_200).unwrap();
    let (log, report) = SealedLog::open(dir.path(), opts()).unwrap();
    assert!(!report.key_created);
    assert_eq!(report.signed_size, 3);
    assert_eq!(log.signed_head().unwrap().root, log.head().root);
}

#[test]
fn the_key_is_private_printable_and_refused_when_readable_by_others() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = SealedLog::open(dir.path(), opts()).unwrap();
    let key_path = dir.path().join("seal.key");
    let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let pk = log.public_key();
    assert_eq!(pk.hex().len(), 64);
    let fp = pk.fingerprint();
    assert_eq!(fp.len(), 24, "{fp}");
    assert_eq!(fp.split('-').count(), 5);
    assert_eq!(mamori_seal::PublicKey::from_hex(&pk.hex()), Some(pk));
    drop(log);
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = SealedLog::open(dir.path(), opts()).unwrap_err();
    assert_eq!(err.code(), "SEAL0002");
}

#[test]
fn a_too_large_payload_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts();
    o.max_payload = 100;
    let (mut log, _) = SealedLog::open(dir.path(), o.clone()).unwrap();
    let big = vec![0u8; 101];
    let err = log.append_batch(1, &[b"ok", &big]).unwrap_err();
    assert_eq!(err.code(), "SEAL0004");
    assert_eq!(log.size(), 0);
    drop(log);
    let (log, _) = SealedLog::open(dir.path(), o).unwrap();
    assert_eq!(log.size(), 0);
}

#[test]
fn a_bundle_from_the_middle_verifies_against_a_head_over_the_whole_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = build(dir.path(), 1000, 100, opts());
    for range in [
        0..1000,
        0..0,
        0..1,
        137..733,
        999..1000,
        100..200,
        500..500,
        1000..1000,
    ] {
        let b = export(&log, range.clone());
        let report = verify_bundle(&b[..], Some(log.public_key().0)).unwrap();
        assert_eq!((report.start, report.end), (range.start, range.end));
        assert!(report.anchor.tree_size >= range.end);
        assert_eq!(report.fingerprint, log.public_key().fingerprint());
        assert_eq!(report.bytes, b.len() as u64);
    }
}

#[test]
fn export_beyond_the_last_signed_head_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts();
    o.head_interval_ms = 1_000_000;
    let (mut log, _) = SealedLog::open(dir.path(), o).unwrap();
    log.append_batch(1, &[b"a", b"b"]).unwrap();
    log.append_batch(2, &[b"c"]).unwrap();
    assert_eq!(log.signed_head().unwrap().tree_size, 2);
    let err = log.export(0..3, Vec::new()).unwrap_err();
    assert_eq!(err.code(), "SEAL0007");
    log.sign_head(3).unwrap();
    assert!(log.export(0..3, Vec::new()).is_ok());
}

#[test]
fn pruning_leaves_a_signed_deletion_record_and_proofs_stay_valid() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = build(dir.path(), 2000, 100, opts());
    let segments_before = seg_count(dir.path());
    let old_head = log.signed_head().unwrap();
    // Records of batch k were received at 1000 * (k + 1); keep the last 5 seconds' worth.
    let d = log
        .prune_older_than(20_000, 5_000, "retention test")
        .unwrap()
        .unwrap();
    assert!(d.verify(&log.public_key()));
    assert!(d.first_kept > 0 && d.first_kept <= 1500, "{}", d.first_kept);
    assert_eq!(log.first_index(), d.first_kept);
    assert!(seg_count(dir.path()) < segments_before);
    assert_eq!(log.read(d.first_kept - 1).unwrap_err().code(), "SEAL0006");
    assert_eq!(
        log.read(d.first_kept).unwrap().payload,
        payload(d.first_kept)
    );
    // Proofs for pruned and kept records still verify against the old head.
    for i in [0, d.first_kept - 1, d.first_kept, 1999] {
        let p = log.inclusion_proof(i, old_head.tree_size).unwrap();
        assert!(verify_inclusion(
            i,
            old_head.tree_size,
            &log.leaf_hash(i).unwrap(),
            &p,
            &old_head.root
        ));
    }
    // New records after pruning; reopen; export what remains.
    log.append_batch(30_000, &[b"after"]).unwrap();
    log.close(30_001).unwrap();
    let (log, report) = SealedLog::open(dir.path(), opts()).unwrap();
    assert_eq!(report.first_index, d.first_kept);
    assert_eq!(log.deletions().len(), 1);
    let b = export(&log, d.first_kept..log.size());
    let r = verify_bundle(&b[..], Some(log.public_key().0)).unwrap();
    assert_eq!(r.deletions, vec![d.clone()]);
    assert_eq!(
        log.export(0..10, Vec::new()).unwrap_err().code(),
        "SEAL0006"
    );
    let new_head = log.signed_head().unwrap();
    let p = log
        .consistency_proof(old_head.tree_size, new_head.tree_size)
        .unwrap();
    assert!(verify_consistency(
        old_head.tree_size,
        new_head.tree_size,
        &old_head.root,
        &new_head.root,
        &p
    ));
    let _ = merkle::empty_root();
}

#[test]
fn an_interrupted_prune_is_finished_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = build(dir.path(), 1000, 100, opts());
    let first_seg = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("seg-"))
        .min()
        .unwrap();
    let saved = std::fs::read(&first_seg).unwrap();
    let d = log.prune_before(500, 50_000, "test").unwrap().unwrap();
    drop(log);
    std::fs::write(&first_seg, saved).unwrap(); // as if the crash came before the delete
    let (log, report) = SealedLog::open(dir.path(), opts()).unwrap();
    assert_eq!(report.finished_prune_segments, 1);
    assert_eq!(log.first_index(), d.first_kept);
}

#[test]
fn reopening_rebuilds_lost_tree_files() {
    let dir = tempfile::tempdir().unwrap();
    let log = build(dir.path(), 700, 70, opts());
    let root = log.head().root;
    drop(log);
    std::fs::remove_dir_all(dir.path().join("tree")).unwrap();
    let (log, report) = SealedLog::open(dir.path(), opts()).unwrap();
    assert_eq!(report.rebuilt_leaves, 700);
    assert_eq!(log.head().root, root);
}

fn seg_count(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_str().unwrap().starts_with("seg-"))
        .count()
}

#[test]
fn a_torn_tail_is_cut_back_to_the_last_complete_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts();
    o.segment_bytes = 1 << 20;
    o.head_interval_ms = 1_000_000;
    let mut log = build(dir.path(), 100, 100, o.clone());
    let root100 = log.head().root;
    let ps: Vec<Vec<u8>> = (100..110).map(payload).collect();
    let refs: Vec<&[u8]> = ps.iter().map(Vec::as_slice).collect();
    log.append_batch(5_000, &refs).unwrap(); // not signed: the interval has not passed
    assert_eq!(log.signed_head().unwrap().tree_size, 100);
    drop(log);
    let seg = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("seg-"))
        .unwrap();
    let full = std::fs::read(&seg).unwrap();
    let end100 = {
        // Offsets of record ends, from the frame lengths.
        let mut ends = vec![];
        let mut p = 16usize;
        while p < full.len() {
            let len = u32::from_be_bytes(full[p..p + 4].try_into().unwrap()) as usize;
            p += 56 + len;
            ends.push(p);
        }
        ends
    };
    assert_eq!(end100.len(), 110);
    for cut in [
        end100[99] + 1,
        end100[99] + 57,
        end100[104] - 1,
        end100[104] + 30,
        full.len() - 1,
    ] {
        for garbage in [false, true] {
            let mut torn = full[..cut].to_vec();
            if garbage {
                torn.extend_from_slice(&[0u8; 700]); // power loss: zero-filled blocks
            }
            std::fs::write(&seg, &torn).unwrap();
            let (log, report) = SealedLog::open(dir.path(), o.clone()).unwrap();
            let complete = end100.iter().filter(|e| **e <= cut).count() as u64;
            assert_eq!(log.size(), complete, "cut at {cut}");
            assert_eq!(
                report.truncated_bytes,
                torn.len() as u64 - end100[complete as usize - 1] as u64
            );
            assert_eq!(log.root_at(100).unwrap(), root100);
            for i in 0..complete {
                assert_eq!(log.read(i).unwrap().payload, payload(i));
            }
        }
    }
    // A cut below the signed head is not a torn tail: it is refused.
    std::fs::write(&seg, &full[..end100[50] + 3]).unwrap();
    let err = SealedLog::open(dir.path(), o).unwrap_err();
    assert_eq!(err.code(), "SEAL0008", "{err}");
}

#[test]
fn concurrent_single_record_appends_share_commits_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = SealedLog::open(dir.path(), opts()).unwrap();
    let c = std::sync::Arc::new(mamori_seal::GroupCommitter::new(log, opts().max_payload));
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let c = c.clone();
            std::thread::spawn(move || {
                (0..150u64)
                    .map(|k| {
                        let p = format!("thread {t} record {k}").into_bytes();
                        (c.append(1000 + k as i64, p.clone()).unwrap(), p)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<(u64, Vec<u8>)> = threads
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort();
    assert_eq!(all.len(), 1200);
    for (n, (index, p)) in all.iter().enumerate() {
        assert_eq!(*index, n as u64);
        assert_eq!(&c.with_log(|l| l.read(*index).unwrap().payload), p);
    }
    let big = vec![0u8; opts().max_payload as usize + 1];
    assert_eq!(c.append(1, big).unwrap_err().code(), "SEAL0004");
    let c = std::sync::Arc::try_unwrap(c).unwrap();
    let log = c.into_inner();
    assert_eq!(log.size(), 1200);
    log.close(99_999).unwrap();
}

#[test]
fn a_time_is_found_by_search_and_agrees_with_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    // 1,000 records in batches of 7, received 1 s apart (so several records share a time), over
    // many small segments.
    let mut log = build(dir.path(), 1000, 7, opts());
    let times: Vec<i64> = (0..1000).map(|i| log.read(i).unwrap().recv_ms).collect();
    let scan = |log: &SealedLog, t: i64| {
        (log.first_index()..log.size())
            .find(|&i| times[i as usize] >= t)
            .unwrap_or(log.size())
    };
    for t in (-1000..=146_000)
        .step_by(333)
        .chain([0, 1000, 1001, 143_000, 143_001])
    {
        assert_eq!(log.index_at_time(t).unwrap(), scan(&log, t), "t = {t}");
    }
    // Every index found starts its batch: a time inside a batch gives the batch's first record.
    assert_eq!(log.index_at_time(2000).unwrap(), 7);
    assert_eq!(log.index_at_time(1500).unwrap(), 7);
    assert_eq!(log.index_at_time(i64::MIN).unwrap(), 0);
    assert_eq!(log.index_at_time(i64::MAX).unwrap(), 1000);

    // After retention, pruned records are not searched.
    let d = log.prune_before(500, 200_000, "test").unwrap().unwrap();
    assert!(d.first_kept > 0);
    assert_eq!(log.index_at_time(0).unwrap(), d.first_kept);
    for t in (0..=146_000).step_by(997) {
        assert_eq!(log.index_at_time(t).unwrap(), scan(&log, t), "t = {t}");
    }
    // Reopened: the segments' times come back from the files.
    drop(log);
    let (log, _) = SealedLog::open(dir.path(), opts()).unwrap();
    for t in (0..=146_000).step_by(1009) {
        assert_eq!(log.index_at_time(t).unwrap(), scan(&log, t), "t = {t}");
    }
}

#[test]
fn a_time_search_on_an_empty_log_or_a_clock_that_went_back_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = SealedLog::open(dir.path(), opts()).unwrap();
    assert_eq!(log.index_at_time(0).unwrap(), 0);
    for (t, n) in [(5000i64, 3usize), (3000, 2), (9000, 4)] {
        let ps: Vec<Vec<u8>> = (0..n as u64).map(payload).collect();
        let refs: Vec<&[u8]> = ps.iter().map(Vec::as_slice).collect();
        log.append_batch(t, &refs).unwrap();
    }
    for t in [0, 3000, 4000, 5000, 6000, 9000, 10_000] {
        let i = log.index_at_time(t).unwrap();
        assert!(i <= log.size(), "t = {t}: {i}");
    }
    assert_eq!(log.index_at_time(0).unwrap(), 0);
    assert_eq!(log.index_at_time(9000).unwrap(), 5);
    assert_eq!(log.index_at_time(10_000).unwrap(), 9);
}
