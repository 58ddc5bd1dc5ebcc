//! One file per screen; each draws from the [`super::app::App`] it is given and never changes it.

pub mod compare;
pub mod detail;
pub mod help;
pub mod runs;
pub mod setup;
pub mod study;
pub mod train;
