//! Sessions in Redis: the same text, one key each, for servers that share
//! no disk (`--sessions redis://HOST:PORT`).
//!
//! What the folder does with files, this does with keys, one command at a
//! time, and the panel shows each command and its reply:
//!
//! ```text
//! sessions/ID                  handstamp:session:ID     the same text, `created=…\nname=…`
//! cat sessions/ID              GET handstamp:session:ID
//! the file's mtime + sweeper   the key's expiry         Redis deletes it itself (EXAT)
//! flock sessions/ID            SET handstamp:lock:ID TOKEN NX PX 10000
//! write + rename               EVAL: if the lock still holds TOKEN, SET … XX
//! rm sessions/ID               EVAL: if the lock still holds TOKEN, DEL
//! sessions/.count              ZCARD handstamp:sessions (id → expiry)
//! ```
//!
//! A lock in Redis can outlive nobody: it expires after `LOCK_EXPIRY`, so a
//! server that crashed holding one does not block the session for ever.
//! But then a server that was merely slow (stopped in a debugger, say)
//! might wake up and write over a session another server changed since.
//! So every write is a small Lua script that checks, inside Redis and in
//! the same step as the write, that the lock still holds this request's
//! random token; a server whose lock expired writes nothing.
//!
//! The cap (`--max-sessions`) and its fairness are the folder's rule
//! (limits.rs), kept in three keys that the create script updates with the
//! session: `handstamp:sessions` (every id, scored by its expiry),
//! `handstamp:makers` (address → how many sessions it made) and
//! `handstamp:made-by:ADDRESS` (that address's ids, oldest first).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::locks::{Held, LOCK_WAIT, SessionLock};
use super::{
    Loaded, NoSession, SessionData, SessionError, SessionFileInfo, SessionId, SessionSettings,
    unix_secs,
};
use crate::redis::{Redis, RedisError, Reply};

/// A Redis lock expires by itself after this long: far longer than any
/// request holds one, short enough that a crashed server's lock goes soon.
const LOCK_EXPIRY: Duration = Duration::from_secs(10);
/// How long login's replaced id is remembered (the racing add's `409`).
const REPLACED_MEMORY_SECS: u64 = 10;
/// Every id and its expiry time: what the cap counts.
const ALL_SESSIONS: &str = "handstamp:sessions";

/// `handstamp:session:9c1e…`: the session's text.
fn session_key(id: &SessionId) -> String {
    format!("handstamp:session:{}", id.as_str())
}

/// `handstamp:lock:9c1e…`: the random token of the request holding it.
fn lock_key(id: &SessionId) -> String {
    format!("handstamp:lock:{}", id.as_str())
}

/// Writes the session only if the lock still holds our token. `XX`: only
/// over a session that exists, so a session deleted (a logout, an
/// eviction) stays deleted.
const SAVE_SCRIPT: &str = "\
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 'lock lost' end
if not redis.call('set', KEYS[2], ARGV[2], 'XX', 'EXAT', ARGV[3]) then return 'gone' end
redis.call('zadd', KEYS[3], 'XX', ARGV[3], ARGV[4])
return 'saved'";

/// Forgets one session in the cap's bookkeeping (used by the scripts
/// below, which start with it).
const FORGET_FUNCTION: &str = "\
local function forget(id)
  local from = redis.call('hget', 'handstamp:maker-of', id)
  redis.call('zrem', 'handstamp:sessions', id)
  redis.call('hdel', 'handstamp:maker-of', id)
  if from then
    redis.call('zrem', 'handstamp:made-by:' .. from, id)
    if redis.call('hincrby', 'handstamp:makers', from, -1) <= 0 then
      redis.call('hdel', 'handstamp:makers', from)
    end
  end
end
";

/// Deletes the session only if the lock still holds our token.
const DESTROY_SCRIPT: &str = "\
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 'lock lost' end
local deleted = redis.call('del', KEYS[2])
forget(ARGV[2])
if deleted == 1 then return 'deleted' else return 'gone' end";

/// A new session under a new id, within the cap. ARGV: id, text, expiry,
/// now, cap (0: not counted, a login's replacement), maker, created.
/// First the ids Redis expired are forgotten (a hundred at a time; an id
/// whose score is old because pages moved its expiry on, not the score,
/// is scored anew), then,
/// when full, the address most over its share gives way, else the maker
/// itself (its oldest), else the answer is `full`.
const CREATE_SCRIPT: &str = "\
local id, expiry, now, cap, maker = ARGV[1], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
for _, gone in ipairs(redis.call('zrangebyscore', 'handstamp:sessions', '-inf', now, 'limit', 0, 100)) do
  local left = redis.call('ttl', 'handstamp:session:' .. gone)
  if left > 0 then
    redis.call('zadd', 'handstamp:sessions', 'XX', now + left, gone)
  else
    forget(gone)
  end
end
if cap > 0 and redis.call('zcard', 'handstamp:sessions') >= cap then
  local counts = redis.call('hgetall', 'handstamp:makers')
  local holders = #counts / 2
  if redis.call('hexists', 'handstamp:makers', maker) == 0 then holders = holders + 1 end
  local heaviest, most = nil, 0
  for i = 1, #counts, 2 do
    local n = tonumber(counts[i + 1])
    if n > most then heaviest, most = counts[i], n end
  end
  local loser = nil
  if most > math.floor(cap / holders) then loser = heaviest
  elseif redis.call('hexists', 'handstamp:makers', maker) == 1 then loser = maker end
  if not loser then return 'full' end
  local oldest = redis.call('zrange', 'handstamp:made-by:' .. loser, 0, 0)[1]
  if not oldest then return 'full' end
  redis.call('del', 'handstamp:session:' .. oldest)
  forget(oldest)
end
if not redis.call('set', KEYS[1], ARGV[2], 'NX', 'EXAT', expiry) then return 'taken' end
redis.call('zadd', 'handstamp:sessions', expiry, id)
redis.call('hset', 'handstamp:maker-of', id, maker)
redis.call('hincrby', 'handstamp:makers', maker, 1)
redis.call('zadd', 'handstamp:made-by:' .. maker, ARGV[7], id)
return 'made'";

/// Deletes the lock only if it still holds our token (the script from
/// Redis's own `SET` documentation).
const UNLOCK_SCRIPT: &str = "\
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/// The sessions in one Redis server.
pub struct RedisSessions {
    pub(super) redis: Arc<Redis>,
    settings: SessionSettings,
}

impl RedisSessions {
    pub fn new(redis: Redis, settings: SessionSettings) -> RedisSessions {
        RedisSessions {
            redis: Arc::new(redis),
            settings,
        }
    }

    /// The moment the session expires: its idle timeout from now, or its
    /// absolute lifetime, whichever comes first. Redis deletes it then.
    fn expiry(&self, created_secs: u64) -> u64 {
        let now = unix_secs(SystemTime::now());
        (now + self.settings.ttl_secs).min(created_secs + self.settings.lifetime_secs)
    }

    /// `GET`, and in the same round trip (a pipeline) the expiry moved on
    /// by the idle timeout: reading counts as a use. Only when the absolute
    /// lifetime ends sooner is the expiry set again, once the text says
    /// when the session was created.
    pub fn load(&self, id: &SessionId) -> Result<Loaded, NoSession> {
        let key = session_key(id);
        let idle_expiry = unix_secs(SystemTime::now()) + self.settings.ttl_secs;
        let idle_expiry = idle_expiry.to_string();
        let mut replies = self
            .redis
            .pipeline(&[&["GET", &key], &["EXPIREAT", &key, &idle_expiry]])
            .map_err(|error| NoSession::StoreDown(error.to_string()))?;
        // Redis deleted it when it expired: no need to tell idle from old.
        let text = match replies.remove(0) {
            Reply::Bulk(Some(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
            Reply::Bulk(None) => return Err(NoSession::NoKey),
            other => return Err(NoSession::StoreDown(other.shown())),
        };
        let data =
            SessionData::from_file_text(&text).map_err(|corrupt| NoSession::Corrupt(corrupt.0))?;
        let expiry = self.expiry(data.created_secs).to_string();
        if expiry != idle_expiry {
            self.redis
                .command(&["EXPIREAT", &key, &expiry])
                .map_err(|error| NoSession::StoreDown(error.to_string()))?;
        }
        // A key has no file, so no `ls -l` line; `TTL` is its clock.
        Ok(Loaded {
            data,
            text,
            file: None,
        })
    }

    /// `SET handstamp:lock:ID TOKEN NX PX 10000`, asked again until it
    /// succeeds or `LOCK_WAIT` has passed. `Ok(None)`: no such session.
    pub fn lock(&self, id: &SessionId) -> Result<Option<SessionLock>, SessionError> {
        let token = super::random_token();
        let expiry_ms = LOCK_EXPIRY.as_millis().to_string();
        let deadline = Instant::now() + LOCK_WAIT;
        let mut pause = Duration::from_millis(1);
        loop {
            let reply = self
                .redis
                .command(&["SET", &lock_key(id), &token, "NX", "PX", &expiry_ms])
                .map_err(store_down)?;
            match reply {
                Reply::Status(_) => break,
                Reply::Bulk(None) if Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Reply::Bulk(None) => return Err(SessionError::LockTimeout(LOCK_WAIT)),
                other => return Err(refused(&self.redis, &other)),
            }
        }
        let lock = SessionLock {
            id: id.clone(),
            held: Held::Redis {
                token,
                redis: Arc::clone(&self.redis),
            },
        };
        // Locked, but is there a session to change? Dropping the lock
        // releases it.
        match self.redis.command(&["EXISTS", &session_key(id)]) {
            Ok(Reply::Integer(1)) => Ok(Some(lock)),
            Ok(Reply::Integer(_)) => Ok(None),
            Ok(other) => Err(refused(&self.redis, &other)),
            Err(error) => Err(store_down(error)),
        }
    }

    /// A new session within the cap, under a new id.
    pub fn create(
        &self,
        data: &SessionData,
        from: Option<IpAddr>,
    ) -> Result<SessionId, SessionError> {
        self.write_new(data, from, self.settings.max_sessions)
    }

    /// Login's new session, in place of the old one (not counted: the
    /// caller deletes the old one next). The old id is remembered for a
    /// moment, for every server, so a racing add gets `409`.
    pub fn replace(
        &self,
        old: &SessionLock,
        data: &SessionData,
        from: Option<IpAddr>,
    ) -> Result<SessionId, SessionError> {
        let id = self.write_new(data, from, 0)?;
        let memory = REPLACED_MEMORY_SECS.to_string();
        let replaced_key = format!("handstamp:replaced:{}", old.id.as_str());
        let _ = self
            .redis
            .command(&["SET", &replaced_key, id.short().as_str(), "EX", &memory]);
        Ok(id)
    }

    fn write_new(
        &self,
        data: &SessionData,
        from: Option<IpAddr>,
        cap: usize,
    ) -> Result<SessionId, SessionError> {
        let id = SessionId::new_random();
        let mut data = data.clone();
        data.from = from;
        let maker = from.map_or("unknown".to_string(), |address| address.to_string());
        let reply = self
            .redis
            .command(&[
                "EVAL",
                &format!("{FORGET_FUNCTION}{CREATE_SCRIPT}"),
                "1",
                &session_key(&id),
                id.as_str(),
                &data.to_file_text(),
                &self.expiry(data.created_secs).to_string(),
                &unix_secs(SystemTime::now()).to_string(),
                &cap.to_string(),
                &maker,
                &data.created_secs.to_string(),
            ])
            .map_err(store_down)?;
        match reply.text().as_deref() {
            Some("made") => Ok(id),
            Some("full") => Err(SessionError::Full(cap)),
            _ => Err(refused(&self.redis, &reply)),
        }
    }

    /// The session's new text, if this request's lock still holds.
    pub fn save(&self, lock: &SessionLock, data: &SessionData) -> Result<(), SessionError> {
        let reply = self.run_locked(
            lock,
            SAVE_SCRIPT,
            &[
                &data.to_file_text(),
                &self.expiry(data.created_secs).to_string(),
                lock.id.as_str(),
            ],
        )?;
        match reply.text().as_deref() {
            Some("saved") => Ok(()),
            Some("gone") => Err(SessionError::Lost(
                "the session ended (expired, evicted or logged out) while this request changed it",
            )),
            _ => Err(refused(&self.redis, &reply)),
        }
    }

    /// Deletes the session, if this request's lock still holds.
    pub fn destroy(&self, lock: &SessionLock) -> Result<bool, SessionError> {
        let script = format!("{FORGET_FUNCTION}{DESTROY_SCRIPT}");
        let reply = self.run_locked(lock, &script, &[lock.id.as_str()])?;
        match reply.text().as_deref() {
            Some("deleted") => Ok(true),
            Some("gone") => Ok(false),
            _ => Err(refused(&self.redis, &reply)),
        }
    }

    /// Runs a script whose `KEYS[1]` is the lock, `ARGV[1]` our token,
    /// `KEYS[2]` the session and `KEYS[3]` the list of all sessions.
    fn run_locked(
        &self,
        lock: &SessionLock,
        script: &str,
        more_args: &[&str],
    ) -> Result<Reply, SessionError> {
        let Held::Redis { token, .. } = &lock.held else {
            return Err(SessionError::Lost("a folder's lock used with Redis"));
        };
        let lock_key = lock_key(&lock.id);
        let session_key = session_key(&lock.id);
        let mut args = vec![
            "EVAL",
            script,
            "3",
            &lock_key,
            &session_key,
            ALL_SESSIONS,
            token,
        ];
        args.extend_from_slice(more_args);
        let reply = self.redis.command(&args).map_err(store_down)?;
        match reply.text().as_deref() {
            Some("lock lost") => Err(SessionError::Lost(
                "this request held the session's lock longer than it lasts, and another may have changed it since",
            )),
            _ => Ok(reply),
        }
    }

    /// Whether login replaced `id` in the last few seconds, on any server.
    pub fn was_replaced(&self, id: &SessionId) -> bool {
        let key = format!("handstamp:replaced:{}", id.as_str());
        matches!(self.redis.command(&["EXISTS", &key]), Ok(Reply::Integer(1)))
    }

    /// The session's text as `redis-cli --raw GET` prints it, without
    /// counting as a use.
    pub fn text(&self, id: &SessionId) -> Result<Option<String>, RedisError> {
        let reply = self.redis.command_unrecorded(&["GET", &session_key(id)])?;
        Ok(reply.text())
    }

    /// For the sessions page: how many sessions the cap counts, and up to
    /// `max` of them as `SCAN` finds them (never `KEYS`, which would stop
    /// Redis for everyone while it lists a million).
    pub fn list(&self, max: usize) -> Result<(usize, Vec<SessionFileInfo>), RedisError> {
        let mut ids = Vec::new();
        let mut cursor = "0".to_string();
        // A bounded number of rounds: SCAN may return few keys per call.
        for _ in 0..100 {
            let reply = self.redis.command_unrecorded(&[
                "SCAN",
                &cursor,
                "MATCH",
                "handstamp:session:*",
                "COUNT",
                "1000",
            ])?;
            let Reply::Array(Some(parts)) = reply else {
                break;
            };
            let (Some(next), Some(Reply::Array(Some(keys)))) = (parts.first(), parts.get(1)) else {
                break;
            };
            for key in keys {
                let found = key
                    .text()
                    .and_then(|key| SessionId::parse(key.strip_prefix("handstamp:session:")?));
                if let Some(id) = found
                    && ids.len() < max
                    && !ids.contains(&id)
                {
                    ids.push(id);
                }
            }
            cursor = next.text().unwrap_or_default();
            if cursor == "0" || ids.len() >= max {
                break;
            }
        }
        let now = unix_secs(SystemTime::now());
        let mut sessions = Vec::new();
        for id in ids {
            let Some(text) = self.text(&id)? else {
                continue;
            };
            let ttl = self
                .redis
                .command_unrecorded(&["TTL", &session_key(&id)])?
                .integer()
                .unwrap_or(0)
                .max(0) as u64;
            let created_secs = SessionData::from_file_text(&text)
                .map(|data| data.created_secs)
                .ok();
            let expires_secs = now + ttl;
            sessions.push(SessionFileInfo {
                id,
                mode: None,
                size: text.len() as u64,
                // Redis keeps no "last used", only the expiry that each
                // use moved: it was set to last use + ttl.
                last_used_secs: expires_secs.saturating_sub(self.settings.ttl_secs).min(now),
                created_secs,
                expires_secs,
                text,
            });
        }
        let counted = self
            .redis
            .command_unrecorded(&["ZCARD", ALL_SESSIONS])?
            .integer()
            .unwrap_or(0) as usize;
        Ok((counted.max(sessions.len()), sessions))
    }
}

/// Releases a lock when its `SessionLock` is dropped.
pub(super) fn release_redis_lock(redis: &Redis, id: &SessionId, token: &str) {
    let _ = redis.command(&["EVAL", UNLOCK_SCRIPT, "1", &lock_key(id), token]);
}

fn store_down(error: RedisError) -> SessionError {
    SessionError::StoreDown(error.to_string())
}

/// Redis answered, but not as the scripts expect (`-NOSCRIPT`, `-OOM`,
/// `-WRONGTYPE` when something else is stored under a session's key).
fn refused(redis: &Redis, reply: &Reply) -> SessionError {
    SessionError::StoreDown(format!(
        "session store {} answered {}",
        redis.name(),
        reply.shown()
    ))
}
