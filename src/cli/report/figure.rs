//! `adalab study plot`: the study's figure, one boxplot per cell on a shared AUC axis with
//! every seed's point over its box, axis labels and a title; SVG or PNG by the file's extension.
//! Drawn with plotters; text in PNGs uses the DejaVu Sans font embedded in the binary.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{anyhow, bail};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::store::studies::{CellResults, Study};

const FONT: &[u8] = include_bytes!("../../../data/fonts/DejaVuSans.ttf");
const SIZE: (u32, u32) = (960, 560);

fn font() -> anyhow::Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        bail!("cannot load the embedded font")
    }
}

/// Writes the figure to `path` (`.svg` or `.png`).
pub fn write(path: &Path, study: &Study, results: &[CellResults]) -> anyhow::Result<()> {
    font()?;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
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
    // Drawn in memory, then written in one atomic step: a failed write leaves no half figure
    // and says why in plain words.
    let bytes = match ext.as_str() {
        "svg" => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
                draw(&root, study, results)?;
                root.present()
                    .map_err(|e| anyhow!("drawing the figure: {e}"))?;
            }
            text.into_bytes()
        }
        "png" => {
            let mut rgb = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
                draw(&root, study, results)?;
                root.present()
                    .map_err(|e| anyhow!("drawing the figure: {e}"))?;
            }
            let img = image::RgbImage::from_raw(SIZE.0, SIZE.1, rgb)
                .ok_or_else(|| anyhow!("drawing the figure: wrong buffer size"))?;
            let mut png = std::io::Cursor::new(Vec::new());
            img.write_to(&mut png, image::ImageFormat::Png)
                .map_err(|e| anyhow!("encoding the PNG: {e}"))?;
            png.into_inner()
        }
        _ => bail!(
            "{}: the figure is written as .svg or .png (by the file's extension)",
            path.display()
        ),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            bail!(
                "{}: cannot write the figure: the folder {} does not exist",
                path.display(),
                dir.display()
            );
        }
    }
    crate::store::write_atomic(path, &bytes)?;
    Ok(())
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
    let title = if fewest < super::study::MEANINGFUL_PAIRS {
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
    let palette = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
    ];
    for (i, c) in results.iter().enumerate() {
        let x = i as f64;
        let colour = palette[i % palette.len()];
        // The cell's label under its box.
        let (px, py) = chart.backend_coord(&(x, lo));
        let label = format!("{} (n = {})", c.short, c.values.get(&k).map_or(0, Vec::len));
        root.draw(&Text::new(
            label,
            (px, py + 10),
            ("sans-serif", 15).into_font().color(&BLACK).pos(
                plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Top,
                ),
            ),
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
