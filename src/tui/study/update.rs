//! Study view keys: the cells, the runs of a cell, opening a run's detail, loading one into
//! Setup.

use super::super::app::App;
use super::super::keys::Action;
use super::super::runs::RunsView;

impl App {
    pub(in crate::tui) fn on_study(&mut self, a: Action) {
        let RunsView::Study(v) = &mut self.runs.view else {
            return;
        };
        if a == Action::Export {
            let name = v.name.clone();
            return self.export_study(&name);
        }
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
}
