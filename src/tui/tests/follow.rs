//! Train following a run from the store (another process's run, a study the lab runs).

use super::*;

/// A run another process trains: `run.toml` (running, on another host, a heartbeat that stays
/// fresh) and its `metrics.csv`, 2 of 3 seeds' worth: seed 0 done, seed 1 in epoch 2.
const FOLLOWED: &str = "20261130T015800Z-node";

fn write_followed_run(store: &Store, points: usize) {
    use crate::store::metrics::{BatchPoint, MetricsLog};
    let mut r = record(FOLLOWED, 0, HeadKind::AdacosFixed, &[(0.912, 0.893)], &[]);
    r.created = Timestamp(WALL.0 - 120);
    r.status = RunStatus::Running;
    r.finished = None;
    r.host = "node-7".into();
    r.pid = 4242;
    // 2100-01-01: never stale.
    r.heartbeat = Timestamp(4_102_444_800);
    r.profile = "fashion-sneaker-boot-adacos-fixed".into();
    r.config.train.epochs = 3;
    r.config.run.repeat = 2;
    r.planned_seeds = vec![0, 1];
    r.seeds[0].epochs.truncate(3);
    let mut s1 = seed_record(1, 1, 0.884, 0.861, 1);
    s1.status = RunStatus::Running;
    s1.result = None;
    r.seeds.push(s1);
    write_run(store, &r, false);
    let dir = store.runs_dir().join(FOLLOWED);
    let mut m = MetricsLog::create(&dir).unwrap();
    let mut n = 0;
    'out: for seed in 0..2usize {
        let epochs = if seed == 0 { 3 } else { 2 };
        for epoch in 1..=epochs {
            for b in (10..=100).step_by(10) {
                if n == points {
                    break 'out;
                }
                let x = seed as f32 * 3.0 + (epoch - 1) as f32 + b as f32 / 100.0;
                m.append(&BatchPoint {
                    seed,
                    epoch,
                    batch: b,
                    batches: 100,
                    loss: 1.6 / (1.0 + x) + if n % 2 == 0 { 0.05 } else { 0.0 },
                    accuracy: 0.4 + 0.1 * x,
                    images_per_sec: 950.0,
                    ms: 1000 * n as u64,
                })
                .unwrap();
                n += 1;
            }
        }
    }
}

pub(super) fn attached_lab() -> Lab {
    let (store, dir) = temp_store();
    write_followed_run(&store, 45);
    let mut l = lab_with(Some((store, dir)), Script::default());
    l.tick_at(100.0);
    l.ch('3');
    l.app.runs.select_id(FOLLOWED);
    assert_eq!(l.app.runs.selected_row().unwrap().status, "running");
    l.key(KeyCode::Enter);
    l
}

#[test]
fn enter_on_a_running_run_follows_it_from_the_store() {
    let mut l = attached_lab();
    assert_eq!(l.app.tab, Tab::Train);
    let f = l.app.follow.as_ref().expect("attached");
    assert_eq!((f.pid, f.host.as_str()), (4242, "node-7"));
    let live = f.live.as_ref().unwrap();
    // Seed 1 in progress: its 15 points (epoch 1 and half of epoch 2), seed 0's results.
    assert_eq!(live.seed_index, 1);
    assert_eq!(live.curve.len(), 15);
    assert_eq!(live.seed_aucs()[0].1, Some(0.912));
    assert!(live.is_active());
    // Fraction from the batches and evaluations: seed 0 whole, 1.5 of seed 1's 3 epochs
    // and the evaluations done in it.
    let p = &live.progress;
    let (batches, eval) = (p.batches as f64, p.eval_images as f64 * p.eval_weight);
    let per_seed = 3.0 * batches + p.evals_per_seed as f64 * eval;
    let done = 1.5 * batches + p.evals_done as f64 * eval;
    assert!((live.job_fraction() - (1.0 + done / per_seed) / 2.0).abs() < 1e-9);
    let screen = l.render(80, 24);
    assert!(screen.contains("following 20261130T015800Z-node (pid 4242 on node-7)"));
    snapshots!("train_attached", &mut l);

    // s does not stop another process's run.
    l.ch('s');
    assert!(l.app.popup.is_none());
    assert!(l
        .app
        .status
        .as_ref()
        .unwrap()
        .text
        .contains("another process"));
    assert!(!l.script.cancelled.load(Ordering::SeqCst));

    // The writer appends: the next poll (a second later) picks it up.
    let st = l.app.store.clone().unwrap();
    write_followed_run(&st, 50);
    l.tick_at(100.5);
    assert_eq!(
        l.app
            .follow
            .as_ref()
            .unwrap()
            .live
            .as_ref()
            .unwrap()
            .curve
            .len(),
        15
    );
    l.tick_at(101.5);
    assert_eq!(
        l.app
            .follow
            .as_ref()
            .unwrap()
            .live
            .as_ref()
            .unwrap()
            .curve
            .len(),
        20
    );

    // It ends: the view says so.
    let p = st.runs_dir().join(FOLLOWED).join(crate::store::RUN_FILE);
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(
        &p,
        text.replacen("status = \"running\"", "status = \"finished\"", 1),
    )
    .unwrap();
    l.tick_at(103.0);
    assert_eq!(
        l.app.follow.as_ref().unwrap().status,
        Some(RunStatus::Finished)
    );

    // Esc leaves it; so does another screen.
    l.key(KeyCode::Esc);
    assert!(l.app.follow.is_none());
    l.ch('3');
    l.app.runs.select_id(FOLLOWED);
    l.ch('R');
}

#[test]
fn another_screen_leaves_a_followed_run() {
    let mut l = attached_lab();
    assert!(l.app.follow.is_some());
    l.ch('1');
    assert!(l.app.follow.is_none());
    l.ch('2');
    assert!(l.render(80, 24).contains("No run yet"));
}

/// A study started from Setup (the synthetic one), its first task done and the second one
/// training (followed from the store).
pub(super) fn study_lab() -> Lab {
    let (store, dir) = temp_store();
    let mut l = lab_with(Some((store, dir)), Script::default());
    l.ch('S');
    let Some(Popup::Studies(p)) = &l.app.popup else {
        panic!("no study picker: {:?}", l.app.status);
    };
    let pos = p
        .entries
        .iter()
        .position(|e| e.0 == "synthetic-study")
        .unwrap();
    if let Some(Popup::Studies(p)) = &mut l.app.popup {
        p.cursor = pos;
    }
    l.key(KeyCode::Enter);
    assert_eq!(
        *l.script.studies.borrow(),
        vec!["synthetic-study".to_string()]
    );
    assert_eq!(l.app.tab, Tab::Train);
    assert!(l.app.busy());
    use crate::job::study::StudyEvent;
    use crate::store::studies::Task;
    let st = l.app.store.clone().unwrap();
    l.script.send_study(StudyUpdate::Event(StudyEvent::Started {
        total: 4,
        done: 0,
        running: 0,
        queued: 4,
        jobs: 1,
        threads_per_job: 2,
    }));
    l.script
        .send_study(StudyUpdate::Event(StudyEvent::TaskStarted {
            task: Task {
                cell: 0,
                seed_index: 0,
            },
            run_id: "20261130T014000Z-st01".into(),
        }));
    l.tick_at(10.0);
    l.script
        .send_study(StudyUpdate::Event(StudyEvent::TaskFinished {
            task: Task {
                cell: 0,
                seed_index: 0,
            },
            run_id: "20261130T014000Z-st01".into(),
            outcome: Outcome::Finished,
            auc: [(ScorerKind::KnnCosine, 0.934), (ScorerKind::Lof, 0.902)]
                .into_iter()
                .collect(),
            seconds: 14.0,
        }));
    // The second task: its run as the worker writes it.
    write_followed_run(&st, 45);
    l.script
        .send_study(StudyUpdate::Event(StudyEvent::TaskStarted {
            task: Task {
                cell: 0,
                seed_index: 1,
            },
            run_id: FOLLOWED.into(),
        }));
    l.tick_at(24.0);
    l
}

#[test]
fn a_study_runs_from_setup_and_shows_its_progress() {
    use crate::job::study::StudyEvent;
    let mut l = study_lab();
    let study = l.app.study.as_ref().unwrap();
    assert_eq!((study.finished, study.queued, study.total), (1, 4, 4));
    assert_eq!(study.current.as_ref().unwrap().number, 2);
    assert!(study
        .log
        .iter()
        .any(|x| x.text.contains("knn-cosine 0.934")));
    let screen = l.render(80, 24);
    assert!(screen.contains("task 2/4"), "{screen}");
    snapshots!("train_study", &mut l);

    // Starting a run meanwhile queues it.
    l.ch('1');
    l.ch('r');
    assert_eq!(l.app.queue.len(), 1);
    assert!(l.script.launched.borrow().is_empty());
    // s stops the study's queue (after asking).
    l.ch('2');
    l.ch('s');
    l.ch('y');
    assert!(l.script.study_cancelled.load(Ordering::SeqCst));
    l.script
        .send_study(StudyUpdate::Event(StudyEvent::Finished {
            finished: 1,
            failed: 0,
            stopped: true,
        }));
    l.tick_at(30.0);
    assert!(l.app.status.as_ref().unwrap().text.contains("stopped"));
    // The queued run starts once the study ended, and the Train screen shows it.
    assert_eq!(l.script.launched.borrow().len(), 1);
    assert!(l.app.run_active());
    assert!(l.app.study.is_none());
}
