//! The round trip as a picture: a small sequence diagram at the top of
//! the panel, drawn as inline SVG (no script), with this page's values.
//!
//! ```text
//!  browser                 server                 sessions/
//!     | POST /login  no cookie |                        |
//!     |----------------------->|  wrote 9c1e4f0a…       |
//!     |                        |----------------------->|
//!     |  303  Set-Cookie: session=9c1e4f0a…             |
//!     |<-----------------------|                        |
//! ```
//!
//! One band per exchange: the redirects that led here, then this page.
//! Ids are cut to 8 hex digits; the whole id shows on hover (`<title>`).

use crate::template::{push_escaped, push_number};

/// One exchange, as the diagram draws it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `POST /login HTTP/1.1`
    pub request_line: String,
    /// The `session` id the browser sent, if any.
    pub cookie: Option<String>,
    /// What the server did with the store: `read`, `wrote`, `read, wrote`,
    /// `deleted`, or nothing.
    pub store_action: String,
    /// The session id that action was on.
    pub store_id: Option<String>,
    /// `303 See Other`
    pub status: String,
    /// The `session` value this answer's `Set-Cookie` gives (empty: the
    /// cookie is being expired), if it has one.
    pub set_cookie: Option<String>,
}

impl Step {
    /// One line, tab-separated, for keeping a redirect's step beside its
    /// HTML until the page it leads to is drawn (redirect_link.rs).
    pub fn to_line(&self) -> String {
        let optional = |value: &Option<String>| match value {
            Some(value) => format!("={value}"),
            None => "-".to_string(),
        };
        [
            self.request_line.clone(),
            optional(&self.cookie),
            self.store_action.clone(),
            optional(&self.store_id),
            self.status.clone(),
            optional(&self.set_cookie),
        ]
        .map(|field| field.replace(|c: char| c.is_control(), " "))
        .join("\t")
    }

    /// `to_line` read back; `None` for a line that is not one.
    pub fn from_line(line: &str) -> Option<Step> {
        let fields: Vec<&str> = line.split('\t').collect();
        let [
            request_line,
            cookie,
            store_action,
            store_id,
            status,
            set_cookie,
        ] = fields[..]
        else {
            return None;
        };
        let optional = |field: &str| field.strip_prefix('=').map(str::to_string);
        Some(Step {
            request_line: request_line.to_string(),
            cookie: optional(cookie),
            store_action: store_action.to_string(),
            store_id: optional(store_id),
            status: status.to_string(),
            set_cookie: optional(set_cookie),
        })
    }
}

/// Each exchange is one band this tall, drawn in its own coordinates
/// (`<g transform="translate(0 TOP)">`), so a band's SVG is the same
/// text for every band but its labels. The lifelines stand at x = 36
/// (browser), 290 (server) and 460 (store), in a picture 510 wide; each
/// label fits between two lifelines, so on a narrow screen the browser
/// and the server, with every header shown, fit before the store's part.
const BAND: u32 = 104;
/// Where the first band starts, below the lifelines' names.
const TOP: u32 = 34;

/// Appends the diagram for `steps`, oldest first; `store_name` labels
/// the third lifeline (`sessions/` or `Redis`).
pub fn push_svg(svg: &mut String, steps: &[Step], store_name: &str) {
    let height = TOP + BAND * steps.len() as u32 + 8;
    svg.push_str(r#"<svg class="diagram" viewBox="0 0 510 "#);
    push_number(svg, u64::from(height));
    svg.push_str(concat!(
        r#"" role="img" aria-label="The exchange as a sequence diagram" "#,
        r#"xmlns="http://www.w3.org/2000/svg">"#,
        "\n",
        r#"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" "#,
        r#"markerWidth="7" markerHeight="7" orient="auto-start-reverse">"#,
        r#"<path d="M0,0 L10,5 L0,10 z"/></marker></defs>"#,
        "\n",
        // The three lifelines, each under its name, down to the bottom
        // (100%: of the picture's height).
        r#"<text class="actor" x="36" y="18">browser</text>"#,
        r#"<line class="life" x1="36" y1="24" x2="36" y2="100%"/>"#,
        "\n",
        r#"<text class="actor" x="290" y="18">server</text>"#,
        r#"<line class="life" x1="290" y1="24" x2="290" y2="100%"/>"#,
        "\n",
        r#"<text class="actor" x="460" y="18">"#,
    ));
    push_escaped(svg, store_name);
    svg.push_str(concat!(
        "</text>",
        r#"<line class="life" x1="460" y1="24" x2="460" y2="100%"/>"#,
        "\n",
    ));
    for (n, step) in steps.iter().enumerate() {
        band(svg, TOP + BAND * n as u32, step);
    }
    svg.push_str("</svg>\n");
}

/// One exchange: the request going right, the store touched, the answer
/// coming back.
fn band(svg: &mut String, top: u32, step: &Step) {
    svg.push_str(r#"<g transform="translate(0 "#);
    push_number(svg, u64::from(top));
    svg.push_str(")\">\n");
    // The request, and the cookie it carried.
    label(svg, r#"x="50" y="12""#, &[&step.request_line], None);
    match &step.cookie {
        Some(id) => {
            let (short, cut) = short_id(id);
            let text = ["Cookie: session=", short, cut];
            label(svg, r#"x="50" y="26""#, &text, Some(id));
        }
        None => label(svg, r#"x="50" y="26""#, &["no cookie"], None),
    }
    svg.push_str(concat!(
        r#"<line class="call" x1="36" y1="32" x2="290" y2="32" marker-end="url(#arrow)"/>"#,
        "\n"
    ));
    // The store: an arrow for what was done, none for nothing.
    match &step.store_id {
        Some(id) if !step.store_action.is_empty() => {
            let (short, cut) = short_id(id);
            let action = [step.store_action.as_str(), " ", short, cut];
            label(svg, r#"x="298" y="44""#, &action, Some(id));
            svg.push_str(concat!(
                r#"<line class="call" x1="290" y1="50" x2="460" y2="50" marker-end="url(#arrow)"/>"#,
                "\n"
            ));
        }
        _ => label(svg, r#"x="298" y="48""#, &["session untouched"], None),
    }
    // The answer, and its Set-Cookie.
    label(svg, r#"x="50" y="70""#, &[&step.status], None);
    match &step.set_cookie {
        Some(id) if id.is_empty() => label(
            svg,
            r#"x="50" y="84""#,
            &["Set-Cookie: session= (forget it)"],
            None,
        ),
        Some(id) => {
            let (short, cut) = short_id(id);
            let text = ["Set-Cookie: session=", short, cut];
            label(svg, r#"x="50" y="84""#, &text, Some(id));
        }
        None => {}
    }
    svg.push_str(concat!(
        r#"<line class="answer" x1="290" y1="90" x2="36" y2="90" marker-end="url(#arrow)"/>"#,
        "\n</g>\n"
    ));
}

/// A line of text at `position` (`x="50" y="12"`), from `parts`
/// (escaped, at most 28 characters of each), with `full_id` shown on
/// hover.
fn label(svg: &mut String, position: &str, parts: &[&str], full_id: Option<&str>) {
    svg.push_str("<text ");
    svg.push_str(position);
    svg.push('>');
    if let Some(id) = full_id.filter(|id| !id.is_empty()) {
        svg.push_str("<title>");
        push_escaped(svg, id);
        svg.push_str("</title>");
    }
    for part in parts {
        // 28 bytes or fewer are 28 characters or fewer: nothing to count.
        let cut_at = match part.len() > 28 {
            true => part.char_indices().nth(28).map(|(at, _)| at),
            false => None,
        };
        match cut_at {
            Some(at) => {
                push_escaped(svg, &part[..at]);
                svg.push('…');
            }
            None => push_escaped(svg, part),
        }
    }
    svg.push_str("</text>\n");
}

/// `("9c1e4f0a", "…")`: the first 8 characters of an id (or of anything
/// a client sent in its place), and `…` if that cut anything off.
fn short_id(id: &str) -> (&str, &str) {
    match id.char_indices().nth(8) {
        Some((at, _)) => (&id[..at], "…"),
        None => (id, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login() -> Step {
        Step {
            request_line: "POST /login HTTP/1.1".into(),
            cookie: None,
            store_action: "wrote".into(),
            store_id: Some("9c1e4f0a9c1e4f0a9c1e4f0a9c1e4f0a".into()),
            status: "303 See Other".into(),
            set_cookie: Some("9c1e4f0a9c1e4f0a9c1e4f0a9c1e4f0a".into()),
        }
    }

    fn svg(steps: &[Step], store_name: &str) -> String {
        let mut svg = String::new();
        push_svg(&mut svg, steps, store_name);
        svg
    }

    #[test]
    fn a_step_survives_its_line() {
        let step = login();
        assert_eq!(Step::from_line(&step.to_line()), Some(step));
        let logout = Step {
            set_cookie: Some(String::new()),
            store_action: "deleted".into(),
            ..login()
        };
        assert_eq!(Step::from_line(&logout.to_line()), Some(logout));
        assert_eq!(Step::from_line("not\ta step"), None);
    }

    #[test]
    fn control_characters_cannot_add_fields() {
        let step = Step {
            request_line: "GET /\tx HTTP/1.1".into(),
            ..login()
        };
        let back = Step::from_line(&step.to_line()).unwrap();
        assert_eq!(back.request_line, "GET / x HTTP/1.1");
    }

    #[test]
    fn the_picture_holds_the_short_id_the_whole_id_and_the_status() {
        let svg = svg(&[login()], "sessions/");
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.contains("Set-Cookie: session=9c1e4f0a…"), "{svg}");
        assert!(svg.contains("<title>9c1e4f0a9c1e4f0a9c1e4f0a9c1e4f0a</title>"));
        assert!(svg.contains("303 See Other"));
        assert!(svg.contains("wrote 9c1e4f0a…"));
        assert!(svg.contains("no cookie"));
    }

    #[test]
    fn what_a_client_sent_is_escaped() {
        let step = Step {
            request_line: "GET /<script> HTTP/1.1".into(),
            cookie: Some("<b>".into()),
            ..login()
        };
        let svg = svg(&[step], "sessions/");
        assert!(!svg.contains("<script>") && !svg.contains("<b>"), "{svg}");
    }
}
