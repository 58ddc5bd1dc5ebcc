//! The configuration's types: one serde tree with a default for every field.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::roles::{Anomalous, ImageCount};
use super::scoring::{ScoreConfig, TransformConfig};

/// A whole experiment: data split, model, head, training, scoring, repeats.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// One-line description shown in profile lists.
    pub description: String,
    pub data: DataConfig,
    pub model: ModelConfig,
    pub head: HeadConfig,
    pub train: TrainConfig,
    pub transforms: TransformConfig,
    pub score: ScoreConfig,
    pub run: RunConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            description: "Fashion-MNIST sneaker -> ankle boot, fixed AdaCos, 1-NN cosine".into(),
            data: DataConfig::default(),
            model: ModelConfig::default(),
            head: HeadConfig::default(),
            train: TrainConfig::default(),
            transforms: TransformConfig::default(),
            score: ScoreConfig::default(),
            run: RunConfig::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    FashionMnist,
    #[serde(rename = "cifar-10")]
    Cifar10,
    Synthetic,
    /// Your own images, one sub-folder per class (torchvision's `ImageFolder` layout), with
    /// optional `train/` and `test/` trees.
    Folder,
    /// One MVTec AD–style category: `train/good`, `test/good`, `test/<defect>`.
    Mvtec,
}

/// Side of the images of a folder dataset when `data.size` is unset.
pub const DEFAULT_FOLDER_SIZE: usize = 32;
/// Channels of the images of a folder dataset when `data.channels` is unset.
pub const DEFAULT_FOLDER_CHANNELS: usize = 3;

impl DatasetKind {
    pub const ALL: [DatasetKind; 5] = [
        DatasetKind::FashionMnist,
        DatasetKind::Cifar10,
        DatasetKind::Synthetic,
        DatasetKind::Folder,
        DatasetKind::Mvtec,
    ];

    /// The name used on the command line, in TOML and as the folder name under a data dir.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Cifar10 => "cifar-10",
            DatasetKind::Synthetic => "synthetic",
            DatasetKind::Folder => "folder",
            DatasetKind::Mvtec => "mvtec",
        }
    }

    /// Whether the images come from a folder of image files the user names (`data.path`).
    pub fn is_folder(self) -> bool {
        matches!(self, DatasetKind::Folder | DatasetKind::Mvtec)
    }

    pub fn parse(s: &str) -> Option<DatasetKind> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        match norm.as_str() {
            "fashion-mnist" | "fashion" | "fmnist" => Some(DatasetKind::FashionMnist),
            "cifar-10" | "cifar10" | "cifar" => Some(DatasetKind::Cifar10),
            "synthetic" | "synth" => Some(DatasetKind::Synthetic),
            "folder" | "image-folder" | "imagefolder" => Some(DatasetKind::Folder),
            "mvtec" | "mvtec-ad" => Some(DatasetKind::Mvtec),
            _ => None,
        }
    }

    /// The image shape (channels, height, width) of a built-in dataset; `None` for folder
    /// datasets, whose shape the config gives ([`DataConfig::input_shape`]).
    pub fn builtin_shape(self) -> Option<(usize, usize, usize)> {
        match self {
            DatasetKind::FashionMnist | DatasetKind::Synthetic => Some((1, 28, 28)),
            DatasetKind::Cifar10 => Some((3, 32, 32)),
            DatasetKind::Folder | DatasetKind::Mvtec => None,
        }
    }
}

/// What loading does with an image file that cannot be decoded (corrupt, truncated, too
/// large, not an image despite its extension), a symlink loop or an empty class folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BadImagePolicy {
    /// The first one is an error naming the file.
    Error,
    /// Leave them out, counted in a warning that names the first.
    Skip,
}

impl BadImagePolicy {
    pub const ALL: [BadImagePolicy; 2] = [BadImagePolicy::Error, BadImagePolicy::Skip];
    pub fn as_str(self) -> &'static str {
        match self {
            BadImagePolicy::Error => "error",
            BadImagePolicy::Skip => "skip",
        }
    }
    pub fn parse(s: &str) -> Option<BadImagePolicy> {
        BadImagePolicy::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
    }
}

impl fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A class given by index (`7`) or by name (`"sneaker"`, `"ankle-boot"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ClassRef {
    Index(usize),
    Name(String),
}

impl fmt::Display for ClassRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClassRef::Index(i) => write!(f, "{i}"),
            ClassRef::Name(n) => f.write_str(n),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    pub dataset: DatasetKind,
    /// Where to look first for the dataset files (overrides `ADALAB_DATA`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    pub normal: ClassRef,
    /// One class, a list, or `"rest"`: every class but the normal one and the reference
    /// classes (one-vs-rest).
    pub anomalous: Anomalous,
    /// Reference classes; `None` means every class except normal and anomalous (none with
    /// `anomalous = "rest"`); an empty list means none (train on the normal images only, with
    /// transform classes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<Vec<ClassRef>>,
    pub reference_count: usize,
    /// Train images of the normal class: a number, or `"all"`.
    pub normal_train_count: ImageCount,
    /// The folder of a `folder` dataset (one sub-folder per class) or an `mvtec` category;
    /// `data_dir` is used when this is unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Channels the model sees: 1 (grey) or 3 (RGB). Unset: the dataset's own (3 for
    /// folders); a built-in dataset accepts only its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<usize>,
    /// Side of the square images the model sees; folder images are resized to it. Unset: 28
    /// or 32 for the built-in datasets (which accept only their own), 32 for folders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<usize>,
    /// Share of each class's images that a folder without `train/` and `test/` puts in the
    /// test split (seeded, stratified).
    pub test_fraction: f32,
    /// What loading a folder does with a file it cannot read as an image.
    pub on_bad_image: BadImagePolicy,
}

impl DataConfig {
    /// The folder a `folder` / `mvtec` dataset is read from: `path`, else `data_dir`.
    pub fn folder_path(&self) -> Option<&std::path::Path> {
        self.path.as_deref().or(self.data_dir.as_deref())
    }

    /// (channels, height, width) of the images the model sees.
    pub fn input_shape(&self) -> (usize, usize, usize) {
        match self.dataset.builtin_shape() {
            Some(shape) => shape,
            None => {
                let side = self.size.unwrap_or(DEFAULT_FOLDER_SIZE);
                (self.channels.unwrap_or(DEFAULT_FOLDER_CHANNELS), side, side)
            }
        }
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            dataset: DatasetKind::FashionMnist,
            data_dir: None,
            normal: ClassRef::Name("sneaker".into()),
            anomalous: Anomalous::Class(ClassRef::Name("ankle-boot".into())),
            reference: None,
            reference_count: 8000,
            normal_train_count: ImageCount::Count(1000),
            path: None,
            channels: None,
            size: None,
            test_fraction: 0.2,
            on_bad_image: BadImagePolicy::Error,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Output channels of each conv stage; every stage halves the resolution with a 2×2 max-pool.
    pub widths: Vec<usize>,
    /// 3×3 convolutions per stage (each conv + BatchNorm + ReLU).
    pub convs_per_stage: usize,
    /// Zero padding of every 3×3 conv: 1 keeps the size, 0 shrinks it by 2.
    pub padding: usize,
    /// Embedding dimension D.
    pub embedding_dim: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            widths: vec![32, 64],
            convs_per_stage: 1,
            padding: 1,
            embedding_dim: 128,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeadKind {
    Softmax,
    L2Softmax,
    Arcface,
    Cosface,
    AdacosFixed,
    AdacosDynamic,
}

impl HeadKind {
    pub const ALL: [HeadKind; 6] = [
        HeadKind::Softmax,
        HeadKind::L2Softmax,
        HeadKind::Arcface,
        HeadKind::Cosface,
        HeadKind::AdacosFixed,
        HeadKind::AdacosDynamic,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            HeadKind::Softmax => "softmax",
            HeadKind::L2Softmax => "l2-softmax",
            HeadKind::Arcface => "arcface",
            HeadKind::Cosface => "cosface",
            HeadKind::AdacosFixed => "adacos-fixed",
            HeadKind::AdacosDynamic => "adacos-dynamic",
        }
    }
    pub fn parse(s: &str) -> Option<HeadKind> {
        HeadKind::ALL.into_iter().find(|h| h.as_str() == s.trim())
    }
    /// Whether the head compares normalised embeddings with normalised class weights.
    pub fn is_cosine(self) -> bool {
        !matches!(self, HeadKind::Softmax | HeadKind::L2Softmax)
    }
}

impl fmt::Display for HeadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeadConfig {
    pub kind: HeadKind,
    /// Scale s for ArcFace / CosFace.
    pub s: f32,
    /// Margin m for ArcFace (radians) / CosFace (cosine units).
    pub m: f32,
    /// α for L2-softmax; `None` = Ranjan et al.'s lower bound for the class count, at least 16.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f32>,
    /// ArcFace easy margin: apply the margin only where cos θ > 0.
    pub easy_margin: bool,
}

impl Default for HeadConfig {
    fn default() -> Self {
        HeadConfig {
            kind: HeadKind::AdacosFixed,
            s: 30.0,
            m: 0.5,
            alpha: None,
            easy_margin: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    Adam,
    Sgd,
}

impl OptimizerKind {
    pub const ALL: [OptimizerKind; 2] = [OptimizerKind::Adam, OptimizerKind::Sgd];
    pub fn as_str(self) -> &'static str {
        match self {
            OptimizerKind::Adam => "adam",
            OptimizerKind::Sgd => "sgd",
        }
    }
    pub fn parse(s: &str) -> Option<OptimizerKind> {
        OptimizerKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
    }
}

/// How the learning rate changes over the epochs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LrSchedule {
    /// `lr` throughout.
    Constant,
    /// Cosine decay from `lr` to 1% of it over the run, per batch.
    Cosine,
}

impl LrSchedule {
    pub const ALL: [LrSchedule; 2] = [LrSchedule::Constant, LrSchedule::Cosine];
    pub fn as_str(self) -> &'static str {
        match self {
            LrSchedule::Constant => "constant",
            LrSchedule::Cosine => "cosine",
        }
    }
    pub fn parse(s: &str) -> Option<LrSchedule> {
        LrSchedule::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    Cpu,
    Cuda,
}

impl DeviceKind {
    pub const ALL: [DeviceKind; 2] = [DeviceKind::Cpu, DeviceKind::Cuda];
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Cuda => "cuda",
        }
    }
    /// The one parser of device names (`--device`, `--set train.device=`, the lab).
    pub fn parse(s: &str) -> Option<DeviceKind> {
        DeviceKind::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub optimizer: OptimizerKind,
    pub lr: f32,
    pub lr_schedule: LrSchedule,
    pub weight_decay: f32,
    /// SGD momentum (ignored by Adam).
    pub momentum: f32,
    pub seed: u64,
    /// Worker threads; 0 = all cores.
    pub threads: usize,
    pub device: DeviceKind,
    pub augment: AugmentConfig,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 5,
            batch_size: 32,
            optimizer: OptimizerKind::Adam,
            lr: 1e-3,
            lr_schedule: LrSchedule::Cosine,
            weight_decay: 0.0,
            momentum: 0.9,
            seed: 0,
            threads: 0,
            device: DeviceKind::Cpu,
            augment: AugmentConfig::default(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentConfig {
    /// Random translation of up to this many pixels in each direction (0 = off).
    pub shift: usize,
    /// Random horizontal flip.
    pub flip: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Run the configuration this many times with seeds seed, seed+1, …
    pub repeat: usize,
    /// Save the run's detector (`detector.safetensors`: weights and fitted scorer) with it.
    pub save_model: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            repeat: 1,
            save_model: true,
        }
    }
}
