//! The listening socket's options, and the graceful close *(skip at first)*.
//!
//! Nagle's delay: by default TCP holds back a small packet while an earlier
//! one is unacknowledged, hoping to merge them; with a request and an
//! answer going back and forth, that wait (up to 40 ms) is pure latency,
//! so it is switched off (`set_nodelay`, once, on the listening socket:
//! see `prepare_listener`). Read and write timeouts are set there too, and
//! Linux copies all of them to every accepted socket.

use std::io::Read;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use super::WRITE_TIMEOUT;
use crate::request::Limits;

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
    socket.set_read_timeout(Some(Limits::default().idle_timeout))?;
    socket.set_write_timeout(Some(WRITE_TIMEOUT))?;
    // A second is plenty for a client to send its request after
    // connecting; one that takes longer is accepted anyway, and waits
    // under the idle timeout like any other. Only a saving: without it
    // every connection is still served.
    let _ = defer_accept(&socket, Duration::from_secs(1));
    Ok(TcpListener::from(OwnedFd::from(socket)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

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
            Some(Limits::default().idle_timeout)
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
