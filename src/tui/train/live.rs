//! The state of the job the lab is running (or ran last, or follows from the store), folded
//! from its events: progress and ETA ([`JobProgress`], from the first batches), the per-batch
//! training curve of the seed in progress, test AUC per epoch, per-seed results and the log.
//! [`Live::from_store`] rebuilds the same state from a run's `run.toml` and `metrics.csv`, by
//! replaying them as the events they were written from.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::config::{Config, LabelMode, ScorerKind};
use crate::job::{JobProgress, Tally};
use crate::store::metrics::BatchPoint;
use crate::store::{replay, LoadedRun, Timestamp};
pub use crate::train::LogLevel;
use crate::train::{EpochMetrics, Event, Outcome};

/// Log lines kept for the log pane.
const LOG_CAP: usize = 1000;
/// Curve points kept per seed; past it, neighbouring points are merged pairwise (the curve
/// keeps its shape, memory stays bounded however long the run).
pub const CURVE_CAP: usize = 2000;
/// Weight of the past in the smoothed curve (debiased exponential moving average).
pub const EMA_WEIGHT: f64 = 0.8;

/// One point of the training curve: the mean loss and accuracy of the batches since the last
/// report, at `x` = epochs done (fractional: 0.5 is half-way through the first epoch).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurvePoint {
    pub x: f64,
    pub loss: f32,
    pub accuracy: f32,
    /// Batches the point stands for (merged points count their parts).
    pub weight: u32,
}

/// Chart points: (x, y).
pub type Points = Vec<(f64, f64)>;

/// Debiased exponential moving average of `values` (as TensorBoard smooths): the first
/// points are not pulled towards zero. Non-finite values are skipped (they keep the last mean).
pub fn ema(values: &[f64], weight: f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(values.len());
    let (mut acc, mut norm) = (0.0, 0.0);
    for &v in values {
        if v.is_finite() {
            acc = weight * acc + (1.0 - weight) * v;
            norm = weight * norm + (1.0 - weight);
        }
        out.push(if norm > 0.0 { acc / norm } else { f64::NAN });
    }
    out
}

#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    pub level: LogLevel,
    pub text: String,
}

/// How far the evaluation under way is: on view `view` of `views` (1-based), `images` of
/// `total` embedded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvalPhase {
    pub view: usize,
    pub views: usize,
    pub images: usize,
    pub total: usize,
}

impl EvalPhase {
    pub fn fraction(&self) -> f64 {
        (self.images as f64 / self.total.max(1) as f64).clamp(0.0, 1.0)
    }
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
    /// Training accuracy of the last report.
    pub batch_accuracy: f32,
    /// The per-batch training curve of the seed in progress (bounded, see [`CURVE_CAP`]).
    pub curve: Vec<CurvePoint>,
    /// Fraction done and ETA, from the first batches (the same as the headless bar's).
    pub progress: JobProgress,
    /// Test AUC per scorer and evaluated epoch, for the seed in progress.
    pub auc_history: BTreeMap<ScorerKind, Vec<(usize, f64)>>,
    pub logs: Vec<LogLine>,
    /// Lines scrolled back from the end of the log (0 = follow).
    pub log_scroll: usize,
    /// The evaluation under way, if one is.
    pub evaluating: Option<EvalPhase>,
    pub outcome: Option<Outcome>,
    pub stop_requested: bool,
    pub started: Instant,
    pub ended: Option<Instant>,
}

impl Live {
    pub fn new(config: Config, profile: String, run_id: Option<String>, now: Instant) -> Live {
        let seeds = config.seeds();
        let progress = JobProgress::new(config.train.epochs, seeds.len());
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
            batch_accuracy: f32::NAN,
            curve: Vec::new(),
            progress,
            auc_history: BTreeMap::new(),
            logs: Vec::new(),
            log_scroll: 0,
            evaluating: None,
            outcome: None,
            stop_requested: false,
            started: now,
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
        self.progress.apply(ev, now);
        if !matches!(ev, Event::Evaluating { .. } | Event::Log { .. }) {
            self.evaluating = None;
        }
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
                ..
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
                self.curve.clear();
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
                accuracy,
            } => {
                // Batches since the last report (of this epoch).
                let from = if *epoch == self.epoch && *batch > self.batch {
                    self.batch
                } else {
                    0
                };
                self.epoch = *epoch;
                self.batch = *batch;
                self.batches = *batches;
                self.images_per_sec = *images_per_sec;
                self.batch_loss = *loss;
                self.batch_accuracy = *accuracy;
                let x = epoch.saturating_sub(1) as f64 + *batch as f64 / (*batches).max(1) as f64;
                let weight = batch.saturating_sub(from).max(1) as u32;
                self.push_point(CurvePoint {
                    x,
                    loss: *loss,
                    accuracy: *accuracy,
                    weight,
                });
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
            Event::Evaluating {
                view,
                views,
                images,
                total,
                ..
            } => {
                if *images == 0 && self.evaluating.is_none() {
                    self.log(
                        LogLevel::Info,
                        format!("evaluating: {total} images through {views} view(s)"),
                    );
                }
                self.evaluating = Some(EvalPhase {
                    view: *view,
                    views: *views,
                    images: *images,
                    total: *total,
                });
            }
            Event::Evaluated { epoch, auc } => {
                for (k, v) in auc {
                    self.record_auc(*k, *epoch, *v);
                }
            }
            Event::DetectorReady { .. } => {}
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

    /// Fraction of the whole job (all seeds, all epochs, batch by batch) done.
    pub fn job_fraction(&self) -> f64 {
        self.progress.fraction()
    }

    /// Time left, at the rate since the first batch reports (none once the job ended).
    pub fn eta(&self, now: Instant) -> Option<Duration> {
        if !self.is_active() {
            return None;
        }
        self.progress.eta(now)
    }

    /// What the accuracy chart shows: transform accuracy when the classes are transforms.
    pub fn accuracy_label(&self) -> &'static str {
        match self.config.transforms.labels {
            LabelMode::None => super::super::strings::CHART_ACC,
            LabelMode::Transform => super::super::strings::CHART_ACC_TRANSFORM,
            LabelMode::ClassTransform => super::super::strings::CHART_ACC_CLASS_TRANSFORM,
        }
    }

    /// Adds a curve point; past [`CURVE_CAP`], merges neighbours pairwise (weighted means).
    fn push_point(&mut self, p: CurvePoint) {
        self.curve.push(p);
        if self.curve.len() > CURVE_CAP {
            let last = self.curve.pop();
            let merged: Vec<CurvePoint> = self
                .curve
                .chunks(2)
                .map(|c| match c {
                    [a, b] => {
                        let (wa, wb) = (a.weight as f64, b.weight as f64);
                        let mean = |x: f32, y: f32| -> f32 {
                            if !x.is_finite() || !y.is_finite() {
                                return f32::NAN;
                            }
                            ((x as f64 * wa + y as f64 * wb) / (wa + wb)) as f32
                        };
                        CurvePoint {
                            x: b.x,
                            loss: mean(a.loss, b.loss),
                            accuracy: mean(a.accuracy, b.accuracy),
                            weight: a.weight + b.weight,
                        }
                    }
                    [a] => *a,
                    _ => unreachable!("chunks of two"),
                })
                .collect();
            self.curve = merged;
            self.curve.extend(last);
        }
    }

    /// The raw and smoothed (EMA) training curve: `(raw, smoothed)` points of `value`.
    pub fn curve_series(&self, value: fn(&CurvePoint) -> f32) -> (Points, Points) {
        let raw: Vec<(f64, f64)> = self.curve.iter().map(|p| (p.x, value(p) as f64)).collect();
        let ys: Vec<f64> = raw.iter().map(|p| p.1).collect();
        let smooth = ema(&ys, EMA_WEIGHT)
            .into_iter()
            .zip(&raw)
            .map(|(y, p)| (p.0, y))
            .collect();
        (raw, smooth)
    }

    /// Rebuilds the view of a run from what its writer keeps in the store: the events
    /// [`crate::store::replay::events`] gives back, folded in at the times they happened
    /// (`now`/`wall` tie the store's wall clock to the lab's). The result is what the Train
    /// screen would show had the lab run the job itself.
    pub fn from_store(
        run: &LoadedRun,
        points: &[BatchPoint],
        now: Instant,
        wall: Timestamp,
    ) -> Live {
        let rec = &run.record;
        // The instant `secs` seconds after the run was created.
        let at = |secs: f64| -> Instant {
            let age = (wall.0 - rec.created.0) as f64 - secs;
            now.checked_sub(Duration::from_secs_f64(age.max(0.0)))
                .unwrap_or(now)
        };
        let mut live = Live::new(
            rec.config.clone(),
            rec.name(),
            Some(rec.id.clone()),
            at(0.0),
        );
        for r in replay::events(run, points) {
            live.apply(&r.event, at(r.secs));
        }
        live
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
