//! Sessions: what the server remembers about a visitor, one file each.
//!
//! The cookie only carries an id, `session=9c1e4f…`. What the server knows
//! about that visitor lives in the file `sessions/9c1e4f…`, plain text a
//! person can `cat`:
//!
//! ```text
//! created=1795293085
//! name=David
//! cart=2,2,5
//! ```
//!
//! `SessionStore` is the folder: `load` reads a session, `lock` keeps
//! others from changing it until dropped, `create`, `replace`, `save` and
//! `destroy` change it. Each is a few lines here; what makes them safe on a
//! busy server lives one folder down, *(skip at first)*:
//!
//! ```text
//! session/id.rs      ids: 128 random bits, and which cookie names one
//! session/file.rs    the file's text, read and written whole
//! session/locks.rs   one session changed by one request at a time
//! session/limits.rs  the cap on sessions, and who gives way when full
//! session/sweep.rs   expired sessions removed in the background
//! ```

mod file;
mod id;
mod limits;
mod locks;
mod sweep;

pub use file::{CorruptSession, SessionData, escape_value, unescape_value};
pub use id::{NoSession, SessionId, random_token};
pub use locks::SessionLock;

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use file::{
    MAX_FILE_BYTES, ReadProblem, open_without_following_links, read_session_file, write_new_file,
};
use limits::{Capacity, is_unused};

/// Where sessions live and how long.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub dir: PathBuf,
    pub ttl_secs: u64,
    pub lifetime_secs: u64,
    pub max_sessions: usize,
}

/// One session file as the sessions page shows it.
#[derive(Debug, Clone)]
pub struct SessionFileInfo {
    pub id: SessionId,
    pub size: u64,
    pub last_used_secs: u64,
    /// From the `created=` line; `None` for a corrupt file.
    pub created_secs: Option<u64>,
    /// The earlier of last use + ttl and creation + lifetime.
    pub expires_secs: u64,
    pub text: String,
}

/// Why a session could not be stored, locked or deleted.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(
        "the server already holds {0} sessions, as many as --max-sessions allows, and none is unused"
    )]
    Full(usize),
    #[error("cannot write session file '{path}': {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot take the lock of a session: {0}")]
    Lock(std::io::Error),
    #[error("cannot delete session file '{path}': {source}")]
    Delete {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Temporary files start with this, so a leftover one is easy to find.
const TEMP_PREFIX: &str = ".tmp-";

/// The folder of session files, and the locks around changing them.
pub struct SessionStore {
    settings: SessionSettings,
    /// One open lock file per stripe (session/locks.rs).
    stripes: Vec<Mutex<File>>,
    /// How full the folder is (session/limits.rs).
    capacity: Mutex<Capacity>,
    /// Ids that login replaced a moment ago, with when.
    replaced: Mutex<VecDeque<(SessionId, Instant)>>,
}

impl SessionStore {
    /// Makes the folder if needed and makes it private (0700) either way,
    /// removes temporary files a crash left behind, opens the lock files,
    /// counts the sessions, and checks that a file can be written, so a bad
    /// folder is reported at start.
    pub fn open(settings: SessionSettings) -> std::io::Result<SessionStore> {
        let dir = &settings.dir;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        // A folder that was already there keeps its mode unless told: the
        // ids in it are logins, so nobody else may list it.
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        for entry in fs::read_dir(dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(TEMP_PREFIX) {
                // A write that never reached its rename: it belongs to nobody.
                fs::remove_file(dir.join(&*name))?;
            }
        }
        let stripes = locks::open_stripes(dir)?;
        let probe = dir.join(format!("{TEMP_PREFIX}write-check"));
        write_new_file(&probe, b"", None)?;
        fs::remove_file(&probe)?;
        let store = SessionStore {
            settings,
            stripes,
            capacity: Mutex::new(Capacity::default()),
            replaced: Mutex::new(VecDeque::new()),
        };
        store.count_sessions(&mut store.capacity());
        Ok(store)
    }

    fn path_of(&self, id: &SessionId) -> PathBuf {
        self.settings.dir.join(id.as_str())
    }

    /// Reads a live session: its values, and the file's text as read (the
    /// inspector shows it). Reading counts as using it. A missing,
    /// expired or corrupt file is `Err` with the reason (the caller logs a
    /// corrupt one); a file that cannot be read is `NoSession::Unreadable`,
    /// which the caller must not take for "no session".
    pub fn load(&self, id: &SessionId) -> Result<(SessionData, String), NoSession> {
        let path = self.path_of(id);
        let mut file = match open_without_following_links(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == ErrorKind::NotFound => return Err(NoSession::NoFile),
            Err(_) if path.is_symlink() => {
                return Err(NoSession::Corrupt(
                    "a symlink stands where its file should; not followed",
                ));
            }
            Err(error) => return Err(NoSession::Unreadable(error.to_string())),
        };
        let now = SystemTime::now();
        let metadata = file
            .metadata()
            .map_err(|e| NoSession::Unreadable(e.to_string()))?;
        let last_used = metadata
            .modified()
            .map_err(|e| NoSession::Unreadable(e.to_string()))?;
        if secs_between(last_used, now) > self.settings.ttl_secs {
            return Err(NoSession::IdleTooLong);
        }
        let (data, text) = match read_session_file(&mut file, metadata.len()) {
            Ok(read) => read,
            Err(ReadProblem::Io(error)) => return Err(NoSession::Unreadable(error.to_string())),
            Err(ReadProblem::Corrupt(CorruptSession(problem))) => {
                return Err(NoSession::Corrupt(problem));
            }
        };
        if unix_secs(now).saturating_sub(data.created_secs) > self.settings.lifetime_secs {
            return Err(NoSession::TooOld);
        }
        // The modification time is the "last used" clock. Once a second is
        // often enough, and a failure only shortens the session's idle life.
        // A never-used session (see `is_unused`) is marked used at once.
        if is_unused(last_used) || secs_between(last_used, now) >= 1 {
            let _ = file.set_modified(now);
        }
        Ok((data, text))
    }

    /// Stores a new session under a new random id. When the folder is full,
    /// a session that was never used gives way, or the answer is `Full`
    /// (session/limits.rs). Call it holding no session lock: it may take
    /// one.
    pub fn create(&self, data: &SessionData) -> Result<SessionId, SessionError> {
        // Room for one more, counted in *(skip at first)*.
        self.reserve_place()?;
        let id = SessionId::new_random();
        match self.write(&id, data, NewOrExisting::New) {
            Ok(()) => {
                self.note_unused(&id);
                Ok(id)
            }
            Err(error) => {
                self.release_place();
                Err(error)
            }
        }
    }

    /// Login's new session takes the place of the visitor's old one: the
    /// new file is written under a new id; the caller then deletes the old
    /// one (whose lock it holds) with `destroy`. No cap applies, since the
    /// count does not grow; so a full folder never stops a visitor with a
    /// session from logging in.
    pub fn replace(
        &self,
        old: &SessionLock,
        data: &SessionData,
    ) -> Result<SessionId, SessionError> {
        let id = SessionId::new_random();
        self.write(&id, data, NewOrExisting::New)?;
        self.capacity().live += 1;
        self.remember_replaced(&old.id);
        Ok(id)
    }

    /// Replaces a session's file. The caller loaded it under the same lock,
    /// so the session still exists: a logout can never be undone by this.
    pub fn save(&self, lock: &SessionLock, data: &SessionData) -> Result<(), SessionError> {
        self.write(&lock.id, data, NewOrExisting::Existing)
    }

    /// Deletes the session's file. Returns whether there was one; a file
    /// that is there and cannot be deleted is an error.
    pub fn destroy(&self, lock: &SessionLock) -> Result<bool, SessionError> {
        let path = self.path_of(&lock.id);
        match fs::remove_file(&path) {
            Ok(()) => {
                let mut capacity = self.capacity();
                capacity.live = capacity.live.saturating_sub(1);
                Ok(true)
            }
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(false),
            Err(source) => Err(SessionError::Delete { path, source }),
        }
    }

    /// Write the whole file under a temporary name, then rename it into
    /// place. A new session's file is marked never-used (`is_unused`).
    fn write(
        &self,
        id: &SessionId,
        data: &SessionData,
        new_or_existing: NewOrExisting,
    ) -> Result<(), SessionError> {
        let path = self.path_of(id);
        let suffix: u64 = rand::random();
        let temp_path = self
            .settings
            .dir
            .join(format!("{TEMP_PREFIX}{}-{suffix:016x}", id.as_str()));
        let unused_mark = (new_or_existing == NewOrExisting::New)
            .then(|| UNIX_EPOCH + Duration::from_secs(data.created_secs));
        let written = write_new_file(&temp_path, data.to_file_text().as_bytes(), unused_mark)
            // Rename within one folder is atomic: a reader sees the old file
            // or the new one, never half of each. Rename also replaces a
            // symlink planted at `path` rather than writing through it.
            .and_then(|()| fs::rename(&temp_path, &path));
        written.map_err(|source| {
            let _ = fs::remove_file(&temp_path);
            SessionError::Write { path, source }
        })
    }

    /// The folder as given (`sessions`), for showing paths to people.
    pub fn dir(&self) -> &Path {
        &self.settings.dir
    }

    /// A session file's text as `cat` would print it, for the inspector:
    /// read without a lock (renames make that safe) and without counting as
    /// a use. `Ok(None)` when there is no such file.
    pub fn file_text(&self, id: &SessionId) -> std::io::Result<Option<String>> {
        let mut file = match open_without_following_links(&self.path_of(id)) {
            Ok(file) => file,
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let mut bytes = Vec::new();
        Read::by_ref(&mut file)
            .take(MAX_FILE_BYTES)
            .read_to_end(&mut bytes)?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// The session files in the folder for the sessions page, most recently
    /// used first: how many there are, and the first `max_files` with their
    /// size, last use, expiry and text (only those are read).
    pub fn list(&self, max_files: usize) -> std::io::Result<(usize, Vec<SessionFileInfo>)> {
        let mut found: Vec<(u64, u64, SessionId)> = Vec::new();
        for entry in fs::read_dir(&self.settings.dir)? {
            let entry = entry?;
            let Some(id) = SessionId::parse(&entry.file_name().to_string_lossy()) else {
                continue;
            };
            let Ok(metadata) = entry.metadata() else {
                continue; // deleted since the folder was read
            };
            let last_used_secs = metadata.modified().map_or(0, unix_secs);
            found.push((last_used_secs, metadata.len(), id));
        }
        found.sort_by_key(|(last_used_secs, _, _)| std::cmp::Reverse(*last_used_secs));
        let total = found.len();
        let files = found
            .into_iter()
            .take(max_files)
            .map(|(last_used_secs, size, id)| {
                let text = self.file_text(&id).ok().flatten().unwrap_or_default();
                let created_secs = SessionData::from_file_text(&text)
                    .map(|data| data.created_secs)
                    .ok();
                let idle_end = last_used_secs + self.settings.ttl_secs;
                let expires_secs = match created_secs {
                    Some(created) => idle_end.min(created + self.settings.lifetime_secs),
                    None => idle_end,
                };
                SessionFileInfo {
                    id,
                    size,
                    last_used_secs,
                    created_secs,
                    expires_secs,
                    text,
                }
            })
            .collect();
        Ok((total, files))
    }
}

/// Whether `write` makes a new session's file or replaces one's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NewOrExisting {
    /// A new file, marked never-used (session/limits.rs, `is_unused`).
    New,
    Existing,
}

pub fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn secs_between(earlier: SystemTime, later: SystemTime) -> u64 {
    later.duration_since(earlier).map_or(0, |d| d.as_secs())
}
