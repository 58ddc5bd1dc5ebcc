//! Folding a job's events into per-seed results and the summary over seeds.

use std::collections::BTreeMap;

use super::event::{EpochMetrics, Event, Outcome};
use crate::config::ScorerKind;
use crate::score::Summary;

/// What one seed produced.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedResult {
    pub seed: u64,
    pub epochs: Vec<EpochMetrics>,
    /// Final AUC per scorer (from the final evaluation), empty until the seed ends.
    pub auc: BTreeMap<ScorerKind, f64>,
    pub outcome: Option<Outcome>,
}

/// Per-seed results of a job, updated event by event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    pub seeds: Vec<SeedResult>,
    pub outcome: Option<Outcome>,
}

impl Tally {
    pub fn apply(&mut self, ev: &Event) {
        match ev {
            Event::SeedStarted { seed, .. } => self.seeds.push(SeedResult {
                seed: *seed,
                epochs: Vec::new(),
                auc: BTreeMap::new(),
                outcome: None,
            }),
            Event::Epoch(m) => {
                if let Some(s) = self.seeds.last_mut() {
                    s.epochs.push(m.clone());
                }
            }
            Event::SeedFinished {
                outcome,
                evaluation,
                ..
            } => {
                if let Some(s) = self.seeds.last_mut() {
                    s.outcome = Some(outcome.clone());
                    if let Some(ev) = evaluation {
                        s.auc = ev.auc.clone();
                    }
                }
            }
            Event::Finished { outcome } => self.outcome = Some(outcome.clone()),
            _ => {}
        }
    }

    /// Summary over the seeds that finished, per scorer.
    pub fn summary(&self) -> BTreeMap<ScorerKind, Summary> {
        let mut per: BTreeMap<ScorerKind, Vec<f64>> = BTreeMap::new();
        for s in self
            .seeds
            .iter()
            .filter(|s| s.outcome == Some(Outcome::Finished))
        {
            for (k, v) in &s.auc {
                per.entry(*k).or_default().push(*v);
            }
        }
        per.into_iter()
            .filter_map(|(k, v)| Summary::of(&v).map(|s| (k, s)))
            .collect()
    }
}
