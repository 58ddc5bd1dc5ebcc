//! Evaluating a model: embeddings of the normal-train and test images (through each
//! test-time view), scored and combined by [`crate::score`]. Stops at the next pass when
//! cancelled; passes hold as many images as the device takes
//! ([`crate::model::device::eval_chunk`]): on the CPU [`crate::model::memory::EVAL_BATCH`],
//! fewer for large models, so a stop is noticed within about a second; on CUDA what its free
//! memory holds, up to [`EVAL_BATCH_GPU`].
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use super::error::TrainError;
use crate::config::{Config, LabelMode, ScorerKind};
use crate::data::transforms::{expand, TransformTable};
use crate::data::ExperimentSplit;
use crate::model::memory::EVAL_BATCH_GPU;
use crate::model::net::Model;
use crate::model::ops::{OpsDevice, T4};
use crate::score::{self, Evaluation};

/// Embeddings `(rows, dim)` of images `rows` of `x` (eval mode, no tape), row-major, each image
/// seen through `view` (a transform of a table) when given, `chunk` images per forward pass.
/// Checks `cancel` before every pass: `Err(Interrupted)` once it is set.
#[allow(clippy::too_many_arguments)]
pub fn embed<D: OpsDevice>(
    dev: &D,
    model: &mut Model<D>,
    x: &[f32],
    shape: (usize, usize, usize),
    rows: impl Iterator<Item = usize>,
    view: Option<(&TransformTable, usize)>,
    chunk: usize,
    cancel: &AtomicBool,
) -> Result<Vec<f32>, TrainError> {
    let rows: Vec<usize> = rows.collect();
    let mut out = embed_sets(dev, model, shape, &[(x, &rows)], view, chunk, cancel)?;
    Ok(out.pop().unwrap_or_default())
}

/// [`embed`] over several image sets at once (e.g. normal-train and test): the images of all
/// sets go through the same forward passes of `chunk` images (at most [`EVAL_BATCH_GPU`]; full
/// batches across the sets' boundaries); one embedding matrix per set comes back.
pub fn embed_sets<D: OpsDevice>(
    dev: &D,
    model: &mut Model<D>,
    shape: (usize, usize, usize),
    sets: &[(&[f32], &[usize])],
    view: Option<(&TransformTable, usize)>,
    chunk: usize,
    cancel: &AtomicBool,
) -> Result<Vec<Vec<f32>>, TrainError> {
    let (c, h, w) = shape;
    let pix = c * h * w;
    let dim = model.backbone.dim;
    let all: Vec<(usize, usize)> = sets
        .iter()
        .enumerate()
        .flat_map(|(s, (_, rows))| rows.iter().map(move |&r| (s, r)))
        .collect();
    let mut out: Vec<Vec<f32>> = sets
        .iter()
        .map(|(_, rows)| Vec::with_capacity(rows.len() * dim))
        .collect();
    let chunk_len = chunk.clamp(1, EVAL_BATCH_GPU);
    for part in all.chunks(chunk_len) {
        if cancel.load(Ordering::SeqCst) {
            return Err(TrainError::Interrupted);
        }
        // The batch buffer becomes the input tensor without a copy.
        let mut buf = Vec::with_capacity(part.len() * pix);
        for &(s, r) in part {
            let img = &sets[s].0[r * pix..(r + 1) * pix];
            match view {
                None => buf.extend_from_slice(img),
                Some((table, t)) => table.apply_into(t, img, &mut buf),
            }
        }
        let t: T4<D> = dev.tensor_from_vec(buf, (part.len(), c, h, w));
        let emb = model.backbone.forward(t, false).as_vec();
        for (&(s, _), e) in part.iter().zip(emb.chunks_exact(dim)) {
            out[s].extend_from_slice(e);
        }
    }
    Ok(out)
}

/// The embeddings of one evaluation: per test-time view (in the order of
/// `config.score.views`), the normal-train and the test embeddings; both sets go through the
/// same forward passes of `chunk` images ([`crate::model::device::eval_chunk`]).
pub fn embed_views<D: OpsDevice>(
    dev: &D,
    model: &mut Model<D>,
    config: &Config,
    split: &ExperimentSplit,
    chunk: usize,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(usize, usize, usize, usize),
) -> Result<Vec<(Vec<f32>, Vec<f32>)>, TrainError> {
    let views = expand(&config.score.views);
    let table = TransformTable::new(views.clone(), split.shape);
    let test_rows: Vec<usize> = (0..split.test_anomalous.len()).collect();
    let sets: [(&[f32], &[usize]); 2] = [
        (&split.train_x, &split.normal_rows),
        (&split.test_x, &test_rows),
    ];
    let mut out = Vec::with_capacity(views.len());
    let per_view = split.normal_rows.len() + test_rows.len();
    let total = views.len() * per_view;
    progress(1, views.len(), 0, total);
    for v in 0..views.len() {
        let view = (v > 0).then_some((&table, v));
        let mut e = embed_sets(dev, model, split.shape, &sets, view, chunk, cancel)?;
        let test = e.pop().expect("two sets");
        let normal = e.pop().expect("two sets");
        out.push((normal, test));
        progress(
            (v + 2).min(views.len()),
            views.len(),
            (v + 1) * per_view,
            total,
        );
    }
    Ok(out)
}

/// Per test-time view (in the order of `config.score.views`): the normal-train and the test
/// embeddings of one evaluation, as [`embed_views`] returns them.
pub type ViewEmbeddings = Vec<(Vec<f32>, Vec<f32>)>;

/// Embeds (`chunk` images per pass) and scores the test set after `epoch`;
/// `progress(view, views, images, total)` is told when it starts and after each set of images
/// is embedded. (Training calls [`evaluate_keeping`]; this is the loop the tests compare.)
#[cfg(test)]
#[allow(clippy::too_many_arguments)]
pub(super) fn evaluate<D: OpsDevice>(
    dev: &D,
    model: &mut Model<D>,
    config: &Config,
    split: &ExperimentSplit,
    epoch: usize,
    chunk: usize,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(usize, usize, usize, usize),
) -> Result<Evaluation, TrainError> {
    evaluate_keeping(dev, model, config, split, epoch, chunk, cancel, progress).map(|(ev, _)| ev)
}

/// [`evaluate`], also handing back the embeddings it scored (memory only, never stored): the
/// detector of the final evaluation fits on them instead of embedding the same images again
/// ([`super::detector::build`]).
#[allow(clippy::too_many_arguments)]
pub(super) fn evaluate_keeping<D: OpsDevice>(
    dev: &D,
    model: &mut Model<D>,
    config: &Config,
    split: &ExperimentSplit,
    epoch: usize,
    chunk: usize,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(usize, usize, usize, usize),
) -> Result<(Evaluation, ViewEmbeddings), TrainError> {
    let normal_class = split.class_names.len() - 1;
    let class_dir = score::base_scorers(&config.score)
        .contains(&ScorerKind::ClassCosine)
        .then(|| {
            // With class × transform labels, the normal class's identity-transform class.
            let n_t = match config.transforms.labels {
                LabelMode::ClassTransform => expand(&config.transforms.set()).len(),
                _ => 1,
            };
            model.head.class_direction(normal_class * n_t)
        });
    let views = expand(&config.score.views);
    let embedded = embed_views(dev, model, config, split, chunk, cancel, progress)?;
    let dim = model.backbone.dim;
    let class_dir = class_dir.as_deref();
    // The views' scorers are independent: score them in parallel.
    let scored = views
        .par_iter()
        .zip(embedded.par_iter())
        .map(|(t, (normal, test))| {
            score::score_view(&config.score, normal, test, dim, class_dir).map(|s| (t.name(), s))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TrainError::Score { epoch, error })?;
    let mut ev = score::combine_views(&config.score, epoch, scored, &split.test_anomalous)
        .map_err(|error| TrainError::Score { epoch, error })?;
    ev.group_auc = score::group_auc(&ev, &split.test_groups, &split.test_group);
    Ok((ev, embedded))
}
