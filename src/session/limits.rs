//! The cap on sessions, and who gives way when the folder is full
//! *(skip at first)*.
//!
//! `--max-sessions` (default 100,000) caps the session files, so no client
//! can fill the disk. One count serves every process on the folder: the
//! file `sessions/.count`, read and changed only under a `flock` on the
//! folder itself (which no cleaner can delete), and counted again from
//! the folder at each sweep, so hand-made changes are caught up with.
//!
//! When the folder is full, who gives way? Each session file says which
//! address made it (`from=127.0.0.2`). With N addresses holding sessions
//! (the newcomer's counted), each address's share is the cap divided by N. The address holding the
//! most sessions, if it holds more than its share, loses its oldest one;
//! else the newcomer's own address loses its oldest; and if it has none,
//! the newcomer gets `503`. So a client that makes sessions as fast as it
//! can only ever pushes out its own, and a visitor from another address
//! keeps theirs. Visitors sharing the
//! attacker's address (a NAT, a proxy) share its fate: NOTES.md, "When the
//! sessions folder is full", says so and what it costs.
//!
//! Who made which session is kept in memory, as far as this process knows:
//! the sessions it made, and those it reads in the folder when the folder
//! is full and it knows of nobody over their share (a thousand files at a
//! time, at most once a second). What it knows stands for the whole
//! folder: a sample where a quarter of the files are one address's says
//! that address holds a quarter of the folder.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File};
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;
use std::sync::MutexGuard;
use std::time::{Duration, Instant, SystemTime};

use super::file::{Opened, open_session_file};
use super::folder::{SessionFolder, TEMP_PREFIX};
use super::locks::LOCK_WAIT;
use super::{SessionError, SessionId};
use crate::mutex::lock_even_if_poisoned;

/// How long login remembers the id it replaced (see `was_replaced`).
const REPLACED_MEMORY: Duration = Duration::from_secs(10);
/// At most this many replaced ids are remembered; the oldest go first.
const MAX_REPLACED_REMEMBERED: usize = 4096;
/// The folder is read again for sessions of unknown makers at most this
/// often when it is full.
const RESCAN_INTERVAL: Duration = Duration::from_secs(1);
/// At most this many unknown files are read by one rescan.
const RESCAN_FILES: usize = 1000;
/// The file that holds the folder's session count.
pub const COUNT_FILE: &str = ".count";
/// A temporary file older than this belongs to a write that can no longer
/// finish, whoever made it.
const STALE_TEMP_AGE: Duration = Duration::from_secs(600);

/// Who made a session: its `from=` address, or `None` for a file without
/// one. Those count as one more maker.
type Maker = Option<IpAddr>;

/// Who made the sessions this process knows of.
#[derive(Default)]
pub struct Makers {
    /// Each maker's sessions, oldest first. An id deleted since stays here
    /// until it comes to the front (it is no longer in `maker_of`).
    oldest_first: HashMap<Maker, VecDeque<u128>>,
    /// How many live sessions each maker has.
    counts: HashMap<Maker, usize>,
    maker_of: HashMap<u128, Maker>,
    rescanned_at: Option<Instant>,
}

impl Makers {
    fn add(&mut self, id: u128, maker: Maker) {
        if self.maker_of.insert(id, maker).is_none() {
            self.oldest_first.entry(maker).or_default().push_back(id);
            *self.counts.entry(maker).or_default() += 1;
        }
    }

    fn forget(&mut self, id: u128) {
        if let Some(maker) = self.maker_of.remove(&id)
            && let Some(count) = self.counts.get_mut(&maker)
        {
            *count -= 1;
            if *count == 0 {
                self.counts.remove(&maker);
                self.oldest_first.remove(&maker);
            }
        }
    }

    /// The session that gives way to a newcomer from `newcomer` when the
    /// folder holds `in_folder` sessions, at or over `cap`: the oldest of
    /// the maker with the most, if that maker holds more than its share;
    /// else the newcomer's own oldest.
    fn next_to_give_way(&mut self, cap: usize, in_folder: usize, newcomer: Maker) -> Option<u128> {
        // The newcomer's address counts among those sharing the cap: the
        // first visitor besides an attacker halves the attacker's share.
        let makers = self.counts.len() + usize::from(!self.counts.contains_key(&newcomer));
        let share = (cap / makers).max(1) as f64;
        // Known only in part (a big folder not read whole yet, another
        // process's sessions): what is known stands for the whole folder.
        let scale = (in_folder as f64 / self.maker_of.len().max(1) as f64).max(1.0);
        let heaviest = self.counts.iter().max_by_key(|(_, count)| **count);
        let maker = match heaviest {
            Some((&maker, &count)) if count as f64 * scale > share => maker,
            _ => newcomer,
        };
        let queue = self.oldest_first.get_mut(&maker)?;
        while let Some(id) = queue.pop_front() {
            if self.maker_of.get(&id) == Some(&maker) {
                return Some(id);
            }
        }
        None
    }
}

/// An id as a number, for the maps: 16 bytes instead of a 32-byte string.
fn key(id: &SessionId) -> u128 {
    u128::from_str_radix(id.as_str(), 16).expect("a SessionId is 32 hex digits")
}

fn id_of(key: u128) -> SessionId {
    SessionId::parse(&format!("{key:032x}")).expect("32 lowercase hex digits")
}

impl SessionFolder {
    fn makers(&self) -> MutexGuard<'_, Makers> {
        lock_even_if_poisoned(&self.makers)
    }

    /// Counts one more session in for a visitor from `from`, making room
    /// if the folder is full (see the module doc for whose session gives
    /// way). If none can, the answer is `Full`.
    pub(super) fn reserve_place(&self, from: Option<IpAddr>) -> Result<(), SessionError> {
        let cap = self.settings.max_sessions;
        // One session out, the newcomer in: the folder never grows past the
        // cap, and a folder already over it (the cap was lowered, files
        // were copied in) does not grow either, and shrinks as it sweeps.
        for _ in 0..16 {
            let (reserved, in_folder) = self.change_count(|count| {
                let reserved = *count < cap;
                if reserved {
                    *count += 1;
                }
                (reserved, *count)
            })?;
            if reserved {
                return Ok(());
            }
            let mut candidate = self.makers().next_to_give_way(cap, in_folder, from);
            if candidate.is_none() && self.may_rescan() {
                // Sessions made elsewhere: look at the folder again (at most
                // once a second, and at most a thousand files read, so no
                // request waits long).
                self.learn_makers(RESCAN_FILES);
                candidate = self.makers().next_to_give_way(cap, in_folder, from);
                if candidate.is_none() {
                    // Files removed by hand? Count the folder again.
                    let counted = count_session_files(&self.settings.dir);
                    self.change_count(|count| *count = counted)?;
                    if counted < cap {
                        continue;
                    }
                }
            }
            let Some(candidate) = candidate else {
                return Err(SessionError::Full(cap));
            };
            if self.evict(&id_of(candidate)) {
                return Ok(());
            }
        }
        Err(SessionError::Full(cap))
    }

    /// Deletes `id` to make room, under its lock (a request using it
    /// finishes first), and hands its place to the newcomer: the count
    /// does not change. Says whether it was deleted.
    fn evict(&self, id: &SessionId) -> bool {
        match self.lock(id) {
            Ok(Some(lock)) => {
                let deleted = fs::remove_file(self.path_of(&lock.id)).is_ok();
                self.makers().forget(key(id));
                deleted
            }
            // Gone already (a logout elsewhere): just forget it.
            _ => {
                self.makers().forget(key(id));
                false
            }
        }
    }

    /// Gives back a place `reserve_place` counted (the write failed).
    pub(super) fn release_place(&self) {
        let _ = self.change_count(|count| *count = count.saturating_sub(1));
    }

    /// Counts in a session written without `reserve_place` (login's
    /// replacement, whose old session is deleted next).
    pub(super) fn add_place(&self) {
        let _ = self.change_count(|count| *count += 1);
    }

    pub(super) fn note_made(&self, id: &SessionId, from: Option<IpAddr>) {
        self.makers().add(key(id), from);
    }

    pub(super) fn note_deleted(&self, id: &SessionId) {
        self.makers().forget(key(id));
        self.release_place();
    }

    /// Runs `change` on the folder's session count, under the folder's
    /// lock, and stores the result. A missing or unreadable count (the
    /// first start, a hand-made change) is counted again from the folder.
    pub(super) fn change_count<T>(
        &self,
        change: impl FnOnce(&mut usize) -> T,
    ) -> Result<T, SessionError> {
        let folder = lock_even_if_poisoned(&self.folder);
        wait_for_folder(&folder)?;
        let count_path = self.settings.dir.join(COUNT_FILE);
        let written = read_and_write_count(&count_path, &self.settings.dir, change);
        let _ = folder.unlock();
        written.map_err(|source| SessionError::Write {
            path: count_path,
            source,
        })
    }

    /// The folder's session count as last stored, for the sessions page.
    pub(super) fn stored_count(&self) -> Option<usize> {
        let text = fs::read_to_string(self.settings.dir.join(COUNT_FILE)).ok()?;
        text.trim().parse().ok()
    }

    fn may_rescan(&self) -> bool {
        let mut makers = self.makers();
        let due = makers
            .rescanned_at
            .is_none_or(|at| at.elapsed() >= RESCAN_INTERVAL);
        if due {
            makers.rescanned_at = Some(Instant::now());
        }
        due
    }

    /// Reads the folder for sessions this process does not know yet (made
    /// before it started, or by another process), at most `limit` of them,
    /// and notes who made them, oldest first.
    fn learn_makers(&self, limit: usize) {
        let Ok(entries) = fs::read_dir(&self.settings.dir) else {
            return;
        };
        let mut found: Vec<(u64, u128, Maker)> = Vec::new();
        for entry in entries.flatten() {
            let Some(id) = SessionId::parse(&entry.file_name().to_string_lossy()) else {
                continue;
            };
            if self.makers().maker_of.contains_key(&key(&id)) {
                continue;
            }
            if let Some((created, maker)) = read_created_and_maker(&entry.path()) {
                found.push((created, key(&id), maker));
            }
            if found.len() >= limit {
                break;
            }
        }
        found.sort_unstable();
        let mut makers = self.makers();
        for (_, id, maker) in found {
            makers.add(id, maker);
        }
    }

    /// Removes the temporary files that no write can finish any more
    /// (names only: no file is opened). Runs in the background at start.
    pub fn remove_abandoned_temp_files(&self) {
        let Ok(entries) = fs::read_dir(&self.settings.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(TEMP_PREFIX) {
                remove_if_abandoned(&entry.path(), &name);
            }
        }
    }

    /// Counts a folder nobody counted yet (no `sessions/.count`): the
    /// sweeper does it just after the start, so that the first login does
    /// not pay for reading a big folder's names. A login arriving while it
    /// runs waits for the folder's lock, as it would have counted anyway.
    pub fn count_if_uncounted(&self) {
        if !self.settings.dir.join(COUNT_FILE).exists() {
            let _ = self.change_count(|_| ());
        }
    }

    /// Remembers that login just replaced `id` (see `was_replaced`).
    pub(super) fn remember_replaced(&self, id: &SessionId) {
        let mut replaced = lock_even_if_poisoned(&self.replaced);
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
        let replaced = lock_even_if_poisoned(&self.replaced);
        replaced
            .iter()
            .any(|(old, at)| old == id && at.elapsed() <= REPLACED_MEMORY)
    }
}

/// Reads the count in `path`, changes it, and writes it back over itself,
/// in place: the same 20 bytes each time (`42` and spaces), so the file
/// never grows or shrinks. A missing or unreadable count is counted again
/// from the folder.
fn read_and_write_count<T>(
    path: &Path,
    dir: &Path,
    change: impl FnOnce(&mut usize) -> T,
) -> std::io::Result<T> {
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    let mut bytes = [0u8; 20];
    let read = file.read_at(&mut bytes, 0)?;
    let mut count = std::str::from_utf8(&bytes[..read])
        .ok()
        .and_then(|text| text.trim().parse::<usize>().ok())
        .unwrap_or_else(|| count_session_files(dir));
    let result = change(&mut count);
    file.write_all_at(format!("{count:<19}\n").as_bytes(), 0)?;
    Ok(result)
}

/// `flock` on the folder, waiting at most `LOCK_WAIT` (a process stopped
/// while holding it must not stop the others).
fn wait_for_folder(folder: &File) -> Result<(), SessionError> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match folder.try_lock() {
            Ok(()) => return Ok(()),
            Err(fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(fs::TryLockError::WouldBlock) => return Err(SessionError::LockTimeout(LOCK_WAIT)),
            Err(fs::TryLockError::Error(error)) => return Err(SessionError::Lock(error)),
        }
    }
}

/// How many entries of the folder are named like a session: names only,
/// no file is opened or stat'ed.
pub fn count_session_files(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|entry| SessionId::parse(&entry.file_name().to_string_lossy()).is_some())
        .count()
}

/// A session file's `created=` and `from=` lines, from its first bytes.
fn read_created_and_maker(path: &Path) -> Option<(u64, Maker)> {
    let Ok(Opened::File(file)) = open_session_file(path) else {
        return None;
    };
    let mut text = String::new();
    file.take(512).read_to_string(&mut text).ok()?;
    let created = text
        .lines()
        .find_map(|line| line.strip_prefix("created="))?
        .parse()
        .ok()?;
    let maker = text
        .lines()
        .find_map(|line| line.strip_prefix("from="))
        .and_then(|address| address.parse().ok());
    Some((created, maker))
}

/// Removes a temporary file whose write can no longer finish: one named by
/// a process that is gone (`.tmp-PID-…`), or older than `STALE_TEMP_AGE`.
/// A live process's write in progress is never touched.
fn remove_if_abandoned(path: &Path, name: &str) {
    let pid = name
        .strip_prefix(TEMP_PREFIX)
        .and_then(|rest| rest.split('-').next())
        .and_then(|pid| pid.parse::<u32>().ok());
    let writer_is_gone = pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
    let is_old = fs::symlink_metadata(path)
        .and_then(|metadata| metadata.modified())
        .is_ok_and(|modified| {
            SystemTime::now()
                .duration_since(modified)
                .is_ok_and(|age| age > STALE_TEMP_AGE)
        });
    if writer_is_gone || is_old {
        let _ = fs::remove_file(path);
    }
}
