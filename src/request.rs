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

use crate::cookie;
use crate::form;

/// The most headers a request may have; httparse needs the number at
/// compile time.
pub const MAX_HEADERS: usize = 100;

/// The longest method this server implements (`OPTIONS`). RFC 9112 §3: a
/// longer one is answered 501, whatever it is.
const MAX_METHOD_BYTES: usize = 7;

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

/// Why a head that outgrew `max_head_bytes` is refused: a method longer
/// than any we implement is 501, a request line that alone fills the
/// limit is 414 (its target is too long), and anything else is 431 (the
/// header fields are too large). RFC 9112 §3.
pub fn oversized_head_error(buffer: &[u8], max_head_bytes: usize) -> RequestError {
    let line_end = buffer.iter().position(|&b| b == b'\n');
    let request_line = &buffer[..line_end.unwrap_or(buffer.len())];
    let method_len = request_line
        .iter()
        .position(|&b| b == b' ')
        .unwrap_or(request_line.len());
    if method_len > MAX_METHOD_BYTES {
        let method = String::from_utf8_lossy(&request_line[..method_len.min(32)]);
        return RequestError::MethodNotImplemented(format!("{method}…"));
    }
    if line_end.is_none() || request_line.len() > max_head_bytes {
        return RequestError::TargetTooLong(max_head_bytes);
    }
    RequestError::HeadTooLarge(max_head_bytes)
}

/// Parses a complete head (request line, headers, empty line) into a
/// `Request` with an empty body.
pub fn parse_head(head: &[u8]) -> Result<Request, RequestError> {
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
    let path = decode_target_path(&method, &target)?;
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

/// The checks on the request line that httparse does not make, or makes
/// with a different answer: `METHOD SP TARGET SP HTTP/D.D CRLF`, exactly.
/// Returns where the minor version digit is.
fn check_request_line(head: &[u8]) -> Result<usize, RequestError> {
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let line = head[..line_end]
        .strip_suffix(b"\r")
        .unwrap_or(&head[..line_end]);
    let mut parts = line.split(|&b| b == b' ');
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let version = parts.next().unwrap_or_default();
    let malformed = |what: &str| Err(RequestError::Malformed(what.to_string()));
    if method.len() > MAX_METHOD_BYTES && method.iter().all(|&b| is_token_byte(b)) {
        let method = String::from_utf8_lossy(&method[..method.len().min(32)]);
        return Err(RequestError::MethodNotImplemented(method.into_owned()));
    }
    if parts.next().is_some() {
        return malformed("the request line has more than three parts (a space in the target?)");
    }
    if method == b"CONNECT" {
        return Err(RequestError::MethodNotImplemented("CONNECT".to_string()));
    }
    if let Some(&byte) = target.iter().find(|&&b| !is_target_byte(b)) {
        return Err(RequestError::Malformed(format!(
            "the request target has the byte 0x{byte:02X}, which a target cannot contain"
        )));
    }
    // HTTP-version = "HTTP" "/" DIGIT "." DIGIT (RFC 9112 §2.3). A version
    // of that shape with another major number is one we do not speak (505);
    // anything else in that place is not HTTP/1 at all (400).
    match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            if *major != b'1' {
                return Err(RequestError::UnsupportedVersion);
            }
            Ok(line.len() - 1)
        }
        _ => malformed("the request line does not end in a version like HTTP/1.1"),
    }
}

/// tchar (RFC 9110 §5.6.2): the bytes a method or header name is made of.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// The bytes a request-target may hold (RFC 3986 §3.3 pchar, plus `/` and
/// `?`; `%` is checked later with the escapes). No spaces, no controls, no
/// bytes ≥ 0x80, no `#`: a browser escapes all of these before sending.
fn is_target_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&byte)
}

fn has_bare_lf(head: &[u8]) -> bool {
    head.iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || head[i - 1] != b'\r'))
}

/// The path part of the request target, percent-decoded.
/// `/static/a%20b.css?x=1` → `/static/a b.css`; the absolute form
/// `http://host/x` (RFC 9112 §3.2.2) → `/x`; `OPTIONS *` → `*`.
fn decode_target_path(method: &str, target: &str) -> Result<String, RequestError> {
    if target == "*" {
        return match method {
            "OPTIONS" => Ok("*".to_string()),
            _ => Err(RequestError::Malformed(
                "the target '*' is only for OPTIONS".to_string(),
            )),
        };
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
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
    form::percent_decode(query.as_bytes(), false)
        .map_err(|problem| RequestError::Malformed(format!("the query {problem}")))?;
    let decoded = form::percent_decode(path.as_bytes(), false)
        .map_err(|problem| RequestError::Malformed(format!("the path {problem}")))?;
    String::from_utf8(decoded)
        .map_err(|_| RequestError::Malformed("the path is not UTF-8 once decoded".to_string()))
}

/// RFC 9112 §3.2: an HTTP/1.1 request carries exactly one Host header
/// (HTTP/1.0 predates it, so there it may be missing), and its value is a
/// host with an optional port (RFC 3986 §3.2.2–3.2.3).
fn check_host(request: &Request) -> Result<(), RequestError> {
    let hosts: Vec<&str> = request.headers_named("host").collect();
    match (hosts.as_slice(), request.version) {
        ([host], _) if is_valid_host(host) => Ok(()),
        ([host], _) => Err(RequestError::Malformed(format!(
            "the Host '{host}' is not a host name or address with an optional :port"
        ))),
        ([], Version::Http10) => Ok(()),
        ([], Version::Http11) => Err(RequestError::Malformed(
            "an HTTP/1.1 request needs a Host header".to_string(),
        )),
        _ => Err(RequestError::Malformed(
            "the request has more than one Host header".to_string(),
        )),
    }
}

/// `Host = uri-host [ ":" port ]`. uri-host is `[v6 address]`, a dotted
/// IPv4 address, or a reg-name (letters, digits, `-._~`, `%XX`, and the
/// sub-delims `!$&'()*+,;=`); port is digits. An empty value is allowed:
/// reg-name may be empty, and RFC 9112 §3.2 has clients send `Host:` with
/// nothing when the target has no authority (NOTES.md says more).
pub fn is_valid_host(value: &str) -> bool {
    let (host, port) = if value.starts_with('[') {
        match value.find(']') {
            Some(close) => (&value[..=close], &value[close + 1..]),
            None => return false,
        }
    } else {
        match value.rfind(':') {
            Some(colon) => (&value[..colon], &value[colon..]),
            None => (value, ""),
        }
    };
    let port_ok = port.is_empty()
        || (port.starts_with(':')
            && port[1..].len() <= 5
            && port[1..].bytes().all(|b| b.is_ascii_digit()));
    let host_ok = if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').unwrap_or_default();
        !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    } else {
        host.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b))
            && form::percent_decode(host.as_bytes(), false).is_ok()
    };
    port_ok && host_ok
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
        return chunked_last(&codings);
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
    // A length too long for u64 is well-formed digits and only too large,
    // like any length over the body limit: 413 (NOTES.md explains).
    Ok(text.parse::<u64>().unwrap_or(u64::MAX))
}

/// RFC 9112 §6.3: the body's end is known only when `chunked` is the last
/// coding listed (400 otherwise, because nobody can tell where the body
/// ends); a coding before it that we cannot undo, such as `gzip`, is 501.
fn chunked_last(codings: &[&str]) -> Result<BodyFraming, RequestError> {
    let listed: Vec<&str> = codings
        .iter()
        .flat_map(|value| value.split(','))
        .map(|coding| coding.trim_matches([' ', '\t']))
        .collect();
    if listed.iter().any(|coding| coding.is_empty()) {
        return Err(RequestError::Malformed(
            "the Transfer-Encoding list has an empty item".to_string(),
        ));
    }
    let is_chunked = |coding: &&str| coding.eq_ignore_ascii_case("chunked");
    match listed.split_last() {
        Some((last, before)) if is_chunked(last) && before.iter().any(is_chunked) => Err(
            RequestError::Malformed("chunked is listed more than once".to_string()),
        ),
        Some((last, [])) if is_chunked(last) => Ok(BodyFraming::Chunked),
        Some((last, _)) if is_chunked(last) => {
            Err(RequestError::UnsupportedTransferCoding(codings.join(", ")))
        }
        _ => Err(RequestError::Malformed(format!(
            "the Transfer-Encoding '{}' does not end in chunked, so the body's end is unknown",
            codings.join(", ")
        ))),
    }
}

/// `Expect: 100-continue` asks for a go-ahead before the body is sent.
pub fn expects_continue(request: &Request) -> Result<bool, RequestError> {
    match request.header("expect") {
        None => Ok(false),
        Some(value) if value.eq_ignore_ascii_case("100-continue") => {
            Ok(request.version == Version::Http11)
        }
        Some(other) => Err(RequestError::UnsupportedExpectation(other.to_string())),
    }
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
    fn host_must_be_a_host_with_an_optional_port() {
        for good in [
            "localhost",
            "127.0.0.1:8080",
            "[::1]:8080",
            "a.example",
            "",
            "x:",
        ] {
            assert!(is_valid_host(good), "{good:?}");
        }
        for bad in [
            "bad host",
            "user@127.0.0.1:8080",
            "127.0.0.1:8080/path",
            "127.0.0.1:8080, other.example.com",
            "a:b:c",
            "[::1",
            "a:99999999",
            "%zz",
        ] {
            assert!(!is_valid_host(bad), "{bad:?}");
            let head = format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n");
            assert_eq!(status_of(head.as_bytes()), Some(400), "{bad:?}");
        }
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
    fn an_oversized_head_names_its_cause() {
        let long_method = vec![b'A'; 9000];
        assert_eq!(oversized_head_error(&long_method, 8192).status(), Some(501));
        let mut long_target = b"GET /".to_vec();
        long_target.extend(vec![b'a'; 9000]);
        assert_eq!(oversized_head_error(&long_target, 8192).status(), Some(414));
        let mut big_headers = b"GET / HTTP/1.1\r\n".to_vec();
        big_headers.extend(vec![b'a'; 9000]);
        assert_eq!(oversized_head_error(&big_headers, 8192).status(), Some(431));
    }

    #[test]
    fn transfer_codings_must_end_in_chunked_once() {
        let framing = |coding: &str| {
            let head = format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: {coding}\r\n\r\n");
            let request = parse_head(head.as_bytes()).unwrap();
            body_framing(&request, &Limits::default()).map_err(|e| e.status())
        };
        assert_eq!(framing("chunked"), Ok(BodyFraming::Chunked));
        assert_eq!(framing("Chunked"), Ok(BodyFraming::Chunked));
        for not_last in [
            "chunked, gzip",
            "gzip",
            "xchunked",
            "chunked;q=1",
            "chunked, identity",
        ] {
            assert_eq!(framing(not_last), Err(Some(400)), "{not_last}");
        }
        assert_eq!(framing("gzip, chunked"), Err(Some(501)));
        assert_eq!(framing("chunked, chunked"), Err(Some(400)));
        assert_eq!(framing(", chunked"), Err(Some(400)));
    }

    #[test]
    fn content_lengths_are_digits_and_agree() {
        let framing = |lengths: &str| {
            let head = format!("POST / HTTP/1.1\r\nHost: a\r\n{lengths}\r\n\r\n");
            let request = parse_head(head.as_bytes()).unwrap();
            body_framing(&request, &Limits::default()).map_err(|e| e.status())
        };
        assert_eq!(framing("Content-Length: 10"), Ok(BodyFraming::Length(10)));
        assert_eq!(framing("Content-Length: 0"), Ok(BodyFraming::None));
        assert_eq!(
            framing("Content-Length: 99999999999999999999"),
            Err(Some(413))
        );
        for bad in [
            "Content-Length: -1",
            "Content-Length: 1 0",
            "Content-Length: 4, 4",
            "Content-Length: +4",
        ] {
            assert_eq!(framing(bad), Err(Some(400)), "{bad}");
        }
        assert_eq!(
            framing("Content-Length: 4\r\nContent-Length: 5"),
            Err(Some(400))
        );
        assert_eq!(
            framing("Content-Length: 4\r\nTransfer-Encoding: chunked"),
            Err(Some(400))
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
