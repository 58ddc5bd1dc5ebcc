//! Claims: a study's task is run by one process at a time, however many `study run`s, Slurm
//! array tasks or labs work on the same store.
//!
//! A task is claimed by taking an exclusive advisory lock on its claim file,
//! `<root>/studies/<name>/claims/<cell key>-<seed index>.lock`, the same kind of lock a run's
//! writer holds for its life ([`crate::store::fsutil::WriterLock`]): taking it is atomic, the
//! kernel releases it when the holder exits or dies (SIGKILL included), so a dead holder's
//! claim is free again at once and a live one's is never taken over. The claim files stay
//! (removing a lock file while another process opens it would let two processes lock two
//! files of one name). Whoever claims a task reads its state from the store again before it
//! starts: a task finished or running meanwhile is skipped.

use std::path::PathBuf;

use super::{Study, Task};
use crate::store::error::StoreError;
use crate::store::fsutil::WriterLock;
use crate::store::Store;

/// A task held by this process until dropped.
pub struct TaskClaim {
    _lock: WriterLock,
    path: PathBuf,
}

impl TaskClaim {
    /// The claim file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Store {
    /// The claim file of a task.
    pub fn claim_path(&self, study: &Study, task: Task) -> Result<PathBuf, StoreError> {
        let key = &study.cells[task.cell].key;
        Ok(self
            .study_dir(&study.name)?
            .join("claims")
            .join(format!("{key}-{}.lock", task.seed_index)))
    }

    /// Claims a task: `None` when another live process holds it.
    pub fn claim_task(&self, study: &Study, task: Task) -> Result<Option<TaskClaim>, StoreError> {
        let path = self.claim_path(study, task)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, "create folder", e))?;
        }
        Ok(WriterLock::try_acquire(&path)?.map(|lock| TaskClaim { _lock: lock, path }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::profiles::{ProfileDirs, Shipped};
    use std::path::Path;

    #[test]
    fn a_task_is_claimed_once_until_released() {
        let tmp = tempfile::tempdir().unwrap();
        let shipped = tmp.path().join("shipped");
        std::fs::create_dir_all(&shipped).unwrap();
        std::fs::write(
            shipped.join("b.toml"),
            "[data]\ndataset = \"synthetic\"\nnormal = \"plus\"\nanomalous = \"cross\"\n",
        )
        .unwrap();
        let dirs = ProfileDirs {
            local: tmp.path().join("l"),
            user: tmp.path().join("u"),
            shipped: Shipped::Dir(shipped),
        };
        let study =
            Study::parse("c", "base = \"b\"\nseeds = 2\n", Path::new("c.toml"), &dirs).unwrap();
        let store = Store::with_dirs(tmp.path().join("home"), tmp.path().join("cfg"));
        let t0 = Task {
            cell: 0,
            seed_index: 0,
        };
        let t1 = Task {
            cell: 0,
            seed_index: 1,
        };
        let a = store.claim_task(&study, t0).unwrap().expect("free");
        assert!(store.claim_task(&study, t0).unwrap().is_none());
        let b = store
            .claim_task(&study, t1)
            .unwrap()
            .expect("another task is free");
        assert_ne!(a.path(), b.path());
        drop(a);
        assert!(store.claim_task(&study, t0).unwrap().is_some());
    }
}
