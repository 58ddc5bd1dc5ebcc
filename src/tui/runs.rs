//! The Runs screen's state: the store as a sortable, filterable list, one run's detail, and the
//! comparison of marked runs.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::Duration;

use crate::config::{Config, DatasetKind, ScorerKind};
use crate::store::{LoadedRun, RunEntry, RunStatus, Scores, Store};

use super::images::{ImagesState, Thumb};

/// Columns the table sorts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortColumn {
    Date,
    Status,
    Split,
    Head,
    Scorer,
    Auc,
}

impl SortColumn {
    pub const ALL: [SortColumn; 6] = [
        SortColumn::Date,
        SortColumn::Status,
        SortColumn::Split,
        SortColumn::Head,
        SortColumn::Scorer,
        SortColumn::Auc,
    ];
    pub fn label(self) -> &'static str {
        match self {
            SortColumn::Date => "date",
            SortColumn::Status => "status",
            SortColumn::Split => "split",
            SortColumn::Head => "head",
            SortColumn::Scorer => "scorer",
            SortColumn::Auc => "AUC",
        }
    }
    pub fn next(self) -> SortColumn {
        let i = SortColumn::ALL.iter().position(|k| *k == self).unwrap_or(0);
        SortColumn::ALL[(i + 1) % SortColumn::ALL.len()]
    }
}

/// What a table row shows (derived once per reload).
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub id: String,
    pub status: String,
    pub split: String,
    pub head: String,
    pub scorer: String,
    pub auc: Option<f64>,
    /// `MM-DD HH:MM` (UTC) of creation; empty when unreadable.
    pub date: String,
    pub tags: String,
    pub note: String,
    /// Why the run cannot be read.
    pub unreadable: Option<String>,
}

fn short_dataset(k: DatasetKind) -> &'static str {
    match k {
        DatasetKind::FashionMnist => "fmnist",
        DatasetKind::Cifar10 => "cifar10",
        DatasetKind::Synthetic => "synth",
        DatasetKind::Folder => "folder",
        DatasetKind::Mvtec => "mvtec",
    }
}

/// `fmnist sneaker→ankle-boot`.
pub fn short_split(c: &Config) -> String {
    format!(
        "{} {}→{}",
        short_dataset(c.data.dataset),
        c.data.normal,
        c.data.anomalous
    )
}

impl Row {
    pub fn of(e: &RunEntry) -> Row {
        match e {
            RunEntry::Ok(r) => {
                let rec = &r.record;
                let created = rec.created.to_string();
                Row {
                    id: rec.id.clone(),
                    status: r.status.to_string(),
                    split: short_split(&rec.config),
                    head: rec.config.head.kind.to_string(),
                    scorer: rec.config.primary_scorer().to_string(),
                    auc: rec.primary_auc(),
                    date: created
                        .get(5..16)
                        .map(|s| s.replace('T', " "))
                        .unwrap_or_default(),
                    tags: rec.tags.join(" "),
                    note: rec.note.clone(),
                    unreadable: None,
                }
            }
            RunEntry::Unreadable { id, reason, .. } => Row {
                id: id.clone(),
                status: super::strings::UNREADABLE.into(),
                split: String::new(),
                head: String::new(),
                scorer: String::new(),
                auc: None,
                date: String::new(),
                tags: String::new(),
                note: String::new(),
                unreadable: Some(reason.clone()),
            },
        }
    }

    fn matches(&self, filter: &str) -> bool {
        if filter.is_empty() {
            return true;
        }
        let hay = format!(
            "{} {} {} {} {} {} {}",
            self.id, self.status, self.split, self.head, self.scorer, self.tags, self.note
        )
        .to_lowercase();
        filter
            .to_lowercase()
            .split_whitespace()
            .all(|w| hay.contains(w))
    }
}

/// The pages of a run's detail, in the order ←→ step through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetailPage {
    Overview,
    Epochs,
    Roc,
    Spread,
    Images,
}

impl DetailPage {
    pub const ALL: [DetailPage; 5] = [
        DetailPage::Overview,
        DetailPage::Epochs,
        DetailPage::Roc,
        DetailPage::Spread,
        DetailPage::Images,
    ];

    /// The page's tab label.
    pub fn label(self) -> &'static str {
        match self {
            DetailPage::Overview => super::strings::PAGE_OVERVIEW,
            DetailPage::Epochs => super::strings::PAGE_EPOCHS,
            DetailPage::Roc => super::strings::PAGE_ROC,
            DetailPage::Spread => super::strings::PAGE_SPREAD,
            DetailPage::Images => super::strings::PAGE_IMAGES,
        }
    }

    /// Position in [`DetailPage::ALL`] (the tab to highlight).
    pub fn index(self) -> usize {
        DetailPage::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }

    /// The page `delta` steps on, wrapping around.
    pub fn step(self, delta: i32) -> DetailPage {
        let n = DetailPage::ALL.len() as i32;
        DetailPage::ALL[(self.index() as i32 + delta).rem_euclid(n) as usize]
    }
}

/// A scorer's AUC and ROC curve points.
pub type RocSeries = (ScorerKind, f64, Vec<(f64, f64)>);

/// One run opened in full.
#[derive(Clone, Debug)]
pub struct Detail {
    pub run: LoadedRun,
    pub page: DetailPage,
    /// Index into the run's seeds.
    pub seed: usize,
    pub scroll: u16,
    /// Scores of the selected seed, or why there are none.
    pub scores: Result<Scores, String>,
    /// ROC curve and AUC per scorer (from the scores).
    pub roc: Vec<RocSeries>,
    pub images: ImagesState,
    /// Key of the image request in flight / answered.
    pub images_key: Option<String>,
}

impl Detail {
    pub fn id(&self) -> &str {
        &self.run.record.id
    }

    pub fn seed_value(&self) -> Option<u64> {
        self.run.record.seeds.get(self.seed).map(|s| s.seed)
    }

    pub fn image_key(&self) -> String {
        format!("{}#{}", self.id(), self.seed)
    }

    /// Reads the selected seed's scores and recomputes the ROC curves.
    pub fn load_scores(&mut self, store: Option<&Store>) {
        let id = self.run.record.id.clone();
        self.scores = match (store, self.seed_value()) {
            (None, _) => Err(super::strings::NO_SCORES.into()),
            (Some(st), Some(seed)) if self.seed > 0 => {
                st.read_seed_scores(&id, seed).map_err(|e| e.to_string())
            }
            (Some(st), _) => st.read_scores(&id).map_err(|e| e.to_string()),
        };
        self.roc = match &self.scores {
            Ok(sc) => sc
                .scores
                .iter()
                .map(|(k, v)| {
                    (
                        *k,
                        crate::score::roc_auc(v, &sc.labels),
                        crate::score::roc_curve(v, &sc.labels),
                    )
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        self.images = ImagesState::Loading;
        self.images_key = None;
    }
}

/// Marked runs side by side.
#[derive(Clone, Debug)]
pub struct Compare {
    pub runs: Vec<LoadedRun>,
    /// Config keys whose values differ: (key, one value per run).
    pub diff: Vec<(String, Vec<String>)>,
    pub scroll: u16,
}

impl Compare {
    pub fn new(runs: Vec<LoadedRun>) -> Compare {
        let flat: Vec<BTreeMap<String, String>> =
            runs.iter().map(|r| r.record.config.flatten()).collect();
        let mut keys: Vec<String> = flat.iter().flat_map(|m| m.keys().cloned()).collect();
        keys.sort();
        keys.dedup();
        let diff = keys
            .into_iter()
            .filter(|k| k != "description")
            .filter_map(|k| {
                let vals: Vec<String> = flat
                    .iter()
                    .map(|m| m.get(&k).cloned().unwrap_or_else(|| "–".into()))
                    .collect();
                vals.iter().any(|v| *v != vals[0]).then_some((k, vals))
            })
            .collect();
        Compare {
            runs,
            diff,
            scroll: 0,
        }
    }

    /// Scorers any of the runs used, in a stable order.
    pub fn scorers(&self) -> Vec<ScorerKind> {
        ScorerKind::ALL
            .into_iter()
            .filter(|k| {
                self.runs
                    .iter()
                    .any(|r| r.record.config.score.scorers.contains(k))
            })
            .collect()
    }
}

/// Which Runs view is showing.
#[derive(Clone, Debug)]
pub enum RunsView {
    Table,
    Detail(Box<Detail>),
    Compare(Box<Compare>),
}

/// The Runs screen state.
#[derive(Clone, Debug)]
pub struct RunsState {
    pub entries: Vec<RunEntry>,
    pub rows: Vec<Row>,
    /// Indices into `rows` that pass the filter, in sort order.
    pub visible: Vec<usize>,
    /// Index into `visible`.
    pub cursor: usize,
    pub sort: SortColumn,
    pub reverse: bool,
    pub filter: String,
    /// Marked run ids, in marking order.
    pub marked: Vec<String>,
    pub error: Option<String>,
    pub fingerprint: Option<u64>,
    pub view: RunsView,
}

impl Default for RunsState {
    fn default() -> Self {
        RunsState {
            entries: Vec::new(),
            rows: Vec::new(),
            visible: Vec::new(),
            cursor: 0,
            sort: SortColumn::Date,
            reverse: false,
            filter: String::new(),
            marked: Vec::new(),
            error: None,
            fingerprint: None,
            view: RunsView::Table,
        }
    }
}

impl RunsState {
    /// Reloads the list from the store, keeping the selected run selected.
    pub fn reload(&mut self, store: &Store) {
        let keep = self.selected_id().map(str::to_string);
        self.fingerprint = Some(store.fingerprint());
        match store.list_runs() {
            Ok(entries) => {
                self.error = None;
                self.set_entries(entries);
            }
            Err(e) => self.error = Some(e.to_string()),
        }
        if let Some(id) = keep {
            self.select_id(&id);
        }
        // Marks of deleted runs go.
        let ids: Vec<String> = self.rows.iter().map(|r| r.id.clone()).collect();
        self.marked.retain(|m| ids.contains(m));
    }

    pub fn set_entries(&mut self, entries: Vec<RunEntry>) {
        self.rows = entries.iter().map(Row::of).collect();
        self.entries = entries;
        self.refresh();
    }

    /// Re-applies filter and sort.
    pub fn refresh(&mut self) {
        let keep = self.selected_id().map(str::to_string);
        let mut vis: Vec<usize> = (0..self.rows.len())
            .filter(|&i| self.rows[i].matches(&self.filter))
            .collect();
        let rows = &self.rows;
        let sort = self.sort;
        vis.sort_by(|&a, &b| {
            let (x, y) = (&rows[a], &rows[b]);
            let ord = match sort {
                // Newest first by default (ids start with the creation time).
                SortColumn::Date => y.id.cmp(&x.id),
                SortColumn::Status => x.status.cmp(&y.status),
                SortColumn::Split => x.split.cmp(&y.split),
                SortColumn::Head => x.head.cmp(&y.head),
                SortColumn::Scorer => x.scorer.cmp(&y.scorer),
                // Best first; runs without an AUC last.
                SortColumn::Auc => match (x.auc, y.auc) {
                    (Some(p), Some(q)) => q.total_cmp(&p),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                },
            };
            ord.then_with(|| y.id.cmp(&x.id))
        });
        if self.reverse {
            vis.reverse();
        }
        self.visible = vis;
        self.cursor = 0;
        if let Some(id) = keep {
            self.select_id(&id);
        }
        self.clamp();
    }

    fn clamp(&mut self) {
        if self.visible.is_empty() {
            self.cursor = 0;
        } else {
            self.cursor = self.cursor.min(self.visible.len() - 1);
        }
    }

    pub fn select_id(&mut self, id: &str) {
        if let Some(p) = self.visible.iter().position(|&i| self.rows[i].id == id) {
            self.cursor = p;
        }
    }

    pub fn move_cursor(&mut self, delta: i64) {
        if self.visible.is_empty() {
            return;
        }
        let n = self.visible.len() as i64;
        self.cursor = (self.cursor as i64 + delta).clamp(0, n - 1) as usize;
    }

    pub fn selected_row(&self) -> Option<&Row> {
        self.visible.get(self.cursor).map(|&i| &self.rows[i])
    }

    pub fn selected_id(&self) -> Option<&str> {
        self.selected_row().map(|r| r.id.as_str())
    }

    pub fn selected_run(&self) -> Option<&LoadedRun> {
        let id = self.selected_id()?;
        self.loaded(id)
    }

    pub fn loaded(&self, id: &str) -> Option<&LoadedRun> {
        self.entries.iter().find_map(|e| match e {
            RunEntry::Ok(r) if r.record.id == id => Some(&**r),
            _ => None,
        })
    }

    pub fn toggle_mark(&mut self) {
        let Some(id) = self.selected_id().map(str::to_string) else {
            return;
        };
        if let Some(p) = self.marked.iter().position(|m| *m == id) {
            self.marked.remove(p);
        } else if self.loaded(&id).is_some() {
            self.marked.push(id);
        }
    }

    pub fn is_marked(&self, id: &str) -> bool {
        self.marked.iter().any(|m| m == id)
    }

    pub fn cycle_sort(&mut self) {
        self.sort = self.sort.next();
        self.reverse = false;
        self.refresh();
    }

    pub fn toggle_reverse(&mut self) {
        self.reverse = !self.reverse;
        self.refresh();
    }

    pub fn set_filter(&mut self, f: &str) {
        self.filter = f.trim().to_string();
        self.refresh();
    }

    /// Opens the selected run.
    pub fn open_detail(&mut self, store: Option<&Store>) -> bool {
        let Some(run) = self.selected_run().cloned() else {
            return false;
        };
        let mut d = Detail {
            run,
            page: DetailPage::Overview,
            seed: 0,
            scroll: 0,
            scores: Err(String::new()),
            roc: Vec::new(),
            images: ImagesState::Loading,
            images_key: None,
        };
        d.load_scores(store);
        self.view = RunsView::Detail(Box::new(d));
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

    /// After a reload: refresh the open detail / comparison with the new records.
    pub fn refresh_views(&mut self, store: Option<&Store>) {
        let fresh = |id: &str, entries: &[RunEntry]| {
            entries.iter().find_map(|e| match e {
                RunEntry::Ok(r) if r.record.id == id => Some((**r).clone()),
                _ => None,
            })
        };
        match &mut self.view {
            RunsView::Table => {}
            RunsView::Detail(d) => {
                if let Some(r) = fresh(d.id(), &self.entries) {
                    let was_running = d.run.status == RunStatus::Running;
                    d.run = r;
                    if d.seed >= d.run.record.seeds.len() {
                        d.seed = 0;
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
                    let scroll = c.scroll;
                    **c = Compare::new(runs);
                    c.scroll = scroll;
                }
            }
        }
    }
}

/// Thumbnails of the detail's images page split into (most anomalous, most normal).
pub fn split_thumbs(thumbs: &[Thumb]) -> (&[Thumb], &[Thumb]) {
    let half = thumbs.len() / 2;
    thumbs.split_at(half)
}

/// A fresh listing of the store: its fingerprint and the runs (or why they could not be read).
pub type Listing = (u64, Result<Vec<RunEntry>, String>);

/// Watches the store from its own thread: checks the fingerprint every `every` and sends a new
/// listing when it changed, so runs written by other processes appear without the UI thread
/// ever parsing run files on a timer. The thread ends when the receiver is dropped.
pub fn watch_store(store: Store, every: Duration, known: Option<u64>) -> Receiver<Listing> {
    let (tx, rx) = mpsc::channel();
    let spawned = thread::Builder::new()
        .name("adalab-store-watch".into())
        .spawn(move || {
            let mut last = known;
            loop {
                thread::sleep(every);
                let fp = store.fingerprint();
                if last == Some(fp) {
                    continue;
                }
                last = Some(fp);
                let listing = store.list_runs().map_err(|e| e.to_string());
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

impl RunsState {
    /// Applies a listing from the watcher, keeping selection, marks and open views.
    pub fn apply_listing(&mut self, listing: Listing, store: Option<&Store>) {
        let (fp, entries) = listing;
        self.fingerprint = Some(fp);
        match entries {
            Ok(entries) => {
                let keep = self.selected_id().map(str::to_string);
                self.error = None;
                self.set_entries(entries);
                if let Some(id) = keep {
                    self.select_id(&id);
                }
                let ids: Vec<String> = self.rows.iter().map(|r| r.id.clone()).collect();
                self.marked.retain(|m| ids.contains(m));
                self.refresh_views(store);
            }
            Err(e) => self.error = Some(e),
        }
    }
}
