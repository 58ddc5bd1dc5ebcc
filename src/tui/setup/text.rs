//! What the Setup form shows: a field's value, a folded section's summary, the text an edit
//! starts from, the note under the head fields.

use super::*;

impl Form {
    /// What the field shows (a folded section: a summary of its values).
    pub fn value_text(&self, field: Field) -> String {
        let c = &self.config;
        let names = self.names();
        let class = |r: &ClassRef| match resolve_class(names, r) {
            Some(i) => names[i].to_string(),
            None => format!("{r} (unknown)"),
        };
        let shape = c.data.input_shape();
        match field {
            Field::Section(sec) => self.summary(sec),
            Field::Dataset => c.data.dataset.to_string(),
            Field::Size => match c.data.size {
                Some(v) => format!("{v}×{v}"),
                None => format!("{}×{} (auto)", shape.1, shape.2),
            },
            Field::Channels => match shape.0 {
                1 => "1 (grey)".to_string(),
                _ => "3 (RGB)".to_string(),
            },
            Field::Normal => class(&c.data.normal),
            Field::Anomalous => self.anomalous_text(),
            Field::NormalTrainCount if self.normal_count_text().is_some() => {
                self.normal_count_text().unwrap_or_default()
            }
            Field::Reference => {
                let refs = self.reference_classes();
                match &c.data.reference {
                    None => format!("{} ({})", s::REFERENCE_ALL, refs.len()),
                    Some(l) if l.is_empty() => s::REFERENCE_NONE.to_string(),
                    Some(_) => {
                        let list: Vec<&str> = refs.iter().map(|&i| names[i].as_str()).collect();
                        format!("{}: {}", list.len(), list.join(", "))
                    }
                }
            }
            Field::Head => c.head.kind.to_string(),
            Field::Alpha => match c.head.alpha {
                Some(a) => format!("{a}"),
                None => s::ALPHA_AUTO.to_string(),
            },
            Field::Device => c.train.device.to_string(),
            Field::Key("data.data_dir") if c.data.data_dir.is_none() => {
                s::data_dir_auto(self.data_env.as_deref())
            }
            Field::Key(k) => {
                let sp = field.spec();
                match c.get(k) {
                    None => sp.map(|s| s.unset).unwrap_or_default().to_string(),
                    Some(v) => match sp.map(|s| s.kind) {
                        Some(Kind::Bool) => if v == "true" { "on" } else { "off" }.to_string(),
                        _ if k == "train.threads" && v == "0" => s::THREADS_ALL.to_string(),
                        _ => unbracket(&v),
                    },
                }
            }
        }
    }

    /// One line standing for a folded section.
    pub(super) fn summary(&self, sec: Section) -> String {
        let c = &self.config;
        let v = |f: Field| self.value_text(f);
        match sec {
            Section::SelfSupervised => match c.transforms.labels {
                LabelMode::None => s::SELF_SUPERVISED_OFF.to_string(),
                m => {
                    let n = crate::data::transforms::expand(&c.transforms.set()).len();
                    format!(
                        "{}: {n} transforms, {}",
                        m.as_str(),
                        c.transforms.sample.as_str()
                    )
                }
            },
            Section::Augment => {
                let a = &c.train.augment;
                match (a.shift, a.flip) {
                    (0, false) => s::OFF.to_string(),
                    (0, true) => "flip".to_string(),
                    (n, false) => format!("shift {n} px"),
                    (n, true) => format!("shift {n} px, flip"),
                }
            }
            Section::Views if c.score.views.is_identity() => s::VIEWS_OFF.to_string(),
            Section::Views => {
                let n = crate::data::transforms::expand(&c.score.views).len();
                format!("{n} views")
            }
            Section::Optimizer => format!(
                "{}, {}, wd {}",
                c.train.optimizer.as_str(),
                c.train.lr_schedule.as_str(),
                c.train.weight_decay
            ),
            Section::Run => format!(
                "{}, {}",
                match c.train.threads {
                    0 => "all cores".to_string(),
                    n => format!("{n} threads"),
                },
                if c.run.save_model {
                    "model saved"
                } else {
                    "model not saved"
                }
            ),
            Section::Data => format!(
                "{} {}→{}",
                v(Field::Dataset),
                v(Field::Normal),
                v(Field::Anomalous)
            ),
            Section::Model => format!("{} → {}", v(Field::Widths), v(Field::EmbeddingDim)),
            Section::Head => v(Field::Head),
            Section::Scoring => v(Field::Scorers),
            Section::Training => format!(
                "{} epochs, batch {}, lr {}",
                c.train.epochs, c.train.batch_size, c.train.lr
            ),
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
            Field::Normal | Field::Anomalous | Field::Reference => self.value_text(field),
            Field::Section(_) => String::new(),
            Field::Key(k) => self
                .config
                .get(k)
                .map(|v| unbracket(&v))
                .unwrap_or_default(),
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
}
