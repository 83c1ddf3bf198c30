//! handstamp: a teaching HTTP/1.1 server that shows how web sessions work.
//!
//! A browser and a server have a short memory: each HTTP request stands
//! alone. A session gives the server a memory. The first answer carries
//! `Set-Cookie: session=9c1e…`, the browser sends `Cookie: session=9c1e…`
//! on every later request, and the server keeps what it knows about that
//! visitor in the file `sessions/9c1e…`. Like the hand stamp at an amusement
//! park, the cookie says "this one was here before", nothing more.
//!
//! A request passes through these files in this order; read them in turn:
//!
//! ```text
//! main.rs         flags → Config; print the address; run
//! server.rs       bind, accept, bounded worker threads, shutdown
//! connection.rs   read bytes until a head is complete; keep-alive, pipelining
//! request.rs      head bytes → httparse → Request; body by length or chunks
//! router.rs       (method, path) → handler; 404, 405 with Allow
//! app.rs          the Flask routes: index, login, logout, store, cart
//! form.rs         percent-decoding: form bodies and request paths
//! static_files.rs /static/FILE from www/static and never outside it
//! cookie.rs       Cookie header in, Set-Cookie line out
//! session.rs      ids and sessions/ID files, written atomically
//! template.rs     {{ name }} filled with escaped text
//! response.rs     Response → status line, headers, blank line, body
//! log.rs          one line per request; --trace prints the raw heads
//! ```

pub mod app;
pub mod connection;
pub mod cookie;
pub mod form;
pub mod log;
pub mod request;
pub mod response;
pub mod router;
pub mod server;
pub mod session;
pub mod static_files;
pub mod template;
