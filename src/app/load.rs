//! Loading the app at start: templates, store items, the sessions folder
//! *(skip at first)*. Anything wrong is reported here, before the first
//! request, with what to do about it.

use std::path::{Path, PathBuf};

use super::{
    App, Item, LogoutMode, cart_page, index_page, login_page, sessions_page_html, store_page,
};
use crate::inspector::Inspector;
use crate::log::Log;
use crate::session::{self, OpenError, SessionSettings, SessionStore};
use crate::template::{TemplateError, Templates};

/// What can stop the app from loading. Each message says what to do;
/// server.rs adds the errors of binding the socket.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Sessions(#[from] OpenError),
    #[error("cannot use '{path}' for the panel's records: {source}")]
    PanelRecords {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read '{path}': {problem}; is --www pointing at handstamp's www folder?")]
    Www { path: PathBuf, problem: String },
    #[error("a page template does not fit the code: {0}")]
    Template(String),
}

impl App {
    pub fn load(
        www_dir: &Path,
        settings: SessionSettings,
        log: Log,
        inspector_on: bool,
        logout_mode: LogoutMode,
    ) -> Result<App, LoadError> {
        let www_error = |path: PathBuf, problem: String| LoadError::Www { path, problem };
        let templates_dir = www_dir.join("templates");
        let templates =
            Templates::load(&templates_dir).map_err(|problem| www_error(templates_dir, problem))?;
        let items_path = www_dir.join("items.txt");
        let items = load_items(&items_path).map_err(|problem| www_error(items_path, problem))?;
        let static_dir = www_dir.join("static");
        let static_dir = static_dir
            .canonicalize()
            .map_err(|e| www_error(static_dir, e.to_string()))?;
        let sessions_dir = settings.dir.clone();
        let log_for_store = log.clone();
        let report = Box::new(move |line: &str| log_for_store.error(line));
        let sessions = SessionStore::open(settings, report)?;
        let not_writable = |source| LoadError::PanelRecords {
            path: sessions_dir.join(".inspector"),
            source,
        };
        let inspector = match inspector_on {
            true => Some(Inspector::open(&sessions_dir, &sessions).map_err(not_writable)?),
            false => None,
        };
        let app = App {
            sessions,
            templates,
            items,
            static_dir,
            log,
            inspector,
            logout_mode,
            sessions_page_secret: session::random_token(),
        };
        // Fill every page once now, so a template that does not fit the
        // code is reported at start, not on some later request.
        app.check_pages()
            .map_err(|error| LoadError::Template(error.to_string()))?;
        Ok(app)
    }

    fn check_pages(&self) -> Result<(), TemplateError> {
        index_page(self, "David")?;
        login_page(self, "", "")?;
        store_page(self)?;
        cart_page(self, "1,1")?;
        sessions_page_html(self, "")?;
        Ok(())
    }
}

/// `www/items.txt`: one item per line, `ID NAME`; `#` starts a comment.
fn load_items(path: &Path) -> Result<Vec<Item>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut items: Vec<Item> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad_line = || format!("line {} should be 'ID NAME', not '{line}'", number + 1);
        let (id, name) = line.split_once(' ').ok_or_else(bad_line)?;
        let id = id.parse::<u32>().map_err(|_| bad_line())?;
        if items.iter().any(|item| item.id == id) {
            return Err(format!("line {}: the id {id} is used twice", number + 1));
        }
        items.push(Item {
            id,
            name: name.trim().to_string(),
        });
    }
    Ok(items)
}
