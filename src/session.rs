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
//! Rules kept here:
//! - An id is 128 random bits from an OS-seeded cryptographic generator,
//!   as 32 lowercase hex digits. Nothing else is ever used as a file name,
//!   so a cookie like `session=../../etc/passwd` never reaches the disk.
//! - A file is written whole into a temporary file, then renamed over the
//!   old one: readers, and a crash, see the old file or the new one, never
//!   half of each.
//! - Changes to one session (add to cart, logout) take that session's lock
//!   around read-modify-write, so parallel requests never lose an update.
//!   The locks are lock stripes: rather than one mutex per session (which
//!   would have to be created and removed with sessions), a fixed set of
//!   64 stripes, and a session uses the one its id's last digits pick. Two
//!   sessions may share a stripe and then wait for each other briefly;
//!   that is the whole cost. Each stripe is a mutex (for this process's
//!   threads) and a file in `sessions/.locks/` locked with `flock` (for
//!   other server processes on the same folder).
//! - When the folder holds `--max-sessions` files, a session never used
//!   after it was made gives up its place (`is_unused`); one in use never
//!   does.
//! - A session that cannot be found says why (`NoSession`), for the log;
//!   a file that exists but cannot be read is not "no session" but a fault.
//! - A Rust mutex is "poisoned" when a thread panicked while holding it,
//!   as a warning that the data it guards may be half-changed. What these
//!   locks guard is a file that is only ever replaced whole, so a poisoned
//!   lock is taken anyway (`into_inner`).
//! - A session unused for `ttl_secs` (the file's modification time says
//!   when it was last used), or older than `lifetime_secs` (the `created=`
//!   line), is gone: ignored when read, deleted by the sweeper thread.

use std::collections::VecDeque;

use crate::log::Log;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where sessions live and how long.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub dir: PathBuf,
    pub ttl_secs: u64,
    pub lifetime_secs: u64,
    pub max_sessions: usize,
}

/// 128 random bits as 32 lowercase hex digits: a session id, the
/// inspector's cookie, the sessions page's secret. From `rand::random`,
/// whose generator is seeded by the operating system, so nobody can guess
/// the next one from earlier ones.
pub fn random_token() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A session id the server issued, or one a client sent that has exactly
/// the shape of one. Made only by `new_random` or `parse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionId(String);

impl SessionId {
    /// A fresh id no client chose (`random_token`).
    pub fn new_random() -> SessionId {
        SessionId(random_token())
    }

    /// Accepts exactly 32 lowercase hex digits, nothing else. Whether such
    /// a session exists is a separate question (`SessionStore::load`).
    pub fn parse(text: &str) -> Option<SessionId> {
        let well_formed = text.len() == 32
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        well_formed.then(|| SessionId(text.to_string()))
    }

    /// The id among the values of a request's `session` cookies: the one
    /// well-formed id they carry, or why there is none. Values that are
    /// not ids are dropped here, before any file is touched.
    ///
    /// A browser sends two `session` cookies when a second one was set for
    /// a longer path or a parent domain (a sibling site can do that), and
    /// lists the planted one first. Picking either could write into a
    /// session this browser was never given, so two *different*
    /// well-formed ids count as none (NOTES.md, "Two session cookies");
    /// the same id twice is still that id.
    pub fn from_cookie_values(values: &[&str]) -> Result<SessionId, NoSession> {
        if values.is_empty() {
            return Err(NoSession::NoCookie);
        }
        let mut ids = values.iter().copied().filter_map(SessionId::parse);
        let first = ids.next().ok_or(NoSession::MalformedId)?;
        match ids.all(|other| other == first) {
            true => Ok(first),
            false => Err(NoSession::SeveralIds),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What one session holds: when it was created, and `key=value` pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionData {
    pub created_secs: u64,
    values: Vec<(String, String)>,
}

/// Why a session file could not be read as one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt session file: {0}")]
pub struct CorruptSession(pub &'static str);

impl SessionData {
    pub fn new(created_secs: u64) -> Self {
        SessionData {
            created_secs,
            values: Vec::new(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value.as_str())
    }

    /// Sets `key` (lowercase letters and `_`, chosen by the code).
    pub fn set(&mut self, key: &str, value: &str) {
        debug_assert!(is_key(key) && key != "created", "bad session key {key}");
        match self.values.iter_mut().find(|(k, _)| k == key) {
            Some(pair) => pair.1 = value.to_string(),
            None => self.values.push((key.to_string(), value.to_string())),
        }
    }

    pub fn values(&self) -> &[(String, String)] {
        &self.values
    }

    /// The file's text: `created=…` first, then each pair, one per line.
    pub fn to_file_text(&self) -> String {
        let mut text = format!("created={}\n", self.created_secs);
        for (key, value) in &self.values {
            text.push_str(key);
            text.push('=');
            text.push_str(&escape_value(value));
            text.push('\n');
        }
        text
    }

    /// Reads a file's text back. Anything unexpected makes the whole file
    /// corrupt: a session that is half right is not trusted.
    pub fn from_file_text(text: &str) -> Result<SessionData, CorruptSession> {
        let Some(lines) = text.strip_suffix('\n') else {
            return Err(CorruptSession("it does not end with a newline"));
        };
        let mut created_secs = None;
        let mut values: Vec<(String, String)> = Vec::new();
        for line in lines.split('\n') {
            let (key, raw_value) = line
                .split_once('=')
                .ok_or(CorruptSession("a line has no '='"))?;
            if !is_key(key) {
                return Err(CorruptSession("a key is not lowercase letters"));
            }
            let value = unescape_value(raw_value)?;
            if key == "created" {
                let secs = value
                    .parse::<u64>()
                    .map_err(|_| CorruptSession("created= is not a number"))?;
                if created_secs.replace(secs).is_some() {
                    return Err(CorruptSession("created= appears twice"));
                }
            } else if values.iter().any(|(k, _)| k == key) {
                return Err(CorruptSession("a key appears twice"));
            } else {
                values.push((key.to_string(), value));
            }
        }
        let created_secs = created_secs.ok_or(CorruptSession("there is no created= line"))?;
        Ok(SessionData {
            created_secs,
            values,
        })
    }
}

fn is_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// `%`, `=`, and control characters (newlines among them) are written as
/// `%XX`, so every value fits on its line and comes back unchanged.
pub fn escape_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if c == '%' || c == '=' || c.is_ascii_control() {
            escaped.push_str(&format!("%{:02X}", c as u32));
        } else {
            escaped.push(c);
        }
    }
    escaped
}

pub fn unescape_value(raw: &str) -> Result<String, CorruptSession> {
    if raw.bytes().any(|b| b.is_ascii_control() || b == b'=') {
        return Err(CorruptSession("a value has a raw '=' or control character"));
    }
    let bytes = crate::form::percent_decode(raw.as_bytes(), false)
        .map_err(|_| CorruptSession("a value has a broken %XX escape"))?;
    String::from_utf8(bytes).map_err(|_| CorruptSession("a value is not UTF-8"))
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

/// Why a request has no session. The log line says it, so a learner can
/// tell "never logged in" from "expired" from "the file is broken".
#[derive(Debug, PartialEq, Eq)]
pub enum NoSession {
    NoCookie,
    MalformedId,
    SeveralIds,
    NoFile,
    IdleTooLong,
    TooOld,
    Corrupt(&'static str),
    /// The file exists but could not be opened or read (out of file
    /// descriptors, an I/O error): not "no session", but a server fault
    /// that is answered 503 (app.rs).
    Unreadable(String),
}

impl NoSession {
    /// A few words for the log line: `no session: idle too long`.
    pub fn reason(&self) -> String {
        match self {
            NoSession::NoCookie => "no cookie".to_string(),
            NoSession::MalformedId => "malformed id".to_string(),
            NoSession::SeveralIds => "several session cookies".to_string(),
            NoSession::NoFile => "no such file".to_string(),
            NoSession::IdleTooLong => "idle too long".to_string(),
            NoSession::TooOld => "too old".to_string(),
            NoSession::Corrupt(problem) => format!("corrupt file ({problem})"),
            NoSession::Unreadable(error) => format!("unreadable file ({error})"),
        }
    }
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

/// Session files larger than this are not session files.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// The lock stripes (see the module doc): files `sessions/.locks/00` to
/// `63`, made once and never deleted, so every process finds the same
/// ones. A session uses the stripe its id's last two hex digits pick.
const LOCK_STRIPES: usize = 64;
const LOCKS_DIR: &str = ".locks";

/// Temporary files start with this, so a leftover one is easy to find.
const TEMP_PREFIX: &str = ".tmp-";

/// How long login remembers the id it replaced (see `was_replaced`).
const REPLACED_MEMORY: Duration = Duration::from_secs(10);
/// At most this many replaced ids are remembered; the oldest go first.
const MAX_REPLACED_REMEMBERED: usize = 4096;
/// The folder is counted again at most this often when it looks full.
const RECOUNT_INTERVAL: Duration = Duration::from_secs(1);
/// At most this many never-used sessions are kept as candidates to evict.
const MAX_EVICTION_CANDIDATES: usize = 10_000;

/// The folder of session files, and the locks around changing them.
pub struct SessionStore {
    settings: SessionSettings,
    log: Log,
    /// One open lock file per stripe. The mutex orders this process's
    /// threads; `File::lock` (flock) on the file orders processes.
    stripes: Vec<Mutex<File>>,
    capacity: Mutex<Capacity>,
    /// Ids that login replaced a moment ago, with when.
    replaced: Mutex<VecDeque<(SessionId, Instant)>>,
}

/// What this process knows about how full the folder is.
struct Capacity {
    /// Session files in the folder: counted at start, at each sweep and
    /// when the cap seems reached; in between, this process's own creates
    /// and deletes are added and taken away.
    live: usize,
    counted_at: Option<Instant>,
    /// Never-used sessions, oldest first: the first to go when full.
    unused_oldest_first: VecDeque<SessionId>,
}

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

impl SessionStore {
    /// Makes the folder if needed and makes it private (0700) either way,
    /// removes temporary files a crash left behind, opens the lock files,
    /// counts the sessions, and checks that a file can be written, so a bad
    /// folder is reported at start.
    pub fn open(settings: SessionSettings, log: Log) -> std::io::Result<SessionStore> {
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
        let probe = dir.join(format!("{TEMP_PREFIX}write-check"));
        write_new_file(&probe, b"", None)?;
        fs::remove_file(&probe)?;
        let store = SessionStore {
            settings,
            log,
            stripes,
            capacity: Mutex::new(Capacity {
                live: 0,
                counted_at: None,
                unused_oldest_first: VecDeque::new(),
            }),
            replaced: Mutex::new(VecDeque::new()),
        };
        store.count_sessions(&mut store.capacity());
        Ok(store)
    }

    fn path_of(&self, id: &SessionId) -> PathBuf {
        self.settings.dir.join(id.as_str())
    }

    fn capacity(&self) -> MutexGuard<'_, Capacity> {
        self.capacity.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads a live session: its values, and the file's text as read (the
    /// inspector shows it). Reading counts as using it. A missing,
    /// expired or corrupt file is `Err` with the reason (a corrupt one is
    /// also logged); a file that cannot be read is `NoSession::Unreadable`,
    /// which the caller must not take for "no session".
    pub fn load(&self, id: &SessionId) -> Result<(SessionData, String), NoSession> {
        let path = self.path_of(id);
        let mut file = match open_without_following_links(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == ErrorKind::NotFound => return Err(NoSession::NoFile),
            Err(_) if path.is_symlink() => {
                self.log.error(&format!(
                    "session {}: a symlink stands where its file should; not followed, treated as no session",
                    short_id(id)
                ));
                return Err(NoSession::Corrupt("a symlink, never followed"));
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
                self.log.error(&format!(
                    "session {}: corrupt session file: {problem}; treated as no session",
                    short_id(id)
                ));
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

    /// Takes the lock of session `id`, for this process's threads and for
    /// other processes on the same folder. Hold it from `load` to `save`.
    pub fn lock(&self, id: &SessionId) -> Result<SessionLock<'_>, SessionError> {
        let stripe = usize::from_str_radix(&id.as_str()[30..], 16)
            .expect("a SessionId is hex digits")
            % LOCK_STRIPES;
        // A panic while holding the lock poisons it (see the module doc);
        // the file on disk is still whole (rename), so it is still good.
        let guard = self.stripes[stripe]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // flock(LOCK_EX): waits while another process holds this stripe.
        guard.lock().map_err(SessionError::Lock)?;
        Ok(SessionLock {
            id: id.clone(),
            stripe: guard,
        })
    }

    /// Stores a new session under a new random id. When the folder holds
    /// `--max-sessions` files, a session that was never used after it was
    /// made gives up its place (the oldest first); if there is none, the
    /// answer is `Full`. Call it holding no session lock: it may take one.
    pub fn create(&self, data: &SessionData) -> Result<SessionId, SessionError> {
        loop {
            let candidate = {
                let mut capacity = self.capacity();
                if capacity.live < self.settings.max_sessions {
                    capacity.live += 1;
                    break;
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
        let id = SessionId::new_random();
        match self.write(&id, data, true) {
            Ok(()) => {
                // Unused until someone brings its cookie back.
                let mut capacity = self.capacity();
                if capacity.unused_oldest_first.len() < MAX_EVICTION_CANDIDATES {
                    capacity.unused_oldest_first.push_back(id.clone());
                }
                Ok(id)
            }
            Err(error) => {
                let mut capacity = self.capacity();
                capacity.live = capacity.live.saturating_sub(1);
                Err(error)
            }
        }
    }

    /// Login's new session takes the place of the visitor's old one: the
    /// new file is written, then the old one (whose lock the caller holds)
    /// is deleted. No cap applies, since the count does not grow; so a
    /// full folder never stops a visitor with a session from logging in.
    pub fn replace(
        &self,
        old: &SessionLock,
        data: &SessionData,
    ) -> Result<SessionId, SessionError> {
        let id = SessionId::new_random();
        self.write(&id, data, true)?;
        self.capacity().live += 1;
        if let Err(error) = self.destroy(old) {
            // The new session stands; the old one will expire.
            self.log.error(&error.to_string());
        }
        self.remember_replaced(&old.id);
        Ok(id)
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
    fn count_sessions(&self, capacity: &mut Capacity) {
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

    /// Replaces a session's file. The caller loaded it under the same lock,
    /// so the session still exists: a logout can never be undone by this.
    pub fn save(&self, lock: &SessionLock, data: &SessionData) -> Result<(), SessionError> {
        self.write(&lock.id, data, false)
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

    /// Remembers that login just replaced `id` (see `was_replaced`).
    fn remember_replaced(&self, id: &SessionId) {
        let mut replaced = self.replaced.lock().unwrap_or_else(|e| e.into_inner());
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
        let replaced = self.replaced.lock().unwrap_or_else(|e| e.into_inner());
        replaced
            .iter()
            .any(|(old, at)| old == id && at.elapsed() <= REPLACED_MEMORY)
    }

    /// Write the whole file under a temporary name, then rename it into
    /// place. A new session's file is marked never-used (`is_unused`).
    fn write(&self, id: &SessionId, data: &SessionData, is_new: bool) -> Result<(), SessionError> {
        let path = self.path_of(id);
        let suffix: u64 = rand::random();
        let temp_path = self
            .settings
            .dir
            .join(format!("{TEMP_PREFIX}{}-{suffix:016x}", id.as_str()));
        let unused_mark = is_new.then(|| UNIX_EPOCH + Duration::from_secs(data.created_secs));
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

/// A new session's file gets the modification time of its `created=`
/// second exactly, nanoseconds zero; every later use (a read, a save)
/// moves it to the present, which has nanoseconds. So a file whose time
/// still has zero nanoseconds was never used after it was made: a visitor
/// who came once, or a script making sessions. Those go first when the
/// folder is full (NOTES.md, "When the sessions folder is full").
fn is_unused(modified: SystemTime) -> bool {
    modified
        .duration_since(UNIX_EPOCH)
        .is_ok_and(|since| since.subsec_nanos() == 0)
}

/// The id as logs show it: the first 8 hex digits, enough for
/// `ls sessions/cfe58611*`, and an ellipsis.
pub fn short_id(id: &SessionId) -> String {
    format!("{}…", &id.as_str()[..8])
}

/// Why a session file could not be read.
enum ReadProblem {
    Io(std::io::Error),
    Corrupt(CorruptSession),
}

/// Reads the whole file in one `read`: its size is known from `fstat`, and
/// it never changes in place (every write is a new file renamed over it).
fn read_session_file(file: &mut File, size: u64) -> Result<(SessionData, String), ReadProblem> {
    let corrupt = |problem| ReadProblem::Corrupt(CorruptSession(problem));
    if size > MAX_FILE_BYTES {
        return Err(corrupt("it is too large"));
    }
    let mut bytes = vec![0; size as usize];
    file.read_exact(&mut bytes).map_err(ReadProblem::Io)?;
    let text = String::from_utf8(bytes).map_err(|_| corrupt("it is not UTF-8 text"))?;
    let data = SessionData::from_file_text(&text).map_err(ReadProblem::Corrupt)?;
    Ok((data, text))
}

/// Creates a file that did not exist (never through a symlink), readable
/// and writable by its owner only (0600), writes `bytes` to it, and sets
/// its modification time if given.
fn write_new_file(path: &Path, bytes: &[u8], modified: Option<SystemTime>) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    if let Some(modified) = modified {
        file.set_modified(modified)?;
    }
    Ok(())
}

/// Opens a session file for reading, refusing a symlink in its place:
/// a symlink planted in `sessions/` must not let anyone read other files.
fn open_without_following_links(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(O_NOFOLLOW)
        .open(path)
}

/// The `open(2)` flag that refuses a final symlink. Its value differs
/// between CPU architectures; std does not export it and libc is not a
/// dependency of this project.
#[cfg(any(
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "powerpc64"
))]
const O_NOFOLLOW: i32 = 0o100000;
#[cfg(not(any(
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "powerpc64"
)))]
const O_NOFOLLOW: i32 = 0o400000;

pub fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn secs_between(earlier: SystemTime, later: SystemTime) -> u64 {
    later.duration_since(earlier).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookies_of_a_request_name_one_id_or_none() {
        let id = "0123456789abcdef0123456789abcdef";
        let other = "fedcba9876543210fedcba9876543210";
        let found = |values: &[&str]| SessionId::from_cookie_values(values);
        assert_eq!(found(&[id]).unwrap().as_str(), id);
        assert_eq!(found(&[id, id]).unwrap().as_str(), id);
        assert_eq!(found(&["junk", id]).unwrap().as_str(), id);
        assert_eq!(found(&[]).unwrap_err(), NoSession::NoCookie);
        assert_eq!(found(&["junk"]).unwrap_err(), NoSession::MalformedId);
        assert_eq!(
            found(&["../../etc/passwd"]).unwrap_err(),
            NoSession::MalformedId
        );
        assert_eq!(
            found(&[&id.to_uppercase()]).unwrap_err(),
            NoSession::MalformedId
        );
        assert!(matches!(found(&[other, id]), Err(NoSession::SeveralIds)));
    }

    #[test]
    fn ids_are_32_lowercase_hex_digits_and_differ() {
        let a = SessionId::new_random();
        let b = SessionId::new_random();
        assert_eq!(a.as_str().len(), 32);
        assert!(SessionId::parse(a.as_str()).is_some());
        assert_ne!(a, b);
    }

    #[test]
    fn only_well_formed_ids_parse() {
        assert!(SessionId::parse("0123456789abcdef0123456789abcdef").is_some());
        for bad in [
            "",
            "0123456789ABCDEF0123456789abcdef",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "../../etc/passwd",
            "0123456789abcdef0123456789abcde/",
        ] {
            assert!(SessionId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn any_value_round_trips_through_the_file() {
        let mut data = SessionData::new(42);
        data.set("name", "a=b%c\nd\re\u{1}f <é>");
        data.set("cart", "1,2,2");
        let text = data.to_file_text();
        assert_eq!(
            text,
            "created=42\nname=a%3Db%25c%0Ad%0De%01f <é>\ncart=1,2,2\n"
        );
        assert_eq!(SessionData::from_file_text(&text), Ok(data));
    }

    #[test]
    fn damaged_files_are_corrupt() {
        for text in [
            "",
            "created=1",
            "name=David\n",
            "created=x\n",
            "created=1\nname\n",
            "created=1\nname=%zz\n",
            "created=1\nName=x\n",
            "created=1\nname=a\nname=b\n",
        ] {
            assert!(SessionData::from_file_text(text).is_err(), "{text:?}");
        }
    }
}
