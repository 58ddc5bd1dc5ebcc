//! The profile picker (Setup: p): its state, its keys and its drawing. Loading the picked
//! profile is applied by `update/popups.rs`.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

use crate::store::ProfileEntry;

use super::super::app::App;
use super::super::keys::Action;
use super::super::strings as s;
use super::super::widgets::{centered, marker, popup_frame};

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
        match a {
            Action::Up => self.cursor = self.cursor.saturating_sub(1),
            Action::Down => {
                self.cursor = (self.cursor + 1).min(self.entries.len().saturating_sub(1))
            }
            Action::Back => return PickerOutcome::Cancel,
            Action::Enter => {
                if let Some(e) = self.entries.get(self.cursor) {
                    return PickerOutcome::Load(e.name.clone());
                }
            }
            _ => {}
        }
        PickerOutcome::Open
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, p: &ProfilePicker) {
    let t = &app.theme;
    let h = (p.entries.len() as u16 + 4).clamp(6, area.height.saturating_sub(2));
    let r = centered(area, 76, h);
    let inner = popup_frame(f, r, s::PROFILE_PICKER_TITLE, t);
    let [list_area, err_area] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    if p.entries.is_empty() {
        f.render_widget(
            Paragraph::new(Line::styled(s::PROFILE_PICKER_EMPTY, t.dim())),
            list_area,
        );
        return;
    }
    let name_w = p
        .entries
        .iter()
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(10)
        + 1;
    let items: Vec<ListItem> = p
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let sel = i == p.cursor;
            let desc = if e.error.is_some() {
                Span::styled(format!(" {}", e.description), t.error())
            } else {
                Span::styled(format!(" {}", e.description), t.dim())
            };
            ListItem::new(Line::from(vec![
                Span::raw(marker(sel)),
                Span::styled(format!("{:<name_w$}", e.name), t.bold()),
                Span::styled(format!("{:<8}", e.source.to_string()), t.accent()),
                desc,
            ]))
        })
        .collect();
    let mut state = ListState::default().with_selected(Some(p.cursor));
    f.render_stateful_widget(
        List::new(items).highlight_style(t.selected()),
        list_area,
        &mut state,
    );
    if let Some(e) = &p.error {
        f.render_widget(
            Paragraph::new(Line::styled(e.clone(), t.error())).wrap(Wrap { trim: true }),
            err_area,
        );
    }
}
