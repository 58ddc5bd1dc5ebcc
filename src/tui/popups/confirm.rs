//! Yes/no confirmations (stop, quit, delete): what is asked, how keys answer it, and its
//! drawing; plus the "stopping before quitting" notice and the notice that a run cannot be
//! deleted (a live writer, a newer schema), in plain words. What a yes does is applied by
//! `popups/apply.rs`.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::store::{RecordError, StoreError};

use super::super::keys::Action;
use super::super::strings as s;
use super::super::text::{wrap_line, wrap_lines, wrap_max};
use super::super::theme::Theme;
use super::super::widgets::{centered, popup_frame};

/// What is being confirmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfirmKind {
    Stop,
    Quit,
    Delete(String),
    /// `D` on Setup: the form back to the defaults.
    Reset,
    /// The run cannot be deleted, and why (any answer closes it).
    DeleteRefused {
        id: String,
        reason: String,
    },
}

/// Why the store refuses to delete run `id`, in plain words.
pub fn refusal(id: &str, e: &StoreError) -> String {
    match e {
        StoreError::StillRunning { pid, host, .. } => s::delete_running(id, *pid, host),
        StoreError::FutureSchema { found, .. }
        | StoreError::Record {
            error: RecordError::UnknownSchema { found },
            ..
        } => s::delete_future(id, *found),
        other => other.to_string(),
    }
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
        if matches!(self, ConfirmKind::DeleteRefused { .. }) {
            return match a {
                Action::Yes | Action::No => Answer::No,
                _ => Answer::Open,
            };
        }
        match a {
            Action::Yes => Answer::Yes,
            Action::No => Answer::No,
            _ => Answer::Open,
        }
    }
}

/// Draws the question; `queued` is the number of jobs waiting in the lab's queue.
pub fn draw(f: &mut Frame, area: Rect, t: &Theme, kind: &ConfirmKind, queued: usize) {
    let (title, body, yes, no) = match kind {
        ConfirmKind::Stop => (
            s::STOP_TITLE,
            s::STOP_BODY.to_string(),
            s::STOP_YES,
            s::STOP_NO,
        ),
        ConfirmKind::Quit => (
            s::QUIT_TITLE,
            match queued {
                0 => s::QUIT_BODY_ACTIVE.to_string(),
                n => format!("{} {}", s::QUIT_BODY_ACTIVE, s::quit_drops_queue(n)),
            },
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
        ConfirmKind::DeleteRefused { reason, .. } => (
            s::DELETE_REFUSED_TITLE,
            reason.clone(),
            s::DELETE_REFUSED_CLOSE,
            "",
        ),
    };
    // Room for the body wrapped at the popup's width, a blank line and the answers.
    // The body wrapped to the popup's inner width, the popup as tall as it needs.
    let w = 56.min(area.width);
    let body = match kind {
        ConfirmKind::DeleteRefused { .. } => Line::styled(body, t.error()),
        _ => Line::raw(body),
    };
    let room = area.height.saturating_sub(2 + 2) as usize;
    let mut lines = wrap_max(&body, w.saturating_sub(2) as usize, room.max(1));
    let r = centered(area, w, lines.len() as u16 + 4);
    let inner = popup_frame(f, r, title, t);
    let mut answers = vec![Span::styled(format!("[{yes}]"), t.bold())];
    if !no.is_empty() {
        answers.push(Span::raw("   "));
        answers.push(Span::styled(format!("[{no}]"), t.dim()));
    }
    lines.push(Line::raw(""));
    lines.extend(wrap_line(&Line::from(answers), inner.width as usize));
    f.render_widget(Paragraph::new(lines), inner);
}

pub fn draw_quitting(f: &mut Frame, area: Rect, t: &Theme) {
    let r = centered(area, 60, 6);
    let inner = popup_frame(f, r, s::QUIT_TITLE, t);
    f.render_widget(
        Paragraph::new(wrap_lines(
            [
                Line::styled(s::QUITTING, t.warn()),
                Line::raw(""),
                Line::styled(s::QUITTING_FORCE, t.dim()),
            ],
            inner.width as usize,
        )),
        inner,
    );
}
