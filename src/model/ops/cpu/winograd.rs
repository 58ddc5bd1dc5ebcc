//! 3×3 convolutions (stride 1) by Winograd's minimal filtering F(2×2, 3×3) on AVX-512 for the
//! convolutions with many channels: the forward (at inference fused with BatchNorm, ReLU and
//! the 2 × 2 max-pool: [`Wino::forward_pooled`]), the weight gradient
//! ([`Wino::weight_grad`]), and the input gradient, which is itself such a convolution (of the
//! output gradient, zero border 2 − pad, with the kernels transposed and turned 180°).
//!
//! Each 2 × 2 block of an output channel (a *tile*) comes from the 4 × 4 input patch under
//! it: Y = Aᵀ [Σ_i U_i ⊙ V_i] A, with V_i = Bᵀ d_i B for input channel i's patch d_i and
//! U_i = G g_i Gᵀ for its 3 × 3 kernel g_i (G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]). The sums over the input channels are 16 GEMMs
//! (O × I) · (I × tiles), one per element ξ of the 4 × 4 products: 16 multiplies per tile and
//! channel pair instead of 36, 2.25× fewer (1.9× at 11 × 11 outputs, whose last tile row and
//! column are half used).
//!
//! A block is as many whole tile rows as fill one B panel of the packed GEMM ([`pack`], 48
//! columns: 8 rows of 6 tiles at 11 × 11 outputs). The input transform reads each tile row's
//! four input rows as whole vectors (masked where the zero border is: it is virtual, nothing
//! is copied), combines them down the rows for every column at once, then a permute puts the
//! four columns of each tile of two tile rows side by side in the lanes for the combinations
//! across, and writes the 16 panels (I × 48) in the GEMM's layout. The GEMMs write M
//! (16 × O × 48); the output transform computes two tile rows' 2 × 2 outputs at once and a
//! permute interleaves them into output rows. A block (16·(I + O)·48 floats, 295 KB at I = 32,
//! O = 64) stays in L2, each of its GEMMs' operands in L1. Planes up to 16 wide with their
//! border (one vector) take this path.
//!
//! The transforms add and subtract inputs before the products, so the rounding differs from
//! the direct sum's; the tests here and the ops' parity tests hold it to their tolerances.

use super::pack::{self, MR, NR, WC, WR};
use std::cell::RefCell;
use std::mem::MaybeUninit;

/// Fewest input and output channels for which this path runs: with fewer the GEMMs are too
/// shallow or too narrow to gain on the direct one ([`super::convgemm`]).
const MIN_CHANNELS: usize = 16;

/// One convolution of `ci`-channel planes `h × w`, with a zero border `pad` (virtual), into
/// `co` channels of `oh × ow` = `(h + 2·pad − 2) × (w + 2·pad − 2)`.
pub(super) struct Wino {
    ci: usize,
    co: usize,
    h: usize,
    w: usize,
    pad: usize,
    oh: usize,
    ow: usize,
    /// Tile rows and columns per image.
    th: usize,
    tw: usize,
    /// U_ξ (O × I) for ξ < 16, each packed as the GEMM's A ([`pack::pack_a`]), `su` floats
    /// apart.
    u: Vec<f32>,
    su: usize,
}

thread_local! {
    /// A block's V and M (or dM).
    static BLOCK: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    /// The weight gradient's dUᵀ (16 × I × O).
    static GRAD: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

impl Wino {
    /// Whether this path serves a 3×3 convolution from `ci` to `co` channels of planes `w`
    /// wide with zero border `pad`: enough channels, a padded row in one vector
    /// (`w + 2·pad ≤ 16`), and AVX-512 ([`pack::available`]).
    pub(super) fn applies(ci: usize, co: usize, w: usize, pad: usize) -> bool {
        cfg!(target_arch = "x86_64")
            && ci >= MIN_CHANNELS
            && co >= MIN_CHANNELS
            && w + 2 * pad <= 16
            && pad <= 2
            && pack::available()
    }

    /// The convolution with weights `wv` (O × I × 3 × 3) of planes `h × w` with border `pad`.
    pub(super) fn forward_of(
        ci: usize,
        co: usize,
        hw: (usize, usize),
        pad: usize,
        wv: &[f32],
    ) -> Self {
        assert!(wv.len() == co * ci * 9);
        Self::with_kernel(
            ci,
            co,
            hw,
            pad,
            Some(|o, i, a, b| wv[((o * ci + i) * 3 + a) * 3 + b]),
        )
    }

    /// The input gradient of the convolution [`Self::forward_of`] describes (same arguments):
    /// a convolution from its O output channels' gradient (planes `oh × ow`, border
    /// `2 − pad`) to its I input channels' (planes `h × w`), kernel (i, o) = W(o, i) turned
    /// 180°.
    pub(super) fn input_grad_of(
        ci: usize,
        co: usize,
        (h, w): (usize, usize),
        pad: usize,
        wv: &[f32],
    ) -> Self {
        assert!(wv.len() == co * ci * 9 && pad <= 2 && h + 2 * pad >= 3 && w + 2 * pad >= 3);
        let (oh, ow) = (h + 2 * pad - 2, w + 2 * pad - 2);
        Self::with_kernel(
            co,
            ci,
            (oh, ow),
            2 - pad,
            Some(|i, o, a, b| wv[((o * ci + i) * 3 + 2 - a) * 3 + 2 - b]),
        )
    }

    /// The geometry alone, for [`Self::weight_grad`] (which needs no weights).
    pub(super) fn shape_of(ci: usize, co: usize, hw: (usize, usize), pad: usize) -> Self {
        Self::with_kernel(
            ci,
            co,
            hw,
            pad,
            None::<fn(usize, usize, usize, usize) -> f32>,
        )
    }

    /// From the kernel `k(out channel, in channel, ky, kx)`, if given.
    fn with_kernel(
        ci: usize,
        co: usize,
        (h, w): (usize, usize),
        pad: usize,
        k: Option<impl Fn(usize, usize, usize, usize) -> f32>,
    ) -> Self {
        assert!(h + 2 * pad >= 3 && w + 2 * pad >= 3 && ci > 0 && co > 0);
        let (oh, ow) = (h + 2 * pad - 2, w + 2 * pad - 2);
        let su = co.div_ceil(MR) * MR * ci;
        let mut u = Vec::new();
        if let Some(k) = k {
            // U of every (o, i): t = G g (4 × 3), then U = t Gᵀ, for the MR output channels
            // of a packed panel at once; element ξ of them goes straight to where
            // [`pack::pack_a`] puts them in U_ξ (contiguous; rows past O stay zero).
            u = vec![0.0f32; 16 * su];
            type L = [f32; MR];
            let gl = |a: &L, b: &L, c: &L| -> [L; 4] {
                let mut r = [*a, [0.0; MR], [0.0; MR], *c];
                for l in 0..MR {
                    r[1][l] = 0.5 * (a[l] + b[l] + c[l]);
                    r[2][l] = 0.5 * (a[l] - b[l] + c[l]);
                }
                r
            };
            for ip in 0..co.div_ceil(MR) {
                for i in 0..ci {
                    let mut g = [[0.0f32; MR]; 9];
                    for (l, o) in (ip * MR..co.min(ip * MR + MR)).enumerate() {
                        for (e, ge) in g.iter_mut().enumerate() {
                            ge[l] = k(o, i, e / 3, e % 3);
                        }
                    }
                    // cols[b][r] = t(r, b).
                    let cols: [[L; 4]; 3] =
                        std::array::from_fn(|b| gl(&g[b], &g[3 + b], &g[6 + b]));
                    let at = (ip * ci + i) * MR;
                    for r in 0..4 {
                        let row = gl(&cols[0][r], &cols[1][r], &cols[2][r]);
                        for (c, v) in row.iter().enumerate() {
                            let xi = r * 4 + c;
                            u[xi * su + at..xi * su + at + MR].copy_from_slice(v);
                        }
                    }
                }
            }
        }
        Wino {
            ci,
            co,
            h,
            w,
            pad,
            oh,
            ow,
            th: oh.div_ceil(2),
            tw: ow.div_ceil(2),
            u,
            su,
        }
    }

    /// y (images × O × OH × OW) = the convolution of images `x` (images × I × H × W), or
    /// y += it when `acc`.
    pub(super) fn forward(&self, x: &[f32], y: &mut [f32], acc: bool) {
        assert!(self.th == self.oh.div_ceil(2), "winograd: a pooling plan");
        let n = x.len() / (self.ci * self.h * self.w);
        assert!(
            y.len() == n * self.co * self.oh * self.ow,
            "winograd: output size"
        );
        self.blocks(x, true, |_, m, pairs, _| self.output(m, pairs, y, acc));
    }

    /// The same convolution for [`Self::forward_pooled`]: only the tiles that are whole 2 × 2
    /// max-pooling windows (the pool drops an odd last row and column).
    pub(super) fn for_pooling(mut self) -> Self {
        self.th = self.oh / 2;
        self.tw = self.ow / 2;
        self
    }

    /// At inference, the convolution of images `x` through BatchNorm (per output channel
    /// `y·scale + shift`), ReLU and 2 × 2 max-pool, into `out` (images × O × OH/2 × OW/2, every
    /// element written) without the convolution's output: each tile is a pooling window, so
    /// its four outputs never leave the registers (needs [`Self::for_pooling`]).
    pub(super) fn forward_pooled(
        &self,
        x: &[f32],
        (scale, shift): (&[f32], &[f32]),
        out: &mut [MaybeUninit<f32>],
    ) {
        assert!(
            self.th == self.oh / 2 && self.tw == self.ow / 2,
            "winograd: not pooling"
        );
        let n = x.len() / (self.ci * self.h * self.w);
        assert!(
            out.len() == n * self.co * self.th * self.tw,
            "winograd: pooled size"
        );
        assert!(scale.len() == self.co && shift.len() == self.co);
        self.blocks(x, true, |_, m, pairs, _| {
            assert!(m.len() == 16 * self.co * NR);
            self.check(pairs, out.len(), self.co * self.th * self.tw);
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX-512F is available (`applies`); `check` bounds every pooled row
            // written (lanes past the row masked), every load inside `m`.
            unsafe {
                simd::pooled(
                    m.as_ptr(),
                    self,
                    pairs,
                    (scale, shift),
                    out.as_mut_ptr().cast(),
                )
            };
            #[cfg(not(target_arch = "x86_64"))]
            unreachable!("Wino::applies is false without AVX-512 ({})", m.len());
        });
    }

    /// dw (O × I × 3 × 3) += the weight gradient of this convolution for images `x` and their
    /// output gradient `gy` (images × O × OH × OW).
    ///
    /// The gradient of U_oi is Σ over the tiles of dM_o ⊙ V_i, with dM = A dY Aᵀ (a tile's
    /// outputs past the plane have no gradient): per block, 16 GEMMs V_ξ (I × tiles) ·
    /// dM_ξ (tiles × O) summed into dUᵀ, then dW = Gᵀ dU G once at the end. The input
    /// transform runs again (as in the forward); dM is gathered with the output channels in
    /// the lanes, the layout the GEMM's B wants.
    pub(super) fn weight_grad(&self, x: &[f32], gy: &[f32], dw: &mut [f32]) {
        assert!(self.th == self.oh.div_ceil(2), "winograd: a pooling plan");
        let (ci, co) = (self.ci, self.co);
        let n = x.len() / (ci * self.h * self.w);
        assert!(
            gy.len() == n * co * self.oh * self.ow,
            "winograd: gradient size"
        );
        assert!(dw.len() == co * ci * 9, "winograd: weight gradient size");
        GRAD.with(|du| {
            let mut du = du.borrow_mut();
            du.resize(16 * ci * co, 0.0);
            // The first block writes dUᵀ, the others add to it.
            let mut first = true;
            self.blocks(x, false, |v, dm, pairs, cols| {
                assert!(dm.len() == 16 * NR * co);
                self.check(pairs, gy.len(), co * self.oh * self.ow);
                #[cfg(target_arch = "x86_64")]
                // SAFETY: AVX-512F is available (`applies`); `check` bounds every tile's
                // outputs gathered (those past the plane are masked), every store is inside
                // `dm` (a pair's columns end within NR).
                unsafe {
                    simd::grad_out(gy.as_ptr(), self, pairs, dm.as_mut_ptr())
                };
                #[cfg(not(target_arch = "x86_64"))]
                unreachable!("Wino::applies is false without AVX-512 ({})", dm.len());
                for xi in 0..16 {
                    let a = &v[xi * ci * NR..(xi + 1) * ci * NR];
                    let b = &dm[xi * NR * co..(xi + 1) * NR * co];
                    let c = &mut du[xi * ci * co..(xi + 1) * ci * co];
                    for i0 in (0..ci).step_by(WR) {
                        for o0 in (0..co).step_by(WC) {
                            let (rows, wide) = (WR.min(ci - i0), WC.min(co - o0));
                            let (ar, br) = ((&a[i0 * NR..], NR, 1), (&b[o0..], co));
                            let cr = &mut c[i0 * co + o0..];
                            pack::tile_wide(cols, ar, br, cr, co, rows, wide, !first);
                        }
                    }
                }
                first = false;
            });
            if first {
                // No tiles: no gradient.
                return;
            }
            // dW = Gᵀ dU G, Gᵀ's rows [1 ½ ½ 0], [0 ½ −½ 0], [0 ½ ½ 1]; for each input
            // channel over all output channels at once (dUᵀ's rows are O long).
            let gt = [
                [1.0, 0.5, 0.5, 0.0],
                [0.0, 0.5, -0.5, 0.0],
                [0.0, 0.5, 0.5, 1.0f32],
            ];
            let mut t = vec![0.0f32; 12 * co];
            let mut d = vec![0.0f32; co];
            for i in 0..ci {
                // t(a, s) = Σ_r Gᵀ(a, r) dU(r, s), a row of O each.
                t.fill(0.0);
                for (a, ga) in gt.iter().enumerate() {
                    for sx in 0..4 {
                        let ts = &mut t[(a * 4 + sx) * co..(a * 4 + sx + 1) * co];
                        for (r, &g) in ga.iter().enumerate().filter(|(_, g)| **g != 0.0) {
                            let u = &du[((r * 4 + sx) * ci + i) * co..][..co];
                            ts.iter_mut().zip(u).for_each(|(t, u)| *t += g * u);
                        }
                    }
                }
                for (a, _) in gt.iter().enumerate() {
                    for (b, gb) in gt.iter().enumerate() {
                        d.fill(0.0);
                        for (sx, &g) in gb.iter().enumerate().filter(|(_, g)| **g != 0.0) {
                            let ts = &t[(a * 4 + sx) * co..(a * 4 + sx + 1) * co];
                            d.iter_mut().zip(ts).for_each(|(d, t)| *d += g * t);
                        }
                        for (o, v) in d.iter().enumerate() {
                            dw[(o * ci + i) * 9 + a * 3 + b] += v;
                        }
                    }
                }
            }
        });
    }

    /// Runs every block of `x`'s tile rows through the input transform (V, 16 panels of I × NR)
    /// and, if `gemm`, the 16 GEMMs into M (16 × O × NR); then `f(V, M, the block's pairs of
    /// tile rows, its columns)`.
    fn blocks(&self, x: &[f32], gemm: bool, mut f: impl FnMut(&[f32], &mut [f32], &[Pair], usize)) {
        let (ci, co, tw) = (self.ci, self.co, self.tw);
        let n = x.len() / (ci * self.h * self.w);
        assert!(x.len() == n * ci * self.h * self.w, "winograd: input size");
        assert!(
            self.w + 2 * self.pad <= 16,
            "winograd: planes at most 16 wide"
        );
        assert!(
            !gemm || self.u.len() == 16 * self.su,
            "winograd: no weights"
        );
        let (rows_total, per_block) = (n * self.th, NR / tw.max(1));
        let mp = co.div_ceil(MR);
        let mut pairs = Vec::with_capacity(per_block.div_ceil(2));
        super::with_pair(&BLOCK, 16 * ci * NR, 16 * co * NR, |v, m| {
            for r0 in (0..rows_total).step_by(per_block) {
                let rows = per_block.min(rows_total - r0);
                let row = |j: usize| ((r0 + j) / self.th, (r0 + j) % self.th);
                pairs.clear();
                pairs.extend((0..rows).step_by(2).map(|j| Pair {
                    col: j * tw,
                    a: row(j),
                    b: (j + 1 < rows).then(|| row(j + 1)),
                }));
                let cols = rows * tw;
                self.input(x, &pairs, v);
                for xi in (0..16).filter(|_| gemm) {
                    let a = &self.u[xi * self.su..(xi + 1) * self.su];
                    let b = &v[xi * ci * NR..(xi + 1) * ci * NR];
                    let c = &mut m[xi * co * NR..(xi + 1) * co * NR];
                    for ip in 0..mp {
                        let rows = MR.min(co - ip * MR);
                        let ap = &a[ip * ci * MR..(ip + 1) * ci * MR];
                        pack::tile(ci, ap, b, &mut c[ip * MR * NR..], NR, rows, cols, false);
                    }
                }
                f(v, m, &pairs, cols);
            }
        });
    }

    /// The 16 B panels (ξ, then I rows of NR) of a block's tile rows.
    fn input(&self, x: &[f32], pairs: &[Pair], v: &mut [f32]) {
        assert!(v.len() == 16 * self.ci * NR);
        self.check(pairs, x.len(), self.ci * self.h * self.w);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512F is available (`applies`); `check` bounds every row read (its lanes
        // inside the plane; the others are masked), every store is inside `v` (a pair's
        // columns end within NR).
        unsafe {
            simd::input(x.as_ptr(), self, pairs, v.as_mut_ptr())
        };
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("Wino::applies is false without AVX-512 ({})", x.len());
    }

    /// Writes (adds, when `acc`) the 2 × 2 outputs of a block's tiles from M (ξ, O, NR).
    fn output(&self, m: &[f32], pairs: &[Pair], y: &mut [f32], acc: bool) {
        assert!(m.len() == 16 * self.co * NR);
        self.check(pairs, y.len(), self.co * self.oh * self.ow);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512F is available (`applies`); `check` bounds every output row written
        // (lanes past OW masked), every load inside `m`.
        unsafe {
            simd::output(m.as_ptr(), self, pairs, y.as_mut_ptr(), acc)
        };
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!(
            "Wino::applies is false without AVX-512 ({}, {acc})",
            y.len()
        );
    }

    /// Every pair's images are inside a buffer of `len` floats, `per_image` each, and its
    /// columns inside a panel.
    fn check(&self, pairs: &[Pair], len: usize, per_image: usize) {
        for p in pairs {
            let last = p.b.unwrap_or(p.a);
            assert!(
                p.a.0.max(last.0) < len / per_image && p.a.1.max(last.1) < self.th,
                "winograd: tile row outside the images"
            );
            let width = if p.b.is_some() { 2 * self.tw } else { self.tw };
            assert!(p.col + width <= NR, "winograd: pair outside the panel");
        }
    }
}

/// Two tile rows (image, tile row) side by side in a block's columns from `col`: the
/// first's `tw` tiles, then the second's (if any).
#[derive(Clone, Copy)]
struct Pair {
    col: usize,
    a: (usize, usize),
    b: Option<(usize, usize)>,
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{Pair, Wino, NR};
    use std::arch::x86_64::*;

    /// Lanes `0..n` set.
    fn lanes(n: usize) -> __mmask16 {
        ((1u32 << n.min(16)) - 1) as __mmask16
    }

    /// See `Wino::input`. The rows of a tile row's patches are whole vectors (lane j: padded
    /// column j), combined down the rows (Bᵀ d) for every column at once; a permute then puts
    /// each tile's four columns of two tile rows side by side in the lanes, and the same
    /// combinations across them (· B) give the tiles' 16 values.
    ///
    /// # Safety
    /// AVX-512F; W + 2·pad ≤ 16; the pairs' images inside `x`, `v` holds 16·I·NR floats.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn input(x: *const f32, wn: &Wino, pairs: &[Pair], v: *mut f32) {
        let (ci, h, w, pad, tw) = (wn.ci, wn.h, wn.w, wn.pad, wn.tw);
        let (hw, img) = (h * w, wn.ci * h * w);
        let zero = _mm512_setzero_ps();
        let cols = lanes(w) << pad;
        // Lane l < TW: column 2l + k of the first row; TW ≤ l < 2·TW: of the second.
        let idx: [__m512i; 4] = std::array::from_fn(|k| {
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
        });
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
                        _mm512_mask_storeu_ps(v.add((xi * ci + c) * NR + p.col), store, vv);
                    }
                }
            }
        }
    }

    /// Aᵀ M A of one pair's tiles of output channel `o` (lanes as in [`input`]): the four
    /// outputs (0, 0), (0, 1), (1, 0), (1, 1) of each tile.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn outputs(
        m: *const f32,
        co: usize,
        o: usize,
        col: usize,
        load: __mmask16,
    ) -> [__m512; 4] {
        let mut mv = [_mm512_setzero_ps(); 16];
        for (xi, v) in mv.iter_mut().enumerate() {
            *v = _mm512_maskz_loadu_ps(load, m.add((xi * co + o) * NR + col));
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
    /// AVX-512F; the pairs' images inside `out`, `m` holds 16·O·NR floats.
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
    /// per vector (gathered from their planes), stored at `dm[(ξ·NR + column)·O + o]`.
    ///
    /// # Safety
    /// AVX-512F; the pairs' images inside `gy`, `dm` holds 16·NR·O floats.
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
                                _mm512_mask_storeu_ps(dm.add((xi * NR + col) * co + o0), lm, v);
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
    /// AVX-512F; OW ≤ 16; the pairs' images inside `y`, `m` holds 16·O·NR floats.
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    /// Every term of the convolution of `n` images (`ci` channels, `h × w`, border `pad`) into
    /// `co` channels: `f(x index, weight index, y index)` for each input element a kernel tap
    /// meets inside the image.
    fn taps(
        n: usize,
        ci: usize,
        co: usize,
        (h, w): (usize, usize),
        pad: usize,
        mut f: impl FnMut(usize, usize, usize),
    ) {
        let (oh, ow) = (h + 2 * pad - 2, w + 2 * pad - 2);
        for b in 0..n {
            for o in 0..co {
                for (oy, ox) in (0..oh).flat_map(|oy| (0..ow).map(move |ox| (oy, ox))) {
                    for (i, ky, kx) in (0..ci * 9).map(|e| (e / 9, e / 3 % 3, e % 3)) {
                        let (r, c) = ((oy + ky).checked_sub(pad), (ox + kx).checked_sub(pad));
                        if let (Some(r), Some(c)) = (r.filter(|&r| r < h), c.filter(|&c| c < w)) {
                            f(
                                ((b * ci + i) * h + r) * w + c,
                                ((o * ci + i) * 3 + ky) * 3 + kx,
                                ((b * co + o) * oh + oy) * ow + ox,
                            );
                        }
                    }
                }
            }
        }
    }

    /// The convolution summed directly in f64: (images × O × OH × OW).
    fn direct(
        x: &[f32],
        wv: &[f32],
        n: usize,
        ci: usize,
        co: usize,
        hw: (usize, usize),
        pad: usize,
    ) -> Vec<f64> {
        let (oh, ow) = (hw.0 + 2 * pad - 2, hw.1 + 2 * pad - 2);
        let mut y = vec![0.0f64; n * co * oh * ow];
        taps(n, ci, co, hw, pad, |xi, wi, yi| {
            y[yi] += x[xi] as f64 * wv[wi] as f64
        });
        y
    }

    fn random(len: usize, rng: &mut StdRng, shift: f32) -> Vec<f32> {
        (0..len)
            .map(|_| rng.gen_range(-1.0f32..1.0) + shift)
            .collect()
    }

    fn close(got: &[f32], want: &[f64], tol: f64, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for (j, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (*g as f64 - w).abs() <= tol * scale,
                "{what}: element {j}: {g} against {w}"
            );
        }
    }

    /// Sizes: the default profile's second conv (13 × 13 → 11 × 11, odd, so the last tiles
    /// are half used), the widest rows (16 with the border; the last's input gradient is too
    /// wide and is skipped), a padded one, a non-square one, widths that fill no whole panel,
    /// odd numbers of tile rows per block, and batches whose tile rows end mid-block.
    const CASES: [(usize, usize, usize, (usize, usize), usize); 7] = [
        (3, 32, 64, (13, 13), 0),
        (3, 16, 16, (14, 14), 1),
        (2, 16, 16, (16, 16), 0),
        (2, 16, 24, (8, 8), 1),
        (5, 17, 19, (7, 10), 0),
        (1, 20, 16, (3, 3), 1),
        (2, 16, 16, (4, 5), 2),
    ];

    #[test]
    fn winograd_forward_matches_the_direct_sum() {
        if !pack::available() {
            return;
        }
        let mut rng = StdRng::seed_from_u64(7);
        for (n, ci, co, hw, pad) in CASES {
            assert!(Wino::applies(ci, co, hw.1, pad));
            let x = random(n * ci * hw.0 * hw.1, &mut rng, 0.5);
            let wv = random(co * ci * 9, &mut rng, 0.0);
            let want = direct(&x, &wv, n, ci, co, hw, pad);
            let wn = Wino::forward_of(ci, co, hw, pad, &wv);
            let mut y = vec![f32::NAN; want.len()];
            wn.forward(&x, &mut y, false);
            close(
                &y,
                &want,
                1e-5,
                &format!("forward {n}×{ci}→{co} {hw:?} pad {pad}"),
            );
            // Adding to what is there.
            let mut y2: Vec<f32> = (0..want.len()).map(|j| j as f32 * 0.25).collect();
            wn.forward(&x, &mut y2, true);
            let want2: Vec<f64> = want
                .iter()
                .enumerate()
                .map(|(j, v)| v + j as f64 * 0.25)
                .collect();
            close(&y2, &want2, 1e-5, "forward, adding");
        }
    }

    #[test]
    fn winograd_pooled_inference_matches_conv_batchnorm_relu_pool() {
        if !pack::available() {
            return;
        }
        let mut rng = StdRng::seed_from_u64(9);
        for (n, ci, co, hw, pad) in CASES {
            let (oh, ow) = (hw.0 + 2 * pad - 2, hw.1 + 2 * pad - 2);
            if oh < 2 || ow < 2 {
                continue;
            }
            let x = random(n * ci * hw.0 * hw.1, &mut rng, 0.5);
            let wv = random(co * ci * 9, &mut rng, 0.0);
            // Negative scales too: their windows take the minimum.
            let scale = random(co, &mut rng, 0.0);
            let shift = random(co, &mut rng, 0.0);
            let y = direct(&x, &wv, n, ci, co, hw, pad);
            let (ph, pw) = (oh / 2, ow / 2);
            let mut want = vec![0.0f64; n * co * ph * pw];
            for (j, w) in want.iter_mut().enumerate() {
                let (plane, r) = (j / (ph * pw), j % (ph * pw));
                let (py, px) = (r / pw, r % pw);
                let o = plane % co;
                let at = |a: usize, b: usize| y[(plane * oh + 2 * py + a) * ow + 2 * px + b];
                let f = |v: f64| (v * scale[o] as f64 + shift[o] as f64).max(0.0);
                *w = f(at(0, 0))
                    .max(f(at(0, 1)))
                    .max(f(at(1, 0)))
                    .max(f(at(1, 1)));
            }
            let wn = Wino::forward_of(ci, co, hw, pad, &wv).for_pooling();
            let mut out = vec![MaybeUninit::new(f32::NAN); want.len()];
            wn.forward_pooled(&x, (&scale, &shift), &mut out);
            // SAFETY: initialised above (and every element written).
            let got: Vec<f32> = out.iter().map(|v| unsafe { v.assume_init() }).collect();
            close(
                &got,
                &want,
                1e-5,
                &format!("pooled {n}×{ci}→{co} {hw:?} pad {pad}"),
            );
        }
    }

    #[test]
    fn winograd_weight_gradient_matches_the_direct_sum() {
        if !pack::available() {
            return;
        }
        let mut rng = StdRng::seed_from_u64(10);
        for (n, ci, co, (h, w), pad) in CASES {
            let (oh, ow) = (h + 2 * pad - 2, w + 2 * pad - 2);
            let x = random(n * ci * h * w, &mut rng, 0.5);
            let gy = random(n * co * oh * ow, &mut rng, 0.0);
            let mut want = vec![0.0f64; co * ci * 9];
            taps(n, ci, co, (h, w), pad, |xi, wi, yi| {
                want[wi] += x[xi] as f64 * gy[yi] as f64
            });
            let wv = vec![0.0f32; co * ci * 9];
            let wn = Wino::forward_of(ci, co, (h, w), pad, &wv);
            // Added to what is there.
            let mut dw = vec![1.0f32; want.len()];
            wn.weight_grad(&x, &gy, &mut dw);
            let want: Vec<f64> = want.iter().map(|v| v + 1.0).collect();
            close(
                &dw,
                &want,
                1e-5,
                &format!("weight gradient {n}×{ci}→{co} {h}×{w} pad {pad}"),
            );
        }
    }

    #[test]
    fn winograd_input_gradient_matches_the_direct_sum() {
        if !pack::available() {
            return;
        }
        let mut rng = StdRng::seed_from_u64(8);
        for (n, ci, co, (h, w), pad) in CASES {
            let (oh, ow) = (h + 2 * pad - 2, w + 2 * pad - 2);
            if !Wino::applies(co, ci, ow, 2 - pad) {
                continue;
            }
            let wv = random(co * ci * 9, &mut rng, 0.0);
            let gy = random(n * co * oh * ow, &mut rng, 0.0);
            // dx(i, r, c) = Σ_o Σ_ky,kx gy(o, r + pad − ky, c + pad − kx) · W(o, i, ky, kx).
            let mut want = vec![0.0f64; n * ci * h * w];
            taps(n, ci, co, (h, w), pad, |xi, wi, yi| {
                want[xi] += gy[yi] as f64 * wv[wi] as f64
            });
            let wn = Wino::input_grad_of(ci, co, (h, w), pad, &wv);
            let mut dx = vec![1.0f32; want.len()];
            wn.forward(&gy, &mut dx, true);
            let want: Vec<f64> = want.iter().map(|v| v + 1.0).collect();
            close(
                &dx,
                &want,
                1e-5,
                &format!("input gradient {n}×{ci}→{co} {h}×{w} pad {pad}"),
            );
        }
    }
}
