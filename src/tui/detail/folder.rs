//! The Detail page of a folder scored with the run's detector: the folder, how many images
//! and how many flagged against the verdict threshold, the most anomalous images in half
//! blocks with their scores and verdicts, and every image ranked (↑↓ scroll); while scoring,
//! its progress.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Paragraph, Wrap};
use ratatui::Frame;

use super::super::images::{PixelMode, Thumb};
use super::super::strings as s;
use super::super::theme::Theme;
use super::super::widgets::{block, fit};
use super::images::strip;
use super::scoring::{FolderResult, FolderScore, FolderState};

/// Rows the ranked list keeps at least (its header and three images).
const LIST_MIN: u16 = 4;

/// A scored image's caption: its score (about four significant digits, so that scores of
/// any scale fit under a halved thumbnail) and verdict.
fn verdict(th: &Thumb) -> String {
    let word = if th.anomalous {
        s::VERDICT_FLAGGED
    } else {
        s::VERDICT_NORMAL
    };
    let v = th.score;
    let score = match v.abs() {
        a if a < 10.0 => format!("{v:.3}"),
        a if a < 1000.0 => format!("{v:.1}"),
        _ => format!("{v:.0}"),
    };
    format!("{score} {word}")
}

/// `key      value` on one line, cut to `width`.
fn kv<'a>(k: &str, v: String, width: u16, t: &Theme) -> Line<'a> {
    const KEY_W: usize = 9;
    Line::from(vec![
        Span::styled(format!("{k:<KEY_W$}"), t.dim()),
        Span::raw(fit(&v, (width as usize).saturating_sub(KEY_W))),
    ])
}

pub(super) fn folder(
    f: &mut Frame,
    area: Rect,
    look: (&Theme, PixelMode),
    fs: Option<&FolderScore>,
    scroll: u16,
) {
    let t = look.0;
    let b = block(format!(" {} ", s::FOLDER_PAGE_TITLE), t);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let Some(fs) = fs else {
        return;
    };
    let w = inner.width;
    let mut head = vec![kv(s::FOLDER_LABEL, fs.folder.display().to_string(), w, t)];
    match &fs.state {
        FolderState::Running { cancelling, .. } => {
            let (stage, frac) = fs.fraction().unwrap_or((s::SCORING_STARTING, 0.0));
            head.push(Line::raw(""));
            head.push(Line::styled(
                if *cancelling {
                    s::SCORING_CANCELLING
                } else {
                    s::SCORING_CANCEL_HINT
                },
                t.dim(),
            ));
            let [h, g] =
                Layout::vertical([Constraint::Length(3), Constraint::Length(1)]).areas(inner);
            f.render_widget(Paragraph::new(head), h);
            f.render_widget(
                LineGauge::default()
                    .ratio(frac.clamp(0.0, 1.0))
                    .label(format!("{stage} {:>3.0}%", frac * 100.0))
                    .filled_symbol("█")
                    .unfilled_symbol("░")
                    .filled_style(t.accent())
                    .unfilled_style(t.dim()),
                g,
            );
        }
        FolderState::Failed(why) => {
            head.push(Line::styled(s::SCORING_FAILED, t.error()));
            head.push(Line::raw(why.clone()));
            f.render_widget(Paragraph::new(head).wrap(Wrap { trim: false }), inner);
        }
        FolderState::Cancelled => {
            head.push(Line::styled(s::SCORING_CANCELLED, t.warn()));
            f.render_widget(Paragraph::new(head), inner);
        }
        FolderState::Done(r) => result(f, inner, look, r, head, scroll),
    }
}

fn result(
    f: &mut Frame,
    inner: Rect,
    look: (&Theme, PixelMode),
    r: &FolderResult,
    mut head: Vec<Line<'static>>,
    scroll: u16,
) {
    let t = look.0;
    let w = inner.width;
    head.push(kv(
        s::FOLDER_RESULT_LABEL,
        s::scored_counts(r.images, r.flagged),
        w,
        t,
    ));
    head.push(kv(s::FOLDER_VERDICT_LABEL, r.verdict.rule.clone(), w, t));
    if let Some(first) = r.skipped.first() {
        head.push(Line::styled(
            fit(&s::skipped(r.skipped.len(), first), w as usize),
            t.warn(),
        ));
    }
    let head_h = head.len() as u16;
    // The largest thumbnails that leave the ranked list its rows.
    let (cols, rows) = r.thumbs.first().map_or((28, 14), Thumb::cells);
    let room = inner.height.saturating_sub(head_h + LIST_MIN);
    let shrink = (0..8)
        .find(|&k| rows.div_ceil(1 << k) + 2 <= room && cols.div_ceil(1 << k) < w)
        .unwrap_or(8);
    let strip_h = if shrink < 8 && !r.thumbs.is_empty() {
        rows.div_ceil(1 << shrink) + 2
    } else {
        0
    };
    let [h, st, list] = Layout::vertical([
        Constraint::Length(head_h),
        Constraint::Length(strip_h),
        Constraint::Min(0),
    ])
    .areas(inner);
    f.render_widget(Paragraph::new(head), h);
    if strip_h > 0 {
        strip(
            f,
            st,
            look,
            s::SCORED_MOST_ANOMALOUS,
            &r.thumbs,
            shrink,
            true,
            verdict,
        );
    }
    // Every image, most anomalous first, from the scrolled row.
    let shown = list.height.saturating_sub(1) as usize;
    let start = (scroll as usize).min(r.ranked.len().saturating_sub(shown));
    let scorer = r.verdict.scorer.as_str();
    let sw = scorer.len().max(10);
    let mut lines = vec![Line::styled(
        format!(
            "{:>5}  {scorer:>sw$}  {:<8} {}",
            "#",
            s::FOLDER_VERDICT_COLUMN,
            s::FOLDER_IMAGE_COLUMN
        ),
        t.bold(),
    )];
    for (i, im) in r.ranked.iter().enumerate().skip(start).take(shown) {
        let (word, style) = if im.flagged {
            (s::VERDICT_FLAGGED, t.warn())
        } else {
            (s::VERDICT_NORMAL, t.dim())
        };
        let name_w = (w as usize).saturating_sub(sw + 20);
        lines.push(Line::from(vec![
            Span::raw(format!("{:>5}  {:>sw$.5}  ", i + 1, im.score)),
            Span::styled(format!("{word:<8} "), style),
            Span::raw(fit(&im.name, name_w)),
        ]));
    }
    f.render_widget(Paragraph::new(lines), list);
}
