//! The AVX-512 loops of [`super`] (Winograd F(2×2, 3×3)): the input transform, the output
//! transforms (plain, and fused with BatchNorm, ReLU and max-pool) and the output gradient's
//! transform for the weight gradient. Callers check [`super::Wino::applies`].

use super::{panel, Pair, Wino, NR};
use std::arch::x86_64::*;

/// Lanes `0..n` set.
fn lanes(n: usize) -> __mmask16 {
    ((1u32 << n.min(16)) - 1) as __mmask16
}

/// The permute that puts column 2l + k of each tile l of two rows side by side (the first
/// row's vector as the first source, the second's as the second): lane l < TW takes the first
/// row's, TW ≤ l < 2·TW the second's.
#[target_feature(enable = "avx512f")]
unsafe fn pair_columns(tw: usize, k: usize) -> __m512i {
    let l: [i32; 16] = std::array::from_fn(|l| {
        if l < tw {
            (2 * l + k) as i32
        } else if l < 2 * tw {
            (16 + 2 * (l - tw) + k) as i32
        } else {
            0
        }
    });
    _mm512_loadu_si512(l.as_ptr().cast())
}

/// See `Wino::input`. The rows of a tile row's patches are whole vectors (lane j: padded
/// column j), combined down the rows (Bᵀ d) for every column at once; a permute then puts
/// each tile's four columns of two tile rows side by side in the lanes, and the same
/// combinations across them (· B) give the tiles' 16 values.
///
/// # Safety
/// AVX-512F; W + 2·pad ≤ 16; the pairs' images inside `x`, `v` holds 16 panels of I ([`panel`]).
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn input(x: *const f32, wn: &Wino, pairs: &[Pair], v: *mut f32) {
    let (ci, h, w, pad, tw) = (wn.ci, wn.h, wn.w, wn.pad, wn.tw);
    let (hw, img) = (h * w, wn.ci * h * w);
    let zero = _mm512_setzero_ps();
    let cols = lanes(w) << pad;
    let idx: [__m512i; 4] = std::array::from_fn(|k| pair_columns(tw, k));
    // Bᵀ d of one tile row's patches in channel c: four vectors over the padded columns.
    let down = |(im, ty): (usize, usize), c: usize| -> [__m512; 4] {
        let d: [__m512; 4] = std::array::from_fn(|r| {
            let yy = (2 * ty + r) as isize - pad as isize;
            if (0..h as isize).contains(&yy) {
                let off = (im * img + c * hw) as isize + yy * w as isize - pad as isize;
                // Lanes before `pad` and past `pad + W` are masked: only the row is read.
                _mm512_maskz_loadu_ps(cols, x.wrapping_offset(off))
            } else {
                zero
            }
        });
        [
            _mm512_sub_ps(d[0], d[2]),
            _mm512_add_ps(d[1], d[2]),
            _mm512_sub_ps(d[2], d[1]),
            _mm512_sub_ps(d[1], d[3]),
        ]
    };
    for p in pairs {
        let store = lanes(if p.b.is_some() { 2 * tw } else { tw });
        for c in 0..ci {
            let ta = down(p.a, c);
            let tb = p.b.map_or([zero; 4], |b| down(b, c));
            for i in 0..4 {
                let e: [__m512; 4] =
                    std::array::from_fn(|k| _mm512_permutex2var_ps(ta[i], idx[k], tb[i]));
                let vs = [
                    _mm512_sub_ps(e[0], e[2]),
                    _mm512_add_ps(e[1], e[2]),
                    _mm512_sub_ps(e[2], e[1]),
                    _mm512_sub_ps(e[1], e[3]),
                ];
                for (j, vv) in vs.into_iter().enumerate() {
                    let xi = 4 * i + j;
                    _mm512_mask_storeu_ps(v.add(xi * panel(ci) + c * NR + p.col), store, vv);
                }
            }
        }
    }
}

/// Aᵀ M A of one pair's tiles of output channel `o` (lanes as in [`input`]): the four
/// outputs (0, 0), (0, 1), (1, 0), (1, 1) of each tile.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn outputs(m: *const f32, co: usize, o: usize, col: usize, load: __mmask16) -> [__m512; 4] {
    let mut mv = [_mm512_setzero_ps(); 16];
    for (xi, v) in mv.iter_mut().enumerate() {
        *v = _mm512_maskz_loadu_ps(load, m.add(xi * panel(co) + o * NR + col));
    }
    // Aᵀ M: rows m0 + m1 + m2 and m1 − m2 − m3, then the same across.
    let mut s = [_mm512_setzero_ps(); 8];
    for j in 0..4 {
        let (m0, m1, m2, m3) = (mv[j], mv[4 + j], mv[8 + j], mv[12 + j]);
        s[j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
        s[4 + j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
    }
    [
        _mm512_add_ps(_mm512_add_ps(s[0], s[1]), s[2]),
        _mm512_sub_ps(_mm512_sub_ps(s[1], s[2]), s[3]),
        _mm512_add_ps(_mm512_add_ps(s[4], s[5]), s[6]),
        _mm512_sub_ps(_mm512_sub_ps(s[5], s[6]), s[7]),
    ]
}

/// See `Wino::forward_pooled`: per tile, the maximum of its four outputs (the minimum
/// where the scale is negative: the affine map is monotone), then scale, shift and ReLU;
/// each tile row's lanes are a row of the pooled plane.
///
/// # Safety
/// AVX-512F; the pairs' images inside `out`, `m` holds 16 panels of O ([`panel`]).
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn pooled(
    m: *const f32,
    wn: &Wino,
    pairs: &[Pair],
    (scale, shift): (&[f32], &[f32]),
    out: *mut f32,
) {
    let (co, th, tw) = (wn.co, wn.th, wn.tw);
    let (plane, first) = (th * tw, lanes(tw));
    let second = lanes(2 * tw) & !first;
    for p in pairs {
        let load = if p.b.is_some() { lanes(2 * tw) } else { first };
        for o in 0..co {
            let y = outputs(m, co, o, p.col, load);
            let sc = scale[o];
            let v = if sc >= 0.0 {
                _mm512_max_ps(_mm512_max_ps(y[0], y[1]), _mm512_max_ps(y[2], y[3]))
            } else {
                _mm512_min_ps(_mm512_min_ps(y[0], y[1]), _mm512_min_ps(y[2], y[3]))
            };
            let v = _mm512_fmadd_ps(v, _mm512_set1_ps(sc), _mm512_set1_ps(shift[o]));
            let v = _mm512_max_ps(v, _mm512_setzero_ps());
            let (im, ty) = p.a;
            _mm512_mask_storeu_ps(out.add((im * co + o) * plane + ty * tw), first, v);
            if let Some((im, ty)) = p.b {
                // Lanes TW.. go to the second row: the store starts TW floats early.
                let dst = out.add((im * co + o) * plane + ty * tw).wrapping_sub(tw);
                _mm512_mask_storeu_ps(dst, second, v);
            }
        }
    }
}

/// See `Wino::weight_grad`: dM = A dY Aᵀ of every tile of the pairs, 16 output channels
/// per vector (gathered from their planes), stored at `dm[ξ·panel(O) + column·O + o]`.
///
/// # Safety
/// AVX-512F; the pairs' images inside `gy`, `dm` holds 16 panels of O ([`panel`]).
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn grad_out(gy: *const f32, wn: &Wino, pairs: &[Pair], dm: *mut f32) {
    let (co, oh, ow, tw) = (wn.co, wn.oh, wn.ow, wn.tw);
    let plane = oh * ow;
    let mut chans = [0i32; 16];
    for (j, c) in chans.iter_mut().enumerate() {
        *c = (j * plane) as i32;
    }
    let chans = _mm512_loadu_si512(chans.as_ptr().cast());
    let zero = _mm512_setzero_ps();
    for p in pairs {
        let rows = [(0, p.a)].into_iter().chain(p.b.map(|b| (1, b)));
        for (r, (im, ty)) in rows {
            for tx in 0..tw {
                let col = p.col + r * tw + tx;
                let base = im * co * plane + 2 * ty * ow + 2 * tx;
                for o0 in (0..co).step_by(16) {
                    let lm = lanes(co - o0);
                    let mut d = [zero; 4];
                    for (e, de) in d.iter_mut().enumerate() {
                        let (a, b) = (e / 2, e % 2);
                        if 2 * ty + a < oh && 2 * tx + b < ow {
                            let off = (base + o0 * plane + a * ow + b) as i32;
                            let idx = _mm512_add_epi32(chans, _mm512_set1_epi32(off));
                            *de = _mm512_mask_i32gather_ps::<4>(zero, lm, idx, gy.cast());
                        }
                    }
                    // A dY: rows d0, d0 + d1, d0 − d1, −d1 (per column), then across.
                    let down = |x0: __m512, x1: __m512| {
                        [
                            x0,
                            _mm512_add_ps(x0, x1),
                            _mm512_sub_ps(x0, x1),
                            _mm512_sub_ps(zero, x1),
                        ]
                    };
                    let (c0, c1) = (down(d[0], d[2]), down(d[1], d[3]));
                    for i in 0..4 {
                        for (j, v) in down(c0[i], c1[i]).into_iter().enumerate() {
                            let xi = 4 * i + j;
                            _mm512_mask_storeu_ps(dm.add(xi * panel(co) + col * co + o0), lm, v);
                        }
                    }
                }
            }
        }
    }
}

/// See `Wino::output`: Aᵀ M A for the tiles of two tile rows at once (lanes as in
/// [`input`]), then a permute interleaves each output row's even and odd columns.
///
/// # Safety
/// AVX-512F; OW ≤ 16; the pairs' images inside `y`, `m` holds 16 panels of O ([`panel`]).
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn output(m: *const f32, wn: &Wino, pairs: &[Pair], y: *mut f32, acc: bool) {
    let (co, oh, ow, tw) = (wn.co, wn.oh, wn.ow, wn.tw);
    let plane = oh * ow;
    let row = lanes(ow);
    // Output column j of the first (second) tile row: tile j / 2's even or odd output.
    let idx = |first: usize| -> __m512i {
        let l: [i32; 16] = std::array::from_fn(|j| {
            let t = (first + j / 2).min(15) as i32;
            if j % 2 == 0 {
                t
            } else {
                16 + t
            }
        });
        _mm512_loadu_si512(l.as_ptr().cast())
    };
    let (ia, ib) = (idx(0), idx(tw));
    for p in pairs {
        let load = lanes(if p.b.is_some() { 2 * tw } else { tw });
        for o in 0..co {
            let ys = outputs(m, co, o, p.col, load);
            let rows = [(p.a, ia)].into_iter().chain(p.b.map(|b| (b, ib)));
            for ((im, ty), ix) in rows {
                for a in 0..2 {
                    let oy = 2 * ty + a;
                    if oy >= oh {
                        continue;
                    }
                    let mut r = _mm512_permutex2var_ps(ys[2 * a], ix, ys[2 * a + 1]);
                    let dst = y.add((im * co + o) * plane + oy * ow);
                    if acc {
                        r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(row, dst));
                    }
                    _mm512_mask_storeu_ps(dst, row, r);
                }
            }
        }
    }
}

/// See `Wino::add_input_grad`: dM = A dY Aᵀ of every tile of the pairs for each output
/// channel, the tiles in the lanes as in [`input`], stored as the GEMM's B panels:
/// `dm[ξ·panel(O) + o·NR + column]`. A tile's outputs past the plane have no gradient.
///
/// # Safety
/// AVX-512F; OW ≤ 16; the pairs' images inside `gy`, `dm` holds 16 panels of O ([`panel`]).
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn grad_panels(gy: *const f32, wn: &Wino, pairs: &[Pair], dm: *mut f32) {
    let (co, oh, ow, tw) = (wn.co, wn.oh, wn.ow, wn.tw);
    let (plane, row, zero) = (oh * ow, lanes(ow), _mm512_setzero_ps());
    let idx: [__m512i; 2] = std::array::from_fn(|b| pair_columns(tw, b));
    // A tile row's two output rows in channel o (zero past the plane).
    let rows = |(im, ty): (usize, usize), o: usize| -> [__m512; 2] {
        std::array::from_fn(|a| {
            let oy = 2 * ty + a;
            if oy < oh {
                _mm512_maskz_loadu_ps(row, gy.add((im * co + o) * plane + oy * ow))
            } else {
                zero
            }
        })
    };
    // A dY: rows d0, d0 + d1, d0 − d1, −d1 (per column), then across.
    let down = |x0: __m512, x1: __m512| {
        [
            x0,
            _mm512_add_ps(x0, x1),
            _mm512_sub_ps(x0, x1),
            _mm512_sub_ps(zero, x1),
        ]
    };
    for p in pairs {
        let store = lanes(if p.b.is_some() { 2 * tw } else { tw });
        for o in 0..co {
            let ra = rows(p.a, o);
            let rb = p.b.map_or([zero; 2], |b| rows(b, o));
            // d[a][b]: output (a, b) of each tile.
            let d: [[__m512; 2]; 2] = std::array::from_fn(|a| {
                std::array::from_fn(|b| _mm512_permutex2var_ps(ra[a], idx[b], rb[a]))
            });
            let (c0, c1) = (down(d[0][0], d[1][0]), down(d[0][1], d[1][1]));
            for i in 0..4 {
                for (j, v) in down(c0[i], c1[i]).into_iter().enumerate() {
                    let xi = 4 * i + j;
                    _mm512_mask_storeu_ps(dm.add(xi * panel(co) + o * NR + p.col), store, v);
                }
            }
        }
    }
}

/// See `Wino::add_input_grad`: B dV Bᵀ of every tile of the pairs for each input channel (dV
/// at `dv[ξ·panel(I) + c·NR + column]`, tiles in the lanes as in [`input`]), added onto the
/// tile's 4 × 4 patch of `gx`. Per patch row, two permutes spread the tiles' columns over
/// the padded row (lane j: padded column j): columns 0 and 1 of tile m to lanes 2m and
/// 2m + 1, columns 2 and 3 of tile m − 1 to the same lanes, where the two overlap. Rows and
/// lanes on the zero border are dropped.
///
/// # Safety
/// AVX-512F; W + 2·pad ≤ 16; the pairs' images inside `gx`, `dv` holds 16 panels of I ([`panel`]).
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn patches_back(dv: *const f32, wn: &Wino, pairs: &[Pair], gx: *mut f32) {
    let (ci, h, w, pad, tw) = (wn.ci, wn.h, wn.w, wn.pad, wn.tw);
    let (hw, img) = (h * w, ci * h * w);
    let (cols, zero) = (lanes(w) << pad, _mm512_setzero_ps());
    // Lane j takes tile j / 2 − back of the tile row starting at lane `first`: from the
    // first source at even j, from the second at odd j.
    let spread = |first: usize, back: usize| -> __m512i {
        let l: [i32; 16] = std::array::from_fn(|j| {
            let t = (first + (j / 2).saturating_sub(back)).min(15) as i32;
            if j % 2 == 0 {
                t
            } else {
                16 + t
            }
        });
        _mm512_loadu_si512(l.as_ptr().cast())
    };
    let (near, far) = ([spread(0, 0), spread(tw, 0)], [spread(0, 1), spread(tw, 1)]);
    // Lanes that columns 0–1 of some tile reach, and those that columns 2–3 reach.
    let (m_near, m_far) = (lanes(2 * tw), lanes(2 * tw + 2) & !lanes(2));
    // B x: rows x0, x1 − x2 + x3, x1 + x2 − x0, −x3.
    let up = |x0: __m512, x1: __m512, x2: __m512, x3: __m512| {
        [
            x0,
            _mm512_add_ps(_mm512_sub_ps(x1, x2), x3),
            _mm512_sub_ps(_mm512_add_ps(x1, x2), x0),
            _mm512_sub_ps(zero, x3),
        ]
    };
    for p in pairs {
        let load = lanes(if p.b.is_some() { 2 * tw } else { tw });
        let rows = [Some((p.a, 0)), p.b.map(|b| (b, 1))];
        for c in 0..ci {
            let v: [__m512; 16] = std::array::from_fn(|xi| {
                _mm512_maskz_loadu_ps(load, dv.add(xi * panel(ci) + c * NR + p.col))
            });
            // t[j][r]: row r of column j of B dV.
            let t: [[__m512; 4]; 4] =
                std::array::from_fn(|j| up(v[j], v[4 + j], v[8 + j], v[12 + j]));
            for r in 0..4 {
                // Columns 0..4 of row r of B dV Bᵀ.
                let q = up(t[0][r], t[1][r], t[2][r], t[3][r]);
                for &((im, ty), k) in rows.iter().flatten() {
                    let yy = (2 * ty + r) as isize - pad as isize;
                    if !(0..h as isize).contains(&yy) {
                        continue;
                    }
                    let e = _mm512_maskz_permutex2var_ps(m_near, q[0], near[k], q[1]);
                    let f = _mm512_maskz_permutex2var_ps(m_far, q[2], far[k], q[3]);
                    let off = (im * img + c * hw) as isize + yy * w as isize - pad as isize;
                    // Lanes before `pad` and past `pad + W` are masked: only the row is touched.
                    let dst = gx.wrapping_offset(off);
                    let s = _mm512_add_ps(_mm512_maskz_loadu_ps(cols, dst), _mm512_add_ps(e, f));
                    _mm512_mask_storeu_ps(dst, cols, s);
                }
            }
        }
    }
}
