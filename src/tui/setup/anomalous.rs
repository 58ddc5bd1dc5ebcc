//! The anomalous classes on the Setup form: one class, a list, or `rest` (one-vs-rest) —
//! what the field shows, ←/→ through the classes and `rest`, typed values.

use super::*;
use crate::config::keys::Value;
use crate::config::{thousands, Anomalous};

impl Form {
    /// Indices of the anomalous classes: the listed ones, or every class but the normal and
    /// the reference ones (`rest`).
    pub fn anomalous_classes(&self) -> Vec<usize> {
        let names = self.names();
        match &self.config.data.anomalous {
            Anomalous::Rest => {
                let n = resolve_class(names, &self.config.data.normal);
                let refs = self.reference_classes();
                (0..names.len())
                    .filter(|i| Some(*i) != n && !refs.contains(i))
                    .collect()
            }
            a => a
                .listed()
                .iter()
                .filter_map(|c| resolve_class(names, c))
                .collect(),
        }
    }

    /// `ankle-boot`, `rest (9 classes)`, `sandal, ankle-boot`.
    pub(super) fn anomalous_text(&self) -> String {
        let names = self.names();
        let class = |r: &ClassRef| match resolve_class(names, r) {
            Some(i) => names[i].to_string(),
            None => format!("{r} (unknown)"),
        };
        match &self.config.data.anomalous {
            Anomalous::Class(c) => class(c),
            Anomalous::List(l) => {
                let names = l.iter().map(class).collect::<Vec<_>>().join(", ");
                match &self.split {
                    Some(s) => format!("{names} ({} test imgs)", thousands(s.test_anomalous)),
                    None => names,
                }
            }
            Anomalous::Rest => {
                let n = self.anomalous_classes().len();
                let classes = format!("{n} class{}", if n == 1 { "" } else { "es" });
                match &self.split {
                    Some(s) => format!(
                        "rest ({classes}, {} test imgs)",
                        thousands(s.test_anomalous)
                    ),
                    None => format!("rest ({classes})"),
                }
            }
        }
    }

    /// `all (6,000)` for every train image of the normal class; the number otherwise.
    pub(super) fn normal_count_text(&self) -> Option<String> {
        match (self.config.data.normal_train_count, &self.split) {
            (crate::config::ImageCount::All, Some(s)) => {
                Some(format!("all ({})", thousands(s.normal_train)))
            }
            _ => None,
        }
    }

    /// One ←/→ step: through the classes, then `rest`.
    pub(super) fn step_anomalous(&mut self, dir: i32) {
        let names = &self.classes;
        let n = names.len() as i32;
        let cur = match &self.config.data.anomalous {
            Anomalous::Rest => n,
            a => a
                .single()
                .and_then(|c| resolve_class(names, c))
                .map(|i| i as i32)
                .unwrap_or(-1),
        };
        let next = (cur + dir).rem_euclid(n + 1);
        self.config.data.anomalous = if next == n {
            Anomalous::Rest
        } else {
            Anomalous::Class(class_ref(names, next as usize))
        };
    }

    /// A typed value: a class, a list of them, or `rest`; every class must exist.
    pub(super) fn read_anomalous(&self, text: &str) -> Result<Anomalous, String> {
        let names = self.names();
        let a = Anomalous::read(text)?;
        let mut out = Vec::new();
        for c in a.listed() {
            let i = resolve_class(names, c)
                .ok_or_else(|| format!("no class `{c}`; classes: {}", names.join(", ")))?;
            out.push(class_ref(names, i));
        }
        Ok(match a {
            Anomalous::Rest => Anomalous::Rest,
            Anomalous::Class(_) => Anomalous::Class(out.remove(0)),
            Anomalous::List(_) => Anomalous::List(out),
        })
    }

    /// The anomalous classes after the dataset changed from classes `old` to `new`, keeping
    /// positions (`fallback` when a class does not map).
    pub(super) fn remap_anomalous(a: &Anomalous, old: &[String], new: &[String]) -> Anomalous {
        let map = |r: &ClassRef| {
            resolve_class(old, r)
                .filter(|_| !new.is_empty())
                .map(|i| class_ref(new, i.min(new.len() - 1)))
        };
        match a {
            Anomalous::Rest => Anomalous::Rest,
            Anomalous::Class(c) => {
                Anomalous::Class(map(c).unwrap_or_else(|| class_ref(new, 1.min(new.len() - 1))))
            }
            Anomalous::List(l) => {
                let l: Vec<ClassRef> = l.iter().filter_map(map).collect();
                if l.is_empty() {
                    Anomalous::Class(class_ref(new, 1.min(new.len() - 1)))
                } else {
                    Anomalous::List(l)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn rest_and_lists_on_the_setup_form() {
        // The -geom recipe: no reference classes, transform classes.
        let mut c = Config::default();
        c.data.reference = Some(vec![]);
        c.transforms.rotations = vec![0, 90, 180, 270];
        c.transforms.labels = LabelMode::Transform;
        let mut f = form(c);
        assert_eq!(f.value_text(Field::Anomalous), "ankle boot");
        // ← from the first class is `rest`, → from the last class too.
        f.config.data.anomalous = ClassRef::Name("t-shirt-top".into()).into();
        f.step(Field::Anomalous, -1);
        assert!(f.config.data.anomalous.is_rest());
        f.config.data.normal_train_count = crate::config::ImageCount::All;
        f.validate();
        assert!(f.error.is_none(), "{:?}", f.error);
        assert_eq!(
            f.value_text(Field::Anomalous),
            "rest (9 classes, 9,000 test imgs)"
        );
        assert_eq!(f.value_text(Field::NormalTrainCount), "all (6,000)");
        assert_eq!(f.anomalous_classes().len(), 9);
        f.step(Field::Anomalous, 1);
        assert_eq!(f.value_text(Field::Anomalous), "t-shirt/top");

        // Typed: a list, `rest`, or an error naming the classes.
        f.apply_text(Field::Anomalous, "sandal, ankle boot")
            .unwrap();
        assert_eq!(f.anomalous_classes(), [5, 9]);
        assert_eq!(
            f.value_text(Field::Anomalous),
            "sandal, ankle boot (2,000 test imgs)"
        );
        f.apply_text(Field::Anomalous, "rest").unwrap();
        assert!(f.config.data.anomalous.is_rest());
        let e = f.apply_text(Field::Anomalous, "sandal, boots").unwrap_err();
        assert!(e.contains("no class `boots`"), "{e}");
    }
}
