//! Static files: `/static/style.css` is the file `www/static/style.css`.
//!
//! ```text
//! GET /static/style.css HTTP/1.1        →  HTTP/1.1 200 OK
//!                                          Content-Type: text/css; charset=utf-8
//! ```
//!
//! Mapping a URL to a file is the classic way to leak a server's files:
//! `/static/../../etc/passwd`, the same with `%2e%2e%2f`, a backslash, a
//! NUL byte, or a symlink inside the folder that points out of it. The path
//! arrives here already percent-decoded (request.rs), so each segment is
//! checked as the file system will see it; then the real location of the
//! file, with symlinks resolved, must still be inside `www/static`.

use std::path::{Path, PathBuf};

use crate::response::Response;

/// Answers `GET /static/...` from `static_dir` (already canonical).
pub fn serve(url_path: &str, static_dir: &Path) -> Response {
    let relative = url_path.strip_prefix("/static/").unwrap_or_default();
    let not_found = || Response::error(404, &format!("There is no file at {url_path}."));
    let path = match file_path(relative, static_dir) {
        Ok(path) => path,
        Err(reason) => return Response::error(400, reason),
    };
    // canonicalize resolves every symlink and `..`; a file that resolves to
    // somewhere outside the folder does not exist as far as we are concerned.
    let Ok(real_path) = path.canonicalize() else {
        return not_found();
    };
    if !real_path.starts_with(static_dir) || !real_path.is_file() {
        return not_found();
    }
    match std::fs::read(&real_path) {
        Ok(bytes) => Response::file(content_type(&real_path), bytes),
        Err(_) => not_found(),
    }
}

/// Joins the URL's segments under the folder, refusing any segment that
/// could step outside it or that a file system would read differently.
fn file_path(relative: &str, static_dir: &Path) -> Result<PathBuf, &'static str> {
    let mut path = static_dir.to_path_buf();
    for segment in relative.split('/') {
        if segment.is_empty() || segment.starts_with('.') {
            return Err("A static file path may not have empty segments or start one with '.'.");
        }
        if segment.contains(['\\', '\0', ':']) || segment.chars().any(char::is_control) {
            return Err("A static file path may not contain backslashes, colons or control bytes.");
        }
        path.push(segment);
    }
    Ok(path)
}

/// The `Content-Type` for a file, from its extension.
fn content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match extension.as_str() {
        "css" => "text/css; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}
