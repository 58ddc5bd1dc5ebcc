//! Studies in the lab: the runs of each study grouped into its cells, the per-cell results the
//! Runs table and the Study view show, and the Study view's state.
//!
//! A study's cells come from its file as last run (`<home>/studies/<name>/study.toml`), else
//! from the study search path, else — when neither can be read — from the cells its runs name
//! in their [`crate::store::StudyRef`]s, so a study is always one row however it was started.
//! Results are the engine's own ([`Study::results`]: done/running per task, the newest
//! finished run per task, the comparison with the first cell).

pub mod draw;
mod update;

use std::path::PathBuf;

use crate::config::ScorerKind;
use crate::score::Summary;
use crate::store::studies::{CellResults, Study};
use crate::store::{LoadedRun, Store};

/// One cell of a study as the lab shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct CellGroup {
    /// `head.kind=arcface`, as the study file spells the cell.
    pub label: String,
    /// The value alone when one key varies (`arcface`).
    pub short: String,
    /// The cell's config key (runs name it in their study reference).
    pub key: String,
    /// Every run of the cell (indices into the Runs rows), by seed, newest first per seed.
    pub rows: Vec<usize>,
    pub result: CellResults,
}

/// One study: its cells and what became of them.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyGroup {
    /// The study's name; `name · key=value …` for a variant run with `--set` overrides.
    pub name: String,
    pub description: String,
    /// The study file the cells come from.
    pub source: Option<PathBuf>,
    /// Why no study file could be read (the cells then come from the runs).
    pub error: Option<String>,
    /// The scorer the study compares cells on.
    pub scorer: ScorerKind,
    pub seeds: usize,
    pub cells: Vec<CellGroup>,
    /// Runs of the study that belong to none of its current cells (an edited grid).
    pub other: Vec<usize>,
    pub done: usize,
    pub running: usize,
    pub total: usize,
}

impl StudyGroup {
    /// Groups the runs (`(row index, run)`) of one variant of a study (the `--set`
    /// overrides it was run with), reading its file from `store`. A variant is named
    /// `seed-fashion · train.epochs=2`.
    pub fn build(
        name: &str,
        overrides: &[String],
        members: &[(usize, &LoadedRun)],
        store: Option<&Store>,
    ) -> Self {
        let mut members: Vec<(usize, &LoadedRun)> = members.to_vec();
        // By seed, newest first per seed (ids start with the creation time).
        members.sort_by(|(_, a), (_, b)| {
            seed_index(a)
                .cmp(&seed_index(b))
                .then_with(|| b.record.id.cmp(&a.record.id))
        });
        let loaded = store.map(|st| {
            load(st, name).and_then(|s| s.with_overrides(overrides).map_err(|e| e.to_string()))
        });
        // Without a readable study file the cells come from the runs themselves.
        let from_runs = || {
            let runs: Vec<LoadedRun> = members.iter().map(|(_, r)| (*r).clone()).collect();
            let mut study = Study::from_runs(name, &runs);
            study.overrides = overrides.to_vec();
            study
        };
        match loaded {
            Some(Ok(study)) => from_study(study, &members, None),
            Some(Err(e)) => from_study(from_runs(), &members, Some(e)),
            None => from_study(from_runs(), &members, None),
        }
    }

    /// Every run of the study, cell by cell, then the others.
    pub fn all_rows(&self) -> impl Iterator<Item = usize> + '_ {
        self.cells
            .iter()
            .flat_map(|c| c.rows.iter().copied())
            .chain(self.other.iter().copied())
    }

    /// The cell whose median on `scorer` is highest.
    pub fn best_cell(&self, scorer: ScorerKind) -> Option<(usize, &Summary)> {
        self.cells
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.result.summary.get(&scorer).map(|s| (i, s)))
            .max_by(|a, b| a.1.median.total_cmp(&b.1.median))
    }
}

fn seed_index(r: &LoadedRun) -> usize {
    r.record.study.as_ref().map_or(0, |s| s.seed_index)
}

fn cell_key(r: &LoadedRun) -> &str {
    r.record.study.as_ref().map_or("", |s| s.cell_key.as_str())
}

/// The study's file as last run, else the one on the search path.
fn load(st: &Store, name: &str) -> Result<Study, String> {
    let kept = st
        .study_dir(name)
        .map_err(|e| e.to_string())?
        .join("study.toml");
    if kept.is_file() {
        st.load_study_file(&kept, name).map_err(|e| e.to_string())
    } else {
        st.load_study(name).map_err(|e| e.to_string())
    }
}

/// The study's cells and their results ([`Study::results`]); `error` says why its file could
/// not be read (the study then comes from its runs, [`Study::from_runs`]).
fn from_study(study: Study, members: &[(usize, &LoadedRun)], error: Option<String>) -> StudyGroup {
    let runs: Vec<LoadedRun> = members.iter().map(|(_, r)| (*r).clone()).collect();
    let states = study.states(&runs);
    let results = study.results(&states);
    let short = study.short_labels();
    let mut cells: Vec<CellGroup> = study
        .cells
        .iter()
        .zip(results)
        .map(|(c, result)| CellGroup {
            label: c.label.clone(),
            short: short.get(c.index).cloned().unwrap_or_default(),
            key: c.key.clone(),
            rows: Vec::new(),
            result,
        })
        .collect();
    let mut other = Vec::new();
    for (row, r) in members {
        match cells.iter_mut().find(|c| c.key == cell_key(r)) {
            Some(c) => c.rows.push(*row),
            None => other.push(*row),
        }
    }
    let (done, running, total) = totals(&cells);
    StudyGroup {
        name: study.title(),
        description: study.description.clone(),
        source: (!study.source.as_os_str().is_empty()).then(|| study.source.clone()),
        error,
        scorer: study.scorer,
        seeds: study.seeds,
        cells,
        other,
        done,
        running,
        total,
    }
}

fn totals(cells: &[CellGroup]) -> (usize, usize, usize) {
    cells.iter().fold((0, 0, 0), |(d, r, t), c| {
        (d + c.result.done, r + c.result.running, t + c.result.total)
    })
}

/// The Study view: one study's cells, one of them selected, its runs listed on Enter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StudyView {
    pub name: String,
    /// The selected cell.
    pub cursor: usize,
    /// The selected cell's runs are listed, with this one selected.
    pub list: Option<usize>,
}

impl StudyView {
    pub fn new(name: impl Into<String>, cell: usize) -> StudyView {
        StudyView {
            name: name.into(),
            cursor: cell,
            list: None,
        }
    }

    /// Keeps the cursors inside the study as it is now (cells and runs come and go).
    pub fn clamp(&mut self, group: Option<&StudyGroup>) {
        let Some(g) = group else {
            self.cursor = 0;
            self.list = None;
            return;
        };
        self.cursor = self.cursor.min(g.cells.len().saturating_sub(1));
        let n = g.cells.get(self.cursor).map_or(0, |c| c.rows.len());
        if let Some(l) = self.list {
            self.list = (n > 0).then(|| l.min(n - 1));
        }
    }
}
