//! `adalab`: the lab in a terminal, and headless subcommands for scripts. Parses the command
//! line and dispatches to the front ends; nothing else lives here.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use adalab::cli::{self, Exit};

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
                  adalab opens the lab (a keyboard-driven dashboard).\n\nExit status: 0 done, 1 failed, \
                  2 usage or config error, 128+N stopped by signal N (130 SIGINT, 143 SIGTERM)."
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
    Run(cli::run::RunArgs),
    /// List, show, compare, export, tag, annotate and delete saved runs.
    #[command(subcommand)]
    Runs(cli::runs::RunsCommand),
    /// List, show and save experiment profiles.
    #[command(subcommand)]
    Profiles(cli::profiles::ProfilesCommand),
    /// Score images with a run's saved detector: a score per scorer and a verdict per image.
    Score(cli::score::ScoreArgs),
    /// Fetch, check and locate datasets.
    #[command(subcommand)]
    Data(cli::data::DataCommand),
    /// Measure training and inference speed (images/s) of the bench net.
    Bench(cli::bench::BenchArgs),
    /// Run, show and plot studies: a grid of configs × seeds, locally or over Slurm.
    #[command(subcommand)]
    Study(cli::study::StudyCommand),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let home = cli.home.as_deref();
    let result = match cli.command {
        None => {
            if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
                adalab::tui::run(home).map(|signal| signal.map_or(Exit::Ok, Exit::Signal))
            } else {
                adalab::say!(
                    "adalab: not a terminal, so the lab cannot open.\n\
                     Use the headless commands instead, e.g.\n  \
                     adalab run fashion-sneaker-boot-adacos-fixed --repeat 3\n  \
                     adalab runs list\n\
                     See `adalab --help`."
                );
                return Exit::Usage.into();
            }
        }
        Some(Command::Run(a)) => cli::run::run(&a, home),
        Some(Command::Runs(c)) => cli::runs::run_runs(c, home).map(|()| Exit::Ok),
        Some(Command::Profiles(c)) => cli::profiles::run_profiles(c, home).map(|()| Exit::Ok),
        Some(Command::Score(a)) => cli::score::run(&a, home),
        Some(Command::Data(c)) => cli::data::run(c, home).map(|()| Exit::Ok),
        Some(Command::Bench(b)) => cli::bench::run(&b, &adalab::tui::event_fold).map(|()| Exit::Ok),
        Some(Command::Study(c)) => cli::study::run(c, home),
    };
    // A closed stdout (`adalab runs list | head`) ends quietly, keeping the command's status;
    // any other failure to write the output (a full disk) is an error.
    let failure = cli::stdout_failure();
    let broken_pipe = failure
        .as_ref()
        .is_some_and(|(k, _)| *k == std::io::ErrorKind::BrokenPipe);
    match (result, failure) {
        (Ok(exit), Some(_)) if broken_pipe => exit.into(),
        (Err(_), Some(_)) if broken_pipe => Exit::Ok.into(),
        (r, Some((_, message))) => {
            adalab::say!("adalab: error: cannot write to stdout: {message}");
            match r {
                Ok(Exit::Ok) | Err(_) => Exit::Failed.into(),
                Ok(exit) => exit.into(),
            }
        }
        (Ok(exit), None) => exit.into(),
        (Err(e), None) => {
            adalab::say!("adalab: error: {e:#}");
            Exit::of_error(&e).into()
        }
    }
}
