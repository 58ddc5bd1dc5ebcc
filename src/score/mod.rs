//! Anomaly scoring of embeddings (LOF, nearest-neighbour cosine, class cosine) and ROC/AUC.
//!
//! Embeddings are row-major `[n × dim]` `f32` slices. Every scorer returns one score per test
//! row, higher = more anomalous:
//!
//! - [`lof`]: Local Outlier Factor (scikit-learn `LocalOutlierFactor(novelty=True)` semantics)
//!   on embeddings min-max scaled with a scaler fitted on the normal training embeddings;
//! - [`cosine`]: negated mean of the k largest cosine similarities to the normal training
//!   embeddings (`knn-cosine`), or negated cosine to the normal class's head weight
//!   (`class-cosine`);
//! - [`mahalanobis`]: squared Mahalanobis distance to a Gaussian fitted to the normal training
//!   embeddings, covariance shrunk towards (trace/D)·I;
//! - [`ensemble`]: the mean of several scorers' rank-normalised scores;
//! - [`roc`]: ROC AUC, ROC curve and average precision (scikit-learn semantics, ties handled);
//! - [`eval`]: [`score_view`] runs the configured scorers on one view of the images,
//!   [`combine_views`] averages the views and computes AUCs ([`evaluate`] does both for one
//!   view); [`bench_scoring`] times them on synthetic data;
//! - [`groups`]: AUC per sub-label of the anomalous images (MVTec defect types).
//!
//! The neighbour searches in [`neighbors`] are brute force, computed as blocked matrix products.
//! [`Evaluation`] (what one scoring pass found) and the summary over seeds ([`summarize`]) live
//! here too; `train` calls into this module, never the other way round.
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

pub mod cosine;
pub mod ensemble;
pub mod eval;
pub mod groups;
pub mod lof;
pub mod mahalanobis;
pub mod neighbors;
pub mod roc;
pub mod state;
pub mod stats;

pub use cosine::{class_cosine_scores, knn_cosine_scores};
pub use ensemble::{rank_ensemble, rank_normalise};
pub use eval::{
    base_scorers, bench_scoring, combine_views, evaluate, score_view, Evaluation, GroupAuc,
    ViewAuc, ViewScores,
};
pub use groups::group_auc;
pub use lof::{lof_scores, Lof, MinMaxScaler};
pub use mahalanobis::{mahalanobis_scores, Gaussian};
pub use neighbors::{knn_euclidean, Neighbors};
pub use roc::{average_precision, roc_auc, roc_curve};
pub use state::{fit_state, threshold_at_fpr, ScorerState};
pub use stats::{compare_paired, summarize, ticks, Comparison, Summary};

/// Why scoring could not run. Every invalid input is reported here; scoring never panics.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScoreError {
    #[error("embedding dimension must be at least 1")]
    ZeroDim,
    #[error("{what}: no rows")]
    Empty { what: &'static str },
    #[error("{what}: {len} values, not a multiple of the embedding dimension {dim}")]
    Shape {
        what: &'static str,
        len: usize,
        dim: usize,
    },
    #[error("{what}: non-finite value in row {row}")]
    NonFinite { what: &'static str, row: usize },
    #[error("{scorer}: k must be at least 1")]
    ZeroK { scorer: &'static str },
    #[error("{scorer} with k = {k} needs at least {need} normal training embeddings, got {have}")]
    TooFewTrain {
        scorer: &'static str,
        k: usize,
        need: usize,
        have: usize,
    },
    #[error("{labels} labels for {rows} test embeddings")]
    LabelCount { labels: usize, rows: usize },
    #[error(
        "class-cosine needs the normal class's weight vector of a cosine head, but none was given"
    )]
    MissingClassWeight,
    #[error("the class weight vector has {len} values, expected the embedding dimension {dim}")]
    WeightDim { len: usize, dim: usize },
    #[error(
        "{scorer}: the covariance of the normal training embeddings is singular; raise score.shrinkage"
    )]
    Singular { scorer: &'static str },
    #[error("the images were embedded through {got} views, the scorer was fitted on {want}")]
    ViewCount { got: usize, want: usize },
}

/// Number of rows of a row-major `[n × dim]` matrix, after checking that it is non-empty,
/// well-shaped and finite.
pub(crate) fn rows(data: &[f32], dim: usize, what: &'static str) -> Result<usize, ScoreError> {
    if dim == 0 {
        return Err(ScoreError::ZeroDim);
    }
    if data.is_empty() {
        return Err(ScoreError::Empty { what });
    }
    if !data.len().is_multiple_of(dim) {
        return Err(ScoreError::Shape {
            what,
            len: data.len(),
            dim,
        });
    }
    if let Some(i) = data.iter().position(|x| !x.is_finite()) {
        return Err(ScoreError::NonFinite { what, row: i / dim });
    }
    Ok(data.len() / dim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_checks_shape() {
        assert_eq!(rows(&[1.0; 6], 3, "x"), Ok(2));
        assert_eq!(rows(&[1.0; 6], 0, "x"), Err(ScoreError::ZeroDim));
        assert_eq!(rows(&[], 3, "x"), Err(ScoreError::Empty { what: "x" }));
        assert_eq!(
            rows(&[1.0; 5], 3, "x"),
            Err(ScoreError::Shape {
                what: "x",
                len: 5,
                dim: 3
            })
        );
        assert_eq!(
            rows(&[1.0, 2.0, 3.0, f32::NAN], 2, "x"),
            Err(ScoreError::NonFinite { what: "x", row: 1 })
        );
    }
}
