//! Folding a job's events into per-seed results (what the final table and the lab show).

use std::collections::BTreeMap;

use crate::config::ScorerKind;
use crate::score::Summary;
use crate::train::{EpochMetrics, Event, Outcome};

/// What one seed produced, as seen from its events.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedTally {
    pub seed: u64,
    pub epochs: Vec<EpochMetrics>,
    /// Final AUC per scorer (from the final evaluation), empty until the seed ends.
    pub auc: BTreeMap<ScorerKind, f64>,
    pub outcome: Option<Outcome>,
}

/// Per-seed results of a job, updated event by event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    /// The seeds the job announced (`Started`), in order.
    pub planned: Vec<u64>,
    pub seeds: Vec<SeedTally>,
    /// Final AUC over the finished seeds, per scorer, as the engine computed it.
    pub summary: BTreeMap<ScorerKind, Summary>,
    /// With test-time views: the identity view's AUC over the finished seeds.
    pub identity_summary: BTreeMap<ScorerKind, Summary>,
    pub outcome: Option<Outcome>,
}

impl Tally {
    pub fn apply(&mut self, ev: &Event) {
        match ev {
            Event::Started { seeds, .. } => self.planned = seeds.clone(),
            Event::SeedStarted { seed, .. } => self.seeds.push(SeedTally {
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
                summary,
                identity_summary,
                ..
            } => {
                if let Some(s) = self.seeds.last_mut() {
                    s.outcome = Some(outcome.clone());
                    if let Some(ev) = evaluation {
                        s.auc = ev.auc.clone();
                    }
                }
                self.summary = summary.clone();
                self.identity_summary = identity_summary.clone();
            }
            Event::Finished { outcome } => self.outcome = Some(outcome.clone()),
            _ => {}
        }
    }
}
