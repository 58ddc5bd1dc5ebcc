//! The speed of a profile's real work (`adalab bench --profile`): training steps with the
//! profile's net, batch size and transform classes, and the embedding pass of one evaluation
//! (normal-train and test images through every test-time view), as [`super::seed`] and
//! [`super::evaluate`] run them.
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::batches::{prefetch, Batches, Plan};
use super::error::TrainError;
use super::evaluate::embed_views;
use super::event::PROGRESS_EVERY;
use super::step::{train_step, training_team};
use super::tally::Tally;
use crate::config::Config;
use crate::data::transforms::expand;
use crate::data::ExperimentSplit;
use crate::model::net::Model;
use crate::model::ops::OpsDevice;
use crate::model::optim::{OptimConfig, Optimizer};

/// Training steps before the timed ones (allocator and caches warm up).
const WARMUP_STEPS: usize = 10;

/// What [`bench_recipe`] measured.
#[derive(Clone, Debug)]
pub struct RecipeBench {
    pub batch: usize,
    pub steps: usize,
    /// Training images per second (forward, loss, backward, optimiser step; the batches are
    /// assembled by the prefetch thread meanwhile).
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
/// them (batches prepared ahead by [`super::batches`], results read back every
/// [`PROGRESS_EVERY`] steps), then the embedding pass of one evaluation. Runs on the calling
/// thread's rayon pool.
pub fn bench_recipe<D: OpsDevice>(
    dev: D,
    config: &Config,
    split: &ExperimentSplit,
    steps: usize,
    cancel: &AtomicBool,
) -> Result<RecipeBench, TrainError> {
    let mut plan = Plan::new(config, split);
    let per_epoch = plan.batches_per_epoch();
    if per_epoch == 0 {
        return Err(TrainError::Data(crate::data::DataError::Split(format!(
            "{} training images make no batch of 2",
            split.train_y.len()
        ))));
    }
    plan.epochs = (WARMUP_STEPS + steps).div_ceil(per_epoch);
    let mut rng = StdRng::seed_from_u64(config.train.seed);
    let mut model = Model::new(
        &dev,
        &config.model,
        &config.head,
        split.shape,
        plan.classes,
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
    let mut tally = Tally::new(&dev, PROGRESS_EVERY);
    let team = training_team::<D>();
    let bs = plan.batch_size;
    // Trains up to `n` steps; the steps taken and their images.
    let mut train = |batches: &Batches, n: usize| {
        let (mut steps, mut images) = (0, 0);
        for _ in 0..n {
            let Some(batch) = batches.next() else { break };
            steps += 1;
            images += batch.len();
            // A scale that stops being finite ends a run, not a speed measurement.
            let _ = train_step(
                &dev,
                &mut model,
                &mut opt,
                batch,
                split.shape,
                &mut tally,
                team.as_ref(),
            );
            if tally.pending() == PROGRESS_EVERY {
                std::hint::black_box(tally.read());
            }
        }
        (steps, images)
    };
    let (train_ips, timed_steps) = prefetch(plan, rng, cancel, |batches| {
        train(batches, WARMUP_STEPS);
        let t0 = Instant::now();
        let (steps, images) = train(batches, steps);
        let secs = t0.elapsed().as_secs_f64();
        (images as f64 / secs, steps)
    });

    let views = expand(&config.score.views).len();
    let embed_images = views * (split.normal_rows.len() + split.test_anomalous.len());
    let chunk = crate::model::device::eval_chunk(&dev, config, split.shape);
    let t1 = Instant::now();
    let e = embed_views(
        &dev,
        &mut model,
        config,
        split,
        chunk,
        cancel,
        &mut |_, _, _, _| {},
    )?;
    let embed_s = t1.elapsed().as_secs_f64();
    std::hint::black_box(e);
    Ok(RecipeBench {
        batch: bs,
        steps: timed_steps,
        train_ips,
        embed_ips: embed_images as f64 / embed_s,
        embed_images,
        embed_s,
    })
}
