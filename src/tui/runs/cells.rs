//! What each cell of the Runs table shows: a run's line (name shortened from the middle,
//! status, split, head, AUCs, tags…), a study's line (its cells' progress and best AUC), and
//! their styles (marked runs bold, AUCs coloured by rank).

use ratatui::style::Style;

use crate::config::ScorerKind;

use super::super::strings as s;
use super::super::study::StudyGroup;
use super::super::theme::Theme;
use super::{Column, Item, Row, RunsState};

/// What a line shows in one column, and its style.
pub(super) fn cell(r: &RunsState, it: Item, c: Column, t: &Theme) -> (String, Style) {
    match it {
        Item::Run { row, depth } => match r.rows.get(row) {
            Some(x) => run_cell(r, x, depth, c, t),
            None => (String::new(), Style::default()),
        },
        Item::Study(si) => match r.studies.get(si) {
            Some(g) => study_cell(r, g, c, t),
            None => (String::new(), Style::default()),
        },
        Item::Cell { study, cell } => match r
            .studies
            .get(study)
            .and_then(|g| g.cells.get(cell).map(|cg| (g, cg)))
        {
            Some((g, cg)) => {
                let res = &cg.result;
                match c {
                    Column::Name => (format!("  {}", cg.label), t.accent()),
                    Column::Status => (done_text(res.done, res.running, res.total), t.dim()),
                    Column::Repeat => (format!("×{}", res.total), t.dim()),
                    Column::Primary | Column::Auc(_) => {
                        let k = match c {
                            Column::Auc(k) => k,
                            _ => g.scorer,
                        };
                        match res.summary.get(&k) {
                            Some(sm) => {
                                let cell = super::AucCell {
                                    value: sm.median,
                                    iqr: (sm.n > 1).then_some(sm.q3 - sm.q1),
                                    live: false,
                                };
                                let style = if k == g.scorer {
                                    t.bold()
                                } else {
                                    Style::default()
                                };
                                (named(r, c, cell.text(), k), style)
                            }
                            None => (String::new(), Style::default()),
                        }
                    }
                    _ => (String::new(), Style::default()),
                }
            }
            None => (String::new(), Style::default()),
        },
    }
}

fn done_text(done: usize, running: usize, total: usize) -> String {
    if running > 0 {
        format!("{done}/{total} ▶{running}")
    } else {
        format!("{done}/{total} {}", s::STUDY_DONE)
    }
}

fn run_cell(r: &RunsState, x: &Row, depth: u8, c: Column, t: &Theme) -> (String, Style) {
    let plain = |v: String| (v, Style::default());
    // Under a cell, what the cell line says already is not repeated.
    let in_cell = depth == 2;
    match c {
        Column::Name => {
            let name = match (depth, &x.study) {
                (2, _) => format!("    {} {}", s::SEED_LABEL, x.seed),
                (1, Some(st)) => format!("  {} {} {}", st.cell, s::SEED_LABEL, x.seed),
                _ => x.name.clone(),
            };
            plain(name)
        }
        Column::Status => (x.status_text(), t.status(&x.status)),
        Column::Split | Column::Head | Column::Repeat if in_cell => plain(String::new()),
        Column::Epochs if in_cell && !x.epochs.contains('/') => plain(String::new()),
        Column::Split => plain(x.split.clone()),
        Column::Head => plain(x.head.clone()),
        Column::Epochs => plain(x.epochs.clone()),
        Column::Repeat if x.repeat > 0 => plain(format!("×{}", x.repeat)),
        Column::Repeat => plain(String::new()),
        Column::Duration if x.unreadable.is_none() => plain(s::duration(x.duration as f64)),
        Column::Duration => plain(String::new()),
        Column::Primary => match x.primary() {
            Some(k) => run_auc(r, x, c, k, t),
            None => ("–".into(), t.dim()),
        },
        Column::Auc(k) => run_auc(r, x, c, k, t),
        // A study's own tags (`study:…`, `cell:…`) say what the tree shows.
        Column::Tags if x.study.is_some() => (
            x.tags
                .split(' ')
                .filter(|t| !t.starts_with("study:") && !t.starts_with("cell:"))
                .collect::<Vec<_>>()
                .join(" "),
            t.accent(),
        ),
        Column::Tags => (x.tags.clone(), t.accent()),
        Column::Date => plain(x.date.clone()),
    }
    .with_marked(r.is_marked(&x.id) && c == Column::Name)
}

/// A run's AUC of scorer `k` in column `c`.
fn run_auc(r: &RunsState, x: &Row, c: Column, k: ScorerKind, t: &Theme) -> (String, Style) {
    match x.auc.get(&k) {
        Some(a) => {
            let style = if a.live {
                t.accent()
            } else if x.primary() == Some(k) {
                t.bold()
            } else {
                Style::default()
            };
            (named(r, c, a.text(), k), style)
        }
        // The run did not use this scorer.
        None if x.unreadable.is_none() && !x.scorers.contains(&k) => (String::new(), t.dim()),
        None => ("–".into(), t.dim()),
    }
}

/// In the primary column of runs ranked by different scorers, a value names its scorer.
fn named(r: &RunsState, c: Column, text: String, k: ScorerKind) -> String {
    if c == Column::Primary && r.primary.is_none() {
        format!("{text} {}", s::scorer_short(k))
    } else {
        text
    }
}

trait Marked {
    fn with_marked(self, marked: bool) -> Self;
}

impl Marked for (String, Style) {
    /// Marked runs' names are bold (the `*` in the mark column says it without style too).
    fn with_marked(self, marked: bool) -> Self {
        if marked {
            (self.0, self.1.add_modifier(ratatui::style::Modifier::BOLD))
        } else {
            self
        }
    }
}

fn study_cell(r: &RunsState, g: &StudyGroup, c: Column, t: &Theme) -> (String, Style) {
    let first = g.all_rows().next().and_then(|i| r.rows.get(i));
    let distinct = |f: &dyn Fn(&Row) -> String| {
        let mut v: Vec<String> = g.all_rows().filter_map(|i| r.rows.get(i)).map(f).collect();
        v.sort();
        v.dedup();
        v.join(",")
    };
    match c {
        Column::Name => {
            let arrow = if r.expanded.contains(&g.name) {
                "▾"
            } else {
                "▸"
            };
            (format!("{arrow} {}", g.name), t.bold())
        }
        Column::Status => {
            let style = if g.running > 0 {
                t.status("running")
            } else if g.done == g.total {
                t.ok()
            } else {
                t.warn()
            };
            (done_text(g.done, g.running, g.total), style)
        }
        Column::Split => (
            first.map(|x| x.split.clone()).unwrap_or_default(),
            Style::default(),
        ),
        Column::Head => (distinct(&|x| x.head.clone()), Style::default()),
        Column::Epochs => (
            distinct(&|x| x.epochs_planned.to_string()),
            Style::default(),
        ),
        Column::Repeat => (format!("{}×{}", g.cells.len(), g.seeds), t.bold()),
        Column::Duration => (s::duration(r.study_duration(g) as f64), Style::default()),
        Column::Primary | Column::Auc(_) => {
            let k = match c {
                Column::Auc(k) => k,
                _ => g.scorer,
            };
            match g.best_cell(k) {
                Some((i, sm)) if g.cells.len() > 1 => (
                    named(
                        r,
                        c,
                        format!("{} {} {}", s::auc(Some(sm.median)), s::STUDY_BEST, i + 1),
                        k,
                    ),
                    if k == g.scorer { t.bold() } else { t.dim() },
                ),
                Some((_, sm)) => (named(r, c, s::auc(Some(sm.median)), k), t.bold()),
                None => (String::new(), t.dim()),
            }
        }
        Column::Tags => (String::new(), Style::default()),
        Column::Date => (
            g.all_rows()
                .filter_map(|i| r.rows.get(i))
                .map(|x| x.date.clone())
                .max()
                .unwrap_or_default(),
            Style::default(),
        ),
    }
}
