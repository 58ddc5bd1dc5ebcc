//! The engine knows no screen: no engine module imports a front-end crate or prints.
//! (Front ends — `src/cli`, `src/tui`, `src/main.rs` — may.)

use std::path::{Path, PathBuf};

const ENGINE: [&str; 7] = ["config", "data", "model", "train", "score", "store", "job"];
const FRONT_END_CRATES: [&str; 4] = ["clap", "ratatui", "crossterm", "indicatif"];
const PRINTS: [&str; 5] = ["println!", "eprintln!", "print!", "eprint!", "dbg!"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Whether `word` occurs in `line` as a whole identifier (not inside another one).
fn has_word(line: &str, word: &str) -> bool {
    let b = line.as_bytes();
    line.match_indices(word).any(|(i, _)| {
        let before = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        let j = i + word.len();
        let after = j >= b.len() || !(b[j].is_ascii_alphanumeric() || b[j] == b'_');
        before && after
    })
}

/// What in `text` breaks the layering, as `line: reason`.
pub fn violations(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if line.starts_with("//") {
            continue;
        }
        // Code before a trailing comment.
        let code = line.split(" //").next().unwrap_or(line);
        for c in FRONT_END_CRATES {
            let path_use = code.contains(&format!("{c}::"))
                && has_word(code, c)
                && !code.contains(&format!("\"{c}::"));
            let plain_use = code.starts_with("use ") && has_word(code, c);
            if path_use || plain_use {
                out.push(format!("{}: uses {c}", i + 1));
            }
        }
        for p in PRINTS {
            let name = &p[..p.len() - 1];
            if code.contains(p) && has_word(code, name) {
                out.push(format!("{}: calls {p}", i + 1));
            }
        }
    }
    out
}

#[test]
fn the_detector_finds_what_it_must() {
    assert_eq!(violations("use ratatui::widgets::Block;\n").len(), 1);
    assert_eq!(
        violations("    let b = ratatui::widgets::Block::new();\n").len(),
        1
    );
    assert_eq!(violations("use clap;\n").len(), 1);
    assert_eq!(violations("    eprintln!(\"x\");\n").len(), 1);
    assert_eq!(violations("    println!(\"x\");\n").len(), 1);
    assert_eq!(violations("    dbg!(x);\n").len(), 1);
    // Words in comments and names that merely contain a crate's name pass.
    assert!(violations("//! no clap, ratatui or println! here\n").is_empty());
    assert!(violations("let myclap = 1; let pprintln = 2;\n").is_empty());
    assert!(violations("fn sprint() {}\n").is_empty());
}

#[test]
fn engine_modules_import_no_front_end_and_do_not_print() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut bad = Vec::new();
    let mut checked = 0;
    for m in ENGINE {
        let mut files = Vec::new();
        let dir = src.join(m);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        }
        let file = src.join(format!("{m}.rs"));
        if file.is_file() {
            files.push(file);
        }
        assert!(!files.is_empty(), "engine module {m} not found");
        for f in files {
            checked += 1;
            let text = std::fs::read_to_string(&f).unwrap();
            for v in violations(&text) {
                bad.push(format!("{}:{v}", f.display()));
            }
        }
    }
    assert!(checked > 30, "only {checked} engine files found");
    assert!(
        bad.is_empty(),
        "the engine must know no screen:\n{}",
        bad.join("\n")
    );
}

#[test]
fn every_engine_module_says_what_it_owns() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for m in ENGINE {
        let p = src.join(m).join("mod.rs");
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("//!"), "{}: no module doc", p.display());
        assert!(
            text.contains("Must not import") || text.contains("must not import"),
            "{}: the module doc does not say what it must not import",
            p.display()
        );
    }
}

/// Module paths a `use` line of `text` imports through (`super::super::ui::block` names `ui`).
fn imports_module(text: &str, module: &str) -> Vec<String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim_start();
            l.starts_with("use ") && l.contains(&format!("{module}::")) && has_word(l, module)
        })
        .map(|(i, l)| format!("{}: {}", i + 1, l.trim()))
        .collect()
}

/// The lab's screens, one folder each under `src/tui/` (state, keys, drawing).
const SCREENS: [&str; 6] = ["setup", "train", "runs", "detail", "compare", "study"];

#[test]
fn tui_views_take_their_helpers_from_widgets_not_from_the_frame() {
    assert_eq!(
        imports_module("use super::super::ui::block;\n", "ui").len(),
        1
    );
    assert!(imports_module("use ratatui::widgets::Block;\n", "ui").is_empty());
    let tui = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tui");
    let mut bad = Vec::new();
    // The screens and popups are drawn by ui.rs: they must not import it back.
    let mut views = vec![tui.join("help.rs")];
    for screen in SCREENS {
        rust_files(&tui.join(screen), &mut views);
    }
    rust_files(&tui.join("popups"), &mut views);
    assert!(views.len() >= 10, "only {} view files found", views.len());
    for f in &views {
        let text = std::fs::read_to_string(f).unwrap();
        for v in imports_module(&text, "ui") {
            bad.push(format!("{}:{v}", f.display()));
        }
    }
    // The shared helpers know no view and no app state.
    let widgets = tui.join("widgets.rs");
    let text = std::fs::read_to_string(&widgets).unwrap();
    for m in ["ui", "app", "popups", "help"].into_iter().chain(SCREENS) {
        for v in imports_module(&text, m) {
            bad.push(format!("{}:{v}", widgets.display()));
        }
    }
    assert!(
        bad.is_empty(),
        "import loop in the TUI:\n{}",
        bad.join("\n")
    );
}

/// Whether the production code of a view file names the whole app (`App`, or the `app`
/// module): views take the state they draw and the theme.
fn names_the_app(text: &str) -> Vec<String> {
    production_code(text)
        .lines()
        .enumerate()
        .filter(|(_, l)| has_word(l, "App") || (l.contains("app::") && has_word(l, "app")))
        .map(|(i, l)| format!("{}: {}", i + 1, l.trim()))
        .collect()
}

#[test]
fn tui_views_take_their_state_not_the_app() {
    assert_eq!(
        names_the_app("pub fn draw(f: &mut Frame, app: &App) {}\n").len(),
        1
    );
    assert_eq!(names_the_app("use super::super::app::Tab;\n").len(), 1);
    assert!(names_the_app("// drawn from the App\nfn f(t: &Theme, apps: &Apps) {}\n").is_empty());
    let tui = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tui");
    let mut files = vec![tui.join("help.rs")];
    for screen in SCREENS {
        rust_files(&tui.join(screen), &mut files);
    }
    rust_files(&tui.join("popups"), &mut files);
    let mut bad = Vec::new();
    let mut views = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        // Key handlers are `impl App` blocks: they change the app, so they name it.
        if production_code(&text).contains("impl App") {
            continue;
        }
        views += 1;
        for v in names_the_app(&text) {
            bad.push(format!("{}:{v}", f.display()));
        }
    }
    assert!(views >= 20, "only {views} view and state files found");
    assert!(
        bad.is_empty(),
        "views that take the whole App (give them their state and the theme):\n{}",
        bad.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// The import graph: which file imports which, cycles and upward imports.

/// Module path of a source file under `src/` (`score/eval.rs` → `["score", "eval"]`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// The file that defines module `path`, if any.
fn file_of(src: &Path, path: &[String]) -> Option<PathBuf> {
    if path.is_empty() {
        return Some(src.join("lib.rs"));
    }
    let base: PathBuf = path.iter().collect();
    let f = src.join(&base).with_extension("rs");
    if f.is_file() {
        return Some(f);
    }
    let m = src.join(&base).join("mod.rs");
    m.is_file().then_some(m)
}

/// The production part of a file: the text before its first `#[cfg(test)]`, comments removed.
fn production_code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            // `#[cfg(test)] mod tests;` declares a test file; an inline test module ends it.
            if lines.peek().is_some_and(|l| l.trim_end().ends_with(';')) {
                lines.next();
                continue;
            }
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        out.push_str(line.split(" //").next().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// Expands a `use` tree (`a::{b, c::{d, e}}`) into its paths.
fn expand_use(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree.split("as").next().unwrap_or(&tree).to_string()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| {
            expand_use(p)
                .into_iter()
                .map(move |q| format!("{prefix}{q}"))
        })
        .collect()
}

/// Every `crate::`, `super::` and `self::` path the production code of a file names.
fn named_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    // `use` statements, braces expanded.
    let mut lines = code.lines();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        let t = t
            .strip_prefix("pub(crate) ")
            .or_else(|| t.strip_prefix("pub(super) "))
            .or_else(|| t.strip_prefix("pub "))
            .unwrap_or(t);
        let Some(tree) = t.strip_prefix("use ") else {
            continue;
        };
        let mut stmt = tree.to_string();
        while !stmt.contains(';') {
            match lines.next() {
                Some(l) => stmt.push_str(l),
                None => break,
            }
        }
        out.extend(expand_use(stmt.split(';').next().unwrap_or("")));
    }
    // Paths written inline.
    let b = code.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        for (i, _) in code.match_indices(start) {
            if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || b[i - 1] == b':') {
                continue;
            }
            let end = code[i..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| i + e);
            out.push(code[i..end].to_string());
        }
    }
    out
}

/// The file a path named in `from` leads to: the deepest module file, following `pub use`
/// re-exports of a `mod.rs` into its children.
fn resolve(src: &Path, from: &[String], path: &str) -> Option<PathBuf> {
    let mut segs = path.split("::").filter(|s| !s.is_empty() && *s != "*");
    let mut module: Vec<String> = match segs.next()? {
        "crate" => Vec::new(),
        "self" => from.to_vec(),
        "super" => from[..from.len().saturating_sub(1)].to_vec(),
        _ => return None,
    };
    let mut rest: Vec<&str> = segs.collect();
    while rest.first() == Some(&"super") {
        module.pop();
        rest.remove(0);
    }
    for s in &rest {
        module.push(s.to_string());
        if file_of(src, &module).is_none() {
            module.pop();
            // Follow a re-export `pub use child::{.., name, ..}` of this module's file.
            let file = file_of(src, &module)?;
            let text = production_code(&std::fs::read_to_string(&file).ok()?);
            for p in named_paths(&text) {
                let re = p.rsplit("::").next().unwrap_or("");
                if re == *s && !p.starts_with("crate") && !p.starts_with("super") {
                    let child = p.trim_start_matches("self::");
                    let mut m = module.clone();
                    m.push(child.split("::").next()?.to_string());
                    if let Some(f) = file_of(src, &m) {
                        return Some(f);
                    }
                }
            }
            return Some(file);
        }
    }
    file_of(src, &module)
}

/// The import graph of `src/`: for each file, the files it imports (a `mod.rs` declaring or
/// re-exporting its own children does not count).
fn import_graph(src: &Path) -> Vec<(PathBuf, Vec<PathBuf>)> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.retain(|f| !f.ends_with("main.rs"));
    files.sort();
    let mut graph = Vec::new();
    for f in &files {
        let module = module_of(src, f);
        let code = production_code(&std::fs::read_to_string(f).unwrap());
        let dir = f.parent().unwrap();
        let is_facade = f.ends_with("mod.rs") || f.ends_with("lib.rs");
        let mut to: Vec<PathBuf> = named_paths(&code)
            .iter()
            .filter_map(|p| resolve(src, &module, p))
            .filter(|g| g != f && !(is_facade && g.starts_with(dir)))
            .collect();
        to.sort();
        to.dedup();
        graph.push((f.clone(), to));
    }
    graph
}

/// Strongly connected components of more than one file (Tarjan).
fn cycles(graph: &[(PathBuf, Vec<PathBuf>)]) -> Vec<Vec<PathBuf>> {
    let index_of = |p: &PathBuf| graph.iter().position(|(f, _)| f == p);
    let n = graph.len();
    let adj: Vec<Vec<usize>> = graph
        .iter()
        .map(|(_, to)| to.iter().filter_map(index_of).collect())
        .collect();
    struct T {
        idx: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(v: usize, adj: &[Vec<usize>], t: &mut T) {
        t.idx[v] = Some(t.next);
        t.low[v] = t.next;
        t.next += 1;
        t.stack.push(v);
        t.on[v] = true;
        for &w in &adj[v] {
            match t.idx[w] {
                None => {
                    visit(w, adj, t);
                    t.low[v] = t.low[v].min(t.low[w]);
                }
                Some(i) if t.on[w] => t.low[v] = t.low[v].min(i),
                _ => {}
            }
        }
        if Some(t.low[v]) == t.idx[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on[w] = false;
                comp.push(w);
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        idx: vec![None; n],
        low: vec![0; n],
        on: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if t.idx[v].is_none() {
            visit(v, &adj, &mut t);
        }
    }
    t.out
        .into_iter()
        .map(|c| {
            let mut c: Vec<PathBuf> = c.into_iter().map(|i| graph[i].0.clone()).collect();
            c.sort();
            c
        })
        .collect()
}

#[test]
fn the_import_graph_reader_finds_what_it_must() {
    assert_eq!(
        expand_use("super::{a::{B, C}, d}"),
        vec!["super::a::B", "super::a::C", "super::d"]
    );
    let paths = named_paths("use crate::x::Y;\nfn f(a: &super::app::App) { crate::z::w(); }\n");
    assert!(paths.contains(&"crate::x::Y".to_string()));
    assert!(paths.contains(&"super::app::App".to_string()));
    assert!(paths.contains(&"crate::z::w".to_string()));
    let g = vec![
        (PathBuf::from("a"), vec![PathBuf::from("b")]),
        (PathBuf::from("b"), vec![PathBuf::from("a")]),
        (PathBuf::from("c"), vec![PathBuf::from("a")]),
    ];
    assert_eq!(
        cycles(&g),
        vec![vec![PathBuf::from("a"), PathBuf::from("b")]]
    );
}

#[test]
fn no_import_cycle_between_modules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = import_graph(&src);
    assert!(graph.len() > 100, "only {} files read", graph.len());
    let found: Vec<String> = cycles(&graph)
        .iter()
        .map(|c| {
            c.iter()
                .map(|f| f.strip_prefix(&src).unwrap().display().to_string())
                .collect::<Vec<_>>()
                .join(" ↔ ")
        })
        .collect();
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

/// Layers, lowest first: a file may import its own layer and those below, never above.
const LAYERS: [&[&str]; 8] = [
    &["config"],
    &["data"],
    &["model"],
    &["score"],
    &["train"],
    &["store"],
    &["job"],
    &["tui", "cli"],
];

fn layer_of(src: &Path, file: &Path) -> Option<(usize, String)> {
    let top = module_of(src, file).first()?.clone();
    LAYERS
        .iter()
        .position(|l| l.contains(&top.as_str()))
        .map(|i| (i, top))
}

#[test]
fn imports_point_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut bad = Vec::new();
    for (f, to) in import_graph(&src) {
        let Some((lf, mf)) = layer_of(&src, &f) else {
            continue;
        };
        for g in to {
            let Some((lg, mg)) = layer_of(&src, &g) else {
                continue;
            };
            // Front ends are peers that must not lean on each other: the lab is not the CLI.
            let sideways = lf == lg && mf != mg;
            if lg > lf || sideways {
                bad.push(format!(
                    "{} imports {}",
                    f.strip_prefix(&src).unwrap().display(),
                    g.strip_prefix(&src).unwrap().display()
                ));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "imports that run upward:\n{}",
        bad.join("\n")
    );
}
