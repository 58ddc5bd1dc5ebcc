//! 2×2 max-pooling: the plain op ([`maxpool2`]) and the BatchNorm → ReLU → max-pool kernels
//! that the fused ops run ([`bn_pool_forward`], [`bn_pool_backward`]; AVX-512 planes in
//! [`pool_simd`]).

use super::batchnorm::{bn_grad_sums, param_and_batch_sums, relu, relu_grad, BnCoef};
use super::pool_simd::{self, Base};
use super::{filled, read, take, take_bytes};
use crate::model::ops::{arg_err, check_maxpool2, Shape4, T4};
use dfdx::prelude::*;
use rayon::prelude::*;
use std::mem::MaybeUninit;

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
        super::give_bytes(self.arg);
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
    let mut sel = PoolSel {
        arg: if with_sel {
            take_bytes(len)
        } else {
            Vec::new()
        },
        x: if with_sel { take(len) } else { Vec::new() },
    };
    let pool = |plane: usize,
                xi: &[f32],
                o: &mut [MaybeUninit<f32>],
                s: Option<(&mut [u8], &mut [f32])>| {
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
    let sel_out = &mut sel;
    // SAFETY: every plane of the output is written by `pool_plane`.
    let out = unsafe {
        filled(n * c * p, |out| {
            if with_sel {
                out.par_chunks_mut(p)
                    .zip(
                        sel_out
                            .arg
                            .par_chunks_mut(p)
                            .zip(sel_out.x.par_chunks_mut(p)),
                    )
                    .zip(xv.par_chunks(hw))
                    .enumerate()
                    .for_each(|(plane, ((o, (a, x)), xi))| pool(plane, xi, o, Some((a, x))));
            } else {
                out.par_chunks_mut(p)
                    .zip(xv.par_chunks(hw))
                    .enumerate()
                    .for_each(|(plane, (o, xi))| pool(plane, xi, o, None));
            }
        })
    };
    (out, sel)
}

/// BN → ReLU → 2×2 max-pool of one (H, W) plane `xi` (row width `w`) into `o` (OH × OW, every
/// element written), with the channel's scale `sc` and shift `sh`; `s` receives the index
/// (dy·2 + dx) and input value of each window's maximum.
pub(super) fn pool_plane(
    xi: &[f32],
    w: usize,
    (oh, ow): (usize, usize),
    sc: f32,
    sh: f32,
    o: &mut [MaybeUninit<f32>],
    s: Option<(&mut [u8], &mut [f32])>,
) {
    if pool_simd::available() {
        pool_simd::forward_plane(xi, w, (oh, ow), sc, sh, o, s);
    } else {
        pool_plane_scalar(xi, w, (oh, ow), sc, sh, o, s);
    }
}

/// [`pool_plane`] without AVX-512.
fn pool_plane_scalar(
    xi: &[f32],
    w: usize,
    (oh, ow): (usize, usize),
    sc: f32,
    sh: f32,
    o: &mut [MaybeUninit<f32>],
    mut s: Option<(&mut [u8], &mut [f32])>,
) {
    let y = |v: f32| relu(v * sc + sh);
    for oy in 0..oh {
        let r0 = &xi[2 * oy * w..2 * oy * w + w];
        let r1 = &xi[(2 * oy + 1) * w..(2 * oy + 1) * w + w];
        for ox in 0..ow {
            let v = [r0[2 * ox], r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1]];
            let (y0, y1, y2, y3) = (y(v[0]), y(v[1]), y(v[2]), y(v[3]));
            // First maximum wins (strict `>`), like PyTorch.
            let (m01, i01) = if y1 > y0 { (y1, 1u8) } else { (y0, 0) };
            let (m23, i23) = if y3 > y2 { (y3, 3u8) } else { (y2, 2) };
            let (mx, best) = if m23 > m01 { (m23, i23) } else { (m01, i01) };
            let j = oy * ow + ox;
            o[j] = MaybeUninit::new(mx);
            if let Some((a, x)) = s.as_mut() {
                a[j] = best;
                x[j] = v[best as usize];
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
    let (_, _, h, w) = shape;
    let hw = h * w;
    let (mine, sums) = bn_pool_sums(shape, kc, sel, gy);
    let bp = BnPoolGrad {
        shape,
        kc,
        sel,
        gy,
        sums: &sums,
    };
    match xv {
        Some(xv) => g
            .par_chunks_mut(hw)
            .zip(xv.par_chunks(hw))
            .enumerate()
            .for_each(|(pl, (g, xi))| bp.planes(pl, g, Some(xi))),
        None => g
            .par_chunks_mut(hw)
            .enumerate()
            .for_each(|(pl, g)| bp.planes(pl, g, None)),
    }
    mine
}

/// Per channel (Σ dz, Σ dz·x̂) of [`bn_pool_backward`] (what its planes need first), as
/// [`param_and_batch_sums`] gives them: (these images', the whole batch's).
pub(super) fn bn_pool_sums(
    (n, c, h, w): Shape4,
    kc: &BnCoef,
    sel: &PoolSel,
    gy: &[f32],
) -> (Vec<(f32, f32)>, Vec<(f32, f32)>) {
    let p = (h / 2) * (w / 2);
    let local = (0..c)
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
            (s1, s2)
        })
        .collect();
    param_and_batch_sums(local)
}

/// The per-plane part of [`bn_pool_backward`], given its sums ([`bn_pool_sums`]): for a run of
/// whole planes at a time (e.g. a group of images inside the conv's backward task).
pub(super) struct BnPoolGrad<'a> {
    pub(super) shape: Shape4,
    pub(super) kc: &'a BnCoef,
    pub(super) sel: &'a PoolSel,
    pub(super) gy: &'a [f32],
    pub(super) sums: &'a [(f32, f32)],
}

impl BnPoolGrad<'_> {
    /// The input gradient of planes `pl0..` (as many as `g` holds): with `xi` (their inputs),
    /// added into `g`; without, `g` holds the inputs and is overwritten with the gradient.
    pub(super) fn planes(&self, pl0: usize, g: &mut [f32], xi: Option<&[f32]>) {
        self.planes_with(pl0, g, xi, false);
    }

    /// Only the pooled part of the input gradient of planes `pl0..` (as many as `g` holds):
    /// zero, plus each window's gradient at its maximum; the inputs are not read. The rest,
    /// −(k0 + k1·(x − μ)) at every element in Train mode ([`Self::coef`]), is the caller's.
    pub(super) fn pooled_planes(&self, pl0: usize, g: &mut [f32]) {
        self.planes_with(pl0, g, None, true);
    }

    /// Channel `ch`'s (k0, k1, μ): BatchNorm's part of the input gradient in Train mode is
    /// −(k0 + k1·(x − μ)) at every element. `sc·(Σdz/M + (x − μ)·inv·Σdz·x̂/M)`.
    pub(super) fn coef(&self, ch: usize) -> (f32, f32, f32) {
        let (kc, m) = (self.kc, self.kc.count as f32);
        let (sc, mu, inv) = (kc.scale[ch], kc.mean[ch], kc.invstd[ch]);
        (sc * self.sums[ch].0 / m, sc * inv * self.sums[ch].1 / m, mu)
    }

    fn planes_with(&self, pl0: usize, g: &mut [f32], xi: Option<&[f32]>, pooled_only: bool) {
        let (_, c, h, w) = self.shape;
        let (hw, p) = (h * w, (h / 2) * (w / 2));
        let kc = self.kc;
        for (k, g) in g.chunks_exact_mut(hw).enumerate() {
            let pl = pl0 + k;
            let ch = pl % c;
            let (sc, sh) = (kc.scale[ch], kc.shift[ch]);
            let xi = xi.map(|x| &x[k * hw..(k + 1) * hw]);
            let (k0, k1, mu) = self.coef(ch);
            let base = match (kc.train && !pooled_only, xi.is_some()) {
                (true, false) => Base::Replace { k0, k1, mu },
                (true, true) => Base::Subtract { k0, k1, mu },
                (false, false) => Base::Zero,
                (false, true) => Base::Keep,
            };
            let r = pl * p..(pl + 1) * p;
            let (ai, xs, gyi) = (
                &self.sel.arg[r.clone()],
                &self.sel.x[r.clone()],
                &self.gy[r],
            );
            if pool_simd::available() {
                pool_simd::backward_plane(g, xi, (h, w), base, sc, sh, ai, xs, gyi);
            } else {
                backward_plane_scalar(g, xi, (h, w), base, sc, sh, ai, xs, gyi);
            }
        }
    }
}

/// [`pool_simd::backward_plane`] without AVX-512: the base of every element, then each
/// window's gradient added at its maximum.
#[allow(clippy::too_many_arguments)]
fn backward_plane_scalar(
    g: &mut [f32],
    xi: Option<&[f32]>,
    (h, w): (usize, usize),
    base: Base,
    sc: f32,
    sh: f32,
    ai: &[u8],
    xs: &[f32],
    gyi: &[f32],
) {
    match (base, xi) {
        (Base::Replace { k0, k1, mu }, _) => {
            g.iter_mut().for_each(|g| *g = -(k0 + k1 * (*g - mu)));
        }
        (Base::Subtract { k0, k1, mu }, Some(xi)) => g
            .iter_mut()
            .zip(xi)
            .for_each(|(g, x)| *g -= k0 + k1 * (x - mu)),
        (Base::Subtract { .. }, None) => unreachable!("Base::Subtract comes with x"),
        (Base::Zero, _) => g.fill(0.0),
        (Base::Keep, _) => {}
    }
    let (oh, ow) = (h / 2, w / 2);
    for oy in 0..oh {
        for ox in 0..ow {
            let j = oy * ow + ox;
            g[window_pos(w, oy, ox, ai[j])] += sc * relu_grad(xs[j] * sc + sh, gyi[j]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    /// The AVX-512 plane kernels give the scalar loops' results to the bit: forward (output,
    /// argmax, selected input) and backward (every base, with the pooled gradient added), at
    /// the default recipe's sizes, odd sizes and rows of more than 16 windows, with ties and
    /// negative scales.
    #[test]
    fn simd_plane_kernels_match_scalar_bit_for_bit() {
        if !pool_simd::available() {
            return;
        }
        let mut rng = StdRng::seed_from_u64(31);
        for (h, w) in [(26, 26), (11, 11), (5, 7), (6, 37), (2, 2), (9, 66)] {
            let (oh, ow) = (h / 2, w / 2);
            let q = oh * ow;
            // Quantised values: many ties within windows.
            let x: Vec<f32> = (0..h * w)
                .map(|_| rng.gen_range(-4..5) as f32 * 0.5)
                .collect();
            for (sc, sh) in [(1.3f32, 0.2f32), (-0.7, 0.1), (0.9, -5.0)] {
                let run = |simd: bool| {
                    let mut o = vec![MaybeUninit::new(f32::NAN); q];
                    let (mut a, mut xs) = (vec![9u8; q], vec![f32::NAN; q]);
                    let s = Some((&mut a[..], &mut xs[..]));
                    if simd {
                        pool_simd::forward_plane(&x, w, (oh, ow), sc, sh, &mut o, s);
                    } else {
                        pool_plane_scalar(&x, w, (oh, ow), sc, sh, &mut o, s);
                    }
                    // SAFETY: initialised above (and overwritten by the kernel).
                    let o: Vec<u32> = o
                        .iter()
                        .map(|v| unsafe { v.assume_init() }.to_bits())
                        .collect();
                    let xs: Vec<u32> = xs.iter().map(|v| v.to_bits()).collect();
                    (o, a, xs)
                };
                let (fs, fp) = (run(true), run(false));
                assert_eq!(fs, fp, "forward {h}x{w} sc={sc}");
                let (a, xs) = {
                    let (mut a, mut xs) = (vec![0u8; q], vec![0.0f32; q]);
                    let mut o = vec![MaybeUninit::new(0.0); q];
                    let s = Some((&mut a[..], &mut xs[..]));
                    pool_plane_scalar(&x, w, (oh, ow), sc, sh, &mut o, s);
                    (a, xs)
                };
                let gy: Vec<f32> = (0..q).map(|_| rng.gen_range(-1.0..1.0)).collect();
                let g0: Vec<f32> = (0..h * w).map(|_| rng.gen_range(-1.0..1.0)).collect();
                let xi: Vec<f32> = (0..h * w).map(|_| rng.gen_range(-1.0..1.0)).collect();
                let (k0, k1, mu) = (0.03f32, -0.2f32, 0.1f32);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                for (base, with_x) in [
                    (Base::Replace { k0, k1, mu }, false),
                    (Base::Subtract { k0, k1, mu }, true),
                    (Base::Zero, false),
                    (Base::Keep, true),
                ] {
                    let x = with_x.then_some(&xi[..]);
                    let (mut gs, mut gp) = (g0.clone(), g0.clone());
                    pool_simd::backward_plane(&mut gs, x, (h, w), base, sc, sh, &a, &xs, &gy);
                    backward_plane_scalar(&mut gp, x, (h, w), base, sc, sh, &a, &xs, &gy);
                    let what = format!("backward {h}x{w} sc={sc} {base:?}");
                    assert_eq!(bits(&gs), bits(&gp), "{what}");
                }
            }
        }
    }
}
