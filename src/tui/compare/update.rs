//! Compare keys: the series list (move, show/hide), the run in focus, the baseline, scrolling
//! the differing keys, loading a run into Setup.

use super::super::app::App;
use super::super::keys::Action;
use super::super::runs::RunsView;

impl App {
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
}
