//! The pages a visitor gets when their session could not be used: each
//! says what happened in plain words and what to do, and the ones that
//! are the server's fault are logged. *(Skip at first: flask_session.rs
//! calls them by name where a step can fail.)*

use super::Store;
use crate::response::Response;
use crate::session::SessionError;

/// The page for two `session` cookies with different ids.
pub fn two_session_cookies() -> Response {
    Response::error(
        400,
        "Your browser sent two session cookies with different ids, so this server \
         cannot tell which one is yours; usually another site under the same domain \
         set the second one. Nothing was changed. Clear this site's cookies (in \
         Chromium: the icon left of the address, then Cookies and site data; in \
         Firefox: the padlock, then Clear cookies and site data) and log in again.",
    )
}

/// A session file that exists but cannot be read (out of descriptors, an
/// I/O error): the server's fault, and the visitor is still logged in.
pub fn unreadable_session(store: &Store, error: &str) -> Response {
    store
        .log
        .error(&format!("a session file could not be read: {error}"));
    Response::error(
        503,
        "The server could not read your session just now; try again in a moment. \
         Nothing was lost: you are still logged in.",
    )
}

/// The page for a session that could not be stored, locked or deleted.
pub fn session_error_page(store: &Store, error: &SessionError) -> Response {
    match error {
        SessionError::Full(_) => Response::error(
            503,
            "The server holds as many sessions as it is allowed to; try again later.",
        ),
        SessionError::LockTimeout(_) => {
            store.log.error(&error.to_string());
            Response::error(
                503,
                "Another request has held your session for several seconds, so this one \
                 could not use it. Nothing was changed; try again in a moment.",
            )
            .with_header("Retry-After", "5")
        }
        SessionError::Lock(_) => {
            store.log.error(&error.to_string());
            Response::error(
                503,
                "The server could not lock your session just now; try again in a moment.",
            )
        }
        // Redis did not answer: the page names it and the error (the log
        // said so once, when the outage began: redis.rs).
        SessionError::StoreDown(problem) => store_down_page(problem),
        SessionError::Lost(_) => {
            store.log.error(&error.to_string());
            Response::error(
                503,
                "This request took so long that its hold on your session expired, so \
                 nothing was changed; try again.",
            )
            .with_header("Retry-After", "1")
        }
        SessionError::Write { .. } | SessionError::Delete { .. } => {
            store.log.error(&error.to_string());
            Response::error(
                500,
                "The server could not save your session; the problem has been logged.",
            )
        }
    }
}

/// The session store is not answering: a 503 that names it, never a new
/// empty session (whose cookie would log the visitor out) and never a
/// fall back to files (two places, two truths).
pub fn store_down_page(problem: &str) -> Response {
    Response::error(
        503,
        &format!(
            "The store that keeps sessions did not answer as it should ({problem}), so \
             nothing was changed: if you were logged in, you still are. Try again in a moment."
        ),
    )
    .with_header("Retry-After", "5")
}

/// A mistake in the code, not the visitor's: logged, and a 500.
pub fn view_error(store: &Store, problem: &str) -> Response {
    store.log.error(&format!("bug: {problem}"));
    Response::error(500, "The server hit a bug; it has been logged.")
}
