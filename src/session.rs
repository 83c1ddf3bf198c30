//! Sessions: what the server remembers about a visitor, one file each.
//!
//! The cookie only carries an id, `session=9c1e4f…`. What the server knows
//! about that visitor lives in the file `sessions/9c1e4f…`, plain text a
//! person can `cat`:
//!
//! ```text
//! created=1795293085
//! from=127.0.0.1
//! name=David
//! cart=2,2,5
//! ```
//!
//! `SessionStore` is where the sessions are: the folder, or, with
//! `--sessions redis://…`, a Redis server holding the same text under
//! `handstamp:session:9c1e4f…`. `load` reads a session, `lock` keeps
//! others from changing it until dropped, `create`, `replace`, `save` and
//! `destroy` change it. Each is a `match` here, one arm per store; what
//! makes them safe on a busy server lives one folder down, *(skip at
//! first)*:
//!
//! ```text
//! session/folder.rs       the folder: one file per session
//! session/redis_store.rs  Redis: one key per session, the same text
//! session/id.rs           ids: 128 random bits, and which cookie names one
//! session/file.rs         the file's text, read and written whole
//! session/locks.rs        one session changed by one request at a time
//! session/limits.rs       the cap on sessions, and whose give way when full
//! session/sweep.rs        expired files removed in the background
//! ```

mod file;
mod folder;
mod id;
mod limits;
mod locks;
mod redis_store;
mod sweep;

pub use file::{CorruptSession, FileFacts, Loaded, SessionData, escape_value, unescape_value};
pub use folder::SessionFolder;
pub use id::{NoSession, SessionId, random_token};
pub use locks::SessionLock;
pub use redis_store::RedisSessions;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::redis::{Redis, RedisAddress, RedisError};

/// Where sessions live and how long.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// The folder of session files (`--sessions DIR`)...
    pub dir: PathBuf,
    /// ...or the Redis server (`--sessions redis://HOST:PORT`).
    pub redis: Option<RedisAddress>,
    pub ttl_secs: u64,
    pub lifetime_secs: u64,
    pub max_sessions: usize,
}

/// One session file as the sessions page shows it.
#[derive(Debug, Clone)]
pub struct SessionFileInfo {
    pub id: SessionId,
    /// The file's type and permission bits (`st_mode`); a Redis key has
    /// none.
    pub mode: Option<u32>,
    pub size: u64,
    pub last_used_secs: u64,
    /// From the `created=` line; `None` for a corrupt file.
    pub created_secs: Option<u64>,
    /// The earlier of last use + ttl and creation + lifetime.
    pub expires_secs: u64,
    pub text: String,
}

/// Why the store could not be used at start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "cannot use '{path}' for session files: {source}; create that folder or pass --sessions DIR"
    )]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}; is redis-server running there? (start it, or pass --sessions DIR for a folder)")]
    Redis(RedisError),
}

/// Why a session could not be stored, locked or deleted.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(
        "the server already holds {0} sessions, as many as --max-sessions allows, and no address holds more than its share"
    )]
    Full(usize),
    #[error("cannot write session file '{path}': {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot take the lock of a session: {0}")]
    Lock(std::io::Error),
    #[error("another request held the session's lock for {0:?} (a stopped process?)")]
    LockTimeout(Duration),
    #[error("cannot delete session file '{path}': {source}")]
    Delete {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The session store (Redis) did not answer, or not as it should.
    #[error("{0}")]
    StoreDown(String),
    /// Redis only: the change was not made, because the lock or the
    /// session was gone by the time it was written.
    #[error("a change was not made: {0}")]
    Lost(&'static str),
}

/// Where the sessions are: a folder of files (the default), or a Redis
/// server shared by servers on several machines. Each method below asks
/// the one in use; the two answer alike, so the views never know which.
// One store per server, made once: the size of the enum does not matter.
#[allow(clippy::large_enum_variant)]
pub enum SessionStore {
    /// `--sessions DIR`: one file per session (session/folder.rs).
    Folder(SessionFolder),
    /// `--sessions redis://HOST:PORT`: one key per session
    /// (session/redis_store.rs).
    Redis(RedisSessions),
}

impl SessionStore {
    /// Opens the folder (made if needed), or connects to Redis and asks
    /// `PING`: a store that cannot be used is reported at start.
    /// `report` is where the Redis store says it went away or came back.
    pub fn open(
        settings: SessionSettings,
        report: Box<dyn Fn(&str) + Send + Sync>,
    ) -> Result<SessionStore, OpenError> {
        match settings.redis.clone() {
            None => SessionFolder::open(settings.clone())
                .map(SessionStore::Folder)
                .map_err(|source| OpenError::Folder {
                    path: settings.dir,
                    source,
                }),
            Some(address) => {
                let redis = Redis::connect(address, report).map_err(OpenError::Redis)?;
                Ok(SessionStore::Redis(RedisSessions::new(redis, settings)))
            }
        }
    }

    /// Reads a live session: its values, its text as read and, in a
    /// folder, its file's `ls -ln` facts (the panel shows both). Reading
    /// counts as a use. `Err` says why there is none;
    /// `Unreadable` and `StoreDown` are the server's fault, not "none".
    pub fn load(&self, id: &SessionId) -> Result<Loaded, NoSession> {
        match self {
            SessionStore::Folder(folder) => folder.load(id),
            SessionStore::Redis(redis) => redis.load(id),
        }
    }

    /// The Redis commands this thread sent since the last call, with their
    /// replies, for the panel. A folder sends none: nothing to ask.
    pub fn take_commands(&self) -> Vec<crate::redis::Exchange> {
        match self {
            SessionStore::Folder(_) => Vec::new(),
            SessionStore::Redis(_) => crate::redis::take_transcript(),
        }
    }

    /// Keeps every other request from changing session `id` until the
    /// lock is dropped. `Ok(None)`: no such session.
    pub fn lock(&self, id: &SessionId) -> Result<Option<SessionLock>, SessionError> {
        match self {
            SessionStore::Folder(folder) => folder.lock(id),
            SessionStore::Redis(redis) => redis.lock(id),
        }
    }

    /// Stores a new session, made by a visitor from `from`, under a new
    /// random id, within the cap. Call it holding no session lock.
    pub fn create(
        &self,
        data: &SessionData,
        from: Option<IpAddr>,
    ) -> Result<SessionId, SessionError> {
        match self {
            SessionStore::Folder(folder) => folder.create(data, from),
            SessionStore::Redis(redis) => redis.create(data, from),
        }
    }

    /// Login: the values under a new id, in place of `old` (which the
    /// caller then deletes with `destroy`).
    pub fn replace(
        &self,
        old: &SessionLock,
        data: &SessionData,
        from: Option<IpAddr>,
    ) -> Result<SessionId, SessionError> {
        match self {
            SessionStore::Folder(folder) => folder.replace(old, data, from),
            SessionStore::Redis(redis) => redis.replace(old, data, from),
        }
    }

    /// Writes a locked session's new values.
    pub fn save(&self, lock: &SessionLock, data: &SessionData) -> Result<(), SessionError> {
        match self {
            SessionStore::Folder(folder) => folder.save(lock, data),
            SessionStore::Redis(redis) => redis.save(lock, data),
        }
    }

    /// Deletes a locked session; whether there was one.
    pub fn destroy(&self, lock: &SessionLock) -> Result<bool, SessionError> {
        match self {
            SessionStore::Folder(folder) => folder.destroy(lock),
            SessionStore::Redis(redis) => redis.destroy(lock),
        }
    }

    /// Whether login replaced `id` a moment ago (the racing add).
    pub fn was_replaced(&self, id: &SessionId) -> bool {
        match self {
            SessionStore::Folder(folder) => folder.was_replaced(id),
            SessionStore::Redis(redis) => redis.was_replaced(id),
        }
    }

    /// A session's text as `cat` (or `redis-cli --raw GET`) prints it, for
    /// the panel, without counting as a use; `Ok(None)`: no such session.
    pub fn text(&self, id: &SessionId) -> Result<Option<String>, String> {
        match self {
            SessionStore::Folder(folder) => folder.file_text(id).map_err(|e| e.to_string()),
            SessionStore::Redis(redis) => redis.text(id).map_err(|e| e.to_string()),
        }
    }

    /// How many sessions there are, and up to `max` of them, for the
    /// sessions page.
    pub fn list(&self, max: usize) -> Result<(usize, Vec<SessionFileInfo>), String> {
        match self {
            SessionStore::Folder(folder) => folder.list(max).map_err(|e| e.to_string()),
            SessionStore::Redis(redis) => redis.list(max).map_err(|e| e.to_string()),
        }
    }

    /// Printed at start, so the log says where sessions are kept:
    /// `sessions: one file each in sessions/`.
    pub fn where_kept(&self) -> String {
        match self {
            SessionStore::Folder(folder) => {
                format!("sessions: one file each in {}/", folder.dir().display())
            }
            SessionStore::Redis(redis) => format!(
                "sessions: one key each (handstamp:session:ID) in Redis at {}",
                redis.redis.name()
            ),
        }
    }

    /// The command a reader types to see session `id`, as the panel
    /// prints it: `cat sessions/9c1e…`.
    pub fn show_command(&self, id: &SessionId) -> String {
        match self {
            SessionStore::Folder(_) => ["cat ", &self.place_of(id)].concat(),
            SessionStore::Redis(_) => ["redis-cli --raw GET ", &self.place_of(id)].concat(),
        }
    }

    /// The command that lists every session: `ls -l sessions/`.
    pub fn list_command(&self) -> String {
        match self {
            SessionStore::Folder(folder) => format!("ls -l {}/", folder.dir().display()),
            SessionStore::Redis(_) => {
                "redis-cli --scan --pattern 'handstamp:session:*'".to_string()
            }
        }
    }

    /// `sessions/9c1e…` or `handstamp:session:9c1e…`: where a session is.
    pub fn place_of(&self, id: &SessionId) -> String {
        match self {
            // Joined by hand: on every page with the panel, and
            // `format!` with a path's `Display` costs more.
            SessionStore::Folder(folder) => {
                [&folder.dir().to_string_lossy(), "/", id.as_str()].concat()
            }
            SessionStore::Redis(_) => ["handstamp:session:", id.as_str()].concat(),
        }
    }

    /// The Redis server, if sessions live in one.
    pub fn redis(&self) -> Option<&Arc<Redis>> {
        match self {
            SessionStore::Folder(_) => None,
            SessionStore::Redis(redis) => Some(&redis.redis),
        }
    }
}
pub fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn secs_between(earlier: SystemTime, later: SystemTime) -> u64 {
    later.duration_since(earlier).map_or(0, |d| d.as_secs())
}
