//! A fitted scorer that outlives training: what scoring new images needs once the model has
//! embedded them ([`ScorerState`]), the calibration of thresholds on normal images the scorer
//! did not fit on ([`calibrate`]), and thresholds from it ([`threshold_at_fpr`]).
//!
//! The state keeps the normal training embeddings of every test-time view (kNN and LOF need
//! them; Mahalanobis refits its Gaussian from them, which is deterministic, so the mean and
//! Cholesky factor need no separate copy), the normal class's head direction (class-cosine),
//! and, with the ensemble, each member's scores on the run's test images: a new image's
//! member score is ranked against those, which reproduces the recorded ensemble exactly on the
//! test split (where the ranks were taken within the test set).
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::collections::BTreeMap;

use rayon::prelude::*;

use super::eval::{score_view, ViewScores};
use super::{rows, ScoreError};
use crate::config::{ScoreConfig, ScorerKind};

pub use crate::config::scoring::CALIBRATION_FOLDS;
/// At most this many spare normal images (not drawn for training) calibrate thresholds.
pub const CALIBRATION_IMAGES: usize = 1000;

/// What scoring needs besides the model: fitted on one run's normal training embeddings.
#[derive(Clone, Debug, PartialEq)]
pub struct ScorerState {
    pub config: ScoreConfig,
    pub dim: usize,
    /// Per test-time view (identity first): the normal training embeddings, `[n × dim]`.
    pub normal: Vec<Vec<f32>>,
    /// The normal class's unit head direction (only with class-cosine).
    pub class_direction: Option<Vec<f32>>,
    /// With the ensemble: per member, its view-averaged scores on the run's test images,
    /// sorted ascending (the ranks of new scores are taken against these).
    pub ensemble_reference: BTreeMap<ScorerKind, Vec<f32>>,
    /// Per configured scorer: sorted scores of held-out normal images, either spare ones
    /// (`calibration_folds == 0`: scored by this state) or the normal training images, each
    /// scored by a scorer fitted on the other folds. Empty when calibration is off.
    pub calibration: BTreeMap<ScorerKind, Vec<f32>>,
    /// Folds of the cross-fitted calibration; 0 when spare images (or nothing) calibrated it.
    pub calibration_folds: usize,
}

impl ScorerState {
    /// Scores of images embedded through every view (`views[v]` is `[n × dim]` for view `v`):
    /// each base scorer per view, the raw scores averaged over views (as at training time),
    /// then the ensemble ranked against its reference. One score vector per configured scorer.
    pub fn score(&self, views: &[Vec<f32>]) -> Result<BTreeMap<ScorerKind, Vec<f32>>, ScoreError> {
        if views.len() != self.normal.len() {
            return Err(ScoreError::ViewCount {
                got: views.len(),
                want: self.normal.len(),
            });
        }
        // The views are independent: scored in parallel, averaged in view order.
        let per_view = self
            .normal
            .par_iter()
            .zip(views.par_iter())
            .map(|(normal, test)| {
                score_view(
                    &self.config,
                    normal,
                    test,
                    self.dim,
                    self.class_direction.as_deref(),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mean = average_views(per_view);
        Ok(self.finish(mean))
    }

    /// The configured scorers of view-averaged base scores, the ensemble ranked against the
    /// reference.
    fn finish(&self, mut mean: ViewScores) -> BTreeMap<ScorerKind, Vec<f32>> {
        if self.config.scorers.contains(&ScorerKind::Ensemble) {
            let ens = ensemble_against(&self.config.ensemble, &mean, &self.ensemble_reference);
            mean.insert(ScorerKind::Ensemble, ens);
        }
        self.config
            .scorers
            .iter()
            .filter_map(|k| mean.get(k).map(|v| (*k, v.clone())))
            .collect()
    }

    /// The threshold of `scorer` that flags a fraction `fpr` of the calibration images, when
    /// there is calibration.
    pub fn threshold(&self, scorer: ScorerKind, fpr: f64) -> Option<f32> {
        self.calibration
            .get(&scorer)
            .and_then(|c| threshold_at_fpr(c, fpr))
    }
}

/// Averages views' raw scores exactly as [`super::combine_views`] does (f64 sum in view order,
/// divided by the view count, rounded to f32).
pub fn average_views(views: Vec<ViewScores>) -> ViewScores {
    let n_views = views.len().max(1);
    let mut sums: BTreeMap<ScorerKind, Vec<f64>> = BTreeMap::new();
    for v in views {
        for (k, s) in v {
            let acc = sums.entry(k).or_insert_with(|| vec![0.0; s.len()]);
            for (a, x) in acc.iter_mut().zip(&s) {
                *a += f64::from(*x);
            }
        }
    }
    sums.into_iter()
        .map(|(k, v)| (k, v.iter().map(|x| (x / n_views as f64) as f32).collect()))
        .collect()
}

/// Rank of `x` among `sorted` (ascending), ties sharing their average rank, over the length:
/// for a value of the set this is exactly [`super::rank_normalise`]'s value.
pub fn rank_against(sorted: &[f32], x: f32) -> f64 {
    let n = sorted.len().max(1);
    let less = sorted.partition_point(|v| v.total_cmp(&x).is_lt());
    let upto = sorted.partition_point(|v| v.total_cmp(&x).is_le());
    let equal = upto - less;
    // Positions less..less+equal−1 share rank (i + j)/2 + 1; a new value sits half-way.
    let ij = 2 * less as i64 + equal as i64 - 1;
    (ij as f64 / 2.0 + 1.0) / n as f64
}

/// The ensemble of `members` (those present in `scores`), each ranked against its reference.
fn ensemble_against(
    members: &[ScorerKind],
    scores: &ViewScores,
    reference: &BTreeMap<ScorerKind, Vec<f32>>,
) -> Vec<f32> {
    let present: Vec<(&Vec<f32>, &Vec<f32>)> = members
        .iter()
        .filter_map(|k| Some((scores.get(k)?, reference.get(k)?)))
        .collect();
    let Some((first, _)) = present.first() else {
        return Vec::new();
    };
    let mut acc = vec![0.0f64; first.len()];
    for (s, r) in &present {
        for (a, x) in acc.iter_mut().zip(s.iter()) {
            *a += rank_against(r, *x);
        }
    }
    acc.iter()
        .map(|a| (a / present.len() as f64) as f32)
        .collect()
}

/// Fits a scorer state on per-view normal embeddings. `test_mean` are the view-averaged base
/// scores of the run's test images (the ensemble's reference; may be empty without ensemble).
/// `folds` ≥ 2 cross-fits the calibration scores; 0 leaves calibration out (to be set from
/// spare images by the caller).
pub fn fit_state(
    config: &ScoreConfig,
    normal: Vec<Vec<f32>>,
    dim: usize,
    class_direction: Option<Vec<f32>>,
    test_mean: &ViewScores,
    folds: usize,
) -> Result<ScorerState, ScoreError> {
    for n in &normal {
        rows(n, dim, "normal training embeddings")?;
    }
    let mut ensemble_reference = BTreeMap::new();
    if config.scorers.contains(&ScorerKind::Ensemble) {
        for k in &config.ensemble {
            if let Some(s) = test_mean.get(k) {
                let mut s = s.clone();
                s.sort_by(|a, b| a.total_cmp(b));
                ensemble_reference.insert(*k, s);
            }
        }
    }
    let mut state = ScorerState {
        config: config.clone(),
        dim,
        normal,
        class_direction,
        ensemble_reference,
        calibration: BTreeMap::new(),
        calibration_folds: 0,
    };
    // A calibration the data cannot support (too few images for k) leaves the detector
    // without thresholds rather than failing the run.
    if folds >= 2 {
        if let Ok(c) = calibrate(&state, folds) {
            let n = state.normal.first().map_or(0, |v| v.len() / dim.max(1));
            state.calibration = c;
            state.calibration_folds = folds.min(n).max(2);
        }
    }
    Ok(state)
}

/// Cross-fitted scores of the normal training images: image `i` is in fold `i mod folds`, and
/// is scored (every view, averaged as usual) by a scorer fitted on the other folds. Sorted
/// ascending per scorer. The run's own scorer still fits all normal images, so its recorded
/// AUC is unchanged; these scores come from scorers fitted on (folds−1)/folds of them, so a
/// threshold from them errs towards flagging slightly fewer normal images.
pub fn calibrate(
    state: &ScorerState,
    folds: usize,
) -> Result<BTreeMap<ScorerKind, Vec<f32>>, ScoreError> {
    let n = state
        .normal
        .first()
        .map_or(0, |v| v.len() / state.dim.max(1));
    let folds = folds.min(n).max(2);
    // The views are independent: cross-fitted in parallel, averaged in view order.
    let per_view = state
        .normal
        .par_iter()
        .map(|normal| calibrate_view(state, normal, n, folds))
        .collect::<Result<Vec<_>, _>>()?;
    let mean = average_views(per_view);
    let mut calib = state.finish(mean);
    for v in calib.values_mut() {
        v.sort_by(|a, b| a.total_cmp(b));
    }
    // Scorers that the state scores but that are not configured are not thresholds.
    calib.retain(|k, _| state.config.scorers.contains(k));
    Ok(calib)
}

/// One view's cross-fitted scores of its `n` normal training embeddings `normal`.
fn calibrate_view(
    state: &ScorerState,
    normal: &[f32],
    n: usize,
    folds: usize,
) -> Result<ViewScores, ScoreError> {
    let dim = state.dim;
    let mut out: ViewScores = BTreeMap::new();
    for f in 0..folds {
        let (mut fit, mut held) = (Vec::new(), Vec::new());
        let mut held_rows = Vec::new();
        for (i, row) in normal.chunks_exact(dim).enumerate() {
            if i % folds == f {
                held.extend_from_slice(row);
                held_rows.push(i);
            } else {
                fit.extend_from_slice(row);
            }
        }
        let s = score_view(
            &state.config,
            &fit,
            &held,
            dim,
            state.class_direction.as_deref(),
        )?;
        for (k, v) in s {
            let acc = out.entry(k).or_insert_with(|| vec![0.0; n]);
            for (&i, x) in held_rows.iter().zip(v) {
                acc[i] = x;
            }
        }
    }
    Ok(out)
}

/// The threshold (flag when score > threshold) that flags at most a fraction `fpr` of the
/// ascending `sorted` calibration scores: the value with ⌊fpr·n⌋ scores above it.
pub fn threshold_at_fpr(sorted: &[f32], fpr: f64) -> Option<f32> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&fpr) {
        return None;
    }
    let n = sorted.len();
    let above = ((fpr * n as f64).floor() as usize).min(n);
    if above == n {
        // Flag everything: just below the smallest score.
        return Some(f32::NEG_INFINITY);
    }
    Some(sorted[n - 1 - above])
}

/// The `q`-quantile (0..=1, linear interpolation) of ascending `sorted`.
pub fn quantile(sorted: &[f32], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let t = pos - lo as f64;
    Some(f64::from(sorted[lo]) * (1.0 - t) + f64::from(sorted[hi]) * t)
}

/// One operating point of a scorer on labelled images: flag when score > `threshold`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OperatingPoint {
    pub threshold: f32,
    pub flagged: usize,
    pub fpr: f64,
    pub recall: f64,
    pub precision: f64,
    pub f1: f64,
}

/// Operating points chosen on labelled images (the run's test set): the best F1, and the
/// highest recall whose false positive rate is at most each of `fprs`. `None` without both
/// classes.
pub fn operating_points(
    scores: &[f32],
    labels: &[bool],
    fprs: &[f64],
) -> Option<(OperatingPoint, Vec<OperatingPoint>)> {
    let pos = labels.iter().filter(|&&a| a).count();
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 || scores.len() != labels.len() {
        return None;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut points = Vec::new();
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut i = 0;
    while i < idx.len() {
        let v = scores[idx[i]];
        while i < idx.len() && scores[idx[i]] == v {
            if labels[idx[i]] {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        let threshold = idx.get(i).map_or(f32::NEG_INFINITY, |&j| scores[j]);
        let recall = tp as f64 / pos as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        let f1 = if tp == 0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        points.push(OperatingPoint {
            threshold,
            flagged: tp + fp,
            fpr: fp as f64 / neg as f64,
            recall,
            precision,
            f1,
        });
    }
    let best = *points.iter().max_by(|a, b| a.f1.total_cmp(&b.f1))?;
    let at = fprs
        .iter()
        .map(|&f| {
            points
                .iter()
                .filter(|p| p.fpr <= f)
                .max_by(|a, b| a.recall.total_cmp(&b.recall).then(b.fpr.total_cmp(&a.fpr)))
                .copied()
                .unwrap_or(OperatingPoint {
                    threshold: f32::INFINITY,
                    flagged: 0,
                    fpr: 0.0,
                    recall: 0.0,
                    precision: 0.0,
                    f1: 0.0,
                })
        })
        .collect();
    Some((best, at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::{combine_views, rank_normalise};

    fn cfg(scorers: Vec<ScorerKind>) -> ScoreConfig {
        ScoreConfig {
            scorers,
            lof_k: 3,
            knn_k: 2,
            ..ScoreConfig::default()
        }
    }

    fn blob(n: usize, dim: usize, seed: u32, centre: f32) -> Vec<f32> {
        // A small deterministic pseudo-random cloud.
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n * dim)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                centre + (s % 1000) as f32 / 1000.0 - 0.5
            })
            .collect()
    }

    #[test]
    fn rank_against_matches_rank_normalise_on_the_set() {
        let v = [3.0, 1.0, 2.0, 2.0, 5.0];
        let mut sorted = v.to_vec();
        sorted.sort_by(|a: &f32, b| a.total_cmp(b));
        let r = rank_normalise(&v);
        for (x, want) in v.iter().zip(r) {
            assert_eq!(rank_against(&sorted, *x), want);
        }
        // A new value between two set values sits half-way.
        assert_eq!(rank_against(&sorted, 4.0), 4.5 / 5.0);
        assert_eq!(rank_against(&sorted, 0.0), 0.5 / 5.0);
    }

    #[test]
    fn the_state_reproduces_the_evaluation_scores() {
        let dim = 4;
        let normal_a = blob(40, dim, 1, 1.0);
        let normal_b = blob(40, dim, 2, 1.0);
        let test_a: Vec<f32> = [blob(10, dim, 3, 1.0), blob(10, dim, 4, 2.0)].concat();
        let test_b: Vec<f32> = [blob(10, dim, 5, 1.0), blob(10, dim, 6, 2.0)].concat();
        let labels: Vec<bool> = (0..20).map(|i| i >= 10).collect();
        let mut c = cfg(vec![
            ScorerKind::KnnCosine,
            ScorerKind::Lof,
            ScorerKind::Mahalanobis,
            ScorerKind::Ensemble,
        ]);
        c.ensemble = vec![ScorerKind::KnnCosine, ScorerKind::Mahalanobis];
        let va = score_view(&c, &normal_a, &test_a, dim, None).unwrap();
        let vb = score_view(&c, &normal_b, &test_b, dim, None).unwrap();
        let test_mean = average_views(vec![va.clone(), vb.clone()]);
        let ev = combine_views(
            &c,
            1,
            vec![("identity".into(), va), ("rot90".into(), vb)],
            &labels,
        )
        .unwrap();
        let state = fit_state(&c, vec![normal_a, normal_b], dim, None, &test_mean, 5).unwrap();
        let again = state.score(&[test_a, test_b]).unwrap();
        assert_eq!(again, ev.scores);
        // Calibration: one sorted score per normal image, per configured scorer.
        assert_eq!(state.calibration.len(), 4);
        for v in state.calibration.values() {
            assert_eq!(v.len(), 40);
            assert!(v.windows(2).all(|w| w[0] <= w[1]));
        }
    }

    #[test]
    fn thresholds_flag_the_asked_fraction() {
        let sorted: Vec<f32> = (0..100).map(|i| i as f32).collect();
        let t = threshold_at_fpr(&sorted, 0.05).unwrap();
        assert_eq!(sorted.iter().filter(|&&s| s > t).count(), 5);
        assert_eq!(threshold_at_fpr(&sorted, 0.0), Some(99.0));
        assert_eq!(threshold_at_fpr(&sorted, 1.0), Some(f32::NEG_INFINITY));
        assert_eq!(threshold_at_fpr(&sorted, 1.5), None);
        assert_eq!(threshold_at_fpr(&[], 0.1), None);
        assert_eq!(quantile(&sorted, 0.5), Some(49.5));
    }

    #[test]
    fn operating_points_on_labelled_scores() {
        // Normal 0.1..0.4, anomalies 0.35, 0.8, 0.9.
        let s = [0.1, 0.2, 0.3, 0.4, 0.35, 0.8, 0.9];
        let l = [false, false, false, false, true, true, true];
        let (best, at) = operating_points(&s, &l, &[0.0, 0.25]).unwrap();
        // Flag 0.8 and 0.9: precision 1, recall 2/3, F1 0.8; flagging down to 0.35 too
        // adds the normal 0.4: precision 3/4, recall 1, F1 6/7.
        assert!((best.f1 - 6.0 / 7.0).abs() < 1e-12, "{best:?}");
        assert_eq!(best.threshold, 0.3);
        assert_eq!(at[0].recall, 2.0 / 3.0);
        assert_eq!(at[0].threshold, 0.4);
        assert_eq!(at[1].recall, 1.0);
        assert!(operating_points(&s, &[false; 7], &[0.1]).is_none());
    }
}
