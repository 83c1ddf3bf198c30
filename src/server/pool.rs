//! The worker pool and the connection cap *(skip at first)*.
//!
//! Each open connection has its own thread, blocked in `read` while the
//! client is quiet, so a slow client only ever holds up itself. Threads are
//! kept in a pool: a worker whose connection ends goes back to `accept` for
//! the next one, so a busy server pays for neither a thread spawn nor a
//! handoff between threads per connection, and the pool grows only up to
//! `--max-connections` (plus the one thread that keeps accepting), and
//! shrinks back once connections stop coming.
//!
//! At that cap a newcomer is still served if some open connection is only
//! waiting between requests or has not finished sending its head: the one
//! that has waited longest is closed to make room (`reclaim_one`), as
//! nginx does. Only when every connection is in the middle of a request is
//! the newcomer answered `503` and closed. So a few hundred clients that
//! send nothing, or a blank line every few seconds, cannot lock others out.
//! The cap is also kept below what the process's open-file limit allows,
//! so connections never take the descriptors that session files need.

use std::io::Write;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::app::App;
use crate::connection::{self, Activity, Phase};
use crate::log::Log;
use crate::mutex::lock_even_if_poisoned;
use crate::response::{ConnectionHeader, Response};

/// Worker threads are small: requests are parsed into heap buffers, and a
/// thousand idle connections should cost megabytes, not gigabytes.
const WORKER_STACK_BYTES: usize = 256 * 1024;

/// The worker threads. Each idle worker waits in `accept` itself, so a new
/// connection goes straight to the thread that serves it, with no handoff
/// between threads (the kernel wakes one waiting thread per connection).
/// The pool grows on demand, one thread per open connection plus one that
/// keeps accepting, up to `max_connections + 1`, and shrinks again: a
/// worker that waited a whole idle timeout in `accept` while others waited
/// too ends (`leave_if_spare`).
///
/// The counts are atomics and each worker has a slot of its own, so serving
/// a connection takes no lock that another worker holds; only reclaiming at
/// the cap looks at every slot.
pub struct WorkerPool {
    listener: TcpListener,
    max_connections: usize,
    /// Connections being served.
    open: AtomicUsize,
    /// Workers waiting in `accept`.
    accepting: AtomicUsize,
    /// One slot per worker, in the order they started.
    slots: Mutex<Vec<Arc<Slot>>>,
    /// Refused connections go to one closer thread, so that no worker waits
    /// on a client while it closes politely.
    closer: SyncSender<TcpStream>,
}

/// What one worker is serving, for `reclaim_one` to see.
#[derive(Default)]
struct Slot {
    serving: Mutex<Option<Served>>,
}

struct Served {
    /// The socket the worker is serving, shared so that another thread
    /// can shut it down (no second descriptor needed).
    socket: Arc<TcpStream>,
    activity: Arc<Activity>,
}

impl WorkerPool {
    pub fn new(listener: TcpListener, max_connections: usize) -> Self {
        let (closer, refused) = std::sync::mpsc::sync_channel::<TcpStream>(256);
        std::thread::Builder::new()
            .name("closer".to_string())
            .spawn(move || {
                for stream in refused {
                    connection::close_gracefully(&stream);
                }
            })
            .expect("the closer thread starts before any connection is accepted");
        WorkerPool {
            listener,
            closer,
            max_connections,
            open: AtomicUsize::new(0),
            accepting: AtomicUsize::new(0),
            slots: Mutex::new(Vec::new()),
        }
    }

    fn slots(&self) -> MutexGuard<'_, Vec<Arc<Slot>>> {
        lock_even_if_poisoned(&self.slots)
    }

    /// Starts one more worker, unless there are as many as can be used.
    pub fn add_worker(self: &Arc<Self>, app: &Arc<App>) {
        let slot = {
            let mut slots = self.slots();
            if slots.len() > self.max_connections {
                return;
            }
            let slot = Arc::new(Slot::default());
            slots.push(Arc::clone(&slot));
            slot
        };
        self.accepting.fetch_add(1, Ordering::SeqCst);
        let pool = Arc::clone(self);
        let worker_app = Arc::clone(app);
        let spawned = std::thread::Builder::new()
            .name("worker".to_string())
            .stack_size(WORKER_STACK_BYTES)
            .spawn(move || pool.work(&slot, &worker_app));
        if let Err(error) = spawned {
            app.log
                .error(&format!("cannot start a worker thread: {error}"));
            self.accepting.fetch_sub(1, Ordering::SeqCst);
            self.slots().pop();
        }
    }

    /// A worker's life: accept a connection, serve it, accept the next.
    fn work(self: &Arc<Self>, slot: &Slot, app: &Arc<App>) {
        loop {
            let (stream, peer) = match self.listener.accept() {
                Ok(accepted) => accepted,
                // Nobody connected for a while: one waiting worker is enough.
                Err(error) if is_accept_timeout(&error) => {
                    if self.leave_if_spare(slot) {
                        return;
                    }
                    continue;
                }
                // Out of file descriptors lands here; the listener itself
                // is fine, so accept again once some close.
                Err(error) => {
                    app.log.error(&format!("accept failed: {error}"));
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            };
            // This worker was maybe the last one in `accept`: start
            // another, so new connections are still taken.
            if self.accepting.fetch_sub(1, Ordering::SeqCst) == 1 {
                self.add_worker(app);
            }
            if self.admit() {
                let stream = Arc::new(stream);
                let activity = Arc::new(Activity::new());
                *lock_even_if_poisoned(&slot.serving) = Some(Served {
                    socket: Arc::clone(&stream),
                    activity: Arc::clone(&activity),
                });
                // A handler's panic is already a 500 (connection.rs); this
                // catches one anywhere else, so the worker, its slot and
                // the count survive it, and only this connection ends.
                let served = catch_unwind(AssertUnwindSafe(|| {
                    connection::serve_connection(&stream, peer, app, &activity)
                }));
                if served.is_err() {
                    app.log
                        .error(&format!("a connection from {peer} ended in a panic"));
                }
                // Counted out before the slot is emptied: a newcomer at the
                // cap that finds neither this count nor this slot would be
                // refused for a connection that is already over.
                self.open.fetch_sub(1, Ordering::SeqCst);
                // The socket closes when its last reference goes: here, or
                // in `reclaim_one` if it is closing this one right now.
                *lock_even_if_poisoned(&slot.serving) = None;
                drop(stream);
            } else {
                self.refuse(stream, &app.log);
            }
            self.accepting.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Takes this worker out of the pool if another worker is waiting in
    /// `accept` too, so that after a burst of connections the threads it
    /// started end once they have waited a whole idle timeout for work.
    /// Returns whether the worker should end.
    fn leave_if_spare(&self, slot: &Slot) -> bool {
        let mut slots = self.slots();
        let one_fewer = |waiting: usize| (waiting > 1).then(|| waiting - 1);
        if self
            .accepting
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, one_fewer)
            .is_err()
        {
            return false; // the last one waiting stays
        }
        slots.retain(|other| !std::ptr::eq(&**other, slot));
        true
    }

    /// Counts a new connection in, and says whether it was admitted. At the
    /// cap, it makes room by closing the connection that has waited longest
    /// without a request in progress (idle between requests, or still
    /// sending its head); when every connection is in the middle of a
    /// request, the newcomer is not admitted.
    fn admit(&self) -> bool {
        if self.open.fetch_add(1, Ordering::SeqCst) < self.max_connections {
            return true;
        }
        // The victim's worker counts itself out when it sees the close;
        // until then the count is one over, which only makes the next
        // newcomer reclaim too.
        if reclaim_one(&self.slots()) {
            return true;
        }
        self.open.fetch_sub(1, Ordering::SeqCst);
        false
    }

    /// Over the connection cap with every connection busy: say so and
    /// close, without reading the request.
    fn refuse(&self, mut stream: TcpStream, log: &Log) {
        let response = Response::error(
            503,
            "The server is busy with as many requests as it may serve at once; try again shortly.",
        );
        let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
        let _ = stream.write_all(&response.to_bytes(ConnectionHeader::Close));
        log.line("refused a connection: every open connection is busy (503)");
        // If the closer is busy, dropping closes at once; the 503 was sent.
        let _ = self.closer.try_send(stream);
    }
}

/// `accept` gives up after the idle timeout set on the listener (see
/// `connection::prepare_listener`); that only means no one connected.
pub fn is_accept_timeout(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Closes the open connection that has been idle or sending its head for
/// longest, the way nginx reclaims connections at its limit. Returns
/// whether there was one. Its worker's `read` then ends, and the worker is
/// free for the next connection.
fn reclaim_one(slots: &[Arc<Slot>]) -> bool {
    let mut longest: Option<(Duration, &Slot)> = None;
    for slot in slots {
        if let Some(served) = lock_even_if_poisoned(&slot.serving).as_ref()
            && let (Phase::Idle | Phase::ReadingHead, waited) = served.activity.phase()
            && longest.is_none_or(|(most, _)| waited > most)
        {
            longest = Some((waited, slot));
        }
    }
    let Some((_, slot)) = longest else {
        return false;
    };
    // Taken out of the slot, so it is not chosen twice.
    match lock_even_if_poisoned(&slot.serving).take() {
        Some(served) => {
            let _ = served.socket.shutdown(Shutdown::Both);
            true
        }
        None => true, // it ended meanwhile, which made room too
    }
}

/// How many file descriptors one connection may need at once: its socket,
/// a session file with its temporary file while a request changes it, and
/// one spare for the sockets of refused connections that the closer
/// thread still holds (up to 256).
pub const DESCRIPTORS_PER_CONNECTION: u64 = 4;

/// Descriptors kept for everything else: the listener, stdio, the 64 lock
/// files, the sweeper's folder scan, and a margin.
const RESERVED_DESCRIPTORS: u64 = 128;

/// The connection cap that fits the process's open-file limit, and the
/// limit when it is what decided.
pub fn connections_that_fit(max_connections: usize) -> (usize, Option<u64>) {
    let Some(limit) = open_file_limit() else {
        return (max_connections, None);
    };
    let fit = (limit.saturating_sub(RESERVED_DESCRIPTORS) / DESCRIPTORS_PER_CONNECTION).max(1);
    match (fit as usize) < max_connections {
        true => (fit as usize, Some(limit)),
        false => (max_connections, None),
    }
}

/// The soft "Max open files" limit, from `/proc/self/limits` (std has no
/// getrlimit, and libc is not a dependency).
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}
