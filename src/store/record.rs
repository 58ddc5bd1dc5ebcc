//! `run.toml`: what one run records about itself.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{RecordError, StoreError};
use super::fsutil;
use super::time::Timestamp;
use super::SCHEMA_VERSION;
use crate::config::{Config, ScorerKind};
use crate::score::{GroupAuc, Summary, ViewAuc};
use crate::train::EpochMetrics;

/// A `running` run on another host whose heartbeat is older than this is shown as interrupted.
pub const STALE_AFTER_SECS: i64 = 10 * 60;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    Running,
    Finished,
    Failed,
    Interrupted,
}

impl RunStatus {
    pub const ALL: [RunStatus; 4] = [
        RunStatus::Running,
        RunStatus::Finished,
        RunStatus::Failed,
        RunStatus::Interrupted,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Finished => "finished",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Sizes reported by `Event::DataReady`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataCounts {
    pub train: usize,
    pub normal_train: usize,
    pub test: usize,
    pub classes: usize,
    /// Anomalous images among the `test` ones (0 in runs recorded before it was).
    #[serde(default)]
    pub test_anomalous: usize,
}

impl DataCounts {
    /// `train 6,000 (normal 6,000), test 1,000 normal + 9,000 anomalous, as 72 transform
    /// classes` (what the head of `config` is trained on).
    pub fn describe(&self, config: &crate::config::Config) -> String {
        use crate::config::thousands as t;
        let test = if self.test_anomalous > 0 {
            format!(
                "{} normal + {} anomalous",
                t(self.test - self.test_anomalous.min(self.test)),
                t(self.test_anomalous)
            )
        } else {
            t(self.test)
        };
        format!(
            "train {} (normal {}), test {test}, as {}",
            t(self.train),
            t(self.normal_train),
            crate::data::transforms::describe_classes(config, self.classes)
        )
    }
}

/// The final evaluation of one seed (ROC curves are recomputed from the scores CSV).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedResult {
    pub epoch: usize,
    pub auc: BTreeMap<ScorerKind, f64>,
    pub average_precision: BTreeMap<ScorerKind, f64>,
    /// With test-time views: the identity view's own AUC per scorer.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub identity_auc: BTreeMap<ScorerKind, f64>,
    /// With test-time views: each view's own AUC per scorer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub view_auc: Vec<ViewAuc>,
    /// With sub-labelled anomalies (MVTec defect types): each group's AUC per scorer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_auc: Vec<GroupAuc>,
}

/// One seed of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedRecord {
    /// Position among the run's seeds (0-based).
    pub index: usize,
    pub seed: u64,
    pub status: RunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// File name of this seed's per-image scores, relative to the run folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<SeedResult>,
    #[serde(default)]
    pub epochs: Vec<EpochMetrics>,
}

/// Where a run sits in a study: its cell (by the key of the cell's config, so a changed grid
/// keeps the runs of unchanged cells) and seed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudyRef {
    pub name: String,
    /// Stable key of the cell's config (seed aside).
    pub cell_key: String,
    /// `head.kind=arcface`, as the study file spells the cell.
    pub cell: String,
    /// Position of the seed among the study's seeds (0-based).
    pub seed_index: usize,
    /// The `--set key=value` overrides the study was run with (none: the file as written).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
}

/// Everything `run.toml` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub schema_version: u32,
    pub id: String,
    /// The profile the run started from.
    pub profile: String,
    /// What the run's config changed from the profile (`head=arcface`): see
    /// [`super::profiles::run_name`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    pub status: RunStatus,
    /// Why the run failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub created: Timestamp,
    pub updated: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<Timestamp>,
    pub host: String,
    pub pid: u32,
    pub heartbeat: Timestamp,
    #[serde(default)]
    pub device: String,
    #[serde(default)]
    pub threads: usize,
    pub adalab_version: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub note: String,
    /// The seeds the job announced, in order.
    #[serde(default)]
    pub planned_seeds: Vec<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataCounts>,
    /// The study this run belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study: Option<StudyRef>,
    /// The full resolved configuration.
    pub config: Config,
    #[serde(default)]
    pub seeds: Vec<SeedRecord>,
    /// Final AUC per scorer over the finished seeds.
    #[serde(default)]
    pub summary: BTreeMap<ScorerKind, Summary>,
    /// With test-time views: the identity view's AUC over the finished seeds.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub identity_summary: BTreeMap<ScorerKind, Summary>,
}

impl RunRecord {
    /// Parses `run.toml` text; errors say what is wrong (the caller adds the path).
    pub fn from_toml_str(text: &str) -> Result<RunRecord, RecordError> {
        let line = |e: &toml::de::Error| {
            e.span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
        };
        let table: toml::Table = toml::from_str(text).map_err(|e| RecordError::Toml {
            message: e.message().trim().to_string(),
            line: line(&e),
        })?;
        match table.get("schema_version") {
            None => return Err(RecordError::NoSchema),
            Some(toml::Value::Integer(v)) if *v == i64::from(SCHEMA_VERSION) => {}
            Some(toml::Value::Integer(v)) => return Err(RecordError::UnknownSchema { found: *v }),
            Some(other) => {
                return Err(RecordError::SchemaType {
                    found: other.type_str(),
                })
            }
        }
        toml::from_str(text).map_err(|e: toml::de::Error| RecordError::Fields {
            message: e.message().trim().to_string(),
            line: line(&e),
        })
    }

    pub fn to_toml_string(&self) -> Result<String, RecordError> {
        toml::to_string_pretty(self).map_err(|e| RecordError::Serialise(e.to_string()))
    }

    /// Reads and parses a `run.toml`; the error names the file.
    pub fn load(path: &Path) -> Result<RunRecord, StoreError> {
        let text = fsutil::read_text_capped(path, fsutil::MAX_TEXT_FILE)?;
        RunRecord::from_toml_str(&text).map_err(|error| StoreError::Record {
            path: path.to_path_buf(),
            error,
        })
    }

    /// Writes atomically.
    pub fn save(&self, path: &Path) -> Result<(), StoreError> {
        let text = self.to_toml_string().map_err(|error| StoreError::Record {
            path: path.to_path_buf(),
            error,
        })?;
        fsutil::write_atomic(path, text.as_bytes())
    }

    /// The status to show: a `running` run whose process is gone counts as interrupted.
    /// Same host: the pid no longer exists (or now belongs to a process started after the
    /// run). Other host: no heartbeat for [`STALE_AFTER_SECS`].
    pub fn effective_status(&self, this_host: &str, now: Timestamp) -> RunStatus {
        if self.status != RunStatus::Running {
            return self.status;
        }
        let alive = if !self.host.is_empty() && self.host == this_host {
            fsutil::pid_alive_since(self.pid, self.created.0)
        } else {
            self.heartbeat.seconds_until(now) <= STALE_AFTER_SECS
        };
        if alive {
            RunStatus::Running
        } else {
            RunStatus::Interrupted
        }
    }

    /// The primary scorer's final AUC: the median over seeds when repeated.
    /// The run's name: its profile's, and what it changed from it
    /// (`fashion-sneaker-boot-adacos-fixed-geom · head=arcface`).
    pub fn name(&self) -> String {
        super::profiles::join_run_name(&self.profile, &self.changes)
    }

    pub fn primary_auc(&self) -> Option<f64> {
        self.final_auc(self.config.primary_scorer())
    }

    /// A scorer's final AUC: the median over finished seeds (the value itself for one seed);
    /// when no seed finished (an interrupted or failed run), its last evaluation
    /// ([`RunRecord::last_evaluation`]), which [`RunRecord::result_note`] marks as such.
    pub fn final_auc(&self, scorer: ScorerKind) -> Option<f64> {
        self.summary
            .get(&scorer)
            .map(|s| s.median)
            .or_else(|| self.last_evaluation(scorer).map(|(v, _)| v))
    }

    /// For a run none of whose seeds finished: the median over seeds of each seed's last
    /// evaluation of `scorer` (its recorded result, else its newest evaluated epoch), and the
    /// furthest epoch evaluated.
    pub fn last_evaluation(&self, scorer: ScorerKind) -> Option<(f64, usize)> {
        if !self.summary.is_empty() {
            return None;
        }
        let mut values = Vec::new();
        let mut epoch = 0;
        for s in &self.seeds {
            let last = match s
                .result
                .as_ref()
                .and_then(|r| r.auc.get(&scorer).map(|v| (*v, r.epoch)))
            {
                Some(v) => Some(v),
                None => s
                    .epochs
                    .iter()
                    .rev()
                    .find_map(|e| e.auc.get(&scorer).map(|v| (*v, e.epoch))),
            };
            if let Some((v, e)) = last {
                values.push(v);
                epoch = epoch.max(e);
            }
        }
        Summary::of(&values).map(|s| (s.median, epoch))
    }

    /// What a result that is not a finished run's final one is (`ep 5, interrupted`); `None`
    /// when the AUC shown is final or there is none.
    pub fn result_note(&self, status: RunStatus) -> Option<String> {
        let (_, epoch) = self.last_evaluation(self.config.primary_scorer())?;
        let what = match status {
            RunStatus::Running => "so far",
            other => other.as_str(),
        };
        Some(format!("ep {epoch}, {what}"))
    }

    /// A scorer's final average precision (median over seeds).
    pub fn final_ap(&self, scorer: ScorerKind) -> Option<f64> {
        let v: Vec<f64> = self
            .seeds
            .iter()
            .filter_map(|s| s.result.as_ref())
            .filter_map(|r| r.average_precision.get(&scorer).copied())
            .collect();
        Summary::of(&v).map(|s| s.median)
    }

    /// Epochs finished by the furthest seed.
    pub fn epochs_done(&self) -> usize {
        self.seeds.iter().map(|s| s.epochs.len()).max().unwrap_or(0)
    }

    /// Seconds from creation to the end (or to the last update while running).
    pub fn duration_secs(&self) -> i64 {
        let end = self.finished.unwrap_or(self.updated);
        self.created.seconds_until(end)
    }
}
