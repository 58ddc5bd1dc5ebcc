//! Direct 3×3 convolution of one-channel images (a network's first layer on grey images).
//!
//! With one input channel im2col + GEMM is a poor fit: the GEMM's depth is 9, so packing and
//! the tile's loads and stores cost more than its 9 multiply-adds, and the weight gradient's
//! GEMM has 9 columns (a fifth of a 48-wide tile). Here the image is laid out "wide": the
//! output is computed on the input's full row width, so every tap is one long contiguous
//! multiply-add over `oh × W` values (then the `ow` valid columns are kept), and each
//! weight-gradient entry is one contiguous dot product. The loops are plain Rust, compiled for
//! AVX-512 (`dispatch!`) when the CPU has it (callers only use this kernel then).
//!
//! Sums run over the taps in the order ky, kx with fused multiply-adds, the order of the
//! im2col + GEMM path.

use super::{give, lane_sum, take, with_scratch};
use rayon::prelude::*;

/// One image's padded input on a row width of `w + 2·pad` (zeros around and 2 floats of
/// slack at the end, so that the wide rows' last taps stay inside).
pub(super) struct Padded {
    /// Row width of the padded image.
    pub(super) wd: usize,
    pub(super) oh: usize,
    pub(super) ow: usize,
    /// Per vector of 16 wide positions (from position 16·v): the lanes that are output
    /// columns inside the plane, and the output index of the first of them.
    lanes: Vec<(u16, usize)>,
}

impl Padded {
    pub(super) fn new(h: usize, w: usize, pad: usize) -> Self {
        let (ht, wd) = (h + 2 * pad, w + 2 * pad);
        let (oh, ow) = (ht - 2, wd - 2);
        let n = oh * wd;
        let mut lanes = Vec::with_capacity(n.div_ceil(16));
        // (row, column) of the vector's first position, without divisions.
        let (mut row, mut col) = (0, 0);
        for j in (0..n).step_by(16) {
            let mut m = 0u16;
            let mut c = col;
            for l in 0..16 {
                if j + l < n && c < ow {
                    m |= 1 << l;
                }
                c += 1;
                if c == wd {
                    c = 0;
                }
            }
            lanes.push((m, row * ow + col.min(ow)));
            col += 16;
            while col >= wd {
                col -= wd;
                row += 1;
            }
        }
        Padded { wd, oh, ow, lanes }
    }

    /// Floats of the padded buffer.
    pub(super) fn len(&self) -> usize {
        (self.oh + 2) * self.wd + 2
    }

    /// Floats of one wide output plane.
    pub(super) fn wide(&self) -> usize {
        self.oh * self.wd
    }

    /// Fills `xp` (`len()` floats) from the image `x` (h × w).
    pub(super) fn fill(&self, x: &[f32], w: usize, pad: usize, xp: &mut [f32]) {
        if pad == 0 {
            xp[..x.len()].copy_from_slice(x);
            xp[x.len()..].fill(0.0);
            return;
        }
        xp.fill(0.0);
        for (r, row) in x.chunks_exact(w).enumerate() {
            let s = (r + pad) * self.wd + pad;
            xp[s..s + w].copy_from_slice(row);
        }
    }

    #[inline(always)]
    fn offsets(&self) -> [usize; 9] {
        std::array::from_fn(|k| (k / 3) * self.wd + k % 3)
    }
}

/// (dW, dbias) of a first layer on one-channel images (no input gradient) of `xv` (images of
/// `w` columns, padding `pad`; `co` output channels), image after image: `grad(img, gz)`
/// writes image `img`'s output gradient (co × oh·ow) into a scratch buffer that the next image
/// reuses, so the output gradient of the whole batch never exists. With `gram`, also the sums
/// S (9) and the Gram matrix G (9 × 9, row-major) of the 3×3 input patches under the outputs
/// of these images, in `f64`: Σ p and Σ p·pᵀ over every output position. Parallel over groups
/// of images (one group on a rank of a team), their partial sums added in group order.
pub(super) fn grads_by_image(
    pd: &Padded,
    (w, pad): (usize, usize),
    co: usize,
    xv: &[f32],
    grad: &(dyn Fn(usize, &mut [f32]) + Sync),
    gram: bool,
) -> DirectGrads {
    let (p, img) = (pd.oh * pd.ow, (pd.oh + 2 - 2 * pad) * w);
    let n = xv.len() / img;
    assert!(n > 0 && xv.len() == n * img);
    let per = n.div_ceil(super::threads().clamp(1, n));
    let chunk = |(j, xc): (usize, &[f32])| {
        let mut out = DirectGrads {
            dw: vec![0.0; co * 9],
            db: vec![0.0; co],
            gram: gram.then(|| (vec![0.0; 9], vec![0.0; 81])),
        };
        let (mut gz, mut tp) = (take(co * p), take(9 * p));
        with_scratch(pd.len(), pd.wide(), |xp, wide| {
            for (i, xi) in xc.chunks_exact(img).enumerate() {
                pd.fill(xi, w, pad, xp);
                grad(j * per + i, &mut gz);
                weight_grad(pd, xp, &gz, &mut out.dw, wide);
                for (d, row) in out.db.iter_mut().zip(gz.chunks(p)) {
                    *d += lane_sum(row, |v| v);
                }
                if let Some((s, gg)) = &mut out.gram {
                    // G = Σ taps ⊗ taps: the weight gradient of the taps as 9 channels.
                    taps(pd, xp, &mut tp);
                    let mut gi = [0.0f32; 81];
                    weight_grad(pd, xp, &tp, &mut gi, wide);
                    gg.iter_mut().zip(gi).for_each(|(a, b)| *a += b as f64);
                    for (a, row) in s.iter_mut().zip(tp.chunks(p)) {
                        *a += lane_sum(row, |v| v) as f64;
                    }
                }
            }
        });
        give(gz);
        give(tp);
        out
    };
    let parts: Vec<DirectGrads> = xv.par_chunks(per * img).enumerate().map(chunk).collect();
    let mut parts = parts.into_iter();
    let mut all = parts.next().expect("at least one image");
    for o in parts {
        all.dw.iter_mut().zip(&o.dw).for_each(|(a, b)| *a += b);
        all.db.iter_mut().zip(&o.db).for_each(|(a, b)| *a += b);
        if let (Some((s, gg)), Some((s2, gg2))) = (&mut all.gram, &o.gram) {
            s.iter_mut().zip(s2).for_each(|(a, b)| *a += b);
            gg.iter_mut().zip(gg2).for_each(|(a, b)| *a += b);
        }
    }
    all
}

/// What [`grads_by_image`] returns.
pub(super) struct DirectGrads {
    pub(super) dw: Vec<f32>,
    pub(super) db: Vec<f32>,
    /// The patches' sums and Gram matrix, when asked for.
    pub(super) gram: Option<(Vec<f64>, Vec<f64>)>,
}

/// The 9 taps of every output position (im2col of one channel): `out` (9 × oh·ow), row
/// `ky·3 + kx` holding the input under tap (ky, kx) of each output.
pub(super) fn taps(p: &Padded, xp: &[f32], out: &mut [f32]) {
    let (off, plane) = (p.offsets(), p.oh * p.ow);
    assert!(xp.len() >= p.len() && out.len() == 9 * plane);
    for (o, row) in off.iter().zip(out.chunks_exact_mut(plane)) {
        for (r, dst) in row.chunks_exact_mut(p.ow).enumerate() {
            let s = o + r * p.wd;
            dst.copy_from_slice(&xp[s..s + p.ow]);
        }
    }
}

/// Calls `$imp($args)`, compiled for AVX-512 (through `$wide`, a `#[target_feature]` copy) when
/// the CPU has it: the kernels' plain loops then vectorise 16 wide with fused multiply-adds.
macro_rules! dispatch {
    ($imp:ident, $wide:ident, ($($a:ident: $t:ty),*)) => {{
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx2,fma")]
        unsafe fn $wide($($a: $t),*) {
            $imp($($a),*)
        }
        #[cfg(target_arch = "x86_64")]
        if super::pack::available() {
            // SAFETY: AVX-512F (and with it AVX2 and FMA) is available.
            return unsafe { $wide($($a),*) };
        }
        $imp($($a),*)
    }};
}

/// y (co × oh·ow) = conv(xp, w (co × 9)); `wide` is scratch of `p.wide()` floats.
pub(super) fn forward(p: &Padded, xp: &[f32], w: &[f32], y: &mut [f32], wide: &mut [f32]) {
    assert!(xp.len() >= p.len() && wide.len() >= p.wide());
    assert!(y.len() == w.len() / 9 * p.oh * p.ow);
    #[cfg(target_arch = "x86_64")]
    if super::pack::available() {
        // SAFETY: AVX-512F is available; the asserts above are what `blocked::forward` needs.
        unsafe { blocked::forward(p, xp, w, y) };
        return;
    }
    dispatch!(forward_imp, forward_avx512, (p: &Padded, xp: &[f32], w: &[f32], y: &mut [f32], wide: &mut [f32]))
}

#[inline(always)]
fn forward_imp(p: &Padded, xp: &[f32], w: &[f32], y: &mut [f32], wide: &mut [f32]) {
    let off = p.offsets();
    let n = p.wide();
    let (oh, ow, wd) = (p.oh, p.ow, p.wd);
    for (wc, yc) in w.chunks_exact(9).zip(y.chunks_exact_mut(oh * ow)) {
        let wide = &mut wide[..n];
        let x0 = &xp[off[0]..off[0] + n];
        for (d, x) in wide.iter_mut().zip(x0) {
            *d = wc[0] * x;
        }
        for k in 1..9 {
            let xk = &xp[off[k]..off[k] + n];
            for (d, x) in wide.iter_mut().zip(xk) {
                *d = wc[k].mul_add(*x, *d);
            }
        }
        for (yr, wr) in yc.chunks_exact_mut(ow).zip(wide.chunks_exact(wd)) {
            yr.copy_from_slice(&wr[..ow]);
        }
    }
}

/// dw (co × 9) += Σ over the image of gy (co × oh·ow) ⊗ taps of xp; `wide` is scratch of
/// `p.wide()` floats.
pub(super) fn weight_grad(p: &Padded, xp: &[f32], gy: &[f32], dw: &mut [f32], wide: &mut [f32]) {
    assert!(xp.len() >= p.len() && wide.len() >= p.wide());
    assert!(gy.len() == dw.len() / 9 * p.oh * p.ow);
    #[cfg(target_arch = "x86_64")]
    if super::pack::available() {
        // SAFETY: AVX-512F is available; the asserts above are what `blocked::weight_grad`
        // needs.
        unsafe { blocked::weight_grad(p, xp, gy, dw) };
        return;
    }
    dispatch!(weight_grad_imp, weight_grad_avx512, (p: &Padded, xp: &[f32], gy: &[f32], dw: &mut [f32], wide: &mut [f32]))
}

#[inline(always)]
fn weight_grad_imp(p: &Padded, xp: &[f32], gy: &[f32], dw: &mut [f32], wide: &mut [f32]) {
    const L: usize = 16;
    let off = p.offsets();
    let n = p.wide();
    let (oh, ow, wd) = (p.oh, p.ow, p.wd);
    for (dc, gc) in dw.chunks_exact_mut(9).zip(gy.chunks_exact(oh * ow)) {
        let wide = &mut wide[..n];
        for (wr, gr) in wide.chunks_exact_mut(wd).zip(gc.chunks_exact(ow)) {
            wr[..ow].copy_from_slice(gr);
            wr[ow..].fill(0.0);
        }
        for k in 0..9 {
            let xk = &xp[off[k]..off[k] + n];
            let mut acc = [0.0f32; L];
            let (gch, xch) = (wide.chunks_exact(L), xk.chunks_exact(L));
            let (gr, xr) = (gch.remainder(), xch.remainder());
            for (g, x) in gch.zip(xch) {
                for j in 0..L {
                    acc[j] = g[j].mul_add(x[j], acc[j]);
                }
            }
            let tail: f32 = gr.iter().zip(xr).map(|(g, x)| g * x).sum();
            dc[k] += acc.iter().sum::<f32>() + tail;
        }
    }
}

/// Register-blocked AVX-512 kernels on the wide layout: the forward keeps 8 output channels ×
/// 48 wide positions in registers while the 9 taps stream past (each input vector loaded once
/// for 8 channels), and compresses the valid columns straight into the output; the weight
/// gradient keeps 2 channels × 9 taps of sums in registers and expands the output gradient
/// into the wide layout on the fly. Same order of operations per output as the plain loops
/// (the forward's results are identical).
#[cfg(target_arch = "x86_64")]
mod blocked {
    use super::Padded;
    use std::arch::x86_64::*;

    /// [`Padded::lanes`] of the vector at wide position `j` (a multiple of 16), none past the
    /// plane.
    #[inline(always)]
    fn lanes(p: &Padded, j: usize) -> (__mmask16, usize) {
        p.lanes.get(j / 16).copied().unwrap_or((0, 0))
    }

    /// Forward, `CB` channels × 3 vectors per block.
    ///
    /// # Safety
    /// AVX-512F; `xp.len() ≥ p.len()`, `y.len() = w.len() / 9 · oh·ow`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn forward(p: &Padded, xp: &[f32], w: &[f32], y: &mut [f32]) {
        const CB: usize = 8;
        let (n, co, plane) = (p.wide(), w.len() / 9, p.oh * p.ow);
        let off = p.offsets();
        let (xp, w, y) = (xp.as_ptr(), w.as_ptr(), y.as_mut_ptr());
        for j0 in (0..n).step_by(48) {
            let lm: [(__mmask16, usize); 3] = std::array::from_fn(|v| lanes(p, j0 + 16 * v));
            // Loads stay inside `xp`: lanes past the plane are masked off.
            let ld: [__mmask16; 3] = std::array::from_fn(|v| {
                let left = n.saturating_sub(j0 + 16 * v).min(16);
                ((1u32 << left) - 1) as __mmask16
            });
            for c0 in (0..co).step_by(CB) {
                let cb = CB.min(co - c0);
                let mut acc = [[_mm512_setzero_ps(); 3]; CB];
                for (k, &o) in off.iter().enumerate() {
                    let x: [__m512; 3] = std::array::from_fn(|v| {
                        _mm512_maskz_loadu_ps(ld[v], xp.add(o + j0 + 16 * v))
                    });
                    for (c, a) in acc.iter_mut().enumerate().take(cb) {
                        let wv = _mm512_set1_ps(*w.add((c0 + c) * 9 + k));
                        for v in 0..3 {
                            a[v] = _mm512_fmadd_ps(wv, x[v], a[v]);
                        }
                    }
                }
                for (c, a) in acc.iter().enumerate().take(cb) {
                    let yc = y.add((c0 + c) * plane);
                    for v in 0..3 {
                        let (m, d) = lm[v];
                        if m != 0 {
                            // Compress in a register, then one masked store: the
                            // memory form of VCOMPRESSPS is several times slower.
                            let packed = _mm512_maskz_compress_ps(m, a[v]);
                            let keep = ((1u32 << m.count_ones()) - 1) as __mmask16;
                            _mm512_mask_storeu_ps(yc.add(d), keep, packed);
                        }
                    }
                }
            }
        }
    }

    /// Weight gradient (adds into `dw`), 2 channels × 9 taps of sums per block (the last odd
    /// channel alone).
    ///
    /// # Safety
    /// AVX-512F; `xp.len() ≥ p.len()`, `gy.len() = dw.len() / 9 · oh·ow`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn weight_grad(p: &Padded, xp: &[f32], gy: &[f32], dw: &mut [f32]) {
        let co = dw.len() / 9;
        let mut sums = [[_mm512_setzero_ps(); 9]; 2];
        let mut add = |c0: usize, cb: usize, sums: &[[__m512; 9]; 2]| {
            for (c, s) in sums.iter().enumerate().take(cb) {
                for k in 0..9 {
                    dw[(c0 + c) * 9 + k] += _mm512_reduce_add_ps(s[k]);
                }
            }
        };
        for c0 in (0..co - co % 2).step_by(2) {
            weight_grad_block::<2>(p, xp, gy, c0, &mut sums);
            add(c0, 2, &sums);
        }
        if co % 2 == 1 {
            weight_grad_block::<1>(p, xp, gy, co - 1, &mut sums);
            add(co - 1, 1, &sums);
        }
    }

    /// The vector sums of [`weight_grad`] for channels `c0..c0 + CB` into `sums[..CB]`. Its own
    /// function, and the sums started from the first vector's products, not from zero, so
    /// that nothing confines them to the 16 registers a VEX instruction can name (LLVM's zero
    /// idiom and `_mm512_reduce_add_ps`'s narrower adds are VEX without AVX-512VL): there 18
    /// sums spilled to the stack, where a 64-byte store reloaded at once is slow unless the
    /// stack is 64-byte aligned (one rank ran this kernel at half the other's speed). The
    /// block size is a constant for the same reason.
    ///
    /// # Safety
    /// As [`weight_grad`], and `c0 + CB ≤ gy.len() / (oh·ow)`.
    #[inline(never)]
    #[target_feature(enable = "avx512f")]
    unsafe fn weight_grad_block<const CB: usize>(
        p: &Padded,
        xp: &[f32],
        gy: &[f32],
        c0: usize,
        sums: &mut [[__m512; 9]; 2],
    ) {
        let (n, plane) = (p.wide(), p.oh * p.ow);
        let off = p.offsets();
        let (xp, gy) = (xp.as_ptr(), gy.as_ptr());
        // Two channels' sums as 18 named values (CB = 1 leaves the second nine unused).
        let g0 = gy.add(c0 * plane);
        let g1 = gy.add((c0 + CB - 1) * plane);
        // The output gradient's valid values of vector `jv`, spread onto the wide lanes, and
        // the mask of its loads.
        let at = |jv: usize| {
            let (m, d) = p.lanes[jv];
            let ld = ((1u32 << (n - 16 * jv).min(16)) - 1) as __mmask16;
            let e0 = _mm512_maskz_expandloadu_ps(m, g0.add(d).cast());
            let e1 = _mm512_maskz_expandloadu_ps(m, g1.add(d).cast());
            (e0, e1, ld)
        };
        let x = |k: usize, jv: usize, ld: __mmask16| {
            _mm512_maskz_loadu_ps(ld, xp.add(off[k] + 16 * jv))
        };
        let (e0, e1, ld) = at(0);
        let xs: [__m512; 9] = std::array::from_fn(|k| x(k, 0, ld));
        let [mut a0, mut a1, mut a2, mut a3, mut a4, mut a5, mut a6, mut a7, mut a8] =
            xs.map(|x| _mm512_mul_ps(e0, x));
        let [mut b0, mut b1, mut b2, mut b3, mut b4, mut b5, mut b6, mut b7, mut b8] =
            xs.map(|x| _mm512_mul_ps(e1, x));
        // (A vector with no output lanes adds zeros.)
        for jv in 1..p.lanes.len() {
            let (e0, e1, ld) = at(jv);
            macro_rules! tap {
                ($k:expr, $a:ident, $b:ident) => {
                    let x = x($k, jv, ld);
                    $a = _mm512_fmadd_ps(e0, x, $a);
                    if CB == 2 {
                        $b = _mm512_fmadd_ps(e1, x, $b);
                    }
                };
            }
            tap!(0, a0, b0);
            tap!(1, a1, b1);
            tap!(2, a2, b2);
            tap!(3, a3, b3);
            tap!(4, a4, b4);
            tap!(5, a5, b5);
            tap!(6, a6, b6);
            tap!(7, a7, b7);
            tap!(8, a8, b8);
        }
        *sums = [
            [a0, a1, a2, a3, a4, a5, a6, a7, a8],
            [b0, b1, b2, b3, b4, b5, b6, b7, b8],
        ];
    }
}
