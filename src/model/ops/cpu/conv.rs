//! 3×3 convolution as im2col + GEMM, parallel over the batch; [`conv3x3`] is the op.

use super::convgemm::{self, Geo, Packed};
use super::direct::{self, DirectGrads, Padded};
use super::gemm::{inner_par, mm, use_packed, Mat};
use super::im2col::Conv;
use super::winograd::Wino;
use super::{give, lane_sum, pack, read, take, with_scratch};
use crate::model::ops::{arg_err, check_conv3x3, Shape4, T1, T4};
use dfdx::prelude::*;
use gemm::Parallelism;
use rayon::prelude::*;

/// What [`ConvPlan::backward`] runs first in each task: (first image, that part of the output
/// gradient).
pub(super) type Prep<'a> = dyn Fn(usize, &mut [f32]) + Sync + 'a;

/// The weights as every image's forward uses them (see [`ConvPlan::prepare`]).
pub(super) struct Weights<'a> {
    wv: &'a [f32],
    packed: Option<Vec<f32>>,
    /// Packed for [`convgemm`] (when [`ConvPlan::fused`]).
    fused: Option<Packed>,
    par: Parallelism,
}

/// Sizes of one conv over a batch.
#[derive(Clone, Copy)]
pub(super) struct ConvPlan {
    g: Conv,
    n: usize,
    co: usize,
    /// Rows of the im2col matrix (I·9).
    k: usize,
    /// Output positions per image.
    p: usize,
    /// Input floats per image.
    img: usize,
}

impl ConvPlan {
    /// Validates the arguments (see [`check_conv3x3`]).
    pub(super) fn new(
        x: Shape4,
        w: Shape4,
        bias: Option<usize>,
        pad: usize,
    ) -> Result<Self, CpuError> {
        let (n, ci, h, wd) = x;
        let (oh, ow) = check_conv3x3(x, w, bias, pad).map_err(arg_err)?;
        let g = Conv {
            ci,
            h,
            w: wd,
            pad,
            oh,
            ow,
        };
        Ok(Self {
            g,
            n,
            co: w.0,
            k: ci * 9,
            p: oh * ow,
            img: ci * h * wd,
        })
    }

    pub(super) fn out_shape(&self) -> Shape4 {
        (self.n, self.co, self.g.oh, self.g.ow)
    }

    /// Whether the direct kernel ([`direct`]) runs: one input channel, AVX-512.
    fn direct(&self) -> bool {
        self.g.ci == 1 && pack::available()
    }

    /// Whether the im2col-free AVX-512 GEMMs ([`convgemm`]) run: several input channels,
    /// AVX-512.
    fn fused(&self) -> bool {
        self.g.ci > 1 && pack::available()
    }

    /// Whether the forward runs as Winograd F(2×2, 3×3) ([`super::winograd`]): many
    /// channels, rows that fit a vector, AVX-512. The gradients follow where theirs applies
    /// ([`Self::backward_fused`]).
    fn winograd(&self) -> bool {
        Wino::applies(self.g.ci, self.co, self.g.w, self.g.pad)
    }

    /// The forward's Winograd weights ([`Self::winograd`]).
    fn wino(&self, wv: &[f32]) -> Wino {
        Wino::forward_of(self.g.ci, self.co, (self.g.h, self.g.w), self.g.pad, wv)
    }

    /// The forward's Winograd weights for [`Wino::forward_pooled`] (BatchNorm, ReLU and
    /// max-pool at inference), when [`Self::winograd`].
    pub(super) fn pooling_wino(&self, wv: &[f32]) -> Option<Wino> {
        self.winograd().then(|| self.wino(wv).for_pooling())
    }

    /// The geometry [`convgemm`] sees: the padded input.
    fn geo(&self) -> Geo {
        let g = &self.g;
        Geo {
            ci: g.ci,
            co: self.co,
            hp: g.h + 2 * g.pad,
            wp: g.w + 2 * g.pad,
        }
    }

    /// Copies images `x` (I × H × W each) into `xp` with their zero border (`pad` wide).
    fn pad_into(&self, x: &[f32], xp: &mut [f32]) {
        let (g, geo) = (&self.g, self.geo());
        let (hw, pl) = (g.h * g.w, geo.hp * geo.wp);
        for (src, dst) in x.chunks_exact(hw).zip(xp.chunks_exact_mut(pl)) {
            dst.fill(0.0);
            for (r, row) in src.chunks_exact(g.w).enumerate() {
                let s = (r + g.pad) * geo.wp + g.pad;
                dst[s..s + g.w].copy_from_slice(row);
            }
        }
    }

    /// `x` with its zero border (a recycled buffer), or `None` without padding.
    fn padded(&self, x: &[f32]) -> Option<Vec<f32>> {
        (self.g.pad > 0).then(|| {
            let geo = self.geo();
            let mut xp = take(x.len() / self.img * geo.img());
            self.pad_into(x, &mut xp);
            xp
        })
    }

    /// What every image's forward shares: the weights (packed for the AVX-512 GEMM when it
    /// runs, `tasks` being the number of parallel tasks) and the GEMM's parallelism. (Where
    /// [`Self::winograd`] applies, the inference block takes [`Self::pooling_wino`] instead.)
    pub(super) fn prepare<'a>(&self, wv: &'a [f32], tasks: usize) -> Weights<'a> {
        let par = inner_par(tasks);
        let fused = self.fused().then(|| Packed::new(self.geo(), wv, false));
        let packed = (!self.direct() && !self.fused() && use_packed(par))
            .then(|| pack::pack_a(wv, self.k, 1, self.co, self.k));
        Weights {
            wv,
            packed,
            fused,
            par,
        }
    }

    /// A few images `xs` (I × H × W each): o (images × O × OH·OW) = conv(xs, w) + bias; every
    /// element of `o` is written. The fused GEMM takes them as one GEMM, the other kernels one
    /// by one.
    pub(super) fn forward_images(
        &self,
        xs: &[f32],
        w: &Weights,
        bv: Option<&[f32]>,
        o: &mut [f32],
    ) {
        let Self {
            g, co, k, p, img, ..
        } = *self;
        if let Some(pk) = &w.fused {
            if g.pad == 0 {
                convgemm::forward(pk, xs, o);
            } else {
                with_scratch(xs.len() / img * self.geo().img(), 0, |xp, _| {
                    self.pad_into(xs, xp);
                    convgemm::forward(pk, xp, o);
                });
            }
        }
        let direct = self.direct().then(|| Padded::new(g.h, g.w, g.pad));
        for (xi, o) in xs.chunks_exact(img).zip(o.chunks_exact_mut(co * p)) {
            if let Some(pd) = &direct {
                with_scratch(pd.len(), pd.wide(), |xp, wide| {
                    pd.fill(xi, g.w, g.pad, xp);
                    direct::forward(pd, xp, w.wv, o, wide);
                });
            } else if w.fused.is_none() {
                with_scratch(k * p, 0, |col, _| {
                    g.im2col(xi, col);
                    match &w.packed {
                        Some(wp) => pack::gemm(co, p, k, wp, col, p, 1, o, false),
                        None => mm(o, Mat::new(w.wv, co, k), Mat::new(col, k, p), false, w.par),
                    }
                });
            }
            if let Some(bv) = bv {
                for (row, b) in o.chunks_mut(p).zip(bv) {
                    row.iter_mut().for_each(|v| *v += b);
                }
            }
        }
    }

    /// y = conv(x, w) + bias, (N, O, OH·OW).
    pub(super) fn forward(&self, xv: &[f32], wv: &[f32], bv: Option<&[f32]>) -> Vec<f32> {
        let Self { n, co, p, img, .. } = *self;
        if self.fused() {
            return self.forward_fused(xv, wv, bv);
        }
        let w = self.prepare(wv, n);
        // Every element is written: a recycled buffer needs no clearing.
        let mut out = take(n * co * p);
        let per = if self.direct() { self.group() } else { 1 };
        out.par_chunks_mut(per * co * p)
            .zip(xv.par_chunks(per * img))
            .for_each(|(o, xs)| self.forward_images(xs, &w, bv, o));
        out
    }

    /// Images per parallel task of the fused path: two tasks per thread.
    fn group(&self) -> usize {
        let chunks = (2 * super::threads()).clamp(1, self.n);
        self.n.div_ceil(chunks)
    }

    /// [`Self::forward`] on [`super::winograd`] or [`convgemm`]: one call per group of images.
    fn forward_fused(&self, xv: &[f32], wv: &[f32], bv: Option<&[f32]>) -> Vec<f32> {
        let Self { n, co, p, img, .. } = *self;
        let per = self.group();
        // Every element is written: a recycled buffer needs no clearing.
        let mut out = take(n * co * p);
        if self.winograd() {
            let wn = self.wino(wv);
            out.par_chunks_mut(per * co * p)
                .zip(xv.par_chunks(per * img))
                .for_each(|(o, xg)| wn.forward(xg, o, false));
        } else {
            let geo = self.geo();
            let pk = Packed::new(geo, wv, false);
            let xp = self.padded(xv);
            let xs = xp.as_deref().unwrap_or(xv);
            out.par_chunks_mut(per * co * p)
                .zip(xs.par_chunks(per * geo.img()))
                .for_each(|(o, xg)| convgemm::forward(&pk, xg, o));
            if let Some(xp) = xp {
                give(xp);
            }
        }
        if let Some(bv) = bv {
            out.par_chunks_mut(co * p).for_each(|o| {
                for (row, b) in o.chunks_mut(p).zip(bv) {
                    row.iter_mut().for_each(|v| *v += b);
                }
            });
        }
        out
    }

    /// [`Self::backward`] per group of images: on [`super::winograd`] where it applies (the
    /// input gradient where its geometry does, the weight gradient where the forward's does
    /// and the input gradient, if asked, is Winograd's too), else on [`convgemm`].
    fn backward_fused(
        &self,
        xv: &[f32],
        wv: &[f32],
        gy: &mut [f32],
        gx: Option<&mut [f32]>,
        prep: Option<&Prep>,
    ) -> (Vec<f32>, Vec<f32>) {
        let Self {
            g, co, k, p, img, ..
        } = *self;
        let geo = self.geo();
        // The input gradient on the forward's Winograd tiles when the forward is Winograd's,
        // else as a Winograd convolution of its own where that applies, else with the weight
        // gradient.
        let wino = gx.as_ref().and_then(|_| {
            if self.winograd() {
                Some(Wino::transposed_of(g.ci, co, (g.h, g.w), g.pad, wv))
            } else {
                (g.pad <= 2 && Wino::applies(co, g.ci, g.ow, 2 - g.pad))
                    .then(|| Wino::input_grad_of(g.ci, co, (g.h, g.w), g.pad, wv))
            }
        });
        // The weight gradient on Winograd too when the forward is and the input gradient (if
        // asked) is: then the input is read unpadded and nothing is packed for `convgemm`.
        let wino_w = (self.winograd() && (gx.is_none() || wino.is_some()))
            .then(|| Wino::shape_of(g.ci, co, (g.h, g.w), g.pad));
        let pk = wino_w
            .is_none()
            .then(|| Packed::new(geo, wv, gx.is_some() && wino.is_none()));
        let (xp, ximg) = match wino_w {
            Some(_) => (None, img),
            None => (self.padded(xv), geo.img()),
        };
        let xs = xp.as_deref().unwrap_or(xv);
        let per = self.group();
        let chunk = |j: usize, xc: &[f32], gyc: &mut [f32], gxc: Option<&mut [f32]>| {
            if let Some(prep) = prep {
                prep(j * per, gyc);
            }
            let gyc = &*gyc;
            let mut dw = vec![0.0f32; co * k];
            let packed = || {
                pk.as_ref()
                    .expect("packed unless the weight gradient is Winograd's")
            };
            let weight_grad = |dw: &mut [f32]| match &wino_w {
                Some(wf) => wf.weight_grad(xc, gyc, dw),
                None => convgemm::backward(packed(), xc, gyc, None, dw),
            };
            match (gxc, &wino) {
                (None, _) => weight_grad(&mut dw),
                (Some(gxc), Some(wn)) => {
                    weight_grad(&mut dw);
                    wn.add_input_grad(gyc, gxc);
                }
                (Some(gxc), None) if g.pad == 0 => {
                    convgemm::backward(packed(), xc, gyc, Some(gxc), &mut dw)
                }
                (Some(gxc), None) => {
                    // The gradient of the padded input, then its interior.
                    let mut dxp = take(xc.len());
                    dxp.fill(0.0);
                    convgemm::backward(packed(), xc, gyc, Some(&mut dxp), &mut dw);
                    let pw = geo.wp;
                    let planes = gxc
                        .chunks_exact_mut(g.h * g.w)
                        .zip(dxp.chunks_exact(geo.hp * pw));
                    for (d, s) in planes {
                        for (r, row) in d.chunks_exact_mut(g.w).enumerate() {
                            let s = &s[(r + g.pad) * pw + g.pad..];
                            row.iter_mut().zip(s).for_each(|(d, s)| *d += s);
                        }
                    }
                    give(dxp);
                }
            }
            let mut db = vec![0.0f32; co];
            for gyi in gyc.chunks_exact(co * p) {
                for (d, row) in db.iter_mut().zip(gyi.chunks(p)) {
                    *d += lane_sum(row, |v| v);
                }
            }
            (dw, db)
        };
        let partials: Vec<(Vec<f32>, Vec<f32>)> = match gx {
            Some(gx) => gx
                .par_chunks_mut(per * img)
                .zip(xs.par_chunks(per * ximg))
                .zip(gy.par_chunks_mut(per * co * p))
                .enumerate()
                .map(|(j, ((gxc, xc), gyc))| chunk(j, xc, gyc, Some(gxc)))
                .collect(),
            None => xs
                .par_chunks(per * ximg)
                .zip(gy.par_chunks_mut(per * co * p))
                .enumerate()
                .map(|(j, (xc, gyc))| chunk(j, xc, gyc, None))
                .collect(),
        };
        if let Some(xp) = xp {
            give(xp);
        }
        let mut parts = partials.into_iter();
        let (mut dw, mut db) = parts.next().expect("at least one image");
        for (w2, b2) in parts {
            dw.iter_mut().zip(&w2).for_each(|(a, b)| *a += b);
            db.iter_mut().zip(&b2).for_each(|(a, b)| *a += b);
        }
        (dw, db)
    }

    /// Returns (dW, dbias) for output gradient `gy`; adds dx into `gx` when given. `prep`, if
    /// given, first computes the output gradient of each task's images in place: it is called
    /// with the task's first image and its part of `gy` (what precedes the conv in the
    /// backward pass runs in the same task, on data the conv then reads from cache).
    pub(super) fn backward(
        &self,
        xv: &[f32],
        wv: &[f32],
        gy: &mut [f32],
        gx: Option<&mut [f32]>,
        prep: Option<&Prep>,
    ) -> (Vec<f32>, Vec<f32>) {
        if self.fused() {
            return self.backward_fused(xv, wv, gy, gx, prep);
        }
        let Self {
            g,
            n,
            co,
            k,
            p,
            img,
        } = *self;
        let chunks = (2 * super::threads()).clamp(1, n);
        let per = n.div_ceil(chunks);
        let par = inner_par(n.div_ceil(per));
        let packed = use_packed(par);
        let direct = self.direct().then(|| Padded::new(g.h, g.w, g.pad));
        // Wᵀ (k × co) packed once for the AVX-512 kernel.
        let wtp = (packed && gx.is_some()).then(|| pack::pack_a(wv, 1, k, k, co));
        // Per chunk of images: dW and db partial sums (reduced below) and, if wanted, dx.
        let chunk = |j: usize, xc: &[f32], gyc: &mut [f32], mut gxc: Option<&mut [f32]>| {
            if let Some(prep) = prep {
                prep(j * per, gyc);
            }
            let gyc = &*gyc;
            let mut dw = vec![0.0f32; co * k];
            let mut db = vec![0.0f32; co];
            let mut gyp = Vec::new();
            if let Some(pd) = &direct {
                // One input channel: no input gradient is asked of a first layer, but the
                // general path below serves one if it is.
                if gxc.is_none() {
                    with_scratch(pd.len(), pd.wide(), |xp, wide| {
                        for (xi, gyi) in xc.chunks(img).zip(gyc.chunks(co * p)) {
                            pd.fill(xi, g.w, g.pad, xp);
                            direct::weight_grad(pd, xp, gyi, &mut dw, wide);
                            for (d, row) in db.iter_mut().zip(gyi.chunks(p)) {
                                *d += lane_sum(row, |v| v);
                            }
                        }
                    });
                    return (dw, db);
                }
            }
            with_scratch(k * p, k * p, |col, dcol| {
                for (j, (xi, gyi)) in xc.chunks(img).zip(gyc.chunks(co * p)).enumerate() {
                    g.im2col(xi, col);
                    if packed {
                        // dW (co × k) += dY (co × p) · colᵀ
                        pack::pack_a_into(gyi, p, 1, co, p, &mut gyp);
                        pack::gemm(co, k, p, &gyp, col, 1, p, &mut dw, true);
                    } else {
                        mm(
                            &mut dw,
                            Mat::new(gyi, co, p),
                            Mat::new(col, k, p).t(),
                            true,
                            par,
                        );
                    }
                    if let Some(gxc) = gxc.as_deref_mut() {
                        // dcol (k × p) = Wᵀ · dY
                        match &wtp {
                            Some(wtp) => pack::gemm(k, p, co, wtp, gyi, p, 1, dcol, false),
                            None => mm(
                                dcol,
                                Mat::new(wv, co, k).t(),
                                Mat::new(gyi, co, p),
                                false,
                                par,
                            ),
                        }
                        g.col2im_add(dcol, &mut gxc[j * img..(j + 1) * img]);
                    }
                    for (d, row) in db.iter_mut().zip(gyi.chunks(p)) {
                        *d += lane_sum(row, |v| v);
                    }
                }
            });
            (dw, db)
        };
        let partials: Vec<(Vec<f32>, Vec<f32>)> = match gx {
            Some(gx) => gx
                .par_chunks_mut(per * img)
                .zip(xv.par_chunks(per * img))
                .zip(gy.par_chunks_mut(per * co * p))
                .enumerate()
                .map(|(j, ((gxc, xc), gyc))| chunk(j, xc, gyc, Some(gxc)))
                .collect(),
            None => xv
                .par_chunks(per * img)
                .zip(gy.par_chunks_mut(per * co * p))
                .enumerate()
                .map(|(j, (xc, gyc))| chunk(j, xc, gyc, None))
                .collect(),
        };
        let mut parts = partials.into_iter();
        let (mut dw, mut db) = parts.next().expect("at least one image");
        for (w2, b2) in parts {
            dw.iter_mut().zip(&w2).for_each(|(a, b)| *a += b);
            db.iter_mut().zip(&b2).for_each(|(a, b)| *a += b);
        }
        (dw, db)
    }

    /// Whether [`Self::direct_grads`] serves this convolution: [`Self::direct`].
    pub(super) fn direct_grads_ok(&self) -> bool {
        self.direct()
    }

    /// [`direct::grads_by_image`] for this convolution ([`Self::direct_grads_ok`]).
    pub(super) fn direct_grads(
        &self,
        xv: &[f32],
        grad: &(dyn Fn(usize, &mut [f32]) + Sync),
        gram: bool,
    ) -> DirectGrads {
        assert!(self.direct_grads_ok());
        let g = &self.g;
        let pd = Padded::new(g.h, g.w, g.pad);
        direct::grads_by_image(&pd, (g.w, g.pad), self.co, xv, grad, gram)
    }
}

/// `input_grad: false` skips the gradient of `x` (for the network's input).
pub(crate) fn conv3x3<T: Tape<f32, Cpu>>(
    x: T4<Cpu, T>,
    w: &T4<Cpu>,
    bias: Option<&T1<Cpu>>,
    pad: usize,
    input_grad: bool,
) -> Result<T4<Cpu, T>, CpuError> {
    let shape = *x.shape();
    let plan = ConvPlan::new(shape, *w.shape(), bias.map(|b| b.shape().0), pad)?;
    // A no-op for contiguous inputs; makes a (taped) contiguous copy otherwise.
    let x = x.try_reshape_like(&shape)?;
    let (x, tape) = x.split_tape();
    let xv = read(&x);
    let wv = read(w);
    let bv = bias.map(read);
    let out = plan.forward(&xv, &wv, bv.as_deref());
    let out = x.device().try_tensor_from_vec(out, plan.out_shape())?;
    if !T::OWNS_TAPE {
        return Ok(out.put_tape(tape));
    }

    let (x_ghost, w_ghost, out_ghost) = (x.ghost(), w.ghost(), out.ghost());
    let b_ghost = bias.map(|b| b.ghost());
    drop(x);
    let mut tape = tape;
    tape.add_backward_op(move |grads| {
        let mut gy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
        let (dw, db) = if input_grad {
            let gx: &mut [f32] = grads.get_or_alloc_mut(&x_ghost)?;
            plan.backward(&xv, &wv, &mut gy, Some(gx), None)
        } else {
            plan.backward(&xv, &wv, &mut gy, None, None)
        };
        add_grad!(grads, &w_ghost, dw);
        if let Some(b_ghost) = &b_ghost {
            add_grad!(grads, b_ghost, db);
        }
        **grads.get_or_alloc_mut(&out_ghost)? = gy;
        Ok(())
    });
    Ok(out.put_tape(tape))
}
