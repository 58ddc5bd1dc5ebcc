//! The headless front end: one file per command group ([`run`], [`runs`], [`profiles`],
//! [`data`], [`bench`]), the console progress sink ([`console`]), rendering as tables, CSV,
//! JSON and Markdown ([`report`]), and signal handling shared with the lab ([`signals`]).
//!
//! Front ends consume the engine's events and read the store; they own every `print`.

pub mod bench;
pub mod console;
pub mod data;
pub mod profiles;
pub mod report;
pub mod run;
pub mod runs;
pub mod signals;

use std::process::ExitCode;

pub use signals::Signals;

use crate::config::DeviceKind;

/// How a command ended, as the process exit status (README lists them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: done (a run finished).
    Ok,
    /// 1: a run failed, or the command could not do what it was asked.
    Failed,
    /// 2: bad usage or a config that does not pass the check.
    Usage,
    /// 128 + the signal: stopped by SIGINT (130), SIGTERM (143) or SIGHUP (129).
    Signal(i32),
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Signal(s) => (128 + s).clamp(0, 255) as u8,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

/// `--device cpu|cuda`.
pub fn parse_device(s: &str) -> Result<DeviceKind, String> {
    DeviceKind::parse(s).ok_or_else(|| format!("unknown device `{s}` (use cpu or cuda)"))
}
