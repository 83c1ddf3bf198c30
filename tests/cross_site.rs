//! Another site's page cannot log a visitor in, out, or fill their cart:
//! every request that would change a session, with every `Sec-Fetch-Site`,
//! `Origin` and `Referer` shape a browser sends, over a real socket; and
//! two `session` cookies never start a session that replaces the visitor's.

mod common;

use common::{TestServer, log_in};

/// What the browser says about where the request came from.
const REFUSED: &[&str] = &[
    "Sec-Fetch-Site: cross-site\r\n",
    "Sec-Fetch-Site: same-site\r\n",
    "Sec-Fetch-Site: cross-site\r\nOrigin: http://localhost\r\n",
    "Origin: http://evil.example\r\n",
    "Origin: http://localhost:9999\r\n",
    "Origin: null\r\n",
    // No Sec-Fetch-Site or Origin (a link, on a plain-HTTP host name):
    // the page the link was on decides.
    "Referer: http://evil.example/page\r\n",
    "Referer: http://localhost:9999/\r\n",
    "Referer: http://localhost.evil.example/\r\n",
];
const ALLOWED: &[&str] = &[
    "Sec-Fetch-Site: same-origin\r\n",
    "Sec-Fetch-Site: none\r\n",
    "Origin: http://localhost\r\n",
    "Sec-Fetch-Site: same-origin\r\nOrigin: http://localhost\r\n",
    "Referer: http://localhost/\r\n",
    "Referer: http://localhost/cart?from=store\r\n",
    "",
];

fn request(method: &str, path: &str, body: &str, cookie: &str, provenance: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{provenance}Cookie: session={cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn a_request_from_another_origin_changes_nothing_and_gets_403() {
    let server = TestServer::start();
    let id = log_in(&server, "David");
    server.post_form("/cart", "id=2", Some(&format!("session={id}")));
    let file_before = server.session_file(&id);
    for provenance in REFUSED {
        for (method, path, body) in [
            ("POST", "/login", "name=Mallory"),
            ("POST", "/cart", "id=5"),
            ("GET", "/logout", ""),
            ("POST", "/logout", ""),
            ("HEAD", "/logout", ""),
        ] {
            let mut client = server.connect();
            client.send(&request(method, path, body, &id, provenance));
            let reply = if method == "HEAD" {
                client.read_head_reply()
            } else {
                client.read_reply()
            };
            assert_eq!(
                reply.status_line, "HTTP/1.1 403 Forbidden",
                "{method} {path} with {provenance:?}:\n{reply}"
            );
            assert!(reply.header("Set-Cookie").is_none(), "{reply}");
            if method != "HEAD" {
                assert!(
                    reply.body_text().contains("started by another site"),
                    "{reply}"
                );
            }
            assert_eq!(
                server.session_file(&id),
                file_before,
                "{method} {path} {provenance:?}"
            );
            assert_eq!(server.session_dir_entries(), std::slice::from_ref(&id));
        }
    }
    server.wait_for_log("POST /login 403");
}

#[test]
fn the_sites_own_pages_and_clients_without_the_headers_still_work() {
    let server = TestServer::start();
    for provenance in ALLOWED {
        let login = server.exchange(&request("POST", "/login", "name=David", "", provenance));
        assert_eq!(login.status(), 303, "{provenance:?}:\n{login}");
        let id = login.session_cookie().unwrap();
        let add = server.exchange(&request("POST", "/cart", "id=3", &id, provenance));
        assert_eq!(add.status(), 303, "{provenance:?}:\n{add}");
        assert!(server.session_file(&id).contains("cart=3\n"));
        let logout = server.exchange(&request("GET", "/logout", "", &id, provenance));
        assert_eq!(logout.status(), 302, "{provenance:?}:\n{logout}");
        assert!(!server.session_path(&id).exists());
    }
}

#[test]
fn reading_pages_from_another_site_is_never_refused() {
    let server = TestServer::start();
    for path in ["/", "/login", "/store", "/cart"] {
        let reply = server.exchange(&format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nSec-Fetch-Site: cross-site\r\n\r\n"
        ));
        assert_ne!(reply.status(), 403, "{path}:\n{reply}");
    }
}

#[test]
fn two_different_session_cookies_change_nothing_and_get_400() {
    let server = TestServer::start();
    let id = log_in(&server, "David");
    server.post_form("/cart", "id=2", Some(&format!("session={id}")));
    let file_before = server.session_file(&id);
    let planted = "0123456789abcdef0123456789abcdef";
    for cookies in [
        format!("{planted}; session={id}"),
        format!("{id}; session={planted}"),
    ] {
        for (method, path, body) in [
            ("POST", "/cart", "id=5"),
            ("POST", "/login", "name=Mallory"),
            ("GET", "/logout", ""),
        ] {
            let reply = server.exchange(&request(method, path, body, &cookies, ""));
            assert_eq!(reply.status(), 400, "{method} {path} {cookies}:\n{reply}");
            assert!(reply.header("Set-Cookie").is_none(), "{reply}");
            assert!(
                reply
                    .body_text()
                    .contains("two session cookies with different ids")
                    && reply.body_text().contains("Clear this site&#39;s cookies"),
                "{reply}"
            );
            assert_eq!(server.session_file(&id), file_before);
            assert_eq!(server.session_dir_entries(), std::slice::from_ref(&id));
        }
    }
    // Reading a page is not refused: it shows as logged out.
    let home = server.exchange(&request(
        "GET",
        "/",
        "",
        &format!("{planted}; session={id}"),
        "",
    ));
    assert_eq!(home.status(), 302);
}
