//! A line figure: named curves of (x, y) points on labelled axes, each with its colour and
//! its own point marker (so curves stay apart in print without colour), the legend in a
//! corner. The lab's `E` writes Detail's per-epoch charts and ROC curves and Compare's
//! overlay with it.

use anyhow::anyhow;
use plotters::coord::Shift;
use plotters::prelude::*;

/// One curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Index into the palette and the markers (the lab's series index).
    pub series: usize,
    /// A reference line (ROC's chance diagonal): grey, dashed look, no markers.
    pub reference: bool,
}

/// A chart to write.
#[derive(Clone, Debug, PartialEq)]
pub struct LineFigure {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub curves: Vec<Curve>,
    /// Axis ranges; fitted to the points when `None`.
    pub x: Option<[f64; 2]>,
    pub y: Option<[f64; 2]>,
}

fn range(v: impl Iterator<Item = f64>) -> [f64; 2] {
    let (lo, hi) = v
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
    if !lo.is_finite() {
        return [0.0, 1.0];
    }
    let pad = ((hi - lo) * 0.05).max(1e-3);
    [lo - pad, hi + pad]
}

impl super::Figure for LineFigure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let e = |x: plotters::drawing::DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{x:?}");
        root.fill(&WHITE).map_err(e)?;
        let pts = || self.curves.iter().flat_map(|c| c.points.iter());
        let [x0, x1] = self.x.unwrap_or_else(|| range(pts().map(|p| p.0)));
        let [y0, y1] = self.y.unwrap_or_else(|| range(pts().map(|p| p.1)));
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(72)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .y_label_formatter(&|v| format!("{v:.3}"))
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 17))
            .draw()
            .map_err(e)?;
        for c in &self.curves {
            let colour = if c.reference {
                RGBColor(150, 150, 150)
            } else {
                super::PALETTE[c.series % super::PALETTE.len()]
            };
            let style = ShapeStyle::from(&colour).stroke_width(2);
            let line = || std::iter::once(PathElement::new(c.points.clone(), style));
            if c.reference {
                chart
                    .draw_series(line())
                    .map_err(e)?
                    .label(&c.name)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                continue;
            }
            let fill = colour.filled();
            // Markers, thinned to about 40 a curve (a ROC has thousands of points); each
            // series its own shape: circle, triangle, square, cross.
            let step = (c.points.len() / 40).max(1);
            let pts = c.points.iter().step_by(step).copied();
            match c.series % 4 {
                0 => {
                    chart
                        .draw_series(pts.map(|p| Circle::new(p, 4, fill)))
                        .map_err(e)?;
                    chart
                        .draw_series(line())
                        .map_err(e)?
                        .label(&c.name)
                        .legend(move |(x, y)| Circle::new((x + 10, y), 4, fill));
                }
                1 => {
                    chart
                        .draw_series(pts.map(|p| TriangleMarker::new(p, 5, fill)))
                        .map_err(e)?;
                    chart
                        .draw_series(line())
                        .map_err(e)?
                        .label(&c.name)
                        .legend(move |(x, y)| TriangleMarker::new((x + 10, y), 5, fill));
                }
                2 => {
                    chart
                        .draw_series(pts.map(|p| {
                            EmptyElement::at(p) + Rectangle::new([(-4, -4), (4, 4)], fill)
                        }))
                        .map_err(e)?;
                    chart
                        .draw_series(line())
                        .map_err(e)?
                        .label(&c.name)
                        .legend(move |(x, y)| {
                            Rectangle::new([(x + 6, y - 4), (x + 14, y + 4)], fill)
                        });
                }
                _ => {
                    let cross = colour.stroke_width(2);
                    chart
                        .draw_series(pts.map(|p| Cross::new(p, 4, cross)))
                        .map_err(e)?;
                    chart
                        .draw_series(line())
                        .map_err(e)?
                        .label(&c.name)
                        .legend(move |(x, y)| Cross::new((x + 10, y), 4, cross));
                }
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 15))
            .draw()
            .map_err(e)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_svg_and_png_and_names_the_file_it_cannot_write() {
        let fig = LineFigure {
            title: "ROC".into(),
            x_label: "false positive rate".into(),
            y_label: "true positive rate".into(),
            curves: (0..5)
                .map(|i| Curve {
                    name: format!("scorer {i}"),
                    points: vec![(0.0, 0.0), (0.1 * i as f64, 0.8), (1.0, 1.0)],
                    series: i,
                    reference: i == 4,
                })
                .collect(),
            x: Some([0.0, 1.0]),
            y: Some([0.0, 1.0]),
        };
        let dir = tempfile::tempdir().unwrap();
        let svg = dir.path().join("roc.svg");
        super::super::write(&svg, &fig).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(
            text.starts_with("<svg") && text.contains("scorer 3"),
            "{text}"
        );
        let png = dir.path().join("roc.png");
        super::super::write(&png, &fig).unwrap();
        assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
        let bad = dir.path().join("no-such-dir").join("roc.svg");
        let e = super::super::write(&bad, &fig).unwrap_err().to_string();
        assert!(e.contains("no-such-dir"), "{e}");
    }
}
