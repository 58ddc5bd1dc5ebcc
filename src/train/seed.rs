//! Training one seed: the epoch loop over (image, transform) batches prepared ahead by
//! [`super::batches`], the optimiser step ([`super::step`]), progress events from the losses and
//! accuracies read back once per window ([`super::tally`]), and the evaluations during and after
//! training.
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::batches::{prefetch, Batches, Plan};
use super::error::TrainError;
use super::evaluate::{evaluate_keeping, ViewEmbeddings};
use super::event::{EpochMetrics, Event, Outcome, PROGRESS_EVERY};
use super::step::{train_step, training_team};
use super::tally::Tally;
use crate::config::{Config, LrSchedule};
use crate::data::ExperimentSplit;
use crate::model::net::Model;
use crate::model::ops::{OpsDevice, Team};
use crate::model::optim::{OptimConfig, Optimizer};
use crate::score::Evaluation;

/// Trains one seed on device `dev` and evaluates it; the heart of adalab. With `detector`
/// (spare normal images for calibration, possibly none) it then builds the seed's detector
/// and sends it in an `Event::DetectorReady`.
pub fn train_on<D: OpsDevice>(
    dev: D,
    config: &Config,
    split: &ExperimentSplit,
    seed: u64,
    detector: Option<&[f32]>,
    cancel: &AtomicBool,
    tx: &Sender<Event>,
) -> (Outcome, Option<Evaluation>) {
    let plan = Plan::new(config, split);
    let mut init_rng = StdRng::seed_from_u64(seed);
    let model = match Model::new(
        &dev,
        &config.model,
        &config.head,
        split.shape,
        plan.classes,
        &mut init_rng,
    ) {
        Ok(m) => m,
        Err(e) => return (TrainError::Model(e).outcome(), None),
    };
    let t = &config.train;
    let opt = Optimizer::new(OptimConfig {
        kind: t.optimizer,
        lr: t.lr,
        weight_decay: t.weight_decay,
        momentum: t.momentum,
        betas: (0.9, 0.999),
        eps: 1e-8,
    });
    let steps_per_epoch = plan.batches_per_epoch();
    let eval_chunk = crate::model::device::eval_chunk(&dev, config, split.shape);
    let team = training_team::<D>();
    let mut run = SeedRun {
        tally: Tally::new(&dev, PROGRESS_EVERY),
        team,
        dev,
        model,
        opt,
        config,
        split,
        cancel,
        tx,
        steps_per_epoch,
        total_steps: (steps_per_epoch * t.epochs).max(1),
        step: 0,
        eval_chunk,
        last_eval: None,
        keep_embeddings: detector.is_some(),
        final_embeddings: None,
    };
    // The batches' RNG: each epoch's order and every image's augmentation, in that order.
    let rng = StdRng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x00AD_A1AB);
    let trained = prefetch(plan, rng, cancel, |batches| {
        (1..=t.epochs).try_for_each(|epoch| run.epoch(epoch, batches))
    });
    if let Err(e) = trained {
        return (e.outcome(), run.last_eval);
    }
    // A stop that came during the last evaluation: the run did not finish.
    if cancel.load(Ordering::SeqCst) {
        return (Outcome::Interrupted, run.last_eval);
    }
    if let (Some(spare), Some(ev)) = (detector, &run.last_eval) {
        let built = super::detector::build(
            &run.dev,
            &mut run.model,
            config,
            split,
            seed,
            ev,
            run.final_embeddings.take(),
            spare,
            cancel,
        );
        match built {
            Ok(d) => {
                let _ = tx.send(Event::DetectorReady {
                    index: seed_index(config, seed),
                    seed,
                    detector: Box::new(d),
                });
            }
            Err(e) => return (e.outcome(), run.last_eval),
        }
    }
    (Outcome::Finished, run.last_eval)
}

/// One seed's training state.
struct SeedRun<'a, D: OpsDevice> {
    dev: D,
    model: Model<D>,
    opt: Optimizer<D>,
    tally: Tally<D>,
    /// The CPU's threads a training step is split over (see [`super::step`]).
    team: Option<Team>,
    config: &'a Config,
    split: &'a ExperimentSplit,
    cancel: &'a AtomicBool,
    tx: &'a Sender<Event>,
    steps_per_epoch: usize,
    total_steps: usize,
    /// Optimiser steps taken.
    step: usize,
    /// Images per evaluation pass on this device.
    eval_chunk: usize,
    last_eval: Option<Evaluation>,
    /// Whether a detector is built after training: it reuses the final evaluation's
    /// embeddings.
    keep_embeddings: bool,
    /// The final evaluation's embeddings, kept when `keep_embeddings`.
    final_embeddings: Option<ViewEmbeddings>,
}

/// The steps since the last progress report.
struct Window {
    started: Instant,
    /// The first step's batch (0-based) and each step's images.
    first: usize,
    sizes: Vec<usize>,
}

impl<D: OpsDevice> SeedRun<'_, D> {
    /// Trains epoch `epoch` on its batches, reports its progress and metrics, and evaluates
    /// when due.
    fn epoch(&mut self, epoch: usize, batches: &Batches) -> Result<(), TrainError> {
        let n_batches = self.steps_per_epoch;
        let started = Instant::now();
        let mut window = Window {
            started,
            first: 0,
            sizes: Vec::with_capacity(PROGRESS_EVERY),
        };
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for bi in 0..n_batches {
            if self.cancel.load(Ordering::SeqCst) {
                return Err(TrainError::Interrupted);
            }
            let Some(batch) = batches.next() else {
                if self.cancel.load(Ordering::SeqCst) {
                    return Err(TrainError::Interrupted);
                }
                return Err(TrainError::Panic(format!(
                    "the batch-preparing thread stopped before epoch {epoch}, batch {}",
                    bi + 1
                )));
            };
            debug_assert_eq!((batch.epoch, batch.index), (epoch, bi));
            window.sizes.push(batch.len());
            self.opt.cfg.lr = lr_at(&self.config.train, self.step, self.total_steps);
            self.step += 1;
            let stepped = train_step(
                &self.dev,
                &mut self.model,
                &mut self.opt,
                batch,
                self.split.shape,
                &mut self.tally,
                self.team.as_ref(),
            );
            if let Err(value) = stepped {
                // A loss that stopped being finite explains the scale: report it first.
                self.read_window(epoch, &window)?;
                return Err(TrainError::NonFiniteScale {
                    value,
                    epoch,
                    batch: bi + 1,
                });
            }
            if (bi + 1) % PROGRESS_EVERY == 0 || bi + 1 == n_batches {
                let (weighted, hits) = self.read_window(epoch, &window)?;
                let images: usize = window.sizes.iter().sum();
                // Added step by step, in order, as when each step's loss was read on its own.
                let window_loss = weighted.iter().fold(0.0f64, |a, l| a + l);
                for l in &weighted {
                    loss_sum += l;
                }
                correct += hits;
                seen += images;
                let secs = window.started.elapsed().as_secs_f32().max(1e-6);
                let n = images.max(1) as f64;
                let _ = self.tx.send(Event::Progress {
                    epoch,
                    batch: bi + 1,
                    batches: n_batches,
                    images_per_sec: images as f32 / secs,
                    loss: (window_loss / n) as f32,
                    accuracy: (hits as f64 / n) as f32,
                });
                window.started = Instant::now();
                window.first = bi + 1;
                window.sizes.clear();
            }
        }
        let seconds = started.elapsed().as_secs_f32();
        let mut metrics = EpochMetrics {
            epoch,
            loss: (loss_sum / seen.max(1) as f64) as f32,
            accuracy: correct as f32 / seen.max(1) as f32,
            scale: self.model.head.scale,
            lr: self.opt.cfg.lr,
            seconds,
            images_per_sec: seen as f32 / seconds.max(1e-6),
            auc: BTreeMap::new(),
        };
        if epoch % self.config.score.eval_every == 0 || epoch == self.config.train.epochs {
            let tx = self.tx;
            let mut told = |view, views, images, total| {
                let _ = tx.send(Event::Evaluating {
                    epoch,
                    view,
                    views,
                    images,
                    total,
                });
            };
            let (ev, embedded) = evaluate_keeping(
                &self.dev,
                &mut self.model,
                self.config,
                self.split,
                epoch,
                self.eval_chunk,
                self.cancel,
                &mut told,
            )?;
            metrics.auc = ev.auc.clone();
            let _ = tx.send(Event::Evaluated {
                epoch,
                auc: ev.auc.clone(),
            });
            self.last_eval = Some(ev);
            if self.keep_embeddings && epoch == self.config.train.epochs {
                self.final_embeddings = Some(embedded);
            }
        }
        let _ = self.tx.send(Event::Epoch(metrics));
        Ok(())
    }

    /// Reads the window's steps back: each step's loss times its images (in `f64`, step by
    /// step, as the epoch's sums add them) and the window's hits; the first loss that is not
    /// finite is an error naming its batch.
    fn read_window(
        &mut self,
        epoch: usize,
        window: &Window,
    ) -> Result<(Vec<f64>, usize), TrainError> {
        let read = self.tally.read();
        if let Some((j, &value)) = read.losses.iter().enumerate().find(|(_, l)| !l.is_finite()) {
            return Err(TrainError::NonFiniteLoss {
                value,
                epoch,
                batch: window.first + j + 1,
                hint: loss_hint(self.model.head.scale),
            });
        }
        let weighted = read
            .losses
            .iter()
            .zip(&window.sizes)
            .map(|(&l, &b)| l as f64 * b as f64)
            .collect();
        let images: usize = window.sizes[..read.losses.len()].iter().sum();
        Ok((weighted, images - read.misses.min(images)))
    }
}

/// Position of `seed` among the job's seeds.
fn seed_index(config: &Config, seed: u64) -> usize {
    config.seeds().iter().position(|&s| s == seed).unwrap_or(0)
}

/// Advice for a loss that stopped being finite: a large logit scale overflows by itself, a
/// moderate one points at the learning rate.
fn loss_hint(scale: f32) -> String {
    if scale > 64.0 {
        format!(" (the logit scale is {scale}; try a smaller head.s or head.alpha)")
    } else {
        " (try a lower train.lr)".into()
    }
}

/// The learning rate of optimiser step `step` (0-based) of `total`.
pub fn lr_at(t: &crate::config::TrainConfig, step: usize, total: usize) -> f32 {
    match t.lr_schedule {
        LrSchedule::Constant => t.lr,
        LrSchedule::Cosine => {
            let progress = step as f32 / total.max(1) as f32;
            let floor = 0.01 * t.lr;
            floor + (t.lr - floor) * 0.5 * (1.0 + (std::f32::consts::PI * progress).cos())
        }
    }
}
