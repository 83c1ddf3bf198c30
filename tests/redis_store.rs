//! Sessions in a real Redis (`--sessions redis://…`): the same text as the
//! files, the same promises across servers that share no disk, and honest
//! answers when Redis stops. Each test starts its own `redis-server` on a
//! free loopback port with nothing saved to disk (unless it tests saving).

mod common;

use std::time::{Duration, Instant};

use common::{RedisServer, TestServer, cookie, log_in, post_form_request, request_from};

/// A server whose sessions are in `redis` (its own empty temporary folder
/// beside it, which stays empty).
fn server_on(redis: &RedisServer, extra_args: &[&str]) -> TestServer {
    let url = redis.url();
    let mut args = vec!["--sessions", url.as_str()];
    args.extend_from_slice(extra_args);
    TestServer::start_with(&args)
}

/// The key's value: what `redis-cli --raw GET` prints, less the one
/// newline redis-cli adds after every reply.
fn session_text(redis: &RedisServer, id: &str) -> String {
    let printed = redis.cli(&["GET", &format!("handstamp:session:{id}")]);
    printed.strip_suffix('\n').unwrap_or(&printed).to_string()
}

fn cart_items(redis: &RedisServer, id: &str) -> usize {
    let text = session_text(redis, id);
    let cart = text
        .lines()
        .find_map(|line| line.strip_prefix("cart="))
        .unwrap_or_default();
    cart.split(',').filter(|item| !item.is_empty()).count()
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server); .ci/run runs it"]
fn a_session_in_redis_is_the_files_text_with_redis_own_expiry() {
    let redis = RedisServer::start();
    let server = server_on(&redis, &["--session-ttl", "600"]);
    // The start says where sessions are kept.
    server.wait_for_log(&format!(
        "sessions: one key each (handstamp:session:ID) in Redis at {}",
        redis.url()
    ));
    let id = log_in(&server, "David");
    assert_eq!(
        server
            .post_form("/cart", "id=2", Some(&cookie(&id)))
            .status(),
        303
    );
    let text = session_text(&redis, &id);
    // Byte for byte what the file would hold.
    let created = text.lines().next().unwrap();
    assert!(created.starts_with("created="), "{text}");
    assert_eq!(
        text,
        format!("{created}\nfrom=127.0.0.1\nname=David\ncart=2\n")
    );
    // Redis deletes it by itself: the idle timeout is its TTL.
    let ttl: u64 = redis
        .cli(&["TTL", &format!("handstamp:session:{id}")])
        .trim()
        .parse()
        .unwrap();
    assert!((590..=600).contains(&ttl), "TTL {ttl}");
    // Nothing was written to the folder.
    let files = std::fs::read_dir(&server.sessions_dir).map_or(0, |dir| dir.count());
    assert_eq!(files, 0, "nothing in the folder");
    // The page is made from it, and the panel shows the commands.
    let page = server.get("/", Some(&cookie(&id)));
    assert_eq!(page.status(), 200);
    let body = page.body_text();
    assert!(body.contains("logged in as David") || body.contains("David"));
    assert!(
        body.contains(&format!("redis-cli --raw GET handstamp:session:{id}")),
        "{body}"
    );
    assert!(
        body.contains(&format!("&gt; GET handstamp:session:{id}")),
        "{body}"
    );
    // A key is not a file: no `ls -ln` line, and no file mode listed.
    assert!(!body.contains("ls -ln"), "{body}");
    let listing = server.get(&server.sessions_page, None).body_text();
    assert!(
        listing.contains(&format!(
            "<tr><td><code>(key)</code></td><td>{}</td><td><code>{id}</code>",
            text.len()
        )),
        "{listing}"
    );
    // Logout deletes the key.
    assert_eq!(server.get("/logout", Some(&cookie(&id))).status(), 302);
    assert_eq!(session_text(&redis, &id).trim(), "");
    assert_eq!(server.get("/", Some(&cookie(&id))).status(), 302);
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server); .ci/run runs it"]
fn parallel_adds_through_two_servers_sharing_only_redis_are_all_kept() {
    let redis = RedisServer::start();
    let a = server_on(&redis, &["--quiet"]);
    let b = server_on(&redis, &["--quiet"]);
    assert_ne!(a.sessions_dir, b.sessions_dir, "no shared folder");
    let id = log_in(&a, "David");
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let server = if thread % 2 == 0 { &a } else { &b };
            let id = &id;
            scope.spawn(move || {
                let mut client = server.connect();
                for _ in 0..25 {
                    client.send(&post_form_request("/cart", "id=4", Some(&cookie(id))));
                    let reply = client.read_reply();
                    assert_eq!(reply.status(), 303, "{reply}");
                }
            });
        }
    });
    assert_eq!(cart_items(&redis, &id), 100, "every 303 is in Redis");
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server); .ci/run runs it"]
fn a_logout_through_one_server_is_never_undone_by_an_add_through_the_other() {
    let redis = RedisServer::start();
    let a = server_on(&redis, &["--quiet"]);
    let b = server_on(&redis, &["--quiet"]);
    for trial in 0..15 {
        let id = log_in(&a, "David");
        std::thread::scope(|scope| {
            let adds = scope.spawn(|| {
                for _ in 0..5 {
                    let reply = b.post_form("/cart", "id=1", Some(&cookie(&id)));
                    if let Some(new_id) = reply.session_cookie() {
                        assert_ne!(new_id, id);
                    }
                }
            });
            assert_eq!(a.get("/logout", Some(&cookie(&id))).status(), 302);
            adds.join().unwrap();
        });
        assert_eq!(session_text(&redis, &id).trim(), "", "trial {trial}");
        assert_eq!(b.get("/", Some(&cookie(&id))).status(), 302);
    }
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server); .ci/run runs it"]
fn an_add_racing_a_login_on_the_other_server_gets_409_and_two_cookies_400() {
    let redis = RedisServer::start();
    let a = server_on(&redis, &["--quiet"]);
    let b = server_on(&redis, &["--quiet"]);
    let old = log_in(&a, "Ann");
    let login = a.post_form("/login", "name=Ann", Some(&cookie(&old)));
    let new = login.session_cookie().expect("a new id at login");
    assert_ne!(new, old);
    // The add was sent with the old id before the browser saw the new one.
    let racing = b.post_form("/cart", "id=1", Some(&cookie(&old)));
    assert_eq!(racing.status(), 409, "{racing}");
    assert!(racing.session_cookie().is_none());
    assert_eq!(b.get("/", Some(&cookie(&new))).status(), 200);
    // A second, different session cookie: refused, nothing changed.
    let tossed = format!("{}; session=0123456789abcdef0123456789abcdef", cookie(&new));
    let reply = b.post_form("/cart", "id=1", Some(&tossed));
    assert_eq!(reply.status(), 400, "{reply}");
    assert_eq!(cart_items(&redis, &new), 0);
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server); .ci/run runs it"]
fn the_cap_holds_across_servers_and_a_flood_from_one_address_evicts_only_its_own() {
    let redis = RedisServer::start();
    let a = server_on(&redis, &["--quiet", "--max-sessions", "20"]);
    let b = server_on(&redis, &["--quiet", "--max-sessions", "20"]);
    let visitor = request_from(&a, "127.0.0.2", "/login", Some("name=Vic"), None)
        .session_cookie()
        .expect("the visitor logs in");
    // A flood of new sessions from 127.0.0.1, through both servers.
    for n in 0..100 {
        let server = if n % 2 == 0 { &a } else { &b };
        let reply = server.post_form("/cart", "id=1", None);
        assert_eq!(reply.status(), 303, "add {n}: {reply}");
    }
    let keys = redis.cli(&["--scan", "--pattern", "handstamp:session:*"]);
    assert!(
        keys.lines().count() <= 20,
        "{} sessions",
        keys.lines().count()
    );
    assert_eq!(a.get("/", Some(&cookie(&visitor))).status(), 200);
    // A newcomer from a third address still gets in, and stays.
    let newcomer = request_from(&b, "127.0.0.3", "/login", Some("name=New"), None);
    let newcomer = newcomer.session_cookie().expect("the newcomer logs in");
    for _ in 0..30 {
        a.post_form("/cart", "id=1", None);
    }
    assert_eq!(b.get("/", Some(&cookie(&newcomer))).status(), 200);
    assert_eq!(a.get("/", Some(&cookie(&visitor))).status(), 200);
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server); .ci/run runs it"]
fn a_session_kept_alive_by_pages_stays_counted_past_its_first_expiry() {
    // Pages move the key's expiry on, not the count's score; the next
    // login must score it anew, not forget it (which would let the cap
    // be passed and lose who made it).
    let redis = RedisServer::start();
    let server = server_on(&redis, &["--quiet", "--session-ttl", "2"]);
    let id = log_in(&server, "David");
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(3500) {
        assert_eq!(server.get("/", Some(&cookie(&id))).status(), 200);
        std::thread::sleep(Duration::from_millis(300));
    }
    log_in(&server, "Ann");
    let score: u64 = redis
        .cli(&["ZSCORE", "handstamp:sessions", &id])
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{id} is still counted"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(score >= now, "scored anew: {score} vs now {now}");
    assert_eq!(
        redis.cli(&["HGET", "handstamp:maker-of", &id]).trim(),
        "127.0.0.1"
    );
    assert_eq!(redis.cli(&["ZCARD", "handstamp:sessions"]).trim(), "2");
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server); .ci/run runs it"]
fn a_lock_held_elsewhere_makes_a_change_wait_then_503_and_others_go_on() {
    let redis = RedisServer::start();
    let server = server_on(&redis, &["--quiet"]);
    let held = log_in(&server, "Held");
    let other = log_in(&server, "Other");
    // Another server's request holds the lock (its token is not ours).
    redis.cli(&[
        "SET",
        &format!("handstamp:lock:{held}"),
        "theirs",
        "PX",
        "60000",
    ]);
    let started = Instant::now();
    let reply = server.post_form("/cart", "id=1", Some(&cookie(&held)));
    assert_eq!(reply.status(), 503, "{reply}");
    assert_eq!(reply.header("retry-after"), Some("5"));
    assert!(started.elapsed() >= Duration::from_secs(3));
    let reply = server.post_form("/cart", "id=1", Some(&cookie(&other)));
    assert_eq!(reply.status(), 303);
    assert_eq!(cart_items(&redis, &held), 0);
    assert_eq!(cart_items(&redis, &other), 1);
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server); .ci/run runs it"]
fn when_redis_stops_requests_get_503_naming_it_and_service_resumes_by_itself() {
    let mut redis = RedisServer::start();
    let server = server_on(&redis, &[]);
    let id = log_in(&server, "David");
    redis.stop();
    for request in [
        server.get("/", Some(&cookie(&id))),
        server.post_form("/cart", "id=1", Some(&cookie(&id))),
        server.post_form("/login", "name=Eve", None),
        server.post_form("/cart", "id=1", None),
    ] {
        assert_eq!(request.status(), 503, "{request}");
        assert_eq!(request.header("retry-after"), Some("5"));
        assert!(request.session_cookie().is_none(), "no new session");
        assert!(
            request
                .body_text()
                .contains(&format!("127.0.0.1:{}", redis.port)),
            "{request}"
        );
    }
    // Pages that need no session still work.
    assert_eq!(server.get("/login", None).status(), 200);
    // The log is written by its own thread: wait for this last request's
    // line, which comes after every line the outage could have caused.
    server.wait_for_log("GET /login 200");
    server.wait_for_log("until it answers again");
    let outage_lines = server.log().matches("until it answers again").count();
    assert_eq!(outage_lines, 1, "once per outage:\n{}", server.log());
    // Back, empty (nothing was saved): service resumes, the old id is
    // simply gone, and a new login works.
    redis.restart();
    assert_eq!(server.get("/", Some(&cookie(&id))).status(), 302);
    let id = log_in(&server, "David");
    assert_eq!(server.get("/", Some(&cookie(&id))).status(), 200);
    server.wait_for_log("answers again");
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server); .ci/run runs it"]
fn what_a_client_was_told_was_saved_survives_a_clean_stop_of_redis() {
    let mut redis = RedisServer::start_with(&["--save", "", "--appendonly", "yes"]);
    let server = server_on(&redis, &["--quiet"]);
    let id = log_in(&server, "David");
    for _ in 0..5 {
        assert_eq!(
            server
                .post_form("/cart", "id=3", Some(&cookie(&id)))
                .status(),
            303
        );
    }
    redis.restart();
    assert_eq!(cart_items(&redis, &id), 5);
    assert_eq!(server.get("/", Some(&cookie(&id))).status(), 200);
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server); .ci/run runs it"]
fn a_password_comes_from_the_environment_and_a_wrong_one_stops_the_start() {
    let redis = RedisServer::start_with(&["--save", "", "--requirepass", "s3cret"]);
    let output = std::process::Command::new(common::BINARY)
        .args(["--addr", "127.0.0.1:0", "--sessions", &redis.url()])
        .args(["--www", common::WWW_DIR])
        .env("HANDSTAMP_REDIS_PASSWORD", "wrong")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("127.0.0.1:{}", redis.port)),
        "{stderr}"
    );
    assert!(
        !stderr.contains("wrong"),
        "the password is never shown: {stderr}"
    );

    // SAFETY of the test: only this test sets this variable, and the
    // server is a child process that inherits it.
    let mut child = std::process::Command::new(common::BINARY)
        .args([
            "--addr",
            "127.0.0.1:0",
            "--sessions",
            &redis.url(),
            "--quiet",
        ])
        .args(["--www", common::WWW_DIR])
        .env("HANDSTAMP_REDIS_PASSWORD", "s3cret")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut first_line,
    )
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(first_line.starts_with("listening on"), "{first_line}");
}

#[test]
fn a_redis_that_is_not_there_stops_the_start_with_its_address() {
    // A port nobody listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = std::process::Command::new(common::BINARY)
        .args(["--addr", "127.0.0.1:0"])
        .args(["--sessions", &format!("redis://127.0.0.1:{port}")])
        .args(["--www", common::WWW_DIR])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("redis://127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(stderr.contains("refused"), "{stderr}");
    for bad in ["redis://nohost", "redis://h:1/x", "redis://u:pw@h:1"] {
        let output = std::process::Command::new(common::BINARY)
            .args(["--sessions", bad])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{bad}");
        assert!(String::from_utf8_lossy(&output.stderr).contains("--sessions"));
    }
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server); .ci/run runs it"]
fn a_server_whose_lock_expired_cannot_write_over_a_newer_session() {
    use handstamp::redis::RedisAddress;
    use handstamp::session::{SessionData, SessionError, SessionSettings, SessionStore};
    let redis = RedisServer::start();
    let settings = SessionSettings {
        dir: std::path::PathBuf::from("unused"),
        redis: Some(RedisAddress::parse(&redis.url()).unwrap().unwrap()),
        ttl_secs: 600,
        lifetime_secs: 3600,
        max_sessions: 100,
    };
    let store = SessionStore::open(settings, Box::new(|_| {})).unwrap();
    let mut data = SessionData::new(1_900_000_000);
    data.set("name", "Slow");
    let id = store.create(&data, None).unwrap();
    let slow = store.lock(&id).unwrap().expect("the session exists");
    // The slow server's lock expires; another server takes it and saves.
    let lock_key = format!("handstamp:lock:{}", id.as_str());
    redis.cli(&["DEL", &lock_key]);
    let fast = store.lock(&id).unwrap().expect("free again");
    data.set("name", "Fast");
    store.save(&fast, &data).unwrap();
    drop(fast);
    // The slow one wakes up: neither its save nor its delete lands.
    data.set("name", "Stale");
    assert!(matches!(
        store.save(&slow, &data),
        Err(SessionError::Lost(_))
    ));
    assert!(matches!(store.destroy(&slow), Err(SessionError::Lost(_))));
    assert!(session_text(&redis, id.as_str()).contains("name=Fast"));
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server); .ci/run runs it"]
fn an_idle_session_is_deleted_by_redis_and_a_used_one_is_kept() {
    let redis = RedisServer::start();
    let server = server_on(&redis, &["--quiet", "--session-ttl", "2"]);
    let idle = log_in(&server, "Idle");
    let busy = log_in(&server, "Busy");
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(3500) {
        assert_eq!(server.get("/", Some(&cookie(&busy))).status(), 200);
        std::thread::sleep(Duration::from_millis(400));
    }
    // Redis expired the idle key by itself: no sweep runs with Redis.
    let key = format!("handstamp:session:{idle}");
    assert_eq!(redis.cli(&["EXISTS", &key]).trim(), "0");
    assert_eq!(server.get("/", Some(&cookie(&idle))).status(), 302);
    assert_eq!(server.get("/", Some(&cookie(&busy))).status(), 200);
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server); .ci/run runs it"]
fn a_session_older_than_its_lifetime_expires_in_redis_even_in_use() {
    let redis = RedisServer::start();
    let server = server_on(&redis, &["--quiet", "--session-lifetime", "2"]);
    let id = log_in(&server, "David");
    // Each use moves the expiry on, but never past created + lifetime.
    let ttl: i64 = redis
        .cli(&["TTL", &format!("handstamp:session:{id}")])
        .trim()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&ttl), "TTL {ttl}");
    let started = Instant::now();
    loop {
        if server.get("/", Some(&cookie(&id))).status() == 302 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never expired");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server); .ci/run runs it"]
fn a_corrupt_value_in_redis_is_logged_and_treated_as_no_session() {
    let redis = RedisServer::start();
    let server = server_on(&redis, &[]);
    let id = log_in(&server, "David");
    let key = format!("handstamp:session:{id}");
    for garbage in ["name=David\n", "created=1\nname", "created=x\nname=David\n"] {
        redis.cli(&["SET", &key, garbage]);
        let reply = server.get("/", Some(&cookie(&id)));
        assert_eq!(reply.status(), 302, "{garbage:?}:\n{reply}");
    }
    server.wait_for_log(&format!("session {}…: corrupt session file", &id[..8]));
    // Something else under a session's key: Redis refuses GET on a list.
    redis.cli(&["DEL", &key]);
    redis.cli(&["RPUSH", &key, "x"]);
    let reply = server.get("/", Some(&cookie(&id)));
    assert_eq!(reply.status(), 503, "{reply}");
    assert!(reply.body_text().contains("WRONGTYPE"), "{reply}");
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server); .ci/run runs it"]
fn a_login_survives_a_restart_of_the_server() {
    let redis = RedisServer::start();
    let id = {
        let server = server_on(&redis, &[]);
        log_in(&server, "David")
    }; // dropped: killed
    let server = server_on(&redis, &[]);
    let page = server.get("/", Some(&cookie(&id)));
    assert!(
        page.body_text().contains("You are logged in as David."),
        "{page}"
    );
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server); .ci/run runs it"]
fn a_redis_out_of_memory_refuses_changes_with_503_and_pages_still_read() {
    // With `noeviction`, a full Redis refuses writes instead of deleting
    // sessions to make room: the visitor is told, and nobody is logged out.
    let redis = RedisServer::start();
    let server = server_on(&redis, &[]);
    let id = log_in(&server, "David");
    redis.cli(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    redis.cli(&["CONFIG", "SET", "maxmemory", "1"]);
    for reply in [
        server.post_form("/login", "name=Ann", None),
        server.post_form("/cart", "id=1", Some(&cookie(&id))),
    ] {
        assert_eq!(reply.status(), 503, "{reply}");
        assert_eq!(reply.header("retry-after"), Some("5"));
        assert!(reply.session_cookie().is_none(), "{reply}");
        assert!(reply.body_text().contains("OOM"), "{reply}");
    }
    assert!(
        server
            .get("/", Some(&cookie(&id)))
            .body_text()
            .contains("You are logged in as David.")
    );
    assert_eq!(
        cart_items(&redis, &id),
        0,
        "the refused add changed nothing"
    );
}
