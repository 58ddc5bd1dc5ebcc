//! A folder scored with a run's detector from its Detail screen: the state the Detail's Folder
//! page draws (in progress, done, failed, cancelled) and the result the worker hands back —
//! every image ranked by the verdict scorer, the most anomalous ones' pixels as thumbnails, and
//! the files left out. The scoring itself is the engine's ([`crate::job::score`]).

use std::path::{Path, PathBuf};

use crate::job::score::{Inputs, ScoreProgress, Scored, Verdict};

use super::super::images::Thumb;

/// Thumbnails kept of the most anomalous images.
pub const THUMBS: usize = 8;

/// One scored image.
#[derive(Clone, Debug, PartialEq)]
pub struct RankedImage {
    /// The file, relative to the scored folder.
    pub name: String,
    /// The verdict scorer's score.
    pub score: f32,
    pub flagged: bool,
}

/// A scored folder.
#[derive(Clone, Debug, PartialEq)]
pub struct FolderResult {
    pub folder: PathBuf,
    pub images: usize,
    pub flagged: usize,
    pub verdict: Verdict,
    /// Every image, most anomalous first.
    pub ranked: Vec<RankedImage>,
    /// The first [`THUMBS`] of `ranked` as pictures (`anomalous` = flagged).
    pub thumbs: Vec<Thumb>,
    /// Files left out, and why (`path: reason`).
    pub skipped: Vec<String>,
}

impl FolderResult {
    /// From what the engine read and scored; `shape` is the detector's input (C, H, W).
    pub fn new(
        folder: &Path,
        inputs: &Inputs,
        scored: &Scored,
        shape: (usize, usize, usize),
    ) -> FolderResult {
        let scores = scored.verdict_scores();
        let len = shape.0 * shape.1 * shape.2;
        let order = scored.ranked();
        let name = |i: usize| {
            let full = Path::new(&inputs.names[i]);
            full.strip_prefix(folder)
                .unwrap_or(full)
                .display()
                .to_string()
        };
        let ranked = order
            .iter()
            .map(|&i| RankedImage {
                name: name(i),
                score: scores[i],
                flagged: scored.flagged[i],
            })
            .collect();
        let thumbs = order
            .iter()
            .take(THUMBS)
            .filter(|&&i| (i + 1) * len <= inputs.x.len())
            .map(|&i| {
                Thumb::from_planar(
                    &inputs.x[i * len..(i + 1) * len],
                    shape,
                    scores[i],
                    scored.flagged[i],
                )
            })
            .collect();
        FolderResult {
            folder: folder.to_path_buf(),
            images: scores.len(),
            flagged: scored.n_flagged(),
            verdict: scored.verdict.clone(),
            ranked,
            thumbs,
            skipped: inputs.skipped.iter().map(|p| p.to_string()).collect(),
        }
    }
}

/// Where a folder's scoring is.
#[derive(Clone, Debug, PartialEq)]
pub enum FolderState {
    /// In progress: the last progress reported (none yet: loading the detector).
    Running {
        progress: Option<ScoreProgress>,
        /// Esc was pressed: waiting for the worker to stop.
        cancelling: bool,
    },
    Done(Box<FolderResult>),
    /// Why it could not be scored (names the folder, file or run).
    Failed(String),
    Cancelled,
}

/// The folder scored (or being scored) on a run's Detail.
#[derive(Clone, Debug, PartialEq)]
pub struct FolderScore {
    pub folder: PathBuf,
    pub state: FolderState,
}

impl FolderScore {
    pub fn running(folder: PathBuf) -> FolderScore {
        FolderScore {
            folder,
            state: FolderState::Running {
                progress: None,
                cancelling: false,
            },
        }
    }

    pub fn is_running(&self) -> bool {
        matches!(self.state, FolderState::Running { .. })
    }

    /// Folds in a progress report (skipped files are listed by the result).
    pub fn progress(&mut self, p: ScoreProgress) {
        if let FolderState::Running { progress, .. } = &mut self.state {
            if !matches!(p, ScoreProgress::Skipped(_)) {
                *progress = Some(p);
            }
        }
    }

    /// Marks a running scoring as being cancelled; false when it is not running or already
    /// being cancelled.
    pub fn cancel(&mut self) -> bool {
        match &mut self.state {
            FolderState::Running { cancelling, .. } if !*cancelling => {
                *cancelling = true;
                true
            }
            _ => false,
        }
    }

    /// The stage and its fraction done, while running.
    pub fn fraction(&self) -> Option<(&'static str, f64)> {
        let FolderState::Running { progress, .. } = &self.state else {
            return None;
        };
        let frac = |d: usize, t: usize| d as f64 / t.max(1) as f64;
        Some(match progress {
            None | Some(ScoreProgress::Skipped(_)) | Some(ScoreProgress::Loading(_)) => {
                (super::super::strings::SCORING_STARTING, 0.0)
            }
            Some(ScoreProgress::Decoding { done, total }) => {
                (super::super::strings::SCORING_READING, frac(*done, *total))
            }
            Some(ScoreProgress::Embedding { done, total }) => (
                super::super::strings::SCORING_EMBEDDING,
                frac(*done, *total),
            ),
        })
    }
}
