//! Hostile clients over real sockets. Each test checks the reply and that
//! the server still serves the next, ordinary client.

mod common;

use std::time::{Duration, Instant};

use common::{Client, TestServer, get_request, log_in};

fn assert_still_serving(server: &TestServer) {
    let reply = server.get("/login", None);
    assert_eq!(reply.status(), 200, "the server stopped serving:\n{reply}");
}

/// Sends raw bytes and returns the status of the reply; the connection must
/// close after it.
fn refused_with(server: &TestServer, request: &str) -> u16 {
    let mut client = server.connect();
    client.send(request);
    let reply = client.read_reply();
    assert!(client.is_closed_by_server(), "not closed after:\n{reply}");
    reply.status()
}

#[test]
fn request_smuggling_shapes_are_refused() {
    let server = TestServer::start();
    for (head, status) in [
        ("Content-Length: 4\r\nTransfer-Encoding: chunked", 400),
        ("Transfer-Encoding: chunked\r\nContent-Length: 4", 400),
        ("Content-Length: 4\r\nContent-Length: 5", 400),
        ("Content-Length: 4, 5", 400),
        // RFC 9112 §6.3: unless chunked is the last coding, and only once,
        // nobody can tell where the body ends: 400. A coding before it that
        // the server cannot undo is 501.
        ("Transfer-Encoding: xchunked", 400),
        ("Transfer-Encoding: chunked, identity", 400),
        ("Transfer-Encoding: identity, chunked", 501),
        (
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
            400,
        ),
        ("Transfer-Encoding: chunked;q=1", 400),
        ("Transfer-Encoding: ,chunked", 400),
        ("Transfer-Encoding:", 400),
        ("Transfer-Encoding : chunked", 400),
        ("Content-Length : 4", 400),
        (" Transfer-Encoding: chunked", 400),
        ("X: y\nTransfer-Encoding: chunked", 400),
    ] {
        let request = format!("POST /login HTTP/1.1\r\nHost: a\r\n{head}\r\n\r\n0\r\n\r\n");
        assert_eq!(refused_with(&server, &request), status, "{head:?}");
        assert_still_serving(&server);
    }
    // HTTP/1.0 has no chunked coding: a 1.0 request that claims it is refused.
    let request = "POST /login HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(refused_with(&server, request), 400);
}

#[test]
fn a_smuggled_second_request_in_a_body_is_only_a_body() {
    let server = TestServer::start();
    // The body is exactly Content-Length bytes; what looks like a request
    // inside it is form data, and the next real request is answered next.
    let hidden = "GET /logout HTTP/1.1\r\nHost: a\r\n\r\n";
    let body = format!("name=x&{hidden}");
    let mut client = server.connect();
    client.send(&format!(
        "POST /login HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{body}{}",
        body.len(),
        get_request("/store", None)
    ));
    assert_eq!(client.read_reply().status(), 303);
    let next = client.read_reply();
    assert!(next.body_text().contains("<h1>Store</h1>"), "{next}");
}

#[test]
fn slowloris_clients_trickling_heads_do_not_delay_a_normal_client() {
    let server = TestServer::start();
    let head = get_request("/login", None).into_bytes();
    let mut trickling: Vec<Client> = (0..200).map(|_| server.connect()).collect();
    let started = Instant::now();
    let mut sent = 0;
    // Every client sends one more byte every 50 ms, for about 2 seconds,
    // never finishing its head; a normal client asks in between.
    while started.elapsed() < Duration::from_secs(2) {
        for client in &mut trickling {
            client.send_bytes(&head[sent % 10..sent % 10 + 1]);
        }
        sent += 1;
        let reply = server.get("/store", None);
        assert_eq!(reply.status(), 200, "{reply}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // They are all still connected and waiting (their 10 s are not up).
    for client in &mut trickling[..5] {
        client.send(&String::from_utf8_lossy(&head[sent % 10 + 1..]));
    }
    drop(trickling);
    assert_still_serving(&server);
}

#[test]
fn a_connection_flood_past_the_cap_gets_answers_and_the_server_recovers() {
    let server = TestServer::start_with(&["--max-connections", "20"]);
    let mut flood: Vec<Client> = (0..100).map(|_| server.connect()).collect();
    for client in &mut flood {
        client.send("GET /login HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    }
    // Each is served, or refused with 503 when every one of the 20 places
    // was busy with a request, or, at the cap, closed before its request
    // was read to make room for a newer one (server.rs, reclaim_one).
    let replies: Vec<String> = flood.iter_mut().map(|c| c.read_to_close()).collect();
    let served = replies
        .iter()
        .filter(|r| r.starts_with("HTTP/1.1 200 OK\r\n"))
        .count();
    let refused = replies
        .iter()
        .filter(|r| r.starts_with("HTTP/1.1 503 "))
        .count();
    let closed = replies.iter().filter(|r| r.is_empty()).count();
    assert_eq!(served + refused + closed, 100, "{replies:?}");
    assert!(
        served >= 20,
        "served {served}, refused {refused}, closed {closed}"
    );
    drop(flood);
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.get("/login", None).status() != 200 {
        assert!(Instant::now() < deadline, "never recovered after the flood");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_huge_or_deeply_encoded_form_is_decoded_once_and_checked() {
    let server = TestServer::start();
    // %252525... decodes once, to "%2525...": stored with its '%' escaped
    // again, and shown as it was decoded.
    let id = log_in(&server, "%252525252525252525");
    let file = server.session_file(&id);
    assert!(file.ends_with("\nname=%252525252525252525\n"), "{file}");
    let page = server.get("/", Some(&format!("session={id}"))).body_text();
    assert!(
        page.contains("You are logged in as %2525252525252525."),
        "{page}"
    );

    // 60 KiB of escapes: a name far too long, refused with the reason.
    let body = format!("name={}", "%41".repeat(20_000));
    let reply = server.post_form("/login", &body, None);
    assert_eq!(reply.status(), 400);
    assert!(reply.body_text().contains("this one has 20000"), "{reply}");

    // Thousands of empty fields and one real one.
    let body = format!("{}name=Ann", "&".repeat(60_000));
    assert_eq!(server.post_form("/login", &body, None).status(), 303);
    assert_still_serving(&server);
}

#[test]
fn a_name_full_of_html_and_control_characters_never_reaches_a_page_raw() {
    let server = TestServer::start();
    let reply = server.post_form(
        "/login",
        "name=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E%07%1B",
        None,
    );
    assert_eq!(reply.status(), 400, "control characters are refused");
    let form = reply.body_text();
    assert!(!form.contains("<img"), "{form}");
    assert!(
        form.contains("value=\"&lt;img src=x onerror=alert(1)&gt;"),
        "{form}"
    );

    let id = log_in(&server, "%3Cimg+src%3Dx+onerror%3Dalert(1)%3E");
    let page = server.get("/", Some(&format!("session={id}"))).body_text();
    assert!(
        page.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{page}"
    );
    assert!(!page.contains("<img"));
}

#[test]
fn hostile_request_targets_are_answered_not_followed() {
    let server = TestServer::start();
    // Outside /static/ a path only names a route or nothing (404); a path
    // that is not UTF-8 once decoded, or a static path that steps out, is
    // malformed (400).
    let long = format!("/{}", "a/".repeat(3000));
    for (target, status) in [
        ("/%00", 404),
        ("/login%00", 404),
        ("/%2e%2e/%2e%2e/etc/passwd", 404),
        ("//etc/passwd", 404),
        (long.as_str(), 404),
        ("/static/%2e%2e%2f%2e%2e%2fCargo.toml", 400),
        ("/%ff%fe", 400),
    ] {
        let reply = server.get(target, None);
        assert_eq!(reply.status(), status, "{target}:\n{reply}");
        assert!(!reply.body_text().contains("[package]"), "{target}");
    }
    assert_still_serving(&server);
}
