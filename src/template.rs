//! Templates: HTML pages with holes, filled with escaped text.
//!
//! `www/templates/index.html` holds
//!
//! ```text
//! <p>You are logged in as {{ name }}. <a href="/logout">Log out</a>.</p>
//! ```
//!
//! and the page is that text with `{{ name }}` replaced by the visitor's
//! name, HTML-escaped: a name typed as `<script>` is shown as the text
//! `&lt;script&gt;`, never run. Only values the code marks as
//! `Value::Html` (pieces it built itself, from escaped parts) go in as they
//! are. Every page is then put inside `layout.html` at `{{ body }}`.
//!
//! A hole with no value, or a value with no hole, is a mistake in the code
//! or the template; it is an error at once (a 500 that names both, and a
//! failing test), never a page with a silent gap. This plays the part of
//! Flask's Jinja, without loops or conditions: the code builds lists.

use std::collections::HashMap;
use std::path::Path;

/// A value for a placeholder.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    /// Text, escaped on the way in. The normal case.
    Text(&'a str),
    /// HTML the code built itself from escaped parts.
    Html(&'a str),
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template '{0}' does not exist in www/templates")]
    Missing(String),
    #[error("template '{template}' has a '{{{{' without a closing '}}}}'")]
    Unclosed { template: String },
    #[error("template '{template}' has a placeholder '{placeholder}' that is not a lowercase name")]
    BadName {
        template: String,
        placeholder: String,
    },
    #[error(
        "template '{template}' needs a value for {{{{ {placeholder} }}}}, and the code gave none"
    )]
    MissingValue {
        template: String,
        placeholder: String,
    },
    #[error(
        "the code gave a value for '{placeholder}', but template '{template}' has no such placeholder"
    )]
    UnusedValue {
        template: String,
        placeholder: String,
    },
}

/// A template cut at its placeholders, once, when the server starts.
#[derive(Debug, Clone)]
enum Piece {
    Literal(String),
    Placeholder(String),
}

/// Every template under `www/templates`, parsed.
#[derive(Debug, Default)]
pub struct Templates {
    parsed: HashMap<String, Vec<Piece>>,
}

impl Templates {
    /// Reads and parses every `*.html` in `dir`; a malformed one is an error
    /// at start.
    pub fn load(dir: &Path) -> Result<Templates, String> {
        let entries = std::fs::read_dir(dir).map_err(|e| e.to_string())?;
        let mut templates = Templates::default();
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !name.ends_with(".html") {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{name}: {e}"))?;
            templates
                .add(name, &text)
                .map_err(|error| error.to_string())?;
        }
        Ok(templates)
    }

    pub fn add(&mut self, name: &str, text: &str) -> Result<(), TemplateError> {
        let pieces = parse(name, text)?;
        self.parsed.insert(name.to_string(), pieces);
        Ok(())
    }

    /// Fills the template `name`; every placeholder needs exactly one value
    /// and every value its placeholder.
    pub fn render(&self, name: &str, values: &[(&str, Value)]) -> Result<String, TemplateError> {
        let pieces = self
            .parsed
            .get(name)
            .ok_or_else(|| TemplateError::Missing(name.to_string()))?;
        let mut page = String::new();
        for piece in pieces {
            match piece {
                Piece::Literal(text) => page.push_str(text),
                Piece::Placeholder(placeholder) => {
                    match values.iter().find(|(given, _)| given == placeholder) {
                        Some((_, Value::Text(text))) => page.push_str(&escape_html(text)),
                        Some((_, Value::Html(html))) => page.push_str(html),
                        None => {
                            return Err(TemplateError::MissingValue {
                                template: name.to_string(),
                                placeholder: placeholder.clone(),
                            });
                        }
                    }
                }
            }
        }
        for (placeholder, _) in values {
            let used = pieces
                .iter()
                .any(|piece| matches!(piece, Piece::Placeholder(p) if p == placeholder));
            if !used {
                return Err(TemplateError::UnusedValue {
                    template: name.to_string(),
                    placeholder: placeholder.to_string(),
                });
            }
        }
        Ok(page)
    }

    /// A page: `name` filled with `values`, then put into `layout.html`.
    pub fn page(
        &self,
        title: &str,
        name: &str,
        values: &[(&str, Value)],
    ) -> Result<String, TemplateError> {
        let body = self.render(name, values)?;
        self.render(
            "layout.html",
            &[("title", Value::Text(title)), ("body", Value::Html(&body))],
        )
    }
}

/// Cuts `Hello {{ name }}!` into `Hello `, `name`, `!`.
fn parse(template: &str, text: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        pieces.push(Piece::Literal(rest[..open].to_string()));
        let after_open = &rest[open + 2..];
        let close = after_open
            .find("}}")
            .ok_or_else(|| TemplateError::Unclosed {
                template: template.to_string(),
            })?;
        let placeholder = after_open[..close].trim();
        let is_name = !placeholder.is_empty()
            && placeholder
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_');
        if !is_name {
            return Err(TemplateError::BadName {
                template: template.to_string(),
                placeholder: placeholder.to_string(),
            });
        }
        pieces.push(Piece::Placeholder(placeholder.to_string()));
        rest = &after_open[close + 2..];
    }
    pieces.push(Piece::Literal(rest.to_string()));
    Ok(pieces)
}

/// Makes text safe to put in HTML, between tags or in a quoted attribute.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    push_escaped(&mut escaped, text);
    escaped
}

/// Appends `text` to HTML: `& < > " '` as entities, the rest as itself.
/// The one HTML escape (the inspector also shows control characters).
pub fn push_escaped(html: &mut String, text: &str) {
    // Runs of ordinary text go in whole. Cutting at a byte is safe: the
    // five bytes escaped are ASCII, never part of a longer character.
    let mut rest = text;
    while let Some(at) = rest.bytes().position(|byte| ESCAPED[usize::from(byte)]) {
        html.push_str(&rest[..at]);
        html.push_str(entity(rest.as_bytes()[at]).unwrap_or_default());
        rest = &rest[at + 1..];
    }
    html.push_str(rest);
}

/// The entity that stands for `byte` in HTML, if it needs one.
pub fn entity(byte: u8) -> Option<&'static str> {
    match byte {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'"' => Some("&quot;"),
        b'\'' => Some("&#39;"),
        _ => None,
    }
}

/// `ESCAPED[byte]`: whether `entity` has one for `byte`. A table looked
/// up once per byte: pages escape kilobytes of mostly ordinary text.
pub const ESCAPED: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = matches!(byte as u8, b'&' | b'<' | b'>' | b'"' | b'\'');
        byte += 1;
    }
    table
};

/// Appends `n` in decimal. The panel writes dozens of numbers a page, and
/// `write!` goes through the whole formatting machinery for each; this is
/// the loop.
pub fn push_number(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut first = digits.len();
    loop {
        first -= 1;
        digits[first] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &digit in &digits[first..] {
        out.push(char::from(digit));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0, 7, 10, 92, 4096, u64::MAX] {
            let mut out = String::new();
            push_number(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }

    fn templates(text: &str) -> Templates {
        let mut templates = Templates::default();
        templates.add("t.html", text).unwrap();
        templates
    }

    #[test]
    fn text_values_are_escaped_and_html_values_are_not() {
        let t = templates("<p>{{ name }}</p>{{extra}}");
        let page = t
            .render(
                "t.html",
                &[
                    ("name", Value::Text("<b>&'\"")),
                    ("extra", Value::Html("<hr>")),
                ],
            )
            .unwrap();
        assert_eq!(page, "<p>&lt;b&gt;&amp;&#39;&quot;</p><hr>");
    }

    #[test]
    fn a_placeholder_without_a_value_is_an_error() {
        let t = templates("Hello {{ name }}");
        let error = t.render("t.html", &[]).unwrap_err();
        assert!(
            matches!(error, TemplateError::MissingValue { .. }),
            "{error}"
        );
    }

    #[test]
    fn a_value_without_a_placeholder_is_an_error() {
        let t = templates("Hello");
        let error = t
            .render("t.html", &[("name", Value::Text("x"))])
            .unwrap_err();
        assert!(
            matches!(error, TemplateError::UnusedValue { .. }),
            "{error}"
        );
    }

    #[test]
    fn an_unclosed_placeholder_is_refused_when_loaded() {
        let mut t = Templates::default();
        assert!(t.add("t.html", "Hello {{ name").is_err());
        assert!(t.add("t.html", "Hello {{ Name! }}").is_err());
    }
}
