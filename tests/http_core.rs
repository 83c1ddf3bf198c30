//! The HTTP/1.1 core over real sockets: raw bytes in, raw replies checked.

mod common;

use std::io::Write;
use std::time::Duration;

use common::{Client, TempDir, TestServer, assert_refused, get_request};

fn assert_closed(client: &mut Client, context: &str) {
    assert!(
        client.is_closed_by_server(),
        "the server should close the connection after {context}"
    );
}

#[test]
fn first_visit_is_redirected_to_login_without_a_cookie() {
    let server = TestServer::start();
    let reply = server.get("/", None);
    assert_eq!(reply.status_line, "HTTP/1.1 302 Found", "{reply}");
    assert_eq!(reply.header("Location"), Some("/login"), "{reply}");
    assert_eq!(reply.header("Content-Length"), Some("0"), "{reply}");
    assert_eq!(reply.header("Cache-Control"), Some("no-store"), "{reply}");
    assert_eq!(reply.header("Vary"), Some("Cookie"), "{reply}");
    assert!(reply.header("Set-Cookie").is_none(), "{reply}");
    assert!(server.session_dir_entries().is_empty());
}

#[test]
fn every_reply_has_an_imf_fixdate() {
    let server = TestServer::start();
    let reply = server.get("/login", None);
    let date = reply.header("Date").expect("a Date header");
    // Fri, 27 Nov 2026 20:31:25 GMT
    let parts: Vec<&str> = date.split(' ').collect();
    assert_eq!(parts.len(), 6, "{date}");
    assert!(["Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,", "Sun,"].contains(&parts[0]));
    assert_eq!(parts[1].len(), 2, "{date}");
    assert_eq!(parts[3].len(), 4, "{date}");
    assert_eq!(parts[4].len(), 8, "{date}");
    assert_eq!(parts[5], "GMT");
}

#[test]
fn the_login_form_is_html_with_a_name_field() {
    let server = TestServer::start();
    let reply = server.get("/login", None);
    assert_eq!(reply.status_line, "HTTP/1.1 200 OK", "{reply}");
    assert_eq!(
        reply.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        reply.header("Content-Length").unwrap(),
        reply.body.len().to_string()
    );
    let body = reply.body_text();
    assert!(
        body.contains(r#"<form action="/login" method="post">"#),
        "{body}"
    );
    assert!(body.contains(r#"name="name""#), "{body}");
    assert!(body.contains(r#"type="submit""#), "{body}");
    assert!(body.contains("You are not logged in."), "{body}");
    assert!(body.contains(r#"<link rel="stylesheet" href="/static/style.css">"#));
}

#[test]
fn head_gets_the_same_head_and_no_body() {
    // Without the inspector: its panel repeats the request line, so a page
    // asked for by HEAD is a few bytes longer than by GET.
    let server = TestServer::start_with(&["--no-inspector"]);
    let get = server.get("/store", None);
    let mut client = server.connect();
    client.send("HEAD /store HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let head = client.read_head_reply();
    assert_eq!(head.status_line, "HTTP/1.1 200 OK", "{head}");
    assert_eq!(head.header("Content-Length"), get.header("Content-Length"));
    assert_eq!(head.header("Content-Type"), get.header("Content-Type"));
    // Had a body followed, this next reply would start with it.
    client.send(&get_request("/login", None));
    let next = client.read_reply();
    assert_eq!(next.status_line, "HTTP/1.1 200 OK", "{next}");
}

#[test]
fn http11_keeps_the_connection_open_for_more_requests() {
    let server = TestServer::start();
    let mut client = server.connect();
    for path in ["/login", "/store", "/cart", "/static/style.css"] {
        client.send(&get_request(path, None));
        let reply = client.read_reply();
        assert_eq!(reply.status(), 200, "{path}:\n{reply}");
        assert!(reply.header("Connection").is_none(), "{reply}");
    }
}

#[test]
fn connection_close_is_honoured_after_the_reply() {
    let server = TestServer::start();
    let mut client = server.connect();
    client.send("GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let reply = client.read_reply();
    assert_eq!(reply.status(), 200, "{reply}");
    assert_eq!(reply.header("Connection"), Some("close"), "{reply}");
    assert_closed(&mut client, "Connection: close");
}

#[test]
fn http10_closes_unless_asked_to_keep_alive() {
    let server = TestServer::start();
    let mut client = server.connect();
    client.send("GET /login HTTP/1.0\r\n\r\n");
    let reply = client.read_reply();
    assert_eq!(reply.status(), 200, "{reply}");
    assert_eq!(reply.header("Connection"), Some("close"), "{reply}");
    assert_closed(&mut client, "an HTTP/1.0 request");

    let mut client = server.connect();
    client.send("GET /login HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let reply = client.read_reply();
    assert_eq!(reply.header("Connection"), Some("keep-alive"), "{reply}");
    client.send("GET /store HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(client.read_reply().status(), 200);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = TestServer::start();
    let mut client = server.connect();
    let two = format!(
        "{}{}{}",
        get_request("/store", None),
        get_request("/nowhere", None),
        get_request("/", None)
    );
    client.send(&two);
    let store = client.read_reply();
    assert!(store.body_text().contains("<h1>Store</h1>"), "{store}");
    assert_eq!(client.read_reply().status(), 404);
    assert_eq!(client.read_reply().header("Location"), Some("/login"));
}

#[test]
fn a_head_arriving_one_byte_at_a_time_is_parsed() {
    let server = TestServer::start();
    let mut client = server.connect();
    client.stream.set_nodelay(true).unwrap();
    for byte in get_request("/login", Some("lang=en")).bytes() {
        client.send_bytes(&[byte]);
        std::thread::sleep(Duration::from_millis(2)); // shape the input: one read per byte
    }
    let reply = client.read_reply();
    assert_eq!(reply.status_line, "HTTP/1.1 200 OK", "{reply}");
}

#[test]
fn a_body_split_across_writes_is_read_whole() {
    let server = TestServer::start();
    let mut client = server.connect();
    client.stream.set_nodelay(true).unwrap();
    client.send(concat!(
        "POST /login HTTP/1.1\r\nHost: localhost\r\n",
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\nna"
    ));
    std::thread::sleep(Duration::from_millis(50));
    client.send("me=Da");
    std::thread::sleep(Duration::from_millis(50));
    client.send("vid");
    let reply = client.read_reply();
    assert_eq!(reply.status(), 303, "{reply}");
    let id = reply.session_cookie().expect("a session cookie");
    assert!(server.session_file(&id).ends_with("\nname=David\n"));
}

#[test]
fn a_chunked_body_is_decoded() {
    let server = TestServer::start();
    let reply = server.exchange(concat!(
        "POST /login HTTP/1.1\r\nHost: localhost\r\n",
        "Content-Type: application/x-www-form-urlencoded\r\n",
        "Transfer-Encoding: chunked\r\n\r\n",
        "5\r\nname=\r\n",
        "3;ext=1\r\nDav\r\n",
        "2\r\nid\r\n",
        "0\r\nTrailer-Field: x\r\n\r\n"
    ));
    assert_eq!(reply.status(), 303, "{reply}");
    let id = reply.session_cookie().expect("a session cookie");
    assert!(server.session_file(&id).ends_with("\nname=David\n"));
}

#[test]
fn bad_or_conflicting_content_lengths_are_refused() {
    let server = TestServer::start();
    for lengths in [
        "Content-Length: 3\r\nContent-Length: 4",
        "Content-Length: -1",
        "Content-Length: 1x",
        "Content-Length: 1, 1",
        "Content-Length: +4",
        "Content-Length: ",
    ] {
        let request = format!("POST /login HTTP/1.1\r\nHost: a\r\n{lengths}\r\n\r\nname");
        let body = assert_refused(&server, request.as_bytes(), 400);
        assert!(body.contains("Content-Length"), "{lengths}: {body}");
    }
}

#[test]
fn a_body_over_64_kib_is_refused_before_it_is_sent() {
    let server = TestServer::start();
    let mut client = server.connect();
    // Only the head is sent: the 413 must come without waiting for a body.
    client.send("POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: 65537\r\n\r\n");
    let reply = client.read_reply();
    assert_eq!(
        reply.status_line, "HTTP/1.1 413 Content Too Large",
        "{reply}"
    );
    assert_closed(&mut client, "a 413");

    // Exactly 64 KiB is allowed (and is then a bad login form: 400, not 413).
    let body = format!("name={}", "a".repeat(65536 - 5));
    let reply = server.post_form("/login", &body, None);
    assert_eq!(reply.status(), 400, "{reply}");
}

#[test]
fn a_chunked_body_over_64_kib_is_refused() {
    let server = TestServer::start();
    let chunk = "a".repeat(40_000);
    let request = format!(
        "POST /login HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len(),
        chunk.len()
    );
    assert_refused(&server, request.as_bytes(), 413);
}

#[test]
fn a_malformed_chunk_is_refused() {
    let server = TestServer::start();
    for chunks in [
        "zz\r\nab\r\n0\r\n\r\n",
        "2\r\nabc\r\n0\r\n\r\n",
        "2\nab\r\n0\r\n\r\n",
    ] {
        let request = format!(
            "POST /login HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{chunks}"
        );
        assert_refused(&server, request.as_bytes(), 400);
    }
}

#[test]
fn a_head_over_8_kib_gets_431() {
    let server = TestServer::start();
    let request = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "b".repeat(9000)
    );
    assert_refused(&server, request.as_bytes(), 431);
    // A head that never ends is refused as soon as it passes the limit.
    let mut client = server.connect();
    client.send(&format!(
        "GET / HTTP/1.1\r\nX-Endless: {}",
        "b".repeat(9000)
    ));
    assert_eq!(client.read_reply().status(), 431);
}

#[test]
fn more_than_100_headers_get_431() {
    let server = TestServer::start();
    let headers: String = (0..101).map(|i| format!("X-{i}: v\r\n")).collect();
    let request = format!("GET / HTTP/1.1\r\nHost: a\r\n{headers}\r\n");
    assert_refused(&server, request.as_bytes(), 431);
    let headers: String = (0..99).map(|i| format!("X-{i}: v\r\n")).collect();
    let reply = server.exchange(&format!("GET /login HTTP/1.1\r\nHost: a\r\n{headers}\r\n"));
    assert_eq!(reply.status(), 200, "100 headers are allowed:\n{reply}");
}

#[test]
fn expect_100_continue_gets_the_go_ahead_before_the_body() {
    let server = TestServer::start();
    let mut client = server.connect();
    client.send(concat!(
        "POST /login HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n",
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\n"
    ));
    let interim = client.read_reply();
    assert_eq!(interim.raw, "HTTP/1.1 100 Continue\r\n\r\n");
    client.send("name=David");
    let reply = client.read_reply();
    assert_eq!(reply.status(), 303, "{reply}");

    // A body that would be refused gets the refusal instead of the go-ahead.
    let mut client = server.connect();
    client.send(
        "POST /login HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 99999\r\n\r\n",
    );
    assert_eq!(client.read_reply().status(), 413);

    let mut client = server.connect();
    client.send("POST /login HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\nContent-Length: 4\r\n\r\n");
    assert_eq!(client.read_reply().status(), 417);
}

#[test]
fn unknown_paths_get_404_and_wrong_methods_get_405_with_allow() {
    let server = TestServer::start();
    let reply = server.get("/nowhere", None);
    assert_eq!(reply.status_line, "HTTP/1.1 404 Not Found", "{reply}");
    assert!(reply.body_text().contains("/nowhere"));

    for (request, allow) in [
        ("DELETE /login", "GET, HEAD, POST, OPTIONS"),
        ("POST /", "GET, HEAD, OPTIONS"),
        ("PUT /cart", "GET, HEAD, POST, OPTIONS"),
        ("POST /store", "GET, HEAD, OPTIONS"),
        ("POST /static/style.css", "GET, HEAD, OPTIONS"),
    ] {
        let reply = server.exchange(&format!(
            "{request} HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"
        ));
        assert_eq!(
            reply.status_line, "HTTP/1.1 405 Method Not Allowed",
            "{reply}"
        );
        assert_eq!(reply.header("Allow"), Some(allow), "{request}:\n{reply}");
    }
}

#[test]
fn a_request_is_answered_after_the_client_stops_sending() {
    let server = TestServer::start();
    let mut client = server.connect();
    client.send(&format!(
        "{}{}",
        get_request("/login", None),
        get_request("/store", None)
    ));
    client.shut_down_sending();
    assert_eq!(client.read_reply().status(), 200);
    assert_eq!(client.read_reply().status(), 200);
    assert_closed(&mut client, "the client shut down its side");
}

#[test]
fn a_panicking_handler_becomes_a_500_and_the_server_goes_on() {
    let server = TestServer::start();
    let mut client = server.connect();
    client.send(&get_request("/debug/panic", None));
    let reply = client.read_reply();
    assert_eq!(
        reply.status_line, "HTTP/1.1 500 Internal Server Error",
        "{reply}"
    );
    // The same connection, and new ones, still work.
    client.send(&get_request("/login", None));
    assert_eq!(client.read_reply().status(), 200);
    assert_eq!(server.get("/store", None).status(), 200);
    server.wait_for_log("panicked on purpose");
}

#[test]
fn a_head_not_complete_in_10_seconds_gets_408() {
    let server = TestServer::start();
    let mut client = server.connect();
    client.send("GET / HTTP/1.1\r\nHost: a\r\n");
    let reply = client.read_reply();
    assert_eq!(reply.status_line, "HTTP/1.1 408 Request Timeout", "{reply}");
    assert_closed(&mut client, "a 408");
}

#[test]
fn an_idle_keep_alive_connection_is_closed() {
    let server = TestServer::start();
    let mut client = server.connect();
    client.send(&get_request("/login", None));
    assert_eq!(client.read_reply().status(), 200);
    // No more requests: the server closes after its idle timeout, silently.
    assert_closed(&mut client, "the idle timeout");
}

#[test]
fn a_connection_that_never_sends_a_byte_is_closed_too() {
    // The kernel holds such a connection back from `accept` for a second
    // (TCP_DEFER_ACCEPT), then the server takes it and closes it after
    // the 5 s idle timeout: about 6 s in all, without any answer.
    let server = TestServer::start();
    let mut silent = server.connect();
    let started = std::time::Instant::now();
    assert_closed(&mut silent, "a connection that sends nothing");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_secs(9),
        "closed after {waited:?}"
    );
}

#[test]
fn slow_clients_do_not_hold_up_a_fast_one() {
    let server = TestServer::start();
    let mut slow_clients: Vec<Client> = (0..50).map(|_| server.connect()).collect();
    for client in &mut slow_clients {
        client.send("GET / HT"); // and nothing more for now
    }
    let silent = server.connect(); // sends nothing at all
    for _ in 0..5 {
        assert_eq!(server.get("/login", None).status(), 200);
    }
    // The slow ones are still waiting mid-head, not answered or dropped.
    for client in &mut slow_clients {
        client.send("TP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(client.read_reply().status(), 302);
    }
    drop(silent);
}

#[test]
fn past_the_cap_a_newcomer_gets_503_only_when_every_connection_is_mid_request() {
    let server = TestServer::start_with(&["--max-connections", "2"]);
    // Two requests whose bodies are still on their way: both busy.
    let mut first = server.connect();
    let mut second = server.connect();
    for client in [&mut first, &mut second] {
        client.send("POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nname=");
    }
    // Both workers are now reading bodies; a third connection has no room.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let reply = loop {
        let mut third = server.connect();
        third.send(&get_request("/login", None));
        let reply = third.read_reply();
        if reply.status() == 503 {
            assert_closed(&mut third, "a 503");
            break reply;
        }
        // The two heads may not have been read yet: ask again.
        assert!(
            std::time::Instant::now() < deadline,
            "never refused:\n{reply}"
        );
    };
    assert!(reply.body_text().contains("busy"), "{reply}");

    // Once the two finish, their workers take new connections.
    for client in [&mut first, &mut second] {
        client.send("David");
        assert_eq!(client.read_reply().status(), 303);
    }
    drop(first);
    drop(second);
    // A worker may not have marked its connection idle yet when the client
    // has already read the answer and gone; for that instant it still
    // counts as answering, and a newcomer gets 503. So: served within 1 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    loop {
        let status = server.get("/login", None).status();
        if status == 200 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still {status}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn at_the_cap_idle_and_half_sent_connections_make_room_for_a_newcomer() {
    let server = TestServer::start_with(&["--max-connections", "20", "--quiet"]);
    // Ten idle keep-alive connections, five that trickle blank lines, five
    // that stopped in the middle of a head: the cap is full, none busy.
    let mut holders = Vec::new();
    for _ in 0..10 {
        let mut client = server.connect();
        client.send(&get_request("/login", None));
        assert_eq!(client.read_reply().status(), 200);
        holders.push(client);
    }
    for _ in 0..5 {
        let mut client = server.connect();
        client.send("\r\n");
        holders.push(client);
    }
    for _ in 0..5 {
        let mut client = server.connect();
        client.send("GET /login HTTP/1.1\r\nHo");
        holders.push(client);
    }
    // Newcomers are served, each within a second, by reclaiming the
    // connections that wait longest.
    for _ in 0..30 {
        let started = std::time::Instant::now();
        let reply = server.get("/login", None);
        assert_eq!(reply.status(), 200, "{reply}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }
}

#[test]
fn blank_lines_count_toward_the_head_deadline() {
    // A client that sends a blank line every 2 s is still sending a head:
    // it gets 408 at the 10 s head timeout, like any slow head.
    let server = TestServer::start();
    let mut client = server.connect();
    client
        .stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    while answer.is_empty() && started.elapsed() < Duration::from_secs(20) {
        let _ = client.stream.write_all(b"\r\n");
        let mut chunk = [0u8; 1024];
        if let Ok(n) = std::io::Read::read(&mut client.stream, &mut chunk) {
            answer.extend_from_slice(&chunk[..n]);
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{answer:?}"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(13),
        "{waited:?}"
    );
}

#[test]
fn static_files_are_served_with_their_type() {
    let server = TestServer::start();
    let reply = server.get("/static/style.css", None);
    assert_eq!(reply.status(), 200, "{reply}");
    assert_eq!(
        reply.header("Content-Type"),
        Some("text/css; charset=utf-8")
    );
    let on_disk = std::fs::read(format!("{}/static/style.css", common::WWW_DIR)).unwrap();
    assert_eq!(reply.body, on_disk);
}

#[test]
fn nothing_outside_the_static_folder_is_ever_served() {
    // A copy of www with two symlinks: one leading out, one staying in.
    let temp = TempDir::new("www");
    let www = temp.0.join("www");
    copy_dir(std::path::Path::new(common::WWW_DIR), &www);
    std::fs::write(temp.0.join("secret.txt"), "top secret").unwrap();
    std::os::unix::fs::symlink(temp.0.join("secret.txt"), www.join("static/leak.txt")).unwrap();
    std::os::unix::fs::symlink("style.css", www.join("static/alias.css")).unwrap();
    let www_arg = www.display().to_string();
    let server = TestServer::start_with(&["--www", &www_arg]);

    assert_eq!(server.get("/static/alias.css", None).status(), 200);
    // A path that could step out is refused for what it is (400, with the
    // reason); the symlink that leads out resolves outside: no such file.
    for (path, status) in [
        ("/static/../items.txt", 400),
        ("/static/../../secret.txt", 400),
        ("/static/%2e%2e/items.txt", 400),
        ("/static/%2E%2E%2Fitems.txt", 400),
        ("/static/..%2f..%2fsecret.txt", 400),
        ("/static/..%5citems.txt", 400),
        ("/static/%5c..%5c..%5csecret.txt", 400),
        ("/static/%2fetc%2fpasswd", 400),
        ("/static//etc/passwd", 400),
        ("/static/style.css%00.txt", 400),
        ("/static/", 400),
        ("/static/.hidden", 400),
        ("/static/C:%5cwindows", 400),
        ("/static/leak.txt", 404),
        ("/static/missing.css", 404),
    ] {
        let reply = server.get(path, None);
        assert_eq!(reply.status(), status, "{path}:\n{reply}");
        if status == 400 {
            assert!(
                reply.body_text().contains("A static file path may not"),
                "{reply}"
            );
        }
        let body = reply.body_text();
        assert!(
            !body.contains("top secret") && !body.contains("Red hand stamp"),
            "{path}"
        );
        assert!(!body.contains("root:"), "{path}");
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn the_log_shows_the_cookie_round_trip_with_ids_cut_to_eight_digits() {
    let server = TestServer::start();
    let first = server.get("/", None);
    assert_eq!(first.status(), 302);
    server.wait_for_log("GET / 302 -> /login  cookie: -  set-cookie: -  (no session: no cookie)\n");
    let id = common::log_in(&server, "David");
    let short = &id[..8];
    let reply = server.get("/", Some(&format!("session={id}")));
    assert_eq!(reply.status(), 200);
    server.wait_for_log(&format!(
        "POST /login 303 -> /  cookie: -  set-cookie: session={short}…\n"
    ));
    server.wait_for_log(&format!(
        "GET / 200  cookie: session={short}…  set-cookie: -\n"
    ));
    let logout = server.get("/logout", Some(&format!("session={id}")));
    assert_eq!(logout.status(), 302);
    // The panel's own cookie goes first (redirect_link.rs says why).
    server.wait_for_log(&format!(
        "GET /logout 302 -> /  cookie: session={short}…  set-cookie: inspector="
    ));
    server.wait_for_log("…, session= (expired)\n");
    let after = server.get("/", Some(&format!("session={id}")));
    assert_eq!(after.status(), 302);
    server.wait_for_log(&format!(
        "GET / 302 -> /login  cookie: session={short}…  set-cookie: -  (no session: no such file)\n"
    ));
    let made_up = server.get("/", Some("session=../../etc/passwd"));
    assert_eq!(made_up.status(), 302);
    server.wait_for_log(
        "cookie: session=../../etc/passwd  set-cookie: -  (no session: malformed id)\n",
    );
    assert!(
        !server.log().contains(&id),
        "a whole id in the log:\n{}",
        server.log()
    );
}

#[test]
fn trace_prints_both_heads_as_they_went_over_the_wire() {
    let server = TestServer::start_with(&["--trace"]);
    let mut client = server.connect();
    client.send("GET / HTTP/1.1\r\nHost: traced\r\nCookie: lang=en\r\n\r\n");
    let reply = client.read_reply();
    server.wait_for_log("< Location: /login\n");
    let log = server.log();
    for line in [
        "> GET / HTTP/1.1\n",
        "> Host: traced\n",
        "> Cookie: lang=en\n",
        "< HTTP/1.1 302 Found\n",
        &format!("< Date: {}\n", reply.header("Date").unwrap()),
    ] {
        assert!(log.contains(line), "missing {line:?} in:\n{log}");
    }
}

#[test]
fn raw_bytes_that_are_not_http_never_stop_the_server() {
    let server = TestServer::start();
    let mut noise = server.connect();
    let junk: Vec<u8> = (0..=255u8).cycle().take(20_000).collect();
    let _ = noise.stream.write_all(&junk);
    let _ = noise.read_to_close();
    assert_eq!(server.get("/login", None).status(), 200);
}
