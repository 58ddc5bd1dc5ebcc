//! The experiment table's order: the sort key of a row or study under a column, how keys
//! compare, the rank of a status.

use std::cmp::Ordering;

use crate::store::query::cmp_auc_desc;

use super::super::study::StudyGroup;

use super::*;

/// A value to sort on.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Key {
    /// Ascending text; empty last.
    Text(String),
    /// Descending text (newest id first).
    TextDesc(String),
    /// Ascending number.
    Num(i64),
    /// Best AUC first; none last.
    Auc(Option<f64>),
}

pub(super) fn cmp_key(a: &Key, b: &Key) -> Ordering {
    match (a, b) {
        (Key::Text(x), Key::Text(y)) => match (x.is_empty(), y.is_empty()) {
            (false, true) => Ordering::Less,
            (true, false) => Ordering::Greater,
            _ => x.to_lowercase().cmp(&y.to_lowercase()),
        },
        (Key::TextDesc(x), Key::TextDesc(y)) => y.cmp(x),
        (Key::Num(x), Key::Num(y)) => x.cmp(y),
        (Key::Auc(x), Key::Auc(y)) => cmp_auc_desc(*x, *y),
        _ => Ordering::Equal,
    }
}

pub(super) fn status_rank(status: &str) -> i64 {
    match status {
        "running" => 0,
        "finished" => 1,
        "interrupted" => 2,
        "failed" => 3,
        _ => 4,
    }
}

impl RunsState {
    pub(super) fn sort_key(&self, it: Item, col: Column) -> Key {
        match it {
            Item::Run { row, .. } => {
                let r = &self.rows[row];
                match col {
                    Column::Name => Key::Text(r.name.clone()),
                    Column::Status => Key::Num(status_rank(&r.status)),
                    Column::Split => Key::Text(r.split.clone()),
                    Column::Head => Key::Text(r.head.clone()),
                    Column::Epochs => Key::Num(-(r.epochs_planned as i64)),
                    Column::Repeat => Key::Num(-(r.repeat as i64)),
                    Column::Duration => Key::Num(-r.duration),
                    Column::Primary => {
                        Key::Auc(r.primary().and_then(|k| r.auc.get(&k)).map(|c| c.value))
                    }
                    Column::Auc(k) => Key::Auc(r.auc.get(&k).map(|c| c.value)),
                    Column::Tags => Key::Text(r.tags.clone()),
                    Column::Date => Key::TextDesc(r.id.clone()),
                }
            }
            Item::Study(si) => {
                let g = &self.studies[si];
                let first = g.all_rows().next().and_then(|r| self.rows.get(r));
                match col {
                    Column::Name => Key::Text(g.name.clone()),
                    Column::Status => Key::Num(if g.running > 0 { 0 } else { 1 }),
                    Column::Split => Key::Text(first.map(|r| r.split.clone()).unwrap_or_default()),
                    Column::Head => Key::Text(first.map(|r| r.head.clone()).unwrap_or_default()),
                    Column::Epochs => Key::Num(-(first.map_or(0, |r| r.epochs_planned) as i64)),
                    Column::Repeat => Key::Num(-(g.total as i64)),
                    Column::Duration => Key::Num(-self.study_duration(g)),
                    Column::Primary => Key::Auc(g.best_cell(g.scorer).map(|(_, s)| s.median)),
                    Column::Auc(k) => Key::Auc(g.best_cell(k).map(|(_, s)| s.median)),
                    Column::Tags => Key::Text(String::new()),
                    Column::Date => Key::TextDesc(self.newest_id(it).to_string()),
                }
            }
            Item::Cell { .. } => Key::Num(0),
        }
    }

    /// Seconds all of a study's runs took together.
    pub fn study_duration(&self, g: &StudyGroup) -> i64 {
        g.all_rows()
            .filter_map(|r| self.rows.get(r))
            .map(|r| r.duration)
            .sum()
    }

    /// The newest run id of a line (a study's newest run).
    pub(super) fn newest_id(&self, it: Item) -> &str {
        match it {
            Item::Run { row, .. } => self.rows.get(row).map_or("", |r| r.id.as_str()),
            Item::Study(si) | Item::Cell { study: si, .. } => self
                .studies
                .get(si)
                .and_then(|g| {
                    g.all_rows()
                        .filter_map(|r| self.rows.get(r))
                        .map(|r| r.id.as_str())
                        .max()
                })
                .unwrap_or(""),
        }
    }
}
