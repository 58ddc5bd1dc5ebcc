//! The study picker (Setup: S): the study files found (`./profiles/studies`, the user's, the
//! shipped ones), its keys and its drawing. Starting the picked study is applied by
//! `popups/apply.rs`.

use std::path::PathBuf;

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::super::keys::Action;
use super::super::strings as s;
use super::super::text::fit;
use super::super::theme::Theme;
use super::super::widgets::{named_list_popup, step_cursor};

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
        if step_cursor(&mut self.cursor, self.entries.len(), a) {
            return StudyPickerOutcome::Open;
        }
        match a {
            Action::Back => StudyPickerOutcome::Cancel,
            Action::Enter => match self.entries.get(self.cursor) {
                Some((name, _, _)) => StudyPickerOutcome::Start(name.clone()),
                None => StudyPickerOutcome::Open,
            },
            _ => StudyPickerOutcome::Open,
        }
    }
}

pub fn draw(f: &mut Frame, area: Rect, t: &Theme, p: &StudyPicker) {
    let rows = p
        .entries
        .iter()
        .map(|(name, desc, _)| {
            let style = if desc.starts_with("(unreadable") {
                t.error()
            } else {
                t.dim()
            };
            (name.clone(), vec![Span::styled(format!(" {desc}"), style)])
        })
        .collect();
    let below = named_list_popup(
        f,
        area,
        s::STUDY_PICKER_TITLE,
        s::STUDY_PICKER_EMPTY,
        rows,
        p.cursor,
        t,
    );
    if let Some(hint) = below {
        f.render_widget(
            Paragraph::new(Line::styled(
                fit(s::STUDY_PICKER_HINT, hint.width as usize),
                t.dim(),
            )),
            hint,
        );
    }
}
