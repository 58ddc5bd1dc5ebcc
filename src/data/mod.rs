//! Datasets (Fashion-MNIST, CIFAR-10, synthetic, and your own image folders: [`folder`]),
//! finding them on disk, fetching them, what they hold without loading them ([`catalog`]), and
//! the seeded split protocol of the published study.
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print: progress
//! of long work (downloads) goes to a callback, failures are [`DataError`]s naming the file.

use crate::config::DatasetKind;

/// A whole dataset in memory: raw pixels, as the files hold them.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub kind: DatasetKind,
    pub class_names: Vec<String>,
    /// (channels, height, width)
    pub shape: (usize, usize, usize),
    pub train: Images,
    pub test: Images,
    /// Sub-labels of test images by name (MVTec defect types); empty for most datasets.
    pub groups: Vec<String>,
    /// Per test image: its index in `groups` (`None` for normal images); empty when `groups`
    /// is.
    pub test_group: Vec<Option<usize>>,
}

/// N images of C×H×W bytes, stored N, C, H, W (planar per image), with one label each.
#[derive(Clone, Debug, Default)]
pub struct Images {
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
}

/// What the trainer and the scorer consume: pixels in [0, 1] as f32, laid out N, C, H, W.
#[derive(Clone, Debug)]
pub struct ExperimentSplit {
    pub shape: (usize, usize, usize),
    /// Training images: reference images then normal-train images, in drawn order.
    pub train_x: Vec<f32>,
    /// Training labels: reference classes 0..k-1 (in the order of `class_names`), normal class k.
    pub train_y: Vec<usize>,
    /// Names of the training classes, index = training label (last one is the normal class).
    pub class_names: Vec<String>,
    /// Rows of `train_x` that are normal-train images (label k).
    pub normal_rows: Vec<usize>,
    /// Test images: all test-split images of the normal and anomalous class, in file order.
    pub test_x: Vec<f32>,
    /// Per test image: true = anomalous.
    pub test_anomalous: Vec<bool>,
    /// Per test image: its index in the dataset's test split.
    pub test_index: Vec<usize>,
    /// Sub-labels of anomalous test images (MVTec defect types); empty for most datasets.
    pub test_groups: Vec<String>,
    /// Per test image: its index in `test_groups` (`None` for normal images); empty when
    /// `test_groups` is.
    pub test_group: Vec<Option<usize>>,
}

pub mod catalog;
mod cifar;
mod classes;
mod error;
mod fetch;
pub mod folder;
mod idx;
mod locate;
mod manifest;
mod split;
mod synthetic;
mod tar;
pub mod transforms;

pub use catalog::{class_names, classes_for, describe, Builtin, Catalog, Roles};
pub use cifar::{load_cifar10, CIFAR10_CLASSES};
pub use classes::{normalize_class_name, resolve_class, resolve_in};
pub use error::DataError;
pub use fetch::{default_destination, fetch, fetch_manifest, FetchEvent, FetchOptions};
pub use folder::{CacheStatus, FolderLoad, FolderReport, LoadEvent, LoadOptions};
pub use idx::{load_fashion_mnist, FASHION_MNIST_CLASSES};
pub(crate) use locate::env_data_dir;
pub use locate::{load, load_for, load_reporting, locate, search_paths};
pub use manifest::{manifest_for, verify_files, ContentSpec, FileSpec, FileStatus, Manifest};
pub use split::{make_split, spare_normal, spare_normal_rows};
pub use synthetic::{
    generate_synthetic, SYNTHETIC_CLASSES, SYNTHETIC_PER_CLASS_TEST, SYNTHETIC_PER_CLASS_TRAIN,
};

impl Images {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Images per class (index = class).
    pub fn class_counts(&self, classes: usize) -> Vec<usize> {
        let mut counts = vec![0; classes];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(l as usize) {
                *c += 1;
            }
        }
        counts
    }
}

impl Dataset {
    /// Bytes per image (C·H·W).
    pub fn image_len(&self) -> usize {
        self.shape.0 * self.shape.1 * self.shape.2
    }
}
