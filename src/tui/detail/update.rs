//! Detail keys: pages, seeds, scroll, the run's actions (tag, note, delete, load into Setup),
//! scoring a folder (`scoring_update.rs`), and the images page's request to the image loader.

use super::super::app::{App, IMAGES_PER_ROW};
use super::super::images::{extremes, ImageRequest, ImagesState, Pick};
use super::super::keys::Action;
use super::super::runs::RunsView;
use super::super::strings as s;
use super::DetailPage;

impl App {
    pub(in crate::tui) fn on_detail(&mut self, a: Action) {
        let store = self.store.clone();
        let RunsView::Detail(d) = &mut self.runs.view else {
            return;
        };
        match a {
            Action::Left => d.step_page(-1),
            Action::Right => d.step_page(1),
            Action::PrevSeed | Action::NextSeed => {
                let n = d.run.record.seeds.len();
                if n > 1 {
                    d.seed = if a == Action::NextSeed {
                        (d.seed + 1) % n
                    } else {
                        (d.seed + n - 1) % n
                    };
                    d.load_scores(store.as_ref());
                }
            }
            Action::Up => d.scroll = d.scroll.saturating_sub(1),
            Action::Down => d.scroll = d.scroll.saturating_add(1),
            Action::Back => {
                if !self.cancel_scoring() {
                    self.runs.go_back();
                }
            }
            Action::Tag | Action::Note | Action::Delete | Action::LoadConfig => {
                let id = d.id().to_string();
                self.run_action(a, id);
            }
            Action::ScoreFolder => self.open_score_folder(),
            Action::Export => self.export_shown(),
            _ => {}
        }
    }

    /// Asks the loader for the open run's extreme test images when their page shows.
    pub(in crate::tui) fn request_images(&mut self) {
        let RunsView::Detail(d) = &mut self.runs.view else {
            return;
        };
        if d.page != DetailPage::Images || d.images_key.is_some() {
            return;
        }
        let key = d.image_key();
        d.images_key = Some(key.clone());
        let Ok(scores) = &d.scores else {
            d.images = ImagesState::Missing(s::NO_SCORES.into());
            return;
        };
        let primary = d.run.record.config.primary_scorer();
        let Some(v) = scores
            .scores
            .get(&primary)
            .or_else(|| scores.scores.values().next())
        else {
            d.images = ImagesState::Missing(s::NO_SCORES.into());
            return;
        };
        let (top, bottom) = extremes(v, &scores.labels, IMAGES_PER_ROW);
        let map = |p: Pick| Pick {
            position: scores.index.get(p.position).copied().unwrap_or(p.position),
            ..p
        };
        let picks: Vec<_> = top.into_iter().chain(bottom).map(map).collect();
        d.images = ImagesState::Loading;
        let req = ImageRequest {
            key,
            data: d.run.record.config.data.clone(),
            seed: d.seed_value().unwrap_or(d.run.record.config.train.seed),
            picks,
        };
        if self.images.is_live() {
            self.images.request(req);
        }
    }
}
