//! A run's detector on disk: `runs/<id>/detector.safetensors`, one safetensors file holding
//! the model's tensors (under the model's own names, so it loads as a model file too), the
//! fitted scorer's tensors (`scorer.*`), and in the header's metadata a readable TOML
//! description ([`DetectorMeta`], also written as `detector.toml` by an export) and a SHA-256
//! of everything else. Written atomically; read back with the checksum and every shape checked,
//! each failure naming the file.
//!
//! Scorer tensors: `scorer.view<V>.normal` `[n × dim]` (the normal training embeddings seen
//! through view V, identity = 0), `scorer.view<V>.source` `[h·w]` i64 (per output pixel of a
//! plane, the source pixel the view takes it from; −1 = zero), `scorer.class_direction`
//! `[dim]`, `scorer.ensemble_reference.<scorer>` and `scorer.calibration.<scorer>` (sorted
//! scores).
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::StoreError;
use super::fsutil;
use crate::config::{Config, ScorerKind};
use crate::data::transforms::{expand, TransformTable};
use crate::score::state::{quantile, threshold_at_fpr};
use crate::score::ScorerState;
use crate::train::{Detector, NamedTensor};

pub const DETECTOR_FILE: &str = "detector.safetensors";
/// What `format` says in every detector.
pub const FORMAT: &str = "adalab-detector";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Metadata keys in the safetensors header.
const META_KEY: &str = "adalab.detector";
const SUM_KEY: &str = "adalab.sha256";
/// The false positive rates whose thresholds the description lists.
pub const LISTED_FPRS: [f64; 4] = [0.01, 0.05, 0.1, 0.2];

/// How images become model inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preprocessing {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// `pixel / 255` (8-bit images; 16-bit ones are reduced to 8 bits first).
    pub scale: String,
    pub resize: String,
    pub convert: String,
    pub layout: String,
}

/// The network, enough to rebuild its forward pass anywhere.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Architecture {
    pub widths: Vec<usize>,
    pub convs_per_stage: usize,
    pub padding: usize,
    pub embedding_dim: usize,
    pub batchnorm_eps: f32,
    pub forward: String,
}

/// The scorer part of the description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScorerMeta {
    /// The configured scorers; the first is the primary one.
    pub scorers: Vec<ScorerKind>,
    pub knn_k: usize,
    pub lof_k: usize,
    pub shrinkage: f32,
    pub normalize: bool,
    pub ensemble: Vec<ScorerKind>,
    /// Test-time views, identity first; scores are averaged over them.
    pub views: Vec<String>,
    pub normal_images: usize,
    pub dim: usize,
}

/// Thresholds calibrated on normal training images the scorer did not fit on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdMeta {
    pub method: String,
    pub folds: usize,
    pub images: usize,
    /// `scorer → { "fpr=0.05" = threshold, … }`: flag an image when its score is above.
    pub at_fpr: BTreeMap<ScorerKind, BTreeMap<String, f32>>,
    /// `scorer → { "q50" = …, "q95" = … }` of the calibration scores.
    pub quantiles: BTreeMap<ScorerKind, BTreeMap<String, f64>>,
}

/// The readable description of a detector (`detector.toml` in an export).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DetectorMeta {
    pub format: String,
    pub version: u32,
    pub adalab_version: String,
    pub run: String,
    pub seed: u64,
    pub epoch: usize,
    pub input: Preprocessing,
    pub architecture: Architecture,
    pub head: HeadMeta,
    pub scorer: ScorerMeta,
    pub threshold: ThresholdMeta,
    /// The run's test AUC per scorer (this seed).
    pub auc: BTreeMap<ScorerKind, f64>,
    /// The run's full training config.
    pub config: Config,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeadMeta {
    pub kind: String,
    pub classes: usize,
    pub scale: f32,
    /// Training class names, index = label; the last is the normal class.
    pub class_names: Vec<String>,
}

/// Describes `d` (saved for run `run`).
pub fn describe(d: &Detector, run: &str) -> DetectorMeta {
    let c = &d.config;
    let s = &d.state;
    let calib_n = s.calibration.values().next().map_or(0, Vec::len);
    let at_fpr = s
        .calibration
        .iter()
        .map(|(k, v)| {
            let m = LISTED_FPRS
                .iter()
                .filter_map(|&f| Some((format!("fpr={f}"), threshold_at_fpr(v, f)?)))
                .collect();
            (*k, m)
        })
        .collect();
    let quantiles = s
        .calibration
        .iter()
        .map(|(k, v)| {
            let m = [0.5, 0.9, 0.95, 0.99]
                .iter()
                .filter_map(|&q| Some((format!("q{}", (q * 100.0) as u32), quantile(v, q)?)))
                .collect();
            (*k, m)
        })
        .collect();
    DetectorMeta {
        format: FORMAT.into(),
        version: FORMAT_VERSION,
        adalab_version: env!("CARGO_PKG_VERSION").into(),
        run: run.into(),
        seed: d.seed,
        epoch: d.epoch,
        input: Preprocessing {
            channels: d.shape.0,
            height: d.shape.1,
            width: d.shape.2,
            scale: "pixel / 255 as f32".into(),
            resize: "bilinear (triangle filter, antialiased when shrinking) to height×width, \
                     aspect ratio not kept; no resize when the size matches"
                .into(),
            convert: "1 channel: luma of RGB, (2126 R + 7152 G + 722 B) / 10000 in integers; 3 channels: RGB; \
                      alpha dropped"
                .into(),
            layout: "N×C×H×W, planar".into(),
        },
        architecture: Architecture {
            widths: c.model.widths.clone(),
            convs_per_stage: c.model.convs_per_stage,
            padding: c.model.padding,
            embedding_dim: c.model.embedding_dim,
            batchnorm_eps: crate::model::ops::BN_EPS,
            forward: "per stage: convs_per_stage × (conv3×3 stride 1, zero padding `padding`, no \
                      bias → batchnorm with running statistics → relu), then max-pool 2×2 \
                      stride 2 (floor); flatten C,H,W; embedding = x · backbone.fc.weight \
                      (in × dim) + backbone.fc.bias"
                .into(),
        },
        head: HeadMeta {
            kind: c.head.kind.to_string(),
            classes: d.classes,
            scale: d.head_scale,
            class_names: d.class_names.clone(),
        },
        scorer: ScorerMeta {
            scorers: c.score.scorers.clone(),
            knn_k: c.score.knn_k,
            lof_k: c.score.lof_k,
            shrinkage: c.score.shrinkage,
            normalize: c.score.normalize,
            ensemble: c.score.ensemble.clone(),
            views: expand(&c.score.views).iter().map(|t| t.name()).collect(),
            normal_images: s.normal.first().map_or(0, |v| v.len() / s.dim.max(1)),
            dim: s.dim,
        },
        threshold: ThresholdMeta {
            method: if calib_n == 0 {
                "none (score.calibration_folds = 0)".into()
            } else if s.calibration_folds == 0 {
                "held-out: normal-class training images the run did not draw (unseen by the \
                 network and the scorer), scored by this detector"
                    .into()
            } else {
                "cross-fit: normal training image i is in fold i mod folds and is scored by a \
                 scorer fitted on the other folds"
                    .into()
            },
            folds: s.calibration_folds,
            images: calib_n,
            at_fpr,
            quantiles,
        },
        auc: d.auc.clone(),
        config: c.clone(),
    }
}

/// Per view, the source pixel of every output pixel of a plane (−1 = zero fill).
pub fn view_sources(config: &Config, shape: (usize, usize, usize)) -> Vec<Vec<i64>> {
    let (_, h, w) = shape;
    let views = expand(&config.score.views);
    let table = TransformTable::new(views.clone(), (1, h, w));
    // A plane whose pixel i holds i + 1: the view's output names its source (0 = filled).
    let ids: Vec<f32> = (0..h * w).map(|i| (i + 1) as f32).collect();
    (0..views.len())
        .map(|v| {
            let mut out = Vec::with_capacity(h * w);
            table.apply_into(v, &ids, &mut out);
            out.iter().map(|&x| x as i64 - 1).collect()
        })
        .collect()
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// All tensors of `d`, by name: (dtype, shape, little-endian bytes).
fn tensors(d: &Detector) -> BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)> {
    let mut t = BTreeMap::new();
    for w in &d.weights {
        t.insert(
            w.name.clone(),
            (Dtype::F32, w.shape.clone(), f32_bytes(&w.data)),
        );
    }
    let s = &d.state;
    let dim = s.dim;
    for (v, n) in s.normal.iter().enumerate() {
        t.insert(
            format!("scorer.view{v}.normal"),
            (Dtype::F32, vec![n.len() / dim.max(1), dim], f32_bytes(n)),
        );
    }
    for (v, src) in view_sources(&d.config, d.shape).iter().enumerate() {
        let bytes = src.iter().flat_map(|x| x.to_le_bytes()).collect();
        t.insert(
            format!("scorer.view{v}.source"),
            (Dtype::I64, vec![src.len()], bytes),
        );
    }
    if let Some(c) = &s.class_direction {
        t.insert(
            "scorer.class_direction".into(),
            (Dtype::F32, vec![c.len()], f32_bytes(c)),
        );
    }
    for (k, r) in &s.ensemble_reference {
        t.insert(
            format!("scorer.ensemble_reference.{k}"),
            (Dtype::F32, vec![r.len()], f32_bytes(r)),
        );
    }
    for (k, r) in &s.calibration {
        t.insert(
            format!("scorer.calibration.{k}"),
            (Dtype::F32, vec![r.len()], f32_bytes(r)),
        );
    }
    t
}

/// SHA-256 of the description and every tensor (name, shape, bytes) in name order.
fn checksum<'a>(
    meta: &str,
    tensors: impl Iterator<Item = (&'a str, &'a [usize], &'a [u8])>,
) -> String {
    let mut h = Sha256::new();
    h.update(meta.as_bytes());
    for (name, shape, bytes) in tensors {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((shape.len() as u64).to_le_bytes());
        for s in shape {
            h.update((*s as u64).to_le_bytes());
        }
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
}

/// The file's bytes for detector `d` of run `run`.
pub fn to_bytes(d: &Detector, run: &str) -> Result<Vec<u8>, String> {
    let meta = toml::to_string(&describe(d, run)).map_err(|e| e.to_string())?;
    let t = tensors(d);
    let sum = checksum(
        &meta,
        t.iter()
            .map(|(n, (_, s, b))| (n.as_str(), s.as_slice(), b.as_slice())),
    );
    let views: Vec<(String, TensorView<'_>)> = t
        .iter()
        .map(|(n, (dt, s, b))| {
            TensorView::new(*dt, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| format!("{n}: {e:?}"))
        })
        .collect::<Result<_, _>>()?;
    let info: HashMap<String, String> = [(META_KEY.to_string(), meta), (SUM_KEY.to_string(), sum)]
        .into_iter()
        .collect();
    safetensors::tensor::serialize(views, &Some(info)).map_err(|e| format!("{e:?}"))
}

/// Writes detector `d` of run `run` to `path` atomically; returns its size in bytes.
pub fn write(path: &Path, d: &Detector, run: &str) -> Result<u64, StoreError> {
    let bytes = to_bytes(d, run).map_err(|m| StoreError::invalid(path, m))?;
    fsutil::write_atomic(path, &bytes)?;
    Ok(bytes.len() as u64)
}

/// A detector read back, with its description.
#[derive(Clone, Debug)]
pub struct LoadedDetector {
    pub path: PathBuf,
    pub bytes: u64,
    pub meta: DetectorMeta,
    pub detector: Detector,
}

/// Reads and checks a detector file: a safetensors file with adalab's description, the
/// checksum matching, every tensor of the expected dtype and shape, and the model rebuilt
/// from it. Every failure names the file.
pub fn read(path: &Path) -> Result<LoadedDetector, StoreError> {
    let bytes = std::fs::read(path).map_err(|e| StoreError::io(path, "read", e))?;
    let bad = |m: String| StoreError::invalid(path, m);
    let (_, header) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| bad(format!("not a safetensors file ({e:?})")))?;
    let info = header.metadata().clone().unwrap_or_default();
    let meta_text = info.get(META_KEY).ok_or_else(|| {
        bad(
            "is a safetensors file but not an adalab detector (no description in its header)"
                .into(),
        )
    })?;
    let meta: DetectorMeta = toml::from_str(meta_text)
        .map_err(|e| bad(format!("its description does not parse: {e}")))?;
    if meta.format != FORMAT || meta.version != FORMAT_VERSION {
        return Err(bad(format!(
            "is detector format {} version {}; this adalab reads {FORMAT} version {FORMAT_VERSION}",
            meta.format, meta.version
        )));
    }
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| bad(format!("its tensors do not parse ({e:?})")))?;
    let mut names: Vec<String> = st.names().into_iter().cloned().collect();
    names.sort();
    let mut views = Vec::with_capacity(names.len());
    for n in &names {
        let t = st
            .tensor(n)
            .map_err(|e| bad(format!("tensor `{n}`: {e:?}")))?;
        views.push((n.clone(), t));
    }
    let sum = checksum(
        meta_text,
        views.iter().map(|(n, t)| (n.as_str(), t.shape(), t.data())),
    );
    if info.get(SUM_KEY) != Some(&sum) {
        return Err(bad(
            "fails its checksum: the file was changed or damaged after adalab wrote it".into(),
        ));
    }
    let get = |name: &str, shape: &[usize]| -> Result<Vec<f32>, StoreError> {
        let (_, t) = views
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| bad(format!("tensor `{name}` is missing")))?;
        if t.dtype() != Dtype::F32 || t.shape() != shape {
            return Err(bad(format!(
                "tensor `{name}` is {:?} {:?}, expected F32 {shape:?}",
                t.dtype(),
                t.shape()
            )));
        }
        Ok(t.data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    };
    let c = &meta.config;
    let dim = meta.scorer.dim;
    if dim != c.model.embedding_dim {
        return Err(bad(format!(
            "its scorer has dimension {dim}, its model embeds to {}",
            c.model.embedding_dim
        )));
    }
    let n_views = expand(&c.score.views).len();
    let n_normal = meta.scorer.normal_images;
    let mut normal = Vec::with_capacity(n_views);
    for v in 0..n_views {
        normal.push(get(&format!("scorer.view{v}.normal"), &[n_normal, dim])?);
    }
    let class_direction = if views.iter().any(|(n, _)| n == "scorer.class_direction") {
        Some(get("scorer.class_direction", &[dim])?)
    } else {
        None
    };
    let list = |prefix: &str| -> Result<BTreeMap<ScorerKind, Vec<f32>>, StoreError> {
        let mut out = BTreeMap::new();
        for (n, t) in &views {
            if let Some(k) = n.strip_prefix(prefix) {
                let kind = ScorerKind::parse(k)
                    .ok_or_else(|| bad(format!("tensor `{n}`: unknown scorer `{k}`")))?;
                out.insert(kind, get(n, &[t.shape().first().copied().unwrap_or(0)])?);
            }
        }
        Ok(out)
    };
    let ensemble_reference = list("scorer.ensemble_reference.")?;
    let calibration = list("scorer.calibration.")?;
    let weights: Vec<NamedTensor> = views
        .iter()
        .filter(|(n, _)| !n.starts_with("scorer."))
        .map(|(n, t)| {
            let shape = t.shape().to_vec();
            Ok(NamedTensor {
                name: n.clone(),
                data: get(n, &shape)?,
                shape,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let shape = (meta.input.channels, meta.input.height, meta.input.width);
    if shape != c.data.input_shape() {
        return Err(bad(format!(
            "its input is {}×{}×{}, its config says {:?}",
            shape.0,
            shape.1,
            shape.2,
            c.data.input_shape()
        )));
    }
    let detector = Detector {
        config: c.clone(),
        seed: meta.seed,
        epoch: meta.epoch,
        shape,
        classes: meta.head.classes,
        head_scale: meta.head.scale,
        class_names: meta.head.class_names.clone(),
        weights,
        state: ScorerState {
            config: c.score.clone(),
            dim,
            normal,
            class_direction,
            ensemble_reference,
            calibration,
            calibration_folds: meta.threshold.folds,
        },
        auc: meta.auc.clone(),
    };
    detector.model().map_err(|e| bad(e.to_string()))?;
    Ok(LoadedDetector {
        path: path.to_path_buf(),
        bytes: bytes.len() as u64,
        meta,
        detector,
    })
}

/// Size in bytes of the detector saved in run folder `dir`, if there is one.
pub fn saved_size(dir: &Path) -> Option<u64> {
    std::fs::metadata(dir.join(DETECTOR_FILE))
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

/// Whether a run has a saved detector, as front ends show it (from the file's size and the
/// run's record: nothing is read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DetectorStatus {
    /// Saved: its size in bytes, and whether its thresholds were calibrated
    /// (`score.calibration_folds > 0`).
    Saved { bytes: u64, calibrated: bool },
    /// None saved: why, in words ([`why_missing`]).
    Missing(String),
}

/// The detector status of `run`.
pub fn status(run: &super::LoadedRun) -> DetectorStatus {
    match saved_size(&run.dir) {
        Some(bytes) => DetectorStatus::Saved {
            bytes,
            calibrated: run.record.config.score.calibration_folds > 0,
        },
        None => DetectorStatus::Missing(why_missing(run)),
    }
}

/// Why a run has no detector file, in words.
pub fn why_missing(run: &super::LoadedRun) -> String {
    use super::RunStatus;
    let finished_seed = run
        .record
        .seeds
        .iter()
        .any(|s| s.status == RunStatus::Finished);
    if !run.record.config.run.save_model {
        "it was trained with run.save_model = false".into()
    } else if run.status == RunStatus::Running {
        "it is still running (the detector is saved when its first seed finishes)".into()
    } else if !finished_seed {
        format!(
            "it {} before its first seed finished",
            match run.status {
                RunStatus::Failed => "failed",
                _ => "was interrupted",
            }
        )
    } else {
        format!(
            "it was saved by adalab {}, which did not save detectors; train it again",
            run.record.adalab_version
        )
    }
}

impl super::Store {
    /// The detector of run `id` (exact id or unique prefix), checked; a run without one is an
    /// error saying why.
    pub fn load_detector(&self, id: &str) -> Result<LoadedDetector, StoreError> {
        let run = self.load_run(id)?;
        let path = run.dir.join(DETECTOR_FILE);
        if !path.exists() {
            return Err(StoreError::invalid(
                &run.dir,
                format!(
                    "run `{}` has no saved detector ({DETECTOR_FILE}): {}",
                    run.record.id,
                    why_missing(&run)
                ),
            ));
        }
        read(&path)
    }
}
