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

#[cfg(test)]
mod tests {
    use super::*;

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
