//! A real headless Chromium walks through the Flask example's steps.
//!
//! The browser is driven through ChromeDriver's WebDriver API, which is
//! plain HTTP and JSON on loopback; the few lines of JSON handling it needs
//! are at the bottom of this file. Every wait polls a condition (the URL,
//! the page text) with a deadline, never a fixed sleep.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TempDir, TestServer};

const WAIT: Duration = Duration::from_secs(20);

#[test]
#[ignore = "needs chromium and chromium-driver (apt-get install chromium chromium-driver); .ci/run runs it"]
fn a_browser_logs_in_reloads_logs_out_and_fills_a_cart() {
    let started = Instant::now();
    let server = TestServer::start();
    let base = format!("http://{}", server.addr);
    let browser = Browser::start();
    let shots = screenshots_folder();

    // 1. Open /: the browser follows the redirect and shows the form.
    browser.go(&format!("{base}/"));
    browser.wait_for_url(&format!("{base}/login"));
    let name_input = browser.find("input[name=name]");
    browser.screenshot(&shots.join("1-login-form.png"));

    // 2. Type David and submit.
    browser.type_into(&name_input, "David");
    browser.click(&browser.find("input[type=submit]"));
    browser.wait_for_text("You are logged in as David.");
    assert_eq!(browser.url(), format!("{base}/"));
    browser.screenshot(&shots.join("2-logged-in.png"));

    // 3. Reload, and open / in a new tab: still logged in.
    browser.refresh();
    browser.wait_for_text("You are logged in as David.");
    let first_tab = browser.window_handle();
    browser.new_tab_at(&format!("{base}/"));
    browser.wait_for_text("You are logged in as David.");
    browser.switch_to(&first_tab);

    // 4. The cookie: HttpOnly, SameSite=Lax, no expiry; one file, David's.
    let cookies = browser.cookies();
    let session = cookies
        .iter()
        .find(|c| c.get("name").and_then(Json::as_str) == Some("session"))
        .unwrap_or_else(|| panic!("no session cookie in {cookies:?}"));
    assert_eq!(
        session.get("httpOnly"),
        Some(&Json::Bool(true)),
        "{session:?}"
    );
    assert_eq!(session.get("sameSite").and_then(Json::as_str), Some("Lax"));
    assert!(
        session.get("expiry").is_none(),
        "a session cookie has no expiry: {session:?}"
    );
    let id = session
        .get("value")
        .and_then(Json::as_str)
        .unwrap()
        .to_string();
    assert_eq!(server.session_dir_entries(), std::slice::from_ref(&id));
    assert!(server.session_file(&id).ends_with("\nname=David\n"));

    // 5. Log out: back on /login, the file gone, and Back shows no stale page.
    browser.click(&browser.find_link("Log out"));
    browser.wait_for_url(&format!("{base}/login"));
    assert!(
        !server.session_path(&id).exists(),
        "logout deletes the file"
    );
    browser.back();
    browser.wait_for_url(&format!("{base}/login"));
    assert!(
        !browser.page_text().contains("You are logged in"),
        "{}",
        browser.page_text()
    );

    // 6. The store: add item 1 twice and item 3 once.
    for position in [0, 0, 2] {
        browser.go(&format!("{base}/store"));
        let buttons = browser.find_all("ul.items button");
        assert_eq!(buttons.len(), 5);
        browser.click(&buttons[position]);
        browser.wait_for_url(&format!("{base}/cart"));
    }
    let rows = browser.execute(
        "return Array.from(document.querySelectorAll('ul.cart li')).map(li => li.textContent).join('|')",
    );
    assert_eq!(rows.as_str(), Some("Red hand stamp × 2|Ride ticket × 1"));
    browser.screenshot(&shots.join("3-cart.png"));

    // 7. A name with HTML in it is shown as text, not run as markup.
    browser.go(&format!("{base}/login"));
    browser.type_into(&browser.find("input[name=name]"), "<b>Bold</b> & co");
    browser.click(&browser.find("input[type=submit]"));
    browser.wait_for_text("You are logged in as <b>Bold</b> & co.");
    assert!(
        browser.find_all("main b").is_empty(),
        "the name became markup"
    );

    // The stylesheet from www/static was applied (the brand's red, #c0392b).
    let brand_colour =
        browser.execute("return getComputedStyle(document.querySelector('.brand')).color");
    assert_eq!(brand_colour.as_str(), Some("rgb(192, 57, 43)"));
    eprintln!("browser walk-through took {:?}", started.elapsed());
}

/// The panel's text (the inspector section), once the page has one.
fn panel_text(browser: &Browser) -> String {
    browser.find("section.inspector");
    browser
        .execute("return document.querySelector('section.inspector').innerText")
        .as_str()
        .unwrap_or_default()
        .replace('\u{a0}', " ")
}

/// Scrolls the panel's first response head (the redirect's, with its
/// Set-Cookie) to the middle of the window, for a screenshot of it.
fn show_panel(browser: &Browser) {
    browser.execute(
        "document.querySelector('section.inspector pre.response').scrollIntoView({block: 'center'}); return 0",
    );
}

/// The marked lines (`Cookie`, `Set-Cookie`) of the panel that do not
/// fit their box: wider than it, or running past its right edge.
fn clipped_marked_lines(browser: &Browser) -> Vec<String> {
    let found = browser.execute(
        "return [...document.querySelectorAll('section.inspector mark')]\
           .filter(m => { const pre = m.closest('pre'); \
             return pre.scrollWidth > pre.clientWidth + 1 \
               || m.getBoundingClientRect().right > pre.getBoundingClientRect().right + 1; })\
           .map(m => m.textContent).join('\\n')",
    );
    let found = found.as_str().unwrap_or_default();
    found.lines().map(str::to_string).collect()
}

#[test]
#[ignore = "needs chromium and chromium-driver (apt-get install chromium chromium-driver); .ci/run runs it"]
fn the_panel_draws_the_round_trip_shows_the_body_and_clips_nothing_at_1200_or_400_pixels() {
    let server = TestServer::start();
    let base = format!("http://{}", server.addr);
    let browser = Browser::start();
    let shots = screenshots_folder();
    log_in_as_david(&browser, &base);
    let id = session_cookie_of(&browser).expect("a session cookie");

    // The picture: the login's 303 with its Set-Cookie, this page's 200,
    // the id cut short, and the whole id on hover.
    let picture = browser
        .execute("return document.querySelector('section.inspector svg.diagram').textContent")
        .as_str()
        .unwrap_or_default()
        .to_string();
    for expected in [
        "POST /login HTTP/1.1",
        "303 See Other",
        &format!("Set-Cookie: session={}…", &id[..8]),
        "200 OK",
        &format!("Cookie: session={}…", &id[..8]),
        &id,
    ] {
        assert!(
            picture.contains(expected),
            "missing {expected:?} in {picture:?}"
        );
    }
    // The form's body, as the server received it, under the login's head.
    let bodies = browser
        .execute(
            "return [...document.querySelectorAll('section.inspector pre.body')]\
               .map(p => p.textContent).join('|')",
        )
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(bodies, "name=David");
    // The headers that matter first; the rest folded, with their count.
    let folded = browser
        .execute("return document.querySelector('section.inspector details summary').textContent")
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(folded.ends_with("more headers"), "{folded}");

    for (width, panel_shot, diagram_shot) in [
        (1200, "7-panel-at-1200px.png", "9-diagram-at-1200px.png"),
        (400, "8-panel-at-400px.png", "10-diagram-at-400px.png"),
    ] {
        browser.command(
            "POST",
            "/window/rect",
            Some(&format!(r#"{{"width":{width},"height":900}}"#)),
        );
        assert_eq!(
            clipped_marked_lines(&browser),
            Vec::<String>::new(),
            "marked lines cut off at {width} pixels"
        );
        show_panel(&browser);
        browser.screenshot(&shots.join(panel_shot));
        browser.execute(
            "document.querySelector('svg.diagram').scrollIntoView({block: 'start'}); return 0",
        );
        browser.screenshot(&shots.join(diagram_shot));
    }
}

#[test]
#[ignore = "needs chromium and chromium-driver (apt-get install chromium chromium-driver); .ci/run runs it"]
fn the_inspector_shows_the_hand_stamp_in_the_browser() {
    let server = TestServer::start();
    let base = format!("http://{}", server.addr);
    let browser = Browser::start();
    let shots = screenshots_folder();

    // After the login form is submitted, the home page shows the 303 that
    // carried the Set-Cookie, and the file with the name.
    log_in_as_david(&browser, &base);
    let id = browser
        .cookies()
        .iter()
        .find(|c| c.get("name").and_then(Json::as_str) == Some("session"))
        .and_then(|c| c.get("value").and_then(Json::as_str).map(str::to_string))
        .expect("a session cookie");
    let panel = panel_text(&browser);
    for expected in [
        "POST /login HTTP/1.1 → HTTP/1.1 303 See Other (app::login)",
        &format!("Set-Cookie: session={id}; Path=/; HttpOnly; SameSite=Lax"),
        &format!("Cookie: session={id}"),
        "name=David",
        "app::index in src/app.rs",
    ] {
        assert!(
            panel.contains(expected),
            "missing {expected:?} in the panel:\n{panel}"
        );
    }
    show_panel(&browser);
    browser.screenshot(&shots.join("4-inspector-after-login.png"));

    // A second browser (its own profile: a second visitor) logs in too: the
    // sessions page lists two files.
    let other = Browser::start();
    other.go(&format!("{base}/login"));
    other.type_into(&other.find("input[name=name]"), "Ann");
    other.click(&other.find("input[type=submit]"));
    other.wait_for_text("You are logged in as Ann.");
    browser.go(&format!("{base}{}", server.sessions_page));
    browser.wait_for_text("2 files.");
    let listing = browser.page_text();
    assert!(
        listing.contains("name=David") && listing.contains("name=Ann"),
        "{listing}"
    );
    browser.screenshot(&shots.join("6-sessions-page.png"));
    drop(other);

    // After "Log out", the login page shows the logout answer with
    // Max-Age=0 and that the file was deleted.
    browser.go(&format!("{base}/"));
    browser.wait_for_text("You are logged in as David.");
    browser.click(&browser.find_link("Log out"));
    browser.wait_for_url(&format!("{base}/login"));
    let panel = panel_text(&browser);
    for expected in [
        "GET /logout HTTP/1.1 → HTTP/1.1 302 Found (app::logout)",
        "Set-Cookie: session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax",
        &format!("/{id}, was deleted by this request"),
        "GET / HTTP/1.1 → HTTP/1.1 302 Found (app::index)",
    ] {
        assert!(
            panel.contains(expected),
            "missing {expected:?} in the panel:\n{panel}"
        );
    }
    show_panel(&browser);
    browser.screenshot(&shots.join("5-inspector-after-logout.png"));

    // "Add to cart" with no session: the cart page shows the session made.
    browser.go(&format!("{base}/store"));
    browser.click(&browser.find_all("ul.items button")[1]);
    browser.wait_for_url(&format!("{base}/cart"));
    let panel = panel_text(&browser);
    assert!(
        panel.contains("POST /cart HTTP/1.1 → HTTP/1.1 303 See Other (app::add_to_cart)")
            && panel.contains("gives your browser a new id")
            && panel.contains("cart=2"),
        "{panel}"
    );
}

/// A second origin (another port on 127.0.0.1) serving pages that try to
/// change the visitor's session on handstamp without them knowing.
struct AttackerSite {
    addr: std::net::SocketAddr,
}

impl AttackerSite {
    fn start(target: &str) -> AttackerSite {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let target = target.to_string();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                let _ = reader.read_line(&mut request_line);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let path = request_line.split(' ').nth(1).unwrap_or("/");
                let page = match path {
                    "/login" => format!(
                        "<form action=\"{target}/login\" method=\"post\"><input name=\"name\" value=\"Mallory\"></form>\
                         <script>document.forms[0].submit()</script>"
                    ),
                    "/cart" => format!(
                        "<form action=\"{target}/cart\" method=\"post\"><input name=\"id\" value=\"5\"></form>\
                         <script>document.forms[0].submit()</script>"
                    ),
                    // A plain link the visitor clicks: no script, no form.
                    "/link" => {
                        format!("<p><a id=\"go\" href=\"{target}/logout\">a funny cat</a></p>")
                    }
                    // A sibling subdomain sets a second `session` cookie
                    // for the whole domain (cookie tossing).
                    "/toss" => {
                        "<script>document.cookie = \"session=0123456789abcdef0123456789abcdef; \
                         domain=class.test; path=/\"</script><p>tossed</p>"
                            .to_string()
                    }
                    _ => format!("<script>location = \"{target}/logout\"</script>"),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
            }
        });
        AttackerSite { addr }
    }
}

#[test]
#[ignore = "needs chromium and chromium-driver (apt-get install chromium chromium-driver); .ci/run runs it"]
fn another_site_cannot_log_the_visitor_in_out_or_fill_their_cart() {
    let server = TestServer::start();
    let base = format!("http://{}", server.addr);
    let attacker = AttackerSite::start(&base);
    let browser = Browser::start();

    // The visitor logs in and adds an item.
    log_in_as_david(&browser, &base);
    browser.go(&format!("{base}/store"));
    browser.click(&browser.find_all("ul.items button")[0]);
    browser.wait_for_url(&format!("{base}/cart"));
    let session = |browser: &Browser| {
        browser
            .cookies()
            .iter()
            .find(|c| c.get("name").and_then(Json::as_str) == Some("session"))
            .and_then(|c| c.get("value").and_then(Json::as_str).map(str::to_string))
    };
    let id = session(&browser).expect("a session cookie");
    let file = server.session_file(&id);
    assert!(
        file.contains("cart=1\nname=David\n") || file.contains("name=David\ncart=1\n"),
        "{file}"
    );

    // Each attack page, from the other origin: a forged login, a forged
    // add to the cart, a navigation to /logout.
    for attack in ["/login", "/cart", "/logout"] {
        browser.go(&format!("http://{}{attack}", attacker.addr));
        browser.wait_for_text("started by another site");
        assert_eq!(
            session(&browser).as_deref(),
            Some(id.as_str()),
            "{attack}: cookie changed"
        );
        assert_eq!(
            server.session_file(&id),
            file,
            "{attack}: the session changed"
        );
        assert_eq!(
            server.session_dir_entries(),
            std::slice::from_ref(&id),
            "{attack}"
        );
    }
    browser.go(&format!("{base}/"));
    browser.wait_for_text("You are logged in as David.");
    server.wait_for_log("POST /login 403");

    // The visitor's own "Log out" link still works.
    browser.click(&browser.find_link("Log out"));
    browser.wait_for_url(&format!("{base}/login"));
    assert!(!server.session_path(&id).exists());
}

/// Host names under `.test` that Chromium resolves to 127.0.0.1: plain
/// HTTP names that are not `localhost`, so that Chromium sends neither
/// `Sec-Fetch-Site` nor `Origin` on a link (it sends them only to
/// trustworthy origins); `Referer` is all that is left.
const TEST_HOSTS: &str = "--host-resolver-rules=MAP *.test 127.0.0.1";

fn session_cookie_of(browser: &Browser) -> Option<String> {
    browser
        .cookies()
        .iter()
        .find(|c| c.get("name").and_then(Json::as_str) == Some("session"))
        .and_then(|c| c.get("value").and_then(Json::as_str).map(str::to_string))
}

/// Where the tests leave their screenshots: `target/screenshots/`.
fn screenshots_folder() -> std::path::PathBuf {
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    shots
}

/// Fills the login form at `base` with "David" and waits for the home page.
fn log_in_as_david(browser: &Browser, base: &str) {
    browser.go(&format!("{base}/login"));
    browser.type_into(&browser.find("input[name=name]"), "David");
    browser.click(&browser.find("input[type=submit]"));
    browser.wait_for_text("You are logged in as David.");
}

/// Logs in as David at `base` and adds item 1: a visitor with something
/// to lose. Returns the session id.
fn log_in_and_add_one(browser: &Browser, base: &str) -> String {
    log_in_as_david(browser, base);
    browser.go(&format!("{base}/store"));
    browser.click(&browser.find_all("ul.items button")[0]);
    browser.wait_for_url(&format!("{base}/cart"));
    session_cookie_of(browser).expect("a session cookie")
}

#[test]
#[ignore = "needs chromium and chromium-driver (apt-get install chromium chromium-driver); .ci/run runs it"]
fn a_link_on_another_plain_http_site_cannot_log_the_visitor_out() {
    let server = TestServer::start();
    let base = format!("http://www.class.test:{}", server.addr.port());
    let attacker = AttackerSite::start(&base);
    let browser = Browser::start_with(&[TEST_HOSTS]);
    let id = log_in_and_add_one(&browser, &base);
    let file = server.session_file(&id);

    browser.go(&format!("http://evil.test:{}/link", attacker.addr.port()));
    browser.click(&browser.find("#go"));
    browser.wait_for_text("started by another site");
    assert!(
        browser.page_text().contains("Referer: http://evil.test"),
        "refused by its Referer: {}",
        browser.page_text()
    );
    server.wait_for_log("GET /logout 403");
    assert_eq!(server.session_file(&id), file, "still logged in, cart kept");
    assert_eq!(session_cookie_of(&browser).as_deref(), Some(id.as_str()));

    // The site's own "Log out" link (Referer: this site) still works, and
    // so does a typed URL (no Referer at all).
    browser.go(&format!("{base}/"));
    browser.wait_for_text("You are logged in as David.");
    browser.click(&browser.find_link("Log out"));
    browser.wait_for_url(&format!("{base}/login"));
    assert!(!server.session_path(&id).exists());
    let id = log_in_and_add_one(&browser, &base);
    browser.go(&format!("{base}/logout"));
    browser.wait_for_url(&format!("{base}/login"));
    assert!(!server.session_path(&id).exists(), "a typed /logout works");
}

#[test]
#[ignore = "needs chromium and chromium-driver (apt-get install chromium chromium-driver); .ci/run runs it"]
fn a_second_session_cookie_from_a_sibling_site_never_replaces_the_visitors() {
    let server = TestServer::start();
    let base = format!("http://www.class.test:{}", server.addr.port());
    let attacker = AttackerSite::start(&base);
    let browser = Browser::start_with(&[TEST_HOSTS]);
    let id = log_in_and_add_one(&browser, &base);
    let file = server.session_file(&id);

    browser.go(&format!(
        "http://evil.class.test:{}/toss",
        attacker.addr.port()
    ));
    browser.wait_for_text("tossed");
    // The visitor adds another item: their browser now sends two session
    // cookies, and the server refuses rather than start a new session.
    browser.go(&format!("{base}/store"));
    browser.click(&browser.find_all("ul.items button")[1]);
    browser.wait_for_text("two session cookies with different ids");
    assert!(browser.page_text().contains("Clear this site's cookies"));
    assert_eq!(server.session_file(&id), file, "the cart is as it was");
    assert_eq!(
        server.session_dir_entries(),
        std::slice::from_ref(&id),
        "no orphan session"
    );
    let own: Vec<String> = browser
        .cookies()
        .iter()
        .filter(|c| c.get("name").and_then(Json::as_str) == Some("session"))
        .filter_map(|c| c.get("value").and_then(Json::as_str).map(str::to_string))
        .collect();
    assert!(
        own.contains(&id),
        "the visitor's cookie was not replaced: {own:?}"
    );
    server.wait_for_log("POST /cart 400");
}

/// A ChromeDriver process and one browser session in it.
struct Browser {
    driver: Child,
    port: u16,
    session: String,
    profile: TempDir,
}

impl Browser {
    fn start() -> Browser {
        Browser::start_with(&[])
    }

    /// With more Chromium flags, such as `--host-resolver-rules`.
    fn start_with(extra_args: &[&str]) -> Browser {
        let mut driver = Command::new("chromedriver")
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver must be installed (apt-get install chromium-driver)");
        let stdout = BufReader::new(driver.stdout.take().unwrap());
        let mut port = None;
        for line in stdout.lines().map_while(Result::ok) {
            if let Some(rest) = line.split("started successfully on port ").nth(1) {
                port = rest.trim_end_matches('.').parse().ok();
                break;
            }
        }
        let port = port.expect("chromedriver printed its port");
        let profile = TempDir::new("chromium-profile");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=900,700",
        ]
        .iter()
        .chain(extra_args)
        .map(|a| json_string(a))
        .chain([json_string(&format!(
            "--user-data-dir={}",
            profile.0.display()
        ))])
        .collect::<Vec<_>>()
        .join(",");
        let capabilities = format!(
            r#"{{"capabilities":{{"alwaysMatch":{{"browserName":"chrome","goog:chromeOptions":{{"binary":"/usr/bin/chromium","args":[{args}]}}}}}}}}"#
        );
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
            profile,
        };
        let created = browser.call("POST", "/session", Some(&capabilities));
        browser.session = created
            .get("sessionId")
            .and_then(Json::as_str)
            .unwrap_or_else(|| panic!("no session from chromedriver: {created:?}"))
            .to_string();
        browser
    }

    /// One WebDriver command: returns the response's `value`.
    fn call(&self, method: &str, path: &str, body: Option<&str>) -> Json {
        let body = body.unwrap_or(if method == "POST" { "{}" } else { "" });
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        // ChromeDriver keeps connections open: read the head, then exactly
        // Content-Length bytes.
        let mut client = common::Client {
            stream,
            buffer: Vec::new(),
        };
        let reply = client.read_reply();
        let json = reply.body_text();
        let parsed = Json::parse(&json).unwrap_or_else(|| panic!("bad JSON: {json}"));
        let value = parsed.get("value").cloned().unwrap_or(Json::Null);
        if let Some(error) = value.get("error") {
            panic!(
                "WebDriver {method} {path} failed: {error:?} {:?}",
                value.get("message")
            );
        }
        value
    }

    fn command(&self, method: &str, path: &str, body: Option<&str>) -> Json {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    fn go(&self, url: &str) {
        self.command(
            "POST",
            "/url",
            Some(&format!(r#"{{"url":{}}}"#, json_string(url))),
        );
    }

    fn url(&self) -> String {
        self.command("GET", "/url", None)
            .as_str()
            .unwrap()
            .to_string()
    }

    fn refresh(&self) {
        self.command("POST", "/refresh", None);
    }

    fn back(&self) {
        self.command("POST", "/back", None);
    }

    fn page_text(&self) -> String {
        self.execute("return document.body ? document.body.innerText : ''")
            .as_str()
            .unwrap_or_default()
            .replace('\u{a0}', " ")
    }

    fn execute(&self, script: &str) -> Json {
        let body = format!(r#"{{"script":{},"args":[]}}"#, json_string(script));
        self.command("POST", "/execute/sync", Some(&body))
    }

    fn find_all(&self, css: &str) -> Vec<String> {
        let body = format!(r#"{{"using":"css selector","value":{}}}"#, json_string(css));
        match self.command("POST", "/elements", Some(&body)) {
            Json::Array(items) => items.iter().map(element_id).collect(),
            other => panic!("elements: {other:?}"),
        }
    }

    fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(first) = self.find_all(css).into_iter().next() {
                return first;
            }
            assert!(
                Instant::now() < deadline,
                "no element {css}; page:\n{}",
                self.page_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn find_link(&self, text: &str) -> String {
        let body = format!(r#"{{"using":"link text","value":{}}}"#, json_string(text));
        element_id(&self.command("POST", "/element", Some(&body)))
    }

    fn click(&self, element: &str) {
        self.command("POST", &format!("/element/{element}/click"), None);
    }

    fn type_into(&self, element: &str, text: &str) {
        let body = format!(r#"{{"text":{}}}"#, json_string(text));
        self.command("POST", &format!("/element/{element}/value"), Some(&body));
    }

    fn cookies(&self) -> Vec<Json> {
        match self.command("GET", "/cookie", None) {
            Json::Array(cookies) => cookies,
            other => panic!("cookies: {other:?}"),
        }
    }

    fn window_handle(&self) -> String {
        self.command("GET", "/window", None)
            .as_str()
            .unwrap()
            .to_string()
    }

    fn new_tab_at(&self, url: &str) {
        let created = self.command("POST", "/window/new", Some(r#"{"type":"tab"}"#));
        let handle = created
            .get("handle")
            .and_then(Json::as_str)
            .unwrap()
            .to_string();
        self.switch_to(&handle);
        self.go(url);
    }

    fn switch_to(&self, handle: &str) {
        let body = format!(r#"{{"handle":{}}}"#, json_string(handle));
        self.command("POST", "/window", Some(&body));
    }

    fn wait_for_url(&self, expected: &str) {
        let deadline = Instant::now() + WAIT;
        while self.url() != expected {
            assert!(
                Instant::now() < deadline,
                "URL stayed {} (wanted {expected})",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_for_text(&self, text: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.page_text().contains(text) {
            assert!(
                Instant::now() < deadline,
                "the page never said {text:?}; it says:\n{}",
                self.page_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn screenshot(&self, path: &std::path::Path) {
        let png = self.command("GET", "/screenshot", None);
        let bytes = base64_decode(png.as_str().expect("base64 PNG"));
        assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, bytes).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let session = std::mem::take(&mut self.session);
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.call("DELETE", &format!("/session/{session}"), None)
            }));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // If the session could not be closed (a failed step), Chromium's
        // processes outlive the driver: find them by their profile folder.
        let profile = self.profile.0.display().to_string();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&profile) {
                let _ = Command::new("kill")
                    .arg("-9")
                    .arg(entry.file_name())
                    .status();
            }
        }
    }
}

fn element_id(value: &Json) -> String {
    const KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
    value
        .get(KEY)
        .and_then(Json::as_str)
        .unwrap_or_else(|| panic!("not an element: {value:?}"))
        .to_string()
}

/// Just enough JSON for WebDriver's answers.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn parse(text: &str) -> Option<Json> {
        let mut chars = text.trim().chars().peekable();
        let value = parse_value(&mut chars)?;
        Some(value)
    }

    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(pairs) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

fn skip_space(chars: &mut Chars) {
    while chars.peek().is_some_and(|c| c.is_whitespace()) {
        chars.next();
    }
}

fn parse_value(chars: &mut Chars) -> Option<Json> {
    skip_space(chars);
    match *chars.peek()? {
        '{' => {
            chars.next();
            let mut pairs = Vec::new();
            loop {
                skip_space(chars);
                if chars.peek() == Some(&'}') {
                    chars.next();
                    return Some(Json::Object(pairs));
                }
                let Json::String(key) = parse_value(chars)? else {
                    return None;
                };
                skip_space(chars);
                (chars.next()? == ':').then_some(())?;
                pairs.push((key, parse_value(chars)?));
                skip_space(chars);
                if chars.peek() == Some(&',') {
                    chars.next();
                }
            }
        }
        '[' => {
            chars.next();
            let mut items = Vec::new();
            loop {
                skip_space(chars);
                if chars.peek() == Some(&']') {
                    chars.next();
                    return Some(Json::Array(items));
                }
                items.push(parse_value(chars)?);
                skip_space(chars);
                if chars.peek() == Some(&',') {
                    chars.next();
                }
            }
        }
        '"' => {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next()? {
                    '"' => return Some(Json::String(text)),
                    '\\' => match chars.next()? {
                        'n' => text.push('\n'),
                        't' => text.push('\t'),
                        'r' => text.push('\r'),
                        'b' => text.push('\u{8}'),
                        'f' => text.push('\u{c}'),
                        'u' => {
                            let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                            let unit = u32::from_str_radix(&hex, 16).ok()?;
                            text.push(char::from_u32(unit).unwrap_or('\u{fffd}'));
                        }
                        other => text.push(other),
                    },
                    c => text.push(c),
                }
            }
        }
        't' | 'f' | 'n' => {
            let word: String =
                std::iter::from_fn(|| chars.next_if(|c| c.is_alphabetic())).collect();
            match word.as_str() {
                "true" => Some(Json::Bool(true)),
                "false" => Some(Json::Bool(false)),
                "null" => Some(Json::Null),
                _ => None,
            }
        }
        _ => {
            let number: String =
                std::iter::from_fn(|| chars.next_if(|c| "+-.eE0123456789".contains(*c))).collect();
            number.parse().ok().map(Json::Number)
        }
    }
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let sextets: Vec<u8> = text.bytes().filter_map(value).collect();
    let mut bytes = Vec::with_capacity(sextets.len() * 3 / 4);
    for group in sextets.chunks(4) {
        let mut buffer = 0u32;
        for (i, sextet) in group.iter().enumerate() {
            buffer |= u32::from(*sextet) << (18 - 6 * i);
        }
        let count = group.len() * 6 / 8;
        for i in 0..count {
            bytes.push((buffer >> (16 - 8 * i)) as u8);
        }
    }
    bytes
}
