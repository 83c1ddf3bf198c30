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
//! so it is switched off (`set_nodelay`, once, on the listening socket:
//! see `prepare_listener`).
//! Rules: RFC 9112 §2 (message format) and §9 (connections).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
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
    /// Borrowed: server.rs keeps a second reference to the same socket, to
    /// close it at the connection cap (`&TcpStream` reads and writes).
    pub stream: &'a TcpStream,
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
///
/// The socket already has its options (no Nagle delay, read and write
/// timeouts): it was accepted from a listener prepared by
/// `prepare_listener`.
pub fn serve_connection(stream: &TcpStream, peer: SocketAddr, app: &App, activity: &Activity) {
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
        let (response, handler) = handle_request(&request, app);
        // A redirect gets the secret the panel will find it by
        // (redirect_link.rs) *(skip at first)*.
        let (response, redirect_key) = match &app.inspector {
            Some(inspector) => inspector.key_for_redirect(&request, response, &app.sessions),
            None => (response, None),
        };
        let keep_alive = request.wants_keep_alive();
        let head_only = request.method == "HEAD";
        let bytes = response.to_bytes(head_only, connection_header(&request, keep_alive));
        if let (Some(inspector), Some(key)) = (&app.inspector, &redirect_key) {
            inspector.remember_redirect(key, &request, &response, &bytes, handler, &app.sessions);
        }
        app.log.exchange(peer, &request, &response, &bytes);
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

/// Gives the listening socket the options every connection needs: no
/// Nagle delay, the idle timeout for reads, and the write timeout. Linux
/// copies a listener's options to each socket `accept` returns, so a new
/// connection costs three system calls fewer than setting them on each
/// (a unit test below checks the copy).
///
/// std has these setters on `TcpStream` only; they are plain `setsockopt`
/// calls, valid on any TCP socket, so the listener's descriptor is lent to
/// a `TcpStream` for them and taken back. One side effect: `accept` now
/// gives up after the idle timeout with `WouldBlock`; server.rs then
/// accepts again, or lets a spare worker end.
///
/// And one option for the listener itself, `TCP_DEFER_ACCEPT` (see
/// `defer_accept`).
pub fn prepare_listener(listener: TcpListener) -> std::io::Result<TcpListener> {
    let socket = TcpStream::from(OwnedFd::from(listener));
    socket.set_nodelay(true)?;
    socket.set_read_timeout(Some(inherited_read_timeout()))?;
    socket.set_write_timeout(Some(WRITE_TIMEOUT))?;
    // A second is plenty for a client to send its request after
    // connecting; one that takes longer is accepted anyway, and waits
    // under the idle timeout like any other. Only a saving: without it
    // every connection is still served.
    let _ = defer_accept(&socket, Duration::from_secs(1));
    Ok(TcpListener::from(OwnedFd::from(socket)))
}

/// The read timeout every accepted socket starts with: the idle timeout,
/// set once on the listener by `prepare_listener`. That is how
/// `Connection::new` knows it without asking the kernel.
fn inherited_read_timeout() -> Duration {
    Limits::default().idle_timeout
}

/// Linux's `TCP_DEFER_ACCEPT`: `accept` hands over a connection only once
/// the client's first bytes have arrived, or after about `wait` without
/// any. Without it, a worker woken by `accept` usually finds no request yet
/// and sleeps again in `read` until it comes: two thread wake-ups per new
/// connection instead of one, which is most of what a `Connection: close`
/// request costs beyond nginx's (NOTES.md, "The threading model, and
/// why").
/// nginx offers the same as `listen ... deferred`, off by default.
///
/// std has this only as an unstable method (`TcpStreamExt::set_deferaccept`,
/// rust-lang/rust#119639), so here is the one call made straight to the C
/// library that std itself links: `setsockopt(fd, IPPROTO_TCP,
/// TCP_DEFER_ACCEPT, &seconds, 4)`, with the constants from
/// `<netinet/in.h>` and `<netinet/tcp.h>`.
fn defer_accept(listener: &TcpStream, wait: Duration) -> std::io::Result<()> {
    const IPPROTO_TCP: i32 = 6;
    const TCP_DEFER_ACCEPT: i32 = 9;
    unsafe extern "C" {
        fn setsockopt(fd: i32, level: i32, name: i32, value: *const i32, len: u32) -> i32;
    }
    let seconds = wait.as_secs() as i32;
    // SAFETY: the descriptor is open for the whole call (`listener` owns
    // it), and `value` points at a 4-byte int that outlives the call.
    let result = unsafe {
        setsockopt(
            listener.as_raw_fd(),
            IPPROTO_TCP,
            TCP_DEFER_ACCEPT,
            &seconds,
            std::mem::size_of::<i32>() as u32,
        )
    };
    match result {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// Writes all of `bytes` by `deadline`. A client that reads a few bytes at
/// a time cannot stretch this: each write may wait only for what is left
/// of the one deadline. Most answers fit in the socket's buffer and go in
/// the first write.
fn write_all_by(
    mut stream: &TcpStream,
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
fn handle_request(request: &Request, app: &App) -> (Response, &'static str) {
    match catch_unwind(AssertUnwindSafe(|| router::route(request, app))) {
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
fn answer_request_error(conn: Connection, error: &RequestError, peer: SocketAddr, app: &App) {
    let Some(status) = error.status() else {
        return; // the client left or went quiet between requests: just close
    };
    let response = Response::error(status, &error.to_string());
    let bytes = response.to_bytes(false, Some("close"));
    app.log.refused(peer, status, error, &bytes);
    if write_all_by(conn.stream, &bytes, Instant::now() + WRITE_TIMEOUT).is_ok() {
        close_gracefully(conn.stream);
    }
}

/// Closes a connection so the client reads our last answer: stop sending,
/// then read and discard what the client still sends, for a short while.
/// Closing a socket that has unread bytes makes the kernel send a reset,
/// which can destroy the answer before the client reads it (RFC 9112 §9.6).
pub fn close_gracefully(mut stream: &TcpStream) {
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
    pub fn new(stream: &'a TcpStream, activity: &'a Activity) -> Self {
        Connection {
            stream,
            activity,
            buffer: Vec::with_capacity(4096),
            read_timeout: Some(inherited_read_timeout()),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `serve_connection` relies on this: an accepted socket starts with
    /// the options set on the listener.
    #[test]
    fn accepted_sockets_have_the_listeners_options() {
        let listener = prepare_listener(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client.write_all(b"GET").unwrap();
        let (accepted, _) = listener.accept().unwrap();
        assert!(accepted.nodelay().unwrap());
        assert_eq!(
            accepted.read_timeout().unwrap(),
            Some(inherited_read_timeout())
        );
        assert_eq!(accepted.write_timeout().unwrap(), Some(WRITE_TIMEOUT));
    }

    /// `TCP_DEFER_ACCEPT`: a client that has sent nothing yet is not
    /// handed over before one that has, though it connected first.
    #[test]
    fn accept_hands_over_connections_whose_request_has_arrived() {
        let listener = prepare_listener(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let silent = TcpStream::connect(addr).unwrap();
        let mut talking = TcpStream::connect(addr).unwrap();
        talking.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        let (_, peer) = listener.accept().unwrap();
        assert_eq!(peer, talking.local_addr().unwrap());
        assert_ne!(peer, silent.local_addr().unwrap());
    }
}
