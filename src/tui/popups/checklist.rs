//! Checklists: reference classes and scorers (Setup: e or Space on those fields).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::super::app::{App, Checklist, ChecklistKind};
use super::super::strings as s;
use super::super::widgets::{centered, marker, popup_frame, row_style};

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
