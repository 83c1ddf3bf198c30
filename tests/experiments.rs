//! The experiments of NOTES.md's "Try this next", each run the way the
//! notes say (curl where the notes use curl, the same requests over a raw
//! socket otherwise), checking that you see what the notes say you will.

mod common;

use std::time::{Duration, Instant};

use common::{TempDir, TestServer, cookie, curl, log_in};

#[test]
fn steal_the_hand_stamp_the_cookie_copied_into_curl_is_you() {
    let server = TestServer::start();
    let temp = TempDir::new("steal");
    let jar = temp.0.join("jar").display().to_string();
    let url = format!("http://{}", server.addr);
    curl(&[
        "-c",
        &jar,
        "-b",
        &jar,
        "-d",
        "name=David",
        &format!("{url}/login"),
    ]);
    let id = std::fs::read_to_string(&jar)
        .unwrap()
        .lines()
        .find_map(|line| {
            line.split('\t')
                .nth(6)
                .filter(|_| line.contains("\tsession\t"))
        })
        .map(str::to_string)
        .expect("the jar holds the session cookie");
    // Another "computer": no jar, only the copied value.
    let page = curl(&[
        "-A",
        "another-computer",
        "-b",
        &cookie(&id),
        &format!("{url}/"),
    ]);
    assert!(page.contains("You are logged in as David."), "{page}");
}

#[test]
fn two_browsers_are_two_files() {
    let server = TestServer::start();
    let david = log_in(&server, "David");
    let ann = log_in(&server, "Ann");
    let mut files = vec![david.clone(), ann.clone()];
    files.sort();
    assert_eq!(server.session_dir_entries(), files);
    for (id, name) in [(&david, "David"), (&ann, "Ann")] {
        let page = server.get("/", Some(&cookie(id))).body_text();
        assert!(page.contains(&format!("You are logged in as {name}.")));
    }
}

#[test]
fn edit_the_file_by_hand_and_the_page_follows() {
    let server = TestServer::start();
    let id = log_in(&server, "David");
    let path = server.session_path(&id);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("name=David", "name=Eve")).unwrap();
    let page = server.get("/", Some(&cookie(&id))).body_text();
    assert!(page.contains("You are logged in as Eve."), "{page}");
    // A line without '=' makes the whole file corrupt: logged, ignored.
    std::fs::write(&path, "created=1\nname Eve\n").unwrap();
    assert_eq!(server.get("/", Some(&cookie(&id))).status(), 302);
    server.wait_for_log(&format!(
        "session {}…: corrupt session file: a line has no '='; treated as no session",
        &id[..8]
    ));
    server.wait_for_log("(no session: corrupt file (a line has no '='))");
}

#[test]
fn wait_out_the_idle_timeout_and_the_session_is_gone() {
    let server = TestServer::start_with(&["--session-ttl", "2"]);
    let id = log_in(&server, "David");
    assert_eq!(server.get("/", Some(&cookie(&id))).status(), 200);
    // Wait, without using the session (a request would count as a use),
    // until it has been idle longer than the ttl.
    let last_used = std::fs::metadata(server.session_path(&id))
        .unwrap()
        .modified()
        .unwrap();
    while last_used.elapsed().unwrap() <= Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(server.get("/", Some(&cookie(&id))).status(), 302);
    // Idle too long, or already swept: either way, gone, and the log says which.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server.log().contains("(no session: idle too long)")
        && !server.log().contains("(no session: no such file)")
    {
        assert!(
            Instant::now() < deadline,
            "no reason logged:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The sweep removes the file a moment later.
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.session_path(&id).exists() {
        assert!(Instant::now() < deadline, "never swept");
        std::thread::sleep(Duration::from_millis(100));
    }
    server.wait_for_log("sweep: removed 1 expired session file(s)");
}

#[test]
fn fixation_an_id_planted_before_login_is_worthless_after_it() {
    let server = TestServer::start();
    // The attacker gets a real id of their own (an anonymous cart) and
    // plants it in the victim's browser.
    let planted = server
        .post_form("/cart", "id=1", None)
        .session_cookie()
        .unwrap();
    let login = server.post_form("/login", "name=Victim", Some(&cookie(&planted)));
    let victims = login.session_cookie().unwrap();
    assert_ne!(victims, planted);
    // The planted id opens nothing now: not the victim's session, not any.
    let attacker_view = server.get("/", Some(&cookie(&planted)));
    assert_eq!(attacker_view.status(), 302, "{attacker_view}");
    assert!(!server.session_path(&planted).exists());
    let victim_view = server.get("/", Some(&cookie(&victims))).body_text();
    assert!(victim_view.contains("You are logged in as Victim."));
}

#[test]
fn two_servers_on_one_folder_share_their_sessions() {
    let temp = TempDir::new("experiment-shared");
    let sessions = temp.0.join("sessions");
    let a = TestServer::start_in(&sessions, &[]);
    let b = TestServer::start_in(&sessions, &[]);
    let id = log_in(&a, "David");
    let page = b.get("/", Some(&cookie(&id))).body_text();
    assert!(page.contains("You are logged in as David."), "{page}");
}

#[test]
fn two_servers_on_separate_folders_overwrite_each_others_cookie() {
    // Cookies ignore the port (RFC 6265 §8.5): one jar, one `session`
    // cookie for 127.0.0.1, whichever server set it last.
    let a = TestServer::start();
    let b = TestServer::start();
    let temp = TempDir::new("experiment-ports");
    let jar = temp.0.join("jar").display().to_string();
    let jar_args = ["-c", jar.as_str(), "-b", jar.as_str()];
    let at = |server: &TestServer, path: &str| format!("http://{}{path}", server.addr);
    let mut login = jar_args.to_vec();
    login.extend(["-d", "name=David"]);
    let url_a = at(&a, "/login");
    curl(&[login.as_slice(), &[url_a.as_str()]].concat());
    let mut login_b = jar_args.to_vec();
    login_b.extend(["-d", "name=Ann"]);
    let url_b = at(&b, "/login");
    curl(&[login_b.as_slice(), &[url_b.as_str()]].concat());
    let sessions_in_jar = std::fs::read_to_string(&jar)
        .unwrap()
        .lines()
        .filter(|line| line.contains("\tsession\t"))
        .count();
    assert_eq!(sessions_in_jar, 1, "one cookie for both ports");
    let home_a = at(&a, "/");
    let page = curl(
        &[
            jar_args.as_slice(),
            &["-o", "/dev/null", "-w", "%{http_code}", home_a.as_str()],
        ]
        .concat(),
    );
    assert_eq!(page, "302", "server A no longer recognises this browser");
}

#[test]
fn the_lost_update_race_the_lock_prevents() {
    let server = TestServer::start_with(&["--quiet"]);
    let id = log_in(&server, "David");
    std::thread::scope(|scope| {
        for _ in 0..100 {
            let (server, id) = (&server, &id);
            scope.spawn(move || {
                let reply = server.post_form("/cart", "id=2", Some(&cookie(id)));
                assert_eq!(reply.status(), 303);
            });
        }
    });
    let file = server.session_file(&id);
    let cart = file.lines().find_map(|l| l.strip_prefix("cart=")).unwrap();
    assert_eq!(cart.split(',').count(), 100, "{file}");
}

#[test]
fn logout_delete_and_logout_clear_name_side_by_side() {
    // The default: the file is deleted and the cookie expired.
    let server = TestServer::start();
    let id = log_in(&server, "David");
    let logout = server.get("/logout", Some(&cookie(&id)));
    assert!(
        logout
            .headers_named("Set-Cookie")
            .contains(&"session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"),
        "{logout}"
    );
    assert!(!server.session_path(&id).exists());

    // The Flask notes' `session["name"] = None`: file and cookie stay.
    let server = TestServer::start_with(&["--logout", "clear-name"]);
    let id = log_in(&server, "David");
    let before = server.session_file(&id);
    let logout = server.get("/logout", Some(&cookie(&id)));
    assert_eq!(logout.status(), 302);
    assert!(logout.header("Set-Cookie").is_none(), "{logout}");
    assert_eq!(
        server.session_file(&id),
        before.replace("name=David", "name=")
    );
    let home = server.get("/", Some(&cookie(&id)));
    assert_eq!(home.header("Location"), Some("/login"), "{home}");
    server.wait_for_log("GET / 302 -> /login  cookie: session=");
    server.wait_for_log("(a session with no name)");
    // The cart survives such a logout, as it would in Flask.
    server.post_form("/cart", "id=4", Some(&cookie(&id)));
    assert!(server.session_file(&id).contains("cart=4"));
}
