//! The hand-written Redis client against a fake Redis on a loopback
//! socket that misbehaves on purpose: replies dribbled a byte at a time,
//! replies too late, a connection closed mid-reply. Each reply is read
//! whole or the connection is dropped; a late reply is never taken for the
//! answer to the next command.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use handstamp::redis::{Redis, RedisAddress, Reply};

/// Reads one command (an array of bulk strings) and returns its words.
fn read_command(reader: &mut BufReader<TcpStream>) -> Option<Vec<String>> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let count: usize = line.trim().strip_prefix('*')?.parse().ok()?;
    let mut words = Vec::new();
    for _ in 0..count {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let length: usize = line.trim().strip_prefix('$')?.parse().ok()?;
        let mut word = vec![0; length + 2];
        reader.read_exact(&mut word).ok()?;
        word.truncate(length);
        words.push(String::from_utf8(word).ok()?);
    }
    Some(words)
}

/// A fake Redis: answers `PING` at once, and every other command with
/// `answer(n, words)`'s script of (pause, bytes) pieces, `n` counting the
/// commands across all connections.
fn fake_redis(
    answer: impl Fn(usize, &[String]) -> Vec<(Duration, Vec<u8>)> + Send + Sync + 'static,
) -> RedisAddress {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = RedisAddress {
        host_port: listener.local_addr().unwrap().to_string(),
        database: 0,
    };
    let answer = std::sync::Arc::new(answer);
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let answer = std::sync::Arc::clone(&answer);
            let counter = std::sync::Arc::clone(&counter);
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                while let Some(words) = read_command(&mut reader) {
                    if words[0] == "PING" {
                        let _ = writer.write_all(b"+PONG\r\n");
                        continue;
                    }
                    let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    for (pause, bytes) in answer(n, &words) {
                        std::thread::sleep(pause);
                        if writer.write_all(&bytes).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    address
}

fn connect(address: RedisAddress) -> Redis {
    Redis::connect(address, Box::new(|_| {})).expect("the fake answers PING")
}

/// `$N\r\nWORD\r\n`: the word sent back as a bulk string.
fn echo(word: &str) -> Vec<u8> {
    format!("${}\r\n{word}\r\n", word.len()).into_bytes()
}

#[test]
fn a_reply_dribbled_a_byte_at_a_time_is_read_whole() {
    let address = fake_redis(|_, words| {
        echo(&words[1])
            .into_iter()
            .map(|byte| (Duration::from_millis(5), vec![byte]))
            .collect()
    });
    let redis = connect(address);
    let reply = redis.command(&["GET", "created=1\nname=David\n"]).unwrap();
    assert_eq!(
        reply,
        Reply::Bulk(Some(b"created=1\nname=David\n".to_vec()))
    );
}

#[test]
fn a_late_reply_is_never_read_as_the_answer_to_the_next_command() {
    // The first command's reply comes after the client gave up; every later
    // one comes at once.
    let address = fake_redis(|n, words| {
        let pause = match n {
            0 => Duration::from_secs(3),
            _ => Duration::ZERO,
        };
        vec![(pause, echo(&words[1]))]
    });
    let redis = connect(address);
    let started = Instant::now();
    let late = redis.command(&["GET", "first"]);
    assert!(late.is_err(), "{late:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "gave up in time"
    );
    // The connection that will receive "first" was dropped: this command
    // gets its own reply.
    for word in ["second", "third"] {
        let reply = redis.command(&["GET", word]).unwrap();
        assert_eq!(reply, Reply::Bulk(Some(word.as_bytes().to_vec())));
    }
}

#[test]
fn a_reply_that_dribbles_past_the_deadline_is_given_up_and_the_next_is_clean() {
    // One byte every 300 ms: each read is quick, the whole is too slow.
    let address = fake_redis(|n, words| match n {
        0 => echo(&"x".repeat(20))
            .into_iter()
            .map(|byte| (Duration::from_millis(300), vec![byte]))
            .collect(),
        _ => vec![(Duration::ZERO, echo(&words[1]))],
    });
    let redis = connect(address);
    let started = Instant::now();
    assert!(redis.command(&["GET", "slow"]).is_err());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        redis.command(&["GET", "next"]).unwrap(),
        Reply::Bulk(Some(b"next".to_vec()))
    );
}

#[test]
fn a_reply_cut_off_by_a_closed_connection_is_an_error_with_the_address() {
    let address = fake_redis(|_, _| vec![(Duration::ZERO, b"$10\r\nabc".to_vec())]);
    let host_port = address.host_port.clone();
    let redis = connect(address);
    // The fake keeps the connection open after its piece: the deadline
    // ends the wait.
    let error = redis.command(&["GET", "k"]).unwrap_err().to_string();
    assert!(error.contains(&host_port), "{error}");
}

#[test]
fn error_replies_come_back_as_errors_and_leave_the_connection_usable() {
    let address = fake_redis(|n, words| match n {
        0 => vec![(
            Duration::ZERO,
            b"-WRONGTYPE Operation against a key\r\n".to_vec(),
        )],
        _ => vec![(Duration::ZERO, echo(&words[1]))],
    });
    let redis = connect(address);
    assert_eq!(
        redis.command(&["GET", "k"]).unwrap(),
        Reply::Error("WRONGTYPE Operation against a key".into())
    );
    assert_eq!(
        redis.command(&["GET", "ok"]).unwrap(),
        Reply::Bulk(Some(b"ok".to_vec()))
    );
}

#[test]
fn a_pipeline_reads_its_replies_in_order_and_a_late_one_drops_them_all() {
    // Replies dribbled a byte at a time; the third command's is late.
    let address = fake_redis(|n, words| match n {
        2 => vec![(Duration::from_secs(3), echo(&words[1]))],
        _ => echo(&words[1])
            .into_iter()
            .map(|byte| (Duration::from_millis(1), vec![byte]))
            .collect(),
    });
    let bulk = |word: &str| Reply::Bulk(Some(word.as_bytes().to_vec()));
    let redis = connect(address);
    let replies = redis.pipeline(&[&["GET", "one"], &["GET", "two"]]).unwrap();
    assert_eq!(replies, vec![bulk("one"), bulk("two")]);
    // "three" is late: the pipeline fails as a whole...
    assert!(
        redis
            .pipeline(&[&["GET", "three"], &["GET", "four"]])
            .is_err()
    );
    // ...and its replies, when they come, never meet the next commands.
    let replies = redis
        .pipeline(&[&["GET", "five"], &["GET", "six"]])
        .unwrap();
    assert_eq!(replies, vec![bulk("five"), bulk("six")]);
}
