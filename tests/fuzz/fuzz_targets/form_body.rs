//! Form bodies and percent-decoding.
#![no_main]

use handstamp::form;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(fields) = form::parse_form(bytes) {
        assert!(fields.len() <= bytes.split(|&b| b == b'&').count());
    }
    let _ = form::percent_decode(bytes, false);
});
