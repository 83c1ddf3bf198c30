//! Echo: the request as the server read it, sent back as text.
//!
//! ```text
//! $ curl -s -b 'a=1; session=x' http://127.0.0.1:8080/cookie
//! a=1
//! session=x
//! ```
//!
//! `/echo` answers any method with the request head (and body, if any)
//! byte for byte as it arrived, like httpbin's `/anything`: what curl or a
//! browser really sent, before any parsing. `/cookie` shows the `Cookie`
//! header the way cookie.rs splits it, one `name=value` a line, so
//! `a=1;b=2`, odd spacing and several `Cookie` headers can be tried out.
//! Both are plain text with `X-Content-Type-Options: nosniff`, so a browser
//! never runs what it shows as a page, and both are kept out of caches,
//! since they repeat the visitor's cookies. The usual limits (8 KiB head,
//! 64 KiB body) bound them.

use crate::app::App;
use crate::cookie;
use crate::request::Request;
use crate::response::{Response, TEXT};

/// Any method on `/echo`: the head and body exactly as received.
pub fn echo(request: &Request, _app: &App) -> Response {
    let mut bytes = request.raw_head.clone();
    bytes.extend_from_slice(&request.body);
    plain_text(bytes)
}

/// `GET /cookie`: every `name=value` pair of every `Cookie` header, in
/// order, one a line.
pub fn cookie(request: &Request, _app: &App) -> Response {
    let mut text = String::new();
    for (name, value) in cookie::pairs(request.headers_named("cookie")) {
        text.push_str(&format!("{name}={value}\n"));
    }
    plain_text(text.into_bytes())
}

fn plain_text(bytes: Vec<u8>) -> Response {
    Response::file(TEXT, bytes)
        .with_header("X-Content-Type-Options", "nosniff")
        .no_store_vary_cookie()
}
