//! The module graph of the core has no cycles, and `crypto` is a leaf (issue 11 §2).
//!
//! Reads `src/**/*.rs`, collects every `crate::<path>` and `super::<path>` reference outside
//! `#[cfg(test)]` code, and maps it to a node: a top-level module (`keys`, `hex`, ...) or, inside
//! the protocol families and `crypto`, their direct submodules (`mbus::afl`, `mbus::security`,
//! `crypto::aead`, `dsmr::mode15`). The test fails on any cycle between nodes and on any import
//! of a protocol module (or `keys`) from `crypto`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Modules whose direct submodules are nodes of their own.
const FAMILIES: [&str; 4] = ["mbus", "crypto", "dsmr", "dlms"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            if p.file_name().unwrap() != "tests" {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `src/mbus/security/mode5.rs` → `["mbus", "security", "mode5"]`; `x/mod.rs` → `x`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

fn node_of(path: &[String], modules: &BTreeSet<String>) -> Option<String> {
    let top = path.first()?;
    if !modules.contains(top) {
        return None; // an item re-exported at the crate root (`crate::Error`) or a macro
    }
    if FAMILIES.contains(&top.as_str()) {
        if let Some(sub) = path.get(1) {
            if modules.contains(&format!("{top}::{sub}")) {
                return Some(format!("{top}::{sub}"));
            }
        }
    }
    Some(top.clone())
}

/// The source without comments and without items under `#[cfg(test)]`.
fn non_test_code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let code = line.split("//").next().unwrap_or("");
        if code.trim() != "#[cfg(test)]" {
            out.push_str(code);
            out.push('\n');
            continue;
        }
        // Skip the next item: one line, or up to its closing brace.
        let mut depth = 0i32;
        for l in lines.by_ref() {
            let c = l.split("//").next().unwrap_or("");
            if c.trim().starts_with("#[") {
                continue;
            }
            depth += c.matches('{').count() as i32 - c.matches('}').count() as i32;
            if depth <= 0 && (c.contains(';') || c.contains('}')) {
                break;
            }
        }
    }
    out
}

fn ident_path(s: &str) -> Vec<String> {
    let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(s.len());
    s[..end].split("::").filter(|p| !p.is_empty()).map(str::to_owned).collect()
}

/// Expand one use tree (`a::b`, `a::{b, c::{d}}`) that follows `prefix`.
fn use_tree(prefix: &[String], s: &str, refs: &mut Vec<Vec<String>>) {
    let mut p = prefix.to_vec();
    p.extend(ident_path(s));
    let after = s.trim_start_matches(|c: char| c.is_alphanumeric() || c == '_' || c == ':');
    let Some(group) = after.strip_prefix('{') else {
        refs.push(p);
        return;
    };
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' | ',' if depth == 0 => {
                let item = group[start..i].trim();
                if !item.is_empty() {
                    use_tree(&p, item, refs);
                }
                start = i + 1;
                if c == '}' {
                    return;
                }
            }
            '}' => depth -= 1,
            _ => {}
        }
    }
}

/// Every module path referenced from `code` (which sits in module `here`).
fn references(code: &str, here: &[String]) -> Vec<Vec<String>> {
    let mut refs = Vec::new();
    let parent = here[..here.len().saturating_sub(1)].to_vec();
    for (anchor, base) in [("crate::", Vec::new()), ("super::", parent)] {
        let mut rest = code;
        while let Some(i) = rest.find(anchor) {
            let prev = rest[..i].chars().last();
            rest = &rest[i + anchor.len()..];
            if prev.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue; // `super::super::x` is handled from its first `super::`
            }
            let mut base = base.clone();
            while let Some(r) = rest.strip_prefix("super::") {
                base.pop();
                rest = r;
            }
            use_tree(&base, rest, &mut refs);
        }
    }
    refs
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let skip = |f: &Path| matches!(f.file_stem().and_then(|s| s.to_str()), Some("tests" | "test_vectors"));
    files.retain(|f| !skip(f));
    let paths: Vec<Vec<String>> = files.iter().map(|f| module_path(&src, f)).collect();
    let mut modules = BTreeSet::new();
    for p in &paths {
        for n in 1..=p.len() {
            modules.insert(p[..n].join("::"));
        }
    }
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, here) in files.iter().zip(&paths) {
        let Some(from) = node_of(here, &modules) else { continue };
        let code = non_test_code(&fs::read_to_string(file).unwrap());
        let entry = edges.entry(from.clone()).or_default();
        for r in references(&code, here) {
            match node_of(&r, &modules) {
                Some(to) if to != from && !from.starts_with(&format!("{to}::")) => {
                    entry.insert(to);
                }
                _ => {}
            }
        }
    }
    edges
}

/// A cycle through `start`, if any (DFS over the edges).
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == n) {
            let mut c = stack[i..].to_vec();
            c.push(n.to_owned());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_owned());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

#[test]
fn no_import_cycles_between_modules() {
    let edges = graph();
    assert!(edges.contains_key("mbus::security") && edges.contains_key("mbus::afl"), "graph: {edges:?}");
    if let Some(c) = cycle(&edges) {
        panic!("import cycle: {}", c.join(" -> "));
    }
}

/// The same graph with every node cut to its top-level module (`mbus::afl` → `mbus`). `error`
/// is left out: it is the crate-wide error that holds every layer's own error type (as
/// pyca/cryptography's one error enum does), so it depends on every family by design.
#[test]
fn families_do_not_depend_on_each_other_in_a_cycle() {
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let cut = |n: &str| n.split("::").next().unwrap_or(n).to_string();
    for (from, to) in graph() {
        if cut(&from) == "error" {
            continue;
        }
        let f = cut(&from);
        let set = top.entry(f.clone()).or_default();
        set.extend(to.iter().map(|t| cut(t)).filter(|t| *t != f && t != "error"));
    }
    if let Some(c) = cycle(&top) {
        panic!("import cycle between families: {}", c.join(" -> "));
    }
    // DSMR P2 is built on M-Bus (EN 13757-2/-3/-4): `dsmr` uses `mbus`, and `mbus` (whose TPL
    // security mode 15 is DSMR's cipher) never knows about `dsmr`.
    assert!(top["mbus"].iter().all(|t| t != "dsmr"), "mbus depends on dsmr: {:?}", top["mbus"]);
}

#[test]
fn crypto_is_a_leaf() {
    let edges = graph();
    for (from, to) in &edges {
        if from == "crypto" || from.starts_with("crypto::") {
            let bad: Vec<_> = to.iter().filter(|t| !t.starts_with("crypto")).collect();
            assert!(bad.is_empty(), "{from} imports {bad:?}");
        }
    }
}

#[test]
fn references_are_resolved() {
    let here: Vec<String> = ["mbus", "ell"].map(String::from).to_vec();
    let r = references("use crate::{hex, mbus::{afl::Afl, tpl}};\nuse super::security::Key;", &here);
    let r: Vec<String> = r.iter().map(|p| p.join("::")).collect();
    assert_eq!(r, ["hex", "mbus::afl::Afl", "mbus::tpl", "mbus::security::Key"]);
}
