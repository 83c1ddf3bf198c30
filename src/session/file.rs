//! The session file: plain text a person can `cat`, written whole.
//!
//! ```text
//! created=1795293085
//! name=David
//! cart=2,2,5
//! ```
//!
//! One `key=value` a line; `%`, `=` and control characters in a value are
//! written `%XX`, so any value round-trips. A file is written whole into a
//! temporary file, then renamed over the old one: readers, and a crash,
//! see the old file or the new one, never half of each.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::SystemTime;

/// Session files larger than this are not session files.
pub const MAX_FILE_BYTES: u64 = 64 * 1024;

/// A session as `load` read it: its values, its text byte for byte (the
/// panel shows what the page was made from), and in a folder what
/// `ls -ln` shows of its file (Redis keys have no such line).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub data: SessionData,
    pub text: String,
    pub file: Option<FileFacts>,
}

/// What `ls -ln` shows of a session file, from the `fstat` that `load`
/// makes anyway (no extra system call), with the time as it is once
/// `load` has moved it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFacts {
    pub mode: u32,
    pub links: u64,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub modified: SystemTime,
}

/// What one session holds: when it was created, the address that made it
/// (the cap's bookkeeping, session/limits.rs), and `key=value` pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionData {
    pub created_secs: u64,
    /// `from=127.0.0.1`: who made the session. `None` in files written
    /// before the line existed, and in made-up test data.
    pub from: Option<IpAddr>,
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
            from: None,
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
        debug_assert!(
            is_key(key) && key != "created" && key != "from",
            "bad session key {key}"
        );
        match self.values.iter_mut().find(|(k, _)| k == key) {
            Some(pair) => pair.1 = value.to_string(),
            None => self.values.push((key.to_string(), value.to_string())),
        }
    }

    pub fn values(&self) -> &[(String, String)] {
        &self.values
    }

    /// The file's text: `created=…` first, `from=…`, then each pair, one
    /// per line.
    pub fn to_file_text(&self) -> String {
        // The bookkeeping first: when the session began, who made it.
        let mut text = format!("created={}\n", self.created_secs);
        if let Some(from) = self.from {
            text.push_str(&format!("from={from}\n"));
        }
        // Then each value on a line of its own: escaped, so a value with
        // a newline or `=` in it cannot pose as another line.
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
        let mut from = None;
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
            } else if key == "from" {
                let address = value
                    .parse::<IpAddr>()
                    .map_err(|_| CorruptSession("from= is not an address"))?;
                if from.replace(address).is_some() {
                    return Err(CorruptSession("from= appears twice"));
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
            from,
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
    let bytes = crate::form::percent_decode(raw.as_bytes())
        .map_err(|_| CorruptSession("a value has a broken %XX escape"))?;
    String::from_utf8(bytes).map_err(|_| CorruptSession("a value is not UTF-8"))
}

/// Why a session file could not be read.
pub enum ReadProblem {
    Io(std::io::Error),
    Corrupt(CorruptSession),
}

/// Reads the whole file in one `read`: its size is known from `fstat`, and
/// it never changes in place (every write is a new file renamed over it).
pub fn read_session_file(file: &mut File, size: u64) -> Result<(SessionData, String), ReadProblem> {
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
/// and writable by its owner only (0600), and writes `bytes` to it.
pub fn write_new_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

/// What opening a session file found.
pub enum Opened {
    File(File),
    Missing,
    /// Something else stands where the file should: never read or
    /// followed, and said why.
    NotAFile(&'static str),
}

/// Opens a session file for reading, and only a regular file: a symlink
/// planted in `sessions/` must not let anyone read other files
/// (`O_NOFOLLOW`), and a FIFO or device named like an id must not hang the
/// request, the sessions page or the sweep (`O_NONBLOCK` opens it at
/// once, then `fstat` says what it is).
pub fn open_session_file(path: &Path) -> std::io::Result<Opened> {
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(O_NOFOLLOW | O_NONBLOCK)
        .open(path);
    match opened {
        Ok(file) if file.metadata()?.is_file() => Ok(Opened::File(file)),
        Ok(_) => Ok(Opened::NotAFile(
            "not a regular file (a FIFO, device or folder); never read",
        )),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(Opened::Missing),
        Err(_) if path.is_symlink() => Ok(Opened::NotAFile(
            "a symlink stands where its file should; not followed",
        )),
        // A socket cannot be opened at all (ENXIO).
        Err(error) if error.raw_os_error() == Some(6) => Ok(Opened::NotAFile(
            "a socket stands where its file should; never read",
        )),
        Err(error) => Err(error),
    }
}

/// `open(2)`'s "do not wait": a FIFO opens at once instead of waiting for
/// a writer. The same value on every Linux architecture this builds for.
const O_NONBLOCK: i32 = 0o4000;

/// The `open(2)` flag that refuses a final symlink. Its value differs
/// between CPU architectures; std does not export it and libc is not a
/// dependency of this project.
#[cfg(any(
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "powerpc64"
))]
pub const O_NOFOLLOW: i32 = 0o100000;
#[cfg(not(any(
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "powerpc64"
)))]
pub const O_NOFOLLOW: i32 = 0o400000;

#[cfg(test)]
mod tests {
    use super::*;

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
