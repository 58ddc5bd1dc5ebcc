//! Train keys (log scrolling, stop) and what stopping and quitting do to a running job.

use super::super::app::{App, Popup};
use super::super::keys::Action;
use super::super::live::LogLevel;
use super::super::popups::confirm::ConfirmKind;
use super::super::strings as s;

impl App {
    pub(in crate::tui) fn on_train(&mut self, a: Action) {
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
}
