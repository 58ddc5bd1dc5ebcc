//! 3×3 convolution as packed AVX-512 GEMMs without an im2col matrix: the path
//! [`super::conv`] takes for several input channels when [`pack::available`].
//!
//! The im2col matrix is never written. The GEMMs' packed panels are filled straight from the
//! (padded) input: the forward's B (im2col, I·9 rows × output positions) a K block (96 rows,
//! which stay in L1 while every A panel runs over them) at a time, each panel row put
//! together in registers from masked loads of the output rows' segments and stored whole;
//! the weight gradient's B (im2colᵀ) by gathers. The input
//! gradient's GEMM (Wᵀ · dY) adds each finished tile into dx (col2im fused with the GEMM's
//! output); its rows are ordered (tap, channel), so the rows of one tile land in different
//! channel planes and its adds never overlap.
//!
//! A group of images runs as one GEMM: the forward's and the input gradient's columns are the
//! output positions of all the group's images side by side, so the 48-wide tiles are full
//! except the group's last (one image of 11 × 11 alone fills 121 of 144 columns). The weight
//! gradient sums image by image (its depth is one image's positions).

#[cfg(target_arch = "x86_64")]
use super::convgemm_simd::{self as simd, PIECES};
use super::pack::{self, MR, NR};
#[cfg(not(target_arch = "x86_64"))]
const PIECES: usize = 3;
use std::cell::RefCell;

/// Sizes of one convolution whose input is already padded (or needs no padding).
#[derive(Clone, Copy, Debug)]
pub(super) struct Geo {
    /// Input channels.
    pub(super) ci: usize,
    /// Output channels.
    pub(super) co: usize,
    /// Height and width of a padded input plane (≥ 3).
    pub(super) hp: usize,
    pub(super) wp: usize,
}

impl Geo {
    fn ow(&self) -> usize {
        self.wp - 2
    }
    /// Rows of the (virtual) im2col matrix.
    pub(super) fn k(&self) -> usize {
        self.ci * 9
    }
    /// Output positions per image.
    pub(super) fn p(&self) -> usize {
        (self.hp - 2) * self.ow()
    }
    fn plane(&self) -> usize {
        self.hp * self.wp
    }
    /// Floats of one padded input image.
    pub(super) fn img(&self) -> usize {
        self.ci * self.plane()
    }
    /// Offset in an image of input channel `i`, tap `tap` (ky·3 + kx) at output position 0.
    fn tap_off(&self, i: usize, tap: usize) -> usize {
        i * self.plane() + (tap / 3) * self.wp + tap % 3
    }
}

/// Offsets with their maximum (so that one bounds check covers a whole loop over them).
struct Offs {
    v: Vec<usize>,
    max: usize,
}

impl Offs {
    fn new(v: Vec<usize>) -> Self {
        let max = v.iter().copied().max().unwrap_or(0);
        Offs { v, max }
    }
}

/// The weights as every forward and backward GEMM of an op uses them.
pub(super) struct Packed {
    g: Geo,
    /// W (O × I·9) packed as the forward's A.
    w: Vec<f32>,
    /// Offset of every im2col row (i·9 + tap) in an image.
    rows: Offs,
    /// The same as `i32`, for gathers.
    rows32: Vec<i32>,
    /// Wᵀ with rows in (tap, channel) order, packed as the input gradient's A (if wanted).
    wt: Option<Vec<f32>>,
    /// Offset in an image of each row of `wt`.
    wt_rows: Offs,
}

impl Packed {
    /// Packs `wv` (O × I × 3 × 3); `transposed` also packs Wᵀ for the input gradient.
    pub(super) fn new(g: Geo, wv: &[f32], transposed: bool) -> Self {
        let (k, co, ci) = (g.k(), g.co, g.ci);
        assert!(wv.len() == co * k && g.hp >= 3 && g.wp >= 3);
        let rows: Vec<usize> = (0..k).map(|r| g.tap_off(r / 9, r % 9)).collect();
        let rows32 = rows
            .iter()
            .map(|&o| i32::try_from(o).expect("conv input plane fits i32"))
            .collect();
        let wt = transposed.then(|| {
            let mut out = vec![0.0f32; k.div_ceil(MR) * MR * co];
            for rp in 0..k {
                let (tap, i) = (rp / ci, rp % ci);
                let (ip, ii) = (rp / MR, rp % MR);
                for c in 0..co {
                    out[(ip * co + c) * MR + ii] = wv[c * k + i * 9 + tap];
                }
            }
            out
        });
        let wt_rows = (0..k).map(|rp| g.tap_off(rp % ci, rp / ci)).collect();
        Packed {
            g,
            w: pack::pack_a(wv, k, 1, co, k),
            rows: Offs::new(rows),
            rows32,
            wt,
            wt_rows: Offs::new(wt_rows),
        }
    }
}

/// Columns `tt..tt + len` of a panel are output positions `ox..ox + len` of output row `oy` of
/// image `img` of the group.
#[derive(Clone, Copy)]
struct Run {
    img: usize,
    oy: usize,
    ox: usize,
    tt: usize,
    len: usize,
}

/// The runs of columns `t0..t0 + cols` (column t = img·P + oy·OW + ox); `rows: false` joins
/// the output rows of an image (a run then ends only where an image does; `oy`, `ox` give its
/// first position).
fn runs(g: &Geo, t0: usize, cols: usize, rows: bool, out: &mut Vec<Run>) {
    out.clear();
    let (p, ow) = (g.p(), g.ow());
    let end = t0 + cols;
    let mut t = t0;
    while t < end {
        let (img, pos) = (t / p, t % p);
        let (oy, ox) = (pos / ow, pos % ow);
        let len = if rows { ow - ox } else { p - pos }.min(end - t);
        out.push(Run {
            img,
            oy,
            ox,
            tt: t - t0,
            len,
        });
        t += len;
    }
}

thread_local! {
    static PANELS: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Runs `f` with two per-thread panel buffers of `a` and `b` floats (contents unspecified),
/// apart from [`super::with_scratch`]'s.
fn with_panels<R>(a: usize, b: usize, f: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
    super::with_pair(&PANELS, a, b, f)
}

/// Rows of the forward's B panel per K block: a block (KB × NR floats, 18 KB) stays in L1
/// while every A panel runs over it; the whole panel (I·9 × NR, 55 KB for 32 channels) does not.
const KB: usize = 96;

/// y (images × O × P) = conv(x) for a group of padded images `x`; every element of `y` is
/// written. Per 48-column tile: the B panel is filled and multiplied K block by K block, each
/// tile of C summing the blocks in turn.
pub(super) fn forward(w: &Packed, x: &[f32], y: &mut [f32]) {
    let g = &w.g;
    let (k, p, co) = (g.k(), g.p(), g.co);
    let n = x.len() / g.img();
    assert!(x.len() == n * g.img() && y.len() == n * co * p);
    let total = n * p;
    let mpanels = co.div_ceil(MR);
    let (mut rs, mut irs) = (Vec::new(), Vec::new());
    let mut pieces = Pieces::default();
    with_panels(k * NR, mpanels * MR * NR, |panel, tiles| {
        for t0 in (0..total).step_by(NR) {
            let cols = NR.min(total - t0);
            runs(g, t0, cols, true, &mut rs);
            runs(g, t0, cols, false, &mut irs);
            let by_rows = pieces.plan(g, &rs);
            // The tile lies in one image: straight into y (row stride P).
            let single = match irs.as_slice() {
                [r] => Some((r.img * co * p + r.oy * g.ow() + r.ox, r.img)),
                _ => None,
            };
            for k0 in (0..k).step_by(KB) {
                let kl = KB.min(k - k0);
                let block = &mut panel[k0 * NR..(k0 + kl) * NR];
                if by_rows {
                    pieces.fill(x, &w.rows.v[k0..k0 + kl], block);
                } else {
                    for r in &rs {
                        let base = r.img * g.img() + r.oy * g.wp + r.ox;
                        copy_rows(x, base, &w.rows, k0..k0 + kl, block, r.tt, NR, r.len);
                    }
                    if cols < NR {
                        block
                            .chunks_exact_mut(NR)
                            .for_each(|row| row[cols..].fill(0.0));
                    }
                }
                let block = &*block;
                for ip in 0..mpanels {
                    let rows = MR.min(co - ip * MR);
                    let a = &w.w[(ip * k + k0) * MR..(ip * k + k0 + kl) * MR];
                    let acc = k0 > 0;
                    match single {
                        Some((c0, _)) => {
                            let c0 = c0 + ip * MR * p;
                            let c = &mut y[c0..c0 + (rows - 1) * p + cols];
                            pack::tile(kl, a, block, c, p, rows, cols, acc);
                        }
                        None => {
                            let c = &mut tiles[ip * MR * NR..(ip + 1) * MR * NR];
                            pack::tile(kl, a, block, c, NR, rows, cols, acc);
                        }
                    }
                }
            }
            if single.is_some() {
                continue;
            }
            for ip in 0..mpanels {
                let tile = &tiles[ip * MR * NR..(ip + 1) * MR * NR];
                for i in 0..MR.min(co - ip * MR) {
                    for r in &irs {
                        let d = (r.img * co + ip * MR + i) * p + r.oy * g.ow() + r.ox;
                        let s = i * NR + r.tt;
                        y[d..d + r.len].copy_from_slice(&tile[s..s + r.len]);
                    }
                }
            }
        }
    });
}

/// How one forward tile's B panel row is put together from the input: per 16-lane vector
/// of the row (3 of them), up to [`PIECES`] pieces of output-row runs that land in it, each a
/// masked load from the im2col row's offset plus a delta (lane l reads `x[off + delta + l]`;
/// unused pieces have an empty mask). The row is then stored whole: 9 masked loads and 3
/// stores per row instead of a masked load and a (line-splitting) masked store per run.
#[derive(Default)]
struct Pieces {
    masks: [[u16; PIECES]; NR / 16],
    deltas: [[isize; PIECES]; NR / 16],
}

impl Pieces {
    /// Plans the pieces of `runs`; false when this path does not apply (a vector meets more
    /// than [`PIECES`] runs, or no AVX-512): the caller then copies the runs row by row.
    fn plan(&mut self, g: &Geo, runs: &[Run]) -> bool {
        *self = Pieces::default();
        if !pack::available() || NR % 16 != 0 {
            return false;
        }
        for q in 0..NR / 16 {
            let (lo, hi) = (16 * q, 16 * q + 16);
            let mut used = 0;
            for r in runs {
                let (a, b) = (r.tt.max(lo), (r.tt + r.len).min(hi));
                if a >= b {
                    continue;
                }
                if used == PIECES {
                    return false;
                }
                let m = (((1u32 << (b - lo)) - 1) & !((1u32 << (a - lo)) - 1)) as u16;
                let base = r.img * g.img() + r.oy * g.wp + r.ox;
                self.masks[q][used] = m;
                self.deltas[q][used] = base as isize + lo as isize - r.tt as isize;
                used += 1;
            }
        }
        true
    }

    /// Fills `block` (`offs.len()` rows of NR) for im2col rows at `offs` from `x`; lanes
    /// outside the runs are zero.
    fn fill(&self, x: &[f32], offs: &[usize], block: &mut [f32]) {
        assert!(block.len() == offs.len() * NR && pack::available());
        if offs.is_empty() {
            return;
        }
        // Every lane a piece reads is an element of a run of an image of `x`.
        let (omin, omax) = offs
            .iter()
            .fold((usize::MAX, 0), |(a, b), &o| (a.min(o), b.max(o)));
        for (ms, ds) in self.masks.iter().zip(&self.deltas) {
            for (&m, &d) in ms.iter().zip(ds).filter(|(&m, _)| m != 0) {
                let (lo, hi) = (m.trailing_zeros() as isize, 16 - m.leading_zeros() as isize);
                let (first, last) = (d + lo + omin as isize, d + hi - 1 + omax as isize);
                assert!(first >= 0 && (last as usize) < x.len(), "pieces");
            }
        }
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512F is available; every lane read is in `x` (checked above; empty
        // masks read nothing), every store inside `block`.
        unsafe {
            simd::fill_pieces(
                x.as_ptr(),
                offs,
                (&self.masks, &self.deltas),
                block.as_mut_ptr(),
            )
        };
    }
}

/// For a group of padded images `x` and their output gradient `gy` (images × O × P):
/// dw (O × I·9) += dY · im2colᵀ, and, if `dx` is given (the group's padded input gradient,
/// needs `Packed::new(.., transposed: true)`), dx += col2im(Wᵀ · dY).
pub(super) fn backward(w: &Packed, x: &[f32], gy: &[f32], dx: Option<&mut [f32]>, dw: &mut [f32]) {
    let g = &w.g;
    let (k, p, co) = (g.k(), g.p(), g.co);
    let n = x.len() / g.img();
    assert!(x.len() == n * g.img() && gy.len() == n * co * p && dw.len() == co * k);
    let mpanels = co.div_ceil(MR);
    with_panels(mpanels * MR * p, p.max(co) * NR, |a, b| {
        // Weight gradient, image by image (depth P): A = dY (O × P), B = im2colᵀ (P × I·9).
        for (xi, gyi) in x.chunks_exact(g.img()).zip(gy.chunks_exact(co * p)) {
            pack_gy(gyi, co, p, a);
            for r0 in (0..k).step_by(NR) {
                let cols = NR.min(k - r0);
                pack_cols_t(g, xi, &w.rows32[r0..r0 + cols], b);
                for ip in 0..mpanels {
                    let rows = MR.min(co - ip * MR);
                    let c0 = ip * MR * k + r0;
                    let c = &mut dw[c0..c0 + (rows - 1) * k + cols];
                    pack::tile(
                        p,
                        &a[ip * p * MR..(ip + 1) * p * MR],
                        b,
                        c,
                        k,
                        rows,
                        cols,
                        true,
                    );
                }
            }
        }
        let Some(dx) = dx else { return };
        // Input gradient: dcol = Wᵀ (I·9 × O) · dY (O × group positions), tile by tile
        // added into dx.
        let wt = w.wt.as_ref().expect("Packed::new(.., transposed: true)");
        assert!(dx.len() == x.len());
        let total = n * p;
        let (mut rs, mut irs) = (Vec::new(), Vec::new());
        let gy_rows = Offs::new((0..co).map(|c| c * p).collect());
        let mut tile = [0.0f32; MR * NR];
        let b = &mut b[..co * NR];
        for t0 in (0..total).step_by(NR) {
            let cols = NR.min(total - t0);
            runs(g, t0, cols, false, &mut irs);
            for r in &irs {
                let base = r.img * co * p + r.oy * g.ow() + r.ox;
                copy_rows(gy, base, &gy_rows, 0..co, b, r.tt, NR, r.len);
            }
            if cols < NR {
                b.chunks_exact_mut(NR).for_each(|row| row[cols..].fill(0.0));
            }
            runs(g, t0, cols, true, &mut rs);
            for ip in 0..k.div_ceil(MR) {
                let rows = MR.min(k - ip * MR);
                let a = &wt[ip * co * MR..(ip + 1) * co * MR];
                pack::tile(co, a, b, &mut tile, NR, rows, cols, false);
                for r in &rs {
                    let base = r.img * g.img() + r.oy * g.wp + r.ox;
                    let rr = ip * MR..ip * MR + rows;
                    add_rows(&tile, r.tt, NR, dx, base, &w.wt_rows, rr, r.len);
                }
            }
        }
    });
}

/// `dst[d0 + j·ds + t] = src[base + offs[r] + t]` for the `j`-th `r` of `range`, `t < len`.
#[allow(clippy::too_many_arguments)]
fn copy_rows(
    src: &[f32],
    base: usize,
    offs: &Offs,
    range: std::ops::Range<usize>,
    dst: &mut [f32],
    d0: usize,
    ds: usize,
    len: usize,
) {
    let o = &offs.v[range];
    if o.is_empty() || len == 0 {
        return;
    }
    assert!(base + offs.max + len <= src.len(), "copy_rows: source");
    assert!(
        d0 + (o.len() - 1) * ds + len <= dst.len(),
        "copy_rows: destination"
    );
    #[cfg(target_arch = "x86_64")]
    if pack::available() {
        // SAFETY: AVX-512F is available; the asserts bound every (masked) access.
        unsafe { simd::copy_rows(src.as_ptr().add(base), o, dst.as_mut_ptr().add(d0), ds, len) };
        return;
    }
    for (j, &o) in o.iter().enumerate() {
        let d = d0 + j * ds;
        dst[d..d + len].copy_from_slice(&src[base + o..base + o + len]);
    }
}

/// `dst[base + offs[r] + t] += src[s0 + j·ss + t]` for the `j`-th `r` of `range`, `t < len`.
#[allow(clippy::too_many_arguments)]
fn add_rows(
    src: &[f32],
    s0: usize,
    ss: usize,
    dst: &mut [f32],
    base: usize,
    offs: &Offs,
    range: std::ops::Range<usize>,
    len: usize,
) {
    let o = &offs.v[range];
    if o.is_empty() || len == 0 {
        return;
    }
    assert!(base + offs.max + len <= dst.len(), "add_rows: destination");
    assert!(
        s0 + (o.len() - 1) * ss + len <= src.len(),
        "add_rows: source"
    );
    #[cfg(target_arch = "x86_64")]
    if pack::available() {
        // SAFETY: AVX-512F is available; the asserts bound every (masked) access.
        unsafe { simd::add_rows(src.as_ptr().add(s0), ss, dst.as_mut_ptr().add(base), o, len) };
        return;
    }
    for (j, &o) in o.iter().enumerate() {
        let (s, d) = (s0 + j * ss, base + o);
        for (d, s) in dst[d..d + len].iter_mut().zip(&src[s..s + len]) {
            *d += *s;
        }
    }
}

/// Packs one image's output gradient (O × P) as the weight gradient's A: panel `ip` holds
/// channels `ip·MR..` as `a[(ip·P + t)·MR + i]`, channels past O zero.
fn pack_gy(gy: &[f32], co: usize, p: usize, a: &mut [f32]) {
    assert!(gy.len() == co * p && a.len() == co.div_ceil(MR) * MR * p);
    #[cfg(target_arch = "x86_64")]
    if pack::available() && MR == 8 {
        // SAFETY: AVX-512F is available; every gathered index is below O·P (masked lanes are
        // not read) and every store stays inside `a` (checked above).
        unsafe { simd::pack_gy(gy.as_ptr(), co, p, a.as_mut_ptr()) };
        return;
    }
    for ip in 0..co.div_ceil(MR) {
        for t in 0..p {
            for i in 0..MR {
                let c = ip * MR + i;
                a[(ip * p + t) * MR + i] = if c < co { gy[c * p + t] } else { 0.0 };
            }
        }
    }
}

/// Packs im2colᵀ of one padded image as the weight gradient's B panel for the im2col rows
/// whose offsets are `offs` (at most NR): `b[t·NR + j] = x[offs[j] + oy·WP + ox]` for output
/// position t = oy·OW + ox, columns past `offs.len()` zero.
fn pack_cols_t(g: &Geo, x: &[f32], offs: &[i32], b: &mut [f32]) {
    let (p, ow, wp) = (g.p(), g.ow(), g.wp);
    assert!(offs.len() <= NR && b.len() >= p * NR);
    let max = offs.iter().copied().max().unwrap_or(0) as usize;
    assert!(x.len() == g.img() && max + (g.hp - 3) * wp + ow - 1 < x.len());
    #[cfg(target_arch = "x86_64")]
    if pack::available() && NR == 48 {
        // SAFETY: AVX-512F is available; every gathered index is at most
        // `max + (OH − 1)·WP + OW − 1 < x.len()` (checked above), every store inside `b`.
        unsafe { simd::pack_cols_t(x.as_ptr(), offs, g.hp - 2, ow, wp, b.as_mut_ptr()) };
        return;
    }
    for t in 0..p {
        let base = (t / ow) * wp + t % ow;
        let row = &mut b[t * NR..(t + 1) * NR];
        for (j, d) in row.iter_mut().enumerate() {
            *d = offs.get(j).map_or(0.0, |&o| x[base + o as usize]);
        }
    }
}
