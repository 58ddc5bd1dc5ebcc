//! The state of the job the lab is running (or ran last), folded from its events.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::config::{Config, ScorerKind};
use crate::job::Tally;
pub use crate::train::LogLevel;
use crate::train::{EpochMetrics, Event, Outcome};

/// Log lines kept for the log pane.
const LOG_CAP: usize = 1000;

#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    pub level: LogLevel,
    pub text: String,
}

/// Everything the Train screen shows.
#[derive(Clone, Debug)]
pub struct Live {
    pub run_id: Option<String>,
    pub profile: String,
    pub config: Config,
    pub seeds: Vec<u64>,
    pub device: String,
    pub threads: usize,
    /// (train, normal_train, test, classes)
    pub data: Option<(usize, usize, usize, usize)>,
    pub tally: Tally,
    /// Index of the seed in progress (or the last one).
    pub seed_index: usize,
    pub epoch: usize,
    pub batch: usize,
    pub batches: usize,
    pub images_per_sec: f32,
    pub batch_loss: f32,
    /// Test AUC per scorer and evaluated epoch, for the seed in progress.
    pub auc_history: BTreeMap<ScorerKind, Vec<(usize, f64)>>,
    pub logs: Vec<LogLine>,
    /// Lines scrolled back from the end of the log (0 = follow).
    pub log_scroll: usize,
    pub outcome: Option<Outcome>,
    pub stop_requested: bool,
    pub started: Instant,
    /// When the first seed started training (after data loading).
    pub work_started: Option<Instant>,
    pub ended: Option<Instant>,
}

impl Live {
    pub fn new(config: Config, profile: String, run_id: Option<String>, now: Instant) -> Live {
        let seeds = config.seeds();
        Live {
            run_id,
            profile,
            config,
            seeds,
            device: String::new(),
            threads: 0,
            data: None,
            tally: Tally::default(),
            seed_index: 0,
            epoch: 0,
            batch: 0,
            batches: 0,
            images_per_sec: 0.0,
            batch_loss: f32::NAN,
            auc_history: BTreeMap::new(),
            logs: Vec::new(),
            log_scroll: 0,
            outcome: None,
            stop_requested: false,
            started: now,
            work_started: None,
            ended: None,
        }
    }

    pub fn is_active(&self) -> bool {
        self.outcome.is_none()
    }

    pub fn log(&mut self, level: LogLevel, text: impl Into<String>) {
        self.logs.push(LogLine {
            level,
            text: text.into(),
        });
        if self.logs.len() > LOG_CAP {
            self.logs.drain(..self.logs.len() - LOG_CAP);
        }
    }

    /// Folds one event in.
    pub fn apply(&mut self, ev: &Event, now: Instant) {
        self.tally.apply(ev);
        match ev {
            Event::Started {
                config,
                seeds,
                device,
                threads,
            } => {
                self.config = (**config).clone();
                self.seeds = seeds.clone();
                self.device = device.clone();
                self.threads = *threads;
                self.log(
                    LogLevel::Info,
                    format!(
                        "started on {device} ({threads} threads), {} seed(s)",
                        seeds.len()
                    ),
                );
            }
            Event::DataReady {
                train,
                normal_train,
                test,
                classes,
            } => {
                self.data = Some((*train, *normal_train, *test, *classes));
                self.log(
                    LogLevel::Info,
                    format!(
                        "data ready: {train} training images ({normal_train} normal), {test} test, {classes} classes"
                    ),
                );
            }
            Event::SeedStarted { index, seed } => {
                self.seed_index = *index;
                self.epoch = 0;
                self.batch = 0;
                self.batches = 0;
                self.auc_history.clear();
                if self.work_started.is_none() {
                    self.work_started = Some(now);
                }
                self.log(
                    LogLevel::Info,
                    format!("seed {seed} ({}/{})", index + 1, self.seeds.len().max(1)),
                );
            }
            Event::Progress {
                epoch,
                batch,
                batches,
                images_per_sec,
                loss,
                ..
            } => {
                self.epoch = *epoch;
                self.batch = *batch;
                self.batches = *batches;
                self.images_per_sec = *images_per_sec;
                self.batch_loss = *loss;
                if self.work_started.is_none() {
                    self.work_started = Some(now);
                }
            }
            Event::Epoch(m) => {
                self.epoch = m.epoch;
                self.batch = self.batches;
                if m.images_per_sec > 0.0 {
                    self.images_per_sec = m.images_per_sec;
                }
                for (k, v) in &m.auc {
                    self.record_auc(*k, m.epoch, *v);
                }
                let auc = self
                    .config
                    .score
                    .scorers
                    .first()
                    .and_then(|k| m.auc.get(k))
                    .map(|v| format!(", AUC {v:.3}"))
                    .unwrap_or_default();
                self.log(
                    LogLevel::Info,
                    format!(
                        "epoch {}: loss {:.4}, acc {:.3}, s {:.2}{auc}",
                        m.epoch, m.loss, m.accuracy, m.scale
                    ),
                );
            }
            Event::Evaluated { epoch, auc } => {
                for (k, v) in auc {
                    self.record_auc(*k, *epoch, *v);
                }
            }
            Event::Log { level, message } => {
                // The level's word stays in the text, so it reads without colour too.
                let text = match level {
                    LogLevel::Info => message.clone(),
                    _ => format!("{}: {message}", level.as_str()),
                };
                self.log(*level, text);
            }
            Event::SeedFinished {
                index,
                seed,
                outcome,
                evaluation,
                ..
            } => {
                let text = match (outcome, evaluation) {
                    (Outcome::Finished, Some(ev)) => {
                        let aucs: Vec<String> =
                            ev.auc.iter().map(|(k, v)| format!("{k} {v:.3}")).collect();
                        format!("seed {seed} finished: {}", aucs.join(", "))
                    }
                    (Outcome::Finished, None) => format!("seed {seed} finished"),
                    (Outcome::Failed { reason }, _) => format!("seed {seed} failed: {reason}"),
                    (Outcome::Interrupted, _) => format!("seed {seed} interrupted"),
                };
                let level = match outcome {
                    Outcome::Finished => LogLevel::Info,
                    Outcome::Interrupted => LogLevel::Warn,
                    Outcome::Failed { .. } => LogLevel::Error,
                };
                self.seed_index = *index;
                self.log(level, text);
            }
            Event::Finished { outcome } => {
                self.outcome = Some(outcome.clone());
                self.ended = Some(now);
                let (level, text) = match outcome {
                    Outcome::Finished => (LogLevel::Info, "job finished".to_string()),
                    Outcome::Interrupted => (LogLevel::Warn, "job interrupted".to_string()),
                    Outcome::Failed { reason } => {
                        (LogLevel::Error, format!("job failed: {reason}"))
                    }
                };
                self.log(level, text);
            }
        }
    }

    fn record_auc(&mut self, k: ScorerKind, epoch: usize, v: f64) {
        let h = self.auc_history.entry(k).or_default();
        match h.iter_mut().find(|(e, _)| *e == epoch) {
            Some(p) => p.1 = v,
            None => h.push((epoch, v)),
        }
    }

    /// Epoch metrics of the seed in progress.
    pub fn epochs(&self) -> &[EpochMetrics] {
        self.tally
            .seeds
            .last()
            .map(|s| s.epochs.as_slice())
            .unwrap_or(&[])
    }

    /// Fraction of the current epoch done.
    pub fn epoch_fraction(&self) -> f64 {
        if self.batches == 0 {
            0.0
        } else {
            (self.batch as f64 / self.batches as f64).clamp(0.0, 1.0)
        }
    }

    /// Fraction of the whole job (all seeds, all epochs) done. Seeds that finished count whole;
    /// interrupted or failed ones count the epochs they trained.
    pub fn job_fraction(&self) -> f64 {
        if self.outcome == Some(Outcome::Finished) {
            return 1.0;
        }
        let epochs = self.config.train.epochs.max(1) as f64;
        let seeds = self.seeds.len().max(1) as f64;
        let n = self.tally.seeds.len();
        let mut done = 0.0;
        for (i, sd) in self.tally.seeds.iter().enumerate() {
            done += match &sd.outcome {
                Some(Outcome::Finished) => 1.0,
                _ => {
                    let mut e = sd.epochs.len() as f64;
                    // The batch progress belongs to the latest seed's epoch in progress.
                    if i + 1 == n && self.epoch > sd.epochs.len() {
                        e += self.epoch_fraction();
                    }
                    (e / epochs).min(1.0)
                }
            };
        }
        (done / seeds).clamp(0.0, 1.0)
    }

    /// Time left, once the first epoch has finished (before that the rate is not meaningful).
    pub fn eta(&self, now: Instant) -> Option<Duration> {
        if !self.is_active() || self.tally.seeds.iter().all(|s| s.epochs.is_empty()) {
            return None;
        }
        let start = self.work_started?;
        let f = self.job_fraction();
        if f <= 0.0 {
            return None;
        }
        let elapsed = now.saturating_duration_since(start).as_secs_f64();
        Some(Duration::from_secs_f64(elapsed * (1.0 - f) / f))
    }

    pub fn elapsed(&self, now: Instant) -> Duration {
        self.ended
            .unwrap_or(now)
            .saturating_duration_since(self.started)
    }

    /// Final AUC of the primary scorer per seed so far.
    pub fn seed_aucs(&self) -> Vec<(u64, Option<f64>, Option<Outcome>)> {
        let k = self.config.primary_scorer();
        self.tally
            .seeds
            .iter()
            .map(|s| (s.seed, s.auc.get(&k).copied(), s.outcome.clone()))
            .collect()
    }

    /// (current, best, best epoch) AUC of a scorer for the seed in progress.
    pub fn auc_now_best(&self, k: ScorerKind) -> Option<(f64, f64, usize)> {
        let h = self.auc_history.get(&k)?;
        let (_, cur) = *h.last()?;
        let (be, bv) =
            h.iter().copied().fold(
                (0, f64::NEG_INFINITY),
                |acc, (e, v)| if v > acc.1 { (e, v) } else { acc },
            );
        Some((cur, bv, be))
    }

    /// A one-word state for headers.
    pub fn state_label(&self) -> &'static str {
        match &self.outcome {
            None if self.stop_requested => "stopping",
            None => "training",
            Some(o) => o.label(),
        }
    }
}
