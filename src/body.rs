//! Bodies: where a request's body ends.
//!
//! After the head comes the body, framed one of two ways (request.rs's
//! `body_framing` says which). With `Content-Length: 10` it is the next 10
//! bytes. With `Transfer-Encoding: chunked` (chunked coding: the client
//! sends the body in pieces without knowing its total length in advance)
//! each piece is preceded by its size in hex, and a piece of size 0 ends
//! the body:
//!
//! ```text
//! 5\r\n               size of the next chunk, in hex
//! name=\r\n           that many bytes, then CRLF
//! 5;note=x\r\n        a size may carry extensions: `;name` or `;name=value`
//! David\r\n
//! 0\r\n               the last chunk
//! Expires: never\r\n  trailers: header lines sent after the body (ignored here)
//! \r\n                an empty line ends it all
//! ```
//!
//! `BodyDecoder` is fed the bytes received so far and takes what it can
//! from the front of them. It answers `None` ("need more bytes") until the
//! body is complete, so it never reads a socket: connection.rs reads, and
//! every rule here is tested on byte strings. Each line (a chunk size, a
//! trailer) is limited to `MAX_LINE_BYTES` however its bytes arrive.
//! Rules: RFC 9112 §6.2 (Content-Length), §7.1 (chunked), §7.1.1
//! (extensions), §7.1.2 (trailers).

mod chunk_extensions;

use crate::request::{BodyFraming, RequestError};
use chunk_extensions::is_chunk_extensions;
pub use chunk_extensions::is_token_byte;

/// The longest chunk-size or trailer line accepted, extensions included.
pub const MAX_LINE_BYTES: usize = 1024;
/// The most trailer lines a chunked body may end with.
const MAX_TRAILER_LINES: usize = 100;

/// Takes a body off the front of a buffer, piece by piece as it arrives.
#[derive(Debug)]
pub struct BodyDecoder {
    state: State,
    body: Vec<u8>,
    max_body_bytes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// `Content-Length`: this many bytes in all.
    Length(usize),
    /// Chunked: waiting for a size line.
    ChunkSize,
    /// Chunked: this many bytes of the current chunk still to come.
    ChunkData(usize),
    /// Chunked: the CRLF after a chunk's bytes.
    ChunkEnd,
    /// Chunked: after the last chunk, trailer lines until an empty line;
    /// the number is how many were seen.
    Trailers(usize),
    Done,
}

impl BodyDecoder {
    pub fn new(framing: BodyFraming, max_body_bytes: usize) -> Self {
        let state = match framing {
            BodyFraming::None => State::Done,
            BodyFraming::Length(length) => State::Length(length),
            BodyFraming::Chunked => State::ChunkSize,
        };
        BodyDecoder {
            state,
            body: Vec::new(),
            max_body_bytes,
        }
    }

    /// Takes body bytes from the front of `buffer`. Returns the whole body
    /// once it is complete (what follows it stays in `buffer`: the next
    /// pipelined request), `None` while more bytes are needed.
    pub fn decode(&mut self, buffer: &mut Vec<u8>) -> Result<Option<Vec<u8>>, RequestError> {
        // Each state takes what it can from the front of the buffer, then
        // either moves on to the next state or says "need more bytes".
        loop {
            match self.state {
                State::Done => return Ok(Some(std::mem::take(&mut self.body))),
                // `Content-Length: 10`: exactly 10 bytes, once all are here.
                State::Length(length) => {
                    if buffer.len() < length {
                        return Ok(None);
                    }
                    self.body = buffer.drain(..length).collect();
                    self.state = State::Done;
                }
                // `5;note=x\r\n`: the size of the next chunk, in hex.
                State::ChunkSize => {
                    let Some(line) = take_line(buffer)? else {
                        return Ok(None);
                    };
                    let size = parse_chunk_size_line(&line)?;
                    if size == 0 {
                        // The last chunk: only trailer lines are left.
                        self.state = State::Trailers(0);
                    } else if self.body.len() as u64 + size > self.max_body_bytes as u64 {
                        // Refused before a byte of it is stored.
                        return Err(RequestError::BodyTooLarge(self.max_body_bytes));
                    } else {
                        self.state = State::ChunkData(size as usize);
                    }
                }
                // The chunk's bytes; they may arrive over many reads.
                State::ChunkData(remaining) => {
                    let available = remaining.min(buffer.len());
                    self.body.extend(buffer.drain(..available));
                    if available < remaining {
                        self.state = State::ChunkData(remaining - available);
                        return Ok(None);
                    }
                    self.state = State::ChunkEnd;
                }
                // Every chunk ends in CRLF; anything else means the size
                // lied, and nobody can tell where the next chunk starts.
                State::ChunkEnd => {
                    if buffer.len() < 2 {
                        return Ok(None);
                    }
                    if buffer[..2] != *b"\r\n" {
                        return Err(RequestError::BadBody(
                            "a chunk is longer than its size says",
                        ));
                    }
                    buffer.drain(..2);
                    self.state = State::ChunkSize;
                }
                // Header lines after the last chunk, read and ignored, up to
                // the empty line that ends the body.
                State::Trailers(seen) => {
                    let Some(line) = take_line(buffer)? else {
                        return Ok(None);
                    };
                    if line.is_empty() {
                        self.state = State::Done;
                    } else if seen + 1 >= MAX_TRAILER_LINES {
                        return Err(RequestError::BadBody("too many trailer lines"));
                    } else {
                        self.state = State::Trailers(seen + 1);
                    }
                }
            }
        }
    }
}

/// Takes one CRLF-ended line off the front of `buffer` (returned without
/// the CRLF), or `None` if it has not all arrived. The length limit is
/// checked on the line itself, so it is the same whether the line came in
/// one piece or a hundred.
fn take_line(buffer: &mut Vec<u8>) -> Result<Option<Vec<u8>>, RequestError> {
    let too_long = RequestError::BadBody("a chunk-size or trailer line is too long");
    let Some(newline) = buffer.iter().position(|&b| b == b'\n') else {
        return match buffer.len() > MAX_LINE_BYTES {
            true => Err(too_long),
            false => Ok(None),
        };
    };
    if newline > MAX_LINE_BYTES {
        return Err(too_long);
    }
    if newline == 0 || buffer[newline - 1] != b'\r' {
        return Err(RequestError::BadBody("a chunk line ends in a bare LF"));
    }
    let line = buffer[..newline - 1].to_vec();
    buffer.drain(..=newline);
    Ok(Some(line))
}

/// `1a` → 26; `1a;name=value` → 26 too, once the extensions are checked.
/// Extensions mean nothing to this server, but a line that does not have
/// their grammar is not a chunk-size line, and guessing is how smuggling
/// starts.
pub fn parse_chunk_size_line(line: &[u8]) -> Result<u64, RequestError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > 15 {
        return Err(RequestError::BadBody("a chunk size is not a hex number"));
    }
    if !is_chunk_extensions(&line[digits..]) {
        return Err(RequestError::BadBody(
            "a chunk extension is not ;name or ;name=value",
        ));
    }
    let text = std::str::from_utf8(&line[..digits]).expect("hex digits are ASCII");
    Ok(u64::from_str_radix(text, 16).expect("at most 15 hex digits fit in u64"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` to a decoder in pieces of `piece` bytes, as a socket
    /// might deliver it; returns the body and what was left after it.
    fn decode_in_pieces(
        framing: BodyFraming,
        input: &[u8],
        piece: usize,
    ) -> Result<(Vec<u8>, Vec<u8>), Option<u16>> {
        let mut decoder = BodyDecoder::new(framing, 64 * 1024);
        let mut buffer = Vec::new();
        let mut body = None;
        for bytes in input.chunks(piece.max(1)) {
            buffer.extend_from_slice(bytes);
            if body.is_none() {
                body = decoder.decode(&mut buffer).map_err(|e| e.status())?;
            }
        }
        match body {
            Some(body) => Ok((body, buffer)),
            None => Err(None), // still waiting for more
        }
    }

    #[test]
    fn a_length_framed_body_is_that_many_bytes() {
        for piece in [1, 3, 100] {
            let (body, rest) =
                decode_in_pieces(BodyFraming::Length(10), b"name=DavidGET /", piece).unwrap();
            assert_eq!(body, b"name=David");
            assert_eq!(rest, b"GET /");
        }
        assert_eq!(
            decode_in_pieces(BodyFraming::Length(10), b"name=", 5),
            Err(None)
        );
    }

    #[test]
    fn a_chunked_body_is_reassembled_however_it_arrives() {
        let input = b"5\r\nname=\r\n5;note=\"a b\"\r\nDavid\r\n0\r\nX-Trailer: 1\r\n\r\nnext";
        for piece in [1, 2, 7, 1000] {
            let (body, rest) = decode_in_pieces(BodyFraming::Chunked, input, piece).unwrap();
            assert_eq!(body, b"name=David", "piece {piece}");
            assert_eq!(rest, b"next");
        }
    }

    #[test]
    fn chunk_extensions_follow_the_grammar() {
        for good in [
            "5",
            "5;a",
            "5;a=b",
            "5 ;a",
            "5; a = b",
            "5;a=\"x y\\\"z\"",
            "5;a;b=c",
        ] {
            assert_eq!(
                parse_chunk_size_line(good.as_bytes()).unwrap(),
                5,
                "{good:?}"
            );
        }
        for bad in [
            &b"5;"[..],
            b"5;bad[=x",
            b"5;a=",
            b"5;a=\"open",
            b"5;a\x00b",
            b"5;a\rb",
            b"5 ",
            b"5;a ",
            b"5x",
            b"",
            b"-5",
            b"0x5",
            b"1234567890123456",
        ] {
            assert!(
                parse_chunk_size_line(bad).is_err(),
                "{}",
                bad.escape_ascii()
            );
        }
    }

    #[test]
    fn a_long_chunk_line_is_refused_in_one_piece_or_many() {
        let mut input = b"5;".to_vec();
        input.extend(std::iter::repeat_n(b'a', 3900));
        input.extend_from_slice(b"\r\nname=\r\n0\r\n\r\n");
        for piece in [512, input.len()] {
            assert_eq!(
                decode_in_pieces(BodyFraming::Chunked, &input, piece),
                Err(Some(400)),
                "piece {piece}"
            );
        }
    }

    #[test]
    fn malformed_chunks_are_refused() {
        for bad in [
            &b"5\r\nname=X\r\n0\r\n\r\n"[..],
            b"5\nname=\r\n0\r\n\r\n",
            b"zz\r\n",
            b"5\r\nname=\r\n0\r\nbare\nlf\r\n\r\n",
        ] {
            assert_eq!(
                decode_in_pieces(BodyFraming::Chunked, bad, 1000),
                Err(Some(400)),
                "{}",
                bad.escape_ascii()
            );
        }
    }

    #[test]
    fn a_chunked_body_over_the_limit_is_refused() {
        let mut decoder = BodyDecoder::new(BodyFraming::Chunked, 10);
        let mut buffer = b"8\r\n12345678\r\n8\r\n".to_vec();
        let error = decoder.decode(&mut buffer).unwrap_err();
        assert_eq!(error.status(), Some(413));
    }
}
