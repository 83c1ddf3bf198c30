//! The server: listen on a socket, accept connections, hand each one to a
//! worker thread.
//!
//! ```text
//! TcpListener::bind("127.0.0.1:8080")   the kernel queues incoming connections
//! listener.accept()                      one TcpStream per browser connection
//! → worker thread → connection.rs        which reads requests from it
//! ```
//!
//! Each open connection has its own thread, blocked in `read` while the
//! client is quiet, so a slow client only ever holds up itself. Threads are
//! kept in a pool: a worker whose connection ends waits a while for the next
//! one instead of exiting, so a busy server does not pay for a thread spawn
//! per connection, and the pool grows only up to `--max-connections`. A
//! connection past that cap is answered `503` at once and closed.
//!
//! Ctrl-C simply ends the process: session files are written by rename, so
//! there is nothing half-done to tidy up (session.rs explains).

use std::collections::VecDeque;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::app::{App, LoadError, LogoutMode};
use crate::connection;
use crate::log::{self, LogMode};
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
        config.log_mode,
        config.inspector,
        config.logout_mode,
    )?;
    let listener = TcpListener::bind(&config.addr).map_err(|source| StartError::Bind {
        addr: config.addr.clone(),
        source,
    })?;
    Ok(Server {
        listener,
        app: Arc::new(app),
        config,
    })
}

impl Server {
    /// The address really bound: with port 0 the kernel picked the port.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener knows its address")
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
        for stream in self.listener.incoming() {
            match stream {
                Ok(stream) => connection::serve_connection(stream, &self.app),
                Err(error) => log::error(&format!("accept failed: {error}")),
            }
        }
    }

    fn run_with_workers(self) {
        let pool = Arc::new(WorkerPool::new(self.config.max_connections));
        for stream in self.listener.incoming() {
            match stream {
                Ok(stream) => pool.dispatch(stream, &self.app),
                // Running out of file descriptors lands here; the listener
                // itself is fine, so keep accepting once some close.
                Err(error) => {
                    log::error(&format!("accept failed: {error}"));
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
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
                if removed > 0 {
                    log::line(
                        app.log_mode,
                        &format!("sweep: removed {removed} expired session file(s)"),
                    );
                }
            }
        })
        .expect("the sweeper thread starts before any connection is accepted");
}

/// How long a worker with nothing to do waits for a new connection before
/// its thread exits.
const WORKER_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Worker threads are small: requests are parsed into heap buffers, and a
/// thousand idle connections should cost megabytes, not gigabytes.
const WORKER_STACK_BYTES: usize = 256 * 1024;

/// A pool of threads that grows on demand up to `max_workers`, one worker
/// per open connection, and reuses workers whose connection has ended.
struct WorkerPool {
    max_workers: usize,
    state: Mutex<PoolState>,
    connection_waiting: Condvar,
    /// Refused connections go to one closer thread, so that the accept loop
    /// never waits on a client while it closes politely.
    closer: SyncSender<TcpStream>,
}

struct PoolState {
    waiting_connections: VecDeque<TcpStream>,
    idle_workers: usize,
    total_workers: usize,
}

impl WorkerPool {
    fn new(max_workers: usize) -> Self {
        let (closer, refused) = std::sync::mpsc::sync_channel::<TcpStream>(256);
        std::thread::Builder::new()
            .name("closer".to_string())
            .spawn(move || {
                for stream in refused {
                    connection::close_gracefully(stream);
                }
            })
            .expect("the closer thread starts before any connection is accepted");
        WorkerPool {
            closer,
            max_workers,
            state: Mutex::new(PoolState {
                waiting_connections: VecDeque::new(),
                idle_workers: 0,
                total_workers: 0,
            }),
            connection_waiting: Condvar::new(),
        }
    }

    /// Gives a new connection to an idle worker, or to a new worker, or, at
    /// the cap, refuses it with 503.
    fn dispatch(self: &Arc<Self>, stream: TcpStream, app: &Arc<App>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.idle_workers > state.waiting_connections.len() {
            state.waiting_connections.push_back(stream);
            self.connection_waiting.notify_one();
            return;
        }
        if state.total_workers >= self.max_workers {
            drop(state);
            self.refuse(stream, app.log_mode);
            return;
        }
        state.total_workers += 1;
        drop(state);

        let pool = Arc::clone(self);
        let worker_app = Arc::clone(app);
        let spawned = std::thread::Builder::new()
            .name("worker".to_string())
            .stack_size(WORKER_STACK_BYTES)
            .spawn(move || pool.work(stream, &worker_app));
        if let Err(error) = spawned {
            log::error(&format!("cannot start a worker thread: {error}"));
            self.state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .total_workers -= 1;
        }
    }

    /// A worker's life: serve a connection, then wait for the next one.
    fn work(&self, first: TcpStream, app: &App) {
        let mut next = Some(first);
        while let Some(stream) = next {
            connection::serve_connection(stream, app);
            next = self.wait_for_connection();
        }
    }

    /// Over the connection cap: say so and close, without reading the request.
    fn refuse(&self, mut stream: TcpStream, log_mode: LogMode) {
        let response = Response::error(
            503,
            "The server has too many open connections; try again shortly.",
        );
        let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
        let _ = stream.write_all(&response.to_bytes(false, Some("close")));
        log::line(
            log_mode,
            "refused a connection: over the limit of open connections (503)",
        );
        // If the closer is busy, dropping closes at once; the 503 was sent.
        let _ = self.closer.try_send(stream);
    }

    fn wait_for_connection(&self) -> Option<TcpStream> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.idle_workers += 1;
        let (mut state, _) = self
            .connection_waiting
            .wait_timeout_while(state, WORKER_IDLE_TIMEOUT, |state| {
                state.waiting_connections.is_empty()
            })
            .unwrap_or_else(|e| e.into_inner());
        state.idle_workers -= 1;
        let next = state.waiting_connections.pop_front();
        if next.is_none() {
            state.total_workers -= 1;
        }
        next
    }
}
