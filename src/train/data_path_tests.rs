//! The training data path against the loop it replaced: batches prepared on a thread of their
//! own and results read back once per progress window must train exactly as the loop that
//! assembled every batch itself and read the loss and the scores back after every step, on the
//! CPU's host path and on the device path (what CUDA runs), run here on the CPU. Both loops run
//! on one thread here, where a step is not split over a team (see [`super::step`]); the split
//! step is checked against the whole batch's in `split_step_tests`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::batches::{augment_into, prefetch, Plan, PREFETCH_DEPTH};
use super::error::TrainError;
use super::evaluate::evaluate;
use super::event::{Event, Outcome, PROGRESS_EVERY};
use super::seed::{lr_at, train_on};
use super::tally::{self, read_backs};
use crate::config::{ClassRef, Config, DatasetKind, HeadKind, LabelMode, Sampling, ScorerKind};
use crate::data::transforms::{class_count, epoch_samples, expand, label, TransformTable};
use crate::data::{self, ExperimentSplit};
use crate::model::head::{one_hot, Head};
use crate::model::net::Model;
use crate::model::ops::T4;
use crate::model::optim::{OptimConfig, Optimizer};
use crate::score::Evaluation;

pub(super) fn split(config: &Config) -> ExperimentSplit {
    use std::sync::OnceLock;
    static DS: OnceLock<data::Dataset> = OnceLock::new();
    let ds = DS.get_or_init(data::generate_synthetic);
    data::make_split(ds, &config.data, 0).unwrap()
}

/// A small run on the synthetic shapes, with augmentation.
pub(super) fn config(head: HeadKind) -> Config {
    let mut c = Config::default();
    c.data.dataset = DatasetKind::Synthetic;
    c.data.normal = ClassRef::Index(2);
    c.data.anomalous = ClassRef::Index(3).into();
    c.data.reference_count = 600;
    c.data.normal_train_count = 100.into();
    c.model.widths = vec![4, 8];
    c.model.embedding_dim = 16;
    c.train.epochs = 2;
    c.train.batch_size = 48;
    c.train.augment.shift = 2;
    c.train.augment.flip = true;
    c.head.kind = head;
    c.head.s = 16.0;
    c.head.m = 0.2;
    c.score.scorers = vec![ScorerKind::KnnCosine, ScorerKind::Lof];
    c.validate().unwrap();
    c
}

/// The seed loop as it was before batches were prefetched and results read back per window
/// (training and evaluation; no detector): the reference the new loop must match.
fn old_train_on(
    dev: Cpu,
    config: &Config,
    split: &ExperimentSplit,
    seed: u64,
    cancel: &AtomicBool,
    tx: &Sender<Event>,
) -> (Outcome, Option<Evaluation>) {
    let mode = config.transforms.labels;
    let table = (mode != LabelMode::None)
        .then(|| TransformTable::new(expand(&config.transforms.set()), split.shape));
    let n_t = table.as_ref().map_or(1, TransformTable::len);
    let classes = class_count(mode, split.class_names.len(), n_t);
    let mut init_rng = StdRng::seed_from_u64(seed);
    let mut model = Model::new(
        &dev,
        &config.model,
        &config.head,
        split.shape,
        classes,
        &mut init_rng,
    )
    .unwrap();
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
        let samples: Vec<(usize, usize)> = if mode == LabelMode::None {
            order.shuffle(&mut rng);
            order.iter().map(|&r| (r, 0)).collect()
        } else {
            epoch_samples(n, n_t, config.transforms.sample, &mut rng)
        };
        let batches: Vec<&[(usize, usize)]> = samples.chunks(bs).filter(|b| b.len() >= 2).collect();
        let n_batches = batches.len();
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
            let x: T4<Cpu> = dev.tensor_from_vec(batch_x.clone(), (b, c, h, w));
            let oh = one_hot(&dev, &labels, classes);
            let emb = model.backbone.forward(x.trace(Gradients::leaky()), true);
            let (logits, cosines) = model.head.logits(emb, &oh);
            let score_vals = match &cosines {
                Some(c) => c.as_vec(),
                None => logits.retaped::<NoneTape>().as_vec(),
            };
            let loss = Head::<Cpu>::loss(logits, &oh);
            let loss_val = loss.as_vec()[0];
            if !loss_val.is_finite() {
                let err = TrainError::NonFiniteLoss {
                    value: loss_val,
                    epoch,
                    batch: bi + 1,
                    hint: String::new(),
                };
                return (err.outcome(), last_eval);
            }
            let mut grads = loss.backward();
            opt.cfg.lr = lr_at(t, step, total_steps);
            step += 1;
            opt.update(&mut model, &mut grads);
            drop(grads);
            if model.head.kind == HeadKind::AdacosDynamic {
                let s = model.head.adacos_next_scale(&score_vals, &labels);
                assert!(s.is_finite() && s > 0.0);
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
                let n = window_images.max(1) as f64;
                let _ = tx.send(Event::Progress {
                    epoch,
                    batch: bi + 1,
                    batches: n_batches,
                    images_per_sec: 0.0,
                    loss: (window_loss / n) as f32,
                    accuracy: (window_correct as f64 / n) as f32,
                });
                window_images = 0;
                window_loss = 0.0;
                window_correct = 0;
            }
        }
        let mut metrics = crate::train::EpochMetrics {
            epoch,
            loss: (loss_sum / seen.max(1) as f64) as f32,
            accuracy: correct as f32 / seen.max(1) as f32,
            scale: model.head.scale,
            lr: opt.cfg.lr,
            seconds: 0.0,
            images_per_sec: 0.0,
            auc: Default::default(),
        };
        if epoch % config.score.eval_every == 0 || epoch == t.epochs {
            let ev = evaluate(
                &dev,
                &mut model,
                config,
                split,
                epoch,
                crate::model::memory::eval_chunk(config, split.shape),
                cancel,
                &mut |_, _, _, _| {},
            )
            .unwrap();
            metrics.auc = ev.auc.clone();
            last_eval = Some(ev);
        }
        let _ = tx.send(Event::Epoch(metrics));
    }
    (Outcome::Finished, last_eval)
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

/// What a run reports, without its timings: progress (batch, loss and accuracy bits), epoch
/// metrics (loss, accuracy, scale, lr, AUCs), the outcome and the final AUCs.
#[derive(Debug, PartialEq)]
struct Report {
    progress: Vec<(usize, usize, u32, u32)>,
    epochs: Vec<(usize, u32, u32, u32, u32, Vec<u64>)>,
    outcome: Outcome,
    auc: Vec<u64>,
}

fn report(events: Vec<Event>, outcome: Outcome, ev: Option<Evaluation>) -> Report {
    let bits = |m: &std::collections::BTreeMap<ScorerKind, f64>| {
        m.values().map(|v| v.to_bits()).collect::<Vec<_>>()
    };
    let mut r = Report {
        progress: Vec::new(),
        epochs: Vec::new(),
        outcome,
        auc: ev.map(|e| bits(&e.auc)).unwrap_or_default(),
    };
    for e in events {
        match e {
            Event::Progress {
                epoch,
                batch,
                loss,
                accuracy,
                ..
            } => r
                .progress
                .push((epoch, batch, loss.to_bits(), accuracy.to_bits())),
            Event::Epoch(m) => r.epochs.push((
                m.epoch,
                m.loss.to_bits(),
                m.accuracy.to_bits(),
                m.scale.to_bits(),
                m.lr.to_bits(),
                bits(&m.auc),
            )),
            _ => {}
        }
    }
    r
}

/// The new loop; `device_path`: with the tally on the device path (see [`tally`]).
/// Runs `f` in a rayon pool of `threads` threads.
pub(super) fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(f)
}

fn run_new(config: &Config, split: &ExperimentSplit, device_path: bool) -> Report {
    run_new_counting(config, split, device_path).0
}

/// [`run_new`], and the read-backs of its training thread.
fn run_new_counting(
    config: &Config,
    split: &ExperimentSplit,
    device_path: bool,
) -> (Report, usize) {
    in_pool(1, || {
        let before = read_backs();
        tally::device_path_on_cpu(device_path);
        let (tx, rx) = mpsc::channel();
        let (outcome, ev) = train_on(
            Cpu::seed_from_u64(0),
            config,
            split,
            0,
            None,
            &AtomicBool::new(false),
            &tx,
        );
        tally::device_path_on_cpu(false);
        let reads = read_backs() - before;
        drop(tx);
        (report(rx.iter().collect(), outcome, ev), reads)
    })
}

fn run_old(config: &Config, split: &ExperimentSplit) -> Report {
    in_pool(1, || {
        let (tx, rx) = mpsc::channel();
        let (outcome, ev) = old_train_on(
            Cpu::seed_from_u64(0),
            config,
            split,
            0,
            &AtomicBool::new(false),
            &tx,
        );
        drop(tx);
        report(rx.iter().collect(), outcome, ev)
    })
}

#[test]
fn prefetched_training_matches_the_old_loop_bit_for_bit() {
    let mut cases = Vec::new();
    for head in [
        HeadKind::AdacosFixed,
        HeadKind::AdacosDynamic,
        HeadKind::Softmax,
    ] {
        cases.push(config(head));
    }
    // Transform classes: every (image, transform) pair, or one random transform per image.
    let mut c = config(HeadKind::AdacosFixed);
    c.transforms.labels = LabelMode::ClassTransform;
    c.transforms.rotations = vec![0, 90, 180, 270];
    c.transforms.flip = true;
    c.transforms.sample = Sampling::All;
    cases.push(c);
    let mut c = config(HeadKind::Arcface);
    c.transforms.labels = LabelMode::Transform;
    c.transforms.rotations = vec![0, 90, 180, 270];
    c.transforms.flip = true;
    c.transforms.sample = Sampling::Random;
    c.train.augment.shift = 0;
    cases.push(c);
    for c in cases {
        c.validate().unwrap();
        let split = split(&c);
        let old = run_old(&c, &split);
        assert_eq!(old.outcome, Outcome::Finished);
        assert_eq!(old.epochs.len(), 2);
        assert!(old.progress.len() > 4);
        for device_path in [false, true] {
            let new = run_new(&c, &split, device_path);
            assert_eq!(
                new, old,
                "{} {:?}, device path {device_path}",
                c.head.kind, c.transforms.labels
            );
        }
    }
}

#[test]
fn the_first_non_finite_loss_is_reported_with_its_batch_as_before() {
    let c = config(HeadKind::Softmax);
    let mut split = split(&c);
    // One poisoned image: the loss of the batch that holds it is NaN.
    let row = 37;
    let pix = 28 * 28;
    split.train_x[row * pix + 100] = f32::NAN;
    let old = run_old(&c, &split);
    for device_path in [false, true] {
        let new = run_new(&c, &split, device_path);
        let (Outcome::Failed { reason: new_reason }, Outcome::Failed { reason: old_reason }) =
            (&new.outcome, &old.outcome)
        else {
            panic!("{new:?} {old:?}");
        };
        // Same batch, same progress before it; the new text adds the hint.
        assert!(
            new_reason.starts_with(old_reason.as_str()),
            "{new_reason} / {old_reason}"
        );
        assert!(
            new_reason.contains("loss became NaN in epoch 1, batch "),
            "{new_reason}"
        );
        assert_eq!(new.progress, old.progress);
        assert!(new.epochs.is_empty());
    }
}

#[test]
fn results_are_read_back_once_per_progress_window() {
    for (head, device_path) in [
        (HeadKind::AdacosFixed, true),
        (HeadKind::AdacosDynamic, true),
        (HeadKind::AdacosFixed, false),
    ] {
        let c = config(head);
        let split = split(&c);
        let (r, reads) = run_new_counting(&c, &split, device_path);
        assert_eq!(r.outcome, Outcome::Finished);
        let plan = Plan::new(&c, &split);
        let steps = plan.batches_per_epoch() * c.train.epochs;
        let windows = r.progress.len();
        assert_eq!(
            windows,
            c.train.epochs * plan.batches_per_epoch().div_ceil(PROGRESS_EVERY)
        );
        // Dynamic AdaCos also reads each step's cosines for its scale; on the CPU's host
        // path nothing is read back (the values are in host memory).
        let want = match (head, device_path) {
            (_, false) => 0,
            (HeadKind::AdacosDynamic, true) => windows + steps,
            _ => windows,
        };
        assert_eq!(reads, want, "{head}: {steps} steps, {windows} windows");
    }
}

#[test]
fn batches_come_in_the_order_and_with_the_images_the_loop_drew_itself() {
    let mut c = config(HeadKind::AdacosFixed);
    c.transforms.labels = LabelMode::ClassTransform;
    c.transforms.rotations = vec![0, 90];
    let split = split(&c);
    let rng = StdRng::seed_from_u64(7);
    let got: Vec<_> = prefetch(
        Plan::new(&c, &split),
        rng.clone(),
        &AtomicBool::new(false),
        |b| std::iter::from_fn(|| b.next()).collect(),
    );
    // The same draws, one after the other on this thread.
    let plan = Plan::new(&c, &split);
    let mut rng = rng;
    let mut order: Vec<usize> = (0..split.train_y.len()).collect();
    let mut want = Vec::new();
    for epoch in 1..=c.train.epochs {
        let samples = super::batches::epoch_order(&plan, &mut order, &mut rng);
        for (i, rows) in samples
            .chunks(plan.batch_size)
            .filter(|r| r.len() >= 2)
            .enumerate()
        {
            want.push(super::batches::assemble(&plan, epoch, i, rows, &mut rng));
        }
    }
    assert_eq!(got.len(), plan.batches_per_epoch() * c.train.epochs);
    assert!(got == want);
    let b = &got[3];
    let classes = plan.classes;
    for (i, &y) in b.labels.iter().enumerate() {
        let row = &b.one_hot[i * classes..(i + 1) * classes];
        assert_eq!(row.iter().position(|&v| v == 1.0), Some(y));
        assert_eq!(
            b.before[i * classes..(i + 1) * classes].iter().sum::<f32>(),
            y as f32
        );
    }
}

#[test]
fn a_cancel_stops_the_preparing_thread_within_the_queue() {
    let mut c = config(HeadKind::AdacosFixed);
    c.train.epochs = 1000;
    let split = split(&c);
    let cancel = AtomicBool::new(false);
    let plan = Plan::new(&c, &split);
    let received = prefetch(plan, StdRng::seed_from_u64(1), &cancel, |b| {
        for _ in 0..3 {
            b.next().unwrap();
        }
        cancel.store(true, Ordering::SeqCst);
        // What was queued (or being prepared) when the flag was set still arrives; then nothing.
        std::iter::from_fn(|| b.next()).count()
    });
    assert!(
        received <= PREFETCH_DEPTH + 1,
        "{received} batches after the cancel"
    );
    // A body that stops listening early ends the thread too (prefetch returns).
    let plan = Plan::new(&c, &split);
    let first = prefetch(
        plan,
        StdRng::seed_from_u64(1),
        &AtomicBool::new(false),
        |b| b.next().map(|b| b.index),
    );
    assert_eq!(first, Some(0));
}

#[test]
fn a_run_cancelled_before_its_first_batch_is_interrupted_without_progress() {
    let c = config(HeadKind::AdacosFixed);
    let split = split(&c);
    let (tx, rx) = mpsc::channel();
    let (outcome, ev) = train_on(
        Cpu::seed_from_u64(0),
        &c,
        &split,
        0,
        None,
        &AtomicBool::new(true),
        &tx,
    );
    drop(tx);
    assert_eq!(outcome, Outcome::Interrupted);
    assert!(ev.is_none());
    assert!(rx.iter().all(|e| !matches!(e, Event::Progress { .. })));
}

/// dfdx's infallible ops panic on a CUDA error; the worker turns the panic's text into a
/// device error. A panic in a step must reach it with its text, and stop the preparing thread.
#[test]
fn a_panic_during_training_reaches_the_caller_with_its_text() {
    let c = config(HeadKind::AdacosFixed);
    let split = split(&c);
    let plan = Plan::new(&c, &split);
    let cancel = AtomicBool::new(false);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        prefetch(plan, StdRng::seed_from_u64(1), &cancel, |b| {
            b.next().unwrap();
            panic!("called `Result::unwrap()` on an `Err` value: CUDA_ERROR_OUT_OF_MEMORY");
        })
    }));
    let payload = caught.unwrap_err();
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .unwrap();
    let what = crate::model::device::describe_cuda_failure(&text).unwrap();
    assert!(what.contains("out of GPU memory"), "{what}");
}
