//! One evaluation of the configured scorers, and a benchmark of the scoring path.

use std::collections::BTreeMap;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::cosine::{class_cosine_scores, knn_cosine_scores};
use super::ensemble::rank_ensemble;
use super::lof::lof_scores;
use super::mahalanobis::mahalanobis_scores;
use super::roc::{average_precision, roc_auc, roc_curve, RocCurve};
use super::{rows, ScoreError};
use crate::config::{ScoreConfig, ScorerKind};
use serde::{Deserialize, Serialize};

/// The AUC per scorer of one group of anomalous test images against the normal ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupAuc {
    pub group: String,
    /// Anomalous test images in the group.
    #[serde(default)]
    pub images: usize,
    pub auc: BTreeMap<ScorerKind, f64>,
}

/// AUC per scorer of one view on its own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViewAuc {
    pub view: String,
    pub auc: BTreeMap<ScorerKind, f64>,
}

/// The final evaluation of one run (one seed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub epoch: usize,
    /// AUC per scorer: of the scores averaged over the test-time views (the identity alone
    /// when there are none).
    pub auc: BTreeMap<ScorerKind, f64>,
    pub average_precision: BTreeMap<ScorerKind, f64>,
    /// ROC curve of every scorer.
    pub roc: BTreeMap<ScorerKind, RocCurve>,
    /// Per test image: true = anomalous.
    pub labels: Vec<bool>,
    /// Per scorer, one anomaly score per test image (higher = more anomalous).
    pub scores: BTreeMap<ScorerKind, Vec<f32>>,
    /// With several views: AUC per scorer of the identity view alone (what the views add is
    /// `auc` minus this).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub identity_auc: BTreeMap<ScorerKind, f64>,
    /// With several views: each view's AUC per scorer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub view_auc: Vec<ViewAuc>,
    /// With sub-labelled anomalies (MVTec defect types): each group's AUC per scorer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_auc: Vec<GroupAuc>,
}

/// Raw scores of one view of the test images, per scorer (`ensemble` not included).
pub type ViewScores = BTreeMap<ScorerKind, Vec<f32>>;

/// The scorers that score embeddings directly: the configured ones without `ensemble`, plus
/// the ensemble's members when it is configured. In config order, each once.
pub fn base_scorers(cfg: &ScoreConfig) -> Vec<ScorerKind> {
    let mut out: Vec<ScorerKind> = Vec::new();
    let with_ensemble = cfg.scorers.contains(&ScorerKind::Ensemble);
    let members = if with_ensemble {
        &cfg.ensemble[..]
    } else {
        &[]
    };
    for &k in cfg.scorers.iter().chain(members) {
        if k != ScorerKind::Ensemble && !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

/// Scores one view: every base scorer on `normal_train` and `test` embeddings (row-major
/// `[n × dim]`). `normal_class_weight` is the normal class's weight vector of a cosine head,
/// needed only by `class-cosine`. Invalid inputs (shapes, empty or non-finite embeddings, too
/// few training rows for k, a missing class weight, a singular covariance) are errors.
pub fn score_view(
    cfg: &ScoreConfig,
    normal_train: &[f32],
    test: &[f32],
    dim: usize,
    normal_class_weight: Option<&[f32]>,
) -> Result<ViewScores, ScoreError> {
    rows(normal_train, dim, "normal training embeddings")?;
    rows(test, dim, "test embeddings")?;
    let unit;
    let (normal_train, test) = if cfg.normalize {
        unit = (l2_rows(normal_train, dim), l2_rows(test, dim));
        (&unit.0[..], &unit.1[..])
    } else {
        (normal_train, test)
    };
    let mut out = BTreeMap::new();
    for kind in base_scorers(cfg) {
        let scores = match kind {
            ScorerKind::Lof => lof_scores(normal_train, test, dim, cfg.lof_k)?,
            ScorerKind::KnnCosine => knn_cosine_scores(normal_train, test, dim, cfg.knn_k)?,
            ScorerKind::ClassCosine => {
                let w = normal_class_weight.ok_or(ScoreError::MissingClassWeight)?;
                class_cosine_scores(test, w, dim)?
            }
            ScorerKind::Mahalanobis => {
                mahalanobis_scores(normal_train, test, dim, f64::from(cfg.shrinkage))?
            }
            ScorerKind::Ensemble => continue,
        };
        out.insert(kind, scores);
    }
    Ok(out)
}

/// Rows scaled to unit length (zero rows stay zero).
fn l2_rows(x: &[f32], dim: usize) -> Vec<f32> {
    let mut out = x.to_vec();
    for r in out.chunks_exact_mut(dim) {
        let n = r.iter().map(|v| v * v).sum::<f32>().sqrt();
        if n > 0.0 {
            r.iter_mut().for_each(|v| *v /= n);
        }
    }
    out
}

/// Adds the ensemble (when configured) to one view's scores.
fn with_ensemble(cfg: &ScoreConfig, mut v: ViewScores) -> ViewScores {
    if cfg.scorers.contains(&ScorerKind::Ensemble) {
        let members: Vec<&[f32]> = cfg
            .ensemble
            .iter()
            .filter_map(|k| v.get(k).map(Vec::as_slice))
            .collect();
        let e = rank_ensemble(&members);
        v.insert(ScorerKind::Ensemble, e);
    }
    v
}

/// Combines views (`(name, scores)`, the identity first) into one evaluation: each scorer's
/// raw scores are averaged over the views, the ensemble is taken of the averages, and AUC,
/// average precision and ROC curve are computed against `labels` (true = anomalous). With more
/// than one view the identity's and every view's own AUCs are kept too. A test set with a
/// single class gives `NaN` AUC and an empty ROC curve, see [`super::roc`].
pub fn combine_views(
    cfg: &ScoreConfig,
    epoch: usize,
    views: Vec<(String, ViewScores)>,
    labels: &[bool],
) -> Result<Evaluation, ScoreError> {
    let n_views = views.len();
    let mut view_auc = Vec::new();
    let mut sums: BTreeMap<ScorerKind, Vec<f64>> = BTreeMap::new();
    for (name, v) in views {
        for (k, s) in &v {
            if s.len() != labels.len() {
                return Err(ScoreError::LabelCount {
                    labels: labels.len(),
                    rows: s.len(),
                });
            }
            let acc = sums.entry(*k).or_insert_with(|| vec![0.0; s.len()]);
            for (a, x) in acc.iter_mut().zip(s) {
                *a += f64::from(*x);
            }
        }
        if n_views > 1 {
            let v = with_ensemble(cfg, v);
            let auc = cfg
                .scorers
                .iter()
                .filter_map(|k| v.get(k).map(|s| (*k, roc_auc(s, labels))))
                .collect();
            view_auc.push(ViewAuc { view: name, auc });
        }
    }
    let mean: ViewScores = sums
        .into_iter()
        .map(|(k, v)| (k, v.iter().map(|x| (x / n_views as f64) as f32).collect()))
        .collect();
    let mean = with_ensemble(cfg, mean);
    let mut eval = Evaluation {
        epoch,
        auc: BTreeMap::new(),
        average_precision: BTreeMap::new(),
        roc: BTreeMap::new(),
        labels: labels.to_vec(),
        scores: BTreeMap::new(),
        identity_auc: view_auc.first().map(|v| v.auc.clone()).unwrap_or_default(),
        view_auc,
        group_auc: Vec::new(),
    };
    for &kind in &cfg.scorers {
        let Some(scores) = mean.get(&kind) else {
            continue;
        };
        eval.auc.insert(kind, roc_auc(scores, labels));
        eval.average_precision
            .insert(kind, average_precision(scores, labels));
        eval.roc.insert(kind, roc_curve(scores, labels));
        eval.scores.insert(kind, scores.clone());
    }
    Ok(eval)
}

/// Scores the test embeddings with every configured scorer (one view: the images as they are)
/// and computes AUC, average precision and ROC curve; see [`score_view`] and
/// [`combine_views`].
pub fn evaluate(
    cfg: &ScoreConfig,
    epoch: usize,
    normal_train: &[f32],
    test: &[f32],
    dim: usize,
    labels: &[bool],
    normal_class_weight: Option<&[f32]>,
) -> Result<Evaluation, ScoreError> {
    let n_test = rows(test, dim, "test embeddings")?;
    if labels.len() != n_test {
        return Err(ScoreError::LabelCount {
            labels: labels.len(),
            rows: n_test,
        });
    }
    let v = score_view(cfg, normal_train, test, dim, normal_class_weight)?;
    combine_views(cfg, epoch, vec![("identity".into(), v)], labels)
}

/// Times LOF (fit + score), knn-cosine, Mahalanobis, their rank ensemble and the AUC on seeded
/// random data and returns a one-line report, e.g. `bench scoring train=1000 test=2000 dim=128
/// k=5 threads=2 reps=7 lof_ms=… knn_ms=… mahalanobis_ms=… per_view_ms=… lof_auc=…`. Times are medians over the repetitions after one warm-up; both
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
    let mut maha_ms = Vec::with_capacity(REPS);
    let mut ens_ms = Vec::with_capacity(REPS);
    let mut maha_auc = f64::NAN;
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
        let Ok(maha) = mahalanobis_scores(&train, &test, dim, 0.1) else {
            return format!("bench scoring train={n_train} test={n_test} dim={dim} k={k} failed");
        };
        let t_maha = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let ens = rank_ensemble(&[&knn, &maha]);
        let t_ens = t.elapsed().as_secs_f64() * 1e3;
        std::hint::black_box(&ens);
        let t = Instant::now();
        lof_auc = roc_auc(&lof, &labels);
        let t_auc = t.elapsed().as_secs_f64() * 1e3;
        knn_auc = roc_auc(&knn, &labels);
        maha_auc = roc_auc(&maha, &labels);
        if rep > 0 {
            lof_ms.push(t_lof);
            knn_ms.push(t_knn);
            auc_ms.push(t_auc);
            maha_ms.push(t_maha);
            ens_ms.push(t_ens);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    format!(
        "bench scoring train={n_train} test={n_test} dim={dim} k={k} threads={} reps={REPS} \
         lof_ms={:.2} knn_ms={:.2} mahalanobis_ms={:.2} ensemble_ms={:.3} auc_ms={:.3} \
         per_view_ms={:.2} lof_auc={lof_auc:.4} knn_auc={knn_auc:.4} \
         mahalanobis_auc={maha_auc:.4}",
        rayon::current_num_threads(),
        median(&mut lof_ms),
        median(&mut knn_ms),
        median(&mut maha_ms),
        median(&mut ens_ms),
        median(&mut auc_ms),
        // One test-time view with the geom scorers: knn-cosine + Mahalanobis + their ensemble
        // + three AUCs (embedding the view's images is the model's inference, above).
        median(&mut knn_ms.clone())
            + median(&mut maha_ms.clone())
            + median(&mut ens_ms.clone())
            + 3.0 * median(&mut auc_ms.clone()),
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
    fn views_are_averaged_and_the_identity_kept() {
        // Two views of four test images (labels: normal, anomalous, normal, anomalous). The
        // identity view ranks one anomaly below a normal image; the second view fixes it, and
        // the average of the raw scores ranks all anomalies first.
        let c = cfg(vec![
            ScorerKind::KnnCosine,
            ScorerKind::Mahalanobis,
            ScorerKind::Ensemble,
        ]);
        let labels = [false, true, false, true];
        let view = |knn: [f32; 4], maha: [f32; 4]| -> ViewScores {
            [
                (ScorerKind::KnnCosine, knn.to_vec()),
                (ScorerKind::Mahalanobis, maha.to_vec()),
            ]
            .into_iter()
            .collect()
        };
        let id = view([0.1, 0.5, 0.6, 0.9], [1.0, 5.0, 2.0, 6.0]);
        let rot = view([0.1, 0.9, 0.2, 0.5], [1.0, 4.0, 3.0, 9.0]);
        let e = combine_views(
            &c,
            1,
            vec![("identity".into(), id), ("rot90".into(), rot)],
            &labels,
        )
        .unwrap();
        assert_eq!(e.scores[&ScorerKind::KnnCosine], [0.1, 0.7, 0.4, 0.7]);
        assert_eq!(e.scores[&ScorerKind::Mahalanobis], [1.0, 4.5, 2.5, 7.5]);
        assert_eq!(e.auc[&ScorerKind::KnnCosine], 1.0);
        assert_eq!(e.auc[&ScorerKind::Mahalanobis], 1.0);
        // The identity alone: knn ranks the normal 0.6 above the anomaly 0.5.
        assert_eq!(e.identity_auc[&ScorerKind::KnnCosine], 0.75);
        assert_eq!(e.identity_auc[&ScorerKind::Mahalanobis], 1.0);
        assert_eq!(e.view_auc.len(), 2);
        assert_eq!(e.view_auc[1].view, "rot90");
        // The ensemble: mean rank of the averaged knn (ties 0.7, 0.7) and Mahalanobis scores.
        let ens = &e.scores[&ScorerKind::Ensemble];
        assert_eq!(ens.len(), 4);
        assert!(
            (ens[0] - 0.25).abs() < 1e-6 && (ens[3] - 0.9375).abs() < 1e-6,
            "{ens:?}"
        );
        assert_eq!(e.auc[&ScorerKind::Ensemble], 1.0);
        // One view only: no identity/view breakdown.
        let one = combine_views(
            &c,
            1,
            vec![(
                "identity".into(),
                view([0.1, 0.5, 0.6, 0.9], [1.0, 5.0, 2.0, 6.0]),
            )],
            &labels,
        )
        .unwrap();
        assert!(one.identity_auc.is_empty() && one.view_auc.is_empty());
    }

    #[test]
    fn base_scorers_add_the_ensemble_members() {
        let mut c = cfg(vec![ScorerKind::Ensemble, ScorerKind::Lof]);
        c.ensemble = vec![ScorerKind::KnnCosine, ScorerKind::Mahalanobis];
        assert_eq!(
            base_scorers(&c),
            [
                ScorerKind::Lof,
                ScorerKind::KnnCosine,
                ScorerKind::Mahalanobis
            ]
        );
    }

    #[test]
    fn evaluates_every_scorer() {
        let (train, test, labels) = data();
        let all = cfg(vec![
            ScorerKind::KnnCosine,
            ScorerKind::Lof,
            ScorerKind::ClassCosine,
            ScorerKind::Lof,
            ScorerKind::Mahalanobis,
            ScorerKind::Ensemble,
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
