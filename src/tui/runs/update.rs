//! Runs table keys: move, columns, open, mark, expand a study, compare, filter, sort by the
//! column under the cursor, and the run actions the other Runs views share (tag, note,
//! delete, load into Setup). Detail, Compare and Study keys are in their own folders.

use crate::store::{RecordError, RunRecord, RunStatus, StoreError};

use super::super::app::{App, Popup, Tab};
use super::super::keys::Action;
use super::super::popups::confirm::{refusal, ConfirmKind};
use super::super::popups::input::{Input, InputKind};
use super::super::strings as s;
use super::super::train::live::LogLevel;

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

    pub(in crate::tui) fn run_action(&mut self, a: Action, id: String) {
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
    pub(in crate::tui) fn load_into_setup(&mut self, id: &str) {
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
}
