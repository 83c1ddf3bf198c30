//! The command line: flags, errors and exit statuses, and the first line.

mod common;

use std::process::Command;

use common::{BINARY, TempDir, TestServer};

fn run(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(BINARY).args(args).output().unwrap();
    (
        output.status.code().expect("exited normally"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn help_lists_every_flag_and_exits_0() {
    let (status, stdout, _) = run(&["--help"]);
    assert_eq!(status, 0);
    for flag in [
        "--addr",
        "--sessions",
        "--www",
        "--session-ttl",
        "--session-lifetime",
        "--max-sessions",
        "--max-connections",
        "--trace",
        "--quiet",
        "--single-thread",
        "--logout delete|clear-name",
        "--no-inspector",
    ] {
        assert!(stdout.contains(flag), "{flag} missing from:\n{stdout}");
    }
}

#[test]
fn bad_flags_print_one_line_and_usage_and_exit_2() {
    for (args, message) in [
        (&["--bogus"][..], "handstamp: unknown flag '--bogus'"),
        (&["--addr"], "handstamp: --addr needs a value"),
        (
            &["--session-ttl", "soon"],
            "handstamp: --session-ttl needs a whole number above 0, not 'soon'",
        ),
        (
            &["--session-ttl", "0"],
            "needs a whole number above 0, not '0'",
        ),
        (
            &["--max-sessions=-3"],
            "--max-sessions needs a whole number above 0, not '-3'",
        ),
        (
            &["--trace", "--quiet"],
            "--trace and --quiet cannot be used together",
        ),
        (&["--quiet=yes"], "--quiet takes no value"),
        (&["--no-inspector=1"], "--no-inspector takes no value"),
        (
            &["--logout", "none"],
            "--logout takes delete or clear-name, not 'none'",
        ),
        (&["--logout"], "--logout needs a value"),
    ] {
        let (status, stdout, stderr) = run(args);
        assert_eq!(status, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty());
        let first_line = stderr.lines().next().unwrap();
        assert!(first_line.contains(message), "{args:?}: {first_line}");
        assert!(stderr.contains("usage: handstamp"), "{stderr}");
    }
}

#[test]
fn the_first_line_is_the_real_bound_address() {
    let server = TestServer::start_with(&["--quiet"]);
    assert_eq!(server.addr.ip().to_string(), "127.0.0.1");
    assert_ne!(server.addr.port(), 0);
    assert_eq!(server.get("/login", None).status(), 200);
    // After the sessions page's address: where sessions are kept.
    server.wait_for_log(&format!(
        "sessions: one file each in {}/",
        server.sessions_dir.display()
    ));
}

#[test]
fn quiet_prints_nothing_per_request() {
    let server = TestServer::start_with(&["--quiet"]);
    server.get("/login", None);
    server.get("/nowhere", None);
    // Only what the start printed after the address: where sessions are.
    let log = server.log();
    let per_request: Vec<&str> = log
        .lines()
        .filter(|line| !line.starts_with("sessions: one file each in "))
        .collect();
    assert_eq!(per_request, Vec::<&str>::new(), "{log}");
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let server = TestServer::start();
    let addr = server.addr.to_string();
    let temp = TempDir::new("busy");
    let sessions = temp.0.join("s");
    let (status, _, stderr) = run(&[
        "--addr",
        &addr,
        "--sessions",
        sessions.to_str().unwrap(),
        "--www",
        common::WWW_DIR,
    ]);
    assert_eq!(status, 1);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
    assert!(stderr.contains("try --addr 127.0.0.1:0"), "{stderr}");
}

#[test]
fn an_unusable_sessions_folder_is_a_clear_error_at_start() {
    let temp = TempDir::new("notdir");
    let file = temp.0.join("a-file");
    std::fs::write(&file, "").unwrap();
    let (status, stdout, stderr) = run(&[
        "--addr",
        "127.0.0.1:0",
        "--sessions",
        file.to_str().unwrap(),
        "--www",
        common::WWW_DIR,
    ]);
    assert_eq!(status, 1);
    assert!(stdout.is_empty(), "nothing listens: {stdout}");
    assert!(stderr.contains("cannot use"), "{stderr}");
    assert!(stderr.contains("pass --sessions DIR"), "{stderr}");
}

#[test]
fn a_missing_www_folder_is_a_clear_error_at_start() {
    let temp = TempDir::new("nowww");
    let (status, _, stderr) = run(&[
        "--addr",
        "127.0.0.1:0",
        "--www",
        temp.0.join("none").to_str().unwrap(),
    ]);
    assert_eq!(status, 1);
    assert!(
        stderr.contains("is --www pointing at handstamp's www folder?"),
        "{stderr}"
    );
}

#[test]
fn a_template_that_does_not_fit_the_code_is_an_error_at_start() {
    let temp = TempDir::new("badtpl");
    let www = temp.0.join("www");
    for dir in ["templates", "static"] {
        std::fs::create_dir_all(www.join(dir)).unwrap();
    }
    for entry in std::fs::read_dir(format!("{}/templates", common::WWW_DIR)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), www.join("templates").join(entry.file_name())).unwrap();
    }
    std::fs::copy(
        format!("{}/items.txt", common::WWW_DIR),
        www.join("items.txt"),
    )
    .unwrap();
    std::fs::write(www.join("templates/index.html"), "Hello {{ nmae }}").unwrap();
    let (status, _, stderr) = run(&[
        "--addr",
        "127.0.0.1:0",
        "--www",
        www.to_str().unwrap(),
        "--sessions",
        temp.0.join("s").to_str().unwrap(),
    ]);
    assert_eq!(status, 1);
    assert!(stderr.contains("nmae"), "{stderr}");
}

#[test]
fn single_thread_mode_serves_requests() {
    let server = TestServer::start_with(&["--single-thread"]);
    let id = common::log_in(&server, "David");
    let home = server.get("/", Some(&format!("session={id}")));
    assert!(
        home.body_text().contains("You are logged in as David."),
        "{home}"
    );
}
