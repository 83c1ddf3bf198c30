//! The two-server setup of NOTES.md, for real: two handstamp processes
//! behind nginx (examples/two_servers/nginx.conf, with the test's own
//! ports), sharing one sessions folder or, each with its own empty folder,
//! one Redis; and a browser's conversation through nginx.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Client, RedisServer, TempDir, TestServer};

/// nginx, stopped when dropped.
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its worker, then exits. SIGKILL would
        // leave the worker running, holding the test's output open.
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

/// A port nobody listens on now: bind port 0, note the port, let it go.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
#[ignore = "needs nginx (apt-get install nginx-light); .ci/run runs it"]
fn a_login_through_one_server_is_known_to_the_other_behind_nginx() {
    let temp = TempDir::new("two-servers");
    let sessions = temp.0.join("sessions");
    let a = TestServer::start_in(&sessions, &[]);
    let b = TestServer::start_in(&sessions, &[]);
    let cart_items = |id: &str| {
        let file = std::fs::read_to_string(sessions.join(id)).unwrap();
        let cart = file.lines().find_map(|l| l.strip_prefix("cart=")).unwrap();
        cart.split(',').count()
    };
    a_browser_through_nginx_is_served_by_both(&temp, &a, &b, cart_items);
}

#[test]
#[ignore = "needs nginx and redis-server (apt-get install nginx-light redis-server); .ci/run runs it"]
fn two_servers_that_share_only_redis_behind_nginx() {
    let temp = TempDir::new("two-servers-redis");
    let redis = RedisServer::start();
    // Each server has its own empty folder: nothing on disk is shared.
    let url = redis.url();
    let a = TestServer::start_with(&["--sessions", &url]);
    let b = TestServer::start_with(&["--sessions", &url]);
    assert_ne!(a.sessions_dir, b.sessions_dir);
    let cart_items = |id: &str| {
        let text = redis.cli(&["GET", &format!("handstamp:session:{id}")]);
        let cart = text.lines().find_map(|l| l.strip_prefix("cart=")).unwrap();
        cart.split(',').count()
    };
    a_browser_through_nginx_is_served_by_both(&temp, &a, &b, cart_items);
    for server in [&a, &b] {
        let files = std::fs::read_dir(&server.sessions_dir).map_or(0, |dir| dir.count());
        assert_eq!(files, 0, "{} holds files", server.sessions_dir.display());
    }
}

/// nginx (examples/two_servers/nginx.conf, with the test's ports) in
/// front of `a` and `b`, which share a session store; a browser's
/// conversation through it. `cart_items` counts a session's cart in the
/// store.
fn a_browser_through_nginx_is_served_by_both(
    temp: &TempDir,
    a: &TestServer,
    b: &TestServer,
    cart_items: impl Fn(&str) -> usize,
) {
    let front = free_port();
    let config = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/two_servers/nginx.conf"
    ))
    .unwrap()
    .replace("127.0.0.1:8081", &a.addr.to_string())
    .replace("127.0.0.1:8082", &b.addr.to_string())
    .replace("127.0.0.1:8080", &format!("127.0.0.1:{front}"));
    let (_nginx, front_addr) = start_nginx(temp, &config, front);
    let exchange = |request: &str| {
        let mut client = Client::connect(front_addr);
        client.send(request);
        client.read_reply()
    };

    let login = exchange(&common::post_form_request("/login", "name=David", None));
    assert_eq!(login.status(), 303, "{login}");
    let id = login
        .session_cookie()
        .expect("the login's cookie comes through nginx");
    // The next page comes from the other server, and shows the 303 all
    // the same: the redirect waits in the shared store.
    let home = exchange(&common::get_request("/", Some(&format!("session={id}"))));
    assert!(
        home.body_text()
            .contains("<code>POST /login HTTP/1.1</code> → <code>HTTP/1.1 303 See Other</code>"),
        "{home}"
    );
    // Round robin: these go to both servers in turn, and each finds David.
    for _ in 0..6 {
        let home = exchange(&common::get_request("/", Some(&format!("session={id}"))));
        assert!(
            home.body_text().contains("You are logged in as David."),
            "{home}"
        );
    }
    let short = &id[..8];
    a.wait_for_log(&format!("GET / 200  cookie: session={short}…"));
    b.wait_for_log(&format!("GET / 200  cookie: session={short}…"));
    // Adds through both, at once, are all kept (the session's lock).
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..10 {
                    let add = exchange(&common::post_form_request(
                        "/cart",
                        "id=3",
                        Some(&format!("session={id}")),
                    ));
                    assert_eq!(add.status(), 303, "{add}");
                }
            });
        }
    });
    assert_eq!(cart_items(&id), 40);
    // Without the secret the sessions page does not exist, proxy or not.
    assert_eq!(
        exchange(&common::get_request("/sessions", None)).status(),
        404
    );
    // A logout through one is a logout on both.
    let logout = exchange(&common::get_request(
        "/logout",
        Some(&format!("session={id}")),
    ));
    assert_eq!(logout.status(), 302);
    for _ in 0..2 {
        assert_eq!(
            exchange(&common::get_request("/", Some(&format!("session={id}")))).status(),
            302
        );
    }
}

/// Starts nginx with `config` in a scratch prefix under `temp`, and waits
/// until it accepts on `port`.
fn start_nginx(temp: &TempDir, config: &str, port: u16) -> (Nginx, std::net::SocketAddr) {
    let prefix = temp.0.join("nginx");
    std::fs::create_dir_all(prefix.join("tmp")).unwrap();
    std::fs::write(prefix.join("nginx.conf"), config).unwrap();
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|path| std::path::Path::new(path).exists())
        .expect("nginx must be installed to run this test (apt-get install nginx-light)");
    let nginx = Nginx(
        Command::new(nginx)
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(prefix.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "nginx did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (nginx, addr)
}

/// A bare `proxy_pass` that keeps its connections to handstamp open and
/// says nothing about who asked: every visitor arrives from the same
/// address, often on the same connection.
const BARE_PROXY: &str = "daemon off;
worker_processes 1;
pid nginx.pid;
error_log stderr warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path tmp;
    proxy_temp_path tmp;
    fastcgi_temp_path tmp;
    uwsgi_temp_path tmp;
    scgi_temp_path tmp;
    upstream handstamp { server BACKEND; keepalive 4; }
    server {
        listen 127.0.0.1:FRONT;
        location / {
            proxy_pass http://handstamp;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
    }
}
";

#[test]
#[ignore = "needs nginx (apt-get install nginx-light); .ci/run runs it"]
fn behind_a_bare_keep_alive_proxy_no_visitor_sees_anothers_session() {
    let temp = TempDir::new("bare-proxy");
    let server = TestServer::start();
    let front = free_port();
    let config = BARE_PROXY
        .replace("BACKEND", &server.addr.to_string())
        .replace("FRONT", &front.to_string());
    let (_nginx, front_addr) = start_nginx(&temp, &config, front);
    let exchange = |request: &str| {
        let mut client = Client::connect(front_addr);
        client.send(request);
        client.read_reply()
    };
    let mut leaks = 0;
    for n in 0..20 {
        // The victim logs in; a second visitor, with no cookie, then
        // follows the same path a browser would.
        let login = exchange(&common::post_form_request(
            "/login",
            &format!("name=Victim{n}"),
            None,
        ));
        let id = login.session_cookie().expect("a login through the proxy");
        for path in ["/", "/login"] {
            let page = exchange(&common::get_request(path, None));
            leaks += usize::from(page.body_text().contains(&id));
        }
    }
    assert_eq!(
        leaks, 0,
        "pages of the second visitor that showed the victim's id"
    );
    // The sessions page: not without its secret, whatever the proxy
    // adds or leaves out.
    for extra in [
        "",
        "X-Real-IP: 127.0.0.1\r\n",
        "X-Forwarded-Host: localhost\r\n",
    ] {
        let reply = exchange(&format!(
            "GET /sessions HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n"
        ));
        assert_eq!(reply.status(), 404, "{extra}");
    }
    let page = exchange(&common::get_request(&server.sessions_page, None));
    assert_eq!(
        page.status(),
        200,
        "the owner's secret works through a proxy"
    );
}

/// The processes whose process group is `group`, from /proc.
fn processes_in_group(group: u32) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (name) state ppid pgrp …`: the name may hold spaces, so
        // count from the last `)`.
        let Some((name, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // A zombie is already stopped; it only waits for its parent.
        if fields.get(2) == Some(&group.to_string().as_str()) && fields[0] != "Z" {
            found.push(format!("{name})"));
        }
    }
    found
}

#[test]
#[ignore = "needs nginx and redis-server (apt-get install nginx-light redis-server); .ci/run runs it"]
fn the_two_servers_example_stops_everything_on_ctrl_c_and_leaves_nothing_behind() {
    use std::os::unix::process::CommandExt;
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/target/debug/examples/two_servers"
    );
    assert!(
        std::path::Path::new(example).exists(),
        "cargo test builds the examples"
    );
    let ports: Vec<String> = (0..4).map(|_| free_port().to_string()).collect();
    // Its own process group, as a terminal gives the command it runs:
    // Ctrl-C sends SIGINT to the whole group.
    let mut child = Command::new(example)
        // The Redis variant: everything it makes is in its scratch folder.
        .args(["redis", "--ports", &ports.join(",")])
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let group = child.id();
    let front: std::net::SocketAddr = format!("127.0.0.1:{}", ports[0]).parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let login = loop {
        if let Ok(mut client) = std::net::TcpStream::connect(front).map(|_| Client::connect(front))
        {
            client.send(&common::post_form_request("/login", "name=David", None));
            let reply = client.read_reply();
            if reply.status() == 303 {
                break reply;
            }
        }
        assert!(Instant::now() < deadline, "the example did not start");
        std::thread::sleep(Duration::from_millis(100));
    };
    let id = login.session_cookie().expect("a login through the example");
    let scratch = std::env::temp_dir().join(format!("handstamp-two-{group}"));
    assert!(scratch.exists(), "{}", scratch.display());
    assert!(
        processes_in_group(group).len() >= 4,
        "{:?}",
        processes_in_group(group)
    );

    // Ctrl-C.
    let status = Command::new("kill")
        .args(["-INT", "--", &format!("-{group}")])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the example did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_in_group(group).is_empty() {
        assert!(
            Instant::now() < deadline,
            "still running after Ctrl-C: {:?}",
            processes_in_group(group)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!scratch.exists(), "{} was left behind", scratch.display());
    for port in &ports {
        assert!(
            std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err(),
            "port {port} still answers"
        );
    }
    assert!(id.len() == 32, "{id}");
}
