//! Compare: marked runs side by side — differing config keys, final metrics with deltas, and
//! their AUC histories overlaid (one colour per run).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::super::app::App;
use super::super::runs::Compare;
use super::super::strings as s;
use super::super::widgets::{block, line_chart, Series};

const KEY_W: u16 = 24;

pub fn draw(f: &mut Frame, area: Rect, app: &App, c: &Compare) {
    let t = &app.theme;
    let n = c.runs.len();
    let scorers = c.scorers();
    let diff_h = (c.diff.len().max(1) as u16 + 3).min(area.height / 3).max(4);
    let metric_h = (2 * scorers.len() as u16 + 4).min(area.height / 3).max(4);
    let [diff_area, metric_area, chart_area] = Layout::vertical([
        Constraint::Length(diff_h),
        Constraint::Length(metric_h),
        Constraint::Min(6),
    ])
    .areas(area);

    let mut widths = vec![Constraint::Length(KEY_W)];
    widths.extend((0..n).map(|_| Constraint::Fill(1)));
    let header = {
        let mut cells = vec![Cell::from("")];
        cells.extend(c.runs.iter().enumerate().map(|(i, r)| {
            Cell::from(Span::styled(
                format!("#{} {}", i + 1, r.record.id),
                t.series(i).add_modifier(ratatui::style::Modifier::BOLD),
            ))
        }));
        Row::new(cells)
    };

    // Differing config keys.
    let diff_block = block(format!(" {} ", s::COMPARE_DIFF), t);
    if c.diff.is_empty() {
        f.render_widget(
            Paragraph::new(Line::styled(s::COMPARE_SAME, t.dim())).block(diff_block),
            diff_area,
        );
    } else {
        let rows: Vec<Row> = c
            .diff
            .iter()
            .skip(c.scroll as usize)
            .map(|(k, vals)| {
                let mut cells = vec![Cell::from(Span::styled(k.clone(), t.dim()))];
                cells.extend(vals.iter().map(|v| Cell::from(v.clone())));
                Row::new(cells)
            })
            .collect();
        f.render_widget(
            Table::new(rows, widths.clone())
                .header(header.clone())
                .block(diff_block)
                .column_spacing(1),
            diff_area,
        );
    }

    // Final metrics with deltas against the first run.
    let mut rows: Vec<Row> = Vec::new();
    for k in &scorers {
        for (label, pick) in [("AUC", 0usize), ("AP", 1usize)] {
            let vals: Vec<Option<f64>> = c
                .runs
                .iter()
                .map(|r| {
                    if pick == 0 {
                        r.record.final_auc(*k)
                    } else {
                        r.record.final_ap(*k)
                    }
                })
                .collect();
            let mut cells = vec![Cell::from(Span::styled(format!("{label} {k}"), t.dim()))];
            for (i, v) in vals.iter().enumerate() {
                let text = match (i, v, vals[0]) {
                    (0, _, _) | (_, None, _) | (_, _, None) => s::auc(*v),
                    (_, Some(x), Some(base)) => format!("{x:.3} ({:+.3})", x - base),
                };
                let style = match (i, v, vals[0]) {
                    (i, Some(x), Some(base)) if i > 0 && *x > base => t.ok(),
                    (i, Some(x), Some(base)) if i > 0 && *x < base => t.error(),
                    _ => Default::default(),
                };
                cells.push(Cell::from(Span::styled(text, style)));
            }
            rows.push(Row::new(cells));
        }
    }
    let mut cells = vec![Cell::from(Span::styled("epochs · took", t.dim()))];
    cells.extend(c.runs.iter().map(|r| {
        Cell::from(format!(
            "{} · {}",
            r.record.epochs_done(),
            s::duration(r.record.duration_secs() as f64)
        ))
    }));
    rows.push(Row::new(cells));
    f.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(block(format!(" {} ", s::COMPARE_METRICS), t))
            .column_spacing(1),
        metric_area,
    );

    // AUC histories overlaid.
    let series: Vec<Series> = c
        .runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let k = r.record.config.primary_scorer();
            let points = r
                .record
                .seeds
                .first()
                .map(|sd| {
                    sd.epochs
                        .iter()
                        .filter_map(|m| m.auc.get(&k).map(|v| (m.epoch as f64, *v)))
                        .collect()
                })
                .unwrap_or_default();
            Series {
                name: format!("#{} {k}", i + 1),
                points,
                style: t.series(i),
            }
        })
        .collect();
    line_chart(
        f,
        chart_area,
        s::COMPARE_HISTORY,
        &series,
        None,
        None,
        t,
        s::NO_AUC_YET,
    );
}
