//! Two handstamp processes on one sessions folder, behind nginx.
//!
//! ```text
//! cargo build --release
//! cargo run --release --example two_servers
//! ```
//!
//! Starts `target/release/handstamp` twice (ports 8081 and 8082, both on
//! `./sessions`) and nginx on 8080 with `examples/two_servers/nginx.conf`,
//! which hands requests to the two in turn. Log in at
//! <http://127.0.0.1:8080/>: the login goes to one process and the next
//! page comes from the other, which finds the same file. Each process's
//! log lines are prefixed `[8081]` or `[8082]`. Ctrl-C stops all three.
//! Needs nginx (`apt-get install nginx-light`).

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

    // nginx writes its pid and temporary files under a prefix folder.
    let prefix = std::env::temp_dir().join(format!("handstamp-nginx-{}", std::process::id()));
    std::fs::create_dir_all(prefix.join("tmp")).expect("a scratch folder for nginx");

    let mut children: Vec<Child> = Vec::new();
    for port in [8081, 8082] {
        let mut child = Command::new(&server)
            .args([
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--sessions",
                "sessions",
            ])
            .current_dir(repo)
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
    println!("sessions folder: {}", repo.join("sessions").display());
    for child in &mut children {
        let _ = child.wait();
    }
}

/// Prints a server's log lines with its port in front.
fn prefix_lines(port: u16, out: impl std::io::Read + Send + 'static) {
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            println!("[{port}] {line}");
        }
    });
}
