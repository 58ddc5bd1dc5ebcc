//! The fields of the Setup form: which config key each edits, its label, how it changes
//! ([`FieldKind`]) and the section and column it sits in.

use super::super::strings as s;

/// One editable line of the form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Dataset,
    /// The folder of a `folder` / `mvtec` dataset.
    Path,
    /// Image side of a folder dataset.
    Size,
    /// Channels of a folder dataset.
    Channels,
    Normal,
    Anomalous,
    Reference,
    ReferenceCount,
    NormalTrainCount,
    Widths,
    EmbeddingDim,
    Head,
    S,
    M,
    Alpha,
    Scorers,
    Epochs,
    BatchSize,
    Lr,
    Seed,
    Repeat,
    Device,
}

/// How a field changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// ←→ cycle through values; `e` types one.
    Choice,
    /// ←→ step; `e` types one.
    Number,
    /// `e`/Space opens a checklist.
    List,
}

impl Field {
    /// The config key (as in TOML and in [`crate::config::ConfigError::key`]).
    pub fn key(self) -> &'static str {
        match self {
            Field::Dataset => "data.dataset",
            Field::Path => "data.path",
            Field::Size => "data.size",
            Field::Channels => "data.channels",
            Field::Normal => "data.normal",
            Field::Anomalous => "data.anomalous",
            Field::Reference => "data.reference",
            Field::ReferenceCount => "data.reference_count",
            Field::NormalTrainCount => "data.normal_train_count",
            Field::Widths => "model.widths",
            Field::EmbeddingDim => "model.embedding_dim",
            Field::Head => "head.kind",
            Field::S => "head.s",
            Field::M => "head.m",
            Field::Alpha => "head.alpha",
            Field::Scorers => "score.scorers",
            Field::Epochs => "train.epochs",
            Field::BatchSize => "train.batch_size",
            Field::Lr => "train.lr",
            Field::Seed => "train.seed",
            Field::Repeat => "run.repeat",
            Field::Device => "train.device",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Field::Dataset => "dataset",
            Field::Path => "folder",
            Field::Size => "image size",
            Field::Channels => "channels",
            Field::Normal => "normal class",
            Field::Anomalous => "anomalous class",
            Field::Reference => "reference",
            Field::ReferenceCount => "reference imgs",
            Field::NormalTrainCount => "normal imgs",
            Field::Widths => "conv widths",
            Field::EmbeddingDim => "embedding dim",
            Field::Head => "loss head",
            Field::S => "scale s",
            Field::M => "margin m",
            Field::Alpha => "alpha",
            Field::Scorers => "scorers",
            Field::Epochs => "epochs",
            Field::BatchSize => "batch size",
            Field::Lr => "learning rate",
            Field::Seed => "seed",
            Field::Repeat => "repeats",
            Field::Device => "device",
        }
    }

    pub fn kind(self) -> FieldKind {
        match self {
            Field::Dataset
            | Field::Channels
            | Field::Normal
            | Field::Anomalous
            | Field::Head
            | Field::Device => FieldKind::Choice,
            Field::Reference | Field::Scorers => FieldKind::List,
            _ => FieldKind::Number,
        }
    }

    /// The section heading the field sits under.
    pub fn section(self) -> &'static str {
        match self {
            Field::Dataset
            | Field::Path
            | Field::Size
            | Field::Channels
            | Field::Normal
            | Field::Anomalous
            | Field::Reference
            | Field::ReferenceCount
            | Field::NormalTrainCount => s::SECTION_DATA,
            Field::Widths | Field::EmbeddingDim => s::SECTION_MODEL,
            Field::Head | Field::S | Field::M | Field::Alpha => s::SECTION_HEAD,
            Field::Scorers => s::SECTION_SCORE,
            Field::Epochs
            | Field::BatchSize
            | Field::Lr
            | Field::Seed
            | Field::Repeat
            | Field::Device => s::SECTION_TRAIN,
        }
    }

    /// Whether the field goes in the left column (data, model) or the right one.
    pub fn left_column(self) -> bool {
        matches!(self.section(), s::SECTION_DATA | s::SECTION_MODEL)
    }
}
