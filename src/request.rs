//! Requests: the head's bytes become a `Request`.
//!
//! ```text
//! POST /login HTTP/1.1\r\n                          request line: method, target, version
//! Host: localhost:8080\r\n                          headers: name, colon, value
//! Content-Type: application/x-www-form-urlencoded\r\n
//! Content-Length: 10\r\n                            how the body is framed
//! \r\n                                              the empty line ends the head
//! name=David                                        body: exactly 10 bytes (body.rs)
//! ```
//!
//! Everything here works on bytes already received and never touches a
//! socket: `find_head_end` says whether a buffer holds a whole head yet
//! (the "need more bytes" answer), `parse_head` turns a whole head into a
//! `Request`, and `body_framing` says how the body that follows is framed.
//! connection.rs does the reading and calls these; body.rs decodes the body.
//!
//! httparse splits the head into its parts. This file decides what those
//! parts mean: which HTTP version, whether the target and `Host` have the
//! shape the RFCs allow, how long the body is (`Content-Length`, or
//! `Transfer-Encoding: chunked`, never both), and what to refuse. Every
//! refusal is a `RequestError`, and `RequestError::status` is the one place
//! that says which status each gets. After any of them the connection is
//! closed, because the server can no longer tell where the next request
//! would begin ("request smuggling" lives in exactly that doubt: two
//! servers on one connection that disagree about where a request ends).
//!
//! `Expect: 100-continue` is a client asking "may I send the body?" before
//! sending a large one; the server answers `HTTP/1.1 100 Continue` (an
//! interim answer with no body) and then reads it (connection.rs sends it).
//! Rules: RFC 9112 §2.2 (empty lines), §3 (request line), §5 (fields),
//! §6 (body length); RFC 9110 §7.2 (Host), §10.1.1 (Expect).

mod strict;

use std::net::IpAddr;

use crate::cookie;
use crate::form;
pub use strict::{body_framing, expects_continue, is_valid_host, oversized_head_error};
use strict::{check_host, check_request_line, has_bare_lf};

/// The most headers a request may have; httparse needs the number at
/// compile time.
pub const MAX_HEADERS: usize = 100;

/// How much a client may send, and how slowly.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_head_bytes: usize,
    pub max_body_bytes: usize,
    /// From a request's first byte (a blank line counts) to its head's end.
    pub head_timeout: std::time::Duration,
    /// From the end of the head to the end of the body.
    pub body_timeout: std::time::Duration,
    /// How long an open connection may sit with no request before we close it.
    pub idle_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        use std::time::Duration;
        Limits {
            max_head_bytes: 8 * 1024,
            max_body_bytes: 64 * 1024,
            head_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

/// One header line. Header values are bytes on the wire; the rare byte
/// that is not UTF-8 becomes U+FFFD here, which can never match anything
/// the server looks for.
#[derive(Debug, Clone)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// A whole request, head and body, as the handlers see it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The target as sent: `/static/style.css?v=2`.
    pub target: String,
    /// The target's path, percent-decoded: `/static/style.css`; `*` for
    /// `OPTIONS *`, which asks about the server as a whole.
    pub path: String,
    pub version: Version,
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
    /// The head exactly as it arrived, for `--trace` and the inspector.
    pub raw_head: Vec<u8>,
    /// The address the request came from (connection.rs fills it in):
    /// the session cap counts sessions by it (session/limits.rs).
    pub client: Option<IpAddr>,
}

/// Why a request could not be read. `status` maps each to an answer.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("the connection closed")]
    Closed,
    #[error("the connection closed in the middle of a request head")]
    ClosedMidHead,
    #[error("the connection closed before the whole body arrived")]
    ClosedMidBody,
    #[error("the request is malformed: {0}")]
    Malformed(String),
    #[error("the request head is larger than {0} bytes")]
    HeadTooLarge(usize),
    #[error("the request target is longer than the {0} bytes this server reads")]
    TargetTooLong(usize),
    #[error("the request has more than {} headers", MAX_HEADERS)]
    TooManyHeaders,
    #[error("the request head did not arrive within {0} seconds")]
    HeadTimeout(u64),
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    #[error("the request body is larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("the request body is malformed: {0}")]
    BadBody(&'static str),
    #[error(
        "the transfer coding '{0}' is not supported; send the body with Content-Length or chunked"
    )]
    UnsupportedTransferCoding(String),
    #[error("the expectation '{0}' is not supported; only 100-continue is")]
    UnsupportedExpectation(String),
    #[error("the method {0} is not something this server does")]
    MethodNotImplemented(String),
    #[error("only HTTP/1.0 and HTTP/1.1 are spoken here")]
    UnsupportedVersion,
    #[error("reading from the connection failed: {0}")]
    Io(#[from] std::io::Error),
}

impl RequestError {
    /// The status to answer with, or `None` when there is nobody to answer
    /// (the client closed, or went quiet between requests). The connection
    /// closes after every one of these.
    pub fn status(&self) -> Option<u16> {
        match self {
            RequestError::Closed | RequestError::ClosedMidBody | RequestError::Io(_) => None,
            RequestError::ClosedMidHead | RequestError::Malformed(_) | RequestError::BadBody(_) => {
                Some(400)
            }
            RequestError::HeadTimeout(_) | RequestError::BodyTimeout => Some(408),
            RequestError::BodyTooLarge(_) => Some(413),
            RequestError::TargetTooLong(_) => Some(414),
            RequestError::UnsupportedExpectation(_) => Some(417),
            RequestError::HeadTooLarge(_) | RequestError::TooManyHeaders => Some(431),
            RequestError::UnsupportedTransferCoding(_) | RequestError::MethodNotImplemented(_) => {
                Some(501)
            }
            RequestError::UnsupportedVersion => Some(505),
        }
    }
}

/// How the body's end is found (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    None,
    Length(usize),
    Chunked,
}

/// RFC 9112 §2.2: a server should ignore empty lines before a request line
/// (some clients send an extra CRLF after a POST body). Returns how many
/// bytes at the start of `buffer` are such line endings.
pub fn leading_empty_lines(buffer: &[u8]) -> usize {
    buffer
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count()
}

/// Where the head ends: just after the first empty line, or `None` when
/// more bytes are needed. A line ending in a bare LF is found here too, so
/// `parse_head` can refuse it with a 400 rather than wait for a CRLF that
/// never comes.
pub fn find_head_end(buffer: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(offset) = buffer[from..].iter().position(|&b| b == b'\n') {
        let newline = from + offset;
        match &buffer[newline + 1..] {
            [b'\n', ..] => return Some(newline + 2),
            [b'\r', b'\n', ..] => return Some(newline + 3),
            _ => from = newline + 1,
        }
    }
    None
}

/// Parses a complete head (request line, headers, empty line) into a
/// `Request` with an empty body.
pub fn parse_head(head: &[u8]) -> Result<Request, RequestError> {
    // The request line, strictly: what httparse lets through and the RFCs
    // do not (request/strict.rs) *(skip at first)*.
    let minor_version_at = check_request_line(head)?;
    // RFC 9110 §6.2: HTTP/1.2 and later minors are read as HTTP/1.1, the
    // highest this server speaks; httparse only knows 1.0 and 1.1.
    let mut patched_head;
    let mut head_for_httparse = head;
    if head[minor_version_at] > b'1' {
        patched_head = head.to_vec();
        patched_head[minor_version_at] = b'1';
        head_for_httparse = &patched_head;
    }
    // httparse splits the head into method, target, version and headers,
    // borrowing from `head`; it needs room for the headers up front.
    let mut header_slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut header_slots);
    match parsed.parse(head_for_httparse) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(RequestError::Malformed(
                "the head is incomplete".to_string(),
            ));
        }
        Err(httparse::Error::TooManyHeaders) => return Err(RequestError::TooManyHeaders),
        Err(error) => return Err(RequestError::Malformed(error.to_string().to_lowercase())),
    }
    // httparse accepts lines ending in a bare LF; two parsers that disagree
    // on line endings are how requests get smuggled, so refuse them.
    if has_bare_lf(head) {
        return Err(RequestError::Malformed(
            "a line ends in LF without CR".to_string(),
        ));
    }

    // The parts, copied out of the buffer: the Request outlives it.
    let method = parsed.method.unwrap_or_default().to_string();
    let target = parsed.path.unwrap_or_default().to_string();
    let version = match parsed.version {
        Some(0) => Version::Http10,
        _ => Version::Http11,
    };
    let headers: Vec<Header> = parsed
        .headers
        .iter()
        .map(|header| Header {
            name: header.name.to_string(),
            value: String::from_utf8_lossy(header.value).into_owned(),
        })
        .collect();
    // `/static/a%20b.css` is routed as `/static/a b.css`.
    let path = decode_target_path(&method, &target)?;
    let request = Request {
        method,
        target,
        path,
        version,
        headers,
        body: Vec::new(),
        raw_head: Vec::new(),
        client: None,
    };
    check_host(&request)?;
    Ok(request)
}

/// The path part of the request target, percent-decoded.
/// `/static/a%20b.css?x=1` → `/static/a b.css`; the absolute form
/// `http://host/x` (RFC 9112 §3.2.2) → `/x`; `OPTIONS *` → `*`.
fn decode_target_path(method: &str, target: &str) -> Result<String, RequestError> {
    // `OPTIONS *`: the server as a whole; no other method may ask that.
    if target == "*" {
        return match method {
            "OPTIONS" => Ok("*".to_string()),
            _ => Err(RequestError::Malformed(
                "the target '*' is only for OPTIONS".to_string(),
            )),
        };
    }
    // The query is not routed on, only checked; the path is.
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    // `/login`, or the absolute form a proxy may send,
    // `http://host/login` (RFC 9112 §3.2.2), whose path is routed.
    let path = if path.starts_with('/') {
        path
    } else if let Some(after_scheme) = path
        .strip_prefix("http://")
        .or_else(|| path.strip_prefix("https://"))
    {
        after_scheme
            .find('/')
            .map_or("/", |slash| &after_scheme[slash..])
    } else {
        return Err(RequestError::Malformed(format!(
            "the request target '{target}' does not start with '/'"
        )));
    };
    // A broken `%` escape anywhere is refused rather than guessed at.
    form::percent_decode(query.as_bytes())
        .map_err(|problem| RequestError::Malformed(format!("the query {problem}")))?;
    let decoded = form::percent_decode(path.as_bytes())
        .map_err(|problem| RequestError::Malformed(format!("the path {problem}")))?;
    String::from_utf8(decoded)
        .map_err(|_| RequestError::Malformed("the path is not UTF-8 once decoded".to_string()))
}

impl Request {
    /// The first header of that name (names are case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case(name))
            .map(|header| header.value.as_str())
    }

    /// Every header of that name, in the order sent.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |header| header.name.eq_ignore_ascii_case(name))
            .map(|header| header.value.as_str())
    }

    /// Every value the client sent for the cookie `name`, from all its
    /// `Cookie` headers.
    pub fn cookie_values<'a>(&'a self, name: &'a str) -> Vec<&'a str> {
        cookie::values_named(self.headers_named("cookie"), name)
    }

    /// The body decoded as a form (`name=David&x=1`), in order.
    pub fn form(&self) -> Result<Vec<(String, String)>, form::FormError> {
        form::parse_form(&self.body)
    }

    /// RFC 9112 §9.3: HTTP/1.1 stays open unless `Connection: close`;
    /// HTTP/1.0 closes unless `Connection: keep-alive`.
    pub fn wants_keep_alive(&self) -> bool {
        // `Connection: keep-alive, Upgrade` lists options, any case.
        let says = |option: &str| {
            self.headers_named("connection")
                .flat_map(|value| value.split(','))
                .any(|token| token.trim().eq_ignore_ascii_case(option))
        };
        // HTTP/1.1 stays open unless told to close; HTTP/1.0 closes unless
        // told to stay (RFC 9112 §9.3).
        match self.version {
            Version::Http11 => !says("close"),
            Version::Http10 => says("keep-alive") && !says("close"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(head: &[u8]) -> Option<u16> {
        parse_head(head).err().and_then(|error| error.status())
    }

    #[test]
    fn a_head_is_complete_at_the_first_empty_line() {
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nHost: a\r\n"), None);
        assert_eq!(
            find_head_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nxyz"),
            Some(27)
        );
        assert_eq!(find_head_end(b"GET / HTTP/1.1\nHost: a\n\n"), Some(24));
        assert_eq!(leading_empty_lines(b"\r\n\r\nGET"), 4);
        assert_eq!(leading_empty_lines(b"GET"), 0);
    }

    #[test]
    fn a_login_head_parses_into_its_parts() {
        let request = parse_head(
            b"POST /login?x=1 HTTP/1.1\r\nHost: localhost:8080\r\nCookie: a=1; session=abc\r\n\r\n",
        )
        .unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.target, "/login?x=1");
        assert_eq!(request.path, "/login");
        assert_eq!(request.version, Version::Http11);
        assert_eq!(request.cookie_values("session"), ["abc"]);
    }

    #[test]
    fn versions_are_400_when_malformed_and_505_when_another_major() {
        for head in [
            &b"GET / HTTP/1\r\nHost: a\r\n\r\n"[..],
            b"GET / HTTP/01.01\r\nHost: a\r\n\r\n",
            b"GET / HTTP/ 1.1\r\nHost: a\r\n\r\n",
            b"GET / http/1.1\r\nHost: a\r\n\r\n",
            b"GET /pa th HTTP/1.1\r\nHost: a\r\n\r\n",
            b"THIS IS NOT HTTP\r\n\r\n",
            b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
            b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
        ] {
            assert_eq!(status_of(head), Some(400), "{}", head.escape_ascii());
        }
        for head in [
            &b"GET / HTTP/2.0\r\n\r\n"[..],
            b"GET / HTTP/3.0\r\n\r\n",
            b"GET / HTTP/0.9\r\n\r\n",
        ] {
            assert_eq!(status_of(head), Some(505), "{}", head.escape_ascii());
        }
        let later_minor = parse_head(b"GET / HTTP/1.7\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(later_minor.version, Version::Http11);
    }

    #[test]
    fn targets_hold_only_the_bytes_their_grammar_allows() {
        for bad in [
            &b"/caf\xc3\xa9"[..],
            b"/a\x7f",
            b"/a#frag",
            b"/a\"b",
            b"/a<b>",
            b"/x?%zz",
        ] {
            let mut head = b"GET ".to_vec();
            head.extend_from_slice(bad);
            head.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n\r\n");
            assert_eq!(status_of(&head), Some(400), "{}", bad.escape_ascii());
        }
        assert!(parse_head(b"GET /a%20b?q=1&r=%2F HTTP/1.1\r\nHost: a\r\n\r\n").is_ok());
    }

    #[test]
    fn options_star_is_a_request_and_connect_is_not_implemented() {
        assert_eq!(
            parse_head(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
                .unwrap()
                .path,
            "*"
        );
        assert_eq!(status_of(b"GET * HTTP/1.1\r\nHost: a\r\n\r\n"), Some(400));
        assert_eq!(
            status_of(b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n"),
            Some(501)
        );
        assert_eq!(
            status_of(b"PROPFINDX / HTTP/1.1\r\nHost: a\r\n\r\n"),
            Some(501)
        );
    }

    #[test]
    fn bare_lf_obs_fold_and_space_before_colon_are_refused() {
        for head in [
            &b"GET / HTTP/1.1\nHost: a\n\n"[..],
            b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n folded: x\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        ] {
            assert_eq!(status_of(head), Some(400), "{}", head.escape_ascii());
        }
        assert!(parse_head(b"GET / HTTP/1.0\r\n\r\n").is_ok());
    }
}
