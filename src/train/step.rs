//! One optimiser step on a prepared [`Batch`], as the seed loop and `adalab bench --profile` run
//! it: upload, forward, loss, backward, update, and the step's loss and accuracy recorded on
//! the device ([`Tally`]). Nothing is read back, except the cosines for dynamic AdaCos, whose
//! scale update needs them on the host after every step (the median target angle has no dfdx
//! op).
//!
//! On the CPU with a [`Team`] of two or more threads, the batch is split over the team's ranks
//! ([`split_step`]): each rank runs its images through a replica of the model (the same
//! tensors, so the same gradient ids), BatchNorm reducing its statistics across the ranks; then
//! every rank updates its share of every tensor with the ranks' gradients added in rank order
//! ([`crate::model::optim::RankedUpdate`]). Each rank's loss is its images' mean times their
//! share of the batch, so the gradients add up to the whole batch's.
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use dfdx::prelude::*;

use super::batches::Batch;
use super::tally::{read_back, Tally};
use crate::config::HeadKind;
use crate::model::head::{Head, T2};
use crate::model::net::Model;
use crate::model::ops::{rank_barrier, OpsDevice, Team, T4};
use crate::model::optim::Optimizer;

/// Trains `model` one step on `batch` (images of `shape`) at the optimiser's current learning
/// rate and records the step in `tally`. With dynamic AdaCos it then updates the head's scale;
/// `Err(s)` when the new scale would not be positive and finite (the scale is left as it was).
/// With `team` (CPU only; other devices ignore it) the batch is split over its ranks.
pub fn train_step<D: OpsDevice>(
    dev: &D,
    model: &mut Model<D>,
    opt: &mut Optimizer<D>,
    batch: Batch,
    shape: (usize, usize, usize),
    tally: &mut Tally<D>,
    team: Option<&Team>,
) -> Result<(), f32> {
    let ranks = team.map_or(1, |t| t.ranks().min(batch.len() / MIN_IMAGES_PER_RANK));
    if let (Some(team), true) = (team, ranks > 1) {
        let cpu = (
            (dev as &dyn Any).downcast_ref::<Cpu>(),
            (model as &mut dyn Any).downcast_mut::<Model<Cpu>>(),
            (opt as &mut dyn Any).downcast_mut::<Optimizer<Cpu>>(),
            (tally as &mut dyn Any).downcast_mut::<Tally<Cpu>>(),
        );
        if let (Some(dev), Some(model), Some(opt), Some(tally)) = cpu {
            return split_step(dev, model, opt, batch, shape, tally, (team, ranks));
        }
        // Only the CPU's ops reduce BatchNorm's statistics across ranks.
        return whole_step(dev, model, opt, batch, shape, tally);
    }
    whole_step(dev, model, opt, batch, shape, tally)
}

/// The team a training loop on `D` splits its steps over: on the CPU, the threads of the
/// current rayon pool when it has two or more; none elsewhere.
pub fn training_team<D: OpsDevice>() -> Option<Team> {
    if std::any::TypeId::of::<D>() != std::any::TypeId::of::<Cpu>() {
        return None;
    }
    Team::of_current_pool()
}

/// Images each rank of a split step gets at least (fewer: fewer ranks).
pub const MIN_IMAGES_PER_RANK: usize = 4;

/// [`train_step`] on the whole batch at once.
fn whole_step<D: OpsDevice>(
    dev: &D,
    model: &mut Model<D>,
    opt: &mut Optimizer<D>,
    batch: Batch,
    (c, h, w): (usize, usize, usize),
    tally: &mut Tally<D>,
) -> Result<(), f32> {
    let b = batch.len();
    let classes = model.head.classes;
    let x: T4<D> = dev.tensor_from_vec(batch.x, (b, c, h, w));
    let one_hot: T2<D> = dev.tensor_from_vec(batch.one_hot, (b, classes));
    let emb = model.backbone.forward(x.trace(Gradients::leaky()), true);
    let (logits, cosines) = model.head.logits(emb, &one_hot);
    // Accuracy from the margin-free scores: cosines for cosine heads, logits otherwise.
    let scores = match cosines {
        Some(c) => c,
        None => logits.retaped::<NoneTape>(),
    };
    let loss = Head::<D>::loss(logits, &one_hot);
    let loss_value = loss.retaped::<NoneTape>();
    let mut grads = loss.backward();
    opt.update(model, &mut grads);
    drop(grads);
    tally.record(loss_value, &scores, &one_hot, batch.before, &batch.labels);
    next_scale(model, &scores, &batch.labels)
}

/// With dynamic AdaCos, the head's scale after a step whose scores (cosines) were `scores`;
/// `Err(s)` when the new scale would not be positive and finite (the scale is left as it was).
fn next_scale<D: OpsDevice>(
    model: &mut Model<D>,
    scores: &T2<D>,
    labels: &[usize],
) -> Result<(), f32> {
    if model.head.kind == HeadKind::AdacosDynamic {
        let s = model.head.adacos_next_scale(&read_back(scores), labels);
        if !s.is_finite() || s <= 0.0 {
            return Err(s);
        }
        model.head.scale = s;
    }
    Ok(())
}

/// [`train_step`] with the batch split over `k` ranks of `team`.
fn split_step(
    dev: &Cpu,
    model: &mut Model<Cpu>,
    opt: &mut Optimizer<Cpu>,
    batch: Batch,
    (c, h, w): (usize, usize, usize),
    tally: &mut Tally<Cpu>,
    (team, k): (&Team, usize),
) -> Result<(), f32> {
    let n = batch.len();
    let classes = model.head.classes;
    let pix = c * h * w;
    // Ranks past the first train replicas: the same tensors (gradients land under the same
    // ids); their running statistics, updated alike, are dropped with them.
    let replicas: Vec<Mutex<Model<Cpu>>> = (1..k).map(|_| Mutex::new(model.clone())).collect();
    let update = opt.ranked(&mut *model, k);
    let first = Mutex::new(&mut *model);
    let parts = team.run(k, |r| {
        let (a, b) = (r * n / k, (r + 1) * n / k);
        let nr = b - a;
        let x: T4<Cpu> = dev.tensor_from_vec(batch.x[a * pix..b * pix].to_vec(), (nr, c, h, w));
        let one_hot: T2<Cpu> = dev.tensor_from_vec(
            batch.one_hot[a * classes..b * classes].to_vec(),
            (nr, classes),
        );
        let step = |m: &mut Model<Cpu>| {
            let emb = m.backbone.forward(x.trace(Gradients::leaky()), true);
            let (logits, cosines) = m.head.logits(emb, &one_hot);
            let scores = match cosines {
                Some(c) => c,
                None => logits.retaped::<NoneTape>(),
            };
            let loss = Head::<Cpu>::loss(logits, &one_hot) * (nr as f32 / n as f32);
            let value = loss.array();
            let mut grads = loss.backward();
            // Every rank updates its share of every tensor from all ranks' gradients, which
            // stay alive until every rank is done (a panic waits for the others first).
            update.publish(r, m, &mut grads);
            rank_barrier();
            // SAFETY: every rank published before the barrier and keeps its gradients until
            // the next one; `r` is this rank's own.
            let applied = catch_unwind(AssertUnwindSafe(|| unsafe { update.apply(r, k) }));
            rank_barrier();
            if let Err(p) = applied {
                resume_unwind(p);
            }
            drop(grads);
            (value, scores.as_vec())
        };
        if r == 0 {
            step(&mut first.lock().unwrap_or_else(|e| e.into_inner()))
        } else {
            step(&mut replicas[r - 1].lock().unwrap_or_else(|e| e.into_inner()))
        }
    });
    drop(replicas);
    update.finish(model);
    let loss = parts.iter().fold(0.0f32, |a, p| a + p.0);
    let scores: Vec<f32> = parts.iter().flat_map(|p| p.1.iter().copied()).collect();
    drop(parts);
    let scores: T2<Cpu> = dev.tensor_from_vec(scores, (n, classes));
    let one_hot: T2<Cpu> = dev.tensor_from_vec(batch.one_hot, (n, classes));
    tally.record(
        dev.tensor(loss),
        &scores,
        &one_hot,
        batch.before,
        &batch.labels,
    );
    next_scale(model, &scores, &batch.labels)
}
