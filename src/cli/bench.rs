//! `adalab bench`: images/s of the bench net (and, with `--scoring`, the time of scoring), and
//! what the per-batch `Progress` events cost against training.

use std::io::Write;
use std::time::Instant;

use anyhow::{bail, Context};

use crate::config::{Config, DeviceKind};
use crate::model::bench::{bench_on_device_batch, BATCH};
use crate::store::metrics::{BatchPoint, MetricsLog};
use crate::train::worker::PROGRESS_EVERY;
use crate::train::Event;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Input size: 28 (1×28×28) or 32 (3×32×32); both when omitted.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["28", "32"]))]
    pub input: Option<String>,
    /// Threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Timed steps after warm-up.
    #[arg(long, default_value_t = 30)]
    pub steps: usize,
    /// Device to benchmark.
    #[arg(long, value_parser = super::parse_device, default_value = "cpu")]
    pub device: DeviceKind,
    /// Also time anomaly scoring (LOF + kNN + AUC on 1,000 × 2,000 × 128).
    #[arg(long)]
    pub scoring: bool,
    /// Images per training step.
    #[arg(long, default_value_t = BATCH)]
    pub batch: usize,
    /// Instead of timing: check the device against the CPU (each op's forward and backward,
    /// three training steps of the bench net) and fail beyond the tolerances.
    #[arg(long)]
    pub check: bool,
}

pub fn run(opts: &BenchArgs) -> anyhow::Result<()> {
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
    let inputs: Vec<(usize, usize, usize)> = match opts.input.as_deref() {
        Some("28") => vec![(1, 28, 28)],
        Some(_) => vec![(3, 32, 32)],
        None => vec![(1, 28, 28), (3, 32, 32)],
    };
    if opts.check {
        return super::parity::run(&mut out, &pool, opts.device);
    }
    let cost = progress_event_cost(20_000)?;
    for input in inputs {
        let r = pool.install(|| {
            bench_on_device_batch(opts.device, input, opts.batch, threads, opts.steps)
        })?;
        let step_us = 1e6 * opts.batch as f64 / r.train_ips;
        writeln!(out, "{} {}", r.line(), cost.fields(step_us))?;
    }
    if opts.scoring {
        writeln!(out, "{}", crate::score::bench_scoring(1000, 2000, 128, 5))?;
    }
    Ok(())
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
pub fn progress_event_cost(n: usize) -> anyhow::Result<EventCost> {
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

        let mut live = crate::tui::live::Live::new(config.clone(), "bench".into(), None, t0);
        live.apply(&Event::SeedStarted { index: 0, seed: 0 }, t0);
        let t1 = Instant::now();
        while let Ok(ev) = rx.try_recv() {
            live.apply(&ev, t1);
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
