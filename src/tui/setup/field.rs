//! The fields of the Setup form: one line of [`SPECS`] per config key a profile can set — its
//! label, the section it sits in, how ←→ change it ([`Kind`]) and when it shows. Values are
//! read and written through the config's key table (`Config::get` / `Config::set`), so a new
//! key is one line here. The few fields that need more (classes, dataset, head, device…) are
//! [`Kind::Special`] and handled in `mod.rs`.

use crate::config::{
    BadImagePolicy, Config, HeadKind, LabelMode, LrSchedule, OptimizerKind, Sampling, ScorerKind,
};

use super::super::strings as s;

/// A group of fields under one heading; folded ones show as one summary line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    Data,
    Model,
    SelfSupervised,
    Augment,
    Views,
    Head,
    Scoring,
    Training,
    Optimizer,
    Run,
}

impl Section {
    /// Every section, in form order: the left column's, then the right one's.
    pub const ALL: [Section; 10] = [
        Section::Data,
        Section::Model,
        Section::SelfSupervised,
        Section::Augment,
        Section::Views,
        Section::Head,
        Section::Scoring,
        Section::Training,
        Section::Optimizer,
        Section::Run,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Section::Data => s::SECTION_DATA,
            Section::Model => s::SECTION_MODEL,
            Section::SelfSupervised => s::SECTION_SELF_SUPERVISED,
            Section::Augment => s::SECTION_AUGMENT,
            Section::Views => s::SECTION_VIEWS,
            Section::Head => s::SECTION_HEAD,
            Section::Scoring => s::SECTION_SCORE,
            Section::Training => s::SECTION_TRAIN,
            Section::Optimizer => s::SECTION_OPTIMIZER,
            Section::Run => s::SECTION_RUN,
        }
    }

    /// Whether the section goes in the left column.
    pub fn left_column(self) -> bool {
        matches!(
            self,
            Section::Data
                | Section::Model
                | Section::SelfSupervised
                | Section::Augment
                | Section::Views
        )
    }

    /// Open when the form starts: the everyday fields; the rest folded (80×24 fits).
    pub fn open_by_default(self) -> bool {
        matches!(
            self,
            Section::Data | Section::Model | Section::Head | Section::Scoring | Section::Training
        )
    }
}

/// One line of the form: a section heading or a config key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Section(Section),
    /// The config key (as in TOML and in [`crate::config::ConfigError::key`]).
    Key(&'static str),
}

/// The fields the lab's code names (the rest are only in [`SPECS`]).
#[allow(non_upper_case_globals)]
impl Field {
    pub const Dataset: Field = Field::Key("data.dataset");
    pub const Size: Field = Field::Key("data.size");
    pub const Channels: Field = Field::Key("data.channels");
    pub const Normal: Field = Field::Key("data.normal");
    pub const Anomalous: Field = Field::Key("data.anomalous");
    pub const Reference: Field = Field::Key("data.reference");
    pub const NormalTrainCount: Field = Field::Key("data.normal_train_count");
    pub const Widths: Field = Field::Key("model.widths");
    pub const EmbeddingDim: Field = Field::Key("model.embedding_dim");
    pub const Head: Field = Field::Key("head.kind");
    pub const Alpha: Field = Field::Key("head.alpha");
    pub const Scorers: Field = Field::Key("score.scorers");
    pub const Ensemble: Field = Field::Key("score.ensemble");
    pub const Seed: Field = Field::Key("train.seed");
    pub const Device: Field = Field::Key("train.device");
}

/// How ←→ step a number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Step {
    /// ×2 / ÷2 within the bounds.
    Double { min: f64, max: f64 },
    /// ± `by` within the bounds.
    Add { by: f64, min: f64, max: f64 },
    /// ±10, ±100 or ±1000 by size (image counts).
    Count,
    /// ×2 / ÷2 to three significant digits; 0 steps up to `from_zero` and back down to 0.
    Scale { from_zero: f64 },
}

/// How a field changes.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// ←→ cycle through the names; `e` types one.
    Choice(fn() -> Vec<&'static str>),
    /// ←→ toggle.
    Bool,
    /// A whole number: ←→ step; `e` types one.
    Int(Step),
    /// A number: ←→ step; `e` types one.
    Float(Step),
    /// `e` types it (a folder).
    Text,
    /// ←→ cycle through common values (lists such as `0, 90, 180, 270`); `e` types any.
    Preset(&'static [&'static str]),
    /// `e`/Space opens a checklist.
    List,
    /// Stepped and shown by `mod.rs` (classes, dataset, head, …).
    Special,
}

/// What the screen needs to know of a field's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A section heading: ←→ or Space fold and unfold it.
    Section,
    /// ←→ cycle through values; `e` types one.
    Choice,
    /// ←→ step; `e` types one.
    Number,
    /// `e` types it.
    Text,
    /// `e`/Space opens a checklist.
    List,
}

/// One field of the form.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub key: &'static str,
    pub label: &'static str,
    pub section: Section,
    pub kind: Kind,
    /// Whether the field applies to the config (a head's own parameters, a folder's fields).
    pub shown: fn(&Config) -> bool,
    /// What an unset optional value shows.
    pub unset: &'static str,
}

fn always(_: &Config) -> bool {
    true
}

const fn spec(key: &'static str, label: &'static str, section: Section, kind: Kind) -> Spec {
    Spec {
        key,
        label,
        section,
        kind,
        shown: always,
        unset: "",
    }
}

impl Spec {
    const fn when(mut self, shown: fn(&Config) -> bool) -> Spec {
        self.shown = shown;
        self
    }
    const fn unset(mut self, text: &'static str) -> Spec {
        self.unset = text;
        self
    }
}

macro_rules! names {
    ($t:ty) => {
        || <$t>::ALL.iter().map(|k| k.as_str()).collect()
    };
}

fn folder(c: &Config) -> bool {
    c.data.dataset.is_folder()
}
fn margin_head(c: &Config) -> bool {
    matches!(c.head.kind, HeadKind::Arcface | HeadKind::Cosface)
}
fn l2(c: &Config) -> bool {
    c.head.kind == HeadKind::L2Softmax
}
fn arcface(c: &Config) -> bool {
    c.head.kind == HeadKind::Arcface
}
fn sgd(c: &Config) -> bool {
    c.train.optimizer == OptimizerKind::Sgd
}
fn uses(c: &Config, k: ScorerKind) -> bool {
    c.score.scorers.contains(&k)
        || (c.score.scorers.contains(&ScorerKind::Ensemble) && c.score.ensemble.contains(&k))
}
fn mahalanobis(c: &Config) -> bool {
    uses(c, ScorerKind::Mahalanobis)
}
fn ensemble(c: &Config) -> bool {
    c.score.scorers.contains(&ScorerKind::Ensemble)
}
fn transform_labels(c: &Config) -> bool {
    c.transforms.labels != LabelMode::None
}

const ROTATIONS: &[&str] = &["0", "0, 180", "0, 90, 180, 270"];
const SHIFTS: &[&str] = &["0", "-2, 0, 2", "-4, 0, 4"];

use Kind::*;
use Section as Sec;

/// Every field of the form, in order. One line per config key.
pub static SPECS: &[Spec] = &[
    // Data
    spec("data.dataset", "dataset", Sec::Data, Special),
    spec("data.path", "folder", Sec::Data, Text)
        .when(folder)
        .unset(s::FOLDER_NONE),
    spec("data.size", "image size", Sec::Data, Special).when(folder),
    spec("data.channels", "channels", Sec::Data, Special).when(folder),
    spec(
        "data.test_fraction",
        "test fraction",
        Sec::Data,
        Float(Step::Add {
            by: 0.05,
            min: 0.05,
            max: 0.95,
        }),
    )
    .when(folder),
    spec(
        "data.on_bad_image",
        "bad images",
        Sec::Data,
        Choice(names!(BadImagePolicy)),
    )
    .when(folder),
    spec("data.normal", "normal class", Sec::Data, Special),
    spec("data.anomalous", "anomalous class", Sec::Data, Special),
    spec("data.reference", "reference", Sec::Data, List),
    spec(
        "data.reference_count",
        "reference imgs",
        Sec::Data,
        Int(Step::Count),
    ),
    spec(
        "data.normal_train_count",
        "normal imgs",
        Sec::Data,
        Int(Step::Count),
    ),
    spec("data.data_dir", "data dir", Sec::Data, Text),
    // Model
    spec("model.widths", "conv widths", Sec::Model, Special),
    spec(
        "model.convs_per_stage",
        "convs / stage",
        Sec::Model,
        Int(Step::Add {
            by: 1.0,
            min: 1.0,
            max: 4.0,
        }),
    ),
    spec(
        "model.padding",
        "padding",
        Sec::Model,
        Int(Step::Add {
            by: 1.0,
            min: 0.0,
            max: 1.0,
        }),
    ),
    spec(
        "model.embedding_dim",
        "embedding dim",
        Sec::Model,
        Int(Step::Double {
            min: 2.0,
            max: 4096.0,
        }),
    ),
    // Self-supervised transform classes
    spec(
        "transforms.labels",
        "labels",
        Sec::SelfSupervised,
        Choice(names!(LabelMode)),
    ),
    spec(
        "transforms.rotations",
        "rotations",
        Sec::SelfSupervised,
        Preset(ROTATIONS),
    ),
    spec("transforms.flip", "flip", Sec::SelfSupervised, Bool),
    spec(
        "transforms.shifts",
        "shifts",
        Sec::SelfSupervised,
        Preset(SHIFTS),
    ),
    spec(
        "transforms.sample",
        "sampling",
        Sec::SelfSupervised,
        Choice(names!(Sampling)),
    )
    .when(transform_labels),
    // Augmentation
    spec(
        "train.augment.shift",
        "shift (px)",
        Sec::Augment,
        Int(Step::Add {
            by: 1.0,
            min: 0.0,
            max: 8.0,
        }),
    ),
    spec("train.augment.flip", "flip", Sec::Augment, Bool),
    // Test-time views
    spec(
        "score.views.rotations",
        "rotations",
        Sec::Views,
        Preset(ROTATIONS),
    ),
    spec("score.views.flip", "flip", Sec::Views, Bool),
    spec("score.views.shifts", "shifts", Sec::Views, Preset(SHIFTS)),
    // Head
    spec("head.kind", "loss head", Sec::Head, Special),
    spec(
        "head.s",
        "scale s",
        Sec::Head,
        Float(Step::Add {
            by: 1.0,
            min: 1.0,
            max: 1000.0,
        }),
    )
    .when(margin_head),
    spec(
        "head.m",
        "margin m",
        Sec::Head,
        Float(Step::Add {
            by: 0.05,
            min: 0.0,
            max: 10.0,
        }),
    )
    .when(margin_head),
    spec("head.alpha", "alpha", Sec::Head, Special).when(l2),
    spec("head.easy_margin", "easy margin", Sec::Head, Bool).when(arcface),
    // Scoring
    spec("score.scorers", "scorers", Sec::Scoring, List),
    spec("score.ensemble", "ensemble of", Sec::Scoring, List).when(ensemble),
    spec(
        "score.knn_k",
        "knn k",
        Sec::Scoring,
        Int(Step::Add {
            by: 1.0,
            min: 1.0,
            max: 1000.0,
        }),
    ),
    spec(
        "score.lof_k",
        "lof k",
        Sec::Scoring,
        Int(Step::Add {
            by: 1.0,
            min: 1.0,
            max: 1000.0,
        }),
    ),
    spec(
        "score.shrinkage",
        "shrinkage",
        Sec::Scoring,
        Float(Step::Add {
            by: 0.05,
            min: 0.0,
            max: 1.0,
        }),
    )
    .when(mahalanobis),
    spec(
        "score.eval_every",
        "eval every",
        Sec::Scoring,
        Int(Step::Add {
            by: 1.0,
            min: 1.0,
            max: 1000.0,
        }),
    ),
    spec("score.normalize", "normalize", Sec::Scoring, Bool),
    spec(
        "score.calibration_folds",
        "calib folds",
        Sec::Scoring,
        Int(Step::Add {
            by: 1.0,
            min: 0.0,
            max: 100.0,
        }),
    ),
    // Training
    spec(
        "train.epochs",
        "epochs",
        Sec::Training,
        Int(Step::Add {
            by: 1.0,
            min: 1.0,
            max: 10_000.0,
        }),
    ),
    spec(
        "train.batch_size",
        "batch size",
        Sec::Training,
        Int(Step::Double {
            min: 2.0,
            max: 4096.0,
        }),
    ),
    spec(
        "train.lr",
        "learning rate",
        Sec::Training,
        Float(Step::Scale { from_zero: 1e-3 }),
    ),
    spec("train.seed", "seed", Sec::Training, Special),
    spec(
        "run.repeat",
        "repeats",
        Sec::Training,
        Int(Step::Add {
            by: 1.0,
            min: 1.0,
            max: 1000.0,
        }),
    ),
    spec("train.device", "device", Sec::Training, Special),
    // Optimizer
    spec(
        "train.optimizer",
        "optimizer",
        Sec::Optimizer,
        Choice(names!(OptimizerKind)),
    ),
    spec(
        "train.lr_schedule",
        "lr schedule",
        Sec::Optimizer,
        Choice(names!(LrSchedule)),
    ),
    spec(
        "train.weight_decay",
        "weight decay",
        Sec::Optimizer,
        Float(Step::Scale { from_zero: 1e-4 }),
    ),
    spec(
        "train.momentum",
        "momentum",
        Sec::Optimizer,
        Float(Step::Add {
            by: 0.05,
            min: 0.0,
            max: 0.99,
        }),
    )
    .when(sgd),
    // Run
    spec(
        "train.threads",
        "threads",
        Sec::Run,
        Int(Step::Add {
            by: 1.0,
            min: 0.0,
            max: 256.0,
        }),
    ),
    spec("run.save_model", "save model", Sec::Run, Bool),
];

impl Field {
    /// The field's line of [`SPECS`] (none for a section heading).
    pub fn spec(self) -> Option<&'static Spec> {
        match self {
            Field::Key(k) => SPECS.iter().find(|s| s.key == k),
            Field::Section(_) => None,
        }
    }

    /// The config key ("" for a section heading).
    pub fn key(self) -> &'static str {
        match self {
            Field::Key(k) => k,
            Field::Section(_) => "",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Field::Section(s) => s.title(),
            Field::Key(k) => self.spec().map(|s| s.label).unwrap_or(k),
        }
    }

    /// The short name errors start with (`widths: …`): the key's last part.
    pub fn short_name(self) -> &'static str {
        let k = self.key();
        k.rsplit('.').next().unwrap_or(k)
    }

    pub fn kind(self) -> FieldKind {
        let Some(sp) = self.spec() else {
            return FieldKind::Section;
        };
        match sp.kind {
            Kind::Choice(_) | Kind::Bool | Kind::Preset(_) => FieldKind::Choice,
            Kind::Int(_) | Kind::Float(_) => FieldKind::Number,
            Kind::Text => FieldKind::Text,
            Kind::List => FieldKind::List,
            Kind::Special => match self {
                Field::Dataset
                | Field::Channels
                | Field::Normal
                | Field::Anomalous
                | Field::Head
                | Field::Device => FieldKind::Choice,
                _ => FieldKind::Number,
            },
        }
    }

    /// The section the field sits in.
    pub fn section(self) -> Section {
        match self {
            Field::Section(s) => s,
            Field::Key(_) => self.spec().map(|s| s.section).unwrap_or(Section::Data),
        }
    }

    /// Whether the field goes in the left column.
    pub fn left_column(self) -> bool {
        self.section().left_column()
    }
}

/// More fields by name, for the tests.
#[cfg(test)]
#[allow(non_upper_case_globals)]
impl Field {
    pub const Path: Field = Field::Key("data.path");
    pub const S: Field = Field::Key("head.s");
    pub const M: Field = Field::Key("head.m");
    pub const Epochs: Field = Field::Key("train.epochs");
    pub const BatchSize: Field = Field::Key("train.batch_size");
    pub const Lr: Field = Field::Key("train.lr");
}
