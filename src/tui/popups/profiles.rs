//! The profile picker (Setup: p): its state, its keys and its drawing. Loading the picked
//! profile is applied by `popups/apply.rs`.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::store::ProfileEntry;

use super::super::keys::Action;
use super::super::strings as s;
use super::super::text::fit_line;
use super::super::theme::Theme;
use super::super::widgets::{named_list_popup, step_cursor};

#[derive(Clone, Debug)]
pub struct ProfilePicker {
    pub entries: Vec<ProfileEntry>,
    pub cursor: usize,
    pub error: Option<String>,
}

/// What a key does in the picker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PickerOutcome {
    /// Still open.
    Open,
    Cancel,
    /// Load the profile of this name.
    Load(String),
}

impl ProfilePicker {
    /// The listed profiles, with the cursor on `current` when it is among them.
    pub fn new(entries: Vec<ProfileEntry>, current: &str) -> ProfilePicker {
        let cursor = entries.iter().position(|e| e.name == current).unwrap_or(0);
        ProfilePicker {
            entries,
            cursor,
            error: None,
        }
    }

    pub fn on_action(&mut self, a: Action) -> PickerOutcome {
        if step_cursor(&mut self.cursor, self.entries.len(), a) {
            return PickerOutcome::Open;
        }
        match a {
            Action::Back => PickerOutcome::Cancel,
            Action::Enter => match self.entries.get(self.cursor) {
                Some(e) => PickerOutcome::Load(e.name.clone()),
                None => PickerOutcome::Open,
            },
            _ => PickerOutcome::Open,
        }
    }
}

pub fn draw(f: &mut Frame, area: Rect, t: &Theme, p: &ProfilePicker) {
    let rows = p
        .entries
        .iter()
        .map(|e| {
            let style = if e.error.is_some() {
                t.error()
            } else {
                t.dim()
            };
            let rest = vec![
                Span::styled(format!("{:<8}", e.source.to_string()), t.accent()),
                Span::styled(format!(" {}", e.description), style),
            ];
            (e.name.clone(), rest)
        })
        .collect();
    let below = named_list_popup(
        f,
        area,
        s::PROFILE_PICKER_TITLE,
        s::PROFILE_PICKER_EMPTY,
        rows,
        p.cursor,
        t,
    );
    if let (Some(err_area), Some(e)) = (below, &p.error) {
        f.render_widget(
            Paragraph::new(fit_line(
                Line::styled(e.clone(), t.error()),
                err_area.width as usize,
            )),
            err_area,
        );
    }
}
