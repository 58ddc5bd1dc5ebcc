//! The training step split over the CPU's threads ([`super::step`]) against the whole batch's
//! step: the same losses, misses and tensors, up to the order of the sums.

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::batches::{Batch, Plan};
use super::data_path_tests::{config, in_pool, split};
use super::step::{train_step, training_team};
use super::tally::tests::before_flags;
use super::tally::Tally;
use crate::config::HeadKind;
use crate::data::ExperimentSplit;
use crate::model::net::Model;
use crate::model::optim::{OptimConfig, Optimizer};
use crate::model::params::{ParamVisitor, Params};

/// A batch of `n` training images of `split` (rows from `first`) with labels by class.
fn batch_of(split: &ExperimentSplit, first: usize, n: usize, classes: usize) -> Batch {
    let pix = split.shape.0 * split.shape.1 * split.shape.2;
    let rows: Vec<usize> = (first..first + n)
        .map(|i| i % split.train_y.len())
        .collect();
    let x = rows
        .iter()
        .flat_map(|&r| split.train_x[r * pix..(r + 1) * pix].iter().copied())
        .collect();
    let labels: Vec<usize> = rows.iter().map(|&r| (r * 7) % classes).collect();
    let one_hot = labels
        .iter()
        .flat_map(|&y| (0..classes).map(move |k| f32::from(u8::from(k == y))))
        .collect();
    Batch {
        epoch: 1,
        index: first,
        x,
        before: before_flags(&labels, classes),
        one_hot,
        labels,
    }
}

/// The trainable tensors and BatchNorm statistics of `m`, by name.
fn tensors(m: &mut Model<Cpu>) -> Vec<(String, Vec<f32>)> {
    struct All(Vec<(String, Vec<f32>)>);
    impl ParamVisitor<Cpu> for All {
        fn visit<S: Shape>(&mut self, name: &str, t: &mut Tensor<S, f32, Cpu>, _: bool) {
            self.0.push((name.to_string(), t.as_vec()));
        }
    }
    let mut all = All(Vec::new());
    m.visit_params(&mut all);
    all.0
}

#[test]
fn a_step_split_over_the_team_matches_the_whole_batch_step() {
    for head in [
        HeadKind::AdacosFixed,
        HeadKind::AdacosDynamic,
        HeadKind::Softmax,
    ] {
        let c = config(head);
        let split = split(&c);
        let classes = Plan::new(&c, &split).classes;
        in_pool(2, || {
            let dev = Cpu::seed_from_u64(0);
            let mut rng = StdRng::seed_from_u64(1);
            let mut whole =
                Model::new(&dev, &c.model, &c.head, split.shape, classes, &mut rng).unwrap();
            let mut parts = whole.clone();
            let team = training_team::<Cpu>().expect("a team of two threads");
            assert_eq!(team.ranks(), 2);
            let cfg = OptimConfig {
                kind: c.train.optimizer,
                lr: c.train.lr,
                weight_decay: c.train.weight_decay,
                momentum: c.train.momentum,
                betas: (0.9, 0.999),
                eps: 1e-8,
            };
            let (mut opt_w, mut opt_p) = (Optimizer::new(cfg), Optimizer::new(cfg));
            let (mut tally_w, mut tally_p) = (Tally::new(&dev, 8), Tally::new(&dev, 8));
            // Halves of 24, then of 9 (4 and 5 images), then 7 images on one rank alone.
            for (first, n) in [(0, 48), (48, 48), (3, 9), (20, 7), (60, 48)] {
                let b = batch_of(&split, first, n, classes);
                train_step(
                    &dev,
                    &mut whole,
                    &mut opt_w,
                    b.clone(),
                    split.shape,
                    &mut tally_w,
                    None,
                )
                .unwrap();
                train_step(
                    &dev,
                    &mut parts,
                    &mut opt_p,
                    b,
                    split.shape,
                    &mut tally_p,
                    Some(&team),
                )
                .unwrap();
            }
            assert!((whole.head.scale - parts.head.scale).abs() <= 1e-4 * whole.head.scale);
            let (w, p) = (tally_w.read(), tally_p.read());
            assert_eq!(w.misses, p.misses, "{head}");
            for (a, b) in w.losses.iter().zip(&p.losses) {
                assert!(
                    (a - b).abs() <= 1e-5 * a.abs().max(1.0),
                    "{head}: loss {a} vs {b}"
                );
            }
            for ((name, a), (_, b)) in tensors(&mut whole).into_iter().zip(tensors(&mut parts)) {
                let scale = a.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-3);
                let diff = a
                    .iter()
                    .zip(&b)
                    .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
                assert!(
                    diff <= 1e-4 * scale,
                    "{head}: {name} differs by {diff} (scale {scale})"
                );
            }
        });
    }
}
