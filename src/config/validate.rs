//! Range and combination checks that need nothing but the config itself. Every message names
//! the key and says what range is allowed.

use super::{
    Config, ConfigError, DataConfig, DatasetKind, HeadKind, LabelMode, ScorerKind, TransformSet,
};

/// Smallest and largest `data.size`.
pub const SIZE_RANGE: (usize, usize) = (4, 512);

/// Largest scale `head.s` / `head.alpha` accepted: far above any useful value (AdaCos picks
/// s ≈ 3–10, ArcFace papers use 30–64), low enough that logits stay finite in f32.
pub const MAX_SCALE: f32 = 256.0;
/// Largest `train.seed + run.repeat − 1`: TOML integers are signed 64-bit.
pub const MAX_SEED: u64 = i64::MAX as u64;

fn err(key: &str, message: impl Into<String>) -> Result<(), ConfigError> {
    Err(ConfigError::new(key, message))
}

/// `data.path`, `data.channels`, `data.size`, `data.test_fraction` and what each dataset kind
/// allows of them.
fn check_images(d: &DataConfig) -> Result<(), ConfigError> {
    if let Some(c) = d.channels {
        if c != 1 && c != 3 {
            return err(
                "data.channels",
                format!("is {c}, must be 1 (grey) or 3 (RGB)"),
            );
        }
    }
    if let Some(s) = d.size {
        let (lo, hi) = SIZE_RANGE;
        in_range("data.size", s, lo, hi)?;
    }
    if !(d.test_fraction.is_finite() && d.test_fraction > 0.0 && d.test_fraction < 1.0) {
        return err(
            "data.test_fraction",
            format!("is {}, must be above 0 and below 1", d.test_fraction),
        );
    }
    // (A folder dataset's folder may still come from `--data-dir`: `Config::check` asks.)
    if let Some((c, h, _)) = d.dataset.builtin_shape() {
        if d.channels.is_some_and(|x| x != c) {
            return err(
                "data.channels",
                format!(
                    "is {}, but {} images have {c} channel{}: leave it out for a built-in \
                         dataset",
                    d.channels.unwrap_or(0),
                    d.dataset,
                    if c == 1 { "" } else { "s" }
                ),
            );
        }
        if d.size.is_some_and(|x| x != h) {
            return err(
                "data.size",
                format!(
                    "is {}, but {} images are {h}×{h}: leave it out for a built-in dataset",
                    d.size.unwrap_or(0),
                    d.dataset
                ),
            );
        }
    }
    if d.dataset == DatasetKind::Mvtec && d.reference.as_ref().is_some_and(|r| !r.is_empty()) {
        return err(
            "data.reference",
            "mvtec has no reference classes (its classes are good and defect): leave \
             data.reference out or set it to []",
        );
    }
    Ok(())
}

fn in_range(key: &str, v: usize, lo: usize, hi: usize) -> Result<(), ConfigError> {
    if v < lo || v > hi {
        return err(key, format!("is {v}, must be {lo} to {hi}"));
    }
    Ok(())
}

/// Rotations are multiples of 90°; shifts within ±8 pixels; no empty lists.
fn check_set(prefix: &str, set: &TransformSet) -> Result<(), ConfigError> {
    if set.rotations.is_empty() {
        return err(
            &format!("{prefix}.rotations"),
            "is empty, list at least [0]",
        );
    }
    if let Some(r) = set
        .rotations
        .iter()
        .find(|r| !matches!(r, 0 | 90 | 180 | 270))
    {
        return err(
            &format!("{prefix}.rotations"),
            format!("has {r}, rotations must be 0, 90, 180 or 270 degrees"),
        );
    }
    if set.shifts.is_empty() {
        return err(&format!("{prefix}.shifts"), "is empty, list at least [0]");
    }
    if let Some(v) = set.shifts.iter().find(|v| v.abs() > 8) {
        return err(
            &format!("{prefix}.shifts"),
            format!("has {v}, shifts must be -8 to 8 pixels"),
        );
    }
    Ok(())
}

impl Config {
    /// The scorers' neighbour counts against the normal train images they search
    /// (`normal_train` of them); `data.normal_train_count = "all"` is checked once the
    /// dataset says how many that is.
    pub fn check_neighbours(&self, normal_train: usize) -> Result<(), ConfigError> {
        let s = &self.score;
        let uses = |k: ScorerKind| {
            s.scorers.contains(&k)
                || (s.scorers.contains(&ScorerKind::Ensemble) && s.ensemble.contains(&k))
        };
        let count = match self.data.normal_train_count {
            super::ImageCount::All => format!("the {normal_train} normal train images"),
            super::ImageCount::Count(n) => format!("data.normal_train_count = {n}"),
        };
        // LOF leaves each training point out of its own neighbours: it needs k + 1 of them.
        if uses(ScorerKind::Lof) && s.lof_k >= normal_train {
            return err(
                "score.lof_k",
                format!("is {}, LOF needs fewer neighbours than {count}", s.lof_k),
            );
        }
        if uses(ScorerKind::KnnCosine) && s.knn_k > normal_train {
            return err(
                "score.knn_k",
                format!("is {}, must be at most {count}", s.knn_k),
            );
        }
        Ok(())
    }

    /// Checks ranges and combinations once; the message names the key and the allowed range.
    /// [`Config::check`] adds what depends on the dataset and the build.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let d = &self.data;
        in_range("data.reference_count", d.reference_count, 1, 10_000_000)?;
        if let Some(n) = d.normal_train_count.fixed() {
            if !(2..=10_000_000).contains(&n) {
                return err(
                    "data.normal_train_count",
                    format!("is {n}, must be 2 to 10000000 or \"all\""),
                );
            }
        }
        if d.anomalous.listed().contains(&d.normal) {
            return err(
                "data.anomalous",
                format!(
                    "the anomalous class must differ from the normal class ({})",
                    d.normal
                ),
            );
        }
        check_images(d)?;
        let tr = &self.transforms;
        if d.dataset == DatasetKind::Mvtec && tr.labels == LabelMode::None {
            return err(
                "transforms.labels",
                "is \"none\", but mvtec has only the good images to train on: train on \
                 transform classes, e.g. transforms.labels = \"transform\", \
                 transforms.rotations = [0, 90, 180, 270], transforms.flip = true (as the \
                 fashion-sneaker-boot-adacos-fixed-geom profile does)",
            );
        }
        if d.reference.as_ref().is_some_and(|r| r.is_empty()) && tr.labels == LabelMode::None {
            return err(
                "data.reference",
                "is empty, which leaves only the normal class to train on: train on \
                 transform classes (transforms.labels = \"transform\" with a transform set), \
                 or name reference classes (or leave the key out for all others)",
            );
        }
        if d.anomalous.is_rest() && d.reference.is_none() && tr.labels == LabelMode::None {
            return err(
                "data.anomalous",
                "is \"rest\": every class but the normal one is anomalous, which leaves no \
                 reference classes to train on: train on transform classes \
                 (transforms.labels = \"transform\" with a transform set, as the -geom \
                 profiles do), or list data.reference (the rest are then the anomalous ones)",
            );
        }
        check_set("transforms", &tr.set())?;
        if tr.labels != LabelMode::None && tr.set().is_identity() {
            return err(
                "transforms.labels",
                format!(
                    "is \"{}\", but the transform set is only the identity: give \
                     transforms.rotations, transforms.flip or transforms.shifts",
                    tr.labels.as_str()
                ),
            );
        }
        if tr.labels == LabelMode::None && !tr.set().is_identity() {
            return err(
                "transforms.labels",
                "is \"none\", so the transform set would be unused: set it to \"transform\" \
                 or \"class-transform\" (or use train.augment for augmentation)",
            );
        }
        let m = &self.model;
        if m.widths.is_empty() || m.widths.len() > 4 {
            return err(
                "model.widths",
                format!("has {} stages, must have 1 to 4", m.widths.len()),
            );
        }
        if let Some(w) = m.widths.iter().find(|&&w| w == 0 || w > 1024) {
            return err(
                "model.widths",
                format!("stage width {w} is out of range, must be 1 to 1024"),
            );
        }
        in_range("model.convs_per_stage", m.convs_per_stage, 1, 4)?;
        in_range("model.padding", m.padding, 0, 1)?;
        in_range("model.embedding_dim", m.embedding_dim, 1, 4096)?;
        let h = &self.head;
        if !(h.s.is_finite() && h.s > 0.0 && h.s <= MAX_SCALE) {
            return err(
                "head.s",
                format!("is {}, must be above 0 and at most {MAX_SCALE}", h.s),
            );
        }
        if !(h.m.is_finite() && h.m >= 0.0) {
            return err("head.m", format!("is {}, must be ≥ 0", h.m));
        }
        if h.kind == HeadKind::Arcface && h.m >= std::f32::consts::FRAC_PI_2 {
            return err(
                "head.m",
                format!(
                    "is {}, the ArcFace margin must be below π/2 ≈ 1.5708 radians",
                    h.m
                ),
            );
        }
        if h.kind == HeadKind::Cosface && h.m >= 1.0 {
            return err(
                "head.m",
                format!("is {}, the CosFace margin must be below 1", h.m),
            );
        }
        if let Some(a) = h.alpha {
            if !(a.is_finite() && a > 0.0 && a <= MAX_SCALE) {
                return err(
                    "head.alpha",
                    format!("is {a}, must be above 0 and at most {MAX_SCALE}"),
                );
            }
        }
        let t = &self.train;
        in_range("train.epochs", t.epochs, 1, 10_000)?;
        if t.batch_size < 2 || t.batch_size > 4096 {
            return err(
                "train.batch_size",
                format!(
                    "is {}, must be 2 to 4096 (BatchNorm needs at least two samples)",
                    t.batch_size
                ),
            );
        }
        if !(t.lr.is_finite() && t.lr > 0.0 && t.lr < 10.0) {
            return err(
                "train.lr",
                format!("is {}, must be above 0 and below 10", t.lr),
            );
        }
        if !(t.weight_decay.is_finite() && (0.0..=1.0).contains(&t.weight_decay)) {
            return err(
                "train.weight_decay",
                format!("is {}, must be 0 to 1", t.weight_decay),
            );
        }
        if !(t.momentum.is_finite() && (0.0..1.0).contains(&t.momentum)) {
            return err(
                "train.momentum",
                format!("is {}, must be at least 0 and below 1", t.momentum),
            );
        }
        in_range("train.threads", t.threads, 0, 256)?;
        in_range("train.augment.shift", t.augment.shift, 0, 8)?;
        in_range("run.repeat", self.run.repeat, 1, 1000)?;
        let last_seed = t.seed.checked_add(self.run.repeat as u64 - 1);
        if last_seed.is_none_or(|s| s > MAX_SEED) {
            return err(
                "train.seed",
                format!(
                    "is {}, must be 0 to {} (the last of run.repeat = {} seeds must fit in a \
                     signed 64-bit integer)",
                    t.seed,
                    MAX_SEED - (self.run.repeat as u64 - 1),
                    self.run.repeat
                ),
            );
        }
        let s = &self.score;
        if s.scorers.is_empty() {
            return err("score.scorers", "name at least one scorer");
        }
        for (i, a) in s.scorers.iter().enumerate() {
            if s.scorers[..i].contains(a) {
                return err("score.scorers", format!("`{a}` is listed twice"));
            }
        }
        if s.scorers.contains(&ScorerKind::ClassCosine) && tr.labels == LabelMode::Transform {
            return err(
                "score.scorers",
                "class-cosine needs the normal class's weight, but with transforms.labels = \
                 \"transform\" the classes are transforms",
            );
        }
        if s.scorers.contains(&ScorerKind::Ensemble) {
            if s.ensemble.len() < 2 {
                return err("score.ensemble", "name at least two scorers to combine");
            }
            for (i, k) in s.ensemble.iter().enumerate() {
                if *k == ScorerKind::Ensemble {
                    return err("score.ensemble", "cannot contain ensemble itself");
                }
                if s.ensemble[..i].contains(k) {
                    return err("score.ensemble", format!("`{k}` is listed twice"));
                }
                if *k == ScorerKind::ClassCosine && !h.kind.is_cosine() {
                    return err(
                        "score.ensemble",
                        format!("class-cosine needs a cosine head, not {}", h.kind),
                    );
                }
            }
        }
        if !(s.shrinkage.is_finite() && (0.0..=1.0).contains(&s.shrinkage)) {
            return err(
                "score.shrinkage",
                format!("is {}, must be 0 to 1", s.shrinkage),
            );
        }
        check_set("score.views", &s.views)?;
        if s.scorers.contains(&ScorerKind::ClassCosine) && !h.kind.is_cosine() {
            return err(
                "score.scorers",
                format!(
                    "class-cosine needs a cosine head (arcface, cosface, adacos-*), not {}",
                    h.kind
                ),
            );
        }
        in_range("score.lof_k", s.lof_k, 1, 100)?;
        in_range("score.knn_k", s.knn_k, 1, 100)?;
        if let Some(n) = d.normal_train_count.fixed() {
            self.check_neighbours(n)?;
        }
        if s.eval_every == 0 {
            return err("score.eval_every", "is 0, must be at least 1");
        }
        if s.calibration_folds == 1 || s.calibration_folds > 100 {
            return err(
                "score.calibration_folds",
                format!(
                    "is {}, must be 0 (no calibration) or 2 to 100",
                    s.calibration_folds
                ),
            );
        }
        Ok(())
    }
}
