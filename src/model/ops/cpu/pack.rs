//! A small packed single-precision GEMM with an AVX-512 micro-kernel.
//!
//! The `gemm` crate only uses its AVX-512 kernels with its `nightly` feature, so on stable Rust
//! it runs AVX2 (8 lanes) even where the CPU has 16-lane FMA units. This module packs A into
//! panels of [`MR`] rows and B into panels of [`NR`] columns (zero padded) and runs an
//! `MR × NR` register-blocked AVX-512 micro-kernel over them. It is single-threaded (the conv
//! parallelises over images) and has no K blocking (our K is at most a few thousand, a packed B
//! panel stays in L2). A weight matrix is packed once per op and reused for every image.
//!
//! [`available`] says whether the CPU runs it; elsewhere a portable kernel computes the same
//! thing (the callers use the `gemm` crate there instead).

use std::cell::RefCell;

/// Rows of A per micro-kernel tile.
pub const MR: usize = 8;
/// Columns of B per micro-kernel tile (three 16-lane vectors).
pub const NR: usize = 48;

/// Whether the AVX-512 kernels (this GEMM, the pooling row kernel) run: the CPU has AVX-512F
/// and `ADALAB_NO_AVX512` is not `1` (set it to compare with the portable paths).
pub fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        let cpu = std::arch::is_x86_feature_detected!("avx512f");
        #[cfg(not(target_arch = "x86_64"))]
        let cpu = false;
        cpu && std::env::var_os("ADALAB_NO_AVX512").is_none_or(|v| v != "1")
    })
}

/// Packs A (m × k, element (i, j) at `a[i·rs + j·cs]`) into `out`: panel `ip` holds rows
/// `ip·MR..` as `out[(ip·k + j)·MR + i]`, rows past `m` zero.
pub fn pack_a_into(a: &[f32], rs: usize, cs: usize, m: usize, k: usize, out: &mut Vec<f32>) {
    let panels = m.div_ceil(MR);
    // Every element is written below: no need to clear.
    out.resize(panels * MR * k, 0.0);
    if m == 0 || k == 0 {
        return;
    }
    assert!(
        (m - 1) * rs + (k - 1) * cs < a.len(),
        "pack_a: A out of bounds"
    );
    for ip in 0..panels {
        let panel = &mut out[ip * k * MR..(ip + 1) * k * MR];
        let rows = MR.min(m - ip * MR);
        if cs == 1 && rows == MR {
            // Contiguous rows: read MR rows side by side.
            let base = ip * MR * rs;
            for (j, d) in panel.chunks_exact_mut(MR).enumerate() {
                for (i, d) in d.iter_mut().enumerate() {
                    *d = a[base + i * rs + j];
                }
            }
            continue;
        }
        for i in 0..MR {
            let col = panel.iter_mut().skip(i).step_by(MR);
            if i < rows {
                let r = (ip * MR + i) * rs;
                for (j, d) in col.enumerate() {
                    *d = a[r + j * cs];
                }
            } else {
                col.for_each(|d| *d = 0.0);
            }
        }
    }
}

/// [`pack_a_into`] a fresh buffer.
pub fn pack_a(a: &[f32], rs: usize, cs: usize, m: usize, k: usize) -> Vec<f32> {
    let mut out = Vec::new();
    pack_a_into(a, rs, cs, m, k, &mut out);
    out
}

/// Packs B (k × n, element (j, t) at `b[j·rs + t·cs]`) into `out`: panel `jp` holds columns
/// `jp·NR..` as `out[(jp·k + j)·NR + t]`, columns past `n` zero.
fn pack_b(b: &[f32], rs: usize, cs: usize, k: usize, n: usize, out: &mut [f32]) {
    assert!(
        (k - 1) * rs + (n - 1) * cs < b.len(),
        "pack_b: B out of bounds"
    );
    /// Rows of B per block when B is a transposed row-major matrix.
    const JB: usize = 16;
    for jp in 0..n.div_ceil(NR) {
        let j0 = jp * NR;
        let w = NR.min(n - j0);
        let panel = &mut out[jp * k * NR..(jp + 1) * k * NR];
        if rs == 1 && cs != 1 {
            // Bᵀ is row-major (row t at b[t·cs..]): copy JB × w blocks, reading JB contiguous
            // floats per column t and writing them down the panel; full 16 × 16 blocks with an
            // AVX-512 register transpose.
            for jb in (0..k).step_by(JB) {
                let jl = JB.min(k - jb);
                let mut t_done = 0;
                #[cfg(target_arch = "x86_64")]
                if jl == 16 && available() {
                    while t_done + 16 <= w {
                        let src = &b[(j0 + t_done) * cs + jb..(j0 + t_done + 15) * cs + jb + 16];
                        let dst = &mut panel[jb * NR + t_done..(jb + 15) * NR + t_done + 16];
                        // SAFETY: AVX-512F is available; `src` holds 16 rows of 16 at stride
                        // `cs`, `dst` 16 rows of 16 at stride NR (the slices end at the last).
                        unsafe { avx512::transpose16(src.as_ptr(), cs, dst.as_mut_ptr(), NR) };
                        t_done += 16;
                    }
                }
                for t in t_done..w {
                    let src = &b[(j0 + t) * cs + jb..(j0 + t) * cs + jb + jl];
                    for (jj, v) in src.iter().enumerate() {
                        panel[(jb + jj) * NR + t] = *v;
                    }
                }
            }
            if w < NR {
                panel.chunks_exact_mut(NR).for_each(|d| d[w..].fill(0.0));
            }
            continue;
        }
        for (j, d) in panel.chunks_exact_mut(NR).enumerate() {
            if cs == 1 {
                let s = j * rs + j0;
                d[..w].copy_from_slice(&b[s..s + w]);
            } else {
                for (t, d) in d[..w].iter_mut().enumerate() {
                    *d = b[j * rs + (j0 + t) * cs];
                }
            }
            d[w..].fill(0.0);
        }
    }
}

/// Packs all of B (k × n, element (j, t) at `b[j·rs + t·cs]`) into `out` as [`tile`]'s
/// panels: panel `jp` (columns `jp·NR..`) at `out[jp·k·NR..]`.
pub fn pack_b_into(b: &[f32], rs: usize, cs: usize, k: usize, n: usize, out: &mut Vec<f32>) {
    out.resize(n.div_ceil(NR) * NR * k, 0.0);
    if k > 0 && n > 0 {
        pack_b(b, rs, cs, k, n, out);
    }
}

thread_local! {
    static PACKED_B: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// `C (m × n, row-major) (+)= A · B`, with A packed by [`pack_a_into`] (`ap`) and B given by
/// strides (element (j, t) at `b[j·rs + t·cs]`); `acc` adds to C instead of overwriting it.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    m: usize,
    n: usize,
    k: usize,
    ap: &[f32],
    b: &[f32],
    b_rs: usize,
    b_cs: usize,
    c: &mut [f32],
    acc: bool,
) {
    assert!(c.len() >= m * n, "gemm: C too small");
    assert!(
        ap.len() >= m.div_ceil(MR) * MR * k,
        "gemm: packed A too small"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !acc {
            c[..m * n].fill(0.0);
        }
        return;
    }
    let mut run = |bp: &mut Vec<f32>| {
        bp.resize(n.div_ceil(NR) * NR * k, 0.0);
        pack_b(b, b_rs, b_cs, k, n, bp);
        for jp in 0..n.div_ceil(NR) {
            let cols = NR.min(n - jp * NR);
            let bpanel = &bp[jp * k * NR..(jp + 1) * k * NR];
            for ip in 0..m.div_ceil(MR) {
                let rows = MR.min(m - ip * MR);
                let apanel = &ap[ip * k * MR..(ip + 1) * k * MR];
                let c0 = ip * MR * n + jp * NR;
                // The tile's last element is inside C.
                let ct = &mut c[c0..c0 + (rows - 1) * n + cols];
                tile(k, apanel, bpanel, ct, n, rows, cols, acc);
            }
        }
    };
    PACKED_B.with(|bp| match bp.try_borrow_mut() {
        Ok(mut bp) => run(&mut bp),
        Err(_) => run(&mut Vec::new()),
    });
}

/// One `rows × cols` tile (`rows ≤ MR`, `cols ≤ NR`) of C (+)= A panel (`k·MR` floats) ·
/// B panel (`k·NR` floats), C's row stride `ldc`.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn tile(
    k: usize,
    ap: &[f32],
    bp: &[f32],
    c: &mut [f32],
    ldc: usize,
    rows: usize,
    cols: usize,
    acc: bool,
) {
    assert!(ap.len() >= k * MR && bp.len() >= k * NR);
    assert!((1..=MR).contains(&rows) && (1..=NR).contains(&cols));
    assert!(c.len() > (rows - 1) * ldc + cols - 1);
    #[cfg(target_arch = "x86_64")]
    {
        if available() {
            // SAFETY: AVX-512F is present; the asserts above bound every access (masked
            // lanes are never touched).
            unsafe {
                avx512::kernel(
                    k,
                    ap.as_ptr(),
                    bp.as_ptr(),
                    c.as_mut_ptr(),
                    ldc,
                    rows,
                    cols,
                    acc,
                )
            };
            return;
        }
    }
    let mut t = [[0.0f32; NR]; MR];
    for j in 0..k {
        let (a, b) = (&ap[j * MR..(j + 1) * MR], &bp[j * NR..(j + 1) * NR]);
        for (ti, ai) in t.iter_mut().zip(a) {
            for (tv, bv) in ti.iter_mut().zip(b) {
                *tv += ai * bv;
            }
        }
    }
    for (i, ti) in t.iter().enumerate().take(rows) {
        let row = &mut c[i * ldc..i * ldc + cols];
        for (d, v) in row.iter_mut().zip(ti) {
            *d = if acc { *d + v } else { *v };
        }
    }
}

/// One `rows × cols` tile of C (+)= A · B without packing: A's element (i, j) at
/// `a[i·rsa + j·csa]` (rows `0..rows`), B's element (j, t) at `b[j·ldb + t]` (columns
/// `0..cols`), C's row stride `ldc`.
#[allow(clippy::too_many_arguments)]
pub fn tile_strided(
    k: usize,
    a: (&[f32], usize, usize),
    b: (&[f32], usize),
    c: &mut [f32],
    ldc: usize,
    rows: usize,
    cols: usize,
    acc: bool,
) {
    strided(Strided::Panel, k, a, b, (c, ldc), (rows, cols), acc)
}

/// Rows of C per [`tile_wide`] tile.
pub const WR: usize = 4;
/// Columns of C per [`tile_wide`] tile (four 16-lane vectors).
pub const WC: usize = 64;

/// [`tile_strided`] for a `rows × cols` tile (`rows ≤ WR`, `cols ≤ WC`) that is wide and
/// short: 4 × 64, so that a C of 64 columns (the Winograd weight gradient's output channels)
/// is one tile wide instead of a full and a third-used 48-column tile.
#[allow(clippy::too_many_arguments)]
pub fn tile_wide(
    k: usize,
    a: (&[f32], usize, usize),
    b: (&[f32], usize),
    c: &mut [f32],
    ldc: usize,
    rows: usize,
    cols: usize,
    acc: bool,
) {
    strided(Strided::Wide, k, a, b, (c, ldc), (rows, cols), acc)
}

/// The register tile of an unpacked GEMM tile: [`MR`] × [`NR`] or [`WR`] × [`WC`].
#[derive(Clone, Copy)]
enum Strided {
    Panel,
    Wide,
}

/// [`tile_strided`] and [`tile_wide`]: bounds, then the AVX-512 kernel of the tile's shape,
/// or a portable loop.
fn strided(
    shape: Strided,
    k: usize,
    (a, rsa, csa): (&[f32], usize, usize),
    (b, ldb): (&[f32], usize),
    (c, ldc): (&mut [f32], usize),
    (rows, cols): (usize, usize),
    acc: bool,
) {
    let (mr, nr) = match shape {
        Strided::Panel => (MR, NR),
        Strided::Wide => (WR, WC),
    };
    assert!(k >= 1 && (1..=mr).contains(&rows) && (1..=nr).contains(&cols));
    assert!(
        a.len() > (rows - 1) * rsa + (k - 1) * csa,
        "strided tile: A"
    );
    assert!(b.len() >= (k - 1) * ldb + cols, "strided tile: B");
    assert!(c.len() > (rows - 1) * ldc + cols - 1, "strided tile: C");
    #[cfg(target_arch = "x86_64")]
    {
        if available() {
            let (a, b, c) = ((a.as_ptr(), rsa, csa), (b.as_ptr(), ldb), c.as_mut_ptr());
            // SAFETY: AVX-512F is present; the asserts above bound every access (rows past
            // `rows` read row 0, masked columns are never touched).
            unsafe {
                match shape {
                    Strided::Panel => avx512::kernel_strided(k, a, b, c, ldc, rows, cols, acc),
                    Strided::Wide => avx512::kernel_wide(k, a, b, c, ldc, rows, cols, acc),
                }
            };
            return;
        }
    }
    for i in 0..rows {
        for t in 0..cols {
            let mut v = 0.0f32;
            for j in 0..k {
                v = a[i * rsa + j * csa].mul_add(b[j * ldb + t], v);
            }
            let d = &mut c[i * ldc + t];
            *d = if acc { *d + v } else { v };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{MR, NR};
    use std::arch::x86_64::*;

    /// Transposes a 16 × 16 block: row `r` of `src` (at `src + r·ss`) becomes column `r` of
    /// `dst` (rows at `dst + c·ds`).
    ///
    /// # Safety
    /// AVX-512F must be available; both blocks must be in bounds.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn transpose16(src: *const f32, ss: usize, dst: *mut f32, ds: usize) {
        let r: [__m512; 16] = std::array::from_fn(|i| _mm512_loadu_ps(src.add(i * ss)));
        // 32-bit interleave of row pairs: t[2q] = lo(r[2q], r[2q+1]), t[2q+1] = hi(..).
        let t: [__m512; 16] = std::array::from_fn(|i| {
            let (a, b) = (r[i & !1], r[i | 1]);
            if i & 1 == 0 {
                _mm512_unpacklo_ps(a, b)
            } else {
                _mm512_unpackhi_ps(a, b)
            }
        });
        // 64-bit interleave: per group of four rows g, u[4g + m] holds (per 128-bit lane k)
        // column 4k + m of rows 4g..4g + 4.
        let u: [__m512; 16] = std::array::from_fn(|i| {
            let (g, m) = (i / 4, i % 4);
            let (a, b) = (t[4 * g + m / 2], t[4 * g + 2 + m / 2]);
            let (a, b) = (_mm512_castps_pd(a), _mm512_castps_pd(b));
            _mm512_castpd_ps(if m % 2 == 0 {
                _mm512_unpacklo_pd(a, b)
            } else {
                _mm512_unpackhi_pd(a, b)
            })
        });
        // 128-bit lane shuffles: column 4k + m = lanes k of u[m], u[4 + m], u[8 + m], u[12 + m].
        for m in 0..4 {
            let v = _mm512_shuffle_f32x4::<0x88>(u[m], u[4 + m]);
            let w = _mm512_shuffle_f32x4::<0xDD>(u[m], u[4 + m]);
            let v2 = _mm512_shuffle_f32x4::<0x88>(u[8 + m], u[12 + m]);
            let w2 = _mm512_shuffle_f32x4::<0xDD>(u[8 + m], u[12 + m]);
            _mm512_storeu_ps(dst.add(m * ds), _mm512_shuffle_f32x4::<0x88>(v, v2));
            _mm512_storeu_ps(dst.add((4 + m) * ds), _mm512_shuffle_f32x4::<0x88>(w, w2));
            _mm512_storeu_ps(dst.add((8 + m) * ds), _mm512_shuffle_f32x4::<0xDD>(v, v2));
            _mm512_storeu_ps(dst.add((12 + m) * ds), _mm512_shuffle_f32x4::<0xDD>(w, w2));
        }
    }

    #[inline(always)]
    fn mask(cols: usize, lo: usize) -> __mmask16 {
        let w = cols.saturating_sub(lo).min(16);
        ((1u32 << w) - 1) as __mmask16
    }

    /// See `super::tile_wide`: a 4 × 64 register tile (16 accumulators).
    ///
    /// # Safety
    /// AVX-512F must be available; A's rows `0..rows` and B's columns `0..cols` in bounds for
    /// `j < k`; rows `0..rows` of C (stride `ldc`) hold `cols` floats each.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn kernel_wide(
        k: usize,
        (a, rsa, csa): (*const f32, usize, usize),
        (b, ldb): (*const f32, usize),
        c: *mut f32,
        ldc: usize,
        rows: usize,
        cols: usize,
        acc: bool,
    ) {
        let m = [
            mask(cols, 0),
            mask(cols, 16),
            mask(cols, 32),
            mask(cols, 48),
        ];
        let mut ar = [a; super::WR];
        for (i, p) in ar.iter_mut().enumerate().take(rows) {
            *p = a.add(i * rsa);
        }
        let mut r = [[_mm512_setzero_ps(); 4]; super::WR];
        for j in 0..k {
            let bj = b.add(j * ldb);
            let bv = [
                _mm512_maskz_loadu_ps(m[0], bj),
                _mm512_maskz_loadu_ps(m[1], bj.wrapping_add(16)),
                _mm512_maskz_loadu_ps(m[2], bj.wrapping_add(32)),
                _mm512_maskz_loadu_ps(m[3], bj.wrapping_add(48)),
            ];
            let o = j * csa;
            for i in 0..super::WR {
                let ai = _mm512_set1_ps(*ar[i].add(o));
                for q in 0..4 {
                    r[i][q] = _mm512_fmadd_ps(ai, bv[q], r[i][q]);
                }
            }
        }
        for (i, ri) in r.iter().enumerate().take(rows) {
            for q in 0..4 {
                if m[q] == 0 {
                    continue;
                }
                let p = c.add(i * ldc + 16 * q);
                let v = if acc {
                    _mm512_add_ps(ri[q], _mm512_maskz_loadu_ps(m[q], p))
                } else {
                    ri[q]
                };
                _mm512_mask_storeu_ps(p, m[q], v);
            }
        }
    }

    /// [`kernel`] on unpacked operands (see `super::tile_strided`).
    ///
    /// # Safety
    /// AVX-512F must be available; A's rows `0..rows` and B's columns `0..cols` in bounds for
    /// `j < k`; rows `0..rows` of C (stride `ldc`) hold `cols` floats each.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn kernel_strided(
        k: usize,
        (a, rsa, csa): (*const f32, usize, usize),
        (b, ldb): (*const f32, usize),
        c: *mut f32,
        ldc: usize,
        rows: usize,
        cols: usize,
        acc: bool,
    ) {
        let (m0, m1, m2) = (mask(cols, 0), mask(cols, 16), mask(cols, 32));
        // Rows past `rows` read row 0 (in bounds; their results are not stored).
        let ar: [*const f32; MR] =
            std::array::from_fn(|i| a.add(if i < rows { i * rsa } else { 0 }));
        let mut r0 = [_mm512_setzero_ps(); MR];
        let mut r1 = [_mm512_setzero_ps(); MR];
        let mut r2 = [_mm512_setzero_ps(); MR];
        for j in 0..k {
            let bj = b.add(j * ldb);
            let b0 = _mm512_maskz_loadu_ps(m0, bj);
            let b1 = _mm512_maskz_loadu_ps(m1, bj.wrapping_add(16));
            let b2 = _mm512_maskz_loadu_ps(m2, bj.wrapping_add(32));
            let o = j * csa;
            for i in 0..MR {
                let ai = _mm512_set1_ps(*ar[i].add(o));
                r0[i] = _mm512_fmadd_ps(ai, b0, r0[i]);
                r1[i] = _mm512_fmadd_ps(ai, b1, r1[i]);
                r2[i] = _mm512_fmadd_ps(ai, b2, r2[i]);
            }
        }
        for i in 0..rows {
            let row = c.add(i * ldc);
            let (p0, p1, p2) = (row, row.wrapping_add(16), row.wrapping_add(32));
            let (mut v0, mut v1, mut v2) = (r0[i], r1[i], r2[i]);
            if acc {
                v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, p0));
                v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, p1));
                v2 = _mm512_add_ps(v2, _mm512_maskz_loadu_ps(m2, p2));
            }
            _mm512_mask_storeu_ps(p0, m0, v0);
            _mm512_mask_storeu_ps(p1, m1, v1);
            _mm512_mask_storeu_ps(p2, m2, v2);
        }
    }

    /// # Safety
    /// AVX-512F must be available; `ap`/`bp` hold `k·MR` / `k·NR` floats; rows `0..rows` of C
    /// (stride `ldc`) hold `cols` floats each.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn kernel(
        k: usize,
        ap: *const f32,
        bp: *const f32,
        c: *mut f32,
        ldc: usize,
        rows: usize,
        cols: usize,
        acc: bool,
    ) {
        let mut r0 = [_mm512_setzero_ps(); MR];
        let mut r1 = [_mm512_setzero_ps(); MR];
        let mut r2 = [_mm512_setzero_ps(); MR];
        for j in 0..k {
            let b = bp.add(j * NR);
            let b0 = _mm512_loadu_ps(b);
            let b1 = _mm512_loadu_ps(b.add(16));
            let b2 = _mm512_loadu_ps(b.add(32));
            let a = ap.add(j * MR);
            for i in 0..MR {
                let ai = _mm512_set1_ps(*a.add(i));
                r0[i] = _mm512_fmadd_ps(ai, b0, r0[i]);
                r1[i] = _mm512_fmadd_ps(ai, b1, r1[i]);
                r2[i] = _mm512_fmadd_ps(ai, b2, r2[i]);
            }
        }
        let (m0, m1, m2) = (mask(cols, 0), mask(cols, 16), mask(cols, 32));
        for i in 0..MR {
            if i < rows {
                let row = c.add(i * ldc);
                let (p0, p1, p2) = (row, row.wrapping_add(16), row.wrapping_add(32));
                let (mut v0, mut v1, mut v2) = (r0[i], r1[i], r2[i]);
                if acc {
                    v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, p0));
                    v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, p1));
                    v2 = _mm512_add_ps(v2, _mm512_maskz_loadu_ps(m2, p2));
                }
                _mm512_mask_storeu_ps(p0, m0, v0);
                _mm512_mask_storeu_ps(p1, m1, v1);
                _mm512_mask_storeu_ps(p2, m2, v2);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    #[test]
    fn packed_gemm_matches_naive_for_all_layouts_and_edges() {
        let mut rng = StdRng::seed_from_u64(11);
        for (m, n, k) in [
            (1, 1, 1),
            (8, 48, 5),
            (9, 49, 7),
            (13, 100, 27),
            (64, 169, 288),
            (3, 5, 0),
        ] {
            let a: Vec<f32> = (0..m * k).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let b: Vec<f32> = (0..k * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let c0: Vec<f32> = (0..m * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
            // A row-major or transposed, B row-major or transposed, overwrite or accumulate.
            for (a_t, b_t, acc) in [
                (false, false, false),
                (true, false, true),
                (false, true, true),
            ] {
                let (a_rs, a_cs) = if a_t { (1, m) } else { (k, 1) };
                let (b_rs, b_cs) = if b_t { (1, k) } else { (n, 1) };
                let ap = pack_a(&a, a_rs, a_cs, m, k);
                let mut c = c0.clone();
                gemm(m, n, k, &ap, &b, b_rs, b_cs, &mut c, acc);
                for i in 0..m {
                    for t in 0..n {
                        let mut want = if acc { c0[i * n + t] as f64 } else { 0.0 };
                        for j in 0..k {
                            want += a[i * a_rs + j * a_cs] as f64 * b[j * b_rs + t * b_cs] as f64;
                        }
                        let got = c[i * n + t] as f64;
                        assert!(
                            (got - want).abs() < 1e-4 * (1.0 + want.abs()),
                            "{m}x{n}x{k} ({i},{t}): {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}
