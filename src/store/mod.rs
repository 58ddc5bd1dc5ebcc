//! The run store: runs and user profiles on disk, written atomically; choosing and ordering
//! runs ([`query`]).
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print: every
//! failure is a [`StoreError`] naming the file or run.
//!
//! Layout under the root (`--home` > `ADALAB_HOME` > the platform data dir):
//! `runs/<id>/run.toml` (the [`RunRecord`]), `runs/<id>/scores.csv` (per-image scores of the
//! first seed's final evaluation, plus `scores-seed<N>.csv` per seed when repeated),
//! `runs/<id>/detector.safetensors` (the first seed's detector, see [`detector`]) and `runs/<id>/.lock` (advisory lock taken by
//! every read-modify-write of `run.toml`). Every file is replaced atomically (temp file, fsync,
//! rename, fsync folder), so a crash leaves the previous complete version.

pub mod detector;
mod edit;
mod error;
mod fsutil;
pub mod metrics;
pub mod profiles;
pub mod query;
mod record;
pub mod replay;
pub mod scores;
pub mod studies;
pub mod time;
mod writer;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use rand::Rng;

pub use error::{RecordError, StoreError};
pub use fsutil::{hostname, pid_alive, pid_alive_since, write_atomic};
pub use profiles::{
    list_profiles, resolve_profile, save_profile, ProfileDirs, ProfileEntry, ProfileSource,
    DEFAULT_PROFILE,
};
pub use record::{
    DataCounts, RunRecord, RunStatus, SeedRecord, SeedResult, StudyRef, STALE_AFTER_SECS,
};
pub use scores::Scores;
pub use time::Timestamp;
pub use writer::RunWriter;

use crate::config::Config;

/// The `schema_version` this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

pub const RUN_FILE: &str = "run.toml";
pub const SCORES_FILE: &str = "scores.csv";
pub(crate) const LOCK_FILE: &str = ".lock";
/// Held by a run's writer for its whole life (see [`fsutil::WriterLock`]).
pub(crate) const WRITER_LOCK_FILE: &str = ".writer.lock";
/// New runs are built in `runs/.staging-<id>-<pid>` and published by renaming.
pub(crate) const STAGING_PREFIX: &str = ".staging-";
/// Deleted runs are renamed to `runs/.deleted-<id>-<random>` before they are removed.
pub(crate) const DELETED_PREFIX: &str = ".deleted-";

/// What a name under `runs/` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Dir,
    Link,
}

/// A run that loaded, with the status to show.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedRun {
    pub record: RunRecord,
    /// `record.status`, except that a `running` run whose process is gone is `Interrupted`.
    pub status: RunStatus,
    pub dir: PathBuf,
    /// Something odd about the record that did not stop it loading.
    pub warning: Option<String>,
}

/// One folder under `runs/`.
#[derive(Clone, Debug, PartialEq)]
pub enum RunEntry {
    Ok(Box<LoadedRun>),
    /// `run.toml` is missing, does not parse or has an unknown schema version.
    Unreadable {
        id: String,
        path: PathBuf,
        reason: String,
    },
}

impl RunEntry {
    pub fn id(&self) -> &str {
        match self {
            RunEntry::Ok(r) => &r.record.id,
            RunEntry::Unreadable { id, .. } => id,
        }
    }
}

/// Checks a run id, profile name or similar: 1–100 of `A-Z a-z 0-9 . _ -`, not starting with
/// `.` or `-`, no `..`.
pub fn validate_name(what: &'static str, name: &str) -> Result<(), StoreError> {
    let bad = |reason| {
        Err(StoreError::InvalidName {
            what,
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 100 {
        return bad("it is longer than 100 characters");
    }
    if name.contains('/') || name.contains('\\') {
        return bad("it contains a path separator");
    }
    if name.contains("..") {
        return bad("it contains `..`");
    }
    if name.starts_with('.') || name.starts_with('-') {
        return bad("it starts with `.` or `-`");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return bad("only letters, digits, `.`, `_` and `-` are allowed");
    }
    Ok(())
}

/// Checks a tag: 1–40 characters, letters, digits and `.`, `_`, `-`, `+`, `:`, `=`.
pub fn validate_tag(tag: &str) -> Result<(), StoreError> {
    let ok = !tag.is_empty()
        && tag.len() <= 40
        && tag
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | ':' | '='));
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidName {
            what: "tag",
            name: tag.to_string(),
            reason: "use 1–40 letters, digits or . _ - + : =",
        })
    }
}

/// A new run id: `YYYYMMDDTHHMMSSZ-xxxx` (UTC time and 4 random lowercase alphanumerics).
pub fn new_run_id(now: Timestamp) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    let suffix: String = (0..4)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect();
    format!("{}-{suffix}", now.compact())
}

/// The run store at one root folder.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
    config_dir: PathBuf,
    host: String,
}

impl Store {
    /// Root: `home` > `ADALAB_HOME` > the platform data dir. User profiles live in
    /// `<config>/profiles` with `<config>`: `ADALAB_CONFIG` > the root when it was chosen
    /// explicitly (`home` or `ADALAB_HOME`) > the platform config dir.
    pub fn open(home: Option<&Path>) -> Result<Store, StoreError> {
        let env_home = std::env::var_os("ADALAB_HOME").filter(|v| !v.is_empty());
        let dirs = directories::ProjectDirs::from("", "", "adalab");
        let explicit = home
            .map(Path::to_path_buf)
            .or_else(|| env_home.map(PathBuf::from));
        let root = match (&explicit, &dirs) {
            (Some(r), _) => r.clone(),
            (None, Some(d)) => d.data_dir().to_path_buf(),
            (None, None) => return Err(StoreError::NoHome),
        };
        let config_dir = match std::env::var_os("ADALAB_CONFIG").filter(|v| !v.is_empty()) {
            Some(c) => PathBuf::from(c),
            None => match (&explicit, &dirs) {
                (Some(r), _) => r.clone(),
                (None, Some(d)) => d.config_dir().to_path_buf(),
                (None, None) => return Err(StoreError::NoHome),
            },
        };
        Ok(Store::with_dirs(root, config_dir))
    }

    /// A store with explicit data root and config folder (no environment lookups).
    pub fn with_dirs(root: impl Into<PathBuf>, config_dir: impl Into<PathBuf>) -> Store {
        Store {
            root: root.into(),
            config_dir: config_dir.into(),
            host: fsutil::hostname(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn runs_dir(&self) -> PathBuf {
        self.root.join("runs")
    }
    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }
    /// Where profiles are looked up: `./profiles`, `<config>/profiles`, the shipped ones.
    pub fn profile_dirs(&self) -> ProfileDirs {
        ProfileDirs::new(self.config_dir.join("profiles"))
    }

    /// The folder of a run (the id is validated).
    pub fn run_dir(&self, id: &str) -> Result<PathBuf, StoreError> {
        validate_name("run id", id)?;
        Ok(self.runs_dir().join(id))
    }
    /// `scores.csv` for `None` (first seed), `scores-seed<N>.csv` for a seed.
    pub fn scores_path(&self, id: &str, seed: Option<u64>) -> Result<PathBuf, StoreError> {
        Ok(self.run_dir(id)?.join(scores_file_name(seed)))
    }

    /// Creates `runs/<new id>/` and writes the initial `running` record.
    /// `profile` is the run's name: a profile's, or `profile · key=value …` for a config
    /// changed from it ([`profiles::run_name`]).
    pub fn create_run(&self, config: &Config, profile: &str) -> Result<RunWriter, StoreError> {
        RunWriter::create(self, config, profile, None)
    }

    /// [`Store::create_run`] for one task of a study.
    pub fn create_study_run(
        &self,
        config: &Config,
        profile: &str,
        study: StudyRef,
    ) -> Result<RunWriter, StoreError> {
        RunWriter::create(self, config, profile, Some(study))
    }

    /// Every run, newest first. Unreadable ones are listed with the reason, never changed; a
    /// symbolic link under `runs/` is listed as unreadable and not followed.
    pub fn list_runs(&self) -> Result<Vec<RunEntry>, StoreError> {
        let now = Timestamp::now();
        let mut out: Vec<RunEntry> = self
            .slots()?
            .into_iter()
            .map(|(id, kind)| {
                let dir = self.runs_dir().join(&id);
                if kind == Slot::Link {
                    return RunEntry::Unreadable {
                        id,
                        path: dir,
                        reason: "a symbolic link, not followed (runs must be folders inside the \
                                 store)"
                            .into(),
                    };
                }
                if let Err(e) = validate_name("run id", &id) {
                    return RunEntry::Unreadable {
                        id,
                        path: dir,
                        reason: e.to_string(),
                    };
                }
                self.load_dir(&id, &dir, now)
            })
            .collect();
        out.sort_by(|a, b| b.id().cmp(a.id()));
        Ok(out)
    }

    /// Names of the run folders under `runs/` (hidden ones skipped), unsorted.
    fn run_ids(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .slots()?
            .into_iter()
            .filter(|(_, k)| *k == Slot::Dir)
            .map(|(id, _)| id)
            .collect())
    }

    /// Folders and symbolic links under `runs/`, hidden names skipped.
    fn slots(&self) -> Result<Vec<(String, Slot)>, StoreError> {
        let dir = self.runs_dir();
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(dir, "list", e)),
        };
        let mut out = Vec::new();
        for ent in rd {
            let ent = ent.map_err(|e| StoreError::io(&dir, "list", e))?;
            let name = ent.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            match ent.file_type() {
                Ok(t) if t.is_dir() => out.push((name, Slot::Dir)),
                Ok(t) if t.is_symlink() => out.push((name, Slot::Link)),
                _ => {}
            }
        }
        Ok(out)
    }

    /// Removes what killed processes left behind: staging folders of runs whose creating
    /// process is gone, and folders of deletions that did not finish. Never touches a run.
    pub fn sweep_abandoned(&self) {
        let dir = self.runs_dir();
        let Ok(rd) = std::fs::read_dir(&dir) else {
            return;
        };
        for ent in rd.flatten() {
            let name = ent.file_name().to_string_lossy().into_owned();
            let abandoned = if let Some(rest) = name.strip_prefix(STAGING_PREFIX) {
                // `.staging-<id>-<pid>`: abandoned when no live process holds its writer lock.
                let pid_dead = rest
                    .rsplit('-')
                    .next()
                    .and_then(|p| p.parse::<u32>().ok())
                    .is_none_or(|p| !fsutil::pid_alive(p));
                pid_dead && !fsutil::WriterLock::is_held(&ent.path().join(WRITER_LOCK_FILE))
            } else {
                name.starts_with(DELETED_PREFIX)
            };
            if abandoned && ent.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = std::fs::remove_dir_all(ent.path());
            }
        }
    }

    fn load_dir(&self, id: &str, dir: &Path, now: Timestamp) -> RunEntry {
        let path = dir.join(RUN_FILE);
        match RunRecord::load(&path) {
            Ok(mut record) => {
                let status = self.status_of(&mut record, dir, now);
                // The folder names the run: a record that says otherwise is listed under the
                // folder's name, with a warning.
                let warning = (record.id != id).then(|| {
                    format!(
                        "run.toml says its id is `{}`, but it is in folder `{id}`",
                        record.id
                    )
                });
                record.id = id.to_string();
                RunEntry::Ok(Box::new(LoadedRun {
                    record,
                    status,
                    dir: dir.to_path_buf(),
                    warning,
                }))
            }
            Err(e) => {
                let reason = match e {
                    StoreError::Io { error, .. }
                        if error.kind() == std::io::ErrorKind::NotFound =>
                    {
                        "no run.toml".to_string()
                    }
                    StoreError::Io { op, error, .. } => format!("cannot {op}: {error}"),
                    StoreError::Invalid { message, .. } => message,
                    StoreError::Record { error, .. } => error.to_string(),
                    other => other.to_string(),
                };
                RunEntry::Unreadable {
                    id: id.to_string(),
                    path,
                    reason,
                }
            }
        }
    }

    /// Finds a run by exact id or unique prefix; unknown ids suggest close matches.
    pub fn resolve_id(&self, id: &str) -> Result<String, StoreError> {
        validate_name("run id", id)?;
        let ids = self.run_ids()?;
        if ids.iter().any(|i| i == id) {
            return Ok(id.to_string());
        }
        let mut prefixed: Vec<String> = ids.iter().filter(|i| i.starts_with(id)).cloned().collect();
        prefixed.sort();
        match prefixed.len() {
            1 => return Ok(prefixed.remove(0)),
            0 => {}
            _ => {
                return Err(StoreError::AmbiguousRun {
                    id: id.to_string(),
                    matches: prefixed,
                })
            }
        }
        let mut scored: Vec<(usize, String)> = ids
            .into_iter()
            .filter_map(|i| {
                let d = edit_distance(id, &i);
                let contains = i.contains(id) && id.len() >= 3;
                (d <= 3 || contains).then_some((if contains { 0 } else { d }, i))
            })
            .collect();
        scored.sort();
        Err(StoreError::UnknownRun {
            id: id.to_string(),
            runs_dir: self.runs_dir(),
            suggestions: scored.into_iter().take(5).map(|(_, i)| i).collect(),
        })
    }

    /// Loads one run (exact id or unique prefix).
    pub fn load_run(&self, id: &str) -> Result<LoadedRun, StoreError> {
        let id = self.resolve_id(id)?;
        let dir = self.runs_dir().join(&id);
        let mut record = RunRecord::load(&dir.join(RUN_FILE))?;
        let status = self.status_of(&mut record, &dir, Timestamp::now());
        let warning = (record.id != id).then(|| {
            format!(
                "run.toml says its id is `{}`, but it is in folder `{id}`",
                record.id
            )
        });
        record.id = id;
        Ok(LoadedRun {
            record,
            status,
            dir,
            warning,
        })
    }

    /// Per-image scores of the first seed's final evaluation (`scores.csv`).
    pub fn read_scores(&self, id: &str) -> Result<Scores, StoreError> {
        let id = self.resolve_id(id)?;
        scores::read(&self.scores_path(&id, None)?)
    }

    /// Per-image scores of one seed of a repeated run (`scores-seed<N>.csv`), falling back to
    /// `scores.csv` when that seed is the first one and has no own file.
    pub fn read_seed_scores(&self, id: &str, seed: u64) -> Result<Scores, StoreError> {
        let run = self.load_run(id)?;
        let file = run
            .record
            .seeds
            .iter()
            .find(|s| s.seed == seed)
            .and_then(|s| s.scores_file.clone())
            .unwrap_or_else(|| scores_file_name(Some(seed)));
        scores::read(&run.dir.join(file))
    }

    /// A run's status to show: a `running` record whose writer is gone is interrupted. A live
    /// writer lock means running, wherever the process is; else the pid (same host) or the
    /// heartbeat (other hosts) decides.
    ///
    /// A writer that could not record its run's end in `run.toml` (a full disk) left its last
    /// word in its lock file: that status (and reason, put into the loaded `record`) wins.
    fn status_of(&self, record: &mut RunRecord, dir: &Path, now: Timestamp) -> RunStatus {
        if record.status != RunStatus::Running {
            return record.status;
        }
        let lock = dir.join(WRITER_LOCK_FILE);
        if fsutil::WriterLock::is_held(&lock) {
            return RunStatus::Running;
        }
        if let Some((status, reason)) = fsutil::WriterLock::read_last_word(&lock) {
            if !reason.is_empty() {
                record.reason = Some(reason);
            }
            return match status.as_str() {
                "interrupted" => RunStatus::Interrupted,
                _ => RunStatus::Failed,
            };
        }
        record.effective_status(&self.host, now)
    }

    /// The per-batch training curve a run's writer keeps (`metrics.csv`).
    pub fn read_metrics(&self, id: &str) -> Result<Vec<metrics::BatchPoint>, StoreError> {
        let id = self.resolve_id(id)?;
        metrics::read(&self.runs_dir().join(id).join(metrics::METRICS_FILE))
    }

    /// A cheap fingerprint of the store's state: changes whenever a run is added, removed or
    /// its `run.toml` rewritten. Poll it and reload when it differs from the last value.
    pub fn fingerprint(&self) -> u64 {
        let mut h = DefaultHasher::new();
        let mut ids = self.run_ids().unwrap_or_default();
        ids.sort();
        for id in ids {
            id.hash(&mut h);
            if let Ok(m) = std::fs::metadata(self.runs_dir().join(&id).join(RUN_FILE)) {
                m.len().hash(&mut h);
                if let Ok(t) = m.modified() {
                    t.hash(&mut h);
                }
                #[cfg(unix)]
                {
                    use std::os::unix::fs::MetadataExt;
                    m.ino().hash(&mut h);
                }
            }
        }
        h.finish()
    }

    pub(crate) fn host(&self) -> &str {
        &self.host
    }
}

pub(crate) fn scores_file_name(seed: Option<u64>) -> String {
    match seed {
        None => SCORES_FILE.to_string(),
        Some(s) => format!("scores-seed{s}.csv"),
    }
}

pub(crate) fn lock_path(dir: &Path) -> PathBuf {
    dir.join(LOCK_FILE)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}
