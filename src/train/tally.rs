//! The training steps' loss and accuracy, kept on the device and read back once per progress
//! window ([`super::event::PROGRESS_EVERY`] steps, and at the end of an epoch) instead of after
//! every step: on CUDA each read-back waits for the device to finish everything queued, so a
//! read-back per step would stall the host after every step; on the CPU each one allocates.
//!
//! Each step writes its loss into its own slot of a small device vector (the host still adds
//! the losses up in `f64`, step by step, exactly as when it read them one at a time) and adds
//! how many of its images the scores do not rank first at their label. A "hit" is what an argmax
//! of the scores gives: the label's score is above every score before it and not below any
//! after it (ties go to the first class). Everything here is element-wise ops, comparisons,
//! boolean ops, `choose` and sum/max reductions with broadcasting, which dfdx 0.13's CUDA
//! kernels take with any strides (see [`crate::model::ops::legal`]); nothing compiles a kernel at
//! run time.
//!
//! On the CPU, where "the device" is host memory and there is nothing to wait for, the same
//! results are copied into buffers the tally reuses and counted as the old loop counted them
//! (an argmax per image): no dfdx op, no allocation per step. The device path is what every
//! other device runs; tests run it on the CPU too ([`device_path_on_cpu`]) and check both
//! against the old loop, bit for bit.
//!
//! [`read_backs`] counts this thread's read-backs of the training loop (tests check the
//! cadence).
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::any::TypeId;
use std::cell::Cell;

use dfdx::prelude::*;

use crate::model::head::T2;

type Vector<D> = Tensor<(usize,), f32, D>;

thread_local! {
    static READ_BACKS: Cell<usize> = const { Cell::new(0) };
    static DEVICE_PATH_ON_CPU: Cell<bool> = const { Cell::new(false) };
}

/// Tests: whether the tallies this thread creates on the CPU take the device path (the one
/// CUDA runs) instead of the host one.
#[cfg(test)]
pub fn device_path_on_cpu(on: bool) {
    DEVICE_PATH_ON_CPU.with(|c| c.set(on));
}

/// Whether a tally on `D` keeps its results in host memory: on the CPU, unless a test asked
/// for the device path.
fn on_host<D: 'static>() -> bool {
    TypeId::of::<D>() == TypeId::of::<Cpu>() && !DEVICE_PATH_ON_CPU.with(Cell::get)
}

/// Read-backs of training-step results to the host on this thread so far.
pub fn read_backs() -> usize {
    READ_BACKS.with(Cell::get)
}

/// `t`'s values on the host, counted as a read-back.
pub fn read_back<S: Shape, D: Device<f32>>(t: &Tensor<S, f32, D>) -> Vec<f32> {
    READ_BACKS.with(|n| n.set(n.get() + 1));
    t.as_vec()
}

/// The steps of one window, as read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    /// Each step's loss, in order.
    pub losses: Vec<f32>,
    /// Images whose label the scores did not rank first, over all the window's steps.
    pub misses: usize,
}

/// Up to `capacity` steps' results, kept where the device computed them.
pub struct Tally<D: Device<f32>> {
    dev: D,
    capacity: usize,
    kept: Kept<D>,
    used: usize,
}

enum Kept<D: Device<f32>> {
    Device {
        /// Per slot, `capacity + 1` flags with only the slot's set.
        slots: Vec<Tensor<(usize,), bool, D>>,
        /// `capacity + 1` values, 1 at the misses' place (the last).
        misses_at: Vector<D>,
        /// The slots' losses, then the misses.
        acc: Vector<D>,
    },
    Host {
        losses: Vec<f32>,
        misses: usize,
        /// The last step's scores (reused).
        scores: Vec<f32>,
    },
}

impl<D: Device<f32>> Tally<D> {
    pub fn new(dev: &D, capacity: usize) -> Self {
        let len = capacity + 1;
        let flags = |at: usize| {
            let v: Vec<f32> = (0..len).map(|i| f32::from(u8::from(i == at))).collect();
            dev.tensor_from_vec(v, (len,))
        };
        let kept = if on_host::<D>() {
            Kept::Host {
                losses: Vec::with_capacity(capacity),
                misses: 0,
                scores: Vec::new(),
            }
        } else {
            Kept::Device {
                slots: (0..capacity).map(|j| flags(j).gt(0.5)).collect(),
                misses_at: flags(capacity),
                acc: dev.zeros_like(&(len,)),
            }
        };
        Tally {
            dev: dev.clone(),
            capacity,
            kept,
            used: 0,
        }
    }

    /// Steps recorded since the last [`Tally::read`].
    pub fn pending(&self) -> usize {
        self.used
    }

    /// Records a step: its `loss`, and its `scores` `(B, C)` against the images' `labels`
    /// (with their one-hot targets and `before` flags, 1 where `k < label`, see
    /// [`super::batches::Batch`]). Panics past `capacity` steps unread.
    pub fn record(
        &mut self,
        loss: Tensor<(), f32, D>,
        scores: &T2<D>,
        one_hot: &T2<D>,
        before: Vec<f32>,
        labels: &[usize],
    ) {
        assert!(
            self.used < self.capacity,
            "the tally holds {} steps",
            self.capacity
        );
        self.used += 1;
        let len = (self.capacity + 1,);
        match &mut self.kept {
            Kept::Device {
                slots,
                misses_at,
                acc,
            } => {
                let before = self.dev.tensor_from_vec(before, *one_hot.shape()).gt(0.5);
                let missed =
                    misses(&self.dev, scores, one_hot, &before).broadcast_like::<_, Axis<0>>(&len);
                let loss = loss.broadcast_like::<_, Axis<0>>(&len);
                let kept = slots[self.used - 1].clone().choose(loss, acc.clone());
                *acc = kept + missed * misses_at.clone();
            }
            Kept::Host {
                losses,
                misses,
                scores: buf,
            } => {
                let mut value = [0.0f32];
                loss.copy_into(&mut value);
                losses.push(value[0]);
                buf.resize(scores.shape().num_elements(), 0.0);
                scores.copy_into(buf);
                let classes = scores.shape().1;
                *misses += labels
                    .iter()
                    .enumerate()
                    .filter(|(i, &y)| argmax(&buf[i * classes..(i + 1) * classes]) != y)
                    .count();
            }
        }
    }

    /// The recorded steps' results (one read-back on a device), and a fresh start.
    pub fn read(&mut self) -> Window {
        let used = std::mem::take(&mut self.used);
        match &mut self.kept {
            Kept::Device { acc, .. } => {
                let v = read_back(acc);
                *acc = self.dev.zeros_like(&(self.capacity + 1,));
                Window {
                    losses: v[..used].to_vec(),
                    misses: v[self.capacity] as usize,
                }
            }
            Kept::Host { losses, misses, .. } => Window {
                losses: std::mem::replace(losses, Vec::with_capacity(self.capacity)),
                misses: std::mem::take(misses),
            },
        }
    }
}

/// The first class with the highest score.
fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

/// How many rows of `scores` `(B, C)` an argmax would not put at their label: rows where a
/// class before the label scores at least as high, or one after it higher.
pub fn misses<D: Device<f32>>(
    dev: &D,
    scores: &T2<D>,
    one_hot: &T2<D>,
    before: &Tensor<(usize, usize), bool, D>,
) -> Tensor<(), f32, D> {
    let shape = *scores.shape();
    // The label's score (the other products are zeros), beside every class's.
    let target = (scores.clone() * one_hot.clone())
        .sum::<(usize,), Axis<1>>()
        .broadcast_like::<_, Axis<1>>(&shape);
    let beaten = (before.clone() & scores.ge(&target)) | scores.gt(&target);
    let one = dev.ones_like(&()).broadcast_like::<_, Axes2<0, 1>>(&shape);
    let zero = dev.zeros_like(&()).broadcast_like::<_, Axes2<0, 1>>(&shape);
    beaten
        .choose(one, zero)
        .max::<(usize,), Axis<1>>()
        .sum::<(), Axis<0>>()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::model::head::one_hot;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Host argmax misses, against the device count, on random scores with ties.
    #[test]
    fn the_device_counts_misses_as_an_argmax_would() {
        let dev = Cpu::seed_from_u64(0);
        let mut rng = StdRng::seed_from_u64(3);
        let (b, c) = (64, 7);
        for round in 0..20 {
            // Few distinct values: many ties, some at the top.
            let scores: Vec<f32> = (0..b * c)
                .map(|_| rng.gen_range(0..4) as f32 * 0.25)
                .collect();
            let labels: Vec<usize> = (0..b).map(|_| rng.gen_range(0..c)).collect();
            let want = labels
                .iter()
                .enumerate()
                .filter(|(i, &y)| argmax(&scores[i * c..(i + 1) * c]) != y)
                .count();
            let s = dev.tensor_from_vec(scores, (b, c));
            let oh = one_hot(&dev, &labels, c);
            let before = dev
                .tensor_from_vec(before_flags(&labels, c), (b, c))
                .gt(0.5);
            let got = misses(&dev, &s, &oh, &before).as_vec()[0];
            assert_eq!(got, want as f32, "round {round}");
        }
    }

    pub(in crate::train) fn before_flags(labels: &[usize], c: usize) -> Vec<f32> {
        let mut v = vec![0.0f32; labels.len() * c];
        for (i, &y) in labels.iter().enumerate() {
            v[i * c..i * c + y].fill(1.0);
        }
        v
    }

    #[test]
    fn the_tally_keeps_each_steps_loss_and_the_windows_misses_on_both_paths() {
        let dev = Cpu::seed_from_u64(0);
        for device_path in [true, false] {
            device_path_on_cpu(device_path);
            let mut t = Tally::new(&dev, 3);
            device_path_on_cpu(false);
            let s = dev.tensor_from_vec(vec![0.9f32, 0.1, 0.2, 0.8], (2, 2));
            let labels = [0, 0];
            let oh = one_hot(&dev, &labels, 2);
            let record = |t: &mut Tally<Cpu>, loss: f32| {
                t.record(dev.tensor(loss), &s, &oh, before_flags(&labels, 2), &labels);
            };
            let reads = read_backs();
            record(&mut t, 1.5);
            record(&mut t, f32::INFINITY);
            assert_eq!(t.pending(), 2);
            assert_eq!(read_backs(), reads);
            let w = t.read();
            assert_eq!(read_backs(), reads + usize::from(device_path));
            assert_eq!(t.pending(), 0);
            assert_eq!(w.losses, vec![1.5, f32::INFINITY]);
            assert_eq!(w.misses, 2);
            record(&mut t, f32::NAN);
            let w = t.read();
            assert!(w.losses.len() == 1 && w.losses[0].is_nan());
            assert_eq!(w.misses, 1);
        }
    }
}
