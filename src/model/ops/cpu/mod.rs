//! Fast CPU kernels: im2col + `gemm` convolution, fused BatchNorm+ReLU, argmax max-pool, and
//! their fused combinations. This module owns the CPU side of `OpsDevice for Cpu` (the
//! trait methods in `model::ops` call the `pub(crate)` ops re-exported here):
//!
//! * [`gemm`]: the one strided wrapper around the `gemm` crate ([`gemm::mm`] over
//!   [`gemm::Mat`] views), when to use the packed AVX-512 GEMM of [`pack`] instead, and the
//!   GEMM's inner parallelism.
//! * [`conv`]: 3×3 convolution, with or without the input gradient: the plan, and im2col +
//!   the `gemm` crate where AVX-512 is missing ([`im2col`]: the geometry, im2col, col2im).
//! * [`convgemm`]: the several-channel conv on the packed AVX-512 GEMM without an im2col
//!   matrix (panels packed straight from the input, col2im fused into the input-gradient
//!   GEMM, one GEMM per group of images).
//! * [`winograd`]: convs with many channels (≥ 16 in and out, rows ≤ 16 wide) as Winograd
//!   F(2×2, 3×3) on the packed GEMM (forward, both gradients; at inference fused with
//!   BatchNorm, ReLU and max-pool): 16 GEMMs per block of tiles, 2.25× fewer multiplies.
//! * [`linear`]: the linear layer on the AVX-512 micro-kernel, operands read in place.
//! * [`batchnorm`]: BatchNorm + ReLU, and the BatchNorm pieces the fused ops share.
//! * [`pool`]: 2×2 max-pool, and the BatchNorm → ReLU → max-pool kernels; [`pool_simd`]:
//!   their AVX-512 planes (forward, and the backward in one pass per plane).
//! * [`fused`]: BatchNorm → ReLU → max-pool, and conv → BatchNorm → ReLU → max-pool, as one op.
//! * [`direct`]: direct 3×3 convolution of one-channel images (the first layer).
//! * [`team`]: training steps split over the pool's threads (one part of the batch each), the
//!   BatchNorm statistics reduced across them; on a rank of a team the ops split no work of
//!   their own ([`threads`]).
//! * Here: helpers they share ([`read`], [`take`]/[`give`] (recycled buffers), [`filled`]
//!   (outputs that become dfdx tensors, written without clearing first),
//!   [`with_scratch`], [`lane_sum`], `add_grad!`).
//!
//! Every op copies its input out of dfdx once (`copy_into`, a memcpy: dfdx keeps tensor storage
//! private), computes into `Vec`s that become the output without a copy (`tensor_from_vec`),
//! and records one backward closure that owns whatever it needs. Buffers an op keeps to itself
//! (input copies, the fused block's conv output, the pool's selected inputs) are recycled
//! ([`take`]/[`give`]): a training step reuses the previous step's, uncleared. At inference
//! (no tape, Eval mode) the conv block runs image by image, conv output in a per-thread buffer. Output
//! gradients are moved out of (and back into) the `Gradients` map instead of being cloned.
//! Work is split over groups of images (conv), (image, channel) planes, or row panels (linear)
//! with rayon; each GEMM runs single-threaded inside its task.
//!
//! Must not import: front-end crates (clap, ratatui, crossterm, indicatif) or any crate module
//! outside `model::ops`; no printing or logging. The kernels return tensors or dfdx errors.

use dfdx::prelude::*;
use std::cell::RefCell;
use std::mem::MaybeUninit;

/// Adds `v` into the gradient of a tensor (a macro: the ghost tensors' type is private to
/// dfdx). Defined before the `mod` lines so that the submodules see it.
macro_rules! add_grad {
    ($grads:expr, $ghost:expr, $v:expr) => {{
        let g: &mut [f32] = $grads.get_or_alloc_mut($ghost)?;
        g.iter_mut().zip($v.iter()).for_each(|(g, v)| *g += v);
    }};
}

mod batchnorm;
mod conv;
mod convgemm;
#[cfg(target_arch = "x86_64")]
mod convgemm_simd;
mod direct;
mod fused;
mod gemm;
mod im2col;
mod linear;
mod pack;
mod pool;
mod pool_simd;
pub(super) mod team;
mod winograd;

pub(super) use batchnorm::batchnorm_relu;
pub(super) use conv::conv3x3;
pub(super) use fused::{batchnorm_relu_maxpool2, conv_block};
pub(super) use linear::linear;
pub(super) use pool::maxpool2;

/// Copies a contiguous Cpu tensor's data (into a recycled buffer, see [`take`]).
fn read<S: Shape, T>(t: &Tensor<S, f32, Cpu, T>) -> Vec<f32> {
    let mut v = take(t.shape().num_elements());
    t.copy_into(&mut v);
    v
}

/// Buffers the ops gave back ([`give`]) for later ops to reuse ([`take`]): a training step
/// allocates the same sizes every time, so after the first steps its buffers come from here,
/// already paged in and without being cleared.
static RECYCLED: std::sync::Mutex<Vec<Vec<f32>>> = std::sync::Mutex::new(Vec::new());
/// How many buffers [`RECYCLED`] keeps at most (the smallest go first).
const RECYCLED_MAX: usize = 24;

/// A buffer of `n` floats whose contents are unspecified (stale values of an earlier op, or
/// zeros): for outputs that are overwritten completely.
fn take(n: usize) -> Vec<f32> {
    match recycled(n) {
        Some(mut v) => {
            if v.len() >= n {
                v.truncate(n);
            } else {
                v.resize(n, 0.0);
            }
            v
        }
        None => vec![0.0; n],
    }
}

/// A fresh buffer of `n` floats that `fill` writes completely, for outputs that become dfdx
/// tensors (they do not come back to [`give`], so taking a recycled buffer for them would
/// only leave [`take`] short): not cleared first, as a fresh [`take`] is (0.9 MB per
/// training step for the pooled outputs alone). The allocator reuses the memory of the
/// previous step's dropped tensors.
///
/// # Safety
/// `fill` must write every element of the slice it is given.
unsafe fn filled(n: usize, fill: impl FnOnce(&mut [MaybeUninit<f32>])) -> Vec<f32> {
    let mut v = Vec::with_capacity(n);
    fill(&mut v.spare_capacity_mut()[..n]);
    // SAFETY: `fill` initialised the first `n` elements (the caller's promise).
    unsafe { v.set_len(n) };
    v
}

/// A recycled buffer of capacity at least `n` (and at most twice that), if [`give`] kept one.
fn recycled(n: usize) -> Option<Vec<f32>> {
    recycled_from(&RECYCLED, n)
}

/// The smallest buffer in `pool` of capacity at least `n` (and at most twice that).
fn recycled_from<T>(pool: &std::sync::Mutex<Vec<Vec<T>>>, n: usize) -> Option<Vec<T>> {
    let mut pool = pool.lock().unwrap_or_else(|e| e.into_inner());
    let best = pool
        .iter()
        .enumerate()
        .filter(|(_, v)| v.capacity() >= n && v.capacity() <= 2 * n.max(1024))
        .min_by_key(|(_, v)| v.capacity())
        .map(|(i, _)| i);
    best.map(|i| pool.swap_remove(i))
}

/// Byte buffers given back (the pooling's argmax indices), like [`RECYCLED`].
static RECYCLED_BYTES: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

/// `n` bytes, contents unspecified (see [`take`]).
fn take_bytes(n: usize) -> Vec<u8> {
    let found = recycled_from(&RECYCLED_BYTES, n);
    let mut v = found.unwrap_or_default();
    v.resize(n, 0);
    v.truncate(n);
    v
}

/// Gives a byte buffer back for [`take_bytes`].
fn give_bytes(v: Vec<u8>) {
    give_to(&RECYCLED_BYTES, v);
}

/// Gives a buffer back for [`take`] to hand out again.
fn give(v: Vec<f32>) {
    give_to(&RECYCLED, v);
}

/// Keeps `v` in `pool` (small buffers are not worth it); past [`RECYCLED_MAX`] the smallest
/// goes.
fn give_to<T>(pool: &std::sync::Mutex<Vec<Vec<T>>>, v: Vec<T>) {
    if v.capacity() < 1024 {
        return;
    }
    let mut pool = pool.lock().unwrap_or_else(|e| e.into_inner());
    pool.push(v);
    if pool.len() > RECYCLED_MAX {
        let smallest = (0..pool.len())
            .min_by_key(|&i| pool[i].capacity())
            .expect("not empty");
        pool.swap_remove(smallest);
    }
}

thread_local! {
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    static OUTER: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with a per-thread buffer of `n` floats (contents unspecified) that is not one of
/// [`with_scratch`]'s, so that `f` may call it (the per-image conv block keeps its conv output
/// here while the conv uses the scratch buffers).
fn with_outer<R>(n: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    OUTER.with(|s| {
        let Ok(mut s) = s.try_borrow_mut() else {
            return f(&mut vec![0.0; n]);
        };
        if s.len() < n {
            s.resize(n, 0.0);
        }
        f(&mut s[..n])
    })
}

/// Runs `f` with two per-thread scratch buffers of `a` and `b` floats (contents unspecified).
/// Re-entrant (a rayon worker waiting inside `f` may pick up another op's task): a nested call
/// gets fresh buffers.
fn with_scratch<R>(a: usize, b: usize, f: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
    with_pair(&SCRATCH, a, b, f)
}

/// Two buffers kept in a thread-local `pair`: [`with_scratch`]'s, or another set of its own
/// for code that runs inside a `with_scratch` closure. Grown on demand, contents
/// unspecified; a nested call on the same pair gets fresh buffers.
pub(super) fn with_pair<R>(
    pair: &'static std::thread::LocalKey<RefCell<(Vec<f32>, Vec<f32>)>>,
    a: usize,
    b: usize,
    f: impl FnOnce(&mut [f32], &mut [f32]) -> R,
) -> R {
    pair.with(|s| {
        let Ok(mut s) = s.try_borrow_mut() else {
            return f(&mut vec![0.0; a], &mut vec![0.0; b]);
        };
        let (x, y) = &mut *s;
        if x.len() < a {
            x.resize(a, 0.0);
        }
        if y.len() < b {
            y.resize(b, 0.0);
        }
        f(&mut x[..a], &mut y[..b])
    })
}

/// Threads an op splits its work over: the current rayon pool's, or one on a rank of a
/// [`team`] (the pool's other threads run the other ranks).
fn threads() -> usize {
    if team::active() {
        1
    } else {
        rayon::current_num_threads()
    }
}

const LANES: usize = 16;

/// Σ f(v) with 16 independent accumulators, so that it vectorises.
#[inline(always)]
fn lane_sum(v: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = v.chunks_exact(LANES);
    let rest = chunks.remainder();
    for ch in chunks {
        for j in 0..LANES {
            acc[j] += f(ch[j]);
        }
    }
    acc.iter().sum::<f32>() + rest.iter().map(|&x| f(x)).sum::<f32>()
}
