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

/// One image's padded input on a row width of `w + 2·pad` (zeros around and 2 floats of
/// slack at the end, so that the wide rows' last taps stay inside).
pub(super) struct Padded {
    /// Row width of the padded image.
    pub(super) wd: usize,
    pub(super) oh: usize,
    pub(super) ow: usize,
}

impl Padded {
    pub(super) fn new(h: usize, w: usize, pad: usize) -> Self {
        let (ht, wd) = (h + 2 * pad, w + 2 * pad);
        Padded {
            wd,
            oh: ht - 2,
            ow: wd - 2,
        }
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
