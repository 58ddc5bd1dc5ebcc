//! The training engine: a loop on a worker thread that emits [`Event`]s and can be cancelled.

pub mod event;
pub mod tally;

pub use event::{EpochMetrics, Evaluation, Event, Outcome, RocCurve};
