//! The Train screen's chart of dynamic AdaCos's scale s: the value the head adapted to at the
//! end of each epoch, on the screen's shared epoch axis (other heads keep a fixed s, told in
//! the summary line instead).

use ratatui::layout::Rect;
use ratatui::Frame;

use crate::config::HeadKind;

use super::super::chart::{self, Legend, LineChart, Series};
use super::super::strings as s;
use super::super::text::label_value;
use super::super::theme::Theme;
use super::live::Live;

/// Whether the run's s changes while it trains (a chart is worth its room).
pub fn charted(live: &Live) -> bool {
    live.config.head.kind == HeadKind::AdacosDynamic
}

/// (epoch, s) of the current seed's finished epochs.
pub fn points(live: &Live) -> Vec<(f64, f64)> {
    live.epochs()
        .iter()
        .map(|m| (m.epoch as f64, m.scale as f64))
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect()
}

/// Draws the chart titled `AdaCos s 6.028` (the value now, never cut) on the epoch axis `x`.
pub fn draw(f: &mut Frame, area: Rect, t: &Theme, live: &Live, x: [f64; 2]) {
    let pts = points(live);
    let now = pts.last().map(|p| format!("{:.3}", p.1));
    let room = area.width.saturating_sub(4) as usize;
    let title = match now {
        Some(v) => label_value(s::CHART_SCALE_DYNAMIC, &v, room),
        None => super::super::text::fit(s::CHART_SCALE_DYNAMIC, room),
    };
    let series = [Series::line(s::CHART_SCALE_DYNAMIC, pts, t.series(1), 1)];
    let c = LineChart {
        title: &title,
        series: &series,
        x: Some(x),
        y: None,
        legend: Legend::Border,
        empty: s::NO_SCALE_YET,
    };
    chart::draw(f, area, t, &c);
}
