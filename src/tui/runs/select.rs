//! The selection of the Runs screen, kept by identity (run id, study, cell): moving it,
//! finding it again after a rebuild, what it points at, expanding studies and marks.

use crate::store::{LoadedRun, RunEntry};

use super::super::study::StudyGroup;

use super::*;

impl RunsState {
    pub(super) fn key_of(&self, it: Item) -> Option<ItemKey> {
        Some(match it {
            Item::Run { row, .. } => ItemKey::Run(self.rows.get(row)?.id.clone()),
            Item::Study(si) => ItemKey::Study(self.studies.get(si)?.name.clone()),
            Item::Cell { study, cell } => {
                let g = self.studies.get(study)?;
                ItemKey::Cell(g.name.clone(), g.cells.get(cell)?.key.clone())
            }
        })
    }

    pub(super) fn restore_selection(&mut self) {
        if let Some(key) = self.selected.clone() {
            if let Some(p) = self
                .visible
                .iter()
                .position(|it| self.key_of(*it).as_ref() == Some(&key))
            {
                self.cursor = p;
            }
        }
        self.clamp();
    }

    /// Keeps the cursor on a line and remembers what it is on.
    pub(super) fn clamp(&mut self) {
        self.cursor = self.cursor.min(self.visible.len().saturating_sub(1));
        self.selected = self
            .visible
            .get(self.cursor)
            .and_then(|it| self.key_of(*it));
    }

    /// Selects a study's row.
    pub fn select_study(&mut self, name: &str) {
        self.select_key(&ItemKey::Study(name.to_string()));
    }

    pub(super) fn select_key(&mut self, key: &ItemKey) -> bool {
        match self
            .visible
            .iter()
            .position(|it| self.key_of(*it).as_ref() == Some(key))
        {
            Some(p) => {
                self.cursor = p;
                self.clamp();
                true
            }
            None => false,
        }
    }

    pub fn move_cursor(&mut self, delta: i64) {
        if self.visible.is_empty() {
            return;
        }
        let n = self.visible.len() as i64;
        self.cursor = (self.cursor as i64 + delta).clamp(0, n - 1) as usize;
        self.clamp();
    }

    pub fn selected_item(&self) -> Option<Item> {
        self.visible.get(self.cursor).copied()
    }

    /// The run under the cursor (none on a study or cell line).
    pub fn selected_row(&self) -> Option<&Row> {
        match self.selected_item()? {
            Item::Run { row, .. } => self.rows.get(row),
            _ => None,
        }
    }

    pub fn selected_id(&self) -> Option<&str> {
        self.selected_row().map(|r| r.id.as_str())
    }

    /// The study of the line under the cursor when it is a study or cell line, and the cell.
    pub fn selected_group(&self) -> Option<(&StudyGroup, Option<usize>)> {
        match self.selected_item()? {
            Item::Study(si) => Some((self.studies.get(si)?, None)),
            Item::Cell { study, cell } => Some((self.studies.get(study)?, Some(cell))),
            Item::Run { .. } => None,
        }
    }

    pub fn study(&self, name: &str) -> Option<&StudyGroup> {
        self.studies.iter().find(|g| g.name == name)
    }

    pub fn loaded(&self, id: &str) -> Option<&LoadedRun> {
        self.entries.iter().find_map(|e| match e {
            RunEntry::Ok(r) if r.record.id == id => Some(&**r),
            _ => None,
        })
    }

    /// Whether the line under the cursor is a study that shows its runs.
    pub fn on_expanded_study(&self) -> bool {
        matches!(self.selected_group(), Some((g, None)) if self.expanded.contains(&g.name))
    }

    /// Whether the line under the cursor is a study that hides its runs.
    pub fn on_folded_study(&self) -> bool {
        matches!(self.selected_group(), Some((g, None)) if !self.expanded.contains(&g.name))
    }

    /// Shows or hides the runs of the study under the cursor (from a cell line: hides them and
    /// selects the study).
    pub fn toggle_expand(&mut self) {
        let Some((g, cell)) = self.selected_group() else {
            return;
        };
        let name = g.name.clone();
        if cell.is_some() || self.expanded.contains(&name) {
            self.expanded.remove(&name);
        } else {
            self.expanded.insert(name.clone());
        }
        self.rebuild();
        self.select_study(&name);
    }

    pub fn toggle_mark(&mut self) {
        let Some(id) = self.selected_id().map(str::to_string) else {
            return;
        };
        if let Some(p) = self.marked.iter().position(|m| *m == id) {
            self.marked.remove(p);
        } else if self.loaded(&id).is_some() {
            self.marked.push(id);
        }
    }

    pub fn is_marked(&self, id: &str) -> bool {
        self.marked.iter().any(|m| m == id)
    }
}

#[cfg(test)]
impl RunsState {
    /// Selects a run, expanding its study when it is folded away (tests).
    pub fn select_id(&mut self, id: &str) {
        let key = ItemKey::Run(id.to_string());
        if !self.select_key(&key) {
            let study = self
                .rows
                .iter()
                .find(|r| r.id == id)
                .and_then(|r| r.study.as_ref())
                .map(|s| s.name.clone());
            if let Some(name) = study {
                self.expanded.insert(name);
                self.rebuild();
                self.select_key(&key);
            }
        }
    }
}
