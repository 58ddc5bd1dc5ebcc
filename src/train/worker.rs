//! The training job: runs on its own thread, sends [`Event`]s, stops at the next batch when
//! cancelled.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::error::TrainError;
use super::event::{EpochMetrics, Event, Outcome};
use crate::config::{Config, DeviceKind, HeadKind, LabelMode, LrSchedule, Sampling, ScorerKind};
use crate::data::transforms::{class_count, epoch_samples, expand, label, TransformTable};
use crate::data::{self, Dataset, ExperimentSplit};
use crate::model::head::{one_hot, Head};
use crate::model::net::Model;
use crate::model::ops::{OpsDevice, T4};
use crate::model::optim::{OptimConfig, Optimizer};
use crate::model::params::Params;
use crate::score::{self, Evaluation};

/// Batches between two `Progress` events.
pub const PROGRESS_EVERY: usize = 5;
use crate::model::memory::EVAL_BATCH;

/// Extra inputs of a job that are not part of the experiment config.
#[derive(Clone, Default)]
pub struct JobOptions {
    /// Where to write `model.safetensors` (when `run.save_model` is set).
    pub model_dir: Option<PathBuf>,
    /// An already loaded dataset (skips finding and loading it).
    pub dataset: Option<Arc<Dataset>>,
}

/// A running job: its events, and a way to stop it.
pub struct TrainHandle {
    pub events: Receiver<Event>,
    cancel: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Stops a job from any thread.
#[derive(Clone)]
pub struct CancelHandle(Arc<AtomicBool>);

impl CancelHandle {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl TrainHandle {
    /// A handle over an event channel that something else feeds (tests script jobs this way);
    /// `cancel` is the flag the producer watches.
    pub fn from_channel(events: Receiver<Event>, cancel: Arc<AtomicBool>) -> TrainHandle {
        TrainHandle {
            events,
            cancel,
            thread: None,
        }
    }

    /// Asks the job to stop after the current batch; it then reports `Interrupted`.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }

    pub fn cancel_handle(&self) -> CancelHandle {
        CancelHandle(self.cancel.clone())
    }

    /// Waits for the worker thread to end.
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts a job on a new thread. The config must have been validated.
pub fn spawn(config: Config, options: JobOptions) -> TrainHandle {
    let (tx, rx) = mpsc::channel();
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let thread = std::thread::Builder::new()
        .name("adalab-train".into())
        .spawn(move || run_job(config, options, &flag, &tx))
        .expect("spawn training thread");
    TrainHandle {
        events: rx,
        cancel,
        thread: Some(thread),
    }
}

/// Runs a whole job on the calling thread, sending events to `tx`.
pub fn run_job(config: Config, options: JobOptions, cancel: &AtomicBool, tx: &Sender<Event>) {
    let threads = match config.train.threads {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        n => n,
    };
    let outcome = match rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("adalab-worker-{i}"))
        .build()
    {
        Ok(pool) => pool.install(|| job(&config, &options, threads, cancel, tx)),
        Err(e) => TrainError::Threads {
            threads,
            message: e.to_string(),
        }
        .outcome(),
    };
    let _ = tx.send(Event::Finished { outcome });
}

fn job(
    config: &Config,
    options: &JobOptions,
    threads: usize,
    cancel: &AtomicBool,
    tx: &Sender<Event>,
) -> Outcome {
    let seeds = config.seeds();
    let _ = tx.send(Event::Started {
        config: Box::new(config.clone()),
        seeds: seeds.clone(),
        device: config.train.device.to_string(),
        threads,
    });
    if config.train.device == DeviceKind::Cuda && !cfg!(feature = "cuda") {
        return TrainError::Device(
            "train.device = cuda, but this adalab was built without the `cuda` feature \
             (rebuild with `cargo build --release --features cuda` on a machine with CUDA)"
                .into(),
        )
        .outcome();
    }
    let dataset = match &options.dataset {
        Some(d) => d.clone(),
        None => {
            let _ = tx.send(Event::info(format!("loading {}", config.data.dataset)));
            match load_dataset(config, tx) {
                Ok(d) => Arc::new(d),
                Err(e) => return TrainError::Data(e).outcome(),
            }
        }
    };
    // Final AUCs of the seeds that finished, for the summary each `SeedFinished` carries.
    let mut finished_aucs: Vec<BTreeMap<ScorerKind, f64>> = Vec::new();
    let mut finished_identity: Vec<BTreeMap<ScorerKind, f64>> = Vec::new();
    for (index, &seed) in seeds.iter().enumerate() {
        if cancel.load(Ordering::SeqCst) {
            return Outcome::Interrupted;
        }
        let _ = tx.send(Event::SeedStarted { index, seed });
        let split = match data::make_split(&dataset, &config.data, seed) {
            Ok(s) => s,
            Err(e) => {
                let outcome = TrainError::Data(e).outcome();
                send_seed_end(
                    tx,
                    index,
                    seed,
                    outcome.clone(),
                    None,
                    (&finished_aucs, &finished_identity),
                );
                return outcome;
            }
        };
        if index == 0 {
            let _ = tx.send(Event::DataReady {
                train: split.train_y.len(),
                normal_train: split.normal_rows.len(),
                test: split.test_anomalous.len(),
                classes: split.class_names.len(),
            });
        }
        let model_path = options
            .model_dir
            .as_ref()
            .filter(|_| config.run.save_model)
            .map(|d| {
                if index == 0 {
                    d.join("model.safetensors")
                } else {
                    d.join(format!("model-seed{seed}.safetensors"))
                }
            });
        let started = Instant::now();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_seed(config, &split, seed, model_path, cancel, tx)
        }));
        let (outcome, evaluation) = match result {
            Ok(r) => r,
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                (TrainError::Panic(msg).outcome(), None)
            }
        };
        let _ = tx.send(Event::info(format!(
            "seed {seed} ended after {:.1}s",
            started.elapsed().as_secs_f32()
        )));
        if outcome == Outcome::Finished {
            if let Some(ev) = &evaluation {
                finished_aucs.push(ev.auc.clone());
                finished_identity.push(ev.identity_auc.clone());
            }
        }
        send_seed_end(
            tx,
            index,
            seed,
            outcome.clone(),
            evaluation,
            (&finished_aucs, &finished_identity),
        );
        if outcome != Outcome::Finished {
            return outcome;
        }
    }
    Outcome::Finished
}

/// Loads the dataset of `config`; a folder dataset reports its decoding every 10% (large
/// folders take a while on first load), whether the cache served it, and what it skipped.
fn load_dataset(config: &Config, tx: &Sender<Event>) -> Result<Dataset, data::DataError> {
    let mut next_tenth = 1;
    let mut on_progress = |ev: data::LoadEvent| {
        if let data::LoadEvent::Decoded { done, total } = ev {
            if total >= 1000 && done * 10 >= next_tenth * total {
                next_tenth = done * 10 / total + 1;
                let _ = tx.send(Event::info(format!(
                    "decoded {done} of {total} images ({}%)",
                    done * 100 / total
                )));
            }
        }
    };
    let (ds, report) = data::load_reporting(&config.data, &mut on_progress)?;
    if let Some(r) = report {
        let cache = match &r.cache {
            data::CacheStatus::Hit => "from the cache".to_string(),
            data::CacheStatus::Built => "decoded, cache written".to_string(),
            data::CacheStatus::Rebuilt(why) => format!("decoded, cache rebuilt ({why})"),
            data::CacheStatus::NotWritten(why) => format!("decoded, not cached ({why})"),
        };
        let _ = tx.send(Event::info(format!(
            "{}: {} train + {} test images, {cache}",
            r.root.display(),
            ds.train.len(),
            ds.test.len()
        )));
        if let Some(s) = r.skipped_summary() {
            let _ = tx.send(Event::warn(s));
        }
    }
    Ok(ds)
}

/// Final AUC per scorer of one seed.
type AucMap = BTreeMap<ScorerKind, f64>;

fn send_seed_end(
    tx: &Sender<Event>,
    index: usize,
    seed: u64,
    outcome: Outcome,
    evaluation: Option<Evaluation>,
    (finished, identity): (&[AucMap], &[AucMap]),
) {
    let _ = tx.send(Event::SeedFinished {
        index,
        seed,
        outcome,
        evaluation: evaluation.map(Box::new),
        summary: score::summarize(finished),
        identity_summary: score::summarize(identity),
    });
}

fn run_seed(
    config: &Config,
    split: &ExperimentSplit,
    seed: u64,
    model_path: Option<PathBuf>,
    cancel: &AtomicBool,
    tx: &Sender<Event>,
) -> (Outcome, Option<Evaluation>) {
    match config.train.device {
        DeviceKind::Cpu => train_on(
            Cpu::seed_from_u64(seed),
            config,
            split,
            seed,
            model_path,
            cancel,
            tx,
        ),
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda => match Cuda::try_seed_from_u64(seed) {
            Ok(dev) => train_on(dev, config, split, seed, model_path, cancel, tx),
            Err(e) => (
                TrainError::Device(format!("cannot open the CUDA device: {e:?}")).outcome(),
                None,
            ),
        },
        #[cfg(not(feature = "cuda"))]
        DeviceKind::Cuda => (
            TrainError::Device("built without the `cuda` feature".into()).outcome(),
            None,
        ),
    }
}

/// Trains one seed on device `dev` and evaluates it; the heart of adalab.
pub fn train_on<D: OpsDevice>(
    dev: D,
    config: &Config,
    split: &ExperimentSplit,
    seed: u64,
    model_path: Option<PathBuf>,
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
            match evaluate(&dev, &mut model, config, split, epoch, cancel) {
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
    if let Some(path) = model_path {
        match model.save_safetensors(&path) {
            Ok(()) => {
                let _ = tx.send(Event::info(format!("model saved to {}", path.display())));
            }
            Err(e) => {
                let _ = tx.send(Event::warn(e.to_string()));
            }
        }
    }
    (Outcome::Finished, last_eval)
}

/// Embeddings `(rows, dim)` of images `rows` of `x` (eval mode, no tape), row-major, each image
/// seen through `view` (a transform of a table) when given. Checks
/// `cancel` before every batch of [`EVAL_BATCH`] images: `Err(Interrupted)` once it is set.
pub fn embed<D: OpsDevice>(
    dev: &D,
    model: &mut Model<D>,
    x: &[f32],
    shape: (usize, usize, usize),
    rows: impl Iterator<Item = usize>,
    view: Option<(&TransformTable, usize)>,
    cancel: &AtomicBool,
) -> Result<Vec<f32>, TrainError> {
    let (c, h, w) = shape;
    let pix = c * h * w;
    let rows: Vec<usize> = rows.collect();
    let mut out = Vec::with_capacity(rows.len() * model.backbone.dim);
    let mut buf = Vec::with_capacity(EVAL_BATCH * pix);
    for chunk in rows.chunks(EVAL_BATCH) {
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

fn evaluate<D: OpsDevice>(
    dev: &D,
    model: &mut Model<D>,
    config: &Config,
    split: &ExperimentSplit,
    epoch: usize,
    cancel: &AtomicBool,
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
    let views = expand(&config.score.views);
    let table = TransformTable::new(views.clone(), split.shape);
    let n_test = split.test_anomalous.len();
    let mut scored = Vec::with_capacity(views.len());
    for (v, t) in views.iter().enumerate() {
        let view = (v > 0).then_some((&table, v));
        let normal = embed(
            dev,
            model,
            &split.train_x,
            split.shape,
            split.normal_rows.iter().copied(),
            view,
            cancel,
        )?;
        let test = embed(
            dev,
            model,
            &split.test_x,
            split.shape,
            0..n_test,
            view,
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
        scored.push((t.name(), s));
    }
    let mut ev = score::combine_views(&config.score, epoch, scored, &split.test_anomalous)
        .map_err(|error| TrainError::Score { epoch, error })?;
    ev.group_auc = score::group_auc(&ev, &split.test_groups, &split.test_group);
    Ok(ev)
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
