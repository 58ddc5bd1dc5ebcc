//! Train: the live screen as events arrive (idle, live, finished, failed, diverged), ETA and
//! progress, stopping and quitting while a job runs.

use super::*;

#[test]
fn snapshot_train_idle() {
    let mut l = lab();
    l.ch('2');
    snapshot!("snapshot_train_idle", l.render(80, 24));
}

#[test]
fn snapshot_train_live() {
    let l = started_lab(repeated_config());
    snapshot!("snapshot_train_live", l.render(80, 24));
}

#[test]
fn snapshot_train_live_large() {
    let l = started_lab(repeated_config());
    snapshot!("snapshot_train_live_large", l.render(120, 36));
}

#[test]
fn snapshot_train_finished() {
    let mut c = pinned();
    c.train.epochs = 4;
    let mut l = lab();
    l.app.form.load(c.clone(), "p");
    l.ch('r');
    let evs: Vec<(f64, Event)> = scripted_events(&c)
        .into_iter()
        .take_while(|(_, e)| !matches!(e, Event::SeedStarted { index: 1, .. }))
        .collect();
    for (t, ev) in evs {
        l.script.send(ev);
        l.tick_at(t);
    }
    l.script.send(Event::Finished {
        outcome: Outcome::Finished,
    });
    l.tick_at(43.0);
    snapshot!("snapshot_train_finished", l.render(80, 24));
}

#[test]
fn second_start_while_running_is_refused() {
    let mut l = started_lab(repeated_config());
    l.ch('1');
    l.ch('r');
    assert_eq!(l.script.launched.borrow().len(), 1);
    assert_eq!(l.app.tab, Tab::Setup);
}

#[test]
fn live_state_follows_events() {
    let l = started_lab(repeated_config());
    let live = l.app.live.as_ref().unwrap();
    assert_eq!(live.seed_index, 1);
    assert_eq!(live.epochs().len(), 1);
    assert_eq!(live.seed_aucs()[0].1, Some(0.911));
    assert_eq!(
        live.auc_now_best(ScorerKind::KnnCosine),
        Some((0.874, 0.874, 1))
    );
    // 1 of 3 seeds done, plus 1 epoch (and its evaluation) and 100/141 batches of the
    // second epoch; a seed is 4 epochs and its evaluations (in batch-equivalents).
    let p = &live.progress;
    let eval = p.eval_images as f64 * p.eval_weight;
    assert!(eval > 0.0);
    let per_seed = 4.0 * 141.0 + p.evals_per_seed as f64 * eval;
    let expect = (1.0 + (141.0 + 100.0 + p.evals_done as f64 * eval) / per_seed) / 3.0;
    assert!((live.job_fraction() - expect).abs() < 1e-9);
    // The ETA is the rate since the first batch report (t = 7 s, epoch 1 batch 70/141), as
    // the headless bar's (job::JobProgress): not measured from the first epoch's end.
    let first = 70.0 / per_seed / 3.0;
    let eta = live.eta(l.base + Duration::from_secs(57)).unwrap();
    let want = 50.0 * (1.0 - expect) / (expect - first);
    assert!((eta.as_secs_f64() - want).abs() < 1e-6);
    assert!(live.logs.iter().any(|x| x.text.contains("duplicate")));
}

#[test]
fn eta_waits_for_the_first_epoch() {
    let mut l = lab();
    l.ch('r');
    let c = l.app.form.config.clone();
    for (t, ev) in scripted_events(&c).into_iter().take(4) {
        l.script.send(ev);
        l.tick_at(t);
    }
    let live = l.app.live.as_ref().unwrap();
    assert!(live.epochs().is_empty());
    assert_eq!(live.eta(l.base + Duration::from_secs(10)), None);
}

#[test]
fn finish_and_fail() {
    let mut l = started_lab(repeated_config());
    l.script.send(Event::Finished {
        outcome: Outcome::Finished,
    });
    l.tick_at(100.0);
    assert!(!l.app.run_active());
    assert_eq!(l.app.live.as_ref().unwrap().job_fraction(), 1.0);
    assert_eq!(l.app.live.as_ref().unwrap().eta(l.base), None);

    let mut l = started_lab(repeated_config());
    l.script.send(Event::Finished {
        outcome: Outcome::Failed {
            reason: "NaN loss".into(),
        },
    });
    l.tick_at(100.0);
    assert_eq!(l.app.live.as_ref().unwrap().state_label(), "failed");
    assert!(l.app.status.as_ref().unwrap().text.contains("NaN loss"));
    assert!(l.render(80, 24).contains("failed: NaN loss"));
}

#[test]
fn a_vanished_job_counts_as_failed() {
    let mut l = started_lab(repeated_config());
    l.script.hang_up();
    l.tick_at(70.0);
    assert!(!l.app.run_active());
    assert_eq!(l.app.live.as_ref().unwrap().state_label(), "failed");
}

#[test]
fn quit_asks_while_running_and_waits_for_the_job() {
    let mut l = started_lab(repeated_config());
    l.ch('q');
    assert!(matches!(
        l.app.popup,
        Some(Popup::Confirm(ConfirmKind::Quit))
    ));
    l.key(KeyCode::Esc);
    assert!(!l.app.should_quit);
    l.ch('q');
    l.ch('y');
    assert!(l.script.cancelled.load(Ordering::SeqCst));
    assert!(l.app.quitting.is_some());
    assert!(!l.app.should_quit);
    assert!(l.render(80, 24).contains("Stopping the run"));
    l.script.send(Event::Finished {
        outcome: Outcome::Interrupted,
    });
    l.tick_at(70.0);
    assert!(l.app.should_quit);
}

#[test]
fn quit_when_idle_is_immediate_and_signals_stop_cleanly() {
    let mut l = lab();
    l.ch('q');
    assert!(l.app.should_quit);

    let mut l = started_lab(repeated_config());
    l.app.shutdown();
    assert!(l.script.cancelled.load(Ordering::SeqCst));
    assert!(!l.app.should_quit);
    // A second q while waiting leaves at once.
    l.ch('q');
    assert!(l.app.should_quit);

    // Ctrl-C behaves like a signal; if the job never answers, the wait is bounded.
    let mut l = started_lab(repeated_config());
    l.app
        .on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(l.app.quitting.is_some());
    l.tick_at(57.0 + QUIT_WAIT.as_secs_f64() + 1.0);
    assert!(l.app.should_quit);
}

#[test]
fn diverged_losses_do_not_break_the_charts() {
    let mut c = Config::default();
    c.train.epochs = 3;
    let mut l = lab();
    l.app.form.load(c.clone(), "p");
    l.ch('r');
    l.script.send(Event::SeedStarted { index: 0, seed: 0 });
    l.script.send(Event::Epoch(epoch(1, 1.0, 0.5, 2.9, &[])));
    l.script
        .send(Event::Epoch(epoch(2, f32::NAN, 0.1, f32::INFINITY, &[])));
    l.tick_at(5.0);
    let screen = l.render(80, 24);
    assert!(screen.contains("loss"));
}

// ---- per-batch curves, the queue, followed runs, studies, signals ------------------------

/// The events of a run's first 70 of 141 batches of epoch 1: a report every 5 batches, the
/// loss falling and the accuracy rising with some noise, 0.25 s apart.
fn first_batches(c: &Config) -> Vec<(f64, Event)> {
    let mut v = vec![
        (
            0.0,
            Event::Started {
                config: Box::new(c.clone()),
                seeds: c.seeds(),
                device: "cpu".into(),
                threads: 2,
            },
        ),
        (
            1.0,
            Event::DataReady {
                train: 9000,
                normal_train: 1000,
                test: 2000,
                classes: 9,
                test_anomalous: 1000,
            },
        ),
        (1.0, Event::SeedStarted { index: 0, seed: 0 }),
    ];
    for i in 1..=14 {
        let f = i as f32 / 14.0;
        let noise = if i % 2 == 0 { 0.06 } else { -0.06 };
        v.push((
            1.0 + 0.25 * i as f64,
            Event::Progress {
                epoch: 1,
                batch: 5 * i,
                batches: 141,
                images_per_sec: 1280.0,
                loss: 2.2 - 1.2 * f + noise,
                accuracy: 0.2 + 0.5 * f - noise,
            },
        ));
    }
    v
}

pub(super) fn mid_epoch_lab(c: Config) -> Lab {
    let mut l = lab();
    l.app
        .form
        .load(c.clone(), "fashion-sneaker-boot-adacos-fixed");
    l.ch('r');
    assert_eq!(l.app.tab, Tab::Train);
    for (t, ev) in first_batches(&c) {
        l.script.send(ev);
        l.tick_at(t);
    }
    l
}

#[test]
fn per_batch_curves_show_during_the_first_epoch() {
    let mut c = pinned();
    c.train.epochs = 3;
    let mut l = mid_epoch_lab(c);
    let live = l.app.live.as_ref().unwrap();
    assert_eq!(live.curve.len(), 14);
    assert!(live.epochs().is_empty());
    // The ETA comes from the first batches: 65 batches in 3.25 s; to go, the 423 - 70
    // batches and the evaluations (their images in batch-equivalents).
    let p = &live.progress;
    assert_eq!(p.evals_per_seed, 3);
    assert_eq!(p.eval_images, p.views * 3000);
    let work = 423.0 + 3.0 * p.eval_images as f64 * p.eval_weight;
    assert!(work > 423.0);
    let eta = live.eta(l.base + Duration::from_secs_f64(4.5)).unwrap();
    let want = 3.25 * (work - 70.0) / 65.0;
    assert!((eta.as_secs_f64() - want).abs() < 1e-6, "{eta:?} {want}");
    let screen = l.render(80, 24);
    assert!(!screen.contains("waiting for the first epoch"), "{screen}");
    let shown = crate::job::format_duration(Duration::from_secs_f64(want));
    assert!(screen.contains(&format!("ETA {shown}")), "{screen}");
    snapshots!("train_batches_mid_epoch1", &mut l);
}

#[test]
fn the_smoothed_curve_follows_the_raw_one() {
    let mut c = pinned();
    c.train.epochs = 3;
    let l = mid_epoch_lab(c);
    let live = l.app.live.as_ref().unwrap();
    let (raw, smooth) = live.curve_series(|p| p.loss);
    assert_eq!(raw.len(), smooth.len());
    // Debiased: the first smoothed point is the first raw one.
    assert!((raw[0].1 - smooth[0].1).abs() < 1e-9);
    // Smoother: the raw curve zigzags, the smoothed one falls (almost) steadily.
    let ups = |v: &[(f64, f64)]| v.windows(2).filter(|w| w[1].1 > w[0].1).count();
    assert!(ups(&raw) >= 6 && ups(&smooth) <= 1, "{raw:?} {smooth:?}");
}

#[test]
fn the_curve_stays_bounded() {
    let c = pinned();
    let mut live = crate::tui::train::live::Live::new(c, "p".into(), None, Instant::now());
    let t = Instant::now();
    for i in 0..(3 * crate::tui::train::live::CURVE_CAP) {
        live.apply(
            &Event::Progress {
                epoch: 1 + i / 1000,
                batch: 1 + i % 1000,
                batches: 1000,
                images_per_sec: 1.0,
                loss: 1.0,
                accuracy: 0.5,
            },
            t,
        );
    }
    assert!(live.curve.len() <= crate::tui::train::live::CURVE_CAP);
    assert!(live.curve.windows(2).all(|w| w[0].x < w[1].x));
    // Merged points stand for the batches they merged.
    let total: u32 = live.curve.iter().map(|p| p.weight).sum();
    assert_eq!(total as usize, 3 * crate::tui::train::live::CURVE_CAP);
}

#[test]
fn transform_labels_name_the_accuracy() {
    let mut c = pinned();
    c.train.epochs = 3;
    c.transforms.labels = crate::config::LabelMode::Transform;
    c.transforms.rotations = vec![0, 90, 180, 270];
    let mut l = mid_epoch_lab(c);
    assert!(l.render(120, 40).contains("transform accuracy 0.573"));
    // At 80 columns the name is shortened, the number kept whole.
    assert!(l.render(80, 24).contains("transform accur… 0.573"));
    snapshots!("train_transform_accuracy", &mut l);
}

#[test]
fn starting_while_a_run_trains_queues_it() {
    let mut c = pinned();
    c.train.epochs = 3;
    let mut l = mid_epoch_lab(c);
    // Two more runs from Setup: ArcFace, then CosFace.
    l.ch('1');
    l.focus(Field::Head);
    l.key(KeyCode::Left);
    l.key(KeyCode::Left);
    assert_eq!(l.app.form.config.head.kind, HeadKind::Arcface);
    l.ch('r');
    assert_eq!(l.app.queue.len(), 1);
    assert!(l.app.status.as_ref().unwrap().text.contains("queued #1"));
    l.focus(Field::Head);
    l.key(KeyCode::Right);
    l.key(KeyCode::Enter);
    assert_eq!(l.app.queue.len(), 2);
    assert_eq!(l.script.launched.borrow().len(), 1);
    assert_eq!(l.app.tab, Tab::Setup);
    l.ch('2');
    snapshots!("train_queue_two", &mut l);
    // The first run ends (its channel closes after the final event, as the recorder thread
    // ends): the next one starts, the last waits.
    l.script.send(Event::Finished {
        outcome: Outcome::Finished,
    });
    l.script.hang_up();
    l.tick_at(10.0);
    let launched = l.script.launched.borrow().clone();
    assert_eq!(launched.len(), 2);
    assert_eq!(launched[1].0.head.kind, HeadKind::Arcface);
    assert_eq!(
        launched[1].1,
        "fashion-sneaker-boot-adacos-fixed · head=arcface"
    );
    assert_eq!(l.app.queue.len(), 1);
    assert!(l.app.run_active());
    // x drops the last queued run.
    l.ch('x');
    assert!(l.app.queue.is_empty());
    l.script.send(Event::Finished {
        outcome: Outcome::Failed {
            reason: "NaN loss".into(),
        },
    });
    l.tick_at(11.0);
    assert_eq!(l.script.launched.borrow().len(), 2);
    assert!(!l.app.busy());
}

#[test]
fn quitting_drops_the_queue() {
    let mut l = mid_epoch_lab(pinned());
    l.ch('1');
    l.ch('r');
    assert_eq!(l.app.queue.len(), 1);
    // Asking to quit says that the queued run will not start.
    l.ch('q');
    assert!(l.render(120, 40).contains("The queued run is not started."));
    l.key(KeyCode::Esc);
    l.app.shutdown();
    assert!(l.app.queue.is_empty());
    l.script.send(Event::Finished {
        outcome: Outcome::Interrupted,
    });
    l.tick_at(10.0);
    assert!(l.app.should_quit);
    assert_eq!(l.script.launched.borrow().len(), 1);
}

#[test]
fn a_too_small_screen_takes_only_quit() {
    let mut l = runs_lab();
    l.app.size = Some((40, 10));
    let sort = l.app.runs.sort;
    l.ch('o');
    assert_eq!(l.app.runs.sort, sort);
    l.app.runs.select_id("20261129T230000Z-cccc");
    l.ch('x');
    assert!(l.app.popup.is_none());
    l.ch('y');
    assert_eq!(l.app.runs.rows.len(), 4);
    l.ch('1');
    assert_eq!(l.app.tab, Tab::Runs);
    assert!(l.render(40, 10).contains("Terminal too small"));
    l.ch('q');
    assert!(l.app.should_quit);

    // During a run q asks as usual, and the answer is taken.
    let mut l = started_lab(repeated_config());
    l.app.size = Some((60, 20));
    l.ch('s');
    assert!(l.app.popup.is_none());
    l.ch('q');
    assert!(matches!(
        l.app.popup,
        Some(Popup::Confirm(ConfirmKind::Quit))
    ));
    l.ch('y');
    assert!(l.script.cancelled.load(Ordering::SeqCst));
    // Back to a usable size: keys work again.
    l.app.size = Some((80, 24));
    l.ch('q');
    assert!(l.app.should_quit);
}

#[test]
fn a_signal_is_reported_as_what_stopped_the_lab() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let l = lab();
    assert_eq!(l.app.stopped_by(), None);
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        let mut l = lab();
        l.app.on_signal(sig);
        assert!(l.app.should_quit);
        assert_eq!(l.app.stopped_by(), Some(sig));
    }
    // During a run: the job is stopped and waited for; the code is the signal's.
    let mut l = started_lab(repeated_config());
    l.app.on_signal(SIGTERM);
    assert!(l.script.cancelled.load(Ordering::SeqCst));
    assert!(!l.app.should_quit);
    l.script.send(Event::Finished {
        outcome: Outcome::Interrupted,
    });
    l.tick_at(70.0);
    assert!(l.app.should_quit);
    assert_eq!(l.app.stopped_by(), Some(SIGTERM));
}

#[test]
fn the_evaluation_shows_as_a_phase_and_counts_in_the_eta() {
    let mut c = pinned();
    c.train.epochs = 2;
    let mut l = mid_epoch_lab(c);
    l.script.send(Event::Progress {
        epoch: 1,
        batch: 141,
        batches: 141,
        images_per_sec: 1280.0,
        loss: 1.0,
        accuracy: 0.7,
    });
    l.tick_at(8.0);
    // 8 views of 3,000 images: the first two done, the third half-way.
    let mut before = 0.0;
    let mut eta_before = None;
    for (t, images, view) in [(8.0, 0, 1), (9.0, 6000, 3), (9.5, 7500, 3)] {
        if images > 0 && before == 0.0 {
            // Once the evaluation's size is known.
            let live = l.app.live.as_ref().unwrap();
            before = live.job_fraction();
            eta_before = live.eta(l.base + Duration::from_secs(8));
        }
        l.script.send(Event::Evaluating {
            epoch: 1,
            view,
            views: 8,
            images,
            total: 24000,
        });
        l.tick_at(t);
    }
    let live = l.app.live.as_ref().unwrap();
    assert_eq!(live.evaluating.map(|e| (e.view, e.images)), Some((3, 7500)));
    // The bar moves on while evaluating, and is not done: the rest is still to come.
    assert!(live.job_fraction() > before, "{before}");
    assert!(live.job_fraction() < 0.75);
    assert!(eta_before.is_some());
    assert!(live.eta(l.base + Duration::from_secs_f64(9.5)).is_some());
    let screen = l.render(80, 24);
    assert!(screen.contains("evaluating epoch 1 (view 3/8)"), "{screen}");
    assert!(!screen.contains("measuring"), "{screen}");
    snapshots!("train_evaluating", &mut l);
    // The evaluation's end closes the phase.
    l.script.send(Event::Evaluated {
        epoch: 1,
        auc: [(ScorerKind::KnnCosine, 0.9)].into_iter().collect(),
    });
    l.tick_at(10.0);
    assert_eq!(l.app.live.as_ref().unwrap().evaluating, None);
    assert!(!l.render(80, 24).contains("evaluating epoch"));
}

#[test]
fn the_log_breaks_between_words_never_inside_a_number_or_an_id() {
    use crate::tui::train::live::{LogLevel, LogLine};
    let mut l = started_lab(repeated_config());
    let live = l.app.live.as_mut().unwrap();
    for text in [
        "data ready: 9000 training images (1000 normal), 2000 test, 72 classes",
        "seed 1 finished: knn-cosine 0.911, lof 0.893, ensemble 0.936 → 20261206T064944Z-91fm",
        "cache: /home/someone/.cache/adalab/fashion-mnist/embeddings-of-every-view.bin",
    ] {
        live.logs.push(LogLine {
            level: LogLevel::Info,
            text: text.into(),
        });
    }
    for (w, h) in [(80, 24), (120, 40)] {
        let screen = l.render(w, h);
        for whole in ["classes", "0.936", "20261206T064944Z-91fm", "0.911,"] {
            assert!(screen.contains(whole), "{whole} at {w}×{h}:\n{screen}");
        }
        // The path, longer than a line, is cut with `…` rather than split.
        assert!(screen.contains("/home/someone/.cache/"), "{screen}");
        assert!(!screen.contains("every-view.bin"), "{screen}");
    }
    snapshots!("train_log_wrapped", &mut l);
}
