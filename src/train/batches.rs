//! The training batches of one seed, prepared on a thread of their own while the training
//! thread runs the step before (a prefetch queue [`PREFETCH_DEPTH`] batches deep): each epoch's
//! sampling order, the augmentation, the transform classes' images, the labels and what the
//! device needs to score them (one-hot targets, the ranks for the accuracy, see
//! [`super::tally`]).
//!
//! The preparing thread owns the seed's batch RNG and draws from it in exactly the order the
//! training loop drew from it when it assembled the batches itself (an epoch's order, then each
//! batch's augmentation, batch after batch), so the batches, and hence training, are bit for
//! bit what they were. It stops when cancelled (before the next batch) or when the training
//! thread stops listening.
//!
//! The images stay on the host: a batch is assembled here and uploaded by the training thread
//! (README, "GPU", says why).
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::config::{AugmentConfig, Config, LabelMode, Sampling};
use crate::data::transforms::{class_count, epoch_samples, expand, label, TransformTable};
use crate::data::ExperimentSplit;

/// Batches prepared ahead of the one being trained on.
pub const PREFETCH_DEPTH: usize = 2;

/// What a seed's batches are made of: everything but the RNG.
pub struct Plan<'a> {
    pub split: &'a ExperimentSplit,
    pub augment: AugmentConfig,
    /// The transform classes' tables, when the labels use transforms.
    pub table: Option<TransformTable>,
    pub mode: LabelMode,
    pub sample: Sampling,
    /// Classes of the head (the width of the one-hot targets).
    pub classes: usize,
    pub batch_size: usize,
    pub epochs: usize,
}

impl<'a> Plan<'a> {
    /// The batches `config` trains on over `split`.
    pub fn new(config: &Config, split: &'a ExperimentSplit) -> Plan<'a> {
        let mode = config.transforms.labels;
        let table = (mode != LabelMode::None)
            .then(|| TransformTable::new(expand(&config.transforms.set()), split.shape));
        let n_t = table.as_ref().map_or(1, TransformTable::len);
        Plan {
            split,
            augment: config.train.augment.clone(),
            table,
            mode,
            sample: config.transforms.sample,
            classes: class_count(mode, split.class_names.len(), n_t),
            batch_size: config.train.batch_size.min(split.train_y.len()),
            epochs: config.train.epochs,
        }
    }

    /// Transforms the labels count (1 without transform classes).
    pub fn transforms(&self) -> usize {
        self.table.as_ref().map_or(1, TransformTable::len)
    }

    /// (image, transform) pairs an epoch visits.
    fn per_epoch(&self) -> usize {
        let n = self.split.train_y.len();
        match (self.mode, self.sample) {
            (LabelMode::None, _) | (_, Sampling::Random) => n,
            (_, Sampling::All) => n * self.transforms(),
        }
    }

    /// Batches per epoch: full batches, and a last short one unless it would hold a single
    /// image (BatchNorm cannot normalise one).
    pub fn batches_per_epoch(&self) -> usize {
        let (per, bs) = (self.per_epoch(), self.batch_size.max(1));
        per / bs + usize::from(per % bs >= 2)
    }
}

/// One training batch, ready to upload.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// 1-based epoch and 0-based batch within it.
    pub epoch: usize,
    pub index: usize,
    /// The images, `(len, c, h, w)` row-major.
    pub x: Vec<f32>,
    pub labels: Vec<usize>,
    /// One-hot targets, `(len, classes)`.
    pub one_hot: Vec<f32>,
    /// `(len, classes)`: 1 where the class comes before the image's label, else 0 (the
    /// accuracy counts a tie for the top score as a hit only for the first class, as an argmax
    /// does).
    pub before: Vec<f32>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// The receiving end of the prefetch queue.
pub struct Batches {
    rx: Receiver<Batch>,
}

impl Batches {
    /// The next batch; `None` once the preparing thread stopped (cancelled, or all epochs
    /// delivered).
    pub fn next(&self) -> Option<Batch> {
        self.rx.recv().ok()
    }
}

/// Runs `body` with the batches of `plan` prepared by a thread of their own, drawing from `rng`.
/// The thread ends when `cancel` is set (before its next batch), when it has delivered every
/// epoch, or when `body` returns (it stops listening); this returns after that.
pub fn prefetch<R>(
    plan: Plan<'_>,
    rng: StdRng,
    cancel: &AtomicBool,
    body: impl FnOnce(&Batches) -> R,
) -> R {
    std::thread::scope(|s| {
        let (tx, rx) = sync_channel(PREFETCH_DEPTH);
        std::thread::Builder::new()
            .name("adalab-batches".into())
            .spawn_scoped(s, move || produce(&plan, rng, cancel, &tx))
            .expect("spawning the batch-preparing thread");
        let batches = Batches { rx };
        body(&batches)
        // `batches` is dropped here: a thread waiting to deliver stops, and the scope joins it.
    })
}

/// The preparing thread's loop: every epoch's batches, in order.
fn produce(plan: &Plan, mut rng: StdRng, cancel: &AtomicBool, tx: &SyncSender<Batch>) {
    let n = plan.split.train_y.len();
    let mut order: Vec<usize> = (0..n).collect();
    for epoch in 1..=plan.epochs {
        let samples = epoch_order(plan, &mut order, &mut rng);
        // Drop a last batch of one image: BatchNorm cannot normalise it.
        let chunks = samples
            .chunks(plan.batch_size.max(1))
            .filter(|b| b.len() >= 2);
        for (index, rows) in chunks.enumerate() {
            if cancel.load(Ordering::SeqCst) {
                return;
            }
            let batch = assemble(plan, epoch, index, rows, &mut rng);
            if tx.send(batch).is_err() {
                return;
            }
        }
    }
}

/// The (row, transform) pairs one epoch visits, in order. Without transform classes the rows
/// are `order` shuffled again (each epoch shuffles the previous epoch's order).
pub fn epoch_order(plan: &Plan, order: &mut [usize], rng: &mut StdRng) -> Vec<(usize, usize)> {
    if plan.mode == LabelMode::None {
        order.shuffle(rng);
        order.iter().map(|&r| (r, 0)).collect()
    } else {
        epoch_samples(order.len(), plan.transforms(), plan.sample, rng)
    }
}

/// Batch `index` of `epoch` from its (row, transform) pairs: each image augmented (drawing from
/// `rng`), then seen through its transform.
pub fn assemble(
    plan: &Plan,
    epoch: usize,
    index: usize,
    rows: &[(usize, usize)],
    rng: &mut StdRng,
) -> Batch {
    let split = plan.split;
    let pix = split.shape.0 * split.shape.1 * split.shape.2;
    let n_t = plan.transforms();
    let mut x = Vec::with_capacity(rows.len() * pix);
    let mut augmented = Vec::with_capacity(pix);
    for &(r, k) in rows {
        let img = &split.train_x[r * pix..(r + 1) * pix];
        match &plan.table {
            None => augment_into(&mut x, img, split.shape, &plan.augment, rng),
            Some(tt) => {
                augmented.clear();
                augment_into(&mut augmented, img, split.shape, &plan.augment, rng);
                tt.apply_into(k, &augmented, &mut x);
            }
        }
    }
    let labels: Vec<usize> = rows
        .iter()
        .map(|&(r, k)| label(plan.mode, split.train_y[r], k, n_t))
        .collect();
    let c = plan.classes;
    let mut one_hot = vec![0.0f32; labels.len() * c];
    let mut before = vec![0.0f32; labels.len() * c];
    for (i, &y) in labels.iter().enumerate() {
        one_hot[i * c + y] = 1.0;
        before[i * c..i * c + y].fill(1.0);
    }
    Batch {
        epoch,
        index,
        x,
        labels,
        one_hot,
        before,
    }
}

/// Appends `img` to `out`, randomly shifted (zero fill) and flipped as configured.
pub fn augment_into(
    out: &mut Vec<f32>,
    img: &[f32],
    (c, h, w): (usize, usize, usize),
    aug: &AugmentConfig,
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
