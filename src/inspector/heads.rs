//! The heads as the panel shows them: the start line and the headers
//! that matter first, the rest folded under a count, every byte a client
//! chose escaped and control characters made visible; and the body that
//! came with a request.

use std::fmt::Write;

use crate::request::Request;
use crate::response::{self, Response};
use crate::template::{push_escaped, push_number};

/// The headers a head shows first; the others wait, folded, below them.
pub const FIRST_REQUEST_HEADERS: [&str; 3] = ["host", "cookie", "content-type"];
pub const FIRST_RESPONSE_HEADERS: [&str; 3] = ["location", "set-cookie", "content-type"];
/// A request body longer than this is shown cut short.
const MAX_SHOWN_BODY: usize = 1024;

/// The head part of bytes that went over the wire.
pub fn head_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..response::head_len(bytes)]).into_owned()
}

/// A head as HTML: its first line and the headers named in `first`, then
/// the others folded in a `<details>` that says how many it holds. Every
/// line escaped, control characters shown as `\xNN`, and the lines named
/// `marked` (`Cookie`, `Set-Cookie`) in `<mark>`. `class` is `request` or
/// `response`.
pub fn head_html(head: &str, class: &str, marked: &str, first: &[&str]) -> String {
    // Lines end in CRLF; splitting at the LF is a byte search (memchr).
    let mut lines = head
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .filter(|line| !line.is_empty());
    let mut html = String::with_capacity(head.len() + 200);
    html.push_str("<pre class=\"head ");
    html.push_str(class);
    html.push_str("\">");
    let mut folded = String::with_capacity(head.len());
    let mut folded_count = 0;
    if let Some(start_line) = lines.next() {
        push_visible(&mut html, start_line);
        html.push('\n');
    }
    for line in lines {
        let name = line.split(':').next().unwrap_or_default();
        let is_first = first.iter().any(|wanted| name.eq_ignore_ascii_case(wanted));
        let out = match is_first {
            true => &mut html,
            false => {
                folded_count += 1;
                &mut folded
            }
        };
        let is_marked = name.eq_ignore_ascii_case(marked);
        if is_marked {
            out.push_str("<mark>");
        }
        push_visible(out, line);
        if is_marked {
            out.push_str("</mark>");
        }
        out.push('\n');
    }
    html.push_str("</pre>\n");
    if folded_count > 0 {
        html.push_str("<details><summary>");
        push_number(&mut html, folded_count as u64);
        html.push_str(match folded_count {
            1 => " more header",
            _ => " more headers",
        });
        html.push_str("</summary><pre class=\"head ");
        html.push_str(class);
        html.push_str("\">");
        html.push_str(&folded);
        html.push_str("</pre></details>\n");
    }
    html
}

/// The body that came with the request (a form's `name=David`), as
/// received: escaped, and cut short past `MAX_SHOWN_BODY` bytes.
pub fn body_html(request: &Request) -> String {
    if request.body.is_empty() {
        return String::new();
    }
    let shown = &request.body[..request.body.len().min(MAX_SHOWN_BODY)];
    let mut html = format!(
        "<p class=\"note\">The body that came with it ({} bytes{}):</p>\n<pre class=\"body\">",
        request.body.len(),
        match shown.len() < request.body.len() {
            true => format!(", the first {MAX_SHOWN_BODY} shown"),
            false => String::new(),
        }
    );
    push_visible(&mut html, &String::from_utf8_lossy(shown));
    html.push_str("</pre>\n");
    html
}

/// Appends `line` as HTML text: a tab as `\t`, other control characters
/// as `\xNN`, and `& < > " '` escaped. One pass, straight into `html`.
pub fn push_visible(html: &mut String, line: &str) {
    // Most lines hold no control character: no byte below a space, no
    // DEL, and no 0xC2, the first byte of U+0080 to U+00BF (where the
    // other control characters are). Those go in whole.
    if line.bytes().all(|b| b >= b' ' && b != 0x7f && b != 0xc2) {
        push_escaped(html, line);
        return;
    }
    let mut plain_from = 0;
    for (at, c) in line.char_indices() {
        if !c.is_control() {
            continue;
        }
        // The ordinary text before it, escaped in one go.
        push_escaped(html, &line[plain_from..at]);
        match c {
            '\t' => html.push_str("\\t"),
            c => {
                let _ = write!(html, "\\x{:02x}", c as u32);
            }
        }
        plain_from = at + c.len_utf8();
    }
    push_escaped(html, &line[plain_from..]);
}

/// The response head as far as it is known while the page is built.
pub fn response_head_so_far(response: &Response) -> String {
    let mut head = response::status_line(response.status);
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
