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
        } else if hex_run == 8 && rest[8..].starts_with('…') {
            out.push_str("SHORT…");
            rest = &rest[8 + '…'.len_utf8()..];
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

    // Section 5's side-by-side: the same login and logout with
    // `--logout clear-name`, then a visit.
    let clear_name = TestServer::start_with(&["--trace", "--logout", "clear-name"]);
    let jar2 = temp.0.join("jar2");
    let jar2 = jar2.to_str().unwrap();
    let url2 = |path: &str| format!("http://{}{path}", clear_name.addr);
    for args in [
        vec!["-d".into(), "name=David".into(), url2("/login")],
        vec![url2("/logout")],
        vec![url2("/")],
    ] {
        let status = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-c", jar2, "-b", jar2])
            .args(&args)
            .status()
            .expect("curl must be installed to run this test");
        assert!(status.success());
    }
    clear_name.wait_for_log("(a session with no name)");

    let log = format!("{}{}", server.log(), clear_name.log());
    let printed: Vec<String> = log.lines().map(shape).collect();
    for line in shown {
        assert!(
            printed.contains(&shape(line)),
            "NOTES.md shows {line:?}, but the server no longer prints a line of that shape.\n\
             Server output:\n{log}"
        );
    }
}

#[test]
fn the_vscode_launch_configuration_is_the_one_in_notes_and_names_a_real_binary() {
    let root = env!("CARGO_MANIFEST_DIR");
    let launch = std::fs::read_to_string(format!("{root}/.vscode/launch.json")).unwrap();
    let notes = std::fs::read_to_string(format!("{root}/NOTES.md")).unwrap();
    assert!(
        notes.contains(&format!("```json\n{launch}```")),
        "NOTES.md does not show .vscode/launch.json as it is"
    );
    // The binary it builds exists: `--bin=handstamp` is Cargo's default
    // binary, src/main.rs, of the package named handstamp.
    assert!(launch.contains("\"cargo\": { \"args\": [\"build\", \"--bin=handstamp\"] }"));
    let manifest = std::fs::read_to_string(format!("{root}/Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"handstamp\""));
    assert!(std::path::Path::new(&format!("{root}/src/main.rs")).exists());
    assert!(
        std::path::Path::new(common::BINARY).exists(),
        "{}",
        common::BINARY
    );
    // Its flags are ones the server takes: it starts with them.
    let args_line = launch
        .lines()
        .find(|line| line.contains("\"args\": [\"--single"))
        .unwrap();
    let args: Vec<&str> = args_line.split('"').skip(3).step_by(2).collect();
    assert_eq!(
        args,
        [
            "--single-thread",
            "--no-inspector",
            "--addr",
            "127.0.0.1:8080"
        ]
    );
    let help = Command::new(common::BINARY).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in ["--single-thread", "--no-inspector", "--addr"] {
        assert!(help.contains(flag), "{flag} is not in --help");
    }
}
