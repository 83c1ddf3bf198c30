//! The cap on sessions, and who gives way when the folder is full.
//!
//! `--max-sessions` (default 100,000) caps the session files, so no client
//! can fill the disk. When the folder holds that many, a session never
//! used after it was made (a visitor who came once, a script) gives up its
//! place, oldest first; one in use never does. NOTES.md, "When the sessions
//! folder is full", says why and what it costs.

use std::collections::VecDeque;
use std::fs;
use std::io::ErrorKind;
use std::sync::MutexGuard;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{SessionError, SessionId, SessionStore};
use crate::mutex::lock_even_if_poisoned;

/// How long login remembers the id it replaced (see `was_replaced`).
const REPLACED_MEMORY: Duration = Duration::from_secs(10);
/// At most this many replaced ids are remembered; the oldest go first.
const MAX_REPLACED_REMEMBERED: usize = 4096;
/// The folder is counted again at most this often when it looks full.
const RECOUNT_INTERVAL: Duration = Duration::from_secs(1);
/// At most this many never-used sessions are kept as candidates to evict.
const MAX_EVICTION_CANDIDATES: usize = 10_000;

/// What this process knows about how full the folder is.
#[derive(Default)]
pub struct Capacity {
    /// Session files in the folder: counted at start, at each sweep and
    /// when the cap seems reached; in between, this process's own creates
    /// and deletes are added and taken away.
    pub(super) live: usize,
    counted_at: Option<Instant>,
    /// Never-used sessions, oldest first: the first to go when full.
    unused_oldest_first: VecDeque<SessionId>,
}

impl SessionStore {
    pub(super) fn capacity(&self) -> MutexGuard<'_, Capacity> {
        lock_even_if_poisoned(&self.capacity)
    }

    /// Counts one more session in, making room if the folder is full: a
    /// never-used session gives way (the oldest first); if none can, the
    /// answer is `Full`.
    pub(super) fn reserve_place(&self) -> Result<(), SessionError> {
        loop {
            let candidate = {
                let mut capacity = self.capacity();
                if capacity.live < self.settings.max_sessions {
                    capacity.live += 1;
                    return Ok(());
                }
                let recounted_lately = capacity
                    .counted_at
                    .is_some_and(|at| at.elapsed() < RECOUNT_INTERVAL);
                if !recounted_lately {
                    self.count_sessions(&mut capacity);
                    continue;
                }
                match capacity.unused_oldest_first.pop_front() {
                    Some(candidate) => candidate,
                    None => return Err(SessionError::Full(self.settings.max_sessions)),
                }
            };
            // The capacity lock is released before a session lock is taken:
            // the two are always taken in the order session, then capacity.
            self.evict_if_unused(&candidate);
        }
    }

    /// Gives back a place `reserve_place` counted (the write failed).
    pub(super) fn release_place(&self) {
        let mut capacity = self.capacity();
        capacity.live = capacity.live.saturating_sub(1);
    }

    /// A new session is unused until someone brings its cookie back.
    pub(super) fn note_unused(&self, id: &SessionId) {
        let mut capacity = self.capacity();
        if capacity.unused_oldest_first.len() < MAX_EVICTION_CANDIDATES {
            capacity.unused_oldest_first.push_back(id.clone());
        }
    }

    /// Deletes `candidate` if it is still a never-used session. If its file
    /// is gone already (a logout through another process, a person), the
    /// count was one too high, and is corrected.
    fn evict_if_unused(&self, candidate: &SessionId) {
        let Ok(lock) = self.lock(candidate) else {
            return;
        };
        match fs::symlink_metadata(self.path_of(candidate)) {
            Ok(metadata) if metadata.modified().is_ok_and(is_unused) => {
                let _ = self.destroy(&lock);
            }
            Ok(_) => {}
            Err(error) if error.kind() == ErrorKind::NotFound => {
                let mut capacity = self.capacity();
                capacity.live = capacity.live.saturating_sub(1);
            }
            Err(_) => {}
        }
    }

    /// Counts the session files in the folder and lists the never-used
    /// ones, oldest first. Reads only the folder and each file's times.
    pub(super) fn count_sessions(&self, capacity: &mut Capacity) {
        let mut live = 0;
        let mut unused: Vec<(SystemTime, SessionId)> = Vec::new();
        if let Ok(entries) = fs::read_dir(&self.settings.dir) {
            for entry in entries.flatten() {
                let Some(id) = SessionId::parse(&entry.file_name().to_string_lossy()) else {
                    continue;
                };
                live += 1;
                if let Ok(modified) = entry.metadata().and_then(|m| m.modified())
                    && is_unused(modified)
                {
                    unused.push((modified, id));
                }
            }
        }
        unused.sort_by_key(|(modified, _)| *modified);
        unused.truncate(MAX_EVICTION_CANDIDATES);
        capacity.live = live;
        capacity.counted_at = Some(Instant::now());
        capacity.unused_oldest_first = unused.into_iter().map(|(_, id)| id).collect();
    }

    /// Remembers that login just replaced `id` (see `was_replaced`).
    pub(super) fn remember_replaced(&self, id: &SessionId) {
        let mut replaced = lock_even_if_poisoned(&self.replaced);
        while replaced
            .front()
            .is_some_and(|(_, at)| at.elapsed() > REPLACED_MEMORY)
            || replaced.len() >= MAX_REPLACED_REMEMBERED
        {
            replaced.pop_front();
        }
        replaced.push_back((id.clone(), Instant::now()));
    }

    /// Whether login replaced `id` in the last few seconds. A request that
    /// still carries it was sent before the browser saw the new cookie (an
    /// add to cart racing the login, say). It must not start a new session,
    /// whose cookie would replace the login's, nor reach the new session,
    /// which would let whoever planted the old id ride into it (fixation).
    pub fn was_replaced(&self, id: &SessionId) -> bool {
        let replaced = lock_even_if_poisoned(&self.replaced);
        replaced
            .iter()
            .any(|(old, at)| old == id && at.elapsed() <= REPLACED_MEMORY)
    }
}

/// A new session's file gets the modification time of its `created=`
/// second exactly, nanoseconds zero; every later use (a read, a save)
/// moves it to the present, which has nanoseconds. So a file whose time
/// still has zero nanoseconds was never used after it was made: a visitor
/// who came once, or a script making sessions. Those go first when the
/// folder is full (NOTES.md, "When the sessions folder is full").
pub(super) fn is_unused(modified: SystemTime) -> bool {
    modified
        .duration_since(UNIX_EPOCH)
        .is_ok_and(|since| since.subsec_nanos() == 0)
}
