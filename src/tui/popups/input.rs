//! One-line text inputs: profile name, tags, note, filter. (Setup field edits are drawn inline
//! on the form instead.)

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::super::app::{App, Input, InputKind};
use super::super::strings as s;
use super::super::widgets::{centered, popup_frame};

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
