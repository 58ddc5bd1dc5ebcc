//! Help: every key binding of the screen underneath (generated from the key table).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

use super::super::app::App;
use super::super::keys::{help_rows, Context};
use super::super::strings as s;
use super::super::widgets::block;

pub fn draw(f: &mut Frame, area: Rect, app: &App, ctx: Context) {
    let t = &app.theme;
    let mut rows: Vec<Row> = Vec::new();
    let mut last: Option<Context> = None;
    for (c, keys, help) in help_rows(ctx) {
        if last != Some(c) {
            rows.push(Row::new(vec![
                Cell::from(Span::styled(c.title(), t.title())),
                Cell::from(""),
            ]));
            last = Some(c);
        }
        rows.push(Row::new(vec![
            Cell::from(Span::styled(format!(" {keys}"), t.accent())),
            Cell::from(help),
        ]));
    }
    let title = format!(" {} — {} ", s::HELP_TITLE, ctx.title());
    let b = block(title, t);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let h = inner.height as usize;
    // Two columns when one does not fit.
    if rows.len() <= h {
        f.render_widget(
            Table::new(rows, [Constraint::Length(18), Constraint::Fill(1)]).column_spacing(1),
            inner,
        );
    } else {
        let [l, r] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(inner);
        let split = h.min(rows.len());
        let right = rows.split_off(split.min(rows.len()));
        for (rs, a) in [(rows, l), (right, r)] {
            f.render_widget(
                Table::new(rs, [Constraint::Length(12), Constraint::Fill(1)]).column_spacing(1),
                a,
            );
        }
    }
}
