//! Chunk extensions: the grammar a chunk-size line must have.
//!
//! *(Skip at first.)* `5;note="a b"\r\n` is a chunk of 5 bytes with one
//! extension. Extensions mean nothing to this server, but a line without
//! their grammar is not a chunk-size line, and guessing is how smuggling
//! starts (RFC 9112 §7.1.1; tokens and quoted strings, RFC 9110 §5.6).

/// `*( BWS ";" BWS name [ BWS "=" BWS value ] )`, where a name is a token
/// and a value is a token or a quoted string (RFC 9112 §7.1.1). BWS is
/// optional spaces and tabs.
pub fn is_chunk_extensions(text: &[u8]) -> bool {
    let mut pos = 0;
    loop {
        let before_space = pos;
        pos = skip_spaces(text, pos);
        if pos == text.len() {
            // Spaces may come before a `;`, not at the end of the line.
            return pos == before_space;
        }
        if text[pos] != b';' {
            return false;
        }
        pos = skip_spaces(text, pos + 1);
        let name_len = token_len(&text[pos..]);
        if name_len == 0 {
            return false;
        }
        pos += name_len;
        let after_space = skip_spaces(text, pos);
        if text.get(after_space) == Some(&b'=') {
            pos = skip_spaces(text, after_space + 1);
            let value_len = match text.get(pos) {
                Some(b'"') => quoted_string_len(&text[pos..]),
                _ => token_len(&text[pos..]),
            };
            if value_len == 0 {
                return false;
            }
            pos += value_len;
        }
    }
}

fn skip_spaces(text: &[u8], mut pos: usize) -> usize {
    while matches!(text.get(pos), Some(b' ' | b'\t')) {
        pos += 1;
    }
    pos
}

/// How many bytes at the start of `text` are tchar.
fn token_len(text: &[u8]) -> usize {
    text.iter().take_while(|&&b| is_token_byte(b)).count()
}

/// The length of the quoted string at the start of `text`, quotes
/// included, or 0 if it is not one (RFC 9110 §5.6.4).
fn quoted_string_len(text: &[u8]) -> usize {
    let is_text = |b: u8| b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80;
    let mut pos = 1;
    while let Some(&byte) = text.get(pos) {
        match byte {
            b'"' => return pos + 1,
            b'\\' if text.get(pos + 1).is_some_and(|&next| is_text(next)) => pos += 2,
            b'\\' => return 0,
            _ if is_text(byte) => pos += 1,
            _ => return 0,
        }
    }
    0
}

/// tchar (RFC 9110 §5.6.2): the bytes a token is made of, such as a method,
/// a header name or an extension's name.
pub fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}
