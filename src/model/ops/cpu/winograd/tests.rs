//! [`super::Wino`] against sums in `f64`.

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
        let wv = random(co * ci * 9, &mut rng, 0.0);
        let gy = random(n * co * oh * ow, &mut rng, 0.0);
        // dx(i, r, c) = Σ_o Σ_ky,kx gy(o, r + pad − ky, c + pad − kx) · W(o, i, ky, kx), added
        // to what is there.
        let mut want: Vec<f64> = (0..n * ci * h * w).map(|j| j as f64 * 0.125).collect();
        taps(n, ci, co, (h, w), pad, |xi, wi, yi| {
            want[xi] += gy[yi] as f64 * wv[wi] as f64
        });
        // On the forward's tiles (every case), and as a convolution of the output gradient
        // (where its rows fit): both add to what is there.
        let mut kinds = vec![("tiles", Wino::transposed_of(ci, co, (h, w), pad, &wv))];
        if Wino::applies(co, ci, ow, 2 - pad) {
            kinds.push(("conv", Wino::input_grad_of(ci, co, (h, w), pad, &wv)));
        }
        for (kind, wn) in kinds {
            let mut dx: Vec<f32> = (0..want.len()).map(|j| j as f32 * 0.125).collect();
            wn.add_input_grad(&gy, &mut dx);
            close(
                &dx,
                &want,
                1e-5,
                &format!("input gradient ({kind}) {n}×{ci}→{co} {h}×{w} pad {pad}"),
            );
        }
    }
}
