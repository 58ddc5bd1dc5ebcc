//! What each dataset holds without loading its pixels, the class roles of a split (normal,
//! anomalous, reference), and the check of a config's `data` section against them
//! ([`Catalog`], the real [`crate::config::Catalog`]).
//!
//! Fashion-MNIST and CIFAR-10 are described by their published sizes (6,000 / 5,000 train and
//! 1,000 test images per class); the loader then verifies the files themselves. Folder
//! datasets are listed without decoding ([`super::folder::scan`]); their undecodable files
//! show only when loading.

use std::sync::Arc;

use super::cifar::CIFAR10_CLASSES;
use super::classes::resolve_in;
use super::folder::{scan_for, Scan, Split, MVTEC_CLASSES};
use super::idx::FASHION_MNIST_CLASSES;
use super::locate::locate;
use super::synthetic::{SYNTHETIC_CLASSES, SYNTHETIC_PER_CLASS_TEST, SYNTHETIC_PER_CLASS_TRAIN};
use super::DataError;
use crate::config::{
    BadImagePolicy, Config, ConfigError, DataConfig, DatasetInfo, DatasetKind, SplitCounts,
};

/// Class names of a built-in dataset (and MVTec's `good`, `defect`), without loading it; empty
/// for a `folder` dataset, whose classes are its folders ([`classes_for`]).
pub fn class_names(kind: DatasetKind) -> &'static [&'static str] {
    match kind {
        DatasetKind::FashionMnist => &FASHION_MNIST_CLASSES,
        DatasetKind::Cifar10 => &CIFAR10_CLASSES,
        DatasetKind::Synthetic => &SYNTHETIC_CLASSES,
        DatasetKind::Mvtec => &MVTEC_CLASSES,
        DatasetKind::Folder => &[],
    }
}

/// The class names of the dataset `cfg` names: a built-in list, or a folder's class folders
/// (listed, not decoded; empty when the folder cannot be listed).
pub fn classes_for(cfg: &DataConfig) -> Vec<String> {
    match cfg.dataset {
        DatasetKind::Folder => scan_for(cfg).map(|s| s.classes.clone()).unwrap_or_default(),
        kind => class_names(kind).iter().map(|s| s.to_string()).collect(),
    }
}

/// A built-in dataset's published per-class counts.
fn builtin_info(kind: DatasetKind, shape: (usize, usize, usize)) -> DatasetInfo {
    let (train, test) = match kind {
        DatasetKind::FashionMnist => (6000, 1000),
        DatasetKind::Cifar10 => (5000, 1000),
        _ => (SYNTHETIC_PER_CLASS_TRAIN, SYNTHETIC_PER_CLASS_TEST),
    };
    let classes: Vec<String> = class_names(kind).iter().map(|s| s.to_string()).collect();
    let n = classes.len();
    DatasetInfo {
        name: kind.as_str().to_string(),
        classes,
        train_counts: vec![train; n],
        test_counts: vec![test; n],
        shape,
        training_classes: 0,
        split: SplitCounts::default(),
    }
}

/// A folder dataset's classes and per-split counts from its listing.
fn folder_info(cfg: &DataConfig) -> Result<(DatasetInfo, Arc<Scan>), DataError> {
    let s = scan_for(cfg)?;
    let info = DatasetInfo {
        name: format!("{} {}", cfg.dataset, s.root.display()),
        classes: s.classes.clone(),
        train_counts: s.counts(Split::Train),
        test_counts: s.counts(Split::Test),
        shape: cfg.input_shape(),
        training_classes: 0,
        split: SplitCounts::default(),
    };
    Ok((info, s))
}

/// What the dataset `cfg` names holds: classes, per-class counts per split and the image shape
/// the model sees. Built-in datasets are described by their published sizes; a folder dataset
/// is listed (stat only, remembered while its folders are unchanged), never decoded.
pub fn describe(cfg: &DataConfig) -> Result<DatasetInfo, DataError> {
    if cfg.dataset.is_folder() {
        return folder_info(cfg).map(|(info, _)| info);
    }
    Ok(builtin_info(cfg.dataset, cfg.input_shape()))
}

/// The classes a split uses, as indices into the dataset's classes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roles {
    pub normal: usize,
    /// Anomalous classes, ascending (one, a list, or the rest).
    pub anomalous: Vec<usize>,
    /// Reference classes, ascending.
    pub reference: Vec<usize>,
}

/// Resolves the normal, anomalous and reference classes of `cfg` in `names`. Errors name the
/// key and list the valid classes.
pub fn roles<S: AsRef<str>>(
    dataset: &str,
    names: &[S],
    cfg: &DataConfig,
) -> Result<Roles, ConfigError> {
    let name = |i: usize| names[i].as_ref().to_string();
    let resolve = |key: &str, c| {
        resolve_in(dataset, names, c).map_err(|e| ConfigError::new(key, e.to_string()))
    };
    let normal = resolve("data.normal", &cfg.normal)?;
    let mut anomalous = Vec::new();
    for c in cfg.anomalous.listed() {
        let i = resolve("data.anomalous", c)?;
        if i == normal {
            return Err(ConfigError::new(
                "data.anomalous",
                format!("normal and anomalous are the same class ({})", name(normal)),
            ));
        }
        if anomalous.contains(&i) {
            return Err(ConfigError::new(
                "data.anomalous",
                format!("anomalous class {} is listed twice", name(i)),
            ));
        }
        anomalous.push(i);
    }
    let rest = cfg.anomalous.is_rest();
    // MVTec has no reference classes: an unset list means none; so does one-vs-rest.
    let listed = match (&cfg.reference, cfg.dataset) {
        (Some(list), _) => Some(&list[..]),
        (None, DatasetKind::Mvtec) => Some(&[][..]),
        (None, _) if rest => Some(&[][..]),
        (None, _) => None,
    };
    let mut reference: Vec<usize> = match listed {
        // An empty list: no reference classes (the config allows it only with transform
        // classes to train on).
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for c in list {
                let i = resolve("data.reference", c)?;
                let role = if i == normal {
                    Some("normal")
                } else if anomalous.contains(&i) {
                    Some("anomalous")
                } else {
                    None
                };
                if let Some(role) = role {
                    return Err(ConfigError::new(
                        "data.reference",
                        format!("reference classes include the {role} class ({})", name(i)),
                    ));
                }
                if out.contains(&i) {
                    return Err(ConfigError::new(
                        "data.reference",
                        format!("reference class {} is listed twice", name(i)),
                    ));
                }
                out.push(i);
            }
            out
        }
        None => (0..names.len())
            .filter(|&i| i != normal && !anomalous.contains(&i))
            .collect(),
    };
    reference.sort_unstable();
    if rest {
        anomalous = (0..names.len())
            .filter(|&i| i != normal && !reference.contains(&i))
            .collect();
        if anomalous.is_empty() {
            return Err(ConfigError::new(
                "data.anomalous",
                format!(
                    "is \"rest\", but no class is left: every class but {} is a reference \
                     class",
                    name(normal)
                ),
            ));
        }
    }
    anomalous.sort_unstable();
    if reference.is_empty() && listed.is_none() {
        return Err(ConfigError::new(
            "data.reference",
            "no reference classes left",
        ));
    }
    Ok(Roles {
        normal,
        anomalous,
        reference,
    })
}

/// Checks the counts a split draws against what `info` says the classes hold, and returns
/// them.
pub fn check_counts(
    info: &DatasetInfo,
    roles: &Roles,
    cfg: &DataConfig,
) -> Result<SplitCounts, ConfigError> {
    let names = |cs: &[usize]| {
        cs.iter()
            .map(|&c| info.classes[c].as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let pool: usize = roles.reference.iter().map(|&c| info.train_counts[c]).sum();
    if !roles.reference.is_empty() && cfg.reference_count > pool {
        return Err(ConfigError::new(
            "data.reference_count",
            format!(
                "is {}, but the train split of {} holds only {pool} images",
                cfg.reference_count,
                names(&roles.reference)
            ),
        ));
    }
    let available = info.train_counts[roles.normal];
    let normal_train = cfg.normal_train_count.of(available);
    if normal_train > available {
        return Err(ConfigError::new(
            "data.normal_train_count",
            format!(
                "is {normal_train}, but the train split of {} holds only {available} images",
                info.classes[roles.normal]
            ),
        ));
    }
    if normal_train < 2 {
        return Err(ConfigError::new(
            "data.normal_train_count",
            format!(
                "is \"all\", but the train split of {} holds {available} image{}: at least 2 \
                 are needed",
                info.classes[roles.normal],
                if available == 1 { "" } else { "s" }
            ),
        ));
    }
    if info.test_counts[roles.normal] == 0 {
        return Err(ConfigError::new(
            "data.normal",
            format!(
                "the test split has no images of {}",
                info.classes[roles.normal]
            ),
        ));
    }
    // A listed class must be in the test split; of "the rest", at least one.
    let rest = cfg.anomalous.is_rest();
    let test_anomalous: usize = roles.anomalous.iter().map(|&c| info.test_counts[c]).sum();
    if let Some(&c) = roles
        .anomalous
        .iter()
        .find(|&&c| !rest && info.test_counts[c] == 0)
    {
        return Err(ConfigError::new(
            "data.anomalous",
            format!("the test split has no images of {}", info.classes[c]),
        ));
    }
    if test_anomalous == 0 {
        return Err(ConfigError::new(
            "data.anomalous",
            format!(
                "the test split has no images of {}",
                names(&roles.anomalous)
            ),
        ));
    }
    let list = |cs: &[usize]| cs.iter().map(|&c| info.classes[c].clone()).collect();
    Ok(SplitCounts {
        normal_class: info.classes[roles.normal].clone(),
        normal_train,
        normal_available: available,
        reference_classes: list(&roles.reference),
        reference: if roles.reference.is_empty() {
            0
        } else {
            cfg.reference_count
        },
        anomalous_classes: list(&roles.anomalous),
        rest,
        test_normal: info.test_counts[roles.normal],
        test_anomalous,
    })
}

/// The real catalogue: datasets found where `data::locate` looks.
#[derive(Clone, Copy, Debug, Default)]
pub struct Catalog;

impl crate::config::Catalog for Catalog {
    fn check_data(&self, config: &Config) -> Result<DatasetInfo, ConfigError> {
        let d = &config.data;
        if !d.dataset.is_folder() {
            locate(d.dataset, d.data_dir.as_deref()).map_err(|e| {
                let key = if d.data_dir.is_some() {
                    "data.data_dir"
                } else {
                    "data.dataset"
                };
                ConfigError::new(key, e.to_string())
            })?;
        }
        Builtin.check_data(config)
    }
}

/// The built-in datasets as published, without looking for their files (the lab's tests, and
/// what [`Catalog`] checks once the files are found). A folder dataset has no description but
/// its folder: it is listed here too.
#[derive(Clone, Copy, Debug, Default)]
pub struct Builtin;

impl crate::config::Catalog for Builtin {
    fn check_data(&self, config: &Config) -> Result<DatasetInfo, ConfigError> {
        let d = &config.data;
        let mut info = if d.dataset.is_folder() {
            if d.folder_path().is_none() {
                let what = match d.dataset {
                    DatasetKind::Mvtec => {
                        "an MVTec AD category folder (holding train/good and test/)"
                    }
                    _ => "the folder holding one sub-folder per class",
                };
                return Err(ConfigError::new(
                    "data.path",
                    format!("dataset = \"{}\" needs data.path: {what}", d.dataset),
                ));
            }
            let key = if d.path.is_some() {
                "data.path"
            } else {
                "data.data_dir"
            };
            let (info, scan) = folder_info(d).map_err(|e| ConfigError::new(key, e.to_string()))?;
            if d.on_bad_image == BadImagePolicy::Error {
                if let Some(p) = scan.problems.first() {
                    return Err(ConfigError::new(
                        key,
                        format!("{p} (data.on_bad_image = \"skip\" leaves it out)"),
                    ));
                }
                // Headers (cheap): an image that cannot be read fails here, before a run.
                crate::data::folder::check_headers(&scan)
                    .map_err(|e| ConfigError::new(key, e.to_string()))?;
            }
            info
        } else {
            builtin_info(d.dataset, d.input_shape())
        };
        let roles = roles(&info.name, &info.classes, d)?;
        info.split = check_counts(&info, &roles, d)?;
        config.check_neighbours(info.split.normal_train)?;
        info.training_classes = roles.reference.len() + 1;
        Ok(info)
    }
}
