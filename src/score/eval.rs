//! One evaluation of the configured scorers, and a benchmark of the scoring path.

use std::collections::BTreeMap;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::cosine::{class_cosine_scores, knn_cosine_scores};
use super::lof::lof_scores;
use super::roc::{average_precision, roc_auc, roc_curve};
use super::{rows, ScoreError};
use crate::config::{ScoreConfig, ScorerKind};
use serde::{Deserialize, Serialize};

/// Points of a ROC curve (false positive rate, true positive rate), from (0,0) to (1,1).
pub type RocCurve = Vec<(f64, f64)>;

/// The final evaluation of one run (one seed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub epoch: usize,
    pub auc: BTreeMap<ScorerKind, f64>,
    pub average_precision: BTreeMap<ScorerKind, f64>,
    /// ROC curve of every scorer.
    pub roc: BTreeMap<ScorerKind, RocCurve>,
    /// Per test image: true = anomalous.
    pub labels: Vec<bool>,
    /// Per scorer, one anomaly score per test image (higher = more anomalous).
    pub scores: BTreeMap<ScorerKind, Vec<f32>>,
}

/// Scores the test embeddings with every scorer in `cfg.scorers` (each once) and computes its
/// AUC, average precision and ROC curve against `labels` (true = anomalous).
///
/// `normal_train` and `test` are row-major `[n × dim]`; `normal_class_weight` is the normal
/// class's weight vector of a cosine head, needed only by `class-cosine`. Invalid inputs
/// (shapes, empty or non-finite embeddings, label count, too few training rows for k, a missing
/// class weight) are errors. A test set with a single class gives `NaN` AUC (and AP without
/// anomalies) and an empty ROC curve, see [`super::roc`].
pub fn evaluate(
    cfg: &ScoreConfig,
    epoch: usize,
    normal_train: &[f32],
    test: &[f32],
    dim: usize,
    labels: &[bool],
    normal_class_weight: Option<&[f32]>,
) -> Result<Evaluation, ScoreError> {
    rows(normal_train, dim, "normal training embeddings")?;
    let n_test = rows(test, dim, "test embeddings")?;
    if labels.len() != n_test {
        return Err(ScoreError::LabelCount {
            labels: labels.len(),
            rows: n_test,
        });
    }
    let mut eval = Evaluation {
        epoch,
        auc: BTreeMap::new(),
        average_precision: BTreeMap::new(),
        roc: BTreeMap::new(),
        labels: labels.to_vec(),
        scores: BTreeMap::new(),
    };
    for &kind in &cfg.scorers {
        if eval.scores.contains_key(&kind) {
            continue;
        }
        let scores = match kind {
            ScorerKind::Lof => lof_scores(normal_train, test, dim, cfg.lof_k)?,
            ScorerKind::KnnCosine => knn_cosine_scores(normal_train, test, dim, cfg.knn_k)?,
            ScorerKind::ClassCosine => {
                let w = normal_class_weight.ok_or(ScoreError::MissingClassWeight)?;
                class_cosine_scores(test, w, dim)?
            }
        };
        eval.auc.insert(kind, roc_auc(&scores, labels));
        eval.average_precision
            .insert(kind, average_precision(&scores, labels));
        eval.roc.insert(kind, roc_curve(&scores, labels));
        eval.scores.insert(kind, scores);
    }
    Ok(eval)
}

/// Times LOF (fit + score), knn-cosine and the AUC on seeded random data and returns a one-line
/// report, e.g. `bench scoring train=1000 test=2000 dim=128 k=5 threads=2 reps=7 lof_ms=…
/// knn_ms=… auc_ms=… lof_auc=…`. Times are medians over the repetitions after one warm-up; both
/// scorers use `k`. Arguments are clamped to a runnable size (train ≥ k + 1, test ≥ 2, dim ≥ 1).
pub fn bench_scoring(n_train: usize, n_test: usize, dim: usize, k: usize) -> String {
    const REPS: usize = 7;
    let k = k.max(1);
    let n_train = n_train.max(k + 1);
    let n_test = n_test.max(2);
    let dim = dim.max(1);
    let mut rng = StdRng::seed_from_u64(0x5c0e);
    // Normal rows: a normal centre (N(0, 0.09) per axis) plus N(0, 1) noise (sum of uniforms);
    // anomalies (every other test row): another such centre plus the same noise.
    let mut gauss = move || (0..12).map(|_| rng.gen::<f32>()).sum::<f32>() - 6.0;
    let normal_centre: Vec<f32> = (0..dim).map(|_| 0.3 * gauss()).collect();
    let anomal_centre: Vec<f32> = (0..dim).map(|_| 0.3 * gauss()).collect();
    let train: Vec<f32> = (0..n_train * dim)
        .map(|i| normal_centre[i % dim] + gauss())
        .collect();
    let labels: Vec<bool> = (0..n_test).map(|i| i % 2 == 1).collect();
    let test: Vec<f32> = (0..n_test * dim)
        .map(|i| {
            let centre = if labels[i / dim] {
                &anomal_centre
            } else {
                &normal_centre
            };
            centre[i % dim] + gauss()
        })
        .collect();

    let mut lof_ms = Vec::with_capacity(REPS);
    let mut knn_ms = Vec::with_capacity(REPS);
    let mut auc_ms = Vec::with_capacity(REPS);
    let mut lof_auc = f64::NAN;
    let mut knn_auc = f64::NAN;
    for rep in 0..=REPS {
        let t = Instant::now();
        let lof = lof_scores(&train, &test, dim, k);
        let t_lof = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let knn = knn_cosine_scores(&train, &test, dim, k);
        let t_knn = t.elapsed().as_secs_f64() * 1e3;
        let (Ok(lof), Ok(knn)) = (lof, knn) else {
            return format!("bench scoring train={n_train} test={n_test} dim={dim} k={k} failed");
        };
        let t = Instant::now();
        lof_auc = roc_auc(&lof, &labels);
        let t_auc = t.elapsed().as_secs_f64() * 1e3;
        knn_auc = roc_auc(&knn, &labels);
        if rep > 0 {
            lof_ms.push(t_lof);
            knn_ms.push(t_knn);
            auc_ms.push(t_auc);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    format!(
        "bench scoring train={n_train} test={n_test} dim={dim} k={k} threads={} reps={REPS} \
         lof_ms={:.2} knn_ms={:.2} auc_ms={:.3} lof_auc={lof_auc:.4} knn_auc={knn_auc:.4}",
        rayon::current_num_threads(),
        median(&mut lof_ms),
        median(&mut knn_ms),
        median(&mut auc_ms),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(scorers: Vec<ScorerKind>) -> ScoreConfig {
        ScoreConfig {
            scorers,
            lof_k: 2,
            knn_k: 1,
            ..ScoreConfig::default()
        }
    }

    /// Normal rows near (1, 0), anomalies near (0, 1).
    fn data() -> (Vec<f32>, Vec<f32>, Vec<bool>) {
        let train = vec![1.0, 0.0, 1.0, 0.1, 0.9, -0.1, 1.1, 0.05, 1.0, -0.05];
        let test = vec![1.0, 0.02, 0.1, 1.0, 0.95, 0.0, -0.1, 0.9];
        (train, test, vec![false, true, false, true])
    }

    #[test]
    fn evaluates_every_scorer() {
        let (train, test, labels) = data();
        let all = cfg(vec![
            ScorerKind::KnnCosine,
            ScorerKind::Lof,
            ScorerKind::ClassCosine,
            ScorerKind::Lof,
        ]);
        let e = evaluate(&all, 3, &train, &test, 2, &labels, Some(&[1.0, 0.0])).unwrap();
        assert_eq!(e.epoch, 3);
        assert_eq!(e.labels, labels);
        for kind in ScorerKind::ALL {
            assert_eq!(e.auc[&kind], 1.0, "{kind}");
            assert_eq!(e.average_precision[&kind], 1.0, "{kind}");
            assert_eq!(e.scores[&kind].len(), 4);
            assert_eq!(e.roc[&kind].first(), Some(&(0.0, 0.0)));
            assert_eq!(e.roc[&kind].last(), Some(&(1.0, 1.0)));
        }
        let e = evaluate(
            &cfg(vec![ScorerKind::KnnCosine]),
            1,
            &train,
            &test,
            2,
            &labels,
            None,
        )
        .unwrap();
        assert_eq!(
            e.auc.keys().copied().collect::<Vec<_>>(),
            vec![ScorerKind::KnnCosine]
        );
    }

    #[test]
    fn invalid_inputs_are_errors() {
        let (train, test, labels) = data();
        let c = cfg(vec![ScorerKind::ClassCosine]);
        assert_eq!(
            evaluate(&c, 1, &train, &test, 2, &labels, None),
            Err(ScoreError::MissingClassWeight)
        );
        let c = cfg(vec![ScorerKind::KnnCosine]);
        assert_eq!(
            evaluate(&c, 1, &train, &test, 2, &labels[..3], None),
            Err(ScoreError::LabelCount { labels: 3, rows: 4 })
        );
        assert!(matches!(
            evaluate(&c, 1, &train, &test, 3, &labels, None),
            Err(ScoreError::Shape { .. })
        ));
        assert!(matches!(
            evaluate(&c, 1, &[], &test, 2, &labels, None),
            Err(ScoreError::Empty { .. })
        ));
        let mut big_k = cfg(vec![ScorerKind::Lof]);
        big_k.lof_k = 5;
        assert!(matches!(
            evaluate(&big_k, 1, &train, &test, 2, &labels, None),
            Err(ScoreError::TooFewTrain {
                need: 6,
                have: 5,
                ..
            })
        ));
    }

    #[test]
    fn single_class_test_set_gives_nan_auc() {
        let (train, test, _) = data();
        let c = cfg(vec![ScorerKind::Lof]);
        let e = evaluate(&c, 1, &train, &test, 2, &[false; 4], None).unwrap();
        assert!(e.auc[&ScorerKind::Lof].is_nan());
        assert!(e.roc[&ScorerKind::Lof].is_empty());
    }

    #[test]
    fn bench_report_is_one_line() {
        let r = bench_scoring(50, 40, 8, 3);
        assert!(
            r.starts_with("bench scoring train=50 test=40 dim=8 k=3 "),
            "{r}"
        );
        assert!(r.contains("lof_ms=") && r.contains("knn_ms=") && r.contains("auc_ms="));
        assert!(!r.contains('\n'));
    }
}
