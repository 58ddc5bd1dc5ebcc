//! Tests of the lab through its [`App`]: snapshot tests of every screen (TestBackend + insta)
//! and tests of the state machine, driven by scripted training events ([`Script`], a
//! [`Launcher`]) and a temporary store. This file holds the shared harness ([`Lab`]), the
//! fixtures (configs, events, run records) and the frame-wide tests (too small, help, tabs);
//! the others are split by screen: `setup.rs`, `train.rs`, `runs.rs` (with detail and compare),
//! `popups.rs`.

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

mod popups;
mod runs;
mod setup;
mod train;

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
use super::form::Field;
use super::images::{ImageLoader, ImagesState, PixelMode, Thumb};
use super::launcher::{Job, Launcher, StudyJob, StudyUpdate};
use super::popups::confirm::ConfirmKind;
use super::runs::{DetailPage, RunsView, SortColumn};
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

fn epoch(e: usize, loss: f32, acc: f32, scale: f32, auc: &[(ScorerKind, f64)]) -> EpochMetrics {
    EpochMetrics {
        epoch: e,
        loss,
        accuracy: acc,
        scale,
        lr: 1e-3,
        seconds: 10.0,
        images_per_sec: 900.0,
        auc: auc.iter().copied().collect(),
    }
}

fn evaluation(knn: f64, lof: f64) -> Evaluation {
    Evaluation {
        epoch: 4,
        auc: [(ScorerKind::KnnCosine, knn), (ScorerKind::Lof, lof)]
            .into_iter()
            .collect(),
        average_precision: BTreeMap::new(),
        roc: BTreeMap::new(),
        labels: vec![false, true],
        scores: BTreeMap::new(),
        identity_auc: Default::default(),
        view_auc: Vec::new(),
        group_auc: Vec::new(),
    }
}

fn repeated_config() -> Config {
    let mut c = pinned();
    c.train.epochs = 4;
    c.run.repeat = 3;
    c
}

/// A repeated job: seed 0 done (4 epochs), seed 1 in its second epoch.
fn scripted_events(c: &Config) -> Vec<(f64, Event)> {
    use ScorerKind::{KnnCosine as K, Lof as L};
    let mut v = vec![
        (
            0.0,
            Event::Started {
                config: Box::new(c.clone()),
                seeds: (0..c.run.repeat as u64).collect(),
                device: "cpu".into(),
                threads: 2,
            },
        ),
        (
            2.0,
            Event::DataReady {
                train: 9000,
                normal_train: 1000,
                test: 2000,
                classes: 9,
            },
        ),
        (2.0, Event::SeedStarted { index: 0, seed: 0 }),
    ];
    let curve = [
        (1.2, 0.55, 0.861, 0.842),
        (0.8, 0.71, 0.902, 0.871),
        (0.6, 0.80, 0.915, 0.890),
        (0.5, 0.84, 0.911, 0.893),
    ];
    for (i, (loss, acc, k, l)) in curve.iter().enumerate() {
        let t = 2.0 + 10.0 * (i as f64 + 1.0);
        v.push((
            t - 5.0,
            Event::Progress {
                epoch: i + 1,
                batch: 70,
                batches: 141,
                images_per_sec: 880.0,
                loss: *loss,
                accuracy: 0.5,
            },
        ));
        v.push((
            t,
            Event::Epoch(epoch(i + 1, *loss, *acc, 2.941, &[(K, *k), (L, *l)])),
        ));
    }
    v.push((42.0, Event::warn("LOF found duplicate embeddings")));
    v.push((
        42.0,
        Event::SeedFinished {
            index: 0,
            seed: 0,
            outcome: Outcome::Finished,
            evaluation: Some(Box::new(evaluation(0.911, 0.893))),
            summary: crate::score::summarize([&evaluation(0.911, 0.893).auc]),
            identity_summary: Default::default(),
        },
    ));
    v.push((42.0, Event::SeedStarted { index: 1, seed: 1 }));
    v.push((
        52.0,
        Event::Epoch(epoch(1, 1.1, 0.58, 2.941, &[(K, 0.874), (L, 0.851)])),
    ));
    v.push((
        57.0,
        Event::Progress {
            epoch: 2,
            batch: 100,
            batches: 141,
            images_per_sec: 905.0,
            loss: 0.84,
            accuracy: 0.5,
        },
    ));
    v
}

fn started_lab(c: Config) -> Lab {
    let mut l = lab();
    l.app
        .form
        .load(c.clone(), "fashion-sneaker-boot-adacos-fixed");
    l.ch('r');
    assert_eq!(l.app.tab, Tab::Train);
    for (t, ev) in scripted_events(&c) {
        l.script.send(ev);
        l.tick_at(t);
    }
    l
}

fn seed_record(index: usize, seed: u64, knn: f64, lof: f64, epochs: usize) -> SeedRecord {
    use ScorerKind::{KnnCosine as K, Lof as L};
    SeedRecord {
        index,
        seed,
        status: RunStatus::Finished,
        reason: None,
        scores_file: None,
        result: Some(SeedResult {
            epoch: epochs,
            auc: [(K, knn), (L, lof)].into_iter().collect(),
            average_precision: [(K, knn - 0.05), (L, lof - 0.05)].into_iter().collect(),
            identity_auc: Default::default(),
            view_auc: Vec::new(),
            group_auc: Vec::new(),
        }),
        epochs: (1..=epochs)
            .map(|e| {
                let f = e as f64 / epochs as f64;
                epoch(
                    e,
                    (1.5 - f) as f32,
                    (0.5 + 0.4 * f) as f32,
                    2.941,
                    &[(K, knn - 0.05 * (1.0 - f)), (L, lof - 0.06 * (1.0 - f))],
                )
            })
            .collect(),
    }
}

fn record(id: &str, minutes: i64, head: HeadKind, aucs: &[(f64, f64)], tags: &[&str]) -> RunRecord {
    let mut config = pinned();
    config.head.kind = head;
    config.train.epochs = 5;
    config.run.repeat = aucs.len();
    let created = Timestamp(WALL.0 - 3600 * 5 + minutes * 60);
    let seeds: Vec<SeedRecord> = aucs
        .iter()
        .enumerate()
        .map(|(i, (k, l))| seed_record(i, i as u64, *k, *l, 5))
        .collect();
    let mut r = RunRecord {
        schema_version: SCHEMA_VERSION,
        id: id.into(),
        profile: format!("fashion-sneaker-boot-{head}"),
        status: RunStatus::Finished,
        reason: None,
        created,
        updated: Timestamp(created.0 + 300),
        finished: Some(Timestamp(created.0 + 300)),
        host: "lab-host".into(),
        pid: 1,
        heartbeat: Timestamp(created.0 + 300),
        device: "cpu".into(),
        threads: 2,
        adalab_version: "0.1.0".into(),
        tags: tags.iter().map(|s| s.to_string()).collect(),
        note: String::new(),
        planned_seeds: (0..aucs.len() as u64).collect(),
        data: Some(DataCounts {
            train: 9000,
            normal_train: 1000,
            test: 2000,
            classes: 9,
        }),
        study: None,
        config,
        seeds,
        summary: BTreeMap::new(),
        identity_summary: Default::default(),
    };
    r.summary = crate::score::summarize(
        r.seeds
            .iter()
            .filter_map(|s| s.result.as_ref())
            .map(|x| &x.auc),
    );
    r
}

fn write_run(store: &Store, r: &RunRecord, with_scores: bool) {
    let dir = store.runs_dir().join(&r.id);
    std::fs::create_dir_all(&dir).unwrap();
    r.save(&dir.join(crate::store::RUN_FILE)).unwrap();
    if with_scores {
        // 40 test images: 20 normal with low scores, 20 anomalous with mostly high ones.
        let n = 40;
        let labels: Vec<bool> = (0..n).map(|i| i >= 20).collect();
        let knn: Vec<f32> = (0..n)
            .map(|i| {
                if i >= 20 {
                    0.3 + (i as f32) * 0.01
                } else {
                    (i as f32) * 0.02
                }
            })
            .collect();
        let lof: Vec<f32> = knn.iter().map(|v| 1.0 + v * 0.5).collect();
        let ev = Evaluation {
            epoch: 5,
            auc: BTreeMap::new(),
            average_precision: BTreeMap::new(),
            roc: BTreeMap::new(),
            labels,
            scores: [(ScorerKind::KnnCosine, knn), (ScorerKind::Lof, lof)]
                .into_iter()
                .collect(),
            identity_auc: Default::default(),
            view_auc: Vec::new(),
            group_auc: Vec::new(),
        };
        crate::store::scores::write(&dir.join(crate::store::SCORES_FILE), &ev).unwrap();
    }
}

fn temp_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::with_dirs(dir.path().join("home"), dir.path().join("config"));
    write_run(
        &store,
        &record(
            "20261129T210000Z-aaaa",
            0,
            HeadKind::AdacosFixed,
            &[
                (0.912, 0.893),
                (0.934, 0.901),
                (0.921, 0.887),
                (0.905, 0.880),
                (0.928, 0.899),
            ],
            &["baseline"],
        ),
        true,
    );
    write_run(
        &store,
        &record(
            "20261129T220000Z-bbbb",
            60,
            HeadKind::Arcface,
            &[(0.884, 0.871)],
            &[],
        ),
        true,
    );
    write_run(
        &store,
        &record(
            "20261129T230000Z-cccc",
            120,
            HeadKind::Softmax,
            &[(0.853, 0.861)],
            &["old"],
        ),
        false,
    );
    let bad = store.runs_dir().join("20261129T235900Z-dddd");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join(crate::store::RUN_FILE), "schema_version = 99\n").unwrap();
    (store, dir)
}

fn runs_lab() -> Lab {
    let mut l = lab_with(Some(temp_store()), Script::default());
    l.ch('3');
    l
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
