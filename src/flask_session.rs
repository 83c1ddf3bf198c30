//! Flask's `session`, by hand: loaded before the view, stored after it.
//!
//! ```python
//! @app.route("/login", methods=["POST"])
//! def login():
//!     session["name"] = request.form["name"]
//!     return redirect("/")
//! ```
//!
//! Flask finds the session before `login` runs and stores it after it
//! returns; the view only reads and writes a dict. `run_view` does the
//! same, in the order the bytes need it:
//!
//! ```text
//! Cookie: session=9c1e…          1. the cookie names an id, or none
//! flock sessions/9c1e…           2. a view that changes it locks it
//! read sessions/9c1e…            3. the file's values become a `Session`
//! view(request, &mut session)    4. the view, as in Flask
//! write + rename, or delete      5. what the view changed is stored
//! Set-Cookie: session=…          6. a new id, or an expired cookie
//! ```
//!
//! Real use adds three cases, handled here once, each named where it is:
//! login asks for a **new id** (`Session::renew_id`), so an id someone
//! planted before login is worthless after it; an add to the cart sent
//! just before the browser saw its login's new cookie is a **racing add**
//! (`409`, not a new session that would log the visitor out); and a file
//! that exists but **cannot be read** is the server's fault (`503`), never
//! "not logged in". The pages for these and the other failures are in
//! flask_session/error_pages.rs. With `--sessions redis://…` the same six
//! steps run against Redis keys instead of files (session.rs).

mod error_pages;

use std::net::IpAddr;
use std::time::SystemTime;

use crate::cookie;
use crate::log::Log;
use crate::redis;
use crate::request::Request;
use crate::response::Response;
use crate::session::{
    self, FileFacts, Loaded, NoSession, SessionData, SessionId, SessionLock, SessionStore,
};
use error_pages::{
    session_error_page, store_down_page, two_session_cookies, unreadable_session, view_error,
};

/// The visitor's session as a view sees it: Flask's `session` dict.
#[derive(Debug)]
pub struct Session {
    /// The id of the live session found for the cookie. Without one,
    /// `data` starts empty and is stored only if the view sets something.
    id: Option<SessionId>,
    data: SessionData,
    change: Change,
    /// A remark for the log line (`a session with no name`).
    log_note: Option<String>,
}

/// What the view did to the session, so what to store afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Nothing,
    /// Values set: save the file (or create it, with a new id).
    Values,
    /// Login: the values under a new id, the old file deleted.
    NewId,
    /// Logout: the file deleted and the cookie expired.
    Cleared,
}

impl Session {
    /// No session yet: empty, stored only if the view sets a value.
    pub fn none() -> Session {
        Session {
            id: None,
            data: SessionData::new(session::unix_secs(SystemTime::now())),
            change: Change::Nothing,
            log_note: None,
        }
    }

    /// The session read from its file.
    pub fn found(id: SessionId, data: SessionData) -> Session {
        Session {
            id: Some(id),
            data,
            change: Change::Nothing,
            log_note: None,
        }
    }

    /// `session.get("name")`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.data.get(key)
    }

    /// `session["name"] = "David"`.
    pub fn set(&mut self, key: &str, value: &str) {
        self.data.set(key, value);
        if self.change == Change::Nothing {
            self.change = Change::Values;
        }
    }

    /// Store this session under a new id (login): whoever knew the old id
    /// knows nothing now. Its lifetime starts again.
    pub fn renew_id(&mut self) {
        self.data.created_secs = session::unix_secs(SystemTime::now());
        self.change = Change::NewId;
    }

    /// Delete the session and tell the browser to forget its cookie.
    pub fn clear(&mut self) {
        self.change = Change::Cleared;
    }

    /// Whether a live session was found for the visitor's cookie.
    pub fn exists(&self) -> bool {
        self.id.is_some()
    }

    /// The id of the live session found, if any.
    pub fn id(&self) -> Option<&SessionId> {
        self.id.as_ref()
    }

    /// What the view did to the session.
    pub fn change(&self) -> Change {
        self.change
    }

    /// A few words for the server's log line.
    pub fn note_for_log(&mut self, note: &str) {
        self.log_note = Some(note.to_string());
    }
}

/// An answer, and what the log line and the panel want to know about it,
/// which never goes on the wire.
pub struct Answer {
    pub response: Response,
    /// `app::login`: the panel names it, so a reader can open the function.
    pub handler: &'static str,
    /// What happened to the session on the way (below).
    pub session: SessionReport,
}

/// The session id the request carries: its `session` cookie values,
/// reduced to one well-formed id by `SessionId::from_cookie_values`, or
/// why there is none. Whether a session exists for it is for `load`.
fn session_id(request: &Request) -> Result<SessionId, NoSession> {
    SessionId::from_cookie_values(&request.cookie_values(cookie::SESSION_COOKIE))
}

/// What the log line and the inspector panel learn from the session's
/// round trip; it never goes on the wire.
#[derive(Debug, Default)]
pub struct SessionReport {
    /// `no session: idle too long`, `new session: no cookie`.
    pub log_note: Option<String>,
    /// The session the view read: its id, and the text and `ls -ln`
    /// facts `load` found.
    pub file_read: Option<(SessionId, String, Option<FileFacts>)>,
    /// The id this answer's `Set-Cookie` gives.
    pub new_id: Option<SessionId>,
    /// This answer deleted the session and expired the cookie.
    pub ended: bool,
    /// This answer wrote the view's changes back to the session it read.
    pub saved: bool,
    /// The Redis commands sent for this answer, and their replies.
    pub store_commands: Vec<redis::Exchange>,
}

/// Where sessions are kept, and where to report a fault.
pub struct Store<'a> {
    pub sessions: &'a SessionStore,
    pub log: &'a Log,
}

/// Runs a view that only reads the session (`GET /`, `GET /cart`).
pub fn run_view(
    request: &Request,
    store: Store,
    view: &dyn Fn(&mut Session) -> Response,
) -> (Response, SessionReport) {
    // Commands a request before this one left behind are not this one's.
    let _ = store.sessions.take_commands();
    // 1. The cookie names an id, or says why there is none.
    let id = session_id(request);
    let (response, report) = run(&store, request.client, id, None, view);
    with_store_commands(&store, response, report)
}

/// Runs a view that changes the session (`POST /login`, `POST /cart`,
/// `/logout`), holding the session's lock from its read to its write, so
/// a parallel request waits and never loses this one's change.
pub fn run_changing_view(
    request: &Request,
    store: Store,
    view: &dyn Fn(&mut Session) -> Response,
) -> (Response, SessionReport) {
    let _ = store.sessions.take_commands();
    // 1. The cookie names an id, or says why there is none.
    let id = session_id(request);
    let (response, report) = match &id {
        // Two different ids: a sibling site planted one (cookie tossing),
        // and any change would land in a session that may not be this
        // visitor's, or start one whose cookie replaces theirs. Refused.
        Err(NoSession::SeveralIds) => (two_session_cookies(), SessionReport::default()),
        // 2. Until `lock` is dropped, no other request (in this process
        //    or another on the same folder) can change or delete it.
        Ok(live_or_not) => match store.sessions.lock(live_or_not) {
            Ok(lock) => {
                let answer = run(&store, request.client, id.clone(), lock.as_ref(), view);
                // 7. Unlocked: the next request may change the session.
                drop(lock);
                answer
            }
            Err(error) => (session_error_page(&store, &error), SessionReport::default()),
        },
        Err(_) => run(&store, request.client, id, None, view),
    };
    with_store_commands(&store, response, report)
}

/// With sessions in Redis, the panel shows each command this request sent
/// and its reply, as it shows the file (an empty list with the folder).
fn with_store_commands(
    store: &Store,
    response: Response,
    mut report: SessionReport,
) -> (Response, SessionReport) {
    report.store_commands = store.sessions.take_commands();
    (response, report)
}

/// Steps 3 to 6 (see the module doc): read, the view, store, tell.
fn run(
    store: &Store,
    client: Option<IpAddr>,
    id: Result<SessionId, NoSession>,
    lock: Option<&SessionLock>,
    view: &dyn Fn(&mut Session) -> Response,
) -> (Response, SessionReport) {
    let mut report = SessionReport::default();
    // 3. The file's values. Reading counts as a use of the session.
    let loaded = match &id {
        Ok(id) => store.sessions.load(id).map(|loaded| (id.clone(), loaded)),
        Err(no_session) => Err(no_session.clone()),
    };
    let (mut session, no_session) = match loaded {
        // Found: the view gets its values; the panel gets the text read.
        Ok((id, Loaded { data, text, file })) => {
            report.file_read = Some((id.clone(), text, file));
            (Session::found(id, data), None)
        }
        // There, but unreadable: the server's fault, never "logged out".
        Err(NoSession::Unreadable(error)) => return (unreadable_session(store, &error), report),
        Err(NoSession::StoreDown(problem)) => return (store_down_page(&problem), report),
        Err(NoSession::Corrupt(problem)) => {
            // Not trusted, and said where the server's faults go: stderr.
            if let Ok(id) = &id {
                store.log.error(&format!(
                    "session {}: corrupt session file: {problem}; treated as no session",
                    id.short()
                ));
            }
            (Session::none(), Some(NoSession::Corrupt(problem)))
        }
        // No cookie, an expired or deleted session: the view starts from
        // an empty one, and the reason goes to the log line.
        Err(no_session) => (Session::none(), Some(no_session)),
    };

    // 4. The view, as in Flask.
    let response = view(&mut session);

    // 5 and 6. Store what the view changed, and tell the browser.
    let stored = match session.change {
        // Only read: nothing to write, no cookie to send.
        Change::Nothing => Ok(response),
        // Values set on a live session: rewrite its file, same id.
        Change::Values if session.exists() => save(store, lock, &session.data).map(|()| {
            report.saved = true;
            response
        }),
        // Values set without a session: the first add makes one.
        Change::Values => start_session(store, &id, &session.data, client, &mut report, response),
        // Login: the values under a new id; logout: the file deleted.
        Change::NewId => renew_session(store, lock, &session, client, &mut report, response),
        Change::Cleared => end_session(store, &id, lock, &mut report, response),
    };
    // A page that depends on the session is never cached, by the browser
    // or by anyone between (`Vary: Cookie`).
    let response = match stored {
        Ok(response) if response.status < 400 => response.no_store_vary_cookie(),
        Ok(response) => response,
        Err(error_page) => return (error_page, report),
    };
    // The log line says why there was no session, or that one was made.
    report.log_note = match (&no_session, session.change) {
        _ if session.log_note.is_some() => session.log_note,
        (Some(why), Change::Nothing) => Some(format!("no session: {}", why.reason())),
        (Some(why), Change::Values) => Some(format!("new session: {}", why.reason())),
        _ => None,
    };
    (response, report)
}

/// A live session's changed values, written back under its lock.
fn save(store: &Store, lock: Option<&SessionLock>, data: &SessionData) -> Result<(), Response> {
    let Some(lock) = lock else {
        return Err(view_error(store, "a view changed a session it only read"));
    };
    store
        .sessions
        .save(lock, data)
        .map_err(|error| session_error_page(store, &error))
}

/// The first value stored for a visitor without a session: a new file,
/// a new id, `Set-Cookie`.
fn start_session(
    store: &Store,
    sent_id: &Result<SessionId, NoSession>,
    data: &SessionData,
    client: Option<IpAddr>,
    report: &mut SessionReport,
    response: Response,
) -> Result<Response, Response> {
    // The racing add: this request carries the id its login replaced a
    // moment ago (sent before the browser saw the new cookie). A new
    // session here would replace the login's cookie; adding to the login's
    // session would let an old id reach it. So: neither.
    if sent_id
        .as_ref()
        .is_ok_and(|old| store.sessions.was_replaced(old))
    {
        return Err(Response::error(
            409,
            "You logged in a moment ago, so your session changed while this item was on \
             its way, and it was not added. Add it again from the store.",
        )
        .no_store_vary_cookie());
    }
    let id = store
        .sessions
        .create(data, client)
        .map_err(|error| session_error_page(store, &error))?;
    let response = response.with_header("Set-Cookie", &cookie::set_session_cookie(id.as_str()));
    report.new_id = Some(id);
    Ok(response)
}

/// Login: the values (the old session's cart, the new name) under a new
/// id. The new file takes the old one's place, which is deleted under its
/// lock, so a parallel add to it is either copied here or, coming later,
/// finds no session.
fn renew_session(
    store: &Store,
    lock: Option<&SessionLock>,
    session: &Session,
    client: Option<IpAddr>,
    report: &mut SessionReport,
    response: Response,
) -> Result<Response, Response> {
    let new_id = match lock {
        // A visitor with a session: the new file takes the old one's place
        // (the cart comes along), then the old one is deleted.
        Some(old) if session.exists() => {
            let new_id = store.sessions.replace(old, &session.data, client);
            if new_id.is_ok()
                && let Err(error) = store.sessions.destroy(old)
            {
                // The new session stands; the old one will expire.
                store.log.error(&error.to_string());
            }
            new_id
        }
        // A first visit: a new session like any other.
        _ => store.sessions.create(&session.data, client),
    };
    let id = new_id.map_err(|error| session_error_page(store, &error))?;
    // The browser gets the new hand stamp.
    let response = response.with_header("Set-Cookie", &cookie::set_session_cookie(id.as_str()));
    report.new_id = Some(id);
    Ok(response)
}

/// Logout: the file deleted, the cookie expired. A file that could not be
/// deleted is a 500, and no expired cookie: saying "logged out" while the
/// file still opens the session would be a lie the visitor might rely on.
fn end_session(
    store: &Store,
    sent_id: &Result<SessionId, NoSession>,
    lock: Option<&SessionLock>,
    report: &mut SessionReport,
    response: Response,
) -> Result<Response, Response> {
    if let Some(lock) = lock
        && let Err(error) = store.sessions.destroy(lock)
    {
        store
            .log
            .error(&format!("logout of session {}: {error}", lock.id.short()));
        return Err(Response::error(
            500,
            "The server could not delete your session, so you are still logged in. \
             The problem has been logged; please try again.",
        ));
    }
    // Only a browser that holds a session cookie is told to forget it.
    if matches!(sent_id, Err(NoSession::NoCookie)) {
        return Ok(response);
    }
    report.ended = true;
    Ok(response.with_header("Set-Cookie", &cookie::expire_session_cookie()))
}
