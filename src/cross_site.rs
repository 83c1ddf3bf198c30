//! Cross-site requests: another site's page must not change a session.
//!
//! Any page on the web can make a visitor's browser send a request here:
//! a form that submits itself to `/login`, a link to `/logout`. The
//! browser attaches what it has for this server, so the request looks like
//! the visitor's own. `SameSite=Lax` on the cookie (cookie.rs) keeps the
//! cookie off such POSTs, but that is not enough:
//!
//! - a forged `POST /login` needs no cookie: it logs the visitor in as
//!   whoever the attacker chose (login CSRF);
//! - a forged `POST /cart` arrives without the cookie, so the server would
//!   start a new session, and its `Set-Cookie` replaces the visitor's;
//! - a link to `/logout` is a top-level GET navigation, which Lax allows
//!   the cookie on: the visitor is logged out.
//!
//! Browsers say where a request comes from. On every request, Fetch
//! Metadata's `Sec-Fetch-Site` is `same-origin` (a page of this server),
//! `none` (typed in the address bar, a bookmark), `same-site` (another
//! port or subdomain of the same site) or `cross-site`. But a browser sends
//! it only to a "trustworthy" origin (https, `localhost`, `127.0.0.1`):
//! to `http://class.example` Chromium sends none, and no `Origin` on a
//! link either. `Origin` comes with a POST: `Origin: http://127.0.0.1:8080`,
//! to compare with `Host`. Left is `Referer`, the page the link was on
//! (browsers send at least its origin). So a request that would change a
//! session is refused, `403`, when
//!
//! ```text
//! Sec-Fetch-Site: cross-site   or  same-site       → refused
//! Sec-Fetch-Site: same-origin  or  none            → allowed
//! no Sec-Fetch-Site, Origin: http://other.example  → refused (≠ Host)
//! neither, Referer: http://other.example/page      → refused (≠ Host)
//! none of the three (curl, a typed URL, a bookmark) → allowed
//! ```
//!
//! One more thing another site can do: a sibling (`evil.class.example`
//! beside `www.class.example`) may set a second `session` cookie for the
//! whole domain. flask_session.rs refuses a change then, `400`.
//!
//! Go's `net/http` `CrossOriginProtection` and the OWASP CSRF cheat sheet
//! describe the same rule (OWASP lists `Referer` as the fallback). It
//! lets every non-browser client through: it protects a visitor's browser
//! from other sites, not the server from clients. router.rs applies it to `POST /login`, `POST /cart` and
//! `/logout`; reading pages is never refused.

use crate::request::Request;
use crate::response::Response;

/// `None` when the request may go on; otherwise the `403` that refuses it.
pub fn refusal(request: &Request) -> Option<Response> {
    // `None`: this site's own page, or no browser at all (curl).
    let problem = cross_site_problem(request);
    let problem = problem?;
    let reason = format!(
        "This request was started by another site's page ({problem}), so it may not \
         log you in, log you out or change your cart. Nothing was changed; use this \
         site's own pages."
    );
    Some(Response::error(403, &reason))
}

/// What marks the request as coming from another origin, if anything.
pub fn cross_site_problem(request: &Request) -> Option<String> {
    // A browser that sends Fetch Metadata says it outright; believe it.
    if let Some(site) = request.header("sec-fetch-site") {
        return match site.to_ascii_lowercase().as_str() {
            "same-origin" | "none" => None,
            _ => Some(format!("Sec-Fetch-Site: {site}")),
        };
    }
    // Else the page the request came from: `Origin` on a POST, else the
    // `Referer` of a link. Either must name this very host and port.
    let host = request.header("host").unwrap_or_default();
    let (name, sent) = match (request.header("origin"), request.header("referer")) {
        (Some(origin), _) => ("Origin", origin),
        (None, Some(referer)) => ("Referer", referer),
        (None, None) => return None, // curl, a script, a typed URL
    };
    match host_of(sent) {
        Some(sent_host) if sent_host.eq_ignore_ascii_case(host) => None,
        _ => Some(format!("{name}: {sent}, but Host: {host}")),
    }
}

/// The `host:port` of `http://host:port/path?query`, or `None` for
/// anything that is not an http or https URL (`null`, `about:blank`).
fn host_of(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::parse_head;

    fn problem(headers: &str) -> Option<String> {
        let head = format!("POST /login HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n{headers}\r\n");
        cross_site_problem(&parse_head(head.as_bytes()).unwrap())
    }

    #[test]
    fn fetch_metadata_decides_when_it_is_sent() {
        assert_eq!(problem("Sec-Fetch-Site: same-origin\r\n"), None);
        assert_eq!(problem("Sec-Fetch-Site: none\r\n"), None);
        assert!(problem("Sec-Fetch-Site: same-site\r\n").is_some());
        assert!(problem("Sec-Fetch-Site: cross-site\r\n").is_some());
        // Fetch Metadata wins over a matching Origin.
        assert!(
            problem("Sec-Fetch-Site: cross-site\r\nOrigin: http://127.0.0.1:8080\r\n").is_some()
        );
    }

    #[test]
    fn without_fetch_metadata_origin_must_match_host() {
        assert_eq!(problem("Origin: http://127.0.0.1:8080\r\n"), None);
        assert!(problem("Origin: http://127.0.0.1:9090\r\n").is_some());
        assert!(problem("Origin: http://evil.example\r\n").is_some());
        assert!(problem("Origin: null\r\n").is_some());
        assert_eq!(problem(""), None, "curl and scripts send neither");
    }

    #[test]
    fn without_origin_the_referer_must_name_this_host() {
        assert_eq!(problem("Referer: http://127.0.0.1:8080/\r\n"), None);
        assert_eq!(problem("Referer: http://127.0.0.1:8080/cart?x=1\r\n"), None);
        assert!(problem("Referer: http://evil.example/page\r\n").is_some());
        assert!(problem("Referer: http://127.0.0.1:8080.evil.example/\r\n").is_some());
        assert!(problem("Referer: http://127.0.0.1:9090/\r\n").is_some());
        assert!(problem("Referer: about:client\r\n").is_some());
        // Origin, when sent, decides.
        assert!(
            problem("Origin: http://evil.example\r\nReferer: http://127.0.0.1:8080/\r\n").is_some()
        );
    }
}
