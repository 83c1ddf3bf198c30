//! handstamp: a teaching HTTP/1.1 server that shows how web sessions work.
//!
//! A browser and a server have a short memory: each HTTP request stands
//! alone. A session gives the server a memory. The first answer carries
//! `Set-Cookie: session=9c1e…`, the browser sends `Cookie: session=9c1e…`
//! on every later request, and the server keeps what it knows about that
//! visitor in the file `sessions/9c1e…`. Like the hand stamp at an amusement
//! park, the cookie says "this one was here before", nothing more.
//!
//! # One login, in the order a debugger meets it
//!
//! `curl -d name=David http://127.0.0.1:8080/login`, with the server
//! started as NOTES.md's debugging section starts it (`--single-thread
//! --no-inspector`, so one thread does everything and no panel code runs).
//! Before the first request, `main` turned the flags into a `Config`, and
//! `server::start` loaded the templates and sessions folder and bound the
//! socket. Then, in order, the functions a breakpoint on each stops in
//! (`tests/debugging.rs` runs this login under gdb and checks the order):
//!
//! ```text
//! server::Server::run_single_thread      accept: the connection's TcpStream
//! connection::serve_connection           one connection: read, answer, write, again
//! connection::read_request               the head, then the body
//! connection::Connection::read_head      read until the empty line that ends the head
//! request::find_head_end                 has the empty line arrived yet?
//! request::parse_head                    the head's bytes become a Request (httparse)
//! connection::Connection::read_body      the body: Content-Length: 10 more bytes
//! body::BodyDecoder::decode              name=David, taken off the buffer
//! connection::answer_catching_panics     a panic below becomes a 500 for this request
//! router::route                          ROUTES: POST /login → app::login
//! cross_site::refusal                    did another site's page send this?
//! flask_session::run_changing_view       the session around the view, as Flask does
//! request::Request::cookie_values        Cookie: ... session=? (none here)
//! app::login                             the view: check the name, store it
//! form::parse_form                       name=David → ("name", "David")
//! app::check_name                        1 to 100 characters, no control characters
//! flask_session::Session::renew_id       a new id at login: fixation is worthless
//! flask_session::Session::set            session["name"] = "David"
//! flask_session::renew_session           store it: a new file, a new id
//! session::SessionStore::create          room for one more, then write
//! session::id::SessionId::new_random     128 random bits: the hand stamp
//! session::folder::SessionFolder::write  a temporary file, renamed to sessions/ID
//! cookie::set_session_cookie             Set-Cookie: session=ID; Path=/; HttpOnly; ...
//! response::Response::to_bytes           status line, headers, empty line, body
//! log::Log::exchange                     the log line, queued for the log thread
//! connection::write_all_by               the bytes go out, by one deadline
//! ```
//!
//! Three of these are machinery a first reading can step over: the
//! strict checks inside `parse_head` (request/strict.rs: smuggling and
//! grammar defences), the cap and eviction inside `create`
//! (session/limits.rs), and `write_all_by`'s deadline (its loop for a
//! client that reads slowly).
//! A backtrace at `app::login` shows, between `answer_catching_panics` and
//! `router::route`, a few frames of std's `catch_unwind` (`std::panicking::
//! try` and its closures): that is the net that turns a panic into a 500,
//! nothing else. The browser then follows the `303` with `GET /` and the
//! cookie: the same path to `app::index` through `flask_session::run_view`,
//! which reads `sessions/ID` (`SessionStore::load`). With the panel on,
//! `router::route` also adds it to the page (`Inspector::add_panel`), and
//! connection.rs keeps each redirect for the page it leads to
//! (`Inspector::remember_redirect`).
//!
//! Without `--single-thread`, a worker thread of server/pool.rs does the
//! accepting (`WorkerPool::work`, which also admits the connection under
//! the connection cap) and then calls the same `serve_connection`.
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
//! connection.rs    the one reader and writer of the socket: heads, bodies, keep-alive
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
//! session.rs       ids and sessions/ID files, written atomically (or Redis keys)
//! redis.rs         RESP2 by hand: one command, one reply, to a Redis server
//! form.rs          %XX decoding: form bodies, request paths, session values
//! log.rs           one line per request; --trace prints the raw heads
//! response.rs      Response → status line, headers, blank line, body
//! template.rs      {{ name }} filled with escaped text
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
pub mod redis;
pub mod request;
pub mod response;
pub mod router;
pub mod server;
pub mod session;
pub mod static_files;
pub mod template;
