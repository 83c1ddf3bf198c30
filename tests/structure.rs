//! The source reads in one direction: `src/lib.rs` lists the files in the
//! order a request reaches them, calls go down that list, and nothing loops
//! back. This test reads `src/*.rs` as text and checks it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every module of `src/` (file name without `.rs`), lib.rs excluded.
fn source_modules() -> BTreeSet<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    std::fs::read_dir(&src)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|name| name.strip_suffix(".rs").map(str::to_string))
        .filter(|name| name != "lib")
        .collect()
}

fn read_source(module: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(format!("{module}.rs"));
    std::fs::read_to_string(path).unwrap()
}

/// The files in the map at the top of lib.rs, in order: the lines of its
/// `text` block that start with `NAME.rs`.
fn lib_map() -> Vec<String> {
    let lib = read_source("lib");
    let block = lib
        .split("//! ```text\n")
        .skip(1)
        .find(|block| block.starts_with("//! main.rs"))
        .expect("lib.rs has a ```text block that starts with main.rs: the file map");
    block
        .lines()
        .take_while(|line| !line.starts_with("//! ```"))
        .filter_map(|line| line.strip_prefix("//! "))
        .filter_map(|line| line.split_whitespace().next())
        .filter_map(|file| file.strip_suffix(".rs").map(str::to_string))
        .collect()
}

/// For one file: each `crate::MODULE` it uses, with the names it takes
/// from it. `use crate::a::{self, B}` gives `a: {self, B}`;
/// `crate::a::f(x)` in code gives `a: {f}`.
fn uses_of(source: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // Unit tests at the bottom of a file may use anything to build inputs.
    let source = source.split("#[cfg(test)]\nmod tests").next().unwrap();
    let code: String = source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let module: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let after = &rest[module.len()..];
        let names = uses.entry(module).or_default();
        match after.strip_prefix("::") {
            Some(group) if group.starts_with('{') => {
                let inner = &group[1..group.find('}').expect("a closed use group")];
                for name in inner.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    names.insert(name.split("::").next().unwrap().to_string());
                }
            }
            Some(path) => {
                let name: String = path
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                names.insert(name);
            }
            None => {
                names.insert("self".to_string());
            }
        }
    }
    uses
}

/// A name taken from a module: a type or constant (`Request`, `LogMode`,
/// `SESSION_COOKIE`) starts with a capital; a function or the module
/// itself (`self`, used as `log::exchange(...)`) does not.
fn is_type_or_constant(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
}

#[test]
fn the_lib_map_lists_every_source_file_once_and_declares_it() {
    let map = lib_map();
    let listed: BTreeSet<String> = map.iter().cloned().collect();
    assert_eq!(listed.len(), map.len(), "a file is listed twice: {map:?}");
    assert_eq!(listed, source_modules(), "lib.rs's map and src/ differ");
    let lib = read_source("lib");
    let declared: BTreeSet<String> = lib
        .lines()
        .filter_map(|line| line.strip_prefix("pub mod "))
        .map(|name| name.trim_end_matches(';').to_string())
        .filter(|name| name != "main")
        .collect();
    let expected: BTreeSet<String> = listed.into_iter().filter(|m| m != "main").collect();
    assert_eq!(declared, expected, "pub mod lines and the map differ");
}

#[test]
fn calls_only_go_down_the_map_and_imports_never_loop() {
    let map = lib_map();
    let position = |module: &str| map.iter().position(|m| m == module);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut backwards = Vec::new();
    for module in &map {
        let at = position(module).unwrap();
        for (used, names) in uses_of(&read_source(module)) {
            let used_at = position(&used).unwrap_or_else(|| {
                panic!("{module}.rs uses crate::{used}, which is not in the map")
            });
            graph
                .entry(module.clone())
                .or_default()
                .insert(used.clone());
            if used_at < at {
                for name in names.iter().filter(|name| !is_type_or_constant(name)) {
                    backwards.push(format!("{module}.rs calls {used}::{name} from above it"));
                }
            }
        }
    }
    assert!(
        backwards.is_empty(),
        "calls back up the map:\n{}",
        backwards.join("\n")
    );

    // Depth-first search for a cycle in the whole import graph.
    fn visit<'a>(
        module: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if let Some(start) = path.iter().position(|m| *m == module) {
            panic!("import cycle: {} -> {module}", path[start..].join(" -> "));
        }
        if !done.insert(module) {
            return;
        }
        path.push(module);
        for next in graph.get(module).into_iter().flatten() {
            visit(next, graph, path, done);
        }
        path.pop();
    }
    let mut done = BTreeSet::new();
    for module in &map {
        visit(module, &graph, &mut Vec::new(), &mut done);
    }
}

#[test]
fn the_checker_sees_a_loop_and_a_call_back_up() {
    // The rules above must be able to fail: a made-up file that calls a
    // function of a module above it, and two modules that use each other.
    let uses =
        uses_of("use crate::connection::{self, Connection};\nfn f() { crate::log::exchange(); }");
    assert_eq!(
        uses["connection"],
        BTreeSet::from(["self".to_string(), "Connection".to_string()])
    );
    assert_eq!(uses["log"], BTreeSet::from(["exchange".to_string()]));
    assert!(!is_type_or_constant("self") && !is_type_or_constant("find_head_end"));
    assert!(is_type_or_constant("Request") && is_type_or_constant("SESSION_COOKIE"));
}
