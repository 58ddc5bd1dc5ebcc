//! The ops composed from dfdx's own differentiable ops, generic over the device.
//!
//! This is the path non-CPU devices run (dfdx gives no public access to device memory in a
//! forward pass) and the executable specification the fast CPU kernels are tested against. It is
//! built for clarity, not speed:
//!
//! * conv3x3: im2col as a `gather` of spatial positions (padding = clamped index × 0/1 mask), then
//!   a batched `matmul` with the weight broadcast over the batch.
//! * maxpool2: `gather` of the 4 window positions onto a new leading axis, then `max` over it.
//!   dfdx's `max` sends the gradient to *every* tied maximum (the CPU kernel to the first one);
//!   the two only differ on exact ties, e.g. all-zero windows after a ReLU, where the ReLU's
//!   zero gradient hides the difference.
//! * batchnorm_relu: mean/variance reductions, broadcast arithmetic, `relu`.

use super::{arg_err, check_batchnorm, check_conv3x3, check_maxpool2, BnMode, BN_EPS, T1, T4};
use dfdx::prelude::*;

/// 3×3 conv, stride 1, padding `pad` (0 or 1), optional bias; x (N,I,H,W), w (O,I,3,3).
pub fn conv3x3<D: Device<f32>, T: Tape<f32, D>>(
    x: T4<D, T>,
    w: &T4<D>,
    bias: Option<&T1<D>>,
    pad: usize,
) -> Result<T4<D, T>, D::Err>
where
    D::Err: From<CpuError>,
{
    let (n, ci, h, wd) = *x.shape();
    let co = w.shape().0;
    let (oh, ow) =
        check_conv3x3(*x.shape(), *w.shape(), bias.map(|b| b.shape().0), pad).map_err(arg_err)?;
    let p = oh * ow;
    let k = ci * 9;
    let dev = x.device().clone();

    // Row (tap, oy, ox) of the im2col matrix reads spatial position `idx`; `mask` zeroes padding.
    let mut idx = Vec::with_capacity(9 * p);
    let mut mask = Vec::with_capacity(9 * p);
    for ky in 0..3 {
        for kx in 0..3 {
            for oy in 0..oh {
                for ox in 0..ow {
                    let iy = (oy + ky) as isize - pad as isize;
                    let ix = (ox + kx) as isize - pad as isize;
                    let inside = iy >= 0 && iy < h as isize && ix >= 0 && ix < wd as isize;
                    idx.push(if inside {
                        iy as usize * wd + ix as usize
                    } else {
                        0
                    });
                    mask.push(if inside { 1.0f32 } else { 0.0 });
                }
            }
        }
    }
    let idx = dev.try_tensor_from_vec(idx, (9 * p,))?;
    let mask = dev.try_tensor_from_vec(mask, (9 * p,))?;

    // (N, I, H, W) -> (HW, N·I) -> gather -> (9·P, N·I)
    let spatial = x
        .try_reshape_like(&(n, ci, h * wd))?
        .try_permute::<_, Axes3<2, 0, 1>>()?
        .try_reshape_like(&(h * wd, n * ci))?;
    let cols: Tensor<(usize, usize), f32, D, T> = spatial.try_gather(idx)?;
    let cols = cols.try_mul(mask.try_broadcast_like::<_, Axis<1>>(&(9 * p, n * ci))?)?;
    // (9, P, N, I) -> (N, I, 9, P) -> (N, I·9, P): row i·9 + tap matches w.reshape(O, I·9).
    let cols = cols
        .try_reshape_like(&(9, p, n, ci))?
        .try_permute::<_, Axes4<2, 3, 0, 1>>()?
        .try_reshape_like(&(n, k, p))?;
    let wt = w
        .retaped::<T>()
        .try_reshape_like(&(co, k))?
        .try_broadcast_like::<_, Axis<0>>(&(n, co, k))?;
    let mut out = wt.try_matmul(cols)?;
    if let Some(b) = bias {
        let b = b
            .retaped::<T>()
            .try_broadcast_like::<_, Axes2<0, 2>>(&(n, co, p))?;
        out = out.try_add(b)?;
    }
    out.try_reshape_like(&(n, co, oh, ow))
}

/// Per-channel BatchNorm (gamma, beta trainable) followed by ReLU; see [`super::BnMode`].
///
/// In Train mode the running statistics are replaced by new tensors (new ids).
pub fn batchnorm_relu<D: Device<f32>, T: Tape<f32, D>>(
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
pub fn maxpool2<D: Device<f32>, T: Tape<f32, D>>(x: T4<D, T>) -> Result<T4<D, T>, D::Err>
where
    D::Err: From<CpuError>,
{
    let (n, c, h, w) = *x.shape();
    let (oh, ow) = check_maxpool2(*x.shape()).map_err(arg_err)?;
    let p = oh * ow;
    let dev = x.device().clone();
    let mut idx = Vec::with_capacity(4 * p);
    for dy in 0..2 {
        for dx in 0..2 {
            for oy in 0..oh {
                for ox in 0..ow {
                    idx.push((2 * oy + dy) * w + 2 * ox + dx);
                }
            }
        }
    }
    let idx = dev.try_tensor_from_vec(idx, (4 * p,))?;
    let spatial = x
        .try_reshape_like(&(n * c, h * w))?
        .try_permute::<_, Axes2<1, 0>>()?
        .try_reshape_like(&(h * w, n * c))?;
    let windows: Tensor<(usize, usize), f32, D, T> = spatial.try_gather(idx)?;
    windows
        .try_reshape_like(&(4, p, n * c))?
        .try_max::<(usize, usize), Axis<0>>()?
        .try_permute::<_, Axes2<1, 0>>()?
        .try_reshape_like(&(n, c, oh, ow))
}
