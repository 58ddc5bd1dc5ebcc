//! The study picker (Setup: S): the study files found (`./profiles/studies`, the user's, the
//! shipped ones), its keys and its drawing. Starting the picked study is applied by
//! `update/popups.rs`.

use std::path::PathBuf;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState, Paragraph};
use ratatui::Frame;

use super::super::app::App;
use super::super::keys::Action;
use super::super::strings as s;
use super::super::widgets::{centered, marker, popup_frame};

#[derive(Clone, Debug)]
pub struct StudyPicker {
    /// Name, description (or why it cannot be read) and where the file is.
    pub entries: Vec<(String, String, PathBuf)>,
    pub cursor: usize,
}

/// What a key does in the picker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StudyPickerOutcome {
    Open,
    Cancel,
    /// Start (or queue) the study of this name.
    Start(String),
}

impl StudyPicker {
    pub fn new(entries: Vec<(String, String, PathBuf)>) -> StudyPicker {
        StudyPicker { entries, cursor: 0 }
    }

    pub fn on_action(&mut self, a: Action) -> StudyPickerOutcome {
        match a {
            Action::Up => self.cursor = self.cursor.saturating_sub(1),
            Action::Down => {
                self.cursor = (self.cursor + 1).min(self.entries.len().saturating_sub(1))
            }
            Action::Back => return StudyPickerOutcome::Cancel,
            Action::Enter => {
                if let Some((name, _, _)) = self.entries.get(self.cursor) {
                    return StudyPickerOutcome::Start(name.clone());
                }
            }
            _ => {}
        }
        StudyPickerOutcome::Open
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, p: &StudyPicker) {
    let t = &app.theme;
    let h = (p.entries.len() as u16 + 4).clamp(6, area.height.saturating_sub(2));
    let r = centered(area, 76, h);
    let inner = popup_frame(f, r, s::STUDY_PICKER_TITLE, t);
    let [list_area, hint] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    if p.entries.is_empty() {
        f.render_widget(
            Paragraph::new(Line::styled(s::STUDY_PICKER_EMPTY, t.dim())),
            list_area,
        );
        return;
    }
    let name_w = p
        .entries
        .iter()
        .map(|e| e.0.chars().count())
        .max()
        .unwrap_or(10)
        + 1;
    let items: Vec<ListItem> = p
        .entries
        .iter()
        .enumerate()
        .map(|(i, (name, desc, _))| {
            let style = if desc.starts_with("(unreadable") {
                t.error()
            } else {
                t.dim()
            };
            ListItem::new(Line::from(vec![
                Span::raw(marker(i == p.cursor)),
                Span::styled(format!("{name:<name_w$}"), t.bold()),
                Span::styled(format!(" {desc}"), style),
            ]))
        })
        .collect();
    let mut state = ListState::default().with_selected(Some(p.cursor));
    f.render_stateful_widget(
        List::new(items).highlight_style(t.selected()),
        list_area,
        &mut state,
    );
    f.render_widget(
        Paragraph::new(Line::styled(s::STUDY_PICKER_HINT, t.dim())),
        hint,
    );
}
