//! The smallest cookie server: read this before the full handstamp.
//!
//! ```text
//! cargo run --example visit_counter                  # http://127.0.0.1:8081
//! curl -v -c jar -b jar http://127.0.0.1:8081/       # run it twice
//! ```
//!
//! The whole "memory" lives in the cookie itself: the server sends
//! `Set-Cookie: visits=1`, the browser sends `Cookie: visits=1` back, and
//! the server answers `Set-Cookie: visits=2`. No files, no ids. Which is
//! also its weakness: the visitor can send `Cookie: visits=1000` and the
//! server believes it. handstamp therefore keeps only a random id in the
//! cookie and the facts in a file on the server.
//!
//! One connection at a time, one request per connection, no limits: a toy,
//! on purpose. Do not point it at the internet.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8081".to_string());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on http://{}", listener.local_addr()?);
    for stream in listener.incoming() {
        // A broken connection is that client's problem, not the server's.
        if let Err(error) = answer(stream?) {
            eprintln!("connection failed: {error}");
        }
    }
    Ok(())
}

fn answer(mut stream: TcpStream) -> std::io::Result<()> {
    // Read until the blank line that ends the request head (at most 8 KiB).
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        if stream.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);

    // Find `visits=N` in the Cookie header, if the browser sent one.
    let visits_before: u64 = head
        .lines()
        .filter(|line| line.to_ascii_lowercase().starts_with("cookie:"))
        .flat_map(|line| line["cookie:".len()..].split(';'))
        .filter_map(|pair| pair.trim().strip_prefix("visits="))
        .find_map(|count| count.parse().ok())
        .unwrap_or(0);
    let visits = visits_before.saturating_add(1);

    let body =
        format!("<!DOCTYPE html><title>Visits</title><p>This is visit number {visits}.</p>\n");
    let response = format!(
        "HTTP/1.1 200 OK\r\n\
         Content-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\n\
         Set-Cookie: visits={visits}; Path=/; HttpOnly; SameSite=Lax\r\n\
         Connection: close\r\n\
         \r\n\
         {body}",
        body.len()
    );
    stream.write_all(response.as_bytes())
}
