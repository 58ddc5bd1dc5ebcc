//! Custom tensor ops for our CNNs on dfdx 0.13: 3×3 convolution, fused BatchNorm+ReLU and 2×2
//! max-pooling, plus fused combinations of them.
//!
//! dfdx 0.13 only offers `conv2d`/`pool2d` behind its (broken) `nightly` feature, so these ops are
//! built on dfdx's public autograd extension points: the op splits the tape off its input,
//! computes, records ONE backward op on that tape and puts it back on its output. Parameters
//! (`w`, `bias`, `gamma`, `beta`) are plain `NoneTape` tensors: their gradients are added
//! (`+=`) under their own ids, so the same parameter may be used by several ops per forward.
//!
//! * [`OpsDevice for Cpu`](OpsDevice) runs hand-written kernels: convolution and the linear
//!   layer on a packed GEMM with an AVX-512 micro-kernel (panels packed straight from the
//!   input, no im2col matrix; im2col + the `gemm` crate, AVX2 on stable Rust, where AVX-512 is
//!   missing or `ADALAB_NO_AVX512=1`), parallel over the batch with rayon; BatchNorm+ReLU in one pass; an
//!   argmax max-pool; all with their own backward passes. Fused variants
//!   ([`OpsDevice::batchnorm_relu_maxpool2`], [`OpsDevice::conv_block`]) never materialise the
//!   full-resolution intermediates as dfdx tensors.
//! * [`generic`] composes the same ops out of dfdx's own differentiable ops (gather, matmul,
//!   reductions, `relu`). It is what non-CPU devices run, and the tests check the fast CPU
//!   kernels against it. Its dfdx calls go through [`legal`], which asserts the preconditions
//!   of dfdx's CUDA kernels on every device; its index tables are cached per shape
//!   ([`tables`]). The trait's fused methods default to compositions of the plain ones.
//!
//! Conventions: tensors are NCHW, conv weights (O, I, 3, 3), everything `f32`.
//!
//! Notes for callers:
//! * Threads: the CPU kernels use the current rayon pool (`pool.install(..)`); a group of
//!   images (or a row panel of the linear layer) per task, each GEMM single-threaded inside it.
//!   Training steps split the batch over the pool's threads instead ([`Team`]): each thread
//!   runs the ops on its part of the batch alone, and the BatchNorm ops reduce their statistics
//!   across the parts, so every part is normalised with the whole batch's.
//! * Memory: each CPU op keeps a copy of its input (and the fused ones their intermediates) in
//!   its backward closure until `backward()` runs or the tape is dropped. Do not enable dfdx's
//!   tensor cache (`dev.enable_cache()`): it made training steps several times slower here.
//! * Inputs need not be contiguous (a non-contiguous input is copied first), but contiguous
//!   NCHW tensors avoid that copy.
//! * `conv3x3_input` / `conv_block(.., input_grad: false)` record no gradient for `x`:
//!   `grads.get(&x)` then panics (dfdx unwraps a missing gradient).
//! * In Train mode the CPU path updates `running_mean`/`running_var` in place (same tensor ids);
//!   the generic path replaces them with new tensors.

use dfdx::prelude::*;

pub mod bench;
mod cpu;
pub mod generic;
pub mod legal;
pub use cpu::team::{barrier as rank_barrier, Team};
pub mod tables;
#[cfg(test)]
mod tests;

/// (N, C, H, W) for activations, (O, I, 3, 3) for conv weights.
pub type Shape4 = (usize, usize, usize, usize);
/// A 4-d tensor with runtime dimensions.
pub type T4<D, T = NoneTape> = Tensor<Shape4, f32, D, T>;
/// A 1-d tensor with a runtime length (bias, gamma, beta, running statistics).
pub type T1<D> = Tensor<(usize,), f32, D>;
/// A matrix with runtime dimensions.
pub type T2<D, T = NoneTape> = Tensor<(usize, usize), f32, D, T>;
/// The epsilon added to the variance in BatchNorm (PyTorch's default).
pub const BN_EPS: f32 = 1e-5;

/// How [`OpsDevice::batchnorm_relu`] normalises.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BnMode {
    /// Normalise with the batch statistics (biased variance) and update the running statistics:
    /// `running = (1 - momentum) * running + momentum * batch`, with the unbiased batch variance
    /// (PyTorch's convention; PyTorch's default momentum is 0.1).
    Train { momentum: f32 },
    /// Normalise with the running statistics; they are left unchanged.
    Eval,
}

/// Invalid arguments to an op that are not plain shape mismatches.
///
/// The ops return them as the device error (`CpuError::WrongNumElements`, or
/// `CudaError::Cpu(CpuError::WrongNumElements)` on CUDA), because dfdx's error types carry no
/// message. Call [`check_conv3x3`] / [`check_maxpool2`] / [`check_batchnorm`] up front to get the
/// descriptive error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpsArgError {
    #[error("conv3x3: padding must be 0 or 1, got {0}")]
    Padding(usize),
    #[error("conv3x3: input {h}×{w} with padding {pad} is smaller than the 3×3 kernel")]
    ConvTooSmall { h: usize, w: usize, pad: usize },
    #[error("maxpool2: input {h}×{w} is smaller than the 2×2 window")]
    PoolTooSmall { h: usize, w: usize },
    #[error("batchnorm_relu: training needs more than one value per channel, got {0}")]
    BnTooFewValues(usize),
    #[error("empty tensor")]
    Empty,
}

/// Validates the arguments of [`OpsDevice::conv3x3`] and returns the output's (H, W).
///
/// # Panics
/// On shape mismatches: weight in-channels ≠ input channels, a kernel that is not 3×3, or a bias
/// whose length is not the number of output channels.
pub fn check_conv3x3(
    x: Shape4,
    w: Shape4,
    bias: Option<usize>,
    pad: usize,
) -> Result<(usize, usize), OpsArgError> {
    let (n, c, h, wd) = x;
    let (o, i, kh, kw) = w;
    assert_eq!(
        i, c,
        "conv3x3: weight {w:?} expects {i} input channels but the input {x:?} has {c}"
    );
    assert!(
        kh == 3 && kw == 3,
        "conv3x3: the weight must be (O, I, 3, 3), got {w:?}"
    );
    if let Some(b) = bias {
        assert_eq!(
            b, o,
            "conv3x3: bias has {b} entries, expected {o} (out channels)"
        );
    }
    if pad > 1 {
        return Err(OpsArgError::Padding(pad));
    }
    if h + 2 * pad < 3 || wd + 2 * pad < 3 {
        return Err(OpsArgError::ConvTooSmall { h, w: wd, pad });
    }
    if n == 0 || c == 0 || o == 0 {
        return Err(OpsArgError::Empty);
    }
    Ok((h + 2 * pad - 2, wd + 2 * pad - 2))
}

/// Validates the input of [`OpsDevice::maxpool2`] and returns the output's (H, W).
pub fn check_maxpool2(x: Shape4) -> Result<(usize, usize), OpsArgError> {
    let (n, c, h, w) = x;
    if h < 2 || w < 2 {
        return Err(OpsArgError::PoolTooSmall { h, w });
    }
    if n == 0 || c == 0 {
        return Err(OpsArgError::Empty);
    }
    Ok((h / 2, w / 2))
}

/// Validates the arguments of [`OpsDevice::batchnorm_relu`].
///
/// # Panics
/// If gamma, beta or a running statistic does not have one entry per channel.
pub fn check_batchnorm(x: Shape4, params: [usize; 4], mode: BnMode) -> Result<(), OpsArgError> {
    let (n, c, h, w) = x;
    for (len, name) in params
        .iter()
        .zip(["gamma", "beta", "running_mean", "running_var"])
    {
        assert_eq!(
            *len, c,
            "batchnorm_relu: {name} has {len} entries but the input {x:?} has {c} channels"
        );
    }
    if n * c * h * w == 0 {
        return Err(OpsArgError::Empty);
    }
    if matches!(mode, BnMode::Train { .. }) && n * h * w < 2 {
        return Err(OpsArgError::BnTooFewValues(n * h * w));
    }
    Ok(())
}

/// Maps an [`OpsArgError`] onto a device error (dfdx errors carry no message).
pub(crate) fn arg_err<E: From<CpuError>>(_: OpsArgError) -> E {
    CpuError::WrongNumElements.into()
}

/// The ops our networks need, per device.
///
/// Gradients flow to `x` and to every parameter (`w`, `bias`, `gamma`, `beta`) when `x` carries
/// an `OwnedTape`; gradients are *accumulated* (`+=`), so a parameter may be used by several ops.
/// With `NoneTape` nothing is recorded.
pub trait OpsDevice: Device<f32> {
    /// 3×3 conv, stride 1, padding `pad` (0 or 1), optional bias; x (N,I,H,W), w (O,I,3,3).
    fn conv3x3<T: Tape<f32, Self>>(
        x: T4<Self, T>,
        w: &T4<Self>,
        bias: Option<&T1<Self>>,
        pad: usize,
    ) -> Result<T4<Self, T>, Self::Err>;

    /// Per-channel BatchNorm (gamma, beta trainable) followed by ReLU; updates running stats in
    /// Train mode; uses them in Eval mode.
    fn batchnorm_relu<T: Tape<f32, Self>>(
        x: T4<Self, T>,
        gamma: &T1<Self>,
        beta: &T1<Self>,
        running_mean: &mut T1<Self>,
        running_var: &mut T1<Self>,
        mode: BnMode,
    ) -> Result<T4<Self, T>, Self::Err>;

    /// 2×2 max-pool, stride 2 (odd H/W: last row/col dropped, like PyTorch floor mode).
    fn maxpool2<T: Tape<f32, Self>>(x: T4<Self, T>) -> Result<T4<Self, T>, Self::Err>;

    /// [`conv3x3`](Self::conv3x3) that computes no gradient for `x` (gradients still flow to
    /// `w` and `bias`): for the first layer, whose input is data. Same result as `conv3x3`
    /// otherwise; the CPU kernel saves the input-gradient GEMM and col2im.
    fn conv3x3_input<T: Tape<f32, Self>>(
        x: T4<Self, T>,
        w: &T4<Self>,
        bias: Option<&T1<Self>>,
        pad: usize,
    ) -> Result<T4<Self, T>, Self::Err> {
        Self::conv3x3(x, w, bias, pad)
    }

    /// `maxpool2(batchnorm_relu(x, ..))` as one op (same results, ties included). The CPU kernel
    /// never materialises the full-resolution BatchNorm output or its gradient.
    fn batchnorm_relu_maxpool2<T: Tape<f32, Self>>(
        x: T4<Self, T>,
        gamma: &T1<Self>,
        beta: &T1<Self>,
        running_mean: &mut T1<Self>,
        running_var: &mut T1<Self>,
        mode: BnMode,
    ) -> Result<T4<Self, T>, Self::Err> {
        let y = Self::batchnorm_relu(x, gamma, beta, running_mean, running_var, mode)?;
        Self::maxpool2(y)
    }

    /// A whole conv block as one op: `conv3x3` → BatchNorm → ReLU → 2×2 max-pool, i.e.
    /// `batchnorm_relu_maxpool2(conv3x3(x, w, bias, pad), ..)`, with `input_grad: false` meaning
    /// [`conv3x3_input`](Self::conv3x3_input) (no gradient for `x`). The CPU kernel keeps the
    /// conv output to itself: no dfdx tensor, copy or gradient buffer at full resolution.
    #[allow(clippy::too_many_arguments)]
    fn conv_block<T: Tape<f32, Self>>(
        x: T4<Self, T>,
        w: &T4<Self>,
        bias: Option<&T1<Self>>,
        pad: usize,
        gamma: &T1<Self>,
        beta: &T1<Self>,
        running_mean: &mut T1<Self>,
        running_var: &mut T1<Self>,
        mode: BnMode,
        input_grad: bool,
    ) -> Result<T4<Self, T>, Self::Err> {
        let y = if input_grad {
            Self::conv3x3(x, w, bias, pad)?
        } else {
            Self::conv3x3_input(x, w, bias, pad)?
        };
        Self::batchnorm_relu_maxpool2(y, gamma, beta, running_mean, running_var, mode)
    }

    /// A linear layer, `x (N, F) · w (F, D) + b (D)` (the embedding layer). The default is
    /// dfdx's matmul (through [`legal`]) plus the broadcast bias; the CPU runs it on its
    /// AVX-512 micro-kernel.
    fn linear<T: Tape<f32, Self>>(
        x: T2<Self, T>,
        w: &T2<Self>,
        b: &T1<Self>,
    ) -> Result<T2<Self, T>, Self::Err> {
        let (n, d) = (x.shape().0, w.shape().1);
        let bias = b.retaped::<T>().try_broadcast_like::<_, Axis<0>>(&(n, d))?;
        let w = legal::Laid::fresh(w.retaped::<T>());
        legal::matmul("embedding layer", legal::Laid::fresh(x), w)?
            .t
            .try_add(bias)
    }
}

impl OpsDevice for Cpu {
    fn linear<T: Tape<f32, Self>>(
        x: T2<Self, T>,
        w: &T2<Self>,
        b: &T1<Self>,
    ) -> Result<T2<Self, T>, Self::Err> {
        cpu::linear(x, w, b)
    }

    fn conv3x3<T: Tape<f32, Self>>(
        x: T4<Self, T>,
        w: &T4<Self>,
        bias: Option<&T1<Self>>,
        pad: usize,
    ) -> Result<T4<Self, T>, Self::Err> {
        cpu::conv3x3(x, w, bias, pad, true)
    }

    fn conv3x3_input<T: Tape<f32, Self>>(
        x: T4<Self, T>,
        w: &T4<Self>,
        bias: Option<&T1<Self>>,
        pad: usize,
    ) -> Result<T4<Self, T>, Self::Err> {
        cpu::conv3x3(x, w, bias, pad, false)
    }

    fn batchnorm_relu_maxpool2<T: Tape<f32, Self>>(
        x: T4<Self, T>,
        gamma: &T1<Self>,
        beta: &T1<Self>,
        running_mean: &mut T1<Self>,
        running_var: &mut T1<Self>,
        mode: BnMode,
    ) -> Result<T4<Self, T>, Self::Err> {
        cpu::batchnorm_relu_maxpool2(x, gamma, beta, running_mean, running_var, mode)
    }

    fn conv_block<T: Tape<f32, Self>>(
        x: T4<Self, T>,
        w: &T4<Self>,
        bias: Option<&T1<Self>>,
        pad: usize,
        gamma: &T1<Self>,
        beta: &T1<Self>,
        running_mean: &mut T1<Self>,
        running_var: &mut T1<Self>,
        mode: BnMode,
        input_grad: bool,
    ) -> Result<T4<Self, T>, Self::Err> {
        cpu::conv_block(
            x,
            w,
            bias,
            pad,
            gamma,
            beta,
            running_mean,
            running_var,
            mode,
            input_grad,
        )
    }

    fn batchnorm_relu<T: Tape<f32, Self>>(
        x: T4<Self, T>,
        gamma: &T1<Self>,
        beta: &T1<Self>,
        running_mean: &mut T1<Self>,
        running_var: &mut T1<Self>,
        mode: BnMode,
    ) -> Result<T4<Self, T>, Self::Err> {
        cpu::batchnorm_relu(x, gamma, beta, running_mean, running_var, mode)
    }

    fn maxpool2<T: Tape<f32, Self>>(x: T4<Self, T>) -> Result<T4<Self, T>, Self::Err> {
        cpu::maxpool2(x)
    }
}

#[cfg(feature = "cuda")]
impl OpsDevice for Cuda {
    fn conv3x3<T: Tape<f32, Self>>(
        x: T4<Self, T>,
        w: &T4<Self>,
        bias: Option<&T1<Self>>,
        pad: usize,
    ) -> Result<T4<Self, T>, Self::Err> {
        generic::conv3x3(x, w, bias, pad)
    }

    fn batchnorm_relu<T: Tape<f32, Self>>(
        x: T4<Self, T>,
        gamma: &T1<Self>,
        beta: &T1<Self>,
        running_mean: &mut T1<Self>,
        running_var: &mut T1<Self>,
        mode: BnMode,
    ) -> Result<T4<Self, T>, Self::Err> {
        generic::batchnorm_relu(x, gamma, beta, running_mean, running_var, mode)
    }

    fn maxpool2<T: Tape<f32, Self>>(x: T4<Self, T>) -> Result<T4<Self, T>, Self::Err> {
        generic::maxpool2(x)
    }
}
