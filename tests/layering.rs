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
    let mut views = Vec::new();
    rust_files(&tui.join("screens"), &mut views);
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
    for m in ["ui", "app", "screens", "popups", "update"] {
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
