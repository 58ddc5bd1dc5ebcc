//! Local Outlier Factor (novelty detection) on min-max scaled embeddings.
//!
//! Semantics of scikit-learn's `LocalOutlierFactor(n_neighbors=k, novelty=True)` with the
//! Euclidean metric, applied after a `MinMaxScaler` fitted on the normal training embeddings
//! (the published protocol):
//!
//! - k-distance(b): distance from training point b to its k-th nearest other training point;
//! - reach(a, b) = max(k-distance(b), d(a, b));
//! - lrd(a) = 1 / (mean of reach(a, b) over a's k nearest training points + 1e-10), where a
//!   training point's neighbours exclude itself (but not its duplicates);
//! - LOF(test) = mean(lrd(neighbours)) / lrd(test), i.e. `-score_samples(test)`.
//!
//! The 1e-10 keeps duplicated points (k-distance 0) finite: their lrd is 1e10 instead of ∞.
//! Ties are broken by training index.

use rayon::prelude::*;

use super::neighbors::{check_k, knn_euclidean};
use super::{rows, ScoreError};

/// Added to the mean reachability distance, as scikit-learn does.
const LRD_EPS: f64 = 1e-10;

/// Per-column min-max scaler to [0, 1] over the fitted data (scikit-learn `MinMaxScaler`):
/// x' = x · scale + offset with scale = 1 / (max − min), offset = −min · scale. A constant
/// column has scale 1 (no division by zero). New data is not clipped.
#[derive(Clone, Debug, PartialEq)]
pub struct MinMaxScaler {
    pub scale: Vec<f32>,
    pub offset: Vec<f32>,
}

impl MinMaxScaler {
    pub fn fit(data: &[f32], dim: usize) -> Result<MinMaxScaler, ScoreError> {
        rows(data, dim, "scaler fit data")?;
        let mut min = data[..dim].to_vec();
        let mut max = min.clone();
        for row in data.chunks_exact(dim) {
            for ((lo, hi), &x) in min.iter_mut().zip(max.iter_mut()).zip(row) {
                *lo = lo.min(x);
                *hi = hi.max(x);
            }
        }
        let scale: Vec<f32> = min
            .iter()
            .zip(&max)
            .map(|(lo, hi)| {
                let range = hi - lo;
                if range == 0.0 {
                    1.0
                } else {
                    1.0 / range
                }
            })
            .collect();
        let offset = min.iter().zip(&scale).map(|(lo, s)| -lo * s).collect();
        Ok(MinMaxScaler { scale, offset })
    }

    pub fn dim(&self) -> usize {
        self.scale.len()
    }

    /// Scales row-major data with the fitted columns.
    pub fn transform(&self, data: &[f32]) -> Result<Vec<f32>, ScoreError> {
        rows(data, self.dim(), "data to scale")?;
        let mut out = data.to_vec();
        for row in out.chunks_exact_mut(self.dim()) {
            for ((x, s), o) in row.iter_mut().zip(&self.scale).zip(&self.offset) {
                *x = *x * s + o;
            }
        }
        Ok(out)
    }
}

/// A fitted LOF novelty detector.
#[derive(Clone, Debug)]
pub struct Lof {
    k: usize,
    dim: usize,
    scaler: MinMaxScaler,
    /// Scaled training embeddings, row-major.
    train: Vec<f32>,
    /// k-distance of every training point.
    k_distance: Vec<f64>,
    /// Local reachability density of every training point.
    lrd: Vec<f64>,
}

impl Lof {
    /// Fits the scaler and the training points' k-distances and densities. Needs at least
    /// k + 1 training rows.
    pub fn fit(train: &[f32], dim: usize, k: usize) -> Result<Lof, ScoreError> {
        let n = rows(train, dim, "normal training embeddings")?;
        check_k(k, n, true, "lof")?;
        let scaler = MinMaxScaler::fit(train, dim)?;
        let train = scaler.transform(train)?;
        let nb = knn_euclidean(&train, &train, dim, k, true)?;
        let k_distance: Vec<f64> = nb.distances.chunks_exact(k).map(|d| d[k - 1]).collect();
        let lrd = (0..n)
            .into_par_iter()
            .map(|i| {
                let (idx, dist) = nb.row(i);
                local_reachability_density(idx, dist, &k_distance)
            })
            .collect();
        Ok(Lof {
            k,
            dim,
            scaler,
            train,
            k_distance,
            lrd,
        })
    }

    /// LOF of every test row (≈ 1 inside a cluster, ≫ 1 for outliers).
    pub fn score(&self, test: &[f32]) -> Result<Vec<f32>, ScoreError> {
        let n = rows(test, self.dim, "test embeddings")?;
        let test = self.scaler.transform(test)?;
        let nb = knn_euclidean(&test, &self.train, self.dim, self.k, false)?;
        Ok((0..n)
            .into_par_iter()
            .map(|i| {
                let (idx, dist) = nb.row(i);
                let lrd = local_reachability_density(idx, dist, &self.k_distance);
                let mean_neighbour_lrd =
                    idx.iter().map(|&j| self.lrd[j]).sum::<f64>() / self.k as f64;
                (mean_neighbour_lrd / lrd) as f32
            })
            .collect())
    }

    /// Local reachability densities of the training points.
    pub fn train_lrd(&self) -> &[f64] {
        &self.lrd
    }
}

/// 1 / (mean reach-distance to the neighbours + 1e-10).
fn local_reachability_density(idx: &[usize], dist: &[f64], k_distance: &[f64]) -> f64 {
    let reach: f64 = idx
        .iter()
        .zip(dist)
        .map(|(&j, &d)| d.max(k_distance[j]))
        .sum();
    1.0 / (reach / idx.len() as f64 + LRD_EPS)
}

/// LOF scores of `test` against `normal_train` (fit + score).
pub fn lof_scores(
    normal_train: &[f32],
    test: &[f32],
    dim: usize,
    k: usize,
) -> Result<Vec<f32>, ScoreError> {
    Lof::fit(normal_train, dim, k)?.score(test)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_checked_1d() {
        // Train 0, 1, 3, 7 with k = 2 (no ties). LOF is invariant to the min-max scaling (a
        // uniform rescale in 1-D) up to the 1e-10.
        //   point  neighbours (d)   k-dist   reach-dists           lrd
        //   0      1 (1), 3 (3)     3        max(2,1)=2, max(3,3)=3  1/2.5 = 0.4
        //   1      0 (1), 3 (2)     2        max(3,1)=3, max(3,2)=3  1/3
        //   3      1 (2), 0 (3)     3        max(2,2)=2, max(3,3)=3  0.4
        //   7      3 (4), 1 (6)     6        max(3,4)=4, max(2,6)=6  0.2
        // Test 2.2: neighbours 3 (0.8), 1 (1.2); reach 3, 2 → lrd 0.4;
        //   LOF = mean(0.4, 1/3) / 0.4 = 11/12.
        // Test 20: neighbours 7 (13), 3 (17); reach 13, 17 → lrd 1/15; LOF = 0.3 · 15 = 4.5.
        let lof = Lof::fit(&[0.0, 1.0, 3.0, 7.0], 1, 2).unwrap();
        let expected_lrd = [0.4, 1.0 / 3.0, 0.4, 0.2];
        for (a, b) in lof.train_lrd().iter().zip(expected_lrd) {
            // lrd is in scaled units (distances / 7).
            assert!((a / 7.0 - b).abs() < 1e-6, "{a} vs {b}");
        }
        let s = lof.score(&[2.2, 20.0]).unwrap();
        assert!((s[0] - 11.0 / 12.0).abs() < 1e-5, "{}", s[0]);
        assert!((s[1] - 4.5).abs() < 1e-5, "{}", s[1]);
    }

    #[test]
    fn cluster_inliers_near_one_outlier_large() {
        // A 10 × 10 grid; test points at cell centres and one far away.
        let train: Vec<f32> = (0..100)
            .flat_map(|i| [(i % 10) as f32, (i / 10) as f32])
            .collect();
        let test = [4.5, 4.5, 2.5, 6.5, 30.0, 30.0];
        let s = lof_scores(&train, &test, 2, 5).unwrap();
        assert!((s[0] - 1.0).abs() < 0.1, "{s:?}");
        assert!((s[1] - 1.0).abs() < 0.1, "{s:?}");
        assert!(s[2] > 10.0, "{s:?}");
    }

    #[test]
    fn duplicates_stay_finite() {
        // Six copies of one point and three others: k-distances 0 give lrd 1e10, not ∞.
        let train = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 2.0, 5.0];
        let s = lof_scores(&train, &[1.0, 3.0, 1.0], 1, 3).unwrap();
        assert!(s.iter().all(|x| x.is_finite()), "{s:?}");
        assert!((s[0] - 1.0).abs() < 1e-6);
        assert!(s[1] > 1e6);
        // All training points identical: every score is finite.
        let s = lof_scores(&[2.0; 8], &[2.0, 2.0, 3.0, 3.0], 2, 3).unwrap();
        assert!(s.iter().all(|x| x.is_finite()), "{s:?}");
        assert_eq!(s[0], 1.0);
    }

    #[test]
    fn scaler_semantics() {
        // Columns: range 2 (min 1), constant 5 (scale 1 like sklearn), range 4 (min −2).
        let data = [1.0, 5.0, -2.0, 3.0, 5.0, 2.0, 2.0, 5.0, 0.0];
        let sc = MinMaxScaler::fit(&data, 3).unwrap();
        assert_eq!(sc.scale, vec![0.5, 1.0, 0.25]);
        let t = sc.transform(&data).unwrap();
        assert_eq!(t, vec![0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.5, 0.0, 0.5]);
        // New data is not clipped; the constant column is shifted, not divided.
        assert_eq!(
            sc.transform(&[5.0, 6.0, -4.0]).unwrap(),
            vec![2.0, 1.0, -0.5]
        );
        assert!(sc.transform(&[1.0, 2.0]).is_err());
    }

    #[test]
    fn too_few_training_points() {
        assert!(matches!(
            Lof::fit(&[0.0, 1.0, 2.0], 1, 3),
            Err(ScoreError::TooFewTrain {
                need: 4,
                have: 3,
                ..
            })
        ));
        assert!(Lof::fit(&[0.0, 1.0, 2.0, 3.0], 1, 3).is_ok());
        let lof = Lof::fit(&[0.0, 1.0, 2.0, 3.0], 1, 3).unwrap();
        assert!(lof.score(&[0.0, 1.0]).is_ok());
        // Two 2-D rows are too few for k = 2.
        assert!(lof_scores(&[0.0, 1.0, 2.0, 3.0], &[0.0, 1.0], 2, 2).is_err());
    }

    #[test]
    fn matches_sklearn_random_case() {
        // 40 × 3 training and 8 × 3 test values from the LCG below; expected values from
        // scikit-learn 1.9.1:
        //   sc = MinMaxScaler().fit(train)
        //   lof = LocalOutlierFactor(n_neighbors=4, novelty=True).fit(sc.transform(train))
        //   -lof.score_samples(sc.transform(test))
        let values = lcg_values(48 * 3);
        let (train, test) = values.split_at(40 * 3);
        let s = lof_scores(train, test, 3, 4).unwrap();
        for (a, b) in s.iter().zip(SKLEARN_LOF) {
            assert!((*a as f64 - b).abs() < 1e-4 * b, "{s:?}");
        }
    }

    const SKLEARN_LOF: [f64; 8] = [
        1.0275271443107414,
        1.0713807328198282,
        1.0716777060957794,
        1.1088503173160849,
        1.0051611404103453,
        1.012733640918642,
        1.06206295363488,
        0.9838811808299652,
    ];

    /// Values (x >> 33) % 1000 / 1000 from a 64-bit LCG seeded with 7.
    fn lcg_values(n: usize) -> Vec<f32> {
        let mut state: u64 = 7;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 33) % 1000) as f32 / 1000.0
            })
            .collect()
    }
}
