//! The inspector: each page shows the HTTP exchange that made it.
//!
//! A browser hides most of what this server exists to show: the cookie is
//! `HttpOnly` (page scripts cannot see it), and the `303` that carries the
//! `Set-Cookie` after a login is followed without being displayed. So every
//! page the app renders gets a panel, below its content, with
//!
//! - the request head exactly as it was read, its `Cookie` line marked;
//! - the response head going back with this page, its `Set-Cookie` marked
//!   (`Date` and `Content-Length` are only written once the body is done,
//!   and the panel is part of the body, so the panel says so instead);
//! - the session file, `sessions/ID`, as `cat` prints it, or in words why
//!   there is none;
//! - the handler that answered (`app::login` in `src/app.rs`);
//! - the redirects that led here, each with both heads.
//!
//! Tying a redirect to the request that follows it, without a cookie of
//! our own: a browser follows a redirect at once, and in practice on the
//! same keep-alive connection, so a redirect is linked to the next request
//! for its `Location` on the same TCP connection (same client address and
//! port). A redirect that set a new session id is also linked to the next
//! request that carries that id, whatever connection it comes on: only that
//! browser has the id. Nothing else is linked, so the panel never shows
//! another visitor's exchange; where no link exists it says so. A request
//! that came through a proxy (`Forwarded`, `X-Forwarded-For` or `Via`)
//! is never linked by connection, since a proxy may carry many visitors on
//! one connection. Only the last `REMEMBERED_REDIRECTS` redirects of the
//! last `LINK_WINDOW` are kept.
//!
//! The sessions page (`GET /sessions`) lists the folder the way `ls -l`
//! and `cat` would. It shows every visitor's session, so it is served only
//! to clients on this machine (a loopback address, not through a proxy);
//! to anyone else it does not exist (404).

use std::collections::VecDeque;
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::cookie::{self, SESSION_COOKIE};
use crate::request::Request;
use crate::response::{self, Response};
use crate::session::{NoSession, SessionId, SessionStore, unix_secs};
use crate::template::escape_html;

/// How many redirects are remembered for linking; the oldest go first.
const REMEMBERED_REDIRECTS: usize = 256;
/// A redirect older than this is not linked to anything any more.
const LINK_WINDOW: Duration = Duration::from_secs(10);
/// The sessions page shows at most this many files (a folder may hold
/// 100,000).
const MAX_LISTED_SESSIONS: usize = 200;
/// At most this many redirects are shown in a row (`/logout` → `/` →
/// `/login` is two).
const MAX_CHAIN: usize = 5;

/// The redirects of the last few seconds, to show on the page they led to.
#[derive(Debug, Default)]
pub struct Inspector {
    recent: Mutex<VecDeque<Redirect>>,
}

/// One remembered redirect: both heads as they went over the wire, and
/// what it did to the session.
#[derive(Debug, Clone)]
struct Redirect {
    at: Instant,
    peer: SocketAddr,
    via_proxy: bool,
    /// The request target it redirected to (`/`, `/login`).
    location: String,
    /// The id its `Set-Cookie` gave the browser, if any.
    new_session_id: Option<String>,
    /// Set once a request has been linked to it, so a reload later does
    /// not show it again.
    followed: bool,
    handler: &'static str,
    request_head: String,
    response_head: String,
    session_html: String,
    /// The redirect that led to this one.
    led_by: Vec<Redirect>,
}

impl Inspector {
    /// Remembers a redirect just before it is written, so the browser's
    /// next request (which cannot come before these bytes arrive) finds it.
    pub fn remember_redirect(
        &self,
        peer: SocketAddr,
        request: &Request,
        response: &Response,
        response_bytes: &[u8],
        handler: &'static str,
        sessions: &SessionStore,
    ) {
        let Some(location) = response.header("location") else {
            return;
        };
        let led_by = self.redirects_leading_to(request, peer);
        let redirect = Redirect {
            at: Instant::now(),
            peer,
            via_proxy: came_through_proxy(request),
            location: location.to_string(),
            new_session_id: new_session_id(response),
            followed: false,
            handler,
            request_head: String::from_utf8_lossy(&request.raw_head).into_owned(),
            response_head: head_text(response_bytes),
            session_html: session_html(request, response, sessions),
            led_by,
        };
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == REMEMBERED_REDIRECTS {
            recent.pop_front();
        }
        recent.push_back(redirect);
    }

    /// The redirects that led to this request, oldest first: the newest
    /// unfollowed one for this target that is linked to it (see the module
    /// doc), and the ones that led to that.
    fn redirects_leading_to(&self, request: &Request, peer: SocketAddr) -> Vec<Redirect> {
        let via_proxy = came_through_proxy(request);
        let sent_ids = request.cookie_values(SESSION_COOKIE);
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let linked = recent.iter_mut().rev().find(|redirect| {
            let same_connection = !via_proxy && !redirect.via_proxy && redirect.peer == peer;
            let carries_its_id = redirect
                .new_session_id
                .as_deref()
                .is_some_and(|id| sent_ids.contains(&id));
            !redirect.followed
                && redirect.location == request.target
                && redirect.at.elapsed() < LINK_WINDOW
                && (same_connection || carries_its_id)
        });
        let Some(redirect) = linked else {
            return Vec::new();
        };
        redirect.followed = true;
        let mut chain = redirect.led_by.clone();
        let mut this_one = redirect.clone();
        this_one.led_by = Vec::new();
        chain.push(this_one);
        let skip = chain.len().saturating_sub(MAX_CHAIN);
        chain.drain(..skip);
        chain
    }

    /// Adds the panel to a page, before `</main>`. The page becomes
    /// private: it now shows the visitor's own cookie.
    pub fn add_panel(
        &self,
        mut response: Response,
        request: &Request,
        peer: SocketAddr,
        handler: &'static str,
        sessions: &SessionStore,
    ) -> Response {
        let Ok(mut page) = String::from_utf8(std::mem::take(&mut response.body)) else {
            return response;
        };
        let chain = self.redirects_leading_to(request, peer);
        if response.header("cache-control").is_none() {
            response = response.no_store_vary_cookie();
        }
        let panel = panel_html(request, &response, handler, &chain, sessions);
        match page.rfind("</main>") {
            Some(end) => page.insert_str(end, &panel),
            None => page.push_str(&panel),
        }
        response.body = page.into_bytes();
        response
    }
}

/// A request that a proxy passed on: the proxy says so in one of these.
pub fn came_through_proxy(request: &Request) -> bool {
    ["forwarded", "x-forwarded-for", "via"]
        .iter()
        .any(|name| request.header(name).is_some())
}

/// Whether the sessions page may be shown: to this machine only.
pub fn is_local_client(request: &Request, peer: SocketAddr) -> bool {
    let ip = match peer.ip() {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
        v4 => v4,
    };
    ip.is_loopback() && !came_through_proxy(request)
}

/// The id a response's `Set-Cookie: session=ID; …` gives, if any.
fn new_session_id(response: &Response) -> Option<String> {
    response
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, value)| value.strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_string())
        .find(|id| !id.is_empty())
}

fn expires_session_cookie(response: &Response) -> bool {
    response.headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("set-cookie") && *value == cookie::expire_session_cookie()
    })
}

/// The head part of bytes that went over the wire.
fn head_text(bytes: &[u8]) -> String {
    let end = bytes
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map_or(bytes.len(), |blank_line| blank_line + 4);
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Lines of a head as HTML: escaped, control characters shown as `\xNN`,
/// and the lines named in `marked` (`Cookie`, `Set-Cookie`) in `<mark>`.
fn head_html(head: &str, marked: &str) -> String {
    let mut html = String::with_capacity(head.len() + 64);
    for line in head.split("\r\n").filter(|line| !line.is_empty()) {
        let name = line.split(':').next().unwrap_or_default();
        let is_marked = name.eq_ignore_ascii_case(marked);
        if is_marked {
            html.push_str("<mark>");
        }
        push_visible(&mut html, line);
        if is_marked {
            html.push_str("</mark>");
        }
        html.push('\n');
    }
    html
}

/// Appends `line` as HTML text: a tab as `\t`, other control characters
/// as `\xNN`, and `& < > " '` escaped. One pass, straight into `html`.
fn push_visible(html: &mut String, line: &str) {
    for c in line.chars() {
        match c {
            '\t' => html.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(html, "\\x{:02x}", c as u32);
            }
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            c => html.push(c),
        }
    }
}

/// The response head as far as it is known while the page is built.
fn response_head_so_far(response: &Response) -> String {
    let mut head = response::status_line(response.status);
    head.push_str("Date: (written when the bytes go out)\r\n");
    head.push_str("Content-Length: (counted when the page is done; this panel is part of it)\r\n");
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head
}

/// What this request did to the session, and the file as it is now.
fn session_html(request: &Request, response: &Response, sessions: &SessionStore) -> String {
    let dir = sessions.dir().display().to_string();
    let new_id = new_session_id(response);
    let mut html = String::new();
    if let Some(new_id) = new_id.as_deref().and_then(SessionId::parse) {
        html.push_str(&format!(
            "<p>This answer's <code>Set-Cookie</code> gives your browser a new id; its file was just written:</p>\n{}",
            file_html(&dir, &new_id, sessions)
        ));
    }
    // The same rule as the app's (`app::session_id`), so the panel names
    // the session the handler used, or why it used none.
    match SessionId::from_cookie_values(&request.cookie_values(SESSION_COOKIE)) {
        Err(NoSession::NoCookie) if html.is_empty() => html.push_str(
            "<p>Your browser sent no <code>session</code> cookie, so there is no session file to show.</p>\n",
        ),
        Err(NoSession::NoCookie) => {}
        Err(NoSession::SeveralIds) => html.push_str(
            "<p>Your browser sent more than one <code>session</code> cookie, with different ids; the server uses none of them (NOTES.md explains why).</p>\n",
        ),
        // `MalformedId`, the only other answer for cookie values.
        Err(_) => html.push_str(
            "<p>The <code>session</code> cookie is not 32 lowercase hex digits, so the server ignored it without touching the disk.</p>\n",
        ),
        Ok(id) if expires_session_cookie(response) || new_id.is_some() => {
            let gone = matches!(sessions.file_text(&id), Ok(None));
            html.push_str(&format!(
                "<p>The file of the id your browser sent, <code>{}/{}</code>, {}.</p>\n",
                escape_html(&dir),
                id.as_str(),
                if gone { "was deleted by this request" } else { "still exists" }
            ));
        }
        Ok(id) => match &response.session_file {
            // The handler read the file for this page: show that text.
            Some(file) if file.id == id.as_str() => {
                html.push_str(&file_text_html(&dir, &id, &file.text));
            }
            _ => html.push_str(&file_html(&dir, &id, sessions)),
        },
    }
    html
}

/// `sessions/ID` and its text, or why there is none.
fn file_html(dir: &str, id: &SessionId, sessions: &SessionStore) -> String {
    let path = format!("{}/{}", escape_html(dir), id.as_str());
    match sessions.file_text(id) {
        Ok(Some(text)) => file_text_html(dir, id, &text),
        Ok(None) => format!(
            "<p>There is no file <code>{path}</code>: the session expired, was logged out, or the id was made up. It counts as no session.</p>\n"
        ),
        Err(error) => format!(
            "<p>The file <code>{path}</code> could not be read: {}.</p>\n",
            escape_html(&error.to_string())
        ),
    }
}

/// `$ cat sessions/ID` and the text it prints.
fn file_text_html(dir: &str, id: &SessionId, text: &str) -> String {
    format!(
        "<p><code>$ cat {}/{}</code></p>\n<pre class=\"file\">{}</pre>\n",
        escape_html(dir),
        id.as_str(),
        escape_html(text)
    )
}

/// Where a handler's code is: `app::login` → `src/app.rs`.
fn handler_html(handler: &str) -> String {
    let file = handler.split("::").next().unwrap_or_default();
    format!(
        "<p><code>{}</code> in <code>src/{}.rs</code></p>\n",
        escape_html(handler),
        escape_html(file)
    )
}

fn panel_html(
    request: &Request,
    response: &Response,
    handler: &'static str,
    chain: &[Redirect],
    sessions: &SessionStore,
) -> String {
    // About 2 KB for a page without redirects: one allocation, written
    // into with `write!` rather than a `format!` per part.
    let mut html = String::with_capacity(4096);
    html.push_str(
        "<section class=\"inspector\" id=\"inspector\">\n<h2>How this page was made</h2>\n",
    );
    if chain.is_empty() {
        html.push_str(
            "<p class=\"note\">No redirect that this server can tie to your browser led here \
             (it would show the request that redirected and its answer).</p>\n",
        );
    } else {
        html.push_str("<h3>The redirects that led here</h3>\n<ol class=\"chain\">\n");
        for redirect in chain {
            let start_line = redirect
                .request_head
                .split("\r\n")
                .next()
                .unwrap_or_default();
            let status_line = redirect
                .response_head
                .split("\r\n")
                .next()
                .unwrap_or_default();
            let _ = write!(
                html,
                "<li><p><code>{}</code> → <code>{}</code> (<code>{}</code>)</p>\n\
                 <pre class=\"head request\">{}</pre>\n<pre class=\"head response\">{}</pre>\n{}</li>\n",
                escape_html(start_line),
                escape_html(status_line),
                escape_html(redirect.handler),
                head_html(&redirect.request_head, "cookie"),
                head_html(&redirect.response_head, "set-cookie"),
                redirect.session_html
            );
        }
        html.push_str("</ol>\n");
    }
    let _ = write!(
        html,
        "<h3>This request, as the server read it</h3>\n<pre class=\"head request\">{}</pre>\n",
        head_html(&String::from_utf8_lossy(&request.raw_head), "cookie")
    );
    let _ = write!(
        html,
        "<h3>The answer's head</h3>\n<pre class=\"head response\">{}</pre>\n",
        head_html(&response_head_so_far(response), "set-cookie")
    );
    html.push_str("<h3>The session file</h3>\n");
    html.push_str(&session_html(request, response, sessions));
    html.push_str("<h3>The code that answered</h3>\n");
    html.push_str(&handler_html(handler));
    html.push_str(
        "<p class=\"note\">All sessions: <a href=\"/sessions\">/sessions</a>. \
         Start the server with <code>--no-inspector</code> to hide this panel.</p>\n</section>\n",
    );
    html
}

/// The sessions page's list: each file as `ls -l` and `cat` show it.
pub fn sessions_listing_html(sessions: &SessionStore) -> Result<String, std::io::Error> {
    let (total, files) = sessions.list(MAX_LISTED_SESSIONS)?;
    let dir = escape_html(&sessions.dir().display().to_string());
    let now = unix_secs(SystemTime::now());
    if files.is_empty() {
        return Ok(format!(
            "<p><code>$ ls -l {dir}/</code> shows no session files: nobody has stored anything.</p>\n"
        ));
    }
    let shown = match total > files.len() {
        true => format!(" (the {} used most recently are shown)", files.len()),
        false => String::new(),
    };
    let mut html = format!(
        "<p><code>$ ls -l {dir}/</code>: {total} file{}{shown}.</p>\n<table class=\"sessions\">\n\
         <tr><th>mode</th><th>bytes</th><th>file</th><th>created</th><th>last used</th><th>expires</th></tr>\n",
        if total == 1 { "" } else { "s" }
    );
    for file in &files {
        html.push_str(&format!(
            "<tr><td><code>-rw-------</code></td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            file.size,
            file.id.as_str(),
            file.created_secs.map_or("(corrupt file)".to_string(), |secs| ago(now, secs)),
            ago(now, file.last_used_secs),
            from_now(now, file.expires_secs),
        ));
    }
    html.push_str("</table>\n");
    for file in &files {
        html.push_str(&format!(
            "<p><code>$ cat {dir}/{}</code></p>\n<pre class=\"file\">{}</pre>\n",
            file.id.as_str(),
            escape_html(&file.text)
        ));
    }
    Ok(html)
}

fn ago(now: u64, secs: u64) -> String {
    format!(
        "{} s ago ({})",
        now.saturating_sub(secs),
        response::http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
    )
}

fn from_now(now: u64, secs: u64) -> String {
    format!("in {} s", secs.saturating_sub(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::parse_head;

    #[test]
    fn only_loopback_peers_not_behind_a_proxy_are_local() {
        let direct = parse_head(b"GET /sessions HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        let proxied =
            parse_head(b"GET /sessions HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n")
                .unwrap();
        for (peer, local) in [
            ("127.0.0.1:5000", true),
            ("127.0.0.2:5000", true),
            ("[::1]:5000", true),
            ("[::ffff:127.0.0.1]:5000", true),
            ("192.0.2.7:5000", false),
            ("[2001:db8::1]:5000", false),
            ("[::ffff:192.0.2.7]:5000", false),
        ] {
            let peer: SocketAddr = peer.parse().unwrap();
            assert_eq!(is_local_client(&direct, peer), local, "{peer}");
            assert!(!is_local_client(&proxied, peer), "{peer} via a proxy");
        }
    }
}
