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
//! [`read_backs`] counts this thread's read-backs of the training loop (tests check the
//! cadence).
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::cell::Cell;

use dfdx::prelude::*;

use crate::model::head::T2;

type Vector<D> = Tensor<(usize,), f32, D>;

thread_local! {
    static READ_BACKS: Cell<usize> = const { Cell::new(0) };
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

/// Up to `capacity` steps' results on the device.
pub struct Tally<D: Device<f32>> {
    dev: D,
    capacity: usize,
    /// Per slot, `capacity + 1` flags with only the slot's set.
    slots: Vec<Tensor<(usize,), bool, D>>,
    /// `capacity + 1` values, 1 at the misses' place (the last).
    misses_at: Vector<D>,
    /// The slots' losses, then the misses.
    acc: Vector<D>,
    used: usize,
}

impl<D: Device<f32>> Tally<D> {
    pub fn new(dev: &D, capacity: usize) -> Self {
        let len = capacity + 1;
        let flags = |at: usize| {
            let v: Vec<f32> = (0..len).map(|i| f32::from(u8::from(i == at))).collect();
            dev.tensor_from_vec(v, (len,))
        };
        Tally {
            dev: dev.clone(),
            capacity,
            slots: (0..capacity).map(|j| flags(j).gt(0.5)).collect(),
            misses_at: flags(capacity),
            acc: dev.zeros_like(&(len,)),
            used: 0,
        }
    }

    /// Steps recorded since the last [`Tally::read`].
    pub fn pending(&self) -> usize {
        self.used
    }

    /// Records a step: its `loss`, and its `scores` `(B, C)` against the one-hot targets and
    /// the `before` flags (`k < label`) of its images. Panics past `capacity` steps unread.
    pub fn record(
        &mut self,
        loss: Tensor<(), f32, D>,
        scores: &T2<D>,
        one_hot: &T2<D>,
        before: &Tensor<(usize, usize), bool, D>,
    ) {
        assert!(
            self.used < self.capacity,
            "the tally holds {} steps",
            self.capacity
        );
        let len = (self.capacity + 1,);
        let missed = misses(&self.dev, scores, one_hot, before).broadcast_like::<_, Axis<0>>(&len);
        let loss = loss.broadcast_like::<_, Axis<0>>(&len);
        let acc = self.slots[self.used].clone().choose(loss, self.acc.clone());
        self.acc = acc + missed * self.misses_at.clone();
        self.used += 1;
    }

    /// The recorded steps' results (one read-back), and a fresh start.
    pub fn read(&mut self) -> Window {
        let v = read_back(&self.acc);
        let misses = v[self.capacity];
        self.acc = self.dev.zeros_like(&(self.capacity + 1,));
        let used = std::mem::take(&mut self.used);
        Window {
            losses: v[..used].to_vec(),
            misses: misses as usize,
        }
    }
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
