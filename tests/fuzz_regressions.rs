//! Replays the inputs the coverage-guided fuzzers found (minimised, under
//! tests/fuzz/regressions/TARGET/) through the same checks the fuzzers ran.

#[path = "fuzz/checks.rs"]
mod checks;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/regressions")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&bytes));
        assert!(outcome.is_ok(), "{} fails its check", path.display());
        count += 1;
    }
    assert!(count >= 10, "{target}: only {count} regression inputs");
}

#[test]
fn request_heads_found_by_the_fuzzer_still_pass() {
    replay("request_head", |bytes| {
        let _ = checks::request_head(bytes);
    });
}

#[test]
fn cookie_headers_found_by_the_fuzzer_still_pass() {
    replay("cookie_header", checks::cookie_header);
}

#[test]
fn form_bodies_found_by_the_fuzzer_still_pass() {
    replay("form_body", checks::form_body);
}

#[test]
fn session_files_found_by_the_fuzzer_still_pass() {
    replay("session_file", checks::session_file);
}

#[test]
fn chunked_bodies_found_by_the_fuzzer_still_pass() {
    replay("chunked_body", checks::chunked_body);
}
