//! The two-server setup of NOTES.md, for real: two handstamp processes on
//! one sessions folder behind nginx (examples/two_servers/nginx.conf, with
//! the test's own ports), and a browser's conversation through nginx.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Client, TempDir, TestServer};

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
    let front = free_port();
    let config = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/two_servers/nginx.conf"
    ))
    .unwrap()
    .replace("127.0.0.1:8081", &a.addr.to_string())
    .replace("127.0.0.1:8082", &b.addr.to_string())
    .replace("127.0.0.1:8080", &format!("127.0.0.1:{front}"));
    let prefix = temp.0.join("nginx");
    std::fs::create_dir_all(prefix.join("tmp")).unwrap();
    std::fs::write(prefix.join("nginx.conf"), config).unwrap();
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|path| std::path::Path::new(path).exists())
        .expect("nginx must be installed to run this test (apt-get install nginx-light)");
    let _nginx = Nginx(
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
    let front_addr = format!("127.0.0.1:{front}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(front_addr).is_err() {
        assert!(Instant::now() < deadline, "nginx did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
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
    // Adds through both, at once, are all kept (the shared file lock).
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
    let file = std::fs::read_to_string(sessions.join(&id)).unwrap();
    let cart = file.lines().find_map(|l| l.strip_prefix("cart=")).unwrap();
    assert_eq!(cart.split(',').count(), 40, "{file}");
    // Through the proxy the sessions page is somebody else's business.
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
