//! What every integration test needs: the real handstamp binary started on
//! 127.0.0.1 port 0 with its own temporary sessions folder, and a client
//! that writes raw bytes and reads raw replies.
#![allow(dead_code)] // each test file uses a different part of this

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const WWW_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/www");
pub const BINARY: &str = env!("CARGO_BIN_EXE_handstamp");

/// The size of a long run (mutation cases, fuzz replays): `full` when
/// `HANDSTAMP_TEST_SIZE=full` (`.ci/run` sets it), else a tenth, so that
/// `cargo test` stays quick enough to run often.
pub fn test_size(full: usize) -> usize {
    match std::env::var("HANDSTAMP_TEST_SIZE").as_deref() {
        Ok("full") => full,
        _ => (full / 10).max(1),
    }
}

/// How long a test waits for any answer before it fails.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(20);

/// A folder under the system temp folder, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let path = std::env::temp_dir().join(format!(
            "handstamp-{label}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running handstamp process. Dropping it kills the process.
pub struct TestServer {
    pub addr: SocketAddr,
    /// `/sessions/SECRET`, from the second line the server printed.
    pub sessions_page: String,
    pub sessions_dir: PathBuf,
    child: Child,
    log: Arc<Mutex<String>>,
    _temp: Option<TempDir>,
}

impl TestServer {
    /// 127.0.0.1:0, a fresh temporary sessions folder, the repository's www.
    pub fn start() -> TestServer {
        TestServer::start_with(&[])
    }

    pub fn start_with(extra_args: &[&str]) -> TestServer {
        let temp = TempDir::new("sessions");
        let sessions_dir = temp.0.join("sessions");
        let mut server = TestServer::start_in(&sessions_dir, extra_args);
        server._temp = Some(temp);
        server
    }

    /// Starts with the open-file limit lowered to `open_files` (through
    /// the shell's `ulimit -n`), in a fresh temporary sessions folder.
    pub fn start_with_open_file_limit(open_files: u32, extra_args: &[&str]) -> TestServer {
        let temp = TempDir::new("sessions");
        let sessions_dir = temp.0.join("sessions");
        let mut server = TestServer::launch(&sessions_dir, extra_args, Some(open_files));
        server._temp = Some(temp);
        server
    }

    /// Starts on an existing sessions folder (for restarts); the caller
    /// owns the folder.
    pub fn start_in(sessions_dir: &Path, extra_args: &[&str]) -> TestServer {
        TestServer::launch(sessions_dir, extra_args, None)
    }

    fn launch(sessions_dir: &Path, extra_args: &[&str], open_files: Option<u32>) -> TestServer {
        let mut args = vec![
            "--addr".to_string(),
            "127.0.0.1:0".to_string(),
            "--sessions".to_string(),
            sessions_dir.display().to_string(),
            "--www".to_string(),
            WWW_DIR.to_string(),
        ];
        args.extend(extra_args.iter().map(|a| a.to_string()));
        let mut command = match open_files {
            None => Command::new(BINARY),
            Some(limit) => {
                let mut shell = Command::new("sh");
                shell.args([
                    "-c",
                    &format!("ulimit -n {limit} && exec \"$0\" \"$@\""),
                    BINARY,
                ]);
                shell
            }
        };
        let mut child = command
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the handstamp binary starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first_line = String::new();
        stdout.read_line(&mut first_line).unwrap();
        let Some(addr) = first_line.trim().strip_prefix("listening on http://") else {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            panic!("server did not start: stdout {first_line:?}, stderr {stderr:?}");
        };
        let addr: SocketAddr = addr.parse().unwrap();
        let mut second_line = String::new();
        stdout.read_line(&mut second_line).unwrap();
        let sessions_page = second_line
            .trim()
            .strip_prefix(&format!("sessions page (for you only): http://{addr}"))
            .unwrap_or_else(|| panic!("no sessions page address: {second_line:?}"))
            .to_string();
        let log = Arc::new(Mutex::new(String::new()));
        collect_lines(stdout, Arc::clone(&log));
        collect_lines(
            BufReader::new(child.stderr.take().unwrap()),
            Arc::clone(&log),
        );
        TestServer {
            addr,
            sessions_page,
            sessions_dir: sessions_dir.to_path_buf(),
            child,
            log,
            _temp: None,
        }
    }

    pub fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    /// One request on a new connection; returns the first reply.
    pub fn exchange(&self, request: &str) -> Reply {
        self.exchange_bytes(request.as_bytes())
    }

    pub fn exchange_bytes(&self, request: &[u8]) -> Reply {
        let mut client = self.connect();
        client.send_bytes(request);
        client.read_reply()
    }

    /// `GET path` with an optional Cookie header value.
    pub fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        self.exchange(&get_request(path, cookie))
    }

    pub fn post_form(&self, path: &str, body: &str, cookie: Option<&str>) -> Reply {
        self.exchange(&post_form_request(path, body, cookie))
    }

    pub fn session_path(&self, id: &str) -> PathBuf {
        self.sessions_dir.join(id)
    }

    pub fn session_file(&self, id: &str) -> String {
        std::fs::read_to_string(self.session_path(id))
            .unwrap_or_else(|e| panic!("session file {id}: {e}"))
    }

    /// Every entry in the sessions folder, dot files included, sorted;
    /// but not `.locks`, the lock stripes' folder, which is always there.
    /// The sessions folder's entries, but for the folders of lock files
    /// and of redirects waiting for the panel.
    pub fn session_dir_entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.sessions_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| ![".count", ".inspector"].contains(&name.as_str()))
            .collect();
        names.sort();
        names
    }

    /// How many entries of the sessions folder are named like a session.
    pub fn session_entries_named_like_ids(&self) -> usize {
        self.session_dir_entries()
            .iter()
            .filter(|name| name.len() == 32 && name.bytes().all(|b| b.is_ascii_hexdigit()))
            .count()
    }

    /// Everything the server printed so far (stdout and stderr).
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log contains `needle`; panics with the log if it
    /// never does.
    pub fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the log never showed {needle:?}; log:\n{}", self.log());
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Ends the process with SIGKILL and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn collect_lines(reader: impl BufRead + Send + 'static, log: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        for line in reader.lines() {
            let Ok(line) = line else { return };
            let mut log = log.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
}

pub fn get_request(path: &str, cookie: Option<&str>) -> String {
    let cookie_line = cookie.map_or(String::new(), |c| format!("Cookie: {c}\r\n"));
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{cookie_line}\r\n")
}

pub fn post_form_request(path: &str, body: &str, cookie: Option<&str>) -> String {
    let cookie_line = cookie.map_or(String::new(), |c| format!("Cookie: {c}\r\n"));
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\n{cookie_line}\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A raw TCP client that keeps bytes read past one reply for the next.
pub struct Client {
    pub stream: TcpStream,
    pub buffer: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect to the test server");
        stream.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
        Client {
            stream,
            buffer: Vec::new(),
        }
    }

    pub fn send(&mut self, text: &str) {
        self.send_bytes(text.as_bytes());
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send to the server");
    }

    /// Stop sending; the server may still answer.
    pub fn shut_down_sending(&mut self) {
        self.stream.shutdown(Shutdown::Write).unwrap();
    }

    /// Reads one reply; its body by Content-Length.
    pub fn read_reply(&mut self) -> Reply {
        self.read_reply_inner(false)
    }

    /// Reads one reply to a HEAD request: Content-Length is there, the body
    /// is not.
    pub fn read_head_reply(&mut self) -> Reply {
        self.read_reply_inner(true)
    }

    fn read_reply_inner(&mut self, head_only: bool) -> Reply {
        let head_end = loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                break end + 4;
            }
            self.fill("a reply head");
        };
        let head = String::from_utf8_lossy(&self.buffer[..head_end]).into_owned();
        let mut reply = Reply::from_head(&head);
        let length: usize = match (head_only, reply.header("content-length")) {
            (true, _) | (false, None) => 0,
            (false, Some(length)) => length.parse().expect("a numeric Content-Length"),
        };
        while self.buffer.len() < head_end + length {
            self.fill("a reply body");
        }
        reply.body = self.buffer[head_end..head_end + length].to_vec();
        reply.raw = format!("{head}{}", String::from_utf8_lossy(&reply.body));
        self.buffer.drain(..head_end + length);
        reply
    }

    fn fill(&mut self, waiting_for: &str) {
        let mut chunk = [0u8; 8192];
        match self.stream.read(&mut chunk) {
            Ok(0) => panic!(
                "the server closed the connection while we waited for {waiting_for}; had {:?}",
                String::from_utf8_lossy(&self.buffer)
            ),
            Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
            Err(e) => panic!(
                "no {waiting_for} within {REPLY_TIMEOUT:?}: {e}; had {:?}",
                String::from_utf8_lossy(&self.buffer)
            ),
        }
    }

    /// True when the server has closed the connection (reads end), with no
    /// further bytes sent.
    pub fn is_closed_by_server(&mut self) -> bool {
        let mut rest = Vec::new();
        match self.stream.read_to_end(&mut rest) {
            Ok(_) => rest.is_empty() && self.buffer.is_empty(),
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }

    /// Reads until the server closes, returning everything not yet read.
    pub fn read_to_close(&mut self) -> String {
        let mut rest = Vec::new();
        let _ = self.stream.read_to_end(&mut rest);
        self.buffer.extend_from_slice(&rest);
        String::from_utf8_lossy(&std::mem::take(&mut self.buffer)).into_owned()
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// A reply as it came over the wire.
#[derive(Debug, Clone)]
pub struct Reply {
    pub raw: String,
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    fn from_head(head: &str) -> Reply {
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default().to_string();
        let headers = lines
            .filter(|line| !line.is_empty())
            .map(|line| {
                let (name, value) = line.split_once(':').expect("header lines have a colon");
                (name.to_string(), value.trim().to_string())
            })
            .collect();
        Reply {
            raw: head.to_string(),
            status_line,
            headers,
            body: Vec::new(),
        }
    }

    pub fn status(&self) -> u16 {
        self.status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {:?}", self.status_line))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers_named(name).into_iter().next()
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The id from `Set-Cookie: session=ID; ...`, if the reply sets one.
    pub fn session_cookie(&self) -> Option<String> {
        self.set_cookie_value("session")
    }

    /// The value of `Set-Cookie: NAME=VALUE; ...`, if the reply sets one.
    pub fn set_cookie_value(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}=");
        self.headers_named("set-cookie")
            .into_iter()
            .filter_map(|value| value.strip_prefix(&prefix))
            .map(|rest| rest.split(';').next().unwrap_or_default().to_string())
            .find(|value| !value.is_empty())
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.raw)
    }
}

/// Logs in as `name` and returns the session id.
pub fn log_in(server: &TestServer, name: &str) -> String {
    let reply = server.post_form("/login", &format!("name={name}"), None);
    assert_eq!(reply.status(), 303, "login failed:\n{reply}");
    reply.session_cookie().expect("login sets a session cookie")
}

/// A session file's bookkeeping lines, which vary from run to run: its
/// `created=` line and, if there is one, its `from=` line.
pub fn created_line(file: &str) -> String {
    let mut lines = file.lines();
    let created = lines.next().expect("a session file has lines");
    match lines.next() {
        Some(from) if from.starts_with("from=") => format!("{created}\n{from}"),
        _ => created.to_string(),
    }
}

/// The value of a `Cookie` header carrying session `id`.
pub fn cookie(id: &str) -> String {
    format!("session={id}")
}

/// Runs curl with `args` and returns its stdout; fails the test if curl is
/// missing (CI installs it) or exits with an error.
pub fn curl(args: &[&str]) -> String {
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl must be installed to run this test (apt-get install curl)");
    assert!(
        output.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A request sent by curl from the loopback address `from` (`127.0.0.2`,
/// `127.0.0.3`, …), so that the server sees another client address: a
/// form POST when `form` is given, else a GET. std cannot choose the
/// address a connection comes from; curl's `--interface` can.
pub fn request_from(
    server: &TestServer,
    from: &str,
    path: &str,
    form: Option<&str>,
    cookie: Option<&str>,
) -> Reply {
    let url = format!("http://{}{path}", server.addr);
    let mut args = vec!["--include", "--interface", from];
    if let Some(form) = form {
        args.extend(["--data", form]);
    }
    if let Some(cookie) = cookie {
        args.extend(["--cookie", cookie]);
    }
    args.push(&url);
    let output = curl(&args);
    let (head, body) = output.split_once("\r\n\r\n").unwrap_or((&output, ""));
    let mut reply = Reply::from_head(head);
    reply.body = body.as_bytes().to_vec();
    reply
}

/// `Cookie: VALUE\r\n`
pub fn cookie_header_line(value: &str) -> String {
    format!("Cookie: {value}\r\n")
}

/// Sends `request` on a new connection and expects `status` as a short
/// HTML page with `Connection: close`, the connection then closed, and the
/// server still serving the next client. Returns the page.
pub fn assert_refused(server: &TestServer, request: &[u8], status: u16) -> String {
    let mut client = server.connect();
    client.send_bytes(request);
    let reply = client.read_reply();
    assert_eq!(
        reply.status(),
        status,
        "for {:?}:\n{reply}",
        String::from_utf8_lossy(request)
    );
    assert_eq!(reply.header("Connection"), Some("close"), "{reply}");
    assert_eq!(
        reply.header("Content-Type"),
        Some("text/html; charset=utf-8"),
        "{reply}"
    );
    assert!(
        client.is_closed_by_server(),
        "the server should close the connection after a {status}"
    );
    assert_eq!(server.get("/login", None).status(), 200, "still serving");
    reply.body_text()
}

/// A real `redis-server` on a free loopback port, with its own folder,
/// nothing saved to disk unless asked. Dropping it stops it.
pub struct RedisServer {
    pub port: u16,
    dir: TempDir,
    extra_args: Vec<String>,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        RedisServer::start_with(&["--save", "", "--appendonly", "no"])
    }

    /// `extra_args` are redis-server's own (`--requirepass x`, …).
    pub fn start_with(extra_args: &[&str]) -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = RedisServer {
            port,
            dir: TempDir::new("redis"),
            extra_args: extra_args.iter().map(|a| a.to_string()).collect(),
            child: None,
        };
        redis.run();
        redis
    }

    fn run(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--dir", &self.dir.0.display().to_string()])
            .args(&self.extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "redis-server must be installed to run this test (apt-get install redis-server)",
            );
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = stream.write_all(b"PING\r\n");
                let mut reply = [0u8; 64];
                let n = stream.read(&mut reply).unwrap_or(0);
                // `-NOAUTH` too: it answers, it wants a password.
                if n > 0 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "redis-server did not answer on port {} within 5 s",
            self.port
        );
    }

    /// `--sessions redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// `redis-cli -p PORT --raw ARGS…`, its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "--raw"])
            .args(args)
            .output()
            .expect("redis-cli comes with redis-server");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Stops it cleanly (SIGTERM: Redis saves, if told to, then exits).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and folder.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
