//! One optimiser step on a prepared [`Batch`], as the seed loop and `adalab bench --profile` run
//! it: upload, forward, loss, backward, update, and the step's loss and accuracy recorded on
//! the device ([`Tally`]). Nothing is read back, except the cosines for dynamic AdaCos, whose
//! scale update needs them on the host after every step (the median target angle has no dfdx
//! op).
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use dfdx::prelude::*;

use super::batches::Batch;
use super::tally::{read_back, Tally};
use crate::config::HeadKind;
use crate::model::head::{Head, T2};
use crate::model::net::Model;
use crate::model::ops::{OpsDevice, T4};
use crate::model::optim::Optimizer;

/// Trains `model` one step on `batch` (images of `shape`) at the optimiser's current learning
/// rate and records the step in `tally`. With dynamic AdaCos it then updates the head's scale;
/// `Err(s)` when the new scale would not be positive and finite (the scale is left as it was).
pub fn train_step<D: OpsDevice>(
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
    let grads = loss.backward();
    opt.update(model, &grads);
    drop(grads);
    tally.record(loss_value, &scores, &one_hot, batch.before, &batch.labels);
    if model.head.kind == HeadKind::AdacosDynamic {
        let s = model
            .head
            .adacos_next_scale(&read_back(&scores), &batch.labels);
        if !s.is_finite() || s <= 0.0 {
            return Err(s);
        }
        model.head.scale = s;
    }
    Ok(())
}
