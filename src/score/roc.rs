//! ROC AUC, ROC curve and average precision with scikit-learn's semantics.
//!
//! Labels: `true` = anomalous = the positive class; higher scores rank as more anomalous.
//! Samples with equal scores share one threshold, so ties are handled exactly as
//! `sklearn.metrics` does (a tie between a positive and a negative counts ½ in the AUC).
//! All three are O(n log n) (one sort).
//!
//! Degenerate inputs never panic: the AUC is `f64::NAN` when either class is missing or the
//! lengths differ, the ROC curve is then empty, and the average precision is `f64::NAN` when
//! there is no positive (with no negative it is 1, as in scikit-learn). Scores are ordered by
//! `f32::total_cmp`, so a NaN score ranks above +∞ (all NaNs share one threshold).

/// Points of a ROC curve (false positive rate, true positive rate), from (0,0) to (1,1).
pub type RocCurve = Vec<(f64, f64)>;

/// Samples sharing one distinct score.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Threshold {
    positives: u64,
    negatives: u64,
}

/// Counts per distinct score, highest score first, plus the totals (positives, negatives).
/// `None` when the lengths differ.
fn thresholds(scores: &[f32], labels: &[bool]) -> Option<(Vec<Threshold>, u64, u64)> {
    if scores.len() != labels.len() {
        return None;
    }
    let mut order: Vec<(f32, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    order.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    let same = |a: f32, b: f32| a == b || (a.is_nan() && b.is_nan());
    let mut groups: Vec<Threshold> = Vec::new();
    let mut last = f32::NAN;
    let (mut pos, mut neg) = (0u64, 0u64);
    for (i, &(score, label)) in order.iter().enumerate() {
        if i == 0 || !same(score, last) {
            groups.push(Threshold {
                positives: 0,
                negatives: 0,
            });
            last = score;
        }
        let g = groups.last_mut().expect("a group was pushed above");
        if label {
            g.positives += 1;
            pos += 1;
        } else {
            g.negatives += 1;
            neg += 1;
        }
    }
    Some((groups, pos, neg))
}

/// Area under the ROC curve: the probability that a random anomalous sample scores higher than
/// a random normal one, ties counting ½ (the Mann–Whitney U statistic over P·N; equal to
/// `sklearn.metrics.roc_auc_score`). Computed exactly in integers. `NaN` when a class is missing.
pub fn roc_auc(scores: &[f32], labels: &[bool]) -> f64 {
    let Some((groups, pos, neg)) = thresholds(scores, labels) else {
        return f64::NAN;
    };
    if pos == 0 || neg == 0 {
        return f64::NAN;
    }
    // Twice the U statistic: each negative beats-by-rank the positives above it (2 each) and
    // ties with the positives at its own threshold (1 each).
    let mut twice_u: u128 = 0;
    let mut positives_above: u64 = 0;
    for g in &groups {
        twice_u += g.negatives as u128 * (2 * positives_above as u128 + g.positives as u128);
        positives_above += g.positives;
    }
    twice_u as f64 / (2.0 * pos as f64 * neg as f64)
}

/// ROC curve points (false positive rate, true positive rate) from (0, 0) to (1, 1): one point
/// per distinct score, highest threshold first (`sklearn.metrics.roc_curve` with
/// `drop_intermediate=False`). Empty when a class is missing.
pub fn roc_curve(scores: &[f32], labels: &[bool]) -> RocCurve {
    let Some((groups, pos, neg)) = thresholds(scores, labels) else {
        return Vec::new();
    };
    if pos == 0 || neg == 0 {
        return Vec::new();
    }
    let mut curve = Vec::with_capacity(groups.len() + 1);
    curve.push((0.0, 0.0));
    let (mut tp, mut fp) = (0u64, 0u64);
    for g in &groups {
        tp += g.positives;
        fp += g.negatives;
        curve.push((fp as f64 / neg as f64, tp as f64 / pos as f64));
    }
    curve
}

/// Average precision Σₙ (Rₙ − Rₙ₋₁)·Pₙ over the distinct thresholds, highest first
/// (`sklearn.metrics.average_precision_score`, no interpolation). `NaN` without positives.
pub fn average_precision(scores: &[f32], labels: &[bool]) -> f64 {
    let Some((groups, pos, _)) = thresholds(scores, labels) else {
        return f64::NAN;
    };
    if pos == 0 {
        return f64::NAN;
    }
    let (mut tp, mut predicted) = (0u64, 0u64);
    let mut ap = 0.0;
    for g in &groups {
        tp += g.positives;
        predicted += g.positives + g.negatives;
        if g.positives > 0 {
            ap += (g.positives as f64 / pos as f64) * (tp as f64 / predicted as f64);
        }
    }
    ap
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: bool = false;
    const T: bool = true;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    fn curve_close(a: &[(f64, f64)], b: &[(f64, f64)]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| close(x.0, y.0) && close(x.1, y.1))
    }

    #[test]
    fn distinct_scores() {
        // Ranked: 0.8 T, 0.4 F, 0.35 T, 0.1 F. Pairs (pos, neg) won: 0.8 beats both, 0.35 beats
        // 0.1 → 3 of 4 → AUC 0.75. AP: R jumps ½ at 0.8 (P = 1) and ½ at 0.35 (P = 2/3)
        // → ½ + ⅓ = 0.8333… (the scikit-learn docs example).
        let s = [0.1, 0.4, 0.35, 0.8];
        let l = [F, F, T, T];
        assert!(close(roc_auc(&s, &l), 0.75));
        assert!(close(average_precision(&s, &l), 5.0 / 6.0));
        let expected = [(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)];
        assert!(curve_close(&roc_curve(&s, &l), &expected));
    }

    #[test]
    fn ties_within_thresholds() {
        // Two thresholds, each with one positive and one negative: every comparison is either a
        // tie (½) or one win and one loss → AUC ½. AP: at 2, P = ½, R = ½; at 1, P = ½, R = 1.
        let s = [1.0, 1.0, 2.0, 2.0];
        let l = [F, T, F, T];
        assert!(close(roc_auc(&s, &l), 0.5));
        assert!(close(average_precision(&s, &l), 0.5));
        let expected = [(0.0, 0.0), (0.5, 0.5), (1.0, 1.0)];
        assert!(curve_close(&roc_curve(&s, &l), &expected));
    }

    #[test]
    fn tie_across_classes_counts_half() {
        // Positives 0.5 and 0.9, negatives 0.2 and 0.5: 0.9 beats both (2), 0.5 beats 0.2 (1)
        // and ties 0.5 (½) → 3.5 / 4 = 0.875. AP: ½·1 + ½·⅔ = 0.8333….
        let s = [0.2, 0.5, 0.5, 0.9];
        let l = [F, F, T, T];
        assert!(close(roc_auc(&s, &l), 0.875));
        assert!(close(average_precision(&s, &l), 5.0 / 6.0));
        let expected = [(0.0, 0.0), (0.0, 0.5), (0.5, 1.0), (1.0, 1.0)];
        assert!(curve_close(&roc_curve(&s, &l), &expected));
        // The trapezoid area under the curve equals the AUC.
        let c = roc_curve(&s, &l);
        let area: f64 = c
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
            .sum();
        assert!(close(area, 0.875));
    }

    #[test]
    fn matches_sklearn_on_a_tied_random_case() {
        // Integer scores 0..6 and labels from an LCG; expected values from scikit-learn 1.9.1:
        // roc_auc_score(l, s), average_precision_score(l, s).
        let (s, l) = lcg_case();
        assert!((roc_auc(&s, &l) - SKLEARN_AUC).abs() < 1e-12);
        assert!((average_precision(&s, &l) - SKLEARN_AP).abs() < 1e-12);
        let c = roc_curve(&s, &l);
        // roc_curve(l, s, drop_intermediate=False): fpr·22 and tpr·18 are these integers.
        let fp = [0.0, 1.0, 2.0, 3.0, 11.0, 16.0, 19.0, 22.0];
        let tp = [0.0, 7.0, 14.0, 15.0, 18.0, 18.0, 18.0, 18.0];
        let expected: Vec<(f64, f64)> = fp
            .iter()
            .zip(tp)
            .map(|(f, t)| (f / 22.0, t / 18.0))
            .collect();
        assert!(curve_close(&c, &expected));
    }

    const SKLEARN_AUC: f64 = 0.9053030303030303;
    const SKLEARN_AP: f64 = 0.8303001277139208;

    /// 40 samples: score = (x >> 33) % 7, label = score-dependent coin, from a 64-bit LCG.
    fn lcg_case() -> (Vec<f32>, Vec<bool>) {
        let mut state: u64 = 42;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        };
        let mut s = Vec::new();
        let mut l = Vec::new();
        for _ in 0..40 {
            let score = next() % 7;
            let label = next() % 10 < 2 + score;
            s.push(score as f32);
            l.push(label);
        }
        (s, l)
    }

    #[test]
    fn degenerate_inputs() {
        assert!(roc_auc(&[0.1, 0.2], &[F, F]).is_nan());
        assert!(roc_auc(&[0.1, 0.2], &[T, T]).is_nan());
        assert!(roc_auc(&[], &[]).is_nan());
        assert!(roc_auc(&[0.1], &[T, F]).is_nan());
        assert!(roc_curve(&[0.1, 0.2], &[F, F]).is_empty());
        assert!(average_precision(&[0.1, 0.2], &[F, F]).is_nan());
        assert!(close(average_precision(&[0.1, 0.2], &[T, T]), 1.0));
        // NaN scores do not panic and rank highest.
        let s = [f32::NAN, 0.1, 0.2, f32::NAN];
        assert!(close(roc_auc(&s, &[T, F, F, T]), 1.0));
        // −0 and +0 are one threshold.
        assert!(close(roc_auc(&[-0.0, 0.0], &[F, T]), 0.5));
    }
}
