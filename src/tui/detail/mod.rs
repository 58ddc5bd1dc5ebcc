//! One run's detail: its pages (config, charts, ROC, boxplot, views/defects, images, a folder
//! scored with its detector), whether it has a saved detector, and the split of its
//! thumbnails into the most anomalous and most normal.

use crate::config::ScorerKind;
use crate::store::detector::{self, DetectorStatus};
use crate::store::{LoadedRun, Scores, Store};

use super::images::{ImagesState, Thumb};
use super::strings as s;
use scoring::FolderScore;

pub mod charts;
pub mod draw;
mod folder;
mod images;
pub mod scoring;
mod scoring_update;
mod update;

/// The pages of a run's detail, in the order ←→ step through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetailPage {
    Overview,
    Epochs,
    Roc,
    Spread,
    /// Each test-time view's AUC (runs scored with views).
    Views,
    /// Each defect type's AUC (MVTec and other sub-labelled anomalies).
    Groups,
    Images,
    /// A folder scored with the run's detector (once one was).
    Folder,
}

impl DetailPage {
    pub const ALL: [DetailPage; 8] = [
        DetailPage::Overview,
        DetailPage::Epochs,
        DetailPage::Roc,
        DetailPage::Spread,
        DetailPage::Views,
        DetailPage::Groups,
        DetailPage::Images,
        DetailPage::Folder,
    ];

    /// The page's tab label.
    pub fn label(self) -> &'static str {
        match self {
            DetailPage::Overview => s::PAGE_OVERVIEW,
            DetailPage::Epochs => s::PAGE_EPOCHS,
            DetailPage::Roc => s::PAGE_ROC,
            DetailPage::Spread => s::PAGE_SPREAD,
            DetailPage::Views => s::PAGE_VIEWS,
            DetailPage::Groups => s::PAGE_GROUPS,
            DetailPage::Images => s::PAGE_IMAGES,
            DetailPage::Folder => s::PAGE_FOLDER,
        }
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
    /// Whether the run has a saved detector (and its size), or why not.
    pub detector: DetectorStatus,
    /// The folder scored with the detector from this screen, if any.
    pub folder: Option<FolderScore>,
}

impl Detail {
    pub fn new(run: LoadedRun, store: Option<&Store>) -> Detail {
        let mut d = Detail {
            page: DetailPage::Overview,
            seed: 0,
            scroll: 0,
            scores: Err(String::new()),
            roc: Vec::new(),
            images: ImagesState::Loading,
            images_key: None,
            detector: detector::status(&run),
            folder: None,
            run,
        };
        d.load_scores(store);
        d
    }

    pub fn id(&self) -> &str {
        &self.run.record.id
    }

    pub fn seed_value(&self) -> Option<u64> {
        self.run.record.seeds.get(self.seed).map(|s| s.seed)
    }

    pub fn image_key(&self) -> String {
        format!("{}#{}", self.id(), self.seed)
    }

    /// Whether any seed was scored with test-time views.
    pub fn has_views(&self) -> bool {
        self.run
            .record
            .seeds
            .iter()
            .filter_map(|sd| sd.result.as_ref())
            .any(|r| !r.view_auc.is_empty())
    }

    /// Whether any seed has per-group (defect type) AUCs.
    pub fn has_groups(&self) -> bool {
        self.run
            .record
            .seeds
            .iter()
            .filter_map(|sd| sd.result.as_ref())
            .any(|r| !r.group_auc.is_empty())
    }

    /// The pages this run has (views and defect types only when recorded).
    pub fn pages(&self) -> Vec<DetailPage> {
        DetailPage::ALL
            .into_iter()
            .filter(|p| match p {
                DetailPage::Views => self.has_views(),
                DetailPage::Groups => self.has_groups(),
                DetailPage::Folder => self.folder.is_some(),
                _ => true,
            })
            .collect()
    }

    /// Steps `delta` pages among [`Detail::pages`], wrapping around.
    pub fn step_page(&mut self, delta: i32) {
        let pages = self.pages();
        let i = pages.iter().position(|p| *p == self.page).unwrap_or(0) as i32;
        let n = pages.len() as i32;
        self.page = pages[(i + delta).rem_euclid(n) as usize];
        self.scroll = 0;
    }

    /// Takes a fresh record of the run (the detector may have been saved since).
    pub fn set_run(&mut self, run: LoadedRun) {
        self.detector = detector::status(&run);
        self.run = run;
    }

    /// Whether a folder is being scored here.
    pub fn scoring(&self) -> bool {
        self.folder.as_ref().is_some_and(FolderScore::is_running)
    }

    /// Reads the selected seed's scores and recomputes the ROC curves.
    pub fn load_scores(&mut self, store: Option<&Store>) {
        let id = self.run.record.id.clone();
        self.scores = match (store, self.seed_value()) {
            (None, _) => Err(s::NO_SCORES.into()),
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

/// Thumbnails of the detail's images page split into (most anomalous, most normal).
pub fn split_thumbs(thumbs: &[Thumb]) -> (&[Thumb], &[Thumb]) {
    let half = thumbs.len() / 2;
    thumbs.split_at(half)
}
