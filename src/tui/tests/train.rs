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
    // 1 of 3 seeds done, plus 1 epoch and 100/141 batches of the second epoch.
    let expect = (1.0 + (1.0 + 100.0 / 141.0) / 4.0) / 3.0;
    assert!((live.job_fraction() - expect).abs() < 1e-9);
    let eta = live.eta(l.base + Duration::from_secs(57)).unwrap();
    let want = 55.0 * (1.0 - expect) / expect;
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
