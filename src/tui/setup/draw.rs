//! Setup: the experiment form, two columns of sections (data, model, self-supervised
//! transforms, augmentation, test-time views | head, scoring, training, optimizer, run). A
//! folded section shows one summary line; a column taller than the screen scrolls with the
//! cursor.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::config::HeadKind;

use super::super::strings as s;
use super::super::text::{fit, fit_line, fit_lines, width as width_of, wrap};
use super::super::theme::Theme;
use super::super::widgets::{block, marker};
use super::{Field, FieldKind, Form, Section};

const LABEL_W: usize = 16;

/// What the Setup screen draws: the form and what around it changes how it shows.
pub struct SetupView<'a> {
    pub form: &'a Form,
    /// A job is running or queued: a new run queues.
    pub busy: bool,
    /// A popup is open over the form (no field shows the cursor but the one edited).
    pub popup_open: bool,
    /// The field whose value is being typed, with the text and its error so far.
    pub editing: Option<(Field, &'a str, Option<&'a str>)>,
}

pub fn draw(f: &mut Frame, area: Rect, t: &Theme, v: &SetupView) {
    let form = v.form;
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
    // What the form changed from the profile; the profile's description describes the
    // profile, so it shows only while nothing changed.
    let changes = form.changes();
    if !changes.is_empty() {
        top.push(Span::styled(
            format!("{}{}", crate::store::profiles::EDIT_SEP, changes.join(" ")),
            t.warn(),
        ));
    } else if !form.config.description.is_empty() {
        top.push(Span::styled(
            format!(" — {}", form.config.description),
            t.dim(),
        ));
    }
    f.render_widget(
        Paragraph::new(fit_line(Line::from(top), head.width as usize)),
        head,
    );

    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(cols);
    for (col_area, left_col) in [(left, true), (right, false)] {
        draw_column(f, col_area, t, v, left_col);
    }

    let footer = if let Some(e) = form.orphan_error() {
        let place = match form.error_field() {
            Some(fl) => format!(" ({} {})", s::IN_FOLDED, fl.section().title()),
            None => String::new(),
        };
        Line::styled(format!("✗ {}: {}{place}", e.key, e.message), t.error())
    } else if form.error.is_some() {
        Line::styled(s::SETUP_FIX_FIELD, t.error())
    } else if let Some(n) = &form.note {
        Line::styled(n.clone(), t.warn())
    } else if v.busy {
        Line::styled(s::SETUP_QUEUES, t.warn())
    } else {
        // The name the run gets: it follows what the form now describes.
        Line::from(vec![
            Span::styled(format!("✓ {} ", s::SETUP_READY_AS), t.ok()),
            Span::styled(
                form.run_profile(),
                t.ok().add_modifier(ratatui::style::Modifier::BOLD),
            ),
        ])
    };
    f.render_widget(Paragraph::new(fit_line(footer, foot.width as usize)), foot);
}

/// One column: its sections' headings and (open ones') fields, scrolled to the cursor.
fn draw_column(f: &mut Frame, area: Rect, t: &Theme, v: &SetupView, left_col: bool) {
    let form = v.form;
    let editing = v.editing;
    let focused = form.focused();
    let inner_w = area.width.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = Vec::new();
    let mut cursor_line = None;
    for fl in form
        .fields()
        .into_iter()
        .filter(|x| x.left_column() == left_col)
    {
        let sel = fl == focused && !v.popup_open || editing.is_some_and(|e| e.0 == fl);
        if sel {
            cursor_line = Some(lines.len());
        }
        if let Field::Section(sec) = fl {
            lines.push(heading(form, sec, sel, inner_w, t));
            continue;
        }
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
                if fl == Field::Device && !form.cuda() {
                    spans.push(Span::styled(format!(" · {}", s::NO_CUDA_BUILD), t.dim()));
                }
            }
        }
        lines.push(Line::from(spans));
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
        if fl == Field::Head {
            let params_follow = matches!(
                form.config.head.kind,
                HeadKind::Arcface | HeadKind::Cosface | HeadKind::L2Softmax
            );
            if let (Some(note), false) = (form.head_note(), params_follow) {
                lines.push(Line::styled(format!("  {note}"), t.dim()));
            }
        }
    }
    let title = if left_col {
        s::SETUP_LEFT_TITLE
    } else {
        s::SETUP_RIGHT_TITLE
    };
    // Scroll so the cursor's line (and an error under it) shows.
    let h = area.height.saturating_sub(2) as usize;
    let total = lines.len();
    let offset = match cursor_line {
        Some(c) if total > h => {
            let want_end = (c + 3).min(total);
            want_end.saturating_sub(h).min(c)
        }
        _ => 0,
    }
    .min(total.saturating_sub(h));
    let below = total.saturating_sub(offset + h);
    let mut b = block(title, t);
    if offset > 0 {
        b = b.title_bottom(Line::styled(format!(" ↑ {offset} more "), t.dim()).left_aligned());
    }
    if below > 0 {
        b = b.title_bottom(Line::styled(format!(" ↓ {below} more "), t.dim()).right_aligned());
    }
    let shown = fit_lines(lines.into_iter().skip(offset), inner_w);
    f.render_widget(Paragraph::new(shown).block(b), area);
}

/// A section's heading: ▾ when open, ▸ with a summary of its values when folded.
fn heading(form: &Form, sec: Section, sel: bool, width: usize, t: &Theme) -> Line<'static> {
    let open = form.is_open(sec);
    let arrow = if open { "▾" } else { "▸" };
    let head = format!("{}{arrow} {}", marker(sel), sec.title());
    let style = if sel { t.selected() } else { t.accent() };
    let mut spans = vec![Span::styled(head.clone(), style)];
    if !open {
        if form.error_in(sec) {
            spans.push(Span::styled(" ✗", t.error()));
        }
        let used = width_of(&head) + if form.error_in(sec) { 4 } else { 2 };
        let summary = fit(
            &form.value_text(Field::Section(sec)),
            width.saturating_sub(used),
        );
        spans.push(Span::styled(format!("  {summary}"), t.dim()));
    }
    Line::from(spans)
}

/// Word-wraps `text` to `width` columns, every line indented by `indent` spaces.
pub fn wrap_indented(text: &str, width: usize, indent: usize) -> Vec<String> {
    let room = width.saturating_sub(indent).max(8);
    wrap(text, room)
        .into_iter()
        .filter(|l| !l.is_empty())
        .map(|l| format!("{}{l}", " ".repeat(indent)))
        .collect()
}
