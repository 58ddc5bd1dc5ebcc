//! The AVX-512 loops of [`super::convgemm`] (the conv GEMM's panel packing and its fused
//! col2im adds). Callers check [`super::pack::available`].

use super::pack::{MR, NR};
use std::arch::x86_64::*;

/// Pieces of output-row runs per 16-lane vector of a forward B panel row (see
/// `super::convgemm::Pieces`).
pub(super) const PIECES: usize = 3;

#[inline(always)]
fn mask(n: usize) -> __mmask16 {
    if n >= 16 {
        0xffff
    } else {
        ((1u32 << n) - 1) as __mmask16
    }
}

/// `dst[j·ds + t] = src[offs[j] + t]`, `t < len`.
///
/// # Safety
/// AVX-512F; every access in bounds.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn copy_rows(
    src: *const f32,
    offs: &[usize],
    dst: *mut f32,
    ds: usize,
    len: usize,
) {
    if len <= 16 {
        let m = mask(len);
        for (j, &o) in offs.iter().enumerate() {
            let v = _mm512_maskz_loadu_ps(m, src.add(o));
            _mm512_mask_storeu_ps(dst.add(j * ds), m, v);
        }
        return;
    }
    for (j, &o) in offs.iter().enumerate() {
        let (s, d) = (src.add(o), dst.add(j * ds));
        let mut t = 0;
        while t < len {
            let m = mask(len - t);
            _mm512_mask_storeu_ps(d.add(t), m, _mm512_maskz_loadu_ps(m, s.add(t)));
            t += 16;
        }
    }
}

/// See `super::Pieces::fill`: row j of `dst` (NR floats) from the pieces at `x + offs[j]`.
///
/// # Safety
/// AVX-512F; every lane a piece reads in bounds, `dst` holds `offs.len()·NR` floats.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn fill_pieces(
    x: *const f32,
    offs: &[usize],
    (ms, ds): (&[[u16; PIECES]; NR / 16], &[[isize; PIECES]; NR / 16]),
    dst: *mut f32,
) {
    for (j, &o) in offs.iter().enumerate() {
        let src = x.wrapping_add(o);
        let row = dst.add(j * NR);
        for q in 0..NR / 16 {
            let mut v = _mm512_maskz_loadu_ps(ms[q][0], src.wrapping_offset(ds[q][0]));
            for i in 1..PIECES {
                v = _mm512_mask_loadu_ps(v, ms[q][i], src.wrapping_offset(ds[q][i]));
            }
            _mm512_storeu_ps(row.add(16 * q), v);
        }
    }
}

/// `dst[offs[j] + t] += src[j·ss + t]`, `t < len`.
///
/// # Safety
/// AVX-512F; every access in bounds.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn add_rows(
    src: *const f32,
    ss: usize,
    dst: *mut f32,
    offs: &[usize],
    len: usize,
) {
    for (j, &o) in offs.iter().enumerate() {
        let (s, d) = (src.add(j * ss), dst.add(o));
        let mut t = 0;
        while t < len {
            let m = mask(len - t);
            let v = _mm512_add_ps(
                _mm512_maskz_loadu_ps(m, d.add(t)),
                _mm512_maskz_loadu_ps(m, s.add(t)),
            );
            _mm512_mask_storeu_ps(d.add(t), m, v);
            t += 16;
        }
    }
}

/// See `super::pack_gy`: two positions (2 × MR = 16 floats) per gather.
///
/// # Safety
/// AVX-512F; `gy` holds `co·p` floats, `a` `co.div_ceil(MR)·MR·p`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn pack_gy(gy: *const f32, co: usize, p: usize, a: *mut f32) {
    let zero = _mm512_setzero_ps();
    // Lane l: channel l % 8, position + l / 8.
    let idx = _mm512_add_epi32(
        _mm512_mullo_epi32(
            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7),
            _mm512_set1_epi32(p as i32),
        ),
        _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
    );
    for ip in 0..co.div_ceil(MR) {
        let rows = MR.min(co - ip * MR);
        let rm = ((1u32 << rows) - 1) as u16;
        let src = gy.add(ip * MR * p);
        let dst = a.add(ip * p * MR);
        let mut t = 0;
        while t < p {
            let m = if t + 1 < p { rm | (rm << 8) } else { rm };
            let v = _mm512_mask_i32gather_ps::<4>(zero, m, idx, src.add(t).cast());
            let sm = if t + 1 < p { 0xffff } else { 0x00ff };
            _mm512_mask_storeu_ps(dst.add(t * MR), sm, v);
            t += 2;
        }
    }
}

/// See `super::pack_cols_t`.
///
/// # Safety
/// AVX-512F; every `x[offs[j] + oy·wp + ox]` in bounds (oy < oh, ox < ow), `b` holds
/// `oh·ow·NR` floats.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn pack_cols_t(
    x: *const f32,
    offs: &[i32],
    oh: usize,
    ow: usize,
    wp: usize,
    b: *mut f32,
) {
    let zero = _mm512_setzero_ps();
    let mut idx = [_mm512_setzero_si512(); NR / 16];
    let mut msk = [0u16; NR / 16];
    for (q, (iv, mv)) in idx.iter_mut().zip(&mut msk).enumerate() {
        let lo = (16 * q).min(offs.len());
        let cnt = (offs.len() - lo).min(16);
        *mv = mask(cnt);
        *iv = _mm512_maskz_loadu_epi32(*mv, offs.as_ptr().add(lo));
    }
    let mut t = 0;
    for oy in 0..oh {
        for ox in 0..ow {
            let src = x.add(oy * wp + ox).cast();
            let dst = b.add(t * NR);
            for q in 0..NR / 16 {
                let v = _mm512_mask_i32gather_ps::<4>(zero, msk[q], idx[q], src);
                _mm512_storeu_ps(dst.add(16 * q), v);
            }
            t += 1;
        }
    }
}
