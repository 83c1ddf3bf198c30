//! NOTES.md's debugging steps, run for real: rust-gdb in batch mode drives
//! a debug build through one login and one cookie-carrying request, and
//! every stop must show what the notes say it shows.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{Client, TempDir, post_form_request};

/// Ends the gdb session and whatever it started, even if the test fails.
struct KillOnDrop(std::process::Child, String);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        // A debuggee whose gdb died is detached, not killed: find it by the
        // unique sessions folder in its command line.
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&self.1) {
                let _ = Command::new("kill")
                    .arg("-9")
                    .arg(entry.file_name())
                    .status();
            }
        }
    }
}

/// NOTES's login: `Connection: close` frees the one thread of
/// `--single-thread` for the next request.
fn login_closing_the_connection() -> String {
    post_form_request("/login", "name=David", None).replacen(
        "\r\n\r\n",
        "\r\nConnection: close\r\n\r\n",
        1,
    )
}

#[test]
#[ignore = "needs rust-gdb and gdb (apt-get install gdb); .ci/run runs it"]
fn the_gdb_steps_in_the_notes_show_what_they_promise() {
    let temp = TempDir::new("gdb");
    let sessions = temp.0.join("sessions");
    let sessions_arg = sessions.display().to_string();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/gdb/login.gdb");
    let child = Command::new("rust-gdb")
        .args(["-q", "-batch", "-x", script, "--args", common::BINARY])
        .args([
            "--single-thread",
            "--no-inspector",
            "--addr",
            "127.0.0.1:0",
            "--www",
            common::WWW_DIR,
        ])
        .args(["--sessions", &sessions_arg])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("rust-gdb must be installed to run this test (apt-get install gdb)");
    let mut gdb = KillOnDrop(child, sessions_arg);

    // Everything gdb prints goes to a channel, line by line.
    let (lines_out, lines) = mpsc::channel::<String>();
    let stdout = BufReader::new(gdb.0.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if lines_out.send(line).is_err() {
                return;
            }
        }
    });
    let mut transcript = String::new();
    let mut read_until = |needle: &str| -> String {
        loop {
            match lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    transcript.push_str(&line);
                    transcript.push('\n');
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("gdb never printed {needle:?}; transcript:\n{transcript}"),
            }
        }
    };

    let listening = read_until("listening on http://");
    let addr = listening
        .trim()
        .trim_start_matches("listening on http://")
        .parse()
        .unwrap();
    let mut login = Client::connect(addr);
    let request = login_closing_the_connection();
    login.send(&request);

    read_until("STOP 1 parse_head");
    read_until("POST /login HTTP/1.1");
    read_until("Content-Type: application/x-www-form-urlencoded");
    read_until("STOP 2 cookie_values");
    read_until("Value returned is $1 = Vec(size=0)");
    read_until("STOP 3 new_random");
    let drawn = read_until("Value returned is $2 = handstamp::session::id::SessionId (\"");
    let id = drawn.split('"').nth(1).unwrap().to_string();
    assert_eq!(id.len(), 32, "{drawn}");
    read_until("STOP 4 write");
    read_until(&format!(
        "$3 = handstamp::session::id::SessionId (\"{id}\")"
    ));
    read_until("$4 = Vec(size=1) = {(\"name\", \"David\")}");
    read_until("STOP 5 set_session_cookie");
    read_until(&format!(
        "Value returned is $5 = \"session={id}; Path=/; HttpOnly; SameSite=Lax\""
    ));
    read_until("STOP 6 exchange");
    read_until("$6 = 303");
    read_until("(\"Set-Cookie\", \"session=");

    let reply = login.read_reply();
    assert_eq!(
        reply.session_cookie().as_deref(),
        Some(id.as_str()),
        "{reply}"
    );
    let mut home = Client::connect(addr);
    home.send(&format!(
        "GET / HTTP/1.1\r\nHost: a\r\nCookie: session={id}\r\nConnection: close\r\n\r\n"
    ));
    read_until("STOP 7 load");
    read_until(&format!(
        "$8 = handstamp::session::id::SessionId (\"{id}\")"
    ));
    read_until("STOP 8 from_file_text");
    let file_text = read_until("$9 = \"created=");
    assert!(file_text.ends_with("\\nname=David\\n\""), "{file_text}");
    let status = gdb.0.wait().unwrap();
    assert!(
        status.success(),
        "gdb ended with {status}; transcript:\n{transcript}"
    );
}

/// The functions src/lib.rs names for one login, in its order: the first
/// ```text block under "One login, in the order a debugger meets it".
fn lib_rs_walk() -> Vec<String> {
    let lib = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
    let section = lib
        .split("# One login, in the order a debugger meets it")
        .nth(1)
        .expect("lib.rs has the login walk");
    let block = section
        .split("//! ```text\n")
        .nth(1)
        .expect("the walk is a ```text block");
    block
        .lines()
        .take_while(|line| !line.starts_with("//! ```"))
        .filter_map(|line| line.strip_prefix("//! "))
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
#[ignore = "needs rust-gdb and gdb (apt-get install gdb); .ci/run runs it"]
fn lib_rs_names_the_functions_of_a_login_in_the_order_gdb_stops_in_them() {
    let walk = lib_rs_walk();
    assert!(walk.len() > 20, "{walk:?}");
    let temp = TempDir::new("gdb-walk");
    let sessions = temp.0.join("sessions");
    let sessions_arg = sessions.display().to_string();
    // tests/gdb/order.py puts a breakpoint on each, which says its name.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/gdb/order.py");
    let child = Command::new("rust-gdb")
        .args(["-q", "-batch", "-x", script, "--args", common::BINARY])
        .args(["--single-thread", "--no-inspector", "--addr", "127.0.0.1:0"])
        .args(["--www", common::WWW_DIR, "--sessions", &sessions_arg])
        .env("HANDSTAMP_WALK", walk.join("\n"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("rust-gdb must be installed to run this test (apt-get install gdb)");
    let mut gdb = KillOnDrop(child, sessions_arg);
    let (lines_out, lines) = mpsc::channel::<String>();
    let stdout = BufReader::new(gdb.0.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if lines_out.send(line).is_err() {
                return;
            }
        }
    });
    let mut transcript = String::new();
    let mut hits: Vec<String> = Vec::new();
    let next_line = || match lines.recv_timeout(Duration::from_secs(60)) {
        Ok(line) => line,
        Err(_) => panic!("gdb went quiet"),
    };
    let addr = loop {
        let line = next_line();
        transcript.push_str(&line);
        transcript.push('\n');
        if let Some(hit) = line.strip_prefix("HIT ") {
            hits.push(hit.to_string());
        }
        if let Some(addr) = line.trim().strip_prefix("listening on http://") {
            break addr.parse().unwrap();
        }
    };
    let mut login = Client::connect(addr);
    let request = login_closing_the_connection();
    login.send(&request);
    let last = walk.last().unwrap().clone();
    while !hits.contains(&last) {
        let line = next_line();
        transcript.push_str(&line);
        transcript.push('\n');
        if let Some(hit) = line.strip_prefix("HIT ") {
            hits.push(hit.to_string());
        }
    }
    assert_eq!(login.read_reply().status(), 303);
    // Each function's first stop, in the order they came.
    let mut first_stops: Vec<String> = Vec::new();
    for hit in hits {
        if !first_stops.contains(&hit) {
            first_stops.push(hit);
        }
    }
    assert_eq!(
        first_stops, walk,
        "gdb stopped in this order, not lib.rs's; transcript:\n{transcript}"
    );
}

/// How far one `POST /login` walks: every crate function gdb sees between
/// the accept and the written answer (tests/gdb/walk.py records each
/// entry with its crate frames), as the files it crosses and the times
/// execution comes back into a file it had already left. Run with
/// `--nocapture` to see the figures; NOTES.md ("Debugging") quotes them.
struct Walk {
    files: Vec<String>,
    switches: usize,
    returns: usize,
}

fn walk_of_one_login(flags: &[&str]) -> Walk {
    let temp = TempDir::new("gdb-walk-count");
    let sessions = temp.0.join("sessions");
    let sessions_arg = sessions.display().to_string();
    let record = temp.0.join("walk.txt");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/gdb/walk.py");
    let child = Command::new("rust-gdb")
        .args(["-q", "-batch", "-x", script, "--args", common::BINARY])
        .args(["--single-thread", "--addr", "127.0.0.1:0"])
        .args(flags)
        .args(["--www", common::WWW_DIR, "--sessions", &sessions_arg])
        .env("HANDSTAMP_WALK_OUT", &record)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("rust-gdb must be installed to run this test (apt-get install gdb)");
    let mut gdb = KillOnDrop(child, sessions_arg);
    let mut stdout = BufReader::new(gdb.0.stdout.take().unwrap());
    let addr = loop {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "gdb ended early");
        if let Some(addr) = line.trim().strip_prefix("listening on http://") {
            break addr.parse().unwrap();
        }
    };
    // What the start recorded is not the walk.
    let start_lines = std::fs::read_to_string(&record)
        .unwrap_or_default()
        .lines()
        .count();
    let mut login = Client::connect(addr);
    let request = login_closing_the_connection();
    login.send(&request);
    // The answer is read after `write_all_by` was entered, so its stop is
    // in the record by then.
    assert_eq!(login.read_reply().status(), 303);
    let text = std::fs::read_to_string(&record).unwrap();
    let stops: Vec<Vec<(String, String)>> = text
        .lines()
        .skip(start_lines)
        .map(|line| {
            line.split(';')
                .filter_map(|frame| frame.split_once('|'))
                .filter(|(_, file)| *file != "src/main.rs")
                .map(|(function, file)| (function.to_string(), file.to_string()))
                .collect()
        })
        .collect();
    let first = stops
        .iter()
        .position(|stack| stack.iter().any(|(f, _)| f.ends_with("serve_connection")))
        .expect("the walk reaches serve_connection");
    let last = stops
        .iter()
        .position(|stack| {
            stack
                .last()
                .is_some_and(|(f, _)| f == "handstamp::connection::write_all_by")
        })
        .expect("the walk reaches write_all_by");
    // The file execution is in, each time it changes: between two stops it
    // returns up to the frame the two stacks share, then calls down.
    let mut visited: Vec<String> = Vec::new();
    let mut previous: &[(String, String)] = &[];
    for stack in &stops[first..=last] {
        let shared = previous
            .iter()
            .zip(stack)
            .take_while(|(a, b)| a == b)
            .count();
        let mut arrive = |file: &String| {
            if visited.last() != Some(file) {
                visited.push(file.clone());
            }
        };
        for depth in (shared.max(1)..previous.len()).rev() {
            arrive(&previous[depth - 1].1);
        }
        for (_, file) in &stack[shared..] {
            arrive(file);
        }
        previous = stack;
    }
    let mut files: Vec<String> = Vec::new();
    let mut returns = 0;
    for file in &visited {
        if files.contains(file) {
            returns += 1;
        } else {
            files.push(file.clone());
        }
    }
    Walk {
        files,
        switches: visited.len() - 1,
        returns,
    }
}

#[test]
#[ignore = "needs rust-gdb and gdb (apt-get install gdb); .ci/run runs it"]
fn a_login_walks_through_no_file_with_unsafe_code_and_no_more_files_than_measured() {
    for (flags, most_files) in [(&["--no-inspector"][..], 19), (&[][..], 24)] {
        let walk = walk_of_one_login(flags);
        println!(
            "POST /login {flags:?}: {} files, {} file switches, {} returns into a file already left\n  {}",
            walk.files.len(),
            walk.switches,
            walk.returns,
            walk.files.join(" ")
        );
        for file in &walk.files {
            let source =
                std::fs::read_to_string(format!("{}/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
            assert!(
                !source.contains("unsafe "),
                "{file} is on a login's walk and holds `unsafe`"
            );
            assert!(
                !file.contains("redis"),
                "a login with sessions in a folder walks through {file}"
            );
        }
        // The figures of 2026-12-03 (NOTES.md): a change that makes the
        // walk longer shows here, and says so in its own note.
        assert!(
            walk.files.len() <= most_files,
            "{flags:?}: {} files, was {most_files}: {:?}",
            walk.files.len(),
            walk.files
        );
    }
}
