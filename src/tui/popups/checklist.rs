//! Checklists of reference classes, scorers and the ensemble's scorers (Setup: e or Space on
//! those fields): their state, built from the form, their keys and their drawing. The picked
//! list is applied to the form by `popups/apply.rs`. Keys change the list and only Enter
//! applies it (`a` checks every other class and stays open); scorers are picked in order, the
//! first is the primary one (K/J move the one under the cursor).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::config::ScorerKind;

use super::super::keys::Action;
use super::super::setup::{resolve_class, Form};
use super::super::strings as s;
use super::super::text::{fit, fit_lines};
use super::super::theme::Theme;
use super::super::widgets::{centered, marker, popup_frame, row_style};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecklistKind {
    Reference,
    Scorers,
    /// The scorers `ensemble` averages.
    Ensemble,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ChecklistItem {
    /// The class index, or the scorer's position in [`ScorerKind::ALL`].
    pub id: usize,
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
    /// Reference classes by index (`None` = all others, empty = none).
    Reference(Option<Vec<usize>>),
    /// The checked scorers, in the list's order (the first is the primary one).
    Scorers(Vec<ScorerKind>),
    /// The checked scorers of the ensemble, in the list's order.
    Ensemble(Vec<ScorerKind>),
}

/// Scorer items: the chosen ones first, in their order, then the others.
fn scorer_items(
    chosen: &[ScorerKind],
    skip: Option<ScorerKind>,
    disabled: impl Fn(ScorerKind) -> Option<String>,
) -> Vec<ChecklistItem> {
    let mut order: Vec<ScorerKind> = chosen.to_vec();
    order.extend(ScorerKind::ALL.iter().filter(|k| !chosen.contains(k)));
    order
        .into_iter()
        .filter(|k| Some(*k) != skip)
        .map(|k| ChecklistItem {
            id: ScorerKind::ALL.iter().position(|x| *x == k).unwrap_or(0),
            label: k.to_string(),
            checked: chosen.contains(&k),
            disabled: disabled(k),
        })
        .collect()
}

impl Checklist {
    /// The dataset's classes; the normal and anomalous ones cannot be checked (with `rest`,
    /// a class checked here leaves the anomalous ones).
    pub fn reference(form: &Form) -> Checklist {
        let names = form.names();
        let refs = form.reference_classes();
        let cfg = &form.config.data;
        let n = resolve_class(names, &cfg.normal);
        let an = form.anomalous_classes();
        Checklist {
            kind: ChecklistKind::Reference,
            items: names
                .iter()
                .enumerate()
                .map(|(i, name)| ChecklistItem {
                    id: i,
                    label: name.to_string(),
                    checked: refs.contains(&i),
                    disabled: if Some(i) == n {
                        Some("normal class".into())
                    } else if an.contains(&i) && !cfg.anomalous.is_rest() {
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

    /// Every scorer, the chosen ones first in their order; class-cosine only with a cosine
    /// head.
    pub fn scorers(form: &Form) -> Checklist {
        let cosine = form.config.head.kind.is_cosine();
        Checklist {
            kind: ChecklistKind::Scorers,
            items: scorer_items(&form.config.score.scorers, None, |k| {
                (k == ScorerKind::ClassCosine && !cosine).then(|| "needs a cosine head".to_string())
            }),
            cursor: 0,
            error: None,
        }
    }

    /// The scorers the ensemble can average (every one but itself).
    pub fn ensemble(form: &Form) -> Checklist {
        let cosine = form.config.head.kind.is_cosine();
        Checklist {
            kind: ChecklistKind::Ensemble,
            items: scorer_items(
                &form.config.score.ensemble,
                Some(ScorerKind::Ensemble),
                |k| {
                    (k == ScorerKind::ClassCosine && !cosine)
                        .then(|| "needs a cosine head".to_string())
                },
            ),
            cursor: 0,
            error: None,
        }
    }

    fn is_scorers(&self) -> bool {
        matches!(self.kind, ChecklistKind::Scorers | ChecklistKind::Ensemble)
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
            // Checks every class but the two of the split; Enter applies.
            Action::AllOthers if self.kind == ChecklistKind::Reference => {
                for it in self.items.iter_mut().filter(|it| it.disabled.is_none()) {
                    it.checked = true;
                }
                self.error = None;
            }
            // No reference class: the normal images alone (with transform classes).
            Action::NoneOfThem if self.kind == ChecklistKind::Reference => {
                for it in &mut self.items {
                    it.checked = false;
                }
                self.error = None;
            }
            Action::MoveUp | Action::MoveDown if self.is_scorers() => {
                let to = if a == Action::MoveUp {
                    self.cursor.checked_sub(1)
                } else {
                    Some(self.cursor + 1).filter(|&i| i < n)
                };
                if let Some(to) = to {
                    self.items.swap(self.cursor, to);
                    self.cursor = to;
                }
            }
            Action::Back => return ChecklistOutcome::Cancel,
            Action::Enter => {
                let picked: Vec<usize> = (0..n)
                    .filter(|&i| self.items[i].checked && self.items[i].disabled.is_none())
                    .collect();
                if picked.is_empty() && self.kind == ChecklistKind::Reference {
                    return ChecklistOutcome::Reference(Some(Vec::new()));
                }
                if picked.is_empty() {
                    self.error = Some("check at least one".into());
                } else {
                    let scorers = || {
                        picked
                            .iter()
                            .map(|&i| ScorerKind::ALL[self.items[i].id])
                            .collect()
                    };
                    return match self.kind {
                        ChecklistKind::Reference => {
                            let all_others: Vec<usize> = (0..n)
                                .filter(|&i| self.items[i].disabled.is_none())
                                .collect();
                            ChecklistOutcome::Reference(if picked == all_others {
                                None
                            } else {
                                Some(picked.iter().map(|&i| self.items[i].id).collect())
                            })
                        }
                        ChecklistKind::Scorers => ChecklistOutcome::Scorers(scorers()),
                        ChecklistKind::Ensemble => ChecklistOutcome::Ensemble(scorers()),
                    };
                }
            }
            _ => {}
        }
        ChecklistOutcome::Open
    }
}

pub fn draw(f: &mut Frame, area: Rect, t: &Theme, c: &Checklist) {
    let (title, hint) = match c.kind {
        ChecklistKind::Reference => (s::CLASSES_TITLE, s::CLASSES_KEYS),
        ChecklistKind::Scorers => (s::SCORERS_TITLE, s::SCORERS_KEYS),
        ChecklistKind::Ensemble => (s::ENSEMBLE_TITLE, s::SCORERS_KEYS),
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
            // Scorers are numbered in order: 1 is the primary one.
            let rank = if c.is_scorers() && it.checked {
                let r = c.items[..=i].iter().filter(|x| x.checked).count();
                format!("{r}. ")
            } else if c.is_scorers() {
                "   ".to_string()
            } else {
                String::new()
            };
            let mut spans = vec![Span::styled(
                format!("{}{bx} {rank}{}", marker(sel), it.label),
                row_style(sel, t),
            )];
            if let Some(why) = &it.disabled {
                spans.push(Span::styled(format!("  ({why})"), t.dim()));
            }
            Line::from(spans)
        })
        .collect();
    f.render_widget(Paragraph::new(fit_lines(lines, list.width as usize)), list);
    if let Some(e) = &c.error {
        f.render_widget(
            Paragraph::new(Line::styled(fit(e, err.width as usize), t.error())),
            err,
        );
    }
    f.render_widget(
        Paragraph::new(Line::styled(fit(hint, help.width as usize), t.dim())),
        help,
    );
}
