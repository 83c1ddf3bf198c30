//! Cookie headers: every value found is trimmed and has no ';'.
#![no_main]

use handstamp::cookie;
use handstamp::session::SessionId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let header = String::from_utf8_lossy(bytes);
    for value in cookie::values_named(std::iter::once(header.as_ref()), "session") {
        assert!(!value.contains(';'));
        if let Some(id) = SessionId::parse(value) {
            assert_eq!(id.as_str().len(), 32);
        }
    }
});
