//! One file per screen; each draws from the [`super::app::App`] it is given and never changes it.

pub mod compare;
pub mod detail;
pub mod help;
pub mod runs;
pub mod setup;
pub mod train;

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, LegendPosition, Paragraph};
use ratatui::Frame;

use super::theme::Theme;
use super::ui::{block, bounds, num};

/// One line of a chart.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
}

/// A line chart with labelled axes; `y` bounds are fitted unless given. Shows `empty` instead
/// when there is nothing to draw.
pub fn line_chart(
    f: &mut Frame,
    area: Rect,
    title: &str,
    series: &[Series],
    x: Option<[f64; 2]>,
    y: Option<[f64; 2]>,
    theme: &Theme,
    empty: &str,
) {
    let b = block(format!(" {title} "), theme);
    // A diverged run can log NaN/inf losses: draw only the finite points.
    let finite: Vec<Series> = series
        .iter()
        .map(|s| Series {
            name: s.name.clone(),
            points: s
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect(),
            style: s.style,
        })
        .collect();
    let series = finite.as_slice();
    if series.iter().all(|s| s.points.is_empty()) {
        f.render_widget(
            Paragraph::new(Span::styled(empty.to_string(), theme.dim())).block(b),
            area,
        );
        return;
    }
    let xb = x.unwrap_or_else(|| {
        let xs = || series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
        let lo = xs().fold(f64::INFINITY, f64::min);
        let hi = xs().fold(f64::NEG_INFINITY, f64::max);
        [lo, hi.max(lo + 1.0)]
    });
    let yb = y.unwrap_or_else(|| bounds(series.iter().flat_map(|s| s.points.iter().map(|p| p.1))));
    let datasets: Vec<Dataset> = series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Dataset::default()
                .name(s.name.clone())
                .marker(series_marker(theme, i))
                .graph_type(if s.points.len() == 1 {
                    GraphType::Scatter
                } else {
                    GraphType::Line
                })
                .style(s.style)
                .data(&s.points)
        })
        .collect();
    let show_legend = series.len() > 1;
    let chart = Chart::new(datasets)
        .block(b)
        .x_axis(
            Axis::default()
                .bounds(xb)
                .style(theme.dim())
                .labels(vec![Line::raw(num(xb[0])), Line::raw(num(xb[1]))]),
        )
        .y_axis(
            Axis::default()
                .bounds(yb)
                .style(theme.dim())
                .labels(vec![Line::raw(num(yb[0])), Line::raw(num(yb[1]))]),
        )
        .legend_position(show_legend.then_some(LegendPosition::BottomRight))
        .hidden_legend_constraints((
            ratatui::layout::Constraint::Percentage(100),
            ratatui::layout::Constraint::Percentage(100),
        ));
    f.render_widget(chart, area);
}

/// The marker of the i-th series: the chosen one, and without colour a different one per
/// series so overlaid lines stay apart.
fn series_marker(theme: &Theme, i: usize) -> Marker {
    if theme.color || i == 0 {
        return theme.markers.marker();
    }
    const OTHERS: [Marker; 3] = [Marker::Dot, Marker::HalfBlock, Marker::Braille];
    let own = theme.markers.marker();
    let rest: Vec<Marker> = OTHERS.into_iter().filter(|m| *m != own).collect();
    rest[(i - 1) % rest.len()]
}
