//! Records a training job's events into its run folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::error::StoreError;
use super::fsutil::{rename_no_replace, LockGuard, WriterLock};
use super::metrics::{BatchPoint, MetricsLog};
use super::record::{DataCounts, RunRecord, RunStatus, SeedRecord, SeedResult, StudyRef};
use super::time::Timestamp;
use super::SCHEMA_VERSION;
use super::{
    lock_path, new_run_id, scores, scores_file_name, validate_name, Store, RUN_FILE,
    STAGING_PREFIX, WRITER_LOCK_FILE,
};
use crate::config::{Config, ScorerKind};
use crate::train::{Event, Outcome};

/// `Progress` events refresh the heartbeat at most this often.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(30);

/// Writes one run: created `running`, rewritten after every epoch, seed end and at the end.
///
/// Tags and notes belong to the user: each write takes them from the file on disk under the
/// run's lock, so edits made meanwhile by `adalab runs tag/note` are kept. A writer dropped
/// while its run is still `running` marks it interrupted.
pub struct RunWriter {
    record: RunRecord,
    dir: PathBuf,
    last_write: Instant,
    /// AUCs from `Evaluated` events whose `Epoch` event has not arrived yet.
    pending_auc: BTreeMap<usize, BTreeMap<ScorerKind, f64>>,
    current_seed: Option<usize>,
    /// Held while this writer lives: others can tell the run has a live writer. Its file
    /// keeps room for the writer's last word (how the run ended, when `run.toml` cannot be
    /// written).
    alive: WriterLock,
    /// Dropped without marking the run (see [`RunWriter::abandon`]).
    abandoned: bool,
    /// The per-batch curve (`metrics.csv`), opened at the first `Progress`.
    metrics: Option<MetricsLog>,
    started: Instant,
}

impl RunWriter {
    /// Creates a run atomically: the folder is built under a hidden staging name
    /// (`.staging-<id>-<pid>`), its first `run.toml` made durable, then published with one
    /// rename. A process killed before that leaves only a hidden folder, swept later; a failed
    /// creation removes it and leaves nothing.
    pub(crate) fn create(
        store: &Store,
        config: &Config,
        profile: &str,
        study: Option<StudyRef>,
    ) -> Result<RunWriter, StoreError> {
        // `profile · key=value …`: the profile and what the run changed from it.
        let (profile, changes) = super::profiles::split_run_name(profile);
        validate_name("profile name", profile)?;
        let runs = store.runs_dir();
        std::fs::create_dir_all(&runs).map_err(|e| StoreError::io(&runs, "create folder", e))?;
        store.sweep_abandoned();
        let now = Timestamp::now();
        let pid = std::process::id();
        for _ in 0..100 {
            let id = new_run_id(now);
            let staging = runs.join(format!("{STAGING_PREFIX}{id}-{pid}"));
            match std::fs::create_dir(&staging) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(StoreError::io(staging, "create folder", e)),
            }
            let record = RunRecord {
                schema_version: SCHEMA_VERSION,
                id: id.clone(),
                profile: profile.to_string(),
                changes: changes.clone(),
                status: RunStatus::Running,
                reason: None,
                created: now,
                updated: now,
                finished: None,
                host: store.host().to_string(),
                pid,
                heartbeat: now,
                device: config.train.device.to_string(),
                threads: config.train.threads,
                adalab_version: env!("CARGO_PKG_VERSION").to_string(),
                tags: Vec::new(),
                note: String::new(),
                planned_seeds: config.seeds(),
                data: None,
                study: study.clone(),
                config: config.clone(),
                seeds: Vec::new(),
                summary: BTreeMap::new(),
                identity_summary: BTreeMap::new(),
            };
            let dir = runs.join(&id);
            let made = (|| {
                let lock = WriterLock::try_acquire(&staging.join(WRITER_LOCK_FILE))?
                    .ok_or_else(|| StoreError::invalid(&staging, "writer lock already held"))?;
                lock.reserve_last_word(&staging.join(WRITER_LOCK_FILE))?;
                record.save(&staging.join(RUN_FILE))?;
                super::fsutil::sync_dir(&staging)?;
                match rename_no_replace(&staging, &dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(None),
                    Err(e) => return Err(StoreError::io(&dir, "publish the new run as", e)),
                }
                super::fsutil::sync_dir(&runs)?;
                Ok(Some(lock))
            })();
            match made {
                Ok(Some(lock)) => {
                    return Ok(RunWriter {
                        record,
                        dir,
                        last_write: Instant::now(),
                        pending_auc: BTreeMap::new(),
                        current_seed: None,
                        alive: lock,
                        abandoned: false,
                        metrics: None,
                        started: Instant::now(),
                    })
                }
                Ok(None) => {
                    let _ = std::fs::remove_dir_all(&staging);
                }
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&staging);
                    return Err(e);
                }
            }
        }
        Err(StoreError::invalid(&runs, "cannot find a free run id"))
    }

    /// Lets go of the run as a crashed process would: no final write, the writer lock
    /// released, the record left as it is on disk (`running`, most likely).
    pub fn abandon(mut self) {
        self.abandoned = true;
    }

    pub fn id(&self) -> &str {
        &self.record.id
    }
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// The record as last written (tags/note as of the last write).
    pub fn record(&self) -> &RunRecord {
        &self.record
    }

    /// Updates the record from one event; writes `run.toml` when something worth keeping
    /// happened (start, data, seed start, epoch, seed end, end) and scores CSVs at seed end.
    pub fn handle(&mut self, ev: &Event) -> Result<(), StoreError> {
        match ev {
            Event::Started {
                config,
                seeds,
                device,
                threads,
            } => {
                self.record.config = (**config).clone();
                self.record.planned_seeds = seeds.clone();
                self.record.device = device.clone();
                self.record.threads = *threads;
                self.write()
            }
            Event::DataReady {
                train,
                normal_train,
                test,
                classes,
                test_anomalous,
            } => {
                self.record.data = Some(DataCounts {
                    train: *train,
                    normal_train: *normal_train,
                    test: *test,
                    classes: *classes,
                    test_anomalous: *test_anomalous,
                });
                self.write()
            }
            Event::SeedStarted { index, seed } => {
                let s = self.seed_mut(*index, *seed);
                s.status = RunStatus::Running;
                self.current_seed = Some(*index);
                self.pending_auc.clear();
                self.write()
            }
            Event::Progress {
                epoch,
                batch,
                batches,
                images_per_sec,
                loss,
                accuracy,
            } => {
                if self.metrics.is_none() {
                    let log = MetricsLog::create(&self.dir).map_err(|e| self.deleted_or(e))?;
                    self.metrics = Some(log);
                }
                let point = BatchPoint {
                    seed: self.current_index(),
                    epoch: *epoch,
                    batch: *batch,
                    batches: *batches,
                    loss: *loss,
                    accuracy: *accuracy,
                    images_per_sec: *images_per_sec,
                    ms: self.started.elapsed().as_millis() as u64,
                };
                if let Some(m) = self.metrics.as_mut() {
                    if let Err(e) = m.append(&point) {
                        return Err(self.deleted_or(e));
                    }
                }
                self.heartbeat_if_due()
            }
            Event::Epoch(m) => {
                let mut m = m.clone();
                if let Some(pending) = self.pending_auc.remove(&m.epoch) {
                    for (k, v) in pending {
                        m.auc.entry(k).or_insert(v);
                    }
                }
                let index = self.current_index();
                let seed = self.seed_for_index(index);
                let s = self.seed_mut(index, seed);
                match s.epochs.iter_mut().find(|e| e.epoch == m.epoch) {
                    Some(e) => *e = m,
                    None => s.epochs.push(m),
                }
                self.write()
            }
            Event::Evaluated { epoch, auc } => {
                let index = self.current_index();
                let seed = self.seed_for_index(index);
                let s = self.seed_mut(index, seed);
                match s.epochs.iter_mut().find(|e| e.epoch == *epoch) {
                    Some(e) => {
                        for (k, v) in auc {
                            e.auc.insert(*k, *v);
                        }
                        self.write()
                    }
                    None => {
                        self.pending_auc
                            .entry(*epoch)
                            .or_default()
                            .extend(auc.iter().map(|(k, v)| (*k, *v)));
                        Ok(())
                    }
                }
            }
            Event::Log { .. } | Event::Evaluating { .. } => Ok(()),
            Event::DetectorReady { detector, .. } => {
                let path = self.dir.join(super::detector::DETECTOR_FILE);
                super::detector::write(&path, detector, &self.record.id)
                    .map(|_| ())
                    .map_err(|e| self.deleted_or(e))
            }
            Event::SeedFinished {
                index,
                seed,
                outcome,
                evaluation,
                summary,
                identity_summary,
            } => {
                let repeated =
                    self.record.config.run.repeat > 1 || self.record.planned_seeds.len() > 1;
                let first = self.record.seeds.iter().all(|s| s.index >= *index);
                let mut csv_err = None;
                let mut scores_file = None;
                if let Some(ev) = evaluation {
                    let mut names = Vec::new();
                    if first {
                        names.push(scores_file_name(None));
                    }
                    if repeated {
                        names.push(scores_file_name(Some(*seed)));
                    }
                    for name in &names {
                        if let Err(e) = scores::write(&self.dir.join(name), ev) {
                            csv_err.get_or_insert(e);
                        }
                    }
                    if csv_err.is_none() {
                        scores_file = names.last().cloned();
                    }
                }
                let s = self.seed_mut(*index, *seed);
                let (status, reason) = match &csv_err {
                    // Scores that could not be kept: the seed did not end as it should.
                    Some(e) if !matches!(outcome, Outcome::Failed { .. }) => (
                        RunStatus::Failed,
                        Some(format!("cannot write its scores: {e}")),
                    ),
                    _ => status_of(outcome),
                };
                s.status = status;
                s.reason = reason;
                if let Some(ev) = evaluation {
                    s.result = Some(SeedResult {
                        epoch: ev.epoch,
                        auc: ev.auc.clone(),
                        average_precision: ev.average_precision.clone(),
                        identity_auc: ev.identity_auc.clone(),
                        view_auc: ev.view_auc.clone(),
                        group_auc: ev.group_auc.clone(),
                    });
                    s.scores_file = scores_file;
                }
                self.current_seed = None;
                self.record.summary = summary.clone();
                self.record.identity_summary = identity_summary.clone();
                let written = self.write();
                match csv_err {
                    Some(e) => Err(e),
                    None => written,
                }
            }
            Event::Finished { outcome } => {
                let (status, reason) = status_of(outcome);
                self.finish(status, reason)
            }
        }
    }

    /// Rewrites `run.toml` with a fresh heartbeat.
    pub fn heartbeat(&mut self) -> Result<(), StoreError> {
        self.write()
    }

    /// Refreshes the heartbeat when the last write is older than [`HEARTBEAT_EVERY`].
    pub fn heartbeat_if_due(&mut self) -> Result<(), StoreError> {
        if self.last_write.elapsed() >= HEARTBEAT_EVERY {
            self.write()
        } else {
            Ok(())
        }
    }

    /// Marks the run (and any seed still running) interrupted, e.g. on Ctrl-C or SIGTERM.
    pub fn mark_interrupted(&mut self) -> Result<(), StoreError> {
        self.finish(RunStatus::Interrupted, None)
    }

    fn finish(&mut self, status: RunStatus, reason: Option<String>) -> Result<(), StoreError> {
        for s in &mut self.record.seeds {
            if s.status == RunStatus::Running {
                s.status = if status == RunStatus::Finished {
                    RunStatus::Interrupted
                } else {
                    status
                };
            }
        }
        self.record.status = status;
        self.record.reason = reason;
        self.record.finished = Some(Timestamp::now());
        let written = self.write();
        if let Err(e) = &written {
            // `run.toml` cannot say how the run ended (a full disk): the lock file's reserved
            // room does, and readers show it (see `Store::list_runs`). A run whose end cannot
            // be recorded did not finish.
            let (status, reason) = match (status, &self.record.reason) {
                (RunStatus::Interrupted, _) => (status, String::new()),
                (RunStatus::Failed, Some(r)) => (RunStatus::Failed, r.clone()),
                _ => (
                    RunStatus::Failed,
                    format!("cannot record the run's end: {e}"),
                ),
            };
            let _ = self.alive.write_last_word(status.as_str(), &reason);
        }
        written
    }

    fn current_index(&self) -> usize {
        self.current_seed
            .or_else(|| self.record.seeds.last().map(|s| s.index))
            .unwrap_or(0)
    }

    fn seed_for_index(&self, index: usize) -> u64 {
        self.record
            .seeds
            .iter()
            .find(|s| s.index == index)
            .map(|s| s.seed)
            .or_else(|| self.record.planned_seeds.get(index).copied())
            .unwrap_or(self.record.config.train.seed + index as u64)
    }

    fn seed_mut(&mut self, index: usize, seed: u64) -> &mut SeedRecord {
        let pos = match self.record.seeds.iter().position(|s| s.index == index) {
            Some(p) => p,
            None => {
                self.record.seeds.push(SeedRecord {
                    index,
                    seed,
                    status: RunStatus::Running,
                    reason: None,
                    scores_file: None,
                    result: None,
                    epochs: Vec::new(),
                });
                self.record.seeds.sort_by_key(|s| s.index);
                self.record
                    .seeds
                    .iter()
                    .position(|s| s.index == index)
                    .unwrap_or(0)
            }
        };
        &mut self.record.seeds[pos]
    }

    /// A failure to write into the run's folder because someone deleted the folder reads as
    /// that, not as a puzzling "cannot create".
    fn deleted_or(&self, e: StoreError) -> StoreError {
        if self.dir.exists() {
            e
        } else {
            StoreError::RunDeleted {
                id: self.record.id.clone(),
                dir: self.dir.clone(),
            }
        }
    }

    /// Locked write: keeps the tags and note currently on disk, refreshes heartbeat/updated.
    fn write(&mut self) -> Result<(), StoreError> {
        let path = self.dir.join(RUN_FILE);
        let _lock = LockGuard::acquire(&lock_path(&self.dir)).map_err(|e| match e {
            StoreError::Io { ref error, .. } if error.kind() == std::io::ErrorKind::NotFound => {
                StoreError::RunDeleted {
                    id: self.record.id.clone(),
                    dir: self.dir.clone(),
                }
            }
            other => other,
        })?;
        match RunRecord::load(&path) {
            Ok(on_disk) => {
                self.record.tags = on_disk.tags;
                self.record.note = on_disk.note;
                // Another process ended the run (a second Ctrl-C's last words, `settle`): a
                // writer that still thinks it runs keeps that end instead of writing
                // `running` over it.
                if self.record.status == RunStatus::Running && on_disk.status != RunStatus::Running
                {
                    self.record.status = on_disk.status;
                    self.record.reason = on_disk.reason;
                    self.record.finished = on_disk.finished;
                    for s in &mut self.record.seeds {
                        if s.status == RunStatus::Running {
                            s.status = on_disk.status;
                        }
                    }
                }
            }
            Err(StoreError::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::RunDeleted {
                    id: self.record.id.clone(),
                    dir: self.dir.clone(),
                });
            }
            // An unreadable file (edited by hand?) is replaced by this writer's complete record.
            Err(_) => {}
        }
        let now = Timestamp::now();
        self.record.updated = now;
        self.record.heartbeat = now;
        self.record.save(&path)?;
        self.last_write = Instant::now();
        Ok(())
    }
}

fn status_of(outcome: &Outcome) -> (RunStatus, Option<String>) {
    match outcome {
        Outcome::Finished => (RunStatus::Finished, None),
        Outcome::Failed { reason } => (RunStatus::Failed, Some(reason.clone())),
        Outcome::Interrupted => (RunStatus::Interrupted, None),
    }
}

impl Drop for RunWriter {
    fn drop(&mut self) {
        if self.record.status == RunStatus::Running && !self.abandoned {
            let _ = self.mark_interrupted();
        }
    }
}
