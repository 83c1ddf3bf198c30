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
//!   64 mutexes, and a session uses the one its id's last digits pick. Two
//!   sessions may share a stripe and then wait for each other briefly;
//!   that is the whole cost.
//! - A Rust mutex is "poisoned" when a thread panicked while holding it,
//!   as a warning that the data it guards may be half-changed. What these
//!   locks guard is a file that is only ever replaced whole, so a poisoned
//!   lock is taken anyway (`into_inner`).
//! - A session unused for `ttl_secs` (the file's modification time says
//!   when it was last used), or older than `lifetime_secs` (the `created=`
//!   line), is gone: ignored when read, deleted by the sweeper thread.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where sessions live and how long.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub dir: PathBuf,
    pub ttl_secs: u64,
    pub lifetime_secs: u64,
    pub max_sessions: usize,
}

/// A session id the server issued, or one a client sent that has exactly
/// the shape of one. Made only by `new_random` or `parse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionId(String);

impl SessionId {
    /// 128 bits from `rand::rng()`, a ChaCha generator seeded from the
    /// operating system: nobody can guess the next id from earlier ones.
    pub fn new_random() -> SessionId {
        let bytes: [u8; 16] = rand::random();
        SessionId(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
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

/// Why a session could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the server already holds {0} sessions, as many as --max-sessions allows")]
    Full(usize),
    #[error("cannot write session file '{path}': {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Session files larger than this are not session files.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// Locks are shared by ids that end in the same hex digits; 64 is plenty
/// for requests that hold one for a few microseconds.
const LOCK_STRIPES: usize = 64;

/// Temporary files start with this, so a leftover one is easy to find.
const TEMP_PREFIX: &str = ".tmp-";

/// The folder of session files, and the locks around changing them.
pub struct SessionStore {
    settings: SessionSettings,
    /// Session files on disk, so that creating one past the cap is refused
    /// without counting the folder on every login.
    live_sessions: AtomicUsize,
    locks: Vec<Mutex<()>>,
}

/// Proof that the caller holds the lock of one session: `save` and
/// `destroy` need it, so no change can skip the lock.
pub struct SessionLock<'a> {
    pub id: SessionId,
    _guard: MutexGuard<'a, ()>,
}

impl SessionStore {
    /// Makes the folder if needed (mode 0700), removes temporary files a
    /// crash left behind, counts the sessions, and checks that a file can
    /// be written, so a bad folder is reported at start.
    pub fn open(settings: SessionSettings) -> std::io::Result<SessionStore> {
        let dir = &settings.dir;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let mut live = 0;
        for entry in fs::read_dir(dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(TEMP_PREFIX) {
                // A write that never reached its rename: it belongs to nobody.
                fs::remove_file(dir.join(&*name))?;
            } else if SessionId::parse(&name).is_some() {
                live += 1;
            }
        }
        let probe = dir.join(format!("{TEMP_PREFIX}write-check"));
        write_new_file(&probe, b"")?;
        fs::remove_file(&probe)?;
        Ok(SessionStore {
            settings,
            live_sessions: AtomicUsize::new(live),
            locks: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
        })
    }

    fn path_of(&self, id: &SessionId) -> PathBuf {
        self.settings.dir.join(id.as_str())
    }

    /// Reads a live session: `None` if there is no file, it has expired, or
    /// it is corrupt (which is logged). Reading counts as using it.
    pub fn load(&self, id: &SessionId) -> Option<SessionData> {
        let path = self.path_of(id);
        let mut file = match open_without_following_links(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == ErrorKind::NotFound => return None,
            Err(error) => {
                eprintln!("session {}: cannot open its file: {error}", id.as_str());
                return None;
            }
        };
        let now = SystemTime::now();
        let metadata = file.metadata().ok()?;
        let last_used = metadata.modified().ok()?;
        if secs_between(last_used, now) > self.settings.ttl_secs {
            return None;
        }
        let data = match read_session_file(&mut file, metadata.len()) {
            Ok(data) => data,
            Err(problem) => {
                eprintln!("session {}: {problem}; treated as no session", id.as_str());
                return None;
            }
        };
        if unix_secs(now).saturating_sub(data.created_secs) > self.settings.lifetime_secs {
            return None;
        }
        // The modification time is the "last used" clock. Once a second is
        // often enough, and a failure only shortens the session's idle life.
        if secs_between(last_used, now) >= 1 {
            let _ = file.set_modified(now);
        }
        Some(data)
    }

    /// Takes the lock of session `id`. Hold it from `load` to `save`.
    pub fn lock(&self, id: &SessionId) -> SessionLock<'_> {
        let stripe = usize::from_str_radix(&id.as_str()[30..], 16)
            .expect("a SessionId is hex digits")
            % LOCK_STRIPES;
        // A panic while holding the lock poisons it; the file on disk is
        // still whole (rename), so the lock is still good to use.
        let guard = self.locks[stripe]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        SessionLock {
            id: id.clone(),
            _guard: guard,
        }
    }

    /// Stores a new session under a new random id, unless the cap is reached.
    pub fn create(&self, data: &SessionData) -> Result<SessionId, SessionError> {
        let max = self.settings.max_sessions;
        let reserved =
            self.live_sessions
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |live| {
                    (live < max).then_some(live + 1)
                });
        if reserved.is_err() {
            return Err(SessionError::Full(max));
        }
        let id = SessionId::new_random();
        match self.write(&id, data) {
            Ok(()) => Ok(id),
            Err(error) => {
                self.live_sessions.fetch_sub(1, Ordering::SeqCst);
                Err(error)
            }
        }
    }

    /// Replaces a session's file. The caller loaded it under the same lock,
    /// so the session still exists: a logout can never be undone by this.
    pub fn save(&self, lock: &SessionLock, data: &SessionData) -> Result<(), SessionError> {
        self.write(&lock.id, data)
    }

    /// Deletes the session's file. Returns whether there was one.
    pub fn destroy(&self, lock: &SessionLock) -> bool {
        match fs::remove_file(self.path_of(&lock.id)) {
            Ok(()) => {
                self.live_sessions.fetch_sub(1, Ordering::SeqCst);
                true
            }
            Err(error) if error.kind() == ErrorKind::NotFound => false,
            Err(error) => {
                eprintln!(
                    "session {}: cannot delete its file: {error}",
                    lock.id.as_str()
                );
                false
            }
        }
    }

    /// Write the whole file under a temporary name, then rename it into
    /// place.
    fn write(&self, id: &SessionId, data: &SessionData) -> Result<(), SessionError> {
        let path = self.path_of(id);
        let suffix: u64 = rand::random();
        let temp_path = self
            .settings
            .dir
            .join(format!("{TEMP_PREFIX}{}-{suffix:016x}", id.as_str()));
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
    /// a use. `Ok(None)` when there is no such file.
    pub fn file_text(&self, id: &SessionId) -> std::io::Result<Option<String>> {
        let mut file = match open_without_following_links(&self.path_of(id)) {
            Ok(file) => file,
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let mut bytes = Vec::new();
        Read::by_ref(&mut file).take(MAX_FILE_BYTES).read_to_end(&mut bytes)?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Every session file in the folder, for the sessions page: its id,
    /// size, last use (modification time) and when it expires.
    pub fn list(&self) -> std::io::Result<Vec<SessionFileInfo>> {
        let mut files = Vec::new();
        for entry in fs::read_dir(&self.settings.dir)? {
            let entry = entry?;
            let Some(id) = SessionId::parse(&entry.file_name().to_string_lossy()) else {
                continue;
            };
            let Ok(metadata) = entry.metadata() else {
                continue; // deleted since the folder was read
            };
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
            files.push(SessionFileInfo {
                id,
                size: metadata.len(),
                last_used_secs,
                created_secs,
                expires_secs,
                text,
            });
        }
        files.sort_by_key(|file| std::cmp::Reverse(file.last_used_secs));
        Ok(files)
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
            let lock = self.lock(&id);
            if self.is_expired(&id) && self.destroy(&lock) {
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
            Ok(data) => {
                unix_secs(now).saturating_sub(data.created_secs) > self.settings.lifetime_secs
            }
            Err(_) => false,
        }
    }
}

/// Reads the whole file in one `read`: its size is known from `fstat`, and
/// it never changes in place (every write is a new file renamed over it).
fn read_session_file(file: &mut File, size: u64) -> Result<SessionData, CorruptSession> {
    if size > MAX_FILE_BYTES {
        return Err(CorruptSession("it is too large"));
    }
    let mut bytes = vec![0; size as usize];
    file.read_exact(&mut bytes)
        .map_err(|_| CorruptSession("it cannot be read"))?;
    let text = String::from_utf8(bytes).map_err(|_| CorruptSession("it is not UTF-8 text"))?;
    SessionData::from_file_text(&text)
}

/// Creates a file that did not exist (never through a symlink), readable
/// and writable by its owner only (0600), and writes `bytes` to it.
fn write_new_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
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
