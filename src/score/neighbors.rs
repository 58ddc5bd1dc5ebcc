//! Brute-force k-nearest-neighbour search over row-major `f32` matrices.
//!
//! Query rows are processed in blocks (in parallel with rayon): the block's dot products with a
//! block of training rows come from one matrix product (`gemm`), are turned into a key per pair
//! (e.g. the squared Euclidean distance ‖a‖² + ‖b‖² − 2a·b), and every query row keeps its k
//! smallest keys in its own slice of the output: no allocation per pair or per row.
//!
//! Ties are deterministic: among equal keys the lower training index wins, and a row's
//! neighbours are ordered by (key, index).

use rayon::prelude::*;

use super::{rows, ScoreError};

/// Query rows per block (and per rayon task).
const QUERY_BLOCK: usize = 64;
/// Training rows per block: a 64 × 1024 `f32` block of dot products is 256 KiB.
const TRAIN_BLOCK: usize = 1024;
/// Extra candidates whose exact distances are computed before keeping the k nearest.
const REFINE_SPARE: usize = 4;
/// Candidate lists up to this length are re-ranked in a stack array.
const MAX_STACK_CANDIDATES: usize = 32;

/// The k nearest training rows of every query row, nearest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbors {
    pub k: usize,
    /// Row-major `[n_query × k]` training row indices.
    pub indices: Vec<usize>,
    /// Row-major `[n_query × k]` Euclidean distances, ascending per row.
    pub distances: Vec<f64>,
}

impl Neighbors {
    /// Number of query rows.
    pub fn len(&self) -> usize {
        self.indices.len().checked_div(self.k).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Indices and distances of query row `i`'s neighbours, nearest first.
    pub fn row(&self, i: usize) -> (&[usize], &[f64]) {
        let r = i * self.k..(i + 1) * self.k;
        (&self.indices[r.clone()], &self.distances[r])
    }
}

/// The k nearest training rows (Euclidean) of every query row. With `exclude_self`, `query`
/// must be `train` itself and a row is never its own neighbour (duplicates of it still are),
/// as scikit-learn's `kneighbors()` without arguments.
///
/// Candidates (k + 4) are selected with matrix-product distances, then their distances are
/// recomputed exactly (in `f64`) and re-ranked by (distance, index), so the rounding of
/// ‖a‖² + ‖b‖² − 2a·b in `f32` does not reach the result unless it exceeds the gap to the
/// 5th-next candidate.
pub fn knn_euclidean(
    query: &[f32],
    train: &[f32],
    dim: usize,
    k: usize,
    exclude_self: bool,
) -> Result<Neighbors, ScoreError> {
    let n_query = rows(query, dim, "query embeddings")?;
    let n_train = rows(train, dim, "training embeddings")?;
    check_k(k, n_train, exclude_self, "k-nearest-neighbour search")?;
    let query_norms = squared_norms(query, dim);
    let train_norms = squared_norms(train, dim);
    // A few spare candidates absorb rounding in the matrix-product distances at the k-th place.
    let available = n_train - usize::from(exclude_self);
    let kc = (k + REFINE_SPARE).min(available);
    let (candidates, _) = k_smallest(query, train, dim, kc, exclude_self, |i, t0, row| {
        let qn = query_norms[i];
        for (d, &tn) in row.iter_mut().zip(&train_norms[t0..]) {
            *d = (qn + tn - 2.0 * *d).max(0.0);
        }
    });
    let mut indices = vec![0usize; n_query * k];
    let mut distances = vec![0.0f64; n_query * k];
    indices
        .par_chunks_mut(k)
        .zip(distances.par_chunks_mut(k))
        .zip(candidates.par_chunks(kc))
        .enumerate()
        .for_each(|(i, ((idx, dist), cand))| {
            let q = &query[i * dim..(i + 1) * dim];
            let mut best = [(f64::INFINITY, usize::MAX); MAX_STACK_CANDIDATES];
            let mut heap_best;
            let scored: &mut [(f64, usize)] = if kc <= MAX_STACK_CANDIDATES {
                &mut best[..kc]
            } else {
                heap_best = vec![(0.0, 0); kc];
                &mut heap_best
            };
            for (s, &j) in scored.iter_mut().zip(cand) {
                *s = (euclidean(q, &train[j * dim..(j + 1) * dim]), j);
            }
            scored.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for ((d, j), &(sd, sj)) in dist.iter_mut().zip(idx.iter_mut()).zip(scored.iter()) {
                *d = sd;
                *j = sj;
            }
        });
    Ok(Neighbors {
        k,
        indices,
        distances,
    })
}

/// Checks that `k ≥ 1` and that there are enough training rows for k neighbours.
pub(crate) fn check_k(
    k: usize,
    n_train: usize,
    exclude_self: bool,
    scorer: &'static str,
) -> Result<(), ScoreError> {
    if k == 0 {
        return Err(ScoreError::ZeroK { scorer });
    }
    let need = k + usize::from(exclude_self);
    if n_train < need {
        return Err(ScoreError::TooFewTrain {
            scorer,
            k,
            need,
            have: n_train,
        });
    }
    Ok(())
}

/// Exact Euclidean distance, accumulated in `f64`.
pub(crate) fn euclidean(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = x as f64 - y as f64;
            d * d
        })
        .sum::<f64>()
        .sqrt()
}

/// ‖row‖² of every row.
fn squared_norms(data: &[f32], dim: usize) -> Vec<f32> {
    data.chunks_exact(dim)
        .map(|r| r.iter().map(|x| x * x).sum())
        .collect()
}

/// Training rows per scan chunk: a chunk whose keys all lose to a full row's worst is skipped
/// with one vectorised comparison.
const SCAN_CHUNK: usize = 16;

/// For every query row, the k training rows with the smallest keys. For each block,
/// `keys(query_row, t0, row)` turns `row[c]` = dot(query_row, train row t0 + c) into that pair's
/// key in place (a vectorisable pass). Returns row-major `[n_query × k]` indices and keys,
/// ascending by (key, index).
///
/// Preconditions (checked by the public callers): `dim ≥ 1`, both matrices well-shaped and
/// `1 ≤ k ≤ n_train` (`< n_train` with `exclude_self`, which skips `train_row == query_row`).
pub(crate) fn k_smallest<F>(
    query: &[f32],
    train: &[f32],
    dim: usize,
    k: usize,
    exclude_self: bool,
    keys_of: F,
) -> (Vec<usize>, Vec<f32>)
where
    F: Fn(usize, usize, &mut [f32]) + Sync,
{
    let n_query = query.len() / dim;
    let n_train = train.len() / dim;
    let mut indices = vec![usize::MAX; n_query * k];
    let mut keys = vec![f32::INFINITY; n_query * k];
    let train_block = TRAIN_BLOCK.min(n_train);
    indices
        .par_chunks_mut(QUERY_BLOCK * k)
        .zip(keys.par_chunks_mut(QUERY_BLOCK * k))
        .enumerate()
        .for_each_init(
            || vec![0.0f32; QUERY_BLOCK * train_block],
            |dots, (b, (block_idx, block_keys))| {
                let q0 = b * QUERY_BLOCK;
                let nq = block_idx.len() / k;
                let mut filled = [0usize; QUERY_BLOCK];
                for t0 in (0..n_train).step_by(train_block) {
                    let nt = train_block.min(n_train - t0);
                    let dots = &mut dots[..nq * nt];
                    block_dots(
                        &query[q0 * dim..(q0 + nq) * dim],
                        &train[t0 * dim..(t0 + nt) * dim],
                        dim,
                        dots,
                    );
                    for (r, row) in dots.chunks_exact_mut(nt).enumerate() {
                        let qi = q0 + r;
                        keys_of(qi, t0, row);
                        let skip = if exclude_self && (t0..t0 + nt).contains(&qi) {
                            row[qi - t0] = f32::INFINITY;
                            qi
                        } else {
                            usize::MAX
                        };
                        scan_row(
                            row,
                            t0,
                            skip,
                            &mut block_keys[r * k..(r + 1) * k],
                            &mut block_idx[r * k..(r + 1) * k],
                            &mut filled[r],
                        );
                    }
                }
            },
        );
    (indices, keys)
}

/// Offers the keys of training rows `t0..t0 + row.len()` (except `skip`) to one query row's
/// top-k. Once the top-k is full, chunks with no key below its worst are skipped whole.
fn scan_row(
    row: &[f32],
    t0: usize,
    skip: usize,
    keys: &mut [f32],
    idx: &mut [usize],
    len: &mut usize,
) {
    let k = keys.len();
    let chunks = row.chunks_exact(SCAN_CHUNK);
    let rest = chunks.remainder();
    for (ci, chunk) in chunks.enumerate() {
        let c0 = t0 + ci * SCAN_CHUNK;
        let Ok(chunk) = <&[f32; SCAN_CHUNK]>::try_from(chunk) else {
            continue;
        };
        // Bit c set: key c beats the current worst (always true while the row is not full,
        // as the empty slots hold +∞). Fixed length: the compiler vectorises this.
        let worst = keys[k - 1];
        let mut better = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (c, &x)| acc | (u32::from(x < worst) << c));
        while better != 0 {
            let c = better.trailing_zeros() as usize;
            better &= better - 1;
            if c0 + c != skip {
                push(keys, idx, len, chunk[c], c0 + c);
            }
        }
    }
    let r0 = t0 + row.len() - rest.len();
    for (c, &key) in rest.iter().enumerate() {
        if r0 + c != skip {
            push(keys, idx, len, key, r0 + c);
        }
    }
}

/// Inserts (key, j) into a row's sorted top-k if it beats the current worst. Indices arrive in
/// increasing order, so the strict comparison keeps the lower index among equal keys.
#[inline]
fn push(keys: &mut [f32], idx: &mut [usize], len: &mut usize, key: f32, j: usize) {
    let k = keys.len();
    let mut p = if *len < k {
        *len += 1;
        *len - 1
    } else if key < keys[k - 1] {
        k - 1
    } else {
        return;
    };
    while p > 0 && key < keys[p - 1] {
        keys[p] = keys[p - 1];
        idx[p] = idx[p - 1];
        p -= 1;
    }
    keys[p] = key;
    idx[p] = j;
}

/// `dots[r × nt + c] = query_r · train_c` for a block of `nq` query rows and `nt` training rows.
fn block_dots(query: &[f32], train: &[f32], dim: usize, dots: &mut [f32]) {
    let nq = query.len() / dim;
    let nt = train.len() / dim;
    debug_assert_eq!(dots.len(), nq * nt);
    // SAFETY: dst is nq × nt row-major (row stride nt) inside `dots`; lhs is nq × dim row-major
    // inside `query`; rhs is dim × nt with element (p, c) = train[c × dim + p], inside `train`.
    // The three do not overlap (`dots` is borrowed mutably).
    unsafe {
        gemm::gemm(
            nq,
            nt,
            dim,
            dots.as_mut_ptr(),
            1,
            nt as isize,
            false,
            query.as_ptr(),
            1,
            dim as isize,
            train.as_ptr(),
            dim as isize,
            1,
            0.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain O(n²) reference: all distances, sorted by (distance, index).
    fn naive(
        query: &[f32],
        train: &[f32],
        dim: usize,
        k: usize,
        exclude_self: bool,
    ) -> Vec<Vec<usize>> {
        query
            .chunks_exact(dim)
            .enumerate()
            .map(|(i, q)| {
                let mut all: Vec<(f64, usize)> = train
                    .chunks_exact(dim)
                    .enumerate()
                    .filter(|&(j, _)| !(exclude_self && i == j))
                    .map(|(j, t)| (euclidean(q, t), j))
                    .collect();
                all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                all.into_iter().take(k).map(|(_, j)| j).collect()
            })
            .collect()
    }

    fn lcg_data(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 33) % 1000) as f32 / 1000.0
            })
            .collect()
    }

    #[test]
    fn matches_naive_search_across_blocks() {
        // More rows than one query block and one training block.
        let dim = 7;
        let train = lcg_data(1100 * dim, 1);
        let query = lcg_data(130 * dim, 2);
        let nb = knn_euclidean(&query, &train, dim, 4, false).unwrap();
        assert_eq!(nb.len(), 130);
        let expected = naive(&query, &train, dim, 4, false);
        for (i, e) in expected.iter().enumerate() {
            assert_eq!(nb.row(i).0, &e[..], "row {i}");
        }
        let nb = knn_euclidean(&train, &train, dim, 3, true).unwrap();
        let expected = naive(&train, &train, dim, 3, true);
        for (i, e) in expected.iter().enumerate() {
            assert_eq!(nb.row(i).0, &e[..], "row {i}");
        }
        // k large enough that the exact re-ranking does not fit its stack buffer.
        let nb = knn_euclidean(&query, &train, dim, 40, false).unwrap();
        for (i, e) in naive(&query, &train, dim, 40, false).iter().enumerate() {
            assert_eq!(nb.row(i).0, &e[..], "row {i}");
        }
    }

    #[test]
    fn many_exact_ties_match_naive_order() {
        // Coordinates in {0, 1, 2}: hundreds of equal (exactly representable) distances, so the
        // chunked scan must keep the lowest indices among ties, as the naive sort does.
        let dim = 2;
        let train: Vec<f32> = lcg_data(300 * dim, 3)
            .iter()
            .map(|x| (x * 3.0).floor())
            .collect();
        let query: Vec<f32> = lcg_data(70 * dim, 4)
            .iter()
            .map(|x| (x * 3.0).floor())
            .collect();
        for (q, exclude_self) in [(&query, false), (&train, true)] {
            let nb = knn_euclidean(q, &train, dim, 6, exclude_self).unwrap();
            for (i, e) in naive(q, &train, dim, 6, exclude_self).iter().enumerate() {
                assert_eq!(nb.row(i).0, &e[..], "row {i}");
            }
        }
    }

    #[test]
    fn ties_by_index_and_self_exclusion() {
        // 1-D points 0, 1, 1, 2, 1: from 1 (index 1), the other 1s (2 and 4) are at distance 0.
        let train = [0.0, 1.0, 1.0, 2.0, 1.0];
        let nb = knn_euclidean(&train, &train, 1, 3, true).unwrap();
        assert_eq!(nb.row(1), (&[2, 4, 0][..], &[0.0, 0.0, 1.0][..]));
        assert_eq!(nb.row(0), (&[1, 2, 4][..], &[1.0, 1.0, 1.0][..]));
        let nb = knn_euclidean(&[1.5], &train, 1, 2, false).unwrap();
        assert_eq!(nb.row(0), (&[1, 2][..], &[0.5, 0.5][..]));
    }

    #[test]
    fn invalid_inputs_are_errors() {
        let train = [0.0, 1.0, 2.0];
        assert!(matches!(
            knn_euclidean(&[0.0], &train, 1, 3, true),
            Err(ScoreError::TooFewTrain { need: 4, .. })
        ));
        assert!(knn_euclidean(&[0.0], &train, 1, 3, false).is_ok());
        assert!(matches!(
            knn_euclidean(&[0.0], &train, 1, 0, false),
            Err(ScoreError::ZeroK { .. })
        ));
        assert!(matches!(
            knn_euclidean(&[0.0, 1.0], &train, 2, 1, false),
            Err(ScoreError::Shape { .. })
        ));
    }
}
