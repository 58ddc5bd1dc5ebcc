//! The fused ops: BatchNorm → ReLU → 2×2 max-pool ([`batchnorm_relu_maxpool2`]) and a whole
//! conv block, conv3x3 → BatchNorm → ReLU → max-pool ([`conv_block`]), whose conv output never
//! becomes a dfdx tensor.

use super::batchnorm::{add_bn_param_grads, bn_coef, bn_input};
use super::conv::ConvPlan;
use super::direct::DirectGrads;
use super::pool::{bn_pool_backward, bn_pool_forward, bn_pool_sums, pool_plane, BnPoolGrad};
use super::{filled, give, read, with_outer};
use crate::model::ops::{arg_err, check_batchnorm, check_maxpool2, BnMode, T1, T4};
use dfdx::prelude::*;
use rayon::prelude::*;

/// Images per task of the inference path: enough columns for full GEMM tiles (4 × 121 of
/// 11 × 11 outputs fill 97% of 48-wide tiles), few enough for the conv output to stay in cache.
const EVAL_GROUP: usize = 4;

/// BatchNorm → ReLU → 2×2 max-pool in one pass; see
/// [`crate::model::ops::OpsDevice::batchnorm_relu_maxpool2`].
pub(crate) fn batchnorm_relu_maxpool2<T: Tape<f32, Cpu>>(
    x: T4<Cpu, T>,
    gamma: &T1<Cpu>,
    beta: &T1<Cpu>,
    running_mean: &mut T1<Cpu>,
    running_var: &mut T1<Cpu>,
    mode: BnMode,
) -> Result<T4<Cpu, T>, CpuError> {
    let (oh, ow) = check_maxpool2(*x.shape()).map_err(arg_err)?;
    let (x, xv, tape) = bn_input(x, gamma, beta, running_mean, running_var, mode)?;
    let shape = *x.shape();
    let (n, c, _, _) = shape;
    let kc = bn_coef(&xv, shape, gamma, beta, running_mean, running_var, mode);
    let (out, sel) = bn_pool_forward(&xv, shape, &kc, T::OWNS_TAPE);
    let out = x.device().try_tensor_from_vec(out, (n, c, oh, ow))?;
    if !T::OWNS_TAPE {
        return Ok(out.put_tape(tape));
    }

    let (x_ghost, g_ghost, b_ghost, out_ghost) =
        (x.ghost(), gamma.ghost(), beta.ghost(), out.ghost());
    drop(x);
    let mut tape = tape;
    tape.add_backward_op(move |grads| {
        let gy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
        let gx: &mut [f32] = grads.get_or_alloc_mut(&x_ghost)?;
        let sums = bn_pool_backward(Some(&xv), gx, shape, &kc, &sel, &gy);
        add_bn_param_grads!(grads, &g_ghost, &b_ghost, sums);
        **grads.get_or_alloc_mut(&out_ghost)? = gy;
        Ok(())
    });
    Ok(out.put_tape(tape))
}

/// conv3x3 → BN → ReLU → 2×2 max-pool as one op; see
/// [`crate::model::ops::OpsDevice::conv_block`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv_block<T: Tape<f32, Cpu>>(
    x: T4<Cpu, T>,
    w: &T4<Cpu>,
    bias: Option<&T1<Cpu>>,
    pad: usize,
    gamma: &T1<Cpu>,
    beta: &T1<Cpu>,
    running_mean: &mut T1<Cpu>,
    running_var: &mut T1<Cpu>,
    mode: BnMode,
    input_grad: bool,
) -> Result<T4<Cpu, T>, CpuError> {
    let shape = *x.shape();
    let plan = ConvPlan::new(shape, *w.shape(), bias.map(|b| b.shape().0), pad)?;
    let yshape = plan.out_shape();
    let (n, co, _, _) = yshape;
    let params = [
        gamma.shape().0,
        beta.shape().0,
        running_mean.shape().0,
        running_var.shape().0,
    ];
    check_batchnorm(yshape, params, mode).map_err(arg_err)?;
    let (oh, ow) = check_maxpool2(yshape).map_err(arg_err)?;

    let x = x.try_reshape_like(&shape)?;
    let (x, tape) = x.split_tape();
    let xv = read(&x);
    let wv = read(w);
    let bv = bias.map(read);
    if !T::OWNS_TAPE && mode == BnMode::Eval {
        // Nothing to remember and no batch statistics: a few images at a time go through the
        // whole block, their conv output staying in a per-thread buffer (in cache).
        let kc = bn_coef(&[], yshape, gamma, beta, running_mean, running_var, mode);
        let (img, plane) = (shape.1 * shape.2 * shape.3, oh * ow);
        let (yh, yw) = (yshape.2, yshape.3);
        let group = EVAL_GROUP.min(n.div_ceil(rayon::current_num_threads()).max(1));
        if let Some(wn) = plan.pooling_wino(&wv) {
            // Winograd's tiles are the pooling windows: the conv output is never written.
            let mut shift = kc.shift.clone();
            if let Some(bv) = &bv {
                shift
                    .iter_mut()
                    .zip(bv.iter().zip(&kc.scale))
                    .for_each(|(s, (b, k))| *s += b * k);
            }
            // SAFETY: `forward_pooled` writes every element of its images' planes.
            let out = unsafe {
                filled(n * co * plane, |out| {
                    out.par_chunks_mut(group * co * plane)
                        .zip(xv.par_chunks(group * img))
                        .for_each(|(o, xs)| wn.forward_pooled(xs, (&kc.scale, &shift), o))
                })
            };
            give(xv);
            let out = x.device().try_tensor_from_vec(out, (n, co, oh, ow))?;
            return Ok(out.put_tape(tape));
        }
        let wts = plan.prepare(&wv, n.div_ceil(group));
        // SAFETY: `pool_plane` writes every plane of every image.
        let out = unsafe {
            filled(n * co * plane, |out| {
                out.par_chunks_mut(group * co * plane)
                    .zip(xv.par_chunks(group * img))
                    .for_each(|(o, xs)| {
                        let m = xs.len() / img;
                        with_outer(m * co * yh * yw, |y| {
                            plan.forward_images(xs, &wts, bv.as_deref(), y);
                            let planes = y.chunks(yh * yw).zip(o.chunks_mut(plane)).zip(0..);
                            for ((yc, oc), pl) in planes {
                                let (sc, sh) = (kc.scale[pl % co], kc.shift[pl % co]);
                                pool_plane(yc, yw, (oh, ow), sc, sh, oc, None);
                            }
                        });
                    })
            })
        };
        give(xv);
        let out = x.device().try_tensor_from_vec(out, (n, co, oh, ow))?;
        return Ok(out.put_tape(tape));
    }
    // The conv output stays ours: no dfdx tensor, no copy, no dfdx gradient buffer for it.
    let yv = plan.forward(&xv, &wv, bv.as_deref());
    let kc = bn_coef(&yv, yshape, gamma, beta, running_mean, running_var, mode);
    let (out, sel) = bn_pool_forward(&yv, yshape, &kc, T::OWNS_TAPE);
    let out = x.device().try_tensor_from_vec(out, (n, co, oh, ow))?;
    if !T::OWNS_TAPE {
        give(xv);
        give(yv);
        return Ok(out.put_tape(tape));
    }

    // A first layer on one-channel images computes its gradients without its conv output
    // ([`first_layer_grads`]): the buffer goes back now, not after the backward.
    let yv = if !input_grad && plan.direct_grads_ok() {
        give(yv);
        None
    } else {
        Some(yv)
    };
    let (x_ghost, w_ghost, out_ghost) = (x.ghost(), w.ghost(), out.ghost());
    let b_ghost = bias.map(|b| b.ghost());
    let (g_ghost, be_ghost) = (gamma.ghost(), beta.ghost());
    drop(x);
    let mut tape = tape;
    tape.add_backward_op(move |grads| {
        let gy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
        let (mine, sums) = bn_pool_sums(yshape, &kc, &sel, &gy);
        let bp = BnPoolGrad {
            shape: yshape,
            kc: &kc,
            sel: &sel,
            gy: &gy,
            sums: &sums,
        };
        let (dw, db) = match yv {
            None => first_layer_grads(&plan, &xv, &wv, bv.as_deref(), &bp),
            Some(mut gz) => {
                // The conv output's buffer becomes its gradient, computed by each of the
                // conv's backward tasks for its images just before their conv backward.
                let prep = |img: usize, gzc: &mut [f32]| bp.planes(img * co, gzc, None);
                let dwb = if input_grad {
                    let gx: &mut [f32] = grads.get_or_alloc_mut(&x_ghost)?;
                    plan.backward(&xv, &wv, &mut gz, Some(gx), Some(&prep))
                } else {
                    plan.backward(&xv, &wv, &mut gz, None, Some(&prep))
                };
                give(gz);
                dwb
            }
        };
        add_bn_param_grads!(grads, &g_ghost, &be_ghost, mine);
        add_grad!(grads, &w_ghost, dw);
        if let Some(b_ghost) = &b_ghost {
            add_grad!(grads, b_ghost, db);
        }
        **grads.get_or_alloc_mut(&out_ghost)? = gy;
        give(xv);
        sel.recycle();
        Ok(())
    });
    Ok(out.put_tape(tape))
}

/// (dW, dbias) of a first conv block on one-channel images (no input gradient) without its
/// conv output x, which was left in memory long before the backward and is slow to read back:
/// the output gradient of each image, −(k0 + k1·(x − μ)) everywhere plus each pooling
/// window's gradient at its maximum ([`BnPoolGrad`]), is linear in x, and x = W·p + b
/// (p: the 3×3 input patch under the output). So the window part goes through the weight
/// gradient's kernel image by image in a reused buffer, and the rest is summed in closed
/// form from the patches' sums S and Gram matrix G, in `f64`: for channel c,
/// dW_c −= a_c·S + k1_c·G·W_c and db_c −= a_c·P + k1_c·W_c·S, a_c = k0_c + k1_c·(b_c − μ_c),
/// P the number of output positions. The same gradients as through x, up to rounding.
fn first_layer_grads(
    plan: &ConvPlan,
    xv: &[f32],
    wv: &[f32],
    bv: Option<&[f32]>,
    bp: &BnPoolGrad,
) -> (Vec<f32>, Vec<f32>) {
    let (n, co, oh, ow) = plan.out_shape();
    let grad = |img: usize, gz: &mut [f32]| bp.pooled_planes(img * co, gz);
    let DirectGrads {
        mut dw,
        mut db,
        gram,
    } = plan.direct_grads(xv, &grad, bp.kc.train);
    if let Some((s, g)) = gram {
        let positions = (n * oh * ow) as f64;
        for c in 0..co {
            let (k0, k1, mu) = bp.coef(c);
            let (k1, b) = (k1 as f64, bv.map_or(0.0, |b| b[c] as f64));
            let a = k0 as f64 + k1 * (b - mu as f64);
            let wc = &wv[c * 9..(c + 1) * 9];
            for k in 0..9 {
                let gw: f64 = (0..9).map(|j| g[j * 9 + k] * wc[j] as f64).sum();
                dw[c * 9 + k] -= (a * s[k] + k1 * gw) as f32;
            }
            let sw: f64 = (0..9).map(|j| s[j] * wc[j] as f64).sum();
            db[c] -= (a * positions + k1 * sw) as f32;
        }
    }
    (dw, db)
}
