//! One-line text inputs (a Setup field, profile name and description, tags, note, filter):
//! their state, typing and keys, and the drawing of the popup ones (Setup field edits are drawn
//! inline on the form instead). What an applied text does is decided by `popups/apply.rs`.
//! Their keys show once, in the footer.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::super::keys::Action;
use super::super::setup::Field;
use super::super::strings as s;
use super::super::text::{fit, fit_start, wrap_max};
use super::super::theme::Theme;
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
    /// A second line (a saved profile's description), when the input has one.
    pub second: Option<String>,
    /// Typing goes to the second line.
    pub on_second: bool,
}

/// What typing a key did to the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Typed {
    /// Not a typing key: it is looked up in the key table.
    Ignored,
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
            second: None,
            on_second: false,
        }
    }

    /// The line typing goes to.
    fn active(&mut self) -> &mut String {
        match (&mut self.second, self.on_second) {
            (Some(d), true) => d,
            _ => &mut self.text,
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
                self.active().clear();
                self.error = None;
                self.overwrite_armed = false;
                return Typed::Changed;
            }
            return Typed::Ignored;
        }
        match ev.code {
            KeyCode::Char(c) => self.active().push(c),
            KeyCode::Backspace => {
                self.active().pop();
            }
            _ => return Typed::Ignored,
        }
        self.error = None;
        self.overwrite_armed = false;
        Typed::Changed
    }

    /// Enter applies, Esc cancels, Tab moves between the lines; other bound keys leave the
    /// input open.
    pub fn on_action(&mut self, a: Action) -> InputOutcome {
        match a {
            Action::Back => InputOutcome::Cancel,
            Action::Enter => InputOutcome::Submit,
            Action::NextField if self.second.is_some() => {
                self.on_second = !self.on_second;
                InputOutcome::Open
            }
            _ => InputOutcome::Open,
        }
    }
}

pub fn draw(f: &mut Frame, area: Rect, t: &Theme, inp: &Input) {
    let (title, hint) = match &inp.kind {
        InputKind::Field(_) => return,
        InputKind::ProfileName => (s::SAVE_PROFILE_TITLE.to_string(), s::SAVE_PROFILE_HINT),
        // The keys show in the footer only.
        InputKind::Tags(id) => (format!("{} — {id}", s::TAG_TITLE), ""),
        InputKind::Note(id) => (format!("{} — {id}", s::NOTE_TITLE), ""),
        InputKind::Filter => (s::FILTER_TITLE.to_string(), s::FILTER_HINT),
    };
    let two = inp.second.is_some();
    // With two lines, each is labelled (the name's rule included).
    let hint = if two { "" } else { hint };
    let r = centered(area, 64, if two { 9 } else { 7 });
    let inner = popup_frame(f, r, &title, t);
    let [field, second, err, help] = Layout::vertical([
        Constraint::Length(if two { 2 } else { 1 }),
        Constraint::Length(if two { 2 } else { 0 }),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(inner);
    // One line per text: its label (with two), the end of long text, the cursor on the
    // active one.
    let line = |label: &str, text: &str, active: bool, area: Rect| {
        let shown = fit_start(text, area.width.saturating_sub(3) as usize);
        let mut lines = Vec::new();
        if !label.is_empty() {
            lines.push(Line::styled(label.to_string(), t.dim()));
        }
        lines.push(Line::from(vec![
            Span::styled(if active { "> " } else { "  " }, t.accent()),
            Span::raw(shown),
            Span::styled(if active { "▏" } else { "" }, t.accent()),
        ]));
        Paragraph::new(lines)
    };
    let (l1, l2) = if two {
        (s::SAVE_PROFILE_NAME, s::SAVE_PROFILE_DESCRIPTION)
    } else {
        ("", "")
    };
    f.render_widget(line(l1, &inp.text, !inp.on_second, field), field);
    if let Some(d) = &inp.second {
        f.render_widget(line(l2, d, inp.on_second, second), second);
    }
    if let Some(e) = &inp.error {
        f.render_widget(
            Paragraph::new(wrap_max(
                &Line::styled(e.clone(), t.error()),
                err.width as usize,
                err.height as usize,
            )),
            err,
        );
    }
    f.render_widget(
        Paragraph::new(Line::styled(fit(hint, help.width as usize), t.dim())),
        help,
    );
}

/// The footer while an input is open: its keys, once.
pub fn footer(inp: &Input) -> &'static str {
    if inp.second.is_some() {
        s::INPUT_KEYS_TWO_LINES
    } else {
        s::INPUT_KEYS
    }
}
