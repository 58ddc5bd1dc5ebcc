//! The device parity check (`adalab bench --device D --check`): forward and backward of each
//! op and three training steps of the bench net on device D and on the CPU, from the same seed,
//! with the largest relative differences.
//!
//! The reference is always the CPU's fast kernels. On CUDA the candidate is the generic ops on
//! the GPU (cuBLAS, dfdx's kernels); with `--device cpu` the ops' candidate is the same generic
//! code on the CPU (so the code CUDA runs is checked here too), and the net runs the CPU
//! kernels twice (a determinism check: its differences must be 0).
//!
//! Tolerances (f32, machine epsilon 1.2e-7):
//! * ops: [`OP_TOLERANCE`] = 1e-4 of the reference's largest magnitude. The longest sums are
//!   BatchNorm's over N·H·W ≤ 4,608 values and GEMMs over 9·I ≤ 288 products; summed in
//!   another order (cuBLAS tiles, atomics in the gather's backward) their rounding stays
//!   orders of magnitude below it, while a wrong index, layout or missing term is O(1).
//! * net: the loss of each of the three steps and the final logits within [`NET_TOLERANCE`] =
//!   1e-3 (three steps of Adam compound the ops' rounding; Adam normalises each gradient, so a
//!   near-zero gradient entry whose sign differs moves a weight by up to lr in either
//!   direction); parameters within 2·steps·lr = 6e-3 in absolute value, Adam's largest
//!   possible disagreement.

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::bench::bench_model_config;
use super::error::ModelError;
use super::head::{one_hot, Head};
use super::net::Model;
use super::ops::{generic, BnMode, OpsDevice, Shape4, T1, T4};
use super::optim::{OptimConfig, Optimizer};
use super::params::{ParamVisitor, Params};
use crate::config::{DeviceKind, OptimizerKind};

pub const OP_TOLERANCE: f64 = 1e-4;
pub const NET_TOLERANCE: f64 = 1e-3;
pub const STEPS: usize = 3;
const LR: f32 = 1e-3;
const NET_BATCH: usize = 32;
const CLASSES: usize = 9;

/// One compared quantity.
#[derive(Clone, Debug, PartialEq)]
pub struct Diff {
    pub what: String,
    /// Largest |candidate − reference| over the reference's largest |value| (absolute for
    /// parameters, see the module docs).
    pub diff: f64,
    pub tolerance: f64,
}

impl Diff {
    pub fn ok(&self) -> bool {
        self.diff.is_finite() && self.diff <= self.tolerance
    }
}

/// The check's result: every difference, in order.
#[derive(Clone, Debug)]
pub struct ParityReport {
    pub device: DeviceKind,
    pub diffs: Vec<Diff>,
}

impl ParityReport {
    pub fn passed(&self) -> bool {
        self.diffs.iter().all(Diff::ok)
    }

    /// The worst difference relative to its tolerance.
    pub fn worst(&self) -> Option<&Diff> {
        self.diffs
            .iter()
            .max_by(|a, b| (a.diff / a.tolerance).total_cmp(&(b.diff / b.tolerance)))
    }
}

fn rel(cand: &[f32], reference: &[f32]) -> f64 {
    if cand.len() != reference.len() {
        return f64::INFINITY;
    }
    let scale = reference
        .iter()
        .map(|v| v.abs() as f64)
        .fold(0.0, f64::max)
        .max(1e-12);
    let worst = cand
        .iter()
        .zip(reference)
        .map(|(a, b)| (*a as f64 - *b as f64).abs())
        .fold(
            0.0,
            |m: f64, d| if d.is_nan() { f64::NAN } else { m.max(d) },
        );
    worst / scale
}

fn abs(cand: &[f32], reference: &[f32]) -> f64 {
    if cand.len() != reference.len() {
        return f64::INFINITY;
    }
    cand.iter()
        .zip(reference)
        .map(|(a, b)| (*a as f64 - *b as f64).abs())
        .fold(
            0.0,
            |m: f64, d| if d.is_nan() { f64::NAN } else { m.max(d) },
        )
}

/// Named vectors an op run produced (outputs and gradients).
type Recorded = Vec<(String, Vec<f32>)>;

fn rand_vec(rng: &mut StdRng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

/// Forward and backward of each op on `dev`, through the generic path (`generic`) or the
/// device's own ops. The loss is `sum(y · r)` with a fixed random `r`.
fn run_ops<D: OpsDevice + 'static>(dev: &D, use_generic: bool) -> Result<Recorded, D::Err>
where
    D::Err: From<CpuError>,
{
    let mut out = Recorded::new();
    let mut rng = StdRng::seed_from_u64(7);
    let xs: Shape4 = (4, 3, 12, 11);
    for (pad, with_bias) in [(0, false), (1, true)] {
        let ws: Shape4 = (8, 3, 3, 3);
        let x: T4<D> = dev.try_tensor_from_vec(rand_vec(&mut rng, 4 * 3 * 12 * 11), xs)?;
        let w: T4<D> = dev.try_tensor_from_vec(rand_vec(&mut rng, 8 * 27), ws)?;
        let b: Option<T1<D>> = if with_bias {
            Some(dev.try_tensor_from_vec(rand_vec(&mut rng, 8), (8,))?)
        } else {
            None
        };
        let y = if use_generic {
            generic::conv3x3(x.trace(Gradients::leaky()), &w, b.as_ref(), pad)?
        } else {
            D::conv3x3(x.trace(Gradients::leaky()), &w, b.as_ref(), pad)?
        };
        let ys = *y.shape();
        let r: T4<D> = dev.try_tensor_from_vec(rand_vec(&mut rng, ys.num_elements()), ys)?;
        out.push((
            format!("conv3x3 pad={pad} forward"),
            y.retaped::<NoneTape>().as_vec(),
        ));
        let g = y.try_mul(r)?.try_sum()?.backward();
        let what = format!("conv3x3 pad={pad}");
        out.push((format!("{what} grad x"), g.get(&x).as_vec()));
        out.push((format!("{what} grad w"), g.get(&w).as_vec()));
        if let Some(b) = &b {
            out.push((format!("{what} grad bias"), g.get(b).as_vec()));
        }
    }
    for mode in [BnMode::Train { momentum: 0.1 }, BnMode::Eval] {
        let c = xs.1;
        let x: T4<D> = dev.try_tensor_from_vec(rand_vec(&mut rng, xs.num_elements()), xs)?;
        let gamma: T1<D> = dev.try_tensor_from_vec(rand_vec(&mut rng, c), (c,))?;
        let beta: T1<D> = dev.try_tensor_from_vec(rand_vec(&mut rng, c), (c,))?;
        let mut rm: T1<D> = dev.try_tensor_from_vec(rand_vec(&mut rng, c), (c,))?;
        let var: Vec<f32> = (0..c).map(|_| rng.gen_range(0.5f32..2.0)).collect();
        let mut rv: T1<D> = dev.try_tensor_from_vec(var, (c,))?;
        let y = if use_generic {
            generic::batchnorm_relu(
                x.trace(Gradients::leaky()),
                &gamma,
                &beta,
                &mut rm,
                &mut rv,
                mode,
            )?
        } else {
            D::batchnorm_relu(
                x.trace(Gradients::leaky()),
                &gamma,
                &beta,
                &mut rm,
                &mut rv,
                mode,
            )?
        };
        let r: T4<D> = dev.try_tensor_from_vec(rand_vec(&mut rng, xs.num_elements()), xs)?;
        let what = match mode {
            BnMode::Train { .. } => "batchnorm_relu train",
            BnMode::Eval => "batchnorm_relu eval",
        };
        out.push((format!("{what} forward"), y.retaped::<NoneTape>().as_vec()));
        let g = y.try_mul(r)?.try_sum()?.backward();
        out.push((format!("{what} grad x"), g.get(&x).as_vec()));
        out.push((format!("{what} grad gamma"), g.get(&gamma).as_vec()));
        out.push((format!("{what} grad beta"), g.get(&beta).as_vec()));
        out.push((format!("{what} running mean"), rm.as_vec()));
        out.push((format!("{what} running var"), rv.as_vec()));
    }
    {
        // Distinct values: no ties, where the two paths may route the gradient differently.
        let n = xs.num_elements();
        let mut v: Vec<f32> = (0..n).map(|i| i as f32 / n as f32 - 0.5).collect();
        for i in (1..n).rev() {
            v.swap(i, rng.gen_range(0..=i));
        }
        let x: T4<D> = dev.try_tensor_from_vec(v, xs)?;
        let y = if use_generic {
            generic::maxpool2(x.trace(Gradients::leaky()))?
        } else {
            D::maxpool2(x.trace(Gradients::leaky()))?
        };
        let ys = *y.shape();
        let r: T4<D> = dev.try_tensor_from_vec(rand_vec(&mut rng, ys.num_elements()), ys)?;
        out.push(("maxpool2 forward".into(), y.retaped::<NoneTape>().as_vec()));
        let g = y.try_mul(r)?.try_sum()?.backward();
        out.push(("maxpool2 grad x".into(), g.get(&x).as_vec()));
    }
    Ok(out)
}

/// What three training steps of the bench net produce.
struct NetTrace {
    losses: Vec<f32>,
    logits: Vec<f32>,
    params: Vec<f32>,
}

struct Collect(Vec<f32>);
impl<D: Device<f32>> ParamVisitor<D> for Collect {
    fn visit<S: Shape>(&mut self, _: &str, t: &mut Tensor<S, f32, D>, _: bool) {
        self.0.extend(t.as_vec());
    }
}

fn run_net<D: OpsDevice + 'static>(
    dev: &D,
    input: (usize, usize, usize),
) -> Result<NetTrace, ModelError> {
    let (mcfg, hcfg) = bench_model_config();
    let mut rng = StdRng::seed_from_u64(0);
    let mut model = Model::new(dev, &mcfg, &hcfg, input, CLASSES, &mut rng)?;
    let mut opt = Optimizer::new(OptimConfig {
        kind: OptimizerKind::Adam,
        lr: LR,
        weight_decay: 0.0,
        momentum: 0.9,
        betas: (0.9, 0.999),
        eps: 1e-8,
    });
    let (c, h, w) = input;
    let x: Vec<f32> = (0..NET_BATCH * c * h * w)
        .map(|_| rng.gen::<f32>())
        .collect();
    let labels: Vec<usize> = (0..NET_BATCH).map(|_| rng.gen_range(0..CLASSES)).collect();
    let xt: T4<D> = dev.tensor_from_vec(x, (NET_BATCH, c, h, w));
    let oh = one_hot(dev, &labels, CLASSES);
    let mut losses = Vec::new();
    for _ in 0..STEPS {
        let emb = model
            .backbone
            .forward(xt.clone().trace(Gradients::leaky()), true);
        let (logits, _) = model.head.logits(emb, &oh);
        let loss = Head::<D>::loss(logits, &oh);
        losses.push(loss.retaped::<NoneTape>().as_vec()[0]);
        let mut grads = loss.backward();
        opt.update(&mut model, &mut grads);
    }
    let emb = model.backbone.forward(xt, false);
    let (logits, _) = model.head.logits(emb, &oh);
    let mut params = Collect(Vec::new());
    model.visit_params(&mut params);
    Ok(NetTrace {
        losses,
        logits: logits.as_vec(),
        params: params.0,
    })
}

fn compare(
    diffs: &mut Vec<Diff>,
    cand: Recorded,
    reference: Recorded,
    net: Vec<(NetTrace, NetTrace, (usize, usize, usize))>,
) {
    for ((what, c), (_, r)) in cand.iter().zip(&reference) {
        diffs.push(Diff {
            what: what.clone(),
            diff: rel(c, r),
            tolerance: OP_TOLERANCE,
        });
    }
    for (c, r, (ch, h, w)) in net {
        let tag = format!("net {ch}x{h}x{w} batch {NET_BATCH}");
        for (i, (a, b)) in c.losses.iter().zip(&r.losses).enumerate() {
            diffs.push(Diff {
                what: format!("{tag} loss step {}", i + 1),
                diff: rel(&[*a], &[*b]),
                tolerance: NET_TOLERANCE,
            });
        }
        diffs.push(Diff {
            what: format!("{tag} logits after {STEPS} steps"),
            diff: rel(&c.logits, &r.logits),
            tolerance: NET_TOLERANCE,
        });
        diffs.push(Diff {
            what: format!("{tag} parameters after {STEPS} steps (absolute)"),
            diff: abs(&c.params, &r.params),
            tolerance: 2.0 * STEPS as f64 * LR as f64,
        });
    }
}

const NET_INPUTS: [(usize, usize, usize); 2] = [(1, 28, 28), (3, 32, 32)];

fn device_err<E: std::fmt::Debug>(e: E) -> ModelError {
    let text = format!("{e:?}");
    ModelError::Device {
        message: super::device::describe_cuda_failure(&text)
            .unwrap_or_else(|| format!("the parity check failed on the device: {text}")),
    }
}

/// Runs the check on `device` against the CPU (on the calling thread's rayon pool).
pub fn check_parity(device: DeviceKind) -> Result<ParityReport, ModelError> {
    let cpu = Cpu::seed_from_u64(0);
    let reference = run_ops(&cpu, false).map_err(device_err)?;
    let mut ref_net = Vec::new();
    for input in NET_INPUTS {
        ref_net.push(run_net(&cpu, input)?);
    }
    let (cand, cand_net) = match device {
        DeviceKind::Cpu => {
            let ops = run_ops(&cpu, true).map_err(device_err)?;
            let mut net = Vec::new();
            for input in NET_INPUTS {
                net.push(run_net(&cpu, input)?);
            }
            (ops, net)
        }
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda => {
            let dev = super::device::open_cuda(0)?;
            let ops = run_ops(&dev, true).map_err(device_err)?;
            let mut net = Vec::new();
            for input in NET_INPUTS {
                net.push(run_net(&dev, input)?);
            }
            (ops, net)
        }
        #[cfg(not(feature = "cuda"))]
        DeviceKind::Cuda => match super::device::open_cuda(0)? {},
    };
    let mut diffs = Vec::new();
    let net = cand_net
        .into_iter()
        .zip(ref_net)
        .zip(NET_INPUTS)
        .map(|((c, r), i)| (c, r, i))
        .collect();
    compare(&mut diffs, cand, reference, net);
    Ok(ParityReport { device, diffs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_passes_against_itself_and_the_generic_path_matches_its_kernels() {
        let r = check_parity(DeviceKind::Cpu).unwrap();
        assert!(r.passed(), "{:?}", r.worst());
        assert!(r.diffs.len() > 20);
        for d in &r.diffs {
            if d.what.starts_with("net") {
                assert_eq!(d.diff, 0.0, "{}: the same kernels twice", d.what);
            }
        }
        // The ops really ran through two different code paths.
        assert!(r
            .diffs
            .iter()
            .any(|d| d.what.starts_with("conv3x3") && d.diff > 0.0));
    }

    #[test]
    fn differences_are_relative_to_the_reference_and_nan_fails() {
        assert_eq!(rel(&[1.0, 2.0], &[1.0, 4.0]), 0.5);
        assert!(rel(&[1.0], &[1.0, 2.0]).is_infinite());
        let d = Diff {
            what: "x".into(),
            diff: rel(&[f32::NAN], &[1.0]),
            tolerance: 1.0,
        };
        assert!(!d.ok());
    }
}
