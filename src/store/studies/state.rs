//! What became of a study's tasks (from its runs in the store) and what its finished runs say,
//! cell by cell.

use std::collections::BTreeMap;

use std::path::PathBuf;

use super::{Cell, Combine, Study, Task, TaskState};
use crate::config::ScorerKind;
use crate::score::{compare_paired, Comparison, Summary};
use crate::store::{LoadedRun, RunStatus, StudyRef};

impl Study {
    /// The study as its runs describe it, for when its file cannot be read: one cell per
    /// cell key the runs name (ordered by their `cell:N` tag, labelled as the runs spell it,
    /// with the first run's config and profile), as many seeds as the runs reach, the first
    /// run's primary scorer.
    pub fn from_runs(name: &str, runs: &[LoadedRun]) -> Study {
        let number = |r: &LoadedRun| {
            r.record
                .tags
                .iter()
                .find_map(|t| t.strip_prefix("cell:")?.parse::<usize>().ok())
                .unwrap_or(usize::MAX)
        };
        let mut firsts: Vec<(usize, &LoadedRun, &StudyRef)> = Vec::new();
        for r in runs {
            let Some(s) = r.record.study.as_ref().filter(|s| s.name == name) else {
                continue;
            };
            if !firsts.iter().any(|(_, _, f)| f.cell_key == s.cell_key) {
                firsts.push((number(r), r, s));
            }
        }
        firsts.sort_by_key(|(n, _, _)| *n);
        let seeds = runs
            .iter()
            .filter_map(|r| r.record.study.as_ref().filter(|s| s.name == name))
            .map(|s| s.seed_index + 1)
            .max()
            .unwrap_or(0);
        let scorer = firsts.first().map_or(ScorerKind::KnnCosine, |(_, r, _)| {
            r.record.config.primary_scorer()
        });
        Study {
            name: name.to_string(),
            description: String::new(),
            source: PathBuf::new(),
            text: String::new(),
            seeds,
            scorer,
            combine: Combine::Cross,
            overrides: Vec::new(),
            reference: None,
            cells: firsts
                .into_iter()
                .enumerate()
                .map(|(index, (_, r, s))| Cell {
                    index,
                    label: s.cell.clone(),
                    profile: r.record.profile.clone(),
                    changes: r.record.changes.clone(),
                    config: r.record.config.clone(),
                    key: s.cell_key.clone(),
                })
                .collect(),
        }
    }

    /// What became of every task, from the study's runs in the store.
    pub fn states(&self, runs: &[LoadedRun]) -> Vec<(Task, TaskState)> {
        let mut by_task: BTreeMap<(String, usize), Vec<&LoadedRun>> = BTreeMap::new();
        for r in runs {
            if let Some(s) = &r.record.study {
                if s.name == self.name {
                    by_task
                        .entry((s.cell_key.clone(), s.seed_index))
                        .or_default()
                        .push(r);
                }
            }
        }
        self.tasks()
            .into_iter()
            .map(|t| {
                let mut rs = by_task
                    .get(&(self.cells[t.cell].key.clone(), t.seed_index))
                    .cloned()
                    .unwrap_or_default();
                // Newest first (ids start with the creation time).
                rs.sort_by(|a, b| b.record.id.cmp(&a.record.id));
                let state = if let Some(done) = rs.iter().find(|r| r.status == RunStatus::Finished)
                {
                    TaskState::Done {
                        run: Box::new((*done).clone()),
                    }
                } else if let Some(live) = rs.iter().find(|r| r.status == RunStatus::Running) {
                    TaskState::Running {
                        id: live.record.id.clone(),
                    }
                } else {
                    TaskState::Pending {
                        last: rs.first().map(|r| (r.record.id.clone(), r.status)),
                    }
                };
                (t, state)
            })
            .collect()
    }
}

/// What a study's finished runs say, cell by cell.
#[derive(Clone, Debug, PartialEq)]
pub struct CellResults {
    pub cell: usize,
    pub label: String,
    /// The label for figures ([`Study::short_labels`]).
    pub short: String,
    /// Tasks finished, running, and in all.
    pub done: usize,
    pub running: usize,
    pub total: usize,
    /// Final AUC per scorer, `(seed, value)` per finished task.
    pub values: BTreeMap<ScorerKind, Vec<(u64, f64)>>,
    pub summary: BTreeMap<ScorerKind, Summary>,
    /// With test-time views: the identity view's AUC alone.
    pub identity_summary: BTreeMap<ScorerKind, Summary>,
    /// Against the first cell, on the study's scorer.
    pub comparison: Option<Comparison>,
    /// Ids of the finished runs, by seed.
    pub runs: Vec<(u64, String)>,
}

impl CellResults {
    /// `summary` from `values`, one per scorer.
    pub fn summarize(&mut self) {
        self.summary = self
            .values
            .iter()
            .filter_map(|(k, v)| {
                let xs: Vec<f64> = v.iter().map(|p| p.1).collect();
                Summary::of(&xs).map(|s| (*k, s))
            })
            .collect();
    }
}

impl Study {
    /// Per-cell results from the task states.
    pub fn results(&self, states: &[(Task, TaskState)]) -> Vec<CellResults> {
        let short = self.short_labels();
        let mut out: Vec<CellResults> = self
            .cells
            .iter()
            .map(|c| CellResults {
                cell: c.index,
                label: c.label.clone(),
                short: short[c.index].clone(),
                done: 0,
                running: 0,
                total: self.seeds,
                values: BTreeMap::new(),
                summary: BTreeMap::new(),
                identity_summary: BTreeMap::new(),
                comparison: None,
                runs: Vec::new(),
            })
            .collect();
        let mut identity: Vec<BTreeMap<ScorerKind, Vec<f64>>> = vec![BTreeMap::new(); out.len()];
        for (t, st) in states {
            let c = &mut out[t.cell];
            match st {
                TaskState::Done { run } => {
                    c.done += 1;
                    let seed = run.record.config.train.seed;
                    c.runs.push((seed, run.record.id.clone()));
                    if let Some(r) = run.record.seeds.first().and_then(|s| s.result.as_ref()) {
                        for (k, v) in &r.auc {
                            c.values.entry(*k).or_default().push((seed, *v));
                        }
                        for (k, v) in &r.identity_auc {
                            identity[t.cell].entry(*k).or_default().push(*v);
                        }
                    }
                }
                TaskState::Running { .. } => c.running += 1,
                TaskState::Pending { .. } => {}
            }
        }
        for (c, ident) in out.iter_mut().zip(identity) {
            c.runs.sort();
            for v in c.values.values_mut() {
                v.sort_by_key(|(s, _)| *s);
            }
            c.summarize();
            c.identity_summary = ident
                .iter()
                .filter_map(|(k, v)| Summary::of(v).map(|s| (*k, s)))
                .collect();
        }
        let base = out
            .first()
            .and_then(|c| c.values.get(&self.scorer))
            .cloned()
            .unwrap_or_default();
        for c in out.iter_mut().skip(1) {
            if let Some(v) = c.values.get(&self.scorer) {
                c.comparison = compare_paired(v, &base);
            }
        }
        out
    }
}

/// A task's final AUC per scorer (views averaged), from its finished run.
pub fn task_auc(run: &LoadedRun) -> BTreeMap<ScorerKind, f64> {
    run.record
        .seeds
        .first()
        .and_then(|s| s.result.as_ref())
        .map(|r| r.auc.clone())
        .unwrap_or_default()
}
