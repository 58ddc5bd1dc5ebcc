//! Popups: the checklists, confirmations (stop, delete), the profile picker and save, the
//! text inputs (tags, note, filter), and Ctrl-C inside a popup.

use super::*;

#[test]
fn snapshot_setup_reference_checklist() {
    let mut l = lab();
    l.focus(Field::Reference);
    l.ch(' ');
    snapshot!("snapshot_setup_reference_checklist", l.render(80, 24));
}

#[test]
fn snapshot_train_stop_confirm() {
    let mut l = started_lab(repeated_config());
    l.ch('s');
    snapshot!("snapshot_train_stop_confirm", l.render(80, 24));
}

#[test]
fn snapshot_delete_confirm() {
    let mut l = runs_lab();
    l.app.runs.select_id("20261129T230000Z-cccc");
    l.ch('x');
    snapshot!("snapshot_delete_confirm", l.render(80, 24));
}

#[test]
fn stop_needs_confirmation() {
    let mut l = started_lab(repeated_config());
    l.ch('s');
    assert!(matches!(
        l.app.popup,
        Some(Popup::Confirm(ConfirmKind::Stop))
    ));
    l.ch('n');
    assert!(l.app.popup.is_none());
    assert!(!l.script.cancelled.load(Ordering::SeqCst));
    l.ch('s');
    l.ch('y');
    assert!(l.script.cancelled.load(Ordering::SeqCst));
    assert!(l.app.live.as_ref().unwrap().stop_requested);
    assert_eq!(l.app.live.as_ref().unwrap().state_label(), "stopping");
    // The job reports its end: the run is kept as interrupted and the screen stays.
    l.script.send(Event::SeedFinished {
        index: 1,
        seed: 1,
        outcome: Outcome::Interrupted,
        evaluation: None,
        summary: crate::score::summarize([&evaluation(0.911, 0.893).auc]),
        identity_summary: Default::default(),
    });
    l.script.send(Event::Finished {
        outcome: Outcome::Interrupted,
    });
    l.tick_at(60.0);
    assert!(!l.app.run_active());
    assert_eq!(l.app.tab, Tab::Train);
    assert_eq!(l.app.live.as_ref().unwrap().state_label(), "interrupted");
    // Progress stays where it stopped: one seed and one epoch of the second.
    let f = l.app.live.as_ref().unwrap().job_fraction();
    assert!(f > 0.4 && f < 0.5, "{f}");
    assert!(l.app.status.as_ref().unwrap().text.contains("interrupted"));
    // Browsable afterwards, and a new run can start.
    l.ch('k');
    l.ch('1');
    l.ch('r');
    assert_eq!(l.script.launched.borrow().len(), 2);
}

#[test]
fn reference_and_scorer_checklists() {
    let mut l = lab();
    l.focus(Field::Reference);
    l.ch(' ');
    // Uncheck the first class (t-shirt/top) and apply.
    l.ch(' ');
    l.key(KeyCode::Enter);
    assert_eq!(l.app.form.reference_classes().len(), 7);
    assert!(l.app.form.config.data.reference.is_some());
    assert!((l.app.form.adacos_scale() - 2f32.sqrt() * 7f32.ln()).abs() < 1e-6);
    // `a` checks all others (the list stays open); Enter applies.
    l.ch(' ');
    l.ch('a');
    l.key(KeyCode::Enter);
    assert!(l.app.form.config.data.reference.is_none());

    l.focus(Field::Scorers);
    l.ch('e');
    l.ch('j');
    l.ch('j');
    l.ch(' ');
    l.key(KeyCode::Enter);
    assert_eq!(
        l.app.form.config.score.scorers,
        vec![
            ScorerKind::KnnCosine,
            ScorerKind::Lof,
            ScorerKind::ClassCosine
        ]
    );
}

#[test]
fn save_and_load_profiles() {
    let mut l = lab_with(Some(temp_store()), Script::default());
    l.ch('w');
    l.key(KeyCode::Backspace);
    l.app.popup = None;
    l.ch('w');
    if let Some(Popup::Input(i)) = &mut l.app.popup {
        i.text.clear();
    }
    l.text("my-exp");
    l.key(KeyCode::Enter);
    assert!(l.app.popup.is_none(), "{:?}", l.app.status);
    let saved = l
        .app
        .store
        .as_ref()
        .unwrap()
        .config_dir()
        .join("profiles/my-exp.toml");
    assert!(saved.is_file());
    // Saving again asks before replacing.
    let e0 = l.app.form.config.train.epochs;
    l.app.form.step(Field::Epochs, 1);
    l.ch('w');
    l.text("my-exp");
    l.key(KeyCode::Enter);
    assert!(matches!(&l.app.popup, Some(Popup::Input(i)) if i.overwrite_armed));
    l.key(KeyCode::Enter);
    assert!(l.app.popup.is_none());
    // Load it back through the picker.
    l.app.form.load(Config::default(), "default");
    l.ch('p');
    let Some(Popup::Profiles(p)) = &l.app.popup else {
        panic!("picker not open");
    };
    let pos = p.entries.iter().position(|e| e.name == "my-exp").unwrap();
    if let Some(Popup::Profiles(p)) = &mut l.app.popup {
        p.cursor = pos;
    }
    l.key(KeyCode::Enter);
    assert_eq!(l.app.form.profile, "my-exp");
    assert_eq!(l.app.form.config.train.epochs, e0 + 1);
}

#[test]
fn runs_tag_note_delete() {
    let mut l = runs_lab();
    l.app.runs.select_id("20261129T220000Z-bbbb");
    l.ch('t');
    l.text("good arcface");
    l.key(KeyCode::Enter);
    let st = l.app.store.clone().unwrap();
    let r = st.load_run("20261129T220000Z-bbbb").unwrap();
    assert_eq!(r.record.tags, vec!["good", "arcface"]);
    assert_eq!(l.app.runs.selected_row().unwrap().tags, "good arcface");
    // Invalid tags stay in the popup with the error.
    l.ch('t');
    l.text(" b@d");
    l.key(KeyCode::Enter);
    assert!(matches!(&l.app.popup, Some(Popup::Input(i)) if i.error.is_some()));
    l.key(KeyCode::Esc);
    l.ch('n');
    l.text("margin 0.5 works");
    l.key(KeyCode::Enter);
    assert_eq!(
        st.load_run("20261129T220000Z-bbbb").unwrap().record.note,
        "margin 0.5 works"
    );
    // Delete asks first.
    l.ch('x');
    l.ch('n');
    assert_eq!(st.list_runs().unwrap().len(), 4);
    l.ch('x');
    l.ch('y');
    assert_eq!(st.list_runs().unwrap().len(), 3);
    assert_eq!(l.app.runs.rows.len(), 3);
}

#[test]
fn filter_input_filters_while_typing() {
    let mut l = runs_lab();
    l.ch('/');
    l.text("arcface");
    assert_eq!(l.app.runs.visible.len(), 1);
    l.key(KeyCode::Esc);
    assert_eq!(l.app.runs.visible.len(), 4);
    assert!(l.app.popup.is_none());
}

#[test]
fn ctrl_c_works_inside_popups() {
    let mut l = started_lab(repeated_config());
    l.ch('s');
    l.app
        .on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(l.script.cancelled.load(Ordering::SeqCst));
    assert!(l.app.quitting.is_some());
    assert!(l.app.popup.is_none());
}

#[test]
fn the_pickers_leave_the_tabs_and_status_lines_alone() {
    let mut l = lab_with(Some(temp_store()), Script::default());
    let before = l.render(80, 24);
    let rows = |s: &str| s.lines().map(String::from).collect::<Vec<_>>();
    for key in ['p', 'S'] {
        l.ch(key);
        assert!(l.app.popup.is_some(), "{key}");
        let after = l.render(80, 24);
        let (b, a) = (rows(&before), rows(&after));
        // The tabs and the form's status line as they were; no border on the footer.
        assert_eq!(a[0], b[0], "{after}");
        assert_eq!(a[22], b[22], "{after}");
        assert!(!a[23].contains(['─', '┘', '└', '│']), "{after}");
        if key == 'p' {
            snapshots!("profile_picker", &mut l);
        } else {
            snapshots!("study_picker", &mut l);
        }
        l.key(KeyCode::Esc);
    }
}
