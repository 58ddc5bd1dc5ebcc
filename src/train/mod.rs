//! The training engine: a loop on a worker thread that emits [`Event`]s and can be cancelled.
//!
//! Owns the training loop, evaluation during training (it calls [`crate::score`]) and the
//! event types every front end consumes. Must not import front-end crates (clap, ratatui,
//! crossterm, indicatif) or print.

pub mod batches;
pub mod bench;
#[cfg(test)]
mod data_path_tests;
pub mod detector;
pub mod error;
pub mod evaluate;
pub mod event;
pub mod seed;
#[cfg(test)]
mod split_step_tests;
pub mod step;
pub mod tally;
pub mod worker;

pub use detector::{Detector, DetectorError, NamedTensor};
pub use error::TrainError;
pub use evaluate::embed;
pub use event::{EpochMetrics, Event, LogLevel, Outcome, PROGRESS_EVERY};
pub use seed::{lr_at, train_on};
pub use worker::{spawn, CancelHandle, JobOptions, TrainHandle};
