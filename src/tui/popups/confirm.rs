//! Yes/no confirmations (stop, quit, delete): what is asked, how keys answer it, and its
//! drawing; plus the "stopping before quitting" notice. What a yes does is applied by
//! `update/popups.rs`.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::super::app::App;
use super::super::keys::Action;
use super::super::strings as s;
use super::super::widgets::{centered, popup_frame};

/// What is being confirmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfirmKind {
    Stop,
    Quit,
    Delete(String),
    /// `D` on Setup: the form back to the defaults.
    Reset,
}

/// How a key answers a confirmation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Not an answer: the popup stays open.
    Open,
    No,
    Yes,
}

impl ConfirmKind {
    /// The answer a key action gives (y/Enter, n/Esc; anything else leaves it open).
    pub fn answer(&self, a: Action) -> Answer {
        match a {
            Action::Yes => Answer::Yes,
            Action::No => Answer::No,
            _ => Answer::Open,
        }
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, kind: &ConfirmKind) {
    let t = &app.theme;
    let (title, body, yes, no) = match kind {
        ConfirmKind::Stop => (
            s::STOP_TITLE,
            s::STOP_BODY.to_string(),
            s::STOP_YES,
            s::STOP_NO,
        ),
        ConfirmKind::Quit => (
            s::QUIT_TITLE,
            s::QUIT_BODY_ACTIVE.to_string(),
            s::QUIT_YES,
            s::QUIT_NO,
        ),
        ConfirmKind::Delete(id) => (
            s::DELETE_TITLE,
            format!("{id} and its files will be removed for good."),
            s::DELETE_YES,
            s::DELETE_NO,
        ),
        ConfirmKind::Reset => (
            s::RESET_TITLE,
            s::RESET_BODY.to_string(),
            s::RESET_YES,
            s::RESET_NO,
        ),
    };
    let r = centered(area, 56, 7);
    let inner = popup_frame(f, r, title, t);
    let lines = vec![
        Line::raw(body),
        Line::raw(""),
        Line::from(vec![
            Span::styled(format!("[{yes}]"), t.bold()),
            Span::raw("   "),
            Span::styled(format!("[{no}]"), t.dim()),
        ]),
    ];
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
}

pub fn draw_quitting(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let r = centered(area, 60, 6);
    let inner = popup_frame(f, r, s::QUIT_TITLE, t);
    f.render_widget(
        Paragraph::new(vec![
            Line::styled(s::QUITTING, t.warn()),
            Line::raw(""),
            Line::styled(s::QUITTING_FORCE, t.dim()),
        ])
        .wrap(Wrap { trim: true }),
        inner,
    );
}
