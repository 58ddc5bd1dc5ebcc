//! Detail's `s`: the folder input, the scoring of a folder with the run's detector (started
//! through the launcher, on a background thread: the UI never waits for it), its reports
//! folded into the Detail's Folder page, and Esc cancelling it.

use std::path::PathBuf;

use crate::store::detector::DetectorStatus;

use super::super::app::{App, Popup};
use super::super::keys::Action;
use super::super::launcher::ScoreUpdate;
use super::super::popups::folder::{FolderInput, FolderOutcome};
use super::super::runs::RunsView;
use super::super::strings as s;
use super::super::train::live::LogLevel;
use super::scoring::{FolderScore, FolderState};
use super::DetailPage;

impl App {
    /// `s` on a run's Detail: the folder input, unless the run has no detector or a folder
    /// is being scored.
    pub(in crate::tui) fn open_score_folder(&mut self) {
        let RunsView::Detail(d) = &self.runs.view else {
            return;
        };
        if self.scoring.is_some() {
            self.set_status(LogLevel::Warn, s::SCORING_BUSY);
            return;
        }
        let id = d.id().to_string();
        if let DetectorStatus::Missing(why) = &d.detector {
            let msg = s::no_detector(&id, why);
            self.set_status(LogLevel::Warn, msg);
            return;
        }
        let input = FolderInput::new(id, self.last_folder.clone());
        self.popup = Some(Popup::Folder(input));
    }

    /// Keys of the folder input; Enter on a folder that exists starts scoring it.
    pub(in crate::tui) fn on_folder(&mut self, a: Action) {
        let Some(Popup::Folder(mut p)) = self.popup.take() else {
            return;
        };
        match p.on_action(a) {
            FolderOutcome::Open => self.popup = Some(Popup::Folder(p)),
            FolderOutcome::Cancel => {}
            FolderOutcome::Score(path) => {
                self.last_folder = p.text.clone();
                if let Err(e) = self.start_scoring(&p.run, path) {
                    p.error = Some(e);
                    self.popup = Some(Popup::Folder(p));
                }
            }
        }
    }

    /// Starts scoring `folder` with run `run`'s detector and shows its Detail's Folder page.
    pub(in crate::tui) fn start_scoring(
        &mut self,
        run: &str,
        folder: PathBuf,
    ) -> Result<(), String> {
        let job = self
            .launcher
            .launch_score(run, &folder)
            .map_err(|e| format!("{e:#}"))?;
        self.log_line(&format!("scoring {} with run {run}", folder.display()));
        if let RunsView::Detail(d) = &mut self.runs.view {
            if d.id() == run {
                d.folder = Some(FolderScore::running(folder));
                d.page = DetailPage::Folder;
                d.scroll = 0;
            }
        }
        self.scoring = Some((run.to_string(), job));
        Ok(())
    }

    /// Esc on a Detail whose folder is being scored: asks the worker to stop; true when it
    /// did (a second Esc while it stops leaves the Detail, the worker stopping on its own).
    pub(in crate::tui) fn cancel_scoring(&mut self) -> bool {
        let Some((run, job)) = &self.scoring else {
            return false;
        };
        let RunsView::Detail(d) = &mut self.runs.view else {
            return false;
        };
        if d.run.record.id != *run {
            return false;
        }
        let Some(f) = d.folder.as_mut() else {
            return false;
        };
        if !f.cancel() {
            return false;
        }
        (job.cancel)();
        self.set_status(LogLevel::Info, s::SCORING_CANCELLING);
        true
    }

    /// Once per loop turn: the scoring worker's reports. A job whose Detail is gone (left,
    /// deleted) is stopped and forgotten.
    pub(in crate::tui) fn tick_scoring(&mut self) {
        let Some((run, job)) = &self.scoring else {
            return;
        };
        let mut ups = Vec::new();
        let mut gone = false;
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
        let folder = match &mut self.runs.view {
            RunsView::Detail(d) if d.run.record.id == *run => d.folder.as_mut(),
            _ => None,
        };
        let Some(f) = folder else {
            (job.cancel)();
            self.scoring = None;
            return;
        };
        let mut ended = None;
        for u in ups {
            self.dirty = true;
            match u {
                ScoreUpdate::Progress(p) => f.progress(p),
                ScoreUpdate::Done(r) => {
                    ended = Some((
                        LogLevel::Info,
                        format!(
                            "scored {}: {}",
                            r.folder.display(),
                            s::scored_counts(r.images, r.flagged)
                        ),
                    ));
                    f.state = FolderState::Done(r);
                }
                ScoreUpdate::Failed(m) => {
                    ended = Some((LogLevel::Error, format!("{}: {m}", s::SCORING_FAILED)));
                    f.state = FolderState::Failed(m);
                }
                ScoreUpdate::Cancelled => {
                    ended = Some((LogLevel::Warn, s::SCORING_CANCELLED.to_string()));
                    f.state = FolderState::Cancelled;
                }
            }
        }
        if gone && ended.is_none() {
            f.state = FolderState::Failed(s::SCORING_ENDED_SILENTLY.into());
            ended = Some((LogLevel::Error, s::SCORING_ENDED_SILENTLY.to_string()));
        }
        if let Some((level, msg)) = ended {
            self.scoring = None;
            self.dirty = true;
            self.set_status(level, msg);
        }
    }
}
