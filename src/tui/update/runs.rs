//! Runs keys: the table (move, open, mark, compare, filter, sort, tag, note, delete), one
//! run's detail (pages, seeds, scroll) and its images page's request to the image loader, and
//! the comparison.

use super::super::app::{App, Popup, IMAGES_PER_ROW};
use super::super::images::{extremes, ImageRequest, ImagesState, Pick};
use super::super::keys::Action;
use super::super::live::LogLevel;
use super::super::popups::confirm::ConfirmKind;
use super::super::popups::input::{Input, InputKind};
use super::super::runs::{DetailPage, RunsView};
use super::super::strings as s;

impl App {
    pub(in crate::tui) fn on_runs(&mut self, a: Action) {
        match a {
            Action::Up => self.runs.move_cursor(-1),
            Action::Down => self.runs.move_cursor(1),
            Action::PageUp => self.runs.move_cursor(-10),
            Action::PageDown => self.runs.move_cursor(10),
            Action::Top => self.runs.move_cursor(i64::MIN / 2),
            Action::Bottom => self.runs.move_cursor(i64::MAX / 2),
            Action::Enter => {
                if let Some(r) = self.runs.selected_row() {
                    if let Some(reason) = r.unreadable.clone() {
                        self.set_status(LogLevel::Warn, format!("{}: {reason}", r.id));
                        return;
                    }
                    // A run trained elsewhere: follow it live on the Train screen.
                    if r.status == "running" && !self.is_own_run(&r.id) {
                        let id = r.id.clone();
                        self.attach(&id);
                        return;
                    }
                }
                self.runs.open_detail(self.store.as_ref());
            }
            Action::Mark => {
                self.runs.toggle_mark();
                self.runs.move_cursor(1);
            }
            Action::Compare => {
                let opened = self.runs.open_compare();
                if !opened {
                    self.set_status(LogLevel::Warn, s::COMPARE_NEEDS_TWO);
                }
            }
            Action::Filter => {
                self.popup = Some(Popup::Input(Input::new(
                    InputKind::Filter,
                    self.runs.filter.clone(),
                )))
            }
            Action::SortNext => self.runs.cycle_sort(),
            Action::SortReverse => self.runs.toggle_reverse(),
            Action::Tag | Action::Note | Action::Delete => {
                if let Some(id) = self.runs.selected_id().map(str::to_string) {
                    self.run_action(a, id);
                }
            }
            Action::Reload => self.poll_store(true),
            Action::Back => {
                if !self.runs.filter.is_empty() {
                    self.runs.set_filter("");
                } else {
                    self.runs.marked.clear();
                }
            }
            _ => {}
        }
    }

    fn run_action(&mut self, a: Action, id: String) {
        let rec = self.runs.loaded(&id).map(|r| r.record.clone());
        match a {
            Action::Tag | Action::Note => {
                let Some(rec) = rec else {
                    self.set_status(LogLevel::Warn, format!("{id}: {}", s::UNREADABLE));
                    return;
                };
                let (kind, text) = if a == Action::Tag {
                    (InputKind::Tags(id), rec.tags.join(" "))
                } else {
                    (InputKind::Note(id), rec.note.clone())
                };
                self.popup = Some(Popup::Input(Input::new(kind, text)));
            }
            Action::Delete => self.popup = Some(Popup::Confirm(ConfirmKind::Delete(id))),
            _ => {}
        }
    }

    pub(in crate::tui) fn on_detail(&mut self, a: Action) {
        let store = self.store.clone();
        let RunsView::Detail(d) = &mut self.runs.view else {
            return;
        };
        match a {
            Action::Left => {
                d.page = d.page.step(-1);
                d.scroll = 0;
            }
            Action::Right => {
                d.page = d.page.step(1);
                d.scroll = 0;
            }
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
            Action::Back => self.runs.view = RunsView::Table,
            Action::Tag | Action::Note | Action::Delete => {
                let id = d.id().to_string();
                self.run_action(a, id);
            }
            _ => {}
        }
    }

    pub(in crate::tui) fn on_compare(&mut self, a: Action) {
        let RunsView::Compare(c) = &mut self.runs.view else {
            return;
        };
        match a {
            Action::Up => c.scroll = c.scroll.saturating_sub(1),
            Action::Down => c.scroll = c.scroll.saturating_add(1),
            Action::Back => self.runs.view = RunsView::Table,
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
