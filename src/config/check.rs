//! The one check a config passes before a run exists: [`Config::validate`]'s ranges, then the
//! dataset (found on disk, the classes exist, the counts fit what its splits hold), the build
//! (CUDA compiled in) and the machine (the model fits in memory).
//!
//! The dataset and the model's own check come in through [`Catalog`] and a function, so this
//! module knows no other adalab module; `job::check` puts the real ones together and is what
//! every front end calls.

use std::fmt;

use super::{Config, ConfigError, DeviceKind};

/// What a dataset holds, as far as a config check needs to know (no pixels loaded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetInfo {
    /// The dataset's name for messages (`fashion-mnist`, a folder's path…).
    pub name: String,
    pub classes: Vec<String>,
    /// Images per class in the train split.
    pub train_counts: Vec<usize>,
    /// Images per class in the test split.
    pub test_counts: Vec<usize>,
    /// (channels, height, width) of the images the model sees.
    pub shape: (usize, usize, usize),
    /// Classes the model is trained on (reference classes plus the normal one), once the
    /// split's class roles are resolved.
    pub training_classes: usize,
    /// What the config's split draws from it.
    pub split: SplitCounts,
}

/// What a config's split draws, counted before any pixel is loaded: the check shows it, the
/// lab's Setup too.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SplitCounts {
    pub normal_class: String,
    /// Normal train images drawn, and how many the class holds.
    pub normal_train: usize,
    pub normal_available: usize,
    pub reference_classes: Vec<String>,
    /// Reference train images drawn.
    pub reference: usize,
    pub anomalous_classes: Vec<String>,
    /// `data.anomalous = "rest"`.
    pub rest: bool,
    pub test_normal: usize,
    pub test_anomalous: usize,
}

/// `9000` → `9,000`.
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

impl SplitCounts {
    /// `train 6,000 sneaker (all); test 1,000 normal + 9,000 anomalous (rest: 9 classes)`.
    pub fn describe(&self) -> String {
        let mut train = format!(
            "train {} {}",
            thousands(self.normal_train),
            self.normal_class
        );
        if self.normal_train == self.normal_available {
            train.push_str(" (all)");
        } else {
            train.push_str(&format!(" (of {})", thousands(self.normal_available)));
        }
        if !self.reference_classes.is_empty() {
            train.push_str(&format!(
                " + {} reference ({} class{})",
                thousands(self.reference),
                self.reference_classes.len(),
                if self.reference_classes.len() == 1 {
                    ""
                } else {
                    "es"
                }
            ));
        }
        let n = self.anomalous_classes.len();
        let which = match (self.rest, n) {
            (true, _) if self.reference_classes.is_empty() => {
                format!(
                    "rest: all {n} other class{}",
                    if n == 1 { "" } else { "es" }
                )
            }
            (true, 1) => "rest: the 1 class neither normal nor reference".to_string(),
            (true, _) => format!("rest: the {n} classes neither normal nor reference"),
            (false, 1) => self.anomalous_classes[0].clone(),
            (false, _) => format!("{n} classes"),
        };
        format!(
            "{train}; test {} normal + {} anomalous ({which})",
            thousands(self.test_normal),
            thousands(self.test_anomalous)
        )
    }
}

/// Finds the dataset a config names and checks its `data` section against it.
pub trait Catalog {
    /// Errors name the key (`data.normal`, `data.reference_count`, `data.data_dir`…).
    fn check_data(&self, config: &Config) -> Result<DatasetInfo, ConfigError>;
}

/// What this build and machine can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Build {
    /// The CUDA path is compiled in.
    pub cuda: bool,
    /// Memory available to a new job, when known.
    pub memory_bytes: Option<u64>,
}

impl Build {
    /// This binary on this machine (`MemAvailable` from `/proc/meminfo`).
    pub fn current() -> Build {
        Build {
            cuda: cfg!(feature = "cuda"),
            memory_bytes: available_memory(),
        }
    }
}

/// `MemAvailable` of `/proc/meminfo`, in bytes.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A byte count for messages: `3.1 GiB`.
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0 as f64;
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut v = b;
        let mut u = 0;
        while v >= 1024.0 && u + 1 < UNITS.len() {
            v /= 1024.0;
            u += 1;
        }
        if u == 0 {
            write!(f, "{} B", self.0)
        } else {
            write!(f, "{v:.1} {}", UNITS[u])
        }
    }
}

impl Config {
    /// Everything a run needs before it starts: ranges ([`Config::validate`]), the dataset
    /// ([`Catalog::check_data`]), the device, the model (`model` checks that it can be built
    /// for the dataset's image shape and class count, and returns the bytes training needs)
    /// and memory. Returns what the dataset holds.
    pub fn check(
        &self,
        catalog: &dyn Catalog,
        build: &Build,
        model: &dyn Fn(&Config, &DatasetInfo) -> Result<u64, ConfigError>,
    ) -> Result<DatasetInfo, ConfigError> {
        self.validate()?;
        if self.train.device == DeviceKind::Cuda && !build.cuda {
            return Err(ConfigError::new(
                "train.device",
                "cuda, but this adalab was built without the `cuda` feature (rebuild with \
                 `cargo build --release --features cuda` on a machine with CUDA)",
            ));
        }
        let info = catalog.check_data(self)?;
        let need = model(self, &info)?;
        if let Some(avail) = build.memory_bytes {
            if need > avail / 10 * 9 {
                return Err(ConfigError::new(
                    "model",
                    format!(
                        "this model needs about {} to train (model.widths = {:?}, \
                         model.embedding_dim = {}, train.batch_size = {}, images {}×{}×{}), \
                         but only {} of memory is available; use fewer or narrower stages, a \
                         smaller embedding or batch",
                        Bytes(need),
                        self.model.widths,
                        self.model.embedding_dim,
                        self.train.batch_size,
                        info.shape.0,
                        info.shape.1,
                        info.shape.2,
                        Bytes(avail)
                    ),
                ));
            }
        }
        Ok(info)
    }
}
