//! `adalab bench`: images/s of the bench net (and, with `--scoring`, the time of scoring), and
//! what the per-batch `Progress` events cost against training.

use std::io::Write;
use std::time::Instant;

use anyhow::{bail, Context};

use dfdx::prelude::*;

use crate::config::{Config, DeviceKind};
use crate::data::ExperimentSplit;
use crate::model::bench::{bench_on_device_batch, BATCH};
use crate::store::metrics::{BatchPoint, MetricsLog};
use crate::store::profiles::DEFAULT_PROFILE;
use crate::store::Store;
use crate::train::bench::bench_recipe;
use crate::train::Event;
use crate::train::PROGRESS_EVERY;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Input size: 28 (1×28×28) or 32 (3×32×32); both when omitted.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["28", "32"]))]
    pub input: Option<String>,
    /// Threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Timed steps after warm-up [default: 30, with --profile 300].
    #[arg(long)]
    pub steps: Option<usize>,
    /// Device to benchmark.
    #[arg(long, value_parser = super::parse_device, default_value = "cpu")]
    pub device: DeviceKind,
    /// Also time anomaly scoring (LOF + kNN + AUC on 1,000 × 2,000 × 128).
    #[arg(long)]
    pub scoring: bool,
    /// Time a profile's real work instead of the bench net: its training steps (net, batch,
    /// transform classes) and one evaluation's embedding pass (all views), on its data
    /// [default profile when given without a name].
    #[arg(long, num_args = 0..=1, default_missing_value = DEFAULT_PROFILE, value_name = "NAME")]
    pub profile: Option<String>,
    /// With --profile: random images of the dataset's shape instead of the dataset.
    #[arg(long, requires = "profile")]
    pub random: bool,
    /// Images per training step.
    #[arg(long, default_value_t = BATCH)]
    pub batch: usize,
    /// Instead of timing: check the device against the CPU (each op's forward and backward,
    /// three training steps of the bench net) and fail beyond the tolerances.
    #[arg(long)]
    pub check: bool,
}

/// What the lab does with each event it receives (`tui::event_fold`): passed in by the binary,
/// which knows both front ends, so the CLI does not import the lab.
pub type LabFold = dyn Fn(Config) -> Box<dyn FnMut(&Event)>;

pub fn run(opts: &BenchArgs, lab: &LabFold) -> anyhow::Result<()> {
    let mut out = super::out();
    let threads = opts.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    if threads == 0 {
        bail!("--threads must be at least 1");
    }
    if opts.batch < 2 {
        bail!("--batch must be at least 2 (BatchNorm needs two values per channel)");
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("cannot start the worker threads")?;
    if let Some(name) = &opts.profile {
        let line = pool.install(|| run_profile(opts, name, threads))?;
        writeln!(out, "{line}")?;
        return Ok(());
    }
    let steps = opts.steps.unwrap_or(30);
    let inputs: Vec<(usize, usize, usize)> = match opts.input.as_deref() {
        Some("28") => vec![(1, 28, 28)],
        Some(_) => vec![(3, 32, 32)],
        None => vec![(1, 28, 28), (3, 32, 32)],
    };
    if opts.check {
        return super::parity::run(&mut out, &pool, opts.device);
    }
    let cost = progress_event_cost(20_000, lab)?;
    for input in inputs {
        let r =
            pool.install(|| bench_on_device_batch(opts.device, input, opts.batch, threads, steps))?;
        let step_us = 1e6 * opts.batch as f64 / r.train_ips;
        writeln!(out, "{} {}", r.line(), cost.fields(step_us))?;
    }
    if opts.scoring {
        writeln!(out, "{}", crate::score::bench_scoring(1000, 2000, 128, 5))?;
    }
    Ok(())
}

/// `adalab bench --profile NAME`: the profile's training steps and embedding pass (on the
/// calling thread's rayon pool); returns the line to print.
fn run_profile(opts: &BenchArgs, name: &str, threads: usize) -> anyhow::Result<String> {
    let store = Store::open(None)?;
    let (name, path, mut config) = store.profile_dirs().resolve(name)?;
    config.train.device = opts.device;
    let info = crate::job::check(&config).with_context(|| format!("{}", path.display()))?;
    let (split, data) = if opts.random {
        (random_split(&config, &info), "random")
    } else {
        let ds = crate::data::load_for(&config.data).with_context(|| {
            format!("cannot load the data of {name} (--random times random images)")
        })?;
        (
            crate::data::make_split(&ds, &config.data, config.train.seed)?,
            "real",
        )
    };
    let steps = opts.steps.unwrap_or(300);
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let r = match opts.device {
        DeviceKind::Cpu => bench_recipe(Cpu::seed_from_u64(0), &config, &split, steps, &cancel)?,
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda => {
            let dev = Cuda::try_seed_from_u64(0)
                .map_err(|e| anyhow::anyhow!("cannot open the CUDA device: {e:?}"))?;
            bench_recipe(dev, &config, &split, steps, &cancel)?
        }
        #[cfg(not(feature = "cuda"))]
        DeviceKind::Cuda => bail!(
            "cuda: this adalab was built without the `cuda` feature \
             (rebuild with `cargo build --release --features cuda`)"
        ),
    };
    Ok(format!(
        "bench profile={name} data={data} threads={threads} {}",
        r.line()
    ))
}

/// A split of uniform random images with the shape and sizes `config` would get.
fn random_split(config: &Config, info: &crate::config::DatasetInfo) -> ExperimentSplit {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let (c, h, w) = info.shape;
    let pix = c * h * w;
    // `all` on random data: a Fashion-MNIST class's 6,000 training images.
    let n = config.data.normal_train_count.of(6_000);
    let n_test = 2 * n;
    let mut images = |k: usize| (0..k * pix).map(|_| rng.gen::<f32>()).collect::<Vec<f32>>();
    let classes = info.training_classes.max(1);
    ExperimentSplit {
        shape: info.shape,
        train_x: images(n),
        train_y: vec![classes - 1; n],
        class_names: (0..classes).map(|i| format!("class{i}")).collect(),
        normal_rows: (0..n).collect(),
        test_x: images(n_test),
        test_anomalous: (0..n_test).map(|i| i % 2 == 1).collect(),
        test_index: (0..n_test).collect(),
        test_groups: Vec::new(),
        test_group: Vec::new(),
    }
}

/// What one per-batch `Progress` event costs, in microseconds: the trainer building and
/// sending it (on the training thread), the lab receiving it and folding it into its Train
/// screen state (`Live`, with its `JobProgress` and curve), and the store writer appending it
/// to `metrics.csv`. Each is timed over `n` events (the median of 5 rounds).
#[derive(Clone, Copy, Debug)]
pub struct EventCost {
    pub send_us: f64,
    pub fold_us: f64,
    pub write_us: f64,
}

impl EventCost {
    /// Every cost together (as if all ran on the training thread).
    pub fn total_us(&self) -> f64 {
        self.send_us + self.fold_us + self.write_us
    }

    /// The bench line's fields: the costs, and their share of the `PROGRESS_EVERY` training
    /// steps (of `step_us` each) an event stands for.
    pub fn fields(&self, step_us: f64) -> String {
        let per = PROGRESS_EVERY as f64 * step_us;
        format!(
            "progress_every={PROGRESS_EVERY} progress_event_us={:.2} (send {:.2}, lab {:.2}, \
             metrics.csv {:.2}) progress_share_of_training={:.4}% (training thread {:.5}%)",
            self.total_us(),
            self.send_us,
            self.fold_us,
            self.write_us,
            100.0 * self.total_us() / per,
            100.0 * self.send_us / per,
        )
    }
}

fn progress(i: usize) -> Event {
    let batches = 200;
    Event::Progress {
        epoch: 1 + i / batches,
        batch: 1 + i % batches,
        batches,
        images_per_sec: 1000.0,
        loss: 1.0 / (1.0 + i as f32),
        accuracy: 0.5,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Times `n` Progress events through the three places they go.
pub fn progress_event_cost(n: usize, lab: &LabFold) -> anyhow::Result<EventCost> {
    let dir = std::env::temp_dir().join(format!("adalab-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).context("cannot create a temporary folder")?;
    let mut config = Config::default();
    config.train.epochs = n.div_ceil(200);
    let (mut send, mut fold, mut write) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        let (tx, rx) = std::sync::mpsc::channel();
        let t0 = Instant::now();
        for i in 0..n {
            let _ = tx.send(progress(i));
        }
        send.push(t0.elapsed().as_secs_f64() * 1e6 / n as f64);

        let mut live = lab(config.clone());
        live(&Event::SeedStarted { index: 0, seed: 0 });
        let t1 = Instant::now();
        while let Ok(ev) = rx.try_recv() {
            live(&ev);
        }
        std::hint::black_box(&live);
        fold.push(t1.elapsed().as_secs_f64() * 1e6 / n as f64);

        let mut log = MetricsLog::create(&dir)?;
        let t2 = Instant::now();
        for i in 0..n {
            if let Event::Progress {
                epoch,
                batch,
                batches,
                images_per_sec,
                loss,
                accuracy,
            } = progress(i)
            {
                log.append(&BatchPoint {
                    seed: 0,
                    epoch,
                    batch,
                    batches,
                    loss,
                    accuracy,
                    images_per_sec,
                    ms: i as u64,
                })?;
            }
        }
        write.push(t2.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(EventCost {
        send_us: median(send),
        fold_us: median(fold),
        write_us: median(write),
    })
}
