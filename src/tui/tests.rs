//! Snapshot tests of every screen (TestBackend + insta) and tests of the app's state machine,
//! driven by scripted training events and a temporary store.

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

use super::app::{App, AppOptions, Popup, Tab};
use super::form::Field;
use super::images::{ImageLoader, ImagesState, PixelMode, Thumb};
use super::launcher::{Job, Launcher};
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
}

impl Script {
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
    fn render(&self, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| ui::draw(f, &self.app)).unwrap();
        t.backend().to_string()
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

// ---- snapshots ---------------------------------------------------------------------------

#[test]
fn snapshot_setup_default() {
    let l = lab();
    insta::assert_snapshot!(l.render(80, 24));
}

#[test]
fn snapshot_setup_arcface_inline_error() {
    let mut l = lab();
    l.app.form.config.head.kind = HeadKind::Arcface;
    l.app.form.validate();
    // Move to the margin field and type a margin ArcFace cannot take.
    let pos = l
        .app
        .form
        .fields()
        .iter()
        .position(|f| *f == Field::M)
        .unwrap();
    l.app.form.focus = pos;
    l.ch('e');
    l.key(KeyCode::Backspace);
    l.key(KeyCode::Backspace);
    l.key(KeyCode::Backspace);
    l.text("2");
    l.key(KeyCode::Enter);
    assert_eq!(l.app.form.error.as_ref().unwrap().key, "head.m");
    insta::assert_snapshot!(l.render(80, 24));
}

#[test]
fn snapshot_setup_inline_edit() {
    let mut l = lab();
    let pos = l
        .app
        .form
        .fields()
        .iter()
        .position(|f| *f == Field::Epochs)
        .unwrap();
    l.app.form.focus = pos;
    l.ch('e');
    l.key(KeyCode::Backspace);
    l.key(KeyCode::Backspace);
    l.text("2x");
    l.key(KeyCode::Enter);
    assert!(matches!(&l.app.popup, Some(Popup::Input(i)) if i.error.is_some()));
    insta::assert_snapshot!(l.render(80, 24));
}

#[test]
fn snapshot_setup_reference_checklist() {
    let mut l = lab();
    l.app.form.focus = 3;
    l.ch(' ');
    insta::assert_snapshot!(l.render(80, 24));
}

#[test]
fn snapshot_train_idle() {
    let mut l = lab();
    l.ch('2');
    insta::assert_snapshot!(l.render(80, 24));
}

#[test]
fn snapshot_train_live() {
    let l = started_lab(repeated_config());
    insta::assert_snapshot!(l.render(80, 24));
}

#[test]
fn snapshot_train_live_large() {
    let l = started_lab(repeated_config());
    insta::assert_snapshot!(l.render(120, 36));
}

#[test]
fn snapshot_train_stop_confirm() {
    let mut l = started_lab(repeated_config());
    l.ch('s');
    insta::assert_snapshot!(l.render(80, 24));
}

#[test]
fn snapshot_train_finished() {
    let mut c = pinned();
    c.train.epochs = 4;
    let mut l = lab();
    l.app.form.load(c.clone(), "p");
    l.ch('r');
    let evs: Vec<(f64, Event)> = scripted_events(&c)
        .into_iter()
        .take_while(|(_, e)| !matches!(e, Event::SeedStarted { index: 1, .. }))
        .collect();
    for (t, ev) in evs {
        l.script.send(ev);
        l.tick_at(t);
    }
    l.script.send(Event::Finished {
        outcome: Outcome::Finished,
    });
    l.tick_at(43.0);
    insta::assert_snapshot!(l.render(80, 24));
}

#[test]
fn snapshot_too_small() {
    let l = lab();
    insta::assert_snapshot!(l.render(60, 20));
}

#[test]
fn snapshot_help_train() {
    let mut l = lab();
    l.ch('2');
    l.ch('?');
    insta::assert_snapshot!(l.render(80, 24));
}

#[test]
fn snapshot_help_runs_two_columns() {
    let mut l = lab();
    l.ch('3');
    l.ch('?');
    insta::assert_snapshot!(l.render(80, 24));
}

// ---- a temporary store -------------------------------------------------------------------

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
        config,
        seeds,
        summary: BTreeMap::new(),
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

#[test]
fn snapshot_runs_table() {
    let l = runs_lab();
    assert_eq!(l.app.runs.rows.len(), 4);
    insta::assert_snapshot!(l.render(80, 24));
}

#[test]
fn snapshot_runs_sorted_filtered_marked() {
    let mut l = runs_lab();
    l.ch('o');
    l.ch('o');
    l.ch('o');
    l.ch('o');
    l.ch('o');
    assert_eq!(l.app.runs.sort, SortColumn::Auc);
    l.ch(' ');
    l.ch(' ');
    l.ch('/');
    l.text("fmnist");
    l.key(KeyCode::Enter);
    insta::assert_snapshot!(l.render(100, 24));
}

fn open_detail(l: &mut Lab, id: &str) {
    l.app.runs.select_id(id);
    l.key(KeyCode::Enter);
    assert!(matches!(l.app.runs.view, RunsView::Detail(_)));
}

#[test]
fn snapshot_detail_pages() {
    let mut l = runs_lab();
    open_detail(&mut l, "20261129T210000Z-aaaa");
    let mut pages = Vec::new();
    for _ in 0..4 {
        pages.push(l.render(80, 24));
        l.ch('l');
    }
    insta::assert_snapshot!("detail_overview", pages[0]);
    insta::assert_snapshot!("detail_epochs", pages[1]);
    insta::assert_snapshot!("detail_roc", pages[2]);
    insta::assert_snapshot!("detail_spread", pages[3]);
}

fn thumb(seed: usize, score: f32, anomalous: bool) -> Thumb {
    let px: Vec<f32> = (0..28 * 28)
        .map(|i| {
            let (y, x) = (i / 28, i % 28);
            let d = ((x as f32 - 14.0).powi(2) + (y as f32 - 14.0).powi(2)).sqrt();
            if (d as usize + seed) % 7 < 3 {
                0.9
            } else {
                0.1
            }
        })
        .collect();
    Thumb::from_planar(&px, (1, 28, 28), score, anomalous)
}

#[test]
fn snapshot_detail_images() {
    let mut l = runs_lab();
    open_detail(&mut l, "20261129T210000Z-aaaa");
    for _ in 0..4 {
        l.ch('l');
    }
    l.tick_at(0.1);
    // The inert loader never answers: the page says it is loading, then the test answers.
    let loading = l.render(80, 24);
    assert!(loading.contains("loading the dataset"), "{loading}");
    if let RunsView::Detail(d) = &mut l.app.runs.view {
        assert_eq!(d.images_key.as_deref(), Some("20261129T210000Z-aaaa#0"));
        d.images = ImagesState::Ready(
            (0..8)
                .map(|i| thumb(i, 0.7 - i as f32 * 0.01, i < 3))
                .chain((0..8).map(|i| thumb(i + 3, 0.01 * i as f32, false)))
                .collect(),
        );
    }
    insta::assert_snapshot!("detail_images_small", l.render(80, 24));
    insta::assert_snapshot!("detail_images_full", l.render(130, 40));
    if let RunsView::Detail(d) = &mut l.app.runs.view {
        d.images = ImagesState::Missing("fashion-mnist not found; searched: /data".into());
    }
    insta::assert_snapshot!("detail_images_missing", l.render(80, 24));
}

#[test]
fn snapshot_compare() {
    let mut l = runs_lab();
    l.app.runs.select_id("20261129T210000Z-aaaa");
    l.ch(' ');
    l.app.runs.select_id("20261129T220000Z-bbbb");
    l.ch(' ');
    l.ch('c');
    assert!(matches!(l.app.runs.view, RunsView::Compare(_)));
    insta::assert_snapshot!(l.render(100, 30));
}

#[test]
fn snapshot_delete_confirm() {
    let mut l = runs_lab();
    l.app.runs.select_id("20261129T230000Z-cccc");
    l.ch('x');
    insta::assert_snapshot!(l.render(80, 24));
}

// ---- state transitions -------------------------------------------------------------------

#[test]
fn start_launches_with_the_form_config() {
    let mut l = lab();
    let e0 = l.app.form.config.train.epochs;
    l.app.form.step(Field::Epochs, -1);
    l.key(KeyCode::Enter);
    assert_eq!(l.app.tab, Tab::Train);
    let launched = l.script.launched.borrow();
    assert_eq!(launched.len(), 1);
    assert_eq!(launched[0].0.train.epochs, e0 - 1);
    assert_eq!(launched[0].1, "fashion-sneaker-boot-adacos-fixed-edited");
    assert!(l.app.run_active());
}

#[test]
fn invalid_form_does_not_start() {
    let mut l = lab();
    l.app.form.config.train.batch_size = 1;
    l.app.form.validate();
    l.ch('r');
    assert!(l.script.launched.borrow().is_empty());
    assert_eq!(l.app.tab, Tab::Setup);
    assert_eq!(l.app.form.focused(), Field::BatchSize);
    assert!(l
        .app
        .status
        .as_ref()
        .unwrap()
        .text
        .contains("train.batch_size"));
}

#[test]
fn launch_failure_is_reported() {
    let script = Script {
        fail: Some("disk full".into()),
        ..Script::default()
    };
    let mut l = lab_with(None, script);
    l.ch('r');
    assert_eq!(l.app.tab, Tab::Setup);
    assert!(l.app.status.as_ref().unwrap().text.contains("disk full"));
    assert!(!l.app.run_active());
}

#[test]
fn second_start_while_running_is_refused() {
    let mut l = started_lab(repeated_config());
    l.ch('1');
    l.ch('r');
    assert_eq!(l.script.launched.borrow().len(), 1);
    assert_eq!(l.app.tab, Tab::Setup);
}

#[test]
fn live_state_follows_events() {
    let l = started_lab(repeated_config());
    let live = l.app.live.as_ref().unwrap();
    assert_eq!(live.seed_index, 1);
    assert_eq!(live.epochs().len(), 1);
    assert_eq!(live.seed_aucs()[0].1, Some(0.911));
    assert_eq!(
        live.auc_now_best(ScorerKind::KnnCosine),
        Some((0.874, 0.874, 1))
    );
    // 1 of 3 seeds done, plus 1 epoch and 100/141 batches of the second epoch.
    let expect = (1.0 + (1.0 + 100.0 / 141.0) / 4.0) / 3.0;
    assert!((live.job_fraction() - expect).abs() < 1e-9);
    let eta = live.eta(l.base + Duration::from_secs(57)).unwrap();
    let want = 55.0 * (1.0 - expect) / expect;
    assert!((eta.as_secs_f64() - want).abs() < 1e-6);
    assert!(live.logs.iter().any(|x| x.text.contains("duplicate")));
}

#[test]
fn eta_waits_for_the_first_epoch() {
    let mut l = lab();
    l.ch('r');
    let c = l.app.form.config.clone();
    for (t, ev) in scripted_events(&c).into_iter().take(4) {
        l.script.send(ev);
        l.tick_at(t);
    }
    let live = l.app.live.as_ref().unwrap();
    assert!(live.epochs().is_empty());
    assert_eq!(live.eta(l.base + Duration::from_secs(10)), None);
}

#[test]
fn stop_needs_confirmation() {
    let mut l = started_lab(repeated_config());
    l.ch('s');
    assert!(matches!(
        l.app.popup,
        Some(Popup::Confirm(ConfirmKind::Stop))
    ));
    l.ch('n');
    assert!(l.app.popup.is_none());
    assert!(!l.script.cancelled.load(Ordering::SeqCst));
    l.ch('s');
    l.ch('y');
    assert!(l.script.cancelled.load(Ordering::SeqCst));
    assert!(l.app.live.as_ref().unwrap().stop_requested);
    assert_eq!(l.app.live.as_ref().unwrap().state_label(), "stopping");
    // The job reports its end: the run is kept as interrupted and the screen stays.
    l.script.send(Event::SeedFinished {
        index: 1,
        seed: 1,
        outcome: Outcome::Interrupted,
        evaluation: None,
        summary: crate::score::summarize([&evaluation(0.911, 0.893).auc]),
    });
    l.script.send(Event::Finished {
        outcome: Outcome::Interrupted,
    });
    l.tick_at(60.0);
    assert!(!l.app.run_active());
    assert_eq!(l.app.tab, Tab::Train);
    assert_eq!(l.app.live.as_ref().unwrap().state_label(), "interrupted");
    // Progress stays where it stopped: one seed and one epoch of the second.
    let f = l.app.live.as_ref().unwrap().job_fraction();
    assert!(f > 0.4 && f < 0.5, "{f}");
    assert!(l.app.status.as_ref().unwrap().text.contains("interrupted"));
    // Browsable afterwards, and a new run can start.
    l.ch('k');
    l.ch('1');
    l.ch('r');
    assert_eq!(l.script.launched.borrow().len(), 2);
}

#[test]
fn finish_and_fail() {
    let mut l = started_lab(repeated_config());
    l.script.send(Event::Finished {
        outcome: Outcome::Finished,
    });
    l.tick_at(100.0);
    assert!(!l.app.run_active());
    assert_eq!(l.app.live.as_ref().unwrap().job_fraction(), 1.0);
    assert_eq!(l.app.live.as_ref().unwrap().eta(l.base), None);

    let mut l = started_lab(repeated_config());
    l.script.send(Event::Finished {
        outcome: Outcome::Failed {
            reason: "NaN loss".into(),
        },
    });
    l.tick_at(100.0);
    assert_eq!(l.app.live.as_ref().unwrap().state_label(), "failed");
    assert!(l.app.status.as_ref().unwrap().text.contains("NaN loss"));
    assert!(l.render(80, 24).contains("failed: NaN loss"));
}

#[test]
fn a_vanished_job_counts_as_failed() {
    let mut l = started_lab(repeated_config());
    l.script.hang_up();
    l.tick_at(70.0);
    assert!(!l.app.run_active());
    assert_eq!(l.app.live.as_ref().unwrap().state_label(), "failed");
}

#[test]
fn quit_asks_while_running_and_waits_for_the_job() {
    let mut l = started_lab(repeated_config());
    l.ch('q');
    assert!(matches!(
        l.app.popup,
        Some(Popup::Confirm(ConfirmKind::Quit))
    ));
    l.key(KeyCode::Esc);
    assert!(!l.app.should_quit);
    l.ch('q');
    l.ch('y');
    assert!(l.script.cancelled.load(Ordering::SeqCst));
    assert!(l.app.quitting.is_some());
    assert!(!l.app.should_quit);
    assert!(l.render(80, 24).contains("Stopping the run"));
    l.script.send(Event::Finished {
        outcome: Outcome::Interrupted,
    });
    l.tick_at(70.0);
    assert!(l.app.should_quit);
}

#[test]
fn quit_when_idle_is_immediate_and_signals_stop_cleanly() {
    let mut l = lab();
    l.ch('q');
    assert!(l.app.should_quit);

    let mut l = started_lab(repeated_config());
    l.app.shutdown();
    assert!(l.script.cancelled.load(Ordering::SeqCst));
    assert!(!l.app.should_quit);
    // A second q while waiting leaves at once.
    l.ch('q');
    assert!(l.app.should_quit);

    // Ctrl-C behaves like a signal; if the job never answers, the wait is bounded.
    let mut l = started_lab(repeated_config());
    l.app
        .on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(l.app.quitting.is_some());
    l.tick_at(57.0 + super::app::QUIT_WAIT.as_secs_f64() + 1.0);
    assert!(l.app.should_quit);
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

#[test]
fn reference_and_scorer_checklists() {
    let mut l = lab();
    l.app.form.focus = 3;
    l.ch(' ');
    // Uncheck the first class (t-shirt/top) and apply.
    l.ch(' ');
    l.key(KeyCode::Enter);
    assert_eq!(l.app.form.reference_classes().len(), 7);
    assert!(l.app.form.config.data.reference.is_some());
    assert!((l.app.form.adacos_scale() - 2f32.sqrt() * 7f32.ln()).abs() < 1e-6);
    // `a` goes back to all others.
    l.ch(' ');
    l.ch('a');
    assert!(l.app.form.config.data.reference.is_none());

    let pos = l
        .app
        .form
        .fields()
        .iter()
        .position(|f| *f == Field::Scorers)
        .unwrap();
    l.app.form.focus = pos;
    l.ch('e');
    l.ch('j');
    l.ch('j');
    l.ch(' ');
    l.key(KeyCode::Enter);
    assert_eq!(
        l.app.form.config.score.scorers,
        vec![
            ScorerKind::KnnCosine,
            ScorerKind::Lof,
            ScorerKind::ClassCosine
        ]
    );
}

#[test]
fn save_and_load_profiles() {
    let mut l = lab_with(Some(temp_store()), Script::default());
    l.ch('w');
    l.key(KeyCode::Backspace);
    l.app.popup = None;
    l.ch('w');
    if let Some(Popup::Input(i)) = &mut l.app.popup {
        i.text.clear();
    }
    l.text("my-exp");
    l.key(KeyCode::Enter);
    assert!(l.app.popup.is_none(), "{:?}", l.app.status);
    let saved = l
        .app
        .store
        .as_ref()
        .unwrap()
        .config_dir()
        .join("profiles/my-exp.toml");
    assert!(saved.is_file());
    // Saving again asks before replacing.
    let e0 = l.app.form.config.train.epochs;
    l.app.form.step(Field::Epochs, 1);
    l.ch('w');
    l.text("my-exp");
    l.key(KeyCode::Enter);
    assert!(matches!(&l.app.popup, Some(Popup::Input(i)) if i.overwrite_armed));
    l.key(KeyCode::Enter);
    assert!(l.app.popup.is_none());
    // Load it back through the picker.
    l.app.form.load(Config::default(), "default");
    l.ch('p');
    let Some(Popup::Profiles(p)) = &l.app.popup else {
        panic!("picker not open");
    };
    let pos = p.entries.iter().position(|e| e.name == "my-exp").unwrap();
    if let Some(Popup::Profiles(p)) = &mut l.app.popup {
        p.cursor = pos;
    }
    l.key(KeyCode::Enter);
    assert_eq!(l.app.form.profile, "my-exp");
    assert_eq!(l.app.form.config.train.epochs, e0 + 1);
}

#[test]
fn runs_tag_note_delete() {
    let mut l = runs_lab();
    l.app.runs.select_id("20261129T220000Z-bbbb");
    l.ch('t');
    l.text("good arcface");
    l.key(KeyCode::Enter);
    let st = l.app.store.clone().unwrap();
    let r = st.load_run("20261129T220000Z-bbbb").unwrap();
    assert_eq!(r.record.tags, vec!["good", "arcface"]);
    assert_eq!(l.app.runs.selected_row().unwrap().tags, "good arcface");
    // Invalid tags stay in the popup with the error.
    l.ch('t');
    l.text(" b@d");
    l.key(KeyCode::Enter);
    assert!(matches!(&l.app.popup, Some(Popup::Input(i)) if i.error.is_some()));
    l.key(KeyCode::Esc);
    l.ch('n');
    l.text("margin 0.5 works");
    l.key(KeyCode::Enter);
    assert_eq!(
        st.load_run("20261129T220000Z-bbbb").unwrap().record.note,
        "margin 0.5 works"
    );
    // Delete asks first.
    l.ch('x');
    l.ch('n');
    assert_eq!(st.list_runs().unwrap().len(), 4);
    l.ch('x');
    l.ch('y');
    assert_eq!(st.list_runs().unwrap().len(), 3);
    assert_eq!(l.app.runs.rows.len(), 3);
}

#[test]
fn runs_from_other_processes_appear() {
    let mut l = runs_lab();
    let st = l.app.store.clone().unwrap();
    write_run(
        &st,
        &record(
            "20261130T010000Z-eeee",
            400,
            HeadKind::Cosface,
            &[(0.9, 0.8)],
            &[],
        ),
        false,
    );
    l.tick_at(0.5);
    assert_eq!(l.app.runs.rows.len(), 4, "polled too early");
    l.tick_at(1.5);
    assert_eq!(l.app.runs.rows.len(), 5);
}

#[test]
fn compare_needs_two_marked_runs() {
    let mut l = runs_lab();
    l.ch('c');
    assert!(matches!(l.app.runs.view, RunsView::Table));
    assert!(l.app.status.is_some());
    l.app.runs.select_id("20261129T210000Z-aaaa");
    l.ch(' ');
    l.app.runs.select_id("20261129T230000Z-cccc");
    l.ch(' ');
    l.ch('c');
    let RunsView::Compare(c) = &l.app.runs.view else {
        panic!("no comparison");
    };
    let keys: Vec<&str> = c.diff.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["head.kind", "run.repeat"]);
    l.key(KeyCode::Esc);
    assert!(matches!(l.app.runs.view, RunsView::Table));
}

#[test]
fn unreadable_runs_are_listed_not_opened() {
    let mut l = runs_lab();
    l.app.runs.select_id("20261129T235900Z-dddd");
    l.key(KeyCode::Enter);
    assert!(matches!(l.app.runs.view, RunsView::Table));
    assert!(l
        .app
        .status
        .as_ref()
        .unwrap()
        .text
        .contains("schema_version"));
}

#[test]
fn detail_without_scores_says_so() {
    let mut l = runs_lab();
    open_detail(&mut l, "20261129T230000Z-cccc");
    l.ch('l');
    l.ch('l');
    let roc = l.render(80, 24);
    assert!(roc.contains("scores.csv"), "{roc}");
    l.ch('l');
    l.ch('l');
    l.tick_at(0.1);
    if let RunsView::Detail(d) = &l.app.runs.view {
        assert!(matches!(d.images, ImagesState::Missing(_)));
    }
}

#[test]
fn summary_of_a_repeated_run_in_detail() {
    let l = runs_lab();
    let r = l.app.runs.loaded("20261129T210000Z-aaaa").unwrap();
    let sm: Summary = r.record.summary[&ScorerKind::KnnCosine];
    assert_eq!(sm.n, 5);
    assert!((sm.median - 0.921).abs() < 1e-12);
}

#[test]
fn filter_input_filters_while_typing() {
    let mut l = runs_lab();
    l.ch('/');
    l.text("arcface");
    assert_eq!(l.app.runs.visible.len(), 1);
    l.key(KeyCode::Esc);
    assert_eq!(l.app.runs.visible.len(), 4);
    assert!(l.app.popup.is_none());
}

#[test]
fn the_store_watcher_thread_picks_up_new_runs() {
    let (store, dir) = temp_store();
    let app = App::new(
        AppOptions {
            store: Some(store.clone()),
            store_error: None,
            launcher: Box::new(Script::default()),
            images: ImageLoader::inert(),
            theme: theme(),
            pixel_mode: PixelMode::Shades,
            config: Config::default(),
            profile: "p".into(),
            log_file: None,
            watch_store: true,
        },
        Instant::now(),
        WALL,
    );
    let mut l = Lab {
        app,
        script: Script::default(),
        base: Instant::now(),
        _dir: Some(dir),
    };
    assert_eq!(l.app.runs.rows.len(), 4);
    write_run(
        &store,
        &record(
            "20261130T010000Z-ffff",
            400,
            HeadKind::Cosface,
            &[(0.9, 0.8)],
            &[],
        ),
        false,
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while l.app.runs.rows.len() < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        l.tick_at(0.0);
    }
    assert_eq!(l.app.runs.rows.len(), 5);
}

#[test]
fn ctrl_c_works_inside_popups() {
    let mut l = started_lab(repeated_config());
    l.ch('s');
    l.app
        .on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(l.script.cancelled.load(Ordering::SeqCst));
    assert!(l.app.quitting.is_some());
    assert!(l.app.popup.is_none());
}

#[test]
fn snapshot_setup_heads() {
    let mut l = lab();
    l.app.form.config.score.scorers = vec![ScorerKind::KnnCosine, ScorerKind::ClassCosine];
    l.app.form.config.head.kind = HeadKind::L2Softmax;
    l.app.form.validate();
    insta::assert_snapshot!("setup_l2_softmax", l.render(80, 24));
    l.app.form.config.head.kind = HeadKind::AdacosDynamic;
    l.app.form.config.score.scorers = vec![ScorerKind::KnnCosine];
    l.app.form.validate();
    insta::assert_snapshot!("setup_adacos_dynamic", l.render(80, 24));
}

#[test]
fn diverged_losses_do_not_break_the_charts() {
    let mut c = Config::default();
    c.train.epochs = 3;
    let mut l = lab();
    l.app.form.load(c.clone(), "p");
    l.ch('r');
    l.script.send(Event::SeedStarted { index: 0, seed: 0 });
    l.script.send(Event::Epoch(epoch(1, 1.0, 0.5, 2.9, &[])));
    l.script
        .send(Event::Epoch(epoch(2, f32::NAN, 0.1, f32::INFINITY, &[])));
    l.tick_at(5.0);
    let screen = l.render(80, 24);
    assert!(screen.contains("loss"));
}

#[test]
fn cifar_images_fit_at_80x24() {
    let mut l = runs_lab();
    open_detail(&mut l, "20261129T210000Z-aaaa");
    // h from the first page wraps to the last one (Images).
    l.ch('h');
    if let RunsView::Detail(d) = &mut l.app.runs.view {
        assert_eq!(d.page, DetailPage::Images);
        let rgb: Vec<f32> = (0..3 * 32 * 32).map(|i| (i % 97) as f32 / 96.0).collect();
        d.images = ImagesState::Ready(
            (0..8)
                .map(|i| Thumb::from_planar(&rgb, (3, 32, 32), 1.0 - i as f32 * 0.1, i < 4))
                .collect(),
        );
    }
    let screen = l.render(80, 24);
    assert!(screen.contains("most"), "{screen}");
    assert_eq!(screen.matches("anom").count(), 4 + 1, "{screen}");
    assert!(screen.contains("normal"), "{screen}");
}
