//! Op tests: naive loop references, finite differences, generic dfdx path vs fast CPU path.

use super::*;
use rand::{rngs::StdRng, Rng, SeedableRng};

type G = Gradients<f32, Cpu>;

fn rand_vec(rng: &mut StdRng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

fn t4(dev: &Cpu, v: &[f32], s: Shape4) -> T4<Cpu> {
    dev.tensor_from_vec(v.to_vec(), s)
}

fn t1(dev: &Cpu, v: &[f32]) -> T1<Cpu> {
    dev.tensor_from_vec(v.to_vec(), (v.len(),))
}

#[track_caller]
fn assert_close(got: &[f32], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1e-3f64, |m, v| m.max(v.abs()));
    let err = got
        .iter()
        .zip(want)
        .fold(0.0f64, |m, (g, w)| m.max((*g as f64 - w).abs()));
    assert!(
        err / scale < tol,
        "{what}: max abs error {err:e} vs scale {scale:e} (relative {:e} ≥ {tol:e})",
        err / scale
    );
}

fn to64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

// ---------- naive references (f64) ----------

struct ConvRef {
    out: Vec<f64>,
    gx: Vec<f64>,
    gw: Vec<f64>,
    gb: Vec<f64>,
}

/// Forward and gradients of Σ conv(x, w, b) ⊙ r, by nested loops.
fn conv_ref(
    x: &[f32],
    xs: Shape4,
    w: &[f32],
    o: usize,
    b: &[f32],
    pad: usize,
    r: &[f32],
) -> ConvRef {
    let (n, ci, h, wd) = xs;
    let (oh, ow) = (h + 2 * pad - 2, wd + 2 * pad - 2);
    let xi = |bb: usize, i: usize, y: usize, xx: usize| ((bb * ci + i) * h + y) * wd + xx;
    let wi = |oo: usize, i: usize, ky: usize, kx: usize| ((oo * ci + i) * 3 + ky) * 3 + kx;
    let mut out = vec![0.0f64; n * o * oh * ow];
    let mut gx = vec![0.0f64; x.len()];
    let mut gw = vec![0.0f64; w.len()];
    let mut gb = vec![0.0f64; o];
    for bb in 0..n {
        for oo in 0..o {
            for y in 0..oh {
                for xx in 0..ow {
                    let oi = ((bb * o + oo) * oh + y) * ow + xx;
                    let mut s = b[oo] as f64;
                    let go = r[oi] as f64;
                    gb[oo] += go;
                    for i in 0..ci {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let iy = y as isize + ky as isize - pad as isize;
                                let ix = xx as isize + kx as isize - pad as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                let (iy, ix) = (iy as usize, ix as usize);
                                s += w[wi(oo, i, ky, kx)] as f64 * x[xi(bb, i, iy, ix)] as f64;
                                gw[wi(oo, i, ky, kx)] += go * x[xi(bb, i, iy, ix)] as f64;
                                gx[xi(bb, i, iy, ix)] += go * w[wi(oo, i, ky, kx)] as f64;
                            }
                        }
                    }
                    out[oi] = s;
                }
            }
        }
    }
    ConvRef { out, gx, gw, gb }
}

struct BnRef {
    out: Vec<f64>,
    gx: Vec<f64>,
    gg: Vec<f64>,
    gb: Vec<f64>,
    mean: Vec<f64>,
    var_unbiased: Vec<f64>,
}

/// Forward and gradients of Σ relu(bn(x)) ⊙ r; `stats` = Some((mean, var)) for Eval mode.
fn bn_ref(
    x: &[f32],
    xs: Shape4,
    g: &[f32],
    be: &[f32],
    stats: Option<(&[f32], &[f32])>,
    r: &[f32],
) -> BnRef {
    let (n, c, h, w) = xs;
    let hw = h * w;
    let m = (n * hw) as f64;
    let idx = |b: usize, ch: usize, i: usize| (b * c + ch) * hw + i;
    let mut res = BnRef {
        out: vec![0.0; x.len()],
        gx: vec![0.0; x.len()],
        gg: vec![0.0; c],
        gb: vec![0.0; c],
        mean: vec![0.0; c],
        var_unbiased: vec![0.0; c],
    };
    for ch in 0..c {
        let mut mean = 0.0;
        for b in 0..n {
            for i in 0..hw {
                mean += x[idx(b, ch, i)] as f64;
            }
        }
        mean /= m;
        let mut var = 0.0;
        for b in 0..n {
            for i in 0..hw {
                var += (x[idx(b, ch, i)] as f64 - mean).powi(2);
            }
        }
        res.mean[ch] = mean;
        res.var_unbiased[ch] = var / (m - 1.0);
        var /= m;
        let (mu, v) = match stats {
            Some((rm, rv)) => (rm[ch] as f64, rv[ch] as f64),
            None => (mean, var),
        };
        let inv = 1.0 / (v + BN_EPS as f64).sqrt();
        let (gam, bet) = (g[ch] as f64, be[ch] as f64);
        let mut dz = vec![0.0; n * hw];
        let mut xh = vec![0.0; n * hw];
        for b in 0..n {
            for i in 0..hw {
                let k = idx(b, ch, i);
                xh[b * hw + i] = (x[k] as f64 - mu) * inv;
                let z = gam * xh[b * hw + i] + bet;
                res.out[k] = z.max(0.0);
                dz[b * hw + i] = if z > 0.0 { r[k] as f64 } else { 0.0 };
            }
        }
        let sdz: f64 = dz.iter().sum();
        let sdzx: f64 = dz.iter().zip(&xh).map(|(a, b)| a * b).sum();
        res.gb[ch] = sdz;
        res.gg[ch] = sdzx;
        for b in 0..n {
            for i in 0..hw {
                let j = b * hw + i;
                res.gx[idx(b, ch, i)] = if stats.is_some() {
                    gam * inv * dz[j]
                } else {
                    gam * inv / m * (m * dz[j] - sdz - xh[j] * sdzx)
                };
            }
        }
    }
    res
}

/// Forward and input gradient of Σ maxpool2(x) ⊙ r.
fn pool_ref(x: &[f32], xs: Shape4, r: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let (n, c, h, w) = xs;
    let (oh, ow) = (h / 2, w / 2);
    let mut out = vec![0.0; n * c * oh * ow];
    let mut gx = vec![0.0; x.len()];
    for p in 0..n * c {
        for y in 0..oh {
            for xx in 0..ow {
                let mut best = (2 * y) * w + 2 * xx;
                for (dy, dx) in [(0, 1), (1, 0), (1, 1)] {
                    let k = (2 * y + dy) * w + 2 * xx + dx;
                    if x[p * h * w + k] > x[p * h * w + best] {
                        best = k;
                    }
                }
                let oi = (p * oh + y) * ow + xx;
                out[oi] = x[p * h * w + best] as f64;
                gx[p * h * w + best] += r[oi] as f64;
            }
        }
    }
    (out, gx)
}

// ---------- running the ops ----------

/// Output and gradients (x, params...) of Σ op(x) ⊙ r with an OwnedTape.
#[allow(clippy::too_many_arguments)]
fn conv_run(
    generic_path: bool,
    x: &[f32],
    xs: Shape4,
    w: &[f32],
    ws: Shape4,
    b: Option<&[f32]>,
    pad: usize,
    r: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>, Option<Vec<f32>>) {
    let dev = Cpu::default();
    let (xt, wt) = (t4(&dev, x, xs), t4(&dev, w, ws));
    let bt = b.map(|b| t1(&dev, b));
    let y = if generic_path {
        generic::conv3x3(xt.trace(G::leaky()), &wt, bt.as_ref(), pad).unwrap()
    } else {
        Cpu::conv3x3(xt.trace(G::leaky()), &wt, bt.as_ref(), pad).unwrap()
    };
    let out = y.retaped::<NoneTape>().as_vec();
    let rt = dev.tensor_from_vec(r.to_vec(), *y.shape());
    let g = (y * rt).sum::<(), _>().backward();
    (
        out,
        g.get(&xt).as_vec(),
        g.get(&wt).as_vec(),
        bt.map(|b| g.get(&b).as_vec()),
    )
}

type BnOut = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>);

/// (out, gx, ggamma, gbeta, running_mean', running_var').
#[allow(clippy::too_many_arguments)]
fn bn_run(
    generic_path: bool,
    x: &[f32],
    xs: Shape4,
    g: &[f32],
    be: &[f32],
    rm: &[f32],
    rv: &[f32],
    mode: BnMode,
    r: &[f32],
) -> BnOut {
    let dev = Cpu::default();
    let xt = t4(&dev, x, xs);
    let (gt, bt) = (t1(&dev, g), t1(&dev, be));
    let (mut rmt, mut rvt) = (t1(&dev, rm), t1(&dev, rv));
    let y = if generic_path {
        generic::batchnorm_relu(xt.trace(G::leaky()), &gt, &bt, &mut rmt, &mut rvt, mode)
    } else {
        Cpu::batchnorm_relu(xt.trace(G::leaky()), &gt, &bt, &mut rmt, &mut rvt, mode)
    }
    .unwrap();
    let out = y.retaped::<NoneTape>().as_vec();
    let rt = dev.tensor_from_vec(r.to_vec(), *y.shape());
    let grads = (y * rt).sum::<(), _>().backward();
    (
        out,
        grads.get(&xt).as_vec(),
        grads.get(&gt).as_vec(),
        grads.get(&bt).as_vec(),
        rmt.as_vec(),
        rvt.as_vec(),
    )
}

fn pool_run(generic_path: bool, x: &[f32], xs: Shape4, r: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let dev = Cpu::default();
    let xt = t4(&dev, x, xs);
    let y = if generic_path {
        generic::maxpool2(xt.trace(G::leaky())).unwrap()
    } else {
        Cpu::maxpool2(xt.trace(G::leaky())).unwrap()
    };
    let out = y.retaped::<NoneTape>().as_vec();
    let rt = dev.tensor_from_vec(r.to_vec(), *y.shape());
    let grads = (y * rt).sum::<(), _>().backward();
    (out, grads.get(&xt).as_vec())
}

const CONV_CASES: [(Shape4, usize, usize); 7] = [
    ((1, 3, 6, 5), 4, 1), // batch 1: GEMM parallelised inside the image
    ((2, 1, 5, 7), 3, 0),
    ((2, 1, 5, 7), 3, 1),
    ((3, 4, 6, 5), 2, 0),
    ((2, 3, 7, 9), 5, 1),
    ((2, 2, 3, 3), 4, 0),
    ((2, 2, 1, 2), 3, 1),
];

#[test]
fn conv_matches_naive_reference() {
    let mut rng = StdRng::seed_from_u64(1);
    for generic_path in [false, true] {
        for (xs, o, pad) in CONV_CASES {
            for with_bias in [false, true] {
                let ws = (o, xs.1, 3, 3);
                let x = rand_vec(&mut rng, xs.0 * xs.1 * xs.2 * xs.3);
                let w = rand_vec(&mut rng, o * xs.1 * 9);
                let b = rand_vec(&mut rng, o);
                let bias = with_bias.then_some(&b[..]);
                let zero = vec![0.0; o];
                let (oh, ow) = (xs.2 + 2 * pad - 2, xs.3 + 2 * pad - 2);
                let r = rand_vec(&mut rng, xs.0 * o * oh * ow);
                let want = conv_ref(&x, xs, &w, o, bias.unwrap_or(&zero), pad, &r);
                let (out, gx, gw, gb) = conv_run(generic_path, &x, xs, &w, ws, bias, pad, &r);
                let what =
                    format!("conv generic={generic_path} {xs:?} o={o} pad={pad} bias={with_bias}");
                assert_close(&out, &want.out, 1e-5, &format!("{what} out"));
                assert_close(&gx, &want.gx, 1e-5, &format!("{what} gx"));
                assert_close(&gw, &want.gw, 1e-5, &format!("{what} gw"));
                if let Some(gb) = gb {
                    assert_close(&gb, &want.gb, 1e-5, &format!("{what} gb"));
                }
            }
        }
    }
}

const BN_CASES: [Shape4; 4] = [(2, 1, 3, 3), (3, 4, 5, 7), (2, 3, 1, 1), (4, 5, 6, 5)];

fn bn_params(rng: &mut StdRng, c: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let g: Vec<f32> = (0..c).map(|_| rng.gen_range(0.5f32..1.5)).collect();
    let b = rand_vec(rng, c);
    let rm = rand_vec(rng, c);
    let rv: Vec<f32> = (0..c).map(|_| rng.gen_range(0.5f32..2.0)).collect();
    (g, b, rm, rv)
}

#[test]
fn batchnorm_relu_matches_naive_reference() {
    let mut rng = StdRng::seed_from_u64(2);
    let momentum = 0.1;
    for generic_path in [false, true] {
        for xs in BN_CASES {
            let c = xs.1;
            let x: Vec<f32> = rand_vec(&mut rng, xs.0 * c * xs.2 * xs.3)
                .iter()
                .map(|v| 3.0 * v + 0.5)
                .collect();
            let (g, b, rm, rv) = bn_params(&mut rng, c);
            let r = rand_vec(&mut rng, x.len());
            let what = format!("bn generic={generic_path} {xs:?}");

            let want = bn_ref(&x, xs, &g, &b, None, &r);
            let mode = BnMode::Train { momentum };
            let (out, gx, gg, gb, rm2, rv2) =
                bn_run(generic_path, &x, xs, &g, &b, &rm, &rv, mode, &r);
            assert_close(&out, &want.out, 1e-5, &format!("{what} train out"));
            assert_close(&gx, &want.gx, 1e-4, &format!("{what} train gx"));
            assert_close(&gg, &want.gg, 1e-5, &format!("{what} train ggamma"));
            assert_close(&gb, &want.gb, 1e-5, &format!("{what} train gbeta"));
            let want_rm: Vec<f64> = (0..c)
                .map(|i| 0.9 * rm[i] as f64 + 0.1 * want.mean[i])
                .collect();
            let want_rv: Vec<f64> = (0..c)
                .map(|i| 0.9 * rv[i] as f64 + 0.1 * want.var_unbiased[i])
                .collect();
            assert_close(&rm2, &want_rm, 1e-5, &format!("{what} running mean"));
            assert_close(&rv2, &want_rv, 1e-5, &format!("{what} running var"));

            let want = bn_ref(&x, xs, &g, &b, Some((&rm, &rv)), &r);
            let (out, gx, gg, gb, rm2, rv2) =
                bn_run(generic_path, &x, xs, &g, &b, &rm, &rv, BnMode::Eval, &r);
            assert_close(&out, &want.out, 1e-5, &format!("{what} eval out"));
            assert_close(&gx, &want.gx, 1e-5, &format!("{what} eval gx"));
            assert_close(&gg, &want.gg, 1e-5, &format!("{what} eval ggamma"));
            assert_close(&gb, &want.gb, 1e-5, &format!("{what} eval gbeta"));
            assert_eq!(
                (rm2, rv2),
                (rm.clone(), rv.clone()),
                "{what}: eval changed running stats"
            );
        }
    }
}

#[test]
fn maxpool_matches_naive_reference() {
    let mut rng = StdRng::seed_from_u64(3);
    for generic_path in [false, true] {
        for xs in [(2, 1, 4, 4), (2, 3, 5, 7), (3, 2, 2, 3), (2, 4, 9, 6)] {
            let x = rand_vec(&mut rng, xs.0 * xs.1 * xs.2 * xs.3);
            let r = rand_vec(&mut rng, xs.0 * xs.1 * (xs.2 / 2) * (xs.3 / 2));
            let (want_out, want_gx) = pool_ref(&x, xs, &r);
            let (out, gx) = pool_run(generic_path, &x, xs, &r);
            let what = format!("pool generic={generic_path} {xs:?}");
            assert_close(&out, &want_out, 1e-6, &format!("{what} out"));
            assert_close(&gx, &want_gx, 1e-6, &format!("{what} gx"));
        }
    }
}

#[test]
fn maxpool_ties_go_to_the_first_maximum() {
    let x = vec![0.0f32; 2 * 4 * 4];
    let r = vec![1.0f32; 2 * 2 * 2];
    let (_, gx) = pool_run(false, &x, (2, 1, 4, 4), &r);
    let (_, want) = pool_ref(&x, (2, 1, 4, 4), &r);
    assert_close(&gx, &want, 1e-7, "ties");
}

#[test]
fn generic_path_matches_fast_path_on_a_block() {
    // conv → bn_relu → pool → conv(pad 1, bias) → bn_relu → pool, gradients for everything.
    let mut rng = StdRng::seed_from_u64(4);
    let xs = (3, 2, 11, 10);
    let x = rand_vec(&mut rng, xs.0 * xs.1 * xs.2 * xs.3);
    let w1 = rand_vec(&mut rng, 4 * 2 * 9);
    let w2 = rand_vec(&mut rng, 5 * 4 * 9);
    let b2 = rand_vec(&mut rng, 5);
    let (g1, be1, rm1, rv1) = bn_params(&mut rng, 4);
    let (g2, be2, rm2, rv2) = bn_params(&mut rng, 5);
    let run = |generic_path: bool| {
        let dev = Cpu::default();
        let xt = t4(&dev, &x, xs);
        let (w1t, w2t, b2t) = (
            t4(&dev, &w1, (4, 2, 3, 3)),
            t4(&dev, &w2, (5, 4, 3, 3)),
            t1(&dev, &b2),
        );
        let (g1t, be1t, g2t, be2t) = (t1(&dev, &g1), t1(&dev, &be1), t1(&dev, &g2), t1(&dev, &be2));
        let (mut rm1t, mut rv1t, mut rm2t, mut rv2t) = (
            t1(&dev, &rm1),
            t1(&dev, &rv1),
            t1(&dev, &rm2),
            t1(&dev, &rv2),
        );
        let mode = BnMode::Train { momentum: 0.1 };
        let y = xt.trace(G::leaky());
        let y = if generic_path {
            let y = generic::conv3x3(y, &w1t, None, 0).unwrap();
            let y = generic::batchnorm_relu(y, &g1t, &be1t, &mut rm1t, &mut rv1t, mode).unwrap();
            let y = generic::maxpool2(y).unwrap();
            let y = generic::conv3x3(y, &w2t, Some(&b2t), 1).unwrap();
            let y = generic::batchnorm_relu(y, &g2t, &be2t, &mut rm2t, &mut rv2t, mode).unwrap();
            generic::maxpool2(y).unwrap()
        } else {
            let y = Cpu::conv3x3(y, &w1t, None, 0).unwrap();
            let y = Cpu::batchnorm_relu(y, &g1t, &be1t, &mut rm1t, &mut rv1t, mode).unwrap();
            let y = Cpu::maxpool2(y).unwrap();
            let y = Cpu::conv3x3(y, &w2t, Some(&b2t), 1).unwrap();
            let y = Cpu::batchnorm_relu(y, &g2t, &be2t, &mut rm2t, &mut rv2t, mode).unwrap();
            Cpu::maxpool2(y).unwrap()
        };
        let out = y.retaped::<NoneTape>().as_vec();
        let mut r = StdRng::seed_from_u64(5);
        let rt = dev.tensor_from_vec(rand_vec(&mut r, out.len()), *y.shape());
        let grads = (y * rt).sum::<(), _>().backward();
        let mut all = vec![out];
        all.extend([&xt, &w1t, &w2t].map(|t| grads.get(t).as_vec()));
        all.extend([&b2t, &g1t, &be1t, &g2t, &be2t].map(|t| grads.get(t).as_vec()));
        all.extend([rm1t, rv1t, rm2t, rv2t].map(|t| t.as_vec()));
        all
    };
    let (fast, slow) = (run(false), run(true));
    let names = [
        "out", "gx", "gw1", "gw2", "gb2", "ggamma1", "gbeta1", "ggamma2", "gbeta2", "rm1", "rv1",
        "rm2", "rv2",
    ];
    for ((f, s), name) in fast.iter().zip(&slow).zip(names) {
        if name == "gb2" {
            // A bias right before BatchNorm has a zero gradient: both paths give rounding noise.
            assert!(
                f.iter().chain(s).all(|v| v.abs() < 1e-5),
                "gb2: {f:?} vs {s:?}"
            );
        } else {
            assert_close(f, &to64(s), 1e-4, name);
        }
    }
}

/// Central differences of L(θ) = Σ f(θ) ⊙ r, accumulated in f64, vs the analytic gradient.
#[track_caller]
fn check_fd(what: &str, params: &[f32], analytic: &[f32], loss: impl Fn(&[f32]) -> f64) {
    let eps = 1e-2f32;
    let mut p = params.to_vec();
    let mut num = Vec::with_capacity(p.len());
    for i in 0..p.len() {
        let v = p[i];
        p[i] = v + eps;
        let lp = loss(&p);
        p[i] = v - eps;
        let lm = loss(&p);
        p[i] = v;
        num.push((lp - lm) / (2.0 * eps as f64));
    }
    assert_close(analytic, &num, 5e-3, &format!("finite differences: {what}"));
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(a, b)| *a as f64 * *b as f64).sum()
}

#[test]
fn gradients_match_finite_differences() {
    let mut rng = StdRng::seed_from_u64(6);
    let dev = Cpu::default();
    // conv, pad 0 and 1, with bias.
    for pad in [0, 1] {
        let (xs, ws) = ((2, 2, 4, 5), (3, 2, 3, 3));
        let x = rand_vec(&mut rng, 2 * 2 * 4 * 5);
        let w = rand_vec(&mut rng, 3 * 2 * 9);
        let b = rand_vec(&mut rng, 3);
        let r = rand_vec(&mut rng, 2 * 3 * (2 + 2 * pad) * (3 + 2 * pad));
        let f = |x: &[f32], w: &[f32], b: &[f32]| {
            let y =
                Cpu::conv3x3(t4(&dev, x, xs), &t4(&dev, w, ws), Some(&t1(&dev, b)), pad).unwrap();
            dot(&y.as_vec(), &r)
        };
        let (_, gx, gw, gb) = conv_run(false, &x, xs, &w, ws, Some(&b), pad, &r);
        check_fd("conv x", &x, &gx, |v| f(v, &w, &b));
        check_fd("conv w", &w, &gw, |v| f(&x, v, &b));
        check_fd("conv bias", &b, &gb.unwrap(), |v| f(&x, &w, v));
    }
    // bn_relu in both modes.
    let xs = (3, 2, 2, 3);
    let x: Vec<f32> = rand_vec(&mut rng, 36).iter().map(|v| 2.0 * v).collect();
    let (g, b, rm, rv) = bn_params(&mut rng, 2);
    let r = rand_vec(&mut rng, 36);
    for mode in [BnMode::Train { momentum: 0.1 }, BnMode::Eval] {
        let f = |x: &[f32], g: &[f32], b: &[f32]| {
            let (mut rmt, mut rvt) = (t1(&dev, &rm), t1(&dev, &rv));
            let y = Cpu::batchnorm_relu(
                t4(&dev, x, xs),
                &t1(&dev, g),
                &t1(&dev, b),
                &mut rmt,
                &mut rvt,
                mode,
            )
            .unwrap();
            dot(&y.as_vec(), &r)
        };
        let (_, gx, gg, gb, _, _) = bn_run(false, &x, xs, &g, &b, &rm, &rv, mode, &r);
        check_fd(&format!("bn x {mode:?}"), &x, &gx, |v| f(v, &g, &b));
        check_fd(&format!("bn gamma {mode:?}"), &g, &gg, |v| f(&x, v, &b));
        check_fd(&format!("bn beta {mode:?}"), &b, &gb, |v| f(&x, &g, v));
    }
    // maxpool (well-separated values so ±eps never changes the argmax).
    let xs = (2, 2, 5, 4);
    let mut x: Vec<f32> = (0..80).map(|i| i as f32 * 0.1).collect();
    for i in (1..x.len()).rev() {
        x.swap(i, rng.gen_range(0..=i));
    }
    let r = rand_vec(&mut rng, 2 * 2 * 2 * 2);
    let (_, gx) = pool_run(false, &x, xs, &r);
    check_fd("pool x", &x, &gx, |v| {
        dot(&Cpu::maxpool2(t4(&dev, v, xs)).unwrap().as_vec(), &r)
    });
}

#[test]
fn none_tape_matches_owned_tape_and_weights_accumulate() {
    let mut rng = StdRng::seed_from_u64(7);
    let dev = Cpu::default();
    let xs = (2, 3, 6, 6);
    let x = t4(&dev, &rand_vec(&mut rng, 2 * 3 * 36), xs);
    let w = t4(&dev, &rand_vec(&mut rng, 3 * 3 * 9), (3, 3, 3, 3));
    let plain = Cpu::conv3x3(Cpu::conv3x3(x.clone(), &w, None, 1).unwrap(), &w, None, 1).unwrap();
    // The same weight used twice: gradients must add up (checked against the generic path).
    let taped = |generic_path: bool| {
        let y = x.trace(G::leaky());
        let y = if generic_path {
            generic::conv3x3(generic::conv3x3(y, &w, None, 1).unwrap(), &w, None, 1).unwrap()
        } else {
            Cpu::conv3x3(Cpu::conv3x3(y, &w, None, 1).unwrap(), &w, None, 1).unwrap()
        };
        let out = y.retaped::<NoneTape>().as_vec();
        let grads = y.sum::<(), _>().backward();
        (out, grads.get(&x).as_vec(), grads.get(&w).as_vec())
    };
    let (out, gx, gw) = taped(false);
    let (out2, gx2, gw2) = taped(true);
    assert_close(&plain.as_vec(), &to64(&out), 1e-6, "NoneTape vs OwnedTape");
    assert_close(&out, &to64(&out2), 1e-5, "fast vs generic");
    assert_close(&gx, &to64(&gx2), 1e-4, "gx, shared weight");
    assert_close(&gw, &to64(&gw2), 1e-4, "gw, shared weight");
}

#[test]
fn invalid_arguments_are_errors() {
    let dev = Cpu::default();
    let x: T4<Cpu> = dev.zeros_like(&(1, 1, 1, 1));
    let w: T4<Cpu> = dev.zeros_like(&(1, 1, 3, 3));
    assert!(Cpu::conv3x3(x.clone(), &w, None, 0).is_err());
    assert!(Cpu::conv3x3(x.clone(), &w, None, 2).is_err());
    assert!(Cpu::maxpool2(x.clone()).is_err());
    assert!(generic::conv3x3(x.clone(), &w, None, 0).is_err());
    assert_eq!(
        check_conv3x3((1, 1, 5, 5), (1, 1, 3, 3), None, 2),
        Err(OpsArgError::Padding(2))
    );
    let c: T1<Cpu> = dev.ones_like(&(1,));
    let (mut rm, mut rv) = (c.clone(), c.clone());
    let mode = BnMode::Train { momentum: 0.1 };
    assert!(Cpu::batchnorm_relu(x, &c, &c, &mut rm, &mut rv, mode).is_err());
}

#[test]
#[should_panic(expected = "input channels")]
fn channel_mismatch_panics() {
    let dev = Cpu::default();
    let x: T4<Cpu> = dev.zeros_like(&(1, 2, 5, 5));
    let w: T4<Cpu> = dev.zeros_like(&(1, 3, 3, 3));
    let _ = Cpu::conv3x3(x, &w, None, 0);
}

#[test]
fn fused_batchnorm_relu_maxpool_matches_composition() {
    let mut rng = StdRng::seed_from_u64(8);
    // (2, 3, 6, 37): 18 windows per row, a full 16-lane step and a masked tail.
    for xs in [(2, 3, 5, 7), (3, 2, 4, 4), (2, 4, 9, 6), (2, 3, 6, 37)] {
        let c = xs.1;
        let x: Vec<f32> = rand_vec(&mut rng, xs.0 * c * xs.2 * xs.3);
        let (mut g, b, rm, rv) = bn_params(&mut rng, c);
        g[0] = -g[0]; // a negative scale flips which input is the window's maximum
        let r = rand_vec(&mut rng, xs.0 * c * (xs.2 / 2) * (xs.3 / 2));
        for mode in [BnMode::Train { momentum: 0.1 }, BnMode::Eval] {
            let run = |fused: bool, generic_path: bool| {
                let dev = Cpu::default();
                let xt = t4(&dev, &x, xs);
                let (gt, bt) = (t1(&dev, &g), t1(&dev, &b));
                let (mut rmt, mut rvt) = (t1(&dev, &rm), t1(&dev, &rv));
                let xtr = xt.trace(G::leaky());
                let y = match (fused, generic_path) {
                    (true, _) => {
                        Cpu::batchnorm_relu_maxpool2(xtr, &gt, &bt, &mut rmt, &mut rvt, mode)
                    }
                    (false, false) => Cpu::maxpool2(
                        Cpu::batchnorm_relu(xtr, &gt, &bt, &mut rmt, &mut rvt, mode).unwrap(),
                    ),
                    (false, true) => generic::maxpool2(
                        generic::batchnorm_relu(xtr, &gt, &bt, &mut rmt, &mut rvt, mode).unwrap(),
                    ),
                }
                .unwrap();
                let out = y.retaped::<NoneTape>().as_vec();
                let rt = dev.tensor_from_vec(r.clone(), *y.shape());
                let grads = (y * rt).sum::<(), _>().backward();
                [
                    out,
                    grads.get(&xt).as_vec(),
                    grads.get(&gt).as_vec(),
                    grads.get(&bt).as_vec(),
                    rmt.as_vec(),
                    rvt.as_vec(),
                ]
            };
            let fused = run(true, false);
            for generic_path in [false, true] {
                let plain = run(false, generic_path);
                let names = [
                    "out",
                    "gx",
                    "ggamma",
                    "gbeta",
                    "running mean",
                    "running var",
                ];
                for ((f, p), name) in fused.iter().zip(&plain).zip(names) {
                    let what = format!("fused vs generic={generic_path} {xs:?} {mode:?} {name}");
                    assert_close(f, &to64(p), 1e-5, &what);
                }
            }
        }
    }
}

#[test]
fn conv3x3_input_matches_conv3x3_without_input_gradient() {
    let mut rng = StdRng::seed_from_u64(9);
    let dev = Cpu::default();
    let (xs, ws) = ((3, 2, 7, 6), (4, 2, 3, 3));
    let x = t4(&dev, &rand_vec(&mut rng, 3 * 2 * 42), xs);
    let w = t4(&dev, &rand_vec(&mut rng, 4 * 2 * 9), ws);
    let b = t1(&dev, &rand_vec(&mut rng, 4));
    for pad in [0, 1] {
        let run = |input: bool| {
            let xt = x.trace(G::leaky());
            let y = if input {
                Cpu::conv3x3_input(xt, &w, Some(&b), pad)
            } else {
                Cpu::conv3x3(xt, &w, Some(&b), pad)
            }
            .unwrap();
            let out = y.retaped::<NoneTape>().as_vec();
            let grads = y.square().sum::<(), _>().backward();
            [out, grads.get(&w).as_vec(), grads.get(&b).as_vec()]
        };
        for (a, e) in run(true).iter().zip(&run(false)) {
            assert_close(a, &to64(e), 1e-6, "conv3x3_input");
        }
    }
}

#[test]
fn conv_block_matches_composition() {
    let mut rng = StdRng::seed_from_u64(10);
    for (xs, o, pad, with_bias) in [
        ((2, 3, 7, 8), 4, 0, false),
        ((3, 2, 6, 5), 5, 1, true),
        ((2, 1, 9, 9), 3, 1, false),
    ] {
        let x = rand_vec(&mut rng, xs.0 * xs.1 * xs.2 * xs.3);
        let w = rand_vec(&mut rng, o * xs.1 * 9);
        let b = rand_vec(&mut rng, o);
        let (mut g, be, rm, rv) = bn_params(&mut rng, o);
        g[1] = -g[1];
        for mode in [BnMode::Train { momentum: 0.1 }, BnMode::Eval] {
            for input_grad in [true, false] {
                // 0: fused block, 1: fast ops composed, 2: generic ops composed.
                let run = |variant: usize| {
                    let dev = Cpu::default();
                    let xt = t4(&dev, &x, xs);
                    let wt = t4(&dev, &w, (o, xs.1, 3, 3));
                    let bt = with_bias.then(|| t1(&dev, &b));
                    let (gt, bet) = (t1(&dev, &g), t1(&dev, &be));
                    let (mut rmt, mut rvt) = (t1(&dev, &rm), t1(&dev, &rv));
                    let xtr = xt.trace(G::leaky());
                    let (rmm, rvm) = (&mut rmt, &mut rvt);
                    let y = match variant {
                        0 => Cpu::conv_block(
                            xtr,
                            &wt,
                            bt.as_ref(),
                            pad,
                            &gt,
                            &bet,
                            rmm,
                            rvm,
                            mode,
                            input_grad,
                        ),
                        1 => {
                            let y = Cpu::conv3x3(xtr, &wt, bt.as_ref(), pad).unwrap();
                            Cpu::batchnorm_relu_maxpool2(y, &gt, &bet, rmm, rvm, mode)
                        }
                        _ => {
                            let y = generic::conv3x3(xtr, &wt, bt.as_ref(), pad).unwrap();
                            let y = generic::batchnorm_relu(y, &gt, &bet, rmm, rvm, mode).unwrap();
                            generic::maxpool2(y)
                        }
                    }
                    .unwrap();
                    let out = y.retaped::<NoneTape>().as_vec();
                    let mut r = StdRng::seed_from_u64(12);
                    let rt = dev.tensor_from_vec(rand_vec(&mut r, out.len()), *y.shape());
                    let grads = (y * rt).sum::<(), _>().backward();
                    let mut all = vec![
                        out,
                        grads.get(&wt).as_vec(),
                        grads.get(&gt).as_vec(),
                        grads.get(&bet).as_vec(),
                        rmt.as_vec(),
                        rvt.as_vec(),
                    ];
                    if input_grad || variant > 0 {
                        all.push(grads.get(&xt).as_vec());
                    }
                    if let Some(bt) = &bt {
                        all.push(grads.get(bt).as_vec());
                    }
                    all
                };
                let fused = run(0);
                for variant in [1, 2] {
                    let other = run(variant);
                    let names = ["out", "gw", "ggamma", "gbeta", "rm", "rv"];
                    for (i, name) in names.iter().enumerate() {
                        let what = format!("{xs:?} pad {pad} {mode:?} variant {variant} {name}");
                        assert_close(&fused[i], &to64(&other[i]), 1e-4, &what);
                    }
                    if input_grad {
                        let what = format!("{xs:?} pad {pad} {mode:?} variant {variant} gx");
                        assert_close(&fused[6], &to64(&other[6]), 1e-4, &what);
                    }
                    if with_bias && mode == BnMode::Eval {
                        // (In Train mode a bias before BN has a zero gradient.)
                        let (f, o) = (fused.last().unwrap(), other.last().unwrap());
                        assert_close(f, &to64(o), 1e-4, "gbias");
                    }
                }
            }
        }
    }
}

/// One-channel inputs take the direct kernel (forward, and the weight gradient without an
/// input gradient): against the naive reference, with and without padding and bias, at the
/// first layer's real size too.
#[test]
fn one_channel_direct_conv_matches_naive_reference() {
    let mut rng = StdRng::seed_from_u64(21);
    let dev = Cpu::default();
    for (xs, o, pad) in [
        ((3, 1, 28, 28), 32, 0),
        ((2, 1, 28, 28), 8, 1),
        ((2, 1, 5, 7), 3, 0),
        ((1, 1, 3, 3), 2, 0),
        ((2, 1, 1, 2), 3, 1),
    ] {
        for with_bias in [false, true] {
            let x = rand_vec(&mut rng, xs.0 * xs.2 * xs.3);
            let w = rand_vec(&mut rng, o * 9);
            let b = rand_vec(&mut rng, o);
            let zero = vec![0.0; o];
            let bias = with_bias.then_some(&b[..]);
            let (oh, ow) = (xs.2 + 2 * pad - 2, xs.3 + 2 * pad - 2);
            let r = rand_vec(&mut rng, xs.0 * o * oh * ow);
            let want = conv_ref(&x, xs, &w, o, bias.unwrap_or(&zero), pad, &r);
            let (xt, wt) = (t4(&dev, &x, xs), t4(&dev, &w, (o, 1, 3, 3)));
            let bt = bias.map(|b| t1(&dev, b));
            let y = Cpu::conv3x3_input(xt.trace(G::leaky()), &wt, bt.as_ref(), pad).unwrap();
            let out = y.retaped::<NoneTape>().as_vec();
            let rt = dev.tensor_from_vec(r.clone(), *y.shape());
            let g = (y * rt).sum::<(), _>().backward();
            let what = format!("direct {xs:?} o={o} pad={pad} bias={with_bias}");
            assert_close(&out, &want.out, 1e-5, &format!("{what} out"));
            assert_close(&g.get(&wt).as_vec(), &want.gw, 1e-4, &format!("{what} gw"));
            if let Some(bt) = &bt {
                assert_close(&g.get(bt).as_vec(), &want.gb, 1e-4, &format!("{what} gb"));
            }
        }
    }
}

/// Inference (no tape, Eval mode) runs each image through the whole conv block on its own:
/// the same outputs as dfdx's reference ops composed (generic path), running statistics left
/// alone; one- and several-channel inputs, padding 0 and 1, with and without bias.
#[test]
fn conv_block_inference_matches_generic_composition() {
    let mut rng = StdRng::seed_from_u64(22);
    let dev = Cpu::default();
    for (xs, o, pad, with_bias) in [
        ((5, 1, 28, 28), 32, 0, false),
        ((3, 1, 9, 9), 4, 1, true),
        ((4, 32, 13, 13), 64, 0, false),
        ((2, 3, 7, 8), 5, 1, true),
    ] {
        let x = rand_vec(&mut rng, xs.0 * xs.1 * xs.2 * xs.3);
        let w = rand_vec(&mut rng, o * xs.1 * 9);
        let b = rand_vec(&mut rng, o);
        let (mut g, be, rm, rv) = bn_params(&mut rng, o);
        g[0] = -g[0];
        let run = |generic_path: bool| {
            let xt = t4(&dev, &x, xs);
            let wt = t4(&dev, &w, (o, xs.1, 3, 3));
            let bt = with_bias.then(|| t1(&dev, &b));
            let (gt, bet) = (t1(&dev, &g), t1(&dev, &be));
            let (mut rmt, mut rvt) = (t1(&dev, &rm), t1(&dev, &rv));
            let y = if generic_path {
                let y = generic::conv3x3(xt, &wt, bt.as_ref(), pad).unwrap();
                let y = generic::batchnorm_relu(y, &gt, &bet, &mut rmt, &mut rvt, BnMode::Eval);
                generic::maxpool2(y.unwrap()).unwrap()
            } else {
                let (rmm, rvm) = (&mut rmt, &mut rvt);
                let (bb, m) = (bt.as_ref(), BnMode::Eval);
                Cpu::conv_block(xt, &wt, bb, pad, &gt, &bet, rmm, rvm, m, true).unwrap()
            };
            (y.as_vec(), rmt.as_vec(), rvt.as_vec())
        };
        let (fast, rm1, rv1) = run(false);
        let (slow, _, _) = run(true);
        let what = format!("inference block {xs:?} o={o} pad={pad} bias={with_bias}");
        assert_close(&fast, &to64(&slow), 1e-4, &what);
        assert_eq!(
            (rm1, rv1),
            (rm.clone(), rv.clone()),
            "{what}: running stats"
        );
    }
}

/// The im2col-free GEMM path at the default recipe's second-conv size (a batch whose 48-wide
/// tiles straddle images, several tasks) and at shapes with rows wider than a vector, odd
/// channel counts and padding: forward, input, weight and bias gradients against the naive
/// reference.
#[test]
fn fused_gemm_conv_matches_naive_reference_at_real_sizes() {
    let mut rng = StdRng::seed_from_u64(23);
    for (xs, o, pad, with_bias) in [
        ((6, 32, 13, 13), 64, 0, false),
        ((3, 32, 13, 13), 64, 1, true),
        ((2, 5, 9, 20), 10, 1, true),
        ((5, 3, 4, 19), 9, 0, false),
        ((1, 16, 3, 3), 17, 0, true),
    ] {
        let ws = (o, xs.1, 3, 3);
        let x = rand_vec(&mut rng, xs.0 * xs.1 * xs.2 * xs.3);
        let w = rand_vec(&mut rng, o * xs.1 * 9);
        let b = rand_vec(&mut rng, o);
        let zero = vec![0.0; o];
        let bias = with_bias.then_some(&b[..]);
        let (oh, ow) = (xs.2 + 2 * pad - 2, xs.3 + 2 * pad - 2);
        let r = rand_vec(&mut rng, xs.0 * o * oh * ow);
        let want = conv_ref(&x, xs, &w, o, bias.unwrap_or(&zero), pad, &r);
        let (out, gx, gw, gb) = conv_run(false, &x, xs, &w, ws, bias, pad, &r);
        let what = format!("fused conv {xs:?} o={o} pad={pad} bias={with_bias}");
        assert_close(&out, &want.out, 1e-5, &format!("{what} out"));
        assert_close(&gx, &want.gx, 1e-5, &format!("{what} gx"));
        assert_close(&gw, &want.gw, 1e-5, &format!("{what} gw"));
        if let Some(gb) = gb {
            assert_close(&gb, &want.gb, 1e-5, &format!("{what} gb"));
        }
    }
}

/// The CPU linear layer against dfdx's matmul + broadcast bias (the trait's default, what
/// CUDA runs): output and the gradients of x, w and b, at the embedding layer's real size and
/// at shapes with partial tiles.
#[test]
fn linear_matches_dfdx_matmul() {
    let mut rng = StdRng::seed_from_u64(24);
    let dev = Cpu::default();
    for (n, f, d) in [
        (32, 1600, 128),
        (5, 7, 3),
        (9, 50, 49),
        (1, 3, 100),
        (17, 33, 16),
    ] {
        let x = rand_vec(&mut rng, n * f);
        let w = rand_vec(&mut rng, f * d);
        let b = rand_vec(&mut rng, d);
        let r = rand_vec(&mut rng, n * d);
        let run = |fast: bool| {
            let xt: T2<Cpu> = dev.tensor_from_vec(x.clone(), (n, f));
            let wt: T2<Cpu> = dev.tensor_from_vec(w.clone(), (f, d));
            let bt = t1(&dev, &b);
            let xtr = xt.trace(G::leaky());
            let y = if fast {
                Cpu::linear(xtr, &wt, &bt).unwrap()
            } else {
                let bias = bt
                    .retaped::<OwnedTape<f32, Cpu>>()
                    .broadcast_like::<_, Axis<0>>(&(n, d));
                xtr.matmul(wt.retaped::<OwnedTape<f32, Cpu>>()) + bias
            };
            let out = y.retaped::<NoneTape>().as_vec();
            let rt = dev.tensor_from_vec(r.clone(), (n, d));
            let g = (y * rt).sum::<(), _>().backward();
            [
                out,
                g.get(&xt).as_vec(),
                g.get(&wt).as_vec(),
                g.get(&bt).as_vec(),
            ]
        };
        let (fast, slow) = (run(true), run(false));
        for (name, (a, e)) in ["out", "gx", "gw", "gb"].iter().zip(fast.iter().zip(&slow)) {
            assert_close(a, &to64(e), 1e-5, &format!("linear {n}x{f}x{d} {name}"));
        }
    }
}

/// One BatchNorm op in Train mode on `x` (with gradients of Σ y ⊙ r): y, dx, dgamma, dbeta,
/// running mean and variance after.
type BnRun = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>);

fn bn_op_run(op: usize, x: &[f32], xs: Shape4, w: &[f32], r_seed: u64) -> BnRun {
    let dev = Cpu::default();
    let c = if op == 2 { w.len() / (xs.1 * 9) } else { xs.1 };
    let mut rng = StdRng::seed_from_u64(7);
    let (g, b, rm, rv) = bn_params(&mut rng, c);
    let xt = t4(&dev, x, xs);
    let (gt, bt) = (t1(&dev, &g), t1(&dev, &b));
    let (mut rmt, mut rvt) = (t1(&dev, &rm), t1(&dev, &rv));
    let wt = (op == 2).then(|| t4(&dev, w, (c, xs.1, 3, 3)));
    let mode = BnMode::Train { momentum: 0.1 };
    let xin = xt.trace(G::leaky());
    let y = match op {
        0 => Cpu::batchnorm_relu(xin, &gt, &bt, &mut rmt, &mut rvt, mode),
        1 => Cpu::batchnorm_relu_maxpool2(xin, &gt, &bt, &mut rmt, &mut rvt, mode),
        _ => {
            let wt = wt.as_ref().expect("a conv weight");
            Cpu::conv_block(xin, wt, None, 0, &gt, &bt, &mut rmt, &mut rvt, mode, true)
        }
    }
    .unwrap();
    let out = y.retaped::<NoneTape>().as_vec();
    // The same upstream gradient per image, whichever part of the batch it is in.
    let per_image = out.len() / xs.0;
    let r: Vec<f32> = (0..xs.0)
        .flat_map(|i| rand_vec(&mut StdRng::seed_from_u64(r_seed + i as u64), per_image))
        .collect();
    let rt = dev.tensor_from_vec(r, *y.shape());
    let grads = (y * rt).sum::<(), _>().backward();
    (
        out,
        grads.get(&xt).as_vec(),
        grads.get(&gt).as_vec(),
        grads.get(&bt).as_vec(),
        rmt.as_vec(),
        rvt.as_vec(),
    )
}

/// A pool of two threads, for a team of two ranks.
fn two_threads() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
}

#[test]
fn batchnorm_ops_on_the_ranks_of_a_team_see_the_whole_batch() {
    let mut rng = StdRng::seed_from_u64(11);
    let pool = two_threads();
    // BN → ReLU, BN → ReLU → pool, conv → BN → ReLU → pool; 5 images split 2 + 3.
    for (op, xs) in [(0, (5, 3, 6, 7)), (1, (5, 3, 6, 7)), (2, (5, 4, 9, 8))] {
        let x: Vec<f32> = rand_vec(&mut rng, xs.0 * xs.1 * xs.2 * xs.3)
            .iter()
            .map(|v| 2.0 * v + 0.3)
            .collect();
        let w = rand_vec(&mut rng, 6 * xs.1 * 9);
        let whole = pool.install(|| bn_op_run(op, &x, xs, &w, 100));
        let img = xs.1 * xs.2 * xs.3;
        let parts = pool.install(|| {
            let team = Team::of_current_pool().expect("two threads");
            team.run(2, |r| {
                let (a, b) = if r == 0 { (0, 2) } else { (2, 5) };
                let s = (b - a, xs.1, xs.2, xs.3);
                bn_op_run(op, &x[a * img..b * img], s, &w, 100 + a as u64)
            })
        });
        let what = format!("op {op}");
        let cat = |f: fn(&BnRun) -> &Vec<f32>| -> Vec<f32> {
            parts.iter().flat_map(|p| f(p).iter().copied()).collect()
        };
        let sum = |f: fn(&BnRun) -> &Vec<f32>| -> Vec<f32> {
            let (a, b) = (f(&parts[0]), f(&parts[1]));
            a.iter().zip(b).map(|(a, b)| a + b).collect()
        };
        assert_close(
            &cat(|p| &p.0),
            &to64(&whole.0),
            1e-5,
            &format!("{what} out"),
        );
        assert_close(&cat(|p| &p.1), &to64(&whole.1), 1e-4, &format!("{what} gx"));
        assert_close(
            &sum(|p| &p.2),
            &to64(&whole.2),
            1e-5,
            &format!("{what} ggamma"),
        );
        assert_close(
            &sum(|p| &p.3),
            &to64(&whole.3),
            1e-5,
            &format!("{what} gbeta"),
        );
        for p in &parts {
            assert_close(&p.4, &to64(&whole.4), 1e-5, &format!("{what} running mean"));
            assert_close(&p.5, &to64(&whole.5), 1e-5, &format!("{what} running var"));
        }
    }
}

/// A first layer (one input channel, no input gradient) takes its weight and bias gradients
/// in closed form, without its conv output: against dfdx's reference ops composed (generic
/// path), at the real size too, with inputs far from zero mean (the closed form subtracts
/// large sums), with padding and bias, in both modes, on the whole batch and summed over the
/// two ranks of a team (2 + 3 images).
#[test]
fn first_layer_gradients_without_the_conv_output_match_the_reference() {
    let mut rng = StdRng::seed_from_u64(41);
    let pool = two_threads();
    for (xs, o, pad, with_bias, offset) in [
        ((5, 1, 28, 28), 32, 0, false, 0.0f32),
        ((5, 1, 28, 28), 8, 1, true, 3.0),
        ((5, 1, 7, 6), 3, 0, true, -20.0),
    ] {
        let x: Vec<f32> = rand_vec(&mut rng, xs.0 * xs.2 * xs.3)
            .iter()
            .map(|v| v + offset)
            .collect();
        let w = rand_vec(&mut rng, o * 9);
        let bias = rand_vec(&mut rng, o);
        let (g, be, rm, rv) = bn_params(&mut rng, o);
        for mode in [BnMode::Train { momentum: 0.1 }, BnMode::Eval] {
            // (gw, ggamma, gbeta, gbias) of images a..b, the upstream gradient per image.
            let run = |fast: bool, a: usize, b: usize| {
                let dev = Cpu::default();
                let img = xs.2 * xs.3;
                let s = (b - a, 1, xs.2, xs.3);
                let xt = t4(&dev, &x[a * img..b * img], s);
                let wt = t4(&dev, &w, (o, 1, 3, 3));
                let bt = with_bias.then(|| t1(&dev, &bias));
                let (gt, bet) = (t1(&dev, &g), t1(&dev, &be));
                let (mut rmt, mut rvt) = (t1(&dev, &rm), t1(&dev, &rv));
                let (rmm, rvm) = (&mut rmt, &mut rvt);
                let xtr = xt.trace(G::leaky());
                let y = if fast {
                    let bb = bt.as_ref();
                    Cpu::conv_block(xtr, &wt, bb, pad, &gt, &bet, rmm, rvm, mode, false)
                } else {
                    let y = generic::conv3x3(xtr, &wt, bt.as_ref(), pad).unwrap();
                    let y = generic::batchnorm_relu(y, &gt, &bet, rmm, rvm, mode).unwrap();
                    generic::maxpool2(y)
                }
                .unwrap();
                let per_image = y.shape().num_elements() / (b - a);
                let r: Vec<f32> = (a..b)
                    .flat_map(|i| rand_vec(&mut StdRng::seed_from_u64(90 + i as u64), per_image))
                    .collect();
                let rt = dev.tensor_from_vec(r, *y.shape());
                let grads = (y * rt).sum::<(), _>().backward();
                let mut all = vec![
                    grads.get(&wt).as_vec(),
                    grads.get(&gt).as_vec(),
                    grads.get(&bet).as_vec(),
                ];
                if let Some(bt) = &bt {
                    all.push(grads.get(bt).as_vec());
                }
                all
            };
            let n = xs.0;
            let want = run(false, 0, n);
            let whole = run(true, 0, n);
            let parts = pool.install(|| {
                let team = Team::of_current_pool().expect("two threads");
                team.run(2, |r| {
                    if r == 0 {
                        run(true, 0, 2)
                    } else {
                        run(true, 2, n)
                    }
                })
            });
            let split: Vec<Vec<f32>> = (0..whole.len())
                .map(|i| {
                    parts[0][i]
                        .iter()
                        .zip(&parts[1][i])
                        .map(|(a, b)| a + b)
                        .collect()
                })
                .collect();
            for (got, how) in [(&whole, "whole batch"), (&split, "two ranks")] {
                for (i, name) in ["gw", "ggamma", "gbeta", "gbias"].iter().enumerate() {
                    if i == 3 && !(with_bias && mode == BnMode::Eval) {
                        // In Train mode a bias before BN has a zero gradient: only its size
                        // against the weight gradient's is checked.
                        if i < got.len() {
                            let scale = want[0].iter().fold(1e-3f32, |m, v| m.max(v.abs()));
                            let worst = got[3].iter().fold(0.0f32, |m, v| m.max(v.abs()));
                            assert!(worst / scale < 1e-4, "{xs:?} {how} gbias {worst:e}");
                        }
                        continue;
                    }
                    let what = format!("{xs:?} pad {pad} {mode:?} {how} {name}");
                    assert_close(&got[i], &to64(&want[i]), 1e-4, &what);
                }
            }
        }
    }
}
