//! `adalab study …`: run a study (a local queue, or a Slurm job array), run one of its array
//! tasks, show its results (table, Markdown, CSV, JSON, with a boxplot in the terminal), plot
//! its figure, list the study files.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use super::report::{figure, study as report};
use super::{Exit, Signals};
use crate::job::slurm::{self, SlurmOptions};
use crate::job::study::{self as runner, QueueOptions, StudyEvent};
use crate::store::studies::{list_studies, Study, Task};
use crate::store::Store;
use crate::train::Outcome;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum StudyCommand {
    /// List the study files (local, user and shipped).
    List,
    /// Run every pending task of a study (cells × seeds); finished tasks are skipped, failed
    /// and interrupted ones run again.
    Run(StudyRunArgs),
    /// Run one task of a Slurm submission (what each array task calls).
    RunTask {
        /// The study's name.
        name: String,
        /// Index into the submission's task list ($SLURM_ARRAY_TASK_ID).
        index: usize,
        /// The submission's task list (default: the newest submission's).
        #[arg(long, value_name = "FILE")]
        tasks: Option<PathBuf>,
    },
    /// Per cell: n, median, quartiles and extremes of each scorer's AUC, the comparison with
    /// the first cell, and a boxplot.
    Show {
        /// Study name or file.
        name: String,
        #[arg(long, value_enum, default_value_t = ShowFormat::Table)]
        format: ShowFormat,
        /// The overrides the study was run with (`study run NAME --set …`): each set of
        /// overrides is a variant with its own runs.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Draw the study's boxplot figure as SVG or PNG (by the file's extension).
    Plot {
        /// Study name or file.
        name: String,
        /// The overrides the study was run with, as for `show`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Output file (`.svg` or `.png`).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: PathBuf,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct StudyRunArgs {
    /// Study name (from profiles/studies, the user's studies or the shipped ones) or file.
    pub name: String,
    /// Tasks to run at once (the machine's threads are split between them).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Override a config key in every cell, e.g. --set train.epochs=2.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Submit the pending tasks to Slurm as one job array instead of running them here.
    #[arg(long)]
    pub slurm: bool,
    /// With --slurm: the partition.
    #[arg(long, requires = "slurm")]
    pub partition: Option<String>,
    /// With --slurm: generic resources per task, e.g. gpu:1.
    #[arg(long, requires = "slurm")]
    pub gres: Option<String>,
    /// With --slurm: time limit per task, e.g. 01:00:00.
    #[arg(long, requires = "slurm")]
    pub time: Option<String>,
    /// With --slurm: at most this many array tasks at once.
    #[arg(long, requires = "slurm")]
    pub throttle: Option<usize>,
    /// With --slurm: one more sbatch option, e.g. --sbatch-arg=--mem=8G (repeatable).
    #[arg(
        long = "sbatch-arg",
        value_name = "ARG",
        requires = "slurm",
        allow_hyphen_values = true
    )]
    pub sbatch_arg: Vec<String>,
    /// With --slurm: write and print the script, do not submit it.
    #[arg(long, requires = "slurm")]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShowFormat {
    Table,
    Md,
    Csv,
    Json,
}

pub fn run(cmd: StudyCommand, home: Option<&Path>) -> anyhow::Result<Exit> {
    match cmd {
        StudyCommand::List => {
            let store = Store::open(home)?;
            let mut out = super::out();
            let rows: Vec<Vec<String>> = list_studies(&store.study_dirs(), &store.profile_dirs())
                .into_iter()
                .map(|(n, d, p)| vec![n, d, p.display().to_string()])
                .collect();
            super::report::table::write_table(&mut out, &["name", "description", "path"], &rows)?;
            Ok(Exit::Ok)
        }
        StudyCommand::Run(a) => run_study(&a, home),
        StudyCommand::RunTask { name, index, tasks } => run_task(&name, index, tasks, home),
        StudyCommand::Show { name, format, set } => {
            let store = Store::open(home)?;
            let study = match load(&store, &name, &set) {
                Ok(s) => s,
                Err(e) => {
                    crate::say!("adalab: error: {e:#}");
                    return Ok(Exit::Usage);
                }
            };
            let states = runner::pending(&study, &store)?;
            let results = study.results(&states);
            other_variants(&store, &study, &results)?;
            let mut out = super::out();
            match format {
                ShowFormat::Table => report::write_table(&mut out, &study, &results)?,
                ShowFormat::Md => report::write_markdown(&mut out, &study, &results)?,
                ShowFormat::Csv => report::write_csv(&mut out, &study, &results)?,
                ShowFormat::Json => report::write_json(&mut out, &study, &results)?,
            }
            Ok(Exit::Ok)
        }
        StudyCommand::Plot { name, set, output } => {
            let store = Store::open(home)?;
            let study = match load(&store, &name, &set) {
                Ok(s) => s,
                Err(e) => {
                    crate::say!("adalab: error: {e:#}");
                    return Ok(Exit::Usage);
                }
            };
            let states = runner::pending(&study, &store)?;
            let results = study.results(&states);
            other_variants(&store, &study, &results)?;
            figure::write(&output, &study, &results)?;
            crate::say!("adalab: wrote {}", output.display());
            Ok(Exit::Ok)
        }
    }
}

/// A study by name or file, with `--set` overrides; for `show`/`plot` a name whose file is
/// gone falls back to the copy kept beside its runs.
fn load(store: &Store, name: &str, set: &[String]) -> anyhow::Result<Study> {
    Ok(store.load_study_or_kept(name)?.with_overrides(set)?)
}

/// When the variant asked for has no runs but others do (`study run NAME --set …`), says
/// which and the command that shows each (stderr).
fn other_variants(
    store: &Store,
    study: &Study,
    results: &[crate::store::studies::CellResults],
) -> anyhow::Result<()> {
    if results.iter().any(|c| c.done + c.running > 0) {
        return Ok(());
    }
    let others: Vec<(Vec<String>, usize)> = store
        .study_variants(&study.name)?
        .into_iter()
        .filter(|(o, _)| *o != study.overrides)
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    crate::say!(
        "adalab: {} has no runs{}; its runs were made with other overrides:",
        study.name,
        if study.overrides.is_empty() {
            " as written".to_string()
        } else {
            format!(" with --set {}", study.overrides.join(" --set "))
        }
    );
    for (o, n) in others {
        let variant = Study {
            overrides: o,
            ..study.clone()
        };
        crate::say!(
            "  {n} run(s), {}: {}",
            if variant.overrides.is_empty() {
                "as written".to_string()
            } else {
                format!("--set {}", variant.overrides.join(" --set "))
            },
            variant.show_command()
        );
    }
    Ok(())
}

fn run_study(a: &StudyRunArgs, home: Option<&Path>) -> anyhow::Result<Exit> {
    let signals = Signals::install()?;
    let store = Store::open(home)?;
    let study = match store
        .load_study(&a.name)
        .and_then(|s| s.with_overrides(&a.set))
    {
        Ok(s) => s,
        Err(e) => {
            crate::say!("adalab: error: {e}");
            return Ok(Exit::Usage);
        }
    };
    if let Err(e) = runner::check_cells(&study) {
        crate::say!("adalab: error: {e}");
        return Ok(Exit::Usage);
    }
    if a.slurm {
        return submit(&store, &study, a);
    }
    let stop = signals.flag();
    let mut console = StudyConsole::new(&study);
    let opts = QueueOptions {
        jobs: a.jobs.max(1),
        threads: 0,
    };
    runner::run_queue(&store, &study, opts, &stop, &mut |ev| console.event(&ev))?;
    let exit = if stop.load(Ordering::SeqCst) {
        signals.exit_code()
    } else if console.failed > 0 {
        Exit::Failed
    } else {
        Exit::Ok
    };
    Ok(exit)
}

fn submit(store: &Store, study: &Study, a: &StudyRunArgs) -> anyhow::Result<Exit> {
    let states = runner::pending(study, store)?;
    let pending: Vec<Task> = states
        .iter()
        .filter(|(_, s)| s.is_pending())
        .map(|(t, _)| *t)
        .collect();
    let opts = SlurmOptions {
        partition: a.partition.clone(),
        gres: a.gres.clone(),
        time: a.time.clone(),
        throttle: a.throttle,
        extra: a.sbatch_arg.clone(),
    };
    let exe = std::env::current_exe().context("cannot tell where this adalab binary is")?;
    store.save_study_file(study)?;
    let sub = slurm::prepare(store, study, &pending, &exe, &opts)?;
    let mut out = super::out();
    if a.dry_run {
        write!(out, "{}", sub.script_text)?;
        crate::say!(
            "adalab: {} task(s); script written to {} (not submitted)",
            sub.tasks,
            sub.script.display()
        );
        return Ok(Exit::Ok);
    }
    let id = slurm::submit(&sub)?;
    writeln!(out, "{id}")?;
    crate::say!(
        "adalab: submitted {} task(s) of {} as Slurm job array {id} ({}); `{}` follows it",
        sub.tasks,
        study.title(),
        sub.script.display(),
        study.show_command()
    );
    Ok(Exit::Ok)
}

fn run_task(
    name: &str,
    index: usize,
    tasks: Option<PathBuf>,
    home: Option<&Path>,
) -> anyhow::Result<Exit> {
    let signals = Signals::install()?;
    let store = Store::open(home)?;
    let path = match tasks {
        Some(p) => p,
        None => slurm::latest_tasks(&store, name)?,
    };
    let list = slurm::read_tasks(&path)?;
    let entry = list
        .tasks
        .get(index)
        .copied()
        .ok_or(runner::StudyError::NoTask {
            index,
            len: list.tasks.len(),
        })?;
    // The overrides the study was submitted with (`study run NAME --slurm --set …`).
    let study = store
        .load_study_file(&list.study_file, &list.study)?
        .with_overrides(&list.overrides)?;
    let task = Task {
        cell: entry.cell,
        seed_index: entry.seed_index,
    };
    if task.cell >= study.cells.len() || task.seed_index >= study.seeds {
        anyhow::bail!(
            "{}: task {index} names cell {} seed {}, which {} does not have",
            path.display(),
            task.cell,
            task.seed_index,
            list.study_file.display()
        );
    }
    let stop = signals.flag();
    let id_for_signal = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    {
        let st = store.clone();
        let id = id_for_signal.clone();
        signals.on_second(move || {
            if let Some(id) = id.lock().ok().and_then(|g| g.clone()) {
                let _ = st.mark_interrupted(&id);
            }
        });
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    // Never twice: a local `study run` or another array task may have it.
    let _claim = match runner::claim(&store, &study, task)? {
        runner::Claim::Mine(c) => c,
        runner::Claim::Taken(reason) => {
            crate::say!(
                "adalab: {} {}: skipped, {reason}",
                study.name,
                study.task_label(task)
            );
            return Ok(Exit::Ok);
        }
    };
    let (id, outcome, auc) = runner::run_one(&store, &study, task, threads, &stop, |id| {
        if let Ok(mut g) = id_for_signal.lock() {
            *g = Some(id.to_string());
        }
        crate::say!(
            "adalab: {} {}: run {id}",
            study.name,
            study.task_label(task)
        );
    })?;
    crate::say!(
        "adalab: run {id} {}{}",
        outcome.label(),
        auc.get(&study.scorer)
            .map(|v| format!(", AUC {} {v:.4}", study.scorer))
            .unwrap_or_default()
    );
    Ok(match outcome {
        Outcome::Finished => Exit::Ok,
        Outcome::Failed { .. } => Exit::Failed,
        Outcome::Interrupted => signals.exit_code(),
    })
}

/// A bar over the study's tasks and a line per finished run (stderr).
struct StudyConsole {
    bar: Option<ProgressBar>,
    study: Study,
    failed: usize,
}

impl StudyConsole {
    fn new(study: &Study) -> StudyConsole {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new(0);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} runs  eta {eta}  {msg}",
            ) {
                b.set_style(style);
            }
            b
        });
        StudyConsole {
            bar,
            study: study.clone(),
            failed: 0,
        }
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(b) => b.println(text),
            None => {
                let _ = writeln!(std::io::stderr(), "{text}");
            }
        }
    }

    fn event(&mut self, ev: &StudyEvent) {
        match ev {
            StudyEvent::Started {
                total,
                done,
                running,
                queued,
                jobs,
                threads_per_job,
            } => {
                if let Some(b) = &self.bar {
                    b.set_length((*queued) as u64);
                }
                self.line(format!(
                    "adalab: study {} — {} cells × {} seeds = {total} runs: {done} finished, \
                     {running} running elsewhere, {queued} to run ({jobs} at a time, \
                     {threads_per_job} thread(s) each)",
                    self.study.name,
                    self.study.cells.len(),
                    self.study.seeds
                ));
            }
            StudyEvent::TaskStarted { task, run_id } => {
                if let Some(b) = &self.bar {
                    b.set_message(format!("{} ({run_id})", self.study.task_label(*task)));
                }
            }
            StudyEvent::TaskFinished {
                task,
                run_id,
                outcome,
                auc,
                seconds,
            } => {
                if let Some(b) = &self.bar {
                    b.inc(1);
                }
                if matches!(outcome, Outcome::Failed { .. }) {
                    self.failed += 1;
                }
                let k = self.study.scorer;
                let what = match outcome {
                    Outcome::Finished => auc
                        .get(&k)
                        .map(|v| format!("AUC {k} {v:.4}"))
                        .unwrap_or_else(|| "finished".into()),
                    Outcome::Failed { reason } => format!("failed: {reason}"),
                    Outcome::Interrupted => "interrupted".into(),
                };
                self.line(format!(
                    "{}: {what} ({seconds:.0}s, run {run_id})",
                    self.study.task_label(*task)
                ));
            }
            StudyEvent::TaskSkipped { task, reason } => {
                if let Some(b) = &self.bar {
                    b.inc(1);
                }
                self.line(format!(
                    "{}: skipped, {reason}",
                    self.study.task_label(*task)
                ));
            }
            StudyEvent::TaskError { task, message } => {
                self.failed += 1;
                self.line(format!(
                    "{}: could not start: {message}",
                    self.study.task_label(*task)
                ));
            }
            StudyEvent::Finished {
                finished,
                failed,
                stopped,
            } => {
                if let Some(b) = self.bar.take() {
                    b.finish_and_clear();
                }
                self.line(format!(
                    "adalab: study {}: {finished} run(s) finished, {failed} failed{}; \
                     `{}` for the results",
                    self.study.title(),
                    if *stopped {
                        ", stopped (run it again to finish)"
                    } else {
                        ""
                    },
                    self.study.show_command()
                ));
            }
        }
    }
}
