//! Group commit across threads: many callers append one record each, and whichever caller finds
//! no commit in progress becomes the leader and writes everything queued as one batch with one
//! fsync. Every caller returns only after the batch holding its record is durable.

use crate::error::SealError;
use crate::log::SealedLog;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

#[derive(Default)]
struct State {
    /// Payloads waiting for the next batch.
    queue: Vec<Vec<u8>>,
    /// Ticket of the first queued payload.
    queue_first_ticket: u64,
    /// A leader is writing a batch.
    committing: bool,
    /// Finished batches: first ticket → (tickets, first index or None on failure, waiters left).
    done: BTreeMap<u64, (u64, Option<u64>, u64)>,
}

/// A [`SealedLog`] shared by threads, with leader/follower group commit.
pub struct GroupCommitter {
    log: Mutex<SealedLog>,
    state: Mutex<State>,
    cv: Condvar,
    max_payload: usize,
}

impl std::fmt::Debug for GroupCommitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommitter").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl GroupCommitter {
    /// Wraps an open log. `max_payload` must match the log's [`crate::SealOptions::max_payload`].
    pub fn new(log: SealedLog, max_payload: u32) -> Self {
        Self {
            log: Mutex::new(log),
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
            max_payload: max_payload as usize,
        }
    }

    /// Appends one record received at `now_ms`; returns its index once it is durable.
    /// If the batch it was in failed, returns [`SealError::Poisoned`] (reopen the log).
    pub fn append(&self, now_ms: i64, payload: Vec<u8>) -> Result<u64, SealError> {
        if payload.len() > self.max_payload {
            return Err(SealError::PayloadTooLarge {
                position: 0,
                len: payload.len(),
                max: self.max_payload as u32,
            });
        }
        let mut st = lock(&self.state);
        let ticket = st.queue_first_ticket + st.queue.len() as u64;
        st.queue.push(payload);
        loop {
            if let Some((&first, _)) = st.done.range(..=ticket).next_back()
                && let Some(entry) = st.done.get_mut(&first)
                && ticket < first + entry.0
            {
                let result = entry.1.map(|start| start + (ticket - first));
                entry.2 -= 1;
                if entry.2 == 0 {
                    st.done.remove(&first);
                }
                return result.ok_or(SealError::Poisoned);
            }
            if st.committing {
                st = self.cv.wait(st).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            // Become the leader for everything queued (which includes our record).
            st.committing = true;
            let batch = std::mem::take(&mut st.queue);
            let first = st.queue_first_ticket;
            let n = batch.len() as u64;
            st.queue_first_ticket += n;
            drop(st);
            let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
            let result: Result<Range<u64>, SealError> = lock(&self.log).append_batch(now_ms, &refs);
            st = lock(&self.state);
            st.committing = false;
            let start = result.as_ref().ok().map(|r| r.start);
            st.done.insert(first, (n, start, n));
            self.cv.notify_all();
            if let Err(e) = result {
                // The leader reports the real error; the others see `Poisoned`.
                if let Some(entry) = st.done.get_mut(&first) {
                    entry.2 -= 1;
                    if entry.2 == 0 {
                        st.done.remove(&first);
                    }
                }
                return Err(e);
            }
        }
    }

    /// Runs `f` on the log (reads, proofs, export, `tick`, `sign_head`), between batches.
    pub fn with_log<T>(&self, f: impl FnOnce(&mut SealedLog) -> T) -> T {
        f(&mut lock(&self.log))
    }

    /// Returns the log (e.g. to [`SealedLog::close`] it).
    pub fn into_inner(self) -> SealedLog {
        self.log
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
