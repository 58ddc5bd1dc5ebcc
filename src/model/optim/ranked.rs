//! The CPU update of a training step split over threads ([`RankedUpdate`]).

use std::sync::Mutex;

use dfdx::prelude::*;

use super::{update_pass, OptimConfig, Optimizer};
use crate::config::OptimizerKind;
use crate::model::params::{ParamVisitor, Params};

/// The update of one step on the CPU computed by the ranks of a team at once (see
/// `train::step`): [`Optimizer::ranked`] copies the trainable tensors to host memory, every rank
/// [`publish`](RankedUpdate::publish)es where its gradients are, then (after every rank has
/// published) updates its share of every tensor with the sum of all ranks' gradients there
/// ([`apply`](RankedUpdate::apply)), and [`finish`](RankedUpdate::finish) writes the values
/// back. The same operations, in the same order, as [`Optimizer::update_sum`].
pub struct RankedUpdate<'a> {
    cfg: OptimConfig,
    t: i32,
    /// Per trainable tensor, in visiting order: its values, first moment, second moment
    /// (empty for SGD), borrowed from the optimiser for `'a`.
    tensors: Vec<[Raw; 3]>,
    borrow: std::marker::PhantomData<&'a mut Optimizer<Cpu>>,
    /// Per rank, per tensor: its gradient (address, length), once published.
    grads: Vec<Mutex<Vec<(usize, usize)>>>,
}

/// A slice as its address and length.
#[derive(Clone, Copy)]
struct Raw(*mut f32, usize);

impl Raw {
    fn of(v: &mut [f32]) -> Raw {
        Raw(v.as_mut_ptr(), v.len())
    }

    /// Elements `a..b`.
    ///
    /// # Safety
    /// The slice is alive, `a ≤ b ≤ len`, and nobody else uses elements `a..b` meanwhile.
    #[allow(clippy::mut_from_ref)]
    unsafe fn part(&self, a: usize, b: usize) -> &mut [f32] {
        assert!(a <= b && b <= self.1);
        // SAFETY: the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(a), b - a) }
    }
}

// SAFETY: the gradient addresses are only read, while the ranks that own them wait (see
// `apply`); the tensors' shares each rank writes are disjoint.
unsafe impl Sync for RankedUpdate<'_> {}
unsafe impl Send for RankedUpdate<'_> {}

impl Optimizer<Cpu> {
    /// Starts a step's update by `ranks` ranks: the trainable tensors of `model` in host
    /// memory (their state made on first use).
    pub fn ranked<M: Params<Cpu>>(&mut self, model: &mut M, ranks: usize) -> RankedUpdate<'_> {
        struct Copy<'b> {
            host: &'b mut Vec<(Vec<f32>, Vec<f32>)>,
            values: &'b mut Vec<Vec<f32>>,
            adam: bool,
            index: usize,
        }
        impl ParamVisitor<Cpu> for Copy<'_> {
            fn visit<S: Shape>(&mut self, _: &str, p: &mut Tensor<S, f32, Cpu>, trainable: bool) {
                if !trainable {
                    return;
                }
                let n = p.shape().num_elements();
                if self.host.len() <= self.index {
                    let second = if self.adam { n } else { 0 };
                    self.host.push((vec![0.0; n], vec![0.0; second]));
                }
                if self.values.len() <= self.index {
                    self.values.push(Vec::new());
                }
                let v = &mut self.values[self.index];
                v.resize(n, 0.0);
                p.copy_into(v);
                self.index += 1;
            }
        }
        self.step += 1;
        let mut copy = Copy {
            host: &mut self.host,
            values: &mut self.values,
            adam: self.cfg.kind == OptimizerKind::Adam,
            index: 0,
        };
        model.visit_params(&mut copy);
        let count = copy.index;
        let tensors = self.values[..count]
            .iter_mut()
            .zip(self.host.iter_mut())
            .map(|(p, (m, v))| [Raw::of(p), Raw::of(m), Raw::of(v)])
            .collect();
        RankedUpdate {
            cfg: self.cfg,
            t: self.step,
            tensors,
            borrow: std::marker::PhantomData,
            grads: (0..ranks).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }
}

impl RankedUpdate<'_> {
    /// Rank `r` says where its gradients of `model`'s trainable tensors are (its replica of
    /// the model: the same tensors).
    pub fn publish<M: Params<Cpu>>(
        &self,
        r: usize,
        model: &mut M,
        grads: &mut Gradients<f32, Cpu>,
    ) {
        struct Where<'b> {
            grads: &'b mut Gradients<f32, Cpu>,
            out: Vec<(usize, usize)>,
        }
        impl ParamVisitor<Cpu> for Where<'_> {
            fn visit<S: Shape>(&mut self, _: &str, p: &mut Tensor<S, f32, Cpu>, trainable: bool) {
                if trainable {
                    let g = self.grads.get_or_alloc_mut(&*p).expect("CPU allocation");
                    self.out.push((g.as_ptr() as usize, g.len()));
                }
            }
        }
        let mut w = Where {
            grads,
            out: Vec::new(),
        };
        model.visit_params(&mut w);
        assert_eq!(w.out.len(), self.tensors.len(), "one gradient per tensor");
        *self.grads[r].lock().unwrap_or_else(|e| e.into_inner()) = w.out;
    }

    /// Rank `r` of `k` updates its share of every tensor.
    ///
    /// # Safety
    /// Every rank has published, and none changes or drops its gradients until every rank has
    /// returned from here; each rank calls this once with its own `r`.
    pub unsafe fn apply(&self, r: usize, k: usize) {
        let grads: Vec<Vec<(usize, usize)>> = self
            .grads
            .iter()
            .map(|g| g.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .collect();
        let cfg = self.cfg;
        for (i, [p, m, v]) in self.tensors.iter().enumerate() {
            let n = p.1;
            let (a, b) = (r * n / k, (r + 1) * n / k);
            if a == b {
                continue;
            }
            // SAFETY: ranks write disjoint shares `a..b` of the tensor's state (the caller's
            // promise: each rank its own `r`), which the optimiser lends for `'a`; the
            // gradients are alive and unchanged.
            let (p, m) = unsafe { (p.part(a, b), m.part(a, b)) };
            let g: Vec<&[f32]> = grads
                .iter()
                .map(|gr| {
                    let (ptr, len) = gr[i];
                    assert_eq!(len, n, "gradient length");
                    // SAFETY: see above.
                    unsafe { std::slice::from_raw_parts((ptr as *const f32).add(a), b - a) }
                })
                .collect();
            // The parts added in order, as `update_sum` adds them.
            let mut sum = g[0].to_vec();
            for more in &g[1..] {
                sum.iter_mut().zip(more.iter()).for_each(|(a, b)| *a += b);
            }
            let v = match cfg.kind {
                // SAFETY: as `p` and `m`.
                OptimizerKind::Adam => unsafe { v.part(a, b) },
                OptimizerKind::Sgd => &mut [],
            };
            update_pass(cfg, self.t, p, &sum, m, v);
        }
    }

    /// Writes the updated values into `model`'s trainable tensors.
    pub fn finish<M: Params<Cpu>>(self, model: &mut M) {
        struct Back<'b> {
            tensors: &'b [[Raw; 3]],
            index: usize,
        }
        impl ParamVisitor<Cpu> for Back<'_> {
            fn visit<S: Shape>(&mut self, _: &str, p: &mut Tensor<S, f32, Cpu>, trainable: bool) {
                if trainable {
                    let v = self.tensors[self.index][0];
                    // SAFETY: the values the optimiser lends for `'a`; no rank runs now.
                    p.copy_from(unsafe { v.part(0, v.1) });
                    self.index += 1;
                }
            }
        }
        model.visit_params(&mut Back {
            tensors: &self.tensors,
            index: 0,
        });
    }
}
