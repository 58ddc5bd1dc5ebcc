//! The one error type of the data layer. Every variant that concerns a file names it.

use std::path::PathBuf;

fn paths(list: &[PathBuf]) -> String {
    list.iter()
        .map(|p| format!("\n  - {}", p.display()))
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// Reading or writing a file failed.
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        // Shown in the message; named `error` (not `source`), so error chains do not print it twice.
        error: std::io::Error,
    },
    /// A file exists but its contents are not what the format demands.
    #[error("{}: {message}", path.display())]
    Format { path: PathBuf, message: String },
    /// A file the dataset needs is not in the dataset directory.
    #[error("{}: missing {what} file for {dataset}", path.display())]
    MissingFile {
        path: PathBuf,
        dataset: String,
        what: String,
    },
    /// A data folder given explicitly is not there.
    #[error("data folder {} {reason} (given with --data-dir or data.data_dir)", path.display())]
    NoDataDir { path: PathBuf, reason: &'static str },
    /// The dataset is nowhere to be found.
    #[error("{dataset} not found; searched:{}\n{hint}", paths(searched))]
    NotFound {
        dataset: String,
        searched: Vec<PathBuf>,
        hint: String,
    },
    /// A class reference that matches no class of the dataset.
    #[error(
        "{dataset} has no class {given:?}; valid classes: {}",
        valid_list(valid)
    )]
    UnknownClass {
        dataset: String,
        given: String,
        valid: Vec<String>,
    },
    /// The split configuration cannot be satisfied.
    #[error("data split: {0}")]
    Split(String),
    /// A downloaded file failed verification (it has been deleted).
    #[error("{}: {algorithm} mismatch (downloaded from {url}): expected {expected}, got {actual}; the corrupt download was deleted", path.display())]
    Checksum {
        path: PathBuf,
        url: String,
        algorithm: String,
        expected: String,
        actual: String,
    },
    /// Every URL for a file failed.
    #[error("could not download {file}; tried:{}", attempts.iter().map(|(u, e)| format!("\n  - {u}: {e}")).collect::<String>())]
    Download {
        file: String,
        attempts: Vec<(String, String)>,
    },
    /// An image file (or folder) of a folder dataset that cannot be used.
    #[error("{}: {reason} (data.on_bad_image = \"skip\" leaves such files out)", path.display())]
    BadImage { path: PathBuf, reason: String },
    /// A folder dataset without a folder.
    #[error("dataset {dataset} needs data.path (or --data-dir): the folder of its images")]
    NoPath { dataset: &'static str },
    /// The embedded or given manifest is malformed or lacks something.
    #[error("manifest {name}: {message}")]
    Manifest { name: String, message: String },
}

fn valid_list(valid: &[String]) -> String {
    valid
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{i}={n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            error,
        }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        DataError::Format {
            path: path.into(),
            message: message.into(),
        }
    }
}
