//! The one chart renderer of the lab: series over x with their axes labelled at both ends, the
//! legend where it hides no data, and without colour a glyph of its own for every series (its
//! legend entry starts with it). Detail's charts and ROC, the Train screen's live curves and
//! Compare's AUC histories all draw through [`draw`]. Imports no screen, popup or app state.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, LegendPosition, Paragraph};
use ratatui::Frame;

use super::text::{fit_line, width as width_of, wrap_lines};
use super::theme::Theme;
use super::widgets::{block, bounds, fit, num};

/// One line (or, when faint, a scatter of points) of a chart.
pub struct Series {
    /// Its legend entry (without the glyph: the renderer adds it when there is no colour).
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
    /// Which glyph it is drawn with without colour: series that share one are one thing
    /// (Compare's seeds of a run × scorer).
    pub glyph: usize,
    /// Drawn faint, under the others, as points (raw values under their smoothed line).
    pub faint: bool,
}

impl Series {
    /// A line drawn with the `glyph`-th glyph.
    pub fn line(
        name: impl Into<String>,
        points: Vec<(f64, f64)>,
        style: Style,
        glyph: usize,
    ) -> Self {
        Series {
            name: name.into(),
            points,
            style,
            glyph,
            faint: false,
        }
    }
}

/// Where a chart's legend goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Legend {
    /// With several series: in the plot's corner with no data, or else on the bottom border
    /// when it fits there whole, or else in the corner with the least data.
    Free,
    /// Always on the bottom border, out of the data's way (cut with `…` when too long).
    Border,
    /// None: the view lists the series beside the chart.
    Off,
}

/// What a chart shows.
pub struct LineChart<'a> {
    /// On the top border (shortened with `…` to fit).
    pub title: &'a str,
    pub series: &'a [Series],
    /// Axis bounds; fitted to the data when not given.
    pub x: Option<[f64; 2]>,
    pub y: Option<[f64; 2]>,
    pub legend: Legend,
    /// Shown instead when no series has a point to draw.
    pub empty: &'a str,
}

/// Draws `c` in `area`, framed. Non-finite points (a diverged run's losses) are skipped.
pub fn draw(f: &mut Frame, area: Rect, t: &Theme, c: &LineChart<'_>) {
    let room = area.width.saturating_sub(2) as usize;
    let b = block(fit(&format!(" {} ", c.title), room), t);
    let finite: Vec<Vec<(f64, f64)>> = c
        .series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect()
        })
        .collect();
    if finite.iter().all(Vec::is_empty) {
        f.render_widget(
            Paragraph::new(wrap_lines(
                [Line::styled(c.empty.to_string(), t.dim())],
                room,
            ))
            .block(b),
            area,
        );
        return;
    }
    let xb = c.x.unwrap_or_else(|| {
        let xs = || finite.iter().flatten().map(|p| p.0);
        let lo = xs().fold(f64::INFINITY, f64::min);
        let hi = xs().fold(f64::NEG_INFINITY, f64::max);
        [lo, hi.max(lo + 1.0)]
    });
    let yb =
        c.y.unwrap_or_else(|| bounds(finite.iter().flatten().map(|p| p.1)));
    let names: Vec<String> = c.series.iter().map(|s| legend_name(t, s)).collect();
    // Faint series first, so the others are drawn over them.
    let mut order: Vec<usize> = (0..c.series.len()).collect();
    order.sort_by_key(|&i| !c.series[i].faint);
    let chart = |b: Block<'static>, legend: bool| {
        let datasets: Vec<Dataset> = order
            .iter()
            .map(|&i| {
                let s = &c.series[i];
                let d = Dataset::default()
                    .marker(series_marker(t, s.glyph))
                    .graph_type(if s.faint || finite[i].len() == 1 {
                        GraphType::Scatter
                    } else {
                        GraphType::Line
                    })
                    .style(s.style)
                    .data(&finite[i]);
                if legend {
                    d.name(names[i].clone())
                } else {
                    d
                }
            })
            .collect();
        Chart::new(datasets)
            .block(b)
            .x_axis(
                Axis::default()
                    .bounds(xb)
                    .style(t.dim())
                    .labels(vec![Line::raw(num(xb[0])), Line::raw(num(xb[1]))]),
            )
            .y_axis(
                Axis::default()
                    .bounds(yb)
                    .style(t.dim())
                    .labels(vec![Line::raw(num(yb[0])), Line::raw(num(yb[1]))]),
            )
            .hidden_legend_constraints((
                ratatui::layout::Constraint::Percentage(100),
                ratatui::layout::Constraint::Percentage(100),
            ))
    };
    let border_legend = {
        let mut spans: Vec<Span> = vec![Span::raw(" ")];
        for (s, name) in c.series.iter().zip(&names) {
            spans.push(Span::styled(name.clone(), s.style));
            spans.push(Span::raw(" "));
        }
        Line::from(spans)
    };
    match c.legend {
        Legend::Off => f.render_widget(chart(b, false).legend_position(None), area),
        Legend::Border => {
            let legend = fit_line(border_legend, room.saturating_sub(1)).right_aligned();
            f.render_widget(
                chart(b.title_bottom(legend), false).legend_position(None),
                area,
            );
        }
        Legend::Free if c.series.len() < 2 => {
            f.render_widget(chart(b, false).legend_position(None), area)
        }
        Legend::Free => {
            let legend_w = names.iter().map(|n| width_of(n)).max().unwrap_or(0) as u16 + 2;
            let legend_h = c.series.len() as u16 + 2;
            let y_label_w = [num(yb[0]), num(yb[1])]
                .iter()
                .map(|l| width_of(l))
                .max()
                .unwrap_or(0)
                .max(width_of(&num(xb[0])).saturating_sub(1)) as u16;
            let (corner, covered) =
                legend_corner(chart(b.clone(), false), area, y_label_w, legend_w, legend_h);
            if covered > 0 && border_legend.width() + 2 <= area.width as usize {
                let b = b.title_bottom(border_legend.right_aligned());
                f.render_widget(chart(b, false).legend_position(None), area);
            } else {
                f.render_widget(chart(b, true).legend_position(Some(corner)), area);
            }
        }
    }
}

/// A series' legend entry: without colour it starts with the glyph its curve is drawn with.
fn legend_name(t: &Theme, s: &Series) -> String {
    if t.color {
        s.name.clone()
    } else {
        format!("{} {}", marker_glyph(series_marker(t, s.glyph)), s.name)
    }
}

/// Legend corners inside the plot, in the order they are preferred when as free.
const CORNERS: [LegendPosition; 4] = [
    LegendPosition::BottomRight,
    LegendPosition::TopRight,
    LegendPosition::TopLeft,
    LegendPosition::BottomLeft,
];

/// The corner of `chart`'s plot (drawn in `area` without a legend) where a legend of `w`×`h`
/// cells covers the fewest drawn cells, and how many it covers there.
fn legend_corner(
    chart: Chart<'_>,
    area: Rect,
    y_label_w: u16,
    w: u16,
    h: u16,
) -> (LegendPosition, usize) {
    let mut scratch = ratatui::buffer::Buffer::empty(area);
    ratatui::widgets::Widget::render(chart, area, &mut scratch);
    // The plot: right of the y labels and axis, above the x axis and its labels.
    let inner = Rect::new(
        area.x + 1,
        area.y + 1,
        area.width.saturating_sub(2),
        area.height.saturating_sub(2),
    );
    let left = inner.x + y_label_w.min(inner.width / 3) + 1;
    let right = inner.right();
    let top = inner.y;
    let bottom = inner.bottom().saturating_sub(2);
    // A legend taller or wider than a small plot is counted over the part inside it.
    let covered = |x0: u16, y0: u16| -> usize {
        let mut n = 0;
        for y in y0.max(top)..(y0 + h).min(bottom) {
            for x in x0.max(inner.x)..(x0 + w).min(right) {
                if scratch[(x, y)].symbol() != " " {
                    n += 1;
                }
            }
        }
        n
    };
    CORNERS
        .iter()
        .map(|&c| {
            let x0 = match c {
                LegendPosition::TopLeft | LegendPosition::BottomLeft => left,
                _ => right.saturating_sub(w),
            };
            let y0 = match c {
                LegendPosition::TopLeft | LegendPosition::TopRight => top,
                _ => bottom.saturating_sub(h),
            };
            (c, covered(x0, y0))
        })
        .min_by_key(|(_, n)| *n)
        .unwrap_or((LegendPosition::BottomRight, 0))
}

/// Glyphs of the series after the first without colour: one of its own for each.
const OWN_GLYPHS: [char; 12] = ['•', '+', '×', '○', '◆', '▲', '■', '*', '#', '◇', '△', '□'];

/// The marker of the i-th series: the chosen one in colour (the colours tell series apart);
/// without colour the chosen one for the first and a glyph of its own for each other, so
/// overlaid lines stay apart.
pub fn series_marker(theme: &Theme, i: usize) -> Marker {
    let own = theme.markers.marker();
    if theme.color || i == 0 {
        return own;
    }
    let glyphs: Vec<char> = OWN_GLYPHS
        .into_iter()
        .filter(|c| !(own == Marker::Dot && *c == '•'))
        .collect();
    Marker::Custom(glyphs[(i - 1) % glyphs.len()])
}

/// The glyph a marker draws, for legends and series lists.
pub fn marker_glyph(m: Marker) -> String {
    match m {
        Marker::Braille => "⣿".into(),
        Marker::HalfBlock => "▀".into(),
        Marker::Dot => "•".into(),
        Marker::Block => "█".into(),
        Marker::Bar => "▄".into(),
        Marker::Custom(c) => c.to_string(),
        _ => "▪".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::theme::Markers;

    fn plain(markers: Markers) -> Theme {
        Theme {
            color: false,
            markers,
        }
    }

    #[test]
    fn without_colour_every_series_has_its_own_glyph() {
        for m in [Markers::Braille, Markers::Block, Markers::Dot] {
            let t = plain(m);
            let glyphs: Vec<String> = (0..10)
                .map(|i| marker_glyph(series_marker(&t, i)))
                .collect();
            let mut unique = glyphs.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), glyphs.len(), "{m:?}: {glyphs:?}");
        }
        // In colour the colours tell them apart: one marker.
        let t = Theme::default();
        assert_eq!(series_marker(&t, 0), series_marker(&t, 3));
    }

    #[test]
    fn the_legend_goes_to_the_corner_without_data() {
        let t = plain(Markers::Braille);
        // Rising AUC: the data runs from the bottom left to the top right.
        let rising: Vec<(f64, f64)> = (0..20).map(|i| (i as f64, i as f64 / 19.0)).collect();
        let chart = |points: &'static [(f64, f64)], kind: GraphType| {
            Chart::new(vec![Dataset::default()
                .marker(Marker::Braille)
                .graph_type(kind)
                .data(points)])
            .block(block("", &t))
            .x_axis(Axis::default().bounds([0.0, 19.0]).labels(vec!["0", "19"]))
            .y_axis(Axis::default().bounds([0.0, 1.0]).labels(vec!["0", "1"]))
        };
        let rising: &'static [(f64, f64)] = rising.leak();
        let area = Rect::new(0, 0, 40, 14);
        let (corner, covered) = legend_corner(chart(rising, GraphType::Line), area, 1, 12, 4);
        assert_eq!(covered, 0);
        assert!(
            matches!(
                corner,
                LegendPosition::TopLeft | LegendPosition::BottomRight
            ),
            "{corner:?}"
        );
        // Data in every corner: the fewest covered, and some.
        let everywhere: Vec<(f64, f64)> = (0..400)
            .map(|i| ((i % 20) as f64, (i / 20) as f64 / 19.0))
            .collect();
        let everywhere: &'static [(f64, f64)] = everywhere.leak();
        let (_, covered) = legend_corner(chart(everywhere, GraphType::Scatter), area, 1, 12, 4);
        assert!(covered > 0);
        // A legend taller and wider than a small plot away from the screen's corner (a
        // status of several lines leaves a chart 6 rows): counted inside the plot only, no
        // cell outside the chart's area is looked at.
        let small = Rect::new(40, 11, 40, 6);
        let (_, covered) = legend_corner(chart(everywhere, GraphType::Scatter), small, 1, 50, 8);
        assert!(covered > 0);
    }
}
