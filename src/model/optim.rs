//! Adam and SGD with momentum over a model's named tensors, on any dfdx device.

use dfdx::prelude::*;

use super::params::{ParamVisitor, Params};
use crate::config::OptimizerKind;

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
    state: Vec<(Flat<D>, Option<Flat<D>>)>,
}

impl<D: Device<f32>> Optimizer<D> {
    pub fn new(cfg: OptimConfig) -> Self {
        Optimizer {
            cfg,
            step: 0,
            state: Vec::new(),
        }
    }

    /// Applies one update from `grads` to every trainable tensor of `model`.
    pub fn update<M: Params<D>>(&mut self, model: &mut M, grads: &Gradients<f32, D>) {
        self.step += 1;
        let mut v = Update {
            opt: self,
            grads,
            index: 0,
        };
        model.visit_params(&mut v);
    }
}

struct Update<'a, D: Device<f32>> {
    opt: &'a mut Optimizer<D>,
    grads: &'a Gradients<f32, D>,
    index: usize,
}

impl<D: Device<f32>> ParamVisitor<D> for Update<'_, D> {
    fn visit<S: Shape>(&mut self, _name: &str, p: &mut Tensor<S, f32, D>, trainable: bool) {
        if !trainable {
            return;
        }
        let cfg = self.opt.cfg;
        let n = p.shape().num_elements();
        let shape = *p.shape();
        let g = self.grads.get(&*p).reshape_like(&(n,));
        let flat = p.clone().reshape_like(&(n,));
        let g = if cfg.weight_decay > 0.0 {
            g + flat.clone() * cfg.weight_decay
        } else {
            g
        };
        if self.opt.state.len() <= self.index {
            let z = p.device().zeros_like(&(n,));
            let second = (cfg.kind == OptimizerKind::Adam).then(|| z.clone());
            self.opt.state.push((z, second));
        }
        let (m, v) = &mut self.opt.state[self.index];
        self.index += 1;
        let new = match cfg.kind {
            OptimizerKind::Adam => {
                let (b1, b2) = cfg.betas;
                let v = v.as_mut().expect("Adam keeps a second moment");
                *m = m.clone() * b1 + g.clone() * (1.0 - b1);
                *v = v.clone() * b2 + g.square() * (1.0 - b2);
                let t = self.opt.step;
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
            let g = loss.backward();
            opt.update(&mut m, &g);
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
}
