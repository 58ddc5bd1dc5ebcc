//! The comparison of marked runs: baseline, series shown, which config keys apply to a run.

pub mod draw;
pub mod overlay;
mod update;

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Config, HeadKind, OptimizerKind, ScorerKind};
use crate::store::LoadedRun;

/// Whether a config key means anything for this config: head parameters for the heads that
/// use them, scorer settings for the scorers in use, momentum for SGD. The comparison shows
/// `–` for the others, so only differences that matter stand out.
pub fn key_applies(c: &Config, key: &str) -> bool {
    let uses = |k: ScorerKind| {
        let sc = &c.score;
        sc.scorers.contains(&k)
            || (sc.scorers.contains(&ScorerKind::Ensemble) && sc.ensemble.contains(&k))
    };
    match key {
        "head.s" | "head.m" => matches!(c.head.kind, HeadKind::Arcface | HeadKind::Cosface),
        "head.easy_margin" => c.head.kind == HeadKind::Arcface,
        "head.alpha" => c.head.kind == HeadKind::L2Softmax,
        "score.lof_k" => uses(ScorerKind::Lof),
        "score.knn_k" => uses(ScorerKind::KnnCosine),
        "score.shrinkage" => uses(ScorerKind::Mahalanobis),
        "score.ensemble" => uses(ScorerKind::Ensemble),
        "train.momentum" => c.train.optimizer == OptimizerKind::Sgd,
        _ => true,
    }
}

/// One series group of the comparison chart: a run's scorer, every seed of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeriesKey {
    /// Index into [`Compare::runs`].
    pub run: usize,
    pub scorer: ScorerKind,
}

/// Marked runs side by side.
#[derive(Clone, Debug)]
pub struct Compare {
    pub runs: Vec<LoadedRun>,
    /// The run the deltas are taken against (index into `runs`).
    pub baseline: usize,
    /// The run under the cursor (←→), which `b` makes the baseline and `e` loads.
    pub focus: usize,
    /// Config keys whose shown values differ: (key, one value per run, `–` where the key
    /// does not apply to the run).
    pub diff: Vec<(String, Vec<String>)>,
    pub scroll: u16,
    /// Every run × scorer, in chart order.
    pub series: Vec<SeriesKey>,
    /// Hidden series, by run id and scorer.
    pub hidden: BTreeSet<(String, ScorerKind)>,
    /// The series under the cursor (↑↓, Space toggles it).
    pub cursor: usize,
    /// The per-epoch metric the chart overlays (`v` switches).
    pub overlay: overlay::Overlay,
}

impl Compare {
    pub fn new(runs: Vec<LoadedRun>) -> Compare {
        let flat: Vec<BTreeMap<String, String>> =
            runs.iter().map(|r| r.record.config.flatten()).collect();
        let mut keys: Vec<String> = flat.iter().flat_map(|m| m.keys().cloned()).collect();
        keys.sort();
        keys.dedup();
        let diff = keys
            .into_iter()
            .filter(|k| k != "description")
            .filter_map(|k| {
                let vals: Vec<String> = flat
                    .iter()
                    .zip(&runs)
                    .map(|(m, r)| match m.get(&k) {
                        Some(v) if key_applies(&r.record.config, &k) => v.clone(),
                        _ => "–".into(),
                    })
                    .collect();
                vals.iter().any(|v| *v != vals[0]).then_some((k, vals))
            })
            .collect();
        let series = runs
            .iter()
            .enumerate()
            .flat_map(|(i, r)| {
                r.record
                    .config
                    .score
                    .scorers
                    .iter()
                    .map(move |k| SeriesKey { run: i, scorer: *k })
            })
            .collect();
        Compare {
            runs,
            baseline: 0,
            focus: 0,
            diff,
            scroll: 0,
            series,
            hidden: BTreeSet::new(),
            cursor: 0,
            overlay: overlay::Overlay::Auc,
        }
    }

    /// Scorers any of the runs used, in a stable order.
    pub fn scorers(&self) -> Vec<ScorerKind> {
        ScorerKind::ALL
            .into_iter()
            .filter(|k| {
                self.runs
                    .iter()
                    .any(|r| r.record.config.score.scorers.contains(k))
            })
            .collect()
    }

    pub fn is_shown(&self, key: SeriesKey) -> bool {
        let id = &self.runs[key.run].record.id;
        !self.hidden.contains(&(id.clone(), key.scorer))
    }

    /// Shows or hides the series under the cursor.
    pub fn toggle(&mut self) {
        let Some(key) = self.series.get(self.cursor).copied() else {
            return;
        };
        let k = (self.runs[key.run].record.id.clone(), key.scorer);
        if !self.hidden.remove(&k) {
            self.hidden.insert(k);
        }
    }

    /// The same comparison over fresh records, keeping baseline, focus, hidden series and
    /// cursors where their runs still are.
    pub(super) fn refreshed(&self, runs: Vec<LoadedRun>) -> Compare {
        let id_at = |i: usize| self.runs.get(i).map(|r| r.record.id.clone());
        let pos = |id: Option<String>, runs: &[LoadedRun]| {
            id.and_then(|id| runs.iter().position(|r| r.record.id == id))
                .unwrap_or(0)
        };
        let baseline = pos(id_at(self.baseline), &runs);
        let focus = pos(id_at(self.focus), &runs);
        let mut c = Compare::new(runs);
        c.baseline = baseline;
        c.focus = focus;
        c.hidden = self.hidden.clone();
        c.scroll = self.scroll;
        c.cursor = self.cursor.min(c.series.len().saturating_sub(1));
        c.overlay = self.overlay;
        c
    }
}
