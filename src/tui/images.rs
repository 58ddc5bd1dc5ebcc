//! Test images in the terminal: half-block rendering (two pixels per cell, `▀` with the upper
//! pixel as foreground and the lower one as background) and a loader thread that reads the
//! dataset off the UI thread and keeps it cached.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::widgets::Widget;

use crate::config::{DataConfig, DatasetKind};
use crate::data::{self, Dataset};

/// One image as RGB pixels with its score.
#[derive(Clone, Debug, PartialEq)]
pub struct Thumb {
    pub w: usize,
    pub h: usize,
    pub rgb: Vec<[u8; 3]>,
    pub score: f32,
    pub anomalous: bool,
}

impl Thumb {
    /// From planar C×H×W floats in [0, 1] (1 channel = grey, 3 = RGB).
    pub fn from_planar(
        px: &[f32],
        shape: (usize, usize, usize),
        score: f32,
        anomalous: bool,
    ) -> Thumb {
        let (c, h, w) = shape;
        let plane = h * w;
        let to8 = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        let rgb = (0..plane)
            .map(|i| {
                if c >= 3 {
                    [to8(px[i]), to8(px[plane + i]), to8(px[2 * plane + i])]
                } else {
                    let g = to8(px[i]);
                    [g, g, g]
                }
            })
            .collect();
        Thumb {
            w,
            h,
            rgb,
            score,
            anomalous,
        }
    }

    /// Halves both sides by averaging 2×2 blocks.
    pub fn half(&self) -> Thumb {
        let (w, h) = (self.w.div_ceil(2), self.h.div_ceil(2));
        let mut rgb = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let mut acc = [0u32; 3];
                let mut n = 0;
                for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let (sy, sx) = (2 * y + dy, 2 * x + dx);
                    if sy < self.h && sx < self.w {
                        let p = self.rgb[sy * self.w + sx];
                        for c in 0..3 {
                            acc[c] += p[c] as u32;
                        }
                        n += 1;
                    }
                }
                rgb.push([(acc[0] / n) as u8, (acc[1] / n) as u8, (acc[2] / n) as u8]);
            }
        }
        Thumb {
            w,
            h,
            rgb,
            score: self.score,
            anomalous: self.anomalous,
        }
    }

    /// Cells needed: (columns, rows).
    pub fn cells(&self) -> (u16, u16) {
        (self.w as u16, self.h.div_ceil(2) as u16)
    }

    fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        if y < self.h && x < self.w {
            self.rgb[y * self.w + x]
        } else {
            [0, 0, 0]
        }
    }
}

/// How pixels become cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelMode {
    /// 24-bit colour.
    TrueColor,
    /// The xterm 256-colour palette (grey ramp and 6×6×6 cube).
    Indexed,
    /// No colour (`NO_COLOR`): one shade character per cell.
    Shades,
}

impl PixelMode {
    pub fn detect(color: bool) -> PixelMode {
        if !color {
            return PixelMode::Shades;
        }
        let ct = std::env::var("COLORTERM").unwrap_or_default();
        if ct.contains("truecolor") || ct.contains("24bit") {
            PixelMode::TrueColor
        } else {
            PixelMode::Indexed
        }
    }

    fn color(self, p: [u8; 3]) -> Color {
        match self {
            PixelMode::TrueColor | PixelMode::Shades => Color::Rgb(p[0], p[1], p[2]),
            PixelMode::Indexed => {
                if p[0] == p[1] && p[1] == p[2] {
                    let g = p[0] as u16;
                    if g < 4 {
                        Color::Indexed(16)
                    } else if g > 246 {
                        Color::Indexed(231)
                    } else {
                        Color::Indexed(232 + ((g - 4) * 24 / 243).min(23) as u8)
                    }
                } else {
                    let q = |v: u8| (v as u16 * 5 / 255) as u8;
                    Color::Indexed(16 + 36 * q(p[0]) + 6 * q(p[1]) + q(p[2]))
                }
            }
        }
    }
}

/// Draws a [`Thumb`] with half blocks.
pub struct HalfBlock<'a> {
    pub thumb: &'a Thumb,
    pub mode: PixelMode,
}

impl Widget for HalfBlock<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.thumb;
        let (cols, rows) = t.cells();
        for cy in 0..rows.min(area.height) {
            for cx in 0..cols.min(area.width) {
                let top = t.pixel(cx as usize, 2 * cy as usize);
                let bottom = t.pixel(cx as usize, 2 * cy as usize + 1);
                let cell = &mut buf[(area.x + cx, area.y + cy)];
                match self.mode {
                    PixelMode::Shades => {
                        let lum =
                            |p: [u8; 3]| (p[0] as u32 * 3 + p[1] as u32 * 6 + p[2] as u32) / 10;
                        let v = (lum(top) + lum(bottom)) / 2;
                        const SHADES: [&str; 5] = [" ", "░", "▒", "▓", "█"];
                        cell.set_symbol(SHADES[(v as usize * 5 / 256).min(4)]);
                    }
                    mode => {
                        cell.set_symbol("▀")
                            .set_fg(mode.color(top))
                            .set_bg(mode.color(bottom));
                    }
                }
            }
        }
    }
}

/// One test image to render: its position in the split's test set, score and label.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pick {
    pub position: usize,
    pub score: f32,
    pub anomalous: bool,
}

/// What the loader answers.
#[derive(Clone, Debug, PartialEq)]
pub enum ImagesState {
    Loading,
    /// Why the images cannot be shown (dataset missing, unreadable, …).
    Missing(String),
    Ready(Vec<Thumb>),
}

/// A request: `key` comes back with the answer.
pub struct ImageRequest {
    pub key: String,
    pub data: DataConfig,
    pub seed: u64,
    pub picks: Vec<Pick>,
}

/// Loads images on its own thread; datasets stay cached between requests.
pub struct ImageLoader {
    tx: Option<Sender<ImageRequest>>,
    rx: Receiver<(String, ImagesState)>,
}

impl ImageLoader {
    pub fn spawn() -> ImageLoader {
        let (req_tx, req_rx) = mpsc::channel::<ImageRequest>();
        let (res_tx, res_rx) = mpsc::channel();
        let spawned = thread::Builder::new()
            .name("adalab-images".into())
            .spawn(move || {
                let mut cache: HashMap<DatasetKey, Arc<Dataset>> = HashMap::new();
                while let Ok(mut req) = req_rx.recv() {
                    // Only the newest pending request matters.
                    while let Ok(newer) = req_rx.try_recv() {
                        req = newer;
                    }
                    let state = load(&mut cache, &req);
                    if res_tx.send((req.key, state)).is_err() {
                        break;
                    }
                }
            });
        ImageLoader {
            tx: spawned.ok().map(|_| req_tx),
            rx: res_rx,
        }
    }

    /// Sends a request; false when the loader cannot take it.
    pub fn request(&self, req: ImageRequest) -> bool {
        match &self.tx {
            Some(tx) => tx.send(req).is_ok(),
            None => false,
        }
    }

    pub fn poll(&self) -> Vec<(String, ImagesState)> {
        self.rx.try_iter().collect()
    }

    pub fn is_live(&self) -> bool {
        self.tx.is_some()
    }
}

/// What identifies a loaded dataset: the kind, where it is, and for a folder the decode
/// settings (its images are the user's, resized to the run's `data.size`).
type DatasetKey = (
    DatasetKind,
    Option<PathBuf>,
    Option<PathBuf>,
    (usize, usize, usize),
    u32,
);

fn load(cache: &mut HashMap<DatasetKey, Arc<Dataset>>, req: &ImageRequest) -> ImagesState {
    let d = &req.data;
    let key = (
        d.dataset,
        d.data_dir.clone(),
        d.path.clone(),
        d.input_shape(),
        d.test_fraction.to_bits(),
    );
    let ds = match cache.get(&key) {
        Some(ds) => ds.clone(),
        None => match data::load_for(&req.data) {
            Ok(ds) => {
                let ds = Arc::new(ds);
                cache.insert(key, ds.clone());
                ds
            }
            Err(e) => return ImagesState::Missing(e.to_string()),
        },
    };
    let split = match data::make_split(&ds, &req.data, req.seed) {
        Ok(s) => s,
        Err(e) => return ImagesState::Missing(e.to_string()),
    };
    let (c, h, w) = split.shape;
    let len = c * h * w;
    let n = split.test_x.len() / len.max(1);
    let mut out = Vec::new();
    for p in &req.picks {
        if p.position >= n {
            return ImagesState::Missing(format!(
                "the scores name test image {} but the split has {n}",
                p.position
            ));
        }
        let px = &split.test_x[p.position * len..(p.position + 1) * len];
        out.push(Thumb::from_planar(px, split.shape, p.score, p.anomalous));
    }
    ImagesState::Ready(out)
}

/// The `n` highest and `n` lowest scores: (most anomalous first, most normal first).
pub fn extremes(scores: &[f32], labels: &[bool], n: usize) -> (Vec<Pick>, Vec<Pick>) {
    let mut order: Vec<usize> = (0..scores.len())
        .filter(|&i| scores[i].is_finite())
        .collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let pick = |i: usize| Pick {
        position: i,
        score: scores[i],
        anomalous: labels.get(i).copied().unwrap_or(false),
    };
    let top = order.iter().take(n).map(|&i| pick(i)).collect();
    let bottom = order.iter().rev().take(n).map(|&i| pick(i)).collect();
    (top, bottom)
}

#[cfg(test)]
impl ImageLoader {
    /// A loader that never loads (tests): requests stay `Loading` unless answered by hand.
    pub fn inert() -> ImageLoader {
        let (_tx, rx) = mpsc::channel();
        ImageLoader { tx: None, rx }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_block_uses_two_rows_per_cell() {
        let px: Vec<f32> = (0..16).map(|i| i as f32 / 15.0).collect();
        let t = Thumb::from_planar(&px, (1, 4, 4), 0.5, true);
        assert_eq!(t.cells(), (4, 2));
        let mut buf = Buffer::empty(Rect::new(0, 0, 4, 2));
        HalfBlock {
            thumb: &t,
            mode: PixelMode::TrueColor,
        }
        .render(buf.area, &mut buf);
        let c = &buf[(0, 0)];
        assert_eq!(c.symbol(), "▀");
        assert_eq!(c.fg, Color::Rgb(0, 0, 0));
        assert_eq!(c.bg, Color::Rgb(68, 68, 68));
        assert_eq!(t.half().cells(), (2, 1));
    }

    #[test]
    fn extremes_pick_both_ends() {
        let (top, bottom) = extremes(&[0.1, 0.9, 0.5, 0.7], &[false, true, false, true], 2);
        assert_eq!(top.iter().map(|p| p.position).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(
            bottom.iter().map(|p| p.position).collect::<Vec<_>>(),
            [0, 2]
        );
        assert!(top[0].anomalous);
    }
}
