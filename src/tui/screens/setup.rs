//! Setup: the experiment form, two columns (data and model | head, scoring, training).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::config::HeadKind;

use super::super::app::{App, Popup};
use super::super::form::{Field, FieldKind};
use super::super::popups::input::InputKind;
use super::super::strings as s;
use super::super::widgets::{block, marker};

const LABEL_W: usize = 16;

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let form = &app.form;
    let [head, cols, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(area);

    let mut top = vec![
        Span::styled(format!("{}: ", s::SETUP_PROFILE), t.dim()),
        Span::styled(form.profile.clone(), t.bold()),
    ];
    if form.edited {
        top.push(Span::styled(format!(" {}", s::SETUP_EDITED), t.warn()));
    }
    if !form.config.description.is_empty() {
        top.push(Span::styled(
            format!(" — {}", form.config.description),
            t.dim(),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(top)), head);

    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(cols);
    let fields = form.fields();
    let focused = form.focused();
    let editing = match &app.popup {
        Some(Popup::Input(i)) => match i.kind {
            InputKind::Field(fl) => Some((fl, i.text.as_str(), i.error.as_deref())),
            _ => None,
        },
        _ => None,
    };
    for (col_area, left_col) in [(left, true), (right, false)] {
        let mut lines: Vec<Line> = Vec::new();
        let mut section = "";
        for &fl in fields.iter().filter(|fl| fl.left_column() == left_col) {
            if fl.section() != section {
                section = fl.section();
                lines.push(Line::styled(format!("── {section} "), t.accent()));
            }
            let sel = fl == focused && app.popup.is_none() || editing.is_some_and(|e| e.0 == fl);
            let label = format!("{}{:<LABEL_W$}", marker(sel), fl.label());
            let mut spans = vec![Span::styled(
                label,
                if sel {
                    t.selected()
                } else {
                    Default::default()
                },
            )];
            match editing {
                Some((ef, text, _)) if ef == fl => {
                    spans.push(Span::styled(format!("[{text}▏]"), t.accent()));
                }
                _ => {
                    let v = form.value_text(fl);
                    let shown = if sel && fl.kind() == FieldKind::Choice {
                        format!("‹ {v} ›")
                    } else {
                        v
                    };
                    spans.push(Span::raw(shown));
                }
            }
            lines.push(Line::from(spans));
            let inner_w = col_area.width.saturating_sub(2) as usize;
            if let Some((ef, _, Some(err))) = editing {
                if ef == fl {
                    for l in wrap_indented(&format!("✗ {err}"), inner_w, 4) {
                        lines.push(Line::styled(l, t.error()));
                    }
                }
            }
            if let Some(err) = form.error_for(fl) {
                for l in wrap_indented(&format!("✗ {err}"), inner_w, 4) {
                    lines.push(Line::styled(l, t.error()));
                }
            }
            match fl {
                Field::Head => {
                    let params_follow = matches!(
                        form.config.head.kind,
                        HeadKind::Arcface | HeadKind::Cosface | HeadKind::L2Softmax
                    );
                    if let (Some(note), false) = (form.head_note(), params_follow) {
                        lines.push(Line::styled(format!("  {note}"), t.dim()));
                    }
                }
                Field::Device if !form.cuda() => {
                    lines.push(Line::styled(
                        format!("  {}", s::CUDA_UNAVAILABLE_SHORT),
                        t.dim(),
                    ));
                }
                _ => {}
            }
        }
        let title = if left_col {
            " Data & model "
        } else {
            " Head, scoring & training "
        };
        f.render_widget(Paragraph::new(lines).block(block(title, t)), col_area);
    }

    let footer = if let Some((_, _, _)) = editing {
        Line::styled(s::EDIT_HINT, t.dim())
    } else if let Some(e) = form.orphan_error() {
        Line::styled(format!("✗ {}: {}", e.key, e.message), t.error())
    } else if form.error.is_some() {
        Line::styled("✗ fix the marked field to start", t.error())
    } else if let Some(n) = &form.note {
        Line::styled(n.clone(), t.warn())
    } else if app.run_active() {
        Line::styled(s::SETUP_RUN_ACTIVE, t.warn())
    } else {
        Line::styled(format!("✓ {}", s::SETUP_VALID), t.ok())
    };
    f.render_widget(Paragraph::new(footer), foot);
}

/// Word-wraps `text` to `width` columns, every line indented by `indent` spaces.
pub fn wrap_indented(text: &str, width: usize, indent: usize) -> Vec<String> {
    let room = width.saturating_sub(indent).max(8);
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let wl = word.chars().count();
        let cl = cur.chars().count();
        if cl > 0 && cl + 1 + wl > room {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out.into_iter()
        .map(|l| format!("{}{l}", " ".repeat(indent)))
        .collect()
}
