//! One file per popup, each with its state, how its keys change it (answering what the app
//! should do, applied by `popups/apply.rs`) and its drawing over the screen.

mod apply;
pub mod checklist;
pub mod confirm;
pub mod folder;
pub mod input;
pub mod profiles;
pub mod studies;
