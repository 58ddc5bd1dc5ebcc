//! Fast CPU kernels: im2col + `gemm` convolution, fused BatchNorm+ReLU, argmax max-pool.
//!
//! Every op copies its input out of dfdx once (`copy_into`, a memcpy: dfdx keeps tensor storage
//! private), computes into fresh `Vec`s that become the output without a copy
//! (`tensor_from_vec`), and records one backward closure that owns whatever it needs. Output
//! gradients are moved out of (and back into) the `Gradients` map instead of being cloned.
//! Work is split over the batch (conv) or over (image, channel) planes with rayon; `gemm` runs
//! single-threaded inside each task.

use super::{
    arg_err, check_batchnorm, check_conv3x3, check_maxpool2, pack, BnMode, Shape4, BN_EPS, T1, T4,
};
use dfdx::prelude::*;
use gemm::{gemm, Parallelism};
use rayon::prelude::*;
use std::cell::RefCell;

/// Copies a contiguous Cpu tensor's data.
fn read<S: Shape, T>(t: &Tensor<S, f32, Cpu, T>) -> Vec<f32> {
    let mut v = vec![0.0; t.shape().num_elements()];
    t.copy_into(&mut v);
    v
}

thread_local! {
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Runs `f` with two per-thread scratch buffers of `a` and `b` floats (contents unspecified).
/// Re-entrant (a rayon worker waiting inside `f` may pick up another op's task): a nested call
/// gets fresh buffers.
fn with_scratch<R>(a: usize, b: usize, f: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
    SCRATCH.with(|s| {
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

/// `dst (m×n) (+)= A (m×k) · B (k×n)`, all row-major.
#[allow(clippy::too_many_arguments)]
fn mm_ab(
    dst: &mut [f32],
    a: &[f32],
    b: &[f32],
    m: usize,
    n: usize,
    k: usize,
    acc: bool,
    par: Parallelism,
) {
    assert!(dst.len() >= m * n && a.len() >= m * k && b.len() >= k * n);
    // SAFETY: the bounds above cover every element gemm touches with these strides.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            acc,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

/// `dst (m×n) (+)= A (m×k) · Bᵀ` where B is (n×k) row-major.
#[allow(clippy::too_many_arguments)]
fn mm_abt(
    dst: &mut [f32],
    a: &[f32],
    b: &[f32],
    m: usize,
    n: usize,
    k: usize,
    acc: bool,
    par: Parallelism,
) {
    assert!(dst.len() >= m * n && a.len() >= m * k && b.len() >= n * k);
    // SAFETY: as in `mm_ab`.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            acc,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            k as isize,
            1,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

/// `dst (m×n) (+)= Aᵀ · B` where A is (k×m) and B (k×n), row-major.
#[allow(clippy::too_many_arguments)]
fn mm_atb(
    dst: &mut [f32],
    a: &[f32],
    b: &[f32],
    m: usize,
    n: usize,
    k: usize,
    acc: bool,
    par: Parallelism,
) {
    assert!(dst.len() >= m * n && a.len() >= k * m && b.len() >= k * n);
    // SAFETY: as in `mm_ab`.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            acc,
            a.as_ptr(),
            m as isize,
            1,
            b.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

/// GEMM parallelism inside one of `tasks` parallel tasks: none when the tasks alone keep every
/// rayon thread busy, else all threads (e.g. batch 1 at inference).
fn inner_par(tasks: usize) -> Parallelism {
    let threads = rayon::current_num_threads();
    if tasks >= threads {
        Parallelism::None
    } else {
        Parallelism::Rayon(threads)
    }
}

/// Whether to use the packed AVX-512 GEMM ([`pack`]): when it is available and each task runs
/// its GEMMs single-threaded.
fn use_packed(par: Parallelism) -> bool {
    pack::available() && matches!(par, Parallelism::None)
}

/// Geometry of one 3×3 convolution.
#[derive(Clone, Copy)]
struct Conv {
    ci: usize,
    h: usize,
    w: usize,
    pad: usize,
    oh: usize,
    ow: usize,
}

impl Conv {
    /// For output column `ox`, tap `kx`: the valid range `lo..hi` of `ox` (the input column is
    /// `ox + kx - pad`).
    #[inline]
    fn cols(&self, kx: usize) -> (usize, usize) {
        let lo = self.pad.saturating_sub(kx).min(self.ow);
        let hi = (self.w + self.pad).saturating_sub(kx).min(self.ow).max(lo);
        (lo, hi)
    }

    /// Input row for output row `oy`, tap `ky`, if inside the image.
    #[inline]
    fn row(&self, oy: usize, ky: usize) -> Option<usize> {
        (oy + ky).checked_sub(self.pad).filter(|&iy| iy < self.h)
    }

    /// col (I·9 × OH·OW) from one image (I × H × W); row `(i·3 + ky)·3 + kx`.
    fn im2col(&self, x: &[f32], col: &mut [f32]) {
        let (h, w, oh, ow) = (self.h, self.w, self.oh, self.ow);
        let p = oh * ow;
        for i in 0..self.ci {
            let xi = &x[i * h * w..(i + 1) * h * w];
            for ky in 0..3 {
                for kx in 0..3 {
                    let r = (i * 3 + ky) * 3 + kx;
                    let row = &mut col[r * p..(r + 1) * p];
                    let (lo, hi) = self.cols(kx);
                    for oy in 0..oh {
                        let dst = &mut row[oy * ow..(oy + 1) * ow];
                        match self.row(oy, ky) {
                            None => dst.fill(0.0),
                            Some(iy) => {
                                dst[..lo].fill(0.0);
                                dst[hi..].fill(0.0);
                                let s = iy * w + lo + kx - self.pad;
                                dst[lo..hi].copy_from_slice(&xi[s..s + hi - lo]);
                            }
                        }
                    }
                }
            }
        }
    }

    /// dx (I × H × W) += col2im(dcol).
    fn col2im_add(&self, dcol: &[f32], dx: &mut [f32]) {
        let (h, w, oh, ow) = (self.h, self.w, self.oh, self.ow);
        let p = oh * ow;
        for i in 0..self.ci {
            let di = &mut dx[i * h * w..(i + 1) * h * w];
            for ky in 0..3 {
                for kx in 0..3 {
                    let r = (i * 3 + ky) * 3 + kx;
                    let row = &dcol[r * p..(r + 1) * p];
                    let (lo, hi) = self.cols(kx);
                    for oy in 0..oh {
                        if let Some(iy) = self.row(oy, ky) {
                            let s = iy * w + lo + kx - self.pad;
                            let src = &row[oy * ow + lo..oy * ow + hi];
                            for (d, v) in di[s..s + hi - lo].iter_mut().zip(src) {
                                *d += *v;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Sizes of one conv over a batch.
#[derive(Clone, Copy)]
struct ConvPlan {
    g: Conv,
    n: usize,
    co: usize,
    /// Rows of the im2col matrix (I·9).
    k: usize,
    /// Output positions per image.
    p: usize,
    /// Input floats per image.
    img: usize,
}

impl ConvPlan {
    /// Validates the arguments (see [`check_conv3x3`]).
    fn new(x: Shape4, w: Shape4, bias: Option<usize>, pad: usize) -> Result<Self, CpuError> {
        let (n, ci, h, wd) = x;
        let (oh, ow) = check_conv3x3(x, w, bias, pad).map_err(arg_err)?;
        let g = Conv {
            ci,
            h,
            w: wd,
            pad,
            oh,
            ow,
        };
        Ok(Self {
            g,
            n,
            co: w.0,
            k: ci * 9,
            p: oh * ow,
            img: ci * h * wd,
        })
    }

    fn out_shape(&self) -> Shape4 {
        (self.n, self.co, self.g.oh, self.g.ow)
    }

    /// y = conv(x, w) + bias, (N, O, OH·OW).
    fn forward(&self, xv: &[f32], wv: &[f32], bv: Option<&[f32]>) -> Vec<f32> {
        let Self {
            g,
            n,
            co,
            k,
            p,
            img,
        } = *self;
        let par = inner_par(n);
        // W (co × k) packed once for the AVX-512 kernel, when it runs (one task per image).
        let wp = use_packed(par).then(|| pack::pack_a(wv, k, 1, co, k));
        let mut out = vec![0.0f32; n * co * p];
        out.par_chunks_mut(co * p)
            .zip(xv.par_chunks(img))
            .for_each(|(o, xi)| {
                with_scratch(k * p, 0, |col, _| {
                    g.im2col(xi, col);
                    match &wp {
                        Some(wp) => pack::gemm(co, p, k, wp, col, p, 1, o, false),
                        None => mm_ab(o, wv, col, co, p, k, false, par),
                    }
                });
                if let Some(bv) = bv {
                    for (row, b) in o.chunks_mut(p).zip(bv) {
                        row.iter_mut().for_each(|v| *v += b);
                    }
                }
            });
        out
    }

    /// Returns (dW, dbias) for output gradient `gy`; adds dx into `gx` when given.
    fn backward(
        &self,
        xv: &[f32],
        wv: &[f32],
        gy: &[f32],
        gx: Option<&mut [f32]>,
    ) -> (Vec<f32>, Vec<f32>) {
        let Self {
            g,
            n,
            co,
            k,
            p,
            img,
        } = *self;
        let chunks = (2 * rayon::current_num_threads()).clamp(1, n);
        let per = n.div_ceil(chunks);
        let par = inner_par(n.div_ceil(per));
        let packed = use_packed(par);
        // Wᵀ (k × co) packed once for the AVX-512 kernel.
        let wtp = (packed && gx.is_some()).then(|| pack::pack_a(wv, 1, k, k, co));
        // Per chunk of images: dW and db partial sums (reduced below) and, if wanted, dx.
        let chunk = |xc: &[f32], gyc: &[f32], mut gxc: Option<&mut [f32]>| {
            let mut dw = vec![0.0f32; co * k];
            let mut db = vec![0.0f32; co];
            let mut gyp = Vec::new();
            with_scratch(k * p, k * p, |col, dcol| {
                for (j, (xi, gyi)) in xc.chunks(img).zip(gyc.chunks(co * p)).enumerate() {
                    g.im2col(xi, col);
                    if packed {
                        // dW (co × k) += dY (co × p) · colᵀ
                        pack::pack_a_into(gyi, p, 1, co, p, &mut gyp);
                        pack::gemm(co, k, p, &gyp, col, 1, p, &mut dw, true);
                    } else {
                        mm_abt(&mut dw, gyi, col, co, k, p, true, par);
                    }
                    if let Some(gxc) = gxc.as_deref_mut() {
                        // dcol (k × p) = Wᵀ · dY
                        match &wtp {
                            Some(wtp) => pack::gemm(k, p, co, wtp, gyi, p, 1, dcol, false),
                            None => mm_atb(dcol, wv, gyi, k, p, co, false, par),
                        }
                        g.col2im_add(dcol, &mut gxc[j * img..(j + 1) * img]);
                    }
                    for (d, row) in db.iter_mut().zip(gyi.chunks(p)) {
                        *d += lane_sum(row, |v| v);
                    }
                }
            });
            (dw, db)
        };
        let partials: Vec<(Vec<f32>, Vec<f32>)> = match gx {
            Some(gx) => gx
                .par_chunks_mut(per * img)
                .zip(xv.par_chunks(per * img))
                .zip(gy.par_chunks(per * co * p))
                .map(|((gxc, xc), gyc)| chunk(xc, gyc, Some(gxc)))
                .collect(),
            None => xv
                .par_chunks(per * img)
                .zip(gy.par_chunks(per * co * p))
                .map(|(xc, gyc)| chunk(xc, gyc, None))
                .collect(),
        };
        let mut parts = partials.into_iter();
        let (mut dw, mut db) = parts.next().expect("at least one image");
        for (w2, b2) in parts {
            dw.iter_mut().zip(&w2).for_each(|(a, b)| *a += b);
            db.iter_mut().zip(&b2).for_each(|(a, b)| *a += b);
        }
        (dw, db)
    }
}

/// Adds `v` into the gradient of a tensor (a macro: the ghost tensors' type is private to dfdx).
macro_rules! add_grad {
    ($grads:expr, $ghost:expr, $v:expr) => {{
        let g: &mut [f32] = $grads.get_or_alloc_mut($ghost)?;
        g.iter_mut().zip($v.iter()).for_each(|(g, v)| *g += v);
    }};
}

/// `input_grad: false` skips the gradient of `x` (for the network's input).
pub(super) fn conv3x3<T: Tape<f32, Cpu>>(
    x: T4<Cpu, T>,
    w: &T4<Cpu>,
    bias: Option<&T1<Cpu>>,
    pad: usize,
    input_grad: bool,
) -> Result<T4<Cpu, T>, CpuError> {
    let shape = *x.shape();
    let plan = ConvPlan::new(shape, *w.shape(), bias.map(|b| b.shape().0), pad)?;
    // A no-op for contiguous inputs; makes a (taped) contiguous copy otherwise.
    let x = x.try_reshape_like(&shape)?;
    let (x, tape) = x.split_tape();
    let xv = read(&x);
    let wv = read(w);
    let bv = bias.map(read);
    let out = plan.forward(&xv, &wv, bv.as_deref());
    let out = x.device().try_tensor_from_vec(out, plan.out_shape())?;
    if !T::OWNS_TAPE {
        return Ok(out.put_tape(tape));
    }

    let (x_ghost, w_ghost, out_ghost) = (x.ghost(), w.ghost(), out.ghost());
    let b_ghost = bias.map(|b| b.ghost());
    drop(x);
    let mut tape = tape;
    tape.add_backward_op(move |grads| {
        let gy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
        let (dw, db) = if input_grad {
            let gx: &mut [f32] = grads.get_or_alloc_mut(&x_ghost)?;
            plan.backward(&xv, &wv, &gy, Some(gx))
        } else {
            plan.backward(&xv, &wv, &gy, None)
        };
        add_grad!(grads, &w_ghost, dw);
        if let Some(b_ghost) = &b_ghost {
            add_grad!(grads, b_ghost, db);
        }
        **grads.get_or_alloc_mut(&out_ghost)? = gy;
        Ok(())
    });
    Ok(out.put_tape(tape))
}

/// ReLU that keeps NaN (as PyTorch does), so a diverged batch surfaces as a NaN loss.
#[inline(always)]
fn relu(z: f32) -> f32 {
    if z <= 0.0 {
        0.0
    } else {
        z
    }
}

/// `dy` where `z > 0`, else 0 (compiles to a select, not a branch).
#[inline(always)]
fn relu_grad(z: f32, dy: f32) -> f32 {
    if z > 0.0 {
        dy
    } else {
        0.0
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

/// (Σ dz, Σ dz·x̂) over one plane, dz = dy·[x·sc + sh > 0], x̂ = (x − μ)·inv.
#[inline(always)]
fn bn_grad_sums(x: &[f32], dy: &[f32], sc: f32, sh: f32, mu: f32, inv: f32) -> (f32, f32) {
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
struct BnCoef {
    mean: Vec<f32>,
    invstd: Vec<f32>,
    scale: Vec<f32>,
    shift: Vec<f32>,
    train: bool,
}

/// Batch (Train) or running (Eval) statistics of `xv` (N, C, H·W); updates the running
/// statistics in Train mode.
fn bn_coef(
    xv: &[f32],
    (n, c, h, w): Shape4,
    gamma: &T1<Cpu>,
    beta: &T1<Cpu>,
    running_mean: &mut T1<Cpu>,
    running_var: &mut T1<Cpu>,
    mode: BnMode,
) -> BnCoef {
    let hw = h * w;
    let m = n * hw;
    let (mean, invstd) = match mode {
        BnMode::Train { momentum } => {
            // Two passes per channel (mean, then squared deviations), f64 across planes.
            let stats: Vec<(f32, f32)> = (0..c)
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
                .collect();
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
    }
}

/// Reads and validates a BatchNorm input; returns (x without tape, its data, tape).
#[allow(clippy::type_complexity)]
fn bn_input<T: Tape<f32, Cpu>>(
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

/// gamma += Σ dz·x̂, beta += Σ dz (a macro: the ghost tensors' type is private to dfdx).
macro_rules! add_bn_param_grads {
    ($grads:expr, $g_ghost:expr, $b_ghost:expr, $sums:expr) => {{
        let gg: &mut [f32] = $grads.get_or_alloc_mut($g_ghost)?;
        gg.iter_mut().zip($sums.iter()).for_each(|(g, s)| *g += s.1);
        let gb: &mut [f32] = $grads.get_or_alloc_mut($b_ghost)?;
        gb.iter_mut().zip($sums.iter()).for_each(|(g, s)| *g += s.0);
    }};
}

pub(super) fn batchnorm_relu<T: Tape<f32, Cpu>>(
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
    let m = n * hw;
    let k = bn_coef(&xv, shape, gamma, beta, running_mean, running_var, mode);

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
        let sums: Vec<(f32, f32)> = (0..c)
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
                (s1 as f32, s2 as f32)
            })
            .collect();
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
        add_bn_param_grads!(grads, &g_ghost, &b_ghost, sums);
        **grads.get_or_alloc_mut(&out_ghost)? = gy;
        Ok(())
    });
    Ok(out.put_tape(tape))
}

/// BatchNorm → ReLU → 2×2 max-pool in one pass; see [`super::OpsDevice::batchnorm_relu_maxpool2`].
/// What the backward pass of [`bn_pool_forward`] needs per pooled output.
struct PoolSel {
    /// Index of the window's maximum, dy·2 + dx.
    arg: Vec<u8>,
    /// The BatchNorm input at that position.
    x: Vec<f32>,
}

/// Forward of BN → ReLU → 2×2 max-pool over `xv` (N, C, H, W); returns the pooled output and,
/// if `with_sel`, the selected positions and inputs.
fn bn_pool_forward(xv: &[f32], shape: Shape4, kc: &BnCoef, with_sel: bool) -> (Vec<f32>, PoolSel) {
    let (n, c, h, w) = shape;
    let (oh, ow) = (h / 2, w / 2);
    let (hw, p) = (h * w, oh * ow);
    let len = if with_sel { n * c * p } else { 0 };
    let mut out = vec![0.0f32; n * c * p];
    let mut sel = PoolSel {
        arg: vec![0u8; len],
        x: vec![0.0f32; len],
    };
    let simd = pool_simd::available();
    let pool = |plane: usize, xi: &[f32], o: &mut [f32], mut s: Option<(&mut [u8], &mut [f32])>| {
        let (sc, sh) = (kc.scale[plane % c], kc.shift[plane % c]);
        let y = |v: f32| relu(v * sc + sh);
        for oy in 0..oh {
            let r0 = &xi[2 * oy * w..2 * oy * w + w];
            let r1 = &xi[(2 * oy + 1) * w..(2 * oy + 1) * w + w];
            let row = oy * ow..(oy + 1) * ow;
            if simd {
                let sel = s
                    .as_mut()
                    .map(|(a, x)| (&mut a[row.clone()], &mut x[row.clone()]));
                pool_simd::pool_row(r0, r1, sc, sh, &mut o[row], sel);
                continue;
            }
            for ox in 0..ow {
                let v = [r0[2 * ox], r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1]];
                let (y0, y1, y2, y3) = (y(v[0]), y(v[1]), y(v[2]), y(v[3]));
                // First maximum wins (strict `>`), like PyTorch.
                let (m01, i01) = if y1 > y0 { (y1, 1u8) } else { (y0, 0) };
                let (m23, i23) = if y3 > y2 { (y3, 3u8) } else { (y2, 2) };
                let (mx, best) = if m23 > m01 { (m23, i23) } else { (m01, i01) };
                let j = oy * ow + ox;
                o[j] = mx;
                if let Some((a, x)) = s.as_mut() {
                    a[j] = best;
                    x[j] = v[best as usize];
                }
            }
        }
    };
    if with_sel {
        out.par_chunks_mut(p)
            .zip(sel.arg.par_chunks_mut(p).zip(sel.x.par_chunks_mut(p)))
            .zip(xv.par_chunks(hw))
            .enumerate()
            .for_each(|(plane, ((o, (a, x)), xi))| pool(plane, xi, o, Some((a, x))));
    } else {
        out.par_chunks_mut(p)
            .zip(xv.par_chunks(hw))
            .enumerate()
            .for_each(|(plane, (o, xi))| pool(plane, xi, o, None));
    }
    (out, sel)
}

/// The row kernel of [`bn_pool_forward`] with AVX-512 (16 windows per step, masked tails).
mod pool_simd {
    /// Whether [`pool_row`] can run.
    pub(super) fn available() -> bool {
        super::pack::available()
    }

    /// One output row: windows over input rows `r0`, `r1`; `out.len()` windows; `sel` receives
    /// the index (dy·2 + dx) and input value of each maximum. Same results as the scalar loop
    /// (same operations, first maximum wins). Requires [`available`].
    pub(super) fn pool_row(
        r0: &[f32],
        r1: &[f32],
        sc: f32,
        sh: f32,
        out: &mut [f32],
        sel: Option<(&mut [u8], &mut [f32])>,
    ) {
        let ow = out.len();
        assert!(r0.len() >= 2 * ow && r1.len() >= 2 * ow && available());
        if let Some((a, x)) = &sel {
            assert!(a.len() == ow && x.len() == ow);
        }
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512F is available; the asserts bound every (masked) access.
        unsafe {
            let (a, x) = match sel {
                Some((a, x)) => (a.as_mut_ptr(), x.as_mut_ptr()),
                None => (std::ptr::null_mut(), std::ptr::null_mut()),
            };
            imp::pool_row(r0.as_ptr(), r1.as_ptr(), sc, sh, out.as_mut_ptr(), ow, a, x);
        }
    }

    #[cfg(target_arch = "x86_64")]
    mod imp {
        use std::arch::x86_64::*;

        #[inline(always)]
        fn mask(n: usize) -> __mmask16 {
            ((1u32 << n.min(16)) - 1) as __mmask16
        }

        /// # Safety
        /// AVX-512F; `r0`, `r1` hold `2·ow` floats, `out` (and `a`, `x` unless null) `ow`.
        #[allow(clippy::too_many_arguments)]
        #[target_feature(enable = "avx512f")]
        pub(super) unsafe fn pool_row(
            r0: *const f32,
            r1: *const f32,
            sc: f32,
            sh: f32,
            out: *mut f32,
            ow: usize,
            a: *mut u8,
            x: *mut f32,
        ) {
            let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
            let (scv, shv, zero) = (_mm512_set1_ps(sc), _mm512_set1_ps(sh), _mm512_setzero_ps());
            // relu(v·sc + sh), unfused like the scalar code.
            // max(0, v) with v second: VMAXPS returns the second operand when one is NaN, so NaN
            // propagates like PyTorch's relu.
            let y = |v: __m512| _mm512_max_ps(zero, _mm512_add_ps(_mm512_mul_ps(v, scv), shv));
            let idx = |i: i32| _mm512_set1_epi32(i);
            let mut ox = 0;
            while ox < ow {
                let cnt = (ow - ox).min(16);
                let (mlo, mhi) = (mask(2 * cnt), mask((2 * cnt).saturating_sub(16)));
                let load = |r: *const f32| {
                    let p = r.add(2 * ox);
                    let lo = _mm512_maskz_loadu_ps(mlo, p);
                    let hi = _mm512_maskz_loadu_ps(mhi, p.wrapping_add(16));
                    (
                        _mm512_permutex2var_ps(lo, even, hi),
                        _mm512_permutex2var_ps(lo, odd, hi),
                    )
                };
                let ((v0, v1), (v2, v3)) = (load(r0), load(r1));
                let (y0, y1, y2, y3) = (y(v0), y(v1), y(v2), y(v3));
                // First maximum wins (strict `>`), like the scalar loop.
                let k01 = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(y1, y0);
                let k23 = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(y3, y2);
                let m01 = _mm512_mask_blend_ps(k01, y0, y1);
                let m23 = _mm512_mask_blend_ps(k23, y2, y3);
                let kf = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(m23, m01);
                let m = mask(cnt);
                _mm512_mask_storeu_ps(out.add(ox), m, _mm512_mask_blend_ps(kf, m01, m23));
                if !a.is_null() {
                    let i01 = _mm512_mask_blend_epi32(k01, idx(0), idx(1));
                    let i23 = _mm512_mask_blend_epi32(k23, idx(2), idx(3));
                    let best = _mm512_mask_blend_epi32(kf, i01, i23);
                    _mm512_mask_cvtepi32_storeu_epi8(a.add(ox) as *mut i8, m, best);
                    let x01 = _mm512_mask_blend_ps(k01, v0, v1);
                    let x23 = _mm512_mask_blend_ps(k23, v2, v3);
                    _mm512_mask_storeu_ps(x.add(ox), m, _mm512_mask_blend_ps(kf, x01, x23));
                }
                ox += cnt;
            }
        }
    }
}

/// Position in an (H, W) plane of the maximum of pooling window (oy, ox) with index
/// a = dy·2 + dx.
#[inline(always)]
fn window_pos(w: usize, oy: usize, ox: usize, a: u8) -> usize {
    (2 * oy + (a >> 1) as usize) * w + 2 * ox + (a & 1) as usize
}

/// Backward of [`bn_pool_forward`] for output gradient `gy`. `xv: Some(x)` adds the input
/// gradient into `g`; `None` means `g` holds x (unused) and is overwritten with the gradient.
/// Returns per channel (Σ dz, Σ dz·x̂) = (dbeta, dgamma); only the selected positions carry
/// dz = dy · [z > 0].
fn bn_pool_backward(
    xv: Option<&[f32]>,
    g: &mut [f32],
    shape: Shape4,
    kc: &BnCoef,
    sel: &PoolSel,
    gy: &[f32],
) -> Vec<(f32, f32)> {
    let (n, c, h, w) = shape;
    let (oh, ow) = (h / 2, w / 2);
    let (hw, p) = (h * w, oh * ow);
    let m = (n * hw) as f32;
    let sums: Vec<(f32, f32)> = (0..c)
        .into_par_iter()
        .map(|ch| {
            let (sc, sh, mu, inv) = (kc.scale[ch], kc.shift[ch], kc.mean[ch], kc.invstd[ch]);
            let (mut s1, mut s2) = (0.0f64, 0.0f64);
            for b in 0..n {
                let r = (b * c + ch) * p..(b * c + ch + 1) * p;
                let (p1, p2) = bn_grad_sums(&sel.x[r.clone()], &gy[r], sc, sh, mu, inv);
                s1 += p1 as f64;
                s2 += p2 as f64;
            }
            (s1 as f32, s2 as f32)
        })
        .collect();
    let plane = |pl: usize, g: &mut [f32], xi: Option<&[f32]>| {
        let ch = pl % c;
        let (sc, sh, mu, inv) = (kc.scale[ch], kc.shift[ch], kc.mean[ch], kc.invstd[ch]);
        if kc.train {
            // sc·(Σdz/M + (x − μ)·inv·Σdz·x̂/M) = k0 + k1·(x − μ)
            let (k0, k1) = (sc * sums[ch].0 / m, sc * inv * sums[ch].1 / m);
            match xi {
                Some(xi) => g
                    .iter_mut()
                    .zip(xi)
                    .for_each(|(g, x)| *g -= k0 + k1 * (x - mu)),
                None => g.iter_mut().for_each(|g| *g = -(k0 + k1 * (*g - mu))),
            }
        } else if xi.is_none() {
            g.fill(0.0);
        }
        let r = pl * p..(pl + 1) * p;
        let (ai, xs, gyi) = (&sel.arg[r.clone()], &sel.x[r.clone()], &gy[r]);
        for oy in 0..oh {
            for ox in 0..ow {
                let j = oy * ow + ox;
                g[window_pos(w, oy, ox, ai[j])] += sc * relu_grad(xs[j] * sc + sh, gyi[j]);
            }
        }
    };
    match xv {
        Some(xv) => g
            .par_chunks_mut(hw)
            .zip(xv.par_chunks(hw))
            .enumerate()
            .for_each(|(pl, (g, xi))| plane(pl, g, Some(xi))),
        None => g
            .par_chunks_mut(hw)
            .enumerate()
            .for_each(|(pl, g)| plane(pl, g, None)),
    }
    sums
}

pub(super) fn batchnorm_relu_maxpool2<T: Tape<f32, Cpu>>(
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

/// conv3x3 → BN → ReLU → 2×2 max-pool as one op; see [`super::OpsDevice::conv_block`].
#[allow(clippy::too_many_arguments)]
pub(super) fn conv_block<T: Tape<f32, Cpu>>(
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
    // The conv output stays ours: no dfdx tensor, no copy, no dfdx gradient buffer for it.
    let yv = plan.forward(&xv, &wv, bv.as_deref());
    let kc = bn_coef(&yv, yshape, gamma, beta, running_mean, running_var, mode);
    let (out, sel) = bn_pool_forward(&yv, yshape, &kc, T::OWNS_TAPE);
    let out = x.device().try_tensor_from_vec(out, (n, co, oh, ow))?;
    if !T::OWNS_TAPE {
        return Ok(out.put_tape(tape));
    }

    let (x_ghost, w_ghost, out_ghost) = (x.ghost(), w.ghost(), out.ghost());
    let b_ghost = bias.map(|b| b.ghost());
    let (g_ghost, be_ghost) = (gamma.ghost(), beta.ghost());
    drop(x);
    let mut tape = tape;
    tape.add_backward_op(move |grads| {
        let gy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
        // The conv output's buffer becomes its gradient.
        let mut gz = yv;
        let sums = bn_pool_backward(None, &mut gz, yshape, &kc, &sel, &gy);
        add_bn_param_grads!(grads, &g_ghost, &be_ghost, sums);
        let (dw, db) = if input_grad {
            let gx: &mut [f32] = grads.get_or_alloc_mut(&x_ghost)?;
            plan.backward(&xv, &wv, &gz, Some(gx))
        } else {
            plan.backward(&xv, &wv, &gz, None)
        };
        add_grad!(grads, &w_ghost, dw);
        if let Some(b_ghost) = &b_ghost {
            add_grad!(grads, b_ghost, db);
        }
        **grads.get_or_alloc_mut(&out_ghost)? = gy;
        Ok(())
    });
    Ok(out.put_tape(tape))
}

pub(super) fn maxpool2<T: Tape<f32, Cpu>>(x: T4<Cpu, T>) -> Result<T4<Cpu, T>, CpuError> {
    let shape = *x.shape();
    let (n, c, h, w) = shape;
    let (oh, ow) = check_maxpool2(shape).map_err(arg_err)?;
    let (hw, p) = (h * w, oh * ow);
    let x = x.try_reshape_like(&shape)?;
    let (x, tape) = x.split_tape();
    let xv = read(&x);
    let mut out = vec![0.0f32; n * c * p];
    // Index of the maximum within the window: dy·2 + dx (first maximum wins, like PyTorch).
    let mut arg = vec![0u8; if T::OWNS_TAPE { n * c * p } else { 0 }];
    let pool = |xi: &[f32], o: &mut [f32], mut a: Option<&mut [u8]>| {
        for oy in 0..oh {
            let r0 = &xi[2 * oy * w..2 * oy * w + w];
            let r1 = &xi[(2 * oy + 1) * w..(2 * oy + 1) * w + w];
            for ox in 0..ow {
                let (v0, v1) = (r0[2 * ox], r0[2 * ox + 1]);
                let (v2, v3) = (r1[2 * ox], r1[2 * ox + 1]);
                // First maximum wins (strict `>`), like PyTorch; selects, not branches.
                let (m01, i01) = if v1 > v0 { (v1, 1u8) } else { (v0, 0) };
                let (m23, i23) = if v3 > v2 { (v3, 3u8) } else { (v2, 2) };
                let (mx, best) = if m23 > m01 { (m23, i23) } else { (m01, i01) };
                o[oy * ow + ox] = mx;
                if let Some(a) = a.as_deref_mut() {
                    a[oy * ow + ox] = best;
                }
            }
        }
    };
    if T::OWNS_TAPE {
        out.par_chunks_mut(p)
            .zip(arg.par_chunks_mut(p))
            .zip(xv.par_chunks(hw))
            .for_each(|((o, a), xi)| pool(xi, o, Some(a)));
    } else {
        out.par_chunks_mut(p)
            .zip(xv.par_chunks(hw))
            .for_each(|(o, xi)| pool(xi, o, None));
    }
    drop(xv);
    let out = x.device().try_tensor_from_vec(out, (n, c, oh, ow))?;
    if !T::OWNS_TAPE {
        return Ok(out.put_tape(tape));
    }
    let (x_ghost, out_ghost) = (x.ghost(), out.ghost());
    drop(x);
    let mut tape = tape;
    tape.add_backward_op(move |grads| {
        let gy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
        let gx: &mut [f32] = grads.get_or_alloc_mut(&x_ghost)?;
        gx.par_chunks_mut(hw)
            .zip(arg.par_chunks(p))
            .zip(gy.par_chunks(p))
            .for_each(|((gx, a), gyi)| {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let j = a[oy * ow + ox] as usize;
                        gx[(2 * oy + j / 2) * w + 2 * ox + j % 2] += gyi[oy * ow + ox];
                    }
                }
            });
        **grads.get_or_alloc_mut(&out_ghost)? = gy;
        Ok(())
    });
    Ok(out.put_tape(tape))
}
