//! Session ids: 128 random bits, and the one rule for finding a request's.
//!
//! ```text
//! Cookie: session=9c1e4f0a7b3d4e2f8a6c5b1d0e9f7a3c
//!                 └──── 32 lowercase hex digits ────┘
//! ```
//!
//! Nothing but an id of exactly that shape is ever used as a file name, so
//! a cookie like `session=../../etc/passwd` never reaches the disk.

/// 128 random bits as 32 lowercase hex digits: a session id, the
/// inspector's cookie, the sessions page's secret. From `rand::random`,
/// whose generator is seeded by the operating system, so nobody can guess
/// the next one from earlier ones.
pub fn random_token() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A session id the server issued, or one a client sent that has exactly
/// the shape of one. Made only by `new_random` or `parse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionId(String);

impl SessionId {
    /// A fresh id no client chose (`random_token`).
    pub fn new_random() -> SessionId {
        SessionId(random_token())
    }

    /// Accepts exactly 32 lowercase hex digits, nothing else. Whether such
    /// a session exists is a separate question (`SessionStore::load`).
    pub fn parse(text: &str) -> Option<SessionId> {
        let well_formed = text.len() == 32
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        well_formed.then(|| SessionId(text.to_string()))
    }

    /// The id among the values of a request's `session` cookies: the one
    /// well-formed id they carry, or why there is none. Values that are
    /// not ids are dropped here, before any file is touched.
    ///
    /// A browser sends two `session` cookies when a second one was set for
    /// a longer path or a parent domain (a sibling site can do that), and
    /// lists the planted one first. Picking either could write into a
    /// session this browser was never given, so two *different*
    /// well-formed ids count as none (NOTES.md, "Two session cookies");
    /// the same id twice is still that id.
    pub fn from_cookie_values(values: &[&str]) -> Result<SessionId, NoSession> {
        if values.is_empty() {
            return Err(NoSession::NoCookie);
        }
        // Values that are not ids (`../../etc/passwd`) drop out here.
        let mut ids = values.iter().copied().filter_map(SessionId::parse);
        let first = ids.next().ok_or(NoSession::MalformedId)?;
        // The same id twice is still that id; two ids are none.
        match ids.all(|other| other == first) {
            true => Ok(first),
            false => Err(NoSession::SeveralIds),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as logs show it: the first 8 hex digits, enough for
    /// `ls sessions/cfe58611*`, and an ellipsis.
    pub fn short(&self) -> String {
        format!("{}…", &self.0[..8])
    }
}

/// Why a request has no session. The log line says it, so a learner can
/// tell "never logged in" from "expired" from "the file is broken".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoSession {
    NoCookie,
    MalformedId,
    SeveralIds,
    NoFile,
    /// Redis has no `handstamp:session:ID`: logged out, or expired.
    NoKey,
    IdleTooLong,
    TooOld,
    Corrupt(&'static str),
    /// The file exists but could not be opened or read (out of file
    /// descriptors, an I/O error): not "no session", but a server fault
    /// that is answered 503 (app.rs).
    Unreadable(String),
    /// The session store (Redis) did not answer: as `Unreadable`, a 503.
    StoreDown(String),
}

impl NoSession {
    /// A few words for the log line: `no session: idle too long`.
    pub fn reason(&self) -> String {
        match self {
            NoSession::NoCookie => "no cookie".to_string(),
            NoSession::MalformedId => "malformed id".to_string(),
            NoSession::SeveralIds => "several session cookies".to_string(),
            NoSession::NoFile => "no such file".to_string(),
            NoSession::NoKey => "no such key".to_string(),
            NoSession::IdleTooLong => "idle too long".to_string(),
            NoSession::TooOld => "too old".to_string(),
            NoSession::Corrupt(problem) => format!("corrupt file ({problem})"),
            NoSession::Unreadable(error) => format!("unreadable file ({error})"),
            NoSession::StoreDown(error) => format!("store unavailable ({error})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookies_of_a_request_name_one_id_or_none() {
        let id = "0123456789abcdef0123456789abcdef";
        let other = "fedcba9876543210fedcba9876543210";
        let found = |values: &[&str]| SessionId::from_cookie_values(values);
        assert_eq!(found(&[id]).unwrap().as_str(), id);
        assert_eq!(found(&[id, id]).unwrap().as_str(), id);
        assert_eq!(found(&["junk", id]).unwrap().as_str(), id);
        assert_eq!(found(&[]).unwrap_err(), NoSession::NoCookie);
        assert_eq!(found(&["junk"]).unwrap_err(), NoSession::MalformedId);
        assert_eq!(
            found(&["../../etc/passwd"]).unwrap_err(),
            NoSession::MalformedId
        );
        assert_eq!(
            found(&[&id.to_uppercase()]).unwrap_err(),
            NoSession::MalformedId
        );
        assert!(matches!(found(&[other, id]), Err(NoSession::SeveralIds)));
    }

    #[test]
    fn ids_are_32_lowercase_hex_digits_and_differ() {
        let a = SessionId::new_random();
        let b = SessionId::new_random();
        assert_eq!(a.as_str().len(), 32);
        assert!(SessionId::parse(a.as_str()).is_some());
        assert_ne!(a, b);
    }

    #[test]
    fn only_well_formed_ids_parse() {
        assert!(SessionId::parse("0123456789abcdef0123456789abcdef").is_some());
        for bad in [
            "",
            "0123456789ABCDEF0123456789abcdef",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "../../etc/passwd",
            "0123456789abcdef0123456789abcde/",
        ] {
            assert!(SessionId::parse(bad).is_none(), "{bad}");
        }
    }
}
