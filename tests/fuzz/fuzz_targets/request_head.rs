//! Request heads: find the end, parse, decide the body framing.
#![no_main]

use handstamp::connection::find_head_end;
use handstamp::request::{self, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Some(head_len) = find_head_end(bytes) else {
        return;
    };
    match request::parse_head(&bytes[..head_len]) {
        Ok(request) => {
            assert!(request.path.starts_with('/'));
            let _ = request.wants_keep_alive();
            let _ = request.cookie_values("session");
            if let Ok(request::BodyFraming::Length(n)) = request::body_framing(&request, &Limits::default()) {
                assert!(n <= Limits::default().max_body_bytes);
            }
        }
        Err(error) => assert!(error.status().is_some()),
    }
});
