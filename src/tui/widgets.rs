//! Drawing helpers shared by the screens and popups: framed blocks, centred popup frames,
//! selection markers, named-list popups, axis bounds and labels (the one chart renderer is
//! [`super::chart`]). Imports no screen, popup or app state, so every view can use it
//! without an import loop.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, List, ListItem, ListState, Paragraph};
use ratatui::Frame;

use super::keys::Action;
pub use super::text::fit;
use super::text::{fit_line, wrap_lines};
use super::theme::Theme;

/// A bordered block with a title.
pub fn block<'a>(title: impl Into<Line<'a>>, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.dim())
        .title(title.into().style(theme.title()))
}

/// A centred rectangle of at most `w`×`h`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// Clears the popup area and draws its frame; returns the inner area.
pub fn popup_frame(f: &mut Frame, area: Rect, title: &str, theme: &Theme) -> Rect {
    f.render_widget(Clear, area);
    let title = fit(&format!(" {title} "), area.width.saturating_sub(2) as usize);
    let b = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.accent())
        .title(Line::styled(title, theme.title()));
    let inner = b.inner(area);
    f.render_widget(b, area);
    inner
}

/// Moves a list cursor for Up/Down within `len` entries; true when the action was a move.
pub fn step_cursor(cursor: &mut usize, len: usize, a: Action) -> bool {
    match a {
        Action::Up => *cursor = cursor.saturating_sub(1),
        Action::Down => *cursor = (*cursor + 1).min(len.saturating_sub(1)),
        _ => return false,
    }
    true
}

/// A centred popup listing named entries (the name bold and padded to the longest, then the
/// row's own spans) with the cursor's row selected, or `empty` when there are none. Returns the
/// one-line area under the list (for a hint or an error), `None` when the list is empty.
pub fn named_list_popup(
    f: &mut Frame,
    area: Rect,
    title: &str,
    empty: &str,
    rows: Vec<(String, Vec<Span<'static>>)>,
    cursor: usize,
    theme: &Theme,
) -> Option<Rect> {
    let h = (rows.len() as u16 + 4).clamp(6, area.height.saturating_sub(2));
    let inner = popup_frame(f, centered(area, 76, h), title, theme);
    let [list_area, below] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    if rows.is_empty() {
        f.render_widget(
            Paragraph::new(wrap_lines(
                [Line::styled(empty.to_string(), theme.dim())],
                list_area.width as usize,
            )),
            list_area,
        );
        return None;
    }
    let name_w = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(10) + 1;
    let room = list_area.width as usize;
    let items: Vec<ListItem> = rows
        .into_iter()
        .enumerate()
        .map(|(i, (name, rest))| {
            let mut spans = vec![
                Span::raw(marker(i == cursor)),
                Span::styled(format!("{name:<name_w$}"), theme.bold()),
            ];
            spans.extend(rest);
            ListItem::new(fit_line(Line::from(spans), room))
        })
        .collect();
    let mut state = ListState::default().with_selected(Some(cursor));
    f.render_stateful_widget(
        List::new(items).highlight_style(theme.selected()),
        list_area,
        &mut state,
    );
    Some(below)
}

/// `> ` for the selected row, `  ` otherwise (selection visible without colour).
pub fn marker(selected: bool) -> &'static str {
    if selected {
        "> "
    } else {
        "  "
    }
}

/// Style for a selected row.
pub fn row_style(selected: bool, theme: &Theme) -> Style {
    if selected {
        theme.selected()
    } else {
        Style::default()
    }
}

/// Axis bounds with a little headroom; a flat series gets a visible band.
pub fn bounds(values: impl Iterator<Item = f64>) -> [f64; 2] {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return [0.0, 1.0];
    }
    if (hi - lo).abs() < 1e-9 {
        let pad = if lo.abs() > 1e-9 {
            lo.abs() * 0.05
        } else {
            0.5
        };
        return [lo - pad, hi + pad];
    }
    let pad = (hi - lo) * 0.05;
    [lo - pad, hi + pad]
}

/// Compact number for axis labels.
pub fn num(v: f64) -> String {
    let a = v.abs();
    if (v.fract() == 0.0 && a < 1e6) || a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.01 || a == 0.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.1e}")
    }
}
