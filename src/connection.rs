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
//! This file is the only one that reads and writes the socket. It asks
//! request.rs whether the buffer holds a whole head yet and what it says,
//! asks body.rs to take the body off the buffer, and reads more bytes
//! whenever either answers "need more". Then it routes the request,
//! writes the answer, and logs it.
//!
//! After each answer the connection stays open for the next request
//! (keep-alive), unless the client asked to close (`Connection: close`, or
//! HTTP/1.0 without `Connection: keep-alive`) or the request was malformed,
//! in which case nobody can tell where the next request would start.
//!
//! The socket's options (no Nagle delay, timeouts, deferred accept), set
//! once on the listener, and the graceful close after a last answer live
//! one folder down, in connection/socket.rs *(skip at first)*; that file
//! holds the one `unsafe` call, which runs once, at start.
//! Rules: RFC 9112 §2 (message format) and §9 (connections).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

mod activity;
mod socket;

pub use activity::{Activity, Phase};

pub use socket::{close_gracefully, prepare_listener};

use crate::app::App;
use crate::body::BodyDecoder;
use crate::flask_session::{Answer, SessionReport};
use crate::request::{self, BodyFraming, Limits, Request, RequestError};
use crate::response::{ConnectionHeader, Response};
use crate::router;

/// An open connection and the bytes received on it but not used yet.
pub struct Connection<'a> {
    /// Borrowed: server.rs keeps a second reference to the same socket, to
    /// close it at the connection cap (`&TcpStream` reads and writes).
    pub stream: &'a TcpStream,
    activity: &'a Activity,
    /// Received bytes not yet part of a request: the rest of a head, a body,
    /// or the start of the next pipelined request.
    pub buffer: Vec<u8>,
    /// The read timeout the socket has now, to skip setting it again.
    read_timeout: Option<Duration>,
    /// Where one `read` puts its bytes before they join `buffer`. Kept
    /// for the whole connection: made (and zeroed) on each read, its
    /// 4 KiB would cost more than many a request's own bytes.
    read_space: Box<[u8; 4096]>,
}

/// What one `read` on the socket brought.
pub enum Received {
    Bytes,
    /// The client shut down its sending side (read returned 0).
    Closed,
    TimedOut,
}

/// Between requests a connection's buffer goes back to this size, so an
/// idle connection does not keep the memory of one large body.
const IDLE_BUFFER_BYTES: usize = 4096;

/// Serves requests on one connection until it closes. Never panics because
/// of what the client sent; a panic in a handler becomes a 500. `activity`
/// is kept up to date for the connection cap (server.rs).
///
/// The socket already has its options (no Nagle delay, read and write
/// timeouts): it was accepted from a listener prepared by
/// `prepare_listener`.
pub fn serve_connection(stream: &TcpStream, peer: SocketAddr, app: &App, activity: &Activity) {
    let limits = Limits::default();
    let mut conn = Connection::new(stream, activity, limits.idle_timeout);

    loop {
        // Wait for a whole request: its head, then its body.
        let request = match read_request(&mut conn, &limits, peer) {
            Ok(request) => request,
            Err(error) => {
                answer_request_error(conn, &error, peer, app);
                return;
            }
        };
        // Route it to the code that answers (router.rs).
        let mut answer = answer_catching_panics(&request, app);
        // A redirect gets the secret the panel will find it by
        // (redirect_link.rs) *(skip at first)*.
        let redirect_key = match &app.inspector {
            Some(inspector) => inspector.key_for_redirect(&request, &mut answer, &app.sessions),
            None => None,
        };
        // The bytes: status line, headers, empty line, and the body unless
        // this was a HEAD request.
        let keep_alive = request.wants_keep_alive();
        let connection_header = connection_header(&request, keep_alive);
        let bytes = match request.method.as_str() {
            "HEAD" => answer.response.head_bytes(connection_header),
            _ => answer.response.to_bytes(connection_header),
        };
        if let (Some(inspector), Some(key)) = (&app.inspector, &redirect_key) {
            inspector.remember_redirect(key, &request, &answer, &bytes, &app.sessions);
        }
        let note = answer.session.log_note.as_deref();
        app.log
            .exchange(peer, &request, &answer.response, note, &bytes);
        // Sent; a client that stopped reading is dropped at the deadline.
        if write_all_by(conn.stream, &bytes, Instant::now() + WRITE_TIMEOUT).is_err() {
            return;
        }
        // Answered: from now on the connection may be reclaimed at the cap.
        conn.activity.set(Phase::Idle);
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

/// Reads the next request from the connection: the head, then the body.
/// request.rs parses and body.rs decodes; this function does the reading.
pub fn read_request(
    conn: &mut Connection,
    limits: &Limits,
    peer: SocketAddr,
) -> Result<Request, RequestError> {
    let head_len = conn.read_head(limits)?;
    conn.activity.set(Phase::Answering);
    let raw_head: Vec<u8> = conn.buffer.drain(..head_len).collect();
    let mut request = request::parse_head(&raw_head)?;
    request.raw_head = raw_head;
    request.client = Some(peer.ip());

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

/// Routes the request (`router::route`). A panic anywhere below becomes a
/// 500 for this request only, and the connection and server go on: in a
/// debugger's backtrace, the `catch_unwind` frames under this function are
/// that net, and nothing else.
fn answer_catching_panics(request: &Request, app: &App) -> Answer {
    match catch_unwind(AssertUnwindSafe(|| router::route(request, app))) {
        Ok(answer) => answer,
        Err(_) => Answer {
            response: Response::error(
                500,
                "The server hit a bug while answering this request; it has been logged.",
            ),
            handler: "connection::answer_catching_panics",
            session: SessionReport::default(),
        },
    }
}

/// The `Connection` header the answer needs. HTTP/1.1 stays open unless
/// told; HTTP/1.0 must be told it may stay open.
fn connection_header(request: &Request, keep_alive: bool) -> ConnectionHeader {
    if !keep_alive {
        ConnectionHeader::Close
    } else if request.version == request::Version::Http10 {
        ConnectionHeader::KeepAlive
    } else {
        ConnectionHeader::Omitted
    }
}

/// A request we could not read gets its 4xx/5xx and the connection closes:
/// after a malformed request nobody knows where the next one starts.
fn answer_request_error(conn: Connection, error: &RequestError, peer: SocketAddr, app: &App) {
    let Some(status) = error.status() else {
        return; // the client left or went quiet between requests: just close
    };
    let response = Response::error(status, &error.to_string());
    let bytes = response.to_bytes(ConnectionHeader::Close);
    app.log.refused(peer, status, error, &bytes);
    if write_all_by(conn.stream, &bytes, Instant::now() + WRITE_TIMEOUT).is_ok() {
        close_gracefully(conn.stream);
    }
}

/// How long a client may take to take in one whole answer: one deadline
/// for the answer, however slowly the client reads.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes all of `bytes` by `deadline`. A client that reads a few bytes at
/// a time cannot stretch this: each write may wait only for what is left
/// of the one deadline. Most answers fit in the socket's buffer and go in
/// the first write.
pub fn write_all_by(
    mut stream: &TcpStream,
    mut bytes: &[u8],
    deadline: Instant,
) -> std::io::Result<()> {
    let mut timeout_changed = false;
    while !bytes.is_empty() {
        // `write` may take only part: what fits in the socket's buffer.
        match stream.write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(written) => bytes = &bytes[written..],
            // A signal arrived mid-write: nothing was lost, try again.
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
        // More to send: the next write may wait only for what is left of
        // the one deadline, however little the client reads each time.
        if !bytes.is_empty() {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(ErrorKind::TimedOut.into());
            }
            stream.set_write_timeout(Some(remaining))?;
            timeout_changed = true;
        }
    }
    // The next answer on this connection gets a whole deadline again.
    if timeout_changed {
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    }
    Ok(())
}

impl<'a> Connection<'a> {
    /// `read_timeout` is the one the socket was accepted with: the
    /// listener's, which every accepted socket inherits (socket.rs).
    pub fn new(stream: &'a TcpStream, activity: &'a Activity, read_timeout: Duration) -> Self {
        Connection {
            stream,
            activity,
            buffer: Vec::with_capacity(4096),
            read_space: Box::new([0; 4096]),
            read_timeout: Some(read_timeout),
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
        // One `read`: whatever has arrived, up to 4 KiB. It blocks (only
        // this connection's thread) until bytes come or the timeout ends.
        match self.stream.read(&mut self.read_space[..]) {
            // Zero bytes: the client closed its side of the connection.
            Ok(0) => Ok(Received::Closed),
            Ok(n) => {
                self.buffer.extend_from_slice(&self.read_space[..n]);
                Ok(Received::Bytes)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Ok(Received::TimedOut)
            }
            // A signal woke the read: no bytes lost; the caller looks again.
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
        // No byte of the next request yet: the connection is only waiting,
        // and the idle timeout applies, not the head's deadline.
        let mut head_deadline: Option<Instant> = None;
        self.activity.set(Phase::Idle);
        loop {
            // The first byte starts the clock: the whole head must arrive
            // within `head_timeout`, however slowly it trickles in.
            if !self.buffer.is_empty() && head_deadline.is_none() {
                head_deadline = Some(Instant::now() + limits.head_timeout);
                self.activity.set(Phase::ReadingHead);
            }
            // Empty lines before a request are skipped (RFC 9112 §2.2),
            // but they count toward the deadline.
            let blank = request::leading_empty_lines(&self.buffer);
            self.buffer.drain(..blank);
            // A whole head is in the buffer once it holds an empty line;
            // what follows it (a body, the next request) stays there.
            if let Some(head_len) = request::find_head_end(&self.buffer) {
                if head_len > limits.max_head_bytes {
                    return Err(request::oversized_head_error(
                        &self.buffer,
                        limits.max_head_bytes,
                    ));
                }
                return Ok(head_len);
            }
            // Not yet whole, and already too long: no need to wait for the
            // rest of something that will be refused anyway.
            if self.buffer.len() > limits.max_head_bytes {
                return Err(request::oversized_head_error(
                    &self.buffer,
                    limits.max_head_bytes,
                ));
            }
            // Not enough bytes for a head: read more from the socket.
            let received = match head_deadline {
                None => self.receive_more(limits.idle_timeout)?,
                Some(deadline) => self.receive_until(deadline)?,
            };
            match received {
                Received::Bytes => {}
                // Closed or quiet between requests: the client is done,
                // and the connection just closes, with no answer.
                Received::Closed if head_deadline.is_none() => return Err(RequestError::Closed),
                Received::Closed if self.buffer.is_empty() => return Err(RequestError::Closed),
                // Closed or too slow halfway through a head: that is
                // worth an answer (`400`, `408`) before closing.
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
            // The decoder takes what it can from the front of the buffer;
            // `None` means "need more bytes".
            if let Some(body) = decoder.decode(&mut self.buffer)? {
                return Ok(body);
            }
            // A client that stops halfway through a body gets an answer
            // (`400`, `408`), then the connection closes.
            match self.receive_until(deadline)? {
                Received::Bytes => {}
                Received::Closed => return Err(RequestError::ClosedMidBody),
                Received::TimedOut => return Err(RequestError::BodyTimeout),
            }
        }
    }
}
