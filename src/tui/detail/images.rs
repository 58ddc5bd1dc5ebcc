//! The Detail page of test images: the most anomalous and the most normal, in half blocks.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::super::images::{HalfBlock, ImagesState, PixelMode, Thumb};
use super::super::strings as s;
use super::super::text::{fit, wrap, wrap_lines};
use super::super::theme::Theme;
use super::super::widgets::block;
use super::{split_thumbs, Detail};

pub(super) fn images(f: &mut Frame, area: Rect, look: (&Theme, PixelMode), d: &Detail) {
    let t = look.0;
    let scorer = d.run.record.config.primary_scorer();
    let b = block(
        fit(
            &format!(" Test images by {scorer} score "),
            area.width.saturating_sub(2) as usize,
        ),
        t,
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    let thumbs = match &d.images {
        ImagesState::Loading => {
            f.render_widget(
                Paragraph::new(wrap_lines(
                    [Line::styled(s::IMAGES_LOADING, t.dim())],
                    inner.width as usize,
                )),
                inner,
            );
            return;
        }
        ImagesState::Missing(reason) => {
            // The reason may be a list (the places searched for the dataset): one a line.
            let w = inner.width as usize;
            let mut lines = wrap_lines([Line::styled(s::IMAGES_MISSING, t.warn())], w);
            lines.extend(wrap(reason, w).into_iter().map(Line::raw));
            f.render_widget(Paragraph::new(lines), inner);
            return;
        }
        ImagesState::Ready(v) => v,
    };
    let (top, bottom) = split_thumbs(thumbs);
    // The largest size at which two strips (image and caption, plus a title when there is
    // room) fit, halving as often as needed (a folder's 128² images too); titles move beside
    // the images when space is short.
    let (full_cols, full_rows) = top.first().map(|t| t.cells()).unwrap_or((28, 14));
    let rows_at = |shrink: u32| full_rows.div_ceil(1 << shrink);
    let cols_at = |shrink: u32| full_cols.div_ceil(1 << shrink);
    let shrink = (0..8)
        .find(|&k| inner.height >= 2 * (rows_at(k) + 1) && inner.width >= cols_at(k) + 11)
        .unwrap_or(7);
    let rows = rows_at(shrink);
    let titled = inner.height >= 2 * (rows + 2);
    let strip_h = rows + 1 + u16::from(titled);
    let [ra, rb] =
        Layout::vertical([Constraint::Length(strip_h), Constraint::Length(strip_h)]).areas(inner);
    strip(
        f,
        ra,
        look,
        s::IMAGES_MOST_ANOMALOUS,
        top,
        shrink,
        titled,
        label,
    );
    strip(
        f,
        rb,
        look,
        s::IMAGES_MOST_NORMAL,
        bottom,
        shrink,
        titled,
        label,
    );
}

/// A test image's caption: its score and label.
fn label(th: &Thumb) -> String {
    format!(
        "{:.3} {}",
        th.score,
        if th.anomalous { "anom" } else { "norm" }
    )
}

/// One row of thumbnails halved `shrink` times, each captioned (`caption`, in the warning
/// colour when the thumb is `anomalous`), under `title` or with it beside them.
#[allow(clippy::too_many_arguments)]
pub(super) fn strip(
    f: &mut Frame,
    area: Rect,
    (t, mode): (&Theme, PixelMode),
    title: &str,
    thumbs: &[Thumb],
    shrink: u32,
    titled: bool,
    caption: fn(&Thumb) -> String,
) {
    if area.height < 2 {
        return;
    }
    let mut x = area.x;
    let y0 = area.y + u16::from(titled);
    if titled {
        f.render_widget(
            Paragraph::new(Line::styled(fit(title, area.width as usize), t.bold())),
            Rect::new(area.x, area.y, area.width, 1),
        );
    } else {
        // The strip's name in front of the first image's rows.
        let label: Vec<Line> = title
            .split(' ')
            .map(|w| Line::styled(w.to_string(), t.bold()))
            .collect();
        f.render_widget(Paragraph::new(label), Rect::new(x, y0, 9, area.height));
        x += 10;
    }
    for th in thumbs {
        let mut th = th.clone();
        for _ in 0..shrink {
            th = th.half();
        }
        let (w, h) = th.cells();
        let cell_w = w.max(11) + 1;
        if x + w > area.x + area.width || area.height < h + 1 + u16::from(titled) {
            break;
        }
        f.render_widget(HalfBlock { thumb: &th, mode }, Rect::new(x, y0, w, h));
        let cap = caption(&th);
        // One column left free: captions never run into the next one.
        let cap_w = (cell_w - 1).min(area.x + area.width - x);
        f.render_widget(
            Paragraph::new(Line::styled(
                fit(&cap, cap_w as usize),
                if th.anomalous { t.warn() } else { t.dim() },
            )),
            Rect::new(x, y0 + h, cap_w, 1),
        );
        x += cell_w;
    }
}
