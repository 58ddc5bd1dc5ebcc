//! What the trainer tells its front ends (TUI, console, store writer), in order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{Config, ScorerKind};
use crate::score::{Evaluation, Summary};

/// Batches between two `Progress` events.
pub const PROGRESS_EVERY: usize = 5;

/// Metrics of one finished epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    pub loss: f32,
    /// Training accuracy in [0, 1].
    pub accuracy: f32,
    /// Logit scale s at the end of the epoch (AdaCos: the current s; others: the fixed s or α).
    pub scale: f32,
    pub lr: f32,
    /// Wall time of the epoch's training, seconds.
    pub seconds: f32,
    pub images_per_sec: f32,
    /// Test AUC per scorer when this epoch was evaluated.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub auc: BTreeMap<ScorerKind, f64>,
}

/// How much a log message matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Info => "info",
            LogLevel::Warn => "warning",
            LogLevel::Error => "error",
        }
    }
}

impl Event {
    /// An info-level log event.
    pub fn info(message: impl Into<String>) -> Event {
        Event::Log {
            level: LogLevel::Info,
            message: message.into(),
        }
    }
    /// A warning-level log event.
    pub fn warn(message: impl Into<String>) -> Event {
        Event::Log {
            level: LogLevel::Warn,
            message: message.into(),
        }
    }
}

/// Why a run stopped without finishing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    Finished,
    Failed { reason: String },
    Interrupted,
}

impl Outcome {
    /// One word for tables and JSON: `finished`, `failed`, `interrupted`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Finished => "finished",
            Outcome::Failed { .. } => "failed",
            Outcome::Interrupted => "interrupted",
        }
    }

    /// [`Outcome::label`], or `running` while there is no outcome yet.
    pub fn label_or_running(outcome: Option<&Outcome>) -> &'static str {
        outcome.map_or("running", Outcome::label)
    }
}

/// Events from a training job, in the order they happen. One job may hold several seeds
/// (`run.repeat`): each seed's events come between its `SeedStarted` and `SeedFinished`.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The job started with this resolved config; `seeds` in the order they will run.
    Started {
        config: Box<Config>,
        seeds: Vec<u64>,
        device: String,
        threads: usize,
    },
    /// Data loaded and split.
    DataReady {
        train: usize,
        normal_train: usize,
        test: usize,
        classes: usize,
        /// Anomalous images among the `test` ones.
        test_anomalous: usize,
    },
    SeedStarted {
        index: usize,
        seed: u64,
    },
    /// Every few batches ([`PROGRESS_EVERY`]).
    Progress {
        epoch: usize,
        batch: usize,
        batches: usize,
        images_per_sec: f32,
        /// Mean training loss over the batches since the last `Progress`.
        loss: f32,
        /// Training accuracy over the same batches (transform accuracy when the classes are
        /// transforms).
        accuracy: f32,
    },
    /// End of an epoch (AUCs filled when the epoch was evaluated).
    Epoch(EpochMetrics),
    /// An evaluation under way after `epoch`: `images` of its `total` embedded (the normal
    /// training images and the test images, through each of `views` test-time views), now on
    /// view `view` (1-based). Sent when it starts and after each set of images.
    Evaluating {
        epoch: usize,
        view: usize,
        views: usize,
        images: usize,
        total: usize,
    },
    /// A test-set evaluation after `epoch`.
    Evaluated {
        epoch: usize,
        auc: BTreeMap<ScorerKind, f64>,
    },
    /// A message worth showing in a log pane.
    Log {
        level: LogLevel,
        message: String,
    },
    /// The detector of a seed that finished (sent before its `SeedFinished`, only when the
    /// job saves one: `run.save_model` and a run folder, the first seed of a run).
    DetectorReady {
        index: usize,
        seed: u64,
        detector: Box<super::detector::Detector>,
    },
    /// One seed ended; `evaluation` is the final evaluation when it finished. `summary` is the
    /// final AUC per scorer over every seed of the job that finished so far (computed once,
    /// here in the engine: front ends and the store take it as it is).
    SeedFinished {
        index: usize,
        seed: u64,
        outcome: Outcome,
        evaluation: Option<Box<Evaluation>>,
        summary: BTreeMap<ScorerKind, Summary>,
        /// With test-time views: the identity view's AUC over the same seeds.
        identity_summary: BTreeMap<ScorerKind, Summary>,
    },
    /// The whole job ended.
    Finished {
        outcome: Outcome,
    },
}

// Beside `Outcome` rather than in `error.rs`, so that errors need not import events (which
// carry the detector, whose building can fail with a `TrainError`).
impl super::error::TrainError {
    /// The outcome a seed that failed this way reports.
    pub fn outcome(&self) -> Outcome {
        match self {
            super::error::TrainError::Interrupted => Outcome::Interrupted,
            e => Outcome::Failed {
                reason: e.to_string(),
            },
        }
    }
}
