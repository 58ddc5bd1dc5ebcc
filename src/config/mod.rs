//! The experiment configuration: one serde tree ([`types`]), read from TOML with errors that
//! name the key ([`toml_error`]), edited key by key with typed values ([`keys`]: `--set`, the
//! lab's form, flattening for comparisons and filters), checked for ranges ([`validate`]) and
//! against the dataset and the build before any run exists ([`check`]).
//!
//! Every field has a default, so a profile only names what it changes. Unknown keys are errors
//! (`deny_unknown_fields`).
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print; it depends
//! on no other adalab module.

pub mod check;
pub mod keys;
pub mod roles;
pub mod scoring;
mod toml_error;
pub mod types;
mod validate;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use check::{thousands, Build, Catalog, DatasetInfo, SplitCounts};
pub use keys::{is_key, Key, KEYS};
pub use roles::{Anomalous, ImageCount};
pub use scoring::*;
pub use types::*;

/// A configuration error that names the key (and the file, when there is one).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{key}: {message}", source_prefix(.file))]
pub struct ConfigError {
    pub file: Option<PathBuf>,
    pub key: String,
    pub message: String,
}

fn source_prefix(file: &Option<PathBuf>) -> String {
    match file {
        Some(f) => format!("{}: ", f.display()),
        None => String::new(),
    }
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            file: None,
            key: key.into(),
            message: message.into(),
        }
    }
    pub fn in_file(mut self, file: &Path) -> Self {
        self.file = Some(file.to_path_buf());
        self
    }
}

impl Config {
    /// Parses TOML text. Errors name the key (`train.epochs`) and what is wrong.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let de = toml::de::Deserializer::parse(text)
            .map_err(|e| toml_error::to_config_error(text, &e))?;
        Config::deserialize(de).map_err(|e| toml_error::to_config_error(text, &e))
    }

    /// Reads and validates a TOML file; every error names the file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new("(file)", format!("cannot read: {e}")).in_file(path))?;
        let cfg = Config::from_toml_str(&text).map_err(|e| e.in_file(path))?;
        cfg.validate().map_err(|e| e.in_file(path))?;
        Ok(cfg)
    }

    /// The config as TOML. Validation keeps every value representable (e.g. `train.seed`
    /// within TOML's signed 64-bit integers); a value that is not is shown as a comment.
    pub fn to_toml_string(&self) -> String {
        toml::to_string_pretty(self)
            .unwrap_or_else(|e| format!("# this config cannot be written as TOML: {e}\n"))
    }

    /// The seeds a job runs, in order: `train.seed`, `train.seed + 1`, … (`run.repeat` of them).
    /// Validation keeps the last one within TOML's integer range.
    pub fn seeds(&self) -> Vec<u64> {
        (0..self.run.repeat as u64)
            .map(|i| self.train.seed.saturating_add(i))
            .collect()
    }

    /// The primary scorer (first listed).
    pub fn primary_scorer(&self) -> ScorerKind {
        self.score
            .scorers
            .first()
            .copied()
            .unwrap_or(ScorerKind::KnnCosine)
    }

    /// A short `dataset normal→anomalous` label for lists.
    pub fn split_label(&self) -> String {
        format!(
            "{} {}→{}",
            self.data.dataset, self.data.normal, self.data.anomalous
        )
    }
}
