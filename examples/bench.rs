//! The benchmark: handstamp under wrk, beside nginx serving the same page.
//!
//! ```text
//! apt-get install -y wrk nginx-light redis-server valgrind   # all but wrk optional
//! cargo run --release --example bench     # about 20 minutes; --seconds N per run (default 5)
//! cargo run --release --example bench -- --only wrk,redis,instructions,idle,attacks,files   # any of these
//! ```
//!
//! Every run starts a fresh release build of handstamp on 127.0.0.1:0 with
//! a temporary sessions folder, drives it over loopback, and stops it. On
//! two cores or more, the server side (handstamp, nginx with one worker,
//! Redis) runs on CPU 0 and wrk (one thread) on CPU 1, by `taskset`:
//! unpinned, the two fight over the same cores and the ratio to nginx
//! measures wrk as much as the server (`--unpinned` to compare).
//!
//! - W1: keep-alive `GET /` with a valid session cookie (cookie parsed,
//!   session file read, template filled), at 8 and 64 connections;
//! - W2: `POST /login` with a new name each time and no cookie (a session
//!   file written per request), then a count of the files;
//! - W1 and W3 each with the inspector panel on (the default) and off;
//! - W3: W1 with `Connection: close` (a new TCP connection per request),
//!   against nginx's defaults and against nginx with `listen ... deferred`
//!   (TCP_DEFER_ACCEPT, which handstamp uses);
//! - idle: 1,000 idle keep-alive connections, the server's resident memory,
//!   and the time a normal request takes meanwhile; then the memory after
//!   each of 1,000 connections sent a 64 KiB body;
//! - attacks on the connection cap (blank-line trickle, slowloris, idle
//!   flood, never-reading clients), against handstamp and an nginx with the
//!   same cap and timeouts: the share of a normal client's requests answered
//!   within 1 s;
//! - W1 with 100,000 session files on disk, and W1 while the expiry sweep
//!   removes 100,000 expired files;
//! - instructions: the instructions a logged-in page costs, with the
//!   panel and without, counted by valgrind's callgrind (which a busy
//!   machine does not change, unlike requests per second);
//! - redis: W1 and W2 with `--sessions redis://…` (a `redis-server` on
//!   CPU 0 beside handstamp, nothing saved to disk), right after the same
//!   runs on a folder, so the two rows compare like with like.
//!
//! nginx, when installed, serves a static copy of the logged-in page (same
//! bytes) with the same wrk settings, and the table shows the ratio. The two
//! take turns, three runs each, and each side's median run is shown. Nothing
//! here leaves loopback, and every run ends by itself.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Whether the server side and wrk run on separate CPUs (`taskset`).
static PINNED: AtomicBool = AtomicBool::new(false);
/// handstamp, nginx and Redis run here when pinned...
const SERVER_CPU: &str = "0";
/// ...and wrk here.
const CLIENT_CPU: &str = "1";

/// A command for `program`, on `cpu` when the benchmark pins.
fn on_cpu(cpu: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    if PINNED.load(Ordering::Relaxed) {
        let mut command = Command::new("taskset");
        command.args(["-c", cpu]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn main() {
    let (seconds, parts, unpinned) = parse_flags();
    let run = |part: &str| parts.iter().any(|p| p == part);
    let work = std::env::temp_dir().join(format!("handstamp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    require("wrk", "apt-get install -y wrk");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    PINNED.store(
        !unpinned && cores >= 2 && installed("taskset"),
        Ordering::Relaxed,
    );
    build_release_binary();
    print_machine();
    let nginx = Nginx::start(&work, "");
    let nginx_deferred = match run("wrk") {
        true => Nginx::start(&work, "deferred"),
        false => None,
    };

    println!(
        "\n{:<34} {:>5} {:>9} {:>8} {:>8} {:>6} {:>8} {:>10} {:>9} {:>6}",
        "workload",
        "conns",
        "req/s",
        "p50",
        "p99",
        "errors",
        "peak RSS",
        "nginx r/s",
        "nginx p99",
        "ratio"
    );
    // (name, Connection: close, inspector on, against nginx `deferred`)
    let wrk_runs: &[(&str, bool, bool, bool)] = if run("wrk") {
        &[
            ("W1 keep-alive GET /, inspector on", false, true, false),
            ("W1 keep-alive GET /, --no-inspector", false, false, false),
            ("W3 GET /, Connection: close, inspector", true, true, false),
            (
                "W3 GET /, Connection: close, --no-insp.",
                true,
                false,
                false,
            ),
            ("W3 --no-insp. vs nginx `deferred`", true, false, true),
        ]
    } else {
        &[]
    };
    for &(name, close, inspector, against_deferred) in wrk_runs {
        let nginx = match against_deferred {
            true => &nginx_deferred,
            false => &nginx,
        };
        for connections in [8, 64] {
            let mut flags = vec!["--max-sessions", "1000"];
            if !inspector {
                flags.push("--no-inspector");
            }
            let server = Handstamp::start(&work, &flags);
            w1_row(name, &server, close, connections, seconds, nginx.as_ref());
        }
    }

    for connections in if run("wrk") { vec![8, 64] } else { vec![] } {
        flush_disk();
        let server = Handstamp::start(&work, &["--max-sessions", "100000000"]);
        w2_row(
            "W2 POST /login, new session each",
            &server,
            &work,
            connections,
            seconds,
            || count_session_files(&server.sessions_dir),
        );
    }

    if run("redis") {
        redis_rows(&work, seconds, nginx.as_ref());
    }
    if run("idle") {
        idle_connections(&work);
    }
    if run("instructions") {
        instructions_per_page(&work);
    }
    if run("attacks") {
        attacks(&work);
    }
    if run("files") {
        many_sessions(&work, seconds);
    }
    if run("million") {
        million_sessions(&work);
    }
    println!("\nremoving the benchmark's session files...");
    let _ = std::fs::remove_dir_all(&work);
}

/// One W1 or W3 row: `GET /` logged in, against `server` and, taking
/// turns, against nginx serving the same bytes.
fn w1_row(
    name: &str,
    server: &Handstamp,
    close: bool,
    connections: u32,
    seconds: u64,
    nginx: Option<&Nginx>,
) {
    let cookie = server.log_in("David");
    let mut headers = vec![format!("Cookie: {cookie}")];
    if close {
        headers.push("Connection: close".to_string());
    }
    let page = server.fetch_page(&cookie);
    if let Some(nginx) = nginx {
        nginx.set_page(&page);
    }
    // The two servers take turns, ROUNDS times each, and each side's
    // median run is shown: on a shared 2-core machine one run of a few
    // seconds can be off by 10% either way.
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..ROUNDS {
        ours.push(wrk(server.addr, "/", connections, seconds, &headers, None));
        if let Some(nginx) = nginx {
            theirs.push(wrk(
                nginx.addr,
                "/",
                connections,
                seconds,
                &headers[1..],
                None,
            ));
        }
    }
    let peak = server.peak_rss_kib();
    let reference = match theirs.is_empty() {
        true => None,
        false => Some(median(theirs)),
    };
    print_row(name, connections, &median(ours), peak, reference.as_ref());
}

/// One W2 row: logins with a new name each, no cookie; then the sessions
/// `count_sessions` finds in the store, which must be at least the logins
/// answered.
fn w2_row(
    name: &str,
    server: &Handstamp,
    work: &Path,
    connections: u32,
    seconds: u64,
    count_sessions: impl Fn() -> u64,
) {
    let script = work.join("login.lua");
    std::fs::write(&script, LOGIN_SCRIPT).unwrap();
    let result = wrk(
        server.addr,
        "/login",
        connections,
        seconds,
        &[],
        Some(&script),
    );
    let sessions = count_sessions();
    let peak = server.peak_rss_kib();
    print_row(name, connections, &result, peak, None);
    let in_flight = sessions.saturating_sub(result.requests);
    println!(
        "    {} logins answered, {sessions} sessions stored ({in_flight} more: requests still in flight when wrk stopped){}",
        result.requests,
        if sessions >= result.requests {
            ""
        } else {
            "  ** SESSIONS MISSING **"
        }
    );
}

/// W1 and W2 with the sessions in Redis, each right after the same run
/// with a folder, so that the two compare under the same conditions.
fn redis_rows(work: &Path, seconds: u64, nginx: Option<&Nginx>) {
    if !installed("redis-server") {
        println!(
            "\nredis: redis-server is not installed (apt-get install -y redis-server), no Redis rows"
        );
        return;
    }
    let redis = BenchRedis::start(work);
    println!(
        "\n{}, saving nothing to disk, on the server's CPU",
        redis.version
    );
    for (name, inspector) in [("inspector on", true), ("--no-inspector", false)] {
        for connections in [8, 64] {
            for in_redis in [false, true] {
                let mut flags = vec!["--max-sessions", "1000"];
                if !inspector {
                    flags.push("--no-inspector");
                }
                let url = redis.url();
                if in_redis {
                    flags.extend(["--sessions", url.as_str()]);
                }
                let server = Handstamp::start(work, &flags);
                let store = if in_redis { "Redis" } else { "folder" };
                let row = format!("W1 GET /, {name}, {store}");
                w1_row(&row, &server, false, connections, seconds, nginx);
            }
        }
    }
    for connections in [8, 64] {
        flush_disk();
        let server = Handstamp::start(work, &["--max-sessions", "100000000"]);
        w2_row(
            "W2 POST /login, folder",
            &server,
            work,
            connections,
            seconds,
            || count_session_files(&server.sessions_dir),
        );
        redis.forget_everything();
        let url = redis.url();
        let server = Handstamp::start(work, &["--max-sessions", "100000000", "--sessions", &url]);
        w2_row(
            "W2 POST /login, Redis",
            &server,
            work,
            connections,
            seconds,
            || redis.session_count(),
        );
    }
}

/// Instructions per logged-in keep-alive `GET /`, with the panel and
/// without: the server runs under callgrind on one thread, serves a few
/// thousand pages on one connection, and the count of a short run is
/// taken from a long one's, which leaves out the start and the login.
fn instructions_per_page(work: &Path) {
    if !installed("valgrind") {
        println!(
            "\ninstructions: valgrind is not installed (apt-get install -y valgrind), no counts"
        );
        return;
    }
    println!("\ninstructions per logged-in page (callgrind):");
    for (label, flags) in [
        ("inspector on", &[][..]),
        ("--no-inspector", &["--no-inspector"][..]),
    ] {
        let count = |pages: u32| {
            let dir = work.join(format!("callgrind-{}", unique()));
            std::fs::create_dir_all(&dir).unwrap();
            let out = dir.join("callgrind.out");
            let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/handstamp");
            let www = Path::new(env!("CARGO_MANIFEST_DIR")).join("www");
            let mut child = Command::new("valgrind")
                .arg("--tool=callgrind")
                .arg(format!("--callgrind-out-file={}", out.display()))
                .arg(&binary)
                .args([
                    "--single-thread",
                    "--quiet",
                    "--addr",
                    "127.0.0.1:0",
                    "--www",
                ])
                .arg(&www)
                .arg("--sessions")
                .arg(dir.join("sessions"))
                .args(flags)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("start handstamp under valgrind");
            let mut first = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut first)
                .unwrap();
            let addr: SocketAddr = first
                .trim()
                .strip_prefix("listening on http://")
                .expect("handstamp prints its address")
                .parse()
                .unwrap();
            let login = exchange(addr, &login_request("David"));
            let cookie = login
                .lines()
                .find_map(|l| l.strip_prefix("Set-Cookie: "))
                .and_then(|v| v.split(';').next())
                .expect("login sets a cookie")
                .to_string();
            let mut stream = TcpStream::connect(addr).unwrap();
            let request = format!("GET / HTTP/1.1\r\nHost: bench\r\nCookie: {cookie}\r\n\r\n");
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            for _ in 0..pages {
                stream.write_all(request.as_bytes()).unwrap();
                read_one_response(&mut reader);
            }
            drop(stream);
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            text.lines()
                .find_map(|l| {
                    l.strip_prefix("totals: ")
                        .or_else(|| l.strip_prefix("summary: "))
                })
                .and_then(|n| n.trim().parse::<u64>().ok())
                .expect("callgrind wrote its totals")
        };
        let (short, long) = (500, 2500);
        let per_page = (count(long) - count(short)) / u64::from(long - short);
        println!("  {label:<16} {per_page:>8} instructions per page");
    }
}

/// Reads one response (head, then `Content-Length` bytes) off a
/// keep-alive connection.
fn read_one_response(reader: &mut BufReader<TcpStream>) {
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(value) = line.strip_prefix("Content-Length: ") {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
}

/// A `redis-server` on a free port, on the server's CPU, with nothing
/// saved to disk; stopped when dropped.
struct BenchRedis {
    child: Child,
    port: u16,
    version: String,
}

impl BenchRedis {
    fn start(work: &Path) -> BenchRedis {
        let port = free_port();
        let folder = work.join("redis");
        std::fs::create_dir_all(&folder).unwrap();
        let child = on_cpu(SERVER_CPU, "redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&folder)
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let version = Command::new("redis-server")
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let version = version
            .split_whitespace()
            .find_map(|word| word.strip_prefix("v="))
            .map_or("redis-server".to_string(), |v| format!("redis-server {v}"));
        BenchRedis {
            child,
            port,
            version,
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli comes with redis-server");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// How many session keys there are (`--scan`, never `KEYS`).
    fn session_count(&self) -> u64 {
        self.cli(&["--scan", "--pattern", "handstamp:session:*"])
            .lines()
            .count() as u64
    }

    fn forget_everything(&self) {
        self.cli(&["FLUSHALL"]);
    }
}

impl Drop for BenchRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx gets one worker when pinned: one CPU is all it has.
fn nginx_workers() -> &'static str {
    match PINNED.load(Ordering::Relaxed) {
        true => "1",
        false => "auto",
    }
}

const LOGIN_SCRIPT: &str = r#"
counter = 0
request = function()
  counter = counter + 1
  local body = "name=user" .. counter
  return wrk.format("POST", "/login", {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
"#;

/// `--seconds N` per wrk run (default 5), `--only PARTS` (a comma list
/// of `wrk`, `redis`, `idle`, `attacks`, `files`, `million`; default all
/// but `million`, which writes a million files: about 4 GB and a few
/// minutes; `redis` runs only if redis-server is installed) and
/// `--unpinned`.
fn parse_flags() -> (u64, Vec<String>, bool) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut seconds = 5;
    let mut parts: Vec<String> = ["wrk", "redis", "instructions", "idle", "attacks", "files"]
        .map(String::from)
        .to_vec();
    let mut unpinned = false;
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        if flag == "--unpinned" {
            unpinned = true;
            continue;
        }
        match (flag.as_str(), rest.next()) {
            ("--seconds", Some(n)) => seconds = n.parse().expect("--seconds needs a number"),
            ("--only", Some(list)) => parts = list.split(',').map(String::from).collect(),
            _ => {
                eprintln!(
                    "usage: cargo run --release --example bench [-- --seconds N] \
                     [--only wrk,redis,instructions,idle,attacks,files,million] [--unpinned]"
                );
                std::process::exit(2);
            }
        }
    }
    (seconds, parts, unpinned)
}

fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn require(program: &str, install: &str) {
    let found = installed(program);
    if !found {
        eprintln!("bench: '{program}' is not installed; run: {install}");
        std::process::exit(1);
    }
}

fn build_release_binary() {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "--bin", "handstamp"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "cargo build --release failed");
}

fn print_machine() {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name\t: "))
        .unwrap_or("unknown CPU");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    if PINNED.load(Ordering::Relaxed) {
        println!(
            "machine: {cores} cores, {model}; server side on CPU {SERVER_CPU}, wrk -t1 on CPU {CLIENT_CPU} (taskset)"
        );
    } else {
        println!("machine: {cores} cores, {model}; client (wrk -t2) and server share them");
    }
}

/// A handstamp process on 127.0.0.1:0 with its own sessions folder.
struct Handstamp {
    child: Child,
    addr: SocketAddr,
    sessions_dir: PathBuf,
    /// `/sessions/SECRET`, from the second line the server prints.
    sessions_page: String,
}

impl Handstamp {
    fn start(work: &Path, extra: &[&str]) -> Handstamp {
        let sessions_dir = work.join(format!("sessions-{}", unique()));
        Handstamp::start_in(&sessions_dir, extra)
    }

    fn start_in(sessions_dir: &Path, extra: &[&str]) -> Handstamp {
        let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/handstamp");
        let www = Path::new(env!("CARGO_MANIFEST_DIR")).join("www");
        let mut child = on_cpu(SERVER_CPU, binary)
            .args(["--addr", "127.0.0.1:0", "--quiet", "--www"])
            .arg(&www)
            .arg("--sessions")
            .arg(sessions_dir)
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start handstamp");
        let mut first = String::new();
        let mut second = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut first).unwrap();
        stdout.read_line(&mut second).unwrap();
        let addr = first
            .trim()
            .strip_prefix("listening on http://")
            .expect("handstamp prints its address")
            .parse()
            .unwrap();
        let sessions_page = second
            .trim()
            .split_once("/sessions/")
            .map(|(_, secret)| format!("/sessions/{secret}"))
            .unwrap_or_default();
        Handstamp {
            child,
            addr,
            sessions_page,
            sessions_dir: sessions_dir.to_path_buf(),
        }
    }

    /// Logs in and returns `session=ID`.
    fn log_in(&self, name: &str) -> String {
        let body = format!("name={name}");
        let reply = exchange(
            self.addr,
            &format!(
                "POST /login HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        );
        reply
            .lines()
            .find_map(|l| l.strip_prefix("Set-Cookie: "))
            .and_then(|v| v.split(';').next())
            .expect("login sets a cookie")
            .to_string()
    }

    /// The logged-in page's body, for nginx to serve the same bytes.
    fn fetch_page(&self, cookie: &str) -> Vec<u8> {
        let reply = exchange(
            self.addr,
            &format!(
                "GET / HTTP/1.1\r\nHost: bench\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
            ),
        );
        let (_, body) = reply.split_once("\r\n\r\n").unwrap();
        assert!(body.contains("You are logged in as"), "{reply}");
        body.as_bytes().to_vec()
    }

    fn peak_rss_kib(&self) -> u64 {
        status_field(self.child.id(), "VmHWM:")
    }

    fn rss_kib(&self) -> u64 {
        status_field(self.child.id(), "VmRSS:")
    }
}

impl Drop for Handstamp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The folder stays until the end: deleting 100,000 files makes the
        // disk busy (ext4 mounted with `discard` trims as it goes), and the
        // next run would measure that instead of handstamp.
    }
}

fn status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or(0)
}

fn unique() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// One request on a new connection (which the request closes).
fn exchange(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

/// nginx serving one static page on 127.0.0.1, if nginx is installed.
struct Nginx {
    /// Held so that nginx stops when this is dropped.
    _process: NginxProcess,
    addr: SocketAddr,
    root: PathBuf,
}

impl Nginx {
    /// `listen_options` is "" for nginx's defaults, or "deferred" for
    /// TCP_DEFER_ACCEPT, which handstamp uses (NOTES.md explains).
    fn start(work: &Path, listen_options: &str) -> Option<Nginx> {
        let Some(binary) = nginx_binary() else {
            println!("nginx: not installed (apt-get install -y nginx-light), so no ratios");
            return None;
        };
        let root = work.join(format!("nginx{listen_options}"));
        let port = nginx_folders_and_port(&root);
        let config = format!(
            "worker_processes {workers};\npid {root}/nginx.pid;\nerror_log {root}/logs/error.log;\ndaemon off;\n\
             events {{ worker_connections 4096; }}\n\
             http {{ access_log off; keepalive_requests 100000000;\n\
               server {{ listen 127.0.0.1:{port} {listen_options}; root {root}/html;\n\
                 location / {{ index index.html; }} }} }}\n",
            root = root.display(),
            workers = nginx_workers()
        );
        std::fs::write(root.join("html/index.html"), "warming up").unwrap();
        let Some((process, addr)) = start_nginx(binary, &root, &config, port) else {
            println!("nginx: did not start, so no ratios");
            return None;
        };
        let version = Command::new(binary).arg("-v").output().ok();
        let version = version.map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string());
        println!(
            "nginx: {} (worker_processes {}{}), static copy of the page",
            version.unwrap_or_default(),
            nginx_workers(),
            match listen_options {
                "" => String::new(),
                options => format!(", listen ... {options}"),
            }
        );
        Some(Nginx {
            _process: process,
            addr,
            root,
        })
    }

    fn set_page(&self, page: &[u8]) {
        std::fs::write(self.root.join("html/index.html"), page).unwrap();
    }
}

/// How many times each side of a ratio is measured (see `median`).
const ROUNDS: usize = 3;

/// The run with the median requests per second.
fn median(mut runs: Vec<WrkResult>) -> WrkResult {
    runs.sort_by(|a, b| a.requests_per_sec.total_cmp(&b.requests_per_sec));
    runs.swap_remove(runs.len() / 2)
}

/// What one wrk run measured.
struct WrkResult {
    requests: u64,
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

fn wrk(
    addr: SocketAddr,
    path: &str,
    connections: u32,
    seconds: u64,
    headers: &[String],
    script: Option<&Path>,
) -> WrkResult {
    let mut command = on_cpu(CLIENT_CPU, "wrk");
    let threads = match PINNED.load(Ordering::Relaxed) {
        true => "-t1",
        false => "-t2",
    };
    command
        .args([threads, "--latency", "--timeout", "5s"])
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"));
    for header in headers {
        command.args(["-H", header]);
    }
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let output = command
        .arg(format!("http://{addr}{path}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let find = |prefix: &str| -> Option<&str> {
        text.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::trim)
    };
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let socket_errors: u64 = find("Socket errors:").map_or(0, |line| {
        line.split(',')
            .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
            .sum()
    });
    let bad_status: u64 = find("Non-2xx or 3xx responses:").map_or(0, |n| n.parse().unwrap_or(0));
    WrkResult {
        requests,
        requests_per_sec: find("Requests/sec:")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0.0),
        p50_ms: find("50%").map_or(f64::NAN, duration_ms),
        p99_ms: find("99%").map_or(f64::NAN, duration_ms),
        errors: socket_errors + bad_status,
    }
}

/// wrk's `74.00us`, `3.83ms`, `1.20s` → milliseconds.
fn duration_ms(text: &str) -> f64 {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        _ => f64::NAN,
    }
}

fn print_row(
    name: &str,
    connections: u32,
    r: &WrkResult,
    peak_kib: u64,
    nginx: Option<&WrkResult>,
) {
    let (nginx_rate, nginx_p99, ratio) = match nginx {
        Some(n) => (
            format!("{:.0}", n.requests_per_sec),
            format!("{:.2}ms", n.p99_ms),
            format!("{:.2}x", r.requests_per_sec / n.requests_per_sec),
        ),
        None => ("-".to_string(), "-".to_string(), "-".to_string()),
    };
    println!(
        "{name:<34} {connections:>5} {:>9.0} {:>6.2}ms {:>6.2}ms {:>6} {:>5.1}MiB {nginx_rate:>10} {nginx_p99:>9} {ratio:>6}",
        r.requests_per_sec,
        r.p50_ms,
        r.p99_ms,
        r.errors,
        peak_kib as f64 / 1024.0
    );
}

fn count_session_files(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().len() == 32)
                .count() as u64
        })
        .unwrap_or(0)
}

/// 1,000 keep-alive connections that each made one request and then wait;
/// meanwhile the server's memory, and a normal client's request time. Then
/// the same after each of them sent one 64 KiB body.
fn idle_connections(work: &Path) {
    let server = Handstamp::start(work, &[]);
    let baseline_kib = server.rss_kib();
    let mut idle = Vec::new();
    for _ in 0..1000 {
        let mut stream = TcpStream::connect(server.addr).unwrap();
        stream
            .write_all(b"GET /login HTTP/1.1\r\nHost: bench\r\n\r\n")
            .unwrap();
        idle.push(stream);
    }
    for stream in &mut idle {
        read_reply_with_length(stream);
    }
    let rss_kib = server.rss_kib();
    let mut times_ms: Vec<f64> = (0..50)
        .map(|_| {
            let started = Instant::now();
            let mut stream = TcpStream::connect(server.addr).unwrap();
            stream
                .write_all(b"GET /login HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut reply = Vec::new();
            stream.read_to_end(&mut reply).unwrap();
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times_ms.sort_by(f64::total_cmp);
    println!(
        "\nidle: 1000 keep-alive connections open: server RSS {:.1} MiB (peak {:.1} MiB), \
         {:.1} kB per connection; a new client's GET /login meanwhile: median {:.2} ms, worst of 50 {:.2} ms",
        rss_kib as f64 / 1024.0,
        server.peak_rss_kib() as f64 / 1024.0,
        rss_kib.saturating_sub(baseline_kib) as f64 * 1.024 / 1000.0,
        times_ms[times_ms.len() / 2],
        times_ms[times_ms.len() - 1]
    );
    // Then 1,000 new connections that each send one 64 KiB body (to
    // /echo, which sends it back) and then idle: what is left of that body.
    drop(idle);
    let body = "x".repeat(64 * 1024);
    let request = format!(
        "POST /echo HTTP/1.1\r\nHost: bench\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let addr = server.addr;
    let posted: Vec<TcpStream> = std::thread::scope(|scope| {
        let groups: Vec<_> = (0..8)
            .map(|_| {
                let request = &request;
                scope.spawn(move || {
                    (0..125)
                        .map(|_| {
                            let mut stream = TcpStream::connect(addr).unwrap();
                            stream.write_all(request.as_bytes()).unwrap();
                            read_reply_with_length(&mut stream);
                            stream
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        groups.into_iter().flat_map(|g| g.join().unwrap()).collect()
    });
    let after_kib = server.rss_kib();
    println!(
        "idle after one 64 KiB POST each ({} connections): server RSS {:.1} MiB, {:.1} kB per connection",
        posted.len(),
        after_kib as f64 / 1024.0,
        after_kib.saturating_sub(baseline_kib) as f64 * 1.024 / 1000.0
    );
}

/// Reads one reply whose body is framed by Content-Length.
fn read_reply_with_length(stream: &mut TcpStream) {
    let mut received = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "server closed a connection early");
        received.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&received);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return;
            }
        }
    }
}

/// The cheap attacks on a connection cap, each at default flags with 1,100
/// attacking connections, against handstamp and (if installed) nginx with
/// the same cap (1,024 connections, one worker) and timeouts (10 s for a
/// head, 5 s idle). Meanwhile a normal client asks for a page ten times a
/// second on a new connection; the share answered within 1 s is what
/// counts, with the server's memory.
fn attacks(work: &Path) {
    println!(
        "\n{:<40} {:>22} {:>10} {:>22}",
        "attack (1,100 connections, 15 s)", "handstamp: within 1 s", "RSS", "nginx: within 1 s"
    );
    let nginx = CappedNginx::start(work);
    for attack in [
        Attack::BlankLines,
        Attack::Slowloris,
        Attack::IdleFlood,
        Attack::NeverReads,
    ] {
        let server = Handstamp::start(work, &[]);
        let (answered, asked) = run_attack(server.addr, attack, "/login");
        let rss = server.rss_kib();
        let reference = nginx
            .as_ref()
            .map(|nginx| run_attack(nginx.addr, attack, "/"));
        println!(
            "{:<40} {:>22} {:>8.1}MiB {:>22}",
            attack.name(),
            format!(
                "{answered}/{asked} ({:.0}%)",
                answered as f64 * 100.0 / asked as f64
            ),
            rss as f64 / 1024.0,
            reference.map_or("-".to_string(), |(a, n)| format!(
                "{a}/{n} ({:.0}%)",
                a as f64 * 100.0 / n as f64
            )),
        );
    }
}

#[derive(Clone, Copy)]
enum Attack {
    /// Sends `\r\n` every 4 s, never a request line.
    BlankLines,
    /// Sends a head one header at a time, slowly, and reconnects when cut.
    Slowloris,
    /// Connects and sends nothing.
    IdleFlood,
    /// Pipelines requests and never reads the answers.
    NeverReads,
}

impl Attack {
    fn name(self) -> &'static str {
        match self {
            Attack::BlankLines => "blank-line trickle (\\r\\n every 4 s)",
            Attack::Slowloris => "slowloris (a header every 4 s, reconnects)",
            Attack::IdleFlood => "idle flood (connect, send nothing)",
            Attack::NeverReads => "never-reading clients (pipelined GETs)",
        }
    }
}

/// Runs `attack` against `addr` for 15 s while probing it; returns
/// (probes answered within 1 s, probes sent).
fn run_attack(addr: SocketAddr, attack: Attack, probe_path: &str) -> (u32, u32) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let attacker = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || attack_loop(addr, attack, &stop))
    };
    std::thread::sleep(Duration::from_secs(3)); // let the attack fill the cap
    let mut answered = 0;
    let mut asked = 0;
    let probe = format!("GET {probe_path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
    let probing_until = Instant::now() + Duration::from_secs(12);
    while Instant::now() < probing_until {
        asked += 1;
        let started = Instant::now();
        let ok = TcpStream::connect_timeout(&addr, Duration::from_secs(1))
            .and_then(|mut stream| {
                stream.set_read_timeout(Some(Duration::from_secs(1)))?;
                stream.write_all(probe.as_bytes())?;
                let mut head = [0u8; 12];
                stream.read_exact(&mut head)?;
                Ok(head.starts_with(b"HTTP/1.1 200"))
            })
            .unwrap_or(false);
        if ok && started.elapsed() < Duration::from_secs(1) {
            answered += 1;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = attacker.join();
    (answered, asked)
}

/// The attacking connections, all on one thread, non-blocking.
fn attack_loop(addr: SocketAddr, attack: Attack, stop: &std::sync::atomic::AtomicBool) {
    const CONNECTIONS: usize = 1100;
    let connect = || {
        let mut stream = TcpStream::connect(addr).ok()?;
        if matches!(attack, Attack::Slowloris) {
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: bench\r\n")
                .ok()?;
        }
        stream.set_nonblocking(true).ok()?;
        Some(stream)
    };
    let mut streams: Vec<Option<TcpStream>> = (0..CONNECTIONS).map(|_| connect()).collect();
    let pipelined = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n".repeat(64);
    let mut last_round = Instant::now() - Duration::from_secs(10);
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let trickle_due = last_round.elapsed() >= Duration::from_secs(4);
        if trickle_due {
            last_round = Instant::now();
        }
        for slot in streams.iter_mut() {
            let Some(stream) = slot else {
                *slot = connect(); // come back, as these attackers do
                continue;
            };
            // A closed connection reads 0 (a refusal reads its 503 first).
            // A never-reading client never reads: it notices a close only
            // when a write fails.
            if !matches!(attack, Attack::NeverReads) {
                let mut scratch = [0u8; 4096];
                let closed = match stream.read(&mut scratch) {
                    Ok(0) => true,
                    Ok(_) => true,
                    Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
                };
                if closed {
                    *slot = None;
                    continue;
                }
            }
            let bytes: &[u8] = match attack {
                Attack::BlankLines if trickle_due => b"\r\n",
                Attack::Slowloris if trickle_due => b"X-a: b\r\n",
                Attack::NeverReads => pipelined.as_bytes(),
                _ => b"",
            };
            if !bytes.is_empty()
                && let Err(e) = stream.write(bytes)
                && e.kind() != std::io::ErrorKind::WouldBlock
            {
                *slot = None;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Where Debian installs nginx, if it is installed.
fn nginx_binary() -> Option<&'static str> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// Writes `config` under `root`, starts nginx with it, and waits until it
/// listens on `port` (5 s at most).
/// Makes nginx's `html` and `logs` folders under `root`, and picks a free
/// port: bind 0, read it, release it for nginx.
fn nginx_folders_and_port(root: &Path) -> u16 {
    std::fs::create_dir_all(root.join("html")).unwrap();
    std::fs::create_dir_all(root.join("logs")).unwrap();
    free_port()
}

/// A port nobody listens on now: bind port 0, note the port, let it go.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running nginx master process, stopped when dropped.
struct NginxProcess(Child);

impl Drop for NginxProcess {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers, then exits (SIGKILL would
        // leave the workers running).
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

fn start_nginx(
    binary: &str,
    root: &Path,
    config: &str,
    port: u16,
) -> Option<(NginxProcess, SocketAddr)> {
    std::fs::write(root.join("nginx.conf"), config).unwrap();
    let mut child = on_cpu(SERVER_CPU, binary)
        .arg("-c")
        .arg(root.join("nginx.conf"))
        .arg("-p")
        .arg(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some((NginxProcess(child), addr))
}

/// nginx with the same cap and timeouts as handstamp's defaults, serving a
/// small static page.
struct CappedNginx {
    /// Held so that nginx stops when this is dropped.
    _process: NginxProcess,
    addr: SocketAddr,
}

impl CappedNginx {
    fn start(work: &Path) -> Option<CappedNginx> {
        let binary = nginx_binary()?;
        let root = work.join("nginx-capped");
        let port = nginx_folders_and_port(&root);
        std::fs::write(root.join("html/index.html"), "<p>hello</p>\n").unwrap();
        let config = format!(
            "worker_processes 1;\npid {root}/nginx.pid;\nerror_log {root}/logs/error.log crit;\ndaemon off;\n\
             worker_rlimit_nofile 4096;\nevents {{ worker_connections 1024; }}\n\
             http {{ access_log off; client_header_timeout 10s; keepalive_timeout 5s; send_timeout 10s;\n\
               server {{ listen 127.0.0.1:{port}; root {root}/html; }} }}\n",
            root = root.display()
        );
        let (process, addr) = start_nginx(binary, &root, &config, port)?;
        Some(CappedNginx {
            _process: process,
            addr,
        })
    }
}

/// W1 beside 10 session files and beside 100,000, run in turns (twice
/// each, the better run counts) so that both see the same machine; then W1
/// while the sweeper deletes 100,000 expired files.
fn many_sessions(work: &Path, seconds: u64) {
    let few_dir = work.join("sessions-10");
    let many_dir = work.join("sessions-100k");
    write_session_files(&few_dir, 10, 0);
    write_session_files(&many_dir, 100_000, 0);
    flush_disk();
    let few = Handstamp::start_in(&few_dir, &["--max-sessions", "1000000"]);
    let many = Handstamp::start_in(&many_dir, &["--max-sessions", "1000000"]);
    let (few_cookie, many_cookie) = (few.log_in("David"), many.log_in("David"));
    let mut best = [(0.0, f64::NAN), (0.0, f64::NAN)];
    for _round in 0..2 {
        for (slot, server, cookie) in [(0, &few, &few_cookie), (1, &many, &many_cookie)] {
            let result = wrk(
                server.addr,
                "/",
                64,
                seconds,
                &[format!("Cookie: {cookie}")],
                None,
            );
            assert_eq!(result.errors, 0, "errors in the many-sessions run");
            if result.requests_per_sec > best[slot].0 {
                best[slot] = (result.requests_per_sec, result.p99_ms);
            }
        }
    }
    println!(
        "\nW1 at 64 connections, best of two runs each: 10 session files {:.0} req/s (p99 {:.2} ms); \
         100,000 session files {:.0} req/s (p99 {:.2} ms): {:.2}x",
        best[0].0,
        best[0].1,
        best[1].0,
        best[1].1,
        best[1].0 / best[0].0
    );
    drop((few, many));

    // Files last used 10 minutes ago and a 4 s TTL: all expired, and the
    // sweeper (every 2 s at this TTL) removes them during the run.
    let dir = work.join("sessions-sweep");
    write_session_files(&dir, 100_000, 600);
    flush_disk();
    let server = Handstamp::start_in(&dir, &["--max-sessions", "1000000", "--session-ttl", "4"]);
    let cookie = server.log_in("David");
    let result = wrk(
        server.addr,
        "/",
        64,
        seconds.max(8),
        &[format!("Cookie: {cookie}")],
        None,
    );
    let left = count_session_files(&dir);
    println!(
        "sweep: W1 at 64 connections while the sweeper removed {} of 100,000 expired files: {:.0} req/s, p99 {:.2} ms, errors {}",
        100_000u64.saturating_sub(left.saturating_sub(1)),
        result.requests_per_sec,
        result.p99_ms,
        result.errors
    );
}

/// A million session files against ten: how long the server takes to
/// start, a login, a logged-in page and the sessions page take, what the
/// sweep costs, and whether logins work with more files than the cap.
fn million_sessions(work: &Path) {
    println!(
        "\n{:<12} {:>9} {:>9} {:>10} {:>10} {:>10} {:>12} {:>14} {:>10}",
        "files",
        "start",
        "counted",
        "1st login",
        "login",
        "page",
        "/sessions",
        "sweeper CPU",
        "logins"
    );
    for count in [10u32, 1_000_000] {
        let dir = work.join(format!("sessions-{count}"));
        write_session_files(&dir, count, 0);
        flush_disk();
        // The default cap (100,000): a million files are ten times over it.
        // A 20 s idle timeout makes the sweeper look every 10 s at most.
        let started = Instant::now();
        let server = Handstamp::start_in(&dir, &["--session-ttl", "20"]);
        let start = started.elapsed();
        let secret = server.sessions_page.clone();
        let time_of = |request: &dyn Fn() -> String, times: u32| {
            let started = Instant::now();
            for _ in 0..times {
                request();
            }
            started.elapsed() / times
        };
        // A folder nobody counted yet is counted in the background just
        // after the start (names only, once; the count then lives in
        // sessions/.count): how long that takes, then the first login,
        // timed alone; the 200 after it are the steady state.
        while !dir.join(".count").exists() {
            std::thread::sleep(Duration::from_millis(10));
        }
        let counted = started.elapsed();
        let first_login = time_of(&|| exchange(server.addr, &login_request("Eve")), 1);
        let mut logins_ok = 0;
        let login = time_of(&|| exchange(server.addr, &login_request("Ann")), 200);
        for _ in 0..20 {
            logins_ok += usize::from(
                exchange(server.addr, &login_request("Bob")).starts_with("HTTP/1.1 303"),
            );
        }
        let cookie = server.log_in("David");
        let page_request = format!(
            "GET / HTTP/1.1\r\nHost: bench\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
        );
        let page = time_of(&|| exchange(server.addr, &page_request), 200);
        let sessions_request =
            format!("GET {secret} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
        let sessions_page = time_of(&|| exchange(server.addr, &sessions_request), 5);
        // The sweeper's share of a core while idle, once its first sweep
        // (10 s after start at this TTL) is behind it: two minutes.
        std::thread::sleep(Duration::from_secs(30).saturating_sub(started.elapsed()));
        let before = cpu_ticks(server.child.id());
        std::thread::sleep(Duration::from_secs(120));
        let sweep_share = (cpu_ticks(server.child.id()) - before) as f64 / (120.0 * 100.0);
        println!(
            "{:<12} {:>7.0}ms {:>7.0}ms {:>8.0}ms {:>8.2}ms {:>8.2}ms {:>10.1}ms {:>13.1}% {:>7}/20",
            count,
            start.as_secs_f64() * 1000.0,
            counted.as_secs_f64() * 1000.0,
            first_login.as_secs_f64() * 1000.0,
            login.as_secs_f64() * 1000.0,
            page.as_secs_f64() * 1000.0,
            sessions_page.as_secs_f64() * 1000.0,
            sweep_share * 100.0,
            logins_ok
        );
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn login_request(name: &str) -> String {
    let body = format!("name={name}");
    format!(
        "POST /login HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The process's user and system CPU time, in clock ticks (1/100 s).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| {
        fields
            .get(n)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// Writes dirty pages out before a run that creates or reads many files,
/// so that the kernel's writeback of an earlier run does not land in it.
fn flush_disk() {
    let _ = Command::new("sync").status();
}

/// Writes `count` session files, last used `age_secs` ago.
fn write_session_files(dir: &Path, count: u32, age_secs: u64) {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(dir).unwrap();
    let now = SystemTime::now();
    let created = now.duration_since(UNIX_EPOCH).unwrap().as_secs() - age_secs;
    let last_used = now - Duration::from_secs(age_secs);
    for i in 0..count {
        let id = format!("{:032x}", u128::from(i) * 0x9e37_79b9_7f4a_7c15 + 1);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(dir.join(&id))
            .unwrap();
        write!(
            file,
            "created={created}\nfrom=192.0.2.{}\nname=user{i}\n",
            i % 250
        )
        .unwrap();
        file.set_modified(last_used).unwrap();
    }
}
