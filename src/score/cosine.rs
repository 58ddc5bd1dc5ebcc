//! Cosine scorers: nearest normal neighbours (`knn-cosine`) and the normal class's head weight
//! (`class-cosine`). A zero vector has cosine 0 to everything (never NaN).

use rayon::prelude::*;

use super::neighbors::{check_k, k_smallest};
use super::{rows, ScoreError};

/// Rows scaled to unit length; zero rows stay zero.
fn normalized(data: &[f32], dim: usize) -> Vec<f32> {
    let mut out = data.to_vec();
    out.par_chunks_mut(dim).for_each(|row| {
        let norm = row.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
        if norm > 0.0 {
            let inv = (1.0 / norm) as f32;
            row.iter_mut().for_each(|x| *x *= inv);
        }
    });
    out
}

/// Cosine similarity of two vectors; 0 when either is zero.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        (ab / (aa.sqrt() * bb.sqrt())).clamp(-1.0, 1.0)
    }
}

/// −(mean of the k largest cosine similarities to the normal training embeddings) per test row.
/// k = 1 is the published 1-NN scorer. Needs at least k training rows.
pub fn knn_cosine_scores(
    normal_train: &[f32],
    test: &[f32],
    dim: usize,
    k: usize,
) -> Result<Vec<f32>, ScoreError> {
    let n_train = rows(normal_train, dim, "normal training embeddings")?;
    rows(test, dim, "test embeddings")?;
    check_k(k, n_train, false, "knn-cosine")?;
    let train = normalized(normal_train, dim);
    let test = normalized(test, dim);
    // Smallest −cos = largest cos; the dot of unit rows is the cosine.
    let (_, keys) = k_smallest(&test, &train, dim, k, false, |_, _, row| {
        row.iter_mut().for_each(|d| *d = -d.clamp(-1.0, 1.0));
    });
    Ok(keys
        .chunks_exact(k)
        .map(|row| (row.iter().map(|&x| x as f64).sum::<f64>() / k as f64) as f32)
        .collect())
}

/// −cos(test row, the normal class's weight vector) per test row.
pub fn class_cosine_scores(
    test: &[f32],
    class_weight: &[f32],
    dim: usize,
) -> Result<Vec<f32>, ScoreError> {
    rows(test, dim, "test embeddings")?;
    if class_weight.len() != dim {
        return Err(ScoreError::WeightDim {
            len: class_weight.len(),
            dim,
        });
    }
    rows(class_weight, dim, "class weight vector")?;
    Ok(test
        .par_chunks(dim)
        .map(|row| -cosine(row, class_weight) as f32)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6)
    }

    #[test]
    fn knn_cosine_small_example() {
        // Train directions: +x, +y, and (1, 1) scaled by 3 (length does not matter).
        let train = [1.0, 0.0, 0.0, 2.0, 3.0, 3.0];
        let h = std::f32::consts::FRAC_1_SQRT_2;
        // Test +x: cosines 1, 0, 1/√2. Test −x: −1, 0, −1/√2. Test (1, −1): 1/√2, −1/√2, 0.
        let test = [5.0, 0.0, -1.0, 0.0, 1.0, -1.0];
        assert!(close(
            &knn_cosine_scores(&train, &test, 2, 1).unwrap(),
            &[-1.0, 0.0, -h]
        ));
        // k = 2: means of the two largest cosines: (1 + 1/√2)/2, (0 + (−1/√2))/2, (1/√2 + 0)/2.
        let s = knn_cosine_scores(&train, &test, 2, 2).unwrap();
        assert!(close(&s, &[-(1.0 + h) / 2.0, h / 2.0, -h / 2.0]), "{s:?}");
    }

    #[test]
    fn zero_vectors_give_zero_cosine() {
        let train = [0.0, 0.0, 1.0, 0.0];
        let test = [0.0, 0.0, -1.0, 0.0];
        // Zero test row: all cosines 0. −x: cos −1 to +x, 0 to the zero row → best is 0.
        let s = knn_cosine_scores(&train, &test, 2, 1).unwrap();
        assert!(close(&s, &[0.0, 0.0]), "{s:?}");
        let s = class_cosine_scores(&test, &[0.0, 0.0], 2).unwrap();
        assert!(close(&s, &[0.0, 0.0]), "{s:?}");
    }

    #[test]
    fn class_cosine_small_example() {
        let w = [0.0, 2.0];
        let s = class_cosine_scores(&[0.0, 3.0, 1.0, 1.0, 0.0, -1.0], &w, 2).unwrap();
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!(close(&s, &[-1.0, -h, 1.0]), "{s:?}");
        assert_eq!(
            class_cosine_scores(&[0.0, 3.0], &[1.0, 2.0, 3.0], 2),
            Err(ScoreError::WeightDim { len: 3, dim: 2 })
        );
    }

    #[test]
    fn knn_cosine_errors() {
        assert!(matches!(
            knn_cosine_scores(&[1.0, 0.0], &[1.0, 0.0], 2, 2),
            Err(ScoreError::TooFewTrain {
                need: 2,
                have: 1,
                ..
            })
        ));
        assert!(knn_cosine_scores(&[1.0, 0.0], &[1.0, 0.0], 2, 1).is_ok());
        assert!(knn_cosine_scores(&[1.0, 0.0], &[], 2, 1).is_err());
    }
}
