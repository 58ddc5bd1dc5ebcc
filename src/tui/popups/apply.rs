//! Applies what the popups answer: a confirmed stop, quit or delete; a loaded profile; picked
//! reference classes or scorers; an applied text (field value, profile name, tags, note,
//! filter). The popups' own state and keys are in [`super::super::popups`].

use crossterm::event::KeyEvent;

use crate::store::{Store, StoreError};

use super::super::app::{App, Popup};
use super::super::keys::Action;
use super::super::popups::checklist::{Checklist, ChecklistOutcome};
use super::super::popups::confirm::{Answer, ConfirmKind};
use super::super::popups::input::{Input, InputKind, InputOutcome, Typed};
use super::super::popups::profiles::{PickerOutcome, ProfilePicker};
use super::super::popups::studies::{StudyPicker, StudyPickerOutcome};
use super::super::runs::RunsView;
use super::super::strings as s;
use super::super::train::live::LogLevel;

impl App {
    pub(in crate::tui) fn on_confirm(&mut self, a: Action) {
        let Some(Popup::Confirm(kind)) = self.popup.take() else {
            return;
        };
        match kind.answer(a) {
            Answer::Open => self.popup = Some(Popup::Confirm(kind)),
            Answer::No => {}
            Answer::Yes => self.confirmed(kind),
        }
    }

    fn confirmed(&mut self, kind: ConfirmKind) {
        match kind {
            ConfirmKind::Stop => self.stop_job(),
            ConfirmKind::Reset => self.reset_form(),
            ConfirmKind::Quit => self.shutdown(),
            ConfirmKind::Delete(id) => {
                let Some(st) = self.store.clone() else {
                    return;
                };
                match st.delete_run(&id, false) {
                    Ok(()) => {
                        if let RunsView::Detail(d) = &self.runs.view {
                            if d.id() == id {
                                self.runs.view = RunsView::Table;
                            }
                        }
                        self.poll_store(true);
                        self.set_status(LogLevel::Info, format!("deleted {id}"));
                    }
                    Err(e) => {
                        let reason = super::super::popups::confirm::refusal(&id, &e);
                        self.log_line(&e.to_string());
                        self.popup =
                            Some(Popup::Confirm(ConfirmKind::DeleteRefused { id, reason }));
                    }
                }
            }
            ConfirmKind::DeleteRefused { .. } => {}
        }
    }

    /// The list pickers: the profile picker and the checklists.
    pub(in crate::tui) fn on_picker(&mut self, a: Action) {
        match self.popup.take() {
            Some(Popup::Profiles(p)) => self.on_profiles(p, a),
            Some(Popup::Checklist(c)) => self.on_checklist(c, a),
            Some(Popup::Studies(p)) => self.on_studies(p, a),
            other => self.popup = other,
        }
    }

    fn on_profiles(&mut self, mut p: ProfilePicker, a: Action) {
        match p.on_action(a) {
            PickerOutcome::Open => {}
            PickerOutcome::Cancel => return,
            PickerOutcome::Load(name) => {
                if let Some(st) = &self.store {
                    match st.profile_dirs().resolve(&name) {
                        Ok((_, _, config)) => {
                            self.form.load(config, name.clone());
                            self.set_status(LogLevel::Info, format!("loaded {name}"));
                            return;
                        }
                        Err(err) => p.error = Some(err.to_string()),
                    }
                }
            }
        }
        self.popup = Some(Popup::Profiles(p));
    }

    fn on_studies(&mut self, mut p: StudyPicker, a: Action) {
        match p.on_action(a) {
            StudyPickerOutcome::Open => self.popup = Some(Popup::Studies(p)),
            StudyPickerOutcome::Cancel => {}
            StudyPickerOutcome::Start(name) => self.start_study(&name),
        }
    }

    fn on_checklist(&mut self, mut c: Checklist, a: Action) {
        match c.on_action(a) {
            ChecklistOutcome::Open => self.popup = Some(Popup::Checklist(c)),
            ChecklistOutcome::Cancel => {}
            ChecklistOutcome::Reference(r) => self.form.set_reference(r),
            // In the checklist's order: the first is primary.
            ChecklistOutcome::Scorers(chosen) => self.form.set_scorers(chosen),
            ChecklistOutcome::Ensemble(chosen) => self.form.set_ensemble(chosen),
        }
    }

    /// Typing into a text input; true when the key was consumed. The filter applies while
    /// typing.
    pub(in crate::tui) fn input_edit(&mut self, ev: &KeyEvent) -> bool {
        let Some(Popup::Input(inp)) = self.popup.as_mut() else {
            return false;
        };
        match inp.type_key(ev) {
            Typed::Ignored => false,
            Typed::Changed => {
                if inp.kind == InputKind::Filter {
                    let f = inp.text.clone();
                    self.runs.set_filter(&f);
                    inp.error = self.runs.filter_error.clone();
                }
                true
            }
        }
    }

    pub(in crate::tui) fn on_input(&mut self, a: Action) {
        let Some(Popup::Input(mut inp)) = self.popup.take() else {
            return;
        };
        match inp.on_action(a) {
            InputOutcome::Open => {
                self.popup = Some(Popup::Input(inp));
                return;
            }
            InputOutcome::Cancel => {
                if inp.kind == InputKind::Filter {
                    self.runs.set_filter("");
                }
                return;
            }
            InputOutcome::Submit => {}
        }
        let result: Result<Option<String>, String> = match &inp.kind {
            InputKind::Field(f) => self.form.apply_text(*f, &inp.text).map(|_| None),
            InputKind::Filter => {
                self.runs.set_filter(&inp.text);
                self.runs.filter_error.clone().map_or(Ok(None), Err)
            }
            InputKind::ProfileName => self.save_profile(&mut inp),
            InputKind::Tags(id) => {
                let tags: Vec<String> = inp
                    .text
                    .split([' ', ','])
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect();
                self.with_store(|st| st.set_tags(id, &tags))
                    .map(|_| Some(format!("tags of {id} saved")))
            }
            InputKind::Note(id) => self
                .with_store(|st| st.set_note(id, inp.text.trim()))
                .map(|_| Some(format!("note of {id} saved"))),
        };
        match result {
            Ok(msg) => {
                if matches!(inp.kind, InputKind::Tags(_) | InputKind::Note(_)) {
                    self.poll_store(true);
                }
                if let Some(m) = msg {
                    self.set_status(LogLevel::Info, m);
                }
            }
            Err(e) => {
                inp.error = Some(e);
                self.popup = Some(Popup::Input(inp));
            }
        }
    }

    fn with_store(&self, f: impl FnOnce(&Store) -> Result<(), StoreError>) -> Result<(), String> {
        match &self.store {
            Some(st) => f(st).map_err(|e| e.to_string()),
            None => Err(s::RUNS_NO_STORE.to_string()),
        }
    }

    fn save_profile(&mut self, inp: &mut Input) -> Result<Option<String>, String> {
        let name = inp.text.trim().to_string();
        let Some(st) = &self.store else {
            return Err(s::RUNS_NO_STORE.into());
        };
        // The description typed with the name is saved with the profile.
        let mut config = self.form.config.clone();
        if let Some(d) = &inp.second {
            config.description = d.trim().to_string();
        }
        match st.profile_dirs().save(&name, &config, inp.overwrite_armed) {
            Ok(path) => {
                self.form.config.description = config.description;
                self.form.saved_as(&name);
                Ok(Some(format!("saved profile {name} ({})", path.display())))
            }
            Err(StoreError::ProfileExists { .. }) => {
                inp.overwrite_armed = true;
                Err(s::PROFILE_EXISTS.into())
            }
            Err(e) => Err(e.to_string()),
        }
    }
}
