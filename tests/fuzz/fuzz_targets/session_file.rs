//! Session files: whatever parses must write back to the same data.
#![no_main]

use handstamp::session::SessionData;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(data) = SessionData::from_file_text(text) {
        assert_eq!(SessionData::from_file_text(&data.to_file_text()), Ok(data));
    }
});
