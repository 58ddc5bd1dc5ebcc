//! Starting a job: the app asks a [`Launcher`] and gets a [`Job`] (an event channel and a way to
//! stop it), for a study a [`StudyJob`] (the study's events), for a folder scored with a run's
//! detector a [`ScoreJob`], so tests can drive the app with scripted events and no training.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread;

use anyhow::Context as _;

use crate::config::Config;
use crate::job;
use crate::job::score::{
    resolve_threshold, score_files, ScoreError, ScoreProgress, Threshold, DEFAULT_FPR,
};
use crate::job::study::{QueueOptions, StudyEvent};
use crate::store::studies::Study;
use crate::store::Store;
use crate::train::{self, Event, JobOptions};

use super::detail::scoring::FolderResult;

/// A started job.
pub struct Job {
    /// The job's events, in order; ends with `Finished`.
    pub events: Receiver<Event>,
    /// Asks the job to stop after the current batch (it then reports `Interrupted`).
    pub cancel: Box<dyn Fn() + Send>,
    /// The run id in the store, when the job is recorded.
    pub run_id: Option<String>,
}

/// What a running study reports to the lab.
#[derive(Clone, Debug, PartialEq)]
pub enum StudyUpdate {
    Event(StudyEvent),
    /// The study could not run at all (a cell that fails the check, the store).
    Error(String),
}

/// A started study: its pending tasks run one after another, each a run in the store.
pub struct StudyJob {
    /// The study's events, in order; ends with `StudyEvent::Finished` or an error.
    pub events: Receiver<StudyUpdate>,
    /// Stops the queue: the task in progress stops after its batch (kept as interrupted) and
    /// no further task starts.
    pub cancel: Box<dyn Fn() + Send>,
}

/// What a folder's scoring reports to the lab.
#[derive(Clone, Debug, PartialEq)]
pub enum ScoreUpdate {
    Progress(ScoreProgress),
    Done(Box<FolderResult>),
    /// Why the folder could not be scored (names the folder, file or run).
    Failed(String),
    Cancelled,
}

/// A folder being scored on a background thread.
pub struct ScoreJob {
    /// Its reports, in order; ends with `Done`, `Failed` or `Cancelled`.
    pub events: Receiver<ScoreUpdate>,
    /// Stops it at the next block of images (it then reports `Cancelled`).
    pub cancel: Box<dyn Fn() + Send>,
}

/// Starts jobs.
pub trait Launcher {
    fn launch(&mut self, config: &Config, profile: &str) -> anyhow::Result<Job>;

    /// Starts a study's pending tasks (one at a time).
    fn launch_study(&mut self, study: &Study) -> anyhow::Result<StudyJob> {
        anyhow::bail!("cannot run study {}: no run store", study.name)
    }

    /// Starts scoring the images under `folder` with run `run`'s detector.
    fn launch_score(&mut self, run: &str, folder: &Path) -> anyhow::Result<ScoreJob> {
        anyhow::bail!(
            "cannot score {} with run {run}: no run store",
            folder.display()
        )
    }
}

/// The real launcher: trains on the worker thread and records every event in the store.
pub struct StoreLauncher {
    store: Store,
}

impl StoreLauncher {
    pub fn new(store: Store) -> StoreLauncher {
        StoreLauncher { store }
    }
}

impl Launcher for StoreLauncher {
    fn launch(&mut self, config: &Config, profile: &str) -> anyhow::Result<Job> {
        // The same check `adalab run` makes, before anything is written to the store.
        job::check(config)?;
        let mut writer = self
            .store
            .create_run(config, profile)
            .context("cannot create the run in the store")?;
        let run_id = writer.id().to_string();
        let handle = train::spawn(
            config.clone(),
            JobOptions {
                model_dir: Some(writer.dir().to_path_buf()),
                dataset: None,
            },
        );
        let cancel = handle.cancel_handle();
        let (mut tx, rx) = mpsc::channel();
        // The store writer runs beside the UI: file writes never stall a frame. The UI may be
        // gone (quitting): the job keeps being recorded regardless.
        thread::Builder::new()
            .name("adalab-recorder".into())
            .spawn(move || {
                job::drive(handle, &mut [&mut writer, &mut tx], None);
            })
            .context("cannot start the recorder thread")?;
        Ok(Job {
            events: rx,
            cancel: Box::new(move || cancel.cancel()),
            run_id: Some(run_id),
        })
    }

    fn launch_study(&mut self, study: &Study) -> anyhow::Result<StudyJob> {
        spawn_study(self.store.clone(), study.clone())
    }

    fn launch_score(&mut self, run: &str, folder: &Path) -> anyhow::Result<ScoreJob> {
        spawn_score(self.store.clone(), run.to_string(), folder.to_path_buf())
    }
}

/// Scores a folder on a background thread: the run's detector loaded and checked, the verdict
/// against its calibrated `fpr=0.05` threshold on the primary scorer, files that cannot be
/// decoded left out (and listed), through the engine's [`score_files`] — what `adalab score
/// RUN FOLDER --skip-bad` does.
pub fn spawn_score(store: Store, run: String, folder: PathBuf) -> anyhow::Result<ScoreJob> {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let flag = stop.clone();
    thread::Builder::new()
        .name("adalab-score".into())
        .spawn(move || {
            let end = score_folder(&store, &run, &folder, &flag, &tx);
            let _ = tx.send(end);
        })
        .context("cannot start the scoring thread")?;
    Ok(ScoreJob {
        events: rx,
        cancel: Box::new(move || stop.store(true, Ordering::SeqCst)),
    })
}

fn score_folder(
    store: &Store,
    run: &str,
    folder: &Path,
    cancel: &AtomicBool,
    tx: &Sender<ScoreUpdate>,
) -> ScoreUpdate {
    let d = match store.load_detector(run) {
        Ok(d) => d,
        Err(e) => return ScoreUpdate::Failed(e.to_string()),
    };
    let verdict = match resolve_threshold(&d, None, Threshold::Fpr(DEFAULT_FPR)) {
        Ok(v) => v,
        Err(e) => return ScoreUpdate::Failed(e.to_string()),
    };
    let mut progress = |p: ScoreProgress| {
        let _ = tx.send(ScoreUpdate::Progress(p));
    };
    let paths = [folder.to_path_buf()];
    match score_files(&d, &paths, verdict, true, cancel, &mut progress) {
        Ok((inputs, scored)) => ScoreUpdate::Done(Box::new(FolderResult::new(
            folder,
            &inputs,
            &scored,
            d.detector.shape,
        ))),
        Err(ScoreError::Cancelled) => ScoreUpdate::Cancelled,
        Err(e) => ScoreUpdate::Failed(e.to_string()),
    }
}

/// Runs a study's queue on a background thread ([`job::study::run_queue`], one task at a time,
/// every core for it); its events come back on the channel.
pub fn spawn_study(store: Store, study: Study) -> anyhow::Result<StudyJob> {
    // The same check `adalab study run` makes, before anything is written.
    job::study::check_cells(&study)?;
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let flag = stop.clone();
    thread::Builder::new()
        .name("adalab-study".into())
        .spawn(move || {
            let opts = QueueOptions {
                jobs: 1,
                threads: 0,
            };
            let sink_tx = tx.clone();
            let mut sink = |e: StudyEvent| {
                let _ = sink_tx.send(StudyUpdate::Event(e));
            };
            if let Err(e) = job::study::run_queue(&store, &study, opts, &flag, &mut sink) {
                let _ = tx.send(StudyUpdate::Error(e.to_string()));
            }
        })
        .context("cannot start the study thread")?;
    Ok(StudyJob {
        events: rx,
        cancel: Box::new(move || stop.store(true, Ordering::SeqCst)),
    })
}
