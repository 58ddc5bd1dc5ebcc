//! The experiment table's columns and rows: what each column shows for a run or a study
//! cell, how it sorts, the AUC cells with their median and IQR.

use std::collections::BTreeMap;

use crate::config::{Config, DatasetKind, ScorerKind};
use crate::store::{RunEntry, RunStatus, StudyRef};

use super::super::strings as s;

/// A column of the experiment table; each one sorts (`o` on the column under the cursor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    Name,
    Status,
    Split,
    Head,
    Epochs,
    Repeat,
    Duration,
    /// The final AUC of one scorer (median over seeds; the live value while running).
    Auc(ScorerKind),
    Tags,
    Date,
}

/// The column the table is sorted by.
pub type SortColumn = Column;

impl Column {
    /// The header text.
    pub fn label(self) -> &'static str {
        match self {
            Column::Name => s::COL_NAME,
            Column::Status => s::COL_STATUS,
            Column::Split => s::COL_SPLIT,
            Column::Head => s::COL_HEAD,
            Column::Epochs => s::COL_EPOCHS,
            Column::Repeat => s::COL_REPEAT,
            Column::Duration => s::COL_DURATION,
            Column::Auc(k) => k.as_str(),
            Column::Tags => s::COL_TAGS,
            Column::Date => s::COL_DATE,
        }
    }

    /// What the sort indicator names (`AUC knn-cosine`).
    pub fn sort_label(self) -> String {
        match self {
            Column::Auc(k) => format!("{} {k}", s::COL_AUC),
            c => c.label().to_string(),
        }
    }
}

/// One scorer's final AUC as a table cell shows it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AucCell {
    /// The median over finished seeds, or the latest evaluation of a running seed.
    pub value: f64,
    /// Interquartile range over seeds (repeated runs).
    pub iqr: Option<f64>,
    /// Not a final result: the latest evaluation of a run still training, or the last one
    /// of a run that stopped before any seed finished.
    pub live: bool,
}

impl AucCell {
    /// `0.921`, `0.921 (.016)` with the IQR, `~0.874` while live.
    pub fn text(&self) -> String {
        let v = s::auc(Some(self.value));
        match (self.live, self.iqr) {
            (true, _) => format!("~{v}"),
            (false, Some(iqr)) => format!("{v} ({})", s::auc(Some(iqr)).trim_start_matches('0')),
            (false, None) => v,
        }
    }
}

/// What a run's row shows (derived once per listing).
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub id: String,
    /// The run's profile (its name); the id for an unreadable run.
    pub name: String,
    pub status: String,
    /// `3/10` (epoch of the running seed), `3/10 s2/3` when repeated; empty unless running.
    pub progress: String,
    pub split: String,
    pub head: String,
    /// Epochs planned, `3/10` when it stopped early.
    pub epochs: String,
    pub epochs_planned: usize,
    pub repeat: usize,
    pub duration: i64,
    /// Final AUC per scorer the run used.
    pub auc: BTreeMap<ScorerKind, AucCell>,
    /// The run's scorers, the primary first.
    pub scorers: Vec<ScorerKind>,
    /// `MM-DD HH:MM` (UTC) of creation; empty when unreadable.
    pub date: String,
    pub tags: String,
    pub note: String,
    /// The run's base seed.
    pub seed: u64,
    pub study: Option<StudyRef>,
    /// Why the run cannot be read.
    pub unreadable: Option<String>,
}

fn short_dataset(k: DatasetKind) -> &'static str {
    match k {
        DatasetKind::FashionMnist => "fmnist",
        DatasetKind::Cifar10 => "cifar10",
        DatasetKind::Synthetic => "synth",
        DatasetKind::Folder => "folder",
        DatasetKind::Mvtec => "mvtec",
    }
}

/// `fmnist sneaker→ankle-boot`.
pub fn short_split(c: &Config) -> String {
    format!(
        "{} {}→{}",
        short_dataset(c.data.dataset),
        c.data.normal,
        c.data.anomalous
    )
}

/// The latest evaluation of `k` of a running run's current seed.
fn live_auc(rec: &crate::store::RunRecord, k: ScorerKind) -> Option<f64> {
    let seed = rec
        .seeds
        .iter()
        .rev()
        .find(|sd| sd.status == RunStatus::Running && !sd.epochs.is_empty())
        .or_else(|| rec.seeds.iter().rev().find(|sd| !sd.epochs.is_empty()))?;
    seed.epochs
        .iter()
        .rev()
        .find_map(|m| m.auc.get(&k).copied())
}

impl Row {
    pub fn of(e: &RunEntry) -> Row {
        match e {
            RunEntry::Ok(r) => {
                let rec = &r.record;
                let c = &rec.config;
                let running = r.status == RunStatus::Running;
                let mut auc = BTreeMap::new();
                for k in &c.score.scorers {
                    // Running: the latest evaluation; stopped before any seed finished: the
                    // last one (marked `~` as well, it is not a final result).
                    let live = if running {
                        live_auc(rec, *k)
                    } else {
                        rec.last_evaluation(*k).map(|(v, _)| v)
                    };
                    let cell = match (live, rec.summary.get(k)) {
                        (Some(value), _) => Some(AucCell {
                            value,
                            iqr: None,
                            live: true,
                        }),
                        (None, Some(sm)) => Some(AucCell {
                            value: sm.median,
                            iqr: (sm.n > 1).then_some(sm.q3 - sm.q1),
                            live: false,
                        }),
                        (None, None) => None,
                    };
                    if let Some(cell) = cell {
                        auc.insert(*k, cell);
                    }
                }
                let planned = c.train.epochs;
                let progress = if running {
                    let current = rec
                        .seeds
                        .iter()
                        .rev()
                        .find(|sd| sd.status == RunStatus::Running)
                        .or(rec.seeds.last());
                    let ep = current.map_or(0, |sd| sd.epochs.len());
                    let seed_no = current.map_or(1, |sd| sd.index + 1);
                    if c.run.repeat > 1 {
                        format!("{ep}/{planned} s{seed_no}/{}", c.run.repeat)
                    } else {
                        format!("{ep}/{planned}")
                    }
                } else {
                    String::new()
                };
                let done = rec.epochs_done();
                let created = rec.created.to_string();
                Row {
                    id: rec.id.clone(),
                    name: if rec.profile.is_empty() {
                        rec.id.clone()
                    } else {
                        rec.profile.clone()
                    },
                    status: r.status.to_string(),
                    progress,
                    split: short_split(c),
                    head: c.head.kind.to_string(),
                    epochs: if running || done >= planned {
                        planned.to_string()
                    } else {
                        format!("{done}/{planned}")
                    },
                    epochs_planned: planned,
                    repeat: c.run.repeat,
                    duration: rec.duration_secs(),
                    auc,
                    scorers: c.score.scorers.clone(),
                    date: created
                        .get(5..16)
                        .map(|s| s.replace('T', " "))
                        .unwrap_or_default(),
                    tags: rec.tags.join(" "),
                    note: rec.note.clone(),
                    seed: c.train.seed,
                    study: rec.study.clone(),
                    unreadable: None,
                }
            }
            RunEntry::Unreadable { id, reason, .. } => Row {
                id: id.clone(),
                name: id.clone(),
                status: s::UNREADABLE.into(),
                progress: String::new(),
                split: String::new(),
                head: String::new(),
                epochs: String::new(),
                epochs_planned: 0,
                repeat: 0,
                duration: 0,
                auc: BTreeMap::new(),
                scorers: Vec::new(),
                date: String::new(),
                tags: String::new(),
                note: String::new(),
                seed: 0,
                study: None,
                unreadable: Some(reason.clone()),
            },
        }
    }

    /// The scorer the run ranks by (its first).
    pub fn primary(&self) -> Option<ScorerKind> {
        self.scorers.first().copied()
    }

    /// `running 3/10`.
    pub fn status_text(&self) -> String {
        if self.progress.is_empty() {
            self.status.clone()
        } else {
            format!("{} {}", self.status, self.progress)
        }
    }
}
