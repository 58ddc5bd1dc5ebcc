//! Figures as files: SVG or PNG (by the file's extension), drawn with plotters, text in PNGs
//! in the DejaVu Sans font embedded in the binary, written in one atomic step (a failed write
//! leaves no half figure and says why, naming the file). One renderer for `adalab study plot`
//! ([`study`]) and the lab's `E` ([`lines`]: per-epoch curves, ROC curves).
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print: both front
//! ends call it.

pub mod lines;
pub mod study;

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{anyhow, bail};
use plotters::coord::Shift;
use plotters::prelude::*;

const FONT: &[u8] = include_bytes!("../../data/fonts/DejaVuSans.ttf");
/// The figure's size in pixels (SVG user units).
pub const SIZE: (u32, u32) = (960, 560);

/// Series colours (matplotlib's first six), the cells' and the curves'.
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Something drawn on a plotters area, whichever the backend.
pub trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static;
}

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

/// Draws `fig` in memory as `.svg` or `.png` (by `path`'s extension), then writes it to
/// `path` atomically. Errors name the file and what is wrong.
pub fn write(path: &Path, fig: &impl Figure) -> anyhow::Result<()> {
    font()?;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let bytes = match ext.as_str() {
        "svg" => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
                fig.draw(&root)?;
                root.present()
                    .map_err(|e| anyhow!("drawing the figure: {e}"))?;
            }
            text.into_bytes()
        }
        "png" => {
            let mut rgb = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
                fig.draw(&root)?;
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
