//! Expired sessions, removed in the background.
//!
//! A session unused for `--session-ttl` (the file's modification time says
//! when it was last used), or older than `--session-lifetime` (its
//! `created=` line), is gone: `load` ignores it at once, and the sweeper
//! thread (server.rs) deletes its file every `sweep_interval`.

use std::fs;
use std::time::{Duration, SystemTime};

use super::file::{open_without_following_links, read_session_file};
use super::{SessionId, SessionStore, secs_between, unix_secs};

impl SessionStore {
    /// How often the sweeper looks for expired sessions.
    pub fn sweep_interval(&self) -> Duration {
        let shortest = self.settings.ttl_secs.min(self.settings.lifetime_secs);
        Duration::from_secs((shortest / 2).clamp(1, 60))
    }

    /// Deletes every expired session file; returns how many. Each file is
    /// checked again under its lock, so a session in use is never removed
    /// from under a request.
    pub fn remove_expired(&self) -> usize {
        // The sweep is also when the count is brought up to date with what
        // other processes and people did to the folder.
        self.count_sessions(&mut self.capacity());
        let Ok(entries) = fs::read_dir(&self.settings.dir) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let Some(id) = SessionId::parse(&entry.file_name().to_string_lossy()) else {
                continue;
            };
            if !self.is_expired(&id) {
                continue;
            }
            let Ok(lock) = self.lock(&id) else {
                continue;
            };
            if self.is_expired(&id) && self.destroy(&lock).unwrap_or(false) {
                removed += 1;
            }
        }
        removed
    }

    /// Expired by idle time (from the file's modification time, so even a
    /// corrupt file expires) or by age (from its `created=` line).
    fn is_expired(&self, id: &SessionId) -> bool {
        let path = self.path_of(id);
        let Ok(metadata) = fs::symlink_metadata(&path) else {
            return false;
        };
        let Ok(last_used) = metadata.modified() else {
            return false;
        };
        let now = SystemTime::now();
        if secs_between(last_used, now) > self.settings.ttl_secs {
            return true;
        }
        let Ok(mut file) = open_without_following_links(&path) else {
            return false;
        };
        match read_session_file(&mut file, metadata.len()) {
            Ok((data, _)) => {
                unix_secs(now).saturating_sub(data.created_secs) > self.settings.lifetime_secs
            }
            Err(_) => false,
        }
    }
}
