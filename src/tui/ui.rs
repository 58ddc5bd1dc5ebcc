//! Drawing: the frame (tabs, body, footer), the too-small message, and the popups on top.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Tabs, Wrap};
use ratatui::Frame;

use super::app::{App, Popup, Tab};
use super::keys::Context;
use super::live::LogLevel;
use super::popups;
use super::runs::RunsView;
use super::screens;
use super::strings as s;
use super::theme::Theme;

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

pub fn draw(f: &mut Frame, app: &App) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        draw_too_small(f, area, &app.theme);
        return;
    }
    let [top, body, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_tabs(f, top, app);
    if app.help {
        screens::help::draw(f, body, app, app.screen_context());
    } else {
        match app.tab {
            Tab::Setup => screens::setup::draw(f, body, app),
            Tab::Train => screens::train::draw(f, body, app),
            Tab::Runs => match &app.runs.view {
                RunsView::Table => screens::runs::draw(f, body, app),
                RunsView::Detail(d) => screens::detail::draw(f, body, app, d),
                RunsView::Compare(c) => screens::compare::draw(f, body, app, c),
            },
        }
    }
    draw_footer(f, bottom, app);
    match &app.popup {
        Some(Popup::Confirm(k)) => popups::confirm::draw(f, area, app, k),
        Some(Popup::Profiles(p)) => popups::profiles::draw(f, area, app, p),
        Some(Popup::Checklist(c)) => popups::checklist::draw(f, area, app, c),
        Some(Popup::Input(i)) => popups::input::draw(f, area, app, i),
        None => {}
    }
    if app.quitting.is_some() {
        popups::confirm::draw_quitting(f, area, app);
    }
}

fn draw_too_small(f: &mut Frame, area: Rect, theme: &Theme) {
    let lines = vec![
        Line::styled(s::TOO_SMALL, theme.error()),
        Line::raw(format!("{}×{}", area.width, area.height)),
        Line::raw(s::TOO_SMALL_HINT),
    ];
    let h = (lines.len() as u16).min(area.height);
    let y = area.y + area.height.saturating_sub(h) / 2;
    f.render_widget(
        Paragraph::new(lines)
            .alignment(ratatui::layout::Alignment::Center)
            .wrap(Wrap { trim: true }),
        Rect::new(area.x, y, area.width, h.max(1).min(area.height)),
    );
}

fn draw_tabs(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let titles = vec![s::TAB_SETUP, s::TAB_TRAIN, s::TAB_RUNS];
    let selected = if app.help { 3 } else { app.tab.index() };
    let mut all = titles.clone();
    all.push(s::TAB_HELP);
    let right = match &app.live {
        Some(l) => {
            let pct = (l.job_fraction() * 100.0).round();
            format!("{} {pct:.0}% ", l.state_label())
        }
        None => String::new(),
    };
    let [left, rt] = Layout::horizontal([
        Constraint::Min(10),
        Constraint::Length(right.chars().count() as u16),
    ])
    .areas(area);
    let tabs = Tabs::new(all)
        .select(selected)
        .style(t.dim())
        .highlight_style(t.title().add_modifier(ratatui::style::Modifier::REVERSED))
        .divider("│");
    f.render_widget(tabs, left);
    let st = app
        .live
        .as_ref()
        .map(|l| t.status(l.state_label()))
        .unwrap_or_default();
    f.render_widget(Paragraph::new(Span::styled(right, st)), rt);
}

fn draw_footer(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    if let Some(st) = &app.status {
        let style = match st.level {
            LogLevel::Info => t.ok(),
            LogLevel::Warn => t.warn(),
            LogLevel::Error => t.error(),
        };
        f.render_widget(Paragraph::new(Span::styled(st.text.clone(), style)), area);
        return;
    }
    let hint = match app.context() {
        Context::Setup => s::FOOTER_SETUP,
        Context::Train => s::FOOTER_TRAIN,
        Context::Runs => s::FOOTER_RUNS,
        Context::Detail => s::FOOTER_DETAIL,
        Context::Compare => s::FOOTER_COMPARE,
        Context::Help => s::FOOTER_HELP,
        Context::Input => s::INPUT_HINT,
        Context::Confirm | Context::Picker | Context::Global => "",
    };
    f.render_widget(Paragraph::new(Span::styled(hint, t.dim())), area);
}

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
    let b = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.accent())
        .title(Line::styled(format!(" {title} "), theme.title()));
    let inner = b.inner(area);
    f.render_widget(b, area);
    inner
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
    if v.fract() == 0.0 && a < 1e6 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.01 || a == 0.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.1e}")
    }
}
