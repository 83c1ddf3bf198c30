//! Requests: the head's bytes become a `Request`, then the body is read.
//!
//! ```text
//! POST /login HTTP/1.1\r\n                          request line: method, target, version
//! Host: localhost:8080\r\n                          headers: name, colon, value
//! Content-Type: application/x-www-form-urlencoded\r\n
//! Content-Length: 10\r\n                            how the body is framed
//! \r\n
//! name=David                                        body: exactly 10 bytes
//! ```
//!
//! httparse splits the head into its parts. This file decides what those
//! parts mean: which HTTP version, how long the body is (`Content-Length`,
//! or `Transfer-Encoding: chunked`, never both), and what to refuse. Every
//! refusal is a `RequestError`, and `RequestError::status` is the one place
//! that says which status each gets. After any of them the connection is
//! closed, because the server can no longer tell where the next request
//! would begin (a "request smuggling" attack lives in exactly that doubt).
//! Rules: RFC 9112 §3 (request line), §5 (fields), §6 (body), §7 (chunked).

use std::io::Write;
use std::time::{Duration, Instant};

use crate::connection::Connection;
use crate::cookie;
use crate::form;

/// The most headers a request may have; httparse needs the number at
/// compile time.
pub const MAX_HEADERS: usize = 100;

/// How much a client may send, and how slowly.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_head_bytes: usize,
    pub max_body_bytes: usize,
    /// From a request's first byte to the end of its head.
    pub head_timeout: Duration,
    /// From the end of the head to the end of the body.
    pub body_timeout: Duration,
    /// How long an open connection may sit with no request before we close it.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
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
    /// The target's path, percent-decoded: `/static/style.css`.
    pub path: String,
    pub version: Version,
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
    /// The head exactly as it arrived, for `--trace`.
    pub raw_head: Vec<u8>,
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
            RequestError::UnsupportedExpectation(_) => Some(417),
            RequestError::HeadTooLarge(_) | RequestError::TooManyHeaders => Some(431),
            RequestError::UnsupportedTransferCoding(_) => Some(501),
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

/// Reads the next request from the connection: the head, then the body.
pub fn read_request(conn: &mut Connection, limits: &Limits) -> Result<Request, RequestError> {
    let head_len = conn.read_head(limits)?;
    let raw_head: Vec<u8> = conn.buffer.drain(..head_len).collect();
    let mut request = parse_head(&raw_head)?;
    request.raw_head = raw_head;

    let framing = body_framing(&request, limits)?;
    if framing != BodyFraming::None && expects_continue(&request)? {
        // The client waits for this before sending the body: the head
        // passed every check, so the body is welcome.
        conn.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let deadline = Instant::now() + limits.body_timeout;
    request.body = match framing {
        BodyFraming::None => Vec::new(),
        BodyFraming::Length(length) => conn.take_bytes(length, deadline)?,
        BodyFraming::Chunked => read_chunked_body(conn, limits, deadline)?,
    };
    Ok(request)
}

/// Parses a complete head (request line, headers, empty line) into a
/// `Request` with an empty body.
pub fn parse_head(head: &[u8]) -> Result<Request, RequestError> {
    let mut header_slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut header_slots);
    match parsed.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(RequestError::Malformed(
                "the head is incomplete".to_string(),
            ));
        }
        Err(httparse::Error::TooManyHeaders) => return Err(RequestError::TooManyHeaders),
        Err(httparse::Error::Version) => return Err(RequestError::UnsupportedVersion),
        Err(error) => return Err(RequestError::Malformed(error.to_string().to_lowercase())),
    }
    // httparse accepts lines ending in a bare LF; two parsers that disagree
    // on line endings are how requests get smuggled, so refuse them.
    if has_bare_lf(head) {
        return Err(RequestError::Malformed(
            "a line ends in LF without CR".to_string(),
        ));
    }

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
    let path = decode_target_path(&target)?;
    let request = Request {
        method,
        target,
        path,
        version,
        headers,
        body: Vec::new(),
        raw_head: Vec::new(),
    };
    check_host(&request)?;
    Ok(request)
}

fn has_bare_lf(head: &[u8]) -> bool {
    head.iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || head[i - 1] != b'\r'))
}

/// The path part of the request target, percent-decoded.
/// `/static/a%20b.css?x=1` → `/static/a b.css`; the absolute form
/// `http://host/x` (RFC 9112 §3.2.2) → `/x`.
fn decode_target_path(target: &str) -> Result<String, RequestError> {
    let without_query = target.split(['?', '#']).next().unwrap_or_default();
    let path = if without_query.starts_with('/') {
        without_query
    } else if let Some(after_scheme) = without_query
        .strip_prefix("http://")
        .or_else(|| without_query.strip_prefix("https://"))
    {
        after_scheme
            .find('/')
            .map_or("/", |slash| &after_scheme[slash..])
    } else {
        return Err(RequestError::Malformed(format!(
            "the request target '{target}' does not start with '/'"
        )));
    };
    let decoded = form::percent_decode(path.as_bytes(), false)
        .map_err(|problem| RequestError::Malformed(format!("the path {problem}")))?;
    String::from_utf8(decoded)
        .map_err(|_| RequestError::Malformed("the path is not UTF-8 once decoded".to_string()))
}

/// RFC 9112 §3.2: an HTTP/1.1 request carries exactly one Host header
/// (HTTP/1.0 predates it, so there it may be missing).
fn check_host(request: &Request) -> Result<(), RequestError> {
    match (request.headers_named("host").count(), request.version) {
        (1, _) | (0, Version::Http10) => Ok(()),
        (0, Version::Http11) => Err(RequestError::Malformed(
            "an HTTP/1.1 request needs a Host header".to_string(),
        )),
        _ => Err(RequestError::Malformed(
            "the request has more than one Host header".to_string(),
        )),
    }
}

/// Decides how the body is framed, refusing every ambiguous shape.
pub fn body_framing(request: &Request, limits: &Limits) -> Result<BodyFraming, RequestError> {
    let lengths: Vec<&str> = request.headers_named("content-length").collect();
    let codings: Vec<&str> = request.headers_named("transfer-encoding").collect();
    if !lengths.is_empty() && !codings.is_empty() {
        return Err(RequestError::Malformed(
            "Content-Length and Transfer-Encoding were both sent".to_string(),
        ));
    }
    if !codings.is_empty() {
        if request.version == Version::Http10 {
            return Err(RequestError::Malformed(
                "Transfer-Encoding is not allowed in HTTP/1.0".to_string(),
            ));
        }
        return chunked_only(&codings);
    }
    let Some(first) = lengths.first() else {
        return Ok(BodyFraming::None);
    };
    if lengths.iter().any(|length| length != first) {
        return Err(RequestError::Malformed(
            "the Content-Length headers disagree".to_string(),
        ));
    }
    let length = parse_content_length(first)?;
    if length > limits.max_body_bytes as u64 {
        return Err(RequestError::BodyTooLarge(limits.max_body_bytes));
    }
    match length {
        0 => Ok(BodyFraming::None),
        _ => Ok(BodyFraming::Length(length as usize)),
    }
}

/// `Content-Length` is one or more digits and nothing else: no sign, no
/// spaces inside, no list.
fn parse_content_length(text: &str) -> Result<u64, RequestError> {
    let bad = || RequestError::Malformed(format!("the Content-Length '{text}' is not a number"));
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    // Very long digit strings overflow; they are too large either way.
    Ok(text.parse::<u64>().unwrap_or(u64::MAX))
}

/// The only transfer coding spoken here is `chunked`, alone.
fn chunked_only(codings: &[&str]) -> Result<BodyFraming, RequestError> {
    let listed: Vec<&str> = codings
        .iter()
        .flat_map(|value| value.split(','))
        .map(|coding| coding.trim_matches([' ', '\t']))
        .collect();
    match listed.as_slice() {
        [only] if only.eq_ignore_ascii_case("chunked") => Ok(BodyFraming::Chunked),
        [] | [""] => Err(RequestError::Malformed(
            "the Transfer-Encoding header is empty".to_string(),
        )),
        _ if listed.iter().any(|coding| coding.is_empty()) => Err(RequestError::Malformed(
            "the Transfer-Encoding list has an empty item".to_string(),
        )),
        _ => Err(RequestError::UnsupportedTransferCoding(codings.join(", "))),
    }
}

/// `Expect: 100-continue` asks for a go-ahead before the body is sent.
fn expects_continue(request: &Request) -> Result<bool, RequestError> {
    match request.header("expect") {
        None => Ok(false),
        Some(value) if value.eq_ignore_ascii_case("100-continue") => {
            Ok(request.version == Version::Http11)
        }
        Some(other) => Err(RequestError::UnsupportedExpectation(other.to_string())),
    }
}

/// Reads a chunked body (RFC 9112 §7.1):
///
/// ```text
/// 5\r\n          size in hex
/// name=\r\n      that many bytes, then CRLF
/// 5\r\n
/// David\r\n
/// 0\r\n          the last chunk
/// \r\n           (trailer lines would come here), then an empty line
/// ```
fn read_chunked_body(
    conn: &mut Connection,
    limits: &Limits,
    deadline: Instant,
) -> Result<Vec<u8>, RequestError> {
    const MAX_LINE_BYTES: usize = 1024;
    const MAX_TRAILER_LINES: usize = 100;
    let mut body = Vec::new();
    loop {
        let size_line = conn.take_line(MAX_LINE_BYTES, deadline)?;
        let size = parse_chunk_size(&size_line)?;
        if size == 0 {
            break;
        }
        if body.len() as u64 + size > limits.max_body_bytes as u64 {
            return Err(RequestError::BodyTooLarge(limits.max_body_bytes));
        }
        body.extend(conn.take_bytes(size as usize, deadline)?);
        if !conn.take_line(MAX_LINE_BYTES, deadline)?.is_empty() {
            return Err(RequestError::BadBody(
                "a chunk is longer than its size says",
            ));
        }
    }
    for _ in 0..MAX_TRAILER_LINES {
        if conn.take_line(MAX_LINE_BYTES, deadline)?.is_empty() {
            return Ok(body);
        }
    }
    Err(RequestError::BadBody("too many trailer lines"))
}

/// `1a` or `1a;name=value` → 26. Extensions are allowed and ignored.
fn parse_chunk_size(line: &[u8]) -> Result<u64, RequestError> {
    let digits = line.split(|&b| b == b';').next().unwrap_or_default();
    if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(RequestError::BadBody("a chunk size is not a hex number"));
    }
    let text = std::str::from_utf8(digits).expect("hex digits are ASCII");
    Ok(u64::from_str_radix(text, 16).expect("at most 15 hex digits fit in u64"))
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
        let says = |option: &str| {
            self.headers_named("connection")
                .flat_map(|value| value.split(','))
                .any(|token| token.trim().eq_ignore_ascii_case(option))
        };
        match self.version {
            Version::Http11 => !says("close"),
            Version::Http10 => says("keep-alive") && !says("close"),
        }
    }
}
