//! Runs keys: the table (move, columns, open, mark, expand a study, compare, filter, sort by
//! the column under the cursor, tag, note, delete, load into Setup), one run's detail (pages,
//! seeds, scroll) and its images page's request to the image loader, the comparison
//! (baseline, series) and the Study view (cells, their runs).

use crate::store::{RecordError, RunRecord, RunStatus, StoreError};

use super::super::app::{App, Popup, Tab, IMAGES_PER_ROW};
use super::super::detail::DetailPage;
use super::super::images::{extremes, ImageRequest, ImagesState, Pick};
use super::super::keys::Action;
use super::super::popups::confirm::{refusal, ConfirmKind};
use super::super::popups::input::{Input, InputKind};
use super::super::strings as s;
use super::super::train::live::LogLevel;
use super::RunsView;

impl App {
    pub(in crate::tui) fn on_runs(&mut self, a: Action) {
        match a {
            Action::Up => self.runs.move_cursor(-1),
            Action::Down => self.runs.move_cursor(1),
            Action::PageUp => self.runs.move_cursor(-10),
            Action::PageDown => self.runs.move_cursor(10),
            Action::Top => self.runs.move_cursor(i64::MIN / 2),
            Action::Bottom => self.runs.move_cursor(i64::MAX / 2),
            Action::Left if self.runs.on_expanded_study() => self.runs.toggle_expand(),
            Action::Right if self.runs.on_folded_study() => self.runs.toggle_expand(),
            Action::Left => self.runs.step_column(-1),
            Action::Right => self.runs.step_column(1),
            // A study or cell line opens the Study view.
            Action::Enter if self.runs.selected_group().is_some() => {
                self.runs.open_study();
            }
            Action::Mark if self.runs.selected_group().is_some() => self.runs.toggle_expand(),
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
                let mut inp = Input::new(InputKind::Filter, self.runs.filter.clone());
                inp.error = self.runs.filter_error.clone();
                self.popup = Some(Popup::Input(inp));
            }
            Action::SortNext => self.runs.sort_by_column(),
            Action::SortReverse => self.runs.toggle_reverse(),
            Action::Tag | Action::Note | Action::Delete | Action::LoadConfig => {
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
            Action::Delete => {
                let kind = match self.delete_refusal(&id) {
                    Some(reason) => ConfirmKind::DeleteRefused { id, reason },
                    None => ConfirmKind::Delete(id),
                };
                self.popup = Some(Popup::Confirm(kind));
            }
            Action::LoadConfig => self.load_into_setup(&id),
            _ => {}
        }
    }

    /// Why the store would refuse to delete `id` (a live writer, a newer schema), asked before
    /// the question so the popup says it at once. The store decides again on yes.
    fn delete_refusal(&self, id: &str) -> Option<String> {
        if let Some(r) = self.runs.loaded(id) {
            return (r.status == RunStatus::Running)
                .then(|| s::delete_running(id, r.record.pid, &r.record.host));
        }
        let path = self
            .store
            .as_ref()?
            .run_dir(id)
            .ok()?
            .join(crate::store::RUN_FILE);
        match RunRecord::load(&path) {
            Err(
                e @ StoreError::Record {
                    error: RecordError::UnknownSchema { .. },
                    ..
                },
            ) => Some(refusal(id, &e)),
            _ => None,
        }
    }

    /// `e`: the run's config into the Setup form, to re-run or edit it.
    fn load_into_setup(&mut self, id: &str) {
        let Some(run) = self.runs.loaded(id) else {
            self.set_status(LogLevel::Warn, format!("{id}: {}", s::LOAD_UNREADABLE));
            return;
        };
        let (config, profile) = (run.record.config.clone(), run.record.profile.clone());
        // A run that changed its profile: the profile's config, so the form names what the
        // run changed (the run's own config when the profile is gone). One that did not:
        // its config is the profile's, as it was.
        let base = if run.record.changes.is_empty() {
            config.clone()
        } else {
            self.store
                .as_ref()
                .and_then(|st| st.profile_dirs().resolve(&profile).ok())
                .map_or_else(|| config.clone(), |(_, _, c)| c)
        };
        self.form.load_from(config, profile, base);
        self.tab = Tab::Setup;
        self.help = false;
        self.set_status(LogLevel::Info, format!("{} {id}", s::LOADED_INTO_SETUP));
    }

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

    pub(in crate::tui) fn on_compare(&mut self, a: Action) {
        let RunsView::Compare(c) = &mut self.runs.view else {
            return;
        };
        let n = c.runs.len();
        match a {
            Action::Up => c.cursor = c.cursor.saturating_sub(1),
            Action::Down => c.cursor = (c.cursor + 1).min(c.series.len().saturating_sub(1)),
            Action::Toggle => c.toggle(),
            Action::Left => c.focus = (c.focus + n - 1) % n.max(1),
            Action::Right => c.focus = (c.focus + 1) % n.max(1),
            Action::Baseline => c.baseline = c.focus,
            Action::NextMetric => c.overlay = c.overlay.next(),
            Action::Export => return self.export_shown(),
            Action::PageUp => c.scroll = c.scroll.saturating_sub(1),
            Action::PageDown => {
                c.scroll = (c.scroll + 1).min(c.diff.len().saturating_sub(1) as u16);
            }
            Action::LoadConfig => {
                let id = c.runs[c.focus.min(n - 1)].record.id.clone();
                self.load_into_setup(&id);
            }
            Action::Back => self.runs.view = RunsView::Table,
            _ => {}
        }
    }

    pub(in crate::tui) fn on_study(&mut self, a: Action) {
        let RunsView::Study(v) = &mut self.runs.view else {
            return;
        };
        let Some(g) = self.runs.studies.iter().find(|g| g.name == v.name) else {
            if a == Action::Back {
                self.runs.go_back();
            }
            return;
        };
        let cell = g.cells.get(v.cursor);
        let listed = cell.map_or(0, |c| c.rows.len());
        let run_at = |i: usize| {
            cell.and_then(|c| c.rows.get(i))
                .and_then(|&r| self.runs.rows.get(r))
                .map(|r| r.id.clone())
        };
        match (a, v.list) {
            (Action::Up, None) => v.cursor = v.cursor.saturating_sub(1),
            (Action::Down, None) => v.cursor = (v.cursor + 1).min(g.cells.len().saturating_sub(1)),
            (Action::Up, Some(i)) => v.list = Some(i.saturating_sub(1)),
            (Action::Down, Some(i)) => v.list = Some((i + 1).min(listed.saturating_sub(1))),
            (Action::Enter, None) if listed > 0 => v.list = Some(0),
            (Action::Enter, Some(i)) => {
                if let Some(id) = run_at(i) {
                    let store = self.store.clone();
                    self.runs.open_detail_id(&id, store.as_ref());
                }
            }
            (Action::LoadConfig, Some(i)) => {
                if let Some(id) = run_at(i) {
                    self.load_into_setup(&id);
                }
            }
            (Action::Back, Some(_)) => v.list = None,
            (Action::Back, None) => self.runs.go_back(),
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
