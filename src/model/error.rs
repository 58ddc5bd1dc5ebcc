//! What can go wrong building, saving or loading a model. Variants about the config name its key.

use std::path::PathBuf;

use crate::config::HeadKind;

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("model.widths: stage {stage} gets a {h}×{w} input, too small for a 3×3 conv")]
    ConvInputTooSmall { stage: usize, h: usize, w: usize },
    #[error(
        "model.widths: stage {stage} output is {h}×{w}, too small to pool; use fewer stages or padding = 1"
    )]
    PoolInputTooSmall { stage: usize, h: usize, w: usize },
    #[error("head: need at least 2 training classes, got {classes}")]
    TooFewClasses { classes: usize },
    #[error(
        "head.kind: {kind} needs at least 3 classes (s = √2·ln(C−1) would be ≤ 0 with C = {classes})"
    )]
    AdacosNeedsThree { kind: HeadKind, classes: usize },
    #[error("{}: cannot write model: {message}", .path.display())]
    Save { path: PathBuf, message: String },
    #[error("{}: cannot load model: {message}", .path.display())]
    Load { path: PathBuf, message: String },
    #[error("train.device = {message}")]
    Device { message: String },
    #[error(
        "train.batch_size: training needs about {} of GPU memory at batch {batch}, but CUDA \
         device 0 has {} free; lower train.batch_size or the model's widths",
        crate::config::check::Bytes(*need),
        crate::config::check::Bytes(*free)
    )]
    GpuMemory { need: u64, free: u64, batch: usize },
}

impl ModelError {
    /// The config key the error is about, when it is about one.
    pub fn key(&self) -> Option<&'static str> {
        match self {
            ModelError::ConvInputTooSmall { .. } | ModelError::PoolInputTooSmall { .. } => {
                Some("model.widths")
            }
            ModelError::TooFewClasses { .. } | ModelError::AdacosNeedsThree { .. } => {
                Some("head.kind")
            }
            ModelError::Device { .. } => Some("train.device"),
            ModelError::GpuMemory { .. } => Some("train.batch_size"),
            ModelError::Save { .. } | ModelError::Load { .. } => None,
        }
    }
}
