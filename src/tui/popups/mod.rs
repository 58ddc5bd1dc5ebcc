//! One file per popup; each draws over the screen from the app state.

pub mod checklist;
pub mod confirm;
pub mod input;
pub mod profiles;
