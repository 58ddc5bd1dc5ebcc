//! adalab: a terminal lab for anomaly detection with deep metric learning.
//!
//! Data flows one way: [`data`] (loaders, split protocol, fetch) → [`model`] (our conv/pool ops,
//! backbone, heads) → [`train`] (worker thread emitting [`train::Event`]s) → [`score`] (embeddings,
//! LOF/kNN, ROC/AUC) → [`store`] (runs and profiles on disk). Front ends ([`tui`], the headless
//! console in [`cli`]) only consume events and read the store.

pub mod bench;
pub mod config;
pub mod console;
pub mod data;
pub mod model;
pub mod runner;
pub mod score;
pub mod store;
pub mod train;
pub mod tui;
