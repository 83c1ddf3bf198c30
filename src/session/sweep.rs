//! Expired sessions, removed in the background.
//!
//! A session unused for `--session-ttl` (the file's modification time says
//! when it was last used), or older than `--session-lifetime` (its
//! `created=` line), is gone: `load` ignores it at once. The sweeper
//! thread (server.rs) deletes idle files by their time alone, reading no
//! file's contents; a file past its lifetime but still in use is caught
//! when used, and goes once idle. The sweep also counts the folder again,
//! so the shared count catches up with files people deleted by hand.
//!
//! A big folder makes a sweep long, so sweeps are spaced at least 25
//! times their own length apart, and a sweep with much to do pauses after
//! every thousand files for 24 times as long as they took: never more
//! than 4% of a core, even while a million expired files go.

use std::fs;
use std::time::{Duration, Instant, SystemTime};

use super::SessionFolder;
use super::{SessionId, secs_between};
use crate::mutex::lock_even_if_poisoned;

/// A sweep rests after this many files (see the module doc).
const SWEEP_BATCH: usize = 1000;
/// ...for this many times as long as the batch took.
const REST_PER_WORK: u32 = 24;

impl SessionFolder {
    /// How long the sweeper waits before its next sweep.
    pub fn sweep_interval(&self) -> Duration {
        let shortest = self.settings.ttl_secs.min(self.settings.lifetime_secs);
        let wanted = Duration::from_secs((shortest / 2).clamp(1, 60));
        wanted.max(*lock_even_if_poisoned(&self.last_sweep) * 25)
    }

    /// Deletes every idle session file; returns how many. Each file is
    /// checked again under its lock, so a session in use is never removed
    /// from under a request.
    pub fn remove_expired(&self) -> usize {
        let Ok(entries) = fs::read_dir(&self.settings.dir) else {
            return 0;
        };
        let mut removed = 0;
        let mut counted = 0;
        // The time spent working, rests left out: what spaces the sweeps.
        let mut busy = Duration::ZERO;
        let mut batch_started = Instant::now();
        for (n, entry) in entries.flatten().enumerate() {
            if n > 0 && n % SWEEP_BATCH == 0 {
                let batch = batch_started.elapsed();
                busy += batch;
                std::thread::sleep(batch * REST_PER_WORK);
                batch_started = Instant::now();
            }
            let Some(id) = SessionId::parse(&entry.file_name().to_string_lossy()) else {
                continue;
            };
            counted += 1;
            // The entry's time, from the folder's own listing: no open.
            let is_idle = |metadata: std::io::Result<fs::Metadata>| {
                metadata
                    .and_then(|metadata| metadata.modified())
                    .is_ok_and(|modified| self.is_idle_since(modified))
            };
            if !is_idle(entry.metadata()) {
                continue;
            }
            let Ok(Some(lock)) = self.lock(&id) else {
                continue;
            };
            if is_idle(fs::symlink_metadata(self.path_of(&id)))
                && self.destroy(&lock).unwrap_or(false)
            {
                removed += 1;
                counted -= 1;
            }
        }
        // Hand-made changes to the folder: the count catches up.
        let _ = self.change_count(|count| *count = counted);
        busy += batch_started.elapsed();
        *lock_even_if_poisoned(&self.last_sweep) = busy;
        removed
    }

    fn is_idle_since(&self, last_used: SystemTime) -> bool {
        secs_between(last_used, SystemTime::now()) > self.settings.ttl_secs
    }
}
