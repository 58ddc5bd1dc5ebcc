//! Runs: the store as a table (sortable, filterable, markable for comparison).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use super::super::app::App;
use super::super::runs::SortColumn;
use super::super::strings as s;
use super::super::widgets::{block, marker};

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let r = &app.runs;
    let [info, table_area, sel] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);

    let arrow = if r.reverse { "↑" } else { "↓" };
    let mut spans = vec![
        Span::styled(format!("{} ", s::RUNS_TITLE), t.title()),
        Span::styled(format!("{}/{}  ", r.visible.len(), r.rows.len()), t.dim()),
        Span::styled(format!("{}: ", s::SORT_LABEL), t.dim()),
        Span::raw(format!("{}{arrow}  ", r.sort.label())),
    ];
    if !r.filter.is_empty() {
        spans.push(Span::styled(format!("{}: ", s::FILTER_LABEL), t.dim()));
        spans.push(Span::styled(format!("{}  ", r.filter), t.accent()));
    }
    if !r.marked.is_empty() {
        spans.push(Span::styled(
            format!("{}: {}", s::MARKED_LABEL, r.marked.len()),
            t.warn(),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), info);

    let b = block("", t);
    if let Some(e) = r.error.as_ref().or(app.store_error.as_ref()) {
        f.render_widget(
            Paragraph::new(vec![
                Line::styled(s::RUNS_NO_STORE, t.error()),
                Line::raw(e.clone()),
            ])
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
    let head = |k: Option<SortColumn>, label: &str| {
        let on = k == Some(r.sort);
        Cell::from(Span::styled(
            if on {
                format!("{label}{arrow}")
            } else {
                label.to_string()
            },
            if on { t.title() } else { t.bold() },
        ))
    };
    let header = Row::new(vec![
        Cell::from(""),
        head(Some(SortColumn::Status), s::COL_STATUS),
        head(Some(SortColumn::Split), s::COL_SPLIT),
        head(Some(SortColumn::Head), s::COL_HEAD),
        head(Some(SortColumn::Scorer), s::COL_SCORER),
        head(Some(SortColumn::Auc), s::COL_AUC),
        head(Some(SortColumn::Date), s::COL_DATE),
        head(None, s::COL_TAGS),
    ]);
    // Narrow terminals get abbreviated heads and scorers (the full run shows below the table).
    let narrow = area.width < 100;
    let abbrev = |v: &str| -> String {
        if !narrow {
            return v.to_string();
        }
        v.replace("adacos-fixed", "adacos-fix")
            .replace("adacos-dynamic", "adacos-dyn")
            .replace("-cosine", "-cos")
    };
    let rows: Vec<Row> = r
        .visible
        .iter()
        .enumerate()
        .map(|(i, &ri)| {
            let row = &r.rows[ri];
            let selected = i == r.cursor;
            let mark = format!(
                "{}{}",
                marker(selected).trim_end(),
                if r.is_marked(&row.id) { "*" } else { " " }
            );
            Row::new(vec![
                Cell::from(mark),
                Cell::from(Span::styled(row.status.clone(), t.status(&row.status))),
                Cell::from(row.split.clone()),
                Cell::from(abbrev(&row.head)),
                Cell::from(abbrev(&row.scorer)),
                Cell::from(s::auc(row.auc)),
                Cell::from(row.date.clone()),
                Cell::from(row.tags.clone()),
            ])
        })
        .collect();
    let (head_w, scorer_w) = if narrow { (10, 9) } else { (14, 12) };
    let widths = [
        Constraint::Length(2),
        Constraint::Length(11),
        Constraint::Fill(3),
        Constraint::Length(head_w),
        Constraint::Length(scorer_w),
        Constraint::Length(5),
        Constraint::Length(11),
        Constraint::Fill(1),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .block(b)
        .row_highlight_style(t.selected())
        .column_spacing(1);
    let mut state = TableState::default().with_selected(Some(r.cursor));
    f.render_stateful_widget(table, table_area, &mut state);

    if let Some(row) = r.selected_row() {
        let mut spans = vec![Span::styled(row.id.clone(), t.bold())];
        if row.unreadable.is_none() {
            spans.push(Span::styled(format!("  {}", row.split), t.dim()));
        }
        if let Some(reason) = &row.unreadable {
            spans.push(Span::styled(format!("  {reason}"), t.error()));
        } else if !row.note.is_empty() {
            spans.push(Span::styled(format!("  {}", row.note), t.dim()));
        }
        f.render_widget(Paragraph::new(Line::from(spans)), sel);
    }
}
