//! Which redirect led to this page: told only by what one browser holds.
//!
//! A browser follows a redirect at once and never shows it, yet the `303`
//! after a login is what carried the `Set-Cookie`. The inspector panel
//! shows it on the page it led to, so it must know which redirect that
//! was, for this browser and nobody else. The client's address, port or
//! connection cannot tell: a NAT gateway, a proxy or a reused port puts
//! many visitors behind one. What can tell is a secret that only that
//! browser was sent, which it sends back with the next request:
//!
//! ```text
//! HTTP/1.1 303 See Other          after a login: the new session id
//! Set-Cookie: session=9c1e…       comes back as Cookie: session=9c1e…
//!
//! HTTP/1.1 303 See Other          an add to a live session: the id the
//! Location: /cart                 browser sent, and sends again
//!
//! HTTP/1.1 302 Found              a logout: the browser forgets its id,
//! Set-Cookie: inspector=5b7d…; Path=/; Max-Age=10; HttpOnly; SameSite=Lax
//! Set-Cookie: session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax
//!                                 so the panel gives it its own cookie,
//!                                 for ten seconds (and on the redirects
//!                                 that follow, which carry it)
//! ```
//!
//! A visitor with no cookie of ours gets none from the panel either, and
//! their redirects are linked to nothing.
//!
//! The redirect is kept in `sessions/.inspector/KEY`, named by that
//! secret, so a second server on the same folder finds it too. The next
//! request that sends the secret and asks for the redirect's `Location`
//! takes the file (reads it, deletes it); nothing else ever reads it. The
//! file is a line `location=/` and then the HTML of each hop, as the panel
//! shows it. With the sessions in Redis, the same text is kept in the key
//! `handstamp:redirect:KEY` for ten seconds (`SET … EX 10`), so servers
//! that share only Redis find each other's redirects. `--no-inspector`
//! leaves all of this out, cookie included.

use std::collections::VecDeque;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::cookie::{self, SESSION_COOKIE};
use crate::mutex::lock_even_if_poisoned;
use crate::redis::{Redis, Reply};
use crate::request::Request;
use crate::session::SessionId;

/// The panel's own cookie, given with a redirect that gives no new session
/// id, so the page it leads to can show it.
pub const INSPECTOR_COOKIE: &str = "inspector";

/// A redirect not followed within this time is not shown any more (a
/// browser follows at once); it is also the cookie's `Max-Age`.
pub const LINK_WINDOW: Duration = Duration::from_secs(10);

/// A page shows at most this many redirects in a row (`/logout` → `/` →
/// `/login` is two).
pub const MAX_HOPS: usize = 5;

/// At most this many files one process has written and nobody has taken
/// yet; past it the oldest is deleted, so no client can fill the disk.
const MAX_WAITING_FILES: usize = 256;

/// Put between two hops in a file: hops are escaped HTML, which never
/// holds a comment.
const HOP_SEPARATOR: &str = "\n<!-- next hop -->\n";

/// The folder of waiting redirects, and the ones this process wrote; or
/// the Redis server that keeps them instead.
#[derive(Debug)]
pub struct RedirectLinks {
    dir: PathBuf,
    written: Mutex<VecDeque<(PathBuf, SystemTime)>>,
    redis: Option<Arc<Redis>>,
}

/// What a redirect will be found by: the secret the browser sends next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkKey {
    /// The redirect's own `Set-Cookie` gave this new session id.
    NewSessionId(String),
    /// The live session id the browser sent, and keeps.
    HeldSessionId(String),
    /// The redirect ended the session (a logout), or followed one that
    /// did: the panel's cookie, whose `Set-Cookie` goes with it.
    InspectorCookie(String),
}

impl LinkKey {
    pub fn as_str(&self) -> &str {
        match self {
            LinkKey::NewSessionId(key)
            | LinkKey::HeldSessionId(key)
            | LinkKey::InspectorCookie(key) => key,
        }
    }
}

/// The `Set-Cookie` value that gives the browser the panel's cookie.
pub fn set_inspector_cookie(token: &str) -> String {
    format!(
        "{INSPECTOR_COOKIE}={token}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax",
        LINK_WINDOW.as_secs()
    )
}

impl RedirectLinks {
    /// Makes `sessions/.inspector` (0700) and removes files in it that are
    /// past the link window: nobody can take them any more, so no live
    /// process still needs them.
    pub fn open(sessions_dir: &Path) -> std::io::Result<RedirectLinks> {
        let dir = sessions_dir.join(".inspector");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        let links = RedirectLinks {
            dir,
            written: Mutex::new(VecDeque::new()),
            redis: None,
        };
        links.remove_expired()?;
        Ok(links)
    }

    /// Redirects kept in Redis, beside the sessions: no folder is used.
    pub fn in_redis(redis: Arc<Redis>) -> RedirectLinks {
        RedirectLinks {
            dir: PathBuf::new(),
            written: Mutex::new(VecDeque::new()),
            redis: Some(redis),
        }
    }

    /// Keeps a redirect's hops (the ones that led to it, then its own) for
    /// the request that follows it.
    pub fn keep(&self, key: &LinkKey, location: &str, hops_html: &[String]) {
        let skip = hops_html.len().saturating_sub(MAX_HOPS);
        let text = format!(
            "location={location}\n{}",
            hops_html[skip..].join(HOP_SEPARATOR)
        );
        if let Some(redis) = &self.redis {
            // Redis deletes it after the window; a failure loses only the
            // panel's view of this redirect.
            let key = format!("handstamp:redirect:{}", key.as_str());
            let window = LINK_WINDOW.as_secs().to_string();
            let _ = redis.command_unrecorded(&["SET", &key, &text, "EX", &window]);
            return;
        }
        let path = self.dir.join(key.as_str());
        // Written whole under another name, then renamed: a reader on
        // another server never sees half a file.
        let temp_path = self.dir.join(format!(".tmp-{}", key.as_str()));
        let written = write_private_file(&temp_path, text.as_bytes())
            .and_then(|()| fs::rename(&temp_path, &path));
        if written.is_err() {
            // The panel then says no redirect led there; the page itself
            // is not affected, so nothing more is done.
            let _ = fs::remove_file(&temp_path);
            return;
        }
        let now = SystemTime::now();
        let mut written = lock_even_if_poisoned(&self.written);
        // Files nobody took in time, and the oldest past the bound, go.
        while let Some((oldest, at)) = written.front() {
            let expired = now.duration_since(*at).unwrap_or_default() > LINK_WINDOW;
            if !expired && written.len() < MAX_WAITING_FILES {
                break;
            }
            let _ = fs::remove_file(oldest);
            written.pop_front();
        }
        written.push_back((path, now));
    }

    /// The hops of the redirect that led to this request, oldest first, if
    /// the request sends a redirect's secret and asks for its `Location`.
    /// Taking deletes the file, so a reload shows no redirect.
    pub fn take(&self, request: &Request) -> Vec<String> {
        for key in keys_sent(request) {
            if let Some(redis) = &self.redis {
                match take_from_redis(redis, key.as_str(), &request.target) {
                    Some(hops) => return hops,
                    None => continue,
                }
            }
            let path = self.dir.join(key.as_str());
            let Some(text) = read_if_recent(&path) else {
                continue;
            };
            let Some((location_line, hops)) = text.split_once('\n') else {
                continue;
            };
            if location_line.strip_prefix("location=") != Some(request.target.as_str()) {
                // A page other than the one redirected to (another tab):
                // the redirect waits for its own page.
                continue;
            }
            // Whoever deletes it owns it: two requests racing with the
            // same secret cannot both show it.
            if fs::remove_file(&path).is_err() {
                continue;
            }
            return hops.split(HOP_SEPARATOR).map(str::to_string).collect();
        }
        Vec::new()
    }

    /// Deletes the files past the link window (the session sweeper calls
    /// this, so a file nobody took does not stay).
    pub fn remove_expired(&self) -> std::io::Result<()> {
        if self.redis.is_some() {
            return Ok(());
        }
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let expired = entry
                .metadata()
                .and_then(|metadata| metadata.modified())
                .is_ok_and(is_past_window);
            if expired {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(())
    }
}

/// The redirect kept under `key` in Redis, if it leads to `target`;
/// deleted once taken, like the file.
fn take_from_redis(redis: &Redis, key: &str, target: &str) -> Option<Vec<String>> {
    let key = format!("handstamp:redirect:{key}");
    let Ok(Reply::Bulk(Some(bytes))) = redis.command_unrecorded(&["GET", &key]) else {
        return None;
    };
    let text = String::from_utf8_lossy(&bytes);
    let (location_line, hops) = text.split_once('\n')?;
    if location_line.strip_prefix("location=") != Some(target) {
        return None;
    }
    // Taken by whoever deletes it: one page shows it, not two.
    match redis.command_unrecorded(&["DEL", &key]) {
        Ok(Reply::Integer(1)) => Some(hops.split(HOP_SEPARATOR).map(str::to_string).collect()),
        _ => None,
    }
}

/// The secrets a request sends that a redirect could be kept under: the
/// panel's cookie, then the session id. Only exact 32-hex values, so
/// nothing a client makes up reaches the file system as a path.
fn keys_sent(request: &Request) -> Vec<SessionId> {
    // The `Cookie` headers are read once for both names.
    let pairs = cookie::pairs(request.headers_named("cookie"));
    [INSPECTOR_COOKIE, SESSION_COOKIE]
        .iter()
        .filter_map(|name| SessionId::from_cookie_values(&cookie::values_in(&pairs, name)).ok())
        .collect()
}

fn is_past_window(modified: SystemTime) -> bool {
    SystemTime::now()
        .duration_since(modified)
        .is_ok_and(|age| age > LINK_WINDOW)
}

/// The file's text, unless there is none or it is past the link window.
fn read_if_recent(path: &Path) -> Option<String> {
    let metadata = fs::symlink_metadata(path).ok()?;
    if !metadata.is_file() || metadata.modified().is_ok_and(is_past_window) {
        return None;
    }
    fs::read_to_string(path).ok()
}

/// A new file only this user may read (0600), like a session file.
fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::parse_head;
    use crate::session::random_token;

    fn request(head: &str) -> Request {
        parse_head(head.as_bytes()).unwrap()
    }

    #[test]
    fn a_redirect_is_taken_once_by_its_secret_and_its_location() {
        let dir = std::env::temp_dir().join(format!("handstamp-links-{}", std::process::id()));
        let links = RedirectLinks::open(&dir).unwrap();
        let token = random_token();
        let key = LinkKey::InspectorCookie(token.clone());
        links.keep(
            &key,
            "/login",
            &["<li>one</li>".to_string(), "<li>two</li>".to_string()],
        );

        let without = request("GET /login HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(links.take(&without).is_empty(), "no secret, no redirect");
        let elsewhere =
            format!("GET /cart HTTP/1.1\r\nHost: a\r\nCookie: inspector={token}\r\n\r\n");
        assert!(links.take(&request(&elsewhere)).is_empty(), "another page");
        let follow = format!("GET /login HTTP/1.1\r\nHost: a\r\nCookie: inspector={token}\r\n\r\n");
        assert_eq!(
            links.take(&request(&follow)),
            ["<li>one</li>", "<li>two</li>"]
        );
        assert!(links.take(&request(&follow)).is_empty(), "taken once");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn one_process_keeps_a_bounded_number_of_files() {
        let dir = std::env::temp_dir().join(format!("handstamp-bound-{}", std::process::id()));
        let links = RedirectLinks::open(&dir).unwrap();
        for _ in 0..MAX_WAITING_FILES + 40 {
            links.keep(&LinkKey::InspectorCookie(random_token()), "/", &[]);
        }
        let files = fs::read_dir(&links.dir).unwrap().count();
        assert_eq!(files, MAX_WAITING_FILES);
        let _ = fs::remove_dir_all(&dir);
    }
}
