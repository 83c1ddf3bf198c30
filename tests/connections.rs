//! No cheap client can lock others out or stop the server: descriptors,
//! logging, slow readers and hostile bytes in log lines, over real sockets.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestServer, get_request, log_in};

#[test]
fn a_low_open_file_limit_lowers_the_connection_cap_and_says_so() {
    // (200 - 128 reserved) / 4 per connection = 18 connections.
    let server = TestServer::start_with_open_file_limit(200, &["--quiet"]);
    server.wait_for_log("open-file limit 200: serving at most 18 connections at once, not 1024");
    let id = log_in(&server, "David");
    // Far more idle connections than descriptors would allow...
    let mut idle = Vec::new();
    for _ in 0..60 {
        let mut client = server.connect();
        client.send(&get_request("/login", None));
        assert_eq!(client.read_reply().status(), 200);
        // Kept open and idle; the oldest are reclaimed as newer ones come.
        idle.push(client);
    }
    // ...and the logged-in visitor is still served and still logged in:
    // connections never take the descriptors that session files need.
    for _ in 0..10 {
        let home = server.get("/", Some(&format!("session={id}")));
        assert!(
            home.body_text().contains("You are logged in as David."),
            "{home}"
        );
        let add = server.post_form("/cart", "id=1", Some(&format!("session={id}")));
        assert_eq!(add.status(), 303, "{add}");
    }
}

#[test]
fn a_folder_or_fifo_named_like_a_session_is_refused_at_once_and_logged() {
    let server = TestServer::start();
    let folder_id = log_in(&server, "David");
    let path = server.session_path(&folder_id);
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    // A FIFO: opening it for reading would wait for a writer for ever.
    let fifo_id = "0123456789abcdef0123456789abcdef";
    let made = std::process::Command::new("mkfifo")
        .arg(server.session_path(fifo_id))
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    for id in [folder_id.as_str(), fifo_id] {
        for (request, what) in [
            (get_request("/", Some(&format!("session={id}"))), "GET /"),
            (
                get_request("/cart", Some(&format!("session={id}"))),
                "GET /cart",
            ),
            (
                common::post_form_request("/logout", "", Some(&format!("session={id}"))),
                "POST /logout",
            ),
        ] {
            let started = std::time::Instant::now();
            let reply = server.exchange(&request);
            assert!(
                reply.status() < 400,
                "{what} with {id}: no session, not an error:\n{reply}"
            );
            assert!(
                started.elapsed() < std::time::Duration::from_secs(2),
                "{what} waited"
            );
        }
        server.wait_for_log(&format!(
            "session {}…: corrupt session file: not a regular file",
            &id[..8]
        ));
    }
    // The sessions page lists the folder around them, without waiting.
    assert_eq!(server.get(&server.sessions_page, None).status(), 200);
    assert!(
        path.is_dir() && server.session_path(fifo_id).exists(),
        "never deleted"
    );
}

/// Starts the server with stdout piped, reads only its first line, and
/// then either stops reading (`close` false) or closes the pipe.
fn start_with_unread_stdout(
    extra: &[&str],
    close: bool,
) -> (
    Child,
    SocketAddr,
    common::TempDir,
    Option<BufReader<std::process::ChildStdout>>,
) {
    let temp = common::TempDir::new("unread");
    let mut child = Command::new(common::BINARY)
        .args([
            "--addr",
            "127.0.0.1:0",
            "--www",
            common::WWW_DIR,
            "--sessions",
        ])
        .arg(temp.0.join("sessions"))
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on http://")
        .unwrap()
        .parse()
        .unwrap();
    let stdout = if close { None } else { Some(stdout) };
    (child, addr, temp, stdout)
}

fn request_status(addr: SocketAddr, request: &str) -> u16 {
    let mut client = common::Client::connect(addr);
    client.send(request);
    client.read_reply().status()
}

#[test]
fn a_log_nobody_reads_never_stalls_the_server() {
    // 3,000 requests' lines (about 300 kB) into a pipe that holds 64 kB.
    let (mut child, addr, _temp, _unread) = start_with_unread_stdout(&["--trace"], false);
    let mut client = common::Client::connect(addr);
    for _ in 0..3000 {
        client.send(&get_request("/login", None));
        assert_eq!(client.read_reply().status(), 200);
    }
    assert!(child.try_wait().unwrap().is_none(), "the server died");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_closed_stdout_costs_log_lines_not_the_server_or_its_sweeper() {
    let (mut child, addr, temp, _) = start_with_unread_stdout(&["--session-ttl", "1"], true);
    let login = {
        let mut client = common::Client::connect(addr);
        client.send(&common::post_form_request("/login", "name=David", None));
        client.read_reply()
    };
    let id = login.session_cookie().unwrap();
    for _ in 0..50 {
        assert_eq!(request_status(addr, &get_request("/login", None)), 200);
    }
    // The sweeper (which logs what it removed) still removes expired files.
    let path = temp.0.join("sessions").join(&id);
    let deadline = Instant::now() + Duration::from_secs(20);
    while path.exists() {
        assert!(Instant::now() < deadline, "the sweeper stopped");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(request_status(addr, &get_request("/login", None)), 200);
    assert!(child.try_wait().unwrap().is_none(), "the server died");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn every_client_byte_in_a_log_line_is_escaped_one_way() {
    let server = TestServer::start_with(&["--trace"]);
    // U+009B, U+0085, U+202E and U+2028, each of which some terminal or
    // viewer takes for a line break or a reordering.
    let hostile = "a\u{9b}b\u{85}c\u{202e}d\u{2028}e";
    let requests = [
        format!("GET /{hostile} HTTP/1.1\r\nHost: a\r\n\r\n"),
        format!("POST /login HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: {hostile}\r\n\r\n"),
        format!(
            "POST /login HTTP/1.1\r\nHost: a\r\nExpect: {hostile}\r\nContent-Length: 1\r\n\r\n"
        ),
        format!("GET /login HTTP/1.1\r\nHost: a\r\nCookie: session={hostile}\r\n\r\n"),
    ];
    for request in &requests {
        let mut client = server.connect();
        client.send(request);
        let _ = client.read_reply();
    }
    server.wait_for_log("Cookie: session=a\\u{9b}b");
    let log = server.log();
    for forbidden in ['\u{9b}', '\u{85}', '\u{202e}', '\u{2028}', '\x1b'] {
        assert!(
            !log.contains(forbidden),
            "{forbidden:?} reached the log:\n{log}"
        );
    }
    for shown in [
        "refused: 400 (the request is malformed: the request target has the byte 0xC2",
        "refused: 400 (the request is malformed: the Transfer-Encoding 'a\\u{9b}b\\u{85}c\\u{202e}d\\u{2028}e' does not end in chunked",
        "refused: 417 (the expectation 'a\\u{9b}b\\u{85}c\\u{202e}d\\u{2028}e' is not supported",
        "GET /login 200  cookie: session=a\\u{9b}b\\u{85}c\\u{202e}d\\u{2028}e  set-cookie: -",
        "> Cookie: session=a\\u{9b}b\\u{85}c\\u{202e}d\\u{2028}e",
    ] {
        assert!(log.contains(shown), "missing {shown:?} in:\n{log}");
    }
}

#[test]
fn a_client_that_never_reads_holds_its_worker_for_one_deadline_only() {
    let server = TestServer::start_with(&["--max-connections", "1", "--quiet"]);
    // Pipelined /echo requests whose answers fill every buffer between us,
    // sent by a thread; nobody ever reads them.
    let addr = server.addr;
    let mut stuck = TcpStream::connect(addr).unwrap();
    let mut writer = stuck.try_clone().unwrap();
    let started = Instant::now();
    std::thread::spawn(move || {
        let head = format!(
            "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 60000\r\n\r\n{}",
            "x".repeat(60000)
        );
        while writer.write_all(head.as_bytes()).is_ok() {}
    });
    // Wait until the server has given up on it: it then closes it.
    stuck
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let mut sink = [0u8; 1];
    // Reading one byte would relieve the pressure; instead probe the cap:
    // the one worker is busy writing, so newcomers wait or get 503, until
    // the deadline frees it.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut client = common::Client::connect(addr);
        client.send(&get_request("/login", None));
        if client.read_reply().status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the worker was never freed");
        std::thread::sleep(Duration::from_millis(200));
    }
    let freed_after = started.elapsed();
    assert!(
        freed_after < Duration::from_secs(14),
        "held {freed_after:?}"
    );
    let _ = stuck.read(&mut sink);
}

/// Threads of the server process, from /proc.
fn thread_count(server: &TestServer) -> usize {
    std::fs::read_dir(format!("/proc/{}/task", server.pid()))
        .unwrap()
        .count()
}

#[test]
fn after_a_burst_the_worker_pool_shrinks_again() {
    let server = TestServer::start_with(&["--quiet"]);
    // One request first, so every thread the server keeps (main, log
    // writer, sweeper, closer, a worker waiting in accept) has started.
    assert_eq!(server.get("/login", None).status(), 200);
    std::thread::sleep(Duration::from_millis(200));
    let before = thread_count(&server);
    // Thirty connections open at once: thirty workers, and one more.
    let mut burst: Vec<_> = (0..30).map(|_| server.connect()).collect();
    for client in &mut burst {
        client.send(&get_request("/login", None));
        assert_eq!(client.read_reply().status(), 200);
    }
    let during = thread_count(&server);
    assert!(during > before + 20, "{before} threads, then {during}");
    drop(burst);
    // Each spare worker ends after waiting one idle timeout (5 s) in
    // accept; the one left waiting, and the other threads, stay.
    let deadline = Instant::now() + Duration::from_secs(20);
    while thread_count(&server) > before {
        assert!(
            Instant::now() < deadline,
            "{before} threads at start, {during} during the burst, {} 20 s after",
            thread_count(&server)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // And the pool still grows and serves.
    assert_eq!(server.get("/login", None).status(), 200);
}
