//! Routing: which code answers which request.
//!
//! A request line names a method and a path, `POST /login HTTP/1.1`, and
//! the whole site is the table below: one `match` on (method, path), the
//! way Flask's `@app.route("/login", methods=["GET", "POST"])` lines add up.
//! A path we know with a method it does not take gets `405` and an `Allow`
//! header listing the ones it does; a path we do not know gets `404`.
//! `HEAD` is answered as `GET`; connection.rs leaves the body out.
//! Rules: RFC 9110 §9.3.2 (HEAD), §15.5.5 (404), §15.5.6 (405).

use crate::app::{self, App};
use crate::request::Request;
use crate::response::Response;
use crate::static_files;

pub fn route(request: &Request, app: &App) -> Response {
    let method = match request.method.as_str() {
        "HEAD" => "GET",
        other => other,
    };
    match (method, request.path.as_str()) {
        ("GET", "/") => app::index(request, app),
        ("GET", "/login") => app::login_form(request, app),
        ("POST", "/login") => app::login(request, app),
        ("GET" | "POST", "/logout") => app::logout(request, app),
        ("GET", "/store") => app::store(request, app),
        ("GET", "/cart") => app::cart(request, app),
        ("POST", "/cart") => app::add_to_cart(request, app),
        ("GET", path) if path.starts_with("/static/") => static_files::serve(path, &app.static_dir),
        // Debug builds only: shows that a handler's panic becomes a 500 for
        // that request alone (see tests/http_core.rs).
        #[cfg(debug_assertions)]
        ("GET", "/debug/panic") => panic!("a handler panicked on purpose (GET /debug/panic)"),
        (_, path) => match allowed_methods(path) {
            Some(allow) => Response::error(
                405,
                &format!("{path} answers {allow}, not {}.", request.method),
            )
            .with_header("Allow", allow),
            None => Response::error(404, &format!("There is no page at {path}.")),
        },
    }
}

/// The methods each known path takes, for the `Allow` header of a 405.
fn allowed_methods(path: &str) -> Option<&'static str> {
    match path {
        "/" | "/store" => Some("GET, HEAD"),
        "/login" | "/logout" | "/cart" => Some("GET, HEAD, POST"),
        _ if path.starts_with("/static/") => Some("GET, HEAD"),
        _ => None,
    }
}
