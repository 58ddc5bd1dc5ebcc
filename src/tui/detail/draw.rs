//! One run in full: overview (with the identity and views-averaged AUC of runs scored with
//! test-time views), per-epoch charts, ROC curves, the AUC spread of a repeated run, each
//! view's AUC, each defect type's AUC (MVTec), the most anomalous / most normal test
//! images, and a folder scored with the run's detector (`s`).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Tabs};
use ratatui::Frame;

use crate::config::ScorerKind;

use super::super::images::PixelMode;
use super::super::strings as s;
use super::super::text::{fit, fit_lines, wrap_lines};
use super::super::theme::Theme;
use super::super::widgets::block;
use super::{Detail, DetailPage};

use super::charts::{epochs, roc, spread};
use super::folder::folder;
use super::images::images;

/// The run `d`; thumbnails are drawn with `pixels`.
pub fn draw(f: &mut Frame, area: Rect, t: &Theme, pixels: PixelMode, d: &Detail) {
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
        Span::styled(format!("  {}", rec.name()), t.dim()),
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
    let lines = fit_lines([Line::from(l1), l2], head.width as usize);
    f.render_widget(Paragraph::new(lines), head);
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
        DetailPage::Images => images(f, body, (t, pixels), d),
        DetailPage::Folder => folder(f, body, (t, pixels), d.folder.as_ref(), d.scroll),
    }
}

fn overview(f: &mut Frame, area: Rect, t: &Theme, d: &Detail) {
    let rec = &d.run.record;
    let c = &rec.config;
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(52), Constraint::Percentage(48)]).areas(area);
    // Reference images: the count only where there are any (the record's own when it has
    // one: training images that are not normal).
    let none = match &c.data.reference {
        None => c.data.anomalous.is_rest(),
        Some(v) => v.is_empty(),
    };
    let reference = match &c.data.reference {
        _ if none => s::REFERENCE_NONE.to_string(),
        None => s::REFERENCE_ALL.to_string(),
        Some(v) => v
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let reference = match rec
        .data
        .as_ref()
        .map(|d| d.train.saturating_sub(d.normal_train))
    {
        _ if none => reference,
        Some(n) => format!("{reference} ({} imgs)", crate::config::thousands(n)),
        None => format!("{reference} (up to {} imgs)", c.data.reference_count),
    };
    let classes = rec
        .data
        .as_ref()
        .map(|d| crate::data::transforms::head_classes(c, d.classes));
    let head_params = match crate::model::head::describe_params(&c.head, classes) {
        p if p.is_empty() => p,
        p => format!(": {p}"),
    };
    // Values wrap onto the next line rather than being cut.
    let room = left.width.saturating_sub(2) as usize;
    let kv = |k: &str, v: String| kv_wrapped(k, &v, room, t);
    let lines = vec![
        kv("split", c.split_label()),
        kv("reference", reference),
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
    let lines = fit_lines(lines.into_iter().flatten(), room);
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
    // Whether the run can be used as a detector (`s` scores a folder with it).
    m.push(Line::raw(""));
    m.extend(kv_wrapped(
        s::DETECTOR_LABEL,
        &s::detector_status(&d.detector),
        right.width.saturating_sub(2) as usize,
        t,
    ));
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
        Paragraph::new(fit_lines(m, right.width.saturating_sub(2) as usize))
            .block(block(" Results ", t))
            .scroll((d.scroll, 0)),
        right,
    );
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
            Paragraph::new(wrap_lines(
                [Line::styled(s::NO_RESULT, t.dim())],
                area.width.saturating_sub(2) as usize,
            ))
            .block(block(fit(title, area.width.saturating_sub(2) as usize), t)),
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
            .block(block(fit(&title, area.width.saturating_sub(2) as usize), t))
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

/// Each defect type's (or, with several anomalous classes, each class's) AUC for the selected
/// seed (normal test images against the group's).
fn groups(f: &mut Frame, area: Rect, t: &Theme, d: &Detail) {
    let classes = d.run.record.config.data.dataset != crate::config::DatasetKind::Mvtec;
    let (page, all_row, col) = if classes {
        (s::CLASSES_PAGE_TITLE, s::CLASSES_ALL_ROW, "class")
    } else {
        (s::GROUPS_PAGE_TITLE, s::GROUPS_ALL_ROW, "defect")
    };
    let title = seed_title(page, d);
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
        vec![all_row.to_string(), format!("{all:>6}")],
        r.auc.clone(),
        true,
    ));
    auc_table(f, area, t, title, &[col, "images"], scorers, rows);
}
