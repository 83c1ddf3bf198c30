//! A browser's side of the login round trip, over a bare TcpStream.
//!
//! Start handstamp in one terminal (`cargo run --release`), then run
//!
//! ```text
//! cargo run --example login_client              # talks to 127.0.0.1:8080
//! cargo run --example login_client -- 127.0.0.1:41873
//! ```
//!
//! It does what a browser does when you log in and out, printing every
//! head it sends (`>`) and receives (`<`): no HTTP library, just bytes.
//! Watch the `Set-Cookie` header come back from the login, and the
//! `Cookie` header this client then sends on every request, as a browser
//! would. It exits with status 1 if the server does not answer as the
//! Flask example says it should.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

fn main() -> ExitCode {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    match log_in_and_out(&addr) {
        Ok(()) => {
            println!(
                "\nThe round trip worked: the cookie from the login was the key to the next pages."
            );
            ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("login_client: {problem}");
            ExitCode::FAILURE
        }
    }
}

fn log_in_and_out(addr: &str) -> Result<(), String> {
    let mut stream = TcpStream::connect(addr)
        .map_err(|e| format!("cannot connect to {addr}: {e} (is handstamp running?)"))?;

    println!("1. The first visit carries no cookie; the server sends us to /login.");
    let reply = exchange(&mut stream, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
    expect(&reply, "302", "Location: /login")?;

    println!("2. The login form posts name=David; the answer sets the session cookie.");
    let login = "POST /login HTTP/1.1\r\nHost: localhost\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\n\
                 Content-Length: 10\r\n\r\nname=David";
    let reply = exchange(&mut stream, login)?;
    expect(&reply, "303", "Location: /")?;
    let cookie = session_cookie(&reply.head).ok_or("the login set no session cookie")?;

    println!("3. Every later request carries the cookie back: the server knows us.");
    let home = format!("GET / HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\n\r\n");
    let reply = exchange(&mut stream, &home)?;
    expect(&reply, "200", "")?;
    if !reply.body.contains("You are logged in as David.") {
        return Err("the home page does not greet David".to_string());
    }
    println!("   The page says: You are logged in as David.");

    println!("4. Logging out deletes the session and tells us to forget the cookie.");
    let logout = format!("GET /logout HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\n\r\n");
    let reply = exchange(&mut stream, &logout)?;
    expect(&reply, "302", "Max-Age=0")?;

    println!("5. Even if we send the old cookie again, it opens nothing now.");
    let reply = exchange(&mut stream, &home)?;
    expect(&reply, "302", "Location: /login")
}

struct Reply {
    head: String,
    body: String,
}

/// Sends one request and reads one reply, printing both heads.
fn exchange(stream: &mut TcpStream, request: &str) -> Result<Reply, String> {
    print_head('>', request);
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("sending failed: {e}"))?;

    // Read until the empty line that ends the head...
    let mut received = Vec::new();
    let head_end = loop {
        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the server closed the connection".to_string());
        }
        received.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
    print_head('<', &head);

    // ...then exactly Content-Length more bytes of body.
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("Content-Length: "))
        .and_then(|n| n.trim().parse().ok())
        .ok_or("the reply has no Content-Length")?;
    while received.len() < head_end + length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the server closed the connection mid-body".to_string());
        }
        received.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&received[head_end..head_end + length]).into_owned();
    Ok(Reply { head, body })
}

fn print_head(direction: char, text: &str) {
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    for line in head.split("\r\n") {
        println!("   {direction} {line}");
    }
    println!("   {direction}");
}

/// `Set-Cookie: session=9c1e…; Path=/; …` → `session=9c1e…`, the part a
/// browser sends back.
fn session_cookie(head: &str) -> Option<String> {
    head.lines()
        .filter_map(|line| line.strip_prefix("Set-Cookie: "))
        .map(|value| value.split(';').next().unwrap_or_default().to_string())
        .find(|pair| pair.starts_with("session=") && pair.len() > "session=".len())
}

fn expect(reply: &Reply, status: &str, header_text: &str) -> Result<(), String> {
    let status_line = reply.head.lines().next().unwrap_or_default();
    if !status_line.starts_with(&format!("HTTP/1.1 {status} ")) {
        return Err(format!("expected {status}, got '{status_line}'"));
    }
    if !reply.head.contains(header_text) {
        return Err(format!("expected '{header_text}' in the reply head"));
    }
    Ok(())
}
