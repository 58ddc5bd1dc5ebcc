//! Changing runs in the store: tags, notes, marking a run interrupted, deleting. Every change is
//! a locked read-modify-write of `run.toml`; unreadable records are never overwritten; a run
//! with a live writer is never deleted.

use rand::Rng;

use super::error::RecordError;
use super::error::StoreError;
use super::record::{RunRecord, RunStatus};
use super::{
    fsutil, validate_tag, Store, Timestamp, DELETED_PREFIX, LOCK_FILE, RUN_FILE, WRITER_LOCK_FILE,
};

impl Store {
    /// Replaces a run's tags (validated, deduplicated, order kept).
    pub fn set_tags(&self, id: &str, tags: &[String]) -> Result<(), StoreError> {
        for t in tags {
            validate_tag(t)?;
        }
        let mut clean: Vec<String> = Vec::new();
        for t in tags {
            if !clean.contains(t) {
                clean.push(t.clone());
            }
        }
        self.update(id, |r| r.tags = clean)
    }

    /// Adds and removes tags in one locked read-modify-write; returns the new tags.
    pub fn edit_tags(
        &self,
        id: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<Vec<String>, StoreError> {
        for t in add {
            validate_tag(t)?;
        }
        let mut result = Vec::new();
        self.update(id, |r| {
            r.tags.retain(|t| !remove.contains(t));
            for t in add {
                if !r.tags.contains(t) {
                    r.tags.push(t.clone());
                }
            }
            result = r.tags.clone();
        })?;
        Ok(result)
    }

    /// Sets the free-text note (empty clears it).
    pub fn set_note(&self, id: &str, note: &str) -> Result<(), StoreError> {
        let note = note.to_string();
        self.update(id, |r| r.note = note)
    }

    /// Locked read-modify-write of `run.toml`. Refuses unreadable records (never overwrites).
    fn update(&self, id: &str, f: impl FnOnce(&mut RunRecord)) -> Result<(), StoreError> {
        let id = self.resolve_id(id)?;
        let dir = self.runs_dir().join(&id);
        let _lock = fsutil::LockGuard::acquire(&dir.join(LOCK_FILE))?;
        let path = dir.join(RUN_FILE);
        let mut record = RunRecord::load(&path)?;
        fsutil::remove_stale_temps(&dir, RUN_FILE);
        f(&mut record);
        record.save(&path)
    }

    /// Marks a `running` run interrupted (its process is going away); other runs are left as
    /// they are.
    pub fn mark_interrupted(&self, id: &str) -> Result<(), StoreError> {
        self.update(id, |r| {
            if r.status == RunStatus::Running {
                r.status = RunStatus::Interrupted;
                r.finished = Some(Timestamp::now());
                for s in &mut r.seeds {
                    if s.status == RunStatus::Running {
                        s.status = RunStatus::Interrupted;
                    }
                }
            }
        })
    }

    /// Deletes a run folder. A run with a live writer is refused, whatever its `run.toml`
    /// says (even when it cannot be read); so is a record of an unknown (newer) schema unless
    /// `force`, since this adalab cannot tell what it holds.
    pub fn delete_run(&self, id: &str, force: bool) -> Result<(), StoreError> {
        let id = self.resolve_id(id)?;
        let dir = self.runs_dir().join(&id);
        let lock = fsutil::LockGuard::acquire(&dir.join(LOCK_FILE))?;
        let record = RunRecord::load(&dir.join(RUN_FILE));
        if fsutil::WriterLock::is_held(&dir.join(WRITER_LOCK_FILE)) {
            let (pid, host) = match &record {
                Ok(r) => (r.pid, r.host.clone()),
                Err(_) => (0, self.host.clone()),
            };
            return Err(StoreError::StillRunning { id, pid, host });
        }
        match &record {
            Ok(rec) if rec.effective_status(&self.host, Timestamp::now()) == RunStatus::Running => {
                return Err(StoreError::StillRunning {
                    id,
                    pid: rec.pid,
                    host: rec.host.clone(),
                });
            }
            Err(StoreError::Record {
                error: RecordError::UnknownSchema { found },
                ..
            }) if !force => {
                return Err(StoreError::FutureSchema { id, found: *found });
            }
            _ => {}
        }
        // Move it out of sight first so no reader sees a half-deleted run.
        let mut rng = rand::thread_rng();
        let trash = self
            .runs_dir()
            .join(format!("{DELETED_PREFIX}{id}-{:08x}", rng.gen::<u32>()));
        std::fs::rename(&dir, &trash).map_err(|e| StoreError::io(&dir, "move away", e))?;
        drop(lock);
        fsutil::sync_dir(&self.runs_dir())?;
        std::fs::remove_dir_all(&trash).map_err(|e| StoreError::io(&trash, "delete", e))
    }
}
