//! One run in full: overview (with the identity and views-averaged AUC of runs scored with
//! test-time views), per-epoch charts, ROC curves, the AUC spread of a repeated run, each
//! view's AUC, each defect type's AUC (MVTec), and the most anomalous / most normal test
//! images.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Tabs, Wrap};
use ratatui::Frame;

use crate::config::{HeadKind, ScorerKind};
use crate::score::Summary;
use crate::store::RunRecord;

use super::super::app::App;
use super::super::images::{HalfBlock, ImagesState, Thumb};
use super::super::runs::{split_thumbs, Detail, DetailPage};
use super::super::strings as s;
use super::super::theme::Theme;
use super::super::widgets::{block, fit, legend_name, line_chart, Series};

pub fn draw(f: &mut Frame, area: Rect, app: &App, d: &Detail) {
    let t = &app.theme;
    let rec = &d.run.record;
    let [head, tabs, body] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Min(3),
    ])
    .areas(area);
    let status = d.run.status.to_string();
    let seeds = rec.seeds.len();
    let seed_txt = match d.seed_value() {
        Some(v) if seeds > 1 => format!("  seed {v} ({}/{seeds})", d.seed + 1),
        Some(v) => format!("  seed {v}"),
        None => String::new(),
    };
    let mut l1 = vec![
        Span::styled(format!("{status} "), t.status(&status)),
        Span::styled(rec.id.clone(), t.bold()),
        Span::raw(seed_txt),
        Span::styled(format!("  {}", rec.profile), t.dim()),
    ];
    if !rec.tags.is_empty() {
        l1.push(Span::styled(
            format!("  [{}]", rec.tags.join(" ")),
            t.accent(),
        ));
    }
    let l2 = if let Some(r) = &rec.reason {
        Line::styled(format!("reason: {r}"), t.error())
    } else if !rec.note.is_empty() {
        Line::styled(format!("note: {}", rec.note), t.dim())
    } else {
        Line::styled(rec.config.split_label(), t.dim())
    };
    f.render_widget(Paragraph::new(vec![Line::from(l1), l2]), head);
    let pages = d.pages();
    f.render_widget(
        Tabs::new(pages.iter().map(|p| p.label()).collect::<Vec<_>>())
            .select(pages.iter().position(|p| *p == d.page).unwrap_or(0))
            .style(t.dim())
            .highlight_style(t.title().add_modifier(ratatui::style::Modifier::REVERSED))
            .divider("·"),
        tabs,
    );
    match d.page {
        DetailPage::Overview => overview(f, body, t, d),
        DetailPage::Epochs => epochs(f, body, t, d),
        DetailPage::Roc => roc(f, body, t, d),
        DetailPage::Spread => spread(f, body, t, rec),
        DetailPage::Views => views(f, body, t, d),
        DetailPage::Groups => groups(f, body, t, d),
        DetailPage::Images => images(f, body, app, d),
    }
}

fn overview(f: &mut Frame, area: Rect, t: &Theme, d: &Detail) {
    let rec = &d.run.record;
    let c = &rec.config;
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(52), Constraint::Percentage(48)]).areas(area);
    let reference = match &c.data.reference {
        None => "all others".to_string(),
        Some(v) => v
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let head_params = match c.head.kind {
        HeadKind::Arcface | HeadKind::Cosface => format!(" s={} m={}", c.head.s, c.head.m),
        HeadKind::L2Softmax => match c.head.alpha {
            Some(a) => format!(" α={a}"),
            None => " α=auto".into(),
        },
        _ => String::new(),
    };
    // Values wrap onto the next line rather than being cut.
    let room = left.width.saturating_sub(2) as usize;
    let kv = |k: &str, v: String| kv_wrapped(k, &v, room, t);
    let lines = vec![
        kv("split", c.split_label()),
        kv(
            "reference",
            format!("{reference} ({} imgs)", c.data.reference_count),
        ),
        kv(
            "normal",
            format!("{} training imgs", c.data.normal_train_count),
        ),
        kv(
            "model",
            format!(
                "widths {:?} ×{} conv, D={}",
                c.model.widths, c.model.convs_per_stage, c.model.embedding_dim
            ),
        ),
        kv("head", format!("{}{head_params}", c.head.kind)),
        kv(
            "scorers",
            c.score
                .scorers
                .iter()
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        kv(
            "training",
            format!(
                "{} epochs, batch {}, lr {}, {:?}",
                c.train.epochs, c.train.batch_size, c.train.lr, c.train.optimizer
            )
            .to_lowercase(),
        ),
        kv("seeds", format!("{} from {}", c.run.repeat, c.train.seed)),
        kv(
            "device",
            if rec.device.is_empty() {
                c.train.device.to_string()
            } else {
                format!("{} ({} threads)", rec.device, rec.threads)
            },
        ),
        kv("created", rec.created.to_string()),
        kv(
            "took",
            format!(
                "{} ({} epochs done)",
                s::duration(rec.duration_secs() as f64),
                rec.epochs_done()
            ),
        ),
        kv("host", format!("{} pid {}", rec.host, rec.pid)),
    ];
    let mut lines: Vec<Vec<Line>> = lines;
    if let Some(dc) = &rec.data {
        lines.insert(
            3,
            kv(
                "data",
                format!(
                    "{} train, {} test, {} classes",
                    dc.train, dc.test, dc.classes
                ),
            ),
        );
    }
    let lines: Vec<Line> = lines.into_iter().flatten().collect();
    f.render_widget(
        Paragraph::new(lines)
            .block(block(" Config ", t))
            .scroll((d.scroll, 0)),
        left,
    );

    let mut m = vec![Line::styled(
        format!("{:<13}{:>7}{:>7}{:>8}", "scorer", "AUC", "AP", "IQR"),
        t.bold(),
    )];
    for k in &c.score.scorers {
        let iqr = rec
            .summary
            .get(k)
            .filter(|sm| sm.n > 1)
            .map(|sm| format!("{:.3}", sm.q3 - sm.q1))
            .unwrap_or_else(|| "–".into());
        m.push(Line::raw(format!(
            "{:<13}{:>7}{:>7}{:>8}",
            k.as_str(),
            s::auc(rec.final_auc(*k)),
            s::auc(rec.final_ap(*k)),
            iqr
        )));
    }
    if d.has_views() {
        // What the test-time views add over the identity view alone, per scorer.
        let n = rec
            .seeds
            .iter()
            .filter_map(|sd| sd.result.as_ref())
            .map(|r| r.view_auc.len())
            .max()
            .unwrap_or(0);
        m.push(Line::raw(""));
        m.push(Line::styled(format!("{} ({n})", s::VIEWS_TITLE), t.dim()));
        m.push(Line::styled(
            format!(
                "{:<13}{:>8}{:>7}{:>7}",
                "scorer",
                s::VIEWS_IDENTITY,
                s::VIEWS_AVERAGED,
                s::VIEWS_GAIN
            ),
            t.bold(),
        ));
        for k in &c.score.scorers {
            let ident = rec.identity_summary.get(k).map(|sm| sm.median);
            let avg = rec.final_auc(*k);
            let gain = match (ident, avg) {
                (Some(i), Some(a)) => format!("{:+.3}", a - i),
                _ => "–".into(),
            };
            m.push(Line::raw(format!(
                "{:<13}{:>8}{:>7}{:>7}",
                k.as_str(),
                s::auc(ident),
                s::auc(avg),
                gain
            )));
        }
    }
    m.push(Line::raw(""));
    m.push(Line::styled(
        format!("{:<8}{:<13}{:>7}", "seed", "status", "AUC"),
        t.bold(),
    ));
    let primary = c.primary_scorer();
    for sr in &rec.seeds {
        let auc = sr
            .result
            .as_ref()
            .and_then(|r| r.auc.get(&primary).copied());
        m.push(Line::from(vec![
            Span::raw(format!("{:<8}", sr.seed)),
            Span::styled(
                format!("{:<13}", sr.status.to_string()),
                t.status(sr.status.as_str()),
            ),
            Span::raw(format!("{:>7}", s::auc(auc))),
        ]));
    }
    f.render_widget(
        Paragraph::new(m)
            .block(block(" Results ", t))
            .scroll((d.scroll, 0)),
        right,
    );
}

fn epochs(f: &mut Frame, area: Rect, t: &Theme, d: &Detail) {
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
    let one = |name: &str, points, i| {
        vec![Series {
            name: name.to_string(),
            points,
            style: t.series(i),
        }]
    };
    line_chart(
        f,
        a,
        s::CHART_LOSS,
        &one(s::CHART_LOSS, pts(|m| m.loss as f64), 0),
        x,
        None,
        t,
        s::NO_EPOCHS_YET,
    );
    line_chart(
        f,
        b,
        s::CHART_ACC,
        &one(s::CHART_ACC, pts(|m| m.accuracy as f64), 3),
        x,
        Some([0.0, 1.0]),
        t,
        s::NO_EPOCHS_YET,
    );
    line_chart(
        f,
        c,
        s::CHART_SCALE,
        &one(s::CHART_SCALE, pts(|m| m.scale as f64), 1),
        x,
        None,
        t,
        s::NO_EPOCHS_YET,
    );
    let auc: Vec<Series> = rec
        .config
        .score
        .scorers
        .iter()
        .enumerate()
        .map(|(i, k)| Series {
            name: legend_name(t, i, k.as_str()),
            points: ep
                .iter()
                .filter_map(|m| m.auc.get(k).map(|v| (m.epoch as f64, *v)))
                .collect(),
            style: t.series(i),
        })
        .collect();
    line_chart(f, e, s::PANEL_AUC, &auc, x, None, t, s::NO_AUC_YET);
}

fn roc(f: &mut Frame, area: Rect, t: &Theme, d: &Detail) {
    if let Err(e) = &d.scores {
        let msg = if e.is_empty() {
            s::NO_SCORES
        } else {
            e.as_str()
        };
        f.render_widget(
            Paragraph::new(Line::styled(msg.to_string(), t.dim()))
                .wrap(Wrap { trim: true })
                .block(block(" ROC ", t)),
            area,
        );
        return;
    }
    let mut series: Vec<Series> = d
        .roc
        .iter()
        .enumerate()
        .map(|(i, (k, auc, pts))| Series {
            name: legend_name(t, i, &format!("{k} {auc:.3}")),
            points: pts.clone(),
            style: t.series(series_index(&d.run.record, *k, i)),
        })
        .collect();
    series.push(Series {
        name: legend_name(t, series.len(), "chance"),
        points: vec![(0.0, 0.0), (1.0, 1.0)],
        style: t.dim(),
    });
    line_chart(
        f,
        area,
        "ROC (false positive rate → true positive rate)",
        &series,
        Some([0.0, 1.0]),
        Some([0.0, 1.0]),
        t,
        s::NO_SCORES,
    );
}

fn series_index(rec: &RunRecord, k: ScorerKind, fallback: usize) -> usize {
    rec.config
        .score
        .scorers
        .iter()
        .position(|x| *x == k)
        .unwrap_or(fallback)
}

/// `key  value` lines of the Config panel, the value wrapped at word boundaries to `width`
/// (a word longer than the room is cut with `…`).
fn kv_wrapped<'a>(k: &str, v: &str, width: usize, t: &Theme) -> Vec<Line<'a>> {
    const KEY_W: usize = 11;
    let room = width.saturating_sub(KEY_W).max(8);
    let mut parts: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in v.split(' ') {
        let word = fit(word, room);
        if cur.is_empty() {
            cur = word;
        } else if cur.chars().count() + 1 + word.chars().count() <= room {
            cur.push(' ');
            cur.push_str(&word);
        } else {
            parts.push(std::mem::replace(&mut cur, word));
        }
    }
    parts.push(cur);
    parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            Line::from(vec![
                Span::styled(format!("{:<KEY_W$}", if i == 0 { k } else { "" }), t.dim()),
                Span::raw(p),
            ])
        })
        .collect()
}

/// The selected seed's final result, or a notice that there is none.
fn seed_result<'a>(
    f: &mut Frame,
    area: Rect,
    t: &Theme,
    d: &'a Detail,
    title: &str,
) -> Option<&'a crate::store::SeedResult> {
    let r = d
        .run
        .record
        .seeds
        .get(d.seed)
        .and_then(|sd| sd.result.as_ref());
    if r.is_none() {
        f.render_widget(
            Paragraph::new(Line::styled(s::NO_RESULT, t.dim())).block(block(title.to_string(), t)),
            area,
        );
    }
    r
}

/// A table of AUCs: one row per (label, extra cells, AUC per scorer).
fn auc_table(
    f: &mut Frame,
    area: Rect,
    t: &Theme,
    title: String,
    head: &[&str],
    scorers: &[ScorerKind],
    rows: Vec<(
        Vec<String>,
        std::collections::BTreeMap<ScorerKind, f64>,
        bool,
    )>,
) {
    let label_w = rows
        .iter()
        .map(|(l, _, _)| l[0].chars().count())
        .chain(std::iter::once(head[0].chars().count()))
        .max()
        .unwrap_or(8)
        .min(24) as u16;
    let mut widths = vec![Constraint::Length(label_w)];
    widths.extend(head[1..].iter().map(|_| Constraint::Length(7)));
    widths.extend(
        scorers
            .iter()
            .map(|k| Constraint::Length((k.as_str().len() as u16).max(6))),
    );
    let mut header: Vec<Cell> = head
        .iter()
        .map(|h| Cell::from(Span::styled(h.to_string(), t.bold())))
        .collect();
    header.extend(
        scorers
            .iter()
            .map(|k| Cell::from(Span::styled(k.to_string(), t.bold()))),
    );
    let body: Vec<Row> = rows
        .into_iter()
        .map(|(labels, auc, total)| {
            let style = if total { t.bold() } else { Default::default() };
            let mut cells: Vec<Cell> = labels
                .into_iter()
                .enumerate()
                .map(|(i, l)| {
                    let l = if i == 0 { fit(&l, label_w as usize) } else { l };
                    Cell::from(Span::styled(l, style))
                })
                .collect();
            cells.extend(scorers.iter().map(|k| {
                Cell::from(Span::styled(
                    format!("{:>6}", s::auc(auc.get(k).copied())),
                    style,
                ))
            }));
            Row::new(cells)
        })
        .collect();
    f.render_widget(
        Table::new(body, widths)
            .header(Row::new(header))
            .block(block(title, t))
            .column_spacing(2),
        area,
    );
}

fn seed_title(base: &str, d: &Detail) -> String {
    match d.seed_value() {
        Some(v) => format!("{}— seed {v} ", base),
        None => base.to_string(),
    }
}

/// Each test-time view's AUC for the selected seed, and the views averaged.
fn views(f: &mut Frame, area: Rect, t: &Theme, d: &Detail) {
    let title = seed_title(s::VIEWS_PAGE_TITLE, d);
    let Some(r) = seed_result(f, area, t, d, &title) else {
        return;
    };
    let scorers = &d.run.record.config.score.scorers;
    let mut rows: Vec<_> = r
        .view_auc
        .iter()
        .map(|v| (vec![v.view.clone()], v.auc.clone(), false))
        .collect();
    rows.push((vec![s::VIEWS_MEAN_ROW.to_string()], r.auc.clone(), true));
    auc_table(f, area, t, title, &["view"], scorers, rows);
}

/// Each defect type's AUC for the selected seed (normal test images against the type's).
fn groups(f: &mut Frame, area: Rect, t: &Theme, d: &Detail) {
    let title = seed_title(s::GROUPS_PAGE_TITLE, d);
    let Some(r) = seed_result(f, area, t, d, &title) else {
        return;
    };
    let scorers = &d.run.record.config.score.scorers;
    let mut rows: Vec<_> = r
        .group_auc
        .iter()
        .map(|g| {
            (
                vec![g.group.clone(), format!("{:>6}", g.images)],
                g.auc.clone(),
                false,
            )
        })
        .collect();
    let all: usize = r.group_auc.iter().map(|g| g.images).sum();
    rows.push((
        vec![s::GROUPS_ALL_ROW.to_string(), format!("{all:>6}")],
        r.auc.clone(),
        true,
    ));
    auc_table(f, area, t, title, &["defect", "images"], scorers, rows);
}

/// Text boxplots of the final AUC over seeds, one per scorer, on a shared axis.
fn spread(f: &mut Frame, area: Rect, t: &Theme, rec: &RunRecord) {
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
            Paragraph::new(Line::styled(s::NO_REPEATS, t.dim())).wrap(Wrap { trim: true }),
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
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
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

fn images(f: &mut Frame, area: Rect, app: &App, d: &Detail) {
    let t = &app.theme;
    let scorer = d.run.record.config.primary_scorer();
    let b = block(format!(" Test images by {scorer} score "), t);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let thumbs = match &d.images {
        ImagesState::Loading => {
            f.render_widget(
                Paragraph::new(Line::styled(s::IMAGES_LOADING, t.dim())),
                inner,
            );
            return;
        }
        ImagesState::Missing(reason) => {
            f.render_widget(
                Paragraph::new(vec![
                    Line::styled(s::IMAGES_MISSING, t.warn()),
                    Line::raw(reason.clone()),
                ])
                .wrap(Wrap { trim: true }),
                inner,
            );
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
    strip(f, ra, app, s::IMAGES_MOST_ANOMALOUS, top, shrink, titled);
    strip(f, rb, app, s::IMAGES_MOST_NORMAL, bottom, shrink, titled);
}

fn strip(
    f: &mut Frame,
    area: Rect,
    app: &App,
    title: &str,
    thumbs: &[Thumb],
    shrink: u32,
    titled: bool,
) {
    let t = &app.theme;
    if area.height < 2 {
        return;
    }
    let mut x = area.x;
    let y0 = area.y + u16::from(titled);
    if titled {
        f.render_widget(
            Paragraph::new(Line::styled(title.to_string(), t.bold())),
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
        f.render_widget(
            HalfBlock {
                thumb: &th,
                mode: app.pixel_mode,
            },
            Rect::new(x, y0, w, h),
        );
        let cap = format!(
            "{:.3} {}",
            th.score,
            if th.anomalous { "anom" } else { "norm" }
        );
        f.render_widget(
            Paragraph::new(Line::styled(
                cap,
                if th.anomalous { t.warn() } else { t.dim() },
            )),
            Rect::new(x, y0 + h, cell_w.min(area.x + area.width - x), 1),
        );
        x += cell_w;
    }
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
