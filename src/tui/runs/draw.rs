//! Runs: the store as an experiment table — one row per run or study (a study expands into
//! its cells and runs), one AUC column per scorer, columns the terminal cannot fit dropped by
//! priority (never the one under the column cursor), text that does not fit cut with `…`.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row as TableRow, Table, TableState};
use ratatui::Frame;

use super::super::strings as s;
use super::super::text::{fit_line, wrap_lines};
use super::super::theme::Theme;
use super::super::widgets::{block, fit, marker};
use super::cells::cell;
use super::{shared_ends, short_name, Column, Item, RunsState};

/// Below this priority a column gives way to the name's full width.
const NAME_GROWTH: u8 = 50;

/// Width of the mark column (`>` cursor, `*` marked).
const MARK_W: u16 = 2;

/// How a column is sized: (least width, widest it grows to, priority: lower is dropped
/// first). The primary AUC column is never dropped; tags, which users write to tell runs
/// apart, outrank the split, the other scorers and the bookkeeping columns.
fn sizing(c: Column, auc_rank: usize, wide: bool) -> (usize, usize, u8) {
    match c {
        // Names are shortened around what differs; a wide table gives them more room.
        Column::Name => (if wide { 28 } else { 20 }, 40, 100),
        Column::Primary => (5, 18, 95),
        Column::Status => (11, 18, 90),
        Column::Head => (12, 14, 70),
        Column::Tags => (8, 20, 65),
        Column::Split => (14, 26, 60),
        Column::Repeat => (2, 5, 40),
        Column::Epochs => (2, 5, 35),
        Column::Duration => (5, 6, 30),
        // The other scorers' AUCs: the primary one is shown already.
        Column::Auc(_) => (5, 12, 28u8.saturating_sub(auc_rank as u8)),
        Column::Date => (11, 11, 10),
    }
}

/// The columns that fit in `width` and their widths: the ones of lowest priority go first
/// (never `keep`); the room left grows the others up to their natural widths, by priority,
/// the name last (it often repeats the split and head shown beside it).
pub fn layout_columns(
    cols: &[(Column, usize, usize, u8)],
    width: usize,
    keep: Column,
) -> Vec<(Column, usize)> {
    // (column, least, natural, priority)
    let mut chosen: Vec<(Column, usize, usize, u8)> = cols.to_vec();
    let need = |v: &[(Column, usize, usize, u8)]| -> usize {
        v.iter().map(|c| c.1).sum::<usize>() + v.len().saturating_sub(1)
    };
    // A column of priority `p` is worth its room only beside the more important ones at
    // their natural widths. A name shortened around what differs still tells runs apart:
    // its full width counts only against the less useful columns.
    let growth = |v: &[(Column, usize, usize, u8)], p: u8| -> usize {
        v.iter()
            .filter(|x| x.3 > p && (x.0 != Column::Name || p < NAME_GROWTH))
            .map(|x| x.2.saturating_sub(x.1))
            .sum()
    };
    while chosen.len() > 1 {
        let drop = chosen
            .iter()
            .enumerate()
            .filter(|(_, c)| c.0 != keep && c.0 != Column::Primary)
            .min_by_key(|(_, c)| c.3)
            .map(|(i, c)| (i, c.3));
        let Some((i, p)) = drop else { break };
        if need(&chosen) + growth(&chosen, p) <= width {
            break;
        }
        chosen.remove(i);
    }
    while need(&chosen) > width && chosen.len() > 1 {
        // What must stay does not fit: the least important of it goes.
        let Some(i) = chosen
            .iter()
            .enumerate()
            .filter(|(_, c)| c.0 != Column::Primary)
            .min_by_key(|(_, c)| c.3)
            .map(|(i, _)| i)
        else {
            break;
        };
        chosen.remove(i);
    }
    // Dropping by priority may free more room than needed: a column comes back where it
    // fits by the same measure, the most important first, in its place.
    let mut dropped: Vec<&(Column, usize, usize, u8)> = cols
        .iter()
        .filter(|c| !chosen.iter().any(|x| x.0 == c.0))
        .collect();
    dropped.sort_by_key(|c| std::cmp::Reverse(c.3));
    for c in dropped {
        if need(&chosen) + growth(&chosen, c.3) + c.1 + 1 <= width {
            chosen.push(*c);
        }
    }
    let order = |c: &Column| cols.iter().position(|x| x.0 == *c);
    chosen.sort_by_key(|c| order(&c.0));
    let mut widths: Vec<usize> = chosen.iter().map(|c| c.1).collect();
    let mut room = width.saturating_sub(need(&chosen));
    let mut order: Vec<usize> = (0..chosen.len()).collect();
    order.sort_by_key(|&i| (chosen[i].0 == Column::Name, std::cmp::Reverse(chosen[i].3)));
    for i in order {
        let grow = chosen[i].2.saturating_sub(widths[i]).min(room);
        widths[i] += grow;
        room -= grow;
    }
    // What is left goes to the name.
    if let Some(i) = chosen.iter().position(|c| c.0 == Column::Name) {
        widths[i] += room;
    }
    chosen.iter().zip(widths).map(|(c, w)| (c.0, w)).collect()
}

/// The table of `r`; `store_error` says why the store could not be opened.
pub fn draw(f: &mut Frame, area: Rect, t: &Theme, r: &RunsState, store_error: Option<&str>) {
    let [info, table_area, sel] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);

    let arrow = if r.reverse { "↑" } else { "↓" };
    let runs_shown = r
        .visible
        .iter()
        .filter(|it| matches!(it, Item::Run { .. }))
        .count()
        + r.visible
            .iter()
            .filter_map(|it| match it {
                Item::Study(si) if !r.expanded.contains(&r.studies[*si].name) => {
                    Some(r.studies[*si].all_rows().count())
                }
                _ => None,
            })
            .sum::<usize>();
    let mut spans = vec![
        Span::styled(format!("{} ", s::RUNS_TITLE), t.title()),
        Span::styled(format!("{runs_shown}/{}", r.rows.len()), t.dim()),
    ];
    if !r.studies.is_empty() {
        let in_studies: usize = r.studies.iter().map(|g| g.all_rows().count()).sum();
        spans.push(Span::styled(
            s::in_studies(in_studies, r.studies.len()),
            t.dim(),
        ));
    }
    if !r.filter.is_empty() {
        spans.push(Span::styled(format!("  {}: ", s::FILTER_LABEL), t.dim()));
        match &r.filter_error {
            None => spans.push(Span::styled(r.filter.clone(), t.accent())),
            Some(_) => spans.push(Span::styled(
                format!("{} ({})", r.filter, s::FILTER_NOT_APPLIED),
                t.error(),
            )),
        }
    }
    if !r.marked.is_empty() {
        spans.push(Span::styled(
            format!("  {}: {}", s::MARKED_LABEL, r.marked.len()),
            t.warn(),
        ));
    }
    spans.extend([
        Span::styled(format!("  {}: ", s::SORT_LABEL), t.dim()),
        Span::raw(format!("{}{arrow}", r.sort_label(r.sort))),
    ]);
    // The cursor's column when it fits whole; the rest cut by the one rule.
    let column = [
        Span::styled(format!("  {}: ", s::COLUMN_LABEL), t.dim()),
        Span::raw(r.sort_label(r.column)),
    ];
    let room = info.width as usize;
    if Line::from(spans.clone()).width() + column.iter().map(Span::width).sum::<usize>() <= room {
        spans.extend(column);
    }
    f.render_widget(Paragraph::new(fit_line(Line::from(spans), room)), info);

    let b = block(s::RUNS_AUC_NOTE, t);
    if let Some(e) = r.error.as_deref().or(store_error) {
        f.render_widget(
            Paragraph::new(wrap_lines(
                [
                    Line::styled(s::RUNS_NO_STORE, t.error()),
                    Line::raw(e.to_string()),
                ],
                table_area.width.saturating_sub(2) as usize,
            ))
            .block(b),
            table_area,
        );
        return;
    }
    if r.visible.is_empty() {
        let msg = if r.rows.is_empty() {
            s::RUNS_EMPTY
        } else {
            s::RUNS_NO_MATCH
        };
        f.render_widget(
            Paragraph::new(Line::styled(msg, t.dim())).block(b),
            table_area,
        );
        return;
    }

    // Natural widths from what the lines hold.
    let all = r.columns();
    let mut auc_rank = 0;
    let mut specs = Vec::new();
    for c in &all {
        let (least, widest, prio) = sizing(*c, auc_rank, table_area.width >= 100);
        if matches!(c, Column::Auc(_)) {
            auc_rank += 1;
        }
        let header = r.header(*c).chars().count() + 1;
        let texts: Vec<String> = r.visible.iter().map(|it| cell(r, *it, *c, t).0).collect();
        let content = texts.iter().map(|x| x.chars().count()).max().unwrap_or(0);
        let natural = content.max(header).min(widest);
        // A column that says the same on every top line (a study's own lines leave out
        // what their study line says, an unreadable run has nothing to say) tells no run
        // apart: it goes first.
        let readable = |row: usize| r.rows.get(row).is_some_and(|x| x.unreadable.is_none());
        let mut top = r
            .visible
            .iter()
            .zip(&texts)
            .filter(|(it, _)| match it {
                Item::Study(_) => true,
                Item::Run { row, depth: 0 } => readable(*row),
                _ => false,
            })
            .map(|(_, x)| x);
        let first = top.next();
        let same = top.all(|x| Some(x) == first);
        let prio = if same && !matches!(c, Column::Name | Column::Primary) {
            prio / 10
        } else {
            prio
        };
        // Short columns never need shrinking below what they hold.
        let least = if matches!(
            c,
            Column::Primary
                | Column::Auc(_)
                | Column::Date
                | Column::Epochs
                | Column::Repeat
                | Column::Duration
        ) {
            natural
        } else {
            least.min(natural)
        };
        specs.push((*c, least, natural, prio));
    }
    let inner_w = table_area.width.saturating_sub(2 + MARK_W + 1) as usize;
    let keep = if all.contains(&r.column) {
        r.column
    } else {
        Column::Name
    };
    let shown = layout_columns(&specs, inner_w, keep);

    let header_cell = |c: Column, w: usize| {
        let mut label = r.header(c);
        if c == r.sort {
            label.push_str(arrow);
        }
        let style = if c == r.column {
            t.title().add_modifier(ratatui::style::Modifier::REVERSED)
        } else if c == r.sort {
            t.title()
        } else {
            t.bold()
        };
        Cell::from(Span::styled(fit(&label, w), style))
    };
    // What the listed runs' names share, so a shortened name keeps what differs.
    let names: Vec<&str> = r
        .visible
        .iter()
        .filter_map(|it| match it {
            Item::Run { row, depth: 0 } => r.rows.get(*row),
            _ => None,
        })
        .filter(|x| x.unreadable.is_none())
        .map(|x| x.name.as_str())
        .collect();
    let ends = shared_ends(&names);
    let mut header = vec![Cell::from("")];
    header.extend(shown.iter().map(|(c, w)| header_cell(*c, *w)));
    let rows: Vec<TableRow> = r
        .visible
        .iter()
        .enumerate()
        .map(|(i, it)| {
            let marked = match it {
                Item::Run { row, .. } => r.rows.get(*row).is_some_and(|x| r.is_marked(&x.id)),
                _ => false,
            };
            let mark = format!(
                "{}{}",
                marker(i == r.cursor).trim_end(),
                if marked { "*" } else { " " }
            );
            let mut cells = vec![Cell::from(mark)];
            cells.extend(shown.iter().map(|(c, w)| {
                let (text, style) = cell(r, *it, *c, t);
                let text = match it {
                    Item::Run { depth: 0, .. } if *c == Column::Name => short_name(&text, *w, ends),
                    _ => fit(&text, *w),
                };
                Cell::from(Span::styled(text, style))
            }));
            TableRow::new(cells)
        })
        .collect();
    let mut widths = vec![Constraint::Length(MARK_W)];
    widths.extend(shown.iter().map(|(_, w)| Constraint::Length(*w as u16)));
    let table = Table::new(rows, widths)
        .header(TableRow::new(header))
        .block(b)
        .row_highlight_style(t.selected())
        .column_spacing(1);
    let mut state = TableState::default().with_selected(Some(r.cursor));
    f.render_stateful_widget(table, table_area, &mut state);

    // What the cursor is on, in full.
    let line = match r.selected_item() {
        Some(Item::Run { row, .. }) => r.rows.get(row).map(|row| {
            let mut spans = vec![Span::styled(row.id.clone(), t.bold())];
            if let Some(reason) = &row.unreadable {
                spans.push(Span::styled(format!("  {reason}"), t.error()));
            } else {
                spans.push(Span::styled(format!("  {}", row.split), t.dim()));
                if !row.note.is_empty() {
                    spans.push(Span::styled(format!("  {}", row.note), t.dim()));
                }
            }
            Line::from(spans)
        }),
        Some(Item::Study(si)) => r.studies.get(si).map(|g| {
            let mut spans = vec![
                Span::styled(format!("{} {}", s::STUDY_TITLE, g.name), t.bold()),
                Span::styled(
                    format!(
                        "  {} cells × {} seeds, AUC {}",
                        g.cells.len(),
                        g.seeds,
                        g.scorer
                    ),
                    t.dim(),
                ),
            ];
            if let Some(e) = &g.error {
                spans.push(Span::styled(
                    format!("  {}: {e}", s::STUDY_NO_FILE),
                    t.warn(),
                ));
            } else if !g.description.is_empty() {
                spans.push(Span::styled(format!("  {}", g.description), t.dim()));
            }
            Line::from(spans)
        }),
        Some(Item::Cell { study, cell }) => r
            .studies
            .get(study)
            .and_then(|g| g.cells.get(cell).map(|c| (g, c)))
            .map(|(g, c)| {
                let cmp = match &c.result.comparison {
                    Some(cm) => format!(
                        "  Δ {:+.3} [{:+.3}, {:+.3}] vs cell 1",
                        cm.median_diff, cm.low, cm.high
                    ),
                    None => String::new(),
                };
                Line::from(vec![
                    Span::styled(format!("{} · cell {}", g.name, cell + 1), t.bold()),
                    Span::styled(format!("  {}{cmp}", c.label), t.dim()),
                ])
            }),
        None => None,
    };
    if let Some(l) = line {
        f.render_widget(Paragraph::new(fit_line(l, sel.width as usize)), sel);
    }
}
