//! How key actions change the [`super::app::App`], one file per context, as `impl App` blocks
//! that [`super::app::App::dispatch`] calls. The popups' own state and keys are in
//! [`super::popups`]; `popups.rs` here applies what they answer.

mod popups;
mod runs;
mod score;
mod setup;
mod train;
