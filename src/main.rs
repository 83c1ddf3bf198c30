//! The command line: flags become a `Config`, the server starts, and the
//! first line on stdout says where it listens.
//!
//! ```text
//! $ cargo run --release -- --addr 127.0.0.1:0
//! listening on http://127.0.0.1:41873
//! sessions page (for you only): http://127.0.0.1:41873/sessions/5b7d…
//! sessions: one file each in sessions/
//! ```
//!
//! Flags are read by hand, one at a time, so a bad one gets a one-line
//! error, the usage text, and exit status 2. Everything after that belongs
//! to server.rs.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use handstamp::app::LogoutMode;
use handstamp::log::LogMode;
use handstamp::redis::RedisAddress;
use handstamp::server::{self, Config};

const USAGE: &str = "\
usage: handstamp [FLAGS]

  --addr HOST:PORT            where to listen (default 127.0.0.1:8080; port 0 picks a free port)
  --sessions DIR              folder of session files (default sessions)
  --sessions redis://HOST:PORT[/DB]
                              keep sessions in a Redis server instead, shared by servers on
                              several machines; a password, if any, in HANDSTAMP_REDIS_PASSWORD
  --www DIR                   folder of templates, static files and store items (default www)
  --session-ttl SECONDS       a session unused this long is gone (default 1800)
  --session-lifetime SECONDS  a session older than this is gone, used or not (default 28800)
  --max-sessions N            sessions allowed in the folder (or Redis), one count for every process on
                              it (default 100000); when full, the address holding the most beyond
                              its share loses its oldest session first
  --max-connections N         open connections allowed at once (default 1024; lower if the
                              open-file limit requires it); idle ones are reclaimed at the cap
  --trace                     print each request's and response's raw head
  --quiet                     print nothing per request
  --single-thread             serve one connection at a time on the main thread (for debuggers)
  --logout delete|clear-name  delete the session at logout (default), or, as the Flask notes do,
                              keep the file and cookie and store an empty name
  --no-inspector              leave out the panel that shows each page's request, response and session file
  --help                      print this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse_flags(&args) {
        Ok(Some(config)) => config,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("handstamp: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };

    let server = match server::start(config) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("handstamp: {error}");
            return ExitCode::FAILURE;
        }
    };

    // Whoever started us (a test, a script) waits for that line: send it
    // now. If nobody can read it, there is nobody to serve either.
    let mut stdout = std::io::stdout();
    let announced = writeln!(stdout, "listening on http://{}", server.local_addr())
        .and_then(|()| stdout.flush());
    if let Err(error) = announced {
        eprintln!("handstamp: cannot write to stdout: {error}");
        return ExitCode::FAILURE;
    }
    // Like Jupyter's token: only someone who sees this terminal can open
    // the page that lists every visitor's session.
    let _ = writeln!(
        stdout,
        "sessions page (for you only): {}",
        server.sessions_page_url()
    );
    let _ = writeln!(stdout, "{}", server.where_sessions_are_kept());
    if let Some(notice) = server.connection_cap_notice() {
        let _ = writeln!(stdout, "{notice}");
    }
    server.run();
    ExitCode::SUCCESS
}

/// Reads the flags into a `Config`. `Ok(None)` means `--help` was asked for.
fn parse_flags(args: &[String]) -> Result<Option<Config>, String> {
    let mut config = Config::default();
    let mut trace = false;
    let mut quiet = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        // Accept both `--addr 127.0.0.1:0` and `--addr=127.0.0.1:0`.
        let (flag, inline_value) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || -> Result<String, String> {
            match inline_value.clone().or_else(|| rest.next().cloned()) {
                Some(value) => Ok(value),
                None => Err(format!("{flag} needs a value")),
            }
        };
        match flag {
            "--help" | "-h" => return Ok(None),
            "--addr" => config.addr = value()?,
            "--sessions" => {
                let value = value()?;
                match RedisAddress::parse(&value) {
                    None => config.sessions_dir = PathBuf::from(value),
                    Some(Ok(address)) => config.sessions_redis = Some(address),
                    Some(Err(problem)) => return Err(format!("--sessions {value}: {problem}")),
                }
            }
            "--www" => config.www_dir = PathBuf::from(value()?),
            "--session-ttl" => config.session_ttl_secs = positive_number(flag, &value()?)?,
            "--session-lifetime" => {
                config.session_lifetime_secs = positive_number(flag, &value()?)?
            }
            "--max-sessions" => config.max_sessions = positive_number(flag, &value()?)? as usize,
            "--max-connections" => {
                config.max_connections = positive_number(flag, &value()?)? as usize
            }
            "--trace" => trace = true,
            "--quiet" => quiet = true,
            "--single-thread" => config.single_thread = true,
            "--no-inspector" => config.inspector = false,
            "--logout" => {
                config.logout_mode = match value()?.as_str() {
                    "delete" => LogoutMode::Delete,
                    "clear-name" => LogoutMode::ClearName,
                    other => {
                        return Err(format!(
                            "--logout takes delete or clear-name, not '{other}'"
                        ));
                    }
                }
            }
            _ => return Err(format!("unknown flag '{arg}'")),
        }
        if inline_value.is_some()
            && matches!(
                flag,
                "--trace" | "--quiet" | "--single-thread" | "--no-inspector"
            )
        {
            return Err(format!("{flag} takes no value"));
        }
    }
    config.log_mode = match (trace, quiet) {
        (true, true) => return Err("--trace and --quiet cannot be used together".to_string()),
        (true, false) => LogMode::Trace,
        (false, true) => LogMode::Quiet,
        (false, false) => LogMode::Lines,
    };
    Ok(Some(config))
}

fn positive_number(flag: &str, text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(number) if number > 0 && number <= 1 << 40 => Ok(number),
        _ => Err(format!("{flag} needs a whole number above 0, not '{text}'")),
    }
}
