//! Loss heads: softmax, L2-softmax, ArcFace, CosFace, fixed and dynamic AdaCos.
//!
//! Every head maps a batch of embeddings `(B, D)` to logits `(B, C)`; the loss is the softmax
//! cross-entropy of those logits. Cosine heads L2-normalise both the embeddings and the class
//! weights, so the logits are `s · cos θ` with a margin applied to the target class.

use super::error::ModelError;
use super::ops::legal::{self, Laid};
use dfdx::prelude::*;
use rand::Rng;

use crate::config::{HeadConfig, HeadKind};

pub type T2<D, T = NoneTape> = Tensor<(usize, usize), f32, D, T>;

/// Smallest squared norm used when L2-normalising (keeps zero vectors finite).
const NORM_EPS: f32 = 1e-12;

/// The head's parameters and its (possibly adaptive) scale.
#[derive(Clone, Debug)]
pub struct Head<D: Device<f32>> {
    pub kind: HeadKind,
    /// Class weights, `(C, D)`: one row per training class.
    pub weight: T2<D>,
    /// Class biases `(C,)` for the linear heads (softmax, L2-softmax).
    pub bias: Option<Tensor<(usize,), f32, D>>,
    /// Current logit scale: s for cosine heads, α for L2-softmax, 1 for softmax.
    pub scale: f32,
    pub margin: f32,
    pub easy_margin: bool,
    pub classes: usize,
}

/// The scale fixed AdaCos uses and dynamic AdaCos starts from: s = √2 · ln(C − 1).
pub fn adacos_fixed_scale(classes: usize) -> f32 {
    std::f32::consts::SQRT_2 * ((classes as f32) - 1.0).ln()
}

/// Ranjan et al.'s lower bound on α for L2-softmax with probability `p`:
/// α_low = ln(p (C − 2) / (1 − p)).
pub fn l2_softmax_alpha_bound(classes: usize, p: f32) -> f32 {
    (p * (classes as f32 - 2.0).max(1.0) / (1.0 - p)).ln()
}

/// Whether the config key `key` (`head.s`, `head.m`, …) applies to a head of `kind`: the
/// others are not used by it (fixed AdaCos computes its own s; softmax has no scale).
pub fn key_applies(kind: HeadKind, key: &str) -> bool {
    match key {
        "head.s" | "head.m" => matches!(kind, HeadKind::Arcface | HeadKind::Cosface),
        "head.easy_margin" => kind == HeadKind::Arcface,
        "head.alpha" => kind == HeadKind::L2Softmax,
        _ => true,
    }
}

/// The head's parameters as it uses them, named (`runs show`, a run's first lines, the lab):
/// `s = 30, m = 0.5 rad`, `s = 6.028 (fixed AdaCos: √2·ln(C−1), C = 72)`; empty for
/// softmax. `classes`: the head's class count C, when known.
pub fn describe_params(cfg: &HeadConfig, classes: Option<usize>) -> String {
    match (cfg.kind, classes) {
        (HeadKind::Softmax, _) => String::new(),
        (HeadKind::L2Softmax, _) if cfg.alpha.is_some() => {
            format!("α = {}", cfg.alpha.unwrap_or_default())
        }
        (HeadKind::L2Softmax, Some(c)) => format!(
            "α = {:.3} (max of 16 and Ranjan et al.'s bound ln(0.9·(C−2)/0.1), C = {c})",
            l2_softmax_alpha_bound(c, 0.9).max(16.0)
        ),
        (HeadKind::L2Softmax, None) => {
            "α = max of 16 and Ranjan et al.'s bound for the class count".into()
        }
        (HeadKind::Arcface, _) => format!(
            "s = {}, m = {} rad{}",
            cfg.s,
            cfg.m,
            if cfg.easy_margin { ", easy margin" } else { "" }
        ),
        (HeadKind::Cosface, _) => format!("s = {}, m = {}", cfg.s, cfg.m),
        (HeadKind::AdacosFixed, Some(c)) => format!(
            "s = {:.3} (fixed AdaCos: √2·ln(C−1), C = {c})",
            adacos_fixed_scale(c)
        ),
        (HeadKind::AdacosFixed, None) => "s = √2·ln(C−1) (fixed AdaCos, C classes)".into(),
        (HeadKind::AdacosDynamic, Some(c)) => format!(
            "s from {:.3} (dynamic AdaCos: starts at √2·ln(C−1), C = {c}, adapts every batch)",
            adacos_fixed_scale(c)
        ),
        (HeadKind::AdacosDynamic, None) => {
            "s adapts every batch from √2·ln(C−1) (dynamic AdaCos, C classes)".into()
        }
    }
}

/// Configuration problems a head can only detect once the class count is known.
pub fn check_head(cfg: &HeadConfig, classes: usize) -> Result<(), ModelError> {
    if classes < 2 {
        return Err(ModelError::TooFewClasses { classes });
    }
    if matches!(cfg.kind, HeadKind::AdacosFixed | HeadKind::AdacosDynamic) && classes < 3 {
        return Err(ModelError::AdacosNeedsThree {
            kind: cfg.kind,
            classes,
        });
    }
    Ok(())
}

impl<D: Device<f32>> Head<D> {
    /// Builds a head for `classes` classes over `dim`-dimensional embeddings (Xavier-uniform weights).
    pub fn new(
        dev: &D,
        cfg: &HeadConfig,
        dim: usize,
        classes: usize,
        rng: &mut impl Rng,
    ) -> Result<Self, ModelError> {
        check_head(cfg, classes)?;
        let bound = (6.0 / (dim + classes) as f32).sqrt();
        let w: Vec<f32> = (0..classes * dim)
            .map(|_| rng.gen_range(-bound..bound))
            .collect();
        let weight = dev.tensor_from_vec(w, (classes, dim));
        let linear = matches!(cfg.kind, HeadKind::Softmax | HeadKind::L2Softmax);
        let bias = linear.then(|| dev.zeros_like(&(classes,)));
        let scale = match cfg.kind {
            HeadKind::Softmax => 1.0,
            HeadKind::L2Softmax => cfg
                .alpha
                .unwrap_or_else(|| l2_softmax_alpha_bound(classes, 0.9).max(16.0)),
            HeadKind::Arcface | HeadKind::Cosface => cfg.s,
            HeadKind::AdacosFixed | HeadKind::AdacosDynamic => adacos_fixed_scale(classes),
        };
        Ok(Head {
            kind: cfg.kind,
            weight,
            bias,
            scale,
            margin: cfg.m,
            easy_margin: cfg.easy_margin,
            classes,
        })
    }

    /// Cosine similarities `(B, C)` between L2-normalised embeddings and class weights.
    pub fn cosines<T: Tape<f32, D>>(&self, emb: T2<D, T>) -> T2<D, T> {
        let en = l2_normalize_rows(emb);
        let wn = l2_normalize_rows(self.weight.retaped::<T>());
        let wt = legal::permute2(Laid::fresh(wn)).expect("a permute allocates nothing");
        legal::matmul("cosine head", Laid::fresh(en), wt)
            .expect("cosine head matmul")
            .t
    }

    /// Logits `(B, C)` for the loss. `targets` (one-hot, `(B, C)`) is needed by margin heads.
    /// Returns the logits and the raw cosines (for the AdaCos update and accuracy), if cosine.
    pub fn logits<T: Tape<f32, D>>(
        &self,
        emb: T2<D, T>,
        one_hot: &T2<D>,
    ) -> (T2<D, T>, Option<T2<D>>) {
        let shape = *one_hot.shape();
        match self.kind {
            HeadKind::Softmax | HeadKind::L2Softmax => {
                let x = if self.kind == HeadKind::L2Softmax {
                    l2_normalize_rows(emb) * self.scale
                } else {
                    emb
                };
                let w = legal::permute2(Laid::fresh(self.weight.retaped::<T>()))
                    .expect("a permute allocates nothing");
                let b = self
                    .bias
                    .as_ref()
                    .expect("linear heads have a bias")
                    .retaped::<T>()
                    .broadcast_like::<_, Axis<0>>(&shape);
                let xw =
                    legal::matmul("linear head", Laid::fresh(x), w).expect("linear head matmul");
                (xw.t + b, None)
            }
            HeadKind::AdacosFixed | HeadKind::AdacosDynamic => {
                let cos = self.cosines(emb);
                let plain = cos.retaped::<NoneTape>();
                (cos * self.scale, Some(plain))
            }
            HeadKind::Cosface => {
                let cos = self.cosines(emb);
                let plain = cos.retaped::<NoneTape>();
                // s · (cos θ − m · onehot)
                let logits = (cos - one_hot.clone() * self.margin) * self.scale;
                (logits, Some(plain))
            }
            HeadKind::Arcface => {
                let cos = self.cosines(emb);
                let plain = cos.retaped::<NoneTape>();
                let m = self.margin;
                let (cos_m, sin_m) = (m.cos(), m.sin());
                // cos(θ + m) = cos θ · cos m − sin θ · sin m, sin θ = √(1 − cos²θ).
                let sin = (-cos.retaped::<T>().square() + 1.0).clamp(1e-7, 1.0).sqrt();
                let phi = cos.retaped::<T>() * cos_m - sin * sin_m;
                // Where θ + m > π the curve turns back up; fall back to cos θ − m·sin m
                // (the standard th/mm form), or, with easy margin, apply it only where cos θ > 0.
                let (th, fallback) = if self.easy_margin {
                    (0.0, cos.retaped::<T>())
                } else {
                    let th = (std::f32::consts::PI - m).cos();
                    let mm = (std::f32::consts::PI - m).sin() * m;
                    (th, cos.retaped::<T>() - mm)
                };
                let use_phi = plain.gt(th);
                let phi = use_phi.choose(phi, fallback);
                // target columns take phi, the others cos θ
                let diff = phi - cos.retaped::<T>();
                let logits = (cos + diff * one_hot.clone()) * self.scale;
                (logits, Some(plain))
            }
        }
    }

    /// Mean cross-entropy loss of `logits` against one-hot targets.
    pub fn loss<T: Tape<f32, D>>(logits: T2<D, T>, one_hot: &T2<D>) -> Tensor<(), f32, D, T> {
        cross_entropy_with_logits_loss(logits, one_hot.clone())
    }

    /// Dynamic AdaCos (paper Eq. 14), from the batch's cosines (no gradient):
    /// s ← ln B_avg / cos(min(π/4, θ_med)), with B_avg = mean_i Σ_{k≠y_i} exp(s·cos θ_{i,k}) and
    /// θ_med the median target-class angle. Returns the new scale (not yet applied).
    pub fn adacos_next_scale(&self, cosines: &[f32], labels: &[usize]) -> f32 {
        let c = self.classes;
        let b = labels.len();
        let mut b_sum = 0.0f64;
        let mut thetas = Vec::with_capacity(b);
        for (i, &y) in labels.iter().enumerate() {
            let row = &cosines[i * c..(i + 1) * c];
            for (k, &v) in row.iter().enumerate() {
                if k != y {
                    b_sum += (self.scale as f64 * v as f64).exp();
                }
            }
            thetas.push((row[y].clamp(-1.0, 1.0) as f64).acos());
        }
        let b_avg = b_sum / b as f64;
        thetas.sort_by(|a, b| a.total_cmp(b));
        let med = if b % 2 == 1 {
            thetas[b / 2]
        } else {
            0.5 * (thetas[b / 2 - 1] + thetas[b / 2])
        };
        let denom = med.min(std::f64::consts::FRAC_PI_4).cos();
        (b_avg.ln() / denom) as f32
    }

    /// The L2-normalised weight row of one class (for class-cosine scoring).
    pub fn class_direction(&self, class: usize) -> Vec<f32> {
        let w = self.weight.as_vec();
        let dim = w.len() / self.classes;
        let row = &w[class * dim..(class + 1) * dim];
        let n = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        row.iter().map(|v| v / n).collect()
    }
}

/// Row-wise x / ‖x‖₂ (dfdx's `normalize` is (x − mean)/std, not this).
pub fn l2_normalize_rows<D: Device<f32>, T: Tape<f32, D>>(x: T2<D, T>) -> T2<D, T> {
    let shape = *x.shape();
    let norm = (x.retaped::<T>().square().sum::<(usize,), Axis<1>>() + NORM_EPS).sqrt();
    x / norm.broadcast_like::<_, Axis<1>>(&shape)
}

/// One-hot matrix `(B, C)` for the labels.
pub fn one_hot<D: Device<f32>>(dev: &D, labels: &[usize], classes: usize) -> T2<D> {
    let mut v = vec![0.0f32; labels.len() * classes];
    for (i, &y) in labels.iter().enumerate() {
        v[i * classes + y] = 1.0;
    }
    dev.tensor_from_vec(v, (labels.len(), classes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn head(kind: HeadKind, s: f32, m: f32, w: Vec<f32>, classes: usize) -> Head<Cpu> {
        let dev = Cpu::default();
        let cfg = HeadConfig {
            kind,
            s,
            m,
            alpha: Some(4.0),
            easy_margin: false,
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let mut h = Head::new(&dev, &cfg, w.len() / classes, classes, &mut rng).unwrap();
        h.weight = dev.tensor_from_vec(w, (classes, h.weight.shape().1));
        h
    }

    fn ce(logits: &[f32], y: usize) -> f32 {
        let mx = logits.iter().cloned().fold(f32::MIN, f32::max);
        let lse = logits.iter().map(|l| (l - mx).exp()).sum::<f32>().ln() + mx;
        lse - logits[y]
    }

    /// Tiny batch: embeddings in 2-D, 3 classes with weights along known angles.
    fn setup() -> (Cpu, Vec<f32>, Vec<f32>, Vec<usize>) {
        let dev = Cpu::default();
        // class weights (not unit length on purpose): 0°, 90°, 180°
        let w = vec![2.0, 0.0, 0.0, 3.0, -1.0, 0.0];
        // embeddings: 30° (label 0) and 120° (label 1), different norms
        let e = vec![
            2.0 * 30f32.to_radians().cos(),
            2.0 * 30f32.to_radians().sin(),
            0.5 * 120f32.to_radians().cos(),
            0.5 * 120f32.to_radians().sin(),
        ];
        (dev, w, e, vec![0, 1])
    }

    fn cos_deg(d: f32) -> f32 {
        d.to_radians().cos()
    }

    fn run(kind: HeadKind, s: f32, m: f32) -> (Vec<f32>, f32, Vec<f32>) {
        let (dev, w, e, y) = setup();
        let h = head(kind, s, m, w, 3);
        let emb = dev.tensor_from_vec(e, (2, 2));
        let oh = one_hot(&dev, &y, 3);
        let (logits, _) = h.logits(emb.trace(Gradients::leaky()), &oh);
        let lv = logits.retaped::<NoneTape>().as_vec();
        let loss = Head::<Cpu>::loss(logits, &oh);
        let lossv = loss.array();
        let _ = loss.backward();
        (lv, lossv, vec![])
    }

    fn close(a: f32, b: f32) {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }

    #[test]
    fn cosface_logits_and_loss_by_hand() {
        let (l, loss, _) = run(HeadKind::Cosface, 10.0, 0.2);
        // sample 0 at 30°: cos to classes 0°, 90°, 180°; target 0 gets −m
        let r0 = [
            10.0 * (cos_deg(30.0) - 0.2),
            10.0 * cos_deg(60.0),
            10.0 * cos_deg(150.0),
        ];
        let r1 = [
            10.0 * cos_deg(120.0),
            10.0 * (cos_deg(30.0) - 0.2),
            10.0 * cos_deg(60.0),
        ];
        for (a, b) in l.iter().zip(r0.iter().chain(r1.iter())) {
            close(*a, *b);
        }
        close(loss, 0.5 * (ce(&r0, 0) + ce(&r1, 1)));
    }

    #[test]
    fn arcface_logits_by_hand() {
        let m = 0.5f32;
        let (l, loss, _) = run(HeadKind::Arcface, 8.0, m);
        let t = 30f32.to_radians();
        let r0 = [
            8.0 * (t + m).cos(),
            8.0 * cos_deg(60.0),
            8.0 * cos_deg(150.0),
        ];
        let r1 = [
            8.0 * cos_deg(120.0),
            8.0 * (t + m).cos(),
            8.0 * cos_deg(60.0),
        ];
        for (a, b) in l.iter().zip(r0.iter().chain(r1.iter())) {
            close(*a, *b);
        }
        close(loss, 0.5 * (ce(&r0, 0) + ce(&r1, 1)));
    }

    #[test]
    fn arcface_falls_back_past_pi() {
        // target at 170° with m = 0.5: θ + m > π, so the target logit is s·(cos θ − sin(π−m)·m)
        let dev = Cpu::default();
        let m = 0.5f32;
        let h = head(
            HeadKind::Arcface,
            1.0,
            m,
            vec![1.0, 0.0, 0.0, 1.0, -1.0, -1.0],
            3,
        );
        let a = 170f32.to_radians();
        let emb = dev.tensor_from_vec(vec![a.cos(), a.sin()], (1, 2));
        let oh = one_hot(&dev, &[0], 3);
        let (l, _) = h.logits(emb, &oh);
        let expected = a.cos() - (std::f32::consts::PI - m).sin() * m;
        close(l.as_vec()[0], expected);
    }

    #[test]
    fn adacos_fixed_and_softmax_by_hand() {
        let s = adacos_fixed_scale(3);
        close(s, std::f32::consts::SQRT_2 * 2f32.ln());
        let (l, loss, _) = run(HeadKind::AdacosFixed, 99.0, 0.0);
        let r0 = [s * cos_deg(30.0), s * cos_deg(60.0), s * cos_deg(150.0)];
        close(l[0], r0[0]);
        close(l[2], r0[2]);
        let r1 = [s * cos_deg(120.0), s * cos_deg(30.0), s * cos_deg(60.0)];
        close(loss, 0.5 * (ce(&r0, 0) + ce(&r1, 1)));

        // plain softmax: logits = e · Wᵀ + 0
        let (l, _, _) = run(HeadKind::Softmax, 1.0, 0.0);
        let (_, w, e, _) = setup();
        close(l[0], e[0] * w[0] + e[1] * w[1]);
        close(l[4], e[2] * w[2] + e[3] * w[3]);
        // L2-softmax: α·e/‖e‖ · Wᵀ, α = 4 in these tests
        let (l, _, _) = run(HeadKind::L2Softmax, 1.0, 0.0);
        close(
            l[1],
            4.0 * (cos_deg(30.0) * 0.0 + 30f32.to_radians().sin() * 3.0),
        );
    }

    #[test]
    fn gradients_match_finite_differences() {
        for kind in HeadKind::ALL {
            let (dev, w, e, y) = setup();
            let h = head(kind, 5.0, 0.3, w, 3);
            let oh = one_hot(&dev, &y, 3);
            let loss_at = |e: &[f32]| {
                let emb = dev.tensor_from_vec(e.to_vec(), (2, 2));
                let (l, _) = h.logits(emb, &oh);
                Head::<Cpu>::loss(l, &oh).array()
            };
            let emb = dev.tensor_from_vec(e.clone(), (2, 2));
            let grads = Gradients::leaky();
            let traced = emb.clone().trace(grads);
            let (l, _) = h.logits(traced, &oh);
            let g = Head::<Cpu>::loss(l, &oh).backward();
            let ge = g.get(&emb).as_vec();
            for i in 0..4 {
                let eps = 1e-3;
                let mut p = e.clone();
                p[i] += eps;
                let mut q = e.clone();
                q[i] -= eps;
                let fd = (loss_at(&p) - loss_at(&q)) / (2.0 * eps);
                assert!(
                    (fd - ge[i]).abs() < 2e-3 * (1.0 + fd.abs()),
                    "{kind}: d/de[{i}] analytic {} vs numeric {fd}",
                    ge[i]
                );
            }
        }
    }

    #[test]
    fn adacos_dynamic_update_worked_example() {
        // C = 3, s₀ = √2·ln 2 ≈ 0.98026. Batch of 2:
        //   sample 0 label 0, cosines [0.8, 0.1, -0.2]; sample 1 label 2, cosines [0.0, 0.3, 0.6]
        //   B_avg = ½ (e^{s₀·0.1} + e^{−s₀·0.2} + e^{0} + e^{s₀·0.3})
        //   θ = [acos 0.8, acos 0.6] = [0.6435, 0.9273] → median 0.7854 (= π/4 exactly? no: 0.78540)
        let (_, w, _, _) = setup();
        let h = head(HeadKind::AdacosDynamic, 1.0, 0.0, w, 3);
        let s0 = adacos_fixed_scale(3);
        close(h.scale, s0);
        let cos = [0.8, 0.1, -0.2, 0.0, 0.3, 0.6];
        let b_avg = 0.5 * ((s0 * 0.1).exp() + (-s0 * 0.2).exp() + 1.0 + (s0 * 0.3).exp()) as f64;
        let med = 0.5 * (0.8f64.acos() + 0.6f64.acos());
        let expected = b_avg.ln() / med.min(std::f64::consts::FRAC_PI_4).cos();
        let got = h.adacos_next_scale(&cos, &[0, 2]);
        assert!((got as f64 - expected).abs() < 1e-5, "{got} vs {expected}");
        // by hand: b_avg = ½(1.10303 + 0.82164 + 1 + 1.34198) = 2.13333, ln = 0.75769;
        // median angle 0.78540 → min(π/4, ·) = 0.78540, cos = 0.70711 → s = 1.07155
        assert!((got - 1.0715).abs() < 1e-3, "{got}");
    }

    #[test]
    fn adacos_needs_three_classes() {
        let cfg = HeadConfig {
            kind: HeadKind::AdacosFixed,
            ..HeadConfig::default()
        };
        let e = check_head(&cfg, 2).unwrap_err();
        assert!(e.to_string().contains("at least 3 classes"), "{e}");
        assert!(check_head(&cfg, 3).is_ok());
    }

    #[test]
    fn parameters_are_named_as_the_head_uses_them() {
        let mut cfg = HeadConfig::default();
        assert_eq!(cfg.kind, HeadKind::AdacosFixed);
        // Fixed AdaCos computes s from the class count; head.s and head.m do not apply.
        assert_eq!(
            describe_params(&cfg, Some(72)),
            "s = 6.028 (fixed AdaCos: √2·ln(C−1), C = 72)"
        );
        assert!(!key_applies(cfg.kind, "head.s") && !key_applies(cfg.kind, "head.m"));
        assert!(key_applies(cfg.kind, "head.kind"));
        cfg.kind = HeadKind::Arcface;
        assert_eq!(describe_params(&cfg, Some(72)), "s = 30, m = 0.5 rad");
        assert!(key_applies(cfg.kind, "head.s") && key_applies(cfg.kind, "head.easy_margin"));
        cfg.kind = HeadKind::Softmax;
        assert_eq!(describe_params(&cfg, Some(2)), "");
        cfg.kind = HeadKind::L2Softmax;
        assert!(describe_params(&cfg, Some(72)).starts_with("α = 16.000 (max of 16"));
        assert!(key_applies(cfg.kind, "head.alpha") && !key_applies(cfg.kind, "head.s"));
    }
}
