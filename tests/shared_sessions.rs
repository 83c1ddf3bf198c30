//! Sessions that several server processes share, that no client can fill,
//! and that fail honestly: two real handstamp processes on one sessions
//! folder, an anonymous flood at the cap, a folder that refuses deletes.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::{TempDir, TestServer, cookie, log_in, request_from};

/// Two servers on one folder, as behind a load balancer.
fn two_servers(extra_args: &[&str]) -> (TempDir, TestServer, TestServer) {
    let temp = TempDir::new("shared");
    let sessions = temp.0.join("sessions");
    let a = TestServer::start_in(&sessions, extra_args);
    let b = TestServer::start_in(&sessions, extra_args);
    (temp, a, b)
}

fn cart_items(server: &TestServer, id: &str) -> usize {
    let file = server.session_file(id);
    let cart = file
        .lines()
        .find_map(|line| line.strip_prefix("cart="))
        .unwrap_or_default();
    cart.split(',').filter(|item| !item.is_empty()).count()
}

/// Polls until `condition` holds (the sweep and recounts run on their own
/// clocks); fails with `what` after 20 s.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn parallel_adds_through_two_processes_are_all_kept() {
    let (_temp, a, b) = two_servers(&["--quiet"]);
    let id = log_in(&a, "David");
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let server = if thread % 2 == 0 { &a } else { &b };
            let id = &id;
            scope.spawn(move || {
                let mut client = server.connect();
                for _ in 0..50 {
                    client.send(&common::post_form_request(
                        "/cart",
                        "id=4",
                        Some(&cookie(id)),
                    ));
                    let reply = client.read_reply();
                    assert_eq!(reply.status(), 303, "{reply}");
                }
            });
        }
    });
    assert_eq!(cart_items(&a, &id), 400, "every 303 is in the file");
}

#[test]
fn a_logout_through_one_process_is_never_undone_by_an_add_through_the_other() {
    let (_temp, a, b) = two_servers(&["--quiet"]);
    for trial in 0..30 {
        let id = log_in(&a, "David");
        std::thread::scope(|scope| {
            let adds = scope.spawn(|| {
                for _ in 0..5 {
                    let reply = b.post_form("/cart", "id=1", Some(&cookie(&id)));
                    // Before the logout: kept (303, no cookie). After it: no
                    // session, so a new one with its own cookie.
                    if reply.status() == 303 && reply.session_cookie().is_some() {
                        assert_ne!(reply.session_cookie().unwrap(), id);
                    }
                }
            });
            let logout = a.get("/logout", Some(&cookie(&id)));
            assert_eq!(logout.status(), 302, "trial {trial}:\n{logout}");
            adds.join().unwrap();
        });
        assert!(
            !a.session_path(&id).exists(),
            "trial {trial}: the session came back"
        );
        for server in [&a, &b] {
            assert_eq!(server.get("/", Some(&cookie(&id))).status(), 302);
        }
    }
}

#[test]
fn logouts_through_the_other_process_never_block_logins() {
    // The count each process keeps can never go below zero and get stuck.
    let (_temp, a, b) = two_servers(&["--quiet", "--max-sessions", "5"]);
    for _ in 0..10 {
        let id = log_in(&a, "Ann");
        assert_eq!(b.get("/logout", Some(&cookie(&id))).status(), 302);
    }
    for _ in 0..5 {
        let id = log_in(&b, "Bob");
        assert_eq!(b.get("/", Some(&cookie(&id))).status(), 200);
    }
}

#[test]
fn files_removed_by_hand_free_their_places() {
    // Three addresses with one session each fill a cap of 3: nobody is
    // over their share, so a fourth address must wait.
    let server = TestServer::start_with(&["--quiet", "--max-sessions", "3"]);
    let ids: Vec<String> = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
        .iter()
        .map(|from| {
            request_from(&server, from, "/login", Some("name=Ann"), None)
                .session_cookie()
                .expect("a login")
        })
        .collect();
    let refused = request_from(&server, "127.0.0.4", "/login", Some("name=Bob"), None);
    assert_eq!(refused.status(), 503, "{refused}");
    std::fs::remove_file(server.session_path(&ids[0])).unwrap();
    // The folder is counted again when full (at most a second apart).
    eventually("a login once a file was removed by hand", || {
        request_from(&server, "127.0.0.4", "/login", Some("name=Bob"), None).status() == 303
    });
    for id in &ids[1..] {
        assert!(
            server.session_path(id).exists(),
            "nobody else's session was taken"
        );
    }
}

#[test]
fn a_flood_from_one_address_cannot_keep_others_out_or_take_their_sessions() {
    let server = TestServer::start_with(&["--quiet", "--max-sessions", "50"]);
    // David, on 127.0.0.2, logs in and fills his cart.
    let david = request_from(&server, "127.0.0.2", "/login", Some("name=David"), None)
        .session_cookie()
        .expect("David logs in");
    let add = request_from(
        &server,
        "127.0.0.2",
        "/cart",
        Some("id=2"),
        Some(&cookie(&david)),
    );
    assert_eq!(add.status(), 303, "{add}");
    // 500 requests from 127.0.0.1 without a cookie, each making a session
    // and using it once: ten times the cap.
    let mut flood = server.connect();
    for _ in 0..500 {
        flood.send(&common::post_form_request("/cart", "id=5", None));
        let reply = flood.read_reply();
        assert_eq!(
            reply.status(),
            303,
            "the flood loses its own oldest: {reply}"
        );
        let id = reply.session_cookie().unwrap();
        flood.send(&common::get_request("/cart", Some(&cookie(&id))));
        assert_eq!(flood.read_reply().status(), 200);
    }
    let files = server.session_entries_named_like_ids();
    assert!(files <= 50, "{files} files for a cap of 50");
    // David kept his session and his cart.
    let home = request_from(&server, "127.0.0.2", "/", None, Some(&cookie(&david)));
    assert!(
        home.body_text().contains("You are logged in as David."),
        "{home}"
    );
    assert!(server.session_file(&david).contains("cart=2\n"));
    // A newcomer on a third address logs in, and keeps the session while
    // the flood goes on.
    let ann = request_from(&server, "127.0.0.3", "/login", Some("name=Ann"), None)
        .session_cookie()
        .expect("Ann logs in at once");
    for _ in 0..100 {
        flood.send(&common::post_form_request("/cart", "id=5", None));
        assert_eq!(flood.read_reply().status(), 303);
    }
    let home = request_from(&server, "127.0.0.3", "/", None, Some(&cookie(&ann)));
    assert!(
        home.body_text().contains("You are logged in as Ann."),
        "{home}"
    );
    assert!(server.session_file(&david).contains("cart=2\n"));
    // Each session file says which address made it.
    assert!(server.session_file(&ann).contains("\nfrom=127.0.0.3\n"));
}

/// Makes `dir` refuse deletes, as far as this machine allows: read-only
/// for a normal user; immutable (`chattr +i`) for root, who ignores modes.
/// Returns how it did it, or `None`.
fn make_undeletable(dir: &std::path::Path) -> Option<&'static str> {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o500)).unwrap();
    let probe = dir.join("probe");
    if std::fs::remove_file(&probe).is_err() && std::fs::metadata(&probe).is_ok() {
        return Some("mode 0500");
    }
    let chattr = std::process::Command::new("chattr")
        .arg("+i")
        .arg(dir)
        .status();
    if chattr.is_ok_and(|status| status.success()) {
        return Some("chattr +i");
    }
    None
}

fn make_deletable(dir: &std::path::Path) {
    let _ = std::process::Command::new("chattr")
        .arg("-i")
        .arg(dir)
        .status();
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
}

#[test]
fn a_logout_that_cannot_delete_the_file_says_so_and_the_session_still_works() {
    let server = TestServer::start_with(&["--quiet"]);
    let id = log_in(&server, "David");
    // A probe file shows whether deleting really fails.
    std::fs::write(server.sessions_dir.join("probe"), "").unwrap();
    let how = make_undeletable(&server.sessions_dir);
    let logout = server.get("/logout", Some(&cookie(&id)));
    make_deletable(&server.sessions_dir);
    if how.is_none() {
        // Neither way works here (root on a file system without chattr):
        // put a folder where the file is, which no unlink removes.
        let path = server.session_path(&id);
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        let logout = server.get("/logout", Some(&cookie(&id)));
        assert_eq!(
            logout.status_line, "HTTP/1.1 500 Internal Server Error",
            "{logout}"
        );
        assert!(logout.header("Set-Cookie").is_none());
        return;
    }
    assert_eq!(
        logout.status_line, "HTTP/1.1 500 Internal Server Error",
        "{how:?}:\n{logout}"
    );
    assert!(
        logout.header("Set-Cookie").is_none(),
        "no 'forget the cookie':\n{logout}"
    );
    assert!(
        logout.body_text().contains("you are still logged in"),
        "{logout}"
    );
    let home = server.get("/", Some(&cookie(&id)));
    assert!(
        home.body_text().contains("You are logged in as David."),
        "{home}"
    );
}

#[test]
fn two_session_cookies_reach_neither_session() {
    let server = TestServer::start();
    let victim = log_in(&server, "Victim");
    server.post_form("/cart", "id=1", Some(&cookie(&victim)));
    let planted = log_in(&server, "Mallory");
    let victim_file = server.session_file(&victim);
    let planted_file = server.session_file(&planted);
    // The planted cookie (longer path) comes first, as a browser lists it.
    let both = format!("session={planted}; session={victim}");
    // A change is refused outright: a new session here would replace
    // the visitor's cookie (cross_site.rs).
    let add = server.post_form("/cart", "id=5", Some(&both));
    assert_eq!(add.status(), 400, "{add}");
    assert!(add.header("Set-Cookie").is_none(), "{add}");
    assert_eq!(server.session_entries_named_like_ids(), 2);
    assert_eq!(server.session_file(&victim), victim_file);
    assert_eq!(server.session_file(&planted), planted_file);
    let cart = server.get("/cart", Some(&both));
    assert!(cart.body_text().contains("Your cart is empty."), "{cart}");
    let home = server.get("/", Some(&both));
    assert_eq!(home.status(), 302);
    server.wait_for_log("(no session: several session cookies)");
    // The same id twice is still one session.
    let twice = format!("session={victim}; session={victim}");
    assert_eq!(server.get("/", Some(&twice)).status(), 200);
}

#[test]
fn the_sessions_folder_is_made_private_even_when_it_already_exists() {
    let temp = TempDir::new("mode");
    let sessions = temp.0.join("sessions");
    std::fs::create_dir(&sessions).unwrap();
    std::fs::set_permissions(&sessions, std::fs::Permissions::from_mode(0o755)).unwrap();
    let _server = TestServer::start_in(&sessions, &[]);
    let mode = std::fs::metadata(&sessions).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

#[test]
fn parallel_adds_lose_nothing_while_the_folders_bookkeeping_is_deleted() {
    // An age-based cleaner or an `rm` of the dot-files: the locks are on
    // the session files themselves, so nothing a cleaner removes can let
    // two processes change one session at once.
    let (_temp, a, b) = two_servers(&["--quiet"]);
    let id = log_in(&a, "David");
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::remove_file(a.sessions_dir.join(".count"));
                let _ = std::fs::remove_dir_all(a.sessions_dir.join(".inspector"));
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        let adders: Vec<_> = (0..8)
            .map(|thread| {
                let server = if thread % 2 == 0 { &a } else { &b };
                let id = &id;
                scope.spawn(move || {
                    let mut client = server.connect();
                    for _ in 0..50 {
                        client.send(&common::post_form_request(
                            "/cart",
                            "id=4",
                            Some(&cookie(id)),
                        ));
                        assert_eq!(client.read_reply().status(), 303);
                    }
                })
            })
            .collect();
        for adder in adders {
            adder.join().unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(cart_items(&a, &id), 400, "every 303 is in the file");
}

#[test]
fn three_processes_share_one_cap() {
    let temp = TempDir::new("three");
    let sessions = temp.0.join("sessions");
    let servers: Vec<TestServer> = (0..3)
        .map(|_| TestServer::start_in(&sessions, &["--quiet", "--max-sessions", "60"]))
        .collect();
    std::thread::scope(|scope| {
        for server in &servers {
            scope.spawn(move || {
                let mut client = server.connect();
                for _ in 0..100 {
                    client.send(&common::post_form_request("/cart", "id=1", None));
                    let reply = client.read_reply();
                    assert!([303, 503].contains(&reply.status()), "{reply}");
                }
            });
        }
    });
    let files = servers[0].session_entries_named_like_ids();
    assert!(files <= 60, "{files} session files for one cap of 60");
}

#[test]
fn a_lock_held_too_long_is_a_503_and_the_server_stays_responsive() {
    // As if another process were stopped (SIGSTOP, a debugger) while
    // changing this session: this test holds the session file's lock.
    let server = TestServer::start();
    let id = log_in(&server, "David");
    let other = log_in(&server, "Ann");
    let held = std::fs::File::open(server.session_path(&id)).unwrap();
    held.lock().unwrap();
    std::thread::scope(|scope| {
        let add = scope.spawn(|| {
            let started = Instant::now();
            let reply = server.post_form("/cart", "id=1", Some(&cookie(&id)));
            (reply, started.elapsed())
        });
        // Meanwhile everybody else is served at once.
        for _ in 0..5 {
            let started = Instant::now();
            assert_eq!(server.get("/", Some(&cookie(&other))).status(), 200);
            assert!(started.elapsed() < Duration::from_secs(1));
        }
        let (reply, waited) = add.join().unwrap();
        assert_eq!(reply.status(), 503, "{reply}");
        assert_eq!(reply.header("Retry-After"), Some("5"));
        assert!(reply.body_text().contains("held your session"), "{reply}");
        assert!(
            waited >= Duration::from_secs(2) && waited < Duration::from_secs(10),
            "{waited:?}"
        );
    });
    held.unlock().unwrap();
    assert_eq!(
        server
            .post_form("/cart", "id=1", Some(&cookie(&id)))
            .status(),
        303,
        "once released, the session works again"
    );
}
