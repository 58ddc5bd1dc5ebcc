//! One-line text inputs (a Setup field, profile name, tags, note, filter): their state, typing
//! and keys, and the drawing of the popup ones (Setup field edits are drawn inline on the form
//! instead). What an applied text does is decided by `update/popups.rs`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::super::app::App;
use super::super::form::Field;
use super::super::keys::Action;
use super::super::strings as s;
use super::super::widgets::{centered, popup_frame};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// Typing a value into a Setup field (drawn inline on the form).
    Field(Field),
    ProfileName,
    Tags(String),
    Note(String),
    Filter,
}

#[derive(Clone, Debug)]
pub struct Input {
    pub kind: InputKind,
    pub text: String,
    pub error: Option<String>,
    /// Saving a profile over an existing one was asked for once already.
    pub overwrite_armed: bool,
}

/// What typing a key did to the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Typed {
    /// Not a typing key: it is looked up in the key table.
    Ignored,
    /// Taken without a change to report (Ctrl-U clears the text).
    Consumed,
    /// A character was added or removed.
    Changed,
}

/// What a bound key does to the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputOutcome {
    Open,
    Cancel,
    Submit,
}

impl Input {
    pub fn new(kind: InputKind, text: String) -> Input {
        Input {
            kind,
            text,
            error: None,
            overwrite_armed: false,
        }
    }

    /// Typing: characters, Backspace, Ctrl-U (clear). Other keys (and other Ctrl/Alt
    /// combinations) are [`Typed::Ignored`].
    pub fn type_key(&mut self, ev: &KeyEvent) -> Typed {
        if ev
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            if ev.code == KeyCode::Char('u') && ev.modifiers.contains(KeyModifiers::CONTROL) {
                self.text.clear();
                self.overwrite_armed = false;
                return Typed::Consumed;
            }
            return Typed::Ignored;
        }
        match ev.code {
            KeyCode::Char(c) => self.text.push(c),
            KeyCode::Backspace => {
                self.text.pop();
            }
            _ => return Typed::Ignored,
        }
        self.error = None;
        self.overwrite_armed = false;
        Typed::Changed
    }

    /// Enter applies, Esc cancels; other bound keys leave the input open.
    pub fn on_action(&self, a: Action) -> InputOutcome {
        match a {
            Action::Back => InputOutcome::Cancel,
            Action::Enter => InputOutcome::Submit,
            _ => InputOutcome::Open,
        }
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, inp: &Input) {
    let t = &app.theme;
    let (title, hint) = match &inp.kind {
        InputKind::Field(_) => return,
        InputKind::ProfileName => (s::SAVE_PROFILE_TITLE.to_string(), s::SAVE_PROFILE_HINT),
        InputKind::Tags(id) => (format!("{} — {id}", s::TAG_TITLE), s::INPUT_HINT),
        InputKind::Note(id) => (format!("{} — {id}", s::NOTE_TITLE), s::INPUT_HINT),
        InputKind::Filter => (s::FILTER_TITLE.to_string(), s::FILTER_HINT),
    };
    let r = centered(area, 64, 7);
    let inner = popup_frame(f, r, &title, t);
    let [field, err, help] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(inner);
    // Show the end of long text.
    let w = field.width.saturating_sub(3) as usize;
    let chars: Vec<char> = inp.text.chars().collect();
    let shown: String = chars[chars.len().saturating_sub(w)..].iter().collect();
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("> ", t.accent()),
            Span::raw(shown),
            Span::styled("▏", t.accent()),
        ])),
        field,
    );
    if let Some(e) = &inp.error {
        f.render_widget(
            Paragraph::new(Line::styled(e.clone(), t.error())).wrap(Wrap { trim: true }),
            err,
        );
    }
    f.render_widget(Paragraph::new(Line::styled(hint, t.dim())), help);
}
