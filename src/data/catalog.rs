//! What each dataset holds without loading its pixels, the class roles of a split (normal,
//! anomalous, reference), and the check of a config's `data` section against them
//! ([`Catalog`], the real [`crate::config::Catalog`]).
//!
//! Fashion-MNIST and CIFAR-10 are described by their published sizes (6,000 / 5,000 train and
//! 1,000 test images per class); the loader then verifies the files themselves.

use super::cifar::CIFAR10_CLASSES;
use super::classes::resolve_in;
use super::idx::FASHION_MNIST_CLASSES;
use super::locate::locate;
use super::synthetic::{SYNTHETIC_CLASSES, SYNTHETIC_PER_CLASS_TEST, SYNTHETIC_PER_CLASS_TRAIN};
use crate::config::{Config, ConfigError, DataConfig, DatasetInfo, DatasetKind};

/// Class names of a built-in dataset, without loading it.
pub fn class_names(kind: DatasetKind) -> &'static [&'static str] {
    match kind {
        DatasetKind::FashionMnist => &FASHION_MNIST_CLASSES,
        DatasetKind::Cifar10 => &CIFAR10_CLASSES,
        DatasetKind::Synthetic => &SYNTHETIC_CLASSES,
    }
}

/// A built-in dataset's classes, per-class counts and image shape.
pub fn describe(kind: DatasetKind) -> DatasetInfo {
    let (train, test) = match kind {
        DatasetKind::FashionMnist => (6000, 1000),
        DatasetKind::Cifar10 => (5000, 1000),
        DatasetKind::Synthetic => (SYNTHETIC_PER_CLASS_TRAIN, SYNTHETIC_PER_CLASS_TEST),
    };
    let classes: Vec<String> = class_names(kind).iter().map(|s| s.to_string()).collect();
    let n = classes.len();
    DatasetInfo {
        name: kind.as_str().to_string(),
        classes,
        train_counts: vec![train; n],
        test_counts: vec![test; n],
        shape: kind.input_shape(),
        training_classes: 0,
    }
}

/// The classes a split uses, as indices into the dataset's classes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roles {
    pub normal: usize,
    pub anomalous: usize,
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
    let anomalous = resolve("data.anomalous", &cfg.anomalous)?;
    if normal == anomalous {
        return Err(ConfigError::new(
            "data.anomalous",
            format!("normal and anomalous are the same class ({})", name(normal)),
        ));
    }
    let mut reference: Vec<usize> = match &cfg.reference {
        // An empty list: no reference classes (the config allows it only with transform
        // classes to train on).
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for c in list {
                let i = resolve("data.reference", c)?;
                let role = if i == normal {
                    Some("normal")
                } else if i == anomalous {
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
            .filter(|&i| i != normal && i != anomalous)
            .collect(),
    };
    reference.sort_unstable();
    if reference.is_empty() && cfg.reference.is_none() {
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

/// Checks the counts a split draws against what `info` says the classes hold.
pub fn check_counts(
    info: &DatasetInfo,
    roles: &Roles,
    cfg: &DataConfig,
) -> Result<(), ConfigError> {
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
    let normal = info.train_counts[roles.normal];
    if cfg.normal_train_count > normal {
        return Err(ConfigError::new(
            "data.normal_train_count",
            format!(
                "is {}, but the train split of {} holds only {normal} images",
                cfg.normal_train_count, info.classes[roles.normal]
            ),
        ));
    }
    for (key, c) in [
        ("data.normal", roles.normal),
        ("data.anomalous", roles.anomalous),
    ] {
        if info.test_counts[c] == 0 {
            return Err(ConfigError::new(
                key,
                format!("the test split has no images of {}", info.classes[c]),
            ));
        }
    }
    Ok(())
}

/// The real catalogue: datasets found where `data::locate` looks.
#[derive(Clone, Copy, Debug, Default)]
pub struct Catalog;

impl crate::config::Catalog for Catalog {
    fn check_data(&self, config: &Config) -> Result<DatasetInfo, ConfigError> {
        let d = &config.data;
        locate(d.dataset, d.data_dir.as_deref()).map_err(|e| {
            let key = if d.data_dir.is_some() {
                "data.data_dir"
            } else {
                "data.dataset"
            };
            ConfigError::new(key, e.to_string())
        })?;
        Builtin.check_data(config)
    }
}

/// The built-in datasets as published, without looking for their files (the lab's tests, and
/// what [`Catalog`] checks once the files are found).
#[derive(Clone, Copy, Debug, Default)]
pub struct Builtin;

impl crate::config::Catalog for Builtin {
    fn check_data(&self, config: &Config) -> Result<DatasetInfo, ConfigError> {
        let d = &config.data;
        let mut info = describe(d.dataset);
        let roles = roles(&info.name, &info.classes, d)?;
        check_counts(&info, &roles, d)?;
        info.training_classes = roles.reference.len() + 1;
        Ok(info)
    }
}
