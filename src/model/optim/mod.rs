//! Adam and SGD with momentum over a model's named tensors, on any dfdx device.
//!
//! On the CPU every trainable tensor is updated by one fused pass (moments and parameter
//! together, no temporaries: [`fused_step`]); other devices compose the same update out of
//! dfdx's tensor ops ([`ops_step`]). Both compute the same floating-point operations in the same
//! order, so they agree to the bit (the tests check it). A training step split over the CPU's
//! threads updates inside the split: each thread its share of every tensor, from the sum of
//! every thread's gradients ([`RankedUpdate`], the same operations again).

use std::any::{Any, TypeId};

use rayon::prelude::*;

use dfdx::prelude::*;

use super::params::{ParamVisitor, Params};

mod ranked;
use crate::config::OptimizerKind;
pub use ranked::RankedUpdate;

type Flat<D> = Tensor<(usize,), f32, D>;

/// Optimiser hyper-parameters (PyTorch semantics: `weight_decay` is L2 added to the gradient).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OptimConfig {
    pub kind: OptimizerKind,
    pub lr: f32,
    pub weight_decay: f32,
    pub momentum: f32,
    pub betas: (f32, f32),
    pub eps: f32,
}

/// Per-parameter state, in visiting order: Adam's two moments, or SGD's velocity.
pub struct Optimizer<D: Device<f32>> {
    pub cfg: OptimConfig,
    step: i32,
    /// The state as device tensors (the dfdx-ops path).
    state: Vec<(Flat<D>, Option<Flat<D>>)>,
    /// The state in host memory (the fused CPU path): first moment, second moment (Adam).
    host: Vec<(Vec<f32>, Vec<f32>)>,
    /// Whether the fused host path runs (the device is the CPU).
    fused: bool,
    /// A reused buffer for one parameter (fused path).
    scratch: Vec<f32>,
    /// The trainable tensors' values in host memory during a [`RankedUpdate`].
    values: Vec<Vec<f32>>,
}

impl<D: Device<f32>> Optimizer<D> {
    pub fn new(cfg: OptimConfig) -> Self {
        Optimizer {
            cfg,
            step: 0,
            state: Vec::new(),
            host: Vec::new(),
            fused: TypeId::of::<D>() == TypeId::of::<Cpu>(),
            scratch: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Applies one update from `grads` to every trainable tensor of `model`. The gradients
    /// of the trainable tensors may be changed (the CPU path sums into them).
    pub fn update<M: Params<D>>(&mut self, model: &mut M, grads: &mut Gradients<f32, D>) {
        self.update_sum(model, std::slice::from_mut(grads));
    }

    /// [`Optimizer::update`] with the sum of several parts' gradients (the ranks of a
    /// data-parallel step), added in the order given (into the first part's).
    pub fn update_sum<M: Params<D>>(&mut self, model: &mut M, parts: &mut [Gradients<f32, D>]) {
        assert!(!parts.is_empty(), "an update needs gradients");
        self.step += 1;
        let mut v = Update {
            opt: self,
            parts,
            index: 0,
        };
        model.visit_params(&mut v);
    }
}

struct Update<'a, D: Device<f32>> {
    opt: &'a mut Optimizer<D>,
    parts: &'a mut [Gradients<f32, D>],
    index: usize,
}

impl<D: Device<f32>> ParamVisitor<D> for Update<'_, D> {
    fn visit<S: Shape>(&mut self, _name: &str, p: &mut Tensor<S, f32, D>, trainable: bool) {
        if !trainable {
            return;
        }
        let index = self.index;
        self.index += 1;
        if self.opt.fused {
            let cpu = (
                (&mut *self.opt as &mut dyn Any).downcast_mut::<Optimizer<Cpu>>(),
                (&mut *p as &mut dyn Any).downcast_mut::<Tensor<S, f32, Cpu>>(),
            );
            let (Some(opt), Some(p)) = cpu else {
                unreachable!("the fused path runs on the CPU")
            };
            let parts = self.parts.iter_mut().map(|g| {
                (g as &mut dyn Any)
                    .downcast_mut::<Gradients<f32, Cpu>>()
                    .expect("the fused path runs on the CPU")
            });
            fused_step(opt, index, p, parts.collect());
        } else {
            let mut parts = self.parts.iter().map(|g| g.get(&*p));
            let first = parts.next().expect("an update needs gradients");
            ops_step(self.opt, index, p, parts.fold(first, |a, b| a + b));
        }
    }
}

/// The update of a run of elements at step `t`: values `p`, gradient `g`, first moment `m` and
/// (Adam) second moment `v`. The same operations, in the same order, as `ops_step`.
fn update_pass(cfg: OptimConfig, t: i32, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    let wd = cfg.weight_decay;
    let grad = |g: f32, p: f32| if wd > 0.0 { g + p * wd } else { g };
    match cfg.kind {
        OptimizerKind::Adam => {
            let (b1, b2) = cfg.betas;
            let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
            let (lr, eps) = (cfg.lr, cfg.eps);
            for (((p, g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v) {
                let g = grad(*g, *p);
                *m = *m * b1 + g * (1.0 - b1);
                *v = *v * b2 + (g * g) * (1.0 - b2);
                let step = (*m / c1) / ((*v / c2).sqrt() + eps);
                *p -= step * lr;
            }
        }
        OptimizerKind::Sgd => {
            let (mu, lr) = (cfg.momentum, cfg.lr);
            for ((p, g), m) in p.iter_mut().zip(g).zip(m.iter_mut()) {
                let g = grad(*g, *p);
                *m = *m * mu + g;
                *p -= *m * lr;
            }
        }
    }
}

/// Elements per parallel task of the fused update.
const UPDATE_CHUNK: usize = 1 << 15;

/// The update of one tensor as one pass over host memory, parallel over chunks: the
/// parameter is copied out, updated in place with the moments from the gradient (the parts
/// summed into the first part's, in order, read where dfdx keeps it), and copied back.
fn fused_step<S: Shape>(
    opt: &mut Optimizer<Cpu>,
    index: usize,
    p: &mut Tensor<S, f32, Cpu>,
    mut parts: Vec<&mut Gradients<f32, Cpu>>,
) {
    let cfg = opt.cfg;
    let n = p.shape().num_elements();
    if opt.host.len() <= index {
        let second = if cfg.kind == OptimizerKind::Adam {
            n
        } else {
            0
        };
        opt.host.push((vec![0.0; n], vec![0.0; second]));
    }
    let pv = &mut opt.scratch;
    pv.resize(n, 0.0);
    p.copy_into(pv);
    let (first, rest) = parts.split_first_mut().expect("an update needs gradients");
    let rest: Vec<&[f32]> = rest
        .iter_mut()
        .map(|g| g.get_or_alloc_mut(&*p).expect("CPU allocation").as_slice())
        .collect();
    let gv: &mut [f32] = first.get_or_alloc_mut(&*p).expect("CPU allocation");
    let (m, v) = &mut opt.host[index];
    let t = opt.step;
    // The same operations, in the same order, as `ops_step`.
    let update = |off: usize, pv: &mut [f32], gv: &mut [f32], m: &mut [f32], v: &mut [f32]| {
        for more in &rest {
            let more = &more[off..off + gv.len()];
            gv.iter_mut().zip(more).for_each(|(a, b)| *a += b);
        }
        update_pass(cfg, t, pv, gv, m, v);
    };
    if n < 2 * UPDATE_CHUNK {
        update(0, pv, gv, m, v);
    } else {
        // SGD keeps no second moment: its chunks of `v` are empty.
        let vc = if v.is_empty() { 1 } else { UPDATE_CHUNK };
        let mut vs: Vec<&mut [f32]> = v.chunks_mut(vc).collect();
        vs.resize_with(n.div_ceil(UPDATE_CHUNK), Default::default);
        pv.par_chunks_mut(UPDATE_CHUNK)
            .zip(gv.par_chunks_mut(UPDATE_CHUNK))
            .zip(m.par_chunks_mut(UPDATE_CHUNK))
            .zip(vs.into_par_iter())
            .enumerate()
            .for_each(|(j, (((pv, gv), m), v))| update(j * UPDATE_CHUNK, pv, gv, m, v));
    }
    p.copy_from(pv);
}

/// The update of one tensor composed of dfdx tensor ops (any device).
fn ops_step<S: Shape, D: Device<f32>>(
    opt: &mut Optimizer<D>,
    index: usize,
    p: &mut Tensor<S, f32, D>,
    g: Tensor<S, f32, D>,
) {
    let cfg = opt.cfg;
    let n = p.shape().num_elements();
    let shape = *p.shape();
    let g = g.reshape_like(&(n,));
    let flat = p.clone().reshape_like(&(n,));
    let g = if cfg.weight_decay > 0.0 {
        g + flat.clone() * cfg.weight_decay
    } else {
        g
    };
    if opt.state.len() <= index {
        let z = p.device().zeros_like(&(n,));
        let second = (cfg.kind == OptimizerKind::Adam).then(|| z.clone());
        opt.state.push((z, second));
    }
    let t = opt.step;
    let (m, v) = &mut opt.state[index];
    let new = match cfg.kind {
        OptimizerKind::Adam => {
            let (b1, b2) = cfg.betas;
            let v = v.as_mut().expect("Adam keeps a second moment");
            *m = m.clone() * b1 + g.clone() * (1.0 - b1);
            *v = v.clone() * b2 + g.square() * (1.0 - b2);
            let c1 = 1.0 - b1.powi(t);
            let c2 = 1.0 - b2.powi(t);
            let step = (m.clone() / c1) / ((v.clone() / c2).sqrt() + cfg.eps);
            flat - step * cfg.lr
        }
        OptimizerKind::Sgd => {
            *m = m.clone() * cfg.momentum + g;
            flat - m.clone() * cfg.lr
        }
    };
    *p = new.reshape_like(&shape);
}

#[cfg(test)]
mod tests {
    use super::*;

    struct One(Tensor<(usize,), f32, Cpu>);
    impl Params<Cpu> for One {
        fn visit_params<V: ParamVisitor<Cpu>>(&mut self, v: &mut V) {
            v.visit("w", &mut self.0, true);
        }
    }

    fn step(kind: OptimizerKind, steps: usize) -> Vec<f32> {
        let dev = Cpu::default();
        let mut m = One(dev.tensor_from_vec(vec![1.0, -2.0], (2,)));
        let mut opt = Optimizer::new(OptimConfig {
            kind,
            lr: 0.1,
            weight_decay: 0.0,
            momentum: 0.9,
            betas: (0.9, 0.999),
            eps: 1e-8,
        });
        for _ in 0..steps {
            // loss = Σ w² → grad 2w
            let loss = m.0.retaped::<OwnedTape<f32, Cpu>>().square().sum();
            let mut g = loss.backward();
            opt.update(&mut m, &mut g);
        }
        m.0.as_vec()
    }

    #[test]
    fn adam_first_step_moves_by_lr() {
        // Adam's first step is lr · sign(g) (bias-corrected m/√v = ±1).
        let w = step(OptimizerKind::Adam, 1);
        assert!(
            (w[0] - 0.9).abs() < 1e-5 && (w[1] + 1.9).abs() < 1e-5,
            "{w:?}"
        );
    }

    #[test]
    fn sgd_momentum_matches_pytorch() {
        // v1 = g0 = 2w0; w1 = w0 − 0.1·v1 = 0.8·w0; v2 = 0.9·v1 + 2w1; w2 = w1 − 0.1·v2
        let w = step(OptimizerKind::Sgd, 2);
        let w0 = 1.0f32;
        let v1 = 2.0 * w0;
        let w1 = w0 - 0.1 * v1;
        let v2 = 0.9 * v1 + 2.0 * w1;
        let w2 = w1 - 0.1 * v2;
        assert!((w[0] - w2).abs() < 1e-6, "{w:?}");
    }

    /// Adam's and SGD's usual settings at lr 0.01.
    fn test_config(kind: OptimizerKind, weight_decay: f32) -> OptimConfig {
        OptimConfig {
            kind,
            lr: 0.01,
            weight_decay,
            momentum: 0.9,
            betas: (0.9, 0.999),
            eps: 1e-8,
        }
    }

    /// The fused CPU pass and the dfdx-ops composition give the same parameters, to the bit,
    /// for Adam and SGD, with and without weight decay, over several steps.
    #[test]
    fn fused_step_matches_tensor_ops() {
        use rand::{rngs::StdRng, Rng, SeedableRng};
        let dev = Cpu::default();
        let mut rng = StdRng::seed_from_u64(3);
        let w0: Vec<f32> = (0..37).map(|_| rng.gen_range(-1.0..1.0)).collect();
        for kind in [OptimizerKind::Adam, OptimizerKind::Sgd] {
            for weight_decay in [0.0, 0.01] {
                let cfg = test_config(kind, weight_decay);
                let mut a = One(dev.tensor_from_vec(w0.clone(), (37,)));
                let mut b = One(dev.tensor_from_vec(w0.clone(), (37,)));
                let mut fused = Optimizer::new(cfg);
                let mut ops = Optimizer::new(cfg);
                ops.fused = false;
                assert!(fused.fused);
                for _ in 0..5 {
                    // loss = Σ w³ → grad 3w² (not symmetric in sign, unlike Σ w²)
                    let mut ga =
                        a.0.retaped::<OwnedTape<f32, Cpu>>()
                            .powi(3)
                            .sum()
                            .backward();
                    fused.update(&mut a, &mut ga);
                    let mut gb =
                        b.0.retaped::<OwnedTape<f32, Cpu>>()
                            .powi(3)
                            .sum()
                            .backward();
                    ops.update(&mut b, &mut gb);
                    assert_eq!(a.0.as_vec(), b.0.as_vec(), "{kind:?} wd {weight_decay}");
                }
            }
        }
    }

    #[test]
    fn save_and_load_roundtrip() {
        let dev = Cpu::default();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.safetensors");
        let mut a = One(dev.tensor_from_vec(vec![0.25, 4.0], (2,)));
        a.save_safetensors(&p).unwrap();
        let mut b = One(dev.zeros_like(&(2,)));
        b.load_safetensors(&p).unwrap();
        assert_eq!(b.0.as_vec(), vec![0.25, 4.0]);
        let mut c = One(dev.zeros_like(&(3,)));
        let e = c.load_safetensors(&p).unwrap_err();
        assert!(e.to_string().contains("w:"), "{e}");
    }

    /// The update split over ranks ([`RankedUpdate`], ranks run one after the other here)
    /// equals [`Optimizer::update_sum`] of the same parts, to the bit: Adam and SGD, with and
    /// without weight decay, tensors larger and smaller than the ranks, 70 000 elements (the
    /// parallel chunks of the fused pass).
    #[test]
    fn a_ranked_update_matches_the_sum_of_the_parts() {
        use rand::{rngs::StdRng, Rng, SeedableRng};
        struct Two(Tensor<(usize,), f32, Cpu>, Tensor<(usize,), f32, Cpu>);
        impl Params<Cpu> for Two {
            fn visit_params<V: ParamVisitor<Cpu>>(&mut self, v: &mut V) {
                v.visit("a", &mut self.0, true);
                v.visit("b", &mut self.1, true);
            }
        }
        let dev = Cpu::default();
        let mut rng = StdRng::seed_from_u64(5);
        let mut rand =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect() };
        let (a0, b0) = (rand(70_000), rand(2));
        let parts = |m: &Two, ranks: usize| -> Vec<Gradients<f32, Cpu>> {
            (0..ranks)
                .map(|r| {
                    let k = 1.0 + r as f32;
                    let la = m.0.retaped::<OwnedTape<f32, Cpu>>().powi(3).sum() * k;
                    let mut g = la.backward();
                    let lb = (m.1.retaped::<OwnedTape<f32, Cpu>>() * k).square().sum();
                    let gb = lb.backward();
                    let got: &mut Vec<f32> = g.get_or_alloc_mut(&m.1).unwrap();
                    got.copy_from_slice(&gb.get(&m.1).as_vec());
                    g
                })
                .collect()
        };
        for kind in [OptimizerKind::Adam, OptimizerKind::Sgd] {
            for weight_decay in [0.0, 0.01] {
                let cfg = test_config(kind, weight_decay);
                let new = |v: &Vec<f32>| dev.tensor_from_vec(v.clone(), (v.len(),));
                let (mut x, mut y) = (Two(new(&a0), new(&b0)), Two(new(&a0), new(&b0)));
                let (mut ox, mut oy) = (Optimizer::new(cfg), Optimizer::new(cfg));
                for _ in 0..3 {
                    let mut px = parts(&x, 3);
                    ox.update_sum(&mut x, &mut px);
                    let mut py = parts(&y, 3);
                    let update = oy.ranked(&mut y, 3);
                    for (r, g) in py.iter_mut().enumerate() {
                        update.publish(r, &mut Two(y.0.clone(), y.1.clone()), g);
                    }
                    for r in 0..3 {
                        // SAFETY: every part published; the gradients outlive the calls.
                        unsafe { update.apply(r, 3) };
                    }
                    update.finish(&mut y);
                }
                assert_eq!(x.0.as_vec(), y.0.as_vec(), "{kind:?} wd {weight_decay}");
                assert_eq!(x.1.as_vec(), y.1.as_vec(), "{kind:?} wd {weight_decay}");
            }
        }
    }
}
