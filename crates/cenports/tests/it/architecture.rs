//! The architecture's two promises, checked on the source (docs/ARCHITECTURE.md):
//!
//! - one seam for channels: outside `cli/` (the binary, which builds the sandbox and the
//!   benchmarks) and `channel/bigcommerce/`, only the registry that picks a channel's
//!   implementation (`channel/registry.rs`, and the declaration of the channel's folder in
//!   `channel/mod.rs`) names BigCommerce;
//! - no import circle between the top-level modules of each crate's library.
//!
//! Comments are left out of the second check (a doc link is not a dependency) but not the
//! first: a comment that explains the core in BigCommerce's terms is the seam leaking too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn crate_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
        .join("src")
}

/// Every file under `dir`, with its path relative to `root`.
fn files(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(root, &path, out);
        } else {
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((relative, path));
        }
    }
}

#[test]
fn only_the_cli_the_registry_and_the_channel_folder_name_bigcommerce() {
    let root = crate_src("cenports");
    let mut all = Vec::new();
    files(&root, &root, &mut all);
    let allowed = |relative: &str| {
        relative.starts_with("cli/")
            || relative.starts_with("channel/bigcommerce/")
            || relative == "channel/registry.rs"
    };
    // The folder's declaration, the one line by which the registry's module can reach it.
    let declaration = |relative: &str, line: &str| {
        relative == "channel/mod.rs" && line.trim() == "pub mod bigcommerce;"
    };
    let mut offenders = Vec::new();
    for (relative, path) in all.iter().filter(|(r, _)| !allowed(r)) {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        for (number, line) in text.lines().enumerate() {
            if line.to_ascii_lowercase().contains("bigcommerce") && !declaration(relative, line) {
                offenders.push(format!("{relative}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "BigCommerce is named outside cli/, channel/bigcommerce/ and channel/registry.rs:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn only_the_cli_the_registry_and_the_channel_folder_use_the_amazon_channel_or_its_sandbox() {
    let root = crate_src("cenports");
    let mut all = Vec::new();
    files(&root, &root, &mut all);
    let allowed = |relative: &str| {
        relative.starts_with("cli/")
            || relative.starts_with("channel/amazon/")
            || relative == "channel/registry.rs"
    };
    let mut offenders = Vec::new();
    for (relative, path) in all.iter().filter(|(r, _)| !allowed(r)) {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if code.contains("amazon::") || code.contains("amazon_sandbox") {
                offenders.push(format!("{relative}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "the Amazon channel is used outside cli/, channel/amazon/ and channel/registry.rs:\n{}",
        offenders.join("\n")
    );
}

/// The module path of a source file (`sync/orders.rs` → `["sync", "orders"]`, `sync/mod.rs` →
/// `["sync"]`, `lib.rs` → `[]`).
fn module_path(relative: &str) -> Vec<String> {
    let without = relative.trim_end_matches(".rs");
    let mut parts: Vec<String> = without.split('/').map(str::to_owned).collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The code of a file without its comments (`//` to the end of the line; block comments are
/// not used in this codebase's code).
fn code_only(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules a file refers to through `crate::x` and `super::…::x` paths.
fn references(module: &[String], code: &str, top_level: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    let ident_at = |mut at: usize| {
        let start = at;
        while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
            at += 1;
        }
        (code[start..at].to_owned(), at)
    };
    let mut at = 0;
    while at < bytes.len() {
        let preceded = at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        if !preceded && bytes[at..].starts_with(b"crate::") {
            let (name, _) = ident_at(at + "crate::".len());
            if top_level.contains(&name) {
                found.insert(name);
            }
            at += "crate::".len();
            continue;
        }
        if !preceded && bytes[at..].starts_with(b"super::") {
            let mut depth = 0;
            let mut cursor = at;
            while bytes[cursor..].starts_with(b"super::") {
                depth += 1;
                cursor += "super::".len();
            }
            if depth <= module.len() {
                let base = &module[..module.len() - depth];
                let name = match base.first() {
                    Some(top) => top.clone(),
                    None => ident_at(cursor).0,
                };
                if top_level.contains(&name) {
                    found.insert(name);
                }
            }
            at = cursor;
            continue;
        }
        at += 1;
    }
    found
}

/// The circles among a crate's top-level modules, each as a list of modules.
fn circles(crate_name: &str) -> Vec<Vec<String>> {
    let root = crate_src(crate_name);
    let mut all = Vec::new();
    files(&root, &root, &mut all);
    let sources: Vec<(Vec<String>, String)> = all
        .iter()
        .filter(|(relative, _)| relative.ends_with(".rs") && !relative.starts_with("cli/"))
        .filter(|(relative, _)| relative != "main.rs")
        .map(|(relative, path)| {
            (
                module_path(relative),
                code_only(&std::fs::read_to_string(path).unwrap()),
            )
        })
        .collect();
    let top_level: BTreeSet<String> = sources
        .iter()
        .filter_map(|(module, _)| module.first().cloned())
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in &sources {
        let Some(top) = module.first() else {
            continue;
        };
        let edges = graph.entry(top.clone()).or_default();
        for target in references(module, code, &top_level) {
            if &target != top {
                edges.insert(target);
            }
        }
    }
    find_circles(&graph)
}

/// The circles of a graph of modules, each as the sorted list of its modules.
fn find_circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Every circle shows up as a path from a module back to itself; report each set once.
    let mut found: BTreeSet<Vec<String>> = BTreeSet::new();
    for start in graph.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                if next == start {
                    let mut circle = path.clone();
                    circle.sort();
                    found.insert(circle);
                } else if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    found.into_iter().collect()
}

#[test]
fn the_top_level_modules_of_each_library_import_no_circle() {
    for crate_name in [
        "cenports",
        "bigcommerce-sandbox",
        "bigcommerce-client",
        "harness",
    ] {
        let circles = circles(crate_name);
        assert!(
            circles.is_empty(),
            "import circles among the top-level modules of {crate_name}: {circles:?}"
        );
    }
}

#[test]
fn the_circle_check_sees_a_circle() {
    let top: BTreeSet<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
    let module = vec!["a".to_owned(), "inner".to_owned()];
    let found = references(&module, "use crate::b::X; use super::super::b::Y;", &top);
    assert_eq!(found, ["b".to_owned()].into_iter().collect());
    let found = references(&["b".to_owned()], "use super::a::Z; // crate::c", &top);
    assert_eq!(found, ["a".to_owned()].into_iter().collect());
    assert_eq!(
        code_only("let x = 1; // crate::a\n/// crate::b"),
        "let x = 1; \n"
    );
    let graph = |edges: &[(&str, &str)]| {
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, to) in edges {
            graph
                .entry(from.to_string())
                .or_default()
                .insert(to.to_string());
        }
        graph
    };
    assert_eq!(
        find_circles(&graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")])),
        vec![vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]]
    );
    assert!(find_circles(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])).is_empty());
}
