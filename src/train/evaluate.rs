//! Evaluating a model: embeddings of the normal-train and test images (through each
//! test-time view), scored and combined by [`crate::score`]. Stops at the next pass when
//! cancelled; passes hold [`EVAL_BATCH`] images, fewer for large models
//! ([`crate::model::memory::eval_chunk`]), so a stop is noticed within about a second.
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::sync::atomic::{AtomicBool, Ordering};

use super::error::TrainError;
use crate::config::{Config, LabelMode, ScorerKind};
use crate::data::transforms::{expand, TransformTable};
use crate::data::ExperimentSplit;
use crate::model::memory::EVAL_BATCH;
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
    let (c, h, w) = shape;
    let pix = c * h * w;
    let rows: Vec<usize> = rows.collect();
    let mut out = Vec::with_capacity(rows.len() * model.backbone.dim);
    let chunk_len = chunk.clamp(1, EVAL_BATCH);
    let mut buf = Vec::with_capacity(chunk_len * pix);
    for chunk in rows.chunks(chunk_len) {
        if cancel.load(Ordering::SeqCst) {
            return Err(TrainError::Interrupted);
        }
        buf.clear();
        for &r in chunk {
            let img = &x[r * pix..(r + 1) * pix];
            match view {
                None => buf.extend_from_slice(img),
                Some((table, t)) => table.apply_into(t, img, &mut buf),
            }
        }
        let t: T4<D> = dev.tensor_from_vec(buf.clone(), (chunk.len(), c, h, w));
        out.extend(model.backbone.forward(t, false).as_vec());
    }
    Ok(out)
}

/// Embeds and scores the test set after `epoch`; `progress(view, views, images, total)` is
/// told when it starts and after each set of images is embedded.
pub(super) fn evaluate<D: OpsDevice>(
    dev: &D,
    model: &mut Model<D>,
    config: &Config,
    split: &ExperimentSplit,
    epoch: usize,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(usize, usize, usize, usize),
) -> Result<Evaluation, TrainError> {
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
    let chunk = crate::model::memory::eval_chunk(config, split.shape);
    let views = expand(&config.score.views);
    let table = TransformTable::new(views.clone(), split.shape);
    let n_test = split.test_anomalous.len();
    let mut scored = Vec::with_capacity(views.len());
    let n_normal = split.normal_rows.len();
    let total = views.len() * (n_normal + n_test);
    progress(1, views.len(), 0, total);
    for (v, t) in views.iter().enumerate() {
        let view = (v > 0).then_some((&table, v));
        let before = v * (n_normal + n_test);
        let normal = embed(
            dev,
            model,
            &split.train_x,
            split.shape,
            split.normal_rows.iter().copied(),
            view,
            chunk,
            cancel,
        )?;
        progress(v + 1, views.len(), before + n_normal, total);
        let test = embed(
            dev,
            model,
            &split.test_x,
            split.shape,
            0..n_test,
            view,
            chunk,
            cancel,
        )?;
        let s = score::score_view(
            &config.score,
            &normal,
            &test,
            model.backbone.dim,
            class_dir.as_deref(),
        )
        .map_err(|error| TrainError::Score { epoch, error })?;
        progress(
            (v + 2).min(views.len()),
            views.len(),
            before + n_normal + n_test,
            total,
        );
        scored.push((t.name(), s));
    }
    let mut ev = score::combine_views(&config.score, epoch, scored, &split.test_anomalous)
        .map_err(|error| TrainError::Score { epoch, error })?;
    ev.group_auc = score::group_auc(&ev, &split.test_groups, &split.test_group);
    Ok(ev)
}
