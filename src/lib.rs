//! adalab: a terminal lab for anomaly detection with deep metric learning.
//!
//! **The engine knows no screen.** Data flows one way through it: [`config`] (one serde tree,
//! checked once) → [`data`] (loaders, catalogue, split protocol, fetch) → [`model`] (our
//! conv/pool ops on dfdx, backbone, heads) → [`train`] (a worker thread emitting typed
//! [`train::Event`]s, cancellable) → [`score`] (LOF, kNN, ROC/AUC; `train` calls it) →
//! [`store`] (runs and profiles on disk) → [`job`] (one driver handing events to sinks). No
//! engine module imports clap, ratatui, crossterm or indicatif, or prints; `tests/layering.rs`
//! fails when one does.
//!
//! **Front ends** consume events and read the store: [`cli`] (headless commands, console
//! sink, reports) and [`tui`] (the lab).

pub mod config;
pub mod data;
pub mod figure;
pub mod job;
pub mod model;
pub mod score;
pub mod store;
pub mod train;

pub mod cli;
pub mod tui;
