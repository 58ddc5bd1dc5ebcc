//! BatchNorm + ReLU in one pass ([`batchnorm_relu`]), and the BatchNorm pieces the fused ops
//! share: the per-channel coefficients, the gradient sums, the parameter-gradient update.

use super::{lane_sum, read, team, LANES};
use crate::model::ops::{arg_err, check_batchnorm, BnMode, Shape4, BN_EPS, T1, T4};
use dfdx::prelude::*;
use rayon::prelude::*;

/// ReLU that keeps NaN (as PyTorch does), so a diverged batch surfaces as a NaN loss.
#[inline(always)]
pub(super) fn relu(z: f32) -> f32 {
    if z <= 0.0 {
        0.0
    } else {
        z
    }
}

/// `dy` where `z > 0`, else 0 (compiles to a select, not a branch).
#[inline(always)]
pub(super) fn relu_grad(z: f32, dy: f32) -> f32 {
    if z > 0.0 {
        dy
    } else {
        0.0
    }
}

/// (Σ dz, Σ dz·x̂) over one plane, dz = dy·[x·sc + sh > 0], x̂ = (x − μ)·inv.
#[inline(always)]
pub(super) fn bn_grad_sums(
    x: &[f32],
    dy: &[f32],
    sc: f32,
    sh: f32,
    mu: f32,
    inv: f32,
) -> (f32, f32) {
    let (mut a1, mut a2) = ([0.0f32; LANES], [0.0f32; LANES]);
    let (xc, dc) = (x.chunks_exact(LANES), dy.chunks_exact(LANES));
    let (xr, dr) = (xc.remainder(), dc.remainder());
    for (xs, ds) in xc.zip(dc) {
        for j in 0..LANES {
            let dz = relu_grad(xs[j] * sc + sh, ds[j]);
            a1[j] += dz;
            a2[j] += dz * ((xs[j] - mu) * inv);
        }
    }
    let (mut s1, mut s2) = (a1.iter().sum::<f32>(), a2.iter().sum::<f32>());
    for (x, dy) in xr.iter().zip(dr) {
        let dz = relu_grad(x * sc + sh, *dy);
        s1 += dz;
        s2 += dz * ((x - mu) * inv);
    }
    (s1, s2)
}

/// Per-channel affine map of a BatchNorm: y = relu(x·scale + shift), x̂ = (x − mean)·invstd.
pub(super) struct BnCoef {
    pub(super) mean: Vec<f32>,
    pub(super) invstd: Vec<f32>,
    pub(super) scale: Vec<f32>,
    pub(super) shift: Vec<f32>,
    pub(super) train: bool,
    /// Values per channel the statistics are over (the whole batch's, on a rank of a team).
    pub(super) count: usize,
}

/// Batch (Train) or running (Eval) statistics of `xv` (N, C, H·W); updates the running
/// statistics in Train mode.
pub(super) fn bn_coef(
    xv: &[f32],
    (n, c, h, w): Shape4,
    gamma: &T1<Cpu>,
    beta: &T1<Cpu>,
    running_mean: &mut T1<Cpu>,
    running_var: &mut T1<Cpu>,
    mode: BnMode,
) -> BnCoef {
    let hw = h * w;
    let mut m = n * hw;
    let (mean, invstd) = match mode {
        BnMode::Train { momentum } => {
            let stats = if team::active() {
                let (stats, total) = team_stats(xv, (n, c, hw));
                m = total;
                stats
            } else {
                // Two passes per channel (mean, then squared deviations), f64 across planes.
                (0..c)
                    .into_par_iter()
                    .map(|ch| {
                        let planes = (0..n).map(|b| &xv[(b * c + ch) * hw..(b * c + ch + 1) * hw]);
                        let s: f64 = planes.clone().map(|pl| lane_sum(pl, |v| v) as f64).sum();
                        let mean = (s / m as f64) as f32;
                        let ss: f64 = planes
                            .map(|pl| lane_sum(pl, |v| (v - mean) * (v - mean)) as f64)
                            .sum();
                        (mean, (ss / m as f64) as f32)
                    })
                    .collect::<Vec<_>>()
            };
            let mut rm = read(running_mean);
            let mut rv = read(running_var);
            let unbias = m as f32 / (m as f32 - 1.0);
            for ((rm, rv), (mean, var)) in rm.iter_mut().zip(rv.iter_mut()).zip(&stats) {
                *rm = (1.0 - momentum) * *rm + momentum * mean;
                *rv = (1.0 - momentum) * *rv + momentum * var * unbias;
            }
            running_mean.copy_from(&rm);
            running_var.copy_from(&rv);
            stats
                .iter()
                .map(|&(mean, var)| (mean, 1.0 / (var + BN_EPS).sqrt()))
                .unzip::<_, _, Vec<f32>, Vec<f32>>()
        }
        BnMode::Eval => {
            let rv = read(running_var);
            (
                read(running_mean),
                rv.iter().map(|v| 1.0 / (v + BN_EPS).sqrt()).collect(),
            )
        }
    };
    let (gv, bv) = (read(gamma), read(beta));
    let scale: Vec<f32> = (0..c).map(|ch| gv[ch] * invstd[ch]).collect();
    let shift: Vec<f32> = (0..c).map(|ch| bv[ch] - mean[ch] * scale[ch]).collect();
    BnCoef {
        mean,
        invstd,
        scale,
        shift,
        train: matches!(mode, BnMode::Train { .. }),
        count: m,
    }
}

/// [`bn_coef`]'s (mean, biased variance) per channel on a rank of a [`team`]: the same two
/// passes, each rank's `f64` sums reduced across the ranks before dividing; and the values per
/// channel in the whole batch.
fn team_stats(xv: &[f32], (n, c, hw): (usize, usize, usize)) -> (Vec<(f32, f32)>, usize) {
    let planes = |ch: usize| (0..n).map(move |b| &xv[(b * c + ch) * hw..(b * c + ch + 1) * hw]);
    let mut s: Vec<f64> = (0..c)
        .map(|ch| planes(ch).map(|pl| lane_sum(pl, |v| v) as f64).sum())
        .collect();
    s.push((n * hw) as f64);
    team::allreduce(&mut s);
    let m = s[c];
    let mean: Vec<f32> = s[..c].iter().map(|s| (s / m) as f32).collect();
    let mut ss: Vec<f64> = (0..c)
        .map(|ch| {
            let mu = mean[ch];
            planes(ch)
                .map(|pl| lane_sum(pl, |v| (v - mu) * (v - mu)) as f64)
                .sum()
        })
        .collect();
    team::allreduce(&mut ss);
    let stats = mean
        .into_iter()
        .zip(ss)
        .map(|(mu, ss)| (mu, (ss / m) as f32))
        .collect();
    (stats, m as usize)
}

/// Reads and validates a BatchNorm input; returns (x without tape, its data, tape).
#[allow(clippy::type_complexity)]
pub(super) fn bn_input<T: Tape<f32, Cpu>>(
    x: T4<Cpu, T>,
    gamma: &T1<Cpu>,
    beta: &T1<Cpu>,
    running_mean: &T1<Cpu>,
    running_var: &T1<Cpu>,
    mode: BnMode,
) -> Result<(T4<Cpu>, Vec<f32>, T), CpuError> {
    let shape = *x.shape();
    let params = [
        gamma.shape().0,
        beta.shape().0,
        running_mean.shape().0,
        running_var.shape().0,
    ];
    check_batchnorm(shape, params, mode).map_err(arg_err)?;
    let x = x.try_reshape_like(&shape)?;
    let (x, tape) = x.split_tape();
    let xv = read(&x);
    Ok((x, xv, tape))
}

/// Per channel (Σ dz, Σ dz·x̂) of this rank's images ([`team`]; all of them outside one), as
/// (these images' sums: their part of the gradients of beta and gamma, the whole batch's: what
/// the input gradient needs). Outside a team both are the same.
pub(super) fn param_and_batch_sums(local: Vec<(f64, f64)>) -> (Vec<(f32, f32)>, Vec<(f32, f32)>) {
    let cast = |v: &[(f64, f64)]| v.iter().map(|&(a, b)| (a as f32, b as f32)).collect();
    let mine: Vec<(f32, f32)> = cast(&local);
    if !team::active() {
        return (mine.clone(), mine);
    }
    let mut flat: Vec<f64> = local.iter().flat_map(|&(a, b)| [a, b]).collect();
    team::allreduce(&mut flat);
    let batch: Vec<(f64, f64)> = flat.chunks_exact(2).map(|p| (p[0], p[1])).collect();
    (mine, cast(&batch))
}

/// gamma += Σ dz·x̂, beta += Σ dz (a macro: the ghost tensors' type is private to dfdx).
macro_rules! add_bn_param_grads {
    ($grads:expr, $g_ghost:expr, $b_ghost:expr, $sums:expr) => {{
        let gg: &mut [f32] = $grads.get_or_alloc_mut($g_ghost)?;
        gg.iter_mut().zip($sums.iter()).for_each(|(g, s)| *g += s.1);
        let gb: &mut [f32] = $grads.get_or_alloc_mut($b_ghost)?;
        gb.iter_mut().zip($sums.iter()).for_each(|(g, s)| *g += s.0);
    }};
}
pub(super) use add_bn_param_grads;

pub(crate) fn batchnorm_relu<T: Tape<f32, Cpu>>(
    x: T4<Cpu, T>,
    gamma: &T1<Cpu>,
    beta: &T1<Cpu>,
    running_mean: &mut T1<Cpu>,
    running_var: &mut T1<Cpu>,
    mode: BnMode,
) -> Result<T4<Cpu, T>, CpuError> {
    let (x, xv, tape) = bn_input(x, gamma, beta, running_mean, running_var, mode)?;
    let shape = *x.shape();
    let (n, c, h, w) = shape;
    let hw = h * w;
    let k = bn_coef(&xv, shape, gamma, beta, running_mean, running_var, mode);
    let m = k.count;

    let mut out = vec![0.0f32; n * c * hw];
    out.par_chunks_mut(hw)
        .zip(xv.par_chunks(hw))
        .enumerate()
        .for_each(|(plane, (o, xi))| {
            let (sc, sh) = (k.scale[plane % c], k.shift[plane % c]);
            for (o, x) in o.iter_mut().zip(xi) {
                *o = relu(x * sc + sh);
            }
        });
    let out = x.device().try_tensor_from_vec(out, shape)?;
    if !T::OWNS_TAPE {
        return Ok(out.put_tape(tape));
    }

    let (x_ghost, g_ghost, b_ghost, out_ghost) =
        (x.ghost(), gamma.ghost(), beta.ghost(), out.ghost());
    drop(x);
    let mut tape = tape;
    tape.add_backward_op(move |grads| {
        let gy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
        // Per channel: Σ dz and Σ dz·x̂, where dz = dy · [z > 0].
        let local: Vec<(f64, f64)> = (0..c)
            .into_par_iter()
            .map(|ch| {
                let (sc, sh, mu, inv) = (k.scale[ch], k.shift[ch], k.mean[ch], k.invstd[ch]);
                let (mut s1, mut s2) = (0.0f64, 0.0f64);
                for b in 0..n {
                    let r = (b * c + ch) * hw..(b * c + ch + 1) * hw;
                    let (p1, p2) = bn_grad_sums(&xv[r.clone()], &gy[r], sc, sh, mu, inv);
                    s1 += p1 as f64;
                    s2 += p2 as f64;
                }
                (s1, s2)
            })
            .collect();
        let (mine, sums) = param_and_batch_sums(local);
        let gx: &mut [f32] = grads.get_or_alloc_mut(&x_ghost)?;
        gx.par_chunks_mut(hw)
            .zip(xv.par_chunks(hw))
            .zip(gy.par_chunks(hw))
            .enumerate()
            .for_each(|(plane, ((gx, xi), gyi))| {
                let ch = plane % c;
                let (sc, sh, mu, inv) = (k.scale[ch], k.shift[ch], k.mean[ch], k.invstd[ch]);
                if k.train {
                    let (a, bb) = (sums[ch].0 / m as f32, sums[ch].1 / m as f32);
                    for ((g, x), dy) in gx.iter_mut().zip(xi).zip(gyi) {
                        *g += sc * (relu_grad(x * sc + sh, *dy) - a - (x - mu) * inv * bb);
                    }
                } else {
                    for ((g, x), dy) in gx.iter_mut().zip(xi).zip(gyi) {
                        *g += sc * relu_grad(x * sc + sh, *dy);
                    }
                }
            });
        add_bn_param_grads!(grads, &g_ghost, &b_ghost, mine);
        **grads.get_or_alloc_mut(&out_ghost)? = gy;
        Ok(())
    });
    Ok(out.put_tape(tape))
}
