//! The config as a table of dotted keys, each with a typed reader and a display form.
//!
//! One table serves `--set key=value`, the lab's Setup form (it edits typed fields through it,
//! never TOML text), `runs compare` and the filters (`Config::flatten`). Values are read as
//! the field's type: a number, a bool, a name from a fixed set, a list (`32,64` or `[32, 64]`),
//! a class (index or name). Errors say in plain words what is wrong (`` `abc` is not a
//! number``); the caller adds the key.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::scoring::*;
use super::types::*;
use super::{Anomalous, Config, ConfigError, ImageCount};

/// One settable key.
pub struct Key {
    /// Dotted path, as in TOML (`train.epochs`).
    pub name: &'static str,
    /// The value for display; `None` when an optional field is unset.
    pub get: fn(&Config) -> Option<String>,
    /// Reads text into the typed field.
    pub set: fn(&mut Config, &str) -> Result<(), String>,
}

/// A value that can be read from and shown as text.
pub trait Value: Sized {
    fn read(text: &str) -> Result<Self, String>;
    fn show(&self) -> Option<String>;
}

/// Whole numbers: `1000`, `1_000`.
macro_rules! whole {
    ($($t:ty: $what:literal),*) => {$(
        impl Value for $t {
            fn read(t: &str) -> Result<Self, String> {
                let t = t.trim();
                t.replace('_', "")
                    .parse()
                    .map_err(|_| format!("`{t}` is not {}", $what))
            }
            fn show(&self) -> Option<String> {
                Some(self.to_string())
            }
        }
    )*};
}
whole!(
    usize: "a whole number ≥ 0",
    u64: "a whole number ≥ 0",
    u32: "a whole number ≥ 0",
    i32: "a whole number"
);

impl Value for f32 {
    fn read(t: &str) -> Result<Self, String> {
        let t = t.trim();
        match t.replace('_', "").parse::<f32>() {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(_) => Err(format!("`{t}` is not a finite number")),
            Err(_) => Err(format!("`{t}` is not a number")),
        }
    }
    /// f32 values shown as f32 (`0.35`, not the f64 widening `0.3499999940395355`).
    fn show(&self) -> Option<String> {
        Some(format!("{self}"))
    }
}

impl Value for bool {
    fn read(t: &str) -> Result<Self, String> {
        match t.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" => Ok(false),
            other => Err(format!("`{other}` is not true or false")),
        }
    }
    fn show(&self) -> Option<String> {
        Some(self.to_string())
    }
}

impl Value for String {
    fn read(t: &str) -> Result<Self, String> {
        Ok(strip_quotes(t.trim()).to_string())
    }
    fn show(&self) -> Option<String> {
        Some(self.clone())
    }
}

impl Value for Option<PathBuf> {
    fn read(t: &str) -> Result<Self, String> {
        let t = strip_quotes(t.trim());
        Ok((!t.is_empty()).then(|| PathBuf::from(t)))
    }
    fn show(&self) -> Option<String> {
        self.as_ref().map(|p| p.display().to_string())
    }
}

/// `data.channels`, `data.size`: a number, or `auto` (empty) for the dataset's own.
impl Value for Option<usize> {
    fn read(t: &str) -> Result<Self, String> {
        let t = strip_quotes(t.trim());
        if t.is_empty() || t.eq_ignore_ascii_case("auto") {
            return Ok(None);
        }
        usize::read(t).map(Some)
    }
    fn show(&self) -> Option<String> {
        self.and_then(|v| v.show())
    }
}

/// `head.alpha`: a number, or `auto` (empty) for Ranjan et al.'s bound.
impl Value for Option<f32> {
    fn read(t: &str) -> Result<Self, String> {
        let t = t.trim();
        if t.is_empty() || t.eq_ignore_ascii_case("auto") {
            return Ok(None);
        }
        f32::read(t).map(Some)
    }
    fn show(&self) -> Option<String> {
        self.and_then(|v| v.show())
    }
}

impl Value for ClassRef {
    fn read(t: &str) -> Result<Self, String> {
        let t = strip_quotes(t.trim());
        if t.is_empty() {
            return Err("a class is needed (an index or a name)".into());
        }
        Ok(match t.parse::<usize>() {
            Ok(i) => ClassRef::Index(i),
            Err(_) => ClassRef::Name(t.to_string()),
        })
    }
    fn show(&self) -> Option<String> {
        Some(self.to_string())
    }
}

/// `data.anomalous`: a class, a list of classes (`sandal, ankle-boot` or `[5, 9]`), or `rest`.
impl Value for Anomalous {
    fn read(t: &str) -> Result<Self, String> {
        let t = strip_quotes(t.trim());
        if t.eq_ignore_ascii_case(super::roles::REST) {
            return Ok(Anomalous::Rest);
        }
        if t.starts_with('[') || t.contains(',') {
            // Commas only: class names may hold spaces (`ankle boot`).
            let inner = t
                .strip_prefix('[')
                .and_then(|x| x.strip_suffix(']'))
                .unwrap_or(t);
            let l = inner
                .split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(ClassRef::read)
                .collect::<Result<Vec<_>, _>>()?;
            return match l.len() {
                0 => Err("an empty list: name at least one class, or `rest`".into()),
                _ => Ok(Anomalous::List(l)),
            };
        }
        ClassRef::read(t).map(Anomalous::Class)
    }
    fn show(&self) -> Option<String> {
        Some(self.to_string())
    }
}

/// `data.normal_train_count`: a number, or `all`.
impl Value for ImageCount {
    fn read(t: &str) -> Result<Self, String> {
        let t = strip_quotes(t.trim());
        if t.eq_ignore_ascii_case(super::roles::ALL) {
            return Ok(ImageCount::All);
        }
        let t = t.replace('_', "");
        t.parse()
            .map(ImageCount::Count)
            .map_err(|_| format!("`{t}` is not a whole number ≥ 0 or `all`"))
    }
    fn show(&self) -> Option<String> {
        Some(self.to_string())
    }
}

/// `data.reference`: a list of classes, or `all` (empty) for every class but the two others.
impl Value for Option<Vec<ClassRef>> {
    fn read(t: &str) -> Result<Self, String> {
        let t = t.trim();
        if t.is_empty() || t.eq_ignore_ascii_case("all") {
            return Ok(None);
        }
        if t.eq_ignore_ascii_case("none") {
            return Ok(Some(Vec::new()));
        }
        list(t).map(Some)
    }
    fn show(&self) -> Option<String> {
        self.as_ref().map(|v| show_list(v))
    }
}

/// Lists of values: `32,64`, `32 64` or `[32, 64]`.
macro_rules! lists {
    ($($t:ty),*) => {$(
        impl Value for Vec<$t> {
            fn read(t: &str) -> Result<Self, String> {
                list(t)
            }
            fn show(&self) -> Option<String> {
                Some(show_list(self))
            }
        }
    )*};
}
lists!(usize, u32, i32, ScorerKind);

macro_rules! named {
    ($($t:ty),*) => {$(
        impl Value for $t {
            fn read(t: &str) -> Result<Self, String> {
                let t = strip_quotes(t.trim());
                <$t>::parse(t).ok_or_else(|| {
                    let names: Vec<&str> = <$t>::ALL.iter().map(|k| k.as_str()).collect();
                    format!("`{t}` is not one of {}", names.join(", "))
                })
            }
            fn show(&self) -> Option<String> {
                Some(self.as_str().to_string())
            }
        }
    )*};
}
named!(
    DatasetKind,
    HeadKind,
    OptimizerKind,
    LrSchedule,
    DeviceKind,
    ScorerKind,
    LabelMode,
    Sampling,
    BadImagePolicy
);

fn strip_quotes(t: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = t.strip_prefix(q).and_then(|x| x.strip_suffix(q)) {
            return inner;
        }
    }
    t
}

/// `32,64`, `32 64` or `[32, 64]`.
fn list<T: Value>(t: &str) -> Result<Vec<T>, String> {
    let t = t.trim();
    let inner = t
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(t);
    inner
        .split([',', ' '])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(T::read)
        .collect()
}

fn show_list<T: Value>(v: &[T]) -> String {
    let items: Vec<String> = v.iter().filter_map(Value::show).collect();
    format!("[{}]", items.join(", "))
}

macro_rules! key {
    ($name:literal, $($field:ident).+) => {
        Key {
            name: $name,
            get: |c| Value::show(&c.$($field).+),
            set: |c, t| {
                c.$($field).+ = Value::read(t)?;
                Ok(())
            },
        }
    };
}

/// Every key of the config, in TOML order.
pub static KEYS: &[Key] = &[
    key!("description", description),
    key!("data.dataset", data.dataset),
    key!("data.data_dir", data.data_dir),
    key!("data.normal", data.normal),
    key!("data.anomalous", data.anomalous),
    key!("data.reference", data.reference),
    key!("data.reference_count", data.reference_count),
    key!("data.normal_train_count", data.normal_train_count),
    key!("data.path", data.path),
    key!("data.channels", data.channels),
    key!("data.size", data.size),
    key!("data.test_fraction", data.test_fraction),
    key!("data.on_bad_image", data.on_bad_image),
    key!("model.widths", model.widths),
    key!("model.convs_per_stage", model.convs_per_stage),
    key!("model.padding", model.padding),
    key!("model.embedding_dim", model.embedding_dim),
    key!("head.kind", head.kind),
    key!("head.s", head.s),
    key!("head.m", head.m),
    key!("head.alpha", head.alpha),
    key!("head.easy_margin", head.easy_margin),
    key!("train.epochs", train.epochs),
    key!("train.batch_size", train.batch_size),
    key!("train.optimizer", train.optimizer),
    key!("train.lr", train.lr),
    key!("train.lr_schedule", train.lr_schedule),
    key!("train.weight_decay", train.weight_decay),
    key!("train.momentum", train.momentum),
    key!("train.seed", train.seed),
    key!("train.threads", train.threads),
    key!("train.device", train.device),
    key!("train.augment.shift", train.augment.shift),
    key!("train.augment.flip", train.augment.flip),
    key!("transforms.rotations", transforms.rotations),
    key!("transforms.flip", transforms.flip),
    key!("transforms.shifts", transforms.shifts),
    key!("transforms.labels", transforms.labels),
    key!("transforms.sample", transforms.sample),
    key!("score.scorers", score.scorers),
    key!("score.lof_k", score.lof_k),
    key!("score.knn_k", score.knn_k),
    key!("score.eval_every", score.eval_every),
    key!("score.shrinkage", score.shrinkage),
    key!("score.normalize", score.normalize),
    key!("score.ensemble", score.ensemble),
    key!("score.views.rotations", score.views.rotations),
    key!("score.views.flip", score.views.flip),
    key!("score.views.shifts", score.views.shifts),
    key!("score.calibration_folds", score.calibration_folds),
    key!("run.repeat", run.repeat),
    key!("run.save_model", run.save_model),
];

/// The key named `name`.
pub fn key(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// Whether `name` is a key of the config.
pub fn is_key(name: &str) -> bool {
    key(name).is_some()
}

fn unknown(name: &str) -> ConfigError {
    let close: Vec<&str> = KEYS
        .iter()
        .map(|k| k.name)
        .filter(|k| {
            k.rsplit('.').next() == name.rsplit('.').next() || (name.len() >= 4 && k.contains(name))
        })
        .take(3)
        .collect();
    let hint = if close.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", close.join(", "))
    };
    ConfigError::new(name, format!("unknown key{hint}"))
}

impl Config {
    /// Sets one key from text, as its field's type. The config is not validated here.
    pub fn set(&mut self, name: &str, text: &str) -> Result<(), ConfigError> {
        let k = key(name.trim()).ok_or_else(|| unknown(name.trim()))?;
        (k.set)(self, text).map_err(|m| ConfigError::new(k.name, m))
    }

    /// The display value of one key (`None` for an unknown key or an unset optional one).
    pub fn get(&self, name: &str) -> Option<String> {
        key(name).and_then(|k| (k.get)(self))
    }

    /// Applies one `key.path=value` assignment (`--set head.kind=arcface`) and returns the
    /// changed config (not validated).
    pub fn with_override(&self, assignment: &str) -> Result<Config, ConfigError> {
        let (name, text) = assignment.split_once('=').ok_or_else(|| {
            ConfigError::new(assignment, "an override must look like key.path=value")
        })?;
        let mut c = self.clone();
        c.set(name, text)?;
        Ok(c)
    }

    /// Every set key → its display value (`head.kind` → `arcface`, `head.m` → `0.35`).
    pub fn flatten(&self) -> BTreeMap<String, String> {
        KEYS.iter()
            .filter_map(|k| (k.get)(self).map(|v| (k.name.to_string(), v)))
            .collect()
    }
}
