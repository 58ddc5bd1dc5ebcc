//! `adalab run`: resolve a profile, train on the worker thread, print progress, save the run.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::config::{Config, DeviceKind};
use crate::console::{final_json, final_table, Console};
use crate::store::{profiles::ProfileDirs, Store};
use crate::train::tally::Tally;
use crate::train::{self, Event, JobOptions, Outcome};

/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "fashion-sneaker-boot-adacos-fixed";

#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub profile: Option<String>,
    pub overrides: Vec<String>,
    pub repeat: Option<usize>,
    pub device: Option<DeviceKind>,
    pub json: bool,
    pub data_dir: Option<PathBuf>,
    pub save: bool,
    pub home: Option<PathBuf>,
}

/// Resolves the profile and applies overrides; every error names the key (and file).
pub fn resolve_config(dirs: &ProfileDirs, opts: &RunOptions) -> anyhow::Result<(String, Config)> {
    let name = opts.profile.as_deref().unwrap_or(DEFAULT_PROFILE);
    let (name, path, mut config) = dirs.resolve(name)?;
    for o in &opts.overrides {
        config = config
            .with_override(o)
            .map_err(|e| anyhow::anyhow!("--set {o}: {e}"))?;
    }
    if let Some(r) = opts.repeat {
        config.run.repeat = r;
    }
    if let Some(d) = opts.device {
        config.train.device = d;
    }
    if let Some(d) = &opts.data_dir {
        config.data.data_dir = Some(d.clone());
    }
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("{} (with command-line overrides): {e}", path.display()))?;
    Ok((name, config))
}

/// Runs a profile to the end. Returns whether every seed finished.
pub fn run(opts: &RunOptions) -> anyhow::Result<bool> {
    let store = Store::open(opts.home.as_deref())?;
    let (profile, config) = resolve_config(&store.profile_dirs(), opts)?;

    let mut writer = if opts.save {
        Some(
            store
                .create_run(&config, &profile)
                .context("cannot create the run in the store")?,
        )
    } else {
        None
    };
    let run_id = writer.as_ref().map(|w| w.id().to_string());
    let model_dir = writer.as_ref().map(|w| w.dir().to_path_buf());

    // SIGINT/SIGTERM/SIGHUP stop the job at the next batch; the run is kept as interrupted.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, stop.clone()).context("cannot install signal handler")?;
    }

    let handle = train::spawn(
        config.clone(),
        JobOptions {
            model_dir,
            dataset: None,
        },
    );
    let mut console = Console::new(&config, opts.json);
    let mut tally = Tally::default();
    let mut store_error: Option<String> = None;
    let mut cancelled = false;
    loop {
        if stop.load(Ordering::SeqCst) && !cancelled {
            cancelled = true;
            eprintln!("adalab: stopping after this batch…");
            handle.cancel();
        }
        let ev = match handle.events.recv_timeout(Duration::from_millis(200)) {
            Ok(ev) => ev,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if let Some(w) = writer.as_mut() {
                    let _ = w.heartbeat();
                }
                continue;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        };
        console.handle(&ev);
        tally.apply(&ev);
        if let Some(w) = writer.as_mut() {
            if let Err(e) = w.handle(&ev) {
                // Keep training; report once at the end.
                if store_error.is_none() {
                    eprintln!("adalab: warning: cannot save the run: {e}");
                    store_error = Some(e.to_string());
                }
            }
        }
        if matches!(ev, Event::Finished { .. }) {
            break;
        }
    }
    handle.join();
    if tally.outcome.is_none() {
        // The worker ended without a final event (it cannot, but never lose the run).
        let ev = Event::Finished {
            outcome: Outcome::Failed {
                reason: "the training thread ended unexpectedly".into(),
            },
        };
        tally.apply(&ev);
        if let Some(w) = writer.as_mut() {
            let _ = w.handle(&ev);
        }
    }

    if opts.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&final_json(&config, &tally, run_id.as_deref()))?
        );
    } else {
        print!("{}", final_table(&config, &tally));
        if let Some(id) = &run_id {
            println!("saved as run {id} (adalab runs show {id})");
        }
    }
    match &tally.outcome {
        Some(Outcome::Finished) => Ok(store_error.is_none()),
        Some(Outcome::Failed { reason }) => {
            eprintln!("adalab: run failed: {reason}");
            Ok(false)
        }
        Some(Outcome::Interrupted) => {
            eprintln!("adalab: run interrupted");
            Ok(false)
        }
        None => Ok(false),
    }
}
