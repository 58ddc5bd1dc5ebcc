//! The lab's state ([`App`]), the key context it is in, the dispatch of key actions to the
//! per-context handlers (`update.rs` in each screen's folder, `popups/apply.rs`), and time:
//! training events, the store and image polling of each loop turn. Views never see the
//! [`App`]: `ui.rs` hands each the state it draws.

use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::config::Config;
use crate::store::{Store, Timestamp};
use crate::train::{Event, Outcome};

use super::images::{ImageLoader, PixelMode};
use super::keys::{self, Action, Context};
use super::launcher::{Job, Launcher, ScoreJob};
use super::popups::checklist::Checklist;
use super::popups::confirm::ConfirmKind;
use super::popups::folder::FolderInput;
use super::popups::input::Input;
use super::popups::profiles::ProfilePicker;
use super::popups::studies::StudyPicker;
use super::runs::{RunsState, RunsView};
use super::setup::Form;
use super::strings as s;
use super::theme::Theme;
use super::train::follow::Follower;
use super::train::jobs::{Queued, StudyState};
use super::train::live::{Live, LogLevel};

/// How often the store is checked for runs written by other processes.
pub const STORE_POLL: Duration = Duration::from_secs(1);
/// How long quitting waits for a stopping job to report its end.
pub const QUIT_WAIT: Duration = Duration::from_secs(60);
/// Images per row (most anomalous / most normal) requested from the loader.
pub const IMAGES_PER_ROW: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Setup,
    Train,
    Runs,
}

impl Tab {
    pub const ALL: [Tab; 3] = [Tab::Setup, Tab::Train, Tab::Runs];
    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    /// The tab's title in the tab bar.
    pub fn label(self) -> &'static str {
        match self {
            Tab::Setup => s::TAB_SETUP,
            Tab::Train => s::TAB_TRAIN,
            Tab::Runs => s::TAB_RUNS,
        }
    }
}

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// The popup open over the screen; its state, keys and drawing are in [`super::popups`].
#[derive(Clone, Debug)]
pub enum Popup {
    Confirm(ConfirmKind),
    Profiles(ProfilePicker),
    Checklist(Checklist),
    Input(Input),
    Studies(StudyPicker),
    Folder(FolderInput),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Status {
    pub text: String,
    pub level: LogLevel,
}

/// What the app is built from.
pub struct AppOptions {
    pub store: Option<Store>,
    /// Why the store could not be opened (shown on the Runs screen).
    pub store_error: Option<String>,
    pub launcher: Box<dyn Launcher>,
    pub images: ImageLoader,
    pub theme: Theme,
    pub pixel_mode: PixelMode,
    pub config: Config,
    pub profile: String,
    /// Where to append the lab's log (never stdout while the TUI owns the screen).
    pub log_file: Option<File>,
    /// Watch the store from a background thread (the real lab); tests poll synchronously.
    pub watch_store: bool,
}

pub struct App {
    pub tab: Tab,
    pub help: bool,
    pub popup: Option<Popup>,
    pub theme: Theme,
    pub pixel_mode: PixelMode,
    pub form: Form,
    pub live: Option<Live>,
    pub(super) job: Option<Job>,
    pub runs: RunsState,
    pub store: Option<Store>,
    pub store_error: Option<String>,
    pub(super) launcher: Box<dyn Launcher>,
    pub(super) images: ImageLoader,
    pub status: Option<Status>,
    /// The time of the current tick (injected, so tests are deterministic).
    pub now: Instant,
    /// Wall-clock time of the current tick.
    pub wall: Timestamp,
    /// Waiting for a stopping job before leaving.
    pub quitting: Option<Instant>,
    pub should_quit: bool,
    /// Something changed since the last draw.
    pub dirty: bool,
    last_poll: Option<Instant>,
    log_file: Option<File>,
    watcher: Option<std::sync::mpsc::Receiver<super::runs::Listing>>,
    /// Runs and studies waiting for the one in progress (see `train/update.rs`).
    pub queue: Vec<Queued>,
    /// A study the lab runs (or ran last).
    pub study: Option<StudyState>,
    /// A run trained elsewhere that the Train screen follows from the store.
    pub follow: Option<Follower>,
    /// The terminal's size (None until known: tests that do not set it).
    pub size: Option<(u16, u16)>,
    /// The signal that ended the lab (its exit status is 128 + it).
    pub signal: Option<i32>,
    /// A folder being scored: the run whose Detail shows it, and the job.
    pub(super) scoring: Option<(String, ScoreJob)>,
    /// The folder typed last into Detail's `s` (the next input starts from it).
    pub last_folder: String,
    /// What the process (and a CUDA run's GPU) uses, for the tab bar; sampled by `sampler`.
    pub usage: super::usage::Usage,
    /// Samples `usage` about once a second (the real lab; tests set `usage` themselves).
    pub sampler: Option<super::usage::Sampler>,
    /// Where `E` writes figures (the folder the lab was started in).
    pub export_dir: std::path::PathBuf,
}

impl App {
    pub fn new(opts: AppOptions, now: Instant, wall: Timestamp) -> App {
        let mut app = App {
            tab: Tab::Setup,
            help: false,
            popup: None,
            theme: opts.theme,
            pixel_mode: opts.pixel_mode,
            form: Form::new(opts.config, opts.profile),
            live: None,
            job: None,
            runs: RunsState::default(),
            store: opts.store,
            store_error: opts.store_error,
            launcher: opts.launcher,
            images: opts.images,
            status: None,
            now,
            wall,
            quitting: None,
            should_quit: false,
            dirty: true,
            last_poll: None,
            log_file: opts.log_file,
            watcher: None,
            queue: Vec::new(),
            study: None,
            follow: None,
            size: None,
            signal: None,
            scoring: None,
            last_folder: String::new(),
            usage: Default::default(),
            sampler: None,
            export_dir: std::env::current_dir().unwrap_or_else(|_| ".".into()),
        };
        if let Some(st) = &app.store {
            app.runs.reload(st);
            app.last_poll = Some(now);
            if opts.watch_store {
                app.watcher = Some(super::runs::watch_store(
                    st.clone(),
                    STORE_POLL,
                    app.runs.fingerprint,
                ));
            }
        }
        app
    }

    /// Whether a job is running.
    pub fn run_active(&self) -> bool {
        self.job.is_some() && self.live.as_ref().is_some_and(Live::is_active)
    }

    /// The context the keys are looked up in.
    pub fn context(&self) -> Context {
        match &self.popup {
            Some(Popup::Confirm(_)) => return Context::Confirm,
            Some(Popup::Profiles(_)) | Some(Popup::Checklist(_)) | Some(Popup::Studies(_)) => {
                return Context::Picker
            }
            Some(Popup::Input(_)) => return Context::Input,
            Some(Popup::Folder(_)) => return Context::Folder,
            None => {}
        }
        if self.help {
            return Context::Help;
        }
        self.screen_context()
    }

    /// The context of the screen under any popup or help.
    pub fn screen_context(&self) -> Context {
        match self.tab {
            Tab::Setup => Context::Setup,
            Tab::Train => Context::Train,
            Tab::Runs => match self.runs.view {
                RunsView::Table => Context::Runs,
                RunsView::Detail(_) => Context::Detail,
                RunsView::Compare(_) => Context::Compare,
                RunsView::Study(_) => Context::Study,
            },
        }
    }

    pub fn set_status(&mut self, level: LogLevel, text: impl Into<String>) {
        let text = text.into();
        if level != LogLevel::Info {
            self.log_line(&text);
        }
        self.status = Some(Status { text, level });
    }

    /// Appends to the lab's log file.
    pub fn log_line(&mut self, text: &str) {
        if let Some(f) = self.log_file.as_mut() {
            let _ = writeln!(f, "{} {text}", Timestamp::now());
        }
    }

    // ---- input -------------------------------------------------------------------------

    pub fn on_key(&mut self, ev: KeyEvent) {
        if ev.kind != KeyEventKind::Press {
            return;
        }
        self.dirty = true;
        let ctrl_c = ev.code == KeyCode::Char('c') && ev.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl_c && self.quitting.is_none() {
            // Ctrl-C works everywhere, popups and inputs included.
            self.shutdown();
            return;
        }
        if self.quitting.is_some() {
            // While waiting for the job: q / Ctrl-C leave at once.
            if matches!(ev.code, KeyCode::Char('q'))
                || (ev.code == KeyCode::Char('c') && ev.modifiers.contains(KeyModifiers::CONTROL))
            {
                self.should_quit = true;
            }
            return;
        }
        if self.too_small() && !self.small_screen_key(&ev) {
            // Nothing shows what a key would do: only quitting is taken.
            return;
        }
        if let Some(Popup::Input(_)) = self.popup {
            if self.input_edit(&ev) {
                return;
            }
        }
        if let Some(Popup::Folder(p)) = self.popup.as_mut() {
            if p.type_key(&ev) {
                return;
            }
        }
        let ctx = self.context();
        match keys::lookup(ctx, &ev) {
            Some(a) => {
                self.status = None;
                self.dispatch(ctx, a);
            }
            None => {
                if ctx.takes_global() {
                    self.status = None;
                }
            }
        }
    }

    pub fn dispatch(&mut self, ctx: Context, a: Action) {
        // Global actions first.
        match a {
            Action::Quit => return self.request_quit(),
            Action::ForceQuit => return self.shutdown(),
            Action::Help => {
                self.help = !self.help;
                return;
            }
            Action::NextTab | Action::PrevTab => {
                let n = Tab::ALL.len() as i32;
                let d = if a == Action::NextTab { 1 } else { -1 };
                let i = (self.tab.index() as i32 + d).rem_euclid(n) as usize;
                self.go(Tab::ALL[i]);
                return;
            }
            Action::GoSetup => return self.go(Tab::Setup),
            Action::GoTrain => return self.go(Tab::Train),
            Action::GoRuns => return self.go(Tab::Runs),
            Action::ToggleMarkers => {
                self.theme.markers = self.theme.markers.next();
                self.set_status(
                    LogLevel::Info,
                    format!("chart markers: {}", self.theme.markers.as_str()),
                );
                return;
            }
            _ => {}
        }
        // Then the context's own handler: `update.rs` in the screen's folder, or popups/apply.rs.
        match ctx {
            Context::Help => {
                if a == Action::Back {
                    self.help = false;
                }
            }
            Context::Confirm => self.on_confirm(a),
            Context::Picker => self.on_picker(a),
            Context::Input => self.on_input(a),
            Context::Setup => self.on_setup(a),
            Context::Train => self.on_train(a),
            Context::Runs => self.on_runs(a),
            Context::Detail => self.on_detail(a),
            Context::Compare => self.on_compare(a),
            Context::Study => self.on_study(a),
            Context::Folder => self.on_folder(a),
            Context::Global => {}
        }
    }

    fn go(&mut self, tab: Tab) {
        if tab != Tab::Train {
            // Another screen leaves a followed run.
            self.follow = None;
        }
        self.tab = tab;
        self.help = false;
        if tab == Tab::Runs {
            // Cheap when nothing changed (the fingerprint only stats the run files).
            self.poll_store(false);
        }
    }

    // ---- time --------------------------------------------------------------------------

    /// Folds one training event in (the real loop drains the job channel through this).
    pub fn handle_event(&mut self, ev: Event) {
        self.dirty = true;
        let now = self.now;
        let finished = matches!(ev, Event::Finished { .. });
        if let Some(live) = self.live.as_mut() {
            live.apply(&ev, now);
        }
        if finished {
            self.job = None;
            let outcome = self.live.as_ref().and_then(|l| l.outcome.clone());
            let msg = match outcome {
                Some(Outcome::Finished) => "run finished".to_string(),
                Some(Outcome::Interrupted) => "run interrupted (kept in the store)".to_string(),
                Some(Outcome::Failed { reason }) => format!("run failed: {reason}"),
                None => String::new(),
            };
            let level = match self.live.as_ref().and_then(|l| l.outcome.as_ref()) {
                Some(Outcome::Finished) => LogLevel::Info,
                Some(Outcome::Interrupted) => LogLevel::Warn,
                _ => LogLevel::Error,
            };
            self.log_line(&msg);
            self.set_status(level, msg);
            self.poll_store(true);
            if self.quitting.is_some() {
                self.should_quit = true;
            } else {
                self.start_next_queued();
            }
        }
    }

    /// Once per loop turn: drain the job's events, poll the store and the image loader.
    pub fn tick(&mut self, now: Instant, wall: Timestamp) {
        self.now = now;
        self.wall = wall;
        let mut events = Vec::new();
        let mut gone = false;
        if let Some(job) = &self.job {
            loop {
                match job.events.try_recv() {
                    Ok(ev) => events.push(ev),
                    Err(std::sync::mpsc::TryRecvError::Empty) => break,
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                        gone = true;
                        break;
                    }
                }
            }
        }
        // A job that ended properly closes its channel too; by then the next queued job may
        // have started (in `handle_event`): only a job gone without its final event failed.
        let ended = events.iter().any(|e| matches!(e, Event::Finished { .. }));
        for ev in events {
            self.handle_event(ev);
        }
        if gone && !ended && self.job.is_some() {
            self.handle_event(Event::Finished {
                outcome: Outcome::Failed {
                    reason: "the training job ended without a final event".into(),
                },
            });
        }
        self.watch_store(now);
        self.tick_jobs(now, wall);
        self.tick_scoring();
        for (key, state) in self.images.poll() {
            if let RunsView::Detail(d) = &mut self.runs.view {
                if d.images_key.as_deref() == Some(key.as_str()) {
                    d.images = state;
                    self.dirty = true;
                }
            }
        }
        self.request_images();
        let cuda = self.training_on_cuda();
        if let Some(sm) = self.sampler.as_mut() {
            if sm.tick(now, cuda) {
                self.usage = sm.usage;
                self.dirty = true;
            }
        }
        if let Some(q) = self.quitting {
            if now.saturating_duration_since(q) >= QUIT_WAIT {
                self.should_quit = true;
            }
        }
    }

    /// Picks up runs changed by other processes: from the watcher thread when there is one,
    /// else by checking the fingerprint here once per [`STORE_POLL`].
    fn watch_store(&mut self, now: Instant) {
        let mut latest = None;
        let mut watcher_alive = self.watcher.is_some();
        if let Some(rx) = &self.watcher {
            loop {
                match rx.try_recv() {
                    Ok(l) => latest = Some(l),
                    Err(std::sync::mpsc::TryRecvError::Empty) => break,
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                        watcher_alive = false;
                        break;
                    }
                }
            }
        }
        // The watcher sends only what changed: new files, or a running run found stale.
        if let Some(l) = latest {
            self.runs.apply_listing(l, self.store.as_ref());
            self.dirty = true;
        }
        if !watcher_alive {
            self.watcher = None;
            if self
                .last_poll
                .is_none_or(|t| now.duration_since(t) >= STORE_POLL)
            {
                self.poll_store(false);
            }
        }
    }

    /// Reloads the run list when the store changed (or always with `force`).
    pub fn poll_store(&mut self, force: bool) {
        self.last_poll = Some(self.now);
        let Some(st) = &self.store else {
            return;
        };
        let fp = st.fingerprint();
        if force || self.runs.fingerprint != Some(fp) {
            self.runs.reload(st);
            self.runs.refresh_views(Some(st));
            self.dirty = true;
        } else if self.runs.refresh_running(st) {
            // No file changed, but a running run's process is gone (SIGKILL).
            self.dirty = true;
        }
    }

    /// Whether this process trains on a CUDA device now (its own run or a study's task).
    pub fn training_on_cuda(&self) -> bool {
        let cuda = |l: &Live| l.is_active() && l.device.starts_with("cuda");
        let own = self.job.is_some() && self.live.as_ref().is_some_and(cuda);
        let study = self.study.as_ref().is_some_and(|st| {
            st.is_active()
                && st
                    .follower
                    .as_ref()
                    .and_then(|f| f.live.as_ref())
                    .is_some_and(cuda)
        });
        own || study
    }

    /// Whether the screen is below the lab's minimum size (its keys are then not taken).
    pub fn too_small(&self) -> bool {
        self.size
            .is_some_and(|(w, h)| w < MIN_WIDTH || h < MIN_HEIGHT)
    }

    /// The keys taken on a too-small screen: quitting (q, and the answer to its question).
    fn small_screen_key(&mut self, ev: &KeyEvent) -> bool {
        if let Some(Popup::Confirm(ConfirmKind::Quit)) = &self.popup {
            return matches!(
                keys::lookup(Context::Confirm, ev),
                Some(Action::Yes | Action::No)
            );
        }
        if keys::lookup(Context::Global, ev) == Some(Action::Quit) {
            // Whatever is open (unseen) closes; quitting asks during a run as usual.
            self.popup = None;
            self.help = false;
            return true;
        }
        false
    }

    /// A signal (SIGINT, SIGTERM, SIGHUP) arrived: stop cleanly, then leave with 128 + it.
    pub fn on_signal(&mut self, sig: i32) {
        self.signal.get_or_insert(sig);
        self.log_line(&format!("signal {sig} received: stopping"));
        self.shutdown();
    }

    /// The signal that ended the lab, if one did.
    pub fn stopped_by(&self) -> Option<i32> {
        self.signal
    }

    /// Store root, for messages.
    pub fn store_root(&self) -> Option<&Path> {
        self.store.as_ref().map(|s| s.root())
    }
}
