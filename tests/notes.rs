//! NOTES.md shows heads captured from handstamp. This replays the same
//! curl commands against the current code with `--trace` and checks that
//! every server line NOTES.md shows (`<` lines and log lines) still has the
//! same shape: only ids, dates, ports, lengths and times may differ.

mod common;

use std::process::Command;

use common::{TempDir, TestServer};

/// Replaces what changes from run to run with placeholders.
fn shape(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while !rest.is_empty() {
        let hex_run = rest.bytes().take_while(|b| b.is_ascii_hexdigit()).count();
        let digit_run = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
        if hex_run == 32 {
            out.push_str("ID");
            rest = &rest[32..];
        } else if digit_run > 0 {
            out.push('N');
            rest = &rest[digit_run..];
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if out.starts_with("< Date: ") {
        return "< Date: DATE".to_string();
    }
    // Status codes matter: put them back from the original line.
    if let Some(status_line) = line.strip_prefix("< HTTP/1.1 ") {
        return format!("< HTTP/1.1 {status_line}");
    }
    out
}

fn is_server_line(line: &str) -> bool {
    line.starts_with('<') || line.starts_with("127.0.0.1:")
}

#[test]
fn the_heads_in_notes_match_what_the_server_prints() {
    let notes = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/NOTES.md")).unwrap();
    let shown: Vec<&str> = notes.lines().filter(|line| is_server_line(line)).collect();
    assert!(shown.len() > 40, "NOTES.md should show the captured heads");

    let server = TestServer::start_with(&["--trace"]);
    let temp = TempDir::new("notes");
    let jar = temp.0.join("jar");
    let jar = jar.to_str().unwrap();
    let url = |path: &str| format!("http://{}{path}", server.addr);
    for args in [
        vec![url("/")],
        vec!["-d".into(), "name=David".into(), url("/login")],
        vec![url("/")],
        vec![url("/logout")],
        vec!["-d".into(), "id=2".into(), url("/cart")],
        vec!["-d".into(), "id=2".into(), url("/cart")],
        vec!["-d".into(), "id=5".into(), url("/cart")],
    ] {
        let status = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-c", jar, "-b", jar])
            .args(&args)
            .status()
            .expect("curl must be installed to run this test");
        assert!(status.success());
    }
    server.wait_for_log("POST /cart 303 -> /cart  cookie: session=");
    let printed: Vec<String> = server.log().lines().map(shape).collect();
    for line in shown {
        assert!(
            printed.contains(&shape(line)),
            "NOTES.md shows {line:?}, but the server no longer prints a line of that shape.\n\
             Server output:\n{}",
            server.log()
        );
    }
}
