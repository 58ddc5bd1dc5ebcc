//! The model: our own conv/pool/BatchNorm ops on dfdx ([`ops`]), the CNN backbone ([`net`]),
//! the loss heads ([`head`]), the optimisers, naming and saving tensors ([`params`]), what a
//! config needs to build and train ([`memory`]), and the bench net ([`bench`]).
//!
//! Generic over the dfdx device: every model type takes `D: OpsDevice`, so the CPU and CUDA
//! builds share one code path. Must not import front-end crates (clap, ratatui, crossterm,
//! indicatif) or print.

pub mod bench;
pub mod device;
pub mod error;
pub mod head;
pub mod memory;
pub mod net;
pub mod ops;
pub mod optim;
pub mod params;
pub mod parity;

pub use error::ModelError;
