//! Session files as `cat` and `ls -l` show them: the panel's part on the
//! file a page was made from (its text, its `ls -ln` line, or why there
//! is none; with Redis, the commands sent), and the sessions page's list
//! of the folder (or Redis), at most `MAX_LISTED_SESSIONS` of them, the
//! viewer's own marked.

use std::time::{Duration, SystemTime};

use super::heads::push_visible;
use crate::flask_session::SessionReport;
use crate::response;
use crate::session::{FileFacts, SessionId, SessionStore, unix_secs};
use crate::template::{escape_html, push_escaped, push_number};

/// Appends the Redis commands an answer sent, each with its reply, as
/// `redis-cli` would print them.
pub fn push_store_commands(html: &mut String, report: &SessionReport, sessions: &SessionStore) {
    let store = sessions
        .redis()
        .map(|redis| redis.name())
        .unwrap_or_default();
    html.push_str("<p>What the server asked Redis (<code>");
    push_escaped(html, &store);
    html.push_str(
        "</code>) for this answer, and its replies \
         (<code>redis-cli MONITOR</code> shows the commands too):</p>\n<pre class=\"file\">",
    );
    for exchange in &report.store_commands {
        html.push_str("&gt; ");
        push_visible(html, &exchange.command);
        html.push_str("\n&lt; ");
        push_visible(html, &exchange.reply);
        html.push('\n');
    }
    html.push_str("</pre>\n");
}

/// Appends `sessions/ID` and its text, or why there is none.
pub fn push_file(html: &mut String, id: &SessionId, sessions: &SessionStore) {
    let place = sessions.place_of(id);
    match sessions.text(id) {
        Ok(Some(text)) => push_file_text(html, &sessions.show_command(id), &text),
        Ok(None) => {
            html.push_str("<p>There is no file <code>");
            push_escaped(html, &place);
            html.push_str(
                "</code>: the session expired, was logged out, or the id was made up. \
                 It counts as no session.</p>\n",
            );
        }
        Err(error) => {
            html.push_str("<p>The file <code>");
            push_escaped(html, &place);
            html.push_str("</code> could not be read: ");
            push_escaped(html, &error);
            html.push_str(".</p>\n");
        }
    }
}

/// Appends `$ cat sessions/ID` and the text it prints.
pub fn push_file_text(html: &mut String, show_command: &str, text: &str) {
    html.push_str("<p><code>$ ");
    push_escaped(html, show_command);
    html.push_str("</code></p>\n<pre class=\"file\">");
    push_escaped(html, text);
    html.push_str("</pre>\n");
}

/// Appends `$ ls -ln …` and the line it prints for the file the page was
/// made from: its mode, size and the time that is the idle timeout's
/// clock.
pub fn push_ls(html: &mut String, facts: &FileFacts, place: &str) {
    html.push_str("<p><code>$ ");
    push_ls_command(html, place);
    html.push_str("</code></p>\n<pre class=\"file\">");
    push_ls_line(html, facts, place);
    html.push_str("</pre>\n");
}

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
        // The file's own mode, as `ls -l` shows it; a Redis key has none.
        let mut mode = String::new();
        match file.mode {
            Some(bits) => push_mode(&mut mode, bits),
            None => mode.push_str("(key)"),
        }
        html.push_str(&format!(
            "<tr><td><code>{mode}</code></td><td>{}</td><td><code>{}</code>{yours}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
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

/// Appends, as HTML, the command that prints `push_ls_line`'s line, for
/// a learner to type: numeric owners (no user database to read), and the
/// time in UTC to the second, as the panel's other times are.
fn push_ls_command(html: &mut String, place: &str) {
    push_escaped(html, "TZ=UTC ls -ln --time-style=+'%F %T' ");
    push_escaped(html, place);
}

/// `-rw-------`, as `ls -l` shows a mode: the type (`d` or `-`), then the
/// nine permission bits for owner, group and others.
fn push_mode(out: &mut String, mode: u32) {
    out.push(if mode & 0o170000 == 0o040000 {
        'd'
    } else {
        '-'
    });
    for (bit, letter) in [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ] {
        out.push(if mode & bit != 0 { letter } else { '-' });
    }
}

/// Appends, as HTML, `-rw------- 1 1000 1000 43 2026-12-03 10:31:05
/// sessions/9c1e…`: what `push_ls_command`'s command prints for one file.
/// Written piece by piece: it is on every page, and `format!` would cost
/// more than the rest of the line. Only `place` can hold a character
/// HTML needs escaped.
fn push_ls_line(line: &mut String, facts: &FileFacts, place: &str) {
    push_mode(line, facts.mode);
    for number in [facts.links, facts.uid.into(), facts.gid.into(), facts.size] {
        line.push(' ');
        push_number(line, number);
    }
    // `%F %T` in UTC: 2026-12-03 10:31:05.
    let secs = facts
        .modified
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let (year, month, day) = response::civil_from_days((secs / 86_400) as i64);
    let in_day = secs % 86_400;
    line.push(' ');
    push_number(line, year.max(0) as u64);
    for (separator, value) in [
        ('-', u64::from(month)),
        ('-', u64::from(day)),
        (' ', in_day / 3600),
        (':', in_day / 60 % 60),
        (':', in_day % 60),
    ] {
        line.push(separator);
        if value < 10 {
            line.push('0');
        }
        push_number(line, value);
    }
    line.push(' ');
    push_escaped(line, place);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ls_line_is_what_ls_ln_prints_for_one_file() {
        let facts = FileFacts {
            mode: 0o100600,
            links: 1,
            uid: 1000,
            gid: 1000,
            size: 43,
            modified: SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_297_465),
        };
        let mut line = String::new();
        push_ls_line(&mut line, &facts, "sessions/<9c1e>");
        assert_eq!(
            line,
            "-rw------- 1 1000 1000 43 2026-12-03 11:31:05 sessions/&lt;9c1e&gt;"
        );
    }
}
