//! Changing runs in the store: tags, notes, marking a run interrupted, deleting. Every change is
//! a locked read-modify-write of `run.toml`; unreadable records are never overwritten; a run
//! with a live writer is never deleted.

use rand::Rng;

use super::error::RecordError;
use super::error::StoreError;
use super::record::{RunRecord, RunStatus};
use super::{
    fsutil, validate_tag, LoadedRun, RunEntry, Store, Timestamp, DELETED_PREFIX, LOCK_FILE,
    RUN_FILE, WRITER_LOCK_FILE,
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

    /// Records in `run.toml` how the listed runs whose writer is gone ended: a record still
    /// `running` whose process died (killed, a lost node) or whose writer left its last word
    /// is rewritten `interrupted` (or `failed`, with the reason), so every tool reading
    /// `run.toml` sees the truth. Done under the run's lock and while holding its writer lock
    /// (which proves no writer lives); a run that cannot be settled (a read-only store, a
    /// busy lock) is left as it is. `runs` are updated; returns the ids settled.
    pub fn settle<'a>(&self, runs: impl IntoIterator<Item = &'a mut LoadedRun>) -> Vec<String> {
        let mut done = Vec::new();
        for run in runs {
            if run.record.status != RunStatus::Running || run.status == RunStatus::Running {
                continue;
            }
            if let Ok(Some(rec)) = self.settle_one(&run.dir, run.status, run.record.reason.clone())
            {
                run.record.status = rec.status;
                run.record.reason = rec.reason;
                run.record.finished = rec.finished;
                run.record.seeds = rec.seeds;
                done.push(run.record.id.clone());
            }
        }
        done
    }

    /// [`Store::settle`] for a listing.
    pub fn settle_entries(&self, entries: &mut [RunEntry]) -> Vec<String> {
        self.settle(entries.iter_mut().filter_map(|e| match e {
            RunEntry::Ok(r) => Some(&mut **r),
            RunEntry::Unreadable { .. } => None,
        }))
    }

    fn settle_one(
        &self,
        dir: &std::path::Path,
        status: RunStatus,
        reason: Option<String>,
    ) -> Result<Option<RunRecord>, StoreError> {
        let _lock = fsutil::LockGuard::acquire(&dir.join(LOCK_FILE))?;
        let Some(_writer) = fsutil::WriterLock::try_acquire(&dir.join(WRITER_LOCK_FILE))? else {
            return Ok(None);
        };
        let path = dir.join(RUN_FILE);
        let mut record = RunRecord::load(&path)?;
        if record.status != RunStatus::Running {
            return Ok(None);
        }
        record.status = status;
        if status == RunStatus::Failed {
            record.reason = reason;
        }
        // The last sign of life, not the time it was noticed.
        record.finished = Some(record.updated);
        for s in &mut record.seeds {
            if s.status == RunStatus::Running {
                s.status = status;
            }
        }
        fsutil::remove_stale_temps(dir, RUN_FILE);
        record.save(&path)?;
        Ok(Some(record))
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
