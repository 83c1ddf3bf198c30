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
//! times their own length apart: never more than 4% of a core.

use std::fs;
use std::time::{Duration, Instant, SystemTime};

use super::SessionFolder;
use super::{SessionId, secs_between};
use crate::mutex::lock_even_if_poisoned;

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
        let started = Instant::now();
        let Ok(entries) = fs::read_dir(&self.settings.dir) else {
            return 0;
        };
        let mut removed = 0;
        let mut counted = 0;
        for entry in entries.flatten() {
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
        *lock_even_if_poisoned(&self.last_sweep) = started.elapsed();
        removed
    }

    fn is_idle_since(&self, last_used: SystemTime) -> bool {
        secs_between(last_used, SystemTime::now()) > self.settings.ttl_secs
    }
}
