//! The speed of a profile's real work (`adalab bench --profile`): training steps with the
//! profile's net, batch size and transform classes, and the embedding pass of one evaluation
//! (normal-train and test images through every test-time view), as [`super::seed`] and
//! [`super::evaluate`] run them.
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::error::TrainError;
use super::evaluate::embed_views;
use crate::config::{Config, LabelMode};
use crate::data::transforms::{class_count, expand, label, TransformTable};
use crate::data::ExperimentSplit;
use crate::model::head::{one_hot, Head};
use crate::model::net::Model;
use crate::model::ops::{OpsDevice, T4};
use crate::model::optim::{OptimConfig, Optimizer};

/// Training steps before the timed ones (allocator and caches warm up).
const WARMUP_STEPS: usize = 10;

/// What [`bench_recipe`] measured.
#[derive(Clone, Debug)]
pub struct RecipeBench {
    pub batch: usize,
    pub steps: usize,
    /// Training images per second (forward, loss, backward, optimiser step, batch assembly).
    pub train_ips: f64,
    /// Images per second of one evaluation's embedding pass.
    pub embed_ips: f64,
    /// Images one evaluation embeds (normal-train + test, times the views).
    pub embed_images: usize,
    /// Seconds of one whole evaluation's embedding pass.
    pub embed_s: f64,
}

impl RecipeBench {
    pub fn line(&self) -> String {
        format!(
            "batch={} steps={} train_ips={:.0} embed_ips={:.0} embed_images={} embed_s={:.2}",
            self.batch, self.steps, self.train_ips, self.embed_ips, self.embed_images, self.embed_s
        )
    }
}

/// Times `steps` training steps of `config` on `split` (after a warm-up), as the seed loop runs
/// them, then the embedding pass of one evaluation. Runs on the calling thread's rayon pool.
pub fn bench_recipe<D: OpsDevice>(
    dev: D,
    config: &Config,
    split: &ExperimentSplit,
    steps: usize,
    cancel: &AtomicBool,
) -> Result<RecipeBench, TrainError> {
    let mode = config.transforms.labels;
    let table = (mode != LabelMode::None)
        .then(|| TransformTable::new(expand(&config.transforms.set()), split.shape));
    let n_t = table.as_ref().map_or(1, TransformTable::len);
    let classes = class_count(mode, split.class_names.len(), n_t);
    let mut rng = StdRng::seed_from_u64(config.train.seed);
    let mut model = Model::new(
        &dev,
        &config.model,
        &config.head,
        split.shape,
        classes,
        &mut rng,
    )?;
    let t = &config.train;
    let mut opt = Optimizer::new(OptimConfig {
        kind: t.optimizer,
        lr: t.lr,
        weight_decay: t.weight_decay,
        momentum: t.momentum,
        betas: (0.9, 0.999),
        eps: 1e-8,
    });
    let (c, h, w) = split.shape;
    let pix = c * h * w;
    let n = split.train_y.len();
    let bs = t.batch_size.min(n).max(2);
    let mut batch_x = Vec::with_capacity(bs * pix);
    let mut step = |model: &mut Model<D>, rng: &mut StdRng| {
        batch_x.clear();
        let mut labels = Vec::with_capacity(bs);
        for _ in 0..bs {
            let r = rng.gen_range(0..n);
            let k = rng.gen_range(0..n_t);
            let img = &split.train_x[r * pix..(r + 1) * pix];
            match &table {
                None => batch_x.extend_from_slice(img),
                Some(tt) => tt.apply_into(k, img, &mut batch_x),
            }
            labels.push(label(mode, split.train_y[r], k, n_t));
        }
        let x: T4<D> = dev.tensor_from_vec(batch_x.clone(), (bs, c, h, w));
        let oh = one_hot(&dev, &labels, classes);
        let emb = model.backbone.forward(x.trace(Gradients::leaky()), true);
        let (logits, cosines) = model.head.logits(emb, &oh);
        // The seed loop reads the scores (accuracy) and the loss every step.
        let scores = match &cosines {
            Some(c) => c.as_vec(),
            None => logits.retaped::<NoneTape>().as_vec(),
        };
        let loss = Head::<D>::loss(logits, &oh);
        std::hint::black_box((loss.as_vec(), scores));
        let grads = loss.backward();
        opt.update(model, &grads);
    };
    for _ in 0..WARMUP_STEPS {
        step(&mut model, &mut rng);
    }
    let t0 = Instant::now();
    for _ in 0..steps {
        step(&mut model, &mut rng);
    }
    let train_ips = (steps * bs) as f64 / t0.elapsed().as_secs_f64();

    let views = expand(&config.score.views).len();
    let embed_images = views * (split.normal_rows.len() + split.test_anomalous.len());
    let t1 = Instant::now();
    let e = embed_views(
        &dev,
        &mut model,
        config,
        split,
        cancel,
        &mut |_, _, _, _| {},
    )?;
    let embed_s = t1.elapsed().as_secs_f64();
    std::hint::black_box(e);
    Ok(RecipeBench {
        batch: bs,
        steps,
        train_ips,
        embed_ips: embed_images as f64 / embed_s,
        embed_images,
        embed_s,
    })
}
