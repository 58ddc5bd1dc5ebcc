//! Mahalanobis scoring: a Gaussian fitted to the normal training embeddings, its covariance
//! shrunk towards (trace/D)·I (scikit-learn's `ShrunkCovariance`: the empirical covariance
//! with 1/n, then `(1 − λ)·Σ + λ·(tr Σ / D)·I`); the score is the squared Mahalanobis distance
//! `(x − μ)ᵀ Σ⁻¹ (x − μ)`, computed with a Cholesky factor and a triangular solve (no explicit
//! inverse). Accumulated in f64.

use super::{rows, ScoreError};

/// A fitted Gaussian: mean and the lower Cholesky factor of the shrunk covariance.
#[derive(Clone, Debug)]
pub struct Gaussian {
    dim: usize,
    mean: Vec<f64>,
    /// Row-major lower triangle L with L·Lᵀ = Σ.
    chol: Vec<f64>,
}

impl Gaussian {
    /// Fits `train` (`n × dim`, row-major) with shrinkage `lambda` in [0, 1].
    pub fn fit(train: &[f32], dim: usize, lambda: f64) -> Result<Gaussian, ScoreError> {
        let n = rows(train, dim, "normal training embeddings")?;
        if n < 2 {
            return Err(ScoreError::TooFewTrain {
                scorer: "mahalanobis",
                k: 1,
                need: 2,
                have: n,
            });
        }
        let mut mean = vec![0.0f64; dim];
        for r in train.chunks_exact(dim) {
            for (m, &x) in mean.iter_mut().zip(r) {
                *m += f64::from(x);
            }
        }
        for m in &mut mean {
            *m /= n as f64;
        }
        // Empirical covariance (1/n), lower triangle.
        let mut cov = vec![0.0f64; dim * dim];
        let mut centred = vec![0.0f64; dim];
        for r in train.chunks_exact(dim) {
            for (c, (&x, m)) in centred.iter_mut().zip(r.iter().zip(&mean)) {
                *c = f64::from(x) - m;
            }
            for i in 0..dim {
                let ci = centred[i];
                let row = &mut cov[i * dim..i * dim + i + 1];
                for (v, cj) in row.iter_mut().zip(&centred[..=i]) {
                    *v += ci * cj;
                }
            }
        }
        let mut trace = 0.0;
        for i in 0..dim {
            for j in 0..=i {
                cov[i * dim + j] /= n as f64;
            }
            trace += cov[i * dim + i];
        }
        let mu = trace / dim as f64;
        for i in 0..dim {
            for j in 0..=i {
                cov[i * dim + j] *= 1.0 - lambda;
            }
            cov[i * dim + i] += lambda * mu;
        }
        let chol = cholesky(&cov, dim).ok_or(ScoreError::Singular {
            scorer: "mahalanobis",
        })?;
        Ok(Gaussian { dim, mean, chol })
    }

    /// Squared Mahalanobis distance of every row of `test`.
    ///
    /// Rows are solved [`LANES`] at a time: each row's forward substitution adds its products
    /// in the same order as one row alone would (so the scores are the same bits), while the
    /// rows' independent sums fill the vector lanes and hide the additions' latency.
    pub fn score(&self, test: &[f32]) -> Result<Vec<f32>, ScoreError> {
        let n = rows(test, self.dim, "test embeddings")?;
        let d = self.dim;
        let mut out = Vec::with_capacity(n);
        // z[i · LANES + r]: component i of row r's solution.
        let mut z = vec![0.0f64; d * LANES];
        for block in test.chunks(d * LANES) {
            let rows_here = block.len() / d;
            for i in 0..d {
                let row = &self.chol[i * d..i * d + i];
                let mut s = [-0.0f64; LANES];
                for (l, zj) in row.iter().zip(z.chunks_exact(LANES)) {
                    for (s, zj) in s.iter_mut().zip(zj) {
                        *s += l * zj;
                    }
                }
                // Forward substitution: L z = x − μ.
                let (diag, mean) = (self.chol[i * d + i], self.mean[i]);
                let zi = &mut z[i * LANES..(i + 1) * LANES];
                for (r, (zr, s)) in zi.iter_mut().zip(s).enumerate().take(rows_here) {
                    *zr = (f64::from(block[r * d + i]) - mean - s) / diag;
                }
            }
            for r in 0..rows_here {
                let sq = z
                    .chunks_exact(LANES)
                    .fold(-0.0f64, |a, zi| a + zi[r] * zi[r]);
                out.push(sq as f32);
            }
        }
        Ok(out)
    }
}

/// Test rows whose forward substitutions [`Gaussian::score`] runs side by side.
const LANES: usize = 8;

/// Lower Cholesky factor of a symmetric positive definite matrix given by its lower triangle;
/// `None` when it is not positive definite.
fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let v = a[i * n + i] - s;
                if v <= 0.0 || !v.is_finite() {
                    return None;
                }
                l[i * n + i] = v.sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - s) / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Squared Mahalanobis distances of `test` under the Gaussian fitted to `train`.
pub fn mahalanobis_scores(
    train: &[f32],
    test: &[f32],
    dim: usize,
    shrinkage: f64,
) -> Result<Vec<f32>, ScoreError> {
    Gaussian::fit(train, dim, shrinkage)?.score(test)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 40 normal-train rows of 6 dimensions (numpy, seed 7), rounded to 4 decimals.
    #[allow(clippy::approx_constant)]
    const TRAIN: [f32; 240] = [
        1.0619, 1.9058, 0.7280, 0.4948, 1.7182, 1.2728, 2.5199, 1.1246, 1.4142, 1.8964, 1.4068,
        1.1007, 1.8046, 2.5186, 1.3129, 0.8177, 2.1876, 1.1093, 1.0123, 1.0571, -1.2353, 0.6564,
        0.4387, 1.6755, 2.2262, 1.5271, 3.0025, 1.4725, 1.4171, 0.6729, 3.2957, 3.4453, 1.5068,
        0.5093, 1.3967, 1.7949, 0.6640, -0.0451, 1.0263, 1.8296, -0.3878, 1.1485, 1.4318, 2.3744,
        0.5607, 0.4795, 1.8375, 1.5214, 0.9792, 0.2504, -0.0771, 0.9034, 1.3790, 0.6439, -0.4447,
        0.7852, -0.4037, 0.3271, 1.0404, 1.1158, 3.5201, 3.3806, 3.8140, 1.5656, 3.3329, 2.1582,
        1.2558, 3.1810, 0.5121, -0.2400, 2.7234, 1.2375, 0.5161, 0.2892, 1.9253, 1.6360, 0.1711,
        0.9339, 1.7263, 0.5941, 0.7234, 1.1628, 1.1814, 0.5958, 2.5088, 1.9796, 4.2208, 1.4952,
        2.4006, 0.3958, -0.4495, 1.4667, 1.0949, 0.9019, 2.8190, 2.3462, -0.1464, -1.4494, 0.2312,
        1.8118, -1.3031, 0.6774, 2.1475, 0.3559, 2.1983, 2.1541, -0.0164, 0.8977, 1.2394, -0.5287,
        0.3018, 1.8648, 0.0658, 0.8232, 1.1527, 1.0396, 1.7954, 1.4372, 1.2993, 1.5151, 1.3595,
        -0.0654, 3.1429, 2.6656, 0.6340, 0.8741, 0.8467, 0.7294, 3.6065, 1.0033, 1.2972, -0.3917,
        0.5972, 1.1857, 1.3264, 0.8763, 1.1775, 1.2853, 1.5639, -0.2940, 1.5481, 2.3298, 0.3528,
        0.9883, 1.2758, 0.5041, 1.6339, 1.6404, 0.7592, 0.9254, 0.7423, 1.7195, 2.4591, 0.4525,
        1.5364, -0.0876, -0.3577, -0.0037, -1.3221, 0.1133, 0.3550, 0.1528, -0.4693, 1.7166,
        -1.1347, -0.2881, 2.2178, 1.5736, 3.4313, 4.0631, 1.4176, -0.3064, 2.2180, 0.8223, 2.9307,
        3.6512, 2.4141, 0.3338, 3.6677, 1.2427, 3.1248, 2.6130, 3.1157, 1.4141, 2.0914, 1.5033,
        1.0504, 1.1095, 2.2942, 2.0384, 0.9560, 2.1840, 1.4953, 0.5561, 1.4590, 1.6466, 1.5464,
        1.0692, 2.1994, 0.3615, 1.8616, 1.4396, -1.1103, 0.1167, 0.0346, 1.1668, 0.6077, 0.5475,
        1.9102, 0.9080, 2.9196, 1.5442, 7.7185, 2.7732, 1.9764, 0.5392, 1.8027, 2.2395, 0.1892,
        -0.2738, 2.1488, 0.4883, 0.1131, 0.3310, -0.5365, 0.6778, 0.5408, 1.0113, -0.0555, 0.9515,
        1.6867, 1.3374, 1.0868, 1.8968, -0.9641, -1.7725, 0.1628, 1.6540, -0.9850, 0.2335,
    ];
    const TEST: [f32; 30] = [
        1.6530, -1.6312, 1.9928, 2.1094, -1.5004, 0.1077, -1.5034, -1.3099, -0.8799, 0.4050,
        0.2456, -0.5394, -2.6154, -0.6474, -3.5719, -1.0099, 1.5087, 1.2263, 0.7760, 0.8388,
        0.9757, 0.2275, 0.3929, -0.1005, -0.4949, 1.4457, 0.7875, -1.2849, 1.9902, -1.4582,
    ];
    /// `sklearn.covariance.ShrunkCovariance(shrinkage=0.1).fit(TRAIN).mahalanobis(TEST)`
    /// (scikit-learn 1.9.1): squared distances.
    const SKLEARN: [f64; 5] = [
        10.628845582122871,
        12.125332478123015,
        20.817815284213424,
        5.070715952135608,
        26.165524651721114,
    ];

    #[test]
    fn matches_scikit_learn_shrunk_covariance() {
        let s = mahalanobis_scores(&TRAIN, &TEST, 6, 0.1).unwrap();
        for (got, want) in s.iter().zip(SKLEARN) {
            let rel = (f64::from(*got) - want).abs() / want;
            assert!(rel < 1e-5, "{got} vs {want}");
        }
    }

    /// The scores of one row at a time (the solve as it was before rows were interleaved).
    fn one_row_at_a_time(g: &Gaussian, test: &[f32]) -> Vec<f32> {
        let d = g.dim;
        let mut z = vec![0.0f64; d];
        test.chunks_exact(d)
            .map(|r| {
                for i in 0..d {
                    let row = &g.chol[i * d..i * d + i];
                    let s: f64 = row.iter().zip(&z[..i]).map(|(l, zj)| l * zj).sum();
                    z[i] = (f64::from(r[i]) - g.mean[i] - s) / g.chol[i * d + i];
                }
                z.iter().map(|v| v * v).sum::<f64>() as f32
            })
            .collect()
    }

    #[test]
    fn interleaved_rows_score_the_same_bits_as_one_row_at_a_time() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for (dim, n_train, n_test) in [(1, 3, 1), (6, 40, 17), (33, 90, 8), (128, 300, 29)] {
            let train: Vec<f32> = (0..dim * n_train)
                .map(|_| rng.gen_range(-2.0f32..2.0))
                .collect();
            let test: Vec<f32> = (0..dim * n_test)
                .map(|_| rng.gen_range(-3.0f32..3.0))
                .collect();
            let g = Gaussian::fit(&train, dim, 0.1).unwrap();
            let got = g.score(&test).unwrap();
            let want = one_row_at_a_time(&g, &test);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "dim {dim}");
        }
    }

    #[test]
    fn hand_worked_2d() {
        // Train (0,0), (2,0), (0,2), (2,2): mean (1,1), empirical covariance I (1/n), trace
        // 2, so shrinkage leaves it I. Distance² of (3,1): 4; of (1,1): 0.
        let train = [0.0, 0.0, 2.0, 0.0, 0.0, 2.0, 2.0, 2.0];
        let s = mahalanobis_scores(&train, &[3.0, 1.0, 1.0, 1.0], 2, 0.1).unwrap();
        assert!((s[0] - 4.0).abs() < 1e-6 && s[1].abs() < 1e-6, "{s:?}");
        // Stretch x by 2: Σ = diag(4, 1); λ = 0.5 → 0.5Σ + 0.5·2.5·I = diag(3.25, 1.75).
        // (5,1) is 4 from the mean (2,1) along x: 16 / 3.25.
        let train = [0.0, 0.0, 4.0, 0.0, 0.0, 2.0, 4.0, 2.0];
        let s = mahalanobis_scores(&train, &[6.0, 1.0, 2.0, 2.0], 2, 0.5).unwrap();
        assert!((s[0] - 16.0 / 3.25).abs() < 1e-5, "{s:?}");
        assert!((s[1] - 1.0 / 1.75).abs() < 1e-5, "{s:?}");
        // Correlated: points on a line need shrinkage to be invertible.
        let line = [0.0, 0.0, 1.0, 1.0, 2.0, 2.0];
        assert!(matches!(
            mahalanobis_scores(&line, &[1.0, 1.0], 2, 0.0),
            Err(ScoreError::Singular { .. })
        ));
        assert!(mahalanobis_scores(&line, &[1.0, 1.0], 2, 0.1).is_ok());
    }
}
