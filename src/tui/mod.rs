//! The lab: a keyboard-driven terminal UI to set up, train, watch and compare runs.
//!
//! [`app::App`] holds all state and is changed only by key actions (all keys in the one table
//! [`keys`]) and training events; [`ui`] draws a frame from it. Each screen has one folder
//! with its state (`mod.rs`), its keys (`update.rs`, `impl App` blocks that
//! [`app::App::dispatch`] calls) and its drawing (`draw.rs`, which takes the screen's state and
//! the theme, never the whole `App`): [`setup`], [`train`], [`runs`], [`detail`], [`compare`],
//! [`study`]; [`help`] is one file. Each popup is one file in [`popups`] (state, keys,
//! drawing; `popups/apply.rs` applies what they answer). Shared: [`chart`] (the one chart
//! renderer), [`widgets`], [`text`] (the one cutting rule), [`theme`], every string in
//! [`strings`]. Jobs are started through a [`launcher::Launcher`], so tests drive the app with
//! scripted events. This file owns the terminal: setup, restore, signals and the event loop.

mod app;
mod chart;
mod compare;
mod detail;
mod export;
mod help;
mod images;
mod keys;
pub mod launcher;
mod popups;
mod runs;
mod setup;
mod strings;
mod study;
mod text;
mod theme;
mod train;
mod ui;
mod usage;
mod widgets;

#[cfg(test)]
mod tests;

use std::io::{self, Stdout};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use crossterm::event::{self, Event as TermEvent};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

use crate::config::Config;
use crate::store::{Store, Timestamp};
use crate::train::Event;

use app::{App, AppOptions};
use images::{ImageLoader, PixelMode};
use launcher::StoreLauncher;
use theme::Theme;

/// Input poll timeout: keys are answered within this, and the job channel drained as often.
const POLL: Duration = Duration::from_millis(25);
/// At most ~15 frames per second.
const FRAME: Duration = Duration::from_millis(66);
/// Redraw at least this often (clocks, ETA) even when nothing happened.
const IDLE_REDRAW: Duration = Duration::from_secs(1);
/// The lab's log, in the store root (nothing is printed while the TUI owns the screen).
pub const LOG_FILE: &str = "lab.log";
/// The profile the form starts from.
const START_PROFILE: &str = crate::store::DEFAULT_PROFILE;

/// The lab's handling of each event of a job: folded into the Train screen's state, as
/// `adalab bench` times it.
pub fn event_fold(config: Config) -> Box<dyn FnMut(&Event)> {
    let now = Instant::now();
    let mut live = train::live::Live::new(config, "bench".into(), None, now);
    Box::new(move |ev| live.apply(ev, now))
}

/// Opens the lab on the terminal; returns when the user quits or a signal arrives, with the
/// signal that ended it (SIGINT, SIGTERM or SIGHUP), if one did.
pub fn run(home: Option<&Path>) -> anyhow::Result<Option<i32>> {
    let (store, store_error) = match Store::open(home) {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let log_file = store.as_ref().and_then(|s| {
        std::fs::create_dir_all(s.root()).ok()?;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(s.root().join(LOG_FILE))
            .ok()
    });
    let (profile, config) = store
        .as_ref()
        .and_then(|s| s.profile_dirs().resolve(START_PROFILE).ok())
        .map(|(name, _, c)| (name, c))
        .unwrap_or_else(|| ("default".to_string(), Config::default()));
    let launcher: Box<dyn launcher::Launcher> = match &store {
        Some(s) => Box::new(StoreLauncher::new(s.clone())),
        None => Box::new(NoStore(store_error.clone().unwrap_or_default())),
    };
    let theme = Theme::from_env();
    let mut app = App::new(
        AppOptions {
            store,
            store_error,
            launcher,
            images: ImageLoader::spawn(),
            theme,
            pixel_mode: PixelMode::detect(theme.color),
            config,
            profile,
            log_file,
            watch_store: true,
        },
        Instant::now(),
        Timestamp::now(),
    );

    // SIGINT/SIGTERM/SIGHUP: stop the job (kept as interrupted), then restore and leave with
    // 128 + the signal. The slot holds the last signal's number (0: none yet).
    let signal = Arc::new(AtomicUsize::new(0));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register_usize(sig, signal.clone(), sig as usize)
            .context("cannot install the signal handlers")?;
    }

    app.sampler = Some(usage::Sampler::new());
    install_panic_hook(app.store_root().map(|r| r.join(LOG_FILE)));
    let mut terminal = enter().context("cannot set up the terminal")?;
    if let Ok(size) = terminal.size() {
        app.size = Some((size.width, size.height));
    }
    let result = event_loop(&mut terminal, &mut app, &signal);
    let restored = leave(&mut terminal);
    result?;
    restored.context("cannot restore the terminal")?;
    Ok(app.stopped_by())
}

/// Used when the store cannot be opened: runs cannot be recorded, so none start.
struct NoStore(String);

impl launcher::Launcher for NoStore {
    fn launch(&mut self, _: &Config, _: &str) -> anyhow::Result<launcher::Job> {
        anyhow::bail!("the run store could not be opened: {}", self.0)
    }
}

type Term = Terminal<CrosstermBackend<Stdout>>;

fn enter() -> io::Result<Term> {
    enable_raw_mode()?;
    let mut out = io::stdout();
    if let Err(e) = execute!(out, EnterAlternateScreen) {
        let _ = disable_raw_mode();
        return Err(e);
    }
    let mut t = Terminal::new(CrosstermBackend::new(out))?;
    t.hide_cursor()?;
    t.clear()?;
    Ok(t)
}

fn restore_terminal() -> io::Result<()> {
    let r1 = disable_raw_mode();
    let r2 = execute!(io::stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
    r1.and(r2)
}

fn leave(t: &mut Term) -> io::Result<()> {
    let _ = t.show_cursor();
    restore_terminal()
}

/// A panic on the UI thread restores the terminal before the usual message is printed. Panics
/// on other threads (the trainer catches its own and reports them as a failed seed) must not
/// touch the screen the UI still owns: they go to the log file.
fn install_panic_hook(log: Option<std::path::PathBuf>) {
    let ui_thread = std::thread::current().id();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() == ui_thread {
            let _ = restore_terminal();
            previous(info);
        } else if let Some(path) = &log {
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                use std::io::Write as _;
                let name = std::thread::current().name().unwrap_or("?").to_string();
                let _ = writeln!(f, "{} panic in thread {name}: {info}", Timestamp::now());
            }
        }
    }));
}

fn event_loop(t: &mut Term, app: &mut App, signal: &AtomicUsize) -> anyhow::Result<()> {
    let mut last_draw: Option<Instant> = None;
    let mut key_seen = false;
    let mut hung_up = false;
    loop {
        let now = Instant::now();
        let sig = signal.swap(0, Ordering::SeqCst);
        if sig != 0 {
            app.on_signal(sig as i32);
        }
        app.tick(now, Timestamp::now());
        if app.should_quit {
            return Ok(());
        }
        if hung_up {
            // No terminal left to draw on or read from: wait for the job to save itself.
            std::thread::sleep(POLL);
            continue;
        }
        let due = last_draw.is_none_or(|d| now.duration_since(d) >= FRAME);
        let stale = last_draw.is_none_or(|d| now.duration_since(d) >= IDLE_REDRAW);
        // Keys redraw at once; training events at most ~15 times a second.
        if (app.dirty && (due || key_seen)) || stale {
            t.draw(|f| ui::draw(f, app))?;
            app.dirty = false;
            key_seen = false;
            last_draw = Some(now);
        }
        // Wait for input ourselves: crossterm 0.29 loops forever reading a hung-up terminal
        // (read() = 0 is never treated as the end), so it is only asked once input is there.
        match wait_for_input(POLL) {
            Input::HungUp => {
                app.log_line("terminal hung up: stopping");
                // As SIGHUP would: the lab ends with 129.
                app.on_signal(signal_hook::consts::SIGHUP);
                hung_up = true;
                continue;
            }
            Input::Ready | Input::Timeout => {}
        }
        // Keys and resizes that are queued, a bounded burst per turn.
        for _ in 0..256 {
            if !event::poll(Duration::ZERO)? {
                break;
            }
            match event::read()? {
                TermEvent::Key(k) => {
                    app.on_key(k);
                    key_seen = true;
                }
                TermEvent::Resize(w, h) => {
                    t.autoresize()?;
                    app.size = Some((w, h));
                    app.dirty = true;
                }
                _ => {}
            }
        }
    }
}

enum Input {
    Ready,
    Timeout,
    HungUp,
}

/// Waits up to `timeout` for stdin to become readable; reports a hung-up terminal.
fn wait_for_input(timeout: Duration) -> Input {
    let mut fds = libc::pollfd {
        fd: libc::STDIN_FILENO,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd, its count, and a timeout; poll(2) writes only `revents`.
    let n = unsafe { libc::poll(&mut fds, 1, ms) };
    if n < 0 {
        return Input::Timeout; // EINTR (a signal): the loop checks the flags next turn
    }
    if fds.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
        Input::HungUp
    } else if fds.revents & libc::POLLIN != 0 {
        Input::Ready
    } else {
        Input::Timeout
    }
}
