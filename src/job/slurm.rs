//! A study over a Slurm cluster: the pending tasks become one sbatch **job array** (one array
//! task per pending run, optionally throttled with `%N`); each array task runs
//! `adalab study run-task NAME INDEX --tasks FILE` against the shared store, so `study show`,
//! the lab and resuming work as they do locally.
//!
//! A submission is a folder `<store>/studies/<name>/slurm/<stamp>/` holding the study file as
//! submitted (`study.toml`), the task list (`tasks.toml`), the script (`array.sh`) and the
//! array tasks' logs. Slurm signals a task it stops (time limit, `scancel`, preemption) with
//! SIGTERM: the script `exec`s adalab, so the signal reaches it and the run is kept as
//! interrupted; the next `study run` queues it again.
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::store::studies::{Study, Task};
use crate::store::{write_atomic as fsutil_write_atomic, Store, StoreError, Timestamp};

/// `sbatch` options for the array.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlurmOptions {
    pub partition: Option<String>,
    /// e.g. `gpu:1`.
    pub gres: Option<String>,
    /// e.g. `02:00:00`.
    pub time: Option<String>,
    /// At most this many array tasks at once (`--array=0-N%K`).
    pub throttle: Option<usize>,
    /// Passed to sbatch as they are, one `#SBATCH` line each (`--mem=8G`).
    pub extra: Vec<String>,
}

/// The task list of one submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskList {
    pub study: String,
    /// The study file as submitted (next to this list).
    pub study_file: PathBuf,
    /// The `--set key=value` overrides the study was submitted with: every array task
    /// applies them to the study file, as `study run` does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    pub tasks: Vec<TaskEntry>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEntry {
    pub cell: usize,
    pub seed_index: usize,
}

/// A prepared submission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    pub dir: PathBuf,
    pub script: PathBuf,
    pub script_text: String,
    pub tasks: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("nothing to submit: every task of {0} is finished or running")]
    Nothing(String),
    #[error("cannot run sbatch ({0}); is Slurm installed and SLURM_CONF set?")]
    NoSbatch(String),
    #[error("sbatch failed ({status}): {stderr}")]
    Sbatch { status: String, stderr: String },
    #[error("{}: {message}", .path.display())]
    TaskList { path: PathBuf, message: String },
}

/// Single-quotes `s` for a POSIX shell.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The array script for `n` tasks.
pub fn array_script(
    study: &str,
    exe: &Path,
    home: &Path,
    dir: &Path,
    n: usize,
    opts: &SlurmOptions,
) -> String {
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!("#SBATCH --job-name=adalab-{study}\n"));
    let throttle = opts.throttle.map(|k| format!("%{k}")).unwrap_or_default();
    s.push_str(&format!(
        "#SBATCH --array=0-{}{throttle}\n",
        n.saturating_sub(1)
    ));
    let log = dir.join("logs").join("%A_%a.out");
    s.push_str(&format!("#SBATCH --output={}\n", log.display()));
    if let Some(p) = &opts.partition {
        s.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    if let Some(g) = &opts.gres {
        s.push_str(&format!("#SBATCH --gres={g}\n"));
    }
    if let Some(t) = &opts.time {
        s.push_str(&format!("#SBATCH --time={t}\n"));
    }
    for a in &opts.extra {
        s.push_str(&format!("#SBATCH {a}\n"));
    }
    s.push_str(&format!(
        "# adalab study {study}: one array task per pending run, against the store below.\n\
         # `exec` lets Slurm's SIGTERM (time limit, scancel, preemption) reach adalab, which\n\
         # keeps the run as interrupted; `adalab study run {study}` queues it again.\n\
         export ADALAB_HOME={home}\n\
         exec {exe} --home {home} study run-task {study} \"$SLURM_ARRAY_TASK_ID\" --tasks {tasks}\n",
        home = sh_quote(&home.display().to_string()),
        exe = sh_quote(&exe.display().to_string()),
        study = sh_quote(study),
        tasks = sh_quote(&dir.join("tasks.toml").display().to_string()),
    ));
    s
}

/// Writes a submission's folder (study file, task list, script) for the study's pending
/// tasks. Nothing is submitted.
pub fn prepare(
    store: &Store,
    study: &Study,
    pending: &[Task],
    exe: &Path,
    opts: &SlurmOptions,
) -> Result<Submission, SlurmError> {
    if pending.is_empty() {
        return Err(SlurmError::Nothing(study.name.clone()));
    }
    let stamp = Timestamp::now().compact();
    let mut dir = store.study_dir(&study.name)?.join("slurm").join(&stamp);
    let mut k = 1;
    while dir.exists() {
        k += 1;
        dir = store
            .study_dir(&study.name)?
            .join("slurm")
            .join(format!("{stamp}-{k}"));
    }
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| StoreError::io(&logs, "create folder", e))?;
    let study_file = dir.join("study.toml");
    fsutil_write_atomic(&study_file, study.text.as_bytes())?;
    let list = TaskList {
        study: study.name.clone(),
        study_file,
        overrides: study.overrides.clone(),
        tasks: pending
            .iter()
            .map(|t| TaskEntry {
                cell: t.cell,
                seed_index: t.seed_index,
            })
            .collect(),
    };
    let text = toml::to_string(&list).map_err(|e| SlurmError::TaskList {
        path: dir.join("tasks.toml"),
        message: e.to_string(),
    })?;
    fsutil_write_atomic(&dir.join("tasks.toml"), text.as_bytes())?;
    let script_text = array_script(
        &study.name,
        exe,
        &std::path::absolute(store.root()).unwrap_or_else(|_| store.root().to_path_buf()),
        &dir,
        pending.len(),
        opts,
    );
    let script = dir.join("array.sh");
    fsutil_write_atomic(&script, script_text.as_bytes())?;
    Ok(Submission {
        dir,
        script,
        script_text,
        tasks: pending.len(),
    })
}

/// Submits a prepared script with `sbatch --parsable`; returns the array's job id.
pub fn submit(sub: &Submission) -> Result<String, SlurmError> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .arg(&sub.script)
        .output()
        .map_err(|e| SlurmError::NoSbatch(e.to_string()))?;
    if !out.status.success() {
        return Err(SlurmError::Sbatch {
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // `--parsable` prints `id` or `id;cluster`.
    Ok(id.split(';').next().unwrap_or("").to_string())
}

/// Reads a submission's task list.
pub fn read_tasks(path: &Path) -> Result<TaskList, SlurmError> {
    let text = std::fs::read_to_string(path).map_err(|e| SlurmError::TaskList {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| SlurmError::TaskList {
        path: path.to_path_buf(),
        message: e.message().to_string(),
    })
}

/// The newest submission's task list of a study.
pub fn latest_tasks(store: &Store, study: &str) -> Result<PathBuf, SlurmError> {
    let dir = store.study_dir(study)?.join("slurm");
    let mut subs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| SlurmError::TaskList {
            path: dir.clone(),
            message: format!("no submissions ({e})"),
        })?
        .filter_map(|e| e.ok().map(|e| e.path().join("tasks.toml")))
        .filter(|p| p.is_file())
        .collect();
    subs.sort();
    subs.pop().ok_or(SlurmError::TaskList {
        path: dir,
        message: "no submissions".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_execs_adalab_for_its_array_task() {
        let opts = SlurmOptions {
            partition: Some("gpu".into()),
            gres: Some("gpu:1".into()),
            time: Some("01:00:00".into()),
            throttle: Some(4),
            extra: vec!["--mem=8G".into()],
        };
        let s = array_script(
            "seed-fashion",
            Path::new("/opt/adalab"),
            Path::new("/shared/home dir"),
            Path::new("/shared/home dir/studies/seed-fashion/slurm/x"),
            30,
            &opts,
        );
        assert!(s.starts_with("#!/bin/bash\n"));
        for line in [
            "#SBATCH --array=0-29%4",
            "#SBATCH --partition=gpu",
            "#SBATCH --gres=gpu:1",
            "#SBATCH --time=01:00:00",
            "#SBATCH --mem=8G",
            "#SBATCH --job-name=adalab-seed-fashion",
            "export ADALAB_HOME='/shared/home dir'",
        ] {
            assert!(s.contains(line), "{line}\n{s}");
        }
        assert!(s.contains(
            "exec '/opt/adalab' --home '/shared/home dir' study run-task 'seed-fashion' \"$SLURM_ARRAY_TASK_ID\""
        ));
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }
}
