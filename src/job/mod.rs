//! The job driver: one loop that takes a training job's events and hands each of them to every
//! sink (the headless console, the store writer, the lab's channel), in order.
//!
//! Owns: [`drive`], the [`EventSink`] trait, the fallback outcome when the trainer ends without
//! one, stopping on request, and what happens when a sink cannot keep up (a store write that
//! fails twice stops the job and fails it, naming the file and the cause). [`Tally`] folds
//! events into per-seed results for front ends, [`JobProgress`] into a fraction done and an
//! ETA. [`check`] is the one check a config passes before a run exists. Studies run here too:
//! a local queue of workers ([`study`]) or a Slurm job array ([`slurm`]). A run's saved
//! detector is applied to images by [`score`].
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

pub mod progress;
pub mod score;
pub mod slurm;
pub mod study;
pub mod tally;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, Sender};
use std::time::Duration;

pub use progress::{format_bytes, format_duration, JobProgress};
pub use tally::{SeedTally, Tally};

use crate::config::{Build, Catalog, Config, ConfigError, DatasetInfo};
use crate::store::RunWriter;
use crate::train::{Event, Outcome, TrainHandle};

/// How long the driver waits for an event before it gives the sinks an idle turn (heartbeats)
/// and looks at the stop flag again.
pub const POLL: Duration = Duration::from_millis(200);

/// Why a sink could not take an event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// Something that consumes a job's events.
pub trait EventSink {
    /// Takes one event. An error stops the job: the driver retries the event once, then cancels
    /// the trainer and fails the job with the error as its reason.
    fn event(&mut self, ev: &Event) -> Result<(), SinkError>;
    /// Called when no event arrived for [`POLL`] (e.g. to refresh a heartbeat).
    fn idle(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// The lab's sink: events go on to the UI thread. A UI that is gone is not an error (the job
/// keeps being recorded while the lab quits).
impl EventSink for Sender<Event> {
    fn event(&mut self, ev: &Event) -> Result<(), SinkError> {
        let _ = self.send(ev.clone());
        Ok(())
    }
}

/// The store writer as a job sink: an event it cannot record stops the job (see [`drive`]),
/// so a run is never reported saved when it was not.
impl EventSink for RunWriter {
    fn event(&mut self, ev: &Event) -> Result<(), SinkError> {
        self.handle(ev)
            .map_err(|e| SinkError(format!("cannot save the run: {e}")))
    }
    fn idle(&mut self) -> Result<(), SinkError> {
        self.heartbeat_if_due()
            .map_err(|e| SinkError(format!("cannot save the run: {e}")))
    }
}

/// The one check every front end runs before a run exists: [`Config::check`] with the real
/// dataset catalogue, this build and machine, and the model's own check (it can be built for
/// the dataset's images and classes, and the memory it needs). Errors name the key.
pub fn check(config: &Config) -> Result<DatasetInfo, ConfigError> {
    check_with(config, &crate::data::Catalog, &Build::current())
}

/// [`check`] with another catalogue or build (the lab's tests pin both).
pub fn check_with(
    config: &Config,
    catalog: &dyn Catalog,
    build: &Build,
) -> Result<DatasetInfo, ConfigError> {
    config.check(catalog, build, &model_check)
}

fn model_check(config: &Config, info: &DatasetInfo) -> Result<u64, ConfigError> {
    use crate::data::transforms::head_classes;
    let (_, h, w) = info.shape;
    for (key, set) in [
        ("transforms.rotations", config.transforms.set()),
        ("score.views.rotations", config.score.views.clone()),
    ] {
        if h != w && set.rotations.iter().any(|r| r % 180 != 0) {
            return Err(ConfigError::new(
                key,
                format!("rotations by 90° need square images, these are {h}×{w}"),
            ));
        }
    }
    let classes = head_classes(config, info.training_classes);
    let images: usize = info.train_counts.iter().chain(&info.test_counts).sum();
    let to_config_error = |e: crate::model::ModelError| {
        if let Some(err) = size_error(config, info.shape, &e) {
            return err;
        }
        let key = e.key().unwrap_or("model");
        let text = e.to_string();
        let message = text
            .strip_prefix(&format!("{key}: "))
            .unwrap_or(&text)
            .to_string();
        ConfigError::new(key, message)
    };
    let need = crate::model::memory::check(config, info.shape, classes, images as u64)
        .map_err(to_config_error)?;
    if config.train.device != crate::config::DeviceKind::Cuda || !cfg!(feature = "cuda") {
        return Ok(need);
    }
    // A CUDA run: its activations must fit the GPU's free memory; the host keeps the data.
    use crate::model::{device, memory};
    let (free, _) = device::cuda_memory().map_err(to_config_error)?;
    memory::check_gpu(config, info.shape, classes, free).map_err(to_config_error)?;
    Ok(memory::host_bytes_cuda(
        config,
        info.shape,
        classes,
        images as u64,
    ))
}

/// The smallest square image side the backbone of `config` can pool down to at least 1×1
/// (any side from it up works: pooling rounds down).
pub fn min_image_side(config: &Config) -> Option<usize> {
    (1..=4096).find(|&s| crate::model::net::feature_shape(&config.model, (1, s, s)).is_ok())
}

/// A backbone that cannot pool the images down: say which image sizes it takes, on
/// `data.size` for a folder dataset (whose size the config chooses), else on `model.widths`.
fn size_error(
    config: &Config,
    (_, h, w): (usize, usize, usize),
    e: &crate::model::ModelError,
) -> Option<ConfigError> {
    use crate::model::ModelError;
    if !matches!(
        e,
        ModelError::ConvInputTooSmall { .. } | ModelError::PoolInputTooSmall { .. }
    ) {
        return None;
    }
    let m = &config.model;
    let net = format!(
        "model.widths = {:?} ({} stage{}, {} conv{} each, padding {})",
        m.widths,
        m.widths.len(),
        if m.widths.len() == 1 { "" } else { "s" },
        m.convs_per_stage,
        if m.convs_per_stage == 1 { "" } else { "s" },
        m.padding
    );
    let least = min_image_side(config);
    let takes = match least {
        Some(s) => format!("takes images of {s}×{s} or larger"),
        None => "takes no image size".into(),
    };
    Some(if config.data.dataset.is_folder() {
        ConfigError::new(
            "data.size",
            format!(
                "is {h}, but {net} {takes}: use a larger data.size, fewer stages or padding = 1"
            ),
        )
    } else {
        ConfigError::new(
            "model.widths",
            format!(
                "{} images are {h}×{w}, but {net} {takes}: use fewer stages or padding = 1",
                config.data.dataset
            ),
        )
    })
}

/// A [`Tally`] is a sink too: the headless runner keeps one for its final table.
impl EventSink for Tally {
    fn event(&mut self, ev: &Event) -> Result<(), SinkError> {
        self.apply(ev);
        Ok(())
    }
}

/// How a driven job ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The outcome every sink was given.
    pub outcome: Outcome,
    /// The first sink failure, when one stopped the job.
    pub sink_error: Option<SinkError>,
}

struct Sinks<'a, 'b> {
    sinks: &'a mut [&'b mut dyn EventSink],
    failed: Vec<bool>,
    error: Option<SinkError>,
}

impl Sinks<'_, '_> {
    /// Hands `ev` to every sink still working; the final event also to failed ones (one last try
    /// to record how the job ended). Returns true when a sink failed for the first time.
    /// Hands `ev` to every sink. A sink that fails on a seed's or the job's end (the store
    /// could not record it) turns that end into a failure for the sinks after it, so what
    /// they show never claims a finish that was not recorded: put the store's sink first.
    fn deliver(&mut self, ev: &Event) -> bool {
        let last = matches!(ev, Event::Finished { .. });
        let mut ev = std::borrow::Cow::Borrowed(ev);
        let mut newly = false;
        for i in 0..self.sinks.len() {
            if self.failed[i] && !last {
                continue;
            }
            let sink = &mut *self.sinks[i];
            let result = sink.event(&ev).or_else(|_| sink.event(&ev));
            if let Err(e) = result {
                if !self.failed[i] {
                    self.failed[i] = true;
                    newly = true;
                    if let Event::SeedFinished { outcome, .. } | Event::Finished { outcome } =
                        ev.to_mut()
                    {
                        if !matches!(outcome, Outcome::Failed { .. }) {
                            *outcome = Outcome::Failed {
                                reason: e.to_string(),
                            };
                        }
                    }
                    self.error.get_or_insert(e);
                }
            }
        }
        newly
    }

    fn idle(&mut self) -> bool {
        self.each(false, |s| s.idle())
    }

    fn each(
        &mut self,
        include_failed: bool,
        mut f: impl FnMut(&mut dyn EventSink) -> Result<(), SinkError>,
    ) -> bool {
        let mut newly = false;
        for (i, sink) in self.sinks.iter_mut().enumerate() {
            if self.failed[i] && !include_failed {
                continue;
            }
            // One retry: a transient failure (a file briefly locked, space freed) passes.
            let result = f(&mut **sink).or_else(|_| f(&mut **sink));
            if let Err(e) = result {
                if !self.failed[i] {
                    self.failed[i] = true;
                    newly = true;
                    self.error.get_or_insert(e);
                }
            }
        }
        newly
    }
}

/// Drives a started job to its end: every event goes to every sink in order; `stop` (a signal
/// flag, say) cancels the job at the next check; a sink that fails twice on one event cancels
/// it too and the job ends `Failed` with that sink's error. When the trainer ends without a
/// `Finished` event, one is made up (failed) so every sink sees an end exactly once.
pub fn drive(
    handle: TrainHandle,
    sinks: &mut [&mut dyn EventSink],
    stop: Option<&AtomicBool>,
) -> Report {
    let failed = vec![false; sinks.len()];
    let mut s = Sinks {
        sinks,
        failed,
        error: None,
    };
    let mut cancelled = false;
    let mut outcome = None;
    loop {
        if !cancelled && stop.is_some_and(|f| f.load(Ordering::SeqCst)) {
            cancelled = true;
            handle.cancel();
            s.deliver(&Event::warn("stopping: the run is kept as interrupted"));
        }
        let mut ev = match handle.events.recv_timeout(POLL) {
            Ok(ev) => ev,
            Err(RecvTimeoutError::Timeout) => {
                if s.idle() {
                    handle.cancel();
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if let Some(err) = &s.error {
            // The trainer reports the stop we asked for as an interruption, and a seed or a job
            // whose records could not be written did not succeed: both end as this failure.
            let failed = Outcome::Failed {
                reason: err.to_string(),
            };
            match &mut ev {
                Event::SeedFinished { outcome, .. }
                    if !matches!(outcome, Outcome::Failed { .. }) =>
                {
                    *outcome = failed
                }
                Event::Finished { outcome } if !matches!(outcome, Outcome::Failed { .. }) => {
                    *outcome = failed
                }
                _ => {}
            }
        }
        if s.deliver(&ev) {
            handle.cancel();
        }
        if let Event::Finished { outcome: o } = ev {
            outcome = Some(o);
            break;
        }
    }
    handle.join();
    let outcome = match outcome {
        Some(o) => o,
        None => {
            let o = Outcome::Failed {
                reason: match &s.error {
                    Some(e) => e.to_string(),
                    None => "the training thread ended unexpectedly".into(),
                },
            };
            s.deliver(&Event::Finished { outcome: o.clone() });
            o
        }
    };
    Report {
        outcome,
        sink_error: s.error,
    }
}

#[cfg(test)]
mod tests;
