//! Sessions, the login app and the cart, as small conversations over real
//! sockets, with the session files checked on disk.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::{
    TempDir, TestServer, cookie, created_line, get_request, log_in, post_form_request, request_from,
};

const LOGGED_IN_AS_DAVID: &str = "You are logged in as David.";

/// Waits (by polling, up to 20 s) until `condition` holds.
fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_flask_login_example_works_end_to_end() {
    let server = TestServer::start();

    let first_visit = server.get("/", None);
    assert_eq!(
        first_visit.status_line, "HTTP/1.1 302 Found",
        "{first_visit}"
    );
    assert_eq!(first_visit.header("Location"), Some("/login"));

    let login = server.exchange(concat!(
        "POST /login HTTP/1.1\r\n",
        "Host: localhost\r\n",
        "Content-Type: application/x-www-form-urlencoded\r\n",
        "Content-Length: 10\r\n",
        "\r\n",
        "name=David",
    ));
    assert_eq!(login.status_line, "HTTP/1.1 303 See Other", "{login}");
    assert_eq!(login.header("Location"), Some("/"));
    let id = login.session_cookie().expect("login sets a cookie");
    assert_eq!(
        login.headers_named("Set-Cookie"),
        [format!("session={id}; Path=/; HttpOnly; SameSite=Lax")]
    );
    assert_eq!(id.len(), 32);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    let file = server.session_file(&id);
    assert_eq!(
        file,
        format!("{}\nname=David\n", created_line(&file)),
        "{file}"
    );
    assert!(created_line(&file).starts_with("created="));
    assert_eq!(server.session_dir_entries(), std::slice::from_ref(&id));

    let home = server.get("/", Some(&cookie(&id)));
    assert_eq!(home.status_line, "HTTP/1.1 200 OK", "{home}");
    assert!(home.body_text().contains(LOGGED_IN_AS_DAVID), "{home}");
    assert!(
        home.body_text()
            .contains(r#"<a href="/logout">Log out</a>"#)
    );
    assert_eq!(home.header("Cache-Control"), Some("no-store"));
    assert_eq!(home.header("Vary"), Some("Cookie"));
    assert!(home.header("Set-Cookie").is_none(), "{home}");

    // A new connection (a new tab) with the same cookie is the same visitor.
    let mut tab = server.connect();
    tab.send(&get_request("/", Some(&cookie(&id))));
    assert!(tab.read_reply().body_text().contains(LOGGED_IN_AS_DAVID));

    let logout = server.get("/logout", Some(&cookie(&id)));
    assert_eq!(logout.status_line, "HTTP/1.1 302 Found", "{logout}");
    assert_eq!(logout.header("Location"), Some("/"));
    // The app's one cookie; the inspector panel adds its own before it
    // (redirect_link.rs), which `--no-inspector` leaves out.
    let app_cookies: Vec<&str> = logout
        .headers_named("Set-Cookie")
        .into_iter()
        .filter(|value| !value.starts_with("inspector="))
        .collect();
    assert_eq!(
        app_cookies,
        ["session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"]
    );
    assert!(
        !server.session_path(&id).exists(),
        "logout deletes the file"
    );

    let after = server.get("/", Some(&cookie(&id)));
    assert_eq!(after.status(), 302, "{after}");
    assert_eq!(after.header("Location"), Some("/login"));
    assert!(server.session_dir_entries().is_empty());
}

#[test]
fn logout_by_post_answers_303() {
    let server = TestServer::start();
    let id = log_in(&server, "David");
    let reply = server.post_form("/logout", "", Some(&cookie(&id)));
    assert_eq!(reply.status_line, "HTTP/1.1 303 See Other", "{reply}");
    assert_eq!(reply.header("Location"), Some("/"));
    assert!(!server.session_path(&id).exists());
}

#[test]
fn logout_without_a_cookie_sets_no_cookie() {
    let server = TestServer::start();
    let reply = server.get("/logout", None);
    assert_eq!(reply.status(), 302, "{reply}");
    assert!(reply.header("Set-Cookie").is_none(), "{reply}");
}

#[test]
fn login_always_issues_a_fresh_id_and_keeps_the_cart() {
    let server = TestServer::start();
    let cart = server.post_form("/cart", "id=3", None);
    let before = cart.session_cookie().expect("the cart creates a session");

    let login = server.post_form("/login", "name=David", Some(&cookie(&before)));
    let after = login.session_cookie().expect("login sets a new cookie");
    assert_ne!(
        before, after,
        "an id known before login is never the id after it"
    );
    assert!(
        !server.session_path(&before).exists(),
        "the old file is removed"
    );
    let file = server.session_file(&after);
    assert_eq!(
        file,
        format!("{}\ncart=3\nname=David\n", created_line(&file))
    );
    assert_eq!(server.session_dir_entries(), [after]);
}

#[test]
fn an_id_the_client_made_up_is_never_adopted() {
    let server = TestServer::start();
    let chosen = "0123456789abcdef0123456789abcdef";
    let home = server.get("/", Some(&cookie(chosen)));
    assert_eq!(home.status(), 302);
    assert!(home.header("Set-Cookie").is_none());

    let login = server.post_form("/login", "name=Mallory", Some(&cookie(chosen)));
    let issued = login.session_cookie().unwrap();
    assert_ne!(issued, chosen);
    assert!(!server.session_path(chosen).exists());
    assert_eq!(server.session_dir_entries(), [issued]);
}

#[test]
fn hostile_cookie_values_touch_nothing() {
    let server = TestServer::start();
    // A file outside the sessions folder that a traversal would reach.
    let outside = server.sessions_dir.parent().unwrap().join("victim");
    std::fs::write(&outside, "created=1\nname=Victim\n").unwrap();
    for value in [
        "../victim",
        "../../etc/passwd",
        "%2e%2e%2fvictim",
        "/etc/passwd",
        "0123456789ABCDEF0123456789ABCDEF",
        "0123456789abcdef0123456789abcde",
        "0123456789abcdef0123456789abcdef0",
        "",
        "\"\"",
        "..",
        "0123456789abcdef0123456789abcd/.",
    ] {
        let home = server.get("/", Some(&format!("session={value}")));
        assert_eq!(home.status(), 302, "{value}:\n{home}");
        let cart = server.get("/cart", Some(&format!("session={value}")));
        assert!(cart.body_text().contains("Your cart is empty."), "{value}");
        let logout = server.get("/logout", Some(&format!("session={value}")));
        assert_eq!(logout.status(), 302, "{value}");
    }
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap(),
        "created=1\nname=Victim\n"
    );
    assert!(server.session_dir_entries().is_empty());
}

#[test]
fn a_symlink_in_place_of_a_session_file_is_not_followed() {
    let server = TestServer::start();
    let outside = server.sessions_dir.parent().unwrap().join("planted");
    std::fs::write(&outside, "created=9999999999\nname=Mallory\n").unwrap();
    let id = "fedcba9876543210fedcba9876543210";
    std::os::unix::fs::symlink(&outside, server.session_path(id)).unwrap();
    let home = server.get("/", Some(&cookie(id)));
    assert_eq!(
        home.status(),
        302,
        "the symlink must not log anyone in:\n{home}"
    );
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap(),
        "created=9999999999\nname=Mallory\n"
    );
}

#[test]
fn the_cookie_header_is_parsed_as_rfc_6265_describes() {
    let server = TestServer::start();
    let id = log_in(&server, "David");
    for cookies in [
        format!("Cookie: session={id}"),
        format!("Cookie: lang=en; session={id}; theme=dark"),
        format!("Cookie: lang=en;session={id}"),
        format!("Cookie:   theme=dark ;   session={id}  "),
        format!("Cookie: lang=en\r\nCookie: session={id}"),
        format!("Cookie: session=not-an-id; session={id}"),
        format!("Cookie: session=\"{id}\""),
        format!("cookie: session={id}"),
    ] {
        let reply = server.exchange(&format!("GET / HTTP/1.1\r\nHost: a\r\n{cookies}\r\n\r\n"));
        assert!(
            reply.body_text().contains(LOGGED_IN_AS_DAVID),
            "{cookies:?}:\n{reply}"
        );
    }
    let lookalike = server.get("/", Some(&format!("xsession={id}; sessionx={id}")));
    assert_eq!(lookalike.status(), 302, "{lookalike}");
}

#[test]
fn invalid_names_get_400_with_the_form_and_store_nothing() {
    let server = TestServer::start();
    for (body, message) in [
        ("name=", "Please type a name."),
        ("name=+++", "Please type a name."),
        ("other=x", "Please type a name."),
        ("name=Da%0Avid", "control characters"),
        ("name=Da%09vid", "control characters"),
        ("name=Da%00vid", "control characters"),
        (
            &format!("name={}", "x".repeat(101)),
            "at most 100 characters; this one has 101",
        ),
        ("name=%FF", "not UTF-8"),
        ("name=100%", "not followed by two hex digits"),
    ] {
        let reply = server.post_form("/login", body, None);
        assert_eq!(
            reply.status_line, "HTTP/1.1 400 Bad Request",
            "{body}:\n{reply}"
        );
        assert!(reply.body_text().contains(message), "{body}:\n{reply}");
        assert!(reply.header("Set-Cookie").is_none());
    }
    let form = server.post_form("/login", "name=", None);
    assert!(
        form.body_text()
            .contains(r#"<form action="/login" method="post">"#)
    );
    assert!(server.session_dir_entries().is_empty());
}

#[test]
fn names_are_trimmed_and_100_characters_are_allowed() {
    let server = TestServer::start();
    let id = log_in(&server, "++David++");
    assert!(server.session_file(&id).ends_with("\nname=David\n"));
    let long = "é".repeat(100);
    let reply = server.post_form("/login", &format!("name={}", "%C3%A9".repeat(100)), None);
    assert_eq!(reply.status(), 303, "{reply}");
    let id = reply.session_cookie().unwrap();
    assert!(
        server
            .session_file(&id)
            .ends_with(&format!("\nname={long}\n"))
    );
}

#[test]
fn a_name_with_html_is_shown_as_text() {
    let server = TestServer::start();
    let id = log_in(&server, "%3Cscript%3Ealert(1)%3C%2Fscript%3E+%26+%22'");
    let home = server.get("/", Some(&cookie(&id)));
    let body = home.body_text();
    assert!(
        body.contains(
            "You are logged in as &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;&#39;."
        ),
        "{body}"
    );
    assert!(!body.contains("<script>"), "{body}");
}

#[test]
fn values_with_special_characters_round_trip_through_the_file() {
    let server = TestServer::start();
    let id = log_in(&server, "a%3Db%25c");
    assert!(server.session_file(&id).ends_with("\nname=a%3Db%25c\n"));
    let home = server.get("/", Some(&cookie(&id)));
    assert!(
        home.body_text().contains("You are logged in as a=b%c."),
        "{home}"
    );
}

#[test]
fn an_anonymous_visitor_gets_no_cookie_and_no_file() {
    let server = TestServer::start();
    for path in [
        "/",
        "/login",
        "/store",
        "/cart",
        "/logout",
        "/static/style.css",
        "/nowhere",
    ] {
        let reply = server.get(path, None);
        assert!(reply.header("Set-Cookie").is_none(), "{path}:\n{reply}");
    }
    let invalid = server.post_form("/login", "name=", None);
    assert!(invalid.header("Set-Cookie").is_none());
    assert!(server.session_dir_entries().is_empty());
}

#[test]
fn the_cart_counts_what_was_added() {
    let server = TestServer::start();
    let first = server.post_form("/cart", "id=2", None);
    assert_eq!(first.status_line, "HTTP/1.1 303 See Other", "{first}");
    assert_eq!(first.header("Location"), Some("/cart"));
    let id = first
        .session_cookie()
        .expect("the first add creates a session");
    for item in ["2", "5"] {
        let reply = server.post_form("/cart", &format!("id={item}"), Some(&cookie(&id)));
        assert_eq!(reply.status(), 303, "{reply}");
        assert!(reply.header("Set-Cookie").is_none(), "{reply}");
    }
    let file = server.session_file(&id);
    assert_eq!(file, format!("{}\ncart=2,2,5\n", created_line(&file)));

    let cart = server.get("/cart", Some(&cookie(&id)));
    assert_eq!(cart.header("Cache-Control"), Some("no-store"));
    let body = cart.body_text();
    assert!(
        body.contains("<span class=\"item\">Blue ink pad</span> <span class=\"count\">× 2</span>"),
        "{body}"
    );
    assert!(
        body.contains("<span class=\"item\">Souvenir map</span> <span class=\"count\">× 1</span>")
    );
    assert!(body.contains(r#"<a href="/store">Back to the store</a>"#));
    // A cart-only visitor is still not logged in.
    assert_eq!(server.get("/", Some(&cookie(&id))).status(), 302);
}

#[test]
fn the_store_lists_items_with_add_to_cart_forms() {
    let server = TestServer::start();
    let body = server.get("/store", None).body_text();
    assert!(body.contains("Red hand stamp"), "{body}");
    assert!(body.contains(
        r#"<form action="/cart" method="post"><input type="hidden" name="id" value="5">"#
    ));
    assert_eq!(body.matches("Add to cart").count(), 5);
}

#[test]
fn unknown_items_get_400_and_store_nothing() {
    let server = TestServer::start();
    for body in ["id=99", "id=abc", "id=", "", "id=-1", "id=1%00"] {
        let reply = server.post_form("/cart", body, None);
        assert_eq!(reply.status(), 400, "{body}:\n{reply}");
        assert!(
            reply.body_text().contains("There is no item with id"),
            "{reply}"
        );
    }
    let wrong_type = server.exchange(
        "POST /cart HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{\"id\":1}",
    );
    assert_eq!(wrong_type.status(), 415, "{wrong_type}");
    assert!(server.session_dir_entries().is_empty());
}

#[test]
fn a_hundred_parallel_adds_to_one_cart_leave_a_hundred_items() {
    let server = TestServer::start();
    let id = server
        .post_form("/cart", "id=1", None)
        .session_cookie()
        .unwrap();
    std::thread::scope(|scope| {
        for i in 0..100 {
            let (server, id) = (&server, &id);
            scope.spawn(move || {
                let item = i % 5 + 1;
                let reply = server.post_form("/cart", &format!("id={item}"), Some(&cookie(id)));
                assert_eq!(reply.status(), 303, "{reply}");
            });
        }
    });
    let file = server.session_file(&id);
    let cart = file.lines().find_map(|l| l.strip_prefix("cart=")).unwrap();
    assert_eq!(cart.split(',').count(), 101, "{file}");
    for item in 1..=5 {
        let expected = if item == 1 { 21 } else { 20 };
        assert_eq!(
            cart.split(',').filter(|i| *i == item.to_string()).count(),
            expected
        );
    }
}

#[test]
fn adds_racing_a_logout_never_bring_the_session_back() {
    let server = TestServer::start();
    for _round in 0..5 {
        let id = log_in(&server, "David");
        std::thread::scope(|scope| {
            for i in 0..20 {
                let (server, id) = (&server, &id);
                scope.spawn(move || {
                    if i == 10 {
                        server.get("/logout", Some(&cookie(id)));
                    } else {
                        let reply = server.post_form("/cart", "id=1", Some(&cookie(id)));
                        assert_eq!(reply.status(), 303, "{reply}");
                    }
                });
            }
        });
        assert!(
            !server.session_path(&id).exists(),
            "a logged-out session was written back"
        );
    }
}

#[test]
fn an_idle_session_expires_and_is_swept() {
    let server = TestServer::start_with(&["--session-ttl", "1"]);
    let id = log_in(&server, "David");
    assert!(
        server
            .get("/", Some(&cookie(&id)))
            .body_text()
            .contains(LOGGED_IN_AS_DAVID)
    );
    // Idle for more than a second (whole seconds, so wait past 2).
    std::thread::sleep(Duration::from_millis(2500));
    let reply = server.get("/", Some(&cookie(&id)));
    assert_eq!(
        reply.status(),
        302,
        "an expired session is no session:\n{reply}"
    );
    wait_until("the sweeper removes the file", || {
        !server.session_path(&id).exists()
    });
    server.wait_for_log("sweep: removed 1 expired session file(s)");
}

#[test]
fn a_session_older_than_its_lifetime_expires_even_in_use() {
    let server = TestServer::start_with(&["--session-lifetime", "2"]);
    let id = log_in(&server, "David");
    let started = Instant::now();
    loop {
        let reply = server.get("/", Some(&cookie(&id)));
        if reply.status() == 302 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never expired");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[test]
fn a_corrupt_session_file_is_logged_and_treated_as_no_session() {
    let server = TestServer::start();
    let id = log_in(&server, "David");
    for garbage in [
        "name=David\n",
        "created=1\nname",
        "\u{0}\u{1}binary",
        "created=x\nname=David\n",
    ] {
        std::fs::write(server.session_path(&id), garbage).unwrap();
        let reply = server.get("/", Some(&cookie(&id)));
        assert_eq!(reply.status(), 302, "{garbage:?}:\n{reply}");
    }
    server.wait_for_log(&format!("session {}…: corrupt session file", &id[..8]));
    assert_eq!(server.get("/login", None).status(), 200);
}

#[test]
fn a_login_survives_a_server_restart() {
    let temp = TempDir::new("restart");
    let sessions = temp.0.join("sessions");
    let id = {
        let server = TestServer::start_in(&sessions, &[]);
        log_in(&server, "David")
    }; // dropped: killed
    let server = TestServer::start_in(&sessions, &[]);
    let home = server.get("/", Some(&cookie(&id)));
    assert!(home.body_text().contains(LOGGED_IN_AS_DAVID), "{home}");
}

#[test]
fn a_start_removes_only_temporary_files_no_live_process_can_still_be_writing() {
    let temp = TempDir::new("leftover");
    let sessions = temp.0.join("sessions");
    std::fs::create_dir_all(&sessions).unwrap();
    let write = |name: &str| std::fs::write(sessions.join(name), "created=1\nna").unwrap();
    // Named by a process that cannot exist (above Linux's largest pid).
    write(".tmp-99999999-0123456789abcdef0123456789abcdef-1");
    // Named by a live process (this test), and one unnamed but fresh: a
    // write that may still be going on.
    let live = format!(
        ".tmp-{}-0123456789abcdef0123456789abcdef-2",
        std::process::id()
    );
    write(&live);
    write(".tmp-fresh");
    // Unnamed and an hour old: nobody is still writing it.
    write(".tmp-old");
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let old = std::fs::File::options()
        .write(true)
        .open(sessions.join(".tmp-old"))
        .unwrap();
    old.set_modified(an_hour_ago).unwrap();
    let server = TestServer::start_in(&sessions, &[]);
    // Removed in the background, just after start.
    wait_until("the abandoned temporary files are removed", || {
        server.session_dir_entries().len() == 2
    });
    assert_eq!(
        server.session_dir_entries(),
        [live.clone(), ".tmp-fresh".to_string()]
    );
}

#[test]
fn session_files_are_private_to_their_owner() {
    let server = TestServer::start();
    let id = log_in(&server, "David");
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&server.session_path(&id)), 0o600);
    assert_eq!(mode(&server.sessions_dir), 0o700);
}

#[test]
fn past_the_session_cap_a_newcomer_gets_503_when_no_address_is_over_its_share() {
    // Two addresses with one session each fill a cap of 2: neither holds
    // more than its share, so a third address gets 503 and takes nothing.
    let server = TestServer::start_with(&["--max-sessions", "2"]);
    let log_in_from = |from: &str, name: &str| {
        request_from(&server, from, "/login", Some(&format!("name={name}")), None)
            .session_cookie()
            .expect("a login")
    };
    let first = log_in_from("127.0.0.2", "Ann");
    let second = log_in_from("127.0.0.3", "Bob");
    let third = request_from(&server, "127.0.0.4", "/login", Some("name=Cy"), None);
    assert_eq!(
        third.status_line, "HTTP/1.1 503 Service Unavailable",
        "{third}"
    );
    assert!(third.header("Set-Cookie").is_none());
    let cart = request_from(&server, "127.0.0.4", "/cart", Some("id=1"), None);
    assert_eq!(cart.status(), 503, "{cart}");
    for (id, name) in [(&first, "Ann"), (&second, "Bob")] {
        let home = server.get("/", Some(&cookie(id)));
        assert!(home.body_text().contains(&format!("logged in as {name}.")));
    }
    // Logging out frees a place.
    server.get("/logout", Some(&cookie(&first)));
    log_in_from("127.0.0.4", "Cy");
}

#[test]
fn a_sessions_folder_that_vanishes_while_running_gives_a_clear_500() {
    let server = TestServer::start();
    let id = log_in(&server, "David");
    std::fs::remove_dir_all(&server.sessions_dir).unwrap();
    let reply = server.post_form("/login", "name=Ann", None);
    assert_eq!(
        reply.status_line, "HTTP/1.1 500 Internal Server Error",
        "{reply}"
    );
    assert!(
        reply.body_text().contains("could not save your session"),
        "{reply}"
    );
    assert_eq!(server.get("/", Some(&cookie(&id))).status(), 302);
    // Once the folder is back, logins work again.
    std::fs::create_dir_all(&server.sessions_dir).unwrap();
    log_in(&server, "Ann");
}

#[test]
fn a_session_page_request_on_a_kept_alive_connection_sees_logout() {
    let server = TestServer::start();
    let id = log_in(&server, "David");
    let mut client = server.connect();
    client.send(&get_request("/", Some(&cookie(&id))));
    assert_eq!(client.read_reply().status(), 200);
    client.send(&get_request("/logout", Some(&cookie(&id))));
    assert_eq!(client.read_reply().status(), 302);
    client.send(&get_request("/", Some(&cookie(&id))));
    assert_eq!(client.read_reply().status(), 302);
    client.send(&post_form_request("/cart", "id=1", Some(&cookie(&id))));
    let add = client.read_reply();
    let new_id = add
        .session_cookie()
        .expect("a new session, not the old one");
    assert_ne!(new_id, id);
    assert!(!server.session_path(&id).exists());
}

#[test]
fn adds_racing_a_login_are_kept_or_refused_and_never_log_the_visitor_out() {
    let server = TestServer::start();
    for _round in 0..5 {
        let cart = server.post_form("/cart", "id=1", None);
        let before = cart.session_cookie().unwrap();
        // Twenty adds to the old session, and a login from it, at once.
        // An add that found the old session (303) must be in the logged-in
        // cart. One that came after the login replaced it is refused (409)
        // and starts no session: a new session's cookie would replace the
        // login's and log the visitor out.
        let (login_id, kept_adds) = std::thread::scope(|scope| {
            let adds: Vec<_> = (0..20)
                .map(|_| {
                    let (server, before) = (&server, &before);
                    scope.spawn(move || {
                        let reply = server.post_form("/cart", "id=2", Some(&cookie(before)));
                        assert!(reply.header("Set-Cookie").is_none(), "{reply}");
                        match reply.status() {
                            303 => true,
                            409 => false,
                            _ => panic!("neither kept nor refused:\n{reply}"),
                        }
                    })
                })
                .collect();
            let login = server.post_form("/login", "name=David", Some(&cookie(&before)));
            let login_id = login.session_cookie().expect("login sets a cookie");
            let kept = adds
                .into_iter()
                .map(|a| a.join().unwrap())
                .filter(|&kept| kept)
                .count();
            (login_id, kept)
        });
        let file = server.session_file(&login_id);
        let cart = file.lines().find_map(|l| l.strip_prefix("cart=")).unwrap();
        let twos = cart.split(',').filter(|i| *i == "2").count();
        assert_eq!(
            twos, kept_adds,
            "every add answered 303 is in the cart the visitor sees: {file}"
        );
        assert!(!server.session_path(&before).exists());
        assert_eq!(
            server.session_dir_entries(),
            std::slice::from_ref(&login_id)
        );
        let home = server.get("/", Some(&cookie(&login_id)));
        assert!(home.body_text().contains(LOGGED_IN_AS_DAVID), "{home}");
        server.get("/logout", Some(&cookie(&login_id)));
    }
}

#[test]
fn a_full_cart_refuses_more_with_a_reason() {
    let server = TestServer::start();
    let id = server
        .post_form("/cart", "id=1", None)
        .session_cookie()
        .unwrap();
    let mut client = server.connect();
    for _ in 1..1000 {
        client.send(&post_form_request("/cart", "id=1", Some(&cookie(&id))));
        assert_eq!(client.read_reply().status(), 303);
    }
    client.send(&post_form_request("/cart", "id=2", Some(&cookie(&id))));
    let full = client.read_reply();
    assert_eq!(full.status_line, "HTTP/1.1 400 Bad Request", "{full}");
    assert!(
        full.body_text()
            .contains("The cart is full: it holds at most 1000 items.")
    );
    let file = server.session_file(&id);
    assert_eq!(
        file.matches(',').count(),
        999,
        "nothing past the cap was stored"
    );
}
