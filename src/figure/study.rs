//! `adalab study plot` (and `E` on the lab's Study view): the study's figure, one boxplot per
//! cell on a shared AUC axis with every seed's point over its box, axis labels and a title.

use std::path::Path;

use anyhow::{anyhow, bail};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::store::studies::{CellResults, Study};

/// Fewest paired seeds for a meaningful spread (the study report's caution uses the same).
pub const MEANINGFUL_PAIRS: usize = 5;

/// Writes the figure to `path` (`.svg` or `.png`).
pub fn write(path: &Path, study: &Study, results: &[CellResults]) -> anyhow::Result<()> {
    if results
        .iter()
        .all(|c| !c.values.contains_key(&study.scorer))
    {
        bail!(
            "study {} has no finished runs to plot yet (run `adalab study run {}`)",
            study.name,
            study.name
        );
    }
    super::write(path, &Boxplots { study, results })
}

struct Boxplots<'a> {
    study: &'a Study,
    results: &'a [CellResults],
}

impl super::Figure for Boxplots<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        draw(root, self.study, self.results)
    }
}

/// A cell label that fits `width` pixels: at 15 px if it can, else at 13 or 11, else cut with
/// `…` at 11.
fn fit_label<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: &str,
    width: u32,
) -> (String, u32) {
    let wide = |t: &str, size: u32| {
        root.estimate_text_size(t, &TextStyle::from(("sans-serif", size).into_font()))
            .map_or(0, |(w, _)| w)
    };
    for size in [15, 13, 11] {
        if wide(text, size) <= width {
            return (text.to_string(), size);
        }
    }
    let chars: Vec<char> = text.chars().collect();
    for keep in (1..chars.len()).rev() {
        let cut: String = chars[..keep].iter().collect::<String>() + "…";
        if wide(&cut, 11) <= width {
            return (cut, 11);
        }
    }
    ("…".to_string(), 11)
}

/// Quartiles (linear interpolation, as the table's) of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    crate::score::stats::quantile_sorted(sorted, q)
}

/// A deterministic spread of a cell's points across its box.
fn jitter(i: usize, n: usize) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    // Golden-ratio sequence in [-0.18, 0.18].
    let f = (i as f64 * 0.618_033_988_75).fract();
    (f - 0.5) * 0.36
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    study: &Study,
    results: &[CellResults],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |x: plotters::drawing::DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{x:?}");
    root.fill(&WHITE).map_err(e)?;
    let k = study.scorer;
    let all: Vec<f64> = results
        .iter()
        .filter_map(|c| c.values.get(&k))
        .flatten()
        .map(|p| p.1)
        .collect();
    let (lo, hi) = all
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    let pad = ((hi - lo) * 0.08).max(0.005);
    let (lo, hi) = (lo - pad, hi + pad);
    let n = results.len();
    let fewest = results
        .iter()
        .map(|c| c.values.get(&k).map_or(0, Vec::len))
        .min()
        .unwrap_or(0);
    let title = if fewest < MEANINGFUL_PAIRS {
        format!(
            "{}: ROC AUC ({k}), {fewest} seed{} per cell — too few for a meaningful spread",
            study.title(),
            if fewest == 1 { "" } else { "s" }
        )
    } else {
        format!(
            "{}: ROC AUC ({k}) over {} seeds per cell",
            study.title(),
            study.seeds
        )
    };
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(64)
        .y_label_area_size(72)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), lo..hi)
        .map_err(e)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc(format!("ROC AUC ({k})"))
        .x_desc(
            "box: quartiles and median · whiskers: furthest seeds within 1.5 IQR · points: seeds",
        )
        .y_label_formatter(&|v| format!("{v:.3}"))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()
        .map_err(e)?;
    let palette = super::PALETTE;
    let cell_px =
        (chart.backend_coord(&(1.0, lo)).0 - chart.backend_coord(&(0.0, lo)).0).max(0) as u32;
    for (i, c) in results.iter().enumerate() {
        let x = i as f64;
        let colour = palette[i % palette.len()];
        // The cell's label under its box: its name (smaller, then shortened with `…`, when it
        // is wider than the cell) over `n = …`, so neighbours never overlap.
        let (px, py) = chart.backend_coord(&(x, lo));
        let n_seeds = c.values.get(&k).map_or(0, Vec::len);
        let (name, size) = fit_label(root, &c.short, cell_px.saturating_sub(8).max(12));
        let centred = |size: u32| {
            ("sans-serif", size).into_font().color(&BLACK).pos(
                plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Top,
                ),
            )
        };
        root.draw(&Text::new(name, (px, py + 8), centred(size)))
            .map_err(e)?;
        root.draw(&Text::new(
            format!("n = {n_seeds}"),
            (px, py + 12 + size as i32),
            centred(13),
        ))
        .map_err(e)?;
        let Some(points) = c.values.get(&k) else {
            continue;
        };
        let mut v: Vec<f64> = points.iter().map(|p| p.1).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        let (q1, med, q3) = (quantile(&v, 0.25), quantile(&v, 0.5), quantile(&v, 0.75));
        let iqr = q3 - q1;
        // Whiskers reach the furthest points within 1.5 IQR of the box.
        let wlo = v
            .iter()
            .copied()
            .find(|x| *x >= q1 - 1.5 * iqr)
            .unwrap_or(q1);
        let whi = v
            .iter()
            .rev()
            .copied()
            .find(|x| *x <= q3 + 1.5 * iqr)
            .unwrap_or(q3);
        let w = 0.28;
        let line = ShapeStyle::from(&BLACK).stroke_width(2);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x - w, q1), (x + w, q3)],
                colour.mix(0.25).filled(),
            )))
            .map_err(e)?;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x - w, q1), (x + w, q3)],
                colour.stroke_width(2),
            )))
            .map_err(e)?;
        let segments = [
            vec![(x - w, med), (x + w, med)],
            vec![(x, q3), (x, whi)],
            vec![(x, q1), (x, wlo)],
            vec![(x - w / 2.0, whi), (x + w / 2.0, whi)],
            vec![(x - w / 2.0, wlo), (x + w / 2.0, wlo)],
        ];
        chart
            .draw_series(segments.into_iter().map(|s| PathElement::new(s, line)))
            .map_err(e)?;
        // Every seed's point, spread across the box.
        chart
            .draw_series(points.iter().enumerate().map(|(j, (_, y))| {
                Circle::new((x + jitter(j, points.len()), *y), 4, colour.filled())
            }))
            .map_err(e)?;
    }
    Ok(())
}
