//! The Runs screen's state: the store as an experiment table — runs and studies as rows (a study
//! expands into its cells and their runs), sortable by any column, filtered with the store's
//! own query syntax ([`Query`], the parser of `adalab runs list --filter`) — one run's detail,
//! the comparison of marked runs, the Study view, and the store watcher.
//!
//! The selection is kept by identity (run id, study name, cell), never by a bare index, so
//! rows appearing, vanishing or being re-sorted under the cursor cannot leave it dangling.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::Duration;

use crate::config::ScorerKind;
use crate::store::query::Query;
use crate::store::{LoadedRun, RunEntry, RunStatus, Store, Timestamp};

use super::compare::Compare;
use super::detail::{Detail, DetailPage};
use super::study::{StudyGroup, StudyView};

mod cells;
pub mod draw;
mod select;
mod sort;
mod table;
mod update;

use sort::cmp_key;

pub use table::*;

/// A fresh listing of the store: its fingerprint and the runs (or why they could not be read).
pub type Listing = (u64, Result<Vec<RunEntry>, String>);

/// One line of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// A run (index into `rows`): on its own (depth 0), under a study (1: outside its current
    /// grid) or under one of its cells (2).
    Run { row: usize, depth: u8 },
    /// A study (index into `studies`).
    Study(usize),
    /// A cell of an expanded study.
    Cell { study: usize, cell: usize },
}

/// What the cursor is on, by identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemKey {
    Run(String),
    Study(String),
    /// A study's name and the cell's config key.
    Cell(String, String),
}

/// Which Runs view is showing.
#[derive(Clone, Debug)]
pub enum RunsView {
    Table,
    Detail(Box<Detail>),
    Compare(Box<Compare>),
    Study(Box<StudyView>),
}

/// The Runs screen state.
#[derive(Clone, Debug)]
pub struct RunsState {
    pub entries: Vec<RunEntry>,
    /// One per entry, in the same order.
    pub rows: Vec<Row>,
    /// The studies the runs belong to, by name.
    pub studies: Vec<StudyGroup>,
    /// Names of the studies shown with their runs.
    pub expanded: BTreeSet<String>,
    /// The table's lines, filtered and in sort order.
    pub visible: Vec<Item>,
    /// Index into `visible`.
    pub cursor: usize,
    /// What the cursor is on (kept across every change of the list).
    selected: Option<ItemKey>,
    /// The column under the column cursor (←→), which `o` sorts by.
    pub column: Column,
    pub sort: Column,
    pub reverse: bool,
    /// The filter as typed.
    pub filter: String,
    /// The filter as last parsed without error (what the table shows).
    pub query: Query,
    /// Why the typed filter does not parse.
    pub filter_error: Option<String>,
    /// Scorers of the runs, most used as primary first: one AUC column each.
    pub scorers: Vec<ScorerKind>,
    /// The primary scorer every listed line ranks by; `None` when they differ.
    pub primary: Option<ScorerKind>,
    /// Marked run ids, in marking order.
    pub marked: Vec<String>,
    pub error: Option<String>,
    pub fingerprint: Option<u64>,
    pub view: RunsView,
    /// Views to return to on Esc (a Study view under the run opened from it).
    pub back: Vec<RunsView>,
}

impl Default for RunsState {
    fn default() -> Self {
        RunsState {
            entries: Vec::new(),
            rows: Vec::new(),
            studies: Vec::new(),
            expanded: BTreeSet::new(),
            visible: Vec::new(),
            cursor: 0,
            selected: None,
            column: Column::Name,
            sort: Column::Date,
            reverse: false,
            filter: String::new(),
            query: Query::default(),
            filter_error: None,
            scorers: Vec::new(),
            primary: None,
            marked: Vec::new(),
            error: None,
            fingerprint: None,
            view: RunsView::Table,
            back: Vec::new(),
        }
    }
}

impl RunsState {
    /// Reloads the list from the store, keeping the selection, marks and open views' runs.
    pub fn reload(&mut self, store: &Store) {
        self.fingerprint = Some(store.fingerprint());
        match store.list_runs() {
            Ok(entries) => {
                self.error = None;
                self.set_entries(entries, Some(store));
            }
            Err(e) => self.error = Some(e.to_string()),
        }
        self.forget_gone_marks();
    }

    fn forget_gone_marks(&mut self) {
        let ids: BTreeSet<&str> = self.rows.iter().map(|r| r.id.as_str()).collect();
        self.marked.retain(|m| ids.contains(m.as_str()));
    }

    /// Replaces the runs (studies are regrouped, reading their files from `store`).
    pub fn set_entries(&mut self, entries: Vec<RunEntry>, store: Option<&Store>) {
        self.rows = entries.iter().map(Row::of).collect();
        self.entries = entries;
        self.studies = self.group_studies(store);
        self.scorers = self.rank_scorers();
        self.rebuild();
    }

    fn group_studies(&self, store: Option<&Store>) -> Vec<StudyGroup> {
        // Each set of `--set` overrides a study was run with is a study row of its own.
        let mut by_name: BTreeMap<(&str, &[String]), Vec<(usize, &LoadedRun)>> = BTreeMap::new();
        for (i, e) in self.entries.iter().enumerate() {
            if let RunEntry::Ok(r) = e {
                if let Some(st) = &r.record.study {
                    by_name
                        .entry((st.name.as_str(), st.overrides.as_slice()))
                        .or_default()
                        .push((i, r));
                }
            }
        }
        by_name
            .into_iter()
            .map(|((name, overrides), members)| StudyGroup::build(name, overrides, &members, store))
            .collect()
    }

    /// Scorers in use: the most common primary first, then the others by use.
    fn rank_scorers(&self) -> Vec<ScorerKind> {
        let mut count: BTreeMap<ScorerKind, (usize, usize)> = BTreeMap::new();
        for r in &self.rows {
            for (i, k) in r.scorers.iter().enumerate() {
                let c = count.entry(*k).or_default();
                c.1 += 1;
                if i == 0 {
                    c.0 += 1;
                }
            }
        }
        let mut v: Vec<(ScorerKind, (usize, usize))> = count.into_iter().collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.1));
        v.into_iter().map(|(k, _)| k).collect()
    }

    /// Every column, in table order: the primary scorer's AUC, then one AUC column per other
    /// scorer in use (all of them when the listed runs rank by different scorers).
    pub fn columns(&self) -> Vec<Column> {
        let mut v = vec![
            Column::Name,
            Column::Status,
            Column::Split,
            Column::Head,
            Column::Epochs,
            Column::Repeat,
            Column::Duration,
            Column::Primary,
        ];
        v.extend(
            self.scorers
                .iter()
                .filter(|k| self.primary != Some(**k))
                .map(|k| Column::Auc(*k)),
        );
        v.extend([Column::Tags, Column::Date]);
        v
    }

    /// The primary scorer of a line: a run's first, a study's own.
    pub fn primary_of(&self, it: Item) -> Option<ScorerKind> {
        match it {
            Item::Run { row, .. } => self.rows.get(row).and_then(|r| r.primary()),
            Item::Study(si) | Item::Cell { study: si, .. } => {
                self.studies.get(si).map(|g| g.scorer)
            }
        }
    }

    /// The one primary scorer of the lines in `items`, if they share it.
    fn shared_primary(&self, items: &[Item]) -> Option<ScorerKind> {
        let mut all = items.iter().filter_map(|it| self.primary_of(*it));
        let first = all.next()?;
        all.all(|k| k == first).then_some(first)
    }

    fn passes(&self, row: usize) -> bool {
        self.query.is_empty() || self.entries.get(row).is_some_and(|e| self.query.matches(e))
    }

    /// Rebuilds the visible lines (filter, sort, expanded studies) and puts the cursor back
    /// on what it was on, or where it was when that is gone.
    fn rebuild(&mut self) {
        let mut top: Vec<Item> = (0..self.rows.len())
            .filter(|&i| self.rows[i].study.is_none() && self.passes(i))
            .map(|row| Item::Run { row, depth: 0 })
            .collect();
        for (si, g) in self.studies.iter().enumerate() {
            if g.all_rows().any(|r| self.passes(r)) {
                top.push(Item::Study(si));
            }
        }
        let sort = self.sort;
        top.sort_by(|a, b| {
            cmp_key(&self.sort_key(*a, sort), &self.sort_key(*b, sort))
                .then_with(|| self.newest_id(*b).cmp(self.newest_id(*a)))
        });
        if self.reverse {
            top.reverse();
        }
        let mut visible = Vec::with_capacity(self.rows.len());
        for it in top {
            visible.push(it);
            let Item::Study(si) = it else {
                continue;
            };
            let g = &self.studies[si];
            if !self.expanded.contains(&g.name) {
                continue;
            }
            for (ci, c) in g.cells.iter().enumerate() {
                let rows: Vec<usize> = c.rows.iter().copied().filter(|&r| self.passes(r)).collect();
                if rows.is_empty() && !self.query.is_empty() {
                    continue;
                }
                visible.push(Item::Cell {
                    study: si,
                    cell: ci,
                });
                visible.extend(rows.into_iter().map(|row| Item::Run { row, depth: 2 }));
            }
            visible.extend(
                g.other
                    .iter()
                    .copied()
                    .filter(|&r| self.passes(r))
                    .map(|row| Item::Run { row, depth: 1 }),
            );
        }
        self.primary = self.shared_primary(&visible);
        self.visible = visible;
        self.restore_selection();
    }

    /// Moves the column cursor.
    pub fn step_column(&mut self, delta: i32) {
        let cols = self.columns();
        let i = cols.iter().position(|c| *c == self.column).unwrap_or(0) as i32;
        let j = (i + delta).clamp(0, cols.len() as i32 - 1) as usize;
        self.column = cols[j];
    }

    /// Sorts by the column under the cursor; again on the sorted column reverses the order.
    pub fn sort_by_column(&mut self) {
        if self.sort == self.column {
            self.reverse = !self.reverse;
        } else {
            self.sort = self.column;
            self.reverse = false;
        }
        self.rebuild();
    }

    pub fn toggle_reverse(&mut self) {
        self.reverse = !self.reverse;
        self.rebuild();
    }

    /// Applies a filter in the syntax of `adalab runs list --filter`. A filter that does not
    /// parse keeps the last good one applied and says why in [`RunsState::filter_error`].
    pub fn set_filter(&mut self, f: &str) {
        self.filter = f.trim().to_string();
        match Query::parse(&[self.filter.as_str()]) {
            Ok(q) => {
                self.query = q;
                self.filter_error = None;
                self.rebuild();
            }
            Err(e) => self.filter_error = Some(e.to_string()),
        }
    }

    /// Opens the selected run.
    pub fn open_detail(&mut self, store: Option<&Store>) -> bool {
        let Some(id) = self.selected_id().map(str::to_string) else {
            return false;
        };
        self.open_detail_id(&id, store)
    }

    /// Opens a run's detail over the current view (Esc returns to a Study view).
    pub fn open_detail_id(&mut self, id: &str, store: Option<&Store>) -> bool {
        let Some(run) = self.loaded(id).cloned() else {
            return false;
        };
        let d = RunsView::Detail(Box::new(Detail::new(run, store)));
        let from = std::mem::replace(&mut self.view, d);
        if matches!(from, RunsView::Study(_)) {
            self.back.push(from);
        }
        true
    }

    /// Opens the comparison of the marked runs (at least two).
    pub fn open_compare(&mut self) -> bool {
        let runs: Vec<LoadedRun> = self
            .marked
            .iter()
            .filter_map(|id| self.loaded(id).cloned())
            .collect();
        if runs.len() < 2 {
            return false;
        }
        self.view = RunsView::Compare(Box::new(Compare::new(runs)));
        true
    }

    /// Opens the Study view of the study (and cell) under the cursor.
    pub fn open_study(&mut self) -> bool {
        let Some((g, cell)) = self.selected_group() else {
            return false;
        };
        let v = StudyView::new(g.name.clone(), cell.unwrap_or(0));
        self.back.clear();
        self.view = RunsView::Study(Box::new(v));
        true
    }

    /// Esc: back to the view this one was opened from, else to the table.
    pub fn go_back(&mut self) {
        self.view = self.back.pop().unwrap_or(RunsView::Table);
        if let RunsView::Study(v) = &mut self.view {
            let g = self.studies.iter().find(|g| g.name == v.name);
            v.clamp(g);
        }
    }

    /// After a reload: refresh the open views with the new records.
    pub fn refresh_views(&mut self, store: Option<&Store>) {
        let fresh = |id: &str, entries: &[RunEntry]| {
            entries.iter().find_map(|e| match e {
                RunEntry::Ok(r) if r.record.id == id => Some((**r).clone()),
                _ => None,
            })
        };
        let studies = &self.studies;
        let clamp_study = |v: &mut StudyView| {
            let g = studies.iter().find(|g| g.name == v.name);
            v.clamp(g);
        };
        for view in self.back.iter_mut() {
            if let RunsView::Study(v) = view {
                clamp_study(v);
            }
        }
        match &mut self.view {
            RunsView::Table => {}
            RunsView::Study(v) => clamp_study(v),
            RunsView::Detail(d) => {
                if let Some(r) = fresh(d.id(), &self.entries) {
                    let was_running = d.run.status == RunStatus::Running;
                    d.set_run(r);
                    if d.seed >= d.run.record.seeds.len() {
                        d.seed = 0;
                    }
                    if !d.pages().contains(&d.page) {
                        d.page = DetailPage::Overview;
                    }
                    // A run that just ended has its scores now.
                    if was_running && d.run.status != RunStatus::Running && d.scores.is_err() {
                        d.load_scores(store);
                    }
                }
            }
            RunsView::Compare(c) => {
                let runs: Vec<LoadedRun> = c
                    .runs
                    .iter()
                    .filter_map(|r| fresh(&r.record.id, &self.entries))
                    .collect();
                if runs.len() >= 2 {
                    **c = c.refreshed(runs);
                }
            }
        }
    }

    /// Applies the store's staleness rule to the runs shown as running: one whose process is
    /// gone (killed, even with SIGKILL, which changes no file) turns interrupted, as in
    /// `adalab runs list`. Cheap: a pid check per running run; a record is re-read only when
    /// the check says its writer is gone. True when something changed.
    pub fn refresh_running(&mut self, store: &Store) -> bool {
        let now = Timestamp::now();
        let mut changed = false;
        for e in self.entries.iter_mut() {
            let RunEntry::Ok(r) = e else {
                continue;
            };
            if r.status != RunStatus::Running
                || r.record.effective_status(store.host(), now) == RunStatus::Running
            {
                continue;
            }
            if let Ok(fresh) = store.load_run(&r.record.id) {
                if fresh.status != r.status {
                    **r = fresh;
                    changed = true;
                }
            }
        }
        if changed {
            let entries = std::mem::take(&mut self.entries);
            self.set_entries(entries, Some(store));
            self.refresh_views(Some(store));
        }
        changed
    }

    /// Applies a listing from the watcher, keeping selection, marks and open views.
    pub fn apply_listing(&mut self, listing: Listing, store: Option<&Store>) {
        let (fp, entries) = listing;
        self.fingerprint = Some(fp);
        match entries {
            Ok(entries) => {
                self.error = None;
                self.set_entries(entries, store);
                self.forget_gone_marks();
                self.refresh_views(store);
            }
            Err(e) => self.error = Some(e),
        }
    }
}

/// Watches the store from its own thread: checks the fingerprint every `every` and sends a new
/// listing when it changed, so runs written by other processes appear without the UI thread
/// ever parsing run files on a timer. Between changes it applies the staleness rule to the
/// runs it last saw running (a pid check each), so a killed run turns interrupted at once.
/// The thread ends when the receiver is dropped.
pub fn watch_store(store: Store, every: Duration, known: Option<u64>) -> Receiver<Listing> {
    let (tx, rx) = mpsc::channel();
    let spawned = thread::Builder::new()
        .name("adalab-store-watch".into())
        .spawn(move || {
            let mut last = known;
            let mut running: Option<Vec<LoadedRun>> = None;
            loop {
                thread::sleep(every);
                let fp = store.fingerprint();
                let stale = |runs: &[LoadedRun]| {
                    let now = Timestamp::now();
                    runs.iter()
                        .any(|r| r.record.effective_status(store.host(), now) != RunStatus::Running)
                };
                let changed = last != Some(fp);
                // The first turn learns which runs are running (the app listed them already).
                let first = running.is_none();
                if !changed && !first && !running.as_deref().is_some_and(stale) {
                    continue;
                }
                last = Some(fp);
                let listing = store.list_runs().map_err(|e| e.to_string());
                // Runs the store still calls running although the rule alone would not (a
                // live writer lock) are left to the next change, so they are not re-listed on
                // every turn.
                let now = Timestamp::now();
                running = Some(match &listing {
                    Ok(entries) => entries
                        .iter()
                        .filter_map(|e| match e {
                            RunEntry::Ok(r)
                                if r.status == RunStatus::Running
                                    && r.record.effective_status(store.host(), now)
                                        == RunStatus::Running =>
                            {
                                Some((**r).clone())
                            }
                            _ => None,
                        })
                        .collect(),
                    Err(_) => Vec::new(),
                });
                if first && !changed {
                    continue;
                }
                if tx.send((fp, listing)).is_err() {
                    break;
                }
            }
        });
    if spawned.is_err() {
        // Without the thread the app falls back to polling on its own (the sender is gone).
        let (_tx, rx) = mpsc::channel();
        return rx;
    }
    rx
}
