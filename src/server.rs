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
//! client is quiet, so a slow client only ever holds up itself. A real
//! server also needs a cap on connections and threads that are reused:
//! here, server/pool.rs *(skip at first)*. `--single-thread` leaves all of
//! that out and serves one connection at a time on the main thread, for a
//! debugger.
//!
//! Ctrl-C simply ends the process: session files are written by rename, so
//! there is nothing half-done to tidy up (session.rs explains).

mod pool;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;

use crate::app::{App, LoadError, LogoutMode};
use crate::connection::{self, Activity};
use crate::log::{Log, LogMode};
use crate::redis::RedisAddress;
use crate::session::{SessionSettings, SessionStore};
use pool::{DESCRIPTORS_PER_CONNECTION, WorkerPool, connections_that_fit, is_accept_timeout};

/// Everything the flags in main.rs can set.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: String,
    pub sessions_dir: PathBuf,
    /// `--sessions redis://…`: sessions in Redis, not in the folder.
    pub sessions_redis: Option<RedisAddress>,
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
            sessions_redis: None,
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
        redis: config.sessions_redis.clone(),
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

    /// `sessions: one file each in sessions/`, or the Redis server.
    pub fn where_sessions_are_kept(&self) -> String {
        self.app.sessions.where_kept()
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
    std::thread::Builder::new()
        .name("session-sweeper".to_string())
        .spawn(move || {
            // In Redis, sessions (and the panel's records) expire by
            // themselves: there is nothing to sweep.
            let SessionStore::Folder(folder) = &app.sessions else {
                return;
            };
            // Temporary files that no write can finish: found once, in the
            // background, so a big folder does not hold up the start.
            folder.remove_abandoned_temp_files();
            folder.count_if_uncounted();
            loop {
                std::thread::sleep(folder.sweep_interval());
                let removed = folder.remove_expired();
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
