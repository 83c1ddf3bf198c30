//! Cookies: how a browser proves it has been here before.
//!
//! After login the server answers with
//! `Set-Cookie: session=9c1e…; Path=/; HttpOnly; SameSite=Lax`, and the
//! browser repeats `Cookie: session=9c1e…` on each later request, perhaps
//! among other pairs (`Cookie: lang=en; session=9c1e…`). This file reads and
//! writes those two headers. What a session holds is session.rs's business.
//! Rules: RFC 6265 §4.1 (Set-Cookie) and §4.2 (Cookie).
//!
//! The attributes on `Set-Cookie` are instructions to the browser:
//! - `Path=/`: send it back for every path on this server, not only `/login`.
//! - `HttpOnly`: page scripts cannot read it, so injected script cannot steal it.
//! - `SameSite=Lax`: the browser leaves it off requests that other sites'
//!   pages start, except a top-level navigation by GET (a link, a
//!   redirect). That alone does not stop forged requests: cross_site.rs
//!   says what does.
//! - no `Expires` or `Max-Age`: a "session cookie", forgotten when the browser
//!   closes, like Flask's `SESSION_PERMANENT = False`.
//! - `Max-Age=0` (at logout): forget this cookie now.

/// The cookie that carries the session id.
pub const SESSION_COOKIE: &str = "session";

/// Every `name=value` pair in these `Cookie` header values, in order. A
/// browser may send several `Cookie` headers, and the same name twice
/// (cookies set for different paths or domains).
///
/// `lang=en;  session=9c1e ; theme="dark"` has the pairs `lang`/`en`,
/// `session`/`9c1e` and `theme`/`dark`.
pub fn pairs<'a>(headers: impl Iterator<Item = &'a str>) -> Vec<(&'a str, &'a str)> {
    let mut pairs = Vec::new();
    for header in headers {
        for pair in header.split(';') {
            let Some((name, value)) = pair.split_once('=') else {
                continue; // a pair without '=' names no cookie
            };
            let name = name.trim_matches([' ', '\t']);
            if name.is_empty() {
                continue;
            }
            let value = value.trim_matches([' ', '\t']);
            // RFC 6265 allows a value in double quotes; the quotes are not
            // part of it.
            let value = value
                .strip_prefix('"')
                .and_then(|inner| inner.strip_suffix('"'))
                .unwrap_or(value);
            pairs.push((name, value));
        }
    }
    pairs
}

/// Every value of the cookie `name` in these `Cookie` header values, in
/// order; the caller decides what several of them mean.
pub fn values_named<'a>(headers: impl Iterator<Item = &'a str>, name: &str) -> Vec<&'a str> {
    values_in(&pairs(headers), name)
}

/// Every value of the cookie `name` among `pairs` already read, in
/// order: for a caller that wants more than one name from one reading.
pub fn values_in<'a>(pairs: &[(&'a str, &'a str)], name: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(pair_name, _)| *pair_name == name)
        .map(|(_, value)| *value)
        .collect()
}

/// The header that gives the browser its hand stamp.
pub fn set_session_cookie(id: &str) -> String {
    format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax")
}

/// The header that makes the browser forget the session cookie at once.
pub fn expire_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_session_among_other_cookies_and_headers() {
        let headers = [
            "lang=en;session=abc",
            "  theme=\"dark\" ;\tsession = \"def\" ",
        ];
        assert_eq!(values_named(headers.into_iter(), "session"), ["abc", "def"]);
        assert_eq!(values_named(headers.into_iter(), "theme"), ["dark"]);
    }

    #[test]
    fn pairs_come_out_in_order_from_every_header() {
        let headers = ["a=1;b=2", " c = \"3\" ;;=4; d"];
        assert_eq!(
            pairs(headers.into_iter()),
            [("a", "1"), ("b", "2"), ("c", "3")]
        );
    }

    #[test]
    fn ignores_pairs_without_a_value_and_similar_names() {
        let headers = ["sessionx=1; xsession=2; session; =3"];
        assert!(values_named(headers.into_iter(), "session").is_empty());
    }
}
