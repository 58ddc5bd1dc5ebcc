//! The lab's state and how actions and training events change it. Views only read an [`App`].

use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::config::{Config, ScorerKind};
use crate::store::{ProfileEntry, Store, StoreError, Timestamp};
use crate::train::{Event, Outcome};

use super::form::{Field, FieldKind, Form};
use super::images::{extremes, ImageLoader, ImageRequest, ImagesState, PixelMode};
use super::keys::{self, Action, Context};
use super::launcher::{Job, Launcher};
use super::live::{Live, LogLevel};
use super::runs::{DetailPage, RunsState, RunsView};
use super::strings as s;
use super::theme::Theme;

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

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfirmKind {
    Stop,
    Quit,
    Delete(String),
}

#[derive(Clone, Debug)]
pub struct ProfilePicker {
    pub entries: Vec<ProfileEntry>,
    pub cursor: usize,
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecklistKind {
    Reference,
    Scorers,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ChecklistItem {
    pub label: String,
    pub checked: bool,
    /// Why the item cannot be checked.
    pub disabled: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Checklist {
    pub kind: ChecklistKind,
    pub items: Vec<ChecklistItem>,
    pub cursor: usize,
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// Typing a value into a Setup field (drawn inline on the form).
    Field(Field),
    ProfileName,
    Tags(String),
    Note(String),
    Filter,
}

#[derive(Clone, Debug)]
pub struct Input {
    pub kind: InputKind,
    pub text: String,
    pub error: Option<String>,
    /// Saving a profile over an existing one was asked for once already.
    pub overwrite_armed: bool,
}

#[derive(Clone, Debug)]
pub enum Popup {
    Confirm(ConfirmKind),
    Profiles(ProfilePicker),
    Checklist(Checklist),
    Input(Input),
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
    job: Option<Job>,
    pub runs: RunsState,
    pub store: Option<Store>,
    pub store_error: Option<String>,
    launcher: Box<dyn Launcher>,
    images: ImageLoader,
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
            Some(Popup::Profiles(_)) | Some(Popup::Checklist(_)) => return Context::Picker,
            Some(Popup::Input(_)) => return Context::Input,
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
        if let Some(Popup::Input(_)) = self.popup {
            if self.input_edit(&ev) {
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

    /// Typing into a text input; true when the key was consumed.
    fn input_edit(&mut self, ev: &KeyEvent) -> bool {
        let Some(Popup::Input(inp)) = self.popup.as_mut() else {
            return false;
        };
        if ev
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            if ev.code == KeyCode::Char('u') && ev.modifiers.contains(KeyModifiers::CONTROL) {
                inp.text.clear();
                inp.overwrite_armed = false;
                return true;
            }
            return false;
        }
        let changed = match ev.code {
            KeyCode::Char(c) => {
                inp.text.push(c);
                true
            }
            KeyCode::Backspace => {
                inp.text.pop();
                true
            }
            _ => false,
        };
        if changed {
            inp.error = None;
            inp.overwrite_armed = false;
            if inp.kind == InputKind::Filter {
                let f = inp.text.clone();
                self.runs.set_filter(&f);
            }
        }
        changed
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
            Context::Global => {}
        }
    }

    fn go(&mut self, tab: Tab) {
        self.tab = tab;
        self.help = false;
        if tab == Tab::Runs {
            // Cheap when nothing changed (the fingerprint only stats the run files).
            self.poll_store(false);
        }
    }

    // ---- setup -------------------------------------------------------------------------

    fn on_setup(&mut self, a: Action) {
        let f = self.form.focused();
        match a {
            Action::Up => self.form.move_focus(-1),
            Action::Down => self.form.move_focus(1),
            Action::Left => self.form.step(f, -1),
            Action::Right => self.form.step(f, 1),
            Action::Edit => match f.kind() {
                FieldKind::List => self.open_checklist(f),
                FieldKind::Choice | FieldKind::Number => {
                    self.popup = Some(Popup::Input(Input {
                        kind: InputKind::Field(f),
                        text: self.form.edit_text(f),
                        error: None,
                        overwrite_armed: false,
                    }))
                }
            },
            Action::Start => self.start_run(),
            Action::LoadProfile => self.open_profiles(),
            Action::SaveProfile => {
                let name = if self.form.edited {
                    String::new()
                } else {
                    self.form.profile.clone()
                };
                self.popup = Some(Popup::Input(Input {
                    kind: InputKind::ProfileName,
                    text: name,
                    error: None,
                    overwrite_armed: false,
                }));
            }
            Action::ResetConfig => {
                self.form.load(Config::default(), "default");
                self.set_status(LogLevel::Info, "form reset to the defaults");
            }
            _ => {}
        }
    }

    fn open_checklist(&mut self, f: Field) {
        let cl = match f {
            Field::Reference => {
                let names = self.form.names();
                let refs = self.form.reference_classes();
                let cfg = &self.form.config.data;
                let n = super::form::resolve_class(names, &cfg.normal);
                let an = super::form::resolve_class(names, &cfg.anomalous);
                Checklist {
                    kind: ChecklistKind::Reference,
                    items: names
                        .iter()
                        .enumerate()
                        .map(|(i, name)| ChecklistItem {
                            label: name.to_string(),
                            checked: refs.contains(&i),
                            disabled: if Some(i) == n {
                                Some("normal class".into())
                            } else if Some(i) == an {
                                Some("anomalous class".into())
                            } else {
                                None
                            },
                        })
                        .collect(),
                    cursor: 0,
                    error: None,
                }
            }
            _ => {
                let cosine = self.form.config.head.kind.is_cosine();
                Checklist {
                    kind: ChecklistKind::Scorers,
                    items: ScorerKind::ALL
                        .iter()
                        .map(|k| ChecklistItem {
                            label: k.to_string(),
                            checked: self.form.config.score.scorers.contains(k),
                            disabled: (*k == ScorerKind::ClassCosine && !cosine)
                                .then(|| "needs a cosine head".to_string()),
                        })
                        .collect(),
                    cursor: 0,
                    error: None,
                }
            }
        };
        self.popup = Some(Popup::Checklist(cl));
    }

    fn open_profiles(&mut self) {
        let Some(st) = &self.store else {
            self.set_status(LogLevel::Error, s::RUNS_NO_STORE);
            return;
        };
        let entries = st.profile_dirs().list();
        let cursor = entries
            .iter()
            .position(|e| e.name == self.form.profile)
            .unwrap_or(0);
        self.popup = Some(Popup::Profiles(ProfilePicker {
            entries,
            cursor,
            error: None,
        }));
    }

    /// Starts a run from the form (Setup: Enter / r).
    pub fn start_run(&mut self) {
        if self.run_active() {
            self.set_status(LogLevel::Warn, s::SETUP_RUN_ACTIVE);
            return;
        }
        self.form.validate();
        if let Some(e) = self.form.error.clone() {
            if let Some(i) = self.form.fields().iter().position(|f| f.key() == e.key) {
                self.form.focus = i;
            }
            self.set_status(LogLevel::Error, format!("{}: {}", e.key, e.message));
            return;
        }
        let config = self.form.config.clone();
        let profile = self.form.run_profile();
        match self.launcher.launch(&config, &profile) {
            Ok(job) => {
                let mut live = Live::new(config, profile, job.run_id.clone(), self.now);
                if let Some(id) = &job.run_id {
                    live.log(LogLevel::Info, format!("run {id}"));
                    self.log_line(&format!("started run {id}"));
                }
                self.live = Some(live);
                self.job = Some(job);
                self.tab = Tab::Train;
                self.help = false;
            }
            Err(e) => self.set_status(LogLevel::Error, format!("cannot start: {e:#}")),
        }
    }

    // ---- train -------------------------------------------------------------------------

    fn on_train(&mut self, a: Action) {
        match a {
            Action::Stop if self.run_active() => {
                self.popup = Some(Popup::Confirm(ConfirmKind::Stop));
            }
            Action::Up => {
                if let Some(l) = self.live.as_mut() {
                    l.log_scroll = (l.log_scroll + 1).min(l.logs.len().saturating_sub(1));
                }
            }
            Action::Down => {
                if let Some(l) = self.live.as_mut() {
                    l.log_scroll = l.log_scroll.saturating_sub(1);
                }
            }
            Action::Bottom => {
                if let Some(l) = self.live.as_mut() {
                    l.log_scroll = 0;
                }
            }
            _ => {}
        }
    }

    /// Asks the job to stop after the current batch.
    pub fn stop_job(&mut self) {
        if let (Some(job), Some(live)) = (&self.job, self.live.as_mut()) {
            if live.is_active() && !live.stop_requested {
                (job.cancel)();
                live.stop_requested = true;
                live.log(LogLevel::Warn, s::STOPPING);
            }
        }
    }

    /// Quit key: asks first while a run is active.
    pub fn request_quit(&mut self) {
        if self.run_active() {
            self.popup = Some(Popup::Confirm(ConfirmKind::Quit));
        } else {
            self.should_quit = true;
        }
    }

    /// Signal or Ctrl-C: stop the job cleanly (kept as interrupted), then leave.
    pub fn shutdown(&mut self) {
        if self.run_active() {
            self.stop_job();
            if self.quitting.is_none() {
                self.quitting = Some(self.now);
            }
            self.popup = None;
        } else {
            self.should_quit = true;
        }
        self.dirty = true;
    }

    // ---- runs --------------------------------------------------------------------------

    fn on_runs(&mut self, a: Action) {
        match a {
            Action::Up => self.runs.move_cursor(-1),
            Action::Down => self.runs.move_cursor(1),
            Action::PageUp => self.runs.move_cursor(-10),
            Action::PageDown => self.runs.move_cursor(10),
            Action::Top => self.runs.move_cursor(i64::MIN / 2),
            Action::Bottom => self.runs.move_cursor(i64::MAX / 2),
            Action::Enter => {
                if let Some(r) = self.runs.selected_row() {
                    if let Some(reason) = r.unreadable.clone() {
                        self.set_status(LogLevel::Warn, format!("{}: {reason}", r.id));
                        return;
                    }
                }
                self.runs.open_detail(self.store.as_ref());
            }
            Action::Mark => {
                self.runs.toggle_mark();
                self.runs.move_cursor(1);
            }
            Action::Compare => {
                let opened = self.runs.open_compare();
                if !opened {
                    self.set_status(LogLevel::Warn, s::COMPARE_NEEDS_TWO);
                }
            }
            Action::Filter => {
                self.popup = Some(Popup::Input(Input {
                    kind: InputKind::Filter,
                    text: self.runs.filter.clone(),
                    error: None,
                    overwrite_armed: false,
                }))
            }
            Action::SortNext => self.runs.cycle_sort(),
            Action::SortReverse => self.runs.toggle_reverse(),
            Action::Tag | Action::Note | Action::Delete => {
                if let Some(id) = self.runs.selected_id().map(str::to_string) {
                    self.run_action(a, id);
                }
            }
            Action::Reload => self.poll_store(true),
            Action::Back => {
                if !self.runs.filter.is_empty() {
                    self.runs.set_filter("");
                } else {
                    self.runs.marked.clear();
                }
            }
            _ => {}
        }
    }

    fn run_action(&mut self, a: Action, id: String) {
        let rec = self.runs.loaded(&id).map(|r| r.record.clone());
        match a {
            Action::Tag | Action::Note => {
                let Some(rec) = rec else {
                    self.set_status(LogLevel::Warn, format!("{id}: {}", s::UNREADABLE));
                    return;
                };
                let (kind, text) = if a == Action::Tag {
                    (InputKind::Tags(id), rec.tags.join(" "))
                } else {
                    (InputKind::Note(id), rec.note.clone())
                };
                self.popup = Some(Popup::Input(Input {
                    kind,
                    text,
                    error: None,
                    overwrite_armed: false,
                }));
            }
            Action::Delete => self.popup = Some(Popup::Confirm(ConfirmKind::Delete(id))),
            _ => {}
        }
    }

    fn on_detail(&mut self, a: Action) {
        let store = self.store.clone();
        let RunsView::Detail(d) = &mut self.runs.view else {
            return;
        };
        match a {
            Action::Left => {
                d.page = d.page.step(-1);
                d.scroll = 0;
            }
            Action::Right => {
                d.page = d.page.step(1);
                d.scroll = 0;
            }
            Action::PrevSeed | Action::NextSeed => {
                let n = d.run.record.seeds.len();
                if n > 1 {
                    d.seed = if a == Action::NextSeed {
                        (d.seed + 1) % n
                    } else {
                        (d.seed + n - 1) % n
                    };
                    d.load_scores(store.as_ref());
                }
            }
            Action::Up => d.scroll = d.scroll.saturating_sub(1),
            Action::Down => d.scroll = d.scroll.saturating_add(1),
            Action::Back => self.runs.view = RunsView::Table,
            Action::Tag | Action::Note | Action::Delete => {
                let id = d.id().to_string();
                self.run_action(a, id);
            }
            _ => {}
        }
    }

    fn on_compare(&mut self, a: Action) {
        let RunsView::Compare(c) = &mut self.runs.view else {
            return;
        };
        match a {
            Action::Up => c.scroll = c.scroll.saturating_sub(1),
            Action::Down => c.scroll = c.scroll.saturating_add(1),
            Action::Back => self.runs.view = RunsView::Table,
            _ => {}
        }
    }

    // ---- popups ------------------------------------------------------------------------

    fn on_confirm(&mut self, a: Action) {
        let Some(Popup::Confirm(kind)) = self.popup.take() else {
            return;
        };
        if a != Action::Yes {
            if a != Action::No {
                self.popup = Some(Popup::Confirm(kind));
            }
            return;
        }
        match kind {
            ConfirmKind::Stop => self.stop_job(),
            ConfirmKind::Quit => self.shutdown(),
            ConfirmKind::Delete(id) => {
                let Some(st) = self.store.clone() else {
                    return;
                };
                match st.delete_run(&id) {
                    Ok(()) => {
                        if let RunsView::Detail(d) = &self.runs.view {
                            if d.id() == id {
                                self.runs.view = RunsView::Table;
                            }
                        }
                        self.poll_store(true);
                        self.set_status(LogLevel::Info, format!("deleted {id}"));
                    }
                    Err(e) => self.set_status(LogLevel::Error, e.to_string()),
                }
            }
        }
    }

    fn on_picker(&mut self, a: Action) {
        match self.popup.take() {
            Some(Popup::Profiles(mut p)) => {
                match a {
                    Action::Up => p.cursor = p.cursor.saturating_sub(1),
                    Action::Down => {
                        p.cursor = (p.cursor + 1).min(p.entries.len().saturating_sub(1))
                    }
                    Action::Back => return,
                    Action::Enter => {
                        if let (Some(e), Some(st)) = (p.entries.get(p.cursor), &self.store) {
                            match st.profile_dirs().resolve(&e.name) {
                                Ok((_, _, config)) => {
                                    let name = e.name.clone();
                                    self.form.load(config, name.clone());
                                    self.set_status(LogLevel::Info, format!("loaded {name}"));
                                    return;
                                }
                                Err(err) => p.error = Some(err.to_string()),
                            }
                        }
                    }
                    _ => {}
                }
                self.popup = Some(Popup::Profiles(p));
            }
            Some(Popup::Checklist(mut c)) => {
                let n = c.items.len();
                match a {
                    Action::Up => c.cursor = c.cursor.saturating_sub(1),
                    Action::Down => c.cursor = (c.cursor + 1).min(n.saturating_sub(1)),
                    Action::Toggle => {
                        if let Some(it) = c.items.get_mut(c.cursor) {
                            if it.disabled.is_none() {
                                it.checked = !it.checked;
                                c.error = None;
                            }
                        }
                    }
                    Action::AllOthers if c.kind == ChecklistKind::Reference => {
                        self.form.set_reference(None);
                        return;
                    }
                    Action::Back => return,
                    Action::Enter => {
                        let picked: Vec<usize> = (0..n)
                            .filter(|&i| c.items[i].checked && c.items[i].disabled.is_none())
                            .collect();
                        if picked.is_empty() {
                            c.error = Some("check at least one".into());
                        } else {
                            match c.kind {
                                ChecklistKind::Reference => {
                                    let all_others: Vec<usize> =
                                        (0..n).filter(|&i| c.items[i].disabled.is_none()).collect();
                                    self.form.set_reference(if picked == all_others {
                                        None
                                    } else {
                                        Some(picked)
                                    });
                                }
                                ChecklistKind::Scorers => {
                                    let chosen: Vec<ScorerKind> =
                                        picked.iter().map(|&i| ScorerKind::ALL[i]).collect();
                                    let mut order: Vec<ScorerKind> = self
                                        .form
                                        .config
                                        .score
                                        .scorers
                                        .iter()
                                        .copied()
                                        .filter(|k| chosen.contains(k))
                                        .collect();
                                    for k in chosen {
                                        if !order.contains(&k) {
                                            order.push(k);
                                        }
                                    }
                                    self.form.set_scorers(order);
                                }
                            }
                            return;
                        }
                    }
                    _ => {}
                }
                self.popup = Some(Popup::Checklist(c));
            }
            other => self.popup = other,
        }
    }

    fn on_input(&mut self, a: Action) {
        let Some(Popup::Input(mut inp)) = self.popup.take() else {
            return;
        };
        if a == Action::Back {
            if inp.kind == InputKind::Filter {
                self.runs.set_filter("");
            }
            return;
        }
        if a != Action::Enter {
            self.popup = Some(Popup::Input(inp));
            return;
        }
        let result: Result<Option<String>, String> = match &inp.kind {
            InputKind::Field(f) => self.form.apply_text(*f, &inp.text).map(|_| None),
            InputKind::Filter => {
                self.runs.set_filter(&inp.text);
                Ok(None)
            }
            InputKind::ProfileName => self.save_profile(&mut inp),
            InputKind::Tags(id) => {
                let tags: Vec<String> = inp
                    .text
                    .split([' ', ','])
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect();
                self.with_store(|st| st.set_tags(id, &tags))
                    .map(|_| Some(format!("tags of {id} saved")))
            }
            InputKind::Note(id) => self
                .with_store(|st| st.set_note(id, inp.text.trim()))
                .map(|_| Some(format!("note of {id} saved"))),
        };
        match result {
            Ok(msg) => {
                if matches!(inp.kind, InputKind::Tags(_) | InputKind::Note(_)) {
                    self.poll_store(true);
                }
                if let Some(m) = msg {
                    self.set_status(LogLevel::Info, m);
                }
            }
            Err(e) => {
                inp.error = Some(e);
                self.popup = Some(Popup::Input(inp));
            }
        }
    }

    fn with_store(&self, f: impl FnOnce(&Store) -> Result<(), StoreError>) -> Result<(), String> {
        match &self.store {
            Some(st) => f(st).map_err(|e| e.to_string()),
            None => Err(s::RUNS_NO_STORE.to_string()),
        }
    }

    fn save_profile(&mut self, inp: &mut Input) -> Result<Option<String>, String> {
        let name = inp.text.trim().to_string();
        let Some(st) = &self.store else {
            return Err(s::RUNS_NO_STORE.into());
        };
        match st
            .profile_dirs()
            .save(&name, &self.form.config, inp.overwrite_armed)
        {
            Ok(path) => {
                self.form.profile = name.clone();
                self.form.edited = false;
                Ok(Some(format!("saved profile {name} ({})", path.display())))
            }
            Err(StoreError::ProfileExists { .. }) => {
                inp.overwrite_armed = true;
                Err(s::PROFILE_EXISTS.into())
            }
            Err(e) => Err(e.to_string()),
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
        for ev in events {
            self.handle_event(ev);
        }
        if gone && self.job.is_some() {
            self.handle_event(Event::Finished {
                outcome: Outcome::Failed {
                    reason: "the training job ended without a final event".into(),
                },
            });
        }
        self.watch_store(now);
        for (key, state) in self.images.poll() {
            if let RunsView::Detail(d) = &mut self.runs.view {
                if d.images_key.as_deref() == Some(key.as_str()) {
                    d.images = state;
                    self.dirty = true;
                }
            }
        }
        self.request_images();
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
        if let Some(l) = latest {
            if self.runs.fingerprint != Some(l.0) {
                self.runs.apply_listing(l, self.store.as_ref());
                self.dirty = true;
            }
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
        }
    }

    /// Asks the loader for the open run's extreme test images when their page shows.
    fn request_images(&mut self) {
        let RunsView::Detail(d) = &mut self.runs.view else {
            return;
        };
        if d.page != DetailPage::Images || d.images_key.is_some() {
            return;
        }
        let key = d.image_key();
        d.images_key = Some(key.clone());
        let Ok(scores) = &d.scores else {
            d.images = ImagesState::Missing(s::NO_SCORES.into());
            return;
        };
        let primary = d.run.record.config.primary_scorer();
        let Some(v) = scores
            .scores
            .get(&primary)
            .or_else(|| scores.scores.values().next())
        else {
            d.images = ImagesState::Missing(s::NO_SCORES.into());
            return;
        };
        let (top, bottom) = extremes(v, &scores.labels, IMAGES_PER_ROW);
        let map = |p: super::images::Pick| super::images::Pick {
            position: scores.index.get(p.position).copied().unwrap_or(p.position),
            ..p
        };
        let picks: Vec<_> = top.into_iter().chain(bottom).map(map).collect();
        d.images = ImagesState::Loading;
        let req = ImageRequest {
            key,
            data: d.run.record.config.data.clone(),
            seed: d.seed_value().unwrap_or(d.run.record.config.train.seed),
            picks,
        };
        if self.images.is_live() {
            self.images.request(req);
        }
    }

    /// Store root, for messages.
    pub fn store_root(&self) -> Option<&Path> {
        self.store.as_ref().map(|s| s.root())
    }
}
