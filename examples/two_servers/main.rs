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
//!
//! Ctrl-C stops them all and removes the scratch folder (nginx's pid and
//! temporary files, Redis's folder); so does any one of them stopping.
//! `--ports 8080,8081,8082,6380` picks other ports (nginx, the two
//! servers, Redis). Needs nginx (`apt-get install nginx-light`), and for
//! `redis`, `apt-get install redis-server`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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
    let (in_redis, ports) = parse_args();
    let [front, first, second, redis_port] = ports;

    // nginx (and Redis, and each server with Redis) get a scratch folder,
    // removed at the end.
    let scratch = std::env::temp_dir().join(format!("handstamp-two-{}", std::process::id()));
    let prefix = scratch.join("nginx");
    std::fs::create_dir_all(prefix.join("tmp")).expect("a scratch folder for nginx");
    stop_on_ctrl_c();

    let mut children: Vec<Child> = Vec::new();
    if in_redis {
        children.push(start_redis(&scratch.join("redis"), redis_port));
    }
    let redis_url = format!("redis://127.0.0.1:{redis_port}");
    for port in [first, second] {
        // With Redis, each server runs in a folder of its own, which stays
        // empty: the two share nothing on disk, as on two machines.
        let (sessions, folder) = if in_redis {
            let folder = scratch.join(port.to_string());
            std::fs::create_dir_all(&folder).expect("a folder for the server");
            (redis_url.clone(), folder)
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
    // The repository's configuration, with the ports asked for.
    let config = std::fs::read_to_string(repo.join("examples/two_servers/nginx.conf"))
        .expect("examples/two_servers/nginx.conf")
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{front}"))
        .replace("127.0.0.1:8081", &format!("127.0.0.1:{first}"))
        .replace("127.0.0.1:8082", &format!("127.0.0.1:{second}"));
    std::fs::write(prefix.join("nginx.conf"), config).expect("nginx.conf in the scratch folder");
    children.push(
        Command::new(nginx)
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(prefix.join("nginx.conf"))
            .spawn()
            .expect("nginx starts"),
    );
    println!("nginx on http://127.0.0.1:{front} in front of handstamp on {first} and {second}");
    if in_redis {
        println!(
            "sessions in {redis_url}: redis-cli -p {redis_port} --scan --pattern 'handstamp:*'"
        );
    } else {
        println!("sessions folder: {}", repo.join("sessions").display());
    }

    // Until Ctrl-C, or until one of them stops by itself.
    while !STOP.load(Ordering::SeqCst)
        && children
            .iter_mut()
            .all(|child| matches!(child.try_wait(), Ok(None)))
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    for child in &mut children {
        // SIGTERM: nginx's master then stops its worker (SIGKILL would
        // leave the worker running); the others just stop.
        let _ = Command::new("kill").arg(child.id().to_string()).status();
    }
    for child in &mut children {
        let _ = child.wait();
    }
    let _ = std::fs::remove_dir_all(&scratch);
    println!(
        "stopped all {}, removed {}",
        children.len(),
        scratch.display()
    );
}

/// `redis` or nothing, and `--ports FRONT,FIRST,SECOND,REDIS`.
fn parse_args() -> (bool, [u16; 4]) {
    let usage = "usage: two_servers [redis] [--ports 8080,8081,8082,6380]";
    let mut in_redis = false;
    let mut ports = [8080, 8081, 8082, 6380];
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "redis" => in_redis = true,
            "--ports" => {
                let list: Vec<u16> = args
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|port| port.parse().ok())
                    .collect();
                ports = list.try_into().unwrap_or_else(|_| {
                    eprintln!("--ports takes four port numbers\n{usage}");
                    std::process::exit(2);
                });
            }
            other => {
                eprintln!("unknown argument {other:?}\n{usage}");
                std::process::exit(2);
            }
        }
    }
    (in_redis, ports)
}

/// Set by Ctrl-C (SIGINT) or SIGTERM.
static STOP: AtomicBool = AtomicBool::new(false);

/// Ctrl-C would end this process at once, before it could stop the others
/// and tidy up; instead it only sets `STOP`. std has no signal handling,
/// so this is the C library's `signal()` (numbers from `<signal.h>`).
fn stop_on_ctrl_c() {
    const SIGINT: i32 = 2;
    const SIGTERM: i32 = 15;
    extern "C" fn on_signal(_signal: i32) {
        // Only an atomic store: nearly nothing else is safe in a handler.
        STOP.store(true, Ordering::SeqCst);
    }
    unsafe extern "C" {
        fn signal(signal: i32, handler: extern "C" fn(i32)) -> usize;
    }
    for number in [SIGINT, SIGTERM] {
        // SAFETY: `on_signal` only stores to an atomic, and stays valid
        // for the whole life of the process.
        unsafe {
            signal(number, on_signal);
        }
    }
}

/// `redis-server` on 127.0.0.1:`port`, saving nothing to disk (a session
/// store for a demonstration), waited for until it answers.
fn start_redis(folder: &Path, port: u16) -> Child {
    std::fs::create_dir_all(folder).expect("a scratch folder for Redis");
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
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
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("redis-server did not answer on 127.0.0.1:{port}");
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
