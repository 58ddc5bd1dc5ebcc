//! Drawing helpers shared by the screens and popups: framed blocks, centred popup frames,
//! selection markers, named-list popups, axis bounds and labels, and the one line chart of the lab. Imports no
//! screen, popup or app state, so every view can use it without an import loop.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Chart, Clear, Dataset, GraphType, LegendPosition, List, ListItem,
    ListState, Paragraph,
};
use ratatui::Frame;

use super::keys::Action;
pub use super::text::fit;
use super::text::{fit_line, width as width_of, wrap_lines};
use super::theme::Theme;

/// A bordered block with a title.
pub fn block<'a>(title: impl Into<Line<'a>>, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.dim())
        .title(title.into().style(theme.title()))
}

/// A centred rectangle of at most `w`×`h`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// Clears the popup area and draws its frame; returns the inner area.
pub fn popup_frame(f: &mut Frame, area: Rect, title: &str, theme: &Theme) -> Rect {
    f.render_widget(Clear, area);
    let title = fit(&format!(" {title} "), area.width.saturating_sub(2) as usize);
    let b = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.accent())
        .title(Line::styled(title, theme.title()));
    let inner = b.inner(area);
    f.render_widget(b, area);
    inner
}

/// Moves a list cursor for Up/Down within `len` entries; true when the action was a move.
pub fn step_cursor(cursor: &mut usize, len: usize, a: Action) -> bool {
    match a {
        Action::Up => *cursor = cursor.saturating_sub(1),
        Action::Down => *cursor = (*cursor + 1).min(len.saturating_sub(1)),
        _ => return false,
    }
    true
}

/// A centred popup listing named entries (the name bold and padded to the longest, then the
/// row's own spans) with the cursor's row selected, or `empty` when there are none. Returns the
/// one-line area under the list (for a hint or an error), `None` when the list is empty.
pub fn named_list_popup(
    f: &mut Frame,
    area: Rect,
    title: &str,
    empty: &str,
    rows: Vec<(String, Vec<Span<'static>>)>,
    cursor: usize,
    theme: &Theme,
) -> Option<Rect> {
    let h = (rows.len() as u16 + 4).clamp(6, area.height.saturating_sub(2));
    let inner = popup_frame(f, centered(area, 76, h), title, theme);
    let [list_area, below] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    if rows.is_empty() {
        f.render_widget(
            Paragraph::new(wrap_lines(
                [Line::styled(empty.to_string(), theme.dim())],
                list_area.width as usize,
            )),
            list_area,
        );
        return None;
    }
    let name_w = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(10) + 1;
    let room = list_area.width as usize;
    let items: Vec<ListItem> = rows
        .into_iter()
        .enumerate()
        .map(|(i, (name, rest))| {
            let mut spans = vec![
                Span::raw(marker(i == cursor)),
                Span::styled(format!("{name:<name_w$}"), theme.bold()),
            ];
            spans.extend(rest);
            ListItem::new(fit_line(Line::from(spans), room))
        })
        .collect();
    let mut state = ListState::default().with_selected(Some(cursor));
    f.render_stateful_widget(
        List::new(items).highlight_style(theme.selected()),
        list_area,
        &mut state,
    );
    Some(below)
}

/// `> ` for the selected row, `  ` otherwise (selection visible without colour).
pub fn marker(selected: bool) -> &'static str {
    if selected {
        "> "
    } else {
        "  "
    }
}

/// Style for a selected row.
pub fn row_style(selected: bool, theme: &Theme) -> Style {
    if selected {
        theme.selected()
    } else {
        Style::default()
    }
}

/// Axis bounds with a little headroom; a flat series gets a visible band.
pub fn bounds(values: impl Iterator<Item = f64>) -> [f64; 2] {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return [0.0, 1.0];
    }
    if (hi - lo).abs() < 1e-9 {
        let pad = if lo.abs() > 1e-9 {
            lo.abs() * 0.05
        } else {
            0.5
        };
        return [lo - pad, hi + pad];
    }
    let pad = (hi - lo) * 0.05;
    [lo - pad, hi + pad]
}

/// Compact number for axis labels.
pub fn num(v: f64) -> String {
    let a = v.abs();
    if (v.fract() == 0.0 && a < 1e6) || a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.01 || a == 0.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.1e}")
    }
}

/// One line of a chart.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
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
    let covered = |x0: u16, y0: u16| -> usize {
        let mut n = 0;
        for y in y0..(y0 + h).min(bottom) {
            for x in x0..(x0 + w).min(right) {
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

/// A line chart with labelled axes; `y` bounds are fitted unless given. With several series
/// the legend goes in the plot's corner with no data, or else on the bottom border when it
/// fits there whole, or else in the corner with the least data. Shows `empty` instead when
/// there is nothing to draw.
#[allow(clippy::too_many_arguments)] // one call shape for every chart of the lab
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
    let b = block(
        fit(&format!(" {title} "), area.width.saturating_sub(2) as usize),
        theme,
    );
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
            Paragraph::new(Span::styled(
                fit(empty, area.width.saturating_sub(2) as usize),
                theme.dim(),
            ))
            .block(b),
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
    let y_labels = [num(yb[0]), num(yb[1])];
    let chart = |b: Block<'static>, legend: bool| {
        let datasets: Vec<Dataset> = series
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let d = Dataset::default()
                    .marker(series_marker(theme, i))
                    .graph_type(if s.points.len() == 1 {
                        GraphType::Scatter
                    } else {
                        GraphType::Line
                    })
                    .style(s.style)
                    .data(&s.points);
                if legend {
                    d.name(s.name.clone())
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
                    .style(theme.dim())
                    .labels(vec![Line::raw(num(xb[0])), Line::raw(num(xb[1]))]),
            )
            .y_axis(
                Axis::default().bounds(yb).style(theme.dim()).labels(
                    y_labels
                        .iter()
                        .map(|l| Line::raw(l.clone()))
                        .collect::<Vec<_>>(),
                ),
            )
            .hidden_legend_constraints((
                ratatui::layout::Constraint::Percentage(100),
                ratatui::layout::Constraint::Percentage(100),
            ))
    };
    if series.len() < 2 {
        f.render_widget(chart(b, false).legend_position(None), area);
        return;
    }
    let legend_w = series.iter().map(|s| width_of(&s.name)).max().unwrap_or(0) as u16 + 2;
    let legend_h = series.len() as u16 + 2;
    let y_label_w = y_labels
        .iter()
        .map(|l| width_of(l))
        .max()
        .unwrap_or(0)
        .max(width_of(&num(xb[0])).saturating_sub(1)) as u16;
    let (corner, covered) =
        legend_corner(chart(b.clone(), false), area, y_label_w, legend_w, legend_h);
    let border_legend = {
        let mut spans: Vec<Span> = vec![Span::raw(" ")];
        for s in series {
            spans.push(Span::styled(s.name.clone(), s.style));
            spans.push(Span::raw(" "));
        }
        Line::from(spans)
    };
    if covered > 0 && border_legend.width() + 2 <= area.width as usize {
        let b = b.title_bottom(border_legend.right_aligned());
        f.render_widget(chart(b, false).legend_position(None), area);
    } else {
        f.render_widget(chart(b, true).legend_position(Some(corner)), area);
    }
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

/// One curve of a [`curve_chart`].
pub struct Curve {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
    /// Drawn faint, under the others, as points (raw values under their smoothed line).
    pub faint: bool,
}

/// The glyph a marker draws, for legends.
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

/// A line chart over a shared x range with its legend on the bottom border (out of the data's
/// way). Without colour every curve gets its own marker and its legend entry starts with that
/// glyph, so the curves stay tellable apart. Shows `empty` when there is nothing to draw.
#[allow(clippy::too_many_arguments)] // one call shape for the Train screen's charts
pub fn curve_chart(
    f: &mut Frame,
    area: Rect,
    title: Line<'_>,
    curves: &[Curve],
    x: [f64; 2],
    y: Option<[f64; 2]>,
    theme: &Theme,
    empty: &str,
) {
    let room = area.width.saturating_sub(2) as usize;
    let mut b = block(fit_line(title, room), theme);
    let finite: Vec<Vec<(f64, f64)>> = curves
        .iter()
        .map(|c| {
            c.points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect()
        })
        .collect();
    if finite.iter().all(Vec::is_empty) {
        f.render_widget(
            Paragraph::new(wrap_lines(
                [Line::styled(empty.to_string(), theme.dim())],
                room,
            ))
            .block(b),
            area,
        );
        return;
    }
    let mut legend: Vec<Span> = vec![Span::raw(" ")];
    for (i, c) in curves.iter().enumerate() {
        let name = if theme.color {
            c.name.clone()
        } else {
            format!("{}{}", marker_glyph(series_marker(theme, i)), c.name)
        };
        legend.push(Span::styled(name, c.style));
        legend.push(Span::raw(" "));
    }
    b = b.title_bottom(fit_line(Line::from(legend), room.saturating_sub(1)).right_aligned());
    let yb = y.unwrap_or_else(|| bounds(finite.iter().flatten().map(|p| p.1)));
    // Faint curves first, so the others are drawn over them.
    let mut order: Vec<usize> = (0..curves.len()).collect();
    order.sort_by_key(|&i| !curves[i].faint);
    let datasets: Vec<Dataset> = order
        .into_iter()
        .map(|i| {
            let c = &curves[i];
            let pts = &finite[i];
            Dataset::default()
                .marker(series_marker(theme, i))
                .graph_type(if c.faint || pts.len() == 1 {
                    GraphType::Scatter
                } else {
                    GraphType::Line
                })
                .style(c.style)
                .data(pts)
        })
        .collect();
    let chart = Chart::new(datasets)
        .block(b)
        .x_axis(
            Axis::default()
                .bounds(x)
                .style(theme.dim())
                .labels(vec![Line::raw(num(x[0])), Line::raw(num(x[1]))]),
        )
        .y_axis(
            Axis::default()
                .bounds(yb)
                .style(theme.dim())
                .labels(vec![Line::raw(num(yb[0])), Line::raw(num(yb[1]))]),
        )
        .legend_position(None);
    f.render_widget(chart, area);
}

/// A legend name for the i-th series of [`line_chart`]: without colour it starts with the
/// glyph its curve is drawn with.
pub fn legend_name(theme: &Theme, i: usize, name: &str) -> String {
    if theme.color {
        name.to_string()
    } else {
        format!("{} {name}", marker_glyph(series_marker(theme, i)))
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
    }
}
