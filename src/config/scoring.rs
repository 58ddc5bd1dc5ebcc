//! The configuration of scoring and of self-supervised transform classes: scorers, test-time
//! views, transform sets, label modes and sampling.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Default number of folds of the normal training images for calibration by cross-fitting.
pub const CALIBRATION_FOLDS: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScorerKind {
    Lof,
    KnnCosine,
    ClassCosine,
    Mahalanobis,
    Ensemble,
}

impl ScorerKind {
    pub const ALL: [ScorerKind; 5] = [
        ScorerKind::Lof,
        ScorerKind::KnnCosine,
        ScorerKind::ClassCosine,
        ScorerKind::Mahalanobis,
        ScorerKind::Ensemble,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ScorerKind::Lof => "lof",
            ScorerKind::KnnCosine => "knn-cosine",
            ScorerKind::ClassCosine => "class-cosine",
            ScorerKind::Mahalanobis => "mahalanobis",
            ScorerKind::Ensemble => "ensemble",
        }
    }
    pub fn parse(s: &str) -> Option<ScorerKind> {
        ScorerKind::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

impl fmt::Display for ScorerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoreConfig {
    /// Scorers to evaluate; the first is the primary one (shown and sorted by).
    pub scorers: Vec<ScorerKind>,
    /// Neighbours for LOF.
    pub lof_k: usize,
    /// Neighbours averaged by knn-cosine (1 = nearest neighbour).
    pub knn_k: usize,
    /// Evaluate the test AUC every N epochs (the last epoch is always evaluated).
    pub eval_every: usize,
    /// Mahalanobis: the covariance is shrunk towards (trace/D)·I by this fraction.
    pub shrinkage: f32,
    /// Scale every embedding to unit length before scoring.
    pub normalize: bool,
    /// The scorers whose rank-normalised scores `ensemble` averages.
    pub ensemble: Vec<ScorerKind>,
    /// Test-time views: every view of the normal-train and test images is scored, and the raw
    /// scores are averaged over views (the identity alone is recorded too).
    pub views: TransformSet,
    /// Thresholds are calibrated on up to 1000 spare normal-class training images (not drawn
    /// for the run); without spare images, by cross-fitting over this many folds of the normal
    /// training images (each fold scored by a scorer fitted on the others). 0 = no
    /// calibration. The run's scorer always fits all normal training images.
    pub calibration_folds: usize,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        ScoreConfig {
            scorers: vec![ScorerKind::KnnCosine, ScorerKind::Lof],
            lof_k: 5,
            knn_k: 1,
            eval_every: 1,
            shrinkage: 0.1,
            normalize: false,
            ensemble: vec![ScorerKind::KnnCosine, ScorerKind::Mahalanobis],
            views: TransformSet::default(),
            calibration_folds: CALIBRATION_FOLDS,
        }
    }
}

/// Geometric transforms: rotations (degrees, multiples of 90) × horizontal flip × integer
/// shifts (on both axes, zero fill). The identity is always the first transform.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransformSet {
    pub rotations: Vec<u32>,
    pub flip: bool,
    pub shifts: Vec<i32>,
}

impl Default for TransformSet {
    fn default() -> Self {
        TransformSet {
            rotations: vec![0],
            flip: false,
            shifts: vec![0],
        }
    }
}

impl TransformSet {
    /// Whether the set holds more than the identity.
    pub fn is_identity(&self) -> bool {
        self.rotations.iter().all(|r| r % 360 == 0)
            && !self.flip
            && self.shifts.iter().all(|s| *s == 0)
    }
}

/// What a training image's class is in self-supervised training.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabelMode {
    /// The data class (reference classes and the normal class), as published.
    None,
    /// Which transform was applied: as many classes as transforms.
    Transform,
    /// Data class × transform.
    ClassTransform,
}

impl LabelMode {
    pub const ALL: [LabelMode; 3] = [
        LabelMode::None,
        LabelMode::Transform,
        LabelMode::ClassTransform,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            LabelMode::None => "none",
            LabelMode::Transform => "transform",
            LabelMode::ClassTransform => "class-transform",
        }
    }
    pub fn parse(s: &str) -> Option<LabelMode> {
        LabelMode::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

/// Which (image, transform) pairs an epoch visits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sampling {
    /// Every training image once, with a transform drawn at random (seeded).
    Random,
    /// Every training image in every transform.
    All,
}

impl Sampling {
    pub const ALL: [Sampling; 2] = [Sampling::Random, Sampling::All];
    pub fn as_str(self) -> &'static str {
        match self {
            Sampling::Random => "random",
            Sampling::All => "all",
        }
    }
    pub fn parse(s: &str) -> Option<Sampling> {
        Sampling::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

/// Self-supervised transform classes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransformConfig {
    pub rotations: Vec<u32>,
    pub flip: bool,
    pub shifts: Vec<i32>,
    pub labels: LabelMode,
    pub sample: Sampling,
}

impl Default for TransformConfig {
    fn default() -> Self {
        let set = TransformSet::default();
        TransformConfig {
            rotations: set.rotations,
            flip: set.flip,
            shifts: set.shifts,
            labels: LabelMode::None,
            sample: Sampling::Random,
        }
    }
}

impl TransformConfig {
    /// The transform set training uses.
    pub fn set(&self) -> TransformSet {
        TransformSet {
            rotations: self.rotations.clone(),
            flip: self.flip,
            shifts: self.shifts.clone(),
        }
    }
}
