//! The training job: runs on its own thread, sends [`Event`]s, stops at the next batch when
//! cancelled.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use dfdx::prelude::*;

use super::error::TrainError;
use super::event::{Event, Outcome};
use super::seed::train_on;
use crate::config::{Config, DeviceKind, ScorerKind};
use crate::data::{self, Dataset, ExperimentSplit};
use crate::score::{self, Evaluation};

/// Extra inputs of a job that are not part of the experiment config.
#[derive(Clone, Default)]
pub struct JobOptions {
    /// The run's folder: with `run.save_model`, the job sends the first seed's detector
    /// (`Event::DetectorReady`) for the store to write there.
    pub model_dir: Option<PathBuf>,
    /// An already loaded dataset (skips finding and loading it).
    pub dataset: Option<Arc<Dataset>>,
}

/// A running job: its events, and a way to stop it.
pub struct TrainHandle {
    pub events: Receiver<Event>,
    cancel: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Stops a job from any thread.
#[derive(Clone)]
pub struct CancelHandle(Arc<AtomicBool>);

impl CancelHandle {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl TrainHandle {
    /// A handle over an event channel that something else feeds (tests script jobs this way);
    /// `cancel` is the flag the producer watches.
    pub fn from_channel(events: Receiver<Event>, cancel: Arc<AtomicBool>) -> TrainHandle {
        TrainHandle {
            events,
            cancel,
            thread: None,
        }
    }

    /// Asks the job to stop after the current batch; it then reports `Interrupted`.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }

    pub fn cancel_handle(&self) -> CancelHandle {
        CancelHandle(self.cancel.clone())
    }

    /// Waits for the worker thread to end.
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts a job on a new thread. The config must have been validated.
pub fn spawn(config: Config, options: JobOptions) -> TrainHandle {
    let (tx, rx) = mpsc::channel();
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let thread = std::thread::Builder::new()
        .name("adalab-train".into())
        .spawn(move || run_job(config, options, &flag, &tx))
        .expect("spawn training thread");
    TrainHandle {
        events: rx,
        cancel,
        thread: Some(thread),
    }
}

/// Runs a whole job on the calling thread, sending events to `tx`.
pub fn run_job(config: Config, options: JobOptions, cancel: &AtomicBool, tx: &Sender<Event>) {
    let threads = match config.train.threads {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        n => n,
    };
    let outcome = match rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("adalab-worker-{i}"))
        .build()
    {
        Ok(pool) => pool.install(|| job(&config, &options, threads, cancel, tx)),
        Err(e) => TrainError::Threads {
            threads,
            message: e.to_string(),
        }
        .outcome(),
    };
    let _ = tx.send(Event::Finished { outcome });
}

fn job(
    config: &Config,
    options: &JobOptions,
    threads: usize,
    cancel: &AtomicBool,
    tx: &Sender<Event>,
) -> Outcome {
    let seeds = config.seeds();
    let _ = tx.send(Event::Started {
        config: Box::new(config.clone()),
        seeds: seeds.clone(),
        device: config.train.device.to_string(),
        threads,
    });
    if config.train.device == DeviceKind::Cuda && !cfg!(feature = "cuda") {
        return TrainError::Device(
            "train.device = cuda, but this adalab was built without the `cuda` feature \
             (rebuild with `cargo build --release --features cuda` on a machine with CUDA)"
                .into(),
        )
        .outcome();
    }
    let dataset = match &options.dataset {
        Some(d) => d.clone(),
        None => {
            let _ = tx.send(Event::info(format!("loading {}", config.data.dataset)));
            match load_dataset(config, tx) {
                Ok(d) => Arc::new(d),
                Err(e) => return TrainError::Data(e).outcome(),
            }
        }
    };
    // Final AUCs of the seeds that finished, for the summary each `SeedFinished` carries.
    let mut finished_aucs: Vec<BTreeMap<ScorerKind, f64>> = Vec::new();
    let mut finished_identity: Vec<BTreeMap<ScorerKind, f64>> = Vec::new();
    for (index, &seed) in seeds.iter().enumerate() {
        if cancel.load(Ordering::SeqCst) {
            return Outcome::Interrupted;
        }
        let _ = tx.send(Event::SeedStarted { index, seed });
        let split = match data::make_split(&dataset, &config.data, seed) {
            Ok(s) => s,
            Err(e) => {
                let outcome = TrainError::Data(e).outcome();
                send_seed_end(
                    tx,
                    index,
                    seed,
                    outcome.clone(),
                    None,
                    (&finished_aucs, &finished_identity),
                );
                return outcome;
            }
        };
        if index == 0 {
            let _ = tx.send(Event::DataReady {
                train: split.train_y.len(),
                normal_train: split.normal_rows.len(),
                test: split.test_anomalous.len(),
                classes: split.class_names.len(),
                test_anomalous: split.test_anomalous.iter().filter(|&&a| a).count(),
            });
        }
        // One detector per run, the first seed's (the one `scores.csv` records).
        let save_detector = options.model_dir.is_some() && config.run.save_model && index == 0;
        // Its thresholds are calibrated on spare normal images (none: cross-fitting).
        let calibration = if save_detector && config.score.calibration_folds > 0 {
            data::spare_normal(
                &dataset,
                &config.data,
                seed,
                crate::score::state::CALIBRATION_IMAGES,
            )
            .unwrap_or_default()
        } else {
            Vec::new()
        };
        let detector = save_detector.then_some(&calibration[..]);
        let started = Instant::now();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_seed(config, &split, seed, detector, cancel, tx)
        }));
        let (outcome, evaluation) = match result {
            Ok(r) => r,
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                // dfdx's infallible ops unwrap CUDA errors: report those as device errors.
                let error = match crate::model::device::describe_cuda_failure(&msg) {
                    Some(what) => TrainError::Device(format!("train.device = {what}")),
                    None => TrainError::Panic(msg),
                };
                (error.outcome(), None)
            }
        };
        let _ = tx.send(Event::info(format!(
            "seed {seed} ended after {:.1}s",
            started.elapsed().as_secs_f32()
        )));
        if outcome == Outcome::Finished {
            if let Some(ev) = &evaluation {
                finished_aucs.push(ev.auc.clone());
                finished_identity.push(ev.identity_auc.clone());
            }
        }
        send_seed_end(
            tx,
            index,
            seed,
            outcome.clone(),
            evaluation,
            (&finished_aucs, &finished_identity),
        );
        if outcome != Outcome::Finished {
            return outcome;
        }
    }
    Outcome::Finished
}

/// Loads the dataset of `config`; a folder dataset reports its decoding every 10% (large
/// folders take a while on first load), whether the cache served it, and what it skipped.
fn load_dataset(config: &Config, tx: &Sender<Event>) -> Result<Dataset, data::DataError> {
    let mut next_tenth = 1;
    let mut on_progress = |ev: data::LoadEvent| {
        if let data::LoadEvent::Decoded { done, total } = ev {
            if total >= 1000 && done * 10 >= next_tenth * total {
                next_tenth = done * 10 / total + 1;
                let _ = tx.send(Event::info(format!(
                    "decoded {done} of {total} images ({}%)",
                    done * 100 / total
                )));
            }
        }
    };
    let (ds, report) = data::load_reporting(&config.data, &mut on_progress)?;
    if let Some(r) = report {
        let cache = match &r.cache {
            data::CacheStatus::Hit => "from the cache".to_string(),
            data::CacheStatus::Built => "decoded, cache written".to_string(),
            data::CacheStatus::Rebuilt(why) => format!("decoded, cache rebuilt ({why})"),
            data::CacheStatus::NotWritten(why) => format!("decoded, not cached ({why})"),
        };
        let _ = tx.send(Event::info(format!(
            "{}: {} train + {} test images, {cache}",
            r.root.display(),
            ds.train.len(),
            ds.test.len()
        )));
        if let Some(s) = r.skipped_summary() {
            let _ = tx.send(Event::warn(s));
        }
    }
    Ok(ds)
}

/// Final AUC per scorer of one seed.
type AucMap = BTreeMap<ScorerKind, f64>;

fn send_seed_end(
    tx: &Sender<Event>,
    index: usize,
    seed: u64,
    outcome: Outcome,
    evaluation: Option<Evaluation>,
    (finished, identity): (&[AucMap], &[AucMap]),
) {
    let _ = tx.send(Event::SeedFinished {
        index,
        seed,
        outcome,
        evaluation: evaluation.map(Box::new),
        summary: score::summarize(finished),
        identity_summary: score::summarize(identity),
    });
}

fn run_seed(
    config: &Config,
    split: &ExperimentSplit,
    seed: u64,
    detector: Option<&[f32]>,
    cancel: &AtomicBool,
    tx: &Sender<Event>,
) -> (Outcome, Option<Evaluation>) {
    match config.train.device {
        DeviceKind::Cpu => train_on(
            Cpu::seed_from_u64(seed),
            config,
            split,
            seed,
            detector,
            cancel,
            tx,
        ),
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda => match crate::model::device::open_cuda(seed) {
            Ok(dev) => train_on(dev, config, split, seed, detector, cancel, tx),
            Err(e) => (TrainError::Model(e).outcome(), None),
        },
        #[cfg(not(feature = "cuda"))]
        DeviceKind::Cuda => match crate::model::device::open_cuda(seed) {
            Ok(never) => match never {},
            Err(e) => (TrainError::Model(e).outcome(), None),
        },
    }
}
