//! What must hold for any input to each decoder. Shared by the fuzz
//! targets (tests/fuzz/fuzz_targets), the replay of the inputs they found
//! (tests/fuzz_regressions.rs) and the seeded mutation tests
//! (tests/mutation.rs). A broken rule panics, which a fuzzer reports as a
//! crash with the input that caused it.

#![allow(dead_code)] // each fuzz target uses one of these checks

use handstamp::body::BodyDecoder;
use handstamp::cookie;
use handstamp::form;
use handstamp::request::find_head_end;
use handstamp::request::{self, Limits};
use handstamp::session::{SessionData, SessionId};

/// Outcome of one request head, for callers that count.
pub enum HeadOutcome {
    Incomplete,
    Accepted,
    Refused,
}

/// A complete head is either a request with a path, or an error with a
/// status to answer; never a panic, never silence.
pub fn request_head(bytes: &[u8]) -> HeadOutcome {
    let Some(head_len) = find_head_end(bytes) else {
        return HeadOutcome::Incomplete;
    };
    let limits = Limits::default();
    match request::parse_head(&bytes[..head_len]) {
        Ok(request) => {
            assert!(request.path.starts_with('/'), "path {:?}", request.path);
            let _ = request.wants_keep_alive();
            let _ = request.cookie_values("session");
            if let Ok(request::BodyFraming::Length(n)) = request::body_framing(&request, &limits) {
                assert!(n <= limits.max_body_bytes);
            }
            HeadOutcome::Accepted
        }
        Err(error) => {
            let status = error.status().expect("a complete head gets an answer");
            assert!((400..=505).contains(&status), "status {status}");
            HeadOutcome::Refused
        }
    }
}

/// Every `session` value found is trimmed and holds no `;`; one that
/// passes the id check is exactly 32 lowercase hex digits.
pub fn cookie_header(bytes: &[u8]) {
    let header = String::from_utf8_lossy(bytes);
    for value in cookie::values_named(std::iter::once(header.as_ref()), "session") {
        assert!(!value.contains(';'), "{value:?}");
        assert!(!value.starts_with([' ', '\t']) && !value.ends_with([' ', '\t']));
        if let Some(id) = SessionId::parse(value) {
            assert_eq!(id.as_str(), value);
            assert!(
                value
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
        }
    }
}

/// Decoding never yields more fields than there are `&`-pieces.
pub fn form_body(bytes: &[u8]) {
    if let Ok(fields) = form::parse_form(bytes) {
        assert!(fields.len() <= bytes.split(|&b| b == b'&').count());
    }
    let _ = form::percent_decode(bytes);
    let _ = form::form_decode(bytes);
}

/// Whatever parses as a session file writes back to the same data.
pub fn session_file(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    if let Ok(data) = SessionData::from_file_text(&text) {
        let again = SessionData::from_file_text(&data.to_file_text());
        assert_eq!(again.as_ref(), Ok(&data), "{text:?}");
    }
}

/// A chunked body decodes to the same result, body or refusal, whether its
/// bytes arrive all at once or one at a time: framing never depends on how
/// the network cut the stream.
pub fn chunked_body(bytes: &[u8]) {
    let whole = decode_chunked(bytes, bytes.len().max(1));
    let bytewise = decode_chunked(bytes, 1);
    assert_eq!(whole, bytewise, "{}", bytes.escape_ascii());
    if let Some(Ok(body)) = whole {
        assert!(body.len() <= bytes.len());
    }
}

/// `None` while the decoder still waits for bytes; else the body or the
/// status of the refusal.
fn decode_chunked(bytes: &[u8], piece: usize) -> Option<Result<Vec<u8>, Option<u16>>> {
    let mut decoder = BodyDecoder::new(request::BodyFraming::Chunked, 64 * 1024);
    let mut buffer = Vec::new();
    for bytes in bytes.chunks(piece) {
        buffer.extend_from_slice(bytes);
        match decoder.decode(&mut buffer) {
            Ok(Some(body)) => return Some(Ok(body)),
            Ok(None) => {}
            Err(error) => return Some(Err(error.status())),
        }
    }
    None
}
