//! Following a run from the store: a run another process trains (started headless, under nohup
//! or Slurm) or a study task the lab's study worker trains. The follower looks at the run's
//! `run.toml` and `metrics.csv` about once a second, cheaply (their size and mtime), and when
//! either changed rebuilds the Train screen's [`Live`] view from them ([`Live::from_store`]).

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use crate::store::metrics::METRICS_FILE;
use crate::store::{RunStatus, Store, Timestamp, RUN_FILE};

use super::live::Live;

/// How often the run's files are looked at.
pub const FOLLOW_POLL: Duration = Duration::from_secs(1);
/// A running run whose files did not change is reloaded this often anyway: its process may
/// have died (the status then reads interrupted).
pub const FOLLOW_RECHECK: Duration = Duration::from_secs(5);

/// Size and modification time of the two files (what changes when the writer writes).
type Stamp = [Option<(u64, SystemTime)>; 2];

/// One followed run.
#[derive(Clone, Debug)]
pub struct Follower {
    pub id: String,
    dir: PathBuf,
    /// The view rebuilt from the store, once the run could be read.
    pub live: Option<Live>,
    /// Who trains it (from `run.toml`).
    pub pid: u32,
    pub host: String,
    /// The status the store shows (a `running` run whose process is gone reads interrupted).
    pub status: Option<RunStatus>,
    /// Why the run cannot be read right now.
    pub error: Option<String>,
    stamp: Option<Stamp>,
    last_poll: Option<Instant>,
    last_load: Option<Instant>,
}

fn stamp_of(dir: &std::path::Path) -> Stamp {
    let one = |name: &str| {
        let m = std::fs::metadata(dir.join(name)).ok()?;
        Some((m.len(), m.modified().ok()?))
    };
    [one(RUN_FILE), one(METRICS_FILE)]
}

impl Follower {
    pub fn new(store: &Store, id: &str) -> Follower {
        Follower {
            id: id.to_string(),
            dir: store.runs_dir().join(id),
            live: None,
            pid: 0,
            host: String::new(),
            status: None,
            error: None,
            stamp: None,
            last_poll: None,
            last_load: None,
        }
    }

    /// Whether the followed run is still being trained.
    pub fn is_running(&self) -> bool {
        self.status.is_none_or(|s| s == RunStatus::Running)
    }

    /// Looks at the run's files when a poll is due (or `force`); rebuilds the view when they
    /// changed. Returns true when the view changed.
    pub fn poll(&mut self, store: &Store, now: Instant, wall: Timestamp, force: bool) -> bool {
        if !force
            && self
                .last_poll
                .is_some_and(|t| now.saturating_duration_since(t) < FOLLOW_POLL)
        {
            return false;
        }
        self.last_poll = Some(now);
        let stamp = stamp_of(&self.dir);
        let recheck = self.is_running()
            && self
                .last_load
                .is_none_or(|t| now.saturating_duration_since(t) >= FOLLOW_RECHECK);
        if !force && self.stamp == Some(stamp) && !recheck {
            return false;
        }
        self.stamp = Some(stamp);
        self.last_load = Some(now);
        self.reload(store, now, wall)
    }

    fn reload(&mut self, store: &Store, now: Instant, wall: Timestamp) -> bool {
        let run = match store.load_run(&self.id) {
            Ok(r) => r,
            Err(e) => {
                let msg = e.to_string();
                let changed = self.error.as_deref() != Some(msg.as_str());
                self.error = Some(msg);
                return changed;
            }
        };
        // A torn or missing metrics file only loses the curve, not the view.
        let points = store.read_metrics(&self.id).unwrap_or_default();
        let mut live = Live::from_store(&run, &points, now, wall);
        if let Some(old) = &self.live {
            live.log_scroll = old.log_scroll.min(live.logs.len().saturating_sub(1));
        }
        self.pid = run.record.pid;
        self.host = run.record.host.clone();
        self.status = Some(run.status);
        self.error = None;
        self.live = Some(live);
        true
    }
}
