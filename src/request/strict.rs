//! The strict reading of a request head: what httparse lets through and
//! this server refuses.
//!
//! *(Skip at first.)* request.rs turns a head into a `Request`; the checks
//! here are what keeps two servers on one connection from disagreeing
//! about where a request ends ("request smuggling"), and what the RFCs
//! say a server must refuse:
//!
//! ```text
//! GET /a b HTTP/1.1        a space in the target: 400 (RFC 9112 §3)
//! GET / HTTP/1.1\n         a bare LF: 400
//! Host: a b                not host[:port]: 400 (RFC 9110 §7.2)
//! Content-Length: 5, 6     lengths that disagree: 400 (RFC 9112 §6.3)
//! Transfer-Encoding: chunked, gzip   chunked not last: 400
//! ```

use super::{BodyFraming, Limits, Request, RequestError, Version};
use crate::body::is_token_byte;

/// The longest method this server implements (`OPTIONS`). RFC 9112 §3: a
/// longer one is answered 501, whatever it is.
const MAX_METHOD_BYTES: usize = 7;

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

/// The checks on the request line that httparse does not make, or makes
/// with a different answer: `METHOD SP TARGET SP HTTP/D.D CRLF`, exactly.
/// Returns where the minor version digit is.
pub fn check_request_line(head: &[u8]) -> Result<usize, RequestError> {
    // The first line, without its line ending.
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let line = head[..line_end]
        .strip_suffix(b"\r")
        .unwrap_or(&head[..line_end]);
    // Exactly one space between the parts: `GET / HTTP/1.1`.
    let mut parts = line.split(|&b| b == b' ');
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let version = parts.next().unwrap_or_default();
    let malformed = |what: &str| Err(RequestError::Malformed(what.to_string()));
    // A well-formed method longer than any we know: not implemented (501),
    // rather than malformed.
    if method.len() > MAX_METHOD_BYTES && method.iter().all(|&b| is_token_byte(b)) {
        let method = String::from_utf8_lossy(&method[..method.len().min(32)]);
        return Err(RequestError::MethodNotImplemented(method.into_owned()));
    }
    // A fourth part means a space where none may be: two servers could
    // split such a line differently.
    if parts.next().is_some() {
        return malformed("the request line has more than three parts (a space in the target?)");
    }
    // CONNECT asks for a tunnel; this server is no proxy.
    if method == b"CONNECT" {
        return Err(RequestError::MethodNotImplemented("CONNECT".to_string()));
    }
    // Controls, spaces, quotes, `<`, `>` and bytes above 127 are not
    // allowed in a target, even if httparse would pass them.
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

/// The bytes a request-target may hold (RFC 3986 §3.3 pchar, plus `/` and
/// `?`; `%` is checked later with the escapes). No spaces, no controls, no
/// bytes ≥ 0x80, no `#`: a browser escapes all of these before sending.
fn is_target_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&byte)
}

pub fn has_bare_lf(head: &[u8]) -> bool {
    head.iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || head[i - 1] != b'\r'))
}

/// RFC 9112 §3.2: an HTTP/1.1 request carries exactly one Host header
/// (HTTP/1.0 predates it, so there it may be missing), and its value is a
/// host with an optional port (RFC 3986 §3.2.2–3.2.3).
pub fn check_host(request: &Request) -> Result<(), RequestError> {
    // Exactly one Host, well formed; HTTP/1.0 clients may send none
    // (RFC 9112 §3.2). Two could route one request two ways.
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
    // Split off the port: after the `]` of an IPv6 literal, else after
    // the last colon.
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
    // A port is up to five digits (the range is not this check's job).
    let port_ok = port.is_empty()
        || (port.starts_with(':')
            && port[1..].len() <= 5
            && port[1..].bytes().all(|b| b.is_ascii_digit()));
    // `[::1]`: hex digits, colons, dots. A name: RFC 3986's reg-name
    // bytes, with any `%` escape well formed.
    let host_ok = if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').unwrap_or_default();
        !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    } else {
        host.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b))
            && crate::form::percent_decode(host.as_bytes()).is_ok()
    };
    port_ok && host_ok
}

/// Decides how the body is framed, refusing every ambiguous shape.
pub fn body_framing(request: &Request, limits: &Limits) -> Result<BodyFraming, RequestError> {
    let lengths: Vec<&str> = request.headers_named("content-length").collect();
    let codings: Vec<&str> = request.headers_named("transfer-encoding").collect();
    // Both at once is the classic smuggling shape: one server counts the
    // length, another the chunks, and they disagree where the body ends.
    if !lengths.is_empty() && !codings.is_empty() {
        return Err(RequestError::Malformed(
            "Content-Length and Transfer-Encoding were both sent".to_string(),
        ));
    }
    // Chunked: the body says its own end (body.rs); HTTP/1.0 has no such
    // thing, so a 1.0 request that claims it is refused.
    if !codings.is_empty() {
        if request.version == Version::Http10 {
            return Err(RequestError::Malformed(
                "Transfer-Encoding is not allowed in HTTP/1.0".to_string(),
            ));
        }
        return chunked_last(&codings);
    }
    // Neither header: no body (RFC 9112 §6.3).
    let Some(first) = lengths.first() else {
        return Ok(BodyFraming::None);
    };
    // The same length twice is harmless; two different ones are not.
    if lengths.iter().any(|length| length != first) {
        return Err(RequestError::Malformed(
            "the Content-Length headers disagree".to_string(),
        ));
    }
    // Too big is refused now, before a byte of the body is read (413).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::parse_head;

    fn status_of(head: &[u8]) -> Option<u16> {
        parse_head(head).err().and_then(|error| error.status())
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
}
