//! The experiment configuration: one serde struct tree, read from TOML, validated once.
//!
//! Every field has a default, so a profile only names what it changes. Unknown keys are
//! errors (`deny_unknown_fields`), and [`Config::validate`] checks ranges and combinations,
//! naming the offending key (`head.m`, `train.epochs`, …) in its message.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

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
}

impl DatasetKind {
    pub const ALL: [DatasetKind; 3] = [
        DatasetKind::FashionMnist,
        DatasetKind::Cifar10,
        DatasetKind::Synthetic,
    ];

    /// The name used on the command line, in TOML and as the folder name under a data dir.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Cifar10 => "cifar-10",
            DatasetKind::Synthetic => "synthetic",
        }
    }

    pub fn parse(s: &str) -> Option<DatasetKind> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        match norm.as_str() {
            "fashion-mnist" | "fashion" | "fmnist" => Some(DatasetKind::FashionMnist),
            "cifar-10" | "cifar10" | "cifar" => Some(DatasetKind::Cifar10),
            "synthetic" | "synth" => Some(DatasetKind::Synthetic),
            _ => None,
        }
    }

    /// Input shape (channels, height, width).
    pub fn input_shape(self) -> (usize, usize, usize) {
        match self {
            DatasetKind::FashionMnist | DatasetKind::Synthetic => (1, 28, 28),
            DatasetKind::Cifar10 => (3, 32, 32),
        }
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
    pub anomalous: ClassRef,
    /// Reference classes; `None` means every class except normal and anomalous.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<Vec<ClassRef>>,
    pub reference_count: usize,
    pub normal_train_count: usize,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            dataset: DatasetKind::FashionMnist,
            data_dir: None,
            normal: ClassRef::Name("sneaker".into()),
            anomalous: ClassRef::Name("ankle-boot".into()),
            reference: None,
            reference_count: 8000,
            normal_train_count: 1000,
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

/// How the learning rate changes over the epochs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LrSchedule {
    /// `lr` throughout.
    Constant,
    /// Cosine decay from `lr` to 1% of it over the run, per batch.
    Cosine,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    Cpu,
    Cuda,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Cuda => "cuda",
        }
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentConfig {
    /// Random translation of up to this many pixels in each direction (0 = off).
    pub shift: usize,
    /// Random horizontal flip.
    pub flip: bool,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        AugmentConfig {
            shift: 0,
            flip: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScorerKind {
    Lof,
    KnnCosine,
    ClassCosine,
}

impl ScorerKind {
    pub const ALL: [ScorerKind; 3] = [
        ScorerKind::Lof,
        ScorerKind::KnnCosine,
        ScorerKind::ClassCosine,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ScorerKind::Lof => "lof",
            ScorerKind::KnnCosine => "knn-cosine",
            ScorerKind::ClassCosine => "class-cosine",
        }
    }
    pub fn parse(s: &str) -> Option<ScorerKind> {
        ScorerKind::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

impl fmt::Display for ScorerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoreConfig {
    /// Scorers to evaluate; the first is the primary one (shown and sorted by).
    pub scorers: Vec<ScorerKind>,
    /// Neighbours for LOF.
    pub lof_k: usize,
    /// Neighbours averaged by knn-cosine (1 = nearest neighbour).
    pub knn_k: usize,
    /// Evaluate the test AUC every N epochs (the last epoch is always evaluated).
    pub eval_every: usize,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        ScoreConfig {
            scorers: vec![ScorerKind::KnnCosine, ScorerKind::Lof],
            lof_k: 5,
            knn_k: 1,
            eval_every: 1,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Run the configuration this many times with seeds seed, seed+1, …
    pub repeat: usize,
    /// Save `model.safetensors` with the run.
    pub save_model: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            repeat: 1,
            save_model: false,
        }
    }
}

/// A configuration error that names the key (and the file, when there is one).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{key}: {message}", source_prefix(.file))]
pub struct ConfigError {
    pub file: Option<PathBuf>,
    pub key: String,
    pub message: String,
}

fn source_prefix(file: &Option<PathBuf>) -> String {
    match file {
        Some(f) => format!("{}: ", f.display()),
        None => String::new(),
    }
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            file: None,
            key: key.into(),
            message: message.into(),
        }
    }
    pub fn in_file(mut self, file: &Path) -> Self {
        self.file = Some(file.to_path_buf());
        self
    }
}

impl Config {
    /// Parses TOML text. Errors name the key (`train.epochs`) and what is wrong.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let de = toml::de::Deserializer::parse(text).map_err(|e| toml_error(text, &e))?;
        let cfg: Config = serde_path_error(de, text)?;
        Ok(cfg)
    }

    /// Reads and validates a TOML file; every error names the file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new("(file)", format!("cannot read: {e}")).in_file(path))?;
        let cfg = Config::from_toml_str(&text).map_err(|e| e.in_file(path))?;
        cfg.validate().map_err(|e| e.in_file(path))?;
        Ok(cfg)
    }

    pub fn to_toml_string(&self) -> String {
        toml::to_string_pretty(self).expect("config serialises")
    }

    /// Applies `key.path=value` overrides (`head.kind=arcface`, `train.epochs=5`).
    /// The value is parsed as TOML (number, bool, array…) and falls back to a string.
    pub fn with_override(&self, assignment: &str) -> Result<Config, ConfigError> {
        let (key, raw) = assignment.split_once('=').ok_or_else(|| {
            ConfigError::new(assignment, "an override must look like key.path=value")
        })?;
        let key = key.trim();
        let raw = raw.trim();
        let value = parse_override_value(raw);
        let mut doc = toml::Value::try_from(self)
            .map_err(|e| ConfigError::new(key, format!("cannot serialise config: {e}")))?;
        let mut cur = &mut doc;
        let parts: Vec<&str> = key.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let table = cur
                .as_table_mut()
                .ok_or_else(|| ConfigError::new(key, format!("`{part}` is not inside a table")))?;
            if i + 1 == parts.len() {
                if !known_key(&parts) {
                    return Err(ConfigError::new(key, "unknown key"));
                }
                table.insert(part.to_string(), value.clone());
                break;
            }
            if !table.contains_key(*part) {
                if known_key(&parts[..=i]) {
                    table.insert(part.to_string(), toml::Value::Table(Default::default()));
                } else {
                    return Err(ConfigError::new(key, "unknown key"));
                }
            }
            cur = table.get_mut(*part).expect("inserted above");
        }
        let text = toml::to_string(&doc)
            .map_err(|e| ConfigError::new(key, format!("cannot serialise config: {e}")))?;
        let cfg = Config::from_toml_str(&text).map_err(|mut e| {
            if e.key == "(toml)" || e.key.is_empty() {
                e.key = key.to_string();
            }
            e
        })?;
        Ok(cfg)
    }

    /// Checks ranges and combinations once; the message names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let d = &self.data;
        if d.reference_count == 0 {
            return Err(ConfigError::new(
                "data.reference_count",
                "must be at least 1",
            ));
        }
        if d.normal_train_count == 0 {
            return Err(ConfigError::new(
                "data.normal_train_count",
                "must be at least 1",
            ));
        }
        if d.normal == d.anomalous {
            return Err(ConfigError::new(
                "data.anomalous",
                format!(
                    "the anomalous class must differ from the normal class ({})",
                    d.normal
                ),
            ));
        }
        if let Some(r) = &d.reference {
            if r.is_empty() {
                return Err(ConfigError::new(
                    "data.reference",
                    "must name at least one class (or be left out for all others)",
                ));
            }
        }
        let m = &self.model;
        if m.widths.is_empty() || m.widths.len() > 4 {
            return Err(ConfigError::new("model.widths", "needs 1 to 4 stages"));
        }
        if let Some(w) = m.widths.iter().find(|&&w| w == 0 || w > 1024) {
            return Err(ConfigError::new(
                "model.widths",
                format!("stage width {w} is out of range 1..=1024"),
            ));
        }
        if m.convs_per_stage == 0 || m.convs_per_stage > 4 {
            return Err(ConfigError::new("model.convs_per_stage", "must be 1 to 4"));
        }
        if m.padding > 1 {
            return Err(ConfigError::new("model.padding", "must be 0 or 1"));
        }
        if m.embedding_dim == 0 || m.embedding_dim > 4096 {
            return Err(ConfigError::new("model.embedding_dim", "must be 1 to 4096"));
        }
        let h = &self.head;
        if !(h.s.is_finite() && h.s > 0.0) {
            return Err(ConfigError::new("head.s", "must be a positive number"));
        }
        if !(h.m.is_finite() && h.m >= 0.0) {
            return Err(ConfigError::new("head.m", "must be ≥ 0"));
        }
        if h.kind == HeadKind::Arcface && h.m >= std::f32::consts::FRAC_PI_2 {
            return Err(ConfigError::new(
                "head.m",
                "ArcFace margin must be below π/2 radians",
            ));
        }
        if h.kind == HeadKind::Cosface && h.m >= 1.0 {
            return Err(ConfigError::new("head.m", "CosFace margin must be below 1"));
        }
        if let Some(a) = h.alpha {
            if !(a.is_finite() && a > 0.0) {
                return Err(ConfigError::new("head.alpha", "must be a positive number"));
            }
        }
        let t = &self.train;
        if t.epochs == 0 || t.epochs > 10_000 {
            return Err(ConfigError::new("train.epochs", "must be 1 to 10000"));
        }
        if t.batch_size < 2 || t.batch_size > 4096 {
            return Err(ConfigError::new(
                "train.batch_size",
                "must be 2 to 4096 (BatchNorm needs at least two samples)",
            ));
        }
        if !(t.lr.is_finite() && t.lr > 0.0 && t.lr < 10.0) {
            return Err(ConfigError::new("train.lr", "must be in (0, 10)"));
        }
        if !(t.weight_decay.is_finite() && t.weight_decay >= 0.0) {
            return Err(ConfigError::new("train.weight_decay", "must be ≥ 0"));
        }
        if !(t.momentum.is_finite() && (0.0..1.0).contains(&t.momentum)) {
            return Err(ConfigError::new("train.momentum", "must be in [0, 1)"));
        }
        if t.threads > 256 {
            return Err(ConfigError::new(
                "train.threads",
                "must be 0 (all cores) to 256",
            ));
        }
        if t.augment.shift > 8 {
            return Err(ConfigError::new(
                "train.augment.shift",
                "must be 0 to 8 pixels",
            ));
        }
        let s = &self.score;
        if s.scorers.is_empty() {
            return Err(ConfigError::new(
                "score.scorers",
                "name at least one scorer",
            ));
        }
        for (i, a) in s.scorers.iter().enumerate() {
            if s.scorers[..i].contains(a) {
                return Err(ConfigError::new(
                    "score.scorers",
                    format!("`{a}` is listed twice"),
                ));
            }
        }
        if s.scorers.contains(&ScorerKind::ClassCosine) && !h.kind.is_cosine() {
            return Err(ConfigError::new(
                "score.scorers",
                format!(
                    "class-cosine needs a cosine head (arcface, cosface, adacos-*), not {}",
                    h.kind
                ),
            ));
        }
        if s.lof_k == 0 || s.lof_k > 100 {
            return Err(ConfigError::new("score.lof_k", "must be 1 to 100"));
        }
        if s.knn_k == 0 || s.knn_k > 100 {
            return Err(ConfigError::new("score.knn_k", "must be 1 to 100"));
        }
        if s.eval_every == 0 {
            return Err(ConfigError::new("score.eval_every", "must be at least 1"));
        }
        if self.run.repeat == 0 || self.run.repeat > 1000 {
            return Err(ConfigError::new("run.repeat", "must be 1 to 1000"));
        }
        Ok(())
    }

    /// The primary scorer (first listed).
    pub fn primary_scorer(&self) -> ScorerKind {
        self.score
            .scorers
            .first()
            .copied()
            .unwrap_or(ScorerKind::KnnCosine)
    }

    /// A short `dataset normal→anomalous` label for lists.
    pub fn split_label(&self) -> String {
        format!(
            "{} {}→{}",
            self.data.dataset, self.data.normal, self.data.anomalous
        )
    }
}

fn parse_override_value(raw: &str) -> toml::Value {
    let probe = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&probe) {
        Ok(mut t) => t.remove("v").unwrap_or(toml::Value::String(raw.into())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

/// Whether a dotted key path exists in the config tree (derived from the default config).
fn known_key(parts: &[&str]) -> bool {
    // Optional fields are skipped when None, so list them explicitly.
    const OPTIONAL: [&str; 3] = ["data.data_dir", "data.reference", "head.alpha"];
    let joined = parts.join(".");
    if OPTIONAL.contains(&joined.as_str()) {
        return true;
    }
    let doc = toml::Value::try_from(Config::default()).expect("default serialises");
    let mut cur = &doc;
    for p in parts {
        match cur.as_table().and_then(|t| t.get(*p)) {
            Some(v) => cur = v,
            None => return false,
        }
    }
    true
}

fn serde_path_error(de: toml::de::Deserializer<'_>, text: &str) -> Result<Config, ConfigError> {
    Config::deserialize(de).map_err(|e| toml_error(text, &e))
}

fn toml_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let msg = e.message().to_string();
    // toml reports the span; turn it into the dotted key the user wrote.
    let key = e
        .span()
        .map(|sp| key_at(text, sp.start))
        .unwrap_or_else(|| "(toml)".into());
    let line = e
        .span()
        .map(|sp| text[..sp.start.min(text.len())].matches('\n').count() + 1);
    let message = match line {
        Some(l) => format!("{msg} (line {l})"),
        None => msg,
    };
    ConfigError::new(key, message)
}

/// The dotted key at byte offset `pos`: the current `[table]` plus the key on that line.
fn key_at(text: &str, pos: usize) -> String {
    let pos = pos.min(text.len());
    let mut table = String::new();
    let mut key = String::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim();
        if trimmed.starts_with('[') && !trimmed.starts_with("[[") {
            table = trimmed
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            key.clear();
        } else if let Some((k, _)) = trimmed.split_once('=') {
            key = k.trim().trim_matches('"').to_string();
        }
        if pos < offset || offset == text.len() {
            let _ = start;
            break;
        }
    }
    match (table.is_empty(), key.is_empty()) {
        (true, true) => "(toml)".into(),
        (true, false) => key,
        (false, true) => table,
        (false, false) => format!("{table}.{key}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_roundtrips_and_validates() {
        let c = Config::default();
        c.validate().unwrap();
        let text = c.to_toml_string();
        assert_eq!(Config::from_toml_str(&text).unwrap(), c);
    }

    #[test]
    fn partial_profile_fills_defaults() {
        let c = Config::from_toml_str("[head]\nkind = \"arcface\"\nm = 0.3\n").unwrap();
        assert_eq!(c.head.kind, HeadKind::Arcface);
        assert_eq!(c.head.m, 0.3);
        assert_eq!(c.train.epochs, TrainConfig::default().epochs);
    }

    #[test]
    fn unknown_key_names_it() {
        let e = Config::from_toml_str("[train]\nepochz = 3\n").unwrap_err();
        assert_eq!(e.key, "train.epochz");
        assert!(e.message.contains("unknown field"), "{}", e.message);
    }

    #[test]
    fn wrong_type_names_key() {
        let e = Config::from_toml_str("[train]\nepochs = \"many\"\n").unwrap_err();
        assert_eq!(e.key, "train.epochs");
    }

    #[test]
    fn out_of_range_names_key() {
        let mut c = Config::default();
        c.train.epochs = 0;
        assert_eq!(c.validate().unwrap_err().key, "train.epochs");
        let mut c = Config::default();
        c.head.kind = HeadKind::Arcface;
        c.head.m = 2.0;
        assert_eq!(c.validate().unwrap_err().key, "head.m");
        let mut c = Config::default();
        c.data.anomalous = c.data.normal.clone();
        assert_eq!(c.validate().unwrap_err().key, "data.anomalous");
    }

    #[test]
    fn overrides_apply_and_are_checked() {
        let c = Config::default()
            .with_override("head.kind=arcface")
            .unwrap()
            .with_override("train.epochs=5")
            .unwrap()
            .with_override("data.normal=deer")
            .unwrap()
            .with_override("data.reference=[0, 1, 2]")
            .unwrap();
        assert_eq!(c.head.kind, HeadKind::Arcface);
        assert_eq!(c.train.epochs, 5);
        assert_eq!(c.data.normal, ClassRef::Name("deer".into()));
        assert_eq!(c.data.reference.as_ref().unwrap().len(), 3);
        let e = Config::default()
            .with_override("train.epochz=5")
            .unwrap_err();
        assert_eq!(e.key, "train.epochz");
        let e = Config::default()
            .with_override("head.kind=nope")
            .unwrap_err();
        assert_eq!(e.key, "head.kind");
        let e = Config::default().with_override("train.epochs").unwrap_err();
        assert!(e.message.contains("key.path=value"));
    }

    #[test]
    fn every_shipped_profile_loads_and_validates() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "toml") {
                let c = Config::load(&p).unwrap_or_else(|e| panic!("{e}"));
                assert!(!c.description.is_empty(), "{}", p.display());
                n += 1;
            }
        }
        assert!(n >= 13, "{n} profiles");
        let c = Config::load(&dir.join("cifar-deer-horse-arcface.toml")).unwrap();
        assert_eq!(c.data.dataset, DatasetKind::Cifar10);
        assert_eq!(c.head.kind, HeadKind::Arcface);
    }

    #[test]
    fn file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, "[score]\nlof_k = 0\n").unwrap();
        let e = Config::load(&p).unwrap_err();
        assert_eq!(e.key, "score.lof_k");
        assert!(e.to_string().starts_with(&p.display().to_string()));
    }
}
