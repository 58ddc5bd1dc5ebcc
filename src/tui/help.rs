//! Help: every key binding of the screen underneath (generated from the key table).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

use super::keys::{help_rows, Context};
use super::strings as s;
use super::text::{fit, fit_line, width};
use super::theme::Theme;
use super::widgets::block;

/// One help line: a context's title, or a binding's keys and what they do.
enum Entry {
    Title(&'static str),
    Key(String, &'static str),
}

pub fn draw(f: &mut Frame, area: Rect, t: &Theme, ctx: Context) {
    let mut entries: Vec<Entry> = Vec::new();
    let mut last: Option<Context> = None;
    for (c, keys, help) in help_rows(ctx) {
        if last != Some(c) {
            entries.push(Entry::Title(c.title()));
            last = Some(c);
        }
        entries.push(Entry::Key(format!(" {keys}"), help));
    }
    let title = format!(" {} — {} ", s::HELP_TITLE, ctx.title());
    let b = block(
        fit_line(title.into(), area.width.saturating_sub(2) as usize),
        t,
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    let h = inner.height as usize;
    // The rows of a table `width` wide whose key column is `key_w` wide.
    let rows = |entries: &[Entry], width: u16, key_w: u16| -> Vec<Row<'static>> {
        let help_w = width.saturating_sub(key_w + 1) as usize;
        entries
            .iter()
            .map(|e| match e {
                Entry::Title(title) => Row::new(vec![
                    Cell::from(Span::styled(fit(title, key_w as usize), t.title())),
                    Cell::from(""),
                ]),
                Entry::Key(keys, help) => Row::new(vec![
                    Cell::from(Span::styled(fit(keys, key_w as usize), t.accent())),
                    Cell::from(fit(help, help_w)),
                ]),
            })
            .collect()
    };
    // Two columns when one does not fit.
    if entries.len() <= h {
        let key_w = 18;
        f.render_widget(
            Table::new(
                rows(&entries, inner.width, key_w),
                [Constraint::Length(key_w), Constraint::Fill(1)],
            )
            .column_spacing(1),
            inner,
        );
    } else {
        let split = h.min(entries.len());
        let key_w = 12;
        // Each column as wide as its longest line needs, the left one first (it is the
        // screen's own keys), the right one at least what it needs up to half.
        let needed = |es: &[Entry]| {
            es.iter()
                .map(|e| match e {
                    Entry::Title(title) => width(title),
                    Entry::Key(_, help) => key_w as usize + 1 + width(help),
                })
                .max()
                .unwrap_or(0) as u16
        };
        let (left_needed, right_needed) = (needed(&entries[..split]), needed(&entries[split..]));
        let right_w = right_needed.min(inner.width - left_needed.min(inner.width / 2));
        let [l, r] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(right_w)])
            .spacing(1)
            .areas(inner);
        for (es, a) in [(&entries[..split], l), (&entries[split..], r)] {
            f.render_widget(
                Table::new(
                    rows(es, a.width, key_w),
                    [Constraint::Length(key_w), Constraint::Fill(1)],
                )
                .column_spacing(1),
                a,
            );
        }
    }
}
