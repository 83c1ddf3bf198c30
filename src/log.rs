//! The log: one line per request, so the cookie round trip can be read.
//!
//! ```text
//! 127.0.0.1:50512 POST /login 303 -> /  cookie: -  set-cookie: session=9c1e…
//! 127.0.0.1:50512 GET / 200  cookie: session=9c1e…  set-cookie: -
//! ```
//!
//! Ids are printed whole, exactly as the file names under `sessions/`, so
//! `cat sessions/ID` works with what the log shows. With `--trace` the
//! heads themselves are printed, as they went over the wire: `>` lines
//! came from the client, `<` lines went back, and the `Cookie` and
//! `Set-Cookie` lines are highlighted when stdout is a terminal.

use std::io::{IsTerminal, Write};

use crate::cookie::SESSION_COOKIE;
use crate::request::{Request, RequestError};
use crate::response::Response;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogMode {
    /// Nothing per request (`--quiet`).
    Quiet,
    /// One line per request (the default).
    Lines,
    /// The raw heads, then the line (`--trace`).
    Trace,
}

/// Logs one request and the answer that went back. `response_bytes` is
/// exactly what was written to the socket.
pub fn exchange(
    mode: LogMode,
    peer: &str,
    request: &Request,
    response: &Response,
    response_bytes: &[u8],
) {
    if mode == LogMode::Quiet {
        return;
    }
    let mut text = String::new();
    if mode == LogMode::Trace {
        text.push_str(&trace_head('>', &request.raw_head));
        text.push_str(&trace_head('<', response_bytes));
    }
    text.push_str(&summary_line(peer, request, response));
    print_all(&text);
}

/// Logs a request that could not be read, and the error answer it got.
pub fn refused(
    mode: LogMode,
    peer: &str,
    status: u16,
    error: &RequestError,
    response_bytes: &[u8],
) {
    if mode == LogMode::Quiet {
        return;
    }
    let mut text = String::new();
    if mode == LogMode::Trace {
        text.push_str(&trace_head('<', response_bytes));
    }
    text.push_str(&format!(
        "{peer} refused: {status} ({error}); connection closed\n"
    ));
    print_all(&text);
}

/// `PEER METHOD TARGET STATUS [-> LOCATION]  cookie: …  set-cookie: …`
pub fn summary_line(peer: &str, request: &Request, response: &Response) -> String {
    let mut line = format!(
        "{peer} {} {} {}",
        request.method, request.target, response.status
    );
    if let Some(location) = response.header("location") {
        line.push_str(&format!(" -> {location}"));
    }
    let sent: Vec<String> = request
        .cookie_values(SESSION_COOKIE)
        .iter()
        .map(|value| format!("{SESSION_COOKIE}={}", printable(value, 64)))
        .collect();
    let set: Vec<&str> = response
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, value)| value.split(';').next().unwrap_or_default())
        .collect();
    line.push_str(&format!("  cookie: {}", list_or_dash(&sent.join(", "))));
    line.push_str(&format!("  set-cookie: {}", list_or_dash(&set.join(", "))));
    if set.iter().any(|cookie| cookie.ends_with('=')) {
        line.push_str(" (expired)");
    }
    line.push('\n');
    line
}

fn list_or_dash(list: &str) -> &str {
    if list.is_empty() { "-" } else { list }
}

/// What a client sent may hold anything; a log line must stay one line, so
/// control characters become `?` and long values are cut.
fn printable(text: &str, max_chars: usize) -> String {
    text.chars()
        .take(max_chars)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Each line of a head, `> ` or `< ` first, up to the empty line.
fn trace_head(direction: char, bytes: &[u8]) -> String {
    let head_end = bytes
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map_or(bytes.len(), |blank_line| blank_line + 4);
    let head = String::from_utf8_lossy(&bytes[..head_end]);
    let highlight = std::io::stdout().is_terminal();
    let mut text = String::new();
    for line in head.split("\r\n").filter(|line| !line.is_empty()) {
        let name = line.split(':').next().unwrap_or_default();
        let is_cookie =
            name.eq_ignore_ascii_case("cookie") || name.eq_ignore_ascii_case("set-cookie");
        let line = printable(line, usize::MAX);
        if is_cookie && highlight {
            // Bold yellow: the hand stamp going back and forth.
            text.push_str(&format!("{direction} \x1b[1;33m{line}\x1b[0m\n"));
        } else {
            text.push_str(&format!("{direction} {line}\n"));
        }
    }
    text.push_str(&format!("{direction}\n"));
    text
}

/// One `write` of all the lines, so two threads' logs never interleave.
fn print_all(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}
