//! The application: Flask's "login" example, and a small store with a cart.
//!
//! ```python
//! @app.route("/")
//! def index():
//!     if not session.get("name"):
//!         return redirect("/login")
//!     return render_template("index.html")
//! ```
//!
//! Each view here is one of those Flask views, and reads like it: it gets
//! the visitor's `session` ready to use, as Flask's do. Finding it from the
//! `Cookie` header, reading `sessions/ID`, and storing what the view
//! changed (with `Set-Cookie` when the id is new) happen around the view,
//! in flask_session.rs. One difference on purpose: logout deletes the
//! session instead of setting the name to None, so a logged-out visitor
//! has no name at all (`--logout clear-name` does what Flask does, for
//! comparison).

mod load;

use std::path::PathBuf;

use crate::flask_session::Session;
use crate::form;
use crate::inspector::{self, Inspector};
use crate::log::Log;
use crate::request::Request;
use crate::response::Response;
use crate::session::SessionStore;
use crate::template::{TemplateError, Templates, Value, escape_html};
pub use load::LoadError;

/// Everything the handlers need, loaded once at start.
pub struct App {
    pub sessions: SessionStore,
    pub templates: Templates,
    pub items: Vec<Item>,
    /// `www/static`, with symlinks resolved: files are served from under it.
    pub static_dir: PathBuf,
    pub log: Log,
    /// The panel on every page and the redirects it remembers; `None` with
    /// `--no-inspector`, which then costs nothing per request.
    pub inspector: Option<Inspector>,
    pub logout_mode: LogoutMode,
    /// The secret in the sessions page's address, `/sessions/SECRET`,
    /// printed at start: the page lists every visitor's session, so only
    /// whoever started the server may open it (router.rs).
    pub sessions_page_secret: String,
}

/// What logout does (`--logout=delete`, the default, or
/// `--logout=clear-name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutMode {
    /// Delete the session file and expire the cookie.
    Delete,
    /// Flask's `session["name"] = None`: keep both, store an empty name.
    ClearName,
}

/// One thing for sale, from `www/items.txt`.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: u32,
    pub name: String,
}

/// The longest name, in characters, that login accepts.
const MAX_NAME_CHARS: usize = 100;
/// The most items one cart holds: a session file stays small.
const MAX_CART_ITEMS: usize = 1000;

/// `GET /`: the name in the session, or off to the login form.
///
/// ```python
/// @app.route("/")
/// def index():
///     if not session.get("name"):
///         return redirect("/login")
///     return render_template("index.html")
/// ```
pub fn index(_request: &Request, app: &App, session: &mut Session) -> Response {
    // An empty name (`--logout=clear-name`) counts as none, as Flask's
    // `if not session.get("name")` has it.
    match session.get("name").filter(|name| !name.is_empty()) {
        Some(name) => page_or_500(app, 200, index_page(app, name)),
        None if session.exists() => {
            session.note_for_log("a session with no name");
            Response::found("/login")
        }
        None => Response::found("/login"),
    }
}

/// `GET /login`: the form.
pub fn login_form(_request: &Request, app: &App) -> Response {
    page_or_500(app, 200, login_page(app, "", ""))
}

/// `POST /login`: check the name, then store it in the session, under a
/// new id (`renew_id`), so an id someone knew before the login (planted in
/// the victim's browser, say) is worthless after it: session fixation.
///
/// ```python
/// @app.route("/login", methods=["POST", "GET"])
/// def login():
///     if request.method == "POST":
///         session["name"] = request.form.get("name")
///         return redirect("/")
///     return render_template("login.html")
/// ```
pub fn login(request: &Request, app: &App, session: &mut Session) -> Response {
    let typed = match form_field(request, "name") {
        Ok(typed) => typed,
        Err(refusal) => return refusal,
    };
    if let Err(problem) = check_name(typed.trim()) {
        return login_form_saying(app, &problem, &typed);
    }
    session.renew_id();
    session.set("name", typed.trim());
    Response::see_other("/")
}

/// The login form again, `400`, saying what is wrong with the name typed.
fn login_form_saying(app: &App, problem: &str, typed: &str) -> Response {
    let message = format!("<p class=\"error\">{}</p>", escape_html(problem));
    page_or_500(app, 400, login_page(app, &message, typed))
}

/// A name is 1 to 100 characters, after trimming, with no control
/// characters. Returns what is wrong, in words for the visitor.
pub fn check_name(name: &str) -> Result<(), String> {
    // Characters, not bytes: "Zoë" is three long.
    let length = name.chars().count();
    if length == 0 {
        return Err("Please type a name.".to_string());
    }
    if length > MAX_NAME_CHARS {
        return Err(format!(
            "A name can be at most {MAX_NAME_CHARS} characters; this one has {length}."
        ));
    }
    // A tab or line break in a name would break the page and the log.
    if name.chars().any(char::is_control) {
        return Err(
            "A name cannot contain control characters such as tabs or line breaks.".to_string(),
        );
    }
    Ok(())
}

/// `GET` or `POST /logout`. By default the session is deleted and the
/// cookie expired. With `--logout=clear-name` it does what the Flask
/// example does, `session["name"] = None`: the file and the cookie stay,
/// with an empty name (NOTES.md puts the two side by side).
///
/// ```python
/// @app.route("/logout")
/// def logout():
///     session["name"] = None
///     return redirect("/")
/// ```
pub fn logout(request: &Request, app: &App, session: &mut Session) -> Response {
    match app.logout_mode {
        LogoutMode::Delete => session.clear(),
        LogoutMode::ClearName if session.exists() => session.set("name", ""),
        LogoutMode::ClearName => {}
    }
    // A POST is answered 303, so the browser follows with a GET.
    match request.method.as_str() {
        "POST" => Response::see_other("/"),
        _ => Response::found("/"),
    }
}

/// `GET /store`: the items, each with an "Add to cart" form.
pub fn store(_request: &Request, app: &App) -> Response {
    page_or_500(app, 200, store_page(app))
}

/// `POST /cart`: add item `id` to the session's cart; the first add makes
/// a session (flask_session.rs stores it, with a new id).
pub fn add_to_cart(request: &Request, app: &App, session: &mut Session) -> Response {
    let raw_id = match form_field(request, "id") {
        Ok(raw_id) => raw_id,
        Err(refusal) => return refusal,
    };
    let Some(item) = raw_id
        .parse::<u32>()
        .ok()
        .and_then(|id| app.items.iter().find(|item| item.id == id))
    else {
        let reason = format!("There is no item with id '{raw_id}' in the store.");
        return Response::error(400, &reason);
    };
    if let Err(response) = add_item(session, item.id) {
        return response;
    }
    Response::see_other("/cart")
}

/// The cart is a list of item ids in the order they were added: `2,2,5`.
fn add_item(session: &mut Session, item_id: u32) -> Result<(), Response> {
    let cart = session.get("cart").unwrap_or_default();
    let count = cart.split(',').filter(|id| !id.is_empty()).count();
    if count >= MAX_CART_ITEMS {
        let reason = format!("The cart is full: it holds at most {MAX_CART_ITEMS} items.");
        return Err(Response::error(400, &reason));
    }
    let cart = match cart {
        "" => item_id.to_string(),
        _ => format!("{cart},{item_id}"),
    };
    session.set("cart", &cart);
    Ok(())
}

/// `GET /cart`: each item in the cart with its count.
pub fn cart(_request: &Request, app: &App, session: &mut Session) -> Response {
    let cart = session.get("cart").unwrap_or_default();
    page_or_500(app, 200, cart_page(app, cart))
}

/// `GET /sessions/SECRET`: the sessions folder as `ls -l` and `cat` show
/// it, the viewer's own file marked (router.rs checks the secret).
pub fn sessions_page(_request: &Request, app: &App, session: &mut Session) -> Response {
    match inspector::sessions_listing_html(&app.sessions, session.id()) {
        // The address holds the secret: no link from this page may carry
        // it to another site in a `Referer`. (Like every page made from a
        // session, it is also marked `no-store`, by flask_session.rs.)
        Ok(listing) => page_or_500(app, 200, sessions_page_html(app, &listing))
            .with_header("Referrer-Policy", "no-referrer"),
        // Redis not answering is a moment's trouble; a folder that cannot
        // be read stays so until someone fixes it.
        Err(error) if app.sessions.redis().is_some() => {
            Response::error(503, &format!("The sessions could not be listed: {error}."))
                .with_header("Retry-After", "5")
        }
        Err(error) => Response::error(
            500,
            &format!("The sessions folder could not be read: {error}."),
        ),
    }
}

fn sessions_page_html(app: &App, listing_html: &str) -> Result<String, TemplateError> {
    app.templates.page(
        "Sessions",
        "sessions.html",
        &[("listing", Value::Html(listing_html))],
    )
}

/// The fields of a form body. A body of another type is refused with 415;
/// one without a type is read as a form, as curl's `--data` sends it.
/// One field of a form body (`""` if it is missing), or the answer that
/// refuses the body.
fn form_field(request: &Request, name: &str) -> Result<String, Response> {
    let fields = read_form(request)?;
    Ok(form::field(&fields, name).unwrap_or_default().to_string())
}

fn read_form(request: &Request) -> Result<Vec<(String, String)>, Response> {
    // A body of another type (JSON, multipart) is not this form: 415,
    // rather than reading it as if it were.
    if let Some(content_type) = request.header("content-type") {
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        if !media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            let reason =
                format!("This form takes application/x-www-form-urlencoded, not '{media_type}'.");
            return Err(Response::error(415, &reason));
        }
    }
    // A broken escape or a body that is not text: 400, saying which.
    request
        .form()
        .map_err(|error| Response::error(400, &format!("{error}.")))
}

/// A filled page, or a 500 naming the template mistake.
fn page_or_500(app: &App, status: u16, page: Result<String, TemplateError>) -> Response {
    match page {
        Ok(html) => Response::html(status, html),
        Err(error) => {
            app.log.error(&format!("template error: {error}"));
            Response::error(500, &format!("A page template is broken: {error}"))
        }
    }
}

fn index_page(app: &App, name: &str) -> Result<String, TemplateError> {
    app.templates
        .page("Home", "index.html", &[("name", Value::Text(name))])
}

/// `message_html` is empty or a `<p class="error">` the code built;
/// `typed_name` refills the input after a mistake.
fn login_page(app: &App, message_html: &str, typed_name: &str) -> Result<String, TemplateError> {
    app.templates.page(
        "Log in",
        "login.html",
        &[
            ("message", Value::Html(message_html)),
            ("name", Value::Text(typed_name)),
        ],
    )
}

fn store_page(app: &App) -> Result<String, TemplateError> {
    let mut items_html = String::new();
    for item in &app.items {
        items_html.push_str(&format!(
            "<li><span class=\"item\">{}</span>\n\
             <form action=\"/cart\" method=\"post\"><input type=\"hidden\" name=\"id\" value=\"{}\">\
             <button type=\"submit\">Add to cart</button></form></li>\n",
            escape_html(&item.name),
            item.id
        ));
    }
    app.templates.page(
        "Store",
        "store.html",
        &[("items", Value::Html(&items_html))],
    )
}

/// `cart` is the session's list, `2,2,5`; the page shows each item once,
/// with its count, in the order first added.
fn cart_page(app: &App, cart: &str) -> Result<String, TemplateError> {
    let mut counts: Vec<(u32, usize)> = Vec::new();
    for id in cart.split(',').filter_map(|id| id.parse::<u32>().ok()) {
        match counts.iter_mut().find(|(seen, _)| *seen == id) {
            Some((_, count)) => *count += 1,
            None => counts.push((id, 1)),
        }
    }
    let mut rows_html = String::new();
    for (id, count) in &counts {
        // An item removed from items.txt since it was added is skipped.
        if let Some(item) = app.items.iter().find(|item| item.id == *id) {
            rows_html.push_str(&format!(
                "<li><span class=\"item\">{}</span> <span class=\"count\">× {count}</span></li>\n",
                escape_html(&item.name)
            ));
        }
    }
    if rows_html.is_empty() {
        rows_html.push_str("<li class=\"empty\">Your cart is empty.</li>\n");
    }
    app.templates
        .page("Cart", "cart.html", &[("rows", Value::Html(&rows_html))])
}

/// Each view beside its Flask original, run in-process: a request, a
/// session as Flask would hand it over, and what the view did to both.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::flask_session::Change;
    use crate::log::LogMode;
    use crate::request::parse_head;
    use crate::session::{SessionData, SessionId, SessionSettings};
    use std::path::Path;

    /// The app on the repository's www folder and a scratch sessions folder.
    fn app(label: &str) -> (App, PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("handstamp-views-{label}-{}", std::process::id()));
        let settings = SessionSettings {
            dir: dir.clone(),
            redis: None,
            ttl_secs: 1800,
            lifetime_secs: 28800,
            max_sessions: 100,
        };
        let www = Path::new(env!("CARGO_MANIFEST_DIR")).join("www");
        let app = App::load(
            &www,
            settings,
            Log::start(LogMode::Quiet),
            false,
            LogoutMode::Delete,
        );
        (app.expect("the app loads"), dir)
    }

    fn request(head: &str, body: &str) -> Request {
        let mut request = parse_head(head.as_bytes()).unwrap();
        request.body = body.as_bytes().to_vec();
        request
    }

    fn logged_in_as(name: &str) -> Session {
        let mut data = SessionData::new(1_795_000_000);
        data.set("name", name);
        Session::found(SessionId::new_random(), data)
    }

    #[test]
    fn index_greets_the_name_in_the_session_or_sends_to_login() {
        let (app, dir) = app("index");
        let get = request("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "");
        let page = index(&get, &app, &mut logged_in_as("David"));
        assert_eq!(page.status, 200);
        assert!(String::from_utf8_lossy(&page.body).contains("You are logged in as David."));
        let redirect = index(&get, &app, &mut Session::none());
        assert_eq!(
            (redirect.status, redirect.header("location")),
            (302, Some("/login"))
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn login_stores_the_trimmed_name_under_a_new_id() {
        let (app, dir) = app("login");
        let post = request(
            "POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: 14\r\n\r\n",
            "name=+David%21",
        );
        let mut session = Session::none();
        let answer = login(&post, &app, &mut session);
        assert_eq!((answer.status, answer.header("location")), (303, Some("/")));
        assert_eq!(session.get("name"), Some("David!"));
        assert_eq!(session.change(), Change::NewId, "a new id at every login");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn login_refuses_an_empty_name_and_changes_nothing() {
        let (app, dir) = app("login-empty");
        let post = request(
            "POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: 8\r\n\r\n",
            "name=+++",
        );
        let mut session = logged_in_as("David");
        let answer = login(&post, &app, &mut session);
        assert_eq!(answer.status, 400);
        assert!(String::from_utf8_lossy(&answer.body).contains("Please type a name."));
        assert_eq!(session.change(), Change::Nothing);
        assert_eq!(session.get("name"), Some("David"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn logout_clears_the_session_and_goes_home() {
        let (app, dir) = app("logout");
        let get = request("GET /logout HTTP/1.1\r\nHost: a\r\n\r\n", "");
        let mut session = logged_in_as("David");
        let answer = logout(&get, &app, &mut session);
        assert_eq!((answer.status, answer.header("location")), (302, Some("/")));
        assert_eq!(session.change(), Change::Cleared);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn add_to_cart_appends_the_item_in_the_order_added() {
        let (app, dir) = app("cart");
        let add = |id: &str, session: &mut Session| {
            let body = format!("id={id}");
            let head = format!(
                "POST /cart HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            add_to_cart(&request(&head, &body), &app, session)
        };
        let mut session = Session::none();
        assert_eq!(add("2", &mut session).status, 303);
        assert_eq!(add("5", &mut session).status, 303);
        assert_eq!(session.get("cart"), Some("2,5"));
        assert_eq!(session.change(), Change::Values);
        assert_eq!(add("999", &mut session).status, 400, "no such item");
        assert_eq!(session.get("cart"), Some("2,5"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
