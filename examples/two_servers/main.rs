//! Two handstamp processes behind nginx, sharing their sessions: in one
//! folder, or (`-- redis`) in Redis, each process in its own empty folder.
//!
//! ```text
//! cargo build --release
//! cargo run --release --example two_servers            # one folder
//! cargo run --release --example two_servers -- redis   # Redis on 6380
//! ```
//!
//! Starts `target/release/handstamp` twice (ports 8081 and 8082) and nginx
//! on 8080 with `examples/two_servers/nginx.conf`, which hands requests to
//! the two in turn. The two share `./sessions`; with `redis`, they share a
//! `redis-server` started on 127.0.0.1:6380 (nothing saved to disk) and
//! nothing else: each runs in its own empty scratch folder, as if on its
//! own machine. Log in at <http://127.0.0.1:8080/>: the login goes to one
//! process and the next page comes from the other, which finds the same
//! session. Each process's log lines are prefixed `[8081]` or `[8082]`.
//! Ctrl-C stops them all. Needs nginx (`apt-get install nginx-light`),
//! and for `redis`, `apt-get install redis-server`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let server = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("handstamp")))
        .filter(|path| path.exists())
        .unwrap_or_else(|| {
            eprintln!("build the server first: cargo build --release");
            std::process::exit(1);
        });
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
        .unwrap_or_else(|| {
            eprintln!("nginx is not installed: sudo apt-get install nginx-light");
            std::process::exit(1);
        });

    let in_redis = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("redis") => true,
        Some(other) => {
            eprintln!("unknown argument {other:?}: give none (one folder) or `redis`");
            std::process::exit(2);
        }
    };

    // nginx (and Redis, and each server with Redis) get scratch folders.
    let scratch = std::env::temp_dir().join(format!("handstamp-two-{}", std::process::id()));
    let prefix = scratch.join("nginx");
    std::fs::create_dir_all(prefix.join("tmp")).expect("a scratch folder for nginx");

    let mut children: Vec<Child> = Vec::new();
    if in_redis {
        children.push(start_redis(&scratch.join("redis")));
    }
    for port in [8081, 8082] {
        // With Redis, each server runs in a folder of its own, which stays
        // empty: the two share nothing on disk, as on two machines.
        let (sessions, folder) = if in_redis {
            let folder = scratch.join(port.to_string());
            std::fs::create_dir_all(&folder).expect("a folder for the server");
            (REDIS_URL.to_string(), folder)
        } else {
            ("sessions".to_string(), repo.to_path_buf())
        };
        let mut child = Command::new(&server)
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .args(["--sessions", &sessions])
            .arg("--www")
            .arg(repo.join("www"))
            .current_dir(folder)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the handstamp binary starts");
        prefix_lines(port, child.stdout.take().unwrap());
        children.push(child);
    }
    let config = repo.join("examples/two_servers/nginx.conf");
    children.push(
        Command::new(nginx)
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(&config)
            .spawn()
            .expect("nginx starts"),
    );
    println!("nginx on http://127.0.0.1:8080 in front of handstamp on 8081 and 8082");
    if in_redis {
        println!("sessions in {REDIS_URL}: redis-cli -p 6380 --scan --pattern 'handstamp:*'");
    } else {
        println!("sessions folder: {}", repo.join("sessions").display());
    }
    for child in &mut children {
        let _ = child.wait();
    }
}

const REDIS_URL: &str = "redis://127.0.0.1:6380";

/// `redis-server` on 127.0.0.1:6380, saving nothing to disk (a session
/// store for a demonstration), waited for until it answers.
fn start_redis(folder: &Path) -> Child {
    std::fs::create_dir_all(folder).expect("a scratch folder for Redis");
    let child = Command::new("redis-server")
        .args(["--port", "6380", "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(folder)
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| {
            eprintln!("redis-server does not start ({error}): sudo apt-get install redis-server");
            std::process::exit(1);
        });
    for _ in 0..100 {
        if std::net::TcpStream::connect("127.0.0.1:6380").is_ok() {
            return child;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    eprintln!("redis-server did not answer on 127.0.0.1:6380");
    std::process::exit(1);
}

/// Prints a server's log lines with its port in front.
fn prefix_lines(port: u16, out: impl std::io::Read + Send + 'static) {
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            println!("[{port}] {line}");
        }
    });
}
