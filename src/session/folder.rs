//! The sessions folder: one file per session, `sessions/9c1e4f…`.
//!
//! Reading a session is opening its file; changing one is writing a new
//! file beside it and renaming it over the old (never half of each), under
//! the session's lock (locks.rs). The cap on how many files the folder
//! holds is limits.rs, the removal of expired ones sweep.rs.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{ErrorKind, Read};
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use super::file::{
    MAX_FILE_BYTES, Opened, ReadProblem, open_session_file, read_session_file, write_new_file,
};
use super::limits::Makers;
use super::locks::SessionLock;
use super::{
    CorruptSession, FileFacts, Loaded, NoSession, SessionData, SessionError, SessionFileInfo,
    SessionId, SessionSettings, secs_between, unix_secs,
};
use crate::mutex::lock_even_if_poisoned;

/// Temporary files start with this and the writing process's id:
/// `.tmp-PID-ID-RANDOM`, so a leftover one is easy to find, and easy to
/// tell from a live process's write in progress.
pub(super) const TEMP_PREFIX: &str = ".tmp-";
/// The sessions page lists at most this many of the sessions this process
/// used most recently.
const REMEMBERED_RECENT: usize = 200;

/// The folder of session files, and what keeps it whole on a busy server.
pub struct SessionFolder {
    pub(super) settings: SessionSettings,
    /// The folder itself, opened: its `flock` guards the session count
    /// (session/limits.rs).
    pub(super) folder: Mutex<File>,
    /// Who made which session, as far as this process knows.
    pub(super) makers: Mutex<Makers>,
    /// Ids that login replaced a moment ago, with when.
    pub(super) replaced: Mutex<VecDeque<(SessionId, Instant)>>,
    /// The sessions this process read or made last, newest last.
    pub(super) recent: Mutex<VecDeque<SessionId>>,
    /// How long the last sweep took (session/sweep.rs).
    pub(super) last_sweep: Mutex<Duration>,
}

impl SessionFolder {
    /// Makes the folder if needed and makes it private (0700) either way,
    /// and checks that a file can be written, so a bad folder is reported
    /// at start. Nothing here reads the whole folder: a million sessions
    /// start as fast as ten (`learn_makers` reads it in the background).
    pub fn open(settings: SessionSettings) -> std::io::Result<SessionFolder> {
        let dir = &settings.dir;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        // A folder that was already there keeps its mode unless told: the
        // ids in it are logins, so nobody else may list it.
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        let probe = dir.join(format!("{TEMP_PREFIX}{}-write-check", std::process::id()));
        write_new_file(&probe, b"")?;
        fs::remove_file(&probe)?;
        let folder = File::open(dir)?;
        Ok(SessionFolder {
            settings,
            folder: Mutex::new(folder),
            makers: Mutex::new(Makers::default()),
            replaced: Mutex::new(VecDeque::new()),
            recent: Mutex::new(VecDeque::new()),
            last_sweep: Mutex::new(Duration::ZERO),
        })
    }

    pub(super) fn path_of(&self, id: &SessionId) -> PathBuf {
        self.settings.dir.join(id.as_str())
    }

    /// Reads a live session: its values, and the file's text as read (the
    /// inspector shows it). Reading counts as using it. A missing,
    /// expired or corrupt file is `Err` with the reason (the caller logs a
    /// corrupt one); a file that cannot be read is `NoSession::Unreadable`,
    /// which the caller must not take for "no session".
    pub fn load(&self, id: &SessionId) -> Result<Loaded, NoSession> {
        let unreadable = |error: std::io::Error| NoSession::Unreadable(error.to_string());
        let mut file = match open_session_file(&self.path_of(id)).map_err(unreadable)? {
            Opened::File(file) => file,
            Opened::Missing => return Err(NoSession::NoFile),
            Opened::NotAFile(what) => return Err(NoSession::Corrupt(what)),
        };
        let now = SystemTime::now();
        let metadata = file.metadata().map_err(unreadable)?;
        // The modification time is the "last used" clock.
        let last_used = metadata.modified().map_err(unreadable)?;
        if secs_between(last_used, now) > self.settings.ttl_secs {
            return Err(NoSession::IdleTooLong);
        }
        let (data, text) = match read_session_file(&mut file, metadata.len()) {
            Ok(read) => read,
            Err(ReadProblem::Io(error)) => return Err(unreadable(error)),
            Err(ReadProblem::Corrupt(CorruptSession(problem))) => {
                return Err(NoSession::Corrupt(problem));
            }
        };
        // The absolute lifetime is checked here, when the session is used;
        // the sweep removes idle files by their time alone.
        if unix_secs(now).saturating_sub(data.created_secs) > self.settings.lifetime_secs {
            return Err(NoSession::TooOld);
        }
        // Once a second is often enough to move the clock, and a failure
        // only shortens the session's idle life.
        let mut modified = last_used;
        if secs_between(last_used, now) >= 1 && file.set_modified(now).is_ok() {
            modified = now;
        }
        self.note_recent(id);
        let facts = FileFacts {
            mode: metadata.mode(),
            links: metadata.nlink(),
            uid: metadata.uid(),
            gid: metadata.gid(),
            size: metadata.len(),
            modified,
        };
        Ok(Loaded {
            data,
            text,
            file: Some(facts),
        })
    }

    /// Stores a new session, made by a visitor from `from`, under a new
    /// random id. When the folder is full, a session of the address most
    /// over its share gives way, or the answer is `Full`
    /// (session/limits.rs). Call it holding no session lock: it may take
    /// one.
    pub fn create(
        &self,
        data: &SessionData,
        from: Option<IpAddr>,
    ) -> Result<SessionId, SessionError> {
        // Room for one more, counted in *(skip at first)*.
        self.reserve_place(from)?;
        // The hand stamp: 128 random bits nobody can guess.
        let id = SessionId::new_random();
        // `from=`: the address that made it, for the cap's fairness.
        let mut data = data.clone();
        data.from = from;
        match self.write(&id, &data) {
            Ok(()) => {
                // Remembered as this address's newest, and as used now.
                self.note_made(&id, from);
                self.note_recent(&id);
                Ok(id)
            }
            // Not written (a full disk, a vanished folder): its place in
            // the count is given back.
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
        from: Option<IpAddr>,
    ) -> Result<SessionId, SessionError> {
        let id = SessionId::new_random();
        let mut data = data.clone();
        data.from = from;
        self.write(&id, &data)?;
        self.add_place();
        self.note_made(&id, from);
        self.note_recent(&id);
        self.remember_replaced(&old.id);
        Ok(id)
    }

    /// Replaces a session's file. The caller loaded it under the same lock,
    /// so the session still exists: a logout can never be undone by this.
    pub fn save(&self, lock: &SessionLock, data: &SessionData) -> Result<(), SessionError> {
        self.write(&lock.id, data)
    }

    /// Deletes the session's file. Returns whether there was one; a file
    /// that is there and cannot be deleted is an error.
    pub fn destroy(&self, lock: &SessionLock) -> Result<bool, SessionError> {
        let path = self.path_of(&lock.id);
        match fs::remove_file(&path) {
            Ok(()) => {
                self.note_deleted(&lock.id);
                Ok(true)
            }
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(false),
            Err(source) => Err(SessionError::Delete { path, source }),
        }
    }

    /// Write the whole file under a temporary name, then rename it into
    /// place.
    fn write(&self, id: &SessionId, data: &SessionData) -> Result<(), SessionError> {
        let path = self.path_of(id);
        let suffix: u64 = rand::random();
        let temp_path = self.settings.dir.join(format!(
            "{TEMP_PREFIX}{}-{}-{suffix:016x}",
            std::process::id(),
            id.as_str()
        ));
        let written = write_new_file(&temp_path, data.to_file_text().as_bytes())
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
    /// a use. `Ok(None)` when there is no such file; something that is not
    /// a file is never read.
    pub fn file_text(&self, id: &SessionId) -> std::io::Result<Option<String>> {
        let file = match open_session_file(&self.path_of(id))? {
            Opened::File(file) => file,
            Opened::Missing => return Ok(None),
            Opened::NotAFile(what) => return Err(std::io::Error::other(what)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES).read_to_end(&mut bytes)?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }

    fn note_recent(&self, id: &SessionId) {
        let mut recent = lock_even_if_poisoned(&self.recent);
        recent.retain(|seen| seen != id);
        if recent.len() == REMEMBERED_RECENT {
            recent.pop_front();
        }
        recent.push_back(id.clone());
    }

    /// The session files for the sessions page: how many the folder holds,
    /// and up to `max_files` of them, with their size, last use, expiry
    /// and text. Those this process used most recently come first, then
    /// the first others the folder lists. The folder is never read whole,
    /// so a million files cost what ten do.
    pub fn list(&self, max_files: usize) -> std::io::Result<(usize, Vec<SessionFileInfo>)> {
        let mut ids: Vec<SessionId> = lock_even_if_poisoned(&self.recent)
            .iter()
            .rev()
            .cloned()
            .collect();
        ids.truncate(max_files);
        for entry in fs::read_dir(&self.settings.dir)? {
            if ids.len() >= max_files {
                break;
            }
            if let Some(id) = SessionId::parse(&entry?.file_name().to_string_lossy())
                && !ids.contains(&id)
            {
                ids.push(id);
            }
        }
        let files: Vec<SessionFileInfo> = ids
            .into_iter()
            .filter_map(|id| self.file_info(id))
            .collect();
        let total = self.stored_count().unwrap_or(files.len()).max(files.len());
        Ok((total, files))
    }

    /// One file as the sessions page shows it; `None` if it is gone.
    fn file_info(&self, id: SessionId) -> Option<SessionFileInfo> {
        let metadata = fs::symlink_metadata(self.path_of(&id)).ok()?;
        let last_used_secs = metadata.modified().map_or(0, unix_secs);
        let text = self.file_text(&id).ok().flatten().unwrap_or_default();
        let created_secs = SessionData::from_file_text(&text)
            .map(|data| data.created_secs)
            .ok();
        let idle_end = last_used_secs + self.settings.ttl_secs;
        let expires_secs = match created_secs {
            Some(created) => idle_end.min(created + self.settings.lifetime_secs),
            None => idle_end,
        };
        Some(SessionFileInfo {
            id,
            mode: Some(metadata.mode()),
            size: metadata.len(),
            last_used_secs,
            created_secs,
            expires_secs,
            text,
        })
    }
}
