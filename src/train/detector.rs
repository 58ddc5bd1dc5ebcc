//! A trained detector: the model's weights, its input shape and the fitted scorer
//! ([`crate::score::ScorerState`]), built after a seed's final evaluation ([`build`]) and
//! applied to new images ([`Detector::score_images`]). The store writes and reads it
//! (`store::detector`); training only sends it in an [`super::Event::DetectorReady`].
//!
//! Applying it reproduces the run's evaluation exactly on the same images: the model is
//! rebuilt from the saved f32 tensors, images are embedded in passes of the same size as at
//! training time, and the scorer is the same code on the same embeddings.
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::AtomicBool;

use dfdx::prelude::*;

use super::error::TrainError;
use super::evaluate::{embed, ViewEmbeddings};
use crate::config::{Config, LabelMode, ScorerKind};
use crate::data::transforms::{expand, TransformTable};
use crate::data::ExperimentSplit;
use crate::model::net::Model;
use crate::model::ops::OpsDevice;
use crate::model::params::{ParamVisitor, Params};
use crate::score::state::{average_views, fit_state};
use crate::score::{self, Evaluation, ScorerState};

/// One named tensor of the model, row-major f32.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Everything needed to score new images like the run scored its test images.
#[derive(Clone, PartialEq)]
pub struct Detector {
    /// The run's resolved config (model, head, data preprocessing, scorers, views).
    pub config: Config,
    pub seed: u64,
    /// The epoch of the evaluation the state matches.
    pub epoch: usize,
    /// Input (channels, height, width).
    pub shape: (usize, usize, usize),
    /// Classes of the head.
    pub classes: usize,
    /// The head's final logit scale (dynamic AdaCos adapts it).
    pub head_scale: f32,
    /// The training class names (index = label; the last one is the normal class).
    pub class_names: Vec<String>,
    pub weights: Vec<NamedTensor>,
    pub state: ScorerState,
    /// The run's test AUC per scorer for this seed.
    pub auc: BTreeMap<ScorerKind, f64>,
}

impl fmt::Debug for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Detector")
            .field("seed", &self.seed)
            .field("epoch", &self.epoch)
            .field("shape", &self.shape)
            .field("classes", &self.classes)
            .field("tensors", &self.weights.len())
            .field("views", &self.state.normal.len())
            .field("dim", &self.state.dim)
            .finish()
    }
}

/// Why a detector could not be applied.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DetectorError {
    #[error("the model cannot be rebuilt: {0}")]
    Model(String),
    #[error("tensor `{name}` is missing")]
    MissingTensor { name: String },
    #[error("tensor `{name}` has shape {have:?}, the model needs {want:?}")]
    TensorShape {
        name: String,
        have: Vec<usize>,
        want: Vec<usize>,
    },
    #[error("{images} values is not a whole number of {c}×{h}×{w} images")]
    ImageShape {
        images: usize,
        c: usize,
        h: usize,
        w: usize,
    },
    #[error("scoring failed: {0}")]
    Score(#[from] crate::score::ScoreError),
    #[error("stopped")]
    Interrupted,
}

/// Copies every tensor of a model out.
fn collect<D: OpsDevice>(model: &mut Model<D>) -> Vec<NamedTensor> {
    struct Collect(Vec<NamedTensor>);
    impl<D: Device<f32>> ParamVisitor<D> for Collect {
        fn visit<S: Shape>(&mut self, name: &str, t: &mut Tensor<S, f32, D>, _: bool) {
            self.0.push(NamedTensor {
                name: name.to_string(),
                shape: t.shape().concrete().into(),
                data: t.as_vec(),
            });
        }
    }
    let mut c = Collect(Vec::new());
    model.visit_params(&mut c);
    c.0
}

/// The normal class's unit head direction, when class-cosine scores (as evaluation does).
fn class_direction<D: OpsDevice>(
    model: &Model<D>,
    config: &Config,
    normal_class: usize,
) -> Option<Vec<f32>> {
    score::base_scorers(&config.score)
        .contains(&ScorerKind::ClassCosine)
        .then(|| {
            let n_t = match config.transforms.labels {
                LabelMode::ClassTransform => expand(&config.transforms.set()).len(),
                _ => 1,
            };
            model.head.class_direction(normal_class * n_t)
        })
}

/// Builds the detector of a trained model whose final evaluation is `eval`: the normal
/// training images through every view (the same passes as evaluation), and with the ensemble
/// the test images too (its rank reference), then fits the scorer state and its calibration.
/// `embedded` are that evaluation's embeddings ([`super::evaluate::evaluate_keeping`] with this
/// model): when they cover every view they are used as they are, else (`None`) the images are
/// embedded again, with the same result.
#[allow(clippy::too_many_arguments)]
pub fn build<D: OpsDevice>(
    dev: &D,
    model: &mut Model<D>,
    config: &Config,
    split: &ExperimentSplit,
    seed: u64,
    eval: &Evaluation,
    embedded: Option<ViewEmbeddings>,
    spare: &[f32],
    cancel: &AtomicBool,
) -> Result<Detector, TrainError> {
    let epoch = eval.epoch;
    let class_dir = class_direction(model, config, split.class_names.len() - 1);
    let chunk = crate::model::memory::eval_chunk(config, split.shape);
    let views = expand(&config.score.views);
    let table = TransformTable::new(views.clone(), split.shape);
    // The ensemble's reference: the members' view-averaged test scores, which the evaluation
    // kept when the members are configured scorers; else the test images' scores are taken
    // again.
    let with_ensemble = config.score.scorers.contains(&ScorerKind::Ensemble);
    let members_recorded = config
        .score
        .ensemble
        .iter()
        .all(|k| eval.scores.contains_key(k));
    let embed_test = with_ensemble && !members_recorded;
    let dim = model.backbone.dim;
    let n_test = split.test_anomalous.len();
    let whole = |e: &ViewEmbeddings| {
        e.len() == views.len()
            && e.iter()
                .all(|(n, t)| n.len() == split.normal_rows.len() * dim && t.len() == n_test * dim)
    };
    let mut kept = embedded.filter(whole).map(Vec::into_iter);
    let mut normal = Vec::with_capacity(views.len());
    let mut test_views = Vec::new();
    for v in 0..views.len() {
        let view = (v > 0).then_some((&table, v));
        let (n, t) = match kept.as_mut().and_then(Iterator::next) {
            Some((n, t)) => (n, embed_test.then_some(t)),
            None => {
                let rows = split.normal_rows.iter().copied();
                let n = embed(
                    dev,
                    model,
                    &split.train_x,
                    split.shape,
                    rows,
                    view,
                    chunk,
                    cancel,
                )?;
                let t = if embed_test {
                    Some(embed(
                        dev,
                        model,
                        &split.test_x,
                        split.shape,
                        0..n_test,
                        view,
                        chunk,
                        cancel,
                    )?)
                } else {
                    None
                };
                (n, t)
            }
        };
        if let Some(t) = t {
            let s = score::score_view(&config.score, &n, &t, dim, class_dir.as_deref())
                .map_err(|error| TrainError::Score { epoch, error })?;
            test_views.push(s);
        }
        normal.push(n);
    }
    let test_mean = if embed_test {
        average_views(test_views)
    } else {
        eval.scores
            .iter()
            .filter(|(k, _)| config.score.ensemble.contains(k))
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    };
    // Held-out calibration images when there are spare ones, else cross-fitting.
    let pix = split.shape.0 * split.shape.1 * split.shape.2;
    let n_spare = spare.len() / pix.max(1);
    let folds = if n_spare > 0 {
        0
    } else {
        config.score.calibration_folds
    };
    let mut state = fit_state(&config.score, normal, dim, class_dir, &test_mean, folds)
        .map_err(|error| TrainError::Score { epoch, error })?;
    if n_spare > 0 {
        let mut views_of_spare = Vec::with_capacity(views.len());
        for v in 0..views.len() {
            let view = (v > 0).then_some((&table, v));
            let e = embed(
                dev,
                model,
                spare,
                split.shape,
                0..n_spare,
                view,
                chunk,
                cancel,
            )?;
            views_of_spare.push(e);
        }
        if let Ok(mut cal) = state.score(&views_of_spare) {
            for v in cal.values_mut() {
                v.sort_by(|a, b| a.total_cmp(b));
            }
            state.calibration = cal;
        }
    }
    Ok(Detector {
        config: config.clone(),
        seed,
        epoch,
        shape: split.shape,
        classes: model.head.classes,
        head_scale: model.head.scale,
        class_names: split.class_names.clone(),
        weights: collect(model),
        state,
        auc: eval.auc.clone(),
    })
}

impl Detector {
    /// Pixels of one image.
    pub fn image_len(&self) -> usize {
        self.shape.0 * self.shape.1 * self.shape.2
    }

    /// The model on the CPU, its tensors loaded from the detector; shapes are checked.
    pub fn model(&self) -> Result<Model<Cpu>, DetectorError> {
        let dev = Cpu::default();
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
        let mut model = Model::new(
            &dev,
            &self.config.model,
            &self.config.head,
            self.shape,
            self.classes,
            &mut rng,
        )
        .map_err(|e| DetectorError::Model(e.to_string()))?;
        struct Load<'a>(&'a [NamedTensor], Option<DetectorError>);
        impl ParamVisitor<Cpu> for Load<'_> {
            fn visit<S: Shape>(&mut self, name: &str, t: &mut Tensor<S, f32, Cpu>, _: bool) {
                if self.1.is_some() {
                    return;
                }
                let want: Vec<usize> = t.shape().concrete().into();
                match self.0.iter().find(|w| w.name == name) {
                    None => {
                        self.1 = Some(DetectorError::MissingTensor { name: name.into() });
                    }
                    Some(w) if w.shape != want || w.data.len() != t.shape().num_elements() => {
                        self.1 = Some(DetectorError::TensorShape {
                            name: name.into(),
                            have: w.shape.clone(),
                            want,
                        });
                    }
                    Some(w) => t.copy_from(&w.data),
                }
            }
        }
        let mut l = Load(&self.weights, None);
        model.visit_params(&mut l);
        if let Some(e) = l.1 {
            return Err(e);
        }
        model.head.scale = self.head_scale;
        Ok(model)
    }

    /// Scores images (`x`: N×C×H×W in [0, 1], the detector's shape) with every configured
    /// scorer. `progress(done, total)` is called as images are embedded (views × images);
    /// a set `cancel` stops it.
    pub fn score_images(
        &self,
        x: &[f32],
        cancel: &AtomicBool,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<BTreeMap<ScorerKind, Vec<f32>>, DetectorError> {
        let (c, h, w) = self.shape;
        let pix = self.image_len();
        if pix == 0 || !x.len().is_multiple_of(pix) {
            return Err(DetectorError::ImageShape {
                images: x.len(),
                c,
                h,
                w,
            });
        }
        let n = x.len() / pix;
        let mut model = self.model()?;
        let dev = Cpu::default();
        let chunk = crate::model::memory::eval_chunk(&self.config, self.shape)
            .clamp(1, crate::model::memory::EVAL_BATCH);
        let views = expand(&self.config.score.views);
        let table = TransformTable::new(views.clone(), self.shape);
        // Passes start at multiples of `chunk`, as in evaluation, so each image meets the
        // same batch-mates and the embeddings are bit-identical.
        let block = chunk * 8;
        let total = n * views.len();
        let mut embedded = Vec::with_capacity(views.len());
        for v in 0..views.len() {
            let view = (v > 0).then_some((&table, v));
            let mut out = Vec::with_capacity(n * self.state.dim);
            let mut start = 0;
            while start < n {
                let end = (start + block).min(n);
                let e = embed(
                    &dev,
                    &mut model,
                    x,
                    self.shape,
                    start..end,
                    view,
                    chunk,
                    cancel,
                )
                .map_err(|_| DetectorError::Interrupted)?;
                out.extend(e);
                start = end;
                progress(v * n + start, total);
            }
            embedded.push(out);
        }
        if n == 0 {
            return Ok(self
                .config
                .score
                .scorers
                .iter()
                .map(|k| (*k, Vec::new()))
                .collect());
        }
        Ok(self.state.score(&embedded)?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;
    use crate::config::{ClassRef, DatasetKind};
    use crate::data;
    use crate::train::evaluate::evaluate_keeping;
    use crate::train::{train_on, Event, Outcome};

    /// A one-epoch synthetic run with four test-time views: 100 normal training images, so
    /// evaluation passes (250 images) mix normal and test images while a detector embedding
    /// the normal images alone would not.
    fn config(scorers: &[ScorerKind], ensemble: &[ScorerKind]) -> Config {
        let mut c = Config::default();
        c.data.dataset = DatasetKind::Synthetic;
        c.data.normal = ClassRef::Index(2);
        c.data.anomalous = ClassRef::Index(3).into();
        c.data.reference_count = 300;
        c.data.normal_train_count = 100.into();
        c.model.widths = vec![4, 8];
        c.model.embedding_dim = 16;
        c.train.epochs = 1;
        c.train.batch_size = 50;
        c.score.scorers = scorers.to_vec();
        c.score.ensemble = ensemble.to_vec();
        c.score.views.rotations = vec![0, 90];
        c.score.views.flip = true;
        c.validate().unwrap();
        c
    }

    /// The detector a run sends (fitted on its final evaluation's embeddings) equals the one
    /// built by embedding the images again, bit for bit: weights, scorer state, ensemble
    /// reference and calibration; and the kept embeddings are what it is fitted on.
    #[test]
    fn a_detector_from_the_final_evaluations_embeddings_equals_one_that_embeds_again() {
        use ScorerKind::*;
        let ds = data::generate_synthetic();
        let cases = [
            // Members recorded, spare images calibrate.
            (
                config(
                    &[Mahalanobis, KnnCosine, Ensemble],
                    &[KnnCosine, Mahalanobis],
                ),
                true,
            ),
            // A member the evaluation does not record (its test images are scored again),
            // cross-fitted calibration.
            (
                config(&[KnnCosine, ClassCosine, Ensemble], &[KnnCosine, Lof]),
                false,
            ),
        ];
        for (c, with_spare) in cases {
            let split = data::make_split(&ds, &c.data, 0).unwrap();
            let spare = if with_spare {
                data::spare_normal(&ds, &c.data, 0, 120).unwrap()
            } else {
                Vec::new()
            };
            let never = AtomicBool::new(false);
            let (tx, rx) = mpsc::channel();
            let (outcome, ev) =
                train_on(Cpu::default(), &c, &split, 0, Some(&spare[..]), &never, &tx);
            assert_eq!(outcome, Outcome::Finished);
            let ev = ev.unwrap();
            let sent = rx
                .try_iter()
                .find_map(|e| match e {
                    Event::DetectorReady { detector, .. } => Some(*detector),
                    _ => None,
                })
                .expect("a detector");
            assert!(!sent.state.calibration.is_empty());
            assert_eq!(sent.state.calibration_folds == 0, with_spare);

            // The trained model, rebuilt from the detector, evaluates as the run did.
            let dev = Cpu::default();
            let mut model = sent.model().unwrap();
            let chunk = crate::model::memory::eval_chunk(&c, split.shape);
            let (again, embedded) = evaluate_keeping(
                &dev,
                &mut model,
                &c,
                &split,
                1,
                chunk,
                &never,
                &mut |_, _, _, _| {},
            )
            .unwrap();
            assert_eq!(again, ev);
            assert_eq!(embedded.len(), 4);
            let build_with = |model: &mut Model<Cpu>, e: Option<ViewEmbeddings>| {
                build(&dev, model, &c, &split, 0, &ev, e, &spare, &never).unwrap()
            };
            let reused = build_with(&mut model, Some(embedded.clone()));
            let embedding_again = build_with(&mut model, None);
            assert_eq!(reused, sent);
            assert_eq!(embedding_again, sent);
            let normal: Vec<Vec<f32>> = embedded.iter().map(|(n, _)| n.clone()).collect();
            assert_eq!(sent.state.normal, normal);
            // The kept embeddings are used, not recomputed: altered ones change the detector.
            let mut altered = embedded.clone();
            altered[1].0[0] += 1.0;
            altered[1].1[0] += 1.0;
            assert_ne!(build_with(&mut model, Some(altered)).state, sent.state);
            // Embeddings that do not cover every view are not used.
            let mut short = embedded;
            short.pop();
            assert_eq!(build_with(&mut model, Some(short)), sent);
        }
    }
}
