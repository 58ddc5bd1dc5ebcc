//! Running a study: its pending tasks on a local queue of N workers (the machine's threads split
//! between them), each task one run in the store, tagged with the study and its cell; or one
//! task on its own (`run_task`, what a Slurm array task does). Stops cleanly on the stop flag.
//!
//! Resuming is free: the store says which tasks are done ([`Study::states`]), so running a
//! study again runs only the pending ones (never run, failed or interrupted). Each process plans
//! once, but claims every task just before it starts ([`claim`]): several `study run`s, Slurm
//! array tasks and labs on one store never train one task twice.
//!
//! Must not import front-end crates (clap, ratatui, crossterm, indicatif) or print.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{drive, EventSink, Tally};
use crate::config::{ConfigError, ScorerKind};
use crate::store::studies::{Study, Task, TaskClaim, TaskState};
use crate::store::{Store, StoreError};
use crate::train::{self, JobOptions, Outcome};

/// What a study run reports, in order (from several workers: `TaskStarted`/`TaskFinished` of
/// different tasks interleave).
#[derive(Clone, Debug, PartialEq)]
pub enum StudyEvent {
    Started {
        /// Tasks in the study.
        total: usize,
        /// Already finished before this run.
        done: usize,
        /// Running elsewhere (left alone).
        running: usize,
        /// To run now.
        queued: usize,
        jobs: usize,
        threads_per_job: usize,
    },
    TaskStarted {
        task: Task,
        run_id: String,
    },
    TaskFinished {
        task: Task,
        run_id: String,
        outcome: Outcome,
        auc: BTreeMap<ScorerKind, f64>,
        seconds: f32,
    },
    /// A task was left alone: another process finished it or is running it (found when the
    /// task was about to start, see [`claim`]).
    TaskSkipped {
        task: Task,
        reason: String,
    },
    /// A task could not even start (its run could not be created).
    TaskError {
        task: Task,
        message: String,
    },
    Finished {
        /// Tasks finished in this run.
        finished: usize,
        /// Tasks that failed in this run.
        failed: usize,
        /// True when the stop flag ended the run early.
        stopped: bool,
    },
}

/// Why a study could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A cell's config does not pass the check (the message names the cell and the key).
    #[error("{study}: cell `{cell}`: {error}")]
    Cell {
        study: String,
        cell: String,
        error: ConfigError,
    },
    #[error("task {index} does not exist: the task list has {len}")]
    NoTask { index: usize, len: usize },
}

/// How to run the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueOptions {
    /// Workers running tasks at once.
    pub jobs: usize,
    /// Threads to share between them (0 = all cores).
    pub threads: usize,
}

/// Checks every cell of the study before anything is created.
pub fn check_cells(study: &Study) -> Result<(), StudyError> {
    for c in &study.cells {
        super::check(&c.config).map_err(|error| StudyError::Cell {
            study: study.name.clone(),
            cell: c.label.clone(),
            error,
        })?;
    }
    Ok(())
}

/// The tasks to run now: those pending in the store.
pub fn pending(study: &Study, store: &Store) -> Result<Vec<(Task, TaskState)>, StudyError> {
    let mut runs = store.study_runs(&study.name)?;
    // Runs whose writer died are recorded as interrupted (or failed) before planning.
    store.settle(runs.iter_mut());
    Ok(study.states(&runs))
}

/// What [`claim`] found.
pub enum Claim {
    /// The task is this process's until the claim is dropped: run it.
    Mine(TaskClaim),
    /// Someone else has it, or it is finished: why, for messages.
    Taken(String),
}

/// Claims a task before it starts and reads its state from the store again: a task another
/// process is running (its claim is held, or its run is live) or finished meanwhile is not
/// run twice. Holders that died release their claims with their process.
pub fn claim(store: &Store, study: &Study, task: Task) -> Result<Claim, StoreError> {
    let Some(held) = store.claim_task(study, task)? else {
        return Ok(Claim::Taken("another process is running it".into()));
    };
    let runs = store.study_runs(&study.name)?;
    let state = study
        .states(&runs)
        .into_iter()
        .find(|(t, _)| *t == task)
        .map(|(_, s)| s);
    Ok(match state {
        Some(TaskState::Done { run }) => {
            Claim::Taken(format!("finished meanwhile (run {})", run.record.id))
        }
        Some(TaskState::Running { id }) => Claim::Taken(format!("running elsewhere (run {id})")),
        _ => Claim::Mine(held),
    })
}

/// Runs one task in this thread: creates its run, trains, records. Returns the run id and how
/// it ended.
pub fn run_one(
    store: &Store,
    study: &Study,
    task: Task,
    threads: usize,
    stop: &AtomicBool,
    mut on_started: impl FnMut(&str),
) -> Result<(String, Outcome, BTreeMap<ScorerKind, f64>), StoreError> {
    let mut config = study.task_config(task);
    config.train.threads = threads;
    let mut writer =
        store.create_study_run(&config, &study.run_name(task), study.study_ref(task))?;
    let id = writer.id().to_string();
    store.edit_tags(&id, &study.tags(task), &[])?;
    on_started(&id);
    let handle = train::spawn(
        config,
        JobOptions {
            model_dir: Some(writer.dir().to_path_buf()),
            dataset: None,
        },
    );
    let mut tally = Tally::default();
    let sinks: &mut [&mut dyn EventSink] = &mut [&mut writer, &mut tally];
    let report = drive(handle, sinks, Some(stop));
    let auc = tally
        .seeds
        .first()
        .map(|s| s.auc.clone())
        .unwrap_or_default();
    Ok((id, report.outcome, auc))
}

/// Runs the study's pending tasks on `opts.jobs` workers; `sink` gets every [`StudyEvent`] on
/// the calling thread. Returns when the queue is empty or `stop` is set (runs in progress stop
/// at their next batch and are kept as interrupted).
pub fn run_queue(
    store: &Store,
    study: &Study,
    opts: QueueOptions,
    stop: &AtomicBool,
    sink: &mut dyn FnMut(StudyEvent),
) -> Result<(), StudyError> {
    check_cells(study)?;
    store.save_study_file(study)?;
    let states = pending(study, store)?;
    let done = states.iter().filter(|(_, s)| s.is_done()).count();
    let running = states
        .iter()
        .filter(|(_, s)| matches!(s, TaskState::Running { .. }))
        .count();
    let queue: VecDeque<Task> = states
        .iter()
        .filter(|(_, s)| s.is_pending())
        .map(|(t, _)| *t)
        .collect();
    let cores = match opts.threads {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        n => n,
    };
    let jobs = opts.jobs.clamp(1, queue.len().max(1));
    let per_job = (cores / jobs).max(1);
    sink(StudyEvent::Started {
        total: states.len(),
        done,
        running,
        queued: queue.len(),
        jobs,
        threads_per_job: per_job,
    });
    let queue = Arc::new(Mutex::new(queue));
    let (tx, rx) = mpsc::channel::<StudyEvent>();
    let (mut finished, mut failed) = (0, 0);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let queue = queue.clone();
            let tx = tx.clone();
            scope.spawn(move || loop {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Some(task) = queue.lock().ok().and_then(|mut q| q.pop_front()) else {
                    break;
                };
                let _claim = match claim(store, study, task) {
                    Ok(Claim::Mine(c)) => c,
                    Ok(Claim::Taken(reason)) => {
                        let _ = tx.send(StudyEvent::TaskSkipped { task, reason });
                        continue;
                    }
                    Err(e) => {
                        let _ = tx.send(StudyEvent::TaskError {
                            task,
                            message: e.to_string(),
                        });
                        continue;
                    }
                };
                let t0 = Instant::now();
                let started = |id: &str| {
                    let _ = tx.send(StudyEvent::TaskStarted {
                        task,
                        run_id: id.to_string(),
                    });
                };
                match run_one(store, study, task, per_job, stop, started) {
                    Ok((run_id, outcome, auc)) => {
                        let _ = tx.send(StudyEvent::TaskFinished {
                            task,
                            run_id,
                            outcome,
                            auc,
                            seconds: t0.elapsed().as_secs_f32(),
                        });
                    }
                    Err(e) => {
                        let _ = tx.send(StudyEvent::TaskError {
                            task,
                            message: e.to_string(),
                        });
                    }
                }
            });
        }
        drop(tx);
        for ev in rx {
            match &ev {
                StudyEvent::TaskFinished { outcome, .. } => match outcome {
                    Outcome::Finished => finished += 1,
                    Outcome::Failed { .. } => failed += 1,
                    Outcome::Interrupted => {}
                },
                StudyEvent::TaskError { .. } => failed += 1,
                _ => {}
            }
            sink(ev);
        }
    });
    sink(StudyEvent::Finished {
        finished,
        failed,
        stopped: stop.load(Ordering::SeqCst),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::profiles::{ProfileDirs, Shipped};
    use crate::store::RunStatus;
    use std::path::Path;

    fn setup(root: &Path) -> (Store, Study) {
        let shipped = root.join("shipped");
        std::fs::create_dir_all(&shipped).unwrap();
        std::fs::write(
            shipped.join("tiny.toml"),
            "description = \"tiny\"\n[data]\ndataset = \"synthetic\"\nnormal = \"plus\"\n\
             anomalous = \"cross\"\nreference_count = 300\nnormal_train_count = 100\n\
             [model]\nwidths = [4, 8]\nembedding_dim = 8\n[train]\nepochs = 1\nbatch_size = 64\n\
             [score]\nscorers = [\"knn-cosine\"]\n",
        )
        .unwrap();
        let dirs = ProfileDirs {
            local: root.join("local"),
            user: root.join("user"),
            shipped: Shipped::Dir(shipped),
        };
        let text =
            "base = \"tiny\"\nseeds = 2\n[grid]\n\"head.kind\" = [\"arcface\", \"cosface\"]\n";
        let study = Study::parse("t", text, Path::new("t.toml"), &dirs).unwrap();
        (
            Store::with_dirs(root.join("home"), root.join("config")),
            study,
        )
    }

    #[test]
    fn a_study_runs_its_tasks_once_and_resumes() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, study) = setup(tmp.path());
        let stop = AtomicBool::new(false);
        let mut events = Vec::new();
        let opts = QueueOptions {
            jobs: 2,
            threads: 2,
        };
        run_queue(&store, &study, opts, &stop, &mut |e| events.push(e)).unwrap();
        assert!(matches!(
            events[0],
            StudyEvent::Started {
                total: 4,
                done: 0,
                queued: 4,
                jobs: 2,
                threads_per_job: 1,
                ..
            }
        ));
        let finished = events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    StudyEvent::TaskFinished {
                        outcome: Outcome::Finished,
                        ..
                    }
                )
            })
            .count();
        assert_eq!(finished, 4, "{events:?}");
        let runs = store.study_runs("t").unwrap();
        assert_eq!(runs.len(), 4);
        assert!(runs.iter().all(|r| r.status == RunStatus::Finished));
        assert!(runs
            .iter()
            .all(|r| r.record.tags.contains(&"study:t".to_string())));
        // Seeds 0 and 1 of each cell.
        let mut seeds: Vec<(String, u64)> = runs
            .iter()
            .map(|r| {
                (
                    r.record.config.head.kind.to_string(),
                    r.record.config.train.seed,
                )
            })
            .collect();
        seeds.sort();
        assert_eq!(
            seeds,
            [
                ("arcface".into(), 0),
                ("arcface".into(), 1),
                ("cosface".into(), 0),
                ("cosface".into(), 1)
            ]
        );
        // Again: nothing to do.
        let mut again = Vec::new();
        run_queue(&store, &study, opts, &stop, &mut |e| again.push(e)).unwrap();
        assert!(matches!(
            again[0],
            StudyEvent::Started {
                done: 4,
                queued: 0,
                ..
            }
        ));
        assert_eq!(store.study_runs("t").unwrap().len(), 4);
        // An interrupted task is queued again; the finished ones are not.
        let victim = runs[0].record.id.clone();
        let p = store.runs_dir().join(&victim).join("run.toml");
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(
            &p,
            text.replacen("status = \"finished\"", "status = \"interrupted\"", 1),
        )
        .unwrap();
        let mut third = Vec::new();
        run_queue(&store, &study, opts, &stop, &mut |e| third.push(e)).unwrap();
        assert!(matches!(
            third[0],
            StudyEvent::Started {
                done: 3,
                queued: 1,
                ..
            }
        ));
        assert_eq!(store.study_runs("t").unwrap().len(), 5);
        let states = pending(&study, &store).unwrap();
        assert!(states.iter().all(|(_, s)| s.is_done()));
    }

    #[test]
    fn a_stopped_study_runs_nothing_more() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, study) = setup(tmp.path());
        let stop = AtomicBool::new(true);
        let mut events = Vec::new();
        let opts = QueueOptions {
            jobs: 1,
            threads: 1,
        };
        run_queue(&store, &study, opts, &stop, &mut |e| events.push(e)).unwrap();
        assert!(matches!(
            events.last(),
            Some(StudyEvent::Finished {
                finished: 0,
                stopped: true,
                ..
            })
        ));
        assert!(store.study_runs("t").unwrap().is_empty());
    }
}
