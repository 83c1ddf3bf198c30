//! handstamp: a teaching HTTP/1.1 server that shows how web sessions work.
//!
//! A browser and a server have a short memory: each HTTP request stands
//! alone. A session gives the server a memory. The first answer carries
//! `Set-Cookie: session=9c1e…`, the browser sends `Cookie: session=9c1e…`
//! on every later request, and the server keeps what it knows about that
//! visitor in the file `sessions/9c1e…`. Like the hand stamp at an amusement
//! park, the cookie says "this one was here before", nothing more.
//!
//! # One login, in the order the code runs
//!
//! `curl -d name=David http://127.0.0.1:8080/login`, followed through the
//! source. Each step names the file and the function a debugger stops in.
//! Steps marked *(skip at first)* are machinery a first reading can pass
//! over.
//!
//! 1. `main.rs` `main`: the flags become a `Config`; `server::start` loads
//!    the templates, items and sessions folder (`app::App::load`) and binds
//!    the socket, whose options every connection inherits
//!    (`connection::prepare_listener`); `listening on http://…` is
//!    printed; `Server::run`.
//! 2. `server.rs` `WorkerPool::work`: a worker thread waiting in
//!    `listener.accept()` gets the connection's `TcpStream`, and `has_room`
//!    counts it in *(skip at first: the worker pool and the connection
//!    cap)*.
//! 3. `connection.rs` `serve_connection` → `read_request` →
//!    `Connection::read_head`, which calls `Connection::receive_more` (the
//!    `read` on the socket) until `request::find_head_end` finds the empty
//!    line that ends the head.
//! 4. `request.rs` `parse_head`: httparse splits the head; the request
//!    line, target and `Host` are checked *(skip at first: the smuggling
//!    defences in `check_request_line`, `body_framing`, `chunked_last`)*.
//! 5. `body.rs` `BodyDecoder::decode` takes the 10 bytes `name=David` off
//!    the buffer, fed by `Connection::read_body` *(skip at first: chunked
//!    bodies)*.
//! 6. `router.rs` `route` → `answer`: a login changes a session, so
//!    `cross_site::refusal` first checks that no other site's page sent it
//!    *(skip at first)*; then `("POST", "/login")` → `app::login`.
//! 7. `app.rs` `login`: `read_form` → `form::parse_form` gives the name;
//!    `check_name`; `App::locked_session` looks for an old session
//!    (`app::session_id` → `Request::cookie_values` → `cookie::values_named`,
//!    then `session::SessionId::from_cookie_values` → `SessionId::parse`).
//! 8. `session.rs` `SessionStore::create` → `SessionId::new_random` →
//!    `SessionStore::write`: `SessionData::to_file_text`, a temporary file,
//!    then a rename to `sessions/ID`.
//! 9. `cookie.rs` `set_session_cookie` makes the `Set-Cookie` value;
//!    `response.rs` `Response::see_other("/")` the `303`.
//! 10. Back in `connection.rs`: `Response::to_bytes` writes the status
//!     line, headers, empty line and body; the inspector keeps this
//!     redirect for the page it leads to, under the new session id
//!     (`Inspector::key_for_redirect`, `Inspector::remember_redirect`,
//!     *skip at first*); `Log::exchange` queues the log line; and
//!     `write_all_by` sends the bytes.
//! 11. The browser follows the `303` with `GET /` and the cookie: the same
//!     path to `app::index`, and then `router::route` adds the inspector
//!     panel (`Inspector::add_panel`) to the page before it goes out.
//!
//! # The files, in that order
//!
//! Calls go down this list. A file uses from a file above it only the
//! types that file hands down (a `Request`, an `App`, a `Log`), never
//! its functions, so there are no loops: `tests/structure.rs` checks both
//! that and that this list matches the files.
//!
//! ```text
//! main.rs          flags → Config; print the address; run
//! server.rs        bind, accept, bounded worker threads
//! connection.rs    the one reader of the socket: heads, bodies, keep-alive, pipelining
//! request.rs       head bytes → httparse → Request; what to refuse (no I/O)
//! body.rs          body bytes by Content-Length or chunks (no I/O)
//! router.rs        (method, path) → handler; 404, 405 with Allow, OPTIONS
//! cross_site.rs    another site's page cannot change a session (403)
//! flask_session.rs Flask's `session`: loaded before a view, stored after it
//! app.rs           the Flask views: index, login, logout, store, cart
//! echo.rs          /echo and /cookie: the request as the server read it
//! inspector.rs     the panel on every page; the sessions page
//! redirect_link.rs which redirect led here, told by a secret only that browser holds
//! static_files.rs  /static/FILE from www/static and never outside it
//! cookie.rs        Cookie header in, Set-Cookie line out
//! session.rs       ids and sessions/ID files, written atomically
//! form.rs          %XX decoding: form bodies, request paths, session values
//! response.rs      Response → status line, headers, blank line, body
//! template.rs      {{ name }} filled with escaped text
//! log.rs           one line per request; --trace prints the raw heads
//! mutex.rs         a lock taken even after a panic
//! ```

pub mod app;
pub mod body;
pub mod connection;
pub mod cookie;
pub mod cross_site;
pub mod echo;
pub mod flask_session;
pub mod form;
pub mod inspector;
pub mod log;
pub mod mutex;
pub mod redirect_link;
pub mod request;
pub mod response;
pub mod router;
pub mod server;
pub mod session;
pub mod static_files;
pub mod template;
