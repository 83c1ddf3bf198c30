//! Talking to Redis by hand: RESP2, the protocol of `redis-cli`.
//!
//! With `--sessions redis://127.0.0.1:6379` the sessions live in a Redis
//! server instead of a folder. Asking Redis for a session is one command
//! and one reply over a TCP connection, and like HTTP the bytes are plain
//! to read. The command is an array (`*2`) of bulk strings, each with its
//! length (`$3`), every line ending in CRLF:
//!
//! ```text
//! *2\r\n$3\r\nGET\r\n$50\r\nhandstamp:session:9c1e4f0a…\r\n     handstamp → Redis
//! $52\r\ncreated=1795293085\nfrom=127.0.0.1\nname=David\ncart=2\n\r\n   Redis → handstamp
//! ```
//!
//! The reply's first byte says what it is: `+OK` a short status, `-ERR …`
//! an error, `:1` a number, `$52` a string of 52 bytes (`$-1`: none, the
//! key does not exist), `*3` an array of three replies. Because a string
//! says its length first, the session's newlines need no escaping.
//!
//! RESP has no request numbers: the first reply read belongs to the first
//! command sent. So a connection on which anything went wrong (a timeout,
//! a reply cut short, bytes that do not parse) is dropped, never used
//! again: its late reply would otherwise be read as the answer to the next
//! command and hand one visitor's session to another (redis-rs#1252 is
//! that bug). Every command gets a fresh start on a good connection.
//!
//! This file is the protocol: a command's bytes (`encode_command`) and a
//! reply's (`read_reply`). `Redis`, one folder down in
//! redis/connection.rs, sends them: connecting, the password, a deadline
//! for each reply, and the connections kept between requests.

use std::io::{BufRead, ErrorKind, Read};

mod connection;

pub use connection::{Exchange, Redis, take_transcript};

/// A reply's string larger than this is refused: sessions are at most
/// 64 KiB, so something far larger is not a session.
const MAX_BULK_BYTES: usize = 1 << 20;
/// Arrays inside arrays, at most this deep (SCAN's reply is two).
const MAX_DEPTH: usize = 4;
/// The password comes from this environment variable, never from a flag:
/// flags show in `ps` for every user of the machine.
pub const PASSWORD_VARIABLE: &str = "HANDSTAMP_REDIS_PASSWORD";

/// One reply, as RESP2 types it by its first byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`
    Status(String),
    /// `-ERR unknown command`: the command was wrong, the connection is fine.
    Error(String),
    /// `:1`
    Integer(i64),
    /// `$5 hello`, or `$-1`: no such key.
    Bulk(Option<Vec<u8>>),
    /// `*2 …`, or `*-1`.
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The string of a `$` reply, if it is one and not null.
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Bulk(Some(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
            Reply::Status(status) => Some(status.clone()),
            _ => None,
        }
    }

    /// The number of a `:` reply.
    pub fn integer(&self) -> Option<i64> {
        match self {
            Reply::Integer(number) => Some(*number),
            _ => None,
        }
    }

    /// The reply as `redis-cli` would print it, on one line, for the panel.
    pub fn shown(&self) -> String {
        match self {
            Reply::Status(status) => status.clone(),
            Reply::Error(error) => format!("(error) {error}"),
            Reply::Integer(number) => format!("(integer) {number}"),
            Reply::Bulk(None) | Reply::Array(None) => "(nil)".to_string(),
            Reply::Bulk(Some(bytes)) => format!("{:?}", String::from_utf8_lossy(bytes)),
            Reply::Array(Some(items)) => {
                let items: Vec<String> = items.iter().map(Reply::shown).collect();
                format!("[{}]", items.join(", "))
            }
        }
    }
}

/// Why Redis gave no usable answer. Each names the store, so a page or a
/// log line says which server did not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RedisError {
    #[error("session store redis://{address}: {problem}")]
    Unavailable { address: String, problem: String },
    #[error("session store redis://{address} answered: {error}")]
    Refused { address: String, error: String },
}

/// `redis://HOST:PORT` or `redis://HOST:PORT/DB`, from `--sessions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisAddress {
    /// `127.0.0.1:6379`, as given.
    pub host_port: String,
    pub database: u32,
}

impl RedisAddress {
    /// `None` when `text` is not a `redis://` address at all (a folder);
    /// `Some(Err)` when it is one, but malformed.
    pub fn parse(text: &str) -> Option<Result<RedisAddress, String>> {
        let rest = text.strip_prefix("redis://")?;
        let (host_port, database) = match rest.split_once('/') {
            Some((host_port, "")) => (host_port, 0),
            Some((host_port, db)) => match db.parse::<u32>() {
                Ok(db) => (host_port, db),
                Err(_) => return Some(Err(format!("'{db}' is not a database number"))),
            },
            None => (rest, 0),
        };
        if host_port.contains('@') {
            return Some(Err(format!(
                "no password in the address, please: it would show in `ps`; \
                 put it in the environment variable {PASSWORD_VARIABLE}"
            )));
        }
        let Some((host, port)) = host_port.rsplit_once(':') else {
            return Some(Err(format!(
                "'{host_port}' has no port (redis://HOST:PORT)"
            )));
        };
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Some(Err(format!("'{host_port}' is not HOST:PORT")));
        }
        Some(Ok(RedisAddress {
            host_port: host_port.to_string(),
            database,
        }))
    }
}

/// Encodes one command: `["GET", "k"]` → `*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`.
pub fn encode_command(args: &[&[u8]]) -> Vec<u8> {
    let mut bytes = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        bytes.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        bytes.extend_from_slice(arg);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes
}

/// Reads exactly one reply. TCP may cut a reply anywhere or join two, so
/// this reads a line up to its CRLF, then exactly the bytes a `$` line
/// announces, never "whatever has arrived". An error means the
/// connection's place in the conversation is lost: drop it.
pub fn read_reply(reader: &mut impl BufRead) -> std::io::Result<Reply> {
    read_reply_at_depth(reader, 0)
}

fn read_reply_at_depth(reader: &mut impl BufRead, depth: usize) -> std::io::Result<Reply> {
    let line = read_line(reader)?;
    let (kind, rest) = line.split_at(1.min(line.len()));
    match kind {
        "+" => Ok(Reply::Status(rest.to_string())),
        "-" => Ok(Reply::Error(rest.to_string())),
        ":" => Ok(Reply::Integer(parse_number(rest)?)),
        "$" => {
            let Some(length) = parse_length(rest, MAX_BULK_BYTES)? else {
                return Ok(Reply::Bulk(None));
            };
            // The string, then its CRLF: exactly `length + 2` bytes.
            let mut bytes = vec![0; length + 2];
            reader.read_exact(&mut bytes)?;
            if !bytes.ends_with(b"\r\n") {
                return Err(bad_reply("a string not followed by CRLF"));
            }
            bytes.truncate(length);
            Ok(Reply::Bulk(Some(bytes)))
        }
        "*" => {
            if depth == MAX_DEPTH {
                return Err(bad_reply("arrays nested too deep"));
            }
            let Some(count) = parse_length(rest, 100_000)? else {
                return Ok(Reply::Array(None));
            };
            let mut items = Vec::new();
            for _ in 0..count {
                items.push(read_reply_at_depth(reader, depth + 1)?);
            }
            Ok(Reply::Array(Some(items)))
        }
        _ => Err(bad_reply("a reply starting with an unknown byte")),
    }
}

/// One line without its CRLF; at most 1 KiB (no reply line is longer).
fn read_line(reader: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = Vec::new();
    reader.take(1024).read_until(b'\n', &mut line)?;
    if !line.ends_with(b"\r\n") {
        return Err(match line.len() {
            0 => std::io::Error::new(ErrorKind::UnexpectedEof, "Redis closed the connection"),
            _ => bad_reply("a reply line cut short or too long"),
        });
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| bad_reply("a reply line that is not text"))
}

fn parse_number(text: &str) -> std::io::Result<i64> {
    text.parse()
        .map_err(|_| bad_reply("a number that is not one"))
}

/// `-1` is null (`None`); other lengths must be 0 to `max`.
fn parse_length(text: &str, max: usize) -> std::io::Result<Option<usize>> {
    match parse_number(text)? {
        -1 => Ok(None),
        length if (0..=max as i64).contains(&length) => Ok(Some(length as usize)),
        _ => Err(bad_reply("a length out of range")),
    }
}

fn bad_reply(what: &str) -> std::io::Error {
    std::io::Error::new(ErrorKind::InvalidData, format!("Redis sent {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    fn read(bytes: &[u8]) -> std::io::Result<Reply> {
        read_reply(&mut BufReader::new(bytes))
    }

    #[test]
    fn a_command_is_an_array_of_bulk_strings() {
        assert_eq!(
            encode_command(&[b"GET", b"k"]),
            b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
        );
        // Newlines inside a value need no escaping: the length says it all.
        assert_eq!(
            encode_command(&[b"SET", b"k", b"a=1\nb=2\n"]),
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$8\r\na=1\nb=2\n\r\n"
        );
    }

    #[test]
    fn each_kind_of_reply_is_read_by_its_first_byte() {
        assert_eq!(read(b"+OK\r\n").unwrap(), Reply::Status("OK".into()));
        assert_eq!(
            read(b"-ERR wrong\r\n").unwrap(),
            Reply::Error("ERR wrong".into())
        );
        assert_eq!(read(b":42\r\n").unwrap(), Reply::Integer(42));
        assert_eq!(
            read(b"$5\r\na\r\nb\n\r\n").unwrap(),
            Reply::Bulk(Some(b"a\r\nb\n".to_vec()))
        );
        assert_eq!(read(b"$-1\r\n").unwrap(), Reply::Bulk(None));
        assert_eq!(read(b"*-1\r\n").unwrap(), Reply::Array(None));
        assert_eq!(
            read(b"*2\r\n$1\r\n0\r\n*1\r\n$3\r\nabc\r\n").unwrap(),
            Reply::Array(Some(vec![
                Reply::Bulk(Some(b"0".to_vec())),
                Reply::Array(Some(vec![Reply::Bulk(Some(b"abc".to_vec()))])),
            ]))
        );
    }

    #[test]
    fn two_replies_joined_are_read_one_at_a_time() {
        let mut reader = BufReader::new(&b"$1\r\na\r\n:7\r\n"[..]);
        assert_eq!(
            read_reply(&mut reader).unwrap(),
            Reply::Bulk(Some(b"a".to_vec()))
        );
        assert_eq!(read_reply(&mut reader).unwrap(), Reply::Integer(7));
    }

    #[test]
    fn a_reply_cut_short_or_malformed_is_an_error_never_a_value() {
        for bad in [
            &b""[..],
            b"+OK",
            b"$5\r\nabc\r\n",
            b"$3\r\nabcde\r\n",
            b":x\r\n",
            b"$-2\r\n",
            b"$99999999999\r\n",
            b"?\r\n",
            b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
        ] {
            assert!(read(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn an_address_is_redis_host_port_and_maybe_a_database() {
        let parsed = |text| RedisAddress::parse(text);
        assert_eq!(parsed("sessions"), None);
        assert_eq!(
            parsed("redis://127.0.0.1:6379"),
            Some(Ok(RedisAddress {
                host_port: "127.0.0.1:6379".into(),
                database: 0
            }))
        );
        assert_eq!(parsed("redis://h:1/3").unwrap().unwrap().database, 3);
        for bad in [
            "redis://h",
            "redis://:1",
            "redis://h:x",
            "redis://h:1/x",
            "redis://u:pw@h:1",
        ] {
            assert!(parsed(bad).unwrap().is_err(), "{bad}");
        }
    }
}
