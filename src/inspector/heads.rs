//! The heads as the panel shows them: the start line and the headers
//! that matter first, the rest folded under a count, every byte a client
//! chose escaped and control characters made visible; and the body that
//! came with a request.

use std::borrow::Cow;

use crate::request::Request;
use crate::response::{self, Response};
use crate::template::{ESCAPED, entity, push_number};

/// The headers a head shows first; the others wait, folded, below them.
pub const FIRST_REQUEST_HEADERS: [&str; 3] = ["host", "cookie", "content-type"];
pub const FIRST_RESPONSE_HEADERS: [&str; 3] = ["location", "set-cookie", "content-type"];
/// A request body longer than this is shown cut short.
const MAX_SHOWN_BODY: usize = 1024;

/// The head part of bytes that went over the wire.
pub fn head_text(bytes: &[u8]) -> String {
    as_text(&bytes[..response::head_len(bytes)]).into_owned()
}

/// Bytes a client sent, as text: borrowed when they are UTF-8, as a head
/// almost always is, else with U+FFFD for what is not. `from_utf8` checks
/// ASCII a word at a time; `from_utf8_lossy` goes byte by byte even
/// when there is nothing to replace.
pub fn as_text(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Appends a head as HTML: its first line and the headers named in
/// `first`, then the others folded in a `<details>` that says how many it
/// holds. Every line escaped, control characters shown as `\xNN`, and
/// the lines named `marked` (`Cookie`, `Set-Cookie`) in `<mark>`.
/// `class` is `request` or `response`.
pub fn push_head(html: &mut String, head: &str, class: &str, marked: &str, first: &[&str]) {
    // `lines` cuts at each CRLF; the empty line that ends a head is left
    // out.
    let mut lines = head.lines().filter(|line| !line.is_empty());
    let start_line = lines.next().unwrap_or_default();
    let (shown, folded): (Vec<&str>, Vec<&str>) = lines.partition(|line| {
        let name = header_name(line);
        first.iter().any(|wanted| name.eq_ignore_ascii_case(wanted))
    });
    html.push_str("<pre class=\"head ");
    html.push_str(class);
    html.push_str("\">");
    push_visible(html, start_line);
    html.push('\n');
    for line in shown {
        push_header_line(html, line, marked);
    }
    html.push_str("</pre>\n");
    if folded.is_empty() {
        return;
    }
    html.push_str("<details><summary>");
    push_number(html, folded.len() as u64);
    html.push_str(match folded.len() {
        1 => " more header",
        _ => " more headers",
    });
    html.push_str("</summary><pre class=\"head ");
    html.push_str(class);
    html.push_str("\">");
    for line in folded {
        push_header_line(html, line, marked);
    }
    html.push_str("</pre></details>\n");
}

/// `Cookie` in `Cookie: a=1`; the whole line if it has no colon.
fn header_name(line: &str) -> &str {
    // A short search by hand: `split(':')` sets up a searcher per line.
    match line.bytes().position(|byte| byte == b':') {
        Some(colon) => &line[..colon],
        None => line,
    }
}

/// One line of a head, in `<mark>` if it is the header named `marked`.
fn push_header_line(html: &mut String, line: &str, marked: &str) {
    let is_marked = header_name(line).eq_ignore_ascii_case(marked);
    if is_marked {
        html.push_str("<mark>");
    }
    push_visible(html, line);
    if is_marked {
        html.push_str("</mark>");
    }
    html.push('\n');
}

/// Appends the body that came with the request (a form's `name=David`),
/// as received: escaped, and cut short past `MAX_SHOWN_BODY` bytes.
pub fn push_body(html: &mut String, request: &Request) {
    if request.body.is_empty() {
        return;
    }
    let shown = &request.body[..request.body.len().min(MAX_SHOWN_BODY)];
    html.push_str("<p class=\"note\">The body that came with it (");
    push_number(html, request.body.len() as u64);
    html.push_str(" bytes");
    if shown.len() < request.body.len() {
        html.push_str(", the first ");
        push_number(html, MAX_SHOWN_BODY as u64);
        html.push_str(" shown");
    }
    html.push_str("):</p>\n<pre class=\"body\">");
    push_visible(html, &as_text(shown));
    html.push_str("</pre>\n");
}

/// The bytes `push_visible` stops at: one to escape, one below a space,
/// DEL, and 0xC2, the first byte of U+0080 to U+00BF (where the other
/// control characters are). Runs of any other bytes go in whole. A table,
/// looked up once per byte: most of a head is ordinary text.
const NEEDS_CARE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = ESCAPED[byte] || byte < 0x20 || byte == 0x7f || byte == 0xc2;
        byte += 1;
    }
    table
};

/// Appends `line` as HTML text: a tab as `\t`, other control characters
/// as `\xNN`, and `& < > " '` escaped. One pass, straight into `html`.
pub fn push_visible(html: &mut String, line: &str) {
    let mut rest = line;
    while let Some(at) = rest.bytes().position(|byte| NEEDS_CARE[usize::from(byte)]) {
        html.push_str(&rest[..at]);
        rest = &rest[at..];
        let c = rest.chars().next().unwrap_or_default();
        match (c, entity(rest.as_bytes()[0])) {
            (_, Some(entity)) => html.push_str(entity),
            ('\t', None) => html.push_str("\\t"),
            (c, None) if c.is_control() => {
                html.push_str("\\x");
                let code = c as u32;
                for nibble in [code >> 4, code & 0xf] {
                    html.push(char::from_digit(nibble, 16).unwrap_or('?'));
                }
            }
            // U+00A0 to U+00BF: printable.
            (c, None) => html.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    html.push_str(rest);
}

/// The response head as far as it is known while the page is built.
pub fn response_head_so_far(response: &Response) -> String {
    let mut head = String::with_capacity(256);
    head.push_str(&response::status_line(response.status));
    head.push_str("Date: (written when the bytes go out)\r\n");
    head.push_str("Content-Length: (counted when the page is done; this panel is part of it)\r\n");
    for (name, value) in &response.headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visible(line: &str) -> String {
        let mut html = String::new();
        push_visible(&mut html, line);
        html
    }

    #[test]
    fn control_characters_are_shown_and_markup_is_escaped() {
        assert_eq!(visible("name=David"), "name=David");
        assert_eq!(visible("a\tb"), "a\\tb");
        assert_eq!(visible("\u{1b}[31m\u{7f}"), "\\x1b[31m\\x7f");
        // U+0085 is a control character; U+00A0 and U+00E9 are not.
        assert_eq!(visible("a\u{85}b\u{a0}é"), "a\\x85b\u{a0}é");
        assert_eq!(
            visible("<b a='1'>&\"</b>"),
            "&lt;b a=&#39;1&#39;&gt;&amp;&quot;&lt;/b&gt;"
        );
        assert_eq!(visible(""), "");
    }

    #[test]
    fn no_character_comes_out_as_markup_or_as_an_invisible_control() {
        // Every character up to U+2FFF, alone and between ordinary text.
        for code in 0..0x3000u32 {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            let html = visible(&format!("a{c}b"));
            assert!(
                html.starts_with('a') && html.ends_with('b'),
                "{code:x}: {html}"
            );
            let inside = &html[1..html.len() - 1];
            assert!(
                !inside.contains(['<', '>', '"', '\'']) && !inside.chars().any(char::is_control),
                "{code:x}: {html}"
            );
            if !c.is_control() && !"&<>\"'".contains(c) {
                assert_eq!(inside, c.to_string(), "{code:x}");
            }
        }
    }

    #[test]
    fn a_head_shows_its_first_headers_and_folds_the_rest() {
        let head =
            "GET / HTTP/1.1\r\nUser-Agent: x\r\nHost: a\r\nCOOKIE: s=<1>\r\nAccept: */*\r\n\r\n";
        let mut html = String::new();
        push_head(&mut html, head, "request", "cookie", &FIRST_REQUEST_HEADERS);
        assert_eq!(
            html,
            "<pre class=\"head request\">GET / HTTP/1.1\nHost: a\n<mark>COOKIE: s=&lt;1&gt;</mark>\n</pre>\n\
             <details><summary>2 more headers</summary><pre class=\"head request\">\
             User-Agent: x\nAccept: */*\n</pre></details>\n"
        );
        let mut html = String::new();
        push_head(
            &mut html,
            "HTTP/1.1 200 OK\r\nLocation: /\r\n",
            "response",
            "set-cookie",
            &FIRST_RESPONSE_HEADERS,
        );
        assert_eq!(
            html,
            "<pre class=\"head response\">HTTP/1.1 200 OK\nLocation: /\n</pre>\n"
        );
    }
}
