//! Faults: the server killed with SIGKILL in the middle of a burst of
//! session writes, then started again on the same folder.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{TempDir, TestServer, log_in, post_form_request};
use handstamp::session::SessionData;

#[test]
fn a_kill_in_the_middle_of_writes_loses_no_session_and_tears_no_file() {
    let temp = TempDir::new("sigkill");
    let sessions = temp.0.join("sessions");
    let mut server = TestServer::start_in(&sessions, &["--quiet"]);
    let ids: Vec<String> = (0..8)
        .map(|i| log_in(&server, &format!("user{i}")))
        .collect();

    // Eight clients add to their carts as fast as they can; each counts
    // the adds the server confirmed (303) before it died.
    let stop = AtomicBool::new(false);
    let addr = server.addr;
    let confirmed: Vec<usize> = std::thread::scope(|scope| {
        let workers: Vec<_> = ids
            .iter()
            .map(|id| {
                let stop = &stop;
                scope.spawn(move || {
                    let mut confirmed = 0;
                    while !stop.load(Ordering::SeqCst) {
                        let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
                            break;
                        };
                        let request =
                            post_form_request("/cart", "id=1", Some(&format!("session={id}")));
                        use std::io::{Read, Write};
                        stream
                            .set_read_timeout(Some(Duration::from_secs(5)))
                            .unwrap();
                        if stream.write_all(request.as_bytes()).is_err() {
                            break;
                        }
                        let mut reply = [0u8; 64];
                        match stream.read(&mut reply) {
                            Ok(n) if reply[..n].starts_with(b"HTTP/1.1 303") => confirmed += 1,
                            _ => break,
                        }
                    }
                    confirmed
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(400));
        server.kill(); // SIGKILL: no chance to tidy up
        stop.store(true, Ordering::SeqCst);
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert!(
        confirmed.iter().sum::<usize>() > 50,
        "the burst was too small: {confirmed:?}"
    );

    // Restarted on the same folder: temporary files are gone, every file
    // parses, and every confirmed add is there.
    let server = TestServer::start_in(&sessions, &["--quiet"]);
    // Leftover temporary files are removed in the background, just after
    // the start (a big folder must not hold the start up): wait for it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server
        .session_dir_entries()
        .iter()
        .any(|name| name.starts_with('.'))
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let entries = server.session_dir_entries();
    assert!(
        entries.iter().all(|name| !name.starts_with('.')),
        "{entries:?}"
    );
    assert_eq!(entries.len(), ids.len(), "{entries:?}");
    for (id, confirmed) in ids.iter().zip(&confirmed) {
        let text = server.session_file(id);
        let data =
            SessionData::from_file_text(&text).unwrap_or_else(|e| panic!("{id}: {e}: {text:?}"));
        let cart = data.get("cart").unwrap_or_default();
        let items = cart.split(',').filter(|i| !i.is_empty()).count();
        // The one add in flight at the kill may have reached the disk
        // without its 303 reaching the client.
        assert!(
            items == *confirmed || items == confirmed + 1,
            "{id}: {items} items on disk, {confirmed} confirmed"
        );
        let home = server.get("/", Some(&format!("session={id}")));
        assert!(
            home.body_text().contains("You are logged in as user"),
            "{home}"
        );
    }
}
