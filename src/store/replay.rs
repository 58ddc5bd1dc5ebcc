//! The inverse of [`RunWriter`](super::RunWriter): a stored run (its `run.toml`, and the
//! per-batch points of `metrics.csv` for the curve) replayed as the events it was written
//! from, each with the time it happened (seconds after the run was created). A front end
//! that folds them shows what it would have shown had it watched the job itself.
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::collections::BTreeMap;

use super::metrics::BatchPoint;
use super::record::{RunStatus, SeedRecord};
use super::LoadedRun;
use crate::score::Evaluation;
use crate::train::{EpochMetrics, Event, Outcome};

/// One replayed event and when it happened, in seconds after the run was created.
#[derive(Clone, Debug, PartialEq)]
pub struct Replayed {
    pub secs: f64,
    pub event: Event,
}

/// The events of `run`, in order: `Started`, `DataReady`, per seed `SeedStarted`, its
/// `Progress` points and `Epoch`s interleaved by epoch, `SeedFinished` once the seed ended,
/// and `Finished` once the run did. `points` are the run's `metrics.csv` rows (any order of
/// seeds; in order within one).
pub fn events(run: &LoadedRun, points: &[BatchPoint]) -> Vec<Replayed> {
    let rec = &run.record;
    let mut out = Vec::new();
    let mut push = |secs: f64, event: Event| out.push(Replayed { secs, event });
    let seeds = if rec.planned_seeds.is_empty() {
        rec.config.seeds()
    } else {
        rec.planned_seeds.clone()
    };
    push(
        0.0,
        Event::Started {
            config: Box::new(rec.config.clone()),
            seeds,
            device: rec.device.clone(),
            threads: rec.threads,
        },
    );
    if let Some(d) = rec.data {
        push(
            0.0,
            Event::DataReady {
                train: d.train,
                normal_train: d.normal_train,
                test: d.test,
                classes: d.classes,
                test_anomalous: d.test_anomalous,
            },
        );
    }
    let ended = run.status != RunStatus::Running;
    let mut seeds: Vec<&SeedRecord> = rec.seeds.iter().collect();
    seeds.sort_by_key(|s| s.index);
    let mut last = 0.0;
    for sd in seeds {
        let pts: Vec<&BatchPoint> = points.iter().filter(|p| p.seed == sd.index).collect();
        let start = pts.first().map_or(last, |p| p.ms as f64 / 1000.0);
        push(
            start,
            Event::SeedStarted {
                index: sd.index,
                seed: sd.seed,
            },
        );
        let mut epochs: Vec<&EpochMetrics> = sd.epochs.iter().collect();
        epochs.sort_by_key(|m| m.epoch);
        let mut next = 0;
        let mut replay = |push: &mut dyn FnMut(f64, Event), upto: usize, last: &mut f64| {
            while next < pts.len() && pts[next].epoch <= upto {
                let p = pts[next];
                *last = p.ms as f64 / 1000.0;
                push(
                    *last,
                    Event::Progress {
                        epoch: p.epoch,
                        batch: p.batch,
                        batches: p.batches,
                        images_per_sec: p.images_per_sec,
                        loss: p.loss,
                        accuracy: p.accuracy,
                    },
                );
                next += 1;
            }
        };
        for m in epochs {
            replay(&mut push, m.epoch, &mut last);
            push(last, Event::Epoch(m.clone()));
        }
        replay(&mut push, usize::MAX, &mut last);
        let outcome = match sd.status {
            RunStatus::Running if !ended => None,
            RunStatus::Running | RunStatus::Interrupted => Some(Outcome::Interrupted),
            RunStatus::Finished => Some(Outcome::Finished),
            RunStatus::Failed => Some(Outcome::Failed {
                reason: sd.reason.clone().unwrap_or_default(),
            }),
        };
        if let Some(outcome) = outcome {
            let evaluation = sd.result.as_ref().map(|r| {
                Box::new(Evaluation {
                    epoch: r.epoch,
                    auc: r.auc.clone(),
                    average_precision: r.average_precision.clone(),
                    roc: BTreeMap::new(),
                    labels: Vec::new(),
                    scores: BTreeMap::new(),
                    identity_auc: r.identity_auc.clone(),
                    view_auc: r.view_auc.clone(),
                    group_auc: r.group_auc.clone(),
                })
            });
            push(
                last,
                Event::SeedFinished {
                    index: sd.index,
                    seed: sd.seed,
                    outcome,
                    evaluation,
                    summary: rec.summary.clone(),
                    identity_summary: rec.identity_summary.clone(),
                },
            );
        }
    }
    if ended {
        let outcome = match run.status {
            RunStatus::Finished => Outcome::Finished,
            RunStatus::Failed => Outcome::Failed {
                reason: rec.reason.clone().unwrap_or_default(),
            },
            _ => Outcome::Interrupted,
        };
        let end = rec.finished.map_or(last, |f| (f.0 - rec.created.0) as f64);
        push(end, Event::Finished { outcome });
    }
    out
}
