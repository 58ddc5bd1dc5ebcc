//! Store errors: every one names the file or run and what is wrong.

use std::path::PathBuf;

use super::SCHEMA_VERSION;
use crate::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: cannot {op}: {error}", .path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        // Shown in the message; named `error` (not `source`), so error chains do not print it twice.
        error: std::io::Error,
    },
    /// A file exists but its content is not what the store expects.
    #[error("{}: {message}", .path.display())]
    Invalid { path: PathBuf, message: String },
    /// A `run.toml` that does not parse or has another schema.
    #[error("{}: {error}", .path.display())]
    Record { path: PathBuf, error: RecordError },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("invalid {what} `{name}`: {reason}")]
    InvalidName {
        what: &'static str,
        name: String,
        reason: &'static str,
    },
    #[error("no run `{id}` in {}{}", .runs_dir.display(), suggest(.suggestions))]
    UnknownRun {
        id: String,
        runs_dir: PathBuf,
        suggestions: Vec<String>,
    },
    #[error("run id prefix `{id}` matches several runs: {}", .matches.join(", "))]
    AmbiguousRun { id: String, matches: Vec<String> },
    #[error("run `{id}` is still running (pid {pid} on {host}); stop it first")]
    StillRunning { id: String, pid: u32, host: String },
    #[error(
        "run `{id}` has a record of schema_version {found}, newer than this adalab reads; \
         delete it with --force if you are sure"
    )]
    FutureSchema { id: String, found: i64 },
    #[error("run `{id}` was deleted while it was being written ({})", .dir.display())]
    RunDeleted { id: String, dir: PathBuf },
    #[error("no profile `{name}`; looked in {}", .searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    UnknownProfile {
        name: String,
        searched: Vec<PathBuf>,
    },
    #[error("no study `{name}`; looked in {}", .searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    UnknownStudy {
        name: String,
        searched: Vec<PathBuf>,
    },
    #[error("{}: profile `{name}` already exists (use --force to replace it)", .path.display())]
    ProfileExists { name: String, path: PathBuf },
    #[error("{reason} (in filter `{filter}`)")]
    BadFilter { filter: String, reason: String },
    #[error("cannot find a home directory for adalab's data; set ADALAB_HOME or pass --home")]
    NoHome,
}

fn suggest(s: &[String]) -> String {
    if s.is_empty() {
        "; see `adalab runs list`".to_string()
    } else {
        format!("; did you mean {}?", s.join(", "))
    }
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str, error: std::io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            op,
            error,
        }
    }
    pub(crate) fn invalid(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        StoreError::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }
}

fn at_line(line: &Option<usize>) -> String {
    line.map(|l| format!(" (line {l})")).unwrap_or_default()
}

/// What is wrong with a `run.toml`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("not valid TOML: {message}{}", at_line(.line))]
    Toml {
        message: String,
        line: Option<usize>,
    },
    #[error("missing `schema_version`")]
    NoSchema,
    #[error(
        "unknown schema_version {found} (this adalab {} reads {SCHEMA_VERSION})",
        env!("CARGO_PKG_VERSION")
    )]
    UnknownSchema { found: i64 },
    #[error("schema_version must be an integer, found {found}")]
    SchemaType { found: &'static str },
    #[error("{message}{}", at_line(.line))]
    Fields {
        message: String,
        line: Option<usize>,
    },
    #[error("cannot serialise run record: {0}")]
    Serialise(String),
}
