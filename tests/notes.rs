//! NOTES.md shows heads captured from handstamp. This replays the same
//! curl commands against the current code with `--trace` and checks that
//! every server line NOTES.md shows (`<` lines and log lines) still has the
//! same shape: only ids, dates, ports, lengths and times may differ.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TempDir, TestServer};

const EXPERIMENTS: &str = "## 8. Try this next";

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
    // Section 8's experiments are run as written, below, not replayed.
    let (before, after) = notes.split_once(EXPERIMENTS).unwrap();
    let after = &after[after.find("\n## ").unwrap()..];
    let shown: Vec<&str> = before
        .lines()
        .chain(after.lines())
        .filter(|line| is_server_line(line))
        .collect();
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

/// One experiment of section 8: its title and its blocks, in order.
struct Experiment {
    title: String,
    blocks: Vec<Block>,
}

enum Block {
    /// `$ command` lines, each followed by the output it prints.
    Shell(Vec<(String, Vec<String>)>),
    /// Lines the server's terminal shows: each must be in its log.
    ServerLog(Vec<String>),
}

/// Section 8, cut into experiments: each starts at a `**Title.**`
/// paragraph and holds the ```text blocks up to the next one.
fn experiments() -> Vec<Experiment> {
    let notes = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/NOTES.md")).unwrap();
    let section = notes.split_once(EXPERIMENTS).unwrap().1;
    let section = &section[..section.find("\n## ").unwrap()];
    let mut experiments: Vec<Experiment> = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if let Some(title) = line.strip_prefix("**") {
            let title = title.split("**").next().unwrap().to_string();
            experiments.push(Experiment {
                title,
                blocks: Vec::new(),
            });
        } else if line == "```text" {
            let block: Vec<String> = lines
                .by_ref()
                .take_while(|line| *line != "```")
                .map(str::to_string)
                .collect();
            let experiment = experiments.last_mut().expect("a block after a title");
            if block[0].starts_with("$ ") {
                let mut commands: Vec<(String, Vec<String>)> = Vec::new();
                for line in block {
                    match line.strip_prefix("$ ") {
                        Some(command) => commands.push((command.to_string(), Vec::new())),
                        None => commands.last_mut().unwrap().1.push(line),
                    }
                }
                experiment.blocks.push(Block::Shell(commands));
            } else {
                experiment.blocks.push(Block::ServerLog(block));
            }
        }
    }
    experiments.retain(|experiment| !experiment.blocks.is_empty());
    experiments
}

/// Whether `actual` is `expected` where each `…` (with the hex digits just
/// before it, the start of an id) stands for any text.
fn matches(expected: &str, actual: &str) -> bool {
    let mut pieces: Vec<&str> = Vec::new();
    for piece in expected.split('…') {
        pieces.push(piece);
    }
    // The hex digits just before a `…` are an id's start: they differ too.
    let count = pieces.len();
    let pieces: Vec<&str> = pieces
        .iter()
        .enumerate()
        .map(|(n, piece)| match n + 1 < count {
            true => {
                piece.trim_end_matches(|c: char| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            }
            false => piece,
        })
        .collect();
    if pieces.len() == 1 {
        return expected == actual;
    }
    let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
    let Some(mut rest) = actual.strip_prefix(first) else {
        return false;
    };
    for middle in &pieces[1..pieces.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// The servers an experiment talks to, by the port the text gives them
/// (8080, 8081, …), and the folder its commands run in.
struct Lab {
    folder: std::path::PathBuf,
    servers: Vec<(String, TestServer)>,
}

impl Lab {
    fn new(folder: &Path) -> Lab {
        let mut lab = Lab {
            folder: folder.to_path_buf(),
            servers: Vec::new(),
        };
        lab.start(&[]);
        lab
    }

    /// `cargo run --release -- ARGS`: a server on the port `--addr` names
    /// (8080 if none; the one there before is stopped, as Ctrl-C would),
    /// on the folder `--sessions` names (`sessions` if none), both inside
    /// the lab's folder; the real port is picked by the system.
    fn start(&mut self, args: &[&str]) {
        let mut port = "8080".to_string();
        let mut sessions = "sessions".to_string();
        let mut rest: Vec<&str> = Vec::new();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match *arg {
                "--addr" => port = args.next().unwrap().rsplit(':').next().unwrap().to_string(),
                "--sessions" => sessions = args.next().unwrap().to_string(),
                other => rest.push(other),
            }
        }
        self.servers.retain(|(named, _)| *named != port);
        let server = TestServer::start_in(&self.folder.join(sessions), &rest);
        self.servers.push((port, server));
    }

    /// The text's addresses made the real ones.
    fn localize(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (port, server) in &self.servers {
            text = text.replace(&format!("127.0.0.1:{port}"), &server.addr.to_string());
        }
        text
    }

    fn main_server(&self) -> &TestServer {
        &self
            .servers
            .iter()
            .find(|(port, _)| port == "8080")
            .unwrap()
            .1
    }

    /// Runs one experiment's blocks as written, in one shell; panics,
    /// naming the command, where the output differs from the text.
    fn run(&mut self, experiment: &Experiment) {
        let mut shell = Command::new("bash")
            .current_dir(&self.folder)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("bash runs the experiments");
        let mut input = shell.stdin.take().unwrap();
        let mut output = BufReader::new(shell.stdout.take().unwrap());
        writeln!(input, "exec 2>&1").unwrap();
        for block in &experiment.blocks {
            match block {
                Block::Shell(commands) => {
                    for (command, expected) in commands {
                        self.run_command(experiment, command, expected, &mut input, &mut output);
                    }
                }
                Block::ServerLog(lines) => {
                    for line in lines {
                        self.wait_for_log_line(experiment, line);
                    }
                }
            }
        }
        drop(input);
        let _ = shell.wait();
    }

    fn run_command(
        &mut self,
        experiment: &Experiment,
        command: &str,
        expected: &[String],
        input: &mut ChildStdin,
        output: &mut BufReader<ChildStdout>,
    ) {
        if let Some(args) = command.strip_prefix("cargo run --release") {
            let args: Vec<&str> = args.split_whitespace().filter(|a| *a != "--").collect();
            self.start(&args);
            assert!(
                expected.is_empty(),
                "{}: a server prints nothing here",
                experiment.title
            );
            return;
        }
        const DONE: &str = "@@ done @@";
        writeln!(input, "{}\necho; echo '{DONE}'", self.localize(command)).unwrap();
        let mut printed: Vec<String> = Vec::new();
        loop {
            let mut line = String::new();
            assert!(output.read_line(&mut line).unwrap() > 0, "bash ended");
            let line = line.trim_end_matches('\n').to_string();
            if line == DONE {
                break;
            }
            printed.push(line);
        }
        while printed.last().is_some_and(|line| line.is_empty()) {
            printed.pop();
        }
        let expected: Vec<String> = expected.iter().map(|line| self.localize(line)).collect();
        let same = printed.len() == expected.len()
            && expected.iter().zip(&printed).all(|(e, p)| matches(e, p));
        assert!(
            same,
            "{}: `$ {command}` printed\n{}\nwhere NOTES.md shows\n{}",
            experiment.title,
            printed.join("\n"),
            expected.join("\n")
        );
    }

    fn wait_for_log_line(&self, experiment: &Experiment, expected: &str) {
        let server = self.main_server();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if server.log().lines().any(|line| matches(expected, line)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "{}: the server's terminal never showed {expected:?}; it showed:\n{}",
            experiment.title,
            server.log()
        );
    }
}

#[test]
fn the_matcher_lets_ids_and_ellipses_differ_and_nothing_else() {
    assert!(matches(
        "session\t6f1c…",
        "session\t0123456789abcdef0123456789abcdef"
    ));
    assert!(matches(
        "sessions/9c1e…:name=Ann",
        "sessions/77aa01:name=Ann"
    ));
    assert!(!matches(
        "sessions/9c1e…:name=Ann",
        "sessions/77aa01:name=Eve"
    ));
    assert!(matches("127.0.0.1:… GET / 302", "127.0.0.1:4242 GET / 302"));
    assert!(!matches("200", "302"));
    assert!(!matches("a…b…c", "a-c-b"));
}

#[test]
fn every_experiment_in_notes_runs_as_written_each_on_a_fresh_server() {
    let experiments = experiments();
    assert!(experiments.len() >= 7, "{} experiments", experiments.len());
    for experiment in &experiments {
        let temp = TempDir::new("experiment");
        let mut lab = Lab::new(&temp.0);
        lab.run(experiment);
    }
}

#[test]
fn the_experiments_in_notes_run_as_written_in_order_on_one_server() {
    let temp = TempDir::new("experiments");
    let mut lab = Lab::new(&temp.0);
    for experiment in &experiments() {
        lab.run(experiment);
    }
}

#[test]
fn every_session_file_in_notes_has_the_lines_a_real_file_has() {
    // A real file, as the server writes it: created=, from=, then values.
    let server = TestServer::start();
    let id = common::log_in(&server, "David");
    let real = server.session_file(&id);
    let keys: Vec<&str> = real
        .lines()
        .map(|line| line.split('=').next().unwrap())
        .collect();
    assert_eq!(keys, ["created", "from", "name"], "{real}");
    // Every file NOTES.md shows starts the same way.
    let notes = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/NOTES.md")).unwrap();
    let lines: Vec<&str> = notes.lines().collect();
    let mut shown = 0;
    for (n, line) in lines.iter().enumerate() {
        if line.starts_with("created=1") {
            shown += 1;
            assert!(
                lines[n + 1].starts_with("from="),
                "NOTES.md line {}: a file shown without its from= line",
                n + 1
            );
        }
    }
    assert!(shown >= 4, "{shown} files shown");
}
