//! The connection to Redis: open, authenticate, send, read, keep for the
//! next request, and give up in time. *(Skip at first: redis.rs has the
//! bytes; this is what makes them safe on a busy server.)*
//!
//! Every command gets a whole reply or an error within `REPLY_TIMEOUT`; a
//! connection on which anything went wrong is dropped, never used again
//! (redis.rs says why). Up to `MAX_IDLE_CONNECTIONS` good ones are kept
//! between requests. The commands a request sent, and their replies, are
//! kept for the panel (`take_transcript`).

use std::cell::RefCell;
use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{PASSWORD_VARIABLE, RedisAddress, RedisError, Reply, encode_command, read_reply};
use crate::mutex::lock_even_if_poisoned;

/// Connections kept open between requests: about as many as requests
/// that use Redis at once, or each one past it opens and closes its own.
const MAX_IDLE_CONNECTIONS: usize = 64;
/// How long one reply may take. Past it the connection is dropped (its
/// reply, if it ever comes, must not meet the next command).
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);
/// How long to wait for Redis to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// One command and its reply, as the panel shows them.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// `GET handstamp:session:9c1e…`, the arguments joined by spaces (a
    /// long one, like a script, shortened).
    pub command: String,
    /// `"created=…\nname=David\n"`, `(nil)`, or what went wrong.
    pub reply: String,
}

thread_local! {
    /// The commands this thread sent for the request it is answering. One
    /// request is answered by one thread from start to end, so the panel
    /// finds here exactly its request's commands (`take_transcript`).
    static TRANSCRIPT: RefCell<Vec<Exchange>> = const { RefCell::new(Vec::new()) };
}

/// The commands sent since the last call, for the panel; empties the list.
pub fn take_transcript() -> Vec<Exchange> {
    TRANSCRIPT.with(|transcript| std::mem::take(&mut *transcript.borrow_mut()))
}

/// An open connection, ready for a command.
#[derive(Debug)]
struct Connection {
    reader: BufReader<WithDeadline>,
}

/// The socket, read with a deadline for the whole reply: a reply that
/// comes a byte at a time would reset a plain socket timeout with every
/// byte and hold the worker for as long as the sender likes.
#[derive(Debug)]
struct WithDeadline {
    stream: TcpStream,
    deadline: Instant,
}

impl Read for WithDeadline {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(
                ErrorKind::TimedOut,
                "Redis's reply came too slowly",
            ));
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buffer)
    }
}

/// The Redis server sessions live in: its address, the password, and a
/// few open connections shared by the worker threads.
pub struct Redis {
    address: RedisAddress,
    password: Option<String>,
    idle: Mutex<Vec<Connection>>,
    /// Whether the last command failed: the log says "unavailable" once
    /// when an outage starts and "answering again" once when it ends.
    down: Mutex<bool>,
    /// Where to say that Redis went away or came back: the server's log.
    report: Box<dyn Fn(&str) + Send + Sync>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redis({})", self.name())
    }
}

impl Redis {
    /// Connects once and asks `PING`, so a wrong address or password is
    /// reported at start, not on the first visitor's request.
    pub fn connect(
        address: RedisAddress,
        report: Box<dyn Fn(&str) + Send + Sync>,
    ) -> Result<Redis, RedisError> {
        let password = std::env::var(PASSWORD_VARIABLE)
            .ok()
            .filter(|p| !p.is_empty());
        let redis = Redis {
            address,
            password,
            idle: Mutex::new(Vec::new()),
            down: Mutex::new(false),
            report,
        };
        match redis.command_unrecorded(&["PING"])? {
            Reply::Status(pong) if pong == "PONG" => Ok(redis),
            other => Err(redis.refused(&other.shown())),
        }
    }

    /// `redis://127.0.0.1:6379`, for pages and the log.
    pub fn name(&self) -> String {
        match self.address.database {
            0 => format!("redis://{}", self.address.host_port),
            db => format!("redis://{}/{db}", self.address.host_port),
        }
    }

    /// Sends one command and reads its reply; the panel will show both.
    /// `-ERR` replies come back as `Reply::Error` for the caller to judge.
    pub fn command(&self, args: &[&str]) -> Result<Reply, RedisError> {
        let mut replies = self.pipeline(&[args])?;
        Ok(replies.remove(0))
    }

    /// Sends several commands in one write and reads their replies, in the
    /// same order: one round trip instead of one per command. Redis runs
    /// them one after the other, but other clients' commands may come in
    /// between (for "all or nothing", a script). The panel shows each.
    pub fn pipeline(&self, commands: &[&[&str]]) -> Result<Vec<Reply>, RedisError> {
        let result = self.send_commands(commands);
        self.note_up_or_down(&result);
        TRANSCRIPT.with(|transcript| {
            let mut transcript = transcript.borrow_mut();
            for (n, args) in commands.iter().enumerate() {
                let reply = match &result {
                    Ok(replies) => replies[n].shown(),
                    Err(error) => format!("no reply: {error}"),
                };
                transcript.push(Exchange {
                    command: shown_command(args),
                    reply,
                });
            }
        });
        result
    }

    /// `command`, kept out of the panel's list: the panel's own records.
    pub fn command_unrecorded(&self, args: &[&str]) -> Result<Reply, RedisError> {
        let result = self.send_commands(&[args]);
        self.note_up_or_down(&result);
        result.map(|mut replies| replies.remove(0))
    }

    fn send_commands(&self, commands: &[&[&str]]) -> Result<Vec<Reply>, RedisError> {
        let mut bytes = Vec::new();
        for args in commands {
            let args: Vec<&[u8]> = args.iter().map(|arg| arg.as_bytes()).collect();
            bytes.extend_from_slice(&encode_command(&args));
        }
        let kept = lock_even_if_poisoned(&self.idle).pop();
        let reused = kept.is_some();
        let mut connection = match kept {
            Some(connection) => connection,
            None => self.open_connection()?,
        };
        // Any I/O error drops `connection` here (see the module doc).
        let replies = match send_and_read(&mut connection, &bytes, commands.len()) {
            Ok(replies) => replies,
            // A kept connection that Redis closed while it sat idle (a
            // restart, its `timeout`): closed before any reply, so no
            // command ran, and they go once more on a new one.
            Err(error) if reused && is_closed_before_reply(&error) => {
                connection = self.open_connection()?;
                send_and_read(&mut connection, &bytes, commands.len())
                    .map_err(|error| self.unavailable(&error.to_string()))?
            }
            Err(error) => return Err(self.unavailable(&error.to_string())),
        };
        let mut idle = lock_even_if_poisoned(&self.idle);
        if idle.len() < MAX_IDLE_CONNECTIONS {
            idle.push(connection);
        }
        Ok(replies)
    }

    /// A new connection: `AUTH` alone first when there is a password, then
    /// `SELECT` when the database is not 0, each reply read before the next
    /// command (a failed `AUTH` in a pipeline can shift every later reply).
    fn open_connection(&self) -> Result<Connection, RedisError> {
        let unavailable = |error: std::io::Error| self.unavailable(&error.to_string());
        let address = resolve(&self.address.host_port).map_err(unavailable)?;
        let stream = TcpStream::connect_timeout(&address, CONNECT_TIMEOUT).map_err(unavailable)?;
        stream
            .set_write_timeout(Some(REPLY_TIMEOUT))
            .map_err(unavailable)?;
        let _ = stream.set_nodelay(true);
        let mut connection = Connection {
            reader: BufReader::new(WithDeadline {
                stream,
                deadline: Instant::now(),
            }),
        };
        let database = self.address.database.to_string();
        let mut prelude: Vec<Vec<&[u8]>> = Vec::new();
        if let Some(password) = &self.password {
            prelude.push(vec![b"AUTH", password.as_bytes()]);
        }
        if self.address.database != 0 {
            prelude.push(vec![b"SELECT", database.as_bytes()]);
        }
        for command in prelude {
            let mut replies = send_and_read(&mut connection, &encode_command(&command), 1)
                .map_err(unavailable)?;
            match replies.remove(0) {
                Reply::Status(_) => {}
                // The password itself is never shown, only Redis's answer.
                other => return Err(self.refused(&other.shown())),
            }
        }
        Ok(connection)
    }

    fn unavailable(&self, problem: &str) -> RedisError {
        RedisError::Unavailable {
            address: self.name_without_scheme(),
            problem: problem.to_string(),
        }
    }

    fn refused(&self, error: &str) -> RedisError {
        RedisError::Refused {
            address: self.name_without_scheme(),
            error: error.to_string(),
        }
    }

    fn name_without_scheme(&self) -> String {
        self.name().trim_start_matches("redis://").to_string()
    }

    /// One log line when an outage starts, one when it ends.
    fn note_up_or_down<T>(&self, result: &Result<T, RedisError>) {
        let mut down = lock_even_if_poisoned(&self.down);
        match (result, *down) {
            (Err(error), false) => {
                *down = true;
                (self.report)(&format!(
                    "{error}; requests that need a session get 503 until it answers again"
                ));
            }
            (Ok(_), true) => {
                *down = false;
                (self.report)(&format!("session store {} answers again", self.name()));
            }
            _ => {}
        }
    }
}

/// Writes the command and reads its reply, which must be whole within
/// `REPLY_TIMEOUT`; if not, the error drops the connection with it.
/// Writes `commands` (already encoded) and reads `count` replies, all
/// within one `REPLY_TIMEOUT`.
fn send_and_read(
    connection: &mut Connection,
    commands: &[u8],
    count: usize,
) -> std::io::Result<Vec<Reply>> {
    connection.reader.get_mut().deadline = Instant::now() + REPLY_TIMEOUT;
    connection.reader.get_mut().stream.write_all(commands)?;
    (0..count)
        .map(|_| read_reply(&mut connection.reader))
        .collect()
}

fn is_closed_before_reply(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
    )
}

fn resolve(host_port: &str) -> std::io::Result<SocketAddr> {
    host_port.to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(ErrorKind::NotFound, format!("'{host_port}' has no address"))
    })
}

/// The command as the panel prints it: arguments joined by spaces, a long
/// one (a script, a session's text) shortened, newlines shown as `\n`.
fn shown_command(args: &[&str]) -> String {
    let shown: Vec<String> = args
        .iter()
        .map(|arg| {
            let escaped = arg.replace('\n', "\\n");
            if escaped.chars().count() > 60 {
                let start: String = escaped.chars().take(57).collect();
                format!("{start}…")
            } else {
                escaped
            }
        })
        .collect();
    shown.join(" ")
}
