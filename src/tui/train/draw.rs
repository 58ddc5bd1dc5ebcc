//! Train: the live run (or the last one, a followed one, or a study's task in training):
//! progress with its ETA, the per-batch loss and accuracy (smoothed, the raw values faint) and
//! the per-epoch test AUC on one epoch axis, the AUC per scorer, the scale, per-seed results,
//! the queue, and the event log.

use std::time::Instant;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Paragraph};
use ratatui::Frame;

use crate::config::HeadKind;
use crate::score::Summary;

use super::super::chart::{self, Legend, LineChart, Series};
use super::super::strings as s;
use super::super::text::{fit, fit_line, fit_lines, label_value, wrap, wrap_lines};
use super::super::theme::Theme;
use super::super::widgets::{block, bounds};
use super::follow::Follower;
use super::jobs::{Queued, StudyState};
use super::live::{CurvePoint, Live, LogLevel, LogLine};

/// What the Train screen shows.
enum Shown<'a> {
    Own(&'a Live),
    Attached(&'a Follower),
    Study(&'a StudyState),
}

/// What the Train screen draws: the lab's own job, a run it follows, the study it runs, the
/// queue, and the time now (for elapsed times and ETAs).
pub struct TrainView<'a> {
    pub live: Option<&'a Live>,
    pub follow: Option<&'a Follower>,
    pub study: Option<&'a StudyState>,
    pub queue: &'a [Queued],
    pub now: Instant,
}

fn shown<'a>(v: &TrainView<'a>) -> Option<Shown<'a>> {
    if let Some(f) = v.follow {
        return Some(Shown::Attached(f));
    }
    if let Some(st) = v.study {
        return Some(Shown::Study(st));
    }
    v.live.map(Shown::Own)
}

/// The footer's keys on the Train screen.
pub fn footer(v: &TrainView) -> &'static str {
    if v.follow.is_some() {
        s::FOOTER_TRAIN_ATTACHED
    } else if !v.queue.is_empty() {
        s::FOOTER_TRAIN_QUEUE
    } else {
        s::FOOTER_TRAIN
    }
}

pub fn draw(f: &mut Frame, area: Rect, t: &Theme, v: &TrainView) {
    let Some(view) = shown(v) else {
        f.render_widget(
            Paragraph::new(wrap_lines(
                [Line::styled(s::TRAIN_IDLE, t.dim())],
                area.width.saturating_sub(2) as usize,
            ))
            .block(block(" Train ", t)),
            area,
        );
        return;
    };
    let [head, gauges, charts, bottom] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(2),
        Constraint::Fill(1),
        Constraint::Fill(1),
    ])
    .areas(area);
    let live = match &view {
        Shown::Own(l) => Some(*l),
        Shown::Attached(fl) => fl.live.as_ref(),
        Shown::Study(st) => st.follower.as_ref().and_then(|fl| fl.live.as_ref()),
    };
    // Header and gauges.
    match &view {
        Shown::Own(l) => {
            draw_header(f, head, t, l, None);
            draw_gauges(f, gauges, t, l, v.now);
        }
        Shown::Attached(fl) => match &fl.live {
            Some(l) => {
                draw_header(f, head, t, l, Some(fl));
                draw_gauges(f, gauges, t, l, v.now);
            }
            None => {
                let text = match &fl.error {
                    Some(e) => format!("{} {}: {e}", s::FOLLOWING, fl.id),
                    None => format!("{} {}: {}", s::FOLLOWING, fl.id, s::FOLLOW_READING),
                };
                let line = fit_line(Line::styled(text, t.warn()), head.width as usize);
                f.render_widget(Paragraph::new(line), head);
            }
        },
        Shown::Study(st) => {
            draw_study_header(f, head, t, st, live);
            draw_study_gauges(f, gauges, t, st, live, v.now);
        }
    }
    draw_charts(f, charts, t, live);
    let [summary, log] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(bottom);
    draw_summary(f, summary, t, live, &view, v.queue);
    match &view {
        Shown::Study(st) => draw_log(f, log, t, &st.log, st.log_scroll),
        _ => {
            if let Some(l) = live {
                draw_log(f, log, t, &l.logs, l.log_scroll);
            } else {
                draw_log(f, log, t, &[], 0);
            }
        }
    }
}

/// The charts on one epoch axis: loss, accuracy (per batch, smoothed), test AUC, and dynamic
/// AdaCos's s.
fn draw_charts(f: &mut Frame, area: Rect, t: &Theme, live: Option<&Live>) {
    // Dynamic AdaCos adapts s as it trains: a fourth chart, of s.
    let n = if live.is_some_and(super::scale::charted) {
        4
    } else {
        3
    };
    let cols = Layout::horizontal(vec![Constraint::Ratio(1, n); n as usize]).split(area);
    let (loss, acc, auc) = (cols[0], cols[1], cols[2]);
    let Some(live) = live else {
        for (a, title) in [
            (loss, s::CHART_LOSS),
            (acc, s::CHART_ACC),
            (auc, s::CHART_AUC),
        ] {
            let title = chart_title(title, None, a);
            let c = curves(&title, &[], [0.0, 1.0], None, s::STUDY_WAITING);
            chart::draw(f, a, t, &c);
        }
        return;
    };
    let x = [0.0, x_end(live)];
    if let Some(sc) = cols.get(3) {
        super::scale::draw(f, *sc, t, live, x);
    }
    let curve_pair =
        |name: &str, value: fn(&CurvePoint) -> f32, style: Style, unit: bool, area: Rect| {
            let (raw, smooth) = live.curve_series(value);
            let now = smooth.last().map(|p| p.1).filter(|v| v.is_finite());
            let curves = vec![
                Series::line(s::LEGEND_EMA, smooth, style, 0),
                Series {
                    faint: true,
                    ..Series::line(s::LEGEND_RAW, raw, t.dim(), 1)
                },
            ];
            let title = chart_title(name, now.map(|v| format!("{v:.3}")), area);
            // Fitted to the data, not below 0 (a loss, a share) and a share not above 1.
            let values = || curves.iter().flat_map(|c| c.points.iter().map(|p| p.1));
            let [lo, hi] = bounds(values());
            let (lo, hi) = (lo.max(0.0), if unit { hi.min(1.0) } else { hi });
            let y = (values().all(|v| !v.is_finite() || v >= 0.0) && hi > lo).then_some([lo, hi]);
            (title, curves, y)
        };
    let (title, pair, y) = curve_pair(s::CHART_LOSS, |p| p.loss, t.series(0), false, loss);
    chart::draw(f, loss, t, &curves(&title, &pair, x, y, s::NO_BATCHES_YET));
    let (title, pair, y) = curve_pair(
        live.accuracy_label(),
        |p| p.accuracy,
        t.series(3),
        true,
        acc,
    );
    chart::draw(f, acc, t, &curves(&title, &pair, x, y, s::NO_BATCHES_YET));

    let scorers = &live.config.score.scorers;
    let aucs: Vec<Series> = scorers
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let points = live
                .auc_history
                .get(k)
                .map(|h| h.iter().map(|(e, v)| (*e as f64, *v)).collect())
                .unwrap_or_default();
            Series::line(s::scorer_short(*k), points, t.series(i), i)
        })
        .collect();
    let primary = scorers
        .first()
        .and_then(|k| live.auc_now_best(*k))
        .map(|(cur, _, _)| format!("{cur:.3}"));
    let title = chart_title(s::CHART_AUC, primary, auc);
    chart::draw(f, auc, t, &curves(&title, &aucs, x, None, s::NO_AUC_YET));
}

/// A chart of the Train screen: on the run's epoch axis `x`, its legend on the bottom border.
fn curves<'a>(
    title: &'a str,
    series: &'a [Series],
    x: [f64; 2],
    y: Option<[f64; 2]>,
    empty: &'a str,
) -> LineChart<'a> {
    LineChart {
        title,
        series,
        x: Some(x),
        y,
        legend: Legend::Border,
        empty,
    }
}

/// A chart's title on its top border: the name, and the value (never cut: the name is
/// shortened first).
fn chart_title(name: &str, value: Option<String>, area: Rect) -> String {
    let room = area.width.saturating_sub(4) as usize;
    match value {
        Some(v) => label_value(name, &v, room),
        None => fit(name, room),
    }
}

/// The end of the shared epoch axis: the epochs reached so far (whole), at least one, at
/// most the run's — a long run's first epoch is not squeezed into a sliver.
fn x_end(live: &Live) -> f64 {
    let epochs = live.config.train.epochs.max(1) as f64;
    let curve = live.curve.last().map(|p| p.x).unwrap_or(0.0);
    let auc = live
        .auc_history
        .values()
        .flat_map(|h| h.iter().map(|(e, _)| *e as f64))
        .fold(0.0, f64::max);
    let seen = curve.max(auc).max(live.epoch as f64);
    seen.ceil().clamp(1.0, epochs)
}

/// The split, head, scorer, seed and device of a run (or why it failed).
fn run_line(live: &Live, t: &Theme) -> Line<'static> {
    let c = &live.config;
    let device = if live.device.is_empty() {
        c.train.device.to_string()
    } else {
        format!("{}×{}", live.device, live.threads)
    };
    let seed = live
        .seeds
        .get(live.seed_index)
        .copied()
        .unwrap_or(c.train.seed);
    if let Some(crate::train::Outcome::Failed { reason }) = &live.outcome {
        return Line::styled(format!("failed: {reason}"), t.error());
    }
    Line::styled(
        format!(
            "{}  {}  {}  seed {seed} ({}/{})  {device}",
            c.split_label(),
            c.head.kind,
            c.primary_scorer(),
            live.seed_index + 1,
            live.seeds.len().max(1),
        ),
        t.dim(),
    )
}

fn draw_header(f: &mut Frame, area: Rect, t: &Theme, live: &Live, follow: Option<&Follower>) {
    let id = live
        .run_id
        .clone()
        .unwrap_or_else(|| "(not recorded)".into());
    let l1 = match follow {
        None => Line::from(vec![
            Span::styled(
                format!("{} ", live.state_label()),
                t.status(live.state_label()),
            ),
            Span::styled(id, t.bold()),
            Span::styled(format!("  {}", live.profile), t.dim()),
        ]),
        Some(fl) => {
            let status = fl.status.map(|s| s.as_str()).unwrap_or("running");
            Line::from(vec![
                Span::styled(format!("{} ", s::FOLLOWING), t.accent()),
                Span::styled(id, t.bold()),
                Span::styled(format!(" (pid {} on {}) ", fl.pid, fl.host), t.dim()),
                Span::styled(status.to_string(), t.status(status)),
                Span::styled(format!("  {}", live.profile), t.dim()),
            ])
        }
    };
    let lines = fit_lines([l1, run_line(live, t)], area.width as usize);
    f.render_widget(Paragraph::new(lines), area);
}

fn gauge<'a>(label: String, ratio: f64, style: Style, t: &Theme) -> LineGauge<'a> {
    LineGauge::default()
        .ratio(ratio.clamp(0.0, 1.0))
        .label(label)
        .filled_symbol("█")
        .unfilled_symbol("░")
        .filled_style(style)
        .unfilled_style(t.dim())
}

fn epoch_gauge<'a>(live: &Live, t: &Theme) -> LineGauge<'a> {
    if let Some(e) = live.evaluating {
        let label = format!(
            "{} {:>5}/{:<5}",
            s::evaluating(live.epoch, e.view, e.views),
            e.images,
            e.total
        );
        return gauge(label, e.fraction(), t.warn(), t);
    }
    let epochs = live.config.train.epochs;
    let label = format!(
        "{} {:>3}/{epochs} batch {:>4}/{:<4}",
        s::GAUGE_EPOCH,
        live.epoch,
        live.batch,
        live.batches
    );
    let frac = if live.outcome == Some(crate::train::Outcome::Finished) {
        1.0
    } else {
        live.epoch_fraction()
    };
    gauge(label, frac, t.accent(), t)
}

fn draw_gauges(f: &mut Frame, area: Rect, t: &Theme, live: &Live, now: Instant) {
    let [e, j] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    f.render_widget(epoch_gauge(live, t), e);
    let eta = match live.eta(now) {
        Some(d) => format!("ETA {}", s::duration(d.as_secs_f64())),
        None if live.is_active() => s::ETA_MEASURING.to_string(),
        None => format!("took {}", s::duration(live.elapsed(now).as_secs_f64())),
    };
    let label = format!(
        "{} {:>3.0}%  {:>6.0} img/s  {eta}",
        s::GAUGE_JOB,
        live.job_fraction() * 100.0,
        live.images_per_sec
    );
    f.render_widget(gauge(label, live.job_fraction(), t.ok(), t), j);
}

fn draw_study_header(f: &mut Frame, area: Rect, t: &Theme, st: &StudyState, live: Option<&Live>) {
    let state = st.state_label();
    let mut l1 = vec![
        Span::styled(format!("{} ", s::GAUGE_STUDY), t.accent()),
        Span::styled(st.name.clone(), t.bold()),
        Span::styled(format!(" {state}"), t.status(state)),
    ];
    match &st.current {
        Some(c) if st.is_active() => l1.push(Span::raw(format!(
            "  task {}/{}: {}, seed {}/{}",
            c.number,
            st.queued,
            c.cell,
            c.task.seed_index + 1,
            st.seeds
        ))),
        _ => {
            if let Some(e) = &st.end_text {
                l1.push(Span::styled(format!("  {e}"), t.dim()));
            }
        }
    }
    l1.push(Span::styled(
        format!("  ({}/{} done)", st.done_before + st.finished, st.total),
        t.dim(),
    ));
    let l2 = match (live, &st.current) {
        (Some(l), Some(c)) => {
            let mut spans = vec![Span::styled(format!("{}  ", c.run_id), t.dim())];
            spans.extend(run_line(l, t).spans);
            Line::from(spans)
        }
        (None, Some(c)) => Line::styled(format!("{}  {}", c.run_id, s::FOLLOW_READING), t.dim()),
        _ => Line::styled(s::STUDY_WAITING, t.dim()),
    };
    let lines = fit_lines([Line::from(l1), l2], area.width as usize);
    f.render_widget(Paragraph::new(lines), area);
}

fn draw_study_gauges(
    f: &mut Frame,
    area: Rect,
    t: &Theme,
    st: &StudyState,
    live: Option<&Live>,
    now: Instant,
) {
    let [e, j] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    if let Some(l) = live {
        f.render_widget(epoch_gauge(l, t), e);
    }
    let eta = match st.eta(now) {
        Some(d) => format!("ETA {}", s::duration(d.as_secs_f64())),
        None if st.is_active() => s::ETA_MEASURING.to_string(),
        None => format!(
            "took {}",
            s::duration(
                st.ended
                    .unwrap_or(now)
                    .saturating_duration_since(st.started)
                    .as_secs_f64()
            )
        ),
    };
    let label = format!(
        "{} {}/{} tasks{}  {eta}",
        s::GAUGE_STUDY,
        st.ended_tasks(),
        st.queued,
        if st.failed > 0 {
            format!(" ({} failed)", st.failed)
        } else {
            String::new()
        }
    );
    f.render_widget(gauge(label, st.fraction(), t.ok(), t), j);
}

/// AUC per scorer, the scale, per-seed results and the queue.
fn draw_summary(
    f: &mut Frame,
    area: Rect,
    t: &Theme,
    live: Option<&Live>,
    view: &Shown<'_>,
    queue: &[Queued],
) {
    let b = block(format!(" {} ", s::PANEL_AUC), t);
    let width = area.width.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = Vec::new();
    if let Some(live) = live {
        for (i, k) in live.config.score.scorers.iter().enumerate() {
            lines.push(match live.auc_now_best(*k) {
                Some((cur, best, be)) => Line::from(vec![
                    Span::styled(format!("{:<13}", k.as_str()), t.series(i)),
                    Span::styled(format!("{cur:.3}"), t.bold()),
                    Span::raw(format!(" (best {best:.3} @{be})")),
                ]),
                None => Line::from(vec![
                    Span::styled(format!("{:<13}", k.as_str()), t.series(i)),
                    Span::styled(s::NO_AUC_YET, t.dim()),
                ]),
            });
        }
        if let Some(l) = scale_line(live) {
            lines.push(Line::styled(l, t.dim()));
        }
    }
    if let Shown::Study(st) = view {
        let mut text = format!(
            "tasks: {} finished, {} failed of {}",
            st.finished, st.failed, st.queued
        );
        if st.done_before > 0 {
            text.push_str(&format!(" (+{} before)", st.done_before));
        }
        lines.push(Line::styled(text, t.bold()));
    }
    if !queue.is_empty() {
        lines.push(Line::styled(
            format!("{} ({}):", s::QUEUE_TITLE, queue.len()),
            t.warn(),
        ));
        for (i, q) in queue.iter().enumerate() {
            lines.push(Line::raw(fit(&format!(" {}. {}", i + 1, q.label()), width)));
        }
    }
    if let Some(live) = live.filter(|l| l.seeds.len() > 1) {
        let mut parts: Vec<Span> = vec![Span::styled(format!("{}: ", s::PANEL_SEEDS), t.dim())];
        let mut done = Vec::new();
        for (seed, v, _) in live.seed_aucs() {
            parts.push(Span::raw(format!("{seed}:{} ", s::auc(v))));
            if let Some(v) = v {
                done.push(v);
            }
        }
        lines.push(Line::from(parts));
        if let Some(sm) = Summary::of(&done) {
            lines.push(Line::styled(
                format!(
                    "median {:.3}  IQR {:.3}–{:.3}  ({}/{} seeds)",
                    sm.median,
                    sm.q1,
                    sm.q3,
                    sm.n,
                    live.seeds.len()
                ),
                t.bold(),
            ));
        }
    }
    f.render_widget(Paragraph::new(wrap_lines(lines, width)).block(b), area);
}

/// `scale s (fixed) 2.941`, with the range an adapting scale went through.
fn scale_line(live: &Live) -> Option<String> {
    let ep = live.epochs();
    let now = ep.last()?.scale;
    let kind = match live.config.head.kind {
        HeadKind::AdacosFixed => " (fixed)",
        HeadKind::AdacosDynamic => " (dynamic)",
        HeadKind::L2Softmax => " (α)",
        _ => "",
    };
    let (lo, hi) = ep
        .iter()
        .map(|m| m.scale)
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    let range = if hi > lo + 1e-3 {
        format!("  ({lo:.2}–{hi:.2})")
    } else {
        String::new()
    };
    Some(format!("{}{kind} {now:.3}{range}", s::CHART_SCALE))
}

fn draw_log(f: &mut Frame, area: Rect, t: &Theme, logs: &[LogLine], scroll: usize) {
    let title = if scroll > 0 {
        format!(" {} (↑{scroll}) ", s::PANEL_LOG)
    } else {
        format!(" {} ", s::PANEL_LOG)
    };
    let b = block(title, t);
    let inner = b.inner(area);
    let h = inner.height as usize;
    let w = (inner.width as usize).max(1);
    let end = logs.len().saturating_sub(scroll);
    // Wrap the newest entries until the pane is full.
    let mut lines: Vec<Line> = Vec::new();
    for l in logs[..end].iter().rev() {
        let style = match l.level {
            LogLevel::Info => Default::default(),
            LogLevel::Warn => t.warn(),
            LogLevel::Error => t.error(),
        };
        // Broken between words, never inside a number or an id.
        let parts: Vec<Line> = wrap(&l.text, w)
            .into_iter()
            .map(|p| Line::styled(p, style))
            .collect();
        // Only whole entries, except when the newest alone is taller than the pane.
        if !lines.is_empty() && lines.len() + parts.len() > h {
            break;
        }
        for p in parts.into_iter().rev() {
            lines.push(p);
        }
        if lines.len() >= h {
            break;
        }
    }
    lines.truncate(h);
    lines.reverse();
    f.render_widget(Paragraph::new(lines).block(b), area);
}
