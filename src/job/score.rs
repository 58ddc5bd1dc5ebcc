//! Applying a run's saved detector: the images to score (files and folders, decoded like the
//! `folder` dataset, or a dataset split), their scores per scorer, and a verdict per image
//! against a threshold (calibrated when the run trained, or given). One implementation for
//! every front end: `adalab score` and the lab's folder scoring both call [`score_files`] /
//! [`score_inputs`]. Long work reports [`ScoreProgress`] and stops when its cancel flag is set.
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::{DatasetKind, ScorerKind};
use crate::data::folder::files::{decode_images, list_images};
use crate::data::folder::Problem;
use crate::store::detector::{DetectorMeta, LoadedDetector};
use crate::train::DetectorError;

/// The default verdict threshold: flags about 5% of normal images.
pub const DEFAULT_THRESHOLD: &str = "fpr=0.05";
/// The false positive rate of [`DEFAULT_THRESHOLD`].
pub const DEFAULT_FPR: f64 = 0.05;
/// Image files decoded between two looks at the cancel flag.
const DECODE_BLOCK: usize = 256;

/// A verdict threshold as given.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    /// The calibrated threshold of this false positive rate.
    Fpr(f64),
    /// A raw score.
    Value(f32),
}

/// `fpr=0.05` or a number.
pub fn parse_threshold(s: &str) -> Result<Threshold, String> {
    let s = s.trim();
    if let Some(f) = s.strip_prefix("fpr=") {
        let v: f64 = f
            .parse()
            .map_err(|_| format!("`{f}` is not a number (use e.g. fpr=0.05)"))?;
        if !(0.0..=1.0).contains(&v) {
            return Err(format!("fpr={v} is not a rate between 0 and 1"));
        }
        return Ok(Threshold::Fpr(v));
    }
    match s.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(Threshold::Value(v)),
        _ => Err(format!(
            "`{s}` is neither fpr=RATE (e.g. fpr=0.05) nor a finite score"
        )),
    }
}

/// Why images could not be scored. Every message names the file, the run or the option.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    /// Bad input: a path, an image, an option, the detector file.
    #[error("{0}")]
    Input(String),
    /// The run has no calibrated threshold for the scorer (`score.calibration_folds = 0`).
    #[error(
        "{path}: run `{run}` has no calibrated {scorer} threshold (trained with \
         score.calibration_folds = 0)"
    )]
    NotCalibrated {
        path: String,
        run: String,
        scorer: ScorerKind,
    },
    /// The cancel flag was set.
    #[error("scoring was cancelled")]
    Cancelled,
}

fn input(m: impl Into<String>) -> ScoreError {
    ScoreError::Input(m.into())
}

/// The scorer whose score decides, the threshold, and how it was chosen (in words).
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub scorer: ScorerKind,
    pub threshold: f32,
    pub rule: String,
}

/// The verdict of detector `d`: `scorer` (default: the run's primary one) against `t`.
pub fn resolve_threshold(
    d: &LoadedDetector,
    scorer: Option<&str>,
    t: Threshold,
) -> Result<Verdict, ScoreError> {
    let configured = &d.detector.config.score.scorers;
    let names = |v: &[ScorerKind]| v.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ");
    let k = match scorer {
        None => *configured
            .first()
            .ok_or_else(|| input("the detector has no scorer (its config lists none)"))?,
        Some(name) => {
            let k = ScorerKind::parse(name).ok_or_else(|| {
                input(format!(
                    "--scorer: unknown scorer `{name}` (use {})",
                    names(&ScorerKind::ALL)
                ))
            })?;
            if !configured.contains(&k) {
                return Err(input(format!(
                    "--scorer: run `{}` did not score with {k} (it used {})",
                    d.meta.run,
                    names(configured)
                )));
            }
            k
        }
    };
    match t {
        Threshold::Value(v) => Ok(Verdict {
            scorer: k,
            threshold: v,
            rule: format!("{k} > {v} (given)"),
        }),
        Threshold::Fpr(f) => {
            let cal = d.detector.state.calibration.get(&k);
            let Some(v) = cal.and_then(|c| crate::score::threshold_at_fpr(c, f)) else {
                return Err(ScoreError::NotCalibrated {
                    path: d.path.display().to_string(),
                    run: d.meta.run.clone(),
                    scorer: k,
                });
            };
            Ok(Verdict {
                scorer: k,
                threshold: v,
                rule: format!("{k} > {v} (fpr={f} on {})", calibration_words(&d.meta)),
            })
        }
    }
}

/// `1000 held-out normal images …` / `1000 normal training images, 10-fold cross-fit`.
pub fn calibration_words(m: &DetectorMeta) -> String {
    if m.threshold.folds == 0 {
        format!(
            "{} held-out normal images the run did not train on",
            m.threshold.images
        )
    } else {
        format!(
            "{} normal training images, {}-fold cross-fit",
            m.threshold.images, m.threshold.folds
        )
    }
}

/// The images to score, decoded to the detector's input, with their names and labels when
/// known.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    pub names: Vec<String>,
    /// N×C×H×W in [0, 1].
    pub x: Vec<f32>,
    pub labels: Option<Vec<bool>>,
    /// Files left out (unreadable or undecodable), when bad files are skipped.
    pub skipped: Vec<Problem>,
}

/// The scores of a set of images and their verdicts.
#[derive(Clone, Debug)]
pub struct Scored {
    pub scorers: Vec<ScorerKind>,
    pub scores: BTreeMap<ScorerKind, Vec<f32>>,
    pub verdict: Verdict,
    pub flagged: Vec<bool>,
}

impl Scored {
    /// How many images are flagged.
    pub fn n_flagged(&self) -> usize {
        self.flagged.iter().filter(|&&f| f).count()
    }

    /// The verdict scorer's scores.
    pub fn verdict_scores(&self) -> &[f32] {
        self.scores
            .get(&self.verdict.scorer)
            .map_or(&[], Vec::as_slice)
    }

    /// Image indices, highest verdict score first (ties by index).
    pub fn ranked(&self) -> Vec<usize> {
        let s = self.verdict_scores();
        let mut order: Vec<usize> = (0..s.len()).collect();
        order.sort_by(|&a, &b| s[b].total_cmp(&s[a]).then(a.cmp(&b)));
        order
    }
}

/// What scoring is doing, for progress displays.
#[derive(Clone, Debug, PartialEq)]
pub enum ScoreProgress {
    /// Loading a dataset split.
    Loading(DatasetKind),
    /// `done` of `total` image files decoded.
    Decoding { done: usize, total: usize },
    /// `done` of `total` images embedded (views × images).
    Embedding { done: usize, total: usize },
    /// A file left out (skipping bad files).
    Skipped(Problem),
}

/// Reads image files and folders (recursively) for detector `d`. A path that cannot be read
/// or a file that cannot be decoded is an error naming it, unless `skip_bad` (then it is in
/// [`Inputs::skipped`] and reported as [`ScoreProgress::Skipped`]). Looks at `cancel` between
/// blocks of files.
pub fn read_files(
    d: &LoadedDetector,
    paths: &[PathBuf],
    skip_bad: bool,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(ScoreProgress),
) -> Result<Inputs, ScoreError> {
    if paths.is_empty() {
        return Err(input(
            "nothing to score: give image files or folders, or --split test",
        ));
    }
    let (files, problems) = list_images(paths);
    let mut skipped = Vec::new();
    if let Some(p) = problems.first() {
        if !skip_bad {
            return Err(input(p.to_string()));
        }
        for p in problems {
            progress(ScoreProgress::Skipped(p.clone()));
            skipped.push(p);
        }
    }
    if files.is_empty() {
        return Err(input(format!(
            "no image files ({}) in {}",
            crate::data::folder::IMAGE_EXTENSIONS.join(", "),
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let (c, h, _) = d.detector.shape;
    let total = files.len();
    let mut names = Vec::with_capacity(total);
    let mut x = Vec::new();
    for (b, block) in files.chunks(DECODE_BLOCK).enumerate() {
        if cancel.load(Ordering::SeqCst) {
            return Err(ScoreError::Cancelled);
        }
        let dec = decode_images(block, c, h, &mut |_, _| {});
        if let Some(p) = dec.bad.first() {
            if !skip_bad {
                return Err(input(format!(
                    "{p} (the detector takes {c}-channel {h}×{h} images; --skip-bad skips \
                     such files)"
                )));
            }
            for p in dec.bad {
                progress(ScoreProgress::Skipped(p.clone()));
                skipped.push(p);
            }
        }
        names.extend(dec.files.iter().map(|p| p.display().to_string()));
        x.extend(dec.x);
        progress(ScoreProgress::Decoding {
            done: (b * DECODE_BLOCK + block.len()).min(total),
            total,
        });
    }
    if names.is_empty() {
        return Err(input(format!(
            "none of the {total} image files could be decoded (the first: {})",
            skipped
                .iter()
                .find(|p| p.path.is_file())
                .or(skipped.first())
                .map_or_else(String::new, Problem::to_string)
        )));
    }
    Ok(Inputs {
        names,
        x,
        labels: None,
        skipped,
    })
}

/// Which images of a dataset [`read_split`] reads.
#[derive(Clone, Debug, PartialEq)]
pub struct SplitChoice {
    /// `test` (the run's evaluation images) or `train` (the normal and anomalous classes'
    /// training images).
    pub split: String,
    /// The dataset (default: the run's own).
    pub dataset: Option<DatasetKind>,
    /// The folder holding it (default: the run's, then `$ADALAB_DATA`).
    pub data_dir: Option<PathBuf>,
}

/// Reads a dataset split as detector `d`'s run saw it, with labels.
pub fn read_split(
    d: &LoadedDetector,
    choice: &SplitChoice,
    progress: &mut dyn FnMut(ScoreProgress),
) -> Result<Inputs, ScoreError> {
    let det = &d.detector;
    let mut cfg = det.config.data.clone();
    if let Some(k) = choice.dataset {
        cfg.dataset = k;
    }
    if let Some(dir) = &choice.data_dir {
        cfg.data_dir = Some(dir.clone());
    }
    progress(ScoreProgress::Loading(cfg.dataset));
    let ds = crate::data::load_for(&cfg).map_err(|e| input(e.to_string()))?;
    if ds.shape != det.shape {
        let (a, b) = (ds.shape, det.shape);
        return Err(input(format!(
            "{} images are {}×{}×{}; the detector of run `{}` takes {}×{}×{}",
            cfg.dataset, a.0, a.1, a.2, d.meta.run, b.0, b.1, b.2
        )));
    }
    let split = crate::data::make_split(&ds, &cfg, det.seed).map_err(|e| input(e.to_string()))?;
    if choice.split == "test" {
        let names = split
            .test_index
            .iter()
            .map(|i| format!("{}:test[{i}]", cfg.dataset))
            .collect();
        return Ok(Inputs {
            names,
            x: split.test_x,
            labels: Some(split.test_anomalous),
            skipped: Vec::new(),
        });
    }
    let roles = crate::data::catalog::roles(cfg.dataset.as_str(), &ds.class_names, &cfg)
        .map_err(|e| input(format!("{}: {}", e.key, e.message)))?;
    let len = ds.image_len();
    let mut out = Inputs {
        labels: Some(Vec::new()),
        ..Inputs::default()
    };
    for (i, &l) in ds.train.labels.iter().enumerate() {
        let l = l as usize;
        let anomalous = roles.anomalous.contains(&l);
        if l == roles.normal || anomalous {
            out.names.push(format!("{}:train[{i}]", cfg.dataset));
            out.x.extend(
                ds.train.pixels[i * len..(i + 1) * len]
                    .iter()
                    .map(|&p| p as f32 / 255.0),
            );
            if let Some(v) = out.labels.as_mut() {
                v.push(anomalous);
            }
        }
    }
    Ok(out)
}

/// Scores decoded images with detector `d` and gives each a verdict.
pub fn score_inputs(
    d: &LoadedDetector,
    inputs: &Inputs,
    verdict: Verdict,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(ScoreProgress),
) -> Result<Scored, ScoreError> {
    let mut report = |done: usize, total: usize| progress(ScoreProgress::Embedding { done, total });
    let scores = d
        .detector
        .score_images(&inputs.x, cancel, &mut report)
        .map_err(|e| match e {
            DetectorError::Interrupted => ScoreError::Cancelled,
            e => input(format!("{}: {e}", d.path.display())),
        })?;
    let flagged = scores
        .get(&verdict.scorer)
        .ok_or_else(|| {
            input(format!(
                "{}: the detector gave no {} scores",
                d.path.display(),
                verdict.scorer
            ))
        })?
        .iter()
        .map(|&s| s > verdict.threshold)
        .collect();
    Ok(Scored {
        scorers: d.detector.config.score.scorers.clone(),
        scores,
        verdict,
        flagged,
    })
}

/// Reads and scores image files and folders: [`read_files`] then [`score_inputs`].
pub fn score_files(
    d: &LoadedDetector,
    paths: &[PathBuf],
    verdict: Verdict,
    skip_bad: bool,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(ScoreProgress),
) -> Result<(Inputs, Scored), ScoreError> {
    let inputs = read_files(d, paths, skip_bad, cancel, progress)?;
    let scored = score_inputs(d, &inputs, verdict, cancel, progress)?;
    Ok((inputs, scored))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse() {
        assert_eq!(parse_threshold("fpr=0.05"), Ok(Threshold::Fpr(0.05)));
        assert_eq!(parse_threshold(" 1.5 "), Ok(Threshold::Value(1.5)));
        assert!(parse_threshold("fpr=5")
            .unwrap_err()
            .contains("between 0 and 1"));
        assert!(parse_threshold("fpr=x")
            .unwrap_err()
            .contains("not a number"));
        assert!(parse_threshold("inf").unwrap_err().contains("finite"));
        assert_eq!(
            parse_threshold(DEFAULT_THRESHOLD),
            Ok(Threshold::Fpr(DEFAULT_FPR))
        );
    }

    #[test]
    fn ranked_is_highest_first_ties_by_index() {
        let s = Scored {
            scorers: vec![ScorerKind::KnnCosine],
            scores: [(ScorerKind::KnnCosine, vec![0.1, 0.9, 0.5, 0.9])]
                .into_iter()
                .collect(),
            verdict: Verdict {
                scorer: ScorerKind::KnnCosine,
                threshold: 0.6,
                rule: String::new(),
            },
            flagged: vec![false, true, false, true],
        };
        assert_eq!(s.ranked(), [1, 3, 2, 0]);
        assert_eq!(s.n_flagged(), 2);
    }
}
