//! Tests of the lab through its [`App`]: snapshot tests of every screen (TestBackend + insta)
//! and tests of the state machine, driven by scripted training events ([`Script`], a
//! [`Launcher`]) and a temporary store. This file holds the shared harness ([`Lab`]) and the
//! frame-wide tests (too small, help, tabs); `fixtures.rs` the configs, events and run records;
//! the others are split by screen: `setup.rs`, `train.rs`, `follow.rs` (a run or study followed
//! from the store), `runs.rs` (the list, detail, compare), `table.rs` (the experiment table and
//! studies), `detail.rs` (views, defects, baseline, `e`), `popups.rs`; `cut.rs` walks every
//! screen and popup and fails on text cut without `…`.

/// Asserts a snapshot under the name it had before the tests were split by screen:
/// `src/tui/snapshots/adalab__tui__tests__<name>.snap`, whichever file of `tests/` asserts it
/// (insta would otherwise prefix the submodule, e.g. `adalab__tui__tests__setup__<name>`).
macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({
            snapshot_path => "../snapshots",
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!(concat!("adalab__tui__tests__", $name), $value);
        })
    };
}

/// Asserts a screen four ways: at 80×24 and 120×40, without colour (`NO_COLOR`, the
/// harness's default theme) and with it (`_color`: the text, then a map of each cell's
/// foreground colour, see [`Lab::render_styled`]): `<name>_80x24`, `<name>_120x40`,
/// `<name>_80x24_color`, `<name>_120x40_color`.
macro_rules! snapshots {
    ($name:literal, $lab:expr) => {{
        let lab: &mut Lab = $lab;
        let was = lab.app.theme.color;
        lab.app.theme.color = false;
        snapshot!(concat!($name, "_80x24"), lab.render(80, 24));
        snapshot!(concat!($name, "_120x40"), lab.render(120, 40));
        lab.app.theme.color = true;
        snapshot!(concat!($name, "_80x24_color"), lab.render_styled(80, 24));
        snapshot!(concat!($name, "_120x40_color"), lab.render_styled(120, 40));
        lab.app.theme.color = was;
    }};
}

mod cut;
mod detail;
mod features;
mod fixtures;
mod follow;
mod popups;
mod runs;
mod score;
mod setup;
mod table;
mod train;

use fixtures::*;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use crate::config::{Config, HeadKind, ScorerKind};
use crate::score::Evaluation;
use crate::score::Summary;
use crate::store::{
    DataCounts, RunRecord, RunStatus, SeedRecord, SeedResult, Store, Timestamp, SCHEMA_VERSION,
};
use crate::train::{EpochMetrics, Event, Outcome};

use super::app::{App, AppOptions, Popup, Tab, QUIT_WAIT};
use super::detail::DetailPage;
use super::images::{ImageLoader, ImagesState, PixelMode, Thumb};
use super::launcher::{Job, Launcher, ScoreJob, ScoreUpdate, StudyJob, StudyUpdate};
use super::popups::confirm::ConfirmKind;
use super::runs::{Column as SortColumn, RunsView};
use super::setup::Field;
use super::theme::{Markers, Theme};
use super::ui;

/// A fixed wall-clock time for the tests (2026-11-30T02:00:00Z).
const WALL: Timestamp = Timestamp(1_795_917_600);

/// Hands out jobs whose events the test sends by hand.
#[derive(Clone, Default)]
struct Script {
    sender: Rc<RefCell<Option<Sender<Event>>>>,
    cancelled: Arc<AtomicBool>,
    launched: Rc<RefCell<Vec<(Config, String)>>>,
    fail: Option<String>,
    /// The study started last: its events are sent by the test.
    study_sender: Rc<RefCell<Option<Sender<StudyUpdate>>>>,
    study_cancelled: Arc<AtomicBool>,
    studies: Rc<RefCell<Vec<String>>>,
    /// The folder scoring started last: its reports are sent by the test.
    score_sender: Rc<RefCell<Option<Sender<ScoreUpdate>>>>,
    score_cancelled: Arc<AtomicBool>,
    /// (run, folder) of every scoring started.
    scored: Rc<RefCell<Vec<(String, std::path::PathBuf)>>>,
}

impl Launcher for Script {
    fn launch(&mut self, config: &Config, profile: &str) -> anyhow::Result<Job> {
        if let Some(f) = &self.fail {
            anyhow::bail!("{f}");
        }
        let (tx, rx) = mpsc::channel();
        *self.sender.borrow_mut() = Some(tx);
        self.launched
            .borrow_mut()
            .push((config.clone(), profile.to_string()));
        let flag = self.cancelled.clone();
        Ok(Job {
            events: rx,
            cancel: Box::new(move || flag.store(true, Ordering::SeqCst)),
            run_id: Some("20261130T013000Z-test".into()),
        })
    }

    fn launch_score(&mut self, run: &str, folder: &std::path::Path) -> anyhow::Result<ScoreJob> {
        let (tx, rx) = mpsc::channel();
        *self.score_sender.borrow_mut() = Some(tx);
        self.scored
            .borrow_mut()
            .push((run.to_string(), folder.to_path_buf()));
        let flag = self.score_cancelled.clone();
        Ok(ScoreJob {
            events: rx,
            cancel: Box::new(move || flag.store(true, Ordering::SeqCst)),
        })
    }

    fn launch_study(&mut self, study: &crate::store::studies::Study) -> anyhow::Result<StudyJob> {
        let (tx, rx) = mpsc::channel();
        *self.study_sender.borrow_mut() = Some(tx);
        self.studies.borrow_mut().push(study.name.clone());
        let flag = self.study_cancelled.clone();
        Ok(StudyJob {
            events: rx,
            cancel: Box::new(move || flag.store(true, Ordering::SeqCst)),
        })
    }
}

impl Script {
    fn send_score(&self, up: ScoreUpdate) {
        self.score_sender
            .borrow()
            .as_ref()
            .expect("a scoring was launched")
            .send(up)
            .unwrap();
    }
    fn send_study(&self, up: StudyUpdate) {
        self.study_sender
            .borrow()
            .as_ref()
            .expect("a study was launched")
            .send(up)
            .unwrap();
    }
    fn send(&self, ev: Event) {
        self.sender
            .borrow()
            .as_ref()
            .expect("a job was launched")
            .send(ev)
            .unwrap();
    }
    fn hang_up(&self) {
        self.sender.borrow_mut().take();
    }
}

struct Lab {
    app: App,
    script: Script,
    base: Instant,
    _dir: Option<tempfile::TempDir>,
}

fn theme() -> Theme {
    Theme {
        color: false,
        markers: Markers::Braille,
    }
}

/// The config the tests start from: the defaults with the values the snapshots show pinned,
/// so tuning the defaults does not churn the snapshots.
fn pinned() -> Config {
    let mut c = Config::default();
    c.train.epochs = 10;
    c.train.batch_size = 64;
    c.train.lr = 1e-3;
    c.score.scorers = vec![ScorerKind::KnnCosine, ScorerKind::Lof];
    c
}

fn lab_with(store: Option<(Store, tempfile::TempDir)>, script: Script) -> Lab {
    let base = Instant::now();
    let (store, dir) = match store {
        Some((s, d)) => (Some(s), Some(d)),
        None => (None, None),
    };
    let mut app = App::new(
        AppOptions {
            store,
            store_error: None,
            launcher: Box::new(script.clone()),
            images: ImageLoader::inert(),
            theme: theme(),
            pixel_mode: PixelMode::Shades,
            config: pinned(),
            profile: "fashion-sneaker-boot-adacos-fixed".into(),
            log_file: None,
            watch_store: false,
        },
        base,
        WALL,
    );
    // Snapshots must not depend on the build's features.
    app.form.build = crate::config::Build {
        cuda: false,
        memory_bytes: None,
    };
    app.form.catalog = std::sync::Arc::new(crate::data::Builtin);
    app.form.data_env = None;
    app.form.validate();
    Lab {
        app,
        script,
        base,
        _dir: dir,
    }
}

fn lab() -> Lab {
    lab_with(None, Script::default())
}

impl Lab {
    fn key(&mut self, code: KeyCode) {
        self.app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
    }
    fn ch(&mut self, c: char) {
        self.key(KeyCode::Char(c));
    }
    fn text(&mut self, s: &str) {
        for c in s.chars() {
            self.ch(c);
        }
    }
    /// Advances the injected clock to `secs` after the start and runs one loop turn.
    fn tick_at(&mut self, secs: f64) {
        self.app
            .tick(self.base + Duration::from_secs_f64(secs), WALL);
    }
    /// Puts the Setup cursor on `field`, which must be on the form.
    fn focus(&mut self, field: Field) {
        let pos = self
            .app
            .form
            .fields()
            .iter()
            .position(|f| *f == field)
            .unwrap();
        self.app.form.focus = pos;
    }
    fn render(&self, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| ui::draw(f, &self.app)).unwrap();
        t.backend().to_string()
    }
    /// The text, then one line per row naming each cell's foreground colour (`.` none, `c`
    /// cyan, `y` yellow, `m` magenta, `g` green, `r` red, `d` dark grey, `R` light red, `B`
    /// light blue, `w` white, `G` light green, `?` other; `#` reversed: the selection).
    fn render_styled(&self, w: u16, h: u16) -> String {
        use ratatui::style::{Color, Modifier};
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| ui::draw(f, &self.app)).unwrap();
        let buf = t.backend().buffer();
        let mut out = t.backend().to_string();
        out.push_str("--- foreground colours ---\n");
        for y in 0..h {
            let line: String = (0..w)
                .map(|x| {
                    let c = &buf[(x, y)];
                    let ch = match c.fg {
                        Color::Reset => '.',
                        Color::Cyan => 'c',
                        Color::Yellow => 'y',
                        Color::Magenta => 'm',
                        Color::Green => 'g',
                        Color::Red => 'r',
                        Color::DarkGray => 'd',
                        Color::LightRed => 'R',
                        Color::LightBlue => 'B',
                        Color::White => 'w',
                        Color::LightGreen => 'G',
                        _ => '?',
                    };
                    if c.modifier.contains(Modifier::REVERSED) {
                        '#'
                    } else {
                        ch
                    }
                })
                .collect();
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}

// ---- the frame: size, help, tabs, keys ------------------------------------------------

#[test]
fn snapshot_too_small() {
    let l = lab();
    snapshot!("snapshot_too_small", l.render(60, 20));
}

#[test]
fn snapshot_help_train() {
    let mut l = lab();
    l.ch('2');
    l.ch('?');
    snapshot!("snapshot_help_train", l.render(80, 24));
}

#[test]
fn help_fits_its_columns() {
    let mut l = lab();
    l.ch('?');
    snapshots!("help_setup", &mut l);
}

#[test]
fn snapshot_help_runs_two_columns() {
    let mut l = lab();
    l.ch('3');
    l.ch('?');
    snapshot!("snapshot_help_runs_two_columns", l.render(80, 24));
}

#[test]
fn key_releases_are_ignored() {
    let mut l = lab();
    let mut ev = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
    ev.kind = KeyEventKind::Release;
    l.app.on_key(ev);
    assert!(!l.app.should_quit);
}

#[test]
fn tabs_cycle_and_help_toggles() {
    let mut l = lab();
    l.key(KeyCode::Tab);
    assert_eq!(l.app.tab, Tab::Train);
    l.app
        .on_key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT));
    l.app
        .on_key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT));
    assert_eq!(l.app.tab, Tab::Runs);
    l.ch('?');
    assert!(l.app.help);
    l.key(KeyCode::Esc);
    assert!(!l.app.help);
}

#[test]
fn markers_cycle() {
    let mut l = lab();
    l.ch('m');
    assert_eq!(l.app.theme.markers, Markers::Block);
    l.ch('m');
    assert_eq!(l.app.theme.markers, Markers::Dot);
}
