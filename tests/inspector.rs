//! The inspector panel on every page, the sessions page, and the two
//! teaching routes /echo and /cookie, over real sockets.

mod common;

use common::{TempDir, TestServer, cookie_header_line, get_request, log_in, post_form_request};

/// The panel's HTML, from `<section class="inspector"` to `</section>`.
fn panel(body: &str) -> &str {
    let start = body
        .find("<section class=\"inspector\"")
        .unwrap_or_else(|| panic!("no inspector panel in:\n{body}"));
    let end = body[start..].find("</section>").expect("the panel closes") + start;
    &body[start..end]
}

#[test]
fn every_app_page_carries_the_panel_with_its_request_response_file_and_handler() {
    let server = TestServer::start();
    let id = log_in(&server, "David");
    for (path, handler) in [
        ("/", "app::index"),
        ("/login", "app::login_form"),
        ("/store", "app::store"),
        ("/cart", "app::cart"),
        ("/nowhere", "router::not_found"),
    ] {
        let reply = server.get(path, Some(&format!("session={id}")));
        let body = reply.body_text();
        let panel = panel(&body);
        assert!(
            panel.contains(&format!(
                "<code>{handler}</code> in <code>src/{}.rs</code>",
                handler.split("::").next().unwrap()
            )),
            "{path}: handler missing in\n{panel}"
        );
        assert!(
            panel.contains(&format!("<mark>Cookie: session={id}</mark>")),
            "{path}: the Cookie line is not marked in\n{panel}"
        );
        assert!(
            panel.contains(&format!("GET {path} HTTP/1.1\nHost: localhost\n")),
            "{path}:\n{panel}"
        );
        assert!(
            panel.contains("Content-Length: (counted when the page is done"),
            "{path}"
        );
        let file = server.session_file(&id);
        assert!(
            panel.contains(&format!("<pre class=\"file\">{}</pre>", file)),
            "{path}: the session file's text is not shown:\n{panel}"
        );
        // The panel shows the visitor's cookie: no cache may keep the page.
        // Said once, though the session wrapper and the panel both ask.
        assert_eq!(reply.headers_named("Cache-Control"), ["no-store"], "{path}");
        assert_eq!(reply.headers_named("Vary"), ["Cookie"], "{path}");
    }
}

#[test]
fn the_panel_says_in_words_why_there_is_no_file() {
    let server = TestServer::start();
    let none = server.get("/login", None).body_text();
    assert!(panel(&none).contains("Your browser sent no <code>session</code> cookie"));
    let made_up = server
        .get("/login", Some("session=0123456789abcdef0123456789abcdef"))
        .body_text();
    assert!(
        panel(&made_up).contains("There is no file <code>")
            && panel(&made_up).contains("/0123456789abcdef0123456789abcdef</code>: the session expired, was logged out, or the id was made up"),
        "{}",
        panel(&made_up)
    );
    let malformed = server.get("/login", Some("session=../../x")).body_text();
    assert!(panel(&malformed).contains("is not 32 lowercase hex digits"));
}

#[test]
fn after_login_the_home_page_shows_the_303_and_its_set_cookie() {
    let server = TestServer::start();
    let mut client = server.connect();
    client.send(&post_form_request("/login", "name=David", None));
    let login = client.read_reply();
    let id = login.session_cookie().unwrap();
    // A new connection: the link is the id the 303 gave.
    let home = server.get("/", Some(&format!("session={id}"))).body_text();
    let panel = panel(&home);
    assert!(panel.contains("<code>POST /login HTTP/1.1</code> → <code>HTTP/1.1 303 See Other</code> (<code>app::login</code>)"), "{panel}");
    assert!(
        panel.contains(&format!(
            "<mark>Set-Cookie: session={id}; Path=/; HttpOnly; SameSite=Lax</mark>"
        )),
        "{panel}"
    );
    assert!(panel.contains("name=David\n</pre>"), "{panel}");
    // A reload is not "after a redirect" any more.
    let again = server.get("/", Some(&format!("session={id}"))).body_text();
    assert!(
        !self::panel(&again).contains("303 See Other"),
        "{}",
        self::panel(&again)
    );
}

#[test]
fn after_logout_the_login_page_shows_max_age_0_and_the_deleted_file() {
    let server = TestServer::start();
    let id = log_in(&server, "David");
    // As a browser follows redirects: each one's `inspector` cookie goes
    // with the next request (the session cookie is gone after logout).
    let mut client = server.connect();
    client.send(&get_request("/logout", Some(&format!("session={id}"))));
    let logout = client.read_reply();
    assert_eq!(logout.status(), 302);
    let first = logout
        .set_cookie_value("inspector")
        .expect("the panel's cookie");
    assert_eq!(
        logout.headers_named("set-cookie"),
        [
            format!("inspector={first}; Path=/; Max-Age=10; HttpOnly; SameSite=Lax"),
            "session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax".to_string(),
        ]
    );
    client.send(&get_request("/", Some(&format!("inspector={first}"))));
    let home = client.read_reply();
    assert_eq!(home.header("Location"), Some("/login"));
    let second = home.set_cookie_value("inspector").unwrap();
    assert_ne!(first, second, "each redirect has its own secret");
    client.send(&get_request("/login", Some(&format!("inspector={second}"))));
    let body = client.read_reply().body_text();
    let panel = panel(&body);
    let logout_at = panel
        .find("<code>GET /logout HTTP/1.1</code> → <code>HTTP/1.1 302 Found</code>")
        .expect(panel);
    let home_at = panel
        .find("<code>GET / HTTP/1.1</code> → <code>HTTP/1.1 302 Found</code>")
        .expect(panel);
    assert!(logout_at < home_at, "the chain is in order:\n{panel}");
    assert!(
        panel.contains(
            "<mark>Set-Cookie: session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax</mark>"
        )
    );
    assert!(
        panel.contains(&format!("/{id}</code>, was deleted by this request")),
        "{panel}"
    );
    assert!(
        panel.contains("<code>inspector=…</code> cookie. That cookie is this panel's own"),
        "the panel names its cookie:\n{panel}"
    );
}

#[test]
fn without_the_inspector_no_redirect_carries_its_cookie() {
    let server = TestServer::start_with(&["--no-inspector"]);
    let id = log_in(&server, "David");
    let logout = server.get("/logout", Some(&format!("session={id}")));
    assert_eq!(
        logout.headers_named("set-cookie"),
        ["session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"]
    );
    assert_eq!(server.get("/", None).headers_named("set-cookie").len(), 0);
    assert!(!server.sessions_dir.join(".inspector").exists());
}

#[test]
fn a_login_redirect_is_linked_by_its_new_id_and_adds_no_cookie_of_the_panels() {
    let server = TestServer::start();
    let login = server.post_form("/login", "name=David", None);
    assert_eq!(
        login.headers_named("set-cookie").len(),
        1,
        "the new session id is the link:\n{login}"
    );
    let id = login.session_cookie().unwrap();
    let home = server.get("/", Some(&format!("session={id}"))).body_text();
    assert!(panel(&home).contains("<code>POST /login HTTP/1.1</code> → "));
}

#[test]
fn a_redirect_on_another_connection_without_the_id_is_not_claimed() {
    let server = TestServer::start();
    // Visitor A is redirected from / to /login.
    let mut a = server.connect();
    a.send(&get_request("/", None));
    assert_eq!(a.read_reply().status(), 302);
    // Visitor B, on its own connection, asks for /login: A's redirect must
    // not appear on B's page.
    let body = server.get("/login", None).body_text();
    assert!(panel(&body).contains(
        "You came here directly (a reload, a link or a typed address), not through a redirect."
    ));
}

#[test]
fn one_connection_carrying_two_visitors_shows_neither_the_others_redirect() {
    // A proxy without forwarding headers, keeping one connection to the
    // server for everyone: the victim logs in, then the next visitor's
    // request comes on the very same connection.
    let server = TestServer::start();
    let mut proxy = server.connect();
    proxy.send(&post_form_request("/login", "name=Victim", None));
    let victim_id = proxy.read_reply().session_cookie().unwrap();
    for path in ["/", "/login", "/cart", "/store"] {
        proxy.send(&get_request(path, None));
        let body = proxy.read_reply().body_text();
        assert!(
            !body.contains(&victim_id),
            "{path} shows the victim's id:\n{body}"
        );
        assert!(!body.contains("Victim"), "{path}");
    }
}

#[test]
#[ignore = "needs curl (apt-get install curl); .ci/run runs it"]
fn a_visitor_reusing_the_victims_address_and_port_sees_nothing_of_theirs() {
    // HTTP/1.0, a connection per request, as behind NAT: the victim logs
    // in from one client port, then someone else connects from the same
    // address and port and asks for the page the 303 pointed to.
    let server = TestServer::start();
    let port = 40_000 + (std::process::id() % 20_000) as u16;
    let curl = |args: &[&str]| {
        let output = std::process::Command::new("curl")
            .args([
                "-s",
                "-i",
                "--http1.0",
                "--local-port",
                &format!("{port}-{}", port + 50),
            ])
            .args(args)
            .output()
            .expect("curl runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let base = format!("http://{}", server.addr);
    let mut leaks = 0;
    for _ in 0..10 {
        let login = curl(&["-d", "name=Victim", &format!("{base}/login")]);
        let id = login
            .lines()
            .find_map(|line| line.strip_prefix("Set-Cookie: session="))
            .map(|rest| rest.split(';').next().unwrap().to_string())
            .unwrap_or_else(|| panic!("no login:\n{login}"));
        let page = curl(&[&format!("{base}/")]);
        assert!(page.starts_with("HTTP/1.1 302 Found"), "{page}");
        let page = curl(&[&format!("{base}/login")]);
        leaks += usize::from(page.contains(&id));
    }
    assert_eq!(leaks, 0, "pages that showed the victim's id");
}

#[test]
fn a_hostile_header_shows_as_text_in_the_panel() {
    let server = TestServer::start();
    let reply = server.exchange(concat!(
        "GET /login HTTP/1.1\r\nHost: localhost\r\n",
        "X-Evil: <script>alert(1)</script>\r\n",
        "Cookie: a=<img src=x onerror=alert(2)>\r\n\r\n"
    ));
    let body = reply.body_text();
    assert!(!body.contains("<script>alert"), "{body}");
    assert!(!body.contains("<img src=x"), "{body}");
    assert!(panel(&body).contains("X-Evil: &lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(panel(&body).contains("<mark>Cookie: a=&lt;img src=x onerror=alert(2)&gt;</mark>"));
}

#[test]
fn control_characters_and_bytes_that_are_not_utf8_show_as_what_they_are() {
    let server = TestServer::start();
    // A tab and U+0085 (bytes C2 85) are allowed in a header value, and
    // so is a byte that is no UTF-8 at all (FF).
    let reply = server.exchange_bytes(
        b"GET /login HTTP/1.1\r\nHost: localhost\r\nX-Odd: a\tb\xc2\x85c\r\nX-Raw: d\xffe\r\n\r\n",
    );
    assert_eq!(reply.status_line, "HTTP/1.1 200 OK", "{}", reply.raw);
    let body = reply.body_text();
    let panel = panel(&body);
    assert!(panel.contains("X-Odd: a\\tb\\x85c\n"), "{panel}");
    assert!(panel.contains("X-Raw: d\u{fffd}e\n"), "{panel}");
}

#[test]
fn no_inspector_leaves_the_panel_out() {
    let server = TestServer::start_with(&["--no-inspector"]);
    let id = log_in(&server, "David");
    let body = server.get("/", Some(&format!("session={id}"))).body_text();
    assert!(body.contains("You are logged in as David."));
    assert!(!body.contains("inspector"), "{body}");
}

#[test]
fn the_sessions_page_lists_every_file_at_its_secret_address() {
    let server = TestServer::start();
    let david = log_in(&server, "David");
    let ann = log_in(&server, "Ann");
    let reply = server.get(&server.sessions_page, None);
    assert_eq!(reply.status(), 200, "{reply}");
    let body = reply.body_text();
    let listing = &body[..body.find("<section class=\"inspector\"").unwrap()];
    assert!(listing.contains(": 2 files."), "{listing}");
    for id in [&david, &ann] {
        assert!(
            listing.contains(&format!("<td><code>{id}</code></td>")),
            "{listing}"
        );
        assert!(listing.contains(&format!(
            "/{id}</code></p>\n<pre class=\"file\">{}</pre>",
            server.session_file(id)
        )));
    }
    // Each row's mode is the file's own, as `ls -l` prints it.
    assert!(
        listing.contains(&format!(
            "<tr><td><code>-rw-------</code></td><td>{}</td><td><code>{david}</code>",
            server.session_file(&david).len()
        )),
        "{listing}"
    );
    std::fs::set_permissions(
        server.session_path(&ann),
        std::os::unix::fs::PermissionsExt::from_mode(0o640),
    )
    .unwrap();
    let changed = server.get(&server.sessions_page, None).body_text();
    assert!(
        changed.contains(&format!(
            "<tr><td><code>-rw-r-----</code></td><td>{}</td><td><code>{ann}</code>",
            server.session_file(&ann).len()
        )),
        "{changed}"
    );
    assert_eq!(reply.header("Referrer-Policy"), Some("no-referrer"));
    // Private, and said once (the view, its session wrapper and the panel
    // all mark it).
    assert_eq!(
        reply.headers_named("Cache-Control"),
        ["no-store"],
        "{reply}"
    );
    assert_eq!(reply.headers_named("Vary"), ["Cookie"], "{reply}");
    assert!(
        !listing.contains(&server.sessions_page),
        "only the panel's request head shows the secret:\n{listing}"
    );
    server.get("/logout", Some(&format!("session={ann}")));
    let after = server.get(&server.sessions_page, None).body_text();
    assert!(after.contains(": 1 file."), "a logout removes one");
    assert!(!after.contains(&ann));
}

#[test]
fn the_sessions_page_marks_the_viewers_own_file() {
    let server = TestServer::start();
    let david = log_in(&server, "David");
    let ann = log_in(&server, "Ann");
    let body = server
        .get(&server.sessions_page, Some(&format!("session={ann}")))
        .body_text();
    assert!(
        body.contains(&format!("<td><code>{ann}</code> <mark>yours</mark></td>")),
        "{body}"
    );
    assert!(body.contains(&format!("<td><code>{david}</code></td>")));
}

#[test]
fn without_its_secret_the_sessions_page_does_not_exist_however_it_is_asked() {
    let server = TestServer::start();
    let id = log_in(&server, "David");
    let secret = server.sessions_page.strip_prefix("/sessions/").unwrap();
    // One character off: the last one changed, whatever it was.
    let last = if secret.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{last}", &secret[..31]);
    let encoded = format!("/%73essions/{secret}");
    let absolute = format!("http://evil.example/sessions/{secret}");
    let targets = [
        "/sessions",
        "/sessions/",
        "/%73essions",
        &format!("/sessions/{wrong}"),
        &format!("/sessions/{}", secret.to_uppercase()),
        &format!("/sessions/{secret}x"),
        &format!("/sessions/{}", &secret[..31]),
        &encoded,
        &absolute,
    ];
    for target in targets {
        for headers in [
            "Host: localhost",
            "Host: evil.example",
            "Host: localhost\r\nX-Real-IP: 127.0.0.1",
            "Host: localhost\r\nTrue-Client-IP: 127.0.0.1",
            "Host: localhost\r\nCF-Connecting-IP: 127.0.0.1",
            "Host: localhost\r\nX-Forwarded-Host: localhost",
            "Host: localhost\r\nX-Forwarded-For: 127.0.0.1",
        ] {
            for method in ["GET", "HEAD", "OPTIONS"] {
                let mut client = server.connect();
                client.send(&format!("{method} {target} HTTP/1.1\r\n{headers}\r\n\r\n"));
                let reply = match method {
                    "HEAD" => client.read_head_reply(),
                    _ => client.read_reply(),
                };
                assert_eq!(
                    reply.status(),
                    404,
                    "{method} {target} with {headers}:\n{reply}"
                );
                assert!(!reply.body_text().contains(&id));
            }
        }
    }
    // With the secret: the page, and OPTIONS knows it.
    assert_eq!(server.get(&server.sessions_page, None).status(), 200);
    let options = server.exchange(&format!(
        "OPTIONS {} HTTP/1.1\r\nHost: a\r\n\r\n",
        server.sessions_page
    ));
    assert_eq!(options.header("Allow"), Some("GET, HEAD, OPTIONS"));
}

#[test]
fn the_panel_never_carries_the_sessions_page_secret() {
    let server = TestServer::start();
    let id = log_in(&server, "David");
    let secret = server.sessions_page.strip_prefix("/sessions/").unwrap();
    for path in ["/", "/login", "/store", "/cart", "/nowhere"] {
        let body = server.get(path, Some(&format!("session={id}"))).body_text();
        assert!(!body.contains(secret), "{path}");
        assert!(
            panel(&body).contains("whose address the server printed when it started"),
            "{path}"
        );
    }
}

#[test]
fn echo_sends_back_the_request_exactly() {
    let server = TestServer::start();
    let request =
        "PUT /echo?x=1 HTTP/1.1\r\nHost: a\r\nX-Odd:   spaced  \r\nContent-Length: 5\r\n\r\nhello";
    let reply = server.exchange(request);
    assert_eq!(reply.status(), 200, "{reply}");
    assert_eq!(
        reply.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(reply.header("X-Content-Type-Options"), Some("nosniff"));
    assert_eq!(reply.body_text(), request);
    let chunked =
        "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    let reply = server.exchange(chunked);
    assert_eq!(
        reply.body_text(),
        "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nabc"
    );
}

#[test]
fn cookie_shows_the_pairs_as_the_server_splits_them() {
    let server = TestServer::start();
    let reply = server.exchange(&format!(
        "GET /cookie HTTP/1.1\r\nHost: a\r\n{}{}\r\n",
        cookie_header_line("a=1;b=2;  c = \"3\" ; flag"),
        cookie_header_line("session=x")
    ));
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.body_text(), "a=1\nb=2\nc=3\nsession=x\n");
    assert_eq!(reply.header("X-Content-Type-Options"), Some("nosniff"));
    assert_eq!(server.get("/cookie", None).body_text(), "");
}

#[test]
fn a_favicon_is_served() {
    let server = TestServer::start();
    let reply = server.get("/favicon.ico", None);
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.header("Content-Type"), Some("image/x-icon"));
}

#[test]
fn the_sessions_page_shows_the_200_most_recent_of_a_large_folder() {
    // A folder that already holds 205 sessions when the server starts.
    let temp = TempDir::new("large-folder");
    let sessions = temp.0.join("sessions");
    std::fs::create_dir_all(&sessions).unwrap();
    // Last used a minute ago, so that the login below is the newest even
    // within the same second (a new session's time is its whole second).
    let a_minute_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    for n in 0..205u32 {
        let path = sessions.join(format!("{n:032x}"));
        std::fs::write(&path, "created=1795000000\nname=Ann\n").unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(a_minute_ago).unwrap();
    }
    let server = TestServer::start_in(&sessions, &[]);
    let newest = log_in(&server, "David");
    let body = server.get(&server.sessions_page, None).body_text();
    assert!(
        body.contains(
            ": 206 files (200 are shown: those this server used last, then the first the folder lists)."
        ),
        "{}",
        &body[..body.len().min(2000)]
    );
    assert!(body.contains(&format!("<td><code>{newest}</code></td>")));
    assert_eq!(body.matches("<pre class=\"file\">created=").count(), 200);
}

#[test]
fn the_panel_names_the_session_the_handler_used_whatever_cookies_came() {
    let server = TestServer::start();
    let id = log_in(&server, "David");
    let file = server.session_file(&id);
    // A junk value beside the id, and the id twice: the app uses the id,
    // and so does the panel.
    for cookies in [
        format!("session=junk; session={id}"),
        format!("session={id}; session={id}"),
    ] {
        let reply = server.get("/", Some(&cookies));
        assert_eq!(reply.status(), 200, "{cookies}: {reply}");
        let body = reply.body_text();
        assert!(body.contains("logged in as David"), "{cookies}");
        assert!(
            panel(&body).contains(&format!("<pre class=\"file\">{file}</pre>")),
            "{cookies}:\n{}",
            panel(&body)
        );
    }
    // Two different ids: neither is used, and the panel says why.
    let other = log_in(&server, "Ann");
    let reply = server.get("/cart", Some(&format!("session={other}; session={id}")));
    let body = reply.body_text();
    assert!(
        panel(&body).contains("more than one <code>session</code> cookie, with different ids"),
        "{}",
        panel(&body)
    );
}

/// The panel's `ls -ln` line for the file the page was made from is what
/// `ls` itself prints for that file, command as shown.
#[test]
fn the_panel_shows_the_session_files_ls_line_as_ls_prints_it() {
    let server = TestServer::start();
    let id = log_in(&server, "David");
    let body = server.get("/", Some(&format!("session={id}"))).body_text();
    let panel = panel(&body);
    assert!(
        panel.contains("<code>$ TZ=UTC ls -ln --time-style=+&#39;%F %T&#39; "),
        "{panel}"
    );
    let shown = panel
        .split("<pre class=\"file\">")
        .filter_map(|part| part.split("</pre>").next())
        .find(|text| text.starts_with("-rw"))
        .unwrap_or_else(|| panic!("no ls line in\n{panel}"));
    let path = server.session_path(&id);
    let output = std::process::Command::new("ls")
        .args(["-ln", "--time-style=+%F %T"])
        .arg(&path)
        .env("TZ", "UTC")
        .output()
        .expect("ls runs");
    let printed = String::from_utf8(output.stdout).unwrap();
    // The same line up to the file's name (the panel names it as the
    // server was told, ls as it was asked).
    let fields = |line: &str| {
        line.split_whitespace()
            .take(7)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(fields(shown), fields(printed.trim_end()), "{panel}");
    assert!(shown.starts_with("-rw------- 1 "), "{shown}");
    assert!(shown.ends_with(&id), "{shown}");
}
