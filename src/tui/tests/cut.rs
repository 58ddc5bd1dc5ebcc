//! The cutting rule on whole frames: every screen and popup of the lab, drawn at 80×24 and
//! 120×40 with and without colour, must show no word or number cut without `…`.
//!
//! The checker compares a frame with the same state drawn very wide (where nothing needs
//! cutting): every word of the frame must be a whole word of the wide frame or end in `…`; a
//! `…` must not follow part of a number; and text that ends at a box's right edge (or the
//! screen's) must not continue in the wide frame on the same line, unless it goes on in the
//! next row (wrapped; a table's next column of numbers, dropped whole, is no cut). A number
//! not drawn wide (a count that depends on the frame's size, an axis tick) is a cut one only
//! where it ends at an edge. Words that a popup covers are not the screen's fault and are skipped:
//! those ending at a popup's left border, those starting after its right border. Chart
//! points, bars and rules (words without a letter or digit) are not words.

use std::collections::HashSet;

use ratatui::buffer::Buffer;

use super::detail::detail_lab;
use super::follow::attached_lab;
use super::table::table_lab;
use super::train::mid_epoch_lab;
use super::*;

const BORDERS: &str = "│─┌┐└┘├┤┬┴┼╭╮╯╰═║";

fn is_border(c: char) -> bool {
    BORDERS.contains(c)
}

/// The frame as rows of cells; the second cell of a wide character is `None`.
fn grid(buf: &Buffer) -> Vec<Vec<Option<char>>> {
    let a = buf.area;
    (a.y..a.y + a.height)
        .map(|y| {
            (a.x..a.x + a.width)
                .map(|x| buf[(x, y)].symbol().chars().next())
                .collect()
        })
        .collect()
}

fn at(g: &[Vec<Option<char>>], x: usize, y: usize) -> char {
    g.get(y)
        .and_then(|r| r.get(x))
        .copied()
        .flatten()
        .unwrap_or(' ')
}

/// The box corner a vertical border at (x, y) hangs from.
fn top_of(g: &[Vec<Option<char>>], x: usize, y: usize) -> char {
    let mut y = y;
    while y > 0 && at(g, x, y) == '│' {
        y -= 1;
    }
    at(g, x, y)
}

/// Whether (x, y) is a box's right edge (or past the screen's).
fn right_edge(g: &[Vec<Option<char>>], x: usize, y: usize) -> bool {
    if x >= g[y].len() {
        return true;
    }
    match at(g, x, y) {
        '┐' | '┘' | '┤' | '╮' | '╯' => true,
        '│' => matches!(top_of(g, x, y), '┐' | '┤' | '╮'),
        _ => false,
    }
}

/// Whether (x, y) is a box's left edge.
fn left_edge(g: &[Vec<Option<char>>], x: usize, y: usize) -> bool {
    match at(g, x, y) {
        '┌' | '└' | '├' | '╭' | '╰' => true,
        '│' => matches!(top_of(g, x, y), '┌' | '├' | '╭'),
        _ => false,
    }
}

/// A word of a row: its first cell, the cell after it and its text.
struct Word {
    x0: usize,
    x1: usize,
    text: String,
}

fn words(row: &[Option<char>]) -> Vec<Word> {
    let mut out = Vec::new();
    let mut x = 0;
    while x < row.len() {
        let c = row[x];
        if c.is_none_or(|c| c == ' ' || is_border(c)) {
            x += 1;
            continue;
        }
        let x0 = x;
        let mut text = String::new();
        while x < row.len() {
            match row[x] {
                Some(c) if c == ' ' || is_border(c) => break,
                Some(c) => text.push(c),
                None => {}
            }
            x += 1;
        }
        out.push(Word { x0, x1: x, text });
    }
    out
}

fn row_text(row: &[Option<char>]) -> String {
    row.iter().flatten().collect()
}

/// What the wide frames drew: their words and their rows.
struct Oracle {
    words: HashSet<String>,
    rows: Vec<String>,
}

impl Oracle {
    fn of(wide: &[&Buffer]) -> Oracle {
        let mut words = HashSet::new();
        let mut rows = Vec::new();
        for b in wide {
            for row in grid(b) {
                for w in self::words(&row) {
                    words.insert(w.text);
                }
                rows.push(row_text(&row));
            }
        }
        Oracle { words, rows }
    }

    /// Whether `part`, a number's beginning, goes on with more of the number somewhere.
    fn number_goes_on(&self, part: &str) -> bool {
        self.words.iter().any(|w| {
            w.match_indices(part).any(|(i, _)| {
                let rest: Vec<char> = w[i + part.len()..].chars().take(2).collect();
                match rest.as_slice() {
                    [d, ..] if d.is_ascii_digit() || *d == '%' => true,
                    ['.' | ',', d, ..] => d.is_ascii_digit(),
                    _ => false,
                }
            })
        })
    }

    /// The word that follows `phrase` on a wide row after one space, when every place the
    /// phrase is drawn goes on like that (a phrase drawn whole somewhere is whole).
    fn continues(&self, phrase: &str) -> Option<String> {
        let mut next = None;
        for r in &self.rows {
            for (i, _) in r.match_indices(phrase) {
                let after: String = r[i + phrase.len()..].chars().take(2).collect();
                let mut it = after.chars();
                match (it.next(), it.next()) {
                    (Some(' '), Some(c)) if c != ' ' && !is_border(c) => {
                        let w: String = r[i + phrase.len() + 1..]
                            .chars()
                            .take_while(|c| *c != ' ' && !is_border(*c))
                            .collect();
                        next = Some(w);
                    }
                    (Some(c), _) if c != ' ' && !is_border(c) => {}
                    _ => return None,
                }
            }
        }
        next
    }
}

fn is_graphic(word: &str) -> bool {
    !word.chars().any(char::is_alphanumeric)
}

/// Every word or number of `narrow` cut without `…`, as readable lines.
pub(super) fn cuts(narrow: &Buffer, wide: &[&Buffer]) -> Vec<String> {
    let oracle = Oracle::of(wide);
    let g = grid(narrow);
    let mut out = Vec::new();
    for (y, row) in g.iter().enumerate() {
        for w in words(row) {
            if is_graphic(&w.text)
                || (w.x0 > 0 && right_edge(&g, w.x0 - 1, y))
                || left_edge(&g, w.x1, y)
            {
                continue;
            }
            let core = w.text.trim_start_matches('…');
            if let Some(part) = core.strip_suffix('…') {
                let ends_in_digit = part.chars().last().is_some_and(|c| c.is_ascii_digit());
                if ends_in_digit && oracle.number_goes_on(part) {
                    out.push(format!("row {y}: number cut: `{}`", w.text));
                }
                continue;
            }
            if w.text.starts_with('…') {
                continue;
            }
            // Shortened in the middle (a run name around what differs): both ends must be
            // the ends of one word drawn wide.
            if let Some((head, tail)) = w.text.split_once('…') {
                let whole = oracle.words.iter().any(|o| {
                    o.len() > head.len() + tail.len() && o.starts_with(head) && o.ends_with(tail)
                });
                if !whole {
                    out.push(format!(
                        "row {y}: `{}` is not a word shortened in the middle: {}",
                        w.text,
                        row_text(row).trim_end()
                    ));
                }
                continue;
            }
            // A number that is not drawn wide (a count that depends on the size, an axis
            // tick) is a cut one only where it ends at an edge.
            let number = w.text.chars().any(|c| c.is_ascii_digit());
            if !oracle.words.contains(&w.text) && (!number || right_edge(&g, w.x1, y)) {
                out.push(format!(
                    "row {y}: `{}` is not a whole word: {}",
                    w.text,
                    row_text(row).trim_end()
                ));
                continue;
            }
            if !oracle.words.contains(&w.text) || !right_edge(&g, w.x1, y) {
                continue;
            }
            // The text up to the edge, from the box's left edge or a gap of two spaces.
            let mut x = w.x0;
            while x > 0 {
                let c = at(&g, x - 1, y);
                if is_border(c) || (c == ' ' && x >= 2 && at(&g, x - 2, y) == ' ') {
                    break;
                }
                x -= 1;
            }
            let phrase: String = row[x..w.x1].iter().flatten().collect();
            let phrase = phrase.trim().to_string();
            // A number next is the next column of a table, dropped whole for want of room.
            let next = oracle
                .continues(&phrase)
                .filter(|n| !n.starts_with(|c: char| c.is_ascii_digit()));
            if let Some(next) = next {
                // Wrapped: the next row goes on with that word.
                let below: String = g
                    .get(y + 1)
                    .map(|r| r[x..w.x1.min(r.len())].iter().flatten().collect())
                    .unwrap_or_default();
                if !below.trim_start().starts_with(next.as_str()) {
                    out.push(format!(
                        "row {y}: `{phrase}` is cut before `{next}` without `…`"
                    ));
                }
            }
        }
    }
    out
}

/// Draws `lab` at `w`×`h`.
fn draw(lab: &Lab, w: u16, h: u16) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::draw(f, &lab.app)).unwrap();
    t.backend().buffer().clone()
}

/// The walk's findings: every screen checked, and every cut found.
#[derive(Default)]
struct Walk {
    seen: Vec<String>,
    found: Vec<String>,
}

impl Walk {
    /// Checks `lab` as drawn now, at 80×24 and 120×40, without and with colour.
    fn check(&mut self, name: &str, lab: &mut Lab) {
        self.seen.push(name.to_string());
        let was = lab.app.theme.color;
        for color in [false, true] {
            lab.app.theme.color = color;
            for (w, h) in [(80, 24), (120, 40)] {
                let narrow = draw(lab, w, h);
                let wide = [draw(lab, 400, h), draw(lab, 400, 100)];
                let colour = if color { "colour" } else { "no colour" };
                let found = cuts(&narrow, &[&wide[0], &wide[1]]);
                for c in &found {
                    self.found.push(format!("{name} {w}×{h} {colour}: {c}"));
                }
                if !found.is_empty() {
                    let rows: Vec<String> = grid(&narrow).iter().map(|r| row_text(r)).collect();
                    self.found.push(format!(
                        "{name} {w}×{h} {colour} drawn:\n{}",
                        rows.join("\n")
                    ));
                }
            }
        }
        lab.app.theme.color = was;
    }

    /// Checks the help of the screen `lab` shows, then closes it.
    fn help(&mut self, name: &str, lab: &mut Lab) {
        lab.ch('?');
        assert!(lab.app.help, "{name}: ? opens help");
        self.check(&format!("help on {name}"), lab);
        lab.key(KeyCode::Esc);
    }
}

// ---- the checker on frames cut by hand -------------------------------------------------

fn buf(lines: &[&str]) -> Buffer {
    Buffer::with_lines(lines.iter().copied())
}

#[test]
fn the_checker_finds_a_word_and_a_number_cut_at_an_edge() {
    let wide = buf(&[
        "┌ transform accuracy 0.314 ──────┐",
        "│transform: 72 transforms        │",
        "└────────────────────────────────┘",
    ]);
    let narrow = buf(&[
        "┌ transform accuracy 0.31┐",
        "│transform: 72 t         │",
        "└────────────────────────┘",
    ]);
    let found = cuts(&narrow, &[&wide]);
    assert!(found.iter().any(|c| c.contains("`0.31`")), "{found:#?}");
    assert!(found.iter().any(|c| c.contains("`t`")), "{found:#?}");
    assert_eq!(found.len(), 2, "{found:#?}");
}

#[test]
fn the_checker_finds_a_number_cut_with_an_ellipsis() {
    let wide = buf(&["accuracy 0.314 of the views"]);
    let narrow = buf(&["accuracy 0.3…"]);
    let found = cuts(&narrow, &[&wide]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].contains("number cut"), "{found:#?}");
}

#[test]
fn the_checker_finds_text_cut_between_words() {
    let wide = buf(&["│anomalous class  none (normal images only)  │"]);
    let narrow = buf(&[
        "┌──────────────────────────────────────┐",
        "│anomalous class  none (normal images│ │",
        "└──────────────────────────────────────┘",
    ]);
    // Ends at the screen's edge: cut between `images` and `only)`.
    let narrow_edge = buf(&["anomalous class  none (normal images"]);
    let found = cuts(&narrow_edge, &[&wide]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].contains("before `only)`"), "{found:#?}");
    // The `│` after it is no box's edge: not a cut by this rule.
    assert!(cuts(&narrow, &[&wide]).is_empty());
}

#[test]
fn the_checker_accepts_what_the_rule_allows() {
    let wide = buf(&[
        "┌ transform accuracy 0.314 ──────┐",
        "│data ready: 9000 training images, 9 classes│",
        "│20261129T210000Z-aaaa  sort: AUC mahalanobis│",
    ]);
    let narrow = buf(&[
        "┌ transform acc… 0.314 ┐",
        "│data ready: 9000      │",
        "│training images, 9    │",
        "│classes               │",
        "│…T210000Z-aaaa        │",
        "│sort: AUC mahal…      │",
        "│accuracy …            │",
        "│⣿⣿⠤⠤•• ████░░ ──      │",
        "└──────────────────────┘",
    ]);
    assert_eq!(cuts(&narrow, &[&wide]), Vec::<String>::new());
    // Wrapped exactly at the edge: the next row goes on.
    let narrow = buf(&[
        "┌────────────────┐",
        "│data ready: 9000│",
        "│training images,│",
        "│9 classes       │",
        "└────────────────┘",
    ]);
    assert_eq!(cuts(&narrow, &[&wide]), Vec::<String>::new());
    // A name shortened in the middle keeps both ends of one word drawn wide.
    let wide = buf(&["│fashion-sneaker-boot-arcface  finished│"]);
    let narrow = buf(&["│fashion-sneak…arcface finished│"]);
    assert_eq!(cuts(&narrow, &[&wide]), Vec::<String>::new());
    let narrow = buf(&["│fashion-sneak…cosface finished│"]);
    assert_eq!(cuts(&narrow, &[&wide]).len(), 1);
}

#[test]
fn the_checker_skips_words_a_popup_covers() {
    let wide = buf(&[
        "│  anomalous class  ankle boot  │   reference  all others (8)   normal",
        "┌ Reference ─┐ > [x] trouser",
    ]);
    let narrow = buf(&[
        "┌───────────────────────────────────┐",
        "│  anomalo┌ Reference ──────┐ boot  │",
        "│  referen│> [x] trouser    │ers (8)│",
        "│  normal └─────────────────┘       │",
        "└───────────────────────────────────┘",
    ]);
    assert_eq!(cuts(&narrow, &[&wide]), Vec::<String>::new());
}

// ---- the walk --------------------------------------------------------------------------

/// Opens the Detail page `page` of the run shown.
pub(super) fn to_page(l: &mut Lab, page: DetailPage) {
    for _ in 0..12 {
        if matches!(&l.app.runs.view, RunsView::Detail(d) if d.page == page) {
            return;
        }
        l.ch('l');
    }
    panic!("no page {page:?}");
}

fn setup_screens(w: &mut Walk) {
    let mut l = lab();
    w.check("Setup", &mut l);
    w.help("Setup", &mut l);
    // Every section open, then every one folded.
    l.ch('Z');
    w.check("Setup, sections folded", &mut l);
    l.ch('Z');
    w.check("Setup, sections open", &mut l);
    for (kind, name) in [
        (HeadKind::Arcface, "Setup, ArcFace"),
        (HeadKind::AdacosDynamic, "Setup, dynamic AdaCos"),
        (HeadKind::L2Softmax, "Setup, L2-softmax"),
    ] {
        l.app.form.config.head.kind = kind;
        l.app.form.validate();
        w.check(name, &mut l);
    }
    // The anomalous class as every class but the normal one; transforms and views on.
    let mut c = pinned();
    c.data.anomalous = crate::config::Anomalous::Rest;
    c.transforms.labels = crate::config::LabelMode::Transform;
    c.transforms.rotations = vec![0, 90, 180, 270];
    c.head.kind = HeadKind::Arcface;
    c.score.scorers = vec![
        ScorerKind::Mahalanobis,
        ScorerKind::KnnCosine,
        ScorerKind::Lof,
        ScorerKind::Ensemble,
    ];
    c.data.reference = Some(Vec::new());
    l.app.form.load(c, "fashion-sneaker-rest-arcface-transform");
    w.check("Setup, transforms, no reference, four scorers", &mut l);
    l.ch('Z');
    w.check("Setup, transforms, sections folded", &mut l);
    l.ch('Z');
    // An inline edit with an error under it.
    l.focus(Field::Epochs);
    l.ch('e');
    l.key(KeyCode::Backspace);
    l.text("2x");
    l.key(KeyCode::Enter);
    w.check("Setup, input with an error", &mut l);
    l.key(KeyCode::Esc);
    // The check's error on a field.
    l.focus(Field::M);
    l.ch('e');
    l.key(KeyCode::Backspace);
    l.key(KeyCode::Backspace);
    l.key(KeyCode::Backspace);
    l.text("2");
    l.key(KeyCode::Enter);
    w.check("Setup, check error", &mut l);
    // The checklists.
    let mut l = lab();
    for (field, name) in [
        (Field::Reference, "reference classes checklist"),
        (Field::Scorers, "scorers checklist"),
        (Field::Ensemble, "ensemble checklist"),
    ] {
        if !l.app.form.fields().contains(&field) {
            continue;
        }
        l.focus(field);
        l.ch(' ');
        assert!(matches!(l.app.popup, Some(Popup::Checklist(_))), "{name}");
        w.check(name, &mut l);
        l.key(KeyCode::Esc);
    }
    // Reset asks; saving asks for a name, then a description.
    l.ch('D');
    w.check("reset confirmation", &mut l);
    l.key(KeyCode::Esc);
    l.ch('w');
    w.check("save profile: name", &mut l);
    l.text("arc-exp");
    l.key(KeyCode::Enter);
    l.text("ArcFace on sneaker -> boot, with a description long enough to need cutting");
    w.check("save profile: description", &mut l);
    l.key(KeyCode::Esc);
    // The pickers, from a store (the shipped profiles and studies).
    let mut l = lab_with(Some(temp_store()), Script::default());
    l.ch('p');
    assert!(matches!(l.app.popup, Some(Popup::Profiles(_))));
    w.check("profile picker", &mut l);
    l.key(KeyCode::Esc);
    l.ch('S');
    assert!(matches!(l.app.popup, Some(Popup::Studies(_))));
    w.check("study picker", &mut l);
    l.key(KeyCode::Esc);
}

fn train_screens(w: &mut Walk) {
    let mut l = lab();
    l.ch('2');
    w.check("Train, idle", &mut l);
    w.help("Train", &mut l);
    let mut l = started_lab(repeated_config());
    w.check("Train, live", &mut l);
    l.ch('s');
    w.check("stop confirmation", &mut l);
    l.key(KeyCode::Esc);
    l.ch('q');
    w.check("quit confirmation", &mut l);
    l.ch('y');
    w.check("quitting", &mut l);
    // Transform labels mid-epoch, then the evaluation phase.
    let mut c = pinned();
    c.train.epochs = 3;
    c.transforms.labels = crate::config::LabelMode::Transform;
    c.transforms.rotations = vec![0, 90, 180, 270];
    let mut l = mid_epoch_lab(c);
    w.check("Train, transform accuracy", &mut l);
    l.script.send(Event::Evaluating {
        epoch: 1,
        view: 3,
        views: 8,
        images: 7500,
        total: 24000,
    });
    l.tick_at(9.0);
    w.check("Train, evaluating", &mut l);
    // Two runs queued behind it.
    l.ch('1');
    l.focus(Field::Head);
    l.key(KeyCode::Left);
    l.ch('r');
    l.focus(Field::Head);
    l.key(KeyCode::Right);
    l.ch('r');
    l.ch('2');
    w.check("Train, queue", &mut l);
    // Finished.
    let mut c = pinned();
    c.train.epochs = 4;
    let mut l = lab();
    l.app.form.load(c.clone(), "p");
    l.ch('r');
    for (t, ev) in scripted_events(&c)
        .into_iter()
        .take_while(|(_, e)| !matches!(e, Event::SeedStarted { index: 1, .. }))
    {
        l.script.send(ev);
        l.tick_at(t);
    }
    l.script.send(Event::Finished {
        outcome: Outcome::Finished,
    });
    l.tick_at(43.0);
    w.check("Train, finished", &mut l);
    // A run of another process, followed; a study's task.
    let mut l = attached_lab();
    w.check("Train, following a run", &mut l);
    let mut l = super::follow::study_lab();
    w.check("Train, study", &mut l);
}

fn runs_screens(w: &mut Walk) {
    let mut l = table_lab();
    w.check("Runs", &mut l);
    w.help("Runs", &mut l);
    l.app.runs.select_study("heads");
    l.key(KeyCode::Right);
    w.check("Runs, study expanded", &mut l);
    l.ch('/');
    l.text("head=arcface status=finished");
    w.check("filter input", &mut l);
    l.key(KeyCode::Enter);
    w.check("Runs, filtered", &mut l);
    l.key(KeyCode::Esc);
    l.app.runs.select_id("20261129T210000Z-aaaa");
    l.ch('t');
    w.check("tags input", &mut l);
    l.key(KeyCode::Esc);
    l.ch('n');
    w.check("note input", &mut l);
    l.key(KeyCode::Esc);
    l.ch('x');
    w.check("delete confirmation", &mut l);
    l.key(KeyCode::Esc);
    l.app.runs.select_id("20261130T003000Z-ffff");
    l.ch('x');
    assert!(matches!(
        l.app.popup,
        Some(Popup::Confirm(ConfirmKind::DeleteRefused { .. }))
    ));
    w.check("delete refused", &mut l);
    l.key(KeyCode::Esc);
    // The study view, then a cell's runs.
    l.app.runs.select_study("heads");
    l.key(KeyCode::Enter);
    assert!(matches!(l.app.runs.view, RunsView::Study(_)));
    w.check("Study", &mut l);
    w.help("Study", &mut l);
    l.key(KeyCode::Down);
    l.key(KeyCode::Enter);
    w.check("Study, a cell's runs", &mut l);
    // Compare three runs.
    let mut l = table_lab();
    for id in [
        "20261129T210000Z-aaaa",
        "20261129T220000Z-bbbb",
        "20261130T001000Z-gggg",
    ] {
        l.app.runs.select_id(id);
        l.ch(' ');
    }
    l.ch('c');
    assert!(matches!(l.app.runs.view, RunsView::Compare(_)));
    w.check("Compare", &mut l);
    w.help("Compare", &mut l);
}

fn detail_screens(w: &mut Walk) {
    let mut l = runs_lab();
    super::runs::open_detail(&mut l, "20261129T210000Z-aaaa");
    w.help("Detail", &mut l);
    for page in [
        DetailPage::Overview,
        DetailPage::Epochs,
        DetailPage::Roc,
        DetailPage::Spread,
        DetailPage::Images,
    ] {
        to_page(&mut l, page);
        l.tick_at(0.1);
        w.check(&format!("Detail, {page:?}"), &mut l);
    }
    if let RunsView::Detail(d) = &mut l.app.runs.view {
        d.images = ImagesState::Ready(
            (0..8)
                .map(|i| super::runs::thumb(i, 0.7 - i as f32 * 0.01, i < 3))
                .chain((0..8).map(|i| super::runs::thumb(i + 3, 0.01 * i as f32, false)))
                .collect(),
        );
    }
    w.check("Detail, images shown", &mut l);
    if let RunsView::Detail(d) = &mut l.app.runs.view {
        d.images = ImagesState::Missing(
            "fashion-mnist not found; searched:\n  - /data\n  - /home/user/.local/share/adalab/data".into(),
        );
    }
    w.check("Detail, images missing", &mut l);
    let mut l = detail_lab();
    super::runs::open_detail(&mut l, "20261130T010000Z-vvvv");
    w.check("Detail, Overview with views", &mut l);
    to_page(&mut l, DetailPage::Views);
    w.check("Detail, Views", &mut l);
    l.key(KeyCode::Esc);
    super::runs::open_detail(&mut l, "20261130T011000Z-mmmm");
    w.check("Detail, Overview of an MVTec run", &mut l);
    to_page(&mut l, DetailPage::Groups);
    w.check("Detail, Defects", &mut l);
}

#[test]
fn no_screen_or_popup_cuts_a_word_or_a_number() {
    let mut w = Walk::default();
    setup_screens(&mut w);
    train_screens(&mut w);
    runs_screens(&mut w);
    detail_screens(&mut w);
    assert!(w.seen.len() >= 50, "{:#?}", w.seen);
    assert!(
        w.found.is_empty(),
        "{} cut(s) without `…` in {} views:\n{}",
        w.found.len(),
        w.seen.len(),
        w.found.join("\n")
    );
}
