//! The ops composed from dfdx's own differentiable ops, generic over the device.
//!
//! This is the path non-CPU devices run (dfdx gives no public access to device memory in a
//! forward pass) and the executable specification the fast CPU kernels are tested against.
//! Every call that has a precondition in dfdx's CUDA kernels goes through [`super::legal`],
//! which checks it on every device, and every index table is built once per shape and kept
//! on the device ([`super::tables`]), so a step uploads nothing:
//!
//! * conv3x3: one `gather` builds the im2col matrix `(9·I, N·P)` (padding reads the zero half
//!   of `[x, 0·x]`), one 2-D GEMM `weight (O, 9·I) × cols` gives `(O, N·P)`, a second `gather`
//!   reorders it to `(N, O, P)`. No broadcast batch, no per-step mask, no non-contiguous
//!   reshape.
//! * maxpool2: a `gather` of the 4 window taps onto a leading axis, then `max` over it.
//!   dfdx's `max` sends the gradient to *every* tied maximum (the CPU kernel to the first one);
//!   the two only differ on exact ties, e.g. all-zero windows after a ReLU, where the ReLU's
//!   zero gradient hides the difference.
//! * batchnorm_relu: mean/variance reductions, broadcast arithmetic, `relu` (no layout
//!   preconditions on CUDA).

use super::legal::{self, Laid};
use super::{arg_err, check_batchnorm, check_conv3x3, check_maxpool2, tables, BnMode, BN_EPS};
use super::{T1, T4};
use dfdx::prelude::*;

/// 3×3 conv, stride 1, padding `pad` (0 or 1), optional bias; x (N,I,H,W), w (O,I,3,3).
pub fn conv3x3<D: Device<f32> + 'static, T: Tape<f32, D>>(
    x: T4<D, T>,
    w: &T4<D>,
    bias: Option<&T1<D>>,
    pad: usize,
) -> Result<T4<D, T>, D::Err>
where
    D::Err: From<CpuError>,
{
    let xs = *x.shape();
    let (n, ci, h, wd) = xs;
    let co = w.shape().0;
    let (oh, ow) =
        check_conv3x3(xs, *w.shape(), bias.map(|b| b.shape().0), pad).map_err(arg_err)?;
    let (p, k, m) = (oh * ow, ci * 9, n * ci * h * wd);
    let dev = x.device().clone();
    let cols_idx = tables::conv_cols(&dev, xs, pad, (oh, ow))?;
    let out_idx = tables::conv_out(&dev, (n, co, p))?;

    let flat = legal::reshape("conv3x3 input", Laid::fresh(x), (m,))?;
    let src = if pad > 0 {
        let sel = tables::pad_selector(&dev)?.try_broadcast_like::<_, Axis<1>>(&(2, m))?;
        let both = legal::broadcast::<_, _, Axis<0>, _, _>(flat, &(2, m))?;
        let both = Laid::fresh(both.t.try_mul(sel)?);
        legal::reshape("conv3x3 padding", both, (2 * m,))?
    } else {
        flat
    };
    let cols = legal::gather("conv3x3 im2col", src, &cols_idx)?;
    let cols = legal::reshape("conv3x3 im2col", cols, (k, n * p))?;
    let wmat = legal::reshape("conv3x3 weight", Laid::fresh(w.retaped::<T>()), (co, k))?;
    let mut out = legal::matmul("conv3x3", wmat, cols)?;
    if let Some(b) = bias {
        let b = b
            .retaped::<T>()
            .try_broadcast_like::<_, Axis<1>>(&(co, n * p))?;
        out = Laid::fresh(out.t.try_add(b)?);
    }
    let out = legal::reshape("conv3x3 output", out, (co * n * p,))?;
    let out = legal::gather("conv3x3 output", out, &out_idx)?;
    Ok(legal::reshape("conv3x3 output", out, (n, co, oh, ow))?.t)
}

/// Per-channel BatchNorm (gamma, beta trainable) followed by ReLU; see [`super::BnMode`].
///
/// In Train mode the running statistics are replaced by new tensors (new ids).
pub fn batchnorm_relu<D: Device<f32> + 'static, T: Tape<f32, D>>(
    x: T4<D, T>,
    gamma: &T1<D>,
    beta: &T1<D>,
    running_mean: &mut T1<D>,
    running_var: &mut T1<D>,
    mode: BnMode,
) -> Result<T4<D, T>, D::Err>
where
    D::Err: From<CpuError>,
{
    let shape = *x.shape();
    let (n, _, h, w) = shape;
    let params = [
        gamma.shape().0,
        beta.shape().0,
        running_mean.shape().0,
        running_var.shape().0,
    ];
    check_batchnorm(shape, params, mode).map_err(arg_err)?;
    let m = (n * h * w) as f32;
    let xhat = match mode {
        BnMode::Train { momentum } => {
            // Running statistics, off the tape.
            let x_nt = x.retaped::<NoneTape>();
            let mean_nt = x_nt.clone().try_mean::<(usize,), Axes3<0, 2, 3>>()?;
            let var_unbiased = x_nt
                .try_sub(
                    mean_nt
                        .clone()
                        .try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?,
                )?
                .try_square()?
                .try_sum::<(usize,), Axes3<0, 2, 3>>()?
                .try_div(m - 1.0)?;
            *running_mean = running_mean
                .clone()
                .try_mul(1.0 - momentum)?
                .try_add(mean_nt.try_mul(momentum)?)?;
            *running_var = running_var
                .clone()
                .try_mul(1.0 - momentum)?
                .try_add(var_unbiased.try_mul(momentum)?)?;

            let mean = x.with_empty_tape().try_mean::<(usize,), Axes3<0, 2, 3>>()?;
            let centered = x.try_sub(mean.try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?)?;
            let var = centered
                .with_empty_tape()
                .try_square()?
                .try_mean::<(usize,), Axes3<0, 2, 3>>()?;
            let std = var.try_add(BN_EPS)?.try_sqrt()?;
            centered.try_div(std.try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?)?
        }
        BnMode::Eval => {
            let std = running_var.clone().try_add(BN_EPS)?.try_sqrt()?;
            x.try_sub(
                running_mean
                    .clone()
                    .try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?,
            )?
            .try_div(std.try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?)?
        }
    };
    let g = gamma
        .retaped::<T>()
        .try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?;
    let b = beta
        .retaped::<T>()
        .try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?;
    xhat.try_mul(g)?.try_add(b)?.try_relu()
}

/// 2×2 max-pool, stride 2 (odd H/W: last row/col dropped, like PyTorch floor mode).
pub fn maxpool2<D: Device<f32> + 'static, T: Tape<f32, D>>(x: T4<D, T>) -> Result<T4<D, T>, D::Err>
where
    D::Err: From<CpuError>,
{
    let xs = *x.shape();
    let (n, c, h, w) = xs;
    let (oh, ow) = check_maxpool2(xs).map_err(arg_err)?;
    let q = n * c * oh * ow;
    let table = tables::pool_windows(x.device(), xs)?;
    let flat = legal::reshape("maxpool2 input", Laid::fresh(x), (n * c * h * w,))?;
    let windows = legal::gather("maxpool2 windows", flat, &table)?;
    let windows = legal::reshape("maxpool2 windows", windows, (4, q))?;
    let best = Laid::fresh(windows.t.try_max::<(usize,), Axis<0>>()?);
    Ok(legal::reshape("maxpool2 output", best, (n, c, oh, ow))?.t)
}
