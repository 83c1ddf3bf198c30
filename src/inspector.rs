//! The inspector: each page shows the HTTP exchange that made it.
//!
//! A browser hides most of what this server exists to show: the cookie is
//! `HttpOnly` (page scripts cannot see it), and the `303` that carries the
//! `Set-Cookie` after a login is followed without being displayed. So every
//! page the app renders gets a panel, below its content, with
//!
//! - the round trip as a picture (inspector/diagram.rs);
//! - the request head exactly as it was read, its `Cookie` line marked,
//!   the lines that matter first and the rest folded; the body, if any
//!   (inspector/heads.rs);
//! - the response head going back with this page, its `Set-Cookie` marked
//!   (`Date` and `Content-Length` are only written once the body is done,
//!   and the panel is part of the body, so the panel says so instead);
//! - the session file, `sessions/ID`, as `cat` prints it and `ls -ln`
//!   lists it, or in words why there is none (inspector/files.rs);
//! - the handler that answered (`app::login` in `src/app.rs`);
//! - the redirects that led here, each with both heads.
//!
//! Which redirect led here is told only by a secret that this browser
//! alone was sent (redirect_link.rs); where none links, the panel says so.
//!
//! The sessions page lists the folder the way `ls -l` and `cat` would
//! (inspector/files.rs too). It shows every visitor's session, so it is
//! only for whoever started the server: its address holds a secret
//! printed at start (router.rs).

mod diagram;
mod files;
mod heads;

use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;

use crate::cookie::{self, SESSION_COOKIE};
use crate::flask_session::Answer;
use crate::redirect_link::{
    INSPECTOR_COOKIE, LINK_WINDOW, LinkKey, RedirectLinks, set_inspector_cookie,
};
use crate::request::Request;
use crate::response;
use crate::session::{NoSession, SessionId, SessionStore, random_token};
use crate::template::push_escaped;
use diagram::Step;
pub use files::sessions_listing_html;
use files::{push_file, push_file_text, push_ls, push_store_commands};
use heads::{
    FIRST_REQUEST_HEADERS, FIRST_RESPONSE_HEADERS, as_text, head_text, push_body, push_head,
    response_head_so_far,
};

/// The panel, and the redirects waiting for the pages they lead to.
#[derive(Debug)]
pub struct Inspector {
    links: RedirectLinks,
}

impl Inspector {
    /// Ready to keep redirects in `sessions/.inspector`, or in Redis when
    /// the sessions are there (redirect_link.rs).
    pub fn open(sessions_dir: &Path, sessions: &SessionStore) -> std::io::Result<Inspector> {
        let links = match sessions.redis() {
            Some(redis) => RedirectLinks::in_redis(Arc::clone(redis)),
            None => RedirectLinks::open(sessions_dir)?,
        };
        Ok(Inspector { links })
    }

    /// Gives a redirect the secret it will be found by: the session id
    /// the browser holds after it (a new one, or its live one), or, where
    /// the redirect ends the browser's session (a logout) or continues a
    /// chain that did, the panel's own cookie, added here. `None` for an
    /// answer that is not a redirect, and for a visitor with no cookie of
    /// ours: one who stores nothing is given nothing.
    pub fn key_for_redirect(
        &self,
        request: &Request,
        answer: &mut Answer,
        sessions: &SessionStore,
    ) -> Option<LinkKey> {
        answer.response.header("location")?;
        if let Some(id) = &answer.session.new_id {
            return Some(LinkKey::NewSessionId(id.as_str().to_string()));
        }
        let ends_session = answer.session.ended;
        let sent = SentCookie::of(request);
        if !ends_session
            && let Ok(id) = &sent.id
            && matches!(sessions.text(id), Ok(Some(_)))
        {
            // A live session: only the browser that holds it sends its id.
            return Some(LinkKey::HeldSessionId(id.as_str().to_string()));
        }
        let continues_chain = sent.inspector_cookie_sent;
        if !ends_session && !continues_chain {
            return None;
        }
        let token = random_token();
        // Before the app's own `Set-Cookie`, if any: curl 7.88, given
        // `session=; Max-Age=0` and then another cookie in one answer,
        // writes the expired session back into its cookie jar.
        let headers = &mut answer.response.headers;
        let at = headers
            .iter()
            .position(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
            .unwrap_or(headers.len());
        headers.insert(at, ("Set-Cookie".to_string(), set_inspector_cookie(&token)));
        Some(LinkKey::InspectorCookie(token))
    }

    /// Keeps a redirect just before it is written, so the browser's next
    /// request (which cannot come before these bytes arrive) finds it.
    pub fn remember_redirect(
        &self,
        key: &LinkKey,
        request: &Request,
        answer: &Answer,
        response_bytes: &[u8],
        sessions: &SessionStore,
    ) {
        let Some(location) = answer.response.header("location") else {
            return;
        };
        // The redirects that led to this one come first in its chain.
        let mut hops = self.links.take(request);
        let response_head = head_text(response_bytes);
        let status_line = response_head.split("\r\n").next().unwrap_or_default();
        let sent = SentCookie::of(request);
        let step = step_of(request, &sent, answer, status_line);
        hops.push(format!(
            "{}\n{}",
            step.to_line(),
            hop_html(request, &sent, answer, &response_head, sessions)
        ));
        self.links.keep(key, location, &hops);
    }

    /// Adds the panel to a page, before `</main>`. The page becomes
    /// private: it now shows the visitor's own cookie.
    pub fn add_panel(
        &self,
        mut answer: Answer,
        request: &Request,
        sessions: &SessionStore,
    ) -> Answer {
        let body = std::mem::take(&mut answer.response.body);
        let mut page = match String::from_utf8(body) {
            Ok(page) => page,
            Err(not_text) => {
                answer.response.body = not_text.into_bytes();
                return answer;
            }
        };
        let chain = self.links.take(request);
        answer.response = answer.response.no_store_vary_cookie();
        // The panel is written into the page itself, before `</main>`:
        // no copy of the page, no string per part.
        let end = page.rfind("</main>").unwrap_or(page.len());
        let after_panel = page.split_off(end);
        page.reserve(PANEL_SIZE + after_panel.len());
        push_panel(&mut page, request, &answer, &chain, sessions);
        page.push_str(&after_panel);
        answer.response.body = page.into_bytes();
        answer
    }

    /// Deletes redirects nobody followed in time (the sweeper calls this).
    pub fn remove_expired_links(&self) {
        let _ = self.links.remove_expired();
    }
}

/// One redirect as a hop of the chain: both heads as they went over the
/// wire, and what it did to the session.
fn hop_html(
    request: &Request,
    sent: &SentCookie,
    answer: &Answer,
    response_head: &str,
    sessions: &SessionStore,
) -> String {
    let request_head = as_text(&request.raw_head);
    let start_line = request_head.split("\r\n").next().unwrap_or_default();
    let status_line = response_head.split("\r\n").next().unwrap_or_default();
    let mut html = String::new();
    html.push_str("<li><p><code>");
    push_escaped(&mut html, start_line);
    html.push_str("</code> → <code>");
    push_escaped(&mut html, status_line);
    html.push_str("</code> (<code>");
    push_escaped(&mut html, answer.handler);
    html.push_str("</code>)</p>\n");
    push_head(
        &mut html,
        &request_head,
        "request",
        "cookie",
        &FIRST_REQUEST_HEADERS,
    );
    push_body(&mut html, request);
    push_head(
        &mut html,
        response_head,
        "response",
        "set-cookie",
        &FIRST_RESPONSE_HEADERS,
    );
    push_session(&mut html, sent, answer, sessions, Shown::InChain);
    html.push_str("</li>");
    html
}

/// The `session` cookie a request carried: its values as sent, and the
/// id they name, by the views' own rule (`flask_session::session_id`),
/// or why none; and whether the panel's own cookie came too. Read here
/// by one rule for the redirect's key, the diagram, the file part and
/// the notes.
struct SentCookie<'a> {
    values: Vec<&'a str>,
    id: Result<SessionId, NoSession>,
    inspector_cookie_sent: bool,
}

impl SentCookie<'_> {
    fn of(request: &Request) -> SentCookie<'_> {
        let pairs = cookie::pairs(request.headers_named("cookie"));
        let values = cookie::values_in(&pairs, SESSION_COOKIE);
        let id = SessionId::from_cookie_values(&values);
        let inspector_cookie_sent = !cookie::values_in(&pairs, INSPECTOR_COOKIE).is_empty();
        SentCookie {
            values,
            id,
            inspector_cookie_sent,
        }
    }
}

/// The diagram's view of one exchange.
fn step_of(request: &Request, sent: &SentCookie, answer: &Answer, status_line: &str) -> Step {
    let report = &answer.session;
    let (store_action, store_id) = if report.ended {
        ("deleted", sent.id.as_ref().ok())
    } else if let Some(new_id) = &report.new_id {
        ("wrote", Some(new_id))
    } else if report.saved {
        ("read, wrote", report.file_read.as_ref().map(|(id, ..)| id))
    } else if let Some((id, ..)) = &report.file_read {
        ("read", Some(id))
    } else {
        ("", None)
    };
    let set_cookie = answer
        .response
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .find_map(|(_, value)| {
            let pair = value.split(';').next()?;
            pair.strip_prefix(SESSION_COOKIE)?.strip_prefix('=')
        })
        .map(str::to_string);
    Step {
        // The first line only, cut before the rest is turned into text.
        request_line: String::from_utf8_lossy(
            request
                .raw_head
                .split(|&byte| byte == b'\r' || byte == b'\n')
                .next()
                .unwrap_or_default(),
        )
        .into_owned(),
        cookie: (!sent.values.is_empty()).then(|| sent.values.join(", ")),
        store_action: store_action.to_string(),
        store_id: store_id.map(|id| id.as_str().to_string()),
        status: status_line
            .split_once(' ')
            .map_or(status_line, |(_, status)| status)
            .to_string(),
        set_cookie,
    }
}

/// Where a session's part is shown: in a redirect of the chain, or for
/// the page itself, which shows the file as it is now.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shown {
    InChain,
    ForThePage,
}

/// Appends what this request did to the session, and the file as it is
/// now.
fn push_session(
    html: &mut String,
    sent: &SentCookie,
    answer: &Answer,
    sessions: &SessionStore,
    shown: Shown,
) {
    let report = &answer.session;
    if let Some(new_id) = &report.new_id {
        html.push_str(
            "<p>This answer's <code>Set-Cookie</code> gives your browser a new id; \
             its file was just written:</p>\n",
        );
        // In a chain, the page it leads to shows the file: once is enough.
        match shown {
            Shown::ForThePage => push_file(html, new_id, sessions),
            Shown::InChain => {
                html.push_str("<p><code>");
                push_escaped(html, &sessions.place_of(new_id));
                html.push_str("</code>: the page this led to shows it below.</p>\n");
            }
        }
    }
    // The id the views used (`SentCookie`), or why they used none.
    match &sent.id {
        Err(NoSession::NoCookie) if report.new_id.is_none() => html.push_str(
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
        Ok(id) if report.ended || report.new_id.is_some() => {
            let gone = matches!(sessions.text(id), Ok(None));
            html.push_str("<p>The file of the id your browser sent, <code>");
            push_escaped(html, &sessions.place_of(id));
            html.push_str("</code>, ");
            html.push_str(match gone {
                true => "was deleted by this request",
                false => "still exists",
            });
            html.push_str(".</p>\n");
        }
        Ok(id) => match &report.file_read {
            // The view's session was read from this file: show that text,
            // byte for byte what the page was made from.
            Some((read_id, text, facts)) if read_id == id => {
                push_file_text(html, &sessions.show_command(id), text);
                if let Some(facts) = facts {
                    push_ls(html, facts, &sessions.place_of(id));
                }
            }
            _ => push_file(html, id, sessions),
        },
    }
    if !report.store_commands.is_empty() {
        push_store_commands(html, report, sessions);
    }
}

/// Where a handler's code is: `app::login` → `src/app.rs`.
fn handler_html(html: &mut String, handler: &str) {
    let file = handler.split("::").next().unwrap_or_default();
    html.push_str("<p><code>");
    push_escaped(html, handler);
    html.push_str("</code> in <code>src/");
    push_escaped(html, file);
    html.push_str(".rs</code></p>\n");
}

/// A kept redirect: its diagram step on the first line, then its HTML
/// (`remember_redirect`). One kept by a server without the diagram, in
/// the seconds around an upgrade, is all HTML.
fn split_hop(hop: &str) -> (Option<Step>, &str) {
    if let Some((line, html)) = hop.split_once('\n')
        && let Some(step) = Step::from_line(line)
    {
        return (Some(step), html);
    }
    (None, hop)
}

/// About what a panel for a page without redirects takes (3 KB), so
/// that the page grows once.
const PANEL_SIZE: usize = 4096;

/// Appends the panel: the picture, both heads, the session file, the
/// handler, and the redirects that led here.
fn push_panel(
    html: &mut String,
    request: &Request,
    answer: &Answer,
    chain: &[String],
    sessions: &SessionStore,
) {
    html.push_str(
        "<section class=\"inspector\" id=\"inspector\">\n<h2>How this page was made</h2>\n",
    );
    // The picture first: each redirect's exchange, then this page's.
    let (hop_steps, hops): (Vec<Option<Step>>, Vec<&str>) =
        chain.iter().map(|hop| split_hop(hop)).unzip();
    let status_line = response::status_line(answer.response.status);
    let mut steps: Vec<Step> = hop_steps.into_iter().flatten().collect();
    let sent = SentCookie::of(request);
    steps.push(step_of(request, &sent, answer, status_line.trim_end()));
    let store_name = match sessions.redis() {
        Some(_) => "Redis",
        None => "sessions/",
    };
    html.push_str("<div class=\"diagram-box\">");
    diagram::push_svg(html, &steps, store_name);
    html.push_str("</div>\n");
    if chain.is_empty() {
        html.push_str(
            "<p class=\"note\">You came here directly (a reload, a link or a typed address), \
             not through a redirect.</p>\n",
        );
    } else {
        html.push_str("<h3>The redirects that led here</h3>\n<ol class=\"chain\">\n");
        for hop in hops {
            html.push_str(hop);
            html.push('\n');
        }
        html.push_str("</ol>\n");
    }
    if !chain.is_empty() || sent.inspector_cookie_sent {
        let _ = writeln!(
            html,
            "<p class=\"note\">A redirect is tied to the page it leads to only by a secret that \
             your browser alone holds: the session id it was given or kept, or else, after a \
             logout, the <code>{INSPECTOR_COOKIE}=…</code> cookie. That cookie is this panel's \
             own, not the app's: it lasts {} seconds and <code>--no-inspector</code> leaves it \
             out.</p>",
            LINK_WINDOW.as_secs()
        );
    }
    html.push_str("<h3>This request, as the server read it</h3>\n");
    push_head(
        html,
        &as_text(&request.raw_head),
        "request",
        "cookie",
        &FIRST_REQUEST_HEADERS,
    );
    push_body(html, request);
    html.push_str("<h3>The answer's head</h3>\n");
    push_head(
        html,
        &response_head_so_far(&answer.response),
        "response",
        "set-cookie",
        &FIRST_RESPONSE_HEADERS,
    );
    html.push_str("<h3>The session file</h3>\n");
    push_session(html, &sent, answer, sessions, Shown::ForThePage);
    html.push_str("<h3>The code that answered</h3>\n");
    handler_html(html, answer.handler);
    html.push_str(
        "<p class=\"note\">Every session file is listed on the sessions page, whose \
         address the server printed when it started: it is only for whoever started it. \
         Start the server with <code>--no-inspector</code> to hide this panel.</p>\n</section>\n",
    );
}
