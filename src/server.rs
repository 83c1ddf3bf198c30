//! The server: listen on a socket, accept connections, hand each one to a
//! worker thread.
//!
//! ```text
//! TcpListener::bind("127.0.0.1:8080")   the kernel queues incoming connections
//! listener.accept() in a worker thread   one TcpStream per browser connection
//! → connection.rs                        which reads requests from it
//! ```
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
//!
//! Ctrl-C simply ends the process: session files are written by rename, so
//! there is nothing half-done to tidy up (session.rs explains).

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::app::{App, LoadError, LogoutMode};
use crate::connection::{self, Activity, Phase};
use crate::log::{Log, LogMode};
use crate::response::Response;
use crate::session::SessionSettings;

/// Everything the flags in main.rs can set.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: String,
    pub sessions_dir: PathBuf,
    pub www_dir: PathBuf,
    pub session_ttl_secs: u64,
    pub session_lifetime_secs: u64,
    pub max_sessions: usize,
    pub max_connections: usize,
    pub log_mode: LogMode,
    pub single_thread: bool,
    /// The panel on every page (`--no-inspector` turns it off).
    pub inspector: bool,
    pub logout_mode: LogoutMode,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: "127.0.0.1:8080".to_string(),
            sessions_dir: PathBuf::from("sessions"),
            www_dir: PathBuf::from("www"),
            session_ttl_secs: 1800,
            session_lifetime_secs: 28800,
            max_sessions: 100_000,
            max_connections: 1024,
            log_mode: LogMode::Lines,
            single_thread: false,
            inspector: true,
            logout_mode: LogoutMode::Delete,
        }
    }
}

/// What can stop the server from starting. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "cannot listen on {addr}: {source} (is another server on that port? try --addr 127.0.0.1:0)"
    )]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// A bound, ready server. `run` serves until the process is stopped.
pub struct Server {
    listener: TcpListener,
    app: Arc<App>,
    config: Config,
    /// `--max-connections`, or less if the open-file limit is lower.
    max_connections: usize,
    /// Set when the open-file limit lowered the cap: that limit.
    limited_by_open_files: Option<u64>,
}

/// Loads templates, store items and the sessions folder, then binds the
/// address. Anything wrong is reported here, before the first request.
pub fn start(config: Config) -> Result<Server, StartError> {
    let settings = SessionSettings {
        dir: config.sessions_dir.clone(),
        ttl_secs: config.session_ttl_secs,
        lifetime_secs: config.session_lifetime_secs,
        max_sessions: config.max_sessions,
    };
    let app = App::load(
        &config.www_dir,
        settings,
        Log::start(config.log_mode),
        config.inspector,
        config.logout_mode,
    )?;
    let listener = TcpListener::bind(&config.addr)
        .and_then(connection::prepare_listener)
        .map_err(|source| StartError::Bind {
            addr: config.addr.clone(),
            source,
        })?;
    let (max_connections, limited_by_open_files) = connections_that_fit(config.max_connections);
    Ok(Server {
        listener,
        app: Arc::new(app),
        config,
        max_connections,
        limited_by_open_files,
    })
}

impl Server {
    /// The address really bound: with port 0 the kernel picked the port.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener knows its address")
    }

    /// The sessions page's address, with its secret: printed at start for
    /// whoever started the server, and nowhere else.
    pub fn sessions_page_url(&self) -> String {
        format!(
            "http://{}/sessions/{}",
            self.local_addr(),
            self.app.sessions_page_secret
        )
    }

    /// A line to print after the address when the open-file limit is what
    /// caps connections: the connections must leave descriptors for the
    /// session files, or users would look logged out when they run out.
    pub fn connection_cap_notice(&self) -> Option<String> {
        let limit = self.limited_by_open_files?;
        Some(format!(
            "open-file limit {limit}: serving at most {} connections at once, not {} \
             (each may need {DESCRIPTORS_PER_CONNECTION} descriptors; raise the limit with ulimit -n)",
            self.max_connections, self.config.max_connections
        ))
    }

    pub fn run(self) {
        start_session_sweeper(Arc::clone(&self.app));
        if self.config.single_thread {
            self.run_single_thread();
        } else {
            self.run_with_workers();
        }
    }

    /// One connection at a time, on this thread: a breakpoint anywhere in
    /// connection.rs, router.rs or app.rs stops here, with nothing else
    /// running. A keep-alive client holds the server until it closes or
    /// goes quiet for the idle timeout.
    fn run_single_thread(self) {
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    connection::serve_connection(&stream, peer, &self.app, &Activity::new())
                }
                Err(error) if is_accept_timeout(&error) => {}
                Err(error) => self.app.log.error(&format!("accept failed: {error}")),
            }
        }
    }

    /// Workers accept and serve connections, and one of them is always
    /// waiting in `accept` (see `WorkerPool`); this thread waits for ever.
    fn run_with_workers(self) {
        let pool = Arc::new(WorkerPool::new(self.listener, self.max_connections));
        pool.add_worker(&self.app);
        loop {
            std::thread::park();
        }
    }
}

/// Expired sessions are removed by this background thread, so no request
/// ever waits for a sweep.
fn start_session_sweeper(app: Arc<App>) {
    let interval = app.sessions.sweep_interval();
    std::thread::Builder::new()
        .name("session-sweeper".to_string())
        .spawn(move || {
            loop {
                std::thread::sleep(interval);
                let removed = app.sessions.remove_expired();
                if let Some(inspector) = &app.inspector {
                    inspector.remove_expired_links();
                }
                if removed > 0 {
                    app.log
                        .line(&format!("sweep: removed {removed} expired session file(s)"));
                }
            }
        })
        .expect("the sweeper thread starts before any connection is accepted");
}

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
struct WorkerPool {
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
    fn new(listener: TcpListener, max_connections: usize) -> Self {
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
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts one more worker, unless there are as many as can be used.
    fn add_worker(self: &Arc<Self>, app: &Arc<App>) {
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
            if self.has_room() {
                let stream = Arc::new(stream);
                let activity = Arc::new(Activity::new());
                *lock(&slot.serving) = Some(Served {
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
                *lock(&slot.serving) = None;
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

    /// Counts a new connection in. At the cap, it makes room by closing the
    /// connection that has waited longest without a request in progress
    /// (idle between requests, or still sending its head); when every
    /// connection is in the middle of a request, there is no room.
    fn has_room(&self) -> bool {
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
        let _ = stream.write_all(&response.to_bytes(false, Some("close")));
        log.line("refused a connection: every open connection is busy (503)");
        // If the closer is busy, dropping closes at once; the 503 was sent.
        let _ = self.closer.try_send(stream);
    }
}

/// `accept` gives up after the idle timeout set on the listener (see
/// `connection::prepare_listener`); that only means no one connected.
fn is_accept_timeout(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// A worker's slot, even if a thread panicked while holding it: what it
/// guards is replaced whole.
fn lock(serving: &Mutex<Option<Served>>) -> MutexGuard<'_, Option<Served>> {
    serving.lock().unwrap_or_else(|e| e.into_inner())
}

/// Closes the open connection that has been idle or sending its head for
/// longest, the way nginx reclaims connections at its limit. Returns
/// whether there was one. Its worker's `read` then ends, and the worker is
/// free for the next connection.
fn reclaim_one(slots: &[Arc<Slot>]) -> bool {
    let mut longest: Option<(Duration, &Slot)> = None;
    for slot in slots {
        if let Some(served) = lock(&slot.serving).as_ref()
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
    match lock(&slot.serving).take() {
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
const DESCRIPTORS_PER_CONNECTION: u64 = 4;
/// Descriptors kept for everything else: the listener, stdio, the 64 lock
/// files, the sweeper's folder scan, and a margin.
const RESERVED_DESCRIPTORS: u64 = 128;

/// The connection cap that fits the process's open-file limit, and the
/// limit when it is what decided.
fn connections_that_fit(max_connections: usize) -> (usize, Option<u64>) {
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
