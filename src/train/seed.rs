//! Training one seed: the epoch loop over (image, transform) batches, the optimiser step, the
//! dynamic AdaCos update, progress events, and the evaluations during and after training.
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::Instant;

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::error::TrainError;
use super::evaluate::evaluate;
use super::event::{EpochMetrics, Event, Outcome, PROGRESS_EVERY};
use crate::config::{Config, HeadKind, LabelMode, LrSchedule, Sampling};
use crate::data::transforms::{class_count, epoch_samples, expand, label, TransformTable};
use crate::data::ExperimentSplit;
use crate::model::head::{one_hot, Head};
use crate::model::net::Model;
use crate::model::ops::{OpsDevice, T4};
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
    // Self-supervised transform classes, when configured: which transforms, how labelled.
    let mode = config.transforms.labels;
    let table = (mode != LabelMode::None)
        .then(|| TransformTable::new(expand(&config.transforms.set()), split.shape));
    let n_t = table.as_ref().map_or(1, TransformTable::len);
    let classes = class_count(mode, split.class_names.len(), n_t);
    let mut init_rng = StdRng::seed_from_u64(seed);
    let mut model = match Model::new(
        &dev,
        &config.model,
        &config.head,
        split.shape,
        classes,
        &mut init_rng,
    ) {
        Ok(m) => m,
        Err(e) => return (TrainError::Model(e).outcome(), None),
    };
    let t = &config.train;
    let mut opt = Optimizer::new(OptimConfig {
        kind: t.optimizer,
        lr: t.lr,
        weight_decay: t.weight_decay,
        momentum: t.momentum,
        betas: (0.9, 0.999),
        eps: 1e-8,
    });
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x00AD_A1AB);
    let (c, h, w) = split.shape;
    let pix = c * h * w;
    let n = split.train_y.len();
    let bs = t.batch_size.min(n);
    let mut order: Vec<usize> = (0..n).collect();
    let mut last_eval: Option<Evaluation> = None;
    let mut batch_x = Vec::with_capacity(bs * pix);
    let mut augmented = Vec::with_capacity(pix);
    let per_epoch = match (mode, config.transforms.sample) {
        (LabelMode::None, _) | (_, Sampling::Random) => n,
        (_, Sampling::All) => n * n_t,
    };
    let steps_per_epoch = (per_epoch / bs) + usize::from(per_epoch % bs >= 2);
    let total_steps = (steps_per_epoch * t.epochs).max(1);
    let mut step = 0usize;

    for epoch in 1..=t.epochs {
        // (row, transform) pairs in the order this epoch visits them.
        let samples: Vec<(usize, usize)> = if mode == LabelMode::None {
            order.shuffle(&mut rng);
            order.iter().map(|&r| (r, 0)).collect()
        } else {
            epoch_samples(n, n_t, config.transforms.sample, &mut rng)
        };
        // Drop a last batch of one image: BatchNorm cannot normalise it.
        let batches: Vec<&[(usize, usize)]> = samples.chunks(bs).filter(|b| b.len() >= 2).collect();
        let n_batches = batches.len();
        let started = Instant::now();
        let mut window_start = Instant::now();
        let mut window_images = 0usize;
        let (mut window_loss, mut window_correct) = (0.0f64, 0usize);
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for (bi, rows) in batches.iter().enumerate() {
            if cancel.load(Ordering::SeqCst) {
                return (Outcome::Interrupted, last_eval);
            }
            batch_x.clear();
            for &(r, k) in rows.iter() {
                let img = &split.train_x[r * pix..(r + 1) * pix];
                match &table {
                    None => augment_into(&mut batch_x, img, split.shape, &t.augment, &mut rng),
                    Some(tt) => {
                        augmented.clear();
                        augment_into(&mut augmented, img, split.shape, &t.augment, &mut rng);
                        tt.apply_into(k, &augmented, &mut batch_x);
                    }
                }
            }
            let labels: Vec<usize> = rows
                .iter()
                .map(|&(r, k)| label(mode, split.train_y[r], k, n_t))
                .collect();
            let b = rows.len();
            let x: T4<D> = dev.tensor_from_vec(batch_x.clone(), (b, c, h, w));
            let oh = one_hot(&dev, &labels, classes);
            let emb = model.backbone.forward(x.trace(Gradients::leaky()), true);
            let (logits, cosines) = model.head.logits(emb, &oh);
            // Accuracy from the margin-free scores: cosines for cosine heads, logits otherwise.
            let score_vals = match &cosines {
                Some(c) => c.as_vec(),
                None => logits.retaped::<NoneTape>().as_vec(),
            };
            let loss = Head::<D>::loss(logits, &oh);
            let loss_val = loss.as_vec()[0];
            if !loss_val.is_finite() {
                let err = TrainError::NonFiniteLoss {
                    value: loss_val,
                    epoch,
                    batch: bi + 1,
                    hint: loss_hint(model.head.scale),
                };
                return (err.outcome(), last_eval);
            }
            let grads = loss.backward();
            opt.cfg.lr = lr_at(t, step, total_steps);
            step += 1;
            opt.update(&mut model, &grads);
            drop(grads);

            if model.head.kind == HeadKind::AdacosDynamic {
                let s = model.head.adacos_next_scale(&score_vals, &labels);
                if !s.is_finite() || s <= 0.0 {
                    let err = TrainError::NonFiniteScale {
                        value: s,
                        epoch,
                        batch: bi + 1,
                    };
                    return (err.outcome(), last_eval);
                }
                model.head.scale = s;
            }
            let hits = labels
                .iter()
                .enumerate()
                .filter(|(i, &y)| argmax(&score_vals[i * classes..(i + 1) * classes]) == y)
                .count();
            loss_sum += loss_val as f64 * b as f64;
            seen += b;
            correct += hits;
            window_images += b;
            window_loss += loss_val as f64 * b as f64;
            window_correct += hits;
            if (bi + 1) % PROGRESS_EVERY == 0 || bi + 1 == n_batches {
                let secs = window_start.elapsed().as_secs_f32().max(1e-6);
                let n = window_images.max(1) as f64;
                let _ = tx.send(Event::Progress {
                    epoch,
                    batch: bi + 1,
                    batches: n_batches,
                    images_per_sec: window_images as f32 / secs,
                    loss: (window_loss / n) as f32,
                    accuracy: (window_correct as f64 / n) as f32,
                });
                window_start = Instant::now();
                window_images = 0;
                window_loss = 0.0;
                window_correct = 0;
            }
        }
        let seconds = started.elapsed().as_secs_f32();
        let mut metrics = EpochMetrics {
            epoch,
            loss: (loss_sum / seen.max(1) as f64) as f32,
            accuracy: correct as f32 / seen.max(1) as f32,
            scale: model.head.scale,
            lr: opt.cfg.lr,
            seconds,
            images_per_sec: seen as f32 / seconds.max(1e-6),
            auc: BTreeMap::new(),
        };
        if epoch % config.score.eval_every == 0 || epoch == t.epochs {
            let mut told = |view, views, images, total| {
                let _ = tx.send(Event::Evaluating {
                    epoch,
                    view,
                    views,
                    images,
                    total,
                });
            };
            match evaluate(&dev, &mut model, config, split, epoch, cancel, &mut told) {
                Ok(ev) => {
                    metrics.auc = ev.auc.clone();
                    let _ = tx.send(Event::Evaluated {
                        epoch,
                        auc: ev.auc.clone(),
                    });
                    last_eval = Some(ev);
                }
                Err(e) => return (e.outcome(), last_eval),
            }
        }
        let _ = tx.send(Event::Epoch(metrics));
    }
    // A stop that came during the last evaluation: the run did not finish.
    if cancel.load(Ordering::SeqCst) {
        return (Outcome::Interrupted, last_eval);
    }
    if let (Some(spare), Some(ev)) = (detector, &last_eval) {
        let built =
            super::detector::build(&dev, &mut model, config, split, seed, ev, spare, cancel);
        match built {
            Ok(d) => {
                let _ = tx.send(Event::DetectorReady {
                    index: seed_index(config, seed),
                    seed,
                    detector: Box::new(d),
                });
            }
            Err(TrainError::Interrupted) => return (Outcome::Interrupted, last_eval),
            Err(e) => return (e.outcome(), last_eval),
        }
    }
    (Outcome::Finished, last_eval)
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

fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

/// Appends `img` to `out`, randomly shifted (zero fill) and flipped as configured.
fn augment_into(
    out: &mut Vec<f32>,
    img: &[f32],
    (c, h, w): (usize, usize, usize),
    aug: &crate::config::AugmentConfig,
    rng: &mut StdRng,
) {
    if aug.shift == 0 && !aug.flip {
        out.extend_from_slice(img);
        return;
    }
    let s = aug.shift as i64;
    let (dy, dx) = if s > 0 {
        (rng.gen_range(-s..=s), rng.gen_range(-s..=s))
    } else {
        (0, 0)
    };
    let flip = aug.flip && rng.gen_bool(0.5);
    let start = out.len();
    out.resize(start + c * h * w, 0.0);
    let dst = &mut out[start..];
    for ch in 0..c {
        for y in 0..h as i64 {
            let sy = y - dy;
            if sy < 0 || sy >= h as i64 {
                continue;
            }
            for x in 0..w as i64 {
                let mut sx = x - dx;
                if flip {
                    sx = w as i64 - 1 - sx;
                }
                if sx < 0 || sx >= w as i64 {
                    continue;
                }
                dst[(ch * h + y as usize) * w + x as usize] =
                    img[(ch * h + sy as usize) * w + sx as usize];
            }
        }
    }
}
