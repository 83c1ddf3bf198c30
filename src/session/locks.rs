//! One session changed by one request at a time, across processes.
//!
//! An add to the cart reads the file, adds an item, and writes it back. Two
//! adds at once would both read the old cart and one item would be lost,
//! so a change holds the session's lock from its read to its write.
//!
//! The locks are lock stripes: rather than one lock per session (which
//! would have to be created and removed with sessions), a fixed set of 64
//! stripes, and a session uses the one its id's last digits pick. Two
//! sessions may share a stripe and then wait for each other briefly; that
//! is the whole cost. Each stripe is a mutex (for this process's threads)
//! and a file in `sessions/.locks/` locked with `flock` (for other server
//! processes on the same folder).

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use super::file::O_NOFOLLOW;
use super::{SessionError, SessionId, SessionStore};
use crate::mutex::lock_even_if_poisoned;

/// The lock stripes (see the module doc): files `sessions/.locks/00` to
/// `63`, made once and never deleted, so every process finds the same
/// ones. A session uses the stripe its id's last two hex digits pick.
const LOCK_STRIPES: usize = 64;
const LOCKS_DIR: &str = ".locks";

/// Proof that the caller holds the lock of one session: `save` and
/// `destroy` need it, so no change can skip the lock. Dropping it
/// releases the lock.
pub struct SessionLock<'a> {
    pub id: SessionId,
    stripe: MutexGuard<'a, File>,
}

impl Drop for SessionLock<'_> {
    fn drop(&mut self) {
        // Closing the process would release it too; a failed unlock can
        // only mean the file is gone, which releases it as well.
        let _ = self.stripe.unlock();
    }
}

/// Opens (making them if needed) the stripe files `sessions/.locks/00` to
/// `63`.
pub fn open_stripes(dir: &Path) -> std::io::Result<Vec<Mutex<File>>> {
    let locks_dir = dir.join(LOCKS_DIR);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&locks_dir)?;
    let mut stripes = Vec::with_capacity(LOCK_STRIPES);
    for stripe in 0..LOCK_STRIPES {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(O_NOFOLLOW)
            .open(locks_dir.join(format!("{stripe:02}")))?;
        stripes.push(Mutex::new(file));
    }
    Ok(stripes)
}

impl SessionStore {
    /// Takes the lock of session `id`, for this process's threads and for
    /// other processes on the same folder. Hold it from `load` to `save`.
    pub fn lock(&self, id: &SessionId) -> Result<SessionLock<'_>, SessionError> {
        let stripe = usize::from_str_radix(&id.as_str()[30..], 16)
            .expect("a SessionId is hex digits")
            % LOCK_STRIPES;
        // A panic while holding the lock poisons it (see the module doc);
        // the file on disk is still whole (rename), so it is still good.
        let guard = lock_even_if_poisoned(&self.stripes[stripe]);
        // flock(LOCK_EX): waits while another process holds this stripe.
        guard.lock().map_err(SessionError::Lock)?;
        Ok(SessionLock {
            id: id.clone(),
            stripe: guard,
        })
    }
}
