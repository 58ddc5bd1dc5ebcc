//! `adalab run`: resolve a profile, check it, train on the worker thread with progress on
//! stderr, record the run in the store, print the results.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;

use super::console::Console;
use super::report::{json::final_json, table::final_table};
use super::{parse_device, Exit};
use crate::config::{Config, DeviceKind};
use crate::job::{self, EventSink, Tally};
use crate::store::profiles::{run_name, ProfileDirs};
use crate::store::{Store, DEFAULT_PROFILE};
use crate::train::{self, JobOptions, Outcome};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// Profile name (from profiles/ or the user profile dir) or path to a TOML file
    /// [default: fashion-sneaker-boot-adacos-fixed-geom].
    pub profile: Option<String>,
    /// Override any config field, e.g. --set head.kind=arcface --set train.epochs=5.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Run the configuration N times with seeds seed, seed+1, …
    #[arg(long)]
    pub repeat: Option<usize>,
    /// Device to train on.
    #[arg(long, value_parser = parse_device)]
    pub device: Option<DeviceKind>,
    /// Print one JSON document at the end instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Folder holding the dataset (overrides $ADALAB_DATA).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Do not save the run in the store.
    #[arg(long)]
    pub no_save: bool,
}

/// Resolves the profile, applies the overrides and flags, checks the result and says what
/// its split draws (on stderr).
pub fn resolve_config(dirs: &ProfileDirs, args: &RunArgs) -> anyhow::Result<(String, Config)> {
    let (name, config, info) = resolve_checked(dirs, args)?;
    crate::say!("adalab: split: {}", info.split.describe());
    Ok((name, config))
}

/// [`resolve_config`] without the split line, with what the check found; errors name the
/// profile file.
pub fn resolve_checked(
    dirs: &ProfileDirs,
    args: &RunArgs,
) -> anyhow::Result<(String, Config, crate::config::DatasetInfo)> {
    let name = args.profile.as_deref().unwrap_or(DEFAULT_PROFILE);
    let (profile, path, base) = dirs.resolve(name)?;
    let mut config = base.clone();
    for o in &args.set {
        config = config
            .with_override(o)
            .map_err(|e| anyhow::anyhow!("--set {o}: {e}"))?;
    }
    if let Some(r) = args.repeat {
        config.run.repeat = r;
    }
    if let Some(d) = args.device {
        config.train.device = d;
    }
    if let Some(d) = &args.data_dir {
        config.data.data_dir = Some(d.clone());
    }
    let info = job::check(&config)
        .map_err(|e| anyhow::anyhow!("{} (with command-line overrides): {e}", path.display()))?;
    // One naming rule: the profile's name, and what the overrides changed.
    Ok((run_name(&profile, &base, &config), config, info))
}

fn print_results(
    args: &RunArgs,
    config: &Config,
    tally: &Tally,
    saved: Option<&str>,
) -> anyhow::Result<()> {
    let mut out = super::out();
    if args.json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&final_json(config, tally, saved))?
        )?;
    } else {
        write!(out, "{}", final_table(config, tally))?;
        if let Some(id) = saved {
            writeln!(out, "saved as run {id} (adalab runs show {id})")?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Runs a profile to the end and says how it ended.
pub fn run(args: &RunArgs, home: Option<&std::path::Path>) -> anyhow::Result<Exit> {
    // SIGINT/SIGTERM/SIGHUP stop the job at the next batch; the run is kept as interrupted.
    // Installed before anything touches the store.
    let signals = super::Signals::install()?;
    let store = Store::open(home)?;
    let (profile, config) = match resolve_config(&store.profile_dirs(), args) {
        Ok(v) => v,
        Err(e) => {
            crate::say!("adalab: error: {e:#}");
            return Ok(Exit::Usage);
        }
    };
    let mut writer = if args.no_save {
        None
    } else {
        Some(
            store
                .create_run(&config, &profile)
                .context("cannot create the run in the store")?,
        )
    };
    let run_id = writer.as_ref().map(|w| w.id().to_string());
    if let Some(id) = run_id.clone() {
        // A second signal exits at once; the run is still marked interrupted if it can be.
        let st = store.clone();
        signals.on_second(move || {
            let _ = st.mark_interrupted(&id);
        });
    }
    let model_dir = writer.as_ref().map(|w| w.dir().to_path_buf());

    let handle = train::spawn(
        config.clone(),
        JobOptions {
            model_dir,
            dataset: None,
        },
    );
    let mut console = Console::new(&config);
    let mut tally = Tally::default();
    let stop: Arc<AtomicBool> = signals.flag();
    let report = {
        // The store first: a seed it cannot record is shown failed by the others.
        let mut sinks: Vec<&mut dyn EventSink> = Vec::new();
        if let Some(w) = writer.as_mut() {
            sinks.push(w);
        }
        sinks.push(&mut console);
        sinks.push(&mut tally);
        job::drive(handle, &mut sinks, Some(&stop))
    };
    let saved = run_id.as_deref().filter(|_| report.sink_error.is_none());

    // The results; a closed stdout loses them but not the run (main reports a full disk).
    let _ = print_results(args, &config, &tally, saved);
    Ok(match &report.outcome {
        Outcome::Finished => Exit::Ok,
        Outcome::Failed { reason } => {
            crate::say!("adalab: run failed: {reason}");
            Exit::Failed
        }
        Outcome::Interrupted => {
            crate::say!("adalab: run interrupted");
            signals.exit_code()
        }
    })
}
