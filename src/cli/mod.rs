//! The headless front end: one file per command group ([`run`], [`runs`], [`profiles`],
//! [`data`], [`bench`], [`study`], [`score`], [`detector`]), the console progress sink ([`console`]), rendering as tables, CSV,
//! JSON and Markdown ([`report`]), and signal handling shared with the lab ([`signals`]).
//!
//! Front ends consume the engine's events and read the store; they own every `print`.

pub mod bench;
pub mod console;
pub mod data;
pub mod detector;
pub mod parity;
pub mod profiles;
pub mod report;
pub mod run;
pub mod runs;
pub mod score;
pub mod signals;
pub mod study;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Mutex;

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

impl Exit {
    /// The status of a command that ended with `e`: a name that does not exist (a run,
    /// profile or study), an ambiguous or invalid one is a usage error (2) for every command;
    /// anything else is a failure (1).
    pub fn of_error(e: &anyhow::Error) -> Exit {
        use crate::job::{slurm::SlurmError, study::StudyError};
        use crate::store::StoreError;
        let usage = |s: &StoreError| {
            matches!(
                s,
                StoreError::UnknownRun { .. }
                    | StoreError::AmbiguousRun { .. }
                    | StoreError::UnknownProfile { .. }
                    | StoreError::UnknownStudy { .. }
                    | StoreError::InvalidName { .. }
            )
        };
        let hit = e.chain().any(|c| {
            c.downcast_ref::<StoreError>().is_some_and(usage)
                || matches!(c.downcast_ref::<StudyError>(), Some(StudyError::Store(s)) if usage(s))
                || matches!(c.downcast_ref::<SlurmError>(), Some(SlurmError::Store(s)) if usage(s))
        });
        if hit {
            Exit::Usage
        } else {
            Exit::Failed
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

/// The first error writing to stdout, if any (see [`out`]).
static STDOUT_ERROR: Mutex<Option<(std::io::ErrorKind, String)>> = Mutex::new(None);

/// Standard output for commands: writes that fail (a closed pipe, a full disk) return the
/// error and are remembered, so `main` can end quietly on a closed pipe (`adalab runs list |
/// head`) and say what went wrong otherwise. Nothing here panics.
pub struct Out(std::io::StdoutLock<'static>);

/// Locks stdout for a command's output.
pub fn out() -> Out {
    Out(std::io::stdout().lock())
}

fn remember<T>(r: std::io::Result<T>) -> std::io::Result<T> {
    if let Err(e) = &r {
        if let Ok(mut g) = STDOUT_ERROR.lock() {
            g.get_or_insert((e.kind(), e.to_string()));
        }
    }
    r
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        remember(self.0.write(buf))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        remember(self.0.flush())
    }
}

/// How writing to stdout failed, if it did: the kind and the OS's message.
pub fn stdout_failure() -> Option<(std::io::ErrorKind, String)> {
    STDOUT_ERROR.lock().ok().and_then(|g| g.clone())
}

/// A line on stderr; a closed or full stderr loses it (never a panic).
#[macro_export]
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

/// `--device cpu|cuda`.
pub fn parse_device(s: &str) -> Result<DeviceKind, String> {
    DeviceKind::parse(s).ok_or_else(|| format!("unknown device `{s}` (use cpu or cuda)"))
}
