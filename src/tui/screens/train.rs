//! Train: the live run (or the last one): progress, loss / accuracy / scale charts, AUC
//! sparklines per scorer, per-seed results and the event log.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Paragraph, Sparkline, Wrap};
use ratatui::Frame;

use crate::config::HeadKind;
use crate::score::Summary;

use super::super::app::App;
use super::super::live::{Live, LogLevel};
use super::super::strings as s;
use super::super::widgets::{block, line_chart, Series};

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let Some(live) = &app.live else {
        f.render_widget(
            Paragraph::new(Line::styled(s::TRAIN_IDLE, t.dim()))
                .wrap(Wrap { trim: true })
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
    draw_header(f, head, app, live);
    draw_gauges(f, gauges, app, live);

    let [loss, acc, scale] = Layout::horizontal([
        Constraint::Ratio(1, 3),
        Constraint::Ratio(1, 3),
        Constraint::Ratio(1, 3),
    ])
    .areas(charts);
    let ep = live.epochs();
    let pts = |g: fn(&crate::train::EpochMetrics) -> f64| -> Vec<(f64, f64)> {
        ep.iter().map(|m| (m.epoch as f64, g(m))).collect()
    };
    let x = Some([1.0, (live.config.train.epochs as f64).max(2.0)]);
    line_chart(
        f,
        loss,
        s::CHART_LOSS,
        &[Series {
            name: s::CHART_LOSS.into(),
            points: pts(|m| m.loss as f64),
            style: t.series(0),
        }],
        x,
        None,
        t,
        s::NO_EPOCHS_YET,
    );
    line_chart(
        f,
        acc,
        s::CHART_ACC,
        &[Series {
            name: s::CHART_ACC.into(),
            points: pts(|m| m.accuracy as f64),
            style: t.series(3),
        }],
        x,
        Some([0.0, 1.0]),
        t,
        s::NO_EPOCHS_YET,
    );
    let scale_now = ep.last().map(|m| m.scale);
    let kind = match live.config.head.kind {
        HeadKind::AdacosFixed => " (fixed)",
        HeadKind::AdacosDynamic => " (dynamic)",
        HeadKind::L2Softmax => " (α)",
        _ => "",
    };
    let scale_title = match scale_now {
        Some(v) => format!("{}{kind} = {v:.3}", s::CHART_SCALE),
        None => format!("{}{kind}", s::CHART_SCALE),
    };
    line_chart(
        f,
        scale,
        &scale_title,
        &[Series {
            name: s::CHART_SCALE.into(),
            points: pts(|m| m.scale as f64),
            style: t.series(1),
        }],
        x,
        None,
        t,
        s::NO_EPOCHS_YET,
    );

    let [auc, log] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(bottom);
    draw_auc(f, auc, app, live);
    draw_log(f, log, app, live);
}

fn draw_header(f: &mut Frame, area: Rect, app: &App, live: &Live) {
    let t = &app.theme;
    let c = &live.config;
    let id = live
        .run_id
        .clone()
        .unwrap_or_else(|| "(not recorded)".into());
    let l1 = Line::from(vec![
        Span::styled(
            format!("{} ", live.state_label()),
            t.status(live.state_label()),
        ),
        Span::styled(id, t.bold()),
        Span::styled(format!("  {}", live.profile), t.dim()),
    ]);
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
    let mut l2 = format!(
        "{}  {}  {}  seed {seed} ({}/{})  {device}",
        c.split_label(),
        c.head.kind,
        c.primary_scorer(),
        live.seed_index + 1,
        live.seeds.len().max(1),
    );
    if let Some(Some(reason)) = live.outcome.as_ref().map(|o| match o {
        crate::train::Outcome::Failed { reason } => Some(reason.clone()),
        _ => None,
    }) {
        l2 = format!("failed: {reason}");
    }
    let style = if l2.starts_with("failed") {
        t.error()
    } else {
        t.dim()
    };
    f.render_widget(Paragraph::new(vec![l1, Line::styled(l2, style)]), area);
}

fn draw_gauges(f: &mut Frame, area: Rect, app: &App, live: &Live) {
    let t = &app.theme;
    let [e, j] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let epochs = live.config.train.epochs;
    let label_e = format!(
        "{} {:>3}/{epochs} batch {:>4}/{:<4}",
        s::GAUGE_EPOCH,
        live.epoch,
        live.batch,
        live.batches
    );
    let frac_e = if live.outcome == Some(crate::train::Outcome::Finished) {
        1.0
    } else {
        live.epoch_fraction()
    };
    f.render_widget(
        LineGauge::default()
            .ratio(frac_e)
            .label(label_e)
            .filled_symbol("█")
            .unfilled_symbol("░")
            .filled_style(t.accent())
            .unfilled_style(t.dim()),
        e,
    );
    let eta = match live.eta(app.now) {
        Some(d) => format!("ETA {}", s::duration(d.as_secs_f64())),
        None if live.is_active() => s::ETA_WARMUP.to_string(),
        None => format!("took {}", s::duration(live.elapsed(app.now).as_secs_f64())),
    };
    let label_j = format!(
        "{} {:>3.0}%  {:>6.0} img/s  {eta}",
        s::GAUGE_JOB,
        live.job_fraction() * 100.0,
        live.images_per_sec
    );
    f.render_widget(
        LineGauge::default()
            .ratio(live.job_fraction())
            .label(label_j)
            .filled_symbol("█")
            .unfilled_symbol("░")
            .filled_style(t.ok())
            .unfilled_style(t.dim()),
        j,
    );
}

fn draw_auc(f: &mut Frame, area: Rect, app: &App, live: &Live) {
    let t = &app.theme;
    let b = block(format!(" {} ", s::PANEL_AUC), t);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let scorers = &live.config.score.scorers;
    let mut rows: Vec<Constraint> = Vec::new();
    for _ in scorers {
        rows.push(Constraint::Length(1));
        rows.push(Constraint::Length(1));
    }
    rows.push(Constraint::Min(0));
    let areas = Layout::vertical(rows).split(inner);
    for (i, k) in scorers.iter().enumerate() {
        let text_area = areas[2 * i];
        let spark_area = areas[2 * i + 1];
        let line = match live.auc_now_best(*k) {
            Some((cur, best, be)) => Line::from(vec![
                Span::styled(format!("{:<13}", k.as_str()), t.series(i)),
                Span::styled(format!("{cur:.3}"), t.bold()),
                Span::raw(format!(" (best {best:.3} @{be})")),
            ]),
            None => Line::from(vec![
                Span::styled(format!("{:<13}", k.as_str()), t.series(i)),
                Span::styled(s::NO_AUC_YET, t.dim()),
            ]),
        };
        f.render_widget(Paragraph::new(line), text_area);
        // Scaled to the history's own range (with a margin) so small changes stay visible.
        let hist: Vec<f64> = live
            .auc_history
            .get(k)
            .map(|h| h.iter().map(|(_, v)| *v).collect())
            .unwrap_or_default();
        let lo = hist.iter().copied().fold(f64::INFINITY, f64::min) - 0.01;
        let hi = hist.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let data: Vec<u64> = hist
            .iter()
            .map(|v| ((v - lo) * 1000.0).round().max(1.0) as u64)
            .collect();
        let max = ((hi - lo) * 1000.0).round().max(1.0) as u64;
        if !data.is_empty() {
            // The newest points when the history is wider than the pane.
            let w = spark_area.width as usize;
            let from = data.len().saturating_sub(w);
            f.render_widget(
                Sparkline::default()
                    .data(&data[from..])
                    .max(max)
                    .style(t.series(i)),
                spark_area,
            );
        }
    }
    // Per-seed results of a repeated run.
    let rest = areas[areas.len() - 1];
    if live.seeds.len() > 1 && rest.height > 0 {
        let mut parts: Vec<Span> = vec![Span::styled(format!("{}: ", s::PANEL_SEEDS), t.dim())];
        let aucs = live.seed_aucs();
        let mut done = Vec::new();
        for (seed, v, _) in &aucs {
            parts.push(Span::raw(format!("{seed}:{} ", s::auc(*v))));
            if let Some(v) = v {
                done.push(*v);
            }
        }
        let mut lines = vec![Line::from(parts)];
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
        f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), rest);
    }
}

fn draw_log(f: &mut Frame, area: Rect, app: &App, live: &Live) {
    let t = &app.theme;
    let title = if live.log_scroll > 0 {
        format!(" {} (↑{}) ", s::PANEL_LOG, live.log_scroll)
    } else {
        format!(" {} ", s::PANEL_LOG)
    };
    let b = block(title, t);
    let inner = b.inner(area);
    let h = inner.height as usize;
    let w = (inner.width as usize).max(1);
    let end = live.logs.len().saturating_sub(live.log_scroll);
    // Wrap the newest entries until the pane is full.
    let mut lines: Vec<Line> = Vec::new();
    for l in live.logs[..end].iter().rev() {
        let style = match l.level {
            LogLevel::Info => Default::default(),
            LogLevel::Warn => t.warn(),
            LogLevel::Error => t.error(),
        };
        let chars: Vec<char> = l.text.chars().collect();
        let mut parts: Vec<Line> = chars
            .chunks(w)
            .map(|c| Line::styled(c.iter().collect::<String>(), style))
            .collect();
        if parts.is_empty() {
            parts.push(Line::raw(""));
        }
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
