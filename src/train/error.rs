//! Why a seed could not train. The job reports it as `Outcome::Failed { reason }` (its text).

use crate::data::DataError;
use crate::model::ModelError;
use crate::score::ScoreError;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("evaluation after epoch {epoch}: {error}")]
    Score { epoch: usize, error: ScoreError },
    #[error("loss became {value} in epoch {epoch}, batch {batch}{hint}")]
    NonFiniteLoss {
        value: f32,
        epoch: usize,
        batch: usize,
        /// Advice, when there is a likely cause.
        hint: String,
    },
    #[error("dynamic AdaCos scale s became {value} in epoch {epoch}, batch {batch}")]
    NonFiniteScale {
        value: f32,
        epoch: usize,
        batch: usize,
    },
    #[error("cannot start {threads} worker threads: {message}")]
    Threads { threads: usize, message: String },
    #[error("{0}")]
    Device(String),
    #[error("internal error: {0}")]
    Panic(String),
    /// Stopped on request (not a failure).
    #[error("interrupted")]
    Interrupted,
}
