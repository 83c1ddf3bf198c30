//! Seeded mutation testing: valid requests, cookies, form bodies and
//! session files, damaged in many small ways (flipped and inserted bytes,
//! truncations, huge and negative lengths, repeated headers, invalid UTF-8),
//! fed to the decoders in-process (hundreds of thousands of cases) and to a
//! live server over sockets (a few thousand). Nothing may panic or hang,
//! and every malformed request must be refused with a status or a close.
//!
//! The generator is seeded, so a failure names a case that can be replayed:
//! the assertion message prints the seed and the exact bytes. `cargo test`
//! runs a tenth of the cases; `HANDSTAMP_TEST_SIZE=full cargo test` (as
//! `.ci/run` does) runs them all, about a minute more.

#[path = "fuzz/checks.rs"]
mod checks;
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use handstamp::session;

/// SplitMix64: a tiny, fixed generator, so a seed means the same cases on
/// every machine and every version of every crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const VALID_REQUESTS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: localhost\r\nCookie: lang=en; session=0123456789abcdef0123456789abcdef\r\n\r\n",
    b"POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\nname=David",
    b"POST /cart HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nid=\r\n1\r\n2\r\n0\r\n\r\n",
    b"HEAD /static/style.css HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    b"GET /login HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"POST /login HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 8\r\n\r\nname=%41",
    b"GET /cart?x=1 HTTP/1.1\r\nHost: a\r\nCookie: session=ffffffffffffffffffffffffffffffff\r\nCookie: a=b\r\n\r\n",
];

/// Pieces that make parsers fail in interesting ways.
const NASTY: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b"\0",
    b"\xff\xfe",
    b"\xc3(",
    b"%",
    b"%zz",
    b"%00",
    b"%2e%2e%2f",
    b"..",
    b"/",
    b"\\",
    b":",
    b" ",
    b"\t",
    b";",
    b"=",
    b"\"",
    b",",
    b"Content-Length: 5\r\n",
    b"Content-Length: -1\r\n",
    b"Content-Length: 99999999999999999999999\r\n",
    b"Content-Length: 0x10\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: gzip, chunked\r\n",
    b"Cookie: session=../../etc/passwd\r\n",
    b"Host: other\r\n",
    b"Expect: 100-continue\r\n",
    b"ffffffffffffffff\r\n",
    b"0\r\n\r\n",
    b"HTTP/1.1",
    b"HTTP/9.9",
];

/// One random change to `bytes`.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    let at = rng.below(bytes.len() + 1);
    match rng.below(9) {
        0 if !bytes.is_empty() => {
            let i = rng.below(bytes.len());
            bytes[i] ^= 1 << rng.below(8);
        }
        1 => bytes.insert(at, rng.next() as u8),
        2 => bytes.truncate(at),
        3 if at < bytes.len() => {
            let end = (at + 1 + rng.below(16)).min(bytes.len());
            bytes.drain(at..end);
        }
        4 => {
            let piece = *rng.pick(NASTY);
            bytes.splice(at..at, piece.iter().copied());
        }
        5 if !bytes.is_empty() => {
            // Repeat a line: repeated headers, repeated request lines.
            let text = bytes.clone();
            let lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
            let line = *rng.pick(&lines);
            let times = 1 + rng.below(3);
            for _ in 0..times {
                bytes.splice(at..at, line.iter().copied());
            }
        }
        6 => {
            // Replace a digit run with a huge or negative number.
            if let Some(i) = bytes.iter().position(|b| b.is_ascii_digit()) {
                const NUMBERS: [&[u8]; 4] = [b"-7", b"18446744073709551616", b"65537", b"0"];
                let replacement = *rng.pick(&NUMBERS);
                bytes.splice(i..i + 1, replacement.iter().copied());
            }
        }
        7 => {
            // A long run of one byte: long lines, deep %-encoding.
            let byte = *rng.pick(b"a%2\r\n;= ");
            let count = rng.below(10_000);
            bytes.splice(at..at, std::iter::repeat_n(byte, count));
        }
        _ => {
            let i = rng.below(bytes.len().max(1));
            if i < bytes.len() {
                bytes[i] = b"\r\n :;=%\0\xff"[rng.below(9)];
            }
        }
    }
}

fn mutated(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        mutate(rng, &mut bytes);
    }
    bytes
}

#[test]
fn the_request_parser_refuses_or_accepts_every_mutant_without_panicking() {
    let mut rng = Rng(0x5eed_0001);
    let (mut accepted, mut refused) = (0, 0);
    let cases = common::test_size(150_000);
    for case in 0..cases {
        let bytes = mutated(&mut rng, VALID_REQUESTS[case % VALID_REQUESTS.len()]);
        match catch(case, &bytes, || checks::request_head(&bytes)) {
            checks::HeadOutcome::Accepted => accepted += 1,
            checks::HeadOutcome::Refused => refused += 1,
            checks::HeadOutcome::Incomplete => {}
        }
    }
    // Both answers are common: the mutants reach past the first check.
    assert!(
        accepted > cases / 150 && refused > cases / 15,
        "accepted {accepted}, refused {refused} of {cases}"
    );
}

/// Runs one case; a broken rule fails with the case number and the bytes.
fn catch<T>(case: usize, bytes: &[u8], check: impl FnOnce() -> T) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)) {
        Ok(outcome) => outcome,
        Err(_) => panic!("case {case} broke a rule (see above) with {bytes:?}"),
    }
}

/// 150,000 mutants of `seeds`, each through `check`.
fn run_mutants(generator_seed: u64, seeds: &[&[u8]], check: fn(&[u8])) {
    let mut rng = Rng(generator_seed);
    for case in 0..common::test_size(150_000) {
        let bytes = mutated(&mut rng, seeds[case % seeds.len()]);
        catch(case, &bytes, || check(&bytes));
    }
}

#[test]
fn the_cookie_parser_survives_every_mutant() {
    let seeds: &[&[u8]] = &[
        b"lang=en; session=0123456789abcdef0123456789abcdef; theme=\"dark\"",
        b"session=abc",
        b"  a=1 ;\tsession = x ;b",
    ];
    run_mutants(0x5eed_0002, seeds, checks::cookie_header);
}

#[test]
fn the_form_decoder_survives_every_mutant() {
    let seeds: &[&[u8]] = &[b"name=David+Ann&x=%C3%A9", b"id=3", b"a=1&&b=%26&c"];
    run_mutants(0x5eed_0003, seeds, checks::form_body);
}

#[test]
fn the_chunked_decoder_answers_the_same_however_the_bytes_arrive() {
    let seeds: &[&[u8]] = &[
        b"5\r\nname=\r\n5;ext=\"q\"\r\nDavid\r\n0\r\nX-T: 1\r\n\r\n",
        b"3\r\nid=\r\n1\r\n2\r\n0\r\n\r\n",
        b"a ; x = y\r\n0123456789\r\n0\r\n\r\n",
    ];
    run_mutants(0x5eed_0005, seeds, checks::chunked_body);
}

#[test]
fn the_session_file_decoder_survives_every_mutant_and_round_trips() {
    let seeds: &[&[u8]] = &[
        b"created=1795812495\nname=David\n",
        b"created=1\nname=a%3Db%25c%0A\ncart=1,2,2\n",
    ];
    run_mutants(0x5eed_0004, seeds, checks::session_file);
}

#[test]
fn any_value_survives_escaping() {
    let mut rng = Rng(0x5eed_0005);
    for case in 0..common::test_size(100_000) {
        let length = rng.below(40);
        let value: String = (0..length)
            .map(|_| char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('%'))
            .collect();
        let escaped = session::escape_value(&value);
        assert!(!escaped.contains(['\n', '\r', '=']), "case {case}");
        assert_eq!(
            session::unescape_value(&escaped).as_deref(),
            Ok(value.as_str())
        );
    }
}

#[test]
fn a_live_server_answers_every_mutant_with_a_status_or_a_close() {
    let server = common::TestServer::start_with(&["--quiet"]);
    const ALLOWED: &[u16] = &[
        200, 302, 303, 400, 404, 405, 408, 413, 414, 415, 417, 431, 501, 503, 505,
    ];
    std::thread::scope(|scope| {
        for worker in 0..4u64 {
            let server = &server;
            scope.spawn(move || {
                let mut rng = Rng(0x5eed_1000 + worker);
                for case in 0..common::test_size(750) {
                    let bytes = mutated(&mut rng, VALID_REQUESTS[case % VALID_REQUESTS.len()]);
                    let reply = send_and_read_all(server, &bytes);
                    // Every answer in the reply is a status we expect; a 500
                    // would mean a handler broke on what the client sent.
                    for status_line in reply.split("\r\n").filter(|l| l.starts_with("HTTP/1.1 ")) {
                        let status: u16 = status_line[9..12].parse().unwrap_or(0);
                        assert!(
                            status == 100 || ALLOWED.contains(&status),
                            "worker {worker} case {case}: {status_line}\nsent {bytes:?}"
                        );
                    }
                }
            });
        }
    });
    assert_eq!(
        server.get("/login", None).status(),
        200,
        "the server still serves"
    );
}

/// Sends the bytes, says it will send no more, and reads until the server
/// closes. A hang fails the test through the read timeout.
fn send_and_read_all(server: &common::TestServer, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // The server may refuse and close before taking everything: that is fine.
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut reply = Vec::new();
    match stream.read_to_end(&mut reply) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("no close within 20 s ({e}) after sending {bytes:?}"),
    }
    String::from_utf8_lossy(&reply).into_owned()
}
