//! The layering of `crates/ladle/src` (docs/architecture.md, "Layers"), checked on every test
//! run: the modules the code names (`use crate::…`, `super::…`, inline `crate::…` paths) make a
//! graph, which must have no cycle, between single modules or between top-level modules, and
//! whose top-level edges must follow the rules below. Test code (`#[cfg(test)]` modules) is left
//! out: a test may reach anywhere to set things up.
//!
//! The check reads the source as text (comments and literals blanked out), which is enough for
//! how this crate names things; it is not a Rust parser.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// What a top-level module may use besides itself.
enum Uses {
    Only(&'static [&'static str]),
    AnythingBut(&'static [&'static str]),
}

/// The modules whose place in the layers is fixed (docs/architecture.md, "Layers").
const RULES: &[(&str, Uses)] = &[
    ("domain", Uses::Only(&[])),
    ("openapi", Uses::Only(&[])),
    // The client talks to a server over HTTP only.
    ("cli", Uses::Only(&[])),
    ("db", Uses::Only(&["domain"])),
    ("messages", Uses::Only(&["domain"])),
    ("auth", Uses::Only(&["db", "domain"])),
    ("presenters", Uses::Only(&["db", "domain", "messages"])),
    (
        "fetchers",
        Uses::Only(&["auth", "db", "domain", "messages"]),
    ),
    (
        "actions",
        Uses::AnythingBut(&["api", "presenters", "jobs", "routes", "server"]),
    ),
    (
        "jobs",
        Uses::AnythingBut(&[
            "api",
            "presenters",
            "fetchers",
            "messages",
            "routes",
            "server",
        ]),
    ),
    (
        "state",
        Uses::AnythingBut(&["api", "actions", "fetchers", "jobs", "routes", "server"]),
    ),
    (
        "api",
        Uses::AnythingBut(&["db", "jobs", "routes", "server"]),
    ),
];

/// Only the wiring may use the HTTP edge.
const MAY_USE_API: &[&str] = &["api", "routes", "server"];

#[test]
fn the_crate_keeps_its_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = load(&src);
    assert!(
        modules.len() > 50 && modules.contains_key("actions::apps"),
        "read only {} modules under {}",
        modules.len(),
        src.display()
    );
    if std::env::var_os("LADLE_PRINT_LAYERS").is_some() {
        eprintln!("{}", describe(&edges(&modules)));
    }
    let report = check(&modules);
    assert!(report.is_empty(), "{report}");
}

/// The checker itself: a cycle between two modules, one between layers, and a forbidden edge
/// are each reported; a clean tree is not.
#[test]
fn the_check_finds_cycles_and_forbidden_edges() {
    let tree = |extra: &[(&str, &str)]| {
        let mut sources = vec![
            (
                "",
                "pub mod api; pub mod actions; pub mod db; pub mod domain;",
            ),
            ("api", "pub mod error;"),
            ("api::error", "use crate::domain::Guid;"),
            ("actions", "pub mod apps; pub mod processes;"),
            ("actions::apps", "use crate::db::{self, apps::AppRecord};"),
            (
                "actions::processes",
                "use super::apps;\nfn f() { crate::db::now(); }",
            ),
            ("db", "pub mod apps;\nuse crate::domain::Page;"),
            ("db::apps", "use super::DbPool;"),
            ("domain", "/// not code: crate::api\npub struct Page;"),
        ];
        sources.extend_from_slice(extra);
        modules_from(&sources)
    };
    assert_eq!(check(&tree(&[])), "");

    let module_cycle = check(&tree(&[(
        "actions::apps",
        "use crate::actions::processes::WEB;",
    )]));
    assert!(
        module_cycle.contains("actions::apps -> actions::processes -> actions::apps"),
        "{module_cycle}"
    );

    let layer_cycle = check(&tree(&[(
        "db::apps",
        "fn f() { crate::actions::apps::g(); }",
    )]));
    assert!(
        layer_cycle.contains("cycle between top-level modules: actions -> db -> actions"),
        "{layer_cycle}"
    );

    let forbidden = check(&tree(&[(
        "db::apps",
        r#"use crate::api::error::{self as e};"#,
    )]));
    assert!(
        forbidden.contains("db -> api (db::apps uses api::error)"),
        "{forbidden}"
    );

    let facade = check(&tree(&[
        ("db", "pub mod apps;\npub use apps::AppRecord;"),
        ("db::apps", "use super::DbPool;"),
    ]));
    assert!(
        facade.contains("cycle between modules: db -> db::apps -> db"),
        "{facade}"
    );

    let in_tests = check(&tree(&[(
        "db::apps",
        "#[cfg(test)]\nmod tests {\n    use crate::api::error::ApiError;\n}",
    )]));
    assert_eq!(in_tests, "", "test modules are left out");
}

/// Module path (`""` for the crate root, `"api::apps"`) → its code, test modules left out.
type Modules = BTreeMap<String, String>;

fn load(src: &Path) -> Modules {
    let mut files = Vec::new();
    collect_files(src, src, &mut files);
    let mut sources: Vec<(String, String)> = files
        .into_iter()
        .filter_map(|(relative, text)| Some((module_of_file(&relative)?, text)))
        .collect();
    sources.sort();
    let borrowed: Vec<(&str, &str)> = sources
        .iter()
        .map(|(path, text)| (path.as_str(), text.as_str()))
        .collect();
    modules_from(&borrowed)
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("readable source folder") {
        let path = entry.expect("readable entry").path();
        if path.is_dir() {
            collect_files(root, &path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let relative = path.strip_prefix(root).expect("under root");
            let text = std::fs::read_to_string(&path).expect("UTF-8 source");
            out.push((relative.to_string_lossy().replace('\\', "/"), text));
        }
    }
}

/// `lib.rs` → `""`, `api/mod.rs` → `"api"`, `api/apps.rs` → `"api::apps"`. `main.rs` is the
/// binary, a crate of its own.
fn module_of_file(relative: &str) -> Option<String> {
    let stem = relative.strip_suffix(".rs")?;
    if stem == "main" || stem.starts_with("bin/") {
        return None;
    }
    if stem == "lib" {
        return Some(String::new());
    }
    let stem = stem.strip_suffix("/mod").unwrap_or(stem);
    Some(stem.replace('/', "::"))
}

/// Blanks comments and literals, drops test modules, and splits out inline modules.
fn modules_from(sources: &[(&str, &str)]) -> Modules {
    let mut modules = Modules::new();
    let mut test_only = BTreeSet::new();
    for (path, text) in sources {
        split_inline(path, &blank(text), &mut modules, &mut test_only);
    }
    // A module declared `#[cfg(test)] mod x;` takes its descendants with it.
    modules.retain(|path, _| {
        !test_only
            .iter()
            .any(|test| path == test || path.starts_with(&format!("{test}::")))
    });
    modules
}

fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}::{child}")
    }
}

/// Records `path` with its code; `mod x { … }` blocks become modules of their own, and
/// `#[cfg(test)]` modules (inline or in their own file) are set aside.
fn split_inline(path: &str, code: &str, modules: &mut Modules, test_only: &mut BTreeSet<String>) {
    let mut kept = String::with_capacity(code.len());
    let mut rest = code;
    while let Some((before, name, after_name, is_test)) = next_mod(rest) {
        kept.push_str(before);
        let child = join(path, name);
        let after_name = after_name.trim_start();
        if let Some(body_and_rest) = after_name.strip_prefix('{') {
            let end = matching_brace(body_and_rest);
            if !is_test {
                split_inline(&child, &body_and_rest[..end], modules, test_only);
            }
            rest = &body_and_rest[(end + 1).min(body_and_rest.len())..];
        } else {
            if is_test {
                test_only.insert(child);
            }
            rest = after_name;
        }
    }
    kept.push_str(rest);
    modules.entry(path.to_string()).or_default().push_str(&kept);
}

/// The next `mod name` declaration: the code before it, the name, the code after the name, and
/// whether `#[cfg(test)]` stands right before it.
fn next_mod(code: &str) -> Option<(&str, &str, &str, bool)> {
    let mut from = 0;
    while let Some(found) = code[from..].find("mod ") {
        let at = from + found;
        from = at + 4;
        if !starts_word(code, at) {
            continue;
        }
        let name_len = code[at + 4..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(code.len() - at - 4);
        if name_len == 0 {
            continue;
        }
        let name = &code[at + 4..at + 4 + name_len];
        let after = &code[at + 4 + name_len..];
        if !after.trim_start().starts_with(['{', ';']) {
            continue;
        }
        let line_start = code[..at].rfind('\n').map_or(0, |n| n + 1);
        let before_line = code[..line_start].trim_end();
        let is_test = before_line.ends_with("#[cfg(test)]");
        return Some((&code[..line_start], name, after, is_test));
    }
    None
}

fn starts_word(code: &str, at: usize) -> bool {
    code[..at]
        .chars()
        .next_back()
        .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
}

/// Index of the `}` closing a block whose `{` was just consumed.
fn matching_brace(body: &str) -> usize {
    let mut depth = 1;
    for (index, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return index;
                }
            }
            _ => {}
        }
    }
    body.len()
}

/// The code with comments, strings and char literals replaced by spaces.
fn blank(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let keep_lines = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(keep_lines(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&chars, i) {
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            if chars.get(i + 1 + hashes) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            i += 2 + hashes;
            while i < chars.len() {
                let closes = chars[i] == '"'
                    && chars[i + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&h| h == '#')
                        .count()
                        == hashes;
                if closes {
                    i += 1 + hashes;
                    break;
                }
                out.push(keep_lines(chars[i]));
                i += 1;
            }
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                out.push(keep_lines(chars.get(i).copied().unwrap_or(' ')));
                i += 1;
            }
            i += 1;
        } else if c == '\'' && next == Some('\\') {
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// Module → the modules it names. A `pub use` re-export counts like any use: a parent that
/// re-exports a child which uses the parent is a cycle (as `cargo modules` sees it too).
fn edges(modules: &Modules) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in modules {
        let mut named = Vec::new();
        let decls = use_decls(code);
        let mut rest = code.clone();
        for decl in &decls {
            rest.replace_range(decl.span.clone(), &" ".repeat(decl.span.len()));
            for path in expand(&decl.tree) {
                let relative_child = path
                    .first()
                    .is_some_and(|first| modules.contains_key(&join(module, first)));
                let absolute = path
                    .first()
                    .is_some_and(|first| ["crate", "super", "self"].contains(&first.as_str()));
                if absolute || relative_child {
                    named.push(path);
                }
            }
        }
        named.extend(inline_paths(&rest));
        for path in named {
            let Some(target) = resolve(modules, module, &path) else {
                continue;
            };
            if target != *module {
                graph.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    graph
}

/// A `use` declaration (`pub` or not): its tree and where it stands.
struct UseDecl {
    tree: String,
    span: std::ops::Range<usize>,
}

fn use_decls(code: &str) -> Vec<UseDecl> {
    let mut decls = Vec::new();
    let mut from = 0;
    while let Some(found) = code[from..].find("use ") {
        let at = from + found;
        from = at + 4;
        if !starts_word(code, at) {
            continue;
        }
        let Some(end) = code[at..].find(';') else {
            break;
        };
        let statement_start = code[..at].rfind([';', '{', '}', '\n']).map_or(0, |n| n + 1);
        decls.push(UseDecl {
            tree: code[at + 4..at + end].trim().to_string(),
            span: statement_start..at + end + 1,
        });
        from = at + end;
    }
    decls
}

/// `a::{b, c::{d, self}}` → `[a, b]`, `[a, c, d]`, `[a, c, self]`.
fn expand(tree: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    expand_into(&[], tree.trim(), &mut out);
    out
}

fn expand_into(prefix: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head: Vec<String> = tree[..open]
            .split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let mut base = prefix.to_vec();
        base.extend(head);
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let mut depth = 0;
        let mut start = 0;
        for (index, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand_into(&base, &inner[start..index], out);
                    start = index + 1;
                }
                _ => {}
            }
        }
        expand_into(&base, &inner[start..], out);
    } else if !tree.is_empty() {
        // `path as name`: the path is what is used.
        let path = tree.split_whitespace().next().unwrap_or(tree);
        let mut full = prefix.to_vec();
        full.extend(
            path.split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        );
        out.push(full);
    }
}

/// `crate::a::b…` and `super::…` paths written in the code itself.
fn inline_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(found) = code[from..].find(start) {
            let at = from + found;
            from = at + start.len();
            if !starts_word(code, at) || code[..at].ends_with("::") {
                continue;
            }
            let end = code[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |n| at + n);
            paths.push(
                code[at..end]
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            );
        }
    }
    paths
}

/// The module a path names: the longest known module its segments lead to.
fn resolve(modules: &Modules, from: &str, path: &[String]) -> Option<String> {
    let mut base: Vec<&str> = if from.is_empty() {
        Vec::new()
    } else {
        from.split("::").collect()
    };
    let mut segments = path.iter().map(String::as_str).peekable();
    match segments.peek() {
        Some(&"crate") => {
            base.clear();
            segments.next();
        }
        Some(&"self") => {
            segments.next();
        }
        Some(&"super") => {}
        _ => {}
    }
    while segments.peek() == Some(&"super") {
        base.pop()?;
        segments.next();
    }
    let mut full: Vec<&str> = base;
    full.extend(segments.filter(|s| *s != "self"));
    (0..=full.len())
        .rev()
        .map(|n| full[..n].join("::"))
        .find(|candidate| modules.contains_key(candidate))
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or("")
}

/// Every problem found, one per line; empty when the crate keeps its layers.
fn check(modules: &Modules) -> String {
    let graph = edges(modules);
    let mut report = String::new();
    for cycle in cycles(&graph) {
        let _ = writeln!(report, "cycle between modules: {}", cycle.join(" -> "));
    }
    let mut top_graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut witness: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    for (from, targets) in &graph {
        for to in targets {
            let (a, b) = (top(from), top(to));
            if a != b && !a.is_empty() {
                top_graph
                    .entry(a.to_string())
                    .or_default()
                    .insert(b.to_string());
                witness
                    .entry((a.to_string(), b.to_string()))
                    .or_insert((from.clone(), to.clone()));
            }
        }
    }
    for cycle in cycles(&top_graph) {
        let _ = writeln!(
            report,
            "cycle between top-level modules: {}",
            cycle.join(" -> ")
        );
    }
    for ((from, to), (module, target)) in &witness {
        if forbidden(from, to) {
            let _ = writeln!(
                report,
                "forbidden dependency: {from} -> {to} ({module} uses {target})"
            );
        }
    }
    if !report.is_empty() {
        report.push_str("\nlayers as the code has them:\n");
        report.push_str(&describe(&top_graph));
    }
    report
}

/// `from -> to, to` lines; `LADLE_PRINT_LAYERS=1 cargo test -p ladle --test layers` prints
/// the whole module graph this way.
fn describe(graph: &BTreeMap<String, BTreeSet<String>>) -> String {
    let mut out = String::new();
    for (from, targets) in graph {
        let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
        let _ = writeln!(out, "  {from} -> {}", targets.join(", "));
    }
    out
}

fn forbidden(from: &str, to: &str) -> bool {
    if to == "api" && !MAY_USE_API.contains(&from) {
        return true;
    }
    RULES.iter().any(|(module, uses)| {
        *module == from
            && match uses {
                Uses::Only(allowed) => !allowed.contains(&to),
                Uses::AnythingBut(refused) => refused.contains(&to),
            }
    })
}

/// One cycle for each group of modules that reach one another, as `a -> b -> … -> a`, found
/// with Tarjan's strongly connected components and a shortest way round inside each.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Tarjan<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        components: Vec<Vec<&'g str>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, node: &'g str) {
            let n = self.index.len();
            self.index.insert(node, n);
            self.low.insert(node, n);
            self.stack.push(node);
            self.on_stack.insert(node);
            for next in self.graph.get(node).into_iter().flatten() {
                let next = next.as_str();
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = Vec::new();
                while let Some(member) = self.stack.pop() {
                    self.on_stack.remove(member);
                    component.push(member);
                    if member == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    self.components.push(component);
                }
            }
        }
    }
    let mut tarjan = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for node in graph.keys() {
        if !tarjan.index.contains_key(node.as_str()) {
            tarjan.visit(node);
        }
    }
    tarjan
        .components
        .iter()
        .map(|component| shortest_round_trip(graph, component))
        .collect()
}

/// A shortest path from the component's first module (by name) back to itself.
fn shortest_round_trip(
    graph: &BTreeMap<String, BTreeSet<String>>,
    component: &[&str],
) -> Vec<String> {
    let members: BTreeSet<&str> = component.iter().copied().collect();
    let start = *members.iter().next().expect("non-empty component");
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for next in graph.get(node).into_iter().flatten() {
            let next = next.as_str();
            if !members.contains(next) {
                continue;
            }
            if next == start {
                let mut way = vec![node];
                while let Some(previous) = came_from.get(way[way.len() - 1]) {
                    way.push(previous);
                }
                if way[way.len() - 1] != start {
                    way.push(start);
                }
                way.reverse();
                way.push(start);
                return way.into_iter().map(str::to_string).collect();
            }
            if !came_from.contains_key(next) {
                came_from.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    component.iter().map(|m| m.to_string()).collect()
}
