//! Combining scorers: the mean of their rank-normalised scores (each scorer's scores replaced
//! by rank / n, ties sharing their average rank), so scorers of different scales weigh alike.

/// Ranks of `v` (1-based, ties averaged) divided by its length.
pub fn rank_normalise(v: &[f32]) -> Vec<f64> {
    let n = v.len();
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut out = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        // Positions i..=j share the average of ranks i+1..=j+1.
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            out[k] = rank / n as f64;
        }
        i = j + 1;
    }
    out
}

/// The mean over scorers of their rank-normalised scores (all of one length).
pub fn rank_ensemble(scores: &[&[f32]]) -> Vec<f32> {
    let Some(first) = scores.first() else {
        return Vec::new();
    };
    let mut acc = vec![0.0f64; first.len()];
    for s in scores {
        for (a, r) in acc.iter_mut().zip(rank_normalise(s)) {
            *a += r;
        }
    }
    acc.iter()
        .map(|a| (a / scores.len() as f64) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_with_ties() {
        assert_eq!(
            rank_normalise(&[10.0, 30.0, 20.0, 20.0]),
            [0.25, 1.0, 0.625, 0.625]
        );
    }

    #[test]
    fn ensemble_is_scale_free() {
        // Same order, wildly different scales: the ensemble is their common ranking.
        let a = [1.0, 2.0, 3.0];
        let b = [100.0, 2000.0, 30000.0];
        assert_eq!(rank_ensemble(&[&a, &b]), [1.0 / 3.0, 2.0 / 3.0, 1.0]);
        // Opposite orders cancel to the middle.
        let c = [3.0, 2.0, 1.0];
        let e = rank_ensemble(&[&a, &c]);
        assert!(e.iter().all(|v| (v - 2.0 / 3.0).abs() < 1e-6), "{e:?}");
    }
}
