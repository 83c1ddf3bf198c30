//! The log: one line per request, so the cookie round trip can be read.
//!
//! ```text
//! 127.0.0.1:50512 GET / 302 -> /login  cookie: -  set-cookie: -  (no session: no cookie)
//! 127.0.0.1:50512 POST /login 303 -> /  cookie: -  set-cookie: session=cfe58611…
//! 127.0.0.1:50512 GET / 200  cookie: session=cfe58611…  set-cookie: -
//! ```
//!
//! Ids are cut to their first 8 hex digits, enough to find the file
//! (`ls sessions/cfe58611*`) and not enough to use it: a log is read by
//! more people than the sessions folder, and a whole id is a login. A
//! request that found no session says why. With `--trace` the heads
//! themselves are printed, as they went over the wire: `>` lines came from
//! the client, `<` lines went back, and the `Cookie` and `Set-Cookie` lines
//! are highlighted when stdout is a terminal.
//!
//! Every byte a client chose (the target, a header value, a cookie) is
//! shown by one rule, `printable`: printable ASCII as itself, anything else
//! as an escape like `\x1b` or `\u{202e}`. So a client cannot end a log
//! line early, recolour the terminal or turn text around; a line on the
//! screen is a line in the log. Writing to the log never panics and never
//! waits: lines go to a queue that one thread writes out, and if nobody
//! reads stdout any more, lines are lost, answers are not.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};

use crate::cookie::SESSION_COOKIE;
use crate::request::{Request, RequestError};
use crate::response::{self, Response};
use crate::session::SessionId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogMode {
    /// Nothing per request (`--quiet`).
    Quiet,
    /// One line per request (the default).
    Lines,
    /// The raw heads, then the line (`--trace`).
    Trace,
}

/// How many lines may wait for the log thread before new ones are dropped.
const QUEUED_LINES: usize = 4096;

/// The log: requests hand their lines to one thread that writes them, so a
/// terminal that scrolls slowly, or a parent process that stops reading
/// our stdout, never holds up an answer. When the queue is full, lines are
/// dropped and counted; the next line written says how many.
#[derive(Debug, Clone)]
pub struct Log {
    pub mode: LogMode,
    queue: SyncSender<Output>,
    dropped: Arc<AtomicUsize>,
}

/// Text for stdout (the request log) or stderr (the server's own faults).
#[derive(Debug)]
enum Output {
    Stdout(String),
    Stderr(String),
}

impl Log {
    /// Starts the thread that writes the log.
    pub fn start(mode: LogMode) -> Log {
        let (queue, lines) = std::sync::mpsc::sync_channel::<Output>(QUEUED_LINES);
        let dropped = Arc::new(AtomicUsize::new(0));
        let dropped_by_writer = Arc::clone(&dropped);
        std::thread::Builder::new()
            .name("log".to_string())
            .spawn(move || write_lines(lines, &dropped_by_writer))
            .expect("the log thread starts before the server does");
        Log {
            mode,
            queue,
            dropped,
        }
    }

    fn send(&self, output: Output) {
        // A full queue means nobody reads the log fast enough: the line is
        // lost, the request is not held up.
        if self.queue.try_send(output).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Logs one request and the answer that went back, with a remark such
    /// as why there was no session. `response_bytes` is exactly what was
    /// written to the socket.
    pub fn exchange(
        &self,
        peer: SocketAddr,
        request: &Request,
        response: &Response,
        note: Option<&str>,
        response_bytes: &[u8],
    ) {
        if self.mode == LogMode::Quiet {
            return;
        }
        // One text for the whole exchange, so another connection's lines
        // never land in the middle of it.
        let mut text = String::new();
        if self.mode == LogMode::Trace {
            // `--trace`: both heads, as curl -v shows them.
            text.push_str(&trace_head('>', &request.raw_head));
            text.push_str(&trace_head('<', response_bytes));
        }
        text.push_str(&summary_line(peer, request, response, note));
        // Handed to the log thread: the request never waits for stdout.
        self.send(Output::Stdout(text));
    }

    /// Logs a request that could not be read, and the error answer it got.
    pub fn refused(
        &self,
        peer: SocketAddr,
        status: u16,
        error: &RequestError,
        response_bytes: &[u8],
    ) {
        if self.mode == LogMode::Quiet {
            return;
        }
        let mut text = String::new();
        if self.mode == LogMode::Trace {
            text.push_str(&trace_head('<', response_bytes));
        }
        text.push_str(&format!(
            "{peer} refused: {status} ({}); connection closed\n",
            printable(&error.to_string())
        ));
        self.send(Output::Stdout(text));
    }

    /// A line about the server itself (the sweep, a refused connection), on
    /// stdout unless `--quiet`.
    pub fn line(&self, text: &str) {
        if self.mode != LogMode::Quiet {
            self.send(Output::Stdout(format!("{text}\n")));
        }
    }

    /// A fault of the server's own (a file that cannot be written), on
    /// stderr. The text is the server's, so only control characters are
    /// escaped, to keep it one line.
    pub fn error(&self, text: &str) {
        let one_line: String = text
            .chars()
            .map(|c| match c.is_control() {
                true => format!("\\u{{{:x}}}", c as u32),
                false => c.to_string(),
            })
            .collect();
        self.send(Output::Stderr(format!("{one_line}\n")));
    }
}

/// The log thread: writes each text with one `write`, so lines never
/// interleave. A failed write (nobody reads stdout any more) loses the
/// text, nothing else; writing never panics.
fn write_lines(lines: Receiver<Output>, dropped: &AtomicUsize) {
    for output in lines {
        let lost = dropped.swap(0, Ordering::Relaxed);
        let (text, to_stderr) = match output {
            Output::Stdout(text) => (text, false),
            Output::Stderr(text) => (text, true),
        };
        let text = match lost {
            0 => text,
            lost => format!("({lost} log lines dropped: the log was not read fast enough)\n{text}"),
        };
        let _ = match to_stderr {
            true => std::io::stderr().lock().write_all(text.as_bytes()),
            false => {
                let mut stdout = std::io::stdout().lock();
                stdout
                    .write_all(text.as_bytes())
                    .and_then(|()| stdout.flush())
            }
        };
    }
}

/// `PEER METHOD TARGET STATUS [-> LOCATION]  cookie: …  set-cookie: …`
pub fn summary_line(
    peer: SocketAddr,
    request: &Request,
    response: &Response,
    note: Option<&str>,
) -> String {
    // Who asked, what, and the status; every byte the client chose goes
    // through `printable`, so it cannot forge a line.
    let mut line = format!(
        "{peer} {} {} {}",
        printable(&request.method),
        printable(&request.target),
        response.status
    );
    // Where a redirect sends the browser next.
    if let Some(location) = response.header("location") {
        line.push_str(&format!(" -> {}", printable(location)));
    }
    // The hand stamp coming in: the `session` cookie, its id cut short.
    let sent: Vec<String> = request
        .cookie_values(SESSION_COOKIE)
        .iter()
        .map(|value| format!("{SESSION_COOKIE}={}", shortened_id(value)))
        .collect();
    // And going out: each `Set-Cookie`'s name and value, ids cut short.
    let set: Vec<String> = response
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, value)| value.split(';').next())
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => format!("{name}={}", shortened_id(value)),
            None => printable(pair),
        })
        .collect();
    line.push_str(&format!("  cookie: {}", list_or_dash(&sent.join(", "))));
    line.push_str(&format!("  set-cookie: {}", list_or_dash(&set.join(", "))));
    // An empty value is the one that tells the browser to forget.
    if set.iter().any(|cookie| cookie.ends_with('=')) {
        line.push_str(" (expired)");
    }
    // Why there was no session, or that one was made.
    if let Some(note) = note {
        line.push_str(&format!("  ({})", printable(note)));
    }
    line.push('\n');
    line
}

fn list_or_dash(list: &str) -> &str {
    if list.is_empty() { "-" } else { list }
}

/// A session id as the log shows it: `cfe58611…` (`SessionId::short`). A
/// value that is not an id (the client made it up) is shown escaped, at
/// most 40 characters.
fn shortened_id(value: &str) -> String {
    if let Some(id) = SessionId::parse(value) {
        id.short()
    } else if value.chars().count() > 40 {
        format!(
            "{}…",
            printable(&value.chars().take(40).collect::<String>())
        )
    } else {
        printable(value)
    }
}

/// The one escaping rule for what a client sent: printable ASCII stays,
/// `\` doubles, and every other character becomes an escape, so nothing
/// a client sends can break a line, move the cursor or reorder text.
pub fn printable(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => shown.push_str("\\\\"),
            ' '..='~' => shown.push(c),
            '\t' => shown.push_str("\\t"),
            '\r' => shown.push_str("\\r"),
            '\n' => shown.push_str("\\n"),
            c if (c as u32) < 0x80 => shown.push_str(&format!("\\x{:02x}", c as u32)),
            c => shown.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    shown
}

/// Each line of a head, `> ` or `< ` first, up to the empty line.
fn trace_head(direction: char, bytes: &[u8]) -> String {
    let head = String::from_utf8_lossy(&bytes[..response::head_len(bytes)]);
    let highlight = std::io::stdout().is_terminal();
    let mut text = String::new();
    for line in head.split("\r\n").filter(|line| !line.is_empty()) {
        let name = line.split(':').next().unwrap_or_default();
        let is_cookie =
            name.eq_ignore_ascii_case("cookie") || name.eq_ignore_ascii_case("set-cookie");
        let line = printable(line);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_everything_but_printable_ascii() {
        assert_eq!(printable("GET /a b"), "GET /a b");
        assert_eq!(printable("a\r\nb\tc\\"), "a\\r\\nb\\tc\\\\");
        assert_eq!(printable("\x1b[31m"), "\\x1b[31m");
        assert_eq!(
            printable("\u{9b}\u{85}\u{202e}\u{2028}é"),
            "\\u{9b}\\u{85}\\u{202e}\\u{2028}\\u{e9}"
        );
    }

    #[test]
    fn ids_are_cut_to_eight_digits() {
        assert_eq!(
            shortened_id("cfe5861136d0404683dcd44fea6484c6"),
            "cfe58611…"
        );
        assert_eq!(shortened_id("../etc"), "../etc");
        assert_eq!(shortened_id(""), "");
    }
}
