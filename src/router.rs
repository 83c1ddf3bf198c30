//! Routing: which code answers which request.
//!
//! A request line names a method and a path, `POST /login HTTP/1.1`, and
//! the whole site is the table `ROUTES`, the way Flask's
//! `@app.route("/login", methods=["GET", "POST"])` lines add up. Each row
//! says which methods, which path, which function, and whether it changes
//! a session; everything else is derived from the table:
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
use crate::flask_session::{self, Answer, Session, SessionReport, Store};
use crate::request::Request;
use crate::response::Response;
use crate::static_files;

/// One row of the site: Flask's `@app.route(path, methods=…)` and the
/// function under it.
pub struct Route {
    /// The methods it takes; `GET` brings `HEAD` with it. Empty: any
    /// method (`/echo`).
    pub methods: &'static [&'static str],
    pub path: RoutePath,
    pub handler: Handler,
    /// The function's name, which the inspector panel shows.
    pub name: &'static str,
}

/// Which paths a route answers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RoutePath {
    Exact(&'static str),
    /// Every path under it: `/static/style.css`.
    Under(&'static str),
    /// `/sessions/SECRET`, with the secret printed at start.
    SessionsPage,
}

/// A Flask view: the request, the app, and the visitor's session.
pub type View = fn(&Request, &App, &mut Session) -> Response;

/// What answers a route.
#[derive(Clone, Copy)]
pub enum Handler {
    /// A Flask view: it reads the session, run by flask_session.rs.
    ReadsSession(View),
    /// A Flask view that changes the session: run under its lock, and
    /// refused when another site's page sent it.
    ChangesSession(View),
    /// A page that needs no session.
    Page(fn(&Request, &App) -> Response),
}

/// The site.
pub const ROUTES: &[Route] = &[
    Route {
        methods: &["GET"],
        path: RoutePath::Exact("/"),
        handler: Handler::ReadsSession(app::index),
        name: "app::index",
    },
    Route {
        methods: &["GET"],
        path: RoutePath::Exact("/login"),
        handler: Handler::Page(app::login_form),
        name: "app::login_form",
    },
    Route {
        methods: &["POST"],
        path: RoutePath::Exact("/login"),
        handler: Handler::ChangesSession(app::login),
        name: "app::login",
    },
    Route {
        methods: &["GET", "POST"],
        path: RoutePath::Exact("/logout"),
        handler: Handler::ChangesSession(app::logout),
        name: "app::logout",
    },
    Route {
        methods: &["GET"],
        path: RoutePath::Exact("/store"),
        handler: Handler::Page(app::store),
        name: "app::store",
    },
    Route {
        methods: &["GET"],
        path: RoutePath::Exact("/cart"),
        handler: Handler::ReadsSession(app::cart),
        name: "app::cart",
    },
    Route {
        methods: &["POST"],
        path: RoutePath::Exact("/cart"),
        handler: Handler::ChangesSession(app::add_to_cart),
        name: "app::add_to_cart",
    },
    Route {
        methods: &["GET"],
        path: RoutePath::SessionsPage,
        handler: Handler::ReadsSession(app::sessions_page),
        name: "app::sessions_page",
    },
    Route {
        methods: &["GET"],
        path: RoutePath::Under("/static/"),
        handler: Handler::Page(static_file),
        name: "static_files::serve",
    },
    // Browsers ask for it on every first visit; a 404 each time would
    // clutter the log the learner is reading.
    Route {
        methods: &["GET"],
        path: RoutePath::Exact("/favicon.ico"),
        handler: Handler::Page(favicon),
        name: "static_files::serve",
    },
    Route {
        methods: &[],
        path: RoutePath::Exact("/echo"),
        handler: Handler::Page(echo::echo),
        name: "echo::echo",
    },
    Route {
        methods: &["GET"],
        path: RoutePath::Exact("/cookie"),
        handler: Handler::Page(echo::cookie),
        name: "echo::cookie",
    },
    // Debug builds only: shows that a handler's panic becomes a 500 for
    // that request alone (see tests/http_core.rs).
    #[cfg(debug_assertions)]
    Route {
        methods: &["GET"],
        path: RoutePath::Exact("/debug/panic"),
        handler: Handler::Page(panic_on_purpose),
        name: "router::panic_on_purpose",
    },
];

/// Answers the request. Pages the app renders get the inspector panel
/// when it is on.
pub fn route(request: &Request, app: &App) -> Answer {
    let answer = answer(request, app);
    let is_page = answer.response.header("content-type") == Some(crate::response::HTML)
        && answer.handler != "static_files::serve";
    match &app.inspector {
        Some(inspector) if is_page => inspector.add_panel(answer, request, &app.sessions),
        _ => answer,
    }
}

fn answer(request: &Request, app: &App) -> Answer {
    // HEAD is GET without the body; connection.rs leaves the body out.
    let method = match request.method.as_str() {
        "HEAD" => "GET",
        other => other,
    };
    // `OPTIONS *` asks about the server as a whole, not one path.
    if request.path == "*" && method == "OPTIONS" {
        return plain(options(&server_methods()), "router::options");
    }
    // Every row for this path; then the one for this method.
    let on_this_path: Vec<&Route> = ROUTES
        .iter()
        .filter(|route| matches_path(route.path, request, app))
        .collect();
    let Some(route) = on_this_path
        .iter()
        .find(|route| route.methods.is_empty() || route.methods.contains(&method))
    else {
        // No row for the method: 404 if the path is unknown, else the
        // methods it does take (405, or OPTIONS's answer).
        return match on_this_path.is_empty() {
            true => plain(not_found(&request.path), "router::not_found"),
            false if method == "OPTIONS" => {
                plain(options(&allowed(&on_this_path)), "router::options")
            }
            false => plain(
                method_not_allowed(request, &allowed(&on_this_path)),
                "router::method_not_allowed",
            ),
        };
    };
    match route.handler {
        // A page that needs no session: just call it.
        Handler::Page(page) => plain(page(request, app), route.name),
        // A Flask view: flask_session.rs loads the session before it and
        // stores what it changed after it, as Flask does.
        Handler::ReadsSession(view) => {
            let store = Store {
                sessions: &app.sessions,
                log: &app.log,
            };
            let view_with_session = |session: &mut Session| view(request, app, session);
            let (response, session) = flask_session::run_view(request, store, &view_with_session);
            Answer {
                response,
                handler: route.name,
                session,
            }
        }
        Handler::ChangesSession(view) => {
            // Another site's page changes nothing *(skip at first)*.
            if let Some(refusal) = cross_site::refusal(request) {
                return plain(refusal, "cross_site::refusal");
            }
            let store = Store {
                sessions: &app.sessions,
                log: &app.log,
            };
            let view_with_session = |session: &mut Session| view(request, app, session);
            let (response, session) =
                flask_session::run_changing_view(request, store, &view_with_session);
            Answer {
                response,
                handler: route.name,
                session,
            }
        }
    }
}

/// An answer that did not involve a session.
fn plain(response: Response, handler: &'static str) -> Answer {
    Answer {
        response,
        handler,
        session: SessionReport::default(),
    }
}

fn matches_path(route_path: RoutePath, request: &Request, app: &App) -> bool {
    match route_path {
        RoutePath::Exact(path) => request.path == path,
        RoutePath::Under(prefix) => request.path.starts_with(prefix),
        RoutePath::SessionsPage => is_sessions_page(request, app),
    }
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

/// The methods some route takes, in the order `Allow` lists them.
const METHOD_ORDER: [&str; 4] = ["GET", "HEAD", "POST", "OPTIONS"];

/// `Allow` for a path: the methods of its routes, `HEAD` with `GET`, and
/// `OPTIONS` always.
fn allowed(routes: &[&Route]) -> String {
    let takes = |method: &str| {
        method == "OPTIONS"
            || routes.iter().any(|route| {
                route.methods.contains(&method)
                    || (method == "HEAD" && route.methods.contains(&"GET"))
            })
    };
    let methods: Vec<&str> = METHOD_ORDER.into_iter().filter(|m| takes(m)).collect();
    methods.join(", ")
}

/// `Allow` for `OPTIONS *`: every method some route takes.
fn server_methods() -> String {
    let every_route: Vec<&Route> = ROUTES.iter().collect();
    allowed(&every_route)
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

/// `GET /static/FILE`.
fn static_file(request: &Request, app: &App) -> Response {
    static_files::serve(&request.path, &app.static_dir)
}

fn favicon(_request: &Request, app: &App) -> Response {
    static_files::serve("/static/favicon.ico", &app.static_dir)
}

#[cfg(debug_assertions)]
fn panic_on_purpose(_request: &Request, _app: &App) -> Response {
    panic!("a handler panicked on purpose (GET /debug/panic)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_the_routes_methods_in_a_fixed_order() {
        let routes_at = |path: &'static str| -> Vec<&Route> {
            ROUTES
                .iter()
                .filter(|route| route.path == RoutePath::Exact(path))
                .collect()
        };
        assert_eq!(allowed(&routes_at("/")), "GET, HEAD, OPTIONS");
        assert_eq!(allowed(&routes_at("/login")), "GET, HEAD, POST, OPTIONS");
        assert_eq!(allowed(&routes_at("/logout")), "GET, HEAD, POST, OPTIONS");
        assert_eq!(server_methods(), "GET, HEAD, POST, OPTIONS");
    }
}
