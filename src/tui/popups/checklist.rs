//! Checklists of reference classes and scorers (Setup: e or Space on those fields): their
//! state, built from the form, their keys and their drawing. The picked list is applied to the
//! form by `update/popups.rs`.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::config::ScorerKind;

use super::super::app::App;
use super::super::form::{resolve_class, Form};
use super::super::keys::Action;
use super::super::strings as s;
use super::super::widgets::{centered, marker, popup_frame, row_style};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecklistKind {
    Reference,
    Scorers,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ChecklistItem {
    pub label: String,
    pub checked: bool,
    /// Why the item cannot be checked.
    pub disabled: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Checklist {
    pub kind: ChecklistKind,
    pub items: Vec<ChecklistItem>,
    pub cursor: usize,
    pub error: Option<String>,
}

/// What a key does in a checklist.
#[derive(Clone, Debug, PartialEq)]
pub enum ChecklistOutcome {
    /// Still open.
    Open,
    Cancel,
    /// Reference classes by index (`None` = all others).
    Reference(Option<Vec<usize>>),
    /// The checked scorers, in [`ScorerKind::ALL`] order.
    Scorers(Vec<ScorerKind>),
}

impl Checklist {
    /// The dataset's classes; the normal and anomalous ones cannot be checked.
    pub fn reference(form: &Form) -> Checklist {
        let names = form.names();
        let refs = form.reference_classes();
        let cfg = &form.config.data;
        let n = resolve_class(names, &cfg.normal);
        let an = resolve_class(names, &cfg.anomalous);
        Checklist {
            kind: ChecklistKind::Reference,
            items: names
                .iter()
                .enumerate()
                .map(|(i, name)| ChecklistItem {
                    label: name.to_string(),
                    checked: refs.contains(&i),
                    disabled: if Some(i) == n {
                        Some("normal class".into())
                    } else if Some(i) == an {
                        Some("anomalous class".into())
                    } else {
                        None
                    },
                })
                .collect(),
            cursor: 0,
            error: None,
        }
    }

    /// Every scorer; class-cosine only with a cosine head.
    pub fn scorers(form: &Form) -> Checklist {
        let cosine = form.config.head.kind.is_cosine();
        Checklist {
            kind: ChecklistKind::Scorers,
            items: ScorerKind::ALL
                .iter()
                .map(|k| ChecklistItem {
                    label: k.to_string(),
                    checked: form.config.score.scorers.contains(k),
                    disabled: (*k == ScorerKind::ClassCosine && !cosine)
                        .then(|| "needs a cosine head".to_string()),
                })
                .collect(),
            cursor: 0,
            error: None,
        }
    }

    pub fn on_action(&mut self, a: Action) -> ChecklistOutcome {
        let n = self.items.len();
        match a {
            Action::Up => self.cursor = self.cursor.saturating_sub(1),
            Action::Down => self.cursor = (self.cursor + 1).min(n.saturating_sub(1)),
            Action::Toggle => {
                if let Some(it) = self.items.get_mut(self.cursor) {
                    if it.disabled.is_none() {
                        it.checked = !it.checked;
                        self.error = None;
                    }
                }
            }
            Action::AllOthers if self.kind == ChecklistKind::Reference => {
                return ChecklistOutcome::Reference(None);
            }
            Action::Back => return ChecklistOutcome::Cancel,
            Action::Enter => {
                let picked: Vec<usize> = (0..n)
                    .filter(|&i| self.items[i].checked && self.items[i].disabled.is_none())
                    .collect();
                if picked.is_empty() {
                    self.error = Some("check at least one".into());
                } else {
                    return match self.kind {
                        ChecklistKind::Reference => {
                            let all_others: Vec<usize> = (0..n)
                                .filter(|&i| self.items[i].disabled.is_none())
                                .collect();
                            ChecklistOutcome::Reference(if picked == all_others {
                                None
                            } else {
                                Some(picked)
                            })
                        }
                        ChecklistKind::Scorers => ChecklistOutcome::Scorers(
                            picked.iter().map(|&i| ScorerKind::ALL[i]).collect(),
                        ),
                    };
                }
            }
            _ => {}
        }
        ChecklistOutcome::Open
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, c: &Checklist) {
    let t = &app.theme;
    let (title, hint) = match c.kind {
        ChecklistKind::Reference => (s::CLASSES_TITLE, s::CLASSES_HINT),
        ChecklistKind::Scorers => (s::SCORERS_TITLE, s::SCORERS_HINT),
    };
    let r = centered(area, 60, c.items.len() as u16 + 5);
    let inner = popup_frame(f, r, title, t);
    let [list, err, help] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let lines: Vec<Line> = c
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            let sel = i == c.cursor;
            let bx = match (&it.disabled, it.checked) {
                (Some(_), _) => "[-]",
                (None, true) => "[x]",
                (None, false) => "[ ]",
            };
            let mut spans = vec![Span::styled(
                format!("{}{bx} {}", marker(sel), it.label),
                row_style(sel, t),
            )];
            if let Some(why) = &it.disabled {
                spans.push(Span::styled(format!("  ({why})"), t.dim()));
            }
            Line::from(spans)
        })
        .collect();
    f.render_widget(Paragraph::new(lines), list);
    if let Some(e) = &c.error {
        f.render_widget(Paragraph::new(Line::styled(e.clone(), t.error())), err);
    }
    f.render_widget(Paragraph::new(Line::styled(hint, t.dim())), help);
}
