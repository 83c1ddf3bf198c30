//! Connections: one TCP stream, many requests, one after another.
//!
//! TCP delivers a stream of bytes, not messages. A request head may arrive
//! in pieces (`GET / HT` … `TP/1.1\r\nHost: a\r\n\r\n`), or two requests may
//! arrive in one read: a client may send its next request before the answer
//! to the previous one has come back, which is called pipelining. So bytes
//! go into a buffer, and a request head is complete when the buffer holds
//! an empty line:
//!
//! ```text
//! GET / HTTP/1.1\r\n
//! Host: localhost\r\n
//! Cookie: session=9c1e…\r\n
//! \r\n                       ← the head ends here; what follows is body or
//!                              the next request
//! ```
//!
//! This file is the only one that reads the socket. It asks request.rs
//! whether the buffer holds a whole head yet and what it says, asks body.rs
//! to take the body off the buffer, and reads more bytes whenever either
//! answers "need more". Then it routes the request, writes the answer, and
//! logs it.
//!
//! After each answer the connection stays open for the next request
//! (keep-alive), unless the client asked to close (`Connection: close`, or
//! HTTP/1.0 without `Connection: keep-alive`) or the request was malformed,
//! in which case nobody can tell where the next request would start.
//!
//! Nagle's delay: by default TCP holds back a small packet while an earlier
//! one is unacknowledged, hoping to merge them; with a request and an
//! answer going back and forth, that wait (up to 40 ms) is pure latency,
//! so it is switched off (`set_nodelay`).
//! Rules: RFC 9112 §2 (message format) and §9 (connections).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::app::App;
use crate::body::BodyDecoder;
use crate::request::{self, BodyFraming, Limits, Request, RequestError};
use crate::response::Response;
use crate::router;

/// An open connection and the bytes received on it but not used yet.
pub struct Connection<'a> {
    pub stream: TcpStream,
    activity: &'a Activity,
    /// Received bytes not yet part of a request: the rest of a head, a body,
    /// or the start of the next pipelined request.
    pub buffer: Vec<u8>,
    /// The read timeout the socket has now, to skip setting it again.
    read_timeout: Option<Duration>,
}

/// What one `read` on the socket brought.
pub enum Received {
    Bytes,
    /// The client shut down its sending side (read returned 0).
    Closed,
    TimedOut,
}

/// How long a client may take to take in one whole answer: one deadline
/// for the answer, however slowly the client reads.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Between requests a connection's buffer goes back to this size, so an
/// idle connection does not keep the memory of one large body.
const IDLE_BUFFER_BYTES: usize = 4096;

/// What a connection is doing, so that at the connection cap server.rs
/// can close one that is only waiting (`Phase::Idle`) or still receiving a
/// head (`Phase::ReadingHead`) to make room, and never one in the middle
/// of a request (`Phase::Answering`).
#[derive(Debug)]
pub struct Activity {
    phase: AtomicU8,
    /// When the phase last changed, in milliseconds since `started`.
    changed_at_ms: AtomicU64,
    started: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Idle = 0,
    ReadingHead = 1,
    Answering = 2,
}

impl Activity {
    pub fn new() -> Activity {
        Activity {
            phase: AtomicU8::new(Phase::Idle as u8),
            changed_at_ms: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    fn set(&self, phase: Phase) {
        if self.phase.swap(phase as u8, Ordering::Relaxed) != phase as u8 {
            let elapsed_ms = self.started.elapsed().as_millis() as u64;
            self.changed_at_ms.store(elapsed_ms, Ordering::Relaxed);
        }
    }

    /// The phase, and how long the connection has been in it.
    pub fn phase(&self) -> (Phase, Duration) {
        let phase = match self.phase.load(Ordering::Relaxed) {
            0 => Phase::Idle,
            1 => Phase::ReadingHead,
            _ => Phase::Answering,
        };
        let since = Duration::from_millis(self.changed_at_ms.load(Ordering::Relaxed));
        (phase, self.started.elapsed().saturating_sub(since))
    }
}

impl Default for Activity {
    fn default() -> Self {
        Activity::new()
    }
}

/// Serves requests on one connection until it closes. Never panics because
/// of what the client sent; a panic in a handler becomes a 500. `activity`
/// is kept up to date for the connection cap (server.rs).
pub fn serve_connection(stream: TcpStream, peer: SocketAddr, app: &App, activity: &Activity) {
    // Each answer is written with one write; Nagle's delay (above) would
    // only hold back the last packet of it.
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let mut conn = Connection::new(stream, activity);
    let limits = Limits::default();

    loop {
        let request = match read_request(&mut conn, &limits) {
            Ok(request) => request,
            Err(error) => {
                answer_request_error(conn, &error, peer, app);
                return;
            }
        };
        let (response, handler) = handle_request(&request, peer, app);
        let keep_alive = request.wants_keep_alive();
        let head_only = request.method == "HEAD";
        let bytes = response.to_bytes(head_only, connection_header(&request, keep_alive));
        if let Some(inspector) = &app.inspector
            && (300..400).contains(&response.status)
        {
            inspector.remember_redirect(peer, &request, &response, &bytes, handler, &app.sessions);
        }
        app.log.exchange(peer, &request, &response, &bytes);
        if write_all_by(&mut conn.stream, &bytes, Instant::now() + WRITE_TIMEOUT).is_err() {
            return;
        }
        if conn.buffer.capacity() > IDLE_BUFFER_BYTES {
            conn.buffer.shrink_to(IDLE_BUFFER_BYTES);
        }
        if !keep_alive {
            // A client that asked to close sends nothing more, so usually
            // there is nothing to drain and the socket just closes (when
            // `conn` is dropped); bytes it sent anyway must be drained.
            if !conn.buffer.is_empty() {
                close_gracefully(conn.stream);
            }
            return;
        }
    }
}

/// Writes all of `bytes` by `deadline`. A client that reads a few bytes at
/// a time cannot stretch this: each write may wait only for what is left
/// of the one deadline. Most answers fit in the socket's buffer and go in
/// the first write.
fn write_all_by(
    stream: &mut TcpStream,
    mut bytes: &[u8],
    deadline: Instant,
) -> std::io::Result<()> {
    let mut timeout_changed = false;
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(written) => bytes = &bytes[written..],
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
        if !bytes.is_empty() {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(ErrorKind::TimedOut.into());
            }
            stream.set_write_timeout(Some(remaining))?;
            timeout_changed = true;
        }
    }
    if timeout_changed {
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    }
    Ok(())
}

/// Reads the next request from the connection: the head, then the body.
/// request.rs parses and body.rs decodes; this function does the reading.
pub fn read_request(conn: &mut Connection, limits: &Limits) -> Result<Request, RequestError> {
    let head_len = conn.read_head(limits)?;
    conn.activity.set(Phase::Answering);
    let raw_head: Vec<u8> = conn.buffer.drain(..head_len).collect();
    let mut request = request::parse_head(&raw_head)?;
    request.raw_head = raw_head;

    let framing = request::body_framing(&request, limits)?;
    if framing != BodyFraming::None && request::expects_continue(&request)? {
        // The client waits for this before sending the body: the head
        // passed every check, so the body is welcome.
        conn.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let mut decoder = BodyDecoder::new(framing, limits.max_body_bytes);
    request.body = conn.read_body(&mut decoder, Instant::now() + limits.body_timeout)?;
    Ok(request)
}

/// Routes the request; a panic anywhere below becomes a 500 for this
/// request only, and the connection and server go on.
fn handle_request(request: &Request, peer: SocketAddr, app: &App) -> (Response, &'static str) {
    match catch_unwind(AssertUnwindSafe(|| router::route(request, peer, app))) {
        Ok(answer) => answer,
        Err(_) => (
            Response::error(
                500,
                "The server hit a bug while answering this request; it has been logged.",
            ),
            "connection::handle_request",
        ),
    }
}

/// The `Connection` header the answer needs, if any. HTTP/1.1 stays open
/// unless told; HTTP/1.0 must be told it may stay open.
fn connection_header(request: &Request, keep_alive: bool) -> Option<&'static str> {
    if !keep_alive {
        Some("close")
    } else if request.version == request::Version::Http10 {
        Some("keep-alive")
    } else {
        None
    }
}

/// A request we could not read gets its 4xx/5xx and the connection closes:
/// after a malformed request nobody knows where the next one starts.
fn answer_request_error(mut conn: Connection, error: &RequestError, peer: SocketAddr, app: &App) {
    let Some(status) = error.status() else {
        return; // the client left or went quiet between requests: just close
    };
    let response = Response::error(status, &error.to_string());
    let bytes = response.to_bytes(false, Some("close"));
    app.log.refused(peer, status, error, &bytes);
    if write_all_by(&mut conn.stream, &bytes, Instant::now() + WRITE_TIMEOUT).is_ok() {
        close_gracefully(conn.stream);
    }
}

/// Closes a connection so the client reads our last answer: stop sending,
/// then read and discard what the client still sends, for a short while.
/// Closing a socket that has unread bytes makes the kernel send a reset,
/// which can destroy the answer before the client reads it (RFC 9112 §9.6).
pub fn close_gracefully(mut stream: TcpStream) {
    const LINGER: Duration = Duration::from_secs(2);
    const MAX_DISCARD_BYTES: usize = 1 << 20;
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + LINGER;
    let mut discarded = 0;
    let mut scratch = [0u8; 4096];
    while discarded < MAX_DISCARD_BYTES {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() || stream.set_read_timeout(Some(remaining)).is_err() {
            return;
        }
        match stream.read(&mut scratch) {
            Ok(0) | Err(_) => return,
            Ok(n) => discarded += n,
        }
    }
}

impl<'a> Connection<'a> {
    pub fn new(stream: TcpStream, activity: &'a Activity) -> Self {
        Connection {
            stream,
            activity,
            buffer: Vec::with_capacity(4096),
            read_timeout: None,
        }
    }

    /// Reads whatever the client has sent next into the buffer, waiting at
    /// most `timeout`.
    pub fn receive_more(&mut self, timeout: Duration) -> std::io::Result<Received> {
        // Setting a timeout costs a system call: skip it when unchanged, as
        // it is between keep-alive requests (always `idle_timeout`).
        let timeout = Some(timeout.max(Duration::from_millis(1)));
        if timeout != self.read_timeout {
            self.stream.set_read_timeout(timeout)?;
            self.read_timeout = timeout;
        }
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk) {
            Ok(0) => Ok(Received::Closed),
            Ok(n) => {
                self.buffer.extend_from_slice(&chunk[..n]);
                Ok(Received::Bytes)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Ok(Received::TimedOut)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(Received::Bytes),
            Err(e) => Err(e),
        }
    }

    /// Like `receive_more`, for a wait that must end by `deadline`.
    fn receive_until(&mut self, deadline: Instant) -> std::io::Result<Received> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Ok(Received::TimedOut);
        }
        self.receive_more(remaining)
    }

    /// Waits until the buffer holds a whole request head and returns its
    /// length in bytes (up to and including the empty line).
    ///
    /// Before the first byte the client may be idle up to
    /// `limits.idle_timeout`; from the first byte on (a blank line counts:
    /// a client trickling `\r\n` is sending, not idle), the whole head must
    /// arrive within `limits.head_timeout`.
    pub fn read_head(&mut self, limits: &Limits) -> Result<usize, RequestError> {
        let mut head_deadline: Option<Instant> = None;
        self.activity.set(Phase::Idle);
        loop {
            if !self.buffer.is_empty() && head_deadline.is_none() {
                head_deadline = Some(Instant::now() + limits.head_timeout);
                self.activity.set(Phase::ReadingHead);
            }
            let blank = request::leading_empty_lines(&self.buffer);
            self.buffer.drain(..blank);
            if let Some(head_len) = request::find_head_end(&self.buffer) {
                if head_len > limits.max_head_bytes {
                    return Err(request::oversized_head_error(
                        &self.buffer,
                        limits.max_head_bytes,
                    ));
                }
                return Ok(head_len);
            }
            if self.buffer.len() > limits.max_head_bytes {
                return Err(request::oversized_head_error(
                    &self.buffer,
                    limits.max_head_bytes,
                ));
            }
            let received = match head_deadline {
                None => self.receive_more(limits.idle_timeout)?,
                Some(deadline) => self.receive_until(deadline)?,
            };
            match received {
                Received::Bytes => {}
                Received::Closed if head_deadline.is_none() => return Err(RequestError::Closed),
                Received::Closed if self.buffer.is_empty() => return Err(RequestError::Closed),
                Received::Closed => return Err(RequestError::ClosedMidHead),
                Received::TimedOut if head_deadline.is_none() => return Err(RequestError::Closed),
                Received::TimedOut => {
                    return Err(RequestError::HeadTimeout(limits.head_timeout.as_secs()));
                }
            }
        }
    }

    /// Feeds received bytes to the body decoder until it has the whole
    /// body, reading more from the socket as it asks, until `deadline`.
    pub fn read_body(
        &mut self,
        decoder: &mut BodyDecoder,
        deadline: Instant,
    ) -> Result<Vec<u8>, RequestError> {
        loop {
            if let Some(body) = decoder.decode(&mut self.buffer)? {
                return Ok(body);
            }
            match self.receive_until(deadline)? {
                Received::Bytes => {}
                Received::Closed => return Err(RequestError::ClosedMidBody),
                Received::TimedOut => return Err(RequestError::BodyTimeout),
            }
        }
    }
}
