//! The Setup form: a view of the [`Config`] as fields the user steps through and edits — the
//! values they show, ←→ steps, typed values, folded sections, the name a run gets and the
//! check a run must pass. What each field is (its key, label, kind, section) is the table in
//! `field.rs`, what a field shows is in `text.rs`, stepping and the content name in `step.rs`;
//! values go through the config's key table (`Config::get` / `Config::set`).

mod anomalous;
pub mod draw;
mod field;
mod step;
mod text;
mod update;

pub use field::{Field, FieldKind, Kind, Section, Step, SPECS};
use step::{stepped, unbracket};

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::config::{
    Build, Catalog, ClassRef, Config, ConfigError, DatasetKind, DeviceKind, HeadKind, LabelMode,
    ScorerKind,
};
use crate::model::head::adacos_fixed_scale;

use super::strings as s;

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
    /// The config as the profile gave it (what the run's name is compared with).
    pub base: Config,
    /// Changed since the profile was loaded.
    pub edited: bool,
    /// Index into [`Form::fields`].
    pub focus: usize,
    /// The sections shown open (the others fold into one summary line).
    pub open: BTreeSet<Section>,
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
    /// What the split draws, when the check passed.
    pub split: Option<crate::config::SplitCounts>,
    /// `$ADALAB_DATA`, where an unset data dir looks first (tests pin it).
    pub data_env: Option<std::path::PathBuf>,
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
            base: config.clone(),
            config,
            profile: profile.into(),
            edited: false,
            focus: 0,
            open: Section::ALL
                .into_iter()
                .filter(|s| s.open_by_default())
                .collect(),
            error: None,
            note: None,
            build: Build::current(),
            catalog: Arc::new(crate::data::Catalog),
            classes: Vec::new(),
            split: None,
            data_env: crate::data::env_data_dir(),
        };
        f.validate();
        f.focus = f.position(Field::Dataset).unwrap_or(0);
        f
    }

    /// Whether CUDA can be chosen.
    pub fn cuda(&self) -> bool {
        self.build.cuda
    }

    /// The fields that apply to the config, section by section (folded ones included).
    pub fn available(&self) -> Vec<Field> {
        SPECS
            .iter()
            .filter(|sp| (sp.shown)(&self.config))
            .map(|sp| Field::Key(sp.key))
            .collect()
    }

    /// The lines the cursor steps through: every section's heading, and the fields of the
    /// open ones (a field shows only when it applies: a head's own parameters, a folder's).
    pub fn fields(&self) -> Vec<Field> {
        let avail = self.available();
        let mut v = Vec::with_capacity(avail.len() + Section::ALL.len());
        for sec in Section::ALL {
            v.push(Field::Section(sec));
            if self.open.contains(&sec) {
                v.extend(avail.iter().copied().filter(|f| f.section() == sec));
            }
        }
        v
    }

    fn position(&self, field: Field) -> Option<usize> {
        self.fields().iter().position(|f| *f == field)
    }

    pub fn focused(&self) -> Field {
        let f = self.fields();
        f[self.focus.min(f.len() - 1)]
    }

    pub fn move_focus(&mut self, delta: i32) {
        let n = self.fields().len() as i32;
        self.focus = (self.focus as i32 + delta).rem_euclid(n) as usize;
    }

    /// Puts the cursor on `field`, opening its section.
    pub fn focus_field(&mut self, field: Field) {
        if let Field::Key(_) = field {
            self.open.insert(field.section());
        }
        if let Some(i) = self.position(field) {
            self.focus = i;
        }
    }

    fn set_focus_to(&mut self, field: Field) {
        if let Some(i) = self.position(field) {
            self.focus = i;
        }
    }

    /// Whether a section shows its fields.
    pub fn is_open(&self, sec: Section) -> bool {
        self.open.contains(&sec)
    }

    /// Folds or unfolds a section (`Some(true)` opens it); the cursor goes to its heading.
    pub fn fold(&mut self, sec: Section, open: Option<bool>) {
        let open = open.unwrap_or(!self.is_open(sec));
        if open {
            self.open.insert(sec);
        } else {
            self.open.remove(&sec);
        }
        self.set_focus_to(Field::Section(sec));
    }

    /// Folds every section, or opens them all when all are folded already.
    pub fn fold_all(&mut self) {
        let sec = self.focused().section();
        if self.open.is_empty() {
            self.open = Section::ALL.into_iter().collect();
        } else {
            self.open.clear();
        }
        self.set_focus_to(Field::Section(sec));
    }

    /// Moves the cursor to the next (or previous) section's heading.
    pub fn jump_section(&mut self, dir: i32) {
        let cur = self.focused().section();
        let all = Section::ALL;
        let i = all.iter().position(|s| *s == cur).unwrap_or(0) as i32;
        let next = match self.focused() {
            // On a field, ↑ goes to its own section's heading first.
            Field::Key(_) if dir < 0 => cur,
            _ => all[(i + dir).rem_euclid(all.len() as i32) as usize],
        };
        self.set_focus_to(Field::Section(next));
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
            // One-vs-rest: no reference classes unless listed.
            None if self.config.data.anomalous.is_rest() => Vec::new(),
            None => {
                let n = resolve_class(names, &self.config.data.normal);
                let a: Vec<usize> = (self.config.data.anomalous.listed().iter())
                    .filter_map(|c| resolve_class(names, c))
                    .collect();
                (0..names.len())
                    .filter(|i| Some(*i) != n && !a.contains(i))
                    .collect()
            }
        }
    }

    /// Classes C the head is trained on: the reference classes plus the normal class, or the
    /// transform classes of self-supervised training.
    pub fn training_classes(&self) -> usize {
        crate::data::transforms::head_classes(&self.config, self.reference_classes().len() + 1)
    }

    /// Fixed AdaCos's s = √2·ln(C−1).
    pub fn adacos_scale(&self) -> f32 {
        adacos_fixed_scale(self.training_classes())
    }

    /// The error to show on `field`, if the validation error names its key.
    pub fn error_for(&self, field: Field) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|e| field.spec().is_some() && e.key == field.key())
            .map(|e| e.message.as_str())
    }

    /// Whether the error names a field of a folded section.
    pub fn error_in(&self, sec: Section) -> bool {
        self.error.as_ref().is_some_and(|e| {
            self.available()
                .iter()
                .any(|f| f.key() == e.key && f.section() == sec)
        })
    }

    /// The error when it names no field shown on the form (none applies, or its section is
    /// folded).
    pub fn orphan_error(&self) -> Option<&ConfigError> {
        let fields = self.fields();
        self.error
            .as_ref()
            .filter(|e| !fields.iter().any(|f| f.key() == e.key))
    }

    /// The field the error names, if it applies.
    pub fn error_field(&self) -> Option<Field> {
        let e = self.error.as_ref()?;
        self.available().into_iter().find(|f| f.key() == e.key)
    }

    fn changed(&mut self) {
        self.edited = true;
        self.validate();
    }

    /// ←/→ on a field (on a heading: fold / unfold).
    pub fn step(&mut self, field: Field, dir: i32) {
        self.note = None;
        if let Field::Section(sec) = field {
            self.fold(sec, Some(dir > 0));
            return;
        }
        let up = dir > 0;
        let c = &mut self.config;
        match field {
            Field::Dataset => {
                let all = DatasetKind::ALL;
                let i = all.iter().position(|d| *d == c.data.dataset).unwrap_or(0);
                let next = all[(i as i32 + dir).rem_euclid(all.len() as i32) as usize];
                self.set_dataset(next);
            }
            Field::Size => {
                let v = c.data.input_shape().1;
                c.data.size = Some(if up { (v * 2).min(512) } else { (v / 2).max(8) });
            }
            Field::Channels => {
                c.data.channels = Some(if c.data.input_shape().0 == 1 { 3 } else { 1 });
            }
            Field::Normal | Field::Anomalous if self.classes.is_empty() => {}
            Field::Anomalous => self.step_anomalous(dir),
            Field::Normal => {
                let names = &self.classes;
                let r = &mut c.data.normal;
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
            Field::Widths => {
                if up && c.model.widths.len() < 4 {
                    let last = c.model.widths.last().copied().unwrap_or(16);
                    c.model.widths.push((last * 2).min(1024));
                } else if !up && c.model.widths.len() > 1 {
                    c.model.widths.pop();
                }
            }
            Field::Head => {
                let all = HeadKind::ALL;
                let i = all.iter().position(|h| *h == c.head.kind).unwrap_or(0);
                c.head.kind = all[(i as i32 + dir).rem_euclid(all.len() as i32) as usize];
                if !c.head.kind.is_cosine() && c.score.scorers.contains(&ScorerKind::ClassCosine) {
                    self.note = Some(s::CLASS_COSINE_NEEDS_COSINE.into());
                }
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
            Field::Seed => {
                c.train.seed = if up {
                    c.train.seed.wrapping_add(1)
                } else {
                    c.train.seed.saturating_sub(1)
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
            Field::Key(k) => {
                let Some(sp) = field.spec() else {
                    return;
                };
                if let Some(text) = stepped(c, k, sp.kind, dir) {
                    // Stepped values are always valid for their type.
                    let _ = c.set(k, &text);
                } else {
                    return;
                }
            }
            Field::Section(_) => return,
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
            d.anomalous = class_ref(&new, 1).into();
            d.reference = None;
        } else if new.len() < 2 {
            d.normal = ClassRef::Index(0);
            d.anomalous = ClassRef::Index(1).into();
            d.reference = None;
        } else {
            let map = |r: &ClassRef| {
                resolve_class(&old, r).map(|i| class_ref(&new, i.min(new.len() - 1)))
            };
            d.normal = map(&d.normal).unwrap_or_else(|| class_ref(&new, 0));
            d.anomalous = Form::remap_anomalous(&d.anomalous, &old, &new);
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

    /// Applies a typed value; the error (if any) says in plain words what is wrong, starting
    /// with the field's name (`widths: `abc` is not a whole number ≥ 0`).
    pub fn apply_text(&mut self, field: Field, text: &str) -> Result<(), String> {
        let text = text.trim();
        self.note = None;
        let name = field.short_name();
        let plain = |m: String| format!("{name}: {m}");
        let mut next = self.clone();
        match field {
            Field::Section(_) => return Ok(()),
            Field::Dataset => {
                let mut c = self.config.clone();
                c.set(field.key(), text).map_err(|e| plain(e.message))?;
                next.set_dataset(c.data.dataset);
            }
            Field::Anomalous => {
                next.config.data.anomalous = self.read_anomalous(text).map_err(plain)?;
            }
            Field::Normal => {
                let names = self.names();
                let i =
                    resolve_class(names, &ClassRef::Name(text.to_string())).ok_or_else(|| {
                        plain(format!("no class `{text}`; classes: {}", names.join(", ")))
                    })?;
                next.config.data.normal = class_ref(names, i);
            }
            Field::Device
                if DeviceKind::parse(&text.to_ascii_lowercase()) == Some(DeviceKind::Cuda)
                    && !self.build.cuda =>
            {
                return Err(s::CUDA_UNAVAILABLE.to_string());
            }
            _ => next
                .config
                .set(field.key(), text)
                .map_err(|e| plain(e.message))?,
        }
        self.config = next.config;
        self.changed();
        self.set_focus_to(field);
        Ok(())
    }

    /// Sets the reference classes (`None` = all others, empty = none: normal images only).
    pub fn set_reference(&mut self, indices: Option<Vec<usize>>) {
        let names = self.names();
        self.config.data.reference =
            indices.map(|v| v.into_iter().map(|i| class_ref(names, i)).collect());
        self.changed();
    }

    /// Sets the scorers in this order (the first is the primary one).
    pub fn set_scorers(&mut self, scorers: Vec<ScorerKind>) {
        self.config.score.scorers = scorers;
        self.changed();
    }

    /// Sets the scorers the ensemble averages.
    pub fn set_ensemble(&mut self, scorers: Vec<ScorerKind>) {
        self.config.score.ensemble = scorers;
        self.changed();
    }

    /// Replaces the whole config (a loaded profile).
    pub fn load(&mut self, config: Config, profile: impl Into<String>) {
        self.load_from(config.clone(), profile, config);
    }

    /// Replaces the whole config with one that started from `profile`, whose config is
    /// `base` (a run's config: the form names what it changed from its profile).
    pub fn load_from(&mut self, config: Config, profile: impl Into<String>, base: Config) {
        self.edited = config != base;
        self.base = base;
        self.config = config;
        self.profile = profile.into();
        self.note = None;
        self.validate();
        self.focus = self.focus.min(self.fields().len() - 1);
    }

    /// The form was saved as the profile `name`: runs are now named after it.
    pub fn saved_as(&mut self, name: &str) {
        self.profile = name.to_string();
        self.base = self.config.clone();
        self.edited = false;
    }

    /// Runs the check every run must pass ([`crate::job::check`]): the form never says ready
    /// for a config that cannot start.
    pub fn validate(&mut self) {
        self.classes = crate::data::classes_for(&self.config.data);
        let checked = crate::job::check_with(&self.config, self.catalog.as_ref(), &self.build);
        self.split = checked.as_ref().ok().map(|i| i.split.clone());
        self.error = checked.err();
    }

    /// The name the run is recorded under, by the engine's one rule
    /// ([`crate::store::profiles::run_name`]): the profile's, and what the form changed from
    /// it (`fashion-sneaker-boot-adacos-fixed-geom · head=arcface`).
    pub fn run_profile(&self) -> String {
        crate::store::profiles::run_name(&self.profile, &self.base, &self.config)
    }

    /// What the form changed from its profile (`head=arcface`); empty when nothing.
    pub fn changes(&self) -> Vec<String> {
        crate::store::profiles::changes(&self.base, &self.config)
    }
}

#[cfg(test)]
mod tests;
