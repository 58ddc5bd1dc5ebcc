//! 2×2 max-pooling: the plain op ([`maxpool2`]) and the BatchNorm → ReLU → max-pool kernels
//! that the fused ops run ([`bn_pool_forward`], [`bn_pool_backward`], AVX-512 rows in
//! `pool_simd`).

use super::batchnorm::{bn_grad_sums, relu, relu_grad, BnCoef};
use super::{pack, read, take};
use crate::model::ops::{arg_err, check_maxpool2, Shape4, T4};
use dfdx::prelude::*;
use rayon::prelude::*;

pub(crate) fn maxpool2<T: Tape<f32, Cpu>>(x: T4<Cpu, T>) -> Result<T4<Cpu, T>, CpuError> {
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

/// What the backward pass of [`bn_pool_forward`] needs per pooled output.
pub(super) struct PoolSel {
    /// Index of the window's maximum, dy·2 + dx.
    arg: Vec<u8>,
    /// The BatchNorm input at that position.
    x: Vec<f32>,
}

impl PoolSel {
    /// Gives the buffers back for reuse (after the backward pass).
    pub(super) fn recycle(self) {
        super::give(self.x);
    }
}

/// Forward of BN → ReLU → 2×2 max-pool over `xv` (N, C, H, W); returns the pooled output and,
/// if `with_sel`, the selected positions and inputs.
pub(super) fn bn_pool_forward(
    xv: &[f32],
    shape: Shape4,
    kc: &BnCoef,
    with_sel: bool,
) -> (Vec<f32>, PoolSel) {
    let (n, c, h, w) = shape;
    let (oh, ow) = (h / 2, w / 2);
    let (hw, p) = (h * w, oh * ow);
    let len = if with_sel { n * c * p } else { 0 };
    // Every element is written: recycled buffers need no clearing.
    let mut out = take(n * c * p);
    let mut sel = PoolSel {
        arg: vec![0u8; len],
        x: if with_sel { take(len) } else { Vec::new() },
    };
    let pool = |plane: usize, xi: &[f32], o: &mut [f32], s: Option<(&mut [u8], &mut [f32])>| {
        pool_plane(
            xi,
            w,
            (oh, ow),
            kc.scale[plane % c],
            kc.shift[plane % c],
            o,
            s,
        )
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

/// BN → ReLU → 2×2 max-pool of one (H, W) plane `xi` (row width `w`) into `o` (OH × OW), with
/// the channel's scale `sc` and shift `sh`; `s` receives the index (dy·2 + dx) and input value
/// of each window's maximum.
pub(super) fn pool_plane(
    xi: &[f32],
    w: usize,
    (oh, ow): (usize, usize),
    sc: f32,
    sh: f32,
    o: &mut [f32],
    mut s: Option<(&mut [u8], &mut [f32])>,
) {
    let simd = pool_simd::available();
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
pub(super) fn bn_pool_backward(
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
