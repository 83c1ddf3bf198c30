//! One session changed by one request at a time, across processes.
//!
//! An add to the cart reads the file, adds an item, and writes it back. Two
//! adds at once would both read the old cart and one item would be lost,
//! so a change holds the session's lock from its read to its write.
//!
//! The lock is `flock` on the session's own file, so there is no lock file
//! that a cleaner or an `rm` could take away, and it works between the
//! threads of one process and between processes alike (each request opens
//! the file itself, and `flock` excludes every other open). A save renames
//! a new file over the one locked and a logout deletes it, both as the
//! last thing done under the lock; a request that was waiting then finds
//! the file it locked is no longer the one at `sessions/ID`, and locks the
//! new one (or finds no session).
//!
//! The wait is bounded: a process stopped while holding a lock (SIGSTOP, a
//! debugger, swap) makes the others answer `503` after `LOCK_WAIT`, not
//! hang.

use std::fs::{self, File, TryLockError};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::SessionFolder;
use super::file::{Opened, open_session_file};
use super::redis_store::release_redis_lock;
use super::{SessionError, SessionId};
use crate::redis::Redis;

/// How long a request waits for another to finish with a session.
pub const LOCK_WAIT: Duration = Duration::from_secs(3);

/// Proof that the caller holds the lock of one session: `save` and
/// `destroy` need it, so no change can skip the lock. Dropping it
/// releases the lock.
pub struct SessionLock {
    pub id: SessionId,
    pub(super) held: Held,
}

/// What the lock is, in each store.
pub(super) enum Held {
    /// The session file, open and `flock`ed: closing it releases it.
    File(File),
    /// Redis's `handstamp:lock:ID` key holds this random token
    /// (redis_store.rs): only its holder may write the session.
    Redis { token: String, redis: Arc<Redis> },
}

impl Drop for SessionLock {
    fn drop(&mut self) {
        match &self.held {
            // Closing releases it too; a failed unlock changes nothing.
            Held::File(file) => {
                let _ = file.unlock();
            }
            // A failed release expires by itself (`LOCK_EXPIRY`).
            Held::Redis { token, redis } => release_redis_lock(redis, &self.id, token),
        }
    }
}

impl SessionFolder {
    /// Takes the lock of session `id`, waiting at most `LOCK_WAIT` for
    /// another request (in this process or another) to finish with it.
    /// `Ok(None)`: there is no such session (or something that is not a
    /// session file stands in its place), so there is nothing to lock.
    pub fn lock(&self, id: &SessionId) -> Result<Option<SessionLock>, SessionError> {
        let path = self.path_of(id);
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            let file = match open_session_file(&path).map_err(SessionError::Lock)? {
                Opened::File(file) => file,
                Opened::Missing | Opened::NotAFile(_) => return Ok(None),
            };
            wait_for_flock(&file, deadline)?;
            // Saved (renamed over) or deleted while we waited? Then the
            // file locked is not the session any more: lock what is there.
            if is_still_at(&file, &path) {
                return Ok(Some(SessionLock {
                    id: id.clone(),
                    held: Held::File(file),
                }));
            }
        }
    }
}

/// `flock(LOCK_EX)`, asked again and again until `deadline`: std's
/// blocking `lock` cannot give up.
fn wait_for_flock(file: &File, deadline: Instant) -> Result<(), SessionError> {
    let mut pause = Duration::from_micros(100);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(5));
            }
            Err(TryLockError::WouldBlock) => return Err(SessionError::LockTimeout(LOCK_WAIT)),
            Err(TryLockError::Error(error)) => return Err(SessionError::Lock(error)),
        }
    }
}

/// Whether `path` still names the very file `file` has open.
fn is_still_at(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::symlink_metadata(path)) {
        (Ok(open), Ok(named)) => open.ino() == named.ino() && open.dev() == named.dev(),
        _ => false,
    }
}
