//! The Setup form: a view of the [`Config`] as fields the user steps through and edits — the
//! values they show, ←→ steps, typed values, and the check a run must pass. What each field is
//! (its key, label, kind, section) is in `field.rs`.

mod field;

pub use field::{Field, FieldKind};

use std::sync::Arc;

use crate::config::{
    Build, Catalog, ClassRef, Config, ConfigError, DatasetKind, DeviceKind, HeadKind, ScorerKind,
};
use crate::model::head::adacos_fixed_scale;

use super::strings as s;

pub use crate::data::class_names;

/// The class index a reference names in `names`: index, exact name, or unambiguous leading words.
pub fn resolve_class<S: AsRef<str>>(names: &[S], c: &ClassRef) -> Option<usize> {
    crate::data::resolve_in("", names, c).ok()
}

fn class_ref<S: AsRef<str>>(names: &[S], i: usize) -> ClassRef {
    ClassRef::Name(crate::data::normalize_class_name(names[i].as_ref()))
}

/// The form state: the config being edited, where the cursor is, the check's result.
#[derive(Clone)]
pub struct Form {
    pub config: Config,
    /// Name of the profile the config came from.
    pub profile: String,
    /// Changed since the profile was loaded.
    pub edited: bool,
    /// Index into [`Form::fields`].
    pub focus: usize,
    /// The first error of the check a run must pass, if any.
    pub error: Option<ConfigError>,
    /// A transient note about the last change (e.g. why CUDA cannot be chosen).
    pub note: Option<String>,
    /// Whether CUDA can be chosen and how much memory there is (tests pin it).
    pub build: Build,
    /// Where datasets are looked up for the check (tests use the built-in descriptions).
    pub catalog: Arc<dyn Catalog + Send + Sync>,
    /// The dataset's class names (a folder's are listed when the config changes).
    classes: Vec<String>,
}

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Form")
            .field("profile", &self.profile)
            .field("edited", &self.edited)
            .field("focus", &self.focus)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl Form {
    pub fn new(config: Config, profile: impl Into<String>) -> Form {
        let mut f = Form {
            config,
            profile: profile.into(),
            edited: false,
            focus: 0,
            error: None,
            note: None,
            build: Build::current(),
            catalog: Arc::new(crate::data::Catalog),
            classes: Vec::new(),
        };
        f.validate();
        f
    }

    /// Whether CUDA can be chosen.
    pub fn cuda(&self) -> bool {
        self.build.cuda
    }

    /// The fields shown for the current head (only its own parameters).
    pub fn fields(&self) -> Vec<Field> {
        let mut v = vec![Field::Dataset];
        if self.config.data.dataset.is_folder() {
            v.extend([Field::Path, Field::Size, Field::Channels]);
        }
        v.extend([
            Field::Normal,
            Field::Anomalous,
            Field::Reference,
            Field::ReferenceCount,
            Field::NormalTrainCount,
            Field::Widths,
            Field::EmbeddingDim,
            Field::Head,
        ]);
        match self.config.head.kind {
            HeadKind::Arcface | HeadKind::Cosface => v.extend([Field::S, Field::M]),
            HeadKind::L2Softmax => v.push(Field::Alpha),
            HeadKind::Softmax | HeadKind::AdacosFixed | HeadKind::AdacosDynamic => {}
        }
        v.extend([
            Field::Scorers,
            Field::Epochs,
            Field::BatchSize,
            Field::Lr,
            Field::Seed,
            Field::Repeat,
            Field::Device,
        ]);
        v
    }

    pub fn focused(&self) -> Field {
        let f = self.fields();
        f[self.focus.min(f.len() - 1)]
    }

    pub fn move_focus(&mut self, delta: i32) {
        let n = self.fields().len() as i32;
        self.focus = (self.focus as i32 + delta).rem_euclid(n) as usize;
    }

    fn set_focus_to(&mut self, field: Field) {
        if let Some(i) = self.fields().iter().position(|f| *f == field) {
            self.focus = i;
        }
    }

    /// The dataset's class names: a built-in list, or the folder's class folders.
    pub fn names(&self) -> &[String] {
        &self.classes
    }

    /// Indices of the reference classes (explicit, or all but normal and anomalous).
    pub fn reference_classes(&self) -> Vec<usize> {
        let names = self.names();
        match &self.config.data.reference {
            Some(list) => list
                .iter()
                .filter_map(|c| resolve_class(names, c))
                .collect(),
            None => {
                let n = resolve_class(names, &self.config.data.normal);
                let a = resolve_class(names, &self.config.data.anomalous);
                (0..names.len())
                    .filter(|i| Some(*i) != n && Some(*i) != a)
                    .collect()
            }
        }
    }

    /// Training classes C: the reference classes plus the normal class.
    pub fn training_classes(&self) -> usize {
        self.reference_classes().len() + 1
    }

    /// Fixed AdaCos's s = √2·ln(C−1).
    pub fn adacos_scale(&self) -> f32 {
        adacos_fixed_scale(self.training_classes())
    }

    /// The error to show on `field`, if the validation error names its key.
    pub fn error_for(&self, field: Field) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|e| e.key == field.key())
            .map(|e| e.message.as_str())
    }

    /// The error when it names no field on the form.
    pub fn orphan_error(&self) -> Option<&ConfigError> {
        let fields = self.fields();
        self.error
            .as_ref()
            .filter(|e| !fields.iter().any(|f| f.key() == e.key))
    }

    /// What the field shows.
    pub fn value_text(&self, field: Field) -> String {
        let c = &self.config;
        let names = self.names();
        let class = |r: &ClassRef| match resolve_class(names, r) {
            Some(i) => names[i].to_string(),
            None => format!("{r} (unknown)"),
        };
        let shape = c.data.input_shape();
        match field {
            Field::Dataset => c.data.dataset.to_string(),
            Field::Path => match c.data.folder_path() {
                Some(p) => p.display().to_string(),
                None => s::FOLDER_NONE.to_string(),
            },
            Field::Size => match c.data.size {
                Some(v) => format!("{v}×{v}"),
                None => format!("{}×{} (auto)", shape.1, shape.2),
            },
            Field::Channels => match shape.0 {
                1 => "1 (grey)".to_string(),
                _ => "3 (RGB)".to_string(),
            },
            Field::Normal => class(&c.data.normal),
            Field::Anomalous => class(&c.data.anomalous),
            Field::Reference => {
                let refs = self.reference_classes();
                match &c.data.reference {
                    None => format!("{} ({})", s::REFERENCE_ALL, refs.len()),
                    Some(_) => {
                        let list: Vec<&str> = refs.iter().map(|&i| names[i].as_str()).collect();
                        format!("{}: {}", list.len(), list.join(", "))
                    }
                }
            }
            Field::ReferenceCount => c.data.reference_count.to_string(),
            Field::NormalTrainCount => c.data.normal_train_count.to_string(),
            Field::Widths => c
                .model
                .widths
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            Field::EmbeddingDim => c.model.embedding_dim.to_string(),
            Field::Head => c.head.kind.to_string(),
            Field::S => format!("{}", c.head.s),
            Field::M => format!("{}", c.head.m),
            Field::Alpha => match c.head.alpha {
                Some(a) => format!("{a}"),
                None => s::ALPHA_AUTO.to_string(),
            },
            Field::Scorers => c
                .score
                .scorers
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            Field::Epochs => c.train.epochs.to_string(),
            Field::BatchSize => c.train.batch_size.to_string(),
            Field::Lr => format!("{}", c.train.lr),
            Field::Seed => c.train.seed.to_string(),
            Field::Repeat => c.run.repeat.to_string(),
            Field::Device => c.train.device.to_string(),
        }
    }

    /// The text an edit of the field starts from.
    pub fn edit_text(&self, field: Field) -> String {
        match field {
            Field::Alpha => self
                .config
                .head
                .alpha
                .map(|a| a.to_string())
                .unwrap_or_else(|| "auto".into()),
            Field::Path | Field::Size | Field::Channels => {
                self.config.get(field.key()).unwrap_or_default()
            }
            _ => self.value_text(field),
        }
    }

    /// A line under the head fields: what the head's scale is when it has no own parameter.
    pub fn head_note(&self) -> Option<String> {
        match self.config.head.kind {
            HeadKind::AdacosFixed => Some(format!(
                "s = √2·ln(C−1) = {:.3}  (C = {})",
                self.adacos_scale(),
                self.training_classes()
            )),
            HeadKind::AdacosDynamic => Some(format!(
                "{} {:.3} (C = {})",
                s::ADACOS_DYNAMIC_NOTE,
                self.adacos_scale(),
                self.training_classes()
            )),
            HeadKind::Softmax => Some(s::HEAD_NO_PARAMS.to_string()),
            _ => None,
        }
    }

    fn changed(&mut self) {
        self.edited = true;
        self.validate();
    }

    /// ←/→ on a field.
    pub fn step(&mut self, field: Field, dir: i32) {
        self.note = None;
        let up = dir > 0;
        let c = &mut self.config;
        match field {
            Field::Dataset => {
                let all = DatasetKind::ALL;
                let i = all.iter().position(|d| *d == c.data.dataset).unwrap_or(0);
                let next = all[(i as i32 + dir).rem_euclid(all.len() as i32) as usize];
                self.set_dataset(next);
            }
            Field::Path => {}
            Field::Size => {
                let v = c.data.input_shape().1;
                c.data.size = Some(if up { (v * 2).min(512) } else { (v / 2).max(8) });
            }
            Field::Channels => {
                c.data.channels = Some(if c.data.input_shape().0 == 1 { 3 } else { 1 });
            }
            Field::Normal | Field::Anomalous if self.classes.is_empty() => {}
            Field::Normal | Field::Anomalous => {
                let names = &self.classes;
                let r = if field == Field::Normal {
                    &mut c.data.normal
                } else {
                    &mut c.data.anomalous
                };
                let i = resolve_class(names, r).map(|i| i as i32).unwrap_or(-1);
                let next = (i + dir).rem_euclid(names.len() as i32) as usize;
                *r = class_ref(names, next);
            }
            Field::Scorers => {
                // Rotate which scorer is primary.
                if c.score.scorers.len() > 1 {
                    if up {
                        c.score.scorers.rotate_left(1);
                    } else {
                        c.score.scorers.rotate_right(1);
                    }
                }
            }
            Field::Reference => {}
            Field::ReferenceCount => {
                c.data.reference_count = step_count(c.data.reference_count, up);
            }
            Field::NormalTrainCount => {
                c.data.normal_train_count = step_count(c.data.normal_train_count, up);
            }
            Field::Widths => {
                if up && c.model.widths.len() < 4 {
                    let last = c.model.widths.last().copied().unwrap_or(16);
                    c.model.widths.push((last * 2).min(1024));
                } else if !up && c.model.widths.len() > 1 {
                    c.model.widths.pop();
                }
            }
            Field::EmbeddingDim => {
                let d = c.model.embedding_dim;
                c.model.embedding_dim = if up {
                    (d * 2).min(4096)
                } else {
                    (d / 2).max(2)
                };
            }
            Field::Head => {
                let all = HeadKind::ALL;
                let i = all.iter().position(|h| *h == c.head.kind).unwrap_or(0);
                c.head.kind = all[(i as i32 + dir).rem_euclid(all.len() as i32) as usize];
                if !c.head.kind.is_cosine() && c.score.scorers.contains(&ScorerKind::ClassCosine) {
                    self.note =
                        Some("class-cosine needs a cosine head: remove it from the scorers".into());
                }
            }
            Field::S => c.head.s = round2((c.head.s + if up { 1.0 } else { -1.0 }).max(1.0)),
            Field::M => {
                c.head.m = round2((c.head.m + if up { 0.05 } else { -0.05 }).max(0.0));
            }
            Field::Alpha => {
                c.head.alpha = match (c.head.alpha, up) {
                    (None, true) => Some(16.0),
                    (None, false) => None,
                    (Some(a), true) => Some(a + 1.0),
                    (Some(a), false) if a - 1.0 < 1.0 => None,
                    (Some(a), false) => Some(a - 1.0),
                };
            }
            Field::Epochs => {
                c.train.epochs = if up {
                    c.train.epochs + 1
                } else {
                    c.train.epochs.saturating_sub(1).max(1)
                };
            }
            Field::BatchSize => {
                let b = c.train.batch_size;
                c.train.batch_size = if up {
                    (b * 2).min(4096)
                } else {
                    (b / 2).max(2)
                };
            }
            Field::Lr => {
                let v = if up {
                    c.train.lr * 2.0
                } else {
                    c.train.lr / 2.0
                };
                c.train.lr = round_sig(v);
            }
            Field::Seed => {
                c.train.seed = if up {
                    c.train.seed.wrapping_add(1)
                } else {
                    c.train.seed.saturating_sub(1)
                };
            }
            Field::Repeat => {
                c.run.repeat = if up {
                    (c.run.repeat + 1).min(1000)
                } else {
                    c.run.repeat.saturating_sub(1).max(1)
                };
            }
            Field::Device => {
                if self.build.cuda {
                    c.train.device = match c.train.device {
                        DeviceKind::Cpu => DeviceKind::Cuda,
                        DeviceKind::Cuda => DeviceKind::Cpu,
                    };
                } else {
                    c.train.device = DeviceKind::Cpu;
                    self.note = Some(s::CUDA_UNAVAILABLE.to_string());
                }
            }
        }
        self.changed();
        self.set_focus_to(field);
    }

    /// Switches the dataset, keeping the class positions. MVTec gets its two classes (good
    /// normal, defect anomalous); a folder not chosen yet gets classes 0 and 1.
    pub fn set_dataset(&mut self, kind: DatasetKind) {
        let old = self.classes.clone();
        let mut next = self.config.data.clone();
        next.dataset = kind;
        if kind.builtin_shape().is_some() {
            next.channels = None;
            next.size = None;
        }
        let new = crate::data::classes_for(&next);
        let d = &mut self.config.data;
        if kind == DatasetKind::Mvtec {
            d.normal = class_ref(&new, 0);
            d.anomalous = class_ref(&new, 1);
            d.reference = None;
        } else if new.len() < 2 {
            d.normal = ClassRef::Index(0);
            d.anomalous = ClassRef::Index(1);
            d.reference = None;
        } else {
            let map = |r: &ClassRef| {
                resolve_class(&old, r).map(|i| class_ref(&new, i.min(new.len() - 1)))
            };
            d.normal = map(&d.normal).unwrap_or_else(|| class_ref(&new, 0));
            d.anomalous = map(&d.anomalous).unwrap_or_else(|| class_ref(&new, 1));
            d.reference = d
                .reference
                .as_ref()
                .map(|list| list.iter().filter_map(map).collect::<Vec<_>>());
        }
        d.dataset = kind;
        d.channels = next.channels;
        d.size = next.size;
        self.classes = new;
    }

    /// Applies a typed value; the error (if any) says in plain words what is wrong.
    pub fn apply_text(&mut self, field: Field, text: &str) -> Result<(), String> {
        let text = text.trim();
        self.note = None;
        let mut next = self.clone();
        match field {
            Field::Dataset => {
                let mut c = self.config.clone();
                c.set(field.key(), text).map_err(|e| e.message)?;
                next.set_dataset(c.data.dataset);
            }
            Field::Normal | Field::Anomalous => {
                let names = self.names();
                let i = resolve_class(names, &ClassRef::Name(text.to_string()))
                    .ok_or_else(|| format!("no class `{text}`; classes: {}", names.join(", ")))?;
                let r = class_ref(names, i);
                if field == Field::Normal {
                    next.config.data.normal = r;
                } else {
                    next.config.data.anomalous = r;
                }
            }
            Field::Device
                if DeviceKind::parse(&text.to_ascii_lowercase()) == Some(DeviceKind::Cuda)
                    && !self.build.cuda =>
            {
                return Err(s::CUDA_UNAVAILABLE.to_string());
            }
            _ => next.config.set(field.key(), text).map_err(|e| e.message)?,
        }
        self.config = next.config;
        self.changed();
        self.set_focus_to(field);
        Ok(())
    }

    /// Sets the reference classes (`None` = all others).
    pub fn set_reference(&mut self, indices: Option<Vec<usize>>) {
        let names = self.names();
        self.config.data.reference =
            indices.map(|v| v.into_iter().map(|i| class_ref(names, i)).collect());
        self.changed();
    }

    pub fn set_scorers(&mut self, scorers: Vec<ScorerKind>) {
        self.config.score.scorers = scorers;
        self.changed();
    }

    /// Replaces the whole config (a loaded profile).
    pub fn load(&mut self, config: Config, profile: impl Into<String>) {
        self.config = config;
        self.profile = profile.into();
        self.edited = false;
        self.focus = self.focus.min(self.fields().len() - 1);
        self.note = None;
        self.validate();
    }

    /// Runs the check every run must pass ([`crate::job::check`]): the form never says ready
    /// for a config that cannot start.
    pub fn validate(&mut self) {
        self.classes = crate::data::classes_for(&self.config.data);
        self.error = crate::job::check_with(&self.config, self.catalog.as_ref(), &self.build).err();
    }

    /// The profile name the run is recorded under.
    pub fn run_profile(&self) -> String {
        if self.edited {
            format!("{}-edited", self.profile)
        } else {
            self.profile.clone()
        }
    }
}

fn step_count(v: usize, up: bool) -> usize {
    let step = if v >= 2000 {
        1000
    } else if v >= 200 {
        100
    } else {
        10
    };
    if up {
        v + step
    } else {
        v.saturating_sub(step).max(1)
    }
}

fn round2(v: f32) -> f32 {
    (v * 100.0).round() / 100.0
}

/// Rounds to 3 significant digits (keeps ×2 / ÷2 learning rates readable).
fn round_sig(v: f32) -> f32 {
    if v <= 0.0 || !v.is_finite() {
        return v;
    }
    let mag = 10f32.powi(v.log10().floor() as i32 - 2);
    (v / mag).round() * mag
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A form checked against the built-in dataset descriptions (no files needed), no CUDA.
    fn form(config: Config) -> Form {
        let mut f = Form::new(config, "default");
        f.catalog = Arc::new(crate::data::Builtin);
        f.build = Build {
            cuda: false,
            memory_bytes: None,
        };
        f.validate();
        f
    }

    #[test]
    fn fields_follow_the_head() {
        let mut f = form(Config::default());
        assert!(!f.fields().contains(&Field::S));
        f.config.head.kind = HeadKind::Arcface;
        assert!(f.fields().contains(&Field::S) && f.fields().contains(&Field::M));
        f.config.head.kind = HeadKind::L2Softmax;
        assert_eq!(f.fields().iter().filter(|x| **x == Field::Alpha).count(), 1);
    }

    #[test]
    fn adacos_scale_uses_reference_plus_normal() {
        let f = form(Config::default());
        // Fashion-MNIST sneaker→ankle boot: 8 reference classes + normal = 9.
        assert_eq!(f.training_classes(), 9);
        assert!((f.adacos_scale() - 2f32.sqrt() * 8f32.ln()).abs() < 1e-6);
    }

    #[test]
    fn classes_resolve_like_the_data_module() {
        let names = class_names(DatasetKind::FashionMnist);
        assert_eq!(
            resolve_class(names, &ClassRef::Name("ankle-boot".into())),
            Some(9)
        );
        assert_eq!(
            resolve_class(names, &ClassRef::Name("tshirt".into())),
            Some(0)
        );
        assert_eq!(resolve_class(names, &ClassRef::Index(3)), Some(3));
        assert_eq!(resolve_class(names, &ClassRef::Name("boot".into())), None);
    }

    #[test]
    fn stepping_and_typing_edit_the_config() {
        let mut f = form(Config::default());
        let e0 = f.config.train.epochs;
        f.step(Field::Epochs, 1);
        assert_eq!(f.config.train.epochs, e0 + 1);
        assert!(f.edited);
        f.step(Field::Normal, 1);
        assert_eq!(f.value_text(Field::Normal), "bag");
        f.apply_text(Field::Lr, "0.01").unwrap();
        assert_eq!(f.config.train.lr, 0.01);
        f.apply_text(Field::Widths, "16, 32, 64").unwrap();
        assert_eq!(f.config.model.widths, vec![16, 32, 64]);
        assert!(f.apply_text(Field::Epochs, "many").is_err());
        f.apply_text(Field::Epochs, "0").unwrap();
        assert_eq!(f.error_for(Field::Epochs), Some("is 0, must be 1 to 10000"));
    }

    #[test]
    fn same_class_twice_is_an_inline_error() {
        let mut f = form(Config::default());
        f.apply_text(Field::Anomalous, "sneaker").unwrap();
        assert!(f.error_for(Field::Anomalous).is_some());
    }

    #[test]
    fn dataset_switch_keeps_positions() {
        let mut f = form(Config::default());
        f.set_dataset(DatasetKind::Cifar10);
        f.validate();
        assert_eq!(f.value_text(Field::Normal), "horse");
        assert_eq!(f.value_text(Field::Anomalous), "truck");
        assert!(f.error.is_none(), "{:?}", f.error);
    }

    #[test]
    fn a_folder_lists_its_classes_for_picking() {
        let d = tempfile::tempdir().unwrap();
        for class in ["bolt", "nut", "washer"] {
            for i in 0..4 {
                let p = d.path().join(class).join(format!("{i}.png"));
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, b"listed, not decoded").unwrap();
            }
        }
        let mut f = form(Config::default());
        f.set_dataset(DatasetKind::Folder);
        f.validate();
        assert!(f.fields().contains(&Field::Path) && f.fields().contains(&Field::Size));
        assert_eq!(f.error.as_ref().map(|e| e.key.as_str()), Some("data.path"));
        assert!(f.names().is_empty());
        f.apply_text(Field::Path, &d.path().display().to_string())
            .unwrap();
        assert_eq!(f.names(), ["bolt", "nut", "washer"]);
        assert_eq!(f.value_text(Field::Normal), "bolt");
        assert_eq!(f.value_text(Field::Anomalous), "nut");
        f.step(Field::Normal, 1);
        assert_eq!(f.value_text(Field::Normal), "nut");
        assert_eq!(f.value_text(Field::Size), "32×32 (auto)");
        f.step(Field::Size, 1);
        assert_eq!(f.config.data.size, Some(64));
        f.step(Field::Channels, 1);
        assert_eq!(f.config.data.channels, Some(1));
        f.set_dataset(DatasetKind::Mvtec);
        assert_eq!(f.value_text(Field::Normal), "good");
        assert_eq!(f.value_text(Field::Anomalous), "defect");
        f.set_dataset(DatasetKind::FashionMnist);
        f.validate();
        assert_eq!(f.config.data.size, None);
        assert!(!f.fields().contains(&Field::Path));
    }

    #[test]
    fn cuda_only_when_compiled_in() {
        let mut f = form(Config::default());
        f.step(Field::Device, 1);
        if f.cuda() {
            assert_eq!(f.config.train.device, DeviceKind::Cuda);
        } else {
            assert_eq!(f.config.train.device, DeviceKind::Cpu);
            assert!(f.note.is_some());
        }
    }
}
