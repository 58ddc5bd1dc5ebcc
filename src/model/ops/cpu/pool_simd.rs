//! AVX-512 kernels of the BatchNorm → ReLU → 2×2 max-pool ops, a whole (H, W) plane per call
//! (so that the constants are set up once per plane, not per row): the forward
//! ([`forward_plane`]: 16 windows per step, masked tails) and the backward
//! ([`backward_plane`]: BatchNorm's part of the input gradient and each window's gradient
//! added at its maximum, 16 windows of both input rows per step, one pass over the plane).
//! Same operations in the same order as the scalar loops of `super::pool`, so the same
//! results to the bit. The callers check
//! [`available`] and run the scalar loops otherwise.

/// Whether the kernels can run: [`super::pack::available`], and the CPU has AVX-512BW and VL
/// (masked byte loads).
pub(super) fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        let bw = std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl");
        #[cfg(not(target_arch = "x86_64"))]
        let bw = false;
        super::pack::available() && bw
    })
}

/// BN → ReLU → 2×2 max-pool of plane `xi` (row width `w`, at least `2·oh` rows) into `out`
/// (`oh·ow` floats, all written; `2·ow ≤ w`); `sel` receives the index (dy·2 + dx) and input value of each
/// window's maximum. Requires [`available`].
#[allow(clippy::too_many_arguments)]
pub(super) fn forward_plane(
    xi: &[f32],
    w: usize,
    (oh, ow): (usize, usize),
    sc: f32,
    sh: f32,
    out: &mut [std::mem::MaybeUninit<f32>],
    sel: Option<(&mut [u8], &mut [f32])>,
) {
    assert!(available() && 2 * ow <= w && xi.len() >= 2 * oh * w && out.len() == oh * ow);
    if let Some((a, x)) = &sel {
        assert!(a.len() == oh * ow && x.len() == oh * ow);
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX-512F is available; the asserts bound every (masked) access.
    unsafe {
        let (a, x) = match sel {
            Some((a, x)) => (a.as_mut_ptr(), x.as_mut_ptr()),
            None => (std::ptr::null_mut(), std::ptr::null_mut()),
        };
        imp::forward_plane(
            xi.as_ptr(),
            w,
            oh,
            ow,
            sc,
            sh,
            out.as_mut_ptr().cast(),
            a,
            x,
        );
    }
}

/// How the backward pass starts each element of a plane's input gradient, before the pooled
/// gradient is added at each window's maximum.
#[derive(Clone, Copy, Debug)]
pub(super) enum Base {
    /// Train mode, `g` holds x: g = −(k0 + k1·(x − μ)).
    Replace { k0: f32, k1: f32, mu: f32 },
    /// Train mode, x given: g −= k0 + k1·(x − μ).
    Subtract { k0: f32, k1: f32, mu: f32 },
    /// Eval mode, `g` holds x: g = 0.
    Zero,
    /// Eval mode, x given: g unchanged.
    Keep,
}

/// One plane of the BN → ReLU → max-pool backward: every element of `g` (`h·w` floats) gets
/// its [`Base`] (`x`: the plane's inputs for [`Base::Subtract`]), and the maximum of window j
/// of the (oh × ow) pooling `sc · relu_grad(xs[j]·sc + sh, gy[j])` added; `arg[j]` is the
/// maximum's index dy·2 + dx (0..4). One pass over the plane. Requires [`available`].
#[allow(clippy::too_many_arguments)]
pub(super) fn backward_plane(
    g: &mut [f32],
    x: Option<&[f32]>,
    (h, w): (usize, usize),
    base: Base,
    sc: f32,
    sh: f32,
    arg: &[u8],
    xs: &[f32],
    gy: &[f32],
) {
    let (oh, ow) = (h / 2, w / 2);
    let q = oh * ow;
    assert!(available() && g.len() == h * w && x.is_none_or(|x| x.len() == h * w));
    assert!(arg.len() == q && xs.len() == q && gy.len() == q);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX-512F is available; the asserts bound every (masked) access.
    unsafe {
        let xp = x.map_or(std::ptr::null(), |x| x.as_ptr());
        let t = imp::Plane {
            g: g.as_mut_ptr(),
            x: xp,
            h,
            w,
        };
        imp::backward_plane(&t, base, sc, sh, arg.as_ptr(), xs.as_ptr(), gy.as_ptr());
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
    /// AVX-512F; `xi` holds `2·oh` rows of `w ≥ 2·ow` floats, `out` (and `a`, `x` unless null)
    /// `oh·ow`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn forward_plane(
        xi: *const f32,
        w: usize,
        oh: usize,
        ow: usize,
        sc: f32,
        sh: f32,
        out: *mut f32,
        a: *mut u8,
        x: *mut f32,
    ) {
        let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        let (scv, shv, zero) = (_mm512_set1_ps(sc), _mm512_set1_ps(sh), _mm512_setzero_ps());
        // relu(v·sc + sh), unfused like the scalar code. max(0, v) with v second: VMAXPS
        // returns the second operand when one is NaN, so NaN propagates like PyTorch's relu.
        let y = |v: __m512| _mm512_max_ps(zero, _mm512_add_ps(_mm512_mul_ps(v, scv), shv));
        let idx = |i: i32| _mm512_set1_epi32(i);
        for oy in 0..oh {
            let r0 = xi.add(2 * oy * w);
            let r1 = r0.add(w);
            let o = oy * ow;
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
                _mm512_mask_storeu_ps(out.add(o + ox), m, _mm512_mask_blend_ps(kf, m01, m23));
                if !a.is_null() {
                    let i01 = _mm512_mask_blend_epi32(k01, idx(0), idx(1));
                    let i23 = _mm512_mask_blend_epi32(k23, idx(2), idx(3));
                    let best = _mm512_mask_blend_epi32(kf, i01, i23);
                    _mm512_mask_cvtepi32_storeu_epi8(a.add(o + ox) as *mut i8, m, best);
                    let x01 = _mm512_mask_blend_ps(k01, v0, v1);
                    let x23 = _mm512_mask_blend_ps(k23, v2, v3);
                    _mm512_mask_storeu_ps(x.add(o + ox), m, _mm512_mask_blend_ps(kf, x01, x23));
                }
                ox += cnt;
            }
        }
    }

    /// A plane's gradient `g` (`h × w`) and, unless null, its inputs `x`.
    pub(super) struct Plane {
        pub(super) g: *mut f32,
        pub(super) x: *const f32,
        pub(super) h: usize,
        pub(super) w: usize,
    }

    /// The [`super::Base`] of 16 elements (`m` of them loaded) at offset `o` of the plane.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn base(t: &Plane, b: super::Base, o: usize, m: __mmask16) -> __m512 {
        use super::Base;
        match b {
            Base::Replace { k0, k1, mu } => {
                // −(k0 + k1·(g − μ)), unfused like the scalar code; − flips the sign bit.
                let g = _mm512_maskz_loadu_ps(m, t.g.add(o));
                let d = _mm512_sub_ps(g, _mm512_set1_ps(mu));
                let a = _mm512_add_ps(_mm512_set1_ps(k0), _mm512_mul_ps(_mm512_set1_ps(k1), d));
                let v = _mm512_castps_si512(a);
                _mm512_castsi512_ps(_mm512_xor_si512(v, _mm512_set1_epi32(i32::MIN)))
            }
            Base::Subtract { k0, k1, mu } => {
                // g − (k0 + k1·(x − μ))
                let x = _mm512_maskz_loadu_ps(m, t.x.add(o));
                let d = _mm512_sub_ps(x, _mm512_set1_ps(mu));
                let a = _mm512_add_ps(_mm512_set1_ps(k0), _mm512_mul_ps(_mm512_set1_ps(k1), d));
                _mm512_sub_ps(_mm512_maskz_loadu_ps(m, t.g.add(o)), a)
            }
            Base::Zero => _mm512_setzero_ps(),
            Base::Keep => _mm512_maskz_loadu_ps(m, t.g.add(o)),
        }
    }

    /// Elements `from..to` of row `r`: their base only.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn base_only(t: &Plane, b: super::Base, r: usize, from: usize, to: usize) {
        let mut c = from;
        while c < to {
            let m = mask(to - c);
            let o = r * t.w + c;
            _mm512_mask_storeu_ps(t.g.add(o), m, base(t, b, o, m));
            c += 16;
        }
    }

    /// # Safety
    /// AVX-512F, BW and VL; `t.g` (and `t.x` unless null, needed for `Base::Subtract`) hold
    /// `h·w` floats; `arg`, `xs`, `gy` hold `(h/2)·(w/2)` values (an `arg` of 4 or more
    /// matches no position).
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    pub(super) unsafe fn backward_plane(
        t: &Plane,
        b: super::Base,
        sc: f32,
        sh: f32,
        arg: *const u8,
        xs: *const f32,
        gy: *const f32,
    ) {
        let (h, w) = (t.h, t.w);
        let (oh, ow) = (h / 2, w / 2);
        // Window j's value goes to lanes 2j and 2j + 1 of the interleaved pair (lo, hi).
        let lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        let hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        // The index a window's maximum has at each lane of input row dy = 0 and dy = 1.
        let pat0 = _mm512_setr_epi32(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1);
        let pat1 = _mm512_setr_epi32(2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3);
        let (scv, shv, zero) = (_mm512_set1_ps(sc), _mm512_set1_ps(sh), _mm512_setzero_ps());
        for oy in 0..oh {
            let mut ox = 0;
            while ox < ow {
                let cnt = (ow - ox).min(16);
                let (m, j) = (mask(cnt), oy * ow + ox);
                let av = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, arg.add(j).cast()));
                let xv = _mm512_maskz_loadu_ps(m, xs.add(j));
                let gv = _mm512_maskz_loadu_ps(m, gy.add(j));
                // sc · relu_grad(x·sc + sh, dy), unfused like the scalar code.
                let z = _mm512_add_ps(_mm512_mul_ps(xv, scv), shv);
                let kz = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(z, zero);
                let d = _mm512_mul_ps(scv, _mm512_maskz_mov_ps(kz, gv));
                let (dl, dh) = (
                    _mm512_permutex2var_ps(d, lo, d),
                    _mm512_permutex2var_ps(d, hi, d),
                );
                let (al, ah) = (
                    _mm512_permutex2var_epi32(av, lo, av),
                    _mm512_permutex2var_epi32(av, hi, av),
                );
                let (mlo, mhi) = (mask(2 * cnt), mask((2 * cnt).saturating_sub(16)));
                for (dy, pat) in [(0, pat0), (1, pat1)] {
                    let o = (2 * oy + dy) * w + 2 * ox;
                    // Each window's maximum gets base + d, the other elements their base.
                    let kl = _mm512_mask_cmpeq_epi32_mask(mlo, al, pat);
                    let bl = base(t, b, o, mlo);
                    _mm512_mask_storeu_ps(t.g.add(o), mlo, _mm512_mask_add_ps(bl, kl, bl, dl));
                    if mhi != 0 {
                        let kh = _mm512_mask_cmpeq_epi32_mask(mhi, ah, pat);
                        let bh = base(t, b, o + 16, mhi);
                        let v = _mm512_mask_add_ps(bh, kh, bh, dh);
                        _mm512_mask_storeu_ps(t.g.add(o + 16), mhi, v);
                    }
                }
                ox += cnt;
            }
            // A last column outside every window.
            for dy in 0..2 {
                base_only(t, b, 2 * oy + dy, 2 * ow, w);
            }
        }
        // A last row outside every window.
        for r in 2 * oh..h {
            base_only(t, b, r, 0, w);
        }
    }
}
