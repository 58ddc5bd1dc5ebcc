//! 3×3 convolutions (stride 1) by Winograd's minimal filtering F(2×2, 3×3) on AVX-512 for the
//! convolutions with many channels: the forward (at inference fused with BatchNorm, ReLU and
//! the 2 × 2 max-pool: [`Wino::forward_pooled`]), the weight gradient
//! ([`Wino::weight_grad`]), and the input gradient ([`Wino::add_input_grad`]): the forward's
//! tiles run backwards where the forward is Winograd's, else (a border of 2 on rows too wide
//! for the forward) a convolution of the output gradient, zero border 2 − pad, with the
//! kernels transposed and turned 180°.
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

/// Floats from one ξ's panel of a block's buffers (V, M, dM, dV: `rows` × NR each) to the
/// next: one cache line more than the panel, so that the transforms' 16 accesses at once,
/// one per ξ, fall in 16 sets of the L1 cache. Without it, panels of 64 × 48 floats (12 KiB,
/// a multiple of 4 KiB) put all 16 in one set, more than its ways.
pub(super) fn panel(rows: usize) -> usize {
    rows * NR + 16
}

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
    /// apart; transposed (I × O) for [`Self::add_input_grad`] ([`Self::transposed_of`]).
    u: Vec<f32>,
    su: usize,
    /// Whether `u` holds U_ξ transposed.
    transposed: bool,
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

    /// The input gradient of the convolution [`Self::forward_of`] describes (same arguments)
    /// on that convolution's own tiles, for [`Self::add_input_grad`]: U_ξ transposed (I × O).
    pub(super) fn transposed_of(
        ci: usize,
        co: usize,
        hw: (usize, usize),
        pad: usize,
        wv: &[f32],
    ) -> Self {
        assert!(wv.len() == co * ci * 9);
        // U_ξ of the convolution from O to I channels whose kernel (i, o) is W(o, i): U_ξᵀ.
        let t = Self::with_kernel(
            co,
            ci,
            hw,
            pad,
            Some(|i, o, a, b| wv[((o * ci + i) * 3 + a) * 3 + b]),
        );
        Wino {
            ci,
            co,
            transposed: true,
            ..t
        }
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
            transposed: false,
        }
    }

    /// y (images × O × OH × OW) = the convolution of images `x` (images × I × H × W), or
    /// y += it when `acc`.
    pub(super) fn forward(&self, x: &[f32], y: &mut [f32], acc: bool) {
        assert!(self.th == self.oh.div_ceil(2), "winograd: a pooling plan");
        assert!(!self.transposed, "winograd: transposed weights");
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
        assert!(!self.transposed, "winograd: transposed weights");
        self.blocks(x, true, |_, m, pairs, _| {
            assert!(m.len() == 16 * panel(self.co));
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
                assert!(dm.len() == 16 * panel(co));
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
                    let a = &v[xi * panel(ci)..][..ci * NR];
                    let b = &dm[xi * panel(co)..][..NR * co];
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

    /// gx (images × I × H × W) += the input gradient of this convolution for the output
    /// gradient `gy` (images × O × OH × OW): this is [`Self::input_grad_of`]'s convolution, or,
    /// from [`Self::transposed_of`], the forward's tiles run backwards. There, per block of
    /// tile rows: dM = A dY Aᵀ of each tile and output channel, written as the GEMM's B
    /// panels (O × NR per ξ); the 16 GEMMs dV_ξ = U_ξᵀ dM_ξ (I × NR); and each tile's
    /// B dV Bᵀ added onto its 4 × 4 input patch (neighbouring patches overlap by two rows or
    /// columns; what falls on the zero border is dropped). That is the forward's 16
    /// multiplies per tile and channel pair on the forward's tiles, where the convolution of
    /// the output gradient has more tiles (7 × 7 against 6 × 6 at 13 × 13 inputs) and an
    /// input transform of O channels.
    pub(super) fn add_input_grad(&self, gy: &[f32], gx: &mut [f32]) {
        if !self.transposed {
            return self.forward(gy, gx, true);
        }
        assert!(self.th == self.oh.div_ceil(2), "winograd: a pooling plan");
        let (ci, co) = (self.ci, self.co);
        let (plane, img) = (co * self.oh * self.ow, ci * self.h * self.w);
        let n = gy.len() / plane;
        assert!(
            gy.len() == n * plane && gx.len() == n * img,
            "winograd: gradient sizes"
        );
        assert!(self.u.len() == 16 * self.su, "winograd: no weights");
        let mp = ci.div_ceil(MR);
        super::with_pair(&BLOCK, 16 * panel(co), 16 * panel(ci), |dm, dv| {
            self.each_block(n, |pairs, cols| {
                self.check(pairs, gy.len(), plane);
                self.check(pairs, gx.len(), img);
                #[cfg(target_arch = "x86_64")]
                // SAFETY: AVX-512F is available (`applies`); `check` bounds every row read
                // and written (lanes outside the plane masked), every store into `dm` is
                // inside it (a pair's columns end within NR), every load from `dv` too.
                unsafe {
                    simd::grad_panels(gy.as_ptr(), self, pairs, dm.as_mut_ptr())
                };
                for xi in 0..16 {
                    let a = &self.u[xi * self.su..(xi + 1) * self.su];
                    let b = &dm[xi * panel(co)..][..co * NR];
                    let c = &mut dv[xi * panel(ci)..][..ci * NR];
                    for ip in 0..mp {
                        let rows = MR.min(ci - ip * MR);
                        let ap = &a[ip * co * MR..(ip + 1) * co * MR];
                        pack::tile(co, ap, b, &mut c[ip * MR * NR..], NR, rows, cols, false);
                    }
                }
                #[cfg(target_arch = "x86_64")]
                // SAFETY: as above.
                unsafe {
                    simd::patches_back(dv.as_ptr(), self, pairs, gx.as_mut_ptr())
                };
                #[cfg(not(target_arch = "x86_64"))]
                unreachable!("Wino::applies is false without AVX-512 ({})", dm.len());
            })
        });
    }

    /// Calls `f(pairs, columns)` for every block of the tile rows of `n` images: as many whole
    /// tile rows as fill a B panel (NR columns), two by two.
    fn each_block(&self, n: usize, mut f: impl FnMut(&[Pair], usize)) {
        let tw = self.tw;
        let (rows_total, per_block) = (n * self.th, NR / tw.max(1));
        let mut pairs = Vec::with_capacity(per_block.div_ceil(2));
        for r0 in (0..rows_total).step_by(per_block) {
            let rows = per_block.min(rows_total - r0);
            let row = |j: usize| ((r0 + j) / self.th, (r0 + j) % self.th);
            pairs.clear();
            pairs.extend((0..rows).step_by(2).map(|j| Pair {
                col: j * tw,
                a: row(j),
                b: (j + 1 < rows).then(|| row(j + 1)),
            }));
            f(&pairs, rows * tw);
        }
    }

    /// Runs every block of `x`'s tile rows through the input transform (V, 16 panels of I × NR)
    /// and, if `gemm`, the 16 GEMMs into M (16 × O × NR); then `f(V, M, the block's pairs of
    /// tile rows, its columns)`.
    fn blocks(&self, x: &[f32], gemm: bool, mut f: impl FnMut(&[f32], &mut [f32], &[Pair], usize)) {
        let (ci, co) = (self.ci, self.co);
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
        let mp = co.div_ceil(MR);
        super::with_pair(&BLOCK, 16 * panel(ci), 16 * panel(co), |v, m| {
            self.each_block(n, |pairs, cols| {
                self.input(x, pairs, v);
                for xi in (0..16).filter(|_| gemm) {
                    let a = &self.u[xi * self.su..(xi + 1) * self.su];
                    let b = &v[xi * panel(ci)..][..ci * NR];
                    let c = &mut m[xi * panel(co)..][..co * NR];
                    for ip in 0..mp {
                        let rows = MR.min(co - ip * MR);
                        let ap = &a[ip * ci * MR..(ip + 1) * ci * MR];
                        pack::tile(ci, ap, b, &mut c[ip * MR * NR..], NR, rows, cols, false);
                    }
                }
                f(v, m, pairs, cols);
            })
        });
    }

    /// The 16 B panels (ξ, then I rows of NR) of a block's tile rows.
    fn input(&self, x: &[f32], pairs: &[Pair], v: &mut [f32]) {
        assert!(v.len() == 16 * panel(self.ci));
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
        assert!(m.len() == 16 * panel(self.co));
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
mod simd;

#[cfg(test)]
mod tests;
