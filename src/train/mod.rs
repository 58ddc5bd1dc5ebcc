//! The training engine: a loop on a worker thread that emits [`Event`]s and can be cancelled.

pub mod event;
pub mod tally;
pub mod worker;

pub use event::{EpochMetrics, Evaluation, Event, Outcome, RocCurve};
pub use worker::{spawn, CancelHandle, JobOptions, TrainHandle};
