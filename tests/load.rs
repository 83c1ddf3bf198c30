//! Load with nothing lost: many clients log in, fill carts and log out at
//! once; afterwards every cart holds exactly what its client added, no
//! session file is torn, and no request failed.
//!
//! `cargo test` runs a short version (50 clients, 3 s). The long one:
//!
//! ```text
//! HANDSTAMP_LOAD_CLIENTS=300 HANDSTAMP_LOAD_SECS=30 cargo test --release --test load -- --nocapture
//! ```

mod common;

use std::time::{Duration, Instant};

use common::{Client, TestServer, get_request, post_form_request};
use handstamp::session::SessionData;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one client did.
#[derive(Default)]
struct Tally {
    requests: u64,
    logins: u64,
    kept_session: Option<(String, Vec<u32>)>,
}

#[test]
fn many_clients_lose_nothing() {
    let clients = setting("HANDSTAMP_LOAD_CLIENTS", 50);
    let seconds = setting("HANDSTAMP_LOAD_SECS", 3);
    let max_connections = (clients + 50).to_string();
    let server = TestServer::start_with(&["--quiet", "--max-connections", &max_connections]);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);

    let tallies: Vec<Tally> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..clients)
            .map(|client_number| {
                let server = &server;
                scope.spawn(move || run_client(server, client_number, deadline))
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a client failed"))
            .collect()
    });

    // The sessions kept at the end hold exactly what was added, and every
    // file in the folder parses.
    let mut kept = 0;
    for tally in &tallies {
        if let Some((id, added)) = &tally.kept_session {
            let data = SessionData::from_file_text(&server.session_file(id)).unwrap();
            let cart: Vec<u32> = data
                .get("cart")
                .unwrap_or_default()
                .split(',')
                .filter_map(|i| i.parse().ok())
                .collect();
            assert_eq!(&cart, added, "session {id}");
            kept += 1;
        }
    }
    let entries = server.session_dir_entries();
    assert_eq!(
        entries.len(),
        kept,
        "only the kept sessions remain: {entries:?}"
    );
    for name in &entries {
        SessionData::from_file_text(&server.session_file(name)).expect("no torn file");
    }
    let requests: u64 = tallies.iter().map(|t| t.requests).sum();
    let logins: u64 = tallies.iter().map(|t| t.logins).sum();
    eprintln!(
        "load: {clients} clients for {seconds} s: {requests} requests ({:.0}/s), {logins} logins, \
         0 failed, {kept} carts checked",
        requests as f64 / started.elapsed().as_secs_f64()
    );
}

/// One client's loop: log in, add items, check the cart page and the file,
/// log out; the last round keeps its session for the final check.
fn run_client(server: &TestServer, client_number: u64, deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut client = server.connect();
    let mut round = 0u64;
    loop {
        round += 1;
        let name = format!("client{client_number}-{round}");
        client.send(&post_form_request("/login", &format!("name={name}"), None));
        let login = client.read_reply();
        assert_eq!(login.status(), 303, "{login}");
        let id = login.session_cookie().unwrap();
        let cookie = format!("session={id}");
        tally.logins += 1;
        tally.requests += 1;

        let mut added = Vec::new();
        for step in 0..(3 + (client_number + round) % 5) {
            let item = ((client_number + round + step) % 5 + 1) as u32;
            client.send(&post_form_request(
                "/cart",
                &format!("id={item}"),
                Some(&cookie),
            ));
            let reply = client.read_reply();
            assert_eq!(reply.status(), 303, "{reply}");
            assert!(
                reply.header("Set-Cookie").is_none(),
                "the session was lost: {reply}"
            );
            added.push(item);
            tally.requests += 1;
        }
        client.send(&get_request("/cart", Some(&cookie)));
        let cart = client.read_reply();
        assert_eq!(cart.status(), 200);
        tally.requests += 1;
        let file = server.session_file(&id);
        let expected: Vec<String> = added.iter().map(u32::to_string).collect();
        assert!(
            file.contains(&format!("\ncart={}\n", expected.join(","))),
            "{id}: {file}"
        );

        if Instant::now() >= deadline {
            tally.kept_session = Some((id, added));
            return tally;
        }
        client.send(&get_request("/logout", Some(&cookie)));
        assert_eq!(client.read_reply().status(), 302);
        tally.requests += 1;
        assert!(!server.session_path(&id).exists());
        // Now and then a new connection, as browsers do.
        if round.is_multiple_of(4) {
            client = Client::connect(server.addr);
        }
    }
}
