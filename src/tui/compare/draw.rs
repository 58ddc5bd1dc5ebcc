//! Compare: marked runs side by side — the config keys that differ (`–` where a key does not
//! apply to a run), final metrics with deltas against the chosen baseline, and the AUC
//! history of every seed of every run × scorer overlaid, each series shown or hidden from the
//! list beside the chart (which doubles as its legend: colour and the curve's glyph).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::super::chart::{self, marker_glyph, series_marker, Legend, LineChart, Series};
use super::super::strings as s;
use super::super::text::{fit, fit_line};
use super::super::theme::Theme;
use super::super::widgets::{block, marker};
use super::Compare;

const KEY_W: u16 = 22;
/// Width of the series list beside the chart.
const LIST_W: u16 = 30;

/// `#2 20261129T220000Z-bbbb (baseline)`, fitted to `w`: the id is cut from the front first
/// (its end, the random suffix, tells runs apart).
fn run_label(c: &Compare, i: usize, w: usize) -> String {
    let base = if i == c.baseline {
        format!(" ({})", s::COMPARE_BASELINE)
    } else {
        String::new()
    };
    let num = format!("#{} ", i + 1);
    let id = &c.runs[i].record.id;
    let room = w.saturating_sub(num.chars().count() + base.chars().count());
    let n = id.chars().count();
    let shown: String = if n <= room {
        id.clone()
    } else if room >= 3 {
        let tail: String = id.chars().skip(n - (room - 1)).collect();
        format!("…{tail}")
    } else {
        String::new()
    };
    fit(&format!("{num}{shown}{base}"), w)
}

pub fn draw(f: &mut Frame, area: Rect, t: &Theme, c: &Compare) {
    let n = c.runs.len();
    let scorers = c.scorers();
    // The chart keeps at least 9 rows: first the AP rows go, then the key list scrolls.
    let h = area.height;
    let chart_min = 9.min(h / 2);
    let ns = scorers.len() as u16;
    let mut diff_h = (c.diff.len().max(1) as u16 + 3).min(h / 3).max(4);
    let mut show_ap = true;
    let mut metric_h = 2 * ns + 4;
    if diff_h + metric_h + chart_min > h {
        show_ap = false;
        metric_h = ns + 4;
    }
    if diff_h + metric_h + chart_min > h {
        diff_h = h.saturating_sub(metric_h + chart_min).max(4);
    }
    let [diff_area, metric_area, chart_area] = Layout::vertical([
        Constraint::Length(diff_h),
        Constraint::Length(metric_h),
        Constraint::Min(6),
    ])
    .areas(area);

    // What a run's column gets: the table's inner width less the key column and the gaps.
    let col_w = (area.width.saturating_sub(KEY_W + 2 + n as u16) / n.max(1) as u16).max(6) as usize;
    let mut widths = vec![Constraint::Length(KEY_W)];
    widths.extend((0..n).map(|_| Constraint::Fill(1)));
    let header = {
        let mut cells = vec![Cell::from("")];
        cells.extend((0..n).map(|i| {
            let mut style = t.bold();
            if i == c.focus {
                style = style.add_modifier(Modifier::REVERSED);
            }
            Cell::from(Span::styled(run_label(c, i, col_w), style))
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
                let mut cells = vec![Cell::from(Span::styled(fit(k, KEY_W as usize), t.dim()))];
                cells.extend(vals.iter().enumerate().map(|(i, v)| {
                    let style = if i != c.baseline && *v != vals[c.baseline] {
                        t.warn()
                    } else {
                        Style::default()
                    };
                    Cell::from(Span::styled(fit(v, col_w), style))
                }));
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

    // Final metrics with deltas against the baseline.
    let base = c.baseline.min(n.saturating_sub(1));
    let mut rows: Vec<Row> = Vec::new();
    for k in &scorers {
        for (label, pick) in [("AUC", 0usize), ("AP", 1usize)] {
            if pick == 1 && !show_ap {
                continue;
            }
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
            let mut cells = vec![Cell::from(Span::styled(
                fit(&format!("{label} {k}"), KEY_W as usize),
                t.dim(),
            ))];
            for (i, v) in vals.iter().enumerate() {
                let text = match (v, vals[base]) {
                    (Some(x), Some(b)) if i != base => format!("{x:.3} ({:+.3})", x - b),
                    _ => s::auc(*v),
                };
                let style = match (v, vals[base]) {
                    (Some(x), Some(b)) if i != base && *x > b => t.ok(),
                    (Some(x), Some(b)) if i != base && *x < b => t.error(),
                    _ => Default::default(),
                };
                cells.push(Cell::from(Span::styled(fit(&text, col_w), style)));
            }
            rows.push(Row::new(cells));
        }
    }
    let mut cells = vec![Cell::from(Span::styled("epochs · seeds · took", t.dim()))];
    cells.extend(c.runs.iter().map(|r| {
        Cell::from(fit(
            &format!(
                "{} · ×{} · {}",
                r.record.epochs_done(),
                r.record.seeds.len(),
                s::duration(r.record.duration_secs() as f64)
            ),
            col_w,
        ))
    }));
    rows.push(Row::new(cells));
    let metrics_title = fit(
        &format!(" {} #{} ", s::COMPARE_METRICS, base + 1),
        area.width.saturating_sub(2) as usize,
    );
    f.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(block(metrics_title, t))
            .column_spacing(1),
        metric_area,
    );

    // The AUC histories, every seed of every shown series, and the series list.
    let [chart_area, list_area] =
        Layout::horizontal([Constraint::Min(20), Constraint::Length(LIST_W)]).areas(chart_area);
    series_list(f, list_area, t, c);
    // The metric `v` picked: AUC per run × scorer, or loss, accuracy, s per run; one line per
    // seed, a series' seeds share its colour and glyph (the list is the legend).
    let data: Vec<Series> = super::overlay::curves(c)
        .into_iter()
        .map(|(gi, pts)| Series::line(String::new(), pts, t.series(gi), gi))
        .collect();
    let empty = if c.series.iter().all(|k| !c.is_shown(*k)) {
        s::COMPARE_ALL_HIDDEN
    } else if c.overlay.per_scorer() {
        s::NO_AUC_YET
    } else {
        s::NO_EPOCHS_TO_OVERLAY
    };
    let title = c.overlay.title();
    let y = c
        .overlay
        .unit()
        .then(|| {
            let (lo, hi) = data
                .iter()
                .flat_map(|d| d.points.iter().map(|p| p.1))
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                    (a.min(v), b.max(v))
                });
            let pad = ((hi - lo) * 0.05).max(0.005);
            [(lo - pad).max(0.0), (hi + pad).min(1.0)]
        })
        .filter(|[a, b]| a < b);
    let history = LineChart {
        title: &title,
        series: &data,
        x: None,
        y,
        legend: Legend::Off,
        empty,
    };
    chart::draw(f, chart_area, t, &history);
}

/// The series (run × scorer) with their glyph, colour and whether they are shown.
fn series_list(f: &mut Frame, area: Rect, t: &Theme, c: &Compare) {
    let b = block(format!(" {} ", s::COMPARE_SERIES), t);
    let inner_h = area.height.saturating_sub(2) as usize;
    // Keep the cursor in sight.
    let skip = c.cursor.saturating_sub(inner_h.saturating_sub(1));
    let lines: Vec<Line> = c
        .series
        .iter()
        .enumerate()
        .skip(skip)
        .map(|(i, key)| {
            let shown = c.is_shown(*key);
            let seeds = c.runs[key.run].record.seeds.len();
            let text = format!(
                "{}[{}] {} #{} {}{}",
                marker(i == c.cursor),
                if shown { "x" } else { " " },
                marker_glyph(series_marker(t, i)),
                key.run + 1,
                key.scorer,
                if seeds > 1 {
                    format!(" ×{seeds}")
                } else {
                    String::new()
                }
            );
            let mut style = if shown { t.series(i) } else { t.dim() };
            if i == c.cursor {
                style = style.add_modifier(Modifier::REVERSED);
            }
            fit_line(
                Line::styled(text, style),
                area.width.saturating_sub(2) as usize,
            )
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(b), area);
}
