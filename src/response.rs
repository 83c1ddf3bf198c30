//! Responses: a status line, headers, an empty line, a body.
//!
//! ```text
//! HTTP/1.1 303 See Other\r\n
//! Date: Fri, 27 Nov 2026 20:31:25 GMT\r\n
//! Content-Length: 0\r\n
//! Location: /\r\n
//! Set-Cookie: session=9c1e…; Path=/; HttpOnly; SameSite=Lax\r\n
//! \r\n
//! ```
//!
//! A handler builds a `Response` (status, headers, body); `to_bytes` writes
//! every byte of it, in the order above, where a reader can see it. Every
//! answer has `Date` and `Content-Length`, so the client knows where the
//! body ends and the connection can carry the next request.
//! Rules: RFC 9110 §15 (status codes), RFC 9112 §4 (status line), §6.
//! `Date` is written as an IMF-fixdate, the one date format HTTP senders
//! use (`Sun, 06 Nov 1994 08:49:37 GMT`: always GMT, always two-digit days,
//! English names), defined in RFC 9110 §5.6.7.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::template::escape_html;

/// A response on its way out: exactly what goes on the wire. Headers are
/// in the order they will be sent. (What the log line and the panel want
/// to know about it travels beside it: router.rs's `Answer`.)
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The `Connection` header an answer ends with, if any (connection.rs
/// decides, RFC 9112 §9.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionHeader {
    /// HTTP/1.1 stays open without saying so.
    Omitted,
    /// `Connection: close`: this is the last answer on the connection.
    Close,
    /// `Connection: keep-alive`: an HTTP/1.0 client may send another.
    KeepAlive,
}

pub const HTML: &str = "text/html; charset=utf-8";
pub const TEXT: &str = "text/plain; charset=utf-8";

impl Response {
    /// A 200 page of HTML.
    pub fn html(status: u16, html: String) -> Self {
        Response {
            status,
            headers: vec![("Content-Type".to_string(), HTML.to_string())],
            body: html.into_bytes(),
        }
    }

    /// An answer with no body and no type (`Content-Length: 0`).
    pub fn empty(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A file's bytes with its type.
    pub fn file(content_type: &str, bytes: Vec<u8>) -> Self {
        Response {
            status: 200,
            headers: vec![("Content-Type".to_string(), content_type.to_string())],
            body: bytes,
        }
    }

    /// 303: "the POST worked; now GET this". The browser follows with a
    /// GET, so reloading the next page does not repeat the POST.
    pub fn see_other(location: &str) -> Self {
        Response::redirect(303, location)
    }

    /// 302: "look over there", as Flask's `redirect()` answers a GET.
    pub fn found(location: &str) -> Self {
        Response::redirect(302, location)
    }

    fn redirect(status: u16, location: &str) -> Self {
        Response {
            status,
            headers: vec![("Location".to_string(), location.to_string())],
            body: Vec::new(),
        }
    }

    /// A short HTML page saying what went wrong.
    pub fn error(status: u16, reason: &str) -> Self {
        let title = format!("{status} {}", reason_phrase(status));
        let page = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
             <link rel=\"stylesheet\" href=\"/static/style.css\"></head>\n\
             <body><main><h1>{title}</h1>\n<p>{}</p>\n<p><a href=\"/\">Home</a></p></main></body></html>\n",
            escape_html(reason)
        );
        Response::html(status, page)
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Marks a page that shows what is in the visitor's session: no cache
    /// may keep it (so Back after logout shows nothing stale), and a shared
    /// cache must not give it to another visitor (`Vary: Cookie`). Each
    /// header is added only where the answer lacks it: the session
    /// wrapper, a view and the panel may all ask, and it is said once.
    pub fn no_store_vary_cookie(mut self) -> Self {
        for (name, value) in [("Cache-Control", "no-store"), ("Vary", "Cookie")] {
            if self.header(name).is_none() {
                self = self.with_header(name, value);
            }
        }
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The bytes that go on the wire: status line, headers, empty line,
    /// body.
    pub fn to_bytes(&self, connection: ConnectionHeader) -> Vec<u8> {
        let mut out = self.head_bytes(connection);
        if has_body(self.status) {
            out.extend_from_slice(&self.body);
        }
        out
    }

    /// The answer to a HEAD request: the same head, `Content-Length`
    /// included, and no body (RFC 9110 §9.3.2).
    pub fn head_bytes(&self, connection: ConnectionHeader) -> Vec<u8> {
        // Room for the head and the body, so `to_bytes` appends in place.
        let mut out = Vec::with_capacity(256 + self.body.len());
        // `HTTP/1.1 303 See Other`
        out.extend_from_slice(status_line(self.status).as_bytes());
        // Every answer says when it was made (RFC 9110 §6.6.1)...
        push_header(&mut out, "Date", &http_date(SystemTime::now()));
        // ...and how long its body is, so the connection can carry the
        // next request (none for the statuses that never have a body).
        if has_body(self.status) {
            push_header(&mut out, "Content-Length", &self.body.len().to_string());
        }
        // The handler's own headers, in its order: `Location`,
        // `Set-Cookie`, `Content-Type`, `Cache-Control`.
        for (name, value) in &self.headers {
            push_header(&mut out, name, value);
        }
        // Whether the connection stays open (connection.rs decides).
        match connection {
            ConnectionHeader::Omitted => {}
            ConnectionHeader::Close => push_header(&mut out, "Connection", "close"),
            ConnectionHeader::KeepAlive => push_header(&mut out, "Connection", "keep-alive"),
        }
        // The empty line: the head ends here.
        out.extend_from_slice(b"\r\n");
        out
    }
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// 1xx, 204 and 304 answers never have a body (RFC 9110 §6.4.1).
fn has_body(status: u16) -> bool {
    !(status < 200 || status == 204 || status == 304)
}

/// Where the head of bytes this server wrote ends: just after the first
/// empty line (`\r\n\r\n`), or all of them. (Incoming heads, which may
/// end in bare LFs a client sent, are request.rs's `find_head_end`.)
pub fn head_len(bytes: &[u8]) -> usize {
    bytes
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map_or(bytes.len(), |blank_line| blank_line + 4)
}

/// `HTTP/1.1 303 See Other\r\n`
pub fn status_line(status: u16) -> String {
    format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status))
}

pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        302 => "Found",
        303 => "See Other",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// `Fri, 27 Nov 2026 20:31:25 GMT`, computed by hand from the Unix clock.
pub fn http_date(now: SystemTime) -> String {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // Seconds since 1970 become days and the time of day: UTC has no leap
    // seconds in this count, so every day is 86,400 of them.
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let secs_of_day = secs % 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[(days % 7) as usize], // 1 Jan 1970 was a Thursday
        day,
        MONTHS[(month - 1) as usize],
        year,
        secs_of_day / 3600,
        secs_of_day / 60 % 60,
        secs_of_day % 60
    )
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31) in the Gregorian
/// calendar. Howard Hinnant's `civil_from_days`: count in 400-year eras
/// that start on 1 March, so the leap day falls at the end of a year.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_imf_fixdates() {
        let at = |secs| http_date(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(at(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT"); // RFC 9110's example
        assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(at(1_798_400_000), "Sun, 27 Dec 2026 19:33:20 GMT");
    }

    #[test]
    fn head_answers_keep_the_length_and_drop_the_body() {
        let response = Response::html(200, "hello".to_string());
        let text = String::from_utf8(response.head_bytes(ConnectionHeader::Omitted)).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\nDate: "));
        assert!(text.contains("\r\nContent-Length: 5\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }
}
