//! The sessions page's list: the folder (or Redis) as `ls -l` and `cat`
//! show it, at most `MAX_LISTED_SESSIONS` of them, the viewer's own marked.

use std::time::{Duration, SystemTime};

use crate::response;
use crate::session::{SessionId, SessionStore, unix_secs};
use crate::template::escape_html;

/// The sessions page shows at most this many files (a folder may hold
/// 100,000).
const MAX_LISTED_SESSIONS: usize = 200;

/// The sessions page's list: each file as `ls -l` and `cat` show it, the
/// viewer's own (the id their cookie carries) marked.
pub fn sessions_listing_html(
    sessions: &SessionStore,
    viewer: Option<&SessionId>,
) -> Result<String, String> {
    let (total, files) = sessions.list(MAX_LISTED_SESSIONS)?;
    let list_command = escape_html(&sessions.list_command());
    let now = unix_secs(SystemTime::now());
    if files.is_empty() {
        return Ok(format!(
            "<p><code>$ {list_command}</code> shows no sessions: nobody has stored anything.</p>\n"
        ));
    }
    // Files in a folder, keys in Redis.
    let (noun, lister) = match sessions.redis() {
        None => (
            "file",
            "those this server used last, then the first the folder lists",
        ),
        Some(_) => ("key", "the first that SCAN finds"),
    };
    let shown = match total > files.len() {
        true => format!(" ({} are shown: {lister})", files.len()),
        false => String::new(),
    };
    let mut html = format!(
        "<p><code>$ {list_command}</code>: {total} {noun}{}{shown}.</p>\n<div class=\"table-scroll\"><table class=\"sessions\">\n\
         <tr><th>mode</th><th>bytes</th><th>file</th><th>created</th><th>last used</th><th>expires</th></tr>\n",
        if total == 1 { "" } else { "s" }
    );
    for file in &files {
        let yours = match viewer == Some(&file.id) {
            true => " <mark>yours</mark>",
            false => "",
        };
        html.push_str(&format!(
            "<tr><td><code>-rw-------</code></td><td>{}</td><td><code>{}</code>{yours}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            file.size,
            file.id.as_str(),
            file.created_secs.map_or("(corrupt file)".to_string(), |secs| ago(now, secs)),
            ago(now, file.last_used_secs),
            from_now(now, file.expires_secs),
        ));
    }
    html.push_str("</table></div>\n");
    for file in &files {
        html.push_str(&format!(
            "<p><code>$ {}</code></p>\n<pre class=\"file\">{}</pre>\n",
            escape_html(&sessions.show_command(&file.id)),
            escape_html(&file.text)
        ));
    }
    Ok(html)
}

fn ago(now: u64, secs: u64) -> String {
    format!(
        "{} s ago ({})",
        now.saturating_sub(secs),
        response::http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
    )
}

fn from_now(now: u64, secs: u64) -> String {
    format!("in {} s", secs.saturating_sub(now))
}
