//! Fuzz target: see tests/fuzz/checks.rs for what must hold.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    checks::chunked_body(bytes);
});
