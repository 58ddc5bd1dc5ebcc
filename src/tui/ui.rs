//! Draws a frame: the tabs, the screen of the current tab (or help), the footer, the
//! too-small message, and the popup on top. The one place that reads the whole [`App`]: it
//! hands each screen and popup the state it draws and the theme. The shared helpers the
//! screens and popups use are in [`super::widgets`] and [`super::chart`].

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Tabs, Wrap};
use ratatui::Frame;

use super::app::{App, Popup, Tab, MIN_HEIGHT, MIN_WIDTH};
use super::keys::Context;
use super::popups;
use super::popups::input::InputKind;
use super::runs::RunsView;
use super::setup::draw::SetupView;
use super::strings as s;
use super::text::{fit, width, wrap};
use super::theme::Theme;
use super::train::draw::TrainView;
use super::train::live::LogLevel;
use super::{compare, detail, help, runs, setup, study, train};

pub fn draw(f: &mut Frame, app: &App) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        draw_too_small(f, area, &app.theme);
        return;
    }
    // A status of several lines (a list of searched places) takes as many rows, up to a third.
    let status = status_lines(app, area.width as usize, (area.height / 3).max(1) as usize);
    let [top, body, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(status.as_ref().map_or(1, |l| l.len().max(1) as u16)),
    ])
    .areas(area);
    draw_tabs(f, top, app);
    let t = &app.theme;
    if app.help {
        help::draw(f, body, t, app.screen_context());
    } else {
        match app.tab {
            Tab::Setup => setup::draw::draw(f, body, t, &setup_view(app)),
            Tab::Train => train::draw::draw(f, body, t, &train_view(app)),
            Tab::Runs => match &app.runs.view {
                RunsView::Table => {
                    runs::draw::draw(f, body, t, &app.runs, app.store_error.as_deref())
                }
                RunsView::Detail(d) => detail::draw::draw(f, body, t, app.pixel_mode, d),
                RunsView::Compare(c) => compare::draw::draw(f, body, t, c),
                RunsView::Study(v) => study::draw::draw(f, body, t, &app.runs, v),
            },
        }
    }
    draw_footer(f, bottom, app, status);
    // Popups cover the screen, never the tabs or the footer's status line.
    match &app.popup {
        Some(Popup::Confirm(k)) => popups::confirm::draw(f, body, &app.theme, k, app.queue.len()),
        Some(Popup::Profiles(p)) => popups::profiles::draw(f, body, &app.theme, p),
        Some(Popup::Checklist(c)) => popups::checklist::draw(f, body, &app.theme, c),
        Some(Popup::Input(i)) => popups::input::draw(f, body, &app.theme, i),
        Some(Popup::Studies(p)) => popups::studies::draw(f, body, &app.theme, p),
        Some(Popup::Folder(p)) => popups::folder::draw(f, body, &app.theme, p),
        None => {}
    }
    if app.quitting.is_some() {
        popups::confirm::draw_quitting(f, body, &app.theme);
    }
}

/// What the Setup screen draws, from the app.
fn setup_view(app: &App) -> SetupView<'_> {
    let editing = match &app.popup {
        Some(Popup::Input(i)) => match i.kind {
            InputKind::Field(fl) => Some((fl, i.text.as_str(), i.error.as_deref())),
            _ => None,
        },
        _ => None,
    };
    SetupView {
        form: &app.form,
        busy: app.busy(),
        popup_open: app.popup.is_some(),
        editing,
    }
}

/// What the Train screen draws, from the app.
fn train_view(app: &App) -> TrainView<'_> {
    TrainView {
        live: app.live.as_ref(),
        follow: app.follow.as_ref(),
        study: app.study.as_ref(),
        queue: &app.queue,
        now: app.now,
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
    let mut all: Vec<&str> = Tab::ALL.iter().map(|tab| tab.label()).collect();
    // Help is drawn as a last tab after the screens.
    all.push(s::TAB_HELP);
    let selected = if app.help {
        Tab::ALL.len()
    } else {
        app.tab.index()
    };
    let (right, state) = badge(app).unwrap_or_default();
    // The process's CPU and memory (and the GPU's) between the tabs and the badge, each
    // element whole or dropped.
    let tabs_w: usize = all.iter().map(|l| width(l) + 2).sum::<usize>() + all.len() - 1;
    let room = (area.width as usize).saturating_sub(tabs_w + width(&right) + 2);
    let usage = app.usage.line(room);
    let usage = if usage.is_empty() {
        usage
    } else {
        format!("{usage}  ")
    };
    let [left, mid, rt] = Layout::horizontal([
        Constraint::Min(10),
        Constraint::Length(width(&usage) as u16),
        Constraint::Length(right.chars().count() as u16),
    ])
    .areas(area);
    f.render_widget(Paragraph::new(Span::styled(usage, t.dim())), mid);
    let tabs = Tabs::new(all)
        .select(selected)
        .style(t.dim())
        .highlight_style(t.title().add_modifier(ratatui::style::Modifier::REVERSED))
        .divider("│");
    f.render_widget(tabs, left);
    let st = if state.is_empty() {
        Default::default()
    } else {
        t.status(state)
    };
    f.render_widget(Paragraph::new(Span::styled(right, st)), rt);
}

/// The tab bar's badge and its state, for what the Train screen shows (the same order): a
/// followed run (`following running 40%`), a study (`running study 3/4 62%`: its task in
/// training, the study's share done), else the lab's own run (`training 40%`).
fn badge(app: &App) -> Option<(String, &'static str)> {
    let pct = |f: f64| (f * 100.0).round();
    if let Some(fl) = &app.follow {
        let state = fl.status.map_or("running", |s| s.as_str());
        let done = fl
            .live
            .as_ref()
            .map_or(String::new(), |l| format!(" {:.0}%", pct(l.job_fraction())));
        return Some((format!("{} {state}{done} ", s::FOLLOWING), state));
    }
    if let Some(st) = &app.study {
        let state = st.state_label();
        let task = st
            .current
            .as_ref()
            .filter(|_| st.is_active())
            .map_or(st.ended_tasks(), |c| c.number);
        return Some((
            format!(
                "{state} {} {task}/{} {:.0}% ",
                s::BADGE_STUDY,
                st.queued,
                pct(st.fraction())
            ),
            state,
        ));
    }
    app.live.as_ref().map(|l| {
        let state = l.state_label();
        (format!("{state} {:.0}% ", pct(l.job_fraction())), state)
    })
}

/// The status line's text: one line fitted to `width`, or, for a text of several lines, each
/// of them wrapped (a list stays a list), at most `max` rows.
fn status_lines(app: &App, width: usize, max: usize) -> Option<Vec<String>> {
    let st = app.status.as_ref()?;
    if !st.text.contains('\n') {
        return Some(vec![fit(&st.text, width)]);
    }
    let mut lines = wrap(st.text.trim_end(), width);
    if lines.len() > max {
        lines.truncate(max);
        if let Some(last) = lines.last_mut() {
            *last = fit(&format!("{last} …"), width);
        }
    }
    Some(lines)
}

fn draw_footer(f: &mut Frame, area: Rect, app: &App, status: Option<Vec<String>>) {
    let t = &app.theme;
    if let (Some(st), Some(lines)) = (&app.status, status) {
        let style = match st.level {
            LogLevel::Info => t.ok(),
            LogLevel::Warn => t.warn(),
            LogLevel::Error => t.error(),
        };
        let lines: Vec<Line> = lines.into_iter().map(|l| Line::styled(l, style)).collect();
        f.render_widget(Paragraph::new(lines), area);
        return;
    }
    let hint = match app.context() {
        Context::Setup => s::FOOTER_SETUP,
        Context::Train => train::draw::footer(&train_view(app)),
        Context::Runs => s::FOOTER_RUNS,
        Context::Detail => match &app.runs.view {
            RunsView::Detail(d) if d.scoring() => s::FOOTER_DETAIL_SCORING,
            _ => s::FOOTER_DETAIL,
        },
        Context::Compare => s::FOOTER_COMPARE,
        Context::Study => s::FOOTER_STUDY,
        Context::Help => s::FOOTER_HELP,
        Context::Input => match &app.popup {
            Some(Popup::Input(i)) => popups::input::footer(i),
            _ => s::INPUT_HINT,
        },
        Context::Folder => s::FOLDER_KEYS,
        Context::Confirm | Context::Picker | Context::Global => "",
    };
    f.render_widget(
        Paragraph::new(Span::styled(fit(hint, area.width as usize), t.dim())),
        area,
    );
}
