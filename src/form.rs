//! Forms: how an HTML form's fields travel in a POST body.
//!
//! The login form `<input name="name">` submitted with "David Ann" becomes
//! the body
//!
//! ```text
//! name=David+Ann
//! ```
//!
//! (`application/x-www-form-urlencoded`): `field=value` pairs joined by `&`,
//! a space written as `+`, and any other byte that could confuse the format
//! written as `%` and two hex digits (`&` is `%26`, `é` is `%C3%A9`). Request
//! paths use the same `%XX` escapes, so their decoding lives here too.
//! Rules: the WHATWG URL standard, "application/x-www-form-urlencoded".

/// What can be wrong with a form body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("the form {0}")]
    BadEscape(&'static str),
    #[error("the form is not UTF-8 text once decoded")]
    NotUtf8,
}

/// Decodes `%XX` escapes: `/a%20b` is `/a b`. For paths, hosts and
/// session values, where `+` is itself.
pub fn percent_decode(bytes: &[u8]) -> Result<Vec<u8>, &'static str> {
    decode(bytes, PlusSign::Itself)
}

/// Decodes a form field: `%XX` escapes, and `+` as a space, as a browser
/// encodes `name=David+Smith`.
pub fn form_decode(bytes: &[u8]) -> Result<Vec<u8>, &'static str> {
    decode(bytes, PlusSign::Space)
}

/// What a `+` stands for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PlusSign {
    Itself,
    Space,
}

/// A `%` not followed by two hex digits is an error, not passed through:
/// the client sent something else than it meant.
fn decode(bytes: &[u8], plus_sign: PlusSign) -> Result<Vec<u8>, &'static str> {
    // Decoding only ever shortens: `%41` (three bytes) is `A` (one).
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            // `%` and two hex digits are one byte: `%3D` is `=`, which lets a
            // value hold the characters that would otherwise split it.
            b'%' => {
                let high = bytes.get(i + 1).and_then(|&b| hex_value(b));
                let low = bytes.get(i + 2).and_then(|&b| hex_value(b));
                match (high, low) {
                    (Some(high), Some(low)) => decoded.push(high * 16 + low),
                    _ => return Err("has a '%' not followed by two hex digits"),
                }
                i += 3;
            }
            // In a form body a browser writes a space as `+` (and a real
            // `+` as `%2B`).
            b'+' if plus_sign == PlusSign::Space => {
                decoded.push(b' ');
                i += 1;
            }
            // Everything else is itself.
            byte => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    Ok(decoded)
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Splits a form body into its (field, value) pairs, decoded, in order.
/// `name=David+Ann&x=1` → `[("name", "David Ann"), ("x", "1")]`.
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    // `name=David&note=hi`: pairs split by `&`, each `name=value`.
    let mut fields = Vec::new();
    for pair in body.split(|&b| b == b'&') {
        if pair.is_empty() {
            continue; // `a=1&&b=2` has an empty pair; browsers skip it too
        }
        // The first `=` splits it; `name` alone is a name with no value.
        let (raw_name, raw_value) = match pair.iter().position(|&b| b == b'=') {
            Some(equals) => (&pair[..equals], &pair[equals + 1..]),
            None => (pair, &[][..]),
        };
        // Both halves are escaped by the browser; one bad escape refuses
        // the whole form.
        fields.push((decode_text(raw_name)?, decode_text(raw_value)?));
    }
    Ok(fields)
}

fn decode_text(raw: &[u8]) -> Result<String, FormError> {
    // Decoded bytes must be UTF-8 text: a name is shown on pages and in logs.
    let bytes = form_decode(raw).map_err(FormError::BadEscape)?;
    String::from_utf8(bytes).map_err(|_| FormError::NotUtf8)
}

/// The first value of `field` in a parsed form.
pub fn field<'a>(fields: &'a [(String, String)], field: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(name, _)| name == field)
        .map(|(_, value)| value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_body_decodes_to_its_fields() {
        let fields = parse_form(b"name=David+Ann&note=a%26b%3Dc").unwrap();
        assert_eq!(field(&fields, "name"), Some("David Ann"));
        assert_eq!(field(&fields, "note"), Some("a&b=c"));
    }

    #[test]
    fn a_broken_escape_is_an_error_not_a_guess() {
        assert!(parse_form(b"name=100%").is_err());
        assert!(parse_form(b"name=%zz").is_err());
        assert_eq!(parse_form(b"name=%FF"), Err(FormError::NotUtf8));
    }

    #[test]
    fn paths_keep_plus_signs() {
        assert_eq!(percent_decode(b"/a+b%2F").unwrap(), b"/a+b/");
    }
}
