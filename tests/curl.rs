//! The login flow driven by the real curl binary, with a cookie jar, the
//! way a reader of the README pokes at the server.

mod common;

use std::process::Command;

use common::{TempDir, TestServer, curl};

#[test]
fn curl_with_a_cookie_jar_logs_in_and_out() {
    let server = TestServer::start();
    let temp = TempDir::new("curl");
    let jar = temp.0.join("cookies.txt");
    let jar = jar.to_str().unwrap();
    let base = format!("http://{}", server.addr);

    // First visit, following the redirect: the login form.
    let page = curl(&["-L", "-c", jar, "-b", jar, &format!("{base}/")]);
    assert!(
        page.contains(r#"<form action="/login" method="post">"#),
        "{page}"
    );
    assert!(server.session_dir_entries().is_empty());

    // Log in; curl follows the 303 to / with the new cookie.
    let page = curl(&[
        "-L",
        "-c",
        jar,
        "-b",
        jar,
        "--data",
        "name=David",
        &format!("{base}/login"),
    ]);
    assert!(page.contains("You are logged in as David."), "{page}");
    let jar_text = std::fs::read_to_string(jar).unwrap();
    let ids = server.session_dir_entries();
    assert_eq!(ids.len(), 1);
    // Netscape jar format; HttpOnly cookies are marked with a prefix.
    assert!(
        jar_text.contains(&format!("#HttpOnly_{}", server.addr.ip()))
            && jar_text.contains(&format!("\tsession\t{}", ids[0])),
        "{jar_text}"
    );

    // Again, on a new connection: still logged in.
    let page = curl(&["-b", jar, &format!("{base}/")]);
    assert!(page.contains("You are logged in as David."), "{page}");

    // Log out: the file is gone and the jar forgets the cookie. (Not with
    // -L: curl 7.88 writes the jar it loaded when it follows a redirect.)
    curl(&["-c", jar, "-b", jar, &format!("{base}/logout")]);
    let page = curl(&["-L", "-b", jar, &format!("{base}/")]);
    assert!(page.contains("You are not logged in."), "{page}");
    assert!(server.session_dir_entries().is_empty());
    let jar_text = std::fs::read_to_string(jar).unwrap();
    assert!(!jar_text.contains("\tsession\t"), "{jar_text}");
}

#[test]
fn curl_verbose_shows_the_set_cookie_header() {
    let server = TestServer::start();
    let output = Command::new("curl")
        .args([
            "-sv",
            "--data",
            "name=David",
            &format!("http://{}/login", server.addr),
        ])
        .output()
        .expect("curl must be installed to run this test");
    let trace = String::from_utf8_lossy(&output.stderr);
    assert!(trace.contains("< HTTP/1.1 303 See Other"), "{trace}");
    assert!(trace.contains("< Set-Cookie: session="), "{trace}");
    assert!(
        trace.contains("; Path=/; HttpOnly; SameSite=Lax"),
        "{trace}"
    );
}
