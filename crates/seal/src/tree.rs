//! On-disk store of perfect subtree hashes: one append-only file per tree level
//! (`tree/level-NN.bin`, 32 bytes per node). Level 0 holds the leaf hashes. About 64 bytes per
//! record in total; every proof reads O(log n) nodes. Derived data: rebuilt from the segments
//! after a crash, and synced before each tree head is signed.

use crate::error::{SealError, io};
use crate::merkle::{Hash, NodeSource};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

struct Level {
    path: PathBuf,
    file: File,
    /// Nodes written to the file.
    written: u64,
    /// Nodes not yet written.
    pending: Vec<u8>,
}

/// The level files of one log.
pub(crate) struct TreeStore {
    dir: PathBuf,
    levels: Vec<Level>,
}

impl TreeStore {
    pub(crate) fn open(dir: &Path) -> Result<Self, SealError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut s = Self {
            dir: dir.to_path_buf(),
            levels: Vec::new(),
        };
        while s.dir.join(level_name(s.levels.len())).exists() {
            s.add_level()?;
        }
        Ok(s)
    }

    fn add_level(&mut self) -> Result<(), SealError> {
        let path = self.dir.join(level_name(self.levels.len()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        let len = file.metadata().map_err(io(&path))?.len();
        self.levels.push(Level {
            path,
            file,
            written: len / 32,
            pending: Vec::new(),
        });
        Ok(())
    }

    /// Nodes stored at `level` (written or pending).
    pub(crate) fn count(&self, level: u32) -> u64 {
        self.levels
            .get(level as usize)
            .map_or(0, |l| l.written + l.pending.len() as u64 / 32)
    }

    /// Cuts every level `k` to `size >> k` nodes (drops pending nodes first).
    pub(crate) fn truncate_to(&mut self, size: u64) -> Result<(), SealError> {
        for (k, l) in self.levels.iter_mut().enumerate() {
            l.pending.clear();
            let keep = (size >> k).min(l.written);
            l.file.set_len(keep * 32).map_err(io(&l.path))?;
            l.written = keep;
        }
        Ok(())
    }

    /// Queues a node; `index` must be the next index of its level.
    pub(crate) fn put(&mut self, level: u32, index: u64, hash: &Hash) -> Result<(), SealError> {
        while self.levels.len() <= level as usize {
            self.add_level()?;
        }
        let count = self.count(level);
        let l = self
            .levels
            .get_mut(level as usize)
            .ok_or(SealError::Poisoned)?;
        if count != index {
            return Err(SealError::Damaged {
                index: index << level,
                what: format!("tree level {level} has {count} nodes, expected {index}"),
            });
        }
        l.pending.extend_from_slice(hash);
        Ok(())
    }

    /// Writes queued nodes (no fsync).
    pub(crate) fn flush(&mut self) -> Result<(), SealError> {
        for l in &mut self.levels {
            if !l.pending.is_empty() {
                l.file
                    .write_all_at(&l.pending, l.written * 32)
                    .map_err(io(&l.path))?;
                l.written += l.pending.len() as u64 / 32;
                l.pending.clear();
            }
        }
        Ok(())
    }

    /// Writes and fsyncs every level.
    pub(crate) fn sync(&mut self) -> Result<(), SealError> {
        self.flush()?;
        for l in &self.levels {
            l.file.sync_data().map_err(io(&l.path))?;
        }
        Ok(())
    }
}

fn level_name(k: usize) -> String {
    format!("level-{k:02}.bin")
}

impl NodeSource for TreeStore {
    type Error = SealError;

    fn perfect(&self, level: u32, index: u64) -> Result<Hash, SealError> {
        let missing = || SealError::Damaged {
            index: index.checked_shl(level).unwrap_or(u64::MAX),
            what: format!("tree node {level}/{index} is missing"),
        };
        let l = self.levels.get(level as usize).ok_or_else(missing)?;
        let mut h = [0u8; 32];
        if index < l.written {
            l.file
                .read_exact_at(&mut h, index * 32)
                .map_err(io(&l.path))?;
        } else {
            let at = usize::try_from((index - l.written) * 32).map_err(|_| missing())?;
            let src = l.pending.get(at..at + 32).ok_or_else(missing)?;
            h.copy_from_slice(src);
        }
        Ok(h)
    }
}
