//! The Detail pages with charts: per-epoch curves, ROC curves, the AUC spread of a repeated
//! run (and the one-line boxplot the Study view shares).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::config::ScorerKind;
use crate::score::Summary;
use crate::store::RunRecord;

use super::super::chart::{self, Legend, LineChart, Series};
use super::super::strings as s;
use super::super::text::wrap_lines;
use super::super::theme::Theme;
use super::super::widgets::block;
use super::Detail;

pub(super) fn epochs(f: &mut Frame, area: Rect, t: &Theme, d: &Detail) {
    let rec = &d.run.record;
    let Some(seed) = rec.seeds.get(d.seed) else {
        f.render_widget(
            Paragraph::new(Line::styled(s::NO_EPOCHS_YET, t.dim())).block(block("", t)),
            area,
        );
        return;
    };
    let ep = &seed.epochs;
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let [a, b] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    let [c, e] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(bottom);
    let pts = |g: fn(&crate::train::EpochMetrics) -> f64| -> Vec<(f64, f64)> {
        ep.iter().map(|m| (m.epoch as f64, g(m))).collect()
    };
    let x = Some([1.0, (rec.config.train.epochs as f64).max(2.0)]);
    // One metric per chart, named by its title.
    let mut one = |area, name: &str, points, colour, y| {
        let series = [Series::line(name, points, t.series(colour), 0)];
        let c = LineChart {
            title: name,
            series: &series,
            x,
            y,
            legend: Legend::Free,
            empty: s::NO_EPOCHS_YET,
        };
        chart::draw(f, area, t, &c);
    };
    one(a, s::CHART_LOSS, pts(|m| m.loss as f64), 0, None);
    one(
        b,
        s::CHART_ACC,
        pts(|m| m.accuracy as f64),
        3,
        Some([0.0, 1.0]),
    );
    one(c, s::CHART_SCALE, pts(|m| m.scale as f64), 1, None);
    let auc: Vec<Series> = rec
        .config
        .score
        .scorers
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let points = ep
                .iter()
                .filter_map(|m| m.auc.get(k).map(|v| (m.epoch as f64, *v)))
                .collect();
            Series::line(k.as_str(), points, t.series(i), i)
        })
        .collect();
    let c = LineChart {
        title: s::PANEL_AUC,
        series: &auc,
        x,
        y: None,
        legend: Legend::Free,
        empty: s::NO_AUC_YET,
    };
    chart::draw(f, e, t, &c);
}

pub(super) fn roc(f: &mut Frame, area: Rect, t: &Theme, d: &Detail) {
    if let Err(e) = &d.scores {
        let msg = if e.is_empty() {
            s::NO_SCORES
        } else {
            e.as_str()
        };
        f.render_widget(
            Paragraph::new(wrap_lines(
                [Line::styled(msg.to_string(), t.dim())],
                area.width.saturating_sub(2) as usize,
            ))
            .block(block(" ROC ", t)),
            area,
        );
        return;
    }
    let mut series: Vec<Series> = d
        .roc
        .iter()
        .enumerate()
        .map(|(i, (k, auc, pts))| {
            let style = t.series(series_index(&d.run.record, *k, i));
            Series::line(format!("{k} {auc:.3}"), pts.clone(), style, i)
        })
        .collect();
    let chance = vec![(0.0, 0.0), (1.0, 1.0)];
    series.push(Series::line("chance", chance, t.dim(), series.len()));
    let c = LineChart {
        title: "ROC (false positive rate → true positive rate)",
        series: &series,
        x: Some([0.0, 1.0]),
        y: Some([0.0, 1.0]),
        legend: Legend::Free,
        empty: s::NO_SCORES,
    };
    chart::draw(f, area, t, &c);
}

pub(super) fn series_index(rec: &RunRecord, k: ScorerKind, fallback: usize) -> usize {
    rec.config
        .score
        .scorers
        .iter()
        .position(|x| *x == k)
        .unwrap_or(fallback)
}

/// Text boxplots of the final AUC over seeds, one per scorer, on a shared axis.
pub(super) fn spread(f: &mut Frame, area: Rect, t: &Theme, rec: &RunRecord) {
    let b = block(" AUC over seeds ", t);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let mut per: Vec<(ScorerKind, Vec<f64>)> = Vec::new();
    for k in &rec.config.score.scorers {
        let v: Vec<f64> = rec
            .seeds
            .iter()
            .filter_map(|sd| sd.result.as_ref())
            .filter_map(|r| r.auc.get(k).copied())
            .collect();
        per.push((*k, v));
    }
    if per.iter().all(|(_, v)| v.len() < 2) {
        f.render_widget(
            Paragraph::new(wrap_lines(
                [Line::styled(s::NO_REPEATS, t.dim())],
                inner.width as usize,
            )),
            inner,
        );
        return;
    }
    let all: Vec<f64> = per.iter().flat_map(|(_, v)| v.iter().copied()).collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.05).max(0.002);
    let (lo, hi) = (lo - pad, hi + pad);
    let label_w = 13usize;
    let w = (inner.width as usize).saturating_sub(label_w + 1).max(10);
    let mut lines = Vec::new();
    for (i, (k, v)) in per.iter().enumerate() {
        let Some(sm) = Summary::of(v) else {
            continue;
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{:<label_w$}", k.as_str()), t.series(i)),
            Span::styled(boxplot(&sm, lo, hi, w), t.series(i)),
        ]));
        lines.push(Line::styled(
            format!(
                "{:label_w$}median {:.3}  mean {:.3}  IQR {:.3}–{:.3}  range {:.3}–{:.3}  n={}",
                "", sm.median, sm.mean, sm.q1, sm.q3, sm.min, sm.max, sm.n
            ),
            t.dim(),
        ));
        lines.push(Line::raw(""));
    }
    let lo_s = format!("{lo:.3}");
    let hi_s = format!("{hi:.3}");
    lines.push(Line::styled(
        format!(
            "{:label_w$}{lo_s}{}{hi_s}",
            "",
            " ".repeat(w.saturating_sub(lo_s.len() + hi_s.len()))
        ),
        t.dim(),
    ));
    lines.push(Line::raw(""));
    let primary = rec.config.primary_scorer();
    let seeds: Vec<String> = rec
        .seeds
        .iter()
        .map(|sd| {
            let v = sd
                .result
                .as_ref()
                .and_then(|r| r.auc.get(&primary).copied());
            format!("{}:{}", sd.seed, s::auc(v))
        })
        .collect();
    lines.push(Line::raw(format!(
        "{primary} per seed: {}",
        seeds.join("  ")
    )));
    f.render_widget(
        Paragraph::new(wrap_lines(lines, inner.width as usize)),
        inner,
    );
}

/// `├──[███┃███]──┤` on `w` columns for values in [lo, hi].
pub fn boxplot(sm: &Summary, lo: f64, hi: f64, w: usize) -> String {
    let col = |v: f64| -> usize {
        let x = ((v - lo) / (hi - lo).max(1e-12) * (w - 1) as f64).round();
        (x.max(0.0) as usize).min(w - 1)
    };
    let mut cells = vec![' '; w];
    let (a, b, c, d, e) = (
        col(sm.min),
        col(sm.q1),
        col(sm.median),
        col(sm.q3),
        col(sm.max),
    );
    for cell in cells.iter_mut().take(e + 1).skip(a) {
        *cell = '─';
    }
    for cell in cells.iter_mut().take(d + 1).skip(b) {
        *cell = '█';
    }
    cells[a] = '├';
    cells[e] = '┤';
    if b < d {
        cells[b] = '[';
        cells[d] = ']';
    }
    cells[c] = '┃';
    cells.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxplot_marks_the_quartiles() {
        let sm = Summary::of(&[0.80, 0.85, 0.90, 0.95]).unwrap();
        let b = boxplot(&sm, 0.8, 0.95, 16);
        assert_eq!(b.chars().count(), 16);
        assert!(b.starts_with('├') && b.ends_with('┤'), "{b}");
        assert!(b.contains('┃') && b.contains('['), "{b}");
    }
}
