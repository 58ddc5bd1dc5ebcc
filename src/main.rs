//! `adalab`: the lab in a terminal, and headless subcommands for scripts.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use adalab::config::DeviceKind;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "adalab",
    version,
    about = "A terminal lab for anomaly detection with deep metric learning",
    long_about = "Train a CNN embedding with a cosine-logit head (softmax, L2-softmax, ArcFace, CosFace, \
                  fixed/dynamic AdaCos) on reference classes plus one normal class, then score unseen \
                  anomalous images by their distance to the normal embeddings (LOF, nearest-neighbour \
                  cosine) and report ROC AUC over seeded runs.\n\nWithout a subcommand, in a terminal, \
                  adalab opens the lab (a keyboard-driven dashboard)."
)]
struct Cli {
    /// Run store folder (default: $ADALAB_HOME, else the user data dir).
    #[arg(long, global = true, value_name = "DIR")]
    home: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train and evaluate a profile headlessly (progress on stderr, results on stdout).
    Run(RunArgs),
    /// List, show, compare, export, tag, annotate and delete saved runs.
    #[command(subcommand)]
    Runs(adalab::store::cli::RunsCommand),
    /// List, show and save experiment profiles.
    #[command(subcommand)]
    Profiles(adalab::store::cli::ProfilesCommand),
    /// Fetch, check and locate datasets.
    #[command(subcommand)]
    Data(adalab::data::cli::DataCommand),
    /// Measure training and inference speed (images/s) of the bench net.
    Bench(BenchArgs),
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Profile name (from profiles/ or the user profile dir) or path to a TOML file
    /// [default: fashion-sneaker-boot-adacos-fixed].
    profile: Option<String>,
    /// Override any config field, e.g. --set head.kind=arcface --set train.epochs=5.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Run the configuration N times with seeds seed, seed+1, …
    #[arg(long)]
    repeat: Option<usize>,
    /// Device to train on.
    #[arg(long, value_parser = parse_device)]
    device: Option<DeviceKind>,
    /// Print one JSON document at the end instead of the table.
    #[arg(long)]
    json: bool,
    /// Folder holding the dataset (overrides $ADALAB_DATA).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Do not save the run in the store.
    #[arg(long)]
    no_save: bool,
}

#[derive(clap::Args, Debug)]
struct BenchArgs {
    /// Input size: 28 (1×28×28) or 32 (3×32×32); both when omitted.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["28", "32"]))]
    input: Option<String>,
    /// Threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Timed steps after warm-up.
    #[arg(long, default_value_t = 30)]
    steps: usize,
    /// Device to benchmark.
    #[arg(long, value_parser = parse_device, default_value = "cpu")]
    device: DeviceKind,
    /// Also time anomaly scoring (LOF + kNN + AUC on 1,000 × 2,000 × 128).
    #[arg(long)]
    scoring: bool,
}

fn parse_device(s: &str) -> Result<DeviceKind, String> {
    match s {
        "cpu" => Ok(DeviceKind::Cpu),
        "cuda" => Ok(DeviceKind::Cuda),
        _ => Err(format!("unknown device `{s}` (use cpu or cuda)")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let home = cli.home.clone();
    let result = match cli.command {
        None => {
            if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
                adalab::tui::run(home.as_deref())
            } else {
                eprintln!(
                    "adalab: not a terminal, so the lab cannot open.\n\
                     Use the headless commands instead, e.g.\n  \
                     adalab run fashion-sneaker-boot-adacos-fixed --repeat 3\n  \
                     adalab runs list\n\
                     See `adalab --help`."
                );
                return ExitCode::from(2);
            }
        }
        Some(Command::Run(a)) => {
            let opts = adalab::runner::RunOptions {
                profile: a.profile,
                overrides: a.set,
                repeat: a.repeat,
                device: a.device,
                json: a.json,
                data_dir: a.data_dir,
                save: !a.no_save,
                home,
            };
            match adalab::runner::run(&opts) {
                Ok(true) => Ok(()),
                Ok(false) => return ExitCode::from(1),
                Err(e) => Err(e),
            }
        }
        Some(Command::Runs(c)) => adalab::store::cli::run_runs(c, home.as_deref()),
        Some(Command::Profiles(c)) => adalab::store::cli::run_profiles(c, home.as_deref()),
        Some(Command::Data(c)) => adalab::data::cli::run(c),
        Some(Command::Bench(b)) => adalab::bench::run(&adalab::bench::BenchOptions {
            inputs: match b.input.as_deref() {
                Some("28") => vec![28],
                Some(_) => vec![32],
                None => vec![28, 32],
            },
            threads: b.threads,
            steps: b.steps,
            device: b.device,
            scoring: b.scoring,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("adalab: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
