//! Summary statistics over repeated runs (what a boxplot needs).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::ScorerKind;

/// Median, mean, extremes and quartiles of a set of values (e.g. one scorer's AUC over seeds).
/// Quartiles use linear interpolation between order statistics (numpy's default).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub n: usize,
    pub median: f64,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    pub q1: f64,
    pub q3: f64,
}

impl Summary {
    /// `None` for an empty slice; non-finite values are ignored.
    pub fn of(values: &[f64]) -> Option<Summary> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        Some(Summary {
            n,
            median: quantile_sorted(&v, 0.5),
            mean: v.iter().sum::<f64>() / n as f64,
            min: v[0],
            max: v[n - 1],
            q1: quantile_sorted(&v, 0.25),
            q3: quantile_sorted(&v, 0.75),
        })
    }
}

/// Each scorer's [`Summary`] over the final AUCs of several seeds (one map per seed). This is
/// the one place the summary over seeds is computed; events and records carry its result.
pub fn summarize<'a>(
    per_seed: impl IntoIterator<Item = &'a BTreeMap<ScorerKind, f64>>,
) -> BTreeMap<ScorerKind, Summary> {
    let mut per: BTreeMap<ScorerKind, Vec<f64>> = BTreeMap::new();
    for auc in per_seed {
        for (k, v) in auc {
            per.entry(*k).or_default().push(*v);
        }
    }
    per.into_iter()
        .filter_map(|(k, v)| Summary::of(&v).map(|s| (k, s)))
        .collect()
}

/// A cell compared with a baseline over the seeds both ran: the difference of their medians
/// (cell − baseline) and a 95% **paired bootstrap** interval of it (seeds resampled with
/// replacement, each keeping its pair of values; 10,000 resamples from a fixed seed, so the
/// interval is reproducible).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Seeds present in both.
    pub pairs: usize,
    pub median_diff: f64,
    pub low: f64,
    pub high: f64,
}

/// Resamples for [`compare_paired`].
pub const BOOTSTRAP_RESAMPLES: usize = 10_000;

/// Compares `cell` with `baseline`, both `(seed, value)`; `None` with fewer than two pairs.
pub fn compare_paired(cell: &[(u64, f64)], baseline: &[(u64, f64)]) -> Option<Comparison> {
    use rand::{Rng, SeedableRng};
    let pairs: Vec<(f64, f64)> = cell
        .iter()
        .filter_map(|(s, a)| baseline.iter().find(|(t, _)| t == s).map(|(_, b)| (*a, *b)))
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .collect();
    if pairs.len() < 2 {
        return None;
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        quantile_sorted(v, 0.5)
    };
    let diff = |ps: &[(f64, f64)]| {
        let mut a: Vec<f64> = ps.iter().map(|p| p.0).collect();
        let mut b: Vec<f64> = ps.iter().map(|p| p.1).collect();
        median(&mut a) - median(&mut b)
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xB007);
    let n = pairs.len();
    let mut sample = Vec::with_capacity(n);
    let mut diffs: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            sample.clear();
            sample.extend((0..n).map(|_| pairs[rng.gen_range(0..n)]));
            diff(&sample)
        })
        .collect();
    diffs.sort_by(|a, b| a.total_cmp(b));
    Some(Comparison {
        pairs: n,
        median_diff: diff(&pairs),
        low: quantile_sorted(&diffs, 0.025),
        high: quantile_sorted(&diffs, 0.975),
    })
}

/// Quantile of sorted values with linear interpolation (numpy `method="linear"`).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 1 {
        return sorted[0];
    }
    let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

/// Axis tick values (for figures and the lab's boxplots) from `lo` to `hi`, about `n` of them, at a round step.
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = (hi - lo).max(1e-9);
    let raw = span / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + 1e-12 {
        out.push(t);
        t += step;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_comparison_of_medians() {
        let base: Vec<(u64, f64)> = (0..10).map(|s| (s, 0.90 + 0.001 * s as f64)).collect();
        // Every seed 0.03 better: the difference is 0.03 and the interval tight around it.
        let better: Vec<(u64, f64)> = base.iter().map(|(s, v)| (*s, v + 0.03)).collect();
        let c = compare_paired(&better, &base).unwrap();
        assert_eq!(c.pairs, 10);
        assert!((c.median_diff - 0.03).abs() < 1e-12);
        assert!(
            c.low > 0.02 && c.high < 0.04 && c.low <= c.median_diff,
            "{c:?}"
        );
        // Unrelated noise: the interval covers 0.
        let noisy: Vec<(u64, f64)> = (0..10)
            .map(|s| (s, 0.905 + if s % 2 == 0 { 0.01 } else { -0.01 }))
            .collect();
        let c = compare_paired(&noisy, &base).unwrap();
        assert!(c.low < 0.0 && c.high > 0.0, "{c:?}");
        // Only seeds both ran are paired.
        assert_eq!(compare_paired(&better[..3], &base).unwrap().pairs, 3);
        assert!(compare_paired(&better[..1], &base).is_none());
        // Reproducible.
        assert_eq!(compare_paired(&noisy, &base), compare_paired(&noisy, &base));
    }

    #[test]
    fn summary_matches_numpy() {
        // numpy: percentile([0.9, 0.8, 0.95, 0.85], [25, 50, 75]) = [0.8375, 0.875, 0.9125]
        let s = Summary::of(&[0.9, 0.8, 0.95, 0.85]).unwrap();
        assert!((s.q1 - 0.8375).abs() < 1e-12);
        assert!((s.median - 0.875).abs() < 1e-12);
        assert!((s.q3 - 0.9125).abs() < 1e-12);
        assert_eq!((s.min, s.max, s.n), (0.8, 0.95, 4));
        assert!((s.mean - 0.875).abs() < 1e-12);
        assert!(Summary::of(&[]).is_none());
        assert_eq!(Summary::of(&[0.7]).unwrap().q3, 0.7);
    }
}
