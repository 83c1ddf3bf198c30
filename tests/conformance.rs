//! HTTP/1.1 conformance: every protocol rule of RFC 9110 and RFC 9112 that
//! outside suites check, as raw bytes over a real socket. (Framing, the
//! version and the target forms live here only; tests/http_core.rs keeps
//! the server's own limits and behaviours.) Each refusal is
//! checked for its exact status, for `Connection: close` and a closed
//! connection where the framing is in doubt, and for the next client being
//! served. The cases of the h1spec suites (dropseed/h1spec and
//! uNetworking/h1spec) are written here in our own words; the few whose
//! expected answer depends on `/` answering 200 or `POST /` being accepted
//! are listed in NOTES.md ("Conformance").

mod common;

use common::{Client, TestServer, assert_refused};

/// Sends `request` on a new connection; returns the reply and whether the
/// server then closed the connection.
fn send(server: &TestServer, request: &[u8]) -> (common::Reply, bool) {
    let mut client = server.connect();
    client.send_bytes(request);
    let reply = client.read_reply();
    let closed = reply.header("Connection") == Some("close") && client.is_closed_by_server();
    (reply, closed)
}

/// Expects `status` and a connection that stays open for another request.
fn answered(server: &TestServer, request: &[u8], status: u16) -> common::Reply {
    let mut client = server.connect();
    client.send_bytes(request);
    let reply = client.read_reply();
    assert_eq!(
        reply.status(),
        status,
        "for {:?}:\n{reply}",
        String::from_utf8_lossy(request)
    );
    client.send(&common::get_request("/login", None));
    assert_eq!(client.read_reply().status(), 200, "the connection goes on");
    reply
}

#[test]
fn host_must_be_a_valid_host_and_port() {
    let server = TestServer::start();
    for host in [
        "bad host",
        "user@127.0.0.1:8080",
        "127.0.0.1:8080/path",
        "127.0.0.1:8080, other.example.com",
        "a\x00b",
        "[::1",
        "host:port",
    ] {
        let request = format!("GET /login HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert_refused(&server, request.as_bytes(), 400);
    }
    for host in [
        "localhost",
        "127.0.0.1:8080",
        "[::1]:8080",
        "example.com",
        "",
    ] {
        let request = format!("GET /login HTTP/1.1\r\nHost: {host}\r\n\r\n");
        answered(&server, request.as_bytes(), 200);
    }
    assert_refused(&server, b"GET /login HTTP/1.1\r\n\r\n", 400);
    assert_refused(
        &server,
        b"GET /login HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        400,
    );
    answered(
        &server,
        b"GET /login HTTP/1.1\r\nhoSt:\texample.com\r\nempty:\r\n\r\n",
        200,
    );
}

#[test]
fn a_malformed_version_is_400_and_another_major_version_505() {
    let server = TestServer::start();
    for line in [
        "GET / HTTP/1",
        "GET / HTTP/01.01",
        "GET / HTTP/ 1.1",
        "GET / http/1.1",
        "GET /pa th HTTP/1.1",
        "THIS IS NOT HTTP",
        "GET / ",
        "GET /",
        "GET / HTTP/1.1x",
    ] {
        let request = format!("{line}\r\nHost: a\r\n\r\n");
        assert_refused(&server, request.as_bytes(), 400);
    }
    for line in ["GET / HTTP/2.0", "GET / HTTP/3.0", "GET / HTTP/9.9"] {
        let request = format!("{line}\r\nHost: a\r\n\r\n");
        let body = assert_refused(&server, request.as_bytes(), 505);
        assert!(body.contains("HTTP/1.0 and HTTP/1.1"), "{body}");
    }
    // A later HTTP/1 minor version is served as HTTP/1.1 (RFC 9110 §6.2).
    answered(&server, b"GET /login HTTP/1.2\r\nHost: a\r\n\r\n", 200);
}

#[test]
fn transfer_codings_that_hide_the_end_of_the_body_are_400() {
    let server = TestServer::start();
    for coding in ["chunked, gzip", "gzip", "nonsense", "chunked, chunked"] {
        let request = format!(
            "POST /login HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: {coding}\r\n\r\n5\r\nhello\r\n0\r\n\r\n\
             GET /login HTTP/1.1\r\nHost: a\r\n\r\n"
        );
        let mut client = server.connect();
        client.send(&request);
        let reply = client.read_reply();
        assert_eq!(reply.status(), 400, "{coding}:\n{reply}");
        // The smuggled second request is never answered.
        assert!(client.is_closed_by_server(), "{coding}");
    }
    assert_refused(
        &server,
        b"POST /login HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        501,
    );
    assert_refused(
        &server,
        b"POST /login HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        400,
    );
    assert_refused(
        &server,
        b"POST /login HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        400,
    );
}

#[test]
fn chunk_extensions_must_follow_their_grammar() {
    let server = TestServer::start();
    let chunked = |size_line: &[u8]| {
        let mut request =
            b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        request.extend_from_slice(size_line);
        request.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
        request
    };
    for bad in [
        &b"5;"[..],
        b"5;bad[=x",
        b"5;a=\x00",
        b"5;a\rb",
        b"5 ",
        b"Z",
        b"5;a=\"open",
    ] {
        assert_refused(&server, &chunked(bad), 400);
    }
    for good in [&b"5;a"[..], b"5;a=b", b"5 ; a = \"x y\"", b"5;a;b=c"] {
        let reply = answered(&server, &chunked(good), 200);
        assert!(reply.body_text().ends_with("\r\n\r\nhello"), "{reply}");
    }
    // Chunk data not followed by CRLF.
    assert_refused(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello0\r\n\r\n",
        400,
    );
}

#[test]
fn a_chunk_line_limit_does_not_depend_on_how_the_bytes_arrive() {
    let server = TestServer::start();
    let mut request =
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;".to_vec();
    request.extend(std::iter::repeat_n(b'a', 3900));
    request.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
    // In one write:
    assert_refused(&server, &request, 400);
    // And in 512-byte pieces:
    let mut client = server.connect();
    for piece in request.chunks(512) {
        client.send_bytes(piece);
    }
    assert_eq!(client.read_reply().status(), 400);
}

#[test]
fn a_target_with_bytes_outside_its_grammar_is_400() {
    let server = TestServer::start();
    for target in [
        &b"/caf\xc3\xa9"[..],
        b"/\xff",
        b"/a\x01b",
        b"/a#fragment",
        b"/a<b>",
        b"/a\"b",
        b"/a\\b",
        b"/a{b}",
        b"nowhere",
        b"/%zz",
    ] {
        let mut request = b"GET ".to_vec();
        request.extend_from_slice(target);
        request.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_refused(&server, &request, 400);
    }
    answered(
        &server,
        b"GET /login?next=%2Fcart&x=a:b@c!$'()*+,; HTTP/1.1\r\nHost: a\r\n\r\n",
        200,
    );
    answered(
        &server,
        b"GET http://localhost/login HTTP/1.1\r\nHost: localhost\r\n\r\n",
        200,
    );
}

#[test]
fn options_answers_with_allow_for_the_server_and_for_a_path() {
    let server = TestServer::start();
    let star = answered(&server, b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 200);
    assert_eq!(star.header("Allow"), Some("GET, HEAD, POST, OPTIONS"));
    assert_eq!(star.header("Content-Length"), Some("0"));
    let login = answered(&server, b"OPTIONS /login HTTP/1.1\r\nHost: a\r\n\r\n", 200);
    assert_eq!(login.header("Allow"), Some("GET, HEAD, POST, OPTIONS"));
    let store = answered(&server, b"OPTIONS /store HTTP/1.1\r\nHost: a\r\n\r\n", 200);
    assert_eq!(store.header("Allow"), Some("GET, HEAD, OPTIONS"));
    answered(
        &server,
        b"OPTIONS /nowhere HTTP/1.1\r\nHost: a\r\n\r\n",
        404,
    );
    assert_refused(&server, b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

#[test]
fn connect_and_overlong_methods_are_not_implemented() {
    let server = TestServer::start();
    let body = assert_refused(
        &server,
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        501,
    );
    assert!(body.contains("CONNECT"), "{body}");
    assert_refused(&server, b"PROPFINDS / HTTP/1.1\r\nHost: a\r\n\r\n", 501);
    let mut long_method = vec![b'A'; 9000];
    long_method.extend_from_slice(b" / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_refused(&server, &long_method, 501);
    // A lowercase method is another method: known path, 405 with Allow.
    let reply = answered(&server, b"get / HTTP/1.1\r\nHost: a\r\n\r\n", 405);
    assert_eq!(reply.header("Allow"), Some("GET, HEAD, OPTIONS"));
}

#[test]
fn a_target_too_long_to_read_is_414_and_big_headers_431() {
    let server = TestServer::start();
    let mut long_target = b"GET /".to_vec();
    long_target.extend(vec![b'a'; 9000]);
    long_target.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_refused(&server, &long_target, 414);
    let mut big_header = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ".to_vec();
    big_header.extend(vec![b'x'; 9000]);
    big_header.extend_from_slice(b"\r\n\r\n");
    assert_refused(&server, &big_header, 431);
    let many: String = (0..101).map(|i| format!("X-H-{i}: value\r\n")).collect();
    assert_refused(
        &server,
        format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n").as_bytes(),
        431,
    );
}

#[test]
fn content_lengths_too_large_are_413_before_any_body_and_malformed_ones_400() {
    let server = TestServer::start();
    // Digits too many for any integer are still a length, only too large.
    let body = assert_refused(
        &server,
        b"POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
        413,
    );
    assert!(body.contains("65536"), "{body}");
    assert_refused(
        &server,
        b"POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000\r\n\r\n",
        413,
    );
    for length in [
        "-1234",
        "-123456789123456789123456789",
        "abc",
        "5, 5",
        "+5",
        "0x5",
        "",
    ] {
        let request =
            format!("POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: {length}\r\n\r\nhello");
        assert_refused(&server, request.as_bytes(), 400);
    }
    assert_refused(
        &server,
        b"POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello!!",
        400,
    );
}

#[test]
fn header_lines_that_break_the_grammar_are_400() {
    let server = TestServer::start();
    for line in [
        "Bad Header: value",
        "X-Invalid[]: test",
        "  continued",
        "Host : localhost",
        "X-Control: test\x07",
        "X-Null: a\x00b",
    ] {
        let request = format!("GET /login HTTP/1.1\r\nHost: a\r\n{line}\r\n\r\n");
        assert_refused(&server, request.as_bytes(), 400);
    }
    assert_refused(
        &server,
        b"GET / HTTP/1.1\r\nHost: a\r\n\rSome-Header: x\r\n\r\n",
        400,
    );
    assert_refused(&server, b"Extra lineGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    answered(
        &server,
        b"GET /login HTTP/1.1\r\nHost: a\r\nX-Empty: \r\n\r\n",
        200,
    );
}

#[test]
fn requests_in_pieces_wait_for_the_rest() {
    let server = TestServer::start();
    for piece in [
        "G",
        "GET ",
        "GET /login",
        "GET /login HTTP/1.1",
        "GET /login HTTP/1.1\r",
        "GET /login HTTP/1.1\r\nHos",
        "GET /login HTTP/1.1\r\nHost: a\r\n",
        "GET /login HTTP/1.1\r\nHost: a\r\n\r",
    ] {
        let mut client = Client::connect(server.addr);
        client.send(piece);
        client
            .stream
            .set_read_timeout(Some(std::time::Duration::from_millis(300)))
            .unwrap();
        let mut byte = [0u8; 1];
        let early = std::io::Read::read(&mut client.stream, &mut byte);
        assert!(
            early.is_err(),
            "{piece:?}: answered before the head was complete"
        );
        client
            .stream
            .set_read_timeout(Some(common::REPLY_TIMEOUT))
            .unwrap();
        client.send(&"GET /login HTTP/1.1\r\nHost: a\r\n\r\n"[piece.len()..]);
        assert_eq!(client.read_reply().status(), 200, "{piece:?}");
    }
}

#[test]
fn keep_alive_close_and_http10_behave_as_rfc_9112_section_9_says() {
    let server = TestServer::start();
    let mut client = server.connect();
    for _ in 0..2 {
        client.send("GET /login HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(client.read_reply().status(), 200);
    }
    let (reply, closed) = send(
        &server,
        b"GET /login HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(reply.status(), 200);
    assert!(closed);
    let (reply, closed) = send(&server, b"GET /login HTTP/1.0\r\nHost: a\r\n\r\n");
    assert_eq!(reply.status(), 200);
    assert!(closed);
    // Expect: 100-continue on a request with a body: 100 first, then 303.
    let mut client = server.connect();
    client.send(
        "POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n",
    );
    assert_eq!(client.read_reply().status(), 100);
    client.send("name=David");
    assert_eq!(client.read_reply().status(), 303);
    // Without a body there is nothing to wait for: the answer comes at once.
    answered(
        &server,
        b"GET /login HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
        200,
    );
}

#[test]
fn head_has_no_body_and_error_pages_are_self_delimiting() {
    let server = TestServer::start();
    let mut client = server.connect();
    client.send("HEAD /login HTTP/1.1\r\nHost: a\r\n\r\n");
    let head = client.read_head_reply();
    assert_eq!(head.status(), 200);
    assert!(head.header("Content-Length").is_some());
    client.send("GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n");
    let not_found = client.read_reply();
    assert_eq!(
        not_found.status(),
        404,
        "HEAD left no body behind: {not_found}"
    );
    assert!(not_found.header("Content-Length").is_some());
}
