//! A study: one boxplot of the study scorer's AUC per cell on a shared axis, the table of
//! n / median / IQR and each cell against the first (difference of medians with its 95%
//! paired bootstrap interval), and the runs of the selected cell. Drawn from the Runs state,
//! so it follows the store watcher: a study run elsewhere fills in as its runs finish.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use super::super::detail::charts::boxplot;
use super::super::runs::RunsState;
use super::super::strings as s;
use super::super::text::{fit_line, fit_start};
use super::super::theme::Theme;
use super::super::widgets::{block, fit, marker};
use super::{StudyGroup, StudyView};
use crate::score::ticks;

/// The study `v` shows, from the runs and studies of `runs`.
pub fn draw(f: &mut Frame, area: Rect, t: &Theme, runs: &RunsState, v: &StudyView) {
    let Some(g) = runs.study(&v.name) else {
        f.render_widget(
            Paragraph::new(vec![
                Line::styled(format!("{} {}", s::STUDY_TITLE, v.name), t.title()),
                Line::styled(s::STUDY_GONE, t.dim()),
            ]),
            area,
        );
        return;
    };
    let n = g.cells.len() as u16;
    let avail = area.height.saturating_sub(2);
    // A blank line between the boxes when there is room for it.
    let roomy = 2 * n + 3 <= avail * 9 / 20;
    let boxes_h = if roomy {
        2 * n + 3
    } else {
        (n + 4).min(avail * 9 / 20).max(5)
    };
    let table_h = (n + 3).min(avail * 3 / 10).max(4);
    let [head, boxes, table, runs_area] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(boxes_h),
        Constraint::Length(table_h),
        Constraint::Min(3),
    ])
    .areas(area);

    let mut l1 = vec![
        Span::styled(format!("{} {}", s::STUDY_TITLE, g.name), t.title()),
        Span::styled(
            format!("  {} cells × {} seeds  ", g.cells.len(), g.seeds),
            t.dim(),
        ),
        Span::styled(
            format!("{}/{} {}", g.done, g.total, s::STUDY_DONE),
            if g.done == g.total { t.ok() } else { t.warn() },
        ),
    ];
    if g.running > 0 {
        l1.push(Span::styled(
            format!("  ▶{} running", g.running),
            t.status("running"),
        ));
    }
    l1.push(Span::styled(format!("  AUC {}", g.scorer), t.dim()));
    let w = head.width as usize;
    let l2 = match (&g.error, &g.source) {
        (Some(e), _) => Line::styled(fit(&format!("{}: {e}", s::STUDY_NO_FILE), w), t.warn()),
        (None, Some(src)) if g.description.is_empty() => {
            Line::styled(fit(&src.display().to_string(), w), t.dim())
        }
        _ => Line::styled(fit(&g.description, w), t.dim()),
    };
    f.render_widget(Paragraph::new(vec![fit_line(Line::from(l1), w), l2]), head);

    draw_boxes(f, boxes, t, g, v, roomy);
    draw_table(f, table, t, g, v);
    draw_runs(f, runs_area, t, runs, g, v);
}

/// One horizontal boxplot per cell on a shared axis, with tick marks and values below.
fn draw_boxes(f: &mut Frame, area: Rect, t: &Theme, g: &StudyGroup, v: &StudyView, roomy: bool) {
    let b = block(
        fit(
            &format!(" AUC {} {} ", g.scorer, s::STUDY_BOXES),
            area.width.saturating_sub(2) as usize,
        ),
        t,
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    let sums: Vec<Option<&crate::score::Summary>> = g
        .cells
        .iter()
        .map(|c| c.result.summary.get(&g.scorer))
        .collect();
    let label_w = g
        .cells
        .iter()
        .map(|c| c.short.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 20);
    let plot_w = (inner.width as usize).saturating_sub(label_w + 3).max(10);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for sm in sums.iter().flatten() {
        lo = lo.min(sm.min);
        hi = hi.max(sm.max);
    }
    if !lo.is_finite() {
        f.render_widget(
            Paragraph::new(Line::styled(s::STUDY_NO_RUNS, t.dim())),
            inner,
        );
        return;
    }
    let pad = ((hi - lo) * 0.05).max(0.002);
    let (lo, hi) = (lo - pad, hi + pad);
    let step = if roomy { 2 } else { 1 };
    // n boxes take n lines, or 2n - 1 with the blank lines between them.
    let rows_room = (inner.height as usize).saturating_sub(2).div_ceil(step);
    let rows_room = rows_room.max(1);
    let skip = v.cursor.saturating_sub(rows_room.saturating_sub(1));
    let mut lines: Vec<Line> = Vec::new();
    for (i, (c, sm)) in g
        .cells
        .iter()
        .zip(&sums)
        .enumerate()
        .skip(skip)
        .take(rows_room)
    {
        let selected = i == v.cursor;
        let mut label_style = t.series(i);
        if selected {
            label_style = label_style.add_modifier(Modifier::REVERSED | Modifier::BOLD);
        }
        let plot = match sm {
            Some(sm) => Span::styled(boxplot(sm, lo, hi, plot_w), t.series(i)),
            None => Span::styled(s::STUDY_NO_RUNS, t.dim()),
        };
        if roomy && !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.push(Line::from(vec![
            Span::raw(marker(selected)),
            Span::styled(format!("{:<label_w$}", fit(&c.short, label_w)), label_style),
            Span::raw(" "),
            plot,
        ]));
    }
    // The shared axis.
    let col = |x: f64| -> usize {
        (((x - lo) / (hi - lo)) * (plot_w - 1) as f64)
            .round()
            .clamp(0.0, (plot_w - 1) as f64) as usize
    };
    let mut marks = vec!['─'; plot_w];
    let mut values = vec![' '; plot_w + 6];
    let ts = ticks(lo, hi, (plot_w / 12).max(2));
    let decimals = if ts.len() > 1 && ts[1] - ts[0] < 0.01 {
        3
    } else {
        2
    };
    for x in &ts {
        let c = col(*x);
        marks[c] = '┴';
        let text = format!("{x:.decimals$}");
        let start = c.saturating_sub(text.len() / 2);
        let end = start + text.len();
        if end <= values.len() && values[start..end].iter().all(|ch| *ch == ' ') {
            for (k, ch) in text.chars().enumerate() {
                values[start + k] = ch;
            }
        }
    }
    let indent = " ".repeat(label_w + 3);
    lines.push(Line::styled(
        format!("{indent}{}", marks.into_iter().collect::<String>()),
        t.dim(),
    ));
    lines.push(Line::styled(
        format!(
            "{indent}{}",
            values.into_iter().collect::<String>().trim_end()
        ),
        t.dim(),
    ));
    f.render_widget(Paragraph::new(lines), inner);
}

/// n / median / IQR per cell and the comparison with the first cell.
fn draw_table(f: &mut Frame, area: Rect, t: &Theme, g: &StudyGroup, v: &StudyView) {
    // The inner width less the fixed columns and the gaps.
    let label_room = (area.width as usize).saturating_sub(2 + 2 + 9 + 6 + 6 + 24 + 5);
    let header = Row::new(
        ["", "cell", "done", "median", "IQR", "Δ median [95% CI]"]
            .into_iter()
            .map(|h| Cell::from(Span::styled(h, t.bold()))),
    );
    let rows: Vec<Row> = g
        .cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let r = &c.result;
            let sm = r.summary.get(&g.scorer);
            let done = if r.running > 0 {
                format!("{}/{} ▶{}", r.done, r.total, r.running)
            } else {
                format!("{}/{}", r.done, r.total)
            };
            let (cmp, style) = match (&r.comparison, i) {
                (_, 0) => (s::STUDY_FIRST_CELL.to_string(), t.dim()),
                (Some(cm), _) => (
                    format!("{:+.3} [{:+.3}, {:+.3}]", cm.median_diff, cm.low, cm.high),
                    if cm.low > 0.0 {
                        t.ok()
                    } else if cm.high < 0.0 {
                        t.error()
                    } else {
                        Default::default()
                    },
                ),
                (None, _) => ("–".into(), t.dim()),
            };
            Row::new(vec![
                Cell::from(marker(i == v.cursor)),
                Cell::from(Span::styled(fit(&c.label, label_room), t.series(i))),
                Cell::from(done),
                Cell::from(s::auc(sm.map(|x| x.median))),
                Cell::from(s::auc(sm.filter(|x| x.n > 1).map(|x| x.q3 - x.q1))),
                Cell::from(Span::styled(cmp, style)),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(2),
        Constraint::Fill(1),
        Constraint::Length(9),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(24),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .block(block(format!(" {} ", s::STUDY_TABLE), t))
        .row_highlight_style(if v.list.is_none() {
            t.selected()
        } else {
            t.bold()
        })
        .column_spacing(1);
    let mut state = TableState::default().with_selected(Some(v.cursor));
    f.render_stateful_widget(table, area, &mut state);
}

/// The selected cell's runs (Enter selects one, Enter again opens it).
fn draw_runs(
    f: &mut Frame,
    area: Rect,
    t: &Theme,
    runs: &RunsState,
    g: &StudyGroup,
    v: &StudyView,
) {
    let Some(c) = g.cells.get(v.cursor) else {
        return;
    };
    let title = format!(" {} cell {}: {} ", s::STUDY_RUNS, v.cursor + 1, c.label);
    let room = area.width.saturating_sub(2) as usize;
    let b = if v.list.is_none() {
        block(
            fit_line(
                Line::from(vec![
                    Span::styled(title, t.title()),
                    Span::styled(format!("· {} ", s::STUDY_RUNS_HINT), t.dim()),
                ]),
                room,
            ),
            t,
        )
    } else {
        block(fit(&title, room), t)
    };
    let id_room = room.saturating_sub(2 + 9 + 16 + 7 + 6 + 5);
    let rows: Vec<Row> = c
        .rows
        .iter()
        .enumerate()
        .filter_map(|(i, &ri)| runs.rows.get(ri).map(|r| (i, r)))
        .map(|(i, r)| {
            let auc = r
                .auc
                .get(&g.scorer)
                .map(|a| a.text())
                .unwrap_or_else(|| "–".into());
            Row::new(vec![
                Cell::from(marker(v.list == Some(i))),
                Cell::from(r.seed.to_string()),
                Cell::from(Span::styled(r.status_text(), t.status(&r.status))),
                Cell::from(auc),
                Cell::from(s::duration(r.duration as f64)),
                Cell::from(Span::styled(fit_start(&r.id, id_room), t.dim())),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(2),
        Constraint::Length(9),
        Constraint::Length(16),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Fill(1),
    ];
    let header = Row::new(
        ["", s::SEED_LABEL, "status", "AUC", "took", "run"]
            .into_iter()
            .map(|h| Cell::from(Span::styled(h, t.bold()))),
    );
    let table = Table::new(rows, widths)
        .header(header)
        .block(b)
        .row_highlight_style(t.selected())
        .column_spacing(1);
    let mut state = TableState::default().with_selected(v.list);
    f.render_stateful_widget(table, area, &mut state);
}
