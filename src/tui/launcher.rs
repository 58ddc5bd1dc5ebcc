//! Starting a job: the app asks a [`Launcher`] and gets a [`Job`] (an event channel and a way to
//! stop it), or for a study a [`StudyJob`] (the study's events), so tests can drive the app
//! with scripted events and no training.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread;

use anyhow::Context as _;

use crate::config::Config;
use crate::job;
use crate::job::study::{QueueOptions, StudyEvent};
use crate::store::studies::Study;
use crate::store::Store;
use crate::train::{self, Event, JobOptions};

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

/// Starts jobs.
pub trait Launcher {
    fn launch(&mut self, config: &Config, profile: &str) -> anyhow::Result<Job>;

    /// Starts a study's pending tasks (one at a time).
    fn launch_study(&mut self, study: &Study) -> anyhow::Result<StudyJob> {
        anyhow::bail!("cannot run study {}: no run store", study.name)
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
