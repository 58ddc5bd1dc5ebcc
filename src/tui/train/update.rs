//! Train keys (log scrolling, stop, leaving a followed run, dropping a queued one), what
//! stopping and quitting do to a running job or study, the queue (a start while something
//! runs waits its turn), studies, and following a run trained elsewhere ("attach").

use std::time::Instant;

use crate::config::Config;
use crate::store::studies::Study;
use crate::store::Timestamp;

use super::super::app::{App, Popup, Tab};
use super::super::keys::Action;
use super::super::popups::confirm::ConfirmKind;
use super::super::strings as s;
use super::follow::Follower;
use super::jobs::{Queued, StudyState};
use super::live::{Live, LogLevel};

impl App {
    pub(in crate::tui) fn on_train(&mut self, a: Action) {
        match a {
            Action::Stop if self.follow.is_some() => {
                let text = match &self.follow {
                    Some(f) => s::attached_no_stop(&f.id, f.pid, &f.host),
                    None => String::new(),
                };
                self.set_status(LogLevel::Warn, text);
            }
            Action::Stop if self.busy() => {
                self.popup = Some(Popup::Confirm(ConfirmKind::Stop));
            }
            Action::Back if self.follow.is_some() => self.detach(),
            Action::Dequeue => match self.queue.pop() {
                Some(q) => self.set_status(
                    LogLevel::Info,
                    format!("{}: {}", s::QUEUE_DROPPED, q.label()),
                ),
                None => self.set_status(LogLevel::Info, s::QUEUE_EMPTY),
            },
            Action::Up | Action::Down | Action::Bottom => self.scroll_log(a),
            _ => {}
        }
    }

    /// Scrolls the log pane of what the Train screen shows.
    fn scroll_log(&mut self, a: Action) {
        let (scroll, len) = if let Some(l) = self.follow.as_mut().and_then(|f| f.live.as_mut()) {
            (&mut l.log_scroll, l.logs.len())
        } else if let Some(st) = self.study.as_mut() {
            (&mut st.log_scroll, st.log.len())
        } else if let Some(l) = self.live.as_mut() {
            (&mut l.log_scroll, l.logs.len())
        } else {
            return;
        };
        *scroll = match a {
            Action::Up => (*scroll + 1).min(len.saturating_sub(1)),
            Action::Down => scroll.saturating_sub(1),
            _ => 0,
        };
    }

    /// Whether something trains: the lab's own run or a study.
    pub fn busy(&self) -> bool {
        self.run_active() || self.study.as_ref().is_some_and(StudyState::is_active)
    }

    /// Asks the job (or the study's queue) to stop after the current batch.
    pub fn stop_job(&mut self) {
        if let (Some(job), Some(live)) = (&self.job, self.live.as_mut()) {
            if live.is_active() && !live.stop_requested {
                (job.cancel)();
                live.stop_requested = true;
                live.log(LogLevel::Warn, s::STOPPING);
            }
        }
        if let Some(st) = self.study.as_mut() {
            st.stop();
        }
    }

    /// Quit key: asks first while something trains.
    pub fn request_quit(&mut self) {
        if self.busy() {
            self.popup = Some(Popup::Confirm(ConfirmKind::Quit));
        } else {
            self.should_quit = true;
        }
    }

    /// Signal or Ctrl-C: stop the job cleanly (kept as interrupted), drop the queue, then
    /// leave.
    pub fn shutdown(&mut self) {
        self.queue.clear();
        if self.busy() {
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

    // ---- the queue -------------------------------------------------------------------

    /// Starts a run now, or queues it while something trains.
    pub fn start_or_queue_run(&mut self, config: Config, profile: String) {
        let item = Queued::Run {
            config: Box::new(config),
            profile,
        };
        self.start_or_queue(item);
    }

    pub fn start_or_queue(&mut self, item: Queued) {
        if self.busy() {
            let label = item.label();
            self.queue.push(item);
            let n = self.queue.len();
            self.log_line(&format!("queued {label}"));
            self.set_status(LogLevel::Info, s::queued(n, &label));
            return;
        }
        match item {
            Queued::Run { config, profile } => self.launch_run(*config, profile),
            Queued::Study(study) => self.launch_study(*study),
        }
    }

    /// After a job or study ended: the next queued one starts (one that cannot start is
    /// reported and the one after it tried).
    pub(in crate::tui) fn start_next_queued(&mut self) {
        while !self.busy() && !self.queue.is_empty() {
            let item = self.queue.remove(0);
            match item {
                Queued::Run { config, profile } => self.launch_run(*config, profile),
                Queued::Study(study) => self.launch_study(*study),
            }
        }
    }

    fn launch_run(&mut self, config: Config, profile: String) {
        match self.launcher.launch(&config, &profile) {
            Ok(job) => {
                let mut live = Live::new(config, profile, job.run_id.clone(), self.now);
                if let Some(id) = &job.run_id {
                    live.log(LogLevel::Info, format!("run {id}"));
                    self.log_line(&format!("started run {id}"));
                }
                self.live = Some(live);
                self.job = Some(job);
                // The Train screen shows the new run (not a finished study or a followed one).
                self.study = None;
                self.follow = None;
                self.tab = Tab::Train;
                self.help = false;
            }
            Err(e) => self.set_status(LogLevel::Error, format!("cannot start: {e:#}")),
        }
    }

    // ---- studies ---------------------------------------------------------------------

    /// Loads a study by name (the picker's choice) and starts or queues it.
    pub fn start_study(&mut self, name: &str) {
        let Some(st) = &self.store else {
            self.set_status(LogLevel::Error, s::RUNS_NO_STORE);
            return;
        };
        match st.load_study(name) {
            Ok(study) => self.start_or_queue(Queued::Study(Box::new(study))),
            Err(e) => self.set_status(LogLevel::Error, format!("cannot start the study: {e}")),
        }
    }

    fn launch_study(&mut self, study: Study) {
        match self.launcher.launch_study(&study) {
            Ok(job) => {
                self.log_line(&format!("started study {}", study.name));
                self.study = Some(StudyState::new(&study, job, self.now));
                self.follow = None;
                self.tab = Tab::Train;
                self.help = false;
            }
            Err(e) => self.set_status(
                LogLevel::Error,
                format!("cannot start study {}: {e:#}", study.name),
            ),
        }
    }

    // ---- following a run ---------------------------------------------------------------

    /// Opens the Train screen on a run trained elsewhere, following it from the store.
    pub fn attach(&mut self, run_id: &str) {
        let Some(st) = &self.store else {
            self.set_status(LogLevel::Error, s::RUNS_NO_STORE);
            return;
        };
        let mut f = Follower::new(st, run_id);
        f.poll(st, self.now, self.wall, true);
        if let Some(e) = &f.error {
            let text = format!("cannot follow {run_id}: {e}");
            self.set_status(LogLevel::Error, text);
            return;
        }
        self.log_line(&format!("following run {run_id}"));
        self.follow = Some(f);
        self.tab = Tab::Train;
        self.help = false;
        self.set_status(LogLevel::Info, s::attached(run_id));
    }

    /// Stops following (Esc on Train, or another screen).
    pub fn detach(&mut self) {
        if let Some(f) = self.follow.take() {
            self.set_status(LogLevel::Info, format!("{} {}", s::DETACHED, f.id));
        }
    }

    /// Whether `id` is the run this lab trains (its own job or its study's task).
    pub fn is_own_run(&self, id: &str) -> bool {
        let own =
            self.run_active() && self.live.as_ref().and_then(|l| l.run_id.as_deref()) == Some(id);
        let task = self
            .study
            .as_ref()
            .filter(|s| s.is_active())
            .and_then(|s| s.current.as_ref())
            .is_some_and(|c| c.run_id == id);
        own || task
    }

    /// Once per loop turn: the followed run and the study (its events, its task's run).
    pub(in crate::tui) fn tick_jobs(&mut self, now: Instant, wall: Timestamp) {
        if let (Some(f), Some(st)) = (self.follow.as_mut(), self.store.as_ref()) {
            if f.poll(st, now, wall, false) {
                self.dirty = true;
            }
        }
        let Some(study) = self.study.as_mut() else {
            return;
        };
        let mut ups = Vec::new();
        let mut gone = false;
        if let Some(job) = &study.job {
            loop {
                match job.events.try_recv() {
                    Ok(u) => ups.push(u),
                    Err(std::sync::mpsc::TryRecvError::Empty) => break,
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                        gone = true;
                        break;
                    }
                }
            }
        }
        let was_active = study.is_active();
        for u in ups {
            self.dirty = true;
            if let Some(id) = study.apply(u, now) {
                if let Some(st) = &self.store {
                    let mut f = Follower::new(st, &id);
                    f.poll(st, now, wall, true);
                    study.follower = Some(f);
                }
            }
        }
        if gone && study.is_active() {
            study.apply(
                super::super::launcher::StudyUpdate::Error(s::STUDY_ENDED_SILENTLY.into()),
                now,
            );
        }
        if let (Some(f), Some(st)) = (study.follower.as_mut(), self.store.as_ref()) {
            if f.poll(st, now, wall, false) {
                self.dirty = true;
            }
        }
        if was_active && !study.is_active() {
            let text = format!(
                "study {} {}: {}",
                study.name,
                match study.state_label() {
                    "interrupted" => "stopped",
                    other => other,
                },
                study.end_text.clone().unwrap_or_default()
            );
            let level = match study.state_label() {
                "finished" => LogLevel::Info,
                "interrupted" => LogLevel::Warn,
                _ => LogLevel::Error,
            };
            // The task's last state (its final write) shows.
            if let (Some(f), Some(st)) = (study.follower.as_mut(), self.store.as_ref()) {
                f.poll(st, now, wall, true);
            }
            self.set_status(level, text);
            self.poll_store(true);
            if self.quitting.is_some() {
                self.should_quit = true;
            } else {
                self.start_next_queued();
            }
        }
    }
}
