//! Routing: which code answers which request.
//!
//! A request line names a method and a path, `POST /login HTTP/1.1`, and
//! the whole site is the table in `answer`: one `match` on (method, path),
//! the way Flask's `@app.route("/login", methods=["GET", "POST"])` lines add
//! up. Each arm also names its handler (`"app::login"`), which the
//! inspector panel shows so a reader can find the code.
//!
//! - A path we know with a method it does not take gets `405` and an
//!   `Allow` header listing the ones it does; a path we do not know, `404`.
//! - `HEAD` is answered as `GET`; connection.rs leaves the body out.
//! - `OPTIONS` asks which methods a path takes (`OPTIONS *`: the server as
//!   a whole) and is answered `200` with `Allow` and no body.
//! - A request that would change a session (log in, log out, add to the
//!   cart) and that another site's page started is refused first, `403`
//!   (cross_site.rs says how that is told), as is one with two different
//!   session ids, `400`.
//! - The sessions page lists every visitor's session, so its address holds
//!   a secret printed at start, `/sessions/5b7d…`, as Jupyter's does:
//!   without it the page does not exist (`404`), whoever asks and however
//!   they spell the path.
//!
//! Rules: RFC 9110 §9.3.2 (HEAD), §9.3.7 (OPTIONS), §15.5.5 (404),
//! §15.5.6 (405).

use crate::app::{self, App};
use crate::cross_site;
use crate::echo;
use crate::request::Request;
use crate::response::Response;
use crate::static_files;

/// Every method some path here answers, for `OPTIONS *`.
const SERVER_METHODS: &str = "GET, HEAD, POST, OPTIONS";

/// Answers the request, and says which handler did (for the inspector).
/// Pages the app renders get the inspector panel when it is on.
pub fn route(request: &Request, app: &App) -> (Response, &'static str) {
    let (response, handler) = answer(request, app);
    let is_page = response.header("content-type") == Some(crate::response::HTML)
        && handler != "static_files::serve";
    match &app.inspector {
        Some(inspector) if is_page => {
            let response = inspector.add_panel(response, request, handler, &app.sessions);
            (response, handler)
        }
        _ => (response, handler),
    }
}

fn answer(request: &Request, app: &App) -> (Response, &'static str) {
    let method = match request.method.as_str() {
        "HEAD" => "GET",
        other => other,
    };
    let path = request.path.as_str();
    if changes_session(method, path)
        && let Some(refusal) = cross_site::refusal(request)
    {
        return (refusal, "cross_site::refusal");
    }
    match (method, path) {
        ("GET", "/") => (app::index(request, app), "app::index"),
        ("GET", "/login") => (app::login_form(request, app), "app::login_form"),
        ("POST", "/login") => (app::login(request, app), "app::login"),
        ("GET" | "POST", "/logout") => (app::logout(request, app), "app::logout"),
        ("GET", "/store") => (app::store(request, app), "app::store"),
        ("GET", "/cart") => (app::cart(request, app), "app::cart"),
        ("POST", "/cart") => (app::add_to_cart(request, app), "app::add_to_cart"),
        ("GET", _) if is_sessions_page(request, app) => {
            (app::sessions_page(request, app), "app::sessions_page")
        }
        // Browsers ask for it on every first visit; a 404 each time would
        // clutter the log the learner is reading.
        ("GET", "/favicon.ico") => (
            static_files::serve("/static/favicon.ico", &app.static_dir),
            "static_files::serve",
        ),
        ("GET", path) if path.starts_with("/static/") => (
            static_files::serve(path, &app.static_dir),
            "static_files::serve",
        ),
        (_, "/echo") => (echo::echo(request), "echo::echo"),
        ("GET", "/cookie") => (echo::cookie(request), "echo::cookie"),
        // Debug builds only: shows that a handler's panic becomes a 500 for
        // that request alone (see tests/http_core.rs).
        #[cfg(debug_assertions)]
        ("GET", "/debug/panic") => panic!("a handler panicked on purpose (GET /debug/panic)"),
        ("OPTIONS", "*") => (options(SERVER_METHODS), "router::options"),
        (_, path) => match allowed_methods(path, request, app) {
            Some(allow) if method == "OPTIONS" => (options(allow), "router::options"),
            Some(allow) => (
                method_not_allowed(request, allow),
                "router::method_not_allowed",
            ),
            None => (not_found(path), "router::not_found"),
        },
    }
}

/// The requests that change what a session holds: only these are checked
/// for coming from another site.
fn changes_session(method: &str, path: &str) -> bool {
    matches!(
        (method, path),
        ("POST", "/login") | ("POST", "/cart") | (_, "/logout")
    )
}

/// Whether the target, exactly as sent, is the sessions page's secret
/// address. As sent, not percent-decoded, so `/%73essions/…` is not it;
/// compared in constant time, so answer times give no digit away.
fn is_sessions_page(request: &Request, app: &App) -> bool {
    let Some(sent) = request.target.strip_prefix("/sessions/") else {
        return false;
    };
    let secret = app.sessions_page_secret.as_bytes();
    let differing_bits = sent
        .bytes()
        .zip(secret)
        .fold(0u8, |bits, (a, b)| bits | (a ^ b));
    sent.len() == secret.len() && differing_bits == 0
}

/// The methods each known path takes, for `Allow`.
fn allowed_methods(path: &str, request: &Request, app: &App) -> Option<&'static str> {
    match path {
        "/" | "/store" | "/cookie" => Some("GET, HEAD, OPTIONS"),
        "/login" | "/logout" | "/cart" => Some("GET, HEAD, POST, OPTIONS"),
        _ if is_sessions_page(request, app) => Some("GET, HEAD, OPTIONS"),
        _ if path.starts_with("/static/") => Some("GET, HEAD, OPTIONS"),
        _ => None,
    }
}

/// `OPTIONS`: which methods are allowed, and nothing else.
pub fn options(allow: &str) -> Response {
    Response::empty(200).with_header("Allow", allow)
}

pub fn method_not_allowed(request: &Request, allow: &str) -> Response {
    let reason = format!("{} answers {allow}, not {}.", request.path, request.method);
    Response::error(405, &reason).with_header("Allow", allow)
}

pub fn not_found(path: &str) -> Response {
    Response::error(404, &format!("There is no page at {path}."))
}
