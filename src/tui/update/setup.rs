//! Setup keys: moving through and changing the form, opening its popups (field edit,
//! checklists, profile picker, save as profile) and starting a run.

use crate::config::Config;

use super::super::app::{App, Popup, Tab};
use super::super::form::{Field, FieldKind};
use super::super::keys::Action;
use super::super::live::{Live, LogLevel};
use super::super::popups::checklist::Checklist;
use super::super::popups::input::{Input, InputKind};
use super::super::popups::profiles::ProfilePicker;
use super::super::strings as s;

impl App {
    pub(in crate::tui) fn on_setup(&mut self, a: Action) {
        let f = self.form.focused();
        match a {
            Action::Up => self.form.move_focus(-1),
            Action::Down => self.form.move_focus(1),
            Action::Left => self.form.step(f, -1),
            Action::Right => self.form.step(f, 1),
            Action::Edit => match f.kind() {
                FieldKind::List => self.open_checklist(f),
                FieldKind::Choice | FieldKind::Number => {
                    self.popup = Some(Popup::Input(Input::new(
                        InputKind::Field(f),
                        self.form.edit_text(f),
                    )))
                }
            },
            Action::Start => self.start_run(),
            Action::LoadProfile => self.open_profiles(),
            Action::SaveProfile => {
                let name = if self.form.edited {
                    String::new()
                } else {
                    self.form.profile.clone()
                };
                self.popup = Some(Popup::Input(Input::new(InputKind::ProfileName, name)));
            }
            Action::ResetConfig => {
                self.form.load(Config::default(), "default");
                self.set_status(LogLevel::Info, "form reset to the defaults");
            }
            _ => {}
        }
    }

    /// The checklist of a list field: reference classes, else scorers.
    fn open_checklist(&mut self, f: Field) {
        let cl = match f {
            Field::Reference => Checklist::reference(&self.form),
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

    /// Starts a run from the form (Setup: Enter / r).
    pub fn start_run(&mut self) {
        if self.run_active() {
            self.set_status(LogLevel::Warn, s::SETUP_RUN_ACTIVE);
            return;
        }
        self.form.validate();
        if let Some(e) = self.form.error.clone() {
            if let Some(i) = self.form.fields().iter().position(|f| f.key() == e.key) {
                self.form.focus = i;
            }
            self.set_status(LogLevel::Error, format!("{}: {}", e.key, e.message));
            return;
        }
        let config = self.form.config.clone();
        let profile = self.form.run_profile();
        match self.launcher.launch(&config, &profile) {
            Ok(job) => {
                let mut live = Live::new(config, profile, job.run_id.clone(), self.now);
                if let Some(id) = &job.run_id {
                    live.log(LogLevel::Info, format!("run {id}"));
                    self.log_line(&format!("started run {id}"));
                }
                self.live = Some(live);
                self.job = Some(job);
                self.tab = Tab::Train;
                self.help = false;
            }
            Err(e) => self.set_status(LogLevel::Error, format!("cannot start: {e:#}")),
        }
    }
}
