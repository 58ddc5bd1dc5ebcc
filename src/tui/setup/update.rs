//! Setup keys: moving through and changing the form (folding its sections), opening its popups
//! (field edit, checklists, profile picker, save as profile, study picker, reset) and starting
//! a run — or queueing it while another one trains.

use super::super::app::{App, Popup};
use super::super::keys::Action;
use super::super::popups::checklist::Checklist;
use super::super::popups::confirm::ConfirmKind;
use super::super::popups::input::{Input, InputKind};
use super::super::popups::profiles::ProfilePicker;
use super::super::popups::studies::StudyPicker;
use super::super::strings as s;
use super::super::train::live::LogLevel;
use super::{Field, FieldKind};

impl App {
    pub(in crate::tui) fn on_setup(&mut self, a: Action) {
        let f = self.form.focused();
        match a {
            Action::Up => self.form.move_focus(-1),
            Action::Down => self.form.move_focus(1),
            Action::Left => self.form.step(f, -1),
            Action::Right => self.form.step(f, 1),
            Action::Edit => match (f, f.kind()) {
                (Field::Section(sec), _) => self.form.fold(sec, None),
                (_, FieldKind::List) => self.open_checklist(f),
                _ => self.open_editor(f, self.form.edit_text(f)),
            },
            Action::ClearField => match (f, f.kind()) {
                (Field::Section(_), _) => {}
                (_, FieldKind::List) => self.open_checklist(f),
                // Clear and type: the editor opens empty.
                _ => self.open_editor(f, String::new()),
            },
            Action::ToggleSection => self.form.fold(f.section(), None),
            Action::NextSection => self.form.jump_section(1),
            Action::PrevSection => self.form.jump_section(-1),
            Action::FoldAll => self.form.fold_all(),
            Action::Start => self.start_run(),
            Action::StartStudy => self.open_studies(),
            Action::LoadProfile => self.open_profiles(),
            Action::SaveProfile => {
                let name = if self.form.edited {
                    String::new()
                } else {
                    self.form.profile.clone()
                };
                let mut inp = Input::new(InputKind::ProfileName, name);
                inp.second = Some(self.form.config.description.clone());
                self.popup = Some(Popup::Input(inp));
            }
            Action::ResetConfig => self.popup = Some(Popup::Confirm(ConfirmKind::Reset)),
            _ => {}
        }
    }

    fn open_editor(&mut self, f: Field, text: String) {
        self.popup = Some(Popup::Input(Input::new(InputKind::Field(f), text)));
    }

    /// The form back to the defaults (after `D` was confirmed).
    pub fn reset_form(&mut self) {
        self.form.load(crate::config::Config::default(), "default");
        self.set_status(LogLevel::Info, s::FORM_RESET);
    }

    /// The checklist of a list field: reference classes, the ensemble's scorers, else scorers.
    fn open_checklist(&mut self, f: Field) {
        let cl = match f {
            Field::Reference => Checklist::reference(&self.form),
            Field::Ensemble => Checklist::ensemble(&self.form),
            _ => Checklist::scorers(&self.form),
        };
        self.popup = Some(Popup::Checklist(cl));
    }

    fn open_profiles(&mut self) {
        let Some(st) = &self.store else {
            self.set_status(LogLevel::Error, s::RUNS_NO_STORE);
            return;
        };
        let entries = st.profile_dirs().list();
        self.popup = Some(Popup::Profiles(ProfilePicker::new(
            entries,
            &self.form.profile,
        )));
    }

    fn open_studies(&mut self) {
        let Some(st) = &self.store else {
            self.set_status(LogLevel::Error, s::RUNS_NO_STORE);
            return;
        };
        let entries = crate::store::studies::list_studies(&st.study_dirs(), &st.profile_dirs());
        self.popup = Some(Popup::Studies(StudyPicker::new(entries)));
    }

    /// Starts a run from the form (Setup: Enter / r); queues it while something trains.
    pub fn start_run(&mut self) {
        self.form.validate();
        if let Some(e) = self.form.error.clone() {
            if let Some(fl) = self.form.error_field() {
                self.form.focus_field(fl);
            }
            self.set_status(LogLevel::Error, format!("{}: {}", e.key, e.message));
            return;
        }
        let config = self.form.config.clone();
        let profile = self.form.run_profile();
        self.start_or_queue_run(config, profile);
    }
}
