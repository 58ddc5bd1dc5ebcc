//! Starting a job: the app asks a [`Launcher`] and gets a [`Job`] (an event channel and a way to
//! stop it), so tests can drive the app with scripted events and no training.

use std::sync::mpsc::{self, Receiver};
use std::thread;

use anyhow::Context as _;

use crate::config::Config;
use crate::job;
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

/// Starts jobs.
pub trait Launcher {
    fn launch(&mut self, config: &Config, profile: &str) -> anyhow::Result<Job>;
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
}
