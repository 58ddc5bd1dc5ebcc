//! What the lab runs besides the job in front of it: the queue of runs and studies waiting
//! for their turn ([`Queued`]), and a study in progress ([`StudyState`]: its tasks done out of
//! the total, each finished task's AUC in its log, the task in training followed from the
//! store). One thing trains at a time; the next queued one starts when it ends.

use std::time::{Duration, Instant};

use crate::config::{Config, ScorerKind};
use crate::job::study::StudyEvent;
use crate::store::studies::{Study, Task};
use crate::train::Outcome;

use super::super::launcher::{StudyJob, StudyUpdate};
use super::follow::Follower;
use super::live::{LogLevel, LogLine};

/// Study log lines kept.
const LOG_CAP: usize = 1000;

/// A run or a study waiting for the one in progress to end.
#[derive(Clone, Debug)]
pub enum Queued {
    Run {
        config: Box<Config>,
        /// The name the run is recorded under.
        profile: String,
    },
    Study(Box<Study>),
}

impl Queued {
    /// One line for the queue list.
    pub fn label(&self) -> String {
        match self {
            Queued::Run { config, profile } => format!(
                "{profile} · {} ep{}",
                config.train.epochs,
                if config.run.repeat > 1 {
                    format!(" × {}", config.run.repeat)
                } else {
                    String::new()
                }
            ),
            Queued::Study(s) => format!("study {} · {} × {} seeds", s.name, s.cells.len(), s.seeds),
        }
    }
}

/// The task being trained.
#[derive(Clone, Debug, PartialEq)]
pub struct CurrentTask {
    pub task: Task,
    pub run_id: String,
    pub cell: String,
    /// Position among the tasks this run of the study trains (1-based).
    pub number: usize,
}

/// A study the lab runs (or ran last).
pub struct StudyState {
    pub name: String,
    pub cells: Vec<String>,
    pub seeds: usize,
    /// The scorer the study reports (its AUC comes first in the log).
    pub scorer: ScorerKind,
    /// Tasks in the study.
    pub total: usize,
    /// Finished before this run.
    pub done_before: usize,
    /// Running elsewhere (left alone).
    pub running_elsewhere: usize,
    /// Tasks this run trains.
    pub queued: usize,
    /// Ended in this run: finished, failed (or could not start), interrupted.
    pub finished: usize,
    pub failed: usize,
    pub interrupted: usize,
    pub current: Option<CurrentTask>,
    /// The task in training (or the last one), read from the store.
    pub follower: Option<Follower>,
    pub log: Vec<LogLine>,
    pub log_scroll: usize,
    pub stop_requested: bool,
    pub started: Instant,
    /// When the first task started (the ETA's clock).
    pub first_task: Option<Instant>,
    pub ended: Option<Instant>,
    /// How it ended, for the header.
    pub end_text: Option<String>,
    pub(super) job: Option<StudyJob>,
}

impl StudyState {
    pub fn new(study: &Study, job: StudyJob, now: Instant) -> StudyState {
        let total = study.cells.len() * study.seeds;
        StudyState {
            name: study.name.clone(),
            cells: study.cells.iter().map(|c| c.label.clone()).collect(),
            seeds: study.seeds,
            scorer: study.scorer,
            total,
            done_before: 0,
            running_elsewhere: 0,
            queued: total,
            finished: 0,
            failed: 0,
            interrupted: 0,
            current: None,
            follower: None,
            log: Vec::new(),
            log_scroll: 0,
            stop_requested: false,
            started: now,
            first_task: None,
            ended: None,
            end_text: None,
            job: Some(job),
        }
    }

    pub fn is_active(&self) -> bool {
        self.ended.is_none()
    }

    pub fn log(&mut self, level: LogLevel, text: impl Into<String>) {
        self.log.push(LogLine {
            level,
            text: text.into(),
        });
        if self.log.len() > LOG_CAP {
            self.log.drain(..self.log.len() - LOG_CAP);
        }
    }

    /// Asks the queue to stop (the task in progress stops after its batch).
    pub fn stop(&mut self) {
        if let Some(j) = &self.job {
            if self.is_active() && !self.stop_requested {
                (j.cancel)();
                self.stop_requested = true;
                self.log(LogLevel::Warn, super::super::strings::STUDY_STOPPING);
            }
        }
    }

    /// Tasks of this run that ended.
    pub fn ended_tasks(&self) -> usize {
        self.finished + self.failed + self.interrupted
    }

    /// Fraction of this run's tasks done, the task in training counting its batches.
    pub fn fraction(&self) -> f64 {
        if self.queued == 0 {
            return 1.0;
        }
        let current = match (&self.current, &self.follower) {
            (Some(_), Some(f)) if f.is_running() => {
                f.live.as_ref().map(|l| l.job_fraction()).unwrap_or(0.0)
            }
            _ => 0.0,
        };
        ((self.ended_tasks() as f64 + current) / self.queued as f64).clamp(0.0, 1.0)
    }

    /// Time left at the rate since the first task started.
    pub fn eta(&self, now: Instant) -> Option<Duration> {
        let t0 = self.first_task?;
        let f = self.fraction();
        if !self.is_active() || f <= 1e-6 || f >= 1.0 {
            return None;
        }
        let elapsed = now.saturating_duration_since(t0).as_secs_f64();
        Some(Duration::from_secs_f64(elapsed * (1.0 - f) / f))
    }

    fn cell(&self, t: Task) -> String {
        self.cells.get(t.cell).cloned().unwrap_or_default()
    }

    /// Folds one update in. Returns the run id of a task that started (to follow it).
    pub fn apply(&mut self, up: StudyUpdate, now: Instant) -> Option<String> {
        match up {
            StudyUpdate::Error(e) => {
                self.log(LogLevel::Error, format!("study {}: {e}", self.name));
                self.end(now, format!("failed: {e}"));
            }
            StudyUpdate::Event(ev) => match ev {
                StudyEvent::Started {
                    total,
                    done,
                    running,
                    queued,
                    ..
                } => {
                    self.total = total;
                    self.done_before = done;
                    self.running_elsewhere = running;
                    self.queued = queued;
                    let mut text = format!(
                        "study {}: {total} tasks, {done} done already, {queued} to run",
                        self.name
                    );
                    if running > 0 {
                        text.push_str(&format!(" ({running} running elsewhere)"));
                    }
                    self.log(LogLevel::Info, text);
                }
                StudyEvent::TaskStarted { task, run_id } => {
                    let number = self.ended_tasks() + 1;
                    let cell = self.cell(task);
                    let text = format!(
                        "task {number}/{}: {cell}, seed {}/{} → {run_id}",
                        self.queued,
                        task.seed_index + 1,
                        self.seeds
                    );
                    self.log(LogLevel::Info, text);
                    self.first_task.get_or_insert(now);
                    self.current = Some(CurrentTask {
                        task,
                        run_id: run_id.clone(),
                        cell,
                        number,
                    });
                    return Some(run_id);
                }
                StudyEvent::TaskFinished {
                    task,
                    outcome,
                    auc,
                    seconds,
                    ..
                } => {
                    let number = self.ended_tasks() + 1;
                    let head = format!(
                        "task {number}/{} {}, seed {}/{}",
                        self.queued,
                        self.cell(task),
                        task.seed_index + 1,
                        self.seeds
                    );
                    let took = super::super::strings::duration(seconds as f64);
                    let (level, text) = match &outcome {
                        Outcome::Finished => {
                            self.finished += 1;
                            // The study's scorer first, the others after it.
                            let main = auc
                                .get(&self.scorer)
                                .map(|v| format!("{} {v:.3}", self.scorer))
                                .unwrap_or_default();
                            let others: Vec<String> = auc
                                .iter()
                                .filter(|(k, _)| **k != self.scorer)
                                .map(|(k, v)| format!("{k} {v:.3}"))
                                .collect();
                            let others = if others.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", others.join(", "))
                            };
                            (
                                LogLevel::Info,
                                format!("{head}: AUC {main}{others}, {took}"),
                            )
                        }
                        Outcome::Failed { reason } => {
                            self.failed += 1;
                            (LogLevel::Error, format!("{head} failed: {reason}"))
                        }
                        Outcome::Interrupted => {
                            self.interrupted += 1;
                            (LogLevel::Warn, format!("{head} interrupted ({took})"))
                        }
                    };
                    self.log(level, text);
                }
                StudyEvent::TaskSkipped { task, reason } => {
                    // Not this run's to do after all.
                    self.queued = self.queued.saturating_sub(1);
                    let text = format!(
                        "task {}, seed {}/{} skipped: {reason}",
                        self.cell(task),
                        task.seed_index + 1,
                        self.seeds
                    );
                    self.log(LogLevel::Info, text);
                }
                StudyEvent::TaskError { task, message } => {
                    self.failed += 1;
                    let text = format!(
                        "task {}, seed {}/{} could not start: {message}",
                        self.cell(task),
                        task.seed_index + 1,
                        self.seeds
                    );
                    self.log(LogLevel::Error, text);
                }
                StudyEvent::Finished {
                    finished,
                    failed,
                    stopped,
                } => {
                    let text = format!("{finished} finished, {failed} failed");
                    let level = if stopped {
                        LogLevel::Warn
                    } else if failed > 0 {
                        LogLevel::Error
                    } else {
                        LogLevel::Info
                    };
                    let how = if stopped { "stopped" } else { "ended" };
                    self.log(level, format!("study {} {how}: {text}", self.name));
                    self.end(now, text);
                }
            },
        }
        None
    }

    fn end(&mut self, now: Instant, text: String) {
        self.ended = Some(now);
        self.end_text = Some(text);
        self.job = None;
    }

    /// A one-word state for headers.
    pub fn state_label(&self) -> &'static str {
        match (&self.ended, self.stop_requested) {
            (None, true) => "stopping",
            (None, false) => "running",
            (Some(_), true) => "interrupted",
            (Some(_), false) if self.failed > 0 => "failed",
            (Some(_), false) => "finished",
        }
    }
}
