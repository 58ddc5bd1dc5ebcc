//! `adalab bench`: images/s of the bench net (and, with `--scoring`, the time of scoring).

use std::io::Write;

use anyhow::{bail, Context};

use crate::config::DeviceKind;
use crate::model::bench::bench_on_device;

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
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("cannot start the worker threads")?;
    let inputs: Vec<(usize, usize, usize)> = match opts.input.as_deref() {
        Some("28") => vec![(1, 28, 28)],
        Some(_) => vec![(3, 32, 32)],
        None => vec![(1, 28, 28), (3, 32, 32)],
    };
    for input in inputs {
        let r = pool.install(|| bench_on_device(opts.device, input, threads, opts.steps))?;
        writeln!(out, "{}", r.line())?;
    }
    if opts.scoring {
        writeln!(out, "{}", crate::score::bench_scoring(1000, 2000, 128, 5))?;
    }
    Ok(())
}
